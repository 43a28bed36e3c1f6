// TCP transport: listening and dialing, with SO_REUSEADDR/SO_REUSEPORT so an
// outgoing connection can use the listen port (hole punching needs the NAT
// mapping of the listen port) and TCP_NODELAY (multiplexed small frames).
#pragma once

#include <optional>

#include "multiformats/multiaddr.hpp"
#include "net/asio.hpp"
#include "net/byte_stream.hpp"

namespace peerup::net {

using tcp = asio::ip::tcp;

class tcp_stream final : public byte_stream {
 public:
  explicit tcp_stream(tcp::socket socket);
  awaitable<result<std::size_t>> read_some(mutable_byte_span buf) override;
  awaitable<result<void>> write(byte_span data) override;
  awaitable<result<void>> close_write() override;
  void reset() override;
  asio::any_io_executor get_executor() override { return socket_.get_executor(); }

  // Completes once a read_some would not block (bytes, the end or an error
  // are there), taking no bytes: a one-byte MSG_PEEK receive (see
  // net/wait_readable.hpp for why not async_wait). Contract: counts as the
  // read in flight; cancelling it leaves the stream usable.
  awaitable<void> wait_readable();

  tcp::socket& socket() { return socket_; }

 private:
  tcp::socket socket_;
  // The end (asio::error::eof, or an error) that wait_readable's peek saw;
  // read_some returns it without asking the reactor, which would wait for
  // an epoll edge that never comes (see wait_readable).
  error_code end_;
};

// ip4/ip6 + tcp multiaddr -> endpoint (no DNS). errc::invalid_multiaddr otherwise.
result<tcp::endpoint> to_endpoint(const multiaddr& addr);
multiaddr to_multiaddr(const tcp::endpoint& ep);

class tcp_listener {
 public:
  // Binds and listens. Throws on failure: listening happens at start-up,
  // where a failure is a configuration error.
  tcp_listener(asio::any_io_executor ex, const tcp::endpoint& ep);
  // Contract: one accept at a time; cancelled by close().
  awaitable<result<tcp::socket>> accept();
  tcp::endpoint local_endpoint() const { return acceptor_.local_endpoint(); }
  void close();

 private:
  tcp::acceptor acceptor_;
};

// Dials an ip4/ip6/dns4/dns6 + tcp multiaddr. When `reuse_port_from` is set,
// the socket binds that local endpoint first (same port as our listener).
// Contract: runs on the caller's executor; cancellation closes the socket.
awaitable<result<tcp::socket>> tcp_dial(const multiaddr& addr,
                                        std::optional<tcp::endpoint> reuse_port_from = {});

void set_socket_options(tcp::socket& s);

}  // namespace peerup::net
