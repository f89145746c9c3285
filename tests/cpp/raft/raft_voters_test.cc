// KIP-853 dynamic quorums at the raft layer: the voter set is the latest
// VotersRecord in a replica's log (bootstrap set before any), a change takes
// effect on append, is undone by truncation, and completes on commit; one
// change at a time; a removed leader resigns once its removal commits.
#include <catch2/catch.hpp>

#include "engine/raft/voter_set.h"
#include "raft_cluster.h"
#include "sim/disk.h"

using namespace raft_test;
using ksim::Errc;
using ksim::Offset;
using ksim::raft::DirectoryId;
using ksim::raft::VoterKey;
using ksim::raft::VoterSet;

namespace {

VoterKey key_of(const RaftCluster& c, NodeId n) { return {n, c.client(n)->directory_id()}; }

bool committed(const RaftCluster& c, NodeId leader, Offset record) {
  auto l = c.client(leader);
  return l && l->high_watermark() > record;
}

// The trace's `note` texts on node `n`, oldest first (what a reader of the
// trace sees of voter-set and role changes).
std::vector<std::string> notes_of(const RaftCluster& c, NodeId n) {
  std::vector<std::string> out;
  for (const sim::TraceEvent& e : c.w.trace().kept())
    if (e.kind == sim::ev::note && e.node == n.value) out.push_back(c.w.trace().text(e.a));
  return out;
}

bool has_note(const RaftCluster& c, NodeId n, const std::string& text) {
  for (const std::string& t : notes_of(c, n))
    if (t.find(text) != std::string::npos) return true;
  return false;
}

// Elects a leader and commits one entry everywhere; returns the leader.
NodeId settle(RaftCluster& c) {
  REQUIRE(c.run_until([&] { return c.one_leader(); }, sim::seconds(3)));
  REQUIRE(c.propose("x"));
  REQUIRE(c.run_until([&] { return c.converged(); }, sim::seconds(2)));
  return *c.leader();
}

std::vector<NodeId> followers_of(const RaftCluster& c, NodeId leader) {
  std::vector<NodeId> out;
  for (NodeId v : c.voters)
    if (v != leader) out.push_back(v);
  return out;
}

}  // namespace

TEST_CASE("a VotersRecord round-trips and refuses what Kafka's VoterSet refuses", "[raft][voters]") {
  const VoterSet s({{NodeId{2}, DirectoryId{0xb}}, {NodeId{0}, DirectoryId{0xa}}});
  REQUIRE(s.encode() == "VotersRecord(voters=0:000000000000000a,2:000000000000000b)");
  REQUIRE(VoterSet::decode(s.encode()) == s);
  REQUIRE_FALSE(VoterSet::decode("LeaderChange(leader=1, epoch=2)").has_value());
  REQUIRE_FALSE(VoterSet::decode("VotersRecord(voters=1:zz)").has_value());
  REQUIRE_FALSE(s.with({NodeId{2}, DirectoryId{0xc}}).has_value());     // the id votes already
  REQUIRE_FALSE(s.without({NodeId{2}, DirectoryId{0xc}}).has_value());  // not that key
  REQUIRE(s.without({NodeId{2}, DirectoryId{0xb}})->ids() == std::vector<NodeId>{NodeId{0}});
  REQUIRE_FALSE(VoterSet({{NodeId{0}, DirectoryId{0xa}}}).without({NodeId{0}, DirectoryId{0xa}}).has_value());
}

