#!/usr/bin/env bash
# Runs every benchmark and prints its figures as name=value lines (see README).
set -euo pipefail
build="${1:-build}"

echo "# sim kernel: ksim vs SimGrid 3.32, 50 pairs x 10,000 round trips of 64-byte messages"
ksim_out="$("$build/bench/bench_sim_pingpong")"
echo "$ksim_out"
if [ -x "$build/bench/bench_simgrid_pingpong" ]; then
  sg_out="$("$build/bench/bench_simgrid_pingpong")"
  echo "$sg_out"
  k=$(sed -n 's/^ksim_msgs_per_s=//p' <<<"$ksim_out")
  s=$(sed -n 's/^simgrid_msgs_per_s=//p' <<<"$sg_out")
  awk -v k="$k" -v s="$s" 'BEGIN { printf "ratio_vs_simgrid=%.2f\n", k / s }'
else
  echo "ratio_vs_simgrid=unavailable"
fi

echo "# cluster: 3 brokers, 6 partitions RF=3, 10k records/s acks=all; and 50 brokers x 5,000 partitions"
"$build/bench/bench_cluster"

echo "# end to end: 3 brokers, 6 partitions RF=3, producer workload 10k records/s acks=all idempotent, a group of 3 consumers"
"$build/bench/bench_e2e"

echo "# checkers: every checker over a 1,000,000-operation history"
"$build/bench/bench_check"

echo "# memory: an idle cluster over 24 simulated hours; one simulated hour of 1,000 records/s acks=all idempotent + a group of 3 consumers, then check()"
/usr/bin/python3 "$(dirname "$0")/memory.py" --build "$build"
