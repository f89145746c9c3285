#include "engine/coordinator/topic_regex.h"

#include "engine/coordinator/coordinator_lookup.h"

namespace ksim::coordinator {

std::optional<TopicRegex> TopicRegex::compile(const std::string& pattern, std::string* error) {
  if (pattern.empty()) {
    if (error) *error = "SubscribedTopicRegex must not be empty";
    return std::nullopt;
  }
  try {
    return TopicRegex(pattern, std::regex(pattern, std::regex::ECMAScript));
  } catch (const std::regex_error& e) {
    if (error) *error = "SubscribedTopicRegex `" + pattern + "` is not a valid regular expression: " + e.what();
    return std::nullopt;
  }
}

bool TopicRegex::matches(const std::string& topic) const {
  return !is_internal_topic(topic) && std::regex_match(topic, re_);
}

std::set<std::string> TopicRegex::resolve(const std::vector<std::string>& topics) const {
  std::set<std::string> out;
  for (const std::string& t : topics)
    if (matches(t)) out.insert(t);
  return out;
}

bool is_internal_topic(const std::string& topic) {
  return topic == kGroupMetadataTopic || topic == kTransactionStateTopic;
}

}  // namespace ksim::coordinator
