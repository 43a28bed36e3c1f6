// peerup relay serve | authorize | deauthorize | list-peers: the relay side,
// meant for a small VPS (docs/relay.md).
#include <spdlog/spdlog.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include <algorithm>
#include <iostream>
#include <set>

#include "cli/commands.hpp"
#include "cli/runtime.hpp"
#include "config/authorized_keys.hpp"
#include "config/federation_file.hpp"
#include "config/file_write.hpp"
#include "config/identity_file.hpp"
#include "config/listen_addr.hpp"
#include "config/relay_config.hpp"
#include "control/metrics.hpp"
#include "control/server.hpp"
#include "control/systemd_notify.hpp"
#include "net/host.hpp"
#include "node/invite_store.hpp"
#include "node/status.hpp"
#include "protocols/autonat.hpp"
#include "protocols/identify.hpp"
#include "protocols/kad.hpp"
#include "protocols/federation.hpp"
#include "protocols/names.hpp"
#include "protocols/pairing.hpp"
#include "protocols/ping.hpp"
#include "protocols/relay_invite.hpp"
#include "protocols/rendezvous.hpp"
#include "protocols/relay_server.hpp"

namespace peerup::cli {

namespace {

namespace fs = std::filesystem;
namespace wire_relay_invite = ::peerup::relay_invite;

struct relay_flags {
  std::string config;
  std::string dir;  // no default: a relay command never guesses "."
  std::vector<std::string> listen;
  std::string key;
  bool open = false;
  std::string network;  // serve /peerup/names/1.0.0 for this network
  std::string metrics;  // IP:port for /metrics, empty: none
};

app::relay_config resolve(const relay_flags& f) {
  // Guessing the current folder made `relay authorize` write a stray
  // ./authorized_keys that the relay never read.
  if (f.config.empty() && f.dir.empty())
    throw std::invalid_argument(
        "give the relay's files: --dir <folder> (identity.key, authorized_keys) or --config "
        "<relay.yaml>; create them with: peerup relay init --dir <folder>");
  auto cfg = f.config.empty() ? app::default_relay_config(f.dir) : app::load_relay_config(f.config);
  for (const auto& l : f.listen) {
    auto a = multiaddr::parse(l);
    if (!a || !app::is_listen_addr(*a))
      throw std::invalid_argument(std::string("--listen: expected a multiaddr such as ") +
                                  app::listen_addr_example + ", got \"" + l + "\"");
    if (&l == &f.listen.front()) cfg.listen.clear();
    cfg.listen.push_back(*a);
  }
  if (cfg.listen.empty()) {
    cfg.listen.push_back(*multiaddr::parse("/ip4/0.0.0.0/tcp/4001"));
    cfg.listen.push_back(*multiaddr::parse("/ip6/::/tcp/4001"));
    cfg.listen.push_back(*multiaddr::parse("/ip4/0.0.0.0/udp/4001/quic-v1"));
    cfg.listen.push_back(*multiaddr::parse("/ip6/::/udp/4001/quic-v1"));
  }
  if (!f.key.empty()) cfg.identity_key = f.key;
  if (f.open) cfg.open = true;
  if (!f.network.empty()) {
    auto label = wire::dns_label::parse(f.network);
    if (!label)
      throw std::invalid_argument(
          "--network: expected a DNS label (1-63 letters, digits or inner '-'), got \"" +
          f.network + "\"");
    cfg.names_network = label->str();
  }
  return cfg;
}

const char* const relay_authorized_keys_header =
    "# Peers allowed to reserve on this relay and to open circuits through it: one peer ID per\n"
    "# line. Manage with: peerup relay authorize|deauthorize|list-peers --dir <this folder>.\n"
    "# No group or other access (chmod 600).\n";

// The relay's authorized_keys marks rights with service= names: "invite"
// lets a peer ask for invites for its devices; "relay" is reserving and
// connecting only. An entry without service= has both.
constexpr std::string_view sponsor_right = "invite";
constexpr std::string_view relay_only_right = "relay";

std::int64_t unix_seconds() { return static_cast<std::int64_t>(app::unix_now()); }

fs::path relay_invites_file(const app::relay_config& cfg) {
  return app::invites_file_path(cfg.authorized_keys.parent_path());
}

// The relay's authorized peers, re-read when the file changes.
class authorized_set {
 public:
  // Throws when the file is unusable at start (mode, owner, unreadable): a
  // relay that serves nobody must not look as if it started, as the daemon.
  explicit authorized_set(fs::path file) : file_(std::move(file)) {
    std::error_code ec;
    if (fs::exists(file_, ec)) app::check_private_file_mode(file_, "authorized_keys");
    reload();
  }

  bool contains(const peer_id& p) {
    maybe_reload();
    return peers_.contains(p);
  }
  // May ask for invites for its devices (relay_invite.hpp): an entry with no
  // service= option, or one naming "invite". `relay authorize --no-invite`
  // writes service=relay.
  bool is_sponsor(const peer_id& p) {
    maybe_reload();
    return sponsors_.contains(p);
  }
  std::size_t size() const { return peers_.size(); }
  // After the relay itself wrote the file (a pairing): no 2 s delay.
  void reload_now() { reload(); }

