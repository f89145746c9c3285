#include "engine/clients/consumer_protocol.h"

#include <algorithm>
#include <map>

#include "engine/common/codec.h"

namespace ksim::clients {
namespace {

// Partitions grouped by topic, as Kafka's schema does: topic, [partition].
void write_partitions(Writer& w, std::vector<TopicPartition> tps) {
  std::sort(tps.begin(), tps.end());
  std::map<std::string, std::vector<int32_t>> by_topic;
  for (const TopicPartition& tp : tps) by_topic[tp.topic].push_back(tp.partition);
  w.varint(static_cast<int64_t>(by_topic.size()));
  for (const auto& [topic, parts] : by_topic) {
    w.str(topic);
    w.i32s(parts);
  }
}

// nullopt on a malformed count (the Reader itself catches short input).
std::optional<std::vector<TopicPartition>> read_partitions(Reader& r) {
  std::vector<TopicPartition> out;
  const int64_t n = r.varint();
  if (!r.ok() || n < 0 || n > 1'000'000) return std::nullopt;
  for (int64_t i = 0; i < n && r.ok(); ++i) {
    std::string topic = r.str();
    for (int32_t p : r.i32s()) out.push_back({topic, p});
  }
  if (!r.ok()) return std::nullopt;
  return out;
}

}  // namespace

std::string encode_subscription(const Subscription& s) {
  Writer w;
  w.varint(kConsumerProtocolVersion);
  std::vector<std::string> topics = s.topics;
  std::sort(topics.begin(), topics.end());
  w.varint(static_cast<int64_t>(topics.size()));
  for (const std::string& t : topics) w.str(t);
  w.str(s.user_data);
  write_partitions(w, s.owned_partitions);
  w.varint(s.generation_id);
  w.str(s.rack_id);
  return w.take();
}

std::optional<Subscription> decode_subscription(const std::string& bytes) {
  Reader r(bytes);
  Subscription s;
  const int64_t version = r.varint();
  if (!r.ok() || version < 0) return std::nullopt;
  const int64_t n = r.varint();
  if (!r.ok() || n < 0 || n > 1'000'000) return std::nullopt;
  for (int64_t i = 0; i < n && r.ok(); ++i) s.topics.push_back(r.str());
  s.user_data = r.str();
  auto owned = read_partitions(r);
  if (!owned) return std::nullopt;
  s.owned_partitions = std::move(*owned);
  s.generation_id = static_cast<int32_t>(r.varint());
  s.rack_id = r.str();
  if (!r.ok() || !r.done()) return std::nullopt;
  return s;
}

std::string encode_assignment(const Assignment& a) {
  Writer w;
  w.varint(kConsumerProtocolVersion);
  write_partitions(w, a.partitions);
  w.str(a.user_data);
  return w.take();
}

std::optional<Assignment> decode_assignment(const std::string& bytes) {
  Reader r(bytes);
  Assignment a;
  const int64_t version = r.varint();
  if (!r.ok() || version < 0) return std::nullopt;
  auto parts = read_partitions(r);
  if (!parts) return std::nullopt;
  a.partitions = std::move(*parts);
  a.user_data = r.str();
  if (!r.ok() || !r.done()) return std::nullopt;
  return a;
}

std::string encode_partitions(const std::vector<TopicPartition>& tps) {
  Writer w;
  write_partitions(w, tps);
  return w.take();
}

std::optional<std::vector<TopicPartition>> decode_partitions(const std::string& bytes) {
  Reader r(bytes);
  auto out = read_partitions(r);
  if (!out || !r.ok() || !r.done()) return std::nullopt;
  return out;
}

std::string partitions_str(const std::vector<TopicPartition>& tps) {
  std::string s;
  for (const TopicPartition& tp : tps) s += (s.empty() ? "" : ", ") + tp.str();
  return s;
}

}  // namespace ksim::clients
