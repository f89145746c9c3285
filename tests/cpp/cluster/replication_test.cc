// The Kafka cluster end to end: KRaft controllers, brokers, replication, ISR,
// elections — as stories.
#include <catch2/catch.hpp>

#include <algorithm>

#include "engine/broker/protocol.h"
#include "engine/common/node_ids.h"
#include "engine/server/cluster.h"
#include "engine/server/log_peek.h"
#include "engine/storage/log_segment.h"
#include "sim/network.h"

using namespace ksim;

namespace {

bool has_value(const std::vector<std::pair<int64_t, std::string>>& log, const std::string& v) {
  return std::any_of(log.begin(), log.end(), [&](const auto& r) { return r.second == v; });
}

int32_t follower_of(const PartitionDescription& d, int k) {
  int seen = 0;
  for (int32_t r : d.replicas)
    if (r != d.leader && seen++ == k) return r;
  return -1;
}

ClusterOptions opts(uint64_t seed, int32_t brokers, int32_t controllers = 0, Config::Map config = {}) {
  ClusterOptions o;
  o.seed = seed;
  o.brokers = brokers;
  o.controllers = controllers;
  o.config = std::move(config);
  return o;
}

bool in_isr(const Cluster& c, const std::string& topic, int32_t broker) {
  const auto isr = c.describe_partition(topic, 0).isr;
  return std::find(isr.begin(), isr.end(), broker) != isr.end();
}

void require_invariants(Cluster& c) {
  const auto v = c.check_invariants();
  INFO((v.empty() ? std::string() : v.front()));
  REQUIRE(v.empty());
}

}  // namespace

TEST_CASE("a cluster elects an active controller and every broker registers", "[cluster]") {
  Cluster c(opts(1, 3));
  c.wait_ready();
  REQUIRE(c.active_controller().has_value());
  REQUIRE(c.metrics().at("ActiveControllerCount") == 1);
}

TEST_CASE("dedicated controllers: brokers 1..3 - controllers 4..6", "[cluster]") {
  Cluster c(opts(2, 3, 3));
  c.wait_ready();
  REQUIRE(*c.active_controller() >= 4);
  c.create_topic("t", 2, 3);
  REQUIRE(c.describe_topic("t").size() == 2);
}

TEST_CASE("an acks=all write reaches every ISR member before it is acknowledged", "[cluster]") {
  Cluster c(opts(3, 3));
  c.wait_ready();
  c.create_topic("orders", 1, 3);
  const ProduceOutcome r = c.produce("orders", 0, {"m0", "m1"}, -1);
  REQUIRE(r.error == Errc::NONE);
  REQUIRE(r.base_offset == Offset{0});
  const PartitionDescription d = c.describe_partition("orders", 0);
  REQUIRE(d.high_watermark == Offset{2});
  for (const auto& rep : d.replica_states) REQUIRE(rep.log_end_offset == Offset{2});
  require_invariants(c);
}

