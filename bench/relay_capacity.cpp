// Relay capacity: how much memory and CPU the relay process (`peerup relay
// serve`) needs to hold N reservations and M live circuits, how fast it sets
// them up, what it does past its connection limit, and what memory it gives
// back once the peers leave (issue 19: 100,000 reservations and 10,000
// circuits in 1.5 GiB; docs/benchmarks.md).
//
// The relay runs as its own process so its RSS and CPU time can be read from
// /proc/<pid>; this process is the load generator. The first M homes are full
// hosts that accept circuits and echo, and M client hosts each keep one echo
// stream open through a circuit. The other N - M homes are light: a key, a
// TCP + Noise + Yamux connection and one RESERVE, no host object (about 10
// KiB each here), so 100,000 of them fit beside the relay. Loopback only.
//
// Each simulated peer dials from its own address in 127.1.0.0/16,
// --peers-per-ip of them per address (the relay's per-IP limits in
// relay.yaml are set to match), as real home nodes come from distinct
// public addresses; that also keeps every source address far from the
// ephemeral-port limit of one 4-tuple family (28,232 ports here).
//
// Past the limit (--max-connections below N + M) the relay must refuse the
// excess cleanly and keep serving the rest: the bench counts refusals,
// refreshes a sample of admitted reservations and echoes on every circuit,
// then closes everything and samples the relay's RSS after they left.
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "net/asio.hpp"
#include "net/host.hpp"
#include "net/length_prefixed_io.hpp"
#include "net/multistream_io.hpp"
#include "net/tcp_transport.hpp"
#include "net/upgrader.hpp"
#include "protocols/relay_client.hpp"

namespace {

using namespace peerup;
namespace asio = net::asio;
namespace fs = std::filesystem;
using namespace std::chrono_literals;

const protocol_id echo_protocol{"/peerup/bench-echo/1.0.0"};

struct options {
  std::size_t reservations = 10000;
  std::size_t circuits = 1000;
  std::size_t concurrency = 200;
  int steady_seconds = 10;
  // The relay's max_connections (and max_reservations); 0: room for all.
  std::size_t max_connections = 0;
  std::size_t peers_per_ip = 50;
  std::size_t refresh_sample = 2000;  // admitted reservations refreshed in steady state
  int attempts_per_peer = 0;          // 0: 3, or 1 past the limit (refused peers do not retry)
  int settle_seconds = 40;            // after everyone left: past the relay's 30 s idle check
  // Waves after the first: the light homes reserve again and leave again,
  // so the rows show whether what the relay kept after a crowd left is
  // reused by the next one (RSS back to the same peak) or grows.
  int waves = 1;
  std::string peerup = "build/src/cli/peerup";
  std::string dir = "/tmp/peerup-relay-capacity";

