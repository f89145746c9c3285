// Python surface of the C++ workloads: sim.workload(...) for volume (a Python
// loop of produce() calls is fine for stories, not for 10k records/s).
#include <pybind11/stl.h>

#include <stdexcept>

#include "bindings/py_bindings.h"
#include "engine/server/workload_driver.h"
#include "sim/error.h"

namespace ksim::py_bindings {
namespace {

// Producer / Consumer objects (anything with an `id`) or plain client ids.
std::vector<int32_t> client_ids(const py::object& clients, int32_t& count) {
  std::vector<int32_t> ids;
  count = 0;
  if (clients.is_none()) return ids;
  if (py::isinstance<py::int_>(clients)) {
    count = clients.cast<int32_t>();
    if (count < 0) throw sim::SimError("workload: a client count must be >= 0");
    return ids;
  }
  for (const py::handle& c : clients) ids.push_back(py::hasattr(c, "id") ? c.attr("id").cast<int32_t>() : c.cast<int32_t>());
  return ids;
}

clients::CommitPolicy commit_policy(const std::string& s) {
  if (s == "auto") return clients::CommitPolicy::auto_commit;
  if (s == "sync") return clients::CommitPolicy::sync;
  if (s == "async") return clients::CommitPolicy::async;
  throw sim::SimError("workload: commit must be 'auto', 'sync' or 'async', not '" + s + "'");
}

}  // namespace

void add_workload_methods(SimulationClass& sim) {
  py::class_<Workload, std::shared_ptr<Workload>>(sim, "Workload", "A running C++ workload (sim.workload).")
      .def_property_readonly("producer_ids", &Workload::producer_ids)
      .def_property_readonly("consumer_ids", &Workload::consumer_ids)
      .def_property_readonly("sent", &Workload::sent)
      .def_property_readonly("acked", &Workload::acked)
      .def_property_readonly("failed", &Workload::failed)
      .def_property_readonly("consumed", &Workload::consumed)
      .def_property_readonly("transactions_committed",
                             [](const Workload& w) { return w.producer_sum(&clients::ProducerWorkloadState::commits); })
      .def_property_readonly("transactions_aborted",
                             [](const Workload& w) { return w.producer_sum(&clients::ProducerWorkloadState::aborts); })
      .def_property_readonly("producers_finished", &Workload::producers_finished)
      .def("stop", &Workload::stop, "Stop every producer and consumer loop (the clients stay up).")
      .def("__repr__", [](const Workload& w) {
        return "<Workload sent=" + std::to_string(w.sent()) + " acked=" + std::to_string(w.acked()) +
               " consumed=" + std::to_string(w.consumed()) + ">";
      });
  sim.def(
      "workload",
      [](Cluster& c, const std::string& topic, const py::object& producers, const py::object& consumers,
         double rate_per_s, std::optional<int64_t> duration_ms, std::map<std::string, std::string> producer_config,
         std::map<std::string, std::string> consumer_config, int64_t key_space, int32_t value_bytes,
         const std::string& commit, int64_t processing_us_per_record, const std::string& name,
         int32_t transaction_records, double abort_probability) {
        if (transaction_records < 1) throw ArgumentError("workload(): transaction_records must be >= 1");
        if (!(abort_probability >= 0 && abort_probability <= 1))
          throw ArgumentError("workload(): abort_probability must be in [0, 1]");
        // Negative values used to be taken silently (a negative duration as
        // "forever", a negative key space as null keys): name them instead.
        if (duration_ms && *duration_ms < 0)
          throw ArgumentError("workload(): duration_ms must be >= 0 (None: until stop())");
        if (key_space < 0) throw ArgumentError("workload(): key_space must be >= 0 (0: null keys)");
        if (value_bytes < 0) throw ArgumentError("workload(): value_bytes must be >= 0");
        if (processing_us_per_record < 0) throw ArgumentError("workload(): processing_us_per_record must be >= 0");
        WorkloadOptions o;
        o.name = name;
        o.topic = topic;
        o.producers = client_ids(producers, o.new_producers);
        o.consumers = client_ids(consumers, o.new_consumers);
        o.rate_per_s = rate_per_s;
        // The producers stop after the duration; consumers poll on until stop().
        o.producer.duration_ms = duration_ms.value_or(-1);
        o.producer_config = Config::Map(producer_config.begin(), producer_config.end());
        o.consumer_config = Config::Map(consumer_config.begin(), consumer_config.end());
        o.producer.key_space = key_space;
        o.producer.value_bytes = value_bytes;
        o.producer.transaction_records = transaction_records;
        o.producer.abort_probability = abort_probability;
        o.consumer.commit = commit_policy(commit);
        o.consumer.processing_us_per_record = processing_us_per_record;
        try {
          return add_workload(c, std::move(o));
        } catch (const std::invalid_argument& e) {
          throw sim::SimError(std::string("workload: ") + e.what());
        }
      },
      py::arg("topic"), py::arg("producers") = 1, py::arg("consumers") = 0, py::arg("rate_per_s") = 1000.0,
      py::arg("duration_ms") = py::none(), py::arg("producer_config") = std::map<std::string, std::string>{},
      py::arg("consumer_config") = std::map<std::string, std::string>{}, py::arg("key_space") = 0,
      py::arg("value_bytes") = 0, py::arg("commit") = "auto", py::arg("processing_us_per_record") = 0,
      py::arg("name") = "workload", py::arg("transaction_records") = 10, py::arg("abort_probability") = 0.0,
      R"(Drive a topic from C++ (fast): `producers` / `consumers` are counts of new
clients or lists of existing ones (sim.producer / sim.consumer objects or ids).
Producers send `rate_per_s` records per virtual second in total (for
`duration_ms`, or until stop()), values
"<client>-<seq>" (unique, traceable), keys from a key space of `key_space`
("k0".., 0: null keys); consumers poll in a loop (a group: consumer_config
group.id, default the workload name) and commit 'auto', 'sync' or 'async' per
batch. With a producer_config transactional.id (each producer gets "<id>-<i>"),
producers send in transactions of `transaction_records` records and abort one
with probability `abort_probability` (after flushing its records, so the log
holds the aborted data and its ABORT marker); consumers with isolation.level
read_committed must never see the aborted ones. Everything is recorded for
sim.check(). Returns a Workload.)");

  py::class_<Pipeline, std::shared_ptr<Pipeline>>(sim, "Pipeline",
                                                  "A running consume-transform-produce pipeline (sim.pipeline).")
      .def_property_readonly("ids", &Pipeline::ids, "The instances' client node ids (crash / restart them).")
      .def_property_readonly("records_in", [](const Pipeline& p) { return p.sum(&clients::PipelineState::records_in); })
      .def_property_readonly("commits", [](const Pipeline& p) { return p.sum(&clients::PipelineState::commits); })
      .def_property_readonly("aborts", [](const Pipeline& p) { return p.sum(&clients::PipelineState::aborts); })
      .def_property_readonly("fenced", [](const Pipeline& p) { return p.sum(&clients::PipelineState::fenced); },
                             "Instances that stopped as fenced zombies (a restart resumes them).")
      .def("stop", &Pipeline::stop, "Stop every instance's loop (the clients stay up).")
      .def("__repr__", [](const Pipeline& p) {
        return "<Pipeline instances=" + std::to_string(p.ids().size()) +
               " in=" + std::to_string(p.sum(&clients::PipelineState::records_in)) +
               " commits=" + std::to_string(p.sum(&clients::PipelineState::commits)) +
               " aborts=" + std::to_string(p.sum(&clients::PipelineState::aborts)) + ">";
      });
  sim.def(
      "pipeline",
      [](Cluster& c, const std::string& input_topic, const std::string& output_topic, int32_t instances,
         std::map<std::string, std::string> consumer_config, std::map<std::string, std::string> producer_config,
         bool transactional, double abort_probability, bool rewind_after_abort, const std::string& name) {
        PipelineOptions o;
        o.name = name;
        o.instances = instances;
        o.spec.input_topic = input_topic;
        o.spec.output_topic = output_topic;
        o.spec.transactional = transactional;
        o.spec.abort_probability = abort_probability;
        o.spec.rewind_after_abort = rewind_after_abort;
        o.consumer_config = Config::Map(consumer_config.begin(), consumer_config.end());
        o.producer_config = Config::Map(producer_config.begin(), producer_config.end());
        try {
          return add_pipeline(c, std::move(o));
        } catch (const std::invalid_argument& e) {
          throw sim::SimError(std::string("pipeline: ") + e.what());
        }
      },
      py::arg("input_topic"), py::arg("output_topic"), py::arg("instances") = 2,
      py::arg("consumer_config") = std::map<std::string, std::string>{},
      py::arg("producer_config") = std::map<std::string, std::string>{}, py::arg("transactional") = true,
      py::arg("abort_probability") = 0.0, py::arg("rewind_after_abort") = true, py::arg("name") = "pipeline",
      R"(Run Kafka's exactly-once application: `instances` processes (a group
`name`) read `input_topic` (read_committed), write "T:<value>" to
`output_topic` and commit their input offsets in the same transaction
(transactional.id "<name>-<i>", stable across restarts). sim.check() then
requires every input record below the group's committed offset to have exactly
one committed output (`exactly-once`). transactional=False: at-least-once
(send, flush, commitSync) — repeats after crashes are expected;
rewind_after_abort=False plants an application bug (aborted inputs are skipped,
a violation). abort_probability aborts transactions by choice.)");
}

}  // namespace ksim::py_bindings
