#include "engine/common/sampled_stat.h"

#include <algorithm>
#include <stdexcept>

namespace ksim {

SampledStat::SampledStat(SampledStatConfig config) : config_(config) {
  if (config_.samples < 1 || config_.window_ms < 1)
    throw std::invalid_argument("SampledStat: samples and window_ms must be positive");
}

SampledStat::Sample& SampledStat::current(int64_t now_ms) {
  if (samples_.empty()) samples_.push_back(Sample{now_ms, now_ms, 0, 0, 0});
  return samples_[current_];
}

void SampledStat::record(double value, int64_t now_ms) {
  Sample* s = &current(now_ms);
  if (now_ms - s->start_ms >= config_.window_ms) {
    // Advance: one slot more than `samples`, reusing the oldest once full.
    const size_t slots = static_cast<size_t>(config_.samples) + 1;
    current_ = (current_ + 1) % slots;
    if (current_ >= samples_.size()) {
      samples_.push_back(Sample{now_ms, now_ms, 0, 0, 0});
    } else {
      samples_[current_].reset(now_ms);
    }
    s = &samples_[current_];
  }
  s->sum += value;
  s->max = s->events == 0 ? value : std::max(s->max, value);
  ++s->events;
  s->last_event_ms = now_ms;
}

void SampledStat::purge_obsolete(int64_t now_ms) {
  const int64_t expire_age = static_cast<int64_t>(config_.samples) * config_.window_ms;
  for (Sample& s : samples_)
    if (now_ms - s.last_event_ms >= expire_age) s.reset(now_ms);
}

const SampledStat::Sample& SampledStat::oldest(int64_t now_ms) {
  current(now_ms);  // at least one sample
  const Sample* o = &samples_.front();
  for (const Sample& s : samples_)
    if (s.start_ms < o->start_ms) o = &s;
  return *o;
}

int64_t SampledStat::window_size_ms(int64_t now_ms) {
  purge_obsolete(now_ms);
  int64_t elapsed = now_ms - oldest(now_ms).start_ms;
  const int64_t full_windows = elapsed / config_.window_ms;
  const int64_t min_full_windows = config_.samples - 1;
  if (full_windows < min_full_windows) elapsed += (min_full_windows - full_windows) * config_.window_ms;
  return std::max<int64_t>(elapsed, 1);
}

double SampledStat::sum(int64_t now_ms) {
  purge_obsolete(now_ms);
  double total = 0;
  for (const Sample& s : samples_) total += s.sum;
  return total;
}

double SampledStat::rate_per_s(int64_t now_ms) {
  const double total = sum(now_ms);
  return total / (static_cast<double>(window_size_ms(now_ms)) / 1000.0);
}

double SampledStat::avg(int64_t now_ms) {
  purge_obsolete(now_ms);
  double total = 0;
  int64_t events = 0;
  for (const Sample& s : samples_) {
    total += s.sum;
    events += s.events;
  }
  return events == 0 ? 0.0 : total / static_cast<double>(events);
}

double SampledStat::max(int64_t now_ms) {
  purge_obsolete(now_ms);
  bool any = false;
  double m = 0;
  for (const Sample& s : samples_) {
    if (s.events == 0) continue;
    m = any ? std::max(m, s.max) : s.max;
    any = true;
  }
  return m;
}

}  // namespace ksim
