"""Seed sweeps: run one scenario over many seeds, in parallel processes (Dask).

    python3 -m ksim.sweep scenarios/acks1_leader_crash.py --seeds 1:100 --jobs 2
    python3 -m ksim.sweep FILE.py --seeds 1:1000 --scheduler tcp://host:8786   # a Dask cluster

Each seed runs `scenario(seed)` in a worker process (local processes by
default, or the workers of a dask.distributed scheduler for multi-machine
sweeps) and reports whether it was as expected, the verdict's counts and the
wall time. The table ends with the command reproducing each failing seed.
Same seed, same result: a failing seed fails again on any machine.
"""
import argparse
import importlib.util
import io
import os
import sys
import time
import contextlib


def _load(file):
    spec = importlib.util.spec_from_file_location("ksim_scenario", file)
    if spec is None or spec.loader is None:
        raise SystemExit(f"ksim sweep: cannot load scenario file {file!r}")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    if not hasattr(mod, "scenario"):
        raise SystemExit(f"ksim sweep: {file} defines no scenario(seed) function")
    return mod


def run_seed(file, seed):
    """Runs one seed in this process; returns a dict (picklable, for Dask)."""
    import ksim

    ksim._last_simulation = None  # a worker process is reused: never report the previous seed's run
    mod = _load(file)
    start = time.perf_counter()
    out = io.StringIO()
    error = ""
    try:
        with contextlib.redirect_stdout(out):
            ok = bool(mod.scenario(seed))
    except Exception as e:  # a crashing scenario is a failing seed, with its error
        ok, error = False, f"{type(e).__name__}: {e}"
    sim = ksim.last_simulation()
    v = sim.last_verdict if sim is not None else None
    return {
        "seed": seed,
        "ok": ok,
        "verdict": "-" if v is None else ("ok" if v.ok else "VIOLATED"),
        "kinds": "" if v is None else ",".join(k for k in v.kinds()),
        "trace_hash": sim.trace_hash() if sim is not None else "",
        "wall_s": time.perf_counter() - start,
        "error": error,
    }


def parse_seeds(text):
    try:
        a, b = text.split(":")
        a, b = int(a), int(b)
    except ValueError:
        raise SystemExit(f"ksim sweep: --seeds must be A:B (e.g. 1:100), not {text!r}")
    if b < a:
        raise SystemExit(f"ksim sweep: --seeds {text}: the last seed is before the first")
    return list(range(a, b + 1))


def sweep(file, seeds, jobs=2, scheduler=None):
    import dask

    tasks = [dask.delayed(run_seed)(os.path.abspath(file), s) for s in seeds]
    if scheduler:
        from dask.distributed import Client

        with Client(scheduler) as client:
            return list(client.gather(client.compute(tasks)))
    if jobs <= 1:
        return list(dask.compute(*tasks, scheduler="synchronous"))
    return list(dask.compute(*tasks, scheduler="processes", num_workers=jobs))


def main(argv=None):
    p = argparse.ArgumentParser(prog="ksim sweep", description="Run a scenario over many seeds in parallel.")
    p.add_argument("file")
    p.add_argument("--seeds", required=True, help="A:B, inclusive")
    p.add_argument("--jobs", type=int, default=2, help="local worker processes")
    p.add_argument("--scheduler", help="a dask.distributed scheduler address for multi-machine sweeps")
    args = p.parse_args(argv)
    if not os.path.isfile(args.file):
        raise SystemExit(f"ksim sweep: cannot read scenario file {args.file!r}")
    seeds = parse_seeds(args.seeds)
    start = time.perf_counter()
    results = sorted(sweep(args.file, seeds, args.jobs, args.scheduler), key=lambda r: r["seed"])
    print(f"{'seed':>6}  {'result':<16} {'verdict':<9} {'wall_s':>7}  kinds")
    for r in results:
        result = "as expected" if r["ok"] else "NOT as expected"
        print(f"{r['seed']:>6}  {result:<16} {r['verdict']:<9} {r['wall_s']:>7.2f}  {r['kinds']}{' ' + r['error'] if r['error'] else ''}")
    failing = [r for r in results if not r["ok"]]
    print(f"\n{len(results) - len(failing)}/{len(results)} seeds as expected in {time.perf_counter() - start:.1f} s")
    for r in failing:
        print(f"reproduce: ./ksim run {args.file} --seed {r['seed']}")
    return 1 if failing else 0


if __name__ == "__main__":
    sys.exit(main())
