// peerup gateway: SOCKS5 and DNS access to peers by name (docs/gateway.md).
#include <spdlog/spdlog.h>
#include <sys/stat.h>

#include <csignal>
#include <iostream>

#include "cli/app_support.hpp"
#include "cli/runtime.hpp"
#include "gateway/dns_server.hpp"
#include "gateway/gateway_directory.hpp"
#include "config/authorized_keys.hpp"
#include "config/identity_file.hpp"
#include "control/metrics.hpp"
#include "control/server.hpp"
#include "control/systemd_notify.hpp"
#include "gateway/socks_server.hpp"

namespace peerup::cli {

namespace {

struct gateway_options {
  std::string socks, dns, zone;
  std::string metrics;  // IP:port for /metrics, empty: none
};

// host:port with an IP literal (the gateway binds it; no name lookups).
net::tcp::endpoint endpoint_of(const std::string& text, const char* what) {
  auto hp = app::parse_listen_address(text);
  boost::system::error_code ec;
  const auto addr = hp ? net::asio::ip::make_address(hp->host, ec) : net::asio::ip::address{};
  if (!hp || ec)
    throw std::runtime_error(std::string(what) + ": expected an IP address and port such as " +
                             "127.0.0.1:1080, got \"" + text + "\"");
  return {addr, hp->port};
}

std::string show(const net::tcp::endpoint& ep) {
  return ep.address().is_v6() ? "[" + ep.address().to_string() + "]:" + std::to_string(ep.port())
                              : ep.address().to_string() + ":" + std::to_string(ep.port());
}

void warn_if_exposed(const net::tcp::endpoint& ep, const app::gateway_config& g, const char* what) {
  if (ep.address().is_loopback()) return;
  spdlog::warn("{} listens on {}, not loopback: whoever reaches it uses your peers as you{}", what,
               show(ep),
               g.users.empty() && std::string(what) == "socks5" ? " (no gateway.users)" : "");
}

app::gateway_config settings(const app::config& cfg, const gateway_options& o) {
  auto g = cfg.gateway;
  if (!o.socks.empty()) g.socks = o.socks;
  if (!o.dns.empty()) g.dns = o.dns;
  if (!o.zone.empty()) {
    if (!app::valid_zone(o.zone))
      throw std::runtime_error("--zone: expected lower-case DNS labels such as p2p, got \"" +
                               o.zone + "\"");
    g.zone = o.zone;
  }
  if (!g.socks && !g.dns)
    throw std::runtime_error(
        "nothing to serve: give --socks ADDR and/or --dns ADDR (or gateway.socks / gateway.dns in "
        "the config)");
  // Passwords in a file others can read are no passwords.
  struct stat st {};
  if (!g.users.empty() && ::stat(cfg.file.c_str(), &st) == 0 && (st.st_mode & 077) != 0)
    throw std::runtime_error(cfg.file.string() +
                             " holds SOCKS passwords (gateway.users) but others can read it: "
                             "chmod 600 " +
                             cfg.file.string());
  return g;
}

// The gateway's counters as Prometheus families (docs/operations.md).
std::string gateway_metrics(const app::resolver_directory& dir, const app::gateway& gw,
                            const app::dns_server* dns) {
  control::metrics_registry m;
  using mt = control::metric_type;
  m.declare("peerup_gateway_up", mt::gauge, "1 while the gateway runs");
  m.declare("peerup_gateway_name_lookups_total", mt::counter,
            "Name lookups of the gateway's resolver (SOCKS and DNS names)", {"result"});
  m.declare("peerup_gateway_name_relay_queries_total", mt::counter,
            "Names queries the gateway's resolver sent to relays");
  m.declare("peerup_gateway_names_cached", mt::gauge, "Names in the resolver's cache");
  m.declare("peerup_gateway_connections", mt::gauge, "SOCKS connections being served");
  m.declare("peerup_gateway_dns_queries_total", mt::counter, "DNS queries, by outcome",
            {"outcome"});
  m.set("peerup_gateway_up", 1);
  const auto rs = dir.statistics();
  m.set("peerup_gateway_name_lookups_total", static_cast<double>(rs.hits), {"cache_hit"});
  m.set("peerup_gateway_name_lookups_total", static_cast<double>(rs.misses), {"cache_miss"});
  m.set("peerup_gateway_name_relay_queries_total", static_cast<double>(rs.relay_queries));
  m.set("peerup_gateway_names_cached", static_cast<double>(rs.cached));
  m.set("peerup_gateway_connections", static_cast<double>(gw.active_connections()));
  if (dns) {
    const auto& d = dns->stats();
    m.set("peerup_gateway_dns_queries_total", static_cast<double>(d.answered), {"answered"});
    m.set("peerup_gateway_dns_queries_total", static_cast<double>(d.malformed), {"malformed"});
    m.set("peerup_gateway_dns_queries_total", static_cast<double>(d.rate_limited),
          {"rate_limited"});
    m.set("peerup_gateway_dns_queries_total", static_cast<double>(d.overloaded), {"overloaded"});
  }
  return m.render();
}

net::awaitable<int> run_gateway(gateway_options o) {
  auto ex = co_await net::asio::this_coro::executor;
  const auto cfg = load_cli_config();
  const auto g = settings(cfg, o);
  auto h = make_client_host(ex, app::load_identity(cfg.identity_key.resolved));
  h->start();
  auto dir = std::make_shared<app::resolver_directory>(*h, cfg);
  app::gateway gw(*h, g, dir);
  std::optional<app::socks_server> socks;
  std::optional<app::dns_server> dns;
  if (g.socks) {
    const auto ep = endpoint_of(*g.socks, "gateway.socks / --socks");
    socks.emplace(gw, ep);
    socks->start();
    warn_if_exposed(socks->local_endpoint(), g, "socks5");
    std::cout << "socks5 " << show(socks->local_endpoint()) << std::endl;
  }
  if (g.dns) {
    const auto ep = endpoint_of(*g.dns, "gateway.dns / --dns");
    dns.emplace(gw, ep.address(), ep.port());
    if (cfg.network.tun) {
      // Network mode: names of network members answer with their 10.64
      // address, derived exactly as the daemon derives it.
      auto policy = app::load_access_policy(cfg);
      if (!policy) throw std::runtime_error(policy.error().to_string());
      auto book = std::make_shared<tun::address_book>(
          app::network_address_book(cfg, h->id(), policy->network_peers()));
      dns->use_network_addresses(
          [book, ipv6 = cfg.network.ipv6](
              const peer_id& p) -> std::optional<app::dns_server::network_address> {
            auto a = book->v4_of(p);
            if (!a) return std::nullopt;
            app::dns_server::network_address r{a->v4_value(), std::nullopt};
            // AAAA: the member's ULA address, as the daemon put it on the
            // interface (network.ipv6).
            if (auto a6 = book->v6_of(p); ipv6 && a6) r.v6 = a6->bytes;
            return r;
          });
      std::cout << "dns answers network members with their " << cfg.network.prefix.to_string()
                << " address" << (cfg.network.ipv6 ? " (and AAAA with their IPv6 address)" : "")
                << std::endl;
    }
    dns->start();
    const net::tcp::endpoint bound(ep.address(), dns->port());
    warn_if_exposed(bound, g, "dns");
    std::cout << "dns " << show(bound) << " zone " << g.zone << " virtual IPs "
              << g.virtual_network.to_string() << std::endl;
  }
  std::optional<control::metrics_listener> metrics;
  if (!o.metrics.empty()) {
    const auto ep = endpoint_of(o.metrics, "--metrics");
    metrics.emplace(ex, ep, [&] { return gateway_metrics(*dir, gw, dns ? &*dns : nullptr); });
    std::cout << "metrics " << show(metrics->local_endpoint()) << std::endl;
  }
  control::systemd_notifier notify(ex);
  notify.ready(std::string(socks ? "socks5 " + show(socks->local_endpoint()) : "") +
               (dns ? (socks ? ", dns" : "dns") : ""));
  co_await wait_for_signal();
  notify.stopping();
  metrics.reset();
  if (socks) socks->stop();
  if (dns) dns->stop();
  gw.stop();
  h->stop();
  co_return 0;
}

}  // namespace

void add_gateway_command(CLI::App& app) {
  auto o = std::make_shared<gateway_options>();
  auto* gw = app.add_subcommand(
      "gateway", "SOCKS5 proxy and .p2p DNS server that reach peers' services by name");
  gw->add_option("--socks", o->socks, "SOCKS5 listen address, e.g. 127.0.0.1:1080");
  gw->add_option("--dns", o->dns, "DNS listen address (UDP and TCP), e.g. 127.0.0.1:5353");
  gw->add_option("--zone", o->zone, "DNS zone and name suffix (default: gateway.zone, p2p)");
  gw->add_option("--metrics", o->metrics,
                 "serve Prometheus /metrics on this IP:port, e.g. 127.0.0.1:9466");
  gw->callback([gw, o] {
    default_log_level_info(*gw);
    std::signal(SIGPIPE, SIG_IGN);
    net::asio::io_context io;
    if (int rc = run_main([o] { return run_gateway(*o); }, io); rc != 0) std::exit(rc);
  });
}

}  // namespace peerup::cli
