#include "multiformats/base58.hpp"

#include <algorithm>
#include <array>

namespace peerup::base58 {
namespace {

constexpr std::string_view alphabet = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";

constexpr std::array<std::int8_t, 128> make_reverse() {
  std::array<std::int8_t, 128> r{};
  r.fill(-1);
  for (std::size_t i = 0; i < alphabet.size(); ++i) {
    r[static_cast<unsigned char>(alphabet[i])] = static_cast<std::int8_t>(i);
  }
  return r;
}
constexpr auto reverse = make_reverse();

}  // namespace

std::string encode(byte_span in) {
  const std::size_t zeros = static_cast<std::size_t>(
      std::find_if(in.begin(), in.end(), [](auto b) { return b != 0; }) - in.begin());
  // log(256)/log(58) < 1.37: enough base58 digits for the rest of the input.
  std::vector<std::uint8_t> digits((in.size() - zeros) * 137 / 100 + 1, 0);
  std::size_t used = 0;  // significant digits, stored little-endian
  for (std::size_t i = zeros; i < in.size(); ++i) {
    unsigned carry = in[i];
    std::size_t j = 0;
    for (; j < used || carry != 0; ++j) {
      carry += 256u * digits[j];
      digits[j] = static_cast<std::uint8_t>(carry % 58);
      carry /= 58;
    }
    used = j;
  }
  std::string out(zeros, '1');
  out.reserve(zeros + used);
  for (std::size_t j = used; j-- > 0;) out.push_back(alphabet[digits[j]]);
  return out;
}

result<bytes> decode(std::string_view text) {
  // SECURITY: bound the quadratic conversion before doing any work.
  if (text.size() > max_text_length) return errc::too_large;
  const std::size_t ones = static_cast<std::size_t>(
      std::find_if(text.begin(), text.end(), [](char c) { return c != '1'; }) - text.begin());
  // log(58)/log(256) < 0.733: enough bytes for the rest of the text.
  std::vector<std::uint8_t> value((text.size() - ones) * 733 / 1000 + 1, 0);
  std::size_t used = 0;  // significant bytes, stored little-endian
  for (std::size_t i = ones; i < text.size(); ++i) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (c >= 128 || reverse[c] < 0) return errc::invalid_base58;
    unsigned carry = static_cast<unsigned char>(reverse[c]);  // >= 0: checked above
    std::size_t j = 0;
    for (; j < used || carry != 0; ++j) {
      carry += 58u * value[j];
      value[j] = static_cast<std::uint8_t>(carry & 0xff);
      carry >>= 8;
    }
    used = j;
  }
  bytes out(ones, 0);
  out.reserve(ones + used);
  for (std::size_t j = used; j-- > 0;) out.push_back(value[j]);
  return out;
}

}  // namespace peerup::base58
