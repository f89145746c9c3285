// The simulated disk: page cache vs durable, crash vs power failure, faults.
#include <catch2/catch.hpp>

#include <set>

#include "sim/disk.h"

using namespace sim;

namespace {
std::vector<uint8_t> bytes(std::string_view s) { return {s.begin(), s.end()}; }
std::string text(std::span<const uint8_t> v) { return {v.begin(), v.end()}; }

struct Box {
  World w;
  NodeId n = w.add_node("broker1", [](NodeId) { return std::shared_ptr<void>(); });
  Box() { w.start(n); }
  // Runs `fn` inside a process of the node and lets the world settle.
  template <class F>
  void on_node(F fn) {
    w.spawn(n, "io", fn);
    w.run_for(seconds(1));
  }
};
}  // namespace

TEST_CASE("a process crash keeps unsynced writes (the OS page cache survives)", "[disk]") {
  Box b;
  b.on_node([&] {
    Disk& d = b.w.disk(b.n);
    REQUIRE(d.append("log", bytes("synced|")) == DiskStatus::ok);
    REQUIRE(d.fsync("log") == DiskStatus::ok);
    REQUIRE(d.append("log", bytes("cached")) == DiskStatus::ok);
  });
  b.w.crash(b.n);
  b.w.restart(b.n);
  REQUIRE(text(b.w.disk(b.n).contents("log")) == "synced|cached");
}

TEST_CASE("a power failure loses exactly the unsynced bytes", "[disk]") {
  Box b;
  b.on_node([&] {
    Disk& d = b.w.disk(b.n);
    d.append("log", bytes("AAAA"));
    d.fsync("log");
    d.append("log", bytes("BBBB"));
    d.write("log", 0, bytes("aa"));  // overwrite of synced bytes, not synced
    d.append("other", bytes("never synced"));
  });
  Disk& d = b.w.disk(b.n);
  REQUIRE(d.unsynced_bytes() == 4 + 2 + 12);
  b.w.power_fail(b.n);
  REQUIRE(text(d.contents("log")) == "AAAA");
  REQUIRE(d.exists("other"));  // metadata is journaled: the file exists, empty
  REQUIRE(d.size("other") == 0);
  REQUIRE(d.stats().bytes_lost == 18);
  REQUIRE(d.unsynced_bytes() == 0);
}

TEST_CASE("a truncate is journaled - a power failure never brings truncated records back", "[disk]") {
  // A follower truncates its divergent suffix, then appends the leader's
  // records; the power fails before any fsync. Whatever of the appends is lost,
  // the truncated bytes must not reappear (ksim hunt seed 78 found this).
  for (bool torn : {false, true}) {
    INFO("torn=" << torn);
    Box b;
    b.on_node([&] {
      Disk& d = b.w.disk(b.n);
      d.append("log", bytes("kept|divergent"));
      d.fsync("log");
      d.truncate("log", 5);
      d.append("log", bytes("leader's"));
    });
    b.w.power_fail(b.n, torn);
    const std::string after = text(b.w.disk(b.n).contents("log"));
    REQUIRE(after.rfind("kept|", 0) == 0);
    REQUIRE(after.find("divergent") == std::string::npos);
  }
}

TEST_CASE("a torn power failure keeps a prefix of the unsynced writes - in order", "[disk]") {
  // Over many seeds: what survives is always durable + a prefix of the writes,
  // and different seeds tear at different points.
  std::set<size_t> sizes;
  for (uint64_t seed = 1; seed <= 40; ++seed) {
    WorldConfig cfg;
    cfg.seed = seed;
    World w(cfg);
    NodeId n = w.add_node("b", [](NodeId) { return std::shared_ptr<void>(); });
    w.start(n);
    w.spawn(n, "io", [&] {
      Disk& d = w.disk(n);
      d.append("log", bytes("0123"));
      d.fsync("log");
      for (const char* chunk : {"4567", "89ab", "cdef"}) d.append("log", bytes(chunk));
    });
    w.run_for(seconds(1));
    w.power_fail(n, /*torn=*/true);
    const std::string after = text(w.disk(n).contents("log"));
    REQUIRE(std::string("0123456789abcdef").starts_with(after));
    REQUIRE(after.size() >= 4);
    sizes.insert(after.size());
  }
  REQUIRE(sizes.size() > 3);
}

