// The pybind11 module `ksim._ksim`: the C++ cluster as Python objects.
// The Python package `ksim` (bindings/python/ksim/__init__.py) re-exports it.
//
// Errors: every misuse surfaces as a Python exception derived from
// ksim.KsimError — ConfigError (bad or unknown config key: .key names it),
// ClusterError (a Kafka error answer: .error is Kafka's error name), or
// KsimError itself (misuse of the simulation: unknown broker, crashed node,
// a run that failed). Nothing aborts the interpreter.
#include <pybind11/functional.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <cstdio>

#include "bindings/py_bindings.h"
#include "engine/broker/error_injection.h"
#include "engine/common/node_ids.h"
#include "engine/server/cluster.h"
#include "sim/network.h"

namespace py = pybind11;

namespace ksim::py_bindings {
namespace {
bool g_interpreter_exiting = false;
}  // namespace
bool interpreter_exiting() { return g_interpreter_exiting; }
}  // namespace ksim::py_bindings

namespace {

// Whether calling `f` needs one positional argument (it has a positional
// parameter without a default, or *args). Builtins without a signature: no.
bool takes_required_argument(const py::function& f) {
  try {
    const py::object inspect = py::module_::import("inspect");
    const py::object params = inspect.attr("signature")(f).attr("parameters").attr("values")();
    const py::object empty = inspect.attr("Parameter").attr("empty");
    for (const py::handle p : params) {
      const std::string kind = py::str(p.attr("kind").attr("name"));
      if (kind == "VAR_POSITIONAL") return true;
      const py::object dflt = p.attr("default");
      if ((kind == "POSITIONAL_ONLY" || kind == "POSITIONAL_OR_KEYWORD") && dflt.is(empty)) return true;
    }
  } catch (const py::error_already_set&) {
  }
  return false;
}

}  // namespace
using namespace ksim;

namespace {

// Message rules on sim.network, by Kafka API name.
class NetworkControl {
 public:
  explicit NetworkControl(Cluster& c) : c_(c) {}

  int rule(const std::string& action, std::optional<int32_t> src, std::optional<int32_t> dst,
           std::optional<std::string> api, const std::string& direction, std::optional<uint32_t> count,
           int64_t extra_ms) {
    sim::RuleMatch m;
    if (src) m.src = node(*src);
    if (dst) m.dst = node(*dst);
    if (direction != "request" && direction != "response" && direction != "any")
      throw sim::SimError("direction must be 'request', 'response' or 'any', not '" + direction + "'");
    if (direction != "any") m.dir = direction == "request" ? sim::Direction::request : sim::Direction::response;
    if (api) {
      const std::string kind = direction == "response" ? *api + "Response" : *api;
      const auto k = c_.world().network().find_kind(kind);
      if (!k) throw sim::SimError("unknown API '" + *api + "' (for example Produce, Fetch, OffsetsForLeaderEpoch, "
                                  "AlterPartition, BrokerHeartbeat, Vote, MetadataFetch)");
      m.kind = *k;
    }
    sim::RuleAction a = sim::RuleAction::drop;
    if (action == "hold") a = sim::RuleAction::hold;
    else if (action == "delay") a = sim::RuleAction::delay;
    else if (action == "duplicate") a = sim::RuleAction::duplicate;
    if (count && *count == 0) throw sim::SimError("count must be positive (or None for every match)");
    return static_cast<int>(
        c_.world().network().add_rule(m, a, count.value_or(0), sim::milliseconds(extra_ms)).value);
  }
  void release(int h) { c_.world().network().release(sim::RuleId{static_cast<uint32_t>(h)}); }
  void discard(int h) { c_.world().network().discard(sim::RuleId{static_cast<uint32_t>(h)}); }
  size_t held(int h) { return c_.world().network().held_count(sim::RuleId{static_cast<uint32_t>(h)}); }
  bool reachable(int32_t src, int32_t dst) { return c_.world().network().reachable(node(src), node(dst)); }

