// Replication: proposals commit on a majority and every node's committed
// prefix is the same; a leader cut off in a minority commits nothing, resigns
// by check-quorum and throws its uncommitted suffix away on heal; an observer
// follows the log without a vote.
#include <catch2/catch.hpp>

#include "raft_cluster.h"

using namespace raft_test;
using ksim::Offset;
using ksim::QuorumEpoch;
using ksim::raft::RaftState;

TEST_CASE("proposals commit and every voter's committed prefix is identical", "[raft][replication]") {
  RaftCluster c(41);
  REQUIRE(c.run_until([&] { return c.one_leader(); }, sim::seconds(3)));
  const NodeId l = *c.leader();
  const Offset start = c.client(l)->log_end_offset();  // just after the LeaderChange entry
  REQUIRE(start == Offset{1});
  for (int i = 0; i < 100; ++i) {
    const auto off = c.propose("e" + std::to_string(i));
    REQUIRE(off == start + i);  // offsets are handed out in order, at once
  }
  REQUIRE(c.run_until([&] { return c.converged(); }, sim::seconds(2)));
  REQUIRE(c.client(l)->high_watermark() == Offset{101});
  // Every voter delivered exactly these entries, in offset order.
  const auto user = c.committed_user_entries();
  REQUIRE(user.size() == 100);
  for (int i = 0; i < 100; ++i) REQUIRE(user[static_cast<size_t>(i)] == "e" + std::to_string(i));
  for (NodeId n : c.voters) REQUIRE(c.next_commit[n.value] == 101);
  // Followers refuse proposals.
  for (NodeId n : c.voters)
    if (n != l)
      REQUIRE(c.client(n)->propose(std::make_shared<const std::string>("no")).error ==
              ksim::Errc::NOT_LEADER_OR_FOLLOWER);
  REQUIRE(c.violations.empty());
}

TEST_CASE("a leader partitioned into a minority commits nothing - resigns - and truncates on heal",
          "[raft][replication]") {
  RaftCluster c(51);
  REQUIRE(c.run_until([&] { return c.one_leader(); }, sim::seconds(3)));
  for (int i = 0; i < 3; ++i) REQUIRE(c.propose("ok" + std::to_string(i)));
  REQUIRE(c.run_until([&] { return c.converged(); }, sim::seconds(2)));
  INFO("converged: " << c.describe());
  const NodeId old = *c.leader();
  const QuorumEpoch old_epoch = c.client(old)->epoch();
  const Offset committed = c.client(old)->high_watermark();
  std::vector<NodeId> majority;
  for (NodeId n : c.voters)
    if (n != old) majority.push_back(n);

  c.w.network().partition({{old}, majority});
  for (int i = 0; i < 5; ++i) REQUIRE(c.propose("lost" + std::to_string(i)));  // accepted, locally appended...
  c.run_checked(sim::milliseconds(500));
  INFO(c.describe());
  REQUIRE(c.client(old)->log_end_offset() == committed + 5);
  REQUIRE(c.client(old)->high_watermark() == committed);  // ...but never committed

  // Check-quorum: no fetches from a majority for 1.5 x fetch.timeout (3 s).
  REQUIRE(c.run_until([&] { return c.client(old)->state() == RaftState::resigned; }, sim::seconds(3)));
  REQUIRE(c.client(old)->stats().check_quorum_resignations == 1);
  REQUIRE(c.client(old)->high_watermark() == committed);
  // The majority (fetch.timeout 2 s, then one election) has a new leader.
  REQUIRE(c.run_until([&] { auto l = c.leader(); return l && *l != old; }, sim::seconds(3)));
  const NodeId fresh = *c.leader();
  REQUIRE(c.client(fresh)->epoch() > old_epoch);
  for (int i = 0; i < 4; ++i) REQUIRE(c.propose("new" + std::to_string(i)));
  c.run_checked(sim::milliseconds(300));

  c.w.network().heal();
  REQUIRE(c.run_until([&] { return c.converged(); }, sim::seconds(10)));
  // The old leader's suffix is gone; it holds the majority's entries instead.
  REQUIRE(c.client(old)->stats().truncations >= 1);
  REQUIRE(c.client(old)->stats().entries_truncated >= 5);
  for (const std::string& e : c.committed_user_entries()) REQUIRE(e.rfind("lost", 0) != 0);
  const auto user = c.committed_user_entries();
  REQUIRE(user == std::vector<std::string>{"ok0", "ok1", "ok2", "new0", "new1", "new2", "new3"});
  const auto a = c.client(old)->entries(Offset{0}, c.client(old)->log_end_offset());
  const auto b = c.client(*c.leader())->entries(Offset{0}, c.client(*c.leader())->log_end_offset());
  REQUIRE(a.size() == b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    REQUIRE(a[i].epoch == b[i].epoch);
    REQUIRE(*a[i].data == *b[i].data);
  }
  REQUIRE(c.violations.empty());
}

TEST_CASE("an observer follows the committed log without ever voting", "[raft][replication]") {
  RaftCluster c(61, /*voters=*/3, /*observers=*/1);
  const NodeId obs = c.observers[0];
  REQUIRE(c.run_until([&] { return c.one_leader(); }, sim::seconds(3)));
  for (int i = 0; i < 20; ++i) REQUIRE(c.propose("m" + std::to_string(i)));
  REQUIRE(c.run_until([&] { return c.converged(); }, sim::seconds(3)));
  // A leader change on the way: the observer finds the new leader by itself.
  const NodeId old = *c.leader();
  c.w.crash(old);
  REQUIRE(c.run_until([&] { return c.one_leader(); }, sim::seconds(5)));
  for (int i = 20; i < 30; ++i) REQUIRE(c.propose("m" + std::to_string(i)));
  c.w.restart(old);
  REQUIRE(c.run_until([&] { return c.converged(); }, sim::seconds(5)));

  auto o = c.client(obs);
  REQUIRE(o->state() == RaftState::follower);
  REQUIRE(o->leader() == c.leader());
  REQUIRE(o->stats().votes_granted == 0);
  REQUIRE(o->stats().elections_started == 0);
  REQUIRE_FALSE(o->voted_for().has_value());
  REQUIRE(c.next_commit[obs.value] == o->high_watermark().value);
  const auto user = c.committed_user_entries();
  REQUIRE(user.size() == 30);
  REQUIRE(c.violations.empty());
}

TEST_CASE("a restarted follower replays the committed log to its listener from offset 0", "[raft][replication]") {
  RaftCluster c(71);
  REQUIRE(c.run_until([&] { return c.one_leader(); }, sim::seconds(3)));
  for (int i = 0; i < 10; ++i) REQUIRE(c.propose("p" + std::to_string(i)));
  REQUIRE(c.run_until([&] { return c.converged(); }, sim::seconds(2)));
  NodeId f = c.voters[0] == *c.leader() ? c.voters[1] : c.voters[0];
  c.w.power_fail(f, /*torn=*/true);
  c.w.restart(f);
  REQUIRE(c.client(f)->high_watermark() == Offset{0});
  REQUIRE(c.run_until([&] { return c.converged(); }, sim::seconds(3)));
  REQUIRE(c.next_commit[f.value] == 11);  // delivered 0..10 again, in order
  REQUIRE(c.violations.empty());
}
