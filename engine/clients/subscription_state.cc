#include "engine/clients/subscription_state.h"

#include "engine/clients/consumer_api.h"
#include "sim/error.h"

namespace ksim::clients {

const char* reset_strategy_name(OffsetResetStrategy s) {
  switch (s) {
    case OffsetResetStrategy::earliest: return "earliest";
    case OffsetResetStrategy::latest: return "latest";
    default: return "none";
  }
}

check::OpSpec ConsumerRecorder::op(check::OpType type) const {
  check::OpSpec o;
  o.type = type;
  o.client = ctx->client_id();
  o.client_name = ctx->name;
  o.group_id = group_id;
  o.read_committed = read_committed;
  o.group_instance_id = group_instance_id;
  return o;
}

void ConsumerRecorder::record(const check::OpSpec& op) const {
  if (enabled()) ctx->history->record(op, ctx->world->now().ns);
}

namespace {
void illegal_mix() {
  throw KafkaException("IllegalStateException", Errc::INVALID_REQUEST,
                       "Subscription to topics, partitions and pattern are mutually exclusive");
}
}  // namespace

bool SubscriptionState::subscribe(const std::vector<std::string>& topics) {
  if (type_ != Type::none && type_ != Type::auto_topics) illegal_mix();
  type_ = Type::auto_topics;
  std::set<std::string> next(topics.begin(), topics.end());
  const bool changed = next != subscription_;
  subscription_ = std::move(next);
  return changed;
}

void SubscriptionState::subscribe_pattern(const std::string& pattern, bool server_side) {
  if (type_ != Type::none && type_ != Type::auto_pattern) illegal_mix();
  type_ = Type::auto_pattern;
  pattern_ = pattern;
  if (server_side) {
    regex_.reset();
    subscription_.clear();  // until the coordinator assigns
  } else {
    regex_.emplace(pattern, std::regex::ECMAScript);
  }
}

void SubscriptionState::set_group_subscription(std::set<std::string> topics) {
  SIM_ASSERT(server_side_pattern(), "set_group_subscription without a server-side pattern");
  subscription_ = std::move(topics);
}

bool SubscriptionState::update_pattern_subscription(const std::vector<std::string>& cluster_topics) {
  if (type_ != Type::auto_pattern || !regex_) return false;
  std::set<std::string> next;
  for (const std::string& t : cluster_topics)
    if (!t.starts_with("__") && std::regex_match(t, *regex_)) next.insert(t);
  const bool changed = next != subscription_;
  subscription_ = std::move(next);
  return changed;
}

std::vector<TopicPartition> SubscriptionState::assign_from_user(const std::vector<TopicPartition>& partitions) {
  if (type_ != Type::none && type_ != Type::user_assigned) illegal_mix();
  type_ = Type::user_assigned;
  std::vector<TopicPartition> removed;
  std::map<TopicPartition, PartitionState> next;
  for (const TopicPartition& tp : partitions) {
    auto it = assignment_.find(tp);
    next[tp] = it == assignment_.end() ? PartitionState{} : it->second;
  }
  for (const auto& [tp, st] : assignment_)
    if (!next.count(tp)) removed.push_back(tp);
  assignment_ = std::move(next);
  subscription_.clear();
  for (const auto& [tp, st] : assignment_) subscription_.insert(tp.topic);
  return removed;
}

void SubscriptionState::unsubscribe() {
  type_ = Type::none;
  subscription_.clear();
  pattern_.reset();
  regex_.reset();
  assignment_.clear();
}

void SubscriptionState::assign_from_subscribed(const std::vector<TopicPartition>& partitions) {
  SIM_ASSERT(has_auto_assigned_partitions(), "assign_from_subscribed without a subscription");
  std::map<TopicPartition, PartitionState> next;
  for (const TopicPartition& tp : partitions) {
    auto it = assignment_.find(tp);
    next[tp] = it == assignment_.end() ? PartitionState{} : it->second;
  }
  assignment_ = std::move(next);
}

bool SubscriptionState::assignment_matches_subscription(const std::vector<TopicPartition>& partitions) const {
  for (const TopicPartition& tp : partitions)
    if (!subscription_.count(tp.topic)) return false;
  return true;
}

std::vector<TopicPartition> SubscriptionState::assigned_partitions() const {
  std::vector<TopicPartition> out;
  for (const auto& [tp, st] : assignment_) out.push_back(tp);
  return out;
}

PartitionState* SubscriptionState::state(const TopicPartition& tp) {
  auto it = assignment_.find(tp);
  return it == assignment_.end() ? nullptr : &it->second;
}

const PartitionState* SubscriptionState::state(const TopicPartition& tp) const {
  auto it = assignment_.find(tp);
  return it == assignment_.end() ? nullptr : &it->second;
}

void SubscriptionState::seek_all(const std::map<TopicPartition, FetchPosition>& positions, const std::string& reason) {
  check::OpSpec op = recorder_.op(check::OpType::seek);
  op.detail = reason;
  for (const auto& [tp, pos] : positions) {
    PartitionState* st = state(tp);
    if (!st) throw KafkaException("IllegalStateException", Errc::INVALID_REQUEST, "No current assignment for partition " + tp.str());
    SIM_ASSERT(pos.offset.value >= 0, "negative position for " + tp.str());
    st->position = pos;
    st->state = FetchState::fetching;
    st->reset_strategy = OffsetResetStrategy::none;
    st->reset_reason.clear();
    st->reset_in_flight = false;
    op.offsets.push_back({tp, pos.offset});
    op.tp = tp;
  }
  if (!op.offsets.empty()) recorder_.record(op);
}

void SubscriptionState::seek(const TopicPartition& tp, FetchPosition pos, const std::string& reason) {
  seek_all({{tp, pos}}, reason);
}

void SubscriptionState::advance(const TopicPartition& tp, FetchPosition pos) {
  PartitionState* st = state(tp);
  SIM_ASSERT(st && st->state == FetchState::fetching && st->position, "advance of a partition without a position");
  SIM_ASSERT(pos.offset >= st->position->offset, "consumption moved " + tp.str() + " backwards");
  st->position = pos;
}

void SubscriptionState::request_reset(const TopicPartition& tp, OffsetResetStrategy s, const std::string& reason) {
  PartitionState* st = state(tp);
  if (!st) throw KafkaException("IllegalStateException", Errc::INVALID_REQUEST, "No current assignment for partition " + tp.str());
  st->state = FetchState::awaiting_reset;
  st->reset_strategy = s;
  st->reset_reason = reason;
  st->reset_in_flight = false;
  st->next_reset_attempt = sim::Instant{0};
}

bool SubscriptionState::has_valid_position(const TopicPartition& tp) const {
  const PartitionState* st = state(tp);
  return st && st->state == FetchState::fetching && st->position.has_value();
}

bool SubscriptionState::fetchable(const PartitionState& st) {
  return st.state == FetchState::fetching && st.position && !st.paused && !st.pending_revocation;
}

bool SubscriptionState::is_fetchable(const TopicPartition& tp) const {
  const PartitionState* st = state(tp);
  return st && fetchable(*st);
}

bool SubscriptionState::has_all_fetch_positions() const {
  for (const auto& [tp, st] : assignment_)
    if (st.state != FetchState::fetching) return false;
  return true;
}

std::vector<TopicPartition> SubscriptionState::initializing_partitions() const {
  std::vector<TopicPartition> out;
  for (const auto& [tp, st] : assignment_)
    if (st.state == FetchState::initializing) out.push_back(tp);
  return out;
}

void SubscriptionState::reset_initializing_positions() {
  std::vector<TopicPartition> missing;
  for (auto& [tp, st] : assignment_) {
    if (st.state != FetchState::initializing) continue;
    if (default_reset_ == OffsetResetStrategy::none) {
      missing.push_back(tp);
      continue;
    }
    st.state = FetchState::awaiting_reset;
    st.reset_strategy = default_reset_;
    st.reset_reason = std::string("reset:") + reset_strategy_name(default_reset_);
    st.next_reset_attempt = sim::Instant{0};
  }
  if (!missing.empty()) {
    std::string s;
    for (const auto& tp : missing) s += (s.empty() ? "" : ", ") + tp.str();
    throw KafkaException("NoOffsetForPartitionException", Errc::OFFSET_OUT_OF_RANGE,
                         "Undefined offset with no reset policy for partitions: " + s);
  }
}

std::vector<TopicPartition> SubscriptionState::partitions_needing_reset(sim::Instant now) const {
  std::vector<TopicPartition> out;
  for (const auto& [tp, st] : assignment_)
    if (st.state == FetchState::awaiting_reset && !st.reset_in_flight && st.next_reset_attempt <= now) out.push_back(tp);
  return out;
}

std::map<TopicPartition, FetchPosition> SubscriptionState::all_consumed() const {
  std::map<TopicPartition, FetchPosition> out;
  for (const auto& [tp, st] : assignment_)
    if (st.state == FetchState::fetching && st.position) out[tp] = *st.position;
  return out;
}

void SubscriptionState::mark_pending_revocation(const std::vector<TopicPartition>& tps) {
  for (const TopicPartition& tp : tps)
    if (PartitionState* st = state(tp)) st->pending_revocation = true;
}

void SubscriptionState::pause(const std::vector<TopicPartition>& tps, bool paused) {
  for (const TopicPartition& tp : tps) {
    PartitionState* st = state(tp);
    if (!st) throw KafkaException("IllegalStateException", Errc::INVALID_REQUEST, "No current assignment for partition " + tp.str());
    st->paused = paused;
  }
}

}  // namespace ksim::clients
