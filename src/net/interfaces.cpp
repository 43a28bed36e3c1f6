#include "net/interfaces.hpp"

#include <ifaddrs.h>
#include <netinet/in.h>

namespace peerup::net {

std::vector<asio::ip::address> local_interface_addresses(bool v6) {
  std::vector<asio::ip::address> out;
  ifaddrs* list = nullptr;
  if (getifaddrs(&list) != 0) return out;
  for (auto* it = list; it; it = it->ifa_next) {
    if (!it->ifa_addr) continue;
    if (!v6 && it->ifa_addr->sa_family == AF_INET) {
      auto* sin = reinterpret_cast<sockaddr_in*>(it->ifa_addr);
      asio::ip::address_v4::bytes_type b;
      std::memcpy(b.data(), &sin->sin_addr, 4);
      out.emplace_back(asio::ip::address_v4(b));
    } else if (v6 && it->ifa_addr->sa_family == AF_INET6) {
      auto* sin6 = reinterpret_cast<sockaddr_in6*>(it->ifa_addr);
      asio::ip::address_v6::bytes_type b;
      std::memcpy(b.data(), &sin6->sin6_addr, 16);
      asio::ip::address_v6 a(b);
      if (a.is_link_local()) continue;  // needs a zone; not dialable as announced
      out.emplace_back(a);
    }
  }
  freeifaddrs(list);
  return out;
}

}  // namespace peerup::net
