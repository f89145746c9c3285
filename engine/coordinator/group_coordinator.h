// GroupCoordinator: the classic consumer group protocol on a broker (Kafka's
// GroupMetadataManager + OffsetMetadataManager for classic groups).
//
// Requests: JoinGroup, SyncGroup, Heartbeat, LeaveGroup, OffsetCommit,
// OffsetFetch — each for a group whose __consumer_offsets partition this
// broker leads (else NOT_COORDINATOR; while it loads,
// COORDINATOR_LOAD_IN_PROGRESS). The rules, state machine and invariants are
// described in README.md; classic_group.h holds one group's state,
// coordinator_runtime.h the log I/O, offset_store.h the committed offsets.
//
// Parked requests: a JoinGroup waits for the join phase to complete and a
// follower's SyncGroup for the leader's assignment; they are kept (the
// sim::Incoming) in the member and answered later — no fiber waits for them.
// Timers (session, join phase, sync phase) are the broker node's sim timers:
// they die with the broker. Every request and timer ends by asserting the
// group's invariants.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "engine/broker/protocol.h"
#include "engine/broker/replica_manager.h"
#include "engine/common/config.h"
#include "engine/coordinator/classic_group.h"
#include "engine/coordinator/consumer_group.h"
#include "engine/coordinator/coordinator_runtime.h"
#include "engine/coordinator/offset_store.h"
#include "sim/rng.h"

namespace ksim::coordinator {

struct GroupMemberDescription {
  std::string member_id;
  std::optional<std::string> group_instance_id;
  std::string client_id;
  int32_t client_node = -1;  // the client node it joined from (Kafka's clientHost)
  std::string metadata;    // for the selected protocol (opaque)
  std::string assignment;  // opaque, as the leader sent it (classic)
  // Consumer (KIP-848) groups: the member's epoch, state and partitions.
  int32_t member_epoch = -1;
  std::string member_state;
  std::vector<TopicPartition> assigned, pending_revocation, target;
  std::vector<std::string> subscription;  // subscribed topics (sorted; a regex's resolved topics included)
  std::string subscribed_topic_regex;     // KIP-848 server-side regex ("" : none)
  bool classic_protocol = false;          // a consumer group's member that speaks JoinGroup / SyncGroup
};

// What DescribeGroups + OffsetFetch would tell about a group (Cluster::describe_group).
struct GroupDescription {
  std::string group_id;
  Errc error = Errc::NONE;  // NOT_COORDINATOR / COORDINATOR_LOAD_IN_PROGRESS / COORDINATOR_NOT_AVAILABLE
  int32_t coordinator = -1;
  int32_t partition = -1;  // of __consumer_offsets
  std::string state = "Dead";  // Kafka's state names; Dead: unknown group
  int32_t generation = -1;
  std::string protocol_type, protocol, leader;
  // "classic" or "consumer" (KIP-848: then generation is the group epoch,
  // protocol the server-side assignor, leader empty).
  std::string group_protocol = "classic";
  int32_t group_epoch = -1, assignment_epoch = -1;
  std::vector<GroupMemberDescription> members;           // by member id
  std::map<TopicPartition, OffsetAndMetadata> offsets;  // committed (below the HW)
};

class GroupCoordinator {
 public:
  GroupCoordinator(sim::World& world, sim::NodeId self, int32_t broker_id, const Config& config, ReplicaManager& rm);
  GroupCoordinator(const GroupCoordinator&) = delete;
  GroupCoordinator& operator=(const GroupCoordinator&) = delete;

  void start();  // the writer fiber (on the broker's startup)

  // Called when a JoinGroup creates a group this coordinator has no state
  // for, with its __consumer_offsets partition (the Cluster puts it on the
  // history: a second creation means the group's state was lost).
  std::function<void(const std::string& group_id, const TopicPartition& offsets_tp)> on_group_created;

  // Called when a consumer (KIP-848) group removes a member that did not
  // leave by itself (session or rebalance timeout, replaced by a rejoin):
  // from then on its partitions may go to others (the history's
  // split-ownership checker needs to know the old owner was fenced).
  std::function<void(const std::string& group_id, const std::string& member_id)> on_member_fenced;
  // Called when a group changes protocol with its state (KIP-848's online
  // upgrade to "consumer" / downgrade to "classic", or an empty group's
  // conversion): not a creation — nothing was lost.
  std::function<void(const std::string& group_id, const std::string& protocol)> on_group_converted;
  // A topic's partition count from the broker's metadata image (-1: unknown).
  std::function<int32_t(const std::string& topic)> partition_count_of;
  // Every topic of the broker's metadata image (sorted): what server-side
  // regex subscriptions (KIP-848) are resolved against.
  std::function<std::vector<std::string>()> topic_names;

