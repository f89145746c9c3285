#include "engine/coordinator/transaction_log.h"

#include "engine/common/codec.h"

namespace ksim::coordinator {
namespace {
constexpr uint8_t kVersion = 0;
}

std::string encode_txn_key(const std::string& transactional_id) {
  Writer w;
  w.u8(kVersion);
  w.str(transactional_id);
  return w.take();
}

std::string encode_txn_value(const TxnMetadata& m) {
  Writer w;
  w.u8(kVersion);
  w.varint(m.producer_id.value);
  w.varint(m.producer_epoch.value);
  w.varint(m.last_producer_epoch.value);
  w.varint(m.timeout_ms);
  w.u8(static_cast<uint8_t>(m.state));
  w.varint(static_cast<int64_t>(m.partitions.size()));
  for (const TopicPartition& tp : m.partitions) {
    w.str(tp.topic);
    w.varint(tp.partition);
  }
  w.varint(m.start_ms);
  w.varint(m.last_update_ms);
  return w.take();
}

std::optional<std::string> decode_txn_key(std::string_view bytes) {
  Reader r(bytes);
  if (r.u8() != kVersion) return std::nullopt;
  std::string id = r.str();
  if (!r.ok() || !r.done()) return std::nullopt;
  return id;
}

std::optional<TxnMetadata> decode_txn_value(std::string_view bytes) {
  Reader r(bytes);
  if (r.u8() != kVersion) return std::nullopt;
  TxnMetadata m;
  m.producer_id = ProducerId{r.varint()};
  m.producer_epoch = ProducerEpoch{static_cast<int16_t>(r.varint())};
  m.last_producer_epoch = ProducerEpoch{static_cast<int16_t>(r.varint())};
  m.timeout_ms = static_cast<int32_t>(r.varint());
  const uint8_t state = r.u8();
  if (state > static_cast<uint8_t>(TxnState::Dead)) return std::nullopt;
  m.state = static_cast<TxnState>(state);
  const int64_t n = r.varint();
  if (!r.ok() || n < 0 || n > 1'000'000) return std::nullopt;
  for (int64_t i = 0; i < n && r.ok(); ++i) {
    TopicPartition tp;
    tp.topic = r.str();
    tp.partition = static_cast<int32_t>(r.varint());
    m.partitions.insert(tp);
  }
  m.start_ms = r.varint();
  m.last_update_ms = r.varint();
  if (!r.ok() || !r.done()) return std::nullopt;
  return m;
}

}  // namespace ksim::coordinator
