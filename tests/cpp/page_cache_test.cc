// The page cache stores a log's batches by reference: these pin that every
// read, truncation and overwrite sees exactly what a flat file would hold,
// and that an overwrite never reaches the bytes it shares.
#include <catch2/catch.hpp>

#include <memory>
#include <string>

#include <sys/wait.h>
#include <unistd.h>

#include "sim/disk.h"
#include "sim/page_cache.h"

using namespace sim;

namespace {
std::shared_ptr<const std::string> batch(const std::string& s) { return std::make_shared<const std::string>(s); }
std::span<const uint8_t> span_of(const std::string& s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}
std::string text(std::span<const uint8_t> v) { return {v.begin(), v.end()}; }
std::string read_all(const PageCache& c) {
  const auto v = c.read(0, c.size());
  return {v.begin(), v.end()};
}
}  // namespace

TEST_CASE("shared batches and copied appends read back as one flat file", "[page_cache]") {
  PageCache c;
  const auto a = batch("AAAA"), b = batch("BBBB");
  c.append(span_of("hdr|"));
  c.append_shared(a, span_of(*a));
  c.append_shared(b, span_of(*b));
  c.append(span_of("|tail"));
  REQUIRE(c.size() == 17);
  REQUIRE(c.extent_count() == 3);  // the header, A and B are frozen; "|tail" is the growing tail
  REQUIRE(read_all(c) == "hdr|AAAABBBB|tail");
  REQUIRE(text(c.read(6, 5)) == "AABBB");  // across two shared extents
}

TEST_CASE("a truncation inside a shared batch cuts the reference and keeps the batch intact", "[page_cache]") {
  PageCache c;
  const auto a = batch("AAAA"), b = batch("BBBB");
  c.append_shared(a, span_of(*a));
  c.append_shared(b, span_of(*b));
  c.resize(6);
  REQUIRE(read_all(c) == "AAAABB");
  c.resize(4);  // exactly at a boundary: B's reference is dropped
  REQUIRE(c.extent_count() == 1);
  c.append(span_of("cc"));
  REQUIRE(read_all(c) == "AAAAcc");
  c.resize(8);  // grows with zeros, as a file's hole reads
  REQUIRE(read_all(c) == std::string("AAAAcc\0\0", 8));
  REQUIRE(*b == "BBBB");
}

TEST_CASE("an overwrite of shared bytes copies them and never changes the batch", "[page_cache]") {
  PageCache c;
  const auto a = batch("AAAA");
  c.append_shared(a, span_of(*a));
  c.append(span_of("tail"));
  c.write(1, span_of("xy"));
  REQUIRE(read_all(c) == "AxyAtail");
  REQUIRE(*a == "AAAA");  // copy-on-write: another replica's segment shares these bytes
  REQUIRE(text(c.contiguous()) == "AxyAtail");
}

TEST_CASE("a corrupted segment on one replica leaves the batch the others share intact", "[page_cache]") {
  World w;
  const NodeId n = w.add_node("broker1", [](NodeId) { return std::shared_ptr<void>(); });
  w.start(n);
  const auto big = batch(std::string(Disk::kShareMinBytes, 'B'));
  w.spawn(n, "io", [&] {
    Disk& d = w.disk(n);
    REQUIRE(d.append_shared("log", big, span_of(*big)) == DiskStatus::ok);
    REQUIRE(d.fsync("log") == DiskStatus::ok);
  });
  w.run_for(seconds(1));
  Disk& d = w.disk(n);
  d.corrupt("log", 10, 4);
  REQUIRE(text(d.contents("log")) != *big);
  REQUIRE(*big == std::string(Disk::kShareMinBytes, 'B'));
  REQUIRE(text(d.contents("log")) == text(d.durable_contents("log")));
}

namespace {
// A deterministic byte pattern: byte i of the file is pattern_byte(i).
std::string pattern(uint64_t from, uint64_t n) {
  std::string s(n, '\0');
  for (uint64_t i = 0; i < n; ++i) s[i] = static_cast<char>((from + i) * 131 % 251);
  return s;
}
}  // namespace

TEST_CASE("a log grown past the spill threshold keeps about a MiB in memory and reads back byte for byte",
          "[page_cache][spill]") {
  SpillStore store;
  PageCache c;
  c.set_spill(&store);
  // 3 MiB of appends: copied small records and shared batches, interleaved.
  uint64_t written = 0;
  std::vector<std::shared_ptr<const std::string>> keep;
  while (written < 3 * PageCache::kSpillBytes) {
    const std::string small = pattern(written, 300);
    c.append(span_of(small));
    written += small.size();
    keep.push_back(batch(pattern(written, 4000)));
    c.append_shared(keep.back(), span_of(*keep.back()));
    written += 4000;
  }
  const std::string last = pattern(written, 100);  // something in memory after the last spill
  c.append(span_of(last));
  written += last.size();
  REQUIRE(c.size() == written);
  REQUIRE(c.resident_bytes() < PageCache::kSpillBytes);
  REQUIRE(c.spilled_bytes() + c.resident_bytes() == written);
  REQUIRE(store.live_bytes() == c.spilled_bytes());
  REQUIRE(read_all(c) == pattern(0, written));
  // A read that starts in the spilled part and ends in memory.
  const uint64_t at = c.spilled_bytes() - 10;
  REQUIRE(text(c.read(at, 20)) == pattern(at, 20));
}

