// LogConfig: the topic-level settings one partition's log obeys, with Kafka's
// names (in the comments) and Kafka's defaults. Sizes in bytes, times in
// milliseconds, as Kafka's configs are.
//
// The parsing of user strings into these values (and the broker-level
// synonyms such as log.segment.bytes) belongs to engine/common/config.h; this
// struct is what the storage layer consumes.
#pragma once

#include <cstdint>
#include <limits>

#include "engine/storage/record_batch.h"

namespace ksim::storage {

inline constexpr int64_t kLongMax = std::numeric_limits<int64_t>::max();

struct LogConfig {
  // segment.bytes: roll to a new segment when the active one would exceed this.
  int64_t segment_bytes = 1024LL * 1024 * 1024;
  // segment.ms: roll when the active segment's first batch is this old.
  int64_t segment_ms = 7LL * 24 * 60 * 60 * 1000;
  // index.interval.bytes: add an offset/time index entry every this many bytes.
  int64_t index_interval_bytes = 4096;
  // segment.index.bytes: maximum size of an index file (a full index rolls).
  int64_t segment_index_bytes = 10LL * 1024 * 1024;
  // flush.messages: fsync after this many unflushed messages (Long.MAX: never).
  int64_t flush_messages = kLongMax;
  // flush.ms: fsync when the last flush is this old (Long.MAX: never).
  int64_t flush_ms = kLongMax;
  // retention.ms: delete segments whose newest record is older (-1: forever).
  int64_t retention_ms = 7LL * 24 * 60 * 60 * 1000;
  // retention.bytes: delete oldest segments while the log is larger (-1: no limit).
  int64_t retention_bytes = -1;
  // message.timestamp.type: CreateTime (the producer's) or LogAppendTime (the broker's).
  TimestampType message_timestamp_type = TimestampType::create_time;
  // max.message.bytes: the largest batch the log accepts (RECORD_LIST_TOO_LARGE / MESSAGE_TOO_LARGE).
  int64_t max_message_bytes = 1048588;
  // cleanup.policy: `compact` keeps the latest record of every key (the log
  // cleaner, log_cleaner.h); `delete` is retention. Both may be set.
  bool compact = false;
  bool delete_old = true;
  // min.cleanable.dirty.ratio: the dirty share of the log's bytes that makes it cleanable.
  double min_cleanable_dirty_ratio = 0.5;
  // min.compaction.lag.ms: a record stays uncompacted at least this long.
  int64_t min_compaction_lag_ms = 0;
  // max.compaction.lag.ms: a dirty record this old makes the log cleanable whatever the ratio.
  int64_t max_compaction_lag_ms = kLongMax;
  // delete.retention.ms: how long a cleaned tombstone or marker stays (KIP-534's delete horizon).
  int64_t delete_retention_ms = 24LL * 60 * 60 * 1000;
  // ksim.cleaner.abort.marker.removal=early (a broker key; HISTORY SWITCH,
  // KAFKA-13727): a partial cleaning forgets the aborted transactions above
  // its offset map's end, so their data reads as committed.
  bool cleaner_partial_txn_bug = false;
  // ksim.bug.cleaner.drops.latest.value (a broker key; PLANTED BUG): the
  // cleaner removes the latest value of a key that had older ones too.
  bool cleaner_drops_latest = false;
  // ksim.bug.skip.idempotent.dedupe (a broker key; PLANTED BUG): a retried
  // idempotent batch is appended again instead of answered with its original offsets.
  bool skip_idempotent_dedupe = false;
  bool operator==(const LogConfig&) const = default;
};

}  // namespace ksim::storage
