#include "protocols/path_manager.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstdlib>
#include <string_view>

#include "net/quic_transport.hpp"

namespace peerup::protocols {

namespace {

using net::steady_clock;

std::uint64_t unix_seconds() {
  return static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::seconds>(
                                        std::chrono::system_clock::now().time_since_epoch())
                                        .count());
}

std::string join(const std::vector<multiaddr>& addrs) {
  std::string out;
  for (const auto& a : addrs) out += (out.empty() ? "" : " ") + a.to_string();
  return out.empty() ? "(none)" : out;
}

}  // namespace

path_manager_config path_config_from_env(path_manager_config base) {
  auto env = [](const char* name) -> std::string_view {
    const char* v = std::getenv(name);
    return v ? v : "";
  };
  if (env("PEERUP_HOLEPUNCH") == "off" || env("PEERUP_HOLEPUNCH") == "0") base.hole_punch = false;
  if (env("PEERUP_HOLEPUNCH_LOOPBACK") == "1") base.dcutr.policy.allow_loopback = true;
  if (const auto retry = env("PEERUP_HOLEPUNCH_RETRY_S"); !retry.empty()) {
    const long s = std::strtol(std::string(retry).c_str(), nullptr, 10);
    if (s > 0 && s <= 86400) base.retry_initial = std::chrono::seconds(s);
  }
  if (const char* v = std::getenv("PEERUP_BIRTHDAY"); v && std::string_view(v) == "off")
    base.birthday.enabled = false;
  return base;
}

path_manager::path_manager(net::host& h, identify_service& id, const path_manager_config& cfg)
    : host_(h), identify_(id), cfg_(cfg), observed_(cfg.observed) {
  dcutr_ = std::make_unique<dcutr_service>(
      h, [this] { return hole_punch_addrs(); }, cfg_.dcutr);
  dcutr_->on_outcome([this](const punch_outcome& o) { on_outcome(o); });
  if (cfg_.birthday.enabled)
    birthday_ = std::make_unique<birthday_service>(
        h, [this] { return birthday_self_info(); }, cfg_.birthday);
  auto alive = alive_;
  host_.on_connection([this, alive](const net::connection_ptr& c) {
    if (*alive) on_connection(c);
  });
  host_.on_disconnect([this, alive](const peer_id& p) {
    if (*alive) refresh(p);
  });
  identify_.on_identified([this, alive](const net::connection_ptr& c, const identify_info& info) {
    if (*alive) on_identified(c, info);
  });
}

path_manager::~path_manager() {
  stop();
  *alive_ = false;
}

void path_manager::start() {
  if (running_) return;
  running_ = true;
  sweep_timer_ = std::make_unique<net::asio::steady_timer>(host_.get_executor());
  autonat_timer_ = std::make_unique<net::asio::steady_timer>(host_.get_executor());
  net::asio::co_spawn(host_.get_executor(), sweep_loop(), net::asio::detached);
  if (cfg_.autonat) net::asio::co_spawn(host_.get_executor(), autonat_loop(), net::asio::detached);
}

void path_manager::stop() {
  running_ = false;
  if (sweep_timer_) sweep_timer_->cancel();
  if (autonat_timer_) autonat_timer_->cancel();
}

path_manager::peer_state& path_manager::state(const peer_id& p) {
  auto it = peers_.find(p);
  if (it != peers_.end()) return it->second;
  if (peers_.size() >= cfg_.max_peers) forget_stale_peers();
  peer_state fresh;
  fresh.rec = path_record(retry_backoff(cfg_.retry_initial, cfg_.retry_max));
  return peers_.emplace(p, std::move(fresh)).first->second;
}

void path_manager::forget_stale_peers() {
  // SECURITY: bounded; peers without any path go first, oldest change first.
  std::vector<std::pair<std::uint64_t, peer_id>> idle;
  for (const auto& [p, st] : peers_)
    if (st.rec.path == path_kind::none && !st.rec.punching)
      idle.emplace_back(st.rec.changed_unix, p);
  std::sort(idle.begin(), idle.end());
  for (std::size_t i = 0; i < idle.size() && peers_.size() >= cfg_.max_peers; ++i)
    peers_.erase(idle[i].second);
}

std::optional<peer_path_status> path_manager::status(const peer_id& p) const {
  auto it = peers_.find(p);
  if (it == peers_.end()) return std::nullopt;
  const auto& r = it->second.rec;
  return peer_path_status{p,           r.path,     r.changed_unix, r.attempts,
                          r.successes, r.last_error, r.method};
}

