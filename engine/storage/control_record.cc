#include "engine/storage/control_record.h"

#include <array>

namespace ksim::storage {
namespace {

constexpr int16_t kMarkerVersion = 0;  // EndTransactionMarker.CURRENT_END_TXN_MARKER_VERSION
constexpr int16_t kAbort = 0;          // ControlRecordType.ABORT
constexpr int16_t kCommit = 1;         // ControlRecordType.COMMIT

void put16(Bytes& out, int16_t v) {
  out.push_back(static_cast<uint8_t>(static_cast<uint16_t>(v) >> 8));
  out.push_back(static_cast<uint8_t>(v));
}
void put32(Bytes& out, int32_t v) {
  for (int shift = 24; shift >= 0; shift -= 8) out.push_back(static_cast<uint8_t>(static_cast<uint32_t>(v) >> shift));
}
int16_t get16(std::span<const uint8_t> s, size_t at) { return static_cast<int16_t>((s[at] << 8) | s[at + 1]); }
int32_t get32(std::span<const uint8_t> s, size_t at) {
  uint32_t v = 0;
  for (size_t i = 0; i < 4; ++i) v = (v << 8) | s[at + i];
  return static_cast<int32_t>(v);
}

}  // namespace

BatchPtr build_marker_batch(ProducerId producer_id, ProducerEpoch producer_epoch, bool commit,
                            int32_t coordinator_epoch, int64_t timestamp_ms) {
  Record r;
  r.timestamp = timestamp_ms;
  r.key.emplace();
  put16(*r.key, kMarkerVersion);
  put16(*r.key, commit ? kCommit : kAbort);
  r.value.emplace();
  put16(*r.value, kMarkerVersion);
  put32(*r.value, coordinator_epoch);
  BatchParams p;
  p.is_transactional = true;  // Kafka sets both bits on a marker batch
  p.is_control = true;
  p.producer_id = producer_id;
  p.producer_epoch = producer_epoch;
  p.base_sequence = kNoSequence;
  const std::array<Record, 1> records{std::move(r)};
  return RecordBatch::build(p, records);
}

std::optional<EndTxnMarker> read_marker(const RecordBatch& batch) {
  if (!batch.is_control() || batch.compression() != CompressionType::none || batch.records_count() < 1)
    return std::nullopt;
  const std::vector<RecordView> recs = batch.records();
  const RecordView& r = recs.front();
  // Kafka's ControlRecordType.parse reads (version, type) and tolerates a newer
  // version; the value needs at least (version, coordinator epoch).
  if (!r.key || r.key->size() < 4 || !r.value || r.value->size() < 6) return std::nullopt;
  const int16_t type = get16(*r.key, 2);
  if (type != kAbort && type != kCommit) return std::nullopt;
  if (get16(*r.value, 0) < 0) return std::nullopt;  // Kafka: InvalidRecordException
  return EndTxnMarker{type == kCommit, get32(*r.value, 2)};
}

}  // namespace ksim::storage
