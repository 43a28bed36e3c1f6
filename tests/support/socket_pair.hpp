// A connected pair of loopback TCP sockets, for tests of stream layers over
// real sockets.
#pragma once

#include <utility>

#include "net/tcp_transport.hpp"

namespace peerup::test {

inline net::awaitable<std::pair<net::tcp::socket, net::tcp::socket>> socket_pair() {
  namespace asio = net::asio;
  auto ex = co_await asio::this_coro::executor;
  net::tcp::acceptor acceptor(ex, net::tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  net::tcp::socket client(ex);
  co_await client.async_connect(acceptor.local_endpoint(), net::use_awaitable);
  auto server = co_await acceptor.async_accept(net::use_awaitable);
  co_return std::make_pair(std::move(client), std::move(server));
}

}  // namespace peerup::test
