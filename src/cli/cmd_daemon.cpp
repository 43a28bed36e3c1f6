// peerup daemon / status.
#include <csignal>

#include <iostream>

#include "cli/app_support.hpp"
#include "cli/runtime.hpp"
#include "config/authorized_keys.hpp"
#include "node/daemon.hpp"

namespace peerup::cli {

namespace {

int run_daemon() {
  auto cfg = load_cli_config();
  net::asio::io_context io;
  // Built outside the coroutine so start-up errors (file modes, bad keys)
  // surface as one clear message before anything listens.
  app::daemon d(io.get_executor(), std::move(cfg));
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
  daemon->callback([daemon] {
    default_log_level_info(*daemon);
    if (int rc = run_daemon(); rc != 0) std::exit(rc);
  });

  auto json = std::make_shared<bool>(false);
  auto* status = app.add_subcommand("status", "show what the running daemon is doing");
  status->add_flag("--json", *json, "print the daemon's status JSON");
  status->callback([json] {
    if (int rc = show_status(*json); rc != 0) std::exit(rc);
  });
}

}  // namespace peerup::cli
