// ClassicGroup: one consumer group of the classic protocol, as the
// coordinator holds it in memory (Kafka's ClassicGroup / ClassicGroupMember).
//
// This file is the group's state and its bookkeeping only — the rules of
// WHEN to rebalance, respond or persist live in group_coordinator.cc, as
// Kafka splits ClassicGroup from GroupMetadataManager. What a group knows:
//   * its state (Empty, PreparingRebalance, CompletingRebalance, Stable, Dead)
//     and the previous one; only Kafka's valid transitions are allowed;
//   * the generation, the protocol type ("consumer"), the selected protocol
//     (assignor) and the leader;
//   * members by member id (an ordered map: iteration order never depends on
//     addresses or hashes), static members by group.instance.id, members that
//     got MEMBER_ID_REQUIRED and have not joined yet (pending), members of the
//     new generation that have not sent SyncGroup yet (pending sync);
//   * for each member, the parked JoinGroup / SyncGroup request it waits on
//     (answered by the coordinator), its protocols, timeouts and assignment.
// assert_invariants() checks the bookkeeping after every change (README.md).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "engine/broker/protocol.h"
#include "engine/common/errors.h"
#include "engine/coordinator/group_records.h"
#include "sim/network.h"
#include "sim/world.h"

namespace ksim::coordinator {

enum class GroupState : uint8_t { Empty, PreparingRebalance, CompletingRebalance, Stable, Dead };
const char* group_state_name(GroupState s);

struct ClassicMember {
  std::string member_id;
  std::optional<std::string> group_instance_id;
  std::string client_id;
  int32_t client_node = -1;  // the client node the member joined from (Kafka's clientHost)
  int32_t rebalance_timeout_ms = 0;
  int32_t session_timeout_ms = 0;
  std::string protocol_type;
  std::vector<protocol::JoinGroupProtocol> protocols;  // in the member's preference order
  std::string assignment;
  std::optional<sim::Incoming> awaiting_join;  // a parked JoinGroup request
  std::optional<sim::Incoming> awaiting_sync;  // a parked SyncGroup request
  bool is_new = false;                         // joined, not yet part of a generation
  std::optional<sim::TimerId> heartbeat_timer;

  bool is_static() const { return group_instance_id.has_value(); }
  // Kafka's hasSatisfiedHeartbeat: a member parked in a join or sync needs no
  // heartbeat, unless it is new (new members can expire while awaiting join).
  bool has_satisfied_heartbeat() const { return !is_new && (awaiting_join || awaiting_sync); }
  // Same protocol names and metadata, in the same order.
  bool matches(const std::vector<protocol::JoinGroupProtocol>& ps) const;
  // The metadata for `protocol` ("" if the member does not support it).
  std::string metadata(const std::string& protocol) const;
};

class ClassicGroup {
 public:
  ClassicGroup(std::string id, int64_t now_ms);

  const std::string& id() const { return id_; }
  GroupState state() const { return state_; }
  GroupState previous_state() const { return previous_; }
  bool is(GroupState s) const { return state_ == s; }
  int32_t generation() const { return generation_; }
  const std::optional<std::string>& protocol_type() const { return protocol_type_; }
  const std::optional<std::string>& protocol_name() const { return protocol_name_; }
  const std::optional<std::string>& leader() const { return leader_; }
  bool is_leader(const std::string& member_id) const { return leader_ && *leader_ == member_id; }
  int64_t state_timestamp_ms() const { return state_timestamp_ms_; }

