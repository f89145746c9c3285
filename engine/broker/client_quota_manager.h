// ClientQuotaManager: byte-rate quotas per client, of one kind (Kafka's
// kafka.server.ClientQuotaManager for QuotaType.Produce or QuotaType.Fetch,
// with its DefaultQuotaCallback). One per broker per kind; every broker
// enforces a quota on what it alone sees. engine/broker/README.md, "Client
// quotas", tells the whole story; in short:
//
//   quotas       entity ({user, client-id}, names or defaults) -> bytes/s,
//                replayed from ClientQuotaRecords of the metadata log;
//   resolution   (principal, client.id) -> the first configured entity in
//                KIP-55's precedence, giving the sensor's tags (who shares
//                one rate) and the limit;
//   sensors      per tag set, the byte rate (a SampledStat over
//                quota.window.num windows of quota.window.size.seconds) and
//                the throttle times given (Kafka's `throttle-time` Avg);
//   throttle     a rate O above the limit T, measured over a window W, asks
//                for round((O - T) / T * W) ms: the delay after which the
//                rate would be back at T if nothing more came.
//
// With no quota ever configured (`quotas_enabled()` false) nothing is
// recorded and every throttle time is 0. Once enabled it stays so, as in Kafka.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "engine/common/sampled_stat.h"
#include "engine/controller/metadata_image.h"

namespace ksim {

enum class ClientQuotaType : uint8_t { produce, fetch };
// Kafka's metric group ("Produce", "Fetch") and quota key ("producer_byte_rate", "consumer_byte_rate").
const char* quota_type_name(ClientQuotaType t);
const char* quota_key(ClientQuotaType t);

// Every connection's principal: ksim has no authentication (Kafka's PLAINTEXT listener).
inline constexpr const char* kAnonymousUser = "ANONYMOUS";

// Kafka's quota metric tags: the user and client-id a sensor is kept for
// ("" where the matching quota does not distinguish them).
struct QuotaMetricTags {
  std::string user;
  std::string client_id;
  auto operator<=>(const QuotaMetricTags&) const = default;
};

class ClientQuotaManager {
 public:
  // `quota_window`: quota.window.num samples of quota.window.size.seconds.
  ClientQuotaManager(ClientQuotaType type, SampledStatConfig quota_window);

  ClientQuotaType type() const { return type_; }
  // Takes this kind's quotas from the metadata image (after a ClientQuotaRecord).
  void update_quotas(const MetadataImage::ClientQuotas& all);
  bool quotas_enabled() const { return enabled_; }

  struct Resolution {
    QuotaMetricTags tags;
    std::optional<double> limit;  // bytes/s; nullopt: unlimited
  };
  Resolution resolve(const std::string& user, const std::string& client_id) const;

  // Records `bytes` for the client and returns the throttle time (ms) its
  // sensor's rate now asks for: 0 within the quota, without one, or when
  // quotas are not enabled (then nothing is recorded either).
  int32_t record_and_get_throttle_ms(const std::string& user, const std::string& client_id, double bytes,
                                     int64_t now_ms);
  // Kafka's getMaxValueInQuotaWindow: the most one request may carry without
  // being throttled for sure, quota × (quota.window.num - 1) windows; nullopt:
  // no bound (no quota). A consumer's fetch is cut to it, or a response larger
  // than the quota could ever admit would be throttled, emptied and retried forever.
  std::optional<double> max_value_in_quota_window(const std::string& user, const std::string& client_id) const;
  // Takes a recorded value back (a throttled fetch returns nothing: Kafka's unrecordQuotaSensor).
  void unrecord(const std::string& user, const std::string& client_id, double bytes, int64_t now_ms);
  // A response went out throttled: its throttle time joins the `throttle-time` average.
  void record_throttle(const std::string& user, const std::string& client_id, int32_t throttle_ms, int64_t now_ms);

  // Kafka's ClientQuotaManager.throttleTime: round((observed - bound) / bound * window_ms), >= 0.
  static int64_t throttle_time_ms(double observed, double bound, int64_t window_ms);

  // Every sensor, for the metrics: tags, `byte-rate`, `throttle-time` (Avg).
  struct SensorReading {
    QuotaMetricTags tags;
    double byte_rate = 0;
    double throttle_time = 0;
  };
  std::vector<SensorReading> readings(int64_t now_ms) const;

 private:
  struct Sensors {
    SampledStat byte_rate;
    SampledStat throttle_time;
  };
  Sensors& sensors_for(const QuotaMetricTags& tags);
  const double* quota_of(const ClientQuotaEntity& e) const;

  ClientQuotaType type_;
  SampledStatConfig quota_window_;
  std::map<ClientQuotaEntity, double> quotas_;
  std::map<QuotaMetricTags, Sensors> sensors_;
  bool enabled_ = false;
};

}  // namespace ksim