  std::size_t relay_max_connections() const {
    return max_connections ? max_connections : reservations + circuits + 256;
  }
  bool overload() const { return reservations + circuits > relay_max_connections(); }
};

struct proc_sample {
  double rss_mib = 0, hwm_mib = 0, cpu_s = 0;
};

proc_sample sample(pid_t pid) {
  proc_sample s;
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  for (std::string line; std::getline(status, line);) {
    if (line.rfind("VmRSS:", 0) == 0) s.rss_mib = std::stod(line.substr(6)) / 1024.0;
    if (line.rfind("VmHWM:", 0) == 0) s.hwm_mib = std::stod(line.substr(6)) / 1024.0;
  }
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string text((std::istreambuf_iterator<char>(stat)), {});
  // Fields after the ")" closing the command name: state is field 3, utime 14, stime 15.
  std::istringstream rest(text.substr(text.rfind(')') + 2));
  std::vector<std::string> f;
  for (std::string w; rest >> w && f.size() < 13;) f.push_back(w);
  if (f.size() == 13)
    s.cpu_s = double(std::stoull(f[11]) + std::stoull(f[12])) / double(sysconf(_SC_CLK_TCK));
  return s;
}

// The relay child process; killed when this goes out of scope.
struct relay_process {
  pid_t pid = -1;
  std::optional<peer_id> id;
  std::uint16_t port = 0;
  ~relay_process() { stop(); }
  void stop() {
    if (pid <= 0) return;
    kill(pid, SIGTERM);
    for (int i = 0; i < 50 && waitpid(pid, nullptr, WNOHANG) == 0; ++i) usleep(100000);
    if (waitpid(pid, nullptr, WNOHANG) == 0) {
      kill(pid, SIGKILL);
      waitpid(pid, nullptr, 0);
    }
    pid = -1;
  }
};

void run_or_throw(const std::string& cmd) {
  if (std::system(cmd.c_str()) != 0) throw std::runtime_error("failed: " + cmd);
}

// 1. write relay.yaml with the limits this run needs (open relay: no per-peer
//    authorization; the per-IP limits match --peers-per-ip)
// 2. create the relay key with `peerup keygen`
// 3. start `peerup relay serve` with stdout on a pipe, read its id and port
void start_relay(const options& o, relay_process& r) {
  fs::remove_all(o.dir);
  fs::create_directories(o.dir);
  const std::size_t conns = o.relay_max_connections();
  const std::size_t per_ip = o.peers_per_ip + 16;
  std::ofstream(o.dir + "/relay.yaml")
      << "identity_key: identity.key\n"
         "authorized_keys: authorized_keys\n"
         "listen:\n  - /ip4/127.0.0.1/tcp/0\n"
         "open: true\n"
         "limits:\n"
      << "  max_reservations: " << conns << "\n"
      << "  max_reservations_per_ip: " << per_ip << "\n"
      << "  max_circuits_per_peer: 16\n"
      << "  max_circuits: " << std::max<std::size_t>(o.circuits, 1) << "\n"
      << "  reservation_ttl: 3600\n"
         "  open_circuit_duration: 3600\n"
         "  open_circuit_data: 1073741824\n"
      // The host's own limits (docs/relay.md): room for every simulated
      // peer (or exactly --max-connections) and all circuit windows.
      << "  max_connections: " << conns << "\n"
      << "  max_connections_per_ip: " << per_ip << "\n"
      << "  max_pending_handshakes: " << std::max<std::size_t>(1000, 2 * o.concurrency) << "\n"
      << "  max_memory_mib: 16384\n";
  std::ofstream(o.dir + "/authorized_keys") << "";
  fs::permissions(o.dir + "/authorized_keys", fs::perms::owner_read | fs::perms::owner_write);
  run_or_throw(o.peerup + " keygen --key " + o.dir + "/identity.key > /dev/null");
  int out[2];
  if (pipe(out) != 0) throw std::runtime_error("pipe failed");
  const std::string config = o.dir + "/relay.yaml", log = o.dir + "/relay.log";
  r.pid = fork();
  if (r.pid == 0) {
    dup2(out[1], 1);
    FILE* err = std::fopen(log.c_str(), "w");
    if (err) dup2(fileno(err), 2);
    close(out[0]);
    execl(o.peerup.c_str(), o.peerup.c_str(), "relay", "serve", "--config", config.c_str(),
          static_cast<char*>(nullptr));
    _exit(127);
  }
  close(out[1]);
  FILE* in = fdopen(out[0], "r");
  char line[1024];
  // The relay prints a header line and then its addresses; a few lines suffice.
  for (int i = 0; i < 8 && std::fgets(line, sizeof line, in); ++i) {
    auto a = multiaddr::parse(std::string(line, strcspn(line, "\n")));
    if (!a || !a->tcp_target()) continue;
    auto parts = a->to_string();
    auto id = peer_id::parse(parts.substr(parts.rfind('/') + 1));
    if (!id) continue;
    r.id = *id;
    r.port = a->tcp_target()->port;
    return;
  }
  throw std::runtime_error("relay did not print its address; see " + log);
}

std::string source_ip(const options& o, std::size_t peer_index) {
  const std::size_t k = peer_index / o.peers_per_ip;
  return "127.1." + std::to_string(k / 250) + "." + std::to_string(k % 250 + 1);
}

// A TCP socket to the relay from `src_ip`, as a raw connection.
net::awaitable<result<net::raw_connection>> dial_from(const relay_process& r,
                                                      const std::string& src_ip) {
  auto ex = co_await asio::this_coro::executor;
  net::tcp::socket sock(ex);
  net::error_code ec;
  sock.open(net::tcp::v4(), ec);
  const net::tcp::endpoint local(asio::ip::make_address_v4(src_ip), 0);
  if (!ec) sock.bind(local, ec);
  if (ec) co_return ec;
  const net::tcp::endpoint remote(asio::ip::make_address_v4("127.0.0.1"), r.port);
  auto [cec] = co_await sock.async_connect(remote, net::use_nothrow);
  if (cec) co_return cec;
  net::set_socket_options(sock);
  auto remote_addr = net::to_multiaddr(remote);
  auto local_addr = net::to_multiaddr(sock.local_endpoint(ec));
  co_return net::raw_connection{std::make_unique<net::tcp_stream>(std::move(sock)), remote_addr,
                                local_addr, false};
}

// Dials the relay from `src_ip` and upgrades the socket as `h`'s connection.
net::awaitable<result<net::connection_ptr>> connect_from(net::host& h, const relay_process& r,
                                                         const std::string& src_ip) {
  auto raw = co_await dial_from(r, src_ip);
  if (!raw) co_return raw.error();
  const std::optional<peer_id> expected = r.id;
  co_return co_await h.add_outbound(std::move(*raw), expected);
}

// One RESERVE on a new stream of `mux`; the reply's status only (a light
// home does not check the voucher: that is the client's CPU, not the relay's).
net::awaitable<result<void>> reserve_on(net::muxed_connection& mux) {
  auto s = mux.open_stream();
  if (!s) co_return s.error();
  const std::vector<std::string> hop{std::string(wire::relay_hop_protocol_id)};
  auto proto = co_await net::negotiate_outbound(**s, hop);
  if (!proto) co_return proto.error();
  const bytes request = wire::hop_message::reserve().encode();
  if (auto w = co_await net::write_length_prefixed(**s, request); !w) co_return w;
  auto raw = co_await net::read_length_prefixed(**s, wire::relay_max_message_size);
  if (!raw) co_return raw.error();
  auto reply = wire::hop_message::decode(*raw);
  if (!reply || reply->type != wire::hop_type::status || !reply->status)
    co_return make_error_code(errc::relay_malformed_message);
  if (*reply->status != wire::relay_status::ok)
    co_return make_error_code(wire::to_errc(*reply->status));
  (void)co_await (*s)->close_write();  // the relay closed its side: the stream is done
  co_return result<void>{};
}

// A light home: its key, TCP + Noise + Yamux to the relay, one RESERVE.
// What stays is the connection only; streams the relay opens (identify) are
// refused.
net::awaitable<result<net::muxed_connection_ptr>> light_reserve(
    const relay_process& r, const std::string& src_ip,
    std::shared_ptr<const noise::local_static> noise_static) {
  auto raw = co_await dial_from(r, src_ip);
  if (!raw) co_return raw.error();
  const net::connection_gater no_gater;
  const net::upgrade_params params{std::move(noise_static), no_gater, {}, nullptr};
  const std::optional<peer_id> expected = r.id;
  auto conn = co_await net::upgrade_outbound(std::move(*raw), params, expected);
  if (!conn) co_return conn.error();
  auto mux = (*conn)->mux;
  mux->start([](net::stream_ptr s) { s->reset(); });
  if (auto ok = co_await reserve_on(*mux); !ok) {
    mux->abort(ok.error());
    co_return ok.error();
  }
  co_return mux;
}

net::awaitable<void> serve_echo(net::stream_ptr s, net::stream_context) {
  std::vector<std::uint8_t> buf(4096);
  for (int i = 0; i < 1000000; ++i) {
    auto n = co_await s->read_some(buf);
    if (!n || *n == 0) break;
    const byte_span chunk(buf.data(), *n);
    if (!co_await s->write(chunk)) co_return s->reset();
  }
  (void)co_await s->close_write();
}

// One message out and back on a live echo stream.
net::awaitable<result<void>> echo_once(net::byte_stream& s, std::size_t seq) {
  std::string msg = "ping " + std::to_string(seq) + "........";
  msg.resize(16);
  const byte_span out = as_bytes(msg);
  if (auto w = co_await s.write(out); !w) co_return w;
  bytes back(16);
  const mutable_byte_span into(back.data(), back.size());
  auto r = co_await net::read_exact(s, into);
  if (!r) co_return r;
  if (as_string_view(back) != msg) co_return make_error_code(errc::ping_mismatch);
  co_return result<void>{};
}

// A full peer (circuit homes and clients): a host of its own.
struct peer {
  std::unique_ptr<net::host> host;
  net::connection_ptr relay_conn;
  net::stream_ptr echo;  // clients only
};

struct load {
  const options& opt;
  const relay_process& relay;
  std::vector<peer> homes, clients;              // homes: the first M (circuit targets)
  std::vector<net::muxed_connection_ptr> light;  // homes M..N-1
  // Each light home's identity key, Noise static key and signed handshake
  // payload, made before the clock starts: a real home has its identity
  // already, and makes its static key once per process (a host's first
  // upgrade), not per connection to the relay.
  std::vector<std::shared_ptr<const noise::local_static>> light_statics;
  std::size_t reserved = 0, reserve_failed = 0, circuits_up = 0, circuits_failed = 0;
  std::string first_error;

