// LogSegment: one slice of a partition's log on disk — Kafka's LogSegment.
//
//   <dir>/<base offset, 20 digits>.log        the batches, back to back
//   <dir>/<base offset, 20 digits>.index      sparse offset index
//   <dir>/<base offset, 20 digits>.timeindex  sparse time index
//
// The offset index is how a read finds its place without scanning the whole
// file: every `index.interval.bytes` of appended data adds an entry
// (last offset of the batch - base offset : int32, file position of the batch
// : int32). A lookup takes the last entry at or below the target and scans
// batch headers forward from there. The time index does the same for
// timestamps: entries (largest timestamp so far : int64, offset of it - base :
// int32), added at the same moments when the timestamp grew.
//
// Indexes are derived data: recover() rebuilds them from the .log file, which
// is the only source of truth. recover() also validates every batch (length,
// magic, CRC, offsets increasing) and cuts the file at the first invalid one:
// a torn or corrupt tail is dropped, nothing is ever reordered or invented.
//
// Offsets inside the segment increase: every batch starts at the previous
// batch's next offset (the first at the base offset) — except in a compacted
// log, where the cleaner removed whole batches and left gaps (Kafka's too):
// there a batch starts at or after the previous one's next offset. Loading
// and recovery accept such gaps in any log, as Kafka's do: a log is opened
// before its topic's config is known, and a follower's copy of a compacted
// leader has the leader's gaps without any cleaning of its own.
//
// A cleaned segment is first written under `<stem>.log.cleaned` (and
// `.index.cleaned`, `.timeindex.cleaned`), fsynced, then renamed over the
// original files (commit_cleaned). A crash before the rename leaves `.cleaned`
// files that the log deletes when it opens: the original segment stands.
// The cleaner merges a group of small segments into one (Kafka's
// groupSegmentsBySize): the group's other segments are deleted after the
// rename, and a crash between the two leaves them overlapping the merged one,
// which the log deletes when it opens (the merged segment holds all they kept).
#pragma once

#include <array>
#include <deque>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "engine/storage/log_config.h"
#include "engine/storage/record_batch.h"
#include "sim/disk.h"

namespace ksim::storage {

// A record found by timestamp (ListOffsets / offsetsForTimes).
struct TimestampAndOffset {
  int64_t timestamp = kNoTimestamp;
  Offset offset = kNoOffset;
  LeaderEpoch leader_epoch = kNoEpoch;
  auto operator<=>(const TimestampAndOffset&) const = default;
};

class LogSegment {
 public:
  // "<dir>/00000000000000000042" (add ".log", ".index", ".timeindex").
  static std::string file_stem(const std::string& dir, Offset base);
  // The base offset encoded in a ".log" file name, if it is one.
  static std::optional<Offset> parse_log_file_name(const std::string& dir, const std::string& path);

  // `suffix` "" for a live segment, kCleanedSuffix for the cleaner's copy.
  LogSegment(sim::Disk& disk, const std::string& dir, Offset base, const LogConfig& config, int64_t created_ms,
             const std::string& suffix = "");
  static constexpr const char* kCleanedSuffix = ".cleaned";

  // The cleaner's copy becomes the segment (renames its files over the
  // original ones: the .log last, so a crash before it keeps the original
  // data, whose stale index the load-time sanity check rebuilds).
  Errc commit_cleaned();
  // A topic config change (the log's set_config): the next roll decision uses it.
  void set_config(const LogConfig& config) { config_ = config; }

  // Creates the three files, empty (a new segment on roll).
  Errc create();
  // Opens a segment below the recovery point (fsynced, trusted): loads the
  // index files and finds the last batch. Falls back to recover() when an
  // index fails its sanity check, as Kafka rebuilds a corrupt index.
  Errc load();
  // Validates every batch from the start, rebuilds both indexes and truncates
  // the file at the first invalid batch. `on_batch` sees each valid batch (the
  // log rebuilds its epoch cache with it). Returns the bytes truncated.
  Result<int64_t> recover(const std::function<void(const RecordBatch&)>& on_batch);

  // Appends one batch whose base offset is next_offset() (or later, in a
  // compacted log: the cleaner's gaps). The shared batch
  // is also kept in the segment's batch cache (see below).
  Errc append(const BatchPtr& batch);
  // Whole batches holding offsets >= `start`, at most `max_bytes` of them
  // (but at least one if `min_one`), stopping before any batch whose last
  // offset is >= `max_offset_exclusive`.
  Result<std::vector<BatchPtr>> read(Offset start, int64_t max_bytes, Offset max_offset_exclusive, bool min_one);
  // The first record with timestamp >= `ts` and offset >= `start`, if any.
  Result<std::optional<TimestampAndOffset>> find_offset_by_timestamp(int64_t ts, Offset start);
  // Removes every batch whose last offset is >= `offset` (a batch holding
  // `offset` goes entirely). Returns the bytes removed.
  Result<int64_t> truncate_to(Offset offset);
  // fsyncs the log and both indexes.
  Errc flush();
  Errc delete_files();

