// GroupCoordinator, its online-migration half (KIP-848's upgrade and
// downgrade): a live classic group becomes a consumer group when the first
// consumer-protocol member joins it, and goes back to classic when the last
// consumer-protocol member leaves. Kafka's GroupMetadataManager methods of
// the same names (convertToConsumerGroup, classicGroupJoinToConsumerGroup,
// classicGroupSyncToConsumerGroup, classicGroupHeartbeatToConsumerGroup,
// convertToClassicGroup, validateOnlineUpgrade / Downgrade); the rules are in
// README.md ("Online migration").
//
// Why the classic members can stay: a classic consumer only needs a
// generation, a JoinGroup answer and a SyncGroup answer. In the converted
// group its generation is its member epoch, the coordinator computes its
// share (the same target and reconciliation as for consumer-protocol
// members, fed with the partitions its subscription says it owns), and a
// Heartbeat answers REBALANCE_IN_PROGRESS whenever it has something to catch
// up on — so it rejoins, and its SyncGroup returns what it may own now. A
// partition still goes to nobody else until its owner gave it up.
#include <algorithm>

#include "engine/clients/consumer_protocol.h"
#include "engine/common/node_ids.h"
#include "engine/coordinator/coordinator_lookup.h"
#include "engine/coordinator/group_coordinator.h"
#include "sim/error.h"

