// The identify / identify-push message (specs identify/README.md), proto2.
//
// Addresses, keys and the signed peer record stay as the bytes that were on
// the wire, so this codec does not depend on the multiaddr or key types.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include "common/bytes.hpp"
#include "common/error.hpp"
#include "multiformats/multiaddr.hpp"

namespace peerup::wire {

inline constexpr std::string_view identify_protocol_id = "/ipfs/id/1.0.0";
inline constexpr std::string_view identify_push_protocol_id = "/ipfs/id/push/1.0.0";

// Largest message we accept (go-libp2p signedIDSize, js MAX_IDENTIFY_MESSAGE_SIZE).
inline constexpr std::size_t identify_max_message_size = 8 * 1024;
// Largest message we send: rust-libp2p rejects identify messages above 4 KiB.
inline constexpr std::size_t identify_max_own_message_size = 4 * 1024;
// go-libp2p splits a large identify into several messages (the signed peer
// record travels alone) and reads at most this many, merging them.
inline constexpr std::size_t identify_max_messages = 10;
// Bounds on the merged result, so chunking cannot grow it without limit.
inline constexpr std::size_t identify_max_listen_addrs = 256;
inline constexpr std::size_t identify_max_protocols = 1024;

struct identify_message {
  std::optional<std::string> protocol_version;  // 5
  std::optional<std::string> agent_version;     // 6
  std::optional<bytes> public_key;              // 1: PublicKey protobuf
  std::vector<bytes> listen_addrs;              // 2: binary multiaddrs
  std::optional<bytes> observed_addr;           // 4: binary multiaddr
  std::vector<std::string> protocols;           // 3
  std::optional<bytes> signed_peer_record;      // 8: signed envelope

  // Fields in field-number order, as go and rust emit them.
  bytes encode() const;
  static result<identify_message> decode(byte_span in);
  // Parses `in` into this message with proto2 merge rules: optional fields
  // are overwritten, repeated fields appended. Used for chunked identify.
  // On error this message may hold part of `in`; discard it.
  result<void> merge(byte_span in);

  // Typed views. Addresses that do not parse are skipped, as go-libp2p does.
  std::vector<multiaddr> listen_multiaddrs() const;
  std::optional<multiaddr> observed_multiaddr() const;
  void set_listen_addrs(const std::vector<multiaddr>& addrs);

  friend bool operator==(const identify_message&, const identify_message&) = default;
};

}  // namespace peerup::wire
