// What the gateway's DNS server answers, decided without I/O: a query inside
// the zone (default "p2p") needs a name lookup, everything else is answered at
// once (REFUSED outside the zone: the server is authoritative-only and never
// recursive). Once the lookup is done, answer_found / answer_missing build
// the reply.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>

#include "wire/dns_message.hpp"

namespace peerup::app {

struct dns_zone_settings {
  std::string zone = "p2p";
  std::uint32_t ttl = 60;
  bool aaaa = false;  // answer AAAA with the IPv4-mapped virtual address
};

struct dns_decision {
  enum class kind { respond, lookup };
  kind what = kind::respond;
  wire::dns::answer immediate;  // kind::respond
  // kind::lookup: the labels below the zone as the client wrote them, e.g.
  // "laptop.grewal" for "laptop.grewal.p2p".
  std::string host;
};

dns_decision decide(const wire::dns::query& q, const dns_zone_settings& s);

// `ip` is the virtual IPv4 address of the name (host order). `v6`, when set,
// is the name's own IPv6 address (network mode: its fd70:6565:7275::/48
// address on the TUN interface); AAAA then answers with it, whatever
// s.aaaa says, instead of an IPv4-mapped address.
wire::dns::answer answer_found(const wire::dns::query& q, const dns_zone_settings& s,
                               std::uint32_t ip,
                               const std::optional<std::array<std::uint8_t, 16>>& v6 = std::nullopt);
// NXDOMAIN with the zone's SOA, so resolvers cache the miss for `ttl`.
wire::dns::answer answer_missing(const dns_zone_settings& s);
// SERVFAIL: the lookup itself failed (timeout, relay down); try again later.
wire::dns::answer answer_failed();

}  // namespace peerup::app