TEST_CASE("removing a follower shrinks the majority on append and every replica applies it from its log",
          "[raft][voters]") {
  RaftCluster c(11, 3, 1);
  const NodeId l = settle(c);
  const std::vector<NodeId> followers = followers_of(c, l);
  const NodeId gone = followers[0], other = followers[1];
  const auto change = c.client(l)->remove_voter(key_of(c, gone));
  REQUIRE(change.error == Errc::NONE);
  // One at a time: a second change waits for the first to commit.
  REQUIRE(c.client(l)->remove_voter(key_of(c, other)).error == Errc::REQUEST_TIMED_OUT);
  REQUIRE(c.run_until([&] { return committed(c, l, change.offset); }, sim::seconds(2)));
  c.run_checked(sim::milliseconds(500));
  REQUIRE(c.violations.empty());
  for (NodeId n : c.nodes) {
    INFO("node " << n.value);
    REQUIRE(c.client(n)->voter_set().size() == 2);
    REQUIRE_FALSE(c.client(n)->voter_set().has_id(gone));
  }
  REQUIRE_FALSE(c.client(gone)->is_voter());
  // The trace says so in words on every replica, and the removed one says it observes now.
  const std::string record = "raft voters " + c.client(l)->voter_set().encode() + " from the VotersRecord at offset " +
                             std::to_string(change.offset.value);
  for (NodeId n : c.nodes) {
    INFO("node " << n.value);
    REQUIRE(has_note(c, n, record));
  }
  REQUIRE(has_note(c, gone, "raft role observer"));
  REQUIRE_FALSE(has_note(c, other, "raft role observer"));
  // Two voters left, one of them down: no commit; the removed node does not count.
  const Offset hw = c.client(l)->high_watermark();
  c.w.crash(other);
  REQUIRE(c.propose("needs the other voter"));
  c.run_checked(sim::milliseconds(1500));
  REQUIRE(c.client(l)->high_watermark() == hw);
}

TEST_CASE("a wiped voter is re-added under its new directory id once it has caught up", "[raft][voters]") {
  RaftCluster c(12, 3, 0);
  const NodeId l = settle(c);
  const NodeId f = c.voters[0] == l ? c.voters[1] : c.voters[0];
  const DirectoryId old_dir = c.client(f)->directory_id();
  c.w.crash(f);
  sim::Disk& d = c.w.disk(f);
  d.replace();
  const std::string props = ksim::raft::encode_meta_properties(static_cast<int32_t>(f.value),
                                                               ksim::raft::formatted_directory_id(c.w, f, 1));
  d.install(ksim::raft::kMetaPropertiesFile,
            std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(props.data()), props.size()));
  c.epoch_seen.erase(f.value);
  c.w.restart(f);
  c.run_checked(sim::milliseconds(1000));
  REQUIRE_FALSE(c.client(f)->is_voter());
  const VoterKey fresh = key_of(c, f);
  REQUIRE(fresh.directory_id != old_dir);
  // Same id as a voter: remove the old key first.
  REQUIRE(c.client(l)->add_voter(fresh).error == Errc::DUPLICATE_VOTER);
  const auto removal = c.client(l)->remove_voter({f, old_dir});
  REQUIRE(removal.error == Errc::NONE);
  REQUIRE(c.run_until([&] { return committed(c, l, removal.offset); }, sim::seconds(2)));
  c.run_checked(sim::milliseconds(200));
  const auto addition = c.client(l)->add_voter(fresh);
  REQUIRE(addition.error == Errc::NONE);
  REQUIRE(c.run_until([&] { return committed(c, l, addition.offset); }, sim::seconds(2)));
  c.run_checked(sim::milliseconds(500));
  REQUIRE(c.client(f)->is_voter());
  REQUIRE(c.client(l)->voter_set().has_key(f, fresh.directory_id, true));
  REQUIRE(c.violations.empty());
}

TEST_CASE("a removed leader resigns once the removal commits and the others elect a successor", "[raft][voters]") {
  RaftCluster c(13, 3, 0);
  const NodeId l = settle(c);
  const auto change = c.client(l)->remove_voter(key_of(c, l));
  REQUIRE(change.error == Errc::NONE);
  REQUIRE(c.run_until([&] { return c.leader() && *c.leader() != l; }, sim::seconds(5)));
  c.run_checked(sim::milliseconds(2000));
  REQUIRE(c.violations.empty());
  REQUIRE_FALSE(c.client(l)->is_voter());
  REQUIRE(c.client(*c.leader())->voter_set().size() == 2);
  REQUIRE(c.client(*c.leader())->high_watermark() > change.offset);
}

TEST_CASE("without directory ids the voter set cannot change", "[raft][voters]") {
  RaftConfig cfg;
  cfg.directory_ids = false;
  RaftCluster c(14, 3, 0, cfg);
  const NodeId l = settle(c);
  REQUIRE(c.client(l)->remove_voter(key_of(c, l)).error == Errc::UNSUPPORTED_VERSION);
  const NodeId f = c.voters[0] == l ? c.voters[1] : c.voters[0];
  REQUIRE(c.client(f)->remove_voter(key_of(c, l)).error == Errc::NOT_LEADER_OR_FOLLOWER);
}

