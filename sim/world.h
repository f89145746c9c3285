// The World: one simulated universe. Everything of a run lives here — the
// virtual clock, the event queue, the simulated processes (fibers), the nodes
// and their lifecycles, the network, the disks, the trace and the seeded random
// streams. There are no globals: two Worlds in one process are independent, and
// one seed gives one run.
//
// Execution model (FoundationDB's "single simulated world"):
//   * The caller (a test, the Python bindings) drives the world from the thread's
//     main context with step() / run_for() / run_until().
//   * step() pops the earliest event, advances the clock to its time, applies it
//     (wake a fiber, fire a timer, deliver a message, finish a disk operation)
//     and then lets every fiber that became ready run until it suspends again.
//     When nothing is runnable the clock jumps to the next event.
//   * Simulated processes are Boost.Fiber fibers belonging to a node. They block
//     only through ksim primitives (sleep_for, WaitQueue, Channel, Future, RPC,
//     Disk), all on virtual time.
//
// Node lifecycle:
//   down --start--> up --crash/power_fail--> down --restart--> up ...
//   up --pause(d)--> paused --(d elapses | resume)--> up
// A crash unwinds every fiber of the node at its next suspension point (they see
// NodeCrashed), drops its pending timers and messages, and destroys its
// volatile state once the last fiber has exited. The node's disk survives (the
// page cache survives a process crash; a power failure loses unsynced data).
// A paused node's fibers, timers and incoming messages are frozen and replayed
// in order when it resumes — like SIGSTOP or a long GC pause.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "sim/error.h"
#include "sim/event_queue.h"
#include "sim/rng.h"
#include "sim/time.h"
#include "sim/spill_file.h"
#include "sim/trace.h"

namespace boost::fibers {
class context;
class scheduler;
}

namespace sim {

class Network;
class Disk;
class DeterministicScheduler;

// Dense node index, assigned by add_node in order (0, 1, 2, ...).
struct NodeId {
  uint32_t value = 0;
  constexpr auto operator<=>(const NodeId&) const = default;
};
inline constexpr uint32_t kNoNodeIndex = 0xffffffffu;
// Fibers and timers that belong to no node (a test driver, a nemesis).
inline constexpr NodeId kWorldNode{kNoNodeIndex};

struct TimerId {
  uint32_t slot = 0xffffffffu;  // default: no timer (cancel() returns false)
  uint32_t generation = 0;
};

// Why a blocked fiber woke up.
enum class WakeReason : uint8_t { notified, timeout };

// A reference to one wait of one fiber; stale once the fiber woke or exited.
struct WaitRef {
  uint32_t slot = 0;
  uint32_t generation = 0;
  uint32_t token = 0;
};

enum class NodeState : uint8_t { down, up };

struct WorldConfig {
  uint64_t seed = 1;
  size_t fiber_stack_bytes = 256 * 1024;  // Python callbacks run on fiber stacks
  // Limits: a run loop that exceeds them stops with SimError instead of spinning.
  uint64_t max_events_per_call = 2'000'000'000ULL;
  size_t max_fibers = 100'000;
  size_t max_nodes = 10'000;
  // The newest trace events kept for export and failure messages (48 B each;
  // the hash covers all of them). As many as a run file stores
  // (ExportOptions::max_trace_events): a bigger ring only cost memory — 48 MB
  // that a long run filled in, which an idle cluster took hours to do (issue 13).
  size_t trace_keep_events = 200'000;
  bool trace_record_hashes = false;
};

// Boot function: builds a node's volatile process state (spawning its fibers)
// on start and on every restart. The returned object lives until the node
// crashes and all its fibers have unwound.
using BootFn = std::function<std::shared_ptr<void>(NodeId)>;

class World {
 public:
  explicit World(WorldConfig config = {});
  ~World();
  World(const World&) = delete;
  World& operator=(const World&) = delete;

  uint64_t seed() const { return config_.seed; }
  Instant now() const { return now_; }
  Trace& trace() { return trace_; }
  const Trace& trace() const { return trace_; }
  Network& network() { return *network_; }
  // A random stream derived from the run seed and `name` (see rng.h).
  Rng rng(std::string_view name) const { return Rng::derive(config_.seed, name); }

  // ---- Run control (main context only) --------------------------------------
  // Applies the next event; false when there is none.
  bool step();
  // Runs every event up to and including `deadline`, then sets the clock to it.
  void run_until(Instant deadline);
  void run_for(Duration d) { run_until(now_ + d); }
  // Runs until no event is left (the clock stays at the last event's time).
  void run_to_completion();
  // Runs until pred() holds (checked after every event) or `timeout` elapses.
  bool run_until(const std::function<bool()>& pred, Duration timeout);
  bool idle() const { return queue_.empty(); }
  std::optional<Instant> next_event_time() const {
    return queue_.empty() ? std::nullopt : std::optional<Instant>(queue_.top_time());
  }
  uint64_t events_processed() const { return events_processed_; }
  // Lets the fibers that are ready run (spawned from the main context, say).
  void settle();