 private:
  void maybe_reload() {
    const auto now = net::steady_clock::now();
    if (now - last_check_ < std::chrono::seconds(2)) return;
    last_check_ = now;
    std::error_code ec;
    const auto mtime = fs::last_write_time(file_, ec);
    if (!ec && mtime != mtime_) reload();
  }
  void reload() {
    std::error_code ec;
    if (!fs::exists(file_, ec)) {
      peers_.clear();
      return;
    }
    try {
      app::check_private_file_mode(file_, "authorized_keys");
      auto parsed = app::parse_authorized_keys(
          app::read_small_file(file_, app::authorized_keys_limits::max_file_size));
      for (const auto& p : parsed.problems)
        spdlog::warn("{}:{}: {}", file_.string(), p.line, p.message);
      std::set<peer_id> fresh, sponsors;
      const auto invite = *app::service_name::parse(std::string(sponsor_right));
      for (const auto& e : parsed.entries) {
        fresh.insert(e.peer);
        if (e.allows(invite)) sponsors.insert(e.peer);
      }
      peers_ = std::move(fresh);
      sponsors_ = std::move(sponsors);
      mtime_ = fs::last_write_time(file_, ec);
      spdlog::info("relay: {} authorized peers from {}", peers_.size(), file_.string());
    } catch (const std::exception& e) {
      // Keep the last good set: a broken edit must not lock everyone out.
      spdlog::error("relay: keeping previous authorized peers: {}", e.what());
    }
  }