std::vector<peer_path_status> path_manager::statuses() const {
  std::vector<peer_path_status> out;
  for (const auto& [p, st] : peers_) out.push_back(*status(p));
  return out;
}

std::vector<multiaddr> path_manager::confirmed_addrs() const {
  return observed_.confirmed(steady_clock::now());
}

std::vector<multiaddr> path_manager::hole_punch_addrs() const {
  if (!cfg_.hole_punch || (!host_.listens_on_tcp() && !host_.listens_on_quic())) return {};
  auto out = observed_.candidates(steady_clock::now());
  // Only what we can be reached on: a TCP mapping needs our TCP listener, a
  // QUIC one our QUIC listener.
  std::erase_if(out, [&](const multiaddr& a) {
    return net::is_quic_addr(a) ? !host_.listens_on_quic() : !host_.listens_on_tcp();
  });
  for (const auto& a : host_.announce_addrs())
    if (!a.is_relayed() && std::find(out.begin(), out.end(), a) == out.end()) out.push_back(a);
  out.insert(out.end(), cfg_.extra_punch_addrs.begin(), cfg_.extra_punch_addrs.end());
  return out;
}

birthday_self path_manager::birthday_self_info() const {
  birthday_self me;
  std::uint16_t local = 0;
  for (const auto& a : host_.listen_addrs())
    if (net::is_quic_addr(a))
      if (auto ep = net::to_udp_endpoint(a); ep && ep->address().is_v4()) local = ep->port();
  if (local == 0) return me;  // no QUIC listener: the peer's dial has nowhere to land
  std::vector<std::uint16_t> ports;
  for (const auto& a : observed_.candidates(steady_clock::now())) {
    if (!net::is_quic_addr(a)) continue;
    auto ep = net::to_udp_endpoint(a);
    if (!ep || !ep->address().is_v4()) continue;
    if (!me.observed) me.observed = *ep;
    ports.push_back(ep->port());
  }
  me.hint = wire::classify_nat(local, ports);
  return me;
}

bool path_manager::supports(const peer_id& p, const protocol_id& proto) const {
  const auto* info = host_.peers().find(p);
  if (!info) return false;
  return std::find(info->protocols.begin(), info->protocols.end(), proto.str()) !=
         info->protocols.end();
}

void path_manager::refresh(const peer_id& p) {
  path_kind now_path = path_kind::none;
  for (const auto& c : host_.connections(p)) {
    if (!c->relayed) {
      now_path = path_kind::direct;
      break;
    }
    now_path = path_kind::relayed;
  }
  if (now_path == path_kind::none && !peers_.contains(p)) return;
  auto& st = state(p);
  const auto before = st.rec.path;
  if (!st.rec.set_path(now_path, steady_clock::now(), unix_seconds())) return;
  if (now_path == path_kind::direct) st.direct_since = steady_clock::now();
  spdlog::info("path to {}: {} -> {}", p.to_string(), to_string(before), to_string(now_path));
  for (const auto& f : path_listeners_) f(p, now_path);
}

void path_manager::on_connection(const net::connection_ptr& c) {
  const auto peer = c->remote_peer;
  if (c->relayed && c->dir == net::direction::outbound) state(peer).circuit = c->remote_addr;
  refresh(peer);
  auto alive = alive_;
  net::asio::co_spawn(
      host_.get_executor(),
      [this, c, alive]() -> net::awaitable<void> {
        co_await c->mux->wait_closed();
        if (*alive) on_closed(c);
      },
      net::asio::detached);
  // B: the peer came to us through a relay. Upgrade once identify has told
  // us its addresses and protocols (the spec waits for identify too).
  if (c->relayed && c->dir == net::direction::inbound) {
    net::asio::co_spawn(
        host_.get_executor(),
        [this, c, alive]() -> net::awaitable<void> {
          (void)co_await identify_.identify(c);
          if (!*alive || !running_ || !c->is_open()) co_return;
          if (state(c->remote_peer).rec.upgrade_due(steady_clock::now()) &&
              supports(c->remote_peer, dcutr_protocol))
            start_upgrade(c);
        },
        net::asio::detached);
  }
}

