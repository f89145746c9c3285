// Kafka's v2 record batch: exact byte layout, round trips, and corruption
// detection by CRC-32C.
#include "engine/storage/crc32c.h"
#include "storage_test_util.h"

using namespace ksim;
using namespace ksim::storage;
using namespace ksim::storage::testing;

TEST_CASE("crc32c gives the Castagnoli check value", "[storage][crc]") {
  const std::string s = "123456789";
  const auto* p = reinterpret_cast<const uint8_t*>(s.data());
  REQUIRE(crc32c({p, s.size()}) == 0xE3069283u);
  REQUIRE(crc32c_update(crc32c({p, 4}), {p + 4, 5}) == 0xE3069283u);
}

TEST_CASE("a one-record batch is 61 header bytes plus Kafka's record encoding", "[storage][batch]") {
  // key null, value "hello", no headers: length(1) attributes(1) ts delta(1)
  // offset delta(1) key length -1 (1) value length(1) + 5 + header count(1) = 12.
  BatchParams p;
  p.base_offset = Offset{42};
  p.partition_leader_epoch = LeaderEpoch{7};
  p.producer_id = ProducerId{1000};
  p.producer_epoch = ProducerEpoch{3};
  p.base_sequence = 5;
  std::vector<Record> recs{Record{1234, std::nullopt, bytes_of("hello"), {}}};
  BatchPtr b = RecordBatch::build(p, recs);
  REQUIRE(b->size_in_bytes() == 61 + 12);
  const Bytes& raw = b->bytes();
  // Big-endian fields at Kafka's positions.
  REQUIRE(raw[7] == 42);                  // base offset
  REQUIRE(raw[11] == 73 - 12);            // batch length excludes the 12-byte log overhead
  REQUIRE(raw[15] == 7);                  // partition leader epoch
  REQUIRE(raw[16] == 2);                  // magic
  REQUIRE(raw[61] == 11 * 2);             // record length varint, zigzag (11 -> 22)
  REQUIRE(raw[65] == 0x01);               // key length -1, zigzag -> 1
  REQUIRE(raw[66] == 10);                 // value length 5 -> 10
  REQUIRE(text_of(std::span(raw).subspan(67, 5)) == "hello");

  auto d = RecordBatch::decode(raw);
  REQUIRE(d.ok());
  const RecordBatch& x = *d.value;
  REQUIRE(x.bytes() == raw);
  REQUIRE(x.base_offset() == Offset{42});
  REQUIRE(x.last_offset() == Offset{42});
  REQUIRE(x.partition_leader_epoch() == LeaderEpoch{7});
  REQUIRE(x.magic() == 2);
  REQUIRE(x.crc_valid());
  REQUIRE(x.compression() == CompressionType::none);
  REQUIRE(x.timestamp_type() == TimestampType::create_time);
  REQUIRE(!x.is_transactional());
  REQUIRE(!x.is_control());
  REQUIRE(x.base_timestamp() == 1234);
  REQUIRE(x.max_timestamp() == 1234);
  REQUIRE(x.producer_id() == ProducerId{1000});
  REQUIRE(x.producer_epoch() == ProducerEpoch{3});
  REQUIRE(x.base_sequence() == 5);
  REQUIRE(x.records_count() == 1);
  auto rs = x.records();
  REQUIRE(rs.size() == 1);
  REQUIRE(rs[0].offset == Offset{42});
  REQUIRE(rs[0].timestamp == 1234);
  REQUIRE(!rs[0].key.has_value());
  REQUIRE(text_of(*rs[0].value) == "hello");
}

TEST_CASE("keys and headers and timestamps and attributes round trip", "[storage][batch]") {
  BatchParams p;
  p.is_transactional = true;
  std::vector<Record> recs{
      Record{100, bytes_of("k"), bytes_of("v"), {}},
      Record{90, bytes_of("k2"), std::nullopt, {RecordHeader{"h", bytes_of("x")}, RecordHeader{"n", std::nullopt}}},
      Record{300, std::nullopt, bytes_of(std::string(200, 'z')), {}},
  };
  BatchPtr b = RecordBatch::build(p, recs);
  // Record 0: 1+1+1+(1+1)+(1+1)+1 = 8, plus 1 length byte.
  // Record 1: 1 + ts delta -10 (1) + 1 + (1+2) + 1 + count(1) + (1+1+1+1) + (1+1+1) = 15, plus 1.
  // Record 2: 1 + ts delta 200 (2) + 1 + 1 + (2+200) + 1 = 208, plus 2.
  REQUIRE(b->size_in_bytes() == 61 + 9 + 16 + 210);
  REQUIRE(b->is_transactional());
  REQUIRE(b->last_offset_delta() == 2);
  REQUIRE(b->max_timestamp() == 300);
  auto d = RecordBatch::decode(b->bytes());
  REQUIRE(d.ok());
  auto rs = d.value->records();
  REQUIRE(rs.size() == 3);
  REQUIRE(rs[1].offset == Offset{1});
  REQUIRE(rs[1].timestamp == 90);
  REQUIRE(text_of(*rs[1].key) == "k2");
  REQUIRE(!rs[1].value.has_value());
  REQUIRE(rs[1].headers.size() == 2);
  REQUIRE(rs[1].headers[0].first == "h");
  REQUIRE(text_of(*rs[1].headers[0].second) == "x");
  REQUIRE(!rs[1].headers[1].second.has_value());
  REQUIRE(rs[2].value->size() == 200);
}

