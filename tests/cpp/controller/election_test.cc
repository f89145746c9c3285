// Leader election and ISR changes, as the KRaft controller decides them.
#include <algorithm>

#include <catch2/catch.hpp>

#include "engine/controller/partition_change_builder.h"

using namespace ksim;

namespace {

// A cluster image with brokers 1..n registered and unfenced and topic "t" with
// one partition of the given state.
struct Cluster {
  MetadataImage img;
  int64_t off = 0;
  explicit Cluster(int n, PartitionRecord p) {
    for (int b = 1; b <= n; ++b) {
      img.apply(RegisterBrokerRecord{b, b * 100, 1, true}, off++);
      img.apply(BrokerRegistrationChangeRecord{b, b * 100, false, std::nullopt}, off++);
    }
    img.apply(TopicRecord{"t", 1}, off++);
    p.topic_id = 1;
    img.apply(p, off++);
  }
  void fence(int b) { img.apply(BrokerRegistrationChangeRecord{b, b * 100, true, std::nullopt}, off++); }
  void unfence(int b) { img.apply(BrokerRegistrationChangeRecord{b, b * 100, false, std::nullopt}, off++); }
  const PartitionRegistration& p() const { return *img.partition("t", 0); }
  // Applies what the builder decides; returns whether it changed anything.
  bool change(std::optional<std::vector<int32_t>> isr = std::nullopt, Election e = Election::normal,
              ElectionOptions o = {}) {
    auto rec = build_partition_change(1, 0, p(), img, std::move(isr), e, o);
    if (rec) img.apply(*rec, off++);
    return rec.has_value();
  }
};

PartitionRecord replicas_123() {
  return PartitionRecord{0, 0, {1, 2, 3}, {1, 2, 3}, {}, {}, 1, 0, 0, LeaderRecoveryState::recovered};
}

const ElectionOptions kNoElr{false, false, 2};

}  // namespace

TEST_CASE("a fenced leader is replaced by the first live ISR member in assignment order", "[election]") {
  Cluster c(3, replicas_123());
  c.fence(1);
  REQUIRE(c.change(std::nullopt, Election::normal, kNoElr));
  REQUIRE(c.p().leader == 2);
  REQUIRE(c.p().isr == std::vector<int32_t>{2, 3});
  REQUIRE(c.p().leader_epoch == 1);
}

TEST_CASE("without ELR the last ISR member stays in the ISR and the partition goes offline", "[election]") {
  Cluster c(3, PartitionRecord{0, 0, {1, 2, 3}, {1}, {}, {}, 1, 0, 0, LeaderRecoveryState::recovered});
  c.fence(1);
  REQUIRE(c.change(std::nullopt, Election::normal, kNoElr));
  REQUIRE(c.p().leader == -1);  // clean election waits
  REQUIRE(c.p().isr == std::vector<int32_t>{1});
  c.unfence(1);
  REQUIRE(c.change(std::nullopt, Election::normal, kNoElr));
  REQUIRE(c.p().leader == 1);  // the only up-to-date replica leads again
  REQUIRE(c.img.unclean_elections() == 0);
}

TEST_CASE("unclean election picks a live out-of-sync replica and is counted", "[election]") {
  Cluster c(3, PartitionRecord{0, 0, {1, 2, 3}, {1}, {}, {}, 1, 0, 0, LeaderRecoveryState::recovered});
  c.fence(1);
  ElectionOptions unclean = kNoElr;
  unclean.unclean_allowed = true;
  REQUIRE(c.change(std::nullopt, Election::normal, unclean));
  REQUIRE(c.p().leader == 2);
  REQUIRE(c.p().isr == std::vector<int32_t>{2});
  REQUIRE(c.p().leader_recovery_state == LeaderRecoveryState::recovering);
  REQUIRE(c.img.unclean_elections() == 1);
}

TEST_CASE("an admin-forced unclean election works with the config off", "[election]") {
  Cluster c(3, PartitionRecord{0, 0, {1, 2, 3}, {1}, {}, {}, 1, 0, 0, LeaderRecoveryState::recovered});
  c.fence(1);
  REQUIRE(c.change(std::nullopt, Election::normal, kNoElr));
  REQUIRE(c.p().leader == -1);
  REQUIRE(c.change(std::nullopt, Election::unclean, kNoElr));
  REQUIRE(c.p().leader == 2);
}

