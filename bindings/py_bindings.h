// The pieces of the pybind11 module `ksim._ksim`, one file per area:
//   python_module.cc  the module, its exceptions, Simulation (cluster, faults)
//   py_check.cc       check(): Verdict, Anomaly, Stats; the nemesis
//   py_clients.cc     producer and consumer clients
//   py_workload.cc    sim.workload: C++ producer / consumer loops for volume
#pragma once

#include <pybind11/pybind11.h>

#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>

#include "engine/server/cluster.h"

// A TopicName crosses into Python as the str it names, and back.
namespace pybind11::detail {
template <>
struct type_caster<ksim::TopicName> {
  PYBIND11_TYPE_CASTER(ksim::TopicName, const_name("str"));
  bool load(handle src, bool convert) {
    make_caster<std::string> text;
    if (!text.load(src, convert)) return false;
    value = ksim::TopicName(cast_op<std::string&>(text));
    return true;
  }
  static handle cast(const ksim::TopicName& t, return_value_policy, handle) {
    return PyUnicode_DecodeUTF8(t.data(), static_cast<Py_ssize_t>(t.size()), nullptr);
  }
};
}  // namespace pybind11::detail

namespace ksim::py_bindings {

namespace py = pybind11;
// True once the interpreter has begun to exit (an atexit hook the module
// registers sets it; Python runs atexit hooks before it clears modules).
bool interpreter_exiting();

// A Simulation is deleted on the thread that created it: Python's garbage
// collector may drop the last reference on any thread, but only the owner
// thread can unwind the simulation's fibers (sim::World::destroy_on_owner_thread
// queues the deletion there otherwise).
//
// At interpreter exit a Simulation is NOT freed: its fibers are unwound (the
// fiber scheduler's own shutdown needs them ended) and its memory is left to
// the operating system, as clang leaves its ASTs (-disable-free). Freeing a
// minute's run object by object costs ~6 ms, paid by every whole-process
// seed of a sweep for nothing. A Simulation owns no host resource that
// needs closing (its spill file is unlinked; exports are written when asked).
// Under AddressSanitizer (`make test-asan`) it is freed as ever: the leak
// checker must keep seeing the teardown free everything.
#if defined(__SANITIZE_ADDRESS__)
inline constexpr bool kLeaveSimulationsAtExit = false;
#else
inline constexpr bool kLeaveSimulationsAtExit = true;
#endif
struct ClusterDeleter {
  void operator()(Cluster* c) const {
    if (kLeaveSimulationsAtExit && interpreter_exiting()) {
      sim::World& w = c->world();
      if (w.owner_thread() == std::this_thread::get_id()) w.retire_fibers();  // determinism-ok: owner check only
      return;  // deliberately not deleted: the process is ending
    }
    sim::World::destroy_on_owner_thread(c->world(), [c] { delete c; });
  }
};
using ClusterHolder = std::unique_ptr<Cluster, ClusterDeleter>;
using SimulationClass = py::class_<Cluster, ClusterHolder>;

// A bad argument VALUE given to the Python API (a negative timeout, an empty
// topic list, ...): raised as ksim.ArgumentError, which is both a KsimError
// and a ValueError, so code written against confluent-kafka (which raises
// ValueError) and code catching every ksim error both catch it.
struct ArgumentError : std::invalid_argument {
  using std::invalid_argument::invalid_argument;
};
// A bad argument TYPE that ksim checks itself (a str where a list of topics is
// expected, a non-callable callback): ksim.ArgumentTypeError, a KsimError and
// a TypeError. Arguments pybind11 cannot convert at all stay a plain TypeError
// naming the accepted signatures.
struct ArgumentTypeError : std::invalid_argument {
  using std::invalid_argument::invalid_argument;
};

void bind_check_types(py::module_& m);
void add_check_methods(SimulationClass& sim);
void bind_client_types(py::module_& m);
// Kafka's error names -> codes (py_clients.cc).
const std::map<std::string, int>& error_codes();
void add_client_methods(SimulationClass& sim);
void add_workload_methods(SimulationClass& sim);  // py_workload.cc

}  // namespace ksim::py_bindings
