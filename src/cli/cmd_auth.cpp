// peerup auth add|remove|list|validate: editing authorized_keys. Edits keep
// every other line (and comments) as they are; the running daemon notices
// the change within a few seconds.
#include <fmt/format.h>

#include <iostream>

#include "cli/app_support.hpp"
#include "config/authorized_keys.hpp"
#include "config/identity_file.hpp"

namespace peerup::cli {

namespace fs = std::filesystem;

namespace {

std::string read_or_empty(const fs::path& p) {
  if (!fs::exists(p)) return {};
  return app::read_small_file(p, app::authorized_keys_limits::max_file_size);
}

peer_id parse_peer(const std::string& text) {
  auto id = peer_id::parse(text);
  if (!id) throw std::runtime_error("\"" + text + "\" is not a peer ID (12D3KooW...)");
  return *id;
}

std::string name_of(const app::config& cfg, const peer_id& p) {
  for (const auto& [name, t] : cfg.names)
    if (t.peer == p) return name;
  return {};
}

// Every authorized_keys file of the config: the main one, then per service.
std::vector<std::pair<fs::path, std::optional<app::service_name>>> key_files(
    const app::config& cfg) {
  std::vector<std::pair<fs::path, std::optional<app::service_name>>> out;
  out.emplace_back(cfg.authorized_keys.resolved, std::nullopt);
  for (const auto& [name, svc] : cfg.services)
    if (svc.authorized_keys) out.emplace_back(svc.authorized_keys->resolved, svc.name);
  return out;
}

void add_peer(const std::string& peer_text, const std::string& comment,
              const std::vector<std::string>& services) {
  const auto cfg = load_cli_config();
  app::authorized_key key{parse_peer(peer_text), {}, comment, 0};
  for (const auto& s : services) {
    auto name = app::service_name::parse(s);
    if (!name) throw std::runtime_error("\"" + s + "\" is not a valid service name");
    if (!cfg.services.count(s))
      std::cerr << "warning: service \"" << s << "\" is not in " << cfg.file.string() << "\n";
    key.services.push_back(*name);
  }
  const auto& path = cfg.authorized_keys.resolved;
  const auto text = app::upsert_authorized_key_checked(read_or_empty(path), key);
  app::write_private_file(path, text);
  std::cout << "authorized " << key.peer.to_string() << " for "
            << (services.empty() ? "all services"
                                 : "service " + fmt::format("{}", fmt::join(services, ",")))
            << " in " << path.string() << "\n";
}

void remove_peer(const std::string& peer_text) {
  const auto cfg = load_cli_config();
  const auto peer = parse_peer(peer_text);
  const auto& path = cfg.authorized_keys.resolved;
  int removed = 0;
  const auto text = app::remove_authorized_key(read_or_empty(path), peer, removed);
  if (removed == 0) throw std::runtime_error(peer.to_string() + " is not in " + path.string());
  app::write_private_file(path, text);
  std::cout << "removed " << peer.to_string() << " from " << path.string() << "\n";
}

void list_peers() {
  const auto cfg = load_cli_config();
  for (const auto& [path, only] : key_files(cfg)) {
    std::cout << "# " << path.string() << (only ? " (service " + only->str() + " only)" : "")
              << "\n";
    const auto parsed = app::parse_authorized_keys(read_or_empty(path));
    for (const auto& k : parsed.entries) {
      std::string services = "*";
      if (!k.services.empty()) {
        services.clear();
        for (const auto& s : k.services) services += (services.empty() ? "" : ",") + s.str();
      }
      if (only) services = only->str();
      const auto name = name_of(cfg, k.peer);
      std::cout << fmt::format("{}  services={}{}{}\n", k.peer.to_string(), services,
                               name.empty() ? "" : "  name=" + name,
                               k.comment.empty() ? "" : "  # " + k.comment);
    }
    if (!parsed.problems.empty())
      std::cout << "# " << parsed.problems.size() << " bad lines: run peerup auth validate\n";
  }
}

int validate_files() {
  const auto cfg = load_cli_config();
  int problems = 0;
  std::size_t entries = 0;
  for (const auto& [path, only] : key_files(cfg)) {
    if (!fs::exists(path)) {
      std::cout << path.string() << ": does not exist\n";
      ++problems;
      continue;
    }
    try {
      app::check_private_file_mode(path, "authorized_keys");
    } catch (const std::exception& e) {
      std::cout << e.what() << "\n";
      ++problems;
    }
    const auto parsed = app::parse_authorized_keys(read_or_empty(path));
    for (const auto& p : parsed.problems) {
      std::cout << path.string() << ":" << p.line << ": " << p.message << "\n";
      ++problems;
    }
    for (const auto& k : parsed.entries)
      for (const auto& s : k.services)
        if (!cfg.services.count(s.str()))
          std::cout << path.string() << ":" << k.line << ": warning: service \"" << s.str()
                    << "\" is not in the config\n";
    entries += parsed.entries.size();
  }
  if (problems) {
    std::cout << problems << " problem(s)\n";
    return 1;
  }
  std::cout << "OK: " << entries << " entries\n";
  return 0;
}

}  // namespace

void add_auth_commands(CLI::App& app) {
  auto* auth = app.add_subcommand("auth", "manage authorized_keys (who may connect)");
  auth->require_subcommand(1);

  struct add_options {
    std::string peer, comment;
    std::vector<std::string> services;
  };
  auto a = std::make_shared<add_options>();
  auto* add_cmd = auth->add_subcommand("add", "allow a peer (all services, or --service ones)");
  add_cmd->add_option("peer-id", a->peer, "peer ID to allow")->required();
  add_cmd->add_option("--comment", a->comment, "text kept after the peer ID");
  add_cmd->add_option("--service", a->services, "allow only this service (repeatable)");
  add_cmd->callback([a] { add_peer(a->peer, a->comment, a->services); });

  auto r = std::make_shared<std::string>();
  auto* remove_cmd = auth->add_subcommand("remove", "remove every line of a peer");
  remove_cmd->add_option("peer-id", *r, "peer ID to remove")->required();
  remove_cmd->callback([r] { remove_peer(*r); });

  auth->add_subcommand("list", "list authorized peers")->callback([] { list_peers(); });
  auth->add_subcommand("validate", "check authorized_keys files; report bad lines")->callback([] {
    if (int rc = validate_files(); rc != 0) std::exit(rc);
  });
}

}  // namespace peerup::cli
