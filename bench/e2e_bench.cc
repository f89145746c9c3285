// e2e_bench — the whole pipeline's speed: producer client -> brokers ->
// consumer group, with the clients' real protocol logic.
//
// 3 brokers + 1 KRaft controller, one topic with 6 partitions, RF=3; one
// producer workload at 10,000 records/s (acks=all, idempotent, 100-byte
// values, keys over 1,000), a group of 3 consumers (auto commit). After the
// cluster and the group are up, runs N virtual seconds (argv[1], default 30)
// and reports:
//   e2e_acceleration               virtual seconds per wall second
//   e2e_wall_s_per_million_records wall seconds per 1M records delivered end
//                                  to end (returned by a consumer's poll)
//   e2e_records, e2e_records_acked, e2e_events, e2e_ns_per_event,
//   e2e_messages_per_sim_s, e2e_wall_ns_per_record (at 1000x: <= 100 ns)
#include <chrono>
#include <cstdio>
#include <cstdlib>

#include "engine/server/workload_driver.h"

using namespace ksim;

int main(int argc, char** argv) {
  const int64_t sim_seconds = argc > 1 ? std::atoll(argv[1]) : 30;
  ClusterOptions o;
  o.seed = 1;
  o.brokers = 3;
  o.controllers = 1;
  o.config = {{"offsets.topic.num.partitions", "6"}, {"group.initial.rebalance.delay.ms", "0"}};
  Cluster c(o);
  c.wait_ready();
  c.create_topic("bench", 6, 3);
  for (int32_t p = 0; p < 6; ++p) c.wait_for_leader("bench", p);

  WorkloadOptions wo;
  wo.name = "e2e";
  wo.topic = "bench";
  wo.new_producers = 1;
  wo.new_consumers = 3;
  wo.rate_per_s = 10'000;
  wo.producer.key_space = 1000;
  wo.producer.value_bytes = 100;
  wo.producer_config = {{"acks", "all"}, {"enable.idempotence", "true"}};
  wo.consumer_config = {{"auto.offset.reset", "earliest"}};
  auto w = add_workload(c, wo);
  // Warm-up: the group forms and the producer gets its id (not measured).
  c.run_for_ms(2'000);

  sim::World& world = c.world();
  const uint64_t events0 = world.events_processed();
  const uint64_t consumed0 = w->consumed();
  const uint64_t acked0 = w->acked();
  const uint64_t messages0 = world.network().stats().delivered;
  const auto t0 = std::chrono::steady_clock::now();  // determinism-ok: benchmark
  c.run_for_ms(sim_seconds * 1000);
  const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();  // determinism-ok: benchmark
  const uint64_t events = world.events_processed() - events0;
  const uint64_t records = w->consumed() - consumed0;
  std::printf("e2e_acceleration=%.0f\n", static_cast<double>(sim_seconds) / wall);
  std::printf("e2e_wall_s_per_million_records=%.3f\n", records ? wall / (static_cast<double>(records) / 1e6) : 0.0);
  std::printf("e2e_wall_s=%.3f\n", wall);
  std::printf("e2e_records=%llu\n", static_cast<unsigned long long>(records));
  std::printf("e2e_records_acked=%llu\n", static_cast<unsigned long long>(w->acked() - acked0));
  std::printf("e2e_events=%llu\n", static_cast<unsigned long long>(events));
  std::printf("e2e_ns_per_event=%.0f\n", events ? wall * 1e9 / static_cast<double>(events) : 0.0);
  const double messages = static_cast<double>(world.network().stats().delivered - messages0);
  std::printf("e2e_messages_per_sim_s=%.0f\n", messages / static_cast<double>(sim_seconds));
  std::printf("e2e_wall_ns_per_record=%.0f\n", records ? wall * 1e9 / static_cast<double>(records) : 0.0);
  return records > 0 ? 0 : 1;
}
