// StepSeries: a bounded time series of a value that is mostly constant — the
// cluster's metrics, one partition's state — kept as a step function.
//
// The cluster samples its metrics every `metrics_interval_ms` (1 s) of virtual
// time, forever. Appending every sample made an idle cluster grow by ~20 MB
// per simulated hour (issue 13: nothing may grow with simulated time while
// nothing happens), and a busy one without bound. Two rules bound it:
//
//  1. Change-only: a sample is kept only when it differs from the last kept
//     one. The series is a step function — the value at time t is that of the
//     last sample at or before t (the first sample is the initial state, the
//     last one holds until now) — so a cluster where nothing changes adds
//     nothing, however long it runs.
//  2. Thinning: when the series reaches `capacity` samples, every second
//     sample of its older half is dropped (the first sample stays, and a
//     sample equal to the one it now follows goes too). The newest
//     capacity / 2 samples are therefore always exact, at the sampling
//     resolution; older ones are a sketch whose spacing doubles with every
//     thinning they go through. Memory stays O(capacity) however busy or
//     long the run: a busy run keeps its recent past in full and a coarser
//     view of the start.
//
// A thinned-away sample was a real change (a spike that came and went), so
// exact answers about the distant past come from the history (elections and
// ISR changes are on its timeline, engine/check/history.h), not from here.
// Pure bookkeeping: sampling reads state and changes nothing in the run.
#pragma once

#include <cstddef>
#include <cstdint>
#include <utility>
#include <vector>

#include "sim/error.h"

namespace ksim {

template <class T>
class StepSeries {
 public:
  using Sample = std::pair<int64_t, T>;  // (virtual ms, value)

  explicit StepSeries(size_t capacity = 4096) { set_capacity(capacity); }

  // Keeps (at, value) if `value` differs from the last kept sample; returns
  // whether it was kept. `at` must not go back.
  bool record(int64_t at, T value) {
    if (repeats_last(at, value)) return false;
    keep(at, std::move(value));
    return true;
  }

  // record(at, value) for a value the caller keeps: copied only when kept.
  bool record_if_changed(int64_t at, const T& value) {
    if (repeats_last(at, value)) return false;
    keep(at, T(value));
    return true;
  }

  // A smaller capacity thins at the next record().
  void set_capacity(size_t capacity) {
    SIM_ASSERT(capacity >= 4, "StepSeries: capacity must be >= 4");
    capacity_ = capacity;
  }
  size_t capacity() const { return capacity_; }
  const std::vector<Sample>& samples() const { return samples_; }
  size_t size() const { return samples_.size(); }
  bool empty() const { return samples_.empty(); }
  // How many times the older half was thinned (0: every change is there).
  uint64_t thinnings() const { return thinnings_; }

 private:
  bool repeats_last(int64_t at, const T& value) const {
    if (samples_.empty()) return false;
    SIM_ASSERT(at >= samples_.back().first, "StepSeries: samples must come in time order");
    return samples_.back().second == value;
  }
  void keep(int64_t at, T value) {
    samples_.emplace_back(at, std::move(value));
    while (samples_.size() >= capacity_) thin();
  }
  void thin() {
    const size_t older = samples_.size() / 2;
    std::vector<Sample> kept;
    kept.reserve(samples_.size() - older / 2);
    for (size_t i = 0; i < samples_.size(); ++i) {
      if (i < older && i % 2 == 1) continue;  // every second sample of the older half
      // Dropping a change can leave two equal values in a row: one step, not two.
      if (!kept.empty() && kept.back().second == samples_[i].second) continue;
      kept.push_back(std::move(samples_[i]));
    }
    samples_ = std::move(kept);
    ++thinnings_;
  }

  std::vector<Sample> samples_;
  size_t capacity_ = 4096;
  uint64_t thinnings_ = 0;
};

}  // namespace ksim
