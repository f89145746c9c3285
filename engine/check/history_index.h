// HistoryIndex: the lookup structures every checker shares, built once per
// check in O(ops + records): sends per partition, sends by value, reads per
// partition, final-log lookup by offset and by value. Hash maps here are for
// lookups only; nothing iterates them into output (determinism).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "engine/check/check_input.h"

namespace ksim::check {

struct Read {
  uint64_t op = 0;        // the poll op
  int32_t client = -1;
  int64_t at_ns = 0;
  const PolledRecord* record = nullptr;
};

// One or more values under a key; the common case (exactly one) allocates nothing.
template <class T>
struct Multi {
  T first{};
  std::vector<T> more;
  size_t size() const { return 1 + more.size(); }
  std::vector<T> all() const {
    std::vector<T> out{first};
    out.insert(out.end(), more.begin(), more.end());
    return out;
  }
};
template <class T>
void add_to(std::unordered_map<std::string_view, Multi<T>>& m, std::string_view key, T v) {
  auto [it, fresh] = m.try_emplace(key, Multi<T>{v, {}});
  if (!fresh) it->second.more.push_back(v);
}

// Keys are views into the History and the FinalLogs, which outlive the index.
struct PartitionIndex {
  std::vector<uint64_t> sends;                                   // send ops in invoke order
  std::unordered_map<std::string_view, Multi<uint64_t>> sends_by_value;
  std::vector<Read> reads;                                       // in history order
  const FinalLog* final_log = nullptr;
  std::unordered_map<std::string_view, Multi<int64_t>> log_offsets_by_value;  // records of aborted transactions excluded

  // The final log's record at `offset`, or nullptr.
  const LogRecord* at(int64_t offset) const;
};

class HistoryIndex {
 public:
  explicit HistoryIndex(const CheckInput& in);
  const CheckInput& input() const { return in_; }
  const History& history() const { return *in_.history; }
  // Partitions in TopicPartition order.
  const std::vector<TopicPartition>& partitions() const { return order_; }
  const PartitionIndex& partition(const TopicPartition& tp) const { return parts_.at(tp); }

 private:
  const CheckInput& in_;
  std::map<TopicPartition, PartitionIndex> parts_;
  std::vector<TopicPartition> order_;
};

// "t=1.203s"
std::string fmt_time(int64_t ns);
// The faults and elections touching `tp` (or the whole cluster) in (from, to],
// one per line, for anomaly explanations; at most `limit` (the earliest ones
// when `earliest`, else the latest ones).
std::string events_between(const History& h, const TopicPartition& tp, int64_t from_ns, int64_t to_ns,
                           size_t limit = 8, bool earliest = false);
// "send #12 by producer-1 (acks=all, idempotent) invoked t=..., acked t=... at offset 57 by broker 1"
std::string describe_op(const Op& op);

}  // namespace ksim::check