  // ---- Interruption (main context only) -------------------------------------
  // `check` runs on the main context about every `every_events` applied events
  // while a run call (step loop, run_until, run_for) is in progress, always
  // between two events, never on a fiber. It may throw to abandon the call:
  // the Python bindings raise KeyboardInterrupt on Ctrl-C this way. The world
  // stays consistent (the next run call carries on from the same state), and
  // runs are identical with or without a check (events applied inline by a
  // blocked fiber are handed back to the driver instead, in the same order).
  void set_interrupt_check(std::function<void()> check, uint64_t every_events = 10'000);

  // The thread whose Boost.Fiber scheduler runs this world's fibers (the one
  // that created it). Driving the world from another thread raises SimError:
  // fibers cannot move between threads' schedulers.
  std::thread::id owner_thread() const { return owner_thread_; }  // determinism-ok: guards which thread may drive the world, never orders events

  // Destroying a world unwinds its fibers, which only its owner thread can do.
  // `destroy` (which deletes the world, or the object owning it) runs now when
  // called on the owner thread, or when the owner thread has exited (its
  // worlds' fibers were unwound then); otherwise it is queued and runs on the
  // owner thread: at its next World construction or run call, or at its exit.
  // For Python, whose garbage collector may drop a Simulation on any thread.
  static void destroy_on_owner_thread(const World& w, std::function<void()> destroy);
  // Runs what other threads queued for this one (see above).
  static void run_deferred_destructions();
  // Unwinds every fiber now (the thread is exiting): the world can no longer
  // run; destroying it later is safe on any thread.
  void retire_fibers();

  // ---- Nodes --------------------------------------------------------------
  NodeId add_node(std::string name, BootFn boot);
  size_t node_count() const { return nodes_.size(); }
  const std::string& node_name(NodeId id) const;
  NodeState node_state(NodeId id) const;
  bool is_up(NodeId id) const { return node_state(id) == NodeState::up; }
  bool is_paused(NodeId id) const;
  uint32_t incarnation(NodeId id) const;
  void start(NodeId id);
  void crash(NodeId id);
  void restart(NodeId id);
  // Crash that also loses the page cache; `torn` keeps a random prefix of it.
  void power_fail(NodeId id, bool torn = false);
  void pause(NodeId id, Duration d);
  void resume(NodeId id);
  // The node's volatile state returned by its BootFn (nullptr while down).
  template <class T>
  std::shared_ptr<T> process(NodeId id) const {
    return std::static_pointer_cast<T>(process_state(id));
  }
  std::shared_ptr<void> process_state(NodeId id) const;
  Disk& disk(NodeId id);
  // Where the disks keep file bytes they need not hold in memory.
  SpillStore& spill_store() { return spill_store_; }

  // ---- Fibers -------------------------------------------------------------
  // Starts a simulated process on `node` (which must be up); it runs at the
  // next settle point. Exceptions escaping `fn` fail the run (SimError from run_*).
  void spawn(NodeId node, std::string_view name, std::function<void()> fn);
  // The node the calling fiber belongs to. Throws outside a fiber.
  NodeId current_node() const;
  // True inside a fiber of a crashed incarnation that is still unwinding
  // (its destructors run): such code must not send or block.
  bool current_is_killed() const;
  bool in_fiber() const { return current_ != nullptr; }
  // Suspends the calling fiber for `d` of virtual time.
  void sleep_for(Duration d);
  void sleep_until(Instant t);
  // Blocking protocol used by every primitive (WaitQueue, Channel, RPC, Disk):
  // prepare_wait() returns a reference a waker can use; block() suspends until
  // wake(ref) or the deadline. Crash unwinds with NodeCrashed here.
  WaitRef prepare_wait();
  WakeReason block(WaitRef ref, std::optional<Instant> deadline);
  // Wakes the fiber if `ref` is still its current wait; false if stale.
  bool wake(WaitRef ref);
  bool is_waiting(WaitRef ref) const;

  // ---- Timers -------------------------------------------------------------
  // Runs `fn` on the main context after `d` unless cancelled or the node crashed
  // (a paused node's timers fire when it resumes). fn must not block.
  TimerId schedule_after(NodeId node, Duration d, std::function<void()> fn);
  bool cancel(TimerId id);

  // ---- Observability --------------------------------------------------------
  // Marks a coverage probe: a named rare path was exercised (FoundationDB's
  // CODE_PROBE). The report lists every probe and how often it fired.
  // Called after every driver step (an event and the fibers it readied; events
  // a blocked fiber applied inline are part of that step) — for online
  // invariant checks. It may inspect the world and call fail(), nothing else.
  void set_after_step(std::function<void()> fn) { after_step_ = std::move(fn); }

  void probe(std::string_view name);
  const std::map<std::string, uint64_t, std::less<>>& probes() const { return probes_; }
  // Records a parameter derived from the seed, so a run can print all of them.
  void record_param(std::string_view name, std::string value);
  const std::vector<std::pair<std::string, std::string>>& params() const { return params_; }
  // A human-readable line for a trace event.
  std::string describe(const TraceEvent& e) const;
  // A fault / note entry in the trace (free text, interned).
  void note_fault(NodeId node, std::string_view what);

  // Internal: used by Network / Disk to schedule and withdraw their own events.
  // An event (Event's fields, less the sequence number this assigns).
  EventHandle schedule_event(Instant time, uint64_t aux, uint32_t slot, uint32_t node, uint32_t incarnation,
                             EventKind kind);
  bool unschedule(EventHandle h) { return queue_.remove(h); }
  uint32_t node_index_of_current() const;
  void fail(std::string message);  // stops the run with SimError at the next run_* return

 private:
  struct FiberRecord;
  struct Node;
  struct TimerSlot {
    std::function<void()> fn;
    EventHandle event;
    uint32_t generation = 0;
    bool armed = false;
  };

  Node& node_at(NodeId id);
  const Node& node_at(NodeId id) const;
  void dispatch(const Event& e);
  void discard_event(const Event& e);
  void retarget(const Event& e, EventHandle h);
  void boot(Node& n);
  void kill_fibers(Node& n);
  void fiber_main(FiberRecord* f, std::function<void()>& fn);
  void fiber_exit(FiberRecord* f);
  void make_ready(FiberRecord* f);
  void wake_fiber(FiberRecord* f, WakeReason reason);
  void check_failure();
  void guard_main(const char* what) const;
  void guard_thread(const char* what) const;
  // Runs the interrupt check if it is due (main context, between events).
  void poll_interrupt();
  bool interrupt_due() const { return interrupt_check_ && events_processed_ >= next_interrupt_check_; }
  void step_inner();
  void run_events_until(Instant deadline);
  bool inline_step(FiberRecord* f);
  void collect_garbage();

  WorldConfig config_;
  DeterministicScheduler& sched_;
  // This thread's Boost.Fiber scheduler, read once: going through
  // context::active() costs a thread-local lookup in Boost's shared library
  // (__tls_get_addr) on every wake and every suspend.
  boost::fibers::scheduler* fiber_sched_ = nullptr;
  Instant now_{0};
  uint64_t next_seq_ = 0;
  uint32_t next_fiber_generation_ = 1;
  uint64_t events_processed_ = 0;
  EventQueue queue_;
  Trace trace_;
  // Before nodes_: every node's disk spills into it (sim/spill_file.h).
  SpillStore spill_store_;

  std::vector<std::unique_ptr<Node>> nodes_;
  std::unique_ptr<Node> world_node_;  // owner of kWorldNode fibers
  std::vector<std::unique_ptr<FiberRecord>> fibers_;
  std::vector<uint32_t> free_fibers_;
  size_t live_fibers_ = 0;
  FiberRecord* current_ = nullptr;
  // Inline event processing (see World::block): while the driver runs up to a
  // deadline, a blocking fiber with nothing else ready applies the next events
  // itself. Disabled (Instant{-1}) during step() and predicate runs.
  Instant inline_until_{-1};
  uint64_t inline_budget_ = 0;
  FiberRecord* inline_runner_ = nullptr;
  bool dispatching_ = false;
  // This World's fibers that are in the ready queue (other Worlds on the same
  // thread share Boost's scheduler but not this count).
  size_t ready_count_ = 0;
  std::vector<TimerSlot> timers_;
  std::vector<uint32_t> free_timers_;
  std::vector<std::shared_ptr<void>> graveyard_;  // process states to destroy on the main context

  std::unique_ptr<Network> network_;
  std::map<std::string, uint64_t, std::less<>> probes_;
  std::vector<std::pair<std::string, std::string>> params_;
  std::function<void()> after_step_;
  std::function<void()> interrupt_check_;
  uint64_t interrupt_every_ = 0;
  uint64_t next_interrupt_check_ = 0;
  std::thread::id owner_thread_ = std::this_thread::get_id();  // determinism-ok: owner check only
  bool retired_ = false;  // the owner thread exited and unwound the fibers
  std::optional<std::string> failure_;
  bool destroying_ = false;

  friend class Disk;
  friend class Network;
};

}  // namespace sim
