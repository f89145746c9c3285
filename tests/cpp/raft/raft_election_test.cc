// Elections: one leader per epoch, found quickly; a crashed leader replaced by
// a higher epoch; a vote that survives a crash; graceful resignation.
#include <catch2/catch.hpp>

#include "raft_cluster.h"

using namespace raft_test;
using ksim::Offset;
using ksim::QuorumEpoch;
using ksim::raft::RaftState;
using ksim::raft::VoteRequest;
using ksim::raft::VoteResponse;

TEST_CASE("three voters elect exactly one leader within 3 seconds", "[raft][election]") {
  for (uint64_t seed = 1; seed <= 10; ++seed) {
    CAPTURE(seed);
    RaftCluster c(seed);
    REQUIRE(c.run_until([&] { return c.one_leader(); }, sim::seconds(3)));
    const NodeId l = *c.leader();
    const QuorumEpoch epoch = c.client(l)->epoch();
    // ...and the others follow it in its epoch once BeginQuorumEpoch arrives.
    c.run_checked(sim::milliseconds(200));
    for (NodeId n : c.voters) {
      REQUIRE(c.client(n)->epoch() == epoch);
      REQUIRE(c.client(n)->leader() == l);
      REQUIRE(c.client(n)->state() == (n == l ? RaftState::leader : RaftState::follower));
    }
    REQUIRE(c.violations.empty());
  }
}

TEST_CASE("the leader crashes: a new leader in a higher epoch keeps every committed entry", "[raft][election]") {
  RaftCluster c(11);
  REQUIRE(c.run_until([&] { return c.one_leader(); }, sim::seconds(3)));
  for (int i = 0; i < 10; ++i) REQUIRE(c.propose("before-" + std::to_string(i)));
  REQUIRE(c.run_until([&] { return c.converged(); }, sim::seconds(2)));
  const NodeId old = *c.leader();
  const QuorumEpoch old_epoch = c.client(old)->epoch();
  const Offset committed = c.client(old)->high_watermark();

  c.w.crash(old);
  const sim::Instant crashed_at = c.w.now();
  // Followers notice after fetch.timeout (2 s), stand after it; an election
  // takes one round trip (plus, at worst, a back-off and a second round).
  const bool elected = c.run_until([&] { return c.one_leader(); }, sim::seconds(5));
  INFO(c.describe());
  REQUIRE(elected);
  INFO("took " << (c.w.now() - crashed_at).ms() << " ms");
  const NodeId fresh = *c.leader();
  REQUIRE(fresh != old);
  REQUIRE(c.client(fresh)->epoch() > old_epoch);
  REQUIRE(c.propose("after"));
  c.run_checked(sim::milliseconds(100));
  REQUIRE(c.client(fresh)->high_watermark() > committed);
  const auto log = c.client(fresh)->entries(Offset{0}, committed);
  REQUIRE(c.committed_user_entries().size() == 11);
  int seen = 0;
  for (const auto& e : log)
    if (!e.control) REQUIRE(*e.data == "before-" + std::to_string(seen++));
  REQUIRE(seen == 10);

  c.w.restart(old);  // rejoins as a follower and catches up
  REQUIRE(c.run_until([&] { return c.converged(); }, sim::seconds(5)));
  REQUIRE(c.violations.empty());
}

