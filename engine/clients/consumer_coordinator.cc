#include "engine/clients/consumer_coordinator.h"

#include <algorithm>
#include <limits>

#include "sim/error.h"

namespace ksim::clients {

const char* member_state_name(MemberState s) {
  switch (s) {
    case MemberState::unjoined: return "UNJOINED";
    case MemberState::preparing_rebalance: return "PREPARING_REBALANCE";
    case MemberState::completing_rebalance: return "COMPLETING_REBALANCE";
    default: return "STABLE";
  }
}

namespace {

constexpr int64_t kJoinGroupTimeoutLapseMs = 5000;  // AbstractCoordinator.JOIN_GROUP_TIMEOUT_LAPSE

bool is_coordinator_error(Errc e) { return e == Errc::COORDINATOR_NOT_AVAILABLE || e == Errc::NOT_COORDINATOR; }

// A join that failed with one of these is retried at once (no backoff).
bool rejoin_immediately(Errc e) {
  return e == Errc::UNKNOWN_MEMBER_ID || e == Errc::ILLEGAL_GENERATION || e == Errc::REBALANCE_IN_PROGRESS ||
         e == Errc::MEMBER_ID_REQUIRED;
}

// Java's UnjoinedGroupException (a retriable local condition); no wire code.
constexpr Errc kUnjoinedGroup = Errc::NETWORK_EXCEPTION;

}  // namespace

std::vector<TopicPartition> minus(const std::vector<TopicPartition>& a, const std::vector<TopicPartition>& b) {
  std::vector<TopicPartition> out;
  for (const TopicPartition& tp : a)
    if (std::find(b.begin(), b.end(), tp) == b.end()) out.push_back(tp);
  return out;
}

ConsumerCoordinator::ConsumerCoordinator(ConsumerNetworkClient& net, ClientMetadata& metadata,
                                         SubscriptionState& subscriptions, Fetcher& fetcher, CoordinatorConfig config,
                                         ConsumerRecorder recorder)
    : net_(net),
      metadata_(metadata),
      subscriptions_(subscriptions),
      fetcher_(fetcher),
      config_(std::move(config)),
      recorder_(std::move(recorder)) {
  // The protocol: COOPERATIVE only if every configured assignor supports it (Java's rule).
  bool all_cooperative = !config_.assignors.empty();
  for (const std::string& name : config_.assignors) {
    std::unique_ptr<PartitionAssignor> a = make_assignor(name);
    if (!a) throw KafkaException("KafkaException", Errc::INVALID_CONFIG, "unknown assignor " + name);
    const auto ps = a->supported_protocols();
    all_cooperative = all_cooperative && std::find(ps.begin(), ps.end(), RebalanceProtocol::cooperative) != ps.end();
    assignors_.push_back(std::move(a));
  }
  protocol_ = all_cooperative ? RebalanceProtocol::cooperative : RebalanceProtocol::eager;
  next_auto_commit_ = net_.now() + sim::milliseconds(config_.auto_commit_interval_ms);
  last_poll_ = net_.now();
}

void ConsumerCoordinator::start() {
  if (config_.consumer_protocol) {
    // KIP-1082: the member id is the client's (a UUID from its seeded stream).
    sim::Rng rng = net_.world().rng("consumer-member-id/" + net_.ctx().name + "/incarnation-" +
                                    std::to_string(net_.world().incarnation(net_.ctx().self)));
    const uint64_t hi = rng.next_u64(), lo = rng.next_u64();
    char buf[40];
    std::snprintf(buf, sizeof buf, "%016llx%016llx", static_cast<unsigned long long>(hi),
                  static_cast<unsigned long long>(lo));
    generation_ = {0, buf, config_.remote_assignor.value_or("")};
    net_.world().spawn(net_.ctx().self, "consumer-heartbeat", [this] { cg_heartbeat_loop(); });
    return;
  }
  net_.world().spawn(net_.ctx().self, "consumer-heartbeat", [this] { heartbeat_loop(); });
}

// ---- coordinator discovery -------------------------------------------------------------

void ConsumerCoordinator::lookup_coordinator() {
  if (find_in_flight_ || coordinator_ >= 0 || net_.now() < next_find_attempt_) return;
  const int32_t broker = metadata_.any_broker();
  if (broker < 0) {
    next_find_attempt_ = net_.now() + sim::milliseconds(config_.retry_backoff_ms);
    return;
  }
  find_in_flight_ = true;
  protocol::FindCoordinatorRequest req{config_.group_id, 0};
  net_.send(broker, "FindCoordinator", sim::make_payload(std::move(req)), 64, config_.request_timeout_ms,
            [this](const sim::Reply& r) {
              find_in_flight_ = false;
              const bool ok = r.status == sim::CallStatus::ok &&
                              sim::payload_as<protocol::FindCoordinatorResponse>(r.payload).error == Errc::NONE &&
                              sim::payload_as<protocol::FindCoordinatorResponse>(r.payload).node_id >= 0;
              if (ok) {
                coordinator_ = sim::payload_as<protocol::FindCoordinatorResponse>(r.payload).node_id;
                session_deadline_ = net_.now() + sim::milliseconds(config_.session_timeout_ms);
                std::vector<PendingAsync> waiting;
                waiting.swap(awaiting_coordinator_);
                for (PendingAsync& p : waiting) {
                  --pending_async_commits_;  // counted again by do_commit_async
                  do_commit_async(std::move(p));
                }
              } else {
                next_find_attempt_ = net_.now() + sim::milliseconds(config_.retry_backoff_ms);
                std::vector<PendingAsync> waiting;
                waiting.swap(awaiting_coordinator_);
                for (PendingAsync& p : waiting) {
                  --pending_async_commits_;
                  completed_commits_.push_back({std::move(p.cb), std::move(p.offsets), Errc::COORDINATOR_NOT_AVAILABLE});
                }
              }
            });
}

bool ConsumerCoordinator::ensure_coordinator_ready(sim::Instant deadline) {
  while (coordinator_ < 0) {
    if (!net_.alive()) return false;
    lookup_coordinator();
    if (coordinator_ >= 0) break;
    if (find_in_flight_) {
      net_.await([this] { return !find_in_flight_; }, deadline);
    } else {
      net_.await([this] { return coordinator_ >= 0; }, std::min(deadline, next_find_attempt_));
    }
    if (coordinator_ < 0 && net_.now() >= deadline) return false;
  }
  return true;
}

void ConsumerCoordinator::mark_coordinator_unknown(const std::string& reason) {
  if (coordinator_ < 0) return;
  net_.world().probe("consumer: coordinator marked unknown");
  (void)reason;
  coordinator_ = -1;
  next_find_attempt_ = net_.now();
}

// ---- the poll step ----------------------------------------------------------------------------

bool ConsumerCoordinator::poll(sim::Instant deadline) {
  throw_if_fatal();
  invoke_completed_offset_commit_callbacks();
  if (subscriptions_.has_auto_assigned_partitions()) {
    if (subscriptions_.type() == SubscriptionState::Type::auto_pattern &&
        subscriptions_.update_pattern_subscription(metadata_.all_topics()))
      for (const std::string& t : subscriptions_.subscription()) metadata_.add_topic(t);
    // Always: the heartbeat fiber must not leave the group for lack of polls
    // even while the coordinator cannot be found.
    last_poll_ = net_.now();
    if (coordinator_ < 0 && !ensure_coordinator_ready(deadline)) return false;
    if (config_.consumer_protocol) {
      if (!cg_poll(deadline)) return false;
    } else if (rejoin_needed_or_pending()) {
      if (!ensure_active_group(net_.now())) return false;  // never waits: the join runs on
    }
  }
  maybe_auto_commit_async();
  return true;
}

sim::Instant ConsumerCoordinator::next_poll_deadline() const {
  // Java's timeToNextPoll bounds the wait by the next heartbeat as well, so a
  // poll() that is still finding the coordinator or joining comes back to drive
  // it. Without that (auto-commit off) a poll would sleep through its whole
  // timeout after a failed FindCoordinator and never join.
  sim::Instant next{std::numeric_limits<int64_t>::max() / 2};
  if (subscriptions_.has_auto_assigned_partitions() && (coordinator_ < 0 || state_ != MemberState::stable))
    next = net_.now() + sim::milliseconds(config_.retry_backoff_ms);
  if (config_.auto_commit) next = std::min(next, next_auto_commit_);
  return next;
}

bool ConsumerCoordinator::rejoin_needed_or_pending() {
  if (!subscriptions_.has_auto_assigned_partitions()) return false;
  if (config_.consumer_protocol) return cg_fenced_ || generation_.id <= 0;
  if (assignment_snapshot_ && *assignment_snapshot_ != partitions_per_topic(subscriptions_.subscription())) {
    // The leader notices new partitions (or topics) and starts a rebalance.
    if (!rejoin_needed_) request_rejoin("cached metadata has changed");
    return true;
  }
  if (joined_subscription_ && *joined_subscription_ != subscriptions_.subscription()) {
    if (!rejoin_needed_) request_rejoin("subscription has changed");
    return true;
  }
  return rejoin_needed_ || join_future_ != nullptr;
}

void ConsumerCoordinator::request_rejoin(const std::string& reason) {
  rejoin_reason_ = reason;
  rejoin_needed_ = true;
}

void ConsumerCoordinator::throw_if_fatal() {
  if (fatal_) throw KafkaException(*fatal_ == Errc::FENCED_INSTANCE_ID ? "FencedInstanceIdException" : "KafkaException",
                                   *fatal_, fatal_message_);
}

bool ConsumerCoordinator::ensure_active_group(sim::Instant deadline) {
  if (!ensure_coordinator_ready(deadline)) return false;
  return join_group_if_needed(deadline);
}

bool ConsumerCoordinator::join_group_if_needed(sim::Instant deadline) {
  while (rejoin_needed_or_pending()) {
    if (!ensure_coordinator_ready(deadline)) return false;
    if (needs_join_prepare_) {
      // Set first: a throwing listener must not make us run onJoinPrepare twice.
      needs_join_prepare_ = false;
      if (!on_join_prepare(deadline, generation_.id, generation_.member_id)) {
        needs_join_prepare_ = true;
        return false;
      }
    }
    const std::shared_ptr<JoinFuture> f = initiate_join_group();
    net_.await([&] { return f->done; }, deadline);
    if (!f->done) return false;
    join_future_.reset();
    if (f->error == Errc::NONE) {
      if (generation_.id >= 0 && state_ == MemberState::stable) {
        const Generation snapshot = generation_;
        needs_join_prepare_ = true;
        on_join_complete(snapshot, f->assignment);
      } else {
        reset_state_and_rejoin("rebalance failed: the generation was reset before the rebalance callback", true);
      }
      continue;
    }
    if (rejoin_immediately(f->error)) continue;
    if (fatal_) throw_if_fatal();
    if (!retriable(f->error) && f->error != kUnjoinedGroup)
      throw KafkaException("KafkaException", f->error, std::string("JoinGroup failed: ") + std::string(errc_name(f->error)));
    const sim::Instant backoff = std::min(deadline, net_.now() + sim::milliseconds(config_.retry_backoff_ms));
    net_.await([] { return false; }, backoff);
    if (net_.now() >= deadline) return false;
  }
  return true;
}

bool ConsumerCoordinator::on_join_prepare(sim::Instant deadline, int32_t generation, const std::string& member_id) {
  if (!join_prepare_deadline_) join_prepare_deadline_ = net_.now() + sim::milliseconds(config_.rebalance_timeout_ms);
  // Eager: commit what we consumed before giving the partitions away (and wait for it).
  if (config_.auto_commit && !auto_commit_before_join_ && generation >= 0) {
    if (protocol_ == RebalanceProtocol::eager) subscriptions_.mark_pending_revocation(subscriptions_.assigned_partitions());
    auto result = std::make_shared<std::optional<Errc>>();
    auto_commit_before_join_ = result;
    OffsetMap offsets;
    for (const auto& [tp, pos] : subscriptions_.all_consumed()) offsets[tp] = {pos.offset, pos.offset_epoch, ""};
    if (offsets.empty()) {
      *result = Errc::NONE;
    } else {
      do_commit_async({offsets, [result](const OffsetMap&, Errc e) { *result = e; }, "auto"});
    }
  }
  if (auto_commit_before_join_) {
    const sim::Instant until = std::min(deadline, *join_prepare_deadline_);
    net_.await([&] {
      invoke_completed_offset_commit_callbacks();
      return auto_commit_before_join_->has_value();
    }, until);
    const bool expired = net_.now() >= *join_prepare_deadline_;
    if (!expired) {
      if (!auto_commit_before_join_->has_value()) return false;
      const Errc e = **auto_commit_before_join_;
      if (e != Errc::NONE && retriable(e)) {
        auto_commit_before_join_.reset();  // retry after a backoff
        net_.await([] { return false; }, std::min(deadline, net_.now() + sim::milliseconds(config_.retry_backoff_ms)));
        return false;
      }
    }
    auto_commit_before_join_.reset();
  }

  const std::vector<TopicPartition> owned = subscriptions_.assigned_partitions();
  if (generation < 0 || member_id.empty()) {
    // Kicked out (or never in): whatever we hold is lost, not revoked.
    if (!owned.empty()) {
      invoke_revoked(owned, "lost", generation);
      subscriptions_.assign_from_subscribed({});
    }
  } else if (protocol_ == RebalanceProtocol::eager) {
    invoke_revoked(owned, "revoked", generation);
    subscriptions_.assign_from_subscribed({});
  } else {
    std::vector<TopicPartition> gone;
    for (const TopicPartition& tp : owned)
      if (!subscriptions_.subscription().count(tp.topic)) gone.push_back(tp);
    if (!gone.empty()) {
      invoke_revoked(gone, "revoked", generation);
      subscriptions_.assign_from_subscribed(minus(owned, gone));
    }
  }
  fetcher_.clear_buffered_data_for_unassigned_partitions();
  is_leader_ = false;
  assignment_snapshot_.reset();
  join_prepare_deadline_.reset();
  return true;
}

void ConsumerCoordinator::on_join_complete(const Generation& gen, const std::string& assignment_bytes) {
  PartitionAssignor* assignor = lookup_assignor(gen.protocol);
  SIM_ASSERT(assignor != nullptr, "coordinator selected an assignor this consumer does not have: " + gen.protocol);
  if (!is_leader_) assignment_snapshot_.reset();
  const std::optional<Assignment> assignment = decode_assignment(assignment_bytes);
  if (!assignment) {
    request_rejoin("undecodable assignment");
    return;
  }
  const std::vector<TopicPartition> owned = subscriptions_.assigned_partitions();
  std::vector<TopicPartition> assigned = assignment->partitions;
  std::sort(assigned.begin(), assigned.end());
  if (!subscriptions_.assignment_matches_subscription(assigned)) {
    request_rejoin("received assignment does not match the current subscription");
    return;
  }
  const std::vector<TopicPartition> added = minus(assigned, owned);
  if (protocol_ == RebalanceProtocol::cooperative) {
    const std::vector<TopicPartition> revoked = minus(owned, assigned);
    if (!revoked.empty()) {
      // KIP-429: give these up now; the follow-up rebalance hands them over.
      invoke_revoked(revoked, "revoked", gen.id);
      subscriptions_.assign_from_subscribed(minus(owned, revoked));
      request_rejoin("need to revoke partitions and re-join");
    }
  }
  assignor->on_assignment(*assignment, gen.id);
  if (config_.auto_commit) next_auto_commit_ = net_.now() + sim::milliseconds(config_.auto_commit_interval_ms);
  subscriptions_.assign_from_subscribed(assigned);
  fetcher_.clear_buffered_data_for_unassigned_partitions();
  invoke_assigned(added, assigned);
}

std::shared_ptr<ConsumerCoordinator::JoinFuture> ConsumerCoordinator::initiate_join_group() {
  if (join_future_) return join_future_;
  state_ = MemberState::preparing_rebalance;
  joined_subscription_ = subscriptions_.subscription();
  join_future_ = std::make_shared<JoinFuture>();
  net_.world().probe("consumer: JoinGroup");
  send_join_group(join_future_);
  return join_future_;
}

std::vector<protocol::JoinGroupProtocol> ConsumerCoordinator::join_protocols() const {
  std::vector<protocol::JoinGroupProtocol> out;
  const std::set<std::string>& topics = subscriptions_.subscription();
  for (const auto& a : assignors_) {
    Subscription s;
    s.topics.assign(topics.begin(), topics.end());
    s.user_data = a->subscription_user_data();
    s.owned_partitions = subscriptions_.assigned_partitions();
    s.generation_id = generation_.id;
    out.push_back({a->name(), encode_subscription(s)});
  }
  return out;
}

void ConsumerCoordinator::send_join_group(const std::shared_ptr<JoinFuture>& f) {
  if (coordinator_ < 0) return fail(f, Errc::COORDINATOR_NOT_AVAILABLE);
  protocol::JoinGroupRequest req;
  req.group_id = config_.group_id;
  req.session_timeout_ms = config_.session_timeout_ms;
  req.rebalance_timeout_ms = config_.rebalance_timeout_ms;
  req.member_id = generation_.member_id;
  req.group_instance_id = config_.group_instance_id;
  req.protocol_type = kConsumerProtocolType;
  req.protocols = join_protocols();
  req.reason = rejoin_reason_;
  const int64_t timeout = std::max<int64_t>(config_.request_timeout_ms, config_.rebalance_timeout_ms + kJoinGroupTimeoutLapseMs);
  net_.send(coordinator_, "JoinGroup", sim::make_payload(std::move(req)), 256, timeout, [this, f](const sim::Reply& r) {
    if (r.status != sim::CallStatus::ok) {
      mark_coordinator_unknown("JoinGroup failed: " + std::string(errc_name(transport_error(r))));
      return fail(f, Errc::COORDINATOR_NOT_AVAILABLE);
    }
    on_join_response(f, sim::payload_as<protocol::JoinGroupResponse>(r.payload));
  });
}

void ConsumerCoordinator::fail(const std::shared_ptr<JoinFuture>& f, Errc e) {
  f->done = true;
  f->error = e;
}

void ConsumerCoordinator::on_join_response(const std::shared_ptr<JoinFuture>& f, const protocol::JoinGroupResponse& resp) {
  switch (resp.error) {
    case Errc::NONE:
      if (state_ != MemberState::preparing_rebalance) return fail(f, kUnjoinedGroup);  // left meanwhile
      state_ = MemberState::completing_rebalance;
      generation_ = {resp.generation_id, resp.member_id, resp.protocol_name};
      reset_heartbeat_timeouts();  // heartbeats run while COMPLETING_REBALANCE
      if (resp.leader == resp.member_id) {
        is_leader_ = true;
        // The leader may need metadata for topics only other members subscribe
        // to: assign from a fiber that can wait for it.
        net_.world().spawn(net_.ctx().self, "consumer-assign",
                           [this, f, resp] { perform_assignment_and_sync(f, resp); });
      } else {
        send_sync_group(f, {});
      }
      return;
    case Errc::MEMBER_ID_REQUIRED:
      // KIP-394: join again with the id the coordinator gave us.
      generation_ = {-1, resp.member_id, ""};
      request_rejoin("need to re-join with the given member-id");
      return fail(f, resp.error);
    case Errc::UNKNOWN_MEMBER_ID:
      reset_state_and_generation(true);
      return fail(f, resp.error);
    case Errc::COORDINATOR_NOT_AVAILABLE:
    case Errc::NOT_COORDINATOR:
      mark_coordinator_unknown("JoinGroup: " + std::string(errc_name(resp.error)));
      return fail(f, resp.error);
    case Errc::FENCED_INSTANCE_ID:
    case Errc::INCONSISTENT_GROUP_PROTOCOL:
    case Errc::INVALID_SESSION_TIMEOUT:
    case Errc::GROUP_MAX_SIZE_REACHED:
      fatal_ = resp.error;
      fatal_message_ = "JoinGroup failed: " + std::string(errc_name(resp.error));
      return fail(f, resp.error);
    default:
      return fail(f, resp.error);  // REBALANCE_IN_PROGRESS, COORDINATOR_LOAD_IN_PROGRESS, ...: rejoin
  }
}

PartitionsPerTopic ConsumerCoordinator::partitions_per_topic(const std::set<std::string>& topics) const {
  PartitionsPerTopic out;
  for (const std::string& t : topics) {
    const int32_t n = metadata_.partition_count(t);
    if (n > 0 && metadata_.topic_exists(t)) out[t] = n;
  }
  return out;
}

void ConsumerCoordinator::perform_assignment_and_sync(const std::shared_ptr<JoinFuture>& f,
                                                      protocol::JoinGroupResponse resp) {
  PartitionAssignor* assignor = lookup_assignor(resp.protocol_name);
  if (!assignor) {
    fatal_ = Errc::INCONSISTENT_GROUP_PROTOCOL;
    fatal_message_ = "coordinator selected an unknown assignor " + resp.protocol_name;
    return fail(f, *fatal_);
  }
  std::vector<MemberSubscription> members;
  std::set<std::string> all_topics;
  for (const protocol::JoinGroupMember& m : resp.members) {
    std::optional<Subscription> s = decode_subscription(m.metadata);
    if (!s) {
      fatal_ = Errc::INCONSISTENT_GROUP_PROTOCOL;
      fatal_message_ = "undecodable subscription of member " + m.member_id;
      return fail(f, *fatal_);
    }
    all_topics.insert(s->topics.begin(), s->topics.end());
    members.push_back({m.member_id, m.group_instance_id, std::move(*s)});
  }
  // The leader watches every topic of the group, and assigns with fresh metadata.
  for (const std::string& t : all_topics) metadata_.add_topic(t);
  if (metadata_.update_requested()) {
    const uint64_t v = metadata_.version();
    net_.wakeup();
    net_.await([&] { return metadata_.version() != v; }, net_.now() + sim::milliseconds(config_.request_timeout_ms));
  }
  if (f->done || state_ != MemberState::completing_rebalance) return;
  const PartitionsPerTopic ppt = partitions_per_topic(all_topics);
  const GroupAssignment ga = assignor->assign(ppt, members);
  assignment_snapshot_ = ppt;
  std::vector<protocol::SyncGroupAssignment> out;
  for (const auto& [member, parts] : ga) out.push_back({member, encode_assignment(Assignment{parts, ""})});
  send_sync_group(f, std::move(out));
}

void ConsumerCoordinator::send_sync_group(const std::shared_ptr<JoinFuture>& f,
                                          std::vector<protocol::SyncGroupAssignment> assignments) {
  if (coordinator_ < 0) return fail(f, Errc::COORDINATOR_NOT_AVAILABLE);
  protocol::SyncGroupRequest req;
  req.group_id = config_.group_id;
  req.generation_id = generation_.id;
  req.member_id = generation_.member_id;
  req.group_instance_id = config_.group_instance_id;
  req.protocol_name = generation_.protocol;
  req.assignments = std::move(assignments);
  const Generation sent = generation_;
  net_.send(coordinator_, "SyncGroup", sim::make_payload(std::move(req)), 256, config_.request_timeout_ms,
            [this, f, sent](const sim::Reply& r) {
              if (r.status != sim::CallStatus::ok) {
                mark_coordinator_unknown("SyncGroup failed");
                return fail(f, Errc::COORDINATOR_NOT_AVAILABLE);
              }
              const auto& resp = sim::payload_as<protocol::SyncGroupResponse>(r.payload);
              switch (resp.error) {
                case Errc::NONE:
                  if (generation_ != sent || state_ != MemberState::completing_rebalance)
                    return fail(f, Errc::ILLEGAL_GENERATION);  // reset meanwhile: retry at once
                  state_ = MemberState::stable;
                  rejoin_needed_ = false;
                  rejoin_reason_.clear();
                  reset_heartbeat_timeouts();
                  f->assignment = resp.assignment;
                  f->done = true;
                  return;
                case Errc::REBALANCE_IN_PROGRESS:
                  request_rejoin("group is already rebalancing");
                  return fail(f, resp.error);
                case Errc::FENCED_INSTANCE_ID:
                  fatal_ = resp.error;
                  fatal_message_ = "SyncGroup: this static member was fenced by another with the same group.instance.id";
                  return fail(f, resp.error);
                case Errc::UNKNOWN_MEMBER_ID:
                case Errc::ILLEGAL_GENERATION:
                  reset_state_and_rejoin("SyncGroup: " + std::string(errc_name(resp.error)),
                                         resp.error == Errc::UNKNOWN_MEMBER_ID);
                  return fail(f, resp.error);
                case Errc::COORDINATOR_NOT_AVAILABLE:
                case Errc::NOT_COORDINATOR:
                  mark_coordinator_unknown("SyncGroup: " + std::string(errc_name(resp.error)));
                  request_rejoin("coordinator moved during SyncGroup");
                  return fail(f, resp.error);
                default:
                  request_rejoin("SyncGroup failed");
                  return fail(f, resp.error);
              }
            });
}

void ConsumerCoordinator::reset_state_and_generation(bool reset_member_id) {
  state_ = MemberState::unjoined;
  generation_ = reset_member_id ? Generation{} : Generation{-1, generation_.member_id, ""};
}

void ConsumerCoordinator::reset_state_and_rejoin(const std::string& reason, bool reset_member_id) {
  reset_state_and_generation(reset_member_id);
  request_rejoin(reason);
  needs_join_prepare_ = true;
}

PartitionAssignor* ConsumerCoordinator::lookup_assignor(const std::string& name) const {
  for (const auto& a : assignors_)
    if (a->name() == name) return a.get();
  return nullptr;
}

// ---- listener + history --------------------------------------------------------------------------

void ConsumerCoordinator::invoke_revoked(const std::vector<TopicPartition>& tps, const char* detail, int32_t generation) {
  const bool lost = std::string(detail) == "lost";
  if (lost) {
    if (listener_.on_lost)
      listener_.on_lost(tps);
    else if (listener_.on_revoked)
      listener_.on_revoked(tps);
  } else if (listener_.on_revoked) {
    listener_.on_revoked(tps);
  }
  if (tps.empty()) return;
  check::OpSpec op = recorder_.op(check::OpType::revoke);
  for (const TopicPartition& tp : tps) op.offsets.push_back({tp, kNoOffset});
  op.generation = generation;
  op.member_id = generation_.member_id;
  op.detail = detail;
  recorder_.record(op);
}

void ConsumerCoordinator::invoke_assigned(const std::vector<TopicPartition>& added, const std::vector<TopicPartition>& all) {
  check::OpSpec op = recorder_.op(check::OpType::assign);
  for (const TopicPartition& tp : all) op.offsets.push_back({tp, kNoOffset});
  op.generation = generation_.id;
  op.member_id = generation_.member_id;
  // KIP-848 reconciliations say so: the checkers judge ownership across member epochs.
  const std::string detail = config_.consumer_protocol
                                 ? "consumer:" + (generation_.protocol.empty() ? std::string("server") : generation_.protocol)
                                 : std::string("rebalance:") + rebalance_protocol_name(protocol_) + ":" + generation_.protocol;
  op.detail = detail;
  recorder_.record(op);
  if (listener_.on_assigned) listener_.on_assigned(added);
}

// ---- heartbeat fiber -------------------------------------------------------------------------------

bool ConsumerCoordinator::heartbeat_enabled() const {
  return !closed_ && (state_ == MemberState::completing_rebalance || state_ == MemberState::stable);
}

void ConsumerCoordinator::reset_heartbeat_timeouts() {
  const sim::Instant now = net_.now();
  session_deadline_ = now + sim::milliseconds(config_.session_timeout_ms);
  next_heartbeat_ = now + sim::milliseconds(config_.heartbeat_interval_ms);
  last_poll_ = now;
}

void ConsumerCoordinator::heartbeat_loop() {
  sim::CondVar& cv = net_.cv();
  for (;;) {
    if (closed_) return;
    const uint64_t seen = net_.events();
    auto changed = [&] { return closed_ || net_.events() != seen; };
    if (!heartbeat_enabled()) {
      cv.wait(changed);
      continue;
    }
    const sim::Instant now = net_.now();
    const sim::Instant poll_deadline = last_poll_ + sim::milliseconds(config_.rebalance_timeout_ms);
    if (coordinator_ < 0) {
      lookup_coordinator();
      cv.wait_for(sim::milliseconds(config_.retry_backoff_ms), changed);
    } else if (now >= session_deadline_) {
      mark_coordinator_unknown("session timed out without receiving a heartbeat response");
    } else if (now >= poll_deadline) {
      // The application stalled between polls: leave, so the group can move on.
      net_.world().probe("consumer: poll timeout, leaving group");
      maybe_leave_group("consumer poll timeout has expired.");
      net_.wakeup();
    } else if (heartbeat_in_flight_ || now < next_heartbeat_) {
      sim::Instant until = std::min(session_deadline_, poll_deadline);
      if (!heartbeat_in_flight_) until = std::min(until, next_heartbeat_);
      cv.wait_for(until - now, changed);
    } else {
      send_heartbeat();
    }
  }
}

void ConsumerCoordinator::send_heartbeat() {
  heartbeat_in_flight_ = true;
  next_heartbeat_ = net_.now() + sim::milliseconds(config_.heartbeat_interval_ms);
  protocol::HeartbeatRequest req{config_.group_id, generation_.id, generation_.member_id, config_.group_instance_id};
  const Generation sent = generation_;
  net_.send(coordinator_, "Heartbeat", sim::make_payload(std::move(req)), 64, config_.request_timeout_ms,
            [this, sent](const sim::Reply& r) {
              heartbeat_in_flight_ = false;
              const sim::Instant now = net_.now();
              auto failed = [&] { next_heartbeat_ = now + sim::milliseconds(config_.retry_backoff_ms); };
              if (r.status != sim::CallStatus::ok) {
                mark_coordinator_unknown("Heartbeat: disconnected");
                return failed();
              }
              const Errc e = sim::payload_as<protocol::HeartbeatResponse>(r.payload).error;
              switch (e) {
                case Errc::NONE:
                  session_deadline_ = now + sim::milliseconds(config_.session_timeout_ms);
                  return;
                case Errc::COORDINATOR_NOT_AVAILABLE:
                case Errc::NOT_COORDINATOR:
                  mark_coordinator_unknown("Heartbeat: " + std::string(errc_name(e)));
                  return failed();
                case Errc::REBALANCE_IN_PROGRESS:
                  session_deadline_ = now + sim::milliseconds(config_.session_timeout_ms);
                  if (state_ == MemberState::stable) request_rejoin("group is already rebalancing");
                  return;
                case Errc::ILLEGAL_GENERATION:
                case Errc::UNKNOWN_MEMBER_ID:
                case Errc::FENCED_INSTANCE_ID:
                  if (generation_ == sent) {
                    net_.world().probe("consumer: heartbeat fenced, generation reset");
                    reset_state_and_rejoin("Heartbeat: " + std::string(errc_name(e)), e != Errc::ILLEGAL_GENERATION);
                    if (e == Errc::FENCED_INSTANCE_ID) {
                      fatal_ = e;
                      fatal_message_ = "Heartbeat: this static member was fenced by another with the same group.instance.id";
                    }
                  }
                  return;
                default:
                  return failed();
              }
            });
}

// ---- leaving ------------------------------------------------------------------------------------------

void ConsumerCoordinator::on_leave_prepare() {
  const std::vector<TopicPartition> owned = subscriptions_.assigned_partitions();
  if (!subscriptions_.has_auto_assigned_partitions() || owned.empty()) return;
  const bool lost = generation_.id < 0 || generation_.member_id.empty() ||
                    (config_.consumer_protocol && (generation_.id == 0 || cg_fenced_)) ||
                    state_ == MemberState::preparing_rebalance || state_ == MemberState::completing_rebalance;
  invoke_revoked(owned, lost ? "lost" : "revoked", generation_.id);
  subscriptions_.assign_from_subscribed({});
  fetcher_.clear_buffered_data_for_unassigned_partitions();
}

void ConsumerCoordinator::maybe_leave_group(const std::string& reason) {
  if (config_.consumer_protocol) return cg_leave();
  const bool dynamic = !config_.group_instance_id.has_value();
  if (dynamic && coordinator_ >= 0 && state_ != MemberState::unjoined && !generation_.member_id.empty()) {
    protocol::LeaveGroupRequest req;
    req.group_id = config_.group_id;
    req.members.push_back({generation_.member_id, std::nullopt, reason});
    net_.send(coordinator_, "LeaveGroup", sim::make_payload(std::move(req)), 64, config_.request_timeout_ms,
              [](const sim::Reply&) {});
  }
  reset_state_and_rejoin(reason, true);
}

void ConsumerCoordinator::close(sim::Instant deadline) {
  // Java: auto-commit synchronously, wait for async commits, then leave.
  if (config_.auto_commit && subscriptions_.type() != SubscriptionState::Type::none) {
    OffsetMap offsets;
    for (const auto& [tp, pos] : subscriptions_.all_consumed()) offsets[tp] = {pos.offset, pos.offset_epoch, ""};
    try {
      if (!offsets.empty()) commit_sync(offsets, deadline, "auto");
    } catch (const KafkaException&) {
      // Java logs and goes on closing.
    }
  }
  net_.await([&] { return pending_async_commits_ == 0; }, deadline);
  invoke_completed_offset_commit_callbacks();
  closed_ = true;
  on_leave_prepare();
  if (config_.consumer_protocol) {
    cg_leave();
    net_.wakeup();
    return;
  }
  maybe_leave_group("the consumer is being closed");
  net_.wakeup();
}

// ---- commits ---------------------------------------------------------------------------------------

Generation ConsumerCoordinator::commit_generation(Errc* local_error) const {
  *local_error = Errc::NONE;
  if (!subscriptions_.has_auto_assigned_partitions()) return Generation{};
  if (config_.consumer_protocol) {
    // The member epoch fences commits (STALE_MEMBER_EPOCH); epoch 0: not in the group yet.
    if (generation_.id > 0 && !cg_fenced_) return generation_;
    *local_error = Errc::UNKNOWN_MEMBER_ID;
    return Generation{};
  }
  if (state_ == MemberState::stable) return generation_;
  *local_error = (state_ == MemberState::preparing_rebalance || state_ == MemberState::completing_rebalance)
                     ? Errc::REBALANCE_IN_PROGRESS
                     : Errc::UNKNOWN_MEMBER_ID;
  return Generation{};
}

void ConsumerCoordinator::send_offset_commit(const OffsetMap& offsets, const std::string& detail,
                                             std::function<void(Errc)> done) {
  Errc local = Errc::NONE;
  const Generation gen = commit_generation(&local);
  check::OpSpec op = recorder_.op(check::OpType::commit);
  for (const auto& [tp, om] : offsets) op.offsets.push_back({tp, om.offset});
  op.generation = subscriptions_.has_auto_assigned_partitions() ? generation_.id : -1;
  if (subscriptions_.has_auto_assigned_partitions()) op.member_id = generation_.member_id;
  op.detail = detail;
  const int64_t now_ns = net_.now().ns;
  check::History* h = recorder_.enabled() ? recorder_.ctx->history : nullptr;
  const uint64_t id = h ? h->invoke(op, now_ns) : 0;
  auto finish = [this, h, id](check::Outcome o, Errc e) {
    if (h) h->complete(id, o, net_.now().ns, e);
  };
  if (local != Errc::NONE || coordinator_ < 0) {
    // Never sent: not part of an active group (Java fails the commit locally).
    const Errc e = local != Errc::NONE ? local : Errc::COORDINATOR_NOT_AVAILABLE;
    finish(check::Outcome::fail, e);
    if (e == Errc::REBALANCE_IN_PROGRESS) net_.world().probe("consumer: commit refused locally, rebalancing");
    return done(e);
  }
  protocol::OffsetCommitRequest req;
  req.group_id = config_.group_id;
  req.generation_id = gen.id;
  req.member_id = gen.member_id;
  req.group_instance_id = subscriptions_.has_auto_assigned_partitions() ? config_.group_instance_id : std::nullopt;
  for (const auto& [tp, om] : offsets) req.partitions.push_back({tp, om.offset, om.leader_epoch, om.metadata});
  const uint32_t size = 64 + 24 * static_cast<uint32_t>(offsets.size());
  net_.send(coordinator_, "OffsetCommit", sim::make_payload(std::move(req)), size, config_.request_timeout_ms,
            [this, finish, done, gen](const sim::Reply& r) {
              if (r.status != sim::CallStatus::ok) {
                mark_coordinator_unknown("OffsetCommit: no answer");
                finish(check::Outcome::info, transport_error(r));
                return done(Errc::COORDINATOR_NOT_AVAILABLE);
              }
              Errc e = Errc::NONE;
              for (const auto& [tp, pe] : sim::payload_as<protocol::OffsetCommitResponse>(r.payload).partitions)
                if (pe != Errc::NONE) {
                  e = pe;
                  break;
                }
              const bool unknown = e == Errc::REQUEST_TIMED_OUT || e == Errc::UNKNOWN_SERVER_ERROR;
              finish(e == Errc::NONE ? check::Outcome::ok : unknown ? check::Outcome::info : check::Outcome::fail, e);
              switch (e) {
                case Errc::COORDINATOR_NOT_AVAILABLE:
                case Errc::NOT_COORDINATOR:
                case Errc::REQUEST_TIMED_OUT:
                  mark_coordinator_unknown("OffsetCommit: " + std::string(errc_name(e)));
                  break;
                case Errc::REBALANCE_IN_PROGRESS:
                  request_rejoin("offset commit failed since group is already rebalancing");
                  break;
                case Errc::UNKNOWN_MEMBER_ID:
                case Errc::ILLEGAL_GENERATION:
                  // group.protocol=consumer: the commit fails, nothing else —
                  // membership is the ConsumerGroupHeartbeat's to lose (Java's
                  // CommitRequestManager; the member id is the client's own).
                  if (config_.consumer_protocol) break;
                  if (gen.id >= 0 && generation_ == gen)
                    reset_state_and_rejoin("OffsetCommit: " + std::string(errc_name(e)), e != Errc::ILLEGAL_GENERATION);
                  break;
                case Errc::FENCED_INSTANCE_ID:
                  fatal_ = e;
                  fatal_message_ = "OffsetCommit: this static member was fenced";
                  break;
                default:
                  break;
              }
              done(e);
            });
}

void ConsumerCoordinator::do_commit_async(PendingAsync p) {
  ++pending_async_commits_;
  auto offsets = std::make_shared<OffsetMap>(p.offsets);
  send_offset_commit(p.offsets, p.detail, [this, offsets, cb = std::move(p.cb)](Errc e) mutable {
    --pending_async_commits_;
    completed_commits_.push_back({std::move(cb), std::move(*offsets), e});
  });
}

void ConsumerCoordinator::commit_async(const OffsetMap& offsets, CommitCallback cb) {
  invoke_completed_offset_commit_callbacks();
  if (offsets.empty()) {
    completed_commits_.push_back({std::move(cb), offsets, Errc::NONE});
    return;
  }
  if (coordinator_ >= 0) return do_commit_async({offsets, std::move(cb), "async"});
  // Sent (in order) once the coordinator is found, or failed if it is not.
  ++pending_async_commits_;
  awaiting_coordinator_.push_back({offsets, std::move(cb), "async"});
  lookup_coordinator();
  if (!find_in_flight_) {
    // The lookup is backing off: fail now rather than queue forever.
    std::vector<PendingAsync> waiting;
    waiting.swap(awaiting_coordinator_);
    for (PendingAsync& p : waiting) {
      --pending_async_commits_;
      completed_commits_.push_back({std::move(p.cb), std::move(p.offsets), Errc::COORDINATOR_NOT_AVAILABLE});
    }
  }
}

void ConsumerCoordinator::maybe_auto_commit_async() {
  if (!config_.auto_commit || net_.now() < next_auto_commit_) return;
  next_auto_commit_ = net_.now() + sim::milliseconds(config_.auto_commit_interval_ms);
  OffsetMap offsets;
  for (const auto& [tp, pos] : subscriptions_.all_consumed()) offsets[tp] = {pos.offset, pos.offset_epoch, ""};
  if (offsets.empty()) return;
  if (coordinator_ < 0) {
    lookup_coordinator();
    next_auto_commit_ = net_.now() + sim::milliseconds(config_.retry_backoff_ms);
    return;
  }
  do_commit_async({offsets,
                   [this](const OffsetMap&, Errc e) {
                     // A retriable failure retries soon (Java: after retry.backoff.ms).
                     if (e != Errc::NONE && retriable(e))
                       next_auto_commit_ = net_.now() + sim::milliseconds(config_.retry_backoff_ms);
                   },
                   "auto"});
}

void ConsumerCoordinator::invoke_completed_offset_commit_callbacks() {
  while (!completed_commits_.empty()) {
    Completion c = std::move(completed_commits_.front());
    completed_commits_.pop_front();
    if (c.cb) c.cb(c.offsets, c.error);
  }
}

void ConsumerCoordinator::commit_sync(const OffsetMap& offsets, sim::Instant deadline) {
  commit_sync(offsets, deadline, "sync");
}

void ConsumerCoordinator::commit_sync(const OffsetMap& offsets, sim::Instant deadline, const std::string& detail) {
  invoke_completed_offset_commit_callbacks();
  if (offsets.empty()) return;
  for (;;) {
    if (!ensure_coordinator_ready(deadline)) break;
    auto result = std::make_shared<std::optional<Errc>>();
    send_offset_commit(offsets, detail, [result](Errc e) { *result = e; });
    net_.await([&] { return result->has_value(); }, deadline);
    invoke_completed_offset_commit_callbacks();
    if (!result->has_value()) break;
    const Errc e = **result;
    if (e == Errc::NONE) return;
    if (e == Errc::REBALANCE_IN_PROGRESS)
      throw KafkaException("RebalanceInProgressException", e,
                           "Offset commit cannot be completed since the consumer is undergoing a rebalance for auto "
                           "partition assignment. You can try completing the rebalance by calling poll() and then "
                           "retry the operation.");
    if (e == Errc::UNKNOWN_MEMBER_ID || e == Errc::ILLEGAL_GENERATION || e == Errc::STALE_MEMBER_EPOCH)
      throw KafkaException("CommitFailedException", e,
                           "Commit cannot be completed since the group has already rebalanced and assigned the "
                           "partitions to another member.");
    if (e == Errc::FENCED_INSTANCE_ID) throw_if_fatal();
    if (!retriable(e)) throw KafkaException("KafkaException", e, "Unexpected error in commit: " + std::string(errc_name(e)));
    const sim::Instant backoff = std::min(deadline, net_.now() + sim::milliseconds(config_.retry_backoff_ms));
    net_.await([] { return false; }, backoff);
    if (net_.now() >= deadline) break;
  }
  throw KafkaException("TimeoutException", Errc::REQUEST_TIMED_OUT,
                       "Timeout of the commit expired before successfully committing offsets");
}

// ---- committed offsets --------------------------------------------------------------------------------

std::optional<OffsetMap> ConsumerCoordinator::fetch_committed_offsets(const std::set<TopicPartition>& tps,
                                                                      sim::Instant deadline) {
  if (tps.empty()) return OffsetMap{};
  for (;;) {
    if (!ensure_coordinator_ready(deadline)) return std::nullopt;
    if (!pending_committed_ || pending_committed_->partitions != tps || pending_committed_->generation != generation_.id) {
      auto p = std::make_shared<CommittedFetch>();
      p->partitions = tps;
      p->generation = generation_.id;
      pending_committed_ = p;
      protocol::OffsetFetchRequest req;
      req.group_id = config_.group_id;
      req.partitions = std::vector<TopicPartition>(tps.begin(), tps.end());
      req.require_stable = true;
      net_.send(coordinator_, "OffsetFetch", sim::make_payload(std::move(req)), 64, config_.request_timeout_ms,
                [this, p](const sim::Reply& r) {
                  p->done = true;
                  if (r.status != sim::CallStatus::ok) {
                    mark_coordinator_unknown("OffsetFetch: no answer");
                    p->error = Errc::COORDINATOR_NOT_AVAILABLE;
                    return;
                  }
                  const auto& resp = sim::payload_as<protocol::OffsetFetchResponse>(r.payload);
                  p->error = resp.error;
                  for (const auto& part : resp.partitions) {
                    if (part.error != Errc::NONE) {
                      if (p->error == Errc::NONE) p->error = part.error;
                      continue;
                    }
                    if (part.committed_offset.value >= 0)
                      p->offsets[part.tp] = {part.committed_offset, part.committed_leader_epoch, part.metadata};
                  }
                  if (is_coordinator_error(p->error)) mark_coordinator_unknown("OffsetFetch: coordinator moved");
                });
    }
    const std::shared_ptr<CommittedFetch> p = pending_committed_;
    net_.await([&] { return p->done; }, deadline);
    if (!p->done) return std::nullopt;  // stays pending for the next call
    pending_committed_.reset();
    if (p->error == Errc::NONE) return p->offsets;
    if (!retriable(p->error) && p->error != Errc::UNSTABLE_OFFSET_COMMIT)
      throw KafkaException("KafkaException", p->error, "OffsetFetch failed: " + std::string(errc_name(p->error)));
    const sim::Instant backoff = std::min(deadline, net_.now() + sim::milliseconds(config_.retry_backoff_ms));
    net_.await([] { return false; }, backoff);
    if (net_.now() >= deadline) return std::nullopt;
  }
}

bool ConsumerCoordinator::refresh_committed_offsets_if_needed(sim::Instant deadline) {
  const std::vector<TopicPartition> init = subscriptions_.initializing_partitions();
  if (init.empty()) return true;
  const std::optional<OffsetMap> committed = fetch_committed_offsets({init.begin(), init.end()}, deadline);
  if (!committed) return false;
  std::map<TopicPartition, FetchPosition> seeks;
  for (const auto& [tp, om] : *committed) {
    const PartitionState* st = subscriptions_.state(tp);
    if (st && st->state == FetchState::initializing) seeks[tp] = {om.offset, om.leader_epoch};
  }
  if (!seeks.empty()) subscriptions_.seek_all(seeks, "committed");
  return true;
}

}  // namespace ksim::clients
