// Sealing and opening Circuit Relay v2 reservation vouchers: a relay_voucher
// payload in a signed envelope (domain "libp2p-relay-rsvp", payload type
// 0x0302), signed by the relay.
#pragma once

#include "common/bytes.hpp"
#include "common/error.hpp"
#include "crypto/keys.hpp"
#include "wire/relay_message.hpp"

namespace peerup::wire {

// The envelope bytes for Reservation.voucher. The voucher names the relay, so
// `v.relay` is overwritten with the signer's peer ID.
bytes seal_relay_voucher(const private_key& relay_key, relay_voucher v);

// Verifies the envelope's domain and signature, its payload type, and that
// the relay named in the voucher is the key that signed it.
// The caller still compares `peer` with itself and `expiration` with the
// reservation it got. Errors: envelope errors (errc::too_large,
// errc::invalid_protobuf, errc::bad_signature, key errors),
// errc::relay_malformed_message for a wrong payload type or bad payload,
// errc::bad_signature when the signer is not the voucher's relay.
result<relay_voucher> open_relay_voucher(byte_span envelope_bytes);

}  // namespace peerup::wire
