// UnifiedLog: offsets, segments, reads, truncation, follower appends,
// timestamps and retention.
#include "storage_test_util.h"

using namespace ksim;
using namespace ksim::storage;
using namespace ksim::storage::testing;

TEST_CASE("the leader assigns contiguous offsets across appends and stamps its epoch", "[storage][log]") {
  Box b;
  b.on_node([&] {
    auto log = open_log(b);
    REQUIRE(log->log_end_offset() == Offset{0});
    auto a1 = log->append_as_leader(batch_of({"a", "b", "c"}, 100), LeaderEpoch{1});
    REQUIRE(a1.ok());
    REQUIRE(a1.value.first_offset == Offset{0});
    REQUIRE(a1.value.last_offset == Offset{2});
    REQUIRE(a1.value.max_timestamp == 100);
    REQUIRE(a1.value.num_records == 3);
    auto a2 = log->append_as_leader(batch_of({"d"}, 200), LeaderEpoch{1});
    REQUIRE(a2.value.first_offset == Offset{3});
    REQUIRE(a2.value.last_offset == Offset{3});
    auto a3 = log->append_as_leader(batch_of({"e", "f"}, 300), LeaderEpoch{4});
    REQUIRE(a3.value.first_offset == Offset{4});
    REQUIRE(log->log_end_offset() == Offset{6});  // last offset + 1

    auto all = read_all(*log);
    REQUIRE(values_of(all) == std::vector<std::string>{"a", "b", "c", "d", "e", "f"});
    REQUIRE(all[0]->partition_leader_epoch() == LeaderEpoch{1});
    REQUIRE(all[2]->partition_leader_epoch() == LeaderEpoch{4});
    REQUIRE(all[2]->records()[1].offset == Offset{5});
    REQUIRE(log->leader_epoch_cache().entries() ==
            std::vector<EpochEntry>{{LeaderEpoch{1}, Offset{0}}, {LeaderEpoch{4}, Offset{4}}});
    REQUIRE(log->end_offset_for_epoch(LeaderEpoch{1}) == std::pair{LeaderEpoch{1}, Offset{4}});
  });
}

TEST_CASE("segments roll at segment.bytes and reading walks across them", "[storage][log]") {
  Box b;
  LogConfig cfg;
  cfg.segment_bytes = 1000;
  const BatchPtr probe = batch_of({std::string(100, 'x')});
  const int64_t batch_size = static_cast<int64_t>(probe->size_in_bytes());
  b.on_node([&] {
    auto log = open_log(b, cfg);
    for (int i = 0; i < 20; ++i)
      REQUIRE(log->append_as_leader(batch_of({std::string(99, 'x') + char('a' + i)}), LeaderEpoch{0}).ok());
    const int64_t per_segment = cfg.segment_bytes / batch_size;  // whole batches that fit
    const auto bases = log->segment_base_offsets();
    REQUIRE(bases.size() == static_cast<size_t>((20 + per_segment - 1) / per_segment));
    for (size_t i = 0; i < bases.size(); ++i) REQUIRE(bases[i] == Offset{static_cast<int64_t>(i) * per_segment});
    REQUIRE(b.disk().exists("kafka-logs/orders-0/00000000000000000000.log"));
    REQUIRE(b.disk().exists("kafka-logs/orders-0/" + std::string(20 - 1, '0') + std::to_string(per_segment) + ".log"));
    for (Offset base : bases) REQUIRE(b.disk().size(LogSegment::file_stem("kafka-logs/orders-0", base) + ".log") <= 1000);
    // Rolling flushed the old segments: the recovery point is the active base.
    REQUIRE(log->recovery_point() == bases.back());

    // A read returns one segment's batches; the next read continues in the next segment.
    auto first = log->read(Offset{0}, 1 << 20);
    REQUIRE(first.value.size() == static_cast<size_t>(per_segment));
    auto next = log->read(first.value.back()->next_offset(), 1 << 20);
    REQUIRE(next.value.front()->base_offset() == bases[1]);
    auto all = read_all(*log);
    REQUIRE(all.size() == 20);
    for (int i = 0; i < 20; ++i) REQUIRE(all[static_cast<size_t>(i)]->base_offset() == Offset{i});
    REQUIRE(values_of({all[19]})[0].back() == 't');
  });
}

