// CPace, a balanced PAKE: the cipher suite CPACE-RISTR255-SHA512 of
// draft-irtf-cfrg-cpace (CFRG, revision 13 and the editor's copy of 2026-04),
// in the initiator-responder setting, on libsodium's ristretto255 group.
//
// Policy:
// - Follows the draft exactly: generator_string, calculate_generator
//   (element_derivation = crypto_core_ristretto255_from_hash on the 64-byte
//   SHA-512 of the generator string), sample_scalar (32 random bytes with the
//   bits above 252 cleared), scalar_mult, scalar_mult_vfy (G.I on a failed
//   decode or an identity result), transcript_ir and ISK. Tested against the
//   draft's appendix vectors (tests/unit/crypto/cpace_test.cpp).
// - Optional key confirmation as the draft's section "Key confirmation"
//   suggests: mac_key = SHA-512(b"CPaceMac" || sid || ISK), each side's tag is
//   HMAC-SHA-512(mac_key, lv_cat(Y, AD)) over its own message.
// - K never leaves this file (the draft: "MUST NOT expose K"); secrets are
//   wiped with sodium_memzero when the session object dies.
// - No I/O, no clock: the caller moves Ya/ADa and Yb/ADb.
//
// SECURITY: a received share that does not decode, or that makes K the
// identity, aborts the run (errc::pake_invalid_share); ADs are bounded by
// max_ad_bytes so a peer cannot make us hash without bound.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <optional>

#include "common/bytes.hpp"
#include "common/error.hpp"

namespace peerup::cpace {

inline constexpr std::size_t point_bytes = 32;   // G_Ristretto255.field_size_bytes
inline constexpr std::size_t scalar_bytes = 32;
inline constexpr std::size_t isk_bytes = 64;     // SHA-512 output
inline constexpr std::size_t tag_bytes = 64;     // HMAC-SHA-512 output
inline constexpr std::size_t sha512_block = 128; // H.s_in_bytes
inline constexpr std::size_t max_ad_bytes = 1024;
inline constexpr std::size_t max_input_bytes = 4096;  // PRS, CI, sid each

using point = std::array<std::uint8_t, point_bytes>;
using scalar = std::array<std::uint8_t, scalar_bytes>;
using isk = std::array<std::uint8_t, isk_bytes>;
using tag = std::array<std::uint8_t, tag_bytes>;

// G.DSI for ristretto255.
inline constexpr std::string_view dsi = "CPaceRistretto255";

// --- string utilities of the draft's appendix "CPace function definitions" ---

// LEB128 length followed by the data.
bytes prepend_len(byte_span data);
// prepend_len of each argument, concatenated.
bytes lv_cat(std::initializer_list<byte_span> parts);
// lv_cat(DSI, PRS, zero_bytes(len_zpad), CI, sid), len_zpad filling the first
// hash block after DSI and PRS.
bytes generator_string(byte_span dsi, byte_span prs, byte_span ci, byte_span sid,
                       std::size_t s_in_bytes);
// lv_cat(Ya, ADa) || lv_cat(Yb, ADb).
bytes transcript_ir(byte_span ya, byte_span ada, byte_span yb, byte_span adb);

// --- group operations (G_Ristretto255) ---

// The encoded generator g = element_derivation(SHA-512(generator_string)).
point calculate_generator(byte_span prs, byte_span ci, byte_span sid);
// 32 random bytes with the bits above group_size_bits (252) cleared.
scalar sample_scalar();
// encode(y * g). Fails only if g does not decode or the result is the identity.
result<point> scalar_mult(const scalar& y, const point& g);
// encode(y * decode(X)), or G.I (all zeros) when X does not decode or the
// result is the identity.
point scalar_mult_vfy(const scalar& y, const point& x);
// G.I, the encoding of the neutral element.
inline constexpr point identity{};

// ISK = SHA-512(lv_cat(DSI || "_ISK", sid, K) || transcript_ir(Ya, ADa, Yb, ADb)).
isk derive_isk_ir(byte_span sid, const point& k, byte_span ya, byte_span ada, byte_span yb,
                  byte_span adb);
// sid_output = SHA-512("CPaceSidOutput" || transcript_ir(...)), for runs
// without a sid input.
isk sid_output_ir(byte_span ya, byte_span ada, byte_span yb, byte_span adb);
// HMAC-SHA-512(SHA-512("CPaceMac" || sid || ISK), lv_cat(Y, AD)): the
// confirmation tag for the message (Y, AD).
tag confirmation_tag(byte_span sid, const isk& key, byte_span y, byte_span ad);

enum class role { initiator, responder };  // A speaks first, B answers

// One CPace run for one party. Usage: construct, send share() and the AD,
// then finish() with the peer's share and AD; then compare tags.
class session {
public:
  // Computes g, samples y (or takes `fixed_scalar`, for test vectors only)
  // and Y = y * g. Fails with errc::invalid_argument when an input is larger
  // than its bound.
  static result<session> start(role r, byte_span prs, byte_span ci, byte_span sid, byte_span ad,
                               std::optional<scalar> fixed_scalar = std::nullopt);

  session(session&&) noexcept;
  session& operator=(session&&) noexcept;
  session(const session&) = delete;
  session& operator=(const session&) = delete;
  ~session();

  const point& share() const { return y_pub_; }
  // ISK after a successful finish().
  const std::optional<isk>& key() const { return isk_; }
  role side() const { return role_; }

  // Derives ISK from the peer's share and AD. SECURITY: aborts with
  // errc::pake_invalid_share when the share is not 32 bytes, does not decode
  // or makes K the identity, errc::too_large when the AD is over
  // max_ad_bytes, errc::invalid_argument on a second call.
  result<isk> finish(byte_span peer_share, byte_span peer_ad);

  // After finish(): our confirmation tag, and a constant-time check of the
  // peer's.
  tag own_tag() const;
  bool verify_peer_tag(byte_span peer_tag) const;

private:
  session() = default;
  role role_ = role::initiator;
  scalar y_{};
  point y_pub_{};
  bytes sid_;
  bytes ad_;
  bytes peer_share_;
  bytes peer_ad_;
  std::optional<isk> isk_;
};

}  // namespace peerup::cpace
