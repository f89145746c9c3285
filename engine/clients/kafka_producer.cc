#include "engine/clients/kafka_producer.h"

#include <algorithm>
#include <stdexcept>

#include "sim/error.h"

namespace ksim::clients {
namespace {

// Virtual nanoseconds are int64: cap "forever" at ~31 years of milliseconds.
int64_t capped(int64_t ms) { return std::min<int64_t>(ms, 1'000'000'000'000); }

ProducerSettings settings_of(const Config& c) {
  ProducerSettings s;
  const std::string acks = c.get_string("acks");
  s.acks = (acks == "all" || acks == "-1") ? int16_t{-1} : static_cast<int16_t>(std::stoi(acks));
  s.idempotent = c.get_bool("enable.idempotence");
  s.max_in_flight = c.get_int("max.in.flight.requests.per.connection");
  s.retries = c.get_int("retries");
  s.retry_backoff_ms = c.get_long("retry.backoff.ms");
  s.retry_backoff_max_ms = c.get_long("retry.backoff.max.ms");
  s.reconnect_backoff_ms = c.get_long("reconnect.backoff.ms");
  s.reconnect_backoff_max_ms = c.get_long("reconnect.backoff.max.ms");
  s.request_timeout_ms = c.get_int("request.timeout.ms");
  s.delivery_timeout_ms = c.get_long("delivery.timeout.ms");
  s.max_request_size = c.get_int("max.request.size");
  s.max_block_ms = c.get_long("max.block.ms");
  s.metadata_max_age_ms = c.get_long("metadata.max.age.ms");
  s.compression_ratio = compression_ratio(c.get_string("compression.type"));
  s.metrics_window = SampledStatConfig{c.get_int("metrics.num.samples"), c.get_long("metrics.sample.window.ms")};
  return s;
}

AccumulatorConfig accumulator_config_of(const Config& c, const ProducerSettings& s) {
  AccumulatorConfig a;
  a.batch_size = std::max(1, c.get_int("batch.size"));
  a.linger_ms = c.get_long("linger.ms");
  a.buffer_memory = c.get_long("buffer.memory");
  a.delivery_timeout_ms = s.delivery_timeout_ms;
  a.compression_ratio = s.compression_ratio;
  return a;
}

}  // namespace

KafkaProducer::KafkaProducer(ClientContext ctx, const Config::Map& config, ProducerOptions options)
    : ctx_(std::move(ctx)),
      config_(Config::parse(kProducer, config)),
      settings_(settings_of(config_)),
      options_(std::move(options)),
      metadata_(ctx_, settings_.metadata_max_age_ms, settings_.request_timeout_ms),
      accumulator_(accumulator_config_of(config_, settings_)),
      wake_(*ctx_.world),
      sticky_(ctx_.world->rng("producer/" + ctx_.name + "/partitioner"), std::max(1, config_.get_int("batch.size"))) {
  if (!config_.is_null("partitioner.class")) {
    const std::string cls = config_.get_string("partitioner.class");
    if (cls == "RoundRobinPartitioner" || cls == "org.apache.kafka.clients.producer.RoundRobinPartitioner")
      round_robin_ = true;
    else
      throw ConfigError("partitioner.class", "Invalid value " + cls +
                                                 " for configuration partitioner.class: ksim knows null (the built-in "
                                                 "partitioner) and RoundRobinPartitioner");
  }
  ignore_keys_ = config_.get_bool("partitioner.ignore.keys");
  if (settings_.idempotent) txn_ = std::make_unique<TransactionManager>();
  if (!config_.is_null("transactional.id")) {
    txn_->set_transactional(config_.get_string("transactional.id"), config_.get_int("transaction.timeout.ms"));
    txn_client_ = std::make_unique<TransactionalClient>(ctx_, settings_, *txn_, metadata_, wake_);
  }
  sender_ = std::make_unique<Sender>(ctx_, settings_, accumulator_, metadata_, txn_.get(), &options_.interceptors, wake_);
  sender_->set_transactional_client(txn_client_.get());
  ctx_.world->spawn(ctx_.self, "producer-sender", [this] { sender_->run(); });
}

KafkaProducer::~KafkaProducer() {
  // The process is gone (a crash, or the end of the run): whatever is still
  // pending may or may not have been written.
  if (!ctx_.history) return;
  for (const BatchRef& b : accumulator_.incomplete()) {
    if (b->done) continue;
    for (const PendingRecord& p : b->pending)
      if (p.history_op) ctx_.history->complete(*p.history_op, check::Outcome::info, ctx_.world->now().ns, Errc::NONE);
  }
}

std::optional<std::pair<ProducerId, ProducerEpoch>> KafkaProducer::producer_id() const {
  if (!txn_ || !txn_->has_producer_id()) return std::nullopt;
  return std::make_pair(txn_->producer_id(), txn_->producer_epoch());
}

const KafkaProducer::CachedView& KafkaProducer::view_of(const std::string& topic) {
  // Rebuilt only when a metadata refresh may have changed it.
  auto it = views_.find(topic);
  if (it == views_.end()) it = views_.emplace(topic, CachedView{UINT64_MAX, {}, TopicName(topic)}).first;
  CachedView& c = it->second;
  if (c.version == metadata_.version()) return c;
  PartitionView& v = c.view;
  v.available.clear();
  v.count = metadata_.partition_count(topic);
  TopicPartition tp{c.name, 0};
  for (tp.partition = 0; tp.partition < v.count; ++tp.partition)
    if (const PartitionLeader* pl = metadata_.partition(tp); pl && pl->leader >= 0) v.available.push_back(tp.partition);
  c.version = metadata_.version();
  return c;
}

int32_t KafkaProducer::choose_partition(const ProducerRecord& r, const PartitionView& view) {
  if (r.partition) return *r.partition;
  if (options_.partitioner) return options_.partitioner(r.topic, r.key, r.value.value_or(""), view.count);
  if (round_robin_) return round_robin_partitioner_.partition(r.topic, view);
  if (r.key && !ignore_keys_) return partition_for_key(*r.key, view.count);
  return -1;  // the accumulator's sticky partition
}

SendFuture KafkaProducer::fail_now(const ProducerRecord& r, int32_t partition, Errc error, const SendCallback& cb,
                                   std::optional<uint64_t> op) {
  auto state = std::make_shared<SendState>();
  state->done = true;
  state->error = error;
  state->metadata.tp = TopicPartition{r.topic, partition};
  state->metadata.timestamp = r.timestamp.value_or(now_ms());
  for (const ProducerInterceptor& i : options_.interceptors)
    if (i.on_acknowledgement) i.on_acknowledgement(state->metadata, error);
  if (cb) cb(state->metadata, error);
  if (ctx_.history) {
    if (!op) {
      check::OpSpec o;
      o.client = ctx_.client_id();
      o.client_name = ctx_.name;
      o.type = check::OpType::send;
      o.tp = state->metadata.tp;
      if (r.key) o.key = *r.key;
      o.value = r.value ? std::string_view(*r.value) : std::string_view();  // a tombstone: recorded as empty
      o.acks = settings_.acks;
      o.idempotent = settings_.idempotent;
      o.max_in_flight = settings_.max_in_flight;
      op = ctx_.history->invoke(o, ctx_.world->now().ns);
    }
    // Never handed to the Sender: certainly not written.
    ctx_.history->complete(*op, check::Outcome::fail, ctx_.world->now().ns, error);
  }
  return state;
}

SendFuture KafkaProducer::send(ProducerRecord record, SendCallback callback) {
  if (closed_) throw std::logic_error("Cannot perform operation after producer has been closed");
  using P = TransactionManager::Phase;
  if (transactional() && txn_->phase() != P::abortable_error)
    require_phase("send", {P::in_transaction});
  for (const ProducerInterceptor& i : options_.interceptors)
    if (i.on_send) i.on_send(record);
  // The history's slot for this value, fetched while the partition is chosen.
  const std::optional<size_t> value_hash =
      ctx_.history && record.value ? std::optional(ctx_.history->prefetch_value(*record.value)) : std::nullopt;
  sim::World& w = *ctx_.world;
  const sim::Instant deadline = w.now() + sim::milliseconds(settings_.max_block_ms);
  // waitOnMetadata: the topic's partition count, at most max.block.ms.
  if (metadata_.partition_count(record.topic) < 0 ||
      (record.partition && *record.partition >= metadata_.partition_count(record.topic))) {
    // Kafka's waitOnMetadata: ask for an update, wait for it, ask again (a
    // broker that has not caught up may not know the topic yet).
    metadata_.add_topic(record.topic);
    auto known_now = [&] {
      const int32_t n = metadata_.partition_count(record.topic);
      return n >= 0 && (!record.partition || *record.partition < n);
    };
    bool known = false;
    while (!known && w.now() < deadline) {
      const uint64_t version = metadata_.version();
      metadata_.request_update();
      sender_->notify();
      wait_until(w, wake_, [&] { return known_now() || metadata_.version() != version; }, deadline);
      known = known_now();
      // Kafka's waitOnMetadata throws InvalidTopicException at once.
      if (metadata_.topic_error(record.topic) == Errc::INVALID_TOPIC_EXCEPTION)
        return fail_now(record, record.partition.value_or(-1), Errc::INVALID_TOPIC_EXCEPTION, callback, std::nullopt);
    }
    if (!known) {
      w.probe("producer: metadata wait exceeded max.block.ms");
      return fail_now(record, record.partition.value_or(-1), Errc::DELIVERY_TIMEOUT, callback, std::nullopt);
    }
  }
  const CachedView& cached_view = view_of(record.topic);
  const PartitionView& view = cached_view.view;
  int32_t partition = choose_partition(record, view);
  const bool sticky = partition < 0;
  if (sticky) partition = sticky_.current(record.topic, view);
  if (partition < 0 || partition >= view.count)
    return fail_now(record, partition, Errc::UNKNOWN_TOPIC_OR_PARTITION, callback, std::nullopt);
  const TopicPartition tp{cached_view.name, partition};

  const int64_t timestamp = record.timestamp.value_or(now_ms());
  const int32_t size = accumulator_.estimate_size(record);

  std::optional<uint64_t> op;
  if (ctx_.history) {
    check::OpSpec o;
    o.client = ctx_.client_id();
    o.client_name = ctx_.name;
    o.type = check::OpType::send;
    o.tp = tp;
    if (record.key) o.key = *record.key;
    o.value = record.value ? std::string_view(*record.value) : std::string_view();  // a tombstone: recorded as empty
    o.value_hash = value_hash;
    o.acks = settings_.acks;
    o.idempotent = settings_.idempotent;
    o.max_in_flight = settings_.max_in_flight;
    o.transactional = transactional();
    op = ctx_.history->invoke(o, w.now().ns);
  }
  if (transactional()) {
    txn_->note_send(op);
    // Kafka's maybeFailWithError: in an abortable state a send fails at once.
    if (txn_->phase() == P::abortable_error) return fail_now(record, partition, txn_->last_error(), callback, op);
  }
  // ensureValidRecordSize: larger than a request or than all the memory.
  if (size + RecordAccumulator::kBatchOverhead > settings_.max_request_size ||
      size + RecordAccumulator::kBatchOverhead > accumulator_.buffer_memory())
    return fail_now(record, partition, Errc::MESSAGE_TOO_LARGE, callback, op);

  auto state = std::make_shared<SendState>();
  state->metadata.tp = tp;
  PendingRecord pending{state, std::move(callback), op, timestamp,
                        record.key ? static_cast<int32_t>(record.key->size()) : -1,
                        record.value ? static_cast<int32_t>(record.value->size()) : -1};
  bool new_batch = false;
  if (!accumulator_.try_append(tp, record, timestamp, pending, size)) {
    const int64_t need = accumulator_.reservation_for(size);
    if (accumulator_.available_memory() < need) {
      // BufferPool.allocate: wait for memory, at most what is left of max.block.ms.
      ++accumulator_.waiting_for_memory;
      sender_->notify();
      const bool got = wait_until(w, wake_, [&] { return accumulator_.available_memory() >= need; }, deadline);
      --accumulator_.waiting_for_memory;
      if (!got) {
        w.probe("producer: buffer.memory exhausted for max.block.ms");
        return fail_now(record, partition, Errc::DELIVERY_TIMEOUT, pending.callback, op);
      }
    }
    if (!accumulator_.try_append(tp, record, timestamp, pending, size)) {
      accumulator_.append_new(tp, record, timestamp, std::move(pending), size, now_ms());
      new_batch = true;
    }
  }
  const bool full = accumulator_.last_batch_full(tp);
  if (sticky) sticky_.on_append(record.topic, size, full, view);
  if (new_batch || full) sender_->notify();
  return state;
}

bool KafkaProducer::wait(const SendFuture& f, int64_t timeout_ms) {
  return wait_until(*ctx_.world, wake_, [&] { return f->done; }, ctx_.world->now() + sim::milliseconds(capped(timeout_ms)));
}

int64_t KafkaProducer::flush(int64_t timeout_ms) {
  std::vector<BatchRef> targets;
  for (const BatchRef& b : accumulator_.incomplete())
    if (!b->done) targets.push_back(b);
  ++accumulator_.flushes_in_progress;
  sender_->notify();
  wait_until(*ctx_.world, wake_, [&] {
    return std::all_of(targets.begin(), targets.end(), [](const BatchRef& b) { return b->done; });
  }, ctx_.world->now() + sim::milliseconds(capped(timeout_ms)));
  --accumulator_.flushes_in_progress;
  int64_t left = 0;
  for (const BatchRef& b : targets)
    if (!b->done) left += b->record_count();
  return left;
}

void KafkaProducer::close(int64_t timeout_ms) {
  if (closed_) return;
  closed_ = true;
  accumulator_.closing = true;
  sender_->initiate_close();
  const sim::Instant deadline = ctx_.world->now() + sim::milliseconds(capped(timeout_ms));
  if (!wait_until(*ctx_.world, wake_, [&] { return sender_->finished(); }, deadline)) {
    ctx_.world->probe("producer: closed forcefully");
    sender_->force_close();
  }
}

}  // namespace ksim::clients

