// peerup service|name|relay ...: editing config.yaml from the command line.
// Each edit loads and validates the file, changes one thing and writes it
// back in canonical form (the previous version stays as config.yaml.bak).
#include <fmt/format.h>

#include <iostream>

#include "cli/app_support.hpp"

namespace peerup::cli {

namespace {

app::service_config& find_service(app::config& cfg, const std::string& name) {
  auto it = cfg.services.find(name);
  if (it == cfg.services.end())
    throw std::runtime_error("no service \"" + name + "\" in " + cfg.file.string() +
                             " (see: peerup service list)");
  return it->second;
}

multiaddr parse_relay(const std::string& text) {
  auto a = multiaddr::parse(text);
  if (!a) throw std::runtime_error("bad multiaddr \"" + text + "\": " + a.error().message());
  if (!a->peer() || a->is_relayed())
    throw std::runtime_error("relay address \"" + text + "\" must end in /p2p/<relay peer ID>");
  return *a;
}

// Saves, then re-reads what was written: an edit never leaves a file the
// daemon would refuse.
void save_checked(const app::config& cfg) {
  auto check = app::parse_config(app::render_config(cfg), cfg.file);
  if (!check)
    throw std::runtime_error("internal error, config not saved: " + check.error().to_string());
  app::save_config(cfg);
}

void add_service_commands(CLI::App& app) {
  auto* svc = app.add_subcommand("service", "services this node offers (config services:)");
  svc->require_subcommand(1);

  struct add_options {
    std::string name, address;
  };
  auto a = std::make_shared<add_options>();
  auto* add = svc->add_subcommand("add", "offer a local TCP service as /peerup/<name>/1.0.0");
  add->add_option("name", a->name, "service name (letters, digits, . _ -)")->required();
  add->add_option("address", a->address, "local host:port, e.g. 127.0.0.1:22")->required();
  add->callback([a] {
    auto cfg = load_cli_config();
    auto name = app::service_name::parse(a->name);
    if (!name) throw std::runtime_error("\"" + a->name + "\" is not a valid service name");
    auto addr = app::host_port::parse(a->address);
    if (!addr) throw std::runtime_error("expected host:port, got \"" + a->address + "\"");
    if (cfg.services.size() >= app::config_limits::max_services && !cfg.services.count(a->name))
      throw std::runtime_error("too many services");
    std::optional<app::file_ref> keys;
    std::uint64_t rate = 0;
    if (auto old = cfg.services.find(a->name); old != cfg.services.end()) {
      keys = old->second.authorized_keys;  // a per-service key file stays attached
      rate = old->second.rate_limit;       // and so does its bandwidth limit
      std::cerr << "replacing service " << a->name << "\n";
    }
    cfg.services.insert_or_assign(a->name, app::service_config{*name, *addr, true, keys, rate});
    save_checked(cfg);
    std::cout << "service " << a->name << " -> " << addr->to_string() << " (enabled)\n";
  });

  auto n = std::make_shared<std::string>();
  auto* remove = svc->add_subcommand("remove", "stop offering a service and forget it");
  remove->add_option("name", *n, "service name")->required();
  remove->callback([n] {
    auto cfg = load_cli_config();
    find_service(cfg, *n);
    cfg.services.erase(*n);
    save_checked(cfg);
    std::cout << "removed service " << *n << "\n";
  });
  for (const bool enable : {true, false}) {
    auto* sub = svc->add_subcommand(enable ? "enable" : "disable",
                                    enable ? "offer a service again" : "stop offering a service");
    sub->add_option("name", *n, "service name")->required();
    sub->callback([n, enable] {
      auto cfg = load_cli_config();
      find_service(cfg, *n).enabled = enable;
      save_checked(cfg);
      std::cout << "service " << *n << (enable ? " enabled\n" : " disabled\n");
    });
  }
  svc->add_subcommand("list", "list services")->callback([] {
    const auto cfg = load_cli_config();
    if (cfg.services.empty()) std::cout << "(no services)\n";
    for (const auto& [name, s] : cfg.services)
      std::cout << fmt::format("{:<16} {:<24} {:<9} {}{}\n", name, s.local_address.to_string(),
                               s.enabled ? "enabled" : "disabled", s.name.protocol().str(),
                               s.authorized_keys ? "  keys: " + s.authorized_keys->written : "");
  });
}

void add_name_commands(CLI::App& app) {
  auto* names = app.add_subcommand("name", "short names for peers (config names:)");
  names->require_subcommand(1);
  struct add_options {
    std::string name, target;
  };
  auto a = std::make_shared<add_options>();
  auto* add = names->add_subcommand("add", "name a peer");
  add->add_option("name", a->name, "the name")->required();
  add->add_option("peer-id", a->target, "peer ID (or multiaddr ending in /p2p/<peer-id>)")
      ->required();
  add->callback([a] {
    auto cfg = load_cli_config();
    if (!app::valid_name(a->name))
      throw std::runtime_error(
          "\"" + a->name + "\" is not a valid name (1-64 letters, digits, . _ -; not a peer ID)");
    std::optional<app::name_target> target;
    if (auto id = peer_id::parse(a->target)) {
      target = app::name_target{*id, std::nullopt};
    } else if (auto addr = multiaddr::parse(a->target); addr && addr->peer()) {
      target = app::name_target{*addr->peer(), *addr};
    } else {
      throw std::runtime_error("\"" + a->target +
                               "\" is neither a peer ID nor a multiaddr ending in /p2p/<peer-id>");
    }
    if (cfg.names.size() >= app::config_limits::max_names && !cfg.names.count(a->name))
      throw std::runtime_error("too many names");
    cfg.names.insert_or_assign(a->name, *target);
    save_checked(cfg);
    std::cout << a->name << " = " << target->to_string() << "\n";
  });
  auto n = std::make_shared<std::string>();
  auto* remove = names->add_subcommand("remove", "forget a name");
  remove->add_option("name", *n, "the name")->required();
  remove->callback([n] {
    auto cfg = load_cli_config();
    if (!cfg.names.erase(*n)) throw std::runtime_error("no name \"" + *n + "\" in the config");
    save_checked(cfg);
    std::cout << "removed name " << *n << "\n";
  });
  names->add_subcommand("list", "list names")->callback([] {
    const auto cfg = load_cli_config();
    if (cfg.names.empty()) std::cout << "(no names)\n";
    for (const auto& [name, t] : cfg.names)
      std::cout << fmt::format("{:<16} {}\n", name, t.to_string());
  });
}

void add_relay_commands(CLI::App& app) {
  auto& relay = relay_group(app);
  auto a = std::make_shared<std::string>();
  auto* add = relay.add_subcommand("add", "use a relay (reserve on it, dial through it)");
  add->add_option("multiaddr", *a, "relay address ending in /p2p/<relay peer ID>")->required();
  add->callback([a] {
    auto cfg = load_cli_config();
    const auto addr = parse_relay(*a);
    for (const auto& r : cfg.relays)
      if (r == addr) {
        std::cout << "relay already configured\n";
        return;
      }
    if (cfg.relays.size() >= app::config_limits::max_relays)
      throw std::runtime_error("too many relays");
    cfg.relays.push_back(addr);
    save_checked(cfg);
    std::cout << "added relay " << addr.to_string() << " (restart the daemon to use it)\n";
    if (cfg.relays_auto)
      std::cout << "relays: auto is now this list (relays found through the DHT are no longer "
                   "looked for; set relays: auto again to go back)\n";
  });
  auto r = std::make_shared<std::string>();
  auto* remove = relay.add_subcommand("remove", "stop using a relay");
  remove->add_option("multiaddr", *r, "relay address as listed")->required();
  remove->callback([r] {
    auto cfg = load_cli_config();
    const auto addr = parse_relay(*r);
    const auto before = cfg.relays.size();
    std::erase(cfg.relays, addr);
    if (cfg.relays.size() == before) throw std::runtime_error("relay " + *r + " is not configured");
    save_checked(cfg);
    std::cout << "removed relay " << addr.to_string() << " (restart the daemon to apply)\n";
  });
  relay.add_subcommand("list", "list configured relays")->callback([] {
    const auto cfg = load_cli_config();
    if (cfg.relays_auto)
      std::cout << "auto (found through the DHT; `peerup status` lists the ones in use)\n";
    else if (cfg.relays.empty())
      std::cout << "(no relays)\n";
    for (const auto& x : cfg.relays) std::cout << x.to_string() << "\n";
  });
}

}  // namespace

void add_config_edit_commands(CLI::App& app) {
  add_service_commands(app);
  add_name_commands(app);
  add_relay_commands(app);
}

}  // namespace peerup::cli
