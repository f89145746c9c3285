// The records the transaction coordinator writes to __transaction_state, one
// per transition of a transactional id (Kafka's TransactionLogKey /
// TransactionLogValue). Replaying a partition in log order rebuilds every
// transactional id's TxnMetadata as of its last record. ksim's own compact
// encoding (engine/common/codec.h), Kafka's information:
//
//   key   = u8 version (0), str transactional_id
//   value = u8 version (0), varint producer_id, varint producer_epoch,
//           varint last_producer_epoch, varint timeout_ms, u8 state,
//           varint partition count, then per partition: str topic, varint partition,
//           varint start_ms, varint last_update_ms
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "engine/coordinator/transaction_metadata.h"

namespace ksim::coordinator {

std::string encode_txn_key(const std::string& transactional_id);
std::string encode_txn_value(const TxnMetadata& m);
// nullopt: not a record of this version (or malformed).
std::optional<std::string> decode_txn_key(std::string_view bytes);
std::optional<TxnMetadata> decode_txn_value(std::string_view bytes);

}  // namespace ksim::coordinator
