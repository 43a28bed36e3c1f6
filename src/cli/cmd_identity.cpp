// peerup keygen / whoami.
#include <iostream>

#include "cli/app_support.hpp"
#include "cli/commands.hpp"
#include "config/identity_file.hpp"

namespace peerup::cli {

void add_identity_commands(CLI::App& app) {
  auto* keygen = app.add_subcommand("keygen", "create an Ed25519 identity key file (mode 0600)");
  auto key_path = std::make_shared<std::string>("identity.key");
  auto force = std::make_shared<bool>(false);
  keygen->add_option("--key,-k", *key_path, "key file to write")->capture_default_str();
  keygen->add_flag("--force", *force, "overwrite an existing key");
  keygen->callback([key_path, force] {
    auto key = private_key::generate();
    app::save_identity(*key_path, key, *force);
    std::cout << key.to_peer_id().to_string() << "\n";
  });

  auto* whoami = app.add_subcommand("whoami", "print the peer ID of an identity key file");
  auto who_path = std::make_shared<std::string>();
  whoami->add_option("--key,-k", *who_path, "key file to read (default: the config's identity_key)");
  whoami->callback([who_path] {
    const auto path =
        who_path->empty() ? load_cli_config().identity_key.resolved : std::filesystem::path(*who_path);
    std::cout << app::load_identity(path).to_peer_id().to_string() << "\n";
  });
}

}  // namespace peerup::cli