TEST_CASE("a voter that crashes right after voting keeps its vote after restart", "[raft][election]") {
  // Pre-votes ride on the Vote API too: holding every VoteResponse would stop
  // the election at Prospective, before anybody votes. This story is about a
  // real vote's durability, so it runs without pre-vote.
  RaftConfig no_pre_vote;
  no_pre_vote.pre_vote = false;
  RaftCluster c(21, 3, 0, no_pre_vote);
  sim::Network& net = c.w.network();
  // Only two voters run; every Vote response is held, so nobody wins and the
  // vote we are about to watch stays the only one of its epoch.
  c.w.crash(c.voters[2]);
  sim::RuleMatch vote_responses;
  vote_responses.kind = net.kind("VoteResponse");
  vote_responses.dir = sim::Direction::response;
  const auto hold = net.add_rule(vote_responses, sim::RuleAction::hold, 0);
  NodeId voter{}, candidate{};
  REQUIRE(c.run_until(
      [&] {
        for (NodeId n : {c.voters[0], c.voters[1]})
          if (auto cl = c.client(n); cl && cl->state() == RaftState::voted) {
            voter = n;
            candidate = *cl->voted_for();
            return true;
          }
        return false;
      },
      sim::seconds(5)));
  const QuorumEpoch epoch = c.client(voter)->epoch();
  c.w.crash(voter);  // right after the vote was persisted; its response never left
  net.remove_rule(hold);
  // Keep the candidate from simply asking again (and winning) meanwhile.
  sim::RuleMatch from_candidate;
  from_candidate.src = candidate;
  from_candidate.kind = net.kind("Vote");
  net.add_rule(from_candidate, sim::RuleAction::drop, 0);
  c.w.restart(voter);
  c.run_checked(sim::milliseconds(20));  // recovery from quorum-state + log
  REQUIRE(c.client(voter)->epoch() == epoch);
  REQUIRE(c.client(voter)->voted_for() == candidate);
  REQUIRE(c.client(voter)->state() == RaftState::voted);

  // A rival (the third voter's id, an equally good empty log) asks for a vote
  // in the same epoch: refused. The original candidate asking again: granted.
  const NodeId probe = c.w.add_node("probe", [](NodeId) { return std::shared_ptr<void>(); });
  c.w.start(probe);
  auto ask = [&](NodeId who) {
    auto granted = std::make_shared<std::optional<bool>>();
    c.w.spawn(probe, "ask", [&net, granted, probe, voter, who, epoch] {
      auto req = std::make_shared<const VoteRequest>(VoteRequest{epoch, who, QuorumEpoch{0}, Offset{0}});
      const sim::Reply r = net.call_sync(probe, voter, net.kind("Vote"), req, 64, sim::seconds(1));
      if (r.status == sim::CallStatus::ok) *granted = static_cast<const VoteResponse*>(r.payload.get())->vote_granted;
    });
    c.run_checked(sim::milliseconds(10));
    REQUIRE(granted->has_value());
    return **granted;
  };
  REQUIRE_FALSE(ask(c.voters[2]));
  INFO(c.describe());
  REQUIRE(ask(candidate));
  REQUIRE(c.client(voter)->epoch() == epoch);  // all of this happened in that one epoch
  REQUIRE(c.client(voter)->voted_for() == candidate);
  REQUIRE(c.violations.empty());
}

TEST_CASE("a leader that resigns hands over to a caught-up voter", "[raft][election]") {
  RaftCluster c(31);
  REQUIRE(c.run_until([&] { return c.one_leader(); }, sim::seconds(3)));
  for (int i = 0; i < 5; ++i) REQUIRE(c.propose("r" + std::to_string(i)));
  REQUIRE(c.run_until([&] { return c.converged(); }, sim::seconds(2)));
  const NodeId old = *c.leader();
  const QuorumEpoch epoch = c.client(old)->epoch();
  c.client(old)->resign();
  REQUIRE(c.client(old)->propose(std::make_shared<const std::string>("late")).error ==
          ksim::Errc::NOT_LEADER_OR_FOLLOWER);
  // EndQuorumEpoch makes the first preferred successor stand at once: far
  // sooner than fetch.timeout.
  REQUIRE(c.run_until([&] { auto l = c.leader(); return l && *l != old; }, sim::milliseconds(500)));
  REQUIRE(c.client(*c.leader())->epoch() > epoch);
  REQUIRE(c.run_until([&] { return c.converged(); }, sim::seconds(2)));
  REQUIRE(c.committed_user_entries().size() == 5);
  REQUIRE(c.violations.empty());
}
