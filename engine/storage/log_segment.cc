#include "engine/storage/log_segment.h"

#include <algorithm>
#include <cstdio>

#include "engine/storage/big_endian.h"
#include "sim/error.h"

namespace ksim::storage {
namespace {

constexpr int64_t kReadChunk = 64 * 1024;  // scans read the file this much at a time

int64_t be(std::span<const uint8_t> s, size_t at, int width) {
  uint64_t v = 0;
  for (int i = 0; i < width; ++i) v = (v << 8) | s[at + static_cast<size_t>(i)];
  if (width == 4) return static_cast<int32_t>(static_cast<uint32_t>(v));
  return static_cast<int64_t>(v);
}
// Header fields straight from a batch's bytes (no decoding needed to navigate).
Offset raw_base(std::span<const uint8_t> b) { return Offset{be(b, 0, 8)}; }
// Wrapping (as Java's long): on bytes that are not a valid batch (a scan from a
// corrupted index position) the sum must not be C++ signed overflow.
Offset raw_last(std::span<const uint8_t> b) {
  return Offset{static_cast<int64_t>(static_cast<uint64_t>(be(b, 0, 8)) + static_cast<uint64_t>(be(b, 23, 4)))};
}
int64_t raw_max_ts(std::span<const uint8_t> b) { return be(b, 35, 8); }

}  // namespace

std::string LogSegment::file_stem(const std::string& dir, Offset base) {
  char digits[32];
  std::snprintf(digits, sizeof digits, "%020lld", static_cast<long long>(base.value));
  return dir + "/" + digits;
}

std::optional<Offset> LogSegment::parse_log_file_name(const std::string& dir, const std::string& path) {
  const std::string prefix = dir + "/";
  if (!path.starts_with(prefix) || !path.ends_with(".log")) return std::nullopt;
  const std::string digits = path.substr(prefix.size(), path.size() - prefix.size() - 4);
  if (digits.size() != 20 || !std::all_of(digits.begin(), digits.end(), [](char c) { return c >= '0' && c <= '9'; }))
    return std::nullopt;
  return Offset{std::stoll(digits)};
}

LogSegment::LogSegment(sim::Disk& disk, const std::string& dir, Offset base, const LogConfig& config,
                       int64_t created_ms, const std::string& suffix)
    : disk_(&disk),
      config_(config),
      base_(base),
      log_path_(file_stem(dir, base) + ".log" + suffix),
      index_path_(file_stem(dir, base) + ".index" + suffix),
      time_index_path_(file_stem(dir, base) + ".timeindex" + suffix),
      created_ms_(created_ms),
      next_offset_(base) {}

Errc LogSegment::storage(sim::DiskStatus s) { return s == sim::DiskStatus::ok ? Errc::NONE : Errc::KAFKA_STORAGE_ERROR; }

void LogSegment::cache_reset(int64_t start) {
  cache_.clear();
  cache_bytes_ = 0;
  cache_start_ = start;
  cache_corruptions_ = disk_->corruptions();
}

void LogSegment::cache_push(int64_t position, BatchPtr batch) {
  SIM_ASSERT(position == cache_start_ + cache_bytes_, "the batch cache must stay contiguous");
  cache_bytes_ += static_cast<int64_t>(batch->size_in_bytes());
  const Offset base = batch->base_offset(), last = batch->last_offset();
  cache_.push_back({position, base, last, std::move(batch)});
  while (cache_bytes_ > kCacheBytes && cache_.size() > 1) {
    const auto n = static_cast<int64_t>(cache_.front().batch->size_in_bytes());
    cache_bytes_ -= n;
    cache_start_ += n;
    cache_.pop_front();
  }
}

bool LogSegment::cache_usable(Offset start) {
  if (cache_corruptions_ != disk_->corruptions()) {
    cache_reset(size_);  // the bytes on disk changed under us: trust only the disk from now on
    return false;
  }
  SIM_ASSERT(cache_start_ + cache_bytes_ == size_, "the batch cache must end at the segment's end");
  if (cache_start_ == 0) return true;
  return !cache_.empty() && cache_.front().base <= start;
}

Result<std::vector<BatchPtr>> LogSegment::read_cached(Offset start, int64_t max_bytes, Offset max_offset_exclusive,
                                                      bool min_one) {
  // The first cached batch whose last offset is >= start. Followers and
  // caught-up consumers read the newest batches: step back from the end a
  // few batches before bisecting (a bisection of a deque of thousands of
  // batches was 1.8% of the cluster bench).
  auto it = cache_.end();
  int steps = 0;
  while (it != cache_.begin() && std::prev(it)->last >= start) {
    if (++steps > 8) {  // far back: bisect what is left
      it = std::partition_point(cache_.begin(), it, [&](const Cached& c) { return c.last < start; });
      break;
    }
    --it;
  }
  std::vector<BatchPtr> out;
  int64_t total = 0;
  const int64_t from = it == cache_.end() ? size_ : it->position;
  for (; it != cache_.end(); ++it) {
    const RecordBatch& b = *it->batch;
    if (it->last >= max_offset_exclusive) break;
    const auto n = static_cast<int64_t>(b.size_in_bytes());
    if (total + n > max_bytes && !(out.empty() && min_one)) break;
    out.push_back(it->batch);
    total += n;
  }
  if (total > 0)
    if (Errc e = storage(disk_->charge_read(log_path_, static_cast<uint64_t>(from), static_cast<uint64_t>(total)));
        e != Errc::NONE)
      return e;
  return out;
}

void LogSegment::reset_state() {
  size_ = 0;
  next_offset_ = base_;
  max_ts_ = kNoTimestamp;
  offset_of_max_ts_ = kNoOffset;
  first_batch_ts_ = kNoTimestamp;
  bytes_since_index_entry_ = 0;
  offset_index_.clear();
  time_index_.clear();
  cache_reset(0);
}

Errc LogSegment::create() {
  for (const std::string* p : {&log_path_, &index_path_, &time_index_path_})
    if (Errc e = storage(disk_->create(*p)); e != Errc::NONE) return e;
  return Errc::NONE;
}

LogSegment::IndexEntries LogSegment::index_batch(const RecordBatch& b, int64_t position) {
  IndexEntries out;
  if (first_batch_ts_ == kNoTimestamp && position == 0) first_batch_ts_ = b.max_timestamp();
  if (b.max_timestamp() > max_ts_) {
    max_ts_ = b.max_timestamp();
    offset_of_max_ts_ = b.last_offset();  // v2: the batch's last offset stands for it
  }
  // Kafka: an entry once MORE than index.interval.bytes were appended since
  // the last one, pointing at this batch.
  if (bytes_since_index_entry_ > config_.index_interval_bytes) {
    const auto rel = static_cast<int32_t>(b.last_offset() - base_);
    offset_index_.push_back({rel, static_cast<int32_t>(position)});
    store_be(out.offset.data(), static_cast<uint32_t>(rel), 4);
    store_be(out.offset.data() + 4, static_cast<uint32_t>(position), 4);
    out.has_offset = true;
    if (time_index_.empty() || max_ts_ > time_index_.back().timestamp) {
      const auto trel = static_cast<int32_t>(offset_of_max_ts_ - base_);
      time_index_.push_back({max_ts_, trel});
      store_be(out.time.data(), static_cast<uint64_t>(max_ts_), 8);
      store_be(out.time.data() + 8, static_cast<uint32_t>(trel), 4);
      out.has_time = true;
    }
    bytes_since_index_entry_ = 0;
  }
  bytes_since_index_entry_ += static_cast<int64_t>(b.size_in_bytes());
  next_offset_ = b.next_offset();
  return out;
}

Errc LogSegment::append(const BatchPtr& batch) {
  const RecordBatch& b = *batch;
  SIM_ASSERT(config_.compact ? b.base_offset() >= next_offset_ : b.base_offset() == next_offset_,
             "segment appends must be contiguous (increasing, in a compacted log)");
  const int64_t position = size_;
  // By reference: the batch's bytes never change, and the leader's segment,
  // the followers' segments and fetch responses all share them (and its
  // spill note: the first replica's file to spill them says where they went).
  if (Errc e = storage(disk_->append_shared(log_path_, batch, b.bytes(), b.spill_note())); e != Errc::NONE)
    return e;  // nothing written
  if (cache_corruptions_ != disk_->corruptions()) cache_reset(size_);
  size_ += static_cast<int64_t>(b.size_in_bytes());
  cache_push(position, batch);
  const IndexEntries entries = index_batch(b, position);
  // The indexes are mmap'd in Kafka: an entry is a store, not a write().
  if (entries.has_offset)
    if (Errc e = storage(disk_->append_mapped(index_path_, entries.offset)); e != Errc::NONE) return e;
  if (entries.has_time)
    if (Errc e = storage(disk_->append_mapped(time_index_path_, entries.time)); e != Errc::NONE) return e;
  return Errc::NONE;
}

Result<LogSegment::ScanEnd> LogSegment::scan(int64_t position, const Visit& visit) {
  const auto file_size = static_cast<int64_t>(disk_->size(log_path_));
  Bytes chunk;
  int64_t chunk_start = position;
  auto ensure = [&](int64_t pos, int64_t need) -> Errc {  // bytes [pos, pos+need) in `chunk`
    if (pos >= chunk_start && pos + need <= chunk_start + static_cast<int64_t>(chunk.size())) return Errc::NONE;
    sim::ReadResult r = disk_->read(log_path_, static_cast<uint64_t>(pos),
                                    static_cast<uint64_t>(std::max(need, kReadChunk)));
    if (r.status != sim::DiskStatus::ok) return Errc::KAFKA_STORAGE_ERROR;
    chunk = std::move(r.bytes);
    chunk_start = pos;
    return Errc::NONE;
  };
  int64_t pos = position;
  while (pos < file_size) {
    if (file_size - pos < static_cast<int64_t>(RecordBatch::kLogOverhead)) return ScanEnd{pos, true};
    if (Errc e = ensure(pos, RecordBatch::kLogOverhead); e != Errc::NONE) return e;
    if (pos + static_cast<int64_t>(RecordBatch::kLogOverhead) > chunk_start + static_cast<int64_t>(chunk.size()))
      return ScanEnd{pos, false};  // the file shrank under us
    const auto size = RecordBatch::peek_size(std::span<const uint8_t>(chunk).subspan(
        static_cast<size_t>(pos - chunk_start), RecordBatch::kLogOverhead));
    if (!size || pos + static_cast<int64_t>(*size) > file_size) return ScanEnd{pos, true};
    const auto n = static_cast<int64_t>(*size);
    if (Errc e = ensure(pos, n); e != Errc::NONE) return e;
    if (pos + n > chunk_start + static_cast<int64_t>(chunk.size())) return ScanEnd{pos, false};
    if (!visit(pos, std::span<const uint8_t>(chunk).subspan(static_cast<size_t>(pos - chunk_start), *size)))
      return ScanEnd{pos, false};
    pos += n;
  }
  return ScanEnd{pos, false};
}

Result<int64_t> LogSegment::position_of(Offset offset) {
  // The last index entry at or below `offset`, then scan forward.
  const OffsetEntry* entry = nullptr;
  for (auto it = offset_index_.rbegin(); it != offset_index_.rend(); ++it) {
    if (base_ + it->relative_offset <= offset) {
      entry = &*it;
      break;
    }
  }
  int64_t found = size_;
  bool index_lied = false;
  const int64_t start = entry ? entry->position : 0;
  auto end = scan(start, [&](int64_t pos, std::span<const uint8_t> b) {
    // An entry names the batch at its position by that batch's last offset
    // (index_batch). A loaded index that disagrees with the log (a corrupted
    // .index of a trusted segment) must not send the read to another batch.
    if (entry && pos == start && raw_last(b) != base_ + entry->relative_offset) {
      index_lied = true;
      return false;
    }
    if (raw_last(b) < offset) return true;
    found = pos;
    return false;
  });
  if (!end.ok()) return end.error;
  if (index_lied || (entry && end.value.position == start && end.value.structurally_invalid)) {
    offset_index_.clear();  // scan from the start from now on (recovery rebuilds the file)
    return position_of(offset);
  }
  return found;
}

Result<int64_t> LogSegment::recover(const std::function<void(const RecordBatch&)>& on_batch) {
  reset_state();
  const auto file_size = static_cast<int64_t>(disk_->size(log_path_));
  Bytes oi, ti;
  auto end = scan(0, [&](int64_t pos, std::span<const uint8_t> bytes) {
    auto batch = RecordBatch::decode_checked(Bytes(bytes.begin(), bytes.end()));
    // A batch that fails validation, whose offsets go backwards, or whose
    // offsets do not fit the segment ends the valid prefix. A gap is no
    // damage, whatever the topic's config says now: Kafka's LogSegment.recover
    // checks each batch (ensureValid) and that its last offset fits the
    // segment's int32 relative offsets (ensureOffsetInRange), never that it
    // continues the previous batch. A compacted log's gaps (its own cleaner's,
    // or the leader's copied by a follower) must survive a restart that opens
    // the log before its config is known. The base offset is outside the CRC,
    // so a flipped one is caught only by these range checks.
    if (!batch.ok()) return false;
    if (batch.value->base_offset() < next_offset_) return false;
    if (batch.value->last_offset() - base_ > INT32_MAX) return false;
    const IndexEntries entries = index_batch(*batch.value, pos);
    if (entries.has_offset) oi.insert(oi.end(), entries.offset.begin(), entries.offset.end());
    if (entries.has_time) ti.insert(ti.end(), entries.time.begin(), entries.time.end());
    size_ = pos + static_cast<int64_t>(bytes.size());
    if (on_batch) on_batch(*batch.value);
    cache_push(pos, std::move(batch.value));
    return true;
  });
  if (!end.ok()) return end.error;
  const int64_t truncated = file_size - size_;
  if (truncated > 0)
    if (Errc e = storage(disk_->truncate(log_path_, static_cast<uint64_t>(size_))); e != Errc::NONE) return e;
  // Rebuild both index files from scratch (they may be torn, stale or missing).
  for (auto [path, bytes] : {std::pair{&index_path_, &oi}, std::pair{&time_index_path_, &ti}}) {
    if (Errc e = storage(disk_->create(*path)); e != Errc::NONE) return e;
    if (Errc e = storage(disk_->truncate(*path, 0)); e != Errc::NONE) return e;
    if (!bytes->empty())
      if (Errc e = storage(disk_->append(*path, *bytes)); e != Errc::NONE) return e;
  }
  return truncated;
}

Errc LogSegment::load() {
  reset_state();
  size_ = static_cast<int64_t>(disk_->size(log_path_));
  cache_reset(size_);  // nothing decoded: reads of this segment's data go to the disk model
  auto idx = disk_->read(index_path_, 0, disk_->size(index_path_));
  auto tidx = disk_->read(time_index_path_, 0, disk_->size(time_index_path_));
  bool sane = idx.status == sim::DiskStatus::ok && tidx.status == sim::DiskStatus::ok &&
              idx.bytes.size() % kOffsetEntrySize == 0 && tidx.bytes.size() % kTimeEntrySize == 0;
  for (size_t at = 0; sane && at < idx.bytes.size(); at += kOffsetEntrySize) {
    OffsetEntry e{static_cast<int32_t>(be(idx.bytes, at, 4)), static_cast<int32_t>(be(idx.bytes, at + 4, 4))};
    sane = e.relative_offset >= 0 && e.position >= 0 && e.position < size_ &&
           (offset_index_.empty() || (e.relative_offset > offset_index_.back().relative_offset &&
                                      e.position > offset_index_.back().position));
    offset_index_.push_back(e);
  }
  for (size_t at = 0; sane && at < tidx.bytes.size(); at += kTimeEntrySize) {
    TimeEntry e{be(tidx.bytes, at, 8), static_cast<int32_t>(be(tidx.bytes, at + 8, 4))};
    sane = e.relative_offset >= 0 && (time_index_.empty() || e.timestamp > time_index_.back().timestamp);
    time_index_.push_back(e);
  }
  // The tail after the last index entry tells us the next offset and the
  // newest timestamps; the first batch gives the roll timestamp.
  int64_t start = offset_index_.empty() ? 0 : offset_index_.back().position;
  Offset expect = offset_index_.empty() ? base_ : Offset{-1};
  if (sane) {
    auto end = scan(start, [&](int64_t pos, std::span<const uint8_t> b) {
      if (expect.value >= 0 && raw_base(b) < expect) return false;  // increasing; gaps are no damage (recover)
      // The last entry must name the batch at its position (its last offset):
      // an index pointing elsewhere fails the sanity check.
      if (!offset_index_.empty() && pos == start && raw_last(b) != base_ + offset_index_.back().relative_offset) {
        sane = false;
        return false;
      }
      expect = raw_last(b) + 1;
      next_offset_ = raw_last(b) + 1;
      if (raw_max_ts(b) > max_ts_) {
        max_ts_ = raw_max_ts(b);
        offset_of_max_ts_ = raw_last(b);
      }
      return true;
    });
    if (!end.ok()) return end.error;
    sane = sane && end.value.position == size_ && !end.value.structurally_invalid;
  }
  if (sane && size_ > 0) {
    auto first = scan(0, [&](int64_t, std::span<const uint8_t> b) {
      first_batch_ts_ = raw_max_ts(b);
      return false;
    });
    if (!first.ok()) return first.error;
  }
  if (!sane) return recover(nullptr).error;  // Kafka rebuilds an index that fails its sanity check
  if (!time_index_.empty() && time_index_.back().timestamp > max_ts_) {
    max_ts_ = time_index_.back().timestamp;
    offset_of_max_ts_ = base_ + time_index_.back().relative_offset;
  }
  return Errc::NONE;
}

Result<std::vector<BatchPtr>> LogSegment::read(Offset start, int64_t max_bytes, Offset max_offset_exclusive,
                                               bool min_one) {
  if (cache_usable(start)) return read_cached(start, max_bytes, max_offset_exclusive, min_one);
  auto from = position_of(start);
  if (!from.ok()) return from.error;
  std::vector<BatchPtr> out;
  int64_t total = 0;
  bool corrupt = false;
  auto end = scan(from.value, [&](int64_t, std::span<const uint8_t> b) {
    if (raw_last(b) >= max_offset_exclusive) return false;
    const auto n = static_cast<int64_t>(b.size());
    if (total + n > max_bytes && !(out.empty() && min_one)) return false;
    // The CRC is the consumer's to check (check.crcs), as with Kafka's zero-copy reads.
    auto batch = RecordBatch::decode_trusted(Bytes(b.begin(), b.end()));
    if (!batch.ok()) {
      corrupt = true;
      return false;
    }
    out.push_back(std::move(batch.value));
    total += n;
    return true;
  });
  if (!end.ok()) return end.error;
  if (corrupt && out.empty()) return Errc::CORRUPT_MESSAGE;
  return out;
}

Result<std::optional<TimestampAndOffset>> LogSegment::find_offset_by_timestamp(int64_t ts, Offset start) {
  Offset from = base_;
  for (auto it = time_index_.rbegin(); it != time_index_.rend(); ++it) {
    if (it->timestamp <= ts) {
      from = base_ + it->relative_offset;
      break;
    }
  }
  auto pos = position_of(std::max(from, start));
  if (!pos.ok()) return pos.error;
  std::optional<TimestampAndOffset> found;
  auto end = scan(pos.value, [&](int64_t, std::span<const uint8_t> b) {
    if (raw_max_ts(b) < ts || raw_last(b) < start) return true;
    auto batch = RecordBatch::decode(Bytes(b.begin(), b.end()), false);
    if (!batch.ok() || batch.value->compression() != CompressionType::none) return true;
    for (const RecordView& r : batch.value->records()) {
      if (r.timestamp >= ts && r.offset >= start) {
        found = TimestampAndOffset{r.timestamp, r.offset, batch.value->partition_leader_epoch()};
        return false;
      }
    }
    return true;
  });
  if (!end.ok()) return end.error;
  return found;
}

Result<int64_t> LogSegment::truncate_to(Offset offset) {
  auto pos = position_of(offset);
  if (!pos.ok()) return pos.error;
  const int64_t removed = size_ - pos.value;
  if (removed == 0) return int64_t{0};
  if (Errc e = storage(disk_->truncate(log_path_, static_cast<uint64_t>(pos.value))); e != Errc::NONE) return e;
  size_ = pos.value;
  if (cache_start_ >= size_) {
    cache_reset(size_);
  } else {
    while (!cache_.empty() && cache_.back().position >= size_) {
      cache_bytes_ -= static_cast<int64_t>(cache_.back().batch->size_in_bytes());
      cache_.pop_back();
    }
  }
  std::erase_if(offset_index_, [&](const OffsetEntry& e) { return e.position >= size_; });
  // Recompute the end from the last surviving index entry.
  next_offset_ = base_;
  max_ts_ = kNoTimestamp;
  offset_of_max_ts_ = kNoOffset;
  auto end = scan(offset_index_.empty() ? 0 : offset_index_.back().position, [&](int64_t, std::span<const uint8_t> b) {
    next_offset_ = raw_last(b) + 1;
    if (raw_max_ts(b) > max_ts_) {
      max_ts_ = raw_max_ts(b);
      offset_of_max_ts_ = raw_last(b);
    }
    return true;
  });
  if (!end.ok()) return end.error;
  std::erase_if(time_index_, [&](const TimeEntry& e) { return base_ + e.relative_offset >= next_offset_; });
  if (!time_index_.empty() && time_index_.back().timestamp > max_ts_) {
    max_ts_ = time_index_.back().timestamp;
    offset_of_max_ts_ = base_ + time_index_.back().relative_offset;
  }
  bytes_since_index_entry_ = 0;
  if (size_ == 0) first_batch_ts_ = kNoTimestamp;
  if (Errc e = storage(disk_->truncate(index_path_, offset_index_.size() * kOffsetEntrySize)); e != Errc::NONE) return e;
  if (Errc e = storage(disk_->truncate(time_index_path_, time_index_.size() * kTimeEntrySize)); e != Errc::NONE)
    return e;
  return removed;
}

Errc LogSegment::commit_cleaned() {
  SIM_ASSERT(log_path_.ends_with(kCleanedSuffix), "only the cleaner's copy is committed");
  const size_t n = std::string_view(kCleanedSuffix).size();
  for (std::string* p : {&index_path_, &time_index_path_, &log_path_}) {
    const std::string final_path = p->substr(0, p->size() - n);
    if (Errc e = storage(disk_->rename(*p, final_path)); e != Errc::NONE) return e;
    *p = final_path;
  }
  return Errc::NONE;
}

Errc LogSegment::flush() {
  for (const std::string* p : {&log_path_, &index_path_, &time_index_path_})
    if (Errc e = storage(disk_->fsync(*p)); e != Errc::NONE) return e;
  return Errc::NONE;
}

Errc LogSegment::delete_files() {
  for (const std::string* p : {&log_path_, &index_path_, &time_index_path_}) {
    const sim::DiskStatus s = disk_->remove(*p);
    if (s != sim::DiskStatus::ok && s != sim::DiskStatus::not_found) return Errc::KAFKA_STORAGE_ERROR;
  }
  return Errc::NONE;
}

bool LogSegment::should_roll(const RecordBatch& incoming, int64_t now_ms) const {
  const auto incoming_size = static_cast<int64_t>(incoming.size_in_bytes());
  if (size_ > config_.segment_bytes - incoming_size) return true;
  if (size_ > 0) {
    // Kafka's timeWaitedForRoll: by record time when the first batch has one.
    const int64_t waited =
        first_batch_ts_ >= 0 ? incoming.max_timestamp() - first_batch_ts_ : now_ms - created_ms_;
    if (waited > config_.segment_ms) return true;
  }
  if (offset_index_.size() >= static_cast<size_t>(config_.segment_index_bytes) / kOffsetEntrySize) return true;
  if (time_index_.size() >= static_cast<size_t>(config_.segment_index_bytes) / kTimeEntrySize) return true;
  return incoming.last_offset() - base_ > INT32_MAX;  // relative offsets are int32
}

}  // namespace ksim::storage
