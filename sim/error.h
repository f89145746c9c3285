// Errors raised by the simulated world.
//
// SimError: misuse or a broken invariant. It is an ordinary exception that
// reaches the caller of World::run_* (and, through the bindings, Python) with a
// message naming the problem. ksim never aborts on bad input.
//
// NodeCrashed: thrown INSIDE a fiber of a node that crashed, at its next
// suspension point, to unwind its stack (destructors run, nothing else of the
// node runs again). It deliberately does not derive from std::exception so that
// `catch (const std::exception&)` in engine code does not swallow a crash.
// Engine code must never `catch (...)` without rethrowing.
#pragma once

#include <stdexcept>
#include <string>

namespace sim {

class SimError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct NodeCrashed {};

// Checked in every build type (not compiled out by NDEBUG): a simulator whose
// invariants are silently broken produces convincing nonsense.
[[noreturn]] void invariant_failed(const char* expr, const char* file, int line, const std::string& msg);

#define SIM_ASSERT(cond, msg)                                            \
  do {                                                                   \
    if (!(cond)) [[unlikely]]                                            \
      ::sim::invariant_failed(#cond, __FILE__, __LINE__, (msg));         \
  } while (0)

}  // namespace sim
