// The /peerup/federation/1.0.0 messages between relays that list each other
// (docs/federation.md), and the signed name record a relay hands out for the
// hosts of its own network.
//
//   message FederationRequest {
//     enum Type { LOOKUP = 0; PING = 1; MEMBER = 2; }
//     Type   type    = 1;
//     string origin  = 2;   // the asking relay's network
//     string network = 3;   // LOOKUP: the responder's network
//     string host    = 4;   // LOOKUP: the host label
//     uint32 hops    = 5;   // always 0: requests are never forwarded
//     bytes  peer    = 6;   // MEMBER: "is this peer ID your member?"
//   }
//   message FederationResponse {
//     uint32 status  = 1;   // federation_status
//     bytes  record  = 2;   // LOOKUP ok: signed envelope of a NameRecord
//     string network = 3;   // the responder's network
//     string text    = 5;   // why, for logs
//   }
//   message NameRecord {    // envelope payload, domain federation_record_domain
//     string network = 1; string host = 2; bytes peer = 3;
//     repeated bytes addrs = 4; uint64 issued = 5; uint32 ttl = 6;
//   }
//
// One request and one response per stream, each varint length-prefixed.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/bytes.hpp"
#include "common/error.hpp"
#include "crypto/keys.hpp"
#include "multiformats/multiaddr.hpp"
#include "multiformats/peer_id.hpp"
#include "wire/names_message.hpp"

namespace peerup::wire {

inline constexpr std::string_view federation_protocol_id = "/peerup/federation/1.0.0";
// The signed-envelope domain and payload type of a name record: a signature
// made for a record is never valid as a peer record or a relay voucher.
inline constexpr std::string_view federation_record_domain = "peerup-federation-name-record";
inline constexpr std::string_view federation_record_payload_type =
    "/peerup/federation/name-record";

// SECURITY: bounds on what a federation message may make us allocate. A
// record holds at most names_max_addrs addresses of at most 1 KiB each in
// theory; 8 KiB is what we accept for the whole message, envelope included.
inline constexpr std::size_t federation_max_message_size = 8192;
inline constexpr std::size_t federation_max_text = 256;
inline constexpr std::uint32_t federation_max_record_ttl = 3600;

// member: the asking relay got a CONNECT from a peer it does not know and
// asks whether that peer is one of our members (docs/federation.md,
// "Connections across networks"). ok = yes, not_found = no.
enum class federation_request_type : std::uint32_t { lookup = 0, ping = 1, member = 2 };

// Open enum: unknown values are kept for logging.
enum class federation_status : std::uint32_t {
  ok = 100,
  not_peered = 200,     // the asking relay is not one of our peerings
  not_trusted = 201,    // our peering with it forbids this direction
  not_found = 202,      // LOOKUP: no live registration of that host
  rate_limited = 203,   // the asking relay's bucket is empty
  wrong_network = 204,  // LOOKUP for a network we do not serve
  loop = 205,           // hops > 0, or a request from our own network
  malformed_message = 400,
};
std::string_view to_string(federation_status s);

struct federation_request {
  federation_request_type type = federation_request_type::lookup;
  dns_label origin;
  std::optional<dns_label> network;  // required for LOOKUP
  std::optional<dns_label> host;     // required for LOOKUP
  std::uint32_t hops = 0;
  std::optional<peer_id> peer;  // required for MEMBER

  bytes encode() const;
  // errc::federation_malformed_message for broken protobuf, a missing or
  // invalid field; errc::too_large past federation_max_message_size.
  static result<federation_request> decode(byte_span msg);
};

struct federation_response {
  federation_status status = federation_status::ok;
  bytes record;  // the sealed envelope, opened by federation_state::verify_record
  std::optional<dns_label> network;
  std::string text;

  bytes encode() const;
  static result<federation_response> decode(byte_span msg);
  static federation_response status_only(federation_status s, std::string text = {});
};

// A host of the signer's network, as the signer's name registry holds it.
struct name_record_body {
  dns_label network;
  dns_label host;
  peer_id peer;
  std::vector<multiaddr> addrs;  // at most names_max_addrs
  std::uint64_t issued = 0;      // unix seconds
  std::uint32_t ttl = 0;         // seconds after issued; 1..federation_max_record_ttl

  bytes encode() const;
  static result<name_record_body> decode(byte_span msg);
};

// Signs `body` as an envelope with the relay's identity key.
bytes seal_name_record(const private_key& relay_key, const name_record_body& body);

struct opened_name_record {
  name_record_body body;
  peer_id signer;
};
// Opens and checks the signature and payload type only: who may sign for
// which network is federation_state's decision. errc::bad_signature,
// errc::federation_malformed_message, errc::too_large.
result<opened_name_record> open_name_record(byte_span envelope_bytes);

}  // namespace peerup::wire
