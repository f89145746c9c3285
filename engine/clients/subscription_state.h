// SubscriptionState: what the consumer reads and where it is (Kafka's class
// of that name).
//
// Subscription types (exclusive, as in Java — mixing them is an
// IllegalStateException): none, auto_topics (subscribe(topics)), auto_pattern
// (subscribe(regex), matched against the cluster's topics), user_assigned
// (assign(partitions)). A pattern is matched here (the classic protocol) or,
// with group.protocol=consumer, by the group coordinator (KIP-848's
// SubscribedTopicRegex): then the subscription is the topics of the
// assignment the coordinator sends (Java's groupSubscribe), for metadata.
//
// Per assigned partition, a fetch state machine:
//
//   INITIALIZING --committed offset found--> FETCHING
//        |                                      ^  |
//        +--no committed offset (reset)--+      |  | OFFSET_OUT_OF_RANGE,
//                                        v      |  v seek_to_beginning/end
//                                      AWAITING_RESET --ListOffsets answer-->
//
// plus `paused` (pause()/resume()) and `pending_revocation` (an eager
// rebalance is about to revoke it: no new fetches, no records returned).
// A partition is fetchable iff FETCHING, not paused, not pending revocation.
//
// Invariants: every position is >= 0; positions change only by consumption
// (the fetcher, after returning records) or by `seek`, and every seek is
// recorded in the History (OpType::seek, with the reason) — so a checker can
// tell a skip or a re-read that the consumer was told to do from one it was not.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <regex>
#include <set>
#include <string>
#include <vector>

#include "engine/check/history.h"
#include "engine/clients/client_runtime.h"
#include "engine/common/types.h"

namespace ksim::clients {

enum class OffsetResetStrategy : uint8_t { none, earliest, latest };
const char* reset_strategy_name(OffsetResetStrategy s);

struct FetchPosition {
  Offset offset{0};
  LeaderEpoch offset_epoch = kNoEpoch;  // epoch of the last consumed record (or committed)
};

enum class FetchState : uint8_t { initializing, fetching, awaiting_reset };

struct PartitionState {
  FetchState state = FetchState::initializing;
  std::optional<FetchPosition> position;
  bool paused = false;
  bool pending_revocation = false;
  OffsetResetStrategy reset_strategy = OffsetResetStrategy::none;
  std::string reset_reason;                // history detail once the reset lands
  sim::Instant next_reset_attempt{0};      // retry backoff of ListOffsets
  bool reset_in_flight = false;
  Offset high_watermark = kNoOffset;
  Offset log_start_offset = kNoOffset;
};

// Who writes the history: the consumer's identity for every op.
struct ConsumerRecorder {
  const ClientContext* ctx = nullptr;
  std::string group_id;
  bool read_committed = false;  // isolation.level, on every op (the checkers judge reads by it)
  std::string group_instance_id;  // a static member's (KIP-345), on every op
  // The op's identity fields; its string views point into this recorder and
  // its context, which outlive the record() call.
  check::OpSpec op(check::OpType type) const;
  void record(const check::OpSpec& op) const;
  bool enabled() const { return ctx && ctx->history; }
};

class SubscriptionState {
 public:
  enum class Type : uint8_t { none, auto_topics, auto_pattern, user_assigned };

  SubscriptionState(OffsetResetStrategy default_reset, ConsumerRecorder recorder)
      : default_reset_(default_reset), recorder_(std::move(recorder)) {}

  Type type() const { return type_; }
  bool has_auto_assigned_partitions() const { return type_ == Type::auto_topics || type_ == Type::auto_pattern; }
  // Returns true if the topic set changed.
  bool subscribe(const std::vector<std::string>& topics);
  // `server_side`: the coordinator resolves it (group.protocol=consumer);
  // nothing is compiled or matched here.
  void subscribe_pattern(const std::string& pattern, bool server_side = false);
  bool server_side_pattern() const { return type_ == Type::auto_pattern && !regex_; }
  // A server-side pattern: the topics the coordinator assigned become the subscription.
  void set_group_subscription(std::set<std::string> topics);
  // Matches the pattern against the cluster's topics; true if the set changed.
  bool update_pattern_subscription(const std::vector<std::string>& cluster_topics);
  // assign(): returns the partitions no longer assigned.
  std::vector<TopicPartition> assign_from_user(const std::vector<TopicPartition>& partitions);
  void unsubscribe();
  const std::set<std::string>& subscription() const { return subscription_; }
  const std::optional<std::string>& pattern() const { return pattern_; }

  // A rebalance's result: keeps the state of partitions that stay.
  void assign_from_subscribed(const std::vector<TopicPartition>& partitions);
  // Every assigned partition's topic is subscribed.
  bool assignment_matches_subscription(const std::vector<TopicPartition>& partitions) const;

  std::vector<TopicPartition> assigned_partitions() const;
  // The same with each partition's state, in partition order, without a copy
  // (valid until the assignment changes; the fetcher walks it every round).
  const std::map<TopicPartition, PartitionState>& assignment() const { return assignment_; }
  // is_fetchable, for a partition's state in hand.
  static bool fetchable(const PartitionState& st);
  bool is_assigned(const TopicPartition& tp) const { return assignment_.count(tp) > 0; }
  PartitionState* state(const TopicPartition& tp);
  const PartitionState* state(const TopicPartition& tp) const;

  // ---- positions ------------------------------------------------------------
  void seek(const TopicPartition& tp, FetchPosition pos, const std::string& reason);
  // Several at once, one history op.
  void seek_all(const std::map<TopicPartition, FetchPosition>& positions, const std::string& reason);
  // Consumption: the fetcher moves the position past returned records (not a seek).
  void advance(const TopicPartition& tp, FetchPosition pos);
  void request_reset(const TopicPartition& tp, OffsetResetStrategy s, const std::string& reason);
  bool has_valid_position(const TopicPartition& tp) const;
  bool is_fetchable(const TopicPartition& tp) const;
  bool has_all_fetch_positions() const;
  std::vector<TopicPartition> initializing_partitions() const;
  // INITIALIZING -> AWAITING_RESET with the default strategy; throws
  // NoOffsetForPartitionException when auto.offset.reset=none.
  void reset_initializing_positions();
  std::vector<TopicPartition> partitions_needing_reset(sim::Instant now) const;
  // Positions of every partition with a valid one (what auto-commit commits).
  std::map<TopicPartition, FetchPosition> all_consumed() const;
  void mark_pending_revocation(const std::vector<TopicPartition>& tps);
  void pause(const std::vector<TopicPartition>& tps, bool paused);
  OffsetResetStrategy default_reset() const { return default_reset_; }

 private:
  Type type_ = Type::none;
  std::set<std::string> subscription_;
  std::optional<std::string> pattern_;
  std::optional<std::regex> regex_;
  std::map<TopicPartition, PartitionState> assignment_;
  OffsetResetStrategy default_reset_;
  ConsumerRecorder recorder_;
};

}  // namespace ksim::clients