TEST_CASE("a flipped byte in the CRC-covered range is CORRUPT_MESSAGE", "[storage][batch]") {
  BatchPtr b = batch_of({"alpha", "beta", "gamma"});
  for (size_t i = RecordBatch::kAttributesOffset; i < b->size_in_bytes(); ++i) {
    Bytes raw = b->bytes();
    raw[i] ^= 0x10;
    INFO("byte " << i);
    REQUIRE(RecordBatch::decode(raw).error == Errc::CORRUPT_MESSAGE);
    REQUIRE(RecordBatch::decode_checked(raw).error == Errc::CORRUPT_MESSAGE);  // recovery's check
  }
  // The magic byte and the length are validated too.
  Bytes bad_magic = b->bytes();
  bad_magic[16] = 1;
  REQUIRE(RecordBatch::decode(bad_magic).error == Errc::CORRUPT_MESSAGE);
  REQUIRE(RecordBatch::decode_checked(bad_magic).error == Errc::CORRUPT_MESSAGE);
  Bytes short_by_one(b->bytes().begin(), b->bytes().end() - 1);
  REQUIRE(RecordBatch::decode(short_by_one).error == Errc::CORRUPT_MESSAGE);
  REQUIRE(RecordBatch::decode_checked(short_by_one).error == Errc::CORRUPT_MESSAGE);
}

TEST_CASE("recovery checks a batch as Kafka's ensureValid does: the CRC vouches for its records",
          "[storage][batch]") {
  // Records that do not parse under a CRC that matches them: no disk fault
  // makes these (a damaged byte breaks the CRC), only a writer that skipped
  // validation. decode() parses and refuses them; recovery's check, like
  // Kafka's, trusts the CRC and leaves the parse to the reader.
  BatchPtr b = batch_of({"alpha", "beta"});
  Bytes raw = b->bytes();
  raw[RecordBatch::kAttributesOffset + 40] = 0xff;  // inside the first record's varints
  const uint32_t crc = ksim::storage::crc32c(std::span<const uint8_t>(raw).subspan(RecordBatch::kAttributesOffset));
  for (int i = 0; i < 4; ++i) raw[RecordBatch::kCrcOffset + i] = static_cast<uint8_t>(crc >> (24 - 8 * i));
  REQUIRE(RecordBatch::decode(raw).error == Errc::CORRUPT_MESSAGE);
  REQUIRE(RecordBatch::decode_checked(raw).ok());
}

TEST_CASE("restamping base offset and leader epoch keeps the CRC valid", "[storage][batch]") {
  // Kafka places both fields before the CRC'd range so the leader can set them in place.
  BatchPtr b = batch_of({"a", "b"});
  BatchPtr s = b->with_base_offset_and_epoch(Offset{500}, LeaderEpoch{9});
  REQUIRE(s->crc() == b->crc());
  REQUIRE(s->crc_valid());
  REQUIRE(s->base_offset() == Offset{500});
  REQUIRE(s->last_offset() == Offset{501});
  REQUIRE(s->partition_leader_epoch() == LeaderEpoch{9});
  REQUIRE(b->base_offset() == Offset{0});  // the shared original is untouched

  BatchPtr t = b->with_log_append_time(77777);
  REQUIRE(t->crc_valid());
  REQUIRE(t->crc() != b->crc());
  REQUIRE(t->timestamp_type() == TimestampType::log_append_time);
  REQUIRE(t->records()[0].timestamp == 77777);
}

TEST_CASE("the hardware and the table CRC-32C agree on every length and alignment", "[storage]") {
  // Past 3 x 128 bytes the hardware path runs three interleaved lanes and
  // joins them: lengths up to 2,000 cover one to five joins and every tail.
  std::vector<uint8_t> data(2000);
  for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<uint8_t>(i * 131 + 7 + (i >> 8));
  size_t checked = 0;
  for (size_t start = 0; start < 9; ++start)
    for (size_t len = 0; len + start <= data.size(); len += 7) {
      const std::span<const uint8_t> s(data.data() + start, len);
      REQUIRE(ksim::storage::crc32c(s) == ksim::storage::crc32c_portable(s));
      ++checked;
    }
  REQUIRE(checked == 2571);
}

