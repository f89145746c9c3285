// The compact history's memory cost, pinned: a soak's history must stay
// small per record (issue 13: ~1.4 KB per record before, a one-hour soak did
// not fit). The shape here is the standard workload's: one idempotent
// producer's sends over 6 partitions with values "producer-1-<seq>", and a
// group's polls of 5 records each. Also: the pool interns (equal strings,
// equal Syms; views stay valid as it grows) and the views read back what was
// recorded.
#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "engine/check/history.h"

using namespace ksim;
using namespace ksim::check;

namespace {

// `n` sends, each polled once, 5 records per poll.
void standard_shape(History& h, int64_t n) {
  std::vector<std::vector<PolledSpec>> pending(6);
  std::vector<int64_t> next(6, 0);
  for (int64_t i = 0; i < n; ++i) {
    const int p = static_cast<int>(i % 6);
    const std::string value = "producer-1-" + std::to_string(i);
    OpSpec s;
    s.type = OpType::send;
    s.client = 5;
    s.client_name = "producer-1";
    s.tp = TopicPartition{"t", p};
    s.value = value;
    s.idempotent = true;
    s.max_in_flight = 5;
    const uint64_t id = h.invoke(s, i * 1'000'000);
    h.set_ack(id, Offset{next[p]}, 1);
    h.complete(id, Outcome::ok, i * 1'000'000 + 3'000'000);
    PolledSpec r;
    r.tp = s.tp;
    r.offset = Offset{next[p]++};
    r.value = h.op(id).value();  // a view into the pool (stable): `value` dies with this iteration
    r.leader_epoch = LeaderEpoch{1};
    r.high_watermark = Offset{next[p]};
    pending[p].push_back(r);
    if (pending[p].size() == 5) {
      OpSpec poll;
      poll.type = OpType::poll;
      poll.client = 6 + p % 3;
      const std::string name = "consumer-" + std::to_string(p % 3);
      poll.client_name = name;
      poll.group_id = "g";
      poll.generation = 1;
      poll.records = std::move(pending[p]);
      pending[p].clear();
      h.record(poll, i * 1'000'000 + 10'000'000);
    }
  }
}

}  // namespace

TEST_CASE("the history of the standard workload costs at most 120 bytes per produced record", "[check][history][memory]") {
  History h;
  constexpr int64_t kRecords = 200'000;
  standard_shape(h, kRecords);
  const double per_record = static_cast<double>(h.memory_bytes()) / kRecords;
  INFO("bytes per record: " << per_record);
  CHECK(per_record <= 120.0);
  // What a send and a polled record cost at least: their fixed-size rows.
  CHECK(per_record >= sizeof(OpRecord) + sizeof(PolledRecord));
}

TEST_CASE("the history reads back what was recorded", "[check][history]") {
  History h;
  standard_shape(h, 30);
  REQUIRE(h.size() == 30 + 6);
  const OpView send = h.op(0);
  CHECK(send.type() == OpType::send);
  CHECK(send.client() == 5);
  CHECK(send.client_name() == "producer-1");
  CHECK(send.value() == "producer-1-0");
  CHECK_FALSE(send.key().has_value());
  CHECK(send.tp() == TopicPartition{"t", 0});
  CHECK(send.offset() == Offset{0});
  CHECK(send.leader() == 1);
  CHECK(send.outcome() == Outcome::ok);
  CHECK(send.idempotent());
  CHECK(send.max_in_flight() == 5);
  CHECK(send.complete_ns() == 3'000'000);
  uint64_t polls = 0, records = 0;
  for (const OpView& op : h.ops()) {
    if (op.type() != OpType::poll) continue;
    ++polls;
    CHECK(op.group_id() == "g");
    CHECK(op.generation() == 1);
    CHECK(op.offset() == kNoOffset);
    for (const PolledView& r : op.records()) {
      ++records;
      CHECK(r.value == "producer-1-" + std::to_string(r.offset.value * 6 + r.tp.partition));
      CHECK(r.high_watermark == r.offset + 1);
      CHECK(r.key.empty());
    }
  }
  CHECK(polls == 6);
  CHECK(records == 30);
  // Polled values are the sends' Syms: one copy of each string.
  CHECK(h.polled(0).value == h.rec(0).value);
}

