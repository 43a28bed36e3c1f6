// peerup proxy / connect: reaching a service of another node, as a local TCP
// port or on stdin/stdout (ssh ProxyCommand).
#include <spdlog/spdlog.h>
#include <array>

#include <csignal>
#include <iostream>

#include "cli/app_support.hpp"
#include "cli/runtime.hpp"
#include "config/identity_file.hpp"
#include "naming/resolver.hpp"
#include "naming/target.hpp"
#include "net/splice.hpp"
#include "net/stdio_stream.hpp"
#include "protocols/identify.hpp"
#include "protocols/kad.hpp"
#include "protocols/path_manager.hpp"
#include "protocols/ping.hpp"
#include "protocols/relay_client.hpp"

namespace peerup::cli {

namespace {

struct client_options {
  std::string target, service;
  std::uint16_t port = 0;
  bool no_hole_punch = false;
  bool once = false;  // proxy: exit at start when the target is unreachable
};

// The target did not answer (no route, no reservation on the relay yet, a
// timeout), as opposed to answering with a refusal: worth trying again later.
bool unreachable(const boost::system::error_code& ec) {
  for (auto e : {errc::dial_failed, errc::no_addresses, errc::timeout, errc::relay_no_reservation,
                 errc::relay_connection_failed, errc::relay_resource_limit})
    if (ec == make_error_code(e)) return true;
  return false;
}

// Everything a client command needs. The config and the service name are
// checked before any I/O; the plan is filled once the target is resolved.
struct client_setup {
  app::config cfg;
  app::service_name service;
  std::optional<app::dial_plan> plan;  // set once resolved
  bool asked_dht = false;              // the plan's peer record was looked up once
  // The target answered a stream once (so its gater lets this node in): a
  // close after that is not sent to authorized_keys (see explain).
  bool admitted = false;
};

client_setup prepare(const client_options& o) {
  auto cfg = load_cli_config();
  auto service = app::service_name::parse(o.service);
  if (!service) throw std::runtime_error("\"" + o.service + "\" is not a valid service name");
  return {std::move(cfg), *service, std::nullopt};
}

// `opened`: bytes came back on this stream. Streams are proposed
// optimistically, so only an answer (here or on an earlier stream,
// s.admitted) proves the peer's gater lets this node in; a close after that
// is a peer or relay going away (a relay restart under a proxy), not a
// refusal, and must not send the user to authorized_keys.
std::string explain(const boost::system::error_code& ec, const client_setup& s,
                    bool opened = false) {
  if ((opened || s.admitted) && net::closed_by_peer(ec))
    return "the connection under the stream closed (the peer, or the relay between us, went "
           "away or restarted)";
  // A peer answers "na" before any byte flows when it does not offer the
  // service, this node is not authorized for it, or the service is down (it
  // dials the service before accepting); its log says which.
  if (ec == make_error_code(errc::protocol_not_supported))
    return "the peer refused the stream for service \"" + s.service.str() +
           "\": it does not offer service \"" + s.service.str() +
           "\", this node is not authorized for it, or the service is down (the peer's log "
           "says which)";
  if (ec == make_error_code(errc::stream_reset))
    return "service \"" + s.service.str() +
           "\" refused the stream (not authorized for it, or the service is down)";
  if (net::closed_by_peer(ec))
    return "connection closed by the peer (is this node's peer ID in its authorized_keys?)";
  if (ec == make_error_code(errc::timeout))
    return "the path to the peer stopped answering (a NAT mapping that expired, or the peer "
           "went away); the next connection takes the relay or a new direct path";
  return ec.message();
}

// The client's host. For hole punching it listens on a random TCP port and
// a random UDP (QUIC) port on 0.0.0.0 (outbound dials then leave from them,
// so the NAT mappings DCUtR punches are the ones the peer sees). The gater lets only the relays (of
// `relays:` and `networks:`) and, once resolved, the target through, on that
// listener as on every dial; identify and the path manager let the target
// upgrade a relayed connection with DCUtR, and new streams then take the
// direct path. The target is resolved with the same name_resolver as
// `peerup resolve` (naming/target.hpp).
struct client_node {
  std::unique_ptr<net::host> host;
  std::unique_ptr<protocols::identify_service> identify;
  std::unique_ptr<protocols::path_manager> paths;
  std::unique_ptr<app::name_resolver> resolver;
  // A DHT client (docs/dht.md): when the planned addresses fail, the target's
  // signed peer record may name a relay we were not given.
  std::unique_ptr<protocols::kad_node> dht;
  std::shared_ptr<std::vector<peer_id>> allowed = std::make_shared<std::vector<peer_id>>();

