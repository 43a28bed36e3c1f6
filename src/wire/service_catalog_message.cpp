#include "wire/service_catalog_message.hpp"

#include "wire/protobuf.hpp"

namespace peerup::wire {

namespace {

bool name_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
         c == '_' || c == '-';
}

// The config's service-name rule (peerup::app::service_name), repeated here
// because src/wire may not depend on the application layer.
bool valid_service_name(std::string_view s) {
  if (s.empty() || s.size() > service_catalog_limits::max_name) return false;
  const char first = s.front();
  if (first == '.' || first == '_' || first == '-') return false;
  for (char c : s)
    if (!name_char(c)) return false;
  return true;
}

result<published_service> decode_service(byte_span msg) {
  published_service s;
  bool have_name = false;
  auto ok = pb::for_each_field(msg, [&](const pb::field& f) -> result<void> {
    if (f.number == 1) {
      if (!pb::is_len(f)) return errc::invalid_protobuf;
      // SECURITY: checked before the string is copied.
      if (!valid_service_name(as_string_view(f.bytes))) return errc::invalid_argument;
      s.name = std::string(as_string_view(f.bytes));
      have_name = true;
    } else if (f.number == 2) {
      if (!pb::is_varint(f)) return errc::invalid_protobuf;
      if (f.varint == 0 || f.varint > 65535) return errc::invalid_argument;
      s.port = static_cast<std::uint16_t>(f.varint);
    }
    return {};
  });
  if (!ok) return ok.error();
  if (!have_name || s.port == 0) return errc::invalid_argument;
  return s;
}

}  // namespace

bytes encode_service_list(const std::vector<published_service>& services) {
  pb::writer w;
  for (const auto& s : services) {
    pb::writer one;
    one.add_string(1, s.name);
    one.add_varint(2, s.port);
    w.add_bytes(1, one.data());
  }
  return w.take();
}

result<std::vector<published_service>> decode_service_list(byte_span msg) {
  // SECURITY: the stream reader bounds the frame; re-checked here.
  if (msg.size() > service_catalog_limits::max_message) return errc::too_large;
  std::vector<published_service> out;
  auto ok = pb::for_each_field(msg, [&](const pb::field& f) -> result<void> {
    if (f.number != 1) return {};
    if (!pb::is_len(f)) return errc::invalid_protobuf;
    // SECURITY: bounded count before the vector grows.
    if (out.size() >= service_catalog_limits::max_services) return errc::too_large;
    auto s = decode_service(f.bytes);
    if (!s) return s.error();
    out.push_back(std::move(*s));
    return {};
  });
  if (!ok) return ok.error();
  return out;
}

}  // namespace peerup::wire
