// peerup dht find-peer <peer-id> | providers <key> | status: the Kademlia
// DHT (docs/dht.md). With a daemon running, through its control socket (its
// routing table is warm); otherwise find-peer and providers run a one-shot
// DHT client from this config's bootstrap peers (the relays by default).
#include <boost/json.hpp>
#include <fmt/format.h>

#include <iostream>

#include "cli/app_support.hpp"
#include "cli/commands.hpp"
#include "cli/runtime.hpp"
#include "config/identity_file.hpp"
#include "control/client.hpp"
#include "control/server.hpp"
#include "dht/key.hpp"
#include "net/host.hpp"
#include "protocols/identify.hpp"
#include "protocols/kad.hpp"

namespace peerup::cli {

namespace {

namespace json = boost::json;

struct dht_options {
  std::string peer, key;
  bool json = false;
};

std::optional<std::string> ask(const app::config& cfg, const char* method, const char* target,
                               const std::string& body) {
  auto r = control::call_daemon(cfg.dir(), method, target, body);
  if (!r) return std::nullopt;
  if (r->status != 200) throw std::runtime_error(control::error_message(*r));
  return r->body;
}

void print_addrs(const char* label, const json::array& addrs) {
  for (std::size_t i = 0; i < addrs.size(); ++i)
    std::cout << (i == 0 ? label : "                ") << std::string(addrs[i].as_string()) << "\n";
}

void print_find_peer(const std::string& body) {
  const auto o = json::parse(body).as_object();
  std::cout << "peer:           " << std::string(o.at("peer").as_string()) << "\n";
  if (o.at("record").is_object()) {
    const auto& r = o.at("record").as_object();
    std::cout << "signed record:  seq " << r.at("seq").to_number<std::uint64_t>() << "\n";
    print_addrs("  addresses:    ", r.at("addrs").as_array());
  } else {
    std::cout << "signed record:  none found\n";
  }
  if (!o.at("routing_addrs").as_array().empty())
    print_addrs("routing table:  ", o.at("routing_addrs").as_array());
}

// A DHT client without a daemon: a host with our identity (relays know it),
// bootstrap peers from the config, no listener.
struct oneshot {
  std::unique_ptr<net::host> host;
  std::unique_ptr<protocols::identify_service> identify;
  std::unique_ptr<protocols::kad_node> kad;
};

oneshot make_oneshot(net::asio::any_io_executor ex, const app::config& cfg) {
  if (!cfg.dht.enabled)
    throw std::runtime_error("the DHT is off in " + cfg.file.string() + " (dht: enabled: false)");
  const auto boot = cfg.dht_bootstrap();
  if (boot.empty())
    throw std::runtime_error("no DHT bootstrap peers: add a relay (peerup relay add <multiaddr>) "
                             "or dht.bootstrap in " + cfg.file.string());
  oneshot o;
  o.host = make_client_host(ex, app::load_identity(cfg.identity_key.resolved));
  o.identify = std::make_unique<protocols::identify_service>(*o.host);
  protocols::kad_config kc;
  kc.protocol = cfg.dht.protocol;
  kc.server = false;
  o.kad = std::make_unique<protocols::kad_node>(*o.host, std::move(kc));
  for (const auto& b : boot)
    if (auto p = b.peer()) o.kad->add_bootstrap(*p, {b.without_peer()});
  o.host->start();
  return o;
}

net::awaitable<int> run_find_peer(dht_options opts) {
  const auto cfg = load_cli_config();
  auto id = peer_id::parse(opts.peer);
  if (!id) throw std::invalid_argument("\"" + opts.peer + "\" is not a peer ID (12D3KooW...)");
  json::object req;
  req["peer"] = id->to_string();
  std::string body;
  if (auto live = ask(cfg, "POST", "/v1/dht/find-peer", json::serialize(req))) {
    body = *live;
  } else {
    auto ex = co_await net::asio::this_coro::executor;
    auto node = make_oneshot(ex, cfg);
    auto getting = node.kad->find_peer_record(*id);
    auto rec = co_await std::move(getting);
    auto finding = node.kad->find_peer(*id);
    auto found = co_await std::move(finding);
    node.host->stop();
    if (!rec && found.empty()) {
      std::cerr << "peerup: peer " << id->to_string()
                << " not found in the DHT (no peer record, and no server knows its address)\n";
      co_return 1;
    }
    body = control::dht_find_peer_json(*id, rec, found);
  }
  if (opts.json)
    std::cout << body << "\n";
  else
    print_find_peer(body);
  co_return 0;
}

net::awaitable<int> run_providers(dht_options opts) {
  const auto cfg = load_cli_config();
  // SECURITY: the same bound the control API applies.
  if (opts.key.empty() || opts.key.size() > control::api_limits::max_dht_key)
    throw std::invalid_argument("the key must be 1 to " +
                                std::to_string(control::api_limits::max_dht_key) + " bytes");
  json::object req;
  req["key"] = opts.key;
  std::string body;
  if (auto live = ask(cfg, "POST", "/v1/dht/providers", json::serialize(req))) {
    body = *live;
  } else {
    auto ex = co_await net::asio::this_coro::executor;
    auto node = make_oneshot(ex, cfg);
    auto finding = node.kad->find_providers(dht::namespace_key(opts.key), 20);
    auto found = co_await std::move(finding);
    node.host->stop();
    body = control::dht_providers_json(opts.key, found);
  }
  if (opts.json) {
    std::cout << body << "\n";
    co_return 0;
  }
  const auto o = json::parse(body).as_object();
  const auto& list = o.at("providers").as_array();
  if (list.empty()) std::cout << "(no providers of \"" << opts.key << "\")\n";
  for (const auto& p : list) {
    const auto& e = p.as_object();
    std::cout << std::string(e.at("peer").as_string()) << "\n";
    for (const auto& a : e.at("addrs").as_array()) std::cout << "  " << std::string(a.as_string()) << "\n";
  }
  co_return 0;
}

int show_dht_status(bool as_json) {
  const auto cfg = load_cli_config();
  auto live = ask(cfg, "GET", "/v1/dht", {});
  if (!live) {
    std::cerr << "peerup: dht status needs a running daemon (no control socket at "
              << control::control_socket_path(cfg.dir()).string() << ")\n";
    return 3;
  }
  if (as_json) {
    std::cout << *live << "\n";
    return 0;
  }
  const auto o = json::parse(*live).as_object();
  std::cout << fmt::format("mode: {} ({})\nrouting table: {} peers\n",
                           std::string(o.at("mode").as_string()),
                           std::string(o.at("protocol").as_string()),
                           o.at("routing_table").to_number<long>());
  for (const auto& b : o.at("buckets").as_array()) {
    const auto& bo = b.as_object();
    std::cout << fmt::format("  bucket {:>3}: {} peers\n", bo.at("bucket").to_number<long>(),
                             bo.at("peers").as_array().size());
    for (const auto& p : bo.at("peers").as_array()) {
      const auto& po = p.as_object();
      std::cout << fmt::format("    {}  seen {} s ago{}\n", std::string(po.at("peer").as_string()),
                               po.at("seen_s_ago").to_number<long>(),
                               po.at("failures").to_number<long>() > 0
                                   ? fmt::format(", {} failures", po.at("failures").to_number<long>())
                                   : "");
    }
  }
  std::cout << fmt::format(
      "records held: {}, provider records: {}\nrequests served {}, refused {}, rate-limited {}; "
      "sent {}, failed {}; lookups {}\nown record published on {} servers\n",
      o.at("records").to_number<long>(), o.at("provider_records").to_number<long>(),
      o.at("requests_served").to_number<long>(), o.at("requests_refused").to_number<long>(),
      o.at("rate_limited").to_number<long>(), o.at("requests_sent").to_number<long>(),
      o.at("requests_failed").to_number<long>(), o.at("lookups").to_number<long>(),
      o.at("records_published").to_number<long>());
  return 0;
}

}  // namespace

void add_dht_commands(CLI::App& app) {
  auto* dht = app.add_subcommand("dht", "the Kademlia DHT: find peers and providers (docs/dht.md)");
  dht->require_subcommand(1);
  auto o = std::make_shared<dht_options>();
  auto* find = dht->add_subcommand("find-peer", "a peer's signed record and known addresses");
  find->add_option("peer", o->peer, "peer ID")->required();
  find->add_flag("--json", o->json, "print one JSON object");
  find->callback([o] {
    net::asio::io_context io;
    if (int rc = run_main([o] { return run_find_peer(*o); }, io); rc != 0) std::exit(rc);
  });
  auto* prov = dht->add_subcommand("providers", "peers that provide a key (a namespace string)");
  prov->add_option("key", o->key, "the key, e.g. a relay namespace")->required();
  prov->add_flag("--json", o->json, "print one JSON object");
  prov->callback([o] {
    net::asio::io_context io;
    if (int rc = run_main([o] { return run_providers(*o); }, io); rc != 0) std::exit(rc);
  });
  auto* status = dht->add_subcommand("status", "the daemon's routing table and DHT counters");
  status->add_flag("--json", o->json, "print one JSON object");
  status->callback([o] {
    if (int rc = show_dht_status(o->json); rc != 0) std::exit(rc);
  });
}

}  // namespace peerup::cli
