// The demo stories printed by `ksim demo`: the default is a Kafka failure
// scenario (an acks=1 write lost to a leader crash); `--story heartbeat` shows
// the bare simulated world (nodes heartbeating through a partition, a crash
// and a pause) as a timeline.
#pragma once

#include <cstdint>
#include <iosfwd>
#include <string>

namespace ksim {

struct DemoOptions {
  uint64_t seed = 1;
  bool show_trace = false;  // also print every trace event
  // The Kafka story only: when set, after the story, judge the run as it
  // stands (check() without its heal phase, so no simulated time passes and
  // the printed trace hash stays the run's) and write its trace store to
  // out_dir/demo-SEED.db (`ksim demo --out DIR`, read by `ksim report`).
  std::string out_dir;
};

// The simulated world alone: nodes heartbeating through faults. Returns the trace hash.
uint64_t run_demo(const DemoOptions& opts, std::ostream& out);
// A Kafka failure story: an acks=1 write lost to a leader crash. Returns the trace hash.
uint64_t run_kafka_demo(const DemoOptions& opts, std::ostream& out);

}  // namespace ksim