// ---- transactions ------------------------------------------------------------------------------------

namespace ksim::clients {

bool KafkaProducer::all_batches_done() const {
  return std::all_of(accumulator_.incomplete().begin(), accumulator_.incomplete().end(),
                     [](const BatchRef& b) { return b->done; });
}

sim::Instant KafkaProducer::deadline_ms(int64_t timeout_ms) const {
  return ctx_.world->now() + sim::milliseconds(capped(std::max<int64_t>(0, timeout_ms)));
}

void KafkaProducer::require_phase(const char* what, std::initializer_list<TransactionManager::Phase> allowed) const {
  if (closed_) throw std::logic_error("Cannot perform operation after producer has been closed");
  if (!transactional())
    throw KafkaException("IllegalStateException", Errc::INVALID_TXN_STATE,
                         std::string("Cannot use ") + what + " without a transactional.id");
  const auto phase = txn_->phase();
  if (phase == TransactionManager::Phase::fatal_error)
    throw KafkaException(is_fencing_error(txn_->last_error()) ? "ProducerFencedException" : "KafkaException",
                         txn_->last_error(),
                         std::string("Cannot perform ") + what + ": the producer hit a fatal error (" +
                             std::string(errc_name(txn_->last_error())) + "); close it");
  if (std::find(allowed.begin(), allowed.end(), phase) != allowed.end()) return;
  if (phase == TransactionManager::Phase::abortable_error)
    throw KafkaException("KafkaException", txn_->last_error(),
                         std::string("Cannot perform ") + what + ": the transaction failed (" +
                             std::string(errc_name(txn_->last_error())) + "); abort it");
  throw KafkaException("IllegalStateException", Errc::INVALID_TXN_STATE,
                       std::string("Cannot call ") + what + " in state " + TransactionManager::phase_name(phase));
}

void KafkaProducer::init_transactions(int64_t timeout_ms) {
  using P = TransactionManager::Phase;
  require_phase("initTransactions", {P::uninitialized, P::initializing});
  txn_->transition(P::initializing);
  txn_client_->init_producer_id(false, deadline_ms(timeout_ms));
  txn_->transition(P::ready);
  ctx_.world->probe("producer: transactions initialised");
  sender_->notify();
}

void KafkaProducer::begin_transaction() {
  require_phase("beginTransaction", {TransactionManager::Phase::ready});
  txn_->begin();
}

void KafkaProducer::send_offsets_to_transaction(const OffsetMap& offsets, const ConsumerGroupMetadata& group,
                                                int64_t timeout_ms) {
  require_phase("sendOffsetsToTransaction", {TransactionManager::Phase::in_transaction});
  if (group.group_id.empty())
    throw KafkaException("IllegalStateException", Errc::INVALID_GROUP_ID,
                         "sendOffsetsToTransaction needs the consumer's group metadata (a group.id)");
  if (offsets.empty()) return;
  txn_client_->send_offsets(offsets, group, deadline_ms(timeout_ms));
}

void KafkaProducer::finish_transaction(bool committed) {
  if (ctx_.history)
    for (uint64_t op : txn_->transaction_ops())
      ctx_.history->set_txn_state(op, committed ? check::TxnState::committed : check::TxnState::aborted);
  txn_->transition(TransactionManager::Phase::ready);
  ctx_.world->probe(committed ? "producer: transaction committed" : "producer: transaction aborted");
  sender_->notify();
}

void KafkaProducer::commit_transaction(int64_t timeout_ms) {
  using P = TransactionManager::Phase;
  require_phase("commitTransaction", {P::in_transaction, P::committing});
  txn_->transition(P::committing);
  const sim::Instant deadline = deadline_ms(timeout_ms);
  // Kafka's commit flushes first; any failed send makes the commit fail.
  ++accumulator_.flushes_in_progress;
  sender_->notify();
  const bool flushed =
      wait_until(*ctx_.world, wake_, [&] { return txn_->phase() != P::committing || all_batches_done(); }, deadline);
  --accumulator_.flushes_in_progress;
  if (txn_->phase() != P::committing) require_phase("commitTransaction", {});  // abortable or fatal: throws
  if (!flushed)
    throw KafkaException("TimeoutException", Errc::REQUEST_TIMED_OUT,
                         "Timeout expired while flushing the transaction's records");
  if (txn_->transaction_started()) txn_client_->end_transaction(true, deadline);
  finish_transaction(true);
}

void KafkaProducer::abort_transaction(int64_t timeout_ms) {
  using P = TransactionManager::Phase;
  // Not after a commit that timed out: its outcome is unknown, the commit must be retried (Kafka).
  require_phase("abortTransaction", {P::in_transaction, P::abortable_error, P::aborting});
  txn_->transition(P::aborting);
  for (const BatchRef& b : accumulator_.take_undrained()) sender_->fail_batch(b, Errc::TRANSACTION_ABORTED, false);
  const sim::Instant deadline = deadline_ms(timeout_ms);
  sender_->notify();
  const bool drained = wait_until(*ctx_.world, wake_, [&] { return all_batches_done(); }, deadline);
  if (!drained)
    throw KafkaException("TimeoutException", Errc::REQUEST_TIMED_OUT,
                         "Timeout expired while waiting for the transaction's in-flight records");
  if (txn_->transaction_started())
    txn_client_->end_transaction(false, deadline);
  else if (txn_->transaction_version() < 2 && txn_->epoch_bump_required())
    txn_client_->init_producer_id(true, deadline);
  finish_transaction(false);
}

}  // namespace ksim::clients
