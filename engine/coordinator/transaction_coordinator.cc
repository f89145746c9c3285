#include "engine/coordinator/transaction_coordinator.h"

#include <algorithm>
#include <limits>
#include <memory>

#include "engine/common/node_ids.h"
#include "engine/coordinator/coordinator_lookup.h"
#include "engine/coordinator/java_hash.h"
#include "engine/coordinator/transaction_log.h"
#include "sim/error.h"
#include "sim/sync.h"

namespace ksim::coordinator {
namespace {

storage::Bytes bytes_of(const std::string& s) { return storage::Bytes(s.begin(), s.end()); }
std::string_view view_of(const std::span<const uint8_t>& s) {
  return {reinterpret_cast<const char*>(s.data()), s.size()};
}
ProducerEpoch next_epoch(ProducerEpoch e) { return ProducerEpoch{static_cast<int16_t>(e.value + 1)}; }
constexpr int16_t kMaxEpoch = std::numeric_limits<int16_t>::max() - 1;  // Kafka keeps Short.MAX for itself
constexpr int64_t kMarkerRetryBackoffMs = 100;
constexpr int64_t kMarkerRequestTimeoutMs = 30000;  // the inter-broker request timeout

}  // namespace

TransactionCoordinator::TransactionCoordinator(sim::World& world, sim::NodeId self, int32_t broker_id,
                                               const Config& config, ReplicaManager& rm, Image image,
                                               GenerateProducerId generate)
    : world_(world),
      self_(self),
      broker_id_(broker_id),
      config_(config),
      runtime_(world, self, rm, kTransactionStateTopic, config.get_int("offsets.commit.timeout.ms")),
      image_(std::move(image)),
      generate_(std::move(generate)),
      channel_(world, self, image_, kMarkerRequestTimeoutMs, kMarkerRetryBackoffMs),
      num_partitions_(config.get_int("transaction.state.log.num.partitions")),
      max_timeout_ms_(config.get_int("transaction.max.timeout.ms")),
      sweep_interval_ms_(config.get_int("transaction.abort.timed.out.transaction.cleanup.interval.ms")),
      offsets_partitions_(config.get_int("offsets.topic.num.partitions")),
      version_(config.get_string("ksim.transaction.protocol") == "v1" ? int8_t{1} : int8_t{2}) {
  CoordinatorRuntime::Hooks h;
  h.replay = [this](int32_t p, Offset o, const storage::RecordView& r, const storage::RecordBatch&) { replay(p, o, r); };
  h.loaded = [this](int32_t p) { loaded(p); };
  h.unloaded = [this](int32_t p) { unloaded(p); };
  runtime_.set_hooks(std::move(h));
}

void TransactionCoordinator::start() {
  runtime_.start();
  world_.schedule_after(self_, sim::milliseconds(sweep_interval_ms_), [this] { sweep_timeouts(); });
}

bool TransactionCoordinator::handles(const std::string& api) {
  return api == "AddPartitionsToTxn" || api == "AddOffsetsToTxn" || api == "EndTxn";
}

void TransactionCoordinator::handle(const std::string& api, const sim::Incoming& in) {
  if (api == "InitProducerId")
    init_producer_id(in);
  else if (api == "AddPartitionsToTxn")
    add_partitions(in);
  else if (api == "AddOffsetsToTxn")
    add_offsets(in);
  else if (api == "EndTxn")
    end_txn(in);
}

int32_t TransactionCoordinator::partition_for(const std::string& id) const {
  return coordinator::partition_for(id, num_partitions_);
}

// ---- shards ------------------------------------------------------------------------------------

void TransactionCoordinator::on_partition_leader(const TopicPartition& tp, LeaderEpoch epoch) {
  if (tp.topic != kTransactionStateTopic) return;
  runtime_.on_became_leader(tp.partition, epoch);
  Shard& s = shards_[tp.partition];
  s.txns.clear();
  s.coordinator_epoch = epoch;
}

void TransactionCoordinator::on_partition_follower(const TopicPartition& tp) {
  if (tp.topic == kTransactionStateTopic) runtime_.on_resigned(tp.partition);
}

void TransactionCoordinator::replay(int32_t partition, Offset, const storage::RecordView& r) {
  if (!r.key) return;
  const auto id = decode_txn_key(view_of(*r.key));
  if (!id) return;
  Shard& s = shards_[partition];
  if (!r.value) {
    s.txns.erase(*id);  // a tombstone (expired id)
    return;
  }
  const auto m = decode_txn_value(view_of(*r.value));
  if (!m) return;
  TxnEntry& e = s.txns[*id];
  e.transactional_id = *id;
  e.current = *m;
}

void TransactionCoordinator::loaded(int32_t partition) {
  const Ctx c{partition, runtime_.shard_id(partition)};
  Shard* s = shard(c);
  if (!s) return;
  // Transactions caught between EndTxn and their markers: finish them (Kafka's
  // TransactionStateManager hands them to the marker channel on load).
  for (auto& [id, e] : s->txns) {
    if (!is_prepare(e.current.state)) continue;
    world_.probe("txn: coordinator resumes a transaction after failover");
    complete_transaction(c, id);
  }
}

void TransactionCoordinator::unloaded(int32_t partition) { shards_.erase(partition); }

std::pair<TransactionCoordinator::Ctx, Errc> TransactionCoordinator::target(const std::string& id) const {
  const int32_t p = partition_for(id);
  const Errc status = runtime_.status(p);
  if (status != Errc::NONE) return {Ctx{}, status};
  return {Ctx{p, runtime_.shard_id(p)}, Errc::NONE};
}

TransactionCoordinator::Shard* TransactionCoordinator::shard(const Ctx& c) {
  if (c.shard == 0 || runtime_.shard_id(c.partition) != c.shard) return nullptr;
  auto it = shards_.find(c.partition);
  return it == shards_.end() ? nullptr : &it->second;
}

TxnEntry* TransactionCoordinator::find(const Ctx& c, const std::string& id) {
  Shard* s = shard(c);
  if (!s) return nullptr;
  auto it = s->txns.find(id);
  return it == s->txns.end() ? nullptr : &it->second;
}

void TransactionCoordinator::respond(const sim::Incoming& in, const char* kind, sim::Payload body, uint32_t size) {
  world_.network().respond(in, world_.network().kind(kind), std::move(body), size);
}

// ---- writing state ---------------------------------------------------------------------------------

void TransactionCoordinator::write(const Ctx& c, const std::string& id, TxnMetadata next,
                                   std::function<void(Errc)> done) {
  TxnEntry* e = find(c, id);
  SIM_ASSERT(e, "txn: write for an unknown transactional id " + id);
  SIM_ASSERT(!e->pending, "txn " + id + ": a second transition while one is pending");
  e->check_transition(next);
  next.last_update_ms = now_ms();
  e->pending = next;
  storage::Record r;
  r.timestamp = now_ms();
  r.key = bytes_of(encode_txn_key(id));
  r.value = bytes_of(encode_txn_value(next));
  std::vector<storage::Record> records;
  records.push_back(std::move(r));
  runtime_.append(c.partition, c.shard, std::move(records), nullptr,
                  [this, c, id, done = std::move(done)](Errc err) {
                    TxnEntry* entry = find(c, id);
                    if (!entry) return done(Errc::NOT_COORDINATOR);
                    if (err == Errc::NONE && entry->pending) entry->current = *entry->pending;
                    entry->pending.reset();
                    done(err);
                  });
}

void TransactionCoordinator::complete_transaction(const Ctx& c, const std::string& id) {
  TxnEntry* e = find(c, id);
  if (!e || e->markers_in_flight) return;
  e->markers_in_flight = true;
  world_.spawn(self_, "txn-markers", [this, c, id] {
    TxnEntry* entry = find(c, id);
    if (!entry) return;
    protocol::WritableTxnMarker m;
    m.producer_id = entry->current.producer_id;
    m.producer_epoch = entry->current.producer_epoch;
    m.committed = entry->current.state == TxnState::PrepareCommit;
    m.coordinator_epoch = shard(c)->coordinator_epoch.value;
    m.transaction_version = version_;
    m.partitions.assign(entry->current.partitions.begin(), entry->current.partitions.end());
    const bool written = channel_.write_markers(m, [&] { return find(c, id) != nullptr; });
    if (!written) return;  // no longer ours: the next coordinator completes it
    world_.probe(m.committed ? "txn: markers written (commit)" : "txn: markers written (abort)");
    // The Complete record; retried while we still own the id (Kafka's
    // completion is retried the same way until the coordinator moves).
    for (;;) {
      entry = find(c, id);
      if (!entry) return;
      if (entry->pending) {
        world_.sleep_for(sim::milliseconds(kMarkerRetryBackoffMs));
        continue;
      }
      TxnMetadata next = entry->current;
      next.state = m.committed ? TxnState::CompleteCommit : TxnState::CompleteAbort;
      next.partitions.clear();
      auto result = std::make_shared<std::optional<Errc>>();
      auto cv = std::make_shared<sim::CondVar>(world_);
      write(c, id, next, [result, cv](Errc err) {
        *result = err;
        cv->notify_all();
      });
      cv->wait([&] { return result->has_value(); });
      if (**result == Errc::NONE) break;
      world_.sleep_for(sim::milliseconds(kMarkerRetryBackoffMs));
    }
    if ((entry = find(c, id))) entry->markers_in_flight = false;
  });
}

void TransactionCoordinator::fence_and_abort(const Ctx& c, const std::string& id, const char* why) {
  TxnEntry* e = find(c, id);
  SIM_ASSERT(e && e->current.state == TxnState::Ongoing && !e->pending, "txn: fencing a transaction that is not open");
  world_.probe(why);
  TxnMetadata next = e->current;
  // The fenced producer's own EndTxn must not pass for a retry of this abort
  // (Kafka bumps twice on a fence): no "last epoch" to match.
  next.last_producer_epoch = kNoProducerEpoch;
  if (next.producer_epoch.value < kMaxEpoch) next.producer_epoch = next_epoch(next.producer_epoch);
  next.state = TxnState::PrepareAbort;
  write(c, id, next, [this, c, id](Errc err) {
    if (err == Errc::NONE) complete_transaction(c, id);
  });
}

void TransactionCoordinator::sweep_timeouts() {
  const int64_t now = now_ms();
  for (auto& [p, s] : shards_) {
    const Ctx c{p, runtime_.shard_id(p)};
    if (runtime_.status(p) != Errc::NONE) continue;
    std::vector<std::string> expired;
    for (const auto& [id, e] : s.txns)
      if (e.current.state == TxnState::Ongoing && !e.pending && e.current.start_ms + e.current.timeout_ms <= now)
        expired.push_back(id);
    for (const std::string& id : expired) fence_and_abort(c, id, "txn: aborted by the coordinator (timeout)");
  }
  world_.schedule_after(self_, sim::milliseconds(sweep_interval_ms_), [this] { sweep_timeouts(); });
}

// ---- InitProducerId --------------------------------------------------------------------------------

void TransactionCoordinator::init_producer_id(const sim::Incoming& in) {
  const auto& req = sim::payload_as<protocol::InitProducerIdRequest>(in.payload);
  const std::string id = *req.transactional_id;
  auto reply = [this, in](Errc err, ProducerId pid = kNoProducerId, ProducerEpoch epoch = kNoProducerEpoch) {
    protocol::InitProducerIdResponse r;
    r.error = err;
    r.producer_id = pid;
    r.producer_epoch = epoch;
    r.transaction_version = version_;
    respond(in, "InitProducerIdResponse", sim::make_payload(r), 32);
  };
  if (id.empty()) return reply(Errc::INVALID_REQUEST);
  if (req.transaction_timeout_ms <= 0 || req.transaction_timeout_ms > max_timeout_ms_)
    return reply(Errc::INVALID_TRANSACTION_TIMEOUT);
  auto [c, status] = target(id);
  if (status != Errc::NONE) return reply(status);
  if (!find(c, id)) {
    // A new transactional id: a producer id from the KIP-730 block (may block).
    const auto [err, pid] = generate_();
    if (err != Errc::NONE) return reply(err);
    Shard* s = shard(c);
    if (!s) return reply(Errc::NOT_COORDINATOR);
    if (!find(c, id)) {
      TxnEntry& e = s->txns[id];
      e.transactional_id = id;
      e.current.producer_id = pid;
      e.current.producer_epoch = kNoProducerEpoch;
      e.current.timeout_ms = req.transaction_timeout_ms;
      e.current.state = TxnState::Empty;
    }
  }
  TxnEntry& e = *find(c, id);
  if (e.pending || is_prepare(e.current.state)) return reply(Errc::CONCURRENT_TRANSACTIONS);
  // KIP-360: a producer that names its current id/epoch asks for a bump; a
  // stale pair belongs to a fenced incarnation.
  if (req.producer_id != kNoProducerId) {
    const bool current = req.producer_id == e.current.producer_id && req.producer_epoch == e.current.producer_epoch;
    const bool retried = req.producer_id == e.current.producer_id && req.producer_epoch == e.current.last_producer_epoch &&
                         e.current.state == TxnState::Empty;
    if (retried) return reply(Errc::NONE, e.current.producer_id, e.current.producer_epoch);
    if (!current) return reply(Errc::PRODUCER_FENCED);
  }
  if (e.current.state == TxnState::Ongoing) {
    // A new incarnation: abort what the old one left open, under a bumped
    // epoch that fences it; the caller retries and then gets its own epoch.
    fence_and_abort(c, id, "txn: InitProducerId fenced an ongoing transaction");
    return reply(Errc::CONCURRENT_TRANSACTIONS);
  }
  TxnMetadata next = e.current;
  next.timeout_ms = req.transaction_timeout_ms;
  next.state = TxnState::Empty;
  next.partitions.clear();
  next.start_ms = -1;
  if (next.producer_epoch.value >= kMaxEpoch) {
    // Epoch exhausted: a new producer id at epoch 0.
    const auto [err, pid] = generate_();
    if (err != Errc::NONE) return reply(err);
    if (!find(c, id) || find(c, id)->pending) return reply(Errc::CONCURRENT_TRANSACTIONS);
    world_.probe("txn: producer epoch exhausted, new producer id");
    next.producer_id = pid;
    next.producer_epoch = ProducerEpoch{0};
    next.last_producer_epoch = kNoProducerEpoch;
  } else {
    next.last_producer_epoch = next.producer_epoch;
    next.producer_epoch = next_epoch(next.producer_epoch);
  }
  write(c, id, next, [reply, next](Errc err) {
    if (err != Errc::NONE) return reply(err);
    reply(Errc::NONE, next.producer_id, next.producer_epoch);
  });
}

// ---- AddPartitionsToTxn / AddOffsetsToTxn --------------------------------------------------------------

void TransactionCoordinator::add_to_transaction(const std::string& id, ProducerId pid, ProducerEpoch epoch,
                                                const std::vector<TopicPartition>& parts,
                                                std::function<void(Errc)> reply) {
  auto [c, status] = target(id);
  if (status != Errc::NONE) return reply(status);
  TxnEntry* e = find(c, id);
  if (!e || e->current.producer_id != pid) return reply(Errc::INVALID_PRODUCER_ID_MAPPING);
  if (e->pending) return reply(Errc::CONCURRENT_TRANSACTIONS);
  if (e->current.producer_epoch != epoch) return reply(Errc::PRODUCER_FENCED);
  if (is_prepare(e->current.state)) return reply(Errc::CONCURRENT_TRANSACTIONS);
  const bool ongoing = e->current.state == TxnState::Ongoing;
  if (ongoing && std::all_of(parts.begin(), parts.end(), [&](const TopicPartition& tp) {
        return e->current.partitions.contains(tp);
      }))
    return reply(Errc::NONE);
  TxnMetadata next = e->current;
  next.state = TxnState::Ongoing;
  if (!ongoing) next.start_ms = now_ms();
  next.partitions.insert(parts.begin(), parts.end());
  write(c, id, next, std::move(reply));
}

void TransactionCoordinator::add_partitions(const sim::Incoming& in) {
  const auto& req = sim::payload_as<protocol::AddPartitionsToTxnRequest>(in.payload);
  auto reply = [this, in](Errc err) {
    const auto& rq = sim::payload_as<protocol::AddPartitionsToTxnRequest>(in.payload);
    protocol::AddPartitionsToTxnResponse r;
    for (const TopicPartition& tp : rq.partitions) r.partitions.emplace_back(tp, err);
    respond(in, "AddPartitionsToTxnResponse", sim::make_payload(std::move(r)),
            32 + 16 * static_cast<uint32_t>(rq.partitions.size()));
  };
  if (req.partitions.empty()) return reply(Errc::NONE);
  if (req.verify_only) {
    // KIP-890 part 1: "is each partition in this producer's ongoing transaction?"
    auto [c, status] = target(req.transactional_id);
    protocol::AddPartitionsToTxnResponse r;
    const TxnEntry* e = status == Errc::NONE ? find(c, req.transactional_id) : nullptr;
    for (const TopicPartition& tp : req.partitions) {
      Errc err = status;
      if (err == Errc::NONE) {
        if (!e || e->current.producer_id != req.producer_id)
          err = Errc::INVALID_PRODUCER_ID_MAPPING;
        else if (e->current.producer_epoch != req.producer_epoch)
          err = Errc::PRODUCER_FENCED;
        else if (e->current.state != TxnState::Ongoing || !e->current.partitions.contains(tp))
          err = Errc::INVALID_TXN_STATE;
      }
      r.partitions.emplace_back(tp, err);
    }
    return respond(in, "AddPartitionsToTxnResponse", sim::make_payload(std::move(r)), 64);
  }
  add_to_transaction(req.transactional_id, req.producer_id, req.producer_epoch, req.partitions, reply);
}

void TransactionCoordinator::add_offsets(const sim::Incoming& in) {
  const auto& req = sim::payload_as<protocol::AddOffsetsToTxnRequest>(in.payload);
  auto reply = [this, in](Errc err) {
    respond(in, "AddOffsetsToTxnResponse", sim::make_payload(protocol::AddOffsetsToTxnResponse{err}), 16);
  };
  if (req.group_id.empty()) return reply(Errc::INVALID_GROUP_ID);
  const TopicPartition tp{kGroupMetadataTopic, coordinator::partition_for(req.group_id, offsets_partitions_)};
  add_to_transaction(req.transactional_id, req.producer_id, req.producer_epoch, {tp}, reply);
}

// ---- EndTxn ------------------------------------------------------------------------------------------------

void TransactionCoordinator::end_txn(const sim::Incoming& in) {
  const auto& req = sim::payload_as<protocol::EndTxnRequest>(in.payload);
  auto reply = [this, in](Errc err, ProducerId pid = kNoProducerId, ProducerEpoch epoch = kNoProducerEpoch) {
    respond(in, "EndTxnResponse", sim::make_payload(protocol::EndTxnResponse{err, pid, epoch}), 24);
  };
  auto [c, status] = target(req.transactional_id);
  if (status != Errc::NONE) return reply(status);
  TxnEntry* e = find(c, req.transactional_id);
  if (!e || e->current.producer_id != req.producer_id) return reply(Errc::INVALID_PRODUCER_ID_MAPPING);
  // A transition in flight (e.g. the Complete record after the markers): the
  // caller retries, whatever its epoch (Kafka checks pendingTransitionInProgress first).
  if (e->pending) return reply(Errc::CONCURRENT_TRANSACTIONS);
  const TxnMetadata& cur = e->current;
  const TxnState done = req.committed ? TxnState::CompleteCommit : TxnState::CompleteAbort;
  const TxnState prepare = req.committed ? TxnState::PrepareCommit : TxnState::PrepareAbort;
  // A retry of an EndTxn that already went through (TV2: with the epoch before the bump).
  const bool retry_epoch = version_ >= 2 ? req.producer_epoch == cur.last_producer_epoch && cur.producer_epoch != cur.last_producer_epoch
                                         : req.producer_epoch == cur.producer_epoch;
  if ((cur.state == done || cur.state == prepare) && retry_epoch) {
    if (cur.state == prepare) return reply(Errc::CONCURRENT_TRANSACTIONS);
    return reply(Errc::NONE, cur.producer_id, cur.producer_epoch);
  }
  if (req.producer_epoch != cur.producer_epoch) return reply(Errc::PRODUCER_FENCED);
  if (is_prepare(cur.state)) return reply(Errc::CONCURRENT_TRANSACTIONS);
  if (cur.state != TxnState::Ongoing) {
    // Nothing open: aborting nothing is fine (the producer aborts after an
    // error before anything was added); committing nothing is a misuse.
    if (req.committed || !(cur.state == TxnState::Empty || is_complete(cur.state)))
      return reply(Errc::INVALID_TXN_STATE);
    // TV1: aborting what already committed is refused (Kafka's TV1 coordinator).
    if (version_ < 2 && cur.state == TxnState::CompleteCommit) return reply(Errc::INVALID_TXN_STATE);
    if (version_ < 2) return reply(Errc::NONE, cur.producer_id, cur.producer_epoch);
    // TV2 bumps the epoch even then: a produce of this transaction may still
    // be on its way, and must not open a transaction nobody will end.
    if (cur.producer_epoch.value >= kMaxEpoch) return reply(Errc::PRODUCER_FENCED);
    TxnMetadata next = cur;
    next.state = TxnState::CompleteAbort;
    next.last_producer_epoch = next.producer_epoch;
    next.producer_epoch = next_epoch(next.producer_epoch);
    world_.probe("txn: empty abort bumps the epoch (TV2)");
    return write(c, req.transactional_id, next, [reply, next](Errc err) {
      if (err != Errc::NONE) return reply(err);
      reply(Errc::NONE, next.producer_id, next.producer_epoch);
    });
  }
  TxnMetadata next = cur;
  next.state = prepare;
  if (version_ >= 2) {
    // TV2: every transaction ends with an epoch bump; the markers carry the new
    // epoch, so a late write of this transaction is refused by its partition.
    if (next.producer_epoch.value >= kMaxEpoch) return reply(Errc::PRODUCER_FENCED);  // see README: not modelled
    next.last_producer_epoch = next.producer_epoch;
    next.producer_epoch = next_epoch(next.producer_epoch);
  }
  const std::string id = req.transactional_id;
  write(c, id, next, [this, c = c, id, reply, next](Errc err) {
    if (err != Errc::NONE) return reply(err);
    reply(Errc::NONE, next.producer_id, next.producer_epoch);
    complete_transaction(c, id);
  });
}

// ---- observation ---------------------------------------------------------------------------------------------

TxnDescription TransactionCoordinator::describe(const std::string& id) const {
  TxnDescription d;
  d.transactional_id = id;
  d.coordinator = broker_id_;
  auto [c, status] = target(id);
  d.error = status;
  if (status != Errc::NONE) return d;
  auto s = shards_.find(c.partition);
  if (s == shards_.end() || !s->second.txns.count(id)) {
    d.error = Errc::TRANSACTIONAL_ID_NOT_FOUND;
    return d;
  }
  const TxnMetadata& m = s->second.txns.at(id).current;
  d.state = txn_state_name(m.state);
  d.producer_id = m.producer_id;
  d.producer_epoch = m.producer_epoch;
  d.timeout_ms = m.timeout_ms;
  d.start_ms = m.start_ms;
  d.partitions.assign(m.partitions.begin(), m.partitions.end());
  return d;
}

}  // namespace ksim::coordinator
