#!/usr/bin/env python3
"""Bug-finding power of `ksim hunt`: seeds until the first violation, per history switch and planted bug.

    bench/hunt_power.py [--build build] [--max-seeds 1000] [--false-alarm-seeds 10000] [--jobs 2]
    bench/hunt_power.py --only ksim.transaction.protocol=v1 --max-seeds 300

For every history switch in its legacy setting and every planted bug
(ksim.bug.*), the standard hunt (ksim/hunt.py) runs seeds 1, 2, 3, ... with
that one setting until the checkers report a violation that the same seed on
the correct engine does not (a seed violating on both is a false alarm, counted
below, not the setting's bug), and prints
`seeds_to_first_violation.<key>=N` (N = the first violating seed; `>MAX`
when none was found). Then the median over all of them, and
`false_alarm_seeds`: violations over seeds 1..--false-alarm-seeds with every
fix on (the correct engine; the target is 0). The seeds drawn are the same
with and without a setting, so a seed that violates only with it shows the
setting's bug and nothing else.
"""
import argparse
import multiprocessing
import os
import statistics
import sys
import time

SWITCHES = (
    "ksim.truncation.mode=high-watermark",
    "ksim.offsets.for.leader.epoch=kip-101",
    "ksim.fetch.leader.epoch.validation=false",
    "ksim.hw.includes.pending.isr=false",
    "ksim.transaction.protocol=v1",
    "ksim.group.generation.fencing=false",
    "ksim.cleaner.abort.marker.removal=early",
    "ksim.consumer.group.pending.revocation=ignore",
    "ksim.bug.ack.before.isr=true",
    "ksim.bug.cleaner.drops.latest.value=true",
    "ksim.bug.follower.never.truncates=true",
    "ksim.bug.hw.is.leader.leo=true",
    "ksim.bug.read.past.hw=true",
    "ksim.bug.skip.generation.check=true",
    "ksim.bug.skip.idempotent.dedupe=true",
    "ksim.bug.unclean.without.permission=true",
)


def _one(job):
    from ksim import hunt

    seed, overrides = job
    row = hunt.hunt_seed(seed, overrides)
    return seed, row["verdict"] == "VIOLATED", row["kinds"], row["error"], row["wall_s"]


def first_violation(pool, overrides, max_seeds, chunk):
    """(first violating seed or None, seeds run, kinds of the violation)."""
    seed = 1
    while seed <= max_seeds:
        batch = [(s, overrides) for s in range(seed, min(seed + chunk, max_seeds + 1))]
        for s, violated, kinds, _err, _wall in pool.map(_one, batch):
            # The setting's bug, not a false alarm: the same seed on the correct engine keeps every promise.
            if violated and not _one((s, {}))[1]:
                return s, s, kinds
        seed += chunk
    return None, max_seeds, {}


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--build", default="build")
    ap.add_argument("--max-seeds", type=int, default=1000)
    ap.add_argument("--false-alarm-seeds", type=int, default=10_000)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--only", action="append", default=[], help="key=value: only these settings")
    args = ap.parse_args()
    build = args.build if os.path.isabs(args.build) else os.path.join(os.path.dirname(here), args.build)
    sys.path.insert(0, os.path.join(build, "python"))
    os.environ["PYTHONPATH"] = os.path.join(build, "python")

    settings = args.only or list(SWITCHES)
    found = []
    with multiprocessing.get_context("fork").Pool(args.jobs) as pool:
        start = time.perf_counter()
        for setting in settings:
            key, value = setting.split("=", 1)
            t = time.perf_counter()
            seed, ran, kinds = first_violation(pool, {key: value}, args.max_seeds, 4 * args.jobs)
            shown = seed if seed is not None else f">{args.max_seeds}"
            violations = ",".join(k for k, (n, _e) in sorted(kinds.items()) if n)
            print(f"seeds_to_first_violation.{key}={shown}  # {violations or '-'}; {time.perf_counter() - t:.1f} s",
                  flush=True)
            found.append(seed if seed is not None else args.max_seeds * 10)
        if not args.only:
            print(f"seeds_to_first_violation_median={statistics.median(found):g}")
            print(f"seeds_to_first_violation_max={max(found)}")
        if args.false_alarm_seeds > 0:
            t = time.perf_counter()
            bad = []
            jobs = [(s, {}) for s in range(1, args.false_alarm_seeds + 1)]
            for s, violated, kinds, err, _wall in pool.imap(_one, jobs, chunksize=8):
                if violated or err:
                    bad.append(s)
                    print(f"# false alarm: seed {s}: {kinds} {err}", flush=True)
            wall = time.perf_counter() - t
            print(f"false_alarm_seeds={len(bad)}  # of {args.false_alarm_seeds}")
            print(f"hunt_seeds_per_min={args.false_alarm_seeds * 60 / wall:.0f}")
        print(f"hunt_power_wall_s={time.perf_counter() - start:.0f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
