// The TUN network pump (src/tun/network) between two hosts on loopback, with
// in-memory packet devices in place of /dev/net/tun: which way packets
// travel (QUIC datagrams or the /peerup/ip/1.0.0 stream), and that bad
// datagrams from a peer are dropped and counted.
#include <gtest/gtest.h>

#include <deque>

#include "config/network_config.hpp"
#include "support/async_test.hpp"
#include "tun/network.hpp"
#include "unit/tun_core/packets.hpp"

namespace peerup::test {
namespace {

// A packet device the test feeds and reads: inject() is what the kernel
// would route into the interface, written() what the pump delivered.
class memory_device final : public tun::packet_device {
 public:
  explicit memory_device(asio::any_io_executor ex) : wake_(ex) {}
  void inject(bytes p) {
    inbox_.push_back(std::move(p));
    wake_.notify();
  }
  const std::vector<bytes>& written() const { return written_; }

  net::awaitable<result<std::span<const byte_span>>> read_batch() override {
    for (;;) {
      if (closed_) co_return make_error_code(errc::connection_closed);
      if (!inbox_.empty()) {
        batch_.assign(std::make_move_iterator(inbox_.begin()), std::make_move_iterator(inbox_.end()));
        inbox_.clear();
        spans_.assign(batch_.begin(), batch_.end());
        co_return std::span<const byte_span>(spans_);
      }
      co_await wake_.wait();
    }
  }
  bool write(byte_span packet) override {
    written_.emplace_back(packet.begin(), packet.end());
    return !closed_;
  }
  void close() override {
    closed_ = true;
    wake_.notify();
  }
  const std::string& name() const override { return name_; }

 private:
  net::signal wake_;
  std::deque<bytes> inbox_;
  std::vector<bytes> batch_;
  std::vector<byte_span> spans_;
  std::vector<bytes> written_;
  bool closed_ = false;
  std::string name_ = "mem0";
};

// Two hosts, each with a network over a memory device; `home` listens on
// `listen`, `phone` knows home's address and sends first.
struct tun_networks : ::testing::Test {
  asio::io_context io;
  std::unique_ptr<net::host> home, phone;
  std::unique_ptr<tun::network> home_net, phone_net;
  memory_device* home_dev = nullptr;
  memory_device* phone_dev = nullptr;
  app::config cfg;
  bool home_authorizes_phone = true;

