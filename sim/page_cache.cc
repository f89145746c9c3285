#include "sim/page_cache.h"

#include <algorithm>
#include <cstring>

#include "sim/error.h"

namespace sim {

void PageCache::append(std::span<const uint8_t> bytes) { tail_.append(bytes); }

void PageCache::freeze_tail() {
  if (tail_.empty()) return;
  auto owned = std::make_shared<FileBytes>(std::move(tail_));
  tail_ = FileBytes{};
  const uint8_t* p = owned->data();
  const uint64_t n = owned->size();
  starts_.push_back(frozen_bytes_);
  extents_.push_back({std::move(owned), p, n});
  frozen_bytes_ += n;
}

void PageCache::append_shared(std::shared_ptr<const void> owner, std::span<const uint8_t> bytes) {
  if (bytes.empty()) return;
  freeze_tail();
  starts_.push_back(frozen_bytes_);
  extents_.push_back({std::move(owner), bytes.data(), bytes.size()});
  frozen_bytes_ += bytes.size();
}

void PageCache::read(uint64_t offset, uint64_t length, uint8_t* out) const {
  SIM_ASSERT(offset + length <= size(), "page cache read beyond the end of the file");
  if (offset < frozen_bytes_) {
    // The extent holding `offset`: the last one starting at or before it.
    size_t i = static_cast<size_t>(std::upper_bound(starts_.begin(), starts_.end(), offset) - starts_.begin()) - 1;
    while (length > 0 && i < extents_.size()) {
      const uint64_t in = offset - starts_[i];
      const uint64_t n = std::min(length, extents_[i].length - in);
      std::memcpy(out, extents_[i].p + in, n);
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
}

void PageCache::write(uint64_t offset, std::span<const uint8_t> bytes) {
  if (offset >= frozen_bytes_) {  // within (or past) the tail: no shared byte changes
    const uint64_t at = offset - frozen_bytes_;
    if (tail_.size() < at + bytes.size()) tail_.resize(at + bytes.size());
    if (!bytes.empty()) std::memcpy(tail_.data() + at, bytes.data(), bytes.size());
    return;
  }
  flatten();
  write(offset, bytes);
}

void PageCache::resize(uint64_t n) {
  if (n >= frozen_bytes_) {
    tail_.resize(n - frozen_bytes_);
    return;
  }
  tail_ = FileBytes{};
  size_t keep = static_cast<size_t>(std::upper_bound(starts_.begin(), starts_.end(), n) - starts_.begin());
  // Extents [0, keep) start at or before n; the last of them may be cut.
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
}

void PageCache::assign(std::span<const uint8_t> bytes) {
  extents_.clear();
  starts_.clear();
  frozen_bytes_ = 0;
  tail_.assign(bytes);
}

std::span<const uint8_t> PageCache::contiguous() const {
  if (tail_.empty() && extents_.size() == 1) return {extents_[0].p, extents_[0].length};
  flatten();
  return tail_.span();
}

}  // namespace sim
