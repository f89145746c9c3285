#include "sim/scheduler.h"

#include <boost/fiber/operations.hpp>
#include <utility>

namespace sim {
namespace {
// The scheduler instance Boost owns for this thread; Boost keeps one per thread
// by design, so this is per-thread bookkeeping, not simulation state.
thread_local DeterministicScheduler* installed = nullptr;
}  // namespace

DeterministicScheduler::DeterministicScheduler() { installed = this; }

DeterministicScheduler& DeterministicScheduler::install() {
  if (installed == nullptr) boost::fibers::use_scheduling_algorithm<DeterministicScheduler>();
  return *installed;
}

void DeterministicScheduler::awakened(boost::fibers::context* ctx) noexcept {
  if (ctx->is_context(boost::fibers::type::main_context)) {
    main_ready_ = ctx;
    return;
  }
  if (ctx->is_context(boost::fibers::type::dispatcher_context)) {
    dispatcher_ready_ = ctx;
    return;
  }
  ctx->ready_link(queue_);
  if (!ctx->is_context(boost::fibers::type::pinned_context)) ++ready_unpinned_;
}

boost::fibers::context* DeterministicScheduler::pick_next() noexcept {
  if (queue_.empty()) {
    boost::fibers::context* next = nullptr;
    if (dispatcher_ready_ && (dispatch_wanted_ || !main_ready_)) {
      std::swap(next, dispatcher_ready_);
      dispatch_wanted_ = false;
    } else {
      std::swap(next, main_ready_);
    }
    return next;
  }
  boost::fibers::context* ctx = &queue_.front();
  queue_.pop_front();
  if (!ctx->is_context(boost::fibers::type::pinned_context)) --ready_unpinned_;
  return ctx;
}

}  // namespace sim
