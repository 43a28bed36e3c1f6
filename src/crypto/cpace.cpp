// CPACE-RISTR255-SHA512 (draft-irtf-cfrg-cpace); see cpace.hpp for the policy.
#include "crypto/cpace.hpp"

#include <sodium.h>

#include <algorithm>

namespace peerup::cpace {
namespace {

bool sodium_ready() {
  static const bool ok = sodium_init() >= 0;
  return ok;
}

isk sha512(byte_span in) {
  isk out{};
  crypto_hash_sha512(out.data(), in.data(), in.size());
  return out;
}

}  // namespace

bytes prepend_len(byte_span data) {
  bytes out;
  out.reserve(data.size() + 10);
  // LEB128: 7 bits per byte, least significant first, bit 7 set while more follow.
  std::size_t length = data.size();
  do {
    auto low = static_cast<std::uint8_t>(length & 0x7f);
    length >>= 7;
    out.push_back(length != 0 ? static_cast<std::uint8_t>(low | 0x80) : low);
  } while (length != 0);
  append(out, data);
  return out;
}

bytes lv_cat(std::initializer_list<byte_span> parts) {
  bytes out;
  for (auto part : parts) append(out, prepend_len(part));
  return out;
}

bytes generator_string(byte_span dsi_in, byte_span prs, byte_span ci, byte_span sid,
                       std::size_t s_in_bytes) {
  const std::size_t used = 1 + prepend_len(prs).size() + prepend_len(dsi_in).size();
  const std::size_t len_zpad = s_in_bytes > used ? s_in_bytes - used : 0;
  const bytes zpad(len_zpad, 0);
  return lv_cat({dsi_in, prs, zpad, ci, sid});
}

bytes transcript_ir(byte_span ya, byte_span ada, byte_span yb, byte_span adb) {
  bytes out = lv_cat({ya, ada});
  append(out, lv_cat({yb, adb}));
  return out;
}

point calculate_generator(byte_span prs, byte_span ci, byte_span sid) {
  sodium_ready();
  bytes gen = generator_string(as_bytes(dsi), prs, ci, sid, sha512_block);
  // H.hash(gen_str, 2 * field_size_bytes): SHA-512 is exactly 64 bytes.
  isk h = sha512(gen);
  point g{};
  crypto_core_ristretto255_from_hash(g.data(), h.data());
  // The generator string holds the password: wipe both copies.
  sodium_memzero(gen.data(), gen.size());
  sodium_memzero(h.data(), h.size());
  return g;
}

scalar sample_scalar() {
  sodium_ready();
  scalar y{};
  randombytes_buf(y.data(), y.size());
  // Clear the bits above group_size_bits = 252 (the top nibble of byte 31).
  y[31] &= 0x0f;
  return y;
}

result<point> scalar_mult(const scalar& y, const point& g) {
  sodium_ready();
  point out{};
  if (crypto_scalarmult_ristretto255(out.data(), y.data(), g.data()) != 0) {
    return make_error_code(errc::pake_invalid_share);
  }
  return out;
}

point scalar_mult_vfy(const scalar& y, const point& x) {
  sodium_ready();
  point out{};
  // libsodium returns -1 both when X is not a canonical ristretto255 encoding
  // and when y * X is the identity; either way the draft wants G.I.
  if (crypto_scalarmult_ristretto255(out.data(), y.data(), x.data()) != 0) return identity;
  return out;
}

isk derive_isk_ir(byte_span sid, const point& k, byte_span ya, byte_span ada, byte_span yb,
                  byte_span adb) {
  const std::string dsi_isk = std::string(dsi) + "_ISK";
  bytes in = lv_cat({as_bytes(dsi_isk), sid, k});
  append(in, transcript_ir(ya, ada, yb, adb));
  isk out = sha512(in);
  sodium_memzero(in.data(), in.size());  // holds K
  return out;
}

isk sid_output_ir(byte_span ya, byte_span ada, byte_span yb, byte_span adb) {
  bytes in(as_bytes("CPaceSidOutput").begin(), as_bytes("CPaceSidOutput").end());
  append(in, transcript_ir(ya, ada, yb, adb));
  return sha512(in);
}

tag confirmation_tag(byte_span sid, const isk& key, byte_span y, byte_span ad) {
  bytes mk_in(as_bytes("CPaceMac").begin(), as_bytes("CPaceMac").end());
  append(mk_in, sid);
  append(mk_in, key);
  isk mac_key = sha512(mk_in);
  sodium_memzero(mk_in.data(), mk_in.size());
  const bytes msg = lv_cat({y, ad});
  crypto_auth_hmacsha512_state st;
  crypto_auth_hmacsha512_init(&st, mac_key.data(), mac_key.size());
  crypto_auth_hmacsha512_update(&st, msg.data(), msg.size());
  tag out{};
  crypto_auth_hmacsha512_final(&st, out.data());
  sodium_memzero(mac_key.data(), mac_key.size());
  sodium_memzero(&st, sizeof st);
  return out;
}

result<session> session::start(role r, byte_span prs, byte_span ci, byte_span sid, byte_span ad,
                               std::optional<scalar> fixed_scalar) {
  // SECURITY: bound every input before hashing it.
  if (prs.size() > max_input_bytes || ci.size() > max_input_bytes ||
      sid.size() > max_input_bytes || ad.size() > max_ad_bytes) {
    return make_error_code(errc::invalid_argument);
  }
  session s;
  s.role_ = r;
  s.sid_.assign(sid.begin(), sid.end());
  s.ad_.assign(ad.begin(), ad.end());
  const point g = calculate_generator(prs, ci, sid);
  s.y_ = fixed_scalar ? *fixed_scalar : sample_scalar();
  auto y_pub = scalar_mult(s.y_, g);
  // from_hash never yields the identity for a hash output in practice; a
  // random scalar of 0 would, so that run is refused rather than sent.
  if (!y_pub) return y_pub.error();
  s.y_pub_ = *y_pub;
  return s;
}

session::session(session&& o) noexcept { *this = std::move(o); }

session& session::operator=(session&& o) noexcept {
  if (this != &o) {
    role_ = o.role_;
    y_ = o.y_;
    sodium_memzero(o.y_.data(), o.y_.size());
    y_pub_ = o.y_pub_;
    sid_ = std::move(o.sid_);
    ad_ = std::move(o.ad_);
    peer_share_ = std::move(o.peer_share_);
    peer_ad_ = std::move(o.peer_ad_);
    isk_ = o.isk_;
    if (o.isk_) sodium_memzero(o.isk_->data(), o.isk_->size());
    o.isk_.reset();
  }
  return *this;
}

session::~session() {
  sodium_memzero(y_.data(), y_.size());
  if (isk_) sodium_memzero(isk_->data(), isk_->size());
}

result<isk> session::finish(byte_span peer_share, byte_span peer_ad) {
  if (isk_) return make_error_code(errc::invalid_argument);
  // SECURITY: a share of the wrong size is refused before it is decoded, and
  // the peer's AD is bounded before it is hashed.
  if (peer_share.size() != point_bytes) return make_error_code(errc::pake_invalid_share);
  if (peer_ad.size() > max_ad_bytes) return make_error_code(errc::too_large);
  point remote{};
  std::copy(peer_share.begin(), peer_share.end(), remote.begin());
  point k = scalar_mult_vfy(y_, remote);
  // The draft: "MUST abort if K = G.I" (an invalid encoding also yields G.I).
  if (sodium_is_zero(k.data(), k.size())) return make_error_code(errc::pake_invalid_share);
  peer_share_.assign(peer_share.begin(), peer_share.end());
  peer_ad_.assign(peer_ad.begin(), peer_ad.end());
  isk out = role_ == role::initiator ? derive_isk_ir(sid_, k, y_pub_, ad_, remote, peer_ad)
                                     : derive_isk_ir(sid_, k, remote, peer_ad, y_pub_, ad_);
  sodium_memzero(k.data(), k.size());
  isk_ = out;
  return out;
}

tag session::own_tag() const {
  if (!isk_) return tag{};
  return confirmation_tag(sid_, *isk_, y_pub_, ad_);
}

bool session::verify_peer_tag(byte_span peer_tag) const {
  if (!isk_ || peer_tag.size() != tag_bytes) return false;
  const tag expected = confirmation_tag(sid_, *isk_, peer_share_, peer_ad_);
  return sodium_memcmp(expected.data(), peer_tag.data(), tag_bytes) == 0;
}

}  // namespace peerup::cpace
