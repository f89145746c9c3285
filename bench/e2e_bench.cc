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
//   e2e_history_ns_per_record      part of the floor: the checkers' history
//                                  alone, as many records of the same shape
//                                  recorded into a fresh History after the run
//   e2e_events_per_record, e2e_records_per_sim_s, e2e_records_per_poll
//                                  the rest of the floor (bench/run_all.sh
//                                  prices each event at the bare world's
//                                  cheapest, a message answered in a handler)
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "engine/server/workload_driver.h"

using namespace ksim;

namespace {

// The history's own cost of `records` records shaped as this run's: each sent
// (a key out of 1,000, a unique 100-byte value; invoked, acked, completed)
// by one producer over 6 partitions, then polled back `per_poll` at a time
// with copies of the keys and values (a consumer's come out of a fetched
// batch: the poll's lookups hash and compare bytes the pool does not own).
// Wall ns per record; nothing else of the engine runs.
double history_ns_per_record(uint64_t records, uint64_t per_poll) {
  std::vector<std::string> values(records), keys(records);
  for (uint64_t i = 0; i < records; ++i) {
    keys[i] = "k" + std::to_string((i * 7919) % 1000);
    values[i] = "producer-1-" + std::to_string(i);
    values[i].append(100 - values[i].size(), '.');
  }
  std::vector<std::string> polled_values(values), polled_keys(keys);  // other buffers, as a consumer's
  check::History h;
  std::vector<int64_t> next(6, 0);
  std::vector<check::PolledSpec> pending;
  const auto t0 = std::chrono::steady_clock::now();  // determinism-ok: benchmark
  for (uint64_t i = 0; i < records; ++i) {
    const TopicPartition tp{"bench", static_cast<int32_t>(i % 6)};
    check::OpSpec send;
    send.type = check::OpType::send;
    send.client = 5;
    send.client_name = "producer-1";
    send.tp = tp;
    send.key = keys[i];
    send.value = values[i];
    send.value_hash = h.prefetch_value(values[i]);
    send.acks = -1;
    send.idempotent = true;
    const uint64_t id = h.invoke(send, static_cast<int64_t>(i) * 100'000);
    const Offset offset{next[i % 6]++};
    h.set_ack(id, offset, 1);
    h.complete(id, check::Outcome::ok, static_cast<int64_t>(i) * 100'000 + 5'000);
    check::PolledSpec& r = pending.emplace_back();
    r.tp = tp;
    r.offset = offset;
    r.key = polled_keys[i];
    r.value = polled_values[i];
    r.high_watermark = Offset{offset.value + 1};
    if (pending.size() == per_poll || i + 1 == records) {
      check::OpSpec poll;
      poll.type = check::OpType::poll;
      poll.client = 6;
      poll.client_name = "consumer-1";
      poll.group_id = "e2e";
      poll.generation = 1;
      poll.records = std::move(pending);
      pending = {};
      const int64_t at = static_cast<int64_t>(i) * 100'000 + 50'000;
      h.complete(h.invoke(poll, at), check::Outcome::ok, at);
    }
  }
  const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();  // determinism-ok: benchmark
  return records ? wall * 1e9 / static_cast<double>(records) : 0.0;
}

}  // namespace

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
  // Part of the floor under e2e_acceleration: the history the checkers need,
  // recorded alone for as many records, polled as many at a time as here.
  // (Polls that brought records, over the whole run: empty ones cost the
  // history an op each, left out here, so this stays a lower bound.)
  uint64_t polls = 0, polled = 0;
  for (const auto& op : c.history().ops())
    if (op.type() == check::OpType::poll && !op.records().empty()) {
      ++polls;
      polled += op.records().size();
    }
  const uint64_t per_poll = polls ? std::max<uint64_t>(1, polled / polls) : 1;
  std::printf("e2e_records_per_poll=%llu\n", static_cast<unsigned long long>(per_poll));
  std::printf("e2e_records_per_sim_s=%.0f\n", static_cast<double>(records) / static_cast<double>(sim_seconds));
  std::printf("e2e_events_per_record=%.3f\n", records ? static_cast<double>(events) / static_cast<double>(records) : 0.0);
  std::printf("e2e_history_ns_per_record=%.0f\n", history_ns_per_record(records, per_poll));
  return records > 0 ? 0 : 1;
}
