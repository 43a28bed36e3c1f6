#include "multiformats/multiaddr.hpp"

#include <stdexcept>

#include "multiformats/varint.hpp"

namespace peerup {
namespace {

namespace proto = multiaddr_protocols;

}  // namespace

void multiaddr::append_component(std::uint64_t code, byte_span value) {
  const auto* p = proto::by_code(code);
  varint::encode(code, bytes_);
  if (!proto::fixed_size(p->kind)) varint::encode(value.size(), bytes_);
  append(bytes_, value);
  components_.push_back({code, bytes(value.begin(), value.end())});
}

result<multiaddr> multiaddr::parse(std::string_view text) {
  // SECURITY: bound the text and the component count before building anything.
  if (text.size() > max_text_length) return errc::too_large;
  if (text.size() < 2 || text.front() != '/') return errc::invalid_multiaddr;
  if (text.back() == '/') text.remove_suffix(1);  // "/ip4/1.2.3.4/" is accepted, as in go
  text.remove_prefix(1);
  // "//" would otherwise parse as the empty address, which from_bytes rejects
  // (go-multiaddr: "empty multiaddr"). Found by fuzz_multiaddr_text.
  if (text.empty()) return errc::invalid_multiaddr;

  auto next_token = [&text]() -> std::optional<std::string_view> {
    if (text.empty()) return std::nullopt;
    const auto slash = text.find('/');
    const auto token = text.substr(0, slash);
    text.remove_prefix(slash == std::string_view::npos ? text.size() : slash + 1);
    return token;
  };

  multiaddr out;
  while (auto name = next_token()) {
    if (out.components_.size() == max_components) return errc::too_large;
    if (name->empty()) return errc::invalid_multiaddr;
    const auto* p = proto::by_name(*name);
    if (!p) return errc::unknown_protocol;
    bytes value;
    if (p->kind != proto::value_kind::none) {
      auto token = next_token();
      if (!token) return errc::invalid_multiaddr;
      auto v = proto::value_from_text(p->kind, *token);
      if (!v) return v.error();
      value = std::move(*v);
    }
    out.append_component(p->code, value);
  }
  if (out.bytes_.size() > max_binary_length) return errc::too_large;
  return out;
}

result<multiaddr> multiaddr::from_bytes(byte_span in) {
  // SECURITY: bound the input; every length below is checked against what remains.
  if (in.size() > max_binary_length) return errc::too_large;
  if (in.empty()) return errc::invalid_multiaddr;
  multiaddr out;
  while (!in.empty()) {
    if (out.components_.size() == max_components) return errc::too_large;
    auto code = varint::decode(in);
    if (!code) return errc::invalid_multiaddr;
    in = in.subspan(code->length);
    const auto* p = proto::by_code(code->value);
    if (!p) return errc::unknown_protocol;
    std::size_t size = 0;
    if (auto fixed = proto::fixed_size(p->kind)) {
      size = *fixed;
    } else {
      auto length = varint::decode(in);
      if (!length) return errc::invalid_multiaddr;
      in = in.subspan(length->length);
      // SECURITY: a declared length must fit the remaining input and the value bound.
      if (length->value > in.size() || length->value > proto::max_value_length) {
        return errc::invalid_multiaddr;
      }
      size = static_cast<std::size_t>(length->value);
    }
    if (size > in.size()) return errc::invalid_multiaddr;
    const auto value = in.first(size);
    if (auto ec = proto::validate_value(p->kind, value)) return ec;
    out.append_component(p->code, value);
    in = in.subspan(size);
  }
  return out;
}

multiaddr multiaddr::from_tcp(std::string_view ip, std::uint16_t port) {
  multiaddr out;
  const bool v6 = ip.find(':') != std::string_view::npos;
  if (v6) {
    if (const auto percent = ip.find('%'); percent != std::string_view::npos) {
      auto zone = proto::value_from_text(proto::value_kind::text, ip.substr(percent + 1));
      if (!zone) throw std::invalid_argument("bad IPv6 zone: " + std::string(ip));
      out.append_component(proto::code::ip6zone, *zone);
      ip = ip.substr(0, percent);
    }
  }
  auto addr = proto::value_from_text(v6 ? proto::value_kind::ip6 : proto::value_kind::ip4, ip);
  if (!addr) throw std::invalid_argument("not an IP address: " + std::string(ip));
  out.append_component(v6 ? proto::code::ip6 : proto::code::ip4, *addr);
  const bytes port_be{static_cast<std::uint8_t>(port >> 8), static_cast<std::uint8_t>(port)};
  out.append_component(proto::code::tcp, port_be);
  return out;
}

multiaddr multiaddr::from_peer(const peer_id& id) {
  multiaddr out;
  out.append_component(proto::code::p2p, id.to_bytes());
  return out;
}

std::string multiaddr::to_string() const {
  std::string out;
  for (const auto& c : components_) {
    const auto* p = proto::by_code(c.code);
    out += '/';
    out += p->name;
    if (p->kind != proto::value_kind::none) {
      out += '/';
      out += proto::value_to_text(p->kind, c.value);
    }
  }
  return out;
}

std::optional<peer_id> multiaddr::peer() const {
  for (auto it = components_.rbegin(); it != components_.rend(); ++it) {
    if (it->code == proto::code::p2p) return peer_id::from_bytes(it->value).value();
  }
  return std::nullopt;
}

multiaddr multiaddr::prefix(std::size_t count) const {
  multiaddr out;
  for (std::size_t i = 0; i < count; ++i) {
    out.append_component(components_[i].code, components_[i].value);
  }
  return out;
}

multiaddr multiaddr::encapsulate(const multiaddr& inner) const {
  multiaddr out = *this;
  append(out.bytes_, inner.bytes_);
  out.components_.insert(out.components_.end(), inner.components_.begin(), inner.components_.end());
  return out;
}

multiaddr multiaddr::without_peer() const {
  if (components_.empty() || components_.back().code != proto::code::p2p) return *this;
  return prefix(components_.size() - 1);
}

multiaddr multiaddr::with_peer(const peer_id& id) const {
  return without_peer().encapsulate(from_peer(id));
}

bool multiaddr::is_relayed() const {
  return std::any_of(components_.begin(), components_.end(),
                     [](const component& c) { return c.code == proto::code::p2p_circuit; });
}

std::optional<multiaddr> multiaddr::relay_addr() const {
  for (std::size_t i = components_.size(); i-- > 0;) {
    if (components_[i].code == proto::code::p2p_circuit) return prefix(i);
  }
  return std::nullopt;
}

std::optional<multiaddr::host_port> multiaddr::tcp_target() const {
  if (components_.size() < 2 || components_[1].code != proto::code::tcp) return std::nullopt;
  const auto& host = components_[0];
  const auto port =
      static_cast<std::uint16_t>(components_[1].value[0] << 8 | components_[1].value[1]);
  enum host_port::kind kind;
  switch (host.code) {
    case proto::code::ip4: kind = host_port::ip4; break;
    case proto::code::ip6: kind = host_port::ip6; break;
    case proto::code::dns4: kind = host_port::dns4; break;
    case proto::code::dns6: kind = host_port::dns6; break;
    case proto::code::dns: kind = host_port::dns; break;
    default: return std::nullopt;
  }
  const auto* p = proto::by_code(host.code);
  return host_port{proto::value_to_text(p->kind, host.value), port, kind};
}

}  // namespace peerup

std::size_t std::hash<peerup::multiaddr>::operator()(const peerup::multiaddr& a) const noexcept {
  return std::hash<std::string_view>{}(peerup::as_string_view(a.to_bytes()));
}
