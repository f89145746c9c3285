// ConsumerCoordinator: the client side of Kafka's classic group protocol
// (Java's AbstractCoordinator + ConsumerCoordinator + HeartbeatThread).
//
// Member states (AbstractCoordinator.MemberState):
//
//   UNJOINED --JoinGroup sent--> PREPARING_REBALANCE --JoinGroup ok--> COMPLETING_REBALANCE
//      ^                                                                   |  SyncGroup ok
//      |  ILLEGAL_GENERATION / UNKNOWN_MEMBER_ID / poll timeout (leave)    v
//      +-------------------------------------------------------------- STABLE
//
// A rebalance, always driven from poll() (the application's thread):
//   1. onJoinPrepare — eager: auto-commit (and wait for it), onPartitionsRevoked
//      for everything, assignment cleared; cooperative: revoke only partitions
//      of topics no longer subscribed. If the generation was reset meanwhile
//      (we were kicked out), onPartitionsLost instead: we may not commit.
//   2. JoinGroup (first with member id "" → MEMBER_ID_REQUIRED → again with the
//      id the coordinator gave, KIP-394). The leader's response lists every
//      member's Subscription; the leader runs the assignor.
//   3. SyncGroup: the leader sends every assignment, followers send none; each
//      gets its own back.
//   4. onJoinComplete — cooperative: onPartitionsRevoked for owned-but-not-
//      assigned, and a follow-up rebalance is requested (KIP-429); then
//      onPartitionsAssigned for the newly added partitions.
// JoinGroup / SyncGroup are asynchronous: a poll() that times out leaves
// them in flight, and a later poll() completes the rebalance, as in Java.
//
// The heartbeat fiber (Java's heartbeat thread) runs while the member is
// COMPLETING_REBALANCE or STABLE: a Heartbeat every heartbeat.interval.ms;
// REBALANCE_IN_PROGRESS → rejoin at the next poll; ILLEGAL_GENERATION /
// UNKNOWN_MEMBER_ID → generation reset (next poll: onPartitionsLost, rejoin);
// no successful heartbeat for session.timeout.ms → coordinator marked
// unknown and rediscovered; no poll() for max.poll.interval.ms → the member
// leaves the group proactively (LeaveGroup unless static) and rejoins at its
// next poll.
//
// Commits: OffsetCommit carries the generation and member id while STABLE
// (group-managed) or -1/"" (manual assignment). commitSync retries retriable
// errors until its deadline; commitAsync never retries (so an older commit can
// land after a newer one); auto-commit commits the positions at poll time
// every auto.commit.interval.ms, before an eager revocation, and on close.
// Every OffsetCommit request is one History op (detail auto / sync / async)
// completed with ok, fail (the coordinator refused it) or info (no answer).
//
// Invariants: the generation only changes by a successful JoinGroup or a
// reset to -1; the assignment changes only inside onJoinPrepare /
// onJoinComplete / onLeavePrepare, each recorded (assign / revoke ops).
#pragma once

#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "engine/broker/protocol.h"
#include "engine/clients/assignor.h"
#include "engine/clients/client_metadata.h"
#include "engine/clients/consumer_api.h"
#include "engine/clients/consumer_network_client.h"
#include "engine/clients/fetcher.h"
#include "engine/clients/subscription_state.h"

namespace ksim::clients {

struct CoordinatorConfig {
  std::string group_id;
  std::optional<std::string> group_instance_id;
  int32_t session_timeout_ms = 45000;
  int32_t rebalance_timeout_ms = 300000;  // max.poll.interval.ms
  int32_t heartbeat_interval_ms = 3000;
  int64_t request_timeout_ms = 30000;
  int64_t retry_backoff_ms = 100;
  bool auto_commit = true;
  int32_t auto_commit_interval_ms = 5000;
  std::vector<std::string> assignors = {"range", "cooperative-sticky"};
  // group.protocol=consumer (KIP-848): ConsumerGroupHeartbeat instead of
  // JoinGroup / SyncGroup / Heartbeat; the broker assigns.
  bool consumer_protocol = false;
  std::optional<std::string> remote_assignor;  // group.remote.assignor
};

enum class MemberState : uint8_t { unjoined, preparing_rebalance, completing_rebalance, stable };
const char* member_state_name(MemberState s);

struct Generation {
  int32_t id = -1;
  std::string member_id;
  std::string protocol;
  bool operator==(const Generation&) const = default;
};

// a's partitions that are not in b, in a's order (revoked = owned minus assigned).
std::vector<TopicPartition> minus(const std::vector<TopicPartition>& a, const std::vector<TopicPartition>& b);

class ConsumerCoordinator {
 public:
  ConsumerCoordinator(ConsumerNetworkClient& net, ClientMetadata& metadata, SubscriptionState& subscriptions,
                      Fetcher& fetcher, CoordinatorConfig config, ConsumerRecorder recorder);
  // Spawns the heartbeat fiber.
  void start();
  void set_listener(RebalanceListener l) { listener_ = std::move(l); }
  RebalanceProtocol protocol() const { return protocol_; }

