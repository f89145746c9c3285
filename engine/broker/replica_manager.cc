#include "engine/broker/replica_manager.h"

#include <algorithm>
#include <cassert>

#include "engine/storage/control_record.h"

namespace ksim {

ReplicaManager::ReplicaManager(sim::World& world, sim::NodeId self, int32_t broker_id, const Config& config,
                               ReplicationSwitches switches)
    : world_(world),
      self_(self),
      broker_id_(broker_id),
      config_(config),
      switches_(switches),
      fetch_sessions_(config.get_int("max.incremental.fetch.session.cache.slots"),
                      world.rng("fetch-session-ids/broker-" + std::to_string(broker_id) + "/incarnation-" +
                                std::to_string(world.incarnation(self)))) {
  sim::Network& net = world_.network();
  produce_resp_ = net.kind("ProduceResponse");
  fetch_resp_ = net.kind("FetchResponse");
  ofle_resp_ = net.kind("OffsetsForLeaderEpochResponse");
  list_offsets_resp_ = net.kind("ListOffsetsResponse");
  write_txn_markers_resp_ = net.kind("WriteTxnMarkersResponse");
}

Partition* ReplicaManager::get(const TopicPartition& tp) {
  auto it = index_.find(tp);
  return it == index_.end() ? nullptr : it->second;
}

void ReplicaManager::add(std::unique_ptr<Partition> p) {
  const TopicPartition tp = p->tp();
  index_[tp] = p.get();
  partitions_[tp] = std::move(p);
  ++partitions_generation_;
}

BrokerMetrics ReplicaManager::metrics() const {
  BrokerMetrics m = metrics_;
  for (const auto& [tp, p] : partitions_) {
    m.isr_shrinks += p->isr_shrinks();
    m.isr_expands += p->isr_expands();
  }
  return m;
}

void ReplicaManager::remove(const TopicPartition& tp) {
  index_.erase(tp);
  partitions_.erase(tp);
  ++partitions_generation_;
  isr_changes_.erase(tp);
}

// ---- Produce ------------------------------------------------------------------------------

bool ReplicaManager::needs_verification(const protocol::ProduceRequest& req, size_t i) const {
  const auto& [tp, batch] = req.partitions[i];
  if (!verify_transaction || !req.transactional_id || !batch->is_transactional() || batch->is_control()) return false;
  auto it = partitions_.find(tp);
  // Not led here: the append answers NOT_LEADER_OR_FOLLOWER anyway.
  if (it == partitions_.end() || !it->second->is_leader()) return false;
  // Already in an open transaction of this epoch here: the coordinator knows
  // the partition (Kafka's hasOngoingTransaction(producerId, producerEpoch)).
  // A TV2 producer's next transaction (epoch + 1) may arrive before the
  // previous one's marker: it must be verified, or that marker would commit it.
  const auto entry = it->second->log().producer_state().entry(batch->producer_id());
  return !(entry && entry->current_txn_first_offset && entry->epoch == batch->producer_epoch());
}

std::vector<Errc> ReplicaManager::verify_produce(const protocol::ProduceRequest& req) {
  std::vector<Errc> out(req.partitions.size(), Errc::NONE);
  for (size_t i = 0; i < req.partitions.size(); ++i) {
    if (!needs_verification(req, i)) continue;
    const auto& [tp, batch] = req.partitions[i];
    out[i] = verify_transaction(*req.transactional_id, batch->producer_id(), batch->producer_epoch(), tp);
    if (out[i] != Errc::NONE) world_.probe("broker: transactional produce failed verification");
  }
  return out;
}

void ReplicaManager::handle_produce(const sim::Incoming& in) {
  const auto& req = sim::payload_as<protocol::ProduceRequest>(in.payload);
  ++metrics_.produce_requests;
  // KIP-890 verification asks the transaction coordinator (maybe this very
  // broker): it must not hold a request handler, and a producer's requests
  // must still reach the log in order (Kafka handles one request per
  // connection at a time). So a request of a producer that needs verifying —
  // or that queues behind one — takes a ticket in its producer's queue and
  // goes on in a fiber of its own, in ticket order.
  if (!verify_transaction || !req.transactional_id) return produce(in, nullptr);  // the common case
  std::set<int64_t> pids;
  bool verify = false;
  for (size_t i = 0; i < req.partitions.size(); ++i) {
    const auto& batch = req.partitions[i].second;
    if (!batch->is_transactional()) continue;
    pids.insert(batch->producer_id().value);
    verify = verify || needs_verification(req, i);
  }
  const bool queued = std::any_of(pids.begin(), pids.end(), [&](int64_t p) { return verify_queue_.count(p) > 0; });
  if (!verify && !queued) return produce(in, nullptr);
  if (!verified_cv_) verified_cv_ = std::make_unique<sim::CondVar>(world_);
  const uint64_t ticket = next_verify_ticket_++;
  for (int64_t p : pids) verify_queue_[p].push_back(ticket);
  if (queued) world_.probe("broker: produce waits for an earlier verification of its producer");
  world_.spawn(self_, "produce-verify", [this, in, pids, ticket] {
    auto my_turn = [&] {
      return std::all_of(pids.begin(), pids.end(), [&](int64_t p) { return verify_queue_.at(p).front() == ticket; });
    };
    verified_cv_->wait(my_turn);
    const auto& r = sim::payload_as<protocol::ProduceRequest>(in.payload);
    const std::vector<Errc> verified = verify_produce(r);
    produce(in, &verified);
    for (int64_t p : pids) {
      std::deque<uint64_t>& q = verify_queue_.at(p);
      q.pop_front();
      if (q.empty()) verify_queue_.erase(p);
    }
    verified_cv_->notify_all();
  });
}

void ReplicaManager::produce(const sim::Incoming& in, const std::vector<Errc>* verified) {
  const auto& req = sim::payload_as<protocol::ProduceRequest>(in.payload);
  auto delayed = std::make_shared<DelayedProduce>();
  delayed->request = in;
  delayed->deadline = world_.now() + sim::milliseconds(req.timeout_ms);
  bool wait = false;
  for (size_t i = 0; i < req.partitions.size(); ++i) {
    const auto& [tp, batch] = req.partitions[i];
    protocol::ProducePartitionResponse res;
    res.tp = tp;
    Offset required = kNoOffset;
    Partition* p = get(tp);
    LeaderEpoch epoch = kNoEpoch;
    if (verified && (*verified)[i] != Errc::NONE) {
      res.error = (*verified)[i];
    } else if (!p || !p->is_leader()) {
      res.error = Errc::NOT_LEADER_OR_FOLLOWER;
    } else {
      const int32_t min_isr = min_isr_of ? min_isr_of(tp.topic) : 1;
      // Under the role lock (Kafka's leaderIsrUpdateLock): an append never
      // lands after this replica stopped leading.
      sim::LockGuard g(p->role_lock());
      epoch = p->leader_epoch();
      auto r = p->is_leader() ? p->append_as_leader(batch, req.acks, min_isr)
                              : storage::Result<storage::LogAppendInfo>(Errc::NOT_LEADER_OR_FOLLOWER);
      if (!r.ok()) {
        res.error = r.error;
      } else {
        res.base_offset = r.value.first_offset;
        res.log_append_time_ms = r.value.log_append_time;
        res.log_start_offset = p->log().log_start_offset();
        metrics_.messages_in += static_cast<uint64_t>(r.value.num_records);
        metrics_.bytes_in += static_cast<uint64_t>(batch->size_in_bytes());
        if (req.acks == -1 && !switches_.bug_ack_before_isr) {
          required = r.value.last_offset + 1;
          wait = true;
        }
        wake_fetches(tp);  // followers long-polling for this partition
      }
    }
    if (res.error != Errc::NONE) ++metrics_.failed_produce;
    delayed->results.push_back(res);
    delayed->required.push_back(required);
    delayed->epochs.push_back(epoch);
  }
  if (in.dir != sim::Direction::request) {  // acks=0: nobody listens, but the quota counts it
    if (produce_throttle) produce_throttle(in);
    return;
  }
  delayed->respond = [this](const DelayedProduce& d) {
    protocol::ProduceResponse resp{d.results};
    if (produce_throttle) resp.throttle_time_ms = produce_throttle(d.request);
    world_.network().respond(d.request, produce_resp_, sim::make_payload(std::move(resp)), 64);
  };
  complete_or_park(delayed, wait, req.timeout_ms);
}

void ReplicaManager::complete_or_park(const std::shared_ptr<DelayedProduce>& d, bool wait, int32_t timeout_ms) {
  if (!wait) {
    d->done = true;
    d->respond(*d);
    return;
  }
  delayed_produce_.push_back(d);
  d->expiry = world_.schedule_after(self_, sim::milliseconds(timeout_ms), [this] { try_complete_produce(); });
  try_complete_produce();
}

void ReplicaManager::try_complete_produce() {
  const sim::Instant now = world_.now();
  for (auto& d : delayed_produce_) {
    if (d->done) continue;
    bool all = true;
    for (size_t i = 0; i < d->results.size(); ++i) {
      if (d->required[i] == kNoOffset) continue;
      Partition* p = get(d->results[i].tp);
      // A leader epoch change means the batch may have been truncated away.
      std::optional<Errc> c = (!p || !p->is_leader() || p->leader_epoch() != d->epochs[i])
                                  ? std::optional<Errc>(Errc::NOT_LEADER_OR_FOLLOWER)
                                  : p->check_enough_replicas_reach(d->required[i],
                                                                   min_isr_of ? min_isr_of(p->tp().topic) : 1);
      if (c) {
        d->results[i].error = *c;
        d->required[i] = kNoOffset;
      } else if (now >= d->deadline) {
        d->results[i].error = Errc::REQUEST_TIMED_OUT;
        d->required[i] = kNoOffset;
      } else {
        all = false;
      }
    }
    if (!all) continue;
    d->done = true;
    world_.cancel(d->expiry);
    if (d->is_produce)
      for (const auto& r : d->results)
        if (r.error != Errc::NONE) ++metrics_.failed_produce;
    d->respond(*d);
  }
  std::erase_if(delayed_produce_, [](const auto& d) { return d->done; });
}

// ---- WriteTxnMarkers --------------------------------------------------------------------------

void ReplicaManager::handle_write_txn_markers(const sim::Incoming& in) {
  const auto& req = sim::payload_as<protocol::WriteTxnMarkersRequest>(in.payload);
  auto delayed = std::make_shared<DelayedProduce>();
  delayed->request = in;
  delayed->deadline = world_.now() + sim::milliseconds(kWriteTxnMarkersTimeoutMs);
  delayed->is_produce = false;
  const int64_t now_ms = world_.now().ns / 1'000'000;
  bool wait = false;
  // One result per (marker, partition), in request order.
  for (const protocol::WritableTxnMarker& m : req.markers) {
    for (const TopicPartition& tp : m.partitions) {
      protocol::ProducePartitionResponse res;
      res.tp = tp;
      Offset required = kNoOffset;
      LeaderEpoch epoch = kNoEpoch;
      Partition* p = get(tp);
      if (!p) {
        res.error = Errc::UNKNOWN_TOPIC_OR_PARTITION;  // Kafka: no local log (getMagic is None)
      } else if (!p->is_leader()) {
        res.error = Errc::NOT_LEADER_OR_FOLLOWER;
      } else if (marker_ready && !marker_ready(tp)) {
        res.error = Errc::COORDINATOR_LOAD_IN_PROGRESS;
      } else if (const auto e = p->log().producer_state().entry(m.producer_id);
                 m.transaction_version >= 2 && e && m.producer_epoch == e->epoch && !e->current_txn_first_offset) {
        // The same TV2 marker again, its transaction already ended here: a
        // retry whose answer was lost (or a coordinator that reloaded
        // PREPARE_*). Kafka (KAFKA-19999) answers it as an idempotent
        // success. It is answered once the log is replicated up to its end,
        // where the first copy is: refusing it made the coordinator drop the
        // marker while that copy was still uncommitted, and a leader change
        // then truncated it away — an aborted transaction later read as
        // committed (the hunt's seed 3206).
        world_.probe("broker: TV2 marker retry answered as written");
        sim::LockGuard g(p->role_lock());
        epoch = p->leader_epoch();
        required = p->log().log_end_offset();
        wait = true;
      } else if (m.transaction_version >= 2 && e && m.producer_epoch <= e->epoch) {
        world_.probe("broker: stale TV2 marker refused");
        res.error = Errc::INVALID_PRODUCER_EPOCH;
      } else {
        const int32_t min_isr = min_isr_of ? min_isr_of(tp.topic) : 1;
        const storage::BatchPtr marker =
            storage::build_marker_batch(m.producer_id, m.producer_epoch, m.committed, m.coordinator_epoch, now_ms);
        const Offset hw_before = p->high_watermark();
        std::optional<Offset> appended;
        {
          // As a produce: under the role lock, in the current leader epoch, acks=all.
          sim::LockGuard g(p->role_lock());
          epoch = p->leader_epoch();
          auto r = p->is_leader() ? p->append_as_leader(marker, -1, min_isr, storage::AppendOrigin::coordinator)
                                  : storage::Result<storage::LogAppendInfo>(Errc::NOT_LEADER_OR_FOLLOWER);
          if (!r.ok()) {
            res.error = r.error;
          } else {
            appended = r.value.first_offset;
            res.base_offset = r.value.first_offset;
            required = r.value.last_offset + 1;
            wait = true;
          }
        }
        if (appended) {
          world_.probe(m.committed ? "broker: COMMIT marker appended" : "broker: ABORT marker appended");
          // An ISR of one moved the HW (and maybe the LSO) at the append.
          Partition* now_p = get(tp);
          if (now_p && now_p->high_watermark() > hw_before)
            hw_moved(tp);
          else
            wake_fetches(tp);  // followers long-polling for this partition
          if (marker_listener) marker_listener(tp, m.producer_id, m.committed, *appended);
        }
      }
      delayed->results.push_back(res);
      delayed->required.push_back(required);
      delayed->epochs.push_back(epoch);
    }
  }
  delayed->respond = [this](const DelayedProduce& d) {
    const auto& request = sim::payload_as<protocol::WriteTxnMarkersRequest>(d.request.payload);
    protocol::WriteTxnMarkersResponse resp;
    size_t i = 0;
    for (const protocol::WritableTxnMarker& m : request.markers) {
      protocol::WriteTxnMarkersResult r;
      r.producer_id = m.producer_id;
      for (size_t k = 0; k < m.partitions.size(); ++k, ++i) r.partitions.emplace_back(d.results[i].tp, d.results[i].error);
      resp.markers.push_back(std::move(r));
    }
    world_.network().respond(d.request, write_txn_markers_resp_, sim::make_payload(std::move(resp)), 64);
  };
  complete_or_park(delayed, wait, kWriteTxnMarkersTimeoutMs);
}

// ---- Fetch ---------------------------------------------------------------------------------

void ReplicaManager::handle_fetch(const sim::Incoming& in, bool retry) {
  const auto& req = sim::payload_as<protocol::FetchRequest>(in.payload);
  if (!retry) ++metrics_.fetch_requests;
  const sim::Instant now = world_.now();
  // A re-run of a parked fetch carries its original deadline in the tag.
  const sim::Instant deadline = retry ? sim::Instant{static_cast<int64_t>(in.tag)}
                                      : now + sim::milliseconds(req.max_wait_ms);
  const bool follower = req.replica_id >= 0;
  const bool read_committed = !follower && req.isolation == protocol::IsolationLevel::read_committed;

  // KIP-227 (fetch_session.h): an incremental fetch reads its session's
  // partitions. The session takes the request's changes when it first
  // arrives; a parked re-run only checks nobody moved the session on since.
  auto session_error = [&](Errc e) {
    protocol::FetchResponse resp;
    resp.error = e;
    world_.network().respond(in, fetch_resp_, sim::make_payload(std::move(resp)), 64);
  };
  std::shared_ptr<FetchSession> session;  // held: another handler may close it while a read blocks
  if (req.session_epoch > 0) {
    session = fetch_sessions_.get(req.session_id);
    if (!session) return session_error(Errc::FETCH_SESSION_ID_NOT_FOUND);
    if (session->epoch != (retry ? next_fetch_epoch(req.session_epoch) : req.session_epoch))
      return session_error(Errc::INVALID_FETCH_SESSION_EPOCH);
    if (!retry) {
      session->update(req.partitions, req.forgotten);
      session->epoch = next_fetch_epoch(session->epoch);
      fetch_sessions_.touch(*session, now);
    }
  } else if (!retry && req.session_id != kInvalidFetchSessionId) {
    fetch_sessions_.remove(req.session_id);  // a full fetch closes the session it names
  }

  protocol::FetchResponse resp;
  int64_t bytes = 0;
  bool any_error = false;
  // Kafka cuts a quota'd consumer's fetch to what its quota admits in a window (at least one batch).
  const std::optional<int64_t> quota_bytes = !follower && fetch_quota_bytes ? fetch_quota_bytes(in) : std::nullopt;
  // Reads one partition into resp.partitions. With `cached` (a session's
  // partition), an IDLE one is skipped: no records to read, no error, and the
  // high watermark and log start offset the session last answered. Kafka
  // reads it all the same and then leaves it out of the incremental answer
  // (answer_incremental's rule); skipping it up front spares the response
  // object and the last stable offset, which lives in another cache line of
  // every idle partition.
  auto read = [&](const protocol::FetchPartition& fp, Partition* p, const CachedPartition* cached) {
    protocol::FetchPartitionResponse r;
    r.tp = fp.tp;
    if (!p || !p->is_leader()) {
      r.error = Errc::NOT_LEADER_OR_FOLLOWER;
      if (p) r.current_leader = p->leader();
    } else if (Errc e = p->validate_fetch_epoch(fp.current_leader_epoch); e != Errc::NONE) {
      r.error = e;
    } else {
      storage::UnifiedLog& log = p->log();
      if (fp.fetch_offset < log.log_start_offset() || fp.fetch_offset > log.log_end_offset()) {
        r.error = Errc::OFFSET_OUT_OF_RANGE;
      } else {
        // Consumers see only what is committed (below the HW) — read_committed
        // ones only what is stable (below the LSO); followers all.
        const std::optional<Offset> limit =
            follower || switches_.bug_read_past_hw
                ? std::nullopt
                : std::optional<Offset>(read_committed ? p->last_stable_offset() : p->high_watermark());
        // The response's max_bytes (fetch.max.bytes, replica.fetch.response.max.bytes)
        // bounds the whole answer, and a quota'd consumer's what its quota
        // admits; only the first batch of the response may exceed them (Kafka's
        // "at least one batch", so a large batch never stalls a fetcher).
        int64_t max_bytes = std::min<int64_t>(fp.partition_max_bytes, std::max<int64_t>(req.max_bytes - bytes, 0));
        if (quota_bytes) max_bytes = std::min<int64_t>(max_bytes, std::max<int64_t>(*quota_bytes - bytes, 0));
        if (fp.fetch_offset < (limit ? *limit : log.log_end_offset()) && (max_bytes > 0 || bytes == 0)) {
          auto rd = log.read(fp.fetch_offset, max_bytes, limit, bytes == 0);
          if (rd.ok())
            r.batches = std::move(rd.value);
          else
            r.error = rd.error;
        }
        // Kafka's collectAbortedTransactions: the aborted transactions that
        // overlap what this response holds, so the consumer can drop their batches.
        if (read_committed && !r.batches.empty())
          for (const storage::CompletedTxn& t :
               log.aborted_transactions(fp.fetch_offset, r.batches.back()->next_offset()))
            r.aborted_transactions.push_back(protocol::AbortedTxn{t.producer_id, t.first_offset});
        // A re-run of a parked fetch must not replay its (old) fetch offset
        // into the follower's state (Kafka completes DelayedFetch with
        // updateFetchState = false).
        if (follower && !retry) {
          if (p->on_follower_fetch(req.replica_id, fp.fetch_offset, now)) hw_moved(fp.tp);
          maybe_expand(*p, req.replica_id);
        }
      }
      if (cached && r.error == Errc::NONE && r.batches.empty() && cached->high_watermark == p->high_watermark() &&
          cached->log_start_offset == log.log_start_offset())
        return;
      r.high_watermark = p->high_watermark();
      r.last_stable_offset = p->last_stable_offset();
      r.log_start_offset = log.log_start_offset();
    }
    any_error = any_error || r.error != Errc::NONE;
    for (const auto& b : r.batches) bytes += static_cast<int64_t>(b->size_in_bytes());
    resp.partitions.push_back(std::move(r));
  };
  if (session) {
    // Room for a few answered partitions up front: most answers name one or
    // two, and growing from one element allocated twice per answer.
    resp.partitions.reserve(std::min<size_t>(session->partitions.size(), 4));
    // A snapshot: a read may block on a log lock, and the session may move on
    // meanwhile (checked below).
    // Each partition's lookup comes from the session's cache while no
    // partition was added or removed (refreshed in the session, for the next
    // fetches; and in the snapshot, as a read that blocks may let one go).
    for (CachedPartition& c : session->partitions) get(c.request.tp, c.lookup);
    std::vector<CachedPartition> asked;
    if (!spare_snapshots_.empty()) {
      asked = std::move(spare_snapshots_.back());
      spare_snapshots_.pop_back();
    }
    asked.assign(session->partitions.begin(), session->partitions.end());
    for (CachedPartition& c : asked) read(c.request, get(c.request.tp, c.lookup), &c);
    if (spare_snapshots_.size() < kSpareSnapshots) spare_snapshots_.push_back(std::move(asked));
    // Kafka's check as it answers: the session must still be the cache's, at
    // the epoch this request left it (a newer request, a close or an eviction
    // moved it on: this answer would not match it).
    if (fetch_sessions_.get(session->id) != session || session->epoch != next_fetch_epoch(req.session_epoch))
      return session_error(Errc::INVALID_FETCH_SESSION_EPOCH);
  } else {
    resp.partitions.reserve(req.partitions.size());
    for (const auto& fp : req.partitions) read(fp, get(fp.tp), nullptr);
  }
  // Kafka answers at once a fetch with nothing to read (a closing fetch, a
  // session with no partitions): there is no partition whose data could wake it.
  const bool nothing_asked = session ? session->partitions.empty() : req.partitions.empty();
  if (!any_error && !nothing_asked && bytes < req.min_bytes && now < deadline) {
    // Park (DelayedFetch): re-run when data arrives or at the deadline.
    std::unique_ptr<DelayedFetch> d;
    if (spare_delayed_fetch_.empty()) {
      d = std::make_unique<DelayedFetch>();
    } else {
      d = std::move(spare_delayed_fetch_.back());
      spare_delayed_fetch_.pop_back();
    }
    d->request = in;
    d->request.tag = static_cast<uint64_t>(deadline.ns);
    // It waits on every partition it asked for: a session's idle ones too
    // (the session is the one read above: the epoch check just passed).
    d->partitions.clear();
    if (session) {
      for (const CachedPartition& c : session->partitions) d->partitions.push_back(c.request.tp);
    } else {
      for (const auto& r : resp.partitions) d->partitions.push_back(r.tp);
    }
    DelayedFetch* parked = d.get();
    delayed_fetch_.push_back(std::move(d));
    parked->expiry = world_.schedule_after(self_, deadline - now, [this, parked] { expire_fetch(parked); });
    return;
  }
  uint32_t size = 64;
  for (const auto& r : resp.partitions)
    for (const auto& b : r.batches) size += static_cast<uint32_t>(b->size_in_bytes());
  // A consumer over its fetch quota gets an empty answer with the throttle
  // time (Kafka's getThrottledResponse: no session is opened or moved);
  // followers have no client quota.
  if (!follower && fetch_throttle)
    if (const int32_t throttle_ms = fetch_throttle(in, size); throttle_ms > 0) {
      resp = protocol::FetchResponse{};
      resp.throttle_time_ms = throttle_ms;
      resp.session_id = session ? session->id : kInvalidFetchSessionId;
      world_.network().respond(in, fetch_resp_, sim::make_payload(std::move(resp)), 64);
      return;
    }
  if (session) {
    answer_incremental(*session, resp);
  } else if (req.session_epoch == kInitialFetchEpoch) {
    // A full fetch opens a session over what it asked, remembering what it answered.
    std::vector<CachedPartition> cached(req.partitions.size());
    for (size_t i = 0; i < cached.size(); ++i) {
      cached[i].request = req.partitions[i];
      cached[i].high_watermark = resp.partitions[i].high_watermark;
      cached[i].log_start_offset = resp.partitions[i].log_start_offset;
    }
    resp.session_id = fetch_sessions_.maybe_create(now, follower, std::move(cached));
  }
  world_.network().respond(in, fetch_resp_, sim::make_payload(std::move(resp)), size);
}

void ReplicaManager::answer_incremental(FetchSession& session, protocol::FetchResponse& resp) {
  // Kafka's CachedPartition.maybeUpdateResponseData: a partition is answered
  // if it has records, a new high watermark or log start offset, an error
  // (whose cached HW is then forgotten, so it is answered again once the
  // error clears) or a hint. Answered records move the partition to the back.
  // resp.partitions holds some of the session's partitions, in session
  // order; the others were idle (handle_fetch's read skipped them: nothing to
  // answer). A session holds a partition once, so a merge walk pairs them.
  assert(resp.partitions.size() <= session.partitions.size());
  std::vector<uint8_t>& has_records = has_records_scratch_;
  has_records.assign(session.partitions.size(), 0);
  size_t answered = 0;  // resp.partitions[0, answered) are the answered ones, in order
  bool any_records = false;
  size_t at = 0;  // the session partition resp.partitions[k] answers
  for (size_t k = 0; k < resp.partitions.size(); ++k, ++at) {
    protocol::FetchPartitionResponse& r = resp.partitions[k];
    while (at < session.partitions.size() && !(session.partitions[at].request.tp == r.tp)) ++at;
    SIM_ASSERT(at < session.partitions.size(), "fetch: an answered partition is not in its session");
    CachedPartition& c = session.partitions[at];
    bool answer = !r.batches.empty() || r.diverging_epoch.has_value() || r.current_leader.has_value();
    if (c.high_watermark != r.high_watermark) {
      answer = true;
      c.high_watermark = r.high_watermark;
    }
    if (c.log_start_offset != r.log_start_offset) {
      answer = true;
      c.log_start_offset = r.log_start_offset;
    }
    if (r.error != Errc::NONE) {
      answer = true;
      c.high_watermark = kNoOffset;
    }
    has_records[at] = !r.batches.empty();
    any_records = any_records || has_records[at];
    if (answer) {
      if (answered != k) resp.partitions[answered] = std::move(r);
      ++answered;
    }
  }
  resp.partitions.erase(resp.partitions.begin() + static_cast<std::ptrdiff_t>(answered), resp.partitions.end());
  if (any_records) {
    // Built in a kept buffer, then swapped with the session's: its old
    // buffer is the next answer's (no allocation per answer with records).
    std::vector<CachedPartition>& order = reorder_scratch_;
    order.clear();
    order.reserve(session.partitions.size());
    for (int pass = 0; pass < 2; ++pass)
      for (size_t i = 0; i < has_records.size(); ++i)
        if (has_records[i] == pass) order.push_back(session.partitions[i]);
    session.partitions.swap(order);
  }
  resp.session_id = session.id;
}

void ReplicaManager::on_partition_changed(const TopicPartition& tp) {
  if (Partition* p = get(tp)) p->maybe_increment_hw();
  hw_moved(tp);
}

void ReplicaManager::wake_fetches(const TopicPartition& tp) {
  // Those waiting on tp leave in the order they parked; the rest keep theirs.
  std::vector<std::unique_ptr<DelayedFetch>> ready = std::move(ready_scratch_);
  ready.clear();
  size_t kept = 0;
  for (auto& d : delayed_fetch_) {
    if (std::find(d->partitions.begin(), d->partitions.end(), tp) != d->partitions.end())
      ready.push_back(std::move(d));
    else
      delayed_fetch_[kept++] = std::move(d);
  }
  delayed_fetch_.resize(kept);
  metrics_.delayed_fetch_wakeups += ready.size();
  for (auto& d : ready) {
    world_.cancel(d->expiry);
    release_fetch(std::move(d));
  }
  ready.clear();
  ready_scratch_ = std::move(ready);  // its capacity, for the next wake
}

void ReplicaManager::expire_fetch(DelayedFetch* d) {
  // Pointer equality, never order: the parked object is found, not sorted.
  auto it = std::find_if(delayed_fetch_.begin(), delayed_fetch_.end(),
                         [d](const std::unique_ptr<DelayedFetch>& p) { return p.get() == d; });
  SIM_ASSERT(it != delayed_fetch_.end(), "a parked fetch's expiry fired after it left the purgatory");
  std::unique_ptr<DelayedFetch> owned = std::move(*it);
  delayed_fetch_.erase(it);
  release_fetch(std::move(owned));
}

void ReplicaManager::release_fetch(std::unique_ptr<DelayedFetch> d) {
  if (requeue) requeue(std::move(d->request));
  d->request = sim::Incoming{};  // drops the payload now, not when the object is reused
  if (spare_delayed_fetch_.size() < kSpareDelayedFetches) spare_delayed_fetch_.push_back(std::move(d));
}

void ReplicaManager::hw_moved(const TopicPartition& tp) {
  try_complete_produce();
  wake_fetches(tp);  // consumers long-polling for newly committed records
  if (hw_listener) hw_listener(tp);
}

// ---- OffsetsForLeaderEpoch / ListOffsets ----------------------------------------------------------

void ReplicaManager::handle_offsets_for_leader_epoch(const sim::Incoming& in) {
  const auto& req = sim::payload_as<protocol::OffsetsForLeaderEpochRequest>(in.payload);
  protocol::OffsetsForLeaderEpochResponse resp;
  for (const auto& q : req.partitions) {
    Partition* p = get(q.tp);
    protocol::OffsetForLeaderEpochResult r;
    r.tp = q.tp;
    if (!p || !p->is_leader())
      r.error = Errc::NOT_LEADER_OR_FOLLOWER;
    else if (Errc e = p->validate_fetch_epoch(q.current_leader_epoch); e != Errc::NONE)
      r.error = e;
    else
      r = p->end_offset_for_epoch(q.leader_epoch);
    resp.partitions.push_back(r);
  }
  world_.network().respond(in, ofle_resp_, sim::make_payload(std::move(resp)), 64);
}

void ReplicaManager::handle_list_offsets(const sim::Incoming& in) {
  const auto& req = sim::payload_as<protocol::ListOffsetsRequest>(in.payload);
  protocol::ListOffsetsResponse resp;
  const bool read_committed = req.isolation == protocol::IsolationLevel::read_committed;
  for (const auto& [tp, ts] : req.partitions) {
    protocol::ListOffsetsPartitionResponse r;
    r.tp = tp;
    Partition* p = get(tp);
    // Kafka's lastFetchableOffset: what a consumer of this isolation may read.
    const Offset fetchable =
        !p ? kNoOffset : read_committed ? p->last_stable_offset() : p->high_watermark();
    if (!p || !p->is_leader()) {
      r.error = Errc::NOT_LEADER_OR_FOLLOWER;
    } else if (ts == protocol::kLatestTimestamp) {
      r.offset = fetchable;
    } else if (ts == protocol::kEarliestTimestamp) {
      r.offset = p->log().log_start_offset();
    } else {
      auto f = p->log().fetch_offset_by_timestamp(ts);
      if (!f.ok()) {
        r.error = f.error;
      } else if (f.value && f.value->offset < fetchable) {
        r.offset = f.value->offset;
        r.timestamp = f.value->timestamp;
        r.leader_epoch = f.value->leader_epoch;
      }
    }
    resp.partitions.push_back(r);
  }
  world_.network().respond(in, list_offsets_resp_, sim::make_payload(std::move(resp)), 64);
}

// ---- ISR --------------------------------------------------------------------------------------------

void ReplicaManager::maybe_expand(Partition& p, int32_t follower) {
  if (broker_usable && !broker_usable(follower)) return;
  if (auto isr = p.isr_after_expand(follower)) {
    p.set_pending_isr(*isr);
    isr_changes_[p.tp()] = *isr;
  }
}

void ReplicaManager::isr_shrink_pass() {
  const sim::Duration lag = sim::milliseconds(config_.get_long("replica.lag.time.max.ms"));
  for (auto& [tp, p] : partitions_) {
    if (auto isr = p->isr_after_shrink(world_.now(), lag)) {
      p->set_pending_isr(*isr);
      isr_changes_[tp] = *isr;
    }
  }
}

bool ReplicaManager::alter_partition_pass() {
  if (isr_changes_.empty() || !controller_call_) return false;
  const auto [tp, isr] = *isr_changes_.begin();
  Partition* p = get(tp);
  if (!p || !p->is_leader() || !p->pending_isr() || *p->pending_isr() != isr) {
    isr_changes_.erase(tp);  // obsolete: the partition moved on
    return true;
  }
  protocol::AlterPartitionRequest req{broker_id_, broker_epoch_, tp, p->leader_epoch().value, p->partition_epoch(), isr};
  const sim::Reply reply = controller_call_("AlterPartition", sim::make_payload(req), 64);
  p = get(tp);  // the partition may have changed while we waited
  if (reply.status != sim::CallStatus::ok || !p) return false;  // retry after a pause
  const auto& resp = sim::payload_as<protocol::AlterPartitionResponse>(reply.payload);
  if (resp.error == Errc::NOT_CONTROLLER) {
    // Not attempted (no active controller, or its proposal did not commit):
    // Kafka's AlterPartitionManager sends it again, to the new controller. Had
    // it committed after all, the resend gets INVALID_UPDATE_VERSION and the
    // metadata brings the truth. Waiting for metadata instead would wait
    // forever when nothing changed (ksim hunt found an ISR never expanded).
    world_.probe("isr: AlterPartition resent (NOT_CONTROLLER)");
    return false;  // retry after a pause
  }
  // Only the change we sent is done: a newer target queued meanwhile stays.
  if (auto it = isr_changes_.find(tp); it != isr_changes_.end() && it->second == isr) isr_changes_.erase(it);
  if (resp.error == Errc::NONE) {
    const size_t before = p->isr().size();
    p->update_isr(resp.isr, resp.partition_epoch);
    world_.probe(resp.isr.size() < before ? "isr: shrink committed" : "isr: expand committed");
    if (p->maybe_increment_hw()) hw_moved(tp);
  } else if (resp.error == Errc::INELIGIBLE_REPLICA) {
    // Refused outright: back to the committed ISR.
    if (p->pending_isr() && *p->pending_isr() == isr) p->clear_pending_isr();
  } else {
    // Fenced or stale (maybe our earlier attempt committed and its answer was
    // lost): keep the maximal ISR until the metadata log brings the truth.
    world_.probe("isr: AlterPartition refused, waiting for metadata");
  }
  return true;
}

}  // namespace ksim
