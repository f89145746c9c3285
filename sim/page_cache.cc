#include "sim/page_cache.h"

#include <algorithm>
#include <cstdint>
#include <cstring>

#include "sim/error.h"

namespace sim {

void PageCache::check_invariants() const {
  SIM_ASSERT(extents_.size() == starts_.size(), "page cache: an extent without its start");
  SIM_ASSERT(first_resident_ <= extents_.size(), "page cache: spilled extents past the end");
}

void PageCache::append(std::span<const uint8_t> bytes) {
  tail_.append(bytes);
  maybe_spill();
}

void PageCache::freeze_tail() {
  if (tail_.empty()) return;
  auto owned = std::make_shared<FileBytes>(std::move(tail_));
  tail_ = FileBytes{};
  const uint8_t* p = owned->data();
  const uint64_t n = owned->size();
  starts_.push_back(frozen_bytes_);
  extents_.push_back({std::move(owned), p, n, 0});
  frozen_bytes_ += n;
  resident_frozen_ += n;
}

void PageCache::append_shared(std::shared_ptr<const void> owner, std::span<const uint8_t> bytes, SpillNote* note) {
  if (bytes.empty()) return;
  freeze_tail();
  starts_.push_back(frozen_bytes_);
  extents_.push_back({std::move(owner), bytes.data(), bytes.size(), 0, note});
  frozen_bytes_ += bytes.size();
  resident_frozen_ += bytes.size();
  maybe_spill();
}

void PageCache::maybe_spill() {
  if (!spill_ || resident_bytes() < kSpillBytes) return;
  // Everything resident, in file order, goes out as one chunk (one gather
  // write straight from the extents and the tail) — except shared bytes
  // another file already spilled (a replica of the same batch): those name
  // that file's chunk instead.
  struct Piece {
    std::shared_ptr<const SpillChunk> chunk;  // null: written to the new chunk at `at`
    uint64_t at = 0;
    uint64_t length = 0;
    size_t extent = SIZE_MAX;  // the extent it was (SIZE_MAX: the tail)
  };
  std::vector<Piece> pieces;
  pieces.reserve(extents_.size() - first_resident_ + 1);
  std::vector<std::span<const uint8_t>> parts;
  parts.reserve(extents_.size() - first_resident_ + 1);
  uint64_t written = 0;
  for (size_t i = first_resident_; i < extents_.size(); ++i) {
    const Extent& e = extents_[i];
    if (const SpillNote::Where* w = e.note ? e.note->where.get() : nullptr;
        w && w->p <= e.p && e.p + e.length <= w->p + w->length) {
      if (auto chunk = w->chunk.lock()) {
        pieces.push_back({std::move(chunk), w->at + static_cast<uint64_t>(e.p - w->p), e.length, i});
        continue;
      }
    }
    pieces.push_back({nullptr, written, e.length, i});
    parts.emplace_back(e.p, e.length);
    written += e.length;
  }
  if (!tail_.empty()) {
    pieces.push_back({nullptr, written, tail_.size(), SIZE_MAX});
    parts.emplace_back(tail_.data(), tail_.size());
    written += tail_.size();
  }
  std::shared_ptr<const SpillChunk> fresh;
  if (written > 0) {
    SpillFile* file = spill_->file();
    fresh = file ? file->put(parts) : nullptr;
    if (!fresh) {
      spill_ = nullptr;  // the host refused: keep this file in memory from now on
      return;
    }
    // Bytes other files share: note where they went, for those files' spills.
    for (const Piece& piece : pieces) {
      if (piece.chunk || piece.extent == SIZE_MAX) continue;
      const Extent& e = extents_[piece.extent];
      if (!e.note || e.owner.use_count() == 1) continue;
      if (!e.note->where) e.note->where = std::make_unique<SpillNote::Where>();
      *e.note->where = SpillNote::Where{fresh, e.p, piece.length, piece.at};
    }
  }
  // The resident extents and the tail become spilled extents: one per run
  // of pieces that lie back to back in one chunk (also with the last extent
  // spilled before: a follower's file runs on through the leader's chunk).
  uint64_t start = frozen_bytes_ - resident_frozen_;
  const uint64_t end = size();
  extents_.resize(first_resident_);
  starts_.resize(first_resident_);
  tail_ = FileBytes{};
  for (Piece& piece : pieces) {
    std::shared_ptr<const SpillChunk> chunk = piece.chunk ? std::move(piece.chunk) : fresh;
    if (!extents_.empty()) {
      Extent& last = extents_.back();  // spilled: everything before first_resident_ is
      if (last.owner == chunk && last.at + last.length == piece.at) {
        last.length += piece.length;
        start += piece.length;
        continue;
      }
    }
    starts_.push_back(start);
    extents_.push_back({std::move(chunk), nullptr, piece.length, piece.at});
    start += piece.length;
  }
  SIM_ASSERT(start == end, "page cache: spilling changed the file's size");
  frozen_bytes_ = start;
  first_resident_ = extents_.size();
  resident_frozen_ = 0;
  check_invariants();
}

void PageCache::read(uint64_t offset, uint64_t length, uint8_t* out) const {
  SIM_ASSERT(offset + length <= size(), "page cache read beyond the end of the file");
  if (offset < frozen_bytes_) {
    // The extent holding `offset`: the last one starting at or before it.
    size_t i = static_cast<size_t>(std::upper_bound(starts_.begin(), starts_.end(), offset) - starts_.begin()) - 1;
    while (length > 0 && i < extents_.size()) {
      const Extent& e = extents_[i];
      const uint64_t in = offset - starts_[i];
      const uint64_t n = std::min(length, e.length - in);
      if (e.p) {
        std::memcpy(out, e.p + in, n);
      } else {
        static_cast<const SpillChunk*>(e.owner.get())->read(e.at + in, n, out);
      }
      out += n;
      offset += n;
      length -= n;
      ++i;
    }
  }
  if (length > 0) std::memcpy(out, tail_.data() + (offset - frozen_bytes_), length);
}

std::vector<uint8_t> PageCache::read(uint64_t offset, uint64_t length) const {
  std::vector<uint8_t> out(length);
  read(offset, length, out.data());
  return out;
}

void PageCache::flatten() const {
  if (extents_.empty()) return;
  FileBytes flat;
  flat.resize(size());
  read(0, size(), flat.data());
  tail_ = std::move(flat);
  extents_.clear();
  starts_.clear();
  frozen_bytes_ = 0;
  first_resident_ = 0;
  resident_frozen_ = 0;
}

void PageCache::write(uint64_t offset, std::span<const uint8_t> bytes) {
  if (offset >= frozen_bytes_) {  // within (or past) the tail: no shared byte changes
    const uint64_t at = offset - frozen_bytes_;
    if (tail_.size() < at + bytes.size()) tail_.resize(at + bytes.size());
    if (!bytes.empty()) std::memcpy(tail_.data() + at, bytes.data(), bytes.size());
    maybe_spill();
    return;
  }
  flatten();
  write(offset, bytes);
}

void PageCache::resize(uint64_t n) {
  if (n >= frozen_bytes_) {
    tail_.resize(n - frozen_bytes_);
    maybe_spill();
    return;
  }
  tail_ = FileBytes{};
  size_t keep = static_cast<size_t>(std::upper_bound(starts_.begin(), starts_.end(), n) - starts_.begin());
  // Extents [0, keep) start at or before n; the last of them may be cut
  // (a spilled one too: its chunk stays whole, the extent names less of it).
  extents_.resize(keep);
  starts_.resize(keep);
  if (keep > 0) {
    Extent& last = extents_.back();
    last.length = n - starts_.back();
    if (last.length == 0) {
      extents_.pop_back();
      starts_.pop_back();
    }
  }
  frozen_bytes_ = n;
  first_resident_ = std::min(first_resident_, extents_.size());
  resident_frozen_ = 0;
  for (size_t i = first_resident_; i < extents_.size(); ++i) resident_frozen_ += extents_[i].length;
  check_invariants();
}

void PageCache::assign(std::span<const uint8_t> bytes) {
  extents_.clear();
  starts_.clear();
  frozen_bytes_ = 0;
  first_resident_ = 0;
  resident_frozen_ = 0;
  tail_.assign(bytes);
  maybe_spill();
}

std::span<const uint8_t> PageCache::contiguous() const {
  if (tail_.empty() && extents_.size() == 1 && extents_[0].p) return {extents_[0].p, extents_[0].length};
  flatten();
  return tail_.span();
}

}  // namespace sim
