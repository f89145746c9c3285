#include "engine/export/run_store.h"

#include <google/protobuf/io/zero_copy_stream_impl.h>
#include <google/protobuf/util/delimited_message_util.h>
#include <sqlite3.h>

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>

#include <cstdio>
#include <map>
#include <memory>
#include <vector>

#include "engine/common/node_ids.h"
#include "trace.pb.h"
#include "sim/trace.h"

namespace ksim::exporter {
namespace {

constexpr const char* kVersion = "ksim 0.1.0";

constexpr const char* kSchema = R"sql(
CREATE TABLE run (key TEXT PRIMARY KEY, value TEXT);
CREATE TABLE summary (id INTEGER PRIMARY KEY, proto BLOB);
CREATE TABLE ops (id INTEGER PRIMARY KEY, client INTEGER, client_name TEXT, type TEXT, invoke_ms REAL,
  complete_ms REAL, outcome TEXT, error TEXT, topic TEXT, partition INTEGER, key TEXT, value TEXT,
  offset INTEGER, acks INTEGER, idempotent INTEGER, leader INTEGER, group_id TEXT, generation INTEGER,
  member_id TEXT, detail TEXT, offsets TEXT, transactional INTEGER, txn_state TEXT, read_committed INTEGER);
CREATE TABLE polled_records (op_id INTEGER, topic TEXT, partition INTEGER, offset INTEGER, key TEXT,
  value TEXT, leader_epoch INTEGER, high_watermark INTEGER);
CREATE TABLE events (at_ms REAL, type TEXT, node INTEGER, topic TEXT, partition INTEGER, leader_epoch INTEGER,
  unclean INTEGER, isr TEXT, replicas TEXT, what TEXT);
CREATE TABLE anomalies (kind TEXT, expected INTEGER, cause TEXT, topic TEXT, partition INTEGER, offsets TEXT,
  records TEXT, at_ms REAL, explanation TEXT);
CREATE TABLE records (broker INTEGER, topic TEXT, partition INTEGER, base_offset INTEGER, last_offset INTEGER,
  leader_epoch INTEGER, producer_id INTEGER, producer_epoch INTEGER, base_sequence INTEGER,
  is_transactional INTEGER, is_control INTEGER, crc INTEGER, batch_size INTEGER, offset INTEGER,
  timestamp INTEGER, key TEXT, value TEXT);
CREATE TABLE trace (idx INTEGER PRIMARY KEY, at_ns INTEGER, node INTEGER, kind TEXT, description TEXT);
CREATE TABLE metrics (name TEXT PRIMARY KEY, value REAL);
CREATE TABLE metrics_series (at_ms INTEGER, name TEXT, value REAL);
CREATE TABLE partition_states (at_ms INTEGER, topic TEXT, partition INTEGER, leader INTEGER, leader_epoch INTEGER,
  isr TEXT, high_watermark INTEGER, log_end_offsets TEXT);
CREATE VIEW messages AS SELECT * FROM trace WHERE kind LIKE 'net%';
CREATE INDEX partition_states_by_time ON partition_states (topic, partition, at_ms);
CREATE INDEX records_by_replica ON records (broker, topic, partition, offset);
CREATE INDEX events_by_time ON events (at_ms);
)sql";

struct DbCloser {
  void operator()(sqlite3* db) const { sqlite3_close(db); }
};
using Db = std::unique_ptr<sqlite3, DbCloser>;
struct Blob {
  std::string bytes;
};

Db open_db(const std::string& path, bool write) {
  if (write) std::remove(path.c_str());
  sqlite3* raw = nullptr;
  const int flags = write ? SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE : SQLITE_OPEN_READONLY;
  if (sqlite3_open_v2(path.c_str(), &raw, flags, nullptr) != SQLITE_OK) {
    const std::string msg = raw ? sqlite3_errmsg(raw) : "out of memory";
    sqlite3_close(raw);
    throw RunStoreError("cannot open " + path + ": " + msg);
  }
  return Db(raw);
}

void exec(sqlite3* db, const std::string& sql, const std::string& path) {
  char* err = nullptr;
  if (sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &err) != SQLITE_OK) {
    const std::string msg = err ? err : "error";
    sqlite3_free(err);
    throw RunStoreError(path + ": " + msg);
  }
}

