#include "multiformats/multiaddr.hpp"

#include <gtest/gtest.h>

#include <unordered_set>

#include "unit/multiformats/test_hex.hpp"

namespace peerup {
namespace {

using test::from_hex;

constexpr std::string_view relay_id = "QmcgpsyWgH8Y8ajJz1Cu72KnS5uo2Aa2LpzU7kinSupNKC";

multiaddr ma(std::string_view text) {
  auto a = multiaddr::parse(text);
  EXPECT_TRUE(a) << text << ": " << a.error().message();
  return a ? *a : multiaddr{};
}

// Text/binary pairs published in go-multiaddr, js-multiaddr and swift-multiaddr tests.
TEST(multiaddr, converts_published_text_binary_pairs_both_ways) {
  const std::pair<std::string_view, std::string_view> vectors[] = {
      {"/ip4/127.0.0.1/udp/1234", "047f000001910204d2"},
      {"/ip4/127.0.0.1/tcp/4321", "047f0000010610e1"},
      {"/ip4/127.0.0.1/udp/1234/ip4/127.0.0.1/tcp/4321", "047f000001910204d2047f0000010610e1"},
      {"/ip6/2001:8a0:7ac5:4201:3ac9:86ff:fe31:7095", "29200108a07ac542013ac986fffe317095"},
      {"/p2p/QmcgpsyWgH8Y8ajJz1Cu72KnS5uo2Aa2LpzU7kinSupNKC",
       "a503221220d52ebb89d85b02a284948203a62ff28389c57c9f42beec4ec20db76a68911c0b"},
      {"/ip4/127.0.0.1/udp/1234/utp", "047f000001910204d2ae02"},
  };
  for (auto [text, hex] : vectors) {
    const auto a = ma(text);
    EXPECT_EQ(to_hex(a.to_bytes()), hex) << text;
    auto back = multiaddr::from_bytes(from_hex(hex));
    ASSERT_TRUE(back) << hex;
    EXPECT_EQ(back->to_string(), text);
  }
}

TEST(multiaddr, reads_certhash_in_any_supported_multibase) {
  // From swift-multiaddr's certhash tests ('b' base32, 'z' base58btc).
  const auto a =
      ma("/ip4/127.0.0.1/udp/1234/quic-v1/webtransport/certhash/b2uaraocy6yrdblb4sfptaddgimjmmpy/"
         "certhash/zQmbWTwYGcmdyK9CYfNBcfs9nhZs17a6FQ4Y8oea278xx41");
  EXPECT_EQ(to_hex(a.to_bytes()),
            "047f000001910204d2cd03d103d20313d501103858f62230ac3c915f300c664312c63fd203221220c3ab8f"
            "f13720e8ad9047dd39466b3c8974e592c2fa383d4a3960714caef0c4f2");
  // Written back as base64url, like go-multiaddr; that text reads back the same.
  EXPECT_EQ(ma(a.to_string()), a);
  EXPECT_NE(a.to_string().find("/certhash/u"), std::string::npos);
}

TEST(multiaddr, accepts_ipfs_alias_and_cid_peer_ids_but_prints_p2p_base58) {
  EXPECT_EQ(ma("/ipfs/QmYyQSo1c1Ym7orWxLYvCrM2EmxFTANf8wXmmE7DWjhx5N").to_string(),
            "/p2p/QmYyQSo1c1Ym7orWxLYvCrM2EmxFTANf8wXmmE7DWjhx5N");
  EXPECT_EQ(ma("/p2p/bafzbeie5745rpv2m6tjyuugywy4d5ewrqgqqhfnf445he3omzpjbx5xqxe"),
            ma("/p2p/QmYyQSo1c1Ym7orWxLYvCrM2EmxFTANf8wXmmE7DWjhx5N"));
}

TEST(multiaddr, round_trips_every_supported_protocol) {
  for (std::string_view text : {
           "/ip4/1.2.3.4/tcp/80/ws",
           "/ip6/::1/tcp/8080",
           "/ip6zone/eth0/ip6/fe80::1/tcp/22",
           "/ip4/10.0.0.0/ipcidr/8",
           "/dns/example.com/tcp/443/tls/sni/example.com/ws",
           "/dns4/example.com/tcp/443/wss",
           "/dns6/example.com/udp/443/quic",
           "/dnsaddr/bootstrap.libp2p.io",
           "/ip4/0.0.0.0/udp/4001/quic-v1/webtransport",
           "/ip4/1.2.3.4/udp/4001/webrtc-direct",
           "/ip4/1.2.3.4/tcp/1/dccp/2/sctp/3/udt/noise/http/https/webrtc",
           "/ip4/1.2.3.4/tcp/4001/p2p/QmcgpsyWgH8Y8ajJz1Cu72KnS5uo2Aa2LpzU7kinSupNKC/p2p-circuit/"
           "p2p/12D3KooWD3eckifWpRn9wQpMG9R9hX3sD158z7EqHWmweQAJU5SA",
       }) {
    const auto a = ma(text);
    EXPECT_EQ(a.to_string(), text);
    EXPECT_EQ(multiaddr::from_bytes(a.to_bytes()).value(), a) << text;
  }
}

TEST(multiaddr, prints_ip6_in_rfc5952_form_and_accepts_trailing_slash) {
  EXPECT_EQ(ma("/ip6/0:0:0:0:0:0:0:1/tcp/1").to_string(), "/ip6/::1/tcp/1");
  EXPECT_EQ(ma("/ip6/2001:DB8::1/tcp/1").to_string(), "/ip6/2001:db8::1/tcp/1");
  EXPECT_EQ(ma("/ip4/1.2.3.4/tcp/5/").to_string(), "/ip4/1.2.3.4/tcp/5");
}

TEST(multiaddr, rejects_malformed_text) {
  for (std::string_view bad : {
           "",
           "/",
           "ip4/1.2.3.4",
           "//ip4/1.2.3.4",
           "/ip4",
           "/ip4/1.2.3",
           "/ip4/1.2.3.256",
           "/ip4/01.2.3.4",
           "/ip4/1.2.3.4/tcp",
           "/ip4/1.2.3.4/tcp/65536",
           "/ip4/1.2.3.4/tcp/-1",
           "/ip4/1.2.3.4/tcp/080",
           "/ip4/1.2.3.4/tcp/8a",
           "/ip6/1.2.3.4::x",
           "/ip4/1.2.3.4//tcp/1",
           "/p2p/QmNotAPeer",
           "/certhash/b",
           "/certhash/xabc",
           "/dns4/a\tb/tcp/1",
       }) {
    EXPECT_EQ(multiaddr::parse(bad).error(), errc::invalid_multiaddr) << bad;
  }
  EXPECT_EQ(multiaddr::parse("/ip4/1.2.3.4/carrier-pigeon/1").error(), errc::unknown_protocol);
  EXPECT_EQ(multiaddr::parse("/unix/tmp/sock").error(), errc::unknown_protocol);
}

TEST(multiaddr, rejects_malformed_binary) {
  EXPECT_EQ(multiaddr::from_bytes(bytes{}).error(), errc::invalid_multiaddr);
  EXPECT_EQ(multiaddr::from_bytes(from_hex("047f0000")).error(), errc::invalid_multiaddr);
  EXPECT_EQ(multiaddr::from_bytes(from_hex("0610")).error(), errc::invalid_multiaddr);
  EXPECT_EQ(multiaddr::from_bytes(from_hex("7f")).error(), errc::unknown_protocol);
  EXPECT_EQ(multiaddr::from_bytes(from_hex("80")).error(), errc::invalid_multiaddr);
  // dns4 claiming 9 bytes with 3 present, and one with a '/' inside.
  EXPECT_EQ(multiaddr::from_bytes(from_hex("3609616263")).error(), errc::invalid_multiaddr);
  EXPECT_EQ(multiaddr::from_bytes(from_hex("3603612f62")).error(), errc::invalid_multiaddr);
  // p2p whose value is not a peer ID multihash.
  EXPECT_EQ(multiaddr::from_bytes(from_hex("a503021300")).error(), errc::invalid_multiaddr);
  // A length-prefixed value above the bound is refused before it is read.
  EXPECT_EQ(multiaddr::from_bytes(from_hex("36ffff03")).error(), errc::invalid_multiaddr);
}

TEST(multiaddr, bounds_size_and_component_count) {
  bytes many;
  for (int i = 0; i < 65; ++i) append(many, from_hex("0610e1"));
  EXPECT_EQ(multiaddr::from_bytes(many).error(), errc::too_large);
  EXPECT_EQ(multiaddr::from_bytes(bytes(multiaddr::max_binary_length + 1, 0x06)).error(),
            errc::too_large);
  std::string text;
  for (int i = 0; i < 65; ++i) text += "/ws";
  EXPECT_EQ(multiaddr::parse(text).error(), errc::too_large);
  EXPECT_EQ(multiaddr::parse(std::string(multiaddr::max_text_length + 1, '/')).error(),
            errc::too_large);
}

TEST(multiaddr, finds_last_peer_and_swaps_it) {
  const auto relay = peer_id::parse(relay_id).value();
  const auto target =
      peer_id::parse("12D3KooWD3eckifWpRn9wQpMG9R9hX3sD158z7EqHWmweQAJU5SA").value();
  const auto circuit = ma("/ip4/1.2.3.4/tcp/4001/p2p/" + std::string(relay_id) +
                          "/p2p-circuit/p2p/" + target.to_string());
  EXPECT_EQ(circuit.peer(), target);
  EXPECT_TRUE(circuit.is_relayed());
  EXPECT_EQ(circuit.relay_addr(), ma("/ip4/1.2.3.4/tcp/4001/p2p/" + std::string(relay_id)));
  EXPECT_EQ(circuit.relay_addr()->peer(), relay);

  const auto direct = ma("/ip4/1.2.3.4/tcp/4001");
  EXPECT_FALSE(direct.peer());
  EXPECT_FALSE(direct.is_relayed());
  EXPECT_FALSE(direct.relay_addr());
  EXPECT_EQ(direct.with_peer(relay).to_string(),
            "/ip4/1.2.3.4/tcp/4001/p2p/" + std::string(relay_id));
  EXPECT_EQ(direct.with_peer(relay).with_peer(target).peer(), target);
  EXPECT_EQ(direct.with_peer(relay).without_peer(), direct);
  EXPECT_EQ(direct.without_peer(), direct);
}

TEST(multiaddr, encapsulates_by_concatenation) {
  const auto a = ma("/ip4/127.0.0.1/udp/1234");
  EXPECT_EQ(a.encapsulate(ma("/udp/5678")).to_string(), "/ip4/127.0.0.1/udp/1234/udp/5678");
  EXPECT_EQ(multiaddr{}.encapsulate(a), a);
  EXPECT_EQ(a.encapsulate(ma("/udp/5678")).components().size(), 3u);
}

TEST(multiaddr, extracts_tcp_targets) {
  auto t = ma("/ip4/127.0.0.1/tcp/4001/p2p/" + std::string(relay_id)).tcp_target();
  ASSERT_TRUE(t);
  EXPECT_EQ(t->host, "127.0.0.1");
  EXPECT_EQ(t->port, 4001);
  EXPECT_EQ(t->kind, multiaddr::host_port::ip4);

  t = ma("/ip6/::1/tcp/65535").tcp_target();
  ASSERT_TRUE(t);
  EXPECT_EQ(t->host, "::1");
  EXPECT_EQ(t->port, 65535);
  EXPECT_EQ(t->kind, multiaddr::host_port::ip6);

  t = ma("/dns4/relay.example.com/tcp/443").tcp_target();
  ASSERT_TRUE(t);
  EXPECT_EQ(t->host, "relay.example.com");
  EXPECT_EQ(t->kind, multiaddr::host_port::dns4);
  EXPECT_EQ(ma("/dns6/x.y/tcp/1").tcp_target()->kind, multiaddr::host_port::dns6);
  EXPECT_EQ(ma("/dns/x.y/tcp/1").tcp_target()->kind, multiaddr::host_port::dns);

  EXPECT_FALSE(ma("/ip4/127.0.0.1/udp/4001/quic-v1").tcp_target());
  EXPECT_FALSE(ma("/dnsaddr/x.y/tcp/1").tcp_target());
  EXPECT_FALSE(ma("/p2p-circuit/ip4/1.2.3.4/tcp/1").tcp_target());
}

TEST(multiaddr, builds_from_socket_addresses) {
  EXPECT_EQ(multiaddr::from_tcp("127.0.0.1", 4001).to_string(), "/ip4/127.0.0.1/tcp/4001");
  EXPECT_EQ(multiaddr::from_tcp("::1", 80).to_string(), "/ip6/::1/tcp/80");
  EXPECT_EQ(multiaddr::from_tcp("fe80::1%eth0", 22).to_string(),
            "/ip6zone/eth0/ip6/fe80::1/tcp/22");
  EXPECT_THROW(multiaddr::from_tcp("localhost", 1), std::invalid_argument);
}

TEST(multiaddr, compares_and_hashes_by_bytes) {
  std::unordered_set<multiaddr> set{ma("/ip4/1.2.3.4/tcp/1"), ma("/ip4/1.2.3.4/tcp/1/"),
                                    ma("/ip4/1.2.3.4/tcp/2")};
  EXPECT_EQ(set.size(), 2u);
  EXPECT_NE(ma("/ip4/1.2.3.4/tcp/1"), ma("/ip4/1.2.3.4/udp/1"));
}

}  // namespace
}  // namespace peerup
