// Strong type for libp2p protocol IDs such as "/ipfs/ping/1.0.0".
#pragma once

#include <compare>
#include <functional>
#include <string>
#include <string_view>

namespace peerup {

class protocol_id {
 public:
  explicit protocol_id(std::string id) : id_(std::move(id)) {}
  const std::string& str() const { return id_; }
  auto operator<=>(const protocol_id&) const = default;

 private:
  std::string id_;
};

}  // namespace peerup

template <>
struct std::hash<peerup::protocol_id> {
  std::size_t operator()(const peerup::protocol_id& p) const noexcept {
    return std::hash<std::string>{}(p.str());
  }
};
