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
__attribute__((target("sse4.2"))) uint32_t crc32c_hw_serial(uint32_t c, const uint8_t* p, size_t n) {
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

// The crc32 instruction has a latency of 3 cycles and a throughput of 1: one
// dependent chain uses a third of it. Three chains over three adjacent blocks
// of kLane bytes run at full rate, and are then joined. The CRC register is
// linear: after block B from state a it is shift(a) ^ crc(0, B), where shift
// advances a state over kLane zero bytes — a linear map, applied with four
// byte tables (zlib's crc32_combine idea, with a fixed length).
constexpr size_t kLane = 128;

struct ShiftTables {
  std::array<std::array<uint32_t, 256>, 4> t{};
};

__attribute__((target("sse4.2"))) ShiftTables make_shift_tables() {
  static constexpr std::array<uint8_t, kLane> kZeros{};
  ShiftTables s;
  for (int k = 0; k < 4; ++k)
    for (uint32_t b = 0; b < 256; ++b) s.t[k][b] = crc32c_hw_serial(b << (8 * k), kZeros.data(), kLane);
  return s;
}

uint32_t shift_lane(const ShiftTables& s, uint32_t c) {
  return s.t[0][c & 0xffu] ^ s.t[1][(c >> 8) & 0xffu] ^ s.t[2][(c >> 16) & 0xffu] ^ s.t[3][c >> 24];
}

__attribute__((target("sse4.2"))) uint32_t crc32c_hw(uint32_t c, const uint8_t* p, size_t n) {
  if (n >= 3 * kLane) {
    static const ShiftTables tables = make_shift_tables();  // a fact of the polynomial, not simulation state
    do {
      uint64_t a = c, b = 0, d = 0;
      for (size_t i = 0; i < kLane; i += 8) {
        uint64_t wa, wb, wd;
        __builtin_memcpy(&wa, p + i, 8);
        __builtin_memcpy(&wb, p + kLane + i, 8);
        __builtin_memcpy(&wd, p + 2 * kLane + i, 8);
        a = __builtin_ia32_crc32di(a, wa);
        b = __builtin_ia32_crc32di(b, wb);
        d = __builtin_ia32_crc32di(d, wd);
      }
      const uint32_t ab = shift_lane(tables, static_cast<uint32_t>(a)) ^ static_cast<uint32_t>(b);
      c = shift_lane(tables, ab) ^ static_cast<uint32_t>(d);
      p += 3 * kLane;
      n -= 3 * kLane;
    } while (n >= 3 * kLane);
  }
  return crc32c_hw_serial(c, p, n);
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
