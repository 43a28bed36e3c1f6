#include "crypto/openssl_keys.hpp"

namespace peerup::openssl_keys {

boost::system::error_code validate(key_type type, byte_span data) {
  return errc::unsupported_key_type;
}

bool verify(key_type type, byte_span data, byte_span message, byte_span signature) { return false; }

}  // namespace peerup::openssl_keys
