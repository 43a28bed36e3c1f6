// peerup resolve <name> [--json]: which peer a name stands for, and which
// tier (local names, a relay of a network, a literal peer ID) said so.
#include <cstdio>
#include <iostream>

#include "cli/app_support.hpp"
#include "cli/runtime.hpp"
#include "config/identity_file.hpp"
#include "naming/resolver.hpp"

namespace peerup::cli {

namespace {

struct resolve_options {
  std::string name;
  bool json = false;
};

std::string json_string(std::string_view s) {
  std::string out = "\"";
  for (const char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (static_cast<unsigned char>(c) < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04x", static_cast<unsigned>(c));
      out += buf;
    } else {
      out += c;
    }
  }
  return out + "\"";
}

std::string to_json(const std::string& name, const app::resolution& r) {
  std::string addrs;
  for (const auto& a : r.addrs) addrs += (addrs.empty() ? "" : ",") + json_string(a.to_string());
  return "{\"name\":" + json_string(name) + ",\"peer\":" + json_string(r.peer.to_string()) +
         ",\"tier\":" + json_string(app::to_string(r.tier)) +
         ",\"source\":" + json_string(r.source) + ",\"addrs\":[" + addrs +
         "],\"cached\":" + (r.cached ? "true" : "false") + "}";
}

void print_text(const std::string& name, const app::resolution& r) {
  std::cout << name << " -> " << r.peer.to_string() << "\n"
            << "  tier:   " << app::to_string(r.tier) << "\n"
            << "  source: " << r.source << "\n";
  for (std::size_t i = 0; i < r.addrs.size(); ++i)
    std::cout << (i == 0 ? "  addrs:  " : "          ") << r.addrs[i].to_string() << "\n";
}

// 1. load the config (its identity is what relays have in authorized_keys)
// 2. start a listener-less host and resolve through the tiers
// 3. print the answer, or the tiers tried (exit 1)
net::awaitable<int> run_resolve(resolve_options o) {
  auto ex = co_await net::asio::this_coro::executor;
  const auto cfg = load_cli_config();
  auto h = make_client_host(ex, app::load_identity(cfg.identity_key.resolved));
  h->start();
  app::name_resolver resolver(*h, cfg);
  const std::string name = o.name;
  auto r = co_await resolver.resolve(name);
  h->stop();
  if (!r) {
    if (o.json)
      std::cout << "{\"name\":" << json_string(name) << ",\"error\":"
                << json_string(r.error().code == make_error_code(errc::name_not_found)
                                   ? "name_not_found"
                               : r.error().code == make_error_code(errc::name_lookup_failed)
                                   ? "lookup_failed"
                                   : "invalid_name")
                << ",\"message\":" << json_string(r.error().message) << "}" << std::endl;
    std::cerr << "peerup: " << r.error().message << "\n";
    co_return 1;
  }
  if (o.json)
    std::cout << to_json(name, *r) << std::endl;
  else
    print_text(name, *r);
  co_return 0;
}

}  // namespace

void add_resolve_command(CLI::App& app) {
  auto o = std::make_shared<resolve_options>();
  auto* cmd = app.add_subcommand(
      "resolve", "show the peer a name stands for, and which tier resolved it (docs/naming.md)");
  cmd->add_option("name", o->name, "a name from names:, <host>.<network>, or a peer ID")
      ->required();
  cmd->add_flag("--json", o->json, "print one JSON object");
  cmd->callback([o] {
    net::asio::io_context io;
    if (int rc = run_main([o] { return run_resolve(*o); }, io); rc != 0) std::exit(rc);
  });
}

}  // namespace peerup::cli