// A prepared statement with positional binding: stmt.row(a, b, c).
class Stmt {
 public:
  Stmt(sqlite3* db, const std::string& sql, const std::string& path) : path_(path) {
    if (sqlite3_prepare_v2(db, sql.c_str(), -1, &s_, nullptr) != SQLITE_OK)
      throw RunStoreError(path + ": " + sqlite3_errmsg(db) + " (" + sql + ")");
  }
  ~Stmt() { sqlite3_finalize(s_); }
  Stmt(const Stmt&) = delete;
  Stmt& operator=(const Stmt&) = delete;

  template <class... A>
  void row(const A&... args) {
    int i = 0;
    (bind(++i, args), ...);
    if (sqlite3_step(s_) != SQLITE_DONE) throw RunStoreError(path_ + ": insert failed");
    sqlite3_reset(s_);
    sqlite3_clear_bindings(s_);
  }
  // The next row; false at the end. A file that turns out corrupt (or not a
  // database) mid-query throws rather than passing for a shorter result.
  bool next() {
    const int rc = sqlite3_step(s_);
    if (rc == SQLITE_ROW) return true;
    if (rc == SQLITE_DONE) return false;
    throw RunStoreError(path_ + ": " + sqlite3_errmsg(sqlite3_db_handle(s_)));
  }
  int64_t i(int col) const { return sqlite3_column_int64(s_, col); }
  double d(int col) const { return sqlite3_column_double(s_, col); }
  std::string s(int col) const {  // text or blob, embedded NULs included
    const auto* t = static_cast<const char*>(sqlite3_column_blob(s_, col));
    return t ? std::string(t, static_cast<size_t>(sqlite3_column_bytes(s_, col))) : std::string();
  }
  bool null(int col) const { return sqlite3_column_type(s_, col) == SQLITE_NULL; }
  template <class... A>
  void params(const A&... args) {
    int i = 0;
    (bind(++i, args), ...);
  }

 private:
  void bind(int i, int64_t v) { sqlite3_bind_int64(s_, i, v); }
  void bind(int i, int32_t v) { sqlite3_bind_int64(s_, i, v); }
  void bind(int i, uint64_t v) { sqlite3_bind_int64(s_, i, static_cast<int64_t>(v)); }
  void bind(int i, uint32_t v) { sqlite3_bind_int64(s_, i, v); }
  void bind(int i, int16_t v) { sqlite3_bind_int64(s_, i, v); }
  void bind(int i, bool v) { sqlite3_bind_int64(s_, i, v ? 1 : 0); }
  void bind(int i, double v) { sqlite3_bind_double(s_, i, v); }
  void bind(int i, const std::string& v) { sqlite3_bind_text(s_, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT); }
  void bind(int i, const TopicName& v) { bind(i, v.str()); }
  void bind(int i, const char* v) { sqlite3_bind_text(s_, i, v, -1, SQLITE_TRANSIENT); }
  // History strings are views into its pool.
  void bind(int i, std::string_view v) { sqlite3_bind_text(s_, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT); }
  void bind(int i, const std::optional<std::string_view>& v) {
    if (v) bind(i, *v);
    else sqlite3_bind_null(s_, i);
  }
  void bind(int i, const std::optional<std::string>& v) {
    if (v) bind(i, *v);
    else sqlite3_bind_null(s_, i);
  }
  void bind(int i, std::nullptr_t) { sqlite3_bind_null(s_, i); }
  void bind(int i, const Blob& b) {
    sqlite3_bind_blob(s_, i, b.bytes.data(), static_cast<int>(b.bytes.size()), SQLITE_TRANSIENT);
  }

  sqlite3_stmt* s_ = nullptr;
  std::string path_;
};

double ms(int64_t ns) { return static_cast<double>(ns) / 1e6; }

// Protobuf map fields serialize in hash order unless asked otherwise: same run, same bytes.
std::string deterministic_bytes(const google::protobuf::MessageLite& m) {
  std::string bytes;
  {
    google::protobuf::io::StringOutputStream sos(&bytes);
    google::protobuf::io::CodedOutputStream cos(&sos);
    cos.SetSerializationDeterministic(true);
    m.ByteSizeLong();  // caches the sizes SerializeWithCachedSizes needs
    m.SerializeWithCachedSizes(&cos);
  }
  return bytes;
}

