// UnifiedLog: one partition's log — a directory of segments plus its leader
// epoch cache — as Kafka's UnifiedLog (with LocalLog and LogLoader folded in).
//
//   <log dir>/<topic>-<partition>/00000000000000000000.log ...
//
// The log is a sequence of record batches with contiguous offsets
// [log_start_offset, log_end_offset). The leader appends producer batches and
// assigns their offsets and its epoch; a follower appends the leader's
// batches as they are (offsets and epochs kept). Both keep the leader epoch
// cache in step: a batch with a new epoch starts a new cache entry.
//
// Open recovers: segments wholly below the recovery point (known fsynced) are
// loaded as they are; every later one is scanned, validated and cut at the
// first invalid batch, and any segment after a cut is deleted — so what
// survives is always a prefix of what was written. The epoch cache is then
// trimmed to the recovered log end.
//
// Transactions: the producer state (producer_state_manager.h) tracks every
// producer's open transaction and the aborted ones; the log turns that into
// the last stable offset, min(high watermark, first unstable offset), up to
// which read_committed consumers may read, and answers which aborted
// transactions overlap a fetched range.
//
// Durability is Kafka's: no fsync per append by default (flush.messages and
// flush.ms are Long.MAX; replication is the durability). Rolling a segment
// flushes the old one. flush() forces it.
//
// A disk error takes the log offline, as Kafka's LogDirFailureChannel takes
// the whole log dir offline: that call and every later one return
// KAFKA_STORAGE_ERROR until the broker restarts and re-opens the log.
//
// All calls must come from a fiber of the node owning the disk; they take
// virtual time and are serialised (one operation on the log at a time).
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "engine/storage/leader_epoch_cache.h"
#include "engine/storage/log_config.h"
#include "engine/storage/log_segment.h"
#include "engine/storage/producer_state_manager.h"
#include "sim/sync.h"

namespace ksim::storage {

// ListOffsets' special timestamps (ListOffsetsRequest.EARLIEST/LATEST_TIMESTAMP).
inline constexpr int64_t kEarliestTimestamp = -2;
inline constexpr int64_t kLatestTimestamp = -1;

// What an append did (Kafka's LogAppendInfo).
struct LogAppendInfo {
  Offset first_offset = kNoOffset;
  Offset last_offset = kNoOffset;
  int64_t max_timestamp = kNoTimestamp;
  Offset offset_of_max_timestamp = kNoOffset;
  int64_t log_append_time = kNoTimestamp;  // set with message.timestamp.type=LogAppendTime
  Offset log_start_offset = kNoOffset;
  int32_t num_records = 0;
  int64_t valid_bytes = 0;
  // A retry of an idempotent batch the log already holds: nothing was
  // appended; the offsets are the original append's (Kafka answers NONE).
  bool duplicate = false;
};

class UnifiedLog {
 public:
  // Opens (creating if absent) and recovers the log of `tp` under `log_dir`
  // ("" = the disk's root). `recovery_point` and `log_start_offset` come from
  // the log dir's recovery-point- and log-start-offset-checkpoint files;
  // the defaults mean "recover everything" and "the first segment's base".
  // `had_clean_shutdown` (the log dir's .kafka_cleanshutdown file was there):
  // no segment is recovered and the recovery point is the log end, as Kafka's
  // LogLoader does after a clean shutdown (which flushed every log).
  static Result<std::unique_ptr<UnifiedLog>> open(sim::World& world, sim::Disk& disk, const std::string& log_dir,
                                                  const TopicPartition& tp, const LogConfig& config,
                                                  Offset recovery_point = Offset{0},
                                                  Offset log_start_offset = kNoOffset,
                                                  bool had_clean_shutdown = false);

  const TopicPartition& topic_partition() const { return tp_; }
  const std::string& dir() const { return dir_; }
  const LogConfig& config() const { return config_; }
  // A dynamic topic config change (Kafka's updateConfig): retention, rolls,
  // flushes and limits follow the new values from the next decision on.
  void set_config(const LogConfig& config);
  bool offline() const { return offline_; }

