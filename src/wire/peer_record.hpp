// libp2p peer records (specs RFC 0003): a peer's addresses with a sequence
// number, in a signed envelope (domain "libp2p-peer-record", payload type
// 0x0301) signed by the peer itself. peer-up stores them in the DHT under
// peer_record_key(peer), so a peer with no known address can be found.
//
//   message PeerRecord {
//     message AddressInfo { bytes multiaddr = 1; }
//     bytes peer_id = 1;
//     uint64 seq = 2;
//     repeated AddressInfo addresses = 3;
//   }
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

#include "common/bytes.hpp"
#include "common/error.hpp"
#include "crypto/keys.hpp"
#include "multiformats/multiaddr.hpp"
#include "multiformats/peer_id.hpp"

namespace peerup::wire {

inline constexpr std::string_view peer_record_domain = "libp2p-peer-record";
inline constexpr std::uint8_t peer_record_payload_type[] = {0x03, 0x01};
// The DHT key namespace of peer records: "/peerup-peer/" + peer ID bytes.
inline constexpr std::string_view peer_record_namespace = "/peerup-peer/";

// SECURITY: a record names a handful of addresses (direct and circuit); one
// with more is refused, not truncated, so a signed record means one thing.
inline constexpr std::size_t peer_record_max_addrs = 32;
inline constexpr std::size_t peer_record_max_size = 8 * 1024;  // the envelope

struct peer_record {
  peer_id peer;
  std::uint64_t seq = 0;  // newer records have a higher seq (we use unix microseconds)
  std::vector<multiaddr> addrs;

  bytes encode() const;
  // errc::too_large, errc::invalid_protobuf, errc::kad_record_invalid (no
  // peer ID, a bad peer ID or address, too many addresses).
  static result<peer_record> decode(byte_span in);
  friend bool operator==(const peer_record&, const peer_record&) = default;
};

// The envelope bytes; `r.peer` is set to the key's peer ID.
bytes seal_peer_record(const private_key& key, peer_record r);
// Verifies size, domain, signature and payload type, and that the signer is
// the peer the record names. Envelope errors, or errc::kad_record_invalid.
result<peer_record> open_peer_record(byte_span envelope_bytes);

// The DHT validator for peer-up records (dht/record_store): `value` must be
// a peer record signed by the very peer `key` names. Errors: errc::too_large,
// envelope errors, errc::kad_record_invalid (another namespace, another peer).
result<peer_record> validate_peer_record(byte_span key, byte_span value);

bytes peer_record_key(const peer_id& peer);
// The peer a DHT key names, when the key is in peer_record_namespace.
std::optional<peer_id> peer_of_record_key(byte_span key);

}  // namespace peerup::wire
