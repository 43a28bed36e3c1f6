#include "gateway/virtual_ips.hpp"

#include "crypto/sha256.hpp"

namespace peerup::app {

bool virtual_ips::usable(std::uint32_t ip) const {
  const auto low = ip & 0xff;
  return net_.contains(ip) && low != 0 && low != 255;
}

result<std::uint32_t> virtual_ips::assign(const peer_id& p) {
  if (auto it = by_peer_.find(p); it != by_peer_.end()) return it->second;
  const auto digest = sha256(p.to_bytes());
  const std::uint64_t size = net_.size();
  const std::uint64_t start = (std::uint64_t{digest[0]} << 24 | std::uint64_t{digest[1]} << 16 |
                               std::uint64_t{digest[2]} << 8 | digest[3]) %
                              size;
  // SECURITY: the probe visits each address of the network at most once, so
  // a full table costs one bounded scan (65536 steps for a /16), not a loop.
  for (std::uint64_t i = 0; i < size; ++i) {
    const auto ip = static_cast<std::uint32_t>(net_.base + (start + i) % size);
    if (!usable(ip) || by_ip_.count(ip)) continue;
    by_peer_.emplace(p, ip);
    by_ip_.emplace(ip, p);
    return ip;
  }
  return make_error_code(errc::resource_limit);
}

std::optional<std::uint32_t> virtual_ips::find(const peer_id& p) const {
  auto it = by_peer_.find(p);
  if (it == by_peer_.end()) return std::nullopt;
  return it->second;
}

std::optional<peer_id> virtual_ips::peer_at(std::uint32_t ip) const {
  auto it = by_ip_.find(ip);
  if (it == by_ip_.end()) return std::nullopt;
  return it->second;
}

}  // namespace peerup::app
