// The control API's requests and responses (docs/operations.md lists the
// routes). Sans-I/O: an HTTP method, target and body in, a validated command
// or an error with its HTTP status out; the I/O side (control/server.cpp)
// runs the command against the daemon. The fuzzer (tests/fuzz/
// fuzz_control_api.cpp) drives parse_http_request and parse_command.
//
// Routes (JSON bodies, JSON answers; every error is {"error": "..."}):
//   GET    /v1/status               the daemon's status (as status.json)
//   GET    /v1/peers                connections: path, transport, RTT, bytes
//   GET    /v1/services             services and their counters
//   GET    /v1/events               recent events, oldest first
//   GET    /v1/auth                 authorized_keys entries
//   POST   /v1/auth                 {"peer": id, "services": [..], "comment": ".."}
//   DELETE /v1/auth/<peer-id>       remove a peer (live)
//   POST   /v1/ping                 {"peer": id|name, "count": 1..10}
//   POST   /v1/traceroute           {"peer": id|name}
//   POST   /v1/reload               re-read config and keys
//   POST   /v1/connect              {"peer": id|name} or {"addr": multiaddr}
//   POST   /v1/disconnect           {"peer": id|name}
//   GET    /v1/dht                  the DHT: mode, routing table (peers by bucket), stores
//   POST   /v1/dht/find-peer        {"peer": id}: its signed peer record and table addresses
//   POST   /v1/dht/providers        {"key": "..."}: providers of sha2-256(key), at most 20
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "multiformats/multiaddr.hpp"
#include "multiformats/peer_id.hpp"

namespace peerup::control {

// SECURITY: what one request may make us read and keep.
struct api_limits {
  static constexpr std::size_t max_header_bytes = 8 * 1024;  // request line + headers
  static constexpr std::size_t max_body_bytes = 16 * 1024;
  static constexpr std::size_t max_json_depth = 8;
  static constexpr std::size_t max_target = 512;  // request target bytes
  static constexpr int max_ping_count = 10;
  static constexpr std::size_t max_services = 64;  // in an auth add
  static constexpr std::size_t max_comment = 256;
  static constexpr std::size_t max_dht_key = 256;  // a provider key (namespace string)
};

enum class route {
  status,
  peers,
  services,
  events,
  auth_list,
  auth_add,
  auth_remove,
  ping,
  traceroute,
  reload,
  connect,
  disconnect,
  dht_status,      // GET /v1/dht
  dht_find_peer,   // POST /v1/dht/find-peer
  dht_providers,   // POST /v1/dht/providers
};

std::string_view to_string(route r);

// A validated request.
struct command {
  route what = route::status;
  // ping, traceroute, connect, disconnect: a peer ID or a name of names:
  // (resolved by the server against the running config).
  std::string target;
  std::optional<peer_id> peer;    // auth_add, auth_remove
  std::optional<multiaddr> addr;  // connect by address
  int count = 1;                  // ping
  std::vector<std::string> services;  // auth_add; empty: every service
  std::string comment;                // auth_add
  std::string key;                    // dht_providers: the namespace string
};

struct api_error {
  unsigned status = 400;  // HTTP status
  std::string message;    // for the user: what was wrong and what is expected
  std::string allow;      // for 405: the methods the route takes
};

using parse_result = std::variant<command, api_error>;

// Routes and validates one request. `method` is the HTTP method as sent,
// `target` the request target (path, maybe a query, which is refused).
parse_result parse_command(std::string_view method, std::string_view target,
                           std::string_view body);

// {"error": message} as text.
std::string error_json(std::string_view message);

// A request as parsed from bytes, for the fuzzer and for the server's
// answer to a malformed request (Beast's parser with api_limits).
struct http_request {
  std::string method, target, body;
  std::string authorization;  // the Authorization header, if any
  std::string cookie;         // the Cookie header, if any
  bool keep_alive = false;
};
// Parses one HTTP/1.1 request from `bytes` (all of it must be there).
// Errors name the problem: header too large, body too large, malformed.
std::variant<http_request, api_error> parse_http_request(std::string_view bytes);

// The cookie: 32 random bytes as 64 hex digits, in <dir>/control.cookie.
// A request proves it knows the cookie with "Authorization: Bearer <hex>"
// or the "peerup_session=<hex>" cookie; compared in constant time.
bool cookie_matches(std::string_view expected_hex, std::string_view authorization,
                    std::string_view cookie_header);

}  // namespace peerup::control
