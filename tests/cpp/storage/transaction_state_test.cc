// Transactions in the log: the producer state's open transactions, the last
// stable offset, the aborted-transaction index, marker validation, and how all
// of it survives truncation, replication and recovery after a power failure.
#include "engine/storage/control_record.h"
#include "storage_test_util.h"

using namespace ksim;
using namespace ksim::storage;
using namespace ksim::storage::testing;

namespace {

constexpr ProducerId kP{7}, kQ{8};

// A data batch of producer `pid` (transactional unless said otherwise).
BatchPtr data(ProducerId pid, int16_t epoch, int32_t seq, const std::vector<std::string>& values,
              bool transactional = true) {
  std::vector<Record> records;
  for (const std::string& v : values) records.push_back(Record{1000, std::nullopt, bytes_of(v), {}});
  BatchParams p;
  p.is_transactional = transactional;
  p.producer_id = pid;
  p.producer_epoch = ProducerEpoch{epoch};
  p.base_sequence = seq;
  return RecordBatch::build(p, records);
}

BatchPtr marker(ProducerId pid, int16_t epoch, bool commit, int32_t coordinator_epoch = 0) {
  return build_marker_batch(pid, ProducerEpoch{epoch}, commit, coordinator_epoch, 2000);
}

// Appends as leader and returns the first offset (REQUIREs success).
Offset put(UnifiedLog& log, const BatchPtr& b, AppendOrigin origin = AppendOrigin::client) {
  auto r = log.append_as_leader(b, LeaderEpoch{0}, origin);
  INFO("append error " << static_cast<int>(r.error));
  REQUIRE(r.ok());
  return r.value.first_offset;
}
Offset put_marker(UnifiedLog& log, const BatchPtr& b) { return put(log, b, AppendOrigin::coordinator); }

std::vector<CompletedTxn> all_aborted(const UnifiedLog& log) {
  return log.aborted_transactions(Offset{0}, log.log_end_offset());
}

}  // namespace

TEST_CASE("markers: build and read back a COMMIT and an ABORT", "[storage][txn]") {
  const BatchPtr c = marker(kP, 3, true, 17);
  REQUIRE(c->is_control());
  REQUIRE(c->is_transactional());
  REQUIRE(c->records_count() == 1);
  REQUIRE(c->base_sequence() == kNoSequence);
  REQUIRE(c->producer_epoch() == ProducerEpoch{3});
  REQUIRE(read_marker(*c) == EndTxnMarker{true, 17});
  // Kafka's bytes: key (version 0, type 1), value (version 0, coordinator epoch 17).
  const RecordView r = c->records().front();
  REQUIRE(std::vector<uint8_t>(r.key->begin(), r.key->end()) == std::vector<uint8_t>{0, 0, 0, 1});
  REQUIRE(std::vector<uint8_t>(r.value->begin(), r.value->end()) == std::vector<uint8_t>{0, 0, 0, 0, 0, 17});
  REQUIRE(read_marker(*marker(kP, 0, false, 2)) == EndTxnMarker{false, 2});
  REQUIRE_FALSE(read_marker(*data(kP, 0, 0, {"x"})).has_value());  // not a control batch
}

TEST_CASE("an open transaction holds the LSO at its first offset until its marker is below the HW",
          "[storage][txn]") {
  Box b;
  b.on_node([&] {
    auto log = open_log(b);
    put(*log, batch_of({"plain"}));                                         // 0
    const Offset first = put(*log, data(kP, 0, 0, {"t0", "t1"}));           // 1-2
    put(*log, data(kQ, 0, 0, {"idempotent"}, /*transactional=*/false));     // 3
    put(*log, data(kP, 0, 2, {"t2"}));                                      // 4
    log->update_high_watermark(log->log_end_offset());
    REQUIRE(first == Offset{1});
    REQUIRE(log->producer_state().has_ongoing_txn(kP));
    REQUIRE_FALSE(log->producer_state().has_ongoing_txn(kQ));
    REQUIRE(log->first_unstable_offset() == Offset{1});
    REQUIRE(log->high_watermark() == Offset{5});
    REQUIRE(log->last_stable_offset() == Offset{1});

    const Offset m = put_marker(*log, marker(kP, 0, true));  // 5
    REQUIRE(m == Offset{5});
    REQUIRE_FALSE(log->producer_state().has_ongoing_txn(kP));
    REQUIRE(log->producer_state().first_undecided_offset() == std::nullopt);
    // Decided, but the marker is not replicated yet: still unstable (Kafka's unreplicatedTxns).
    REQUIRE(log->first_unstable_offset() == Offset{1});
    REQUIRE(log->last_stable_offset() == Offset{1});
    log->update_high_watermark(Offset{6});
    REQUIRE(log->first_unstable_offset() == std::nullopt);
    REQUIRE(log->last_stable_offset() == Offset{6});
    REQUIRE(all_aborted(*log).empty());  // a COMMIT is not indexed
  });
}

