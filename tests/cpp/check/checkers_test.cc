// Every checker against the minimal history that must trip it and the near
// misses that must not.
#include <catch2/catch.hpp>

#include "synthetic_history.h"

using namespace ksim;
using namespace ksim::check;
using namespace ksim::check::testing;
using Kinds = std::vector<std::string>;

TEST_CASE("lost-write fires when an acks=all record is gone from its offset", "[check][lost-write]") {
  Story s;
  s.send(10, "v0", 0, 100);
  s.send(10, "v1", 1, 110);
  s.final_log({"v0"});
  const Verdict v = s.check();
  REQUIRE(s.kinds() == Kinds{"lost-write"});
  REQUIRE_FALSE(v.ok());
  REQUIRE(v.anomalies()[0].offsets == std::vector<int64_t>{1});
}

TEST_CASE("lost-write is quiet when every acked record is at its offset", "[check][lost-write]") {
  Story s;
  s.send(10, "v0", 0, 100);
  s.send(10, "v1", 1, 110);
  s.send(10, "v2", -1, 120, Outcome::info);  // unknown outcome: not promised
  s.final_log({"v0", "v1"});
  REQUIRE(s.kinds().empty());
  REQUIRE(s.check().ok());
}

TEST_CASE("lost-write of an overwritten offset names the record now there", "[check][lost-write]") {
  Story s;
  s.send(10, "v0", 0, 100);
  s.final_log({"other"});
  const Verdict v = s.check();
  REQUIRE(v.anomalies().size() == 1);
  REQUIRE(v.anomalies()[0].explanation.find("now holds 'other'") != std::string::npos);
}

TEST_CASE("an acks=1 loss is expected - not a violation", "[check][lost-write][fault-model]") {
  Story s;
  s.send(10, "v0", 0, 100, Outcome::ok, /*acks=*/1);
  s.event(EventType::fault, 1, "crash", 103);
  s.final_log({});
  const Verdict v = s.check();
  REQUIRE(s.kinds() == Kinds{"lost-write"});
  REQUIRE(v.ok());
  REQUIRE(v.anomalies()[0].expected);
  REQUIRE(v.anomalies()[0].cause.find("acks=1") == 0);
  REQUIRE(v.anomalies()[0].explanation.find("node 1: crash") != std::string::npos);
}

TEST_CASE("an acks=all loss after an unclean election is expected", "[check][lost-write][fault-model]") {
  Story s;
  s.send(10, "v0", 0, 100);
  s.event(EventType::election, 3, "unclean election", 200, /*unclean=*/true);
  s.final_log({});
  const Verdict v = s.check();
  REQUIRE(v.ok());
  REQUIRE(v.anomalies().at(0).cause.find("unclean election of broker 3") == 0);
}

// Hunt seed 1744: broker 1 led with the ISR {1}; paused, it was fenced and
// broker 2 elected uncleanly; back, broker 1 still acknowledged an acks=all
// write alone (Kafka has no leader leases) and truncated it when it followed.
TEST_CASE("an acks=all write a deposed leader acknowledged after an unclean election is an expected loss",
          "[check][lost-write][fault-model]") {
  auto story = [](int32_t elected, bool unclean, int64_t acker_elected_again_ms) {
    Story s;
    s.event(EventType::election, 1, "created", 10, false, {1, 2, 3});
    s.event(EventType::election, elected, "election", 150, unclean, {elected});
    if (acker_elected_again_ms > 0) s.event(EventType::election, 1, "election", acker_elected_again_ms, false, {1, 2});
    s.send(10, "v0", 0, 200);  // acknowledged by broker 1 (the Story's sends all are)
    s.final_log({});
    return s.check();
  };
  const Verdict zombie = story(2, true, 0);
  REQUIRE(zombie.ok());
  REQUIRE(zombie.anomalies().at(0).kind == "lost-write");
  REQUIRE(zombie.anomalies().at(0).cause.find("acknowledged by broker 1 as a deposed leader") == 0);
  // A clean election deposes no leader that could still acknowledge alone: a violation.
  REQUIRE_FALSE(story(2, false, 0).ok());
  // Broker 1 elected again after the unclean election: it acknowledged in the new epoch.
  REQUIRE_FALSE(story(2, true, 180).ok());
  // The unclean election elected the acknowledging broker itself: its acks are promised.
  REQUIRE_FALSE(story(1, true, 0).ok());
}

TEST_CASE("min.insync.replicas=1: a loss is expected after a power failure - a violation after crashes only",
          "[check][lost-write][fault-model]") {
  Story s;
  s.in.config.min_insync_replicas = 1;
  s.send(10, "v0", 0, 100);
  s.final_log({});
  s.event(EventType::fault, 1, "crash", 200);
  REQUIRE_FALSE(s.check().ok());  // a crash keeps the page cache: Kafka promised the write
  s.event(EventType::fault, 1, "power_fail", 300);
  REQUIRE(s.check().ok());
  REQUIRE(s.kinds() == Kinds{"lost-write"});
}

