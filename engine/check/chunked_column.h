// ChunkedColumn<T>: an append-only array of small PODs stored in fixed-size
// chunks (about 16 KiB each) — the storage of every History column.
//
// Why not std::vector: a history grows for the whole run. A vector doubles
// its buffer and copies it, so at each growth the old and the new buffer are
// both alive (1.5x the data at the peak, up to 2x the data in capacity); a
// run of millions of operations paid that at its worst moment. Chunks never
// move: growth allocates one more chunk, the slack is below one chunk (16 KiB:
// small enough for a column that stays nearly empty), and a
// reference to an element stays valid while the column grows (the checkers
// hold pointers into it during a run).
//
// Cost: sizeof(T) per element, plus at most one partly filled chunk and one
// pointer per chunk. Indexing is a shift, a mask and two loads.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <type_traits>
#include <vector>

namespace ksim::check {

template <class T>
class ChunkedColumn {
  static_assert(std::is_trivially_copyable_v<T>, "columns hold PODs");

 public:
  // Elements per chunk: the largest power of two that fits 16 KiB (at least 1).
  static constexpr size_t kChunkBits = [] {
    size_t bits = 0;
    while ((size_t{2} << bits) * sizeof(T) <= 16384) ++bits;
    return bits;
  }();
  static constexpr size_t kChunkSize = size_t{1} << kChunkBits;

  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }

  T& operator[](size_t i) { return chunks_[i >> kChunkBits][i & (kChunkSize - 1)]; }
  const T& operator[](size_t i) const { return chunks_[i >> kChunkBits][i & (kChunkSize - 1)]; }
  T& back() { return (*this)[size_ - 1]; }

  T& push_back(const T& v) {
    if ((size_ & (kChunkSize - 1)) == 0 && (size_ >> kChunkBits) == chunks_.size())
      chunks_.push_back(std::make_unique_for_overwrite<T[]>(kChunkSize));
    T& slot = (*this)[size_++];
    slot = v;
    return slot;
  }

  void clear() {
    chunks_.clear();
    chunks_.shrink_to_fit();
    size_ = 0;
  }

  // Bytes allocated: whole chunks plus the chunk table.
  size_t memory_bytes() const { return chunks_.size() * kChunkSize * sizeof(T) + chunks_.capacity() * sizeof(void*); }

 private:
  std::vector<std::unique_ptr<T[]>> chunks_;
  size_t size_ = 0;
};

}  // namespace ksim::check