TEST_CASE("reads: whole batches and byte limits and upper bound and out-of-range offsets", "[storage][log]") {
  Box b;
  b.on_node([&] {
    auto log = open_log(b);
    log->append_as_leader(batch_of({"a", "b", "c"}), LeaderEpoch{0});  // 0..2
    log->append_as_leader(batch_of({"d", "e"}), LeaderEpoch{0});       // 3..4
    log->append_as_leader(batch_of({"f"}), LeaderEpoch{0});            // 5
    // From the middle of a batch: the whole batch holding the offset comes back.
    auto mid = log->read(Offset{1}, 1 << 20);
    REQUIRE(mid.value.front()->base_offset() == Offset{0});
    REQUIRE(mid.value.size() == 3);
    // A byte limit smaller than one batch still returns one (min one message)...
    REQUIRE(log->read(Offset{0}, 1).value.size() == 1);
    // ... unless the caller asks for none.
    REQUIRE(log->read(Offset{0}, 1, std::nullopt, false).value.empty());
    // An upper bound (the high watermark) stops before the batch reaching it.
    REQUIRE(log->read(Offset{0}, 1 << 20, Offset{5}).value.size() == 2);
    REQUIRE(log->read(Offset{0}, 1 << 20, Offset{4}).value.size() == 1);
    // At the log end: nothing; beyond it: out of range.
    auto at_end = log->read(Offset{6}, 1 << 20);
    REQUIRE(at_end.ok());
    REQUIRE(at_end.value.empty());
    REQUIRE(log->read(Offset{7}, 1 << 20).error == Errc::OFFSET_OUT_OF_RANGE);
  });
}

TEST_CASE("truncate_to removes exactly the suffix and the epoch entries above it", "[storage][log]") {
  Box b;
  LogConfig cfg;
  cfg.segment_bytes = 300;
  b.on_node([&] {
    auto log = open_log(b, cfg);
    for (int i = 0; i < 12; ++i)
      REQUIRE(log->append_as_leader(batch_of({std::string(60, char('a' + i))}), LeaderEpoch{i / 4}).ok());
    // Epochs: 0 at 0, 1 at 4, 2 at 8. Several segments.
    REQUIRE(log->segment_base_offsets().size() > 2);
    REQUIRE(log->truncate_to(Offset{6}) == Errc::NONE);
    REQUIRE(log->log_end_offset() == Offset{6});
    auto all = read_all(*log);
    REQUIRE(all.size() == 6);
    REQUIRE(values_of(all).back() == std::string(60, 'f'));
    REQUIRE(log->leader_epoch_cache().entries() ==
            std::vector<EpochEntry>{{LeaderEpoch{0}, Offset{0}}, {LeaderEpoch{1}, Offset{4}}});
    for (Offset base : log->segment_base_offsets()) REQUIRE(base < Offset{6});
    // Appending again continues at the new end.
    auto again = log->append_as_leader(batch_of({"new"}), LeaderEpoch{3});
    REQUIRE(again.value.first_offset == Offset{6});
    REQUIRE(log->truncate_to(Offset{100}) == Errc::NONE);  // beyond the end: nothing to do
    REQUIRE(log->log_end_offset() == Offset{7});
    // truncate_fully_and_start_at: an empty log at a new offset.
    REQUIRE(log->truncate_fully_and_start_at(Offset{50}) == Errc::NONE);
    REQUIRE(log->log_start_offset() == Offset{50});
    REQUIRE(log->log_end_offset() == Offset{50});
    REQUIRE(log->leader_epoch_cache().entries().empty());
    REQUIRE(log->append_as_leader(batch_of({"x"}), LeaderEpoch{3}).value.first_offset == Offset{50});
  });
}

