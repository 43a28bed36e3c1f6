// RSA, ECDSA and secp256k1 public keys through OpenSSL 3 (internal to crypto;
// use public_key instead).
#pragma once

#include "common/bytes.hpp"
#include "common/error.hpp"
#include "crypto/keys.hpp"

namespace peerup::openssl_keys {

// Checks that `data` is a valid Data field for `type` (rsa, ecdsa, secp256k1).
boost::system::error_code validate(key_type type, byte_span data);

// SHA-256 then the type's signature scheme; false on any failure.
bool verify(key_type type, byte_span data, byte_span message, byte_span signature);

}  // namespace peerup::openssl_keys