TEST_CASE("an ABORT is indexed and found by every range that overlaps it", "[storage][txn]") {
  Box b;
  b.on_node([&] {
    auto log = open_log(b);
    put(*log, data(kP, 0, 0, {"p0"}));               // 0  P's txn starts
    put(*log, data(kQ, 0, 0, {"q0"}));               // 1  Q's txn starts
    put(*log, data(kP, 0, 1, {"p1"}));               // 2
    put_marker(*log, marker(kP, 0, false));          // 3  P aborts
    put(*log, data(kQ, 0, 1, {"q1"}));               // 4
    put_marker(*log, marker(kQ, 0, true));           // 5  Q commits
    put(*log, data(kP, 0, 2, {"p2"}));               // 6  P's next txn starts
    put_marker(*log, marker(kP, 0, false));          // 7  and aborts
    log->update_high_watermark(log->log_end_offset());
    const CompletedTxn first{kP, Offset{0}, Offset{3}, true};
    const CompletedTxn second{kP, Offset{6}, Offset{7}, true};
    REQUIRE(all_aborted(*log) == std::vector<CompletedTxn>{first, second});
    REQUIRE(log->aborted_transactions(Offset{0}, Offset{1}) == std::vector<CompletedTxn>{first});
    REQUIRE(log->aborted_transactions(Offset{3}, Offset{4}) == std::vector<CompletedTxn>{first});  // the marker itself
    REQUIRE(log->aborted_transactions(Offset{4}, Offset{6}).empty());  // between the two
    REQUIRE(log->aborted_transactions(Offset{2}, Offset{7}) == std::vector<CompletedTxn>{first, second});
    REQUIRE(log->aborted_transactions(Offset{8}, Offset{20}).empty());
    REQUIRE(log->last_stable_offset() == Offset{8});
  });
}

TEST_CASE("overlapping aborted transactions are all found whatever their marker order", "[storage][txn]") {
  Box b;
  b.on_node([&] {
    auto log = open_log(b);
    put(*log, data(kP, 0, 0, {"p0"}));       // 0  P starts
    put(*log, data(kQ, 0, 0, {"q0"}));       // 1  Q starts inside P
    put_marker(*log, marker(kQ, 0, false));  // 2  Q aborts first (P still open)
    put_marker(*log, marker(kP, 0, false));  // 3  then P
    for (int i = 0; i < 3; ++i) put(*log, batch_of({"x"}));  // 4-6
    put(*log, data(kQ, 0, 1, {"q1"}));       // 7  Q again
    put_marker(*log, marker(kQ, 0, false));  // 8
    const CompletedTxn p{kP, Offset{0}, Offset{3}, true}, q{kQ, Offset{1}, Offset{2}, true},
        q2{kQ, Offset{7}, Offset{8}, true};
    REQUIRE(log->producer_state().aborted_index() == std::vector<CompletedTxn>{q, p, q2});
    REQUIRE(log->aborted_transactions(Offset{0}, Offset{1}) == std::vector<CompletedTxn>{p});
    REQUIRE(log->aborted_transactions(Offset{2}, Offset{3}) == std::vector<CompletedTxn>{p, q});
    REQUIRE(log->aborted_transactions(Offset{3}, Offset{5}) == std::vector<CompletedTxn>{p});
    REQUIRE(log->aborted_transactions(Offset{0}, Offset{9}) == std::vector<CompletedTxn>{p, q, q2});
    REQUIRE(log->aborted_transactions(Offset{4}, Offset{7}).empty());
  });
}

