// LogCleaner: compaction of one partition's log (cleanup.policy=compact) —
// Kafka's LogCleanerManager.cleanableOffsets plus Cleaner.doClean, for the
// simulated disk.
//
// A compacted log keeps, for every key, at least its latest record:
//
//   log start         first dirty offset          first uncleanable offset   LEO
//      |  clean section    |    dirty section            |  (active segment,   |
//      |  (compacted once) |  (appended since)           |   open txns, HW,   |
//                                                            min.compaction.lag)
//
// One pass: (1) read the dirty section into an offset map, key -> latest
// offset (aborted transactional data and markers are not keys), stopping
// before a batch that would overfill the map (log.cleaner.dedupe.buffer.size:
// a *partial* pass); (2) rewrite every segment from the log start up to the
// one holding the map's end, keeping a record unless a later offset of its
// key is in the map, dropping aborted transactions' batches, and tombstones
// and markers whose delete horizon (KIP-534) has passed; (3) the rewritten
// segments are grouped by size as Kafka's groupSegmentsBySize (together at
// most segment.bytes), each group written as one segment's `.cleaned` files,
// fsynced and renamed over its first segment, the group's others deleted
// (device time, crash-safe: see log_segment.h). Without the grouping a
// compacted log of small segments never shrinks in segment count, and every
// pass rewrites (and fsyncs) all of them while holding the log's lock. The first dirty
// offset then moves to the map's end.
//
// Invariants (asserted or kept by construction):
//   * offsets never move: a kept batch keeps its base and last offset (an
//     emptied batch is dropped — a gap — unless it is its producer's last,
//     which keeps the producer's sequence); the active segment is never cleaned;
//   * nothing at or above the first uncleanable offset is touched, so every
//     record the cleaner sees is decided (committed or aborted);
//   * the newest record of every key in the cleaned range survives; a tombstone
//     survives at least delete.retention.ms after its first cleaning;
//   * a transaction marker survives until no batch of its transaction is left
//     and its delete horizon passed;
//   * the aborted-transaction index keeps every aborted transaction whose data
//     is still in the log — unless ksim.cleaner.abort.marker.removal=early
//     (KAFKA-13727): then a partial pass forgets those above the map's end,
//     and their data reads as committed.
#pragma once

#include <cstdint>

#include "engine/storage/unified_log.h"

namespace ksim::storage {

// What the cleaner would clean in a log now (Kafka's LogToClean).
struct LogToClean {
  Offset first_dirty{0};
  Offset first_uncleanable{0};  // a segment base: segments wholly below it are cleanable
  int64_t clean_bytes = 0;
  int64_t dirty_bytes = 0;
  bool max_lag_exceeded = false;  // max.compaction.lag.ms forces a pass
  double dirty_ratio() const {
    return clean_bytes + dirty_bytes == 0 ? 0.0
                                          : static_cast<double>(dirty_bytes) / static_cast<double>(clean_bytes + dirty_bytes);
  }
};

// What one pass did (Kafka's CleanerStats).
struct CleanerStats {
  int segments = 0;
  int64_t bytes_read = 0;
  int64_t bytes_written = 0;
  int64_t records_removed = 0;      // superseded by a later value of their key
  int64_t tombstones_removed = 0;   // past their delete horizon
  int64_t aborted_batches_removed = 0;
  int64_t markers_removed = 0;
  int64_t empty_batches_kept = 0;   // a producer's last batch, emptied
  Offset first_dirty_before{0};
  Offset first_dirty_after{0};
  bool partial = false;             // the offset map filled before the dirty section's end
};

class LogCleaner {
 public:
  // Entries of an offset map of `dedupe_buffer_bytes` (Kafka: 24 bytes per
  // entry — a 16-byte hash and an 8-byte offset — at a 0.9 load factor).
  static int64_t map_capacity(int64_t dedupe_buffer_bytes) {
    return std::max<int64_t>(1, dedupe_buffer_bytes / 24 * 9 / 10);
  }

  // The cleanable range of a compacted log at `now_ms`; nullopt when the log
  // is not compacted or has nothing cleanable below its first uncleanable offset.
  static std::optional<LogToClean> cleanable(const UnifiedLog& log, int64_t now_ms);
  // Whether the cleaner should pick this log: min.cleanable.dirty.ratio or max.compaction.lag.ms.
  static bool needs_cleaning(const UnifiedLog& log, const LogToClean& c) {
    return c.max_lag_exceeded || c.dirty_ratio() >= log.config().min_cleanable_dirty_ratio;
  }

  // One pass over `log` (whether or not it needs cleaning: a forced clean).
  // Holds the log's lock throughout; takes device time. A storage error takes
  // the log offline, as every other log operation.
  static Result<CleanerStats> clean(UnifiedLog& log, int64_t now_ms, int64_t map_capacity_entries);
};

}  // namespace ksim::storage
