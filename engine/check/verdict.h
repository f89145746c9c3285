// Anomaly and Verdict: what the checkers found, and the one judgement per run.
//
// An anomaly is either *expected* (Kafka's contract permits it under the run's
// configuration and faults — reported with its cause) or a *violation* (a
// broken promise). `Verdict::ok` is true iff there is no violation, so a seed
// sweep fails only on broken promises while loss stories can still find the
// losses they expect.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "engine/common/types.h"

namespace ksim::check {

struct Anomaly {
  std::string kind;          // design.md's anomaly names: "lost-write", "duplicate", ...
  bool expected = false;     // permitted by the fault model
  std::string cause;         // why it is expected ("acks=1", "unclean election", ...), or ""
  TopicPartition tp;
  std::vector<int64_t> offsets;
  std::vector<std::string> records;  // the values involved
  std::vector<uint64_t> ops;         // history op ids involved
  int64_t at_ns = 0;                 // when it became observable (for ordering and the window)
  std::string explanation;           // a story a learner can follow
};

struct Stats {
  uint64_t ops = 0, sends = 0, acked = 0, failed = 0, unknown = 0;
  uint64_t polls = 0, records_polled = 0, commits = 0;
  uint64_t lost = 0, duplicated = 0;
  // Virtual-time latencies in milliseconds.
  double send_latency_ms_p50 = 0, send_latency_ms_p99 = 0, send_latency_ms_max = 0;
  double e2e_latency_ms_p50 = 0, e2e_latency_ms_p99 = 0, e2e_latency_ms_max = 0;
};

class Verdict {
 public:
  bool ok() const;
  const std::vector<Anomaly>& anomalies() const { return anomalies_; }
  std::vector<Anomaly> violations() const;
  std::vector<Anomaly> expected() const;
  // kind -> (violations, expected)
  std::map<std::string, std::pair<uint64_t, uint64_t>> counts() const;
  const Stats& stats() const { return stats_; }
  // Human summary: ok or not, counts by kind, the first example of each kind in full, stats.
  std::string text() const;

  void add(Anomaly a) { anomalies_.push_back(std::move(a)); }
  Stats& mutable_stats() { return stats_; }
  // Sorts anomalies by (time, kind, partition, first offset): a stable, readable order.
  void finish();

 private:
  std::vector<Anomaly> anomalies_;
  Stats stats_;
};

}  // namespace ksim::check
