// Kademlia DHT RPC messages (libp2p specs kad-dht/README.md, "RPC messages").
//
// go-libp2p-kad-dht compiles the schema as proto3, so a sender may omit any
// field that holds its default: a missing `type` is PUT_VALUE (0), a missing
// `connection` is NOT_CONNECTED. We always write `type`, which proto3 readers
// accept.
//
// Lists from the network are truncated, not refused: a go node answers
// GET_PROVIDERS with every provider it stores, and some peers announce dozens
// of addresses. We keep the first kad_max_peers / kad_max_addrs and count what
// was dropped, so memory stays bounded and interop stays intact.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/bytes.hpp"
#include "common/error.hpp"
#include "multiformats/multiaddr.hpp"
#include "multiformats/peer_id.hpp"

namespace peerup::wire {

// A private peer-up DHT by default; "/ipfs/kad/1.0.0" joins the public Amino DHT.
inline constexpr std::string_view kad_peerup_protocol_id = "/peerup/kad/1.0.0";
inline constexpr std::string_view kad_amino_protocol_id = "/ipfs/kad/1.0.0";

// SECURITY: bounds on everything read from the network. A full FIND_NODE
// answer (20 peers with a handful of addresses each) is 2-4 KiB; rust-libp2p
// refuses messages over 16 KiB by default, go-libp2p over 4 MiB. 64 KiB holds
// a GET_PROVIDERS answer with kad_max_peers providers and closer peers.
inline constexpr std::size_t kad_max_message_size = 64 * 1024;
inline constexpr std::size_t kad_max_peers = 64;       // per list (closer, provider)
inline constexpr std::size_t kad_max_addrs = 32;       // per peer
inline constexpr std::size_t kad_max_addr_size = 256;  // one binary multiaddr
inline constexpr std::size_t kad_max_peer_id_size =
    64;                                               // identity multihash of an Ed25519 key is 38
inline constexpr std::size_t kad_max_key_size = 256;  // "/ipns/<multihash>" is ~40
inline constexpr std::size_t kad_max_value_size = 16 * 1024;  // a signed peer record is < 1 KiB

enum class kad_type : std::uint32_t {
  put_value = 0,
  get_value = 1,
  add_provider = 2,
  get_providers = 3,
  find_node = 4,
  ping = 5,  // deprecated by the spec: answered, never sent
};

enum class kad_connection : std::uint32_t {
  not_connected = 0,   // no live connection to the peer, nothing known (default)
  connected = 1,       // a live connection to the peer
  can_connect = 2,     // recently connected
  cannot_connect = 3,  // recently tried hard and failed
};

struct kad_peer {
  bytes id;                                                   // 1: peer ID multihash
  std::vector<bytes> addrs;                                   // 2: binary multiaddrs
  kad_connection connection = kad_connection::not_connected;  // 3

  static kad_peer from(const peer_id& id, const std::vector<multiaddr>& addrs = {},
                       kad_connection c = kad_connection::not_connected);
  result<peer_id> parsed_id() const { return peer_id::from_bytes(id); }
  std::vector<multiaddr> multiaddrs() const;  // addresses that do not parse are skipped
  friend bool operator==(const kad_peer&, const kad_peer&) = default;
};

struct kad_record {
  bytes key;                  // 1
  bytes value;                // 2
  std::string time_received;  // 5: RFC 3339, set by the receiver; kept as text
  friend bool operator==(const kad_record&, const kad_record&) = default;
};

struct kad_message {
  kad_type type = kad_type::put_value;   // 1
  bytes key;                             // 2
  std::optional<kad_record> record;      // 3
  std::vector<kad_peer> closer_peers;    // 8
  std::vector<kad_peer> provider_peers;  // 9
  // Not on the wire: how many peers/addresses the decoder left out because a
  // list was over its bound (for logs and metrics).
  std::size_t dropped = 0;

  static kad_message find_node(byte_span key);
  static kad_message get_providers(byte_span key);
  static kad_message add_provider(byte_span key, kad_peer self);
  static kad_message get_value(byte_span key);
  static kad_message put_value(kad_record r);

  bytes encode() const;
  // Refuses: over kad_max_message_size (errc::too_large), bad protobuf, a type
  // outside the enum, a key/value/peer ID/address over its bound, a peer with
  // an empty ID (errc::kad_malformed_message).
  static result<kad_message> decode(byte_span in);
  friend bool operator==(const kad_message& a, const kad_message& b) {
    return a.type == b.type && a.key == b.key && a.record == b.record &&
           a.closer_peers == b.closer_peers && a.provider_peers == b.provider_peers;
  }
};

}  // namespace peerup::wire
