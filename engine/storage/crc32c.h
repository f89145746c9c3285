// CRC-32C (Castagnoli), the checksum of Kafka's v2 record batches.
//
// Kafka switched from CRC-32 (v0/v1 messages) to CRC-32C for v2 batches because
// CPUs compute it in hardware (SSE 4.2). ksim uses the crc32 instruction when
// the CPU has it (three interleaved lanes over long inputs, joined with shift
// tables: crc32c.cc), and the classic byte-at-a-time table otherwise: reflected
// polynomial 0x82F63B78, initial value and final xor 0xFFFFFFFF. Check value:
// crc32c("123456789") == 0xE3069283. Both give the same bits (tests).
#pragma once

#include <cstdint>
#include <span>

namespace ksim::storage {

uint32_t crc32c(std::span<const uint8_t> bytes);

// Continues a running CRC: crc32c_update(crc32c(a), b) == crc32c(a ++ b).
uint32_t crc32c_update(uint32_t crc, std::span<const uint8_t> bytes);

// The table-driven implementation, always (the fast path uses SSE4.2 when the
// CPU has it; tests check that both agree).
uint32_t crc32c_portable(std::span<const uint8_t> bytes);

}  // namespace ksim::storage
