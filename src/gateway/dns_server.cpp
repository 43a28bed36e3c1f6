#include "gateway/dns_server.hpp"

#include <spdlog/spdlog.h>

#include "net/tcp_transport.hpp"

namespace peerup::app {

namespace dns = wire::dns;
using udp = net::asio::ip::udp;

namespace {

dns_zone_settings zone_of(const gateway_config& cfg) { return {cfg.zone, cfg.ttl, cfg.aaaa}; }

// Tries a few ports when the caller asked for any (0): UDP picks one, and the
// same TCP port may be taken.
void bind_both(udp::socket& u, net::tcp::acceptor& t, const net::asio::ip::address& addr,
               std::uint16_t port) {
  for (int attempt = 0;; ++attempt) {
    u.open(addr.is_v4() ? udp::v4() : udp::v6());
    u.bind(udp::endpoint(addr, port));
    const net::tcp::endpoint ep(addr, u.local_endpoint().port());
    boost::system::error_code ec;
    t.open(ep.protocol(), ec);
    if (!ec) t.set_option(net::tcp::acceptor::reuse_address(true), ec);
    if (!ec) t.bind(ep, ec);
    if (!ec) t.listen(net::asio::socket_base::max_listen_connections, ec);
    if (!ec) return;
    boost::system::error_code ignored;
    t.close(ignored);
    u.close(ignored);
    if (port != 0 || attempt >= 20)
      throw boost::system::system_error(ec, "dns tcp " + ep.address().to_string());
  }
}

}  // namespace

dns_server::dns_server(gateway& gw, const net::asio::ip::address& addr, std::uint16_t port)
    : gw_(gw),
      zone_(zone_of(gw.settings())),
      udp_(gw.host().get_executor()),
      tcp_(gw.host().get_executor()),
      bucket_(gw.settings().dns_queries_per_second,
              std::max<double>(1, 2.0 * gw.settings().dns_queries_per_second)) {
  bind_both(udp_, tcp_, addr, port);
  udp_.non_blocking(true);  // replies are sent at once or dropped, never waited on
}

dns_server::~dns_server() {
  *alive_ = false;
  stop();
}

void dns_server::start() {
  net::asio::co_spawn(udp_.get_executor(), udp_loop(), net::asio::detached);
  net::asio::co_spawn(tcp_.get_executor(), tcp_accept_loop(), net::asio::detached);
}

void dns_server::stop() {
  boost::system::error_code ignored;
  udp_.close(ignored);
  tcp_.close(ignored);
}

bool dns_server::admit() {
  if (bucket_.try_take(net::steady_clock::now())) return true;
  ++stats_.rate_limited;
  return false;
}

void dns_server::send_udp(const bytes& msg, const udp::endpoint& to) {
  boost::system::error_code ec;
  udp_.send_to(net::asio::buffer(msg), to, 0, ec);
  if (ec)
    spdlog::debug("dns: reply to {} dropped: {}", to.address().to_string(), ec.message());
  else
    ++stats_.answered;
}

net::awaitable<dns::answer> dns_server::look_up(const dns::query& q, const std::string& host) {
  auto alive = alive_;
  // `host` is the name inside our zone (decide() stripped it): hand it back
  // with the zone, so the gateway treats it as a peer-up name, which may be
  // of another network (asked through our relays' federation).
  const std::string in_zone = host + "." + zone_.zone;
  auto target = co_await gw_.lookup(in_zone);
  if (!*alive) co_return answer_failed();
  if (!target) {
    const auto kind = target.error().kind;
    spdlog::debug("dns: {}: {}", host, target.error().message);
    if (kind == gateway_failure::unknown_name || kind == gateway_failure::not_peerup_name)
      co_return answer_missing(zone_);
    co_return answer_failed();
  }
  if (network_address_ && !target->service) {
    if (auto a = network_address_(target->peer)) {
      spdlog::debug("dns: {} -> {} (network mode)", host, ipv4_to_string(a->v4));
      co_return answer_found(q, zone_, a->v4, a->v6);
    }
  }
  auto ip = co_await gw_.virtual_ip(*target);
  if (!*alive) co_return answer_failed();
  if (!ip) {
    spdlog::warn("dns: {}: {}", host, ip.error().message);
    co_return answer_failed();
  }
  spdlog::debug("dns: {} -> {}", host, ipv4_to_string(*ip));
  co_return answer_found(q, zone_, *ip);
}

net::awaitable<void> dns_server::udp_loop() {
  auto alive = alive_;
  // SECURITY: one datagram is at most 65535 bytes; a larger one is cut off
  // and then fails to parse.
  bytes buf(dns::max_message_size);
  for (;;) {
    udp::endpoint from;
    auto [ec, n] = co_await udp_.async_receive_from(net::asio::buffer(buf), from, net::use_nothrow);
    if (!*alive || !udp_.is_open()) co_return;
    if (ec) continue;  // e.g. ICMP port unreachable from an earlier reply
    if (!admit()) continue;
    auto q = dns::parse_query(byte_span(buf.data(), n));
    if (!q) {
      ++stats_.malformed;
      spdlog::debug("dns: dropped {} bytes from {}: {}", n, from.address().to_string(),
                    q.error().message());
      continue;
    }
    auto d = decide(*q, zone_);
    if (d.what == dns_decision::kind::respond) {
      send_udp(dns::encode_response(*q, d.immediate, dns::response_limit(*q, false)), from);
      continue;
    }
    if (in_flight_ >= max_lookups_in_flight) {
      ++stats_.overloaded;
      continue;  // the client retries
    }
    ++in_flight_;
    net::asio::co_spawn(udp_.get_executor(), udp_lookup(std::move(*q), std::move(d.host), from),
                        net::asio::detached);
  }
}

net::awaitable<void> dns_server::udp_lookup(dns::query q, std::string host, udp::endpoint from) {
  auto alive = alive_;
  auto a = co_await look_up(q, host);
  if (!*alive) co_return;
  --in_flight_;
  send_udp(dns::encode_response(q, a, dns::response_limit(q, false)), from);
}

net::awaitable<void> dns_server::tcp_accept_loop() {
  auto alive = alive_;
  for (;;) {
    auto [ec, socket] = co_await tcp_.async_accept(net::use_nothrow);
    if (!*alive || !tcp_.is_open()) co_return;
    if (ec) {
      net::asio::steady_timer pause(tcp_.get_executor(), std::chrono::milliseconds(100));
      co_await pause.async_wait(net::use_nothrow);
      if (!*alive) co_return;
      continue;
    }
    if (tcp_connections_ >= max_tcp_connections) continue;  // closes it
    ++tcp_connections_;
    net::asio::co_spawn(tcp_.get_executor(), serve_tcp(std::move(socket)), net::asio::detached);
  }
}

net::awaitable<void> dns_server::serve_tcp(net::tcp::socket socket) {
  // 1. a two-byte length, then that many bytes of query (RFC 1035 4.2.2)
  // 2. the answer, framed the same way; repeat until idle, EOF or bad input
  auto alive = alive_;
  net::tcp_stream s(std::move(socket));
  for (std::size_t i = 0; i < max_queries_per_tcp_connection; ++i) {
    std::array<std::uint8_t, 2> len{};
    auto reading = net::read_exact(s, len);
    auto got = co_await net::with_timeout(std::move(reading), tcp_idle_timeout);
    if (!*alive) co_return;
    if (!got) break;
    // SECURITY: the length is two bytes, so at most 65535 are allocated.
    bytes msg(static_cast<std::size_t>(len[0] << 8 | len[1]));
    auto body = net::read_exact(s, msg);
    auto full = co_await net::with_timeout(std::move(body), tcp_idle_timeout);
    if (!*alive) co_return;
    if (!full || !admit()) break;
    auto q = dns::parse_query(msg);
    if (!q) {
      ++stats_.malformed;
      spdlog::debug("dns: tcp query dropped: {}", q.error().message());
      break;
    }
    auto d = decide(*q, zone_);
    dns::answer a = d.immediate;
    if (d.what == dns_decision::kind::lookup) {
      a = co_await look_up(*q, d.host);
      if (!*alive) co_return;
    }
    const bytes reply = dns::encode_response(*q, a, dns::response_limit(*q, true));
    bytes framed(2 + reply.size());
    framed[0] = static_cast<std::uint8_t>(reply.size() >> 8);
    framed[1] = static_cast<std::uint8_t>(reply.size());
    std::copy(reply.begin(), reply.end(), framed.begin() + 2);
    auto w = co_await s.write(framed);
    if (!*alive) co_return;
    if (!w) break;
    ++stats_.answered;
  }
  --tcp_connections_;
  s.reset();
}

}  // namespace peerup::app
