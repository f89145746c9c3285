// ConsumerCoordinator, its group.protocol=consumer half (KIP-848; Java's
// ConsumerMembershipManager + ConsumerHeartbeatRequestManager, folded into
// the existing coordinator so discovery, commits, the listener and the
// history are shared with the classic protocol).
//
// The heartbeat fiber sends ConsumerGroupHeartbeat every heartbeat interval
// the coordinator gives (group.consumer.heartbeat.interval.ms): epoch 0 joins
// (with the subscription and the rebalance timeout), a positive epoch
// heartbeats with the owned partitions, -1 leaves, -2 leaves a static member.
// Each answer carries the member's epoch and its assignment. poll()
// reconciles: partitions to give up are committed (auto-commit), revoked
// (onPartitionsRevoked, a revoke op), then the new ones assigned
// (onPartitionsAssigned, an assign op with generation = the member epoch),
// and a heartbeat acknowledges at once. FENCED_MEMBER_EPOCH /
// UNKNOWN_MEMBER_ID: everything owned is lost (onPartitionsLost), and the
// member rejoins with epoch 0 and the same member id.
#include <algorithm>

#include "engine/clients/consumer_coordinator.h"
#include "sim/error.h"

namespace ksim::clients {
namespace {

constexpr int32_t kLeaveEpoch = -1;
constexpr int32_t kLeaveStaticEpoch = -2;

}  // namespace

ConsumerCoordinator::CgSubscription ConsumerCoordinator::cg_subscription() const {
  if (subscriptions_.server_side_pattern()) return {{}, subscriptions_.pattern()};
  return {subscriptions_.subscription(), std::nullopt};
}

bool ConsumerCoordinator::cg_poll(sim::Instant deadline) {
  throw_if_fatal();
  cg_subscribed_ = true;
  if (cg_fenced_) {
    // Kicked out: what we hold is lost (not revoked: no commit), then rejoin.
    const std::vector<TopicPartition> owned = subscriptions_.assigned_partitions();
    if (!owned.empty()) {
      invoke_revoked(owned, "lost", generation_.id);
      subscriptions_.assign_from_subscribed({});
      fetcher_.clear_buffered_data_for_unassigned_partitions();
    }
    cg_fenced_ = false;
    cg_assignment_.reset();
    cg_revoke_commit_.reset();
    cg_recorded_epoch_ = -1;
    generation_.id = 0;
    next_heartbeat_ = net_.now();
    net_.wakeup();
  }
  if (cg_assignment_) cg_reconcile(deadline);
  if (!cg_sent_subscription_ || *cg_sent_subscription_ != cg_subscription()) {
    next_heartbeat_ = net_.now();  // a new subscription is sent at once
    net_.wakeup();
  }
  return true;
}

void ConsumerCoordinator::cg_reconcile(sim::Instant deadline) {
  std::vector<TopicPartition> target = *cg_assignment_;
  std::sort(target.begin(), target.end());
  if (subscriptions_.server_side_pattern()) {
    // The coordinator resolved our pattern: the assigned topics are what we
    // need metadata (leaders) for (Java's groupSubscribe).
    std::set<std::string> topics;
    for (const TopicPartition& tp : target) topics.insert(tp.topic);
    for (const std::string& t : topics) metadata_.add_topic(t);
    subscriptions_.set_group_subscription(std::move(topics));
  }
  const std::vector<TopicPartition> owned = subscriptions_.assigned_partitions();
  const std::vector<TopicPartition> revoked = minus(owned, target);
  const std::vector<TopicPartition> added = minus(target, owned);
  // A new member epoch is recorded even when nothing is added (an assign op
  // of the whole assignment): the checkers tie a member's polls to the epoch
  // of its last assignment.
  if (revoked.empty() && added.empty() && generation_.id == cg_recorded_epoch_) return;
  if (!revoked.empty()) {
    // Commit before revoke (auto-commit), as the classic eager path does.
    if (config_.auto_commit && !cg_revoke_commit_) {
      OffsetMap offsets;
      for (const auto& [tp, pos] : subscriptions_.all_consumed())
        if (std::find(revoked.begin(), revoked.end(), tp) != revoked.end())
          offsets[tp] = {pos.offset, pos.offset_epoch, ""};
      if (!offsets.empty()) {
        subscriptions_.mark_pending_revocation(revoked);
        cg_revoke_commit_ = std::make_shared<std::optional<Errc>>();
        send_offset_commit(offsets, "auto", [result = cg_revoke_commit_](Errc e) { *result = e; });
      }
    }
    if (cg_revoke_commit_) {
      // ONE commit per revocation, however often poll() comes back before
      // its answer (poll(0) loops would otherwise send a new one each time
      // and never revoke: the member stuck in UNREVOKED_PARTITIONS).
      const auto result = cg_revoke_commit_;
      net_.await([&] { return result->has_value(); },
                 std::min(deadline, net_.now() + sim::milliseconds(config_.request_timeout_ms)));
      if (!result->has_value()) return;  // the next poll() waits on
      cg_revoke_commit_.reset();
    }
    net_.world().probe("consumer: KIP-848 revoking partitions");
    invoke_revoked(revoked, "revoked", generation_.id);
    subscriptions_.assign_from_subscribed(minus(owned, revoked));
  }
  if (!added.empty()) {
    if (config_.auto_commit) next_auto_commit_ = net_.now() + sim::milliseconds(config_.auto_commit_interval_ms);
    subscriptions_.assign_from_subscribed(target);
  }
  fetcher_.clear_buffered_data_for_unassigned_partitions();
  if (!added.empty() || generation_.id != cg_recorded_epoch_) invoke_assigned(added, target);
  cg_recorded_epoch_ = generation_.id;
  // Acknowledge at once: the coordinator moves us on only once it knows.
  next_heartbeat_ = net_.now();
  net_.wakeup();
}

void ConsumerCoordinator::cg_heartbeat_loop() {
  sim::CondVar& cv = net_.cv();
  for (;;) {
    if (closed_) return;
    const uint64_t seen = net_.events();
    auto changed = [&] { return closed_ || net_.events() != seen; };
    // Joins once subscribed (first poll), and not while a fence is being handled by poll().
    if (!cg_subscribed_ || !subscriptions_.has_auto_assigned_partitions() || cg_fenced_) {
      cv.wait(changed);
      continue;
    }
    const sim::Instant now = net_.now();
    if (coordinator_ < 0) {
      lookup_coordinator();
      cv.wait_for(sim::milliseconds(config_.retry_backoff_ms), changed);
    } else if (heartbeat_in_flight_ || now < next_heartbeat_) {
      if (heartbeat_in_flight_)
        cv.wait(changed);
      else
        cv.wait_for(next_heartbeat_ - now, changed);
    } else {
      cg_send_heartbeat();
    }
  }
}

void ConsumerCoordinator::cg_send_heartbeat() {
  heartbeat_in_flight_ = true;
  next_heartbeat_ = net_.now() + sim::milliseconds(cg_heartbeat_interval_ms_);
  protocol::ConsumerGroupHeartbeatRequest req;
  req.group_id = config_.group_id;
  req.member_id = generation_.member_id;
  req.member_epoch = generation_.id;
  req.instance_id = config_.group_instance_id;
  const CgSubscription subscription = cg_subscription();
  if (generation_.id == 0 || !cg_sent_subscription_ || *cg_sent_subscription_ != subscription) {
    if (subscription.regex)
      req.subscribed_topic_regex = subscription.regex;  // KIP-848: resolved by the coordinator
    else
      req.subscribed_topic_names = std::vector<std::string>(subscription.topics.begin(), subscription.topics.end());
    req.rebalance_timeout_ms = config_.rebalance_timeout_ms;
    req.server_assignor = config_.remote_assignor;
  }
  req.topic_partitions = generation_.id == 0 ? std::vector<TopicPartition>{} : subscriptions_.assigned_partitions();
  const int32_t sent_epoch = generation_.id;
  const CgSubscription sent_topics = subscription;
  const bool sent_subscription = req.subscribed_topic_names.has_value() || req.subscribed_topic_regex.has_value();
  net_.send(coordinator_, "ConsumerGroupHeartbeat", sim::make_payload(std::move(req)), 128, config_.request_timeout_ms,
            [this, sent_epoch, sent_topics, sent_subscription](const sim::Reply& r) {
              heartbeat_in_flight_ = false;
              const sim::Instant now = net_.now();
              auto retry = [&] { next_heartbeat_ = now + sim::milliseconds(config_.retry_backoff_ms); };
              if (r.status != sim::CallStatus::ok) {
                mark_coordinator_unknown("ConsumerGroupHeartbeat: no answer");
                return retry();
              }
              const auto& resp = sim::payload_as<protocol::ConsumerGroupHeartbeatResponse>(r.payload);
              if (closed_ || generation_.id != sent_epoch || cg_fenced_) return;  // moved on meanwhile
              switch (resp.error) {
                case Errc::NONE:
                  if (sent_subscription) cg_sent_subscription_ = sent_topics;
                  if (resp.heartbeat_interval_ms > 0) cg_heartbeat_interval_ms_ = resp.heartbeat_interval_ms;
                  next_heartbeat_ = now + sim::milliseconds(cg_heartbeat_interval_ms_);
                  generation_.id = resp.member_epoch;
                  state_ = MemberState::stable;
                  if (resp.assignment) cg_assignment_ = *resp.assignment;
                  net_.wakeup();
                  return;
                case Errc::FENCED_MEMBER_EPOCH:
                case Errc::UNKNOWN_MEMBER_ID:
                  net_.world().probe("consumer: KIP-848 member fenced, rejoining with epoch 0");
                  cg_fenced_ = true;
                  cg_sent_subscription_.reset();
                  state_ = MemberState::unjoined;
                  net_.wakeup();
                  return;
                case Errc::COORDINATOR_NOT_AVAILABLE:
                case Errc::NOT_COORDINATOR:
                  mark_coordinator_unknown("ConsumerGroupHeartbeat: " + std::string(errc_name(resp.error)));
                  return retry();
                case Errc::INVALID_REGULAR_EXPRESSION:  // the coordinator could not compile our pattern
                case Errc::UNRELEASED_INSTANCE_ID:
                case Errc::UNSUPPORTED_ASSIGNOR:
                case Errc::GROUP_ID_NOT_FOUND:
                case Errc::INVALID_REQUEST:
                case Errc::FENCED_INSTANCE_ID:
                  fatal_ = resp.error;
                  fatal_message_ = "ConsumerGroupHeartbeat failed: " + std::string(errc_name(resp.error)) +
                                   (resp.error_message.empty() ? "" : ": " + resp.error_message);
                  net_.wakeup();
                  return;
                default:
                  return retry();  // COORDINATOR_LOAD_IN_PROGRESS, ...
              }
            });
}

void ConsumerCoordinator::cg_leave() {
  // Leaves (epoch -1; -2 for a static member, whose assignment the
  // coordinator keeps for its replacement). Fire and forget, as Java's close.
  if (coordinator_ >= 0 && generation_.id > 0) {
    protocol::ConsumerGroupHeartbeatRequest req;
    req.group_id = config_.group_id;
    req.member_id = generation_.member_id;
    req.member_epoch = config_.group_instance_id ? kLeaveStaticEpoch : kLeaveEpoch;
    req.instance_id = config_.group_instance_id;
    net_.send(coordinator_, "ConsumerGroupHeartbeat", sim::make_payload(std::move(req)), 64,
              config_.request_timeout_ms, [](const sim::Reply&) {});
  }
  generation_.id = 0;
  cg_assignment_.reset();
  cg_sent_subscription_.reset();
  cg_subscribed_ = false;
  state_ = MemberState::unjoined;
}

}  // namespace ksim::clients
