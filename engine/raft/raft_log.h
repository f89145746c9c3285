// The replicated log of one node: Kafka's `__cluster_metadata-0` partition,
// reduced to what Raft needs.
//
// An entry is {offset, epoch, control?, bytes}. Offsets are dense from 0; the
// epoch is the leader epoch that first appended the entry; `control` marks the
// LeaderChange entry a leader appends on taking office (Kafka's control
// record). Bytes are shared, never copied, as they move from a leader's log
// through fetch responses into a follower's log.
//
// Durability: append() writes the entries to the file, fsyncs, and only then
// makes them visible (end_offset() grows). So anything this log reports — to
// the raft client deciding what to acknowledge, to a fetch response — is on
// the platter. That is KRaft's rule: the leader counts only its flushed
// offset, and a follower reports a fetch offset only after it flushed.
//
// File format, one record per entry:
//   u32 payload length | u64 checksum | i64 offset | i32 epoch | u8 control | payload
// recover() reads records until the first one that is incomplete, has a bad
// checksum or an unexpected offset — a torn tail from a power failure — and
// truncates the file there.
//
// The epoch cache (Kafka's LeaderEpochFileCache): epoch -> first offset of that
// epoch in this log, rebuilt from the entries. end_offset_for_epoch() answers
// "where does epoch e end in my log?" the KIP-279 way: for the largest epoch
// e' <= e that the log has, (e', the start offset of the next epoch, or the log
// end offset if e' is the last one). An empty log, or e below every epoch,
// answers (0, 0): "diverged from the very beginning".
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "engine/common/types.h"
#include "sim/disk.h"

namespace ksim::raft {

struct RaftEntry {
  Offset offset;
  QuorumEpoch epoch;
  bool control = false;  // LeaderChange
  std::shared_ptr<const std::string> data;
};

struct OffsetAndEpoch {
  Offset offset;
  QuorumEpoch epoch;
  bool operator==(const OffsetAndEpoch&) const = default;
};

class RaftLog {
 public:
  explicit RaftLog(sim::Disk& disk, std::string file = "metadata.log");

  // Loads the log from disk, dropping a torn tail. From the node's fiber.
  void recover();

  Offset end_offset() const { return Offset{static_cast<int64_t>(entries_.size())}; }
  // Epoch of the last entry; 0 for an empty log.
  QuorumEpoch last_epoch() const { return entries_.empty() ? QuorumEpoch{0} : entries_.back().epoch; }
  const RaftEntry& at(Offset o) const;
  // Entries [from, to), at most `max_bytes` of payload (always at least one).
  std::vector<RaftEntry> read(Offset from, Offset to, size_t max_bytes = SIZE_MAX) const;
  const std::map<QuorumEpoch, Offset>& epoch_cache() const { return epoch_cache_; }

  // Appends (offsets must continue the log, epochs must not decrease), fsyncs,
  // then publishes. On a disk error nothing is published.
  sim::DiskStatus append(const std::vector<RaftEntry>& entries);
  // Drops every entry at or above `end` (durably: truncate + fsync).
  sim::DiskStatus truncate_to(Offset end);
  OffsetAndEpoch end_offset_for_epoch(QuorumEpoch epoch) const;
  // The follower's side of a diverging-epoch answer (Kafka's
  // ReplicatedLog.truncateToEndOffset): where to cut, given the leader's answer.
  Offset truncation_offset_for(OffsetAndEpoch leader_answer) const;

 private:
  void rebuild_epoch_cache();

  sim::Disk& disk_;
  std::string file_;
  std::vector<RaftEntry> entries_;
  std::vector<uint64_t> positions_;  // file position where entry i starts
  uint64_t file_end_ = 0;
  std::map<QuorumEpoch, Offset> epoch_cache_;
};

}  // namespace ksim::raft