  // The broker's answer replaced by `error` (engine/broker/error_injection.h).
  int inject_error(const std::string& api, const std::string& error, std::optional<uint32_t> count,
                   std::optional<int32_t> src, std::optional<int32_t> dst) {
    const auto known = py_bindings::error_codes().find(error);
    if (known == py_bindings::error_codes().end() || known->second == 0)
      throw sim::SimError("unknown Kafka error name '" + error + "'");
    const auto rewrite = error_response_rewrite(api, static_cast<Errc>(known->second));
    if (!rewrite) {
      std::string known;
      for (const std::string& a : error_injection_apis()) known += (known.empty() ? "" : ", ") + a;
      throw sim::SimError("cannot inject an error into " + api + " answers (known: " + known + ")");
    }
    if (count && *count == 0) throw sim::SimError("count must be positive (or None for every match)");
    sim::Network& net = c_.world().network();
    sim::RuleMatch m;
    // A response travels from the broker (dst of the request) to the client (src).
    if (src) m.dst = node(*src);
    if (dst) m.src = node(*dst);
    m.dir = sim::Direction::response;
    const auto kind = net.find_kind(api + "Response");
    if (!kind) throw sim::SimError("no " + api + " answer has been registered by this cluster");
    m.kind = *kind;
    return static_cast<int>(net.add_rewrite_rule(m, count.value_or(0), *rewrite).value);
  }

  // The messages of the trace's kept window (its newest events), oldest
  // first, as dicts: what was sent, delivered, dropped, held and released —
  // so a script sees the answer to a request it released.
  py::list log(std::optional<std::string> api, std::optional<int32_t> src, std::optional<int32_t> dst) {
    if (src) node(*src);
    if (dst) node(*dst);
    sim::Network& net = c_.world().network();
    if (api && !net.find_kind(*api)) throw sim::SimError("unknown API '" + *api + "' (for example Produce, Fetch)");
    const sim::Trace& trace = c_.world().trace();
    py::list out;
    for (const sim::TraceEvent& e : trace.kept()) {
      const char* event = nullptr;
      switch (e.kind) {
        case sim::ev::msg_send: event = "send"; break;
        case sim::ev::msg_deliver: event = "deliver"; break;
        case sim::ev::msg_drop: event = "drop"; break;
        case sim::ev::msg_hold: event = "hold"; break;
        case sim::ev::msg_release: event = "release"; break;
        default: continue;
      }
      // msg_deliver is recorded at the receiver: node = dst, a = src.
      const bool at_receiver = e.kind == sim::ev::msg_deliver;
      const int32_t from = static_cast<int32_t>(at_receiver ? e.a : e.node) + 1;
      const int32_t to = static_cast<int32_t>(at_receiver ? e.node : e.a) + 1;
      const bool packed = e.kind == sim::ev::msg_send || e.kind == sim::ev::msg_deliver;
      const uint16_t kind = static_cast<uint16_t>(packed ? (e.b & 0xffff) : e.b);
      std::string name = net.kind_name(sim::KindId{kind});
      std::string direction = "request";
      if (name.size() > 8 && name.compare(name.size() - 8, 8, "Response") == 0) {
        name.resize(name.size() - 8);
        direction = "response";
      }
      if (packed && static_cast<sim::Direction>(e.b >> 16) == sim::Direction::oneway) direction = "oneway";
      if ((api && name != *api) || (src && from != *src) || (dst && to != *dst)) continue;
      py::dict d;
      d["at_ms"] = static_cast<double>(e.time.ns) / 1e6;
      d["event"] = event;
      d["src"] = from;
      d["dst"] = to;
      d["api"] = name;
      d["direction"] = direction;
      if (packed) d["correlation"] = e.c;
      if (e.kind == sim::ev::msg_drop) d["reason"] = trace.text(e.c);
      out.append(std::move(d));
    }
    return out;
  }

 private:
  sim::NodeId node(int32_t id) {
    if (!c_.is_node(id)) throw sim::SimError("unknown node " + std::to_string(id));
    return sim::NodeId{static_cast<uint32_t>(id - 1)};
  }
  Cluster& c_;
};

// Ctrl-C: Python's signal handler only sets a flag, which nothing would look
// at during a long run_for / flush / poll (the simulation holds the GIL and
// never returns to the interpreter). So the world asks, every few thousand
// events and always between two events on the main context, whether a signal
// is pending; PyErr_CheckSignals runs the handler (KeyboardInterrupt by
// default), and the exception abandons the run call, leaving the simulation
// usable. Counting events, not wall time, keeps the engine clock-free.
// The same moment lets other Python threads run (a watchdog, a timer that
// sends the signal, another thread's Simulation): the GIL is released for an
// instant. Nothing of this world can change meanwhile — its fibers belong to
// this thread, and other threads' calls on it are refused (World::guard_thread).
void install_interrupt_check(Cluster& c, uint64_t every_events = 4'096) {
  c.world().set_interrupt_check(
      [] {
        { py::gil_scoped_release let_other_threads_run; }
        if (PyErr_CheckSignals() != 0) throw py::error_already_set();
      },
      every_events);
}

std::string hex(uint64_t v) {
  char buf[20];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(v));
  return buf;
}

}  // namespace

