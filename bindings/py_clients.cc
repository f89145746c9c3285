// Python surface of the clients, shaped like confluent-kafka-python:
//   sim.producer(conf) -> Producer      produce / poll / flush / close / len()
//   sim.consumer(conf) -> Consumer      subscribe / assign / poll / consume / commit / seek / ...
//   Message, TopicPartition, KafkaError, KafkaException (a KsimError)
//   sim.describe_group(group_id)        kafka-consumer-groups --describe
//   sim.dump_log(broker, topic, p)      kafka-dump-log --print-data-log of a live replica
//
// Each client is a process on a client node of its own (Cluster::add_client):
// `.id` is that node's id, so sim.crash(p.id) / sim.restart(p.id) /
// sim.pause(p.id, ms) / sim.partition([...]) apply to clients as to brokers.
// A crash destroys the C++ client (like a JVM dying); a restart boots a fresh
// one with the same configuration (a consumer must subscribe/assign again).
// Every call on a crashed client raises KsimError naming it; every call after
// close() raises KsimError.
//
// Where Python code runs (the callback rule). The C++ clients complete
// records on their own fibers (the producer's Sender); Python is never called
// from a fiber for those. Instead:
//   * on_delivery: the C++ completion is queued as plain data (a token, the
//     RecordMetadata, the error) and the Python callback runs when the
//     application serves the queue — Producer.poll(), flush() and close(),
//     exactly as confluent-kafka serves delivery reports. sim.run_for() only
//     advances time: delivered records wait in the queue until the next
//     poll()/flush().
//   * on_assign / on_revoke / on_lost / on_commit: the C++ consumer calls its
//     listener and commit callbacks only inside the application's own calls
//     (poll, commit, close, ...), which Python makes from the main context, so
//     they run there, synchronously (on_assign may seek). Should the consumer
//     be driven from a fiber (a C++ workload), the call is queued and made at
//     the next Python call on that consumer instead.
//   * partitioner=: called inside produce() (the main context). A C++ workload
//     driving the producer from a fiber calls it there too (fiber stacks are
//     sized for it); an exception it raises there fails that record with
//     UNKNOWN_TOPIC_OR_PARTITION and is reported as unraisable.
// An exception raised by a callback propagates out of the call that ran it
// (poll/flush/close/commit...), as in confluent-kafka.
#include <pybind11/functional.h>
#include <pybind11/stl.h>

#include <algorithm>
#include <cstdio>
#include <deque>
#include <limits>
#include <map>
#include <memory>
#include <optional>
#include <regex>
#include <span>
#include <string>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

#include "bindings/py_bindings.h"
#include "engine/broker/partition.h"
#include "engine/broker/replica_manager.h"
#include "engine/clients/consumer_protocol.h"
#include "engine/clients/kafka_consumer.h"
#include "engine/clients/kafka_producer.h"
#include "engine/common/node_ids.h"
#include "engine/server/kafka_node.h"
#include "sim/disk.h"

namespace ksim::py_bindings {

// Kafka's error names and codes, for KafkaError(name), KafkaError.<NAME> and
// sim.network.inject_error (declared in py_bindings.h).
const std::map<std::string, int>& error_codes() {
  static const std::map<std::string, int> codes = [] {
    std::map<std::string, int> m;
    for (int c = -200; c <= 200; ++c) {
      const std::string_view n = errc_name(static_cast<Errc>(c));
      if (n != "UNKNOWN_ERROR_CODE") m.emplace(std::string(n), c);
    }
    return m;
  }();
  return codes;
}

namespace {

// tp_traverse / tp_clear for a bound class holding Python objects (T::traverse,
// T::clear), so cycles through callbacks (a callback's globals naming the
// client or the Simulation) are collectable — and no Simulation, with its
// fibers, outlives the interpreter.
template <class T>
py::custom_type_setup gc_support() {
  return py::custom_type_setup([](PyHeapTypeObject* heap_type) {
    PyTypeObject* type = &heap_type->ht_type;
    type->tp_flags |= Py_TPFLAGS_HAVE_GC;
    type->tp_traverse = [](PyObject* self, visitproc visit, void* arg) -> int {
#if PY_VERSION_HEX >= 0x03090000
      Py_VISIT(Py_TYPE(self));
#endif
      auto* inst = reinterpret_cast<py::detail::instance*>(self);
      py::detail::value_and_holder vh = inst->get_value_and_holder();
      if (!vh.holder_constructed()) return 0;
      return vh.value_ptr<T>()->traverse(visit, arg);
    };
    type->tp_clear = [](PyObject* self) -> int {
      auto* inst = reinterpret_cast<py::detail::instance*>(self);
      py::detail::value_and_holder vh = inst->get_value_and_holder();
      if (vh.holder_constructed()) vh.value_ptr<T>()->clear();
      return 0;
    };
  });
}

using clients::KafkaConsumer;
using clients::KafkaProducer;

// confluent-kafka's special offsets and timestamp types.
constexpr int64_t kOffsetBeginning = -2;
constexpr int64_t kOffsetEnd = -1;
constexpr int64_t kOffsetStored = -1000;
constexpr int64_t kOffsetInvalid = -1001;
constexpr int kTimestampNotAvailable = 0;
constexpr int kTimestampCreateTime = 1;
constexpr int kTimestampLogAppendTime = 2;
// "Wait forever" in virtual milliseconds (the clients cap it anyway).
constexpr int64_t kForeverMs = 1'000'000'000'000;
constexpr int64_t kDefaultPollMs = 1'000;

// ---- value types ----------------------------------------------------------------------------


struct PyKafkaError {
  int code = 0;
  std::string name;
  std::string reason;
  std::string kind;  // the Java exception class behind a failed consumer call ("" otherwise)
  bool retriable = false;
  bool fatal = false;
  bool txn_requires_abort = false;

  // The flags follow the code, and the Java exception class when a call
  // failed (a ProducerFencedException is fatal whatever its code).
  static PyKafkaError of(Errc e, std::string reason = {}, std::string kind = {}) {
    PyKafkaError k;
    k.code = static_cast<int>(e);
    k.name = std::string(errc_name(e));
    k.reason = reason.empty() ? k.name : std::move(reason);
    k.kind = std::move(kind);
    k.retriable = ksim::retriable(e);
    k.fatal = ksim::fatal_error(e) || k.kind == "ProducerFencedException";
    k.txn_requires_abort = !k.fatal && (ksim::txn_abortable_error(e) || k.kind == "TransactionAbortableException");
    return k;
  }
  std::string text() const {
    if (reason == name) return name;
    return reason + " (" + name + ")";
  }
};

struct PyTopicPartition {
  std::string topic;
  int32_t partition = -1;
  int64_t offset = kOffsetInvalid;
  std::optional<std::string> metadata;
  std::optional<int32_t> leader_epoch;
  std::optional<PyKafkaError> error;

  TopicPartition tp() const { return TopicPartition{topic, partition}; }
  std::string repr() const {
    std::string s = "TopicPartition{topic=" + topic + ",partition=" + std::to_string(partition) +
                    ",offset=" + std::to_string(offset) + ",leader_epoch=" +
                    (leader_epoch ? std::to_string(*leader_epoch) : "None") + ",error=" +
                    (error ? error->name : "None") + "}";
    return s;
  }
};

using Headers = std::vector<std::pair<std::string, std::optional<std::string>>>;

struct PyMessage {
  std::string topic;
  int32_t partition = -1;
  int64_t offset = kOffsetInvalid;
  std::optional<std::string> key, value;
  std::optional<Headers> headers;
  int64_t timestamp = -1;
  int timestamp_type = kTimestampNotAvailable;
  int32_t leader_epoch = -1;
  std::optional<PyKafkaError> error;
};

py::object bytes_or_none(const std::optional<std::string>& s) {
  return s ? py::object(py::bytes(*s)) : py::object(py::none());
}

std::string type_name(py::handle h) { return py::str(py::type::handle_of(h).attr("__name__")); }

// bytes / bytearray / memoryview / str (UTF-8) -> bytes; None -> nullopt.
std::optional<std::string> to_bytes(py::handle h, const std::string& what) {
  if (h.is_none()) return std::nullopt;
  if (py::isinstance<py::bytes>(h)) return h.cast<std::string>();
  if (py::isinstance<py::str>(h)) return h.cast<std::string>();
  if (py::isinstance<py::bytearray>(h) || py::isinstance<py::memoryview>(h))
    return py::bytes(py::reinterpret_borrow<py::object>(h)).cast<std::string>();
  throw ArgumentTypeError(what + " must be bytes or str (or None), not " + type_name(h));
}

std::vector<PyTopicPartition> to_partitions(py::handle h, const std::string& what) {
  if (py::isinstance<PyTopicPartition>(h)) return {h.cast<PyTopicPartition>()};
  if (py::isinstance<py::str>(h) || !py::isinstance<py::iterable>(h))
    throw ArgumentTypeError(what + " takes a list of ksim.TopicPartition, not " + type_name(h));
  std::vector<PyTopicPartition> out;
  for (py::handle x : h) {
    if (!py::isinstance<PyTopicPartition>(x))
      throw ArgumentTypeError(what + " takes a list of ksim.TopicPartition; got an element of type " + type_name(x));
    out.push_back(x.cast<PyTopicPartition>());
  }
  return out;
}

std::vector<TopicPartition> plain(const std::vector<PyTopicPartition>& v) {
  std::vector<TopicPartition> out;
  for (const auto& t : v) {
    if (t.partition < 0) throw ArgumentError("TopicPartition(" + t.topic + ", " + std::to_string(t.partition) +
                                               "): a partition number is needed here");
    out.push_back(t.tp());
  }
  return out;
}

PyTopicPartition py_tp(const TopicPartition& tp, int64_t offset = kOffsetInvalid) {
  PyTopicPartition t;
  t.topic = tp.topic;
  t.partition = tp.partition;
  t.offset = offset;
  return t;
}

py::list py_tps(const std::vector<TopicPartition>& tps) {
  py::list out;
  for (const auto& tp : tps) out.append(py_tp(tp));
  return out;
}

py::list py_offsets(const clients::OffsetMap& m) {
  py::list out;
  for (const auto& [tp, om] : m) {
    PyTopicPartition t = py_tp(tp, om.offset.value);
    if (om.leader_epoch.value >= 0) t.leader_epoch = om.leader_epoch.value;
    if (!om.metadata.empty()) t.metadata = om.metadata;
    out.append(t);
  }
  return out;
}

// A conf dict as Kafka's string map: str as is, bool as true/false, numbers as
// text. `bootstrap.servers` is accepted and ignored (a simulated client
// bootstraps from every broker); Python-only keys are taken out by the caller.
Config::Map conf_map(const py::dict& conf) {
  Config::Map out;
  for (auto [k, v] : conf) {
    if (!py::isinstance<py::str>(k)) throw ArgumentTypeError("configuration keys are strings, not " + type_name(k));
    const std::string key = k.cast<std::string>();
    if (key == "bootstrap.servers") continue;
    std::string value;
    if (py::isinstance<py::bool_>(v)) value = v.cast<bool>() ? "true" : "false";
    else if (py::isinstance<py::str>(v)) value = v.cast<std::string>();
    else if (py::isinstance<py::int_>(v) || py::isinstance<py::float_>(v)) value = py::str(v).cast<std::string>();
    else
      throw ConfigError(key, "Invalid value of type " + type_name(v) + " for configuration " + key +
                                 ": expected a string, number or bool");
    out[key] = value;
  }
  return out;
}

py::dict config_dict(const Config& c) {
  py::dict d;
  for (const auto& [k, v] : c.effective()) d[py::str(k)] = v;
  return d;
}

std::string client_label(const std::string& name, int32_t id) {
  return name + " (client node " + std::to_string(id) + ")";
}

// The checks every call on a client makes: closed -> KsimError; node down ->
// KsimError with how to bring it back. Returns the node's current
// incarnation, so the caller notices a crash-and-restart since its last call.
uint32_t require_up(Cluster& c, const std::string& name, int32_t id, const char* what, bool closed,
                    const char* restart_hint) {
  if (closed) throw sim::SimError(std::string(what) + "(): " + client_label(name, id) + " is closed");
  const sim::NodeId n = sim_node_of(id);
  if (!c.world().is_up(n))
    throw sim::SimError(std::string(what) + "(): " + client_label(name, id) + " is down (crashed); sim.restart(" +
                        std::to_string(id) + ") boots a fresh " + restart_hint);
  return c.world().incarnation(n);
}

// ---- Producer -----------------------------------------------------------------------------------

// What the C++ producer's callbacks leave behind: plain data, no Python objects
// (they run on the Sender fiber).
struct DeliveryQueue {
  std::deque<std::tuple<uint64_t, clients::RecordMetadata, Errc>> done;
};

class PyProducer {
 public:
  PyProducer(py::object sim, int32_t id, std::string name, Config config, std::shared_ptr<DeliveryQueue> q,
             py::object default_cb, std::shared_ptr<py::object> partitioner)
      : partitioner_(std::move(partitioner)),
        sim_obj_(std::move(sim)),
        c_(&sim_obj_.cast<Cluster&>()),
        id_(id),
        name_(std::move(name)),
        config_(std::move(config)),
        q_(std::move(q)),
        default_cb_(std::move(default_cb)),
        incarnation_(c_->world().incarnation(sim_node_of(id_))) {}

