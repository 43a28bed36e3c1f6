#include "node/daemon.hpp"
#include "node/path_transport.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <csignal>
#include <set>
#include <variant>
#include <iostream>

#include "config/identity_file.hpp"
#include "node/relay_finder.hpp"
#include "node/service_catalog.hpp"
#include "protocols/identify.hpp"
#include "protocols/kad.hpp"
#include "protocols/names.hpp"
#include "protocols/path_manager.hpp"
#include "protocols/ping.hpp"
#include "protocols/relay_client.hpp"
#include "protocols/relay_reservations.hpp"

namespace peerup::app {

namespace fs = std::filesystem;

namespace {

std::shared_ptr<const access_policy> load_policy_or_throw(const config& cfg) {
  auto p = load_access_policy(cfg);
  if (!p) throw std::runtime_error(p.error().to_string());
  return std::make_shared<const access_policy>(std::move(*p));
}

// The relays of `relays:` and of every network of `networks:`, each once: the
// daemon reserves on all of them, so "<host>.<network>" names are reachable.
std::vector<multiaddr> reserved_relays(const config& cfg) { return cfg.all_relays(); }

// One registration of host_name per relay of each network.
std::unique_ptr<protocols::name_registrar> make_registrar(net::host& h, const config& cfg) {
  if (!cfg.naming.host_name || cfg.naming.networks.empty()) return nullptr;
  std::vector<std::pair<wire::dns_label, multiaddr>> targets;
  for (const auto& [network, relays] : cfg.naming.networks)
    for (const auto& r : relays) targets.emplace_back(wire::dns_label::parse(network).value(), r);
  return std::make_unique<protocols::name_registrar>(
      h, wire::dns_label::parse(*cfg.naming.host_name).value(), std::move(targets));
}

// The DHT of `dht:`: a client at first in auto mode (AutoNAT's verdict
// switches it, update_dht_mode), bootstrapping from dht.bootstrap or the
// relays. Closed like the daemon: it answers authorized peers only.
std::unique_ptr<protocols::kad_node> make_dht(net::host& h, const config& cfg,
                                              std::function<bool(const peer_id&)> may_query) {
  if (!cfg.dht.enabled) return nullptr;
  protocols::kad_config kc;
  kc.protocol = cfg.dht.protocol;
  kc.server = cfg.dht.mode == dht_mode::server;
  kc.may_query = std::move(may_query);
  auto node = std::make_unique<protocols::kad_node>(h, std::move(kc));
  for (const auto& b : cfg.dht_bootstrap())
    if (auto p = b.peer()) node->add_bootstrap(*p, {b.without_peer()});
  return node;
}

net::host_config host_config_for(const config& cfg) {
  if (cfg.listen.empty() && reserved_relays(cfg).empty() && !cfg.discovers_relays())
    throw std::runtime_error(cfg.file.string() +
                             ": nothing to do: no listen addresses and no relays "
                             "(add `listen:` entries or `peerup relay add <multiaddr>`)");
  net::host_config hc{.identity = load_identity(cfg.identity_key.resolved)};
  hc.listen = cfg.listen;
  hc.limits = cfg.limits;
  return hc;
}

// What identifies a file version for change detection: editors often
// replace files (new inode), and two writes can share an mtime second.
struct file_version {
  std::int64_t mtime_ns = -1, size = -1;
  std::uint64_t inode = 0;
};

file_version version_of(const fs::path& p) {
  struct stat st {};
  if (::stat(p.c_str(), &st) != 0) return {};
  return {static_cast<std::int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec,
          static_cast<std::int64_t>(st.st_size), static_cast<std::uint64_t>(st.st_ino)};
}

}  // namespace

daemon::daemon(net::asio::any_io_executor ex, config cfg, daemon_options opts)
    : ex_(ex),
      opts_(std::move(opts)),
      cfg_(std::move(cfg)),
      policy_(load_policy_or_throw(cfg_)),
      host_(ex, host_config_for(cfg_)),
      identify_(std::make_unique<protocols::identify_service>(host_)),
      services_(host_),
      relays_(std::make_unique<protocols::reservation_keeper>(host_, reserved_relays(cfg_),
                                                              [this] {
                                                                identify_->push_all();
                                                                // Our circuit addresses changed.
                                                                if (dht_) dht_->publish_soon();
                                                              })),
      names_(make_registrar(host_, cfg_)),
      dht_(make_dht(host_, cfg_, [this](const peer_id& p) {
        return is_relay(p) || policy_->may_connect(p) || (dht_ && dht_->expects(p));
      })) {
  host_.set_gater([this](const peer_id& p, const multiaddr& a) { return gate(p, a); });
  protocols::install_ping(host_);
  // Circuits are accepted only from our own relays; whoever comes through
  // them still meets the gater and the per-service checks.
  protocols::install_relay_stop(host_, [this](const peer_id& relay) { return is_relay(relay); });
  protocols::install_circuit_dialer(host_);
  // Constructed once: a second path_manager replacing the first would run the
  // first's destructor, which removes the /libp2p/dcutr handler the second
  // just installed, and peers could then never hole-punch to this daemon.
  paths_ = std::make_unique<protocols::path_manager>(host_, *identify_,
                                                     protocols::path_config_from_env());
  host_.on_connection([this](const net::connection_ptr& c) {
    note_event(fmt::format("peer {} connected ({} {} {})", label(c->remote_peer),
                           c->relayed ? "relayed" : "direct", c->relayed ? "via" : "over",
                           path_transport(host_, *c)));
    spdlog::info("peer {} connected ({} {} {}, {} {})", label(c->remote_peer),
                 c->relayed ? "relayed" : "direct", c->relayed ? "via" : "over",
                 path_transport(host_, *c),
                 c->dir == net::direction::inbound ? "from" : "to", c->remote_addr.to_string());
  });
  host_.on_disconnect(
      [this](const peer_id& p) { note_event(fmt::format("peer {} disconnected", label(p))); });
  services_.apply(cfg_.services, policy_, cfg_.peer_rate_limit);
  install_pairing_handler();
  // Read at each request, so reloads of services and keys show at once.
  serve_service_catalog(
      host_, [this](const peer_id& p) { return catalog_for(cfg_.services, *policy_, p); });
}

daemon::~daemon() { *alive_ = false; }

bool daemon::is_relay(const peer_id& peer) const {
  for (const auto& r : reserved_relays(cfg_))
    if (r.peer() == peer) return true;
  // Relays found through the DHT (relays: auto) once we keep a slot on them.
  return relays_ && relays_->is_our_relay(peer);
}

std::string daemon::name_of(const peer_id& peer) const {
  if (is_relay(peer)) return "relay";
  for (const auto& [name, t] : cfg_.names)
    if (t.peer == peer) return name;
  return {};
}

void daemon::note_event(std::string text) {
  if (events_.size() >= max_events) events_.pop_front();
  events_.push_back({unix_now(), std::move(text)});
}

void daemon::authorize(const authorized_key& key) {
  const auto& path = cfg_.authorized_keys.resolved;
  std::error_code ec;
  const auto old = fs::exists(path, ec)
                       ? read_small_file(path, authorized_keys_limits::max_file_size)
                       : std::string();
  write_private_file(path, upsert_authorized_key_checked(old, key));
  if (!reload("authorized " + key.peer.to_string() + " via the control socket"))
    throw std::runtime_error("the reload after the edit failed: " + last_reload_error_);
}

int daemon::deauthorize(const peer_id& peer) {
  const auto& path = cfg_.authorized_keys.resolved;
  std::error_code ec;
  if (!fs::exists(path, ec)) return 0;
  int removed = 0;
  const auto text = remove_authorized_key(
      read_small_file(path, authorized_keys_limits::max_file_size), peer, removed);
  if (removed == 0) return 0;
  write_private_file(path, text);
  if (!reload("removed " + peer.to_string() + " via the control socket"))
    throw std::runtime_error("the reload after the edit failed: " + last_reload_error_);
  return removed;
}

std::string daemon::label(const peer_id& peer) const {
  for (const auto& [name, t] : cfg_.names)
    if (t.peer == peer) return peer.to_string() + " (" + name + ")";
  return peer.to_string();
}

// Layer 1: runs right after the Noise handshake, before any stream exists.
bool daemon::gate(const peer_id& peer, const multiaddr& addr) const {
  if (is_relay(peer) || policy_->may_connect(peer)) return true;
  // DHT servers we bootstrap from, keep in our table or are asking now: the
  // DHT is all they get (every service checks authorized_keys).
  if (dht_ && dht_->expects(peer)) return true;
  if (std::find(dht_relays_.begin(), dht_relays_.end(), peer) != dht_relays_.end()) return true;
  if (pairing_open()) {
    spdlog::info("accepted {} at {} for pairing only (an invite is open)", peer.to_string(),
                 addr.to_string());
    return true;
  }
  spdlog::warn("refused connection from {} at {}: not in authorized_keys", peer.to_string(),
               addr.to_string());
  return false;
}

void daemon::disconnect_unauthorized() {
  for (const auto& c : host_.all_connections()) {
    if (is_relay(c->remote_peer) || policy_->may_connect(c->remote_peer)) continue;
    if (dht_ && dht_->expects(c->remote_peer)) continue;
    spdlog::warn("peer {} is no longer authorized: disconnecting", label(c->remote_peer));
    host_.close_connections(c->remote_peer);
  }
}

bool daemon::reload(const std::string& why) {
  spdlog::info("reloading ({})", why);
  if (opts_.hooks.reloading) opts_.hooks.reloading();
  // The hook's counterpart runs on every exit path.
  struct done_hook {
    const daemon_hooks& h;
    ~done_hook() {
      if (h.reloaded) h.reloaded();
    }
  } done{opts_.hooks};
  auto next = load_config(cfg_.file);
  if (!next) {
    last_reload_error_ = next.error().to_string();
    spdlog::error("reload failed, keeping the running configuration: {}", last_reload_error_);
    note_event("reload failed: " + last_reload_error_);
    return false;
  }
  auto policy = load_access_policy(*next);
  if (!policy) {
    last_reload_error_ = policy.error().to_string();
    spdlog::error("reload failed, keeping the running configuration: {}", last_reload_error_);
    note_event("reload failed: " + last_reload_error_);
    return false;
  }
  last_reload_error_.clear();
  if (next->identity_key.resolved != cfg_.identity_key.resolved || next->listen != cfg_.listen ||
      next->relays != cfg_.relays || next->relays_auto != cfg_.relays_auto ||
      next->naming.host_name != cfg_.naming.host_name ||
      next->naming.networks != cfg_.naming.networks || next->metrics != cfg_.metrics ||
      next->status_page != cfg_.status_page || next->dht != cfg_.dht)
    spdlog::warn(
        "identity_key, listen, relays, host_name, networks, metrics, status_page and dht "
        "changes take effect after a restart");
  // Keep what needs a restart as it runs, take services, names and keys.
  next->identity_key = cfg_.identity_key;
  next->listen = cfg_.listen;
  next->relays = cfg_.relays;
  next->relays_auto = cfg_.relays_auto;
  next->naming.host_name = cfg_.naming.host_name;
  next->naming.networks = cfg_.naming.networks;
  next->metrics = cfg_.metrics;
  next->status_page = cfg_.status_page;
  next->dht = cfg_.dht;
  cfg_ = std::move(*next);
  host_.set_limits(cfg_.limits);  // for new connections and streams; none are cut
  policy_ = std::make_shared<const access_policy>(std::move(*policy));
  services_.apply(cfg_.services, policy_, cfg_.peer_rate_limit);
  disconnect_unauthorized();
  spdlog::info("reloaded: {} authorized peers, {} services", policy_->peer_count(),
               cfg_.services.size());
  note_event(fmt::format("reloaded ({}): {} authorized peers, {} services", why,
                         policy_->peer_count(), cfg_.services.size()));
  return true;
}

static dht_status dht_status_of(const protocols::kad_node& k) {
  dht_status d;
  d.mode = k.server() ? "server" : "client";
  d.protocol = k.config().protocol;
  d.routing_table = k.table().size();
  if (const auto deepest = k.table().deepest_bucket()) {
    const auto sizes = k.table().bucket_sizes();
    d.buckets.assign(sizes.begin(), sizes.begin() + static_cast<long>(*deepest + 1));
  }
  d.records = k.records().size();
  d.provider_records = k.providers().records();
  const auto& st = k.stats();
  d.requests_served = st.requests_served;
  d.requests_refused = st.requests_refused;
  d.rate_limited = st.rate_limited;
  d.lookups = st.lookups;
  d.records_published = st.records_published;
  return d;
}

daemon_status daemon::status() const {
  daemon_status s;
  s.pid = static_cast<long>(::getpid());
  s.peer_id = host_.id().to_string();
  s.config_file = cfg_.file.string();
  s.started_unix = started_unix_;
  s.updated_unix = unix_now();
  s.authorized_peers = policy_->peer_count();
  for (const auto& a : host_.full_addrs()) s.listen.push_back(a.to_string());
  s.reachability = std::string(protocols::to_string(paths_->reachability_status()));
  for (const auto& a : paths_->confirmed_addrs()) s.public_addrs.push_back(a.to_string());
  for (const auto& slot : relays_->slots())
    s.relays.push_back(
        {slot.relay.to_string(), std::string(protocols::to_string(slot.current)),
         slot.current == protocols::relay_slot::state::reserved ? slot.expire_unix : 0,
         slot.last_error});
  for (const auto& c : host_.all_connections()) {
    std::string name;
    for (const auto& [n, t] : cfg_.names)
      if (t.peer == c->remote_peer) name = n;
    if (is_relay(c->remote_peer)) name = "relay";
    s.connections.push_back({c->remote_peer.to_string(), name, c->relayed ? "relayed" : "direct",
                             c->remote_addr.to_string(),
                             c->dir == net::direction::inbound ? "inbound" : "outbound"});
    s.connections.back().transport = path_transport(host_, *c);
    if (auto p = paths_->status(c->remote_peer)) {
      s.connections.back().path_changed_unix = p->changed_unix;
      s.connections.back().holepunch = {p->attempts, p->successes, p->last_error, p->method};
    }
  }
  for (const auto& [name, svc] : services_.services()) {
    const auto n = services_.counters(name);
    s.services.push_back({name, svc.local_address.to_string(), svc.enabled, n.streams, n.active,
                          n.denied, n.failed});
  }
  if (network_status_) s.network = network_status_();
  if (dht_) s.dht = dht_status_of(*dht_);
  return s;
}

void daemon::write_status() {
  try {
    write_private_file(status_file_path(cfg_.dir()), to_json(status()), false);
    status_write_failed_ = false;
  } catch (const std::exception& e) {
    // Warned once (the first write is at start), not every interval: without
    // the file `peerup status` says the daemon is not running.
    if (!status_write_failed_)
      spdlog::warn("cannot write status file {}: {}; `peerup status` will report the daemon as "
                   "not running until the folder is writable by this user",
                   status_file_path(cfg_.dir()).string(), e.what());
    else
      spdlog::debug("cannot write status file: {}", e.what());
    status_write_failed_ = true;
  }
}

std::map<fs::path, std::string> daemon::watched_files() const {
  std::map<fs::path, std::string> out;
  auto add = [&](const fs::path& p) {
    const auto v = version_of(p);
    out[p] =
        std::to_string(v.mtime_ns) + "/" + std::to_string(v.size) + "/" + std::to_string(v.inode);
  };
  add(cfg_.file);
  add(cfg_.authorized_keys.resolved);
  for (const auto& [name, svc] : cfg_.services)
    if (svc.authorized_keys) add(svc.authorized_keys->resolved);
  return out;
}

net::awaitable<void> daemon::watch_loop() {
  auto alive = alive_;
  auto last = watched_files();
  net::asio::steady_timer timer(ex_);
  while (*alive && !stopping_) {
    timer.expires_after(opts_.watch_interval);
    co_await timer.async_wait(net::use_nothrow);
    if (!*alive || stopping_) co_return;
    // Snapshot before reading: a write landing during the reload changes the
    // version again and triggers the next one.
    auto now = watched_files();
    if (now == last) continue;
    last = std::move(now);
    reload("a watched file changed");
    last = watched_files();  // the reload may watch other files now
  }
}

net::awaitable<void> daemon::status_loop() {
  auto alive = alive_;
  net::asio::steady_timer timer(ex_);
  while (*alive && !stopping_) {
    update_dht_mode();
    if (dht_ && net::steady_clock::now() - dht_saved_ >= std::chrono::minutes(5)) {
      dht_saved_ = net::steady_clock::now();
      save_dht_table();
    }
    write_status();
    timer.expires_after(opts_.status_interval);
    co_await timer.async_wait(net::use_nothrow);
  }
}

net::awaitable<void> daemon::relay_finder_loop() {
  auto alive = alive_;
  net::asio::steady_timer timer(ex_);
  const auto key = dht::namespace_key(dht::relay_namespace);
  const std::size_t max = cfg_.dht.max_relays;
  std::set<std::string> told;  // each "skipped" reason is logged once
  // Bounded: one lookup per turn, each turn waits on the timer; ends at stop.
  while (*alive && !stopping_) {
    std::size_t usable = 0, discovered = 0;
    for (const auto& slot : relays_->slots()) {
      if (!slot.discovered) continue;
      ++discovered;
      // Three failed reservations in a row: count it out and look for another.
      if (slot.failures < 3) ++usable;
    }
    // SECURITY: at most max + 4 discovered slots ever, so a DHT full of
    // relays that refuse us cannot make the keeper grow without bound.
    if (usable < max && discovered < max + 4 && dht_->table().size() > 0) {
      auto finding = dht_->find_providers(key, 20);
      auto found = co_await std::move(finding);
      if (!*alive || stopping_) co_return;
      for (auto& p : found)
        if (p.addrs.empty()) p.addrs = host_.peers().addrs(p.id);
      const auto choice = choose_relays(
          found, cfg_.dht, host_.id(), [this](const peer_id& p) { return relays_->is_our_relay(p); },
          std::min(max - usable, max + 4 - discovered));
      for (const auto& why : choice.skipped)
        if (told.size() < 256 && told.insert(why).second)
          spdlog::info("relay found through the DHT not used: {}", why);
      for (const auto& r : choice.chosen) {
        if (!relays_->add_relay(r)) continue;
        spdlog::info("relay {} found through the DHT: reserving", r.to_string());
        note_event("relay found through the DHT: " + r.to_string());
      }
    }
    timer.expires_after(usable < max ? std::chrono::seconds(5) : std::chrono::seconds(60));
    co_await timer.async_wait(net::use_nothrow);
  }
}

void daemon::allow_dht_relays(const std::vector<peer_id>& relays) {
  for (const auto& r : relays) {
    if (std::find(dht_relays_.begin(), dht_relays_.end(), r) != dht_relays_.end()) continue;
    // SECURITY: bounded; records name a handful of relays each.
    if (dht_relays_.size() >= 64) dht_relays_.pop_front();
    dht_relays_.push_back(r);
  }
}

void daemon::load_dht_table() {
  const auto path = cfg_.dir() / "dht_peers";
  std::error_code ec;
  if (!fs::exists(path, ec)) return;
  try {
    const auto text = read_small_file(path, dht::table_file_limits::max_size);
    auto decoded = dht::decode_table_file(text);
    if (auto* e = std::get_if<dht::table_file_error>(&decoded)) {
      spdlog::warn("dht: ignoring {}:{}: {} (starting from the bootstrap peers)", path.string(),
                   e->line, e->message);
      return;
    }
    const auto& entries = std::get<std::vector<dht::table_entry>>(decoded);
    const auto taken = dht_->import_table(entries);
    spdlog::info("dht: {} of {} peers from {}", taken, entries.size(), path.string());
  } catch (const std::exception& e) {
    spdlog::warn("dht: cannot read {}: {}", path.string(), e.what());
  }
}

void daemon::save_dht_table() {
  const auto path = cfg_.dir() / "dht_peers";
  try {
    const auto entries = dht_->export_table();
    if (entries.empty()) return;  // keep what an earlier run learned
    write_private_file(path, dht::encode_table_file(entries), false);
  } catch (const std::exception& e) {
    spdlog::debug("dht: cannot write {}: {}", path.string(), e.what());
  }
}

void daemon::update_dht_mode() {
  if (!dht_ || cfg_.dht.mode != dht_mode::auto_mode) return;
  const bool server = paths_->reachability_status() == protocols::reachability::public_;
  if (server == dht_->server()) return;
  dht_->set_server(server);
  identify_->push_all();  // peers learn that we (no longer) list the protocol
  spdlog::info("dht: {} mode (AutoNAT says {})", server ? "server" : "client",
               protocols::to_string(paths_->reachability_status()));
  note_event(fmt::format("dht: {} mode", server ? "server" : "client"));
}

net::awaitable<void> daemon::signal_loop() {
  net::asio::signal_set signals(ex_, SIGINT, SIGTERM, SIGHUP);
  for (;;) {
    auto [ec, sig] = co_await signals.async_wait(net::use_nothrow);
    if (ec) co_return;
    if (sig == SIGHUP) {
      reload("SIGHUP");
      continue;
    }
    spdlog::info("stopping on signal {}", sig);
    co_return;
  }
}

net::awaitable<int> daemon::run() {
  std::signal(SIGPIPE, SIG_IGN);
  host_.start();
  started_unix_ = unix_now();
  std::cout << "peer " << host_.id().to_string() << "\n";
  for (const auto& a : host_.full_addrs()) {
    std::cout << "listen " << a.to_string() << "\n";
    spdlog::info("listening on {}", a.to_string());
  }
  spdlog::info("peer {} serving {} services to {} authorized peers", host_.id().to_string(),
               cfg_.services.size(), policy_->peer_count());
  relays_->start();
  paths_->start();
  if (names_) names_->start();
  if (dht_) {
    // Our record lists what identify announces: direct and circuit addresses.
    dht_->set_self_addrs([this] { return host_.announce_addrs(); });
    load_dht_table();
    if (cfg_.dht_bootstrap().empty() && dht_->table().size() == 0)
      spdlog::warn("dht: no bootstrap peers (no relays, no dht.bootstrap): this node can only "
                   "be found by peers that already know it");
    dht_saved_ = net::steady_clock::now();  // the first save after a refresh, not the empty table
    dht_->start(cfg_.dht.refresh_interval);
    if (cfg_.discovers_relays()) {
      spdlog::info("relays: looking for up to {} relays in the DHT (relay_policy {}, {} relay_peers)",
                   cfg_.dht.max_relays, to_string(cfg_.dht.relays_from),
                   cfg_.dht.relay_peers.size());
      net::asio::co_spawn(ex_, relay_finder_loop(), net::asio::detached);
    }
    spdlog::info("dht: {} mode {}, {} bootstrap peers, protocol {}", to_string(cfg_.dht.mode),
                 dht_->server() ? "(server)" : "(client)", cfg_.dht_bootstrap().size(),
                 cfg_.dht.protocol);
  }
  note_event(fmt::format("started: {} services, {} authorized peers", cfg_.services.size(),
                         policy_->peer_count()));
  // After the hook: it starts the control socket, so a client that waits for
  // "ready" finds the socket there.
  if (opts_.hooks.ready) opts_.hooks.ready();
  std::cout << "ready" << std::endl;
  net::asio::co_spawn(ex_, watch_loop(), net::asio::detached);
  net::asio::co_spawn(ex_, status_loop(), net::asio::detached);
  co_await signal_loop();
  stopping_ = true;
  if (opts_.hooks.stopping) opts_.hooks.stopping();
  for (auto& f : stop_hooks_) f();
  if (names_) names_->stop();
  if (dht_) {
    save_dht_table();
    dht_->stop();
  }
  paths_->stop();
  relays_->stop();
  host_.stop();
  std::error_code ignored;
  fs::remove(status_file_path(cfg_.dir()), ignored);
  co_return 0;
}

}  // namespace peerup::app
