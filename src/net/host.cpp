#include "net/host.hpp"

#include <malloc.h>
#include <spdlog/spdlog.h>

#include <array>

#include "net/interfaces.hpp"
#include "net/multistream_io.hpp"
#include "net/optimistic_stream.hpp"
#include "net/resource_log.hpp"
#include "net/signal.hpp"

namespace peerup::net {

namespace {
std::string ip_of(const multiaddr& a) {
  auto t = a.tcp_target();
  return t ? t->host : std::string();
}

// The upgrade, ended by the handshake timeout or by an eviction.
awaitable<result<connection_ptr>> bounded_upgrade(awaitable<result<connection_ptr>> op,
                                                  steady_clock::duration limit, signal& evicted) {
  using namespace asio::experimental::awaitable_operators;
  asio::steady_timer timer(co_await asio::this_coro::executor, limit);
  auto winner = co_await (std::move(op) || timer.async_wait(use_nothrow) || evicted.wait());
  if (winner.index() == 0) co_return std::get<0>(std::move(winner));
  co_return make_error_code(winner.index() == 1 ? errc::timeout : errc::resource_limit);
}

// How often idle connections are looked for: often enough that one closes
// within about 1.25 idle timeouts, rarely enough to cost nothing.
steady_clock::duration idle_check_interval(steady_clock::duration idle) {
  return std::clamp<steady_clock::duration>(idle / 4, std::chrono::milliseconds(100),
                                            std::chrono::seconds(30));
}
// A drop of at least this many connections (to half or less) from the peak
// since the last idle check lets the idle loop return freed heap to the
// system.
constexpr std::size_t trim_after_drop = 1000;
constexpr auto peak_sample_interval = std::chrono::seconds(1);

// local_interface_addresses(v6), refreshed at most once a second per thread:
// getifaddrs is a netlink dump (tens of microseconds), and a relay listening
// on 0.0.0.0 announces its addresses in every identify and RESERVE reply,
// thousands a second. Interfaces change rarely; a second late is fine for
// announcements. Per thread, because hosts may run on several threads.
const std::vector<asio::ip::address>& interface_addresses(bool v6) {
  struct cached {
    steady_clock::time_point at;
    std::vector<asio::ip::address> addrs;
    bool valid = false;
  };
  thread_local std::array<cached, 2> cache;  // [0] IPv4, [1] IPv6
  auto& c = cache[v6 ? 1 : 0];
  const auto now = steady_clock::now();
  if (!c.valid || now - c.at >= std::chrono::seconds(1)) {
    c.addrs = local_interface_addresses(v6);
    c.at = now;
    c.valid = true;
  }
  return c.addrs;
}

// glibc keeps freed heap mapped: without this a relay that held 100,000
// connections keeps that RSS after they leave. After a large drop (to half
// or less, and by at least trim_after_drop, from the peak since the last
// idle check) give free pages back; malloc_trim walks the heap, so only
// after such drops (idle_loop: at most once per trim_after_drop fallen).
bool release_freed_memory(std::size_t before, std::size_t now) {
  if (before < now + trim_after_drop || now > before / 2) return false;
  malloc_trim(0);
  spdlog::debug("connections fell from {} to {}: freed heap returned to the system", before, now);
  return true;
}
// How long the peer of a hole punch that landed in our listener may stay
// silent before we conclude it waits for us to initiate.
constexpr auto punch_silence = std::chrono::milliseconds(250);
// How long a dial gives QUIC before trying TCP as well.
constexpr auto happy_eyeballs_delay = std::chrono::milliseconds(250);
// How long a dial gives the direct addresses before trying the relayed ones
// as well. Direct addresses a peer announces are often unreachable from
// here (its LAN address, a NAT address without a mapping for us) and then
// fail only at the dial or handshake timeout (10 s each); waiting for that
// made every redial after a lost relayed connection take 10-20 s (the
// soak). A reachable direct path connects well within this; one that wins
// later is still taken up by DCUtR.
constexpr auto relay_delay = std::chrono::seconds(1);

}  // namespace

host::host(asio::any_io_executor ex, host_config cfg)
    : ex_(std::move(ex)),
      cfg_(std::move(cfg)),
      id_(cfg_.identity.get_public_key().to_peer_id()),
      resources_(std::make_shared<resource_manager>(cfg_.limits)) {}

void host::set_limits(const host_limits& l) {
  cfg_.limits = l;
  resources_->set_limits(l);
}

host::~host() {
  stop();
  *alive_ = false;
}

void host::start() {
  for (const auto& addr : cfg_.listen) {
    if (is_quic_addr(addr)) {
      auto tls = quic_tls();
      if (!tls) throw std::system_error(tls.error(), "QUIC certificate for " + addr.to_string());
      quic_listeners_.push_back(quic_endpoint::open(ex_, to_udp_endpoint(addr).value(), *tls,
                                                    cfg_.quic_cfg, quic_policy()));
      continue;
    }
    auto ep = to_endpoint(addr);
    if (!ep) throw std::system_error(ep.error(), "listen address " + addr.to_string());
    auto& listener = listeners_.emplace_back(ex_, *ep);
    asio::co_spawn(ex_, accept_loop(listener), asio::detached);
  }
  if (!idle_loop_started_) {
    idle_loop_started_ = true;
    asio::co_spawn(ex_, idle_loop(), asio::detached);
  }
}

void host::stop() {
  if (stopped_) return;
  stopped_ = true;
  for (auto& l : listeners_) l.close();
  for (auto& [peer, list] : conns_)
    for (auto& c : list) c->mux->close();
  // After the connections: their CONNECTION_CLOSE leaves through these.
  for (auto& e : quic_listeners_) e->close();
  for (auto& e : quic_dialers_) e->close();
}

std::vector<multiaddr> host::listen_addrs() const {
  std::vector<multiaddr> out;
  for (const auto& l : listeners_) {
    const auto ep = l.local_endpoint();
    if (ep.address().is_unspecified()) {
      for (const auto& ip : interface_addresses(ep.address().is_v6()))
        out.push_back(to_multiaddr(tcp::endpoint(ip, ep.port())));
    } else {
      out.push_back(to_multiaddr(ep));
    }
  }
  for (const auto& l : quic_listeners_) {
    const auto ep = l->local_endpoint();
    if (ep.address().is_unspecified()) {
      for (const auto& ip : interface_addresses(ep.address().is_v6()))
        out.push_back(to_quic_multiaddr(udp::endpoint(ip, ep.port())));
    } else {
      out.push_back(to_quic_multiaddr(ep));
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
  if (address_filter_) std::erase_if(out, [this](const multiaddr& a) { return !address_filter_(a); });
  return out;
}

void host::set_handler(const protocol_id& proto, stream_handler h) {
  handlers_[proto.str()] = std::move(h);
  admissions_.erase(proto.str());
}

void host::set_handler(const protocol_id& proto, stream_handler h, stream_admission admit) {
  handlers_[proto.str()] = std::move(h);
  admissions_[proto.str()] = std::move(admit);
}

void host::remove_handler(const protocol_id& proto) {
  handlers_.erase(proto.str());
  admissions_.erase(proto.str());
}

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
    error_code ec;
    const auto remote = socket->remote_endpoint(ec);
    if (ec) continue;
    const std::string ip = remote.address().to_string();
    // SECURITY: before any byte is read, the connection must fit the total,
    // per-IP and pending-handshake limits, so a flood of half-open or garbage
    // connections from one address cannot take the slots of other peers.
    auto res = resources_->open_connection(true, ip);
    if (!res) {
      log_refusal(*resources_, res.error(), "a connection from " + ip);
      continue;  // the socket closes as it goes out of scope
    }
    asio::co_spawn(ex_, handle_inbound_socket(std::move(*socket), remote, std::move(*res)),
                   asio::detached);
  }
}

awaitable<void> host::handle_inbound_socket(tcp::socket socket, tcp::endpoint remote,
                                            connection_resources_ptr res) {
  error_code ec;
  auto local = socket.local_endpoint(ec);
  if (ec) co_return;
  const std::string ip = remote.address().to_string();
  auto alive = alive_;
  // A hole punching peer's SYN reached our listener, and nothing says in
  // which role it dialed. An initiator speaks first (its multistream header)
  // and a responder waits, so take the initiator role only if the peer stays
  // silent. (go-libp2p's DCUtR initiator dials as responder by default;
  // js-libp2p 3.x's, in fact, as initiator.)
  const auto punching = punching_peer(remote);
  auto dir = direction::inbound;
  if (punching) {
    using namespace asio::experimental::awaitable_operators;
    asio::steady_timer quiet(ex_, punch_silence);
    auto first = co_await (socket.async_wait(tcp::socket::wait_read, use_nothrow) ||
                           quiet.async_wait(use_nothrow));
    if (!*alive) co_return;
    if (first.index() == 1) dir = direction::outbound;
  }
  raw_connection raw{std::make_unique<tcp_stream>(std::move(socket)), to_multiaddr(remote),
                     to_multiaddr(local), false};
  const auto expected = dir == direction::outbound ? punching : std::nullopt;
  auto conn = co_await upgrade(std::move(raw), expected, dir, std::move(res));
  if (!*alive) co_return;
  if (!conn) spdlog::debug("inbound handshake from {} failed: {}", ip, conn.error().message());
}

awaitable<result<connection_ptr>> host::add_inbound(raw_connection raw) {
  // Relayed connections have no IP of their own (the relay's is not theirs).
  auto res = resources_->open_connection(true, raw.relayed ? "" : ip_of(raw.remote_addr));
  if (!res) {
    log_refusal(*resources_, res.error(), "a connection from " + raw.remote_addr.to_string());
    raw.stream->reset();
    co_return make_error_code(errc::resource_limit);
  }
  co_return co_await upgrade(std::move(raw), std::nullopt, direction::inbound, std::move(*res));
}

awaitable<result<connection_ptr>> host::add_outbound(raw_connection raw,
                                                     std::optional<peer_id> expected) {
  auto res = resources_->open_connection(false, "");
  if (!res) {
    log_refusal(*resources_, res.error(), "a connection to " + raw.remote_addr.to_string());
    raw.stream->reset();
    co_return make_error_code(errc::resource_limit);
  }
  co_return co_await upgrade(std::move(raw), std::move(expected), direction::outbound,
                             std::move(*res));
}

// 1. upgrade (multistream, Noise, gater, Yamux) within the handshake timeout
// 2. count the authenticated connection for its peer (the per-peer limit)
// 3. register it and start its streams
awaitable<result<connection_ptr>> host::upgrade(raw_connection raw, std::optional<peer_id> expected,
                                                direction dir, connection_resources_ptr res) {
  const auto remote = raw.remote_addr;
  auto alive = alive_;
  // A newer inbound connection may evict this handshake while it is
  // unfinished (resource_manager.hpp): the signal ends it at once.
  auto evicted = std::make_shared<signal>(ex_);
  res->on_evict([this, alive_weak = std::weak_ptr<bool>(alive_),
                 sig = std::weak_ptr<signal>(evicted), who = remote](resource_limit l) {
    if (auto s = sig.lock()) s->notify();
    // Formatted here, not up front: evictions are rare, connections are not.
    if (alive_weak.lock())
      log_refusal(*resources_, l,
                  "the unfinished handshake of " + who.to_string() + " (for a newer one)");
  });
  if (res->evicted()) co_return make_error_code(errc::resource_limit);
  // Named locals, not temporaries: g++ 12 destroys class temporaries inside a
  // co_await expression twice (upgrade_params holds a shared_ptr).
  if (!noise_static_) noise_static_ = make_noise_static(cfg_.identity);
  const upgrade_params p{noise_static_, cfg_.gater, cfg_.yamux_cfg, res};
  auto op = dir == direction::inbound ? upgrade_inbound(std::move(raw), p)
                                      : upgrade_outbound(std::move(raw), p, std::move(expected));
  auto conn = co_await bounded_upgrade(std::move(op), cfg_.limits.handshake_timeout, *evicted);
  if (!*alive) co_return make_error_code(errc::connection_closed);
  if (!conn) {
    if (conn.error() == errc::connection_denied)
      spdlog::info("gater denied peer from {}", remote.to_string());
    co_return conn;
  }
  // SECURITY: one peer cannot take every connection slot either.
  if (auto admitted = res->authenticated((*conn)->remote_peer); !admitted) {
    log_refusal(*resources_, admitted.error(),
                "a connection with " + (*conn)->remote_peer.to_string());
    co_return make_error_code(errc::resource_limit);  // the unstarted connection closes
  }
  register_connection(*conn);
  co_return conn;
}

void host::register_connection(const connection_ptr& conn) {
  if (stopped_) {
    conn->mux->close();
    return;
  }
  conns_[conn->remote_peer].push_back(conn);
  peers_.connected(conn->remote_peer);
  std::weak_ptr<connection> weak = conn;
  conn->mux->start([this, weak](stream_ptr s) {
    if (auto c = weak.lock()) serve_stream(c, std::move(s));
  });
  spdlog::debug("connected to {} via {} ({})", conn->remote_peer.to_string(),
                conn->remote_addr.to_string(), conn->transport());
  // Forget the connection once it closes.
  asio::co_spawn(
      ex_,
      [this, conn, alive = alive_]() -> awaitable<void> {
        co_await conn->mux->wait_closed();
        if (!*alive) co_return;
        // With the RTT and age: what a soak's timeline needs to tell a probe
        // that failed (timeout) from a reset or an orderly close.
        const std::chrono::duration<double> age = steady_clock::now() - conn->opened;
        const auto rtt = conn->mux->rtt();
        spdlog::debug("connection to {} via {} ({}) closed after {:.1f} s (rtt {} ms): {}",
                      conn->remote_peer.to_string(), conn->remote_addr.to_string(),
                      conn->transport(), age.count(), rtt ? rtt->count() : -1,
                      conn->mux->close_reason().message());
        for (const auto& f : close_observers_) f(conn);
        auto it = conns_.find(conn->remote_peer);
        if (it != conns_.end()) {
          std::erase(it->second, conn);
          if (it->second.empty()) {
            conns_.erase(it);
            peers_.disconnected(conn->remote_peer);
            for (const auto& f : disconnect_observers_) f(conn->remote_peer);
          }
        }
      },
      asio::detached);
  for (const auto& obs : observers_) obs(conn);
}

awaitable<void> host::idle_loop() {
  auto alive = alive_;
  asio::steady_timer timer(ex_);
  // The most connections seen since the last check: a crowd that came and
  // went between two checks (a 30 s interval on a relay) is a drop too, so
  // the count is sampled every peak_sample_interval (one wake-up per host).
  std::size_t peak = resources_->usage().connections;
  // The connection count at the last trim within the current check: a crowd
  // that left is trimmed for within a second of its drop (not at the next
  // check, up to 30 s later), again after each further drop of
  // trim_after_drop, and at the check for what was freed late.
  std::optional<std::size_t> trimmed_at;
  while (*alive && !stopped_) {
    const auto idle = cfg_.limits.idle_timeout;
    const auto due = steady_clock::now() + idle_check_interval(idle > steady_clock::duration::zero()
                                                                   ? idle
                                                                   : std::chrono::seconds(120));
    while (*alive && !stopped_ && steady_clock::now() < due) {
      timer.expires_at(std::min(due, steady_clock::now() + peak_sample_interval));
      co_await timer.async_wait(use_nothrow);
      if (!*alive || stopped_) co_return;
      const std::size_t sampled = resources_->usage().connections;
      peak = std::max(peak, sampled);
      if ((!trimmed_at || *trimmed_at >= sampled + trim_after_drop) &&
          release_freed_memory(peak, sampled))
        trimmed_at = sampled;
    }
    if (!*alive || stopped_) co_return;
    close_idle_connections();
    peers_.expire();
    const std::size_t connections_now = resources_->usage().connections;
    release_freed_memory(peak, connections_now);
    peak = connections_now;
    trimmed_at.reset();
  }
}

void host::close_idle_connections() {
  const auto idle = cfg_.limits.idle_timeout;
  if (idle <= steady_clock::duration::zero()) return;
  const auto now = steady_clock::now();
  for (const auto& c : all_connections()) {
    if (c->mux->stream_count() > 0 || now - c->mux->last_activity() < idle) continue;
    bool exempt = false;
    for (const auto& keep : idle_exemptions_) exempt = exempt || keep(*c);
    if (exempt) continue;
    spdlog::debug("closing idle connection to {} ({})", c->remote_peer.to_string(),
                  c->remote_addr.to_string());
    c->mux->close();
  }
}

void host::serve_stream(const connection_ptr& conn, stream_ptr s) {
  asio::co_spawn(ex_, run_stream(conn, std::move(s)), asio::detached);
}

// 1. negotiate the protocol; for one with an admission, run it before the
//    echo (the dialer waits), so a refusal is a clean "na"
// 2. run the handler with the context the admission filled
awaitable<void> host::run_stream(connection_ptr conn, stream_ptr s) {
  auto alive = alive_;
  stream_context ctx{std::move(conn), {}, nullptr};
  auto decide = [this, alive, &ctx](std::string p) -> awaitable<bool> {
    if (!*alive) co_return false;
    auto it = admissions_.find(p);
    if (it == admissions_.end()) co_return handlers_.contains(p);
    auto admit = it->second;  // the map may change while it runs
    ctx.protocol = std::move(p);
    auto admitting = admit(ctx);
    co_return co_await std::move(admitting);
  };
  auto negotiating = negotiate_inbound(
      *s, [this](std::string_view p) { return handlers_.contains(std::string(p)); },
      [this](std::string_view p) { return admissions_.contains(std::string(p)); }, decide);
  auto proto = co_await with_timeout(std::move(negotiating), cfg_.limits.negotiate_timeout);
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
  ctx.protocol = std::move(*proto);
  auto serving = handler(std::move(s), std::move(ctx));
  co_await std::move(serving);
}

std::vector<connection_ptr> host::connections(const peer_id& peer) const {
  std::vector<connection_ptr> out;
  auto it = conns_.find(peer);
  if (it == conns_.end()) return out;
  for (const auto& c : it->second)
    if (c->is_open()) out.push_back(c);
  // Best first: direct before relayed, QUIC before TCP (no head-of-line
  // blocking between streams, datagrams, a path that survives NAT rebinding),
  // then the newest.
  std::stable_sort(out.begin(), out.end(), [](const connection_ptr& a, const connection_ptr& b) {
    if (a->relayed != b->relayed) return !a->relayed;
    const bool qa = a->transport() == "quic", qb = b->transport() == "quic";
    if (qa != qb) return qa;
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

struct host::dial_in_flight {
  explicit dial_in_flight(asio::any_io_executor ex) : done(ex) {}
  signal done;
  std::optional<result<connection_ptr>> outcome;
};

// Registers a dial in dials_ and always publishes its outcome to the
// connect() calls that joined it, also when the dialing coroutine ends early.
class host::dial_registration {
 public:
  dial_registration(host& h, const peer_id& peer)
      : host_(h), peer_(peer), alive_(h.alive_), flight_(std::make_shared<dial_in_flight>(h.ex_)) {
    h.dials_[peer] = flight_;
  }
  ~dial_registration() { finish(make_error_code(errc::dial_failed)); }
  dial_registration(const dial_registration&) = delete;
  dial_registration& operator=(const dial_registration&) = delete;

  void finish(const result<connection_ptr>& r) {
    if (flight_->outcome) return;
    flight_->outcome = r;
    flight_->done.notify();
    if (!*alive_) return;
    if (auto it = host_.dials_.find(peer_); it != host_.dials_.end() && it->second == flight_)
      host_.dials_.erase(it);
  }

 private:
  host& host_;
  peer_id peer_;
  std::shared_ptr<bool> alive_;
  std::shared_ptr<dial_in_flight> flight_;
};

awaitable<std::optional<result<connection_ptr>>> host::join_dial(const peer_id& peer) {
  auto it = dials_.find(peer);
  if (it == dials_.end()) co_return std::nullopt;
  auto flight = it->second;
  auto alive = alive_;
  while (!flight->outcome && *alive) co_await flight->done.wait();
  if (!flight->outcome) co_return result<connection_ptr>(make_error_code(errc::dial_failed));
  co_return *flight->outcome;
}

awaitable<result<connection_ptr>> host::connect(const peer_id& peer) {
  if (auto existing = connections(peer); !existing.empty()) co_return existing.front();
  if (auto joined = co_await join_dial(peer)) co_return *joined;
  auto addrs = peers_.addrs(peer);
  if (address_filter_)
    std::erase_if(addrs, [this](const multiaddr& a) { return !address_filter_(a); });
  if (addrs.empty()) co_return make_error_code(errc::no_addresses);
  dial_registration registration(*this, peer);
  // Direct addresses first (QUIC raced against TCP, happy eyeballs), relayed
  // ones as the fallback.
  std::vector<multiaddr> quic_addrs, tcp_addrs, relayed_addrs;
  for (auto& a : addrs)
    (a.is_relayed() ? relayed_addrs : is_quic_addr(a) ? quic_addrs : tcp_addrs).push_back(a);
  const bool has_direct = !quic_addrs.empty() || !tcp_addrs.empty();
  auto direct = race_direct(peer, std::move(quic_addrs), std::move(tcp_addrs));
  result<connection_ptr> last = make_error_code(errc::dial_failed);
  if (relayed_addrs.empty()) {
    last = co_await std::move(direct);
  } else if (!has_direct) {
    last = co_await dial_each(peer, std::move(relayed_addrs));
  } else {
    auto relayed = dial_each(peer, std::move(relayed_addrs));
    last = co_await race_dials(std::move(direct), std::move(relayed), relay_delay);
  }
  registration.finish(last);
  co_return last;
}

awaitable<result<connection_ptr>> host::dial_each(peer_id peer, std::vector<multiaddr> addrs) {
  result<connection_ptr> last = make_error_code(errc::dial_failed);
  for (const auto& a : addrs) {
    last = co_await dial_addr(a, peer, dial_options{});
    if (last) break;
    spdlog::debug("dial {} failed: {}", a.to_string(), last.error().message());
  }
  co_return last;
}

// Happy eyeballs (RFC 8305 in spirit): QUIC starts at once, TCP after
// happy_eyeballs_delay or as soon as every QUIC address failed; the first
// connection wins and the other attempt is cancelled.
awaitable<result<connection_ptr>> host::race_direct(peer_id peer, std::vector<multiaddr> quic_addrs,
                                                    std::vector<multiaddr> tcp_addrs) {
  if (quic_addrs.empty() || tcp_addrs.empty()) {
    quic_addrs.insert(quic_addrs.end(), tcp_addrs.begin(), tcp_addrs.end());
    co_return co_await dial_each(peer, std::move(quic_addrs));
  }
  auto over_quic = dial_each(peer, std::move(quic_addrs));
  auto over_tcp = dial_each(std::move(peer), std::move(tcp_addrs));
  co_return co_await race_dials(std::move(over_quic), std::move(over_tcp), happy_eyeballs_delay);
}

// A side that fails waits for the other, so the race only ends early with a
// success; when both fail, the error of the one that failed last is returned.
awaitable<result<connection_ptr>> host::race_dials(awaitable<result<connection_ptr>> first,
                                                   awaitable<result<connection_ptr>> second,
                                                   steady_clock::duration delay) {
  using namespace asio::experimental::awaitable_operators;
  struct race {
    explicit race(asio::any_io_executor ex) : changed(ex) {}
    signal changed;
    int failed = 0;
  };
  auto state = std::make_shared<race>(ex_);
  auto attempt = [](awaitable<result<connection_ptr>> op, steady_clock::duration wait,
                    std::shared_ptr<race> st) -> awaitable<result<connection_ptr>> {
    if (wait > steady_clock::duration::zero()) {
      asio::steady_timer t(co_await asio::this_coro::executor, wait);
      co_await (t.async_wait(use_nothrow) || st->changed.wait());
    }
    auto r = co_await std::move(op);
    if (r) co_return r;
    ++st->failed;
    st->changed.notify();
    // Wait for the other side: its failure notifies, its success cancels
    // this wait. One wait, no loop: after a cancellation a new wait would
    // never end. Bounded by the other side's dial timeouts.
    if (st->failed < 2) co_await st->changed.wait();
    co_return r;
  };
  auto a = attempt(std::move(first), steady_clock::duration::zero(), state);
  auto b = attempt(std::move(second), delay, state);
  auto winner = co_await (std::move(a) || std::move(b));
  co_return winner.index() == 0 ? std::get<0>(std::move(winner)) : std::get<1>(std::move(winner));
}

awaitable<result<connection_ptr>> host::connect(const multiaddr& addr) {
  auto peer = addr.peer();
  if (!peer) co_return co_await dial_addr(addr, peer, dial_options{});
  if (auto existing = connections(*peer); !existing.empty()) co_return existing.front();
  if (auto joined = co_await join_dial(*peer)) co_return *joined;
  dial_registration registration(*this, *peer);
  auto conn = co_await dial_addr(addr, peer, dial_options{});
  if (conn) peers_.add_addr(*peer, addr);
  registration.finish(conn);
  co_return conn;
}

awaitable<result<connection_ptr>> host::dial_reusing_port(const multiaddr& addr,
                                                          const peer_id& expected) {
  co_return co_await dial_addr(addr, expected, dial_options{});
}

awaitable<result<connection_ptr>> host::dial(const multiaddr& addr, std::optional<peer_id> expected,
                                             dial_options opts) {
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
  // Without reuse_port (AutoNAT dial-backs) QUIC leaves from a fresh socket
  // too: a cone NAT lets our listener's peers in, so a dial-back from the
  // listener would pass where a stranger's dial would not.
  if (is_quic_addr(addr))
    co_return co_await dial_quic(addr, std::move(expected), !opts.reuse_port,
                                 opts.reuse_port ? std::uint16_t{0} : opts.quic_local_port);
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

awaitable<result<opened_stream>> host::new_stream_optimistic(const connection_ptr& conn,
                                                             const protocol_id& proto) {
  auto s = conn->mux->open_stream();
  if (!s) co_return s.error();
  multistream::dialer negotiation(std::vector<std::string>{proto.str()});
  const bytes proposal = negotiation.take_output();
  // A new stream's send window takes the proposal at once; the bound is for
  // a connection that is failing under us.
  auto written = co_await with_timeout((*s)->write(proposal), cfg_.limits.negotiate_timeout);
  if (!written) {
    (*s)->reset();
    co_return written.error();
  }
  stream_ptr stream = std::make_unique<optimistic_stream>(std::move(*s), std::move(negotiation));
  co_return opened_stream{std::move(stream), proto.str(), conn};
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

// --- QUIC -----------------------------------------------------------------------

result<quic::tls_context_ptr> host::quic_tls() {
  if (quic_tls_) return quic_tls_;
  auto id = make_tls_identity(cfg_.identity, std::chrono::system_clock::now());
  if (!id) return id.error();
  auto ctx = quic::tls_context::make(*id);
  if (!ctx) return ctx.error();
  quic_tls_ = *ctx;
  return quic_tls_;
}

quic_accept_policy host::quic_policy() {
  std::weak_ptr<bool> alive = alive_;
  quic_accept_policy p;
  p.admit = [this, alive](const udp::endpoint& from) -> connection_resources_ptr {
    if (!alive.lock() || stopped_) return nullptr;
    const std::string ip = from.address().to_string();
    // SECURITY: as for TCP, the connection must fit the total, per-IP and
    // pending-handshake limits before any TLS work is done for it.
    auto res = resources_->open_connection(true, ip);
    if (!res) {
      log_refusal(*resources_, res.error(), "a QUIC connection from " + ip);
      return nullptr;
    }
    return *res;
  };
  p.gate = [this, alive](const udp::endpoint& from) -> quic::connection::gate {
    return [this, alive, addr = to_quic_multiaddr(from)](const peer_id& peer) {
      if (!alive.lock()) return false;
      return !cfg_.gater || cfg_.gater(peer, addr);
    };
  };
  // A quarter of the pending-handshake cap in use means a flood: clients
  // then prove their address first (Retry).
  p.validate_addresses = [this, alive] {
    if (!alive.lock()) return false;
    return resources_->usage().pending_handshakes >= cfg_.limits.max_pending_handshakes / 4;
  };
  p.accepted = [this, alive](std::shared_ptr<quic_connection> c) {
    if (!alive.lock()) return;
    asio::co_spawn(ex_, handle_inbound_quic(std::move(c)), asio::detached);
  };
  return p;
}

std::shared_ptr<quic_endpoint> host::quic_endpoint_for(const udp::endpoint& target) {
  std::shared_ptr<quic_endpoint> found;
  for (const auto& l : quic_listeners_) {
    const auto ep = l->local_endpoint();
    if (ep.protocol() != target.protocol()) continue;
    if (ep.address().is_unspecified()) return l;
    // A socket bound to a loopback address cannot reach other hosts, and
    // the other way round.
    if (ep.address().is_loopback() != target.address().is_loopback()) continue;
    found = l;
  }
  if (found) return found;
  for (const auto& d : quic_dialers_)
    if (d->local_endpoint().protocol() == target.protocol()) return d;
  auto tls = quic_tls();
  if (!tls) return nullptr;
  const udp::endpoint any(target.address().is_v6() ? asio::ip::address(asio::ip::address_v6::any())
                                                   : asio::ip::address(asio::ip::address_v4::any()),
                          0);
  try {
    quic_dialers_.push_back(quic_endpoint::open(ex_, any, *tls, cfg_.quic_cfg, std::nullopt));
  } catch (const std::system_error& e) {
    spdlog::warn("QUIC: cannot open a socket to dial from: {}", e.what());
    return nullptr;
  }
  return quic_dialers_.back();
}

bool host::send_udp_punch(const multiaddr& to, byte_span data) {
  auto target = to_udp_endpoint(to);
  if (!target) return false;
  // Only a listener: a dial-only socket's mapping is not where the peer's
  // QUIC dial will arrive.
  for (const auto& l : quic_listeners_) {
    const auto ep = l->local_endpoint();
    if (ep.protocol() != target->protocol()) continue;
    if (!ep.address().is_unspecified() &&
        ep.address().is_loopback() != target->address().is_loopback())
      continue;
    l->send_unconnected(*target, data);
    return true;
  }
  return false;
}

result<connection_ptr> host::admit_quic(const std::shared_ptr<quic_connection>& c, direction dir) {
  const auto& peer = *c->remote_peer();
  // SECURITY: one peer cannot take every connection slot either.
  if (auto admitted = c->resources()->authenticated(peer); !admitted) {
    log_refusal(*resources_, admitted.error(), "a QUIC connection with " + peer.to_string());
    c->close();
    return make_error_code(errc::resource_limit);
  }
  auto conn = std::make_shared<connection>(connection{
      .remote_peer = peer,
      .remote_addr = c->remote_multiaddr(),
      .local_addr = c->local_multiaddr(),
      .dir = dir,
      .relayed = false,
      .mux = c,
  });
  register_connection(conn);
  return conn;
}

awaitable<result<connection_ptr>> host::dial_quic(const multiaddr& addr,
                                                  std::optional<peer_id> expected,
                                                  bool fresh_socket,
                                                  std::uint16_t local_port) {
  auto alive = alive_;
  auto target = to_udp_endpoint(addr);
  if (!target) co_return target.error();
  std::shared_ptr<quic_endpoint> ep;
  if (fresh_socket) {
    auto tls = quic_tls();
    if (!tls) co_return tls.error();
    const udp::endpoint any(
        target->address().is_v6() ? asio::ip::address(asio::ip::address_v6::any())
                                  : asio::ip::address(asio::ip::address_v4::any()),
        local_port);
    try {
      ep = quic_endpoint::open(ex_, any, *tls, cfg_.quic_cfg, std::nullopt);
    } catch (const std::system_error& e) {
      spdlog::warn("QUIC: cannot open a socket to dial from: {}", e.what());
      co_return make_error_code(errc::dial_failed);
    }
  } else {
    ep = quic_endpoint_for(*target);
  }
  if (!ep) co_return make_error_code(errc::dial_failed);
  // A fresh socket serves this one connection and closes after it.
  struct close_fresh {
    std::shared_ptr<quic_endpoint> ep;
    bool armed;
    ~close_fresh() {
      if (armed) ep->close();
    }
  } fresh_guard{ep, fresh_socket};
  auto res = resources_->open_connection(false, "");
  if (!res) {
    log_refusal(*resources_, res.error(), "a connection to " + addr.to_string());
    co_return make_error_code(errc::resource_limit);
  }
  quic::connection::gate gate = [this, alive_weak = std::weak_ptr<bool>(alive_),
                                 remote = addr.without_peer()](const peer_id& peer) {
    if (!alive_weak.lock()) return false;
    return !cfg_.gater || cfg_.gater(peer, remote);
  };
  // Named, not a temporary: g++ 12 destroys class temporaries inside a
  // co_await expression twice.
  auto op = ep->dial(*target, std::move(expected), std::move(gate), *res);
  auto c = co_await with_timeout(std::move(op), cfg_.limits.dial_timeout);
  if (!*alive) co_return make_error_code(errc::connection_closed);
  if (!c) {
    if (c.error() == errc::connection_denied)
      spdlog::info("gater denied peer at {}", addr.to_string());
    co_return c.error();
  }
  auto admitted = admit_quic(*c, direction::outbound);
  if (admitted && fresh_socket) {
    fresh_guard.armed = false;
    asio::co_spawn(
        ex_,
        [conn = *c, ep]() -> awaitable<void> {
          co_await conn->wait_closed();
          ep->close();
        },
        asio::detached);
  }
  co_return admitted;
}

awaitable<void> host::handle_inbound_quic(std::shared_ptr<quic_connection> c) {
  auto alive = alive_;
  const auto from = c->remote_multiaddr().to_string();
  // A newer inbound connection may evict this handshake while it is
  // unfinished (resource_manager.hpp).
  c->resources()->on_evict([this, alive_weak = std::weak_ptr<bool>(alive_),
                            weak = std::weak_ptr<quic_connection>(c), from](resource_limit l) {
    if (auto s = weak.lock()) s->abort(make_error_code(errc::resource_limit));
    if (alive_weak.lock())
      log_refusal(*resources_, l,
                  "the unfinished QUIC handshake of " + from + " (for a newer one)");
  });
  auto op = c->handshake();
  auto hs = co_await with_timeout(std::move(op), cfg_.limits.handshake_timeout);
  if (!*alive) co_return;
  if (!hs) {
    ++quic_handshakes_failed_;
    if (hs.error() == errc::connection_denied) {
      spdlog::info("gater denied peer from {}", from);
    } else if (quic_handshakes_failed_ == 1) {
      // Bad input (a refused certificate, a protocol error) is logged once
      // and counted (quic_handshakes_failed()); the rest go to debug.
      spdlog::warn("inbound QUIC handshake from {} failed: {} (logged once; later failures at "
                   "debug level)",
                   from, hs.error().message());
    } else {
      spdlog::debug("inbound QUIC handshake from {} failed: {}", from, hs.error().message());
    }
    c->close();
    co_return;
  }
  (void)admit_quic(c, direction::inbound);
}

}  // namespace peerup::net
