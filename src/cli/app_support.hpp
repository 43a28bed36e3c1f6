// What the application subcommands (init, auth, service, name, relay, daemon,
// status, proxy, connect) share: the config lookup behind --config, and the
// client-side host.
#pragma once

#include <memory>
#include <optional>

#include "cli/commands.hpp"
#include "net/host.hpp"
#include "config/config.hpp"

namespace peerup::cli {

// Finds (--config, $PEERUP_CONFIG, ./peerup.yaml, ~/.config/peerup/config.yaml,
// /etc/peerup/config.yaml) and loads the config. Throws std::runtime_error
// with "<file>:<line>: ..." when it is invalid or missing.
app::config load_cli_config();
// Like load_cli_config, but nullopt when no config file exists anywhere.
std::optional<app::config> load_cli_config_if_any();

// A host for client commands: no listener, the given identity, and the
// /p2p-circuit dialer so relayed targets work.
std::unique_ptr<net::host> make_client_host(net::asio::any_io_executor ex,
                                            const private_key& identity);

// Raises the log level to info unless --log-level was given (daemons log
// who connected to what by default).
void default_log_level_info(CLI::App& sub);

// The groups add_app_commands registers, one file each.
void add_init_command(CLI::App& app);          // cmd_init.cpp
void add_auth_commands(CLI::App& app);         // cmd_auth.cpp
void add_config_edit_commands(CLI::App& app);  // cmd_config.cpp: service, name, relay
void add_daemon_commands(CLI::App& app);       // cmd_daemon.cpp: daemon, status
void add_client_commands(CLI::App& app);       // cmd_client.cpp: proxy, connect

}  // namespace peerup::cli
