#include "gateway/gateway.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>

#include "common/printable.hpp"
#include "net/splice.hpp"
#include "net/tcp_transport.hpp"
#include "config/config.hpp"

namespace peerup::app {

namespace {

using namespace std::chrono_literals;

constexpr auto open_timeout = 20s;          // connect (maybe via a relay) + open the stream
constexpr auto catalog_refetch_after = 2s;  // a port miss refetches an older catalog once
// SECURITY: bounds on what clients can make the gateway hold.
constexpr std::size_t max_listeners = 4096;
constexpr std::size_t max_cached_catalogs = 4096;

bool host_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
         c == '-' || c == '_';
}

bool iequals_suffix(std::string_view text, std::string_view suffix) {
  if (text.size() < suffix.size()) return false;
  return std::equal(suffix.begin(), suffix.end(), text.end() - static_cast<long>(suffix.size()),
                    [](char a, char b) {
                      auto lower = [](char c) {
                        return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
                      };
                      return lower(a) == lower(b);
                    });
}

struct split_host {
  std::string name;  // without the zone
  bool in_zone = false;
};

// "laptop.grewal.p2p." -> {"laptop.grewal", true}. nullopt when the text
// cannot be a peer-up name at all (then it is never looked up).
std::optional<split_host> split(std::string_view host, const std::string& zone, bool& in_zone) {
  if (!host.empty() && host.back() == '.') host.remove_suffix(1);
  const std::string dotted_zone = "." + zone;
  in_zone = iequals_suffix(host, dotted_zone);
  if (in_zone) host.remove_suffix(dotted_zone.size());
  if (host.empty() || host.size() > 253 || host.front() == '.' || host.back() == '.' ||
      host.find("..") != std::string_view::npos ||
      !std::all_of(host.begin(), host.end(), host_char))
    return std::nullopt;
  return split_host{std::string(host), in_zone};
}

gateway_error reach_error(const boost::system::error_code& ec, const std::string& who) {
  if (net::closed_by_peer(ec))
    return {gateway_failure::not_allowed,
            who + " closed the connection (is this gateway's peer ID in its authorized_keys?)"};
  return {gateway_failure::unreachable, who + " unreachable: " + ec.message()};
}

std::string describe(const std::vector<gateway_service>& services) {
  std::string out;
  for (const auto& s : services)
    out += (out.empty() ? "" : ", ") + s.name + " " + std::to_string(s.port);
  return out.empty() ? "none" : out;
}

}  // namespace

std::string to_string(const gateway_error& e) { return e.message; }

gateway::gateway(net::host& h, gateway_config cfg, std::shared_ptr<peer_directory> dir)
    : host_(h), cfg_(std::move(cfg)), dir_(std::move(dir)), ips_(cfg_.virtual_network) {}

gateway::~gateway() {
  *alive_ = false;
  stop();
}

void gateway::stop() {
  for (auto& [key, acceptor] : listeners_) {
    boost::system::error_code ignored;
    acceptor->close(ignored);
  }
}

std::optional<gateway::slot> gateway::try_acquire() {
  if (*active_ >= cfg_.max_connections) return std::nullopt;
  return slot(active_);
}

net::awaitable<gateway_result<std::optional<gateway_target>>> gateway::try_name(
    const std::string& name, const std::string& shown, bool in_zone) {
  auto alive = alive_;
  auto r = co_await dir_->resolve(name, in_zone);
  if (!*alive) co_return gateway_error{gateway_failure::busy, "gateway stopped"};
  if (!r) {
    if (r.error() == make_error_code(errc::name_not_found) ||
        r.error() == make_error_code(errc::invalid_argument))
      co_return std::optional<gateway_target>{};
    // errc::name_lookup_failed and the like: the name may exist, but it
    // could not be looked up now (its relay is down). Host unreachable, and
    // for DNS SERVFAIL: never NXDOMAIN, which resolvers cache.
    co_return gateway_error{gateway_failure::unreachable,
                            "cannot look up \"" + shown + "\": " + r.error().message()};
  }
  host_.peers().add_addrs(r->peer, r->addrs);
  spdlog::debug("gateway: \"{}\" is {} ({})", name, r->peer.to_string(), r->source);
  co_return std::optional<gateway_target>{gateway_target{r->peer, std::nullopt, shown}};
}