namespace {

// sim.alter_client_quotas(entity={...}, quotas={...}): the dicts checked for
// types here; entity types, keys and values are judged by the controller.
void alter_client_quotas(Cluster& c, const py::object& entity, const py::object& quotas) {
  using ksim::py_bindings::ArgumentError;
  using ksim::py_bindings::ArgumentTypeError;
  if (!py::isinstance<py::dict>(entity))
    throw ArgumentTypeError("alter_client_quotas(): entity is a dict such as {\"client-id\": \"noisy\"}, not " +
                            std::string(py::str(entity.get_type().attr("__name__"))));
  if (!py::isinstance<py::dict>(quotas))
    throw ArgumentTypeError("alter_client_quotas(): quotas is a dict such as {\"producer_byte_rate\": 100000}, not " +
                            std::string(py::str(quotas.get_type().attr("__name__"))));
  ClientQuotaEntity e;
  for (auto [k, v] : py::reinterpret_borrow<py::dict>(entity)) {
    if (!py::isinstance<py::str>(k)) throw ArgumentTypeError("alter_client_quotas(): entity types are strings");
    if (!v.is_none() && !py::isinstance<py::str>(v))
      throw ArgumentTypeError("alter_client_quotas(): the entity name of " + k.cast<std::string>() +
                              " is a string, or None for the default entity");
    e[k.cast<std::string>()] = v.is_none() ? std::nullopt : std::optional<std::string>(v.cast<std::string>());
  }
  std::vector<std::pair<std::string, std::optional<double>>> ops;
  for (auto [k, v] : py::reinterpret_borrow<py::dict>(quotas)) {
    if (!py::isinstance<py::str>(k)) throw ArgumentTypeError("alter_client_quotas(): quota keys are strings");
    const std::string key = k.cast<std::string>();
    if (!v.is_none() && (py::isinstance<py::bool_>(v) || !(py::isinstance<py::int_>(v) || py::isinstance<py::float_>(v))))
      throw ArgumentTypeError("alter_client_quotas(): the value of " + key +
                              " is a number of bytes per second, or None to remove it");
    ops.emplace_back(key, v.is_none() ? std::nullopt : std::optional<double>(v.cast<double>()));
  }
  if (ops.empty()) throw ArgumentError("alter_client_quotas(): no quotas given");
  c.alter_client_quotas(e, ops);
}

py::list describe_client_quotas(const Cluster& c) {
  py::list out;
  for (const auto& [entity, quotas] : c.describe_client_quotas()) {
    py::dict e, q;
    for (const auto& [type, name] : entity) e[py::str(type)] = name ? py::object(py::str(*name)) : py::object(py::none());
    for (const auto& [key, value] : quotas) q[py::str(key)] = value;
    out.append(py::make_tuple(e, q));
  }
  return out;
}

}  // namespace