std::string join(const std::vector<int32_t>& v) {
  std::string s;
  for (size_t i = 0; i < v.size(); ++i) s += (i ? "," : "") + std::to_string(v[i]);
  return s;
}

const char* op_type(check::OpType t) {
  switch (t) {
    case check::OpType::send: return "send";
    case check::OpType::poll: return "poll";
    case check::OpType::commit: return "commit";
    case check::OpType::seek: return "seek";
    case check::OpType::assign: return "assign";
    case check::OpType::revoke: return "revoke";
  }
  return "?";
}
const char* outcome(check::Outcome o) {
  switch (o) {
    case check::Outcome::pending: return "pending";
    case check::Outcome::ok: return "ok";
    case check::Outcome::fail: return "fail";
    case check::Outcome::info: return "info";
  }
  return "?";
}
const char* event_type(check::EventType t) {
  switch (t) {
    case check::EventType::fault: return "fault";
    case check::EventType::heal: return "heal";
    case check::EventType::election: return "election";
    case check::EventType::leader_change: return "leader_change";
    case check::EventType::isr_change: return "isr_change";
    case check::EventType::note: return "note";
    case check::EventType::group_created: return "group_created";
    case check::EventType::member_fenced: return "member_fenced";
    case check::EventType::group_converted: return "group_converted";
  }
  return "?";
}

std::string hex(uint64_t v) {
  char buf[20];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(v));
  return buf;
}

std::string bytes_text(const std::optional<std::span<const uint8_t>>& b) {
  return b ? std::string(b->begin(), b->end()) : std::string();
}

proto::RunSummary make_summary(Cluster& c, const ExportOptions& options) {
  sim::World& w = c.world();
  proto::RunSummary summary;
  summary.set_seed(w.seed());
  summary.set_trace_hash(hex(w.trace().hash()));
  summary.set_events(w.trace().count());
  summary.set_end_ns(w.now().ns);
  summary.set_brokers(c.broker_count());
  summary.set_version(kVersion);
  for (const auto& [k, v] : c.options().config) (*summary.mutable_config())[k] = v;
  for (const auto& [k, v] : w.params()) (*summary.mutable_params())[k] = v;
  const auto metrics = c.metrics();
  for (const auto& [k, v] : metrics) (*summary.mutable_metrics())[k] = v;
  if (options.scenario) {
    summary.mutable_scenario()->set_file(options.scenario->file);
    summary.mutable_scenario()->set_seed(options.scenario->seed);
  }
  if (options.verdict) {
    proto::Verdict* pv = summary.mutable_verdict();
    pv->set_ok(options.verdict->ok());
    pv->set_text(options.verdict->text());
    for (const check::Anomaly& a : options.verdict->anomalies()) {
      proto::Anomaly* pa = pv->add_anomalies();
      pa->set_kind(a.kind);
      pa->set_expected(a.expected);
      pa->set_cause(a.cause);
      pa->set_topic(a.tp.topic);
      pa->set_partition(a.tp.partition);
      for (int64_t o : a.offsets) pa->add_offsets(o);
      for (const auto& r : a.records) pa->add_records(r);
      pa->set_at_ns(a.at_ns);
      pa->set_explanation(a.explanation);
    }
  }
  return summary;
}

