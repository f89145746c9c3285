// A broker handles one connection's Produce requests in the order they were
// sent, one at a time (Kafka mutes a connection until its request is
// answered). A producer pipelines up to max.in.flight.requests.per.connection
// requests; if the broker let a later one overtake an earlier one, an
// idempotent producer's batches of a partition the broker does not know the
// producer on yet would be appended out of order.
#include <catch2/catch.hpp>

#include <memory>
#include <optional>

#include "engine/broker/protocol.h"
#include "engine/common/node_ids.h"
#include "engine/server/cluster.h"
#include "sim/network.h"

using namespace ksim;

namespace {

storage::BatchPtr batch(const std::string& value, ProducerId pid = kNoProducerId, int32_t seq = storage::kNoSequence) {
  storage::Record r;
  r.value = storage::Bytes(value.begin(), value.end());
  storage::BatchParams p;
  p.producer_id = pid;
  p.producer_epoch = pid == kNoProducerId ? kNoProducerEpoch : ProducerEpoch{0};
  p.base_sequence = seq;
  const storage::Record records[] = {r};
  return storage::RecordBatch::build(p, records);
}

}  // namespace

TEST_CASE("a connection's pipelined Produce requests are appended in the order they were sent", "[broker]") {
  ClusterOptions o;
  o.seed = 3;
  o.brokers = 3;
  o.controllers = 1;
  Cluster c(o);
  c.wait_ready();
  c.create_topic("t", -1, -1, {}, {{1, 2, 3}, {1, 2, 3}});  // both partitions led by broker 1
  const sim::NodeId client = c.add_client_node("pipelining-producer");
  sim::Network& net = c.world().network();
  const ProducerId pid{4242};
  // Request 1 carries two partitions (its handler yields on the first
  // append); request 2, sent right behind it, carries the next sequence of t-1.
  protocol::ProduceRequest first;
  first.acks = 1;
  first.partitions.emplace_back(TopicPartition{"t", 0}, batch("other"));
  first.partitions.emplace_back(TopicPartition{"t", 1}, batch("seq-0", pid, 0));
  protocol::ProduceRequest second;
  second.acks = 1;
  second.partitions.emplace_back(TopicPartition{"t", 1}, batch("seq-1", pid, 1));
  std::vector<Errc> errors;
  for (auto* req : {&first, &second}) {
    const sim::CallId id = net.call(client, sim_node_of(1), net.kind("Produce"),
                                    std::make_shared<const protocol::ProduceRequest>(*req), 256, sim::seconds(30));
    net.on_reply(id, [&errors](const sim::Reply& r) {
      for (const auto& p : sim::payload_as<protocol::ProduceResponse>(r.payload).partitions)
        if (p.tp.partition == 1) errors.push_back(p.error);
    });
  }
  REQUIRE(c.run_until([&] { return errors.size() == 2; }, 10'000));
  REQUIRE(errors == std::vector<Errc>{Errc::NONE, Errc::NONE});  // no OUT_OF_ORDER_SEQUENCE_NUMBER
  const auto log = c.log_contents(1, "t", 1);
  REQUIRE(log.size() == 2);
  REQUIRE(log[0].second == "seq-0");
  REQUIRE(log[1].second == "seq-1");
}
