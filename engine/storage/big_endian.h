// Big-endian fixed-width fields, as Kafka's batch headers and index files hold
// them: the one writer the storage layer uses (record batches, index entries).
#pragma once

#include <cstdint>

namespace ksim::storage {

// Writes the low `width` bytes of `v` at `out`, most significant first.
inline void store_be(uint8_t* out, uint64_t v, int width) {
  for (int i = 0; i < width; ++i) out[i] = static_cast<uint8_t>(v >> (8 * (width - 1 - i)));
}

}  // namespace ksim::storage