  Offset log_start_offset() const { return log_start_offset_; }
  // The active segment's next offset, kept by every change of the segment
  // list or the active segment (sync_log_end_offset), asserted by
  // check_invariants: every fetch reads it, and the segment itself sits two
  // cache misses away.
  Offset log_end_offset() const { return log_end_offset_; }
  Offset recovery_point() const { return recovery_point_; }
  Offset high_watermark() const { return high_watermark_; }
  // Clamped to [log_start_offset, log_end_offset] (retention deletes only below it).
  void update_high_watermark(Offset hw);
  // Transactions (Kafka's firstUnstableOffset / lastStableOffset): the first
  // offset of the earliest transaction that is open or whose marker the HW has
  // not passed, at least log_start_offset; nullopt if none.
  std::optional<Offset> first_unstable_offset() const;
  // min(high watermark, first unstable offset): read_committed reads stop here.
  Offset last_stable_offset() const;
  // The aborted transactions overlapping [from, upper_exclusive), in first-offset
  // order (what a read_committed fetch of that range must be told).
  std::vector<CompletedTxn> aborted_transactions(Offset from, Offset upper_exclusive) const {
    return producer_state_.aborted_transactions(from, upper_exclusive);
  }
  int64_t size_in_bytes() const;
  std::vector<Offset> segment_base_offsets() const;

  const LeaderEpochFileCache& leader_epoch_cache() const { return epochs_; }
  // The producers' state: idempotence and transactions (rebuilt on open and after truncation).
  const ProducerStateManager& producer_state() const { return producer_state_; }
  std::optional<LeaderEpoch> latest_epoch() const { return epochs_.latest_epoch(); }
  // OffsetsForLeaderEpoch for this log (KIP-279).
  std::pair<LeaderEpoch, Offset> end_offset_for_epoch(LeaderEpoch epoch) const {
    return epochs_.end_offset_for(epoch, log_end_offset());
  }

  // A new leader epoch starts at `start_offset` (Kafka's
  // maybeAssignEpochStartOffset on becoming leader): recorded in the epoch cache
  // at once, so OffsetsForLeaderEpoch answers correctly before the first append.
  Errc assign_epoch_start(LeaderEpoch epoch, Offset start_offset);

  // Assigns the next offsets to a producer's batch, stamps `leader_epoch`
  // (and LogAppendTime if configured) and appends it. A batch with a producer
  // id is validated against the producer state first: a stale epoch or a
  // sequence gap is refused (INVALID_PRODUCER_EPOCH, OUT_OF_ORDER_SEQUENCE_NUMBER),
  // a duplicate of one of the producer's last 5 batches is not appended and
  // answered with the original offsets (`duplicate`); a non-transactional batch
  // of a producer with an open transaction gets INVALID_TXN_STATE.
  // `origin` coordinator: a coordinator's batch — a transaction marker
  // (control_record.h) or a transactional offset commit — checked for its
  // producer epoch (and a marker for its coordinator epoch) but not for
  // sequences. Clients may not write control batches (CORRUPT_MESSAGE).
  Result<LogAppendInfo> append_as_leader(const BatchPtr& batch, LeaderEpoch leader_epoch,
                                         AppendOrigin origin = AppendOrigin::client);
  // Appends the leader's batches unchanged; the first must start at
  // log_end_offset and each must follow the previous (else OFFSET_OUT_OF_RANGE).
  Result<LogAppendInfo> append_as_follower(const std::vector<BatchPtr>& batches);

  // Whole batches from the one holding `from` on, within one segment, at most
  // `max_bytes` (at least one batch if `min_one_message`), none reaching
  // `max_offset_exclusive` (the high watermark for consumers; default: no
  // limit). OFFSET_OUT_OF_RANGE unless log_start_offset <= from <= LEO.
  Result<std::vector<BatchPtr>> read(Offset from, int64_t max_bytes, std::optional<Offset> max_offset_exclusive = {},
                                     bool min_one_message = true);

  // Removes every offset >= `offset` (whole batches) and the epoch cache
  // entries starting there. No-op if offset >= LEO.
  Errc truncate_to(Offset offset);
  // Deletes everything; the log restarts empty at `offset`.
  Errc truncate_fully_and_start_at(Offset offset);
  // Starts a new active segment at LEO (if the active one is not empty).
  Errc roll();
  // fsyncs everything up to LEO; the recovery point becomes LEO.
  Errc flush();

