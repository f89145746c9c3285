#include "engine/raft/raft_config.h"

#include <charconv>

#include "engine/common/config.h"

namespace ksim::raft {

RaftConfig RaftConfig::from_properties(const std::map<std::string, std::string>& props) {
  RaftConfig c;
  const std::map<std::string, sim::Duration*> keys = {
      {"controller.quorum.election.timeout.ms", &c.election_timeout},
      {"controller.quorum.fetch.timeout.ms", &c.fetch_timeout},
      {"controller.quorum.election.backoff.max.ms", &c.election_backoff_max},
      {"controller.quorum.request.timeout.ms", &c.request_timeout},
      {"controller.quorum.retry.backoff.ms", &c.retry_backoff},
  };
  for (const auto& [key, value] : props) {
    auto it = keys.find(key);
    if (it == keys.end()) throw ConfigError(key, "Unknown configuration " + key);
    int64_t ms = 0;
    auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), ms);
    if (ec != std::errc() || end != value.data() + value.size() || ms < 0)
      throw ConfigError(key, "Invalid value " + value + " for configuration " + key +
                                 ": must be a non-negative integer (ms)");
    *it->second = sim::milliseconds(ms);
  }
  return c;
}

}  // namespace ksim::raft
