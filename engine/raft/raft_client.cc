#include "engine/raft/raft_client.h"

#include <algorithm>
#include <tuple>

#include "sim/error.h"

namespace ksim::raft {

using sim::Duration;
using sim::Incoming;
using sim::Instant;
using sim::NodeId;
using sim::Reply;

namespace {

template <class T>
const T& body(const sim::Payload& p) {
  SIM_ASSERT(p != nullptr, "raft message without a body");
  return *static_cast<const T*>(p.get());
}

template <class T>
sim::Payload make(T v) {
  return std::make_shared<const T>(std::move(v));
}

constexpr size_t kFetchMaxBytes = 1 << 20;
constexpr uint32_t kSmallMessage = 64;  // bytes on the wire for the fixed-size RPCs

}  // namespace

const char* raft_state_name(RaftState s) {
  switch (s) {
    case RaftState::unattached: return "Unattached";
    case RaftState::voted: return "Voted";
    case RaftState::follower: return "Follower";
    case RaftState::prospective: return "Prospective";
    case RaftState::candidate: return "Candidate";
    case RaftState::leader: return "Leader";
    case RaftState::resigned: return "Resigned";
  }
  return "?";
}

RaftClient::RaftClient(sim::World& world, NodeId self, std::vector<NodeId> voters, RaftRole role,
                       RaftConfig config)
    : world_(world),
      net_(world.network()),
      self_(self),
      voters_(std::move(voters)),
      role_(role),
      config_(config),
      directory_id_(bootstrap_directory_id(world, self)),
      rng_(world.rng("raft/" + std::to_string(self.value))),
      kind_vote_(net_.kind("Vote")),
      kind_begin_(net_.kind("BeginQuorumEpoch")),
      kind_end_(net_.kind("EndQuorumEpoch")),
      kind_fetch_(net_.kind("MetadataFetch")),
      // Responses are "<Api>Response", as everywhere in ksim: scripts hold or
      // drop them by API name and direction.
      kind_vote_resp_(net_.kind("VoteResponse")),
      kind_begin_resp_(net_.kind("BeginQuorumEpochResponse")),
      kind_end_resp_(net_.kind("EndQuorumEpochResponse")),
      kind_fetch_resp_(net_.kind("MetadataFetchResponse")),
      store_(world.disk(self)),
      log_(world.disk(self)),
      wake_(world) {
  SIM_ASSERT(!voters_.empty(), "a raft quorum needs voters");
  SIM_ASSERT(std::is_sorted(voters_.begin(), voters_.end()) &&
                 std::adjacent_find(voters_.begin(), voters_.end()) == voters_.end(),
             "voter ids must be sorted and distinct");
  SIM_ASSERT((role_ == RaftRole::voter) == is_voter_id(self_),
             "a voter must be in the voter set and an observer must not");
  std::vector<VoterKey> keys;
  for (NodeId v : voters_) keys.push_back({v, bootstrap_directory_id(world_, v)});
  bootstrap_voters_ = VoterSet(std::move(keys));
  voter_set_ = bootstrap_voters_;
}

bool RaftClient::is_voter_id(NodeId n) const { return std::binary_search(voters_.begin(), voters_.end(), n); }

bool RaftClient::is_voter_key(NodeId n, DirectoryId dir) const {
  return voter_set_.has_key(n, dir, config_.directory_ids);
}

void RaftClient::refresh_voters() {
  const Offset end = log_.end_offset();
  // A truncation took the records at or above the new end with it.
  voter_records_.erase(voter_records_.lower_bound(end), voter_records_.end());
  if (voters_scanned_ > end) voters_scanned_ = end;
  if (voters_scanned_ < end) {
    for (const RaftEntry& e : log_.read(voters_scanned_, end))
      if (e.control && e.data && VoterSet::is_voters_record(*e.data))
        if (auto set = VoterSet::decode(*e.data)) voter_records_.insert_or_assign(e.offset, std::move(*set));
    voters_scanned_ = end;
  }
  const VoterSet& current = voter_records_.empty() ? bootstrap_voters_ : voter_records_.rbegin()->second;
  if (!(current == voter_set_)) {
    voter_set_ = current;
    voters_ = voter_set_.ids();
    world_.probe("raft/voter_set_changed");
    // In words for a reader of the trace: which set, and where it came from
    // (a record appended or fetched, or the bootstrap set after a truncation).
    trace_note("raft voters " + voter_set_.encode() + " from " +
               (voter_records_.empty() ? std::string("the bootstrap set")
                                       : "the VotersRecord at offset " + std::to_string(voters_record_offset().value)));
    if (state_ == RaftState::leader) {
      // A new voter's position is what it fetched as an observer.
      for (NodeId v : voters_) {
        if (v == self_ || replicas_.contains(v)) continue;
        Replica r;
        if (auto o = observers_.find(v); o != observers_.end() && o->second.view.directory_id == voter_set_.directory_of(v)) {
          r.end = o->second.view.log_end_offset;
          r.fetched_this_epoch = true;
          observers_.erase(o);
        }
        replicas_[v] = r;
      }
      std::erase_if(replicas_, [&](const auto& kv) { return !is_voter_id(kv.first); });
    }
  }
  // KIP-853: a node is a voter only while the set names its (id, directory):
  // back on an empty disk (a new directory id) its log cannot vouch for what
  // the old replica acknowledged, so it is an observer until it is added.
  const RaftRole role = voter_set_.has_key(self_, directory_id_, config_.directory_ids) ? RaftRole::voter : RaftRole::observer;
  if (role != role_) {
    world_.probe(role == RaftRole::voter ? "raft/became_voter" : "raft/became_observer");
    trace_note(std::string(role == RaftRole::voter ? "raft role voter" : "raft role observer") + " (directory " +
               directory_id_.str() + ")");
    if (role == RaftRole::observer && is_voter_id(self_)) world_.probe("raft/voter_with_new_directory_is_observer");
    role_ = role;
  }
}

void RaftClient::trace_note(const std::string& text) {
  sim::Trace& t = world_.trace();
  t.record(sim::ev::note, world_.now(), self_.value, t.intern(text));
}

QuorumDescription RaftClient::describe() const {
  QuorumDescription d;
  d.leader = leader_;
  d.epoch = epoch_;
  d.high_watermark = hw_;
  const bool leading = state_ == RaftState::leader;
  for (NodeId v : voters_) {
    ReplicaView r{v, voter_directory_id(v), Offset{-1}};
    if (v == self_) {
      if (role_ == RaftRole::voter) r.log_end_offset = log_.end_offset();
    } else if (leading) {
      if (auto it = replicas_.find(v); it != replicas_.end() && it->second.fetched_this_epoch) r.log_end_offset = it->second.end;
    }
    d.voters.push_back(r);
  }
  if (leading)
    for (const auto& [id, o] : observers_) d.observers.push_back(o.view);
  return d;
}

void RaftClient::start() {
  SIM_ASSERT(!started_, "RaftClient started twice");
  started_ = true;
  // Requests arrive on the main context; queue them for the raft fiber.
  net_.set_handler(self_, [this](Incoming&& in) {
    inbox_.push_back([this, in = std::move(in)] { handle_request(in); });
    wake_.notify_one();
  });
  world_.spawn(self_, "raft", [this] { run(); });
}

// ---- the poll loop ------------------------------------------------------------------------

void RaftClient::run() {
  recover();
  for (;;) {
    while (!inbox_.empty() && !halted_) {
      auto event = std::move(inbox_.front());
      inbox_.pop_front();
      event();
    }
    if (halted_) return;
    next_wake_ = Instant::max();
    const uint64_t before = generation_;
    poll();
    if (halted_) return;
    deliver_committed();
    // A transition or new proposals mean there is more to do right away.
    if (generation_ != before || !inbox_.empty() || (is_leader() && !pending_.empty())) continue;
    if (next_wake_ <= world_.now()) continue;
    wake_.wait(next_wake_ == Instant::max() ? std::nullopt : std::optional<Instant>(next_wake_));
  }
}

void RaftClient::recover() {
  sim::Disk& disk = world_.disk(self_);
  if (disk.exists(kMetaPropertiesFile)) {
    const auto bytes = disk.contents(kMetaPropertiesFile);
    const auto dir = decode_directory_id(std::string(bytes.begin(), bytes.end()));
    if (!dir) throw sim::SimError("node " + std::to_string(self_.value) + ": meta.properties has no directory.id");
    directory_id_ = *dir;
  }
  log_.recover();
  // The voter set from the log (a wiped node: the bootstrap set, which names
  // its old directory, so it comes back an observer).
  refresh_voters();
  const ElectionState s = store_.load();
  persisted_ = s;
  if (log_.last_epoch() > s.epoch) {
    // The log saw an epoch the state file does not know (Kafka: "log epoch is
    // ahead"); start from there, knowing nothing else about it.
    become_unattached(log_.last_epoch());
    return;
  }
  if (s.leader && *s.leader == self_ && role_ == RaftRole::voter) {
    // A leader cannot resume after a restart: its volatile replication state is
    // gone. It resigns and lets the quorum elect again.
    transition(RaftState::resigned, s.epoch, s.leader, s.voted_for);
    for (NodeId v : voters_)
      if (v != self_) successors_.push_back(v);
  } else if (s.leader && *s.leader != self_) {
    transition(RaftState::follower, s.epoch, s.leader, s.voted_for);
  } else if (s.voted_for && role_ == RaftRole::voter) {
    transition(RaftState::voted, s.epoch, std::nullopt, s.voted_for);
  } else {
    transition(RaftState::unattached, s.epoch, std::nullopt, std::nullopt);
  }
}

void RaftClient::poll() {
  const Instant now = world_.now();
  switch (state_) {
    case RaftState::leader: poll_leader(); return;
    case RaftState::candidate: poll_candidate(); return;
    case RaftState::prospective: poll_prospective(); return;
    case RaftState::resigned: poll_resigned(); return;
    case RaftState::follower:
      if (role_ == RaftRole::voter) {
        if (now >= state_deadline_) return stand();  // no leader heard for fetch.timeout
        arm(state_deadline_);
      } else if (now >= state_deadline_) {
        leader_unreachable_ = true;  // observer: look for the leader elsewhere
      }
      poll_fetching();
      return;
    case RaftState::unattached:
    case RaftState::voted:
      if (role_ == RaftRole::voter) {
        if (now >= state_deadline_) return stand();
        arm(state_deadline_);
      } else {
        poll_fetching();  // an observer asks the voters who leads
      }
      return;
  }
}

void RaftClient::deliver_committed() {
  SIM_ASSERT(hw_ <= log_.end_offset(), "high watermark beyond the log end");
  while (applied_ < hw_) {
    const RaftEntry e = log_.at(applied_);
    applied_ = applied_ + 1;
    if (listener_) listener_(e);
  }
}

// ---- transitions ----------------------------------------------------------------------------

bool RaftClient::transition(RaftState s, QuorumEpoch epoch, std::optional<NodeId> leader,
                            std::optional<NodeId> voted) {
  SIM_ASSERT(epoch >= epoch_, "epochs never decrease");
  SIM_ASSERT(!(epoch == epoch_ && leader_ && leader && *leader_ != *leader), "two leaders in one epoch");
  SIM_ASSERT(!(epoch == epoch_ && voted_for_ && voted && *voted_for_ != *voted), "two votes in one epoch");
  const bool was_leader = state_ == RaftState::leader;
  if (was_leader) stepping_down_ = true;  // propose() refuses while we persist
  const ElectionState next{epoch, voted, leader};
  if (next != persisted_) {
    if (store_.store(next) != sim::DiskStatus::ok) {
      halt("cannot persist quorum-state");
      return false;
    }
    persisted_ = next;
  }
  const Instant now = world_.now();
  state_ = s;
  epoch_ = epoch;
  leader_ = leader;
  voted_for_ = voted;
  ++generation_;
  stepping_down_ = false;
  peers_.clear();
  granted_.clear();
  rejected_.clear();
  backing_off_ = false;
  resign_requested_ = false;
  fetch_in_flight_ = false;
  fetch_retry_at_ = now;
  leader_unreachable_ = false;
  leader_alive_ = false;
  state_deadline_ = now + (s == RaftState::follower ? config_.fetch_timeout : random_election_timeout());
  if (was_leader) {
    pending_.clear();  // never appended: these offsets will hold other entries
    replicas_.clear();
    fail_parked_fetches();  // tell the parked fetchers about the new epoch
  }
  world_.probe(std::string("raft/to_") + raft_state_name(s));
  return true;
}

void RaftClient::become_unattached(QuorumEpoch epoch) {
  // Kafka keeps the running election timer of a candidate or unattached voter
  // (QuorumState.transitionToUnattached): otherwise a voter with a stale log,
  // standing again and again, would reset everybody's timer with each new
  // epoch and keep the up-to-date voters from ever standing.
  const bool keep_timer =
      state_ == RaftState::candidate || state_ == RaftState::prospective || state_ == RaftState::unattached;
  const Instant deadline = state_deadline_;
  if (transition(RaftState::unattached, epoch, std::nullopt, std::nullopt) && keep_timer) state_deadline_ = deadline;
}

void RaftClient::become_follower(QuorumEpoch epoch, NodeId leader) {
  if (transition(RaftState::follower, epoch, leader, epoch == epoch_ ? voted_for_ : std::nullopt)) retries_ = 0;
}

void RaftClient::stand() {
  // Removed from the voter set meanwhile (a resigned leader that removed
  // itself, a voter whose removal it fetched): it no longer stands.
  if (role_ != RaftRole::voter) return become_unattached(epoch_);
  if (config_.pre_vote) return become_prospective();
  become_candidate();
}

void RaftClient::become_prospective() {
  SIM_ASSERT(role_ == RaftRole::voter, "observers never stand for election");
  // Same epoch, same vote, same leader: nothing to persist, nothing anybody
  // else sees change. Only a majority of pre-votes leads to Candidate.
  if (!transition(RaftState::prospective, epoch_, leader_, voted_for_)) return;
  granted_.insert(self_);
  if (granted_.size() >= majority()) become_candidate();  // a quorum of one
}

// The pre-vote failed (rejected by too many, or the election timed out):
// back to the leader this node knew, else to waiting out another timeout.
void RaftClient::prospective_lost() {
  world_.probe("raft/pre_vote_lost");
  if (leader_) return become_follower(epoch_, *leader_);
  transition(voted_for_ ? RaftState::voted : RaftState::unattached, epoch_, std::nullopt, voted_for_);
}

void RaftClient::poll_prospective() {
  const Instant now = world_.now();
  if (now >= state_deadline_) return prospective_lost();
  arm(state_deadline_);
  for (NodeId v : voters_) {
    if (v == self_ || granted_.contains(v) || rejected_.contains(v)) continue;
    if (!can_send(v)) {
      if (!peers_[v].in_flight) arm(peers_[v].backoff_until);
      continue;
    }
    VoteRequest rq{QuorumEpoch{epoch_.value + 1}, self_, log_.last_epoch(), log_.end_offset()};
    rq.pre_vote = true;
    send(v, kind_vote_, make(rq), kSmallMessage,
         [this, v](const Reply& r, bool current) { on_pre_vote_response(v, r, current); });
  }
}

void RaftClient::on_pre_vote_response(NodeId from, const Reply& r, bool current) {
  if (r.status != sim::CallStatus::ok) return;  // retried after retry.backoff by poll_prospective
  const auto& resp = body<VoteResponse>(r.payload);
  const uint64_t g = generation_;
  // A newer epoch ends the pre-vote. A voter naming our epoch's leader proves
  // nothing about that leader's health: a rejection says so, if it is alive.
  if (resp.view.epoch > epoch_) maybe_transition(resp.view.epoch, resp.view.leader);
  if (!current || g != generation_ || state_ != RaftState::prospective) return;
  if (resp.vote_granted) {
    granted_.insert(from);
    if (granted_.size() >= majority()) become_candidate();
  } else {
    rejected_.insert(from);
    if (rejected_.size() > voters_.size() - majority()) prospective_lost();
  }
}

void RaftClient::become_candidate() {
  SIM_ASSERT(role_ == RaftRole::voter, "observers never stand for election");
  const int retries = state_ == RaftState::candidate || state_ == RaftState::prospective ? retries_ + 1 : 1;
  if (!transition(RaftState::candidate, QuorumEpoch{epoch_.value + 1}, std::nullopt, self_)) return;
  retries_ = retries;
  ++stats_.elections_started;
  granted_.insert(self_);
  if (granted_.size() >= majority()) become_leader();  // a quorum of one
}

void RaftClient::become_leader() {
  if (!transition(RaftState::leader, epoch_, self_, self_)) return;
  retries_ = 0;
  const Instant now = world_.now();
  for (NodeId v : voters_)
    if (v != self_) replicas_[v] = Replica{};
  observers_.clear();
  pending_voter_change_ = Offset{-1};
  // The LeaderChange control entry: the first entry of this epoch. The high
  // watermark may only pass it — that is what commits older epochs' entries.
  epoch_start_offset_ = log_.end_offset();
  const std::string text = "LeaderChange(leader=" + std::to_string(self_.value) +
                           ", epoch=" + std::to_string(epoch_.value) + ")";
  pending_.push_back({epoch_start_offset_, epoch_, true, std::make_shared<const std::string>(text)});
  next_offset_ = epoch_start_offset_ + 1;
  fetched_voters_.clear();
  check_quorum_deadline_ = now + config_.check_quorum_timeout();
  begin_epoch_deadline_ = now;
}

void RaftClient::become_resigned(std::vector<NodeId> successors) {
  if (!transition(RaftState::resigned, epoch_, self_, voted_for_)) return;
  successors_ = std::move(successors);
}

void RaftClient::maybe_transition(QuorumEpoch epoch, std::optional<NodeId> leader) {
  if (leader && *leader == self_ && epoch > epoch_) leader.reset();  // cannot be: ignore the claim
  if (epoch > epoch_) {
    if (leader) become_follower(epoch, *leader);
    else become_unattached(epoch);
  } else if (epoch == epoch_ && leader) {
    SIM_ASSERT(!leader_ || *leader_ == *leader, "two leaders in one epoch");
    if (!leader_ && *leader != self_) become_follower(epoch, *leader);
  }
}

void RaftClient::halt(const char* why) {
  // Kafka halts the process on a metadata-log I/O error. ksim keeps the node
  // up but silent: it answers nothing and sends nothing from now on.
  halted_ = true;
  world_.probe(std::string("raft/halt: ") + why);
  net_.set_handler(self_, [](Incoming&&) {});
  pending_.clear();
}

// ---- leader --------------------------------------------------------------------------------

void RaftClient::poll_leader() {
  const Instant now = world_.now();
  const bool quorum_lost = voters_.size() > 1 && now >= check_quorum_deadline_;
  if (resign_requested_ || quorum_lost) {
    if (quorum_lost) {
      ++stats_.check_quorum_resignations;
      world_.probe("raft/check_quorum_resign");
    }
    // Preferred successors: the most caught-up voters first.
    std::vector<NodeId> successors;
    for (NodeId v : voters_)
      if (v != self_) successors.push_back(v);
    std::stable_sort(successors.begin(), successors.end(),
                     [&](NodeId a, NodeId b) { return replicas_[a].end > replicas_[b].end; });
    return become_resigned(std::move(successors));
  }
  if (voters_.size() > 1) arm(check_quorum_deadline_);

  if (!pending_.empty()) {
    std::vector<RaftEntry> batch;
    batch.swap(pending_);
    for (const RaftEntry& e : batch) SIM_ASSERT(e.epoch == epoch_, "a proposal outlived its epoch");
    if (log_.append(batch) != sim::DiskStatus::ok) return halt("cannot append to the metadata log");
    refresh_voters();  // a VotersRecord takes effect on append
    maybe_advance_leader_hw();
  }
  // Removed from the voter set, and the removal committed: step down
  // (Kafka's RemoveVoterHandler: the leader resigns once the record commits).
  if (role_ == RaftRole::observer && voters_record_offset() >= Offset{0} && hw_ > voters_record_offset()) {
    world_.probe("raft/removed_leader_resigns");
    resign_requested_ = true;
    arm(now);
  }

  if (now >= begin_epoch_deadline_) {
    for (NodeId v : voters_) {
      if (v == self_ || peers_[v].in_flight) continue;
      send(v, kind_begin_, make(BeginQuorumEpochRequest{epoch_, self_}), kSmallMessage,
           [this](const Reply& r, bool) {
             if (r.status == sim::CallStatus::ok) {
               const auto& resp = body<EpochResponse>(r.payload);
               maybe_transition(resp.view.epoch, resp.view.leader);
             }
           });
    }
    begin_epoch_deadline_ = now + sim::nanoseconds(config_.fetch_timeout.ns / 2);
  }
  arm(begin_epoch_deadline_);

  // Long-polled fetches: answer those that now have something to learn.
  std::vector<ParkedFetch> still;
  for (ParkedFetch& p : parked_) {
    const Offset fetch_offset = body<FetchRequest>(p.request.payload).fetch_offset;
    if (log_.end_offset() > fetch_offset || hw_ > p.hw_when_parked || now >= p.deadline) {
      answer_fetch(p.request, fetch_offset);
    } else {
      arm(p.deadline);
      still.push_back(std::move(p));
    }
  }
  parked_.swap(still);
}

void RaftClient::maybe_advance_leader_hw() {
  // The largest offset a majority of VOTERS has durably (the leader counts its
  // flushed log), but only once it covers this epoch's LeaderChange entry.
  std::vector<Offset> ends;
  for (NodeId v : voters_) ends.push_back(v == self_ ? log_.end_offset() : replicas_[v].end);
  std::sort(ends.begin(), ends.end(), [](Offset a, Offset b) { return a > b; });
  const Offset majority_end = ends[majority() - 1];
  if (majority_end > epoch_start_offset_ && majority_end > hw_) hw_ = majority_end;
}

void RaftClient::note_voter_fetch(NodeId voter) {
  fetched_voters_.insert(voter);
  const size_t self_vote = is_voter_id(self_) ? 1 : 0;  // a leader removing itself counts no more
  if (fetched_voters_.size() + self_vote >= majority()) {
    fetched_voters_.clear();
    check_quorum_deadline_ = world_.now() + config_.check_quorum_timeout();
  }
}

ProposeResult RaftClient::propose(std::shared_ptr<const std::string> data) {
  SIM_ASSERT(data != nullptr, "propose() needs bytes");
  if (!is_leader() || stepping_down_ || resign_requested_) return {Errc::NOT_LEADER_OR_FOLLOWER, kNoOffset};
  const Offset offset = next_offset_;
  next_offset_ = next_offset_ + 1;
  pending_.push_back({offset, epoch_, false, std::move(data)});
  wake_.notify_one();
  return {Errc::NONE, offset};
}

RaftClient::VoterChange RaftClient::append_voters(const VoterSet& next, const char* what) {
  const Offset offset = next_offset_;
  next_offset_ = next_offset_ + 1;
  pending_.push_back({offset, epoch_, true, std::make_shared<const std::string>(next.encode())});
  pending_voter_change_ = offset;
  world_.probe(what);
  wake_.notify_one();
  return {Errc::NONE, "", offset};
}

// The checks AddVoter and RemoveVoter share, in Kafka's order.
RaftClient::VoterChange RaftClient::voter_change_refused() const {
  if (!is_leader() || stepping_down_ || resign_requested_)
    return {Errc::NOT_LEADER_OR_FOLLOWER, "this node is not the quorum leader"};
  if (voter_change_pending()) return {Errc::REQUEST_TIMED_OUT, "another voter change is still in progress"};
  if (hw_ <= epoch_start_offset_)
    return {Errc::REQUEST_TIMED_OUT, "the leader has not committed an entry of its epoch yet"};
  if (!config_.directory_ids)
    return {Errc::UNSUPPORTED_VERSION,
            "kraft.version 0 (static voters: ksim.raft.directory.id=false) cannot change the voter set"};
  if (voters_record_offset() >= hw_) return {Errc::REQUEST_TIMED_OUT, "the latest VotersRecord is not committed yet"};
  return {};
}

RaftClient::VoterChange RaftClient::add_voter(VoterKey voter) {
  if (VoterChange refused = voter_change_refused(); refused.error != Errc::NONE) return refused;
  if (voter_set_.has_id(voter.id))
    return {Errc::DUPLICATE_VOTER, "the node is already a voter (directory " + voter_set_.directory_of(voter.id).str() + ")"};
  auto o = observers_.find(voter.id);
  const bool known = o != observers_.end() && o->second.view.directory_id == voter.directory_id;
  // Kafka's isReplicaCaughtUp: caught up once, and fetched within the last hour.
  if (!known || !o->second.caught_up || o->second.last_fetch + sim::milliseconds(3'600'000) < world_.now())
    return {Errc::REQUEST_TIMED_OUT, "its replica (directory " + voter.directory_id.str() +
                                         ") is not an observer caught up with the leader"};
  return append_voters(*voter_set_.with(voter), "raft/add_voter");
}

RaftClient::VoterChange RaftClient::remove_voter(VoterKey voter) {
  if (VoterChange refused = voter_change_refused(); refused.error != Errc::NONE) return refused;
  const auto next = voter_set_.without(voter);
  if (!next)
    return {Errc::VOTER_NOT_FOUND, voter_set_.size() == 1 && voter_set_.has_key(voter.id, voter.directory_id, true)
                                       ? "cannot remove the only voter"
                                       : "(directory " + voter.directory_id.str() + ") is no voter key"};
  return append_voters(*next, "raft/remove_voter");
}

void RaftClient::resign() {
  if (!is_leader()) return;
  resign_requested_ = true;
  wake_.notify_one();
}

// ---- candidate and resigned -------------------------------------------------------------------

Duration RaftClient::random_election_timeout() {
  // QuorumState.randomElectionTimeoutMs: T + random[0, T).
  const int64_t t = config_.election_timeout.ns;
  return sim::nanoseconds(t + (t > 0 ? static_cast<int64_t>(rng_.uniform(static_cast<uint64_t>(t))) : 0));
}

Duration RaftClient::election_backoff(int retries) {
  // KafkaRaftClient.binaryExponentialElectionBackoffMs:
  // min(100 ms * random[0, 2^retries), election.backoff.max.ms).
  const uint64_t bound = 2ULL << std::min(20, std::max(0, retries - 1));
  const Duration d = sim::milliseconds(100) * static_cast<int64_t>(rng_.uniform(bound));
  return std::min(d, config_.election_backoff_max);
}

void RaftClient::start_backoff() {
  backing_off_ = true;
  state_deadline_ = world_.now() + election_backoff(retries_);
  arm(state_deadline_);
  world_.probe("raft/candidate_backoff");
}

bool RaftClient::can_send(NodeId dst) const {
  auto it = peers_.find(dst);
  return it == peers_.end() || (!it->second.in_flight && world_.now() >= it->second.backoff_until);
}

void RaftClient::poll_candidate() {
  const Instant now = world_.now();
  if (backing_off_) {
    if (now >= state_deadline_) return stand();  // stand again (next epoch, after a pre-vote)
    return arm(state_deadline_);
  }
  if (now >= state_deadline_) return start_backoff();  // the election timed out
  arm(state_deadline_);
  for (NodeId v : voters_) {
    if (v == self_ || granted_.contains(v) || rejected_.contains(v)) continue;
    if (!can_send(v)) {
      // In flight: its reply wakes us. Backing off: wake when that ends.
      if (!peers_[v].in_flight) arm(peers_[v].backoff_until);
      continue;
    }
    const VoteRequest rq{epoch_, self_, log_.last_epoch(), log_.end_offset()};
    send(v, kind_vote_, make(rq), kSmallMessage,
         [this, v](const Reply& r, bool current) { on_vote_response(v, r, current); });
  }
}

void RaftClient::on_vote_response(NodeId from, const Reply& r, bool current) {
  if (r.status != sim::CallStatus::ok) return;  // retried after retry.backoff by poll_candidate
  const auto& resp = body<VoteResponse>(r.payload);
  const uint64_t g = generation_;
  maybe_transition(resp.view.epoch, resp.view.leader);
  if (!current || g != generation_ || state_ != RaftState::candidate || resp.view.epoch != epoch_) return;
  if (resp.vote_granted) {
    granted_.insert(from);
    if (granted_.size() >= majority()) become_leader();
  } else {
    rejected_.insert(from);
    // Gridlocked: no majority possible any more. Back off now rather than
    // waiting out the election timeout.
    if (rejected_.size() > voters_.size() - majority() && !backing_off_) start_backoff();
  }
}

void RaftClient::poll_resigned() {
  const Instant now = world_.now();
  if (now >= state_deadline_) return stand();
  arm(state_deadline_);
  for (NodeId v : voters_) {
    if (v == self_ || peers_[v].acked) continue;
    if (!can_send(v)) {
      // In flight: its reply wakes us. Backing off: wake when that ends.
      if (!peers_[v].in_flight) arm(peers_[v].backoff_until);
      continue;
    }
    send(v, kind_end_, make(EndQuorumEpochRequest{epoch_, self_, successors_}), kSmallMessage,
         [this, v](const Reply& r, bool current) {
           if (r.status != sim::CallStatus::ok) return;
           const auto& resp = body<EpochResponse>(r.payload);
           if (current && resp.view.error == Errc::NONE) peers_[v].acked = true;
           maybe_transition(resp.view.epoch, resp.view.leader);
         });
  }
}

// ---- follower and observer -----------------------------------------------------------------

void RaftClient::poll_fetching() {
  const Instant now = world_.now();
  if (fetch_in_flight_) return;  // its reply or timeout wakes us
  if (now < fetch_retry_at_) return arm(fetch_retry_at_);
  NodeId target;
  if (state_ == RaftState::follower && !(role_ == RaftRole::observer && leader_unreachable_)) {
    target = *leader_;
  } else {
    target = voters_[voter_cursor_++ % voters_.size()];  // observer discovering the leader
    if (target == self_) target = voters_[voter_cursor_++ % voters_.size()];  // a demoted voter asks the others
    if (target == self_) return arm(world_.now() + config_.retry_backoff);    // alone: nobody to ask
  }
  const FetchRequest rq{self_, directory_id_, epoch_, log_.end_offset(), log_.last_epoch(), config_.fetch_max_wait};
  fetch_in_flight_ = true;
  send(target, kind_fetch_, make(rq), kSmallMessage,
       [this, target, fo = rq.fetch_offset](const Reply& r, bool current) {
         on_fetch_response(target, fo, r, current);
       });
}

void RaftClient::on_fetch_response(NodeId from, Offset fetch_offset, const Reply& r, bool current) {
  const Instant now = world_.now();
  if (current) fetch_in_flight_ = false;
  if (r.status != sim::CallStatus::ok) {
    if (current) {
      fetch_retry_at_ = now + config_.retry_backoff;
      if (leader_ && from == *leader_) leader_unreachable_ = true;
    }
    return;
  }
  const auto& resp = body<FetchResponse>(r.payload);
  const uint64_t g = generation_;
  maybe_transition(resp.view.epoch, resp.view.leader);
  if (!current || g != generation_) return;
  if (resp.view.error != Errc::NONE) {
    // NOT_LEADER_OR_FOLLOWER / FENCED_LEADER_EPOCH / UNKNOWN_LEADER_EPOCH: what
    // the responder knows was applied above; try again shortly.
    fetch_retry_at_ = now + config_.retry_backoff;
    if (leader_ && from == *leader_) leader_unreachable_ = true;
    return;
  }
  if (state_ != RaftState::follower || from != *leader_) return;
  leader_unreachable_ = false;
  leader_alive_ = true;
  state_deadline_ = now + config_.fetch_timeout;  // the leader is alive
  if (fetch_offset != log_.end_offset()) return;  // (one fetch at a time: cannot happen)

  if (resp.diverging) {
    const Offset cut = log_.truncation_offset_for(*resp.diverging);
    if (!config_.directory_ids && (cut < hw_ || cut < applied_)) {
      // Only reachable when a voter that lost its disk was still counted as
      // that voter: a leader elected without entries this node had seen
      // committed. Kafka's follower fails the same way (it refuses to
      // truncate below its high watermark); the loss itself is what
      // sim.check()'s lost-metadata checker reports.
      ++stats_.committed_truncations;
      world_.probe("raft/committed_entries_truncated");
      return halt("the leader asked to truncate committed metadata");
    }
    SIM_ASSERT(cut >= hw_, "the leader asked to truncate below the high watermark");
    SIM_ASSERT(cut >= applied_, "truncating entries the commit listener has seen");
    ++stats_.truncations;
    stats_.entries_truncated += static_cast<uint64_t>(log_.end_offset() - cut);
    world_.probe("raft/follower_truncate");
    if (log_.truncate_to(cut) != sim::DiskStatus::ok) return halt("cannot truncate the metadata log");
    refresh_voters();  // a VotersRecord truncated away is undone
    return;  // the next poll fetches again from the new end
  }
  if (!resp.entries.empty()) {
    SIM_ASSERT(resp.entries.front().offset == fetch_offset, "fetch answer does not start at the fetch offset");
    if (log_.append(resp.entries) != sim::DiskStatus::ok) return halt("cannot append to the metadata log");
    refresh_voters();
  }
  if (resp.high_watermark.value >= 0) {
    // Below min(leader HW, my end) my log equals the leader's: the fetch was
    // validated (log matching), so those entries are committed ones.
    const Offset hw = std::min(resp.high_watermark, log_.end_offset());
    if (hw > hw_) hw_ = hw;
  }
}

// ---- requests we answer ----------------------------------------------------------------------

void RaftClient::handle_request(const Incoming& in) {
  if (in.dir != sim::Direction::request) return;
  if (in.kind == kind_fetch_) handle_fetch(in);
  else if (in.kind == kind_vote_) handle_vote(in);
  else if (in.kind == kind_begin_) handle_begin_epoch(in);
  else if (in.kind == kind_end_) handle_end_epoch(in);
}

void RaftClient::handle_vote(const Incoming& in) {
  const auto& rq = body<VoteRequest>(in.payload);
  if (rq.pre_vote) {
    // KIP-996: answer as we would vote, changing nothing. No to a stale
    // epoch, to a log behind ours, and whenever we know a live leader — the
    // rejoining partitioned voter must not get to depose it.
    const bool up_to_date = std::tuple(rq.last_epoch, rq.end_offset) >= std::tuple(log_.last_epoch(), log_.end_offset());
    const bool live_leader = state_ == RaftState::leader || (state_ == RaftState::follower && leader_alive_);
    const bool granted = role_ == RaftRole::voter && rq.candidate_epoch > epoch_ && up_to_date && !live_leader;
    world_.probe(granted ? "raft/pre_vote_granted" : "raft/pre_vote_rejected");
    net_.respond(in, kind_vote_resp_, make(VoteResponse{view(), granted}), kSmallMessage);
    return;
  }
  if (rq.candidate_epoch > epoch_) become_unattached(rq.candidate_epoch);
  if (halted_) return;
  bool granted = false;
  if (role_ == RaftRole::voter && rq.candidate_epoch == epoch_) {
    // The candidate's log must be at least as up to date: last epoch, then end offset.
    const bool up_to_date = std::tuple(rq.last_epoch, rq.end_offset) >= std::tuple(log_.last_epoch(), log_.end_offset());
    if (!up_to_date) world_.probe("raft/vote_rejected_log");
    if (state_ == RaftState::unattached && up_to_date) {
      // Persisted before the response leaves: transition() writes quorum-state.
      granted = transition(RaftState::voted, epoch_, std::nullopt, rq.candidate);
      if (granted) ++stats_.votes_granted;
    } else if (state_ == RaftState::voted && voted_for_ == rq.candidate && up_to_date) {
      granted = true;  // a retried or duplicated request: the same answer
    }
  }
  if (halted_) return;
  net_.respond(in, kind_vote_resp_, make(VoteResponse{view(), granted}), kSmallMessage);
}

void RaftClient::handle_begin_epoch(const Incoming& in) {
  const auto& rq = body<BeginQuorumEpochRequest>(in.payload);
  if (rq.epoch < epoch_) {
    net_.respond(in, kind_begin_resp_, make(EpochResponse{view(Errc::FENCED_LEADER_EPOCH)}), kSmallMessage);
    return;
  }
  maybe_transition(rq.epoch, rq.leader);
  if (halted_) return;
  // The leader itself says it leads: a prospective stops asking and follows.
  if (state_ == RaftState::prospective && rq.epoch == epoch_ && leader_ == rq.leader) become_follower(epoch_, rq.leader);
  if (halted_) return;
  net_.respond(in, kind_begin_resp_, make(EpochResponse{view()}), kSmallMessage);
}

void RaftClient::handle_end_epoch(const Incoming& in) {
  const auto& rq = body<EndQuorumEpochRequest>(in.payload);
  if (rq.epoch < epoch_) {
    net_.respond(in, kind_end_resp_, make(EpochResponse{view(Errc::FENCED_LEADER_EPOCH)}), kSmallMessage);
    return;
  }
  maybe_transition(rq.epoch, rq.leader);
  if (halted_) return;
  if (state_ == RaftState::follower && leader_ == rq.leader) leader_alive_ = false;  // it resigned
  if (role_ == RaftRole::voter && state_ == RaftState::follower && leader_ == rq.leader) {
    // Stand soon, the more caught up the sooner (strict exponential back-off by
    // position among the preferred successors; the first stands at once).
    const auto& s = rq.preferred_successors;
    const auto pos = static_cast<size_t>(std::find(s.begin(), s.end(), self_) - s.begin());
    Duration backoff = config_.election_backoff_max;
    if (pos == 0) {
      backoff = Duration{};
    } else if (pos < s.size()) {
      const int64_t base = config_.election_backoff_max.ns >> (s.size() - 1);
      backoff = std::min(config_.election_backoff_max, sim::nanoseconds(base << (pos - 1)));
    }
    state_deadline_ = std::min(state_deadline_, world_.now() + backoff);
  }
  net_.respond(in, kind_end_resp_, make(EpochResponse{view()}), kSmallMessage);
}

void RaftClient::handle_fetch(const Incoming& in) {
  const auto& rq = body<FetchRequest>(in.payload);
  auto refuse = [&](Errc e) { net_.respond(in, kind_fetch_resp_, make(FetchResponse{view(e), Offset{-1}, {}, {}}), kSmallMessage); };
  if (rq.epoch < epoch_) return refuse(Errc::FENCED_LEADER_EPOCH);
  if (rq.epoch > epoch_) return refuse(Errc::UNKNOWN_LEADER_EPOCH);
  if (state_ != RaftState::leader) return refuse(Errc::NOT_LEADER_OR_FOLLOWER);
  const bool voter = is_voter_key(rq.replica, rq.replica_directory_id);
  if (voter) note_voter_fetch(rq.replica);

  // Does the fetcher's log match ours at (fetch_offset, last_fetched_epoch)?
  const bool empty = rq.fetch_offset.value == 0 && rq.last_fetched_epoch.value == 0;
  if (!empty) {
    const OffsetAndEpoch mine = log_.end_offset_for_epoch(rq.last_fetched_epoch);
    if (mine.epoch != rq.last_fetched_epoch || mine.offset < rq.fetch_offset) {
      world_.probe("raft/leader_diverging_answer");
      net_.respond(in, kind_fetch_resp_, make(FetchResponse{view(), hw_, mine, {}}), kSmallMessage);
      return;
    }
  }
  // Valid: the fetcher has our log up to fetch_offset.
  if (voter) {
    replicas_[rq.replica].end = rq.fetch_offset;
    replicas_[rq.replica].fetched_this_epoch = true;
    maybe_advance_leader_hw();
  } else {
    // An observer — possibly a voter's node back on a new disk: its position
    // must not count for the voter that had the old one.
    Observer& o = observers_[rq.replica];
    if (o.view.directory_id != rq.replica_directory_id) o = Observer{};  // another disk: another replica
    o.view = ReplicaView{rq.replica, rq.replica_directory_id, rq.fetch_offset};
    o.last_fetch = world_.now();
    // Kafka's lastCaughtUpTimestamp: the fetch asked for our log end.
    if (rq.fetch_offset >= log_.end_offset()) o.caught_up = true;
  }
  if (log_.end_offset() > rq.fetch_offset || rq.max_wait.ns == 0) return answer_fetch(in, rq.fetch_offset);
  parked_.push_back({in, world_.now() + rq.max_wait, hw_});
}

void RaftClient::answer_fetch(const Incoming& in, Offset fetch_offset) {
  FetchResponse resp{view(), hw_, std::nullopt, log_.read(fetch_offset, log_.end_offset(), kFetchMaxBytes)};
  uint32_t size = kSmallMessage;
  for (const RaftEntry& e : resp.entries) size += static_cast<uint32_t>(e.data->size()) + 25;
  net_.respond(in, kind_fetch_resp_, make(std::move(resp)), size);
}

void RaftClient::fail_parked_fetches() {
  std::vector<ParkedFetch> parked;
  parked.swap(parked_);
  for (const ParkedFetch& p : parked)
    net_.respond(p.request, kind_fetch_resp_, make(FetchResponse{view(Errc::NOT_LEADER_OR_FOLLOWER), Offset{-1}, {}, {}}),
                 kSmallMessage);
}

// ---- sending ---------------------------------------------------------------------------------

void RaftClient::send(NodeId dst, sim::KindId kind, sim::Payload payload, uint32_t size,
                      std::function<void(const Reply&, bool current)> on_reply) {
  const sim::CallId id = net_.call(self_, dst, kind, std::move(payload), size, config_.request_timeout);
  peers_[dst].in_flight = true;
  const uint64_t gen = generation_;
  // The reply is handled on the raft fiber, in order with everything else.
  net_.on_reply(id, [this, dst, gen, cb = std::move(on_reply)](const Reply& r) {
    inbox_.push_back([this, dst, gen, cb, r] {
      const bool current = gen == generation_;
      if (current) {
        Peer& p = peers_[dst];
        p.in_flight = false;
        if (r.status != sim::CallStatus::ok) p.backoff_until = world_.now() + config_.retry_backoff;
      }
      cb(r, current);
    });
    wake_.notify_one();
  });
}

}  // namespace ksim::raft