TEST_CASE("ELR (KIP-966): replicas leaving an ISR below min.insync.replicas stay electable", "[election]") {
  const ElectionOptions elr{false, true, 2};
  Cluster c(3, replicas_123());
  REQUIRE(c.change(std::vector<int32_t>{1, 2}, Election::normal, elr));  // 3 lags: ISR 2 >= min ISR, no ELR
  REQUIRE(c.p().elr.empty());
  c.fence(2);
  REQUIRE(c.change(std::nullopt, Election::normal, elr));
  REQUIRE(c.p().isr == std::vector<int32_t>{1});
  REQUIRE(c.p().elr == std::vector<int32_t>{2});  // left while ISR < 2: it has the committed data
  c.fence(1);
  REQUIRE(c.change(std::nullopt, Election::normal, elr));
  REQUIRE(c.p().leader == -1);
  REQUIRE(c.p().isr.empty());
  REQUIRE(c.p().elr == std::vector<int32_t>{1, 2});
  c.unfence(2);
  REQUIRE(c.change(std::nullopt, Election::normal, elr));
  REQUIRE(c.p().leader == 2);  // clean: elected from the ELR, never the lagging replica 3
  REQUIRE(c.p().isr == std::vector<int32_t>{2});
  REQUIRE(c.img.unclean_elections() == 0);
}

TEST_CASE("KIP-966: a replica back from an unclean shutdown leaves the ELR and cannot be elected from it",
          "[election]") {
  const ElectionOptions elr{false, true, 2};
  // Offline: ISR empty, 1 and 2 eligible, 2 still down. Broker 1 registers again after a crash.
  Cluster c(3, PartitionRecord{0, 0, {1, 2, 3}, {}, {1, 2}, {1}, -1, 3, 5, LeaderRecoveryState::recovered});
  c.fence(2);
  auto rec = build_partition_change(1, 0, c.p(), c.img, std::vector<int32_t>{}, Election::normal, elr,
                                    /*unclean_shutdown_replica=*/1);
  REQUIRE(rec);
  c.img.apply(*rec, c.off++);
  REQUIRE(c.p().elr == std::vector<int32_t>{2});  // 2 left no ISR uncleanly: still eligible
  REQUIRE(c.p().leader == -1);                    // 1 is up, but may have lost records: it waits for 2
  c.unfence(2);
  REQUIRE(c.change(std::nullopt, Election::normal, elr));
  REQUIRE(c.p().leader == 2);  // a clean election from the ELR
  REQUIRE(c.img.unclean_elections() == 0);
}

TEST_CASE("KIP-966: the last known leader is recorded when the ISR empties and leads again uncleanly when nobody is eligible",
          "[election]") {
  const ElectionOptions elr{false, true, 2};
  Cluster c(3, PartitionRecord{0, 0, {1, 2, 3}, {1}, {}, {}, 1, 0, 0, LeaderRecoveryState::recovered});
  c.fence(1);
  REQUIRE(c.change(std::nullopt, Election::normal, elr));
  REQUIRE(c.p().isr.empty());
  REQUIRE(c.p().elr == std::vector<int32_t>{1});
  REQUIRE(c.p().last_known_elr == std::vector<int32_t>{1});
  // 1 restarts uncleanly: out of the ELR; ISR and ELR are empty, 2 and 3 were never eligible.
  auto rec = build_partition_change(1, 0, c.p(), c.img, std::vector<int32_t>{}, Election::normal, elr, 1);
  REQUIRE(rec);
  c.img.apply(*rec, c.off++);
  REQUIRE(c.p().elr.empty());
  REQUIRE(c.p().leader == -1);
  REQUIRE(c.p().last_known_elr == std::vector<int32_t>{1});
  c.unfence(1);
  REQUIRE(c.change(std::nullopt, Election::normal, elr));
  REQUIRE(c.p().leader == 1);
  REQUIRE(c.p().isr == std::vector<int32_t>{1});
  REQUIRE(c.p().leader_recovery_state == LeaderRecoveryState::recovering);
  REQUIRE(c.p().last_known_elr.empty());
  REQUIRE(c.img.unclean_elections() == 1);
}

TEST_CASE("preferred election moves leadership back to the first replica", "[election]") {
  Cluster c(3, PartitionRecord{0, 0, {1, 2, 3}, {1, 2, 3}, {}, {}, 2, 0, 0, LeaderRecoveryState::recovered});
  REQUIRE_FALSE(c.change(std::nullopt, Election::normal, kNoElr));  // nothing to do
  REQUIRE(c.change(std::nullopt, Election::preferred, kNoElr));
  REQUIRE(c.p().leader == 1);
  c.fence(1);
  c.change(std::nullopt, Election::normal, kNoElr);
  REQUIRE(c.p().leader == 2);
  REQUIRE_FALSE(c.change(std::nullopt, Election::preferred, kNoElr));  // preferred replica not available
}