TEST_CASE("a spill of more small batches than one gather write takes reads back byte for byte",
          "[page_cache][spill]") {
  // 200-byte batches: about 5,000 extents per spill, several IOV_MAX writes.
  SpillStore store;
  PageCache c;
  c.set_spill(&store);
  uint64_t written = 0;
  std::vector<std::shared_ptr<const std::string>> keep;
  while (written < 2 * PageCache::kSpillBytes + 7) {
    keep.push_back(batch(pattern(written, 200)));
    c.append_shared(keep.back(), span_of(*keep.back()));
    written += 200;
  }
  REQUIRE(c.spilled_bytes() >= PageCache::kSpillBytes);
  REQUIRE(store.live_bytes() == c.spilled_bytes());
  REQUIRE(read_all(c) == pattern(0, written));
}

TEST_CASE("three replicas of one log spill each shared batch once and read back byte for byte",
          "[page_cache][spill]") {
  SpillStore store;
  std::vector<PageCache> replicas(3);
  for (auto& r : replicas) r.set_spill(&store);
  // The leader appends each batch first; the followers fetch it a little later.
  uint64_t written = 0;
  // A batch as the log holds one: immutable bytes and the note of where they were spilled.
  struct Batch {
    std::string bytes;
    mutable SpillNote note;
  };
  auto append = [](PageCache& file, const std::shared_ptr<const Batch>& b) {
    file.append_shared(b, span_of(b->bytes), &b->note);
  };
  std::vector<std::shared_ptr<const Batch>> in_flight;
  while (written < 3 * PageCache::kSpillBytes) {
    auto b = std::make_shared<const Batch>(Batch{pattern(written, 4000), {}});
    append(replicas[0], b);
    in_flight.push_back(b);
    if (in_flight.size() == 3) {
      for (size_t f = 1; f < 3; ++f) append(replicas[f], in_flight.front());
      in_flight.erase(in_flight.begin());
    }
    written += 4000;
  }
  for (const auto& b : in_flight)
    for (size_t f = 1; f < 3; ++f) append(replicas[f], b);
  REQUIRE(replicas[1].spilled_bytes() >= 2 * PageCache::kSpillBytes);
  for (const auto& r : replicas) REQUIRE(read_all(r) == pattern(0, written));
  // Written once: the followers name the leader's chunks.
  REQUIRE(store.live_bytes() == replicas[0].spilled_bytes());
  // A follower's spilled part is one extent per leader chunk, not one per batch.
  const size_t resident_batches = replicas[1].resident_bytes() / 4000;
  REQUIRE(replicas[1].extent_count() - resident_batches <= 3);
  // The leader's file goes; the followers still read its chunks.
  replicas[0].resize(0);
  REQUIRE(read_all(replicas[2]) == pattern(0, written));
  replicas.clear();
  REQUIRE(store.live_bytes() == 0);
}

TEST_CASE("a truncation into spilled bytes reads the kept prefix and frees the spill space when the file goes",
          "[page_cache][spill]") {
  SpillStore store;
  {
    PageCache c;
    c.set_spill(&store);
    const std::string big = pattern(0, 2 * PageCache::kSpillBytes + 777);
    c.append(span_of(big));
    REQUIRE(c.spilled_bytes() > 0);
    c.resize(1000);  // inside the spilled chunk: the chunk stays, the extent names less of it
    REQUIRE(c.size() == 1000);
    REQUIRE(read_all(c) == pattern(0, 1000));
    c.append(span_of("after"));
    REQUIRE(read_all(c) == pattern(0, 1000) + "after");
    // An overwrite inside spilled bytes flattens the file into memory first.
    c.write(10, span_of("XY"));
    std::string expect = pattern(0, 1000) + "after";
    expect[10] = 'X', expect[11] = 'Y';
    REQUIRE(read_all(c) == expect);
  }
  REQUIRE(store.live_bytes() == 0);
}

TEST_CASE("a disk spills a long segment and still recovers it after a power failure", "[disk][spill]") {
  World w(WorldConfig{.seed = 3});
  const NodeId n = w.add_node("broker-1", [](NodeId) { return std::shared_ptr<void>(); });
  w.start(n);
  Disk& d = w.disk(n);
  const std::string data = pattern(0, 3 * PageCache::kSpillBytes);
  w.spawn(n, "writer", [&] {
    d.append("seg.log", span_of(data.substr(0, 2 * PageCache::kSpillBytes)));
    d.fsync("seg.log");
    d.append("seg.log", span_of(data.substr(2 * PageCache::kSpillBytes)));  // never synced
  });
  w.run_for(seconds(1));
  REQUIRE(w.spill_store().live_bytes() > 0);
  w.power_fail(n);
  REQUIRE(d.size("seg.log") == 2 * PageCache::kSpillBytes);
  std::string back(d.size("seg.log"), '\0');
  d.peek("seg.log", 0, back.size(), reinterpret_cast<uint8_t*>(back.data()));
  REQUIRE(back == data.substr(0, 2 * PageCache::kSpillBytes));
}

TEST_CASE("a forked child cannot read or write its parent's spilled bytes and leaves them intact",
          "[page_cache][spill]") {
  SpillStore store;
  PageCache c;
  c.set_spill(&store);
  const std::string big = pattern(0, PageCache::kSpillBytes + 100);
  c.append(span_of(big));
  REQUIRE(c.spilled_bytes() > 0);
  const pid_t child = ::fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    int code = 0;
    try {
      (void)c.read(0, 10);
      code = 1;  // read the parent's file: wrong
    } catch (const SimError&) {
    }
    c.resize(0);  // drops the chunk: must not punch the parent's file
    ::_exit(code);
  }
  int status = 0;
  REQUIRE(::waitpid(child, &status, 0) == child);
  REQUIRE(WIFEXITED(status));
  REQUIRE(WEXITSTATUS(status) == 0);
  REQUIRE(read_all(c) == big);
}
