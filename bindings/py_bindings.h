// The pieces of the pybind11 module `ksim._ksim`, one file per area:
//   python_module.cc  the module, its exceptions, Simulation (cluster, faults)
//   py_check.cc       check(): Verdict, Anomaly, Stats; the nemesis
//   py_clients.cc     producer and consumer clients
//   py_workload.cc    sim.workload: C++ producer / consumer loops for volume
#pragma once

#include <pybind11/pybind11.h>

#include "engine/server/cluster.h"

namespace ksim::py_bindings {

namespace py = pybind11;
using SimulationClass = py::class_<Cluster>;

void bind_check_types(py::module_& m);
void add_check_methods(SimulationClass& sim);
void bind_client_types(py::module_& m);
void add_client_methods(SimulationClass& sim);
void add_workload_methods(SimulationClass& sim);  // py_workload.cc

}  // namespace ksim::py_bindings