TEST_CASE("a running CRC-32C split anywhere equals the CRC of the whole", "[storage]") {
  std::vector<uint8_t> data(1200);
  for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<uint8_t>(i * 29 + 3);
  const std::span<const uint8_t> all(data);
  const uint32_t whole = ksim::storage::crc32c_portable(all);
  for (size_t cut = 0; cut <= data.size(); cut += 13)
    REQUIRE(ksim::storage::crc32c_update(ksim::storage::crc32c(all.first(cut)), all.subspan(cut)) == whole);
}

// Found by fuzzing (tests/fuzz, record_batch): base offset + last offset delta
// overflowed int64 (undefined behaviour) on foreign bytes. Kafka's last offset
// is a long; a batch whose last offset cannot exist is corrupt.
TEST_CASE("a batch whose last offset would overflow int64 is CORRUPT_MESSAGE", "[storage][batch]") {
  BatchParams p;
  std::vector<Record> recs{Record{0, std::nullopt, bytes_of("a"), {}}, Record{0, std::nullopt, bytes_of("b"), {}}};
  BatchPtr near_end = RecordBatch::build(p, recs)->with_base_offset_and_epoch(Offset{INT64_MAX}, LeaderEpoch{0});
  REQUIRE(RecordBatch::decode(near_end->bytes()).error == Errc::CORRUPT_MESSAGE);
  REQUIRE(RecordBatch::decode_trusted(near_end->bytes()).error == Errc::CORRUPT_MESSAGE);
  REQUIRE(RecordBatch::decode_checked(near_end->bytes()).error == Errc::CORRUPT_MESSAGE);
}

// Found by fuzzing too: a one-record batch at INT64_MAX has a last offset but
// no next offset (next_offset() overflowed). No log can hold it.
TEST_CASE("a batch ending at INT64_MAX is CORRUPT_MESSAGE", "[storage][batch]") {
  std::vector<Record> recs{Record{0, std::nullopt, bytes_of("a"), {}}};
  BatchPtr at_end = RecordBatch::build(BatchParams{}, recs)->with_base_offset_and_epoch(Offset{INT64_MAX}, LeaderEpoch{0});
  REQUIRE(RecordBatch::decode(at_end->bytes()).error == Errc::CORRUPT_MESSAGE);
  REQUIRE(RecordBatch::decode_checked(at_end->bytes()).error == Errc::CORRUPT_MESSAGE);
  BatchPtr below = RecordBatch::build(BatchParams{}, recs)->with_base_offset_and_epoch(Offset{INT64_MAX - 1}, LeaderEpoch{0});
  REQUIRE(RecordBatch::decode(below->bytes()).ok());
}

TEST_CASE("a records builder rebuilt for a new producer epoch keeps its records bytes", "[storage][batch]") {
  // The producer encodes records as send() appends them, and builds again
  // when an epoch bump rewrites the batch's producer fields.
  RecordsBuilder builder;
  builder.append(500, std::string_view("k"), std::string_view("v"));
  builder.append(499, std::nullopt, std::string_view(std::string(200, 'z')));  // a 2-byte length varint
  const HeaderView h[] = {{"trace", std::string_view("1")}};
  builder.append(510, std::string_view("k3"), std::nullopt, h);
  BatchParams first;
  first.producer_id = ProducerId{9};
  first.producer_epoch = ProducerEpoch{0};
  first.base_sequence = 0;
  BatchParams bumped = first;
  bumped.producer_epoch = ProducerEpoch{1};
  const BatchPtr a = builder.build(first);
  const BatchPtr b = builder.build(bumped);
  REQUIRE(b->producer_epoch() == ProducerEpoch{1});
  REQUIRE(std::equal(a->bytes().begin() + RecordBatch::kHeaderSize, a->bytes().end(),
                     b->bytes().begin() + RecordBatch::kHeaderSize, b->bytes().end()));
  // Byte for byte what building from owned records gives.
  const std::vector<Record> owned{
      Record{500, bytes_of("k"), bytes_of("v"), {}},
      Record{499, std::nullopt, bytes_of(std::string(200, 'z')), {}},
      Record{510, bytes_of("k3"), std::nullopt, {RecordHeader{"trace", bytes_of("1")}}},
  };
  REQUIRE(RecordBatch::build(bumped, owned)->bytes() == b->bytes());
  auto d = RecordBatch::decode(b->bytes());
  REQUIRE(d.ok());
  REQUIRE(d.value->max_timestamp() == 510);
  REQUIRE(d.value->records()[1].timestamp == 499);
}