void path_manager::on_closed(const net::connection_ptr& c) {
  const auto peer = c->remote_peer;
  auto it = peers_.find(peer);
  const bool was_busy =
      it != peers_.end() && (it->second.direct_busy || c->mux->stream_count() > 0);
  refresh(peer);
  // A direct connection that ended in order (the peer restarted or was done)
  // says nothing against the path: punch again as soon as the peer comes
  // back through the relay. Only a broken one (timeout, reset) backs off.
  const bool orderly = c->mux->close_reason() == make_error_code(errc::connection_closed);
  if (!c->relayed && orderly) {
    if (auto p = peers_.find(peer); p != peers_.end()) p->second.rec.next_attempt = {};
  }
  if (c->relayed || !was_busy || !running_ || !cfg_.redial_relay_on_direct_loss) return;
  if (!host_.connections(peer).empty() || !it->second.circuit) return;
  // The direct path carried streams and is gone: get the relayed path back
  // now, so the next stream does not wait for a dead direct address.
  const auto circuit = *it->second.circuit;
  spdlog::info("direct connection to {} lost; reconnecting through {}", peer.to_string(),
               circuit.to_string());
  auto alive = alive_;
  net::asio::co_spawn(
      host_.get_executor(),
      [this, circuit, alive]() -> net::awaitable<void> {
        auto r = co_await host_.connect(circuit);
        if (*alive && !r)
          spdlog::info("reconnecting through {} failed: {}", circuit.to_string(),
                       r.error().message());
      },
      net::asio::detached);
}

void path_manager::on_identified(const net::connection_ptr& c, const identify_info& info) {
  // Over a relay the peer sees the relay's end of the circuit, not us.
  if (c->relayed || !info.observed_addr) return;
  (void)observed_.record(c->remote_peer, *info.observed_addr, steady_clock::now());
  announce();
}

void path_manager::announce() {
  auto confirmed = observed_.confirmed(steady_clock::now());
  if (confirmed == announced_) return;
  spdlog::info("confirmed public addresses: {}", join(confirmed));
  announced_ = confirmed;
  host_.set_observed_announce(std::move(confirmed));
  identify_.push_all();
}

void path_manager::on_outcome(const punch_outcome& o) {
  auto& rec = state(o.peer).rec;
  if (o.role == punch_role::responder) {  // B's runs count in start_upgrade
    ++rec.attempts;
    ++totals_.attempts;
  }
  if (o.conn) {
    if (o.role == punch_role::responder) {
      ++rec.successes;
      ++totals_.successes;
      rec.last_error.clear();
    }
  } else if (o.role == punch_role::responder) {
    ++totals_.failures;
    rec.last_error = o.conn.error().message();
  }
  refresh(o.peer);
}

void path_manager::start_upgrade(const net::connection_ptr& relayed) {
  // Without a TCP listener the peer's SYN has nowhere to land and our own
  // dials would not leave from a mapped port: nothing to try.
  if (!cfg_.hole_punch || !host_.listens_on_tcp()) return;
  const auto peer = relayed->remote_peer;
  state(peer).rec.punch_started();
  ++totals_.attempts;
  auto alive = alive_;
  net::asio::co_spawn(
      host_.get_executor(),
      [this, relayed, peer, alive]() -> net::awaitable<void> {
        const auto started = steady_clock::now();
        auto r = co_await dcutr_->upgrade(relayed);
        if (!*alive) co_return;
        std::string method = "dcutr";
        // DCUtR cannot cross a hard (symmetric) NAT facing an easy one; two
        // peerup nodes then try the birthday punch (it says itself when
        // the NAT kinds do not call for it).
        if (!r && birthday_ && relayed->is_open() && supports(peer, birthday_protocol)) {
          auto b = co_await birthday_->run(relayed);
          if (!*alive) co_return;
          if (b) {
            spdlog::info("direct connection to {} via {} after {} ms (birthday hole punch, "
                         "initiator)",
                         peer.to_string(), (*b)->remote_addr.to_string(),
                         std::chrono::duration_cast<std::chrono::milliseconds>(
                             steady_clock::now() - started)
                             .count());
            r = std::move(b);
            method = "birthday";
          } else if (b.error() != make_error_code(errc::birthday_unsuitable)) {
            spdlog::info("birthday hole punch to {} failed: {}", peer.to_string(),
                         b.error().message());
          }
        }
        auto& rec = state(peer).rec;
        if (r) {
          rec.method = method;
          rec.punch_succeeded();
          ++totals_.successes;
        } else {
          rec.punch_failed(r.error().message(), steady_clock::now());
          ++totals_.failures;
        }
        refresh(peer);
      },
      net::asio::detached);
}