TEST_CASE("acks=1: the leader crashes before any follower fetched - and the acknowledged write is gone",
          "[cluster]") {
  Cluster c(opts(4, 3));
  c.wait_ready();
  c.create_topic("t", 1, 3);
  REQUIRE(c.produce("t", 0, {"before"}, -1).error == Errc::NONE);
  const PartitionDescription d = c.describe_partition("t", 0);
  // The leader's Fetch responses are held: followers (long-polling) never get
  // what it appends from now on.
  auto& net = c.world().network();
  auto hold = net.add_rule({.src = sim::NodeId{static_cast<uint32_t>(d.leader - 1)}, .dst = std::nullopt,
                            .kind = net.kind("FetchResponse"), .dir = sim::Direction::response},
                           sim::RuleAction::hold, 0);
  const ProduceOutcome acked = c.produce("t", 0, {"lost"}, 1);
  REQUIRE(acked.error == Errc::NONE);  // acknowledged by the leader alone
  c.crash(d.leader);
  net.discard(hold);
  c.run_until([&] { return c.describe_partition("t", 0).leader >= 0 && c.describe_partition("t", 0).leader != d.leader; },
              30'000);
  const PartitionDescription after = c.describe_partition("t", 0);
  REQUIRE(after.leader != d.leader);
  REQUIRE(after.leader_epoch > d.leader_epoch);
  c.restart(d.leader);
  c.run_for_ms(15'000);
  INFO(c.describe_text("t"));
  for (int32_t b : after.replicas) {
    INFO("broker " << b);
    const auto log = c.log_contents(b, "t", 0);
    REQUIRE(has_value(log, "before"));
    REQUIRE_FALSE(has_value(log, "lost"));  // truncated away on the old leader too
  }
  require_invariants(c);
}

TEST_CASE("acks=all: a leader crash right after the acknowledgement loses nothing", "[cluster]") {
  Cluster c(opts(5, 3));
  c.wait_ready();
  c.create_topic("t", 1, 3);
  const PartitionDescription d = c.describe_partition("t", 0);
  REQUIRE(c.produce("t", 0, {"kept"}, -1).error == Errc::NONE);
  c.crash(d.leader);
  c.run_until([&] { return c.describe_partition("t", 0).leader >= 0 && c.describe_partition("t", 0).leader != d.leader; },
              30'000);
  const PartitionDescription after = c.describe_partition("t", 0);
  REQUIRE(has_value(c.log_contents(after.leader, "t", 0), "kept"));
  REQUIRE(c.wait_for_leader("t", 0) == after.leader);
  REQUIRE(c.produce("t", 0, {"next"}, -1).error == Errc::NONE);
  require_invariants(c);
}

// Topic "t" (RF=3, min.insync.replicas=2) with both followers crashed: the
// controller fences them after broker.session.timeout.ms and shrinks the ISR
// to the leader. A dedicated controller: losing two brokers keeps the quorum.
static void isr_down_to_the_leader(Cluster& c) {
  c.wait_ready();
  c.create_topic("t", 1, 3, {{"min.insync.replicas", "2"}});
  const PartitionDescription d = c.describe_partition("t", 0);
  c.crash(follower_of(d, 0));
  c.crash(follower_of(d, 1));
  REQUIRE(c.run_until([&] { return c.describe_partition("t", 0).isr.size() == 1; }, 30'000));
}

TEST_CASE("min.insync.replicas: writes are refused once the ISR is too small", "[cluster]") {
  Cluster c(opts(6, 3, 1));
  isr_down_to_the_leader(c);
  REQUIRE(c.produce("t", 0, {"x"}, -1).error == Errc::NOT_ENOUGH_REPLICAS);
  REQUIRE(c.produce("t", 0, {"y"}, 1).error == Errc::NONE);  // acks=1 does not care
  REQUIRE(c.metrics().at("UnderMinIsrPartitionCount") == 1);
  REQUIRE(c.metrics().at("UnderReplicatedPartitions") == 1);
}

TEST_CASE("an altered min.insync.replicas applies to the next acks=all produce", "[cluster]") {
  Cluster c(opts(6, 3, 1));
  isr_down_to_the_leader(c);
  REQUIRE(c.produce("t", 0, {"refused"}, -1).error == Errc::NOT_ENOUGH_REPLICAS);
  // Each ConfigRecord the brokers apply replaces the topic's settings they cached.
  c.alter_topic_config("t", "min.insync.replicas", "1");
  c.run_for_ms(1'000);
  REQUIRE(c.produce("t", 0, {"taken"}, -1).error == Errc::NONE);
  c.alter_topic_config("t", "min.insync.replicas", "2");
  c.run_for_ms(1'000);
  REQUIRE(c.produce("t", 0, {"refused again"}, -1).error == Errc::NOT_ENOUGH_REPLICAS);
}

TEST_CASE("a slow follower disk shrinks the ISR - it rejoins when the disk recovers", "[cluster]") {
  Cluster c(opts(7, 3, 1, {{"replica.lag.time.max.ms", "2000"}}));
  c.wait_ready();
  c.create_topic("t", 1, 3);
  const PartitionDescription d = c.describe_partition("t", 0);
  const int32_t slow = follower_of(d, 0);
  c.disk_stall(slow, true);
  for (int i = 0; i < 20; ++i) {
    c.produce("t", 0, {"v" + std::to_string(i)}, 1);
    c.run_for_ms(200);
  }
  REQUIRE(c.run_until([&] { return !in_isr(c, "t", slow); }, 10'000));
  REQUIRE(c.metrics().at("IsrShrinksPerSec") >= 1);
  c.disk_stall(slow, false);
  REQUIRE(c.run_until([&] { return c.describe_partition("t", 0).isr.size() == 3; }, 20'000));
  REQUIRE(c.metrics().at("IsrExpandsPerSec") >= 1);
  require_invariants(c);
}

TEST_CASE("a full disk halts the leader as Kafka halts a broker whose last log dir failed - it rejoins after a restart", "[cluster]") {
  Cluster c(opts(9, 3, 1, {{"min.insync.replicas", "2"}}));
  c.wait_ready();
  c.create_topic("t", 1, 3);
  const int32_t leader = c.describe_partition("t", 0).leader;
  REQUIRE(c.produce("t", 0, {"before"}, -1).error == Errc::NONE);
  c.disk_full(leader, true);
  c.produce("t", 0, {"refused-by-the-full-disk"}, -1);  // the append fails: the log dir goes offline
  c.run_for_ms(100);
  REQUIRE_FALSE(c.is_up(leader));
  REQUIRE(c.run_until([&] { const auto l = c.describe_partition("t", 0).leader; return l >= 0 && l != leader; }, 30'000));
  c.disk_full(leader, false);  // the operator frees space and restarts the broker
  c.restart(leader);
  REQUIRE(c.run_until([&] { return c.describe_partition("t", 0).isr.size() == 3; }, 30'000));
  require_invariants(c);
}

TEST_CASE("clean election waits for the only in-sync replica - unclean election loses data", "[cluster]") {
  for (bool unclean : {false, true}) {
    INFO("unclean=" << unclean);
    // A dedicated controller: stalled broker disks must not stall the metadata quorum.
    Cluster c(opts(8, 3, 1, {{"replica.lag.time.max.ms", "2000"}, {"ksim.eligible.leader.replicas", "false"}}));
    c.wait_ready();
    c.create_topic("t", 1, 3, {{"unclean.leader.election.enable", unclean ? "true" : "false"}});
    const PartitionDescription d = c.describe_partition("t", 0);
    // Both followers fall out of the ISR (their disks stall), the leader takes more writes.
    c.disk_stall(follower_of(d, 0), true);
    c.disk_stall(follower_of(d, 1), true);
    REQUIRE(c.produce("t", 0, {"stalls-the-followers"}, 1).error == Errc::NONE);  // they block appending it
    REQUIRE(c.run_until([&] { return c.describe_partition("t", 0).isr.size() == 1; }, 20'000));
    REQUIRE(c.produce("t", 0, {"only-on-leader"}, -1).error == Errc::NONE);
    c.crash(d.leader);
    c.disk_stall(follower_of(d, 0), false);
    c.disk_stall(follower_of(d, 1), false);
    c.run_for_ms(20'000);
    const PartitionDescription after = c.describe_partition("t", 0);
    if (!unclean) {
      REQUIRE(after.leader == -1);  // offline: waits for broker d.leader
      REQUIRE(c.metrics().at("OfflinePartitionsCount") == 1);
    } else {
      REQUIRE(after.leader >= 0);
      REQUIRE(after.leader != d.leader);
      REQUIRE_FALSE(has_value(c.log_contents(after.leader, "t", 0), "only-on-leader"));
      REQUIRE(c.metrics().at("UncleanLeaderElectionsPerSec") == 1);
    }
  }
}

TEST_CASE("a partitioned leader is fenced: it cannot commit - and a new leader takes over", "[cluster]") {
  Cluster c(opts(9, 3, 3));
  c.wait_ready();
  c.create_topic("t", 1, 3, {{"min.insync.replicas", "2"}});
  const PartitionDescription d = c.describe_partition("t", 0);
  std::vector<int32_t> rest;
  for (int32_t id = 1; id <= 6; ++id)
    if (id != d.leader) rest.push_back(id);
  c.partition({{d.leader}, rest});  // the client (not listed) still reaches the old leader
  const ProduceOutcome stuck = c.produce("t", 0, {"never-committed"}, -1, 20'000);
  REQUIRE(stuck.error != Errc::NONE);
  REQUIRE(c.run_until([&] { return c.describe_partition("t", 0).leader != d.leader; }, 30'000));
  c.heal();
  c.run_for_ms(15'000);
  const PartitionDescription after = c.describe_partition("t", 0);
  REQUIRE(after.leader_epoch > d.leader_epoch);
  for (int32_t b : after.replicas) REQUIRE_FALSE(has_value(c.log_contents(b, "t", 0), "never-committed"));
  require_invariants(c);
}

TEST_CASE("controller failover keeps the metadata", "[cluster]") {
  Cluster c(opts(10, 3, 3));
  c.wait_ready();
  c.create_topic("before", 3, 3);
  const int32_t active = *c.active_controller();
  c.crash(active);
  REQUIRE(c.run_until([&] { return c.active_controller() && *c.active_controller() != active; }, 30'000));
  REQUIRE(c.describe_topic("before").size() == 3);
  c.create_topic("after", 1, 3);
  REQUIRE(c.topics() == std::vector<std::string>{"after", "before"});
}

TEST_CASE("a rolling restart of every broker loses no acks=all write", "[cluster]") {
  Cluster c(opts(11, 3, 1));
  c.wait_ready();
  c.create_topic("t", 1, 3, {{"min.insync.replicas", "2"}});
  std::vector<std::string> acked;
  int n = 0;
  for (int32_t b : c.broker_ids()) {
    for (int i = 0; i < 5; ++i) {
      const std::string v = "v" + std::to_string(n++);
      if (c.produce("t", 0, {v}, -1, 5'000).error == Errc::NONE) acked.push_back(v);
    }
    c.crash(b);
    c.run_for_ms(1'000);
    c.restart(b);
    c.wait_ready(60'000);
    c.run_until([&] { return c.describe_partition("t", 0).isr.size() == 3; }, 60'000);
  }
  REQUIRE(acked.size() >= 10);
  const PartitionDescription d = c.describe_partition("t", 0);
  for (const std::string& v : acked) REQUIRE(has_value(c.log_contents(d.leader, "t", 0), v));
  require_invariants(c);
}

TEST_CASE("controlled shutdown moves leaderships away before the broker stops - a crash does not", "[cluster]") {
  Cluster c(opts(12, 3, 1));
  c.wait_ready();
  c.create_topic("t", 3, 3);
  const auto leads = [&](int32_t b) {
    int n = 0;
    for (const auto& p : c.describe_topic("t")) n += p.leader == b;
    return n;
  };
  const int32_t b = c.describe_partition("t", 0).leader;
  REQUIRE(leads(b) >= 1);
  REQUIRE(c.shutdown(b));
  REQUIRE(leads(b) == 0);                             // moved before it stopped ...
  REQUIRE(c.node(b) == nullptr);                      // ... and then it stopped
  REQUIRE(c.all_partitions_led("t"));                 // nothing went offline
  c.restart(b);
  REQUIRE(c.run_until([&] { return c.converged(); }, 60'000));
  c.elect_leaders(false);                             // preferred leaders back
  const int32_t d = c.describe_partition("t", 0).leader;
  c.crash(d);
  REQUIRE(c.describe_partition("t", 0).leader == d);  // a crash moves nothing until the session times out
  c.restart(d);
  REQUIRE(c.run_until([&] { return c.converged(); }, 60'000));
  REQUIRE(c.rolling_restart());
  REQUIRE(c.converged());
}

TEST_CASE("KIP-966: a cleanly stopped broker stays an eligible leader replica - a crashed one does not", "[cluster]") {
  for (bool crash : {false, true}) {
    INFO("crash=" << crash);
    // Brokers are the first nodes: broker 2's disk is node 1's.
    Cluster c(opts(13, 3, 1, {{"replica.lag.time.max.ms", "2000"}, {"min.insync.replicas", "2"}}));
    c.wait_ready();
    c.create_topic("t", -1, -1, {}, {{1, 2, 3}});
    REQUIRE(c.produce("t", 0, {"committed"}, -1).error == Errc::NONE);
    c.crash(3);
    REQUIRE(c.run_until([&] { return !in_isr(c, "t", 3); }, 30'000));
    if (crash) {
      c.crash(2);
    } else {
      REQUIRE(c.shutdown(2));
      REQUIRE(c.world().disk(sim::NodeId{1}).exists("data/.kafka_cleanshutdown"));
    }
    REQUIRE(c.run_until([&] { return c.describe_partition("t", 0).isr == std::vector<int32_t>{1}; }, 30'000));
    REQUIRE(c.describe_partition("t", 0).elr == std::vector<int32_t>{2});
    c.crash(1);
    c.restart(2);
    c.run_for_ms(20'000);
    REQUIRE_FALSE(c.world().disk(sim::NodeId{1}).exists("data/.kafka_cleanshutdown"));  // read once, then gone
    const PartitionDescription p = c.describe_partition("t", 0);
    if (crash) {
      REQUIRE(p.leader == -1);  // 2 may have lost unflushed records: out of the ELR, waiting for 1
      REQUIRE(p.elr == std::vector<int32_t>{1});
      REQUIRE(p.last_known_elr == std::vector<int32_t>{1});
    } else {
      REQUIRE(p.leader == 2);  // elected cleanly from the ELR
      REQUIRE(has_value(c.log_contents(2, "t", 0), "committed"));
    }
  }
}

TEST_CASE("a restarted broker refuses connections until it has caught up with the metadata log", "[cluster]") {
  Cluster c(opts(14, 3, 1));
  c.wait_ready();
  c.create_topic("t", 1, 3);
  const sim::NodeId client = c.add_client_node("probe");
  sim::Network& net = c.world().network();
  auto metadata_call = [&] {
    std::optional<sim::CallStatus> status;
    const sim::CallId id = net.call(client, sim::NodeId{1}, net.kind("Metadata"),
                                    sim::make_payload(protocol::MetadataRequest{}), 64, sim::seconds(30));
    net.on_reply(id, [&](const sim::Reply& r) { status = r.status; });
    c.run_until([&] { return status.has_value(); }, 31'000);
    return status;
  };
  REQUIRE(metadata_call() == sim::CallStatus::ok);
  c.crash(2);
  c.restart(2);
  // Its old session is still current: it cannot register, so it has no metadata to answer from.
  REQUIRE(metadata_call() == sim::CallStatus::refused);
  REQUIRE(c.run_until([&] { return c.ready(); }, 30'000));
  REQUIRE(metadata_call() == sim::CallStatus::ok);
}

TEST_CASE("add partitions: a topic grows - the new partitions are led and writable - it never shrinks", "[cluster]") {
  Cluster c(opts(13, 3, 1));
  c.wait_ready();
  c.create_topic("t", 2, 3);
  c.create_partitions("t", 5);
  const auto parts = c.describe_topic("t");
  REQUIRE(parts.size() == 5);
  REQUIRE(parts[4].replicas.size() == 3);
  REQUIRE(c.all_partitions_led("t"));
  REQUIRE(c.produce("t", 4, {"new"}, -1).error == Errc::NONE);
  REQUIRE_THROWS_WITH(c.create_partitions("t", 3), Catch::Contains("INVALID_PARTITIONS"));
  REQUIRE_THROWS_WITH(c.create_partitions("nope", 3), Catch::Contains("UNKNOWN_TOPIC_OR_PARTITION"));
}

TEST_CASE("auto leader rebalance: leadership goes back to the preferred replica one check interval later", "[cluster][controller]") {
  for (const bool enabled : {true, false}) {
    INFO("auto.leader.rebalance.enable=" << enabled);
    Cluster c(opts(21, 3, 1, {{"auto.leader.rebalance.enable", enabled ? "true" : "false"},
                              {"leader.imbalance.check.interval.seconds", "30"}}));
    c.wait_ready();
    c.create_topic("t", -1, -1, {}, {{1, 2, 3}});
    c.wait_for_leader("t", 0);
    REQUIRE(c.describe_partition("t", 0).leader == 1);
    c.crash(1);
    REQUIRE(c.run_until([&] { return c.describe_partition("t", 0).leader == 2; }, 30'000));
    c.restart(1);
    REQUIRE(c.run_until([&] { return in_isr(c, "t", 1); }, 30'000));
    const int64_t back_in_isr_ms = c.now_ms();
    REQUIRE(c.describe_partition("t", 0).leader == 2);  // back in the ISR, not yet leading
    c.run_until([&] { return c.describe_partition("t", 0).leader == 1; }, 60'000);
    if (enabled) {
      REQUIRE(c.describe_partition("t", 0).leader == 1);
      // Noticed when 2 took over, so no later than one interval after that.
      REQUIRE(c.now_ms() - back_in_isr_ms <= 30'000);
    } else {
      REQUIRE(c.describe_partition("t", 0).leader == 2);
    }
    require_invariants(c);
  }
}

TEST_CASE("controlled.shutdown.enable=false: a stopping broker keeps its leaderships until the controller fences it", "[cluster]") {
  Cluster c(opts(22, 3, 1, {{"controlled.shutdown.enable", "false"}, {"broker.session.timeout.ms", "9000"}}));
  c.wait_ready();
  c.create_topic("t", -1, -1, {}, {{1, 2, 3}});
  c.wait_for_leader("t", 0);
  REQUIRE(c.produce("t", 0, {"before"}, -1).error == Errc::NONE);
  const int64_t stopped_ms = c.now_ms();
  REQUIRE(c.shutdown(1));
  REQUIRE(c.node(1) == nullptr);
  REQUIRE(c.describe_partition("t", 0).leader == 1);  // nothing moved before it stopped
  REQUIRE(c.run_until([&] { return c.describe_partition("t", 0).leader == 2; }, 30'000));
  // Fenced 9 s after its last heartbeat, which was at most 2 s before it stopped.
  REQUIRE(c.now_ms() - stopped_ms >= 7'000);
  c.restart(1);
  REQUIRE(c.run_until([&] { return in_isr(c, "t", 1); }, 30'000));
  require_invariants(c);
}

TEST_CASE("retention deletes old segments on every replica and the log start moves on all of them", "[cluster][storage]") {
  Cluster c(opts(23, 3, 1, {{"log.retention.check.interval.ms", "5000"}}));
  c.wait_ready();
  c.create_topic("t", -1, -1, {{"segment.ms", "10000"}, {"retention.ms", "30000"}}, {{1, 2, 3}});
  c.wait_for_leader("t", 0);
  for (int i = 0; i < 90; ++i) {
    REQUIRE(c.produce("t", 0, {"r" + std::to_string(i)}, -1).error == Errc::NONE);
    c.run_for_ms(1'000);
  }
  c.run_for_ms(10'000);
  const PartitionDescription d = c.describe_partition("t", 0);
  const Offset leader_start = d.replica_states.front().log_start_offset;
  // ~90 s of records, 30 s kept: the oldest segments are gone, the newest 30 s are not.
  REQUIRE(leader_start.value >= 40);
  REQUIRE(leader_start.value <= 70);
  for (const ReplicaDescription& r : d.replica_states) REQUIRE(r.log_start_offset == leader_start);
  // The leader's log now begins at its log start: the records below are gone.
  REQUIRE(c.log_contents(d.leader, "t", 0).front().first == leader_start.value);
  require_invariants(c);
}

TEST_CASE("an altered retention.ms applies to the live logs at the next retention pass", "[cluster][storage]") {
  Cluster c(opts(25, 3, 1, {{"log.retention.check.interval.ms", "5000"}}));
  c.wait_ready();
  c.create_topic("t", -1, -1, {{"segment.ms", "10000"}}, {{1, 2, 3}});
  c.wait_for_leader("t", 0);
  for (int i = 0; i < 60; ++i) {
    REQUIRE(c.produce("t", 0, {"r" + std::to_string(i)}, -1).error == Errc::NONE);
    c.run_for_ms(1'000);
  }
  REQUIRE(c.describe_partition("t", 0).replica_states.front().log_start_offset == Offset{0});  // 7 days kept
  c.alter_topic_config("t", "retention.ms", "20000");
  c.run_for_ms(10'000);
  for (const ReplicaDescription& r : c.describe_partition("t", 0).replica_states) REQUIRE(r.log_start_offset.value >= 30);
  c.alter_topic_config("t", "retention.ms", std::nullopt);  // back to the broker default: nothing more goes
  const Offset start = c.describe_partition("t", 0).replica_states.front().log_start_offset;
  c.run_for_ms(60'000);
  REQUIRE(c.describe_partition("t", 0).replica_states.front().log_start_offset == start);
}

TEST_CASE("a follower batch read beside its leader twin decodes as it would alone - a corrupted one ends the walk",
          "[cluster][check]") {
  Cluster c(opts(31, 3));
  c.wait_ready();
  c.create_topic("t", 1, 3, {{"flush.messages", "1"}});  // synced: the corruption reaches the platter too
  for (int i = 0; i < 5; ++i) REQUIRE(c.produce("t", 0, {"r" + std::to_string(i)}, -1).error == Errc::NONE);
  c.run_for_ms(2'000);
  const PartitionDescription d = c.describe_partition("t", 0);
  const int32_t f = follower_of(d, 0);
  auto log_of = [&](int32_t b) -> const storage::UnifiedLog& {
    return c.node(b)->broker()->replica_manager().get({"t", 0})->log();
  };
  sim::Disk& leader_disk = c.world().disk(sim_node_of(d.leader));
  sim::Disk& follower_disk = c.world().disk(sim_node_of(f));
  // The invariant check's lockstep: each follower batch read with the leader's as its twin (or not).
  auto walk = [&](bool twins) {
    std::vector<std::pair<int64_t, uint32_t>> seen;
    LogBatchCursor leader(leader_disk, log_of(d.leader)), follower(follower_disk, log_of(f));
    while (const storage::BatchPtr a = leader.next()) {
      const storage::BatchPtr b = follower.next(twins ? a.get() : nullptr);
      if (!b) break;
      seen.emplace_back(b->base_offset().value, b->crc());
    }
    return seen;
  };
  REQUIRE(walk(true).size() == 5);
  REQUIRE(walk(true) == walk(false));
  // A flipped byte in the third batch's records: its bytes no longer match the
  // twin, so it is decoded in full, fails its CRC, and the walk ends there.
  const std::vector<storage::BatchPtr> batches = peek_batches(leader_disk, log_of(d.leader));
  const uint64_t third = batches[0]->size_in_bytes() + batches[1]->size_in_bytes();
  follower_disk.corrupt(storage::LogSegment::file_stem(log_of(f).dir(), Offset{0}) + ".log",
                        third + storage::RecordBatch::kHeaderSize + 2, 1);
  REQUIRE(walk(true).size() == 2);
  REQUIRE(walk(true) == walk(false));
}
