// The replicated log on its own: durability, recovery of a torn tail, the
// epoch cache and the KIP-279 answer a leader gives a diverging follower.
#include <catch2/catch.hpp>

#include <functional>

#include "engine/raft/quorum_state.h"
#include "engine/raft/raft_log.h"
#include "sim/disk.h"
#include "sim/world.h"

using namespace ksim;
using namespace ksim::raft;

namespace {

RaftEntry entry(int64_t offset, int32_t epoch, std::string text = "x") {
  return {Offset{offset}, QuorumEpoch{epoch}, false, std::make_shared<const std::string>(std::move(text))};
}

// Runs `body` in a fiber of a fresh node (disk operations need one).
void on_node(sim::World& w, sim::NodeId n, std::function<void()> body) {
  w.spawn(n, "test", std::move(body));
  w.run_for(sim::seconds(1));
}

}  // namespace

TEST_CASE("a log with epochs 1 1 3 3 3 5 answers end_offset_for_epoch the KIP-279 way", "[raft][log]") {
  sim::World w;
  const auto n = w.add_node("n", [](sim::NodeId) { return std::shared_ptr<void>(); });
  w.start(n);
  RaftLog log(w.disk(n));
  on_node(w, n, [&] {
    log.recover();
    REQUIRE(log.append({entry(0, 1), entry(1, 1), entry(2, 3), entry(3, 3), entry(4, 3), entry(5, 5)}) ==
            sim::DiskStatus::ok);
  });
  REQUIRE(log.end_offset() == Offset{6});
  REQUIRE(log.last_epoch() == QuorumEpoch{5});
  REQUIRE(log.epoch_cache() == std::map<QuorumEpoch, Offset>{{QuorumEpoch{1}, Offset{0}},
                                                             {QuorumEpoch{3}, Offset{2}},
                                                             {QuorumEpoch{5}, Offset{5}}});
  // Epoch 1 ends where epoch 3 starts; epoch 2 never existed here: the answer
  // is the largest epoch below it (1) and where that ends.
  REQUIRE(log.end_offset_for_epoch(QuorumEpoch{1}) == OffsetAndEpoch{Offset{2}, QuorumEpoch{1}});
  REQUIRE(log.end_offset_for_epoch(QuorumEpoch{2}) == OffsetAndEpoch{Offset{2}, QuorumEpoch{1}});
  REQUIRE(log.end_offset_for_epoch(QuorumEpoch{4}) == OffsetAndEpoch{Offset{5}, QuorumEpoch{3}});
  REQUIRE(log.end_offset_for_epoch(QuorumEpoch{5}) == OffsetAndEpoch{Offset{6}, QuorumEpoch{5}});
  REQUIRE(log.end_offset_for_epoch(QuorumEpoch{9}) == OffsetAndEpoch{Offset{6}, QuorumEpoch{5}});
  REQUIRE(log.end_offset_for_epoch(QuorumEpoch{0}) == OffsetAndEpoch{Offset{0}, QuorumEpoch{0}});

  // A follower holding this log, told by a leader "epoch 3 ends at 4 for me",
  // cuts at 4; told "epoch 4 ends at 7" (an epoch it never had) it cuts after
  // its own last epoch below 4, i.e. at 5; told (0, 0) it empties.
  REQUIRE(log.truncation_offset_for({Offset{4}, QuorumEpoch{3}}) == Offset{4});
  REQUIRE(log.truncation_offset_for({Offset{7}, QuorumEpoch{4}}) == Offset{5});
  REQUIRE(log.truncation_offset_for({Offset{0}, QuorumEpoch{0}}) == Offset{0});

  on_node(w, n, [&] { REQUIRE(log.truncate_to(Offset{3}) == sim::DiskStatus::ok); });
  REQUIRE(log.end_offset() == Offset{3});
  REQUIRE(log.end_offset_for_epoch(QuorumEpoch{5}) == OffsetAndEpoch{Offset{3}, QuorumEpoch{3}});
}

TEST_CASE("appended entries survive a power failure - a torn tail is cut on recovery", "[raft][log]") {
  sim::World w;
  const auto n = w.add_node("n", [](sim::NodeId) { return std::shared_ptr<void>(); });
  w.start(n);
  {
    RaftLog log(w.disk(n));
    on_node(w, n, [&] {
      log.recover();
      REQUIRE(log.append({entry(0, 1, "alpha"), entry(1, 1, "beta")}) == sim::DiskStatus::ok);
      REQUIRE(log.append({entry(2, 2, "gamma")}) == sim::DiskStatus::ok);
      // Half a record, never fsynced, as a crash mid-append would leave it.
      const uint8_t junk[] = {40, 0, 0, 0, 1, 2, 3};
      REQUIRE(w.disk(n).append("metadata.log", junk) == sim::DiskStatus::ok);
    });
  }
  w.crash(n);  // a process crash keeps the page cache: the junk is still there
  w.restart(n);
  RaftLog log(w.disk(n));
  on_node(w, n, [&] { log.recover(); });
  REQUIRE(log.end_offset() == Offset{3});
  REQUIRE(*log.at(Offset{2}).data == "gamma");
  REQUIRE(log.at(Offset{2}).epoch == QuorumEpoch{2});

  w.power_fail(n);  // everything acknowledged was fsynced
  w.restart(n);
  RaftLog again(w.disk(n));
  on_node(w, n, [&] { again.recover(); });
  REQUIRE(again.end_offset() == Offset{3});
  REQUIRE(*again.at(Offset{0}).data == "alpha");
}

TEST_CASE("quorum-state round-trips and is replaced atomically", "[raft][quorum_state]") {
  sim::World w;
  const auto n = w.add_node("n", [](sim::NodeId) { return std::shared_ptr<void>(); });
  w.start(n);
  QuorumStateStore store(w.disk(n));
  const ElectionState voted{QuorumEpoch{7}, sim::NodeId{2}, std::nullopt};
  on_node(w, n, [&] {
    REQUIRE(store.load() == ElectionState{});
    REQUIRE(store.store(voted) == sim::DiskStatus::ok);
  });
  w.power_fail(n, /*torn=*/true);
  w.restart(n);
  on_node(w, n, [&] { REQUIRE(store.load() == voted); });
  REQUIRE(QuorumStateStore::encode(voted) == "{\"leaderEpoch\":7,\"votedId\":2,\"leaderId\":-1}\n");
  REQUIRE_FALSE(QuorumStateStore::decode("{\"leaderEpoch\":7,\"voted").has_value());
}
