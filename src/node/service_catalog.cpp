#include "node/service_catalog.hpp"

#include <spdlog/spdlog.h>

#include "net/length_prefixed_io.hpp"

namespace peerup::app {

namespace {

net::awaitable<result<std::vector<published_service>>> ask(net::host& h,
                                                           const net::connection_ptr& conn) {
  auto opened = co_await h.new_stream(conn, service_catalog_protocol);
  if (!opened) co_return opened.error();
  auto& s = *opened->stream;
  (void)co_await s.close_write();  // the request is the stream itself
  auto raw = co_await net::read_length_prefixed(s, wire::service_catalog_limits::max_message);
  if (!raw) co_return raw.error();
  co_return wire::decode_service_list(*raw);
}

net::awaitable<result<std::vector<published_service>>> connect_and_ask(net::host& h,
                                                                       const peer_id& peer) {
  auto conn = co_await h.connect(peer);
  if (!conn) co_return conn.error();
  co_return co_await ask(h, *conn);
}

// 1. ask the provider whether the peer may see anything; if not, reset
// 2. write the list, length-prefixed, and close
// `provider` is shared so that replacing the handler does not pull it away
// from a request in flight.
net::awaitable<void> serve_catalog(std::shared_ptr<const catalog_provider> provider,
                                   net::stream_ptr s, net::stream_context ctx) {
  const peer_id from = ctx.conn->remote_peer;
  auto list = *provider ? (*provider)(from) : std::nullopt;
  if (!list) {
    spdlog::warn("service catalog: refused unauthorized peer {}", from.to_string());
    co_return s->reset();
  }
  const bytes encoded = wire::encode_service_list(*list);
  if (auto w = co_await net::write_length_prefixed(*s, encoded); !w) co_return;
  (void)co_await s->close_write();
}

}  // namespace

net::awaitable<result<std::vector<published_service>>> fetch_services(
    net::host& h, const peer_id& peer, net::steady_clock::duration timeout) {
  auto op = connect_and_ask(h, peer);
  co_return co_await net::with_timeout(std::move(op), timeout);
}

net::awaitable<result<std::vector<published_service>>> fetch_services(
    net::host& h, const net::connection_ptr& conn, net::steady_clock::duration timeout) {
  auto op = ask(h, conn);
  co_return co_await net::with_timeout(std::move(op), timeout);
}

void serve_service_catalog(net::host& h, catalog_provider provider) {
  auto shared = std::make_shared<const catalog_provider>(std::move(provider));
  h.set_handler(service_catalog_protocol, [shared](net::stream_ptr s, net::stream_context ctx) {
    return serve_catalog(shared, std::move(s), std::move(ctx));
  });
}

void stop_serving_service_catalog(net::host& h) { h.remove_handler(service_catalog_protocol); }

std::optional<std::vector<published_service>> catalog_for(
    const std::map<std::string, service_config>& services, const access_policy& policy,
    const peer_id& peer) {
  if (!policy.may_connect(peer)) return std::nullopt;
  std::vector<published_service> out;
  for (const auto& [name, svc] : services)
    if (svc.enabled && policy.may_use(peer, svc.name))
      out.push_back({name, svc.local_address.port});
  return out;
}

}  // namespace peerup::app
