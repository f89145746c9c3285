// The demo story printed by `ksim demo`: three nodes heartbeat each other
// through a partition that heals, a crash and a restart — the simulated world
// shown as a timeline. (Replaced by a Kafka failure scenario once the engine
// exists.)
#pragma once

#include <cstdint>
#include <iosfwd>

namespace ksim {

struct DemoOptions {
  uint64_t seed = 1;
  bool show_trace = false;  // also print every trace event
};

// Runs the story; returns the trace hash.
uint64_t run_demo(const DemoOptions& opts, std::ostream& out);

}  // namespace ksim
