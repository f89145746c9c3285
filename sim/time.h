// Virtual time. ksim counts time in integer NANOSECONDS since the start of a run.
//
// Why integers: floating point time drifts and compares differently after
// reordering of additions; integer nanoseconds are exact, and int64 covers 292
// years of simulated time. Why nanoseconds: Kafka's timeouts are milliseconds,
// but network latency and disk operations are micro-second scale, and a
// simulator that rounds them to milliseconds turns distinct orderings into ties.
//
// Two strong types keep points and spans apart (you cannot add two Instants):
//   Instant  — a point on the virtual clock (World::now()).
//   Duration — a span; build with nanoseconds(), microseconds(), milliseconds(), seconds().
#pragma once

#include <compare>
#include <cstdint>
#include <limits>

namespace sim {

struct Duration {
  int64_t ns = 0;

  constexpr auto operator<=>(const Duration&) const = default;
  constexpr Duration operator+(Duration o) const { return {ns + o.ns}; }
  constexpr Duration operator-(Duration o) const { return {ns - o.ns}; }
  constexpr Duration operator*(int64_t k) const { return {ns * k}; }
  constexpr Duration& operator+=(Duration o) { ns += o.ns; return *this; }
  constexpr double ms() const { return static_cast<double>(ns) / 1e6; }
  constexpr int64_t ms_floor() const { return ns / 1'000'000; }
};

constexpr Duration nanoseconds(int64_t v) { return {v}; }
constexpr Duration microseconds(int64_t v) { return {v * 1'000}; }
constexpr Duration milliseconds(int64_t v) { return {v * 1'000'000}; }
constexpr Duration seconds(int64_t v) { return {v * 1'000'000'000}; }

struct Instant {
  int64_t ns = 0;

  static constexpr Instant max() { return {std::numeric_limits<int64_t>::max()}; }
  constexpr auto operator<=>(const Instant&) const = default;
  constexpr Instant operator+(Duration d) const { return {ns + d.ns}; }
  constexpr Instant operator-(Duration d) const { return {ns - d.ns}; }
  constexpr Duration operator-(Instant o) const { return {ns - o.ns}; }
  constexpr double ms() const { return static_cast<double>(ns) / 1e6; }
};

}  // namespace sim
