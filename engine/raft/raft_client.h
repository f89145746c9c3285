// RaftClient: the KRaft state machine of one node (Kafka's KafkaRaftClient).
//
// One simulated process per node, structured like Kafka's raft IO thread: a
// single fiber runs a poll loop that
//   1. handles queued events — incoming requests (delivered by a network
//      handler into the inbox) and replies to requests it sent;
//   2. polls the current state: timers (election, fetch, check-quorum,
//      back-off), requests to send, the leader's pending proposals to append,
//      parked long-poll fetches to answer;
//   3. hands newly committed entries to the commit listener, in offset order;
//   4. sleeps until the earliest deadline or the next event.
// Because only this fiber changes the state, a transition that blocks on the
// disk (persisting a vote, appending) is never interleaved with another one —
// exactly the single-threaded discipline that keeps Kafka's client simple.
// Readers (is_leader(), high_watermark(), entries()) and propose() may be
// called from any context; they never block.
//
// State transitions persist the election state (quorum_state.h) BEFORE they
// take effect; the log (raft_log.h) is flushed before anything in it is
// acknowledged. A crash loses only this object; the next incarnation rebuilds
// it from the disk.
//
// States, invariants and differences from Kafka: README.md in this folder.
#pragma once

#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "engine/common/errors.h"
#include "engine/common/types.h"
#include "engine/raft/directory_id.h"
#include "engine/raft/quorum_state.h"
#include "engine/raft/raft_config.h"
#include "engine/raft/raft_log.h"
#include "engine/raft/raft_messages.h"
#include "engine/raft/voter_set.h"
#include "sim/network.h"
#include "sim/rng.h"
#include "sim/sync.h"
#include "sim/world.h"

namespace ksim::raft {

enum class RaftRole : uint8_t { voter, observer };
enum class RaftState : uint8_t { unattached, voted, follower, prospective, candidate, leader, resigned };
const char* raft_state_name(RaftState s);

struct ProposeResult {
  Errc error = Errc::NONE;
  Offset offset = kNoOffset;  // where the entry will be, if it commits
};

// Counters for tests and reports.
struct RaftStats {
  uint64_t elections_started = 0, votes_granted = 0, truncations = 0, entries_truncated = 0;
  uint64_t check_quorum_resignations = 0;
  // Directory ids off: a node asked to truncate entries it had committed
  // (the committed-metadata loss KIP-853 prevents); it halts.
  uint64_t committed_truncations = 0;
};

// kafka-metadata-quorum describe --replication, from one node's view: the
// leader knows every replica's position; others know only their own.
struct ReplicaView {
  sim::NodeId id;
  DirectoryId directory_id;
  Offset log_end_offset{-1};  // -1: unknown to this node
};
struct QuorumDescription {
  std::optional<sim::NodeId> leader;
  QuorumEpoch epoch{0};
  Offset high_watermark{0};
  std::vector<ReplicaView> voters;     // the voter set, in id order
  std::vector<ReplicaView> observers;  // replicas that fetched from this leader but are no voter
};

class RaftClient {
 public:
  using CommitListener = std::function<void(const RaftEntry&)>;

  RaftClient(sim::World& world, sim::NodeId self, std::vector<sim::NodeId> voters, RaftRole role,
             RaftConfig config = {});
  RaftClient(const RaftClient&) = delete;
  RaftClient& operator=(const RaftClient&) = delete;

  // Called in offset order for every committed entry (LeaderChange control
  // entries included; listeners skip `control`), on leaders, followers and
  // observers, and from offset 0 again after a restart. Runs on the raft
  // fiber; must not block. Set before start().
  void set_commit_listener(CommitListener fn) { listener_ = std::move(fn); }
  // Registers the network handler and spawns the raft fiber.
  void start();

  // Leader only: queues `data` for the log in the current epoch and returns its
  // offset; NOT_LEADER_OR_FOLLOWER elsewhere (also on a resigned leader).
  ProposeResult propose(std::shared_ptr<const std::string> data);
  // Graceful resignation (Kafka's resign(epoch)): the leader steps down and
  // sends EndQuorumEpoch. No-op elsewhere.
  void resign();

