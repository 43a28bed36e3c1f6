#include "node/services.hpp"

#include <spdlog/spdlog.h>

#include "net/splice.hpp"

namespace peerup::app {

namespace {
constexpr auto local_dial_timeout = std::chrono::seconds(5);

std::string describe(const net::connection& c) {
  return c.remote_peer.to_string() + (c.relayed ? " (relayed)" : " (direct)");
}
}  // namespace

service_registry::~service_registry() {
  *alive_ = false;
  for (const auto& [name, svc] : services_)
    if (svc.enabled) host_.remove_handler(svc.name.protocol());
}

net::awaitable<result<net::tcp::socket>> dial_local(const host_port& addr) {
  boost::system::error_code ec;
  const auto ip = net::asio::ip::make_address(addr.host, ec);
  multiaddr target =
      ec ? *multiaddr::parse("/dns/" + addr.host + "/tcp/" + std::to_string(addr.port))
         : multiaddr::from_tcp(ip.to_string(), addr.port);
  co_return co_await net::tcp_dial(target);
}

namespace {
void add_waits(throttled_time& to, const rate_pair& p) {
  to.in += p.in->throttled();
  to.out += p.out->throttled();
}
}  // namespace

void service_registry::apply(const std::map<std::string, service_config>& services,
                             std::shared_ptr<const access_policy> policy,
                             std::uint64_t peer_rate) {
  policy_ = std::move(policy);
  // New buckets only where a limit changed: streams already open keep theirs.
  for (auto it = service_rates_.begin(); it != service_rates_.end();) {
    auto svc = services.find(it->first);
    if (svc == services.end() || svc->second.rate_limit != it->second.in->rate()) {
      add_waits(service_throttled_before_[it->first], it->second);
      it = service_rates_.erase(it);
    } else {
      ++it;
    }
  }
  for (const auto& [name, svc] : services)
    if (svc.rate_limit && !service_rates_.count(name))
      service_rates_.emplace(name, rate_pair(svc.rate_limit));
  if (peer_rate != peer_rate_) {
    for (const auto& [peer, p] : peer_rates_) add_waits(peer_throttled_before_[peer], p);
    peer_rates_.clear();
    peer_rate_ = peer_rate;
  }
  for (const auto& [name, svc] : services_) {
    auto it = services.find(name);
    if (svc.enabled && (it == services.end() || !it->second.enabled)) {
      host_.remove_handler(svc.name.protocol());
      spdlog::info("service {}: no longer served", name);
    }
  }
  for (const auto& [name, svc] : services) {
    auto old = services_.find(name);
    const bool was_served = old != services_.end() && old->second.enabled;
    if (svc.enabled && !was_served) {
      auto alive = alive_;
      host_.set_handler(
          svc.name.protocol(),
          [this, alive, name = name](net::stream_ptr s,
                                     net::stream_context ctx) -> net::awaitable<void> {
            if (!*alive) {
              s->reset();
              co_return;
            }
            // Named: g++ 12 mishandles class temporaries in co_await.
            auto serving = serve(name, std::move(s), std::move(ctx));
            co_await std::move(serving);
          },
          [this, alive, name = name](net::stream_context& ctx) -> net::awaitable<bool> {
            if (!*alive) co_return false;
            auto admitting = admit(name, ctx);
            co_return co_await std::move(admitting);
          });
      spdlog::info("service {}: serving {} as {}", name, svc.local_address.to_string(),
                   svc.name.protocol().str());
    }
  }
  services_ = services;
}

throttled_time service_registry::service_throttled(const std::string& name) const {
  throttled_time t;
  if (auto it = service_throttled_before_.find(name); it != service_throttled_before_.end())
    t = it->second;
  if (auto it = service_rates_.find(name); it != service_rates_.end()) add_waits(t, it->second);
  return t;
}

throttled_time service_registry::peer_throttled(const peer_id& peer) const {
  throttled_time t;
  if (auto it = peer_throttled_before_.find(peer); it != peer_throttled_before_.end())
    t = it->second;
  if (auto it = peer_rates_.find(peer); it != peer_rates_.end()) add_waits(t, it->second);
  return t;
}

service_counters service_registry::counters(const std::string& name) const {
  auto it = counters_.find(name);
  return it == counters_.end() ? service_counters{} : it->second;
}

// 1. the service is enabled and the peer may use it (else "na", and the
//    local service is never dialed)
// 2. the local service accepts a connection (else "na")
// Only then is the protocol echoed: a client (the SOCKS gateway) learns the
// service's answer before it tells its own client "connected".
net::awaitable<bool> service_registry::admit(std::string name, net::stream_context& ctx) {
  auto alive = alive_;
  auto policy = policy_;  // the policy in force when the stream arrived
  const auto who = describe(*ctx.conn);
  auto it = services_.find(name);
  if (it == services_.end() || !it->second.enabled) {
    spdlog::warn("{} -> service {}: refused, service not enabled", who, name);
    co_return false;
  }
  const service_config svc = it->second;
  if (!policy || !policy->may_use(ctx.conn->remote_peer, svc.name)) {
    ++counters_[name].denied;
    spdlog::warn("{} -> service {}: refused, peer not authorized for this service", who, name);
    co_return false;
  }
  auto dialing = net::with_timeout(dial_local(svc.local_address), local_dial_timeout);
  auto sock = co_await std::move(dialing);
  if (!*alive) co_return false;
  if (!sock) {
    ++counters_[name].failed;
    spdlog::warn("{} -> service {}: local service {} unreachable: {}", who, name,
                 svc.local_address.to_string(), sock.error().message());
    co_return false;
  }
  ctx.admitted = std::make_shared<net::tcp::socket>(std::move(*sock));
  co_return true;
}

net::awaitable<void> service_registry::serve(std::string name, net::stream_ptr s,
                                             net::stream_context ctx) {
  auto alive = alive_;
  const auto who = describe(*ctx.conn);
  auto sock = std::static_pointer_cast<net::tcp::socket>(ctx.admitted);
  auto it = services_.find(name);
  if (!sock || it == services_.end()) {  // not admitted, or removed meanwhile
    s->reset();
    co_return;
  }
  const service_config svc = it->second;
  ++counters_[name].streams;
  ++counters_[name].active;
  spdlog::info("{} -> service {} ({}): connected", who, name, svc.local_address.to_string());
  ++peers_[ctx.conn->remote_peer].streams;
  net::tcp_stream local(std::move(*sock));
  net::splice_limits limits;
  // a = the peer's stream, b = the local service: a_to_b is "in".
  if (auto r = service_rates_.find(name); r != service_rates_.end()) {
    limits.rate_a_to_b.push_back(r->second.in);
    limits.rate_b_to_a.push_back(r->second.out);
  }
  if (peer_rate_) {
    auto r = peer_rates_.try_emplace(ctx.conn->remote_peer, peer_rate_).first;
    limits.rate_a_to_b.push_back(r->second.in);
    limits.rate_b_to_a.push_back(r->second.out);
  }
  // Live counts: status and /metrics show a long transfer while it runs.
  limits.on_copied = [this, alive, name, peer = ctx.conn->remote_peer](bool in, std::size_t n) {
    if (!*alive) return;
    auto& c = counters_[name];
    auto& p = peers_[peer];
    (in ? c.bytes_in : c.bytes_out) += n;
    (in ? p.bytes_in : p.bytes_out) += n;
  };
  auto stats = co_await net::splice(*s, local, limits);
  if (!*alive) co_return;
  --counters_[name].active;
  if (!stats.error)
    spdlog::info("{} -> service {}: closed ({} bytes in, {} bytes out)", who, name, stats.a_to_b,
                 stats.b_to_a);
  else
    spdlog::info("{} -> service {}: ended after {} bytes in, {} out: {}", who, name, stats.a_to_b,
                 stats.b_to_a, stats.error.message());
}

}  // namespace peerup::app
