// History: every client operation of a run, Jepsen-style, plus the cluster
// events (faults, elections) on the same virtual timeline. The checkers
// (engine/check/*) read it after (or during) a run.
//
// An operation is recorded twice: at invocation (`invoke`, outcome pending)
// and at completion (`complete`, outcome ok / fail / info). Outcomes follow
// Jepsen: `ok` it happened, `fail` it definitely did not (e.g. a non-retriable
// error before anything was written, or NOT_ENOUGH_REPLICAS before append),
// `info` unknown (a timeout, a crashed client: it may or may not have
// happened). A send still pending when the run ends counts as `info`.
//
// The history is compact (a one-hour soak records millions of operations):
// recorders hand `invoke` an OpSpec of plain values and views; the History
// keeps a fixed-size OpRecord per op (40 bytes), the records a poll returned
// as PolledRecords (24 bytes) and the offsets of commits / seeks / assignments
// as OffsetRecords (16 bytes) in history-wide columns addressed by ranges, and
// every string once in a StringPool (values by Sym). What stays constant per
// client (name, group, acks, idempotence, and a consumer's member id and
// generation between rebalances) is an Actor shared by its ops; partitions
// are dense ids; send keys (most sends have none) sit in a side column. Readers see an op through OpView, whose accessors
// have the names the fields had. Layout and costs: engine/check/README.md.
#pragma once

#include <array>
#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <tuple>
#include <unordered_map>
#include <vector>

#include "engine/check/chunked_column.h"
#include "engine/check/string_pool.h"
#include "engine/common/errors.h"
#include "engine/common/types.h"

namespace ksim::check {

enum class OpType : uint8_t {
  send,       // a producer's send: tp (after partitioning), key, value; offset when acked
  poll,       // a consumer's poll: the records returned
  commit,     // a consumer's commit (sync, async or auto): offsets
  seek,       // seek / seekToBeginning / seekToEnd / offset reset: tp -> new position
  assign,     // partitions assigned (by assign() or a rebalance), with the generation
  revoke,     // partitions revoked or lost (onPartitionsRevoked / onPartitionsLost)
};
enum class Outcome : uint8_t { pending, ok, fail, info };
// A transactional send's fate, once its transaction ends.
enum class TxnState : uint8_t { none, committed, aborted };
std::string_view txn_state_name(TxnState s);  // "", "committed", "aborted"

// ---- what recorders hand the History ------------------------------------------------------
// Strings are views: `invoke` copies them into the pool, so they need only
// outlive that call. Never assign a temporary std::string to one (it dangles
// at once): build the string in a local first.

struct OffsetEntry {
  TopicPartition tp;
  Offset offset;
};

struct PolledSpec {
  TopicPartition tp;
  Offset offset;
  std::string_view key, value;
  LeaderEpoch leader_epoch = kNoEpoch;
  Offset high_watermark = kNoOffset;  // the HW in the fetch response that carried it
};

struct OpSpec {
  int32_t client = -1;            // client node's id (kafka-style numbering, as Cluster names nodes)
  std::string_view client_name;   // "producer-1", "consumer-2", ...
  OpType type = OpType::send;
  // send
  TopicPartition tp;              // seeks: the last partition moved
  std::optional<std::string_view> key;
  std::string_view value;
  std::optional<size_t> value_hash;  // StringPool::hash(value), if the caller has it (History::prefetch_value)
  int16_t acks = -1;
  bool idempotent = false;
  bool transactional = false;
  int32_t max_in_flight = 0;      // the producer's max.in.flight.requests.per.connection (0: unknown)
  // poll (records), commit / seek / assign / revoke (offsets or partitions)
  std::vector<PolledSpec> records;
  std::vector<OffsetEntry> offsets;  // commit: committed; seek: new positions; assign/revoke: tp, offset unused
  bool read_committed = false;       // the consumer's isolation.level
  std::string_view group_id;
  int32_t generation = -1;
  std::string_view member_id;
  std::string_view group_instance_id;  // a static member's group.instance.id (KIP-345), or ""
  std::string_view detail;           // "auto" / "sync" / "async" for commits; reason for seeks
};

// ---- what the History stores -------------------------------------------------------------

// What is constant for a client's ops: one row per distinct combination
// (a consumer gets a new one per rebalance: its member id and generation).
struct Actor {
  int32_t client = -1;
  Sym name = 0;
  Sym group = 0;
  Sym member = 0;
  Sym instance = 0;  // group.instance.id ("" : dynamic member)
  int32_t generation = -1;
  int32_t max_in_flight = 0;
  int16_t acks = -1;
  bool idempotent = false;
  bool transactional = false;
  bool read_committed = false;
};

struct ItemRange {
  uint32_t begin, end;  // [begin, end) in the polled-record or offset column
};

// One per op, 40 bytes. The unions hold what a send has and what a consumer
// op has in the same bytes; the type says which (OpView reads the right one).
struct OpRecord {
  int64_t invoke_ns = 0;
  int64_t complete_ns = -1;
  union {
    int64_t offset;    // send: the acked offset (-1: none)
    ItemRange items;   // others: polled records (poll) or offset entries
  };
  uint32_t actor = 0;
  uint32_t tp = 0;     // partition id (History::tp)
  union {
    Sym value;         // send
    Sym detail;        // others
  };
  int16_t leader = -1; // send: the broker that acked (-1: none)
  int8_t error = 0;    // Errc in a byte: pack_errc / unpack_errc
  uint8_t bits = 0;    // OpType (bits 0-2), Outcome (3-4), TxnState (5-6)

