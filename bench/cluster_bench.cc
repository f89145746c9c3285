// cluster_bench — the Kafka cluster's speed (figures of the cluster issue).
//
// acceleration: 3 brokers + 1 KRaft controller, one topic with 6 partitions,
//   RF=3, acks=all, 10,000 records/s (every 10 ms each partition gets one
//   batch of 17 records, sent pipelined as raw Produce requests by a load
//   generator process); simulated seconds per wall second over 60 simulated s,
//   and the messages it takes per simulated second with their wall cost each
//   (at 1000x a simulated second may cost 1 ms of wall time in all).
// scale: 50 brokers + 3 KRaft controllers, a topic of 5,000 partitions with
//   RF=3 created and then left running (fetchers, heartbeats, checkpoints) for
//   10 simulated seconds; wall seconds for the whole thing and peak RSS.
// scale200: the same at 200 brokers x 20,000 partitions (issue 13), in a
//   child process of its own so its peak RSS is its own.
//
//   acceleration_loadgen_ns_per_message: the load generator's batches built
//   alone, per delivered message (part of the floor under the figure).
//
// Usage: bench_cluster [--acceleration | --scale | --scale200]  (none: all three;
// scale200 re-executes this binary with --scale200).
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <sys/resource.h>

#include "engine/broker/protocol.h"
#include "engine/server/cluster.h"
#include "sim/network.h"

using namespace ksim;

namespace {

double wall_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();  // determinism-ok: benchmark
}

// The load generator's batch: 17 records of 100 bytes, stamped with `ms`.
constexpr int kRecordsPerBatch = 17;
storage::BatchPtr load_batch(std::vector<storage::Record>& records, int64_t ms) {
  if (records.empty()) {
    records.resize(kRecordsPerBatch);
    for (auto& r : records) r.value = storage::Bytes(100, 'x');
  }
  for (auto& r : records) r.timestamp = ms;
  return storage::RecordBatch::build({}, records);
}

