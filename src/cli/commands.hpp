// Each subcommand group registers itself on the CLI11 app.
#pragma once

#include <CLI/CLI.hpp>

namespace peerup::cli {

void add_identity_commands(CLI::App& app);  // keygen, whoami
void add_diag_commands(CLI::App& app);      // ping, perf

}  // namespace peerup::cli