net::awaitable<gateway_result<gateway_target>> gateway::lookup(const std::string& host) {
  bool in_zone = false;
  const auto parts = split(host, cfg_.zone, in_zone);
  // SECURITY: `host` comes from a SOCKS client byte for byte and ends up in
  // log lines; only its printable form is ever shown.
  const std::string shown = printable(host);
  const auto unknown = [&] {
    return in_zone ? gateway_error{gateway_failure::unknown_name,
                                   "no peer-up name \"" + shown + "\" (unknown to every tier)"}
                   : gateway_error{gateway_failure::not_peerup_name,
                                   "\"" + shown +
                                       "\" is not a peer-up name (refused: the gateway "
                                       "only reaches peers)"};
  };
  if (!parts) co_return unknown();
  auto named = co_await try_name(parts->name, host, in_zone);
  if (named && *named) co_return std::move(**named);
  // "<service>.<name>": a service of the peer `name`, whatever the port.
  // Tried even when the whole name could not be looked up: "ssh.home" may be
  // a local name's service while "ssh.home" itself needed a relay.
  const auto dot = parts->name.find('.');
  if (dot != std::string::npos) {
    const std::string service = parts->name.substr(0, dot);
    const std::string rest = parts->name.substr(dot + 1);
    if (service_name::parse(service)) {
      auto via = co_await try_name(rest, host, in_zone);
      if (via && *via) {
        (*via)->service = service;
        co_return std::move(**via);
      }
      if (!via && named) co_return via.error();
    }
  }
  if (!named) co_return named.error();
  co_return unknown();
}

gateway_result<gateway_target> gateway::lookup_ip(std::uint32_t ip) const {
  auto peer = ips_.peer_at(ip);
  if (!peer)
    return gateway_error{gateway_failure::not_peerup_name,
                         ipv4_to_string(ip) + " is not a virtual IP of this gateway"};
  return gateway_target{*peer, std::nullopt, ipv4_to_string(ip)};
}

net::awaitable<gateway_result<std::vector<gateway_service>>> gateway::catalog(const peer_id& peer,
                                                                              bool refresh) {
  auto alive = alive_;
  const auto now = net::steady_clock::now();
  if (auto it = catalogs_.find(peer); it != catalogs_.end()) {
    const auto age = now - it->second.fetched;
    if ((!refresh && age < std::chrono::seconds(cfg_.catalog_ttl)) ||
        (refresh && age < catalog_refetch_after))
      co_return it->second.services;
  }
  auto r = co_await dir_->services(peer);
  if (!*alive) co_return gateway_error{gateway_failure::busy, "gateway stopped"};
  const std::string who = peer.to_string();
  if (!r) {
    if (r.error() == make_error_code(errc::stream_reset))
      co_return gateway_error{gateway_failure::not_allowed,
                              who +
                                  " refused to list its services (is this gateway's peer ID in "
                                  "its authorized_keys?)"};
    if (r.error() == make_error_code(errc::protocol_not_supported))
      co_return gateway_error{gateway_failure::refused,
                              who +
                                  " does not publish its services (/peerup/services/1.0.0); "
                                  "name the service instead: <service>.<name>"};
    co_return reach_error(r.error(), who);
  }
  if (catalogs_.size() >= max_cached_catalogs && !catalogs_.count(peer)) {
    auto oldest = std::min_element(catalogs_.begin(), catalogs_.end(), [](auto& a, auto& b) {
      return a.second.fetched < b.second.fetched;
    });
    catalogs_.erase(oldest);
  }
  catalogs_[peer] = cached_catalog{net::steady_clock::now(), *r};
  co_return std::move(*r);
}

net::awaitable<gateway_result<net::stream_ptr>> gateway::open(const gateway_target& t,
                                                              std::uint16_t port) {
  auto alive = alive_;
  const gateway_target target = t;  // copied before the first suspension
  std::string service;
  if (target.service) {
    service = *target.service;
  } else {
    std::optional<gateway_service> found;
    for (int attempt = 0; attempt < 2; ++attempt) {
      const bool refresh = attempt == 1;
      auto cat = co_await catalog(target.peer, refresh);
      if (!cat) co_return cat.error();
      auto it = std::find_if(cat->begin(), cat->end(),
                             [&](const gateway_service& s) { return s.port == port; });
      if (it != cat->end()) {
        found = *it;
        break;
      }
      if (refresh)
        co_return gateway_error{gateway_failure::refused,
                                target.name + " has no service on port " + std::to_string(port) +
                                    " (its services: " + describe(*cat) + ")"};
    }
    service = found->name;
  }
  const auto name = service_name::parse(service);
  if (!name) co_return gateway_error{gateway_failure::refused, "bad service name " + service};
  const protocol_id proto = name->protocol();
  // Each operation is bound to a name first: g++ 12 miscompiles temporaries
  // with destructors inside a co_await expression.
  auto connecting = host_.connect(target.peer);
  auto conn = co_await net::with_timeout(std::move(connecting), open_timeout);
  if (!*alive) co_return gateway_error{gateway_failure::busy, "gateway stopped"};
  if (!conn) co_return reach_error(conn.error(), target.name);
  auto opening = host_.new_stream(*conn, proto);
  auto opened = co_await net::with_timeout(std::move(opening), open_timeout);
  if (!*alive) co_return gateway_error{gateway_failure::busy, "gateway stopped"};
  if (!opened) {
    const auto& ec = opened.error();
    // The peer answers "na" only once its local service refused or was
    // never dialed (not offered, not authorized, down), so the SOCKS client
    // gets 0x05 instead of a success followed by a reset.
    if (ec == make_error_code(errc::protocol_not_supported))
      co_return gateway_error{gateway_failure::refused,
                              target.name + ": service \"" + service +
                                  "\" refused (not offered, this gateway not authorized for "
                                  "it, or the service is down)"};
    if (ec == make_error_code(errc::stream_reset))
      co_return gateway_error{gateway_failure::refused,
                              target.name + ": service \"" + service +
                                  "\" refused the stream (not authorized for it, or it is down)"};
    co_return reach_error(ec, target.name);
  }
  spdlog::info("gateway: {} port {} -> {} service {}", target.name, port, target.peer.to_string(),
               service);
  co_return std::move(opened->stream);
}

