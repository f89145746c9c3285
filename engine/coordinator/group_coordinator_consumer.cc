// GroupCoordinator, its consumer-group half (KIP-848): ConsumerGroupHeartbeat,
// the member session and rebalance timers, persistence and replay of
// consumer groups, offset-commit fencing by member epoch. The rules are in
// README.md ("Consumer groups"); the group's bookkeeping in consumer_group.h,
// a member's next step in member_reconciler.h, the assignors in
// consumer_assignor.h.
#include <algorithm>

#include "engine/common/node_ids.h"
#include "engine/coordinator/consumer_assignor.h"
#include "engine/coordinator/coordinator_lookup.h"
#include "engine/coordinator/group_coordinator.h"
#include "engine/coordinator/member_reconciler.h"
#include "engine/coordinator/topic_regex.h"
#include "sim/error.h"

namespace ksim::coordinator {
namespace {

constexpr int32_t kLeaveEpoch = -1;        // Kafka's LEAVE_GROUP_MEMBER_EPOCH
constexpr int32_t kLeaveStaticEpoch = -2;  // LEAVE_GROUP_STATIC_MEMBER_EPOCH

storage::Bytes bytes_of(const std::string& s) { return storage::Bytes(s.begin(), s.end()); }

std::vector<TopicPartition> vec(const PartitionSet& s) { return {s.begin(), s.end()}; }
PartitionSet set_of(const std::vector<TopicPartition>& v) { return {v.begin(), v.end()}; }

}  // namespace

ConsumerGroup* GroupCoordinator::find_consumer(const Ctx& c, const std::string& group_id) {
  Shard* s = shard(c);
  if (!s) return nullptr;
  auto it = s->consumer_groups.find(group_id);
  return it == s->consumer_groups.end() ? nullptr : &it->second;
}

void GroupCoordinator::respond_consumer_heartbeat(const sim::Incoming& in, protocol::ConsumerGroupHeartbeatResponse r) {
  const uint32_t size = 48 + static_cast<uint32_t>(r.member_id.size()) +
                        (r.assignment ? 12 * static_cast<uint32_t>(r.assignment->size()) : 0);
  if (!cg_heartbeat_resp_) cg_heartbeat_resp_ = world_.network().kind("ConsumerGroupHeartbeatResponse");
  world_.network().respond(in, *cg_heartbeat_resp_, sim::make_payload(std::move(r)), size);
}

Errc GroupCoordinator::validate_consumer_heartbeat(const protocol::ConsumerGroupHeartbeatRequest& req) const {
  if (req.group_id.empty()) return Errc::INVALID_GROUP_ID;
  if (req.member_id.empty()) return Errc::INVALID_REQUEST;  // KIP-1082: the client generates it
  if (req.member_epoch < kLeaveStaticEpoch) return Errc::INVALID_REQUEST;
  if (req.member_epoch == kLeaveStaticEpoch && !req.instance_id) return Errc::INVALID_REQUEST;
  if (req.member_epoch == 0) {
    // A join is a full request.
    // SubscribedTopicNames or SubscribedTopicRegex must be set in the first request.
    if (req.rebalance_timeout_ms <= 0 || (!req.subscribed_topic_names && !req.subscribed_topic_regex) ||
        !req.topic_partitions || !req.topic_partitions->empty())
      return Errc::INVALID_REQUEST;
  }
  if (req.server_assignor && std::find(consumer_assignors_.begin(), consumer_assignors_.end(), *req.server_assignor) ==
                                 consumer_assignors_.end())
    return Errc::UNSUPPORTED_ASSIGNOR;
  return Errc::NONE;
}

void GroupCoordinator::consumer_group_heartbeat(const sim::Incoming& in) {
  const auto& req = sim::payload_as<protocol::ConsumerGroupHeartbeatRequest>(in.payload);
  auto fail = [&](Errc e) {
    protocol::ConsumerGroupHeartbeatResponse r;
    r.error = e;
    r.member_id = req.member_id;
    respond_consumer_heartbeat(in, std::move(r));
  };
  if (Errc e = validate_consumer_heartbeat(req); e != Errc::NONE) return fail(e);
  // Kafka's throwIfRegularExpressionIsInvalid ("" clears the member's regex).
  if (req.subscribed_topic_regex && !req.subscribed_topic_regex->empty()) {
    std::string why;
    if (!TopicRegex::compile(*req.subscribed_topic_regex, &why)) {
      world_.probe("group: consumer heartbeat with an invalid regex (INVALID_REGULAR_EXPRESSION)");
      protocol::ConsumerGroupHeartbeatResponse r;
      r.error = Errc::INVALID_REGULAR_EXPRESSION;
      r.error_message = why;
      r.member_id = req.member_id;
      return respond_consumer_heartbeat(in, std::move(r));
    }
  }
  auto [c, status] = target(req.group_id);
  if (status != Errc::NONE) return fail(status);
  Shard& s = *shard(c);
  ConsumerGroup* g = find_consumer(c, req.group_id);
  if (!g) {
    if (req.member_epoch != 0) return fail(Errc::UNKNOWN_MEMBER_ID);
    if (auto it = s.groups.find(req.group_id); it != s.groups.end()) {
      if (!it->second.is(GroupState::Empty) && !it->second.is(GroupState::Dead)) {
        // KIP-848's online upgrade: the first consumer-protocol member turns a
        // live classic group into a consumer group whose classic members go on
        // speaking JoinGroup / SyncGroup / Heartbeat.
        if (!validate_online_upgrade(it->second)) {
          world_.probe("group: classic group with members refuses a consumer member");
          return fail(Errc::GROUP_ID_NOT_FOUND);
        }
        g = &convert_to_consumer_group(c, s, it->second);
      } else {
        // An empty one (offsets only) becomes a consumer group, as in Kafka.
        world_.probe("group: empty classic group converted to consumer");
        s.groups.erase(it);
        g = &s.consumer_groups.try_emplace(req.group_id, req.group_id, fence_pending_revocation_).first->second;
        if (on_group_converted) on_group_converted(req.group_id, "consumer");
      }
    } else {
      g = &s.consumer_groups.try_emplace(req.group_id, req.group_id, fence_pending_revocation_).first->second;
      if (on_group_created) on_group_created(req.group_id, TopicPartition{kGroupMetadataTopic, c.partition});
    }
  }
  if (req.member_epoch == kLeaveEpoch || req.member_epoch == kLeaveStaticEpoch) return consumer_leave(c, *g, req, in);

  const int32_t epoch_before = g->group_epoch();
  ConsumerMember* m = nullptr;
  if (req.member_epoch == 0) {
    Errc e = Errc::NONE;
    m = consumer_join(c, *g, req, in, &e);
    if (!m) return fail(e);
  } else {
    m = g->member(req.member_id);
    if (!m || m->left_static()) return fail(Errc::UNKNOWN_MEMBER_ID);
    if (Errc e = validate_member_epoch(*m, req); e != Errc::NONE) {
      world_.probe("group: consumer heartbeat fenced (" + std::string(errc_name(e)) + ")");
      return fail(e);
    }
    // What the assignment depends on changed: a new group epoch (one per heartbeat).
    bool bump = false;
    if (req.subscribed_topic_names) {
      std::set<std::string> topics(req.subscribed_topic_names->begin(), req.subscribed_topic_names->end());
      if (topics != m->subscribed_topics) {
        m->subscribed_topics = std::move(topics);
        bump = true;
      }
    }
    if (req.subscribed_topic_regex && *req.subscribed_topic_regex != m->subscribed_topic_regex) {
      m->subscribed_topic_regex = *req.subscribed_topic_regex;
      bump = true;
    }
    if (req.server_assignor && *req.server_assignor != m->server_assignor) {
      m->server_assignor = *req.server_assignor;
      bump = true;
    }
    if (bump) g->bump_group_epoch();
    if (req.rebalance_timeout_ms > 0) m->rebalance_timeout_ms = req.rebalance_timeout_ms;
  }
  const std::string member_id = m->member_id;
  const int32_t target_before = g->assignment_epoch();
  const bool member_changed = advance_consumer_member(*g, member_id, epoch_before, req.topic_partitions);
  m = g->member(member_id);
  update_rebalance_timer(c, *g, *m);
  reschedule_consumer_session(c, *g, *m);
  g->assert_invariants();

  protocol::ConsumerGroupHeartbeatResponse r;
  r.member_id = member_id;
  r.member_epoch = m->member_epoch;
  r.heartbeat_interval_ms = consumer_heartbeat_ms_;
  r.assignment = vec(m->assigned);
  const bool changed = member_changed || g->group_epoch() != epoch_before || g->assignment_epoch() != target_before ||
                       req.member_epoch == 0 || req.subscribed_topic_names || req.subscribed_topic_regex;
  if (!changed) return respond_consumer_heartbeat(in, std::move(r));
  // Answered once the group's new state is committed (Kafka's coordinator
  // runtime: the response waits for the write's high watermark).
  persist_consumer_group(c, *g, [this, in, r = std::move(r)](Errc e) mutable {
    if (e != Errc::NONE) {
      protocol::ConsumerGroupHeartbeatResponse err;
      err.error = e;
      err.member_id = r.member_id;
      return respond_consumer_heartbeat(in, std::move(err));
    }
    respond_consumer_heartbeat(in, std::move(r));
  });
}

bool GroupCoordinator::advance_consumer_member(ConsumerGroup& g, const std::string& member_id, int32_t epoch_before,
                                               const std::optional<std::vector<TopicPartition>>& owned) {
  // A regex now resolves to other topics (a matching topic was created): a new epoch.
  if (maybe_refresh_regexes(g) && g.group_epoch() == epoch_before) {
    world_.probe("group: consumer regex resolved to other topics");
    g.bump_group_epoch();
  }
  // The subscribed topics' partition counts changed (a topic created, grown): a new epoch.
  if (g.group_epoch() == epoch_before && subscription_metadata(g) != g.subscription_metadata) g.bump_group_epoch();
  maybe_update_target(g);
  ConsumerMember* m = g.member(member_id);
  const MemberStep before{m->member_epoch, m->state, m->assigned, m->pending_revocation};
  const MemberStep next = reconcile_member(*m, g.assignment_epoch(), g.target_of(member_id), owned,
                                           [&g](const TopicPartition& tp) { return g.owner(tp); });
  if (next == before) return false;
  if (next.state == MemberState::UnrevokedPartitions && before.state != MemberState::UnrevokedPartitions)
    world_.probe("group: consumer member must revoke partitions first");
  if (next.state == MemberState::UnreleasedPartitions) world_.probe("group: consumer member waits for unreleased partitions");
  g.update_member(*m, next.epoch, next.state, next.assigned, next.pending_revocation);
  return true;
}

ConsumerMember* GroupCoordinator::consumer_join(const Ctx& c, ConsumerGroup& g,
                                                const protocol::ConsumerGroupHeartbeatRequest& req,
                                                const sim::Incoming& in, Errc* error) {
  ConsumerMember fresh;
  fresh.member_id = req.member_id;
  fresh.instance_id = req.instance_id;
  fresh.client_id = world_.node_name(in.src);
  fresh.client_node = kafka_id_of(in.src);
  fresh.rebalance_timeout_ms = req.rebalance_timeout_ms;
  if (req.subscribed_topic_names)
    fresh.subscribed_topics = {req.subscribed_topic_names->begin(), req.subscribed_topic_names->end()};
  fresh.subscribed_topic_regex = req.subscribed_topic_regex.value_or("");
  fresh.server_assignor = req.server_assignor.value_or("");
  if (req.instance_id) {
    if (auto old_id = g.static_member_id(*req.instance_id); old_id && *old_id != req.member_id) {
      ConsumerMember* old = g.member(*old_id);
      if (!old->left_static()) {
        // The old instance is still active: it must leave first.
        world_.probe("group: consumer static member not released (UNRELEASED_INSTANCE_ID)");
        *error = Errc::UNRELEASED_INSTANCE_ID;
        return nullptr;
      }
      // KIP-345 on the consumer protocol: the replacement takes the old
      // member's place — its epoch and assignment — without a new group epoch.
      world_.probe("group: consumer static member replaced");
      const std::map<std::string, PartitionSet> target_before = g.target();
      const PartitionSet target = g.target_of(*old_id);
      const int32_t epoch = old->previous_member_epoch;
      const PartitionSet assigned = old->assigned;
      const bool same_subscription = old->subscribed_topics == fresh.subscribed_topics &&
                                     old->subscribed_topic_regex == fresh.subscribed_topic_regex;
      remove_consumer_member(c, g, *old_id, false);
      ConsumerMember& m = g.add(std::move(fresh));
      g.update_member(m, std::max(epoch, 0), MemberState::Stable, assigned, {});
      std::map<std::string, PartitionSet> t = target_before;
      t.erase(*old_id);
      t[req.member_id] = target;
      g.set_target(std::move(t), g.assignment_epoch());
      if (!same_subscription) g.bump_group_epoch();
      return &m;
    }
  }
  if (ConsumerMember* old = g.member(req.member_id)) {
    // A member rejoining with epoch 0 (after FENCED_MEMBER_EPOCH / UNKNOWN_MEMBER_ID,
    // or a lost join response) starts over: whatever it had is released.
    (void)old;
    world_.probe("group: consumer member rejoined with epoch 0");
    remove_consumer_member(c, g, req.member_id, true);
  }
  ConsumerMember& m = g.add(std::move(fresh));
  g.bump_group_epoch();
  return &m;
}

Errc GroupCoordinator::validate_member_epoch(const ConsumerMember& m,
                                             const protocol::ConsumerGroupHeartbeatRequest& req) const {
  // Kafka's throwIfMemberEpochIsInvalid.
  if (req.member_epoch > m.member_epoch) return Errc::FENCED_MEMBER_EPOCH;
  if (req.member_epoch < m.member_epoch) {
    // The response that moved it to its epoch may have been lost: the
    // previous epoch is accepted if it owns nothing beyond its assignment.
    if (req.member_epoch != m.previous_member_epoch || !req.topic_partitions) return Errc::FENCED_MEMBER_EPOCH;
    for (const TopicPartition& tp : *req.topic_partitions)
      if (!m.assigned.count(tp)) return Errc::FENCED_MEMBER_EPOCH;
  }
  return Errc::NONE;
}

void GroupCoordinator::consumer_leave(const Ctx& c, ConsumerGroup& g, const protocol::ConsumerGroupHeartbeatRequest& req,
                                      const sim::Incoming& in) {
  protocol::ConsumerGroupHeartbeatResponse r;
  r.member_id = req.member_id;
  r.member_epoch = req.member_epoch;
  ConsumerMember* m = g.member(req.member_id);
  if (!m) {
    r.error = Errc::UNKNOWN_MEMBER_ID;
    return respond_consumer_heartbeat(in, std::move(r));
  }
  if (req.member_epoch == kLeaveStaticEpoch && m->is_static()) {
    // Kept (epoch -2) with its assignment for a replacement until its session
    // expires; the client has revoked everything, so nothing is pending.
    world_.probe("group: consumer static member left temporarily");
    const int32_t epoch = m->member_epoch;
    g.update_member(*m, kLeaveStaticEpoch, MemberState::Stable, m->assigned, {});
    m->previous_member_epoch = epoch;
    cancel(m->rebalance_timer);
  } else if (validate_online_downgrade(g, req.member_id)) {
    // The last consumer-protocol member leaves classic members behind: the
    // group goes back to classic (KIP-848's online downgrade).
    world_.probe("group: consumer member left");
    return convert_to_classic_group(c, *shard(c), g.id(), req.member_id, [this, in, r = std::move(r)](Errc e) mutable {
      if (e != Errc::NONE) r.error = e;
      respond_consumer_heartbeat(in, std::move(r));
    });
  } else {
    world_.probe("group: consumer member left");
    remove_consumer_member(c, g, req.member_id, false);
    g.bump_group_epoch();
  }
  g.assert_invariants();
  persist_consumer_group(c, g, [this, in, r = std::move(r)](Errc e) mutable {
    if (e != Errc::NONE) r.error = e;
    respond_consumer_heartbeat(in, std::move(r));
  });
}

std::map<std::string, int32_t> GroupCoordinator::subscription_metadata(const ConsumerGroup& g) const {
  std::map<std::string, int32_t> out;
  for (const std::string& t : g.subscribed_topics()) {
    const int32_t n = partition_count_of ? partition_count_of(t) : -1;
    if (n > 0) out[t] = n;
  }
  return out;
}

std::string GroupCoordinator::preferred_assignor(const ConsumerGroup& g) const {
  // The assignor most members ask for (ties: the smallest name), else the default.
  std::map<std::string, int> votes;
  for (const auto& [id, m] : g.members())
    if (!m.server_assignor.empty()) ++votes[m.server_assignor];
  std::string best;
  int most = 0;
  for (const auto& [name, n] : votes)
    if (n > most) {
      best = name;
      most = n;
    }
  return best.empty() ? consumer_assignors_.front() : best;
}

void GroupCoordinator::maybe_update_target(ConsumerGroup& g) {
  if (g.group_epoch() == g.assignment_epoch()) return;
  const std::map<std::string, int32_t> topics = subscription_metadata(g);
  AssignorInput input;
  for (const auto& [id, m] : g.members()) input[id] = AssignorMember{g.member_topics(m), g.target_of(id)};
  std::map<std::string, PartitionSet> target;
  const std::string assignor = preferred_assignor(g);
  const bool known = assign_by_name(assignor, input, topics, &target);
  SIM_ASSERT(known, "consumer group " + g.id() + ": unknown assignor " + assignor);
  world_.probe("group: consumer target assignment computed");
  g.subscription_metadata = topics;
  g.set_target(std::move(target), g.group_epoch());
}

bool GroupCoordinator::maybe_refresh_regexes(ConsumerGroup& g) {
  const std::set<std::string> wanted = g.subscribed_regexes();
  // Resolutions nobody subscribes to any more go (Kafka writes a tombstone).
  for (auto it = g.resolved_regexes.begin(); it != g.resolved_regexes.end();)
    it = wanted.count(it->first) ? std::next(it) : g.resolved_regexes.erase(it);
  if (wanted.empty()) return false;
  bool unresolved = false;
  for (const std::string& r : wanted) unresolved |= !g.resolved_regexes.count(r);
  const std::vector<std::string> topics = topic_names ? topic_names() : std::vector<std::string>{};
  // Kafka 4.0 batches refreshes (at most one per REGEX_BATCH_REFRESH_INTERVAL_MS
  // per group) and refreshes only when the image has new topics; a regex no
  // one resolved yet is resolved at once here (Kafka: asynchronously).
  const bool due = now_ms() > g.last_regex_refresh_ms + kRegexBatchRefreshIntervalMs && topics != g.regex_topics_seen;
  if (!unresolved && !due) return false;
  bool changed = false;
  for (const std::string& r : wanted) {
    std::optional<TopicRegex> re = TopicRegex::compile(r, nullptr);
    SIM_ASSERT(re.has_value(), "consumer group " + g.id() + ": a stored regex does not compile: " + r);
    std::set<std::string> resolved = re->resolve(topics);
    auto it = g.resolved_regexes.find(r);
    if (it == g.resolved_regexes.end()) {
      g.resolved_regexes.emplace(r, std::move(resolved));
      changed = true;
    } else if (it->second != resolved) {
      it->second = std::move(resolved);
      changed = true;
    }
  }
  world_.probe("group: consumer regexes resolved");
  g.last_regex_refresh_ms = now_ms();
  g.regex_topics_seen = topics;
  return changed;
}

void GroupCoordinator::remove_consumer_member(const Ctx& c, ConsumerGroup& g, const std::string& member_id, bool fenced) {
  (void)c;
  ConsumerMember m = g.remove(member_id);
  cancel(m.session_timer);
  cancel(m.rebalance_timer);
  if (fenced && on_member_fenced) on_member_fenced(g.id(), member_id);
}

void GroupCoordinator::reschedule_consumer_session(const Ctx& c, ConsumerGroup& g, ConsumerMember& m) {
  cancel(m.session_timer);
  // A classic member keeps the session timeout of its JoinGroup (Kafka's classicProtocolSessionTimeout).
  const int32_t session_ms = m.classic ? m.classic->session_timeout_ms : consumer_session_ms_;
  m.session_timer = world_.schedule_after(
      self_, sim::milliseconds(session_ms),
      [this, c, gid = g.id(), mid = m.member_id] { expire_consumer_member(c, gid, mid, 0, false); });
}

void GroupCoordinator::update_rebalance_timer(const Ctx& c, ConsumerGroup& g, ConsumerMember& m) {
  // A member revoking partitions must finish within its rebalance timeout
  // (armed when it starts revoking at an epoch, cancelled when it is done).
  if (m.state != MemberState::UnrevokedPartitions) return cancel(m.rebalance_timer);
  if (m.rebalance_timer) return;
  m.rebalance_timer = world_.schedule_after(
      self_, sim::milliseconds(m.rebalance_timeout_ms),
      [this, c, gid = g.id(), mid = m.member_id, epoch = m.member_epoch] { expire_consumer_member(c, gid, mid, epoch, true); });
}

void GroupCoordinator::expire_consumer_member(const Ctx& c, const std::string& group_id, const std::string& member_id,
                                              int32_t epoch, bool rebalance) {
  ConsumerGroup* g = find_consumer(c, group_id);
  if (!g) return;
  ConsumerMember* m = g->member(member_id);
  if (!m) return;
  if (rebalance) {
    m->rebalance_timer.reset();
    if (m->state != MemberState::UnrevokedPartitions || m->member_epoch != epoch) return;
    world_.probe("group: consumer member fenced (rebalance timeout)");
  } else {
    m->session_timer.reset();
    world_.probe(m->left_static() ? "group: consumer static member expired" : "group: consumer member fenced (session timeout)");
  }
  if (validate_online_downgrade(*g, member_id)) {
    if (on_member_fenced) on_member_fenced(group_id, member_id);
    return convert_to_classic_group(c, *shard(c), group_id, member_id, {});
  }
  remove_consumer_member(c, *g, member_id, true);
  g->bump_group_epoch();
  g->assert_invariants();
  persist_consumer_group(c, *g, {});
}

void GroupCoordinator::persist_consumer_group(const Ctx& c, ConsumerGroup& g, std::function<void(Errc)> done) {
  ++appends_;
  ConsumerGroupValue v;
  v.group_epoch = g.group_epoch();
  v.assignment_epoch = g.assignment_epoch();
  for (const auto& [id, m] : g.members()) {
    ConsumerMemberRecord r;
    r.member_id = id;
    r.instance_id = m.instance_id;
    r.client_id = m.client_id;
    r.client_node = m.client_node;
    r.member_epoch = m.member_epoch;
    r.previous_member_epoch = m.previous_member_epoch;
    r.state = static_cast<uint8_t>(m.state);
    r.rebalance_timeout_ms = m.rebalance_timeout_ms;
    r.subscribed_topics = {m.subscribed_topics.begin(), m.subscribed_topics.end()};
    r.subscribed_topic_regex = m.subscribed_topic_regex;
    r.server_assignor = m.server_assignor;
    r.assigned = vec(m.assigned);
    r.pending_revocation = vec(m.pending_revocation);
    r.target = vec(g.target_of(id));
    if (m.classic) {
      r.classic = true;
      r.classic_session_timeout_ms = m.classic->session_timeout_ms;
      for (const protocol::JoinGroupProtocol& p : m.classic->protocols) r.classic_protocols.emplace_back(p.name, p.metadata);
    }
    v.members.push_back(std::move(r));
  }
  for (const auto& [t, n] : g.subscription_metadata) v.subscription_metadata.emplace_back(t, n);
  for (const auto& [regex, topics] : g.resolved_regexes)
    v.resolved_regexes.emplace_back(regex, std::vector<std::string>(topics.begin(), topics.end()));
  v.last_regex_refresh_ms = g.last_regex_refresh_ms;
  storage::Record r;
  r.timestamp = now_ms();
  r.key = bytes_of(encode_key(ConsumerGroupKey{g.id()}));
  r.value = bytes_of(encode_consumer_group_value(v));
  std::vector<storage::Record> records;
  records.push_back(std::move(r));
  runtime_.append(c.partition, c.shard, std::move(records), nullptr, [done = std::move(done)](Errc e) {
    if (done) done(e);
  });
}

void GroupCoordinator::replay_consumer_group(Shard& s, const std::string& group_id,
                                             const std::optional<ConsumerGroupValue>& v) {
  s.consumer_groups.erase(group_id);
  s.groups.erase(group_id);
  if (!v) return;
  ConsumerGroup& g = s.consumer_groups.try_emplace(group_id, group_id, fence_pending_revocation_).first->second;
  g.set_epochs(v->group_epoch, v->assignment_epoch);
  std::map<std::string, PartitionSet> target;
  for (const ConsumerMemberRecord& r : v->members) {
    ConsumerMember m;
    m.member_id = r.member_id;
    m.instance_id = r.instance_id;
    m.client_id = r.client_id;
    m.client_node = r.client_node;
    m.rebalance_timeout_ms = r.rebalance_timeout_ms;
    m.subscribed_topics = {r.subscribed_topics.begin(), r.subscribed_topics.end()};
    m.subscribed_topic_regex = r.subscribed_topic_regex;
    m.server_assignor = r.server_assignor;
    if (r.classic) {
      m.classic = ClassicMemberMetadata{r.classic_session_timeout_ms, {}};
      for (const auto& [name, metadata] : r.classic_protocols) m.classic->protocols.push_back({name, metadata});
    }
    ConsumerMember& added = g.add(std::move(m));
    g.update_member(added, r.member_epoch, static_cast<MemberState>(r.state), set_of(r.assigned),
                    set_of(r.pending_revocation));
    added.previous_member_epoch = r.previous_member_epoch;
    target[r.member_id] = set_of(r.target);
  }
  g.set_target(std::move(target), v->assignment_epoch);
  for (const auto& [t, n] : v->subscription_metadata) g.subscription_metadata[t] = n;
  for (const auto& [regex, topics] : v->resolved_regexes)
    g.resolved_regexes[regex] = std::set<std::string>(topics.begin(), topics.end());
  g.last_regex_refresh_ms = v->last_regex_refresh_ms;
}

Errc GroupCoordinator::validate_consumer_offset_commit(const ConsumerGroup& g,
                                                       const protocol::OffsetCommitRequest& req) const {
  // Kafka's ConsumerGroup.validateOffsetCommit.
  if (g.dead()) return Errc::COORDINATOR_NOT_AVAILABLE;
  if (req.generation_id < 0 && req.member_id.empty() && g.members().empty()) return Errc::NONE;  // admin / simple
  const ConsumerMember* m = g.member(req.member_id);
  if (!m || m->left_static()) return Errc::UNKNOWN_MEMBER_ID;
  // A classic member's generation is its member epoch: a wrong one is
  // ILLEGAL_GENERATION, as its classic client expects (Kafka: the same).
  if (req.generation_id != m->member_epoch)
    return m->uses_classic_protocol() ? Errc::ILLEGAL_GENERATION : Errc::STALE_MEMBER_EPOCH;
  return Errc::NONE;
}

void GroupCoordinator::describe_consumer_group(const ConsumerGroup& g, GroupDescription& d) const {
  d.group_protocol = "consumer";
  d.state = consumer_group_state_name(g.state());
  d.generation = g.group_epoch();
  d.group_epoch = g.group_epoch();
  d.assignment_epoch = g.assignment_epoch();
  d.protocol_type = "consumer";
  d.protocol = preferred_assignor(g);
  for (const auto& [id, m] : g.members()) {
    GroupMemberDescription md;
    md.member_id = id;
    md.group_instance_id = m.instance_id;
    md.client_id = m.client_id;
    md.client_node = m.client_node;
    const std::set<std::string> topics = g.member_topics(m);
    md.subscription = {topics.begin(), topics.end()};
    md.subscribed_topic_regex = m.subscribed_topic_regex;
    md.classic_protocol = m.uses_classic_protocol();
    md.member_epoch = m.member_epoch;
    md.member_state = member_state_name(m.state);
    md.assigned = vec(m.assigned);
    md.pending_revocation = vec(m.pending_revocation);
    md.target = vec(g.target_of(id));
    d.members.push_back(std::move(md));
  }
}

}  // namespace ksim::coordinator
