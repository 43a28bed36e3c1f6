#include "wire/dcutr_message.hpp"

#include "wire/protobuf.hpp"

namespace peerup::wire {

hole_punch_message hole_punch_message::connect(std::vector<bytes> addrs) {
  return {hole_punch_type::connect, std::move(addrs)};
}

hole_punch_message hole_punch_message::connect(const std::vector<multiaddr>& addrs) {
  hole_punch_message m{hole_punch_type::connect, {}};
  for (const auto& a : addrs) m.obs_addrs.push_back(a.to_bytes());
  return m;
}

std::vector<multiaddr> hole_punch_message::obs_multiaddrs() const {
  std::vector<multiaddr> out;
  for (const auto& raw : obs_addrs) {
    if (auto a = multiaddr::from_bytes(raw)) out.push_back(std::move(*a));
  }
  return out;
}

hole_punch_message hole_punch_message::sync() { return {hole_punch_type::sync, {}}; }

bytes hole_punch_message::encode() const {
  pb::writer w;
  if (type) w.add_varint(1, static_cast<std::uint64_t>(*type));
  for (const auto& a : obs_addrs) w.add_bytes(2, a);
  return w.take();
}

result<hole_punch_message> hole_punch_message::decode(byte_span in) {
  // SECURITY: callers frame with dcutr_max_message_size; re-checked here so
  // the codec is safe on its own.
  if (in.size() > dcutr_max_message_size) return errc::too_large;
  hole_punch_message m;
  pb::reader r(in);
  for (;;) {
    auto next = r.next();
    if (!next) return next.error();
    if (!*next) return m;
    const pb::field& f = **next;
    if (f.number == 1) {
      if (f.type != pb::wire_type::varint) return errc::invalid_protobuf;
      if (f.varint == 100 || f.varint == 300) m.type = static_cast<hole_punch_type>(f.varint);
    } else if (f.number == 2) {
      if (f.type != pb::wire_type::length_delimited) return errc::invalid_protobuf;
      // SECURITY: count bounded before the vector grows.
      if (m.obs_addrs.size() >= dcutr_max_obs_addrs) return errc::too_large;
      m.obs_addrs.emplace_back(f.bytes.begin(), f.bytes.end());
    }
  }
}

}  // namespace peerup::wire