TEST_CASE("a deposed leader's uncommitted VotersRecord is truncated away and its voter set reverts",
          "[raft][voters]") {
  RaftCluster c(15, 3, 0);
  const NodeId l = settle(c);
  const std::vector<NodeId> followers = followers_of(c, l);
  const VoterSet bootstrap = c.client(l)->voter_set();
  // The leader is cut off from both followers: its removal of one is appended
  // (and in effect in its own log at once) but can never commit.
  c.w.network().partition({{l}, followers});
  const auto change = c.client(l)->remove_voter(key_of(c, followers[0]));
  REQUIRE(change.error == Errc::NONE);
  REQUIRE(c.run_until([&] { return c.client(l)->voter_set().size() == 2; }, sim::seconds(1)));
  REQUIRE(c.client(l)->high_watermark() <= change.offset);
  // The followers, still on the bootstrap set, elect one of them.
  REQUIRE(c.run_until([&] {
    auto n = c.leader();
    return n && *n != l;
  }, sim::seconds(10)));
  c.w.network().heal();
  REQUIRE(c.propose("after the heal"));
  REQUIRE(c.run_until([&] { return c.converged(); }, sim::seconds(5)));
  c.run_checked(sim::milliseconds(200));
  REQUIRE(c.violations.empty());
  // The old leader fetched the new leader's log: the record went with the truncation.
  REQUIRE(c.client(l)->voter_set() == bootstrap);
  REQUIRE(c.client(l)->voters_record_offset() == Offset{-1});
  REQUIRE(c.client(l)->is_voter());
  REQUIRE(has_note(c, l, "raft voters " + bootstrap.encode() + " from the bootstrap set"));
  for (NodeId f : followers) REQUIRE(notes_of(c, f).empty());  // their set never changed
}

TEST_CASE("a new leader refuses voter changes until its epoch's LeaderChange has committed", "[raft][voters]") {
  RaftCluster c(16, 3, 0);
  REQUIRE(c.run_until([&] { return c.one_leader(); }, sim::seconds(3)));
  REQUIRE(c.propose("x"));
  REQUIRE(c.run_until([&] { return c.converged(); }, sim::seconds(2)));
  const NodeId old = *c.leader();
  const VoterKey old_key = key_of(c, old);
  const Offset before = c.client(old)->log_end_offset();  // the new epoch's LeaderChange goes here or above
  const auto old_epoch = c.client(old)->epoch();
  // The leader dies, and no follower's fetch gets through from now on: the
  // survivors can elect (votes flow) but the new leader's LeaderChange
  // cannot commit.
  sim::Network& net = c.w.network();
  sim::RuleMatch fetches;
  fetches.kind = net.kind("MetadataFetch");
  fetches.dir = sim::Direction::request;
  const auto drop = net.add_rule(fetches, sim::RuleAction::drop, 0);
  c.w.crash(old);
  REQUIRE(c.run_until([&] { return c.leader().has_value(); }, sim::seconds(5)));
  const NodeId fresh = *c.leader();
  REQUIRE(c.client(fresh)->epoch() > old_epoch);
  REQUIRE(c.client(fresh)->high_watermark() <= before);
  const auto early = c.client(fresh)->remove_voter(old_key);
  REQUIRE(early.error == Errc::REQUEST_TIMED_OUT);
  REQUIRE(early.message.find("has not committed an entry of its epoch") != std::string::npos);
  // Fetches flow again: a leader (this one, or a successor if check-quorum
  // deposed it meanwhile) commits its epoch, and the same request is accepted.
  net.remove_rule(drop);
  REQUIRE(c.run_until([&] {
    auto l = c.leader();
    if (!l) return false;
    auto lc = c.client(*l);
    return lc->log_end_offset() > before && lc->high_watermark() == lc->log_end_offset();
  }, sim::seconds(5)));
  const NodeId leader = *c.leader();
  const auto later = c.client(leader)->remove_voter(old_key);
  REQUIRE(later.error == Errc::NONE);
  REQUIRE(c.run_until([&] { return committed(c, leader, later.offset); }, sim::seconds(2)));
  c.run_checked(sim::milliseconds(200));
  REQUIRE(c.violations.empty());
  REQUIRE_FALSE(c.client(leader)->voter_set().has_id(old));
}
