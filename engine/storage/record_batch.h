// Kafka's v2 record batch ("magic 2", DefaultRecordBatch), byte for byte.
//
// A batch is the unit Kafka moves everywhere: a producer sends batches, the
// leader appends them to its log, followers and consumers fetch them. We keep
// a batch as ONE contiguous buffer holding exactly Kafka's bytes — so sizes,
// index intervals and disk usage are realistic and a segment file is what
// Kafka would have written — and read the header fields out of it on demand.
// Batches are immutable and shared (BatchPtr = shared_ptr<const RecordBatch>),
// so they travel through network and log by reference.
//
// Layout (big-endian; offsets in bytes):
//    0 base_offset           int64   \ the "log overhead" (12 bytes): offset and
//    8 batch_length          int32   / size of everything after this field
//   12 partition_leader_epoch int32     stamped by the leader; outside the CRC
//   16 magic                 int8    = 2
//   17 crc                   uint32  CRC-32C of bytes [21, end)
//   21 attributes            int16   bits 0-2 compression, 3 timestamp type
//                                    (LogAppendTime), 4 transactional, 5 control,
//                                    6 delete horizon (KIP-534: base_timestamp
//                                    holds it; set by the log cleaner)
//   23 last_offset_delta     int32
//   27 base_timestamp        int64
//   35 max_timestamp         int64
//   43 producer_id           int64
//   51 producer_epoch        int16
//   53 base_sequence         int32
//   57 records_count         int32
//   61 records...            each: length varint, attributes int8,
//                            timestamp_delta varlong, offset_delta varint,
//                            key (varint length, -1 = null), value (same),
//                            header count varint, headers (key, value)
// base_offset and partition_leader_epoch sit before the CRC'd range on
// purpose: the leader restamps them on append without recomputing the CRC.
#pragma once

#include <cstdint>
#include <cstring>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "engine/common/types.h"
#include "engine/storage/result.h"
#include "sim/spill_file.h"

namespace ksim::storage {

using Bytes = std::vector<uint8_t>;

enum class CompressionType : uint8_t { none = 0, gzip = 1, snappy = 2, lz4 = 3, zstd = 4 };
// message.timestamp.type: who decides a record's timestamp.
enum class TimestampType : uint8_t { create_time = 0, log_append_time = 1 };

inline constexpr int64_t kNoTimestamp = -1;  // Kafka's RecordBatch.NO_TIMESTAMP
inline constexpr int32_t kNoSequence = -1;

struct RecordHeader {
  std::string key;
  std::optional<Bytes> value;
};

// A record as a producer builds it (owning).
struct Record {
  int64_t timestamp = kNoTimestamp;
  std::optional<Bytes> key;
  std::optional<Bytes> value;
  std::vector<RecordHeader> headers;
};

// A record read out of a batch: views into the batch's buffer, valid as long
// as the batch is alive.
struct RecordView {
  Offset offset;
  int64_t timestamp = kNoTimestamp;
  std::optional<std::span<const uint8_t>> key;
  std::optional<std::span<const uint8_t>> value;
  std::vector<std::pair<std::string_view, std::optional<std::span<const uint8_t>>>> headers;
};

// The batch-level choices of whoever builds a batch.
struct BatchParams {
  Offset base_offset{0};
  LeaderEpoch partition_leader_epoch = kNoEpoch;
  TimestampType timestamp_type = TimestampType::create_time;
  bool is_transactional = false;
  bool is_control = false;
  ProducerId producer_id = kNoProducerId;
  ProducerEpoch producer_epoch = kNoProducerEpoch;
  int32_t base_sequence = kNoSequence;
};

class RecordBatch;
using BatchPtr = std::shared_ptr<const RecordBatch>;

// A header as a builder takes it: views, copied into the batch's bytes.
struct HeaderView {
  std::string_view key;
  std::optional<std::string_view> value;
};

// Kafka's MemoryRecordsBuilder: records are encoded into the batch's bytes as
// they are appended (offset delta = position, timestamp delta from the first
// record), so a producer batch holds one buffer, not a heap object per record.
// build() stamps the 61-byte header and the CRC and hands the buffer to the
// batch (no copy); building again (an epoch bump rewrote the producer fields)
// starts from a copy of the last batch's bytes. No appends after a build.
class RecordsBuilder {
 public:
  void append(int64_t timestamp, const std::optional<std::string_view>& key, const std::optional<std::string_view>& value,
              std::span<const HeaderView> headers = {});
  // The bytes one record takes in a batch, its length varint included.
  static size_t record_size(int64_t timestamp_delta, int32_t offset_delta, const std::optional<std::string_view>& key,
                            const std::optional<std::string_view>& value, std::span<const HeaderView> headers = {});
  // Room for `record_bytes` of records before the first append (a batch
  // whose records are known up front is encoded without regrowing).
  void reserve(size_t record_bytes);
  int32_t count() const { return count_; }
  bool empty() const { return count_ == 0; }
  // The batch: at least one record appended.
  BatchPtr build(const BatchParams& params);

