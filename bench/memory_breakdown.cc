// memory_breakdown — where the soak workload's memory goes (issue 13).
//
// bench/memory.py measures the soak's peak RSS from Python; this runs the
// same workload in C++ (3 brokers + 1 controller, topic "t" with 6 partitions
// RF=3, min.insync.replicas=2, one acks=all idempotent producer at 1,000
// records/s, a group of 3 consumers) for N virtual seconds (argv[1], default
// 600) and prints what each part of the simulation holds, in MB:
//   mem_disk_page_cache_mb   every node's simulated files as cached (partition
//                            logs x 3 replicas, indexes, checkpoints, the
//                            metadata log, __consumer_offsets)
//   mem_disk_durable_mb      the same files' durable images (what survives a
//                            power failure: a second copy of every synced byte)
//   mem_disk_<kind>_mb       the page cache split: partition_logs, indexes,
//                            consumer_offsets, partition_other, node_files
//   mem_trace_ring_mb        the kept trace events (WorldConfig::trace_keep_events)
//   mem_metrics_samples, mem_partition_samples   the metrics step series
//   mem_history_ops          operations in the client history
//   mem_heap_in_use_mb       malloc'd bytes in use (mallinfo2): the history,
//                            client and broker state, the trace ring
//   mem_rss_mb               resident set: heap + mapped files + fiber stacks
// Sizes are what the structures hold, not allocator overheads.
#include <malloc.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <string>

#include "engine/common/node_ids.h"
#include "engine/server/workload_driver.h"

using namespace ksim;

namespace {

double mb(double bytes) { return bytes / (1024.0 * 1024.0); }

double rss_mb() {
  std::ifstream f("/proc/self/status");
  std::string line;
  while (std::getline(f, line))
    if (line.rfind("VmRSS:", 0) == 0) return std::atof(line.c_str() + 6) / 1024.0;
  return 0;
}

// A file's part of the breakdown: partition logs and their indexes live in
// "<topic>-<partition>/"; files outside any partition folder are the node's
// own (the KRaft metadata log, quorum-state, checkpoints).
std::string kind_of(const std::string& file) {
  const auto slash = file.find('/');
  if (slash == std::string::npos) return "node_files";
  if (file.rfind("__consumer_offsets", 0) == 0) return "consumer_offsets";
  if (file.ends_with(".log")) return "partition_logs";
  if (file.ends_with(".index") || file.ends_with(".timeindex")) return "indexes";
  return "partition_other";
}

}  // namespace

int main(int argc, char** argv) {
  const int64_t sim_seconds = argc > 1 ? std::atoll(argv[1]) : 600;
  ClusterOptions o;
  o.seed = 1;
  o.brokers = 3;
  o.controllers = 1;
  o.config = {{"min.insync.replicas", "2"}};
  Cluster c(o);
  c.wait_ready();
  c.create_topic("t", 6, 3);
  for (int32_t p = 0; p < 6; ++p) c.wait_for_leader("t", p);
  WorkloadOptions wo;
  wo.topic = "t";
  wo.new_producers = 1;
  wo.new_consumers = 3;
  wo.rate_per_s = 1'000;
  wo.producer_config = {{"acks", "all"}, {"enable.idempotence", "true"}};
  wo.consumer_config = {{"group.id", "g"}, {"auto.offset.reset", "earliest"}};
  auto w = add_workload(c, wo);
  c.run_for_ms(sim_seconds * 1000);

  sim::World& world = c.world();
  double cache = 0, durable = 0;
  std::map<std::string, double> by_kind;
  for (int32_t id = 1; id <= o.brokers + o.controllers; ++id) {
    const sim::Disk& d = world.disk(sim_node_of(id));
    for (const std::string& f : d.list()) {
      const double n = static_cast<double>(d.contents(f).size());
      cache += n;
      durable += static_cast<double>(d.durable_contents(f).size());
      by_kind[kind_of(f)] += n;
    }
  }
  const struct mallinfo2 mi = mallinfo2();
  std::printf("mem_sim_seconds=%lld\n", static_cast<long long>(sim_seconds));
  std::printf("mem_records_acked=%llu\n", static_cast<unsigned long long>(w->acked()));
  std::printf("mem_disk_page_cache_mb=%.1f\n", mb(cache));
  std::printf("mem_disk_durable_mb=%.1f\n", mb(durable));
  for (const auto& [kind, n] : by_kind) std::printf("mem_disk_%s_mb=%.1f\n", kind.c_str(), mb(n));
  std::printf("mem_trace_ring_mb=%.1f\n", mb(static_cast<double>(world.trace().kept().size() * sizeof(sim::TraceEvent))));
  std::printf("mem_metrics_samples=%zu\n", c.metrics_series().size());
  std::printf("mem_partition_samples=%zu\n", c.partition_series_samples());
  std::printf("mem_history_ops=%zu\n", c.history().ops().size());
  std::printf("mem_history_mb=%.1f\n", mb(static_cast<double>(c.history().memory_bytes())));
  std::printf("mem_heap_in_use_mb=%.1f\n", mb(static_cast<double>(mi.uordblks + mi.hblkhd)));
  std::printf("mem_rss_mb=%.1f\n", rss_mb());
  return 0;
}
