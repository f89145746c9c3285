// The log cleaner (cleanup.policy=compact): what a compacted log keeps, when
// tombstones and transaction markers go, how aborted transactions are
// removed, the KAFKA-13727 history switch, and crashes in the middle of a clean.
#include "engine/storage/control_record.h"
#include "engine/storage/log_cleaner.h"
#include "storage_test_util.h"

using namespace ksim;
using namespace ksim::storage;
using namespace ksim::storage::testing;

namespace {

constexpr int64_t kBigMap = 1'000'000;
constexpr ProducerId kP{7};

LogConfig compacted() {
  LogConfig c;
  c.compact = true;
  c.delete_old = false;
  c.delete_retention_ms = 10'000;
  return c;
}

// One record per (key, value); a value "null" is a tombstone.
BatchPtr keyed(const std::vector<std::pair<std::string, std::string>>& kvs, int64_t ts = 1000) {
  std::vector<Record> records;
  for (const auto& [k, v] : kvs)
    records.push_back(Record{ts, bytes_of(k), v == "null" ? std::nullopt : std::optional(bytes_of(v)), {}});
  return RecordBatch::build(BatchParams{}, records);
}

BatchPtr txn_batch(int32_t seq, const std::vector<std::pair<std::string, std::string>>& kvs) {
  std::vector<Record> records;
  for (const auto& [k, v] : kvs) records.push_back(Record{1000, bytes_of(k), bytes_of(v), {}});
  BatchParams p;
  p.is_transactional = true;
  p.producer_id = kP;
  p.producer_epoch = ProducerEpoch{0};
  p.base_sequence = seq;
  return RecordBatch::build(p, records);
}

void put(UnifiedLog& log, const BatchPtr& b, AppendOrigin origin = AppendOrigin::client) {
  auto r = log.append_as_leader(b, LeaderEpoch{0}, origin);
  INFO("append error " << static_cast<int>(r.error));
  REQUIRE(r.ok());
}

// "offset:key=value" for every record, in log order ("null" for a tombstone).
std::vector<std::string> contents(UnifiedLog& log) {
  std::vector<std::string> out;
  for (const BatchPtr& b : read_all(log)) {
    if (b->is_control()) {
      out.push_back(std::to_string(b->base_offset().value) + ":" + (read_marker(*b)->commit ? "COMMIT" : "ABORT"));
      continue;
    }
    for (const RecordView& r : b->records())
      out.push_back(std::to_string(r.offset.value) + ":" + text_of(*r.key) + "=" + (r.value ? text_of(*r.value) : "null"));
  }
  return out;
}

int64_t now_ms(Box& b) { return b.w.now().ns / 1'000'000; }

}  // namespace

TEST_CASE("the cleaner keeps the latest value of every key at its own offset and leaves the active segment alone",
          "[storage][cleaner]") {
  Box b;
  b.on_node([&] {
    auto log = open_log(b, compacted());
    put(*log, keyed({{"a", "a1"}, {"b", "b1"}}));  // 0-1
    put(*log, keyed({{"a", "a2"}}));               // 2
    REQUIRE(log->roll() == Errc::NONE);
    put(*log, keyed({{"c", "c1"}, {"b", "b2"}}));  // 3-4
    REQUIRE(log->roll() == Errc::NONE);
    put(*log, keyed({{"a", "a3"}}));               // 5: the active segment
    log->update_high_watermark(log->log_end_offset());

    const auto c = LogCleaner::cleanable(*log, now_ms(b));
    REQUIRE(c.has_value());
    REQUIRE(c->first_dirty == Offset{0});
    REQUIRE(c->first_uncleanable == Offset{5});
    REQUIRE(c->dirty_ratio() == 1.0);
    const int64_t before = log->size_in_bytes();

    auto st = LogCleaner::clean(*log, now_ms(b), kBigMap);
    REQUIRE(st.ok());
    REQUIRE(st.value.segments == 2);
    REQUIRE(st.value.records_removed == 2);   // a1 (a2 is later), b1 (b2 is later)
    REQUIRE_FALSE(st.value.partial);
    REQUIRE(st.value.first_dirty_after == Offset{5});
    // a2 stays: the map covers the cleanable range only, and a3 is in the active segment.
    REQUIRE(contents(*log) == std::vector<std::string>{"2:a=a2", "3:c=c1", "4:b=b2", "5:a=a3"});
    REQUIRE(log->log_end_offset() == Offset{6});
    REQUIRE(log->size_in_bytes() < before);
    // A read from inside the gap lands on the next batch.
    auto r = log->read(Offset{1}, 1 << 20);
    REQUIRE(r.ok());
    REQUIRE(r.value.front()->base_offset() == Offset{2});
    // Nothing dirty left: the next pass has nothing to do.
    REQUIRE_FALSE(LogCleaner::cleanable(*log, now_ms(b)).has_value());
  });
}