void export_stream(Cluster& c, const std::string& path, const ExportOptions& options) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (!out) throw RunStoreError("cannot write " + path);
  google::protobuf::io::OstreamOutputStream zout(&out);
  google::protobuf::io::CodedOutputStream cos(&zout);
  auto put = [&](const google::protobuf::MessageLite& m) {
    const std::string bytes = deterministic_bytes(m);
    cos.WriteVarint32(static_cast<uint32_t>(bytes.size()));
    cos.WriteRaw(bytes.data(), static_cast<int>(bytes.size()));
    if (cos.HadError()) throw RunStoreError("cannot write " + path);
  };
  put(make_summary(c, options));
  sim::World& w = c.world();
  for (const check::ClusterEvent& e : c.history().events()) {
    proto::TraceRecord r;
    proto::ClusterEvent* pe = r.mutable_cluster_event();
    pe->set_at_ns(e.at_ns);
    pe->set_type(event_type(e.type));
    pe->set_node(e.node);
    pe->set_topic(e.tp.topic);
    pe->set_partition(e.tp.partition);
    pe->set_leader_epoch(e.leader_epoch);
    pe->set_unclean(e.unclean);
    for (int32_t b : e.isr) pe->add_isr(b);
    for (int32_t b : e.replicas) pe->add_replicas(b);
    pe->set_what(e.what);
    put(r);
  }
  for (const auto& [at, d] : c.partition_series()) {
    proto::TraceRecord r;
    proto::PartitionState* ps = r.mutable_partition_state();
    ps->set_at_ms(at);
    ps->set_topic(d.topic);
    ps->set_partition(d.partition);
    ps->set_leader(d.leader);
    ps->set_leader_epoch(d.leader_epoch);
    for (int32_t b : d.isr) ps->add_isr(b);
    ps->set_high_watermark(d.high_watermark.value);
    for (const auto& rs : d.replica_states) (*ps->mutable_log_end_offsets())[rs.broker] = rs.log_end_offset.value;
    put(r);
  }
  const std::vector<sim::TraceEvent> kept = w.trace().kept();
  const size_t skip = kept.size() > options.max_trace_events ? kept.size() - options.max_trace_events : 0;
  for (size_t i = skip; i < kept.size(); ++i) {
    proto::TraceRecord r;
    proto::TraceEvent* te = r.mutable_event();
    te->set_index(kept[i].index);
    te->set_at_ns(kept[i].time.ns);
    te->set_node(kept[i].node);
    te->set_kind(w.trace().kind_info(kept[i].kind).name);
    te->set_description(w.describe(kept[i]));
    put(r);
  }
}