  int attempts() const {
    return opt.attempts_per_peer ? opt.attempts_per_peer : opt.overload() ? 1 : 3;
  }
  void note(const net::error_code& ec) {
    if (first_error.empty()) first_error = ec.message();
  }

  net::awaitable<void> reserve_one(std::size_t i) {
    const std::string src = source_ip(opt, i);
    for (int attempt = 0; attempt < attempts(); ++attempt) {
      if (i >= homes.size()) {
        auto m = co_await net::with_timeout(
            light_reserve(relay, src, light_statics[i - homes.size()]), 20s);
        if (!m) {
          note(m.error());
          continue;
        }
        light[i - homes.size()] = *m;
        ++reserved;
        co_return;
      }
      auto& p = homes[i];
      auto c = co_await net::with_timeout(connect_from(*p.host, relay, src), 20s);
      if (!c) {
        note(c.error());
        continue;
      }
      auto r = co_await net::with_timeout(protocols::reserve(*p.host, *c), 20s);
      if (!r) {
        note(r.error());
        continue;
      }
      p.relay_conn = *c;
      ++reserved;
      co_return;
    }
    ++reserve_failed;
  }

  net::awaitable<void> circuit_one(std::size_t j) {
    auto& p = clients[j];
    if (!homes[j].relay_conn) {
      ++circuits_failed;  // its home was refused a reservation
      co_return;
    }
    const auto home_id = homes[j].host->id();
    // Source addresses after the homes' ones, so clients share no IP with homes.
    const std::string src = source_ip(opt, opt.reservations + j);
    const auto addr =
        multiaddr::parse("/ip4/127.0.0.1/tcp/" + std::to_string(relay.port) + "/p2p/" +
                         relay.id->to_string() + "/p2p-circuit/p2p/" + home_id.to_string());
    for (int attempt = 0; attempt < attempts() && addr; ++attempt) {
      auto c = co_await net::with_timeout(connect_from(*p.host, relay, src), 20s);
      if (!c) {
        note(c.error());
        continue;
      }
      p.relay_conn = *c;
      auto conn = co_await net::with_timeout(p.host->connect(*addr), 20s);
      if (!conn) {
        note(conn.error());
        continue;
      }
      auto s = co_await net::with_timeout(p.host->new_stream(*conn, echo_protocol), 20s);
      if (!s) {
        note(s.error());
        continue;
      }
      auto ok = co_await net::with_timeout(echo_once(*s->stream, 0), 20s);
      if (!ok) {
        note(ok.error());
        continue;
      }
      p.echo = std::move(s->stream);
      ++circuits_up;
      co_return;
    }
    ++circuits_failed;
  }