bool path_manager::heard_on_direct_since(const std::vector<net::connection_ptr>& conns,
                                         steady_clock::time_point since) {
  bool heard = false;
  for (const auto& d : conns) {
    if (d->relayed || !d->is_open()) continue;
    if (d->mux->last_received() > since) {
      heard = true;
    } else {
      d->mux->check_alive();  // answers (and we close the relayed one) or fails
    }
  }
  return heard;
}

void path_manager::sweep() {
  const auto now = steady_clock::now();
  for (auto& [peer, st] : peers_) {
    const auto conns = host_.connections(peer);
    bool direct = false, busy = false;
    for (const auto& c : conns)
      if (!c->relayed) {
        direct = true;
        busy = busy || c->mux->stream_count() > 0;
      }
    st.direct_busy = busy;
    if (direct && now - st.direct_since >= cfg_.relayed_idle_grace) {
      for (const auto& c : conns) {
        if (!c->relayed || c->mux->stream_count() > 0) continue;
        // A peer that dials us through the relay while we hold a direct
        // connection may know that path is dead (its NAT mapping went away,
        // which we cannot see until we send). Keep the relayed connection
        // until the direct one has proven itself since then.
        if (!heard_on_direct_since(conns, c->opened)) continue;
        spdlog::debug("closing idle relayed connection to {}: direct path is up", peer.to_string());
        c->mux->close();
      }
    }
    // Two direct paths (a hole punch that won on both transports, or a TCP
    // dial that finished after QUIC): new streams take QUIC (connections()
    // lists it first), so an idle TCP connection beside an open QUIC one only
    // costs keepalives and a NAT mapping. DCUtR closes it when it picks QUIC,
    // but identify may still hold a stream on it then; the sweep finishes it.
    const bool quic_up = std::any_of(conns.begin(), conns.end(), [](const auto& c) {
      return !c->relayed && c->is_open() && c->transport() == "quic";
    });
    if (quic_up) {
      for (const auto& c : conns) {
        if (c->relayed || c->transport() != "tcp" || c->mux->stream_count() > 0) continue;
        if (now - c->opened < cfg_.relayed_idle_grace) continue;
        spdlog::debug("closing idle TCP connection to {}: a QUIC path is up", peer.to_string());
        c->mux->close();
      }
    }
    if (direct || !st.rec.upgrade_due(now) || !supports(peer, dcutr_protocol)) continue;
    for (const auto& c : conns) {
      if (c->relayed && c->dir == net::direction::inbound) {
        start_upgrade(c);
        break;
      }
    }
  }
  if (observed_.expire(now) > 0) announce();
}

net::awaitable<void> path_manager::sweep_loop() {
  auto alive = alive_;
  while (*alive && running_) {
    sweep_timer_->expires_after(cfg_.sweep_interval);
    co_await sweep_timer_->async_wait(net::use_nothrow);
    if (!*alive || !running_) co_return;
    sweep();
  }
}

net::awaitable<void> path_manager::ask_autonat() {
  auto alive = alive_;
  if (!host_.listens_on_tcp()) co_return;  // nothing anyone could dial back
  std::vector<net::connection_ptr> servers;
  for (const auto& c : host_.all_connections())
    if (!c->relayed && supports(c->remote_peer, autonat_protocol)) servers.push_back(c);
  if (servers.empty()) co_return;
  auto addrs = observed_.candidates(steady_clock::now());
  if (addrs.empty()) co_return;
  const auto server = servers[autonat_next_++ % servers.size()];
  auto answer = co_await autonat_ask(host_, server, addrs);
  if (!*alive) co_return;
  if (!answer) {
    spdlog::debug("autonat: asking {} failed: {}", server->remote_peer.to_string(),
                  answer.error().message());
    co_return;
  }
  if (reach_.record(answer->verdict))
    spdlog::info("reachability: {} (AutoNAT via {})", to_string(reach_.status()),
                 server->remote_peer.to_string());
  if (answer->verdict == autonat_verdict::reachable && answer->addr &&
      observed_.record_dialable(*answer->addr, steady_clock::now()))
    announce();
}

net::awaitable<void> path_manager::autonat_loop() {
  auto alive = alive_;
  auto delay = cfg_.autonat_first;
  while (*alive && running_) {
    autonat_timer_->expires_after(delay);
    co_await autonat_timer_->async_wait(net::use_nothrow);
    if (!*alive || !running_) co_return;
    co_await ask_autonat();
    if (!*alive) co_return;
    delay = reach_.status() == reachability::unknown ? cfg_.autonat_retry : cfg_.autonat_interval;
  }
}

}  // namespace peerup::protocols