TEST_CASE("an acks=all loss after every replica power-failed is expected - after two of three it is not",
          "[check][lost-write][fault-model]") {
  Story s;
  s.send(10, "v0", 0, 100);
  s.final_log({});
  s.event(EventType::fault, 1, "power_fail", 200);
  s.event(EventType::fault, 2, "power_fail", 201);
  REQUIRE_FALSE(s.check().ok());
  s.event(EventType::fault, 3, "power_fail", 202);
  REQUIRE(s.check().ok());
}

TEST_CASE("duplicate fires when an idempotent send is at two offsets", "[check][duplicate]") {
  Story s;
  s.send(10, "v0", 0, 100);
  s.final_log({"v0", "v0"});
  const Verdict v = s.check();
  REQUIRE(s.kinds() == Kinds{"duplicate"});
  REQUIRE_FALSE(v.ok());
  REQUIRE(v.anomalies()[0].offsets == std::vector<int64_t>{0, 1});
}

TEST_CASE("duplicate: a non-idempotent retry's copy is expected - two sends of one value are no duplicate",
          "[check][duplicate]") {
  Story s;
  s.send(10, "v0", 0, 100, Outcome::ok, -1, /*idempotent=*/false);
  s.final_log({"v0", "v0"});
  REQUIRE(s.check().ok());
  REQUIRE(s.kinds() == Kinds{"duplicate"});

  Story twice;
  twice.send(10, "v0", 0, 100);
  twice.send(10, "v0", 1, 110);
  twice.final_log({"v0", "v0"});
  REQUIRE(twice.kinds().empty());
}

TEST_CASE("nonmonotonic-send fires when an idempotent producer's later send lands first", "[check][reorder]") {
  Story s;
  s.send(10, "a", 1, 100);
  s.send(10, "b", 0, 101);
  s.final_log({"b", "a"});
  REQUIRE(s.kinds() == Kinds{"nonmonotonic-send"});
  REQUIRE_FALSE(s.check().ok());
}

TEST_CASE("nonmonotonic-send: expected without idempotence - quiet across producers and in order",
          "[check][reorder]") {
  Story s;
  s.send(10, "a", 1, 100, Outcome::ok, -1, false);
  s.send(10, "b", 0, 101, Outcome::ok, -1, false);
  s.final_log({"b", "a"});
  REQUIRE(s.check().ok());
  REQUIRE(s.kinds() == Kinds{"nonmonotonic-send"});

  Story two_producers;
  two_producers.send(10, "a", 1, 100);
  two_producers.send(11, "b", 0, 101);
  two_producers.final_log({"b", "a"});
  REQUIRE(two_producers.kinds().empty());
}

TEST_CASE("inconsistent-offsets fires when two consumers read different records at one offset",
          "[check][inconsistent-offsets]") {
  Story s;
  s.poll(20, {{0, "x"}}, 100);
  s.poll(21, {{0, "y"}}, 200);
  REQUIRE(s.kinds() == Kinds{"inconsistent-offsets"});
}

TEST_CASE("inconsistent-offsets reports an offset once - reads far apart as reads close together",
          "[check][inconsistent-offsets]") {
  // Offsets 0 and 10 million: too sparse for the flat per-offset table, so
  // the checker hashes them; the dense story takes the table. Same verdict.
  for (const int64_t far : {int64_t{1}, int64_t{10'000'000}}) {
    Story s;
    s.poll(20, {{0, "a"}, {far, "x"}}, 100);
    s.poll(21, {{far, "y"}}, 200);
    s.poll(22, {{far, "z"}}, 300);
    s.poll(23, {{0, "a"}}, 400);
    const Verdict v = s.check();
    REQUIRE(s.kinds() == Kinds{"inconsistent-offsets"});
    REQUIRE(v.anomalies().size() == 1);  // z conflicts too: one report per offset
    REQUIRE(v.anomalies()[0].offsets == std::vector<int64_t>{far});
    REQUIRE(v.anomalies()[0].records == std::vector<std::string>{"x", "y"});
  }
}

TEST_CASE("inconsistent-offsets fires when a read disagrees with the final log - quiet when they agree",
          "[check][inconsistent-offsets]") {
  Story s;
  s.poll(20, {{0, "x"}}, 100);
  s.final_log({"y"});
  REQUIRE(s.kinds() == Kinds{"inconsistent-offsets"});

  Story agree;
  agree.poll(20, {{0, "x"}}, 100);
  agree.poll(21, {{0, "x"}}, 200);
  agree.final_log({"x"});
  REQUIRE(agree.kinds().empty());
}

TEST_CASE("a record replaced after an unclean election of its partition is an expected inconsistent-offsets",
          "[check][inconsistent-offsets][fault-model]") {
  Story s;
  s.poll(20, {{0, "x"}}, 100);
  s.event(EventType::election, 3, "unclean election", 200, /*unclean=*/true);
  s.final_log({"y"});
  const Verdict v = s.check();
  REQUIRE(s.kinds() == Kinds{"inconsistent-offsets"});
  REQUIRE(v.ok());
  REQUIRE(v.anomalies().at(0).expected);
  REQUIRE(v.anomalies().at(0).cause.find("unclean election of broker 3") == 0);

  Story before;  // an unclean election BEFORE the read excuses nothing
  before.event(EventType::election, 3, "unclean election", 50, /*unclean=*/true);
  before.poll(20, {{0, "x"}}, 100);
  before.final_log({"y"});
  REQUIRE_FALSE(before.check().ok());
}