  // Runs job(0..count-1) with at most opt.concurrency in flight.
  net::awaitable<void> paced(std::size_t count,
                             std::function<net::awaitable<void>(std::size_t)> job) {
    auto ex = co_await asio::this_coro::executor;
    std::size_t next = 0, running = 0;
    net::signal done(ex);
    auto worker = [&]() -> net::awaitable<void> {
      while (next < count) co_await job(next++);
      if (--running == 0) done.notify();
    };
    const std::size_t workers = std::min(opt.concurrency, count);
    running = workers;
    for (std::size_t w = 0; w < workers; ++w) asio::co_spawn(ex, worker(), asio::detached);
    if (workers > 0)
      for (int guard = 0; guard < 100000 && running > 0; ++guard) co_await done.wait();
  }

  // Echoes once on every live circuit; returns how many answered.
  net::awaitable<std::size_t> probe_circuits(std::size_t seq) {
    std::size_t ok = 0;
    const std::function<net::awaitable<void>(std::size_t)> job =
        [&](std::size_t j) -> net::awaitable<void> {
      if (!clients[j].echo) co_return;
      auto r = co_await net::with_timeout(echo_once(*clients[j].echo, seq), 20s);
      if (r) ++ok;
    };
    co_await paced(clients.size(), job);
    co_return ok;
  }

