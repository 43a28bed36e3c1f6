// The libp2p NoiseHandshakePayload carried in XX messages 2 and 3:
//
//   message NoiseExtensions {
//     repeated bytes webtransport_certhashes = 1;
//     repeated string stream_muxers = 2;
//   }
//   message NoiseHandshakePayload {
//     optional bytes identity_key = 1;  // libp2p PublicKey protobuf
//     optional bytes identity_sig = 2;  // identity signature of static_key_signing_input
//     optional NoiseExtensions extensions = 4;
//   }
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "common/bytes.hpp"
#include "common/error.hpp"

namespace peerup::noise {

// SECURITY: bounds on what a peer may make us store from one payload. The
// frame already caps the total at 64 KiB; these cap the element counts.
inline constexpr std::size_t max_payload_muxers = 16;
inline constexpr std::size_t max_payload_certhashes = 16;
inline constexpr std::size_t max_muxer_name = 256;

inline constexpr std::string_view static_key_signature_prefix = "noise-libp2p-static-key:";

struct handshake_payload {
  bytes identity_key;
  bytes identity_sig;
  std::vector<bytes> webtransport_certhashes;
  std::vector<std::string> stream_muxers;

  bool operator==(const handshake_payload&) const = default;
};

bytes encode_payload(const handshake_payload& p);
// Unknown fields (including the legacy `data = 3`) are skipped.
// Errors: invalid_protobuf, noise_handshake_failed (wrong wire type), too_large.
result<handshake_payload> decode_payload(byte_span in);

// "noise-libp2p-static-key:" || the X25519 static public key: what the
// identity key signs.
bytes static_key_signing_input(byte_span static_public_key);

}  // namespace peerup::noise