  int32_t id() const { return id_; }
  const std::string& name() const { return name_; }
  size_t pending() const { return pending_.size(); }
  py::dict effective_config() const { return config_dict(config_); }
  std::string repr() const {
    const char* state = closed_ ? "closed" : c_->world().is_up(sim_node_of(id_)) ? "up" : "down";
    return "<ksim.Producer " + client_label(name_, id_) + " " + state + ", " + std::to_string(pending_.size()) +
           " pending>";
  }

  void produce(const std::string& topic, py::handle value, py::handle key, py::handle partition,
               py::handle on_delivery, py::handle headers, py::handle timestamp, py::handle callback) {
    if (topic.empty()) throw ArgumentError("produce(): topic must be a non-empty string");
    clients::ProducerRecord r;
    r.topic = topic;
    r.key = to_bytes(key, "produce(): key");
    r.value = to_bytes(value, "produce(): value");  // None: a null value (a tombstone)
    if (!partition.is_none()) {
      const int64_t p = partition.cast<int64_t>();
      if (p >= 0) r.partition = static_cast<int32_t>(p);
      else if (p != -1) throw ArgumentError("produce(): partition must be >= 0 (or -1/None: let the partitioner choose)");
    }
    if (!timestamp.is_none()) {
      const int64_t t = timestamp.cast<int64_t>();
      if (t < 0) throw ArgumentError("produce(): timestamp must be milliseconds >= 0 (0/None: now)");
      if (t > 0) r.timestamp = t;
    }
    Headers hs;
    if (!headers.is_none()) {
      py::object items = py::isinstance<py::dict>(headers) ? headers.attr("items")() : py::reinterpret_borrow<py::object>(headers);
      for (py::handle kv : items) {
        if (!py::isinstance<py::sequence>(kv) || py::isinstance<py::str>(kv) || py::len(kv) != 2 ||
            !py::isinstance<py::str>(kv[py::int_(0)]))
          throw ArgumentTypeError("produce(): headers are a dict or a list of (str, bytes|str|None) pairs");
        hs.emplace_back(kv[py::int_(0)].cast<std::string>(), to_bytes(kv[py::int_(1)], "produce(): a header value"));
      }
      for (const auto& [k, v] : hs) r.headers.emplace_back(k, v.value_or(""));
    }
    py::object cb = !on_delivery.is_none() ? py::reinterpret_borrow<py::object>(on_delivery)
                    : !callback.is_none()  ? py::reinterpret_borrow<py::object>(callback)
                                           : default_cb_;
    if (!cb.is_none() && !PyCallable_Check(cb.ptr()))
      throw ArgumentTypeError("produce(): on_delivery must be callable (err, msg), not " + type_name(cb));

    std::shared_ptr<KafkaProducer> p = live("produce");
    const uint64_t token = next_token_++;
    Pending pend{cb, topic, r.key, r.value, hs.empty() ? std::nullopt : std::optional<Headers>(hs)};
    pending_.emplace(token, std::move(pend));
    std::shared_ptr<DeliveryQueue> q = q_;
    try {
      p->send(std::move(r), [q, token](const clients::RecordMetadata& md, Errc e) { q->done.emplace_back(token, md, e); });
    } catch (...) {
      pending_.erase(token);
      throw;
    }
  }

  // Serves queued delivery reports; with timeout_ms > 0 first runs the
  // simulation until one is queued or the timeout passed.
  int poll(int64_t timeout_ms) {
    if (timeout_ms < 0) throw ArgumentError("poll(): timeout_ms must be >= 0");
    {
      std::shared_ptr<KafkaProducer> p = live("poll");
      if (timeout_ms > 0 && q_->done.empty())
        c_->world().run_until([&] { return !q_->done.empty(); }, sim::milliseconds(timeout_ms));
    }
    return serve();
  }

  int64_t flush(std::optional<int64_t> timeout_ms) {
    const int64_t t = timeout_ms.value_or(kForeverMs);
    if (t < 0) throw ArgumentError("flush(): timeout_ms must be >= 0 (None: until everything is delivered)");
    {
      std::shared_ptr<KafkaProducer> p = live("flush");
      p->flush(t);
    }
    serve();
    return static_cast<int64_t>(pending_.size());
  }

  void close(std::optional<int64_t> timeout_ms) {
    if (closed_) return;
    const int64_t t = timeout_ms.value_or(kForeverMs);
    if (t < 0) throw ArgumentError("close(): timeout_ms must be >= 0");
    {
      std::shared_ptr<KafkaProducer> p = live("close");
      p->close(t);
    }
    closed_ = true;
    serve();
  }

  // ---- transactions (confluent-kafka's names; timeouts default to max.block.ms) ------------
  int64_t txn_timeout(std::optional<int64_t> timeout_ms, const char* what) const {
    const int64_t t = timeout_ms.value_or(config_.get_long("max.block.ms"));
    if (t < 0) throw ArgumentError(std::string(what) + "(): timeout_ms must be >= 0");
    return t;
  }
  void init_transactions(std::optional<int64_t> timeout_ms) {
    const int64_t t = txn_timeout(timeout_ms, "init_transactions");
    live("init_transactions")->init_transactions(t);
  }
  void begin_transaction() { live("begin_transaction")->begin_transaction(); }
  void send_offsets_to_transaction(py::handle positions, const clients::ConsumerGroupMetadata& group,
                                   std::optional<int64_t> timeout_ms) {
    const int64_t t = txn_timeout(timeout_ms, "send_offsets_to_transaction");
    clients::OffsetMap offsets;
    for (const PyTopicPartition& tp : to_partitions(positions, "send_offsets_to_transaction()")) {
      if (tp.offset < 0)
        throw ArgumentError("send_offsets_to_transaction(): " + tp.repr() + " has no offset (the next offset to consume)");
      offsets[tp.tp()] = {Offset{tp.offset}, LeaderEpoch{tp.leader_epoch.value_or(-1)}, tp.metadata.value_or("")};
    }
    live("send_offsets_to_transaction")->send_offsets_to_transaction(offsets, group, t);
  }
  void commit_transaction(std::optional<int64_t> timeout_ms) {
    end_transaction("commit_transaction", timeout_ms, &KafkaProducer::commit_transaction);
  }
  void abort_transaction(std::optional<int64_t> timeout_ms) {
    end_transaction("abort_transaction", timeout_ms, &KafkaProducer::abort_transaction);
  }
  // Commit or abort, then serve the delivery reports (also when it raised).
  void end_transaction(const char* what, std::optional<int64_t> timeout_ms, void (KafkaProducer::*end)(int64_t)) {
    const int64_t t = txn_timeout(timeout_ms, what);
    {
      std::shared_ptr<KafkaProducer> p = live(what);
      try {
        ((*p).*end)(t);
      } catch (...) {
        serve();
        throw;
      }
    }
    serve();
  }

  std::map<std::string, double> metrics() { return live("metrics")->metrics(); }

  py::object producer_id() {
    std::shared_ptr<KafkaProducer> p = live("producer_id");
    if (auto pid = p->producer_id()) return py::make_tuple(pid->first.value, pid->second.value);
    return py::none();
  }

 private:
  struct Pending {
    py::object cb;
    std::string topic;
    std::optional<std::string> key;
    std::optional<std::string> value;  // nullopt: a tombstone
    std::optional<Headers> headers;
  };

