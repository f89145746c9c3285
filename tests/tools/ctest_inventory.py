#!/usr/bin/env python3
"""The guard that every Catch2 test case runs under ctest, exactly once.

Why this exists: `catch_discover_tests` turns each Catch2 test case into one
ctest entry whose argument is the test's name used as a Catch2 test spec. A
name containing `;` is split by CMake's list separator into two entries, each
of which Catch2 answers with "No test cases matched" and exit 0: the test
silently never runs (34 of ksim's did not, until this guard). A name with `,`,
`[`, `*`, `~` or a leading `!` is a Catch2 pattern rather than a plain name and
is at risk the same way.

What it checks, for the ctest tree in BUILD_DIR (`ctest -N --show-only=json-v1`):
  1. every ctest entry that runs a Catch2 binary selects exactly one test case
     (asked of the binary itself: `<binary> <spec...> --list-test-names-only`);
  2. per binary, the test cases selected by its entries equal, as a set and
     without repeats, the test cases the binary lists;
  3. no Catch2 test case name contains `;` or `,` (the project's rule).
The runtime half of the guard is `--warn NoTests` on every discovered entry
(tests/CMakeLists.txt), so an entry that matches nothing also FAILS when run.

Usage: ctest_inventory.py BUILD_DIR   (exit 0 clean, 1 with a report)
"""
import functools
import json
import os
import subprocess
import sys

FORBIDDEN = (";", ",")


def ctest_entries(build_dir):
    """Every ctest entry as (name, command list)."""
    out = subprocess.run(["ctest", "-N", "--show-only=json-v1"], cwd=build_dir,
                         check=True, capture_output=True, text=True).stdout
    tests = json.loads(out).get("tests", [])
    return [(t["name"], t.get("command", [])) for t in tests]


@functools.lru_cache(maxsize=None)
def is_catch2_binary(path):
    """A Catch2 binary answers --list-test-names-only; Python and scripts are not asked."""
    if not path or not os.path.isfile(path) or not os.access(path, os.X_OK):
        return False
    with open(path, "rb") as f:
        head = f.read(4)
    if head != b"\x7fELF":
        return False
    with open(path, "rb") as f:
        return b"--list-test-names-only" in f.read()


def listed_names(binary, spec=()):
    """The test case names the binary selects for spec (all of them for no spec)."""
    r = subprocess.run([binary, *spec, "--list-test-names-only"], capture_output=True, text=True)
    if r.returncode < 0:
        raise RuntimeError(f"{binary} died listing tests (signal {-r.returncode})")
    return [line for line in r.stdout.splitlines() if line.strip()]


def spec_args(command):
    """The arguments that select tests: everything after the binary up to the first option."""
    args = []
    for a in command[1:]:
        if a.startswith("-"):
            break
        args.append(a)
    return args


def audit(build_dir):
    """Returns a list of human-readable problems (empty when the inventory is clean)."""
    problems = []
    selected = {}   # binary -> list of names selected by its entries
    for name, command in ctest_entries(build_dir):
        if not command or not is_catch2_binary(command[0]):
            continue
        binary = command[0]
        matched = listed_names(binary, spec_args(command))
        selected.setdefault(binary, [])
        if len(matched) != 1:
            problems.append(f"ctest entry {name!r} runs {len(matched)} test cases of "
                            f"{os.path.basename(binary)} (spec {spec_args(command)!r}); it must run exactly one")
        selected[binary].extend(matched)
    for binary, got in sorted(selected.items()):
        listed = listed_names(binary)
        base = os.path.basename(binary)
        for n in sorted(set(listed) - set(got)):
            problems.append(f"{base}: test case {n!r} is never run by ctest")
        for n in sorted(set(got) - set(listed)):
            problems.append(f"{base}: ctest runs {n!r}, which the binary does not list")
        for n in sorted({n for n in got if got.count(n) > 1}):
            problems.append(f"{base}: test case {n!r} is run by {got.count(n)} ctest entries")
        for n in listed:
            bad = [c for c in FORBIDDEN if c in n]
            if bad:
                problems.append(f"{base}: test case name {n!r} contains {' '.join(bad)} "
                                "(CMake splits on ';', Catch2 reads ',' as OR)")
    return problems, selected


def main(argv):
    if len(argv) != 2:
        print(__doc__.strip().splitlines()[-1], file=sys.stderr)
        return 2
    problems, selected = audit(argv[1])
    cases = sum(len(v) for v in selected.values())
    print(f"ctest inventory: {len(selected)} Catch2 binaries, {cases} test cases run by ctest")
    if not selected:
        print("ctest inventory: no Catch2 binary found under ctest", file=sys.stderr)
        return 1
    for p in problems:
        print("ctest inventory: " + p, file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