  // ---- members --------------------------------------------------------------------
  const std::map<std::string, ClassicMember>& members() const { return members_; }
  std::map<std::string, ClassicMember>& members() { return members_; }
  bool has_member(const std::string& id) const { return members_.count(id) > 0; }
  ClassicMember& member(const std::string& id);
  size_t size() const { return members_.size(); }
  // Adds a member (the first one fixes the protocol type and becomes leader).
  void add(ClassicMember m);
  // Removes a member (its parked requests must have been taken); a new leader
  // is the remaining member with the smallest id. Returns the removed member.
  std::optional<ClassicMember> remove(const std::string& member_id);
  // New protocols / timeouts; `join` replaces the parked JoinGroup (nullopt: none).
  void update_member(ClassicMember& m, std::vector<protocol::JoinGroupProtocol> protocols, int32_t rebalance_timeout_ms,
                     int32_t session_timeout_ms, std::optional<sim::Incoming> join);
  // Takes a member's parked JoinGroup / SyncGroup, if any.
  std::optional<sim::Incoming> take_join(ClassicMember& m);
  std::optional<sim::Incoming> take_sync(ClassicMember& m);
  int num_awaiting_join() const { return num_awaiting_join_; }
  // Static membership: the member now known as `new_id` inherits everything
  // of `old_id`; the old member's parked requests are returned (to be fenced).
  struct Replaced {
    std::optional<sim::Incoming> old_join, old_sync;
  };
  Replaced replace_static_member(const std::string& instance_id, const std::string& old_id, const std::string& new_id);
  std::optional<std::string> static_member_id(const std::string& instance_id) const;

  // KIP-394 pending members (got MEMBER_ID_REQUIRED, not joined yet).
  bool is_pending(const std::string& id) const { return pending_join_.count(id) > 0; }
  void add_pending(const std::string& id);
  void remove_pending(const std::string& id) { pending_join_.erase(id); }
  std::map<std::string, sim::TimerId>& pending_timers() { return pending_timers_; }
  // Members of the new generation that have not sent SyncGroup yet.
  const std::set<std::string>& pending_sync() const { return pending_sync_; }
  void add_pending_sync(const std::string& id);
  void remove_pending_sync(const std::string& id) { pending_sync_.erase(id); }
  void clear_pending_sync() { pending_sync_.clear(); }

  bool has_all_members_joined() const {
    return static_cast<int>(members_.size()) == num_awaiting_join_ && pending_join_.empty();
  }
  std::vector<std::string> not_yet_rejoined() const;
  // Keeps the leader if it rejoined, else picks a joined member; false if none joined.
  bool maybe_elect_new_joined_leader();
  // The largest rebalance timeout of the members (0 without members).
  int32_t rebalance_timeout_ms() const;

  // ---- protocols --------------------------------------------------------------------
  bool supports_protocols(const std::string& type, const std::vector<protocol::JoinGroupProtocol>& ps) const;
  // The protocol all members support with the most first-choice votes (ties:
  // the smallest name). Requires members.
  std::string select_protocol() const;

  // ---- state --------------------------------------------------------------------------
  // Kafka's valid transitions only (asserted).
  void transition_to(GroupState s, int64_t now_ms);
  bool can_rebalance() const;  // PreparingRebalance may follow the current state
  // generation + 1; select the protocol and go CompletingRebalance, or Empty.
  void init_next_generation(int64_t now_ms);
  bool new_member_added = false;  // during the initial rebalance delay

  // Timers owned by the coordinator (join / sync phase deadlines).
  std::optional<sim::TimerId> join_timer, sync_timer;

  // ---- persistence -----------------------------------------------------------------------
  // The group metadata record with `assignment` (member id -> bytes; members
  // missing from it get their current assignment).
  GroupMetadataValue to_record(const std::map<std::string, std::string>* assignment = nullptr) const;
  // A group as a replayed record leaves it: Stable with members, or Empty.
  static ClassicGroup from_record(const std::string& id, const GroupMetadataValue& v);

  // Asserts the bookkeeping (SIM_ASSERT → SimError).
  void assert_invariants() const;

 private:
  std::string id_;
  GroupState state_ = GroupState::Empty;
  GroupState previous_ = GroupState::Empty;
  int64_t state_timestamp_ms_ = -1;
  int32_t generation_ = 0;
  std::optional<std::string> protocol_type_, protocol_name_, leader_;
  std::map<std::string, ClassicMember> members_;
  std::map<std::string, std::string> static_members_;  // group.instance.id -> member id
  std::set<std::string> pending_join_, pending_sync_;
  std::map<std::string, sim::TimerId> pending_timers_;
  std::map<std::string, int> supported_protocols_;  // protocol -> members supporting it
  int num_awaiting_join_ = 0;
};

}  // namespace ksim::coordinator
