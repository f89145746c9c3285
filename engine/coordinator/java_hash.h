// Java's String.hashCode and Kafka's Utils.abs, bit-exact: they decide which
// __consumer_offsets partition (hence which broker) coordinates a group, so a
// ksim group lands on the same partition as it would in Kafka.
//
// String.hashCode is s[0]*31^(n-1) + ... + s[n-1] over the string's UTF-16
// code units with int32 wrap-around. ksim strings are UTF-8: they are decoded
// to code points and re-encoded as UTF-16 (surrogate pairs above U+FFFF);
// an invalid UTF-8 byte counts as U+FFFD, as Java's decoder would replace it.
#pragma once

#include <cstdint>
#include <string_view>

namespace ksim::coordinator {

int32_t java_string_hash(std::string_view utf8);
// Kafka's Utils.abs: Integer.MIN_VALUE maps to 0 (not to itself).
inline int32_t kafka_abs(int32_t n) { return n == INT32_MIN ? 0 : (n < 0 ? -n : n); }
// Utils.abs(key.hashCode()) % partitions.
inline int32_t partition_for(std::string_view key, int32_t partitions) {
  return kafka_abs(java_string_hash(key)) % partitions;
}

}  // namespace ksim::coordinator
