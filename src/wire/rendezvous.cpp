// /peerup/rendezvous/1.0.0 messages and the relay's box store; see rendezvous.hpp.
#include "wire/rendezvous.hpp"

#include <algorithm>

#include "wire/protobuf.hpp"

namespace peerup::rendezvous {
namespace {

boost::system::error_code bad() { return make_error_code(errc::rendezvous_protocol); }

// Field `box` of either message: once, 1..max_sealed_bytes.
result<void> read_box(const pb::field& f, bool& have, bytes& out) {
  if (!pb::is_len(f) || have || f.bytes.empty() || f.bytes.size() > invite::max_sealed_bytes)
    return bad();
  out.assign(f.bytes.begin(), f.bytes.end());
  have = true;
  return {};
}

}  // namespace

result<bytes> encode(const request& r) {
  if (r.what == op::put && (r.box.empty() || r.box.size() > invite::max_sealed_bytes ||
                            r.expires_unix <= 0))
    return make_error_code(errc::invalid_argument);
  pb::writer w;
  w.add_varint(1, static_cast<std::uint64_t>(r.what));
  w.add_bytes(2, r.handle);
  if (r.what == op::put) {
    w.add_varint(3, static_cast<std::uint64_t>(r.expires_unix));
    w.add_bytes(4, r.box);
  }
  return w.take();
}

result<bytes> encode(const response& r) {
  if (r.box.size() > invite::max_sealed_bytes) return make_error_code(errc::invalid_argument);
  pb::writer w;
  w.add_varint(1, static_cast<std::uint64_t>(r.code));
  if (r.code == status::ok && !r.box.empty()) w.add_bytes(2, r.box);
  return w.take();
}

result<request> decode_request(byte_span in) {
  // SECURITY: bounded before parsing; each field is read at most once.
  if (in.size() > max_message_bytes) return bad();
  request out;
  bool have_op = false, have_handle = false, have_expiry = false, have_box = false;
  auto ok = pb::for_each_field(in, [&](const pb::field& f) -> result<void> {
    if (f.number == 1) {
      if (!pb::is_varint(f) || have_op || f.varint < 1 || f.varint > 2) return bad();
      out.what = static_cast<op>(f.varint);
      have_op = true;
    } else if (f.number == 2) {
      if (!pb::is_len(f) || have_handle || f.bytes.size() != out.handle.size()) return bad();
      std::copy(f.bytes.begin(), f.bytes.end(), out.handle.begin());
      have_handle = true;
    } else if (f.number == 3) {
      // Seconds since the epoch fit in 40 bits for the next 30000 years.
      if (!pb::is_varint(f) || have_expiry || f.varint == 0 || f.varint > (std::uint64_t{1} << 40))
        return bad();
      out.expires_unix = static_cast<std::int64_t>(f.varint);
      have_expiry = true;
    } else if (f.number == 4) {
      return read_box(f, have_box, out.box);
    }
    return {};
  });
  if (!ok || !have_op || !have_handle) return bad();
  // A put carries an expiry and a box; a get neither.
  if ((out.what == op::put) != (have_expiry && have_box)) return bad();
  if (out.what == op::get && (have_expiry || have_box)) return bad();
  return out;
}

result<response> decode_response(byte_span in) {
  if (in.size() > max_message_bytes) return bad();
  response out;
  bool have_code = false, have_box = false;
  auto ok = pb::for_each_field(in, [&](const pb::field& f) -> result<void> {
    if (f.number == 1) {
      if (!pb::is_varint(f) || have_code || f.varint > 5) return bad();
      out.code = static_cast<status>(f.varint);
      have_code = true;
    } else if (f.number == 2) {
      return read_box(f, have_box, out.box);
    }
    return {};
  });
  if (!ok || !have_code) return bad();
  if (out.code != status::ok && have_box) return bad();
  return out;
}

std::string_view describe(status s) {
  switch (s) {
    case status::ok: return "ok";
    case status::unknown:
      return "the relay holds no invite for this code (expired, used up, or a typo)";
    case status::not_authorized:
      return "the relay does not hold invites for this node (it is not in the relay's "
             "authorized_keys)";
    case status::full: return "the relay holds as many invites as it keeps; try again later";
    case status::bad_request: return "the relay refused the request (malformed, or the expiry)";
    case status::taken: return "another node holds an invite under this code; make a new one";
  }
  return "unknown status";
}

void store::expire(std::int64_t now_unix) {
  std::erase_if(boxes_, [&](const auto& kv) { return kv.second.expires_unix <= now_unix; });
}

status store::put(const peer_id& owner, const request& r, std::int64_t now_unix) {
  // SECURITY: a box within its bound, an expiry ahead but not too far, and
  // bounded counts in total and per owner.
  if (r.what != op::put || r.box.empty() || r.box.size() > invite::max_sealed_bytes ||
      r.expires_unix <= now_unix || r.expires_unix > now_unix + limits_.max_lifetime_s)
    return status::bad_request;
  expire(now_unix);
  if (auto it = boxes_.find(r.handle); it != boxes_.end()) {
    if (it->second.owner != owner) return status::taken;
    it->second = entry{owner, r.expires_unix, r.box, 0};
    return status::ok;
  }
  if (boxes_.size() >= limits_.max_boxes) return status::full;
  const auto mine = std::count_if(boxes_.begin(), boxes_.end(),
                                  [&](const auto& kv) { return kv.second.owner == owner; });
  if (static_cast<std::size_t>(mine) >= limits_.max_per_owner) return status::full;
  boxes_.emplace(r.handle, entry{owner, r.expires_unix, r.box, 0});
  return status::ok;
}

response store::get(const invite::rendezvous_handle& handle, std::int64_t now_unix) {
  expire(now_unix);
  auto it = boxes_.find(handle);
  if (it == boxes_.end() || it->second.fetches >= limits_.max_fetches)
    return {status::unknown, {}};
  ++it->second.fetches;
  return {status::ok, it->second.box};
}

}  // namespace peerup::rendezvous