  // ListOffsets: kEarliestTimestamp, kLatestTimestamp, or the first record
  // with timestamp >= ts (nullopt if none).
  Result<std::optional<TimestampAndOffset>> fetch_offset_by_timestamp(int64_t ts);

  // Compaction (cleanup.policy=compact): the cleaner has compacted everything
  // below this offset (Kafka's cleaner-offset-checkpoint entry; kept in memory,
  // so it restarts at the log start after a restart — recleaning is idempotent).
  Offset first_dirty_offset() const { return std::max(first_dirty_offset_, log_start_offset_); }
  size_t segment_count() const { return segments_.size(); }

  // Retention: deletes whole segments below the high watermark by
  // retention.ms, retention.bytes and the log start offset; advances the log
  // start offset. Returns how many segments were deleted.
  Result<int> delete_old_segments();
  // A follower's log start follows the leader's (Kafka's
  // maybeIncrementLogStartOffset, LeaderOffsetIncremented): raised to
  // `offset` if that is above it and not above the high watermark; the
  // segments wholly below it go at the next retention pass.
  void maybe_increment_log_start_offset(Offset offset);
  // producer.id.expiration.ms (ProducerStateManager::remove_expired), now.
  void remove_expired_producers(int64_t expiration_ms);

 private:
  friend class LogCleaner;  // cleans segments in place, under the log's lock
  // Serialises operations on the log: fibers interleave at every disk
  // operation, and an append must not see another append's half-done state
  // (Kafka holds UnifiedLog's lock for the same reason).
  // A sim::Mutex hands the lock to the longest waiter, so a fiber that appends
  // in a loop cannot starve a reader or a truncation. (A fiber unwinding from a
  // crash only wakes fibers of its own, equally dead, process: they are skipped.)
  class Lock {
   public:
    explicit Lock(UnifiedLog& log) : guard_(log.mutex_) {}

   private:
    sim::LockGuard guard_;
  };
  UnifiedLog(sim::World& world, sim::Disk& disk, std::string dir, TopicPartition tp, const LogConfig& config);

  int64_t now_ms() const { return world_->now().ns / 1'000'000; }
  LogSegment& active() { return *segments_.back(); }
  Errc fail(Errc e);  // a storage error takes the log offline
  Errc load_segments(Offset recovery_point, Offset log_start_offset, bool had_clean_shutdown);
  Errc maybe_assign_epoch(const RecordBatch& b);
  Errc append_batch(const BatchPtr& batch);
  Errc roll_locked();
  Errc flush_locked();
  Errc delete_segments(size_t count);
  Errc truncate_fully_locked(Offset offset);
  void check_invariants() const;
  void set_high_watermark(Offset hw);  // the only writer of high_watermark_
  // After any change of segments_ or of the active segment's contents.
  void sync_log_end_offset() {
    if (!segments_.empty()) log_end_offset_ = segments_.back()->next_offset();
  }

  // What every fetch of every partition reads comes first (a leader answers a
  // follower's session of mostly idle partitions: each costs the cache lines
  // it touches): the segment list, the offsets, the epoch cache (whose cached
  // latest epoch a follower's fetch asks for), then the producer state, whose
  // cached first unstable offset leads it (for the last stable offset).
  sim::World* world_;
  sim::Disk* disk_;
  std::vector<std::unique_ptr<LogSegment>> segments_;  // by base offset; never empty once open
  Offset log_end_offset_{0};  // segments_.back()->next_offset(), see log_end_offset()
  Offset log_start_offset_{0};
  Offset high_watermark_{0};
  bool offline_ = false;
  LeaderEpochFileCache epochs_;  // its cached latest epoch leads it (a follower's fetch reads it)
  ProducerStateManager producer_state_;  // its cached first unstable offset leads it
  Offset recovery_point_{0};
  Offset first_dirty_offset_{0};
  int64_t last_flush_ms_ = 0;
  std::string dir_;
  TopicPartition tp_;
  LogConfig config_;
  sim::Mutex mutex_;
};

}  // namespace ksim::storage