void export_sqlite(Cluster& c, const std::string& path, const ExportOptions& options) {
  Db db = open_db(path, true);
  exec(db.get(), "PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF;", path);
  exec(db.get(), kSchema, path);
  exec(db.get(), "BEGIN", path);
  sim::World& w = c.world();
  const check::History& h = c.history();

  const proto::RunSummary summary = make_summary(c, options);
  {
    Stmt s(db.get(), "INSERT INTO summary VALUES (1, ?)", path);
    s.row(Blob{deterministic_bytes(summary)});
    Stmt r(db.get(), "INSERT INTO run VALUES (?, ?)", path);
    r.row("seed", std::to_string(w.seed()));
    r.row("trace_hash", hex(w.trace().hash()));
    r.row("events", std::to_string(w.trace().count()));
    r.row("end_ms", std::to_string(ms(w.now().ns)));
    r.row("brokers", std::to_string(c.broker_count()));
    r.row("version", kVersion);
    for (const auto& [k, v] : c.options().config) r.row("config:" + k, v);
    if (options.scenario) r.row("scenario", options.scenario->file);
    if (options.verdict) r.row("verdict", options.verdict->ok() ? "ok" : "violated");
    for (const auto& [k, v] : w.params()) r.row("param:" + k, v);
  }
  {
    Stmt s(db.get(), "INSERT INTO ops VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)", path);
    Stmt p(db.get(), "INSERT INTO polled_records VALUES (?,?,?,?,?,?,?,?)", path);
    for (const check::OpView& op : h.ops()) {
      std::string offs;
      for (const check::OffsetEntry& e : op.offsets())
        offs += (offs.empty() ? "" : ",") + e.tp.str() + ":" + std::to_string(e.offset.value);
      s.row(op.id(), op.client(), op.client_name(), op_type(op.type()), ms(op.invoke_ns()),
            op.complete_ns() >= 0 ? ms(op.complete_ns()) : -1.0, outcome(op.outcome()),
            std::string(errc_name(op.error())), op.tp().topic, op.tp().partition, op.key(), op.value(),
            op.offset().value, op.acks(), op.idempotent(), op.leader(), op.group_id(), op.generation(),
            op.member_id(), op.detail(), offs, op.transactional(), check::txn_state_name(op.txn_state()),
            op.read_committed());
      for (const check::PolledView& r : op.records())
        p.row(op.id(), r.tp.topic, r.tp.partition, r.offset.value, r.key, r.value, r.leader_epoch.value,
              r.high_watermark.value);
    }
  }
  {
    Stmt s(db.get(), "INSERT INTO events VALUES (?,?,?,?,?,?,?,?,?,?)", path);
    for (const check::ClusterEvent& e : h.events())
      s.row(ms(e.at_ns), event_type(e.type), e.node, e.tp.topic, e.tp.partition, e.leader_epoch, e.unclean,
            join(e.isr), join(e.replicas),
            e.type == check::EventType::group_converted ? e.what + " -> " + e.member : e.what);
  }
  if (options.verdict) {
    Stmt s(db.get(), "INSERT INTO anomalies VALUES (?,?,?,?,?,?,?,?,?)", path);
    for (const check::Anomaly& a : options.verdict->anomalies()) {
      std::string offs, recs;
      for (int64_t o : a.offsets) offs += (offs.empty() ? "" : ",") + std::to_string(o);
      for (const auto& r : a.records) recs += (recs.empty() ? "" : ",") + r;
      s.row(a.kind, a.expected, a.cause, a.tp.topic, a.tp.partition, offs, recs, ms(a.at_ns), a.explanation);
    }
  }
  {
    Stmt s(db.get(), "INSERT INTO records VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)", path);
    for (int32_t b : c.broker_ids()) {
      const KafkaNode* n = c.node(b);
      if (!n || !n->broker()) continue;
      for (const auto& [tp, part] : const_cast<KafkaNode*>(n)->broker()->replica_manager().partitions()) {
        for (const storage::BatchPtr& batch : peek_batches(w.disk(sim_node_of(b)), part->log())) {
          for (const auto& r : batch->records())
            s.row(b, tp.topic, tp.partition, batch->base_offset().value, batch->last_offset().value,
                  batch->partition_leader_epoch().value, batch->producer_id().value, batch->producer_epoch().value,
                  batch->base_sequence(), batch->is_transactional(), batch->is_control(), batch->crc(),
                  static_cast<int64_t>(batch->size_in_bytes()), r.offset.value, r.timestamp,
                  r.key ? std::optional<std::string>(bytes_text(r.key)) : std::nullopt, bytes_text(r.value));
        }
      }
    }
  }
  {
    Stmt s(db.get(), "INSERT INTO trace VALUES (?,?,?,?,?)", path);
    std::vector<sim::TraceEvent> kept = w.trace().kept();
    const size_t skip = kept.size() > options.max_trace_events ? kept.size() - options.max_trace_events : 0;
    for (size_t i = skip; i < kept.size(); ++i) {
      const sim::TraceEvent& e = kept[i];
      s.row(e.index, e.time.ns, e.node, w.trace().kind_info(e.kind).name, w.describe(e));
    }
    Stmt m(db.get(), "INSERT INTO metrics VALUES (?,?)", path);
    for (const auto& [k, v] : c.metrics()) m.row(k, v);
    Stmt ps(db.get(), "INSERT INTO partition_states VALUES (?,?,?,?,?,?,?,?)", path);
    for (const auto& [at, d] : c.partition_series()) {
      std::string leos;
      for (const auto& r : d.replica_states)
        leos += (leos.empty() ? "" : ",") + std::to_string(r.broker) + "=" + std::to_string(r.log_end_offset.value);
      ps.row(at, d.topic, d.partition, d.leader, d.leader_epoch, join(d.isr), d.high_watermark.value, leos);
    }
    Stmt ms_(db.get(), "INSERT INTO metrics_series VALUES (?,?,?)", path);
    for (const auto& [at, values] : c.metrics_series())
      for (const auto& [k, v] : values) ms_.row(at, k, v);
  }
  exec(db.get(), "COMMIT", path);
}

// fsync a file or directory, so the rename below publishes complete bytes even
// across a power failure (a killed process loses nothing the kernel has).
void sync_path(const std::string& path, bool directory) {
  const int fd = ::open(path.c_str(), directory ? O_RDONLY | O_DIRECTORY : O_RDONLY);
  if (fd < 0) {
    if (directory) return;  // best effort: some file systems refuse to open a directory
    throw RunStoreError("cannot sync " + path + ": " + std::strerror(errno));
  }
  const int rc = ::fsync(fd);
  const int err = errno;
  ::close(fd);
  if (rc != 0 && !directory) throw RunStoreError("cannot sync " + path + ": " + std::strerror(err));
}

}  // namespace

