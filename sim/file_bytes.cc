#include "sim/file_bytes.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <new>

#if defined(__linux__)
#include <sys/mman.h>
#define KSIM_FILE_BYTES_MREMAP 1
#endif

namespace sim {
namespace {

#if KSIM_FILE_BYTES_MREMAP
// From this capacity on a buffer gets its own mapping; below it realloc is
// cheap enough and wastes no page per small file. Mappings are multiples of
// 2 MiB at 2 MiB-aligned addresses, so the kernel can back them with
// transparent huge pages (one fault per 2 MiB instead of per 4 KiB) and
// mremap can move them a page-table entry per 2 MiB.
constexpr size_t kHuge = size_t{2} << 20;
constexpr size_t kMapThreshold = kHuge;
size_t round_to_huge(size_t n) { return (n + kHuge - 1) / kHuge * kHuge; }

// A fresh read-write anonymous mapping of `n` bytes (a multiple of kHuge) at
// a kHuge-aligned address: over-map by kHuge and unmap the slack at both ends.
uint8_t* map_aligned(size_t n) {
  void* raw = mmap(nullptr, n + kHuge, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (raw == MAP_FAILED) throw std::bad_alloc();
  const auto at = reinterpret_cast<uintptr_t>(raw);
  const uintptr_t aligned = (at + kHuge - 1) / kHuge * kHuge;
  if (aligned > at) munmap(raw, aligned - at);
  if (const uintptr_t tail = at + n + kHuge - (aligned + n); tail > 0) munmap(reinterpret_cast<void*>(aligned + n), tail);
  auto* p = reinterpret_cast<uint8_t*>(aligned);
  // Advice only: without huge pages everything still works, with 4 KiB faults.
  if (!std::getenv("KSIM_NO_THP")) madvise(p, n, MADV_HUGEPAGE);  // TEMP A/B
  return p;
}
#endif

}  // namespace

void FileBytes::release() {
  if (!p_) return;
#if KSIM_FILE_BYTES_MREMAP
  if (mapped_) {
    munmap(p_, cap_);
  } else {
    std::free(p_);
  }
#else
  std::free(p_);
#endif
  p_ = nullptr;
  size_ = cap_ = 0;
  mapped_ = false;
}

void FileBytes::reserve(size_t n) {
  if (n <= cap_) return;
  // Geometric growth, as a vector's, so appends are amortised O(1).
  size_t cap = std::max({n, cap_ * 2, size_t{64}});
#if KSIM_FILE_BYTES_MREMAP
  if (cap >= kMapThreshold) {
    cap = round_to_huge(cap);
    uint8_t* p = map_aligned(cap);
    if (mapped_) {
      // Moves the old pages (page-table entries, not bytes) over the start
      // of the new mapping; the old range is unmapped by the move.
      if (mremap(p_, cap_, cap_, MREMAP_MAYMOVE | MREMAP_FIXED, p) == MAP_FAILED) {
        munmap(p, cap);
        throw std::bad_alloc();
      }
    } else {
      if (size_ > 0) std::memcpy(p, p_, size_);  // once, leaving the malloc heap
      std::free(p_);
    }
    p_ = p;
    cap_ = cap;
    mapped_ = true;
    return;
  }
#endif
  void* p = std::realloc(p_, cap);
  if (!p) throw std::bad_alloc();
  p_ = static_cast<uint8_t*>(p);
  cap_ = cap;
}

void FileBytes::resize(size_t n) {
  if (n > size_) {
    reserve(n);
    std::memset(p_ + size_, 0, n - size_);
  }
  size_ = n;
}

void FileBytes::append(std::span<const uint8_t> bytes) {
  if (bytes.empty()) return;
  reserve(size_ + bytes.size());
  std::memcpy(p_ + size_, bytes.data(), bytes.size());
  size_ += bytes.size();
}

void FileBytes::assign(std::span<const uint8_t> bytes) {
  size_ = 0;
  append(bytes);
}

}  // namespace sim
