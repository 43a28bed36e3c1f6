#include "wire/identify_message.hpp"

#include "wire/protobuf.hpp"

namespace peerup::wire {

namespace {
enum field_number : std::uint32_t {
  public_key = 1,
  listen_addrs = 2,
  protocols = 3,
  observed_addr = 4,
  protocol_version = 5,
  agent_version = 6,
  signed_peer_record = 8,
};
}  // namespace

bytes identify_message::encode() const {
  pb::writer w;
  if (public_key) w.add_bytes(field_number::public_key, *public_key);
  for (const auto& a : listen_addrs) w.add_bytes(field_number::listen_addrs, a);
  for (const auto& p : protocols) w.add_string(field_number::protocols, p);
  if (observed_addr) w.add_bytes(field_number::observed_addr, *observed_addr);
  if (protocol_version) w.add_string(field_number::protocol_version, *protocol_version);
  if (agent_version) w.add_string(field_number::agent_version, *agent_version);
  if (signed_peer_record) w.add_bytes(field_number::signed_peer_record, *signed_peer_record);
  return w.take();
}

std::vector<multiaddr> identify_message::listen_multiaddrs() const {
  std::vector<multiaddr> out;
  for (const auto& raw : listen_addrs) {
    if (auto a = multiaddr::from_bytes(raw)) out.push_back(std::move(*a));
  }
  return out;
}

std::optional<multiaddr> identify_message::observed_multiaddr() const {
  if (!observed_addr) return std::nullopt;
  auto a = multiaddr::from_bytes(*observed_addr);
  return a ? std::optional<multiaddr>(std::move(*a)) : std::nullopt;
}

void identify_message::set_listen_addrs(const std::vector<multiaddr>& addrs) {
  listen_addrs.clear();
  for (const auto& a : addrs) listen_addrs.push_back(a.to_bytes());
}

result<identify_message> identify_message::decode(byte_span in) {
  identify_message m;
  if (auto r = m.merge(in); !r) return r.error();
  return m;
}

result<void> identify_message::merge(byte_span in) {
  // SECURITY: every field is a view into `in`, so the per-message bound
  // (identify_max_message_size) bounds each string; counts are bounded
  // across merges, so chunked identify cannot grow without limit.
  if (in.size() > identify_max_message_size) return errc::too_large;
  pb::reader r(in);
  for (;;) {
    auto next = r.next();
    if (!next) return next.error();
    if (!*next) return {};
    const pb::field& f = **next;
    const auto copy = [&f] { return bytes(f.bytes.begin(), f.bytes.end()); };
    const auto text = [&f] { return std::string(as_string_view(f.bytes)); };
    if (f.number > field_number::signed_peer_record || f.number == 7) continue;  // unknown: skip
    if (f.type != pb::wire_type::length_delimited) return errc::invalid_protobuf;
    switch (f.number) {
      case field_number::public_key: public_key = copy(); break;
      case field_number::listen_addrs:
        // SECURITY: count bounded before the vector grows.
        if (listen_addrs.size() >= identify_max_listen_addrs) return errc::too_large;
        listen_addrs.push_back(copy());
        break;
      case field_number::protocols:
        // SECURITY: count bounded before the vector grows.
        if (protocols.size() >= identify_max_protocols) return errc::too_large;
        protocols.push_back(text());
        break;
      case field_number::observed_addr: observed_addr = copy(); break;
      case field_number::protocol_version: protocol_version = text(); break;
      case field_number::agent_version: agent_version = text(); break;
      case field_number::signed_peer_record: signed_peer_record = copy(); break;
      default: break;
    }
  }
}

}  // namespace peerup::wire