TEST_CASE("a compacted log reopens with its gaps and a follower copies them", "[storage][cleaner]") {
  Box b;
  b.on_node([&] {
    std::vector<BatchPtr> leader_batches;
    {
      auto log = open_log(b, compacted());
      put(*log, keyed({{"k", "v1"}}));
      put(*log, keyed({{"k", "v2"}}));
      put(*log, keyed({{"j", "w1"}}));
      REQUIRE(log->roll() == Errc::NONE);
      put(*log, keyed({{"k", "v3"}}));
      log->update_high_watermark(log->log_end_offset());
      REQUIRE(LogCleaner::clean(*log, now_ms(b), kBigMap).ok());
      REQUIRE(contents(*log) == std::vector<std::string>{"1:k=v2", "2:j=w1", "3:k=v3"});
      leader_batches = read_all(*log);
    }
    auto reopened = open_log(b, compacted());
    REQUIRE(contents(*reopened) == std::vector<std::string>{"1:k=v2", "2:j=w1", "3:k=v3"});

    // A follower starting empty takes the leader's batches with the gap at offset 0.
    auto follower = UnifiedLog::open(b.w, b.disk(), "follower-logs", kTp, compacted());
    REQUIRE(follower.ok());
    auto f = follower.value->append_as_follower(leader_batches);
    REQUIRE(f.ok());
    REQUIRE(follower.value->log_end_offset() == Offset{4});
    // Without compaction the same gap is refused, as before.
    auto plain = UnifiedLog::open(b.w, b.disk(), "plain-logs", kTp, LogConfig{});
    REQUIRE(plain.ok());
    REQUIRE(plain.value->append_as_follower(leader_batches).error == Errc::OFFSET_OUT_OF_RANGE);
  });
}

