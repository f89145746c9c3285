// History switches: with a `ksim.` switch set to the old behaviour, the
// historical anomaly appears; with the fix (the default), it does not.
#include <catch2/catch.hpp>

#include <algorithm>

#include "engine/server/cluster.h"
#include "sim/network.h"

using namespace ksim;

namespace {

sim::NodeId node(int32_t id) { return sim::NodeId{static_cast<uint32_t>(id - 1)}; }

// Holds every Fetch response broker `from` sends to broker `to` (all brokers if -1).
sim::RuleId starve_fetches(Cluster& c, int32_t from, int32_t to) {
  auto& net = c.world().network();
  return net.add_rule({.src = node(from),
                       .dst = to < 0 ? std::nullopt : std::optional<sim::NodeId>(node(to)),
                       .kind = net.kind("FetchResponse"),
                       .dir = sim::Direction::response},
                      sim::RuleAction::hold, 0);
}

bool in_log(const Cluster& c, int32_t broker, const std::string& v) {
  const auto log = c.log_contents(broker, "t", 0);
  return std::any_of(log.begin(), log.end(), [&](const auto& r) { return r.second == v; });
}

struct Result {
  bool acked = false;
  bool on_new_leader = false;
  int32_t new_leader = -1;
};

// KIP-497's "maximal ISR": while an ISR expansion is in flight, the leader's
// high watermark must also wait for the replica being added. Without it, an
// acks=all write is acknowledged over the old ISR, the expansion commits a
// replica that never got the write, and that replica can then be elected
// cleanly — losing an acknowledged write.
Result pending_isr_story(bool hw_includes_pending) {
  ClusterOptions o;
  o.seed = 5;
  o.brokers = 3;
  o.controllers = 1;
  o.config = {{"replica.lag.time.max.ms", "2000"},
              {"ksim.eligible.leader.replicas", "false"},
              {"ksim.hw.includes.pending.isr", hw_includes_pending ? "true" : "false"}};
  Cluster c(o);
  c.wait_ready();
  c.create_topic("t", -1, -1, {}, {{1, 2, 3}});
  auto& net = c.world().network();
  // Broker 3 falls out of the ISR.
  c.disk_stall(3, true);
  c.produce("t", 0, {"a"}, 1);
  REQUIRE(c.run_until([&] { return c.describe_partition("t", 0).isr.size() == 2; }, 20'000));
  // Its way back: the leader's AlterPartition (adding 3) is held in flight ...
  const sim::RuleId alter = net.add_rule({.src = node(1), .dst = std::nullopt, .kind = net.kind("AlterPartition"),
                                          .dir = sim::Direction::request},
                                         sim::RuleAction::hold, 0);
  c.disk_stall(3, false);
  REQUIRE(c.run_until([&] { return net.held_count(alter) > 0; }, 10'000));
  // ... and 3 gets nothing new from now on.
  const sim::RuleId starve = starve_fetches(c, 1, 3);
  Result r;
  r.acked = c.produce("t", 0, {"x"}, -1, 2'000).error == Errc::NONE;
  net.release(alter);  // the expansion commits: ISR {1,2,3}
  c.run_for_ms(500);
  c.crash(1);
  c.crash(2);
  net.discard(starve);
  c.run_until([&] { return c.describe_partition("t", 0).leader == 3; }, 30'000);
  r.new_leader = c.describe_partition("t", 0).leader;
  r.on_new_leader = r.new_leader > 0 && in_log(c, r.new_leader, "x");
  return r;
}

// KIP-101: a follower that restarts and truncates its log to its (stale)
// high watermark drops records the leader had already committed. If the
// leader then dies and the follower is elected — here cleanly, from KIP-966's
// eligible leader replicas — the committed write is gone. Truncating by leader
// epoch (OffsetsForLeaderEpoch) keeps what the leader has.
Result kip101_story(bool truncate_by_epoch) {
  ClusterOptions o;
  o.seed = 6;
  o.brokers = 2;
  o.controllers = 1;
  o.config = {{"ksim.truncation.mode", truncate_by_epoch ? "leader-epoch" : "high-watermark"}};
  Cluster c(o);
  c.wait_ready();
  c.create_topic("t", -1, -1, {{"min.insync.replicas", "2"}}, {{1, 2}});
  auto& net = c.world().network();
  REQUIRE(c.produce("t", 0, {"m1"}, -1).error == Errc::NONE);
  Result r;
  r.acked = c.produce("t", 0, {"m2"}, -1).error == Errc::NONE;
  // The follower restarts before it learned the new high watermark, and gets
  // no Fetch response from the leader afterwards. Its stop is a controlled
  // shutdown: after a crash KIP-966 would take it out of the ELR on restart
  // (its unflushed records may be gone) and it could not be elected below.
  const sim::RuleId starve = starve_fetches(c, 1, 2);
  REQUIRE(c.shutdown(2));
  c.restart(2);
  c.run_for_ms(5'000);
  c.crash(1);
  net.discard(starve);
  c.run_until([&] { return c.describe_partition("t", 0).leader == 2; }, 30'000);
  r.new_leader = c.describe_partition("t", 0).leader;
  r.on_new_leader = r.new_leader > 0 && in_log(c, r.new_leader, "m2");
  return r;
}

// KIP-320: a follower whose metadata is stale keeps fetching from a broker
// that lost and regained leadership meanwhile (and truncated in between).
// Without leader-epoch validation the leader serves it at its old end offset,
// past the point where their logs diverged; the follower rejoins the ISR with
// a different history below the high watermark. With validation its fetches
// are fenced (FENCED_LEADER_EPOCH) until it learns the new epoch.
std::vector<std::string> kip320_story(bool validate) {
  ClusterOptions o;
  o.seed = 7;
  o.brokers = 3;
  o.controllers = 1;
  o.config = {{"replica.lag.time.max.ms", "2000"},
              {"ksim.eligible.leader.replicas", "false"},
              {"ksim.fetch.leader.epoch.validation", validate ? "true" : "false"}};
  Cluster c(o);
  c.wait_ready();
  c.create_topic("t", -1, -1, {}, {{1, 2, 3}});
  auto& net = c.world().network();
  REQUIRE(c.produce("t", 0, {"x1"}, -1).error == Errc::NONE);
  // Broker 3 stops learning metadata; broker 2 stops getting data from 1.
  net.add_rule({.src = node(4), .dst = node(3), .kind = net.kind("MetadataFetchResponse"),
                .dir = sim::Direction::response},
               sim::RuleAction::drop, 0);
  const sim::RuleId starve2 = starve_fetches(c, 1, 2);
  c.produce("t", 0, {"y"}, 1);  // 1 and 3 have y; 2 does not
  c.run_for_ms(200);
  c.crash(1);
  net.discard(starve2);
  REQUIRE(c.run_until([&] { return c.describe_partition("t", 0).leader == 2; }, 30'000));
  c.restart(1);  // comes back as a follower of 2 and truncates y away
  REQUIRE(c.run_until([&] { return c.describe_partition("t", 0).isr.size() >= 2 &&
                                   c.describe_partition("t", 0).isr[0] == 1; }, 30'000));
  c.elect_leaders(false, {{"t", 0}});  // preferred: 1 leads again, in a new epoch
  REQUIRE(c.wait_for_leader("t", 0) == 1);
  for (int i = 0; i < 5; ++i) c.produce("t", 0, {"z" + std::to_string(i)}, 1);
  c.run_for_ms(5'000);
  return c.check_invariants();
}

// KIP-279: the follower holds an epoch the new leader never had. KIP-101's
// answer (only an offset: where the next higher epoch starts) lets it keep its
// own records at offsets where the leader has others; KIP-279's answer (the
// largest epoch the leader has at or below, and its end) makes it truncate.
std::vector<std::string> kip279_story(bool kip279) {
  ClusterOptions o;
  o.seed = 8;
  o.brokers = 2;
  o.controllers = 1;
  o.config = {{"replica.lag.time.max.ms", "2000"},
              {"ksim.eligible.leader.replicas", "false"},
              {"ksim.offsets.for.leader.epoch", kip279 ? "kip-279" : "kip-101"}};
  Cluster c(o);
  c.wait_ready();
  c.create_topic("t", -1, -1, {}, {{1, 2}});
  auto& net = c.world().network();
  REQUIRE(c.produce("t", 0, {"m0"}, -1).error == Errc::NONE);
  const sim::RuleId starve = starve_fetches(c, 1, 2);
  c.produce("t", 0, {"m1"}, 1);  // epoch 0, only on broker 1
  c.crash(1);
  net.discard(starve);
  REQUIRE(c.run_until([&] { return c.describe_partition("t", 0).leader == 2; }, 30'000));
  REQUIRE(c.wait_for_leader("t", 0) == 2);
  c.produce("t", 0, {"m2"}, 1);  // epoch 1, only on broker 2, at m1's offset
  c.crash(2);
  c.restart(1);
  c.run_for_ms(12'000);
  c.elect_leaders(true, {{"t", 0}});  // the partition is offline: an admin-forced unclean election
  REQUIRE(c.wait_for_leader("t", 0) == 1);  // epoch 2; broker 1 never had epoch 1
  c.produce("t", 0, {"m3"}, 1);
  c.restart(2);
  c.run_until([&] { return c.describe_partition("t", 0).isr.size() == 2; }, 30'000);
  c.produce("t", 0, {"m4"}, -1);
  c.run_for_ms(2'000);
  return c.check_invariants();
}

}  // namespace

TEST_CASE("ksim.offsets.for.leader.epoch=kip-101: the replicas diverge below the high watermark", "[history]") {
  const auto violations = kip279_story(false);
  REQUIRE_FALSE(violations.empty());
  REQUIRE(violations.front().find("divergence") != std::string::npos);
}

TEST_CASE("with KIP-279's answer the follower truncates and the replicas agree", "[history]") {
  REQUIRE(kip279_story(true).empty());
}

TEST_CASE("ksim.fetch.leader.epoch.validation=false: a stale follower diverges below the high watermark",
          "[history]") {
  const auto violations = kip320_story(false);
  REQUIRE_FALSE(violations.empty());
  REQUIRE(violations.front().find("divergence") != std::string::npos);
}

TEST_CASE("with KIP-320's epoch validation the stale follower is fenced and nothing diverges", "[history]") {
  REQUIRE(kip320_story(true).empty());
}

TEST_CASE("ksim.truncation.mode=high-watermark: a restarted follower drops a committed write that is then lost",
          "[history]") {
  const Result old_behaviour = kip101_story(false);
  REQUIRE(old_behaviour.acked);
  REQUIRE(old_behaviour.new_leader == 2);
  REQUIRE_FALSE(old_behaviour.on_new_leader);
}

TEST_CASE("truncation by leader epoch (KIP-101) keeps the committed write through the same story", "[history]") {
  const Result fixed = kip101_story(true);
  REQUIRE(fixed.acked);
  REQUIRE(fixed.new_leader == 2);
  REQUIRE(fixed.on_new_leader);
}

TEST_CASE("ksim.hw.includes.pending.isr=false: an acks=all write is acknowledged and then lost", "[history]") {
  const Result old_behaviour = pending_isr_story(false);
  REQUIRE(old_behaviour.new_leader == 3);
  REQUIRE(old_behaviour.acked);
  REQUIRE_FALSE(old_behaviour.on_new_leader);  // the historical anomaly: acked, elected cleanly, gone
}

TEST_CASE("with KIP-497's maximal ISR the same story loses no acknowledged write", "[history]") {
  const Result fixed = pending_isr_story(true);
  REQUIRE(fixed.new_leader == 3);
  REQUIRE((!fixed.acked || fixed.on_new_leader));  // the write was never acknowledged
  REQUIRE_FALSE(fixed.acked);
}
