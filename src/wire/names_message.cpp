#include "wire/names_message.hpp"

#include "wire/protobuf.hpp"

namespace peerup::wire {

using pb::field;

namespace {

bool label_char(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-'; }

char lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

// Multiaddrs are the binary form; one that does not parse makes the whole
// message malformed (a registration must not half-succeed).
result<void> add_addr(const field& f, std::vector<multiaddr>& out) {
  if (!pb::is_len(f)) return errc::invalid_protobuf;
  // SECURITY: bounded count before the vector grows.
  if (out.size() >= names_max_addrs) return errc::too_large;
  auto a = multiaddr::from_bytes(f.bytes);
  if (!a) return errc::invalid_argument;
  out.push_back(std::move(*a));
  return {};
}

result<std::uint32_t> read_u32(const field& f) {
  if (!pb::is_varint(f) || f.varint > 0xffffffffu) return errc::invalid_protobuf;
  return static_cast<std::uint32_t>(f.varint);
}

}  // namespace

result<dns_label> dns_label::parse(std::string_view text) {
  // SECURITY: a label never exceeds 63 bytes (RFC 1035 2.3.4).
  if (text.empty() || text.size() > max_length) return errc::invalid_argument;
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    const char l = lower(c);
    if (!label_char(l)) return errc::invalid_argument;
    out.push_back(l);
  }
  if (out.front() == '-' || out.back() == '-') return errc::invalid_argument;
  return dns_label(std::move(out));
}

std::string_view to_string(names_status s) {
  switch (s) {
    case names_status::ok: return "ok";
    case names_status::name_taken: return "name taken by another peer";
    case names_status::permission_denied: return "permission denied";
    case names_status::not_found: return "not registered";
    case names_status::resource_limit: return "resource limit";
    case names_status::wrong_network: return "wrong network";
    case names_status::not_federated: return "network not federated";
    case names_status::network_unreachable: return "network unreachable";
    case names_status::malformed_message: return "malformed message";
  }
  return "unknown status";
}

bytes names_request::encode() const {
  pb::writer w;
  w.add_varint(1, static_cast<std::uint64_t>(type));
  w.add_string(2, network.str());
  w.add_string(3, host.str());
  if (ttl) w.add_varint(4, ttl);
  for (const auto& a : addrs) w.add_bytes(5, a.to_bytes());
  return w.take();
}

result<names_request> names_request::decode(byte_span msg) {
  // SECURITY: the stream reader bounds the frame; re-checked so the codec is
  // safe on its own.
  if (msg.size() > names_max_message_size) return errc::too_large;
  std::optional<names_request_type> type;
  std::optional<dns_label> network, host;
  std::uint32_t ttl = 0;
  std::vector<multiaddr> addrs;
  auto label = [](const field& f, std::optional<dns_label>& out) -> result<void> {
    if (!pb::is_len(f)) return errc::invalid_protobuf;
    auto l = dns_label::parse(as_string_view(f.bytes));
    if (!l) return l.error();
    out = std::move(*l);
    return {};
  };
  auto ok = pb::for_each_field(msg, [&](const field& f) -> result<void> {
    switch (f.number) {
      case 1: {
        auto v = read_u32(f);
        if (!v) return v.error();
        if (*v > 1) return errc::invalid_argument;
        type = static_cast<names_request_type>(*v);
        return {};
      }
      case 2: return label(f, network);
      case 3: return label(f, host);
      case 4: {
        auto v = read_u32(f);
        if (!v) return v.error();
        ttl = *v;
        return {};
      }
      case 5: return add_addr(f, addrs);
      default: return {};
    }
  });
  if (!ok) return ok.error();
  if (!type || !network || !host) return errc::invalid_argument;
  return names_request{*type, std::move(*network), std::move(*host), ttl, std::move(addrs)};
}

bytes names_response::encode() const {
  pb::writer w;
  w.add_varint(1, static_cast<std::uint64_t>(status));
  if (peer) w.add_bytes(2, peer->to_bytes());
  for (const auto& a : addrs) w.add_bytes(3, a.to_bytes());
  if (ttl) w.add_varint(4, ttl);
  if (!text.empty()) w.add_string(5, std::string_view(text).substr(0, names_max_text));
  return w.take();
}

result<names_response> names_response::decode(byte_span msg) {
  if (msg.size() > names_max_message_size) return errc::too_large;
  names_response r;
  bool have_status = false;
  auto ok = pb::for_each_field(msg, [&](const field& f) -> result<void> {
    switch (f.number) {
      case 1: {
        auto v = read_u32(f);
        if (!v) return v.error();
        r.status = static_cast<names_status>(*v);
        have_status = true;
        return {};
      }
      case 2: {
        if (!pb::is_len(f)) return errc::invalid_protobuf;
        auto id = peer_id::from_bytes(f.bytes);
        if (!id) return id.error();
        r.peer = std::move(*id);
        return {};
      }
      case 3: return add_addr(f, r.addrs);
      case 4: {
        auto v = read_u32(f);
        if (!v) return v.error();
        r.ttl = *v;
        return {};
      }
      case 5:
        if (!pb::is_len(f)) return errc::invalid_protobuf;
        // SECURITY: the text is for logs; keep a bounded prefix.
        r.text = std::string(as_string_view(f.bytes).substr(0, names_max_text));
        return {};
      default: return {};
    }
  });
  if (!ok) return ok.error();
  if (!have_status) return errc::invalid_argument;
  return r;
}

names_response names_response::status_only(names_status s, std::string text) {
  names_response r;
  r.status = s;
  r.text = std::move(text);
  return r;
}

}  // namespace peerup::wire
