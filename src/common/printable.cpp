#include "common/printable.hpp"

namespace peerup {

std::string printable(std::string_view s, std::size_t max_bytes) {
  static constexpr char hex[] = "0123456789abcdef";
  const bool cut = s.size() > max_bytes;
  if (cut) s = s.substr(0, max_bytes);
  std::string out;
  out.reserve(s.size() + (cut ? 3 : 0));
  for (const char c : s) {
    const auto b = static_cast<unsigned char>(c);
    if (b == '\\') {
      out += "\\\\";
    } else if (b >= 0x20 && b < 0x7f) {
      out += c;
    } else {
      out += "\\x";
      out += hex[b >> 4];
      out += hex[b & 0xf];
    }
  }
  if (cut) out += "...";
  return out;
}

}  // namespace peerup
