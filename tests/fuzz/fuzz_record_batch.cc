// Fuzz target 2: Kafka v2 record batches (engine/storage/record_batch.h) and
// log recovery (UnifiedLog::open) on a simulated disk holding fuzzed bytes.
//
// Byte 0 picks the mode.
//
// decode (byte 0 % 4 == 0): the rest of the input is a batch. decode() (with
// and without CRC check) returns a batch or CORRUPT_MESSAGE; a decoded batch's
// records() parse, its accessors and restamping work, and its size is what
// peek_size() says; decode_checked() (recovery's check) accepts all decode()
// accepts and only CRC-valid batches; decode_trusted() header accessors work.
//
// recovery (otherwise): a FuzzedDataProvider drives
//   1. a valid log: 1-30 batches of fuzz-sized records with fuzz bytes, rising
//      epochs, small segments and index intervals, a flush at a fuzz-chosen
//      batch (the recovery point);
//   2. a process crash or a (torn) power failure;
//   3. up to 8 corruptions of the partition directory's files (segments,
//      .index, .timeindex, leader-epoch-checkpoint): bytes written at a
//      fuzz-chosen position, a truncation (or zero-extension), an appended
//      tail, a removed index;
//   4. UnifiedLog::open with recovery point 0 (everything is rescanned) or the
//      flushed recovery point (earlier segments are trusted and loaded from
//      their indexes; then their .log files are not corrupted, only their
//      indexes — the disk's data below a recovery point is trusted, as Kafka's).
// Properties: open succeeds (or, with a corrupted leader-epoch-checkpoint,
// answers KAFKA_STORAGE_ERROR, as Kafka takes the log dir offline); the
// recovered log is a prefix of what was written
// — offsets start at 0, are contiguous and strictly increasing, and every
// batch is CRC-valid, parses, and is byte-for-byte the batch written at that
// offset (but for its partition leader epoch, which Kafka's format leaves
// outside the CRC); with a process crash and no .log file touched nothing is lost; with
// a trusted recovery point nothing below it is lost. Then reads, a timestamp
// lookup, a truncation and an append work on the recovered log.
// Any exception (SimError from a broken invariant) is a failure too.
#include <fuzzer/FuzzedDataProvider.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "engine/storage/record_batch.h"
#include "engine/storage/unified_log.h"
#include "sim/disk.h"
#include "sim/world.h"
#include "tests/fuzz/fuzz_common.h"

using namespace ksim;
using namespace ksim::storage;

