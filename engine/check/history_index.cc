#include "engine/check/history_index.h"

#include <algorithm>
#include <cstdio>

#include <stdexcept>

namespace ksim::check {

const LogRecord* PartitionIndex::at(int64_t offset) const {
  if (!final_log) return nullptr;
  const auto& r = final_log->records;
  // Most logs are dense (no control records, no compaction): try the slot
  // the offset would have, then search.
  if (!r.empty() && offset >= r.front().offset) {
    const auto guess = static_cast<uint64_t>(offset - r.front().offset);
    if (guess < r.size() && r[guess].offset == offset) return &r[guess];
  }
  auto it = std::lower_bound(r.begin(), r.end(), offset,
                             [](const LogRecord& a, int64_t o) { return a.offset < o; });
  return it != r.end() && it->offset == offset ? &*it : nullptr;
}

void ValueChains::add(Sym v, uint32_t part, int64_t payload) {
  if (!(next_.size() < UINT32_MAX - 1)) throw std::length_error("history index: too many entries");
  next_.push_back(0);
  part_.push_back(part);
  payload_.push_back(payload);
  const uint32_t e = static_cast<uint32_t>(next_.size());
  if (tail_[v] == 0)
    head_[v] = e;
  else
    next_[tail_[v] - 1] = e;
  tail_[v] = e;
}

HistoryIndex::HistoryIndex(const CheckInput& in) : in_(in) {
  const History& h = *in.history;
  // The partitions: those a send or a polled record names, and every final log.
  std::vector<uint32_t> sends_per_tp(h.partition_count(), 0), reads_per_tp(h.partition_count(), 0);
  std::vector<bool> used(h.partition_count(), false);
  for (uint64_t id = 0; id < h.size(); ++id) {
    const OpRecord& r = h.rec(id);
    if (r.type() == OpType::send) {
      ++sends_per_tp[r.tp];
      used[r.tp] = true;
    } else if (r.type() == OpType::poll) {
      for (uint64_t i = r.items.begin; i < r.items.end; ++i) {
        ++reads_per_tp[h.polled(i).tp];
        used[h.polled(i).tp] = true;
      }
    }
  }
  for (uint32_t t = 0; t < h.partition_count(); ++t)
    if (used[t]) ordinal_.emplace(h.tp(t), 0);
  for (const auto& [tp, log] : in.final_logs) ordinal_.emplace(tp, 0);
  parts_.resize(ordinal_.size());
  uint32_t n = 0;
  for (auto& [tp, ord] : ordinal_) {
    ord = n;
    parts_[n].tp = tp;
    parts_[n].ordinal = n;
    parts_[n].reads.bind(h);
    ++n;
  }
  by_tp_id_.assign(h.partition_count(), UINT32_MAX);
  for (uint32_t t = 0; t < h.partition_count(); ++t) {
    if (!used[t]) continue;
    by_tp_id_[t] = ordinal_.at(h.tp(t));
    parts_[by_tp_id_[t]].sends.reserve(sends_per_tp[t]);
    parts_[by_tp_id_[t]].reads.reserve(reads_per_tp[t]);
  }

  size_t sends = 0, log_records = 0;
  for (uint32_t t = 0; t < h.partition_count(); ++t) sends += sends_per_tp[t];
  for (const auto& [tp, log] : in.final_logs) log_records += log.records.size();
  sends_by_value_.reset(h.strings().size(), sends);
  log_by_value_.reset(h.strings().size(), log_records);
  for (uint64_t id = 0; id < h.size(); ++id) {
    const OpRecord& r = h.rec(id);
    if (r.type() == OpType::send) {
      const uint32_t ord = by_tp_id_[r.tp];
      parts_[ord].sends.push_back(id);
      sends_by_value_.add(r.value, ord, static_cast<int64_t>(id));
    } else if (r.type() == OpType::poll) {
      for (uint64_t i = r.items.begin; i < r.items.end; ++i) parts_[by_tp_id_[h.polled(i).tp]].reads.push_back(id, i);
    }
  }
  for (const auto& [tp, log] : in.final_logs) {
    PartitionIndex& p = parts_[ordinal_.at(tp)];
    p.final_log = &log;
    if (log.compacted) {
      for (uint64_t id : p.sends) {
        const OpRecord& r = in.history->rec(id);
        if (r.outcome() != Outcome::ok || r.offset < 0 || r.txn() == TxnState::aborted) continue;
        if (auto key = in.history->send_key(id)) {
          auto [it, fresh] = p.latest_by_key.emplace(*key, r.offset);
          if (!fresh) it->second = std::max(it->second, r.offset);
        }
      }
      // A later record of the key in the final log supersedes too, whatever its
      // send's outcome: a send whose acknowledgement the producer never saw (its
      // process was killed, its request outlived delivery.timeout.ms) may still
      // have landed, and the cleaner rightly keeps only it.
      for (const LogRecord& r : log.records)
        if (r.key != kNoSym && !r.aborted && !r.undecided) {
          auto [it, fresh] = p.latest_by_key.emplace(in.history->str(r.key), r.offset);
          if (!fresh) it->second = std::max(it->second, r.offset);
        }
    }
    // Records of aborted transactions are in the log but not in the partition's
    // content: no reader may return them, so they are no copy of anything.
    for (const LogRecord& r : log.records)
      if (!r.aborted && r.value != kNoSym) log_by_value_.add(r.value, p.ordinal, r.offset);
  }
  sends_by_value_.seal();
  log_by_value_.seal();
}

void ReadList::push_back(uint64_t op, uint64_t rec) {
  if (op > UINT32_MAX || rec > UINT32_MAX) throw std::length_error("check: more than 2^32 operations or polled records");
  entries_.push_back({static_cast<uint32_t>(op), static_cast<uint32_t>(rec)});
}

Read ReadList::expand(const History& h, const Entry& e) {
  const OpRecord& r = h.rec(e.op);
  return Read{e.op, h.actor(r.actor).client, r.invoke_ns, e.rec, &h.polled(e.rec)};
}

bool HistoryIndex::superseded(const PartitionIndex& p, uint64_t send_id) const {
  if (!p.compacted()) return false;
  const auto key = history().send_key(send_id);
  if (!key) return false;
  auto it = p.latest_by_key.find(*key);
  return it != p.latest_by_key.end() && it->second > history().rec(send_id).offset;
}

std::vector<uint64_t> HistoryIndex::sends_of(const PartitionIndex& p, Sym v) const {
  std::vector<uint64_t> out;
  sends_by_value_.each(v, p.ordinal, [&](int64_t id) {
    out.push_back(static_cast<uint64_t>(id));
    return true;
  });
  return out;
}

bool HistoryIndex::has_sends(const PartitionIndex& p, Sym v) const {
  bool any = false;
  sends_by_value_.each(v, p.ordinal, [&](int64_t) { return !(any = true); });
  return any;
}

std::vector<int64_t> HistoryIndex::log_offsets_of(const PartitionIndex& p, Sym v) const {
  std::vector<int64_t> out;
  log_by_value_.each(v, p.ordinal, [&](int64_t o) {
    out.push_back(o);
    return true;
  });
  return out;
}

bool HistoryIndex::in_log(const PartitionIndex& p, Sym v) const {
  bool any = false;
  log_by_value_.each(v, p.ordinal, [&](int64_t) { return !(any = true); });
  return any;
}

std::string fmt_time(int64_t ns) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "t=%.3fs", static_cast<double>(ns) / 1e9);
  return buf;
}

