// Partitioners: which partition a record goes to (Kafka 4.0's rules).
//
// KafkaProducer.partition() decides, in this order:
//   1. the record's explicit partition;
//   2. a configured partitioner (partitioner.class = RoundRobinPartitioner, or
//      a user function from the Python bindings);
//   3. a key (unless partitioner.ignore.keys): toPositive(murmur2(key)) % N —
//      Kafka's Utils.murmur2 bit for bit (seed 0x9747b28c), so a key lands on
//      the same partition as with the Java client;
//   4. no key: the built-in sticky partitioner (KIP-480, refined by KIP-794 in
//      Kafka 3.3): stick to one partition until about batch.size bytes went to
//      it (switching only once its open batch is full, and at the latest after
//      2 x batch.size), then pick another available partition uniformly at
//      random. Kafka 4.0 additionally weights that choice by queue sizes
//      (partitioner.adaptive.partitioning.enable); ksim picks uniformly.
// Randomness comes from a seeded sim stream, never from a global RNG.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "sim/rng.h"

namespace ksim::clients {

// Kafka's Utils.murmur2 (32-bit MurmurHash2, seed 0x9747b28c), as a Java int.
int32_t murmur2(std::string_view data);
// Kafka's Utils.toPositive: clears the sign bit (not abs: abs(INT_MIN) overflows).
inline int32_t to_positive(int32_t n) { return n & 0x7fffffff; }
// The default partition of a keyed record.
inline int32_t partition_for_key(std::string_view key, int32_t num_partitions) {
  return to_positive(murmur2(key)) % num_partitions;
}

// What a partitioner may look at: the partition count and the partitions that
// currently have a leader.
struct PartitionView {
  int32_t count = 0;
  std::vector<int32_t> available;
};

// A user partitioner (the Python bindings' partitioner=callable): topic, key
// (nullopt = null), value, partition count -> partition.
using PartitionFn =
    std::function<int32_t(const std::string& topic, const std::optional<std::string>& key, const std::string& value,
                          int32_t num_partitions)>;

// Kafka's RoundRobinPartitioner: a per-topic counter over the available
// partitions (all partitions when none is available), ignoring keys.
class RoundRobinPartitioner {
 public:
  int32_t partition(const std::string& topic, const PartitionView& view);

 private:
  std::map<std::string, int32_t> counters_;
};

// Kafka's BuiltInPartitioner (sticky partitioning for records without a key).
class StickyPartitioner {
 public:
  StickyPartitioner(sim::Rng rng, int32_t sticky_batch_size) : rng_(rng), sticky_batch_size_(sticky_batch_size) {}
  // The partition the next keyless record of `topic` goes to.
  int32_t current(const std::string& topic, const PartitionView& view);
  // `bytes` were appended to the sticky partition; `batch_full`: its last
  // batch is full (so switching will not leave a small batch behind).
  void on_append(const std::string& topic, int32_t bytes, bool batch_full, const PartitionView& view);

 private:
  struct Sticky {
    int32_t partition = -1;
    int32_t produced = 0;
  };
  int32_t next_partition(const PartitionView& view);

  sim::Rng rng_;
  int32_t sticky_batch_size_;
  std::map<std::string, Sticky> sticky_;
};

}  // namespace ksim::clients