  // Refreshes (RESERVE again on the open connection) an evenly spread sample
  // of the admitted light reservations: the relay still serves them.
  net::awaitable<std::pair<std::size_t, std::size_t>> refresh_sample() {
    std::vector<net::muxed_connection*> pick;
    std::size_t admitted = 0;
    for (const auto& m : light)
      if (m && !m->is_closed()) ++admitted;
    const std::size_t want = std::min(opt.refresh_sample, admitted);
    if (want == 0) co_return std::pair<std::size_t, std::size_t>{0, 0};
    const std::size_t stride = std::max<std::size_t>(1, admitted / want);
    std::size_t seen = 0;
    for (const auto& m : light) {
      if (!m || m->is_closed()) continue;
      if (seen++ % stride == 0 && pick.size() < want) pick.push_back(m.get());
    }
    std::size_t ok = 0;
    const std::function<net::awaitable<void>(std::size_t)> job =
        [&](std::size_t k) -> net::awaitable<void> {
      auto r = co_await net::with_timeout(reserve_on(*pick[k]), 20s);
      if (r)
        ++ok;
      else
        note(r.error());
    };
    co_await paced(pick.size(), job);
    co_return std::pair<std::size_t, std::size_t>{ok, pick.size()};
  }

  std::size_t still_connected() const {
    std::size_t held = 0;
    for (const auto& h : homes)
      if (h.relay_conn && h.relay_conn->is_open()) ++held;
    for (const auto& m : light)
      if (m && !m->is_closed()) ++held;
    return held;
  }

