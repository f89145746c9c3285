// Kafka's checkpoint files: exact text format, validation, atomic replacement.
#include <set>

#include "storage_test_util.h"

using namespace ksim;
using namespace ksim::storage;
using namespace ksim::storage::testing;

TEST_CASE("leader-epoch-checkpoint is Kafka's text format", "[storage][checkpoint]") {
  Box b;
  b.on_node([&] {
    LeaderEpochCheckpointFile f(b.disk(), "p/leader-epoch-checkpoint");
    std::vector<EpochEntry> entries{{LeaderEpoch{0}, Offset{0}}, {LeaderEpoch{2}, Offset{10}}, {LeaderEpoch{5}, Offset{20}}};
    REQUIRE(f.write(entries) == Errc::NONE);
    REQUIRE(text_of(b.disk().contents("p/leader-epoch-checkpoint")) == "0\n3\n0 0\n2 10\n5 20\n");
    REQUIRE(!b.disk().exists("p/leader-epoch-checkpoint.tmp"));
    auto back = f.read();
    REQUIRE(back.ok());
    REQUIRE(back.value == entries);
  });
}

TEST_CASE("an offset checkpoint maps topic-partitions to offsets - sorted", "[storage][checkpoint]") {
  Box b;
  b.on_node([&] {
    OffsetCheckpointFile f(b.disk(), "kafka-logs/replication-offset-checkpoint");
    std::map<TopicPartition, Offset> hw{{{"orders", 1}, Offset{7}}, {{"audit", 0}, Offset{5}}, {{"orders", 0}, Offset{9}}};
    REQUIRE(f.write(hw) == Errc::NONE);
    REQUIRE(text_of(b.disk().contents("kafka-logs/replication-offset-checkpoint")) ==
            "0\n3\naudit 0 5\norders 0 9\norders 1 7\n");
    auto back = f.read();
    REQUIRE(back.ok());
    REQUIRE(back.value == hw);
    // A missing file is an empty map, as a fresh log dir.
    OffsetCheckpointFile none(b.disk(), "kafka-logs/recovery-point-offset-checkpoint");
    auto empty = none.read();
    REQUIRE(empty.ok());
    REQUIRE(empty.value.empty());
  });
}

TEST_CASE("a malformed checkpoint is a storage error - not a guess", "[storage][checkpoint]") {
  Box b;
  b.on_node([&] {
    auto put = [&](const std::string& text) {
      b.disk().remove("cp");
      b.disk().append("cp", bytes_of(text));
    };
    LeaderEpochCheckpointFile f(b.disk(), "cp");
    for (const char* bad : {"1\n0\n", "0\n2\n0 0\n", "0\n1\n0 0\n1 5\n", "0\n1\n0 x\n", "0\n1\n0 0", "0\n1\n0 0 0\n", ""}) {
      put(bad);
      INFO(bad);
      REQUIRE(f.read().error == Errc::KAFKA_STORAGE_ERROR);
    }
    put("0\n0\n");
    REQUIRE(f.read().ok());
  });
}

TEST_CASE("a checkpoint write cut by a power failure leaves the old or the new file - never a mix",
          "[storage][checkpoint]") {
  const std::vector<EpochEntry> old_entries{{LeaderEpoch{1}, Offset{0}}};
  const std::vector<EpochEntry> new_entries{{LeaderEpoch{1}, Offset{0}}, {LeaderEpoch{3}, Offset{400}}};
  std::set<size_t> seen;  // 1 = old, 2 = new
  for (uint64_t step = 0; step < 40; ++step) {
    Box b(step + 1);
    b.on_node([&] {
      REQUIRE(LeaderEpochCheckpointFile(b.disk(), "cp").write(old_entries) == Errc::NONE);
      // The node's page cache must not carry the old write into the cut below.
      REQUIRE(b.disk().unsynced_bytes() == 0);
    });
    b.w.spawn(b.n, "writer", [&] { LeaderEpochCheckpointFile(b.disk(), "cp").write(new_entries); });
    b.w.run_for(sim::microseconds(15 * static_cast<int64_t>(step)));
    b.w.power_fail(b.n, /*torn=*/true);
    b.w.restart(b.n);
    b.on_node([&] {
      auto r = LeaderEpochCheckpointFile(b.disk(), "cp").read();
      REQUIRE(r.ok());
      REQUIRE((r.value == old_entries || r.value == new_entries));
      seen.insert(r.value.size());
    });
  }
  REQUIRE(seen == std::set<size_t>{1, 2});  // the cut fell both before and after the rename
}