TEST_CASE("a record of an epoch an unclean election ended read from the deposed leader after it is expected",
          "[check][inconsistent-offsets][fault-model]") {
  // Hunt seed 5211: broker 2 is elected uncleanly (epoch 3) while broker 3,
  // leader of epoch 2, has not heard of it and serves a fetch of its own
  // epoch-2 record; broker 2's log holds another record at that offset.
  Story s;
  s.event(EventType::election, 2, "unclean election", 50, /*unclean=*/true, {2}, /*leader_epoch=*/3);
  s.poll_epoch = 2;
  s.poll(20, {{0, "x"}}, 100);
  s.final_log({"y"});
  const Verdict v = s.check();
  REQUIRE(s.kinds() == Kinds{"inconsistent-offsets"});
  REQUIRE(v.ok());
  REQUIRE(v.anomalies().at(0).cause.find("ended epoch 2") != std::string::npos);

  Story newer;  // a record of the new leader's own epoch replaced later: a violation
  newer.event(EventType::election, 2, "unclean election", 50, /*unclean=*/true, {2}, /*leader_epoch=*/3);
  newer.poll_epoch = 3;
  newer.poll(20, {{0, "x"}}, 100);
  newer.final_log({"y"});
  REQUIRE_FALSE(newer.check().ok());

  Story clean;  // a clean election ends an epoch without permitting any loss
  clean.event(EventType::election, 2, "election", 50, /*unclean=*/false, {2}, /*leader_epoch=*/3);
  clean.poll_epoch = 2;
  clean.poll(20, {{0, "x"}}, 100);
  clean.final_log({"y"});
  REQUIRE_FALSE(clean.check().ok());
}

TEST_CASE("a buffered record returned by poll after its permitted loss is an expected inconsistent-offsets",
          "[check][inconsistent-offsets][fault-model]") {
  // Hunt seed 7385: the consumer fetched x right after its ack, the leader
  // then lost it, and the slow consumer's poll handed x out seconds later.
  Story s;
  s.send(10, "x", 0, 100);
  s.event(EventType::election, 3, "unclean election", 150, /*unclean=*/true);
  s.poll(20, {{0, "x"}}, 200);
  s.final_log({"y"});
  REQUIRE(s.kinds() == Kinds{"lost-write", "inconsistent-offsets"});
  REQUIRE(s.check().ok());

  Story no_fault;  // nothing permits the loss: the replaced read is a violation
  no_fault.send(10, "x", 0, 100);
  no_fault.poll(20, {{0, "x"}}, 200);
  no_fault.final_log({"y"});
  REQUIRE_FALSE(no_fault.check().ok());
}

TEST_CASE("online invariants become anomalies of their kind", "[check][divergence]") {
  Story s;
  s.in.invariant_violations = {"divergence: t-0 below HW 5: leader 1 and ISR member 2 differ at offset 3"};
  REQUIRE(s.kinds() == Kinds{"divergence"});
  REQUIRE_FALSE(s.check().ok());
}

TEST_CASE("poll-skip fires when a consumer jumps over readable offsets", "[check][poll-skip]") {
  Story s;
  s.final_log({"a", "b", "c", "d"});
  s.poll(20, {{0, "a"}, {1, "b"}}, 100);
  s.poll(20, {{3, "d"}}, 200);
  REQUIRE(s.kinds() == Kinds{"poll-skip"});
}

TEST_CASE("poll-skip is quiet after a seek and over offsets with no readable record", "[check][poll-skip]") {
  Story s;
  s.final_log({"a", "b", "c", "d"});
  s.poll(20, {{0, "a"}}, 100);
  s.seek(20, 3, 150);
  s.poll(20, {{3, "d"}}, 200);
  REQUIRE(s.kinds().empty());

  Story gap;  // offsets 1..2 hold no data record (control records, truncation)
  gap.in.final_logs[gap.tp] = FinalLog{1, 0, 4, {{0, kNoSym, gap.h.intern("a")}, {3, kNoSym, gap.h.intern("d")}}, {1, 2, 3}};
  gap.poll(20, {{0, "a"}}, 100);
  gap.poll(20, {{3, "d"}}, 200);
  REQUIRE(gap.kinds().empty());
}

TEST_CASE("nonmonotonic-poll fires on a reread without a seek - a seek back explains it", "[check][nonmonotonic-poll]") {
  Story s;
  s.final_log({"a", "b"});
  s.poll(20, {{0, "a"}, {1, "b"}}, 100);
  s.poll(20, {{0, "a"}}, 200);
  REQUIRE(s.kinds() == Kinds{"nonmonotonic-poll"});

  Story seeked;
  seeked.final_log({"a", "b"});
  seeked.poll(20, {{0, "a"}, {1, "b"}}, 100);
  seeked.seek(20, 0, 150, "seek_to_beginning");
  seeked.poll(20, {{0, "a"}}, 200);
  REQUIRE(seeked.kinds().empty());
}

