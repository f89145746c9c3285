// Randomized faults, 30 seeds: crashes, power failures, restarts, partitions,
// pauses, duplicated and delayed messages, with proposals flowing. After every
// 10 ms of virtual time: at most one leader per epoch, committed prefixes
// agree across nodes and incarnations, no node's epoch goes back. When the
// faults stop, the cluster must converge — one leader, every node caught up —
// within 20 s.
#include <catch2/catch.hpp>

#include <map>

#include "raft_cluster.h"

using namespace raft_test;

namespace {

sim::RuleMatch match(std::optional<NodeId> src, sim::KindId kind, sim::Direction dir) {
  sim::RuleMatch m;
  m.src = src;
  m.kind = kind;
  m.dir = dir;
  return m;
}

// Returns the run's coverage probes, so the test can show the faults bit.
std::map<std::string, uint64_t, std::less<>> run_seed(uint64_t seed) {
  RaftCluster c(seed, /*voters=*/3, /*observers=*/1);
  sim::Network& net = c.w.network();
  sim::Rng rng = c.w.rng("test/nemesis");
  const std::vector<std::string> kinds = {"Vote", "BeginQuorumEpoch", "EndQuorumEpoch", "MetadataFetch"};
  std::vector<sim::RuleId> rules;
  int proposed = 0;
  auto pick = [&](const std::vector<NodeId>& v) { return v[rng.uniform(v.size())]; };

  for (int step = 0; step < 60; ++step) {
    const NodeId n = pick(c.nodes);
    switch (rng.uniform(9)) {
      case 0:
        if (c.w.is_up(n)) c.w.crash(n);
        break;
      case 1:
        if (c.w.is_up(n)) c.w.power_fail(n, /*torn=*/true);
        break;
      case 2:
      case 3:
        for (NodeId m : c.nodes)
          if (!c.w.is_up(m)) c.w.restart(m);
        break;
      case 4: {
        std::vector<NodeId> a, b;
        for (NodeId m : c.nodes) (rng.bernoulli(0.5) ? a : b).push_back(m);
        net.partition({a, b});
        break;
      }
      case 5:
        net.heal();
        break;
      case 6:
        if (c.w.is_up(n) && !c.w.is_paused(n)) c.w.pause(n, sim::milliseconds(rng.uniform_range(100, 3000)));
        break;
      case 7: {
        const std::string api = kinds[rng.uniform(kinds.size())];
        const auto dir = rng.bernoulli(0.5) ? sim::Direction::request : sim::Direction::response;
        const sim::KindId k = net.kind(dir == sim::Direction::response ? api + "Response" : api);
        rules.push_back(net.add_rule(match(std::nullopt, k, dir), sim::RuleAction::duplicate, 5));
        break;
      }
      case 8: {
        const std::string api = kinds[rng.uniform(kinds.size())];
        const auto dir = rng.bernoulli(0.5) ? sim::Direction::request : sim::Direction::response;
        const sim::KindId k = net.kind(dir == sim::Direction::response ? api + "Response" : api);
        rules.push_back(net.add_rule(match(n, k, dir), sim::RuleAction::delay, 3,
                                     sim::milliseconds(rng.uniform_range(10, 2500))));
        break;
      }
    }
    for (int i = 0; i < 3; ++i)
      if (c.propose("s" + std::to_string(seed) + "-" + std::to_string(proposed))) ++proposed;
    c.run_checked(sim::milliseconds(rng.uniform_range(50, 1000)));
    if (!c.violations.empty()) break;
  }
  // Faults stop: heal everything, bring every node back.
  net.heal();
  for (sim::RuleId r : rules) net.remove_rule(r);
  for (NodeId m : c.nodes) {
    if (c.w.is_paused(m)) c.w.resume(m);
    if (!c.w.is_up(m)) c.w.restart(m);
  }
  INFO("seed " << seed << ", proposed " << proposed);
  for (const auto& v : c.violations) INFO(v);
  REQUIRE(c.violations.empty());
  const bool converged = c.run_until([&] { return c.converged(); }, sim::seconds(20));
  INFO(c.describe());
  REQUIRE(converged);
  // The converged cluster still works: one more entry commits everywhere.
  REQUIRE(c.propose("final"));
  REQUIRE(c.run_until([&] { return c.converged(); }, sim::seconds(2)));
  REQUIRE(c.committed_user_entries().back() == "final");
  REQUIRE(c.violations.empty());
  return c.w.probes();
}

}  // namespace

TEST_CASE("random faults over 30 seeds never break safety - and the quorum converges after them",
          "[raft][random]") {
  std::map<std::string, uint64_t, std::less<>> total;
  for (uint64_t seed = 1; seed <= 30; ++seed) {
    CAPTURE(seed);
    for (const auto& [name, n] : run_seed(seed)) total[name] += n;
  }
  // The faults reached the interesting paths, not just the happy one.
  for (const char* path : {"raft/follower_truncate", "raft/check_quorum_resign", "raft/candidate_backoff",
                           "raft/vote_rejected_log", "raft/leader_diverging_answer", "raft/to_Resigned"}) {
    CAPTURE(path);
    REQUIRE(total[path] > 0);
  }
}
