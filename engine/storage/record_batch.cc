#include "engine/storage/record_batch.h"

#include <algorithm>

#include "engine/storage/big_endian.h"
#include "engine/storage/crc32c.h"
#include "sim/error.h"

namespace ksim::storage {
namespace {

// ---- writing: big-endian fixed fields and Kafka's zigzag varints ----------

void set_be(Bytes& out, size_t at, uint64_t v, int width) { store_be(out.data() + at, v, width); }
// Zigzag maps small negative numbers to small unsigned ones (-1 -> 1), so a
// null length (-1) costs one byte; then 7 bits per byte, low bits first.
uint64_t zigzag(int64_t v) { return (static_cast<uint64_t>(v) << 1) ^ static_cast<uint64_t>(v >> 63); }
size_t varlong_size(int64_t v) {
  size_t n = 1;
  for (uint64_t z = zigzag(v); z >= 0x80; z >>= 7) ++n;
  return n;
}
// Writes in place (the producer's hot path sizes a record first); returns the end.
uint8_t* write_varlong(uint8_t* p, int64_t v) {
  uint64_t z = zigzag(v);
  while (z >= 0x80) {
    *p++ = static_cast<uint8_t>(z | 0x80);
    z >>= 7;
  }
  *p++ = static_cast<uint8_t>(z);
  return p;
}
void put_varlong(Bytes& out, int64_t v) {
  uint8_t b[10];
  out.insert(out.end(), b, write_varlong(b, v));
}
void put_varint(Bytes& out, int32_t v) { put_varlong(out, v); }  // same bytes for int32 range

// Two's-complement addition, as Java's long (signed overflow is UB in C++).
int64_t wrapping_add(int64_t a, int64_t b) {
  return static_cast<int64_t>(static_cast<uint64_t>(a) + static_cast<uint64_t>(b));
}

int64_t wrapping_sub(int64_t a, int64_t b) {
  return static_cast<int64_t>(static_cast<uint64_t>(a) - static_cast<uint64_t>(b));
}

// The batch's next offset (base + last_offset_delta + 1) must be an int64: a
// header claiming otherwise is corrupt (and its offsets would overflow; the
// fuzzer found a batch ending at INT64_MAX, whose next offset did).
bool offsets_fit(const RecordBatch& b) {
  return b.last_offset_delta() >= 0 && b.base_offset().value < INT64_MAX - b.last_offset_delta();
}

// ---- reading: a bounds-checked cursor; any overrun marks it bad -----------

struct Reader {
  std::span<const uint8_t> s;
  size_t pos = 0;
  bool bad = false;

