// TopicName: a topic's name, interned. Copying one copies a pointer.
//
// Why: TopicPartition is the key of every per-partition map and travels in
// every Fetch and Produce request and response. As a std::string, each copy
// of "__consumer_offsets" (18 characters, past the small-string buffer)
// allocated: copies of TopicPartition were a third of all allocations of a
// 1,000 records/s run, and every map lookup compared the name byte by byte.
//
// Each distinct name is stored once, for the life of the process, in a
// table shared by every simulation (names are few; the table is guarded by
// a mutex, taken only when a name is built from text, never on copy).
// Ordering is by the text, exactly as std::string orders (so every ordered
// map and every output keeps its order); equality is identity of the
// interned entry, which is equivalent because interning is canonical. The
// entry keeps the text's hash for hash indexes.
#pragma once

#include <compare>
#include <cstddef>
#include <ostream>
#include <string>
#include <string_view>

namespace ksim {

class TopicName {
 public:
  // A default-constructed TopicPartition (every response entry starts as
  // one) takes no lock: the empty name is looked up once, and the guard of
  // that one lookup is a load and a branch, inline.
  TopicName() : entry_(empty_entry()) {}
  TopicName(std::string_view text);  // NOLINT: a name is built from text wherever a string was
  TopicName(const std::string& text) : TopicName(std::string_view(text)) {}  // NOLINT
  TopicName(const char* text) : TopicName(std::string_view(text)) {}          // NOLINT

  const std::string& str() const { return entry_->text; }
  operator const std::string&() const { return entry_->text; }  // NOLINT: reads like the string it was
  operator std::string_view() const { return entry_->text; }    // NOLINT
  const char* c_str() const { return entry_->text.c_str(); }
  const char* data() const { return entry_->text.data(); }
  size_t size() const { return entry_->text.size(); }
  size_t length() const { return entry_->text.size(); }
  bool empty() const { return entry_->text.empty(); }
  auto begin() const { return entry_->text.begin(); }
  auto end() const { return entry_->text.end(); }
  char operator[](size_t i) const { return entry_->text[i]; }
  bool starts_with(std::string_view p) const { return entry_->text.starts_with(p); }
  size_t hash() const { return entry_->hash; }

  friend bool operator==(const TopicName& a, const TopicName& b) { return a.entry_ == b.entry_; }
  friend std::strong_ordering operator<=>(const TopicName& a, const TopicName& b) {
    if (a.entry_ == b.entry_) return std::strong_ordering::equal;
    return a.entry_->text.compare(b.entry_->text) <=> 0;
  }
  friend bool operator==(const TopicName& a, std::string_view b) { return a.entry_->text == b; }
  friend bool operator==(const TopicName& a, const std::string& b) { return a.entry_->text == b; }
  friend bool operator==(const TopicName& a, const char* b) { return a.entry_->text == b; }
  friend std::string operator+(const TopicName& a, std::string_view b) { return a.entry_->text + std::string(b); }
  friend std::string operator+(const TopicName& a, const char* b) { return a.entry_->text + b; }
  friend std::string operator+(const TopicName& a, const std::string& b) { return a.entry_->text + b; }
  friend std::string operator+(std::string_view a, const TopicName& b) { return std::string(a) + b.entry_->text; }
  friend std::string operator+(const char* a, const TopicName& b) { return a + b.entry_->text; }
  friend std::string operator+(const std::string& a, const TopicName& b) { return a + b.entry_->text; }
  friend std::ostream& operator<<(std::ostream& os, const TopicName& t) { return os << t.entry_->text; }

  // An interned name (public only for the table in topic_name.cc).
  struct Entry {
    std::string text;
    size_t hash = 0;
  };

 private:
  static const Entry* intern(std::string_view text);
  static const Entry* empty_entry() {
    static const Entry* const empty = intern("");
    return empty;
  }
  const Entry* entry_;
};

}  // namespace ksim

template <>
struct std::hash<ksim::TopicName> {
  size_t operator()(const ksim::TopicName& t) const noexcept { return t.hash(); }
};