std::string events_between(const History& h, const TopicPartition& tp, int64_t from_ns, int64_t to_ns,
                           size_t limit, bool earliest) {
  std::vector<std::string> lines;
  for (const ClusterEvent& e : h.events()) {
    if (e.at_ns <= from_ns || e.at_ns > to_ns) continue;
    std::string line = fmt_time(e.at_ns) + ": ";
    switch (e.type) {
      case EventType::election:
      case EventType::leader_change:
        if (!(e.tp == tp)) continue;
        if (e.node < 0)
          line += tp.str() + " has no leader (epoch " + std::to_string(e.leader_epoch) + ")";
        else
          line += "broker " + std::to_string(e.node) + " " + (e.unclean ? "elected UNCLEANLY" : "elected") +
                  " leader of " + tp.str() + " (epoch " + std::to_string(e.leader_epoch) + ")";
        break;
      case EventType::fault:
        line += e.node >= 0 ? "node " + std::to_string(e.node) + ": " + e.what : e.what;
        break;
      case EventType::heal:
        line += e.node >= 0 ? "node " + std::to_string(e.node) + ": " + e.what : e.what;
        break;
      case EventType::note:
        line += e.what;
        break;
      case EventType::group_created:
      case EventType::member_fenced:
      case EventType::group_converted:
        continue;  // the ownership checker tells its own story of a group's incarnations
      case EventType::isr_change: {
        if (!(e.tp == tp)) continue;
        line += tp.str() + " ISR now {";
        for (size_t i = 0; i < e.isr.size(); ++i) line += (i ? "," : "") + std::to_string(e.isr[i]);
        line += "}";
        break;
      }
    }
    lines.push_back(std::move(line));
  }
  if (lines.size() > limit) {
    if (earliest)
      lines.resize(limit);
    else
      lines.erase(lines.begin(), lines.end() - static_cast<ptrdiff_t>(limit));
  }
  std::string out;
  for (const auto& l : lines) out += "  " + l + "\n";
  return out;
}

