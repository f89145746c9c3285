#!/usr/bin/env python3
"""Determinism at scale: the same seed gives the same run, on every run and every build.

    bench/determinism.py --seeds 1:1000                      # each seed twice, in fresh processes
    bench/determinism.py --seeds 1:20 --builds build build-asan   # one run per build, compared

The standard nemesis story (`standard_story`): 3 brokers + 1 controller, 6
partitions with RF=3 and min.insync.replicas=2, an idempotent acks=all producer
at 1,000 records/s and a group of 3 consumers, a crash, partition, pause or
power failure started or ended every 2 s of virtual time for 20 s, then the
heal phase and every checker (issue 13's nemesis workload, compressed so that
2,000 runs take minutes). A seed's
fingerprint is its trace_hash() plus the verdict's anomaly counts.

Each run of a seed happens in its own worker process (a pool of --jobs), and
the two runs of one seed land in different processes, so nothing a process
carries over (allocator state, pointer values, a cached object) can make them
agree by accident. Prints `determinism_seeds=N determinism_identical=M` (and,
with --builds, `determinism_builds_identical=M`); exits 1 when any seed differs.
"""
import argparse
import collections
import multiprocessing as mp
import os
import subprocess
import sys
import time

from standard_workload import standard_sim  # this folder


def standard_story(seed):
    sim, _ = standard_sim(seed, nemesis_interval_ms=2_000)
    sim.run_for(20_000)
    v = sim.check()
    counts = ",".join(f"{k}={n}" for k, n in sorted(collections.Counter(a.kind for a in v.anomalies).items()))
    return f"{sim.trace_hash()} ok={v.ok} sends={v.stats.sends} acked={v.stats.acked} {counts}"


def _worker_init(pythonpath):
    # A worker imports ksim from the build it was started for.
    sys.path.insert(0, pythonpath)


def _run(seed):
    return seed, standard_story(seed)


def sanitizer_env(build_dir):
    """A build made with KSIM_SANITIZE needs the ASan runtime preloaded into python3."""
    cache = os.path.join(build_dir, "CMakeCache.txt")
    text = open(cache).read() if os.path.exists(cache) else ""
    if "KSIM_SANITIZE:STRING=address" not in text:
        return {}
    rt = [subprocess.run(["g++", f"-print-file-name={n}"], capture_output=True, text=True).stdout.strip()
          for n in ("libasan.so", "libstdc++.so")]
    return {"LD_PRELOAD": " ".join(rt), "ASAN_OPTIONS": "detect_leaks=0"}


def run_all(seeds, jobs, build_dir):
    ctx = mp.get_context("spawn")   # a fresh interpreter per worker, nothing inherited
    extra = sanitizer_env(build_dir)
    saved = {k: os.environ.get(k) for k in extra}
    os.environ.update(extra)        # spawned workers start with this environment
    try:
        with ctx.Pool(jobs, initializer=_worker_init, initargs=(os.path.join(build_dir, "python"),),
                      maxtasksperchild=50) as pool:
            return dict(pool.imap_unordered(_run, seeds, chunksize=4))
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def parse_seeds(text):
    a, _, b = text.partition(":")
    lo, hi = int(a), int(b or a)
    if hi < lo:
        raise SystemExit(f"determinism: empty seed range {text!r}")
    return list(range(lo, hi + 1))


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    repo = os.path.dirname(here)
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", default="1:1000")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--build", default="build", help="the build folder whose module runs every seed twice")
    ap.add_argument("--builds", nargs="+", default=None,
                    help="build folders to compare (one run per seed in each) instead")
    args = ap.parse_args()
    seeds = parse_seeds(args.seeds)
    builds = args.builds or [args.build, args.build]
    start = time.time()
    runs = []
    for b in builds:
        build_dir = b if os.path.isabs(b) else os.path.join(repo, b)
        if not os.path.isdir(os.path.join(build_dir, "python", "ksim")):
            raise SystemExit(f"determinism: no ksim module under {build_dir}/python (build it first)")
        # The second pass runs the seeds in reverse, so each seed's two runs sit in different workers.
        order = seeds if len(runs) % 2 == 0 else list(reversed(seeds))
        runs.append(run_all(order, args.jobs, build_dir))
    identical = sum(1 for s in seeds if len({r[s] for r in runs}) == 1)
    for s in seeds:
        if len({r[s] for r in runs}) != 1:
            print(f"seed {s} differs: " + " | ".join(r[s] for r in runs), file=sys.stderr)
    label = "determinism_builds" if args.builds else "determinism"
    print(f"{label}_seeds={len(seeds)}")
    print(f"{label}_identical={identical}")
    print(f"{label}_wall_s={time.time() - start:.1f}")
    violations = sum(1 for s in seeds if "ok=False" in runs[0][s])
    print(f"{label}_seeds_violated={violations}")
    return 0 if identical == len(seeds) else 1


if __name__ == "__main__":
    sys.exit(main())