  std::shared_ptr<KafkaProducer> live(const char* what) {
    const uint32_t incarnation =
        require_up(*c_, name_, id_, what, closed_, "producer with the same configuration");
    if (incarnation != incarnation_) {
      // A crash and restart since we last looked: the old producer's records
      // died with it, their callbacks never run (as when a JVM dies).
      incarnation_ = incarnation;
      pending_.clear();
      q_->done.clear();
    }
    std::shared_ptr<KafkaProducer> p = c_->client<KafkaProducer>(id_);
    if (!p) throw sim::SimError(std::string(what) + "(): " + client_label(name_, id_) + " is down");
    return p;
  }

  int serve() {
    int served = 0;
    while (!q_->done.empty()) {
      auto [token, md, e] = q_->done.front();
      q_->done.pop_front();
      auto it = pending_.find(token);
      if (it == pending_.end()) continue;
      Pending pend = std::move(it->second);
      pending_.erase(it);
      ++served;
      if (pend.cb.is_none()) continue;
      PyMessage m;
      m.topic = pend.topic;
      m.partition = md.tp.partition;
      m.offset = md.offset.value >= 0 ? md.offset.value : kOffsetInvalid;
      m.key = pend.key;
      m.value = pend.value;
      m.headers = pend.headers;
      m.timestamp = md.timestamp;
      m.timestamp_type = md.timestamp >= 0 ? kTimestampCreateTime : kTimestampNotAvailable;
      py::object err = py::none();
      if (e != Errc::NONE) {
        m.error = PyKafkaError::of(e, "Delivery failed: " + std::string(errc_name(e)));
        err = py::cast(*m.error);
      }
      pend.cb(err, py::cast(std::move(m)));
    }
    return served;
  }

 public:
  // Garbage-collector support: the Python objects this producer holds.
  int traverse(visitproc visit, void* arg) {
    Py_VISIT(sim_obj_.ptr());
    Py_VISIT(default_cb_.ptr());
    if (partitioner_) Py_VISIT(partitioner_->ptr());
    for (const auto& [token, p] : pending_) Py_VISIT(p.cb.ptr());
    return 0;
  }
  void clear() {
    default_cb_ = py::none();
    if (partitioner_) *partitioner_ = py::none();
    for (auto& [token, p] : pending_) p.cb = py::none();
  }

 private:
  // The Python partitioner; the C++ producer holds it weakly (when this object
  // is gone, the built-in partitioner decides).
  std::shared_ptr<py::object> partitioner_;
  py::object sim_obj_;  // keeps the Simulation alive; never cleared (it holds no Python objects of ours)
  Cluster* c_;
  int32_t id_;
  std::string name_;
  Config config_;
  std::shared_ptr<DeliveryQueue> q_;
  py::object default_cb_;
  uint32_t incarnation_;
  std::map<uint64_t, Pending> pending_;
  uint64_t next_token_ = 1;
  bool closed_ = false;
};

// ---- Consumer -------------------------------------------------------------------------------

// The Python side of a consumer's callbacks, shared with the C++ listener.
// Only touched with the GIL held (the simulation never releases it).
struct ConsumerCallbacks {
  py::object on_assign = py::none(), on_revoke = py::none(), on_lost = py::none(), on_commit = py::none();
  py::object self;  // a weak reference to the Python Consumer
  sim::World* world = nullptr;
  // Calls that arrived inside a fiber (a C++ workload drove the consumer).
  std::vector<std::function<void()>> deferred;
  std::optional<py::error_already_set> error;

  py::object consumer() const {
    if (!self || self.is_none()) return py::none();
    py::object o = self();
    return o;
  }
  void guarded(const std::function<void()>& f) {
    try {
      f();
    } catch (py::error_already_set& e) {
      if (!error) error = std::move(e);
    }
  }
  void rebalance(py::object fn, std::vector<TopicPartition> tps) {
    if (!fn || fn.is_none()) return;
    auto call = [this, fn, tps] { guarded([&] { fn(consumer(), py_tps(tps)); }); };
    if (world->in_fiber()) deferred.push_back(call);
    else call();
  }
  void commit(clients::OffsetMap offsets, Errc e) {
    if (!on_commit || on_commit.is_none()) return;
    py::object fn = on_commit;
    auto call = [this, fn, offsets, e] {
      guarded([&] {
        py::object err = e == Errc::NONE ? py::object(py::none()) : py::cast(PyKafkaError::of(e, "Commit failed: " + std::string(errc_name(e))));
        fn(err, py_offsets(offsets));
      });
    };
    if (world->in_fiber()) deferred.push_back(call);
    else call();
  }
  void drain() {
    while (!deferred.empty()) {
      auto calls = std::move(deferred);
      deferred.clear();
      for (auto& f : calls) f();
    }
  }
  void raise_pending() {
    if (!error) return;
    py::error_already_set e = std::move(*error);
    error.reset();
    throw e;
  }
};

PyMessage message_of(const clients::ConsumerRecord& r) {
  PyMessage m;
  m.topic = r.tp.topic;
  m.partition = r.tp.partition;
  m.offset = r.offset.value;
  m.key = r.key;
  m.value = r.value;
  if (!r.headers.empty()) m.headers = r.headers;
  m.timestamp = r.timestamp;
  m.timestamp_type = r.timestamp >= 0 ? kTimestampCreateTime : kTimestampNotAvailable;
  m.leader_epoch = r.leader_epoch.value;
  return m;
}

class PyConsumer {
 public:
  PyConsumer(py::object sim, int32_t id, std::string name, Config config, std::shared_ptr<ConsumerCallbacks> cbs)
      : sim_obj_(std::move(sim)),
        c_(&sim_obj_.cast<Cluster&>()),
        id_(id),
        name_(std::move(name)),
        config_(std::move(config)),
        cbs_(std::move(cbs)),
        incarnation_(c_->world().incarnation(sim_node_of(id_))) {}

  int32_t id() const { return id_; }
  const std::string& name() const { return name_; }
  py::dict effective_config() const { return config_dict(config_); }
  std::string repr() const {
    const char* state = closed_ ? "closed" : c_->world().is_up(sim_node_of(id_)) ? "up" : "down";
    return "<ksim.Consumer " + client_label(name_, id_) + " " + state + ">";
  }

  void subscribe(py::handle topics, py::object on_assign, py::object on_revoke, py::object on_lost) {
    std::vector<std::string> names;
    if (py::isinstance<py::str>(topics)) names.push_back(topics.cast<std::string>());
    else if (py::isinstance<py::iterable>(topics))
      for (py::handle t : topics) {
        if (!py::isinstance<py::str>(t)) throw ArgumentTypeError("subscribe(): topics are strings, not " + type_name(t));
        names.push_back(t.cast<std::string>());
      }
    else
      throw ArgumentTypeError("subscribe(): topics is a list of topic names (or '^regex'), not " + type_name(topics));
    if (names.empty()) throw ArgumentError("subscribe(): no topics given (use unsubscribe())");
    for (const py::object& f : {on_assign, on_revoke, on_lost})
      if (!f.is_none() && !PyCallable_Check(f.ptr()))
        throw ArgumentTypeError("subscribe(): callbacks must be callable (consumer, partitions), not " + type_name(f));
    // confluent-kafka: a name starting with '^' is a regular expression.
    const bool any_regex = std::any_of(names.begin(), names.end(), [](const std::string& n) { return n.starts_with("^"); });
    std::string pattern;
    if (any_regex && names.size() == 1) {
      pattern = names.front();  // sent (consumer protocol) and shown as given
    } else if (any_regex) {
      for (const std::string& n : names) {
        if (!pattern.empty()) pattern += "|";
        pattern += n.starts_with("^") ? "(?:" + n + ")" : "(?:^" + std::regex_replace(n, std::regex(R"([.^$|()\[\]{}*+?\\])"), R"(\$&)") + "$)";
      }
    }
    // group.protocol=consumer: the group coordinator compiles the pattern and
    // answers INVALID_REGULAR_EXPRESSION (raised by the next poll()), as
    // librdkafka's KIP-848 consumer learns it; classic: checked here.
    const bool server_side = config_.get_string("group.protocol") == "consumer";
    if (any_regex && !server_side) {
      try {
        std::regex check(pattern, std::regex::ECMAScript);
      } catch (const std::regex_error& e) {
        throw ArgumentError("subscribe(): invalid topic regex '" + pattern + "': " + e.what());
      }
    }
    call("subscribe", [&](KafkaConsumer& k) {
      cbs_->on_assign = on_assign;
      cbs_->on_revoke = on_revoke;
      cbs_->on_lost = on_lost;
      // The C++ listener holds the callbacks weakly: they belong to this
      // Python object (so the garbage collector sees them).
      clients::RebalanceListener l;
      std::weak_ptr<ConsumerCallbacks> weak = cbs_;
      if (!on_assign.is_none())
        l.on_assigned = [weak](const std::vector<TopicPartition>& tps) {
          if (auto cbs = weak.lock()) cbs->rebalance(cbs->on_assign, tps);
        };
      if (!on_revoke.is_none())
        l.on_revoked = [weak](const std::vector<TopicPartition>& tps) {
          if (auto cbs = weak.lock()) cbs->rebalance(cbs->on_revoke, tps);
        };
      if (!on_lost.is_none())
        l.on_lost = [weak](const std::vector<TopicPartition>& tps) {
          if (auto cbs = weak.lock()) cbs->rebalance(cbs->on_lost, tps);
        };
      if (any_regex) k.subscribe_pattern(pattern, std::move(l));
      else k.subscribe(names, std::move(l));
    });
  }

  void assign(py::handle partitions) {
    const std::vector<PyTopicPartition> tps = to_partitions(partitions, "assign()");
    const std::vector<TopicPartition> plain_tps = plain(tps);
    call("assign", [&](KafkaConsumer& k) {
      k.assign(plain_tps);
      for (const PyTopicPartition& t : tps) seek_to(k, t, true);
    });
  }

  void unassign() {
    call("unassign", [&](KafkaConsumer& k) { k.assign({}); });
  }
  void unsubscribe() {
    call("unsubscribe", [&](KafkaConsumer& k) { k.unsubscribe(); });
  }

  py::list assignment() {
    return call("assignment", [&](KafkaConsumer& k) { return py_tps(k.assignment()); });
  }

  std::map<std::string, double> metrics() {
    return call("metrics", [&](KafkaConsumer& k) { return k.metrics(); });
  }