TEST_CASE("marker validation: stale epoch and zombie coordinator refused - marker without a txn appended",
          "[storage][txn]") {
  Box b;
  b.on_node([&] {
    auto log = open_log(b);
    put(*log, data(kP, 2, 0, {"a"}));  // 0, epoch 2, txn open
    // A marker of an older epoch: INVALID_PRODUCER_EPOCH, nothing appended.
    REQUIRE(log->append_as_leader(marker(kP, 1, false), LeaderEpoch{0}, AppendOrigin::coordinator).error ==
            Errc::INVALID_PRODUCER_EPOCH);
    REQUIRE(log->log_end_offset() == Offset{1});
    REQUIRE(log->producer_state().has_ongoing_txn(kP));
    // Clients may not write control batches.
    REQUIRE(log->append_as_leader(marker(kP, 2, true), LeaderEpoch{0}).error == Errc::CORRUPT_MESSAGE);
    // A non-transactional batch while the transaction is open.
    REQUIRE(log->append_as_leader(data(kP, 2, 1, {"b"}, false), LeaderEpoch{0}).error == Errc::INVALID_TXN_STATE);
    // The coordinator (epoch 5) commits.
    REQUIRE(put_marker(*log, marker(kP, 2, true, 5)) == Offset{1});
    REQUIRE(log->producer_state().entry(kP)->coordinator_epoch == 5);
    // A zombie coordinator (epoch 4): fenced.
    REQUIRE(log->append_as_leader(marker(kP, 2, false, 4), LeaderEpoch{0}, AppendOrigin::coordinator).error ==
            Errc::TRANSACTION_COORDINATOR_FENCED);
    // A marker for a producer with no open transaction (a retry, or an unknown
    // producer): appended, but no transaction is completed or indexed.
    REQUIRE(put_marker(*log, marker(kP, 2, false, 5)) == Offset{2});
    REQUIRE(put_marker(*log, marker(ProducerId{99}, 0, false)) == Offset{3});
    REQUIRE(all_aborted(*log).empty());
    REQUIRE(log->producer_state().entry(ProducerId{99})->epoch == ProducerEpoch{0});
  });
}

TEST_CASE("TV2 epoch bump at the marker: the next transaction starts its sequences at 0", "[storage][txn]") {
  Box b;
  b.on_node([&] {
    auto log = open_log(b);
    put(*log, data(kP, 0, 0, {"a", "b"}));               // 0-1
    put_marker(*log, marker(kP, 1, true));               // 2: the coordinator bumped the epoch
    REQUIRE(log->producer_state().entry(kP)->epoch == ProducerEpoch{1});
    REQUIRE(log->producer_state().entry(kP)->batches.empty());  // the old epoch's batches are forgotten
    // The old epoch is stale now; the new one must start at sequence 0.
    REQUIRE(log->append_as_leader(data(kP, 0, 2, {"c"}), LeaderEpoch{0}).error == Errc::INVALID_PRODUCER_EPOCH);
    REQUIRE(log->append_as_leader(data(kP, 1, 5, {"c"}), LeaderEpoch{0}).error ==
            Errc::OUT_OF_ORDER_SEQUENCE_NUMBER);
    REQUIRE(put(*log, data(kP, 1, 0, {"c"})) == Offset{3});
    REQUIRE(log->producer_state().has_ongoing_txn(kP));
    REQUIRE(log->producer_state().first_undecided_offset() == Offset{3});
    // A retry of that batch is still recognised as a duplicate.
    auto dup = log->append_as_leader(data(kP, 1, 0, {"c"}), LeaderEpoch{0});
    REQUIRE(dup.ok());
    REQUIRE(dup.value.duplicate);
    REQUIRE(dup.value.first_offset == Offset{3});
  });
}

TEST_CASE("a coordinator's transactional write is checked for its epoch only", "[storage][txn]") {
  Box b;
  b.on_node([&] {
    auto log = open_log(b);
    // Transactional offset commits carry no sequence (-1): never "duplicates" of each other.
    REQUIRE(put(*log, data(kP, 0, kNoSequence, {"offsets-1"}), AppendOrigin::coordinator) == Offset{0});
    REQUIRE(put(*log, data(kP, 0, kNoSequence, {"offsets-2"}), AppendOrigin::coordinator) == Offset{1});
    REQUIRE(log->producer_state().first_undecided_offset() == Offset{0});
    put_marker(*log, marker(kP, 1, true));
    REQUIRE(log->append_as_leader(data(kP, 0, kNoSequence, {"late"}), LeaderEpoch{0}, AppendOrigin::coordinator)
                .error == Errc::INVALID_PRODUCER_EPOCH);
  });
}

