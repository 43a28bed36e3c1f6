// peerup daemon / status.
#include <csignal>
#include <cstdlib>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <boost/json.hpp>
#include <fstream>
#include <iostream>

#include "cli/app_support.hpp"
#include "cli/runtime.hpp"
#include "config/authorized_keys.hpp"
#include "control/client.hpp"
#include "control/server.hpp"
#include "control/systemd_notify.hpp"
#include "node/daemon.hpp"
#include "tun/network.hpp"

namespace peerup::cli {

namespace {

// Busy polling of the event loop (runtime.hpp run_main): only in network
// mode, where one packet's reply comes back within a fraction of a
// millisecond. PEERUP_BUSY_POLL_US sets it (0-1000 us; 0 turns it off).
std::chrono::microseconds busy_poll(bool network_mode) {
  constexpr long fallback = 0;
  if (!network_mode) return {};
  long us = fallback;
  if (const char* v = std::getenv("PEERUP_BUSY_POLL_US")) {
    char* end = nullptr;
    const long parsed = std::strtol(v, &end, 10);
    // SECURITY: bounded; anything else keeps the default.
    if (end && *end == '\0' && end != v && parsed >= 0 && parsed <= 1000) us = parsed;
  }
  return std::chrono::microseconds(us);
}

int run_daemon(bool tun) {
  auto cfg = load_cli_config();
  if (tun) cfg.network.tun = true;
  net::asio::io_context io;
  control::systemd_notifier notify(io.get_executor());
  const auto server_opts = control::server_options_for(cfg);
  app::daemon_options opts;
  app::daemon* dp = nullptr;
  std::unique_ptr<control::control_server> control;
  opts.hooks.ready = [&] {
    // The control socket, /metrics and the page. The daemon's job is serving
    // peers, so a failure here (a folder it cannot write, a taken port) is
    // logged and the daemon runs on without them, as it does when it cannot
    // write status.json; `peerup status` then falls back to that file.
    control = std::make_unique<control::control_server>(*dp, server_opts);
    try {
      control->start();
    } catch (const std::exception& e) {
      spdlog::error("{}; running without it", e.what());
    }
    if (auto ep = control->metrics_endpoint())
      std::cout << "metrics " << ep->address().to_string() << ":" << ep->port() << "\n";
    if (auto ep = control->status_page_endpoint())
      std::cout << "status_page " << ep->address().to_string() << ":" << ep->port() << "\n";
    notify.ready(fmt::format("serving {} services", dp->cfg().services.size()));
  };
  opts.hooks.reloading = [&] { notify.reloading(); };
  opts.hooks.reloaded = [&] {
    notify.ready(dp->last_reload_error().empty() ? "reloaded"
                                                  : "reload failed: " + dp->last_reload_error());
  };
  opts.hooks.stopping = [&] {
    notify.stopping();
    if (control) control->stop();
  };
  // Built outside the coroutine so start-up errors (file modes, bad keys, no
  // TUN device or privilege) surface as one clear message before anything
  // listens.
  app::daemon d(io.get_executor(), std::move(cfg), opts);
  dp = &d;
  std::unique_ptr<tun::network> network;
  if (d.running_config().network.tun) {
    network = std::make_unique<tun::network>(
        d.host(), d.running_config(), d.policy().network_peers(),
        [&d](const peer_id& p) { return d.policy().may_use_network(p); });
    network->start();
    d.on_stop([&network] { network->stop(); });
    d.set_network_status([&network, &d] {
      return network->status([&d](const peer_id& p) { return d.name_of(p); });
    });
  }
  const int rc = run_main([&d] { return d.run(); }, io, busy_poll(network != nullptr));
  control.reset();  // before the daemon it reads
  return rc;
}

// The daemon's answer on the control socket; nullopt when none runs.
std::optional<std::string> ask_daemon(const app::config& cfg, const char* method,
                                      const std::string& target, const std::string& body = {}) {
  auto r = control::call_daemon(cfg.dir(), method, target, body);
  if (!r) return std::nullopt;
  if (r->status != 200) throw std::runtime_error(control::error_message(*r));
  return r->body;
}

int show_page_link(const app::config& cfg) {
  if (!cfg.status_page) {
    std::cerr << "peerup: no status page: add `status_page: 127.0.0.1:9465` to "
              << cfg.file.string() << " and restart the daemon\n";
    return 2;
  }
  std::ifstream f(control::cookie_path(cfg.dir()));
  std::string cookie;
  if (!f || !std::getline(f, cookie) || cookie.size() != 64) {
    std::cerr << "peerup: cannot read " << control::cookie_path(cfg.dir()).string()
              << " (is the daemon running, and are you its user?)\n";
    return 3;
  }
  std::cout << "http://" << cfg.status_page->to_string() << "/login?token=" << cookie << "\n";
  return 0;
}

int show_status(bool json, bool page) {
  const auto cfg = load_cli_config();
  if (page) return show_page_link(cfg);
  // 1. the control socket, when a daemon runs: a live answer
  if (auto live = ask_daemon(cfg, "GET", "/v1/status")) {
    auto s = app::parse_status(*live);
    if (!s) throw std::runtime_error("the daemon's status is not a status document");
    if (json)
      std::cout << *live << "\n";
    else
      std::cout << app::render_status(*s);
    return 0;
  }
  // 2. status.json, which the daemon rewrites every 2 s (also for daemons
  //    whose socket this user cannot open)
  const auto path = app::status_file_path(cfg.dir());
  std::string text;
  try {
    text = app::read_small_file(path, app::max_status_file);
  } catch (const std::exception&) {
    std::cerr << "peerup: daemon not running (no " << path.string() << ")\n";
    return 3;
  }
  auto s = app::parse_status(text);
  if (!s) {
    std::cerr << "peerup: " << path.string() << " is not a status file\n";
    return 1;
  }
  const bool pid_alive =
      s->pid > 0 && (::kill(static_cast<pid_t>(s->pid), 0) == 0 || errno == EPERM);
  const auto now = app::unix_now();
  if (!pid_alive || now > s->updated_unix + app::status_stale_after_s) {
    std::cerr << "peerup: daemon not running (status in " << path.string() << " is stale)\n";
    return 3;
  }
  if (json)
    std::cout << text;
  else
    std::cout << app::render_status(*s);
  return 0;
}

int show_peers(bool json) {
  const auto cfg = load_cli_config();
  auto live = ask_daemon(cfg, "GET", "/v1/peers");
  if (!live) {
    std::cerr << "peerup: daemon not running (no control socket at "
              << control::control_socket_path(cfg.dir()).string() << ")\n";
    return 3;
  }
  if (json) {
    std::cout << *live << "\n";
    return 0;
  }
  const auto v = boost::json::parse(*live);
  std::cout << fmt::format("{:<54} {:<10} {:<8} {:<8} {:>8} {:>7} {:>12} {:>12}\n", "PEER", "NAME",
                           "PATH", "TRANSP", "RTT", "STREAMS", "BYTES IN", "BYTES OUT");
  for (const auto& p : v.as_array()) {
    const auto& o = p.as_object();
    const auto rtt = o.at("rtt_ms").is_null() ? std::string("-")
                                              : std::to_string(o.at("rtt_ms").to_number<long>()) + " ms";
    std::cout << fmt::format("{:<54} {:<10} {:<8} {:<8} {:>8} {:>7} {:>12} {:>12}\n",
                             std::string(o.at("peer").as_string()),
                             std::string(o.at("name").as_string()),
                             std::string(o.at("path").as_string()),
                             std::string(o.at("transport").as_string()), rtt,
                             o.at("streams").to_number<long>(), o.at("bytes_in").to_number<long>(),
                             o.at("bytes_out").to_number<long>());
  }
  if (v.as_array().empty()) std::cout << "(no connections)\n";
  return 0;
}

int show_traceroute(const std::string& target) {
  const auto cfg = load_cli_config();
  boost::json::object req;
  req["peer"] = target;
  auto live = ask_daemon(cfg, "POST", "/v1/traceroute", boost::json::serialize(req));
  if (!live) {
    std::cerr << "peerup: traceroute needs a running daemon (no control socket at "
              << control::control_socket_path(cfg.dir()).string() << ")\n";
    return 3;
  }
  const auto v = boost::json::parse(*live).as_object();
  std::cout << "traceroute to " << std::string(v.at("peer").as_string()) << " ("
            << std::string(v.at("path").as_string()) << ")\n";
  for (const auto& h : v.at("hops").as_array()) {
    const auto& o = h.as_object();
    std::string rtt = o.contains("rtt_ms")
                          ? fmt::format("{:.3f} ms", o.at("rtt_ms").to_number<double>())
                          : "error: " + std::string(o.at("error").as_string());
    std::cout << fmt::format(" {}  {:<20} {}  {}  {}\n", o.at("hop").to_number<long>(),
                             std::string(o.at("kind").as_string()),
                             std::string(o.at("peer").as_string()),
                             o.contains("addr") ? std::string(o.at("addr").as_string()) : "",
                             rtt);
  }
  return 0;
}

}  // namespace

void add_daemon_commands(CLI::App& app) {
  auto* daemon = app.add_subcommand(
      "daemon", "serve the configured services to authorized peers (SIGHUP reloads)");
  auto tun = std::make_shared<bool>(false);
  daemon->add_flag("--tun", *tun,
                   "network mode: a TUN interface with an address per authorized peer "
                   "(network: in the config; needs CAP_NET_ADMIN; docs/network-mode.md)");
  daemon->callback([daemon, tun] {
    default_log_level_info(*daemon);
    if (int rc = run_daemon(*tun); rc != 0) std::exit(rc);
  });

  auto json = std::make_shared<bool>(false);
  auto page = std::make_shared<bool>(false);
  auto* status = app.add_subcommand("status", "show what the running daemon is doing");
  status->add_flag("--json", *json, "print the daemon's status JSON");
  status->add_flag("--page", *page, "print the status page's login link (status_page: in config)");
  status->callback([json, page] {
    if (int rc = show_status(*json, *page); rc != 0) std::exit(rc);
  });

  auto peers_json = std::make_shared<bool>(false);
  auto* peers = app.add_subcommand("peers", "list the running daemon's connections (path, RTT, bytes)");
  peers->add_flag("--json", *peers_json, "print the JSON of the control API");
  peers->callback([peers_json] {
    if (int rc = show_peers(*peers_json); rc != 0) std::exit(rc);
  });

  auto trace_target = std::make_shared<std::string>();
  auto* trace = app.add_subcommand(
      "traceroute", "the hops to a peer through the running daemon: relay and target, with RTTs");
  trace->add_option("target", *trace_target, "peer ID or name")->required();
  trace->callback([trace_target] {
    if (int rc = show_traceroute(*trace_target); rc != 0) std::exit(rc);
  });
}

}  // namespace peerup::cli