  py::object poll(std::optional<int64_t> timeout_ms) {
    const int64_t t = timeout_ms.value_or(kDefaultPollMs);
    if (t < 0) throw ArgumentError("poll(): timeout_ms must be >= 0");
    return call("poll", [&](KafkaConsumer& k) -> py::object {
      std::vector<clients::ConsumerRecord> got = k.poll(t, 1);
      if (got.empty()) return py::none();
      return py::cast(message_of(got.front()));
    });
  }

  py::list consume(int64_t num_messages, std::optional<int64_t> timeout_ms) {
    if (num_messages < 1 || num_messages > 1'000'000) throw ArgumentError("consume(): num_messages must be 1..1000000");
    const int64_t t = timeout_ms.value_or(kDefaultPollMs);
    if (t < 0) throw ArgumentError("consume(): timeout_ms must be >= 0");
    return call("consume", [&](KafkaConsumer& k) {
      py::list out;
      const sim::Instant deadline = c_->world().now() + sim::milliseconds(t);
      size_t n = 0;
      do {
        // Whole milliseconds left, rounded up (a fetch response may land between
        // two milliseconds; poll(0) would never advance the clock).
        const int64_t left_ns = (deadline - c_->world().now()).ns;
        const int64_t left = left_ns <= 0 ? 0 : (left_ns + 999'999) / 1'000'000;
        for (const auto& r : k.poll(left, static_cast<int32_t>(num_messages - static_cast<int64_t>(n)))) {
          out.append(message_of(r));
          ++n;
        }
      } while (static_cast<int64_t>(n) < num_messages && c_->world().now() < deadline &&
               c_->world().is_up(sim_node_of(id_)));
      return out;
    });
  }

  py::object commit(py::handle message, py::handle offsets, bool asynchronous) {
    if (!message.is_none() && !offsets.is_none())
      throw ArgumentError("commit(): give message= or offsets=, not both");
    clients::OffsetMap explicit_offsets;
    bool have_explicit = false;
    if (!message.is_none()) {
      if (!py::isinstance<PyMessage>(message)) throw ArgumentTypeError("commit(): message must be a ksim.Message");
      const PyMessage& m = message.cast<const PyMessage&>();
      if (m.error || m.offset < 0) throw ArgumentError("commit(): the message has no offset to commit");
      explicit_offsets[TopicPartition{m.topic, m.partition}] = {Offset{m.offset + 1}, LeaderEpoch{m.leader_epoch}, ""};
      have_explicit = true;
    } else if (!offsets.is_none()) {
      for (const PyTopicPartition& t : to_partitions(offsets, "commit(offsets=)")) {
        if (t.offset < 0) throw ArgumentError("commit(): " + t.repr() + " has no offset to commit (offset >= 0)");
        explicit_offsets[t.tp()] = {Offset{t.offset}, LeaderEpoch{t.leader_epoch.value_or(-1)}, t.metadata.value_or("")};
      }
      have_explicit = true;
    }
    return call("commit", [&](KafkaConsumer& k) -> py::object {
      const clients::OffsetMap what = have_explicit ? explicit_offsets : k.consumed_offsets();
      if (asynchronous) {
        std::weak_ptr<ConsumerCallbacks> weak = cbs_;
        k.commit_async(what, [weak](const clients::OffsetMap& o, Errc e) {
          if (auto cbs = weak.lock()) cbs->commit(o, e);
        });
        return py::none();
      }
      k.commit_sync(what);
      return py_offsets(what);
    });
  }

  void seek(py::handle partition) {
    if (!py::isinstance<PyTopicPartition>(partition)) throw ArgumentTypeError("seek() takes a ksim.TopicPartition");
    const PyTopicPartition t = partition.cast<PyTopicPartition>();
    plain({t});
    call("seek", [&](KafkaConsumer& k) { seek_to(k, t, false); });
  }

  py::list position(py::handle partitions) {
    const std::vector<PyTopicPartition> tps = to_partitions(partitions, "position()");
    return call("position", [&](KafkaConsumer& k) {
      const clients::OffsetMap known = k.consumed_offsets();
      py::list out;
      for (const PyTopicPartition& t : tps) {
        auto it = known.find(t.tp());
        PyTopicPartition r = py_tp(t.tp(), it == known.end() ? kOffsetInvalid : it->second.offset.value);
        if (it != known.end() && it->second.leader_epoch.value >= 0) r.leader_epoch = it->second.leader_epoch.value;
        out.append(r);
      }
      return out;
    });
  }

  clients::ConsumerGroupMetadata consumer_group_metadata() {
    return call("consumer_group_metadata", [&](KafkaConsumer& k) { return k.group_metadata(); });
  }

  py::list committed(py::handle partitions, std::optional<int64_t> timeout_ms) {
    const std::vector<PyTopicPartition> tps = to_partitions(partitions, "committed()");
    const std::vector<TopicPartition> plain_tps = plain(tps);
    return call("committed", [&](KafkaConsumer& k) {
      const clients::OffsetMap got = k.committed({plain_tps.begin(), plain_tps.end()}, timeout_ms.value_or(-1));
      py::list out;
      for (const TopicPartition& tp : plain_tps) {
        auto it = got.find(tp);
        PyTopicPartition r = py_tp(tp, it == got.end() ? kOffsetInvalid : it->second.offset.value);
        if (it != got.end()) {
          if (it->second.leader_epoch.value >= 0) r.leader_epoch = it->second.leader_epoch.value;
          if (!it->second.metadata.empty()) r.metadata = it->second.metadata;
        }
        out.append(r);
      }
      return out;
    });
  }

  py::tuple get_watermark_offsets(py::handle partition, std::optional<int64_t> timeout_ms) {
    if (!py::isinstance<PyTopicPartition>(partition)) throw ArgumentTypeError("get_watermark_offsets() takes a ksim.TopicPartition");
    const TopicPartition tp = plain({partition.cast<PyTopicPartition>()}).front();
    return call("get_watermark_offsets", [&](KafkaConsumer& k) {
      const auto lo = k.beginning_offsets({tp}, timeout_ms.value_or(-1));
      const auto hi = k.end_offsets({tp}, timeout_ms.value_or(-1));
      return py::make_tuple(lo.count(tp) ? lo.at(tp).value : kOffsetInvalid, hi.count(tp) ? hi.at(tp).value : kOffsetInvalid);
    });
  }

  py::list offsets_for_times(py::handle partitions, std::optional<int64_t> timeout_ms) {
    const std::vector<PyTopicPartition> tps = to_partitions(partitions, "offsets_for_times()");
    std::map<TopicPartition, int64_t> ts;
    for (const PyTopicPartition& t : tps) ts[plain({t}).front()] = t.offset;
    return call("offsets_for_times", [&](KafkaConsumer& k) {
      const auto got = k.offsets_for_times(ts, timeout_ms.value_or(-1));
      py::list out;
      for (const PyTopicPartition& t : tps) {
        auto it = got.find(t.tp());
        const bool found = it != got.end() && it->second;
        PyTopicPartition r = py_tp(t.tp(), found ? it->second->offset.value : kOffsetEnd);
        if (found && it->second->leader_epoch.value >= 0) r.leader_epoch = it->second->leader_epoch.value;
        out.append(r);
      }
      return out;
    });
  }

  void pause(py::handle partitions) {
    const std::vector<TopicPartition> tps = plain(to_partitions(partitions, "pause()"));
    call("pause", [&](KafkaConsumer& k) { k.pause(tps); });
  }
  void resume(py::handle partitions) {
    const std::vector<TopicPartition> tps = plain(to_partitions(partitions, "resume()"));
    call("resume", [&](KafkaConsumer& k) { k.resume(tps); });
  }

  py::object memberid() {
    return call("memberid", [&](KafkaConsumer& k) -> py::object {
      const std::string m = k.member_id();
      return m.empty() ? py::object(py::none()) : py::object(py::str(m));
    });
  }
  int32_t generation() {
    return call("generation", [&](KafkaConsumer& k) { return k.generation(); });
  }

  void close(std::optional<int64_t> timeout_ms) {
    if (closed_) return;
    const int64_t t = timeout_ms.value_or(30'000);
    if (t < 0) throw ArgumentError("close(): timeout_ms must be >= 0");
    call("close", [&](KafkaConsumer& k) { k.close(t); });
    closed_ = true;
  }

 private:
  std::shared_ptr<KafkaConsumer> live(const char* what) {
    const uint32_t incarnation = require_up(*c_, name_, id_, what, closed_,
                                            "consumer with the same configuration (then subscribe or assign again)");
    if (incarnation != incarnation_) {
      incarnation_ = incarnation;
      cbs_->deferred.clear();
      cbs_->error.reset();
    }
    std::shared_ptr<KafkaConsumer> k = c_->client<KafkaConsumer>(id_);
    if (!k) throw sim::SimError(std::string(what) + "(): " + client_label(name_, id_) + " is down");
    return k;
  }

  // Runs one consumer call from the main context: the consumer object stays
  // alive for the whole call (even if its node crashes meanwhile); callbacks a
  // fiber queued run after it; a callback's exception is raised after it.
  template <class F>
  std::invoke_result_t<F&, KafkaConsumer&> call(const char* what, F&& f) {
    std::shared_ptr<KafkaConsumer> k = live(what);
    cbs_->drain();
    try {
      if constexpr (std::is_void_v<decltype(f(*k))>) {
        f(*k);
        cbs_->drain();
        cbs_->raise_pending();
      } else {
        auto result = f(*k);
        cbs_->drain();
        cbs_->raise_pending();
        return result;
      }
    } catch (...) {
      cbs_->error.reset();
      throw;
    }
  }

  static void seek_to(KafkaConsumer& k, const PyTopicPartition& t, bool from_assign) {
    if (t.offset >= 0) k.seek(t.tp(), clients::OffsetAndMetadata{Offset{t.offset}, LeaderEpoch{t.leader_epoch.value_or(-1)}, ""});
    else if (t.offset == kOffsetBeginning) k.seek_to_beginning({t.tp()});
    else if (t.offset == kOffsetEnd) k.seek_to_end({t.tp()});
    else if (!from_assign || (t.offset != kOffsetStored && t.offset != kOffsetInvalid))
      throw ArgumentError("seek(): " + t.repr() + ": the offset must be >= 0, OFFSET_BEGINNING (-2) or OFFSET_END (-1)");
    // assign() with OFFSET_STORED / OFFSET_INVALID: the committed offset, else auto.offset.reset.
  }

 public:
  // Garbage-collector support: the Python objects this consumer holds.
  int traverse(visitproc visit, void* arg) {
    Py_VISIT(sim_obj_.ptr());
    for (const py::object* o : {&cbs_->on_assign, &cbs_->on_revoke, &cbs_->on_lost, &cbs_->on_commit, &cbs_->self})
      Py_VISIT(o->ptr());
    return 0;
  }
  void clear() {
    cbs_->on_assign = cbs_->on_revoke = cbs_->on_lost = cbs_->on_commit = py::none();
    cbs_->deferred.clear();
  }

 private:
  py::object sim_obj_;  // never cleared: the Simulation holds no Python objects of ours
  Cluster* c_;
  int32_t id_;
  std::string name_;
  Config config_;
  std::shared_ptr<ConsumerCallbacks> cbs_;
  uint32_t incarnation_;
  bool closed_ = false;
};

// ---- describe_group ----------------------------------------------------------------------------

struct PyGroupMember {
  std::string member_id;
  std::optional<std::string> group_instance_id;
  std::string client_id;
  std::optional<int32_t> client;  // the client node, when a ksim client
  std::vector<std::pair<std::string, int32_t>> assignment;
  std::vector<std::string> subscription;
  // Consumer (KIP-848) groups: the member's epoch and state, the partitions it
  // must still revoke, and its target (what it will own once reconciled).
  std::optional<int32_t> member_epoch;
  std::optional<std::string> member_state;
  std::vector<std::pair<std::string, int32_t>> pending_revocation, target;
  std::optional<std::string> subscribed_topic_regex;  // KIP-848 server-side regex
  bool classic_protocol = false;  // a consumer group's member that speaks the classic protocol
};

struct PyGroup {
  std::string group_id;
  std::optional<std::string> error;
  int32_t coordinator = -1;
  std::string state, protocol_type, protocol, leader;
  int32_t generation = -1;
  std::string group_protocol = "classic";                  // or "consumer" (KIP-848)
  std::optional<int32_t> group_epoch, assignment_epoch;   // consumer groups only
  std::vector<PyGroupMember> members;
  std::map<std::pair<std::string, int32_t>, int64_t> offsets;
  std::map<std::pair<std::string, int32_t>, int64_t> high_watermarks;
  std::map<std::pair<std::string, int32_t>, int64_t> lag;

  std::string text() const {
    std::string out = "GROUP " + group_id + "  state: " + state +
                      (group_epoch ? "  group.protocol: consumer  group epoch: " + std::to_string(*group_epoch) +
                                         "  assignment epoch: " + std::to_string(assignment_epoch.value_or(-1))
                                   : "  generation: " + std::to_string(generation)) +
                      "  protocol: " + (protocol.empty() ? "-" : protocol) + "  coordinator: " +
                      (coordinator >= 0 ? std::to_string(coordinator) : "none") + (error ? "  error: " + *error : "") + "\n";
    if (group_epoch) {
      // One line per member: where it is on its way to the target (kafka-consumer-groups --describe --members --verbose).
      for (const auto& m : members) {
        auto tps = [](const std::vector<std::pair<std::string, int32_t>>& v) {
          std::string t;
          for (const auto& [topic, p] : v) t += (t.empty() ? "" : ",") + topic + "-" + std::to_string(p);
          return t.empty() ? std::string("-") : t;
        };
        out += "MEMBER " + m.member_id + "  client: " + m.client_id + "  epoch: " + std::to_string(m.member_epoch.value_or(-1)) +
               "  state: " + m.member_state.value_or("-") + "  assigned: " + tps(m.assignment) +
               "  revoking: " + tps(m.pending_revocation) + "  target: " + tps(m.target) +
               (m.subscribed_topic_regex ? "  regex: " + *m.subscribed_topic_regex : "") +
               (m.classic_protocol ? "  protocol: classic" : "") + "\n";
      }
    }
    std::map<std::pair<std::string, int32_t>, const PyGroupMember*> owner;
    for (const auto& m : members)
      for (const auto& tp : m.assignment) owner[tp] = &m;
    std::map<std::pair<std::string, int32_t>, bool> rows;
    for (const auto& [tp, o] : offsets) rows[tp] = true;
    for (const auto& [tp, m] : owner) rows[tp] = true;
    char line[512];
    std::snprintf(line, sizeof line, "%-16s %-9s %-14s %-14s %-6s %-40s %s\n", "TOPIC", "PARTITION", "CURRENT-OFFSET",
                  "LOG-END-OFFSET", "LAG", "CONSUMER-ID", "CLIENT-ID");
    out += line;
    for (const auto& [tp, unused] : rows) {
      auto o = offsets.find(tp);
      auto h = high_watermarks.find(tp);
      auto l = lag.find(tp);
      auto m = owner.find(tp);
      std::snprintf(line, sizeof line, "%-16s %-9d %-14s %-14s %-6s %-40s %s\n", tp.first.c_str(), tp.second,
                    o != offsets.end() ? std::to_string(o->second).c_str() : "-",
                    h != high_watermarks.end() ? std::to_string(h->second).c_str() : "-",
                    l != lag.end() ? std::to_string(l->second).c_str() : "-",
                    m != owner.end() ? m->second->member_id.c_str() : "-",
                    m != owner.end() ? m->second->client_id.c_str() : "-");
      out += line;
    }
    if (members.empty() && offsets.empty()) out += "(no members, no committed offsets)\n";
    return out;
  }
};

PyGroup describe_group(Cluster& c, const std::string& group_id) {
  const coordinator::GroupDescription d = c.describe_group(group_id);
  PyGroup g;
  g.group_id = d.group_id;
  if (d.error != Errc::NONE) g.error = std::string(errc_name(d.error));
  g.coordinator = d.coordinator;
  g.state = d.state;
  g.generation = d.generation;
  g.protocol_type = d.protocol_type;
  g.protocol = d.protocol;
  g.leader = d.leader;
  g.group_protocol = d.group_protocol;
  if (d.group_protocol == "consumer") {
    g.group_epoch = d.group_epoch;
    g.assignment_epoch = d.assignment_epoch;
  }
  const int32_t last_node = static_cast<int32_t>(c.world().node_count());
  for (const auto& m : d.members) {
    PyGroupMember pm;
    pm.member_id = m.member_id;
    pm.group_instance_id = m.group_instance_id;
    pm.client_id = m.client_id;
    // By the node it joined from: two clients may share a client.id (every
    // static-replacement story has them).
    if (m.client_node >= 1 && m.client_node <= last_node && c.is_client(m.client_node)) pm.client = m.client_node;
    if (d.group_protocol == "consumer") {
      pm.member_epoch = m.member_epoch;
      pm.member_state = m.member_state;
      for (const auto& tp : m.assigned) pm.assignment.emplace_back(tp.topic, tp.partition);
      for (const auto& tp : m.pending_revocation) pm.pending_revocation.emplace_back(tp.topic, tp.partition);
      for (const auto& tp : m.target) pm.target.emplace_back(tp.topic, tp.partition);
      pm.subscription = m.subscription;
      if (!m.subscribed_topic_regex.empty()) pm.subscribed_topic_regex = m.subscribed_topic_regex;
      pm.classic_protocol = m.classic_protocol;
    } else if (d.protocol_type == clients::kConsumerProtocolType) {
      if (auto a = clients::decode_assignment(m.assignment))
        for (const auto& tp : a->partitions) pm.assignment.emplace_back(tp.topic, tp.partition);
      if (auto s = clients::decode_subscription(m.metadata)) pm.subscription = s->topics;
    }
    g.members.push_back(std::move(pm));
  }
  std::map<std::string, std::vector<PartitionDescription>> topics;
  for (const auto& [tp, om] : d.offsets) {
    const auto key = std::make_pair(tp.topic, tp.partition);
    g.offsets[key] = om.offset.value;
    if (!topics.count(tp.topic)) {
      try {
        topics[tp.topic] = c.describe_topic(tp.topic);
      } catch (const std::exception&) {
        topics[tp.topic] = {};
      }
    }
    for (const PartitionDescription& p : topics[tp.topic])
      if (p.partition == tp.partition && p.leader >= 0 && p.high_watermark.value >= 0) {
        g.high_watermarks[key] = p.high_watermark.value;
        g.lag[key] = std::max<int64_t>(0, p.high_watermark.value - om.offset.value);
      }
  }
  return g;
}

// ---- dump_log -------------------------------------------------------------------------------------

std::string printable(std::span<const uint8_t> b) {
  std::string out;
  for (uint8_t ch : b) {
    if (ch >= 0x20 && ch < 0x7f && ch != '\\') out += static_cast<char>(ch);
    else {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", ch);
      out += buf;
    }
  }
  return out;
}

std::string dump_log(Cluster& c, int32_t broker, const std::string& topic, int32_t partition) {
  if (!c.is_node(broker) || c.is_client(broker))
    throw sim::SimError("dump_log(): " + std::to_string(broker) + " is not a broker");
  KafkaNode* n = c.node(broker);
  if (!n) throw sim::SimError("dump_log(): broker " + std::to_string(broker) + " is down (its log is read from a live broker)");
  if (!n->broker()) throw sim::SimError("dump_log(): node " + std::to_string(broker) + " is a controller, not a broker");
  const Partition* p = n->broker()->replica_manager().get({topic, partition});
  if (!p)
    throw sim::SimError("dump_log(): broker " + std::to_string(broker) + " has no replica of " + topic + "-" +
                        std::to_string(partition));
  const storage::UnifiedLog& log = p->log();
  std::string out = "Dumping broker " + std::to_string(broker) + " " + topic + "-" + std::to_string(partition) +
                    " (live, t=" + std::to_string(c.now_ms()) + " ms)\n";
  out += "logStartOffset: " + std::to_string(log.log_start_offset().value) +
         " highWatermark: " + std::to_string(log.high_watermark().value) +
         " logEndOffset: " + std::to_string(log.log_end_offset().value) + " role: " + (p->is_leader() ? "leader" : "follower") +
         " leaderEpoch: " + std::to_string(p->leader_epoch().value) + "\n";
  for (const storage::BatchPtr& b : peek_batches(c.world().disk(sim_node_of(broker)), log)) {
    out += "baseOffset: " + std::to_string(b->base_offset().value) + " lastOffset: " + std::to_string(b->last_offset().value) +
           " count: " + std::to_string(b->records_count()) + " baseSequence: " + std::to_string(b->base_sequence()) +
           " producerId: " + std::to_string(b->producer_id().value) +
           " producerEpoch: " + std::to_string(b->producer_epoch().value) +
           " partitionLeaderEpoch: " + std::to_string(b->partition_leader_epoch().value) +
           " isTransactional: " + (b->is_transactional() ? "true" : "false") +
           " isControl: " + (b->is_control() ? "true" : "false") + " deleteHorizonMs: " +
           (b->delete_horizon_ms() ? "OptionalLong[" + std::to_string(*b->delete_horizon_ms()) + "]" : "OptionalLong.empty") +
           " size: " + std::to_string(b->size_in_bytes()) +
           " crc: " + std::to_string(b->crc()) + "\n";
    for (const storage::RecordView& r : b->records()) {
      out += "| offset: " + std::to_string(r.offset.value) +
             (b->timestamp_type() == storage::TimestampType::log_append_time ? " LogAppendTime: " : " CreateTime: ") +
             std::to_string(r.timestamp) + " key: " + (r.key ? printable(*r.key) : std::string("null"));
      if (!r.headers.empty()) {
        out += " headers: ";
        for (size_t i = 0; i < r.headers.size(); ++i)
          out += (i ? "," : "") + std::string(r.headers[i].first) + ":" +
                 (r.headers[i].second ? printable(*r.headers[i].second) : std::string("null"));
      }
      out += " payload: " + (r.value ? printable(*r.value) : std::string("null")) + "\n";
    }
  }
  return out;
}

// ---- construction ----------------------------------------------------------------------------------

std::string client_name_for(Cluster& c, const Config::Map& m, const char* kind) {
  auto it = m.find("client.id");
  if (it != m.end() && !it->second.empty()) return it->second;
  return std::string(kind) + "-" + std::to_string(kafka_id_of(sim::NodeId{static_cast<uint32_t>(c.world().node_count())}));
}

// Pops a Python-only key (a callable) out of a conf dict.
py::object pop_callable(py::dict& conf, const char* key) {
  if (!conf.contains(key)) return py::none();
  py::object f = conf[key];
  PyDict_DelItemString(conf.ptr(), key);
  if (!f.is_none() && !PyCallable_Check(f.ptr()))
    throw ConfigError(key, std::string("Invalid value for ") + key + ": expected a callable, not " + type_name(f));
  return f;
}

py::object make_producer(py::object self, py::dict conf_in, py::object partitioner, py::object on_delivery) {
  Cluster& c = self.cast<Cluster&>();
  py::dict conf = conf_in.attr("copy")();  // Python-only keys are taken out of the copy
  py::object conf_cb = pop_callable(conf, "on_delivery");
  if (on_delivery.is_none()) on_delivery = conf_cb;
  if (!on_delivery.is_none() && !PyCallable_Check(on_delivery.ptr()))
    throw ArgumentTypeError("producer(): on_delivery must be callable (err, msg)");
  if (!partitioner.is_none() && !PyCallable_Check(partitioner.ptr()))
    throw ArgumentTypeError("producer(): partitioner must be callable (key, partition_count) -> partition");
  const Config::Map map = conf_map(conf);
  // Validate before a client node exists (the constructor's own checks too).
  Config config = Config::parse(kProducer, map);
  if (!config.is_null("partitioner.class")) {
    const std::string cls = config.get_string("partitioner.class");
    if (cls != "RoundRobinPartitioner" && cls != "org.apache.kafka.clients.producer.RoundRobinPartitioner")
      throw ConfigError("partitioner.class", "Invalid value " + cls +
                                                 " for configuration partitioner.class: ksim knows null (the built-in "
                                                 "partitioner) and RoundRobinPartitioner");
  }
  clients::ProducerOptions options;
  std::shared_ptr<py::object> owned_partitioner;
  if (!partitioner.is_none()) {
    owned_partitioner = std::make_shared<py::object>(partitioner);
    std::weak_ptr<py::object> weak = owned_partitioner;
    sim::World* world = &c.world();
    options.partitioner = [weak, world](const std::string& topic, const std::optional<std::string>& key,
                                        const std::string&, int32_t count) -> int32_t {
      std::shared_ptr<py::object> fn = weak.lock();
      if (!fn || fn->is_none()) return -1;  // the Python Producer is gone: the built-in partitioner
      try {
        py::object r = (*fn)(bytes_or_none(key), count);
        if (!py::isinstance<py::int_>(r) || py::isinstance<py::bool_>(r))
          throw ArgumentTypeError("the partitioner must return an int partition, not " + type_name(r));
        const int64_t p = r.cast<int64_t>();
        if (p < 0 || p >= count)
          throw ArgumentError("the partitioner returned partition " + std::to_string(p) + " for topic " + topic +
                                ", which has " + std::to_string(count) + " partitions");
        return static_cast<int32_t>(p);
      } catch (py::error_already_set& e) {
        if (!world->in_fiber()) throw;
        e.discard_as_unraisable("ksim partitioner");
        return count;  // out of range: the record fails with UNKNOWN_TOPIC_OR_PARTITION
      } catch (const py::builtin_exception&) {
        if (!world->in_fiber()) throw;
        return count;
      }
    };
  }
  const std::string name = client_name_for(c, map, "producer");
  auto q = std::make_shared<DeliveryQueue>();
  const int32_t id = c.add_client(name, [map, options](const clients::ClientContext& ctx) -> std::shared_ptr<void> {
    return std::make_shared<KafkaProducer>(ctx, map, options);
  }, "producer");
  return py::cast(std::make_unique<PyProducer>(self, id, name, std::move(config), q, on_delivery, owned_partitioner));
}

py::object make_consumer(py::object self, py::dict conf_in, py::object on_commit) {
  Cluster& c = self.cast<Cluster&>();
  py::dict conf = conf_in.attr("copy")();
  py::object conf_cb = pop_callable(conf, "on_commit");
  if (on_commit.is_none()) on_commit = conf_cb;
  if (!on_commit.is_none() && !PyCallable_Check(on_commit.ptr()))
    throw ArgumentTypeError("consumer(): on_commit must be callable (err, partitions)");
  const Config::Map map = conf_map(conf);
  Config config = Config::parse(kConsumer, map);
  if (!config.is_null("group.id") && config.get_int("heartbeat.interval.ms") >= config.get_int("session.timeout.ms"))
    throw ConfigError("heartbeat.interval.ms", "Heartbeat must be set lower than the session timeout");
  const std::string name = client_name_for(c, map, "consumer");
  auto cbs = std::make_shared<ConsumerCallbacks>();
  cbs->world = &c.world();
  cbs->on_commit = on_commit;
  const int32_t id = c.add_client(name, [map](const clients::ClientContext& ctx) -> std::shared_ptr<void> {
    return std::make_shared<KafkaConsumer>(ctx, map);
  }, "consumer");
  py::object obj = py::cast(std::make_unique<PyConsumer>(self, id, name, std::move(config), cbs));
  cbs->self = py::weakref(obj);
  return obj;
}

}  // namespace

void bind_client_types(py::module_& m) {
  m.attr("OFFSET_BEGINNING") = kOffsetBeginning;
  m.attr("OFFSET_END") = kOffsetEnd;
  m.attr("OFFSET_STORED") = kOffsetStored;
  m.attr("OFFSET_INVALID") = kOffsetInvalid;
  m.attr("TIMESTAMP_NOT_AVAILABLE") = kTimestampNotAvailable;
  m.attr("TIMESTAMP_CREATE_TIME") = kTimestampCreateTime;
  m.attr("TIMESTAMP_LOG_APPEND_TIME") = kTimestampLogAppendTime;

  py::class_<PyKafkaError> err(m, "KafkaError", R"(A Kafka error (confluent-kafka's KafkaError).

name(): Kafka's error name ("NOT_ENOUGH_REPLICAS", "DELIVERY_TIMEOUT", ...);
code(): its numeric code (KafkaError.NOT_ENOUGH_REPLICAS == 19); str(): a
human description; retriable(): as Kafka classifies it; fatal() and
txn_requires_abort(): as confluent-kafka answers them. KafkaError(code_or_name,
reason=None) builds one; equality compares codes (also with an int).)");
  err.def(py::init([](py::object error, std::optional<std::string> reason) {
            Errc e;
            if (py::isinstance<py::str>(error)) {
              auto it = error_codes().find(error.cast<std::string>());
              if (it == error_codes().end()) throw ArgumentError("unknown Kafka error name '" + error.cast<std::string>() + "'");
              e = static_cast<Errc>(it->second);
            } else {
              e = static_cast<Errc>(error.cast<int>());
            }
            return PyKafkaError::of(e, reason.value_or(""));
          }),
          py::arg("error"), py::arg("reason") = py::none())
      .def("code", [](const PyKafkaError& e) { return e.code; }, "Kafka's numeric error code.")
      .def("name", [](const PyKafkaError& e) { return e.name; }, "Kafka's error name, e.g. NOT_ENOUGH_REPLICAS.")
      .def("str", [](const PyKafkaError& e) { return e.text(); }, "A human-readable description.")
      .def("retriable", [](const PyKafkaError& e) { return e.retriable; }, "Retriable as Kafka classifies it.")
      .def("fatal", [](const PyKafkaError& e) { return e.fatal; },
           "The client cannot go on: PRODUCER_FENCED (or any ProducerFencedException), FENCED_INSTANCE_ID.")
      .def("txn_requires_abort", [](const PyKafkaError& e) { return e.txn_requires_abort; },
           "The transaction must be aborted, the producer lives on: INVALID_PRODUCER_EPOCH on Produce "
           "(KAFKA-10687), TRANSACTION_ABORTABLE.")
      .def_property_readonly("kind", [](const PyKafkaError& e) { return e.kind; },
                             "The Java exception class behind a failed call (e.g. CommitFailedException), or ''.")
      .def("__eq__", [](const PyKafkaError& a, const PyKafkaError& b) { return a.code == b.code; })
      .def("__eq__", [](const PyKafkaError& a, int code) { return a.code == code; })
      .def("__hash__", [](const PyKafkaError& e) { return py::hash(py::int_(e.code)); })
      .def("__str__", &PyKafkaError::text)
      .def("__repr__", [](const PyKafkaError& e) { return "KafkaError{code=" + e.name + ",val=" + std::to_string(e.code) + ",str=\"" + e.text() + "\"}"; });
  for (const auto& [name, code] : error_codes())
    if (name != "NONE") err.attr(name.c_str()) = code;
  err.attr("NO_ERROR") = 0;

  // KafkaException: a consumer call failed the way Kafka's Java client throws
  // (CommitFailedException, TimeoutException, IllegalStateException, ...).
  // args[0] is the KafkaError (confluent-kafka's shape), .kind the Java class.
  static py::exception<clients::KafkaException> kafka_exception(m, "KafkaException", py::object(m.attr("KsimError")));
  kafka_exception.doc() = "A client call failed as Kafka's client fails: args[0] is the KafkaError, .kind the Java exception class.";
  py::register_exception_translator([](std::exception_ptr p) {
    try {
      if (p) std::rethrow_exception(p);
    } catch (const clients::KafkaException& e) {
      PyKafkaError k = PyKafkaError::of(e.error(), e.what(), e.kind());
      py::object inst = py::reinterpret_borrow<py::object>(kafka_exception.ptr())(py::cast(k));
      inst.attr("kind") = e.kind();
      PyErr_SetObject(kafka_exception.ptr(), inst.ptr());
    }
  });

  py::class_<PyTopicPartition>(m, "TopicPartition", R"(A topic partition and an offset (confluent-kafka's TopicPartition).

TopicPartition(topic, partition=-1, offset=OFFSET_INVALID, metadata=None,
leader_epoch=None). Offsets: >= 0 an absolute offset, OFFSET_BEGINNING (-2),
OFFSET_END (-1), OFFSET_STORED (-1000: the committed offset), OFFSET_INVALID
(-1001: none/unknown). Equality and hashing use (topic, partition).)")
      .def(py::init([](std::string topic, int32_t partition, int64_t offset, std::optional<std::string> metadata,
                       std::optional<int32_t> leader_epoch) {
             PyTopicPartition t;
             t.topic = std::move(topic);
             t.partition = partition;
             t.offset = offset;
             t.metadata = std::move(metadata);
             t.leader_epoch = leader_epoch;
             return t;
           }),
           py::arg("topic"), py::arg("partition") = -1, py::arg("offset") = kOffsetInvalid,
           py::arg("metadata") = py::none(), py::arg("leader_epoch") = py::none())
      .def_readwrite("topic", &PyTopicPartition::topic)
      .def_readwrite("partition", &PyTopicPartition::partition)
      .def_readwrite("offset", &PyTopicPartition::offset)
      .def_readwrite("metadata", &PyTopicPartition::metadata)
      .def_readwrite("leader_epoch", &PyTopicPartition::leader_epoch)
      .def_readonly("error", &PyTopicPartition::error, "A KafkaError for this partition, or None.")
      .def("__eq__", [](const PyTopicPartition& a, const PyTopicPartition& b) { return a.topic == b.topic && a.partition == b.partition; })
      .def("__lt__", [](const PyTopicPartition& a, const PyTopicPartition& b) { return std::tie(a.topic, a.partition) < std::tie(b.topic, b.partition); })
      .def("__hash__", [](const PyTopicPartition& t) { return py::hash(py::make_tuple(t.topic, t.partition)); })
      .def("__repr__", &PyTopicPartition::repr)
      .def("__str__", &PyTopicPartition::repr);

  py::class_<PyMessage>(m, "Message", R"(A record: consumed (Consumer.poll) or delivered (on_delivery's msg).

confluent-kafka's accessors: topic() partition() offset() key() value()
headers() timestamp() error() leader_epoch(); key/value are bytes (or None),
headers a list of (name, bytes) or None, timestamp() a (type, ms) pair with
type TIMESTAMP_CREATE_TIME / TIMESTAMP_LOG_APPEND_TIME / TIMESTAMP_NOT_AVAILABLE.
offset() is OFFSET_INVALID (-1001) when unknown (acks=0, a failed delivery).)")
      .def("topic", [](const PyMessage& m) { return m.topic; })
      .def("partition", [](const PyMessage& m) -> py::object {
        return m.partition >= 0 ? py::object(py::int_(m.partition)) : py::object(py::none());
      })
      .def("offset", [](const PyMessage& m) { return m.offset; })
      .def("key", [](const PyMessage& m) { return bytes_or_none(m.key); })
      .def("value", [](const PyMessage& m) { return bytes_or_none(m.value); })
      .def("headers", [](const PyMessage& m) -> py::object {
        if (!m.headers) return py::none();
        py::list out;
        for (const auto& [k, v] : *m.headers) out.append(py::make_tuple(k, bytes_or_none(v)));
        return out;
      })
      .def("timestamp", [](const PyMessage& m) { return py::make_tuple(m.timestamp_type, m.timestamp); })
      .def("error", [](const PyMessage& m) -> py::object { return m.error ? py::cast(*m.error) : py::none(); })
      .def("leader_epoch", [](const PyMessage& m) -> py::object {
        return m.leader_epoch >= 0 ? py::object(py::int_(m.leader_epoch)) : py::object(py::none());
      })
      .def("__len__", [](const PyMessage& m) { return m.value ? m.value->size() : 0; })
      .def("__repr__", [](const PyMessage& m) {
        return "<Message " + m.topic + "-" + std::to_string(m.partition) + "@" + std::to_string(m.offset) +
               (m.error ? " error=" + m.error->name : "") + ">";
      });

  py::class_<PyProducer>(m, "Producer", gc_support<PyProducer>(), R"(A Kafka producer on a client node of its own (sim.producer(conf)).

produce() hands a record to the producer (it may run the simulation while it
waits for the topic's metadata, up to max.block.ms, as the Java client's send()
blocks); the Sender sends it while the simulation runs. Delivery reports
(on_delivery(err, msg)) are served by poll() and flush() (and close()), as in
confluent-kafka: never from inside the simulation. len(p): records not yet
reported. .id is the client node (sim.crash(p.id) kills it like a JVM);
calls on a crashed or closed producer raise KsimError.)")
      .def_property_readonly("id", &PyProducer::id, "The client node id (usable with sim.crash/restart/pause/partition).")
      .def_property_readonly("name", &PyProducer::name, "The client name (client.id), e.g. producer-4.")
      .def("produce", &PyProducer::produce, py::arg("topic"), py::arg("value") = py::none(), py::arg("key") = py::none(),
           py::arg("partition") = py::none(), py::arg("on_delivery") = py::none(), py::arg("headers") = py::none(),
           py::arg("timestamp") = py::none(), py::arg("callback") = py::none(),
           R"(Send a record: value/key bytes or str; partition None/-1 lets the partitioner
choose; headers a dict or list of (str, bytes|str|None); timestamp ms (None: now);
on_delivery(err, msg) (alias callback=) is served by a later poll()/flush().)")
      .def("poll", &PyProducer::poll, py::arg("timeout_ms") = 0,
           "Serve queued delivery reports; with timeout_ms > 0 run the simulation until one is ready or the timeout "
           "passed. Returns how many were served.")
      .def("flush", &PyProducer::flush, py::arg("timeout_ms") = py::none(),
           "Run the simulation until every record produced so far is delivered (or failed) or timeout_ms passed "
           "(None: until done), serve the delivery reports, return how many are still undelivered.")
      .def("close", &PyProducer::close, py::arg("timeout_ms") = py::none(),
           "Send what is buffered and stop (Kafka's close(timeout)); what is left after timeout_ms fails. Serves "
           "the reports. Later calls raise KsimError.")
      .def("effective_config", &PyProducer::effective_config, "Every producer key with its effective value (a dict).")
      .def("metrics", &PyProducer::metrics,
           "Kafka's producer metrics ksim keeps: produce-throttle-time-avg and -max (ms; every Produce\n"
           "response's throttle_time_ms, 0 included, over metrics.num.samples windows of metrics.sample.window.ms).")
      .def("producer_id", &PyProducer::producer_id,
           "(producer id, epoch) once InitProducerId answered (idempotence), else None.")
      .def("init_transactions", &PyProducer::init_transactions, py::arg("timeout_ms") = py::none(),
           "Transactions (transactional.id): get the producer id/epoch from the transaction coordinator, fencing "
           "any older producer with the same transactional.id and aborting what it left open. Runs the simulation; "
           "raises KafkaException (TimeoutException: may be retried).")
      .def("begin_transaction", &PyProducer::begin_transaction, "Start a transaction (local: nothing is sent).")
      .def("send_offsets_to_transaction", &PyProducer::send_offsets_to_transaction, py::arg("positions"),
           py::arg("group_metadata"), py::arg("timeout_ms") = py::none(),
           "Commit the consumer's positions (TopicPartitions with the next offsets to read) as part of the "
           "transaction: AddOffsetsToTxn, then TxnOffsetCommit to the group coordinator, fenced by "
           "group_metadata (consumer.consumer_group_metadata()).")
      .def("commit_transaction", &PyProducer::commit_transaction, py::arg("timeout_ms") = py::none(),
           "Flush, then EndTxn(commit). Raises KafkaException if a send failed (abort then), "
           "ProducerFencedException if another producer took over the transactional.id.")
      .def("abort_transaction", &PyProducer::abort_transaction, py::arg("timeout_ms") = py::none(),
           "Fail the unsent records (TRANSACTION_ABORTED), wait for the in-flight ones, EndTxn(abort).")
      .def("__len__", &PyProducer::pending)
      .def("__repr__", &PyProducer::repr);

  py::class_<clients::ConsumerGroupMetadata>(m, "ConsumerGroupMetadata",
                                             "A consumer's group metadata (consumer.consumer_group_metadata()).")
      .def_readonly("group_id", &clients::ConsumerGroupMetadata::group_id)
      .def_readonly("generation_id", &clients::ConsumerGroupMetadata::generation_id)
      .def_readonly("member_id", &clients::ConsumerGroupMetadata::member_id)
      .def_readonly("group_instance_id", &clients::ConsumerGroupMetadata::group_instance_id)
      .def("__repr__", [](const clients::ConsumerGroupMetadata& g) {
        return "<ksim.ConsumerGroupMetadata group=" + g.group_id + " generation=" + std::to_string(g.generation_id) +
               " member=" + g.member_id + ">";
      });
  py::class_<PyConsumer>(m, "Consumer", gc_support<PyConsumer>(), R"(A Kafka consumer on a client node of its own (sim.consumer(conf)).

subscribe() (with a group.id) or assign(), then poll(timeout_ms) returns one
Message or None, running the simulation while it waits. Rebalance callbacks
(on_assign/on_revoke/on_lost(consumer, partitions)) run inside poll(); async
commit results go to on_commit(err, partitions) (conf key or keyword of
sim.consumer). Errors of the Java client surface as ksim.KafkaException; calls
on a crashed or closed consumer raise KsimError. After sim.restart(c.id) the
consumer is a fresh one: subscribe or assign again.)")
      .def_property_readonly("id", &PyConsumer::id, "The client node id (usable with sim.crash/restart/pause/partition).")
      .def_property_readonly("name", &PyConsumer::name, "The client name (client.id), e.g. consumer-5.")
      .def("subscribe", &PyConsumer::subscribe, py::arg("topics"), py::arg("on_assign") = py::none(),
           py::arg("on_revoke") = py::none(), py::arg("on_lost") = py::none(),
           "Join the group for these topics (a list of names; a name starting with '^' is a regex).")
      .def("assign", &PyConsumer::assign, py::arg("partitions"),
           "Read these partitions without group management; each TopicPartition's offset (>= 0, OFFSET_BEGINNING, "
           "OFFSET_END) sets the start, OFFSET_INVALID/OFFSET_STORED: the committed offset, else auto.offset.reset.")
      .def("unassign", &PyConsumer::unassign)
      .def("unsubscribe", &PyConsumer::unsubscribe)
      .def("assignment", &PyConsumer::assignment, "The assigned partitions.")
      .def("metrics", &PyConsumer::metrics,
           "Kafka's consumer metrics ksim keeps: fetch-throttle-time-avg and -max (ms; every Fetch\n"
           "response's throttle_time_ms, 0 included, over metrics.num.samples windows of metrics.sample.window.ms).")
      .def("poll", &PyConsumer::poll, py::arg("timeout_ms") = kDefaultPollMs,
           "The next record (a Message), or None after timeout_ms of virtual time. poll(0) never advances time.")
      .def("consume", &PyConsumer::consume, py::arg("num_messages") = 1, py::arg("timeout_ms") = kDefaultPollMs,
           "Up to num_messages records, waiting at most timeout_ms (virtual).")
      .def("commit", &PyConsumer::commit, py::arg("message") = py::none(), py::arg("offsets") = py::none(),
           py::arg("asynchronous") = false,
           R"(Commit message.offset()+1, or the given TopicPartition offsets, or (neither)
the position of every assigned partition. Synchronous by default (ksim's
default; confluent's is asynchronous): returns the committed TopicPartitions
or raises KafkaException (e.g. CommitFailedException). asynchronous=True
returns None; on_commit(err, partitions) reports the result from a later call.)")
      .def("seek", &PyConsumer::seek, py::arg("partition"), "Set the position of an assigned partition.")
      .def("position", &PyConsumer::position, py::arg("partitions"),
           "The current positions (OFFSET_INVALID where unknown); never advances time.")
      .def("consumer_group_metadata", &PyConsumer::consumer_group_metadata,
           "The group, generation and member id, for Producer.send_offsets_to_transaction (KIP-447 fencing).")
      .def("committed", &PyConsumer::committed, py::arg("partitions"), py::arg("timeout_ms") = py::none(),
           "The group's committed offsets (OffsetFetch; OFFSET_INVALID where none).")
      .def("get_watermark_offsets", &PyConsumer::get_watermark_offsets, py::arg("partition"),
           py::arg("timeout_ms") = py::none(), "(low, high) offsets of the partition (ListOffsets).")
      .def("offsets_for_times", &PyConsumer::offsets_for_times, py::arg("partitions"), py::arg("timeout_ms") = py::none(),
           "For TopicPartitions whose offset is a timestamp (ms): the first offset at or after it (OFFSET_END if none).")
      .def("pause", &PyConsumer::pause, py::arg("partitions"))
      .def("resume", &PyConsumer::resume, py::arg("partitions"))
      .def("memberid", &PyConsumer::memberid, "The group member id, or None.")
      .def("generation", &PyConsumer::generation, "The group generation the consumer is in (-1: none).")
      .def("close", &PyConsumer::close, py::arg("timeout_ms") = py::none(),
           "Commit (auto-commit), revoke, leave the group. Later calls raise KsimError.")
      .def("effective_config", &PyConsumer::effective_config, "Every consumer key with its effective value (a dict).")
      .def("__repr__", &PyConsumer::repr);

  py::class_<PyGroupMember>(m, "GroupMember", "One member of a consumer group, as the coordinator holds it.")
      .def_readonly("member_id", &PyGroupMember::member_id)
      .def_readonly("group_instance_id", &PyGroupMember::group_instance_id)
      .def_readonly("client_id", &PyGroupMember::client_id)
      .def_readonly("client", &PyGroupMember::client, "The ksim client node id of the member (None if unknown).")
      .def_readonly("assignment", &PyGroupMember::assignment, "[(topic, partition), ...] from the last SyncGroup.")
      .def_readonly("subscription", &PyGroupMember::subscription,
                    "The topics the member subscribed to (group.protocol=consumer: with what its regex resolved to).")
      .def_readonly("classic_protocol", &PyGroupMember::classic_protocol,
                    "group.protocol=consumer: True for a member that still speaks JoinGroup / SyncGroup "
                    "(a classic consumer in a migrated or mixed group).")
      .def_readonly("subscribed_topic_regex", &PyGroupMember::subscribed_topic_regex,
                    "group.protocol=consumer: the regex the coordinator resolves for the member (None: topic names).")
      .def_readonly("member_epoch", &PyGroupMember::member_epoch,
                    "group.protocol=consumer: the member's epoch (-2: a static member that left); None for classic.")
      .def_readonly("member_state", &PyGroupMember::member_state,
                    "group.protocol=consumer: STABLE, UNREVOKED_PARTITIONS or UNRELEASED_PARTITIONS; None for classic.")
      .def_readonly("pending_revocation", &PyGroupMember::pending_revocation,
                    "group.protocol=consumer: partitions it must revoke before it gets anything new.")
      .def_readonly("target", &PyGroupMember::target,
                    "group.protocol=consumer: its partitions in the target assignment.")
      .def("__repr__", [](const PyGroupMember& m) {
        return "<GroupMember " + m.member_id + " " + m.client_id + " " + std::to_string(m.assignment.size()) + " partitions>";
      });
  py::class_<PyGroup>(m, "GroupDescription", R"(A consumer group (DescribeGroups + OffsetFetch + the partitions' HW).

state (Kafka's names: Empty, PreparingRebalance, CompletingRebalance, Stable,
Dead), generation, protocol (the assignor), leader (member id), members,
offsets {(topic, partition): committed offset}, high_watermarks, lag
{(topic, partition): HW - committed}, error (None or COORDINATOR_NOT_AVAILABLE,
...). str() is kafka-consumer-groups --describe style.)")
      .def_readonly("group_id", &PyGroup::group_id)
      .def_readonly("error", &PyGroup::error)
      .def_readonly("coordinator", &PyGroup::coordinator)
      .def_readonly("state", &PyGroup::state)
      .def_readonly("generation", &PyGroup::generation)
      .def_readonly("group_protocol", &PyGroup::group_protocol, "classic, or consumer (KIP-848)")
      .def_readonly("group_epoch", &PyGroup::group_epoch, "group.protocol=consumer: the group epoch (None for classic)")
      .def_readonly("assignment_epoch", &PyGroup::assignment_epoch,
                    "group.protocol=consumer: the target assignment epoch (None for classic)")
      .def_readonly("protocol_type", &PyGroup::protocol_type)
      .def_readonly("protocol", &PyGroup::protocol)
      .def_readonly("leader", &PyGroup::leader)
      .def_readonly("members", &PyGroup::members)
      .def_readonly("offsets", &PyGroup::offsets)
      .def_readonly("high_watermarks", &PyGroup::high_watermarks)
      .def_readonly("lag", &PyGroup::lag)
      .def("__str__", &PyGroup::text)
      .def("__repr__", [](const PyGroup& g) {
        return "<GroupDescription " + g.group_id + " " + g.state + " generation " + std::to_string(g.generation) + ", " +
               std::to_string(g.members.size()) + " members>";
      });
}

void add_client_methods(SimulationClass& sim) {
  sim.def("producer", &make_producer, py::arg("conf") = py::dict(), py::arg("partitioner") = py::none(),
          py::arg("on_delivery") = py::none(),
          R"(A Producer on a new client node. conf: Kafka's producer keys (acks,
enable.idempotence, linger.ms, max.in.flight.requests.per.connection,
partitioner.class, ...; values str/int/bool); an unknown key or an invalid
combination raises ConfigError naming the key. partitioner(key_bytes_or_None,
partition_count) -> int overrides the partitioner; on_delivery (or conf key
'on_delivery') is the default delivery callback.)")
      .def("consumer", &make_consumer, py::arg("conf") = py::dict(), py::arg("on_commit") = py::none(),
           R"(A Consumer on a new client node. conf: Kafka's consumer keys (group.id,
auto.offset.reset, enable.auto.commit, isolation.level, session.timeout.ms,
partition.assignment.strategy, ...); ConfigError names a bad key.
on_commit(err, partitions) (or conf key 'on_commit') receives async commit results.)")
      .def("describe_group", &describe_group, py::arg("group_id"),
           "A consumer group as its coordinator holds it, with committed offsets and lag (GroupDescription).")
      .def(
          "describe_transaction",
          [](Cluster& c, const std::string& transactional_id) {
            if (transactional_id.empty()) throw ArgumentError("describe_transaction(): empty transactional.id");
            const coordinator::TxnDescription d = c.describe_transaction(transactional_id);
            if (d.error != Errc::NONE)
              throw ClusterError(d.error, "describe_transaction('" + transactional_id +
                                              "'): " + std::string(errc_name(d.error)));
            py::dict out;
            out["transactional_id"] = d.transactional_id;
            out["coordinator"] = d.coordinator;
            out["state"] = d.state;
            out["producer_id"] = d.producer_id.value;
            out["producer_epoch"] = d.producer_epoch.value;
            out["timeout_ms"] = d.timeout_ms;
            out["start_ms"] = d.start_ms;
            py::list parts;
            for (const TopicPartition& tp : d.partitions) parts.append(py::make_tuple(tp.topic, tp.partition));
            out["partitions"] = parts;
            return out;
          },
          py::arg("transactional_id"),
          "kafka-transactions.sh describe: a dict (state: Empty / Ongoing / PrepareCommit / ... , producer_id, "
          "producer_epoch, partitions, coordinator, timeout_ms, start_ms); ClusterError if unknown or unavailable.")
      .def("dump_log", &dump_log, py::arg("broker"), py::arg("topic"), py::arg("partition"),
           "kafka-dump-log --print-data-log style text of a live broker's replica (batches and records).");
}

}  // namespace ksim::py_bindings
