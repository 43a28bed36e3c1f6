// The pairing protocol; see pairing.hpp for the steps.
#include "wire/pairing.hpp"

#include <sodium.h>

#include <algorithm>
#include <cstdio>

namespace peerup::pairing {
namespace {

enum class tag_byte : std::uint8_t { hello = 1, reply = 2, confirm = 3, welcome = 4, error = 5 };

std::error_code protocol_error() { return make_error_code(errc::pairing_protocol); }

// Reads fields front to back; every read checks the remaining length first.
class reader {
public:
  explicit reader(byte_span in) : in_(in) {}
  bool done() const { return pos_ == in_.size(); }
  std::optional<std::uint8_t> u8() {
    if (pos_ >= in_.size()) return std::nullopt;
    return in_[pos_++];
  }
  template <std::size_t N>
  bool fixed(std::array<std::uint8_t, N>& out) {
    if (in_.size() - pos_ < N) return false;
    std::copy_n(in_.begin() + static_cast<std::ptrdiff_t>(pos_), N, out.begin());
    pos_ += N;
    return true;
  }
  // u8 length, then that many bytes, at most `max`.
  std::optional<byte_span> short_bytes(std::size_t max) {
    auto len = u8();
    // SECURITY: the length is checked against its bound and the input left.
    if (!len || *len > max || in_.size() - pos_ < *len) return std::nullopt;
    auto out = in_.subspan(pos_, *len);
    pos_ += *len;
    return out;
  }

private:
  byte_span in_;
  std::size_t pos_ = 0;
};

void put_short(bytes& out, byte_span b) {
  out.push_back(static_cast<std::uint8_t>(b.size()));
  append(out, b);
}

std::optional<std::string> read_name(reader& r) {
  auto b = r.short_bytes(max_name_bytes);
  if (!b) return std::nullopt;
  std::string s(as_string_view(*b));
  if (!valid_name(s)) return std::nullopt;
  return s;
}

}  // namespace

bool valid_name(std::string_view name) {
  if (name.empty() || name.size() > max_name_bytes) return false;
  if (name.front() == ' ' || name.back() == ' ') return false;
  return std::all_of(name.begin(), name.end(), [](char c) { return c >= 0x20 && c < 0x7f; });
}

errc to_errc(refusal r) {
  switch (r) {
    case refusal::expired: return errc::invite_expired;
    case refusal::wrong_code: return errc::invite_wrong_code;
    case refusal::locked: return errc::invite_locked;
    case refusal::used: return errc::invite_used;
  }
  return errc::pairing_protocol;
}

std::string_view describe(refusal r) {
  switch (r) {
    case refusal::expired: return "the invite has expired: ask for a new one (peerup invite)";
    case refusal::wrong_code: return "wrong code: check it and try again";
    case refusal::locked: return "the invite is locked after too many wrong codes: ask for a new one";
    case refusal::used: return "the invite was used already: ask for a new one";
  }
  return "refused";
}

result<bytes> encode(const message& m) {
  bytes out;
  if (const auto* h = std::get_if<hello>(&m)) {
    if (!valid_name(h->device_name)) return make_error_code(errc::invalid_argument);
    out.push_back(static_cast<std::uint8_t>(tag_byte::hello));
    append(out, h->invite_id);
    append(out, h->sid);
    append(out, h->share);
    put_short(out, as_bytes(h->device_name));
  } else if (const auto* r = std::get_if<reply>(&m)) {
    out.push_back(static_cast<std::uint8_t>(tag_byte::reply));
    append(out, r->share);
    append(out, r->tag);
  } else if (const auto* c = std::get_if<confirm>(&m)) {
    out.push_back(static_cast<std::uint8_t>(tag_byte::confirm));
    append(out, c->tag);
  } else if (const auto* w = std::get_if<welcome>(&m)) {
    const bytes& relay = w->relay.to_bytes();
    if (relay.size() > 255 || !valid_name(w->home_name) || w->services.size() > max_services) {
      return make_error_code(errc::invalid_argument);
    }
    out.push_back(static_cast<std::uint8_t>(tag_byte::welcome));
    put_short(out, relay);
    put_short(out, as_bytes(w->home_name));
    out.push_back(static_cast<std::uint8_t>(w->services.size()));
    for (const auto& s : w->services) {
      if (!valid_name(s)) return make_error_code(errc::invalid_argument);
      put_short(out, as_bytes(s));
    }
  } else if (const auto* e = std::get_if<error_msg>(&m)) {
    out.push_back(static_cast<std::uint8_t>(tag_byte::error));
    out.push_back(static_cast<std::uint8_t>(e->why));
  }
  if (out.size() > max_message_bytes) return make_error_code(errc::invalid_argument);
  return out;
}

result<message> decode(byte_span in) {
  // SECURITY: one message is bounded before anything is read from it.
  if (in.empty() || in.size() > max_message_bytes) return protocol_error();
  reader r(in.subspan(1));
  message out;
  switch (static_cast<tag_byte>(in[0])) {
    case tag_byte::hello: {
      hello h;
      if (!r.fixed(h.invite_id) || !r.fixed(h.sid) || !r.fixed(h.share)) return protocol_error();
      auto name = read_name(r);
      if (!name) return protocol_error();
      h.device_name = std::move(*name);
      out = std::move(h);
      break;
    }
    case tag_byte::reply: {
      reply rp;
      if (!r.fixed(rp.share) || !r.fixed(rp.tag)) return protocol_error();
      out = rp;
      break;
    }
    case tag_byte::confirm: {
      confirm c;
      if (!r.fixed(c.tag)) return protocol_error();
      out = c;
      break;
    }
    case tag_byte::welcome: {
      welcome w;
      auto relay = r.short_bytes(255);
      if (!relay) return protocol_error();
      auto ma = multiaddr::from_bytes(*relay);
      if (!ma || !ma->peer()) return protocol_error();
      w.relay = std::move(*ma);
      auto name = read_name(r);
      if (!name) return protocol_error();
      w.home_name = std::move(*name);
      auto count = r.u8();
      if (!count || *count > max_services) return protocol_error();
      for (unsigned i = 0; i < *count; ++i) {
        auto s = read_name(r);
        if (!s) return protocol_error();
        w.services.push_back(std::move(*s));
      }
      out = std::move(w);
      break;
    }
    case tag_byte::error: {
      auto why = r.u8();
      if (!why || *why < 1 || *why > 4) return protocol_error();
      out = error_msg{static_cast<refusal>(*why)};
      break;
    }
    default:
      return protocol_error();
  }
  if (!r.done()) return protocol_error();  // trailing bytes
  return out;
}

bytes channel_id(const peer_id& device, const peer_id& home) {
  return cpace::lv_cat({device.to_bytes(), home.to_bytes()});
}

std::string verification_string(const cpace::isk& key) {
  bytes in;
  append(in, as_bytes("peerup-pair-verify"));
  append(in, key);
  std::array<std::uint8_t, 64> h{};
  crypto_hash_sha512(h.data(), in.data(), in.size());
  sodium_memzero(in.data(), in.size());
  std::string out;
  for (std::size_t group = 0; group < 3; ++group) {
    std::uint32_t v = 0;
    for (std::size_t i = 0; i < 4; ++i) v = v << 8 | h[group * 4 + i];
    char buf[8];
    std::snprintf(buf, sizeof buf, "%04u", static_cast<unsigned>(v % 10000));
    if (group != 0) out += ' ';
    out += buf;
  }
  return out;
}

// --- home ---

home_session::home_session(peer_id home, peer_id device, multiaddr relay_with_peer,
                           std::string home_name)
    : home_(std::move(home)), device_(std::move(device)), relay_(std::move(relay_with_peer)),
      home_name_(std::move(home_name)) {}

result<message> home_session::on_hello_impl(const hello& h, invite_record* rec,
                                            std::int64_t now_unix) {
  if (state_ != state::want_hello) return protocol_error();
  state_ = state::done;  // any refusal ends the stream
  if (rec == nullptr) return message{error_msg{refusal::wrong_code}};
  if (rec->used) return message{error_msg{refusal::used}};
  if (now_unix >= rec->expires_unix) return message{error_msg{refusal::expired}};
  if (rec->failures >= rec->max_failures) return message{error_msg{refusal::locked}};
  // Count the attempt now: a peer that stops after REPLY still spent a guess.
  ++rec->failures;
  const bytes ci = channel_id(device_, home_);
  auto pake = cpace::session::start(cpace::role::responder, invite::password(rec->data), ci,
                                    h.sid, {});
  if (!pake) return pake.error();
  auto key = pake->finish(h.share, as_bytes(h.device_name));
  if (!key) return message{error_msg{refusal::wrong_code}};
  reply out{pake->share(), pake->own_tag()};
  pake_.emplace(std::move(*pake));
  record_ = rec;
  state_ = state::want_confirm;
  return message{out};
}

result<message> home_session::on_confirm(const confirm& c) {
  if (state_ != state::want_confirm || !pake_ || record_ == nullptr) return protocol_error();
  state_ = state::done;
  if (!pake_->verify_peer_tag(c.tag)) {
    if (record_->failures >= record_->max_failures) return message{error_msg{refusal::locked}};
    return message{error_msg{refusal::wrong_code}};
  }
  record_->used = true;
  --record_->failures;  // this attempt succeeded
  result_ = paired{device_, verification_string(*pake_->key()), record_->device_name, record_->services,
                   relay_};
  return message{welcome{relay_, home_name_, record_->services}};
}

// --- device ---

result<device_session> device_session::start(const invite::invite_data& inv, peer_id device,
                                             std::string device_name) {
  if (!valid_name(device_name)) return make_error_code(errc::invalid_argument);
  hello h;
  h.invite_id = inv.id;
  randombytes_buf(h.sid.data(), h.sid.size());
  h.device_name = std::move(device_name);
  const bytes ci = channel_id(device, inv.home);
  auto pake = cpace::session::start(cpace::role::initiator, invite::password(inv), ci, h.sid,
                                    as_bytes(h.device_name));
  if (!pake) return pake.error();
  h.share = pake->share();
  return device_session(inv, std::move(device), std::move(h), std::move(*pake));
}

result<std::optional<message>> device_session::on_message(const message& m) {
  if (const auto* e = std::get_if<error_msg>(&m)) {
    state_ = state::done;
    return make_error_code(to_errc(e->why));
  }
  if (state_ == state::want_reply) {
    const auto* r = std::get_if<reply>(&m);
    if (r == nullptr) return protocol_error();
    state_ = state::done;
    auto key = pake_->finish(r->share, {});
    // An invalid share, or a tag that does not verify: the home node does
    // not hold this code (or is not the home node in the invite).
    if (!key || !pake_->verify_peer_tag(r->tag)) return make_error_code(errc::invite_wrong_code);
    verification_ = verification_string(*key);
    state_ = state::want_welcome;
    return std::optional<message>{confirm{pake_->own_tag()}};
  }
  if (state_ == state::want_welcome) {
    const auto* w = std::get_if<welcome>(&m);
    if (w == nullptr) return protocol_error();
    state_ = state::done;
    result_ = paired{invite_.home, verification_, w->home_name, w->services, w->relay};
    return std::optional<message>{};
  }
  return protocol_error();
}

}  // namespace peerup::pairing
