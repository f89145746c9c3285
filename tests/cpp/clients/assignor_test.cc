// Assignors as pure functions, and the ConsumerProtocol bytes they travel in.
#include <catch2/catch.hpp>

#include <set>

#include "engine/clients/assignor.h"
#include "engine/clients/consumer_protocol.h"
#include "engine/clients/sticky_assignor.h"

using namespace ksim;
using namespace ksim::clients;

namespace {

MemberSubscription member(const std::string& id, std::vector<std::string> topics,
                          std::vector<TopicPartition> owned = {}, int32_t generation = -1) {
  MemberSubscription m;
  m.member_id = id;
  m.subscription.topics = std::move(topics);
  m.subscription.owned_partitions = std::move(owned);
  m.subscription.generation_id = generation;
  return m;
}

std::vector<TopicPartition> tps(const std::string& topic, std::initializer_list<int32_t> ps) {
  std::vector<TopicPartition> out;
  for (int32_t p : ps) out.push_back({topic, p});
  return out;
}

std::vector<TopicPartition> cat(std::vector<TopicPartition> a, const std::vector<TopicPartition>& b) {
  a.insert(a.end(), b.begin(), b.end());
  std::sort(a.begin(), a.end());
  return a;
}

}  // namespace

TEST_CASE("ConsumerProtocol: subscription and assignment round-trip - garbage is refused", "[consumer][assignor]") {
  Subscription s;
  s.topics = {"orders", "audit"};
  s.user_data = std::string("\x00\x01\xff", 3);
  s.owned_partitions = {{"orders", 2}, {"audit", 0}, {"orders", 0}};
  s.generation_id = 7;
  s.rack_id = "r1";
  const auto back = decode_subscription(encode_subscription(s));
  REQUIRE(back);
  CHECK(back->topics == std::vector<std::string>{"audit", "orders"});  // sorted
  CHECK(back->owned_partitions == std::vector<TopicPartition>{{"audit", 0}, {"orders", 0}, {"orders", 2}});
  CHECK(back->user_data == s.user_data);
  CHECK(back->generation_id == 7);
  CHECK(back->rack_id == "r1");

  const Assignment a{{{"orders", 1}, {"orders", 0}}, "ud"};
  const auto ab = decode_assignment(encode_assignment(a));
  REQUIRE(ab);
  CHECK(ab->partitions == std::vector<TopicPartition>{{"orders", 0}, {"orders", 1}});
  CHECK(ab->user_data == "ud");

  const std::string bytes = encode_assignment(a);
  CHECK_FALSE(decode_assignment(bytes.substr(0, bytes.size() - 1)));
  CHECK_FALSE(decode_assignment(bytes + "x"));
  CHECK_FALSE(decode_subscription("\x7f\x7f\x7f"));
}

TEST_CASE("range vs roundrobin on Kafka's documented example (2 topics x 3 partitions and 2 members)",
          "[consumer][assignor]") {
  const PartitionsPerTopic ppt{{"t0", 3}, {"t1", 3}};
  const std::vector<MemberSubscription> members{member("C0", {"t0", "t1"}), member("C1", {"t0", "t1"})};

  // Range works per topic: C0 takes the first (larger) range of each topic.
  const GroupAssignment range = RangeAssignor().assign(ppt, members);
  CHECK(range.at("C0") == cat(tps("t0", {0, 1}), tps("t1", {0, 1})));
  CHECK(range.at("C1") == cat(tps("t0", {2}), tps("t1", {2})));

  // Round robin deals all six partitions out in turn: 3 each.
  const GroupAssignment rr = RoundRobinAssignor().assign(ppt, members);
  CHECK(rr.at("C0") == cat(tps("t0", {0, 2}), tps("t1", {1})));
  CHECK(rr.at("C1") == cat(tps("t0", {1}), tps("t1", {0, 2})));
}

TEST_CASE("assignors order members as Kafka does: static (group.instance.id) members first", "[consumer][assignor]") {
  std::vector<MemberSubscription> members{member("a-member", {"t"}), member("z-member", {"t"})};
  members[1].group_instance_id = "instance-1";
  const GroupAssignment range = RangeAssignor().assign({{"t", 3}}, members);
  CHECK(range.at("z-member") == tps("t", {0, 1}));
  CHECK(range.at("a-member") == tps("t", {2}));
}

TEST_CASE("range only gives a topic's partitions to its subscribers - unknown topics go to nobody",
          "[consumer][assignor]") {
  const std::vector<MemberSubscription> members{member("A", {"t", "u"}), member("B", {"u", "missing"})};
  const GroupAssignment a = RangeAssignor().assign({{"t", 2}, {"u", 2}}, members);
  CHECK(a.at("A") == cat(tps("t", {0, 1}), tps("u", {0})));
  CHECK(a.at("B") == tps("u", {1}));
}

