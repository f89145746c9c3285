// inconsistent-offsets: two different records reported at one offset — by two
// consumers, or by a consumer and the final log (the consumer saw a record
// that was later replaced, i.e. one that was never committed).
// divergence / multiple-leaders / hw-regression: the cluster's online
// invariants ("<kind>: <detail>" lines), surfaced through the same verdict.
#include <algorithm>
#include <cstdint>
#include <stdexcept>
#include <unordered_map>
#include <utility>
#include <vector>

#include "engine/check/checkers.h"
#include "engine/check/fault_model.h"

namespace ksim::check {
namespace {

// Per offset of a partition's reads: the index of its first read, and whether
// it was reported. Reads cover a dense offset range (consumers read a log from
// its start on), so a flat array over [lowest, highest] does it in one
// allocation; a range far wider than the reads (offsets reset, far-apart
// seeks) falls back to hashing.
class FirstReads {
 public:
  explicit FirstReads(const PartitionIndex& p) {
    if (p.reads.size() >= (size_t{1} << 31)) throw std::length_error("check: more than 2^31 reads of one partition");
    if (p.reads.empty()) return;
    int64_t lo = INT64_MAX, hi = INT64_MIN;
    for (const Read& rd : p.reads) {
      lo = std::min(lo, rd.record->offset);
      hi = std::max(hi, rd.record->offset);
    }
    const uint64_t span = static_cast<uint64_t>(hi) - static_cast<uint64_t>(lo) + 1;
    if (span <= 4 * p.reads.size() + 1024) {
      lo_ = lo;
      dense_.assign(span, kNone);
    }
  }
  // (index of the first read at `off`, whether this one is it).
  std::pair<size_t, bool> emplace(int64_t off, size_t i) {
    uint32_t& slot = dense_.empty() ? sparse_.try_emplace(off, kNone).first->second : dense_[index(off)];
    const uint32_t mine = static_cast<uint32_t>(i) << 1;
    if (slot == kNone) {
      slot = mine;
      return {i, true};
    }
    return {slot >> 1, false};
  }
  // True the first time an anomaly at `off` (already emplaced) is reported.
  bool report_once(int64_t off) {
    uint32_t& slot = dense_.empty() ? sparse_.at(off) : dense_[index(off)];
    if (slot & 1u) return false;
    slot |= 1u;
    return true;
  }

 private:
  static constexpr uint32_t kNone = UINT32_MAX;  // read index << 1 | reported
  size_t index(int64_t off) const { return static_cast<size_t>(off - lo_); }
  int64_t lo_ = 0;
  std::vector<uint32_t> dense_;
  std::unordered_map<int64_t, uint32_t> sparse_;
};

}  // namespace

void check_consistency(const HistoryIndex& index, Verdict& out) {
  const History& h = index.history();
  for (const PartitionIndex& p : index.partitions()) {
    const TopicPartition& tp = p.tp;
    FirstReads first_read(p);
    for (size_t i = 0; i < p.reads.size(); ++i) {
      const Read rd = p.reads[i];
      const int64_t off = rd.record->offset;
      const Sym value = rd.record->value;
      auto [first_index, fresh] = first_read.emplace(off, i);
      std::string other_value, other_source;
      int64_t other_ns = 0;
      int32_t written_epoch = rd.record->leader_epoch;  // the older of the two records' epochs
      if (const Read first = p.reads[first_index]; !fresh && first.record->value != value) {
        other_value = h.str(first.record->value);
        other_source = describe_op(h.op(first.op));
        other_ns = first.at_ns;
        written_epoch = std::min(written_epoch, first.record->leader_epoch);
      } else if (const LogRecord* r = p.at(off); r && p.value_of(r) != value) {
        other_value = log_string(h, r->value);
        other_source = "the final log (broker " + std::to_string(p.final_log->source_broker) + ")";
        other_ns = rd.at_ns;
      } else {
        continue;
      }
      if (!first_read.report_once(off)) continue;
      Anomaly a;
      a.kind = "inconsistent-offsets";
      // The first observation read a committed record (consumers read below
      // the HW): its replacement is permitted where its loss would be.
      // A consumer hands out records it fetched earlier (its fetch buffer; a
      // slow consumer's poll returns them seconds later): the read record may
      // have been fetched as early as its write was acknowledged (hunt seed
      // 7385: fetched, then lost to a power failure, returned by poll after).
      int64_t since = std::min(other_ns, rd.at_ns);
      index.sends(p, value, [&](uint64_t id) {
        const OpView send = h.op(id);
        if (send.offset().value == off && send.complete_ns() >= 0) since = std::min(since, send.complete_ns());
        return true;
      });
      a.cause = permitted_committed_loss(index, tp, since);
      if (a.cause.empty()) a.cause = permitted_replaced_read(index, tp, written_epoch);
      a.expected = !a.cause.empty();
      a.tp = tp;
      a.offsets.push_back(off);
      const std::string read_value(h.str(value));
      a.records = {other_value, read_value};
      a.ops.push_back(rd.op);
      a.at_ns = rd.at_ns;
      a.explanation = tp.str() + " offset " + std::to_string(off) + " holds '" + other_value + "' per " + other_source +
                      " but '" + read_value + "' per " + describe_op(h.op(rd.op)) + ".\n" +
                      events_between(h, tp, std::min(other_ns, rd.at_ns) - 5'000'000'000, rd.at_ns) +
                      (a.expected ? "Permitted: " + a.cause + "." : "A committed record was replaced: a violation.");
      out.add(std::move(a));
    }
  }
  for (const std::string& v : index.input().invariant_violations) {
    Anomaly a;
    const size_t colon = v.find(':');
    a.kind = colon == std::string::npos ? "invariant" : v.substr(0, colon);
    a.explanation = v;
    out.add(std::move(a));
  }
}

}  // namespace ksim::check