// Atomic: the run is written to a temporary file next to `path` (the same
// directory, so the rename never crosses file systems) — the SQLite store in
// one transaction — synced, then renamed over `path`. A crash, an error or a
// SIGKILL mid-export leaves the previous file untouched (at worst a stray
// ".NAME.tmp-PID" beside it), never a half-written run file.
void export_run(Cluster& c, const std::string& path, const ExportOptions& options) {
  namespace fs = std::filesystem;
  if (path.empty()) throw RunStoreError("export needs a file path, got ''");
  const fs::path target(path);
  std::error_code ec;
  if (fs::is_directory(target, ec)) throw RunStoreError("cannot write " + path + ": it is a directory");
  const fs::path dir = target.parent_path();
  if (!dir.empty() && !fs::is_directory(dir, ec))
    throw RunStoreError("cannot write " + path + ": no directory " + dir.string());
  const std::string tmp =
      (dir / ("." + target.filename().string() + ".tmp-" + std::to_string(::getpid()))).string();
  try {
    if (path.size() > 3 && path.compare(path.size() - 3, 3, ".pb") == 0) export_stream(c, tmp, options);
    else export_sqlite(c, tmp, options);
    sync_path(tmp, false);
    if (std::rename(tmp.c_str(), path.c_str()) != 0)
      throw RunStoreError("cannot write " + path + ": " + std::strerror(errno));
  } catch (...) {
    std::remove(tmp.c_str());
    throw;
  }
  sync_path(dir.empty() ? std::string(".") : dir.string(), true);
}

// ---- reading --------------------------------------------------------------------------------

namespace {
Db open_run(const std::string& path) {
  Db db = open_db(path, false);
  sqlite3_stmt* s = nullptr;
  const bool ok = sqlite3_prepare_v2(db.get(), "SELECT proto FROM summary WHERE id = 1", -1, &s, nullptr) == SQLITE_OK;
  sqlite3_finalize(s);
  if (!ok) throw RunStoreError(path + " is not a ksim run file (no summary table)");
  return db;
}
}  // namespace

std::string summary(const std::string& path) {
  proto::RunSummary r;
  std::string records_line;
  if (path.size() > 3 && path.compare(path.size() - 3, 3, ".pb") == 0) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw RunStoreError("cannot read " + path);
    google::protobuf::io::IstreamInputStream zin(&in);
    bool eof = false;
    if (!google::protobuf::util::ParseDelimitedFromZeroCopyStream(&r, &zin, &eof))
      throw RunStoreError(path + " is not a ksim protobuf trace stream");
    uint64_t events = 0, cluster_events = 0, states = 0;
    for (;;) {
      proto::TraceRecord t;
      if (!google::protobuf::util::ParseDelimitedFromZeroCopyStream(&t, &zin, &eof)) {
        if (eof) break;
        throw RunStoreError(path + ": corrupt record after " + std::to_string(events + cluster_events + states));
      }
      events += t.has_event();
      cluster_events += t.has_cluster_event();
      states += t.has_partition_state();
    }
    records_line = "stream: " + std::to_string(events) + " trace events, " + std::to_string(cluster_events) +
                   " cluster events, " + std::to_string(states) + " partition states\n";
  } else {
    Db db = open_run(path);
    Stmt s(db.get(), "SELECT proto FROM summary WHERE id = 1", path);
    if (!s.next()) throw RunStoreError(path + ": empty summary");
    if (!r.ParseFromString(s.s(0))) throw RunStoreError(path + ": corrupt summary");
  }
  std::string out = "run: seed " + std::to_string(r.seed()) + ", " + std::to_string(r.brokers()) + " brokers, " +
                    std::to_string(r.events()) + " events, ended at t=" + std::to_string(ms(r.end_ns()) / 1000.0) +
                    "s, trace hash " + r.trace_hash() + "\n";
  if (r.has_scenario()) out += "scenario: " + r.scenario().file() + " --seed " + std::to_string(r.scenario().seed()) + "\n";
  out += records_line;
  out += r.has_verdict() ? r.verdict().text() : "verdict: (not checked)\n";
  return out;
}

