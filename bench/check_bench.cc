// check_1m_ops_s: seconds to check a history of 1,000,000 operations — a
// producer's sends over 12 partitions and consumers' polls of them (10
// records per poll), with the final logs, through every checker.
#include <chrono>
#include <cstdio>

#include "engine/check/checkers.h"

using namespace ksim;
using namespace ksim::check;

int main() {
  constexpr int kPartitions = 12;
  constexpr int64_t kSends = 900'000;  // + 90,000 polls + assigns/seeks ≈ 1,000,000 ops
  History h;
  CheckInput in;
  in.history = &h;
  in.config.min_insync_replicas = 2;
  in.config.full_read = true;
  std::vector<int64_t> next(kPartitions, 0);
  for (int p = 0; p < kPartitions; ++p) {
    OpSpec a;
    a.type = OpType::assign;
    a.client = 100 + p % 3;
    a.group_id = "g";
    a.generation = 1;
    a.offsets.push_back(OffsetEntry{TopicPartition{"t", p}, Offset{-1}});
    h.record(a, 0);
    in.final_logs[TopicPartition{"t", p}].source_broker = 1;
    in.final_logs[TopicPartition{"t", p}].replicas = {1, 2, 3};
  }
  std::vector<std::vector<PolledSpec>> pending(kPartitions);
  for (int64_t i = 0; i < kSends; ++i) {
    const int p = static_cast<int>(i % kPartitions);
    const TopicPartition tp{"t", p};
    const std::string value = "v" + std::to_string(i);
    OpSpec s;
    s.type = OpType::send;
    s.client = 50 + p % 2;
    s.client_name = "producer";
    s.tp = tp;
    s.value = value;
    s.idempotent = true;
    const uint64_t id = h.invoke(s, i * 1000);
    h.set_ack(id, Offset{next[p]}, -1);
    h.complete(id, Outcome::ok, i * 1000 + 500);
    in.final_logs[tp].records.push_back(LogRecord{next[p], kNoSym, h.intern(value)});
    PolledSpec r;
    r.tp = tp;
    r.offset = Offset{next[p]};
    r.value = h.op(id).value();  // a view into the History's pool: stable
    r.high_watermark = Offset{next[p] + 1};
    pending[p].push_back(std::move(r));
    ++next[p];
    if (pending[p].size() == 10) {
      OpSpec poll;
      poll.type = OpType::poll;
      poll.client = 100 + p % 3;
      poll.group_id = "g";
      poll.records = std::move(pending[p]);
      pending[p].clear();
      h.record(poll, i * 1000 + 900);
    }
  }
  for (int p = 0; p < kPartitions; ++p) in.final_logs[TopicPartition{"t", p}].high_watermark = next[p];
  const auto t0 = std::chrono::steady_clock::now();
  const Verdict v = check_all(in);
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::printf("check_ops=%zu\n", h.size());
  std::printf("check_history_bytes_per_op=%.1f\n", static_cast<double>(h.memory_bytes()) / static_cast<double>(h.size()));
  std::printf("check_anomalies=%zu\n", v.anomalies().size());
  std::printf("check_1m_ops_s=%.2f\n", s * 1'000'000.0 / static_cast<double>(h.size()));
  return v.anomalies().empty() ? 0 : 1;
}
