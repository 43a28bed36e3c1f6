// Kademlia DHT lookups in a simulated network (issue 17, "Benchmark"): n
// peer-up DHT servers in one process, each a real host on loopback (TCP,
// Noise, Yamux: real crypto on every hop). Reports lookup latency (median,
// p90, p99, max), requests per lookup, hops against log2(n), how many lookups
// found their target, and memory per routing-table entry.
//
// 1. n hosts listen on 127.0.0.1; each kad_node's routing table is filled as
//    a finished bootstrap leaves it: every other node is offered in a random
//    order and the buckets (k = 20, the diversity limits) keep what they keep.
//    (A real network bootstrap of 1,000 nodes would hold ~200,000 live
//    connections in one process; the measured part is the lookup.)
// 2. `lookups` times: a random node looks up a random other node's peer ID
//    (a full FIND_NODE lookup, alpha = 10, k = 20), then closes all of its
//    connections, so every lookup dials every hop afresh (TCP + Noise +
//    Yamux + multistream): the cold, worst case.
// 3. Memory: heap bytes (mallinfo2) of routing tables filled the same way,
//    apart from the hosts, divided by their entries; and the process RSS.
//
// Usage: dht_bench [nodes=1000] [lookups=1000] [seed=1]
// Output: one line per figure, "name value unit", easy to paste.
#include <malloc.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <random>
#include <string>

#include "protocols/identify.hpp"
#include "protocols/kad.hpp"

using namespace peerup;
using namespace std::chrono_literals;
namespace asio = net::asio;

namespace {

struct bench_node {
  net::host host;
  protocols::identify_service identify;
  protocols::kad_node kad;
  explicit bench_node(asio::io_context& io, net::host_config hc)
      : host(io.get_executor(), std::move(hc)), identify(host), kad(host, protocols::kad_config{}) {
    host.start();
  }
};

long rss_kib() {
  std::ifstream f("/proc/self/status");
  std::string line;
  while (std::getline(f, line))
    if (line.rfind("VmRSS:", 0) == 0) return std::atol(line.c_str() + 6);
  return -1;
}

std::size_t heap_bytes() { return mallinfo2().uordblks; }

double pct(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<std::size_t>(p * static_cast<double>(v.size())))];
}

}  // namespace