  // The APIs this class serves, and serving one (from a request handler fiber; never blocks).
  static bool handles(const std::string& api);
  void handle(const std::string& api, const sim::Incoming& in);

  // ---- hooks: metadata applier and replica manager (never block) -----------------------
  void on_partition_leader(const TopicPartition& tp, LeaderEpoch epoch);
  void on_partition_follower(const TopicPartition& tp);
  void on_hw_moved(const TopicPartition& tp) { runtime_.on_hw_moved(tp); }
  // A COMMIT / ABORT marker of `pid` was appended to __consumer_offsets-N at
  // `marker_offset`: its pending transactional offsets become committed
  // offsets (visible once the HW passes the marker) or are dropped.
  void on_txn_marker(const TopicPartition& tp, ProducerId pid, bool committed, Offset marker_offset);

  // ---- observation -------------------------------------------------------------------------
  int32_t partition_for(const std::string& group_id) const;
  GroupDescription describe(const std::string& group_id);
  const CoordinatorRuntime& runtime() const { return runtime_; }

 private:
  using PendingTxnOffsets = std::map<std::pair<std::string, TopicPartition>, OffsetAndMetadata>;
  struct Shard {
    std::map<std::string, ClassicGroup> groups;
    // KIP-848 groups; a group id is in at most one of the two maps.
    std::map<std::string, ConsumerGroup> consumer_groups;
    OffsetStore offsets;
    // TxnOffsetCommit: offsets written in a transaction, by producer id, until its marker.
    std::map<ProducerId, PendingTxnOffsets> pending_txn_offsets;
    // Ended transactions whose marker (at .first) is not below the HW yet.
    std::vector<std::pair<Offset, PendingTxnOffsets>> ending_txn_offsets;
    bool has_pending_txn_offset(const std::string& group, const TopicPartition& tp, Offset hw);
  };
  // The shard a request or a callback works on.
  struct Ctx {
    int32_t partition = -1;
    uint64_t shard = 0;
  };
  using Assignment = std::map<std::string, std::string>;

  // ---- requests -----------------------------------------------------------------------------
  void join_group(const sim::Incoming& in);
  void sync_group(const sim::Incoming& in);
  void heartbeat(const sim::Incoming& in);
  void leave_group(const sim::Incoming& in);
  void offset_commit(const sim::Incoming& in);
  void offset_fetch(const sim::Incoming& in);
  void txn_offset_commit(const sim::Incoming& in);

  // ---- consumer (KIP-848) groups: group_coordinator_consumer.cc ---------------------------
  void consumer_group_heartbeat(const sim::Incoming& in);
  void respond_consumer_heartbeat(const sim::Incoming& in, protocol::ConsumerGroupHeartbeatResponse r);
  Errc validate_consumer_heartbeat(const protocol::ConsumerGroupHeartbeatRequest& req) const;
  void consumer_leave(const Ctx& c, ConsumerGroup& g, const protocol::ConsumerGroupHeartbeatRequest& req,
                      const sim::Incoming& in);
  // Creates the member of a join (epoch 0): new, a static replacement, or a rejoin after a fence.
  ConsumerMember* consumer_join(const Ctx& c, ConsumerGroup& g, const protocol::ConsumerGroupHeartbeatRequest& req,
                                const sim::Incoming& in, Errc* error);
  Errc validate_member_epoch(const ConsumerMember& m, const protocol::ConsumerGroupHeartbeatRequest& req) const;
  // Recomputes the target if the group epoch moved on (or the subscribed topics changed).
  void maybe_update_target(ConsumerGroup& g);
  // Resolves the group's regexes again when one is new, or when the batch
  // interval passed and the image's topics changed; true if what some regex
  // resolves to changed (a new group epoch).
  bool maybe_refresh_regexes(ConsumerGroup& g);
  std::map<std::string, int32_t> subscription_metadata(const ConsumerGroup& g) const;
  std::string preferred_assignor(const ConsumerGroup& g) const;
  void remove_consumer_member(const Ctx& c, ConsumerGroup& g, const std::string& member_id, bool fenced);
  void reschedule_consumer_session(const Ctx& c, ConsumerGroup& g, ConsumerMember& m);
  void update_rebalance_timer(const Ctx& c, ConsumerGroup& g, ConsumerMember& m);
  void expire_consumer_member(const Ctx& c, const std::string& group_id, const std::string& member_id,
                              int32_t epoch, bool rebalance);
  void persist_consumer_group(const Ctx& c, ConsumerGroup& g, std::function<void(Errc)> done);
  ConsumerGroup* find_consumer(const Ctx& c, const std::string& group_id);
  Errc validate_consumer_offset_commit(const ConsumerGroup& g, const protocol::OffsetCommitRequest& req) const;
  void replay_consumer_group(Shard& s, const std::string& group_id, const std::optional<ConsumerGroupValue>& v);
  void describe_consumer_group(const ConsumerGroup& g, GroupDescription& d) const;
  // The __consumer_offsets records of a commit, and the values they carry.
  std::pair<std::vector<storage::Record>, std::vector<std::pair<TopicPartition, OffsetAndMetadata>>>
  offset_commit_records(const std::string& group_id, const std::vector<protocol::OffsetCommitPartition>& partitions) const;
  // Appends a validated commit's records; answers with respond_all once written (or failed).
  void append_offset_commit(const Ctx& c, const protocol::OffsetCommitRequest& req,
                            std::function<void(const protocol::OffsetCommitRequest&, Errc)> respond_all);
  void complete_txn_offsets(Shard& s, ProducerId pid, bool committed, Offset marker_offset);

