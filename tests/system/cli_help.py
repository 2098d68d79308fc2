"""What `sessionctl --help` and `sessionctl COMMAND --help` offer: the commands and
flags that the completions (completions_test.py) and the man page
(manpage_test.py) must each mention."""
import re
import subprocess
import sys


def help_text(binary, *args):
    """The option and command listings of `binary [args] --help` (the examples below
    them quote other tools, so they are cut off)."""
    out = subprocess.run([binary, *args, "--help"], capture_output=True, text=True)
    if out.returncode != 0:
        sys.exit(f"{' '.join(args) or 'sessionctl'} --help exited {out.returncode}")
    return out.stdout.split("\nEXAMPLES", 1)[0]


def flags_in(text):
    """Long flags and single-character short ones: "  -v,--verbose", "  --json", "-0,--null"."""
    longs = set(re.findall(r"(?<![\w-])--([a-z][a-z0-9-]*)", text))
    shorts = set(re.findall(r"(?<![\w-])-([A-Za-z0-9])(?=[,\s])", text))
    return longs, shorts


def commands_in(text):
    """The names in the top-level help's Subcommands listing."""
    section = text.split("Subcommands:", 1)
    if len(section) < 2:
        sys.exit("no Subcommands section in sessionctl --help")
    listing = section[1].strip("\n").split("\n\n", 1)[0]
    return re.findall(r"^\s{2}([a-z][a-z-]*)\s", listing, re.M)


def global_flags(top):
    """The flags of the top-level help, before its Subcommands listing."""
    return flags_in(top.split("Subcommands:", 1)[0])
