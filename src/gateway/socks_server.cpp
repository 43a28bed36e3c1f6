#include "gateway/socks_server.hpp"

#include <spdlog/spdlog.h>

#include "common/printable.hpp"
#include "net/splice.hpp"
#include "net/tcp_transport.hpp"

namespace peerup::app {

namespace socks5 = wire::socks5;

namespace {

struct destination {
  std::string host;                 // a name, when no IP was given
  std::optional<std::uint32_t> ip;  // an IPv4 (or IPv4-mapped IPv6) destination
  bool foreign_ip = false;          // an IPv6 address outside ::ffff:0:0/96
  std::uint16_t port = 0;
};

void consume(bytes& buf, std::size_t n) {
  buf.erase(buf.begin(), buf.begin() + static_cast<long>(n));
}

// Reads into `buf` until `parse` finds a whole message at its front.
template <class T>
net::awaitable<result<socks5::parsed<T>>> read_message(
    net::byte_stream& s, bytes& buf, result<socks5::parsed<T>> (*parse)(byte_span)) {
  std::array<std::uint8_t, 1024> chunk{};
  for (;;) {
    auto r = parse(buf);
    if (r || r.error() != make_error_code(errc::truncated)) co_return r;
    // SECURITY: every client message fits in max_message_size bytes, so more
    // buffered bytes without a whole message mean a broken client.
    if (buf.size() >= socks5::max_message_size) co_return make_error_code(errc::socks_invalid);
    auto n = co_await s.read_some(chunk);
    if (!n) co_return n.error();
    if (*n == 0) co_return make_error_code(errc::connection_closed);
    buf.insert(buf.end(), chunk.begin(), chunk.begin() + static_cast<long>(*n));
  }
}

// Compares without an early exit, so the time taken does not reveal how much
// of a password matched.
bool same_secret(std::string_view a, std::string_view b) {
  unsigned diff = a.size() == b.size() ? 0 : 1;
  for (std::size_t i = 0; i < a.size(); ++i)
    diff |= static_cast<unsigned>(a[i] ^ (b.empty() ? 0 : b[i % b.size()]));
  return diff == 0;
}

bool authorized(const std::map<std::string, std::string>& users, const socks5::credentials& c) {
  auto it = users.find(c.username);
  const std::string_view expected = it == users.end() ? std::string_view{} : it->second;
  const bool match = same_secret(c.password, expected);
  return it != users.end() && match;
}

net::awaitable<result<void>> send(net::byte_stream& s, socks5::reply r) {
  const bytes msg = socks5::encode_reply(r);
  co_return co_await s.write(msg);
}

// 1. greeting -> the method: no-auth, or username/password when users exist
// 2. RFC 1929 username/password, when chosen
// 3. the request: CONNECT to a name, an IPv4 or an IPv4-mapped IPv6 address
// Replies itself to what it refuses; an error means "close the connection".
net::awaitable<result<destination>> handshake(net::byte_stream& s, bytes& buf,
                                              const gateway_config& cfg) {
  auto g = co_await read_message<socks5::greeting>(s, buf, &socks5::parse_greeting);
  if (!g) co_return g.error();
  consume(buf, g->consumed);
  const bool need_auth = !cfg.users.empty();
  const auto want = need_auth ? socks5::method::username_password : socks5::method::no_auth;
  const bytes choice =
      socks5::encode_method_choice(g->value.offers(want) ? want : socks5::method::none_acceptable);
  if (auto w = co_await s.write(choice); !w) co_return w.error();
  if (!g->value.offers(want)) co_return make_error_code(errc::unauthorized);
  if (need_auth) {
    auto c = co_await read_message<socks5::credentials>(s, buf, &socks5::parse_credentials);
    if (!c) co_return c.error();
    consume(buf, c->consumed);
    const bool ok = authorized(cfg.users, c->value);
    const bytes status = socks5::encode_auth_status(ok);
    auto w = co_await s.write(status);
    if (!ok) co_return make_error_code(errc::unauthorized);
    if (!w) co_return w.error();
  }
  auto r = co_await read_message<socks5::request>(s, buf, &socks5::parse_request);
  if (!r) {
    if (r.error() == make_error_code(errc::socks_invalid))
      (void)co_await send(s, socks5::reply::general_failure);
    co_return r.error();
  }
  consume(buf, r->consumed);
  const auto& dest = r->value.dest;
  if (!dest.known_type()) {
    (void)co_await send(s, socks5::reply::address_type_not_supported);
    co_return make_error_code(errc::socks_invalid);
  }
  if (r->value.cmd != static_cast<std::uint8_t>(socks5::command::connect)) {
    (void)co_await send(s, socks5::reply::command_not_supported);
    co_return make_error_code(errc::socks_invalid);
  }
  destination out;
  out.port = dest.port;
  const auto& ip = dest.ip;
  auto v4_at = [&](std::size_t i) {
    return std::uint32_t{ip[i]} << 24 | std::uint32_t{ip[i + 1]} << 16 |
           std::uint32_t{ip[i + 2]} << 8 | ip[i + 3];
  };
  switch (static_cast<socks5::address_type>(dest.type)) {
    case socks5::address_type::ipv4: out.ip = v4_at(0); break;
    case socks5::address_type::ipv6: {
      const bool mapped = std::all_of(ip.begin(), ip.begin() + 10, [](auto b) { return b == 0; }) &&
                          ip[10] == 0xff && ip[11] == 0xff;
      if (mapped)
        out.ip = v4_at(12);
      else
        out.foreign_ip = true;
      break;
    }
    case socks5::address_type::domain:
      out.host = dest.domain;
      if (auto v4 = parse_ipv4(out.host)) out.ip = *v4;
      break;
  }
  co_return out;
}

}  // namespace

socks5::reply to_socks_reply(gateway_failure f) {
  switch (f) {
    case gateway_failure::not_peerup_name:
    case gateway_failure::not_allowed: return socks5::reply::not_allowed;
    case gateway_failure::unknown_name:
    case gateway_failure::unreachable: return socks5::reply::host_unreachable;
    case gateway_failure::refused: return socks5::reply::connection_refused;
    case gateway_failure::busy: return socks5::reply::general_failure;
  }
  return socks5::reply::general_failure;
}

socks_server::socks_server(gateway& gw, const net::tcp::endpoint& ep)
    : gw_(gw), acceptor_(gw.host().get_executor()) {
  acceptor_.open(ep.protocol());
  acceptor_.set_option(net::tcp::acceptor::reuse_address(true));
  acceptor_.bind(ep);
  acceptor_.listen();
}

socks_server::~socks_server() {
  *alive_ = false;
  stop();
}

void socks_server::start() {
  net::asio::co_spawn(acceptor_.get_executor(), accept_loop(), net::asio::detached);
}

void socks_server::stop() {
  boost::system::error_code ignored;
  acceptor_.close(ignored);
}

net::awaitable<void> socks_server::accept_loop() {
  auto alive = alive_;
  for (;;) {
    auto [ec, socket] = co_await acceptor_.async_accept(net::use_nothrow);
    if (!*alive || !acceptor_.is_open()) co_return;
    if (ec) {
      net::asio::steady_timer pause(acceptor_.get_executor(), std::chrono::milliseconds(100));
      co_await pause.async_wait(net::use_nothrow);
      if (!*alive) co_return;
      continue;
    }
    auto held = gw_.try_acquire();
    if (!held) {
      spdlog::debug("socks: {} connections open, refusing one", gw_.settings().max_connections);
      continue;  // closes the socket
    }
    net::set_socket_options(socket);
    net::asio::co_spawn(acceptor_.get_executor(), serve(std::move(socket), std::move(*held)),
                        net::asio::detached);
  }
}

net::awaitable<void> socks_server::serve(net::tcp::socket socket, gateway::slot held) {
  auto alive = alive_;
  net::tcp_stream local(std::move(socket));
  bytes buf;
  auto greeted = handshake(local, buf, gw_.settings());
  auto dest = co_await net::with_timeout(std::move(greeted), handshake_timeout);
  if (!*alive) co_return;
  if (!dest) {
    spdlog::debug("socks: client dropped: {}", dest.error().message());
    local.reset();
    co_return;
  }
  auto refuse = [&](const gateway_error& e) -> net::awaitable<void> {
    spdlog::info("socks: {}:{} refused: {}",
                 dest->ip ? ipv4_to_string(*dest->ip) : printable(dest->host), dest->port,
                 e.message);
    (void)co_await send(local, to_socks_reply(e.kind));
    local.reset();
  };
  std::optional<gateway_target> target;
  if (dest->foreign_ip) {
    const gateway_error e{gateway_failure::not_peerup_name, "an IPv6 address: not a peer"};
    co_await refuse(e);
    co_return;
  }
  if (dest->ip) {
    auto t = gw_.lookup_ip(*dest->ip);
    if (!t) {
      const gateway_error e = t.error();  // named: no temporaries inside co_await (g++ 12)
      co_await refuse(e);
      co_return;
    }
    target = std::move(*t);
  } else {
    auto t = co_await gw_.lookup(dest->host);
    if (!*alive) co_return;
    if (!t) {
      const gateway_error e = t.error();
      co_await refuse(e);
      co_return;
    }
    target = std::move(*t);
  }
  auto remote = co_await gw_.open(*target, dest->port);
  if (!*alive) co_return;
  if (!remote) {
    const gateway_error e = remote.error();
    co_await refuse(e);
    co_return;
  }
  if (auto w = co_await send(local, socks5::reply::succeeded); !w) {
    (*remote)->reset();
    co_return;
  }
  // Bytes the client sent right behind its request (optimistic data).
  if (!buf.empty()) {
    if (auto w = co_await (*remote)->write(buf); !w) {
      (*remote)->reset();
      local.reset();
      co_return;
    }
  }
  auto done = co_await net::splice(local, **remote);
  if (done.error) spdlog::debug("socks: {} ended: {}", target->name, done.error.message());
}

}  // namespace peerup::app
