#include "wire/invite.hpp"

#include <gtest/gtest.h>

#include "crypto/keys.hpp"
#include "multiformats/multihash.hpp"

namespace peerup {
namespace {

invite::invite_data sample(std::string_view relay = "/ip4/203.0.113.7/tcp/4001") {
  return invite::invite_data{{0x12, 0x34},
                             {1, 2, 3, 4, 5, 6},
                             private_key::from_seed(bytes(32, 7)).value().to_peer_id(),
                             multiaddr::parse(relay).value()};
}

TEST(invite, code_round_trips_and_is_short) {
  const auto inv = sample();
  auto code = invite::encode_code(inv);
  ASSERT_TRUE(code);
  // 1 + 2 + 6 + 32 + 1 + 8 + 2 = 52 bytes -> 84 base32 characters in groups of 5.
  EXPECT_EQ(code->size(), 84u + 16u);
  auto back = invite::decode(*code);
  ASSERT_TRUE(back);
  EXPECT_EQ(*back, inv);
}

TEST(invite, link_round_trips_and_carries_the_same_data) {
  for (auto relay : {"/ip4/203.0.113.7/tcp/4001", "/ip6/2001:db8::1/tcp/4001",
                     "/dns4/relay.example.com/tcp/443", "/dns/r.example/tcp/1"}) {
    const auto inv = sample(relay);
    auto link = invite::encode_link(inv);
    ASSERT_TRUE(link) << relay;
    EXPECT_EQ(link->rfind("peerup://join/", 0), 0u);
    auto back = invite::decode(*link);
    ASSERT_TRUE(back) << relay;
    EXPECT_EQ(*back, inv);
    EXPECT_EQ(invite::decode(*invite::encode_code(inv)).value(), *back);
  }
}

TEST(invite, decode_forgives_case_spaces_and_look_alike_digits) {
  const auto inv = sample();
  std::string code = *invite::encode_code(inv);
  std::string typed;
  for (char c : code) {
    if (c == '-') { typed += ' '; continue; }
    char u = (c >= 'a' && c <= 'z') ? static_cast<char>(c - 'a' + 'A') : c;
    if (c == 'o') u = '0';
    if (c == 'l') u = '1';
    typed += u;
  }
  auto back = invite::decode("  " + typed + "\n");
  ASSERT_TRUE(back);
  EXPECT_EQ(*back, inv);
}

TEST(invite, a_typo_is_reported_as_a_typo) {
  std::string code = *invite::encode_code(sample());
  code[10] = code[10] == 'a' ? 'b' : 'a';
  std::string why;
  auto r = invite::decode(code, &why);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), make_error_code(errc::invite_invalid));
  EXPECT_NE(why.find("typo"), std::string::npos) << why;
}

TEST(invite, decode_refuses_bad_text_with_a_reason) {
  const std::string code = *invite::encode_code(sample());
  struct bad_case {
    std::string text;
    std::string says;
  };
  const std::vector<bad_case> cases = {
      {"", "empty"},
      {std::string(invite::max_text_length + 1, 'a'), "at most"},
      {code.substr(0, code.size() - 1), "number of characters"},
      {code.substr(0, 19), "too short"},  // 16 characters: 10 whole bytes
      {code + "!", "not in a code"},
      {"https://example.com/x", "must start with peerup://join/"},
      {"aaaaa-aaaaa-aaaaa-aaaaa-aaaaa-aaaaa-aaaaa-aaaaa-aaaaa-aaaaa-aaaaa-aaaaa-aaaaa-aaaaa-aaaaa"
       "-aaaaa-aaaa",
       "typo"},
  };
  for (const auto& c : cases) {
    std::string why;
    auto r = invite::decode(c.text, &why);
    ASSERT_FALSE(r) << c.text;
    EXPECT_EQ(r.error(), make_error_code(errc::invite_invalid));
    EXPECT_NE(why.find(c.says), std::string::npos) << "'" << c.text << "' said: " << why;
  }
}

