// SampledStat: a value measured over a few time windows — Kafka's
// org.apache.kafka.common.metrics.stats.SampledStat, with the combines ksim
// needs: Rate (over a WindowedSum), Avg and Max.
//
// Samples form a ring of `samples + 1` windows (Kafka keeps one extra so the
// oldest window still overlapping the monitored span survives). Recording at
// time t adds to the current sample, or first advances to the next slot when
// the current window is complete (t - start >= window). A sample with no
// event for samples × window is obsolete and reset before every measurement.
//
// Rate (Kafka's Rate.windowSize): the samples' sum divided by the time since
// the oldest sample started — but never by fewer than `samples - 1` full
// windows, so the first burst after an idle spell is spread over that span
// instead of reading as an enormous rate. Client quotas (KIP-13) measure
// with quota.window.num = 11 windows of quota.window.size.seconds = 1.
//
// Times are virtual milliseconds; nothing here reads a clock.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace ksim {

struct SampledStatConfig {
  int32_t samples = 2;          // metrics.num.samples (quota.window.num for quotas)
  int64_t window_ms = 30'000;   // metrics.sample.window.ms (quota.window.size.seconds × 1000)
};

class SampledStat {
 public:
  explicit SampledStat(SampledStatConfig config);

  void record(double value, int64_t now_ms);

  // Kafka's Rate: per second, over window_size_ms(now).
  double rate_per_s(int64_t now_ms);
  // The span (ms) the rate divides by at `now`: see the file comment. >= 1.
  int64_t window_size_ms(int64_t now_ms);
  // Kafka's Avg / Max over the live samples; 0 when they hold no event
  // (Kafka answers NaN: see engine/broker/README.md, "Differences").
  double avg(int64_t now_ms);
  double max(int64_t now_ms);
  // The sum of the live samples (Kafka's WindowedSum).
  double sum(int64_t now_ms);
  // Measuring purges obsolete samples (restarting their windows at `now`),
  // which moves later rates, as in Kafka. An observer (a metrics reader)
  // must not: it measures a copy.
  SampledStat snapshot() const { return *this; }
  const SampledStatConfig& config() const { return config_; }

 private:
  struct Sample {
    int64_t start_ms = 0;
    int64_t last_event_ms = 0;
    int64_t events = 0;
    double sum = 0;
    double max = 0;
    void reset(int64_t now_ms) { *this = Sample{now_ms, now_ms, 0, 0, 0}; }
  };
  void purge_obsolete(int64_t now_ms);
  Sample& current(int64_t now_ms);
  const Sample& oldest(int64_t now_ms);

  SampledStatConfig config_;
  std::vector<Sample> samples_;
  size_t current_ = 0;
};

}  // namespace ksim