net::awaitable<gateway_result<std::uint32_t>> gateway::virtual_ip(const gateway_target& t) {
  auto alive = alive_;
  const gateway_target target = t;
  auto ip = ips_.assign(target.peer);
  if (!ip)
    co_return gateway_error{
        gateway_failure::busy,
        "every virtual IP of " + cfg_.virtual_network.to_string() + " is taken"};
  auto cat = co_await catalog(target.peer, false);
  if (!*alive) co_return gateway_error{gateway_failure::busy, "gateway stopped"};
  if (cat)
    for (const auto& s : *cat) listen_on(*ip, s.port);
  else
    spdlog::warn("gateway: {}: no listeners on {}: {}", target.name, ipv4_to_string(*ip),
                 cat.error().message);
  co_return *ip;
}

void gateway::listen_on(std::uint32_t ip, std::uint16_t port) {
  const auto key = std::make_pair(ip, port);
  if (listeners_.count(key)) return;
  if (listeners_.size() >= max_listeners) {
    spdlog::warn("gateway: {} listeners already, not listening on {}:{}", max_listeners,
                 ipv4_to_string(ip), port);
    return;
  }
  auto acceptor = std::make_unique<net::tcp::acceptor>(host_.get_executor());
  const net::tcp::endpoint ep(net::asio::ip::address_v4(ip), port);
  boost::system::error_code ec;
  acceptor->open(ep.protocol(), ec);
  if (!ec) acceptor->set_option(net::tcp::acceptor::reuse_address(true), ec);
  if (!ec) acceptor->bind(ep, ec);
  if (!ec) acceptor->listen(net::asio::socket_base::max_listen_connections, ec);
  if (ec) {
    // Remembered as a listener that is closed, so the warning shows once.
    spdlog::warn("gateway: cannot listen on {}:{}: {}{}", ipv4_to_string(ip), port, ec.message(),
                 port < 1024 ? " (ports below 1024 need root, CAP_NET_BIND_SERVICE or "
                               "net.ipv4.ip_unprivileged_port_start; see docs/gateway.md)"
                             : "");
    acceptor->close(ec);
    listeners_.emplace(key, std::move(acceptor));
    return;
  }
  spdlog::info("gateway: listening on {}:{} for {}", ipv4_to_string(ip), port,
               ips_.peer_at(ip)->to_string());
  auto& ref = *acceptor;
  listeners_.emplace(key, std::move(acceptor));
  net::asio::co_spawn(host_.get_executor(), accept_loop(ref, ip, port), net::asio::detached);
}

net::awaitable<void> gateway::accept_loop(net::tcp::acceptor& acceptor, std::uint32_t ip,
                                          std::uint16_t port) {
  auto alive = alive_;
  for (;;) {
    auto [ec, socket] = co_await acceptor.async_accept(net::use_nothrow);
    if (!*alive || !acceptor.is_open()) co_return;
    if (ec) {
      // EMFILE and friends: wait instead of spinning.
      net::asio::steady_timer pause(host_.get_executor(), 100ms);
      co_await pause.async_wait(net::use_nothrow);
      if (!*alive) co_return;
      continue;
    }
    auto held = try_acquire();
    if (!held) {
      spdlog::debug("gateway: {} connections open, refusing one on {}:{}", cfg_.max_connections,
                    ipv4_to_string(ip), port);
      continue;  // the socket closes as it goes out of scope
    }
    net::set_socket_options(socket);
    net::asio::co_spawn(host_.get_executor(),
                        serve_virtual(std::move(socket), ip, port, std::move(*held)),
                        net::asio::detached);
  }
}

net::awaitable<void> gateway::serve_virtual(net::tcp::socket socket, std::uint32_t ip,
                                            std::uint16_t port, slot held) {
  auto alive = alive_;
  net::tcp_stream local(std::move(socket));
  auto target = lookup_ip(ip);
  if (!target) co_return;
  auto remote = co_await open(*target, port);
  if (!*alive) co_return;
  if (!remote) {
    spdlog::info("gateway: {}:{}: {}", ipv4_to_string(ip), port, remote.error().message);
    local.reset();
    co_return;
  }
  auto done = co_await net::splice(local, **remote);
  if (done.error)
    spdlog::debug("gateway: {}:{} ended: {}", ipv4_to_string(ip), port, done.error.message());
}

}  // namespace peerup::app
