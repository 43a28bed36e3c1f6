// Connections whose path dies silently (a NAT mapping dropped, a link gone:
// no FIN, no RST, just nothing) and dials that several callers want at once.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>

#include "net/quic_transport.hpp"
#include "net/signal.hpp"
#include "support/async_test.hpp"

namespace peerup::test {
namespace {

using tcp = asio::ip::tcp;
using udp = asio::ip::udp;

// A TCP forwarder on loopback that can turn into a black hole: once frozen it
// keeps both sockets open and reads everything, but forwards nothing.
class freezable_forwarder {
 public:
  freezable_forwarder(asio::io_context& io, tcp::endpoint target)
      : io_(io),
        acceptor_(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0)),
        target_(target) {
    asio::co_spawn(io, accept_one(), asio::detached);
  }
  ~freezable_forwarder() { stop(); }
  std::uint16_t port() const { return acceptor_.local_endpoint().port(); }
  void freeze() { *frozen_ = true; }
  // Reads (of either side) forwarded at or after `since`.
  std::size_t forwarded_since(net::steady_clock::time_point since) const {
    return static_cast<std::size_t>(
        std::count_if(times_->begin(), times_->end(), [&](auto t) { return t >= since; }));
  }
  void stop() {
    net::error_code ec;
    acceptor_.close(ec);
    for (auto& s : sockets_) s->close(ec);
  }

 private:
  net::awaitable<void> accept_one() {
    auto [ec, in] = co_await acceptor_.async_accept(net::use_nothrow);
    if (ec) co_return;
    auto out = std::make_shared<tcp::socket>(io_);
    auto [cec] = co_await out->async_connect(target_, net::use_nothrow);
    if (cec) co_return;
    auto in_ptr = std::make_shared<tcp::socket>(std::move(in));
    sockets_ = {in_ptr, out};
    asio::co_spawn(io_, pump(in_ptr, out, frozen_, times_), asio::detached);
    asio::co_spawn(io_, pump(out, in_ptr, frozen_, times_), asio::detached);
  }
  static net::awaitable<void> pump(
      std::shared_ptr<tcp::socket> from, std::shared_ptr<tcp::socket> to,
      std::shared_ptr<bool> frozen,
      std::shared_ptr<std::vector<net::steady_clock::time_point>> times) {
    std::vector<std::uint8_t> buf(64 * 1024);
    for (int i = 0; i < 1'000'000; ++i) {  // bounded: a test moves far less
      auto [ec, n] = co_await from->async_read_some(asio::buffer(buf), net::use_nothrow);
      if (ec) co_return;
      if (*frozen) continue;
      times->push_back(net::steady_clock::now());
      auto [wec, w] =
          co_await asio::async_write(*to, asio::buffer(buf.data(), n), net::use_nothrow);
      if (wec) co_return;
    }
  }

  asio::io_context& io_;
  tcp::acceptor acceptor_;
  tcp::endpoint target_;
  std::shared_ptr<bool> frozen_ = std::make_shared<bool>(false);
  std::shared_ptr<std::vector<net::steady_clock::time_point>> times_ =
      std::make_shared<std::vector<net::steady_clock::time_point>>();
  std::vector<std::shared_ptr<tcp::socket>> sockets_;
};

// The same for QUIC: a UDP forwarder on loopback between one client and the
// server that can turn into a black hole (drops everything once frozen). It
// counts the datagrams it forwards, with their time, to show when the two
// ends talk.
class freezable_udp_forwarder {
 public:
  freezable_udp_forwarder(asio::io_context& io, udp::endpoint target)
      : st_(std::make_shared<state>(io)) {
    st_->back.connect(target);
    asio::co_spawn(io, pump_front(st_), asio::detached);
    asio::co_spawn(io, pump_back(st_), asio::detached);
  }
  ~freezable_udp_forwarder() {
    net::error_code ec;
    st_->front.close(ec);
    st_->back.close(ec);
  }
  std::uint16_t port() const { return st_->front.local_endpoint().port(); }
  void freeze() { st_->frozen = true; }
  // Datagrams forwarded (either way) at or after `since`.
  std::size_t forwarded_since(net::steady_clock::time_point since) const {
    return static_cast<std::size_t>(std::count_if(
        st_->times.begin(), st_->times.end(), [&](auto t) { return t >= since; }));
  }

 private:
  // Shared with the pumps, which may resume after the forwarder is gone.
  struct state {
    explicit state(asio::io_context& io)
        : front(io, udp::endpoint(asio::ip::make_address("127.0.0.1"), 0)),
          back(io, udp::endpoint(asio::ip::make_address("127.0.0.1"), 0)) {}
    udp::socket front, back;
    udp::endpoint client;
    bool known_client = false;
    bool frozen = false;
    std::vector<net::steady_clock::time_point> times;
  };

