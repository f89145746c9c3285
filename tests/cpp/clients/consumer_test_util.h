// Shared helpers of the consumer stories: a small cluster, consumers as
// client processes, and polling loops (from the main context, or as the
// consumer node's own application fiber).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "engine/clients/kafka_consumer.h"
#include "engine/common/node_ids.h"
#include "engine/server/cluster.h"

namespace ksim::consumer_test {

using clients::ConsumerRecord;
using clients::KafkaConsumer;

inline ClusterOptions options(uint64_t seed, int32_t brokers = 3) {
  ClusterOptions o;
  o.seed = seed;
  o.brokers = brokers;
  o.config = {{"offsets.topic.num.partitions", "3"}, {"group.initial.rebalance.delay.ms", "500"}};
  return o;
}

inline void make_topic(Cluster& c, const std::string& topic, int32_t partitions, int32_t rf = 3) {
  c.create_topic(topic, partitions, rf);
  for (int32_t p = 0; p < partitions; ++p) REQUIRE(c.wait_for_leader(topic, p) > 0);
}

inline void produce_n(Cluster& c, const std::string& topic, int32_t partition, int from, int count) {
  std::vector<std::string> values;
  for (int i = from; i < from + count; ++i) values.push_back("v" + std::to_string(i));
  REQUIRE(c.produce(topic, partition, values, -1).error == Errc::NONE);
}

// A consumer process; `setup` runs at every boot (subscribe, start an app loop, ...).
inline int32_t add_consumer(Cluster& c, const std::string& name, Config::Map cfg,
                            std::function<void(const std::shared_ptr<KafkaConsumer>&)> setup = {}) {
  return c.add_client(name, [cfg, setup](const clients::ClientContext& ctx) -> std::shared_ptr<void> {
    auto k = std::make_shared<KafkaConsumer>(ctx, cfg);
    if (setup) setup(k);
    return k;
  });
}

// The application loop of a consumer node: poll(100) until `*stop`.
inline void start_app(const std::shared_ptr<KafkaConsumer>& k, std::shared_ptr<bool> stop) {
  sim::World& w = *k->context().world;
  std::weak_ptr<KafkaConsumer> weak = k;
  w.spawn(k->context().self, "app", [weak, stop] {
    for (;;) {
      if (*stop) return;
      auto self = weak.lock();
      if (!self || self->closed()) return;
      self->poll(100);
    }
  });
}

// Polls from the main context until `n` records arrived or the time is up.
inline std::vector<ConsumerRecord> poll_n(KafkaConsumer& k, size_t n, int64_t timeout_ms = 10'000, int64_t step = 100) {
  std::vector<ConsumerRecord> out;
  const int64_t end = k.context().world->now().ns / 1'000'000 + timeout_ms;
  while (out.size() < n && k.context().world->now().ns / 1'000'000 < end) {
    for (auto& r : k.poll(step)) out.push_back(std::move(r));
  }
  return out;
}

inline std::vector<check::OpView> ops_of(const Cluster& c, int32_t client, check::OpType type) {
  std::vector<check::OpView> out;
  for (const check::OpView& op : c.history().ops())
    if (op.client() == client && op.type() == type) out.push_back(op);
  return out;
}

}  // namespace ksim::consumer_test