  // Everyone leaves: orderly closes (GoAway, FIN), as peers going away do.
  void leave() {
    for (auto& c : clients) {
      c.echo.reset();
      if (c.host) c.host->stop();
    }
    for (auto& h : homes)
      if (h.host) h.host->stop();
    for (auto& m : light)
      if (m) m->close();
  }
};

void print_row(const char* phase, const proc_sample& s, double cpu_delta, double secs) {
  std::printf("| %-36s | %9.1f | %9.1f | %9.2f | %8.1f |\n", phase, s.rss_mib, s.hwm_mib, cpu_delta,
              secs);
  std::fflush(stdout);
}

double seconds_since(net::steady_clock::time_point t) {
  return std::chrono::duration<double>(net::steady_clock::now() - t).count();
}

net::awaitable<void> sleep_until(net::steady_clock::time_point t) {
  asio::steady_timer timer(co_await asio::this_coro::executor, t);
  co_await timer.async_wait(net::use_nothrow);
}

net::awaitable<void> run(const options& opt, const relay_process& relay, load& L) {
  auto ex = co_await asio::this_coro::executor;
  // Keys first: bench/relay_setup_rate.py counts this process's CPU from the
  // "relay pid" line on, and key making is no part of a reservation.
  L.light.resize(opt.reservations - opt.circuits);
  L.light_statics.reserve(L.light.size());
  for (std::size_t i = 0; i < L.light.size(); ++i)
    L.light_statics.push_back(net::make_noise_static(private_key::generate()));
  const auto base = sample(relay.pid);
  std::printf("relay pid %d, id %s, port %u; max_connections %zu%s\n\n", relay.pid,
              relay.id->to_string().c_str(), relay.port, opt.relay_max_connections(),
              opt.overload() ? " (below N + M: the excess must be refused)" : "");
  std::printf("| %-36s | %9s | %9s | %9s | %8s |\n", "phase (relay process)", "VmRSS MiB",
              "VmHWM MiB", "CPU s", "wall s");
  std::printf("|%s|%s|%s|%s|%s|\n", std::string(38, '-').c_str(), std::string(11, '-').c_str(),
              std::string(11, '-').c_str(), std::string(11, '-').c_str(),
              std::string(10, '-').c_str());
  print_row("idle after start", base, base.cpu_s, 0);

  auto t0 = net::steady_clock::now();
  for (std::size_t i = 0; i < opt.circuits; ++i) {
    peer p;
    p.host = std::make_unique<net::host>(ex, net::host_config{.identity = private_key::generate()});
    p.host->set_handler(echo_protocol, serve_echo);
    const peer_id relay_id = *relay.id;
    protocols::install_relay_stop(*p.host,
                                  [relay_id](const peer_id& from) { return from == relay_id; });
    L.homes.push_back(std::move(p));
  }
  const std::function<net::awaitable<void>(std::size_t)> reserve_job = [&](std::size_t i) {
    return L.reserve_one(i);
  };
  co_await L.paced(opt.reservations, reserve_job);
  const double reserve_secs = seconds_since(t0);
  const auto after_reserve = sample(relay.pid);
  print_row("N reservations set up", after_reserve, after_reserve.cpu_s - base.cpu_s, reserve_secs);

  t0 = net::steady_clock::now();
  for (std::size_t j = 0; j < opt.circuits; ++j) {
    peer p;
    p.host = std::make_unique<net::host>(ex, net::host_config{.identity = private_key::generate()});
    protocols::install_circuit_dialer(*p.host);
    L.clients.push_back(std::move(p));
  }
  const std::function<net::awaitable<void>(std::size_t)> circuit_job = [&](std::size_t j) {
    return L.circuit_one(j);
  };
  co_await L.paced(opt.circuits, circuit_job);
  const double circuit_secs = seconds_since(t0);
  const auto after_circuits = sample(relay.pid);
  print_row("+ M circuits set up", after_circuits, after_circuits.cpu_s - after_reserve.cpu_s,
            circuit_secs);

  // Steady state: every circuit echoes a message every 5 s, and a sample of
  // the reservations is refreshed once.
  t0 = net::steady_clock::now();
  std::size_t min_alive = L.circuits_up, rounds = 0;
  const auto refreshed = co_await L.refresh_sample();
  for (int s = 0; s < opt.steady_seconds; s += 5, ++rounds) {
    const std::size_t alive = co_await L.probe_circuits(rounds + 1);
    min_alive = std::min(min_alive, alive);
    co_await sleep_until(t0 + std::chrono::seconds(s + 5));
  }
  const double steady_secs = seconds_since(t0);
  const auto after_steady = sample(relay.pid);
  print_row("steady state (echo / 5 s, refresh)", after_steady,
            after_steady.cpu_s - after_circuits.cpu_s, steady_secs);
  const std::size_t held = L.still_connected();

  // Everyone leaves; the relay's RSS a few seconds later, and after its idle
  // check (every 30 s) had the chance to give freed heap back.
  t0 = net::steady_clock::now();
  L.leave();
  co_await sleep_until(t0 + 5s);
  const auto left = sample(relay.pid);
  print_row("all peers left (+5 s)", left, left.cpu_s - after_steady.cpu_s, seconds_since(t0));
  proc_sample settled = left;
  if (opt.settle_seconds > 5) {
    co_await sleep_until(t0 + std::chrono::seconds(opt.settle_seconds));
    settled = sample(relay.pid);
    const std::string label = "all peers left (+" + std::to_string(opt.settle_seconds) + " s)";
    print_row(label.c_str(), settled, settled.cpu_s - left.cpu_s, seconds_since(t0));
  }

  const std::size_t admitted = L.reserved, refused = L.reserve_failed;
  // Further waves of the light homes (the circuit homes and clients stay gone).
  std::vector<std::pair<proc_sample, proc_sample>> wave_rows;
  proc_sample prev = settled;
  for (int w = 2; w <= opt.waves; ++w) {
    L.light.assign(L.light.size(), nullptr);
    const std::size_t before = L.reserved;
    t0 = net::steady_clock::now();
    const std::function<net::awaitable<void>(std::size_t)> light_job = [&](std::size_t k) {
      return L.reserve_one(L.homes.size() + k);
    };
    co_await L.paced(L.light.size(), light_job);
    const auto peak = sample(relay.pid);
    const std::string up = "wave " + std::to_string(w) + ": " +
                           std::to_string(L.reserved - before) + " reservations";
    print_row(up.c_str(), peak, peak.cpu_s - prev.cpu_s, seconds_since(t0));
    t0 = net::steady_clock::now();
    L.leave();
    co_await sleep_until(t0 + 5s);
    const auto left5 = sample(relay.pid);
    const std::string l5 = "wave " + std::to_string(w) + ": all left (+5 s)";
    print_row(l5.c_str(), left5, left5.cpu_s - peak.cpu_s, seconds_since(t0));
    co_await sleep_until(t0 + std::chrono::seconds(std::max(opt.settle_seconds, 5)));
    const auto gone = sample(relay.pid);
    const std::string ls = "wave " + std::to_string(w) + ": all left (+" +
                           std::to_string(std::max(opt.settle_seconds, 5)) + " s)";
    print_row(ls.c_str(), gone, gone.cpu_s - left5.cpu_s, seconds_since(t0));
    wave_rows.emplace_back(peak, gone);
    prev = gone;
  }

  const double n = double(std::max<std::size_t>(admitted, 1));
  std::printf(
      "\nreservations: %zu ok, %zu failed (%zu attempts each at most), %zu still connected "
      "before leaving\n",
      admitted, refused, std::size_t(L.attempts()), held);
  if (opt.overload())
    std::printf("past the limit: %zu of %zu peers admitted (max_connections %zu), %zu refused\n",
                admitted + L.circuits_up, opt.reservations + opt.circuits,
                opt.relay_max_connections(), refused + L.circuits_failed);
  std::printf("refresh of admitted reservations in steady state: %zu of %zu ok\n", refreshed.first,
              refreshed.second);
  std::printf("circuits: %zu up, %zu failed; fewest answering an echo round: %zu (%zu rounds)\n",
              L.circuits_up, L.circuits_failed, min_alive, rounds);
  std::printf("relay RSS per reservation (after reservations, minus idle): %.1f KiB\n",
              (after_reserve.rss_mib - base.rss_mib) * 1024.0 / n);
  if (L.circuits_up > 0)
    std::printf("relay RSS per circuit (after circuits, minus after reservations): %.1f KiB\n",
                (after_circuits.rss_mib - after_reserve.rss_mib) * 1024.0 / double(L.circuits_up));
  std::printf(
      "setup: %.0f reservations/s wall; relay CPU %.3f ms per reservation (%.0f/s on one "
      "core)\n",
      n / reserve_secs, (after_reserve.cpu_s - base.cpu_s) * 1000.0 / n,
      n / std::max(after_reserve.cpu_s - base.cpu_s, 1e-9));
  std::printf("relay RSS after all left: %.1f MiB at +5 s, %.1f MiB at +%d s (peak %.1f)\n",
              left.rss_mib, settled.rss_mib, opt.settle_seconds, settled.hwm_mib);
  for (std::size_t k = 0; k < wave_rows.size(); ++k)
    std::printf("wave %zu: relay RSS %.1f MiB with its reservations, %.1f MiB after they left\n",
                k + 2, wave_rows[k].first.rss_mib, wave_rows[k].second.rss_mib);
  std::printf("bench process VmRSS: %.1f MiB (peak %.1f)\n", sample(getpid()).rss_mib,
              sample(getpid()).hwm_mib);
  if (!L.first_error.empty()) std::printf("first error seen: %s\n", L.first_error.c_str());
}

options parse_args(int argc, char** argv) {
  options o;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) throw std::invalid_argument(a + " needs a value");
      return argv[++i];
    };
    if (a == "--reservations")
      o.reservations = std::stoul(value());
    else if (a == "--circuits")
      o.circuits = std::stoul(value());
    else if (a == "--concurrency")
      o.concurrency = std::max<std::size_t>(1, std::stoul(value()));
    else if (a == "--steady-seconds")
      o.steady_seconds = std::stoi(value());
    else if (a == "--max-connections")
      o.max_connections = std::stoul(value());
    else if (a == "--peers-per-ip")
      o.peers_per_ip = std::stoul(value());
    else if (a == "--refresh-sample")
      o.refresh_sample = std::stoul(value());
    else if (a == "--attempts-per-peer")
      o.attempts_per_peer = std::stoi(value());
    else if (a == "--settle-seconds")
      o.settle_seconds = std::stoi(value());
    else if (a == "--waves")
      o.waves = std::stoi(value());
    else if (a == "--peerup")
      o.peerup = value();
    else if (a == "--dir")
      o.dir = value();
    else
      throw std::invalid_argument(
          "usage: relay_capacity_bench [--reservations N] [--circuits M] [--concurrency C] "
          "[--steady-seconds S] [--max-connections L] [--peers-per-ip P] [--refresh-sample K] "
          "[--attempts-per-peer A] [--settle-seconds T] [--waves W] [--peerup PATH] "
          "[--dir DIR]");
  }
  o.circuits = std::min(o.circuits, o.reservations);
  // SECURITY: bounded inputs: source addresses stay inside 127.1.0.0/16, the
  // relay's limits inside what relay.yaml accepts, and the run ends.
  if (o.peers_per_ip < 1 || o.peers_per_ip > 20000)
    throw std::invalid_argument("--peers-per-ip: expected 1 to 20000");
  if ((o.reservations + o.circuits) / o.peers_per_ip >= 250 * 250)
    throw std::invalid_argument(
        "too many peers for the 127.1.0.0/16 source range; raise --peers-per-ip");
  if (o.relay_max_connections() > 1'000'000)
    throw std::invalid_argument(
        "--max-connections (or N + M): at most 1000000 (relay.yaml's bound)");
  if (o.attempts_per_peer < 0 || o.attempts_per_peer > 10)
    throw std::invalid_argument("--attempts-per-peer: expected 1 to 10");
  if (o.steady_seconds < 0 || o.steady_seconds > 3600 || o.settle_seconds < 0 ||
      o.settle_seconds > 600)
    throw std::invalid_argument("--steady-seconds up to 3600, --settle-seconds up to 600");
  if (o.waves < 1 || o.waves > 10) throw std::invalid_argument("--waves: expected 1 to 10");
  return o;
}

