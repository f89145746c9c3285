// Fiber-aware synchronisation on VIRTUAL time.
//
//   WaitQueue    — the building block: fibers wait (optionally until a deadline),
//                  notify_one / notify_all wake them in FIFO order.
//   CondVar      — wait until a predicate holds, with an optional timeout. No mutex:
//                  fibers are cooperative on one thread, so a predicate cannot
//                  change between its check and the wait.
//   Channel<T>   — bounded FIFO queue; push blocks when full, pop when empty; close().
//   Promise<T> / Future<T> — one value (or an error), awaited with or without timeout.
//   Mutex / LockGuard — mutual exclusion across a section that blocks.
//
// Every blocking call here may throw NodeCrashed (the calling node crashed) —
// let it propagate. None of them may be used from the main context.
#pragma once

#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <utility>

#include "sim/world.h"

namespace sim {

class WaitQueue {
 public:
  explicit WaitQueue(World& w) : world_(&w) {}
  // Blocks until notified (true) or `deadline` passes (false).
  bool wait(std::optional<Instant> deadline = std::nullopt) {
    // Waits that ended by timeout or crash leave stale entries; drop those at
    // the front so a queue polled with timeouts does not grow without bound.
    while (!waiters_.empty() && !world_->is_waiting(waiters_.front())) waiters_.pop_front();
    const WaitRef ref = world_->prepare_wait();
    waiters_.push_back(ref);
    return world_->block(ref, deadline) == WakeReason::notified;
  }
  bool wait_for(Duration d) { return wait(world_->now() + d); }
  // Wakes the longest-waiting fiber still waiting; false if none.
  bool notify_one() {
    while (!waiters_.empty()) {
      const WaitRef ref = waiters_.front();
      waiters_.pop_front();
      if (world_->wake(ref)) return true;
    }
    return false;
  }
  void notify_all() {
    // Woken in place: World::wake only marks a fiber ready (none runs before
    // this returns), so nobody can wait on this queue again during the loop.
    // Swapping the waiters out into a fresh std::deque, which allocates even
    // empty, cost two allocations on every wakeup.
    for (const WaitRef& r : waiters_) world_->wake(r);
    waiters_.clear();
  }
  World& world() const { return *world_; }

 private:
  World* world_;
  std::deque<WaitRef> waiters_;  // may hold stale refs (timed out, crashed); skipped
};

class CondVar {
 public:
  explicit CondVar(World& w) : q_(w) {}
  template <class Pred>
  void wait(Pred pred) {
    while (!pred()) q_.wait();
  }
  // True if pred() holds, false if `timeout` elapsed first.
  template <class Pred>
  bool wait_for(Duration timeout, Pred pred) {
    const Instant deadline = q_.world().now() + timeout;
    while (!pred()) {
      if (!q_.wait(deadline)) return pred();
    }
    return true;
  }
  void notify_one() { q_.notify_one(); }
  void notify_all() { q_.notify_all(); }

 private:
  WaitQueue q_;
};

// A fiber mutex: serialises simulated processes around a critical section
// that blocks inside (a log append waiting on the disk, say). Ownership is
// HANDED to the longest waiter on unlock — a fiber that unlocks and relocks in
// a loop cannot starve the others (no barging).
class Mutex {
 public:
  explicit Mutex(World& w) : q_(w) {}
  void lock() {
    if (!locked_) {
      locked_ = true;
      return;
    }
    q_.wait();  // woken only by unlock(), which leaves the mutex locked for us
  }
  bool try_lock() {
    if (locked_) return false;
    locked_ = true;
    return true;
  }
  void unlock() {
    SIM_ASSERT(locked_, "unlock of an unlocked mutex");
    if (!q_.notify_one()) locked_ = false;  // nobody waits: free it; else hand it over
  }
  bool locked() const { return locked_; }

 private:
  bool locked_ = false;
  WaitQueue q_;
};

// RAII for Mutex; unlocks also when a crash unwinds the fiber.
class LockGuard {
 public:
  explicit LockGuard(Mutex& m) : m_(m) { m_.lock(); }
  ~LockGuard() { m_.unlock(); }
  LockGuard(const LockGuard&) = delete;
  LockGuard& operator=(const LockGuard&) = delete;

