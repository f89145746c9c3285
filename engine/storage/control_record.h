// Transaction markers: Kafka's EndTransactionMarker control record.
//
// A transaction ends, in every partition it wrote to, with a *control batch*
// that the transaction coordinator asks the partition leader to append
// (WriteTxnMarkers). It holds exactly one record:
//
//   key   = int16 version (0), int16 type   (0 = ABORT, 1 = COMMIT)
//   value = int16 version (0), int32 coordinator_epoch
//
// The batch header carries the producer id and epoch of the transaction, the
// transactional bit (0x10) and the control bit (0x20), and no sequence
// (base_sequence = -1): markers are not part of the producer's sequence.
//
// Who reads it:
//   * the log's ProducerStateManager, to close the producer's open transaction
//     (and, for an ABORT, to record it in the aborted-transaction index);
//   * read_committed consumers, to stop skipping an aborted producer's batches
//     once they pass its ABORT marker (control batches are never returned to
//     the application: their offsets are consumed silently).
//
// Other control types (Kafka's LEADER_CHANGE = 2, SNAPSHOT_HEADER = 3, ...)
// are not transaction markers: read_marker answers nullopt for them.
#pragma once

#include <cstdint>
#include <optional>

#include "engine/common/types.h"
#include "engine/storage/record_batch.h"

namespace ksim::storage {

struct EndTxnMarker {
  bool commit = false;            // COMMIT (1) or ABORT (0)
  int32_t coordinator_epoch = 0;  // the coordinator's epoch: zombie coordinators are fenced by it
  bool operator==(const EndTxnMarker&) const = default;
};

// A control batch with one EndTransactionMarker record, base offset 0 (the
// leader assigns the real one), no leader epoch yet, record timestamp
// `timestamp_ms` (CreateTime).
BatchPtr build_marker_batch(ProducerId producer_id, ProducerEpoch producer_epoch, bool commit,
                            int32_t coordinator_epoch, int64_t timestamp_ms);

// The marker a batch holds: nullopt unless it is a control batch whose first
// record is a well-formed COMMIT or ABORT marker.
std::optional<EndTxnMarker> read_marker(const RecordBatch& batch);

}  // namespace ksim::storage