TEST_CASE("group poll-skip: a committed offset beyond what the group consumed (zombie commit)", "[check][poll-skip]") {
  Story s;
  s.final_log({"a", "b", "c", "d", "e"});
  s.assign(20, "g", 1, 10);
  s.seek(20, 0, 11, "committed", "g");
  s.poll(20, {{0, "a"}, {1, "b"}, {2, "c"}}, 100, -1, "g");  // zombie-to-be reads up to 2
  s.revoke(20, "g", 150);  // (it learns only later, but its generation is stale anyway)
  s.assign(21, "g", 2, 160);
  s.seek(21, 1, 161, "committed", "g");  // a reread from the committed offset: at-least-once, fine
  s.poll(21, {{1, "b"}}, 170, -1, "g");
  s.assign(22, "g", 3, 300);
  s.seek(22, 4, 301, "committed", "g");  // a zombie's commit of 4 landed: offset 3 ('d') never delivered
  const Verdict v = s.check();
  REQUIRE(s.kinds() == Kinds{"poll-skip"});
  REQUIRE(v.anomalies()[0].offsets == std::vector<int64_t>{3, 4});
}

TEST_CASE("group rereads from the committed offset after a rebalance are not anomalies", "[check][poll-skip]") {
  Story s;
  s.final_log({"a", "b", "c"});
  s.assign(20, "g", 1, 10);
  s.poll(20, {{0, "a"}, {1, "b"}, {2, "c"}}, 100, -1, "g");
  s.assign(21, "g", 2, 160);
  s.seek(21, 1, 161, "committed", "g");
  s.poll(21, {{1, "b"}, {2, "c"}}, 170, -1, "g");
  REQUIRE(s.kinds().empty());
}

TEST_CASE("uncommitted-read fires at or above the fetch's high watermark only", "[check][uncommitted-read]") {
  Story s;
  s.poll(20, {{4, "a"}}, 100, /*hw=*/5);
  REQUIRE(s.kinds().empty());
  s.poll(21, {{5, "b"}}, 100, /*hw=*/5);
  REQUIRE(s.kinds() == Kinds{"uncommitted-read"});
}

TEST_CASE("split-ownership fires when two members own one partition in one generation", "[check][split-ownership]") {
  Story s;
  s.assign(20, "g", 4, 100);
  s.assign(21, "g", 4, 101);
  REQUIRE(s.kinds() == Kinds{"split-ownership"});
}

TEST_CASE("split-ownership is quiet across generations and after a revocation", "[check][split-ownership]") {
  Story s;
  s.assign(20, "g", 4, 100);
  s.assign(21, "g", 5, 200);  // 20 is a stale member (generation 4)
  REQUIRE(s.kinds().empty());

  Story moved;
  moved.assign(20, "g", 4, 100);
  moved.revoke(20, "g", 150);
  moved.assign(21, "g", 4, 200);
  REQUIRE(moved.kinds().empty());
}

TEST_CASE("unseen reports acked records no consumer returned - only after a full read", "[check][unseen]") {
  Story s;
  s.send(10, "v0", 0, 100);
  s.send(10, "v1", 1, 110);
  s.final_log({"v0", "v1"});
  s.poll(20, {{0, "v0"}}, 200);
  REQUIRE(s.kinds().empty());
  s.in.config.full_read = true;
  REQUIRE(s.kinds() == Kinds{"unseen"});
  REQUIRE(s.check().ok());  // severity info by default
  s.in.config.unseen_is_violation = true;
  REQUIRE_FALSE(s.check().ok());
}

TEST_CASE("aborted-read and exactly-once over transactional sends", "[check][transactions]") {
  Story s;
  s.transactional = true;
  const uint64_t aborted = s.send(10, "t0", 0, 100);
  s.h.set_txn_state(aborted, TxnState::aborted);
  const uint64_t committed = s.send(10, "t1", 1, 110);
  s.h.set_txn_state(committed, TxnState::committed);
  s.final_log({"t0", "t1", "t1"});
  s.read_committed = true;
  s.poll(20, {{0, "t0"}}, 200);
  const Kinds k = s.kinds();
  REQUIRE(std::count(k.begin(), k.end(), "aborted-read") == 1);
  REQUIRE(std::count(k.begin(), k.end(), "exactly-once") == 1);

  Story clean;
  clean.transactional = true;
  const uint64_t c = clean.send(10, "t1", 0, 110);
  clean.h.set_txn_state(c, TxnState::committed);
  clean.final_log({"t1"});
  REQUIRE(clean.kinds().empty());
}

TEST_CASE("a committed transaction's record lost to an unclean election is an expected exactly-once",
          "[check][transactions][fault-model]") {
  for (bool unclean : {true, false}) {
    INFO("unclean=" << unclean);
    Story s;
    s.transactional = true;
    const uint64_t c = s.send(10, "t1", 0, 110);
    s.h.set_txn_state(c, TxnState::committed);
    if (unclean) s.event(EventType::election, 2, "unclean election", 300, /*unclean=*/true);
    s.final_log({"other"});
    const Verdict v = s.check();
    REQUIRE(v.ok() == unclean);  // with a clean history the loss is a broken promise
  }
}

