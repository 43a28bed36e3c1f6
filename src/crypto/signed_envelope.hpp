// Signed envelopes (libp2p specs RFC 0002): a payload, its type, and a
// signature by the enclosed public key over a domain-separated buffer. Used
// for relay reservation vouchers (domain "libp2p-relay-rsvp") and peer records.
#pragma once

#include <string_view>

#include "common/bytes.hpp"
#include "common/error.hpp"
#include "crypto/keys.hpp"

namespace peerup {

struct envelope {
  public_key key;
  bytes payload_type;  // a multicodec prefix, e.g. {0x03, 0x02} for relay vouchers
  bytes payload;
  bytes signature;

  peer_id signer() const { return key.to_peer_id(); }
};

namespace signed_envelope {

// SECURITY: envelopes carry small records; anything larger is refused unread.
inline constexpr std::size_t max_envelope_length = 64 * 1024;

// Returns the serialized Envelope protobuf.
bytes seal(const private_key& key, std::string_view domain, byte_span payload_type,
           byte_span payload);

// Parses and verifies an Envelope against `expected_domain`.
// errc::too_large, errc::invalid_protobuf, key errors, errc::bad_signature.
result<envelope> open(byte_span data, std::string_view expected_domain);

}  // namespace signed_envelope

}  // namespace peerup
