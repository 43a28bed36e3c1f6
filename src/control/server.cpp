#include "control/server.hpp"

#include <spdlog/spdlog.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <fstream>

#include "config/authorized_keys.hpp"
#include "naming/resolver.hpp"
#include "naming/target.hpp"
#include "protocols/kad.hpp"
#include "protocols/path_manager.hpp"
#include "protocols/ping.hpp"
#include "protocols/relay_reservations.hpp"

namespace peerup::control {

namespace fs = std::filesystem;
namespace json = boost::json;
using local = net::asio::local::stream_protocol;

namespace {

constexpr auto dial_timeout = std::chrono::seconds(15);
constexpr auto ping_timeout = std::chrono::seconds(10);

std::string random_hex(std::size_t bytes) {
  std::vector<unsigned char> buf(bytes);
  std::size_t got = 0;
  while (got < bytes) {
    const auto n = ::getrandom(buf.data() + got, bytes - got, 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      throw std::runtime_error("getrandom failed: " + std::string(std::strerror(errno)));
    }
    got += static_cast<std::size_t>(n);
  }
  static constexpr char hex[] = "0123456789abcdef";
  std::string out;
  for (auto b : buf) {
    out += hex[b >> 4];
    out += hex[b & 15];
  }
  return out;
}

net::tcp::endpoint endpoint_of(const app::host_port& hp, const char* key) {
  boost::system::error_code ec;
  auto addr = net::asio::ip::make_address(hp.host, ec);
  if (ec)
    throw std::runtime_error(std::string(key) + ": expected an IP address, got \"" + hp.host +
                             "\"");
  return {addr, hp.port};
}

std::string show(const net::tcp::endpoint& ep) {
  return ep.address().is_v6() ? "[" + ep.address().to_string() + "]:" + std::to_string(ep.port())
                              : ep.address().to_string() + ":" + std::to_string(ep.port());
}

std::shared_ptr<net::tcp::acceptor> bind_tcp(net::asio::any_io_executor ex,
                                             const net::tcp::endpoint& ep, const char* what) {
  auto a = std::make_shared<net::tcp::acceptor>(ex);
  boost::system::error_code ec;
  a->open(ep.protocol(), ec);
  if (!ec) a->set_option(net::tcp::acceptor::reuse_address(true), ec);
  if (!ec) a->bind(ep, ec);
  if (!ec) a->listen(64, ec);
  if (ec)
    throw std::runtime_error(std::string(what) + ": cannot listen on " + show(ep) + ": " +
                             ec.message() + " (another process on that port? change `" + what +
                             ":` in the config)");
  return a;
}

// What ping and connect say about the connection they used.
json::object describe(const net::connection& c, bool reused) {
  json::object o;
  o["peer"] = c.remote_peer.to_string();
  o["path"] = c.relayed ? "relayed" : "direct";
  o["transport"] = std::string(c.transport());
  o["addr"] = c.remote_addr.to_string();
  o["reused_connection"] = reused;
  return o;
}

double ms(std::chrono::microseconds us) { return static_cast<double>(us.count()) / 1000.0; }

// SO_PEERCRED: who is on the other end of a Unix socket.
std::optional<uid_t> peer_uid(local::socket& s) {
  ucred cred{};
  socklen_t len = sizeof cred;
  if (::getsockopt(s.native_handle(), SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0) return {};
  return cred.uid;
}

// The Host header of a request to the page: DNS rebinding makes a browser
// send a page of evil.example to 127.0.0.1 with Host: evil.example.
bool host_is_local(std::string_view host, std::uint16_t port) {
  const auto p = ":" + std::to_string(port);
  for (std::string_view h : {"127.0.0.1", "localhost", "[::1]"})
    if (host == std::string(h) + p || host == h) return true;
  return false;
}

}  // namespace

http_answer json_answer(unsigned status, std::string body) {
  return {status, "application/json", std::move(body), {}};
}

http_answer error_answer(const api_error& e) {
  http_answer a = json_answer(e.status, error_json(e.message));
  if (!e.allow.empty()) a.headers.emplace_back("Allow", e.allow);
  return a;
}

fs::path control_socket_path(const fs::path& dir) { return dir / "control.sock"; }
fs::path cookie_path(const fs::path& dir) { return dir / "control.cookie"; }

server_options server_options_for(const app::config& cfg) {
  server_options o;
  o.socket = control_socket_path(cfg.dir());
  o.cookie = cookie_path(cfg.dir());
  if (cfg.metrics) o.metrics = endpoint_of(*cfg.metrics, "metrics");
  if (cfg.status_page) o.status_page = endpoint_of(*cfg.status_page, "status_page");
  return o;
}

control_server::control_server(app::daemon& d, server_options opts)
    : d_(d), opts_(std::move(opts)) {
  resolver_ = std::make_unique<app::name_resolver>(d_.host(), d_.cfg());
  d_.host().on_connection([this, alive = alive_](const net::connection_ptr& c) {
    if (!*alive) return;
    ++opened_[{c->dir == net::direction::inbound ? "inbound" : "outbound",
               std::string(c->transport()), c->relayed ? "relayed" : "direct"}];
  });
}

control_server::~control_server() {
  *alive_ = false;
  stop();
}

void control_server::start() {
  auto ex = d_.host().get_executor();
  // 1. a socket file left by a daemon that died is removed; a live one is not
  // SECURITY: sockaddr_un holds 107 bytes of path.
  if (opts_.socket.native().size() >= sizeof(sockaddr_un{}.sun_path))
    throw std::runtime_error("control socket path " + opts_.socket.string() + " is longer than " +
                             std::to_string(sizeof(sockaddr_un{}.sun_path) - 1) +
                             " bytes (a Unix socket limit): use a shorter config folder");
  std::error_code fec;
  if (fs::is_socket(fs::symlink_status(opts_.socket, fec))) {
    local::socket probe(ex);
    boost::system::error_code ec;
    probe.connect(local::endpoint(opts_.socket.string()), ec);
    if (!ec)
      throw std::runtime_error("another daemon answers on " + opts_.socket.string() +
                               ": stop it first (two daemons on one config folder would fight "
                               "over its files)");
    fs::remove(opts_.socket, fec);
  } else if (fs::exists(fs::symlink_status(opts_.socket, fec))) {
    throw std::runtime_error(opts_.socket.string() +
                             " exists and is not a socket: remove it or move the config");
  }
  // 2. the cookie: random, owner-only, replaced at every start (after the
  //    check above, so a second daemon never overwrites a live one's)
  cookie_ = random_hex(32);
  app::write_private_file(opts_.cookie, cookie_ + "\n", false);
  // 3. bind with a umask that leaves no window in which others could connect
  unix_ = std::make_unique<local::acceptor>(ex);
  boost::system::error_code ec;
  unix_->open(local::endpoint().protocol(), ec);
  const auto old_mask = ::umask(0177);
  if (!ec) unix_->bind(local::endpoint(opts_.socket.string()), ec);
  ::umask(old_mask);
  if (!ec && ::chmod(opts_.socket.c_str(), 0600) != 0)
    ec = {errno, boost::system::system_category()};
  if (!ec) unix_->listen(64, ec);
  if (ec)
    throw std::runtime_error("control socket " + opts_.socket.string() + ": " + ec.message());
  started_ = true;  // from here stop() has a socket file to remove
  net::asio::co_spawn(ex, accept_unix(), net::asio::detached);
  // 4. TCP listeners
  if (opts_.metrics) {
    metrics_.emplace(ex, *opts_.metrics, [this] { return render_metrics(); });
    if (!opts_.metrics->address().is_loopback())
      spdlog::warn("metrics: /metrics on {} is not loopback: whoever reaches it sees peer names "
                   "and traffic (firewall it, or use 127.0.0.1)",
                   show(metrics_->local_endpoint()));
    spdlog::info("metrics on http://{}/metrics", show(metrics_->local_endpoint()));
  }
  if (opts_.status_page) {
    page_ = bind_tcp(ex, *opts_.status_page, "status_page");
    net::asio::co_spawn(ex, accept_page(page_), net::asio::detached);
    spdlog::info("status page on http://{}/ (open it with: peerup status --page)",
                 show(page_->local_endpoint()));
  }
  spdlog::info("control socket {}", opts_.socket.string());
}

void control_server::stop() {
  if (!started_) return;
  started_ = false;
  boost::system::error_code ec;
  if (unix_) unix_->close(ec);
  metrics_.reset();
  if (page_) page_->close(ec);
  std::error_code fec;
  fs::remove(opts_.socket, fec);
  fs::remove(opts_.cookie, fec);
}

std::optional<net::tcp::endpoint> control_server::metrics_endpoint() const {
  if (!metrics_) return {};
  return metrics_->local_endpoint();
}
std::optional<net::tcp::endpoint> control_server::status_page_endpoint() const {
  if (!page_) return {};
  return page_->local_endpoint();
}

net::awaitable<void> control_server::accept_unix() {
  auto alive = alive_;
  const uid_t self = ::geteuid();
  while (*alive && unix_ && unix_->is_open()) {
    auto [ec, s] = co_await unix_->async_accept(net::use_nothrow);
    if (!*alive) co_return;
    if (ec) {
      if (ec == net::asio::error::operation_aborted) co_return;
      continue;
    }
    const auto uid = peer_uid(s);
    const bool trusted = uid && *uid == self;
    auto ex = s.get_executor();  // before the move below: argument order is unspecified
    net::asio::co_spawn(
        ex,
        http_session(std::move(s),
                     [this, alive, trusted, uid](http_request_view req)
                         -> net::awaitable<http_answer> {
                       if (!*alive) co_return error_answer({503, "daemon stopping", {}});
                       if (!trusted && !cookie_matches(cookie_, req.authorization, req.cookie))
                         co_return error_answer(
                             {401,
                              "this client runs as uid " +
                                  (uid ? std::to_string(*uid) : std::string("?")) +
                                  " and the daemon as uid " + std::to_string(::geteuid()) +
                                  ": send the cookie of " + opts_.cookie.string() +
                                  " (Authorization: Bearer <cookie>; peerup does this when it "
                                  "can read the file)",
                              {}});
                       co_return co_await handle_api(std::move(req), trusted, false);
                     }),
        net::asio::detached);
  }
}

net::awaitable<void> control_server::accept_page(std::shared_ptr<net::tcp::acceptor> a) {
  auto alive = alive_;
  const auto port = a->local_endpoint().port();
  while (*alive && a->is_open()) {
    auto [ec, s] = co_await a->async_accept(net::use_nothrow);
    if (!*alive) co_return;
    if (ec) {
      if (ec == net::asio::error::operation_aborted) co_return;
      continue;
    }
    auto ex = s.get_executor();  // before the move below: argument order is unspecified
    net::asio::co_spawn(
        ex,
        http_session(std::move(s),
                     [this, alive, port](http_request_view req) -> net::awaitable<http_answer> {
                       if (!*alive) co_return error_answer({503, "daemon stopping", {}});
                       co_return co_await handle_page(std::move(req), port);
                     }),
        net::asio::detached);
  }
}

net::awaitable<http_answer> control_server::handle_page(http_request_view req, std::uint16_t port) {
  // SECURITY: the page answers only requests addressed to this machine by
  // name (no DNS rebinding) and, past the login link, only with the cookie.
  if (!host_is_local(req.host, port))
    co_return error_answer({403, "Host must be 127.0.0.1, localhost or [::1]", {}});
  constexpr std::string_view login = "/login?token=";
  if (req.target.rfind(login, 0) == 0) {
    const auto token = req.target.substr(login.size());
    if (!cookie_matches(cookie_, "Bearer " + token, ""))
      co_return error_answer({401, "wrong or old token: get a fresh link with peerup status "
                                   "--page", {}});
    http_answer a{303, "text/plain", "logged in\n", {}};
    a.headers.emplace_back("Set-Cookie",
                           "peerup_session=" + cookie_ + "; Path=/; HttpOnly; SameSite=Strict");
    a.headers.emplace_back("Location", "/");
    co_return a;
  }
  if (!cookie_matches(cookie_, req.authorization, req.cookie))
    co_return error_answer({401, "log in with the link of `peerup status --page` (it carries the "
                                 "cookie of the daemon's control.cookie)", {}});
  if (req.target == "/" || req.target == "/index.html") {
    if (req.method != "GET") co_return error_answer({405, "use GET", "GET"});
    http_answer a{200, "text/html; charset=utf-8", std::string(status_page_html()), {}};
    a.headers.emplace_back("Content-Security-Policy",
                           "default-src 'self'; script-src 'unsafe-inline'; style-src "
                           "'unsafe-inline'; frame-ancestors 'none'");
    a.headers.emplace_back("X-Frame-Options", "DENY");
    co_return a;
  }
  co_return co_await handle_api(std::move(req), false, true);
}

net::awaitable<http_answer> control_server::handle_api(http_request_view req, bool trusted,
                                                       bool read_only) {
  (void)trusted;
  auto parsed = parse_command(req.method, req.target, req.body);
  if (auto* e = std::get_if<api_error>(&parsed)) co_return error_answer(*e);
  const auto& cmd = std::get<command>(parsed);
  // SECURITY: the page's browser is a confused deputy for any site the user
  // visits; it gets the read-only routes only. Changes go through the socket.
  if (read_only && req.method != "GET")
    co_return error_answer({403, "the status page is read-only; use the control socket (peerup "
                                 "CLI) for " + std::string(to_string(cmd.what)), {}});
  co_return co_await execute(cmd);
}

std::string control_server::peers_json() {
  json::array out;
  const auto& traffic = d_.services().traffic_by_peer();
  for (const auto& c : d_.host().all_connections()) {
    json::object o;
    o["peer"] = c->remote_peer.to_string();
    o["name"] = d_.name_of(c->remote_peer);
    o["path"] = c->relayed ? "relayed" : "direct";
    o["transport"] = c->relayed ? "relayed" : std::string(c->transport());
    o["muxer"] = c->mux ? std::string(c->mux->kind()) : "";
    o["direction"] = c->dir == net::direction::inbound ? "inbound" : "outbound";
    o["addr"] = c->remote_addr.to_string();
    if (c->mux && c->mux->rtt()) o["rtt_ms"] = c->mux->rtt()->count();
    else o["rtt_ms"] = nullptr;
    o["streams"] = c->mux ? c->mux->stream_count() : 0;
    o["open_s"] = std::chrono::duration_cast<std::chrono::seconds>(net::steady_clock::now() -
                                                                   c->opened)
                      .count();
    auto t = traffic.find(c->remote_peer);
    o["bytes_in"] = t == traffic.end() ? 0 : t->second.bytes_in;
    o["bytes_out"] = t == traffic.end() ? 0 : t->second.bytes_out;
    o["service_streams"] = t == traffic.end() ? 0 : t->second.streams;
    if (auto p = d_.paths().status(c->remote_peer)) {
      o["holepunch_attempts"] = p->attempts;
      o["holepunch_successes"] = p->successes;
      o["holepunch_method"] = p->method;
    }
    out.push_back(std::move(o));
  }
  return json::serialize(out);
}

std::string control_server::services_json() {
  json::array out;
  for (const auto& [name, svc] : d_.services().services()) {
    const auto n = d_.services().counters(name);
    json::object o;
    o["name"] = name;
    o["local_address"] = svc.local_address.to_string();
    o["enabled"] = svc.enabled;
    o["protocol"] = svc.name.protocol().str();
    o["streams"] = n.streams;
    o["active"] = n.active;
    o["denied"] = n.denied;
    o["failed"] = n.failed;
    o["bytes_in"] = n.bytes_in;
    o["bytes_out"] = n.bytes_out;
    out.push_back(std::move(o));
  }
  return json::serialize(out);
}

std::string control_server::events_json() {
  json::array out;
  for (const auto& e : d_.events()) {
    json::object o;
    o["unix"] = e.unix_time;
    o["text"] = e.text;
    out.push_back(std::move(o));
  }
  return json::serialize(out);
}

http_answer control_server::auth_list() {
  const auto& path = d_.cfg().authorized_keys.resolved;
  std::error_code ec;
  json::array out;
  if (fs::exists(path, ec)) {
    const auto parsed =
        app::parse_authorized_keys(app::read_small_file(path, app::authorized_keys_limits::max_file_size));
    for (const auto& k : parsed.entries) {
      json::object o;
      o["peer"] = k.peer.to_string();
      json::array svcs;
      for (const auto& s : k.services) svcs.emplace_back(s.str());
      o["services"] = std::move(svcs);  // empty: every service
      o["comment"] = k.comment;
      o["name"] = d_.name_of(k.peer);
      o["connected"] = !d_.host().connections(k.peer).empty();
      out.push_back(std::move(o));
    }
  }
  return json_answer(200, json::serialize(out));
}

net::awaitable<result<net::connection_ptr>> control_server::connection_to(const std::string& target,
                                                                          bool& reused,
                                                                          std::string& why) {
  std::optional<peer_id> peer;
  if (auto id = peer_id::parse(target)) peer = *id;
  if (!peer) {
    auto it = d_.cfg().names.find(target);
    if (it != d_.cfg().names.end()) peer = it->second.peer;
  }
  if (peer) {
    auto conns = d_.host().connections(*peer);
    if (!conns.empty()) {
      reused = true;
      co_return conns.front();
    }
  }
  reused = false;
  auto plan = co_await app::resolve_target(*resolver_, target);
  if (!plan && peer && d_.dht() != nullptr) {
    // No relay in our config names a way to the peer (e.g. relays: auto, or
    // none at all): its signed record in the DHT may (docs/dht.md).
    plan = app::dial_plan{*peer, {}, std::nullopt, "peer ID"};
  }
  if (!plan) {
    why = plan.error().message;
    co_return make_error_code(errc::control_target_unknown);
  }
  result<net::connection_ptr> conn = make_error_code(errc::control_target_unknown);
  if (!plan->addrs.empty() || plan->exact) {
    auto dialing = net::with_timeout(app::connect_target(d_.host(), *plan), dial_timeout);
    conn = co_await std::move(dialing);
  }
  // Not reachable as planned: the peer's signed record in the DHT may name a
  // relay of ours it is not on (docs/dht.md).
  std::vector<peer_id> relays;
  if (!conn && d_.dht() != nullptr && co_await app::add_dht_addrs(*d_.dht(), *plan, relays)) {
    d_.allow_dht_relays(relays);
    auto again = net::with_timeout(app::connect_target(d_.host(), *plan), dial_timeout);
    conn = co_await std::move(again);
  }
  if (!conn)
    why = plan->addrs.empty() && !plan->exact
              ? "no relay or address for it in the config, and no record of it in the DHT"
              : conn.error().message();
  co_return conn;
}

net::awaitable<http_answer> control_server::ping(const command& cmd) {
  bool reused = false;
  std::string why;
  auto conn = co_await connection_to(cmd.target, reused, why);
  if (!conn) co_return error_answer({502, "cannot reach " + cmd.target + ": " + why, {}});
  auto opened = co_await d_.host().new_stream(*conn, protocols::ping_protocol);
  if (!opened)
    co_return error_answer({502, "ping protocol: " + opened.error().message(), {}});
  json::array rtts;
  std::string error;
  for (int i = 0; i < cmd.count; ++i) {
    auto rtt = co_await net::with_timeout(protocols::ping_once(*opened->stream), ping_timeout);
    if (!rtt) {
      error = rtt.error().message();
      break;
    }
    rtts.push_back(ms(*rtt));
  }
  opened->stream->reset();
  json::object o = describe(**conn, reused);
  o["rtt_ms"] = std::move(rtts);
  if (!error.empty()) o["error"] = error;
  co_return json_answer(error.empty() ? 200 : 504, json::serialize(o));
}

net::awaitable<http_answer> control_server::traceroute(const command& cmd) {
  // 1. the connection to the target (reused, or dialed as ping does)
  // 2. relayed: the relay is the peer of the circuit address before
  //    /p2p-circuit; ping it over our connection to it (hop 1)
  // 3. ping the target end to end (hop 2, or hop 1 when direct); the
  //    relay-to-target leg is the difference
  bool reused = false;
  std::string why;
  auto conn = co_await connection_to(cmd.target, reused, why);
  if (!conn) co_return error_answer({502, "cannot reach " + cmd.target + ": " + why, {}});
  auto ping_over = [this](net::connection_ptr c) -> net::awaitable<result<double>> {
    auto opened = co_await d_.host().new_stream(c, protocols::ping_protocol);
    if (!opened) co_return opened.error();
    auto rtt = co_await net::with_timeout(protocols::ping_once(*opened->stream), ping_timeout);
    opened->stream->reset();
    if (!rtt) co_return rtt.error();
    co_return ms(*rtt);
  };
  json::array hops;
  if ((*conn)->relayed) {
    std::optional<peer_id> relay;
    if (auto r = (*conn)->remote_addr.relay_addr()) relay = r->peer();
    json::object h1;
    h1["hop"] = 1;
    h1["kind"] = "relay";
    h1["peer"] = relay ? relay->to_string() : "";
    auto rconns = relay ? d_.host().connections(*relay) : std::vector<net::connection_ptr>{};
    if (!rconns.empty()) {
      h1["addr"] = rconns.front()->remote_addr.to_string();
      h1["transport"] = std::string(rconns.front()->transport());
      auto r = co_await ping_over(rconns.front());
      if (r) h1["rtt_ms"] = *r;
      else h1["error"] = r.error().message();
    } else {
      h1["error"] = "no connection to the relay";
    }
    hops.push_back(std::move(h1));
  }
  json::object last;
  last["hop"] = hops.size() + 1;
  last["kind"] = (*conn)->relayed ? "target (via relay)" : "target (direct)";
  last["peer"] = (*conn)->remote_peer.to_string();
  last["addr"] = (*conn)->remote_addr.to_string();
  last["transport"] = std::string((*conn)->transport());
  auto r = co_await ping_over(*conn);
  if (r) last["rtt_ms"] = *r;
  else last["error"] = r.error().message();
  hops.push_back(std::move(last));
  json::object o;
  o["peer"] = (*conn)->remote_peer.to_string();
  o["path"] = (*conn)->relayed ? "relayed" : "direct";
  o["reused_connection"] = reused;
  o["hops"] = std::move(hops);
  co_return json_answer(200, json::serialize(o));
}

net::awaitable<http_answer> control_server::connect(const command& cmd) {
  result<net::connection_ptr> conn = make_error_code(errc::control_target_unknown);
  std::string why;
  bool reused = false;
  if (cmd.addr) {
    conn = co_await net::with_timeout(d_.host().connect(*cmd.addr), dial_timeout);
    if (!conn) why = conn.error().message();
  } else {
    conn = co_await connection_to(cmd.target, reused, why);
  }
  if (!conn) co_return error_answer({502, "cannot connect to " + cmd.target + ": " + why, {}});
  json::object o = describe(**conn, reused);
  d_.note_event("connected to " + (*conn)->remote_peer.to_string() + " via the control socket");
  co_return json_answer(200, json::serialize(o));
}

std::string dht_find_peer_json(const peer_id& peer, const std::optional<wire::peer_record>& rec,
                               const std::vector<multiaddr>& routing_addrs) {
  auto strings = [](const std::vector<multiaddr>& addrs) {
    json::array out;
    for (const auto& a : addrs) out.emplace_back(a.to_string());
    return out;
  };
  json::object o;
  o["peer"] = peer.to_string();
  if (rec) {
    json::object r;
    r["seq"] = rec->seq;
    r["addrs"] = strings(rec->addrs);
    o["record"] = std::move(r);
  } else {
    o["record"] = nullptr;
  }
  o["routing_addrs"] = strings(routing_addrs);
  return json::serialize(o);
}

std::string dht_providers_json(const std::string& key, const std::vector<dht::provider>& found) {
  json::object o;
  o["key"] = key;
  json::array list;
  for (const auto& p : found) {
    json::object e;
    e["peer"] = p.id.to_string();
    json::array addrs;
    for (const auto& a : p.addrs) addrs.emplace_back(a.to_string());
    e["addrs"] = std::move(addrs);
    list.emplace_back(std::move(e));
  }
  o["providers"] = std::move(list);
  return json::serialize(o);
}

std::string control_server::dht_json() {
  auto* k = d_.dht();
  json::object o;
  o["mode"] = k->server() ? "server" : "client";
  o["protocol"] = k->config().protocol;
  o["routing_table"] = k->table().size();
  json::array buckets;
  const auto sizes = k->table().bucket_sizes();
  for (std::size_t b = 0; b < sizes.size(); ++b) {
    if (sizes[b] == 0) continue;
    json::object bucket;
    bucket["bucket"] = b;  // common prefix length with our key
    json::array peers;
    for (const auto* e : k->table().closest(dht::kad_key::of(d_.host().id()), k->table().size())) {
      if (dht::common_prefix_length(k->table().self_key(), e->key) != b) continue;
      json::object p;
      p["peer"] = e->id.to_string();
      json::array addrs;
      for (const auto& a : e->addrs) addrs.emplace_back(a.to_string());
      p["addrs"] = std::move(addrs);
      p["failures"] = e->failures;
      p["seen_s_ago"] = std::chrono::duration_cast<std::chrono::seconds>(
                            net::steady_clock::now() - e->last_seen)
                            .count();
      peers.emplace_back(std::move(p));
    }
    bucket["peers"] = std::move(peers);
    buckets.emplace_back(std::move(bucket));
  }
  o["buckets"] = std::move(buckets);
  o["records"] = k->records().size();
  o["provider_records"] = k->providers().records();
  const auto& st = k->stats();
  o["requests_served"] = st.requests_served;
  o["requests_refused"] = st.requests_refused;
  o["rate_limited"] = st.rate_limited;
  o["requests_sent"] = st.requests_sent;
  o["requests_failed"] = st.requests_failed;
  o["lookups"] = st.lookups;
  o["records_published"] = st.records_published;
  return json::serialize(o);
}

net::awaitable<http_answer> control_server::dht_find_peer(const command& cmd) {
  auto* k = d_.dht();
  const peer_id target = *cmd.peer;
  // 1. its signed peer record (GET_VALUE lookup); 2. addresses a FIND_NODE
  //    lookup turns up (servers only: a client is in no table).
  auto getting = k->find_peer_record(target);
  auto rec = co_await std::move(getting);
  auto finding = k->find_peer(target);
  const auto found = co_await std::move(finding);
  if (!rec && found.empty())
    co_return error_answer({404, "peer " + target.to_string() +
                                     " not found in the DHT (no peer record, and no server "
                                     "knows its address)", {}});
  co_return json_answer(200, dht_find_peer_json(target, rec, found));
}

net::awaitable<http_answer> control_server::dht_providers(const command& cmd) {
  auto* k = d_.dht();
  auto finding = k->find_providers(dht::namespace_key(cmd.key), 20);
  const auto found = co_await std::move(finding);
  co_return json_answer(200, dht_providers_json(cmd.key, found));
}

net::awaitable<http_answer> control_server::execute(const command& cmd) {
  if ((cmd.what == route::dht_status || cmd.what == route::dht_find_peer ||
       cmd.what == route::dht_providers) &&
      d_.dht() == nullptr)
    co_return error_answer({409, "the DHT is off (dht: enabled: false in the config)", {}});
  switch (cmd.what) {
    case route::status:
      co_return json_answer(200, app::to_json(d_.status()));
    case route::peers:
      co_return json_answer(200, peers_json());
    case route::services:
      co_return json_answer(200, services_json());
    case route::events:
      co_return json_answer(200, events_json());
    case route::auth_list:
      co_return auth_list();
    case route::auth_add: {
      std::vector<app::service_name> svcs;
      for (const auto& s : cmd.services) svcs.push_back(*app::service_name::parse(s));
      app::authorized_key key{*cmd.peer, std::move(svcs), cmd.comment, 0};
      try {
        d_.authorize(key);
      } catch (const std::exception& e) {
        co_return error_answer({400, e.what(), {}});
      }
      json::object o;
      o["authorized"] = cmd.peer->to_string();
      o["authorized_peers"] = d_.policy().peer_count();
      co_return json_answer(200, json::serialize(o));
    }
    case route::auth_remove: {
      int removed = 0;
      try {
        removed = d_.deauthorize(*cmd.peer);
      } catch (const std::exception& e) {
        co_return error_answer({400, e.what(), {}});
      }
      if (removed == 0)
        co_return error_answer(
            {404, cmd.peer->to_string() + " is not in " +
                      d_.cfg().authorized_keys.resolved.string(), {}});
      json::object o;
      o["removed"] = cmd.peer->to_string();
      o["lines"] = removed;
      o["authorized_peers"] = d_.policy().peer_count();
      co_return json_answer(200, json::serialize(o));
    }
    case route::ping:
      co_return co_await ping(cmd);
    case route::traceroute:
      co_return co_await traceroute(cmd);
    case route::reload: {
      const bool ok = d_.reload("control socket");
      json::object o;
      o["reloaded"] = ok;
      if (!ok) {
        o["error"] = "reload refused, the running configuration stays: " + d_.last_reload_error();
        co_return json_answer(409, json::serialize(o));
      }
      o["services"] = d_.cfg().services.size();
      o["authorized_peers"] = d_.policy().peer_count();
      co_return json_answer(200, json::serialize(o));
    }
    case route::connect:
      co_return co_await connect(cmd);
    case route::dht_status:
      co_return json_answer(200, dht_json());
    case route::dht_find_peer:
      co_return co_await dht_find_peer(cmd);
    case route::dht_providers:
      co_return co_await dht_providers(cmd);
    case route::disconnect: {
      std::optional<peer_id> peer;
      if (auto id = peer_id::parse(cmd.target)) peer = *id;
      if (!peer) {
        auto it = d_.cfg().names.find(cmd.target);
        if (it != d_.cfg().names.end()) peer = it->second.peer;
      }
      if (!peer) co_return error_answer({404, "no peer or name \"" + cmd.target + "\"", {}});
      const auto n = d_.host().connections(*peer).size();
      if (n == 0)
        co_return error_answer({404, "not connected to " + peer->to_string(), {}});
      d_.host().close_connections(*peer);
      d_.note_event("disconnected " + peer->to_string() + " via the control socket");
      json::object o;
      o["disconnected"] = peer->to_string();
      o["connections"] = n;
      co_return json_answer(200, json::serialize(o));
    }
  }
  co_return error_answer({500, "unhandled route", {}});
}

metrics_listener::metrics_listener(net::asio::any_io_executor ex, const net::tcp::endpoint& ep,
                                   std::function<std::string()> render)
    : acceptor_(bind_tcp(ex, ep, "metrics")), render_(std::move(render)) {
  auto alive = alive_;
  auto a = acceptor_;
  net::asio::co_spawn(
      ex,
      [a, alive, this]() -> net::awaitable<void> {
        while (*alive && a->is_open()) {
          auto [ec, s] = co_await a->async_accept(net::use_nothrow);
          if (!*alive || ec == net::asio::error::operation_aborted) co_return;
          if (ec) continue;
          auto sex = s.get_executor();  // before the move below: argument order is unspecified
          net::asio::co_spawn(
              sex,
              http_session(std::move(s),
                           [this, alive](http_request_view req) -> net::awaitable<http_answer> {
                             if (!*alive) co_return error_answer({503, "stopping", {}});
                             if (req.target != "/metrics")
                               co_return error_answer({404, "only /metrics here", {}});
                             if (req.method != "GET" && req.method != "HEAD")
                               co_return error_answer({405, "use GET", "GET"});
                             co_return http_answer{200,
                                                   "text/plain; version=0.0.4; charset=utf-8",
                                                   render_(), {}};
                           }),
              net::asio::detached);
        }
      },
      net::asio::detached);
}

metrics_listener::~metrics_listener() {
  *alive_ = false;
  boost::system::error_code ec;
  acceptor_->close(ec);
}

}  // namespace peerup::control
