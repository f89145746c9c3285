#include "engine/coordinator/group_coordinator.h"

#include <algorithm>
#include <cstdio>

#include "engine/common/node_ids.h"
#include "engine/coordinator/coordinator_lookup.h"
#include "engine/coordinator/java_hash.h"
#include "engine/storage/control_record.h"
#include "sim/error.h"

namespace ksim::coordinator {
namespace {

// Kafka's group.classic.new.member.join.timeout (5 minutes): a new member
// parked in JoinGroup cannot heartbeat; it is dropped after this long.
constexpr int64_t kNewMemberJoinTimeoutMs = 5 * 60 * 1000;

storage::Bytes bytes_of(const std::string& s) { return storage::Bytes(s.begin(), s.end()); }
std::string_view view_of(const std::span<const uint8_t>& s) {
  return {reinterpret_cast<const char*>(s.data()), s.size()};
}

uint32_t join_size(const protocol::JoinGroupResponse& r) {
  uint32_t n = 64 + static_cast<uint32_t>(r.member_id.size() + r.leader.size() + r.protocol_name.size());
  for (const auto& m : r.members) n += 16 + static_cast<uint32_t>(m.member_id.size() + m.metadata.size());
  return n;
}

}  // namespace

GroupCoordinator::GroupCoordinator(sim::World& world, sim::NodeId self, int32_t broker_id, const Config& config,
                                   ReplicaManager& rm)
    : world_(world),
      self_(self),
      broker_id_(broker_id),
      config_(config),
      runtime_(world, self, rm, kGroupMetadataTopic, config.get_int("offsets.commit.timeout.ms")),
      rng_(world.rng("group-coordinator/" + std::to_string(broker_id) + "/incarnation-" +
                     std::to_string(world.incarnation(self)))),
      num_partitions_(config.get_int("offsets.topic.num.partitions")),
      initial_delay_ms_(config.get_int("group.initial.rebalance.delay.ms")),
      min_session_ms_(config.get_int("group.min.session.timeout.ms")),
      max_session_ms_(config.get_int("group.max.session.timeout.ms")),
      max_size_(config.get_int("group.max.size")),
      fencing_(config.get_bool("ksim.group.generation.fencing") && !config.get_bool("ksim.bug.skip.generation.check")),
      consumer_heartbeat_ms_(config.get_int("group.consumer.heartbeat.interval.ms")),
      consumer_session_ms_(config.get_int("group.consumer.session.timeout.ms")),
      consumer_assignors_(config.get_list("group.consumer.assignors")),
      fence_pending_revocation_(config.get_string("ksim.consumer.group.pending.revocation") != "ignore"),
      upgrade_enabled_(config.get_string("group.consumer.migration.policy") == "bidirectional" ||
                       config.get_string("group.consumer.migration.policy") == "upgrade"),
      downgrade_enabled_(config.get_string("group.consumer.migration.policy") == "bidirectional" ||
                         config.get_string("group.consumer.migration.policy") == "downgrade") {
  sim::Network& net = world_.network();
  join_resp_ = net.kind("JoinGroupResponse");
  sync_resp_ = net.kind("SyncGroupResponse");
  heartbeat_resp_ = net.kind("HeartbeatResponse");
  leave_resp_ = net.kind("LeaveGroupResponse");
  commit_resp_ = net.kind("OffsetCommitResponse");
  fetch_resp_ = net.kind("OffsetFetchResponse");
  txn_commit_resp_ = net.kind("TxnOffsetCommitResponse");
  CoordinatorRuntime::Hooks h;
  h.replay = [this](int32_t p, Offset o, const storage::RecordView& r, const storage::RecordBatch& b) {
    replay(p, o, r, b);
  };
  h.loaded = [this](int32_t p) { loaded(p); };
  h.unloaded = [this](int32_t p) { unloaded(p); };
  runtime_.set_hooks(std::move(h));
}

void GroupCoordinator::start() { runtime_.start(); }

bool GroupCoordinator::handles(const std::string& api) {
  return api == "JoinGroup" || api == "SyncGroup" || api == "Heartbeat" || api == "LeaveGroup" ||
         api == "OffsetCommit" || api == "OffsetFetch" || api == "TxnOffsetCommit" || api == "ConsumerGroupHeartbeat";
}

void GroupCoordinator::handle(const std::string& api, const sim::Incoming& in) {
  if (api == "JoinGroup")
    join_group(in);
  else if (api == "SyncGroup")
    sync_group(in);
  else if (api == "Heartbeat")
    heartbeat(in);
  else if (api == "LeaveGroup")
    leave_group(in);
  else if (api == "OffsetCommit")
    offset_commit(in);
  else if (api == "OffsetFetch")
    offset_fetch(in);
  else if (api == "TxnOffsetCommit")
    txn_offset_commit(in);
  else if (api == "ConsumerGroupHeartbeat")
    consumer_group_heartbeat(in);
}

void GroupCoordinator::on_partition_leader(const TopicPartition& tp, LeaderEpoch epoch) {
  if (tp.topic == kGroupMetadataTopic) runtime_.on_became_leader(tp.partition, epoch);
}

void GroupCoordinator::on_partition_follower(const TopicPartition& tp) {
  if (tp.topic == kGroupMetadataTopic) runtime_.on_resigned(tp.partition);
}

int32_t GroupCoordinator::partition_for(const std::string& group_id) const {
  return coordinator::partition_for(group_id, num_partitions_);
}

// ---- helpers ---------------------------------------------------------------------------------------

std::pair<GroupCoordinator::Ctx, Errc> GroupCoordinator::target(const std::string& group_id) const {
  Ctx c;
  c.partition = partition_for(group_id);
  c.shard = runtime_.shard_id(c.partition);
  return {c, runtime_.status(c.partition)};
}

GroupCoordinator::Shard* GroupCoordinator::shard(const Ctx& c) {
  if (c.shard == 0 || runtime_.shard_id(c.partition) != c.shard) return nullptr;
  return &shards_[c.partition];
}

ClassicGroup* GroupCoordinator::find(const Ctx& c, const std::string& group_id) {
  Shard* s = shard(c);
  if (!s) return nullptr;
  auto it = s->groups.find(group_id);
  return it == s->groups.end() ? nullptr : &it->second;
}

void GroupCoordinator::finish(const Ctx& c, const std::string& group_id) {
  if (ClassicGroup* g = find(c, group_id)) g->assert_invariants();
}

std::string GroupCoordinator::new_member_id(const std::string& prefix) {
  // A version-4 UUID from the broker's seeded stream (Kafka: UUID.randomUUID()).
  const uint64_t hi = (rng_.next_u64() & ~0xF000ULL) | 0x4000ULL;
  const uint64_t lo = (rng_.next_u64() & 0x3FFFFFFFFFFFFFFFULL) | 0x8000000000000000ULL;
  char buf[40];
  std::snprintf(buf, sizeof buf, "%08x-%04x-%04x-%04x-%012llx", static_cast<unsigned>(hi >> 32),
                static_cast<unsigned>((hi >> 16) & 0xFFFF), static_cast<unsigned>(hi & 0xFFFF),
                static_cast<unsigned>(lo >> 48), static_cast<unsigned long long>(lo & 0xFFFFFFFFFFFFULL));
  return prefix + "-" + buf;
}

std::vector<protocol::JoinGroupMember> GroupCoordinator::current_members(const ClassicGroup& g) const {
  std::vector<protocol::JoinGroupMember> out;
  for (const auto& [id, m] : g.members())
    out.push_back(protocol::JoinGroupMember{id, m.group_instance_id, m.metadata(g.protocol_name().value_or(""))});
  return out;
}

protocol::JoinGroupResponse GroupCoordinator::join_response(const ClassicGroup& g, const std::string& member_id,
                                                            bool with_members) const {
  protocol::JoinGroupResponse r;
  r.generation_id = g.generation();
  r.protocol_name = g.protocol_name().value_or("");
  r.leader = g.leader().value_or("");
  r.member_id = member_id;
  if (with_members) r.members = current_members(g);
  return r;
}

void GroupCoordinator::respond_join(const sim::Incoming& in, protocol::JoinGroupResponse r) {
  const uint32_t size = join_size(r);
  world_.network().respond(in, join_resp_, sim::make_payload(std::move(r)), size);
}

void GroupCoordinator::respond_join_error(const sim::Incoming& in, Errc e, const std::string& member_id) {
  protocol::JoinGroupResponse r;
  r.error = e;
  r.member_id = member_id;
  respond_join(in, std::move(r));
}

void GroupCoordinator::respond_sync(const sim::Incoming& in, Errc e, const std::string& protocol,
                                    const std::string& assignment) {
  protocol::SyncGroupResponse r{e, protocol, assignment};
  const uint32_t size = 48 + static_cast<uint32_t>(assignment.size());
  world_.network().respond(in, sync_resp_, sim::make_payload(std::move(r)), size);
}

Errc GroupCoordinator::validate_member(const ClassicGroup& g, const std::string& member_id,
                                       const std::optional<std::string>& instance_id) const {
  if (instance_id) {
    const auto existing = g.static_member_id(*instance_id);
    if (!existing) return Errc::UNKNOWN_MEMBER_ID;
    if (*existing != member_id) return Errc::FENCED_INSTANCE_ID;
  }
  return g.has_member(member_id) ? Errc::NONE : Errc::UNKNOWN_MEMBER_ID;
}

bool GroupCoordinator::accept_joining_member(const ClassicGroup& g, const std::string& member_id) const {
  switch (g.state()) {
    case GroupState::Empty:
    case GroupState::Dead:
      return true;
    case GroupState::PreparingRebalance:
      return (g.has_member(member_id) && g.members().at(member_id).awaiting_join) ||
             g.num_awaiting_join() < max_size_;
    case GroupState::CompletingRebalance:
    case GroupState::Stable:
      return g.has_member(member_id) || static_cast<int64_t>(g.size()) < max_size_;
  }
  return false;
}

// ---- timers -------------------------------------------------------------------------------------------

void GroupCoordinator::cancel(std::optional<sim::TimerId>& t) {
  if (t) world_.cancel(*t);
  t.reset();
}

void GroupCoordinator::reschedule_heartbeat(const Ctx& c, ClassicGroup& g, ClassicMember& m, int64_t timeout_ms) {
  cancel(m.heartbeat_timer);
  m.heartbeat_timer = world_.schedule_after(
      self_, sim::milliseconds(timeout_ms),
      [this, c, gid = g.id(), mid = m.member_id] { expire_heartbeat(c, gid, mid); });
}

void GroupCoordinator::set_join_timer(ClassicGroup& g, int64_t ms, std::function<void()> fn) {
  cancel(g.join_timer);
  g.join_timer = world_.schedule_after(self_, sim::milliseconds(ms), std::move(fn));
}

// ---- JoinGroup ------------------------------------------------------------------------------------------

void GroupCoordinator::join_group(const sim::Incoming& in) {
  const auto& req = sim::payload_as<protocol::JoinGroupRequest>(in.payload);
  if (req.group_id.empty()) return respond_join_error(in, Errc::INVALID_GROUP_ID, req.member_id);
  auto [c, status] = target(req.group_id);
  if (status != Errc::NONE) return respond_join_error(in, status, req.member_id);
  if (req.session_timeout_ms < min_session_ms_ || req.session_timeout_ms > max_session_ms_)
    return respond_join_error(in, Errc::INVALID_SESSION_TIMEOUT, req.member_id);
  Shard& s = *shard(c);
  if (auto cg = s.consumer_groups.find(req.group_id); cg != s.consumer_groups.end()) {
    // A consumer (KIP-848) group with members takes a classic member as a
    // classic member of the consumer group (the coordinator assigns it). An
    // empty one (its last member left) becomes a classic group again; its
    // committed offsets stay where they are.
    if (!cg->second.members().empty()) return classic_join_to_consumer_group(c, cg->second, req, in);
    world_.probe("group: empty consumer group converted to classic");
    s.consumer_groups.erase(cg);
    if (on_group_converted) on_group_converted(req.group_id, "classic");
  }
  const bool unknown_member = req.member_id.empty();
  const bool new_group = !s.groups.count(req.group_id);
  if (new_group && !unknown_member) return respond_join_error(in, Errc::UNKNOWN_MEMBER_ID, req.member_id);
  ClassicGroup& g = s.groups.try_emplace(req.group_id, req.group_id, now_ms()).first->second;
  if (new_group && on_group_created) on_group_created(req.group_id, TopicPartition{kGroupMetadataTopic, c.partition});
  const uint64_t appends_before = appends_;
  if (!accept_joining_member(g, req.member_id)) {
    world_.probe("group: GROUP_MAX_SIZE_REACHED");
    if (g.has_member(req.member_id)) remove_current_member(g, req.member_id);
    respond_join_error(in, Errc::GROUP_MAX_SIZE_REACHED, "");
  } else if (unknown_member) {
    join_new_member(c, g, req, in);
  } else {
    join_existing_member(c, g, req, in);
  }
  // A new group is written to the log even when nothing else was (Kafka
  // writes an empty group record so the group exists after a failover).
  if (new_group && appends_ == appends_before) persist_group(c, g, nullptr, {});
  finish(c, req.group_id);
}

void GroupCoordinator::join_new_member(const Ctx& c, ClassicGroup& g, const protocol::JoinGroupRequest& req,
                                       const sim::Incoming& in) {
  if (g.is(GroupState::Dead)) return respond_join_error(in, Errc::COORDINATOR_NOT_AVAILABLE, "");
  if (!g.supports_protocols(req.protocol_type, req.protocols))
    return respond_join_error(in, Errc::INCONSISTENT_GROUP_PROTOCOL, "");
  const std::string client_id = world_.node_name(in.src);
  const std::string member_id = new_member_id(req.group_instance_id ? *req.group_instance_id : client_id);
  if (req.group_instance_id) {
    if (auto existing = g.static_member_id(*req.group_instance_id)) {
      world_.probe("group: static member rejoined with a new member id");
      return update_static_member_then_rebalance_or_complete_join(c, g, req, in, *existing, member_id);
    }
    return add_member_then_rebalance_or_complete_join(c, g, req, in, member_id);
  }
  // KIP-394: the member must come back with the id; it is pending until then
  // (and dropped if it does not within its session timeout).
  g.add_pending(member_id);
  auto& timers = g.pending_timers();
  if (auto it = timers.find(member_id); it != timers.end()) world_.cancel(it->second);
  timers[member_id] = world_.schedule_after(
      self_, sim::milliseconds(req.session_timeout_ms),
      [this, c, gid = g.id(), member_id] { expire_heartbeat(c, gid, member_id); });
  respond_join_error(in, Errc::MEMBER_ID_REQUIRED, member_id);
}

void GroupCoordinator::join_existing_member(const Ctx& c, ClassicGroup& g, const protocol::JoinGroupRequest& req,
                                            const sim::Incoming& in) {
  const std::string& mid = req.member_id;
  if (g.is(GroupState::Dead)) return respond_join_error(in, Errc::COORDINATOR_NOT_AVAILABLE, mid);
  if (!g.supports_protocols(req.protocol_type, req.protocols))
    return respond_join_error(in, Errc::INCONSISTENT_GROUP_PROTOCOL, mid);
  if (g.is_pending(mid)) {
    if (req.group_instance_id) return respond_join_error(in, Errc::INVALID_REQUEST, mid);  // Kafka: IllegalState
    return add_member_then_rebalance_or_complete_join(c, g, req, in, mid);
  }
  if (Errc e = validate_member(g, mid, req.group_instance_id); e != Errc::NONE) {
    if (e == Errc::FENCED_INSTANCE_ID) world_.probe("group: JoinGroup fenced (static member replaced)");
    return respond_join_error(in, e, mid);
  }
  ClassicMember& m = g.member(mid);
  switch (g.state()) {
    case GroupState::PreparingRebalance:
      return update_member_then_rebalance_or_complete_join(c, g, m, req, in);
    case GroupState::CompletingRebalance:
      // The same metadata: it missed the JoinGroup response; send it again.
      if (m.matches(req.protocols)) return respond_join(in, join_response(g, mid, g.is_leader(mid)));
      return update_member_then_rebalance_or_complete_join(c, g, m, req, in);
    case GroupState::Stable:
      // The leader rejoining forces a rebalance (it may have seen a metadata
      // change); a follower only with new metadata.
      if (g.is_leader(mid) || !m.matches(req.protocols))
        return update_member_then_rebalance_or_complete_join(c, g, m, req, in);
      return respond_join(in, join_response(g, mid, false));
    case GroupState::Empty:
    case GroupState::Dead:
      return respond_join_error(in, Errc::UNKNOWN_MEMBER_ID, mid);
  }
}

void GroupCoordinator::add_member_then_rebalance_or_complete_join(const Ctx& c, ClassicGroup& g,
                                                                  const protocol::JoinGroupRequest& req,
                                                                  const sim::Incoming& in,
                                                                  const std::string& member_id) {
  ClassicMember m;
  m.member_id = member_id;
  m.group_instance_id = req.group_instance_id;
  m.client_id = world_.node_name(in.src);
  m.client_node = kafka_id_of(in.src);
  m.rebalance_timeout_ms = req.rebalance_timeout_ms;
  m.session_timeout_ms = req.session_timeout_ms;
  m.protocol_type = req.protocol_type;
  m.protocols = req.protocols;
  m.awaiting_join = in;
  m.is_new = true;
  // The initial rebalance delay is extended while new members arrive.
  if (g.is(GroupState::PreparingRebalance) && g.previous_state() == GroupState::Empty) g.new_member_added = true;
  if (auto it = g.pending_timers().find(member_id); it != g.pending_timers().end()) {
    world_.cancel(it->second);
    g.pending_timers().erase(it);
  }
  g.add(std::move(m));
  reschedule_heartbeat(c, g, g.member(member_id), kNewMemberJoinTimeoutMs);
  maybe_prepare_rebalance_or_complete_join(c, g);
}

void GroupCoordinator::update_member_then_rebalance_or_complete_join(const Ctx& c, ClassicGroup& g, ClassicMember& m,
                                                                     const protocol::JoinGroupRequest& req,
                                                                     const sim::Incoming& in) {
  g.update_member(m, req.protocols, req.rebalance_timeout_ms, req.session_timeout_ms, in);
  maybe_prepare_rebalance_or_complete_join(c, g);
}

void GroupCoordinator::update_static_member_then_rebalance_or_complete_join(const Ctx& c, ClassicGroup& g,
                                                                            const protocol::JoinGroupRequest& req,
                                                                            const sim::Incoming& in,
                                                                            const std::string& old_id,
                                                                            const std::string& new_id) {
  const std::string instance = *req.group_instance_id;
  cancel(g.member(old_id).heartbeat_timer);
  ClassicGroup::Replaced fenced = g.replace_static_member(instance, old_id, new_id);
  // The old incarnation of the member is fenced at once.
  if (fenced.old_join) respond_join_error(*fenced.old_join, Errc::FENCED_INSTANCE_ID, old_id);
  if (fenced.old_sync) respond_sync(*fenced.old_sync, Errc::FENCED_INSTANCE_ID, "", "");
  ClassicMember& m = g.member(new_id);
  m.client_node = kafka_id_of(in.src);  // the replacement's client, wherever it runs
  reschedule_heartbeat(c, g, m, m.session_timeout_ms);
  const auto old_protocols = m.protocols;
  const int32_t old_rebalance_ms = m.rebalance_timeout_ms, old_session_ms = m.session_timeout_ms;
  g.update_member(m, req.protocols, req.rebalance_timeout_ms, req.session_timeout_ms, in);
  switch (g.state()) {
    case GroupState::Stable:
      if (g.protocol_name() == g.select_protocol()) {
        // No rebalance: persist the new member id, then answer with the
        // current generation (the leader skips the assignment: KIP-814).
        world_.probe("group: static member replaced without a rebalance");
        persist_group(c, g, nullptr, [this, c, gid = g.id(), instance, old_id, new_id, old_protocols, old_rebalance_ms,
                                      old_session_ms](Errc e) {
          ClassicGroup* g2 = find(c, gid);
          if (!g2 || !g2->has_member(new_id)) return;
          ClassicMember& m2 = g2->member(new_id);
          std::optional<sim::Incoming> join = g2->take_join(m2);
          if (e != Errc::NONE) {
            // Revert: the old member id is the static member again.
            g2->update_member(m2, old_protocols, old_rebalance_ms, old_session_ms, std::nullopt);
            cancel(m2.heartbeat_timer);
            if (g2->static_member_id(instance) == new_id) {
              g2->replace_static_member(instance, new_id, old_id);
              reschedule_heartbeat(c, *g2, g2->member(old_id), g2->member(old_id).session_timeout_ms);
            }
            if (join) {
              protocol::JoinGroupResponse r = join_response(*g2, "", false);
              r.error = e;
              respond_join(*join, std::move(r));
            }
          } else if (join) {
            const bool leader = g2->is_leader(new_id);
            protocol::JoinGroupResponse r = join_response(*g2, new_id, leader);
            r.skip_assignment = leader;
            respond_join(*join, std::move(r));
          }
          finish(c, gid);
        });
      } else {
        maybe_prepare_rebalance_or_complete_join(c, g);
      }
      return;
    case GroupState::CompletingRebalance:
      // The leader may already be assigning to the old member id: rebalance.
      return prepare_rebalance(c, g, "static member replaced during CompletingRebalance");
    case GroupState::Empty:
    case GroupState::Dead:
      SIM_ASSERT(false, "group " + g.id() + ": a known static member rejoined an " + group_state_name(g.state()) +
                            " group");
      return;
    case GroupState::PreparingRebalance:
      return maybe_complete_join_phase(c, g);
  }
}

void GroupCoordinator::maybe_prepare_rebalance_or_complete_join(const Ctx& c, ClassicGroup& g) {
  if (g.can_rebalance())
    prepare_rebalance(c, g, "membership change");
  else
    maybe_complete_join_phase(c, g);
}

void GroupCoordinator::maybe_complete_join_phase(const Ctx& c, ClassicGroup& g) {
  if (!g.is(GroupState::PreparingRebalance)) return;
  if (g.previous_state() == GroupState::Empty) return;  // the initial delay's timer completes it
  if (!g.has_all_members_joined()) return;
  complete_join(c, g);
}

void GroupCoordinator::prepare_rebalance(const Ctx& c, ClassicGroup& g, const std::string& reason) {
  (void)reason;
  // Members waiting for an assignment must rejoin.
  if (g.is(GroupState::CompletingRebalance)) reset_and_propagate_assignment(c, g, Errc::REBALANCE_IN_PROGRESS);
  g.clear_pending_sync();
  cancel(g.sync_timer);
  const bool initial = g.is(GroupState::Empty);
  if (initial) {
    const int32_t delay = initial_delay_ms_;
    const int32_t remaining = std::max(g.rebalance_timeout_ms() - delay, 0);
    set_join_timer(g, delay, [this, c, gid = g.id(), delay, remaining] {
      try_complete_initial_rebalance(c, gid, delay, remaining);
    });
  }
  g.transition_to(GroupState::PreparingRebalance, now_ms());
  world_.probe(initial ? "group: initial rebalance" : "group: rebalance");
  if (!initial) maybe_complete_join_else_schedule(c, g);
}

void GroupCoordinator::maybe_complete_join_else_schedule(const Ctx& c, ClassicGroup& g) {
  if (g.has_all_members_joined()) return complete_join(c, g);
  set_join_timer(g, g.rebalance_timeout_ms(), [this, c, gid = g.id()] {
    if (ClassicGroup* g2 = find(c, gid)) {
      g2->join_timer.reset();
      complete_join(c, *g2);
      finish(c, gid);
    }
  });
}

void GroupCoordinator::try_complete_initial_rebalance(const Ctx& c, const std::string& gid, int32_t delay_ms,
                                                      int32_t remaining_ms) {
  ClassicGroup* g = find(c, gid);
  if (!g) return;
  g->join_timer.reset();
  if (g->new_member_added && remaining_ms != 0) {
    g->new_member_added = false;
    const int32_t next_delay = std::min(initial_delay_ms_, remaining_ms);
    const int32_t next_remaining = std::max(remaining_ms - delay_ms, 0);
    set_join_timer(*g, next_delay, [this, c, gid, next_delay, next_remaining] {
      try_complete_initial_rebalance(c, gid, next_delay, next_remaining);
    });
  } else {
    complete_join(c, *g);
  }
  finish(c, gid);
}

void GroupCoordinator::complete_join(const Ctx& c, ClassicGroup& g) {
  cancel(g.join_timer);
  // Dynamic members that did not rejoin in time are out.
  for (const std::string& id : g.not_yet_rejoined()) {
    ClassicMember& m = g.member(id);
    if (m.is_static()) continue;
    cancel(m.heartbeat_timer);
    if (auto s = g.take_sync(m)) respond_sync(*s, Errc::UNKNOWN_MEMBER_ID, "", "");
    g.remove(id);
    world_.probe("group: member removed for not rejoining");
  }
  if (g.is(GroupState::Dead)) return;
  if (!g.maybe_elect_new_joined_leader() && !g.members().empty()) {
    // Nobody rejoined (only static members remain): try again later.
    set_join_timer(g, g.rebalance_timeout_ms(), [this, c, gid = g.id()] {
      if (ClassicGroup* g2 = find(c, gid)) {
        g2->join_timer.reset();
        complete_join(c, *g2);
        finish(c, gid);
      }
    });
    return;
  }
  g.init_next_generation(now_ms());
  if (g.is(GroupState::Empty)) {
    world_.probe("group: became Empty");
    persist_group(c, g, nullptr, {});
    return;
  }
  const std::vector<protocol::JoinGroupMember> all = current_members(g);
  for (auto& [id, m] : g.members()) {
    if (auto join = g.take_join(m)) {
      protocol::JoinGroupResponse r = join_response(g, id, false);
      if (g.is_leader(id)) r.members = all;
      respond_join(*join, std::move(r));
    }
    reschedule_heartbeat(c, g, m, m.session_timeout_ms);
    m.is_new = false;
    g.add_pending_sync(id);
  }
  // Every member must SyncGroup within the rebalance timeout.
  cancel(g.sync_timer);
  g.sync_timer = world_.schedule_after(self_, sim::milliseconds(g.rebalance_timeout_ms()),
                                       [this, c, gid = g.id(), gen = g.generation()] {
                                         expire_pending_sync(c, gid, gen);
                                         finish(c, gid);
                                       });
}

void GroupCoordinator::expire_pending_sync(const Ctx& c, const std::string& gid, int32_t generation) {
  ClassicGroup* g = find(c, gid);
  if (!g) return;
  g->sync_timer.reset();
  if (generation != g->generation()) return;
  if (!g->is(GroupState::CompletingRebalance) && !g->is(GroupState::Stable)) return;
  if (g->pending_sync().empty()) return;
  const std::set<std::string> late = g->pending_sync();
  for (const std::string& id : late) {
    ClassicMember& m = g->member(id);
    cancel(m.heartbeat_timer);
    if (auto s = g->take_sync(m)) respond_sync(*s, Errc::UNKNOWN_MEMBER_ID, "", "");
    g->remove(id);
  }
  world_.probe("group: members removed for not syncing");
  prepare_rebalance(c, *g, "pending sync expired");
}

void GroupCoordinator::expire_heartbeat(const Ctx& c, const std::string& gid, const std::string& mid) {
  ClassicGroup* g = find(c, gid);
  if (!g || g->is(GroupState::Dead)) return;
  if (g->is_pending(mid)) {
    g->remove(mid);
    g->pending_timers().erase(mid);
    world_.probe("group: pending member expired");
    if (g->is(GroupState::PreparingRebalance) && g->has_all_members_joined()) complete_join(c, *g);
  } else if (g->has_member(mid)) {
    ClassicMember& m = g->member(mid);
    m.heartbeat_timer.reset();  // this is it firing
    if (!m.has_satisfied_heartbeat()) {
      world_.probe("group: member session expired");
      remove_member_and_update_group(c, *g, mid);
    }
  }
  finish(c, gid);
}

void GroupCoordinator::remove_member_and_update_group(const Ctx& c, ClassicGroup& g, const std::string& mid) {
  ClassicMember& m = g.member(mid);
  // A new member parked in JoinGroup learns it is gone (and may retry).
  if (auto join = g.take_join(m)) respond_join_error(*join, Errc::UNKNOWN_MEMBER_ID, "");
  cancel(m.heartbeat_timer);
  g.remove(mid);
  if (g.is(GroupState::Stable) || g.is(GroupState::CompletingRebalance))
    maybe_prepare_rebalance_or_complete_join(c, g);
  else if (g.is(GroupState::PreparingRebalance) && g.has_all_members_joined())
    complete_join(c, g);
}

void GroupCoordinator::remove_current_member(ClassicGroup& g, const std::string& mid) {
  ClassicMember& m = g.member(mid);
  cancel(m.heartbeat_timer);
  if (auto join = g.take_join(m)) respond_join_error(*join, Errc::UNKNOWN_MEMBER_ID, "");
  g.remove(mid);
}

// ---- SyncGroup ---------------------------------------------------------------------------------------------

void GroupCoordinator::remove_pending_sync_member(ClassicGroup& g, const std::string& mid) {
  g.remove_pending_sync(mid);
  if (!(g.is(GroupState::CompletingRebalance) || g.is(GroupState::Stable)) || g.pending_sync().empty())
    cancel(g.sync_timer);
}

void GroupCoordinator::reset_and_propagate_assignment(const Ctx& c, ClassicGroup& g, Errc error) {
  SIM_ASSERT(g.is(GroupState::CompletingRebalance), "group " + g.id() + " must be CompletingRebalance");
  for (auto& [id, m] : g.members()) m.assignment.clear();
  propagate_assignment(c, g, error);
}

void GroupCoordinator::set_and_propagate_assignment(const Ctx& c, ClassicGroup& g, const Assignment& a) {
  SIM_ASSERT(g.is(GroupState::CompletingRebalance), "group " + g.id() + " must be CompletingRebalance");
  for (auto& [id, m] : g.members()) {
    auto it = a.find(id);
    m.assignment = it == a.end() ? std::string() : it->second;
  }
  propagate_assignment(c, g, Errc::NONE);
}

void GroupCoordinator::propagate_assignment(const Ctx& c, ClassicGroup& g, Errc error) {
  const std::string protocol = error == Errc::NONE ? g.protocol_name().value_or("") : std::string();
  for (auto& [id, m] : g.members()) {
    if (auto sync = g.take_sync(m)) {
      respond_sync(*sync, error, protocol, m.assignment);
      // Sessions restart once a member has its answer.
      reschedule_heartbeat(c, g, m, m.session_timeout_ms);
    }
  }
}

void GroupCoordinator::sync_group(const sim::Incoming& in) {
  const auto& req = sim::payload_as<protocol::SyncGroupRequest>(in.payload);
  if (req.group_id.empty()) return respond_sync(in, Errc::INVALID_GROUP_ID, "", "");
  auto [c, status] = target(req.group_id);
  if (status != Errc::NONE) return respond_sync(in, status, "", "");
  if (ConsumerGroup* cg = find_consumer(c, req.group_id)) return classic_sync_to_consumer_group(c, *cg, req, in);
  ClassicGroup* gp = find(c, req.group_id);
  if (!gp || gp->is(GroupState::Empty)) return respond_sync(in, Errc::UNKNOWN_MEMBER_ID, "", "");
  ClassicGroup& g = *gp;
  Errc e = Errc::NONE;
  if (g.is(GroupState::Dead))
    e = Errc::COORDINATOR_NOT_AVAILABLE;
  else if (e = validate_member(g, req.member_id, req.group_instance_id); e != Errc::NONE) {
  } else if (req.generation_id != g.generation())
    e = Errc::ILLEGAL_GENERATION;
  else if (!req.protocol_name.empty() && g.protocol_name() && req.protocol_name != *g.protocol_name())
    e = Errc::INCONSISTENT_GROUP_PROTOCOL;
  if (e != Errc::NONE) return respond_sync(in, e, "", "");
  switch (g.state()) {
    case GroupState::PreparingRebalance:
      respond_sync(in, Errc::REBALANCE_IN_PROGRESS, "", "");
      break;
    case GroupState::CompletingRebalance: {
      ClassicMember& m = g.member(req.member_id);
      m.awaiting_sync = in;
      remove_pending_sync_member(g, req.member_id);
      if (g.is_leader(req.member_id)) {
        // The leader's assignment (members it forgot get an empty one) is
        // written; the group is Stable once the record is committed.
        Assignment a;
        for (const auto& x : req.assignments) a[x.member_id] = x.assignment;
        for (const auto& [id, mm] : g.members()) a.try_emplace(id, std::string());
        persist_group(c, g, &a, [this, c = c, gid = g.id(), gen = g.generation(), a](Errc err) {
          ClassicGroup* g2 = find(c, gid);
          if (!g2 || !g2->is(GroupState::CompletingRebalance) || g2->generation() != gen) return;
          if (err != Errc::NONE) {
            world_.probe("group: assignment write failed");
            reset_and_propagate_assignment(c, *g2, err);
            maybe_prepare_rebalance_or_complete_join(c, *g2);
          } else {
            set_and_propagate_assignment(c, *g2, a);
            g2->transition_to(GroupState::Stable, now_ms());
            world_.probe("group: Stable");
          }
          finish(c, gid);
        });
      }
      break;
    }
    case GroupState::Stable: {
      remove_pending_sync_member(g, req.member_id);
      const ClassicMember& m = g.member(req.member_id);
      respond_sync(in, Errc::NONE, g.protocol_name().value_or(""), m.assignment);
      break;
    }
    case GroupState::Empty:
    case GroupState::Dead:
      break;
  }
  finish(c, req.group_id);
}

// ---- Heartbeat / LeaveGroup ------------------------------------------------------------------------------------

void GroupCoordinator::heartbeat(const sim::Incoming& in) {
  const auto& req = sim::payload_as<protocol::HeartbeatRequest>(in.payload);
  auto respond = [&](Errc e) {
    world_.network().respond(in, heartbeat_resp_, sim::make_payload(protocol::HeartbeatResponse{e}), 32);
  };
  if (req.group_id.empty()) return respond(Errc::INVALID_GROUP_ID);
  auto [c, status] = target(req.group_id);
  // Kafka answers heartbeats blindly while the group is loading.
  if (status == Errc::COORDINATOR_LOAD_IN_PROGRESS) return respond(Errc::NONE);
  if (status != Errc::NONE) return respond(status);
  if (ConsumerGroup* cg = find_consumer(c, req.group_id)) return respond(classic_heartbeat_to_consumer_group(c, *cg, req));
  ClassicGroup* g = find(c, req.group_id);
  if (!g) return respond(Errc::UNKNOWN_MEMBER_ID);
  if (g->is(GroupState::Dead)) return respond(Errc::COORDINATOR_NOT_AVAILABLE);
  if (Errc e = validate_member(*g, req.member_id, req.group_instance_id); e != Errc::NONE) return respond(e);
  if (req.generation_id != g->generation()) return respond(Errc::ILLEGAL_GENERATION);
  switch (g->state()) {
    case GroupState::Empty:
      respond(Errc::UNKNOWN_MEMBER_ID);
      break;
    case GroupState::PreparingRebalance:
      reschedule_heartbeat(c, *g, g->member(req.member_id), g->member(req.member_id).session_timeout_ms);
      respond(Errc::REBALANCE_IN_PROGRESS);
      break;
    case GroupState::CompletingRebalance:
    case GroupState::Stable:
      reschedule_heartbeat(c, *g, g->member(req.member_id), g->member(req.member_id).session_timeout_ms);
      respond(Errc::NONE);
      break;
    case GroupState::Dead:
      break;
  }
  finish(c, req.group_id);
}

void GroupCoordinator::leave_group(const sim::Incoming& in) {
  const auto& req = sim::payload_as<protocol::LeaveGroupRequest>(in.payload);
  protocol::LeaveGroupResponse resp;
  auto respond = [&] {
    world_.network().respond(in, leave_resp_, sim::make_payload(resp), 32 + 32 * static_cast<uint32_t>(resp.members.size()));
  };
  if (req.group_id.empty()) {
    resp.error = Errc::INVALID_GROUP_ID;
    return respond();
  }
  auto [c, status] = target(req.group_id);
  if (status == Errc::NONE)
    if (ConsumerGroup* cg = find_consumer(c, req.group_id)) {
      resp = classic_leave_consumer_group(c, *cg, req);
      return respond();
    }
  ClassicGroup* g = status == Errc::NONE ? find(c, req.group_id) : nullptr;
  if (status != Errc::NONE || !g || g->is(GroupState::Dead)) {
    resp.error = status != Errc::NONE ? status : (!g ? Errc::UNKNOWN_MEMBER_ID : Errc::COORDINATOR_NOT_AVAILABLE);
    return respond();
  }
  bool any = false;
  for (const protocol::LeaveGroupMember& lm : req.members) {
    Errc e = Errc::NONE;
    if (lm.member_id.empty()) {
      // Administrative removal by group.instance.id.
      const auto id = lm.group_instance_id ? g->static_member_id(*lm.group_instance_id) : std::nullopt;
      if (id)
        remove_current_member(*g, *id);
      else
        e = Errc::UNKNOWN_MEMBER_ID;
    } else if (g->is_pending(lm.member_id)) {
      g->remove(lm.member_id);
      if (auto it = g->pending_timers().find(lm.member_id); it != g->pending_timers().end()) {
        world_.cancel(it->second);
        g->pending_timers().erase(it);
      }
    } else if (e = validate_member(*g, lm.member_id, lm.group_instance_id); e == Errc::NONE) {
      remove_current_member(*g, lm.member_id);
    }
    any = any || e == Errc::NONE;
    resp.members.emplace_back(lm.member_id, e);
  }
  if (any) {
    world_.probe("group: member left");
    if (g->is(GroupState::Stable) || g->is(GroupState::CompletingRebalance))
      maybe_prepare_rebalance_or_complete_join(c, *g);
    else if (g->is(GroupState::PreparingRebalance))
      maybe_complete_join_phase(c, *g);
  }
  respond();
  finish(c, req.group_id);
}

// ---- OffsetCommit / OffsetFetch -----------------------------------------------------------------------------------

Errc GroupCoordinator::validate_offset_commit(const ClassicGroup& g, const protocol::OffsetCommitRequest& req) const {
  if (g.is(GroupState::Dead)) return Errc::COORDINATOR_NOT_AVAILABLE;
  // generation -1 into an Empty group: a simple (admin / manual assignment) commit.
  if (req.generation_id < 0 && g.is(GroupState::Empty)) return Errc::NONE;
  if (req.generation_id >= 0 || !req.member_id.empty() || req.group_instance_id) {
    if (Errc e = validate_member(g, req.member_id, req.group_instance_id); e != Errc::NONE) return e;
    if (req.generation_id != g.generation()) return Errc::ILLEGAL_GENERATION;
  } else if (!g.is(GroupState::Empty)) {
    return Errc::UNKNOWN_MEMBER_ID;  // a simple commit into a group with members
  }
  // A member of the new generation that has not got its assignment yet.
  if (g.is(GroupState::CompletingRebalance)) return Errc::REBALANCE_IN_PROGRESS;
  return Errc::NONE;
}

std::pair<std::vector<storage::Record>, std::vector<std::pair<TopicPartition, OffsetAndMetadata>>>
GroupCoordinator::offset_commit_records(const std::string& group_id,
                                        const std::vector<protocol::OffsetCommitPartition>& partitions) const {
  std::vector<storage::Record> records;
  std::vector<std::pair<TopicPartition, OffsetAndMetadata>> values;
  for (const auto& p : partitions) {
    OffsetAndMetadata v{p.committed_offset, p.committed_leader_epoch, p.metadata, now_ms()};
    storage::Record r;
    r.timestamp = now_ms();
    r.key = bytes_of(encode_key(OffsetCommitKey{group_id, p.tp}));
    r.value = bytes_of(encode_offset_value(v));
    records.push_back(std::move(r));
    values.emplace_back(p.tp, v);
  }
  return {std::move(records), std::move(values)};
}

void GroupCoordinator::append_offset_commit(const Ctx& c, const protocol::OffsetCommitRequest& req,
                                            std::function<void(const protocol::OffsetCommitRequest&, Errc)> respond_all) {
  auto [records, values] = offset_commit_records(req.group_id, req.partitions);
  // The offsets are the group's once their records are in __consumer_offsets.
  runtime_.append(
      c.partition, c.shard, std::move(records),
      [this, c = c, gid = req.group_id, values = values](Offset base) {
        if (Shard* sh = shard(c))
          for (size_t i = 0; i < values.size(); ++i)
            sh->offsets.put(gid, values[i].first, base + static_cast<int64_t>(i), values[i].second);
      },
      [respond_all, req](Errc e) { respond_all(req, e); });
}

void GroupCoordinator::offset_commit(const sim::Incoming& in) {
  const auto& req = sim::payload_as<protocol::OffsetCommitRequest>(in.payload);
  auto respond_all = [this, in](const protocol::OffsetCommitRequest& r, Errc e) {
    protocol::OffsetCommitResponse resp;
    for (const auto& p : r.partitions) resp.partitions.emplace_back(p.tp, e);
    world_.network().respond(in, commit_resp_, sim::make_payload(std::move(resp)),
                             32 + 16 * static_cast<uint32_t>(r.partitions.size()));
  };
  if (req.group_id.empty()) return respond_all(req, Errc::INVALID_GROUP_ID);
  auto [c, status] = target(req.group_id);
  if (status != Errc::NONE) return respond_all(req, status);
  Shard& s = *shard(c);
  if (ConsumerGroup* cg = find_consumer(c, req.group_id)) {
    // KIP-848: fenced by the member epoch (STALE_MEMBER_EPOCH).
    if (Errc e = validate_consumer_offset_commit(*cg, req); e != Errc::NONE) {
      if (fencing_) {
        world_.probe("group: commit fenced (" + std::string(errc_name(e)) + ")");
        return respond_all(req, e);
      }
      world_.probe("group: zombie commit accepted (no fencing)");
    }
    if (req.partitions.empty()) return respond_all(req, Errc::NONE);
    append_offset_commit(c, req, std::move(respond_all));
    return;
  }
  ClassicGroup* g = find(c, req.group_id);
  if (!g) {
    if (req.generation_id >= 0 && fencing_) return respond_all(req, Errc::ILLEGAL_GENERATION);
    // A "simple" group: offsets only, no members, no protocol.
    g = &s.groups.try_emplace(req.group_id, req.group_id, now_ms()).first->second;
  } else if (fencing_) {
    if (Errc e = validate_offset_commit(*g, req); e != Errc::NONE) {
      if (e == Errc::ILLEGAL_GENERATION) world_.probe("group: commit fenced (ILLEGAL_GENERATION)");
      return respond_all(req, e);
    }
  } else {
    // ksim.group.generation.fencing=false (or the planted bug): anything goes.
    if (g->is(GroupState::Dead)) return respond_all(req, Errc::COORDINATOR_NOT_AVAILABLE);
    if (validate_offset_commit(*g, req) != Errc::NONE) world_.probe("group: zombie commit accepted (no fencing)");
  }
  // Commits keep a member's session alive in Stable / PreparingRebalance.
  if ((g->is(GroupState::Stable) || g->is(GroupState::PreparingRebalance)) && g->has_member(req.member_id)) {
    ClassicMember& m = g->member(req.member_id);
    reschedule_heartbeat(c, *g, m, m.session_timeout_ms);
  }
  if (req.partitions.empty()) return respond_all(req, Errc::NONE);
  append_offset_commit(c, req, std::move(respond_all));
  finish(c, req.group_id);
}

void GroupCoordinator::offset_fetch(const sim::Incoming& in) {
  const auto& req = sim::payload_as<protocol::OffsetFetchRequest>(in.payload);
  protocol::OffsetFetchResponse resp;
  auto [c, status] = target(req.group_id);
  if (req.group_id.empty()) status = Errc::INVALID_GROUP_ID;
  if (status != Errc::NONE) {
    resp.error = status;
  } else {
    // Only offsets whose records are committed are visible. require_stable
    // (KIP-447): a partition with a pending transactional offset answers
    // UNSTABLE_OFFSET_COMMIT until its transaction ends, so a new owner never
    // starts from an offset a committing transaction is about to replace.
    Shard& s = *shard(c);
    const Offset hw = runtime_.high_watermark(c.partition);
    auto part = [&](const TopicPartition& tp, const std::optional<OffsetAndMetadata>& v) {
      protocol::OffsetFetchPartition p;
      p.tp = tp;
      if (req.require_stable && s.has_pending_txn_offset(req.group_id, tp, hw)) {
        world_.probe("group: OffsetFetch waits for a pending transactional offset");
        p.error = Errc::UNSTABLE_OFFSET_COMMIT;
      } else if (v) {
        p.committed_offset = v->offset;
        p.committed_leader_epoch = v->leader_epoch;
        p.metadata = v->metadata;
      }
      return p;
    };
    if (req.partitions) {
      for (const TopicPartition& tp : *req.partitions) resp.partitions.push_back(part(tp, s.offsets.get(req.group_id, tp, hw)));
    } else {
      for (const auto& [tp, v] : s.offsets.all(req.group_id, hw)) resp.partitions.push_back(part(tp, v));
    }
  }
  const uint32_t size = 32 + 24 * static_cast<uint32_t>(resp.partitions.size());
  world_.network().respond(in, fetch_resp_, sim::make_payload(std::move(resp)), size);
}

// ---- persistence ----------------------------------------------------------------------------------------------------

void GroupCoordinator::persist_group(const Ctx& c, ClassicGroup& g, const Assignment* assignment,
                                     std::function<void(Errc)> done) {
  ++appends_;
  storage::Record r;
  r.timestamp = now_ms();
  r.key = bytes_of(encode_key(GroupMetadataKey{g.id()}));
  r.value = bytes_of(encode_group_value(g.to_record(assignment)));
  std::vector<storage::Record> records;
  records.push_back(std::move(r));
  runtime_.append(c.partition, c.shard, std::move(records), nullptr, [done = std::move(done)](Errc e) {
    if (done) done(e);
  });
}

void GroupCoordinator::replay(int32_t partition, Offset offset, const storage::RecordView& r,
                              const storage::RecordBatch& b) {
  if (b.is_control()) {
    if (const auto m = storage::read_marker(b))
      complete_txn_offsets(shards_[partition], b.producer_id(), m->commit, offset);
    return;
  }
  if (!r.key) return;
  const auto key = decode_key(view_of(*r.key));
  if (!key) {
    world_.probe("coordinator: unknown record in __consumer_offsets");
    return;
  }
  Shard& s = shards_[partition];
  if (const auto* k = std::get_if<OffsetCommitKey>(&*key)) {
    std::optional<OffsetAndMetadata> v;
    if (r.value) v = decode_offset_value(view_of(*r.value));
    if (b.is_transactional()) {
      if (v) s.pending_txn_offsets[b.producer_id()][{k->group, k->tp}] = *v;
      s.groups.try_emplace(k->group, k->group, -1);
      return;
    }
    s.offsets.put(k->group, k->tp, offset, v);
    // Offsets imply a (simple) group, unless it is a consumer group.
    if (!s.consumer_groups.count(k->group)) s.groups.try_emplace(k->group, k->group, -1);
  } else if (const auto* cg = std::get_if<ConsumerGroupKey>(&*key)) {
    std::optional<ConsumerGroupValue> v;
    if (r.value) v = decode_consumer_group_value(view_of(*r.value));
    replay_consumer_group(s, cg->group, v);
  } else {
    const std::string& gid = std::get<GroupMetadataKey>(*key).group;
    std::optional<GroupMetadataValue> v;
    if (r.value) v = decode_group_value(view_of(*r.value));
    s.consumer_groups.erase(gid);
    if (!v) {
      s.groups.erase(gid);
    } else {
      s.groups.erase(gid);
      s.groups.emplace(gid, ClassicGroup::from_record(gid, *v));
    }
  }
}

void GroupCoordinator::loaded(int32_t partition) {
  Ctx c{partition, runtime_.shard_id(partition)};
  Shard& s = shards_[partition];
  for (auto& [gid, g] : s.groups) {
    // Loaded members must heartbeat within their session timeout.
    for (auto& [id, m] : g.members()) reschedule_heartbeat(c, g, m, m.session_timeout_ms);
    g.assert_invariants();
  }
  for (auto& [gid, g] : s.consumer_groups) {
    // Loaded members must heartbeat within the session timeout; revoking ones revoke in time.
    for (auto& [id, m] : g.members()) {
      reschedule_consumer_session(c, g, m);
      update_rebalance_timer(c, g, m);
    }
    g.assert_invariants();
  }
}

void GroupCoordinator::unloaded(int32_t partition) {
  auto it = shards_.find(partition);
  if (it == shards_.end()) return;
  for (auto& [gid, g] : it->second.groups) {
    for (auto& [id, m] : g.members()) {
      cancel(m.heartbeat_timer);
      if (auto join = g.take_join(m)) respond_join_error(*join, Errc::NOT_COORDINATOR, id);
      if (auto sync = g.take_sync(m)) respond_sync(*sync, Errc::NOT_COORDINATOR, "", "");
    }
    for (auto& [id, t] : g.pending_timers()) world_.cancel(t);
    g.pending_timers().clear();
    cancel(g.join_timer);
    cancel(g.sync_timer);
    g.transition_to(GroupState::Dead, now_ms());
  }
  for (auto& [gid, g] : it->second.consumer_groups) {
    for (auto& [id, m] : g.members()) {
      cancel(m.session_timer);
      cancel(m.rebalance_timer);
    }
    g.mark_dead();
  }
  shards_.erase(it);
}

// ---- observation ---------------------------------------------------------------------------------------------------

GroupDescription GroupCoordinator::describe(const std::string& group_id) {
  GroupDescription d;
  d.group_id = group_id;
  d.coordinator = broker_id_;
  auto [c, status] = target(group_id);
  d.partition = c.partition;
  d.error = status;
  if (status != Errc::NONE) return d;
  Shard& s = *shard(c);
  d.offsets = s.offsets.all(group_id, runtime_.high_watermark(c.partition));
  if (const ConsumerGroup* cg = find_consumer(c, group_id)) {
    describe_consumer_group(*cg, d);
    return d;
  }
  ClassicGroup* g = find(c, group_id);
  if (!g) return d;
  d.state = group_state_name(g->state());
  d.generation = g->generation();
  d.protocol_type = g->protocol_type().value_or("");
  d.protocol = g->protocol_name().value_or("");
  d.leader = g->leader().value_or("");
  for (const auto& [id, m] : g->members()) {
    GroupMemberDescription md;
    md.member_id = id;
    md.group_instance_id = m.group_instance_id;
    md.client_id = m.client_id;
    md.client_node = m.client_node;
    md.metadata = m.metadata(g->protocol_name().value_or(""));
    md.assignment = m.assignment;
    d.members.push_back(std::move(md));
  }
  return d;
}

}  // namespace ksim::coordinator