  void start(const char* listen) {
    home = std::make_unique<net::host>(io.get_executor(), listening_config(listen));
    phone = std::make_unique<net::host>(io.get_executor(),
                                        net::host_config{.identity = private_key::generate()});
    home->start();
    phone->start();
    phone->peers().add_addr(home->id(), home->listen_addrs().front());
    cfg.network.tun = true;
    // Larger than any QUIC datagram on loopback, so one packet must fall
    // back to the stream.
    cfg.network.mtu = 4000;
    auto opener = [this](memory_device*& out) {
      return [this, &out](const tun::device_config&,
                          std::string&) -> result<std::unique_ptr<tun::packet_device>> {
        auto d = std::make_unique<memory_device>(io.get_executor());
        out = d.get();
        return std::unique_ptr<tun::packet_device>(std::move(d));
      };
    };
    home_net = std::make_unique<tun::network>(
        *home, cfg, std::vector<peer_id>{phone->id()},
        [this](const peer_id&) { return home_authorizes_phone; }, opener(home_dev));
    phone_net = std::make_unique<tun::network>(*phone, cfg, std::vector<peer_id>{home->id()},
                                               [](const peer_id&) { return true; },
                                               opener(phone_dev));
    home_net->start();
    phone_net->start();
  }
  void TearDown() override {
    if (phone_net) phone_net->stop();
    if (home_net) home_net->stop();
  }
  tun::ip_address home_ip() const { return home_net->switch_state().book().self_v4(); }
  tun::ip_address phone_ip() const { return phone_net->switch_state().book().self_v4(); }
  // An ICMP echo request phone -> home with `payload` bytes after the header.
  bytes echo(std::size_t payload, std::uint16_t id = 7) const {
    return tun::test::v4_packet(phone_ip(), home_ip(), tun::ip_proto::icmp,
                                tun::test::transport(tun::ip_proto::icmp, 8, id, 0, payload));
  }
  tun::peer_traffic phone_sent() const { return phone_net->traffic_total(); }
  tun::peer_traffic home_got() const { return home_net->traffic_total(); }
};

TEST_F(tun_networks, packets_travel_as_quic_datagrams_on_a_direct_quic_path) {
  start("/ip4/127.0.0.1/udp/0/quic-v1");
  const bytes small = echo(100), big = echo(3000);
  run_async(io, [&]() -> net::awaitable<void> {
    phone_dev->inject(small);
    EXPECT_TRUE(co_await eventually([&] { return home_dev->written().size() == 1; }));
    // Larger than a datagram: the stream carries it.
    phone_dev->inject(big);
    EXPECT_TRUE(co_await eventually([&] { return home_dev->written().size() == 2; }));
  });
  ASSERT_EQ(home_dev->written().size(), 2u);
  EXPECT_EQ(home_dev->written()[0], small);
  EXPECT_EQ(home_dev->written()[1], big);
  EXPECT_EQ(phone_sent().datagram_packets_out, 1u);
  EXPECT_EQ(phone_sent().stream_packets_out, 1u);
  EXPECT_EQ(phone_sent().datagram_fallbacks, 1u);
  EXPECT_EQ(home_got().datagram_packets_in, 1u);
  EXPECT_EQ(home_got().datagram_bytes_in, small.size());
  EXPECT_EQ(home_got().stream_packets_in, 1u);
  const auto& per_peer = phone_net->traffic().at(home->id());
  EXPECT_EQ(per_peer.transport, "quic");
  EXPECT_TRUE(per_peer.datagrams);
}

TEST_F(tun_networks, packets_travel_on_the_stream_over_tcp) {
  start("/ip4/127.0.0.1/tcp/0");
  const bytes small = echo(100);
  run_async(io, [&]() -> net::awaitable<void> {
    phone_dev->inject(small);
    phone_dev->inject(small);
    EXPECT_TRUE(co_await eventually([&] { return home_dev->written().size() == 2; }));
  });
  EXPECT_EQ(home_dev->written().size(), 2u);
  EXPECT_EQ(phone_sent().datagram_packets_out, 0u);
  EXPECT_EQ(phone_sent().stream_packets_out, 2u);
  EXPECT_EQ(home_got().stream_packets_in, 2u);
  EXPECT_EQ(home_got().datagram_packets_in, 0u);
  EXPECT_EQ(phone_net->traffic().at(home->id()).transport, "tcp");
  EXPECT_FALSE(phone_net->traffic().at(home->id()).datagrams);
}

TEST_F(tun_networks, bad_datagrams_from_a_peer_are_dropped_and_counted) {
  start("/ip4/127.0.0.1/udp/0/quic-v1");
  run_async(io, [&]() -> net::awaitable<void> {
    auto c = co_await phone->connect(home->id());
    EXPECT_TRUE(c);
    if (!c) co_return;
    auto* dg = (*c)->mux->datagrams();
    EXPECT_NE(dg, nullptr);
    if (!dg) co_return;
    // 1. not an IP packet; 2. a truncated header; 3. a spoofed source;
    // 4. to an address that is not home's (transit); 5. a control message.
    const bytes junk{0x45, 0x00, 0x00};
    const bytes garbage(200, 0xff);  // version 15
    const bytes spoofed = tun::test::v4_packet(tun::test::ip("10.64.250.250"), home_ip(),
                                        tun::ip_proto::icmp,
                                        tun::test::transport(tun::ip_proto::icmp, 8, 1));
    const bytes transit = tun::test::v4_packet(phone_ip(), tun::test::ip("10.64.250.251"),
                                        tun::ip_proto::icmp,
                                        tun::test::transport(tun::ip_proto::icmp, 8, 1));
    const bytes control{0x00, 0x01};
    for (const bytes* b : {&junk, &garbage, &spoofed, &transit, &control})
      EXPECT_TRUE(dg->send(*b));
    EXPECT_TRUE(co_await eventually([&] { return home_got().dropped_in == 5; }));
    // A good one still passes after them.
    const bytes good = echo(10);
    EXPECT_TRUE(dg->send(good));
    EXPECT_TRUE(co_await eventually([&] { return home_dev->written().size() == 1; }));
  });
  EXPECT_EQ(home_dev->written().size(), 1u);
  EXPECT_EQ(home_got().datagram_packets_in, 6u);
  EXPECT_EQ(home_got().dropped_in, 5u);
  const auto& c = home_net->switch_state().counters();
  EXPECT_GE(c.drops(tun::drop_reason::malformed), 3u);
  EXPECT_EQ(c.drops(tun::drop_reason::spoofed), 1u);
  EXPECT_EQ(c.drops(tun::drop_reason::not_for_us), 1u);
}

TEST_F(tun_networks, datagrams_of_a_peer_no_longer_authorized_are_dropped) {
  start("/ip4/127.0.0.1/udp/0/quic-v1");
  run_async(io, [&]() -> net::awaitable<void> {
    phone_dev->inject(echo(10));
    EXPECT_TRUE(co_await eventually([&] { return home_dev->written().size() == 1; }));
    // The key is removed (a reload): the next datagrams go nowhere.
    home_authorizes_phone = false;
    phone_dev->inject(echo(10, 8));
    phone_dev->inject(echo(10, 9));
    EXPECT_TRUE(co_await eventually([&] { return home_got().dropped_in == 2; }));
  });
  EXPECT_EQ(home_dev->written().size(), 1u);
  EXPECT_EQ(home_net->switch_state().counters().drops(tun::drop_reason::unknown_peer), 2u);
}

}  // namespace
}  // namespace peerup::test
