#include "wire/autonat_message.hpp"

#include <limits>

#include "wire/protobuf.hpp"

namespace peerup::wire {

namespace {

using pb::field;

using pb::for_each_field;
using pb::is_len;
using pb::is_varint;

bytes encode_peer_info(const autonat_peer_info& p) {
  pb::writer w;
  if (p.id) w.add_bytes(1, *p.id);
  for (const auto& a : p.addrs) w.add_bytes(2, a);
  return w.take();
}

bytes encode_dial(const autonat_dial& d) {
  pb::writer w;
  if (d.peer) w.add_bytes(1, encode_peer_info(*d.peer));
  return w.take();
}

bytes encode_dial_response(const autonat_dial_response& r) {
  pb::writer w;
  if (r.status) w.add_varint(1, static_cast<std::uint64_t>(*r.status));
  if (r.status_text) w.add_string(2, *r.status_text);
  if (r.addr) w.add_bytes(3, *r.addr);
  return w.take();
}

// Embedded messages merge when repeated on the wire (proto2 rules), so each
// parser fills an existing struct.
result<void> merge_peer_info(const field& outer, std::optional<autonat_peer_info>& p) {
  if (!is_len(outer)) return errc::invalid_protobuf;
  if (!p) p.emplace();
  return for_each_field(outer.bytes, [&](const field& f) -> result<void> {
    if (f.number != 1 && f.number != 2) return {};
    if (!is_len(f)) return errc::invalid_protobuf;
    if (f.number == 1) {
      p->id = pb::to_bytes(f);
      return {};
    }
    // SECURITY: count bounded before the vector grows.
    if (p->addrs.size() >= autonat_max_addrs) return errc::too_large;
    p->addrs.push_back(pb::to_bytes(f));
    return {};
  });
}

result<void> merge_dial(const field& outer, std::optional<autonat_dial>& d) {
  if (!is_len(outer)) return errc::invalid_protobuf;
  if (!d) d.emplace();
  return for_each_field(outer.bytes, [&](const field& f) -> result<void> {
    return f.number == 1 ? merge_peer_info(f, d->peer) : result<void>{};
  });
}

result<void> merge_dial_response(const field& outer, std::optional<autonat_dial_response>& r) {
  if (!is_len(outer)) return errc::invalid_protobuf;
  if (!r) r.emplace();
  return for_each_field(outer.bytes, [&](const field& f) -> result<void> {
    switch (f.number) {
      case 1:
        if (!is_varint(f) || f.varint > std::numeric_limits<std::uint32_t>::max()) {
          return errc::invalid_protobuf;
        }
        r->status = static_cast<autonat_response_status>(f.varint);
        return {};
      case 2:
        if (!is_len(f)) return errc::invalid_protobuf;
        r->status_text = std::string(as_string_view(f.bytes));
        return {};
      case 3:
        if (!is_len(f)) return errc::invalid_protobuf;
        r->addr = pb::to_bytes(f);
        return {};
      default: return {};
    }
  });
}

}  // namespace

std::vector<multiaddr> autonat_peer_info::multiaddrs() const {
  std::vector<multiaddr> out;
  for (const auto& raw : addrs) {
    if (auto a = multiaddr::from_bytes(raw)) out.push_back(std::move(*a));
  }
  return out;
}

autonat_message autonat_message::dial_request(const peer_id& id,
                                              const std::vector<multiaddr>& addrs) {
  std::vector<bytes> raw;
  raw.reserve(addrs.size());
  for (const auto& a : addrs) raw.push_back(a.to_bytes());
  return dial_request(id.to_bytes(), std::move(raw));
}

autonat_message autonat_message::dial_request(bytes id, std::vector<bytes> addrs) {
  autonat_message m;
  m.type = autonat_message_type::dial;
  m.dial.emplace().peer = autonat_peer_info{std::move(id), std::move(addrs)};
  return m;
}

autonat_message autonat_message::response(autonat_response_status s, std::optional<bytes> addr,
                                          std::optional<std::string> text) {
  autonat_message m;
  m.type = autonat_message_type::dial_response;
  m.dial_response = autonat_dial_response{s, std::move(text), std::move(addr)};
  return m;
}

bytes autonat_message::encode() const {
  pb::writer w;
  if (type) w.add_varint(1, static_cast<std::uint64_t>(*type));
  if (dial) w.add_bytes(2, encode_dial(*dial));
  if (dial_response) w.add_bytes(3, encode_dial_response(*dial_response));
  return w.take();
}

result<autonat_message> autonat_message::decode(byte_span in) {
  // SECURITY: callers frame with autonat_max_message_size; re-checked here so
  // the codec is safe on its own.
  if (in.size() > autonat_max_message_size) return errc::too_large;
  autonat_message m;
  auto ok = for_each_field(in, [&](const field& f) -> result<void> {
    switch (f.number) {
      case 1:
        if (!is_varint(f)) return errc::invalid_protobuf;
        if (f.varint <= 1) m.type = static_cast<autonat_message_type>(f.varint);
        return {};
      case 2: return merge_dial(f, m.dial);
      case 3: return merge_dial_response(f, m.dial_response);
      default: return {};
    }
  });
  if (!ok) return ok.error();
  return m;
}

}  // namespace peerup::wire
