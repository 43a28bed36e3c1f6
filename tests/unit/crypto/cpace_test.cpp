#include "crypto/cpace.hpp"

#include <gtest/gtest.h>

#include <algorithm>

#include "unit/crypto/cpace_vectors.hpp"
#include "unit/multiformats/test_hex.hpp"

namespace peerup {
namespace {

using namespace test;
namespace v = test::cpace_vectors;

template <std::size_t N>
std::array<std::uint8_t, N> fixed(std::string_view hex) {
  const bytes b = from_hex(hex);
  std::array<std::uint8_t, N> out{};
  EXPECT_EQ(b.size(), N);
  std::copy_n(b.begin(), std::min(N, b.size()), out.begin());
  return out;
}

// --- string utilities (draft appendix "CPace function definitions") ---

TEST(cpace, prepend_len_matches_the_draft_vectors) {
  EXPECT_EQ(to_hex(cpace::prepend_len({})), "00");
  EXPECT_EQ(to_hex(cpace::prepend_len(as_bytes("1234"))), "0431323334");
  bytes r127(127), r128(128);
  for (std::size_t i = 0; i < r128.size(); ++i) r128[i] = static_cast<std::uint8_t>(i);
  std::copy_n(r128.begin(), 127, r127.begin());
  const auto p127 = cpace::prepend_len(r127);
  ASSERT_EQ(p127.size(), 128u);
  EXPECT_EQ(p127[0], 0x7f);
  const auto p128 = cpace::prepend_len(r128);
  ASSERT_EQ(p128.size(), 130u);
  EXPECT_EQ(p128[0], 0x80);
  EXPECT_EQ(p128[1], 0x01);
  EXPECT_EQ(p128[2], 0x00);
  EXPECT_EQ(p128[129], 0x7f);
}

TEST(cpace, lv_cat_matches_the_draft_vector) {
  EXPECT_EQ(to_hex(cpace::lv_cat({as_bytes("1234"), as_bytes("5"), {}, as_bytes("678")})),
            "043132333401350003363738");
}

TEST(cpace, transcript_ir_matches_the_draft_vectors) {
  EXPECT_EQ(to_hex(cpace::transcript_ir(as_bytes("123"), as_bytes("PartyA"), as_bytes("234"),
                                        as_bytes("PartyB"))),
            "03313233065061727479410332333406506172747942");
  EXPECT_EQ(to_hex(cpace::transcript_ir(as_bytes("3456"), as_bytes("PartyA"), as_bytes("2345"),
                                        as_bytes("PartyB"))),
            "043334353606506172747941043233343506506172747942");
}

// --- ristretto255 / SHA-512 suite ---

TEST(cpace, generator_string_matches_the_ristretto255_vector) {
  const auto gs = cpace::generator_string(as_bytes(cpace::dsi), from_hex(v::prs), from_hex(v::ci),
                                          from_hex(v::sid), cpace::sha512_block);
  EXPECT_EQ(gs.size(), 170u);
  EXPECT_EQ(to_hex(gs), v::generator_string);
}

TEST(cpace, calculate_generator_matches_the_ristretto255_vector) {
  const auto g = cpace::calculate_generator(from_hex(v::prs), from_hex(v::ci), from_hex(v::sid));
  EXPECT_EQ(to_hex(g), v::g);
}

TEST(cpace, shares_secret_point_and_isk_match_the_ristretto255_vectors) {
  const auto g = fixed<32>(v::g);
  const auto ya = fixed<32>(v::ya);
  const auto yb = fixed<32>(v::yb);
  auto Ya = cpace::scalar_mult(ya, g);
  auto Yb = cpace::scalar_mult(yb, g);
  ASSERT_TRUE(Ya && Yb);
  EXPECT_EQ(to_hex(*Ya), v::Ya);
  EXPECT_EQ(to_hex(*Yb), v::Yb);
  EXPECT_EQ(to_hex(cpace::scalar_mult_vfy(ya, *Yb)), v::K);
  EXPECT_EQ(to_hex(cpace::scalar_mult_vfy(yb, *Ya)), v::K);
  EXPECT_EQ(to_hex(cpace::transcript_ir(*Ya, from_hex(v::ada), *Yb, from_hex(v::adb))),
            v::transcript_ir);
  const auto k = fixed<32>(v::K);
  EXPECT_EQ(to_hex(cpace::derive_isk_ir(from_hex(v::sid), k, *Ya, from_hex(v::ada), *Yb,
                                        from_hex(v::adb))),
            v::isk_ir);
  EXPECT_EQ(to_hex(cpace::sid_output_ir(*Ya, from_hex(v::ada), *Yb, from_hex(v::adb))),
            v::sid_output_ir);
}

TEST(cpace, sessions_with_the_vector_scalars_reproduce_the_draft_isk) {
  auto a = cpace::session::start(cpace::role::initiator, from_hex(v::prs), from_hex(v::ci),
                                 from_hex(v::sid), from_hex(v::ada), fixed<32>(v::ya));
  auto b = cpace::session::start(cpace::role::responder, from_hex(v::prs), from_hex(v::ci),
                                 from_hex(v::sid), from_hex(v::adb), fixed<32>(v::yb));
  ASSERT_TRUE(a && b);
  EXPECT_EQ(to_hex(a->share()), v::Ya);
  EXPECT_EQ(to_hex(b->share()), v::Yb);
  auto isk_a = a->finish(b->share(), from_hex(v::adb));
  auto isk_b = b->finish(a->share(), from_hex(v::ada));
  ASSERT_TRUE(isk_a && isk_b);
  EXPECT_EQ(to_hex(*isk_a), v::isk_ir);
  EXPECT_EQ(to_hex(*isk_b), v::isk_ir);
  // Key confirmation: each accepts the other's tag, and the tags differ.
  EXPECT_TRUE(b->verify_peer_tag(a->own_tag()));
  EXPECT_TRUE(a->verify_peer_tag(b->own_tag()));
  EXPECT_NE(a->own_tag(), b->own_tag());
  EXPECT_FALSE(a->verify_peer_tag(a->own_tag()));  // a reflected tag is refused
}

TEST(cpace, scalar_mult_vfy_matches_the_valid_input_vector) {
  EXPECT_EQ(to_hex(cpace::scalar_mult_vfy(fixed<32>(v::vfy_s), fixed<32>(v::vfy_X))),
            v::vfy_result);
}

TEST(cpace, scalar_mult_vfy_returns_identity_for_the_invalid_input_vectors) {
  EXPECT_EQ(cpace::scalar_mult_vfy(fixed<32>(v::vfy_s), fixed<32>(v::vfy_invalid_1)),
            cpace::identity);
  EXPECT_EQ(cpace::scalar_mult_vfy(fixed<32>(v::vfy_s), fixed<32>(v::vfy_invalid_2)),
            cpace::identity);
}

TEST(cpace, session_aborts_on_the_invalid_share_vectors_and_wrong_sizes) {
  for (auto bad : {v::vfy_invalid_1, v::vfy_invalid_2}) {
    auto b = cpace::session::start(cpace::role::responder, from_hex(v::prs), from_hex(v::ci),
                                   from_hex(v::sid), from_hex(v::adb));
    ASSERT_TRUE(b);
    auto r = b->finish(from_hex(bad), from_hex(v::ada));
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error(), make_error_code(errc::pake_invalid_share));
  }
  auto b = cpace::session::start(cpace::role::responder, from_hex(v::prs), {}, {}, {});
  ASSERT_TRUE(b);
  EXPECT_EQ(b->finish(bytes(31, 1), {}).error(), make_error_code(errc::pake_invalid_share));
  EXPECT_EQ(b->finish(bytes(33, 1), {}).error(), make_error_code(errc::pake_invalid_share));
  auto a = cpace::session::start(cpace::role::initiator, from_hex(v::prs), {}, {}, {});
  ASSERT_TRUE(a);
  EXPECT_EQ(b->finish(a->share(), bytes(cpace::max_ad_bytes + 1, 0)).error(),
            make_error_code(errc::too_large));
}

TEST(cpace, different_passwords_give_different_keys_and_tags_fail) {
  auto a = cpace::session::start(cpace::role::initiator, as_bytes("correct"), as_bytes("ci"),
                                 as_bytes("sid"), as_bytes("A"));
  auto b = cpace::session::start(cpace::role::responder, as_bytes("wrong"), as_bytes("ci"),
                                 as_bytes("sid"), as_bytes("B"));
  ASSERT_TRUE(a && b);
  auto ka = a->finish(b->share(), as_bytes("B"));
  auto kb = b->finish(a->share(), as_bytes("A"));
  ASSERT_TRUE(ka && kb);
  EXPECT_NE(*ka, *kb);
  EXPECT_FALSE(b->verify_peer_tag(a->own_tag()));
  EXPECT_FALSE(a->verify_peer_tag(b->own_tag()));
}

TEST(cpace, random_runs_with_the_same_inputs_agree_and_differ_per_run) {
  auto run = [] {
    auto a = cpace::session::start(cpace::role::initiator, as_bytes("pw"), as_bytes("ci"),
                                   as_bytes("sid"), as_bytes("A"));
    auto b = cpace::session::start(cpace::role::responder, as_bytes("pw"), as_bytes("ci"),
                                   as_bytes("sid"), as_bytes("B"));
    auto ka = a->finish(b->share(), as_bytes("B"));
    auto kb = b->finish(a->share(), as_bytes("A"));
    EXPECT_TRUE(ka && kb);
    EXPECT_EQ(*ka, *kb);
    EXPECT_TRUE(a->verify_peer_tag(b->own_tag()));
    return *ka;
  };
  EXPECT_NE(run(), run());
}

TEST(cpace, sample_scalar_clears_the_bits_above_252) {
  for (int i = 0; i < 64; ++i) EXPECT_EQ(cpace::sample_scalar()[31] & 0xf0, 0);
}

TEST(cpace, finish_twice_and_oversized_inputs_are_refused) {
  auto a = cpace::session::start(cpace::role::initiator, as_bytes("pw"), {}, {}, {});
  auto b = cpace::session::start(cpace::role::responder, as_bytes("pw"), {}, {}, {});
  ASSERT_TRUE(a && b);
  ASSERT_TRUE(a->finish(b->share(), {}));
  EXPECT_EQ(a->finish(b->share(), {}).error(), make_error_code(errc::invalid_argument));
  EXPECT_FALSE(cpace::session::start(cpace::role::initiator, bytes(cpace::max_input_bytes + 1, 0),
                                     {}, {}, {}));
  EXPECT_FALSE(
      cpace::session::start(cpace::role::initiator, {}, {}, {}, bytes(cpace::max_ad_bytes + 1, 0)));
}

}  // namespace
}  // namespace peerup
