// peerup init: a new node directory with identity key, config and
// authorized_keys.
#include <sys/stat.h>

#include <fstream>
#include <iostream>

#include "cli/app_support.hpp"
#include "config/authorized_keys.hpp"
#include "config/file_write.hpp"
#include "config/identity_file.hpp"

namespace peerup::cli {

namespace fs = std::filesystem;

namespace {

const char* const authorized_keys_header =
    "# Peers allowed to connect to this node: one peer ID per line.\n"
    "#   12D3KooW...                        all services\n"
    "#   service=ssh,web 12D3KooW... laptop  only ssh and web; the rest is a comment\n"
    "# Manage with: peerup auth add|remove|list|validate. Keep this file mode 0600.\n";

}  // namespace

void add_init_command(CLI::App& app) {
  struct options {
    std::string dir;
    bool force = false;
  };
  auto o = std::make_shared<options>();
  auto* init = app.add_subcommand(
      "init", "create identity key, config.yaml and authorized_keys; print the peer ID");
  init->add_option("--dir", o->dir, "directory (default: ~/.config/peerup)");
  init->add_flag("--force", o->force, "overwrite an existing identity key and config.yaml");
  init->callback([o] {
    const fs::path dir = o->dir.empty() ? app::default_config_dir() : fs::path(o->dir);
    auto cfg = app::default_config(dir);
    if (!o->force) {
      for (const auto& p : {cfg.identity_key.resolved, cfg.file})
        if (fs::exists(p))
          throw std::runtime_error(p.string() +
                                   " already exists; refusing to overwrite it (use --force)");
    }
    fs::create_directories(dir);
    ::chmod(dir.c_str(), 0700);
    auto key = private_key::generate();
    app::save_identity(cfg.identity_key.resolved, key, o->force);
    app::replace_file(cfg.file, app::render_config(cfg));  // 0600; --force keeps the mode
    // authorized_keys holds decisions the user made: never clobber it.
    if (!fs::exists(cfg.authorized_keys.resolved))
      app::write_private_file(cfg.authorized_keys.resolved, authorized_keys_header);
    std::cout << key.to_peer_id().to_string() << std::endl;
    std::cerr << "created " << cfg.identity_key.resolved.string() << " (mode 0600), "
              << cfg.file.string() << " and " << cfg.authorized_keys.resolved.string() << "\n";
  });
}

}  // namespace peerup::cli
