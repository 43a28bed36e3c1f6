// Shared helpers for the libFuzzer targets: a front-to-back input reader (so
// seed files are easy to build by hand) and a check that aborts, which
// libFuzzer reports as a crash with the input that caused it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>

#include "common/bytes.hpp"

#define FUZZ_CHECK(cond)                                                                   \
  do {                                                                                     \
    if (!(cond)) {                                                                         \
      std::fprintf(stderr, "FUZZ_CHECK failed: %s at %s:%d\n", #cond, __FILE__, __LINE__); \
      std::abort();                                                                        \
    }                                                                                      \
  } while (0)

namespace peerup::fuzz {

// Reads fields from the front of the fuzz input. Past the end every read
// yields zeros / empty spans, so harnesses never need to check lengths.
class input {
 public:
  input(const std::uint8_t* data, std::size_t size) : in_(data, size) {}

  bool empty() const { return pos_ >= in_.size(); }
  std::size_t remaining() const { return in_.size() - pos_; }

  std::uint8_t u8() { return empty() ? 0 : in_[pos_++]; }
  // Big endian. Separate statements: operand evaluation order is unspecified.
  std::uint16_t u16() {
    const unsigned hi = u8();
    return static_cast<std::uint16_t>(hi << 8 | u8());
  }
  std::uint32_t u32() {
    const std::uint32_t hi = u16();
    return hi << 16 | u16();
  }
  bool flag() { return (u8() & 1) != 0; }

  // Up to n bytes (fewer at the end of the input).
  byte_span take(std::size_t n) {
    n = n < remaining() ? n : remaining();
    auto out = in_.subspan(pos_, n);
    pos_ += n;
    return out;
  }
  // A chunk whose length is the next byte.
  byte_span chunk8() { return take(u8()); }
  // A chunk whose length is the next two bytes (big endian).
  byte_span chunk16() { return take(u16()); }
  byte_span rest() { return take(remaining()); }

 private:
  byte_span in_;
  std::size_t pos_ = 0;
};

}  // namespace peerup::fuzz