 private:
  // A record's bytes after its length varint.
  static size_t body_size(int64_t timestamp_delta, int32_t offset_delta, const std::optional<std::string_view>& key,
                          const std::optional<std::string_view>& value, std::span<const HeaderView> headers);
  Bytes buf_;        // kHeaderSize bytes reserved for the header, then the records (until built)
  BatchPtr built_;   // the last build (its records are the builder's from then on)
  int32_t count_ = 0;
  int64_t base_timestamp_ = kNoTimestamp, max_timestamp_ = kNoTimestamp;
};

class RecordBatch {
 public:
  static constexpr size_t kLogOverhead = 12;  // base_offset + batch_length
  static constexpr size_t kHeaderSize = 61;   // RECORD_BATCH_OVERHEAD
  static constexpr uint8_t kMagic = 2;
  static constexpr size_t kCrcOffset = 17;
  static constexpr size_t kAttributesOffset = 21;  // the CRC covers [21, end)

  // Encodes `records` (at least one) into a new batch. Offsets are the
  // records' positions (delta 0, 1, ...), timestamps relative to the first.
  static BatchPtr build(const BatchParams& params, std::span<const Record> records);
  // The log cleaner's copy of `original` holding only `kept` (records of it,
  // in order; possibly none — an empty batch keeps a producer's last
  // sequence): base offset, last offset delta, leader epoch, producer fields
  // and attributes are kept, so offsets never move (Kafka's
  // MemoryRecords.filterTo). With `delete_horizon_ms` the batch carries
  // KIP-534's delete horizon: attribute bit 6, base_timestamp = the horizon.
  static BatchPtr retained(const RecordBatch& original, std::span<const RecordView> kept,
                           std::optional<int64_t> delete_horizon_ms);

  // Parses and validates Kafka bytes: length, magic, (optionally) CRC, and the
  // records of an uncompressed batch. Any failure is CORRUPT_MESSAGE.
  static Result<BatchPtr> decode(Bytes bytes, bool verify_crc = true);
  // For bytes this log itself wrote after validating them (reads of a segment):
  // only the header is checked.
  static Result<BatchPtr> decode_trusted(Bytes bytes);
  // Kafka's DefaultRecordBatch.ensureValid, what log recovery checks of bytes
  // the log wrote after validating them but that the disk may have damaged
  // since: length, magic, offsets and the CRC, which covers every record
  // byte (so the records parse as they did when written; they are parsed
  // when read, not here).
  static Result<BatchPtr> decode_checked(Bytes bytes);

  // Total size of the batch whose first kLogOverhead bytes are given
  // (batch_length + 12), or nullopt if the length field is impossible.
  static std::optional<size_t> peek_size(std::span<const uint8_t> first12);

  const Bytes& bytes() const { return buf_; }
  size_t size_in_bytes() const { return buf_.size(); }

