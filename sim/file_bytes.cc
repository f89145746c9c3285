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
// From this capacity on a buffer gets its own mapping, grown by mremap;
// below it realloc is cheap enough and wastes no page per small file.
// (Transparent huge pages were tried: fewer faults, but on a busy machine
// the kernel's compaction for them cost more system time than they saved.
// Prefaulting each growth with MADV_POPULATE_WRITE was tried too: a third of
// the faults, no less time, and the whole geometric capacity resident.)
constexpr size_t kMapThreshold = size_t{1} << 20;
constexpr size_t kPage = 4096;
size_t round_to_page(size_t n) { return (n + kPage - 1) / kPage * kPage; }
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
    cap = round_to_page(cap);
    void* p;
    if (mapped_) {
      p = mremap(p_, cap_, cap, MREMAP_MAYMOVE);  // moves page-table entries, copies no bytes
    } else {
      p = mmap(nullptr, cap, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
      if (p != MAP_FAILED) {
        if (size_ > 0) std::memcpy(p, p_, size_);  // once, leaving the malloc heap
        std::free(p_);
      }
    }
    if (p == MAP_FAILED) throw std::bad_alloc();
    p_ = static_cast<uint8_t*>(p);
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
