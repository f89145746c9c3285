#include "engine/controller/metadata_record.h"

#include <bit>
#include <sstream>

#include "engine/common/codec.h"

namespace ksim {
namespace {

constexpr uint8_t kVersion = 1;

void opt_i32s(Writer& w, const std::optional<std::vector<int32_t>>& v) {
  w.u8(v ? 1 : 0);
  if (v) w.i32s(*v);
}

std::optional<std::vector<int32_t>> opt_i32s(Reader& r) {
  if (r.u8() == 0) return std::nullopt;
  return r.i32s();
}

struct Encode {
  Writer& w;
  void operator()(const RegisterBrokerRecord& x) {
    w.varint(x.broker_id);
    w.varint(x.broker_epoch);
    w.varint(static_cast<int64_t>(x.incarnation));
    w.u8(x.fenced);
  }
  void operator()(const BrokerRegistrationChangeRecord& x) {
    w.varint(x.broker_id);
    w.varint(x.broker_epoch);
    w.u8(x.fenced ? (*x.fenced ? 2 : 1) : 0);
    w.u8(x.in_controlled_shutdown ? (*x.in_controlled_shutdown ? 2 : 1) : 0);
  }
  void operator()(const TopicRecord& x) {
    w.str(x.name);
    w.varint(x.topic_id);
  }
  void operator()(const PartitionRecord& x) {
    w.varint(x.topic_id);
    w.varint(x.partition);
    w.i32s(x.replicas);
    w.i32s(x.isr);
    w.i32s(x.elr);
    w.i32s(x.last_known_elr);
    w.varint(x.leader);
    w.varint(x.leader_epoch);
    w.varint(x.partition_epoch);
    w.u8(static_cast<uint8_t>(x.leader_recovery_state));
  }
  void operator()(const PartitionChangeRecord& x) {
    w.varint(x.topic_id);
    w.varint(x.partition);
    opt_i32s(w, x.isr);
    opt_i32s(w, x.elr);
    opt_i32s(w, x.last_known_elr);
    opt_i32s(w, x.replicas);
    w.u8(x.leader ? 1 : 0);
    if (x.leader) w.varint(*x.leader);
    w.u8(x.leader_recovery_state ? 1 + static_cast<uint8_t>(*x.leader_recovery_state) : 0);
    w.u8(x.unclean);
  }
  void operator()(const ConfigRecord& x) {
    w.str(x.resource);
    w.str(x.key);
    w.u8(x.value ? 1 : 0);
    if (x.value) w.str(*x.value);
  }
  void operator()(const ProducerIdsRecord& x) {
    w.varint(x.broker_id);
    w.varint(x.broker_epoch);
    w.varint(x.next_producer_id);
  }
  void operator()(const ClientQuotaRecord& x) {
    w.varint(static_cast<int64_t>(x.entity.size()));
    for (const auto& [type, name] : x.entity) {
      w.str(type);
      w.u8(name ? 1 : 0);
      if (name) w.str(*name);
    }
    w.str(x.key);
    w.u8(x.value ? 1 : 0);
    if (x.value) w.varint(std::bit_cast<int64_t>(*x.value));  // the float64's bits, exactly
  }
};

std::optional<bool> tri(uint8_t v) {
  if (v == 0) return std::nullopt;
  return v == 2;
}

MetadataRecord decode_one(uint8_t type, Reader& r) {
  switch (type) {
    case 0: {
      RegisterBrokerRecord x;
      x.broker_id = static_cast<int32_t>(r.varint());
      x.broker_epoch = r.varint();
      x.incarnation = static_cast<uint64_t>(r.varint());
      x.fenced = r.u8() != 0;
      return x;
    }
    case 1: {
      BrokerRegistrationChangeRecord x;
      x.broker_id = static_cast<int32_t>(r.varint());
      x.broker_epoch = r.varint();
      x.fenced = tri(r.u8());
      x.in_controlled_shutdown = tri(r.u8());
      return x;
    }
    case 2: {
      TopicRecord x;
      x.name = r.str();
      x.topic_id = r.varint();
      return x;
    }
    case 3: {
      PartitionRecord x;
      x.topic_id = r.varint();
      x.partition = static_cast<int32_t>(r.varint());
      x.replicas = r.i32s();
      x.isr = r.i32s();
      x.elr = r.i32s();
      x.last_known_elr = r.i32s();
      x.leader = static_cast<int32_t>(r.varint());
      x.leader_epoch = static_cast<int32_t>(r.varint());
      x.partition_epoch = static_cast<int32_t>(r.varint());
      x.leader_recovery_state = static_cast<LeaderRecoveryState>(r.u8() & 1);
      return x;
    }
    case 4: {
      PartitionChangeRecord x;
      x.topic_id = r.varint();
      x.partition = static_cast<int32_t>(r.varint());
      x.isr = opt_i32s(r);
      x.elr = opt_i32s(r);
      x.last_known_elr = opt_i32s(r);
      x.replicas = opt_i32s(r);
      if (r.u8()) x.leader = static_cast<int32_t>(r.varint());
      if (const uint8_t s = r.u8()) x.leader_recovery_state = static_cast<LeaderRecoveryState>((s - 1) & 1);
      x.unclean = r.u8() != 0;
      return x;
    }
    case 6: {
      ProducerIdsRecord x;
      x.broker_id = static_cast<int32_t>(r.varint());
      x.broker_epoch = r.varint();
      x.next_producer_id = r.varint();
      return x;
    }
    case 7: {
      ClientQuotaRecord x;
      const int64_t n = r.varint();
      for (int64_t i = 0; i < n && i < 16 && r.ok(); ++i) {
        std::string entity_type = r.str();
        std::optional<std::string> name;
        if (r.u8()) name = r.str();
        x.entity[std::move(entity_type)] = std::move(name);
      }
      x.key = r.str();
      if (r.u8()) x.value = std::bit_cast<double>(r.varint());
      return x;
    }
    default: {
      ConfigRecord x;
      x.resource = r.str();
      x.key = r.str();
      if (r.u8()) x.value = r.str();
      return x;
    }
  }
}

std::string list(const std::vector<int32_t>& v) {
  std::string s = "[";
  for (size_t i = 0; i < v.size(); ++i) s += (i ? "," : "") + std::to_string(v[i]);
  return s + "]";
}

}  // namespace

std::string encode_records(const std::vector<MetadataRecord>& records) {
  Writer w;
  w.u8(kVersion);
  w.varint(static_cast<int64_t>(records.size()));
  for (const MetadataRecord& rec : records) {
    w.u8(static_cast<uint8_t>(rec.index()));
    std::visit(Encode{w}, rec);
  }
  return w.take();
}

std::optional<std::vector<MetadataRecord>> decode_records(std::string_view bytes) {
  Reader r(bytes);
  if (r.u8() != kVersion) return std::nullopt;
  const int64_t n = r.varint();
  if (!r.ok() || n < 0 || n > 1'000'000) return std::nullopt;
  std::vector<MetadataRecord> out;
  for (int64_t i = 0; i < n; ++i) {
    const uint8_t type = r.u8();
    if (type > 7) return std::nullopt;
    out.push_back(decode_one(type, r));
    if (!r.ok()) return std::nullopt;
  }
  if (!r.done()) return std::nullopt;
  return out;
}

std::string describe(const MetadataRecord& rec) {
  std::ostringstream os;
  std::visit(
      [&](const auto& x) {
        using T = std::decay_t<decltype(x)>;
        if constexpr (std::is_same_v<T, RegisterBrokerRecord>) {
          os << "RegisterBroker(id=" << x.broker_id << ", epoch=" << x.broker_epoch << ", fenced=" << x.fenced << ")";
        } else if constexpr (std::is_same_v<T, BrokerRegistrationChangeRecord>) {
          os << "BrokerRegistrationChange(id=" << x.broker_id << ", epoch=" << x.broker_epoch;
          if (x.fenced) os << ", fenced=" << *x.fenced;
          if (x.in_controlled_shutdown) os << ", in_controlled_shutdown=" << *x.in_controlled_shutdown;
          os << ")";
        } else if constexpr (std::is_same_v<T, TopicRecord>) {
          os << "Topic(" << x.name << ", id=" << x.topic_id << ")";
        } else if constexpr (std::is_same_v<T, PartitionRecord>) {
          os << "Partition(topic=" << x.topic_id << ", p=" << x.partition << ", replicas=" << list(x.replicas)
             << ", isr=" << list(x.isr) << ", leader=" << x.leader << ", epoch=" << x.leader_epoch << ")";
        } else if constexpr (std::is_same_v<T, PartitionChangeRecord>) {
          os << "PartitionChange(topic=" << x.topic_id << ", p=" << x.partition;
          if (x.leader) os << ", leader=" << *x.leader;
          if (x.isr) os << ", isr=" << list(*x.isr);
          if (x.elr) os << ", elr=" << list(*x.elr);
          if (x.unclean) os << ", UNCLEAN";
          os << ")";
        } else if constexpr (std::is_same_v<T, ProducerIdsRecord>) {
          os << "ProducerIds(broker=" << x.broker_id << ", epoch=" << x.broker_epoch
             << ", next=" << x.next_producer_id << ")";
        } else if constexpr (std::is_same_v<T, ClientQuotaRecord>) {
          os << "ClientQuota(";
          bool first = true;
          for (const auto& [type, name] : x.entity) {
            os << (first ? "" : ",") << type << "=" << (name ? *name : "<default>");
            first = false;
          }
          os << ", " << x.key << "=";
          if (x.value)
            os << *x.value;
          else
            os << "<removed>";
          os << ")";
        } else {
          os << "Config(" << x.resource << ", " << x.key << "=" << (x.value ? *x.value : "<deleted>") << ")";
        }
      },
      rec);
  return os.str();
}

}  // namespace ksim
