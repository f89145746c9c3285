#include "engine/coordinator/group_records.h"

#include "engine/common/codec.h"

namespace ksim::coordinator {
namespace {

constexpr uint8_t kOffsetKeyVersion = 1;
constexpr uint8_t kGroupKeyVersion = 2;
constexpr uint8_t kConsumerGroupKeyVersion = 3;
constexpr uint8_t kValueVersion = 0;

void opt_str(Writer& w, const std::optional<std::string>& s) {
  w.u8(s ? 1 : 0);
  if (s) w.str(*s);
}
std::optional<std::string> opt_str(Reader& r) {
  if (r.u8() == 0) return std::nullopt;
  return r.str();
}

void tps(Writer& w, const std::vector<TopicPartition>& v) {
  w.varint(static_cast<int64_t>(v.size()));
  for (const TopicPartition& tp : v) {
    w.str(tp.topic);
    w.varint(tp.partition);
  }
}
std::vector<TopicPartition> tps(Reader& r) {
  std::vector<TopicPartition> out;
  const int64_t n = r.varint();
  for (int64_t i = 0; i < n && r.ok() && n <= 1'000'000; ++i) {
    TopicPartition tp;
    tp.topic = r.str();
    tp.partition = static_cast<int32_t>(r.varint());
    out.push_back(std::move(tp));
  }
  return out;
}

}  // namespace

std::string encode_key(const RecordKey& k) {
  Writer w;
  if (const auto* o = std::get_if<OffsetCommitKey>(&k)) {
    w.u8(kOffsetKeyVersion);
    w.str(o->group);
    w.str(o->tp.topic);
    w.varint(o->tp.partition);
  } else if (const auto* c = std::get_if<ConsumerGroupKey>(&k)) {
    w.u8(kConsumerGroupKeyVersion);
    w.str(c->group);
  } else {
    w.u8(kGroupKeyVersion);
    w.str(std::get<GroupMetadataKey>(k).group);
  }
  return w.take();
}

std::string encode_offset_value(const OffsetAndMetadata& v) {
  Writer w;
  w.u8(kValueVersion);
  w.varint(v.offset.value);
  w.varint(v.leader_epoch.value);
  w.str(v.metadata);
  w.varint(v.commit_timestamp_ms);
  return w.take();
}

std::string encode_group_value(const GroupMetadataValue& v) {
  Writer w;
  w.u8(kValueVersion);
  w.str(v.protocol_type);
  w.varint(v.generation);
  opt_str(w, v.protocol);
  opt_str(w, v.leader);
  w.varint(v.current_state_timestamp_ms);
  w.varint(static_cast<int64_t>(v.members.size()));
  for (const MemberRecord& m : v.members) {
    w.str(m.member_id);
    opt_str(w, m.group_instance_id);
    w.str(m.client_id);
    w.varint(m.client_node);
    w.varint(m.rebalance_timeout_ms);
    w.varint(m.session_timeout_ms);
    w.str(m.subscription);
    w.str(m.assignment);
  }
  return w.take();
}

std::optional<RecordKey> decode_key(std::string_view bytes) {
  Reader r(bytes);
  const uint8_t version = r.u8();
  RecordKey out;
  if (version == kOffsetKeyVersion) {
    OffsetCommitKey k;
    k.group = r.str();
    k.tp.topic = r.str();
    k.tp.partition = static_cast<int32_t>(r.varint());
    out = std::move(k);
  } else if (version == kGroupKeyVersion) {
    out = GroupMetadataKey{r.str()};
  } else if (version == kConsumerGroupKeyVersion) {
    out = ConsumerGroupKey{r.str()};
  } else {
    return std::nullopt;
  }
  if (!r.ok() || !r.done()) return std::nullopt;
  return out;
}

std::optional<OffsetAndMetadata> decode_offset_value(std::string_view bytes) {
  Reader r(bytes);
  if (r.u8() != kValueVersion) return std::nullopt;
  OffsetAndMetadata v;
  v.offset = Offset{r.varint()};
  v.leader_epoch = LeaderEpoch{static_cast<int32_t>(r.varint())};
  v.metadata = r.str();
  v.commit_timestamp_ms = r.varint();
  if (!r.ok() || !r.done()) return std::nullopt;
  return v;
}

std::optional<GroupMetadataValue> decode_group_value(std::string_view bytes) {
  Reader r(bytes);
  if (r.u8() != kValueVersion) return std::nullopt;
  GroupMetadataValue v;
  v.protocol_type = r.str();
  v.generation = static_cast<int32_t>(r.varint());
  v.protocol = opt_str(r);
  v.leader = opt_str(r);
  v.current_state_timestamp_ms = r.varint();
  const int64_t n = r.varint();
  if (!r.ok() || n < 0 || n > 1'000'000) return std::nullopt;
  for (int64_t i = 0; i < n && r.ok(); ++i) {
    MemberRecord m;
    m.member_id = r.str();
    m.group_instance_id = opt_str(r);
    m.client_id = r.str();
    m.client_node = static_cast<int32_t>(r.varint());
    m.rebalance_timeout_ms = static_cast<int32_t>(r.varint());
    m.session_timeout_ms = static_cast<int32_t>(r.varint());
    m.subscription = r.str();
    m.assignment = r.str();
    v.members.push_back(std::move(m));
  }
  if (!r.ok() || !r.done()) return std::nullopt;
  return v;
}

std::string encode_consumer_group_value(const ConsumerGroupValue& v) {
  Writer w;
  w.u8(kValueVersion);
  w.varint(v.group_epoch);
  w.varint(v.assignment_epoch);
  w.varint(static_cast<int64_t>(v.members.size()));
  for (const ConsumerMemberRecord& m : v.members) {
    w.str(m.member_id);
    opt_str(w, m.instance_id);
    w.str(m.client_id);
    w.varint(m.client_node);
    w.varint(m.member_epoch);
    w.varint(m.previous_member_epoch);
    w.u8(m.state);
    w.varint(m.rebalance_timeout_ms);
    w.varint(static_cast<int64_t>(m.subscribed_topics.size()));
    for (const std::string& t : m.subscribed_topics) w.str(t);
    w.str(m.subscribed_topic_regex);
    w.str(m.server_assignor);
    tps(w, m.assigned);
    tps(w, m.pending_revocation);
    tps(w, m.target);
    w.u8(m.classic ? 1 : 0);
    if (m.classic) {
      w.varint(m.classic_session_timeout_ms);
      w.varint(static_cast<int64_t>(m.classic_protocols.size()));
      for (const auto& [name, metadata] : m.classic_protocols) {
        w.str(name);
        w.str(metadata);
      }
    }
  }
  w.varint(static_cast<int64_t>(v.subscription_metadata.size()));
  for (const auto& [topic, n] : v.subscription_metadata) {
    w.str(topic);
    w.varint(n);
  }
  w.varint(static_cast<int64_t>(v.resolved_regexes.size()));
  for (const auto& [regex, topics] : v.resolved_regexes) {
    w.str(regex);
    w.varint(static_cast<int64_t>(topics.size()));
    for (const std::string& t : topics) w.str(t);
  }
  w.varint(v.last_regex_refresh_ms);
  return w.take();
}

std::optional<ConsumerGroupValue> decode_consumer_group_value(std::string_view bytes) {
  Reader r(bytes);
  if (r.u8() != kValueVersion) return std::nullopt;
  ConsumerGroupValue v;
  v.group_epoch = static_cast<int32_t>(r.varint());
  v.assignment_epoch = static_cast<int32_t>(r.varint());
  const int64_t n = r.varint();
  if (!r.ok() || n < 0 || n > 1'000'000) return std::nullopt;
  for (int64_t i = 0; i < n && r.ok(); ++i) {
    ConsumerMemberRecord m;
    m.member_id = r.str();
    m.instance_id = opt_str(r);
    m.client_id = r.str();
    m.client_node = static_cast<int32_t>(r.varint());
    m.member_epoch = static_cast<int32_t>(r.varint());
    m.previous_member_epoch = static_cast<int32_t>(r.varint());
    m.state = r.u8();
    m.rebalance_timeout_ms = static_cast<int32_t>(r.varint());
    const int64_t topics = r.varint();
    for (int64_t t = 0; t < topics && r.ok() && topics <= 1'000'000; ++t) m.subscribed_topics.push_back(r.str());
    m.subscribed_topic_regex = r.str();
    m.server_assignor = r.str();
    m.assigned = tps(r);
    m.pending_revocation = tps(r);
    m.target = tps(r);
    m.classic = r.u8() == 1;
    if (m.classic) {
      m.classic_session_timeout_ms = static_cast<int32_t>(r.varint());
      const int64_t protocols = r.varint();
      for (int64_t p = 0; p < protocols && r.ok() && protocols <= 1'000; ++p) {
        std::string name = r.str();
        std::string metadata = r.str();
        m.classic_protocols.emplace_back(std::move(name), std::move(metadata));
      }
    }
    v.members.push_back(std::move(m));
  }
  const int64_t topics = r.varint();
  for (int64_t t = 0; t < topics && r.ok() && topics <= 1'000'000; ++t) {
    std::string name = r.str();
    const int32_t count = static_cast<int32_t>(r.varint());
    v.subscription_metadata.emplace_back(std::move(name), count);
  }
  const int64_t regexes = r.varint();
  for (int64_t i = 0; i < regexes && r.ok() && regexes <= 1'000'000; ++i) {
    std::string regex = r.str();
    const int64_t count = r.varint();
    std::vector<std::string> resolved;
    for (int64_t t = 0; t < count && r.ok() && count <= 1'000'000; ++t) resolved.push_back(r.str());
    v.resolved_regexes.emplace_back(std::move(regex), std::move(resolved));
  }
  v.last_regex_refresh_ms = r.varint();
  if (!r.ok() || !r.done()) return std::nullopt;
  return v;
}

}  // namespace ksim::coordinator
