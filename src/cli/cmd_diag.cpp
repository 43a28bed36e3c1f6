// peerup ping / perf: diagnostics that speak plain libp2p, so they work
// against any libp2p node, not only peerup ones.
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <iostream>

#include "cli/app_support.hpp"
#include "cli/commands.hpp"
#include "cli/runtime.hpp"
#include "net/host.hpp"
#include "config/identity_file.hpp"
#include "naming/resolver.hpp"
#include "naming/target.hpp"
#include "node/path_transport.hpp"
#include "protocols/identify.hpp"
#include "protocols/perf.hpp"
#include "protocols/ping.hpp"
#include "protocols/relay_client.hpp"

namespace peerup::cli {

namespace {

struct ping_options {
  std::string target;
  int count = 4;
  double interval_s = 1.0;
  bool json = false;
  std::string key;
};

struct perf_options {
  bool run_server = false;
  std::vector<std::string> listen;
  std::string server_address;
  std::string upload = "0";
  std::string download = "0";
  std::string key;
  bool json = false;
};

multiaddr parse_addr(const std::string& text) {
  auto a = multiaddr::parse(text);
  if (!a) throw std::invalid_argument("bad multiaddr \"" + text + "\": " + a.error().message());
  return *a;
}

private_key key_or_ephemeral(const std::string& path) {
  return path.empty() ? private_key::generate() : app::load_identity(path);
}

net::awaitable<int> run_ping(ping_options o) {
  auto ex = co_await net::asio::this_coro::executor;
  // A multiaddr must end in /p2p/<peer-id>, as for connect: without it,
  // whichever peer answers would be pinged. Anything else (a name, a
  // "<host>.<network>", a peer ID) is resolved like `peerup resolve` does,
  // through the config. The config's identity (which peers authorize) is
  // used when there is a config and no --key.
  const bool by_name = !o.target.starts_with('/');
  std::optional<app::dial_plan> plan;
  if (!by_name) {
    auto exact = app::plan_multiaddr(o.target);
    if (!exact) throw std::invalid_argument(exact.error().message);
    plan = std::move(*exact);
  }
  auto cfg = by_name ? std::optional(load_cli_config()) : load_cli_config_if_any();
  auto key = cfg && o.key.empty() ? app::load_identity(cfg->identity_key.resolved)
                                  : key_or_ephemeral(o.key);
  net::host h(ex, net::host_config{.identity = key});
  protocols::install_circuit_dialer(h);
  h.start();
  if (by_name) {
    app::name_resolver resolver(h, *cfg);
    auto resolved = co_await app::resolve_target(resolver, o.target);
    if (!resolved) {
      std::cerr << "peerup: " << resolved.error().message << "\n";
      h.stop();
      co_return 1;
    }
    plan = std::move(*resolved);
  }
  auto conn = co_await app::connect_target(h, *plan);
  if (!conn) {
    std::cerr << "peerup: cannot connect to " << o.target << ": " << conn.error().message() << "\n";
    co_return 2;
  }
  auto opened = co_await h.new_stream(*conn, protocols::ping_protocol);
  if (!opened) {
    std::cerr << "peerup: ping protocol: " << opened.error().message() << "\n";
    co_return 2;
  }
  const std::string path = (*conn)->relayed ? "relayed" : "direct";
  const std::string peer = (*conn)->remote_peer.to_string();
  // For a relayed path: what carries the hop to the relay.
  const std::string transport = app::path_transport(h, **conn);
  if (!o.json)
    std::cout << "PING " << peer << " (" << (*conn)->remote_addr.to_string() << ", " << path
              << (path == "relayed" ? " via " : " over ") << transport << ")\n";
  int received = 0;
  double min_ms = 1e18, max_ms = 0, sum_ms = 0;
  net::asio::steady_timer timer(ex);
  for (int seq = 1; seq <= o.count; ++seq) {
    auto rtt =
        co_await net::with_timeout(protocols::ping_once(*opened->stream), std::chrono::seconds(10));
    if (!rtt) {
      if (o.json)
        std::cout << fmt::format(R"({{"seq":{},"ok":false,"error":"{}"}})", seq,
                                 rtt.error().message())
                  << "\n";
      else
        std::cout << "seq=" << seq << " error: " << rtt.error().message() << "\n";
      break;
    }
    const double ms = static_cast<double>(rtt->count()) / 1000.0;
    ++received;
    min_ms = std::min(min_ms, ms);
    max_ms = std::max(max_ms, ms);
    sum_ms += ms;
    if (o.json)
      std::cout
          << fmt::format(
                 R"({{"seq":{},"ok":true,"rtt_ms":{:.3f},"path":"{}","transport":"{}","peer":"{}"}})",
                 seq, ms, path, transport, peer)
          << std::endl;
    else
      std::cout << fmt::format("seq={} time={:.3f} ms path={} transport={}", seq, ms, path,
                               transport)
                << std::endl;
    if (seq < o.count) {
      timer.expires_after(std::chrono::duration_cast<net::steady_clock::duration>(
          std::chrono::duration<double>(o.interval_s)));
      co_await timer.async_wait(net::use_nothrow);
    }
  }
  if (!o.json && received > 0)
    std::cout << fmt::format("{} sent, {} received, rtt min/avg/max = {:.3f}/{:.3f}/{:.3f} ms\n",
                             o.count, received, min_ms, sum_ms / received, max_ms);
  h.stop();
  co_return received == o.count ? 0 : 1;
}

net::awaitable<int> run_perf_server(perf_options o) {
  auto ex = co_await net::asio::this_coro::executor;
  net::host_config cfg{.identity = key_or_ephemeral(o.key)};
  for (const auto& l : o.listen) cfg.listen.push_back(parse_addr(l));
  if (cfg.listen.empty()) cfg.listen.push_back(parse_addr("/ip4/127.0.0.1/tcp/0"));
  net::host h(ex, std::move(cfg));
  protocols::identify_service identify(h);
  protocols::install_ping(h);
  protocols::install_perf(h);
  h.start();
  for (const auto& a : h.full_addrs()) std::cout << a.to_string() << "\n";
  std::cout.flush();
  co_await wait_for_signal();
  h.stop();
  co_return 0;
}

net::awaitable<int> run_perf_client(perf_options o) {
  auto ex = co_await net::asio::this_coro::executor;
  const auto target = parse_addr(o.server_address);
  const auto up = parse_size(o.upload), down = parse_size(o.download);
  net::host h(ex, net::host_config{.identity = key_or_ephemeral(o.key)});
  h.start();
  const auto t0 = net::steady_clock::now();
  auto conn = co_await h.connect(target);
  if (!conn) {
    std::cerr << "peerup: cannot connect to " << o.server_address << ": " << conn.error().message()
              << "\n";
    co_return 2;
  }
  const std::chrono::duration<double> connect_time = net::steady_clock::now() - t0;
  auto opened = co_await h.new_stream(*conn, protocols::perf_protocol);
  if (!opened) {
    std::cerr << "peerup: perf protocol: " << opened.error().message() << "\n";
    co_return 2;
  }
  auto res = co_await protocols::run_perf(*opened->stream, up, down);
  if (!res) {
    std::cerr << "peerup: perf failed: " << res.error().message() << "\n";
    co_return 1;
  }
  const double up_mbps = res->uploaded * 8 / 1e6 / std::max(res->upload_time.count(), 1e-9);
  const double down_mbps = res->downloaded * 8 / 1e6 / std::max(res->download_time.count(), 1e-9);
  if (o.json) {
    std::cout
        << fmt::format(
               R"({{"type":"final","timeSeconds":{:.6f},"uploadBytes":{},"downloadBytes":{},"connectSeconds":{:.6f},"uploadMbps":{:.1f},"downloadMbps":{:.1f}}})",
               res->total_time.count(), res->uploaded, res->downloaded, connect_time.count(),
               up_mbps, down_mbps)
        << "\n";
  } else {
    std::cout << fmt::format(
        "connect {:.3f} ms; upload {} B in {:.3f} s ({:.1f} Mbit/s); download {} B in {:.3f} s "
        "({:.1f} Mbit/s)\n",
        connect_time.count() * 1e3, res->uploaded, res->upload_time.count(), up_mbps,
        res->downloaded, res->download_time.count(), down_mbps);
  }
  h.stop();
  co_return 0;
}

}  // namespace

void add_diag_commands(CLI::App& app) {
  auto po = std::make_shared<ping_options>();
  auto* ping =
      app.add_subcommand("ping", "measure round trips to a libp2p peer (/ipfs/ping/1.0.0)");
  ping->add_option("target", po->target,
                   "multiaddr ending in /p2p/<peer-id>, or a name or peer ID from the config")
      ->required();
  ping->add_option("-c,--count", po->count, "number of pings")->check(CLI::Range(1, 1000000));
  ping->add_option("-i,--interval", po->interval_s, "seconds between pings")
      ->check(CLI::Range(0.0, 3600.0));
  ping->add_flag("--json", po->json, "one JSON object per line");
  ping->add_option("--key", po->key,
                   "identity key file (default: the config's, else a fresh ephemeral key)");
  ping->callback([po] {
    net::asio::io_context io;
    if (int rc = run_main([po] { return run_ping(*po); }, io); rc != 0) std::exit(rc);
  });

  auto fo = std::make_shared<perf_options>();
  auto* perf = app.add_subcommand("perf", "libp2p perf protocol (/perf/1.0.0) server or client");
  perf->add_flag("--run-server", fo->run_server, "serve perf (and ping, identify)");
  perf->add_option("--listen", fo->listen, "multiaddr to listen on (repeatable)");
  perf->add_option("--server-address", fo->server_address, "multiaddr of the perf server");
  perf->add_option("--upload-bytes", fo->upload, "bytes to send (e.g. 100MiB)");
  perf->add_option("--download-bytes", fo->download, "bytes to receive (e.g. 100MiB)");
  perf->add_option("--key", fo->key, "identity key file (default: a fresh ephemeral key)");
  perf->add_flag("--json", fo->json, "print the result as JSON");
  perf->callback([fo] {
    if (!fo->run_server && fo->server_address.empty())
      throw CLI::ValidationError("perf", "give --run-server or --server-address");
    net::asio::io_context io;
    int rc =
        run_main([fo] { return fo->run_server ? run_perf_server(*fo) : run_perf_client(*fo); }, io);
    if (rc != 0) std::exit(rc);
  });
}

}  // namespace peerup::cli
