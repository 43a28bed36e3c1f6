// The gateway's SOCKS5 server (RFC 1928, CONNECT only; RFC 1929 username and
// password when the config has users). Each client connection is one
// coroutine: handshake, then the gateway opens the service stream, then bytes
// are spliced both ways. Bad input closes that connection only.
#pragma once

#include <memory>

#include "gateway/gateway.hpp"
#include "wire/socks5.hpp"

namespace peerup::app {

// The SOCKS reply for a gateway failure: a name that is not peer-up's is
// "not allowed by ruleset", an unknown or unreachable peer "host
// unreachable", a missing or refusing service "connection refused".
wire::socks5::reply to_socks_reply(gateway_failure f);

class socks_server {
 public:
  static constexpr auto handshake_timeout = std::chrono::seconds(10);

  // Binds `ep` (throws std::system_error, e.g. when the port is taken).
  // Contract: `gw` outlives the server; runs on the gateway host's executor.
  socks_server(gateway& gw, const net::tcp::endpoint& ep);
  ~socks_server();
  socks_server(const socks_server&) = delete;
  socks_server& operator=(const socks_server&) = delete;

  net::tcp::endpoint local_endpoint() const { return acceptor_.local_endpoint(); }
  void start();
  void stop();

 private:
  net::awaitable<void> accept_loop();
  net::awaitable<void> serve(net::tcp::socket socket, gateway::slot held);

  gateway& gw_;
  net::tcp::acceptor acceptor_;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace peerup::app
