// AutoNAT v1 message (specs autonat/autonat-v1.md), proto2. Every field is
// optional in the proto; the protocol layer checks which ones it needs.
//
// AutoNAT v2 (/libp2p/autonat/2/dial-request, autonat-v2.md) is a different
// message set and is not implemented here.
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

inline constexpr std::string_view autonat_protocol_id = "/libp2p/autonat/1.0.0";

// go-libp2p's autonat v1 bound.
inline constexpr std::size_t autonat_max_message_size = 4096;
inline constexpr std::size_t autonat_max_addrs = 128;

enum class autonat_message_type : std::uint32_t { dial = 0, dial_response = 1 };

// Open enum: unknown values are kept so they can be logged.
enum class autonat_response_status : std::uint32_t {
  ok = 0,
  e_dial_error = 100,
  e_dial_refused = 101,
  e_bad_request = 200,
  e_internal_error = 300,
};

struct autonat_peer_info {
  std::optional<bytes> id;                    // 1: peer ID multihash
  std::vector<bytes> addrs;                   // 2: binary multiaddrs
  std::vector<multiaddr> multiaddrs() const;  // unparseable addresses skipped
  friend bool operator==(const autonat_peer_info&, const autonat_peer_info&) = default;
};

struct autonat_dial {
  std::optional<autonat_peer_info> peer;  // 1
  friend bool operator==(const autonat_dial&, const autonat_dial&) = default;
};

struct autonat_dial_response {
  std::optional<autonat_response_status> status;  // 1
  std::optional<std::string> status_text;         // 2
  std::optional<bytes> addr;                      // 3: binary multiaddr
  friend bool operator==(const autonat_dial_response&, const autonat_dial_response&) = default;
};

struct autonat_message {
  // 1. An unknown value decodes as absent (proto2 unknown enum value).
  std::optional<autonat_message_type> type;
  std::optional<autonat_dial> dial;                    // 2
  std::optional<autonat_dial_response> dial_response;  // 3

  static autonat_message dial_request(bytes id, std::vector<bytes> addrs);
  static autonat_message dial_request(const peer_id& id, const std::vector<multiaddr>& addrs);
  static autonat_message response(autonat_response_status s, std::optional<bytes> addr = {},
                                  std::optional<std::string> text = {});

  bytes encode() const;
  static result<autonat_message> decode(byte_span in);
  friend bool operator==(const autonat_message&, const autonat_message&) = default;
};

}  // namespace peerup::wire
