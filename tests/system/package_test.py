#!/usr/bin/python3
"""Builds the Debian package through CPack and checks what it holds and says.

By default it packages the build tree the suite runs in (CPackConfig.cmake
there: the same install rules, CPack settings and dpkg-shlibdeps run as
scripts/package.sh, without compiling again) into a temporary directory. With
--package-script it runs scripts/package.sh instead (a clean Release build of
its own: minutes) and checks the .deb that script names on its last line.

Nothing is installed: the checks read `dpkg-deb --info/--field/--contents`, and
the packaged binary is unpacked into the temporary directory and run there.

usage: package_test.py --build-dir BUILD --version X.Y.Z [--package-script scripts/package.sh]
"""
import argparse
import glob
import os
import re
import subprocess
import sys
import tempfile

# Paths the package must hold (the man page may be gzip-compressed).
EXPECTED_FILES = [
    "./usr/bin/sessionctl",
    "./usr/share/bash-completion/completions/sessionctl",
    "./usr/share/zsh/vendor-completions/_sessionctl",
    "./usr/share/fish/vendor_completions.d/sessionctl.fish",
    "./usr/share/doc/sessionctl/README.md",
    "./usr/share/doc/sessionctl/CHANGELOG.md",
    "./usr/share/doc/sessionctl/examples/sessionctl.cron",
    "./usr/share/doc/sessionctl/examples/sessionctl-clearsessions.service",
    "./usr/share/doc/sessionctl/examples/sessionctl-clearsessions.timer",
    "./usr/share/doc/sessionctl/examples/config.json",
]
MAN_PAGES = ["./usr/share/man/man1/sessionctl.1", "./usr/share/man/man1/sessionctl.1.gz"]
# What dpkg-shlibdeps must find in the binary's DT_NEEDED entries.
LINKED = ["libc6", "libstdc++6", "libssl3", "libsqlite3-0", "libhiredis0.14", "zlib1g", "libfmt9"]
# Opened with dlopen only when used: never in Depends, always in Recommends.
LAZY = ["libpq5", "libmemcached11", "liblz4-1", "liblzma5", "libzstd1"]

failures = 0
checks = 0


def check(ok, what):
    global failures, checks
    checks += 1
    if not ok:
        failures += 1
        print(f"FAIL: {what}")


def run(*cmd, **kw):
    return subprocess.run(cmd, capture_output=True, text=True, check=True, **kw).stdout


def build_with_cpack(build_dir, out_dir):
    config = os.path.join(build_dir, "CPackConfig.cmake")
    if not os.path.exists(config):
        sys.exit(f"package_test: no {config} (configure the build first)")
    res = subprocess.run(["cpack", "-G", "DEB", "--config", config, "-B", out_dir],
                         capture_output=True, text=True)
    if res.returncode != 0:
        print(res.stdout, res.stderr)
        sys.exit(f"package_test: cpack exited {res.returncode}")
    debs = glob.glob(os.path.join(out_dir, "sessionctl_*.deb"))
    if len(debs) != 1:
        sys.exit(f"package_test: cpack wrote {debs} in {out_dir}")
    return debs[0]


def build_with_script(script):
    res = subprocess.run([script], capture_output=True, text=True)
    if res.returncode != 0:
        print(res.stdout, res.stderr[-4000:])
        sys.exit(f"package_test: {script} exited {res.returncode}")
    lines = (res.stdout + res.stderr).strip().splitlines()
    last = res.stdout.strip().splitlines()[-1] if res.stdout.strip() else ""
    check(lines and lines[-1] == last, "package.sh prints the .deb path as its last line")
    return last


def field(deb, name):
    return run("dpkg-deb", "--field", deb, name).strip()


