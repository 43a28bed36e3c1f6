// DNS messages (RFC 1035) as an authoritative-only server needs them, sans-I/O:
// parsing a query (header, one question with compression pointers, EDNS0 OPT
// of RFC 6891) and building the response, truncated (TC) to what the client
// can receive.
//
// parse_query never fails on a message that has a whole header and is a
// query: malformed content comes back as query::problem (FORMERR, NOTIMP or
// BADVERS), to be answered with encode_response and no records. Only input
// that cannot be answered at all (shorter than a header, or a response,
// which must never be answered lest two servers loop) is an error.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/bytes.hpp"
#include "common/error.hpp"

namespace peerup::wire::dns {

inline constexpr std::size_t header_size = 12;
inline constexpr std::size_t classic_udp_limit = 512;  // without EDNS0
inline constexpr std::size_t max_message_size = 65535;
// Our EDNS0 UDP payload size: the DNS flag day 2020 value, never fragmented.
inline constexpr std::uint16_t our_udp_payload = 1232;
inline constexpr std::size_t max_name_length = 255;  // wire form, RFC 1035 2.3.4
inline constexpr std::size_t max_label_length = 63;

enum class rcode : std::uint16_t {
  noerror = 0,
  formerr = 1,
  servfail = 2,
  nxdomain = 3,
  notimp = 4,
  refused = 5,
  badvers = 16,  // extended (EDNS0): the upper 8 bits travel in the OPT record
};

namespace rr_type {
inline constexpr std::uint16_t a = 1;
inline constexpr std::uint16_t ns = 2;
inline constexpr std::uint16_t soa = 6;
inline constexpr std::uint16_t aaaa = 28;
inline constexpr std::uint16_t opt = 41;
inline constexpr std::uint16_t any = 255;
}  // namespace rr_type
inline constexpr std::uint16_t class_in = 1;

struct header {
  std::uint16_t id = 0;
  std::uint16_t flags = 0;
  std::uint16_t qdcount = 0, ancount = 0, nscount = 0, arcount = 0;
  bool is_response() const { return (flags & 0x8000) != 0; }
  std::uint8_t opcode() const { return static_cast<std::uint8_t>((flags >> 11) & 0x0f); }
  bool recursion_desired() const { return (flags & 0x0100) != 0; }
};

// A domain name as its labels, each kept byte for byte as sent (so an answer
// echoes the client's letter case, which some resolvers check).
struct name {
  std::vector<std::string> labels;
  // Lower-case ASCII, dot-separated, no trailing dot; "" for the root.
  std::string text() const;
  // nullopt when a label is empty or longer than 63 bytes, or the name is
  // longer than 255 bytes in wire form. "" and "." are the root.
  static std::optional<name> from_text(std::string_view dotted);
  // True when every label is only letters, digits, '-' or '_', so text()
  // names exactly these labels (a label may hold any byte, even '.').
  bool plain_labels() const;
  // Bytes in wire form (labels + their lengths + the root's zero byte).
  std::size_t wire_size() const;
  friend bool operator==(const name&, const name&) = default;
};

struct question {
  name qname;
  std::uint16_t qtype = 0;
  std::uint16_t qclass = 0;
};

struct edns {
  std::uint16_t udp_size = 0;  // the requester's UDP payload size
  std::uint8_t version = 0;
  bool dnssec_ok = false;
};

struct query {
  header hdr;
  std::optional<question> q;  // absent when the question did not parse
  std::optional<edns> opt;    // absent without (or with a malformed) OPT
  rcode problem = rcode::noerror;
};

// errc::dns_invalid when `msg` is shorter than a header or is a response.
result<query> parse_query(byte_span msg);

struct record {
  std::optional<name> owner;  // nullopt: the question's name (compressed)
  std::uint16_t type = 0;
  std::uint32_t ttl = 0;
  bytes rdata;
};

struct answer {
  rcode code = rcode::noerror;
  bool authoritative = false;
  std::vector<record> answers;
  std::vector<record> authority;
};

// The most a response to `q` may take: 512 without EDNS0, else the
// requester's size clamped to [512, our_udp_payload]; max_message_size over TCP.
std::size_t response_limit(const query& q, bool tcp);

// The response to `q`. If it would exceed `limit`, the records are dropped
// and TC is set (the client then retries over TCP). The question is echoed
// when it parsed; an OPT record is added when the query had one.
bytes encode_response(const query& q, const answer& a, std::size_t limit);

// RDATA of an SOA record (RFC 1035 3.3.13), uncompressed.
bytes soa_rdata(const name& mname, const name& rname, std::uint32_t serial, std::uint32_t refresh,
                std::uint32_t retry, std::uint32_t expire, std::uint32_t minimum);

// A query (RD set), for tests, fuzz seeds and the benchmark. Empty when
// `dotted` is not a valid name.
bytes encode_query(std::uint16_t id, std::string_view dotted, std::uint16_t qtype,
                   std::optional<edns> opt = std::nullopt);

}  // namespace peerup::wire::dns
