// The birthday hole punch (Tailscale, "How NAT traversal works"): when one
// side is behind an endpoint-dependent ("hard", symmetric) NAT and the other
// behind an endpoint-independent ("easy") one, DCUtR cannot work: the hard
// side's NAT picks a new, unknowable port for the easy side. Instead
//   1. the hard side opens many sockets, each sending one packet to the easy
//      side's observed address: many mappings on its NAT, all towards it;
//   2. the easy side sends probes from its mapped socket to random ports of
//      the hard side's public IP (opening its own NAT towards each);
//   3. a probe that lands on one of those mappings reaches the hard side,
//      which then dials QUIC from that socket's port: its NAT mapping and
//      the easy side's filter both already fit.
// With 256 mappings among 64512 ports, 2048 probes hit with probability
// 1 - (1 - 256/64512)^2048 > 99.9%.
//
// Sans-I/O: what each side says over the relayed stream (/peerup/birthday),
// the probe datagrams, whether a side's NAT looks hard or easy, who plays
// which role, and which ports the easy side probes next. No sockets here.
//
// SECURITY: every probe carries a 16-byte token sent over the peers'
// authenticated relayed stream; datagrams without it are dropped. The
// budget (sockets, probes, time) is fixed here, not by the peer.
#pragma once

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <random>
#include <span>
#include <string_view>
#include <vector>

#include "common/bytes.hpp"
#include "common/error.hpp"

namespace peerup::wire {

inline constexpr std::string_view birthday_protocol_id = "/peerup/birthday/1.0.0";

// What a side can tell about its own NAT's UDP mappings.
enum class nat_hint : std::uint8_t {
  unknown = 0,  // no observed UDP address
  easy = 1,     // observed port == our socket's port, and every observer agrees
  hard = 2,     // observers saw different ports, or the port was rewritten
};
std::string_view to_string(nat_hint h);

// `local_port`: our QUIC listen socket's port; `observed`: the ports peers
// reported for it (identify). A NAT that keeps the port and maps one socket
// to one port for everyone is easy; one that rewrote it (Linux
// MASQUERADE --random-fully, most CGNATs) or gave observers different ports
// is taken as hard. A port-rewriting but endpoint-independent NAT is
// misjudged hard with a single observer: the birthday punch then does not
// run (both sides hard), which costs nothing but the chance.
nat_hint classify_nat(std::uint16_t local_port, std::span<const std::uint16_t> observed);

using birthday_token = std::array<std::uint8_t, 16>;

// The one message each side sends over /peerup/birthday/1.0.0, fixed size:
// version (1), hint, token, IPv4 address, port (big endian).
struct birthday_hello {
  nat_hint hint = nat_hint::unknown;
  birthday_token token{};                 // the initiator's counts; probes carry it
  std::array<std::uint8_t, 4> ip{};       // our observed public IPv4 address
  std::uint16_t port = 0;                 // our observed public UDP port

  static constexpr std::size_t size = 1 + 1 + 16 + 4 + 2;
  bytes encode() const;
  // errc::birthday_malformed names what was wrong (size, version, hint, port).
  static result<birthday_hello> decode(byte_span in);
};

enum class birthday_role { none, hard, easy };

// Both sides compute the same answer from the two hints: the birthday punch
// runs only for exactly one hard and one easy side.
birthday_role birthday_role_for(nat_hint ours, nat_hint theirs);

// Probe datagrams: magic 00 'p' 'u' 'b' (a first byte with the QUIC fixed
// bit clear, so a QUIC endpoint drops it as not-QUIC), kind, 0, index (u16),
// token.
enum class probe_kind : std::uint8_t {
  open = 1,   // hard -> easy: opens a mapping on the hard side's NAT
  probe = 2,  // easy -> hard: a guess at one of those mappings
};
struct birthday_probe {
  probe_kind kind = probe_kind::probe;
  std::uint16_t index = 0;
  static constexpr std::size_t size = 4 + 1 + 1 + 2 + 16;
};
bytes encode_probe(const birthday_probe& p, const birthday_token& token);
// SECURITY: anything but an exact-size datagram with the magic, a known
// kind and `token` is nullopt (dropped by the caller, counted).
std::optional<birthday_probe> decode_probe(byte_span in, const birthday_token& token);

// The bounds of one run, the same for both roles.
struct birthday_budget {
  std::size_t sockets = 256;      // hard side: mappings opened
  std::size_t max_probes = 2048;  // easy side: probes sent
  std::chrono::milliseconds duration{4000};  // easy side's probing (hard side waits as long)
  std::chrono::milliseconds tick{10};        // easy side sends a burst each tick
  std::size_t per_tick() const;              // probes per burst to spend the budget in time
};

// The easy side's choice of ports: distinct, uniformly random, in
// [first_port, 65535] (a NAT does not map to well-known ports), never more
// than the budget in all.
class birthday_planner {
 public:
  birthday_planner(std::uint64_t seed, std::size_t max_probes, std::uint16_t first_port = 1024);
  // Up to `n` ports not probed before; fewer (or none) once the budget is spent.
  std::vector<std::uint16_t> next(std::size_t n);
  std::size_t sent() const { return sent_; }
  bool exhausted() const { return sent_ >= max_; }

 private:
  std::mt19937_64 rng_;
  std::vector<std::uint16_t> ports_;  // ports_[0, sent_) are used, the rest a pool
  std::size_t sent_ = 0, max_;
};

}  // namespace peerup::wire