namespace {

// KSIM_FUZZ_VERBOSE=1 narrates a recovery input (to understand a crash).
const bool kVerbose = std::getenv("KSIM_FUZZ_VERBOSE") != nullptr;
#define NARRATE(...) \
  do {                          \
    if (kVerbose) std::fprintf(stderr, __VA_ARGS__); \
  } while (0)

void fuzz_decode(const uint8_t* data, size_t size) {
  const Bytes bytes(data, data + size);
  if (auto sz = RecordBatch::peek_size(bytes); sz && *sz == bytes.size()) {
    // peek_size agrees: decoding must not crash whatever it answers.
  }
  for (bool crc : {true, false}) {
    auto r = RecordBatch::decode(bytes, crc);
    if (!r.ok()) {
      KSIM_FUZZ_CHECK(r.error == Errc::CORRUPT_MESSAGE, "decode failed with another error");
      continue;
    }
    const RecordBatch& b = *r.value;
    KSIM_FUZZ_CHECK(b.size_in_bytes() == bytes.size(), "decoded size differs");
    KSIM_FUZZ_CHECK(RecordBatch::peek_size(bytes) == bytes.size(), "peek_size disagrees with decode");
    KSIM_FUZZ_CHECK(!crc || b.crc_valid(), "decode(verify_crc) accepted a bad CRC");
    KSIM_FUZZ_CHECK(b.last_offset() >= b.base_offset(), "last offset below base offset");
    (void)b.next_offset();
    (void)b.is_transactional();
    (void)b.is_control();
    (void)b.timestamp_type();
    if (b.compression() == CompressionType::none) {
      Offset prev = kNoOffset;
      bool first = true;
      for (const RecordView& v : b.records()) {
        KSIM_FUZZ_CHECK(first || v.offset > prev, "record offsets not increasing");
        KSIM_FUZZ_CHECK(v.offset >= b.base_offset() && v.offset <= b.last_offset(), "record offset outside batch");
        prev = v.offset;
        first = false;
      }
    }
    auto restamped = b.with_base_offset_and_epoch(Offset{7}, LeaderEpoch{3});
    KSIM_FUZZ_CHECK(restamped->crc() == b.crc(), "restamping changed the CRC field");
    KSIM_FUZZ_CHECK(restamped->crc_valid() == b.crc_valid(), "restamping changed CRC validity");
    auto appended = b.with_log_append_time(12345);
    KSIM_FUZZ_CHECK(appended->crc_valid(), "with_log_append_time left a bad CRC");
  }
  // Recovery's check (Kafka's ensureValid) is decode() without the record
  // parse: it accepts everything decode() does, and only CRC-valid batches.
  auto checked = RecordBatch::decode_checked(bytes);
  KSIM_FUZZ_CHECK(checked.ok() || checked.error == Errc::CORRUPT_MESSAGE, "decode_checked failed with another error");
  KSIM_FUZZ_CHECK(checked.ok() || !RecordBatch::decode(bytes, true).ok(), "decode_checked refused what decode accepts");
  KSIM_FUZZ_CHECK(!checked.ok() || checked.value->crc_valid(), "decode_checked accepted a bad CRC");
  auto t = RecordBatch::decode_trusted(bytes);
  if (t.ok()) {
    const RecordBatch& b = *t.value;
    (void)b.base_offset();
    (void)b.last_offset_delta();
    (void)b.max_timestamp();
    (void)b.producer_id();
    (void)b.records_count();
  } else {
    KSIM_FUZZ_CHECK(t.error == Errc::CORRUPT_MESSAGE, "decode_trusted failed with another error");
  }
}

struct Box {
  sim::World w;
  sim::NodeId n;
  explicit Box(uint64_t seed) : w(sim::WorldConfig{.seed = seed, .fiber_stack_bytes = 128 * 1024, .trace_keep_events = 1024}) {
    n = w.add_node("broker1", [](sim::NodeId) { return std::shared_ptr<void>(); });
    w.start(n);
  }
  template <class F>
  void on_node(const char* what, F fn) {
    bool done = false;
    std::string error;
    w.spawn(n, what, [&] {
      try {
        fn();
      } catch (const std::exception& e) {
        error = e.what();
      }
      done = true;
    });
    try {
      w.run_for(sim::seconds(1000));
    } catch (const std::exception& e) {
      ksim::fuzz::fail(std::string(what) + ": the run failed: " + e.what());
    }
    if (!error.empty()) ksim::fuzz::fail(std::string(what) + " threw: " + error);
    KSIM_FUZZ_CHECK(done, std::string(what) + " did not finish");
  }
};

const TopicPartition kTp{"orders", 0};
const std::string kDir = "kafka-logs/orders-0";

std::unique_ptr<UnifiedLog> open_log(Box& b, const LogConfig& cfg, Offset rp) {
  auto r = UnifiedLog::open(b.w, b.w.disk(b.n), "kafka-logs", kTp, cfg, rp);
  KSIM_FUZZ_CHECK(r.ok(), std::string("open failed: ") + std::string(errc_name(r.error)));
  return std::move(r.value);
}

// Whole log, segment by segment.
std::vector<BatchPtr> read_all(UnifiedLog& log) {
  std::vector<BatchPtr> out;
  Offset at = log.log_start_offset();
  while (at < log.log_end_offset()) {
    auto r = log.read(at, 1 << 30);
    KSIM_FUZZ_CHECK(r.ok(), std::string("read failed: ") + std::string(errc_name(r.error)));
    KSIM_FUZZ_CHECK(!r.value.empty(), "read below LEO returned nothing");
    for (const BatchPtr& b : r.value) out.push_back(b);
    at = r.value.back()->next_offset();
  }
  return out;
}

bool is_log_file(const std::string& f) { return f.ends_with(".log"); }

void fuzz_recovery(FuzzedDataProvider& fdp) {
  Box b(fdp.ConsumeIntegral<uint8_t>() + 1);
  LogConfig cfg;
  cfg.segment_bytes = fdp.ConsumeIntegralInRange<int64_t>(400, 2000);  // >= the largest batch (~380 bytes)
  cfg.index_interval_bytes = fdp.ConsumeIntegralInRange<int64_t>(0, 400);
  const int batches = fdp.ConsumeIntegralInRange(1, 30);
  const int flush_at = fdp.ConsumeIntegralInRange(0, batches);  // flush after this many (== batches: none)

  std::map<int64_t, Bytes> written;  // base offset -> the batch's bytes as the log holds them
  int64_t written_leo = 0;
  Offset flushed_rp{0};
  b.on_node("write", [&] {
    auto log = open_log(b, cfg, Offset{0});
    int32_t epoch = 0;
    int64_t ts = 1000;
    for (int i = 0; i < batches; ++i) {
      std::vector<Record> records(static_cast<size_t>(fdp.ConsumeIntegralInRange(1, 4)));
      for (Record& r : records) {
        ts += fdp.ConsumeIntegralInRange(0, 50);
        r.timestamp = ts;
        if (fdp.ConsumeBool()) {
          const std::string k = fdp.ConsumeBytesAsString(fdp.ConsumeIntegralInRange(0, 8));
          r.key = Bytes(k.begin(), k.end());
        }
        const std::string v = fdp.ConsumeBytesAsString(fdp.ConsumeIntegralInRange(0, 60));
        r.value = Bytes(v.begin(), v.end());
      }
      if (fdp.ConsumeIntegralInRange(0, 3) == 0) ++epoch;
      auto a = log->append_as_leader(RecordBatch::build(BatchParams{}, records), LeaderEpoch{epoch});
      KSIM_FUZZ_CHECK(a.ok(), "append of a valid batch failed: " + std::string(errc_name(a.error)));
      if (i + 1 == flush_at) {
        KSIM_FUZZ_CHECK(log->flush() == Errc::NONE, "flush failed");
      }
    }
    flushed_rp = log->recovery_point();
    NARRATE("wrote %d batches, LEO %lld, recovery point %lld, segments:", batches,
            static_cast<long long>(log->log_end_offset().value), static_cast<long long>(flushed_rp.value));
    for (Offset o : log->segment_base_offsets()) NARRATE(" %lld", static_cast<long long>(o.value));
    NARRATE("\n");
    for (const BatchPtr& bp : read_all(*log)) written[bp->base_offset().value] = bp->bytes();
    written_leo = log->log_end_offset().value;
  });

  const bool power = fdp.ConsumeBool();
  NARRATE("%s\n", power ? "power failure" : "process crash");
  if (power) {
    b.w.power_fail(b.n, fdp.ConsumeBool());
  } else {
    b.w.crash(b.n);
  }
  b.w.restart(b.n);

  const bool trusted_mode = fdp.ConsumeBool();
  const Offset rp = trusted_mode ? flushed_rp : Offset{0};
  sim::Disk& disk = b.w.disk(b.n);
  // Which segments open() will trust (load_segments: not the last, next base <= rp).
  std::vector<int64_t> bases;
  for (const std::string& f : disk.list(kDir + "/"))
    if (auto base = LogSegment::parse_log_file_name(kDir, f)) bases.push_back(base->value);
  int64_t first_untrusted_base = 0;
  std::vector<std::string> trusted_logs;
  for (size_t i = 0; i < bases.size(); ++i) {
    const bool trusted = trusted_mode && i + 1 < bases.size() && Offset{bases[i + 1]} <= rp;
    if (!trusted) break;
    trusted_logs.push_back(LogSegment::file_stem(kDir, Offset{bases[i]}) + ".log");
    first_untrusted_base = bases[i + 1];
  }

  bool touched_log = false, touched_checkpoint = false;
  // A batch's first 8 bytes, its base offset, are outside the CRC by Kafka's
  // design: a write there goes unnoticed unless the new offsets leave the
  // segment or go backwards (Kafka's recovery checks no more). Where each
  // batch starts, per .log file, to tell such a write.
  bool touched_base_offset = false;
  std::map<std::string, std::vector<uint64_t>> batch_starts;
  const int ops = fdp.ConsumeIntegralInRange(0, 8);
  b.on_node("corrupt", [&] {
    for (const std::string& f : disk.list(kDir + "/")) {
      if (!is_log_file(f)) continue;
      const auto r = disk.read(f, 0, disk.size(f));
      for (uint64_t at = 0; at + 12 <= r.bytes.size();) {
        batch_starts[f].push_back(at);
        uint64_t len = 0;
        for (size_t k = 8; k < 12; ++k) len = (len << 8) | r.bytes[at + k];
        at += 12 + len;
      }
    }
    for (int i = 0; i < ops && fdp.remaining_bytes() > 0; ++i) {
      std::vector<std::string> files;
      for (const std::string& f : disk.list(kDir + "/"))
        if (std::find(trusted_logs.begin(), trusted_logs.end(), f) == trusted_logs.end()) files.push_back(f);
      if (files.empty()) break;
      const std::string& f = files[fdp.ConsumeIntegralInRange<size_t>(0, files.size() - 1)];
      const uint64_t size = disk.size(f);
      const uint64_t pos = fdp.ConsumeIntegralInRange<uint64_t>(0, size);
      if (is_log_file(f)) touched_log = true;
      if (f.ends_with("leader-epoch-checkpoint")) touched_checkpoint = true;
      const int kind = fdp.ConsumeIntegralInRange(0, 4);
      NARRATE("corrupt %s (size %llu) kind %d at %llu\n", f.c_str(), static_cast<unsigned long long>(size), kind,
              static_cast<unsigned long long>(pos));
      switch (kind) {
        case 0:
        case 1: {  // bytes at a position (a bad sector, a stray write)
          const std::string junk = fdp.ConsumeBytesAsString(fdp.ConsumeIntegralInRange(1, 16));
          for (uint64_t start : batch_starts[f])
            if (pos < start + 8 && start < pos + junk.size()) touched_base_offset = true;
          (void)disk.write(f, pos, std::span(reinterpret_cast<const uint8_t*>(junk.data()), junk.size()));
          break;
        }
        case 2:  // a torn tail, or a zero-filled extension (preallocated file)
          (void)disk.truncate(f, fdp.ConsumeBool() ? pos : size + fdp.ConsumeIntegralInRange<uint64_t>(1, 64));
          break;
        case 3: {  // a garbage tail
          const std::string junk = fdp.ConsumeBytesAsString(fdp.ConsumeIntegralInRange(1, 80));
          (void)disk.append(f, std::span(reinterpret_cast<const uint8_t*>(junk.data()), junk.size()));
          break;
        }
        case 4:  // a missing index (never a segment: that is not corruption but deletion)
          if (!is_log_file(f)) (void)disk.remove(f);
          break;
      }
    }
  });

  b.on_node("recover", [&] {
    auto opened = UnifiedLog::open(b.w, disk, "kafka-logs", kTp, cfg, rp);
    if (!opened.ok()) {
      // As Kafka: a malformed leader-epoch-checkpoint takes the log dir offline
      // (checkpoints are replaced atomically, so only a corrupted one is malformed).
      KSIM_FUZZ_CHECK(touched_checkpoint && opened.error == Errc::KAFKA_STORAGE_ERROR,
                      std::string("open failed: ") + std::string(errc_name(opened.error)));
      return;
    }
    auto log = std::move(opened.value);
    NARRATE("recovered (recovery point %lld): LEO %lld\n", static_cast<long long>(rp.value),
            static_cast<long long>(log->log_end_offset().value));
    const std::vector<BatchPtr> got = read_all(*log);
    Offset expect{0};
    KSIM_FUZZ_CHECK(log->log_start_offset() == Offset{0}, "recovery moved the log start");
    for (const BatchPtr& bp : got) {
      NARRATE("  batch %lld..%lld\n", static_cast<long long>(bp->base_offset().value),
              static_cast<long long>(bp->last_offset().value));
      // Contiguous unless a .log file was damaged: a segment cut exactly at a
      // batch boundary is undetectable (by Kafka's recovery too), and the
      // next segment then starts after a gap, as a compacted log's may.
      if (touched_log)
        KSIM_FUZZ_CHECK(bp->base_offset() >= expect, "recovered offsets not increasing");
      else
        KSIM_FUZZ_CHECK(bp->base_offset() == expect, "recovered offsets not contiguous from 0");
      expect = bp->next_offset();
      KSIM_FUZZ_CHECK(bp->crc_valid(), "recovered batch has a bad CRC");
      (void)bp->records();
      if (touched_base_offset) continue;  // the batch may now claim other offsets (see above)
      auto it = written.find(bp->base_offset().value);
      KSIM_FUZZ_CHECK(it != written.end(),
                      "recovery invented a batch at offset " + std::to_string(bp->base_offset().value));
      // Bytes 12-15, the partition leader epoch, are outside the CRC by Kafka's
      // design (the leader restamps them without recomputing it): a flip there
      // is undetectable by Kafka's recovery and by ksim's. Everything else must match.
      Bytes want = it->second, have = bp->bytes();
      if (want.size() == have.size())
        for (size_t i = 12; i < 16; ++i) want[i] = have[i];
      if (want != have) {
        size_t at = 0;
        while (at < it->second.size() && at < bp->bytes().size() && it->second[at] == bp->bytes()[at]) ++at;
        ksim::fuzz::fail("recovered batch differs from the one written at " +
                         std::to_string(bp->base_offset().value) + " (first difference at byte " +
                         std::to_string(at) + ")");
      }
    }
    // An emptied last segment (cut at 0) keeps its base offset as the LEO.
    KSIM_FUZZ_CHECK(touched_log ? expect <= log->log_end_offset() : expect == log->log_end_offset(),
                    "LEO is not the end of the recovered batches");
    if (!touched_base_offset)
      KSIM_FUZZ_CHECK(log->log_end_offset().value <= written_leo, "recovery grew the log");
    if (!power && !touched_log)
      KSIM_FUZZ_CHECK(log->log_end_offset().value == written_leo, "a process crash lost data (no .log touched)");
    if (trusted_mode)
      KSIM_FUZZ_CHECK(log->log_end_offset().value >= first_untrusted_base, "recovery lost trusted (fsynced) data");
    if (auto last = log->leader_epoch_cache().latest_entry())
      KSIM_FUZZ_CHECK(last->start_offset <= log->log_end_offset(), "epoch cache beyond LEO");

    // The recovered log works.
    const int64_t leo = log->log_end_offset().value;
    if (leo > 0) {
      const Offset from{fdp.ConsumeIntegralInRange<int64_t>(0, leo - 1)};
      auto r = log->read(from, fdp.ConsumeIntegralInRange<int64_t>(1, 4096));
      KSIM_FUZZ_CHECK(r.ok() && !r.value.empty() && r.value.front()->last_offset() >= from, "read in range failed");
    }
    auto ts = log->fetch_offset_by_timestamp(fdp.ConsumeIntegralInRange<int64_t>(-2, 3000));
    KSIM_FUZZ_CHECK(ts.ok(), "timestamp lookup failed");
    if (leo > 0 && fdp.ConsumeBool()) {
      KSIM_FUZZ_CHECK(log->truncate_to(Offset{fdp.ConsumeIntegralInRange<int64_t>(0, leo)}) == Errc::NONE,
                      "truncate failed");
    }
    std::vector<Record> one{Record{5000, std::nullopt, Bytes{'x'}, {}}};
    const Offset end = log->log_end_offset();
    auto a = log->append_as_leader(RecordBatch::build(BatchParams{}, one), LeaderEpoch{100});
    KSIM_FUZZ_CHECK(a.ok() && a.value.first_offset == end, "append after recovery failed");
  });
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0 || size > 16384) return 0;
  if (data[0] % 4 == 0) {
    fuzz_decode(data + 1, size - 1);
    return 0;
  }
  FuzzedDataProvider fdp(data + 1, size - 1);
  fuzz_recovery(fdp);
  return 0;
}
