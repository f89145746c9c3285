"""python3 -m ksim.run FILE.py [--seed N] [--out DIR] [--quiet] — what `ksim run` executes.

Imports the scenario file (its `if __name__ == "__main__"` block does not run)
and calls its `scenario(seed)` through ksim.main: the story, the verdict, the
trace store with --out, and exit 0 iff the scenario returned True.
"""
import importlib.util
import sys


def main():
    if len(sys.argv) < 2 or sys.argv[1].startswith("-"):
        print("usage: python3 -m ksim.run FILE.py [--seed N] [--out DIR] [--quiet]", file=sys.stderr)
        return 2
    file = sys.argv[1]
    spec = importlib.util.spec_from_file_location("ksim_scenario", file)
    if spec is None or spec.loader is None:
        print(f"ksim run: cannot load {file!r} as Python", file=sys.stderr)
        return 2
    mod = importlib.util.module_from_spec(spec)
    sys.modules["ksim_scenario"] = mod
    spec.loader.exec_module(mod)
    if not callable(getattr(mod, "scenario", None)):
        print(f"ksim run: {file} defines no scenario(seed) function", file=sys.stderr)
        return 2
    import ksim

    sys.argv = [file] + sys.argv[2:]
    ksim.main(mod.scenario)  # exits
    return 0


if __name__ == "__main__":
    sys.exit(main())
