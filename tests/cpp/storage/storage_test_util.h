// Shared scaffolding for the storage tests: a one-node world whose disk the
// storage code runs on, and small batch builders.
#pragma once

#include <catch2/catch.hpp>

#include <memory>
#include <string>
#include <vector>

#include "engine/storage/unified_log.h"
#include "sim/disk.h"
#include "sim/world.h"

namespace ksim::storage::testing {

struct Box {
  sim::World w;
  sim::NodeId n;
  explicit Box(uint64_t seed = 1) : w(sim::WorldConfig{.seed = seed}) {
    n = w.add_node("broker1", [](sim::NodeId) { return std::shared_ptr<void>(); });
    w.start(n);
  }
  sim::Disk& disk() { return w.disk(n); }
  // Runs `fn` as a process of the broker node until it finishes.
  template <class F>
  void on_node(F fn, sim::Duration budget = sim::seconds(100)) {
    bool done = false;
    w.spawn(n, "test", [&] {
      fn();
      done = true;
    });
    w.run_for(budget);
    REQUIRE(done);
  }
};

inline Bytes bytes_of(const std::string& s) { return Bytes(s.begin(), s.end()); }
inline std::string text_of(std::span<const uint8_t> b) { return std::string(b.begin(), b.end()); }

// A producer batch of `values`, all stamped `timestamp`.
inline BatchPtr batch_of(const std::vector<std::string>& values, int64_t timestamp = 1000) {
  std::vector<Record> records;
  for (const std::string& v : values) records.push_back(Record{timestamp, std::nullopt, bytes_of(v), {}});
  return RecordBatch::build(BatchParams{}, records);
}

// Every record value in `batches`, in order.
inline std::vector<std::string> values_of(const std::vector<BatchPtr>& batches) {
  std::vector<std::string> out;
  for (const BatchPtr& b : batches)
    for (const RecordView& r : b->records()) out.push_back(text_of(*r.value));
  return out;
}

// Reads the whole log, segment by segment (a read returns one segment's data).
inline std::vector<BatchPtr> read_all(UnifiedLog& log) {
  std::vector<BatchPtr> out;
  Offset at = log.log_start_offset();
  while (at < log.log_end_offset()) {
    auto r = log.read(at, 1 << 30);
    REQUIRE(r.ok());
    REQUIRE(!r.value.empty());
    for (const BatchPtr& b : r.value) out.push_back(b);
    at = r.value.back()->next_offset();
  }
  return out;
}

inline const TopicPartition kTp{"orders", 0};

inline std::unique_ptr<UnifiedLog> open_log(Box& b, const LogConfig& cfg = {}, Offset recovery_point = Offset{0}) {
  auto r = UnifiedLog::open(b.w, b.disk(), "kafka-logs", kTp, cfg, recovery_point);
  REQUIRE(r.ok());
  return std::move(r.value);
}

}  // namespace ksim::storage::testing
