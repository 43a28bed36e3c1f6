// The one project error enum. Expected failures travel as
// boost::system::error_code (or result<T>) built from these values; exceptions
// are only for start-up and configuration failures.
//
// Append new values inside the right area block; never renumber, because
// values appear in logs and tests.
#pragma once

#include <boost/system/error_code.hpp>
#include <boost/system/result.hpp>

namespace peerup {

enum class errc {
  ok = 0,

  // --- encoding (multiformats, protobuf) 1-99 ---
  truncated = 1,       // input ended in the middle of a value
  varint_overflow,     // varint longer than 9 bytes or above 2^63-1
  varint_not_minimal,  // varint encoded with redundant trailing zero groups
  invalid_base58,      // character outside the base58btc alphabet
  invalid_base32,      // character outside the RFC 4648 lower-case alphabet
  unknown_multibase,   // multibase prefix we do not decode
  unknown_multihash,   // multihash code other than identity / sha2-256
  multihash_length,    // multihash digest length does not match its code
  unknown_protocol,    // multiaddr protocol code or name we do not know
  invalid_multiaddr,   // multiaddr text or binary is malformed
  invalid_peer_id,     // peer ID text or bytes are malformed
  invalid_protobuf,    // protobuf wire format is malformed
  too_large,           // a length or count exceeds its bound
  invalid_base64,      // base64url text (multibase 'u') is malformed

  // --- crypto 100-199 ---
  invalid_key = 100,     // key bytes have the wrong size or encoding
  unsupported_key_type,  // key type we cannot use for this purpose
  bad_signature,         // signature did not verify
  decrypt_failed,        // AEAD tag mismatch: corrupted or forged frame
  nonce_exhausted,       // 2^64-1 messages sent on one cipher state

  // --- protocol negotiation 200-299 ---
  protocol_not_supported = 200,  // multistream-select answered "na" to every proposal
  multistream_header,            // peer did not speak /multistream/1.0.0
  multistream_message,           // malformed multistream-select message
  noise_handshake_failed,        // Noise XX handshake message was malformed
  peer_id_mismatch,              // authenticated peer is not the one we dialed
  unsupported_muxer,             // no common stream muxer
  noise_out_of_order,            // Noise handshake step called in the wrong state (caller bug)

  // --- yamux 300-399 ---
  yamux_protocol = 300,    // peer violated the yamux framing rules
  yamux_window_exceeded,   // peer sent more data than our receive window
  yamux_too_many_streams,  // stream limit reached, stream refused
  yamux_go_away,           // session is going away, no new streams
  stream_reset,            // remote reset the stream
  stream_closed,           // write after local close, or read after remote FIN with no data

  // --- connection / host 400-499 ---
  connection_denied = 400,  // connection gater refused the peer
  connection_closed,        // the underlying connection is gone
  timeout,                  // an operation ran past its deadline
  no_addresses,             // no known address to dial the peer
  dial_failed,              // every address failed to dial
  resource_limit,           // a resource limit refused the operation
  invalid_argument,         // a caller passed a value out of range

  // --- protocols 500-599 ---
  ping_mismatch = 500,  // ping payload echoed back wrong
  perf_protocol,        // perf peer broke the protocol
  identify_invalid,     // identify message was malformed
  socks_invalid,        // SOCKS5 client broke the RFC 1928/1929 framing
  dns_invalid,          // DNS message too short to answer, or not a query
  holepunch_no_addresses,  // no dialable, non-relay address to exchange or dial (DCUtR)
  holepunch_protocol,      // DCUtR peer sent a malformed or out-of-order message
  holepunch_failed,        // every DCUtR round ended without a direct connection
  autonat_protocol,        // AutoNAT peer sent a malformed or unexpected message
  autonat_refused,         // AutoNAT server refused to dial back (E_DIAL_REFUSED/BAD_REQUEST/...)

  // --- relay 600-699 ---
  relay_reservation_refused = 600,  // relay said RESERVATION_REFUSED (200)
  relay_resource_limit,             // relay said RESOURCE_LIMIT_EXCEEDED (201)
  relay_permission_denied,          // relay or target refused us (202)
  relay_connection_failed,          // relay could not reach the target (203)
  relay_no_reservation,             // target has no reservation on the relay (204)
  relay_malformed_message,          // peer sent a malformed hop/stop message (400)
  relay_unexpected_message,         // peer sent a message out of order (401)

  // --- application 700-799 ---
  config_invalid = 700,  // configuration file is invalid
  unauthorized,          // peer is not in authorized_keys for this service
  service_unavailable,   // the local service refused the connection
  name_not_found,        // no tier resolved the name
  name_lookup_failed,    // no tier resolved it, and a tier that might have could not be asked