TEST_CASE("sticky keeps every surviving member's partitions when a member leaves", "[consumer][assignor]") {
  const PartitionsPerTopic ppt{{"t", 6}};
  StickyAssignor sticky;
  const GroupAssignment first =
      sticky.assign(ppt, {member("A", {"t"}), member("B", {"t"}), member("C", {"t"})});
  for (const char* m : {"A", "B", "C"}) CHECK(first.at(m).size() == 2);

  // B leaves; A and C rejoin telling the leader what they had (user data, generation 1).
  std::vector<MemberSubscription> next{member("A", {"t"}), member("C", {"t"})};
  next[0].subscription.user_data = StickyAssignor::encode_user_data(first.at("A"), 1);
  next[1].subscription.user_data = StickyAssignor::encode_user_data(first.at("C"), 1);
  const GroupAssignment second = StickyAssignor().assign(ppt, next);
  CHECK(second.at("A").size() == 3);
  CHECK(second.at("C").size() == 3);
  for (const TopicPartition& tp : first.at("A")) CHECK(std::count(second.at("A").begin(), second.at("A").end(), tp) == 1);
  for (const TopicPartition& tp : first.at("C")) CHECK(std::count(second.at("C").begin(), second.at("C").end(), tp) == 1);
  // ... and range, by contrast, moves partitions that did not have to move.
  const GroupAssignment range = RangeAssignor().assign(ppt, next);
  CHECK(range.at("C") != cat(first.at("C"), {}));
}

TEST_CASE("sticky resolves conflicting claims by generation", "[consumer][assignor]") {
  // A claims t-0 from generation 3 (stale); B owned it in generation 4.
  std::vector<MemberSubscription> m{member("A", {"t"}), member("B", {"t"})};
  m[0].subscription.user_data = StickyAssignor::encode_user_data(tps("t", {0, 1}), 3);
  m[1].subscription.user_data = StickyAssignor::encode_user_data(tps("t", {0}), 4);
  const GroupAssignment a = StickyAssignor().assign({{"t", 2}}, m);
  CHECK(a.at("B") == tps("t", {0}));
  CHECK(a.at("A") == tps("t", {1}));
}

TEST_CASE("cooperative-sticky never hands over a partition its owner still holds (KIP-429)", "[consumer][assignor]") {
  const PartitionsPerTopic ppt{{"t", 6}};
  CooperativeStickyAssignor coop;
  // A and B own three each in generation 1; C joins owning nothing.
  std::vector<MemberSubscription> join{member("A", {"t"}, tps("t", {0, 1, 2}), 1),
                                       member("B", {"t"}, tps("t", {3, 4, 5}), 1), member("C", {"t"})};
  const GroupAssignment first = coop.assign(ppt, join);
  CHECK(first.at("A").size() == 2);
  CHECK(first.at("B").size() == 2);
  CHECK(first.at("C").empty());  // what C will get is still owned: revoked first
  std::set<TopicPartition> assigned;
  for (const auto& [m, parts] : first) assigned.insert(parts.begin(), parts.end());
  CHECK(assigned.size() == 4);
  for (const auto& [m, parts] : first)
    for (const TopicPartition& tp : parts) {
      // Every assigned partition was owned by the same member or by nobody.
      for (const MemberSubscription& other : join)
        if (other.member_id != m) {
          const auto& own = other.subscription.owned_partitions;
          CHECK(std::find(own.begin(), own.end(), tp) == own.end());
        }
    }

  // The follow-up rebalance: A and B now own only what they kept.
  std::vector<MemberSubscription> follow{member("A", {"t"}, first.at("A"), 2), member("B", {"t"}, first.at("B"), 2),
                                         member("C", {"t"}, {}, 2)};
  const GroupAssignment second = coop.assign(ppt, follow);
  CHECK(second.at("A") == first.at("A"));
  CHECK(second.at("B") == first.at("B"));
  CHECK(second.at("C").size() == 2);
  CHECK(coop.supported_protocols().back() == RebalanceProtocol::cooperative);
  CHECK(StickyAssignor().supported_protocols() == std::vector<RebalanceProtocol>{RebalanceProtocol::eager});
}

TEST_CASE("sticky balances members with different subscriptions", "[consumer][assignor]") {
  const PartitionsPerTopic ppt{{"t", 4}, {"u", 2}};
  const GroupAssignment a =
      StickyAssignor().assign(ppt, {member("A", {"t"}), member("B", {"t", "u"}), member("C", {"u"})});
  size_t total = 0;
  for (const auto& [m, parts] : a) total += parts.size();
  CHECK(total == 6);
  for (const TopicPartition& tp : a.at("A")) CHECK(tp.topic == "t");
  for (const TopicPartition& tp : a.at("C")) CHECK(tp.topic == "u");
  CHECK(a.at("A").size() >= 2);
  CHECK(a.at("B").size() == 2);
}

TEST_CASE("make_assignor knows Kafka's four assignors", "[consumer][assignor]") {
  for (const char* n : {"range", "roundrobin", "sticky", "cooperative-sticky"}) {
    const auto a = make_assignor(n);
    REQUIRE(a);
    CHECK(a->name() == n);
  }
  CHECK_FALSE(make_assignor("uniform"));
}
