#include "engine/storage/log_cleaner.h"

#include <algorithm>
#include <map>
#include <string>
#include <unordered_map>

#include "engine/storage/control_record.h"
#include "sim/error.h"

namespace ksim::storage {
namespace {

// The log's segments [0, count) lie wholly below `first_uncleanable` (a segment
// base); count never reaches the active segment.
struct Range {
  size_t count = 0;
  LogToClean c;
};

bool in_txn(const CompletedTxn& t, const RecordBatch& b) {
  return t.producer_id == b.producer_id() && t.first_offset <= b.base_offset() && b.last_offset() <= t.last_offset;
}

}  // namespace

std::optional<LogToClean> LogCleaner::cleanable(const UnifiedLog& log, int64_t now_ms) {
  const LogConfig& cfg = log.config();
  if (!cfg.compact || log.offline()) return std::nullopt;
  const auto& segs = log.segments_;
  // Kafka's firstUncleanableDirtyOffset: never the active segment, never an
  // undecided transaction, never above the high watermark, never a segment
  // holding a record younger than min.compaction.lag.ms.
  Offset limit = segs.back()->base_offset();
  if (auto fu = log.first_unstable_offset()) limit = std::min(limit, *fu);
  limit = std::min(limit, log.high_watermark());
  LogToClean c;
  c.first_dirty = log.first_dirty_offset();
  size_t count = 0;
  for (; count + 1 < segs.size(); ++count) {
    const LogSegment& s = *segs[count];
    if (segs[count + 1]->base_offset() > limit) break;
    if (cfg.min_compaction_lag_ms > 0 && now_ms - s.largest_timestamp() < cfg.min_compaction_lag_ms) break;
    const bool dirty = segs[count + 1]->base_offset() > c.first_dirty;
    (dirty ? c.dirty_bytes : c.clean_bytes) += s.size();
    // Kafka measures from the first dirty segment's earliest record; ksim from its newest (no earlier than Kafka).
    if (dirty && !s.empty() && cfg.max_compaction_lag_ms < kLongMax &&
        now_ms - s.largest_timestamp() > cfg.max_compaction_lag_ms)
      c.max_lag_exceeded = true;
  }
  c.first_uncleanable = segs[count]->base_offset();
  if (count == 0 || c.first_uncleanable <= c.first_dirty || c.dirty_bytes == 0) return std::nullopt;
  return c;
}

Result<CleanerStats> LogCleaner::clean(UnifiedLog& log, int64_t now_ms, int64_t map_capacity_entries) {
  UnifiedLog::Lock lock(log);
  if (log.offline_) return Errc::KAFKA_STORAGE_ERROR;
  const std::optional<LogToClean> c = cleanable(log, now_ms);
  CleanerStats st;
  st.first_dirty_before = st.first_dirty_after = log.first_dirty_offset();
  if (!c) return st;
  const LogConfig& cfg = log.config_;
  auto& segs = log.segments_;
  size_t count = 0;
  while (segs[count]->base_offset() < c->first_uncleanable) ++count;

  auto read_all = [&](LogSegment& s) -> Result<std::vector<BatchPtr>> {
    std::vector<BatchPtr> out;
    for (Offset at = s.base_offset(); at < s.next_offset();) {
      auto rd = s.read(at, 1 << 20, s.next_offset(), true);
      if (!rd.ok()) return rd.error;
      if (rd.value.empty()) break;
      for (auto& b : rd.value) {
        st.bytes_read += static_cast<int64_t>(b->size_in_bytes());
        out.push_back(b);
      }
      at = out.back()->next_offset();
    }
    return out;
  };

  // Every aborted transaction overlapping the cleanable range (the index is
  // complete below the first uncleanable offset: all of it is decided).
  const std::vector<CompletedTxn> aborted = log.producer_state_.aborted_transactions(log.log_start_offset_, c->first_uncleanable);
  auto is_aborted = [&](const RecordBatch& b, const std::vector<CompletedTxn>& set) {
    if (!b.is_transactional() || b.is_control()) return false;
    return std::any_of(set.begin(), set.end(), [&](const CompletedTxn& t) { return in_txn(t, b); });
  };

  // (1) The offset map over the dirty section, whole batches, until full.
  std::unordered_map<std::string, Offset> map;  // lookups only: never iterated
  Offset map_end = c->first_uncleanable;
  for (size_t i = 0; i < count && map_end == c->first_uncleanable; ++i) {
    if (segs[i]->next_offset() <= c->first_dirty) continue;
    auto batches = read_all(*segs[i]);
    if (!batches.ok()) return log.fail(batches.error);
    for (const BatchPtr& b : batches.value) {
      if (b->last_offset() < c->first_dirty || b->is_control() || is_aborted(*b, aborted)) continue;
      const auto records = b->records();
      int64_t fresh = 0;
      for (const RecordView& r : records)
        if (r.key && !map.contains(std::string(r.key->begin(), r.key->end()))) ++fresh;
      if (static_cast<int64_t>(map.size()) + fresh > map_capacity_entries) {
        map_end = b->base_offset();  // Kafka stops before the batch that does not fit
        break;
      }
      for (const RecordView& r : records)
        if (r.key) map[std::string(r.key->begin(), r.key->end())] = r.offset;
    }
  }
  if (map_end <= c->first_dirty) {
    log.world_->probe("storage/cleaner_map_too_small");
    return st;
  }
  st.partial = map_end < c->first_uncleanable;
  if (st.partial) log.world_->probe("storage/cleaner_partial_pass");

  // The segments this pass rewrites: from the log start through the one holding map_end - 1.
  size_t last = 0;
  while (last + 1 < count && segs[last + 1]->base_offset() < map_end) ++last;
  // KAFKA-13727: the buggy cleaner collected the aborted transactions of the
  // mapped range only; those above map_end, in the same (partially cleaned)
  // segment, were left out of the rebuilt index and read as committed.
  std::vector<CompletedTxn> collected;
  for (const CompletedTxn& t : aborted)
    if (!cfg.cleaner_partial_txn_bug || t.first_offset < map_end) collected.push_back(t);
  std::vector<CompletedTxn> forget;
  if (cfg.cleaner_partial_txn_bug)
    for (const CompletedTxn& t : aborted)
      if (t.first_offset >= map_end && t.first_offset < segs[last]->next_offset()) {
        forget.push_back(t);
        log.world_->probe("storage/BUG cleaner forgot an aborted transaction (KAFKA-13727)");
      }

  // (2) + (3) Rewrite the segments, oldest first, carrying each producer's
  // "data of its current transaction still in the log" across segments.
  // Kafka's groupSegmentsBySize: consecutive segments whose log data (and
  // each index) together fit in segment.bytes (segment.index.bytes), and
  // whose offsets stay within an int32 of the group's base, are cleaned into
  // one segment — without it a compacted log of small segments keeps every
  // one of them, emptied or not, and each pass rewrites them all.
  std::vector<std::pair<size_t, size_t>> groups;  // [first, end) indexes into segs
  for (size_t g = 0; g <= last;) {
    int64_t bytes = segs[g]->size(), index = segs[g]->offset_index_bytes(), tindex = segs[g]->time_index_bytes();
    size_t e = g + 1;
    while (e <= last) {
      const LogSegment& n = *segs[e];
      const Offset n_last = e + 1 <= last ? Offset{segs[e + 1]->base_offset().value - 1}
                                          : Offset{c->first_uncleanable.value - 1};
      if (bytes + n.size() > cfg.segment_bytes || index + n.offset_index_bytes() > cfg.segment_index_bytes ||
          tindex + n.time_index_bytes() > cfg.segment_index_bytes ||
          (n.size() != 0 && n_last.value - segs[g]->base_offset().value > INT32_MAX))
        break;
      bytes += n.size();
      index += n.offset_index_bytes();
      tindex += n.time_index_bytes();
      ++e;
    }
    groups.emplace_back(g, e);
    g = e;
  }

  std::map<ProducerId, bool> txn_has_data;
  std::unordered_map<std::string, bool> superseded_seen;  // ksim.bug.cleaner.drops.latest.value only
  std::vector<std::unique_ptr<LogSegment>> rebuilt;
  for (const auto& [g, e] : groups) {
   auto out = std::make_unique<LogSegment>(*log.disk_, log.dir_, segs[g]->base_offset(), cfg, now_ms,
                                           LogSegment::kCleanedSuffix);
   if (Errc err = out->create(); err != Errc::NONE) return log.fail(err);
   for (size_t i = g; i < e; ++i) {
    LogSegment& src = *segs[i];
    auto batches = read_all(src);
    if (!batches.ok()) return log.fail(batches.error);
    for (const BatchPtr& bp : batches.value) {
      const RecordBatch& b = *bp;
      const std::optional<int64_t> horizon = b.delete_horizon_ms();
      const bool horizon_passed = horizon && now_ms >= *horizon;
      BatchPtr keep = bp;
      if (b.is_control()) {
        const auto marker = read_marker(b);
        const bool data_left = txn_has_data[b.producer_id()];
        txn_has_data[b.producer_id()] = false;
        if (marker && !data_left && horizon_passed) {
          ++st.markers_removed;
          if (!marker->commit)
            forget.push_back(CompletedTxn{b.producer_id(), kNoOffset, b.base_offset(), true});
          keep = nullptr;
        } else if (!horizon) {
          keep = RecordBatch::retained(b, b.records(), now_ms + cfg.delete_retention_ms);
        }
      } else {
        const bool aborted_batch = is_aborted(b, collected);
        std::vector<RecordView> kept;
        bool tombstone_kept = false;
        if (aborted_batch) {
          ++st.aborted_batches_removed;
        } else {
          for (const RecordView& r : b.records()) {
            if (r.key && r.offset < map_end) {
              auto it = map.find(std::string(r.key->begin(), r.key->end()));
              if (it != map.end() && it->second > r.offset) {
                ++st.records_removed;
                if (cfg.cleaner_drops_latest) superseded_seen[it->first] = true;
                continue;
              }
              if (cfg.cleaner_drops_latest && it != map.end() && superseded_seen.contains(it->first)) {
                log.world_->probe("storage/BUG cleaner dropped a key's latest value");
                ++st.records_removed;
                continue;
              }
            }
            if (r.key && !r.value) {
              // A tombstone goes once its delete horizon passed; until then it stays.
              if (horizon_passed) {
                ++st.tombstones_removed;
                continue;
              }
              tombstone_kept = true;
            }
            kept.push_back(r);
          }
        }
        if (b.is_transactional() && !kept.empty()) txn_has_data[b.producer_id()] = true;
        const auto producer = b.producer_id() != kNoProducerId ? log.producer_state_.entry(b.producer_id()) : std::nullopt;
        const bool producers_last =
            producer && !producer->batches.empty() && producer->batches.back().last_offset == b.last_offset();
        const bool needs_horizon = tombstone_kept && !horizon;
        if (kept.empty() && !producers_last) {
          keep = nullptr;
        } else if (kept.empty() || kept.size() != static_cast<size_t>(b.records_count()) || needs_horizon) {
          if (kept.empty()) ++st.empty_batches_kept;
          keep = RecordBatch::retained(b, kept, needs_horizon ? std::optional(now_ms + cfg.delete_retention_ms) : horizon);
        }
      }
      if (!keep) continue;
      st.bytes_written += static_cast<int64_t>(keep->size_in_bytes());
      if (Errc err = out->append(keep); err != Errc::NONE) return log.fail(err);
    }
    ++st.segments;
   }
   if (Errc err = out->flush(); err != Errc::NONE) return log.fail(err);
   // The swap: the merged segment takes the first one's name, then the
   // group's others go (a crash between leaves them overlapping it: the log
   // deletes them when it opens, see load_segments).
   if (Errc err = out->commit_cleaned(); err != Errc::NONE) return log.fail(err);
   SIM_ASSERT(out->base_offset() == segs[g]->base_offset() && out->next_offset() <= segs[e - 1]->next_offset(),
              "a cleaned segment holds offsets of its originals only");
   for (size_t i = g + 1; i < e; ++i)
     if (Errc err = segs[i]->delete_files(); err != Errc::NONE) return log.fail(err);
   if (e - g > 1) log.world_->probe("storage/cleaner_merged_segments");
   rebuilt.push_back(std::move(out));
  }
  for (size_t i = last + 1; i < segs.size(); ++i) rebuilt.push_back(std::move(segs[i]));
  segs = std::move(rebuilt);
  log.sync_log_end_offset();  // the active segment is never cleaned; kept exact all the same
  // The rebuilt index: the aborted transactions whose marker went, and (the
  // KAFKA-13727 switch) those the partial pass did not collect.
  std::vector<CompletedTxn> gone;
  for (const CompletedTxn& t : aborted)
    for (const CompletedTxn& f : forget)
      if (t.producer_id == f.producer_id && (f.first_offset == kNoOffset ? t.last_offset == f.last_offset : t == f))
        gone.push_back(t);
  log.producer_state_.forget_aborted(gone);
  log.first_dirty_offset_ = std::max(log.first_dirty_offset_, map_end);
  st.first_dirty_after = log.first_dirty_offset();
  log.world_->probe("storage/log_cleaned");
  log.check_invariants();
  return st;
}

}  // namespace ksim::storage
