#include "common/error.hpp"

namespace peerup {
namespace {

class category final : public boost::system::error_category {
 public:
  const char* name() const noexcept override { return "peerup"; }

  std::string message(int ev) const override {
    switch (static_cast<errc>(ev)) {
      case errc::ok: return "success";
      case errc::truncated: return "input truncated";
      case errc::varint_overflow: return "varint overflow";
      case errc::varint_not_minimal: return "varint not minimally encoded";
      case errc::invalid_base58: return "invalid base58btc character";
      case errc::invalid_base32: return "invalid base32 character";
      case errc::unknown_multibase: return "unknown multibase prefix";
      case errc::unknown_multihash: return "unknown multihash code";
      case errc::multihash_length: return "multihash digest length mismatch";
      case errc::unknown_protocol: return "unknown multiaddr protocol";
      case errc::invalid_multiaddr: return "invalid multiaddr";
      case errc::invalid_peer_id: return "invalid peer ID";
      case errc::invalid_protobuf: return "malformed protobuf";
      case errc::too_large: return "length or count exceeds its limit";
      case errc::invalid_base64: return "invalid base64url text";
      case errc::invalid_key: return "invalid key encoding";
      case errc::unsupported_key_type: return "unsupported key type";
      case errc::bad_signature: return "signature verification failed";
      case errc::decrypt_failed: return "decryption failed (bad tag)";
      case errc::nonce_exhausted: return "cipher nonce exhausted";
      case errc::protocol_not_supported: return "protocol not supported by peer";
      case errc::multistream_header: return "peer does not speak multistream-select 1.0";
      case errc::multistream_message: return "malformed multistream-select message";
      case errc::noise_handshake_failed: return "noise handshake failed";
      case errc::peer_id_mismatch: return "remote peer ID differs from the one dialed";
      case errc::unsupported_muxer: return "no common stream muxer";
      case errc::noise_out_of_order: return "Noise handshake step called out of order";
      case errc::yamux_protocol: return "yamux protocol violation";
      case errc::yamux_window_exceeded: return "yamux receive window exceeded";
      case errc::yamux_too_many_streams: return "too many yamux streams";
      case errc::yamux_go_away: return "yamux session going away";
      case errc::stream_reset: return "stream reset by peer";
      case errc::stream_closed: return "stream closed";
      case errc::connection_denied: return "connection denied by gater";
      case errc::connection_closed: return "connection closed";
      case errc::timeout: return "operation timed out";
      case errc::no_addresses: return "no addresses known for peer";
      case errc::dial_failed: return "all dial attempts failed";
      case errc::resource_limit: return "resource limit reached";
      case errc::invalid_argument: return "invalid argument";
      case errc::ping_mismatch: return "ping payload mismatch";
      case errc::perf_protocol: return "perf protocol violation";
      case errc::identify_invalid: return "malformed identify message";
      case errc::socks_invalid: return "malformed SOCKS5 message";
      case errc::dns_invalid: return "malformed DNS message";
      case errc::holepunch_no_addresses: return "no dialable address for hole punching";
      case errc::holepunch_protocol: return "DCUtR protocol violation";
      case errc::holepunch_failed: return "hole punching failed";
      case errc::autonat_protocol: return "AutoNAT protocol violation";
      case errc::autonat_refused: return "AutoNAT server refused to dial back";
      case errc::relay_reservation_refused: return "relay refused the reservation";
      case errc::relay_resource_limit: return "relay resource limit exceeded";
      case errc::relay_permission_denied: return "relay permission denied";
      case errc::relay_connection_failed: return "relay could not connect to target";
      case errc::relay_no_reservation: return "target has no reservation on the relay";
      case errc::relay_malformed_message: return "malformed relay message";
      case errc::relay_unexpected_message: return "unexpected relay message";
      case errc::config_invalid: return "invalid configuration";
      case errc::unauthorized: return "peer not authorized";
      case errc::service_unavailable: return "local service unavailable";
      case errc::name_not_found: return "name not found";
      case errc::name_lookup_failed: return "name lookup failed (a relay could not be asked)";
      case errc::quic_handshake_failed: return "QUIC handshake failed";
      case errc::quic_protocol: return "QUIC protocol violation";
      case errc::quic_too_many_streams: return "QUIC peer allows no more streams";
      case errc::quic_internal: return "QUIC internal error";
      case errc::kad_malformed_message: return "malformed kad-dht message";
      case errc::kad_record_invalid: return "invalid DHT record";
      case errc::kad_store_full: return "DHT store full";
      case errc::federation_malformed_message: return "malformed federation message or name record";
      case errc::federation_not_peered: return "no federation peering for that network or relay";
      case errc::federation_not_trusted: return "the federation trust level forbids this direction";
      case errc::federation_record_signer:
        return "name record not signed by the relay of its network";
      case errc::federation_wrong_network: return "name record claims another network";
      case errc::federation_record_expired: return "name record expired or issued in the future";
      case errc::federation_rate_limited: return "federation lookups rate-limited";
      case errc::federation_loop: return "federation request forwarded or looped back";
      case errc::federation_unreachable: return "federated network unreachable";
      case errc::quic_datagrams_unsupported:
        return "QUIC datagrams not negotiated (the peer offers none)";
      case errc::quic_datagram_too_large: return "QUIC datagram larger than the path allows";
      case errc::birthday_malformed: return "malformed birthday hole punch message";
      case errc::birthday_unsuitable:
        return "birthday hole punch not tried: it needs one hard (symmetric) and one easy NAT";
      case errc::birthday_no_hit:
        return "birthday hole punch: no probe got through within its bounds";
      case errc::tun_packet_too_short: return "IP packet too short";
      case errc::tun_packet_version: return "IP version is neither 4 nor 6";
      case errc::tun_packet_header_length: return "bad IPv4 header length";
      case errc::tun_packet_length_mismatch: return "IP length field does not match the packet";
      case errc::tun_packet_checksum: return "bad IPv4 header checksum";
      case errc::tun_packet_extension_headers: return "malformed IPv6 extension headers";
      case errc::tun_frame_invalid: return "malformed /peerup/ip/1.0.0 frame";
      case errc::tun_unavailable: return "cannot create a TUN interface";
      case errc::tun_device: return "cannot configure the TUN interface";
      case errc::tun_offload_invalid: return "TUN offload header does not fit its packet";
      case errc::tls_certificate_generation: return "could not generate the TLS certificate";
      case errc::tls_certificate_chain: return "peer must send exactly one TLS certificate";
      case errc::tls_certificate_too_large: return "TLS certificate too large";
      case errc::tls_certificate_malformed: return "malformed TLS certificate";
      case errc::tls_certificate_not_yet_valid: return "TLS certificate not yet valid";
      case errc::tls_certificate_expired: return "TLS certificate expired";
      case errc::tls_certificate_key_refused: return "TLS certificate key type or size refused";
      case errc::tls_certificate_bad_self_signature:
        return "TLS certificate self-signature invalid";
      case errc::tls_extension_missing: return "TLS certificate lacks the libp2p key extension";
      case errc::tls_extension_malformed: return "malformed libp2p key extension (SignedKey)";
      case errc::tls_unknown_critical_extension:
        return "TLS certificate has a critical extension we do not understand";
      case errc::tls_host_key_refused: return "libp2p key extension carries a host key we refuse";
      case errc::tls_host_signature_invalid:
        return "libp2p key extension signature does not verify with the host key";
      case errc::pake_invalid_share: return "invalid PAKE share";
      case errc::invite_invalid: return "invalid invite code";
      case errc::invite_expired: return "invite expired";
      case errc::invite_wrong_code: return "wrong invite code";
      case errc::invite_locked: return "invite locked after too many wrong codes";
      case errc::invite_used: return "invite already used";
      case errc::pairing_protocol: return "pairing protocol error";
      case errc::control_target_unknown: return "no peer ID, name or address for the target";
      case errc::relay_invite_protocol: return "relay invite protocol error";
      case errc::relay_invite_refused: return "the relay refused to make an invite";
      case errc::rendezvous_protocol: return "rendezvous protocol error";
      case errc::rendezvous_unknown:
        return "the relay holds no invite for this code (expired, used, or a typo)";
      case errc::rendezvous_refused: return "the relay refused to hold the invite";
    }
    return "unknown peerup error " + std::to_string(ev);
  }
};

}  // namespace

const boost::system::error_category& peerup_category() noexcept {
  static const category instance;
  return instance;
}

}  // namespace peerup
