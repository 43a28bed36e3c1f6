// peerup daemon / status.
#include <csignal>

#include <iostream>

#include "cli/app_support.hpp"
#include "cli/runtime.hpp"
#include "config/authorized_keys.hpp"
#include "node/daemon.hpp"
#include "tun/network.hpp"

namespace peerup::cli {

namespace {

int run_daemon(bool tun) {
  auto cfg = load_cli_config();
  if (tun) cfg.network.tun = true;
  net::asio::io_context io;
  // Built outside the coroutine so start-up errors (file modes, bad keys, no
  // TUN device or privilege) surface as one clear message before anything
  // listens.
  app::daemon d(io.get_executor(), std::move(cfg));
  std::unique_ptr<tun::network> network;
  if (d.running_config().network.tun) {
    network = std::make_unique<tun::network>(
        d.host(), d.running_config(), d.policy()->network_peers(),
        [&d](const peer_id& p) { return d.policy()->may_use_network(p); });
    network->start();
    d.on_stop([&network] { network->stop(); });
  }
  return run_main([&d] { return d.run(); }, io);
}

int show_status(bool json) {
  const auto cfg = load_cli_config();
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
  auto* status = app.add_subcommand("status", "show what the running daemon is doing");
  status->add_flag("--json", *json, "print the daemon's status JSON");
  status->callback([json] {
    if (int rc = show_status(*json); rc != 0) std::exit(rc);
  });
}

}  // namespace peerup::cli
