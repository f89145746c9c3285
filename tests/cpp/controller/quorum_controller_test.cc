// The active controller's decisions, as stories.
#include <catch2/catch.hpp>

#include "engine/controller/quorum_controller.h"

using namespace ksim;
using sim::Instant;
using sim::milliseconds;

namespace {

// An active controller whose proposals commit at once (Raft is tested elsewhere).
struct Ctl {
  QuorumController qc;
  int64_t log_end = 0;
  Instant now{};
  std::map<int32_t, int64_t> epochs;

  explicit Ctl(Config::Map cfg = {}) : qc(Config::parse(kBroker, cfg), sim::Rng(1)) { qc.activate(now); }
  // One operation = one log entry: its records share an offset.
  void commit(const std::vector<MetadataRecord>& recs) {
    if (recs.empty()) return;
    for (const auto& r : recs) qc.replay(r, log_end);
    qc.prepare(++log_end);
  }
  void advance(int64_t ms) { now = now + milliseconds(ms); }
  void join(int32_t b) {
    auto r = qc.register_broker(b, 1, now);
    REQUIRE(r.error == Errc::NONE);
    epochs[b] = log_end;
    commit(r.records);
    heartbeat(b);
  }
  HeartbeatReply heartbeat(int32_t b, bool shut_down = false) {
    HeartbeatReply h = qc.heartbeat(b, epochs[b], log_end - 1, shut_down, now);
    commit(h.records);
    return h;
  }
  const PartitionRegistration& part(const std::string& t, int32_t p) { return *qc.image().partition(t, p); }
  void create(const std::string& name, int32_t partitions, int32_t rf, Config::Map cfg = {}) {
    auto r = qc.create_topic(TopicSpec{name, partitions, rf, {}, cfg});
    REQUIRE(r.error == Errc::NONE);
    commit(r.records);
  }
};

}  // namespace

TEST_CASE("brokers register fenced and are unfenced once caught up", "[controller]") {
  Ctl c;
  auto r = c.qc.register_broker(1, 7, c.now);
  c.commit(r.records);
  REQUIRE(c.qc.image().broker(1)->fenced);
  REQUIRE(c.qc.image().broker(1)->epoch == 0);  // the offset of its registration
  HeartbeatReply behind = c.qc.heartbeat(1, 0, -1, false, c.now);  // has not replayed its registration yet
  REQUIRE(behind.fenced);
  HeartbeatReply h = c.qc.heartbeat(1, 0, 0, false, c.now);
  c.commit(h.records);
  REQUIRE_FALSE(h.fenced);
  REQUIRE(c.qc.committed().usable(1));
  REQUIRE(c.qc.heartbeat(1, 99, 1, false, c.now).error == Errc::STALE_BROKER_EPOCH);
}

TEST_CASE("a broker that misses heartbeats for broker.session.timeout.ms is fenced and its leaderships move",
          "[controller]") {
  Ctl c;
  for (int b = 1; b <= 3; ++b) c.join(b);
  c.create("orders", 3, 3);
  int32_t victim = c.part("orders", 0).leader;
  for (int step = 0; step < 5; ++step) {  // 10 s: everyone but the victim heartbeats
    c.advance(2000);
    for (int b = 1; b <= 3; ++b)
      if (b != victim) c.heartbeat(b);
    c.commit(c.qc.tick(c.now).records);
  }
  REQUIRE(c.qc.image().broker(victim)->fenced);
  for (int p = 0; p < 3; ++p) {
    REQUIRE(c.part("orders", p).leader != victim);
    REQUIRE_FALSE(c.part("orders", p).in_isr(victim));
    REQUIRE(c.part("orders", p).isr.size() == 2);
  }
  REQUIRE(c.qc.committed() == c.qc.image());
}

TEST_CASE("controlled shutdown moves leaderships before the broker may stop", "[controller]") {
  Ctl c;
  for (int b = 1; b <= 3; ++b) c.join(b);
  c.create("t", 6, 3);
  HeartbeatReply h = c.heartbeat(2, /*shut_down=*/true);
  REQUIRE(h.should_shut_down);
  for (int p = 0; p < 6; ++p) {
    REQUIRE(c.part("t", p).leader != 2);
    REQUIRE_FALSE(c.part("t", p).in_isr(2));
  }
  REQUIRE(c.qc.image().broker(2)->fenced);  // Kafka's SHUTDOWN_NOW ends the session ...
  REQUIRE(c.qc.register_broker(2, /*incarnation=*/2, c.now).error == Errc::NONE);  // ... so a restart registers at once
}

