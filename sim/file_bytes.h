// FileBytes: the bytes of one simulated file (its page-cache or its durable
// image), a contiguous buffer like std::vector<uint8_t> but grown without
// copying.
//
// Why not std::vector: a log segment is appended to batch by batch and grows
// to tens of MB. A vector reallocates by allocate-copy-free, so every doubling
// copies the whole file and makes the kernel fault in (and zero) fresh pages
// for the copy — in the cluster benchmark that was a third of the wall time
// (page faults, clear_page, memmove). Here a large buffer lives in its own
// anonymous mapping and grows with mremap, which moves page-table entries
// instead of bytes: each page is faulted in once, nothing is copied. Small
// buffers (most files: indexes, checkpoints, metadata) use realloc.
//
// Pure storage: what a read sees is exactly what a vector would hold, so the
// simulation (and its trace) is unchanged.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

namespace sim {

class FileBytes {
 public:
  FileBytes() = default;
  FileBytes(const FileBytes& o) { assign(o.span()); }
  FileBytes(FileBytes&& o) noexcept : p_(o.p_), size_(o.size_), cap_(o.cap_), mapped_(o.mapped_) {
    o.p_ = nullptr;
    o.size_ = o.cap_ = 0;
    o.mapped_ = false;
  }
  FileBytes& operator=(const FileBytes& o) {
    if (this != &o) assign(o.span());
    return *this;
  }
  FileBytes& operator=(FileBytes&& o) noexcept {
    if (this != &o) {
      release();
      p_ = o.p_, size_ = o.size_, cap_ = o.cap_, mapped_ = o.mapped_;
      o.p_ = nullptr;
      o.size_ = o.cap_ = 0;
      o.mapped_ = false;
    }
    return *this;
  }
  ~FileBytes() { release(); }

  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  const uint8_t* data() const { return p_; }
  uint8_t* data() { return p_; }
  const uint8_t* begin() const { return p_; }
  const uint8_t* end() const { return p_ + size_; }
  uint8_t* begin() { return p_; }
  uint8_t* end() { return p_ + size_; }
  uint8_t& operator[](size_t i) { return p_[i]; }
  uint8_t operator[](size_t i) const { return p_[i]; }
  std::span<const uint8_t> span() const { return {p_, size_}; }
  operator std::span<const uint8_t>() const { return span(); }  // NOLINT: reads like a vector
  std::vector<uint8_t> to_vector() const { return {begin(), end()}; }

  // Grows (new bytes are zero, as a file's hole reads) or shrinks.
  void resize(size_t n);
  void append(std::span<const uint8_t> bytes);
  void assign(std::span<const uint8_t> bytes);

 private:
  void reserve(size_t n);
  void release();

  uint8_t* p_ = nullptr;
  size_t size_ = 0;
  size_t cap_ = 0;
  bool mapped_ = false;  // p_ is an mmap of cap_ bytes (else malloc'd)
};

}  // namespace sim
