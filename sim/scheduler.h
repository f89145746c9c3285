// The deterministic Boost.Fiber scheduling algorithm.
//
// Boost.Fiber lets a program replace the policy that picks the next fiber to
// run. ksim's policy is a single FIFO ready queue on a single thread: a fiber
// that becomes ready goes to the back, the front runs next. Given the same
// sequence of wake-ups (which the event queue makes deterministic) the
// interleaving is identical on every run and every machine.
//
// The thread's main context (where World::run_* executes) has the LOWEST
// priority: it is picked only when no other context is ready. To let simulated
// processes run, the run loop yields and is resumed once every fiber has
// suspended. `ready_fibers()` counts ready contexts other than pinned ones (the
// main and dispatcher contexts), so the loop knows when the world is quiet.
// Main-last matters for speed: a fiber that blocks while nothing else is ready
// may process the next events itself (World::block) and hand over directly to
// the fiber they wake — one context switch per message instead of two.
//
// Boost's dispatcher context (it frees terminated fibers' stacks, and moves
// sleeping and remote-ready contexts to the ready queue, which ksim never
// uses) re-queues itself every time it runs. In the FIFO it came round once
// per pass over the ready fibers: in a ping-pong, every other switch went
// through it and read the real clock. ksim keeps it out of the FIFO and runs
// it only when asked (a fiber terminated: request_dispatch) or when nothing
// else can run. It never runs simulation code, so the order in which
// simulated fibers run is the same either way.
//
// Boost installs an algorithm per thread; ksim installs this one the first time
// a World is created on a thread and every World on that thread shares it.
// Worlds never interleave: each drains its ready fibers before returning.
#pragma once

#include <boost/fiber/algo/algorithm.hpp>
#include <boost/fiber/context.hpp>
#include <boost/fiber/scheduler.hpp>
#include <chrono>
#include <cstddef>

namespace sim {

class DeterministicScheduler final : public boost::fibers::algo::algorithm {
 public:
  // Installs the algorithm on the calling thread if it is not yet installed.
  static DeterministicScheduler& install();

  void awakened(boost::fibers::context* ctx) noexcept override;
  boost::fibers::context* pick_next() noexcept override;
  bool has_ready_fibers() const noexcept override { return !queue_.empty() || main_ready_ || dispatcher_ready_; }
  // Never reached while the World drives the thread: the main context is ready
  // whenever simulated fibers are not (see the file comment). No real waiting.
  void suspend_until(std::chrono::steady_clock::time_point const&) noexcept override {}
  void notify() noexcept override {}

  size_t ready_fibers() const { return ready_unpinned_; }
  // Lets the dispatcher run at the next switch that finds no fiber ready
  // (before the main context), to free terminated fibers.
  void request_dispatch() { dispatch_wanted_ = true; }

  // Public only because Boost constructs it; use install().
  DeterministicScheduler();

 private:
  boost::fibers::scheduler::ready_queue_type queue_;
  boost::fibers::context* main_ready_ = nullptr;
  boost::fibers::context* dispatcher_ready_ = nullptr;
  bool dispatch_wanted_ = false;
  size_t ready_unpinned_ = 0;
};

}  // namespace sim