std::string describe_op(const OpView& op) {
  std::string s;
  switch (op.type()) {
    case OpType::send: {
      s = "send #" + std::to_string(op.id()) + " of '" + std::string(op.value()) + "' by " + std::string(op.client_name()) + " (acks=" +
          (op.acks() == -1 ? std::string("all") : std::to_string(op.acks())) + (op.idempotent() ? ", idempotent" : "") +
          ") to " + op.tp().str() + " invoked " + fmt_time(op.invoke_ns());
      if (op.outcome() == Outcome::ok) {
        s += ", acked " + fmt_time(op.complete_ns());
        if (op.offset().value >= 0) s += " at offset " + std::to_string(op.offset().value);
        if (op.leader() >= 0) s += " by leader " + std::to_string(op.leader());
      } else if (op.outcome() == Outcome::fail) {
        s += ", failed " + fmt_time(op.complete_ns());
      } else if (op.outcome() == Outcome::info) {
        s += ", outcome unknown at " + fmt_time(op.complete_ns());
      } else {
        s += ", never completed";
      }
      break;
    }
    case OpType::poll:
      s = "poll #" + std::to_string(op.id()) + " by " + std::string(op.client_name()) + " at " + fmt_time(op.invoke_ns()) + " (" +
          std::to_string(op.records().size()) + " records)";
      break;
    case OpType::commit:
      s = std::string(op.detail()) + " commit #" + std::to_string(op.id()) + " by " + std::string(op.client_name()) + " (generation " +
          std::to_string(op.generation()) + ") at " + fmt_time(op.invoke_ns());
      break;
    case OpType::seek:
      s = "seek #" + std::to_string(op.id()) + " by " + std::string(op.client_name()) + " (" + std::string(op.detail()) + ") at " +
          fmt_time(op.invoke_ns());
      break;
    case OpType::assign:
      s = "assignment #" + std::to_string(op.id()) + " to " + std::string(op.client_name()) + " (generation " +
          std::to_string(op.generation()) + ") at " + fmt_time(op.invoke_ns());
      break;
    case OpType::revoke:
      s = "revocation #" + std::to_string(op.id()) + " from " + std::string(op.client_name()) + " (" + std::string(op.detail()) + ") at " +
          fmt_time(op.invoke_ns());
      break;
  }
  return s;
}

}  // namespace ksim::check
