// The history of a real run, pinned by cost: the standard workload (3
// brokers + 1 controller, 6 partitions RF=3, an idempotent acks=all producer
// at 1,000 records/s, a group of 3 consumers) records its sends, polls,
// commits and rebalances in at most 120 bytes per produced record, all told
// (engine/check/README.md has the breakdown).
#include <catch2/catch.hpp>

#include "engine/server/workload_driver.h"

using namespace ksim;

TEST_CASE("the standard workload's history costs at most 120 bytes per produced record", "[history][memory]") {
  ClusterOptions o;
  o.seed = 1;
  o.brokers = 3;
  o.controllers = 1;
  o.config = {{"min.insync.replicas", "2"}};
  Cluster c(o);
  c.wait_ready();
  c.create_topic("t", 6, 3);
  for (int32_t p = 0; p < 6; ++p) REQUIRE(c.wait_for_leader("t", p) > 0);
  WorkloadOptions w;
  w.topic = "t";
  w.new_producers = 1;
  w.new_consumers = 3;
  w.rate_per_s = 1000;
  w.producer_config = {{"acks", "all"}, {"enable.idempotence", "true"}};
  w.consumer_config = {{"group.id", "g"}, {"auto.offset.reset", "earliest"}};
  auto wl = add_workload(c, w);
  c.run_for_ms(30'000);
  const check::Verdict v = c.check();
  REQUIRE(v.ok());
  REQUIRE(v.stats().sends >= 29'000);
  REQUIRE(v.stats().records_polled >= v.stats().sends - 100);
  const double per_record = static_cast<double>(c.history().memory_bytes()) / static_cast<double>(v.stats().sends);
  INFO("history bytes per produced record: " << per_record);
  CHECK(per_record <= 120.0);
}
