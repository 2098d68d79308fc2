#!/usr/bin/python3
"""Fails when the man page source (docs/sessionctl.1.scd) misses something the
binary offers: a command listed by `sessionctl --help`, a flag shown by
`sessionctl --help` or `sessionctl COMMAND --help`, or an exit code declared in
cli/exit_codes.hpp. Modeled on completions_test.py; also renders the page with
scdoc when it is installed, so a syntax error fails here and not at packaging.

usage: manpage_test.py SESSIONCTL MANPAGE_SCD EXIT_CODES_HPP
"""
import re
import shutil
import subprocess
import sys

from cli_help import commands_in, flags_in, global_flags, help_text


def plain(scd):
    """The page's text with scdoc's escapes and markup taken out."""
    text = "\n".join(line for line in scd.splitlines() if not line.startswith("; "))
    text = re.sub(r"\\(.)", r"\1", text)
    return text.replace("*", "")


def section(text, name):
    """The text of '## name ...' up to the next header."""
    m = re.search(rf"^## {re.escape(name)}\b.*?(?=^#)", text, re.M | re.S)
    return m.group(0) if m else ""


def mentions(text, word):
    return re.search(rf"(?<![\w-]){re.escape(word)}(?![\w-])", text) is not None


def main():
    binary, scd_path, codes_path = sys.argv[1:4]
    scd = open(scd_path, encoding="utf-8").read()
    text = plain(scd)
    global_part = section_between(text, "# GLOBAL OPTIONS", "# COMMANDS")

    wanted = []  # (where it must appear, its text, the word)
    top = help_text(binary)
    commands = commands_in(top)
    longs, shorts = global_flags(top)
    wanted += [("GLOBAL OPTIONS", global_part, f"--{f}") for f in sorted(longs)]
    wanted += [("GLOBAL OPTIONS", global_part, f"-{s}") for s in sorted(shorts)]
    for cmd in commands:
        own = section(text, cmd)
        if not own:
            wanted.append((f"a '## {cmd}' section", "", cmd))
            continue
        longs, shorts = flags_in(help_text(binary, cmd))
        wanted += [(f"## {cmd}", own, f"--{f}") for f in sorted(longs) if f != "help"]
        wanted += [(f"## {cmd}", own, f"-{s}") for s in sorted(shorts) if s != "h"]

    exit_part = section_between(text, "# EXIT STATUS", "# FILES")
    codes = re.findall(r"^\s*[a-z_]+\s*=\s*(\d+)\s*,", open(codes_path).read(), re.M)
    if len(codes) < 5:
        sys.exit(f"manpage_test: found only {codes} in {codes_path}")
    wanted += [("EXIT STATUS", exit_part, code) for code in codes]

    failures = 0
    for where, part, word in wanted:
        if not part or not mentions(part, word):
            failures += 1
            print(f"missing in the man page ({where}): {word}")
    checks = len(wanted)

    # Every section the issue asks for.
    for header in ("NAME", "SYNOPSIS", "DESCRIPTION", "COMMANDS", "CONFIGURATION", "ENVIRONMENT",
                   "EXIT STATUS", "FILES", "EXAMPLES"):
        checks += 1
        if not re.search(rf"^# {header}$", scd, re.M):
            failures += 1
            print(f"missing section: # {header}")

    scdoc = shutil.which("scdoc")
    if scdoc:
        checks += 1
        out = subprocess.run([scdoc], input=scd, capture_output=True, text=True)
        if out.returncode != 0 or ".TH" not in out.stdout:
            failures += 1
            print(f"scdoc cannot render {scd_path}: {out.stderr.strip()}")
    else:
        print("manpage_test: scdoc not installed; rendering not checked")

    print(f"manpage: {len(commands)} commands, {len(codes)} exit codes, {checks} checks")
    print(f"{checks - failures} passed, {failures} failed")
    return 1 if failures else 0


def section_between(text, start, end):
    a = text.find(f"\n{start}\n")
    b = text.find(f"\n{end}\n", a + 1)
    if a < 0 or b < 0:
        sys.exit(f"manpage_test: no '{start}' ... '{end}' in the man page")
    return text[a:b]


if __name__ == "__main__":
    sys.exit(main())
