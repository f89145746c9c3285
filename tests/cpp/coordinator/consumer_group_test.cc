// Consumer (KIP-848) groups at the coordinator, spoken by hand: raw
// ConsumerGroupHeartbeats with chosen member epochs and owned partitions, so
// each story can stop between "the coordinator asked a member to revoke" and
// "the member said it did". What the stories protect:
//   * revoke first, then assign: a partition pending revocation goes to
//     nobody until its owner's heartbeat no longer lists it (UNRELEASED_PARTITIONS
//     for the new owner meanwhile), and the old owner's epoch moves to the
//     target epoch only then;
//   * the KAFKA-16147 switch hands it over at once (the bug, shown firing);
//   * fencing: a wrong epoch is FENCED_MEMBER_EPOCH, a stale commit
//     STALE_MEMBER_EPOCH, a fenced member starts over at epoch 0;
//   * the group's epochs survive a coordinator failover (__consumer_offsets);
//   * leaving (-1, static -2), and the classic <-> consumer conversion of an
//     empty group;
//   * server-side regexes (SubscribedTopicRegex): resolved by the coordinator,
//     a matching topic created later moves the group epoch, internal topics
//     never match, a bad pattern is INVALID_REGULAR_EXPRESSION, the regex and
//     its resolution survive a failover.
#include <catch2/catch.hpp>

#include <set>

#include "engine/clients/consumer_protocol.h"
#include "tests/cpp/coordinator/group_test_util.h"

using namespace ksim;
using namespace ksim::test;
using coordinator::GroupDescription;

namespace {

using Parts = std::set<TopicPartition>;

Parts parts_of(const std::optional<std::vector<TopicPartition>>& v) {
  return v ? Parts(v->begin(), v->end()) : Parts{};
}

// A consumer-protocol member speaking ConsumerGroupHeartbeat by hand.
struct RawConsumer {
  RawMember raw;  // its node, group and coordinator lookup
  std::string member_id;
  int32_t epoch = 0;
  Parts owned;  // what it says it owns in its next heartbeat

  RawConsumer(Cluster& c, const std::string& name, const std::string& group, std::string id)
      : raw(c, name, group), member_id(std::move(id)) {
    raw.find_coordinator();
  }

  protocol::ConsumerGroupHeartbeatResponse send_hb(protocol::ConsumerGroupHeartbeatRequest r) {
    r.group_id = raw.group;
    r.member_id = member_id;
    for (int i = 0; i < 100; ++i) {
      auto resp = wait(raw.c, send<protocol::ConsumerGroupHeartbeatResponse>(raw.c, raw.node, raw.coordinator,
                                                                              "ConsumerGroupHeartbeat", r));
      if (resp.error == Errc::COORDINATOR_LOAD_IN_PROGRESS || resp.error == Errc::COORDINATOR_NOT_AVAILABLE) {
        raw.c.run_for_ms(100);
        continue;
      }
      if (resp.error == Errc::NOT_COORDINATOR) {
        raw.c.run_for_ms(100);
        raw.find_coordinator(raw.coordinator == 1 ? 2 : 1);
        continue;
      }
      return resp;
    }
    FAIL("ConsumerGroupHeartbeat never answered");
    return {};
  }
  // Joins (epoch 0) with a subscription; takes the answer.
  protocol::ConsumerGroupHeartbeatResponse join(std::vector<std::string> topics = {"t"},
                                                std::optional<std::string> instance = std::nullopt) {
    protocol::ConsumerGroupHeartbeatRequest r;
    r.member_epoch = 0;
    r.instance_id = std::move(instance);
    r.rebalance_timeout_ms = 60'000;
    r.subscribed_topic_names = std::move(topics);
    r.topic_partitions = std::vector<TopicPartition>{};
    return take(send_hb(r));
  }
  // Joins with a regex the coordinator resolves (KIP-848's SubscribedTopicRegex).
  protocol::ConsumerGroupHeartbeatResponse join_regex(const std::string& regex) {
    protocol::ConsumerGroupHeartbeatRequest r;
    r.member_epoch = 0;
    r.rebalance_timeout_ms = 60'000;
    r.subscribed_topic_regex = regex;
    r.topic_partitions = std::vector<TopicPartition>{};
    return take(send_hb(r));
  }
  // Heartbeats with its epoch and what it owns; takes the answer.
  protocol::ConsumerGroupHeartbeatResponse heartbeat() { return take(heartbeat_at(epoch)); }
  protocol::ConsumerGroupHeartbeatResponse heartbeat_at(int32_t e) {
    protocol::ConsumerGroupHeartbeatRequest r;
    r.member_epoch = e;
    r.topic_partitions = std::vector<TopicPartition>(owned.begin(), owned.end());
    return send_hb(r);
  }
  protocol::ConsumerGroupHeartbeatResponse leave(int32_t e) {
    protocol::ConsumerGroupHeartbeatRequest r;
    r.member_epoch = e;
    if (e == -2) r.instance_id = "instance-" + member_id;
    return send_hb(r);
  }
  // A well-behaved client: takes its epoch, and owns what it was given
  // (revoking at once what it lost — the tests decide when to heartbeat).
  protocol::ConsumerGroupHeartbeatResponse take(protocol::ConsumerGroupHeartbeatResponse r) {
    if (r.error == Errc::NONE) {
      epoch = r.member_epoch;
      if (r.assignment) owned = parts_of(r.assignment);
    }
    return r;
  }
};

bool disjoint(const Parts& a, const Parts& b) {
  for (const TopicPartition& tp : a)
    if (b.count(tp)) return false;
  return true;
}

const coordinator::GroupMemberDescription& member_of(const GroupDescription& d, const std::string& id) {
  for (const auto& m : d.members)
    if (m.member_id == id) return m;
  FAIL("no member " + id);
  return d.members.front();
}

Cluster& ready(Cluster& c, int32_t partitions = 6) {
  c.wait_ready();
  c.create_topic("t", partitions, 3);
  for (int32_t p = 0; p < partitions; ++p) REQUIRE(c.wait_for_leader("t", p) > 0);
  return c;
}

}  // namespace

