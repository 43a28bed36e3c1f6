#include "control/api.hpp"

#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/json.hpp>

#include "config/config.hpp"

namespace peerup::control {

namespace json = boost::json;
namespace http = boost::beast::http;

namespace {

api_error bad(std::string msg) { return {400, std::move(msg), {}}; }

struct route_spec {
  std::string_view path;
  std::string_view method;
  route what;
};

// One entry per method of a path; the 405 answer lists a path's methods.
constexpr route_spec routes[] = {
    {"/v1/status", "GET", route::status},       {"/v1/peers", "GET", route::peers},
    {"/v1/services", "GET", route::services},   {"/v1/events", "GET", route::events},
    {"/v1/auth", "GET", route::auth_list},      {"/v1/auth", "POST", route::auth_add},
    {"/v1/ping", "POST", route::ping},          {"/v1/traceroute", "POST", route::traceroute},
    {"/v1/reload", "POST", route::reload},      {"/v1/connect", "POST", route::connect},
    {"/v1/disconnect", "POST", route::disconnect}, {"/v1/dht", "GET", route::dht_status},
    {"/v1/dht/find-peer", "POST", route::dht_find_peer},
    {"/v1/dht/providers", "POST", route::dht_providers},
};
constexpr std::string_view auth_prefix = "/v1/auth/";

std::string printable(std::string_view s, std::size_t max = 80) {
  std::string out;
  for (std::size_t i = 0; i < s.size() && out.size() < max; ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    out += (c >= 0x20 && c < 0x7f) ? static_cast<char>(c) : '?';
  }
  if (s.size() > max) out += "...";
  return out;
}

// The body as a JSON object; an empty body is an empty object.
std::variant<json::object, api_error> body_object(std::string_view body) {
  if (body.find_first_not_of(" \t\r\n") == std::string_view::npos) return json::object{};
  json::parse_options opts;
  opts.max_depth = api_limits::max_json_depth;  // SECURITY: no deep nesting
  std::error_code ec;
  auto v = json::parse(json::string_view(body.data(), body.size()), ec, {}, opts);
  if (ec) return bad("request body is not JSON: " + ec.message());
  if (!v.is_object()) return bad("request body must be a JSON object");
  return std::move(v.as_object());
}

// Refuses keys the route does not take, so a misspelt one is not ignored.
std::optional<api_error> only_keys(const json::object& o, std::initializer_list<std::string_view> ok) {
  for (const auto& kv : o) {
    bool known = false;
    for (auto k : ok) known = known || kv.key() == k;
    if (!known) {
      std::string list;
      for (auto k : ok) list += (list.empty() ? "" : ", ") + std::string(k);
      return bad("unknown field \"" + printable(kv.key()) + "\"" +
                 (list.empty() ? " (this route takes no body)" : " (expected: " + list + ")"));
    }
  }
  return std::nullopt;
}

std::optional<std::string> string_field(const json::object& o, std::string_view key) {
  auto it = o.find(key);
  if (it == o.end() || !it->value().is_string()) return std::nullopt;
  return std::string(it->value().as_string());
}

// A peer ID or a name of names: (a DNS label), as `peerup ping` takes.
bool valid_target(std::string_view t) {
  if (peer_id::parse(t)) return true;
  if (t.empty() || t.size() > 63) return false;
  for (char c : t)
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_')) return false;
  return true;
}

std::optional<api_error> read_target(const json::object& o, command& cmd) {
  auto it = o.find("peer");
  if (it == o.end()) return bad("missing field \"peer\": a peer ID (12D3KooW...) or a name");
  auto t = string_field(o, "peer");
  if (!t || !valid_target(*t))
    return bad("peer: expected a peer ID (12D3KooW...) or a name from names:, got " +
               printable(json::serialize(it->value())));
  cmd.target = *t;
  return std::nullopt;
}

// "peer": a peer ID only (no names), into cmd.peer.
std::optional<api_error> read_peer_id(const json::object& o, command& cmd) {
  auto text = string_field(o, "peer");
  std::optional<peer_id> id;
  if (text)
    if (auto p = peer_id::parse(*text)) id = *p;
  if (!id)
    return bad("peer: expected a peer ID (12D3KooW...), got " +
               (o.contains("peer") ? printable(json::serialize(o.at("peer"))) : "nothing"));
  cmd.peer = *id;
  return std::nullopt;
}

parse_result parse_body(route r, std::string_view body) {
  command cmd;
  cmd.what = r;
  auto parsed = body_object(body);
  if (auto* e = std::get_if<api_error>(&parsed)) return *e;
  const auto& o = std::get<json::object>(parsed);
  switch (r) {
    case route::status:
    case route::peers:
    case route::services:
    case route::events:
    case route::auth_list:
    case route::reload:
    case route::auth_remove:
    case route::dht_status:
      if (auto e = only_keys(o, {})) return *e;
      return cmd;
    case route::dht_find_peer: {
      if (auto e = only_keys(o, {"peer"})) return *e;
      if (auto e = read_peer_id(o, cmd)) return *e;
      cmd.target = cmd.peer->to_string();
      return cmd;
    }
    case route::dht_providers: {
      if (auto e = only_keys(o, {"key"})) return *e;
      auto text = string_field(o, "key");
      // SECURITY: bounded, printable: it is logged and echoed.
      if (!text || text->empty() || text->size() > api_limits::max_dht_key)
        return bad("key: expected a string of 1 to " + std::to_string(api_limits::max_dht_key) +
                   " bytes, got " +
                   (o.contains("key") ? printable(json::serialize(o.at("key"))) : "nothing"));
      for (unsigned char c : *text)
        if (c < 0x20 || c == 0x7f) return bad("key: control characters are not allowed");
      cmd.key = *text;
      return cmd;
    }
    case route::traceroute:
    case route::disconnect:
      if (auto e = only_keys(o, {"peer"})) return *e;
      if (auto e = read_target(o, cmd)) return *e;
      return cmd;
    case route::ping: {
      if (auto e = only_keys(o, {"peer", "count"})) return *e;
      if (auto e = read_target(o, cmd)) return *e;
      if (auto it = o.find("count"); it != o.end()) {
        if (!it->value().is_int64() || it->value().as_int64() < 1 ||
            it->value().as_int64() > api_limits::max_ping_count)
          return bad("count: expected a whole number from 1 to " +
                     std::to_string(api_limits::max_ping_count) + ", got " +
                     printable(json::serialize(it->value())));
        cmd.count = static_cast<int>(it->value().as_int64());
      }
      return cmd;
    }
    case route::connect: {
      if (auto e = only_keys(o, {"peer", "addr"})) return *e;
      const bool has_peer = o.contains("peer"), has_addr = o.contains("addr");
      if (has_peer == has_addr)
        return bad("give exactly one of \"peer\" (a peer ID or name) and \"addr\" (a multiaddr "
                   "ending in /p2p/<peer-id>)");
      if (has_peer) {
        if (auto e = read_target(o, cmd)) return *e;
        return cmd;
      }
      auto text = string_field(o, "addr");
      std::optional<multiaddr> a;
      if (text)
        if (auto m = multiaddr::parse(*text)) a = *m;
      if (!a || !a->peer())
        return bad("addr: expected a multiaddr ending in /p2p/<peer-id>, got " +
                   printable(json::serialize(o.at("addr"))));
      cmd.addr = *a;
      cmd.target = a->peer()->to_string();
      return cmd;
    }
    case route::auth_add: {
      if (auto e = only_keys(o, {"peer", "services", "comment"})) return *e;
      if (auto e = read_peer_id(o, cmd)) return *e;
      if (auto it = o.find("services"); it != o.end()) {
        if (!it->value().is_array() || it->value().as_array().size() > api_limits::max_services)
          return bad("services: expected a list of at most " +
                     std::to_string(api_limits::max_services) + " service names");
        for (const auto& s : it->value().as_array()) {
          if (!s.is_string() || !app::service_name::parse(std::string(s.as_string())))
            return bad("services: \"" + printable(json::serialize(s)) +
                       "\" is not a service name (lower-case letters, digits, '-')");
          cmd.services.emplace_back(s.as_string());
        }
      }
      if (auto it = o.find("comment"); it != o.end()) {
        if (!it->value().is_string() || it->value().as_string().size() > api_limits::max_comment)
          return bad("comment: expected a string of at most " +
                     std::to_string(api_limits::max_comment) + " bytes");
        cmd.comment = std::string(it->value().as_string());
        for (unsigned char c : cmd.comment)
          if (c < 0x20 || c == 0x7f) return bad("comment: control characters are not allowed");
      }
      return cmd;
    }
  }
  return bad("unknown route");
}

}  // namespace

std::string_view to_string(route r) {
  switch (r) {
    case route::status: return "status";
    case route::peers: return "peers";
    case route::services: return "services";
    case route::events: return "events";
    case route::auth_list: return "auth list";
    case route::auth_add: return "auth add";
    case route::auth_remove: return "auth remove";
    case route::ping: return "ping";
    case route::traceroute: return "traceroute";
    case route::reload: return "reload";
    case route::connect: return "connect";
    case route::disconnect: return "disconnect";
    case route::dht_status: return "dht status";
    case route::dht_find_peer: return "dht find-peer";
    case route::dht_providers: return "dht providers";
  }
  return "?";
}

std::string error_json(std::string_view message) {
  json::object o;
  o["error"] = message;
  return json::serialize(o);
}

parse_result parse_command(std::string_view method, std::string_view target,
                           std::string_view body) {
  if (target.size() > api_limits::max_target) return api_error{414, "request target too long", {}};
  if (target.find_first_of("?#") != std::string_view::npos)
    return bad("query strings are not used; send parameters as a JSON body");
  // DELETE /v1/auth/<peer-id>
  if (target.substr(0, auth_prefix.size()) == auth_prefix) {
    if (method != "DELETE") return api_error{405, "use DELETE on /v1/auth/<peer-id>", "DELETE"};
    auto id = peer_id::parse(target.substr(auth_prefix.size()));
    if (!id)
      return bad("/v1/auth/<peer-id>: \"" + printable(target.substr(auth_prefix.size())) +
                 "\" is not a peer ID");
    auto r = parse_body(route::auth_remove, body);
    if (auto* c = std::get_if<command>(&r)) c->peer = *id;
    return r;
  }
  std::string allow;
  for (const auto& spec : routes) {
    if (spec.path != target) continue;
    if (spec.method == method) return parse_body(spec.what, body);
    allow += (allow.empty() ? "" : ", ") + std::string(spec.method);
  }
  if (!allow.empty())
    return api_error{405,
                     "method " + printable(method, 16) + " not allowed on " +
                         printable(target) + "; use " + allow,
                     allow};
  return api_error{404, "no route " + printable(target) + " (see docs/operations.md)", {}};
}

std::variant<http_request, api_error> parse_http_request(std::string_view bytes) {
  http::request_parser<http::string_body> p;
  p.header_limit(api_limits::max_header_bytes);
  p.body_limit(api_limits::max_body_bytes);
  p.eager(true);
  boost::beast::error_code ec;
  std::size_t used = 0;
  while (used < bytes.size() && !p.is_done()) {
    const auto n = p.put(boost::asio::buffer(bytes.data() + used, bytes.size() - used), ec);
    if (ec == http::error::need_more) break;
    if (ec) break;
    if (n == 0) break;
    used += n;
  }
  if (!ec && !p.is_done()) {
    p.put_eof(ec);
    if (!ec && !p.is_done()) ec = http::error::partial_message;
  }
  if (ec == http::error::header_limit)
    return api_error{431, "request headers larger than " +
                              std::to_string(api_limits::max_header_bytes) + " bytes", {}};
  if (ec == http::error::body_limit)
    return api_error{413, "request body larger than " +
                              std::to_string(api_limits::max_body_bytes) + " bytes", {}};
  if (ec) return bad("malformed HTTP request: " + ec.message());
  const auto& req = p.get();
  http_request out;
  out.method = std::string(req.method_string());
  out.target = std::string(req.target());
  out.body = req.body();
  out.keep_alive = req.keep_alive();
  if (auto it = req.find(http::field::authorization); it != req.end())
    out.authorization = std::string(it->value());
  if (auto it = req.find(http::field::cookie); it != req.end()) out.cookie = std::string(it->value());
  return out;
}

bool cookie_matches(std::string_view expected_hex, std::string_view authorization,
                    std::string_view cookie_header) {
  if (expected_hex.size() != 64) return false;
  auto same = [&](std::string_view given) {
    if (given.size() != expected_hex.size()) return false;
    unsigned char diff = 0;  // constant time: no early exit on the first difference
    for (std::size_t i = 0; i < given.size(); ++i)
      diff |= static_cast<unsigned char>(given[i] ^ expected_hex[i]);
    return diff == 0;
  };
  constexpr std::string_view bearer = "Bearer ";
  if (authorization.substr(0, bearer.size()) == bearer &&
      same(authorization.substr(bearer.size())))
    return true;
  // Cookie: a=b; peerup_session=<hex>; c=d
  constexpr std::string_view name = "peerup_session=";
  std::size_t pos = 0;
  while (pos <= cookie_header.size()) {
    auto end = cookie_header.find(';', pos);
    if (end == std::string_view::npos) end = cookie_header.size();
    auto part = cookie_header.substr(pos, end - pos);
    while (!part.empty() && part.front() == ' ') part.remove_prefix(1);
    if (part.substr(0, name.size()) == name && same(part.substr(name.size()))) return true;
    pos = end + 1;
  }
  return false;
}

}  // namespace peerup::control
