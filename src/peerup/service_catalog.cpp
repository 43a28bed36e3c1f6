#include "peerup/service_catalog.hpp"

namespace peerup::app {

net::awaitable<result<std::vector<published_service>>> fetch_services(net::host&, const peer_id&,
                                                                      net::steady_clock::duration) {
  co_return make_error_code(errc::protocol_not_supported);
}

net::awaitable<result<std::vector<published_service>>> fetch_services(net::host&,
                                                                      const net::connection_ptr&,
                                                                      net::steady_clock::duration) {
  co_return make_error_code(errc::protocol_not_supported);
}

void serve_service_catalog(net::host&, catalog_provider) {}
void stop_serving_service_catalog(net::host&) {}

std::optional<std::vector<published_service>> catalog_for(
    const std::map<std::string, service_config>&, const access_policy&, const peer_id&) {
  return std::nullopt;
}

}  // namespace peerup::app
