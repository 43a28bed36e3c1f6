// /peerup/services/1.0.0: a home node tells an authorized peer which services
// it may use and the port of each service's local address. The gateway uses
// it to map "<service>.<host>" and a port onto a service stream.
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <vector>

#include "net/host.hpp"
#include "config/authorized_keys.hpp"
#include "config/config.hpp"
#include "wire/service_catalog_message.hpp"

namespace peerup::app {

using wire::published_service;
inline const protocol_id service_catalog_protocol{std::string(wire::service_catalog_protocol_id)};

// Asks `peer` for its services, connecting through the host's known addresses
// if there is no connection yet (add addresses to h.peers() first, e.g. the
// addrs of a resolution). Bounded by `timeout` (connect + request + answer).
// Fails with errc::stream_reset when the peer refuses us (not authorized) and
// errc::protocol_not_supported when it serves no catalog.
// Contract: runs on the host's executor.
net::awaitable<result<std::vector<published_service>>> fetch_services(
    net::host& h, const peer_id& peer,
    net::steady_clock::duration timeout = std::chrono::seconds(10));
// The same over a connection already open.
net::awaitable<result<std::vector<published_service>>> fetch_services(
    net::host& h, const net::connection_ptr& conn,
    net::steady_clock::duration timeout = std::chrono::seconds(10));

// What a peer may see: nullopt means "not authorized at all" (the stream is
// reset and nothing is sent); an empty list is a valid answer.
using catalog_provider =
    std::function<std::optional<std::vector<published_service>>(const peer_id&)>;

// Home side: installs the /peerup/services/1.0.0 handler on `h`. The provider
// is called per request, so reloads show at once. Replaces an earlier one.
void serve_service_catalog(net::host& h, catalog_provider provider);
void stop_serving_service_catalog(net::host& h);

// The enabled services of `services` that `policy` lets `peer` use, with their
// local ports; nullopt when the peer is not authorized at all (not in any
// authorized_keys file), an empty list when it may use none of them.
std::optional<std::vector<published_service>> catalog_for(
    const std::map<std::string, service_config>& services, const access_policy& policy,
    const peer_id& peer);

}  // namespace peerup::app
