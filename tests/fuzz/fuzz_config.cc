// Fuzz target 1: the configuration parser (engine/common/config.h) and topic
// name validation (engine/controller: valid_topic_name).
//
// Input: byte 0 picks the scope (broker, topic, topic under a fuzzed broker
// config, producer, consumer); the rest is text, one `key=value` per line
// (split at the first '='). Lines without '=' are names: each is checked as a
// topic name (against an independent statement of Kafka's rule) and set as
// group.id / group.instance.id / transactional.id in client configs.
// Properties:
//   * Config::parse returns or throws ksim::ConfigError — nothing else;
//   * a parsed config answers every key of its scope through the getter of
//     the key's type without throwing (the parser validated the value);
//   * its effective config, fed back as user settings, parses to the same
//     effective config (what `describe()` prints is itself a valid config).
#include <cstddef>
#include <cstdint>
#include <cctype>
#include <exception>
#include <optional>
#include <string>
#include <vector>

#include "engine/common/config.h"
#include "engine/controller/quorum_controller.h"
#include "tests/fuzz/fuzz_common.h"

using namespace ksim;

namespace {

bool reference_topic_name(const std::string& n) {
  if (n.empty() || n.size() > 249 || n == "." || n == "..") return false;
  for (unsigned char c : n)
    if (!(std::isalnum(c) && c < 0x80) && c != '.' && c != '_' && c != '-') return false;
  return true;
}

// Every key of the scope through its typed getter; none may throw.
void read_back(const Config& c) {
  for (const auto& [key, d] : config_defs()) {
    if (!(d.scopes & c.scope())) continue;
    KSIM_FUZZ_CHECK(c.has(key), "a parsed config lacks key " + key);
    try {
      (void)c.get_string(key);
      if (c.is_null(key)) continue;
      switch (d.type) {
        case ConfigType::boolean: (void)c.get_bool(key); break;
        case ConfigType::int32: (void)c.get_int(key); (void)c.get_long(key); break;
        case ConfigType::int64: (void)c.get_long(key); break;
        case ConfigType::float64: (void)c.get_double(key); break;
        case ConfigType::string: break;
        case ConfigType::list: (void)c.get_list(key); break;
      }
    } catch (const std::exception& e) {
      ksim::fuzz::fail("getter of validated key " + key + " threw: " + e.what());
    }
  }
  (void)c.describe();
}

// Parses, checks the read-back and round-trip properties; nullopt on ConfigError.
std::optional<Config> parse_checked(ConfigScope scope, const Config::Map& user, const Config* parent) {
  std::optional<Config> c;
  try {
    c = Config::parse(scope, user, parent);
  } catch (const ConfigError& e) {
    return std::nullopt;  // the project's error: fine
  } catch (const std::exception& e) {
    ksim::fuzz::fail(std::string("Config::parse threw a non-ConfigError: ") + e.what());
  }
  read_back(*c);
  Config::Map again;
  for (const auto& [k, v] : c->effective())
    if (!c->is_null(k)) again[k] = v;
  try {
    const Config c2 = Config::parse(scope, again, parent);
    KSIM_FUZZ_CHECK(c2.effective() == c->effective(), "the effective config does not round-trip");
  } catch (const std::exception& e) {
    ksim::fuzz::fail(std::string("the effective config of a valid config is refused: ") + e.what());
  }
  return c;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0 || size > 4096) return 0;
  const uint8_t mode = data[0] % 5;
  const std::string text(reinterpret_cast<const char*>(data + 1), size - 1);

  // Split into sections at an empty line (mode 2: broker section, then topic section).
  std::vector<Config::Map> sections(1);
  std::vector<std::string> names;
  size_t at = 0;
  while (at <= text.size()) {
    size_t nl = text.find('\n', at);
    if (nl == std::string::npos) nl = text.size();
    const std::string line = text.substr(at, nl - at);
    at = nl + 1;
    if (line.empty()) {
      sections.emplace_back();
      continue;
    }
    const size_t eq = line.find('=');
    if (eq == std::string::npos) names.push_back(line);
    else sections.back()[line.substr(0, eq)] = line.substr(eq + 1);
  }

  for (const std::string& n : names)
    KSIM_FUZZ_CHECK(valid_topic_name(n) == reference_topic_name(n), "topic name rule disagrees on '" + n + "'");

  switch (mode) {
    case 0: parse_checked(kBroker, sections[0], nullptr); break;
    case 1: {
      const Config broker = Config::parse(kBroker, {});
      parse_checked(kTopic, sections[0], &broker);
      break;
    }
    case 2: {
      auto broker = parse_checked(kBroker, sections[0], nullptr);
      if (broker && sections.size() > 1) parse_checked(kTopic, sections[1], &*broker);
      break;
    }
    case 3:
    case 4: {
      const ConfigScope scope = mode == 3 ? kProducer : kConsumer;
      parse_checked(scope, sections[0], nullptr);
      // Names as the client ids of the scope, alone and on top of the fuzzed settings.
      for (const std::string& n : names) {
        for (const char* key : mode == 3 ? std::vector<const char*>{"transactional.id", "client.id"}
                                         : std::vector<const char*>{"group.id", "group.instance.id", "client.id"}) {
          Config::Map m = sections[0];
          m[key] = n;
          parse_checked(scope, m, nullptr);
          parse_checked(scope, Config::Map{{key, n}}, nullptr);
        }
      }
      break;
    }
  }
  return 0;
}