TEST_CASE("a poll-skip judged against a log an unclean election rewrote is expected", "[check][poll-skip][fault-model]") {
  Story s;
  s.final_log({"a", "b", "c", "d"});
  s.poll(20, {{0, "a"}, {1, "b"}}, 100);
  s.poll(20, {{3, "d"}}, 200);  // offset 2 held a marker when read; the rewritten log has 'c' there
  s.event(EventType::election, 2, "unclean election", 300, /*unclean=*/true);
  const Verdict v = s.check();
  REQUIRE(s.kinds() == Kinds{"poll-skip"});
  REQUIRE(v.ok());
  REQUIRE(v.anomalies().at(0).cause.find("unclean election of broker 2") == 0);
}

TEST_CASE("a committed copy counts once: an aborted attempt of the same value is no duplicate", "[check][transactions]") {
  Story s;
  s.transactional = true;
  const uint64_t c = s.send(10, "t1", 1, 110);
  s.h.set_txn_state(c, TxnState::committed);
  s.final_log({"t1", "t1"});
  s.in.final_logs[s.tp].records[0].aborted = true;  // the first attempt's transaction aborted
  REQUIRE(s.kinds() == Kinds{});
}

namespace {
// A compacted final log of (key, value) records at offsets 0, 1, 2, ... with
// `gone` left out (the final log's replica cleaned less than the one read).
Story compacted_story(const std::vector<std::pair<std::string, std::string>>& records) {
  Story s;
  FinalLog& f = s.in.final_logs[s.tp];
  f.source_broker = 2;
  f.replicas = {1, 2, 3};
  f.compacted = true;
  f.delete_retention_ms = 1000;
  int64_t o = 0;
  for (const auto& [k, v] : records) f.records.push_back(LogRecord{o++, s.h.intern(k), s.h.intern(v)});
  f.high_watermark = o;
  return s;
}
}  // namespace

// Hunt seeds 755 and 1184: the consumer read the leader, whose cleaner had
// removed superseded records the final log's (less cleaned) replica still held.
TEST_CASE("poll-skip over a compacted record a later value of its key superseded is no skip", "[check][poll-skip][compaction]") {
  Story s = compacted_story({{"k1", "a1"}, {"k2", "b1"}, {"k1", "a2"}, {"k2", "b2"}});
  s.seek(20, 0, 90, "reset:earliest");
  s.poll(20, {{2, "a2"}, {3, "b2"}}, 100, /*hw=*/4);  // 0 and 1 cleaned on the replica read
  REQUIRE(s.kinds().empty());
}

TEST_CASE("poll-skip over a compacted tombstone counts only before delete.retention.ms", "[check][poll-skip][compaction]") {
  // k2's tombstone at offset 1, acknowledged at t=10 ms; delete.retention.ms is 1000.
  auto story = [](int64_t poll_ms) {
    Story s = compacted_story({{"k1", "a1"}, {"k2", ""}, {"k1", "a2"}});
    s.in.final_logs[s.tp].records[1].value = kNoSym;  // a null value
    OpSpec op;
    op.type = OpType::send;
    op.client = 10;
    op.client_name = "producer-10";
    op.tp = s.tp;
    op.key = "k2";
    op.value = "";
    op.acks = -1;
    op.idempotent = true;
    const uint64_t id = s.h.invoke(op, ms(10));
    s.h.set_ack(id, Offset{1}, 1);
    s.h.complete(id, Outcome::ok, ms(12));
    s.seek(20, 0, poll_ms - 10, "reset:earliest");
    s.poll(20, {{2, "a2"}}, poll_ms, /*hw=*/3);  // 'a1' superseded; the tombstone?
    return s.kinds();
  };
  REQUIRE(story(2000).empty());                   // removed after delete.retention.ms: no skip
  REQUIRE(story(500) == Kinds{"poll-skip"});      // too early for the cleaner to drop it
}

TEST_CASE("poll-skip on a compacted topic still fires over a key's latest value", "[check][poll-skip][compaction]") {
  // 'b1' is k2's latest value: no cleaner may remove it (ksim.bug.cleaner.drops.latest.value).
  Story latest = compacted_story({{"k1", "a1"}, {"k2", "b1"}, {"k1", "a2"}});
  latest.seek(20, 0, 90, "reset:earliest");
  latest.poll(20, {{2, "a2"}}, 100, /*hw=*/3);
  REQUIRE(latest.kinds() == Kinds{"poll-skip"});
  // 'a1' is superseded only by 'a2' at offset 3, at the fetch's high watermark: the
  // cleaner never passes the high watermark, so 'a1' was still there to read.
  Story early = compacted_story({{"k1", "a1"}, {"k2", "b1"}, {"k2", "b2"}, {"k1", "a2"}});
  early.seek(20, 0, 90, "reset:earliest");
  early.poll(20, {{1, "b1"}, {2, "b2"}}, 100, /*hw=*/3);
  REQUIRE(early.kinds() == Kinds{"poll-skip"});
  // Not compacted: the same jump is a skip.
  Story plain = compacted_story({{"k1", "a1"}, {"k2", "b1"}, {"k1", "a2"}, {"k2", "b2"}});
  plain.in.final_logs[plain.tp].compacted = false;
  plain.seek(20, 0, 90, "reset:earliest");
  plain.poll(20, {{2, "a2"}, {3, "b2"}}, 100, /*hw=*/4);
  REQUIRE(plain.kinds() == Kinds{"poll-skip"});
}

