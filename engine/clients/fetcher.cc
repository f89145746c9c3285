#include "engine/clients/fetcher.h"

#include <algorithm>

#include "engine/storage/control_record.h"
#include "sim/error.h"

namespace ksim::clients {
namespace {

std::optional<std::string> to_string(const std::optional<std::span<const uint8_t>>& s) {
  if (!s) return std::nullopt;
  return std::string(s->begin(), s->end());
}

bool needs_metadata_refresh(Errc e) {
  return e == Errc::NOT_LEADER_OR_FOLLOWER || e == Errc::FENCED_LEADER_EPOCH || e == Errc::KAFKA_STORAGE_ERROR ||
         e == Errc::UNKNOWN_TOPIC_OR_PARTITION || e == Errc::LEADER_NOT_AVAILABLE || e == Errc::OFFSET_NOT_AVAILABLE;
}

}  // namespace

Fetcher::Fetcher(ConsumerNetworkClient& net, ClientMetadata& metadata, SubscriptionState& subscriptions,
                 FetchConfig config)
    : net_(net),
      metadata_(metadata),
      subscriptions_(subscriptions),
      config_(config),
      fetch_throttle_time_(config.metrics_window) {}

std::map<std::string, double> Fetcher::metrics() const {
  const int64_t now = net_.now_ms();
  SampledStat s = fetch_throttle_time_.snapshot();  // reading must not purge the live stat
  return {{"fetch-throttle-time-avg", s.avg(now)}, {"fetch-throttle-time-max", s.max(now)}};
}

bool Fetcher::has_buffered(const TopicPartition& tp) const {
  if (next_in_line_ && !next_in_line_->consumed && next_in_line_->tp == tp) return true;
  return std::any_of(completed_.begin(), completed_.end(), [&](const FetchPtr& f) { return f->tp == tp; });
}

bool Fetcher::has_available_fetches() const {
  if (next_in_line_ && !next_in_line_->consumed && subscriptions_.is_fetchable(next_in_line_->tp)) return true;
  return std::any_of(completed_.begin(), completed_.end(),
                     [&](const FetchPtr& f) { return subscriptions_.is_fetchable(f->tp) || f->error != Errc::NONE; });
}

protocol::FetchRequest Fetcher::new_request() const {
  protocol::FetchRequest req;
  req.replica_id = -1;
  req.max_wait_ms = config_.max_wait_ms;
  req.min_bytes = config_.min_bytes;
  req.max_bytes = config_.max_bytes;
  req.isolation = config_.isolation;
  return req;
}

sim::KindId Fetcher::fetch_kind() {
  if (!fetch_kind_) fetch_kind_ = net_.world().network().kind("Fetch");
  return *fetch_kind_;
}

int Fetcher::send_fetches() {
  std::map<int32_t, protocol::FetchRequest> requests;
  next_fetch_attempt_ = sim::Instant{std::numeric_limits<int64_t>::max() / 2};
  for (const auto& [tp, st] : subscriptions_.assignment()) {
    if (!SubscriptionState::fetchable(st) || has_buffered(tp)) continue;
    const PartitionLeader* leader = metadata_.partition(tp);
    if (!leader || leader->leader < 0) {
      metadata_.request_update();
      continue;
    }
    if (nodes_with_pending_fetch_.count(leader->leader)) continue;
    if (net_.is_unavailable(leader->leader)) {
      next_fetch_attempt_ = std::min(next_fetch_attempt_, net_.available_at(leader->leader));
      continue;
    }
    if (auto t = throttled_until_.find(leader->leader); t != throttled_until_.end() && net_.now() < t->second) {
      next_fetch_attempt_ = std::min(next_fetch_attempt_, t->second);  // throttled by its quota
      continue;
    }
    auto [at, first] = requests.try_emplace(leader->leader);
    if (first) at->second = new_request();
    protocol::FetchRequest& req = at->second;
    protocol::FetchPartition fp{.tp = tp,
                                .current_leader_epoch = leader->leader_epoch,
                                .fetch_offset = st.position->offset,
                                .last_fetched_epoch = st.position->offset_epoch,
                                .log_start_offset = kNoOffset,
                                .partition_max_bytes = config_.partition_max_bytes};
    req.partitions.push_back(fp);
  }
  for (auto& [node, req] : requests) {
    nodes_with_pending_fetch_.insert(node);
    std::map<TopicPartition, Offset> asked;
    std::vector<protocol::FetchPartition> wanted = std::move(req.partitions);
    std::sort(wanted.begin(), wanted.end(), [](const auto& a, const auto& b) { return a.tp < b.tp; });
    for (const auto& fp : wanted) asked[fp.tp] = fp.fetch_offset;
    // KIP-227: an incremental fetch names only the partitions whose position
    // changed; a partition left out (its records still buffered) is forgotten.
    sessions_[node].build(wanted, req);
    const uint32_t size = 64 + 32 * static_cast<uint32_t>(req.partitions.size());
    net_.send(node, fetch_kind(), sim::make_payload(std::move(req)), size, config_.request_timeout_ms,
              [this, node = node, asked = std::move(asked)](const sim::Reply& r) {
                nodes_with_pending_fetch_.erase(node);
                FetchSessionHandler& session = sessions_[node];
                if (r.status != sim::CallStatus::ok) {
                  session.handle_error();
                  metadata_.request_update();
                  return;
                }
                const auto& resp = sim::payload_as<protocol::FetchResponse>(r.payload);
                fetch_throttle_time_.record(resp.throttle_time_ms, net_.now_ms());
                if (resp.throttle_time_ms > 0) {
                  net_.world().probe("consumer: fetch throttled by a broker");
                  throttled_until_[node] = net_.now() + sim::milliseconds(resp.throttle_time_ms);
                }
                // A session error carries no data: the next fetch is full.
                if (!session.handle_response(resp)) return;
                for (const protocol::FetchPartitionResponse& p : resp.partitions) {
                  auto it = asked.find(p.tp);
                  if (it == asked.end()) continue;
                  auto f = std::make_shared<CompletedFetch>();
                  f->tp = p.tp;
                  f->fetch_offset = it->second;
                  f->next_fetch_offset = it->second;
                  f->error = p.error != Errc::NONE ? p.error : resp.error;
                  f->high_watermark = p.high_watermark;
                  f->log_start_offset = p.log_start_offset;
                  f->batches = p.batches;
                  f->aborted = p.aborted_transactions;
                  std::sort(f->aborted.begin(), f->aborted.end(),
                            [](const auto& a, const auto& b) { return a.first_offset < b.first_offset; });
                  completed_.push_back(std::move(f));
                }
              });
  }
  return static_cast<int>(requests.size());
}

Fetcher::FetchPtr Fetcher::initialize(const FetchPtr& f) {
  f->initialized = true;
  const TopicPartition& tp = f->tp;
  if (!subscriptions_.has_valid_position(tp)) return nullptr;  // reassigned or reset meanwhile
  PartitionState* st = subscriptions_.state(tp);
  const Offset position = st->position->offset;
  switch (f->error) {
    case Errc::NONE:
      if (f->fetch_offset != position) return nullptr;  // a seek made this response stale
      if (f->high_watermark.value >= 0) st->high_watermark = f->high_watermark;
      if (f->log_start_offset.value >= 0) st->log_start_offset = f->log_start_offset;
      return f;
    case Errc::OFFSET_OUT_OF_RANGE:
      if (f->fetch_offset != position) return nullptr;
      if (subscriptions_.default_reset() == OffsetResetStrategy::none)
        throw KafkaException("OffsetOutOfRangeException", Errc::OFFSET_OUT_OF_RANGE,
                             "Fetch position " + std::to_string(position.value) + " is out of range for partition " +
                                 tp.str());
      net_.world().probe("consumer: offset out of range, reset");
      subscriptions_.request_reset(tp, subscriptions_.default_reset(),
                                   std::string("reset:") + reset_strategy_name(subscriptions_.default_reset()));
      return nullptr;
    default:
      if (needs_metadata_refresh(f->error)) metadata_.request_update();
      return nullptr;  // UNKNOWN_LEADER_EPOCH and the rest: retry with the next fetch
  }
}

bool Fetcher::skip_batch(CompletedFetch& f, const storage::RecordBatch& b) {
  if (config_.isolation != protocol::IsolationLevel::read_committed) return b.is_control();
  // read_committed: aborted transactions whose first offset we passed become active.
  while (f.aborted_index < f.aborted.size() && f.aborted[f.aborted_index].first_offset <= b.last_offset())
    f.aborted_producers.insert(f.aborted[f.aborted_index++].producer_id);
  if (b.is_control()) {
    // Past its ABORT marker a producer's later batches are a new transaction.
    if (const auto m = storage::read_marker(b); m && !m->commit) f.aborted_producers.erase(b.producer_id());
    return true;
  }
  return b.is_transactional() && f.aborted_producers.count(b.producer_id()) > 0;
}

void Fetcher::drain(CompletedFetch& f, int32_t max, std::vector<ConsumerRecord>& out) {
  const size_t limit = out.size() + static_cast<size_t>(std::max(max, 0));
  while (out.size() < limit) {
    if (f.record_index >= f.current.size()) {
      if (f.batch_index > 0) {
        const auto& done = f.batches[f.batch_index - 1];
        f.next_fetch_offset = std::max(f.next_fetch_offset, done->next_offset());
      }
      f.current.clear();
      f.record_index = 0;
      if (f.batch_index >= f.batches.size()) {
        f.consumed = true;
        break;
      }
      const storage::BatchPtr& b = f.batches[f.batch_index++];
      if (b->next_offset() <= f.next_fetch_offset) continue;  // wholly before the position
      if (skip_batch(f, *b)) continue;                          // control / aborted: offsets consumed, no records
      f.current = b->records();
      // Room for this batch's records at once: growing one record at a time
      // moved every record (strings and all) at each doubling.
      const size_t want = out.size() + std::min(limit - out.size(), f.current.size());
      if (want > out.capacity()) out.reserve(std::min(limit, std::max(want, 2 * out.capacity())));
      continue;
    }
    const storage::RecordView& r = f.current[f.record_index++];
    if (r.offset < f.next_fetch_offset) continue;
    const storage::BatchPtr& b = f.batches[f.batch_index - 1];
    ConsumerRecord rec;
    rec.tp = f.tp;
    rec.offset = r.offset;
    rec.timestamp = r.timestamp;
    rec.key = to_string(r.key);
    rec.value = to_string(r.value);
    for (const auto& [name, v] : r.headers) rec.headers.emplace_back(std::string(name), to_string(v));
    rec.leader_epoch = b->partition_leader_epoch();
    rec.high_watermark = f.high_watermark;
    f.last_epoch = rec.leader_epoch;
    f.next_fetch_offset = r.offset + 1;
    out.push_back(std::move(rec));
  }
  if (!f.consumed && f.record_index >= f.current.size() && f.batch_index >= f.batches.size()) {
    if (f.batch_index > 0) f.next_fetch_offset = std::max(f.next_fetch_offset, f.batches[f.batch_index - 1]->next_offset());
    f.consumed = true;
  }
}

void Fetcher::fetch_records(CompletedFetch& f, int32_t max, std::vector<ConsumerRecord>& out) {
  const TopicPartition tp = f.tp;
  if (!subscriptions_.is_fetchable(tp)) {
    f.consumed = true;  // revoked, paused elsewhere, or pending revocation
    return;
  }
  const FetchPosition pos = *subscriptions_.state(tp)->position;
  if (pos.offset != f.next_fetch_offset) {
    f.consumed = true;  // the position moved (seek): these records are stale
    return;
  }
  const size_t first = out.size();
  drain(f, max, out);
  if (f.next_fetch_offset > pos.offset) {
    const LeaderEpoch epoch = out.size() == first ? pos.offset_epoch : f.last_epoch;
    subscriptions_.advance(tp, {f.next_fetch_offset, epoch});
  }
  for (size_t i = first; i < out.size(); ++i)
    SIM_ASSERT(out[i].offset >= pos.offset && (i == first || out[i].offset > out[i - 1].offset),
               "fetcher returned " + tp.str() + " out of order");
}

std::vector<ConsumerRecord> Fetcher::collect_fetch(int32_t max_records) {
  std::vector<ConsumerRecord> out;
  std::vector<FetchPtr> paused;
  int32_t remaining = max_records > 0 ? max_records : config_.max_poll_records;
  try {
    while (remaining > 0) {
      if (!next_in_line_ || next_in_line_->consumed) {
        if (completed_.empty()) break;
        FetchPtr f = completed_.front();
        if (!f->initialized) {
          try {
            next_in_line_ = initialize(f);
          } catch (...) {
            completed_.pop_front();  // the failing fetch holds no data: do not raise it twice
            throw;
          }
        } else {
          next_in_line_ = f;
        }
        completed_.pop_front();
      } else if (const PartitionState* st = subscriptions_.state(next_in_line_->tp); st && st->paused) {
        // Kept for a later poll after resume(), as Java does.
        paused.push_back(next_in_line_);
        next_in_line_.reset();
      } else {
        const size_t before = out.size();
        fetch_records(*next_in_line_, remaining, out);
        remaining -= static_cast<int32_t>(out.size() - before);
      }
    }
  } catch (const KafkaException&) {
    for (auto it = paused.rbegin(); it != paused.rend(); ++it) completed_.push_front(*it);
    if (out.empty()) throw;  // otherwise: return what we have; the error surfaced already acted
  }
  for (auto& f : paused) completed_.push_back(f);
  return out;
}

void Fetcher::close_sessions(sim::Instant deadline) {
  // Shared with the callbacks: an answer may come after close() gave up waiting.
  auto unanswered = std::make_shared<int>(0);
  for (auto& [node, session] : sessions_) {
    if (net_.is_unavailable(node)) continue;  // Java skips a leader it cannot reach
    protocol::FetchRequest req = new_request();
    if (!session.build_close(req)) continue;
    ++*unanswered;
    net_.send(node, fetch_kind(), sim::make_payload(std::move(req)), 64, config_.request_timeout_ms,
              [unanswered](const sim::Reply&) { --*unanswered; });
  }
  if (*unanswered > 0) net_.await([&] { return *unanswered == 0; }, deadline);
}

void Fetcher::clear_buffered_data_for_unassigned_partitions() {
  std::erase_if(completed_, [&](const FetchPtr& f) { return !subscriptions_.is_assigned(f->tp); });
  if (next_in_line_ && !subscriptions_.is_assigned(next_in_line_->tp)) next_in_line_.reset();
}

void Fetcher::reset_positions_if_needed() {
  const sim::Instant now = net_.now();
  std::map<int32_t, protocol::ListOffsetsRequest> requests;
  for (const TopicPartition& tp : subscriptions_.partitions_needing_reset(now)) {
    PartitionState* st = subscriptions_.state(tp);
    const PartitionLeader* leader = metadata_.partition(tp);
    if (!leader || leader->leader < 0) {
      metadata_.request_update();
      st->next_reset_attempt = now + sim::milliseconds(config_.retry_backoff_ms);
      continue;
    }
    const int64_t ts = st->reset_strategy == OffsetResetStrategy::earliest ? protocol::kEarliestTimestamp
                                                                           : protocol::kLatestTimestamp;
    auto& req = requests[leader->leader];
    req.isolation = config_.isolation;
    req.partitions.emplace_back(tp, ts);
    st->reset_in_flight = true;
  }
  for (auto& [node, req] : requests) {
    std::vector<TopicPartition> asked;
    for (const auto& [tp, ts] : req.partitions) asked.push_back(tp);
    net_.send(node, "ListOffsets", sim::make_payload(std::move(req)), 64, config_.request_timeout_ms,
              [this, asked = std::move(asked)](const sim::Reply& r) {
                const sim::Instant backoff = net_.now() + sim::milliseconds(config_.retry_backoff_ms);
                auto still_waiting = [&](const TopicPartition& tp) -> PartitionState* {
                  PartitionState* st = subscriptions_.state(tp);
                  return st && st->state == FetchState::awaiting_reset && st->reset_in_flight ? st : nullptr;
                };
                if (r.status != sim::CallStatus::ok) {
                  metadata_.request_update();
                  for (const TopicPartition& tp : asked)
                    if (PartitionState* st = still_waiting(tp)) {
                      st->reset_in_flight = false;
                      st->next_reset_attempt = backoff;
                    }
                  return;
                }
                // One history op per reason: the positions this answer sets.
                std::map<std::string, std::map<TopicPartition, FetchPosition>> seeks;
                for (const auto& p : sim::payload_as<protocol::ListOffsetsResponse>(r.payload).partitions) {
                  PartitionState* st = still_waiting(p.tp);
                  if (!st) continue;
                  st->reset_in_flight = false;
                  if (p.error == Errc::NONE && p.offset.value >= 0) {
                    seeks[st->reset_reason][p.tp] = FetchPosition{p.offset, p.leader_epoch};
                  } else {
                    if (needs_metadata_refresh(p.error)) metadata_.request_update();
                    st->next_reset_attempt = backoff;
                  }
                }
                for (const auto& [reason, positions] : seeks) subscriptions_.seek_all(positions, reason);
              });
  }
}

std::map<TopicPartition, std::optional<OffsetAndTimestamp>> Fetcher::list_offsets(
    const std::map<TopicPartition, int64_t>& timestamps, sim::Instant deadline) {
  std::map<TopicPartition, std::optional<OffsetAndTimestamp>> result;
  std::map<TopicPartition, int64_t> remaining = timestamps;
  for (const auto& [tp, ts] : timestamps) metadata_.add_topic(tp.topic);
  while (!remaining.empty()) {
    if (!net_.alive()) throw KafkaException("KafkaException", Errc::NETWORK_EXCEPTION, "the consumer's node is down");
    if (net_.now() >= deadline)
      throw KafkaException("TimeoutException", Errc::REQUEST_TIMED_OUT, "Failed to get offsets by times");
    std::map<int32_t, protocol::ListOffsetsRequest> requests;
    bool missing_leader = false;
    for (const auto& [tp, ts] : remaining) {
      const PartitionLeader* leader = metadata_.partition(tp);
      if (!leader || leader->leader < 0) {
        missing_leader = true;
        continue;
      }
      requests[leader->leader].isolation = config_.isolation;
      requests[leader->leader].partitions.emplace_back(tp, ts);
    }
    auto outstanding = std::make_shared<int>(static_cast<int>(requests.size()));
    auto answers = std::make_shared<std::vector<protocol::ListOffsetsPartitionResponse>>();
    for (auto& [node, req] : requests) {
      net_.send(node, "ListOffsets", sim::make_payload(std::move(req)), 64, config_.request_timeout_ms,
                [outstanding, answers](const sim::Reply& r) {
                  --*outstanding;
                  if (r.status == sim::CallStatus::ok)
                    for (const auto& p : sim::payload_as<protocol::ListOffsetsResponse>(r.payload).partitions)
                      answers->push_back(p);
                });
    }
    const uint64_t md_version = metadata_.version();
    if (missing_leader) metadata_.request_update();
    net_.await([&] { return *outstanding == 0; }, deadline);
    bool retry = missing_leader;
    for (const auto& p : *answers) {
      if (p.error == Errc::NONE) {
        result[p.tp] = p.offset.value >= 0 ? std::optional<OffsetAndTimestamp>(OffsetAndTimestamp{p.offset, p.timestamp, p.leader_epoch})
                                           : std::nullopt;
        remaining.erase(p.tp);
      } else if (retriable(p.error) || p.error == Errc::UNKNOWN_LEADER_EPOCH) {
        metadata_.request_update();
        retry = true;
      } else {
        throw KafkaException("KafkaException", p.error, std::string("ListOffsets failed for ") + p.tp.str() + ": " +
                                                            std::string(errc_name(p.error)));
      }
    }
    if (!remaining.empty() && (retry || *outstanding == 0)) {
      const sim::Instant backoff = std::min(deadline, net_.now() + sim::milliseconds(config_.retry_backoff_ms));
      net_.await([&] { return metadata_.version() != md_version && !metadata_.update_requested(); }, backoff);
    }
  }
  return result;
}

}  // namespace ksim::clients
