#include "dht/table_file.hpp"

#include <gtest/gtest.h>

#include <variant>

#include "crypto/keys.hpp"

namespace peerup::dht {
namespace {

const multiaddr a1 = *multiaddr::parse("/ip4/192.0.2.1/tcp/4001");
const multiaddr a2 = *multiaddr::parse("/ip6/2001:db8::1/udp/4001/quic-v1");

TEST(table_file, round_trips_peers_and_addresses) {
  const auto p = private_key::generate().to_peer_id();
  const auto q = private_key::generate().to_peer_id();
  const std::vector<table_entry> in{{p, {a1, a2}}, {q, {a2}}};
  auto out = decode_table_file(encode_table_file(in));
  ASSERT_TRUE(std::holds_alternative<std::vector<table_entry>>(out));
  EXPECT_EQ(std::get<std::vector<table_entry>>(out), in);
}

TEST(table_file, bounds_what_it_writes) {
  std::vector<table_entry> in;
  for (std::size_t i = 0; i < table_file_limits::max_entries + 5; ++i)
    in.push_back({private_key::generate().to_peer_id(), std::vector<multiaddr>(20, a1)});
  auto out = decode_table_file(encode_table_file(in));
  ASSERT_TRUE(std::holds_alternative<std::vector<table_entry>>(out));
  const auto& entries = std::get<std::vector<table_entry>>(out);
  EXPECT_EQ(entries.size(), table_file_limits::max_entries);
  EXPECT_EQ(entries[0].second.size(), table_file_limits::max_addrs);
}

TEST(table_file, refuses_a_bad_line_naming_its_number) {
  const auto p = private_key::generate().to_peer_id().to_string();
  auto err = [](std::string_view text) {
    auto out = decode_table_file(text);
    EXPECT_TRUE(std::holds_alternative<table_file_error>(out)) << text;
    return std::holds_alternative<table_file_error>(out) ? std::get<table_file_error>(out)
                                                         : table_file_error{};
  };
  EXPECT_EQ(err("# header\n" + p + " /ip4/1.2.3.4/tcp/1\nnot-a-peer /ip4/1.2.3.4/tcp/1\n").line, 3);
  EXPECT_EQ(err(p + " /ip4/999.1.1.1/tcp/1\n").message, "address 1 is no multiaddr");
  std::string many = p;
  for (int i = 0; i < 9; ++i) many += " /ip4/1.2.3.4/tcp/1";
  EXPECT_EQ(err(many).message, "more than 8 addresses");
  EXPECT_EQ(err(std::string(table_file_limits::max_size + 1, '#')).line, 0);
  EXPECT_EQ(err(p + std::string(table_file_limits::max_line, ' ') + "\n").line, 1);
  // Blank and comment lines are fine; a peer without addresses is kept (the
  // importer skips it).
  auto ok = decode_table_file("\n# x\n" + p + "\n");
  ASSERT_TRUE(std::holds_alternative<std::vector<table_entry>>(ok));
  EXPECT_EQ(std::get<std::vector<table_entry>>(ok).size(), 1u);
}

}  // namespace
}  // namespace peerup::dht
