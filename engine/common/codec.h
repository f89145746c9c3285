// A tiny binary codec (little-endian fixed ints, zigzag varints, length-prefixed
// strings) for ksim's own persisted structures such as metadata records.
// Decoding never trusts its input: a short or malformed buffer makes the
// Reader fail (ok() == false) instead of reading past the end.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace ksim {

class Writer {
 public:
  void u8(uint8_t v) { out_.push_back(static_cast<char>(v)); }
  void varint(int64_t v) {
    uint64_t z = (static_cast<uint64_t>(v) << 1) ^ static_cast<uint64_t>(v >> 63);
    while (z >= 0x80) {
      out_.push_back(static_cast<char>((z & 0x7f) | 0x80));
      z >>= 7;
    }
    out_.push_back(static_cast<char>(z));
  }
  void str(std::string_view s) {
    varint(static_cast<int64_t>(s.size()));
    out_.append(s);
  }
  void i32s(const std::vector<int32_t>& v) {
    varint(static_cast<int64_t>(v.size()));
    for (int32_t x : v) varint(x);
  }
  std::string take() { return std::move(out_); }

 private:
  std::string out_;
};

class Reader {
 public:
  explicit Reader(std::string_view in) : in_(in) {}
  bool ok() const { return ok_; }
  bool done() const { return pos_ == in_.size(); }
  uint8_t u8() {
    if (pos_ >= in_.size()) return fail();
    return static_cast<uint8_t>(in_[pos_++]);
  }
  int64_t varint() {
    uint64_t z = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (pos_ >= in_.size()) return fail();
      const auto b = static_cast<uint8_t>(in_[pos_++]);
      z |= static_cast<uint64_t>(b & 0x7f) << shift;
      if (!(b & 0x80)) return static_cast<int64_t>(z >> 1) ^ -static_cast<int64_t>(z & 1);
    }
    return fail();
  }
  std::string str() {
    const int64_t n = varint();
    if (!ok_ || n < 0 || static_cast<uint64_t>(n) > in_.size() - pos_) return fail(), std::string();
    std::string s(in_.substr(pos_, static_cast<size_t>(n)));
    pos_ += static_cast<size_t>(n);
    return s;
  }
  std::vector<int32_t> i32s() {
    const int64_t n = varint();
    std::vector<int32_t> v;
    if (!ok_ || n < 0 || n > 1'000'000) return fail(), v;
    for (int64_t i = 0; i < n && ok_; ++i) v.push_back(static_cast<int32_t>(varint()));
    return v;
  }

 private:
  uint8_t fail() {
    ok_ = false;
    pos_ = in_.size();
    return 0;
  }
  std::string_view in_;
  size_t pos_ = 0;
  bool ok_ = true;
};

}  // namespace ksim
