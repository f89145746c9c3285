#!/usr/bin/env python3
"""nemesis_seeds_per_min: how many seeds of the standard nemesis story a 2-core machine judges per minute.

    bench/nemesis.py [--build build] [--seeds 1:40] [--jobs 2]

The story (issue 13): 3 brokers + 1 KRaft controller, 6 partitions with RF=3
and min.insync.replicas=2, an idempotent acks=all producer at 1,000 records/s,
a group of 3 consumers, a crash / partition / pause / power failure started or
ended every 5 s of virtual time for 60 simulated seconds, then `check()`.

Each seed runs in a process of its own (interpreter start, `import ksim`,
the run, every checker, exit), as a sweep over seeds runs them; --jobs such
processes run at once. Prints name=value lines: nemesis_seeds_per_min,
nemesis_wall_s_per_seed (one process, start to exit, mean),
nemesis_run_s_per_seed and nemesis_check_s_per_seed (inside the process),
nemesis_seeds_violated.
"""
import argparse
import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

from determinism import parse_seeds  # this folder: `lo:hi` -> seeds

STORY = r"""
import sys, time
sys.path.insert(0, sys.argv[2])  # bench/, for standard_workload
from standard_workload import standard_sim
sim, _ = standard_sim(int(sys.argv[1]), nemesis_interval_ms=5_000)
t1 = time.perf_counter()
sim.run_for(60_000)
t2 = time.perf_counter()
v = sim.check()
t3 = time.perf_counter()
print(f"{int(v.ok)} {t2 - t1:.4f} {t3 - t2:.4f} {sim.trace_hash()}")
"""


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    repo = os.path.dirname(here)
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--build", default="build")
    ap.add_argument("--seeds", default="1:40")
    ap.add_argument("--jobs", type=int, default=2)
    args = ap.parse_args()
    build = args.build if os.path.isabs(args.build) else os.path.join(repo, args.build)
    pythonpath = os.path.join(build, "python")
    if not os.path.isdir(os.path.join(pythonpath, "ksim")):
        raise SystemExit(f"nemesis: no ksim module under {pythonpath} (build it first)")
    env = dict(os.environ, PYTHONPATH=pythonpath)

    def one(seed):
        t = time.perf_counter()
        out = subprocess.run(["/usr/bin/python3", "-c", STORY, str(seed), here], env=env,
                             capture_output=True, text=True)
        if out.returncode != 0:
            raise SystemExit(f"nemesis: seed {seed} failed:\n{out.stderr}")
        ok, run_s, check_s, _hash = out.stdout.split()
        return time.perf_counter() - t, float(run_s), float(check_s), ok == "1"

    seeds = parse_seeds(args.seeds)
    start = time.perf_counter()
    with ThreadPoolExecutor(args.jobs) as pool:
        results = list(pool.map(one, seeds))
    wall = time.perf_counter() - start
    n = len(results)
    print(f"nemesis_seeds={n}")
    print(f"nemesis_seeds_per_min={n * 60 / wall:.0f}")
    print(f"nemesis_wall_s_per_seed={sum(r[0] for r in results) / n:.3f}")
    print(f"nemesis_run_s_per_seed={sum(r[1] for r in results) / n:.3f}")
    print(f"nemesis_check_s_per_seed={sum(r[2] for r in results) / n:.3f}")
    print(f"nemesis_seeds_violated={sum(1 for r in results if not r[3])}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
