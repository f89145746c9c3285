// Configuration with Kafka's own keys, types, defaults and validation.
//
// Every key ksim understands is declared once, in config_defs.cc, with Kafka's
// name (dotted), Kafka's default (Kafka 4.0), its type and where it applies
// (broker, topic, producer, consumer) — ksim's own switches use the `ksim.`
// prefix. A Config is parsed from the user's string map for one scope:
//   * an unknown key, a value of the wrong type or out of range, or an invalid
//     combination throws ConfigError naming the key (Kafka's wording where
//     Kafka has one: "Invalid value X for configuration KEY: ...");
//   * every key of the scope then has a value: the user's or the default;
//   * `effective()` lists them all, sorted, for "print the effective config".
// Topic configs inherit the broker's value (`min.insync.replicas` on a topic
// overrides the broker's `min.insync.replicas`; `retention.ms` the broker's
// `log.retention.ms`), as Kafka's LogConfig does.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace ksim {

class ConfigError : public std::invalid_argument {
 public:
  ConfigError(std::string key, const std::string& message)
      : std::invalid_argument(message), key_(std::move(key)) {}
  const std::string& key() const { return key_; }

 private:
  std::string key_;
};

enum class ConfigType : uint8_t { boolean, int32, int64, float64, string, list };

enum ConfigScope : uint8_t {
  kBroker = 1,
  kTopic = 2,
  kProducer = 4,
  kConsumer = 8,
};

struct ConfigDef {
  std::string name;
  ConfigType type;
  std::optional<std::string> default_value;  // nullopt: Kafka's `null`
  uint8_t scopes;
  std::string doc;
  std::optional<int64_t> min = std::nullopt;
  std::optional<int64_t> max = std::nullopt;
  std::vector<std::string> valid_values = {};  // empty: any
  // For topic configs: the broker key supplying the default (e.g. log.retention.ms).
  std::string broker_synonym = {};
  // A key shared by two scopes with different defaults (compression.type).
  std::optional<std::string> topic_default = std::nullopt;
};

// All known keys, sorted by name.
const std::map<std::string, ConfigDef, std::less<>>& config_defs();
const ConfigDef* find_config(std::string_view name);

class Config {
 public:
  using Map = std::map<std::string, std::string, std::less<>>;

  // Parses the user's settings for `scope`. For topics, `parent` is the
  // broker config whose values are the defaults.
  static Config parse(ConfigScope scope, const Map& user, const Config* parent = nullptr);

  bool has(std::string_view key) const { return values_.contains(key); }
  // True if the user set it (rather than a default).
  bool explicitly_set(std::string_view key) const { return user_keys_.contains(std::string(key)); }
  const std::optional<std::string>& raw(std::string_view key) const;
  std::string get_string(std::string_view key) const;
  int64_t get_long(std::string_view key) const;
  int32_t get_int(std::string_view key) const;
  double get_double(std::string_view key) const;
  bool get_bool(std::string_view key) const;
  std::vector<std::string> get_list(std::string_view key) const;
  bool is_null(std::string_view key) const { return !raw(key).has_value(); }

  ConfigScope scope() const { return scope_; }
  // Every key of the scope with its effective value ("null" for null), sorted.
  std::vector<std::pair<std::string, std::string>> effective() const;
  std::string describe() const;

 private:
  const ConfigDef& def(std::string_view key) const;
  ConfigScope scope_ = kBroker;
  std::map<std::string, std::optional<std::string>, std::less<>> values_;
  std::map<std::string, bool> user_keys_;
  // Values a cross-key rule changed (e.g. idempotence disabled by acks=1).
  friend void post_process(Config& c);
  void set(const std::string& key, std::optional<std::string> value) { values_[key] = std::move(value); }
};

}  // namespace ksim
