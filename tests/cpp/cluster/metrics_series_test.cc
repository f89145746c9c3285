// The metrics time series as stories (issue 13: nothing grows with simulated
// time while nothing happens). The cluster samples metrics() and every
// partition's state each virtual second into step-function series
// (engine/server/step_series.h): a sample is kept only when something changed,
// and a series at its capacity thins its older half.
#include <catch2/catch.hpp>

#include <map>
#include <string>

#include "engine/server/cluster.h"
#include "engine/server/step_series.h"

using namespace ksim;

namespace {

ClusterOptions idle_cluster_options() {
  ClusterOptions o;
  o.seed = 1;
  o.brokers = 3;
  o.controllers = 1;
  return o;
}

// The metric's value at virtual time `at_ms`, read as the step function it is.
double value_at(const Cluster& c, const std::string& name, int64_t at_ms) {
  double v = -1;
  for (const auto& [at, values] : c.metrics_series()) {
    if (at > at_ms) break;
    if (auto it = values.find(name); it != values.end()) v = it->second;
  }
  return v;
}

}  // namespace

TEST_CASE("a step series keeps a sample only when the value changes", "[metrics_series]") {
  StepSeries<int> s(8);
  REQUIRE(s.record(0, 5));
  for (int64_t t = 1; t <= 1'000; ++t) REQUIRE_FALSE(s.record(t, 5));  // a thousand seconds of nothing
  REQUIRE(s.size() == 1);
  REQUIRE(s.record(1'001, 6));  // the change, at the time it was seen
  REQUIRE(s.samples().back() == std::pair<int64_t, int>{1'001, 6});
  REQUIRE(s.thinnings() == 0);
}

TEST_CASE("a full step series thins its older half and keeps its newest half exact", "[metrics_series]") {
  StepSeries<int> s(16);
  for (int v = 0; v < 1'000; ++v) s.record(v, v);  // a value that changes every sample
  REQUIRE(s.size() < 16);
  REQUIRE(s.thinnings() > 0);
  const auto& xs = s.samples();
  REQUIRE(xs.front() == std::pair<int64_t, int>{0, 0});  // the initial state stays
  for (size_t i = 1; i < xs.size(); ++i) REQUIRE(xs[i].first > xs[i - 1].first);
  // The newest capacity / 2 samples are every change, at full resolution.
  for (size_t i = xs.size() - 8; i < xs.size(); ++i) REQUIRE(xs[i].second == 1'000 - static_cast<int>(xs.size() - i));
}

TEST_CASE("thinning merges the equal neighbours a dropped change leaves behind", "[metrics_series]") {
  StepSeries<int> s(4);
  s.record(0, 1);
  s.record(1, 2);  // a spike ...
  s.record(2, 1);  // ... that came and went
  s.record(3, 3);  // full: the spike (every second sample of the older half) goes
  REQUIRE(s.samples() == std::vector<std::pair<int64_t, int>>{{0, 1}, {3, 3}});
}

TEST_CASE("an idle cluster's metrics series holds O(1) samples after hours of nothing", "[metrics_series]") {
  Cluster c(idle_cluster_options());
  c.wait_ready();
  c.create_topic("t", 6, 3);
  c.run_for_ms(60'000);
  const size_t metrics_after_a_minute = c.metrics_series().size();
  const size_t partitions_after_a_minute = c.partition_series_samples();
  c.run_for_ms(3 * 3'600'000);  // three simulated hours of nothing (10,800 samples taken)
  REQUIRE(c.metrics_series().size() == metrics_after_a_minute);
  REQUIRE(c.partition_series_samples() == partitions_after_a_minute);
  REQUIRE(c.metrics_series().size() <= 4);
  // The step function still answers for now: its last sample is the current value.
  REQUIRE(c.metrics_series().back().second == c.metrics());
}

TEST_CASE("a metric that changes is still recorded when it changes", "[metrics_series]") {
  Cluster c(idle_cluster_options());
  c.wait_ready();
  c.create_topic("t", 6, 3);
  c.run_for_ms(10'000);
  REQUIRE(value_at(c, "UnderReplicatedPartitions", c.now_ms()) == 0);
  const int64_t crashed_at = c.now_ms();
  c.crash(2);
  c.run_for_ms(60'000);  // replica.lag.time.max.ms passes: the leaders shrink their ISRs
  const int64_t shrunk_at = c.now_ms();
  REQUIRE(value_at(c, "UnderReplicatedPartitions", shrunk_at) > 0);
  REQUIRE(value_at(c, "UnderReplicatedPartitions", crashed_at) == 0);
  c.restart(2);
  REQUIRE(c.run_until([&] { return c.metrics()["UnderReplicatedPartitions"] == 0; }, 60'000));
  c.run_for_ms(2'000);
  REQUIRE(value_at(c, "UnderReplicatedPartitions", c.now_ms()) == 0);
  // Every kept sample is a change: no two neighbours are equal.
  const auto& xs = c.metrics_series();
  for (size_t i = 1; i < xs.size(); ++i) REQUIRE(xs[i].second != xs[i - 1].second);
  // The partition series saw the ISR shrink on some partition broker 2 replicates.
  bool saw_shrunk_isr = false;
  for (const auto& [at, d] : c.partition_series())
    if (d.topic == "t" && d.isr.size() < d.replicas.size()) saw_shrunk_isr = true;
  REQUIRE(saw_shrunk_isr);
}

TEST_CASE("a busy run's metrics series stays within its capacity", "[metrics_series]") {
  ClusterOptions o = idle_cluster_options();
  o.metrics_series_capacity = 8;
  Cluster c(o);
  c.wait_ready();
  c.create_topic("t", 3, 3);
  for (int i = 0; i < 6; ++i) {  // each crash and restart changes the ISR counts twice
    c.crash(1);
    c.run_for_ms(40'000);
    c.restart(1);
    c.run_for_ms(40'000);
    REQUIRE(c.metrics_series().size() < 8);
  }
  REQUIRE(c.metrics_step_series().thinnings() > 0);
  REQUIRE(c.metrics_series().back().second == c.metrics());
  REQUIRE(c.metrics_series().front().first <= 1'000);  // the start of the run stays
}
