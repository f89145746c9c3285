#include "engine/storage/unified_log.h"

#include <algorithm>

#include "sim/error.h"

namespace ksim::storage {

UnifiedLog::UnifiedLog(sim::World& world, sim::Disk& disk, std::string dir, TopicPartition tp,
                       const LogConfig& config)
    : world_(&world),
      disk_(&disk),
      epochs_(disk, dir),  // before dir_ takes `dir` (declaration order: hot fields first)
      dir_(std::move(dir)),
      tp_(std::move(tp)),
      config_(config),
      mutex_(world) {}

Errc UnifiedLog::fail(Errc e) {
  if (e == Errc::KAFKA_STORAGE_ERROR) offline_ = true;
  return e;
}

void UnifiedLog::check_invariants() const {
  SIM_ASSERT(!segments_.empty(), "an open log has an active segment");
  SIM_ASSERT(log_end_offset_ == segments_.back()->next_offset(), "the cached log end offset is the active segment's");
  for (size_t i = 1; i < segments_.size(); ++i)
    // Gaps are a compacted log's (its cleaner's or, in a follower, its
    // leader's); a log is opened before its config is known, so they are
    // allowed whatever config_ says now.
    SIM_ASSERT(segments_[i - 1]->next_offset() <= segments_[i]->base_offset(),
               "segments must hold increasing offsets (with a compacted log's gaps)");
  SIM_ASSERT(log_start_offset_ <= log_end_offset(), "log start offset beyond log end");
  SIM_ASSERT(recovery_point_ <= log_end_offset(), "recovery point beyond log end");
  if (auto last = epochs_.latest_entry())
    SIM_ASSERT(last->start_offset <= log_end_offset(), "epoch cache entry beyond log end");
}

Result<std::unique_ptr<UnifiedLog>> UnifiedLog::open(sim::World& world, sim::Disk& disk, const std::string& log_dir,
                                                     const TopicPartition& tp, const LogConfig& config,
                                                     Offset recovery_point, Offset log_start_offset,
                                                     bool had_clean_shutdown) {
  std::string dir = log_dir.empty() ? tp.str() : log_dir + "/" + tp.str();
  std::unique_ptr<UnifiedLog> log(new UnifiedLog(world, disk, std::move(dir), tp, config));
  if (Errc e = log->epochs_.load(); e != Errc::NONE) return e;
  if (Errc e = log->load_segments(recovery_point, log_start_offset, had_clean_shutdown); e != Errc::NONE) return e;
  log->check_invariants();
  return log;
}

Errc UnifiedLog::load_segments(Offset recovery_point, Offset log_start_offset, bool had_clean_shutdown) {
  // Disk::list is sorted by name; 20-digit names sort by base offset.
  std::vector<Offset> bases;
  for (const std::string& f : disk_->list(dir_ + "/")) {
    // A cleaning the crash interrupted before its rename: the original stands.
    if (f.ends_with(LogSegment::kCleanedSuffix)) {
      world_->probe("storage/cleaned_segment_discarded");
      if (disk_->remove(f) != sim::DiskStatus::ok) return Errc::KAFKA_STORAGE_ERROR;
      continue;
    }
    if (auto base = LogSegment::parse_log_file_name(dir_, f)) bases.push_back(*base);
  }
  const int64_t now = now_ms();
  if (bases.empty()) {
    auto seg = std::make_unique<LogSegment>(*disk_, dir_, Offset{std::max<int64_t>(0, log_start_offset.value)},
                                            config_, now);
    if (Errc e = seg->create(); e != Errc::NONE) return e;
    segments_.push_back(std::move(seg));
    sync_log_end_offset();
  }
  for (size_t i = 0; i < bases.size(); ++i) {
    // The cleaner's merge a crash interrupted: the merged segment (renamed
    // over the group's first) covers segments it has not deleted yet; it
    // holds everything of theirs the cleaner kept, so they go. (Segments
    // overlap in no other way; the log may not be known as compacted yet:
    // a first pass leaves no cleaner-offset-checkpoint until it ends.)
    if (!segments_.empty() && bases[i] < segments_.back()->next_offset()) {
      world_->probe("storage/merged_segment_leftover_discarded");
      LogSegment doomed(*disk_, dir_, bases[i], config_, now);
      if (Errc e = doomed.delete_files(); e != Errc::NONE) return e;
      continue;
    }
    auto seg = std::make_unique<LogSegment>(*disk_, dir_, bases[i], config_, now);
    const bool last = i + 1 == bases.size();
    // Trusted if every offset in it is below the recovery point (fsynced), or
    // all of them after a clean shutdown, which flushed every log: Kafka's
    // LogLoader skips recovery then (hadCleanShutdown). Loading still checks
    // the indexes and rebuilds a segment whose index fails (sanityCheck).
    const bool trusted = had_clean_shutdown || (!last && bases[i + 1] <= recovery_point);
    int64_t truncated = 0;
    if (trusted) {
      if (Errc e = seg->load(); e != Errc::NONE) return e;
      // The producer state is not on disk (no .snapshot files): replay the
      // trusted segment's batches too (Kafka replays from its last snapshot).
      for (Offset at = seg->base_offset(); at < seg->next_offset();) {
        auto rd = seg->read(at, 1 << 20, seg->next_offset(), true);
        if (!rd.ok()) return rd.error;
        if (rd.value.empty()) break;
        for (const BatchPtr& b : rd.value) producer_state_.update(*b);
        at = rd.value.back()->next_offset();
      }
    } else {
      auto r = seg->recover([&](const RecordBatch& b) {
        (void)maybe_assign_epoch(b);
        producer_state_.update(b);
      });
      if (!r.ok()) return r.error;
      truncated = r.value;
    }
    // Between segments, nothing is damage: a segment may end before the next
    // one starts (a compacted log's gap, in the leader's cleaned log and in a
    // follower's copy alike, whatever config the log was opened with), and
    // one that ends after it was a merge's leftover, deleted above. Kafka's
    // LogLoader has no test between segments either; only a bad batch cuts.
    segments_.push_back(std::move(seg));
    sync_log_end_offset();
    if (truncated > 0) {
      // Everything after an invalid batch is suspect: Kafka deletes
      // the remaining segments, so the log stays a prefix of what was written.
      world_->probe("storage/recovery_truncated");
      for (size_t j = i + 1; j < bases.size(); ++j) {
        LogSegment doomed(*disk_, dir_, bases[j], config_, now);
        if (Errc e = doomed.delete_files(); e != Errc::NONE) return e;
      }
      break;
    }
  }
  const Offset leo = log_end_offset();
  log_start_offset_ = std::min(std::max(log_start_offset, segments_.front()->base_offset()), leo);
  // After a clean shutdown everything is flushed: the recovery point is the log end (Kafka's recoverLog).
  recovery_point_ = had_clean_shutdown ? leo : std::min(recovery_point, leo);
  set_high_watermark(log_start_offset_);
  last_flush_ms_ = now;
  if (Errc e = epochs_.truncate_from_end(leo); e != Errc::NONE) return e;
  return epochs_.truncate_from_start(log_start_offset_);
}

Errc UnifiedLog::maybe_assign_epoch(const RecordBatch& b) {
  const LeaderEpoch epoch = b.partition_leader_epoch();
  if (epoch.value < 0) return Errc::NONE;
  auto latest = epochs_.latest_epoch();
  if (latest && epoch <= *latest) return Errc::NONE;
  return epochs_.assign(epoch, b.base_offset());
}

void UnifiedLog::set_high_watermark(Offset hw) {
  high_watermark_ = hw;
  // Completed transactions whose marker is now below the HW stop holding back the LSO.
  producer_state_.on_high_watermark(hw);
}

void UnifiedLog::update_high_watermark(Offset hw) {
  set_high_watermark(std::clamp(hw, log_start_offset_, log_end_offset()));
}

std::optional<Offset> UnifiedLog::first_unstable_offset() const {
  const std::optional<Offset> first = producer_state_.first_unstable_offset();
  // A transaction whose start retention deleted is unstable from the log start
  // on (Kafka's updateFirstUnstableOffset clamps the same way).
  if (!first) return std::nullopt;
  return std::max(*first, log_start_offset_);
}

Offset UnifiedLog::last_stable_offset() const {
  const std::optional<Offset> first = first_unstable_offset();
  return first ? std::min(*first, high_watermark_) : high_watermark_;
}

int64_t UnifiedLog::size_in_bytes() const {
  int64_t n = 0;
  for (const auto& s : segments_) n += s->size();
  return n;
}

std::vector<Offset> UnifiedLog::segment_base_offsets() const {
  std::vector<Offset> out;
  for (const auto& s : segments_) out.push_back(s->base_offset());
  return out;
}

Errc UnifiedLog::append_batch(const BatchPtr& batch) {
  if (active().should_roll(*batch, now_ms()) && !active().empty())
    if (Errc e = roll_locked(); e != Errc::NONE) return e;
  // Kafka records a new epoch before appending its first batch.
  if (Errc e = maybe_assign_epoch(*batch); e != Errc::NONE) return e;
  const Errc appended = active().append(batch);
  sync_log_end_offset();
  if (appended != Errc::NONE) return appended;
  // Flush policy: flush.messages unflushed messages, or flush.ms since the last flush.
  const int64_t unflushed = log_end_offset() - recovery_point_;
  if (unflushed >= config_.flush_messages || now_ms() - last_flush_ms_ >= config_.flush_ms) return flush_locked();
  return Errc::NONE;
}

Result<LogAppendInfo> UnifiedLog::append_as_leader(const BatchPtr& batch, LeaderEpoch leader_epoch,
                                                   AppendOrigin origin) {
  SIM_ASSERT(origin != AppendOrigin::replication, "a leader append comes from a client or a coordinator");
  Lock lock(*this);
  if (offline_) return Errc::KAFKA_STORAGE_ERROR;
  // LogValidator: only coordinators write control records (Kafka answers
  // INVALID_RECORD, a CorruptRecordException; ksim has no INVALID_RECORD code).
  if (batch->is_control() && origin == AppendOrigin::client) return Errc::CORRUPT_MESSAGE;
  // LogValidator: "Compacted topic cannot accept message without key" (Kafka's
  // INVALID_RECORD, here CORRUPT_MESSAGE as above).
  if (config_.compact && origin == AppendOrigin::client && !batch->is_control() &&
      batch->compression() == CompressionType::none) {
    for (const RecordView& r : batch->records())
      if (!r.key) {
        world_->probe("storage/compacted_topic_record_without_key");
        return Errc::CORRUPT_MESSAGE;
      }
  }
  if (static_cast<int64_t>(batch->size_in_bytes()) > config_.max_message_bytes) return Errc::MESSAGE_TOO_LARGE;
  if (static_cast<int64_t>(batch->size_in_bytes()) > config_.segment_bytes) return Errc::RECORD_LIST_TOO_LARGE;
  if (!batch->crc_valid()) return Errc::CORRUPT_MESSAGE;
  LogAppendInfo info;
  if (batch->producer_id() != kNoProducerId) {
    // Kafka's analyzeAndValidateProducerState, under the log lock.
    const ProducerCheck check = producer_state_.check(*batch, origin);
    if (check.duplicate && !config_.skip_idempotent_dedupe) {
      world_->probe("storage/idempotent_duplicate");
      info.duplicate = true;
      info.first_offset = check.duplicate->first_offset;
      info.last_offset = check.duplicate->last_offset;
      info.max_timestamp = check.duplicate->timestamp;
      info.offset_of_max_timestamp = check.duplicate->last_offset;
      info.log_start_offset = log_start_offset_;
      info.num_records = static_cast<int32_t>(check.duplicate->last_offset - check.duplicate->first_offset + 1);
      return info;
    }
    if (check.duplicate) world_->probe("storage/BUG skip.idempotent.dedupe appended a duplicate");
    if (!check.duplicate && check.error != Errc::NONE) {
      world_->probe(check.error == Errc::INVALID_PRODUCER_EPOCH         ? "storage/invalid_producer_epoch"
                    : check.error == Errc::OUT_OF_ORDER_SEQUENCE_NUMBER ? "storage/out_of_order_sequence"
                                                                        : "storage/invalid_txn_state_or_fenced");
      return check.error;
    }
  }
  BatchPtr stamped = batch;
  if (config_.message_timestamp_type == TimestampType::log_append_time) {
    info.log_append_time = now_ms();
    stamped = stamped->with_log_append_time(info.log_append_time);
  }
  stamped = stamped->with_base_offset_and_epoch(log_end_offset(), leader_epoch);
  if (Errc e = append_batch(stamped); e != Errc::NONE) return fail(e);
  producer_state_.update(*stamped);
  info.first_offset = stamped->base_offset();
  info.last_offset = stamped->last_offset();
  info.max_timestamp = stamped->max_timestamp();
  info.offset_of_max_timestamp = stamped->last_offset();
  info.log_start_offset = log_start_offset_;
  info.num_records = stamped->records_count();
  info.valid_bytes = static_cast<int64_t>(stamped->size_in_bytes());
  return info;
}

Result<LogAppendInfo> UnifiedLog::append_as_follower(const std::vector<BatchPtr>& batches) {
  Lock lock(*this);
  if (offline_) return Errc::KAFKA_STORAGE_ERROR;
  LogAppendInfo info;
  if (batches.empty()) {
    info.log_start_offset = log_start_offset_;
    return info;
  }
  // Validate the whole set before writing any of it: all or nothing.
  Offset expect = log_end_offset();
  for (const BatchPtr& b : batches) {
    // Kafka raises UnexpectedAppendOffsetException; ksim keeps offsets gap-free.
    // A compacted leader's log has gaps where its cleaner removed batches.
    if (config_.compact ? b->base_offset() < expect : b->base_offset() != expect) return Errc::OFFSET_OUT_OF_RANGE;
    if (static_cast<int64_t>(b->size_in_bytes()) > config_.segment_bytes) return Errc::RECORD_LIST_TOO_LARGE;
    if (!b->crc_valid()) return Errc::CORRUPT_MESSAGE;
    expect = b->next_offset();
  }
  info.first_offset = batches.front()->base_offset();
  for (const BatchPtr& b : batches) {
    if (Errc e = append_batch(b); e != Errc::NONE) return fail(e);
    producer_state_.update(*b);  // followers keep the state too: it survives failover
    if (b->max_timestamp() > info.max_timestamp) {
      info.max_timestamp = b->max_timestamp();
      info.offset_of_max_timestamp = b->last_offset();
    }
    info.num_records += b->records_count();
    info.valid_bytes += static_cast<int64_t>(b->size_in_bytes());
  }
  info.last_offset = batches.back()->last_offset();
  info.log_start_offset = log_start_offset_;
  return info;
}

Result<std::vector<BatchPtr>> UnifiedLog::read(Offset from, int64_t max_bytes,
                                               std::optional<Offset> max_offset_exclusive, bool min_one_message) {
  Lock lock(*this);
  if (offline_) return Errc::KAFKA_STORAGE_ERROR;
  if (from < log_start_offset_ || from > log_end_offset()) return Errc::OFFSET_OUT_OF_RANGE;
  const Offset limit = max_offset_exclusive.value_or(log_end_offset());
  // The segment holding `from`; like Kafka, a read returns data from one
  // segment, moving on only when that segment has nothing at or after `from`.
  size_t i = segments_.size() - 1;
  while (i > 0 && segments_[i]->base_offset() > from) --i;
  for (; i < segments_.size(); ++i) {
    if (segments_[i]->next_offset() <= from) continue;
    auto r = segments_[i]->read(from, max_bytes, limit, min_one_message);
    if (!r.ok()) return fail(r.error);
    if (!r.value.empty() || segments_[i]->base_offset() >= limit) return r;
  }
  return std::vector<BatchPtr>{};
}

Errc UnifiedLog::roll_locked() {
  const Offset base = log_end_offset();
  if (active().empty()) return Errc::NONE;
  auto seg = std::make_unique<LogSegment>(*disk_, dir_, base, config_, now_ms());
  if (Errc e = seg->create(); e != Errc::NONE) return e;
  segments_.push_back(std::move(seg));
  sync_log_end_offset();
  // Kafka schedules flushUptoOffsetExclusive(new base) right after a roll: the
  // old segments become durable and the recovery point moves to the new base.
  for (auto& s : segments_) {
    if (s->base_offset() >= base) break;
    if (s->next_offset() > recovery_point_)
      if (Errc e = s->flush(); e != Errc::NONE) return e;
  }
  recovery_point_ = std::max(recovery_point_, base);
  world_->probe("storage/segment_rolled");
  return Errc::NONE;
}

Errc UnifiedLog::roll() {
  Lock lock(*this);
  if (offline_) return Errc::KAFKA_STORAGE_ERROR;
  return fail(roll_locked());
}

Errc UnifiedLog::flush_locked() {
  for (auto& s : segments_)
    if (s->next_offset() > recovery_point_ || s.get() == &active())
      if (Errc e = s->flush(); e != Errc::NONE) return e;
  recovery_point_ = log_end_offset();
  last_flush_ms_ = now_ms();
  return Errc::NONE;
}

Errc UnifiedLog::assign_epoch_start(LeaderEpoch epoch, Offset start_offset) {
  Lock lock(*this);
  if (offline_) return Errc::KAFKA_STORAGE_ERROR;
  if (const auto latest = epochs_.latest_epoch(); latest && *latest >= epoch) return Errc::NONE;
  return fail(epochs_.assign(epoch, start_offset));
}

Errc UnifiedLog::flush() {
  Lock lock(*this);
  if (offline_) return Errc::KAFKA_STORAGE_ERROR;
  return fail(flush_locked());
}

Errc UnifiedLog::truncate_to(Offset offset) {
  SIM_ASSERT(offset.value >= 0, "cannot truncate to a negative offset");
  Lock lock(*this);
  if (offline_) return Errc::KAFKA_STORAGE_ERROR;
  if (offset >= log_end_offset()) return Errc::NONE;
  if (offset < segments_.front()->base_offset()) return fail(truncate_fully_locked(offset));
  // Whole segments above the target go; the one holding it is cut.
  while (segments_.size() > 1 && segments_.back()->base_offset() >= offset) {
    if (Errc e = segments_.back()->delete_files(); e != Errc::NONE) return fail(e);
    segments_.pop_back();
    sync_log_end_offset();
  }
  auto cut = active().truncate_to(offset);
  sync_log_end_offset();
  if (!cut.ok()) return fail(cut.error);
  const Offset leo = log_end_offset();
  producer_state_.truncate_to(leo);
  if (Errc e = epochs_.truncate_from_end(leo); e != Errc::NONE) return fail(e);
  log_start_offset_ = std::min(log_start_offset_, leo);
  recovery_point_ = std::min(recovery_point_, leo);
  set_high_watermark(std::min(high_watermark_, leo));
  check_invariants();
  return Errc::NONE;
}

Errc UnifiedLog::truncate_fully_locked(Offset offset) {
  for (auto& s : segments_)
    if (Errc e = s->delete_files(); e != Errc::NONE) return e;
  segments_.clear();
  producer_state_.clear();
  auto seg = std::make_unique<LogSegment>(*disk_, dir_, offset, config_, now_ms());
  if (Errc e = seg->create(); e != Errc::NONE) return e;
  segments_.push_back(std::move(seg));
  sync_log_end_offset();
  if (Errc e = epochs_.clear(); e != Errc::NONE) return e;
  log_start_offset_ = recovery_point_ = offset;
  set_high_watermark(offset);
  check_invariants();
  return Errc::NONE;
}

Errc UnifiedLog::truncate_fully_and_start_at(Offset offset) {
  SIM_ASSERT(offset.value >= 0, "a log cannot start at a negative offset");
  Lock lock(*this);
  if (offline_) return Errc::KAFKA_STORAGE_ERROR;
  return fail(truncate_fully_locked(offset));
}

Result<std::optional<TimestampAndOffset>> UnifiedLog::fetch_offset_by_timestamp(int64_t ts) {
  Lock lock(*this);
  if (offline_) return Errc::KAFKA_STORAGE_ERROR;
  if (ts == kEarliestTimestamp)
    return std::optional(TimestampAndOffset{kNoTimestamp, log_start_offset_,
                                            epochs_.epoch_for_offset(log_start_offset_).value_or(kNoEpoch)});
  if (ts == kLatestTimestamp)
    return std::optional(TimestampAndOffset{kNoTimestamp, log_end_offset(), latest_epoch().value_or(kNoEpoch)});
  // The first segment holding a timestamp >= ts, then the index inside it.
  for (auto& s : segments_) {
    if (s->empty() || s->largest_timestamp() < ts) continue;
    auto r = s->find_offset_by_timestamp(ts, log_start_offset_);
    if (!r.ok()) return fail(r.error);
    return r;
  }
  return std::optional<TimestampAndOffset>{};
}

Errc UnifiedLog::delete_segments(size_t count) {
  if (count == 0) return Errc::NONE;
  // Deleting every segment: roll first, so the log keeps an active segment at LEO.
  if (count == segments_.size())
    if (Errc e = roll_locked(); e != Errc::NONE) return e;
  for (size_t i = 0; i < count; ++i)
    if (Errc e = segments_[i]->delete_files(); e != Errc::NONE) return e;
  segments_.erase(segments_.begin(), segments_.begin() + static_cast<std::ptrdiff_t>(count));
  sync_log_end_offset();
  log_start_offset_ = std::max(log_start_offset_, segments_.front()->base_offset());
  set_high_watermark(std::max(high_watermark_, log_start_offset_));
  recovery_point_ = std::max(recovery_point_, log_start_offset_);
  producer_state_.on_log_start_offset(log_start_offset_);
  return epochs_.truncate_from_start(log_start_offset_);
}

Result<int> UnifiedLog::delete_old_segments() {
  Lock lock(*this);
  if (offline_) return Errc::KAFKA_STORAGE_ERROR;
  const int64_t now = now_ms();
  int64_t excess = config_.retention_bytes < 0 ? 0 : size_in_bytes() - config_.retention_bytes;
  size_t count = 0;
  // Kafka's deletableSegments: oldest first, stop at the first keeper; only
  // segments wholly below the high watermark; never an empty active segment.
  for (; count < segments_.size(); ++count) {
    const LogSegment& s = *segments_[count];
    const bool last = count + 1 == segments_.size();
    const Offset next_base = last ? log_end_offset() : segments_[count + 1]->base_offset();
    if (high_watermark_ < next_base || (last && s.empty())) break;
    const bool by_time = config_.delete_old && config_.retention_ms >= 0 && now - s.largest_timestamp() > config_.retention_ms;
    const bool by_size = config_.delete_old && config_.retention_bytes >= 0 && excess - s.size() >= 0;
    const bool by_start = !last && next_base <= log_start_offset_;
    if (!by_time && !by_size && !by_start) break;
    excess -= s.size();
  }
  if (Errc e = delete_segments(count); e != Errc::NONE) return fail(e);
  if (count > 0) world_->probe("storage/retention_deleted");
  check_invariants();
  return static_cast<int>(count);
}

void UnifiedLog::set_config(const LogConfig& config) {
  Lock lock(*this);
  config_ = config;
  for (auto& s : segments_) s->set_config(config);
}

void UnifiedLog::maybe_increment_log_start_offset(Offset offset) {
  Lock lock(*this);
  if (offline_ || offset <= log_start_offset_ || offset > high_watermark_) return;
  log_start_offset_ = offset;
  recovery_point_ = std::max(recovery_point_, log_start_offset_);
  producer_state_.on_log_start_offset(log_start_offset_);
  if (Errc e = epochs_.truncate_from_start(log_start_offset_); e != Errc::NONE) (void)fail(e);
  check_invariants();
}

void UnifiedLog::remove_expired_producers(int64_t expiration_ms) {
  Lock lock(*this);
  if (offline_) return;
  producer_state_.remove_expired(now_ms(), expiration_ms);
}

}  // namespace ksim::storage
