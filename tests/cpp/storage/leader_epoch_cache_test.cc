// LeaderEpochFileCache: Kafka's assign rules, the KIP-279 end-offset answer,
// truncation from both ends, and persistence across a restart.
#include "storage_test_util.h"

using namespace ksim;
using namespace ksim::storage;
using namespace ksim::storage::testing;

namespace {
using Answer = std::pair<LeaderEpoch, Offset>;
Answer answer(int32_t e, int64_t o) { return {LeaderEpoch{e}, Offset{o}}; }
std::vector<EpochEntry> entries(std::initializer_list<std::pair<int32_t, int64_t>> es) {
  std::vector<EpochEntry> out;
  for (auto [e, o] : es) out.push_back({LeaderEpoch{e}, Offset{o}});
  return out;
}
}  // namespace

TEST_CASE("end_offset_for answers per KIP-279", "[storage][epoch]") {
  Box b;
  b.on_node([&] {
    LeaderEpochFileCache c(b.disk(), "p");
    REQUIRE(c.load() == Errc::NONE);
    REQUIRE(c.assign(LeaderEpoch{0}, Offset{0}) == Errc::NONE);
    REQUIRE(c.assign(LeaderEpoch{2}, Offset{10}) == Errc::NONE);
    REQUIRE(c.assign(LeaderEpoch{5}, Offset{20}) == Errc::NONE);
    const Offset leo{30};
    // An epoch the cache never saw ends where the next higher one starts,
    // reported under the largest epoch below it.
    REQUIRE(c.end_offset_for(LeaderEpoch{1}, leo) == answer(0, 10));
    REQUIRE(c.end_offset_for(LeaderEpoch{2}, leo) == answer(2, 20));
    REQUIRE(c.end_offset_for(LeaderEpoch{3}, leo) == answer(2, 20));
    REQUIRE(c.end_offset_for(LeaderEpoch{0}, leo) == answer(0, 10));
    // The latest epoch is still open: it ends at the log end.
    REQUIRE(c.end_offset_for(LeaderEpoch{5}, leo) == answer(5, 30));
    // Unknown (above every epoch) or undefined: (-1, -1).
    REQUIRE(c.end_offset_for(LeaderEpoch{6}, leo) == answer(-1, -1));
    REQUIRE(c.end_offset_for(kNoEpoch, leo) == answer(-1, -1));
    REQUIRE(c.latest_epoch() == LeaderEpoch{5});
    REQUIRE(c.epoch_for_offset(Offset{15}) == LeaderEpoch{2});
  });
}

TEST_CASE("below the first epoch Kafka answers with the first known start offset", "[storage][epoch]") {
  // LeaderEpochFileCache.endOffsetFor: "the data has already been removed from
  // the log" — the follower replicates from the leader's earliest epoch start.
  Box b;
  b.on_node([&] {
    LeaderEpochFileCache c(b.disk(), "p");
    REQUIRE(c.assign(LeaderEpoch{2}, Offset{10}) == Errc::NONE);
    REQUIRE(c.assign(LeaderEpoch{5}, Offset{20}) == Errc::NONE);
    REQUIRE(c.end_offset_for(LeaderEpoch{1}, Offset{30}) == answer(1, 10));
    LeaderEpochFileCache empty(b.disk(), "q");
    REQUIRE(empty.end_offset_for(LeaderEpoch{1}, Offset{30}) == answer(-1, -1));
  });
}

TEST_CASE("assign ignores repeats and truncates conflicting entries - as Kafka", "[storage][epoch]") {
  Box b;
  b.on_node([&] {
    LeaderEpochFileCache c(b.disk(), "p");
    c.assign(LeaderEpoch{1}, Offset{0});
    c.assign(LeaderEpoch{3}, Offset{10});
    c.assign(LeaderEpoch{3}, Offset{15});  // same epoch, later offset: nothing new
    REQUIRE(c.entries() == entries({{1, 0}, {3, 10}}));
    c.assign(LeaderEpoch{4}, Offset{10});  // same start offset: epoch 3 wrote nothing
    REQUIRE(c.entries() == entries({{1, 0}, {4, 10}}));
    c.assign(LeaderEpoch{6}, Offset{30});
    c.assign(LeaderEpoch{5}, Offset{25});  // lower epoch: entries >= it are dropped
    REQUIRE(c.entries() == entries({{1, 0}, {4, 10}, {5, 25}}));
  });
}

TEST_CASE("truncation from the end and from the start", "[storage][epoch]") {
  Box b;
  b.on_node([&] {
    LeaderEpochFileCache c(b.disk(), "p");
    c.assign(LeaderEpoch{0}, Offset{0});
    c.assign(LeaderEpoch{2}, Offset{10});
    c.assign(LeaderEpoch{5}, Offset{20});
    REQUIRE(c.truncate_from_end(Offset{20}) == Errc::NONE);  // offset 20 gone: epoch 5 wrote nothing left
    REQUIRE(c.entries() == entries({{0, 0}, {2, 10}}));
    REQUIRE(c.truncate_from_end(Offset{15}) == Errc::NONE);  // epoch 2 still starts below 15
    REQUIRE(c.entries() == entries({{0, 0}, {2, 10}}));
    REQUIRE(c.truncate_from_start(Offset{12}) == Errc::NONE);  // the log now starts inside epoch 2
    REQUIRE(c.entries() == entries({{2, 12}}));
  });
}

TEST_CASE("the epoch cache survives a restart through its checkpoint", "[storage][epoch]") {
  Box b;
  b.on_node([&] {
    LeaderEpochFileCache c(b.disk(), "orders-0");
    c.assign(LeaderEpoch{0}, Offset{0});
    c.assign(LeaderEpoch{2}, Offset{10});
    c.assign(LeaderEpoch{5}, Offset{20});
  });
  b.w.power_fail(b.n);  // assign fsyncs: even a power failure keeps it
  b.w.restart(b.n);
  b.on_node([&] {
    LeaderEpochFileCache c(b.disk(), "orders-0");
    REQUIRE(c.load() == Errc::NONE);
    REQUIRE(c.entries() == entries({{0, 0}, {2, 10}, {5, 20}}));
    REQUIRE(c.end_offset_for(LeaderEpoch{3}, Offset{30}) == answer(2, 20));
  });
}