  OpRecord() : offset(-1), value(0) {}
  OpType type() const { return static_cast<OpType>(bits & 7); }
  Outcome outcome() const { return static_cast<Outcome>((bits >> 3) & 3); }
  TxnState txn() const { return static_cast<TxnState>((bits >> 5) & 3); }
  Errc errc() const { return unpack_errc(error); }

  // Kafka's codes run past 127 (INVALID_REGULAR_EXPRESSION = 128) while
  // ksim's own client-side codes are -1, -100 and -101: codes 128..154 are
  // kept in the unused bytes -128..-102. Returns false for a code that fits
  // neither range.
  static bool pack_errc(Errc e, int8_t* out) {
    const int c = static_cast<int>(e);
    if (c >= -101 && c <= 127) *out = static_cast<int8_t>(c);
    else if (c >= 128 && c <= 154) *out = static_cast<int8_t>(c - 256);
    else return false;
    return true;
  }
  static Errc unpack_errc(int8_t b) { return static_cast<Errc>(b <= -102 ? b + 256 : b); }
};
static_assert(sizeof(OpRecord) == 40);

// The key of a send or of a polled record that has one, 8 bytes, in a
// column sorted by `at` (a column, not a vector: in a keyed workload every
// record has one, and a vector of millions regrew by copying all of it).
struct KeyEntry {
  uint32_t at;  // the send's op id, or the polled record's index
  Sym key;
};

// A record a poll returned, 24 bytes. Its key (if it has one) and a high
// watermark too far from the offset for 32 bits (rare) live in side tables.
struct PolledRecord {
  int64_t offset = 0;
  uint32_t tp = 0;
  Sym value = 0;
  int32_t leader_epoch = -1;
  int32_t hw_delta = 0;  // high_watermark - offset, or kHwElsewhere
  static constexpr int32_t kHwElsewhere = INT32_MIN;
};
static_assert(sizeof(PolledRecord) == 24);

struct OffsetRecord {
  int64_t offset = -1;
  uint32_t tp = 0;
};

// group_created: a group coordinator created a group it had no state for
// (tp = its __consumer_offsets partition); after the first, the group's
// earlier state was lost and its generations start over.
// member_fenced: a consumer (KIP-848) group's coordinator removed a member
// that did not leave (session / rebalance timeout, rejoin): what = the group
// id, member = its member id; its partitions may go to others from then on.
// group_converted: a group changed protocol with its state (KIP-848's online
// upgrade / downgrade, or an empty group's conversion): what = the group id,
// member = the protocol it speaks now ("consumer" / "classic"). Not a
// creation: nothing was lost, generations (member epochs) go on.
enum class EventType : uint8_t {
  fault, heal, election, leader_change, isr_change, note, group_created, member_fenced, group_converted
};
struct ClusterEvent {
  int64_t at_ns = 0;
  EventType type = EventType::note;
  int32_t node = -1;          // fault target / new leader
  TopicPartition tp;          // elections
  int32_t leader_epoch = -1;
  bool unclean = false;
  std::vector<int32_t> isr, replicas;  // elections and ISR changes: the partition's state after
  std::string what;           // "crash", "power_fail", "partition [[1],[2,3]]", ...; group_created: the group id
  std::string member;         // member_fenced: the member id
};

class History;
class OpView;

// A polled record as readers want it.
struct PolledView {
  const TopicPartition& tp;
  Offset offset;
  std::string_view key, value;
  LeaderEpoch leader_epoch;
  Offset high_watermark;
};

// [begin, end) of a column, iterated as views.
template <class View, class Get>
class ViewRange {
 public:
  ViewRange(const History* h, uint64_t begin, uint64_t end) : h_(h), begin_(begin), end_(end) {}
  class iterator {
   public:
    iterator(const History* h, uint64_t i) : h_(h), i_(i) {}
    View operator*() const { return Get{}(*h_, i_); }
    iterator& operator++() {
      ++i_;
      return *this;
    }
    bool operator!=(const iterator& o) const { return i_ != o.i_; }
    bool operator==(const iterator& o) const { return i_ == o.i_; }

