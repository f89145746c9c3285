#include "engine/storage/crc32c.h"

#include <array>

namespace ksim::storage {
namespace {

constexpr uint32_t kPolynomial = 0x82F63B78u;  // Castagnoli, bit-reflected

constexpr std::array<uint32_t, 256> make_table() {
  std::array<uint32_t, 256> t{};
  for (uint32_t i = 0; i < 256; ++i) {
    uint32_t c = i;
    for (int k = 0; k < 8; ++k) c = (c & 1u) ? (c >> 1) ^ kPolynomial : c >> 1;
    t[i] = c;
  }
  return t;
}

constexpr std::array<uint32_t, 256> kTable = make_table();

}  // namespace

uint32_t crc32c_update(uint32_t crc, std::span<const uint8_t> bytes) {
  // The running value is kept un-inverted between calls; invert on the way in
  // and out so that updates compose.
  uint32_t c = ~crc;
  for (uint8_t b : bytes) c = kTable[(c ^ b) & 0xffu] ^ (c >> 8);
  return ~c;
}

uint32_t crc32c(std::span<const uint8_t> bytes) { return crc32c_update(0, bytes); }

}  // namespace ksim::storage
