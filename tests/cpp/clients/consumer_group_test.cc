// Consumer groups end to end, against the brokers' group coordinator:
// rebalances (eager vs cooperative), auto-commit redelivery after a crash,
// commitAsync reordering, static membership, max.poll.interval.ms eviction,
// coordinator failover, determinism.
#include <catch2/catch.hpp>

#include <set>

#include "tests/cpp/clients/consumer_test_util.h"

using namespace ksim;
using namespace ksim::consumer_test;
using clients::KafkaException;
using clients::OffsetMap;

namespace {

Config::Map group_cfg(Config::Map extra = {}) {
  Config::Map m{{"group.id", "g"},
                {"auto.offset.reset", "earliest"},
                {"session.timeout.ms", "6000"},
                {"heartbeat.interval.ms", "2000"}};
  for (auto& [k, v] : extra) m[k] = v;
  return m;
}

// A consumer node whose application subscribes at boot and polls forever.
int32_t add_member(Cluster& c, const std::string& name, Config::Map cfg, std::shared_ptr<bool> stop,
                   std::vector<std::string> topics = {"t"}) {
  return add_consumer(c, name, std::move(cfg), [stop, topics](const std::shared_ptr<KafkaConsumer>& k) {
    k->subscribe(topics);
    start_app(k, stop);
  });
}

std::set<TopicPartition> owned(const Cluster& c, int32_t id) {
  auto k = c.client<KafkaConsumer>(id);
  if (!k) return {};
  const auto a = k->assignment();
  return {a.begin(), a.end()};
}

bool stable_split(const Cluster& c, const std::vector<int32_t>& ids, size_t partitions) {
  std::set<TopicPartition> all;
  size_t total = 0;
  int32_t gen = -2;
  for (int32_t id : ids) {
    auto k = c.client<KafkaConsumer>(id);
    if (!k || k->member_state() != clients::MemberState::stable) return false;
    if (gen != -2 && k->generation() != gen) return false;
    gen = k->generation();
    const auto s = owned(c, id);
    total += s.size();
    all.insert(s.begin(), s.end());
    if (s.size() < partitions / ids.size()) return false;
  }
  return total == partitions && all.size() == partitions;
}

size_t revoked_count(const Cluster& c, int32_t id, const std::string& detail, int64_t after_ns = 0) {
  size_t n = 0;
  for (const check::OpView& op : ops_of(c, id, check::OpType::revoke))
    if (op.detail() == detail && op.invoke_ns() >= after_ns) n += op.offsets().size();
  return n;
}

struct RebalanceOutcome {
  size_t revoked_a = 0, revoked_b = 0;
  int32_t generations = 0;
  bool split_ownership = false;
};

// Two members share 6 partitions; a third joins. Who stops consuming what?
RebalanceOutcome third_member_joins(const std::string& strategy) {
  Cluster c(options(21));
  c.wait_ready();
  make_topic(c, "t", 6);
  auto stop = std::make_shared<bool>(false);
  const Config::Map cfg = group_cfg({{"partition.assignment.strategy", strategy}});
  const int32_t a = add_member(c, "consumer-a", cfg, stop);
  const int32_t b = add_member(c, "consumer-b", cfg, stop);
  REQUIRE(c.run_until([&] { return stable_split(c, {a, b}, 6); }, 60'000));
  const int32_t gen_before = c.client<KafkaConsumer>(a)->generation();
  const int64_t t0 = c.world().now().ns;
  const int32_t third = add_member(c, "consumer-c", cfg, stop);
  REQUIRE(c.run_until([&] { return stable_split(c, {a, b, third}, 6); }, 60'000));
  c.run_for_ms(5'000);  // cooperative: the follow-up rebalance has settled too
  REQUIRE(stable_split(c, {a, b, third}, 6));
  RebalanceOutcome out;
  out.revoked_a = revoked_count(c, a, "revoked", t0);
  out.revoked_b = revoked_count(c, b, "revoked", t0);
  out.generations = c.client<KafkaConsumer>(a)->generation() - gen_before;
  // No partition is assigned to a member while the History says another still owns it.
  std::map<TopicPartition, int32_t> owner;
  for (const check::OpView& op : c.history().ops()) {
    if (op.type() == check::OpType::revoke)
      for (const auto& e : op.offsets())
        if (owner[e.tp] == op.client()) owner[e.tp] = 0;
    if (op.type() == check::OpType::assign)
      for (const auto& e : op.offsets()) {
        if (owner[e.tp] != 0 && owner[e.tp] != op.client()) out.split_ownership = true;
        owner[e.tp] = op.client();
      }
  }
  *stop = true;
  return out;
}

}  // namespace

TEST_CASE("eager vs cooperative: what stops when a third member joins", "[consumer][group]") {
  SECTION("eager (range): both old members revoke everything they had") {
    const RebalanceOutcome r = third_member_joins("range");
    CHECK(r.revoked_a == 3);
    CHECK(r.revoked_b == 3);
    CHECK(r.generations == 1);
    CHECK_FALSE(r.split_ownership);
  }
  SECTION("cooperative-sticky: each old member revokes only the partition that moves, in two rebalances") {
    const RebalanceOutcome r = third_member_joins("cooperative-sticky");
    CHECK(r.revoked_a == 1);
    CHECK(r.revoked_b == 1);
    CHECK(r.generations == 2);  // KIP-429: revoke, then a follow-up rebalance hands them over
    CHECK_FALSE(r.split_ownership);
  }
}

TEST_CASE("auto-commit + crash: records polled after the last auto-commit come back to the next consumer",
          "[consumer][group]") {
  Cluster c(options(31));
  c.wait_ready();
  make_topic(c, "t", 1);
  produce_n(c, "t", 0, 0, 30);
  const Config::Map cfg = group_cfg({{"auto.commit.interval.ms", "1000"}, {"max.poll.records", "5"}});
  const int32_t a = add_consumer(c, "consumer-a", cfg, [](const auto& k) { k->subscribe({"t"}); });
  auto ka = c.client<KafkaConsumer>(a);
  REQUIRE(poll_n(*ka, 10, 30'000).size() == 10);
  c.run_for_ms(1'500);                        // the auto-commit is due ...
  const auto last = ka->poll(1'000);          // ... and runs at the start of this poll: offset 10
  REQUIRE(last.size() == 5);                  // 10..14 are now consumed but not committed
  CHECK(last.front().offset == Offset{10});
  c.run_for_ms(200);                          // the commit is answered
  c.crash(a);                                 // the JVM dies before the next auto-commit

  Offset committed = kNoOffset;
  for (const check::OpView& op : ops_of(c, a, check::OpType::commit))
    if (op.detail() == "auto" && op.outcome() == check::Outcome::ok) committed = op.offsets().at(0).offset;
  CHECK(committed == Offset{10});

  const int32_t b = add_consumer(c, "consumer-b", cfg, [](const auto& k) { k->subscribe({"t"}); });
  auto kb = c.client<KafkaConsumer>(b);
  const auto again = poll_n(*kb, 5, 60'000);
  REQUIRE_FALSE(again.empty());
  CHECK(again.front().offset == Offset{10});  // 10..14: redelivered
  const auto seeks = ops_of(c, b, check::OpType::seek);
  REQUIRE_FALSE(seeks.empty());
  CHECK(seeks.front().detail() == "committed");
}

TEST_CASE("commitAsync does not retry or order: an older commit can land after a newer one", "[consumer][group]") {
  Cluster c(options(41));
  c.wait_ready();
  make_topic(c, "t", 1);
  const int32_t id = add_consumer(c, "consumer-a", group_cfg({{"enable.auto.commit", "false"}}));
  auto k = c.client<KafkaConsumer>(id);
  k->assign({{"t", 0}});
  const TopicPartition tp{"t", 0};
  k->commit_sync(OffsetMap{{tp, {Offset{1}, kNoEpoch, ""}}});  // finds the coordinator
  auto& net = c.world().network();
  // The next OffsetCommit request is slowed down by 200 ms (out of FIFO order).
  net.add_rule({.src = sim_node_of(id), .dst = std::nullopt, .kind = net.kind("OffsetCommit"),
                .dir = sim::Direction::request},
               sim::RuleAction::delay, 1, sim::milliseconds(200));
  std::vector<std::pair<int64_t, Errc>> done;
  auto cb = [&](const OffsetMap& offsets, Errc e) { done.emplace_back(offsets.at(tp).offset.value, e); };
  k->commit_async(OffsetMap{{tp, {Offset{5}, kNoEpoch, ""}}}, cb);
  k->commit_async(OffsetMap{{tp, {Offset{10}, kNoEpoch, ""}}}, cb);
  c.run_for_ms(1'000);
  CHECK(k->committed({tp}).at(tp).offset == Offset{5});  // the older commit won
  // Callbacks run from the consumer's next poll (or commit), in completion order.
  CHECK(done.empty());
  k->poll(0);
  REQUIRE(done.size() == 2);
  CHECK(done[0] == std::pair<int64_t, Errc>{10, Errc::NONE});
  CHECK(done[1] == std::pair<int64_t, Errc>{5, Errc::NONE});
  const auto commits = ops_of(c, id, check::OpType::commit);
  REQUIRE(commits.size() == 3);
  CHECK(commits[1].detail() == "async");
  CHECK(commits[1].offsets().at(0).offset == Offset{5});
  CHECK(commits[1].complete_ns() > commits[2].complete_ns());
  CHECK(commits[2].outcome() == check::Outcome::ok);
}

TEST_CASE("a static member restarting within the session timeout causes no rebalance", "[consumer][group]") {
  Cluster c(options(51));
  c.wait_ready();
  make_topic(c, "t", 4);
  auto stop = std::make_shared<bool>(false);
  const int32_t a = add_member(c, "consumer-a", group_cfg({{"group.instance.id", "a"}, {"session.timeout.ms", "10000"}}), stop);
  const int32_t b = add_member(c, "consumer-b", group_cfg({{"group.instance.id", "b"}, {"session.timeout.ms", "10000"}}), stop);
  REQUIRE(c.run_until([&] { return stable_split(c, {a, b}, 4); }, 60'000));
  const int32_t gen = c.client<KafkaConsumer>(b)->generation();
  const auto b_had = owned(c, b);
  const auto a_had = owned(c, a);
  const size_t b_revokes = ops_of(c, b, check::OpType::revoke).size();

  c.crash(a);
  c.run_for_ms(3'000);
  c.restart(a);  // a fresh consumer with the same group.instance.id
  REQUIRE(c.run_until([&] { return stable_split(c, {a, b}, 4); }, 30'000));
  c.run_for_ms(5'000);
  CHECK(c.client<KafkaConsumer>(b)->generation() == gen);  // no new generation
  CHECK(c.client<KafkaConsumer>(a)->generation() == gen);
  CHECK(owned(c, b) == b_had);
  CHECK(owned(c, a) == a_had);
  CHECK(ops_of(c, b, check::OpType::revoke).size() == b_revokes);
  *stop = true;
}

TEST_CASE("a consumer that stops polling past max.poll.interval.ms leaves - its partitions move", "[consumer][group]") {
  Cluster c(options(61));
  c.wait_ready();
  make_topic(c, "t", 4);
  auto stop_a = std::make_shared<bool>(false);
  auto stop_b = std::make_shared<bool>(false);
  const int32_t a = add_member(c, "consumer-a", group_cfg({{"max.poll.interval.ms", "8000"}}), stop_a);
  const int32_t b = add_member(c, "consumer-b", group_cfg(), stop_b);
  REQUIRE(c.run_until([&] { return stable_split(c, {a, b}, 4); }, 60'000));
  const auto a_had = owned(c, a);
  *stop_a = true;  // the application hangs; the heartbeat fiber goes on
  REQUIRE(c.run_until([&] { return owned(c, b).size() == 4 && c.client<KafkaConsumer>(b)->member_state() ==
                                                                   clients::MemberState::stable; },
                      40'000));
  auto ka = c.client<KafkaConsumer>(a);
  CHECK(ka->member_state() == clients::MemberState::unjoined);  // it left (LeaveGroup), generation reset
  CHECK(ka->generation() == -1);
  CHECK(c.world().probes().count("consumer: poll timeout, leaving group") == 1);
  // When the application polls again, what it held is reported lost, and it rejoins.
  *stop_a = false;
  start_app(ka, stop_a);
  REQUIRE(c.run_until([&] { return stable_split(c, {a, b}, 4); }, 60'000));
  CHECK(revoked_count(c, a, "lost") == a_had.size());
  *stop_a = *stop_b = true;
}

TEST_CASE("coordinator failover keeps committed offsets", "[consumer][group]") {
  Cluster c(options(71));
  c.wait_ready();
  make_topic(c, "t", 1);
  const int32_t id = add_consumer(c, "consumer-a", group_cfg({{"enable.auto.commit", "false"}}));
  auto k = c.client<KafkaConsumer>(id);
  k->assign({{"t", 0}});
  const TopicPartition tp{"t", 0};
  k->commit_sync(OffsetMap{{tp, {Offset{7}, kNoEpoch, ""}}});
  // The coordinator is the leader of the group's __consumer_offsets partition.
  const int32_t coordinator = k->coordinator_id();
  REQUIRE(coordinator > 0);
  c.crash(coordinator);
  // The controller fences the dead broker (broker.session.timeout.ms) and elects new
  // leaders; the new coordinator serves the group once its high watermark caught up
  // (reads are at the HW: right after the election an OffsetFetch can still answer
  // "nothing committed").
  REQUIRE(c.run_until([&] {
    for (const auto& d : c.describe_topic("__consumer_offsets"))
      if (d.leader == coordinator || d.leader < 0) return false;
    return true;
  }, 30'000));
  c.run_for_ms(3'000);
  const OffsetMap after = k->committed({tp}, 60'000);  // rediscovers the new coordinator
  REQUIRE(after.count(tp) == 1);
  CHECK(after.at(tp).offset == Offset{7});
  CHECK(k->coordinator_id() != coordinator);
  CHECK(c.world().probes().count("consumer: coordinator marked unknown") >= 1);
  // A commit to the new coordinator works, and a fresh member of the group sees it.
  k->commit_sync(OffsetMap{{tp, {Offset{8}, kNoEpoch, ""}}});
  const int32_t other = add_consumer(c, "consumer-b", group_cfg({{"enable.auto.commit", "false"}}));
  CHECK(c.client<KafkaConsumer>(other)->committed({tp}).at(tp).offset == Offset{8});
}

TEST_CASE("the same seed gives the same consumer-group trace", "[consumer][group]") {
  auto run = [] {
    Cluster c(options(81));
    c.wait_ready();
    make_topic(c, "t", 4);
    for (int p = 0; p < 4; ++p) produce_n(c, "t", p, 0, 10);
    auto stop = std::make_shared<bool>(false);
    const int32_t a = add_member(c, "consumer-a", group_cfg({{"auto.commit.interval.ms", "500"}}), stop);
    const int32_t b = add_member(c, "consumer-b", group_cfg({{"auto.commit.interval.ms", "500"}}), stop);
    c.run_until([&] { return stable_split(c, {a, b}, 4); }, 60'000);
    c.run_for_ms(3'000);
    c.crash(a);
    c.run_for_ms(15'000);
    *stop = true;
    return std::make_pair(c.world().trace().hash(), c.history().ops().size());
  };
  const auto first = run();
  const auto second = run();
  CHECK(first == second);
  CHECK(first.second > 10);
}