int main(int argc, char** argv) {
  const std::size_t n = argc > 1 ? std::strtoul(argv[1], nullptr, 10) : 1000;
  const std::size_t lookups = argc > 2 ? std::strtoul(argv[2], nullptr, 10) : 1000;
  const unsigned seed = argc > 3 ? static_cast<unsigned>(std::strtoul(argv[3], nullptr, 10)) : 1;
  // SECURITY (of the bench itself): bounded sizes, so a typo cannot eat the machine.
  if (n < 2 || n > 5000 || lookups < 1 || lookups > 100000) {
    std::fprintf(stderr, "usage: dht_bench [nodes 2..5000] [lookups 1..100000] [seed]\n");
    return 2;
  }
  std::mt19937 rng(seed);
  asio::io_context io;
  const long rss0 = rss_kib();

  // 1. The nodes, with limits for a one-machine network (every peer is on 127.0.0.1).
  std::vector<std::unique_ptr<bench_node>> nodes;
  for (std::size_t i = 0; i < n; ++i) {
    net::host_config hc{.identity = private_key::generate(),
                        .listen = {*multiaddr::parse("/ip4/127.0.0.1/tcp/0")}};
    hc.limits.max_connections_per_ip = 1 << 20;
    hc.limits.max_connections = 1 << 20;
    nodes.push_back(std::make_unique<bench_node>(io, std::move(hc)));
  }
  const long rss_hosts = rss_kib();
  std::vector<dht::table_entry> all;
  for (const auto& nd : nodes) all.emplace_back(nd->host.id(), nd->host.listen_addrs());
  std::size_t entries = 0;
  for (auto& nd : nodes) {
    auto offer = all;
    std::shuffle(offer.begin(), offer.end(), rng);
    entries += nd->kad.import_table(offer);
  }
  const long rss_tables = rss_kib();
  std::printf("nodes %zu\n", n);
  std::printf("routing_table_entries_mean %.1f entries\n",
              static_cast<double>(entries) / static_cast<double>(n));

  // 2. The lookups, one at a time.
  std::vector<double> ms;
  std::vector<double> requests, hops;
  std::size_t found = 0, failed_requests = 0;
  bool done = false;
  asio::co_spawn(
      io,
      [&]() -> net::awaitable<void> {
        std::uniform_int_distribution<std::size_t> pick(0, n - 1);
        for (std::size_t l = 0; l < lookups; ++l) {
          const auto from = pick(rng);
          auto to = pick(rng);
          while (to == from) to = pick(rng);
          const peer_id target = nodes[to]->host.id();
          const auto t0 = net::steady_clock::now();
          auto walking = nodes[from]->kad.closest_peers(target.to_bytes());
          auto r = co_await std::move(walking);
          ms.push_back(std::chrono::duration<double, std::milli>(net::steady_clock::now() - t0)
                           .count());
          requests.push_back(static_cast<double>(r.stats.requests));
          hops.push_back(static_cast<double>(r.hops));
          failed_requests += r.stats.failures;
          for (const auto& p : r.closest)
            if (p.id == target) {
              ++found;
              break;
            }
          // Cold lookups: the next one from this node dials every hop again.
          for (const auto& c : nodes[from]->host.all_connections())
            nodes[from]->host.close_connections(c->remote_peer);
        }
        done = true;
      },
      asio::detached);
  const auto started = net::steady_clock::now();
  while (!done) {
    io.run_for(100ms);
    // A hang guard, not a bound on the figures: ~30 s per 1,000 lookups is usual.
    if (net::steady_clock::now() - started > std::chrono::hours(1)) break;
  }
  auto mean = [](const std::vector<double>& v) {
    double s = 0;
    for (double x : v) s += x;
    return v.empty() ? 0 : s / static_cast<double>(v.size());
  };
  std::printf("lookups %zu\n", ms.size());
  std::printf("found_target %zu of %zu\n", found, ms.size());
  std::printf("latency_median %.1f ms\n", pct(ms, 0.5));
  std::printf("latency_p90 %.1f ms\n", pct(ms, 0.9));
  std::printf("latency_p99 %.1f ms\n", pct(ms, 0.99));
  std::printf("latency_max %.1f ms\n", pct(ms, 1.0));
  std::printf("requests_per_lookup_mean %.1f\n", mean(requests));
  std::printf("requests_per_lookup_p99 %.0f\n", pct(requests, 0.99));
  std::printf("failed_requests %zu\n", failed_requests);
  std::printf("hops_mean %.2f\n", mean(hops));
  std::printf("hops_max %.0f\n", pct(hops, 1.0));
  std::printf("log2_n %.2f\n", std::log2(static_cast<double>(n)));
  std::printf("rss_hosts %.1f MiB (%ld KiB per node with its listener)\n",
              static_cast<double>(rss_hosts - rss0) / 1024.0,
              (rss_hosts - rss0) / static_cast<long>(n));
  std::printf("rss_tables %.1f MiB for %zu entries (%.0f B per entry, peer store included)\n",
              static_cast<double>(rss_tables - rss_hosts) / 1024.0, entries,
              static_cast<double>(rss_tables - rss_hosts) * 1024.0 /
                  static_cast<double>(std::max<std::size_t>(entries, 1)));

  // 3. The routing table alone, by heap bytes: the same fill, without hosts.
  {
    const auto before = heap_bytes();
    std::vector<std::unique_ptr<dht::routing_table>> tables;
    std::size_t table_entries = 0;
    const auto now = std::chrono::steady_clock::now();
    for (std::size_t i = 0; i < n; ++i) {
      tables.push_back(std::make_unique<dht::routing_table>(all[i].first, dht::routing_config{}));
      auto offer = all;
      std::shuffle(offer.begin(), offer.end(), rng);
      for (const auto& [id, addrs] : offer) {
        if (id == all[i].first) continue;
        const auto r = tables.back()->add(id, addrs, now);
        if (r == dht::add_outcome::added) ++table_entries;
      }
    }
    const auto after = heap_bytes();
    std::printf("table_heap %.1f KiB for %zu entries (%.0f B per routing-table entry, one "
                "loopback address each)\n",
                static_cast<double>(after - before) / 1024.0, table_entries,
                static_cast<double>(after - before) /
                    static_cast<double>(std::max<std::size_t>(table_entries, 1)));
  }
  for (auto& nd : nodes) nd->host.stop();
  io.run_for(200ms);
  return done ? 0 : 1;
}
