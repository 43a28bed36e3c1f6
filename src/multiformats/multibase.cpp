#include "multiformats/multibase.hpp"

#include "multiformats/base32.hpp"
#include "multiformats/base58.hpp"

namespace peerup::multibase {

result<bytes> decode(std::string_view text) {
  if (text.empty()) return errc::unknown_multibase;
  switch (text.front()) {
    case base32_prefix: return base32::decode(text.substr(1));
    case base58btc_prefix: return base58::decode(text.substr(1));
    default: return errc::unknown_multibase;
  }
}

std::string encode_base32(byte_span in) { return base32_prefix + base32::encode(in); }

std::string encode_base58btc(byte_span in) { return base58btc_prefix + base58::encode(in); }

}  // namespace peerup::multibase
