#include "engine/broker/client_quota_manager.h"

#include <algorithm>
#include <climits>
#include <cmath>

#include "sim/error.h"

namespace ksim {
namespace {

// Kafka's defaults for every metric that is not a quota (the throttle-time
// Avg): metrics.num.samples = 2 windows of metrics.sample.window.ms = 30 s.
constexpr SampledStatConfig kMetricWindow{2, 30'000};

}  // namespace

const char* quota_type_name(ClientQuotaType t) { return t == ClientQuotaType::produce ? "Produce" : "Fetch"; }
const char* quota_key(ClientQuotaType t) {
  return t == ClientQuotaType::produce ? "producer_byte_rate" : "consumer_byte_rate";
}

ClientQuotaManager::ClientQuotaManager(ClientQuotaType type, SampledStatConfig quota_window)
    : type_(type), quota_window_(quota_window) {}

void ClientQuotaManager::update_quotas(const MetadataImage::ClientQuotas& all) {
  quotas_.clear();
  for (const auto& [entity, keys] : all)
    if (auto k = keys.find(quota_key(type_)); k != keys.end()) {
      SIM_ASSERT(k->second > 0, "a client quota must be positive");
      quotas_[entity] = k->second;
    }
  // Kafka's quotasEnabled: on from the first quota of this kind until the broker restarts.
  enabled_ = enabled_ || !quotas_.empty();
}

const double* ClientQuotaManager::quota_of(const ClientQuotaEntity& e) const {
  auto it = quotas_.find(e);
  return it == quotas_.end() ? nullptr : &it->second;
}

ClientQuotaManager::Resolution ClientQuotaManager::resolve(const std::string& user,
                                                           const std::string& client_id) const {
  using Name = std::optional<std::string>;
  const Name u{user}, c{client_id}, dflt{};
  // KIP-55's precedence, most specific first; the tags say who shares the rate.
  struct Level {
    ClientQuotaEntity entity;
    QuotaMetricTags tags;
  };
  const Level levels[] = {
      {{{"user", u}, {"client-id", c}}, {user, client_id}},
      {{{"user", u}, {"client-id", dflt}}, {user, client_id}},
      {{{"user", u}}, {user, ""}},
      {{{"user", dflt}, {"client-id", c}}, {user, client_id}},
      {{{"user", dflt}, {"client-id", dflt}}, {user, client_id}},
      {{{"user", dflt}}, {user, ""}},
      {{{"client-id", c}}, {"", client_id}},
      {{{"client-id", dflt}}, {"", client_id}},
  };
  for (const Level& l : levels)
    if (const double* q = quota_of(l.entity)) return Resolution{l.tags, *q};
  return Resolution{{"", client_id}, std::nullopt};
}

ClientQuotaManager::Sensors& ClientQuotaManager::sensors_for(const QuotaMetricTags& tags) {
  auto it = sensors_.find(tags);
  if (it == sensors_.end())
    it = sensors_.emplace(tags, Sensors{SampledStat(quota_window_), SampledStat(kMetricWindow)}).first;
  return it->second;
}

int64_t ClientQuotaManager::throttle_time_ms(double observed, double bound, int64_t window_ms) {
  SIM_ASSERT(bound > 0, "a quota bound must be positive");
  if (observed <= bound) return 0;
  return std::llround((observed - bound) / bound * static_cast<double>(window_ms));
}

int32_t ClientQuotaManager::record_and_get_throttle_ms(const std::string& user, const std::string& client_id,
                                                       double bytes, int64_t now_ms) {
  if (!enabled_) return 0;
  const Resolution r = resolve(user, client_id);
  Sensors& s = sensors_for(r.tags);
  // As Kafka's Sensor.record: record first, then check the rate against the quota.
  s.byte_rate.record(bytes, now_ms);
  if (!r.limit) return 0;
  const double observed = s.byte_rate.rate_per_s(now_ms);
  if (observed <= *r.limit) return 0;
  const int64_t t = throttle_time_ms(observed, *r.limit, s.byte_rate.window_size_ms(now_ms));
  SIM_ASSERT(t >= 0, "a negative throttle time");
  return static_cast<int32_t>(std::min<int64_t>(t, INT32_MAX));
}

std::optional<double> ClientQuotaManager::max_value_in_quota_window(const std::string& user,
                                                                   const std::string& client_id) const {
  if (!enabled_) return std::nullopt;
  const Resolution r = resolve(user, client_id);
  if (!r.limit) return std::nullopt;
  return *r.limit * static_cast<double>(quota_window_.samples - 1) * static_cast<double>(quota_window_.window_ms) /
         1000.0;
}

void ClientQuotaManager::unrecord(const std::string& user, const std::string& client_id, double bytes,
                                  int64_t now_ms) {
  if (!enabled_) return;
  sensors_for(resolve(user, client_id).tags).byte_rate.record(-bytes, now_ms);
}

void ClientQuotaManager::record_throttle(const std::string& user, const std::string& client_id, int32_t throttle_ms,
                                         int64_t now_ms) {
  SIM_ASSERT(throttle_ms > 0, "only a throttled response is recorded as throttled");
  sensors_for(resolve(user, client_id).tags).throttle_time.record(throttle_ms, now_ms);
}

std::vector<ClientQuotaManager::SensorReading> ClientQuotaManager::readings(int64_t now_ms) const {
  std::vector<SensorReading> out;
  for (const auto& [tags, s] : sensors_) {
    // Copies: reading the metrics must not purge the sensors the throttling measures with.
    out.push_back(SensorReading{tags, s.byte_rate.snapshot().rate_per_s(now_ms), s.throttle_time.snapshot().avg(now_ms)});
  }
  return out;
}

}  // namespace ksim