TEST_CASE("two consumer members share 6 partitions 3 and 3 - the second gets them only after the first revoked",
          "[coordinator][kip848]") {
  Cluster c(group_opts(41, 3));
  ready(c);
  RawConsumer a(c, "consumer-a", "g", "member-a"), b(c, "consumer-b", "g", "member-b");
  auto ra = a.join();
  REQUIRE(ra.error == Errc::NONE);
  CHECK(ra.member_epoch == 1);
  CHECK(ra.heartbeat_interval_ms == 5'000);  // group.consumer.heartbeat.interval.ms
  CHECK(a.owned.size() == 6);

  // B joins: group epoch 2, a new target. B's share is still A's: B waits at
  // the target epoch with nothing (UNRELEASED_PARTITIONS).
  auto rb = b.join();
  REQUIRE(rb.error == Errc::NONE);
  CHECK(rb.member_epoch == 2);
  CHECK(b.owned.empty());
  GroupDescription d = c.describe_group("g");
  CHECK(d.group_protocol == "consumer");
  CHECK(d.group_epoch == 2);
  CHECK(d.assignment_epoch == 2);
  CHECK(member_of(d, "member-b").member_state == "UNRELEASED_PARTITIONS");
  CHECK(member_of(d, "member-b").target.size() == 3);

  // A's heartbeat: keep 3, revoke 3 — A stays at epoch 1 until it says it did.
  const Parts before = a.owned;
  ra = a.heartbeat();
  CHECK(ra.member_epoch == 1);
  CHECK(a.owned.size() == 3);
  const Parts revoking = [&] {
    Parts r;
    for (const auto& tp : before)
      if (!a.owned.count(tp)) r.insert(tp);
    return r;
  }();
  d = c.describe_group("g");
  CHECK(member_of(d, "member-a").member_state == "UNREVOKED_PARTITIONS");
  CHECK(Parts(member_of(d, "member-a").pending_revocation.begin(), member_of(d, "member-a").pending_revocation.end()) ==
        revoking);
  CHECK(d.state == "Reconciling");

  // A has not acknowledged (its heartbeat still lists them): B gets nothing.
  a.owned = before;
  a.heartbeat_at(1);
  a.owned = parts_of(ra.assignment);
  rb = b.heartbeat();
  CHECK(rb.member_epoch == 2);
  CHECK(b.owned.empty());

  // A acknowledges: epoch 2 now. B's next heartbeat gets exactly what A gave up.
  ra = a.heartbeat();
  CHECK(ra.member_epoch == 2);
  rb = b.heartbeat();
  CHECK(rb.member_epoch == 2);
  CHECK(b.owned == revoking);
  CHECK(disjoint(a.owned, b.owned));
  d = c.describe_group("g");
  CHECK(d.state == "Stable");
  CHECK(member_of(d, "member-a").member_epoch == 2);
  CHECK(member_of(d, "member-b").member_state == "STABLE");
  CHECK(c.world().probes().count("group: consumer member waits for unreleased partitions") == 1);
}

TEST_CASE("a third consumer member gets 2 of 6 partitions once both owners revoked one each", "[coordinator][kip848]") {
  Cluster c(group_opts(43, 3));
  ready(c);
  RawConsumer a(c, "consumer-a", "g", "member-a"), b(c, "consumer-b", "g", "member-b"),
      m3(c, "consumer-c", "g", "member-c");
  a.join();
  b.join();
  for (int i = 0; i < 2; ++i) {
    a.heartbeat();
    b.heartbeat();
  }
  REQUIRE(a.owned.size() == 3);
  REQUIRE(b.owned.size() == 3);
  REQUIRE(a.epoch == 2);
  REQUIRE(b.epoch == 2);
  m3.join();
  CHECK(m3.epoch == 3);
  CHECK(m3.owned.empty());
  a.heartbeat();  // revokes one (uniform is sticky: it keeps 2 of its 3)
  CHECK(a.owned.size() == 2);
  CHECK(a.epoch == 2);
  a.heartbeat();  // acknowledged
  CHECK(a.epoch == 3);
  m3.heartbeat();  // A's partition is free, B's not yet
  CHECK(m3.owned.size() == 1);
  CHECK(disjoint(m3.owned, b.owned));
  b.heartbeat();
  b.heartbeat();
  m3.heartbeat();
  CHECK(m3.owned.size() == 2);
  CHECK(a.owned.size() == 2);
  CHECK(b.owned.size() == 2);
  CHECK(disjoint(a.owned, b.owned));
  CHECK(disjoint(a.owned, m3.owned));
  CHECK(disjoint(b.owned, m3.owned));
  const GroupDescription d = c.describe_group("g");
  CHECK(d.group_epoch == 3);
  CHECK(d.assignment_epoch == 3);
  CHECK(d.state == "Stable");
}

TEST_CASE("ksim.consumer.group.pending.revocation=ignore gives a partition pending revocation away at once",
          "[coordinator][kip848]") {
  auto story = [](const std::string& mode) {
    Cluster c(group_opts(47, 3, {{"ksim.consumer.group.pending.revocation", mode}}));
    ready(c);
    RawConsumer a(c, "consumer-a", "g", "member-a"), b(c, "consumer-b", "g", "member-b");
    a.join();
    b.join();
    const Parts a_before = a.owned;
    a.heartbeat();  // told to revoke; has not yet
    b.heartbeat();
    a.owned = a_before;
    return std::make_pair(a_before, b.owned);
  };
  SECTION("fixed (default): nothing for B while A still owns it") {
    auto [a_owned, b_owned] = story("fixed");
    CHECK(a_owned.size() == 6);
    CHECK(b_owned.empty());
  }
  SECTION("ignore (KAFKA-16147): B gets 3 partitions A still owns") {
    auto [a_owned, b_owned] = story("ignore");
    CHECK(b_owned.size() == 3);
    CHECK_FALSE(disjoint(a_owned, b_owned));
  }
}

TEST_CASE("a heartbeat with a wrong epoch is FENCED_MEMBER_EPOCH - the member rejoins at epoch 0",
          "[coordinator][kip848]") {
  Cluster c(group_opts(53, 3));
  ready(c);
  RawConsumer a(c, "consumer-a", "g", "member-a");
  a.join();
  REQUIRE(a.epoch == 1);
  CHECK(a.heartbeat_at(7).error == Errc::FENCED_MEMBER_EPOCH);
  RawConsumer ghost(c, "consumer-x", "g", "member-unknown");
  CHECK(ghost.heartbeat_at(3).error == Errc::UNKNOWN_MEMBER_ID);
  // Fenced: the client gives up what it owned (lost) and joins again with epoch 0, same member id.
  a.owned.clear();
  const auto r = a.join();
  REQUIRE(r.error == Errc::NONE);
  CHECK(r.member_id == "member-a");
  CHECK(r.member_epoch == 2);  // a new group epoch: the member started over
  CHECK(a.owned.size() == 6);
  bool fenced_event = false;
  for (const auto& e : c.history().events())
    if (e.type == check::EventType::member_fenced && e.what == "g" && e.member == "member-a") fenced_event = true;
  CHECK(fenced_event);
}

TEST_CASE("an offset commit with a stale member epoch is STALE_MEMBER_EPOCH", "[coordinator][kip848]") {
  Cluster c(group_opts(59, 3));
  ready(c);
  RawConsumer a(c, "consumer-a", "g", "member-a"), b(c, "consumer-b", "g", "member-b");
  a.join();
  b.join();
  a.heartbeat();
  a.heartbeat();
  REQUIRE(a.epoch == 2);
  const TopicPartition tp = *a.owned.begin();
  CHECK(a.raw.commit(tp, 5, 2, "member-a") == Errc::NONE);
  CHECK(a.raw.commit(tp, 6, 1, "member-a") == Errc::STALE_MEMBER_EPOCH);
  CHECK(a.raw.commit(tp, 7, 2, "member-nobody") == Errc::UNKNOWN_MEMBER_ID);
  CHECK(c.describe_group("g").offsets.at(tp).offset == Offset{5});
}

TEST_CASE("coordinator failover keeps the group epoch - the target and the member epochs", "[coordinator][kip848]") {
  Cluster c(group_opts(61, 3));
  ready(c);
  RawConsumer a(c, "consumer-a", "g", "member-a"), b(c, "consumer-b", "g", "member-b");
  a.join();
  b.join();
  for (int i = 0; i < 2; ++i) {
    a.heartbeat();
    b.heartbeat();
  }
  const GroupDescription before = c.describe_group("g");
  REQUIRE(before.state == "Stable");
  const int32_t old = a.raw.coordinator;
  c.crash(old);
  int32_t now = -1;
  for (int i = 0; i < 200 && (now < 0 || now == old); ++i) {
    now = a.raw.find_coordinator(old == 1 ? 2 : 1);
    if (now == old) c.run_for_ms(200);
  }
  REQUIRE(now != old);
  b.raw.coordinator = now;
  // The new coordinator replayed the group: the members go on at their epochs.
  const Parts a_owned = a.owned;
  auto ra = a.heartbeat();
  REQUIRE(ra.error == Errc::NONE);
  CHECK(ra.member_epoch == 2);
  CHECK(a.owned == a_owned);
  REQUIRE(b.heartbeat().error == Errc::NONE);
  const GroupDescription after = c.describe_group("g");
  CHECK(after.coordinator == now);
  CHECK(after.group_epoch == before.group_epoch);
  CHECK(after.assignment_epoch == before.assignment_epoch);
  CHECK(member_of(after, "member-a").member_epoch == 2);
  CHECK(member_of(after, "member-b").member_epoch == 2);
  CHECK(after.state == "Stable");
}

TEST_CASE("leaving with epoch -1 moves the partitions on - a static member's -2 keeps them for its replacement",
          "[coordinator][kip848]") {
  Cluster c(group_opts(67, 3));
  ready(c);
  RawConsumer a(c, "consumer-a", "g", "member-a"), b(c, "consumer-b", "g", "member-b");
  a.join({"t"}, "instance-member-a");
  b.join();
  for (int i = 0; i < 2; ++i) {
    a.heartbeat();
    b.heartbeat();
  }
  REQUIRE(a.owned.size() == 3);
  const Parts a_owned = a.owned;
  // Static leave: kept (epoch -2) with its assignment, no new group epoch.
  REQUIRE(a.leave(-2).error == Errc::NONE);
  GroupDescription d = c.describe_group("g");
  CHECK(d.group_epoch == 2);
  CHECK(member_of(d, "member-a").member_epoch == -2);
  // Its replacement (a new member id, the same group.instance.id) takes its place and partitions.
  RawConsumer a2(c, "consumer-a2", "g", "member-a2");
  const auto r = a2.join({"t"}, "instance-member-a");
  REQUIRE(r.error == Errc::NONE);
  CHECK(a2.owned == a_owned);
  d = c.describe_group("g");
  CHECK(d.group_epoch == 2);
  CHECK(d.members.size() == 2);
  // A dynamic leave (-1): a new group epoch, B gets everything.
  REQUIRE(a2.leave(-1).error == Errc::NONE);
  CHECK(c.describe_group("g").group_epoch == 3);
  b.heartbeat();
  b.heartbeat();
  CHECK(b.owned.size() == 6);
}

TEST_CASE("an empty classic group becomes a consumer group - and back once its last consumer member left",
          "[coordinator][kip848]") {
  Cluster c(group_opts(71, 3));
  ready(c);
  // A classic group with committed offsets and no members (a simple commit).
  RawMember classic(c, "classic-a", "g");
  Errc e = Errc::NOT_COORDINATOR;
  for (int i = 0; i < 50 && e != Errc::NONE; ++i) {  // until the offsets partition is served
    classic.find_coordinator();
    e = classic.commit({"t", 0}, 9, -1, "");
    if (e != Errc::NONE) c.run_for_ms(200);
  }
  REQUIRE(e == Errc::NONE);
  REQUIRE(c.describe_group("g").group_protocol == "classic");
  // The first consumer-protocol member converts it (offsets kept).
  RawConsumer a(c, "consumer-a", "g", "member-a");
  REQUIRE(a.join().error == Errc::NONE);
  GroupDescription d = c.describe_group("g");
  CHECK(d.group_protocol == "consumer");
  CHECK(d.offsets.at({"t", 0}).offset == Offset{9});
  // A classic JoinGroup whose metadata is not an embedded ConsumerProtocol
  // subscription cannot join a consumer group that has members (a real
  // consumer's would: see the online-migration stories).
  CHECK(wait(c, classic.join_async()).error == Errc::INCONSISTENT_GROUP_PROTOCOL);
  // The last consumer member leaves: the next classic member converts it back.
  REQUIRE(a.leave(-1).error == Errc::NONE);
  auto call = classic.start_join();
  c.run_until([&] { return call.done(); }, 30'000);
  REQUIRE(call.done());
  CHECK(call.get().error == Errc::NONE);
  d = c.describe_group("g");
  CHECK(d.group_protocol == "classic");
  CHECK(d.offsets.at({"t", 0}).offset == Offset{9});
}

namespace {

std::set<std::string> topics_of(const Parts& ps) {
  std::set<std::string> out;
  for (const TopicPartition& tp : ps) out.insert(tp.topic);
  return out;
}

void create_ready(Cluster& c, const std::string& topic, int32_t partitions) {
  c.create_topic(topic, partitions, 3);
  for (int32_t p = 0; p < partitions; ++p) REQUIRE(c.wait_for_leader(topic, p) > 0);
}

// Waits out Kafka 4.0's REGEX_BATCH_REFRESH_INTERVAL_MS (10 s) while the member
// heartbeats as a live client would (well within its session).
void heartbeat_through_refresh_interval(RawConsumer& m, Cluster& c) {
  for (int i = 0; i < 3; ++i) {
    c.run_for_ms(4'000);
    REQUIRE(m.heartbeat().error == Errc::NONE);
  }
}

}  // namespace

TEST_CASE("a regex member is assigned the matching topics - a matching topic created later joins its assignment",
          "[coordinator][kip848][regex]") {
  Cluster c(group_opts(73, 3));
  c.wait_ready();
  create_ready(c, "orders-eu", 2);
  create_ready(c, "orders-us", 2);
  create_ready(c, "audit", 2);
  RawConsumer a(c, "consumer-a", "g", "member-a");
  auto r = a.join_regex("orders-.*");
  REQUIRE(r.error == Errc::NONE);
  CHECK(r.member_epoch == 1);
  CHECK(topics_of(a.owned) == std::set<std::string>{"orders-eu", "orders-us"});
  CHECK(a.owned.size() == 4);
  GroupDescription d = c.describe_group("g");
  CHECK(member_of(d, "member-a").subscribed_topic_regex == "orders-.*");
  CHECK(member_of(d, "member-a").subscription == std::vector<std::string>{"orders-eu", "orders-us"});

  // A topic that matches appears: at the first heartbeat after the batch
  // interval the regex resolves to it, the group epoch moves, and it is assigned.
  create_ready(c, "orders-asia", 2);
  heartbeat_through_refresh_interval(a, c);
  a.heartbeat();
  CHECK(a.epoch == 2);
  CHECK(topics_of(a.owned) == std::set<std::string>{"orders-asia", "orders-eu", "orders-us"});
  CHECK(a.owned.size() == 6);
  d = c.describe_group("g");
  CHECK(d.group_epoch == 2);
  CHECK(c.world().probes().count("group: consumer regex resolved to other topics") == 1);

  // A topic that does not match changes nothing.
  create_ready(c, "payments", 2);
  heartbeat_through_refresh_interval(a, c);
  CHECK(c.describe_group("g").group_epoch == 2);
}

TEST_CASE("a regex that matches everything never matches the internal topics", "[coordinator][kip848][regex]") {
  Cluster c(group_opts(79, 3));
  ready(c, 3);
  RawConsumer a(c, "consumer-a", "g", "member-a");
  REQUIRE(a.join_regex(".*").error == Errc::NONE);  // __consumer_offsets exists: the group lives there
  CHECK(topics_of(a.owned) == std::set<std::string>{"t"});
  CHECK(member_of(c.describe_group("g"), "member-a").subscription == std::vector<std::string>{"t"});
}

TEST_CASE("a regex that does not compile is INVALID_REGULAR_EXPRESSION - and the member is not added",
          "[coordinator][kip848][regex]") {
  Cluster c(group_opts(83, 3));
  ready(c, 3);
  RawConsumer a(c, "consumer-a", "g", "member-a");
  const auto r = a.join_regex("orders-[");
  CHECK(r.error == Errc::INVALID_REGULAR_EXPRESSION);
  CHECK(r.error_message.find("orders-[") != std::string::npos);
  CHECK(c.describe_group("g").members.empty());
  // A join with neither topic names nor a regex is not a join.
  protocol::ConsumerGroupHeartbeatRequest bare;
  bare.member_epoch = 0;
  bare.rebalance_timeout_ms = 60'000;
  bare.topic_partitions = std::vector<TopicPartition>{};
  CHECK(a.send_hb(bare).error == Errc::INVALID_REQUEST);
}

TEST_CASE("a member that switches from topic names to a regex gets a new group epoch and the regex topics",
          "[coordinator][kip848][regex]") {
  Cluster c(group_opts(89, 3));
  ready(c, 2);
  create_ready(c, "logs-a", 2);
  RawConsumer a(c, "consumer-a", "g", "member-a");
  REQUIRE(a.join({"t"}).error == Errc::NONE);
  REQUIRE(topics_of(a.owned) == std::set<std::string>{"t"});
  protocol::ConsumerGroupHeartbeatRequest r;
  r.member_epoch = a.epoch;
  r.subscribed_topic_names = std::vector<std::string>{};
  r.subscribed_topic_regex = "logs-.*";
  r.topic_partitions = std::vector<TopicPartition>(a.owned.begin(), a.owned.end());
  a.take(a.send_hb(r));
  a.owned.clear();  // revoked what it was told to revoke
  for (int i = 0; i < 2; ++i) a.heartbeat();
  CHECK(a.epoch == 2);
  CHECK(topics_of(a.owned) == std::set<std::string>{"logs-a"});
}

TEST_CASE("coordinator failover keeps a member's regex and what it resolved to", "[coordinator][kip848][regex]") {
  Cluster c(group_opts(97, 3));
  c.wait_ready();
  create_ready(c, "orders-eu", 2);
  create_ready(c, "orders-us", 2);
  RawConsumer a(c, "consumer-a", "g", "member-a");
  REQUIRE(a.join_regex("orders-.*").error == Errc::NONE);
  const Parts owned = a.owned;
  const int32_t old = a.raw.coordinator;
  c.crash(old);
  int32_t now = -1;
  for (int i = 0; i < 200 && (now < 0 || now == old); ++i) {
    now = a.raw.find_coordinator(old == 1 ? 2 : 1);
    if (now == old) c.run_for_ms(200);
  }
  REQUIRE(now != old);
  const GroupDescription d = c.describe_group("g");
  REQUIRE(d.coordinator == now);
  CHECK(member_of(d, "member-a").subscribed_topic_regex == "orders-.*");
  CHECK(member_of(d, "member-a").subscription == std::vector<std::string>{"orders-eu", "orders-us"});
  auto r = a.heartbeat();
  REQUIRE(r.error == Errc::NONE);
  CHECK(r.member_epoch == 1);
  CHECK(a.owned == owned);
}

// ---- online migration (KIP-848 upgrade / downgrade) ---------------------------------------------------

namespace {

// A classic consumer speaking JoinGroup / SyncGroup / Heartbeat by hand, with
// a real embedded ConsumerProtocol subscription (an eager one: it lists no
// owned partitions when it rejoins).
struct RawClassic {
  RawMember raw;
  explicit RawClassic(Cluster& c, const std::string& name) : raw(c, name, "g") {
    raw.protocol_metadata = clients::encode_subscription(clients::Subscription{{"t"}, "", {}, -1, ""});
    raw.find_coordinator();
  }
  Parts sync_result(const protocol::SyncGroupResponse& r) {
    REQUIRE(r.error == Errc::NONE);
    const auto a = clients::decode_assignment(r.assignment);
    REQUIRE(a.has_value());
    return Parts(a->partitions.begin(), a->partitions.end());
  }
  // Rejoins (as after REBALANCE_IN_PROGRESS) and syncs as a follower; returns what it owns now.
  Parts rejoin() {
    auto call = raw.start_join();
    raw.c.run_until([&] { return call.done(); }, 30'000);
    REQUIRE(call.done());
    raw.take(call.get());
    return sync_result(wait(raw.c, raw.sync_async()));
  }
};

// Two classic members form generation 1 of group "g": A owns t-0..2, B t-3..5.
std::pair<Parts, Parts> classic_group_of_two(Cluster& c, RawClassic& a, RawClassic& b) {
  auto ja = a.raw.start_join();
  auto jb = b.raw.start_join();
  c.run_until([&] { return ja.done() && jb.done(); }, 30'000);
  REQUIRE((ja.done() && jb.done()));
  a.raw.take(ja.get());
  b.raw.take(jb.get());
  const Parts pa{{"t", 0}, {"t", 1}, {"t", 2}}, pb{{"t", 3}, {"t", 4}, {"t", 5}};
  auto enc = [](const Parts& p) { return clients::encode_assignment(clients::Assignment{{p.begin(), p.end()}, ""}); };
  const bool a_leads = ja.get().leader == a.raw.member_id;
  RawClassic& leader = a_leads ? a : b;
  RawClassic& follower = a_leads ? b : a;
  auto sf = follower.raw.sync_async();
  auto sl = leader.raw.sync_async({{a.raw.member_id, enc(pa)}, {b.raw.member_id, enc(pb)}});
  c.run_until([&] { return sf.done() && sl.done(); }, 30'000);
  REQUIRE((sf.done() && sl.done()));
  CHECK(follower.sync_result(sf.get()) == (a_leads ? pb : pa));
  CHECK(leader.sync_result(sl.get()) == (a_leads ? pa : pb));
  REQUIRE(c.describe_group("g").state == "Stable");
  return {pa, pb};
}

size_t events_of(Cluster& c, check::EventType type) {
  size_t n = 0;
  for (const auto& e : c.history().events()) n += e.type == type && e.what == "g";
  return n;
}

}  // namespace

TEST_CASE("a consumer-protocol member upgrades a live classic group - its classic members rejoin for their share",
          "[coordinator][kip848][migration]") {
  Cluster c(group_opts(101, 3));
  ready(c);
  RawClassic a(c, "classic-a"), b(c, "classic-b");
  auto [pa, pb] = classic_group_of_two(c, a, b);
  REQUIRE(a.raw.generation == 1);

  // The first consumer-protocol member: the group becomes a consumer group at
  // epoch 1 (the generation) with A and B as classic members, then its join
  // makes epoch 2. Everything is still owned by A and B: X waits.
  RawConsumer x(c, "consumer-x", "g", "member-x");
  auto rx = x.join();
  REQUIRE(rx.error == Errc::NONE);
  CHECK(rx.member_epoch == 2);
  CHECK(x.owned.empty());
  GroupDescription d = c.describe_group("g");
  CHECK(d.group_protocol == "consumer");
  CHECK(d.group_epoch == 2);
  CHECK(member_of(d, a.raw.member_id).classic_protocol);
  CHECK(member_of(d, a.raw.member_id).member_epoch == 1);
  CHECK_FALSE(member_of(d, "member-x").classic_protocol);
  CHECK(events_of(c, check::EventType::group_converted) == 1);
  CHECK(events_of(c, check::EventType::group_created) == 1);  // a conversion is not a re-creation
  // Offsets and commits: A's generation is its member epoch.
  CHECK(a.raw.commit({"t", 0}, 7, 1, a.raw.member_id) == Errc::NONE);

  // A classic member learns of the new epoch from its heartbeat, rejoins
  // (eager: owning nothing) and syncs what the coordinator computed.
  CHECK(a.raw.heartbeat() == Errc::REBALANCE_IN_PROGRESS);
  const Parts a_now = a.rejoin();
  CHECK(a.raw.generation == 2);
  CHECK(a_now.size() == 2);
  CHECK(a.raw.commit({"t", 0}, 8, 1, a.raw.member_id) == Errc::ILLEGAL_GENERATION);
  CHECK(a.raw.heartbeat() == Errc::NONE);
  x.heartbeat();  // gets what A released
  CHECK(x.owned.size() == 1);
  CHECK(b.raw.heartbeat() == Errc::REBALANCE_IN_PROGRESS);
  const Parts b_now = b.rejoin();
  CHECK(b_now.size() == 2);
  x.heartbeat();
  CHECK(x.owned.size() == 2);
  CHECK(disjoint(a_now, b_now));
  CHECK(disjoint(a_now, x.owned));
  CHECK(disjoint(b_now, x.owned));
  d = c.describe_group("g");
  CHECK(d.state == "Stable");
  CHECK(d.offsets.at({"t", 0}).offset == Offset{7});
  CHECK(a.raw.heartbeat() == Errc::NONE);
  CHECK(b.raw.heartbeat() == Errc::NONE);
}

TEST_CASE("the last consumer-protocol member leaving downgrades the group to classic - and a rebalance starts",
          "[coordinator][kip848][migration]") {
  Cluster c(group_opts(103, 3));
  ready(c);
  RawClassic a(c, "classic-a"), b(c, "classic-b");
  classic_group_of_two(c, a, b);
  RawConsumer x(c, "consumer-x", "g", "member-x");
  REQUIRE(x.join().error == Errc::NONE);
  REQUIRE(a.raw.heartbeat() == Errc::REBALANCE_IN_PROGRESS);
  a.rejoin();
  REQUIRE(x.leave(-1).error == Errc::NONE);
  GroupDescription d = c.describe_group("g");
  CHECK(d.group_protocol == "classic");
  CHECK(d.state == "PreparingRebalance");
  CHECK(d.members.size() == 2);
  CHECK(d.generation == 2);  // the group epoch (the conversion replaces X's leave); the rebalance makes 3
  CHECK(events_of(c, check::EventType::group_converted) == 2);
  // The classic members rejoin: a classic generation forms with both.
  CHECK(a.raw.heartbeat() == Errc::REBALANCE_IN_PROGRESS);
  auto ja = a.raw.start_join();
  auto jb = b.raw.start_join();
  c.run_until([&] { return ja.done() && jb.done(); }, 60'000);
  REQUIRE((ja.done() && jb.done()));
  CHECK(ja.get().error == Errc::NONE);
  CHECK(ja.get().generation_id == 3);
  CHECK(c.describe_group("g").group_protocol == "classic");
}

TEST_CASE("group.consumer.migration.policy=disabled keeps a classic group with members classic",
          "[coordinator][kip848][migration]") {
  Cluster c(group_opts(107, 3, {{"group.consumer.migration.policy", "disabled"}}));
  ready(c);
  RawClassic a(c, "classic-a"), b(c, "classic-b");
  classic_group_of_two(c, a, b);
  RawConsumer x(c, "consumer-x", "g", "member-x");
  CHECK(x.join().error == Errc::GROUP_ID_NOT_FOUND);
  CHECK(c.describe_group("g").group_protocol == "classic");
  CHECK(a.raw.heartbeat() == Errc::NONE);
}

TEST_CASE("coordinator failover keeps a converted group's classic members", "[coordinator][kip848][migration]") {
  Cluster c(group_opts(109, 3));
  ready(c);
  RawClassic a(c, "classic-a"), b(c, "classic-b");
  classic_group_of_two(c, a, b);
  RawConsumer x(c, "consumer-x", "g", "member-x");
  REQUIRE(x.join().error == Errc::NONE);
  const int32_t old = x.raw.coordinator;
  c.crash(old);
  int32_t now = -1;
  for (int i = 0; i < 200 && (now < 0 || now == old); ++i) {
    now = x.raw.find_coordinator(old == 1 ? 2 : 1);
    if (now == old) c.run_for_ms(200);
  }
  REQUIRE(now != old);
  a.raw.coordinator = b.raw.coordinator = now;
  const GroupDescription d = c.describe_group("g");
  CHECK(d.group_protocol == "consumer");
  CHECK(member_of(d, a.raw.member_id).classic_protocol);
  CHECK(a.raw.heartbeat() == Errc::REBALANCE_IN_PROGRESS);
  CHECK(a.rejoin().size() == 2);
}