  fs::path file_;
  std::set<peer_id> peers_, sponsors_;
  fs::file_time_type mtime_{};
  net::steady_clock::time_point last_check_ = net::steady_clock::now();
};

// The relay's counters as Prometheus families (docs/operations.md).
std::string relay_metrics(net::host& h, const protocols::relay_server& server,
                          const authorized_set& authorized) {
  control::metrics_registry m;
  using mt = control::metric_type;
  m.declare("peerup_relay_up", mt::gauge, "1 while the relay runs");
  m.declare("peerup_relay_reservations", mt::gauge, "Live reservations");
  m.declare("peerup_relay_circuits", mt::gauge, "Live circuits");
  m.declare("peerup_relay_circuits_total", mt::counter, "Circuits bridged since start");
  m.declare("peerup_relay_bytes_total", mt::counter,
            "Bytes relayed, both directions, finished circuits included");
  m.declare("peerup_relay_reservation_rate_limit_bytes", mt::gauge,
            "limits.reservation_rate: bytes/s each way per reservation (0: unlimited)");
  m.declare("peerup_relay_throttled_seconds_total", mt::counter,
            "Time circuits waited on reservation rate limits, summed over circuits");
  m.declare("peerup_relay_connections", mt::gauge, "Open connections", {"transport"});
  m.declare("peerup_relay_authorized_peers", mt::gauge, "Peers in the relay's authorized_keys");
  m.declare("peerup_resource_refusals_total", mt::counter,
            "Connections, streams or memory the resource manager refused, by limit", {"limit"});
  const auto st = server.stats();
  m.set("peerup_relay_up", 1);
  m.set("peerup_relay_reservations", static_cast<double>(st.reservations));
  m.set("peerup_relay_circuits", static_cast<double>(st.circuits));
  m.set("peerup_relay_circuits_total", static_cast<double>(st.circuits_total));
  m.set("peerup_relay_bytes_total", static_cast<double>(st.bytes_relayed));
  m.set("peerup_relay_reservation_rate_limit_bytes", static_cast<double>(st.rate_limit));
  m.set("peerup_relay_throttled_seconds_total", st.throttled_seconds);
  for (std::string_view t : {"tcp", "quic"}) m.set("peerup_relay_connections", 0, {std::string(t)});
  for (const auto& c : h.all_connections())
    m.add("peerup_relay_connections", 1, {std::string(c->transport())});
  m.set("peerup_relay_authorized_peers", static_cast<double>(authorized.size()));
  for (std::size_t i = 0; i < net::resource_limit_count; ++i) {
    const auto l = static_cast<net::resource_limit>(i);
    m.set("peerup_resource_refusals_total", static_cast<double>(h.resources().refusals(l)),
          {std::string(net::to_string(l))});
  }
  return m.render();
}

// Re-reads relay.yaml within 2 s of a change and applies its federation:
// section, so `peerup relay federation add|remove` (or an edit) takes effect
// with no restart. A broken edit keeps the running peerings and logs why.
// `alive` turns false before the service goes away.
// Each peering's state, for `peerup relay federation list`.
app::federation_status_file federation_status_of(const protocols::federation_service& fed) {
  app::federation_status_file out;
  const auto unix_now = static_cast<std::uint64_t>(unix_seconds());
  const auto steady_now = net::steady_clock::now();
  out.written_unix = unix_now;
  for (const auto& p : fed.state().peerings()) {
    app::federation_peer_status line{.network = p.network, .trust = p.trust};
    line.relay = p.relay.to_string();
    if (auto st = fed.state().status(p.network)) {
      using state = app::federation_peer_status::state;
      line.st = st->up ? state::up : (st->last_ok || !st->last_error.empty()) ? state::down
                                                                               : state::unknown;
      if (st->last_ok) {
        const auto ago = std::chrono::duration_cast<std::chrono::seconds>(steady_now - *st->last_ok);
        line.last_ok_unix = unix_now - std::min<std::uint64_t>(unix_now, ago.count());
      }
      line.names_known = st->names_known;
      if (!st->up) line.last_error = st->last_error;
    }
    out.peers.push_back(std::move(line));
  }
  return out;
}

net::awaitable<void> watch_federation(fs::path file, protocols::federation_service& fed,
                                      std::shared_ptr<bool> alive) {
  auto ex = co_await net::asio::this_coro::executor;
  net::asio::steady_timer timer(ex);
  std::error_code ec;
  auto seen = fs::last_write_time(file, ec);
  const auto status_file = file.parent_path() / app::federation_status_name;
  for (;;) {
    timer.expires_after(std::chrono::seconds(2));
    auto [wait_ec] = co_await timer.async_wait(net::use_nothrow);
    if (wait_ec || !*alive) co_return;
    const auto mtime = fs::last_write_time(file, ec);
    if (!ec && mtime != seen) {
      seen = mtime;
      try {
        const auto cfg = app::load_relay_config(file);
        std::string why;
        if (!fed.set_peerings(cfg.federation_peers, &why))
          spdlog::error("relay: keeping the previous federation peerings: {}", why);
      } catch (const std::exception& e) {
        spdlog::error("relay: keeping the previous federation peerings: {}", e.what());
      }
    }
    // After the reload, so `federation list` shows an edit 2 s later.
    try {
      app::replace_file(status_file, app::render_federation_status(federation_status_of(fed)),
                        {.new_mode = 0644, .durable = false});
    } catch (const std::exception& e) {
      spdlog::warn("relay: cannot write {}: {}", status_file.string(), e.what());
    }
  }
}

// The relay server's is_federated hook. By value: the hook's coroutine is
// not awaited in the expression that creates it.
net::awaitable<bool> federated_member(protocols::federation_service* fed,
                                      std::shared_ptr<bool> alive, peer_id p, std::string ip) {
  if (!*alive) co_return false;
  auto network = co_await fed->foreign_member(std::move(p), std::move(ip));
  co_return *alive && network.has_value();
}

// asio's epoll reactor keeps the state of every socket ever open at once
// (168 B each) on a free list for reuse until the io_context ends. Made one
// at a time as peers arrive, those states end up scattered over the heap,
// and after a crowd leaves each pins a 4 KiB page that malloc_trim cannot
// give back (benchmarks.md, "Memory after the peers leave"). Made here, side
// by side, before the first peer, the sockets of max_connections peers pin
// a few pages instead. Returns how many were made.
// Costs 168 B per socket from the start (1.3 MiB for 11,000 measured) and
// about 20 us each at start-up (0.2 s for 11,256 measured).
// SECURITY: at most max_connections, at most max_prepared_sockets (22 MiB;
// relay.yaml allows a million connections) and what the fd limit leaves
// free (the sockets are closed again at once).
constexpr std::size_t max_prepared_sockets = 131072;
std::size_t prepare_socket_states(const net::asio::any_io_executor& ex, std::size_t wanted) {
  rlimit fds{};
  getrlimit(RLIMIT_NOFILE, &fds);
  constexpr std::size_t spare_fds = 256;
  const std::size_t room = fds.rlim_cur > spare_fds ? fds.rlim_cur - spare_fds : 0;
  const std::size_t n = std::min({wanted, room, max_prepared_sockets});
  std::vector<net::tcp::socket> sockets;
  sockets.reserve(n);
  for (std::size_t i = 0; i < n; ++i) {
    net::tcp::socket s(ex);
    net::error_code ec;
    s.open(net::tcp::v4(), ec);
    if (ec) break;
    sockets.push_back(std::move(s));
  }
  return sockets.size();  // all closed here: their states go to the reactor's free list
}

net::awaitable<int> serve(app::relay_config cfg, std::string metrics_addr) {
  auto ex = co_await net::asio::this_coro::executor;
  auto key = app::load_identity(cfg.identity_key);
  authorized_set authorized(cfg.authorized_keys);
  // Sealed invites for short codes (wire/rendezvous.hpp), in memory: a
  // restart loses them, and the full code still works.
  rendezvous::store invite_boxes;
  if (!cfg.open && authorized.size() == 0)
    spdlog::warn(
        "relay: no authorized peers in {}: nobody can reserve (add some with: peerup relay "
        "authorize <peer-id>)",
        cfg.authorized_keys.string());
  net::host h(ex,
              net::host_config{.identity = key, .listen = cfg.listen, .limits = cfg.host_limits});
  protocols::identify_service identify(h);
  protocols::install_ping(h);
  protocols::relay_server server(
      h, {.limits = cfg.limits,
          .access = cfg.open ? wire::relay_access::open : wire::relay_access::closed,
          .is_authorized = [&authorized](const peer_id& p) { return authorized.contains(p); }});
  // AutoNAT v1 for the peers the relay serves: dial-backs to the requester's
  // own IP only, rate limited. PEERUP_HOLEPUNCH_LOOPBACK=1 allows loopback
  // targets (tests on one machine).
  const char* loopback_env = std::getenv("PEERUP_HOLEPUNCH_LOOPBACK");
  protocols::autonat_server_config autonat_cfg{
      .may_ask = [&authorized, open = cfg.open](const peer_id& p) {
        return open || authorized.contains(p);
      }};
  autonat_cfg.limits.policy = {
      .allow_private = true,
      .allow_loopback = loopback_env && std::string_view(loopback_env) == "1"};
  protocols::autonat_server autonat(h, std::move(autonat_cfg));
  // The DHT (docs/dht.md): a relay is always a server. A closed relay
  // answers its authorized peers and its bootstrap peers (the other relays)
  // only, unless dht.open says everyone.
  std::optional<protocols::kad_node> dht;
  if (cfg.dht.enabled) {
    std::set<peer_id> dht_peers;
    for (const auto& b : cfg.dht.bootstrap) dht_peers.insert(*b.peer());
    protocols::kad_config kc;
    kc.protocol = cfg.dht.protocol;
    kc.server = true;
    kc.may_query = [&authorized, open = cfg.dht_open(), dht_peers](const peer_id& p) {
      return open || authorized.contains(p) || dht_peers.count(p) != 0;
    };
    dht.emplace(h, std::move(kc));
    for (const auto& b : cfg.dht.bootstrap) dht->add_bootstrap(*b.peer(), {b.without_peer()});
    // Relay discovery: `peerup dht providers /peerup/relays` finds us.
    dht->provide_always(dht::namespace_key(dht::relay_namespace));
    spdlog::info("relay: DHT server on {} ({}), {} bootstrap peers", cfg.dht.protocol,
                 cfg.dht_open() ? "answers everyone" : "answers authorized and bootstrap peers",
                 cfg.dht.bootstrap.size());
  }
  // Names are for authorized peers only, also on an open relay.
  std::optional<protocols::names_server> names;
  if (cfg.names_network) {
    names.emplace(h, protocols::names_server_config{
                         wire::dns_label::parse(*cfg.names_network).value(), cfg.names_limits,
                         [&authorized](const peer_id& p) { return authorized.contains(p); }});
    spdlog::info("relay: serving names <host>.{} to authorized peers (TTL {}-{} s)",
                 *cfg.names_network, cfg.names_limits.min_ttl.count(),
                 cfg.names_limits.max_ttl.count());
  }
  // Federation (docs/federation.md): peer relays ask our names, our members
  // ask theirs. Started with the names service, also without peerings, so a
  // reload of relay.yaml can add the first one with no restart.
  std::optional<protocols::federation_service> federation;
  auto federation_alive = std::make_shared<bool>(true);
  if (names) {
    wire::federation_state fstate(wire::dns_label::parse(*cfg.names_network).value(),
                                  cfg.federation_limits);
    std::string why;
    if (!fstate.set_peerings(cfg.federation_peers, &why))
      throw std::runtime_error(cfg.file.string() + ": federation.peers: " + why);
    auto* registry_owner = &*names;
    federation.emplace(h, key, std::move(fstate),
                       [registry_owner](const wire::dns_label& host, net::steady_clock::time_point t) {
                         return registry_owner->lookup_local(host, t);
                       });
    names->set_federation(&*federation);
    // Connections across networks: peer relays ask whether a peer is ours
    // (authorized_keys), and we ask them about peers that CONNECT here.
    federation->set_member_check([&authorized](const peer_id& p) { return authorized.contains(p); });
    server.set_federated([fed = &*federation, alive = federation_alive](peer_id p, std::string ip) {
      return federated_member(fed, alive, std::move(p), std::move(ip));
    });
    // The forwarded path: our members' circuits to federated hosts go on to
    // the host's relay; peer relays' circuits for their members come in.
    protocols::relay_forwarding fwd;
    fwd.route = [fed = &*federation, alive = federation_alive](
                    const peer_id& target) -> std::optional<multiaddr> {
      if (!*alive) return std::nullopt;
      if (auto p = fed->forward_route(target)) return p->relay;
      return std::nullopt;
    };
    fwd.is_peer_relay = [fed = &*federation, alive = federation_alive](const peer_id& relay) {
      return *alive && fed->peering_network_of(relay).has_value();
    };
    const auto& fl = cfg.federation_limits;
    fwd.max_per_relay = fl.max_forwarded;
    if (fl.forwarded_duration.count() > 0 || fl.forwarded_data > 0) {
      wire::relay_limit cap;
      if (fl.forwarded_duration.count() > 0)
        cap.duration = static_cast<std::uint32_t>(fl.forwarded_duration.count());
      if (fl.forwarded_data > 0) cap.data = fl.forwarded_data;
      fwd.cap = cap;
    }
    server.set_forwarding(std::move(fwd));
    for (const auto& p : cfg.federation_peers)
      spdlog::info("relay: federated with network {} at {} ({})", p.network.str(),
                   p.relay.to_string(), wire::to_string(p.trust));
    if (!cfg.file.empty())
      net::asio::co_spawn(ex, watch_federation(cfg.file, *federation, federation_alive),
                            net::asio::detached);
  }
  // Pairing (`peerup relay invite`, and sponsors' invites with relay rights):
  // the relay is the CPace responder over <dir>/invites, and a paired peer
  // goes into authorized_keys with the rights the invite names.
  const auto invites = relay_invites_file(cfg);
  protocols::pairing_home_hooks pairing_hooks;
  const auto self = h.id();
  pairing_hooks.load = [invites, self](std::vector<pairing::invite_record>& out) {
    try {
      out = app::load_invites(invites, self);
      return true;
    } catch (const std::exception& e) {
      spdlog::error("relay: cannot read invites: {}", e.what());
      return false;
    }
  };
  pairing_hooks.save = [invites, self](const std::vector<pairing::invite_record>& records) {
    try {
      auto current = app::load_invites(invites, self);
      app::merge_attempt_state(current, records);
      app::save_invites(invites, current, unix_seconds());
    } catch (const std::exception& e) {
      spdlog::error("relay: cannot write {}: {}", invites.string(), e.what());
    }
  };
  pairing_hooks.relay = [self](const multiaddr& address) { return address.with_peer(self); };
  pairing_hooks.home_name = "relay";
  pairing_hooks.on_paired = [&authorized, file = cfg.authorized_keys](const pairing::paired& p) {
    try {
      app::authorized_key key{p.peer, {}, p.name, 0};
      for (const auto& r : p.services) key.services.push_back(*app::service_name::parse(r));
      const std::string current =
          fs::exists(file) ? app::read_small_file(file, app::authorized_keys_limits::max_file_size)
                           : std::string(relay_authorized_keys_header);
      app::write_private_file(file, app::upsert_authorized_key_checked(current, key));
      authorized.reload_now();
      spdlog::info("relay: paired {} ({}), verification {}; authorized in {}", p.peer.to_string(),
                   p.name, p.verification, file.string());
      return true;
    } catch (const std::exception& e) {
      spdlog::error("relay: cannot authorize {}: {}", p.peer.to_string(), e.what());
      return false;
    }
  };
  protocols::install_pairing(h, std::move(pairing_hooks));
  protocols::install_relay_invite(
      h, [&authorized, invites, self, listen = cfg.listen.front()](
             const peer_id& sponsor, const wire_relay_invite::request& req) {
        using wire_relay_invite::status;
        wire_relay_invite::response res;
        const auto now = unix_seconds();
        // SECURITY: only sponsors, at most 7 days ahead, within the store's bound.
        if (!authorized.is_sponsor(sponsor)) {
          res.code = status::not_sponsor;
          return res;
        }
        if (req.expires_unix <= now || req.expires_unix > now + 7 * 86400) {
          res.code = status::bad_request;
          return res;
        }
        try {
          auto records = app::load_invites(invites, self);
          std::erase_if(records, [&](const auto& r) { return r.expires_unix + 86400 < now; });
          if (records.size() >= app::invite_store_limits::max_invites) {
            res.code = status::too_many;
            return res;
          }
          // The device gets relay rights only: it cannot invite in turn.
          auto rec = app::make_invite(records, self, listen, req.expires_unix, req.device_name,
                                      {std::string(relay_only_right)});
          records.push_back(rec);
          app::save_invites(invites, records, now);
          res.id = rec.data.id;
          res.secret = rec.data.secret;
          spdlog::info("relay: invite for a device \"{}\" of {} until {}", req.device_name,
                       sponsor.to_string(), req.expires_unix);
        } catch (const std::exception& e) {
          spdlog::error("relay: cannot store an invite: {}", e.what());
          res.code = status::unavailable;
        }
        return res;
      });
  protocols::install_rendezvous(
      h, invite_boxes,
      {.may_put = [&authorized, open = cfg.open](const peer_id& p) {
         return open || authorized.contains(p);
       },
       .now_unix = [] { return unix_seconds(); }});
  const auto prepared = prepare_socket_states(ex, cfg.host_limits.max_connections);
  spdlog::debug("relay: reactor state of {} sockets made up front", prepared);
  h.start();
  std::cout << "peerup relay " << h.id().to_string()
            << (cfg.open ? " (open)" : " (authorized peers only)") << "\n";
  for (const auto& a : h.full_addrs()) std::cout << a.to_string() << "\n";
  std::cout.flush();
  if (dht) dht->start(cfg.dht.refresh_interval);
  std::optional<control::metrics_listener> metrics;
  if (!metrics_addr.empty()) {
    auto hp = app::host_port::parse(metrics_addr);
    boost::system::error_code ec;
    const auto ip = hp ? net::asio::ip::make_address(hp->host, ec) : net::asio::ip::address{};
    if (!hp || ec)
      throw std::invalid_argument("--metrics: expected an IP address and port such as "
                                  "127.0.0.1:9464, got \"" + metrics_addr + "\"");
    metrics.emplace(ex, net::tcp::endpoint(ip, hp->port),
                    [&] { return relay_metrics(h, server, authorized); });
    std::cout << "metrics " << metrics->local_endpoint().address().to_string() << ":"
              << metrics->local_endpoint().port() << std::endl;
  }
  control::systemd_notifier notify(ex);
  notify.ready("relaying for " + std::to_string(authorized.size()) + " authorized peers" +
               (cfg.open ? " (open)" : ""));
  co_await wait_for_signal();
  notify.stopping();
  const auto st = server.stats();
  spdlog::info("relay: stopping; {} circuits bridged, {} bytes relayed", st.circuits_total,
               st.bytes_relayed);
  *federation_alive = false;
  if (federation && !cfg.file.empty()) {
    std::error_code rm_ec;
    fs::remove(cfg.file.parent_path() / app::federation_status_name, rm_ec);
  }
  if (dht) dht->stop();
  h.stop();
  co_return 0;
}

fs::path authorized_keys_path(const relay_flags& f) { return resolve(f).authorized_keys; }

void add_location_flags(CLI::App* cmd, relay_flags& f) {
  cmd->add_option("--config", f.config, "relay.yaml (peerup relay init writes one)");
  cmd->add_option("--dir", f.dir,
                  "directory with identity.key and authorized_keys (one of --dir, --config is "
                  "required)");
}

// peerup relay init --dir DIR: the relay's own files, with a relay.yaml that
// peerup relay federation add|remove|list (docs/federation.md): edits
// relay.yaml's federation.peers (a running relay applies it within 2 s) and
// shows each peering's state from the status file the running relay writes
// next to relay.yaml, or the configured peerings when it is not running.
fs::path federation_yaml(const relay_flags& f) {
  if (!f.config.empty()) return f.config;
  if (f.dir.empty())
    throw std::invalid_argument(
        "give the relay's files: --dir <folder> (with relay.yaml) or --config <relay.yaml>");
  return fs::path(f.dir) / "relay.yaml";
}

std::string read_relay_yaml(const fs::path& file) {
  if (!fs::exists(file))
    throw std::runtime_error(file.string() +
                             ": no relay.yaml (create one with: peerup relay init --dir <folder> "
                             "--network <name>)");
  return app::read_small_file(file, 64 * 1024);
}

wire::dns_label network_arg(const std::string& text) {
  auto label = wire::dns_label::parse(text);
  if (!label)
    throw std::invalid_argument(
        "network: expected a DNS label (1-63 letters, digits or inner '-'), got \"" + text +
        "\"");
  return *label;
}

// A status file older than this is from a relay that stopped without
// removing it (the relay rewrites it every 2 s).
constexpr std::uint64_t federation_status_max_age = 10;

void print_federation_list(const fs::path& yaml) {
  const auto cfg = app::load_relay_config(yaml);
  const auto status_path = yaml.parent_path() / app::federation_status_name;
  std::optional<app::federation_status_file> live;
  std::string why_not;
  if (fs::exists(status_path)) {
    try {
      live = app::parse_federation_status(
          app::read_small_file(status_path, app::federation_status_max_size),
          status_path.string());
      const auto now = static_cast<std::uint64_t>(unix_seconds());
      if (live->written_unix + federation_status_max_age < now) {
        why_not = status_path.string() + " is " + std::to_string(now - live->written_unix) +
                  " s old";
        live.reset();
      }
    } catch (const std::exception& e) {
      why_not = e.what();
    }
  } else {
    why_not = "no " + status_path.string();
  }
  if (live) {
    std::cout << "relay running; federation of network " << cfg.names_network.value_or("-")
              << ": " << live->peers.size() << " peerings\n";
    for (const auto& p : live->peers) {
      std::cout << p.network.str() << "  " << wire::to_string(p.trust) << "  "
                << app::to_string(p.st) << "  last refresh "
                << (p.last_ok_unix ? std::to_string(live->written_unix - std::min(live->written_unix,
                                                                                  *p.last_ok_unix)) +
                                         " s ago"
                                   : std::string("never"))
                << "  names known " << p.names_known << "  " << p.relay;
      if (!p.last_error.empty()) std::cout << "  (" << p.last_error << ")";
      std::cout << "\n";
    }
    return;
  }
  std::cout << "relay not running (" << why_not << "); configured in " << yaml.string() << ": "
            << cfg.federation_peers.size() << " peerings\n";
  for (const auto& p : cfg.federation_peers)
    std::cout << p.network.str() << "  " << wire::to_string(p.trust) << "  "
              << p.relay.to_string() << "\n";
}

void add_relay_federation_command(CLI::App& relay) {
  auto* fed = relay.add_subcommand(
      "federation", "peer this relay's network with other networks' relays (docs/federation.md)");
  fed->require_subcommand(1);
  struct options {
    relay_flags flags;
    std::string network, relay_addr, trust = "full";
  };
  auto o = std::make_shared<options>();
  auto locate = [o](CLI::App* c) {
    c->add_option("--dir", o->flags.dir, "the relay's folder (with relay.yaml)");
    c->add_option("--config", o->flags.config, "the relay's relay.yaml");
  };
  auto* add = fed->add_subcommand(
      "add", "add a peering to relay.yaml (a running relay applies it within 2 s)");
  locate(add);
  add->add_option("network", o->network, "the peer relay's network, e.g. bob")->required();
  add->add_option("relay", o->relay_addr,
                  "the peer relay's multiaddr ending in /p2p/<peer-id>")->required();
  add->add_option("--trust", o->trust,
                  "full (both ways) or one_way (their members reach our hosts, never the "
                  "reverse); default full");
  add->callback([o] {
    const auto yaml = federation_yaml(o->flags);
    const auto network = network_arg(o->network);
    auto addr = multiaddr::parse(o->relay_addr);
    if (!addr || !addr->peer() || addr->is_relayed())
      throw std::invalid_argument(
          "relay: expected the peer relay's multiaddr ending in /p2p/<peer-id>, such as "
          "/ip4/198.51.100.9/tcp/4001/p2p/12D3KooW..., got \"" + o->relay_addr + "\"");
    auto trust = wire::parse_federation_trust(o->trust);
    if (!trust)
      throw std::invalid_argument("--trust: expected full or one_way, got \"" + o->trust + "\"");
    auto peering = wire::federation_peering::make(network, *addr, *trust).value();
    const auto text = app::add_federation_peer(read_relay_yaml(yaml), yaml.string(), peering);
    app::replace_file(yaml, text);
    std::cout << "federated with network " << network.str() << " at " << addr->to_string()
              << " (" << wire::to_string(*trust) << ") in " << yaml.string() << "\n";
  });
  auto* remove = fed->add_subcommand(
      "remove", "remove a peering from relay.yaml (a running relay applies it within 2 s)");
  locate(remove);
  remove->add_option("network", o->network, "the peer relay's network")->required();
  remove->callback([o] {
    const auto yaml = federation_yaml(o->flags);
    const auto network = network_arg(o->network);
    const auto text = app::remove_federation_peer(read_relay_yaml(yaml), yaml.string(), network);
    app::replace_file(yaml, text);
    std::cout << "removed the peering with network " << network.str() << " from "
              << yaml.string() << "\n";
  });
  auto* list = fed->add_subcommand(
      "list", "each peering's state (up/down, last refresh, names known) from the running relay");
  locate(list);
  list->callback([o] { print_federation_list(federation_yaml(o->flags)); });
}

// `relay serve --config` accepts (`peerup init` makes a home node instead).
void add_relay_init_command(CLI::App& relay) {
  struct options {
    std::string dir, network;
    bool force = false;
  };
  auto o = std::make_shared<options>();
  auto* init = relay.add_subcommand(
      "init", "create a relay's identity.key, authorized_keys and relay.yaml; print its peer ID");
  init->add_option("--dir", o->dir, "the relay's folder, e.g. /var/lib/peerup-relay")->required();
  init->add_option("--network", o->network, "also serve <host>.<network> names (names.network)");
  init->add_flag("--force", o->force, "overwrite an existing identity.key and relay.yaml");
  init->callback([o] {
    const fs::path dir = o->dir;
    if (!o->network.empty() && !wire::dns_label::parse(o->network))
      throw std::invalid_argument(
          "--network: expected a DNS label (1-63 letters, digits or inner '-'), got \"" +
          o->network + "\"");
    const auto key = dir / "identity.key", yaml = dir / "relay.yaml",
               keys = dir / "authorized_keys";
    if (!o->force)
      for (const auto& p : {key, yaml})
        if (fs::exists(p))
          throw std::runtime_error(p.string() +
                                   " already exists; refusing to overwrite it (use --force)");
    fs::create_directories(dir);
    ::chmod(dir.c_str(), 0700);
    auto id = private_key::generate();
    app::save_identity(key, id, o->force);
    app::replace_file(yaml, app::default_relay_yaml(o->network));
    // authorized_keys holds decisions already made: never clobber it.
    if (!fs::exists(keys)) app::write_private_file(keys, relay_authorized_keys_header);
    std::cout << id.to_peer_id().to_string() << std::endl;
    std::cerr << "created " << key.string() << ", " << keys.string() << " and " << yaml.string()
              << " (mode 0600); start with: peerup relay serve --config " << yaml.string() << "\n";
  });
}

// peerup relay invite: a code with which a node (a home node, usually)
// pairs with this relay and is authorized on it, so the operator never
// copies a peer ID. The running relay serves it from <dir>/invites.
void add_relay_invite_command(CLI::App& relay, const std::shared_ptr<relay_flags>& flags) {
  struct options {
    std::string address, name = "node", expires = "1h";
    bool no_invite = false;
  };
  auto o = std::make_shared<options>();
  auto* cmd = relay.add_subcommand(
      "invite", "print a code with which a node pairs with this relay and is authorized on it");
  add_location_flags(cmd, *flags);
  cmd->add_option("--address", o->address,
                  "the relay's public address as nodes dial it, e.g. /ip4/203.0.113.7/tcp/4001")
      ->required();
  cmd->add_option("--name", o->name, "the node's name (its authorized_keys comment)");
  cmd->add_option("--expires", o->expires,
                  "how long the code is valid: 90s, 10m, 2h, 1d (default 1h)");
  cmd->add_flag("--no-invite", o->no_invite,
                "the node may not invite its own devices onto the relay (service=relay)");
  cmd->callback([flags, o] {
    const auto cfg = resolve(*flags);
    auto address = multiaddr::parse(o->address);
    if (!address || address->peer())
      throw std::invalid_argument(
          "--address: expected /ip4|ip6|dns/<host>/tcp/<port> without /p2p, got \"" + o->address +
          "\"");
    if (!pairing::valid_name(o->name) || !app::valid_name(o->name))
      throw std::invalid_argument("--name: \"" + o->name + "\" is not a valid name");
    const auto expires_in = parse_invite_duration(o->expires);
    const auto self = app::load_identity(cfg.identity_key).to_peer_id();
    const auto file = relay_invites_file(cfg);
    auto records = app::load_invites(file, self);
    const auto now = unix_seconds();
    std::erase_if(records, [&](const auto& r) { return r.expires_unix + 86400 < now; });
    if (records.size() >= app::invite_store_limits::max_invites)
      throw std::runtime_error("too many invites in " + file.string());
    std::vector<std::string> rights;
    if (o->no_invite) rights.emplace_back(relay_only_right);
    auto rec = app::make_invite(records, self, *address, now + expires_in, o->name, rights);
    std::string why;
    auto code = invite::encode_code(rec.data, &why);
    auto link = invite::encode_link(rec.data, &why);
    if (!code || !link) throw std::invalid_argument("--address: " + why);
    records.push_back(rec);
    app::save_invites(file, records, now);
    std::cout << "relay invite for \"" << o->name << "\", expires in " << o->expires
              << ", single use" << (o->no_invite ? "" : "; the node may invite its devices")
              << "\n\n  on the node:  peerup join " << *code << "\n\n  link: " << *link
              << "\n(the relay must be running: peerup relay serve)\n";
  });
}

}  // namespace

void add_relay_server_commands(CLI::App& app) {
  auto& relay = relay_group(app);
  auto flags = std::make_shared<relay_flags>();
  add_relay_init_command(relay);

  auto* serve_cmd = relay.add_subcommand(
      "serve", "run a relay (for a VPS): circuit relay v2 for authorized peers");
  add_location_flags(serve_cmd, *flags);
  serve_cmd->add_option("--listen", flags->listen,
                        "multiaddr to listen on (repeatable; default port 4001)");
  serve_cmd->add_option("--key", flags->key, "identity key file (overrides the config)");
  serve_cmd->add_option("--network", flags->network,
                        "serve <host>.<network> names for this network (overrides names.network)");
  serve_cmd->add_flag("--open", flags->open,
                      "public relay: anyone may reserve, with the open_* limits");
  serve_cmd->add_option("--metrics", flags->metrics,
                        "serve Prometheus /metrics on this IP:port, e.g. 127.0.0.1:9464");
  serve_cmd->callback([flags] {
    if (spdlog::get_level() == spdlog::level::warn) spdlog::set_level(spdlog::level::info);
    auto cfg = resolve(*flags);
    net::asio::io_context io;
    if (int rc = run_main([cfg, m = flags->metrics] { return serve(cfg, m); }, io); rc != 0)
      std::exit(rc);
  });

  auto peer_text = std::make_shared<std::string>();
  auto comment = std::make_shared<std::string>();
  auto no_invite = std::make_shared<bool>(false);
  auto* authorize = relay.add_subcommand(
      "authorize", "allow a peer to reserve on and connect through this relay");
  add_location_flags(authorize, *flags);
  authorize->add_option("peer-id", *peer_text, "the peer's ID (peerup whoami on that machine)")
      ->required();
  authorize->add_option("--comment", *comment, "a note kept on the line");
  authorize->add_flag("--no-invite", *no_invite,
                      "the peer may not invite devices onto the relay (peerup invite "
                      "--relay-rights); writes service=relay");
  authorize->callback([flags, peer_text, comment, no_invite] {
    auto peer = peer_id::parse(*peer_text);
    if (!peer) throw std::invalid_argument("not a peer ID: \"" + *peer_text + "\"");
    const auto file = authorized_keys_path(*flags);
    std::string text;
    if (fs::exists(file))
      text = app::read_small_file(file, app::authorized_keys_limits::max_file_size);
    app::authorized_key entry{.peer = *peer, .services = {}, .comment = *comment};
    if (*no_invite)
      entry.services.push_back(*app::service_name::parse(std::string(relay_only_right)));
    app::write_private_file(file, app::upsert_authorized_key_checked(text, entry));
    std::cout << "authorized " << peer->to_string() << " in " << file.string() << "\n";
  });

  add_relay_invite_command(relay, flags);
  add_relay_federation_command(relay);

  auto* deauthorize =
      relay.add_subcommand("deauthorize", "remove a peer from the relay's authorized_keys");
  add_location_flags(deauthorize, *flags);
  deauthorize->add_option("peer-id", *peer_text, "the peer's ID")->required();
  deauthorize->callback([flags, peer_text] {
    auto peer = peer_id::parse(*peer_text);
    if (!peer) throw std::invalid_argument("not a peer ID: \"" + *peer_text + "\"");
    const auto file = authorized_keys_path(*flags);
    int removed = 0;
    auto text = app::remove_authorized_key(
        app::read_small_file(file, app::authorized_keys_limits::max_file_size), *peer, removed);
    if (removed == 0) throw std::runtime_error(peer->to_string() + " is not in " + file.string());
    app::write_private_file(file, text);
    std::cout << "deauthorized " << peer->to_string() << "\n";
  });

  auto* list = relay.add_subcommand("list-peers", "show the relay's authorized peers");
  add_location_flags(list, *flags);
  list->callback([flags] {
    const auto file = authorized_keys_path(*flags);
    if (!fs::exists(file)) return;
    auto parsed = app::parse_authorized_keys(
        app::read_small_file(file, app::authorized_keys_limits::max_file_size));
    for (const auto& e : parsed.entries)
      std::cout << e.peer.to_string() << (e.comment.empty() ? "" : "  # " + e.comment) << "\n";
    for (const auto& p : parsed.problems)
      std::cerr << file.string() << ":" << p.line << ": " << p.message << "\n";
  });
}

}  // namespace peerup::cli