  // Kafka's LogSegment.shouldRoll, for an incoming batch.
  bool should_roll(const RecordBatch& incoming, int64_t now_ms) const;

  Offset base_offset() const { return base_; }
  Offset next_offset() const { return next_offset_; }  // last offset + 1; base when empty
  int64_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  // The sizes of the offset and time index files (the cleaner's grouping bound).
  int64_t offset_index_bytes() const { return static_cast<int64_t>(offset_index_.size()) * 8; }
  int64_t time_index_bytes() const { return static_cast<int64_t>(time_index_.size()) * 12; }
  // Newest record timestamp (retention.ms); the creation time if none.
  int64_t largest_timestamp() const { return max_ts_ != kNoTimestamp ? max_ts_ : created_ms_; }
  const std::string& log_path() const { return log_path_; }

 private:
  struct OffsetEntry { int32_t relative_offset; int32_t position; };
  struct TimeEntry { int64_t timestamp; int32_t relative_offset; };
  // What a scan reports for each batch: its position and its whole bytes.
  using Visit = std::function<bool(int64_t position, std::span<const uint8_t> batch)>;
  struct ScanEnd { int64_t position = 0; bool structurally_invalid = false; };

  // Walks the batches from `position`, reading the file in large chunks.
  // Stops when `visit` returns false (at that batch), at end of file, or at a
  // batch whose length field is impossible or runs past the end of the file.
  Result<ScanEnd> scan(int64_t position, const Visit& visit);
  // The position of the first batch whose last offset is >= `offset`
  // (size() if none).
  Result<int64_t> position_of(Offset offset);
  // Kafka's index policy for a batch appended at `position`: the entries it
  // adds to the offset index (relative offset, position) and the time index
  // (timestamp, relative offset), big-endian as Kafka's files hold them.
  // (Built on the stack: a vector grown a byte at a time cost nine
  // allocations per entry.)
  static constexpr size_t kOffsetEntrySize = 8;  // Kafka's OffsetIndex entry
  static constexpr size_t kTimeEntrySize = 12;   // Kafka's TimeIndex entry
  struct IndexEntries {
    std::array<uint8_t, kOffsetEntrySize> offset{};
    std::array<uint8_t, kTimeEntrySize> time{};
    bool has_offset = false;
    bool has_time = false;
  };
  IndexEntries index_batch(const RecordBatch& b, int64_t position);
  void reset_state();
  // The batch cache: the decoded batches of the file's tail [cache_start_,
  // size_), in order, exactly what the page cache holds there (the segment
  // is the file's only writer; a disk corruption drops the cache). Reads
  // that start inside it are served from it — the disk is charged the read
  // (time, stats, trace) but no bytes are copied or decoded. At most
  // kCacheBytes are kept; older data is read from the disk model.
  static constexpr int64_t kCacheBytes = 4 << 20;
  // `base` and `last` are the batch's offsets, copied out of its header:
  // reads check the cache's start and binary-search it by them, and reading
  // them from the batches would touch one cold heap buffer per probe.
  struct Cached { int64_t position; Offset base, last; BatchPtr batch; };
  void cache_push(int64_t position, BatchPtr batch);
  void cache_reset(int64_t start);  // empty, starting at `start` (= size_)
  bool cache_usable(Offset start);
  Result<std::vector<BatchPtr>> read_cached(Offset start, int64_t max_bytes, Offset max_offset_exclusive, bool min_one);
  Errc storage(sim::DiskStatus s);

  sim::Disk* disk_;
  LogConfig config_;
  Offset base_;
  std::string log_path_, index_path_, time_index_path_;
  int64_t created_ms_;

  int64_t size_ = 0;
  Offset next_offset_;
  int64_t max_ts_ = kNoTimestamp;          // largest timestamp so far
  Offset offset_of_max_ts_ = kNoOffset;
  int64_t first_batch_ts_ = kNoTimestamp;  // Kafka's rollingBasedTimestamp
  int64_t bytes_since_index_entry_ = 0;
  std::vector<OffsetEntry> offset_index_;
  std::vector<TimeEntry> time_index_;
  std::deque<Cached> cache_;
  int64_t cache_start_ = 0;
  int64_t cache_bytes_ = 0;
  uint64_t cache_corruptions_ = 0;  // the disk's corruptions() the cache was built under
};

}  // namespace ksim::storage