  bool need(size_t n) {
    if (bad || s.size() - pos < n) bad = true;
    return !bad;
  }
  uint8_t u8() { return need(1) ? s[pos++] : 0; }
  int64_t varlong(int max_bytes) {
    // Most varints of a record (lengths, small deltas, a null) are one byte.
    if (!bad && pos < s.size() && !(s[pos] & 0x80)) {
      const uint64_t z = s[pos++];
      return static_cast<int64_t>(z >> 1) ^ -static_cast<int64_t>(z & 1);
    }
    uint64_t z = 0;
    for (int i = 0; i < max_bytes; ++i) {
      if (!need(1)) return 0;
      const uint8_t b = s[pos++];
      z |= static_cast<uint64_t>(b & 0x7f) << (7 * i);
      if (!(b & 0x80)) return static_cast<int64_t>(z >> 1) ^ -static_cast<int64_t>(z & 1);
    }
    bad = true;  // too many continuation bytes
    return 0;
  }
  int32_t varint() {
    const int64_t v = varlong(5);
    if (v < INT32_MIN || v > INT32_MAX) bad = true;
    return static_cast<int32_t>(v);
  }
  std::optional<std::span<const uint8_t>> nullable_bytes() {
    const int32_t n = varint();
    if (bad || n < 0) {
      if (n < -1) bad = true;
      return std::nullopt;
    }
    if (!need(static_cast<size_t>(n))) return std::nullopt;
    auto out = s.subspan(pos, static_cast<size_t>(n));
    pos += static_cast<size_t>(n);
    return out;
  }
};

// Parses the records section of an uncompressed batch; nullopt if malformed.
std::optional<std::vector<RecordView>> parse_records(const RecordBatch& b, bool keep) {
  const int32_t count = b.records_count();
  if (count < 0) return std::nullopt;
  Reader r{std::span<const uint8_t>(b.bytes()).subspan(RecordBatch::kHeaderSize)};
  std::vector<RecordView> out;
  if (keep) out.reserve(static_cast<size_t>(count));
  const bool append_time = b.timestamp_type() == TimestampType::log_append_time;
  int64_t prev_delta = -1;
  for (int32_t i = 0; i < count; ++i) {
    const int32_t length = r.varint();
    if (r.bad || length < 0 || !r.need(static_cast<size_t>(length))) return std::nullopt;
    const size_t end = r.pos + static_cast<size_t>(length);
    RecordView v;
    r.u8();  // record attributes: unused in v2
    const int64_t ts_delta = r.varlong(10);
    const int32_t offset_delta = r.varint();
    // Offsets inside a batch increase and stay within last_offset_delta.
    if (offset_delta <= prev_delta || offset_delta > b.last_offset_delta()) return std::nullopt;
    prev_delta = offset_delta;
    v.offset = b.base_offset() + offset_delta;
    // Java's long arithmetic wraps; a fuzzed delta must not be C++ overflow.
    v.timestamp = append_time ? b.max_timestamp() : wrapping_add(b.base_timestamp(), ts_delta);
    v.key = r.nullable_bytes();
    v.value = r.nullable_bytes();
    const int32_t headers = r.varint();
    if (r.bad || headers < 0) return std::nullopt;
    for (int32_t h = 0; h < headers; ++h) {
      auto key = r.nullable_bytes();
      if (r.bad || !key) return std::nullopt;  // header keys are never null
      auto value = r.nullable_bytes();
      v.headers.emplace_back(std::string_view(reinterpret_cast<const char*>(key->data()), key->size()), value);
    }
    if (r.bad || r.pos != end) return std::nullopt;  // the length must match exactly
    if (keep) out.push_back(std::move(v));
  }
  if (r.pos != r.s.size()) return std::nullopt;  // trailing garbage
  return out;
}

}  // namespace

uint32_t RecordBatch::compute_crc() const {
  return crc32c(std::span<const uint8_t>(buf_).subspan(kAttributesOffset));
}

BatchPtr RecordBatch::build(const BatchParams& p, std::span<const Record> records) {
  SIM_ASSERT(!records.empty(), "a built batch holds at least one record");
  RecordsBuilder builder;
  std::vector<HeaderView> headers;
  auto view = [](const std::optional<Bytes>& b) -> std::optional<std::string_view> {
    if (!b) return std::nullopt;
    return std::string_view(reinterpret_cast<const char*>(b->data()), b->size());
  };
  auto headers_of = [&](const Record& r) -> std::span<const HeaderView> {
    headers.clear();
    for (const RecordHeader& h : r.headers) headers.push_back({h.key, view(h.value)});
    return headers;
  };
  // Sized first: encoding into a buffer that doubles as it goes cost the
  // load generator of the cluster bench ~6% of its run in malloc and copies.
  size_t bytes = 0;
  int32_t delta = 0;
  for (const Record& r : records)
    bytes += RecordsBuilder::record_size(wrapping_sub(r.timestamp, records.front().timestamp), delta++, view(r.key),
                                         view(r.value), headers_of(r));
  builder.reserve(bytes);
  for (const Record& r : records) builder.append(r.timestamp, view(r.key), view(r.value), headers_of(r));
  return builder.build(p);
}

size_t RecordsBuilder::body_size(int64_t timestamp_delta, int32_t offset_delta, const std::optional<std::string_view>& key,
                                 const std::optional<std::string_view>& value, std::span<const HeaderView> headers) {
  auto field = [](const std::optional<std::string_view>& v) {
    return v ? varlong_size(static_cast<int64_t>(v->size())) + v->size() : varlong_size(-1);
  };
  size_t body = 1 + varlong_size(timestamp_delta) + varlong_size(offset_delta) + field(key) + field(value) +
                varlong_size(static_cast<int64_t>(headers.size()));
  for (const HeaderView& h : headers) body += field(h.key) + field(h.value);
  SIM_ASSERT(body <= INT32_MAX, "a record larger than 2 GiB");
  return body;
}

size_t RecordsBuilder::record_size(int64_t timestamp_delta, int32_t offset_delta, const std::optional<std::string_view>& key,
                                   const std::optional<std::string_view>& value, std::span<const HeaderView> headers) {
  const size_t body = body_size(timestamp_delta, offset_delta, key, value, headers);
  return varlong_size(static_cast<int64_t>(body)) + body;
}

void RecordsBuilder::reserve(size_t record_bytes) {
  SIM_ASSERT(count_ == 0, "a records builder reserves before its first append");
  buf_.reserve(RecordBatch::kHeaderSize + record_bytes);
}

void RecordsBuilder::append(int64_t timestamp, const std::optional<std::string_view>& key,
                            const std::optional<std::string_view>& value, std::span<const HeaderView> headers) {
  SIM_ASSERT(count_ < INT32_MAX, "a batch holds at most INT32_MAX records");
  SIM_ASSERT(!built_, "a records builder takes no appends once built");
  if (count_ == 0) {
    buf_.reserve(512);  // a few small records without regrowing
    buf_.assign(RecordBatch::kHeaderSize, 0);
    base_timestamp_ = timestamp;
  }
  max_timestamp_ = std::max(max_timestamp_, timestamp);
  // Sized first, then written in place: the length varint leads the record.
  const int64_t ts_delta = wrapping_sub(timestamp, base_timestamp_);
  const auto body = static_cast<int64_t>(body_size(ts_delta, count_, key, value, headers));
  const size_t at = buf_.size();
  buf_.resize(at + varlong_size(body) + static_cast<size_t>(body));
  uint8_t* p = write_varlong(buf_.data() + at, body);
  *p++ = 0;  // record attributes
  p = write_varlong(p, ts_delta);
  p = write_varlong(p, count_);
  auto put = [&p](const std::optional<std::string_view>& v) {
    if (!v) {
      p = write_varlong(p, -1);
      return;
    }
    p = write_varlong(p, static_cast<int64_t>(v->size()));
    if (!v->empty()) std::memcpy(p, v->data(), v->size());
    p += v->size();
  };
  put(key);
  put(value);
  p = write_varlong(p, static_cast<int64_t>(headers.size()));
  for (const HeaderView& h : headers) {
    put(h.key);
    put(h.value);
  }
  SIM_ASSERT(p == buf_.data() + buf_.size(), "a record's size as computed");
  ++count_;
}

BatchPtr RecordsBuilder::build(const BatchParams& p) {
  SIM_ASSERT(count_ > 0, "a built batch holds at least one record");
  Bytes b = built_ ? built_->bytes() : std::move(buf_);
  buf_ = Bytes{};
  SIM_ASSERT(b.size() >= RecordBatch::kHeaderSize, "a records builder's buffer starts with the header's room");
  int16_t attrs = 0;
  if (p.timestamp_type == TimestampType::log_append_time) attrs |= 0x08;
  if (p.is_transactional) attrs |= 0x10;
  if (p.is_control) attrs |= 0x20;
  set_be(b, 0, static_cast<uint64_t>(p.base_offset.value), 8);
  set_be(b, 8, b.size() - RecordBatch::kLogOverhead, 4);  // batch_length
  set_be(b, 12, static_cast<uint32_t>(p.partition_leader_epoch.value), 4);
  b[16] = RecordBatch::kMagic;
  set_be(b, RecordBatch::kCrcOffset, 0, 4);  // patched below
  set_be(b, RecordBatch::kAttributesOffset, static_cast<uint16_t>(attrs), 2);
  set_be(b, 23, static_cast<uint32_t>(count_ - 1), 4);  // last_offset_delta
  set_be(b, 27, static_cast<uint64_t>(base_timestamp_), 8);
  set_be(b, 35, static_cast<uint64_t>(max_timestamp_), 8);
  set_be(b, 43, static_cast<uint64_t>(p.producer_id.value), 8);
  set_be(b, 51, static_cast<uint16_t>(p.producer_epoch.value), 2);
  set_be(b, 53, static_cast<uint32_t>(p.base_sequence), 4);
  set_be(b, 57, static_cast<uint32_t>(count_), 4);
  auto batch = RecordBatch::make(std::move(b));
  set_be(batch->buf_, RecordBatch::kCrcOffset, batch->compute_crc(), 4);
  batch->crc_known_ = 1;
  built_ = batch;
  return batch;
}

BatchPtr RecordBatch::retained(const RecordBatch& original, std::span<const RecordView> kept,
                               std::optional<int64_t> delete_horizon_ms) {
  SIM_ASSERT(original.compression() == CompressionType::none, "ksim cleans uncompressed batches only");
  int64_t max_ts = kNoTimestamp;
  for (const RecordView& r : kept) max_ts = std::max(max_ts, r.timestamp);
  if (kept.empty()) max_ts = original.max_timestamp();
  if (original.timestamp_type() == TimestampType::log_append_time) max_ts = original.max_timestamp();
  const int64_t base_ts = delete_horizon_ms ? *delete_horizon_ms : kept.empty() ? max_ts : kept.front().timestamp;
  Bytes b(original.buf_.begin(), original.buf_.begin() + static_cast<std::ptrdiff_t>(kHeaderSize));
  int16_t attrs = original.attributes();
  if (delete_horizon_ms) attrs = static_cast<int16_t>(attrs | 0x40);
  set_be(b, kAttributesOffset, static_cast<uint16_t>(attrs), 2);
  set_be(b, 27, static_cast<uint64_t>(base_ts), 8);
  set_be(b, 35, static_cast<uint64_t>(max_ts), 8);
  set_be(b, 57, static_cast<uint32_t>(kept.size()), 4);
  Bytes body;
  for (const RecordView& r : kept) {
    SIM_ASSERT(r.offset >= original.base_offset() && r.offset <= original.last_offset(), "a kept record is the batch's own");
    body.clear();
    body.push_back(0);  // record attributes
    put_varlong(body, wrapping_sub(r.timestamp, base_ts));
    put_varint(body, static_cast<int32_t>(r.offset - original.base_offset()));
    auto put_view = [&](const std::optional<std::span<const uint8_t>>& v) {
      if (!v) return put_varint(body, -1);
      put_varint(body, static_cast<int32_t>(v->size()));
      body.insert(body.end(), v->begin(), v->end());
    };
    put_view(r.key);
    put_view(r.value);
    put_varint(body, static_cast<int32_t>(r.headers.size()));
    for (const auto& [hk, hv] : r.headers) {
      put_varint(body, static_cast<int32_t>(hk.size()));
      body.insert(body.end(), hk.begin(), hk.end());
      put_view(hv);
    }
    put_varint(b, static_cast<int32_t>(body.size()));
    b.insert(b.end(), body.begin(), body.end());
  }
  set_be(b, 8, b.size() - kLogOverhead, 4);
  auto batch = make(std::move(b));
  set_be(batch->buf_, kCrcOffset, batch->compute_crc(), 4);
  batch->crc_known_ = 1;
  return batch;
}

std::optional<size_t> RecordBatch::peek_size(std::span<const uint8_t> first12) {
  if (first12.size() < kLogOverhead) return std::nullopt;
  int32_t len = 0;
  for (size_t i = 8; i < 12; ++i) len = static_cast<int32_t>((static_cast<uint32_t>(len) << 8) | first12[i]);
  // Smaller than a header cannot be a v2 batch: a torn or zeroed tail.
  if (len < static_cast<int32_t>(kHeaderSize - kLogOverhead)) return std::nullopt;
  return static_cast<size_t>(len) + kLogOverhead;
}

Result<BatchPtr> RecordBatch::decode_header(Bytes bytes, bool verify_crc, bool check_count) {
  const auto size = peek_size(bytes);
  if (!size || *size != bytes.size()) return Errc::CORRUPT_MESSAGE;
  auto batch = make(std::move(bytes));
  if (batch->magic() != kMagic) return Errc::CORRUPT_MESSAGE;
  if (verify_crc && !batch->crc_valid()) return Errc::CORRUPT_MESSAGE;
  if (!offsets_fit(*batch) || (check_count && batch->records_count() < 0)) return Errc::CORRUPT_MESSAGE;
  return BatchPtr(std::move(batch));
}

Result<BatchPtr> RecordBatch::decode(Bytes bytes, bool verify_crc) {
  auto batch = decode_header(std::move(bytes), verify_crc, /*check_count=*/true);
  if (batch.ok() && batch.value->compression() == CompressionType::none && !parse_records(*batch.value, false))
    return Errc::CORRUPT_MESSAGE;
  return batch;
}

Result<BatchPtr> RecordBatch::decode_trusted(Bytes bytes) {
  return decode_header(std::move(bytes), /*verify_crc=*/false, /*check_count=*/false);
}

Result<BatchPtr> RecordBatch::decode_checked(Bytes bytes) {
  return decode_header(std::move(bytes), /*verify_crc=*/true, /*check_count=*/true);
}

std::vector<RecordView> RecordBatch::records() const {
  SIM_ASSERT(compression() == CompressionType::none, "ksim does not decompress batches");
  auto r = parse_records(*this, true);
  SIM_ASSERT(r.has_value(), "records of a validated batch must parse");
  return std::move(*r);
}

BatchPtr RecordBatch::with_base_offset_and_epoch(Offset base, LeaderEpoch epoch) const {
  Bytes b = buf_;
  set_be(b, 0, static_cast<uint64_t>(base.value), 8);
  set_be(b, 12, static_cast<uint32_t>(epoch.value), 4);
  auto copy = make(std::move(b));
  copy->crc_known_ = crc_known_;  // neither field is covered by the CRC
  return copy;
}

BatchPtr RecordBatch::with_log_append_time(int64_t now_ms) const {
  auto copy = make(buf_);
  set_be(copy->buf_, kAttributesOffset, static_cast<uint16_t>(attributes() | 0x08), 2);
  set_be(copy->buf_, 35, static_cast<uint64_t>(now_ms), 8);
  set_be(copy->buf_, kCrcOffset, copy->compute_crc(), 4);
  copy->crc_known_ = 1;
  return copy;
}

}  // namespace ksim::storage
