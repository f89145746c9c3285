#include "engine/clients/kafka_consumer.h"

#include <algorithm>

#include "sim/error.h"

namespace ksim::clients {
namespace {

OffsetResetStrategy reset_of(const Config& c) {
  const std::string s = c.get_string("auto.offset.reset");
  if (s == "earliest") return OffsetResetStrategy::earliest;
  if (s == "latest") return OffsetResetStrategy::latest;
  return OffsetResetStrategy::none;
}

FetchConfig fetch_config_of(const Config& c) {
  FetchConfig f;
  f.min_bytes = c.get_int("fetch.min.bytes");
  f.max_bytes = c.get_int("fetch.max.bytes");
  f.max_wait_ms = c.get_int("fetch.max.wait.ms");
  f.partition_max_bytes = c.get_int("max.partition.fetch.bytes");
  f.max_poll_records = c.get_int("max.poll.records");
  f.isolation = c.get_string("isolation.level") == "read_committed" ? protocol::IsolationLevel::read_committed
                                                                      : protocol::IsolationLevel::read_uncommitted;
  f.request_timeout_ms = c.get_int("request.timeout.ms");
  f.retry_backoff_ms = c.get_long("retry.backoff.ms");
  f.metrics_window = SampledStatConfig{c.get_int("metrics.num.samples"), c.get_long("metrics.sample.window.ms")};
  return f;
}

CoordinatorConfig coordinator_config_of(const Config& c) {
  CoordinatorConfig k;
  k.group_id = c.get_string("group.id");
  if (!c.is_null("group.instance.id")) k.group_instance_id = c.get_string("group.instance.id");
  k.session_timeout_ms = c.get_int("session.timeout.ms");
  k.rebalance_timeout_ms = c.get_int("max.poll.interval.ms");
  k.heartbeat_interval_ms = c.get_int("heartbeat.interval.ms");
  k.request_timeout_ms = c.get_int("request.timeout.ms");
  k.retry_backoff_ms = c.get_long("retry.backoff.ms");
  k.auto_commit = c.get_bool("enable.auto.commit");
  k.auto_commit_interval_ms = c.get_int("auto.commit.interval.ms");
  k.assignors = c.get_list("partition.assignment.strategy");
  k.consumer_protocol = c.get_string("group.protocol") == "consumer";
  if (!c.is_null("group.remote.assignor")) k.remote_assignor = c.get_string("group.remote.assignor");
  return k;
}

bool has_interest(const ClientMetadata& m, const SubscriptionState& s) {
  return !m.topics().empty() || (s.type() == SubscriptionState::Type::auto_pattern && !s.server_side_pattern());
}

[[noreturn]] void illegal_state(const std::string& msg) {
  throw KafkaException("IllegalStateException", Errc::INVALID_REQUEST, msg);
}
[[noreturn]] void illegal_argument(const std::string& msg) {
  throw KafkaException("IllegalArgumentException", Errc::INVALID_REQUEST, msg);
}

}  // namespace

KafkaConsumer::KafkaConsumer(const ClientContext& ctx, const Config::Map& config)
    : KafkaConsumer(ctx, Config::parse(kConsumer, config)) {}

KafkaConsumer::KafkaConsumer(const ClientContext& ctx, Config config)
    : config_(std::move(config)),
      net_(ctx),
      metadata_(ctx, config_.get_long("metadata.max.age.ms"), config_.get_int("request.timeout.ms")),
      recorder_{&net_.ctx(), config_.is_null("group.id") ? std::string() : config_.get_string("group.id"),
                config_.get_string("isolation.level") == "read_committed",
                config_.is_null("group.instance.id") ? std::string() : config_.get_string("group.instance.id")},
      subscriptions_(reset_of(config_), recorder_),
      fetcher_(net_, metadata_, subscriptions_, fetch_config_of(config_)),
      default_api_timeout_ms_(config_.get_int("default.api.timeout.ms")),
      retry_backoff_ms_(config_.get_long("retry.backoff.ms")) {
  net_.set_reconnect_backoff_ms(config_.get_long("reconnect.backoff.ms"));
  metadata_.set_allow_auto_topic_creation(config_.get_bool("allow.auto.create.topics"));
  if (!config_.is_null("group.id")) {
    if (config_.get_int("heartbeat.interval.ms") >= config_.get_int("session.timeout.ms"))
      throw ConfigError("heartbeat.interval.ms", "Heartbeat must be set lower than the session timeout");
    coordinator_ = std::make_unique<ConsumerCoordinator>(net_, metadata_, subscriptions_, fetcher_,
                                                         coordinator_config_of(config_), recorder_);
    coordinator_->start();
  }
  net_.world().spawn(net_.ctx().self, "consumer-metadata", [this] { metadata_loop(); });
}

KafkaConsumer::~KafkaConsumer() = default;

// ---- helpers -------------------------------------------------------------------------------------

void KafkaConsumer::ensure_open() const {
  if (closed_) illegal_state("This consumer has already been closed.");
  if (!net_.alive()) illegal_state("The consumer's client node is down (crashed); a restart builds a new consumer.");
}

void KafkaConsumer::ensure_group(const char* what) const {
  if (!coordinator_)
    throw KafkaException("InvalidGroupIdException", Errc::INVALID_CONFIG,
                         std::string("To use the group management or offset commit APIs (") + what +
                             "), you must provide a valid group.id in the consumer configuration.");
}

sim::Instant KafkaConsumer::deadline_for(int64_t timeout_ms) const {
  return net_.now() + sim::milliseconds(timeout_ms < 0 ? default_api_timeout_ms_ : timeout_ms);
}

void KafkaConsumer::track_topics() {
  if (subscriptions_.type() == SubscriptionState::Type::auto_pattern && !subscriptions_.server_side_pattern())
    metadata_.set_all_topics(true);
  for (const std::string& t : subscriptions_.subscription()) metadata_.add_topic(t);
  net_.wakeup();
}

void KafkaConsumer::metadata_loop() {
  sim::World& w = net_.world();
  sim::CondVar& cv = net_.cv();
  const int64_t max_age_ms = config_.get_long("metadata.max.age.ms");
  for (;;) {
    if (stop_fibers_) return;
    if (metadata_.update_requested() && has_interest(metadata_, subscriptions_)) {
      metadata_.refresh();  // false (no broker answered): retried after the backoff below
      if (subscriptions_.type() == SubscriptionState::Type::auto_pattern &&
          subscriptions_.update_pattern_subscription(metadata_.all_topics()))
        for (const std::string& t : subscriptions_.subscription()) metadata_.add_topic(t);
      net_.wakeup();
      // Java's refresh backoff: never two refreshes closer than retry.backoff.ms.
      w.sleep_for(sim::milliseconds(retry_backoff_ms_));
      continue;
    }
    const bool woke = cv.wait_for(sim::milliseconds(max_age_ms), [&] {
      return stop_fibers_ || (metadata_.update_requested() && has_interest(metadata_, subscriptions_));
    });
    if (!woke) metadata_.request_update();  // metadata.max.age.ms
  }
}

void KafkaConsumer::record_assignment(check::OpType type, const std::vector<TopicPartition>& tps,
                                      const std::string& detail) {
  if (tps.empty() && type == check::OpType::revoke) return;
  check::OpSpec op = recorder_.op(type);
  for (const TopicPartition& tp : tps) op.offsets.push_back({tp, kNoOffset});
  op.detail = detail;
  recorder_.record(op);
}

std::optional<MemberState> KafkaConsumer::member_state() const {
  if (!coordinator_) return std::nullopt;
  return coordinator_->state();
}

std::optional<RebalanceProtocol> KafkaConsumer::rebalance_protocol() const {
  if (!coordinator_) return std::nullopt;
  return coordinator_->protocol();
}

std::optional<int64_t> KafkaConsumer::lag(const TopicPartition& tp) const {
  const PartitionState* st = subscriptions_.state(tp);
  if (!st || !st->position || st->high_watermark.value < 0) return std::nullopt;
  return st->high_watermark - st->position->offset;
}

std::set<std::string> KafkaConsumer::subscription() const {
  if (!subscriptions_.has_auto_assigned_partitions()) return {};
  return subscriptions_.subscription();
}

// ---- subscriptions ------------------------------------------------------------------------------------

void KafkaConsumer::subscribe(const std::vector<std::string>& topics, RebalanceListener listener) {
  ensure_open();
  ensure_group("subscribe");
  if (topics.empty()) return unsubscribe();
  for (const std::string& t : topics)
    if (t.empty()) illegal_argument("Topic collection to subscribe to cannot contain null or empty topic");
  subscriptions_.subscribe(topics);
  coordinator_->set_listener(std::move(listener));
  track_topics();
}

void KafkaConsumer::subscribe_pattern(const std::string& regex, RebalanceListener listener) {
  ensure_open();
  ensure_group("subscribe");
  if (regex.empty()) illegal_argument("Topic pattern to subscribe to cannot be empty");
  // group.protocol=consumer: the coordinator resolves the pattern (KIP-848's
  // SubscribedTopicRegex, as librdkafka sends a '^' topic); classic: matched here.
  const bool server_side = config_.get_string("group.protocol") == "consumer";
  subscriptions_.subscribe_pattern(regex, server_side);
  subscriptions_.update_pattern_subscription(metadata_.all_topics());
  coordinator_->set_listener(std::move(listener));
  track_topics();
}

void KafkaConsumer::assign(const std::vector<TopicPartition>& partitions) {
  ensure_open();
  if (partitions.empty()) return unsubscribe();
  for (const TopicPartition& tp : partitions)
    if (tp.topic.empty()) illegal_argument("Topic partitions to assign to cannot have null or empty topic");
  if (subscriptions_.has_auto_assigned_partitions())
    illegal_state("Subscription to topics, partitions and pattern are mutually exclusive");
  // Commit what we consumed of partitions we are about to drop: no rebalance follows.
  if (coordinator_) coordinator_->maybe_auto_commit_async();
  const std::vector<TopicPartition> removed = subscriptions_.assign_from_user(partitions);
  fetcher_.clear_buffered_data_for_unassigned_partitions();
  record_assignment(check::OpType::revoke, removed, "unassigned");
  record_assignment(check::OpType::assign, subscriptions_.assigned_partitions(), "assign");
  track_topics();
}

void KafkaConsumer::unsubscribe() {
  ensure_open();
  if (coordinator_) {
    coordinator_->on_leave_prepare();
    coordinator_->maybe_leave_group("the consumer unsubscribed from all topics");
  }
  if (subscriptions_.type() == SubscriptionState::Type::user_assigned)
    record_assignment(check::OpType::revoke, subscriptions_.assigned_partitions(), "unsubscribed");
  subscriptions_.unsubscribe();
  metadata_.set_all_topics(false);
  fetcher_.clear_buffered_data_for_unassigned_partitions();
}

// ---- poll ----------------------------------------------------------------------------------------------

bool KafkaConsumer::update_assignment_metadata_if_needed(sim::Instant deadline) {
  if (coordinator_ && !coordinator_->poll(deadline)) return false;
  return update_fetch_positions(deadline);
}

bool KafkaConsumer::update_fetch_positions(sim::Instant deadline) {
  if (subscriptions_.has_all_fetch_positions()) return true;
  if (coordinator_ && !coordinator_->refresh_committed_offsets_if_needed(deadline)) return false;
  subscriptions_.reset_initializing_positions();  // NoOffsetForPartitionException with auto.offset.reset=none
  fetcher_.reset_positions_if_needed();
  return true;
}

std::vector<ConsumerRecord> KafkaConsumer::poll_for_fetches(sim::Instant deadline, int32_t max_records) {
  const sim::Instant now = net_.now();
  sim::Instant until = deadline;
  if (coordinator_) {
    const sim::Instant next = coordinator_->next_poll_deadline();
    if (next > now) until = std::min(until, next);
  }
  std::vector<ConsumerRecord> out = fetcher_.collect_fetch(max_records);
  if (!out.empty()) return out;
  fetcher_.send_fetches();
  // A leader in reconnect backoff: come back when it may be fetched from again.
  until = std::min(until, fetcher_.next_fetch_attempt());
  // Missing positions are being looked up: come back soon to push them along.
  if (!subscriptions_.has_all_fetch_positions())
    until = std::min(until, now + sim::milliseconds(retry_backoff_ms_));
  net_.wakeup();  // let the metadata fiber see requests made in this step
  const uint64_t mine = net_.events();
  net_.await([&] { return fetcher_.has_available_fetches() || net_.events() != mine || !net_.alive(); }, until);
  if (!net_.alive()) return {};
  return fetcher_.collect_fetch(max_records);
}

std::vector<ConsumerRecord> KafkaConsumer::poll(int64_t timeout_ms, int32_t max_records) {
  ensure_open();
  if (timeout_ms < 0) illegal_argument("Timeout must not be negative");
  if (subscriptions_.type() == SubscriptionState::Type::none)
    illegal_state("Consumer is not subscribed to any topics or assigned any partitions");
  const sim::Instant deadline = net_.now() + sim::milliseconds(timeout_ms);
  check::History* h = recorder_.enabled() ? recorder_.ctx->history : nullptr;
  // The poll is recorded when it returns (with its invoke time): a rebalance
  // inside it records its revocations, assignments and position resets first,
  // so the history's order is the order of effects the checkers replay.
  const int64_t invoked_ns = net_.now().ns;
  try {
    std::vector<ConsumerRecord> out;
    do {
      update_assignment_metadata_if_needed(deadline);
      out = poll_for_fetches(deadline, max_records);
      if (!out.empty()) {
        fetcher_.send_fetches();  // prefetch: the next round is on its way while the app works
        break;
      }
    } while (net_.now() < deadline && net_.alive());
    if (h) {
      check::OpSpec op = recorder_.op(check::OpType::poll);
      op.generation = generation();
      const std::string member = member_id();
      op.member_id = member;
      op.records.reserve(out.size());
      for (const ConsumerRecord& r : out) {
        check::PolledSpec& p = op.records.emplace_back();  // in place: a stack-built copy stalled on every record
        p.tp = r.tp;
        p.offset = r.offset;
        if (r.key) p.key = *r.key;
        if (r.value) p.value = *r.value;
        p.leader_epoch = r.leader_epoch;
        p.high_watermark = r.high_watermark;
      }
      h->complete(h->invoke(op, invoked_ns), check::Outcome::ok, net_.now().ns);
    }
    return out;
  } catch (const KafkaException& e) {
    if (h) h->complete(h->invoke(recorder_.op(check::OpType::poll), invoked_ns), check::Outcome::fail, net_.now().ns,
                       e.error());
    throw;
  }
}

// ---- positions -------------------------------------------------------------------------------------------

Offset KafkaConsumer::position(const TopicPartition& tp, int64_t timeout_ms) {
  ensure_open();
  if (!subscriptions_.is_assigned(tp))
    illegal_state("You can only check the position for partitions assigned to this consumer.");
  const sim::Instant deadline = deadline_for(timeout_ms);
  do {
    if (subscriptions_.has_valid_position(tp)) return subscriptions_.state(tp)->position->offset;
    update_fetch_positions(deadline);
    if (subscriptions_.has_valid_position(tp)) return subscriptions_.state(tp)->position->offset;
    net_.wakeup();
    const uint64_t seen = net_.events();
    const sim::Instant until = std::min(deadline, net_.now() + sim::milliseconds(retry_backoff_ms_));
    net_.await([&] { return subscriptions_.has_valid_position(tp) || net_.events() != seen || !net_.alive(); }, until);
  } while (net_.now() < deadline && net_.alive());
  if (subscriptions_.has_valid_position(tp)) return subscriptions_.state(tp)->position->offset;
  throw KafkaException("TimeoutException", Errc::REQUEST_TIMED_OUT,
                       "Timeout expired before the position for partition " + tp.str() + " could be determined");
}

void KafkaConsumer::seek(const TopicPartition& tp, Offset offset) { seek(tp, OffsetAndMetadata{offset, kNoEpoch, ""}); }

void KafkaConsumer::seek(const TopicPartition& tp, const OffsetAndMetadata& offset) {
  ensure_open();
  if (offset.offset.value < 0) illegal_argument("seek offset must not be a negative number");
  subscriptions_.seek(tp, {offset.offset, offset.leader_epoch}, "seek");
}

void KafkaConsumer::seek_to_beginning(const std::vector<TopicPartition>& tps) {
  ensure_open();
  for (const TopicPartition& tp : tps.empty() ? subscriptions_.assigned_partitions() : tps)
    subscriptions_.request_reset(tp, OffsetResetStrategy::earliest, "seek_to_beginning");
}

void KafkaConsumer::seek_to_end(const std::vector<TopicPartition>& tps) {
  ensure_open();
  for (const TopicPartition& tp : tps.empty() ? subscriptions_.assigned_partitions() : tps)
    subscriptions_.request_reset(tp, OffsetResetStrategy::latest, "seek_to_end");
}

std::map<TopicPartition, std::optional<OffsetAndTimestamp>> KafkaConsumer::offsets_for_times(
    const std::map<TopicPartition, int64_t>& timestamps, int64_t timeout_ms) {
  ensure_open();
  for (const auto& [tp, ts] : timestamps)
    if (ts < 0) illegal_argument("The target time for partition " + tp.str() + " is " + std::to_string(ts) +
                                 ". The target time cannot be negative.");
  net_.wakeup();
  return fetcher_.list_offsets(timestamps, deadline_for(timeout_ms));
}

std::map<TopicPartition, Offset> KafkaConsumer::beginning_offsets(const std::vector<TopicPartition>& tps,
                                                                  int64_t timeout_ms) {
  ensure_open();
  std::map<TopicPartition, int64_t> ts;
  for (const TopicPartition& tp : tps) ts[tp] = protocol::kEarliestTimestamp;
  std::map<TopicPartition, Offset> out;
  for (const auto& [tp, o] : fetcher_.list_offsets(ts, deadline_for(timeout_ms)))
    if (o) out[tp] = o->offset;
  return out;
}

std::map<TopicPartition, Offset> KafkaConsumer::end_offsets(const std::vector<TopicPartition>& tps, int64_t timeout_ms) {
  ensure_open();
  std::map<TopicPartition, int64_t> ts;
  for (const TopicPartition& tp : tps) ts[tp] = protocol::kLatestTimestamp;
  std::map<TopicPartition, Offset> out;
  for (const auto& [tp, o] : fetcher_.list_offsets(ts, deadline_for(timeout_ms)))
    if (o) out[tp] = o->offset;
  return out;
}

void KafkaConsumer::pause(const std::vector<TopicPartition>& tps) {
  ensure_open();
  subscriptions_.pause(tps, true);
}

void KafkaConsumer::resume(const std::vector<TopicPartition>& tps) {
  ensure_open();
  subscriptions_.pause(tps, false);
}

std::vector<TopicPartition> KafkaConsumer::paused() const {
  std::vector<TopicPartition> out;
  for (const TopicPartition& tp : subscriptions_.assigned_partitions())
    if (subscriptions_.state(tp)->paused) out.push_back(tp);
  return out;
}

// ---- offsets ----------------------------------------------------------------------------------------------

OffsetMap KafkaConsumer::committed(const std::set<TopicPartition>& tps, int64_t timeout_ms) {
  ensure_open();
  ensure_group("committed");
  net_.wakeup();
  std::optional<OffsetMap> out = coordinator_->fetch_committed_offsets(tps, deadline_for(timeout_ms));
  if (!out)
    throw KafkaException("TimeoutException", Errc::REQUEST_TIMED_OUT,
                         "Timeout expired before the last committed offsets could be fetched");
  return *out;
}

OffsetMap KafkaConsumer::consumed_offsets() const {
  OffsetMap offsets;
  for (const auto& [tp, pos] : subscriptions_.all_consumed()) offsets[tp] = {pos.offset, pos.offset_epoch, ""};
  return offsets;
}

void KafkaConsumer::commit_sync(int64_t timeout_ms) {
  ensure_open();
  ensure_group("commitSync");
  coordinator_->commit_sync(consumed_offsets(), deadline_for(timeout_ms));
}

void KafkaConsumer::commit_sync(const OffsetMap& offsets, int64_t timeout_ms) {
  ensure_open();
  ensure_group("commitSync");
  coordinator_->commit_sync(offsets, deadline_for(timeout_ms));
}

void KafkaConsumer::commit_async(CommitCallback cb) {
  ensure_open();
  ensure_group("commitAsync");
  OffsetMap offsets;
  for (const auto& [tp, pos] : subscriptions_.all_consumed()) offsets[tp] = {pos.offset, pos.offset_epoch, ""};
  coordinator_->commit_async(offsets, std::move(cb));
}

void KafkaConsumer::commit_async(const OffsetMap& offsets, CommitCallback cb) {
  ensure_open();
  ensure_group("commitAsync");
  coordinator_->commit_async(offsets, std::move(cb));
}

void KafkaConsumer::close(int64_t timeout_ms) {
  if (closed_) return;
  if (!net_.alive()) {
    closed_ = true;
    return;
  }
  const sim::Instant deadline = net_.now() + sim::milliseconds(timeout_ms);
  try {
    if (coordinator_) coordinator_->close(deadline);
    // Java: then the fetcher closes its fetch sessions, within what is left
    // of the timeout and at most request.timeout.ms.
    fetcher_.close_sessions(
        std::min(deadline, net_.now() + sim::milliseconds(fetcher_.config().request_timeout_ms)));
  } catch (...) {
    closed_ = true;
    stop_fibers_ = true;
    net_.wakeup();
    throw;
  }
  closed_ = true;
  stop_fibers_ = true;
  net_.wakeup();
}

}  // namespace ksim::clients