  // Refreshes regexes, moves the group epoch for new subscription metadata,
  // recomputes the target and takes the member's next step given what it
  // owns (the tail of every ConsumerGroupHeartbeat and of a classic member's
  // JoinGroup). True if the member's state changed.
  bool advance_consumer_member(ConsumerGroup& g, const std::string& member_id, int32_t epoch_before,
                               const std::optional<std::vector<TopicPartition>>& owned);

  // ---- online migration (KIP-848): group_coordinator_migration.cc --------------------------
  // Kafka's validateOnlineUpgrade: the policy allows it and the classic group
  // speaks the embedded consumer protocol.
  bool validate_online_upgrade(const ClassicGroup& g) const;
  // Kafka's convertToConsumerGroup: the classic group (with members) becomes
  // a consumer group of classic members at its generation; parked JoinGroup /
  // SyncGroup get REBALANCE_IN_PROGRESS.
  ConsumerGroup& convert_to_consumer_group(const Ctx& c, Shard& s, ClassicGroup& g);
  // Kafka's validateOnlineDowngradeWithFencedMember: `leaving` is the last
  // consumer-protocol member and classic members remain.
  bool validate_online_downgrade(const ConsumerGroup& g, const std::string& leaving) const;
  // Kafka's convertToClassicGroup: the remaining (classic) members form a
  // Stable classic group at the group epoch, then a rebalance starts.
  void convert_to_classic_group(const Ctx& c, Shard& s, std::string group_id, std::string leaving,
                                std::function<void(Errc)> done);
  // Classic requests of a consumer group's classic members.
  void classic_join_to_consumer_group(const Ctx& c, ConsumerGroup& g, const protocol::JoinGroupRequest& req,
                                      const sim::Incoming& in);
  void classic_sync_to_consumer_group(const Ctx& c, ConsumerGroup& g, const protocol::SyncGroupRequest& req,
                                      const sim::Incoming& in);
  Errc classic_heartbeat_to_consumer_group(const Ctx& c, ConsumerGroup& g, const protocol::HeartbeatRequest& req);
  protocol::LeaveGroupResponse classic_leave_consumer_group(const Ctx& c, ConsumerGroup& g,
                                                            const protocol::LeaveGroupRequest& req);
  // The classic member `member_id` (static: by instance id) of a consumer group, or the error.
  std::pair<ConsumerMember*, Errc> classic_member_of(ConsumerGroup& g, const std::string& member_id,
                                                     const std::optional<std::string>& instance_id);