  static net::awaitable<void> pump_front(std::shared_ptr<state> st) {
    std::vector<std::uint8_t> buf(64 * 1024);
    for (int i = 0; i < 1'000'000; ++i) {  // bounded: a test moves far less
      auto [ec, n] =
          co_await st->front.async_receive_from(asio::buffer(buf), st->client, net::use_nothrow);
      if (!st->front.is_open()) co_return;
      if (ec || st->frozen) continue;
      st->known_client = true;
      st->times.push_back(net::steady_clock::now());
      (void)co_await st->back.async_send(asio::buffer(buf.data(), n), net::use_nothrow);
    }
  }
  static net::awaitable<void> pump_back(std::shared_ptr<state> st) {
    std::vector<std::uint8_t> buf(64 * 1024);
    for (int i = 0; i < 1'000'000; ++i) {
      auto [ec, n] = co_await st->back.async_receive(asio::buffer(buf), net::use_nothrow);
      if (!st->back.is_open()) co_return;
      if (ec || st->frozen || !st->known_client) continue;
      st->times.push_back(net::steady_clock::now());
      (void)co_await st->front.async_send_to(asio::buffer(buf.data(), n), st->client,
                                             net::use_nothrow);
    }
  }

  std::shared_ptr<state> st_;
};

struct liveness : ::testing::Test {
  asio::io_context io;
  net::host server{io.get_executor(),
                   net::host_config{.identity = private_key::generate(),
                                    .listen = {*multiaddr::parse("/ip4/127.0.0.1/tcp/0")}}};
  net::host client{io.get_executor(), net::host_config{.identity = private_key::generate()}};