std::string describe_at(const std::string& path, std::optional<double> at_ms) {
  Db db = open_run(path);
  struct State {
    int32_t leader = -1, epoch = 0;
    std::string isr, replicas;
  };
  std::map<std::pair<std::string, int32_t>, State> parts;
  Stmt s(db.get(),
         "SELECT at_ms, type, node, topic, partition, leader_epoch, isr, replicas FROM events "
         "WHERE type IN ('election', 'isr_change') AND (?1 IS NULL OR at_ms <= ?1) ORDER BY rowid",
         path);
  if (at_ms) s.params(*at_ms);
  else s.params(nullptr);
  while (s.next()) {
    State& st = parts[{s.s(3), static_cast<int32_t>(s.i(4))}];
    if (s.s(1) == "election") {
      st.leader = static_cast<int32_t>(s.i(2));
      st.epoch = static_cast<int32_t>(s.i(5));
    }
    st.isr = s.s(6);
    if (!s.s(7).empty()) st.replicas = s.s(7);
  }
  std::string out;
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.3f", at_ms.value_or(-1));
  out += at_ms ? "# partitions at t=" + std::string(buf) + " ms\n" : "# partitions at the end of the run\n";
  std::string topic;
  for (const auto& [key, st] : parts) {
    if (key.first != topic) {
      topic = key.first;
      int32_t n = 0;
      std::string rf;
      for (const auto& [k2, s2] : parts)
        if (k2.first == topic) {
          ++n;
          rf = std::to_string(std::count(s2.replicas.begin(), s2.replicas.end(), ',') + (s2.replicas.empty() ? 0 : 1));
        }
      out += "Topic: " + topic + "\tPartitionCount: " + std::to_string(n) + "\tReplicationFactor: " + rf + "\n";
    }
    out += "\tTopic: " + key.first + "\tPartition: " + std::to_string(key.second) + "\tLeader: " +
           (st.leader >= 0 ? std::to_string(st.leader) : "none") + "\tLeaderEpoch: " + std::to_string(st.epoch) +
           "\tReplicas: " + st.replicas + "\tIsr: " + st.isr + "\n";
  }
  if (parts.empty()) out += "(no partitions yet)\n";
  return out;
}

namespace {
// A batch row's record count, last - base + 1; a foreign file's values must not overflow.
std::string batch_count(int64_t base, int64_t last) {
  int64_t n = 0;
  if (__builtin_sub_overflow(last, base, &n) || __builtin_add_overflow(n, int64_t{1}, &n)) return "?";
  return std::to_string(n);
}
}  // namespace

std::string dump_log(const std::string& path, int32_t broker, const std::string& topic, int32_t partition) {
  Db db = open_run(path);
  Stmt s(db.get(),
         "SELECT base_offset, last_offset, leader_epoch, producer_id, producer_epoch, base_sequence, is_transactional, "
         "is_control, crc, batch_size, offset, timestamp, key, value FROM records WHERE broker = ?1 AND topic = ?2 "
         "AND partition = ?3 ORDER BY offset",
         path);
  s.params(broker, topic, partition);
  std::string out = "Dumping broker " + std::to_string(broker) + " " + topic + "-" + std::to_string(partition) + "\n";
  int64_t batch = -1;
  size_t rows = 0;
  while (s.next()) {
    ++rows;
    if (s.i(0) != batch) {
      batch = s.i(0);
      out += "baseOffset: " + std::to_string(s.i(0)) + " lastOffset: " + std::to_string(s.i(1)) +
             " count: " + batch_count(s.i(0), s.i(1)) + " baseSequence: " + std::to_string(s.i(5)) +
             " producerId: " + std::to_string(s.i(3)) + " producerEpoch: " + std::to_string(s.i(4)) +
             " partitionLeaderEpoch: " + std::to_string(s.i(2)) + " isTransactional: " + (s.i(6) ? "true" : "false") +
             " isControl: " + (s.i(7) ? "true" : "false") + " size: " + std::to_string(s.i(9)) +
             " crc: " + std::to_string(static_cast<uint32_t>(s.i(8))) + "\n";
    }
    out += "| offset: " + std::to_string(s.i(10)) + " CreateTime: " + std::to_string(s.i(11)) +
           " key: " + (s.null(12) ? std::string("null") : s.s(12)) + " payload: " + s.s(13) + "\n";
  }
  if (!rows) {
    Stmt any(db.get(), "SELECT COUNT(*) FROM records WHERE broker = ?1", path);
    any.params(broker);
    any.next();
    throw RunStoreError(any.i(0) ? "broker " + std::to_string(broker) + " has no log for " + topic + "-" +
                                       std::to_string(partition) + " in " + path
                                 : "no broker " + std::to_string(broker) + " logs in " + path +
                                       " (unknown broker, or it was down at export)");
  }
  return out;
}

}  // namespace ksim::exporter
