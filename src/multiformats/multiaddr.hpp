// Multiaddr (multiformats/multiaddr): a self-describing network address,
// "/ip4/1.2.3.4/tcp/4001/p2p/12D3KooW..." in text, <varint code><value>... in bytes.
// Always valid: every way to build one checks it.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/bytes.hpp"
#include "common/error.hpp"
#include "multiformats/multiaddr_protocols.hpp"
#include "multiformats/peer_id.hpp"

namespace peerup {

class multiaddr {
 public:
  // SECURITY: bounds for addresses from the network (identify, relay, DCUtR).
  static constexpr std::size_t max_binary_length = 1024;
  static constexpr std::size_t max_text_length = 2048;
  static constexpr std::size_t max_components = 64;

  struct component {
    std::uint64_t code;
    bytes value;  // without the length prefix
    friend bool operator==(const component&, const component&) = default;
  };

  struct host_port {
    std::string host;  // IP text (IPv6 without brackets) or DNS name
    std::uint16_t port;
    enum kind { ip4, ip6, dns4, dns6, dns } kind;
  };

  multiaddr() = default;  // the empty address; the neutral element of encapsulate

  // errc::invalid_multiaddr, errc::unknown_protocol, errc::too_large.
  static result<multiaddr> parse(std::string_view text);
  static result<multiaddr> from_bytes(byte_span in);
  // `ip` is IPv4 dotted quad or IPv6 text, optionally with a %zone (becomes
  // /ip6zone). Throws std::invalid_argument on anything else: callers pass
  // addresses that came from a socket.
  static multiaddr from_tcp(std::string_view ip, std::uint16_t port);
  static multiaddr from_peer(const peer_id& id);  // "/p2p/<id>"

  std::string to_string() const;
  const bytes& to_bytes() const { return bytes_; }
  const std::vector<component>& components() const { return components_; }
  bool empty() const { return components_.empty(); }

  // The last /p2p component, if any.
  std::optional<peer_id> peer() const;
  multiaddr encapsulate(const multiaddr& inner) const;
  // Drops a trailing /p2p component.
  multiaddr without_peer() const;
  // Replaces (or adds) the trailing /p2p component.
  multiaddr with_peer(const peer_id& id) const;
  bool is_relayed() const;  // contains /p2p-circuit
  // For ".../p2p/<relay>/p2p-circuit[/p2p/<target>]": everything before the
  // last /p2p-circuit, i.e. how to reach the relay.
  std::optional<multiaddr> relay_addr() const;
  // For addresses starting /ip4|ip6|dns|dns4|dns6/<host>/tcp/<port>.
  std::optional<host_port> tcp_target() const;

  friend bool operator==(const multiaddr& a, const multiaddr& b) { return a.bytes_ == b.bytes_; }

 private:
  void append_component(std::uint64_t code, byte_span value);
  multiaddr prefix(std::size_t count) const;

  bytes bytes_;
  std::vector<component> components_;
};

}  // namespace peerup

template <>
struct std::hash<peerup::multiaddr> {
  std::size_t operator()(const peerup::multiaddr& a) const noexcept;
};