TEST(invite, binary_checks_version_lengths_and_relay_form) {
  bytes bin = *invite::encode_binary(sample());
  auto reseal = [](bytes b) {
    b.resize(b.size() - 2);
    const auto d = sha256_digest(b);
    b.push_back(d[0]);
    b.push_back(d[1]);
    return b;
  };
  std::string why;
  bytes v3 = bin;
  v3[0] = 3;
  EXPECT_FALSE(invite::decode_binary(reseal(v3), &why));
  EXPECT_NE(why.find("version 3"), std::string::npos) << why;
  bytes badlen = bin;
  badlen[41] = static_cast<std::uint8_t>(badlen[41] + 1);  // the relay length byte
  EXPECT_FALSE(invite::decode_binary(reseal(badlen), &why));
  EXPECT_NE(why.find("length"), std::string::npos) << why;
  // A relay address with /p2p appended is not a transport address.
  auto inv = sample();
  inv.relay = multiaddr::parse("/ip4/1.2.3.4/tcp/1/p2p/" + inv.home.to_string()).value();
  EXPECT_EQ(invite::encode_binary(inv, &why).error(), make_error_code(errc::invalid_argument));
  EXPECT_NE(why.find("relay address"), std::string::npos) << why;
  inv.relay = multiaddr::parse("/ip4/1.2.3.4/udp/1").value();
  EXPECT_FALSE(invite::encode_binary(inv, &why));
  EXPECT_NE(why.find("/tcp/"), std::string::npos) << why;
}

TEST(invite, only_ed25519_home_ids_fit_in_a_code) {
  auto inv = sample();
  inv.home = peer_id::from_public_key(bytes(300, 0x30));  // a hashed (Qm) ID
  std::string why;
  EXPECT_FALSE(invite::encode_code(inv, &why));
  EXPECT_NE(why.find("Ed25519"), std::string::npos) << why;
}

TEST(invite, password_binds_id_and_secret) {
  auto a = sample();
  auto b = a;
  b.secret[5] ^= 1;
  auto c = a;
  c.id[0] ^= 1;
  EXPECT_NE(invite::password(a), invite::password(b));
  EXPECT_NE(invite::password(a), invite::password(c));
}

TEST(invite, relay_rights_make_version_2_and_round_trip) {
  auto inv = sample();
  const auto v1 = invite::encode_binary(inv).value();
  EXPECT_EQ(v1[0], invite::version);
  inv.pass = invite::relay_pass{{0xaa, 0xbb}, {9, 8, 7, 6, 5, 4}};
  const auto v2 = invite::encode_binary(inv).value();
  EXPECT_EQ(v2[0], invite::version_with_relay_pass);
  EXPECT_EQ(v2.size(), v1.size() + invite::id_bytes + invite::secret_bytes);
  auto back = invite::decode(*invite::encode_code(inv));
  ASSERT_TRUE(back);
  EXPECT_EQ(*back, inv);
  // 60 bytes -> 96 base32 characters, plus 19 dashes.
  EXPECT_EQ(invite::encode_code(inv)->size(), 96u + 19u);
}

TEST(invite, relay_invite_of_uses_the_pass_and_the_relay_as_home) {
  auto inv = sample();
  inv.pass = invite::relay_pass{{0xaa, 0xbb}, {9, 8, 7, 6, 5, 4}};
  const auto relay = private_key::from_seed(bytes(32, 9)).value().to_peer_id();
  const auto r = invite::relay_invite_of(inv, relay);
  EXPECT_EQ(r.home, relay);
  EXPECT_EQ(r.relay, inv.relay);
  EXPECT_EQ(r.id, inv.pass->id);
  EXPECT_EQ(r.secret, inv.pass->secret);
  EXPECT_FALSE(r.pass);
  // The two PAKE passwords differ: the relay cannot pair with home by it.
  EXPECT_NE(invite::password(r), invite::password(inv));
}

TEST(invite, a_version_2_invite_cut_short_or_with_a_wrong_length_is_refused) {
  auto inv = sample();
  inv.pass = invite::relay_pass{{0xaa, 0xbb}, {9, 8, 7, 6, 5, 4}};
  auto bin = invite::encode_binary(inv).value();
  // Claim version 2 but drop the pass (and fix the check so only the layout is wrong).
  auto v1 = invite::encode_binary(sample()).value();
  v1[0] = invite::version_with_relay_pass;
  v1.resize(v1.size() - 2);
  const auto d = sha256_digest(v1);
  v1.insert(v1.end(), d.begin(), d.begin() + 2);
  std::string why;
  EXPECT_FALSE(invite::decode_binary(v1, &why));
  EXPECT_NE(why.find("length"), std::string::npos) << why;
  // A version 1 that carries 8 extra bytes is refused the same way.
  bin[0] = invite::version;
  bin.resize(bin.size() - 2);
  const auto d2 = sha256_digest(bin);
  bin.insert(bin.end(), d2.begin(), d2.begin() + 2);
  EXPECT_FALSE(invite::decode_binary(bin, &why));
}

}  // namespace
}  // namespace peerup