TEST_CASE("a new process under a broker id whose session is current is refused until the session expires",
          "[controller]") {
  Ctl c;
  for (int b = 1; b <= 3; ++b) c.join(b);
  // Broker 3 crashed and restarted at once: its old incarnation still has a session.
  REQUIRE(c.qc.register_broker(3, /*incarnation=*/2, c.now).error == Errc::DUPLICATE_BROKER_REGISTRATION);
  REQUIRE(c.qc.register_broker(3, /*incarnation=*/1, c.now).error == Errc::NONE);  // the same process may amend
  c.advance(10'000);  // past broker.session.timeout.ms (9 s): fenced
  for (int b = 1; b <= 2; ++b) c.heartbeat(b);
  c.commit(c.qc.tick(c.now).records);
  REQUIRE(c.qc.image().broker(3)->fenced);
  REQUIRE(c.qc.register_broker(3, /*incarnation=*/2, c.now).error == Errc::NONE);
}

TEST_CASE("a re-registered broker rejoins and an offline partition comes back", "[controller]") {
  Ctl c(Config::Map{{"ksim.eligible.leader.replicas", "false"}});
  for (int b = 1; b <= 2; ++b) c.join(b);
  auto r = c.qc.create_topic(TopicSpec{"solo", 1, -1, {{1}}, {}});
  c.commit(r.records);
  REQUIRE(c.part("solo", 0).leader == 1);
  c.advance(10'000);
  c.heartbeat(2);
  c.commit(c.qc.tick(c.now).records);
  REQUIRE(c.part("solo", 0).leader == -1);  // offline: its only replica is gone
  REQUIRE(c.part("solo", 0).isr == std::vector<int32_t>{1});
  c.join(1);  // restarted broker: new registration, catches up
  REQUIRE(c.part("solo", 0).leader == 1);
  REQUIRE(c.part("solo", 0).leader_epoch == 2);
}

namespace {

// RF=3, min.insync.replicas=2: brokers 3 and 2 fenced in turn, so the ISR is
// {1} and broker 2 is an Eligible Leader Replica; then 2 registers again as a
// new process (incarnation 2) presenting `proof` from its clean-shutdown file:
// "clean" (the epoch it was registered with), "none" (-1) or "stale" (another).
std::vector<int32_t> elr_after_reregistration(const std::string& proof, uint64_t incarnation = 2) {
  Ctl c(Config::Map{{"min.insync.replicas", "2"}});
  for (int32_t b : {1, 2, 3}) c.join(b);
  auto t = c.qc.create_topic(TopicSpec{"t", -1, -1, {{1, 2, 3}}, {}});
  REQUIRE(t.error == Errc::NONE);
  c.commit(t.records);
  for (int32_t victim : {3, 2}) {
    c.advance(3'000);
    for (int32_t b : {1, 2})
      if (b < victim) c.heartbeat(b);
    c.advance(7'000);  // the victim's last heartbeat is now past broker.session.timeout.ms
    for (int32_t b : {1, 2})
      if (b < victim) c.heartbeat(b);
    c.commit(c.qc.tick(c.now).records);
  }
  REQUIRE(c.part("t", 0).isr == std::vector<int32_t>{1});
  REQUIRE(c.part("t", 0).elr == std::vector<int32_t>{2});
  const int64_t registered = c.qc.image().broker(2)->epoch;
  const int64_t previous = proof == "clean" ? registered : proof == "stale" ? registered + 1 : -1;
  auto r = c.qc.register_broker(2, incarnation, c.now, previous);
  REQUIRE(r.error == Errc::NONE);
  c.commit(r.records);
  return c.part("t", 0).elr;
}

}  // namespace

TEST_CASE("KIP-966: a broker that proves a clean shutdown stays eligible and one that cannot leaves the ELR",
          "[controller]") {
  REQUIRE(elr_after_reregistration("clean") == std::vector<int32_t>{2});
  REQUIRE(elr_after_reregistration("none").empty());   // no clean-shutdown file: a crash or a power failure
  REQUIRE(elr_after_reregistration("stale").empty());  // a file from another registration proves nothing
  REQUIRE(elr_after_reregistration("none", /*incarnation=*/1) == std::vector<int32_t>{2});  // same process: amends
}

TEST_CASE("AlterPartition is fenced by leader epoch - partition epoch and eligibility", "[controller]") {
  Ctl c;
  for (int b = 1; b <= 3; ++b) c.join(b);
  c.create("t", 1, 3);
  const PartitionRegistration p = c.part("t", 0);
  const int32_t l = p.leader;
  std::vector<int32_t> shrunk;
  for (int32_t m : p.isr)
    if (m == l || shrunk.size() < 1) shrunk.push_back(m);
  if (std::find(shrunk.begin(), shrunk.end(), l) == shrunk.end()) shrunk.push_back(l);
  REQUIRE(c.qc.alter_partition(l, c.epochs[l], "t", 0, p.leader_epoch + 1, p.partition_epoch, shrunk).error ==
          Errc::FENCED_LEADER_EPOCH);
  REQUIRE(c.qc.alter_partition(l, c.epochs[l], "t", 0, p.leader_epoch, p.partition_epoch + 1, shrunk).error ==
          Errc::INVALID_UPDATE_VERSION);
  const int32_t other = p.isr[0] == l ? p.isr[1] : p.isr[0];
  REQUIRE(c.qc.alter_partition(other, c.epochs[other], "t", 0, p.leader_epoch, p.partition_epoch, shrunk).error ==
          Errc::NOT_LEADER_OR_FOLLOWER);
  AlterPartitionReply ok = c.qc.alter_partition(l, c.epochs[l], "t", 0, p.leader_epoch, p.partition_epoch, {l});
  REQUIRE(ok.error == Errc::NONE);
  REQUIRE(ok.isr == std::vector<int32_t>{l});
  REQUIRE(ok.partition_epoch == p.partition_epoch + 1);
  c.commit(ok.records);
  // A stale request (old partition epoch) after the change is rejected.
  REQUIRE(c.qc.alter_partition(l, c.epochs[l], "t", 0, p.leader_epoch, p.partition_epoch, p.isr).error ==
          Errc::INVALID_UPDATE_VERSION);
}

TEST_CASE("create topic validates like Kafka", "[controller]") {
  Ctl c;
  for (int b = 1; b <= 2; ++b) c.join(b);
  REQUIRE(c.qc.create_topic(TopicSpec{"t", 1, 3, {}, {}}).error == Errc::INVALID_REPLICATION_FACTOR);
  REQUIRE(c.qc.create_topic(TopicSpec{"bad name", 1, 1, {}, {}}).error == Errc::INVALID_TOPIC_EXCEPTION);
  REQUIRE(c.qc.create_topic(TopicSpec{"t", 1, 1, {}, {{"min.insync.replicas", "zero"}}}).error == Errc::INVALID_CONFIG);
  REQUIRE(c.qc.create_topic(TopicSpec{"t", 0, 1, {}, {}}).error == Errc::INVALID_PARTITIONS);
  c.create("t", 2, 2, {{"min.insync.replicas", "2"}});
  REQUIRE(c.qc.create_topic(TopicSpec{"t", 1, 1, {}, {}}).error == Errc::TOPIC_ALREADY_EXISTS);
  REQUIRE(c.qc.topic_config("t").get_int("min.insync.replicas") == 2);
  REQUIRE(c.qc.create_topic(TopicSpec{"u", -1, -1, {{1, 9}}, {}}).error == Errc::INVALID_REPLICA_ASSIGNMENT);
}

TEST_CASE("enabling unclean election on an offline topic elects a live replica", "[controller]") {
  Ctl c(Config::Map{{"ksim.eligible.leader.replicas", "false"}});
  for (int b = 1; b <= 3; ++b) c.join(b);
  auto r = c.qc.create_topic(TopicSpec{"t", -1, -1, {{1, 2, 3}}, {}});
  c.commit(r.records);
  AlterPartitionReply shrink = c.qc.alter_partition(1, c.epochs[1], "t", 0, 0, 0, {1});  // 2 and 3 fell behind
  c.commit(shrink.records);
  c.advance(10'000);
  c.heartbeat(2);
  c.heartbeat(3);
  c.commit(c.qc.tick(c.now).records);
  REQUIRE(c.part("t", 0).leader == -1);
  auto cfg = c.qc.alter_config("topic:t", "unclean.leader.election.enable", "true");
  REQUIRE(cfg.error == Errc::NONE);
  c.commit(cfg.records);
  REQUIRE(c.part("t", 0).leader == 2);
  REQUIRE(c.qc.image().unclean_elections() == 1);
}

TEST_CASE("a new active controller starts from the committed image", "[controller]") {
  Ctl c;
  for (int b = 1; b <= 3; ++b) c.join(b);
  auto uncommitted = c.qc.create_topic(TopicSpec{"lost", 1, 1, {}, {}});
  REQUIRE(c.qc.image().topic("lost"));
  c.qc.deactivate();
  c.qc.activate(c.now);  // its proposal never committed
  REQUIRE_FALSE(c.qc.image().topic("lost"));
  REQUIRE(c.qc.create_topic(TopicSpec{"lost", 1, 1, {}, {}}).error == Errc::NONE);
}
