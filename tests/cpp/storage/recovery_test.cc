// Recovery: what a restarted broker finds in its log after a process crash,
// a (torn) power failure, or a corrupted byte. Recovery may only cut the log
// back to a prefix of what was written: never reorder, never invent.
#include <set>

#include "storage_test_util.h"

using namespace ksim;
using namespace ksim::storage;
using namespace ksim::storage::testing;

namespace {
std::string value_for(int i) { return "record-" + std::to_string(i) + std::string(static_cast<size_t>(i % 7) * 10, '.'); }
}  // namespace

TEST_CASE("a process crash loses nothing: the page cache survives", "[storage][recovery]") {
  Box b;
  b.on_node([&] {
    auto log = open_log(b);
    for (int i = 0; i < 10; ++i) log->append_as_leader(batch_of({value_for(i)}), LeaderEpoch{i < 5 ? 1 : 2});
  });
  b.w.crash(b.n);
  b.w.restart(b.n);
  b.on_node([&] {
    auto log = open_log(b);
    REQUIRE(log->log_end_offset() == Offset{10});
    auto vals = values_of(read_all(*log));
    REQUIRE(vals.size() == 10);
    for (int i = 0; i < 10; ++i) REQUIRE(vals[static_cast<size_t>(i)] == value_for(i));
    REQUIRE(log->end_offset_for_epoch(LeaderEpoch{1}) == std::pair{LeaderEpoch{1}, Offset{5}});
  });
}

TEST_CASE("a torn power failure keeps exactly a prefix of the batches (30 seeds)", "[storage][recovery]") {
  std::set<int64_t> survivors;
  for (uint64_t seed = 1; seed <= 30; ++seed) {
    Box b(seed);
    LogConfig cfg;
    cfg.segment_bytes = 600;  // several segments; rolls flush the old ones
    int flushed_up_to = 0;
    b.on_node([&] {
      auto log = open_log(b, cfg);
      for (int i = 0; i < 25; ++i) {
        REQUIRE(log->append_as_leader(batch_of({value_for(i), value_for(i) + "!"}), LeaderEpoch{i / 10}).ok());
        if (i == 4) REQUIRE(log->flush() == Errc::NONE);
      }
      flushed_up_to = static_cast<int>(log->recovery_point().value);
    });
    b.w.power_fail(b.n, /*torn=*/true);
    b.w.restart(b.n);
    b.on_node([&] {
      auto log = open_log(b, cfg);
      const int64_t leo = log->log_end_offset().value;
      INFO("seed " << seed << " leo " << leo);
      REQUIRE(leo >= flushed_up_to);  // what was fsynced is never lost
      REQUIRE(leo % 2 == 0);          // whole batches only
      auto batches = read_all(*log);
      REQUIRE(static_cast<int64_t>(batches.size()) * 2 == leo);
      for (size_t i = 0; i < batches.size(); ++i) {
        const int n = static_cast<int>(i);
        REQUIRE(batches[i]->crc_valid());
        REQUIRE(batches[i]->base_offset() == Offset{2 * n});
        REQUIRE(values_of({batches[i]}) == std::vector<std::string>{value_for(n), value_for(n) + "!"});
        REQUIRE(batches[i]->partition_leader_epoch() == LeaderEpoch{n / 10});
      }
      // The epoch cache never points past what survived.
      if (auto last = log->leader_epoch_cache().latest_entry()) REQUIRE(last->start_offset < log->log_end_offset());
      survivors.insert(leo);
      // And the log is usable: the next append continues right after the prefix.
      REQUIRE(log->append_as_leader(batch_of({"after"}), LeaderEpoch{9}).value.first_offset == Offset{leo});
    });
  }
  REQUIRE(survivors.size() > 3);  // the tear fell at different points
}

TEST_CASE("with flush.messages=1 a power failure loses nothing that was acknowledged", "[storage][recovery]") {
  Box b;
  LogConfig cfg;
  cfg.flush_messages = 1;
  b.on_node([&] {
    auto log = open_log(b, cfg);
    for (int i = 0; i < 6; ++i) REQUIRE(log->append_as_leader(batch_of({value_for(i)}), LeaderEpoch{0}).ok());
    REQUIRE(log->recovery_point() == Offset{6});
  });
  b.w.power_fail(b.n, true);
  b.w.restart(b.n);
  b.on_node([&] {
    auto log = open_log(b, cfg, Offset{6});
    REQUIRE(log->log_end_offset() == Offset{6});
  });
}

