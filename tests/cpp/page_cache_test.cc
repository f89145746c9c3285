// The page cache stores a log's batches by reference: these pin that every
// read, truncation and overwrite sees exactly what a flat file would hold,
// and that an overwrite never reaches the bytes it shares.
#include <catch2/catch.hpp>

#include <memory>
#include <string>

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
