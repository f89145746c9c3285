// PageCache: the page-cache image of one simulated file, as a sequence of
// extents instead of one buffer, so that a log's batches are stored BY
// REFERENCE.
//
// Why: a produced batch's bytes already live in memory (the RecordBatch the
// producer built, which the leader's segment cache and every fetch response
// share). Copying them into each replica's file made the cluster benchmark
// spend a quarter of its time faulting in and filling fresh pages, and held
// every record four times (the batch, and three replicas' files). An extent
// that references the batch's immutable bytes costs 40 bytes per batch per
// replica instead.
//
// Layout: frozen extents (immutable bytes kept alive by an owner: a batch,
// or a former tail), then an owned TAIL that plain appends (indexes,
// checkpoints, metadata, small batches) grow in place. Appending shared
// bytes freezes the tail first. Truncation cuts extents (cheap: a follower's
// truncation drops references). An overwrite inside the file, and every
// caller that needs the bytes contiguous (inspection, a corruption), FLATTEN
// the file into the tail first: copy-on-write, so a corruption or an
// overwrite never changes bytes another replica or a fetch response shares.
//
// Small batches are cheaper copied than referenced (an extent costs ~40
// bytes, a batch object ~60 more), so the disk shares only batches of at
// least Disk::kShareMinBytes.
//
// Spilling: with a SpillStore (set_spill; Disk gives its world's to every file),
// once the bytes held in memory (the tail and the extents not yet spilled)
// reach kSpillBytes they are written to the spill file as ONE chunk and
// replaced by one extent naming it (shared bytes that another file already
// spilled, as their owner's SpillNote says, name that file's chunk instead):
// a long log keeps about a MiB resident, the rest on the host's disk
// (spill_file.h), and the batches it referenced are freed once no replica's
// cache or segment cache holds them.
//
// Pure storage: what a read sees is exactly what a flat buffer would hold,
// so the simulation (and its trace) does not depend on the representation.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "sim/file_bytes.h"
#include "sim/spill_file.h"

namespace sim {

class PageCache {
 public:
  uint64_t size() const { return frozen_bytes_ + tail_.size(); }
  bool empty() const { return size() == 0; }

  // Copies `bytes` in (into the tail).
  void append(std::span<const uint8_t> bytes);
  // Appends a reference to `bytes`, kept alive by `owner`; they must never
  // change. `note` (optional, kept alive by `owner` too) is where any file
  // that spills these bytes says where they went, so they are spilled once.
  void append_shared(std::shared_ptr<const void> owner, std::span<const uint8_t> bytes, SpillNote* note = nullptr);
  // Copies [offset, offset + length) out; the range must lie within size().
  void read(uint64_t offset, uint64_t length, uint8_t* out) const;
  std::vector<uint8_t> read(uint64_t offset, uint64_t length) const;
  // Overwrites (growing the file with zeros first if it ends before offset + size).
  void write(uint64_t offset, std::span<const uint8_t> bytes);
  // Shrinks by cutting extents, or grows with zeros.
  void resize(uint64_t n);
  void assign(std::span<const uint8_t> bytes);
  // The bytes, contiguous: flattens into the tail (logically const).
  std::span<const uint8_t> contiguous() const;
  size_t extent_count() const { return extents_.size(); }

  // Spill older bytes to `store`'s file from now on (null: keep everything
  // in memory). The store must outlive this cache.
  void set_spill(SpillStore* store) { spill_ = store; }
  static constexpr uint64_t kSpillBytes = uint64_t{1} << 20;
  // Bytes held in memory (the tail and the extents not spilled), and spilled.
  uint64_t resident_bytes() const { return tail_.size() + resident_frozen_; }
  uint64_t spilled_bytes() const { return frozen_bytes_ - resident_frozen_; }

 private:
  // In memory (p set, kept alive by owner) or spilled (p null, owner the
  // SpillChunk, `at` where the extent's bytes start in it).
  struct Extent {
    std::shared_ptr<const void> owner;  // keeps p alive
    const uint8_t* p = nullptr;
    uint64_t length = 0;
    uint64_t at = 0;
    SpillNote* note = nullptr;  // the owner's, for a shared extent in memory
  };
  void flatten() const;
  void freeze_tail();
  // Spills the resident bytes when they reach kSpillBytes.
  void maybe_spill();
  void check_invariants() const;

  mutable std::vector<Extent> extents_;
  mutable std::vector<uint64_t> starts_;  // starts_[i]: file offset of extents_[i]
  mutable uint64_t frozen_bytes_ = 0;     // the extents' total length
  mutable FileBytes tail_;
  // Extents [0, first_resident_) are spilled; the rest are in memory and
  // hold resident_frozen_ bytes.
  mutable size_t first_resident_ = 0;
  mutable uint64_t resident_frozen_ = 0;
  SpillStore* spill_ = nullptr;
};

}  // namespace sim