void acceleration() {
  ClusterOptions o;
  o.seed = 1;
  o.brokers = 3;
  o.controllers = 1;
  Cluster c(o);
  c.wait_ready();
  const int partitions = 6;
  c.create_topic("bench", partitions, 3);
  const sim::NodeId gen = c.add_client_node("load-generator");
  sim::World& w = c.world();
  sim::Network& net = w.network();
  const sim::KindId produce = net.kind("Produce");
  uint64_t acked = 0, failed = 0;
  const int64_t sim_seconds = 60;
  w.spawn(gen, "producer", [&] {
    std::vector<storage::Record> records;
    const sim::Instant end = w.now() + sim::seconds(sim_seconds);
    while (w.now() < end) {
      for (int p = 0; p < partitions; ++p) {
        const int32_t leader = c.leader_of("bench", p);
        if (leader < 0) continue;
        protocol::ProduceRequest req;
        req.acks = -1;
        req.partitions.emplace_back(TopicPartition{"bench", p}, load_batch(records, w.now().ns / 1'000'000));
        const uint32_t size = static_cast<uint32_t>(req.partitions[0].second->size_in_bytes()) + 64;
        const sim::CallId id = net.call(gen, sim::NodeId{static_cast<uint32_t>(leader - 1)}, produce,
                                        std::make_shared<const protocol::ProduceRequest>(std::move(req)), size,
                                        sim::seconds(30));
        net.on_reply(id, [&](const sim::Reply& r) {
          const bool ok = r.status == sim::CallStatus::ok &&
                          sim::payload_as<protocol::ProduceResponse>(r.payload).partitions[0].error == Errc::NONE;
          (ok ? acked : failed) += kRecordsPerBatch;
        });
      }
      w.sleep_for(sim::milliseconds(10));
    }
  });
  const auto t0 = std::chrono::steady_clock::now();  // determinism-ok: benchmark
  const uint64_t events0 = w.events_processed();
  const uint64_t messages0 = net.stats().delivered;
  c.run_for_ms(sim_seconds * 1000 + 1000);
  const double wall = wall_since(t0);
  const double messages = static_cast<double>(net.stats().delivered - messages0);
  std::printf("acceleration=%.0f\n", static_cast<double>(sim_seconds + 1) / wall);
  std::printf("acceleration_wall_s=%.3f\n", wall);
  std::printf("acceleration_records_acked=%llu\n", static_cast<unsigned long long>(acked));
  std::printf("acceleration_records_failed=%llu\n", static_cast<unsigned long long>(failed));
  std::printf("acceleration_events_per_s=%.0f\n", static_cast<double>(w.events_processed() - events0) / wall);
  // The budget: at 1000x, every delivered message (with all the broker work it
  // causes) must cost at most 1e6 / messages_per_sim_s ns of wall time.
  std::printf("acceleration_messages_per_sim_s=%.0f\n", messages / static_cast<double>(sim_seconds + 1));
  std::printf("acceleration_wall_ns_per_message=%.0f\n", wall * 1e9 / messages);
  // Events the world applies per delivered message: the message, the
  // simulated disks' write times, timers (bench/run_all.sh prices them).
  std::printf("acceleration_events_per_message=%.3f\n",
              static_cast<double>(w.events_processed() - events0) / messages);
  // Part of the floor: what the load generator's batches cost to build alone
  // (the same 17 records of 100 bytes, encoded and CRC'd, then freed), per
  // delivered message of the run. The cluster cannot cost less than this
  // plus the bare world's cost per message (bench_sim_pingpong).
  const uint64_t batches = (acked + failed) / kRecordsPerBatch;
  std::vector<storage::Record> records;
  uint64_t bytes = 0;
  const auto b0 = std::chrono::steady_clock::now();  // determinism-ok: benchmark
  for (uint64_t i = 0; i < batches; ++i) bytes += load_batch(records, static_cast<int64_t>(i))->size_in_bytes();
  const double build_wall = wall_since(b0);
  std::printf("acceleration_loadgen_batches=%llu\n", static_cast<unsigned long long>(batches));
  std::printf("acceleration_loadgen_ns_per_message=%.0f\n", bytes ? build_wall * 1e9 / messages : 0.0);
}

void scale(const char* prefix, int brokers, int partitions) {
  const auto t0 = std::chrono::steady_clock::now();  // determinism-ok: benchmark
  ClusterOptions o;
  o.seed = 2;
  o.brokers = brokers;
  o.controllers = 3;
  Cluster c(o);
  c.wait_ready(60'000);
  c.create_topic("wide", partitions, 3);
  c.run_for_ms(10'000);
  const double wall = wall_since(t0);
  size_t led = 0;
  for (const auto& p : c.describe_topic("wide")) led += p.leader >= 0 ? 1 : 0;
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  std::printf("%s_wall_s=%.2f\n", prefix, wall);
  std::printf("%s_partitions_with_leader=%zu\n", prefix, led);
  std::printf("%s_peak_rss_mb=%.0f\n", prefix, static_cast<double>(ru.ru_maxrss) / 1024.0);
}

}  // namespace

int main(int argc, char** argv) {
  const char* only = argc > 1 ? argv[1] : "";
  if (!std::strcmp(only, "--scale200")) {
    scale("scale200", 200, 20'000);
    return 0;
  }
  if (*only && std::strcmp(only, "--acceleration") && std::strcmp(only, "--scale")) {
    std::fprintf(stderr, "usage: %s [--acceleration | --scale | --scale200]\n", argv[0]);
    return 2;
  }
  if (!*only || !std::strcmp(only, "--acceleration")) acceleration();
  if (!*only || !std::strcmp(only, "--scale")) scale("scale", 50, 5'000);
  if (!*only) {
    // Its own process, so that scale200_peak_rss_mb is not the maximum of all three.
    std::fflush(stdout);
    const std::string self = std::string("\"") + argv[0] + "\" --scale200";
    if (std::system(self.c_str()) != 0) return 1;
  }
  return 0;
}
