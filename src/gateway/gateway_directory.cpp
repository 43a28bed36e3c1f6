#include "gateway/gateway_directory.hpp"

#include <spdlog/spdlog.h>

#include "node/service_catalog.hpp"

namespace peerup::app {

net::awaitable<result<directory_entry>> resolver_directory::resolve(const std::string& name,
                                                                   bool in_zone) {
  const std::string_view text = name;
  auto r = co_await resolver_.resolve(text, in_zone);
  if (!r) {
    spdlog::debug("gateway: {}", r.error().message);
    co_return r.error().code;
  }
  co_return directory_entry{r->peer, r->addrs, r->source};
}

net::awaitable<result<std::vector<gateway_service>>> resolver_directory::services(
    const peer_id& peer) {
  auto r = co_await fetch_services(host_, peer);
  if (!r) co_return r.error();
  std::vector<gateway_service> out;
  out.reserve(r->size());
  for (const auto& s : *r) out.push_back(gateway_service{s.name, s.port});
  co_return out;
}

}  // namespace peerup::app