TEST_CASE("AlterPartition ISR shrink and expand keep the leader", "[election]") {
  Cluster c(3, replicas_123());
  REQUIRE(c.change(std::vector<int32_t>{1, 3}, Election::normal, kNoElr));
  REQUIRE(c.p().isr == std::vector<int32_t>{1, 3});
  REQUIRE(c.p().leader == 1);
  REQUIRE(c.p().leader_epoch == 0);
  REQUIRE(c.change(std::vector<int32_t>{3, 1, 2}, Election::normal, kNoElr));
  REQUIRE(c.p().isr == std::vector<int32_t>{1, 2, 3});  // kept in assignment order
  c.fence(3);
  c.change(std::vector<int32_t>{1, 2, 3}, Election::normal, kNoElr);
  REQUIRE_FALSE(c.p().in_isr(3));  // a fenced broker cannot be (re)admitted
}

// partition_steady is build_partition_change's shortcut for the controller's
// tick: whenever it calls a partition steady, the full computation must find
// nothing to change. The full one runs when the caller names a target ISR (the
// current one here: the same input the shortcut would have skipped).
TEST_CASE("a partition called steady is one the full election would leave as it is", "[election]") {
  uint64_t x = 0x9e3779b97f4a7c15ULL;  // a fixed stream: the same cases every run
  auto next = [&](uint32_t n) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return static_cast<int32_t>(x % n);
  };
  auto some_of = [&](const std::vector<int32_t>& from, int32_t max) {
    std::vector<int32_t> out;
    const int32_t n = next(static_cast<uint32_t>(max + 1));
    for (int32_t i = 0; i < n; ++i) out.push_back(from[static_cast<size_t>(next(static_cast<uint32_t>(from.size())))]);
    return out;
  };
  const std::vector<int32_t> brokers{1, 2, 3, 4};
  int steady = 0, changed = 0;
  for (int i = 0; i < 20'000; ++i) {
    std::vector<int32_t> replicas{1, 2, 3, 4};
    for (size_t k = replicas.size() - 1; k > 0; --k) std::swap(replicas[k], replicas[static_cast<size_t>(next(static_cast<uint32_t>(k + 1)))]);
    replicas.resize(static_cast<size_t>(1 + next(3)));
    // Any state the image accepts (metadata_image.cc's check): mostly healthy
    // (the ISR is the replicas, in order), else any replicas in any order.
    std::vector<int32_t> isr = next(2) ? replicas : some_of(replicas, 4);
    std::vector<int32_t> elr;
    for (int32_t b : some_of(replicas, 2))
      if (std::find(isr.begin(), isr.end(), b) == isr.end() && std::find(elr.begin(), elr.end(), b) == elr.end())
        elr.push_back(b);
    if (next(3)) elr.clear();
    const std::vector<int32_t> lke = next(4) ? std::vector<int32_t>{} : some_of(replicas, 1);
    const int32_t leader = isr.empty() || next(5) == 0 ? -1 : isr[static_cast<size_t>(next(static_cast<uint32_t>(isr.size())))];
    Cluster c(4, PartitionRecord{0, 0, replicas, isr, elr, lke, leader, 3, 5, LeaderRecoveryState::recovered});
    for (int32_t b : brokers)
      if (next(6) == 0) c.fence(b);
    const ElectionOptions opts{next(2) == 0, next(2) == 0, 1 + next(3)};
    const bool is_steady = partition_steady(c.p(), c.img);
    const auto full = build_partition_change(1, 0, c.p(), c.img, c.p().isr, Election::normal, opts);
    if (is_steady) REQUIRE_FALSE(full.has_value());
    steady += is_steady;
    changed += full.has_value();
  }
  // Neither side is vacuous: both kinds of state were drawn often.
  REQUIRE(steady > 2'000);
  REQUIRE(changed > 2'000);
}

TEST_CASE("a steady partition stops being steady when an ISR member is fenced", "[election]") {
  Cluster c(3, replicas_123());
  REQUIRE(partition_steady(c.p(), c.img));
  c.fence(3);
  REQUIRE_FALSE(partition_steady(c.p(), c.img));
  REQUIRE(c.change());
  REQUIRE(c.p().isr == std::vector<int32_t>{1, 2});
}
