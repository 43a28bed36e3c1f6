#include "net/tcp_transport.hpp"

#include <sys/socket.h>

namespace peerup::net {

namespace {
using reuse_port = asio::detail::socket_option::boolean<SOL_SOCKET, SO_REUSEPORT>;
}

tcp_stream::tcp_stream(tcp::socket socket) : socket_(std::move(socket)) {}

awaitable<result<std::size_t>> tcp_stream::read_some(mutable_byte_span buf) {
  if (end_ == asio::error::eof) co_return std::size_t{0};
  if (end_) co_return end_;
  auto [ec, n] =
      co_await socket_.async_read_some(asio::buffer(buf.data(), buf.size()), use_nothrow);
  if (ec == asio::error::eof) co_return std::size_t{0};
  if (ec) co_return ec;
  co_return n;
}

awaitable<void> tcp_stream::wait_readable() {
  std::uint8_t probe = 0;
  auto [ec, n] = co_await socket_.async_receive(asio::buffer(&probe, 1),
                                                tcp::socket::message_peek, use_nothrow);
  // A receive that returns no bytes (the peer's FIN, or an error) makes
  // asio's epoll reactor stop trying reads at once on this socket until the
  // next epoll event: a read_some after this peek would be queued and wait
  // for an edge, and after a FIN none comes (the peer's linger then resets
  // the connection, seconds later). So the end is kept here and read_some
  // returns it itself. A cancelled peek found nothing.
  if (ec && ec != asio::error::operation_aborted) end_ = ec;
}

awaitable<result<void>> tcp_stream::write(byte_span data) {
  auto [ec, n] =
      co_await asio::async_write(socket_, asio::buffer(data.data(), data.size()), use_nothrow);
  if (ec) co_return ec;
  co_return result<void>{};
}

awaitable<result<void>> tcp_stream::close_write() {
  error_code ec;
  socket_.shutdown(tcp::socket::shutdown_send, ec);
  if (ec) co_return ec;
  co_return result<void>{};
}

void tcp_stream::reset() {
  error_code ignored;
  // Linger 0 turns close into an RST, so the peer learns at once.
  socket_.set_option(asio::socket_base::linger(true, 0), ignored);
  socket_.close(ignored);
}

result<tcp::endpoint> to_endpoint(const multiaddr& addr) {
  auto target = addr.tcp_target();
  if (!target) return errc::invalid_multiaddr;
  if (target->kind != multiaddr::host_port::ip4 && target->kind != multiaddr::host_port::ip6)
    return errc::invalid_multiaddr;
  error_code ec;
  auto ip = asio::ip::make_address(target->host, ec);
  if (ec) return errc::invalid_multiaddr;
  return tcp::endpoint(ip, target->port);
}

multiaddr to_multiaddr(const tcp::endpoint& ep) {
  auto ip = ep.address();
  if (ip.is_v6() && ip.to_v6().is_v4_mapped())
    ip = asio::ip::make_address_v4(asio::ip::v4_mapped, ip.to_v6());
  return multiaddr::from_tcp(ip.to_string(), ep.port());
}

void set_socket_options(tcp::socket& s) {
  error_code ignored;
  s.set_option(tcp::no_delay(true), ignored);
}

tcp_listener::tcp_listener(asio::any_io_executor ex, const tcp::endpoint& ep) : acceptor_(ex) {
  acceptor_.open(ep.protocol());
  acceptor_.set_option(tcp::acceptor::reuse_address(true));
  acceptor_.set_option(reuse_port(true));
  if (ep.address().is_v6()) acceptor_.set_option(asio::ip::v6_only(true));
  acceptor_.bind(ep);
  acceptor_.listen(asio::socket_base::max_listen_connections);
}

awaitable<result<tcp::socket>> tcp_listener::accept() {
  auto [ec, socket] = co_await acceptor_.async_accept(use_nothrow);
  if (ec) co_return ec;
  set_socket_options(socket);
  co_return std::move(socket);
}

void tcp_listener::close() {
  error_code ignored;
  acceptor_.close(ignored);
}

awaitable<result<tcp::socket>> tcp_dial(const multiaddr& addr,
                                        std::optional<tcp::endpoint> reuse_port_from) {
  auto ex = co_await asio::this_coro::executor;
  auto target = addr.tcp_target();
  if (!target) co_return make_error_code(errc::invalid_multiaddr);

  std::vector<tcp::endpoint> endpoints;
  if (auto ep = to_endpoint(addr)) {
    endpoints.push_back(*ep);
  } else {
    tcp::resolver resolver(ex);
    auto [ec, found] =
        co_await resolver.async_resolve(target->host, std::to_string(target->port), use_nothrow);
    if (ec) co_return ec;
    for (const auto& entry : found) {
      const bool v6 = entry.endpoint().address().is_v6();
      if (target->kind == multiaddr::host_port::dns4 && v6) continue;
      if (target->kind == multiaddr::host_port::dns6 && !v6) continue;
      endpoints.push_back(entry.endpoint());
    }
  }

  error_code last = asio::error::host_not_found;
  for (const auto& ep : endpoints) {
    tcp::socket socket(ex);
    socket.open(ep.protocol(), last);
    if (last) continue;
    if (reuse_port_from && reuse_port_from->protocol() == ep.protocol()) {
      error_code ignored;
      socket.set_option(tcp::socket::reuse_address(true), ignored);
      socket.set_option(reuse_port(true), ignored);
      socket.bind(*reuse_port_from, ignored);  // best effort: fall back to an ephemeral port
    }
    auto [ec] = co_await socket.async_connect(ep, use_nothrow);
    if (!ec) {
      set_socket_options(socket);
      co_return std::move(socket);
    }
    last = ec;
  }
  co_return last;
}

}  // namespace peerup::net
