#include "engine/broker/throttled_channels.h"

#include <utility>

#include "sim/error.h"

namespace ksim {

void ThrottledChannels::mute(uint32_t conn, sim::Instant until) {
  if (until <= world_.now()) return;
  auto [it, fresh] = muted_.try_emplace(conn, Mute{until, {}});
  if (!fresh) {
    if (until <= it->second.until) return;
    it->second.until = until;  // the armed timer re-arms itself for the rest
    return;
  }
  arm(conn, until);
}

bool ThrottledChannels::muted(uint32_t conn) const { return muted_.contains(conn); }

bool ThrottledChannels::defer(uint32_t conn, std::function<void()> then) {
  auto it = muted_.find(conn);
  if (it == muted_.end()) return false;
  it->second.waiting.push_back(std::move(then));
  return true;
}

void ThrottledChannels::arm(uint32_t conn, sim::Instant until) {
  // A timer of the broker's node: it dies with the broker (and this object).
  world_.schedule_after(self_, until - world_.now(), [this, conn] { on_timer(conn); });
}

void ThrottledChannels::on_timer(uint32_t conn) {
  auto it = muted_.find(conn);
  SIM_ASSERT(it != muted_.end(), "a mute timer without its mute");
  if (world_.now() < it->second.until) {  // extended meanwhile
    arm(conn, it->second.until);
    return;
  }
  // Unmute first: what the continuations do must see an open channel.
  std::deque<std::function<void()>> waiting = std::move(it->second.waiting);
  muted_.erase(it);
  world_.probe("broker: throttled channel unmuted");
  for (auto& then : waiting) then();
}

}  // namespace ksim
