#!/usr/bin/python3
"""Fails when a command or flag shown by `sessionctl --help` (or a command's
--help) is missing from a completion file in completions/.

usage: completions_test.py SESSIONCTL COMPLETIONS_DIR
"""
import re
import sys

from cli_help import commands_in, flags_in, global_flags, help_text


def main():
    binary, folder = sys.argv[1], sys.argv[2]
    files = {name: open(f"{folder}/{path}").read()
             for name, path in (("bash", "sessionctl.bash"), ("zsh", "_sessionctl"), ("fish", "sessionctl.fish"))}
    top = help_text(binary)
    commands = commands_in(top)
    wanted = []  # (context, word)
    longs, shorts = global_flags(top)
    wanted += [("global", f"--{f}") for f in longs if f != "help"]
    wanted += [("global", f"-{s}") for s in shorts if s != "h"]
    for cmd in commands:
        wanted.append(("commands", cmd))
        longs, shorts = flags_in(help_text(binary, cmd))
        wanted += [(cmd, f"--{f}") for f in longs if f != "help"]
        wanted += [(cmd, f"-{s}") for s in shorts if s != "h"]

    failures = 0
    checked = 0
    for shell, text in files.items():
        for context, word in wanted:
            checked += 1
            # fish writes long flags as "-l name" and short ones as "-s x".
            if shell == "fish" and word.startswith("--"):
                ok = re.search(rf"-l {re.escape(word[2:])}\b", text) is not None
            elif shell == "fish" and word.startswith("-"):
                ok = re.search(rf"-s {re.escape(word[1:])}\b", text) is not None
            else:
                ok = re.search(rf"(?<![\w-]){re.escape(word)}(?![\w-])", text) is not None
            if not ok:
                failures += 1
                print(f"missing in {shell} completion: {word} ({context})")
    print(f"completions: {len(commands)} commands, {checked} checks")
    print(f"{checked - failures} passed, {failures} failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
