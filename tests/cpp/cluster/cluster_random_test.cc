// Randomized faults against the cluster's promises: with acks=all,
// min.insync.replicas=2 and clean elections, no acknowledged write is ever lost,
// and the online invariants hold after every step. Then the faults stop and the
// cluster must converge (every partition led, full ISR).
#include <catch2/catch.hpp>

#include <algorithm>
#include <set>

#include "engine/server/cluster.h"

using namespace ksim;

namespace {

struct Outcome {
  size_t acked = 0;
  std::vector<std::string> violations;
};

Outcome run(uint64_t seed) {
  ClusterOptions o;
  o.seed = seed;
  o.brokers = 3;
  o.controllers = 3;
  o.config = {{"replica.lag.time.max.ms", "3000"}};
  o.online_invariants = true;  // after every step; a violation throws SimError from run_*
  Cluster c(o);
  c.wait_ready();
  c.create_topic("t", 3, 3, {{"min.insync.replicas", "2"}});
  sim::Rng rng = c.world().rng("test/nemesis");
  std::map<int32_t, std::vector<std::string>> acked;  // partition -> values acknowledged
  Outcome out;
  std::set<int32_t> down;
  for (int step = 0; step < 60; ++step) {
    const auto b = static_cast<int32_t>(1 + rng.uniform(3));
    switch (rng.uniform(8)) {
      case 0:
        if (down.empty() && !down.contains(b)) {
          c.crash(b);
          down.insert(b);
        }
        break;
      case 1:
        for (int32_t d : down) c.restart(d);
        down.clear();
        break;
      case 2: {
        std::vector<int32_t> rest;
        for (int32_t id = 1; id <= 6; ++id)
          if (id != b) rest.push_back(id);
        c.partition({{b}, rest});
        break;
      }
      case 3:
        c.heal();
        break;
      case 4:
        if (!down.contains(b)) c.pause(b, 300 + static_cast<int64_t>(rng.uniform(2000)));
        break;
      case 5:
        c.disk_stall(b, true);
        c.run_for_ms(static_cast<int64_t>(rng.uniform(3000)));
        c.disk_stall(b, false);
        break;
      default:
        break;
    }
    const auto p = static_cast<int32_t>(rng.uniform(3));
    const std::string v = "s" + std::to_string(step);
    if (c.produce("t", p, {v}, -1, 3'000).error == Errc::NONE) acked[p].push_back(v);
    c.run_for_ms(500);
    for (const std::string& x : c.check_invariants()) out.violations.push_back("step " + std::to_string(step) + ": " + x);
  }
  // Heal phase: faults stop; the cluster must converge.
  c.heal();
  for (int32_t d : down) c.restart(d);
  // Converged: every broker registered and unfenced, every partition led by a
  // broker that knows it leads, a full ISR, and every replica at the leader's end.
  const bool converged = c.run_until(
      [&] {
        if (!c.ready()) return false;
        for (const auto& d : c.describe_topic("t")) {
          if (d.leader < 0 || d.isr.size() != 3 || d.high_watermark == kNoOffset) return false;
          for (const auto& r : d.replica_states)
            if (!r.up || r.log_end_offset != d.high_watermark) return false;
        }
        return true;
      },
      60'000);
  if (!converged) out.violations.push_back("no convergence within 60 s:\n" + c.describe_text("t"));
  for (const auto& [p, values] : acked) {
    const int32_t leader = c.describe_partition("t", p).leader;
    if (leader < 0) continue;
    const auto log = c.log_contents(leader, "t", p);
    for (const std::string& v : values) {
      ++out.acked;
      if (std::none_of(log.begin(), log.end(), [&](const auto& r) { return r.second == v; })) {
        std::string have;
        for (const auto& [off, x] : log) have += " " + std::to_string(off) + ":" + x;
        out.violations.push_back("lost-write: acknowledged " + v + " missing from t-" + std::to_string(p) +
                                 " on leader " + std::to_string(leader) + " whose log has" + have + "\n" +
                                 c.describe_text("t"));
      }
    }
  }
  for (const std::string& x : c.check_invariants()) out.violations.push_back("after heal: " + x);
  return out;
}

}  // namespace

TEST_CASE("random faults never lose an acks=all write and the cluster converges (100 seeds)", "[cluster][random]") {
  size_t acked = 0;
  for (uint64_t seed = 1; seed <= 100; ++seed) {
    const Outcome o = run(seed);
    INFO("seed " << seed << ": " << (o.violations.empty() ? std::string() : o.violations.front()));
    REQUIRE(o.violations.empty());
    acked += o.acked;
  }
  REQUIRE(acked > 1000);  // the runs did real work
}