TEST_CASE("truncation rebuilds open transactions and the aborted index", "[storage][txn]") {
  Box b;
  b.on_node([&] {
    auto log = open_log(b);
    put(*log, batch_of({"plain"}));             // 0
    put(*log, data(kP, 0, 0, {"p0", "p1"}));    // 1-2
    put_marker(*log, marker(kP, 0, false));     // 3  P aborted
    put(*log, data(kQ, 0, 0, {"q0"}));          // 4
    put(*log, data(kQ, 0, 1, {"q1"}));          // 5
    put_marker(*log, marker(kQ, 0, true));      // 6  Q committed
    log->update_high_watermark(log->log_end_offset());
    REQUIRE(log->last_stable_offset() == Offset{7});
    REQUIRE(all_aborted(*log) == std::vector<CompletedTxn>{{kP, Offset{1}, Offset{3}, true}});

    // Q's COMMIT marker is cut off: Q's transaction is open again.
    REQUIRE(log->truncate_to(Offset{6}) == Errc::NONE);
    REQUIRE(log->producer_state().has_ongoing_txn(kQ));
    REQUIRE(log->first_unstable_offset() == Offset{4});
    REQUIRE(log->last_stable_offset() == Offset{4});
    REQUIRE(all_aborted(*log) == std::vector<CompletedTxn>{{kP, Offset{1}, Offset{3}, true}});

    // P's ABORT marker goes too: P is open again from 1, nothing is aborted.
    REQUIRE(log->truncate_to(Offset{3}) == Errc::NONE);
    REQUIRE(log->producer_state().has_ongoing_txn(kP));
    REQUIRE_FALSE(log->producer_state().has_ongoing_txn(kQ));  // its data is gone
    REQUIRE(log->first_unstable_offset() == Offset{1});
    REQUIRE(all_aborted(*log).empty());
    REQUIRE(log->producer_state().journal_size() == 1);

    // The new leader's history: P commits this time.
    REQUIRE(put_marker(*log, marker(kP, 0, true)) == Offset{3});
    log->update_high_watermark(log->log_end_offset());
    REQUIRE(log->first_unstable_offset() == std::nullopt);
    REQUIRE(log->last_stable_offset() == Offset{4});
    REQUIRE(all_aborted(*log).empty());

    // Truncating fully forgets everything.
    REQUIRE(log->truncate_fully_and_start_at(Offset{10}) == Errc::NONE);
    REQUIRE(log->first_unstable_offset() == std::nullopt);
    REQUIRE(log->producer_state().producers().empty());
  });
}

TEST_CASE("a follower replaying the leader's batches has the same transaction state", "[storage][txn]") {
  Box b;
  b.on_node([&] {
    auto leader = open_log(b);
    auto r = UnifiedLog::open(b.w, b.disk(), "follower-logs", kTp, LogConfig{});
    REQUIRE(r.ok());
    auto follower = std::move(r.value);
    put(*leader, data(kP, 0, 0, {"p0"}));
    put(*leader, data(kQ, 0, 0, {"q0"}));
    put_marker(*leader, marker(kP, 0, false));
    put(*leader, data(kQ, 0, 1, {"q1"}));
    REQUIRE(follower->append_as_follower(read_all(*leader)).ok());
    follower->update_high_watermark(follower->log_end_offset());
    leader->update_high_watermark(leader->log_end_offset());
    REQUIRE(follower->producer_state().has_ongoing_txn(kQ));
    REQUIRE(follower->first_unstable_offset() == Offset{1});
    REQUIRE(follower->last_stable_offset() == leader->last_stable_offset());
    REQUIRE(all_aborted(*follower) == all_aborted(*leader));
    REQUIRE(all_aborted(*follower) == std::vector<CompletedTxn>{{kP, Offset{0}, Offset{2}, true}});
  });
}

TEST_CASE("power failure in the middle of a transaction: recovery rebuilds it from the log", "[storage][txn][recovery]") {
  Box b;
  b.on_node([&] {
    auto log = open_log(b);
    put(*log, data(kP, 0, 0, {"p0"}));          // 0
    put_marker(*log, marker(kP, 0, false));     // 1  P aborted
    put(*log, data(kQ, 0, 0, {"q0", "q1"}));    // 2-3 Q open
    REQUIRE(log->flush() == Errc::NONE);
    put_marker(*log, marker(kQ, 0, true));      // 4  Q commits — never fsynced
    REQUIRE(!log->producer_state().has_ongoing_txn(kQ));
  });
  b.w.power_fail(b.n);
  b.w.restart(b.n);
  b.on_node([&] {
    auto log = open_log(b);
    REQUIRE(log->log_end_offset() == Offset{4});  // the COMMIT marker was lost
    log->update_high_watermark(log->log_end_offset());
    REQUIRE(log->producer_state().has_ongoing_txn(kQ));
    REQUIRE_FALSE(log->producer_state().has_ongoing_txn(kP));
    REQUIRE(log->first_unstable_offset() == Offset{2});
    REQUIRE(log->last_stable_offset() == Offset{2});
    REQUIRE(all_aborted(*log) == std::vector<CompletedTxn>{{kP, Offset{0}, Offset{1}, true}});
    // The coordinator retries the marker: the transaction completes.
    REQUIRE(put_marker(*log, marker(kQ, 0, true)) == Offset{4});
    log->update_high_watermark(log->log_end_offset());
    REQUIRE(log->last_stable_offset() == Offset{5});
  });
}

