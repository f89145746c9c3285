// HistoryIndex: the lookup structures every checker shares, built once per
// check in O(ops + records), reading the compact History in place: sends and
// reads per partition, the final logs' values as the History's Syms, and
// value -> sends / value -> final-log offsets chains. Values are compared as
// Syms (equal strings, equal Syms): the final logs hold the History's Syms
// already (CheckInput), a null value is kNoSym and equals no op's value. Nothing here is iterated into output in hash order
// (determinism): chains keep insertion order (history order, offset order).
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "engine/check/check_input.h"

namespace ksim::check {

// A record a poll returned, as the checkers read it.
struct Read {
  uint64_t op = 0;        // the poll op
  int32_t client = -1;
  int64_t at_ns = 0;
  uint64_t rec = 0;       // the record's index in the History's polled-record column
  const PolledRecord* record = nullptr;
};

// A partition's reads in history order, stored as 8 bytes each (the poll op
// and the record's index: a soak's check holds millions) and handed out as
// Reads, the rest looked up in the History.
class ReadList {
 public:
  struct Entry {
    uint32_t op, rec;
  };
  class iterator {
   public:
    iterator(const History* h, const Entry* e) : h_(h), e_(e) {}
    Read operator*() const { return ReadList::expand(*h_, *e_); }
    iterator& operator++() {
      ++e_;
      return *this;
    }
    bool operator!=(const iterator& o) const { return e_ != o.e_; }

   private:
    const History* h_;
    const Entry* e_;
  };
  void bind(const History& h) { h_ = &h; }
  void reserve(size_t n) { entries_.reserve(n); }
  void push_back(uint64_t op, uint64_t rec);
  size_t size() const { return entries_.size(); }
  bool empty() const { return entries_.empty(); }
  Read operator[](size_t i) const { return expand(*h_, entries_[i]); }
  iterator begin() const { return {h_, entries_.data()}; }
  iterator end() const { return {h_, entries_.data() + entries_.size()}; }

 private:
  static Read expand(const History& h, const Entry& e);
  const History* h_ = nullptr;
  std::vector<Entry> entries_;
};

struct PartitionIndex {
  TopicPartition tp;
  uint32_t ordinal = 0;                 // position in HistoryIndex::partitions()
  std::vector<uint64_t> sends;          // send ops in invoke order
  ReadList reads;                       // in history order
  const FinalLog* final_log = nullptr;
  // A compacted partition: per key, the highest offset an ok send of it was
  // acked at or a record of it holds in the final log (lookups only, never
  // iterated). Views into the History's pool.
  std::unordered_map<std::string_view, int64_t> latest_by_key;
  bool compacted() const { return final_log && final_log->compacted; }

  // The final log's record at `offset`, or nullptr.
  const LogRecord* at(int64_t offset) const;
  // As the History records it: a null value (a tombstone) as the empty string (Sym 0).
  Sym value_of(const LogRecord* r) const { return r->value == kNoSym ? Sym{0} : r->value; }
};

// Per value Sym, entries (partition ordinal, payload) in insertion order.
class ValueChains {
 public:
  // `entries`: how many add() will follow (sized once: no growth slack, a soak
  // adds millions).
  void reset(size_t syms, size_t entries) {
    head_.assign(syms, 0);
    tail_.assign(syms, 0);
    next_.clear();
    part_.clear();
    payload_.clear();
    next_.reserve(entries);
    part_.reserve(entries);
    payload_.reserve(entries);
  }
  void add(Sym v, uint32_t part, int64_t payload);
  // No more add(): frees what only adding needs.
  void seal() { std::vector<uint32_t>().swap(tail_); }
  // Calls f(payload) for each entry of `v` in partition `part`, in order;
  // f returns false to stop.
  template <class F>
  void each(Sym v, uint32_t part, F f) const {
    if (v >= head_.size()) return;
    for (uint32_t e = head_[v]; e != 0; e = next_[e - 1])
      if (part_[e - 1] == part && !f(payload_[e - 1])) return;
  }

 private:
  std::vector<uint32_t> head_, tail_;   // Sym -> entry + 1 (0: none); tail_ until seal()
  std::vector<uint32_t> next_, part_;   // entry -> next entry + 1, partition
  std::vector<int64_t> payload_;
};

class HistoryIndex {
 public:
  explicit HistoryIndex(const CheckInput& in);
  const CheckInput& input() const { return in_; }
  const History& history() const { return *in_.history; }
  // Partitions in TopicPartition order.
  const std::vector<PartitionIndex>& partitions() const { return parts_; }
  const PartitionIndex& partition(const TopicPartition& tp) const { return parts_[ordinal_.at(tp)]; }
  // By the History's partition id (a partition some send or polled record names).
  const PartitionIndex& partition(uint32_t tp_id) const {
    const uint32_t ord = by_tp_id_.at(tp_id);
    return ord != UINT32_MAX ? parts_[ord] : partition(history().tp(tp_id));
  }

  // Send ops of value `v` to the partition, in invoke order.
  std::vector<uint64_t> sends_of(const PartitionIndex& p, Sym v) const;
  bool has_sends(const PartitionIndex& p, Sym v) const;
  // Offsets of value `v` in the partition's final log (records of aborted transactions excluded).
  std::vector<int64_t> log_offsets_of(const PartitionIndex& p, Sym v) const;
  bool in_log(const PartitionIndex& p, Sym v) const;
  // The same without a vector: f(op id) / f(offset) in order, returning false to stop.
  template <class F>
  void sends(const PartitionIndex& p, Sym v, F f) const {
    sends_by_value_.each(v, p.ordinal, [&](int64_t id) { return f(static_cast<uint64_t>(id)); });
  }
  template <class F>
  void log_offsets(const PartitionIndex& p, Sym v, F f) const {
    log_by_value_.each(v, p.ordinal, f);
  }
  // A send the log cleaner may legitimately have removed: an acked send on a
  // compacted partition whose key a later acked send, or a later record of
  // the final log, superseded.
  bool superseded(const PartitionIndex& p, uint64_t send_id) const;
  // The Sym of a string, kNoSym if no op recorded it.
  Sym sym(std::string_view s) const { return history().strings().find(s); }

 private:
  const CheckInput& in_;
  std::vector<PartitionIndex> parts_;
  std::map<TopicPartition, uint32_t> ordinal_;
  std::vector<uint32_t> by_tp_id_;      // History partition id -> ordinal (UINT32_MAX: none)
  ValueChains sends_by_value_, log_by_value_;
};

// "t=1.203s"
std::string fmt_time(int64_t ns);
// The faults and elections touching `tp` (or the whole cluster) in (from, to],
// one per line, for anomaly explanations; at most `limit` (the earliest ones
// when `earliest`, else the latest ones).
std::string events_between(const History& h, const TopicPartition& tp, int64_t from_ns, int64_t to_ns,
                           size_t limit = 8, bool earliest = false);
// "send #12 by producer-1 (acks=all, idempotent) invoked t=..., acked t=... at offset 57 by broker 1"
std::string describe_op(const OpView& op);

}  // namespace ksim::check