  // ---- the join / sync protocol (Kafka's names) -----------------------------------------
  void join_new_member(const Ctx& c, ClassicGroup& g, const protocol::JoinGroupRequest& req, const sim::Incoming& in);
  void join_existing_member(const Ctx& c, ClassicGroup& g, const protocol::JoinGroupRequest& req,
                            const sim::Incoming& in);
  void add_member_then_rebalance_or_complete_join(const Ctx& c, ClassicGroup& g, const protocol::JoinGroupRequest& req,
                                                  const sim::Incoming& in, const std::string& member_id);
  void update_member_then_rebalance_or_complete_join(const Ctx& c, ClassicGroup& g, ClassicMember& m,
                                                     const protocol::JoinGroupRequest& req, const sim::Incoming& in);
  void update_static_member_then_rebalance_or_complete_join(const Ctx& c, ClassicGroup& g,
                                                            const protocol::JoinGroupRequest& req,
                                                            const sim::Incoming& in, const std::string& old_id,
                                                            const std::string& new_id);
  void maybe_prepare_rebalance_or_complete_join(const Ctx& c, ClassicGroup& g);
  void maybe_complete_join_phase(const Ctx& c, ClassicGroup& g);
  void prepare_rebalance(const Ctx& c, ClassicGroup& g, const std::string& reason);
  void maybe_complete_join_else_schedule(const Ctx& c, ClassicGroup& g);
  void try_complete_initial_rebalance(const Ctx& c, const std::string& group_id, int32_t delay_ms, int32_t remaining_ms);
  void complete_join(const Ctx& c, ClassicGroup& g);
  void expire_pending_sync(const Ctx& c, const std::string& group_id, int32_t generation);
  void expire_heartbeat(const Ctx& c, const std::string& group_id, const std::string& member_id);
  void remove_member_and_update_group(const Ctx& c, ClassicGroup& g, const std::string& member_id);
  void remove_current_member(ClassicGroup& g, const std::string& member_id);
  void remove_pending_sync_member(ClassicGroup& g, const std::string& member_id);
  void reset_and_propagate_assignment(const Ctx& c, ClassicGroup& g, Errc error);
  void set_and_propagate_assignment(const Ctx& c, ClassicGroup& g, const Assignment& a);
  void propagate_assignment(const Ctx& c, ClassicGroup& g, Errc error);
  Errc validate_member(const ClassicGroup& g, const std::string& member_id,
                       const std::optional<std::string>& instance_id) const;
  Errc validate_offset_commit(const ClassicGroup& g, const protocol::OffsetCommitRequest& req) const;
  bool accept_joining_member(const ClassicGroup& g, const std::string& member_id) const;

  // ---- timers -------------------------------------------------------------------------------
  void reschedule_heartbeat(const Ctx& c, ClassicGroup& g, ClassicMember& m, int64_t timeout_ms);
  void set_join_timer(ClassicGroup& g, int64_t ms, std::function<void()> fn);
  void cancel(std::optional<sim::TimerId>& t);

  // ---- persistence ----------------------------------------------------------------------------
  // Writes the group's metadata record; `done` runs once it is committed or failed.
  void persist_group(const Ctx& c, ClassicGroup& g, const Assignment* assignment, std::function<void(Errc)> done);
  void replay(int32_t partition, Offset offset, const storage::RecordView& r, const storage::RecordBatch& b);
  void loaded(int32_t partition);
  void unloaded(int32_t partition);

  // ---- helpers ----------------------------------------------------------------------------------
  // The shard of a group if it is served (and loaded) here, else the error.
  std::pair<Ctx, Errc> target(const std::string& group_id) const;
  Shard* shard(const Ctx& c);
  ClassicGroup* find(const Ctx& c, const std::string& group_id);
  void finish(const Ctx& c, const std::string& group_id);
  std::string new_member_id(const std::string& prefix);
  std::vector<protocol::JoinGroupMember> current_members(const ClassicGroup& g) const;
  protocol::JoinGroupResponse join_response(const ClassicGroup& g, const std::string& member_id, bool with_members) const;
  void respond_join(const sim::Incoming& in, protocol::JoinGroupResponse r);
  void respond_join_error(const sim::Incoming& in, Errc e, const std::string& member_id);
  void respond_sync(const sim::Incoming& in, Errc e, const std::string& protocol, const std::string& assignment);
  int64_t now_ms() const { return world_.now().ns / 1'000'000; }

  sim::World& world_;
  sim::NodeId self_;
  int32_t broker_id_;
  const Config& config_;
  CoordinatorRuntime runtime_;
  sim::Rng rng_;  // member ids
  std::map<int32_t, Shard> shards_;
  uint64_t appends_ = 0;  // group metadata writes queued (detects "nothing written")
  // Configuration (read once).
  int32_t num_partitions_, initial_delay_ms_, min_session_ms_, max_session_ms_, max_size_;
  bool fencing_;
  int32_t consumer_heartbeat_ms_, consumer_session_ms_;
  std::vector<std::string> consumer_assignors_;
  bool fence_pending_revocation_;  // false: ksim.consumer.group.pending.revocation=ignore (KAFKA-16147)
  bool upgrade_enabled_, downgrade_enabled_;  // group.consumer.migration.policy
  // Registered on first use: a new kind id at construction would shift the
  // ids (and the trace) of every classic run.
  std::optional<sim::KindId> cg_heartbeat_resp_;
  sim::KindId join_resp_, sync_resp_, heartbeat_resp_, leave_resp_, commit_resp_, fetch_resp_, txn_commit_resp_;
};

}  // namespace ksim::coordinator