 private:
  Mutex& m_;
};

template <class T>
class Channel {
 public:
  Channel(World& w, size_t capacity) : capacity_(capacity), readers_(w), writers_(w) {
    SIM_ASSERT(capacity > 0, "channel capacity must be positive");
  }
  bool closed() const { return closed_; }
  size_t size() const { return items_.size(); }
  size_t capacity() const { return capacity_; }

  // Never blocks; false when full or closed. Usable from the main context.
  bool try_push(T v) {
    if (closed_ || items_.size() >= capacity_) return false;
    items_.push_back(std::move(v));
    readers_.notify_one();
    return true;
  }
  // Blocks while full; false if the channel is (or becomes) closed.
  bool push(T v) {
    while (!closed_ && items_.size() >= capacity_) writers_.wait();
    return try_push(std::move(v));
  }
  std::optional<T> try_pop() {
    if (items_.empty()) return std::nullopt;
    T v = std::move(items_.front());
    items_.pop_front();
    writers_.notify_one();
    return v;
  }
  // Blocks while empty; nullopt once closed and drained.
  std::optional<T> pop() {
    while (items_.empty() && !closed_) readers_.wait();
    return try_pop();
  }
  // Blocks while empty, at most `timeout`; nullopt on timeout or close.
  std::optional<T> pop_for(Duration timeout) {
    const Instant deadline = readers_.world().now() + timeout;
    while (items_.empty() && !closed_) {
      if (!readers_.wait(deadline)) break;
    }
    return try_pop();
  }
  void close() {
    closed_ = true;
    readers_.notify_all();
    writers_.notify_all();
  }
  void clear() {
    items_.clear();
    writers_.notify_all();
  }

 private:
  size_t capacity_;
  bool closed_ = false;
  std::deque<T> items_;
  WaitQueue readers_, writers_;
};

// The outcome held by a Future: a value, or (value empty) an error message.
template <class T>
struct Outcome {
  std::optional<T> value;
  std::string error;
  bool ok() const { return value.has_value(); }
};

template <class T>
class Future {
 public:
  struct State {
    explicit State(World& w) : waiters(w) {}
    std::optional<Outcome<T>> outcome;
    WaitQueue waiters;
  };
  explicit Future(std::shared_ptr<State> s) : s_(std::move(s)) {}
  bool ready() const { return s_->outcome.has_value(); }
  // Blocks until the outcome is known.
  const Outcome<T>& wait() {
    while (!s_->outcome) s_->waiters.wait();
    return *s_->outcome;
  }
  // Blocks at most `timeout`; nullptr if still unknown.
  const Outcome<T>* wait_for(Duration timeout) {
    const Instant deadline = s_->waiters.world().now() + timeout;
    while (!s_->outcome) {
      if (!s_->waiters.wait(deadline)) break;
    }
    return s_->outcome ? &*s_->outcome : nullptr;
  }
  // The value; throws SimError carrying the error message if it failed.
  const T& get() {
    const Outcome<T>& o = wait();
    if (!o.ok()) throw SimError(o.error);
    return *o.value;
  }

 private:
  std::shared_ptr<State> s_;
};

template <class T>
class Promise {
 public:
  explicit Promise(World& w) : s_(std::make_shared<typename Future<T>::State>(w)) {}
  Future<T> future() const { return Future<T>(s_); }
  // First outcome wins; later ones are ignored (returns false).
  bool set_value(T v) { return set(Outcome<T>{std::move(v), {}}); }
  bool set_error(std::string message) { return set(Outcome<T>{std::nullopt, std::move(message)}); }

 private:
  bool set(Outcome<T> o) {
    if (s_->outcome) return false;
    s_->outcome = std::move(o);
    s_->waiters.notify_all();
    return true;
  }
  std::shared_ptr<typename Future<T>::State> s_;
};

}  // namespace sim
