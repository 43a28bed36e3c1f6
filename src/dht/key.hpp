// Kademlia keys and the XOR metric (libp2p specs kad-dht/README.md,
// "Distance"): every key, a peer ID's bytes included, is first hashed with
// SHA-256, and the distance between two keys is the XOR of their hashes read
// as a 256-bit big-endian number.
#pragma once

#include <array>
#include <compare>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "common/bytes.hpp"
#include "multiformats/peer_id.hpp"

namespace peerup::dht {

inline constexpr std::size_t key_bits = 256;

class kad_key {
 public:
  using digest = std::array<std::uint8_t, 32>;

  // SHA-256 of the raw key bytes (a provider CID's multihash, a record key).
  static kad_key of(byte_span raw);
  // SHA-256 of the peer ID's multihash bytes, as go, rust and js compute it.
  static kad_key of(const peer_id& id) { return of(id.to_bytes()); }
  // A key given by its hash, for tests and for random lookup targets.
  static kad_key from_digest(const digest& d) { return kad_key(d); }

  const digest& bytes() const { return h_; }
  std::string to_hex() const;

  friend bool operator==(const kad_key&, const kad_key&) = default;
  friend auto operator<=>(const kad_key&, const kad_key&) = default;

 private:
  explicit kad_key(const digest& d) : h_(d) {}
  digest h_{};
};

// XOR distance; compares as a big-endian number with operator<=>.
struct distance {
  kad_key::digest d{};
  friend auto operator<=>(const distance&, const distance&) = default;
};

distance xor_distance(const kad_key& a, const kad_key& b);

// Number of leading bits `a` and `b` share: 256 for equal keys. The bucket of
// a peer in a routing table is its common prefix length with the table's own key.
std::size_t common_prefix_length(const kad_key& a, const kad_key& b);

// A key whose common prefix with `base` is exactly `cpl` bits (cpl < 256), the
// rest taken from `random` (32 random bytes). Bootstrap looks such keys up to
// refresh bucket `cpl`.
kad_key key_in_bucket(const kad_key& base, std::size_t cpl, const kad_key::digest& random);

// The provider key of a namespace string: the sha2-256 multihash of its
// bytes, the multihash of the CID go-libp2p's routing discovery advertises
// (CIDv1, raw, sha2-256 of the namespace).
bytes namespace_key(std::string_view ns);
// What peer-up relays provide (`peerup dht providers /peerup/relays`).
inline constexpr std::string_view relay_namespace = "/peerup/relays";
// A peer's own provider key, namespace_key("/peerup/peer/<peer ID>"): on a
// DHT whose servers have no validator for our records (the public Amino
// DHT: go and js refuse unknown record namespaces), a node announces itself
// as the provider of this key, and servers keep only providers that are the
// sender, so only the peer itself can appear there.
inline std::string peer_namespace(const std::string& peer_id_text) {
  return "/peerup/peer/" + peer_id_text;
}

}  // namespace peerup::dht
