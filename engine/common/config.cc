#include "engine/common/config.h"

#include <algorithm>
#include <charconv>
#include <cstdint>
#include <sstream>

namespace ksim {
namespace {

std::string scope_name(ConfigScope s) {
  switch (s) {
    case kBroker: return "broker";
    case kTopic: return "topic";
    case kProducer: return "producer";
    case kConsumer: return "consumer";
  }
  return "?";
}

[[noreturn]] void invalid(const std::string& key, const std::string& value, const std::string& why) {
  throw ConfigError(key, "Invalid value " + value + " for configuration " + key + ": " + why);
}

bool parse_long(std::string_view s, int64_t& out) {
  const char* b = s.data();
  const char* e = s.data() + s.size();
  auto r = std::from_chars(b, e, out);
  return r.ec == std::errc() && r.ptr == e;
}

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// Checks one value against its definition; returns it normalised.
std::string validate(const ConfigDef& d, const std::string& value) {
  switch (d.type) {
    case ConfigType::boolean: {
      const std::string v = lower(value);
      if (v != "true" && v != "false") invalid(d.name, value, "Expected value to be either true or false");
      return v;
    }
    case ConfigType::int32:
    case ConfigType::int64: {
      int64_t v = 0;
      if (!parse_long(value, v)) invalid(d.name, value, "Not a number of type " + std::string(d.type == ConfigType::int32 ? "INT" : "LONG"));
      if (d.type == ConfigType::int32 && (v < -2147483648LL || v > 2147483647LL))
        invalid(d.name, value, "Not a number of type INT");
      if (d.min && v < *d.min) invalid(d.name, value, "Value must be at least " + std::to_string(*d.min));
      if (d.max && v > *d.max) invalid(d.name, value, "Value must be no more than " + std::to_string(*d.max));
      return value;
    }
    case ConfigType::float64: {
      std::istringstream is(value);
      double x = 0;
      if (!(is >> x) || !is.eof()) invalid(d.name, value, "Not a number of type DOUBLE");
      if (d.min && x < static_cast<double>(*d.min)) invalid(d.name, value, "Value must be at least " + std::to_string(*d.min));
      if (d.max && x > static_cast<double>(*d.max)) invalid(d.name, value, "Value must be no more than " + std::to_string(*d.max));
      return value;
    }
    case ConfigType::string:
    case ConfigType::list:
      break;
  }
  if (!d.valid_values.empty()) {
    auto items = d.type == ConfigType::list ? std::vector<std::string>{} : std::vector<std::string>{value};
    if (d.type == ConfigType::list) {
      std::string item;
      std::istringstream is(value);
      while (std::getline(is, item, ',')) {  // Kafka's lists trim each item
        const size_t b = item.find_first_not_of(' ');
        items.push_back(b == std::string::npos ? "" : item.substr(b, item.find_last_not_of(' ') - b + 1));
      }
    }
    for (const std::string& it : items) {
      bool ok = false;
      for (const std::string& v : d.valid_values) ok = ok || v == it;
      if (!ok) {
        std::string allowed;
        for (const std::string& v : d.valid_values) allowed += (allowed.empty() ? "" : ", ") + v;
        invalid(d.name, value, "String must be one of: " + allowed);
      }
    }
  }
  return value;
}

}  // namespace

// Cross-key rules, as Kafka's ProducerConfig / ConsumerConfig apply them.
void post_process(Config& c) {
  if (c.scope() == kProducer) {
    const bool idem_explicit = c.explicitly_set("enable.idempotence");
    const bool idem = c.get_bool("enable.idempotence");
    const std::string acks = c.get_string("acks") == "-1" ? "all" : c.get_string("acks");
    const bool transactional = !c.is_null("transactional.id");
    if (idem) {
      // KIP-679: idempotence is on by default, but a default-on idempotence
      // quietly turns off when the user asked for something it cannot honour.
      const char* conflict = nullptr;
      std::string key;
      if (acks != "all") {
        conflict = "Must set acks to all in order to use the idempotent producer. Otherwise we cannot guarantee idempotence.";
        key = "acks";
      } else if (c.get_int("max.in.flight.requests.per.connection") > 5) {
        conflict = "Must set max.in.flight.requests.per.connection to at most 5 when using the idempotent producer.";
        key = "max.in.flight.requests.per.connection";
      } else if (c.get_int("retries") == 0) {
        conflict = "Must set retries to non-zero when using the idempotent producer.";
        key = "retries";
      }
      if (conflict && (idem_explicit || transactional)) throw ConfigError(key, conflict);
      if (conflict) c.set("enable.idempotence", "false");
    }
    if (transactional && !c.get_bool("enable.idempotence"))
      throw ConfigError("enable.idempotence", "Cannot set a transactional.id without also enabling idempotence.");
    const int64_t delivery = c.get_long("delivery.timeout.ms");
    // Kafka's configureDeliveryTimeout: (int) min((long) linger.ms + request.timeout.ms, Integer.MAX_VALUE)
    // — delivery.timeout.ms is an INT, so the raised value must stay one.
    const int64_t floor = std::min<int64_t>(c.get_long("linger.ms") + c.get_long("request.timeout.ms"), INT32_MAX);
    if (delivery < floor) {
      if (c.explicitly_set("delivery.timeout.ms"))
        throw ConfigError("delivery.timeout.ms", "delivery.timeout.ms should be equal to or larger than linger.ms + request.timeout.ms");
      c.set("delivery.timeout.ms", std::to_string(floor));
    }
  }
  if (c.scope() == kConsumer) {
    if (!c.is_null("group.instance.id") && c.is_null("group.id"))
      throw ConfigError("group.instance.id", "group.instance.id requires group.id");
    if (c.get_bool("enable.auto.commit") && c.explicitly_set("enable.auto.commit") && c.is_null("group.id"))
      throw ConfigError("enable.auto.commit", "Invalid value true for configuration enable.auto.commit: "
                                              "enable.auto.commit cannot be set to true when default group id (null) is used.");
    if (c.is_null("group.id") && !c.explicitly_set("enable.auto.commit")) c.set("enable.auto.commit", "false");
    // KIP-848: the consumer protocol moves assignment and liveness to the
    // broker; Kafka's consumer refuses the classic-only knobs with it.
    if (c.get_string("group.protocol") == "consumer") {
      for (const char* key : {"partition.assignment.strategy", "session.timeout.ms", "heartbeat.interval.ms"})
        if (c.explicitly_set(key))
          throw ConfigError(key, std::string(key) + " is not supported when group.protocol is consumer "
                                 "(the broker assigns partitions and sets the heartbeat interval and session timeout)");
    } else if (c.explicitly_set("group.remote.assignor")) {
      throw ConfigError("group.remote.assignor", "group.remote.assignor is only supported when group.protocol is consumer");
    }
    static const std::map<std::string, std::string> kAssignorAliases = {
        {"org.apache.kafka.clients.consumer.RangeAssignor", "range"},
        {"org.apache.kafka.clients.consumer.RoundRobinAssignor", "roundrobin"},
        {"org.apache.kafka.clients.consumer.StickyAssignor", "sticky"},
        {"org.apache.kafka.clients.consumer.CooperativeStickyAssignor", "cooperative-sticky"},
        {"range", "range"}, {"roundrobin", "roundrobin"}, {"sticky", "sticky"}, {"cooperative-sticky", "cooperative-sticky"}};
    std::string normalised;
    for (const std::string& a : c.get_list("partition.assignment.strategy")) {
      auto it = kAssignorAliases.find(a);
      if (it == kAssignorAliases.end())
        invalid("partition.assignment.strategy", a, "Unknown assignor (range, roundrobin, sticky, cooperative-sticky)");
      normalised += (normalised.empty() ? "" : ",") + it->second;
    }
    if (normalised.empty()) invalid("partition.assignment.strategy", "\"\"", "At least one assignor is required");
    c.set("partition.assignment.strategy", normalised);
  }
  if (c.scope() == kBroker) {
    const std::vector<std::string> assignors = c.get_list("group.consumer.assignors");
    if (assignors.empty()) invalid("group.consumer.assignors", "\"\"", "At least one assignor is required");
    for (const std::string& a : assignors)
      if (a != "uniform" && a != "range") invalid("group.consumer.assignors", a, "Unknown assignor (uniform, range)");
  }
  if (c.scope() == kBroker || c.scope() == kTopic) {
    if (c.scope() == kBroker && c.get_long("broker.heartbeat.interval.ms") >= c.get_long("broker.session.timeout.ms"))
      throw ConfigError("broker.heartbeat.interval.ms",
                        "broker.heartbeat.interval.ms must be less than broker.session.timeout.ms");
  }
}

Config Config::parse(ConfigScope scope, const Map& user, const Config* parent) {
  Config c;
  c.scope_ = scope;
  for (const auto& [key, value] : user) {
    const ConfigDef* d = find_config(key);
    if (!d) {
      if (key.starts_with("ksim."))
        throw ConfigError(key, "Unknown ksim configuration '" + key + "' (ksim's own keys: ksim.truncation.mode, "
                               "ksim.offsets.for.leader.epoch, ksim.fetch.leader.epoch.validation, "
                               "ksim.hw.includes.pending.isr, ksim.eligible.leader.replicas, "
                               "ksim.group.generation.fencing, ksim.transaction.protocol)");
      throw ConfigError(key, "Unknown configuration '" + key + "' for a " + scope_name(scope));
    }
    if (!(d->scopes & scope))
      throw ConfigError(key, "'" + key + "' is not a " + scope_name(scope) + " configuration");
    c.values_[key] = validate(*d, value);
    c.user_keys_[key] = true;
  }
  for (const auto& [key, d] : config_defs()) {
    if (!(d.scopes & scope) || c.values_.contains(key)) continue;
    std::optional<std::string> v = d.default_value;
    if (scope == kTopic && d.topic_default) v = d.topic_default;
    if (scope == kTopic && parent && !d.broker_synonym.empty() && parent->has(d.broker_synonym))
      v = parent->raw(d.broker_synonym);
    c.values_[key] = v;
  }
  post_process(c);
  return c;
}

const ConfigDef& Config::def(std::string_view key) const {
  const ConfigDef* d = find_config(key);
  if (!d || !values_.contains(key)) throw ConfigError(std::string(key), "No configuration '" + std::string(key) + "' here");
  return *d;
}

const std::optional<std::string>& Config::raw(std::string_view key) const {
  auto it = values_.find(key);
  if (it == values_.end()) throw ConfigError(std::string(key), "No configuration '" + std::string(key) + "' here");
  return it->second;
}

std::string Config::get_string(std::string_view key) const {
  const auto& v = raw(key);
  return v ? *v : std::string();
}

int64_t Config::get_long(std::string_view key) const {
  def(key);
  int64_t out = 0;
  const auto& v = raw(key);
  if (!v || !parse_long(*v, out)) throw ConfigError(std::string(key), "Configuration " + std::string(key) + " is not a number");
  return out;
}

int32_t Config::get_int(std::string_view key) const { return static_cast<int32_t>(get_long(key)); }

double Config::get_double(std::string_view key) const {
  def(key);
  return std::stod(get_string(key));
}

bool Config::get_bool(std::string_view key) const {
  def(key);
  return get_string(key) == "true";
}

std::vector<std::string> Config::get_list(std::string_view key) const {
  std::vector<std::string> out;
  std::string item;
  std::istringstream is(get_string(key));
  while (std::getline(is, item, ',')) {
    const size_t b = item.find_first_not_of(' ');
    const size_t e = item.find_last_not_of(' ');
    if (b != std::string::npos) out.push_back(item.substr(b, e - b + 1));
  }
  return out;
}

std::vector<std::pair<std::string, std::string>> Config::effective() const {
  std::vector<std::pair<std::string, std::string>> out;
  for (const auto& [k, v] : values_) out.emplace_back(k, v ? *v : "null");
  return out;
}

std::string Config::describe() const {
  std::ostringstream os;
  os << scope_name(scope_) << " config:\n";
  for (const auto& [k, v] : effective()) os << "  " << k << " = " << v << (explicitly_set(k) ? "" : "  (default)") << "\n";
  return os.str();
}

}  // namespace ksim