  // ---- the poll() step --------------------------------------------------------
  // Coordinator discovery (waits up to `deadline`), rebalance progress (never
  // waits), auto-commit. False when not ready yet.
  bool poll(sim::Instant deadline);
  // When poll() must run again at the latest: the next auto-commit, and soon
  // (retry.backoff.ms) while the coordinator is unknown or a join is in progress.
  sim::Instant next_poll_deadline() const;
  // Positions of INITIALIZING partitions from committed offsets (OffsetFetch).
  bool refresh_committed_offsets_if_needed(sim::Instant deadline);
  // OffsetFetch; nullopt at the deadline. Throws on non-retriable errors.
  std::optional<OffsetMap> fetch_committed_offsets(const std::set<TopicPartition>& tps, sim::Instant deadline);

  // ---- commits -------------------------------------------------------------------
  void commit_sync(const OffsetMap& offsets, sim::Instant deadline);
  void commit_async(const OffsetMap& offsets, CommitCallback cb);
  void maybe_auto_commit_async();
  void invoke_completed_offset_commit_callbacks();

  // ---- leaving ---------------------------------------------------------------------
  // onLeavePrepare: revoked (or lost) callbacks for everything, assignment cleared.
  void on_leave_prepare();
  void maybe_leave_group(const std::string& reason);
  void close(sim::Instant deadline);

  // ---- state ----------------------------------------------------------------------------
  const Generation& generation() const { return generation_; }
  MemberState state() const { return state_; }
  int32_t coordinator() const { return coordinator_; }
  bool is_leader() const { return is_leader_; }
  bool rejoin_needed_or_pending();
  void request_rejoin(const std::string& reason);
  // A fatal error the heartbeat fiber or a join met (FencedInstanceId, ...): thrown from poll().
  void throw_if_fatal();

 private:
  struct JoinFuture {
    bool done = false;
    Errc error = Errc::NONE;
    std::string assignment;
  };
  struct CommittedFetch {
    std::set<TopicPartition> partitions;
    int32_t generation = -1;
    bool done = false;
    Errc error = Errc::NONE;
    OffsetMap offsets;
  };
  struct PendingAsync {
    OffsetMap offsets;
    CommitCallback cb;
    std::string detail;
  };
  struct Completion {
    CommitCallback cb;
    OffsetMap offsets;
    Errc error;
  };

