#include "wire/pairing.hpp"

#include <gtest/gtest.h>

#include "crypto/keys.hpp"

namespace peerup {
namespace {

using namespace pairing;

const peer_id home_id = private_key::from_seed(bytes(32, 1)).value().to_peer_id();
const peer_id device_id = private_key::from_seed(bytes(32, 2)).value().to_peer_id();
const peer_id mallory_id = private_key::from_seed(bytes(32, 3)).value().to_peer_id();
const peer_id relay_id = private_key::from_seed(bytes(32, 4)).value().to_peer_id();
const multiaddr relay_addr = multiaddr::parse("/ip4/127.0.0.1/tcp/4001").value();
constexpr std::int64_t now = 1'000'000;

invite_record make_record() {
  invite_record rec{invite::invite_data{{0xab, 0xcd}, {9, 8, 7, 6, 5, 4}, home_id, relay_addr},
                    now + 600, "laptop", {"ssh", "web"}};
  return rec;
}

// Runs the whole exchange through encode/decode, as the stream would.
struct run_result {
  result<std::optional<message>> device_outcome = std::optional<message>{};
  std::optional<paired> device_paired;
  std::optional<paired> home_paired;
};

message wire_trip(const message& m) {
  auto b = encode(m);
  EXPECT_TRUE(b);
  auto back = decode(*b);
  EXPECT_TRUE(back) << back.error().message();
  EXPECT_EQ(*back, m);
  return *back;
}

run_result run(invite_record& rec, const invite::invite_data& typed,
               const peer_id& device = device_id, std::int64_t at = now) {
  run_result out;
  auto dev = device_session::start(typed, device, "laptop");
  EXPECT_TRUE(dev);
  home_session home(home_id, device, relay_addr.with_peer(relay_id), "home");
  auto find = [&](const std::array<std::uint8_t, 2>& id) {
    return id == rec.data.id ? &rec : nullptr;
  };
  const auto h = std::get<hello>(wire_trip(dev->first_message()));
  auto r = home.on_hello(h, find, at);
  EXPECT_TRUE(r);
  auto c = dev->on_message(wire_trip(*r));
  if (!c) {
    out.device_outcome = c;
    return out;
  }
  auto w = home.on_confirm(std::get<confirm>(wire_trip(**c)));
  EXPECT_TRUE(w);
  out.device_outcome = dev->on_message(wire_trip(*w));
  out.device_paired = dev->pairing_result();
  out.home_paired = home.pairing_result();
  return out;
}

TEST(pairing, device_and_home_pair_with_the_right_code_and_agree_on_the_verification_string) {
  auto rec = make_record();
  auto r = run(rec, rec.data);
  ASSERT_TRUE(r.device_outcome) << r.device_outcome.error().message();
  ASSERT_TRUE(r.device_paired && r.home_paired);
  EXPECT_EQ(r.home_paired->peer, device_id);
  EXPECT_EQ(r.home_paired->name, "laptop");
  EXPECT_EQ(r.home_paired->services, (std::vector<std::string>{"ssh", "web"}));
  EXPECT_EQ(r.device_paired->peer, home_id);
  EXPECT_EQ(r.device_paired->name, "home");
  EXPECT_EQ(r.device_paired->relay, relay_addr.with_peer(relay_id));
  EXPECT_EQ(r.device_paired->verification, r.home_paired->verification);
  EXPECT_EQ(r.device_paired->verification.size(), 14u);  // "dddd dddd dddd"
  EXPECT_TRUE(rec.used);
  EXPECT_EQ(rec.failures, 0u);
}

TEST(pairing, a_wrong_code_is_refused_and_counted) {
  auto rec = make_record();
  auto typed = rec.data;
  typed.secret[0] ^= 1;
  auto r = run(rec, typed);
  ASSERT_FALSE(r.device_outcome);
  EXPECT_EQ(r.device_outcome.error(), make_error_code(errc::invite_wrong_code));
  EXPECT_FALSE(rec.used);
  EXPECT_EQ(rec.failures, 1u);
}

TEST(pairing, the_invite_locks_after_max_failures_even_for_the_right_code) {
  auto rec = make_record();
  auto typed = rec.data;
  typed.secret[5] ^= 0x40;
  for (unsigned i = 0; i < rec.max_failures; ++i) {
    EXPECT_EQ(run(rec, typed).device_outcome.error(), make_error_code(errc::invite_wrong_code));
  }
  auto r = run(rec, rec.data);
  ASSERT_FALSE(r.device_outcome);
  EXPECT_EQ(r.device_outcome.error(), make_error_code(errc::invite_locked));
  EXPECT_FALSE(rec.used);
}

TEST(pairing, an_expired_invite_is_refused) {
  auto rec = make_record();
  auto r = run(rec, rec.data, device_id, rec.expires_unix);
  ASSERT_FALSE(r.device_outcome);
  EXPECT_EQ(r.device_outcome.error(), make_error_code(errc::invite_expired));
  EXPECT_EQ(rec.failures, 0u);
}

TEST(pairing, a_used_invite_is_refused_when_replayed) {
  auto rec = make_record();
  ASSERT_TRUE(run(rec, rec.data).device_outcome);
  auto again = run(rec, rec.data, mallory_id);
  ASSERT_FALSE(again.device_outcome);
  EXPECT_EQ(again.device_outcome.error(), make_error_code(errc::invite_used));
}

TEST(pairing, an_unknown_invite_id_reads_as_a_wrong_code) {
  auto rec = make_record();
  auto typed = rec.data;
  typed.id[1] ^= 1;
  auto r = run(rec, typed);
  ASSERT_FALSE(r.device_outcome);
  EXPECT_EQ(r.device_outcome.error(), make_error_code(errc::invite_wrong_code));
  EXPECT_EQ(rec.failures, 0u);
}

TEST(pairing, a_device_that_is_not_the_noise_peer_gets_different_keys) {
  // Mallory relays the device's HELLO on her own Noise connection: home binds
  // Mallory's peer ID into CI, the device bound its own, so the tags fail.
  auto rec = make_record();
  auto dev = device_session::start(rec.data, device_id, "laptop");
  ASSERT_TRUE(dev);
  home_session home(home_id, mallory_id, relay_addr.with_peer(relay_id), "home");
  auto r = home.on_hello(dev->first_message(), [&](auto&) { return &rec; }, now);
  ASSERT_TRUE(r);
  auto c = dev->on_message(*r);
  ASSERT_FALSE(c);
  EXPECT_EQ(c.error(), make_error_code(errc::invite_wrong_code));
}

TEST(pairing, a_forged_confirm_is_refused) {
  auto rec = make_record();
  auto dev = device_session::start(rec.data, device_id, "laptop");
  home_session home(home_id, device_id, relay_addr.with_peer(relay_id), "home");
  ASSERT_TRUE(home.on_hello(dev->first_message(), [&](auto&) { return &rec; }, now));
  auto w = home.on_confirm(confirm{});
  ASSERT_TRUE(w);
  EXPECT_EQ(std::get<error_msg>(*w).why, refusal::wrong_code);
  EXPECT_FALSE(rec.used);
  EXPECT_EQ(rec.failures, 1u);
  EXPECT_FALSE(home.pairing_result());
}

TEST(pairing, messages_out_of_order_are_protocol_errors) {
  auto rec = make_record();
  home_session home(home_id, device_id, relay_addr.with_peer(relay_id), "home");
  EXPECT_EQ(home.on_confirm(confirm{}).error(), make_error_code(errc::pairing_protocol));
  auto dev = device_session::start(rec.data, device_id, "laptop");
  EXPECT_EQ(dev->on_message(welcome{relay_addr.with_peer(relay_id), "home", {}}).error(),
            make_error_code(errc::pairing_protocol));
}

TEST(pairing, decode_refuses_malformed_messages) {
  const std::vector<bytes> bad = {
      {},
      {0},
      {9},
      {3, 1, 2},                                  // short confirm
      bytes(max_message_bytes + 1, 3),            // over the bound
      {5, 0},                                     // unknown refusal
      {5, 1, 0},                                  // trailing byte
  };
  for (const auto& b : bad) {
    EXPECT_EQ(decode(b).error(), make_error_code(errc::pairing_protocol)) << to_hex(b);
  }
  // HELLO whose name length runs past the end, and one with a control character.
  const std::string h = std::string(1, '\x01') + std::string(2 + 16 + 32, '\0');
  auto b = [](const std::string& text) { return bytes(text.begin(), text.end()); };
  EXPECT_FALSE(decode(b(h + "\x0a" "a")));
  EXPECT_FALSE(decode(b(h + "\x02" "a\n")));
  EXPECT_TRUE(decode(b(h + "\x02" "ab")));
  // WELCOME with a relay address that has no /p2p.
  auto w = encode(welcome{relay_addr.with_peer(relay_id), "home", {"ssh"}});
  ASSERT_TRUE(w);
  EXPECT_TRUE(decode(*w));
  EXPECT_FALSE(encode(welcome{relay_addr, "", {}}));
  const auto& ra = relay_addr.to_bytes();
  const std::string no_peer = std::string(1, '\x04') + std::string(1, static_cast<char>(ra.size())) +
                              std::string(ra.begin(), ra.end()) + "\x04" "home" + std::string(1, '\0');
  EXPECT_FALSE(decode(b(no_peer)));
}

TEST(pairing, names_are_bounded_printable_ascii) {
  EXPECT_TRUE(valid_name("laptop"));
  EXPECT_TRUE(valid_name("Mary's laptop"));
  EXPECT_FALSE(valid_name(""));
  EXPECT_FALSE(valid_name(" x"));
  EXPECT_FALSE(valid_name(std::string(max_name_bytes + 1, 'a')));
  EXPECT_FALSE(valid_name("a\x1b[2J"));
  EXPECT_FALSE(device_session::start(make_record().data, device_id, "bad\nname"));
}

}  // namespace
}  // namespace peerup