TEST_CASE("disk full fails growing writes with no_space - overwrites still work", "[disk]") {
  Box b;
  std::vector<DiskStatus> st;
  b.on_node([&] {
    Disk& d = b.w.disk(b.n);
    st.push_back(d.append("log", bytes("1234")));
    d.set_full(true);
    st.push_back(d.append("log", bytes("5")));
    st.push_back(d.write("log", 0, bytes("x")));
    d.set_full(false);
    st.push_back(d.append("log", bytes("5")));
  });
  REQUIRE(st == std::vector<DiskStatus>{DiskStatus::ok, DiskStatus::no_space, DiskStatus::ok, DiskStatus::ok});
  REQUIRE(text(b.w.disk(b.n).contents("log")) == "x2345");
}

TEST_CASE("a stalled disk blocks operations until released", "[disk]") {
  Box b;
  Disk& d = b.w.disk(b.n);
  d.stall();
  int64_t done_ms = -1;
  b.w.spawn(b.n, "writer", [&] {
    d.append("log", bytes("x"));
    done_ms = b.w.now().ns / 1'000'000;
  });
  b.w.run_for(milliseconds(500));
  REQUIRE(done_ms == -1);
  d.unstall();
  b.w.run_for(milliseconds(10));
  REQUIRE(done_ms == 500);
}

TEST_CASE("a slow disk multiplies latency and queues operations", "[disk]") {
  Box b;
  Disk& d = b.w.disk(b.n);
  DiskSpec spec;
  spec.fsync_base = milliseconds(1);
  spec.fsync_per_kib = {};
  d.set_spec(spec);
  d.set_slowdown(50);
  std::vector<int64_t> done_ms;
  for (int i = 0; i < 2; ++i)
    b.w.spawn(b.n, "syncer", [&] {
      d.create("f");
      d.fsync("f");
      done_ms.push_back(b.w.now().ns / 1'000'000);
    });
  b.w.run_for(seconds(1));
  REQUIRE(done_ms.size() == 2);
  REQUIRE(done_ms[0] >= 50);
  REQUIRE(done_ms[1] >= 100);  // the second waited for the first
}

TEST_CASE("corruption flips synced bytes - a crash during an operation means it never happened", "[disk]") {
  Box b;
  b.on_node([&] {
    Disk& d = b.w.disk(b.n);
    d.append("seg", bytes("record"));
    d.fsync("seg");
  });
  Disk& d = b.w.disk(b.n);
  d.corrupt("seg", 2, 2);
  const std::string after = text(d.contents("seg"));
  REQUIRE(after.size() == 6);
  REQUIRE(after.substr(0, 2) == "re");
  REQUIRE(after.substr(4) == "rd");
  REQUIRE(after.substr(2, 2) != "co");
  d.stall();
  b.w.spawn(b.n, "victim", [&] { d.append("seg", bytes("more")); });
  b.w.run_for(milliseconds(10));
  b.w.crash(b.n);
  d.unstall();
  b.w.run_for(milliseconds(10));
  REQUIRE(d.size("seg") == 6);
}

TEST_CASE("disk misuse is reported - not crashed on", "[disk]") {
  Box b;
  Disk& d = b.w.disk(b.n);
  REQUIRE_THROWS_WITH(d.append("x", bytes("y")), Catch::Contains("inside a simulated process"));
  REQUIRE_THROWS_WITH(d.contents("missing"), Catch::Contains("no file 'missing'"));
  REQUIRE_THROWS_WITH(d.set_slowdown(0.5), Catch::Contains(">= 1"));
  NodeId other = b.w.add_node("other", [](NodeId) { return std::shared_ptr<void>(); });
  b.w.start(other);
  b.w.spawn(other, "thief", [&] { d.append("x", bytes("y")); });
  REQUIRE_THROWS_WITH(b.w.run_for(milliseconds(1)), Catch::Contains("used the disk of node broker1"));
}

TEST_CASE("corruption under an unsynced overwrite stays hidden until a power failure", "[disk]") {
  Box b;
  b.on_node([&] {
    Disk& d = b.w.disk(b.n);
    d.write("f", 0, bytes("A"));
    d.fsync("f");
    d.write("f", 0, bytes("B"));  // cached, not synced
  });
  Disk& d = b.w.disk(b.n);
  d.corrupt("f", 0, 1);
  REQUIRE(text(d.contents("f")) == "B");  // the cache still shows the newer write
  b.on_node([&] { REQUIRE(d.fsync("f") == DiskStatus::ok); });
  REQUIRE(text(d.durable_contents("f")) == "B");
}

TEST_CASE("concurrent appends never overwrite each other", "[disk]") {
  Box b;
  for (const char* chunk : {"aaaa", "bb"})
    b.w.spawn(b.n, "appender", [&, chunk] { b.w.disk(b.n).append("log", bytes(chunk)); });
  b.w.run_for(seconds(1));
  REQUIRE(text(b.w.disk(b.n).contents("log")) == "aaaabb");
}