namespace ksim::coordinator {
namespace {

PartitionSet set_of(const std::vector<TopicPartition>& v) { return {v.begin(), v.end()}; }

// The embedded ConsumerProtocol subscription of a JoinGroup (every protocol
// carries the same one: Kafka reads any).
std::optional<clients::Subscription> subscription_of(const std::vector<protocol::JoinGroupProtocol>& protocols) {
  if (protocols.empty()) return std::nullopt;
  return clients::decode_subscription(protocols.front().metadata);
}

}  // namespace

// ---- upgrade ----------------------------------------------------------------------------------------

bool GroupCoordinator::validate_online_upgrade(const ClassicGroup& g) const {
  if (!upgrade_enabled_) {
    world_.probe("group: online upgrade disabled (group.consumer.migration.policy)");
    return false;
  }
  if (g.protocol_type() != std::string(clients::kConsumerProtocolType)) return false;
  for (const auto& [id, m] : g.members())
    if (!subscription_of(m.protocols)) return false;  // Kafka: the embedded protocol is malformed
  return true;
}

ConsumerGroup& GroupCoordinator::convert_to_consumer_group(const Ctx& c, Shard& s, ClassicGroup& classic) {
  (void)c;
  const std::string gid = classic.id();
  const int32_t generation = classic.generation();
  world_.probe("group: classic group with members converted to consumer (online upgrade)");
  // The classic group dies here: members waiting in a join or a sync must
  // rejoin (Kafka completes them with REBALANCE_IN_PROGRESS), timers stop.
  for (auto& [id, m] : classic.members()) {
    cancel(m.heartbeat_timer);
    if (auto join = classic.take_join(m)) respond_join_error(*join, Errc::REBALANCE_IN_PROGRESS, id);
    if (auto sync = classic.take_sync(m)) respond_sync(*sync, Errc::REBALANCE_IN_PROGRESS, "", "");
  }
  for (auto& [id, t] : classic.pending_timers()) world_.cancel(t);
  classic.pending_timers().clear();
  cancel(classic.join_timer);
  cancel(classic.sync_timer);

  ConsumerGroup g(gid, fence_pending_revocation_);
  // Kafka's ConsumerGroup.fromClassicGroup: group, target and member epochs
  // are the generation; every member is STABLE with its last assignment.
  g.set_epochs(generation, generation);
  std::map<std::string, PartitionSet> target;
  for (const auto& [id, cm] : classic.members()) {
    const std::optional<clients::Subscription> sub = subscription_of(cm.protocols);
    SIM_ASSERT(sub.has_value(), "group " + gid + ": upgrading a member without a consumer subscription");
    ConsumerMember m;
    m.member_id = id;
    m.instance_id = cm.group_instance_id;
    m.client_id = cm.client_id;
    m.client_node = cm.client_node;
    m.rebalance_timeout_ms = cm.rebalance_timeout_ms;
    m.subscribed_topics = {sub->topics.begin(), sub->topics.end()};
    m.classic = ClassicMemberMetadata{cm.session_timeout_ms, cm.protocols};
    PartitionSet assigned;
    if (auto a = clients::decode_assignment(cm.assignment)) assigned = set_of(a->partitions);
    ConsumerMember& added = g.add(std::move(m));
    g.update_member(added, generation, MemberState::Stable, assigned, {});
    added.previous_member_epoch = generation;
    target[id] = std::move(assigned);
  }
  g.set_target(std::move(target), generation);
  g.subscription_metadata = subscription_metadata(g);
  s.groups.erase(gid);
  ConsumerGroup& out = s.consumer_groups.emplace(gid, std::move(g)).first->second;
  // Their session timers, with the session timeout of their JoinGroup.
  for (auto& [id, m] : out.members()) reschedule_consumer_session(c, out, m);
  out.assert_invariants();
  if (on_group_converted) on_group_converted(gid, "consumer");
  return out;
}

// ---- classic members of a consumer group -------------------------------------------------------------------

std::pair<ConsumerMember*, Errc> GroupCoordinator::classic_member_of(ConsumerGroup& g, const std::string& member_id,
                                                                     const std::optional<std::string>& instance_id) {
  // Kafka's validateConsumerGroupMember + throwIfMemberDoesNotUseClassicProtocol.
  ConsumerMember* m = nullptr;
  if (instance_id) {
    const auto id = g.static_member_id(*instance_id);
    if (!id) return {nullptr, Errc::UNKNOWN_MEMBER_ID};
    if (*id != member_id) return {nullptr, Errc::FENCED_INSTANCE_ID};
    m = g.member(*id);
  } else {
    m = g.member(member_id);
  }
  if (!m || !m->uses_classic_protocol() || m->left_static()) return {nullptr, Errc::UNKNOWN_MEMBER_ID};
  return {m, Errc::NONE};
}

void GroupCoordinator::classic_join_to_consumer_group(const Ctx& c, ConsumerGroup& g,
                                                      const protocol::JoinGroupRequest& req, const sim::Incoming& in) {
  const std::optional<clients::Subscription> sub = subscription_of(req.protocols);
  if (req.protocol_type != clients::kConsumerProtocolType || !sub)
    return respond_join_error(in, Errc::INCONSISTENT_GROUP_PROTOCOL, req.member_id);
  std::string member_id = req.member_id;
  if (member_id.empty()) {
    member_id = new_member_id(req.group_instance_id ? *req.group_instance_id : world_.node_name(in.src));
    // KIP-394 as for a classic group: a dynamic member comes back with its id.
    if (!req.group_instance_id) return respond_join_error(in, Errc::MEMBER_ID_REQUIRED, member_id);
  }
  const int32_t epoch_before = g.group_epoch();
  if (req.group_instance_id) {
    // A static member: a new member id for a known instance replaces the old
    // member (it is fenced; its partitions are released to the target).
    if (auto old = g.static_member_id(*req.group_instance_id); old && *old != member_id) {
      world_.probe("group: classic static member replaced in a consumer group");
      remove_consumer_member(c, g, *old, true);
      g.bump_group_epoch();
    }
  }
  ConsumerMember* m = g.member(member_id);
  if (m && !m->uses_classic_protocol()) return respond_join_error(in, Errc::UNKNOWN_MEMBER_ID, member_id);
  const std::set<std::string> topics(sub->topics.begin(), sub->topics.end());
  if (!m) {
    world_.probe("group: classic member joined a consumer group");
    ConsumerMember fresh;
    fresh.member_id = member_id;
    fresh.instance_id = req.group_instance_id;
    fresh.subscribed_topics = topics;
    m = &g.add(std::move(fresh));
    if (g.group_epoch() == epoch_before) g.bump_group_epoch();
  } else if (m->subscribed_topics != topics) {
    m->subscribed_topics = topics;
    if (g.group_epoch() == epoch_before) g.bump_group_epoch();
  }
  m->client_id = world_.node_name(in.src);
  m->client_node = kafka_id_of(in.src);
  m->rebalance_timeout_ms = req.rebalance_timeout_ms;
  m->classic = ClassicMemberMetadata{req.session_timeout_ms, req.protocols};
  // What it owns: an eager member revoked everything before rejoining (an
  // empty list); a cooperative one lists what it kept.
  // The answer always waits for a write (Kafka: every classic join appends
  // the member's metadata), so whether the member moved does not matter here.
  advance_consumer_member(g, member_id, epoch_before, sub->owned_partitions);
  m = g.member(member_id);
  update_rebalance_timer(c, g, *m);
  reschedule_consumer_session(c, g, *m);
  g.assert_invariants();
  protocol::JoinGroupResponse r;
  r.member_id = member_id;
  r.generation_id = m->member_epoch;  // the generation of a classic member is its member epoch
  r.protocol_name = req.protocols.front().name;
  // No leader: the coordinator assigns; the member syncs as a follower.
  persist_consumer_group(c, g, [this, in, r = std::move(r)](Errc e) mutable {
    if (e != Errc::NONE) return respond_join_error(in, e, r.member_id);
    respond_join(in, std::move(r));
  });
}

void GroupCoordinator::classic_sync_to_consumer_group(const Ctx& c, ConsumerGroup& g,
                                                      const protocol::SyncGroupRequest& req, const sim::Incoming& in) {
  auto [m, e] = classic_member_of(g, req.member_id, req.group_instance_id);
  if (e != Errc::NONE) return respond_sync(in, e, "", "");
  if (req.generation_id != m->member_epoch) return respond_sync(in, Errc::ILLEGAL_GENERATION, "", "");
  if (!req.protocol_name.empty() && req.protocol_name != m->classic->protocols.front().name)
    return respond_sync(in, Errc::INCONSISTENT_GROUP_PROTOCOL, "", "");
  // A new group epoch since its join: rejoin first (unless it still revokes:
  // it finishes that, and its next join catches up).
  if (g.group_epoch() > m->member_epoch && m->state != MemberState::UnrevokedPartitions)
    return respond_sync(in, Errc::REBALANCE_IN_PROGRESS, "", "");
  reschedule_consumer_session(c, g, *m);
  clients::Assignment a;
  a.partitions = {m->assigned.begin(), m->assigned.end()};
  respond_sync(in, Errc::NONE, m->classic->protocols.front().name, clients::encode_assignment(a));
}

Errc GroupCoordinator::classic_heartbeat_to_consumer_group(const Ctx& c, ConsumerGroup& g,
                                                           const protocol::HeartbeatRequest& req) {
  auto [m, e] = classic_member_of(g, req.member_id, req.group_instance_id);
  if (e != Errc::NONE) return e;
  if (req.generation_id != m->member_epoch) return Errc::ILLEGAL_GENERATION;
  reschedule_consumer_session(c, g, *m);
  // Rejoin when there is something to catch up on: a new group epoch, a
  // partition to give up, or partitions it waited for that are free now.
  if (m->member_epoch < g.group_epoch() || m->state == MemberState::UnrevokedPartitions ||
      (m->state == MemberState::UnreleasedPartitions && !g.waiting_on_unreleased_partition(*m))) {
    world_.probe("group: classic member of a consumer group told to rejoin");
    return Errc::REBALANCE_IN_PROGRESS;
  }
  return Errc::NONE;
}

protocol::LeaveGroupResponse GroupCoordinator::classic_leave_consumer_group(const Ctx& c, ConsumerGroup& g,
                                                                            const protocol::LeaveGroupRequest& req) {
  protocol::LeaveGroupResponse resp;
  bool any = false;
  for (const protocol::LeaveGroupMember& lm : req.members) {
    std::string id = lm.member_id;
    if (id.empty() && lm.group_instance_id) id = g.static_member_id(*lm.group_instance_id).value_or("");
    auto [m, e] = classic_member_of(g, id, id == lm.member_id ? lm.group_instance_id : std::nullopt);
    if (e == Errc::NONE) {
      world_.probe("group: classic member left a consumer group");
      remove_consumer_member(c, g, id, false);
      any = true;
    }
    resp.members.emplace_back(lm.member_id, e);
  }
  if (any) {
    g.bump_group_epoch();
    g.assert_invariants();
    persist_consumer_group(c, g, {});
  }
  return resp;
}

// ---- downgrade ----------------------------------------------------------------------------------------------

bool GroupCoordinator::validate_online_downgrade(const ConsumerGroup& g, const std::string& leaving) const {
  if (!g.all_members_use_classic_protocol_except(leaving)) return false;
  if (g.members().size() <= 1) return false;  // it would be empty: it stays a consumer group
  if (!downgrade_enabled_) {
    world_.probe("group: online downgrade disabled (group.consumer.migration.policy)");
    return false;
  }
  return static_cast<int64_t>(g.members().size()) - 1 <= max_size_;
}

// By value: callers pass the consumer group's own id (and a member's), which
// die with the group erased below.
void GroupCoordinator::convert_to_classic_group(const Ctx& c, Shard& s, std::string gid, std::string leaving,
                                                std::function<void(Errc)> done) {
  auto it = s.consumer_groups.find(gid);
  SIM_ASSERT(it != s.consumer_groups.end(), "group " + gid + ": downgrading a group that is not a consumer group");
  ConsumerGroup& cg = it->second;
  world_.probe("group: consumer group converted to classic (online downgrade)");
  // Kafka's ClassicGroup.fromConsumerGroup: Stable at the group epoch, each
  // remaining member with its supported protocols and its target assignment
  // as its assignment; then a rebalance, so every member rejoins.
  ClassicGroup votes(gid, now_ms());  // only to select the protocol all members support
  for (const auto& [id, m] : cg.members()) {
    if (id == leaving) continue;
    ClassicMember cm;
    cm.member_id = id;
    cm.protocol_type = clients::kConsumerProtocolType;
    cm.protocols = m.classic->protocols;
    votes.add(std::move(cm));
  }
  GroupMetadataValue v;
  v.protocol_type = clients::kConsumerProtocolType;
  v.generation = cg.group_epoch();
  v.protocol = votes.select_protocol();
  v.current_state_timestamp_ms = now_ms();
  for (const auto& [id, m] : cg.members()) {
    if (id == leaving) continue;
    MemberRecord r;
    r.member_id = id;
    r.group_instance_id = m.instance_id;
    r.client_id = m.client_id;
    r.client_node = m.client_node;
    r.rebalance_timeout_ms = m.rebalance_timeout_ms;
    r.session_timeout_ms = m.classic->session_timeout_ms;
    for (const protocol::JoinGroupProtocol& p : m.classic->protocols)
      if (p.name == *v.protocol) r.subscription = p.metadata;
    clients::Assignment a;
    const PartitionSet& target = cg.target_of(id);
    a.partitions = {target.begin(), target.end()};
    r.assignment = clients::encode_assignment(a);
    v.members.push_back(std::move(r));
  }
  v.leader = v.members.front().member_id;
  for (auto& [id, m] : cg.members()) {
    cancel(m.session_timer);
    cancel(m.rebalance_timer);
  }
  s.consumer_groups.erase(it);
  ClassicGroup& g = s.groups.emplace(gid, ClassicGroup::from_record(gid, v)).first->second;
  for (auto& [id, m] : g.members()) {
    // Every protocol it supports (the record keeps the selected one only).
    for (const auto& [cid, cm] : votes.members())
      if (cid == id) g.update_member(m, cm.protocols, m.rebalance_timeout_ms, m.session_timeout_ms, std::nullopt);
    reschedule_heartbeat(c, g, m, m.session_timeout_ms);
  }
  if (on_group_converted) on_group_converted(gid, "classic");
  persist_group(c, g, nullptr, std::move(done));
  prepare_rebalance(c, g, "Downgrade group " + gid + " from consumer to classic.");
  g.assert_invariants();
}

}  // namespace ksim::coordinator
