// The application commands' shared pieces: --config, config loading, the
// relay group and the client host.
#include <spdlog/spdlog.h>

#include "cli/app_support.hpp"
#include "protocols/relay_client.hpp"

namespace peerup::cli {

namespace {
std::string& config_flag_storage() {
  static std::string value;
  return value;
}
}  // namespace

const std::string& config_flag() { return config_flag_storage(); }

void add_app_commands(CLI::App& app) {
  app.add_option("--config", config_flag_storage(),
                 "config file (default: $PEERUP_CONFIG, ./peerup.yaml, "
                 "~/.config/peerup/config.yaml, /etc/peerup/config.yaml)");
  add_init_command(app);
  add_auth_commands(app);
  add_config_edit_commands(app);
  add_daemon_commands(app);
  add_client_commands(app);
}

CLI::App& relay_group(CLI::App& app) {
  auto found = app.get_subcommands([](CLI::App* a) { return a->get_name() == "relay"; });
  if (!found.empty()) return *found.front();
  auto* group = app.add_subcommand(
      "relay", "relays: those this node uses (add, remove, list) and running one");
  group->require_subcommand(1);
  return *group;
}

app::config load_cli_config() {
  const auto path = app::find_config(config_flag());
  auto cfg = app::load_config(path);
  if (!cfg) throw std::runtime_error(cfg.error().to_string());
  return std::move(*cfg);
}

std::optional<app::config> load_cli_config_if_any() {
  const bool explicit_choice = !config_flag().empty() || std::getenv("PEERUP_CONFIG");
  try {
    app::find_config(config_flag());
  } catch (const std::exception&) {
    if (explicit_choice) throw;
    return std::nullopt;
  }
  return load_cli_config();
}

std::unique_ptr<net::host> make_client_host(net::asio::any_io_executor ex,
                                            const private_key& identity) {
  auto h = std::make_unique<net::host>(ex, net::host_config{.identity = identity});
  protocols::install_circuit_dialer(*h);
  return h;
}

void default_log_level_info(CLI::App& sub) {
  const CLI::App* root = &sub;
  while (root->get_parent()) root = root->get_parent();
  const auto* opt = root->get_option_no_throw("--log-level");
  if (!opt || opt->count() == 0) spdlog::set_level(spdlog::level::info);
}

}  // namespace peerup::cli
