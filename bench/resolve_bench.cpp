// Name resolution latency (issue 6): a relay serving /peerup/names/1.0.0 and
// a client name_resolver in one process over loopback.
//   uncached, cold: the first lookup, including TCP + Noise + Yamux to the relay
//   uncached, warm: a lookup stream on the open relay connection (cache cleared)
//   cached:         the answer from the resolver's cache
//   local:          a names: entry (no network)
// Usage: resolve_bench [uncached-runs] [cached-runs]
#include <algorithm>
#include <cstdio>
#include <cstdlib>

#include "naming/resolver.hpp"
#include "protocols/names.hpp"

using namespace peerup;
using namespace std::chrono_literals;
namespace asio = net::asio;

namespace {

struct summary {
  double median_us = 0, p90_us = 0, p99_us = 0, max_us = 0;
};

summary summarize(std::vector<double> us) {
  std::sort(us.begin(), us.end());
  if (us.empty()) return {};
  auto at = [&](std::size_t permille) {
    return us[std::min(us.size() - 1, us.size() * permille / 1000)];
  };
  return {at(500), at(900), at(990), us.back()};
}

double since_us(net::steady_clock::time_point t0) {
  return std::chrono::duration<double, std::micro>(net::steady_clock::now() - t0).count();
}

}  // namespace

int main(int argc, char** argv) {
  const int uncached_runs = argc > 1 ? std::atoi(argv[1]) : 2000;
  const int cached_runs = argc > 2 ? std::atoi(argv[2]) : 200000;
  asio::io_context io;
  net::host relay(io.get_executor(),
                  net::host_config{.identity = private_key::generate(),
                                   .listen = {multiaddr::from_tcp("127.0.0.1", 0)}});
  relay.start();
  const auto network = wire::dns_label::parse("grewal").value();
  protocols::names_server names(relay, {network, {}, [](const peer_id&) { return true; }});
  net::host home(io.get_executor(), net::host_config{.identity = private_key::generate()});
  net::host client(io.get_executor(), net::host_config{.identity = private_key::generate()});
  home.start();
  client.start();
  const auto relay_addr = relay.full_addrs().front();
  auto cfg = app::parse_config("networks:\n  grewal:\n    - " + relay_addr.to_string() +
                                   "\nnames:\n  nas: " + home.id().to_string() + "\n",
                               "/tmp/resolve-bench.yaml")
                 .value();
  app::name_resolver resolver(client, cfg);
  int rc = 0;
  asio::co_spawn(
      io,
      [&]() -> net::awaitable<void> {
        const wire::names_request reg{wire::names_request_type::register_name,
                                      network,
                                      wire::dns_label::parse("home").value(),
                                      0,
                                      {}};
        auto ok = co_await protocols::ask_names(home, relay_addr, reg, 10s);
        if (!ok || ok->status != wire::names_status::ok) {
          std::fprintf(stderr, "registration failed\n");
          rc = 1;
          co_return;
        }
        auto t0 = net::steady_clock::now();
        auto first = co_await resolver.resolve("home.grewal");
        const double cold = since_us(t0);
        if (!first) {
          std::fprintf(stderr, "%s\n", first.error().message.c_str());
          rc = 1;
          co_return;
        }
        std::vector<double> warm, cached, local;
        for (int i = 0; i < uncached_runs; ++i) {
          resolver.clear_cache();
          t0 = net::steady_clock::now();
          auto r = co_await resolver.resolve("home.grewal");
          warm.push_back(since_us(t0));
          if (!r || r->cached) rc = 1;
        }
        for (int i = 0; i < cached_runs; ++i) {
          t0 = net::steady_clock::now();
          auto r = co_await resolver.resolve("home.grewal");
          cached.push_back(since_us(t0));
          if (!r || !r->cached) rc = 1;
        }
        for (int i = 0; i < cached_runs; ++i) {
          t0 = net::steady_clock::now();
          auto r = co_await resolver.resolve("nas");
          local.push_back(since_us(t0));
          if (!r) rc = 1;
        }
        const auto w = summarize(warm), c = summarize(cached), l = summarize(local);
        std::printf("| lookup | runs | median | p90 | p99 | max |\n");
        std::printf("| --- | ---: | ---: | ---: | ---: | ---: |\n");
        std::printf("| relay tier, uncached, cold connection | 1 | %.0f us | - | - | - |\n", cold);
        auto row = [](const char* what, int runs, const summary& s) {
          std::printf("| %s | %d | %.2f us | %.2f us | %.2f us | %.0f us |\n", what, runs,
                      s.median_us, s.p90_us, s.p99_us, s.max_us);
        };
        row("relay tier, uncached, open connection", uncached_runs, w);
        row("relay tier, cached", cached_runs, c);
        row("local tier (names:)", cached_runs, l);
        std::printf("uncached/cached median: %.0fx; relay queries: %llu\n",
                    w.median_us / std::max(c.median_us, 1e-3),
                    static_cast<unsigned long long>(resolver.statistics().relay_queries));
      },
      [&](std::exception_ptr e) {
        if (e) rc = 1;
        io.stop();
      });
  io.run();
  return rc;
}
