#include <catch2/catch.hpp>

#include "sim/world.h"

using namespace sim;

TEST_CASE("the trace hash depends on every field and on event order", "[trace]") {
  Trace a, b, c, d;
  a.record(ev::note, Instant{1}, 0, 1, 2, 3);
  a.record(ev::note, Instant{2}, 0, 4, 5, 6);
  b.record(ev::note, Instant{1}, 0, 1, 2, 3);
  b.record(ev::note, Instant{2}, 0, 4, 5, 6);
  c.record(ev::note, Instant{2}, 0, 4, 5, 6);  // swapped
  c.record(ev::note, Instant{1}, 0, 1, 2, 3);
  d.record(ev::note, Instant{1}, 0, 1, 3, 2);  // arguments swapped
  d.record(ev::note, Instant{2}, 0, 4, 5, 6);
  REQUIRE(a.hash() == b.hash());
  REQUIRE(a.hash() != c.hash());
  REQUIRE(a.hash() != d.hash());
}

TEST_CASE("the ring keeps the newest events and knows their indexes", "[trace]") {
  Trace t;
  t.set_keep_events(3);
  for (uint64_t i = 0; i < 10; ++i) t.record(ev::note, Instant{static_cast<int64_t>(i)}, 0, i);
  const auto kept = t.kept();
  REQUIRE(kept.size() == 3);
  REQUIRE(kept.front().index == 7);
  REQUIRE(kept.back().a == 9);
  REQUIRE(t.kept_at(8)->a == 8);
  REQUIRE_FALSE(t.kept_at(2).has_value());
  REQUIRE(t.count() == 10);
}

TEST_CASE("first_divergence names the first differing event", "[trace]") {
  Trace x, y;
  x.set_record_hashes(true);
  y.set_record_hashes(true);
  for (uint64_t i = 0; i < 100; ++i) {
    x.record(ev::note, Instant{static_cast<int64_t>(i)}, 1, i);
    y.record(ev::note, Instant{static_cast<int64_t>(i)}, 1, i == 57 ? 1000 : i);
  }
  auto d = first_divergence(x, y);
  REQUIRE(d.has_value());
  REQUIRE(d->index == 57);
  REQUIRE(d->left->a == 57);
  REQUIRE(d->right->a == 1000);
  Trace z;
  z.set_record_hashes(true);
  for (uint64_t i = 0; i < 100; ++i) z.record(ev::note, Instant{static_cast<int64_t>(i)}, 1, i);
  REQUIRE_FALSE(first_divergence(x, z).has_value());
}

TEST_CASE("probes count rare paths and describe() renders events for humans", "[trace]") {
  World w;
  NodeId n = w.add_node("broker1", [](NodeId) { return std::shared_ptr<void>(); });
  w.start(n);
  w.probe("follower truncated below high watermark");
  w.probe("follower truncated below high watermark");
  REQUIRE(w.probes().at("follower truncated below high watermark") == 2);
  w.note_fault(n, "disk_full");
  const auto kept = w.trace().kept();
  REQUIRE(w.describe(kept.back()).find("broker1  fault what=disk_full") != std::string::npos);
}