TEST_CASE("a follower appends the leader's batches as they are - and only contiguously", "[storage][log]") {
  Box b;
  b.on_node([&] {
    auto leader = open_log(b);
    leader->append_as_leader(batch_of({"a", "b"}), LeaderEpoch{2});
    leader->append_as_leader(batch_of({"c"}), LeaderEpoch{3});
    auto fetched = read_all(*leader);

    auto follower = UnifiedLog::open(b.w, b.disk(), "follower-logs", kTp, LogConfig{});
    REQUIRE(follower.ok());
    UnifiedLog& f = *follower.value;
    // A gap (starting at 2 while the follower ends at 0) is refused.
    REQUIRE(f.append_as_follower({fetched[1]}).error == Errc::OFFSET_OUT_OF_RANGE);
    REQUIRE(f.log_end_offset() == Offset{0});
    auto info = f.append_as_follower(fetched);
    REQUIRE(info.ok());
    REQUIRE(info.value.first_offset == Offset{0});
    REQUIRE(info.value.last_offset == Offset{2});
    REQUIRE(f.log_end_offset() == Offset{3});
    auto copy = read_all(f);
    REQUIRE(copy[0]->bytes() == fetched[0]->bytes());  // byte-identical replica
    REQUIRE(copy[1]->partition_leader_epoch() == LeaderEpoch{3});
    REQUIRE(f.leader_epoch_cache().entries() ==
            std::vector<EpochEntry>{{LeaderEpoch{2}, Offset{0}}, {LeaderEpoch{3}, Offset{2}}});
    // A replayed batch (already present) is refused too.
    REQUIRE(f.append_as_follower({fetched[1]}).error == Errc::OFFSET_OUT_OF_RANGE);
  });
}

TEST_CASE("offsetsForTimes finds the first record at or after a timestamp", "[storage][log]") {
  Box b;
  LogConfig cfg;
  cfg.segment_bytes = 400;
  cfg.index_interval_bytes = 100;
  b.on_node([&] {
    auto log = open_log(b, cfg);
    // Offsets 0..29, timestamps 1000, 1010, ... two records per batch.
    for (int i = 0; i < 15; ++i) {
      std::vector<Record> recs{Record{1000 + 20 * i, std::nullopt, bytes_of(std::string(40, 'v')), {}},
                               Record{1010 + 20 * i, std::nullopt, bytes_of(std::string(40, 'w')), {}}};
      REQUIRE(log->append_as_leader(RecordBatch::build(BatchParams{}, recs), LeaderEpoch{i < 8 ? 1 : 2}).ok());
    }
    REQUIRE(log->segment_base_offsets().size() > 2);
    auto at = [&](int64_t ts) { return log->fetch_offset_by_timestamp(ts).value; };
    REQUIRE(at(1000) == TimestampAndOffset{1000, Offset{0}, LeaderEpoch{1}});
    REQUIRE(at(1005) == TimestampAndOffset{1010, Offset{1}, LeaderEpoch{1}});
    REQUIRE(at(1170) == TimestampAndOffset{1170, Offset{17}, LeaderEpoch{2}});
    REQUIRE(at(1171) == TimestampAndOffset{1180, Offset{18}, LeaderEpoch{2}});
    REQUIRE(at(0) == TimestampAndOffset{1000, Offset{0}, LeaderEpoch{1}});
    REQUIRE(!at(5000).has_value());  // nothing that late
    REQUIRE(at(kEarliestTimestamp) == TimestampAndOffset{kNoTimestamp, Offset{0}, LeaderEpoch{1}});
    REQUIRE(at(kLatestTimestamp) == TimestampAndOffset{kNoTimestamp, Offset{30}, LeaderEpoch{2}});
  });
}

