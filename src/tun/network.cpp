#include "tun/network.hpp"

#include <spawn.h>
#include <spdlog/spdlog.h>
#include <sys/wait.h>
#include <unistd.h>

#include <csignal>
#include <filesystem>
#include <thread>

#include "tun/core/framing.hpp"

namespace peerup::tun {

namespace {

using namespace std::chrono_literals;

// A frame stream read buffer: room for many full-size frames per read.
constexpr std::size_t read_buffer = 256 * 1024;
// How long a stream open may take before the queued packets are dropped.
constexpr auto open_timeout = 10s;
// After a failed open, packets for the peer are dropped (counted as no_path)
// for this long instead of piling up behind a dial that keeps failing.
constexpr auto retry_after = 2s;

std::optional<peer_id> peer_of_name(const app::config& cfg, const std::string& name) {
  auto it = cfg.names.find(name);
  if (it == cfg.names.end()) return std::nullopt;
  return it->second.peer;
}

switch_config switch_config_of(const app::config& cfg) {
  switch_config c;
  c.mtu = cfg.network.mtu;
  c.default_rules = cfg.network.allow;
  for (const auto& [name, p] : cfg.network.peers)
    if (auto id = peer_of_name(cfg, name); id && p.allow) c.peer_rules[*id] = *p.allow;
  return c;
}

// Runs `argv` (found on PATH) and waits at most 5 s for it; true on exit 0.
bool run_bounded(const std::vector<std::string>& argv) {
  std::vector<char*> args;
  args.reserve(argv.size() + 1);
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_t pid = 0;
  if (::posix_spawnp(&pid, args[0], nullptr, nullptr, args.data(), environ) != 0) return false;
  int status = 0;
  for (int i = 0; i < 500; ++i) {
    const pid_t r = ::waitpid(pid, &status, WNOHANG);
    if (r == pid) return WIFEXITED(status) && WEXITSTATUS(status) == 0;
    if (r < 0) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ::kill(pid, SIGKILL);
  ::waitpid(pid, &status, 0);
  return false;
}

}  // namespace

peer_traffic& peer_traffic::operator+=(const peer_traffic& o) {
  datagram_packets_out += o.datagram_packets_out;
  datagram_bytes_out += o.datagram_bytes_out;
  stream_packets_out += o.stream_packets_out;
  stream_bytes_out += o.stream_bytes_out;
  datagram_packets_in += o.datagram_packets_in;
  datagram_bytes_in += o.datagram_bytes_in;
  stream_packets_in += o.stream_packets_in;
  stream_bytes_in += o.stream_bytes_in;
  datagram_fallbacks += o.datagram_fallbacks;
  dropped_in += o.dropped_in;
  quic.sent += o.quic.sent;
  quic.received += o.quic.received;
  quic.send_dropped += o.quic.send_dropped;
  quic.receive_dropped += o.quic.receive_dropped;
  return *this;
}

namespace {
void add(net::datagram_stats& to, const net::datagram_stats& s) {
  to.sent += s.sent;
  to.received += s.received;
  to.send_dropped += s.send_dropped;
  to.receive_dropped += s.receive_dropped;
}
}  // namespace

net::datagram_stats network::quic_stats(const peer_id& peer) const {
  net::datagram_stats s;
  if (auto it = quic_closed_.find(peer); it != quic_closed_.end()) s = it->second;
  for (const auto& c : host_.connections(peer))
    if (c->mux)
      if (auto* dg = c->mux->datagrams()) add(s, dg->stats());
  return s;
}

network::network(net::host& host, const app::config& cfg, const std::vector<peer_id>& members,
                 std::function<bool(const peer_id&)> authorized, const device_opener& open_device)
    : host_(host),
      authorized_(std::move(authorized)),
      dns_server_(cfg.gateway.dns),
      zone_(cfg.gateway.zone),
      sw_(app::network_address_book(cfg, host.id(), members), switch_config_of(cfg)) {
  std::string why;
  device_config dc{cfg.network.name, sw_.book().self_v4(), cfg.network.prefix.length,
                  cfg.network.mtu};
  if (cfg.network.ipv6) {
    ipv6_ = true;
    dc.address6 = sw_.book().self_v6();
    dc.prefix6_length = sw_.book().prefix6().length;
  }
  auto dev = open_device ? open_device(dc, why)
                         : result<std::unique_ptr<packet_device>>(
                               device::open(host_.get_executor(), dc, why));
  if (!dev) throw std::runtime_error(why.empty() ? dev.error().message() : why);
  dev_ = std::move(*dev);
  // Where members can be dialed: the direct address of `names:` if any, and
  // a circuit through each of our relays (a hole punch then upgrades it).
  for (const auto& m : members) {
    // Configured: never evicted nor expired from the peer store.
    host_.peers().keep(m);
    for (const auto& [name, t] : cfg.names)
      if (t.peer == m && t.addr) host_.peers().add_addr(m, *t.addr);
    for (const auto& r : cfg.all_relays())
      if (auto a = multiaddr::parse(r.to_string() + "/p2p-circuit/p2p/" + m.to_string()))
        host_.peers().add_addr(m, *a);
  }
  spdlog::info("network mode: {} is {}/{} (mtu {}), {} peers", dev_->name(),
               sw_.book().self_v4().to_string(), cfg.network.prefix.length, cfg.network.mtu,
               sw_.book().peers_v4().size());
  if (dc.address6) {
    spdlog::info("network mode: {} has IPv6 {}/{}", dev_->name(), dc.address6->to_string(),
                 dc.prefix6_length);
    // IPv6 made the interface MTU 1280; IPv4 keeps the configured one on its
    // route, so TCP's MSS and PMTU fit a QUIC datagram. Without it IPv4 still
    // works: the switch answers larger packets with "fragmentation needed".
    if (cfg.network.mtu < ipv6_min_mtu && !open_device &&
        !run_bounded({"ip", "-4", "route", "replace", cfg.network.prefix.to_string(), "dev",
                      dev_->name(), "src", sw_.book().self_v4().to_string(), "mtu",
                      std::to_string(cfg.network.mtu)}))
      spdlog::warn("network mode: could not set mtu {} on the IPv4 route of {} (ip route "
                   "replace failed); larger IPv4 packets get ICMP fragmentation needed",
                   cfg.network.mtu, dev_->name());
  }
  for (const auto& [p, a] : sw_.book().peers_v4())
    spdlog::info("network mode: peer {} is {}", p.to_string(), a.to_string());
  host_.set_handler(
      protocol_id(std::string(ip_protocol_id)),
      [this](net::stream_ptr s, net::stream_context ctx) { return serve(std::move(s), std::move(ctx)); },
      [this](net::stream_context& ctx) -> net::awaitable<bool> {
        const auto& p = ctx.conn->remote_peer;
        // Access: a main authorized_keys peer with an address, nobody else.
        const bool ok = !stopped_ && authorized_(p) && sw_.book().v4_of(p).has_value();
        if (!ok) {
          spdlog::warn("network mode: refused {} from {}: not in authorized_keys", ip_protocol_id,
                       p.to_string());
          sw_.count_drop(drop_reason::unknown_peer);
        }
        co_return ok;
      });
  // The interface's own addresses must never carry the connections that
  // carry the interface (a dial to a peer's 10.64 address would loop into
  // the tunnel): not announced, not dialed.
  host_.set_address_filter([prefix = cfg.network.prefix](const multiaddr& a) {
    const std::string text = a.to_string();
    if (text.rfind("/ip4/", 0) != 0) return true;
    const auto end = text.find('/', 5);
    auto ip = ip_address::parse(text.substr(5, end == std::string::npos ? end : end - 5));
    return !ip || !prefix.contains(*ip);
  });
  host_.on_connection([this, alive = std::weak_ptr<bool>(alive_)](const net::connection_ptr& c) {
    if (alive.lock()) on_connection(c);
  });
}

network::~network() {
  *alive_ = false;
  stop();
}

void network::start() {
  net::asio::co_spawn(host_.get_executor(), tun_reader(), net::asio::detached);
  // Connections that came up before us (the host's observer sees only new
  // ones). Call start() right after the constructor, with no suspension in
  // between: a connection added in that gap would get two readers.
  for (const auto& [p, a] : sw_.book().peers_v4())
    for (const auto& c : host_.connections(p)) watch_datagrams(c);
  register_dns();
}

namespace {

using udp = net::asio::ip::udp;

// How long the relay waits for the gateway's answer to one query.
constexpr auto dns_answer_timeout = 3s;
// SECURITY: queries relayed at once; more are dropped (the resolver retries).
constexpr std::size_t max_dns_in_flight = 64;
// A DNS message over UDP is at most this long (the UDP payload limit).
constexpr std::size_t max_dns_message = 65535;

// gateway.dns ("127.0.0.1:5353") as an IPv4 endpoint; nullopt for anything
// else (the config reader accepts only host:port).
std::optional<udp::endpoint> v4_endpoint(const std::string& text) {
  const auto colon = text.rfind(':');
  if (colon == std::string::npos) return std::nullopt;
  boost::system::error_code ec;
  const auto addr = net::asio::ip::make_address_v4(text.substr(0, colon), ec);
  if (ec) return std::nullopt;
  unsigned port = 0;
  const auto digits = text.substr(colon + 1);
  if (digits.empty() || digits.size() > 5 ||
      digits.find_first_not_of("0123456789") != std::string::npos)
    return std::nullopt;
  port = static_cast<unsigned>(std::stoul(digits));
  if (port == 0 || port > 65535) return std::nullopt;
  return udp::endpoint(addr, static_cast<std::uint16_t>(port));
}

}  // namespace

void network::register_dns() {
  // Only when systemd-resolved runs: nothing else is ever edited (no
  // /etc/resolv.conf).
  std::error_code ec;
  if (!dns_server_ || !std::filesystem::exists("/run/systemd/resolve/io.systemd.Resolve", ec))
    return;
  const std::string dev = dev_->name();
  // resolved sends a link's queries out of that link (IP_UNICAST_IF on its
  // socket), so a server on loopback is unreachable through the interface:
  // the kernel routes 127.0.0.1 into the tunnel. Our own interface address
  // is reachable that way (local delivery), so resolved is given that
  // address: a gateway listening on all addresses is asked there directly,
  // one on loopback through a relay on our interface address
  // (dns_relay(); lab test tun_resolved).
  std::string server = *dns_server_;
  const auto self = net::asio::ip::make_address_v4(sw_.book().self_v4().to_string());
  if (auto gw = v4_endpoint(*dns_server_)) {
    if (gw->address().is_unspecified()) {
      server = self.to_string() + ":" + std::to_string(gw->port());
    } else if (gw->address().is_loopback()) {
      auto s = std::make_shared<udp::socket>(host_.get_executor());
      boost::system::error_code bind_ec;
      s->open(udp::v4(), bind_ec);
      if (!bind_ec) s->bind(udp::endpoint(self, gw->port()), bind_ec);
      if (bind_ec) {
        spdlog::warn("network mode: cannot relay DNS on {}:{} ({}); not registering {} with "
                     "systemd-resolved, which could not reach it through {}",
                     self.to_string(), gw->port(), bind_ec.message(), *dns_server_, dev);
        return;
      }
      dns_relay_ = s;
      net::asio::co_spawn(host_.get_executor(), dns_relay(s, *gw), net::asio::detached);
      server = self.to_string() + ":" + std::to_string(gw->port());
    }
  }
  if (run_bounded({"resolvectl", "dns", dev, server}) &&
      run_bounded({"resolvectl", "domain", dev, "~" + zone_})) {
    dns_registered_ = true;
    spdlog::info("network mode: systemd-resolved sends *.{} to {} via {}{}", zone_, server, dev,
                 server == *dns_server_ ? "" : " (relayed to " + *dns_server_ + ")");
  } else {
    spdlog::warn("network mode: could not register {} for .{} with resolvectl", server, zone_);
  }
}

void network::unregister_dns() {
  if (dns_relay_) {
    boost::system::error_code ignored;
    dns_relay_->close(ignored);
    dns_relay_.reset();
  }
  if (!dns_registered_) return;
  dns_registered_ = false;
  (void)run_bounded({"resolvectl", "revert", dev_->name()});
}

net::awaitable<void> network::dns_relay(std::shared_ptr<udp::socket> s, udp::endpoint gateway) {
  auto alive = alive_;
  const auto self = s->local_endpoint().address();
  bytes buf(max_dns_message);
  for (;;) {
    udp::endpoint from;
    auto [ec, n] = co_await s->async_receive_from(net::asio::buffer(buf), from, net::use_nothrow);
    if (!*alive || stopped_ || !s->is_open() || ec == net::asio::error::operation_aborted)
      co_return;
    if (ec) continue;
    // SECURITY: only this machine's resolver is served (its queries leave
    // from our interface address); a peer that reaches this port through
    // the tunnel is not. A DNS header is 12 bytes; in flight is bounded.
    if (from.address() != self || n < 12 || dns_in_flight_ >= max_dns_in_flight) continue;
    ++dns_in_flight_;
    net::asio::co_spawn(s->get_executor(),
                        dns_forward(s, bytes(buf.begin(), buf.begin() + static_cast<std::ptrdiff_t>(n)),
                                    from, gateway),
                        net::asio::detached);
  }
}

net::awaitable<void> network::dns_forward(std::shared_ptr<udp::socket> s, bytes query,
                                          udp::endpoint from, udp::endpoint gateway) {
  auto alive = alive_;
  // 1. the query to the gateway, from a socket of its own (its answer comes
  //    back to that socket: no ID table)
  // 2. the answer, within dns_answer_timeout
  // 3. back to the resolver, from the relay's address
  udp::socket up(s->get_executor());
  bytes answer(max_dns_message);
  std::size_t got = 0;
  boost::system::error_code ec;
  up.open(udp::v4(), ec);
  if (!ec) up.connect(gateway, ec);
  if (!ec) {
    [[maybe_unused]] auto [send_ec, sent] = co_await up.async_send(net::asio::buffer(query), net::use_nothrow);
    ec = send_ec;
  }
  if (!ec) {
    auto receive = [](udp::socket& u, bytes& into) -> net::awaitable<result<std::size_t>> {
      auto [e, n] = co_await u.async_receive(net::asio::buffer(into), net::use_nothrow);
      if (e) co_return e;
      co_return n;
    };
    const net::steady_clock::duration limit = dns_answer_timeout;
    auto r = co_await net::with_timeout(receive(up, answer), limit);
    if (r) got = *r;
  }
  if (!*alive) co_return;
  --dns_in_flight_;
  if (got == 0 || stopped_ || !s->is_open()) co_return;
  (void)co_await s->async_send_to(net::asio::buffer(answer.data(), got), from, net::use_nothrow);
}

void network::stop() {
  if (stopped_) return;
  stopped_ = true;
  host_.remove_handler(protocol_id(std::string(ip_protocol_id)));
  for (auto& [p, l] : links_) {
    if (l->stream) l->stream->reset();
    l->queue.clear();
    l->wake.notify();
  }
  if (dev_) {
    unregister_dns();
    spdlog::info("network mode: {} removed; {}", dev_->name(), counters_line());
    dev_->close();
  }
}

peer_traffic network::traffic_total() const {
  peer_traffic t;
  for (const auto& [p, x] : traffic_) t += x;
  for (const auto& [p, a] : sw_.book().peers_v4()) add(t.quic, quic_stats(p));
  return t;
}

namespace {
app::network_traffic to_status(const peer_traffic& t) {
  return {t.datagram_packets_out, t.datagram_bytes_out, t.stream_packets_out, t.stream_bytes_out,
          t.datagram_packets_in,  t.datagram_bytes_in,  t.stream_packets_in,  t.stream_bytes_in,
          t.datagram_fallbacks,   t.dropped_in,         t.quic.sent,         t.quic.received,
          t.quic.send_dropped,    t.quic.receive_dropped};
}
}  // namespace

app::network_status network::status(
    const std::function<std::string(const peer_id&)>& name_of) const {
  app::network_status s;
  s.interface = dev_ ? dev_->name() : "";
  s.address = sw_.book().self_v4().to_string();
  if (ipv6_) s.address6 = sw_.book().self_v6().to_string();
  s.mtu = sw_.config().mtu;
  const auto& c = sw_.counters();
  s.packets_out = c.to_peer_packets;
  s.bytes_out = c.to_peer_bytes;
  s.packets_in = c.to_tun_packets;
  s.bytes_in = c.to_tun_bytes;
  s.icmp_sent = c.icmp_sent;
  s.total = to_status(traffic_total());
  for (std::size_t i = 0; i < c.dropped.size(); ++i)
    s.dropped.emplace_back(std::string(to_string(static_cast<drop_reason>(i))), c.dropped[i]);
  // Every member, with or without traffic, so the user sees who is reachable
  // at which address.
  for (const auto& [p, a] : sw_.book().peers_v4()) {
    app::network_peer_status ps{p.to_string(), name_of ? name_of(p) : "", a.to_string()};
    peer_traffic t;
    if (auto it = traffic_.find(p); it != traffic_.end()) {
      ps.transport = it->second.transport;
      ps.datagrams = it->second.datagrams;
      t = it->second;
    }
    t.quic = quic_stats(p);
    ps.traffic = to_status(t);
    s.peers.push_back(std::move(ps));
  }
  return s;
}

std::string network::counters_line() const {
  const auto& c = sw_.counters();
  const auto t = traffic_total();
  std::string s = "out " + std::to_string(c.to_peer_packets) + " packets/" +
                  std::to_string(c.to_peer_bytes) + " bytes, in " +
                  std::to_string(c.to_tun_packets) + "/" + std::to_string(c.to_tun_bytes) +
                  ", icmp sent " + std::to_string(c.icmp_sent) +
                  ", via datagram_out=" + std::to_string(t.datagram_packets_out) +
                  " datagram_in=" + std::to_string(t.datagram_packets_in) +
                  " stream_out=" + std::to_string(t.stream_packets_out) +
                  " stream_in=" + std::to_string(t.stream_packets_in) +
                  " datagram_fallbacks=" + std::to_string(t.datagram_fallbacks) +
                  ", quic datagrams quic_sent=" + std::to_string(t.quic.sent) +
                  " quic_received=" + std::to_string(t.quic.received) +
                  " quic_send_dropped=" + std::to_string(t.quic.send_dropped) +
                  " quic_receive_dropped=" + std::to_string(t.quic.receive_dropped);
  if (dev_) {
    const auto d = dev_->stats();
    s += ", offload split_reads=" + std::to_string(d.split_reads) +
         " merged_writes=" + std::to_string(d.merged_writes) +
         " merged_packets=" + std::to_string(d.merged_packets) +
         " bad_offload_reads=" + std::to_string(d.bad_offload_reads) +
         " udp_split_reads=" + std::to_string(d.udp_split_reads);
  }
  s += ", dropped";
  for (std::size_t i = 0; i < c.dropped.size(); ++i)
    s += std::string(" ") + std::string(to_string(static_cast<drop_reason>(i))) + "=" +
         std::to_string(c.dropped[i]);
  return s;
}

void network::watch_datagrams(const net::connection_ptr& c) {
  // Only members' connections: nobody else may send us packets anyway, and
  // a stranger's datagrams then just wait in (and fall out of) QUIC's
  // bounded queue.
  if (stopped_ || !c->mux || !c->mux->datagrams() || !sw_.book().v4_of(c->remote_peer)) return;
  net::asio::co_spawn(host_.get_executor(), datagram_reader(c), net::asio::detached);
}

net::awaitable<void> network::datagram_reader(net::connection_ptr c) {
  auto alive = alive_;
  const peer_id peer = c->remote_peer;
  std::vector<bytes> got;
  std::vector<byte_span> pass;
  net::datagram_channel* last = nullptr;  // lives as long as c
  for (;;) {
    auto* dg = c->mux->datagrams();
    // Once closed, the connection's counters join the peer's history.
    if (!dg) {
      if (last && *alive) add(quic_closed_[peer], last->stats());
      co_return;  // closed
    }
    last = dg;
    auto d = co_await dg->receive();
    if (!*alive || stopped_) co_return;
    if (!d) {
      add(quic_closed_[peer], dg->stats());
      co_return;
    }
    // Everything that waits now goes to the device as one batch, so a run
    // of TCP segments of one flow can be merged into one write. got[] keeps
    // its buffers from batch to batch: QUIC swaps each datagram into one
    // and keeps the old buffer for a later datagram (no allocation per
    // packet).
    if (got.empty()) got.emplace_back();
    got[0] = std::move(*d);
    std::size_t n = 1;
    while (n < max_datagram_batch) {
      if (got.size() == n) got.emplace_back();
      if (!dg->try_receive(got[n])) break;
      ++n;
    }
    auto& t = traffic_[peer];
    // SECURITY: asked per batch, like per stream: a key removed by a
    // reload stops the flow at once.
    const bool ok = authorized_(peer);
    const auto now = std::chrono::steady_clock::now();
    pass.clear();
    for (std::size_t i = 0; i < n; ++i) {
      const bytes& g = got[i];
      ++t.datagram_packets_in;
      t.datagram_bytes_in += g.size();
      if (!ok) {
        sw_.count_drop(drop_reason::unknown_peer);
        ++t.dropped_in;
        continue;
      }
      accept(peer, g, now, pass);
    }
    to_tun(pass);
  }
}

void network::accept(const peer_id& peer, byte_span packet, steady_time now,
                     std::vector<byte_span>& pass) {
  if (sw_.from_peer(peer, packet, now)) {
    ++traffic_[peer].dropped_in;
    return;
  }
  pass.push_back(packet);
}

void network::to_tun(std::span<const byte_span> packets) {
  if (packets.empty()) return;
  const std::size_t written = dev_->write_batch(packets);
  for (std::size_t i = written; i < packets.size(); ++i) sw_.count_drop(drop_reason::queue_full);
}

void network::on_connection(const net::connection_ptr& c) {
  watch_datagrams(c);
  auto it = links_.find(c->remote_peer);
  if (it == links_.end() || c->relayed) return;
  auto& l = *it->second;
  // A direct connection beats the relayed one our stream runs on.
  if (l.conn && l.conn->relayed) {
    l.better_path = true;
    l.wake.notify();
  }
}

net::awaitable<void> network::tun_reader() {
  auto alive = alive_;
  while (*alive && !stopped_) {
    auto batch = co_await dev_->read_batch();
    if (!*alive || stopped_) co_return;
    if (!batch) {
      spdlog::error("network mode: reading {} failed: {}", dev_->name(), batch.error().message());
      co_return;
    }
    const auto now = std::chrono::steady_clock::now();
    for (const auto& packet : *batch) {
      auto v = sw_.from_tun(packet, now);
      if (auto* to = std::get_if<packet_switch::send_to_peer>(&v)) {
        enqueue(to->peer, packet);
      } else if (auto* reply = std::get_if<packet_switch::reply_to_tun>(&v)) {
        if (!dev_->write(reply->packet)) sw_.count_drop(drop_reason::queue_full);
      }
    }
  }
}

void network::enqueue(const peer_id& peer, byte_span packet) {
  auto it = links_.find(peer);
  if (it == links_.end())
    it = links_.emplace(peer, std::make_shared<link>(host_.get_executor())).first;
  auto& l = *it->second;
  // SECURITY: bounded; the reader never waits for a slow or absent peer.
  if (l.queue.size() >= max_queued_packets || l.queued_bytes + packet.size() > max_queued_bytes) {
    sw_.count_drop(drop_reason::queue_full);
    return;
  }
  l.queue.push_back(l.buffer(packet));
  l.queued_bytes += packet.size();
  if (!l.writer_running) {
    l.writer_running = true;
    net::asio::co_spawn(host_.get_executor(), writer(peer, it->second), net::asio::detached);
  } else {
    l.wake.notify();
  }
}

net::awaitable<result<void>> network::open_stream(const peer_id& peer, link& l) {
  // 1. the best connection (direct before relayed), dialing if there is none
  auto conn = co_await net::with_timeout(host_.connect(peer), open_timeout);
  if (!conn) co_return conn.error();
  // 2. the stream, negotiated on that connection
  auto s = co_await net::with_timeout(
      host_.new_stream(*conn, protocol_id(std::string(ip_protocol_id))), open_timeout);
  if (!s) co_return s.error();
  // 3. our hello: our addresses and MTU
  bytes hello_frame;
  append_frame(hello_frame, encode_hello({sw_.book().self_v4(), sw_.book().self_v6(),
                                          sw_.config().mtu}));
  if (auto w = co_await s->stream->write(hello_frame); !w) co_return w.error();
  if (l.stream) {
    // The old stream ends cleanly; the peer reads it to its end.
    auto old = std::move(l.stream);
    net::asio::co_spawn(
        host_.get_executor(),
        [](net::stream_ptr o) -> net::awaitable<void> { (void)co_await o->close_write(); }(
            std::move(old)),
        net::asio::detached);
  }
  spdlog::info("network mode: sending to {} over a {} connection", peer.to_string(),
               (*conn)->transport());
  l.stream = std::move(s->stream);
  l.conn = *conn;
  l.better_path = false;
  auto& t = traffic_[peer];
  t.transport = std::string((*conn)->transport());
  t.datagrams = (*conn)->mux->datagrams() != nullptr;
  if (t.datagrams)
    spdlog::info("network mode: packets to {} go as QUIC datagrams (up to {} bytes; larger ones "
                 "on the stream)",
                 peer.to_string(), (*conn)->mux->datagrams()->max_size());
  // The stream carries any packet up to the MTU, so packets too large for a
  // datagram still pass.
  sw_.set_path_limit(peer, 0);
  co_return result<void>{};
}

net::awaitable<void> network::writer(peer_id peer, std::shared_ptr<link> l) {
  auto alive = alive_;
  bytes out;
  auto retry_at = std::chrono::steady_clock::time_point{};
  while (*alive && !stopped_) {
    if (l->queue.empty() && !l->better_path) {
      co_await l->wake.wait();
      continue;
    }
    const bool dead = !l->stream || !l->conn || !l->conn->is_open();
    if (dead || l->better_path) {
      if (std::chrono::steady_clock::now() < retry_at) {
        // SECURITY: nothing accumulates while the peer is unreachable.
        for (std::size_t i = 0; i < l->queue.size(); ++i) sw_.count_drop(drop_reason::no_path);
        l->queue.clear();
        l->queued_bytes = 0;
        continue;
      }
      if (dead) l->stream.reset();
      auto r = co_await open_stream(peer, *l);
      if (!*alive || stopped_) co_return;
      if (!r) {
        if (!dead) {  // keep the working stream; try the better path later
          l->better_path = false;
          continue;
        }
        spdlog::warn("network mode: no path to {}: {}", peer.to_string(), r.error().message());
        retry_at = std::chrono::steady_clock::now() + retry_after;
        continue;
      }
    }
    // Every queued packet that fits goes as a QUIC datagram when the path
    // has them; the rest goes out in one stream write (up to 1 MiB).
    // When QUIC's datagram queue is full the packets wait in ours (bounded,
    // drops counted as queue_full) until packets leave: a burst from the
    // TUN (a TSO read is ~50 packets) must not push older datagrams out of
    // QUIC's queue, where their loss is silent to everyone but TCP.
    out.clear();
    auto* dg = l->conn->mux->datagrams();
    auto& t = traffic_[peer];
    bool wait_room = false;
    while (!l->queue.empty() && out.size() < (1u << 20)) {
      const bytes& p = l->queue.front();
      bool sent = false;
      if (dg) {
        const bool fits = p.size() <= dg->max_size();
        if (fits && dg->send_room() == 0) {
          wait_room = true;
          break;
        }
        sent = fits && dg->send(p).has_value();
        if (sent) {
          ++t.datagram_packets_out;
          t.datagram_bytes_out += p.size();
        } else {
          ++t.datagram_fallbacks;
        }
      }
      if (!sent) {
        append_frame(out, p);
        ++t.stream_packets_out;
        t.stream_bytes_out += p.size();
      }
      l->queued_bytes -= p.size();
      l->recycle(std::move(l->queue.front()));
      l->queue.pop_front();
    }
    if (out.empty()) {
      if (wait_room) {
        // The wait holds the connection alive; l->conn may change meanwhile.
        co_await dg->wait_send_room();
        if (!*alive || stopped_) co_return;
      }
      continue;
    }
    auto w = co_await l->stream->write(out);
    if (!*alive || stopped_) co_return;
    if (!w) {
      spdlog::info("network mode: stream to {} failed ({}); reopening", peer.to_string(),
                   w.error().message());
      l->stream->reset();
      l->stream.reset();
      l->conn.reset();
    }
  }
}

net::awaitable<void> network::serve(net::stream_ptr s, net::stream_context ctx) {
  auto alive = alive_;
  const peer_id peer = ctx.conn->remote_peer;
  bytes buf(read_buffer);
  std::size_t have = 0;
  bool greeted = false;
  std::vector<byte_span> pass;  // accepted packets of one read, written as a batch
  for (;;) {
    auto n = co_await s->read_some(mutable_byte_span(buf).subspan(have));
    if (!*alive || stopped_) co_return;
    if (!n || *n == 0) co_return;  // the peer closed (e.g. moved to a better path) or reset
    have += *n;
    std::size_t at = 0;
    const auto now = std::chrono::steady_clock::now();
    pass.clear();
    for (;;) {
      auto f = next_frame(byte_span(buf).subspan(at, have - at));
      if (!f) {
        spdlog::warn("network mode: {} sent a malformed frame; closing its stream",
                     peer.to_string());
        s->reset();
        co_return;
      }
      if (!*f) break;
      const byte_span payload = (*f)->payload;
      at += (*f)->consumed;
      if (is_control(payload)) {
        auto h = decode_hello(payload);
        if (!h) {
          s->reset();
          co_return;
        }
        greeted = true;
        const auto a = sw_.book().accept_announcement(peer, h->v4);
        if (a == address_book::announcement::moved)
          spdlog::info("network mode: {} announced {}; using it", peer.to_string(),
                       h->v4.to_string());
        else if (a == address_book::announcement::refused)
          spdlog::warn("network mode: {} announced {}, which is not its address here ({}); its "
                       "packets from there are dropped. Pin the address on both sides "
                       "(network.peers.<name>.address) if it is meant",
                       peer.to_string(), h->v4.to_string(),
                       sw_.book().v4_of(peer) ? sw_.book().v4_of(peer)->to_string() : "none");
        continue;
      }
      // SECURITY: a stream must start with the hello; packets before it
      // are a protocol error.
      if (!greeted) {
        s->reset();
        co_return;
      }
      auto& t = traffic_[peer];
      ++t.stream_packets_in;
      t.stream_bytes_in += payload.size();
      accept(peer, payload, now, pass);
    }
    // Before the buffer moves: the spans point into it.
    to_tun(pass);
    // Keep the partial frame at the front.
    if (at > 0) {
      std::memmove(buf.data(), buf.data() + at, have - at);
      have -= at;
    }
    // SECURITY: max_frame + prefix always fits; a full buffer means progress
    // stalled, which next_frame's bound makes impossible.
    if (have == buf.size()) {
      s->reset();
      co_return;
    }
  }
}

}  // namespace peerup::tun
