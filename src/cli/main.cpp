// peerup: one binary, subcommands. See docs/ for the user guide.
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <iostream>

#include "cli/commands.hpp"
#include "common/version.hpp"

int main(int argc, char** argv) {
  CLI::App app{"peerup: reach your own services behind CGNAT over libp2p"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "peerup " + std::string(peerup::version));
  std::string log_level = "warn";
  app.add_option("--log-level", log_level, "trace, debug, info, warn, error")
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error", "off"}));
  app.parse_complete_callback([&] { spdlog::set_level(spdlog::level::from_str(log_level)); });
  spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%l%$ %v");
  spdlog::set_default_logger(spdlog::stderr_color_mt("peerup"));
  spdlog::set_level(spdlog::level::warn);

  app.fallthrough();  // global options (--config, --log-level) may follow the subcommand
  peerup::cli::add_identity_commands(app);
  peerup::cli::add_diag_commands(app);
  peerup::cli::add_app_commands(app);
  peerup::cli::add_relay_server_commands(app);
  peerup::cli::add_resolve_command(app);
  peerup::cli::add_gateway_command(app);
  peerup::cli::add_pair_commands(app);
  peerup::cli::add_dht_commands(app);
  peerup::cli::add_doctor_command(app);
  peerup::cli::add_completion_command(app);  // last: it lists every command added before
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  } catch (const std::exception& e) {
    std::cerr << "peerup: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