  std::optional<sim::NodeId> leader() const { return leader_; }
  QuorumEpoch epoch() const { return epoch_; }
  RaftState state() const { return state_; }
  bool is_leader() const { return state_ == RaftState::leader && !halted_; }
  std::optional<sim::NodeId> voted_for() const { return voted_for_; }
  Offset high_watermark() const { return hw_; }
  Offset log_end_offset() const { return log_.end_offset(); }
  // Leader: proposals accepted but not yet appended (flushed) to the log.
  size_t pending_proposals() const { return pending_.size(); }
  QuorumEpoch last_log_epoch() const { return log_.last_epoch(); }
  // Entries [from, to) of the local (flushed) log, committed or not.
  std::vector<RaftEntry> entries(Offset from, Offset to) const { return log_.read(from, to); }
  bool halted() const { return halted_; }
  const RaftStats& stats() const { return stats_; }
  sim::NodeId id() const { return self_; }
  // A voter: configured as one AND (with directory ids) still the replica the
  // voter set names — false after the node came back with an empty disk.
  bool is_voter() const { return role_ == RaftRole::voter; }
  // Read from meta.properties when the raft fiber starts (the bootstrap id
  // until then, and for a node that was never re-formatted).
  DirectoryId directory_id() const { return directory_id_; }
  // The directory id the voter set records for voter `n`.
  DirectoryId voter_directory_id(sim::NodeId n) const { return voter_set_.directory_of(n); }
  QuorumDescription describe() const;

  // ---- KIP-853 dynamic quorum (kafka-metadata-quorum add-/remove-controller) ----
  // The voter set this replica uses: its log's latest VotersRecord, else the
  // bootstrap set (voter_set.h).
  const VoterSet& voter_set() const { return voter_set_; }
  // Offset of that VotersRecord; -1: the bootstrap set.
  Offset voters_record_offset() const {
    return voter_records_.empty() ? Offset{-1} : voter_records_.rbegin()->first;
  }
  struct VoterChange {
    Errc error = Errc::NONE;
    std::string message;        // why, when refused
    Offset offset = kNoOffset;  // the VotersRecord's offset: the change is done once the HW passes it
  };
  // Leader only (Kafka's AddVoterHandler / RemoveVoterHandler), from any
  // context: validates, then queues a VotersRecord with the new set, which
  // takes effect when appended and completes when committed. Refusals, in
  // Kafka's order: NOT_LEADER_OR_FOLLOWER; REQUEST_TIMED_OUT while another
  // change is pending or before the leader committed its epoch's first
  // entry; UNSUPPORTED_VERSION without directory ids (kraft.version 0);
  // REQUEST_TIMED_OUT while a VotersRecord is uncommitted; then
  // DUPLICATE_VOTER (the id votes already) / REQUEST_TIMED_OUT (the new
  // replica is no caught-up observer) for an add, VOTER_NOT_FOUND (no such
  // key, or the last voter) for a removal. A leader that removed itself
  // resigns once the record commits.
  VoterChange add_voter(VoterKey voter);
  VoterChange remove_voter(VoterKey voter);

 private:
  // Per-destination request bookkeeping (Kafka's RequestManager).
  struct Peer {
    bool in_flight = false;
    bool acked = false;  // Begin/EndQuorumEpoch acknowledged; Vote answered
    sim::Instant backoff_until;
  };
  // A leader's view of one replica.
  struct Replica {
    Offset end{0};
    bool fetched_this_epoch = false;
  };
  // A leader's view of an observer (Kafka's ReplicaState of observerStates).
  struct Observer {
    ReplicaView view;
    sim::Instant last_fetch;
    bool caught_up = false;  // fetched at the leader's log end at least once
  };
  struct ParkedFetch {
    sim::Incoming request;
    sim::Instant deadline;
    Offset hw_when_parked;
  };

  void run();
  void recover();
  void poll();
  void poll_leader();
  void poll_candidate();
  void poll_resigned();
  void poll_fetching();
  void start_backoff();
  void arm(sim::Instant t) { next_wake_ = std::min(next_wake_, t); }
  void deliver_committed();

  // Transitions (persist first; false on a disk error, which halts the node).
  bool transition(RaftState s, QuorumEpoch epoch, std::optional<sim::NodeId> leader,
                  std::optional<sim::NodeId> voted);
  void become_unattached(QuorumEpoch epoch);
  void become_follower(QuorumEpoch epoch, sim::NodeId leader);
  void become_candidate();
  // KIP-996: a voter that would stand first asks for pre-votes in its
  // current epoch (stand() picks Prospective or, without pre-vote, Candidate).
  void stand();
  void become_prospective();
  void prospective_lost();
  void poll_prospective();
  void on_pre_vote_response(sim::NodeId from, const sim::Reply& r, bool current);
  void become_leader();
  void become_resigned(std::vector<sim::NodeId> successors);
  // Reacts to an (epoch, leader) heard in any message: KafkaRaftClient.maybeTransition.
  void maybe_transition(QuorumEpoch epoch, std::optional<sim::NodeId> leader);
  void halt(const char* why);

  // Requests we answer.
  void handle_request(const sim::Incoming& in);
  void handle_vote(const sim::Incoming& in);
  void handle_begin_epoch(const sim::Incoming& in);
  void handle_end_epoch(const sim::Incoming& in);
  void handle_fetch(const sim::Incoming& in);
  void answer_fetch(const sim::Incoming& in, Offset fetch_offset);
  void fail_parked_fetches();
  QuorumView view(Errc e = Errc::NONE) const { return {e, epoch_, leader_}; }

