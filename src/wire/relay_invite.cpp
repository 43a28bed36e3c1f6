// /peerup/relay-invite/1.0.0 messages; see relay_invite.hpp.
#include "wire/relay_invite.hpp"

#include <algorithm>

#include "wire/pairing.hpp"
#include "wire/protobuf.hpp"

namespace peerup::relay_invite {
namespace {

boost::system::error_code bad() { return make_error_code(errc::relay_invite_protocol); }

}  // namespace

result<bytes> encode(const request& r) {
  if (r.expires_unix < 0 || !pairing::valid_name(r.device_name))
    return make_error_code(errc::invalid_argument);
  pb::writer w;
  w.add_varint(1, static_cast<std::uint64_t>(r.expires_unix));
  w.add_string(2, r.device_name);
  return w.take();
}

result<bytes> encode(const response& r) {
  pb::writer w;
  w.add_varint(1, static_cast<std::uint64_t>(r.code));
  if (r.code == status::ok) {
    w.add_bytes(2, r.id);
    w.add_bytes(3, r.secret);
  }
  return w.take();
}

result<request> decode_request(byte_span in) {
  // SECURITY: bounded before parsing; each field is read at most once.
  if (in.size() > max_message_bytes) return bad();
  request out;
  bool have_expiry = false, have_name = false;
  auto ok = pb::for_each_field(in, [&](const pb::field& f) -> result<void> {
    if (f.number == 1) {
      // Seconds since the epoch fit in 40 bits for the next 30000 years.
      if (!pb::is_varint(f) || have_expiry || f.varint > (std::uint64_t{1} << 40)) return bad();
      out.expires_unix = static_cast<std::int64_t>(f.varint);
      have_expiry = true;
    } else if (f.number == 2) {
      if (!pb::is_len(f) || have_name || f.bytes.size() > pairing::max_name_bytes) return bad();
      out.device_name.assign(reinterpret_cast<const char*>(f.bytes.data()), f.bytes.size());
      if (!pairing::valid_name(out.device_name)) return bad();
      have_name = true;
    }
    return {};
  });
  if (!ok) return bad();
  if (!have_expiry || !have_name) return bad();
  return out;
}

result<response> decode_response(byte_span in) {
  if (in.size() > max_message_bytes) return bad();
  response out;
  bool have_code = false, have_id = false, have_secret = false;
  auto ok = pb::for_each_field(in, [&](const pb::field& f) -> result<void> {
    if (f.number == 1) {
      if (!pb::is_varint(f) || have_code || f.varint > 4) return bad();
      out.code = static_cast<status>(f.varint);
      have_code = true;
    } else if (f.number == 2) {
      if (!pb::is_len(f) || have_id || f.bytes.size() != out.id.size()) return bad();
      std::copy(f.bytes.begin(), f.bytes.end(), out.id.begin());
      have_id = true;
    } else if (f.number == 3) {
      if (!pb::is_len(f) || have_secret || f.bytes.size() != out.secret.size()) return bad();
      std::copy(f.bytes.begin(), f.bytes.end(), out.secret.begin());
      have_secret = true;
    }
    return {};
  });
  if (!ok || !have_code) return bad();
  // An accepted request carries both halves of the invite; a refusal neither.
  if ((out.code == status::ok) != (have_id && have_secret)) return bad();
  if (out.code != status::ok && (have_id || have_secret)) return bad();
  return out;
}

std::string_view describe(status s) {
  switch (s) {
    case status::ok: return "ok";
    case status::not_sponsor:
      return "this node may not invite devices on the relay (ask the relay operator: peerup relay "
             "authorize <this peer ID>, without --no-invite)";
    case status::too_many: return "the relay holds too many pending invites; try again later";
    case status::bad_request: return "the relay refused the request (expiry or name)";
    case status::unavailable: return "the relay could not store the invite";
  }
  return "unknown status";
}

}  // namespace peerup::relay_invite