  // coordinator discovery
  void lookup_coordinator();
  bool ensure_coordinator_ready(sim::Instant deadline);
  void mark_coordinator_unknown(const std::string& reason);
  // join
  bool ensure_active_group(sim::Instant deadline);
  bool join_group_if_needed(sim::Instant deadline);
  bool on_join_prepare(sim::Instant deadline, int32_t generation, const std::string& member_id);
  void on_join_complete(const Generation& gen, const std::string& assignment_bytes);
  std::shared_ptr<JoinFuture> initiate_join_group();
  void send_join_group(const std::shared_ptr<JoinFuture>& f);
  void on_join_response(const std::shared_ptr<JoinFuture>& f, const protocol::JoinGroupResponse& resp);
  void perform_assignment_and_sync(const std::shared_ptr<JoinFuture>& f, protocol::JoinGroupResponse resp);
  void send_sync_group(const std::shared_ptr<JoinFuture>& f, std::vector<protocol::SyncGroupAssignment> assignments);
  void fail(const std::shared_ptr<JoinFuture>& f, Errc e);
  void reset_state_and_generation(bool reset_member_id);
  void reset_state_and_rejoin(const std::string& reason, bool reset_member_id);
  std::vector<protocol::JoinGroupProtocol> join_protocols() const;
  PartitionAssignor* lookup_assignor(const std::string& name) const;
  PartitionsPerTopic partitions_per_topic(const std::set<std::string>& topics) const;
  bool heartbeat_enabled() const;
  void heartbeat_loop();
  void send_heartbeat();
  void reset_heartbeat_timeouts();
  // ---- group.protocol=consumer (KIP-848): consumer_coordinator_kip848.cc ----
  // The member: epoch in generation_.id (0: joining), a client-generated
  // member id, the last assignment the coordinator sent (the target this
  // member reconciles to, revoking before assigning).
  bool cg_poll(sim::Instant deadline);
  void cg_heartbeat_loop();
  void cg_send_heartbeat();
  void cg_reconcile(sim::Instant deadline);
  void cg_leave();
  std::optional<std::vector<TopicPartition>> cg_assignment_;
  // What a heartbeat says the member subscribes to: topic names, or a
  // regular expression the coordinator resolves (a server-side pattern).
  struct CgSubscription {
    std::set<std::string> topics;
    std::optional<std::string> regex;
    bool operator==(const CgSubscription&) const = default;
  };
  CgSubscription cg_subscription() const;
  std::optional<CgSubscription> cg_sent_subscription_;
  // The commit-before-revoke in flight (its result once answered).
  std::shared_ptr<std::optional<Errc>> cg_revoke_commit_;
  int32_t cg_recorded_epoch_ = -1;  // the member epoch of the last assign op
  bool cg_fenced_ = false;  // poll() must give up (lost) what it owns, then rejoin with epoch 0
  bool cg_subscribed_ = false;
  int32_t cg_heartbeat_interval_ms_ = 5000;
  // listener + history
  void invoke_revoked(const std::vector<TopicPartition>& tps, const char* detail, int32_t generation);
  void invoke_assigned(const std::vector<TopicPartition>& added, const std::vector<TopicPartition>& all);
  // commits
  void send_offset_commit(const OffsetMap& offsets, const std::string& detail,
                          std::function<void(Errc)> done);
  void do_commit_async(PendingAsync p);
  void commit_sync(const OffsetMap& offsets, sim::Instant deadline, const std::string& detail);
  Generation commit_generation(Errc* local_error) const;

  ConsumerNetworkClient& net_;
  ClientMetadata& metadata_;
  SubscriptionState& subscriptions_;
  Fetcher& fetcher_;
  CoordinatorConfig config_;
  ConsumerRecorder recorder_;
  RebalanceListener listener_;
  std::vector<std::unique_ptr<PartitionAssignor>> assignors_;
  RebalanceProtocol protocol_ = RebalanceProtocol::eager;

  int32_t coordinator_ = -1;
  bool find_in_flight_ = false;
  sim::Instant next_find_attempt_{0};
  std::vector<PendingAsync> awaiting_coordinator_;

  MemberState state_ = MemberState::unjoined;
  Generation generation_;
  bool rejoin_needed_ = true;
  bool needs_join_prepare_ = true;
  std::string rejoin_reason_;
  std::shared_ptr<JoinFuture> join_future_;
  bool is_leader_ = false;
  std::optional<PartitionsPerTopic> assignment_snapshot_;  // leader: the metadata it assigned with
  std::optional<std::set<std::string>> joined_subscription_;
  std::optional<sim::Instant> join_prepare_deadline_;
  std::optional<Errc> fatal_;
  std::string fatal_message_;

  // heartbeat (Java's Heartbeat timers)
  sim::Instant last_poll_{0};
  sim::Instant session_deadline_{0};
  sim::Instant next_heartbeat_{0};
  bool heartbeat_in_flight_ = false;
  bool closed_ = false;

  // commits
  sim::Instant next_auto_commit_{0};
  std::shared_ptr<std::optional<Errc>> auto_commit_before_join_;  // onJoinPrepare's commit, once sent
  std::deque<Completion> completed_commits_;
  int pending_async_commits_ = 0;
  std::shared_ptr<CommittedFetch> pending_committed_;
};

}  // namespace ksim::clients
