#include "net/host.hpp"

#include <spdlog/spdlog.h>

#include "net/interfaces.hpp"
#include "net/multistream_io.hpp"

namespace peerup::net {

namespace {
std::string ip_of(const multiaddr& a) {
  auto t = a.tcp_target();
  return t ? t->host : std::string();
}
}  // namespace

host::host(asio::any_io_executor ex, host_config cfg)
    : ex_(std::move(ex)), cfg_(std::move(cfg)), id_(cfg_.identity.get_public_key().to_peer_id()) {}

host::~host() {
  stop();
  *alive_ = false;
}

void host::start() {
  for (const auto& addr : cfg_.listen) {
    auto ep = to_endpoint(addr);
    if (!ep) throw std::system_error(ep.error(), "listen address " + addr.to_string());
    auto& listener = listeners_.emplace_back(ex_, *ep);
    asio::co_spawn(ex_, accept_loop(listener), asio::detached);
  }
}

void host::stop() {
  if (stopped_) return;
  stopped_ = true;
  for (auto& l : listeners_) l.close();
  for (auto& [peer, list] : conns_)
    for (auto& c : list) c->mux->close();
}

std::vector<multiaddr> host::listen_addrs() const {
  std::vector<multiaddr> out;
  for (const auto& l : listeners_) {
    const auto ep = l.local_endpoint();
    if (ep.address().is_unspecified()) {
      for (const auto& ip : local_interface_addresses(ep.address().is_v6()))
        out.push_back(to_multiaddr(tcp::endpoint(ip, ep.port())));
    } else {
      out.push_back(to_multiaddr(ep));
    }
  }
  return out;
}

std::vector<multiaddr> host::full_addrs() const {
  std::vector<multiaddr> out;
  for (const auto& a : announce_addrs()) out.push_back(a.with_peer(id_));
  return out;
}

std::vector<multiaddr> host::announce_addrs() const {
  auto out = listen_addrs();
  for (const auto& a : observed_announce_)
    if (std::find(out.begin(), out.end(), a) == out.end()) out.push_back(a);
  out.insert(out.end(), extra_announce_.begin(), extra_announce_.end());
  return out;
}

void host::set_handler(const protocol_id& proto, stream_handler h) {
  handlers_[proto.str()] = std::move(h);
}

void host::remove_handler(const protocol_id& proto) { handlers_.erase(proto.str()); }

std::vector<std::string> host::protocols() const {
  std::vector<std::string> out;
  for (const auto& [name, h] : handlers_) out.push_back(name);
  return out;
}

awaitable<void> host::accept_loop(tcp_listener& listener) {
  auto alive = alive_;
  while (*alive && !stopped_) {
    auto socket = co_await listener.accept();
    if (!*alive) co_return;
    if (!socket) {
      if (stopped_ || socket.error() == asio::error::operation_aborted) co_return;
      spdlog::warn("accept failed: {}", socket.error().message());
      continue;
    }
    // SECURITY: unauthenticated peers cannot hold more than this many
    // handshakes open, so a flood of half-open connections stays bounded.
    if (pending_handshakes_ >= cfg_.limits.max_pending_handshakes) {
      spdlog::warn("refusing connection: {} handshakes pending", pending_handshakes_);
      continue;  // the socket closes as it goes out of scope
    }
    asio::co_spawn(ex_, handle_inbound_socket(std::move(*socket)), asio::detached);
  }
}

awaitable<void> host::handle_inbound_socket(tcp::socket socket) {
  error_code ec;
  auto remote = socket.remote_endpoint(ec);
  auto local = socket.local_endpoint(ec);
  if (ec) co_return;
  raw_connection raw{std::make_unique<tcp_stream>(std::move(socket)), to_multiaddr(remote),
                     to_multiaddr(local), false};
  const std::string ip = remote.address().to_string();
  // SECURITY: one address cannot take every connection slot.
  if (conns_per_ip_[ip] >= cfg_.limits.max_connections_per_ip) {
    spdlog::warn("refusing connection from {}: per-IP limit", ip);
    co_return;
  }
  auto alive = alive_;
  ++pending_handshakes_;
  // A hole punching peer that dialed us as the responder: take the initiator
  // role on this accepted socket, or both sides would wait for the other.
  const auto punching = punching_peer(remote);
  auto conn = punching ? co_await add_outbound(std::move(raw), punching)
                       : co_await add_inbound(std::move(raw));
  if (!*alive) co_return;
  --pending_handshakes_;
  if (!conn) spdlog::debug("inbound handshake from {} failed: {}", ip, conn.error().message());
}

awaitable<result<connection_ptr>> host::add_inbound(raw_connection raw) {
  auto remote = raw.remote_addr;
  auto alive = alive_;
  auto conn = co_await with_timeout(upgrade_inbound(std::move(raw), params()),
                                    cfg_.limits.handshake_timeout);
  if (!*alive) co_return make_error_code(errc::connection_closed);
  if (!conn) {
    if (conn.error() == errc::connection_denied)
      spdlog::info("gater denied peer from {}", remote.to_string());
    co_return conn;
  }
  register_connection(*conn);
  co_return conn;
}

awaitable<result<connection_ptr>> host::add_outbound(raw_connection raw,
                                                     std::optional<peer_id> expected) {
  auto alive = alive_;
  auto conn = co_await with_timeout(upgrade_outbound(std::move(raw), params(), std::move(expected)),
                                    cfg_.limits.handshake_timeout);
  if (!*alive) co_return make_error_code(errc::connection_closed);
  if (conn) register_connection(*conn);
  co_return conn;
}

void host::register_connection(const connection_ptr& conn) {
  if (stopped_) {
    conn->mux->close();
    return;
  }
  const std::string ip = ip_of(conn->remote_addr);
  conns_[conn->remote_peer].push_back(conn);
  if (!conn->relayed) ++conns_per_ip_[ip];
  std::weak_ptr<connection> weak = conn;
  conn->mux->start([this, weak](stream_ptr s) {
    if (auto c = weak.lock()) serve_stream(c, std::move(s));
  });
  spdlog::debug("connected to {} via {} ({})", conn->remote_peer.to_string(),
                conn->remote_addr.to_string(), conn->relayed ? "relayed" : "direct");
  // Forget the connection once it closes.
  asio::co_spawn(
      ex_,
      [this, conn, ip, alive = alive_]() -> awaitable<void> {
        co_await conn->mux->wait_closed();
        if (!*alive) co_return;
        auto it = conns_.find(conn->remote_peer);
        if (it != conns_.end()) {
          std::erase(it->second, conn);
          if (it->second.empty()) {
            conns_.erase(it);
            for (const auto& f : disconnect_observers_) f(conn->remote_peer);
          }
        }
        if (!conn->relayed && --conns_per_ip_[ip] == 0) conns_per_ip_.erase(ip);
      },
      asio::detached);
  for (const auto& obs : observers_) obs(conn);
}

void host::serve_stream(const connection_ptr& conn, stream_ptr s) {
  asio::co_spawn(ex_, run_stream(conn, std::move(s)), asio::detached);
}

awaitable<void> host::run_stream(connection_ptr conn, stream_ptr s) {
  auto alive = alive_;
  auto proto = co_await with_timeout(
      negotiate_inbound(*s,
                        [this](std::string_view p) { return handlers_.contains(std::string(p)); }),
      cfg_.limits.negotiate_timeout);
  if (!*alive) co_return;
  if (!proto) {
    s->reset();
    co_return;
  }
  auto it = handlers_.find(*proto);
  if (it == handlers_.end()) {  // handler removed while negotiating
    s->reset();
    co_return;
  }
  auto handler = it->second;  // the map may change while the handler runs
  // Named, not a temporary: g++ 12 destroys class temporaries inside a
  // co_await expression twice.
  stream_context ctx{std::move(conn), std::move(*proto)};
  auto serving = handler(std::move(s), std::move(ctx));
  co_await std::move(serving);
}

std::vector<connection_ptr> host::connections(const peer_id& peer) const {
  std::vector<connection_ptr> out;
  auto it = conns_.find(peer);
  if (it == conns_.end()) return out;
  for (const auto& c : it->second)
    if (c->is_open()) out.push_back(c);
  std::stable_sort(out.begin(), out.end(), [](const connection_ptr& a, const connection_ptr& b) {
    if (a->relayed != b->relayed) return !a->relayed;
    return a->opened > b->opened;
  });
  return out;
}

std::vector<connection_ptr> host::all_connections() const {
  std::vector<connection_ptr> out;
  for (const auto& [peer, list] : conns_)
    for (const auto& c : list)
      if (c->is_open()) out.push_back(c);
  return out;
}

void host::close_connections(const peer_id& peer) {
  for (auto& c : connections(peer)) c->mux->close();
}

awaitable<result<connection_ptr>> host::connect(const peer_id& peer) {
  if (auto existing = connections(peer); !existing.empty()) co_return existing.front();
  auto addrs = peers_.addrs(peer);
  if (addrs.empty()) co_return make_error_code(errc::no_addresses);
  // Direct addresses first, relayed ones as the fallback.
  std::stable_partition(addrs.begin(), addrs.end(),
                        [](const multiaddr& a) { return !a.is_relayed(); });
  error_code last = make_error_code(errc::dial_failed);
  for (const auto& a : addrs) {
    auto conn = co_await dial_addr(a, peer, dial_options{});
    if (conn) co_return conn;
    last = conn.error();
    spdlog::debug("dial {} failed: {}", a.to_string(), last.message());
  }
  co_return last;
}

awaitable<result<connection_ptr>> host::connect(const multiaddr& addr) {
  auto peer = addr.peer();
  if (peer) {
    if (auto existing = connections(*peer); !existing.empty()) co_return existing.front();
  }
  auto conn = co_await dial_addr(addr, peer, dial_options{});
  if (conn && peer) peers_.add_addr(*peer, addr);
  co_return conn;
}

awaitable<result<connection_ptr>> host::dial_reusing_port(const multiaddr& addr,
                                                          const peer_id& expected) {
  co_return co_await dial_addr(addr, expected, dial_options{});
}

awaitable<result<connection_ptr>> host::dial(const multiaddr& addr,
                                             std::optional<peer_id> expected, dial_options opts) {
  co_return co_await dial_addr(addr, std::move(expected), opts);
}

void host::expect_punch(const peer_id& peer, const std::vector<multiaddr>& from,
                        steady_clock::time_point until) {
  punch_expectation e{.from = {}, .until = until};
  for (const auto& a : from)
    if (auto ep = to_endpoint(a.without_peer())) e.from.push_back(*ep);
  if (e.from.empty()) return;
  // SECURITY: entries come from our own DCUtR runs, which are bounded in
  // number; expired ones are dropped here so the map cannot grow stale.
  const auto now = steady_clock::now();
  std::erase_if(punches_, [&](const auto& kv) { return kv.second.until <= now; });
  punches_[peer] = std::move(e);
}

std::optional<peer_id> host::punching_peer(const tcp::endpoint& remote) {
  if (punches_.empty()) return std::nullopt;
  const auto now = steady_clock::now();
  std::erase_if(punches_, [&](const auto& kv) { return kv.second.until <= now; });
  std::optional<peer_id> same_ip;
  for (const auto& [peer, e] : punches_) {
    for (const auto& ep : e.from) {
      if (ep == remote) return peer;
      if (ep.address() == remote.address() && !same_ip) same_ip = peer;
    }
  }
  return same_ip;
}

std::optional<tcp::endpoint> host::reuse_endpoint_for(const tcp::endpoint& target) const {
  if (stopped_) return std::nullopt;
  std::optional<tcp::endpoint> found;
  for (const auto& l : listeners_) {
    const auto ep = l.local_endpoint();
    if (ep.protocol() != target.protocol()) continue;
    if (ep.address().is_unspecified()) return ep;
    // A socket bound to a loopback address cannot reach other hosts, and
    // the other way round.
    if (ep.address().is_loopback() != target.address().is_loopback()) continue;
    found = ep;
  }
  return found;
}

awaitable<result<connection_ptr>> host::dial_addr(const multiaddr& addr,
                                                  std::optional<peer_id> expected,
                                                  dial_options opts) {
  if (expected && *expected == id_) co_return make_error_code(errc::invalid_argument);
  if (addr.is_relayed()) {
    if (!circuit_dialer_) co_return make_error_code(errc::dial_failed);
    co_return co_await circuit_dialer_(addr, expected);
  }
  // Outbound TCP leaves from the listen port (SO_REUSEPORT) whenever we
  // listen: what peers observe is then the NAT mapping of the listen port,
  // which is what hole punching needs them to report.
  std::optional<tcp::endpoint> local;
  if (opts.reuse_port) {
    if (auto target = to_endpoint(addr.without_peer())) local = reuse_endpoint_for(*target);
  }
  auto socket =
      co_await with_timeout(tcp_dial(addr.without_peer(), local), cfg_.limits.dial_timeout);
  if (!socket && local && opts.ephemeral_fallback &&
      (socket.error() == boost::system::errc::address_not_available ||
       socket.error() == boost::system::errc::address_in_use)) {
    // That 4-tuple is taken (an existing connection, or TIME_WAIT).
    socket = co_await with_timeout(tcp_dial(addr.without_peer()), cfg_.limits.dial_timeout);
  }
  if (!socket) co_return socket.error();
  error_code ec;
  auto remote_ep = socket->remote_endpoint(ec);
  auto local_ep = socket->local_endpoint(ec);
  if (ec) co_return ec;
  raw_connection raw{std::make_unique<tcp_stream>(std::move(*socket)), to_multiaddr(remote_ep),
                     to_multiaddr(local_ep), false};
  if (opts.role == dial_role::initiator)
    co_return co_await add_outbound(std::move(raw), std::move(expected));
  auto conn = co_await add_inbound(std::move(raw));
  if (conn && expected && (*conn)->remote_peer != *expected) {
    (*conn)->mux->close();
    co_return make_error_code(errc::peer_id_mismatch);
  }
  co_return conn;
}

awaitable<result<opened_stream>> host::new_stream(const peer_id& peer,
                                                  std::vector<std::string> protocols) {
  auto conn = co_await connect(peer);
  if (!conn) co_return conn.error();
  co_return co_await new_stream(*conn, std::move(protocols));
}

awaitable<result<opened_stream>> host::new_stream(const connection_ptr& conn,
                                                  std::vector<std::string> protocols) {
  auto s = conn->mux->open_stream();
  if (!s) co_return s.error();
  auto proto =
      co_await with_timeout(negotiate_outbound(**s, protocols), cfg_.limits.negotiate_timeout);
  if (!proto) {
    (*s)->reset();
    co_return proto.error();
  }
  co_return opened_stream{std::move(*s), std::move(*proto), conn};
}

awaitable<result<opened_stream>> host::new_stream(const peer_id& peer, const protocol_id& proto) {
  std::vector<std::string> protocols{proto.str()};
  co_return co_await new_stream(peer, std::move(protocols));
}

awaitable<result<opened_stream>> host::new_stream(const connection_ptr& conn,
                                                  const protocol_id& proto) {
  std::vector<std::string> protocols{proto.str()};
  co_return co_await new_stream(conn, std::move(protocols));
}

}  // namespace peerup::net