TEST_CASE("read_committed readers skip aborted records without a poll-skip", "[check][transactions]") {
  Story s;
  s.final_log({"gone", "kept"});
  s.in.final_logs[s.tp].records[0].aborted = true;
  s.read_committed = true;
  s.seek(20, 0, 90);
  s.poll(20, {{1, "kept"}}, 100);
  REQUIRE(s.kinds().empty());
  // A read_uncommitted reader could have read it: that jump is a skip.
  Story dirty;
  dirty.final_log({"gone", "kept"});
  dirty.in.final_logs[dirty.tp].records[0].aborted = true;
  dirty.seek(20, 0, 90);
  dirty.poll(20, {{1, "kept"}}, 100);
  REQUIRE(dirty.kinds() == Kinds{"poll-skip"});
}

namespace {
// A pipeline from "t" (the story's partition) to "out-0", committed up to `committed`.
Story pipeline_story(const std::vector<std::string>& outputs, int64_t committed, bool transactional = true) {
  Story s;
  s.final_log({"a", "b", "c"});
  FinalLog& out = s.in.final_logs[TopicPartition{"out", 0}];
  out.source_broker = 1;
  int64_t o = 0;
  for (const auto& v : outputs) out.records.push_back(LogRecord{o++, kNoSym, s.h.intern(v)});
  out.high_watermark = o;
  PipelineCheck pc;
  pc.name = "p";
  pc.input_topic = "t";
  pc.output_topic = "out";
  pc.group_id = "g";
  pc.output_prefix = "T:";
  pc.transactional = transactional;
  pc.committed[s.tp] = committed;
  s.in.pipelines.push_back(pc);
  return s;
}
}  // namespace

TEST_CASE("exactly-once pipeline: every committed input has one committed output", "[check][transactions]") {
  REQUIRE(pipeline_story({"T:a", "T:b", "T:c"}, 3).kinds().empty());
  REQUIRE(pipeline_story({"T:a", "T:b"}, 2).kinds().empty());  // c is not committed yet: not judged
  Story missing = pipeline_story({"T:a", "T:c"}, 3);
  REQUIRE(missing.kinds() == Kinds{"exactly-once"});
  REQUIRE_FALSE(missing.check().ok());
  Story twice = pipeline_story({"T:a", "T:b", "T:b", "T:c"}, 3);
  REQUIRE(twice.kinds() == Kinds{"exactly-once"});
  REQUIRE_FALSE(twice.check().ok());
  // An aborted copy does not count; an undecided one neither.
  Story retried = pipeline_story({"T:a", "T:b", "T:b", "T:c"}, 3);
  retried.in.final_logs[TopicPartition{"out", 0}].records[1].aborted = true;
  REQUIRE(retried.kinds().empty());
  // An output whose transaction is still open is not judged yet.
  Story open = pipeline_story({"T:a", "T:b"}, 3);
  open.in.final_logs[TopicPartition{"out", 0}].records.push_back(LogRecord{2, kNoSym, open.h.intern("T:c"), false, true});
  REQUIRE(open.kinds().empty());
  // An input value sent twice needs two outputs.
  Story twice_in = pipeline_story({"T:a", "T:b", "T:b"}, 3);
  twice_in.in.final_logs[twice_in.tp].records[2].value = twice_in.h.intern("b");
  REQUIRE(twice_in.kinds().empty());
  // Without transactions a repeat is expected (at-least-once), a loss is not.
  REQUIRE(pipeline_story({"T:a", "T:b", "T:b", "T:c"}, 3, false).check().ok());
  REQUIRE_FALSE(pipeline_story({"T:a", "T:c"}, 3, false).check().ok());
}

TEST_CASE("liveness failures are violations unless the configuration explains them", "[check][liveness]") {
  Story s;
  s.in.liveness_failures.push_back({s.tp, "t-0 has no leader", ""});
  REQUIRE_FALSE(s.check().ok());
  s.in.liveness_failures.back().cause = "unclean election is disabled and the only up-to-date replica lost its disk";
  REQUIRE(s.check().ok());
}

TEST_CASE("the verdict text names each kind and explains the first example", "[check][verdict]") {
  Story s;
  s.send(10, "v0", 0, 100);
  s.final_log({});
  const std::string text = s.check().text();
  REQUIRE(text.rfind("VERDICT: VIOLATED", 0) == 0);
  REQUIRE(text.find("lost-write: 1 violation(s)") != std::string::npos);
  REQUIRE(text.find("send #0 of 'v0' by producer-10") != std::string::npos);
  REQUIRE(text.find("stats: 1 ops; sends 1 (acked 1") != std::string::npos);
}

