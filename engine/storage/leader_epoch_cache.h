// LeaderEpochFileCache: for one partition, which leader epoch started at which
// offset — Kafka's answer (KIP-101, KIP-279) to "how far does my log agree
// with the leader's?".
//
// Every batch carries the epoch of the leader that appended it; the cache
// remembers the first offset of each epoch: {0:0, 2:10, 5:20} means epoch 0
// wrote offsets 0..9, epoch 2 wrote 10..19, epoch 5 writes from 20 on. A
// follower that becomes unsure (after a restart or a leader change) asks the
// leader "where did my latest epoch E end in YOUR log?" (OffsetsForLeaderEpoch)
// and truncates to that offset instead of to its high watermark — the fix for
// the data-loss and divergence bugs of KIP-101.
//
// Invariant: entries are strictly increasing in both epoch and start offset.
// Every change is written to `leader-epoch-checkpoint` (atomically, fsynced)
// before the call returns, as Kafka's assign() does, so after any crash the
// file holds every epoch the log may contain (stale extra entries are removed
// by truncate_from_end when the log is recovered).
#pragma once

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "engine/storage/checkpoint_file.h"

namespace ksim::storage {

class LeaderEpochFileCache {
 public:
  // The cache of the partition directory `dir`; call load() before use.
  LeaderEpochFileCache(sim::Disk& disk, const std::string& dir);

  // Reads the checkpoint (a missing file is an empty cache). A malformed or
  // non-monotonic file is KAFKA_STORAGE_ERROR.
  Errc load();

  // Records that `epoch` starts at `start_offset`. As Kafka: a no-op when the
  // epoch equals the latest one and the offset is not smaller; otherwise every
  // entry from the end whose epoch >= `epoch` or start >= `start_offset` is
  // removed (they conflict) and the new entry appended.
  Errc assign(LeaderEpoch epoch, Offset start_offset);

  std::optional<LeaderEpoch> latest_epoch() const { return latest_; }
  std::optional<EpochEntry> latest_entry() const;
  std::optional<EpochEntry> earliest_entry() const;
  const std::vector<EpochEntry>& entries() const { return entries_; }
  // The epoch that wrote `offset`: the last entry starting at or before it.
  std::optional<LeaderEpoch> epoch_for_offset(Offset offset) const;

  // KIP-279 (OffsetsForLeaderEpoch): the largest epoch <= `requested` and the
  // offset where it ended — the start offset of the next higher epoch, or
  // `log_end_offset` when `requested` is the latest epoch. (-1, -1) when
  // `requested` is undefined or above every epoch. When `requested` is below
  // the first entry Kafka answers (requested, first entry's start offset):
  // that history was deleted, so replicate from the earliest known epoch.
  std::pair<LeaderEpoch, Offset> end_offset_for(LeaderEpoch requested, Offset log_end_offset) const;

  // Log truncated to `end_offset`: drops entries starting at or after it.
  Errc truncate_from_end(Offset end_offset);
  // Log start moved to `start_offset`: drops entries that started at or before
  // it, keeping the last such epoch, now starting at `start_offset`.
  Errc truncate_from_start(Offset start_offset);
  // truncate_fully_and_start_at: forget everything.
  Errc clear();

 private:
  Errc persist();
  void check_invariants() const;

  // entries_.back().epoch, kept by every change (all of them persist): a
  // follower asks for it per partition per fetch, and entries_ lives on the heap.
  std::optional<LeaderEpoch> latest_;
  LeaderEpochCheckpointFile file_;
  std::vector<EpochEntry> entries_;  // sorted; strictly increasing in epoch and offset
};

}  // namespace ksim::storage