   private:
    const History* h_;
    uint64_t i_;
  };
  iterator begin() const { return {h_, begin_}; }
  iterator end() const { return {h_, end_}; }
  size_t size() const { return end_ - begin_; }
  bool empty() const { return begin_ == end_; }
  View operator[](size_t i) const { return Get{}(*h_, begin_ + i); }
  View at(size_t i) const {
    if (i >= size()) throw std::out_of_range("history range");
    return (*this)[i];
  }
  View front() const { return (*this)[0]; }
  View back() const { return (*this)[size() - 1]; }

 private:
  const History* h_;
  uint64_t begin_, end_;
};

struct GetPolled {
  PolledView operator()(const History& h, uint64_t i) const;
};
struct GetOffset {
  OffsetEntry operator()(const History& h, uint64_t i) const;
};
struct GetOp {
  OpView operator()(const History& h, uint64_t i) const;
};
using PolledRange = ViewRange<PolledView, GetPolled>;
using OffsetRange = ViewRange<OffsetEntry, GetOffset>;
using OpRange = ViewRange<OpView, GetOp>;

class History {
 public:
  History();
  History(const History&) = delete;
  History& operator=(const History&) = delete;
  History(History&&) = default;
  History& operator=(History&&) = default;

  // Records the invocation; returns the op id to complete later.
  uint64_t invoke(const OpSpec& op, int64_t now_ns);
  // For a send's value, early: its hash for OpSpec::value_hash, with its
  // string table slot prefetched (so invoke finds it in the cache).
  size_t prefetch_value(std::string_view value) const {
    const size_t h = StringPool::hash(value);
    pool_.prefetch(h);
    return h;
  }
  // Completes an op (ok / fail / info). Completing twice keeps the first outcome.
  void complete(uint64_t id, Outcome outcome, int64_t now_ns, Errc error = Errc::NONE);
  // A send's acknowledgement: where it landed and who acked it.
  void set_ack(uint64_t id, Offset offset, int32_t leader);
  void set_txn_state(uint64_t id, TxnState s) {
    ops_[id].bits = static_cast<uint8_t>((ops_[id].bits & 0x1f) | (static_cast<uint8_t>(s) << 5));
  }
  // Records an op that completed at once (poll, seek, assign, ...).
  uint64_t record(const OpSpec& op, int64_t now_ns) {
    const uint64_t id = invoke(op, now_ns);
    complete(id, Outcome::ok, now_ns);
    return id;
  }
  void event(ClusterEvent e) { events_.push_back(std::move(e)); }

