// StringPool: every string a History records (client names, group and member
// ids, topics, keys, values, details) stored once in an arena and named by a
// dense 32-bit id, a Sym. Equal strings get equal Syms, so the checkers
// compare values as integers and index them with plain arrays.
//
// Layout:
//   arena   blocks of 64 KiB ("slots" of one virtual address space; a string
//           longer than a slot gets a block of several); a string is a varint
//           length then its bytes, padded to 4 bytes, never split across
//           blocks. Blocks never move, so a string_view from `view` stays
//           valid while the pool grows, and the slack is below one block.
//   starts  Sym -> the string's address / 4 (uint32: 16 GiB of arena).
//   table   open addressing, linear probing, power-of-two size, at most half
//           full; a slot holds Sym + 1 (0: empty) in its low 27 bits and 5
//           bits of the string's hash above, so a probe past another string
//           reads its arena bytes only once in 32 times (each such read is a
//           cache miss on a large pool). Used for lookups only; Syms are
//           handed out in insertion order (deterministic). At most kMaxSyms
//           strings (134 M: a history of ~130 M records needs ~15 GB anyway).
// Cost per distinct string of n bytes: round4(n + 1) + 4 + 8..16 (the table).
// Sym 0 is always "".
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string_view>
#include <vector>

#include "engine/check/chunked_column.h"

namespace ksim::check {

using Sym = uint32_t;
inline constexpr Sym kNoSym = UINT32_MAX;  // "no string" (a null key; a string never interned)

class StringPool {
 public:
  StringPool();
  StringPool(const StringPool&) = delete;
  StringPool& operator=(const StringPool&) = delete;
  StringPool(StringPool&&) = default;
  StringPool& operator=(StringPool&&) = default;

  static constexpr int kSymBits = 27;  // a table slot's low bits; the rest is the hash tag
  static constexpr uint32_t kMaxSyms = (uint32_t{1} << kSymBits) - 1;

  // The Sym of `s`, interning it the first time.
  Sym intern(std::string_view s);
  // out[i] = intern(in[i]) for every i, in order (the same Syms as one
  // intern() after another). A consumer's poll brings back values interned
  // long ago, and each lookup is three dependent cache misses (table slot,
  // start, arena bytes); this walks a window of strings through those stages
  // with prefetches, so their misses overlap instead of queueing.
  void intern_all(std::span<const std::string_view> in, Sym* out);
  // The Sym of `s` if interned, else kNoSym. Never adds.
  Sym find(std::string_view s) const;
  // A string about to be interned: its hash, and its table slot fetched into
  // the cache meanwhile (a new value's slot is a cache miss: one issued early
  // overlaps the caller's work). intern(s, hash) then interns it as intern(s).
  static size_t hash(std::string_view s);
  void prefetch(size_t h) const {
    if (!table_.empty()) __builtin_prefetch(table_.data() + (h & (table_.size() - 1)));
  }
  Sym intern(std::string_view s, size_t h) {
    if (s.empty() && !starts_.empty()) return 0;
    return intern_hashed(s, h);
  }
  std::string_view view(Sym s) const {
    const auto* p = reinterpret_cast<const unsigned char*>(arena_at(s));
    size_t n = 0;
    for (int shift = 0;; shift += 7) {
      const unsigned char b = *p++;
      n |= static_cast<size_t>(b & 0x7f) << shift;
      if (!(b & 0x80)) break;
    }
    return {reinterpret_cast<const char*>(p), n};
  }
  // Distinct strings (Syms are 0 .. size() - 1).
  size_t size() const { return starts_.size(); }
  void clear();
  size_t memory_bytes() const;

 private:
  static constexpr int kSlotBits = 16;
  static constexpr uint64_t kSlotSize = uint64_t{1} << kSlotBits;

  static constexpr uint32_t kSymMask = kMaxSyms;  // Sym + 1 <= kMaxSyms fits under the tag
  // A slot's tag: the hash's top 5 bits (the low bits pick the slot).
  static uint32_t tag_of(size_t h) { return static_cast<uint32_t>(h >> (sizeof(size_t) * 8 - 5)) << kSymBits; }
  char* reserve(size_t bytes);  // arena space for one string, 4-aligned
  void grow_table();
  // The table slot of `s` (hash `h`): where it is, or the empty slot where it would go.
  size_t slot_of(std::string_view s, size_t h) const;
  Sym intern_hashed(std::string_view s, size_t h);
  const char* arena_at(Sym s) const {
    const uint64_t at = static_cast<uint64_t>(starts_[s]) << 2;
    return slots_[at >> kSlotBits] + (at & (kSlotSize - 1));
  }

  std::vector<std::unique_ptr<char[]>> blocks_;
  std::vector<char*> slots_;       // virtual slot -> its memory (slots of one block are contiguous)
  uint64_t cursor_ = 0, block_end_ = 0, arena_bytes_ = 0;
  ChunkedColumn<uint32_t> starts_;
  std::vector<uint32_t> table_;    // tag | (Sym + 1), 0: empty
};

}  // namespace ksim::check
