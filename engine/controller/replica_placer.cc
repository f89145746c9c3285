#include "engine/controller/replica_placer.h"

#include <algorithm>

namespace ksim {

Placement place_replicas(const std::vector<int32_t>& usable, int32_t partitions, int32_t rf, sim::Rng& rng,
                         int32_t first_partition) {
  Placement out;
  std::vector<int32_t> brokers = usable;
  std::sort(brokers.begin(), brokers.end());
  const auto n = static_cast<int32_t>(brokers.size());
  if (rf <= 0) {
    out.error = "Replication factor must be larger than 0.";
    return out;
  }
  if (rf > n) {
    out.error = "Replication factor: " + std::to_string(rf) + " larger than available brokers: " + std::to_string(n) + ".";
    return out;
  }
  const auto start = static_cast<int32_t>(rng.uniform(static_cast<uint64_t>(n)));
  int32_t shift = static_cast<int32_t>(rng.uniform(static_cast<uint64_t>(n)));
  for (int32_t i = 0; i < partitions; ++i) {
    const int32_t p = first_partition + i;
    if (p > 0 && p % n == 0) ++shift;
    const int32_t first = (p + start) % n;
    std::vector<int32_t> reps{brokers[static_cast<size_t>(first)]};
    for (int32_t j = 0; j < rf - 1; ++j) {
      // Kafka's replicaIndex: followers at 1 + (shift + j) mod (n - 1) after the first.
      const int32_t step = n > 1 ? 1 + (shift + j) % (n - 1) : 0;
      reps.push_back(brokers[static_cast<size_t>((first + step) % n)]);
    }
    out.replicas.push_back(std::move(reps));
  }
  return out;
}

}  // namespace ksim