TEST_CASE("group poll-skip: a stale-generation member's reads do not count as the group's", "[check][poll-skip]") {
  Story s;
  s.final_log({"a", "b", "c", "d"});
  s.assign(20, "g", 1, 10);
  s.poll(20, {{0, "a"}}, 100, -1, "g");
  s.assign(21, "g", 2, 160);             // 20 was evicted; it has not noticed yet
  s.seek(21, 1, 161, "committed", "g");
  s.poll(20, {{1, "b"}, {2, "c"}}, 170, -1, "g");  // the zombie reads on (and will commit 3)
  s.assign(22, "g", 3, 300);
  s.seek(22, 3, 301, "committed", "g");  // the zombie's commit: 'b' and 'c' never reached a live member
  const Verdict v = s.check();
  REQUIRE(s.kinds() == Kinds{"poll-skip"});
  REQUIRE(v.anomalies()[0].offsets == std::vector<int64_t>{1, 3});
}

TEST_CASE("split-ownership: a restarted client is a new member - its dead incarnation owns nothing", "[check][split-ownership]") {
  Story s;
  s.assign(20, "g", 1, 100, "c20-a");
  s.assign(21, "g", 2, 200, "c21-a");  // 20 crashed; 21 gets its partition
  s.assign(20, "g", 2, 201, "c20-b", /*partitions=*/false);  // 20 restarted: a new member, other partitions
  REQUIRE(s.kinds().empty());
  s.assign(22, "g", 2, 202, "c22-a");  // but a second live owner in generation 2 is a violation
  REQUIRE(s.kinds() == Kinds{"split-ownership"});
}

TEST_CASE("an acks=all loss after every ISR member at the ack power-failed is expected", "[check][lost-write][fault-model]") {
  Story s;
  s.event(EventType::isr_change, -1, "isr change", 50, false, {1, 2});
  s.send(10, "v0", 0, 100);
  s.final_log({});
  s.event(EventType::fault, 1, "power_fail", 200);
  REQUIRE_FALSE(s.check().ok());  // replica 2 of the ISR kept it
  s.event(EventType::fault, 2, "power_fail", 201);
  REQUIRE(s.check().ok());        // replica 3 was out of the ISR: it never had it
}

TEST_CASE("split-ownership: a static member replaced on the same client is not a second owner", "[check][split-ownership]") {
  Story s;
  s.assign(20, "g", 3, 100, "static-a-1");
  s.assign(20, "g", 3, 200, "static-a-2");  // restarted within the session: same generation, new member id
  REQUIRE(s.kinds().empty());
}

TEST_CASE("poll order: a partition kept across a cooperative rebalance keeps its position", "[check][poll-skip]") {
  Story s;
  s.final_log({"a", "b", "c", "d"});
  s.assign(20, "g", 1, 10);
  s.seek(20, 0, 11, "committed", "g");
  s.poll(20, {{0, "a"}, {1, "b"}}, 100, -1, "g");
  s.assign(20, "g", 2, 150);  // cooperative: the partition stays; no new seek
  s.poll(20, {{3, "d"}}, 200, -1, "g");
  REQUIRE(s.kinds() == Kinds{"poll-skip"});
}

// A coordinator that creates a group it had no state for has lost that state
// (its __consumer_offsets partition lost the group's records): generations
// start over, and an old member and a new one can both hold generation 1.
namespace {
void group_created(Story& s, int64_t at_ms) {
  ClusterEvent e;
  e.at_ns = at_ms * 1'000'000;
  e.type = EventType::group_created;
  e.node = 1;
  e.tp = TopicPartition{"__consumer_offsets", 3};
  e.what = "g";
  s.h.event(e);
}
}  // namespace

TEST_CASE("split-ownership across a group lost with its offsets partition is expected after an unclean election",
          "[check][split-ownership][fault-model]") {
  Story s;
  group_created(s, 50);
  s.assign(20, "g", 1, 100, "c20-a");
  ClusterEvent unclean;
  unclean.at_ns = 150'000'000;
  unclean.type = EventType::election;
  unclean.node = 2;
  unclean.unclean = true;
  unclean.tp = TopicPartition{"__consumer_offsets", 3};
  unclean.what = "unclean election";
  s.h.event(unclean);
  group_created(s, 160);
  s.assign(21, "g", 1, 200, "c21-a");
  const Verdict v = s.check();
  REQUIRE(s.kinds() == Kinds{"split-ownership"});
  REQUIRE(v.ok());
  REQUIRE(v.anomalies().at(0).cause.find("__consumer_offsets-3 was lost: unclean election of broker 2") !=
          std::string::npos);
}

