#include "sim/world.h"

#include <boost/fiber/fiber.hpp>
#include <boost/fiber/fixedsize_stack.hpp>
#include <boost/fiber/operations.hpp>
#include <boost/fiber/scheduler.hpp>
#include <algorithm>
#include <map>
#include <mutex>
#include <sstream>

#include "sim/disk.h"
#include "sim/network.h"
#include "sim/scheduler.h"

namespace sim {

void invariant_failed(const char* expr, const char* file, int line, const std::string& msg) {
  std::ostringstream os;
  os << "invariant violated: " << msg << " [" << expr << " at " << file << ":" << line << "]";
  throw SimError(os.str());
}

struct World::FiberRecord {
  boost::fibers::context* ctx = nullptr;  // set when the fiber first runs
  Node* node = nullptr;
  uint32_t slot = 0;
  uint32_t generation = 0;
  uint32_t token = 0;      // current wait; wakes carrying another token are stale
  uint32_t incarnation = 0;  // of its node when spawned
  bool waiting = false;
  bool killed = false;
  bool frozen = false;     // woken while its node was paused; replayed on resume
  WakeReason reason = WakeReason::notified;
  EventHandle deadline;    // the timeout of the current wait, if any
  std::string name;
};

struct World::Node {
  NodeId id{};
  std::string name;
  BootFn boot;
  NodeState state = NodeState::down;
  bool paused = false;
  uint32_t incarnation = 0;
  uint32_t live_fibers = 0;
  std::shared_ptr<void> process;
  // Process states of crashed incarnations whose fibers are still unwinding.
  struct Dying {
    uint32_t incarnation;
    uint32_t fibers_left;
    std::shared_ptr<void> process;
  };
  std::vector<Dying> dying;
  std::vector<FiberRecord*> fibers;  // live fibers (a crashed incarnation's until they unwind)
  std::vector<Event> frozen;         // events deferred while paused, in order
  TimerId resume_timer{};
  uint64_t pause_epoch = 0;
  std::unique_ptr<Disk> disk;
};

// ---- worlds and threads --------------------------------------------------------
// Per-thread bookkeeping of the process, not simulation state: which worlds
// each thread owns, and the destructions other threads queued for it. Boost's
// dispatcher would spin forever at thread exit waiting for fibers that never
// finish, so a thread's exit unwinds the fibers of its worlds still alive.
namespace {
struct ThreadBook {
  std::vector<World*> live;
  std::vector<std::function<void()>> deferred;
  bool gone = false;
};
std::mutex& book_mutex() {
  static std::mutex m;
  return m;
}
std::map<std::thread::id, ThreadBook>& books() {  // determinism-ok: per-thread bookkeeping of deferred deletions, not simulation state
  static auto* b = new std::map<std::thread::id, ThreadBook>;  // determinism-ok: never destroyed (threads may outlive statics); bookkeeping, not simulation state
  return *b;
}
// Constructed (in World's constructor) after Boost's per-thread scheduler, so
// destroyed before it: the unwinding below still has a scheduler.
struct ThreadExit {
  ThreadExit() {
    std::lock_guard<std::mutex> lock(book_mutex());
    books()[std::this_thread::get_id()] = ThreadBook{};  // a reused thread id starts afresh
  }
  ~ThreadExit() {
    const std::thread::id me = std::this_thread::get_id();  // determinism-ok: which thread's worlds to unwind at its exit
    auto take_deferred = [&](bool mark_gone) {
      std::vector<std::function<void()>> out;
      std::lock_guard<std::mutex> lock(book_mutex());
      ThreadBook& b = books()[me];
      out.swap(b.deferred);
      if (mark_gone) b.gone = true;
      return out;
    };
    for (auto& d : take_deferred(false)) d();
    // Unwind what is still alive; other threads keep queueing (not deleting)
    // until `gone` is set below, so no world is deleted while it unwinds.
    for (;;) {
      World* w = nullptr;
      {
        std::lock_guard<std::mutex> lock(book_mutex());
        auto& live = books()[me].live;
        if (live.empty()) break;
        w = live.back();
        live.pop_back();  // retired: its destructor has nothing to unwind
      }
      w->retire_fibers();
    }
    for (auto& d : take_deferred(true)) d();  // from now on other threads delete directly
  }
};
void register_world(World* w) {
  static thread_local ThreadExit hook;
  (void)hook;
  std::lock_guard<std::mutex> lock(book_mutex());
  books()[std::this_thread::get_id()].live.push_back(w);
}
void unregister_world(World* w, std::thread::id owner) {  // determinism-ok: owner bookkeeping, not simulation state
  std::lock_guard<std::mutex> lock(book_mutex());
  auto it = books().find(owner);
  if (it != books().end()) std::erase(it->second.live, w);
}
}  // namespace

void World::destroy_on_owner_thread(const World& w, std::function<void()> destroy) {
  if (std::this_thread::get_id() != w.owner_thread_ && !w.retired_) {
    std::lock_guard<std::mutex> lock(book_mutex());
    auto it = books().find(w.owner_thread_);
    if (it != books().end() && !it->second.gone) {
      it->second.deferred.push_back(std::move(destroy));
      return;
    }
  }
  destroy();
}

void World::run_deferred_destructions() {
  std::vector<std::function<void()>> deferred;
  {
    std::lock_guard<std::mutex> lock(book_mutex());
    auto it = books().find(std::this_thread::get_id());
    if (it == books().end() || it->second.deferred.empty()) return;
    deferred.swap(it->second.deferred);
  }
  for (auto& d : deferred) d();
}

void World::retire_fibers() {
  destroying_ = true;  // no new fibers
  for (auto& n : nodes_) kill_fibers(*n);
  kill_fibers(*world_node_);
  if (!in_fiber()) {
    while (ready_count_ > 0) boost::this_fiber::yield();
  }
  current_ = nullptr;
  retired_ = true;
}

World::World(WorldConfig config)
    : config_(config),
      sched_(DeterministicScheduler::install()),
      fiber_sched_(boost::fibers::context::active()->get_scheduler()) {
  register_world(this);
  run_deferred_destructions();
  trace_.set_keep_events(config_.trace_keep_events);
  trace_.set_record_hashes(config_.trace_record_hashes);
  world_node_ = std::make_unique<Node>();
  world_node_->id = kWorldNode;
  world_node_->name = "world";
  world_node_->state = NodeState::up;
  network_ = std::make_unique<Network>(*this);
}

World::~World() {
  unregister_world(this, owner_thread_);
  destroying_ = true;
  if (std::this_thread::get_id() != owner_thread_ && !retired_) {
    // Destroyed from another thread while the owner still has fibers (a C++
    // caller that did not use destroy_on_owner_thread): they belong to the
    // owner thread's scheduler and cannot be resumed from here. Leak them —
    // they are suspended and nothing wakes them again — rather than touch a
    // foreign scheduler.
    for (auto& n : nodes_) {
      n->fibers.clear();
      n->dying.clear();
    }
    world_node_->fibers.clear();
    ready_count_ = 0;
    for (auto& f : fibers_)
      if (f) (void)f.release();  // their stacks still point at them
    current_ = nullptr;
    for (TimerSlot& t : timers_) t.fn = nullptr;
    graveyard_.clear();
    for (auto& n : nodes_) n->process.reset();
    network_.reset();
    return;
  }
  // Unwind every fiber before the structures they reference go away.
  for (auto& n : nodes_) kill_fibers(*n);
  kill_fibers(*world_node_);
  if (!in_fiber()) {
    while (ready_count_ > 0) boost::this_fiber::yield();
  }
  current_ = nullptr;
  // Destroy everything that may own process state while the network and disks
  // still exist: timer closures, dying and live process states.
  for (TimerSlot& t : timers_) t.fn = nullptr;
  graveyard_.clear();
  for (auto& n : nodes_) {
    n->dying.clear();
    n->process.reset();
  }
  network_.reset();
}

// ---- run loop ----------------------------------------------------------------

void World::guard_thread(const char* what) const {
  if (retired_)
    throw SimError(std::string(what) + ": the thread that created the simulation has exited (its simulated "
                   "processes ended with it)");
  if (std::this_thread::get_id() != owner_thread_)
    throw SimError(std::string(what) + " called from a thread other than the one that created the simulation: "
                   "its simulated processes are fibers of that thread's scheduler (use one Simulation per thread)");
}

void World::set_interrupt_check(std::function<void()> check, uint64_t every_events) {
  interrupt_check_ = std::move(check);
  interrupt_every_ = every_events == 0 ? 1 : every_events;
  next_interrupt_check_ = events_processed_ + interrupt_every_;
}

void World::poll_interrupt() {
  if (!interrupt_due()) return;
  next_interrupt_check_ = events_processed_ + interrupt_every_;
  interrupt_check_();  // may throw: the run call stops here, between two events
}

void World::guard_main(const char* what) const {
  guard_thread(what);
  if (current_ != nullptr || inline_runner_ != nullptr || dispatching_)
    throw SimError(std::string(what) + " called from inside a simulated process; "
                   "only the driver (test / script) may run the world");
}

void World::settle() {
  guard_main("settle");
  if (ready_count_ > 0) {
    // The main context runs last (see scheduler.h): when it resumes, every
    // fiber of the world has suspended again.
    boost::this_fiber::yield();
    current_ = nullptr;
    SIM_ASSERT(ready_count_ == 0, "fibers still ready after the driver resumed");
  }
  if (!graveyard_.empty()) collect_garbage();
}

void World::collect_garbage() {
  // Destroying a process state may drop the last reference to objects whose
  // destructors spawn nothing and block nothing; still, do it on the main context.
  std::vector<std::shared_ptr<void>> dead;
  dead.swap(graveyard_);
  dead.clear();
}

void World::check_failure() {
  if (failure_) throw SimError(*failure_);
}

bool World::step() {
  guard_main("step");
  check_failure();
  settle();
  check_failure();
  if (queue_.empty()) return false;
  step_inner();
  check_failure();
  return true;
}

void World::step_inner() {
  const Event e = queue_.pop();
  SIM_ASSERT(e.time >= now_, "virtual time went backwards");
  now_ = e.time;
  ++events_processed_;
  dispatch(e);
  settle();
  if (after_step_) after_step_();
}

void World::run_until(Instant deadline) {
  run_events_until(deadline);
  now_ = deadline;
}

void World::run_to_completion() {
  run_events_until(Instant::max());
}

void World::run_events_until(Instant deadline) {
  guard_main("run_until");
  if (current_ == nullptr && !dispatching_) run_deferred_destructions();
  SIM_ASSERT(deadline >= now_, "run_until a time in the past");
  check_failure();
  settle();
  check_failure();
  inline_until_ = deadline;
  inline_budget_ = config_.max_events_per_call;
  struct Reset {
    World* w;
    ~Reset() { w->inline_until_ = Instant{-1}; }
  } reset{this};
  while (!queue_.empty() && queue_.top_time() <= deadline) {
    if (inline_budget_ == 0)
      throw SimError("event limit reached (" + std::to_string(config_.max_events_per_call) +
                     " events in one run call): livelock?");
    --inline_budget_;
    step_inner();
    check_failure();
    poll_interrupt();
  }
}

bool World::inline_step(FiberRecord* f) {
  // Apply the next event on this fiber's stack, as the driver would: no process
  // is "current" while an event is applied (a timer callback must not block).
  // A due interrupt check also hands the next event back to the driver, which
  // applies it in the same order and then runs the check on the main context.
  if (inline_until_.ns < 0 || failure_ || inline_budget_ == 0 || ready_count_ > 0 ||
      queue_.empty() || queue_.top_time() > inline_until_ || interrupt_due())
    return false;
  --inline_budget_;
  const Event e = queue_.pop();
  SIM_ASSERT(e.time >= now_, "virtual time went backwards");
  now_ = e.time;
  ++events_processed_;
  current_ = nullptr;
  inline_runner_ = f;
  struct Restore {
    World* w;
    FiberRecord* f;
    ~Restore() {
      w->inline_runner_ = nullptr;
      w->current_ = f;
    }
  } restore{this, f};
  try {
    dispatch(e);
  } catch (const std::exception& ex) {
    // Not this fiber's failure: the driver reports it, as step() would.
    fail(ex.what());
    return false;
  }
  return true;
}

bool World::run_until(const std::function<bool()>& pred, Duration timeout) {
  guard_main("run_until");
  run_deferred_destructions();
  const Instant deadline = now_ + timeout;
  uint64_t budget = config_.max_events_per_call;
  settle();
  check_failure();
  if (pred()) return true;
  while (!queue_.empty() && queue_.top_time() <= deadline) {
    if (budget-- == 0) throw SimError("event limit reached in run_until(predicate)");
    step();
    poll_interrupt();
    if (pred()) return true;
  }
  now_ = deadline;
  return pred();
}

EventHandle World::schedule_event(Instant time, uint64_t aux, uint32_t slot, uint32_t node, uint32_t incarnation,
                                  EventKind kind) {
  SIM_ASSERT(time >= now_, "event scheduled in the past");
  return queue_.emplace(time, next_seq_++, aux, slot, node, incarnation, kind);
}

void World::dispatch(const Event& e) {
  // While an event is applied, nothing may re-enter the run loop.
  struct Flag {
    bool& f;
    explicit Flag(bool& b) : f(b) { f = true; }
    ~Flag() { f = false; }
  } flag(dispatching_);
  Node* n = nullptr;
  if (e.node != kNoNodeIndex) {
    n = nodes_[e.node].get();
    // Events of a past incarnation belong to a process that no longer exists.
    if (e.incarnation != n->incarnation) {
      discard_event(e);
      return;
    }
    if (n->paused && e.kind != EventKind::node_resume) {
      n->frozen.push_back(e);
      return;
    }
  }
  switch (e.kind) {
    case EventKind::wake_fiber: {
      FiberRecord* f = fibers_[e.slot].get();
      if (!f || f->generation != static_cast<uint32_t>(e.aux >> 32)) return;
      if (!f->waiting || f->token != static_cast<uint32_t>(e.aux)) return;
      f->deadline = {};
      wake_fiber(f, WakeReason::timeout);
      return;
    }
    case EventKind::resume_fiber: {
      FiberRecord* f = fibers_[e.slot].get();
      if (!f || f->generation != static_cast<uint32_t>(e.aux) || !f->frozen) return;
      f->frozen = false;
      make_ready(f);
      return;
    }
    case EventKind::timer: {
      TimerSlot& t = timers_[e.slot];
      if (!t.armed || t.generation != static_cast<uint32_t>(e.aux)) return;
      t.armed = false;
      std::function<void()> fn = std::move(t.fn);
      t.fn = nullptr;
      ++t.generation;
      free_timers_.push_back(e.slot);
      trace_.record(ev::timer_fire, now_, e.node, e.slot);
      fn();
      return;
    }
    case EventKind::deliver:
      network_->deliver(e.slot, e.aux);
      return;
    case EventKind::call_timeout:
      network_->call_timed_out(e.slot, e.aux);
      return;
    case EventKind::node_resume:
      if (n && n->paused && n->pause_epoch == e.aux) resume(n->id);
      return;
  }
}

void World::discard_event(const Event& e) {
  // Release what a stale event holds; nothing of its effect happens.
  switch (e.kind) {
    case EventKind::timer:
      cancel(TimerId{e.slot, static_cast<uint32_t>(e.aux)});
      return;
    case EventKind::deliver:
      network_->discard(e.slot, e.aux);
      return;
    default:
      return;
  }
}

// ---- nodes ---------------------------------------------------------------------

World::Node& World::node_at(NodeId id) {
  if (id == kWorldNode) return *world_node_;
  if (id.value >= nodes_.size()) throw SimError("unknown node " + std::to_string(id.value));
  return *nodes_[id.value];
}

const World::Node& World::node_at(NodeId id) const {
  if (id == kWorldNode) return *world_node_;
  if (id.value >= nodes_.size()) throw SimError("unknown node " + std::to_string(id.value));
  return *nodes_[id.value];
}

NodeId World::add_node(std::string name, BootFn boot) {
  guard_thread("add_node");
  if (nodes_.size() >= config_.max_nodes) throw SimError("node limit reached");
  auto n = std::make_unique<Node>();
  n->id = NodeId{static_cast<uint32_t>(nodes_.size())};
  n->name = std::move(name);
  n->boot = std::move(boot);
  n->disk = std::make_unique<Disk>(*this, n->id);
  nodes_.push_back(std::move(n));
  network_->on_node_added();
  return nodes_.back()->id;
}

std::shared_ptr<void> World::process_state(NodeId id) const { return node_at(id).process; }

const std::string& World::node_name(NodeId id) const { return node_at(id).name; }
NodeState World::node_state(NodeId id) const { return node_at(id).state; }
bool World::is_paused(NodeId id) const { return node_at(id).paused; }
uint32_t World::incarnation(NodeId id) const { return node_at(id).incarnation; }
Disk& World::disk(NodeId id) {
  Node& n = node_at(id);
  if (!n.disk) throw SimError("node " + n.name + " has no disk");
  return *n.disk;
}

void World::boot(Node& n) {
  n.state = NodeState::up;
  n.paused = false;
  ++n.incarnation;
  trace_.record(ev::node_start, now_, n.id.value, n.incarnation);
  if (n.boot) n.process = n.boot(n.id);
}

void World::start(NodeId id) {
  guard_thread("start");
  Node& n = node_at(id);
  if (id == kWorldNode) throw SimError("the world pseudo-node cannot be started");
  if (n.state == NodeState::up) throw SimError("node " + n.name + " is already up");
  boot(n);
}

void World::restart(NodeId id) {
  guard_thread("restart");
  Node& n = node_at(id);
  if (id == kWorldNode) throw SimError("the world pseudo-node cannot be restarted");
  if (n.state == NodeState::up) crash(id);
  // The old incarnation's fibers may still be unwinding; they hold only their
  // own (dying) process state, never the new one.
  boot(n);
}

void World::kill_fibers(Node& n) {
  for (FiberRecord* f : n.fibers) {
    f->killed = true;
    if (f->waiting || f->frozen) {
      f->waiting = false;
      f->frozen = false;
      make_ready(f);
    }
  }
}

void World::crash(NodeId id) {
  guard_thread("crash");
  Node& n = node_at(id);
  if (id == kWorldNode) throw SimError("the world pseudo-node cannot crash");
  if (n.state == NodeState::down) throw SimError("node " + n.name + " is already down");
  trace_.record(ev::node_crash, now_, id.value, n.incarnation);
  n.state = NodeState::down;
  n.paused = false;
  for (const Event& e : n.frozen) discard_event(e);
  n.frozen.clear();
  // Bumping the incarnation makes every queued event of the old process stale.
  ++n.incarnation;
  kill_fibers(n);
  network_->on_node_crash(id);
  const uint32_t dead_incarnation = n.incarnation - 1;
  uint32_t left = 0;
  for (const FiberRecord* f : n.fibers) left += f->incarnation == dead_incarnation ? 1 : 0;
  if (left == 0) {
    if (n.process) graveyard_.push_back(std::move(n.process));
  } else {
    n.dying.push_back({dead_incarnation, left, std::move(n.process)});
  }
  n.process.reset();
}

void World::power_fail(NodeId id, bool torn) {
  guard_thread("power_fail");
  Node& n = node_at(id);
  trace_.record(ev::node_power_fail, now_, id.value, n.incarnation, torn ? 1 : 0);
  if (n.state == NodeState::up) crash(id);
  n.disk->lose_unsynced(torn);
}

void World::pause(NodeId id, Duration d) {
  guard_thread("pause");
  if (id == kWorldNode) throw SimError("the world pseudo-node cannot be paused");
  Node& n = node_at(id);
  if (n.state != NodeState::up) throw SimError("cannot pause node " + n.name + ": it is down");
  SIM_ASSERT(d.ns > 0, "pause duration must be positive");
  trace_.record(ev::node_pause, now_, id.value, static_cast<uint64_t>(d.ns));
  n.paused = true;
  ++n.pause_epoch;
  schedule_event(now_ + d, n.pause_epoch, 0, id.value, n.incarnation, EventKind::node_resume);
}

void World::resume(NodeId id) {
  guard_thread("resume");
  Node& n = node_at(id);
  if (!n.paused) return;
  trace_.record(ev::node_resume, now_, id.value);
  n.paused = false;
  ++n.pause_epoch;
  // Replay what happened to the node while it was frozen, in the original order:
  // expired timers fire, queued messages arrive, woken fibers run — all "now".
  std::vector<Event> frozen;
  frozen.swap(n.frozen);
  for (Event e : frozen) {
    // Keep the original sequence number: replayed events fire before anything
    // scheduled later (per-connection FIFO and timer order survive the pause).
    e.time = now_;
    const EventHandle h = queue_.push(e);
    retarget(e, h);
  }
}

void World::retarget(const Event& e, EventHandle h) {
  // Whoever may withdraw this event later must hold its new handle.
  switch (e.kind) {
    case EventKind::timer:
      if (e.slot < timers_.size() && timers_[e.slot].armed && timers_[e.slot].generation == static_cast<uint32_t>(e.aux))
        timers_[e.slot].event = h;
      return;
    case EventKind::wake_fiber:
      if (e.slot < fibers_.size() && fibers_[e.slot] && fibers_[e.slot]->generation == static_cast<uint32_t>(e.aux >> 32))
        fibers_[e.slot]->deadline = h;
      return;
    case EventKind::call_timeout:
      network_->retarget_timeout(e.slot, e.aux, h);
      return;
    default:
      return;
  }
}

// ---- fibers ------------------------------------------------------------------------

void World::spawn(NodeId node, std::string_view name, std::function<void()> fn) {
  // A fiber lands on the calling thread's scheduler: from a foreign thread it
  // would run there later, against a world that may be gone.
  guard_thread("spawn");
  Node& n = node_at(node);
  if (n.state != NodeState::up)
    throw SimError("cannot start a process on node " + n.name + ": it is down");
  if (destroying_) return;
  if (live_fibers_ >= config_.max_fibers) throw SimError("fiber limit reached");
  uint32_t slot;
  if (!free_fibers_.empty()) {
    slot = free_fibers_.back();
    free_fibers_.pop_back();
  } else {
    slot = static_cast<uint32_t>(fibers_.size());
    fibers_.push_back(nullptr);
  }
  auto rec = std::make_unique<FiberRecord>();
  rec->slot = slot;
  rec->generation = next_fiber_generation_++;  // unique per fiber; never reused
  rec->incarnation = n.incarnation;
  rec->node = &n;
  rec->name = std::string(name);
  FiberRecord* f = rec.get();
  fibers_[slot] = std::move(rec);
  ++live_fibers_;
  ++n.live_fibers;
  n.fibers.push_back(f);
  trace_.record(ev::fiber_spawn, now_, n.id.value, slot, trace_.intern(name));
  boost::fibers::fiber fib(std::allocator_arg,
                           boost::fibers::fixedsize_stack(config_.fiber_stack_bytes),
                           [this, f, fn = std::move(fn)]() mutable { fiber_main(f, fn); });
  fib.detach();
  ++ready_count_;  // launch::post: it is in the ready queue
}

void World::fiber_main(FiberRecord* f, std::function<void()>& fn) {
  --ready_count_;
  current_ = f;
  f->ctx = boost::fibers::context::active();
  if (!f->killed && f->node->paused) {
    // Spawned onto a paused node: it starts when the node resumes.
    wake_fiber(f, WakeReason::notified);
    while (f->frozen && !f->killed) {
      current_ = nullptr;
      fiber_sched_->suspend();
      --ready_count_;
      current_ = f;
    }
  }
  try {
    if (!f->killed) fn();
  } catch (const NodeCrashed&) {
    // normal end of a crashed node's fiber
  } catch (const std::exception& e) {
    fail("process '" + f->name + "' on " + f->node->name + " failed: " + e.what());
  } catch (...) {
    fail("process '" + f->name + "' on " + f->node->name + " failed with a non-standard exception");
  }
  fn = nullptr;  // destroy captures while the node's state still exists
  fiber_exit(f);
}

void World::fiber_exit(FiberRecord* f) {
  Node& n = *f->node;
  trace_.record(ev::fiber_exit, now_, n.id.value, f->slot);
  std::erase(n.fibers, f);
  --n.live_fibers;
  --live_fibers_;
  if (f->incarnation != n.incarnation) {
    for (auto it = n.dying.begin(); it != n.dying.end(); ++it) {
      if (it->incarnation != f->incarnation) continue;
      if (--it->fibers_left == 0) {
        if (it->process) graveyard_.push_back(std::move(it->process));
        n.dying.erase(it);
      }
      break;
    }
  }
  const uint32_t slot = f->slot;
  current_ = nullptr;
  fibers_[slot].reset();
  free_fibers_.push_back(slot);
  sched_.request_dispatch();  // Boost's dispatcher frees this fiber's stack once it has switched away
}

void World::fail(std::string message) {
  if (!failure_) failure_ = std::move(message);
}

bool World::current_is_killed() const { return current_ != nullptr && current_->killed; }

NodeId World::current_node() const {
  if (!current_) throw SimError("not inside a simulated process");
  return current_->node->id;
}

uint32_t World::node_index_of_current() const {
  return current_ ? current_->node->id.value : kNoNodeIndex;
}

void World::make_ready(FiberRecord* f) {
  // A fiber that has not run yet is already in the ready queue (launch::post).
  if (f->ctx == nullptr) return;
  // The fiber applying events inline is running, not suspended: its changed
  // state (no longer waiting / killed) is seen when the event returns.
  if (f == inline_runner_ || f == current_) return;
  ++ready_count_;
  fiber_sched_->schedule(f->ctx);
}

void World::wake_fiber(FiberRecord* f, WakeReason reason) {
  f->waiting = false;
  f->reason = reason;
  Node& n = *f->node;
  if (n.paused && !f->killed) {
    // Frozen: the wake happens when the node resumes.
    f->frozen = true;
    n.frozen.push_back({now_, 0, f->generation, f->slot, n.id.value, n.incarnation,
                        EventKind::resume_fiber});
    return;
  }
  make_ready(f);
}

WaitRef World::prepare_wait() {
  if (!current_) throw SimError("blocking call outside a simulated process (use World::spawn)");
  FiberRecord* f = current_;
  if (f->killed) throw NodeCrashed{};
  f->waiting = true;
  ++f->token;
  return {f->slot, f->generation, f->token};
}

WakeReason World::block(WaitRef ref, std::optional<Instant> deadline) {
  FiberRecord* f = current_;
  SIM_ASSERT(f && f->slot == ref.slot && f->token == ref.token, "block() without prepare_wait()");
  if (deadline && *deadline < now_) deadline = now_;  // a deadline that passed during a pause
  if (f->waiting && deadline) {
    const Node& n = *f->node;
    f->deadline = schedule_event(*deadline, (static_cast<uint64_t>(f->generation) << 32) | f->token, f->slot,
                                 n.id == kWorldNode ? kNoNodeIndex : n.id.value, n.incarnation, EventKind::wake_fiber);
  }
  // If woken between prepare_wait and here (a notify from the same fiber), do
  // not suspend: the fiber is not in any ready queue.
  for (;;) {
    if (f->killed) break;
    if (!f->waiting && !f->frozen) {
      // Woken — but if its node got paused meanwhile, freeze here instead.
      if (!f->node->paused) break;
      wake_fiber(f, f->reason);
      continue;
    }
    // Nothing else can run: apply the next event here instead of switching to
    // the driver and back. If it wakes this fiber, no switch happens at all;
    // if it wakes another, the switch goes straight to it.
    if (inline_step(f)) continue;
    current_ = nullptr;  // whoever runs next sets its own
    fiber_sched_->suspend();
    --ready_count_;
    current_ = f;
  }
  if (f->killed) throw NodeCrashed{};
  SIM_ASSERT(f->node->state == NodeState::up, "a fiber of a down node resumed");
  return f->reason;
}

bool World::is_waiting(WaitRef ref) const {
  if (ref.slot >= fibers_.size()) return false;
  const FiberRecord* f = fibers_[ref.slot].get();
  return f && f->generation == ref.generation && f->token == ref.token && f->waiting;
}

bool World::wake(WaitRef ref) {
  if (ref.slot >= fibers_.size()) return false;
  FiberRecord* f = fibers_[ref.slot].get();
  if (!f || f->generation != ref.generation || f->token != ref.token || !f->waiting) return false;
  if (f->deadline.valid()) {
    queue_.remove(f->deadline);
    f->deadline = {};
  }
  wake_fiber(f, WakeReason::notified);
  return true;
}

void World::sleep_until(Instant t) {
  WaitRef r = prepare_wait();
  block(r, t < now_ ? now_ : t);
}

void World::sleep_for(Duration d) { sleep_until(now_ + d); }

// ---- timers --------------------------------------------------------------------------

TimerId World::schedule_after(NodeId node, Duration d, std::function<void()> fn) {
  const Node& n = node_at(node);
  if (node != kWorldNode && n.state != NodeState::up)
    throw SimError("cannot set a timer on node " + n.name + ": it is down");
  SIM_ASSERT(d.ns >= 0, "negative timer delay");
  uint32_t slot;
  if (!free_timers_.empty()) {
    slot = free_timers_.back();
    free_timers_.pop_back();
  } else {
    slot = static_cast<uint32_t>(timers_.size());
    timers_.emplace_back();
  }
  TimerSlot& t = timers_[slot];
  t.fn = std::move(fn);
  t.armed = true;
  t.event = schedule_event(now_ + d, t.generation, slot, node == kWorldNode ? kNoNodeIndex : node.value,
                           n.incarnation, EventKind::timer);
  return {slot, t.generation};
}

bool World::cancel(TimerId id) {
  if (id.slot >= timers_.size()) return false;
  TimerSlot& t = timers_[id.slot];
  if (!t.armed || t.generation != id.generation) return false;
  queue_.remove(t.event);
  t.armed = false;
  t.fn = nullptr;
  ++t.generation;
  free_timers_.push_back(id.slot);
  return true;
}

// ---- observability ---------------------------------------------------------------------

void World::probe(std::string_view name) {
  auto it = probes_.find(name);
  if (it == probes_.end()) it = probes_.emplace(std::string(name), 0).first;
  ++it->second;
  trace_.record(ev::probe, now_, node_index_of_current(), trace_.intern(name));
}

void World::record_param(std::string_view name, std::string value) {
  params_.emplace_back(std::string(name), std::move(value));
}

void World::note_fault(NodeId node, std::string_view what) {
  trace_.record(ev::fault, now_, node == kWorldNode ? kNoNodeIndex : node.value, trace_.intern(what));
}

std::string World::describe(const TraceEvent& e) const {
  std::ostringstream os;
  char when[32];
  std::snprintf(when, sizeof when, "%12.6f ms", e.time.ms());
  os << when << "  ";
  os << (e.node == kNoNodeIndex ? std::string("world") : nodes_.at(e.node)->name) << "  ";
  const TraceKindInfo& k = trace_.kind_info(e.kind);
  os << k.name;
  const uint64_t args[3] = {e.a, e.b, e.c};
  for (int i = 0; i < 3; ++i) {
    if (k.arg_names[i].empty()) continue;
    os << " " << k.arg_names[i] << "=";
    if (k.string_args & (1u << i))
      os << trace_.text(args[i]);
    else
      os << args[i];
  }
  return os.str();
}

}  // namespace sim