TEST_CASE("a corrupted synced byte in the active segment cuts recovery at that batch", "[storage][recovery]") {
  Box b;
  std::vector<int64_t> positions;  // file position of each batch
  b.on_node([&] {
    auto log = open_log(b);
    for (int i = 0; i < 10; ++i) {
      positions.push_back(static_cast<int64_t>(b.disk().size("kafka-logs/orders-0/00000000000000000000.log")));
      log->append_as_leader(batch_of({value_for(i)}), LeaderEpoch{i < 6 ? 0 : 1});
    }
    REQUIRE(log->flush() == Errc::NONE);
  });
  b.w.crash(b.n);
  // One byte inside batch 6's record data (CRC-covered) goes bad on the platter.
  b.disk().corrupt("kafka-logs/orders-0/00000000000000000000.log", static_cast<uint64_t>(positions[6] + 70), 1);
  b.w.restart(b.n);
  b.on_node([&] {
    auto log = open_log(b);
    REQUIRE(log->log_end_offset() == Offset{6});
    auto vals = values_of(read_all(*log));
    REQUIRE(vals.size() == 6);
    REQUIRE(vals.back() == value_for(5));
    REQUIRE(static_cast<int64_t>(b.disk().size("kafka-logs/orders-0/00000000000000000000.log")) == positions[6]);
    // Epoch 1 started at offset 6, which is gone.
    REQUIRE(log->leader_epoch_cache().entries() == std::vector<EpochEntry>{{LeaderEpoch{0}, Offset{0}}});
  });
}

TEST_CASE("a flipped base offset that leaves the segment's range cuts recovery at that batch", "[storage][recovery]") {
  // The base offset (bytes 0-7) is outside the CRC. Kafka's recovery catches a
  // flip there only when the batch no longer fits the segment's int32
  // relative offsets (ensureOffsetInRange) - found by the record_batch fuzzer.
  Box b;
  std::vector<int64_t> positions;
  b.on_node([&] {
    auto log = open_log(b);
    for (int i = 0; i < 10; ++i) {
      positions.push_back(static_cast<int64_t>(b.disk().size("kafka-logs/orders-0/00000000000000000000.log")));
      log->append_as_leader(batch_of({value_for(i)}), LeaderEpoch{0});
    }
    REQUIRE(log->flush() == Errc::NONE);
  });
  b.w.crash(b.n);
  // Byte 1 of the base offset: 6 becomes 0x00FF000000000006, far past the segment.
  b.disk().corrupt("kafka-logs/orders-0/00000000000000000000.log", static_cast<uint64_t>(positions[6] + 1), 1);
  b.w.restart(b.n);
  b.on_node([&] {
    auto log = open_log(b);
    REQUIRE(log->log_end_offset() == Offset{6});
    REQUIRE(values_of(read_all(*log)).back() == value_for(5));
  });
}

TEST_CASE("segments below the recovery point are loaded from their indexes - not rescanned", "[storage][recovery]") {
  Box b;
  LogConfig cfg;
  cfg.segment_bytes = 2000;
  cfg.index_interval_bytes = 200;
  Offset rp;
  b.on_node([&] {
    auto log = open_log(b, cfg);
    for (int i = 0; i < 60; ++i) log->append_as_leader(batch_of({value_for(i)}, 1000 + i), LeaderEpoch{0});
    rp = log->recovery_point();
    REQUIRE(rp > Offset{0});
  });
  b.w.crash(b.n);
  b.w.restart(b.n);
  b.on_node([&] {
    auto log = open_log(b, cfg, rp);
    REQUIRE(log->log_end_offset() == Offset{60});
    auto vals = values_of(read_all(*log));
    REQUIRE(vals.size() == 60);
    REQUIRE(vals[33] == value_for(33));
    REQUIRE(log->fetch_offset_by_timestamp(1033).value->offset == Offset{33});
    REQUIRE(log->read(Offset{47}, 1).value.front()->base_offset() == Offset{47});
  });
}