TEST_CASE("a tombstone survives delete.retention.ms after its first cleaning and then goes", "[storage][cleaner]") {
  Box b;
  b.on_node([&] {
    auto log = open_log(b, compacted());
    put(*log, keyed({{"user", "alice"}}));  // 0
    put(*log, keyed({{"user", "null"}}));   // 1: the tombstone
    REQUIRE(log->roll() == Errc::NONE);
    put(*log, keyed({{"other", "x"}}));     // 2: active
    log->update_high_watermark(log->log_end_offset());

    const int64_t cleaned_at = now_ms(b);
    auto first = LogCleaner::clean(*log, cleaned_at, kBigMap);
    REQUIRE(first.ok());
    REQUIRE(first.value.records_removed == 1);
    REQUIRE(first.value.tombstones_removed == 0);
    REQUIRE(contents(*log) == std::vector<std::string>{"1:user=null", "2:other=x"});
    // KIP-534: the cleaned batch carries its delete horizon.
    const BatchPtr tomb = read_all(*log).front();
    REQUIRE(tomb->delete_horizon_ms() == cleaned_at + 10'000);
    const int64_t horizon = *tomb->delete_horizon_ms();

    // More dirty data so the log is cleanable again, before the horizon: the tombstone stays.
    put(*log, keyed({{"other", "y"}}));
    REQUIRE(log->roll() == Errc::NONE);
    put(*log, keyed({{"z", "1"}}));
    log->update_high_watermark(log->log_end_offset());
    b.w.sleep_for(sim::milliseconds(5'000));
    auto second = LogCleaner::clean(*log, now_ms(b), kBigMap);
    REQUIRE(second.ok());
    REQUIRE(second.value.tombstones_removed == 0);
    REQUIRE(contents(*log)[0] == "1:user=null");

    // After the horizon the next pass drops it.
    b.w.sleep_for(sim::milliseconds(horizon - now_ms(b) + 1));
    put(*log, keyed({{"z", "2"}}));
    REQUIRE(log->roll() == Errc::NONE);
    put(*log, keyed({{"q", "1"}}));
    log->update_high_watermark(log->log_end_offset());
    auto third = LogCleaner::clean(*log, now_ms(b), kBigMap);
    REQUIRE(third.ok());
    REQUIRE(third.value.tombstones_removed == 1);
    REQUIRE(contents(*log) == std::vector<std::string>{"3:other=y", "5:z=2", "6:q=1"});
  });
}

TEST_CASE("an aborted transaction is removed at once and its marker stays until its delete horizon",
          "[storage][cleaner][txn]") {
  Box b;
  b.on_node([&] {
    auto log = open_log(b, compacted());
    put(*log, txn_batch(0, {{"k", "aborted-1"}, {"j", "aborted-2"}}));                          // 0-1
    put(*log, build_marker_batch(kP, ProducerEpoch{0}, false, 0, 1000), AppendOrigin::coordinator);  // 2
    put(*log, keyed({{"k", "committed"}}));                                                     // 3
    REQUIRE(log->roll() == Errc::NONE);
    put(*log, keyed({{"x", "1"}}));                                                             // 4: active
    log->update_high_watermark(log->log_end_offset());
    REQUIRE(log->aborted_transactions(Offset{0}, log->log_end_offset()).size() == 1);

    auto first = LogCleaner::clean(*log, now_ms(b), kBigMap);
    REQUIRE(first.ok());
    REQUIRE(first.value.aborted_batches_removed == 1);
    REQUIRE(first.value.empty_batches_kept == 1);  // its records go; the batch stays empty: the producer's last
    REQUIRE(first.value.markers_removed == 0);
    REQUIRE(contents(*log) == std::vector<std::string>{"2:ABORT", "3:k=committed", "4:x=1"});
    REQUIRE(log->aborted_transactions(Offset{0}, log->log_end_offset()).size() == 1);

    // Past the marker's horizon, with no data of its transaction left, the marker goes too.
    b.w.sleep_for(sim::milliseconds(10'001));
    put(*log, keyed({{"x", "2"}}));
    REQUIRE(log->roll() == Errc::NONE);
    put(*log, keyed({{"y", "1"}}));
    log->update_high_watermark(log->log_end_offset());
    auto second = LogCleaner::clean(*log, now_ms(b), kBigMap);
    REQUIRE(second.ok());
    REQUIRE(second.value.markers_removed == 1);
    REQUIRE(contents(*log) == std::vector<std::string>{"3:k=committed", "5:x=2", "6:y=1"});
    REQUIRE(log->aborted_transactions(Offset{0}, log->log_end_offset()).empty());
  });
}

namespace {

// A segment holding a committed key batch, then an aborted transaction, then
// its ABORT marker; cleaned with a one-key offset map, so the pass stops
// after the first batch (a partial pass) inside that segment.
std::vector<CompletedTxn> aborted_after_partial_pass(bool kafka_13727) {
  std::vector<CompletedTxn> out;
  Box b;
  b.on_node([&] {
    LogConfig cfg = compacted();
    cfg.cleaner_partial_txn_bug = kafka_13727;
    auto log = open_log(b, cfg);
    put(*log, keyed({{"a", "1"}}));                                                             // 0
    put(*log, keyed({{"b", "1"}}));                                                             // 1: overfills the map
    put(*log, txn_batch(0, {{"c", "aborted"}}));                                                // 2
    put(*log, build_marker_batch(kP, ProducerEpoch{0}, false, 0, 1000), AppendOrigin::coordinator);  // 3
    REQUIRE(log->roll() == Errc::NONE);
    put(*log, keyed({{"d", "1"}}));                                                             // 4: active
    log->update_high_watermark(log->log_end_offset());
    auto st = LogCleaner::clean(*log, now_ms(b), /*map entries=*/1);
    REQUIRE(st.ok());
    REQUIRE(st.value.partial);
    REQUIRE(st.value.first_dirty_after == Offset{1});
    out = log->aborted_transactions(Offset{0}, log->log_end_offset());
  });
  return out;
}

}  // namespace

TEST_CASE("a partial pass keeps the aborted transactions above its map end in the index", "[storage][cleaner][txn]") {
  const auto aborted = aborted_after_partial_pass(false);
  REQUIRE(aborted.size() == 1);
  REQUIRE(aborted[0].first_offset == Offset{2});
  REQUIRE(aborted[0].last_offset == Offset{3});
}

TEST_CASE("with the KAFKA-13727 switch a partial pass forgets the aborted transaction above its map end",
          "[storage][cleaner][txn]") {
  REQUIRE(aborted_after_partial_pass(true).empty());
}

TEST_CASE("a clean the crash interrupted leaves the original segment and its cleaned files are discarded",
          "[storage][cleaner]") {
  Box b;
  b.on_node([&] {
    {
      auto log = open_log(b, compacted());
      put(*log, keyed({{"k", "v1"}}));
      put(*log, keyed({{"k", "v2"}}));
      REQUIRE(log->roll() == Errc::NONE);
      put(*log, keyed({{"k", "v3"}}));
    }
    // What a crash between writing and renaming leaves: a partial cleaned copy.
    const std::string stem = LogSegment::file_stem("kafka-logs/" + kTp.str(), Offset{0});
    REQUIRE(b.disk().create(stem + ".log.cleaned") == sim::DiskStatus::ok);
    REQUIRE(b.disk().append(stem + ".log.cleaned", Bytes{1, 2, 3}) == sim::DiskStatus::ok);
    auto log = open_log(b, compacted());
    REQUIRE_FALSE(b.disk().exists(stem + ".log.cleaned"));
    REQUIRE(contents(*log) == std::vector<std::string>{"0:k=v1", "1:k=v2", "2:k=v3"});
  });
}

namespace {

// A compacted log of one-batch segments (16 keys written round and round,
// as hunt seed 8193's producer), cleaned to the active segment.
struct SmallSegments {
  std::vector<std::string> cleaned;  // contents after the pass
  size_t segments_before = 0, segments_after = 0;
};

LogConfig small_segments() {
  LogConfig c = compacted();
  c.segment_bytes = 200;  // about two batches of one record
  return c;
}

uint64_t probe_hits(Box& b, std::string_view name) {
  const auto it = b.w.probes().find(name);
  return it == b.w.probes().end() ? 0 : it->second;
}

void write_small_segments(Box& b, UnifiedLog& log, int n) {
  for (int i = 0; i < n; ++i)
    put(log, keyed({{"k" + std::to_string(i % 16), "v" + std::to_string(i)}}));
  log.update_high_watermark(log.log_end_offset());
  (void)b;
}

}  // namespace

TEST_CASE("the cleaner merges small segments into one of at most segment.bytes as Kafka groupSegmentsBySize",
          "[storage][cleaner]") {
  // Hunt seed 8193: without the grouping every segment of a compacted log of
  // small segments stayed, emptied or not, and each pass rewrote and fsynced
  // all of them holding the log's lock: appends and follower fetches waited
  // behind the passes and the ISR never converged.
  Box b;
  b.on_node([&] {
    std::vector<std::string> after;
    {
      auto log = open_log(b, small_segments());
      write_small_segments(b, *log, 200);
      const size_t before = log->segment_count();
      REQUIRE(before > 50);
      auto st = LogCleaner::clean(*log, now_ms(b), kBigMap);
      REQUIRE(st.ok());
      REQUIRE(st.value.segments == static_cast<int>(before) - 1);  // every segment but the active one was read
      after = contents(*log);
      // Kafka groups by the sizes before cleaning: full segments stay apart in this pass.
      REQUIRE(log->segment_count() == before);
      REQUIRE(log->log_end_offset() == Offset{200});
      // The latest value of every key survives at its own offset.
      for (int i = 184; i < 200; ++i)
        REQUIRE(std::find(after.begin(), after.end(),
                          std::to_string(i) + ":k" + std::to_string(i % 16) + "=v" + std::to_string(i)) != after.end());
      // A merged segment stays within segment.bytes.
      REQUIRE(log->size_in_bytes() <= static_cast<int64_t>(log->segment_count()) * 200);
      put(*log, keyed({{"k0", "last"}}));
      REQUIRE(log->roll() == Errc::NONE);
      log->update_high_watermark(log->log_end_offset());
      REQUIRE(LogCleaner::clean(*log, now_ms(b), kBigMap).ok());
      after = contents(*log);
      REQUIRE(std::find(after.begin(), after.end(), "200:k0=last") != after.end());
      // The next pass merges the emptied ones: 16 keys left below the active
      // segment take a handful of segments, not one per batch written.
      REQUIRE(log->segment_count() < 16);
      REQUIRE(probe_hits(b, "storage/cleaner_merged_segments") > 0);
    }
    // The merged segments reopen as they were: nothing is cut off as a hole.
    auto log = open_log(b, small_segments());
    REQUIRE(contents(*log) == after);
    REQUIRE(probe_hits(b, "storage/recovery_truncated") == 0);
  });
}

TEST_CASE("a merge the crash interrupted leaves segments the merged one covers and the log deletes them when it opens",
          "[storage][cleaner]") {
  Box b;
  b.on_node([&] {
    const std::string dir = "kafka-logs/" + kTp.str();
    std::vector<std::string> cleaned;
    std::vector<std::pair<std::string, Bytes>> leftover;
    {
      auto log = open_log(b, small_segments());
      // Two batches a segment: a key of its own and "x", rewritten.
      for (int i = 0; i < 20; ++i) {
        put(*log, keyed({{"u" + std::to_string(i), "once"}}));
        put(*log, keyed({{"x", std::to_string(i)}}));
      }
      log->update_high_watermark(log->log_end_offset());
      // The first pass leaves one batch a segment (grouped by their full sizes, none merge).
      REQUIRE(LogCleaner::clean(*log, now_ms(b), kBigMap).ok());
      put(*log, keyed({{"x", "last"}}));
      REQUIRE(log->roll() == Errc::NONE);
      log->update_high_watermark(log->log_end_offset());
      // Keep the files of every segment but the first and the active one:
      // after the merging pass, what a crash between its rename and its deletes leaves.
      Offset active{0};
      for (const std::string& f : b.disk().list(dir + "/"))
        if (auto base = LogSegment::parse_log_file_name(dir, f)) active = std::max(active, *base);
      for (const std::string& f : b.disk().list(dir + "/")) {
        if (f.starts_with(LogSegment::file_stem(dir, Offset{0}))) continue;
        if (f.starts_with(LogSegment::file_stem(dir, active))) continue;
        const auto bytes = b.disk().contents(f);
        leftover.emplace_back(f, Bytes(bytes.begin(), bytes.end()));
      }
      REQUIRE(leftover.size() > 3);
      REQUIRE(LogCleaner::clean(*log, now_ms(b), kBigMap).ok());
      REQUIRE(probe_hits(b, "storage/cleaner_merged_segments") > 0);
      cleaned = contents(*log);
    }
    std::vector<std::string> restored;
    for (const auto& [f, bytes] : leftover) {
      if (b.disk().exists(f)) continue;
      REQUIRE(b.disk().create(f) == sim::DiskStatus::ok);
      if (!bytes.empty()) REQUIRE(b.disk().append(f, bytes) == sim::DiskStatus::ok);
      restored.push_back(f);
    }
    REQUIRE_FALSE(restored.empty());
    auto log = open_log(b, small_segments());
    REQUIRE(probe_hits(b, "storage/merged_segment_leftover_discarded") > 0);
    REQUIRE(probe_hits(b, "storage/recovery_truncated") == 0);
    // The merged segments hold all the leftovers kept: the log is the pass's.
    REQUIRE(contents(*log) == cleaned);
    REQUIRE(log->log_end_offset() == Offset{41});
  });
}

TEST_CASE("a compacted topic refuses a record without a key", "[storage][cleaner]") {
  Box b;
  b.on_node([&] {
    auto log = open_log(b, compacted());
    REQUIRE(log->append_as_leader(batch_of({"keyless"}), LeaderEpoch{0}).error == Errc::CORRUPT_MESSAGE);
    REQUIRE(log->log_end_offset() == Offset{0});
  });
}

// Hunt seed 8760: a broker opens its logs before the metadata says which
// topics are compacted, so a cleaned log (or a follower's copy of one, whose
// gaps are the leader's) may open as a plain log. Kafka's loading and recovery
// do not look at the cleanup policy: the gaps are no damage, and after a clean
// shutdown nothing is recovered. ksim used to cut such a log at its first gap
// (and delete every later segment) — acknowledged records lost.
TEST_CASE("a cleaned compacted log and a follower's copy keep their log end offset when reopened as plain logs",
          "[storage][cleaner][recovery]") {
  const bool clean_shutdown = GENERATE(true, false);
  Box b;
  b.on_node([&] {
    const std::vector<std::string> expected{"0:j=w1", "2:k=v2", "4:l=x2", "5:m=z1"};
    std::vector<BatchPtr> leader_batches;
    size_t leader_segments = 0;
    {
      auto log = open_log(b, compacted());
      put(*log, keyed({{"j", "w1"}}));  // 0
      put(*log, keyed({{"k", "v1"}}));  // 1: goes, a gap inside the first segment
      put(*log, keyed({{"k", "v2"}}));  // 2
      REQUIRE(log->roll() == Errc::NONE);
      put(*log, keyed({{"l", "x1"}}));  // 3: goes, a gap at the second segment's start
      put(*log, keyed({{"l", "x2"}}));  // 4
      REQUIRE(log->roll() == Errc::NONE);
      put(*log, keyed({{"m", "z1"}}));  // 5: the active segment
      log->update_high_watermark(log->log_end_offset());
      REQUIRE(LogCleaner::clean(*log, now_ms(b), kBigMap).ok());
      REQUIRE(contents(*log) == expected);
      leader_batches = read_all(*log);
      leader_segments = log->segment_count();  // the cleaner may have merged the small ones
      REQUIRE(log->flush() == Errc::NONE);  // what a clean shutdown does
    }
    {
      auto follower = UnifiedLog::open(b.w, b.disk(), "follower-logs", kTp, compacted());
      REQUIRE(follower.ok());
      REQUIRE(follower.value->append_as_follower(leader_batches).ok());
      REQUIRE(follower.value->log_end_offset() == Offset{6});
      REQUIRE(follower.value->flush() == Errc::NONE);
    }
    for (const std::string dir : {"kafka-logs", "follower-logs"}) {
      INFO(dir << (clean_shutdown ? " after a clean shutdown" : " after a crash"));
      // Opened as the broker does before its metadata: the default (delete) policy.
      auto log = UnifiedLog::open(b.w, b.disk(), dir, kTp, LogConfig{}, Offset{0}, kNoOffset, clean_shutdown);
      REQUIRE(log.ok());
      REQUIRE(log.value->log_end_offset() == Offset{6});
      REQUIRE(contents(*log.value) == expected);
      // The leader's cleaned segments as they were; the follower wrote its copy into one (gaps inside it).
      REQUIRE(log.value->segment_count() == (dir == "kafka-logs" ? leader_segments : 1u));
      // Kafka's recoverLog: the recovery point is the log end after a clean shutdown.
      REQUIRE(log.value->recovery_point() == (clean_shutdown ? Offset{6} : Offset{0}));
    }
  });
}