TEST_CASE("retention deletes old segments below the high watermark and advances the log start",
          "[storage][log]") {
  Box b;
  LogConfig cfg;
  cfg.segment_bytes = 300;
  cfg.retention_bytes = 700;
  cfg.retention_ms = -1;
  b.on_node([&] {
    auto log = open_log(b, cfg);
    for (int i = 0; i < 20; ++i) log->append_as_leader(batch_of({std::string(60, 'r')}), LeaderEpoch{i / 10});
    const auto before = log->segment_base_offsets();
    REQUIRE(log->size_in_bytes() > 700);
    // Nothing is committed yet: retention never deletes above the high watermark.
    REQUIRE(log->delete_old_segments().value == 0);
    log->update_high_watermark(log->log_end_offset());
    auto deleted = log->delete_old_segments();
    REQUIRE(deleted.ok());
    REQUIRE(deleted.value > 0);
    // Kafka deletes a segment only if the log keeps at least retention.bytes
    // without it: the result is the smallest suffix of segments >= 700 bytes.
    const auto after = log->segment_base_offsets();
    const int64_t oldest_kept =
        static_cast<int64_t>(b.disk().size(LogSegment::file_stem(log->dir(), after.front()) + ".log"));
    REQUIRE(log->size_in_bytes() >= 700);
    REQUIRE(log->size_in_bytes() - oldest_kept < 700);
    REQUIRE(after.size() == before.size() - static_cast<size_t>(deleted.value));
    REQUIRE(log->log_start_offset() == after.front());
    REQUIRE(!b.disk().exists(LogSegment::file_stem(log->dir(), before.front()) + ".log"));
    REQUIRE(log->read(Offset{0}, 1 << 20).error == Errc::OFFSET_OUT_OF_RANGE);
    REQUIRE(log->read(log->log_start_offset(), 1 << 20).value.front()->base_offset() == log->log_start_offset());
    REQUIRE(log->leader_epoch_cache().earliest_entry()->start_offset >= log->log_start_offset());
  });
}

TEST_CASE("retention.ms deletes segments whose newest record is too old", "[storage][log]") {
  Box b;
  LogConfig cfg;
  cfg.segment_bytes = 300;
  cfg.retention_ms = 60'000;
  b.on_node([&] {
    auto log = open_log(b, cfg);
    for (int i = 0; i < 8; ++i) log->append_as_leader(batch_of({std::string(60, 'o')}, 0), LeaderEpoch{0});
    b.w.sleep_for(sim::seconds(30));
    const int64_t now_ms = b.w.now().ns / 1'000'000;
    for (int i = 0; i < 8; ++i) log->append_as_leader(batch_of({std::string(60, 'n')}, now_ms), LeaderEpoch{0});
    log->update_high_watermark(log->log_end_offset());
    b.w.sleep_for(sim::seconds(35));  // old records are 65 s old, new ones 35 s
    auto deleted = log->delete_old_segments();
    REQUIRE(deleted.value > 0);
    auto first = log->read(log->log_start_offset(), 1 << 20).value;
    REQUIRE(values_of(first).front()[0] == 'n');
    REQUIRE(log->log_start_offset() == Offset{8});  // exactly the old records went
  });
}

TEST_CASE("a full disk takes the log offline with KAFKA_STORAGE_ERROR", "[storage][log]") {
  Box b;
  b.on_node([&] {
    auto log = open_log(b);
    REQUIRE(log->append_as_leader(batch_of({"ok"}), LeaderEpoch{0}).ok());
    b.disk().set_full(true);
    REQUIRE(log->append_as_leader(batch_of({"no room"}), LeaderEpoch{0}).error == Errc::KAFKA_STORAGE_ERROR);
    REQUIRE(log->offline());
    b.disk().set_full(false);
    REQUIRE(log->read(Offset{0}, 100).error == Errc::KAFKA_STORAGE_ERROR);
  });
}
