// Metadata records and the image they build.
#include <catch2/catch.hpp>

#include <map>
#include <set>

#include "engine/controller/metadata_image.h"
#include "engine/controller/replica_placer.h"
#include "sim/error.h"

using namespace ksim;

TEST_CASE("records survive encoding and a damaged encoding is rejected", "[metadata]") {
  PartitionChangeRecord change;
  change.topic_id = 7;
  change.partition = 2;
  change.isr = std::vector<int32_t>{1, 3};
  change.leader = 3;
  change.unclean = true;
  const std::vector<MetadataRecord> recs = {
      RegisterBrokerRecord{1, 10, 99, true},
      BrokerRegistrationChangeRecord{1, 10, false, std::nullopt},
      TopicRecord{"orders", 7},
      PartitionRecord{7, 0, {1, 2, 3}, {1, 2, 3}, {}, {}, 1, 0, 0, LeaderRecoveryState::recovered},
      change,
      ConfigRecord{"topic:orders", "min.insync.replicas", "2"},
  };
  const std::string bytes = encode_records(recs);
  const auto back = decode_records(bytes);
  REQUIRE(back.has_value());
  REQUIRE(*back == recs);
  REQUIRE_FALSE(decode_records(bytes.substr(0, bytes.size() - 1)).has_value());
  REQUIRE_FALSE(decode_records("").has_value());
  REQUIRE_FALSE(decode_records(bytes + "x").has_value());
}

TEST_CASE("replaying records builds the image - leader changes bump the leader epoch", "[metadata]") {
  MetadataImage img;
  int64_t off = 0;
  img.apply(RegisterBrokerRecord{1, 0, 1, true}, off++);
  img.apply(BrokerRegistrationChangeRecord{1, 0, false, std::nullopt}, off++);
  img.apply(TopicRecord{"t", 1}, off++);
  img.apply(PartitionRecord{1, 0, {1, 2, 3}, {1, 2, 3}, {}, {}, 1, 0, 0, LeaderRecoveryState::recovered}, off++);
  REQUIRE(img.usable(1));
  REQUIRE_FALSE(img.usable(2));  // never registered
  PartitionChangeRecord shrink;
  shrink.topic_id = 1;
  shrink.isr = std::vector<int32_t>{1, 2};
  img.apply(shrink, off++);
  const PartitionRegistration* p = img.partition("t", 0);
  REQUIRE(p->isr == std::vector<int32_t>{1, 2});
  REQUIRE(p->leader_epoch == 0);     // ISR change only
  REQUIRE(p->partition_epoch == 1);  // but every change bumps the partition epoch
  PartitionChangeRecord lead;
  lead.topic_id = 1;
  lead.leader = 2;
  img.apply(lead, off++);
  REQUIRE(img.partition("t", 0)->leader == 2);
  REQUIRE(img.partition("t", 0)->leader_epoch == 1);
  REQUIRE(img.partition("t", 0)->partition_epoch == 2);
}

TEST_CASE("the image refuses records that break its invariants", "[metadata]") {
  MetadataImage img;
  img.apply(TopicRecord{"t", 1}, 0);
  img.apply(PartitionRecord{1, 0, {1, 2}, {1, 2}, {}, {}, 1, 0, 0, LeaderRecoveryState::recovered}, 1);
  PartitionChangeRecord bad;
  bad.topic_id = 1;
  bad.leader = 3;  // not in the ISR
  REQUIRE_THROWS_AS(img.apply(bad, 2), sim::SimError);
  REQUIRE_THROWS_AS(img.apply(TopicRecord{"t", 2}, 3), sim::SimError);
  REQUIRE_THROWS_AS(img.apply(TopicRecord{"u", 3}, 2), sim::SimError);  // offset going backwards
}

TEST_CASE("replica placement spreads leaders and replicas like Kafka's classic placer", "[metadata]") {
  sim::Rng rng(7);
  const Placement pl = place_replicas({1, 2, 3, 4, 5, 6}, 6, 3, rng);
  REQUIRE(pl.error.empty());
  std::map<int32_t, int> leaders;
  for (const auto& reps : pl.replicas) {
    REQUIRE(reps.size() == 3);
    REQUIRE(std::set<int32_t>(reps.begin(), reps.end()).size() == 3);
    ++leaders[reps.front()];
  }
  REQUIRE(leaders.size() == 6);  // one leader per broker
  sim::Rng rng2(7);
  REQUIRE(place_replicas({1, 2, 3}, 4, 4, rng2).error == "Replication factor: 4 larger than available brokers: 3.");
}
