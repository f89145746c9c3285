// Checker validation with planted engine bugs (ksim.bug.*): each bug, run over
// seeds with random faults, must be reported as the matching anomaly
// (sensitivity); the same seeds without a bug must report no violation
// (specificity). Prints the table bug -> seeds run -> caught -> first seed.
#include <catch2/catch.hpp>

#include <cstdio>

#include "engine/server/cluster.h"
#include "engine/server/nemesis.h"

using namespace ksim;

namespace {

struct PlantedBug {
  std::string key;                      // "" : the correct engine
  std::vector<std::string> caught_as;   // anomaly kinds that count as catching it
  std::vector<std::string> nemesis;
  size_t max_faults = 2;
};

check::Verdict run(uint64_t seed, const PlantedBug& bug) {
  ClusterOptions o;
  o.seed = seed;
  o.brokers = 3;
  o.controllers = 3;
  // Short timeouts make faults outlast fencing, so leaderships move within a run.
  o.config = {{"replica.lag.time.max.ms", "2000"}, {"min.insync.replicas", "2"},
              {"broker.session.timeout.ms", "1500"}, {"broker.heartbeat.interval.ms", "250"}};
  if (!bug.key.empty()) o.config[bug.key] = "true";
  Cluster c(o);
  c.wait_ready();
  c.create_topic("t", 3, 3);
  Nemesis nemesis(c, bug.nemesis, bug.max_faults);
  sim::Rng rng = c.world().rng("test/workload");
  for (int step = 0; step < 60; ++step) {
    nemesis.step();
    const auto p = static_cast<int32_t>(rng.uniform(3));
    c.produce("t", p, {"s" + std::to_string(step)}, -1, 1'500);
    c.run_for_ms(200);
  }
  nemesis.stop();
  return c.check();
}

bool caught(const check::Verdict& v, const PlantedBug& bug) {
  for (const check::Anomaly& a : v.violations())
    if (std::find(bug.caught_as.begin(), bug.caught_as.end(), a.kind) != bug.caught_as.end()) return true;
  return false;
}

}  // namespace

TEST_CASE("planted replication bugs are caught by the checkers and the correct engine is not flagged",
          "[cluster][planted-bugs]") {
  constexpr uint64_t kSeeds = 20;
  const std::vector<std::string> faults = {"crash", "partition", "starve"};
  const std::vector<PlantedBug> bugs = {
      {"ksim.bug.ack.before.isr", {"lost-write"}, faults},
      {"ksim.bug.hw.is.leader.leo", {"lost-write", "divergence", "inconsistent-offsets"}, faults},
      // A follower that keeps a divergent suffix either rejoins the ISR with it
      // (divergence below the HW) or can never fetch past it (stuck out of the ISR).
      {"ksim.bug.follower.never.truncates", {"divergence", "inconsistent-offsets", "liveness"}, faults},
      {"ksim.bug.unclean.without.permission", {"lost-write"}, {"crash"}},
  };
  std::printf("%-40s %6s %7s %11s\n", "bug", "seeds", "caught", "first_seed");
  for (uint64_t seed = 1; seed <= kSeeds; ++seed) {
    const check::Verdict v = run(seed, PlantedBug{"", {}, faults});
    INFO("correct engine, seed " << seed << "\n" << v.text());
    REQUIRE(v.ok());
  }
  std::printf("%-40s %6llu %7d %11s\n", "(none: the correct engine)", (unsigned long long)kSeeds, 0, "-");
  for (const PlantedBug& bug : bugs) {
    int n = 0;
    uint64_t first = 0;
    for (uint64_t seed = 1; seed <= kSeeds; ++seed)
      if (caught(run(seed, bug), bug)) {
        ++n;
        if (!first) first = seed;
      }
    std::printf("%-40s %6llu %7d %11s\n", bug.key.c_str(), (unsigned long long)kSeeds, n,
                first ? std::to_string(first).c_str() : "-");
    INFO(bug.key);
    REQUIRE(n >= 1);
  }
}

TEST_CASE("planted bug follower.never.truncates: the deposed leader keeps its divergent suffix", "[cluster][planted-bugs]") {
  ClusterOptions o;
  o.seed = 3;
  o.brokers = 3;
  o.controllers = 3;
  o.config = {{"ksim.bug.follower.never.truncates", "true"}};
  Cluster c(o);
  c.wait_ready();
  c.create_topic("t", 1, 3);
  REQUIRE(c.produce("t", 0, {"a"}, -1).error == Errc::NONE);
  const int32_t old = c.describe_partition("t", 0).leader;
  std::vector<int32_t> rest;
  for (int32_t id = 1; id <= 6; ++id)
    if (id != old) rest.push_back(id);
  c.partition({{old}, rest});
  c.produce("t", 0, {"orphan"}, 1);  // appended by the isolated leader alone
  REQUIRE(c.run_until([&] { return c.leader_of("t", 0) >= 0 && c.leader_of("t", 0) != old; }, 30'000));
  REQUIRE(c.wait_for_leader("t", 0) >= 0);
  REQUIRE(c.produce("t", 0, {"b", "c"}, -1).error == Errc::NONE);
  c.heal();
  c.run_for_ms(10'000);
  const check::Verdict v = c.check();
  INFO(v.text() << c.describe_text("t"));
  REQUIRE(v.violations().size() == 1);
  REQUIRE(v.violations()[0].kind == "liveness");  // the deposed leader can never rejoin the ISR
}