  void SetUp() override {
    server.set_handler(echo_protocol, serve_echo);
    server.start();
    client.start();
  }
  tcp::endpoint server_endpoint() {
    const auto text = server.listen_addrs().front().to_string();  // /ip4/127.0.0.1/tcp/<port>
    const auto port = static_cast<std::uint16_t>(std::stoi(text.substr(text.rfind('/') + 1)));
    return {asio::ip::make_address("127.0.0.1"), port};
  }
  multiaddr via(std::uint16_t port) {
    return *multiaddr::parse("/ip4/127.0.0.1/tcp/" + std::to_string(port) + "/p2p/" +
                             server.id().to_string());
  }
  net::awaitable<void> sleep(std::chrono::milliseconds d) {
    asio::steady_timer t(io, d);
    co_await t.async_wait(net::use_nothrow);
  }
};

// Keepalive alone would take 45-60 s (3 unanswered pings 15 s apart); the
// hang guard is 20 s, so only the liveness probe can pass this test.
TEST_F(liveness, a_path_that_dies_silently_fails_the_connection_when_a_stream_opens) {
  freezable_forwarder fwd(io, server_endpoint());
  bool closed = false;
  run_async(
      io,
      [&]() -> net::awaitable<void> {
        auto conn = co_await client.connect(via(fwd.port()));
        EXPECT_TRUE(conn) << conn.error().message();
        if (!conn) co_return;
        co_await sleep(1500ms);  // quiet for longer than the probe's threshold
        fwd.freeze();
        auto opened = co_await client.new_stream(*conn, echo_protocol);
        if (opened) {  // the SYN went into the void; the echo cannot come back
          const auto data = random_bytes(16);
          auto echoed = co_await echo_roundtrip(*opened->stream, data);
          EXPECT_FALSE(echoed);
        }
        co_await (*conn)->mux->wait_closed();
        closed = (*conn)->mux->is_closed();
        EXPECT_TRUE(client.connections(server.id()).empty());
      },
      20s);
  EXPECT_TRUE(closed);
}

// lab_conntrack_flush's idle flush: a probe went out and was answered, and
// the path died before that probe's timer (3 s) ran out. A stream opened
// then must be probed on its own: the answered probe proves nothing about
// it. When the answered probe counted as "under way" the open sent no ping,
// nor did the quiet probe after it, and the dead path was found only at the
// next keepalive (45-60 s; the guard is 15 s).
TEST_F(liveness, a_path_that_dies_right_after_an_answered_probe_is_probed_again) {
  freezable_forwarder fwd(io, server_endpoint());
  bool closed = false;
  net::steady_clock::duration took{};
  run_async(
      io,
      [&]() -> net::awaitable<void> {
        auto conn = co_await client.connect(via(fwd.port()));
        EXPECT_TRUE(conn) << conn.error().message();
        if (!conn) co_return;
        co_await sleep(1500ms);
        const auto probed = net::steady_clock::now();
        (*conn)->mux->check_alive();  // answered within a round trip
        co_await sleep(1200ms);       // quiet again for longer than the threshold
        EXPECT_GT((*conn)->mux->last_received(), probed) << "the probe was not answered";
        fwd.freeze();
        const auto frozen = net::steady_clock::now();
        auto opened = co_await client.new_stream(*conn, echo_protocol);
        if (opened) {
          const auto data = random_bytes(16);
          auto echoed = co_await echo_roundtrip(*opened->stream, data);
          EXPECT_FALSE(echoed);
        }
        co_await (*conn)->mux->wait_closed();
        took = net::steady_clock::now() - frozen;
        closed = (*conn)->mux->is_closed();
        EXPECT_EQ((*conn)->mux->close_reason(), make_error_code(errc::timeout));
      },
      15s);
  EXPECT_TRUE(closed);
  // The probe timeout (3 s) from the open, plus slack.
  EXPECT_LE(took, 5s);
}

// The soak's conntrack -F: a side that only answers sends nothing after the
// path dies, so only a probe of its own can find out (or, behind a flushed
// NAT, heal the mapping). Keepalive alone would take 45-60 s; the guard is 15 s.
// The connection is used twice, 3 s apart: in between, both quiet probes are
// done and the keepalive loop sleeps until the next ping (15 s), so the
// second use must wake it (without the wake this took ~16 s).
TEST_F(liveness, a_connection_that_goes_silent_after_use_is_probed_without_any_send) {
  freezable_forwarder fwd(io, server_endpoint());
  bool closed = false;
  net::steady_clock::duration took{};
  run_async(
      io,
      [&]() -> net::awaitable<void> {
        auto conn = co_await client.connect(via(fwd.port()));
        EXPECT_TRUE(conn) << conn.error().message();
        if (!conn) co_return;
        for (int round = 0; round < 2; ++round) {
          if (round == 1) co_await sleep(3000ms);  // an idle spell: the loop sleeps long
          auto opened = co_await client.new_stream(*conn, echo_protocol);
          EXPECT_TRUE(opened);
          if (!opened) co_return;
          const auto data = random_bytes(1024);
          auto echoed = co_await echo_roundtrip(*opened->stream, data);
          EXPECT_TRUE(echoed && *echoed == data);
        }
        fwd.freeze();  // from now on nothing arrives, and we send nothing
        const auto frozen = net::steady_clock::now();
        co_await (*conn)->mux->wait_closed();
        took = net::steady_clock::now() - frozen;
        closed = (*conn)->mux->is_closed();
        EXPECT_EQ((*conn)->mux->close_reason(), make_error_code(errc::timeout));
      },
      15s);
  EXPECT_TRUE(closed);
  // 1 s of quiet, checked every 0.5 s, then the 3 s probe timeout.
  EXPECT_LE(took, 8s);
}

TEST_F(liveness, a_quiet_but_healthy_connection_survives_the_probe) {
  freezable_forwarder fwd(io, server_endpoint());
  run_async(io, [&]() -> net::awaitable<void> {
    auto conn = co_await client.connect(via(fwd.port()));
    EXPECT_TRUE(conn) << conn.error().message();
    if (!conn) co_return;
    for (int round = 0; round < 2; ++round) {
      co_await sleep(1500ms);
      auto opened = co_await client.new_stream(*conn, echo_protocol);
      EXPECT_TRUE(opened);
      if (!opened) co_return;
      const auto data = random_bytes(1024);
      auto echoed = co_await echo_roundtrip(*opened->stream, data);
      EXPECT_TRUE(echoed && *echoed == data);
    }
    co_await sleep(4000ms);  // longer than the probe timeout
    EXPECT_TRUE((*conn)->is_open());
    EXPECT_EQ(client.connections(server.id()).size(), 1u);
  });
}

struct quic_liveness : ::testing::Test {
  asio::io_context io;
  net::host server{io.get_executor(), listening_config("/ip4/127.0.0.1/udp/0/quic-v1")};
  net::host client{io.get_executor(), net::host_config{.identity = private_key::generate()}};

