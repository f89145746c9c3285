// Seeded pseudo-random streams.
//
// Generator: xoshiro256** (Blackman & Vigna), seeded through SplitMix64 as its
// authors recommend. Distributions are ksim's own (the standard library's are
// implementation-defined: libstdc++ and libc++ give different numbers for the
// same engine state, which would make a seed mean different runs on different
// machines).
//
// Streams: every consumer of randomness owns its own Rng, derived from the run
// seed and a NAME (`World::rng("net/link/1->2")`). Adding a node or a new use of
// randomness creates a new stream and never shifts the numbers another stream
// draws, so a seed stays comparable as the code grows.
#pragma once

#include <cstdint>
#include <string_view>

namespace sim {

class Rng {
 public:
  explicit Rng(uint64_t seed);
  // A stream derived from (seed, name): independent of every other name.
  static Rng derive(uint64_t seed, std::string_view name);

  uint64_t next_u64();
  // Uniform in [0, bound) without modulo bias (Lemire's method). bound > 0.
  uint64_t uniform(uint64_t bound);
  // Uniform in [lo, hi] inclusive. lo <= hi.
  int64_t uniform_range(int64_t lo, int64_t hi);
  // Uniform double in [0, 1) with 53 random bits.
  double uniform01();
  bool bernoulli(double p);
  // Exponential with the given mean (inverse CDF; uses std::log, which is
  // correctly rounded enough on glibc for our purposes — documented in README).
  double exponential(double mean);

 private:
  uint64_t s_[4];
};

}  // namespace sim
