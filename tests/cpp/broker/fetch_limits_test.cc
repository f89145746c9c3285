// A Fetch response's size limits (KIP-74): the request's max_bytes
// (fetch.max.bytes for consumers, replica.fetch.response.max.bytes for
// followers) bounds the whole response and each partition's
// partition_max_bytes its share; only the first batch of the response may
// exceed them, so a batch larger than every limit still makes progress.
#include <catch2/catch.hpp>

#include <memory>
#include <optional>

#include "engine/broker/protocol.h"
#include "engine/common/node_ids.h"
#include "engine/server/cluster.h"
#include "sim/network.h"
#include "tests/cpp/broker/raw_fetch.h"

using namespace ksim;

namespace {

struct TwoPartitions {
  std::unique_ptr<Cluster> c;
  sim::NodeId client;
  int32_t leader = -1;

  TwoPartitions() {
    ClusterOptions o;
    o.seed = 5;
    o.brokers = 1;
    o.controllers = 1;
    c = std::make_unique<Cluster>(o);
    c->wait_ready();
    c->create_topic("t", 2, 1);
    REQUIRE(c->wait_for_leader("t", 0) > 0);
    REQUIRE(c->wait_for_leader("t", 1) > 0);
    leader = c->leader_of("t", 0);
    for (int32_t p = 0; p < 2; ++p)
      for (int i = 0; i < 3; ++i)  // three batches of ~1 KB per partition
        REQUIRE(c->produce("t", p, {std::string(1000, static_cast<char>('a' + i))}, -1).error == Errc::NONE);
    client = c->add_client_node("raw-client");
  }

  protocol::FetchResponse fetch(int32_t max_bytes, int32_t partition_max_bytes) {
    protocol::FetchRequest req;
    req.max_wait_ms = 0;
    req.max_bytes = max_bytes;
    for (int32_t p = 0; p < 2; ++p)
      req.partitions.push_back(protocol::FetchPartition{
          .tp = TopicPartition{"t", p}, .fetch_offset = Offset{0}, .partition_max_bytes = partition_max_bytes});
    return testing::answer_of(*c, testing::start_raw_fetch(*c, client, leader, std::move(req)));
  }
};

size_t batches_of(const protocol::FetchResponse& r, int32_t partition) {
  return r.partitions.at(static_cast<size_t>(partition)).batches.size();
}

}  // namespace

TEST_CASE("fetch max_bytes bounds the whole response across partitions", "[broker][fetch]") {
  TwoPartitions t;
  // Room for about two of the six batches: partition 0 fills it, partition 1 gets nothing.
  const auto r = t.fetch(2500, 1 << 20);
  REQUIRE(batches_of(r, 0) == 2);
  REQUIRE(batches_of(r, 1) == 0);
  REQUIRE(r.partitions[1].error == Errc::NONE);
  REQUIRE(r.partitions[1].high_watermark == Offset{3});  // still told where the partition stands
}

TEST_CASE("only the response's first batch may exceed the fetch limits", "[broker][fetch]") {
  TwoPartitions t;
  const auto r = t.fetch(10, 10);  // smaller than any batch
  REQUIRE(batches_of(r, 0) == 1);  // the first batch: progress
  REQUIRE(batches_of(r, 1) == 0);  // a later partition's batch over its limit waits for a later fetch
}

TEST_CASE("the default limits return every partition's batches", "[broker][fetch]") {
  TwoPartitions t;
  const auto r = t.fetch(protocol::FetchRequest{}.max_bytes, 1 << 20);
  REQUIRE(batches_of(r, 0) == 3);
  REQUIRE(batches_of(r, 1) == 3);
}