def names(relation):
    """'libc6 (>= 2.34), libssl3 (>= 3.0.0) | foo' -> {'libc6', 'libssl3', 'foo'}"""
    return {re.sub(r"[\s(:].*", "", alt.strip())
            for part in relation.split(",") for alt in part.split("|") if alt.strip()}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build-dir", required=True)
    ap.add_argument("--version", required=True)
    ap.add_argument("--package-script")
    args = ap.parse_args()
    arch = run("dpkg", "--print-architecture").strip()

    with tempfile.TemporaryDirectory(prefix="sessionctl-package-") as tmp:
        deb = build_with_script(args.package_script) if args.package_script else \
            build_with_cpack(args.build_dir, os.path.join(tmp, "out"))
        print(f"package: {deb}")
        check(os.path.basename(deb) == f"sessionctl_{args.version}_{arch}.deb",
              f"file name {os.path.basename(deb)} is sessionctl_{args.version}_{arch}.deb")

        info = run("dpkg-deb", "--info", deb)
        print(info)
        check(field(deb, "Package") == "sessionctl", "Package: sessionctl")
        check(field(deb, "Version") == args.version, f"Version: {args.version}")
        check(field(deb, "Architecture") == arch, f"Architecture: {arch}")
        check(field(deb, "Section") == "utils", "Section: utils")
        check(field(deb, "Priority") == "optional", "Priority: optional")
        check("@" in field(deb, "Maintainer"), "Maintainer has an e-mail address")
        description = field(deb, "Description")
        check(description.startswith("administer Django session stores")
              and len(description.splitlines()) > 2, "Description: summary and long text")
        depends = names(field(deb, "Depends"))
        for package in LINKED:
            check(package in depends, f"Depends (dpkg-shlibdeps) names {package}: {sorted(depends)}")
        recommends = names(field(deb, "Recommends"))
        for package in LAZY:
            check(package not in depends, f"{package} is not in Depends (it is opened with dlopen)")
            check(package in recommends, f"Recommends names {package}")
        check(re.search(r"^ Installed-Size: \d+$", info, re.M) is not None, "Installed-Size is set")
        check("md5sums" in info, "the control archive has md5sums")

        contents = run("dpkg-deb", "--contents", deb)
        entries = {}
        for line in contents.splitlines():
            fields = line.split(None, 5)
            if len(fields) == 6:
                entries[fields[5].split(" -> ")[0]] = (fields[0], fields[1])
        print(f"package: {len(entries)} entries")
        for path in EXPECTED_FILES:
            check(path in entries and entries[path][0].startswith("-"), f"the package holds {path}")
        man = [p for p in MAN_PAGES if p in entries]
        check(len(man) == 1, f"the package holds one man page ({MAN_PAGES}): {man}")
        check(entries.get("./usr/bin/sessionctl", ("",))[0] == "-rwxr-xr-x", "the binary is mode 0755")
        for path, (mode, owner) in entries.items():
            check(path == "./" or path.startswith("./usr/"), f"{path} is under /usr")
            check(not path.startswith("./usr/local"), f"{path} is not under /usr/local")
            check(owner == "root/root", f"{path} belongs to root/root, not {owner}")

        # The packaged binary runs and reports the package's version.
        unpacked = os.path.join(tmp, "root")
        run("dpkg-deb", "--extract", deb, unpacked)
        version = run(os.path.join(unpacked, "usr/bin/sessionctl"), "--version")
        check(version.splitlines()[0] == f"sessionctl {args.version}",
              f"sessionctl --version says 'sessionctl {args.version}': {version.splitlines()[:1]}")
        if man:
            page = os.path.join(unpacked, man[0][2:])
            text = run("gzip", "-dc", page) if page.endswith(".gz") else open(page).read()
            check(text.startswith(".\\\"") or ".TH" in text, "the man page is roff")
            check(re.search(r'^\.TH "?sessionctl"? "?1"?', text, re.M) is not None, "the man page is sessionctl(1)")
        # The sample config is one sessionctl reads (its secret file stands in for the site's).
        example = os.path.join(unpacked, "usr/share/doc/sessionctl/examples/config.json")
        secret = os.path.join(tmp, "secret_key")
        with open(os.open(secret, os.O_WRONLY | os.O_CREAT, 0o600), "w") as f:
            f.write("package-test-secret\n")
        res = subprocess.run([os.path.join(unpacked, "usr/bin/sessionctl"), "--config", example,
                              "--set", f"SECRET_KEY_FILE={secret}", "config"],
                             capture_output=True, text=True)
        check(res.returncode == 0, f"sessionctl config reads the sample config: {res.stderr.strip()}")

    print(f"{checks - failures} passed, {failures} failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
