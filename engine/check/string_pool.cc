#include "engine/check/string_pool.h"

#include <algorithm>
#include <cstring>
#include <functional>

#include <stdexcept>

namespace ksim::check {

StringPool::StringPool() { clear(); }

void StringPool::clear() {
  blocks_.clear();
  slots_.clear();
  cursor_ = block_end_ = arena_bytes_ = 0;
  starts_.clear();
  table_.assign(16, 0);
  intern("");
}

size_t StringPool::hash(std::string_view s) { return std::hash<std::string_view>{}(s); }

char* StringPool::reserve(size_t bytes) {
  if (cursor_ + bytes > block_end_) {
    // A new block: one slot, or as many as one large string needs. (Doubling
    // blocks would leave up to half the arena unused.)
    const uint64_t size = (bytes + kSlotSize - 1) & ~(kSlotSize - 1);
    blocks_.push_back(std::make_unique_for_overwrite<char[]>(size));
    char* base = blocks_.back().get();
    cursor_ = static_cast<uint64_t>(slots_.size()) << kSlotBits;
    for (uint64_t off = 0; off < size; off += kSlotSize) slots_.push_back(base + off);
    block_end_ = cursor_ + size;
    arena_bytes_ += size;
  }
  if (!((cursor_ >> 2) <= UINT32_MAX)) throw std::length_error("history string pool: more than 16 GiB of strings");
  char* p = slots_[cursor_ >> kSlotBits] + (cursor_ & (kSlotSize - 1));
  starts_.push_back(static_cast<uint32_t>(cursor_ >> 2));
  cursor_ += bytes;
  return p;
}

size_t StringPool::slot_of(std::string_view s, size_t h) const {
  const size_t mask = table_.size() - 1;
  const uint32_t tag = tag_of(h);
  for (size_t i = h & mask;; i = (i + 1) & mask) {
    const uint32_t e = table_[i];
    if (e == 0 || ((e & ~kSymMask) == tag && view((e & kSymMask) - 1) == s)) return i;
  }
}

Sym StringPool::find(std::string_view s) const {
  const uint32_t e = table_[slot_of(s, hash(s))];
  return e == 0 ? kNoSym : (e & kSymMask) - 1;
}

Sym StringPool::intern(std::string_view s) {
  if (s.empty() && !starts_.empty()) return 0;  // most ops have no member, detail or group
  return intern_hashed(s, hash(s));
}

void StringPool::intern_all(std::span<const std::string_view> in, Sym* out) {
  constexpr size_t kWindow = 16;
  size_t h[kWindow];
  Sym candidate[kWindow];
  for (size_t base = 0; base < in.size(); base += kWindow) {
    const size_t n = std::min(kWindow, in.size() - base);
    const std::string_view* s = in.data() + base;
    // Stage 1: every table slot; stage 2: the start of each slot's string
    // when its tag matches (the candidate); stage 3: the candidates' bytes.
    // Only hints: the interning itself (stage 4) probes as intern() does.
    const size_t mask = table_.size() - 1;
    for (size_t i = 0; i < n; ++i) {
      h[i] = hash(s[i]);
      __builtin_prefetch(&table_[h[i] & mask]);
    }
    for (size_t i = 0; i < n; ++i) {
      const uint32_t e = table_[h[i] & mask];
      candidate[i] = e != 0 && (e & ~kSymMask) == tag_of(h[i]) ? (e & kSymMask) - 1 : kNoSym;
      if (candidate[i] != kNoSym) __builtin_prefetch(&starts_[candidate[i]]);
    }
    for (size_t i = 0; i < n; ++i)
      if (candidate[i] != kNoSym) __builtin_prefetch(arena_at(candidate[i]));
    for (size_t i = 0; i < n; ++i)
      out[base + i] = s[i].empty() && !starts_.empty() ? 0 : intern_hashed(s[i], h[i]);
  }
}

Sym StringPool::intern_hashed(std::string_view s, size_t h) {
  const size_t i = slot_of(s, h);
  if (table_[i] != 0) return (table_[i] & kSymMask) - 1;
  if (!(starts_.size() < kMaxSyms)) throw std::length_error("history string pool: more than 134 M distinct strings");
  const Sym id = static_cast<Sym>(starts_.size());
  unsigned char len[10];
  size_t k = 0;
  for (size_t n = s.size(); ; n >>= 7) {
    len[k++] = static_cast<unsigned char>((n & 0x7f) | (n >= 0x80 ? 0x80 : 0));
    if (n < 0x80) break;
  }
  char* p = reserve((k + s.size() + 3) & ~size_t{3});
  std::memcpy(p, len, k);
  if (!s.empty()) std::memcpy(p + k, s.data(), s.size());
  table_[i] = tag_of(h) | (id + 1);
  if (starts_.size() * 2 > table_.size()) grow_table();
  return id;
}

void StringPool::grow_table() {
  // Re-inserted in Sym order, which is arena order: the strings are read
  // front to back (the old table's order would read the arena at random, a
  // cache miss per string). Where a Sym lands differs; lookups do not care.
  std::vector<uint32_t> next(table_.size() * 2, 0);
  const size_t mask = next.size() - 1;
  const auto n = static_cast<Sym>(starts_.size());
  for (Sym sym = 0; sym < n; ++sym) {
    const size_t h = hash(view(sym));
    size_t i = h & mask;
    while (next[i] != 0) i = (i + 1) & mask;
    next[i] = tag_of(h) | (sym + 1);
  }
  table_ = std::move(next);
}

size_t StringPool::memory_bytes() const {
  return arena_bytes_ + slots_.capacity() * sizeof(char*) + blocks_.capacity() * sizeof(void*) +
         starts_.memory_bytes() + table_.capacity() * sizeof(uint32_t);
}

}  // namespace ksim::check