  Offset base_offset() const { return Offset{i64(0)}; }
  Offset last_offset() const { return base_offset() + last_offset_delta(); }
  Offset next_offset() const { return last_offset() + 1; }
  int32_t batch_length() const { return i32(8); }
  LeaderEpoch partition_leader_epoch() const { return LeaderEpoch{i32(12)}; }
  uint8_t magic() const { return buf_[16]; }
  uint32_t crc() const { return static_cast<uint32_t>(i32(kCrcOffset)); }
  int16_t attributes() const { return i16(kAttributesOffset); }
  CompressionType compression() const { return static_cast<CompressionType>(attributes() & 0x07); }
  TimestampType timestamp_type() const {
    return (attributes() & 0x08) ? TimestampType::log_append_time : TimestampType::create_time;
  }
  bool is_transactional() const { return (attributes() & 0x10) != 0; }
  bool is_control() const { return (attributes() & 0x20) != 0; }
  // KIP-534: when the cleaner may drop this batch's tombstones (or marker).
  std::optional<int64_t> delete_horizon_ms() const {
    return (attributes() & 0x40) ? std::optional<int64_t>(base_timestamp()) : std::nullopt;
  }
  int32_t last_offset_delta() const { return i32(23); }
  int64_t base_timestamp() const { return i64(27); }
  int64_t max_timestamp() const { return i64(35); }
  ProducerId producer_id() const { return ProducerId{i64(43)}; }
  ProducerEpoch producer_epoch() const { return ProducerEpoch{i16(51)}; }
  int32_t base_sequence() const { return i32(53); }
  int32_t records_count() const { return i32(57); }

  uint32_t compute_crc() const;
  // Whether the stored CRC matches the bytes it covers. Computed once per
  // object: the bytes never change, and the leader's and followers'
  // validations of a replicated batch all see the same object (and a
  // re-stamped copy inherits the answer: base offset and leader epoch lie
  // outside the CRC). So a batch's CRC is computed once in its life.
  bool crc_valid() const {
    if (crc_known_ == 0) crc_known_ = compute_crc() == crc() ? 1 : 2;
    return crc_known_ == 1;
  }

  // The records, in order (uncompressed batches only; the batch was validated
  // on decode/build, so this cannot fail). With LogAppendTime every record's
  // timestamp is the batch's max_timestamp, as Kafka reports it.
  std::vector<RecordView> records() const;

  // A copy with the leader's offset and epoch stamped in (fields outside the
  // CRC, so the CRC stays valid).
  BatchPtr with_base_offset_and_epoch(Offset base, LeaderEpoch epoch) const;
  // A copy stamped for message.timestamp.type=LogAppendTime: timestamp type
  // bit set, max_timestamp = now; the CRC is recomputed (attributes changed).
  BatchPtr with_log_append_time(int64_t now_ms) const;
  // For the disk holding these bytes (Disk::append_shared): not part of the
  // batch's value, so a const batch hands it out.
  sim::SpillNote* spill_note() const { return &spill_note_; }

  // Never copied: a copy would carry a spill note about another buffer.
  RecordBatch(const RecordBatch&) = delete;
  RecordBatch& operator=(const RecordBatch&) = delete;

 private:
  friend class RecordsBuilder;
  explicit RecordBatch(Bytes b) : buf_(std::move(b)) {}
  // Not std::make_shared (object and count in one block): measured slower
  // end to end, e2e_acceleration 35 against 38 (glibc's malloc searched its
  // bins longer), and it would need a public constructor.
  static std::shared_ptr<RecordBatch> make(Bytes b) {
    return std::shared_ptr<RecordBatch>(new RecordBatch(std::move(b)));
  }
  // What every decode checks: the length, the magic, (verify_crc) the CRC,
  // offsets that fit int64, (check_count) a record count that is not negative.
  static Result<BatchPtr> decode_header(Bytes bytes, bool verify_crc, bool check_count);
  // Big-endian header fields, inline: every append, fetch and check reads
  // several of them per batch.
  int16_t i16(size_t at) const {
    uint16_t v;
    std::memcpy(&v, buf_.data() + at, sizeof v);
    return static_cast<int16_t>(__builtin_bswap16(v));
  }
  int32_t i32(size_t at) const {
    uint32_t v;
    std::memcpy(&v, buf_.data() + at, sizeof v);
    return static_cast<int32_t>(__builtin_bswap32(v));
  }
  int64_t i64(size_t at) const {
    uint64_t v;
    std::memcpy(&v, buf_.data() + at, sizeof v);
    return static_cast<int64_t>(__builtin_bswap64(v));
  }

  Bytes buf_;
  mutable uint8_t crc_known_ = 0;  // 0: not computed, 1: valid, 2: invalid
  // Where a simulated disk spilled these bytes, if one did (sim/spill_file.h):
  // the replicas' files all reference this batch, and spill it once.
  mutable sim::SpillNote spill_note_;
};

}  // namespace ksim::storage