TEST_CASE("keys and far high watermarks go to the side tables and read back", "[check][history]") {
  History h;
  OpSpec poll;
  poll.type = OpType::poll;
  poll.client_name = "c";
  poll.records.push_back(PolledSpec{TopicPartition{"t", 0}, Offset{5}, "k1", "a", LeaderEpoch{2}, kNoOffset});
  poll.records.push_back(PolledSpec{TopicPartition{"t", 1}, Offset{3'000'000'000}, "", "b", LeaderEpoch{2}, Offset{7}});
  poll.records.push_back(PolledSpec{TopicPartition{"t", 0}, Offset{6}, "k2", "c", LeaderEpoch{3}, Offset{9}});
  h.record(poll, 1);
  const auto records = h.op(0).records();
  REQUIRE(records.size() == 3);
  CHECK(records[0].key == "k1");
  CHECK(records[0].high_watermark == kNoOffset);
  CHECK(records[1].key.empty());
  CHECK(records[1].high_watermark == Offset{7});
  CHECK(records[1].offset == Offset{3'000'000'000});
  CHECK(records[2].key == "k2");
  CHECK(records[2].high_watermark == Offset{9});
  CHECK(records[2].leader_epoch == LeaderEpoch{3});
}

TEST_CASE("the string pool interns: equal strings share a Sym and views survive growth", "[check][history]") {
  StringPool pool;
  CHECK(pool.intern("") == 0);
  const Sym a = pool.intern("alpha");
  const std::string_view first = pool.view(a);
  std::vector<Sym> syms;
  for (int i = 0; i < 100'000; ++i) syms.push_back(pool.intern("value-" + std::to_string(i)));
  const std::string big(300'000, 'x');  // larger than a block: a block of its own
  const Sym b = pool.intern(big);
  CHECK(pool.intern("alpha") == a);
  CHECK(first == "alpha");
  CHECK(first.data() == pool.view(a).data());
  CHECK(pool.view(b) == big);
  CHECK(pool.find(big) == b);
  CHECK(pool.find("never") == kNoSym);
  for (int i = 0; i < 100'000; i += 997) CHECK(pool.view(syms[static_cast<size_t>(i)]) == "value-" + std::to_string(i));
  CHECK(pool.size() == 100'003);
  // Slots carry 5 bits of the hash: strings sharing them must still be told apart.
  int mismatches = 0;
  for (int i = 0; i < 100'000; ++i)
    if (pool.intern("value-" + std::to_string(i)) != syms[static_cast<size_t>(i)] ||
        pool.find("value-" + std::to_string(i) + "!") != kNoSym)
      ++mismatches;
  CHECK(mismatches == 0);
  CHECK(pool.size() == 100'003);
}

TEST_CASE("interning a poll's values in one go gives the Syms one intern after another would", "[check][history]") {
  // intern_all prefetches in windows of 16; a batch that straddles windows,
  // repeats a string within itself and mixes old, new and empty strings must
  // come out exactly as sequential interning would number them.
  StringPool one_by_one, batched;
  std::vector<std::string> strings;
  for (int i = 0; i < 40; ++i) strings.push_back("old-" + std::to_string(i));
  for (const auto& s : strings) {
    one_by_one.intern(s);
    batched.intern(s);
  }
  std::vector<std::string> poll;
  for (int i = 0; i < 37; ++i) poll.push_back(i % 3 == 0 ? "old-" + std::to_string(i) : "new-" + std::to_string(i % 20));
  poll.push_back("");
  std::vector<std::string_view> views(poll.begin(), poll.end());
  std::vector<Sym> got(views.size());
  batched.intern_all(views, got.data());
  std::vector<Sym> want;
  for (const auto& s : poll) want.push_back(one_by_one.intern(s));
  CHECK(got == want);
  CHECK(batched.size() == one_by_one.size());
  for (size_t i = 0; i < poll.size(); ++i) CHECK(batched.view(got[i]) == poll[i]);
}

TEST_CASE("an op keeps every error code in its byte - Kafka's codes past 127 and ksim's client-side ones",
          "[check][history]") {
  History h;
  for (const Errc e : {Errc::NONE, Errc::NOT_LEADER_OR_FOLLOWER, Errc::TRANSACTION_ABORTABLE, Errc::INVALID_VOTER_KEY,
                       Errc::INVALID_REGULAR_EXPRESSION, Errc::UNKNOWN_SERVER_ERROR, Errc::DELIVERY_TIMEOUT,
                       Errc::TRANSACTION_ABORTED}) {
    OpSpec s;
    s.type = OpType::send;
    s.client = 5;
    s.client_name = "producer-1";
    s.tp = TopicPartition{"t", 0};
    s.value = "v";
    const uint64_t id = h.invoke(s, 0);
    h.complete(id, Outcome::fail, 1, e);
    CHECK(h.op(id).error() == e);
  }
  // A code no byte can hold is refused, not stored as another code.
  OpSpec s;
  s.type = OpType::send;
  s.client = 5;
  s.client_name = "producer-1";
  s.tp = TopicPartition{"t", 0};
  const uint64_t id = h.invoke(s, 0);
  CHECK_THROWS_AS(h.complete(id, Outcome::fail, 1, static_cast<Errc>(300)), std::out_of_range);
}
