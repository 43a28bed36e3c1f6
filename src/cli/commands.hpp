// Each subcommand group registers itself on the CLI11 app.
#pragma once

#include <CLI/CLI.hpp>

namespace peerup::cli {

void add_identity_commands(CLI::App& app);      // keygen, whoami
void add_diag_commands(CLI::App& app);          // ping, perf
void add_relay_server_commands(CLI::App& app);  // relay serve|authorize|deauthorize|list-peers
void add_resolve_command(CLI::App& app);        // resolve <name> (src/cli/cmd_resolve.cpp)
void add_gateway_command(CLI::App& app);        // gateway (SOCKS5 + DNS, src/cli/cmd_gateway.cpp)
void add_doctor_command(CLI::App& app);         // doctor (src/cli/cmd_doctor.cpp)
void add_completion_command(CLI::App& app);     // completion bash|zsh|commands (generated from this tree)
void add_pair_commands(CLI::App& app);          // invite, join (src/cli/cmd_pair.cpp)
void add_dht_commands(CLI::App& app);           // dht find-peer|providers|status (cmd_dht.cpp)
// --config, init, auth, service, name, relay add|remove|list, daemon, status,
// proxy, connect (src/cli/cmd_app.cpp and the cmd_* files it calls).
void add_app_commands(CLI::App& app);
// The `relay` subcommand group, created by whichever file asks first, so
// several files can add subcommands to it.
CLI::App& relay_group(CLI::App& app);
// The value of the global --config option ("" when not given).
const std::string& config_flag();

}  // namespace peerup::cli
