#!/usr/bin/python3
"""Memory benchmarks (issue 13): what a long simulation costs in memory.

1. Idle growth. Nothing may grow with simulated time while nothing happens:
   an idle cluster (3 brokers, 1 controller, one topic of 6 partitions RF=3)
   runs simulated hours; its resident memory at hour 1 and at hour N gives
     idle_rss_growth_mb_per_sim_hour = (rss_N - rss_1) / (N - 1)   (target <= 1)
     idle_wall_s_per_sim_hour        wall seconds per idle simulated hour
   Hour 1 is the baseline, not hour 0: the first hour fills what is bounded
   by design (the trace ring, the metrics series' first samples).

2. Soak. One simulated hour of an acks=all idempotent producer at 1,000
   records/s and a group of 3 consumers, no faults, then check():
     soak_peak_rss_mb   peak resident memory (ru_maxrss) of that run   (target <= 1,000)
     soak_records       records acknowledged to the producer
     soak_wall_s        wall seconds, check() included
     soak_ok            the verdict
   --soak-seconds N runs N simulated seconds instead (a quick look).

3. Breakdown. bench_memory_breakdown (bench/memory_breakdown.cc) runs the
   soak workload in C++ for --breakdown-seconds (default 600) and prints what
   each part holds (mem_* lines: simulated disk, trace ring, metrics series,
   history operations, heap, RSS).

Each measurement runs in its own subprocess, so ru_maxrss and the resident
set are its own and not the other's.

  /usr/bin/python3 bench/memory.py --build build [--idle-hours 24] [--soak-seconds 3600]
"""
import argparse
import os
import resource
import subprocess
import sys
import time

HOUR_MS = 3_600_000


def rss_mb():
    """Resident memory now (VmRSS), in MB: what the process holds, mapped files included."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS in /proc/self/status")


def idle(hours):
    import ksim

    sim = ksim.Simulation(seed=1, brokers=3, controllers=1)
    sim.create_topic("t", partitions=6, replication_factor=3)
    sim.run_for(HOUR_MS)
    rss1 = rss_mb()
    t0 = time.monotonic()  # determinism-ok: benchmark wall time, outside the simulation
    for _ in range(hours - 1):
        sim.run_for(HOUR_MS)
    wall = time.monotonic() - t0  # determinism-ok: benchmark
    rssn = rss_mb()
    print(f"idle_rss_mb_at_hour_1={rss1:.1f}")
    print(f"idle_rss_mb_at_hour_{hours}={rssn:.1f}")
    print(f"idle_rss_growth_mb_per_sim_hour={(rssn - rss1) / (hours - 1):.3f}")
    print(f"idle_wall_s_per_sim_hour={wall / (hours - 1):.3f}")
    print(f"idle_metrics_samples={len(sim.metrics_history())}")


def soak(seconds):
    from standard_workload import standard_sim  # this folder

    t0 = time.monotonic()  # determinism-ok: benchmark
    sim, w = standard_sim(seed=1)
    sim.run_for(seconds * 1000)
    rss_before_check = rss_mb()
    v = sim.check()
    wall = time.monotonic() - t0  # determinism-ok: benchmark
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KB
    print(f"soak_sim_seconds={seconds}")
    print(f"soak_peak_rss_mb={peak:.0f}")
    print(f"soak_rss_mb_before_check={rss_before_check:.0f}")
    print(f"soak_records={w.acked}")
    print(f"soak_kb_per_record={peak * 1024 / max(w.acked, 1):.3f}")
    print(f"soak_wall_s={wall:.1f}")
    print(f"soak_ok={str(v.ok).lower()}")
    print(f"soak_trace_hash={sim.trace_hash()}")


def child(args, which, value):
    """Runs one measurement in a fresh interpreter; returns its name=value lines."""
    env = dict(os.environ, PYTHONPATH=os.path.join(args.build, "python"))
    r = subprocess.run([sys.executable, __file__, "--build", args.build, "--child", which, str(value)],
                       env=env, capture_output=True, text=True)
    if r.returncode != 0:
        sys.stderr.write(r.stderr)
        raise SystemExit(f"memory bench: the {which} run failed (exit {r.returncode})")
    return r.stdout


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--build", default="build", help="the build folder (its python/ holds the ksim module)")
    ap.add_argument("--idle-hours", type=int, default=24, help="simulated idle hours (>= 2; default 24)")
    ap.add_argument("--soak-seconds", type=int, default=3600, help="simulated soak seconds (default 3600)")
    ap.add_argument("--breakdown-seconds", type=int, default=600,
                    help="simulated seconds of the C++ breakdown run (0: skip)")
    ap.add_argument("--skip-idle", action="store_true")
    ap.add_argument("--skip-soak", action="store_true")
    ap.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        sys.path.insert(0, os.path.join(args.build, "python"))
        which, value = args.child
        {"idle": idle, "soak": soak}[which](int(value))
        return
    if args.idle_hours < 2:
        ap.error("--idle-hours must be >= 2 (hour 1 is the baseline)")
    if args.soak_seconds < 1:
        ap.error("--soak-seconds must be >= 1")
    if not args.skip_idle:
        sys.stdout.write(child(args, "idle", args.idle_hours))
        sys.stdout.flush()
    if not args.skip_soak:
        sys.stdout.write(child(args, "soak", args.soak_seconds))
        sys.stdout.flush()
    breakdown = os.path.join(args.build, "bench", "bench_memory_breakdown")
    if args.breakdown_seconds > 0 and os.access(breakdown, os.X_OK):
        sys.stdout.write(subprocess.run([breakdown, str(args.breakdown_seconds)], check=True,
                                        capture_output=True, text=True).stdout)


if __name__ == "__main__":
    main()