// Each simulated peer holds a socket here and one in the relay, which
// inherits our limit. As root the hard limit may be raised up to
// /proc/sys/fs/nr_open; otherwise it must already be high enough.
bool raise_fd_limit(std::size_t needed) {
  rlimit fds{};
  getrlimit(RLIMIT_NOFILE, &fds);
  if (fds.rlim_max < needed) {
    const rlimit want{needed, needed};
    if (setrlimit(RLIMIT_NOFILE, &want) == 0) fds = want;
  }
  fds.rlim_cur = std::min<rlim_t>(fds.rlim_max, std::max<rlim_t>(needed, fds.rlim_cur));
  setrlimit(RLIMIT_NOFILE, &fds);
  getrlimit(RLIMIT_NOFILE, &fds);
  std::printf("RLIMIT_NOFILE %llu (need about %zu)\n",
              static_cast<unsigned long long>(fds.rlim_cur), needed);
  if (fds.rlim_cur >= needed) return true;
  std::fprintf(stderr,
               "file-descriptor limit too low for this N and M: run as root (the bench raises the "
               "hard limit, up to /proc/sys/fs/nr_open), or raise it first (ulimit -Hn %zu; "
               "LimitNOFILE= for a service)\n",
               needed);
  return false;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    const auto opt = parse_args(argc, argv);
    if (!raise_fd_limit(opt.reservations + opt.circuits + 1024)) return 2;
    relay_process relay;
    start_relay(opt, relay);
    asio::io_context io;
    load L{opt, relay, {}, {}, {}, {}};
    bool finished = false;
    asio::co_spawn(io, run(opt, relay, L), [&](std::exception_ptr e) {
      finished = true;
      io.stop();
      if (e) std::rethrow_exception(e);
    });
    // Hang guard: the whole run, however large, must end.
    asio::steady_timer guard(io, std::chrono::seconds(3600));
    guard.async_wait([&](net::error_code ec) {
      if (!ec) io.stop();
    });
    io.run();
    std::fflush(stdout);
    if (!finished) std::fprintf(stderr, "bench did not finish within 3600 s\n");
    // Tearing down thousands of hosts adds nothing to the figures; the relay
    // is stopped explicitly and the process exits without unwinding them.
    relay.stop();
    std::_Exit(finished ? 0 : 1);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "relay_capacity_bench: %s\n", e.what());
    return 1;
  }
}