TEST_CASE("recovery from trusted segments rebuilds the aborted index too", "[storage][txn][recovery]") {
  Box b;
  LogConfig cfg;
  cfg.segment_bytes = 300;  // a few batches per segment
  Offset rp;
  b.on_node([&] {
    auto log = open_log(b, cfg);
    for (int i = 0; i < 6; ++i) {
      put(*log, data(kP, 0, i, {"p" + std::to_string(i)}));
      put_marker(*log, marker(kP, 0, i % 2 == 0));  // even: commit, odd: abort
    }
    REQUIRE(log->segment_base_offsets().size() > 2);
    rp = log->recovery_point();
  });
  b.w.crash(b.n);
  b.w.restart(b.n);
  b.on_node([&] {
    auto log = open_log(b, cfg, rp);
    REQUIRE(log->log_end_offset() == Offset{12});
    std::vector<CompletedTxn> want;
    for (int i = 1; i < 6; i += 2) want.push_back({kP, Offset{2 * i}, Offset{2 * i + 1}, true});
    REQUIRE(all_aborted(*log) == want);
    REQUIRE_FALSE(log->producer_state().has_ongoing_txn(kP));
  });
}

TEST_CASE("retention drops aborted transactions whose marker it deleted", "[storage][txn]") {
  Box b;
  LogConfig cfg;
  cfg.segment_bytes = 300;
  cfg.retention_bytes = 1;  // delete every segment the HW allows
  b.on_node([&] {
    auto log = open_log(b, cfg);
    for (int i = 0; i < 6; ++i) {
      put(*log, data(kP, 0, i, {"p" + std::to_string(i)}));
      put_marker(*log, marker(kP, 0, false));
    }
    put(*log, data(kQ, 0, 0, {"open"}));  // 12: stays open
    log->update_high_watermark(log->log_end_offset());
    REQUIRE(all_aborted(*log).size() == 6);
    auto deleted = log->delete_old_segments();
    REQUIRE(deleted.ok());
    REQUIRE(deleted.value > 0);
    const Offset start = log->log_start_offset();
    for (const CompletedTxn& t : log->producer_state().aborted_index()) REQUIRE(t.last_offset >= start);
    size_t kept = 0;  // ABORT markers sit at offsets 1, 3, ..., 11
    for (int i = 0; i < 6; ++i) kept += (2 * i + 1 >= start.value) ? 1 : 0;
    REQUIRE(kept < 6);
    REQUIRE(log->producer_state().aborted_index().size() == kept);
    // Q's open transaction (first offset 12) holds the LSO, clamped to the log start.
    REQUIRE(log->last_stable_offset() == std::max(Offset{12}, start));
  });
}

TEST_CASE("producer.id.expiration.ms: an idle producer is forgotten - one with an open transaction is kept", "[storage][txn]") {
  const auto one = [](int64_t timestamp_ms, const std::string& v) {
    return std::vector<Record>{Record{timestamp_ms, std::nullopt, bytes_of(v), {}}};
  };
  ProducerStateManager psm;
  // P wrote at t=1000 ms and is done; Q opened a transaction at t=1000 ms.
  BatchParams idle;
  idle.producer_id = kP;
  idle.producer_epoch = ProducerEpoch{0};
  idle.base_sequence = 0;
  psm.update(*RecordBatch::build(idle, one(1000, "p")));
  BatchParams open = idle;
  open.producer_id = kQ;
  open.base_offset = Offset{1};
  open.is_transactional = true;
  psm.update(*RecordBatch::build(open, one(1000, "q")));
  psm.remove_expired(/*now_ms=*/30'000, /*expiration_ms=*/60'000);
  REQUIRE(psm.producers().size() == 2);  // idle 29 s of 60: remembered
  psm.remove_expired(/*now_ms=*/61'000, /*expiration_ms=*/60'000);
  REQUIRE_FALSE(psm.entry(kP).has_value());  // idle 60 s: forgotten
  REQUIRE(psm.entry(kQ).has_value());        // its transaction is open: kept
  // A batch of P with any sequence is now accepted, as a new producer's.
  idle.base_offset = Offset{2};
  idle.base_sequence = 57;
  REQUIRE(psm.check(*RecordBatch::build(idle, one(62'000, "p2"))).error == Errc::NONE);
  // A truncation rebuilds from the journal, which still holds P's batch: it stays forgotten.
  psm.truncate_to(Offset{2});
  REQUIRE_FALSE(psm.entry(kP).has_value());
  REQUIRE(psm.entry(kQ).has_value());
}