  // ---- reading ----
  size_t size() const { return ops_.size(); }
  OpView op(uint64_t id) const;
  OpRange ops() const { return {this, 0, ops_.size()}; }
  const OpRecord& rec(uint64_t id) const { return ops_[id]; }
  const Actor& actor(uint32_t a) const { return actors_[a]; }
  const Actor& actor_of(uint64_t id) const { return actors_[ops_[id].actor]; }
  const std::vector<ClusterEvent>& events() const { return events_; }

  const StringPool& strings() const { return pool_; }
  std::string_view str(Sym s) const { return pool_.view(s); }
  // The Sym of a string no op recorded (a final log's key or value), so the
  // checkers compare logs and ops as integers. Nothing an op reads changes.
  Sym intern(std::string_view s) { return pool_.intern(s); }
  // out[i] = intern(in[i]) for every i, their lookups overlapped (StringPool::intern_all).
  void intern_all(std::span<const std::string_view> in, Sym* out) { pool_.intern_all(in, out); }

  // Partitions by dense id, in first-recorded order.
  size_t partition_count() const { return tps_.size(); }
  const TopicPartition& tp(uint32_t id) const { return tps_[id]; }
  // The id of `tp`, or UINT32_MAX if no op mentions it.
  uint32_t find_tp(const TopicPartition& tp) const;

  // The polled-record column (poll ops address it by OpRecord::items).
  size_t polled_count() const { return polled_.size(); }
  const PolledRecord& polled(uint64_t i) const { return polled_[i]; }
  Offset high_watermark(uint64_t i) const;
  std::string_view polled_key(uint64_t i) const;
  // A send's key (nullopt: none).
  std::optional<std::string_view> send_key(uint64_t id) const;
  const OffsetRecord& offset_entry(uint64_t i) const { return offsets_[i]; }

  // Bytes this history holds (columns, strings, side tables, events).
  size_t memory_bytes() const;
  void clear();

 private:
  uint32_t intern_tp(const TopicPartition& tp);
  uint32_t intern_actor(const Actor& a);
  // Interns `s`, trying `hint` first (then remembering the answer there): a
  // client's ops repeat its name, group and member, and comparing a short
  // string is cheaper than hashing it and probing the pool.
  Sym intern_hinted(std::string_view s, Sym& hint) {
    if (hint != kNoSym && pool_.view(hint) == s) return hint;
    return hint = pool_.intern(s);
  }
  // Hints per client (its id's low bits: a collision only costs a probe).
  struct ClientHints {
    Sym name = kNoSym, group = kNoSym, member = kNoSym, instance = kNoSym;
  };

