// DCUtR (Direct Connection Upgrade through Relay) HolePunch message
// (specs relay/DCUtR.md), proto2.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

#include "common/bytes.hpp"
#include "common/error.hpp"
#include "multiformats/multiaddr.hpp"

namespace peerup::wire {

inline constexpr std::string_view dcutr_protocol_id = "/libp2p/dcutr";

// The spec: implementations SHOULD refuse messages larger than 4 KiB.
inline constexpr std::size_t dcutr_max_message_size = 4096;
inline constexpr std::size_t dcutr_max_obs_addrs = 128;

enum class hole_punch_type : std::uint32_t { connect = 100, sync = 300 };

struct hole_punch_message {
  // 1, optional in the proto. An unknown value decodes as absent (proto2);
  // go-libp2p reads an absent type as CONNECT, the proto2 default, so the
  // protocol layer should require the type it expects rather than trust it.
  std::optional<hole_punch_type> type;
  std::vector<bytes> obs_addrs;  // 2: binary multiaddrs

  static hole_punch_message connect(std::vector<bytes> addrs);
  static hole_punch_message connect(const std::vector<multiaddr>& addrs);
  static hole_punch_message sync();
  std::vector<multiaddr> obs_multiaddrs() const;  // unparseable addresses skipped

  bytes encode() const;
  static result<hole_punch_message> decode(byte_span in);
  friend bool operator==(const hole_punch_message&, const hole_punch_message&) = default;
};

}  // namespace peerup::wire