  // --- pairing 800-899 (crypto/cpace, wire/invite, wire/pairing) ---
  pake_invalid_share = 800,  // CPace share does not decode, or K is the identity
  invite_invalid,            // invite code or link is malformed (the message says where)
  invite_expired,            // the invite's expiry has passed
  invite_wrong_code,         // key confirmation failed: the code does not match
  invite_locked,             // too many wrong codes: the invite is locked
  invite_used,               // the invite was already used (single use)
  pairing_protocol,          // pairing peer sent a malformed or out-of-order message
  relay_invite_protocol = 807,  // relay-invite peer sent a malformed message (wire/relay_invite)
  relay_invite_refused,         // the relay will not make an invite for us (not a sponsor, full)
  rendezvous_protocol = 809,    // rendezvous peer sent a malformed message (wire/rendezvous)
  rendezvous_unknown,           // the relay holds no invite under that short code (gone or a typo)
  rendezvous_refused,           // the relay will not hold our sealed invite (not authorized, full)

  // --- TLS certificates (libp2p tls.md) 900-999 ---
  tls_certificate_generation = 900,    // GnuTLS could not make our certificate or credentials
  tls_certificate_chain,               // peer sent no certificate, or more than one
  tls_certificate_too_large,           // certificate above max_tls_certificate_length
  tls_certificate_malformed,           // not strict-DER X.509 v3, or carries unique IDs
  tls_certificate_not_yet_valid,       // NotBefore is after now
  tls_certificate_expired,             // NotAfter is before now
  tls_certificate_key_refused,         // certificate key type or size we do not accept
  tls_certificate_bad_self_signature,  // self-signature does not verify with the certificate key
  tls_extension_missing,               // no libp2p public key extension (1.3.6.1.4.1.53594.1.1)
  tls_extension_malformed,             // libp2p extension repeated, or SignedKey not strict DER
  tls_unknown_critical_extension,      // critical extension we do not understand (or bad keyUsage)
  tls_host_key_refused,                // SignedKey publicKey is not a host key we accept
  tls_host_signature_invalid,          // SignedKey signature does not verify with the host key

  // --- quic 1000-1099 ---
  quic_handshake_failed = 1000,  // QUIC/TLS handshake failed (ALPN, TLS alert, no certificate)
  quic_protocol,                 // peer violated QUIC (ngtcp2 closed the connection)
  quic_too_many_streams,         // the peer's MAX_STREAMS allows no new stream now
  quic_internal,                 // ngtcp2 or GnuTLS failed locally (allocation, setup)
  quic_datagrams_unsupported = 1004,  // RFC 9221 datagrams not negotiated (a side offers none)
  quic_datagram_too_large,            // datagram larger than max_datagram_size() allows now
  birthday_malformed = 1006,  // a /peerup/birthday message was malformed (size, version, hint)
  birthday_unsuitable,        // NAT kinds do not call for a birthday punch (needs one hard, one easy)
  birthday_no_hit,            // no birthday probe got through within its packet and time bounds

  // --- TUN network mode 1100-1199 (src/tun) ---
  tun_packet_too_short = 1100,  // IP packet shorter than its fixed header (20 or 40 bytes)
  tun_packet_version,           // IP version nibble is neither 4 nor 6
  tun_packet_header_length,     // IPv4 IHL below 5 or past the packet's end
  tun_packet_length_mismatch,   // IP total/payload length differs from the bytes received
  tun_packet_checksum,          // IPv4 header checksum is wrong
  tun_packet_extension_headers, // IPv6 extension header chain malformed or longer than we walk
  tun_frame_invalid,            // /peerup/ip/1.0.0 frame: zero or oversized length, bad hello
  tun_unavailable,              // no /dev/net/tun, or no CAP_NET_ADMIN to create the interface
  tun_device,                   // the TUN interface could not be configured (ioctl failed)
  tun_offload_invalid = 1109,   // a TUN read's virtio_net_hdr (offload) does not fit its packet

  // --- control/metrics/ops 1200-1299 ---
  control_target_unknown = 1200,  // control API: no peer ID, name or address for the target

  // --- dht 1300-1399 ---
  kad_malformed_message = 1300,  // a kad-dht message breaks the schema or a bound (empty peer ID)
  kad_record_invalid,            // a DHT record fails its validator (signature, key, expiry)
  kad_store_full,                // the record or provider store is at its bound for this peer

  // --- relay federation 1400-1499 (docs/federation.md) ---
  federation_malformed_message = 1400,  // federation message or name record breaks schema or bound
  federation_not_peered,          // no peering for that network, or the relay is not a peer
  federation_not_trusted,         // the peering's trust level forbids this direction (one_way)
  federation_record_signer,       // name record not signed by the relay configured for its network
  federation_wrong_network,       // a name record claims another network than the peering's
  federation_record_expired,      // name record's issued + ttl is past, or issued in the future
  federation_rate_limited,        // the per-peer-relay lookup bucket is empty
  federation_loop,                // a forwarded request (hops > 0) or one from our own network
  federation_unreachable,         // the peer relay could not be asked, and no cached answer left
};

const boost::system::error_category& peerup_category() noexcept;

inline boost::system::error_code make_error_code(errc e) noexcept {
  return {static_cast<int>(e), peerup_category()};
}

template <class T>
using result = boost::system::result<T>;

}  // namespace peerup

namespace boost::system {
template <>
struct is_error_code_enum<peerup::errc> : std::true_type {};
}  // namespace boost::system
