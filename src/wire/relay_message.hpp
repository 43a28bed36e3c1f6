// Circuit Relay v2 hop and stop messages and the reservation voucher payload
// (specs relay/circuit-v2.md), proto2.
//
// Peer IDs and multiaddrs stay as the bytes that were on the wire; the
// protocol layer turns them into peer_id / multiaddr where it needs them.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

#include "common/bytes.hpp"
#include "common/error.hpp"
#include "multiformats/multiaddr.hpp"
#include "multiformats/peer_id.hpp"

namespace peerup::wire {

inline constexpr std::string_view relay_hop_protocol_id = "/libp2p/circuit/relay/0.2.0/hop";
inline constexpr std::string_view relay_stop_protocol_id = "/libp2p/circuit/relay/0.2.0/stop";

// go-libp2p, rust-libp2p and js-libp2p all cap hop/stop messages at 4 KiB.
inline constexpr std::size_t relay_max_message_size = 4096;
inline constexpr std::size_t relay_max_addrs = 128;  // per Peer or Reservation
// The field of hop_message::forwarded_for (a peer-up extension).
inline constexpr std::uint32_t hop_forwarded_for_field = 100;

// Open enum: values outside the list are kept so they can be logged.
enum class relay_status : std::uint32_t {
  unused = 0,  // go-libp2p's proto3 placeholder; never sent
  ok = 100,
  reservation_refused = 200,
  resource_limit_exceeded = 201,
  permission_denied = 202,
  connection_failed = 203,
  no_reservation = 204,
  malformed_message = 400,
  unexpected_message = 401,
};

// errc::ok for relay_status::ok, the matching errc::relay_* value otherwise;
// unknown codes map to errc::relay_malformed_message.
errc to_errc(relay_status s);

enum class hop_type : std::uint32_t { reserve = 0, connect = 1, status = 2 };
enum class stop_type : std::uint32_t { connect = 0, status = 1 };

struct relay_peer {
  bytes id;                  // 1, required: peer ID multihash
  std::vector<bytes> addrs;  // 2: binary multiaddrs

  static relay_peer from(const peer_id& id, const std::vector<multiaddr>& addrs = {});
  result<peer_id> parsed_id() const { return peer_id::from_bytes(id); }
  // Addresses that do not parse are skipped.
  std::vector<multiaddr> multiaddrs() const;
  friend bool operator==(const relay_peer&, const relay_peer&) = default;
};

struct relay_reservation {
  std::optional<std::uint64_t> expire;        // 1: UNIX seconds, UTC (rust-libp2p requires it)
  std::vector<bytes> addrs;                   // 2: relay addrs incl. /p2p/<relay>
  std::optional<bytes> voucher;               // 3: signed envelope of relay_voucher
  std::vector<multiaddr> multiaddrs() const;  // unparseable addresses skipped
  friend bool operator==(const relay_reservation&, const relay_reservation&) = default;
};

// An absent field, or 0, means "no limit" on that axis.
struct relay_limit {
  std::optional<std::uint32_t> duration;  // 1: seconds
  std::optional<std::uint64_t> data;      // 2: bytes per direction
  friend bool operator==(const relay_limit&, const relay_limit&) = default;
};

struct hop_message {
  hop_type type = hop_type::reserve;             // 1, required
  std::optional<relay_peer> peer;                // 2
  std::optional<relay_reservation> reservation;  // 3
  std::optional<relay_limit> limit;              // 4
  std::optional<relay_status> status;            // 5
  // 100, a peer-up extension (docs/federation.md, the forwarded path): on a
  // CONNECT from a peer relay of a federation, the member of its network on
  // whose behalf it forwards the circuit. Other implementations skip the
  // unknown field; our relays honour it only from a configured peer relay.
  std::optional<relay_peer> forwarded_for;

  static hop_message reserve() { return {}; }
  static hop_message connect(relay_peer target);
  static hop_message status_reply(relay_status s);

  bytes encode() const;
  static result<hop_message> decode(byte_span in);
  friend bool operator==(const hop_message&, const hop_message&) = default;
};

struct stop_message {
  stop_type type = stop_type::connect;  // 1, required
  std::optional<relay_peer> peer;       // 2
  std::optional<relay_limit> limit;     // 3
  std::optional<relay_status> status;   // 4

  static stop_message connect(relay_peer source, std::optional<relay_limit> limit);
  static stop_message status_reply(relay_status s);

  bytes encode() const;
  static result<stop_message> decode(byte_span in);
  friend bool operator==(const stop_message&, const stop_message&) = default;
};

// Payload of the reservation voucher envelope. All fields required; encoded
// in field order ("canonicalized" per the spec).
inline constexpr std::string_view relay_voucher_domain = "libp2p-relay-rsvp";
// Multicodec libp2p-relay-rsvp (0x0302) as the two raw bytes go/rust/js put
// in the envelope's payload_type (not varint-encoded).
inline constexpr std::uint8_t relay_voucher_payload_type[] = {0x03, 0x02};

struct relay_voucher {
  bytes relay;                   // 1: relay peer ID
  bytes peer;                    // 2: reserving peer ID
  std::uint64_t expiration = 0;  // 3: UNIX seconds, UTC

  static relay_voucher make(const peer_id& relay, const peer_id& peer, std::uint64_t expiration) {
    return {relay.to_bytes(), peer.to_bytes(), expiration};
  }

  bytes encode() const;
  static result<relay_voucher> decode(byte_span in);
  friend bool operator==(const relay_voucher&, const relay_voucher&) = default;
};

}  // namespace peerup::wire
