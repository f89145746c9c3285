// Reading a broker's log the way a checker does: straight from the page cache
// of its disk (no simulated I/O, no fault), batch by batch, each decoded and
// validated (length, magic, offsets, CRC) as recovery would. A segment's
// batches stop at the first one that does not decode (a torn or corrupted
// tail); the next segment is read from its start.
//
// LogBatchCursor is the primitive: one batch at a time, so a check over an
// hour-long log holds a batch, not the log (the invariant check walks the
// leader and every ISR follower in lockstep). for_each_batch and peek_batches
// are the two conveniences over it.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "engine/storage/record_batch.h"
#include "engine/storage/unified_log.h"
#include "sim/disk.h"

namespace ksim {

class LogBatchCursor {
 public:
  LogBatchCursor(const sim::Disk& disk, const storage::UnifiedLog& log);
  // The next batch, or null after the last. `twin`: a batch already decoded
  // and validated that this one is likely a copy of (the leader's, read in
  // lockstep with a follower's): bytes identical to it decode as it did, so
  // they skip the CRC.
  storage::BatchPtr next(const storage::RecordBatch* twin = nullptr);

 private:
  bool open_next_segment();

  const sim::Disk* disk_;
  std::string dir_;
  std::vector<Offset> bases_;
  size_t segment_ = 0;  // the next segment to open
  std::string path_;    // the open segment's .log ("" : none open)
  uint64_t pos_ = 0, end_ = 0;
};

// The batches of a broker's log from its page cache (no simulated I/O).
std::vector<storage::BatchPtr> peek_batches(const sim::Disk& disk, const storage::UnifiedLog& log);
// The same, one decoded batch at a time: a reader that keeps only what it
// extracts (check_input over an hour-long log) never holds the whole log decoded.
void for_each_batch(const sim::Disk& disk, const storage::UnifiedLog& log,
                    const std::function<void(const storage::BatchPtr&)>& visit);

}  // namespace ksim
