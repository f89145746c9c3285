#!/usr/bin/env python3
"""Runs a command (the pytest suite) under the sanitizer build and judges the reports.

Usage: python_suite.py LOG_DIR -- COMMAND...

Why a wrapper: the instrumented `_ksim` module is loaded into Debian's
uninstrumented python3, so
  - the ASan runtime (and libstdc++, so ASan can intercept __cxa_throw before
    the module is dlopen'ed) must be preloaded: LD_PRELOAD is set here;
  - pytest captures file descriptors, so a sanitizer report on stderr would be
    lost with the aborted process: every report goes to LOG_DIR/sanitizer.<pid>
    (log_path) instead, from this process and every subprocess it starts (the
    CLI, notebook kernels, scenario runs), and is printed here;
  - CPython does not free everything at exit, and Debian's python3 has no frame
    pointers or symbols, so LeakSanitizer cannot tell its at-exit blocks from a
    real leak by suppression patterns without hiding ksim's too. Instead leaks
    do not fail the process (exitcode=0), and this wrapper fails the run when a
    leak's allocation stack passes through ksim's own code (the `_ksim` module
    or a source file of this repository). The Catch2 suites check ksim's leaks
    with no such filter at all.
Exit status: the command's, or 1 when any ASan/UBSan error or a ksim leak was reported.
"""
import os
import pathlib
import re
import subprocess
import sys

REPO = pathlib.Path(__file__).resolve().parents[2]


def runtime(name):
    out = subprocess.run(["g++", f"-print-file-name={name}"], capture_output=True, text=True).stdout.strip()
    if not out or not os.path.isabs(out):
        raise SystemExit(f"python_suite: cannot find {name} (is g++ installed?)")
    return out


def ksim_leaks(text):
    """The leak blocks of a LeakSanitizer report whose stack passes through ksim's code."""
    blocks = re.split(r"\n(?=(?:Direct|Indirect) leak of )", text)
    ours = []
    for b in blocks:
        if not re.match(r"(Direct|Indirect) leak of ", b):
            continue
        if "_ksim" in b or str(REPO) in b:
            ours.append(b.strip())
    return ours


def main(argv):
    if len(argv) < 4 or argv[2] != "--":
        print(__doc__.splitlines()[2], file=sys.stderr)
        return 2
    log_dir = pathlib.Path(argv[1])
    log_dir.mkdir(parents=True, exist_ok=True)
    for old in log_dir.glob("sanitizer.*"):
        old.unlink()
    log = log_dir / "sanitizer"
    env = dict(os.environ)
    env["LD_PRELOAD"] = f"{runtime('libasan.so')} {runtime('libstdc++.so')}"
    asan = env.get("ASAN_OPTIONS", "")
    env["ASAN_OPTIONS"] = ":".join(x for x in [asan, f"log_path={log}", "detect_leaks=1"] if x)
    env["LSAN_OPTIONS"] = f"exitcode=0:log_path={log}"
    env["UBSAN_OPTIONS"] = ":".join(x for x in [env.get("UBSAN_OPTIONS", ""), f"log_path={log}",
                                                "print_stacktrace=1:halt_on_error=1"] if x)
    rc = subprocess.run(argv[3:], env=env).returncode
    errors, leaks = [], []
    for f in sorted(log_dir.glob("sanitizer.*")):
        text = f.read_text(errors="replace")
        if "ERROR: AddressSanitizer" in text or "runtime error:" in text or "CHECK failed" in text:
            errors.append((f, text))
        leaks += [(f, b) for b in ksim_leaks(text)]
    for f, text in errors:
        print(f"=== sanitizer error ({f.name}) ===\n{text}", file=sys.stderr)
    for f, b in leaks:
        print(f"=== leak through ksim's code ({f.name}) ===\n{b}\n", file=sys.stderr)
    print(f"sanitizer reports: {len(errors)} errors, {len(leaks)} leaks through ksim's code")
    if errors or leaks:
        return 1
    return rc


if __name__ == "__main__":
    sys.exit(main(sys.argv))
