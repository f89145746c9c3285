#include "engine/clients/sender.h"

#include <algorithm>
#include <cmath>

#include "engine/clients/transactional_client.h"
#include "engine/common/node_ids.h"
#include "sim/error.h"

namespace ksim::clients {
namespace {

// Kafka's InvalidMetadataException family: the client's view of the leader is
// stale — refresh metadata before the retry.
bool invalid_metadata(Errc e) {
  switch (e) {
    case Errc::NOT_LEADER_OR_FOLLOWER:
    case Errc::UNKNOWN_TOPIC_OR_PARTITION:
    case Errc::LEADER_NOT_AVAILABLE:
    case Errc::FENCED_LEADER_EPOCH:
    case Errc::UNKNOWN_LEADER_EPOCH:
    case Errc::KAFKA_STORAGE_ERROR:
    case Errc::NETWORK_EXCEPTION:
    case Errc::REQUEST_TIMED_OUT:
      return true;
    default:
      return false;
  }
}

}  // namespace

Sender::Sender(ClientContext ctx, ProducerSettings settings, RecordAccumulator& accumulator, ClientMetadata& metadata,
               TransactionManager* txn, std::vector<ProducerInterceptor>* interceptors, sim::CondVar& wake)
    : ctx_(std::move(ctx)),
      settings_(settings),
      acc_(accumulator),
      metadata_(metadata),
      txn_(txn),
      interceptors_(interceptors),
      wake_(wake),
      rng_(ctx_.world->rng("producer/" + ctx_.name + "/sender")),
      produce_throttle_time_(settings_.metrics_window) {}

std::map<std::string, double> Sender::metrics() const {
  const int64_t now = now_ms();
  SampledStat s = produce_throttle_time_.snapshot();  // reading must not purge the live stat
  return {{"produce-throttle-time-avg", s.avg(now)}, {"produce-throttle-time-max", s.max(now)}};
}

bool Sender::may_have_written(Errc e) const { return produce_may_have_written(e, settings_.acks); }

int64_t Sender::backoff_ms(int32_t attempts) {
  // Kafka's ExponentialBackoff(retry.backoff.ms, 2, retry.backoff.max.ms, 0.2).
  const double initial = static_cast<double>(settings_.retry_backoff_ms);
  const double max = static_cast<double>(std::max(settings_.retry_backoff_max_ms, settings_.retry_backoff_ms));
  if (initial <= 0) return 0;
  const double exp_max = max > initial ? std::log(max / initial) / std::log(2.0) : 0.0;
  const double exp = std::min(static_cast<double>(std::max(0, attempts - 1)), exp_max);
  const double term = initial * std::pow(2.0, exp);
  const double factor = 0.8 + 0.4 * rng_.uniform01();
  return std::min(static_cast<int64_t>(factor * term), static_cast<int64_t>(max));
}

void Sender::run() {
  for (;;) {
    acc_.forget_done();
    if (forced_) break;
    if (closing_ && acc_.incomplete().empty()) break;
    const int64_t now = now_ms();
    if (txn_) {
      txn_->maybe_resolve_sequences();
      // A transactional producer's id and epoch come from its coordinator only.
      if (!txn_->transactional() && (txn_->bump_epoch_and_reset_id_if_needed() || !txn_->has_producer_id()))
        maybe_init_producer_id();
      if (txn_->transactional()) maybe_add_partitions_to_transaction();
    }
    // Metadata: on request (throttled by retry.backoff.ms) or when too old.
    if (metadata_.update_requested()) {
      if (now - last_metadata_attempt_ms_ >= settings_.retry_backoff_ms) {
        last_metadata_attempt_ms_ = now;
        ++stats_.metadata_refreshes;
        metadata_.refresh();
        wake_.notify_all();  // send() may be waiting for a topic's metadata
      }
    } else if (!acc_.incomplete().empty()) {
      metadata_.maybe_refresh();
    }
    std::optional<int64_t> next = send_producer_data();
    if (metadata_.update_requested()) {
      const int64_t at = last_metadata_attempt_ms_ + settings_.retry_backoff_ms;
      next = next ? std::min(*next, at) : at;
    }
    if (txn_ && !txn_->transactional() && !txn_->has_producer_id()) {
      next = next ? std::min(*next, init_retry_at_ms_) : init_retry_at_ms_;
    }
    const uint64_t seen = signals_;
    const int64_t after = now_ms();
    if (next && *next <= after) continue;
    const int64_t wait_ms = next ? *next - after : settings_.metadata_max_age_ms;
    wake_.wait_for(sim::milliseconds(wait_ms), [&] { return signals_ != seen || forced_; });
  }
  finished_ = true;
  wake_.notify_all();
}

void Sender::maybe_init_producer_id() {
  if (now_ms() < init_retry_at_ms_) return;
  const int32_t broker = metadata_.any_broker();
  if (broker < 0) return;
  txn_->on_init_sent();
  ++stats_.init_producer_id_requests;
  protocol::InitProducerIdRequest req;
  req.transaction_timeout_ms = 2147483647;  // Kafka sends Integer.MAX for idempotent producers
  const sim::Reply r = call_broker(ctx_, broker, "InitProducerId", sim::make_payload(req), 32,
                                   settings_.request_timeout_ms);
  if (r.status == sim::CallStatus::ok) {
    const auto& resp = sim::payload_as<protocol::InitProducerIdResponse>(r.payload);
    if (resp.error == Errc::NONE) {
      txn_->set_producer_id_and_epoch(resp.producer_id, resp.producer_epoch);
      ctx_.world->probe("producer: got a producer id");
      notify();
      return;
    }
  }
  // Kafka retries retriable InitProducerId errors after retry.backoff.ms.
  txn_->on_init_failed();
  init_retry_at_ms_ = now_ms() + settings_.retry_backoff_ms;
}

void Sender::maybe_add_partitions_to_transaction() {
  using P = TransactionManager::Phase;
  if (!txn_client_ || txn_->transaction_version() >= 2) return;
  if (txn_->phase() != P::in_transaction && txn_->phase() != P::committing) return;
  std::vector<TopicPartition> missing;
  for (const TopicPartition& tp : acc_.partitions())
    if (!txn_->in_transaction_partitions(tp)) missing.push_back(tp);
  if (missing.empty()) return;
  try {
    txn_client_->add_partitions(missing, ctx_.world->now() + sim::milliseconds(settings_.request_timeout_ms));
  } catch (const KafkaException& e) {
    // Timeout: the next loop tries again (the batches wait, and expire by
    // delivery.timeout.ms); a fatal error was recorded by the client.
    ctx_.world->probe("producer: AddPartitionsToTxn failed");
  }
  notify();
}

std::optional<int64_t> Sender::send_producer_data() {
  const int64_t now = now_ms();
  std::optional<int64_t> next;
  auto consider = [&](int64_t t) { next = next ? std::min(*next, t) : t; };
  std::set<int32_t> ready_nodes;
  bool unknown_leader = false;
  for (const TopicPartition& tp : acc_.partitions()) {
    if (muted_.contains(tp)) continue;  // max.in.flight = 1: wait for the answer
    if (txn_ && !txn_->is_send_to_partition_allowed(tp)) continue;  // TV1: not added yet
    std::deque<BatchRef>* dq = acc_.deque(tp);
    const BatchRef& first = dq->front();
    const auto pl = metadata_.partition(tp);
    if (!pl || pl->leader < 0) {
      unknown_leader = true;
      metadata_.add_topic(tp.topic);
      continue;
    }
    if (acc_.sendable(first, dq->size(), now, pl->leader_epoch)) {
      if (auto r = reconnect_.find(pl->leader); r != reconnect_.end() && now < r->second.ready_at_ms) {
        consider(r->second.ready_at_ms);  // not ready: reconnect backoff
        continue;
      }
      if (auto t = throttled_until_ms_.find(pl->leader); t != throttled_until_ms_.end() && now < t->second) {
        consider(t->second);  // not ready: throttled by its quota (KIP-219)
        continue;
      }
      if (in_flight_[pl->leader] < settings_.max_in_flight) ready_nodes.insert(pl->leader);
      // else: a response will wake us
    } else {
      consider(acc_.ready_at(first, dq->size(), now));
    }
  }
  if (unknown_leader) metadata_.request_update();
  bool sent = false;
  for (int32_t node : ready_nodes) {
    std::vector<BatchRef> batches = drain(node);
    if (batches.empty()) continue;
    send_produce_request(node, std::move(batches));
    sent = true;
  }
  expire_batches();
  if (sent) consider(now);  // more may be drainable (a request per partition per round)
  // Wake for the next delivery timeout of a batch expire_batches() can expire:
  // a queue's first batch, or one in flight. Waking for a batch queued behind
  // another would find nothing to expire and spin at the same virtual instant.
  if (const std::optional<int64_t> at = acc_.next_expiry_ms()) consider(*at);
  for (const BatchRef& b : in_flight_batches_)
    if (!b->done) consider(b->created_ms + settings_.delivery_timeout_ms);
  return next;
}

std::vector<BatchRef> Sender::drain(int32_t broker) {
  const int64_t now = now_ms();
  std::vector<TopicPartition> parts;
  for (const TopicPartition& tp : acc_.partitions()) {
    const auto pl = metadata_.partition(tp);
    if (pl && pl->leader == broker) parts.push_back(tp);
  }
  std::vector<BatchRef> ready;
  if (parts.empty()) return ready;
  size_t& index = drain_index_[broker];
  const size_t start = index % parts.size();
  int64_t size = 0;
  for (size_t k = 0; k < parts.size(); ++k) {
    const TopicPartition& tp = parts[(start + k) % parts.size()];
    index = (start + k + 1) % parts.size();
    if (muted_.contains(tp)) continue;
    if (txn_ && !txn_->is_send_to_partition_allowed(tp)) continue;
    std::deque<BatchRef>* dq = acc_.deque(tp);
    if (!dq || dq->empty()) continue;
    const BatchRef first = dq->front();
    // Drain ignores linger (a ready node takes every partition's batch along)
    // but respects a retry's backoff.
    if (first->attempts > 0 && now < first->retry_at_ms) {
      const auto pl = metadata_.partition(tp);
      if (!pl || pl->leader_epoch <= first->attempt_leader_epoch) continue;
    }
    const int64_t wire = static_cast<int64_t>(first->estimated_bytes);
    if (size + wire > settings_.max_request_size && !ready.empty()) break;
    if (txn_ && txn_->should_stop_draining(*first)) break;
    dq->pop_front();
    if (txn_ && !first->has_sequence()) txn_->assign_sequence(*first, first);
    if (!first->built) {
      storage::BatchParams params;
      params.is_transactional = txn_ && txn_->transactional();
      params.producer_id = first->producer_id;
      params.producer_epoch = first->producer_epoch;
      params.base_sequence = first->base_sequence;
      first->built = first->records.build(params);
    }
    first->drained = true;
    size += wire;
    ready.push_back(first);
  }
  return ready;
}

void Sender::send_produce_request(int32_t broker, std::vector<BatchRef> batches) {
  sim::Network& net = ctx_.world->network();
  const int64_t now = now_ms();
  protocol::ProduceRequest req;
  req.acks = settings_.acks;
  req.timeout_ms = settings_.request_timeout_ms;
  if (txn_ && txn_->transactional()) req.transactional_id = txn_->transactional_id();
  auto inflight = std::make_shared<InFlightRequest>();
  inflight->broker = broker;
  uint32_t size = 64;
  for (const BatchRef& b : batches) {
    req.partitions.emplace_back(b->tp, b->built);
    size += static_cast<uint32_t>(std::ceil(static_cast<double>(b->built->size_in_bytes()) * settings_.compression_ratio));
    ++b->attempts;
    b->in_flight = true;
    b->last_attempt_ms = now;
    inflight->batches[b->tp] = b;
    in_flight_batches_.push_back(b);
    if (settings_.max_in_flight == 1) muted_.insert(b->tp);  // guaranteeMessageOrder
    ++stats_.batches_sent;
  }
  ++stats_.produce_requests;
  if (!produce_kind_) produce_kind_ = net.kind("Produce");
  if (settings_.acks == 0) {
    // Fire and forget: no response will come; the records count as sent —
    // unless the connection was refused (a dead broker): Kafka never sends
    // on a connection it could not establish, so the batches wait.
    if (!net.send(ctx_.self, sim_node_of(broker), *produce_kind_, sim::make_payload(std::move(req)), size)) {
      refused(broker);
      for (const BatchRef& b : batches) {
        std::erase(in_flight_batches_, b);
        muted_.erase(b->tp);
        unsend_batch(b);
      }
      notify();
      return;
    }
    for (const BatchRef& b : batches) succeed_batch(b, kNoOffset, broker, -1);
    return;
  }
  ++in_flight_[broker];
  in_flight_requests_.push_back(inflight);
  const sim::CallId id = net.call(ctx_.self, sim_node_of(broker), *produce_kind_, sim::make_payload(std::move(req)),
                                  size, sim::milliseconds(settings_.request_timeout_ms));
  net.on_reply(id, [this, inflight](const sim::Reply& r) { handle_reply(inflight, r); });
}

void Sender::fail_request(const std::shared_ptr<InFlightRequest>& req, Errc error) {
  req->answered = true;
  --in_flight_[req->broker];
  std::erase(in_flight_requests_, req);
  protocol::ProducePartitionResponse pr;
  pr.error = error;
  for (const auto& [tp, b] : req->batches) {
    pr.tp = tp;
    complete_batch(b, pr, req->broker);
  }
}

void Sender::unsend_request(const std::shared_ptr<InFlightRequest>& req) {
  req->answered = true;
  --in_flight_[req->broker];
  std::erase(in_flight_requests_, req);
  for (const auto& [tp, b] : req->batches) {
    std::erase(in_flight_batches_, b);
    muted_.erase(b->tp);
    if (!b->done) unsend_batch(b);  // (done: expired meanwhile, the user was told already)
  }
}

std::vector<std::shared_ptr<Sender::InFlightRequest>> Sender::end_connection(int32_t broker) {
  std::vector<std::shared_ptr<InFlightRequest>> ended;
  for (const auto& r : in_flight_requests_)
    if (r->broker == broker) {
      r->failed_with_connection = true;  // the network's own reply for it comes later: ignored
      ended.push_back(r);
    }
  return ended;
}

void Sender::unsend_batch(const BatchRef& b) {
  SIM_ASSERT(b->attempts > 0, "producer: an unsent batch was counted as sent");
  --b->attempts;
  b->in_flight = false;
  // Back where it was, in sequence order; no retry backoff (it never left).
  acc_.reenqueue(b, now_ms(), 0, txn_ != nullptr);
}

void Sender::refused(int32_t broker) {
  Reconnect& rc = reconnect_[broker];
  rc.refusals = std::min(rc.refusals + 1, 30);
  const int64_t backoff =
      std::min(settings_.reconnect_backoff_max_ms, settings_.reconnect_backoff_ms << std::min(rc.refusals - 1, 20));
  rc.ready_at_ms = now_ms() + backoff;
  ctx_.world->probe("producer: connection refused, batches wait (no attempt spent)");
  metadata_.request_update();  // the leader may have moved
}

void Sender::handle_reply(const std::shared_ptr<InFlightRequest>& req, const sim::Reply& reply) {
  if (req->failed_with_connection) {
    SIM_ASSERT(reply.status != sim::CallStatus::ok, "producer: an answer on a connection closed before it");
    return;
  }
  SIM_ASSERT(!req->answered, "producer: a Produce request answered twice");
  if (reply.status != sim::CallStatus::ok) {
    // Kafka's NetworkClient closes the connection of a timed-out request, and
    // a closed connection fails every request in flight on it in the same
    // poll, before the Sender drains again. Failing the others later (as the
    // network's own "disconnected" replies arrive) would let a batch drained
    // in between overtake a lower sequence of its partition: the leader
    // accepts any first sequence of a producer it does not know, the retried
    // lower one then fails OUT_OF_ORDER_SEQUENCE_NUMBER, and after the epoch
    // bump the overtaking batch is written twice (a duplicate the hunt found
    // behind a stalled leader disk, findings seed 2982).
    const int32_t broker = req->broker;
    if (reply.status == sim::CallStatus::refused) {
      // Kafka never sends on a connection that was not established: these
      // requests were never sent. Every request on it was refused alike.
      refused(broker);
      unsend_request(req);
      for (const auto& other : end_connection(broker)) unsend_request(other);
      notify();
      return;
    }
    const bool timed_out = reply.status == sim::CallStatus::timeout;
    fail_request(req, timed_out ? Errc::REQUEST_TIMED_OUT : Errc::NETWORK_EXCEPTION);
    if (timed_out) ctx_.world->network().disconnect(ctx_.self, sim_node_of(broker));
    for (const auto& other : end_connection(broker)) fail_request(other, Errc::NETWORK_EXCEPTION);
    notify();
    return;
  }
  req->answered = true;
  --in_flight_[req->broker];
  std::erase(in_flight_requests_, req);
  reconnect_.erase(req->broker);  // connected: the backoff starts over
  {
    const auto& resp = sim::payload_as<protocol::ProduceResponse>(reply.payload);
    produce_throttle_time_.record(resp.throttle_time_ms, now_ms());
    if (resp.throttle_time_ms > 0) {
      ctx_.world->probe("producer: throttled by a broker");
      throttled_until_ms_[req->broker] = now_ms() + resp.throttle_time_ms;
    }
    for (const protocol::ProducePartitionResponse& pr : resp.partitions) {
      auto it = req->batches.find(pr.tp);
      SIM_ASSERT(it != req->batches.end(), "producer: a response for a partition we did not send");
      complete_batch(it->second, pr, req->broker);
    }
  }
  notify();
}

void Sender::complete_batch(const BatchRef& b, const protocol::ProducePartitionResponse& resp, int32_t broker) {
  std::erase(in_flight_batches_, b);
  muted_.erase(b->tp);
  if (b->done) {
    // Expired while in flight (delivery.timeout.ms): the user was told already.
    if (txn_ && resp.error == Errc::NONE) txn_->handle_completed_batch(b, resp.base_offset);
    return;
  }
  b->in_flight = false;
  const Errc err = resp.error;
  if (err == Errc::NONE) {
    succeed_batch(b, resp.base_offset, broker, resp.log_append_time_ms);
    return;
  }
  if (now_ms() - b->created_ms >= settings_.delivery_timeout_ms) {
    // Kafka's Sender expires in-flight batches (sendProducerData) before it
    // handles the responses of the same instant, so a batch whose delivery
    // timeout is due is expired, not failed: its outcome is unknown, and its
    // sequence must not be given to the batches behind it (an epoch bump
    // would renumber a batch already in the log and write it again).
    b->in_flight = true;  // it was, when its deadline came
    expire_batch(b);
    return;
  }
  if (may_have_written(err)) b->maybe_written = true;
  if (const auto pl = metadata_.partition(b->tp)) b->attempt_leader_epoch = pl->leader_epoch;
  if (can_retry(b, resp)) {
    reenqueue(b);
  } else if (err == Errc::DUPLICATE_SEQUENCE_NUMBER) {
    succeed_batch(b, kNoOffset, broker, -1);  // appended earlier; its offset is no longer known
  } else {
    // Sequences are adjusted only if retries were not exhausted: otherwise we
    // cannot know whether the broker took this sequence (Kafka's rule).
    fail_batch(b, err, b->attempts - 1 < settings_.retries);
  }
  if (invalid_metadata(err)) metadata_.request_update();
}

bool Sender::can_retry(const BatchRef& b, const protocol::ProducePartitionResponse& resp) {
  if (now_ms() - b->created_ms >= settings_.delivery_timeout_ms) return false;
  if (b->attempts - 1 >= settings_.retries) return false;  // attempts - 1 = retries so far
  return txn_ ? txn_->can_retry(resp.error, resp.log_start_offset, *b) : retriable(resp.error);
}

void Sender::reenqueue(const BatchRef& b) {
  ++stats_.retries;
  ctx_.world->probe("producer: batch retried");
  acc_.reenqueue(b, now_ms(), backoff_ms(b->attempts), txn_ != nullptr);
}

void Sender::finish_record(PendingRecord& p, const RecordMetadata& md, Errc error, check::Outcome outcome) {
  p.future->done = true;
  p.future->error = error;
  p.future->metadata = md;
  if (interceptors_)
    for (const ProducerInterceptor& i : *interceptors_)
      if (i.on_acknowledgement) i.on_acknowledgement(md, error);
  if (p.callback) p.callback(md, error);
  if (ctx_.history && p.history_op) {
    if (outcome == check::Outcome::ok) ctx_.history->set_ack(*p.history_op, md.offset, md.leader);
    ctx_.history->complete(*p.history_op, outcome, ctx_.world->now().ns, error);
  }
}

void Sender::succeed_batch(const BatchRef& b, Offset base_offset, int32_t broker, int64_t log_append_time) {
  SIM_ASSERT(!b->done, "producer: a batch completed twice");
  b->done = true;
  b->in_flight = false;
  std::erase(in_flight_batches_, b);
  muted_.erase(b->tp);
  if (txn_) txn_->handle_completed_batch(b, base_offset);
  acc_.deallocate(b);
  for (size_t i = 0; i < b->pending.size(); ++i) {
    PendingRecord& p = b->pending[i];
    RecordMetadata md;
    md.tp = b->tp;
    md.offset = base_offset == kNoOffset ? kNoOffset : base_offset + static_cast<int64_t>(i);
    md.timestamp = log_append_time >= 0 ? log_append_time : p.timestamp;
    md.serialized_key_size = p.key_size;
    md.serialized_value_size = p.value_size;
    md.leader = broker;
    finish_record(p, md, Errc::NONE, check::Outcome::ok);
  }
  stats_.records_acked += b->pending.size();
}

void Sender::fail_batch(const BatchRef& b, Errc error, bool adjust_sequences) {
  if (b->done) return;
  const bool unknown = b->maybe_written || b->in_flight;
  b->done = true;
  b->in_flight = false;
  std::erase(in_flight_batches_, b);
  muted_.erase(b->tp);
  if (txn_ && b->has_sequence()) txn_->handle_failed_batch(b, error, adjust_sequences);
  if (txn_ && txn_->transactional()) {
    // The transaction cannot commit without this batch. PRODUCER_FENCED is
    // fatal; INVALID_PRODUCER_EPOCH on Produce only makes the transaction
    // abortable (KAFKA-10687: InvalidProducerEpochException) — the abort
    // tells whether the producer was really fenced.
    if (fatal_error(error)) {
      if (txn_->phase() != TransactionManager::Phase::fatal_error) txn_->fatal_error(error);
    } else if (error != Errc::TRANSACTION_ABORTED) {
      // Its sequence may or may not be in the log: the abort asks for a new epoch (KIP-360).
      txn_->require_epoch_bump();
      txn_->abortable_error(error);
    }
  }
  acc_.deallocate(b);
  for (PendingRecord& p : b->pending) {
    RecordMetadata md;
    md.tp = b->tp;
    md.timestamp = p.timestamp;
    md.serialized_key_size = p.key_size;
    md.serialized_value_size = p.value_size;
    finish_record(p, md, error, unknown ? check::Outcome::info : check::Outcome::fail);
  }
  stats_.records_failed += b->pending.size();
}

void Sender::expire_batches() {
  const int64_t now = now_ms();
  std::vector<BatchRef> expired = acc_.expired_batches(now);
  for (const BatchRef& b : in_flight_batches_)
    if (!b->done && now - b->created_ms >= settings_.delivery_timeout_ms) expired.push_back(b);
  for (const BatchRef& b : expired)
    if (!b->done) expire_batch(b);
}

void Sender::expire_batch(const BatchRef& b) {
  ++stats_.expired_batches;
  ctx_.world->probe("producer: batch expired (delivery.timeout.ms)");
  // Kafka's inRetry(): sent before, and not on its first attempt now.
  const bool retried = b->attempts > (b->in_flight ? 1 : 0);
  fail_batch(b, Errc::DELIVERY_TIMEOUT, false);
  if (txn_ && retried && b->has_sequence()) txn_->mark_sequence_unresolved(*b);
}

void Sender::force_close() {
  forced_ = true;
  for (const BatchRef& b : std::vector<BatchRef>(acc_.incomplete()))
    if (!b->done) fail_batch(b, Errc::UNKNOWN_SERVER_ERROR, false);
  notify();
}

}  // namespace ksim::clients
