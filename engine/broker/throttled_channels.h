// ThrottledChannels: a broker's connections muted for a throttle time
// (KIP-219, Kafka >= 2.0: SocketServer's channel mute states, the quota
// managers' ThrottledChannel and their reaper).
//
// A throttled response goes out at once, carrying throttle_time_ms; then the
// broker stops reading the connection until the throttle time has passed.
// ksim's equivalent: whatever arrives on a muted connection — and a Produce
// that was waiting behind the throttled one — is deferred, in arrival order,
// and handed back to the broker's request path when the mute ends.
//
// Invariant (asserted): a deferred continuation runs once, after its
// connection's mute ended, in the order it was deferred.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <map>

#include "sim/world.h"

namespace ksim {

class ThrottledChannels {
 public:
  ThrottledChannels(sim::World& world, sim::NodeId self) : world_(world), self_(self) {}

  // Mutes `conn` until `until` (a later mute extends an earlier one).
  void mute(uint32_t conn, sim::Instant until);
  bool muted(uint32_t conn) const;
  // If `conn` is muted, `then` waits for the end of the mute and true is
  // returned; otherwise false (the caller goes on at once).
  bool defer(uint32_t conn, std::function<void()> then);
  // Muted connections now (Kafka's `queue-size` of the throttled channels).
  size_t size() const { return muted_.size(); }

 private:
  struct Mute {
    sim::Instant until;
    std::deque<std::function<void()>> waiting;
  };
  void arm(uint32_t conn, sim::Instant until);
  void on_timer(uint32_t conn);

  sim::World& world_;
  sim::NodeId self_;
  std::map<uint32_t, Mute> muted_;
};

}  // namespace ksim
