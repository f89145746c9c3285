// The whole cluster is deterministic: one seed, one run — through elections,
// crashes and partitions.
#include <catch2/catch.hpp>

#include "engine/server/cluster.h"

using namespace ksim;

namespace {

uint64_t story(uint64_t seed) {
  ClusterOptions o;
  o.seed = seed;
  o.brokers = 4;
  o.controllers = 3;
  Cluster c(o);
  c.wait_ready();
  c.create_topic("t", 4, 3, {{"min.insync.replicas", "2"}});
  for (int i = 0; i < 20; ++i) c.produce("t", i % 4, {"v" + std::to_string(i)}, -1, 5'000);
  const int32_t leader = c.describe_partition("t", 0).leader;
  c.crash(leader);
  c.partition({{1, 5}, {2, 3, 4, 6, 7}});
  for (int i = 0; i < 20; ++i) c.produce("t", i % 4, {"w" + std::to_string(i)}, 1, 2'000);
  c.heal();
  c.restart(leader);
  c.run_for_ms(20'000);
  REQUIRE(c.check_invariants().empty());
  return c.world().trace().hash();
}

}  // namespace

TEST_CASE("the same seed gives the same cluster run and another seed another", "[cluster][determinism]") {
  const uint64_t a = story(21);
  REQUIRE(a == story(21));
  REQUIRE(a != story(22));
}
