// The daemon's operations surface (issue 16, docs/operations.md):
// - the control API: JSON over HTTP/1.1 on the Unix socket <dir>/control.sock,
//   mode 0600. A client of the daemon's own uid is trusted; any other uid
//   (root, or one an admin let in with an ACL) must send the cookie of
//   <dir>/control.cookie (0600, new at every start);
// - /metrics (config `metrics:`), the Prometheus text format, unauthenticated
//   as Prometheus expects, on the address given (loopback by default);
// - the status page (config `status_page:`, loopback only): one HTML page and
//   the read-only GET routes of the API, all behind the same cookie.
//
// Contract: every member runs on the daemon's executor; the server must be
// stopped (or destroyed) before the daemon.
#pragma once

#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "control/api.hpp"
#include "control/http_session.hpp"
#include "control/metrics.hpp"
#include "dht/provider_store.hpp"
#include "node/daemon.hpp"
#include "wire/peer_record.hpp"

namespace peerup::app {
class name_resolver;
}

namespace peerup::control {

// The bodies of POST /v1/dht/find-peer and /v1/dht/providers; `peerup dht`
// prints the same when it runs a one-shot DHT client instead.
std::string dht_find_peer_json(const peer_id& peer, const std::optional<wire::peer_record>& rec,
                               const std::vector<multiaddr>& routing_addrs);
std::string dht_providers_json(const std::string& key, const std::vector<dht::provider>& found);

std::filesystem::path control_socket_path(const std::filesystem::path& config_dir);
std::filesystem::path cookie_path(const std::filesystem::path& config_dir);

struct server_options {
  std::filesystem::path socket;  // default: control_socket_path(cfg.dir())
  std::filesystem::path cookie;  // default: cookie_path(cfg.dir())
  std::optional<net::tcp::endpoint> metrics;
  std::optional<net::tcp::endpoint> status_page;
};

// The daemon's config as server options: `metrics:` and `status_page:`
// turned into endpoints. Throws std::runtime_error naming the key.
server_options server_options_for(const app::config& cfg);

// /metrics on a TCP listener: the daemon's (config `metrics:`) and the
// relay's (`peerup relay serve --metrics`).
class metrics_listener {
 public:
  // Binds `ep`; throws std::runtime_error naming it on failure. `render` runs
  // on the executor for each scrape.
  metrics_listener(net::asio::any_io_executor ex, const net::tcp::endpoint& ep,
                   std::function<std::string()> render);
  ~metrics_listener();
  net::tcp::endpoint local_endpoint() const { return acceptor_->local_endpoint(); }

 private:
  std::shared_ptr<net::tcp::acceptor> acceptor_;
  std::function<std::string()> render_;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

class control_server {
 public:
  control_server(app::daemon& d, server_options opts);
  ~control_server();
  control_server(const control_server&) = delete;
  control_server& operator=(const control_server&) = delete;

  // 1. remove a stale socket file (refusing when a live daemon answers on it)
  // 2. write a fresh cookie file (0600)
  // 3. bind the socket, chmod 0600, listen
  // 4. bind /metrics and the status page, if configured
  // Throws std::runtime_error naming the path or address and the fix.
  void start();
  // Closes the listeners and removes the socket and cookie files.
  void stop();

  // Collects the daemon's counters into a registry and renders it.
  std::string render_metrics();
  const std::string& cookie() const { return cookie_; }
  std::optional<net::tcp::endpoint> metrics_endpoint() const;
  std::optional<net::tcp::endpoint> status_page_endpoint() const;

  // Answers one API request (exposed for the tests; the listeners call it).
  // `trusted`: the client runs as the daemon's uid.
  net::awaitable<http_answer> handle_api(http_request_view req, bool trusted, bool read_only);

 private:
  net::awaitable<void> accept_unix();
  net::awaitable<void> accept_page(std::shared_ptr<net::tcp::acceptor> a);
  net::awaitable<http_answer> handle_page(http_request_view req, std::uint16_t port);
  net::awaitable<http_answer> execute(const command& cmd);
  net::awaitable<http_answer> ping(const command& cmd);
  net::awaitable<http_answer> traceroute(const command& cmd);
  net::awaitable<http_answer> connect(const command& cmd);
  net::awaitable<http_answer> dht_find_peer(const command& cmd);
  net::awaitable<http_answer> dht_providers(const command& cmd);
  std::string dht_json();
  // The open connection to `target` (peer ID or name), dialing it through
  // the resolver when there is none. `reused` says which.
  net::awaitable<result<net::connection_ptr>> connection_to(const std::string& target,
                                                            bool& reused, std::string& why);
  std::string peers_json();
  std::string services_json();
  std::string events_json();
  http_answer auth_list();

  app::daemon& d_;
  server_options opts_;
  std::string cookie_;
  std::unique_ptr<net::asio::local::stream_protocol::acceptor> unix_;
  std::optional<metrics_listener> metrics_;
  std::shared_ptr<net::tcp::acceptor> page_;
  std::unique_ptr<app::name_resolver> resolver_;
  // Connections opened since start, by direction/transport/path.
  std::map<std::vector<std::string>, std::uint64_t> opened_;
  bool started_ = false;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

// The HTML of the status page (control/status_page.cpp).
std::string_view status_page_html();

}  // namespace peerup::control
