#include "engine/common/topic_name.h"

#include <deque>
#include <functional>
#include <mutex>
#include <unordered_map>

namespace ksim {
namespace {

// Process-wide and never shrinking: a name interned once stays valid for
// every TopicName that points at it. Lookup only (never iterated), so the
// hash order cannot reach a run.
struct Table {
  std::mutex mu;
  std::deque<TopicName::Entry> entries;  // a deque keeps their addresses
  std::unordered_map<std::string_view, const TopicName::Entry*> by_text;
};

Table& table() {
  static Table* t = new Table();  // never destroyed: TopicNames may outlive static destruction
  return *t;
}

}  // namespace

const TopicName::Entry* TopicName::intern(std::string_view text) {
  Table& t = table();
  std::lock_guard<std::mutex> lock(t.mu);
  if (auto it = t.by_text.find(text); it != t.by_text.end()) return it->second;
  t.entries.push_back(Entry{std::string(text), std::hash<std::string_view>{}(text)});
  const Entry* e = &t.entries.back();
  t.by_text.emplace(std::string_view(e->text), e);
  return e;
}

TopicName::TopicName(std::string_view text) : entry_(intern(text)) {}

}  // namespace ksim
