#include "wire/relay_message.hpp"

#include <limits>

#include "wire/protobuf.hpp"

namespace peerup::wire {

namespace {

using pb::field;

using pb::for_each_field;
using pb::is_len;
using pb::is_varint;

result<void> push_addr(std::vector<bytes>& addrs, const field& f) {
  if (!is_len(f)) return errc::invalid_protobuf;
  // SECURITY: count bounded before the vector grows.
  if (addrs.size() >= relay_max_addrs) return errc::too_large;
  addrs.push_back(pb::to_bytes(f));
  return {};
}

result<void> read_status(const field& f, std::optional<relay_status>& status) {
  if (!is_varint(f) || f.varint > std::numeric_limits<std::uint32_t>::max()) {
    return errc::invalid_protobuf;
  }
  status = static_cast<relay_status>(f.varint);
  return {};
}

std::vector<multiaddr> parse_all(const std::vector<bytes>& raw) {
  std::vector<multiaddr> out;
  for (const auto& r : raw) {
    if (auto a = multiaddr::from_bytes(r)) out.push_back(std::move(*a));
  }
  return out;
}

bytes encode_peer(const relay_peer& p) {
  pb::writer w;
  w.add_bytes(1, p.id);
  for (const auto& a : p.addrs) w.add_bytes(2, a);
  return w.take();
}

bytes encode_reservation(const relay_reservation& r) {
  pb::writer w;
  if (r.expire) w.add_varint(1, *r.expire);
  for (const auto& a : r.addrs) w.add_bytes(2, a);
  if (r.voucher) w.add_bytes(3, *r.voucher);
  return w.take();
}

bytes encode_limit(const relay_limit& l) {
  pb::writer w;
  if (l.duration) w.add_varint(1, *l.duration);
  if (l.data) w.add_varint(2, *l.data);
  return w.take();
}

// Embedded messages merge when repeated on the wire (proto2 rules), so each
// parser fills an existing struct.
result<void> merge_peer(const field& outer, std::optional<relay_peer>& p) {
  if (!is_len(outer)) return errc::invalid_protobuf;
  if (!p) p.emplace();
  return for_each_field(outer.bytes, [&](const field& f) -> result<void> {
    switch (f.number) {
      case 1:
        if (!is_len(f)) return errc::invalid_protobuf;
        p->id = pb::to_bytes(f);
        return {};
      case 2: return push_addr(p->addrs, f);
      default: return {};
    }
  });
}

result<void> merge_reservation(const field& outer, std::optional<relay_reservation>& r) {
  if (!is_len(outer)) return errc::invalid_protobuf;
  if (!r) r.emplace();
  return for_each_field(outer.bytes, [&](const field& f) -> result<void> {
    switch (f.number) {
      case 1:
        if (!is_varint(f)) return errc::invalid_protobuf;
        r->expire = f.varint;
        return {};
      case 2: return push_addr(r->addrs, f);
      case 3:
        if (!is_len(f)) return errc::invalid_protobuf;
        r->voucher = pb::to_bytes(f);
        return {};
      default: return {};
    }
  });
}

result<void> merge_limit(const field& outer, std::optional<relay_limit>& l) {
  if (!is_len(outer)) return errc::invalid_protobuf;
  if (!l) l.emplace();
  return for_each_field(outer.bytes, [&](const field& f) -> result<void> {
    if (f.number != 1 && f.number != 2) return {};
    if (!is_varint(f)) return errc::invalid_protobuf;
    if (f.number == 2) {
      l->data = f.varint;
    } else if (f.varint > std::numeric_limits<std::uint32_t>::max()) {
      return errc::invalid_protobuf;
    } else {
      l->duration = static_cast<std::uint32_t>(f.varint);
    }
    return {};
  });
}

// proto2 treats an enum value it does not know as an unknown field, so an
// unknown type leaves the required field missing.
template <class Enum>
result<void> read_type(const field& f, std::uint64_t max_known, std::optional<Enum>& out) {
  if (!is_varint(f)) return errc::invalid_protobuf;
  if (f.varint <= max_known) out = static_cast<Enum>(f.varint);
  return {};
}

// Required fields: `type`, and `id` of any Peer. An empty ID is never a valid
// peer ID, so it is treated as missing.
bool peer_ok(const std::optional<relay_peer>& p) { return !p || !p->id.empty(); }

}  // namespace

relay_peer relay_peer::from(const peer_id& id, const std::vector<multiaddr>& addrs) {
  relay_peer p{id.to_bytes(), {}};
  for (const auto& a : addrs) p.addrs.push_back(a.to_bytes());
  return p;
}

std::vector<multiaddr> relay_peer::multiaddrs() const { return parse_all(addrs); }
std::vector<multiaddr> relay_reservation::multiaddrs() const { return parse_all(addrs); }

errc to_errc(relay_status s) {
  switch (s) {
    case relay_status::ok: return errc::ok;
    case relay_status::reservation_refused: return errc::relay_reservation_refused;
    case relay_status::resource_limit_exceeded: return errc::relay_resource_limit;
    case relay_status::permission_denied: return errc::relay_permission_denied;
    case relay_status::connection_failed: return errc::relay_connection_failed;
    case relay_status::no_reservation: return errc::relay_no_reservation;
    case relay_status::malformed_message: return errc::relay_malformed_message;
    case relay_status::unexpected_message: return errc::relay_unexpected_message;
    case relay_status::unused: break;
  }
  return errc::relay_malformed_message;
}

hop_message hop_message::connect(relay_peer target) {
  hop_message m;
  m.type = hop_type::connect;
  m.peer = std::move(target);
  return m;
}

hop_message hop_message::status_reply(relay_status s) {
  hop_message m;
  m.type = hop_type::status;
  m.status = s;
  return m;
}

bytes hop_message::encode() const {
  pb::writer w;
  w.add_varint(1, static_cast<std::uint64_t>(type));
  if (peer) w.add_bytes(2, encode_peer(*peer));
  if (reservation) w.add_bytes(3, encode_reservation(*reservation));
  if (limit) w.add_bytes(4, encode_limit(*limit));
  if (status) w.add_varint(5, static_cast<std::uint64_t>(*status));
  if (forwarded_for) w.add_bytes(hop_forwarded_for_field, encode_peer(*forwarded_for));
  return w.take();
}

result<hop_message> hop_message::decode(byte_span in) {
  // SECURITY: callers frame with relay_max_message_size; re-checked here so
  // the codec is safe on its own.
  if (in.size() > relay_max_message_size) return errc::too_large;
  hop_message m;
  std::optional<hop_type> type;
  auto ok = for_each_field(in, [&](const field& f) -> result<void> {
    switch (f.number) {
      case 1: return read_type(f, 2, type);
      case 2: return merge_peer(f, m.peer);
      case 3: return merge_reservation(f, m.reservation);
      case 4: return merge_limit(f, m.limit);
      case 5: return read_status(f, m.status);
      case hop_forwarded_for_field: return merge_peer(f, m.forwarded_for);
      default: return {};
    }
  });
  if (!ok) return ok.error();
  if (!type || !peer_ok(m.peer) || !peer_ok(m.forwarded_for)) return errc::relay_malformed_message;
  m.type = *type;
  return m;
}

stop_message stop_message::connect(relay_peer source, std::optional<relay_limit> limit) {
  stop_message m;
  m.type = stop_type::connect;
  m.peer = std::move(source);
  m.limit = limit;
  return m;
}

stop_message stop_message::status_reply(relay_status s) {
  stop_message m;
  m.type = stop_type::status;
  m.status = s;
  return m;
}

bytes stop_message::encode() const {
  pb::writer w;
  w.add_varint(1, static_cast<std::uint64_t>(type));
  if (peer) w.add_bytes(2, encode_peer(*peer));
  if (limit) w.add_bytes(3, encode_limit(*limit));
  if (status) w.add_varint(4, static_cast<std::uint64_t>(*status));
  return w.take();
}

result<stop_message> stop_message::decode(byte_span in) {
  // SECURITY: see hop_message::decode.
  if (in.size() > relay_max_message_size) return errc::too_large;
  stop_message m;
  std::optional<stop_type> type;
  auto ok = for_each_field(in, [&](const field& f) -> result<void> {
    switch (f.number) {
      case 1: return read_type(f, 1, type);
      case 2: return merge_peer(f, m.peer);
      case 3: return merge_limit(f, m.limit);
      case 4: return read_status(f, m.status);
      default: return {};
    }
  });
  if (!ok) return ok.error();
  if (!type || !peer_ok(m.peer)) return errc::relay_malformed_message;
  m.type = *type;
  return m;
}

bytes relay_voucher::encode() const {
  pb::writer w;
  w.add_bytes(1, relay);
  w.add_bytes(2, peer);
  w.add_varint(3, expiration);
  return w.take();
}

result<relay_voucher> relay_voucher::decode(byte_span in) {
  // SECURITY: a voucher rides inside a hop message, so the same bound holds.
  if (in.size() > relay_max_message_size) return errc::too_large;
  relay_voucher v;
  bool has_relay = false, has_peer = false, has_expiration = false;
  auto ok = for_each_field(in, [&](const field& f) -> result<void> {
    switch (f.number) {
      case 1:
      case 2:
        if (!is_len(f)) return errc::invalid_protobuf;
        (f.number == 1 ? v.relay : v.peer) = pb::to_bytes(f);
        (f.number == 1 ? has_relay : has_peer) = true;
        return {};
      case 3:
        if (!is_varint(f)) return errc::invalid_protobuf;
        v.expiration = f.varint;
        has_expiration = true;
        return {};
      default: return {};
    }
  });
  if (!ok) return ok.error();
  if (!has_relay || !has_peer || !has_expiration) return errc::relay_malformed_message;
  return v;
}

}  // namespace peerup::wire
