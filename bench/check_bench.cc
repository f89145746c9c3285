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
    Op a;
    a.type = OpType::assign;
    a.client = 100 + p % 3;
    a.group_id = "g";
    a.generation = 1;
    a.offsets.push_back(OffsetEntry{TopicPartition{"t", p}, Offset{-1}});
    h.record(a, 0);
    in.final_logs[TopicPartition{"t", p}].source_broker = 1;
    in.final_logs[TopicPartition{"t", p}].replicas = {1, 2, 3};
  }
  std::vector<std::vector<PolledRecord>> pending(kPartitions);
  for (int64_t i = 0; i < kSends; ++i) {
    const int p = static_cast<int>(i % kPartitions);
    const TopicPartition tp{"t", p};
    Op s;
    s.type = OpType::send;
    s.client = 50 + p % 2;
    s.client_name = "producer";
    s.tp = tp;
    s.value = "v" + std::to_string(i);
    s.idempotent = true;
    const uint64_t id = h.invoke(s, i * 1000);
    h.op(id).offset = Offset{next[p]};
    h.complete(id, Outcome::ok, i * 1000 + 500);
    in.final_logs[tp].records.push_back(LogRecord{next[p], std::nullopt, h.op(id).value});
    PolledRecord r;
    r.tp = tp;
    r.offset = Offset{next[p]};
    r.value = h.op(id).value;
    r.high_watermark = Offset{next[p] + 1};
    pending[p].push_back(std::move(r));
    ++next[p];
    if (pending[p].size() == 10) {
      Op poll;
      poll.type = OpType::poll;
      poll.client = 100 + p % 3;
      poll.group_id = "g";
      poll.records = std::move(pending[p]);
      pending[p].clear();
      h.record(std::move(poll), i * 1000 + 900);
    }
  }
  for (int p = 0; p < kPartitions; ++p) in.final_logs[TopicPartition{"t", p}].high_watermark = next[p];
  const auto t0 = std::chrono::steady_clock::now();
  const Verdict v = check_all(in);
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::printf("check_ops=%zu\n", h.ops().size());
  std::printf("check_anomalies=%zu\n", v.anomalies().size());
  std::printf("check_1m_ops_s=%.2f\n", s * 1'000'000.0 / static_cast<double>(h.ops().size()));
  return v.anomalies().empty() ? 0 : 1;
}
