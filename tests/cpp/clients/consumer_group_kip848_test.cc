// group.protocol=consumer (KIP-848) end to end: KafkaConsumers on their own
// nodes, polling in their application fibers, against the brokers' consumer
// groups. The stories: two members share 6 partitions 3 and 3; a third joins
// and every partition moves only after its owner revoked it (the history's
// split-ownership checker stays quiet — and fires with the KAFKA-16147
// switch); a member cut off past group.consumer.session.timeout.ms is fenced,
// loses its partitions and rejoins at epoch 0 with the same member id.
#include <catch2/catch.hpp>

#include <set>

#include "tests/cpp/clients/consumer_test_util.h"

using namespace ksim;
using namespace ksim::consumer_test;

namespace {

Config::Map member_cfg() {
  return {{"group.id", "g"}, {"group.protocol", "consumer"}, {"auto.offset.reset", "earliest"}};
}

int32_t add_member(Cluster& c, const std::string& name, std::shared_ptr<bool> stop) {
  return add_consumer(c, name, member_cfg(), [stop](const std::shared_ptr<KafkaConsumer>& k) {
    k->subscribe({"t"});
    start_app(k, stop);
  });
}

std::set<TopicPartition> owned(const Cluster& c, int32_t id) {
  auto k = c.client<KafkaConsumer>(id);
  if (!k) return {};
  const auto a = k->assignment();
  return {a.begin(), a.end()};
}

// Every member owns `each` partitions, together all of them, and the group is Stable.
bool settled(const Cluster& c, const std::vector<int32_t>& ids, size_t each) {
  std::set<TopicPartition> all;
  for (int32_t id : ids) {
    const auto s = owned(c, id);
    if (s.size() != each) return false;
    all.insert(s.begin(), s.end());
  }
  return all.size() == each * ids.size() && c.describe_group("g").state == "Stable";
}

size_t split_ownership(const check::Verdict& v) {
  size_t n = 0;
  for (const auto& a : v.anomalies()) n += a.kind == "split-ownership";
  return n;
}

struct ThirdJoins {
  check::Verdict verdict;
  int32_t group_epoch = -1;
  bool partitions_moved_after_revocation = true;
};

ThirdJoins third_member_joins(const std::string& pending_revocation) {
  ClusterOptions o = options(23);
  o.config["ksim.consumer.group.pending.revocation"] = pending_revocation;
  Cluster c(o);
  c.wait_ready();
  make_topic(c, "t", 6);
  for (int p = 0; p < 6; ++p) produce_n(c, "t", p, 0, 20);
  auto stop = std::make_shared<bool>(false);
  const int32_t a = add_member(c, "consumer-a", stop);
  const int32_t b = add_member(c, "consumer-b", stop);
  REQUIRE(c.run_until([&] { return settled(c, {a, b}, 3); }, 60'000));
  c.run_for_ms(2'000);  // both have read what is there: revoking will commit first
  // The old owners' commits hang for 12 s: their commit-before-revoke keeps
  // them from revoking meanwhile (a slow onPartitionsRevoked, in effect), and
  // the third member heartbeats twice in that time.
  auto& net = c.world().network();
  std::vector<sim::RuleId> holds;
  for (int32_t id : {a, b})
    holds.push_back(net.add_rule({.src = sim_node_of(id), .dst = std::nullopt, .kind = net.kind("OffsetCommit"),
                                  .dir = sim::Direction::request},
                                 sim::RuleAction::hold, 0));
  const int32_t third = add_member(c, "consumer-c", stop);
  c.run_for_ms(12'000);
  for (sim::RuleId h : holds) net.release(h);
  const bool done = c.run_until([&] { return settled(c, {a, b, third}, 2); }, 60'000);
  if (pending_revocation == "fixed") REQUIRE(done);
  ThirdJoins out;
  out.group_epoch = c.describe_group("g").group_epoch;
  // Each partition the third member was assigned was revoked by its earlier owner first.
  std::map<TopicPartition, int64_t> revoked_at;
  for (const check::OpView& op : c.history().ops())
    if (op.type() == check::OpType::revoke && op.client() != third)
      for (const auto& e : op.offsets()) revoked_at[e.tp] = op.invoke_ns();
  for (const check::OpView& op : ops_of(c, third, check::OpType::assign))
    for (const auto& e : op.offsets())
      if (!revoked_at.count(e.tp) || revoked_at[e.tp] > op.invoke_ns()) out.partitions_moved_after_revocation = false;
  *stop = true;
  out.verdict = c.check();
  return out;
}

}  // namespace

TEST_CASE("group.protocol=consumer: two members share 6 partitions 3 and 3 at one member epoch", "[consumer][kip848]") {
  Cluster c(options(19));
  c.wait_ready();
  make_topic(c, "t", 6);
  auto stop = std::make_shared<bool>(false);
  const int32_t a = add_member(c, "consumer-a", stop);
  const int32_t b = add_member(c, "consumer-b", stop);
  REQUIRE(c.run_until([&] { return settled(c, {a, b}, 3); }, 60'000));
  const auto d = c.describe_group("g");
  CHECK(d.group_protocol == "consumer");
  CHECK(d.group_epoch == 2);
  CHECK(d.assignment_epoch == 2);
  CHECK(d.protocol == "uniform");  // group.consumer.assignors' first
  for (int32_t id : {a, b}) {
    auto k = c.client<KafkaConsumer>(id);
    CHECK(k->generation() == 2);  // the member epoch
    bool found = false;
    for (const auto& m : d.members)
      if (m.member_id == k->member_id()) {
        found = true;
        CHECK(m.member_epoch == 2);
        CHECK(m.member_state == "STABLE");
        CHECK(std::set<TopicPartition>(m.assigned.begin(), m.assigned.end()) == owned(c, id));
      }
    CHECK(found);
  }
  // The member ids are the clients' own (KIP-1082): 32 hex digits.
  CHECK(c.client<KafkaConsumer>(a)->member_id().size() == 32);
  *stop = true;
}

TEST_CASE("group.protocol=consumer: a third member gets partitions only after their owners revoked them",
          "[consumer][kip848]") {
  const ThirdJoins r = third_member_joins("fixed");
  CHECK(r.group_epoch == 3);
  CHECK(r.partitions_moved_after_revocation);
  CHECK(split_ownership(r.verdict) == 0);
  CHECK(r.verdict.ok());
}

TEST_CASE("ksim.consumer.group.pending.revocation=ignore: a third member reads partitions their owners still read",
          "[consumer][kip848]") {
  const ThirdJoins r = third_member_joins("ignore");
  CHECK_FALSE(r.partitions_moved_after_revocation);
  CHECK(split_ownership(r.verdict) >= 1);
  CHECK_FALSE(r.verdict.ok());
}

TEST_CASE("group.protocol=consumer: a member cut off past the session timeout is fenced and rejoins at epoch 0",
          "[consumer][kip848]") {
  ClusterOptions o = options(29);
  o.config["group.consumer.session.timeout.ms"] = "10000";
  Cluster c(o);
  c.wait_ready();
  make_topic(c, "t", 4);
  auto stop = std::make_shared<bool>(false);
  const int32_t a = add_member(c, "consumer-a", stop);
  const int32_t b = add_member(c, "consumer-b", stop);
  REQUIRE(c.run_until([&] { return settled(c, {a, b}, 2); }, 60'000));
  const std::string a_id = c.client<KafkaConsumer>(a)->member_id();
  const int32_t epoch_before = c.client<KafkaConsumer>(a)->generation();
  // A's node stops for longer than the session: the coordinator fences A, B gets all.
  c.pause(a, 15'000);
  REQUIRE(c.run_until([&] { return owned(c, b).size() == 4; }, 30'000));
  bool fenced = false;
  for (const auto& e : c.history().events())
    if (e.type == check::EventType::member_fenced && e.member == a_id) fenced = true;
  CHECK(fenced);
  // A wakes up: FENCED / UNKNOWN_MEMBER_ID, its partitions are lost, it joins again (epoch 0, same id).
  REQUIRE(c.run_until([&] { return settled(c, {a, b}, 2); }, 60'000));
  auto k = c.client<KafkaConsumer>(a);
  CHECK(k->member_id() == a_id);
  CHECK(k->generation() > epoch_before);
  size_t lost = 0;
  for (const check::OpView& op : ops_of(c, a, check::OpType::revoke)) lost += op.detail() == "lost";
  CHECK(lost == 1);
  CHECK(c.world().probes().count("consumer: KIP-848 member fenced, rejoining with epoch 0") == 1);
  *stop = true;
  CHECK(split_ownership(c.check()) == 0);
}
