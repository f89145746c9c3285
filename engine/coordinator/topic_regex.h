// TopicRegex: a consumer group member's subscribed topic regular expression
// (KIP-848's SubscribedTopicRegex), compiled and resolved by the group
// coordinator — Kafka's GroupMetadataManager.refreshRegularExpressions and
// Utils.throwIfRegularExpressionIsInvalid.
//
// Why a class of its own: the same pattern is validated at the heartbeat
// that brings it (INVALID_REGULAR_EXPRESSION), resolved against the metadata
// image's topics whenever the group refreshes its regexes, and its result
// decides whether the group epoch moves. The matching must be deterministic
// and whole-name (Kafka's `matcher(topic).matches()`): std::regex
// ECMAScript with regex_match. Kafka compiles with RE2J, whose syntax differs
// in corners (no backreferences or lookaround in RE2J; ECMAScript has them;
// RE2J's (?i) / \p{..} are not ECMAScript) — README.md, differences.
// Internal topics (__consumer_offsets, __transaction_state) never match, as
// Kafka skips them when it resolves a regex.
#pragma once

#include <optional>
#include <regex>
#include <set>
#include <string>
#include <vector>

namespace ksim::coordinator {

// Kafka 4.0's REGEX_BATCH_REFRESH_INTERVAL_MS (hard-coded there too): the
// regexes of a group are resolved again at most this often, at a heartbeat.
inline constexpr int64_t kRegexBatchRefreshIntervalMs = 10'000;

class TopicRegex {
 public:
  // nullopt and `*error` set when `pattern` does not compile (or is empty).
  static std::optional<TopicRegex> compile(const std::string& pattern, std::string* error);

  const std::string& pattern() const { return pattern_; }
  // Whether a topic name matches as a whole (internal topics never do).
  bool matches(const std::string& topic) const;
  // The matching topics among `topics` (sorted).
  std::set<std::string> resolve(const std::vector<std::string>& topics) const;

 private:
  TopicRegex(std::string pattern, std::regex re) : pattern_(std::move(pattern)), re_(std::move(re)) {}
  std::string pattern_;
  std::regex re_;
};

// Kafka's Topic.isInternal.
bool is_internal_topic(const std::string& topic);

}  // namespace ksim::coordinator
