// Python surface of the checkers: sim.check() -> Verdict, and the nemesis.
#include <pybind11/functional.h>
#include <pybind11/stl.h>

#include "bindings/py_bindings.h"
#include "engine/export/run_store.h"
#include "engine/server/nemesis.h"

namespace ksim::py_bindings {

void bind_check_types(py::module_& m) {
  using check::Anomaly;
  using check::Stats;
  using check::Verdict;
  py::class_<Anomaly>(m, "Anomaly", "One finding of the checkers (kind, expected, cause, explanation, ...).")
      .def_readonly("kind", &Anomaly::kind, "lost-write, duplicate, nonmonotonic-send, poll-skip, ... (design.md)")
      .def_readonly("expected", &Anomaly::expected,
                    "True when Kafka's contract permits it under the run's config and faults (e.g. acks=1)")
      .def_readonly("cause", &Anomaly::cause, "Why it is expected ('' for a violation)")
      .def_property_readonly("topic", [](const Anomaly& a) { return a.tp.topic; })
      .def_property_readonly("partition", [](const Anomaly& a) { return a.tp.partition; })
      .def_readonly("offsets", &Anomaly::offsets)
      .def_readonly("records", &Anomaly::records)
      .def_readonly("ops", &Anomaly::ops, "History operation ids involved")
      .def_property_readonly("at_ms", [](const Anomaly& a) { return static_cast<double>(a.at_ns) / 1e6; })
      .def_readonly("explanation", &Anomaly::explanation)
      .def("__repr__", [](const Anomaly& a) {
        return "<Anomaly " + a.kind + (a.expected ? " (expected: " + a.cause + ")" : " (VIOLATION)") + " " +
               a.tp.str() + ">";
      });
  py::class_<Stats>(m, "Stats", "Run statistics: operations, outcomes, latencies in virtual ms.")
      .def_readonly("ops", &Stats::ops)
      .def_readonly("sends", &Stats::sends)
      .def_readonly("acked", &Stats::acked)
      .def_readonly("failed", &Stats::failed)
      .def_readonly("unknown", &Stats::unknown)
      .def_readonly("polls", &Stats::polls)
      .def_readonly("records_polled", &Stats::records_polled)
      .def_readonly("commits", &Stats::commits)
      .def_readonly("lost", &Stats::lost)
      .def_readonly("duplicated", &Stats::duplicated)
      .def_readonly("send_latency_ms_p50", &Stats::send_latency_ms_p50)
      .def_readonly("send_latency_ms_p99", &Stats::send_latency_ms_p99)
      .def_readonly("send_latency_ms_max", &Stats::send_latency_ms_max)
      .def_readonly("e2e_latency_ms_p50", &Stats::e2e_latency_ms_p50)
      .def_readonly("e2e_latency_ms_p99", &Stats::e2e_latency_ms_p99)
      .def_readonly("e2e_latency_ms_max", &Stats::e2e_latency_ms_max);
  py::class_<Verdict>(m, "Verdict", R"(The checkers' judgement of a run.

ok: no violated promise (expected anomalies, e.g. an acks=1 loss in a leader
crash, do not count); anomalies: every finding; violations / expected: the two
halves; counts(): kind -> (violations, expected); stats; str(verdict) is the
human summary with the first example of each kind explained.)")
      .def_property_readonly("ok", &Verdict::ok)
      .def_property_readonly("anomalies", &Verdict::anomalies)
      .def_property_readonly("violations", &Verdict::violations)
      .def_property_readonly("expected", &Verdict::expected)
      .def("counts", &Verdict::counts)
      .def_property_readonly("stats", &Verdict::stats)
      .def("kinds", [](const Verdict& v) {
        std::vector<std::string> out;
        for (const auto& [k, n] : v.counts()) out.push_back(k);
        return out;
      }, "The anomaly kinds found (sorted).")
      .def("__str__", &Verdict::text)
      .def("__repr__", [](const Verdict& v) {
        return std::string("<Verdict ") + (v.ok() ? "ok" : "VIOLATED") + ", " + std::to_string(v.anomalies().size()) +
               " anomalies>";
      })
      .def("__bool__", &Verdict::ok);
}

void add_check_methods(SimulationClass& sim) {
  sim.def(
         "check",
         [](Cluster& c, bool heal, int64_t converge_timeout_ms, bool full_read, bool unseen_is_violation) {
           CheckOptions o;
           o.heal = heal;
           o.converge_timeout_ms = converge_timeout_ms;
           o.full_read = full_read;
           o.unseen_is_violation = unseen_is_violation;
           return c.check(o);
         },
         py::arg("heal") = true, py::arg("converge_timeout_ms") = 60'000, py::arg("full_read") = false,
         py::arg("unseen_is_violation") = false,
         R"(Judge the run: safety, then liveness. With heal=True every fault stops
(network heals, crashed nodes restart, disks recover, the nemesis stops) and the
cluster must converge within converge_timeout_ms; then every checker runs over
the recorded history and the final logs. Returns a Verdict.)")
      .def("converged", &Cluster::converged, "Every partition led with a full ISR, every replica at the HW.")
      .def("heal_all", &Cluster::heal_all, "Stop every fault: heal the network, restart crashed nodes, recover disks.")
      .def(
          "start_nemesis",
          [](Cluster& c, std::vector<std::string> kinds, int64_t interval_ms, int64_t max_active) {
            if (interval_ms <= 0) throw ArgumentError("start_nemesis(): interval_ms must be positive");
            if (max_active < 1) throw ArgumentError("start_nemesis(): max_active must be at least 1");
            Nemesis& n = c.set_nemesis(std::make_unique<Nemesis>(c, std::move(kinds), static_cast<size_t>(max_active)));
            n.start(interval_ms);
          },
          py::arg("kinds"), py::arg("interval_ms") = 2'000, py::arg("max_active") = 1,
          "Random faults from the seed every interval_ms (see ksim.nemesis.Random).")
      .def("stop_nemesis", [](Cluster& c) {
        if (c.nemesis()) c.nemesis()->stop();
      })
      .def(
          "export",
          [](Cluster& c, const std::string& path, std::optional<std::string> scenario, std::optional<uint64_t> seed) {
            exporter::ExportOptions o;
            o.verdict = c.last_verdict();
            if (scenario) o.scenario = exporter::ScenarioInfo{*scenario, seed.value_or(c.world().seed())};
            try {
              exporter::export_run(c, path, o);
            } catch (const sim::SimError&) {
              throw;
            } catch (const std::exception& e) {  // SQLite / file-system errors: name the path
              throw sim::SimError("export('" + path + "'): " + e.what());
            }
          },
          py::arg("path"), py::arg("scenario") = py::none(), py::arg("seed") = py::none(),
          R"(Write the run to a SQLite trace store at `path` (replaced if present): ops,
polled records, events, anomalies of the last check(), every replica's records,
the kernel trace, metrics, and a RunSummary protobuf. Read it with pandas,
`ksim describe`, `ksim dump-log` or `ksim report`.)")
      .def_property_readonly("last_verdict", [](Cluster& c) -> std::optional<check::Verdict> {
        if (const check::Verdict* v = c.last_verdict()) return *v;
        return std::nullopt;
      }, "The verdict of the last check(), or None.")
      .def_property_readonly("nemesis_log", [](Cluster& c) {
        return c.nemesis() ? c.nemesis()->log() : std::vector<std::string>{};
      }, "What the nemesis did, with virtual times.");
}

}  // namespace ksim::py_bindings
