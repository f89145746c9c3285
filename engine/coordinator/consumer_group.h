// ConsumerGroup: one group of the KIP-848 consumer protocol, as the
// coordinator holds it (Kafka's ConsumerGroup / ConsumerGroupMember and the
// partition epochs). Only state and bookkeeping live here; the rules of the
// ConsumerGroupHeartbeat (when to bump the epoch, fence, persist, answer) are
// group_coordinator_consumer.cc's, the target computation
// consumer_assignor.h's, the member's next step member_reconciler.h's.
//
// Three epochs (README.md, "Consumer groups"):
//   * the group epoch, bumped whenever what the assignment depends on changes
//     (a member joins or leaves, a subscription or a subscribed topic's
//     partition count changes);
//   * the target assignment epoch: the group epoch the target was computed
//     for (≤ the group epoch; equal once the assignor ran);
//   * each member's epoch: the target epoch it has converged to (≤ the
//     target assignment epoch).
// Ownership: a partition is owned by the member that has it assigned OR
// pending revocation; it is never given to a second member while owned
// (`owners_`, Kafka's partition epochs) — unless the KAFKA-16147 history
// switch makes partitions pending revocation count as free.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "engine/broker/protocol.h"
#include "engine/common/types.h"
#include "sim/world.h"

namespace ksim::coordinator {

// Kafka's ConsumerGroup.ConsumerGroupState (DescribeGroups names).
enum class ConsumerGroupState : uint8_t { Empty, Assigning, Reconciling, Stable, Dead };
const char* consumer_group_state_name(ConsumerGroupState s);

// Kafka's MemberState: where a member is on its way to the target.
enum class MemberState : uint8_t {
  Stable,                // has its target (of its epoch)
  UnrevokedPartitions,   // must give up partitions first; its epoch stays
  UnreleasedPartitions,  // at the target epoch, waits for partitions others still own
};
const char* member_state_name(MemberState s);

using PartitionSet = std::set<TopicPartition>;

// A member of a consumer group that still speaks the classic protocol
// (JoinGroup / SyncGroup / Heartbeat) — Kafka's ClassicMemberMetadata, set
// by an online upgrade (KIP-848) or when a classic consumer joins a group
// that is already a consumer group. The coordinator computes its assignment.
struct ClassicMemberMetadata {
  int32_t session_timeout_ms = 0;
  std::vector<protocol::JoinGroupProtocol> protocols;  // as its last JoinGroup listed them
};

struct ConsumerMember {
  std::string member_id;
  std::optional<std::string> instance_id;
  std::string client_id;
  int32_t client_node = -1;  // the client node it joined from (Kafka's clientHost)
  int32_t member_epoch = 0;
  int32_t previous_member_epoch = -1;
  MemberState state = MemberState::Stable;
  int32_t rebalance_timeout_ms = 0;
  std::set<std::string> subscribed_topics;
  // KIP-848's SubscribedTopicRegex ("" : none), resolved by the coordinator
  // (the group's `resolved_regexes`); the member's topics are both.
  std::string subscribed_topic_regex;
  std::string server_assignor;  // "" : the group's default
  PartitionSet assigned;
  PartitionSet pending_revocation;
  std::optional<ClassicMemberMetadata> classic;  // set: a classic-protocol member
  // Timers of the coordinator's node (not persisted; re-armed on load).
  std::optional<sim::TimerId> session_timer, rebalance_timer;

  bool is_static() const { return instance_id.has_value(); }
  bool uses_classic_protocol() const { return classic.has_value(); }
  // A static member that left with epoch -2: kept, with its assignment, for a
  // replacement with the same group.instance.id (until its session expires).
  bool left_static() const { return member_epoch == -2; }
};

class ConsumerGroup {
 public:
  ConsumerGroup(std::string id, bool fence_pending_revocation);

  const std::string& id() const { return id_; }
  ConsumerGroupState state() const;
  int32_t group_epoch() const { return group_epoch_; }
  int32_t assignment_epoch() const { return assignment_epoch_; }
  bool dead() const { return dead_; }
  void mark_dead() { dead_ = true; }

  // ---- members --------------------------------------------------------------------
  const std::map<std::string, ConsumerMember>& members() const { return members_; }
  std::map<std::string, ConsumerMember>& members() { return members_; }
  ConsumerMember* member(const std::string& id);
  const ConsumerMember* member(const std::string& id) const;
  std::optional<std::string> static_member_id(const std::string& instance_id) const;
  // Adds a member (epoch 0, nothing owned).
  ConsumerMember& add(ConsumerMember m);
  // Removes a member: its partitions become free. Returns it (timers to cancel).
  ConsumerMember remove(const std::string& member_id);
  // Updates a member to its next state: assigned / pending revocation become
  // its owned partitions (asserts none is owned by another member).
  void update_member(ConsumerMember& m, int32_t epoch, MemberState state, PartitionSet assigned,
                     PartitionSet pending_revocation);

  // ---- epochs and the target -------------------------------------------------------------
  void bump_group_epoch() { ++group_epoch_; }
  // Restores epochs (replay).
  void set_epochs(int32_t group_epoch, int32_t assignment_epoch) {
    group_epoch_ = group_epoch;
    assignment_epoch_ = assignment_epoch;
  }
  const std::map<std::string, PartitionSet>& target() const { return target_; }
  const PartitionSet& target_of(const std::string& member_id) const;
  void set_target(std::map<std::string, PartitionSet> target, int32_t epoch);
  // The member owning `tp` (assigned, or pending revocation unless the
  // KAFKA-16147 switch ignores those), if any.
  std::optional<std::string> owner(const TopicPartition& tp) const;
  // topic -> partition count the current target was computed with.
  std::map<std::string, int32_t> subscription_metadata;

  // The union of every member's subscription (sorted).
  std::set<std::string> subscribed_topics() const;
  // A member's topics: its topic names and what its regex resolved to.
  std::set<std::string> member_topics(const ConsumerMember& m) const;
  // The regexes some member subscribes to (sorted).
  std::set<std::string> subscribed_regexes() const;
  // Every member but `except` speaks the classic protocol (Kafka's allMembersUseClassicProtocolExcept).
  bool all_members_use_classic_protocol_except(const std::string& except) const;
  // A member in UNRELEASED_PARTITIONS still waits for a partition another member owns.
  bool waiting_on_unreleased_partition(const ConsumerMember& m) const;

  // ---- server-side regexes (Kafka's ConsumerGroupRegularExpression records) ----------
  // regex -> the topics it resolved to at the last refresh.
  std::map<std::string, std::set<std::string>> resolved_regexes;
  int64_t last_regex_refresh_ms = -1;  // persisted: the 10 s batch interval survives failover
  // The metadata image's topics at that refresh (not persisted: a new
  // coordinator resolves again once the interval has passed).
  std::vector<std::string> regex_topics_seen;

  // Asserts the bookkeeping (README.md, "Consumer groups": invariants).
  void assert_invariants() const;

 private:
  void own(const ConsumerMember& m);
  void disown(const ConsumerMember& m);

  std::string id_;
  bool fence_pending_revocation_;
  int32_t group_epoch_ = 0;
  int32_t assignment_epoch_ = 0;
  bool dead_ = false;
  std::map<std::string, ConsumerMember> members_;
  std::map<std::string, PartitionSet> target_;
  std::map<TopicPartition, std::string> owners_;  // partition -> owning member
};

}  // namespace ksim::coordinator
