// ksim's own 64-bit hashing, used for the trace hash, for deriving PRNG streams
// from names, and anywhere a stable (machine- and library-independent) hash is
// needed. std::hash is implementation-defined and may differ between standard
// libraries, so it must never feed anything that reaches the trace.
#pragma once

#include <cstdint>
#include <string_view>

namespace sim {

// SplitMix64's finalizer (Stafford variant 13): a bijective avalanche mix.
constexpr uint64_t mix64(uint64_t x) {
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ULL;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebULL;
  x ^= x >> 31;
  return x;
}

// Folds one 64-bit word into a running hash. Order-sensitive by design: the
// trace hash must change if two events swap places.
constexpr uint64_t hash_combine(uint64_t h, uint64_t word) {
  return mix64(h ^ (word + 0x9e3779b97f4a7c15ULL + (h << 6) + (h >> 2)));
}

// FNV-1a over bytes, then mixed: stable hash of a name.
constexpr uint64_t hash_string(std::string_view s) {
  uint64_t h = 0xcbf29ce484222325ULL;
  for (unsigned char c : s) {
    h ^= c;
    h *= 0x100000001b3ULL;
  }
  return mix64(h);
}

}  // namespace sim