namespace peerup {
namespace {

invite::short_code short_sample(std::string_view relay = "/ip4/203.0.113.7/tcp/4001") {
  return invite::short_code{{9, 8, 7, 6, 5, 4, 3, 2, 1, 0}, multiaddr::parse(relay).value()};
}

TEST(invite_short, a_short_code_round_trips_and_is_less_than_half_the_full_one) {
  const auto code = short_sample();
  auto text = invite::encode_short_code(code);
  ASSERT_TRUE(text);
  // 1 + 10 + 1 + 8 + 2 = 22 bytes -> 36 base32 characters, in groups of 5.
  EXPECT_EQ(text->size(), 36u + 7u);
  EXPECT_LT(text->size() * 2, invite::encode_code(sample())->size());
  auto back = invite::decode_any(*text);
  ASSERT_TRUE(back);
  ASSERT_TRUE(std::holds_alternative<invite::short_code>(*back));
  EXPECT_EQ(std::get<invite::short_code>(*back), code);
  // A full code still decodes as one.
  auto full = invite::decode_any(*invite::encode_code(sample()));
  ASSERT_TRUE(full);
  EXPECT_EQ(std::get<invite::invite_data>(*full), sample());
  // decode() (the full codes only) says what a short code is.
  std::string why;
  EXPECT_FALSE(invite::decode(*text, &why));
  EXPECT_NE(why.find("short code"), std::string::npos) << why;
}

TEST(invite_short, a_typo_or_a_cut_in_a_short_code_is_named) {
  std::string text = *invite::encode_short_code(short_sample());
  std::string typo = text;
  typo[3] = typo[3] == 'a' ? 'b' : 'a';
  std::string why;
  EXPECT_FALSE(invite::decode_any(typo, &why));
  EXPECT_NE(why.find("typo"), std::string::npos) << why;
  EXPECT_FALSE(invite::decode_any(text.substr(0, 10), &why));
  EXPECT_FALSE(why.empty());
  // The relay must be one TCP host:port, as in a full code.
  EXPECT_FALSE(invite::encode_short_code(short_sample("/ip4/1.2.3.4/udp/1/quic-v1"), &why));
}

TEST(invite_short, the_sealed_invite_opens_only_with_its_code_and_its_relay) {
  const auto code = short_sample();
  auto inv = sample();
  inv.pass = invite::relay_pass{{7, 7}, {1, 1, 1, 1, 1, 1}};
  const auto box = invite::seal(inv, code);
  ASSERT_FALSE(box.empty());
  EXPECT_LE(box.size(), invite::max_sealed_bytes);
  EXPECT_EQ(invite::open_sealed(box, code).value(), inv);
  std::string why;
  auto other = code;
  other.secret[0] ^= 1;
  EXPECT_FALSE(invite::open_sealed(box, other, &why));
  EXPECT_NE(why.find("does not open"), std::string::npos) << why;
  auto changed = box;
  changed[5] ^= 0x80;
  EXPECT_FALSE(invite::open_sealed(changed, code, &why));
  // A box naming another relay than the code does (a relay swapping boxes).
  auto elsewhere = sample("/ip4/198.51.100.1/tcp/4001");
  EXPECT_FALSE(invite::open_sealed(invite::seal(elsewhere, code), code, &why));
  EXPECT_NE(why.find("another relay"), std::string::npos) << why;
  EXPECT_FALSE(invite::open_sealed(bytes(invite::max_sealed_bytes + 1, 0), code, &why));
  // The relay files it under a handle that is not the secret and differs per code.
  const auto h = invite::handle_of(code);
  EXPECT_NE(h, invite::handle_of(other));
  EXPECT_FALSE(std::equal(h.begin(), h.end(), code.secret.begin()));
}

}  // namespace
}  // namespace peerup