TEST_CASE("split-ownership across a group re-created with nothing to explain the loss is a violation",
          "[check][split-ownership][fault-model]") {
  Story s;
  group_created(s, 50);
  s.assign(20, "g", 1, 100, "c20-a");
  group_created(s, 160);
  s.assign(21, "g", 1, 200, "c21-a");
  const Verdict v = s.check();
  REQUIRE(s.kinds() == Kinds{"split-ownership"});
  REQUIRE_FALSE(v.ok());
  REQUIRE(v.anomalies().at(0).explanation.find("created the group anew") != std::string::npos);
}

TEST_CASE("split-ownership: a static member replaced on another client is no second owner", "[check][split-ownership]") {
  // KIP-345: the replacement (same group.instance.id) gets the same
  // generation; Kafka fences the old instance at its next request.
  Story s;
  s.assign(20, "g", 3, 100, "old-member", true, "app-0");
  s.assign(21, "g", 3, 200, "new-member", true, "app-0");
  REQUIRE(s.kinds().empty());
  s.assign(22, "g", 3, 300, "intruder", true, "app-1");  // another instance in the same generation: a violation
  REQUIRE(s.kinds() == Kinds{"split-ownership"});
}

TEST_CASE("ELR off: a committed record replaced after the ISR shrank to a power-failed replica is expected",
          "[check][inconsistent-offsets][fault-model]") {
  // Hunt seed 148: the ISR {3,4} held the record; broker 3 (the leader) lost
  // its unflushed data to a power failure and could not re-register before
  // its old session expired, so the controller still counted it as alive;
  // broker 4's controlled shutdown left the ISR {3}, and broker 3 was elected
  // again with what its disk kept. Without ELR Kafka does the same.
  auto story = [](bool elr, bool rejoined) {
    Story s;
    s.in.config.eligible_leader_replicas = elr;
    s.event(EventType::election, 2, "election", 50, false, {2, 3, 4});
    s.poll(20, {{0, "x"}}, 100);
    s.event(EventType::election, 3, "election", 150, false, {3, 4});
    s.event(EventType::fault, 3, "power_fail", 200);
    if (rejoined) {  // broker 3 fenced, back and caught up: it has the record again
      s.event(EventType::isr_change, -1, "isr change", 250, false, {4});
      s.event(EventType::isr_change, -1, "isr change", 280, false, {3, 4});
    }
    s.event(EventType::isr_change, -1, "isr change", 300, false, {3});
    s.final_log({"y"});
    return s.check();
  };
  const Verdict off = story(false, false);
  REQUIRE(off.ok());
  REQUIRE(off.anomalies().at(0).kind == "inconsistent-offsets");
  REQUIRE(off.anomalies().at(0).cause.find("ELR off: the ISR shrank to {3}") == 0);
  // With ELR the unclean restart leaves the ISR and broker 4 (in the ELR)
  // is elected: the same replacement breaks a promise.
  REQUIRE_FALSE(story(true, false).ok());
  // A replica that rejoined the ISR after its power failure caught up again.
  REQUIRE_FALSE(story(false, true).ok());
}

TEST_CASE("ELR off: an acks=all loss is expected once the ISR is only replicas that lost power",
          "[check][lost-write][fault-model]") {
  auto story = [](int32_t last) {
    Story s;
    s.in.config.eligible_leader_replicas = false;
    s.event(EventType::isr_change, -1, "isr change", 50, false, {1, 2});
    s.send(10, "v0", 0, 100);
    s.final_log({});
    s.event(EventType::fault, 1, "power_fail", 200);
    s.event(EventType::isr_change, -1, "isr change", 300, false, {last});
    return s.check();
  };
  REQUIRE_FALSE(story(2).ok());  // the ISR kept broker 2, which never lost it
  REQUIRE(story(1).ok());        // broker 1 alone, and it lost it
}

TEST_CASE("the verdict's send latencies are the order statistics of the acked sends", "[check][stats]") {
  // 100 acked sends whose latencies are 1..100 ms, recorded in scrambled
  // order: p50 and p99 are the values a sorted list holds at ranks
  // floor(0.5 n) and floor(0.99 n), the max its last.
  Story s;
  const size_t n = 100;
  for (size_t i = 0; i < n; ++i) {
    const int64_t latency_ms = static_cast<int64_t>((i * 37) % n) + 1;  // 37 is coprime with 100: a permutation
    OpSpec op;
    op.type = OpType::send;
    op.client = 10;
    op.client_name = "producer-10";
    op.tp = s.tp;
    const std::string value = "v" + std::to_string(i);
    op.value = value;
    const uint64_t id = s.h.invoke(op, ms(1000 + static_cast<int64_t>(i)));
    s.h.set_ack(id, Offset{static_cast<int64_t>(i)}, 1);
    s.h.complete(id, Outcome::ok, ms(1000 + static_cast<int64_t>(i) + latency_ms));
  }
  const Verdict v = s.check();
  const Stats& st = v.stats();
  REQUIRE(st.send_latency_ms_p50 == static_cast<double>(static_cast<size_t>(0.50 * n) + 1));
  REQUIRE(st.send_latency_ms_p99 == static_cast<double>(static_cast<size_t>(0.99 * n) + 1));
  REQUIRE(st.send_latency_ms_max == 100.0);
}