  void start() {
    host->start();
    if (paths) paths->start();
  }
  void stop() {
    if (paths) paths->stop();
    if (dht) dht->stop();
    host->stop();
  }
  // Resolves `target` and lets its peer (and the relays of its circuits)
  // through the gater. Errors are the resolver's, for the user.
  net::awaitable<app::target_result> resolve(const std::string& target) {
    auto plan = co_await app::resolve_target(*resolver, target);
    if (plan) {
      allowed->push_back(plan->peer);
      // A literal circuit multiaddr (`connect /ip4/.../p2p/<relay>/p2p-circuit/p2p/<peer>`)
      // names its relay too, e.g. a federated relay that is none of ours.
      auto all = plan->addrs;
      if (plan->exact) all.push_back(*plan->exact);
      for (const auto& a : all)
        if (auto relay = a.relay_addr(); relay && relay->peer()) allowed->push_back(*relay->peer());
    }
    co_return plan;
  }
};

// Starts the node and resolves the target into s.plan; false (after saying
// why, as `peerup resolve` would) when it does not resolve.
net::awaitable<bool> start_and_resolve(client_node& node, client_setup& s,
                                       const std::string& target) {
  node.start();
  auto plan = co_await node.resolve(target);
  // A peer ID no relay of ours can reach (a config with dht.bootstrap and no
  // relays): its peer record in the DHT may say where it is.
  if (!plan && node.dht)
    if (auto id = peer_id::parse(target)) {
      app::dial_plan by_dht{*id, {}, std::nullopt, "peer ID"};
      std::vector<peer_id> relays;
      if (co_await app::add_dht_addrs(*node.dht, by_dht, relays)) {
        s.asked_dht = true;
        node.allowed->push_back(*id);
        node.allowed->insert(node.allowed->end(), relays.begin(), relays.end());
        plan = std::move(by_dht);
      }
    }
  if (!plan) {
    std::cerr << "peerup: " << plan.error().message << "\n";
    node.stop();
    co_return false;
  }
  s.plan = std::move(*plan);
  co_return true;
}

client_node make_client_node(net::asio::any_io_executor ex, const client_setup& s,
                             bool hole_punch) {
  net::host_config hc{.identity = app::load_identity(s.cfg.identity_key.resolved)};
  // QUIC too: its dials (to the relay as well) leave from that socket, so
  // the UDP mapping the relay observes is the one a QUIC hole punch needs.
  if (hole_punch)
    hc.listen = {*multiaddr::parse("/ip4/0.0.0.0/tcp/0"),
                 *multiaddr::parse("/ip4/0.0.0.0/udp/0/quic-v1")};
  client_node n;
  n.host = std::make_unique<net::host>(ex, std::move(hc));
  protocols::install_circuit_dialer(*n.host);
  for (const auto& r : s.cfg.all_relays())
    if (auto p = r.peer()) n.allowed->push_back(*p);
  if (s.cfg.dht.enabled) {
    protocols::kad_config kc;
    kc.protocol = s.cfg.dht.protocol;
    kc.server = false;  // a short-lived client never answers
    n.dht = std::make_unique<protocols::kad_node>(*n.host, std::move(kc));
    for (const auto& b : s.cfg.dht_bootstrap())
      if (auto p = b.peer()) n.dht->add_bootstrap(*p, {b.without_peer()});
  }
  n.host->set_gater([allowed = n.allowed, dht = n.dht.get()](const peer_id& p, const multiaddr&) {
    // The DHT servers we ask, too: they get nothing from us (a client).
    return std::find(allowed->begin(), allowed->end(), p) != allowed->end() ||
           (dht && dht->expects(p));
  });
  n.identify = std::make_unique<protocols::identify_service>(*n.host);
  if (hole_punch) {
    auto cfg = protocols::path_config_from_env();
    cfg.autonat = false;  // B (the home node) starts hole punching; our reachability is moot
    n.paths = std::make_unique<protocols::path_manager>(*n.host, *n.identify, cfg);
  }
  n.resolver = std::make_unique<app::name_resolver>(*n.host, s.cfg);
  return n;
}

// Opens a stream to the service, connecting (or reconnecting) as needed. The
// protocol is proposed optimistically, so what the local client sends first
// (an HTTP request) leaves without waiting a round trip for the echo; a
// refusal then surfaces on the stream's first read.
// Connects as planned; when that fails and the target was not a multiaddr,
// asks the DHT once for the target's peer record and tries its addresses.
net::awaitable<result<net::connection_ptr>> connect_plan(client_node& node, client_setup& s) {
  auto conn = co_await app::connect_target(*node.host, *s.plan);
  if (conn || s.asked_dht || !node.dht || s.plan->exact) co_return conn;
  s.asked_dht = true;
  spdlog::info("{}: {}; asking the DHT", s.plan->peer.to_string(), conn.error().message());
  std::vector<peer_id> relays;
  if (!co_await app::add_dht_addrs(*node.dht, *s.plan, relays)) {
    spdlog::info("dht: no peer record for {}", s.plan->peer.to_string());
    co_return conn;
  }
  // The relays the record names may carry our circuit: let them through.
  node.allowed->insert(node.allowed->end(), relays.begin(), relays.end());
  spdlog::info("dht: {} resolved by {}", s.plan->peer.to_string(), s.plan->source);
  co_return co_await app::connect_target(*node.host, *s.plan);
}

net::awaitable<result<net::opened_stream>> open_service(client_node& node, client_setup& s) {
  auto conn = co_await connect_plan(node, s);
  if (!conn) co_return conn.error();
  auto& h = *node.host;
  const auto proto = s.service.protocol();
  co_return co_await h.new_stream_optimistic(*conn, proto);
}

// Closes every connection in order (GoAway, FIN, then the peer's FIN; see
// yamux_connection), the service's first: a relayed connection's frames
// travel inside the relay's connection, which must still be up to carry them.
// Bounded by the muxer's close linger; returns when all are closed.
net::awaitable<void> close_in_order(client_node& node, const net::connection_ptr& service) {
  using namespace net::asio::experimental::awaitable_operators;
  auto ex = co_await net::asio::this_coro::executor;
  auto bounded_wait = [&](const net::connection_ptr& c) -> net::awaitable<void> {
    net::asio::steady_timer limit(ex, std::chrono::seconds(3));
    co_await (c->mux->wait_closed() || limit.async_wait(net::use_nothrow));
  };
  if (service && service->mux) {
    service->mux->close();
    co_await bounded_wait(service);
  }
  auto rest = node.host->all_connections();
  node.stop();
  for (const auto& c : rest)
    if (c->mux) co_await bounded_wait(c);
}

net::awaitable<void> proxy_one(client_node& node, client_setup& s, net::tcp::socket socket) {
  net::tcp_stream local(std::move(socket));
  // Each local connection tries again: up to 3 attempts 0.25 s and 0.5 s
  // apart while the target is unreachable (home not on the relay yet), then
  // one line says why and the local connection is closed.
  auto remote = co_await open_service(node, s);
  for (auto wait : {std::chrono::milliseconds(250), std::chrono::milliseconds(500)}) {
    if (remote || !unreachable(remote.error())) break;
    net::asio::steady_timer t(co_await net::asio::this_coro::executor, wait);
    co_await t.async_wait(net::use_nothrow);
    remote = co_await open_service(node, s);
  }
  if (!remote) {
    spdlog::warn("proxy: {}: {}", s.plan->peer.to_string(), explain(remote.error(), s));
    local.reset();
    co_return;
  }
  auto piped = co_await net::splice(local, *remote->stream);
  if (piped.b_to_a > 0) s.admitted = true;
  if (piped.error && piped.b_to_a == 0) {
    spdlog::warn("proxy: {}", explain(piped.error, s));  // refused before any byte came back
  } else if (piped.error) {
    spdlog::info("proxy: stream ended: {}", explain(piped.error, s, true));
  }
}

net::awaitable<int> run_proxy(client_options o) {
  auto ex = co_await net::asio::this_coro::executor;
  auto s = prepare(o);
  auto node = make_client_node(ex, s, !o.no_hole_punch);
  auto& h = node.host;
  if (!co_await start_and_resolve(node, s, o.target)) co_return 1;
  // Connect once up front so a wrong target or a refused peer shows at once.
  // A gater refusal only shows on the first stream, so open (and drop) a
  // ping stream; a service stream would make the remote dial its service.
  auto first = co_await connect_plan(node, s);
  if (first) {
    auto probe = co_await h->new_stream(*first, protocols::ping_protocol);
    // A negotiated ping stream, or "na" for it, means the gater let us in.
    if (probe) {
      s.admitted = true;
      probe->stream->reset();
    } else if (probe.error() == make_error_code(errc::protocol_not_supported)) {
      s.admitted = true;
    } else {
      first = probe.error();
    }
  }
  if (!first && (o.once || !unreachable(first.error()))) {
    std::cerr << "peerup: " << o.target << ": " << explain(first.error(), s) << "\n";
    co_return 2;
  }
  if (!first)  // keep listening: each new local connection tries again
    std::cerr << "peerup: " << o.target << ": " << explain(first.error(), s)
              << "; listening anyway, each new connection tries again\n";
  net::tcp::acceptor acceptor(ex);
  const net::tcp::endpoint ep(net::asio::ip::make_address("127.0.0.1"), o.port);
  acceptor.open(ep.protocol());
  acceptor.set_option(net::tcp::acceptor::reuse_address(true));
  acceptor.bind(ep);
  acceptor.listen();
  std::cout << "proxy 127.0.0.1:" << acceptor.local_endpoint().port() << " -> " << o.target << " "
            << o.service << std::endl;
  auto accept_loop = [&]() -> net::awaitable<void> {
    for (;;) {
      auto [ec, socket] = co_await acceptor.async_accept(net::use_nothrow);
      if (ec) co_return;
      net::set_socket_options(socket);
      net::asio::co_spawn(ex, proxy_one(node, s, std::move(socket)), net::asio::detached);
    }
  };
  using namespace net::asio::experimental::awaitable_operators;
  auto until_signal = accept_loop() || wait_for_signal();
  co_await std::move(until_signal);
  node.stop();
  co_return 0;
}

net::awaitable<int> run_connect(client_options o) {
  auto ex = co_await net::asio::this_coro::executor;
  auto s = prepare(o);
  auto node = make_client_node(ex, s, !o.no_hole_punch);
  if (!co_await start_and_resolve(node, s, o.target)) co_return 1;
  auto remote = co_await open_service(node, s);
  if (!remote) {
    std::cerr << "peerup: " << o.target << ": " << explain(remote.error(), s) << "\n";
    co_return 2;
  }
  app::stdio_stream stdio(ex);
  net::byte_stream& stream = *remote->stream;
  // A clean end sends a FIN each way, never a reset, so the service (sshd)
  // sees an orderly close (issue 15):
  // 1. stdin -> stream; stdin's EOF half-closes the stream
  // 2. stream -> stdout; the stream's EOF closes stdout
  // 3. the command ends when both are done. Bounds: once the stream has
  //    ended, stdin gets end_grace to end too (an ssh client closes its end
  //    at once); SIGHUP (OpenSSH sends it to its ProxyCommand as it exits)
  //    also starts end_grace; SIGINT or SIGTERM end at once.
  // 4. the service connection closes in order (GoAway, FIN, the peer's FIN)
  //    before the process exits, so our last frames are not lost to a reset.
  constexpr auto end_grace = std::chrono::seconds(2);
  net::asio::steady_timer deadline(ex, net::steady_clock::time_point::max());
  auto end_within = [&](net::steady_clock::duration d) {
    if (net::steady_clock::now() + d < deadline.expiry()) deadline.expires_after(d);
  };
  bool up_done = false, down_done = false;
  auto upstream = [&]() -> net::awaitable<void> {
    std::uint64_t sent = 0;
    if (auto r = co_await net::copy_stream(stdio, stream, sent); !r) stream.reset();
    up_done = true;
  };
  std::uint64_t received = 0;
  result<void> down = make_error_code(errc::stream_closed);
  auto downstream = [&]() -> net::awaitable<void> {
    down = co_await net::copy_stream(stream, stdio, received);
    if (!down && down.error() == boost::system::errc::broken_pipe) {
      // Our reader left (ssh exits right after its disconnect message): read
      // the stream to its end, discarding, so it still closes with a FIN each
      // way instead of a reset the service would see. Bounded by end_grace.
      end_within(end_grace);
      std::array<std::uint8_t, 4096> sink{};
      for (;;) {
        auto n = co_await stream.read_some(sink);
        if (!n || *n == 0) {
          if (n) down = result<void>{};
          break;
        }
      }
    }
    down_done = true;
    if (down) {
      end_within(end_grace);
    } else {
      stream.reset();
      end_within(net::steady_clock::duration::zero());
    }
  };
  auto until_deadline = [&]() -> net::awaitable<void> {
    // A new expiry cancels the wait in progress: wait again until it passes.
    while (net::steady_clock::now() < deadline.expiry())
      co_await deadline.async_wait(net::use_nothrow);
  };
  auto on_signals = [&]() -> net::awaitable<void> {
    net::asio::signal_set signals(ex, SIGHUP, SIGINT, SIGTERM);
    for (;;) {
      auto [ec, sig] = co_await signals.async_wait(net::use_nothrow);
      if (ec) co_return;
      end_within(sig == SIGHUP ? net::steady_clock::duration(end_grace)
                               : net::steady_clock::duration::zero());
    }
  };
  using namespace net::asio::experimental::awaitable_operators;
  co_await ((upstream() && downstream()) || until_deadline() || on_signals());
  // Cut short (deadline or signal) before stdin ended: the stream cannot end
  // cleanly, because a write to it may have been cancelled half way.
  if (!up_done) stream.reset();
  co_await close_in_order(node, remote->conn);
  if (!down_done) co_return 1;  // cut short by SIGINT, SIGTERM or SIGHUP
  if (!down) {
    std::cerr << "peerup: " << explain(down.error(), s, received > 0) << "\n";
    // Nothing came back: the service never answered (refused, not offered).
    co_return received == 0 ? 2 : 1;
  }
  co_return 0;
}

}  // namespace

void add_client_commands(CLI::App& app) {
  auto p = std::make_shared<client_options>();
  auto* proxy = app.add_subcommand(
      "proxy", "listen on 127.0.0.1:<local-port>; forward each connection to a peer's service");
  proxy->add_option("target", p->target, "name, peer ID or multiaddr")->required();
  proxy->add_option("service", p->service, "service name on the peer")->required();
  proxy->add_option("local-port", p->port, "local TCP port (0: any free port)")->required();
  proxy->add_flag("--no-hole-punch", p->no_hole_punch,
                  "stay on the relay: no listening port, no direct upgrade (DCUtR)");
  proxy->add_flag("--once", p->once,
                  "exit at start if the target is unreachable (default: keep listening)");
  proxy->callback([p] {
    std::signal(SIGPIPE, SIG_IGN);
    net::asio::io_context io;
    if (int rc = run_main([p] { return run_proxy(*p); }, io); rc != 0) std::exit(rc);
  });

  auto c = std::make_shared<client_options>();
  auto* connect = app.add_subcommand(
      "connect", "join stdin/stdout to a peer's service (e.g. as ssh ProxyCommand)");
  connect->add_option("target", c->target, "name, peer ID or multiaddr")->required();
  connect->add_option("service", c->service, "service name on the peer")->required();
  connect->add_flag("--no-hole-punch", c->no_hole_punch,
                    "stay on the relay: no listening port, no direct upgrade (DCUtR)");
  connect->callback([c] {
    std::signal(SIGPIPE, SIG_IGN);
    net::asio::io_context io;
    if (int rc = run_main([c] { return run_connect(*c); }, io); rc != 0) std::exit(rc);
  });
}

}  // namespace peerup::cli
