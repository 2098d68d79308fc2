#!/bin/bash
# Sourced by fetch_django.sh and trixie_chroot.sh: find_mirror prints
# "URI<TAB>SIGNED_BY" of this machine's configured main Debian archive (the entry
# whose suites include a plain codename such as "bookworm", not -security or
# -updates), read from /etc/apt/sources.list.d/*.sources (deb822) or the one-line
# lists, so that no host name is written into the repository. Exit status 1 when
# none is configured.

find_mirror() {
    local f
    # deb822 *.sources files
    for f in /etc/apt/sources.list.d/*.sources; do
        [ -f "$f" ] || continue
        awk '
            function flush() {
                if (types ~ /(^| )deb( |$)/ && enabled != "no" && uris != "") {
                    n = split(suites, s, " ")
                    for (i = 1; i <= n; i++) if (s[i] !~ /[-\/]/) {
                        split(uris, u, " "); print u[1] "\t" signed; exit
                    }
                }
                types = ""; uris = ""; suites = ""; enabled = ""; signed = ""; field = ""
            }
            /^#/ { next }
            /^[ \t]*$/ { flush(); next }
            /^[ \t]/ { if (field == "uris") uris = uris " " $0
                       else if (field == "suites") suites = suites " " $0
                       else if (field == "types") types = types " " $0
                       next }
            {
                line = $0; key = tolower(substr(line, 1, index(line, ":") - 1))
                val = substr(line, index(line, ":") + 1); gsub(/^[ \t]+|[ \t]+$/, "", val)
                field = key
                if (key == "types") types = val
                else if (key == "uris") uris = val
                else if (key == "suites") suites = val
                else if (key == "enabled") enabled = tolower(val)
                else if (key == "signed-by") signed = (val ~ /^\//) ? val : ""
            }
            END { flush() }
        ' "$f" | head -n1 | grep . && return 0
    done
    # one-line format
    for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
        [ -f "$f" ] || continue
        awk '
            /^[ \t]*deb[ \t]/ {
                signed = ""; i = 2
                if ($2 ~ /^\[/) {
                    opts = ""
                    for (; i <= NF; i++) { opts = opts " " $i; if ($i ~ /\]$/) { i++; break } }
                    if (match(opts, /signed-by=[^ \]]+/)) signed = substr(opts, RSTART + 10, RLENGTH - 10)
                }
                uri = $i; suite = $(i + 1)
                if (suite !~ /[-\/]/) { print uri "\t" signed; exit }
            }
        ' "$f" | head -n1 | grep . && return 0
    done
    return 1
}

