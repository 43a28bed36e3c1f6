// What a node or relay may listen on: /ip4|ip6/<ip>/tcp/<port> or
// /ip4|ip6/<ip>/udp/<port>/quic-v1, with an IP (no DNS) and nothing else.
// Shared by config.yaml, relay.yaml and `relay serve --listen`, so all three
// accept and refuse the same addresses.
#pragma once

#include "multiformats/multiaddr.hpp"
#include "multiformats/multiaddr_protocols.hpp"

namespace peerup::app {

inline bool is_listen_addr(const multiaddr& a) {
  namespace mc = multiaddr_protocols::code;
  const auto& c = a.components();
  if (c.empty() || (c[0].code != mc::ip4 && c[0].code != mc::ip6)) return false;
  if (c.size() == 2) return c[1].code == mc::tcp;
  return c.size() == 3 && c[1].code == mc::udp && c[2].code == mc::quic_v1;
}

inline constexpr const char* listen_addr_example =
    "/ip4/0.0.0.0/tcp/4001 or /ip4/0.0.0.0/udp/4001/quic-v1";

}  // namespace peerup::app