PYBIND11_MODULE(_ksim, m) {
  m.doc() = "ksim: a deterministic simulator of an Apache Kafka cluster (C++ core)";
  m.attr("__version__") = KSIM_VERSION;
  // See ClusterDeleter: from here on, a dropped Simulation is left to the OS.
  py::module_::import("atexit").attr("register")(
      py::cpp_function([] { ksim::py_bindings::g_interpreter_exiting = true; }));

  static py::exception<sim::SimError> ksim_error(m, "KsimError");
  static py::exception<ConfigError> config_error(m, "ConfigError", ksim_error.ptr());
  static py::exception<ClusterError> cluster_error(m, "ClusterError", ksim_error.ptr());
  // ArgumentError is a KsimError and a ValueError; ArgumentTypeError a
  // KsimError and a TypeError (py_bindings.h says why).
  static py::object argument_error = py::reinterpret_steal<py::object>(PyErr_NewExceptionWithDoc(
      "ksim._ksim.ArgumentError", "A bad argument value: a KsimError and a ValueError.",
      py::make_tuple(ksim_error, py::handle(PyExc_ValueError)).ptr(), nullptr));
  static py::object argument_type_error = py::reinterpret_steal<py::object>(PyErr_NewExceptionWithDoc(
      "ksim._ksim.ArgumentTypeError", "A bad argument type: a KsimError and a TypeError.",
      py::make_tuple(ksim_error, py::handle(PyExc_TypeError)).ptr(), nullptr));
  m.attr("ArgumentError") = argument_error;
  m.attr("ArgumentTypeError") = argument_type_error;
  py::register_exception_translator([](std::exception_ptr p) {
    try {
      if (p) std::rethrow_exception(p);
    } catch (const py_bindings::ArgumentError& e) {
      PyErr_SetString(argument_error.ptr(), e.what());
    } catch (const py_bindings::ArgumentTypeError& e) {
      PyErr_SetString(argument_type_error.ptr(), e.what());
    } catch (const ConfigError& e) {
      py::object inst = py::reinterpret_borrow<py::object>(config_error.ptr())(e.what());
      inst.attr("key") = e.key();  // the offending configuration key
      PyErr_SetObject(config_error.ptr(), inst.ptr());
    } catch (const ClusterError& e) {
      py::object inst = py::reinterpret_borrow<py::object>(cluster_error.ptr())(e.what());
      inst.attr("error") = std::string(errc_name(e.error()));
      PyErr_SetObject(cluster_error.ptr(), inst.ptr());
    } catch (const sim::SimError& e) {
      PyErr_SetString(ksim_error.ptr(), e.what());
    }
  });

  py::class_<ReplicaDescription>(m, "ReplicaState")
      .def_readonly("broker", &ReplicaDescription::broker)
      .def_property_readonly("log_end_offset", [](const ReplicaDescription& r) { return r.log_end_offset.value; })
      .def_property_readonly("high_watermark", [](const ReplicaDescription& r) { return r.high_watermark.value; })
      .def_property_readonly("log_start_offset", [](const ReplicaDescription& r) { return r.log_start_offset.value; })
      .def_readonly("up", &ReplicaDescription::up);

  py::class_<PartitionDescription>(m, "PartitionInfo", "One partition as the cluster's metadata and replicas see it.")
      .def_readonly("topic", &PartitionDescription::topic)
      .def_readonly("partition", &PartitionDescription::partition)
      .def_property_readonly("leader", [](const PartitionDescription& d) -> std::optional<int32_t> {
        return d.leader >= 0 ? std::optional<int32_t>(d.leader) : std::nullopt;
      })
      .def_readonly("leader_epoch", &PartitionDescription::leader_epoch)
      .def_readonly("partition_epoch", &PartitionDescription::partition_epoch)
      .def_readonly("replicas", &PartitionDescription::replicas)
      .def_readonly("isr", &PartitionDescription::isr)
      .def_readonly("elr", &PartitionDescription::elr)
      .def_readonly("last_known_elr", &PartitionDescription::last_known_elr)
      .def_property_readonly("high_watermark", [](const PartitionDescription& d) { return d.high_watermark.value; })
      .def_property_readonly("last_stable_offset",
                             [](const PartitionDescription& d) { return d.last_stable_offset.value; },
                             "Where read_committed consumers stop: the first offset of an open transaction, or the HW.")
      .def_property_readonly("log_end_offsets",
                             [](const PartitionDescription& d) {
                               std::map<int32_t, int64_t> out;
                               for (const auto& r : d.replica_states) out[r.broker] = r.log_end_offset.value;
                               return out;
                             })
      .def_readonly("replica_states", &PartitionDescription::replica_states)
      .def("__repr__", [](const PartitionDescription& d) {
        return "<PartitionInfo " + d.topic + "-" + std::to_string(d.partition) + " leader=" +
               std::to_string(d.leader) + " epoch=" + std::to_string(d.leader_epoch) + ">";
      });

  py::class_<NetworkControl>(m, "Network", "Message rules: hold, release, drop, delay, duplicate — by Kafka API.")
      .def("hold",
           [](NetworkControl& n, std::optional<int32_t> src, std::optional<int32_t> dst, std::optional<std::string> api,
              const std::string& direction, std::optional<uint32_t> count) {
             return n.rule("hold", src, dst, api, direction, count, 0);
           },
           py::arg("src") = py::none(), py::arg("dst") = py::none(), py::arg("api") = py::none(),
           py::arg("direction") = "request", py::arg("count") = 1,
           "Hold the next `count` matching messages (None: all, until released); returns a handle.")
      .def("release", &NetworkControl::release, py::arg("handle"), "Deliver what the hold holds, and end it.")
      .def("discard", &NetworkControl::discard, py::arg("handle"), "Drop what the hold holds, and end it.")
      .def("held", &NetworkControl::held, py::arg("handle"))
      .def("inject_error", &NetworkControl::inject_error, py::arg("api"), py::arg("error"), py::arg("count") = 1,
           py::arg("src") = py::none(), py::arg("dst") = py::none(),
           "Replace the broker's answer to the next `count` requests of `api` (None: all, until discarded) from "
           "src (a client) to dst (a broker) by `error` (a Kafka error name): the broker did its work, the "
           "client hears the error (a protocol fault proxy, KAFKA-21074). Returns a handle for discard().")
      .def("reachable", &NetworkControl::reachable, py::arg("src"), py::arg("dst"),
           "Whether a message from src to dst crosses no cut (partitions, isolations).")
      .def("log", &NetworkControl::log, py::arg("api") = py::none(), py::arg("src") = py::none(),
           py::arg("dst") = py::none(),
           "Messages in the trace's kept window, oldest first: dicts with at_ms, event (send, deliver, drop, "
           "hold, release), src, dst, api, direction, correlation (send/deliver: a response carries its "
           "request's), reason (drop).")
      .def("drop",
           [](NetworkControl& n, std::optional<int32_t> src, std::optional<int32_t> dst, std::optional<std::string> api,
              const std::string& direction, std::optional<uint32_t> count) {
             return n.rule("drop", src, dst, api, direction, count, 0);
           },
           py::arg("src") = py::none(), py::arg("dst") = py::none(), py::arg("api") = py::none(),
           py::arg("direction") = "request", py::arg("count") = 1)
      .def("duplicate",
           [](NetworkControl& n, std::optional<int32_t> src, std::optional<int32_t> dst, std::optional<std::string> api,
              const std::string& direction, std::optional<uint32_t> count) {
             return n.rule("duplicate", src, dst, api, direction, count, 0);
           },
           py::arg("src") = py::none(), py::arg("dst") = py::none(), py::arg("api") = py::none(),
           py::arg("direction") = "request", py::arg("count") = 1)
      .def("delay",
           [](NetworkControl& n, std::optional<int32_t> src, std::optional<int32_t> dst, std::optional<std::string> api,
              const std::string& direction, std::optional<uint32_t> count, int64_t extra_ms) {
             if (extra_ms < 0) throw sim::SimError("extra_ms must be >= 0");
             return n.rule("delay", src, dst, api, direction, count, extra_ms);
           },
           py::arg("src") = py::none(), py::arg("dst") = py::none(), py::arg("api") = py::none(),
           py::arg("direction") = "request", py::arg("count") = 1, py::arg("extra_ms") = 0);

  py_bindings::bind_check_types(m);
  py_bindings::bind_client_types(m);
  py_bindings::SimulationClass sim(m, "Simulation", R"(A simulated Kafka cluster on a virtual clock.

Simulation(seed=1, brokers=3, controllers=0, config={}) — brokers are numbered
1..N; `controllers=K` adds dedicated KRaft controllers N+1..N+K, otherwise the
first min(3, N) brokers are also controllers. `config` takes Kafka's broker
keys and ksim's `ksim.*` switches; an unknown key raises ConfigError.)");
  sim.def(py::init([](uint64_t seed, int32_t brokers, int32_t controllers, std::map<std::string, std::string> config) {
             ClusterOptions o;
             o.seed = seed;
             o.brokers = brokers;
             o.controllers = controllers;
             o.config = Config::Map(config.begin(), config.end());
             py_bindings::ClusterHolder c(new Cluster(o));
             install_interrupt_check(*c);
             c->wait_ready();
             return c;
           }),
           py::arg("seed") = 1, py::arg("brokers") = 3, py::arg("controllers") = 0,
           py::arg("config") = std::map<std::string, std::string>{})
      .def_property_readonly("now", &Cluster::now_ms, "Virtual time in milliseconds.")
      .def("run_for", &Cluster::run_for_ms, py::arg("ms"), "Advance the simulation by `ms` virtual milliseconds.")
      .def(
          "run_until",
          [](py::object self, const py::function& predicate, int64_t timeout_ms) {
            // predicate() or predicate(sim), as the design's
            // `sim.run_until(lambda s: s.quiescent())`: decided once, from
            // its signature (a parameter without a default takes the sim).
            if (timeout_ms < 0) throw py_bindings::ArgumentError("run_until(): timeout_ms must be >= 0");
            const bool pass_sim = takes_required_argument(predicate);
            return self.cast<Cluster&>().run_until(
                [&] {
                  const py::object r = pass_sim ? predicate(self) : predicate();
                  // Truthiness, as Python's `if`; a __bool__ that raises
                  // propagates (it used to be read as False with the error
                  // still set, and the next call failed with SystemError).
                  const int truth = PyObject_IsTrue(r.ptr());
                  if (truth < 0) throw py::error_already_set();
                  return truth == 1;
                },
                timeout_ms);
          },
          py::arg("predicate"), py::arg("timeout_ms") = 60'000,
          "Run until predicate() (or predicate(sim)) is true, checked every 10 ms, or the timeout; returns whether "
          "it held.")
      .def("quiescent", &Cluster::converged,
           "Nothing left to settle: every partition led with a full ISR and every replica at the HW (client "
           "workloads may still be running).")
      .def("ready", &Cluster::ready, "An active controller, every live broker registered and unfenced.")
      .def("create_topic", &Cluster::create_topic, py::arg("name"), py::arg("partitions") = -1,
           py::arg("replication_factor") = -1, py::arg("config") = Config::Map{},
           py::arg("assignment") = std::vector<std::vector<int32_t>>{},
           "Create a topic (CreateTopics to the active controller); waits until every partition has a leader.")
      .def("describe_topic", &Cluster::describe_topic, py::arg("name"))
      .def(
          "wait_for_leader",
          [](Cluster& c, const std::string& topic, int32_t partition, int64_t timeout_ms) -> std::optional<int32_t> {
            // An unknown topic or partition is an error, not "no leader yet".
            const auto partitions = c.describe_topic(topic);  // ClusterError for an unknown topic
            if (partition < 0 || partition >= static_cast<int32_t>(partitions.size()))
              throw ClusterError(Errc::UNKNOWN_TOPIC_OR_PARTITION,
                                 "wait_for_leader(): topic '" + topic + "' has no partition " + std::to_string(partition) +
                                     " (it has " + std::to_string(partitions.size()) + ")");
            if (timeout_ms < 0) throw py_bindings::ArgumentError("wait_for_leader(): timeout_ms must be >= 0");
            const int32_t l = c.wait_for_leader(topic, partition, timeout_ms);
            return l >= 0 ? std::optional<int32_t>(l) : std::nullopt;
          },
          py::arg("topic"), py::arg("partition") = 0, py::arg("timeout_ms") = 30'000,
          "Run until the partition has a leader that knows it leads; returns it (None after the timeout).")
      .def("describe", &Cluster::describe_text, py::arg("topic"), "kafka-topics.sh --describe style text.")
      .def("topics", &Cluster::topics)
      .def("active_controller", &Cluster::active_controller)
      .def("metrics", &Cluster::metrics, "Kafka's metric names: UnderReplicatedPartitions, OfflinePartitionsCount, ...")
      .def("metrics_history", &Cluster::metrics_series,
           "The metrics sampled every second of virtual time, as a step function: a list of (ms, {name: value})\n"
           "with the first sample and every sample that differs from the previous one; each holds until the\n"
           "next (the last until now). At most 4,096 entries: the newest 2,048 exact, older ones thinned.")
      .def("elect_leaders", &Cluster::elect_leaders, py::arg("unclean") = false,
           py::arg("partitions") = std::vector<std::pair<std::string, int32_t>>{})
      .def("create_partitions", &Cluster::create_partitions, py::arg("topic"), py::arg("count"),
           "Grow a topic to `count` partitions (kafka-topics --alter --partitions); Kafka never shrinks one.")
      .def("alter_topic_config", &Cluster::alter_topic_config, py::arg("topic"), py::arg("key"), py::arg("value"))
      .def("alter_client_quotas", &alter_client_quotas, py::arg("entity"), py::arg("quotas"),
           R"(Admin.alterClientQuotas (KIP-546; kafka-configs --alter --entity-type clients/users).

entity: {"client-id": "noisy"}, {"client-id": None} (the default client-id),
{"user": "ANONYMOUS", "client-id": "app"}, ... (ksim's principal is always
ANONYMOUS: no authentication). quotas: {"producer_byte_rate": 100_000,
"consumer_byte_rate": 50_000} in bytes per second; None removes a key.
Written to the metadata log by the controller; returns once every live broker
applied it. ClusterError INVALID_REQUEST names a bad entity type, key or value
(request_percentage is refused: ksim's request handlers take no time).)")
      .def("describe_client_quotas", &describe_client_quotas,
           "Admin.describeClientQuotas: a list of (entity, quotas) dicts, as alter_client_quotas takes them.")
      .def("produce",
           [](Cluster& c, const std::string& topic, int32_t partition, std::vector<std::string> values,
              const std::string& acks, int64_t timeout_ms) {
             int16_t a = -1;
             if (acks == "0") a = 0;
             else if (acks == "1") a = 1;
             else if (acks != "all" && acks != "-1")
               throw ConfigError("acks", "Invalid value " + acks + " for configuration acks: String must be one of: 0, 1, all, -1");
             const ProduceOutcome o = c.produce(topic, partition, values, a, timeout_ms);
             py::dict d;
             d["error"] = o.error == Errc::NONE ? py::object(py::none()) : py::object(py::str(std::string(errc_name(o.error))));
             d["offset"] = o.base_offset.value;
             d["leader"] = o.leader;
             return d;
           },
           py::arg("topic"), py::arg("partition"), py::arg("values"), py::arg("acks") = "all",
           py::arg("timeout_ms") = 30'000,
           "A raw Produce request of one batch to the partition's leader; returns {'error', 'offset', 'leader'}.")
      .def("log", [](const Cluster& c, int32_t broker, const std::string& topic, int32_t partition) {
             std::vector<std::pair<int64_t, py::bytes>> out;
             for (const auto& [o, v] : c.log_contents(broker, topic, partition)) out.emplace_back(o, py::bytes(v));
             return out;
           },
           py::arg("broker"), py::arg("topic"), py::arg("partition"), "(offset, value) of every record a broker holds.")
      .def("crash", &Cluster::crash, py::arg("broker"))
      .def("shutdown", &Cluster::shutdown, py::arg("broker"), py::arg("timeout_ms") = 30'000,
           "Controlled shutdown: leaderships move away first, logs are flushed, then the node stops.")
      .def("rolling_restart", &Cluster::rolling_restart, py::arg("controlled") = true, py::arg("timeout_ms") = 60'000,
           "Restart every broker in turn (controlled shutdown or crash), waiting for a full ISR after each.")
      .def("restart", &Cluster::restart, py::arg("broker"))
      .def("power_fail", &Cluster::power_fail, py::arg("broker"), py::arg("torn") = false)
      .def("wipe", &Cluster::wipe, py::arg("node"),
           "The node restarts on a new, empty disk (a replaced drive, re-formatted): logs, checkpoints, "
           "quorum-state and clean-shutdown file are gone, and it has a new directory id (KIP-853).")
      .def("replace_disk", &Cluster::wipe, py::arg("node"), "Same as wipe(node): an operator replacing a failed drive.")
      .def("add_voter", &Cluster::add_voter, py::arg("node"), py::arg("timeout_ms") = 30'000,
           "KIP-853 (kafka-metadata-quorum add-controller): the quorum leader adds controller `node`, with the "
           "directory id of its current disk, to the voter set and the simulation runs until that VotersRecord "
           "commits. The node must be an observer caught up with the leader (a wiped voter after its old key was "
           "removed). Raises KsimError naming Kafka's error: DUPLICATE_VOTER, REQUEST_TIMED_OUT (another change "
           "pending, the node not caught up, or no commit within timeout_ms), UNSUPPORTED_VERSION "
           "(ksim.raft.directory.id=false: kraft.version 0), NOT_CONTROLLER (no quorum leader). Returns the "
           "record's offset.")
      .def("remove_voter", &Cluster::remove_voter, py::arg("node"), py::arg("directory_id") = py::none(),
           py::arg("timeout_ms") = 30'000,
           "KIP-853 (kafka-metadata-quorum remove-controller): the quorum leader removes the voter (node, "
           "directory_id) — by default the directory id the voter set names for it, as describe_quorum() prints "
           "it — and the simulation runs until that VotersRecord commits. A leader that removes itself resigns "
           "once it commits. Raises KsimError: VOTER_NOT_FOUND (no such voter key, or the last voter), "
           "REQUEST_TIMED_OUT, UNSUPPORTED_VERSION, NOT_CONTROLLER. Returns the record's offset.")
      .def("describe_quorum", [](const Cluster& c) {
             const ksim::raft::QuorumDescription d = c.describe_quorum();
             auto replicas = [](const std::vector<ksim::raft::ReplicaView>& v) {
               py::list out;
               for (const auto& r : v) {
                 py::dict e;
                 e["id"] = ksim::kafka_id_of(r.id);
                 e["directory_id"] = r.directory_id.str();
                 e["log_end_offset"] = r.log_end_offset.value;
                 out.append(e);
               }
               return out;
             };
             py::dict out;
             out["leader_id"] = d.leader ? py::int_(ksim::kafka_id_of(*d.leader)) : py::int_(-1);
             out["leader_epoch"] = d.epoch.value;
             out["high_watermark"] = d.high_watermark.value;
             out["voters"] = replicas(d.voters);
             out["observers"] = replicas(d.observers);
             return out;
           },
           "kafka-metadata-quorum describe --status/--replication from the raft leader's view: leader_id, "
           "leader_epoch, high_watermark, voters and observers (id, directory_id, log_end_offset; -1: unknown).")
      .def("is_up", &Cluster::is_up, py::arg("node"),
           "Whether a node is running (not crashed, stopped, or halted by a failed log dir); paused counts as up.")
      .def("pause", &Cluster::pause, py::arg("broker"), py::arg("ms"))
      .def("partition", &Cluster::partition, py::arg("groups"),
           "Split the network into exactly these groups of node ids, replacing earlier cuts (nodes in no group "
           "reach everyone).")
      .def("cut", [](Cluster& c, const std::vector<std::vector<int32_t>>& groups) { c.cut(groups, false); },
           py::arg("groups"), "Add these groups' cuts to the current ones (partition() replaces them).")
      .def("isolate", &Cluster::isolate, py::arg("broker"))
      .def("heal", &Cluster::heal)
      .def("slow_disk", &Cluster::slow_disk, py::arg("broker"), py::arg("factor"))
      .def("disk_full", &Cluster::disk_full, py::arg("broker"), py::arg("full") = true)
      .def("disk_stall", &Cluster::disk_stall, py::arg("broker"), py::arg("stalled") = true)
      .def("check_invariants", &Cluster::check_invariants, py::arg("logs") = true,
           "Violated cluster invariants (empty when all hold); logs=False skips comparing replica logs.")
      .def("trace_hash", [](Cluster& c) { return hex(c.world().trace().hash()); },
           "Hex digest of the run's event trace: same seed and script, same hash.")
      .def("probes",
           [](Cluster& c) {
             const auto& p = c.world().probes();
             return std::map<std::string, uint64_t>(p.begin(), p.end());
           },
           "Coverage probes: name -> how often that rare path ran so far (FoundationDB's CODE_PROBE).")
      .def_property_readonly("network", [](Cluster& c) { return NetworkControl(c); }, py::keep_alive<0, 1>())
      .def_property_readonly("seed", [](Cluster& c) { return c.world().seed(); })
      .def("_set_interrupt_interval", [](Cluster& c, uint64_t every_events) { install_interrupt_check(c, every_events); },
           py::arg("every_events"), "Testing: how many events between two Ctrl-C checks (the run is the same).");
  py_bindings::add_check_methods(sim);
  py_bindings::add_client_methods(sim);
  py_bindings::add_workload_methods(sim);
}