// ---- transactional offsets (KIP-98 / KIP-447) -------------------------------------------------------------

namespace ksim::coordinator {

bool GroupCoordinator::Shard::has_pending_txn_offset(const std::string& group, const TopicPartition& tp, Offset hw) {
  // Transactions whose marker is committed are over.
  std::erase_if(ending_txn_offsets, [&](const auto& e) { return e.first < hw; });
  for (const auto& [pid, offsets] : pending_txn_offsets)
    if (offsets.count({group, tp})) return true;
  for (const auto& [marker, offsets] : ending_txn_offsets)
    if (offsets.count({group, tp})) return true;
  return false;
}

void GroupCoordinator::complete_txn_offsets(Shard& s, ProducerId pid, bool committed, Offset marker_offset) {
  auto it = s.pending_txn_offsets.find(pid);
  if (it == s.pending_txn_offsets.end()) return;
  if (committed)
    for (const auto& [key, v] : it->second) s.offsets.put(key.first, key.second, marker_offset, v);
  // Still "pending" for require_stable readers until the marker is committed
  // (below the HW): before that, the committed view has not changed yet.
  s.ending_txn_offsets.emplace_back(marker_offset, std::move(it->second));
  s.pending_txn_offsets.erase(it);
}

void GroupCoordinator::on_txn_marker(const TopicPartition& tp, ProducerId pid, bool committed, Offset marker_offset) {
  if (tp.topic != kGroupMetadataTopic) return;
  const Ctx c{tp.partition, runtime_.shard_id(tp.partition)};
  if (Shard* s = shard(c)) complete_txn_offsets(*s, pid, committed, marker_offset);
}

// TxnOffsetCommit: the offsets go to the log in a transactional batch of the
// producer (its id and epoch), and stay pending — invisible to OffsetFetch,
// blocking require_stable fetches — until the transaction's marker reaches
// this partition. The member / generation checks are OffsetCommit's (Kafka's
// validateTransactionalOffsetCommit), so a zombie from an old generation is
// fenced here too (KIP-447).
void GroupCoordinator::txn_offset_commit(const sim::Incoming& in) {
  const auto& req = sim::payload_as<protocol::TxnOffsetCommitRequest>(in.payload);
  auto respond_all = [this, in](Errc e) {
    const auto& r = sim::payload_as<protocol::TxnOffsetCommitRequest>(in.payload);
    protocol::TxnOffsetCommitResponse resp;
    for (const auto& p : r.partitions) resp.partitions.emplace_back(p.tp, e);
    world_.network().respond(in, txn_commit_resp_, sim::make_payload(std::move(resp)),
                             32 + 16 * static_cast<uint32_t>(r.partitions.size()));
  };
  if (req.group_id.empty()) return respond_all(Errc::INVALID_GROUP_ID);
  auto [c, status] = target(req.group_id);
  if (status != Errc::NONE) return respond_all(status);
  Shard& s = *shard(c);
  ClassicGroup* g = find(c, req.group_id);
  if (!g) {
    if (req.generation_id >= 0 && fencing_) return respond_all(Errc::ILLEGAL_GENERATION);
    g = &s.groups.try_emplace(req.group_id, req.group_id, now_ms()).first->second;
  } else if (fencing_) {
    protocol::OffsetCommitRequest as_commit;
    as_commit.group_id = req.group_id;
    as_commit.generation_id = req.generation_id;
    as_commit.member_id = req.member_id;
    as_commit.group_instance_id = req.group_instance_id;
    if (Errc e = validate_offset_commit(*g, as_commit); e != Errc::NONE) {
      world_.probe("group: transactional commit fenced");
      return respond_all(e);
    }
  }
  if (req.partitions.empty()) return respond_all(Errc::NONE);
  auto [records, values] = offset_commit_records(req.group_id, req.partitions);
  storage::BatchParams params;
  params.is_transactional = true;
  params.producer_id = req.producer_id;
  params.producer_epoch = req.producer_epoch;
  params.base_sequence = storage::kNoSequence;  // coordinator-written: no sequence (Kafka's AppendOrigin.COORDINATOR)
  runtime_.append(
      c.partition, c.shard, std::move(records),
      [this, c = c, gid = req.group_id, pid = req.producer_id, values = values](Offset) {
        if (Shard* sh = shard(c))
          for (const auto& [tp, v] : values) sh->pending_txn_offsets[pid][{gid, tp}] = v;
      },
      [respond_all](Errc e) { respond_all(e); }, params);
  finish(c, req.group_id);
}

}  // namespace ksim::coordinator