  // Requests we send; the reply comes back through the inbox.
  void send(sim::NodeId dst, sim::KindId kind, sim::Payload payload, uint32_t size,
            std::function<void(const sim::Reply&, bool current)> on_reply);
  bool can_send(sim::NodeId dst) const;
  void on_vote_response(sim::NodeId from, const sim::Reply& r, bool current);
  void on_fetch_response(sim::NodeId from, Offset fetch_offset, const sim::Reply& r, bool current);

  void maybe_advance_leader_hw();
  void note_voter_fetch(sim::NodeId voter);
  sim::Duration random_election_timeout();
  sim::Duration election_backoff(int retries);
  bool is_voter_id(sim::NodeId n) const;
  // KIP-853's ReplicaKey match: the id is a voter's and (with directory ids)
  // so is the directory.
  bool is_voter_key(sim::NodeId n, DirectoryId dir) const;
  size_t majority() const { return voters_.size() / 2 + 1; }
  // Re-derives the voter set and this node's role from the log (after every
  // append, truncation and recovery).
  void refresh_voters();
  // A `note` event in the trace on this node (voter set and role changes).
  void trace_note(const std::string& text);
  VoterChange append_voters(const VoterSet& next, const char* what);
  VoterChange voter_change_refused() const;
  bool voter_change_pending() const { return pending_voter_change_ >= Offset{0} && hw_ <= pending_voter_change_; }

  sim::World& world_;
  sim::Network& net_;
  sim::NodeId self_;
  std::vector<sim::NodeId> voters_;  // voter_set_'s ids, sorted
  VoterSet bootstrap_voters_, voter_set_;
  std::map<Offset, VoterSet> voter_records_;  // the VotersRecords in the log, by offset
  Offset voters_scanned_{0};                  // the log below this was scanned for them
  Offset pending_voter_change_{-1};           // leader: the VotersRecord it proposed last
  RaftRole role_;
  RaftConfig config_;
  DirectoryId directory_id_;
  sim::Rng rng_;
  sim::KindId kind_vote_, kind_begin_, kind_end_, kind_fetch_;
  sim::KindId kind_vote_resp_, kind_begin_resp_, kind_end_resp_, kind_fetch_resp_;
  CommitListener listener_;

  QuorumStateStore store_;
  RaftLog log_;
  ElectionState persisted_;

  // The election state (mirrors persisted_ once a transition completes).
  RaftState state_ = RaftState::unattached;
  QuorumEpoch epoch_{0};
  std::optional<sim::NodeId> leader_, voted_for_;
  uint64_t generation_ = 0;  // bumped by every transition: replies to older ones are stale
  bool started_ = false, halted_ = false;

  Offset hw_{0};       // high watermark (exclusive): entries below it are committed
  Offset applied_{0};  // next entry for the commit listener

  // Timers of the current state.
  sim::Instant state_deadline_;  // election timeout / fetch timeout / candidate back-off end
  bool backing_off_ = false;     // candidate lost; waiting before the next epoch
  int retries_ = 0;              // consecutive candidacies
  // Follower: fetched from the leader in this state, and the leader has not
  // resigned (EndQuorumEpoch): it is alive, so pre-votes are refused.
  bool leader_alive_ = false;
  std::map<sim::NodeId, Peer> peers_;

  // Candidate.
  std::set<sim::NodeId> granted_, rejected_;

  // Leader.
  std::map<sim::NodeId, Replica> replicas_;
  std::map<sim::NodeId, Observer> observers_;  // fetchers that are no voter
  Offset epoch_start_offset_{0};
  std::set<sim::NodeId> fetched_voters_;
  sim::Instant check_quorum_deadline_;
  std::vector<RaftEntry> pending_;  // proposed, not yet appended
  Offset next_offset_{0};
  bool resign_requested_ = false;
  bool stepping_down_ = false;  // between deciding to leave leadership and persisting it
  std::vector<ParkedFetch> parked_;
  std::vector<sim::NodeId> successors_;  // Resigned: preferred successors
  sim::Instant begin_epoch_deadline_;    // next BeginQuorumEpoch round (every fetch.timeout/2)

  // Follower / observer fetching.
  bool fetch_in_flight_ = false;
  sim::Instant fetch_retry_at_;
  bool leader_unreachable_ = false;  // observer: ask other voters for the leader
  size_t voter_cursor_ = 0;

  // The event loop.
  std::deque<std::function<void()>> inbox_;
  sim::WaitQueue wake_;
  sim::Instant next_wake_;
  RaftStats stats_;
};

}  // namespace ksim::raft
