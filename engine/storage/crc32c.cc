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

uint32_t crc32c_table(uint32_t c, const uint8_t* p, size_t n) {
  for (size_t i = 0; i < n; ++i) c = kTable[(c ^ p[i]) & 0xffu] ^ (c >> 8);
  return c;
}

#if defined(__x86_64__)
// SSE4.2's crc32 instruction computes exactly CRC-32C, 8 bytes at a time. The
// result is bit-identical to the table (a test checks both), so using it where
// the CPU has it cannot change a run — it only makes CRC ~20x cheaper, which
// matters because every batch is checksummed on build, append and recovery.
__attribute__((target("sse4.2"))) uint32_t crc32c_hw(uint32_t c, const uint8_t* p, size_t n) {
  uint64_t c64 = c;
  while (n >= 8) {
    uint64_t word;
    __builtin_memcpy(&word, p, 8);
    c64 = __builtin_ia32_crc32di(c64, word);
    p += 8;
    n -= 8;
  }
  c = static_cast<uint32_t>(c64);
  while (n-- > 0) c = __builtin_ia32_crc32qi(c, *p++);
  return c;
}

bool have_hw_crc() {
  static const bool yes = __builtin_cpu_supports("sse4.2");  // a CPU fact, not simulation state
  return yes;
}
#endif

}  // namespace

uint32_t crc32c_update(uint32_t crc, std::span<const uint8_t> bytes) {
  // The running value is kept un-inverted between calls; invert on the way in
  // and out so that updates compose.
  uint32_t c = ~crc;
#if defined(__x86_64__)
  if (have_hw_crc()) return ~crc32c_hw(c, bytes.data(), bytes.size());
#endif
  return ~crc32c_table(c, bytes.data(), bytes.size());
}

uint32_t crc32c_portable(std::span<const uint8_t> bytes) { return ~crc32c_table(~0u, bytes.data(), bytes.size()); }

uint32_t crc32c(std::span<const uint8_t> bytes) { return crc32c_update(0, bytes); }

}  // namespace ksim::storage