  void SetUp() override {
    server.set_handler(echo_protocol, serve_echo);
    server.start();
    client.start();
  }
  udp::endpoint server_endpoint() { return *net::to_udp_endpoint(server.listen_addrs().front()); }
  multiaddr via(std::uint16_t port) {
    return *multiaddr::parse("/ip4/127.0.0.1/udp/" + std::to_string(port) + "/quic-v1/p2p/" +
                             server.id().to_string());
  }
  // Connects through `fwd` and echoes 1 KiB on one stream: the connection
  // has been used.
  net::awaitable<net::connection_ptr> connect_and_use(freezable_udp_forwarder& fwd) {
    auto conn = co_await client.connect(via(fwd.port()));
    EXPECT_TRUE(conn) << conn.error().message();
    if (!conn) co_return nullptr;
    EXPECT_EQ((*conn)->mux->kind(), "quic");
    auto opened = co_await client.new_stream(*conn, echo_protocol);
    EXPECT_TRUE(opened);
    if (!opened) co_return nullptr;
    const auto data = random_bytes(1024);
    auto echoed = co_await echo_roundtrip(*opened->stream, data);
    EXPECT_TRUE(echoed && *echoed == data);
    co_return *conn;
  }
};

// QUIC's idle timeout (30 s) and keep-alive (15 s) alone would take 30 s;
// the guard is 15 s, so only the quiet probe (a PING) can pass this test.
TEST_F(quic_liveness, a_quic_connection_that_goes_silent_after_use_is_probed_without_any_send) {
  freezable_udp_forwarder fwd(io, server_endpoint());
  bool closed = false;
  net::steady_clock::duration took{};
  run_async(
      io,
      [&]() -> net::awaitable<void> {
        auto conn = co_await connect_and_use(fwd);
        if (!conn) co_return;
        fwd.freeze();  // from now on nothing arrives, and we send nothing
        const auto frozen = net::steady_clock::now();
        co_await conn->mux->wait_closed();
        took = net::steady_clock::now() - frozen;
        closed = conn->mux->is_closed();
        EXPECT_EQ(conn->mux->close_reason(), make_error_code(errc::timeout));
      },
      15s);
  EXPECT_TRUE(closed);
  // 1 s of quiet, checked every 0.5 s, then the 3 s probe timeout.
  EXPECT_LE(took, 8s);
}

// The probe is a PING, not a stream: the peer does not count it as use, so
// after one probe each the two ends of a quiet, healthy connection stay
// silent (until keep-alive, 15 s) instead of probing each other every few
// seconds; and the connection lives on.
TEST_F(quic_liveness, two_quiet_peers_probe_once_and_then_stay_silent) {
  freezable_udp_forwarder fwd(io, server_endpoint());
  std::size_t late = 1000, early = 0;
  run_async(
      io,
      [&]() -> net::awaitable<void> {
        auto conn = co_await connect_and_use(fwd);
        if (!conn) co_return;
        const auto used = net::steady_clock::now();
        asio::steady_timer t(io, 12s);
        co_await t.async_wait(net::use_nothrow);
        // The client probes 1-1.5 s after use (a PING, the server's ACK);
        // the server, whose quiet clock that PING restarted, 1-1.5 s later.
        early = fwd.forwarded_since(used + 500ms) - fwd.forwarded_since(used + 7s);
        late = fwd.forwarded_since(used + 7s);
        EXPECT_TRUE(conn->is_open());
        EXPECT_EQ(client.connections(server.id()).size(), 1u);
      },
      25s);
  EXPECT_GE(early, 2u) << "no quiet probe went out";
  EXPECT_EQ(late, 0u) << "the peers kept probing each other";
}

// The relay connection's keepalive (relay_reservations.cpp: 5 s): an idle
// connection with a shorter interval pings that often, so a NAT in front of
// it gets a packet from inside at least that often. With the default (15 s)
// only the quiet probes flow (each side's once, in the first few seconds).
TEST_F(liveness, a_shorter_keepalive_pings_an_idle_connection_that_often) {
  freezable_forwarder fwd(io, server_endpoint());
  std::size_t in_window = 0;
  run_async(io, [&]() -> net::awaitable<void> {
    auto conn = co_await client.connect(via(fwd.port()));
    EXPECT_TRUE(conn) << conn.error().message();
    if (!conn) co_return;
    (*conn)->mux->set_keepalive_interval(1s);
    const auto start = net::steady_clock::now();
    co_await sleep(7500ms);
    // Pings and pongs: about 2 per second from 4 s on; the default would
    // show at most the server's quiet probe and its answer here.
    in_window = fwd.forwarded_since(start + 4s);
    EXPECT_TRUE((*conn)->is_open());
  });
  EXPECT_GE(in_window, 5u);
}

TEST_F(liveness, concurrent_connects_to_one_peer_share_one_dial) {
  client.peers().add_addrs(server.id(), server.listen_addrs());
  constexpr int callers = 6;
  std::vector<net::connection_ptr> got;
  run_async(io, [&]() -> net::awaitable<void> {
    int done = 0;
    net::signal all_done(io.get_executor());
    for (int i = 0; i < callers; ++i) {
      asio::co_spawn(
          io,
          [&]() -> net::awaitable<void> {
            auto c = co_await client.connect(server.id());
            EXPECT_TRUE(c) << c.error().message();
            if (c) got.push_back(*c);
            if (++done == callers) all_done.notify();
          },
          asio::detached);
    }
    while (done < callers) co_await all_done.wait();
  });
  ASSERT_EQ(got.size(), static_cast<std::size_t>(callers));
  for (const auto& c : got) EXPECT_EQ(c.get(), got.front().get());
  EXPECT_EQ(client.connections(server.id()).size(), 1u);
}

}  // namespace
}  // namespace peerup::test