TEST_CASE("fsync makes durable only what was written before it was issued", "[disk]") {
  Box b;
  Disk& d = b.w.disk(b.n);
  b.w.spawn(b.n, "syncer", [&] {
    d.append("log", bytes("old"));
    d.fsync("log");  // takes ~0.5 ms on the device
  });
  b.w.spawn(b.n, "late writer", [&] {
    b.w.sleep_for(microseconds(100));  // lands while the fsync is in flight
    d.append("log", bytes("new"));
  });
  b.w.run_for(seconds(1));
  b.w.power_fail(b.n);
  REQUIRE(text(d.contents("log")) == "old");
}

// The platter shares the page cache's bytes while it is a prefix of them
// (Disk::File::shared); these pin the copy-on-write cases.
TEST_CASE("an overwrite of synced bytes leaves the platter as synced", "[disk]") {
  Box b;
  b.on_node([&] {
    Disk& d = b.w.disk(b.n);
    d.append("log", bytes("AAAA"));
    d.append("log", bytes("BBBB"));
    d.fsync("log");
    d.write("log", 2, bytes("xx"));
    d.truncate("log", 6);
  });
  Disk& d = b.w.disk(b.n);
  REQUIRE(text(d.contents("log")) == "AAxxBB");
  REQUIRE(text(d.durable_contents("log")) == "AAAABBBB");
  b.w.power_fail(b.n);
  // The overwrite is lost; the truncate is journaled metadata and survives.
  REQUIRE(text(d.contents("log")) == "AAAABB");
}

TEST_CASE("an append landing while fsync waits stays unsynced and the synced prefix survives", "[disk]") {
  Box b;
  b.w.spawn(b.n, "syncer", [&] {
    Disk& d = b.w.disk(b.n);
    d.append("log", bytes("AAAA"));
    d.fsync("log");  // takes device time: the writer's append lands meanwhile
  });
  b.w.spawn(b.n, "writer", [&] {
    b.w.sleep_for(microseconds(1));
    b.w.disk(b.n).append("log", bytes("BBBB"));
  });
  b.w.run_for(seconds(1));
  Disk& d = b.w.disk(b.n);
  REQUIRE(text(d.contents("log")) == "AAAABBBB");
  REQUIRE(text(d.durable_contents("log")) == "AAAA");
  b.w.power_fail(b.n);
  REQUIRE(text(d.contents("log")) == "AAAA");
}

TEST_CASE("a replaced disk is empty - synced files and the old drive's faults are gone", "[disk][wipe]") {
  Box b;
  b.on_node([&] {
    Disk& d = b.w.disk(b.n);
    d.append("log", bytes("synced"));
    d.fsync("log");
    d.append("quorum-state", bytes("cached"));
  });
  Disk& d = b.w.disk(b.n);
  d.set_full(true);
  d.set_slowdown(8.0);
  // Only an operator swaps a drive, and only in a stopped server.
  REQUIRE_THROWS_WITH(d.replace(), Catch::Contains("only be replaced while its node is down"));
  b.w.crash(b.n);
  const uint64_t corruptions = d.corruptions();
  d.replace();
  REQUIRE(d.list().empty());
  REQUIRE(d.used_bytes() == 0);
  REQUIRE(d.unsynced_bytes() == 0);
  REQUIRE_FALSE(d.full());
  REQUIRE(d.slowdown() == 1.0);
  REQUIRE(d.corruptions() == corruptions + 1);  // caches above must drop the old drive's bytes
  b.w.restart(b.n);
  b.on_node([&] { REQUIRE(d.read("log", 0, 6).status == DiskStatus::not_found); });
}

TEST_CASE("a file installed by the operator is durable at once and survives a power failure", "[disk][wipe]") {
  Box b;
  Disk& d = b.w.disk(b.n);
  REQUIRE_THROWS_WITH(d.install("meta.properties", bytes("x")), Catch::Contains("only be installed while its node is down"));
  b.w.crash(b.n);
  d.install("meta.properties", bytes("directory.id=1\n"));
  REQUIRE(d.used_bytes() == 15);
  b.w.power_fail(b.n);
  REQUIRE(text(d.durable_contents("meta.properties")) == "directory.id=1\n");
  d.install("meta.properties", bytes("directory.id=2\n"));  // a re-format replaces it
  REQUIRE(text(d.contents("meta.properties")) == "directory.id=2\n");
  REQUIRE(d.used_bytes() == 15);
}