  ChunkedColumn<OpRecord> ops_;
  ChunkedColumn<PolledRecord> polled_;
  ChunkedColumn<OffsetRecord> offsets_;
  ChunkedColumn<KeyEntry> send_keys_;                        // ascending op ids
  ChunkedColumn<KeyEntry> polled_keys_;                      // ascending polled indexes
  std::vector<std::pair<uint64_t, int64_t>> polled_hws_;     // polled index -> HW (hw_delta == kHwElsewhere)
  StringPool pool_;
  std::deque<TopicPartition> tps_;                           // stable references
  std::unordered_map<uint64_t, uint32_t> tp_ids_;            // (topic Sym, partition) -> id; lookups only
  std::vector<Actor> actors_;
  std::map<std::tuple<int32_t, Sym, Sym, Sym, Sym, int32_t, int32_t, int16_t, bool, bool, bool>, uint32_t> actor_ids_;
  uint32_t last_actor_ = UINT32_MAX;
  uint32_t last_tp_ = UINT32_MAX;     // intern_tp's answer last time (records come in runs of one partition)
  std::array<ClientHints, 8> hints_;
  std::vector<std::string_view> scratch_views_;  // invoke()'s, kept for their capacity
  std::vector<Sym> scratch_syms_;
  std::vector<ClusterEvent> events_;
};

// An op as readers see it: the fields the History recorded, by name.
class OpView {
 public:
  OpView(const History& h, uint64_t id) : h_(&h), r_(&h.rec(id)), id_(id) {}
  uint64_t id() const { return id_; }
  const OpRecord& rec() const { return *r_; }
  const Actor& actor() const { return h_->actor(r_->actor); }
  int32_t client() const { return actor().client; }
  std::string_view client_name() const { return h_->str(actor().name); }
  OpType type() const { return r_->type(); }
  int64_t invoke_ns() const { return r_->invoke_ns; }
  int64_t complete_ns() const { return r_->complete_ns; }
  Outcome outcome() const { return r_->outcome(); }
  Errc error() const { return r_->errc(); }
  bool is_send() const { return type() == OpType::send; }

  // send
  uint32_t tp_id() const { return r_->tp; }
  const TopicPartition& tp() const { return h_->tp(r_->tp); }
  std::optional<std::string_view> key() const {
    if (!is_send()) return std::nullopt;
    return h_->send_key(id_);
  }
  Sym value_sym() const { return is_send() ? r_->value : 0; }
  std::string_view value() const { return h_->str(value_sym()); }
  Offset offset() const { return Offset{is_send() ? r_->offset : -1}; }
  int16_t acks() const { return actor().acks; }
  bool idempotent() const { return actor().idempotent; }
  bool transactional() const { return actor().transactional; }
  int32_t max_in_flight() const { return actor().max_in_flight; }
  int32_t leader() const { return is_send() ? r_->leader : -1; }
  TxnState txn_state() const { return r_->txn(); }

  // poll / commit / seek / assign / revoke
  PolledRange records() const {
    if (type() != OpType::poll) return {h_, 0, 0};
    return {h_, r_->items.begin, r_->items.end};
  }
  OffsetRange offsets() const {
    if (is_send() || type() == OpType::poll) return {h_, 0, 0};
    return {h_, r_->items.begin, r_->items.end};
  }
  bool read_committed() const { return actor().read_committed; }
  Sym group_sym() const { return actor().group; }
  std::string_view group_id() const { return h_->str(actor().group); }
  int32_t generation() const { return actor().generation; }
  Sym member_sym() const { return actor().member; }
  std::string_view member_id() const { return h_->str(member_sym()); }
  Sym instance_sym() const { return actor().instance; }
  std::string_view group_instance_id() const { return h_->str(actor().instance); }
  Sym detail_sym() const { return is_send() ? 0 : r_->detail; }
  std::string_view detail() const { return h_->str(detail_sym()); }

 private:
  const History* h_;
  const OpRecord* r_;
  uint64_t id_;
};

inline OpView History::op(uint64_t id) const { return OpView(*this, id); }
inline OpView GetOp::operator()(const History& h, uint64_t i) const { return h.op(i); }
inline PolledView GetPolled::operator()(const History& h, uint64_t i) const {
  const PolledRecord& r = h.polled(i);
  return PolledView{h.tp(r.tp), Offset{r.offset}, h.polled_key(i), h.str(r.value), LeaderEpoch{r.leader_epoch},
                    h.high_watermark(i)};
}
inline OffsetEntry GetOffset::operator()(const History& h, uint64_t i) const {
  const OffsetRecord& r = h.offset_entry(i);
  return OffsetEntry{h.tp(r.tp), Offset{r.offset}};
}

}  // namespace ksim::check
