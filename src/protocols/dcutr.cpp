#include "protocols/dcutr.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <random>

#include "net/length_prefixed_io.hpp"
#include "net/quic_transport.hpp"

namespace peerup::protocols {

namespace {

using kind = dcutr::action::kind;
using net::steady_clock;

std::chrono::milliseconds since(steady_clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(steady_clock::now() - t);
}

// The unilateral upgrade only tries addresses that look reachable from
// anywhere: dialing a peer's LAN address would mostly hit someone else.
const dcutr::addr_policy public_only{.allow_private = false, .allow_loopback = false};

}  // namespace

dcutr_service::dcutr_service(net::host& h, addr_source our_addrs, dcutr_config cfg)
    : host_(h), our_addrs_(std::move(our_addrs)), cfg_(cfg), changed_(h.get_executor()) {
  host_.set_handler(dcutr_protocol, [this](net::stream_ptr s, net::stream_context ctx) {
    return serve(std::move(s), std::move(ctx));
  });
  host_.on_connection([this, alive = alive_](const net::connection_ptr& c) {
    if (*alive && !c->relayed) changed_.notify();
  });
}

dcutr_service::~dcutr_service() {
  *alive_ = false;
  host_.remove_handler(dcutr_protocol);
}

net::connection_ptr dcutr_service::direct_to(const peer_id& peer) const {
  for (const auto& c : host_.connections(peer))
    if (!c->relayed) return c;
  return nullptr;
}

void dcutr_service::report(punch_outcome o) {
  const char* side = o.role == punch_role::initiator ? "initiator" : "responder";
  if (o.conn)
    spdlog::info("direct connection to {} via {} after {} ms (DCUtR {}, {} rounds)",
                 o.peer.to_string(), (*o.conn)->remote_addr.to_string(), o.took.count(), side,
                 o.rounds);
  else
    spdlog::info("hole punch to {} failed: {} (DCUtR {}, {} rounds, {} ms)", o.peer.to_string(),
                 o.conn.error().message(), side, o.rounds, o.took.count());
  for (const auto& f : listeners_) f(o);
}

net::awaitable<void> dcutr_service::udp_punch(std::vector<multiaddr> addrs,
                                              net::steady_clock::time_point until,
                                              std::shared_ptr<bool> stop) {
  auto alive = alive_;
  std::mt19937 rng(std::random_device{}());
  std::uniform_int_distribution<int> interval_ms(10, 200);
  std::uniform_int_distribution<int> size(32, 64);
  std::uniform_int_distribution<int> byte(0, 255);
  net::asio::steady_timer timer(host_.get_executor());
  std::size_t sent = 0;
  // SECURITY: bounded by `until` (the round's dial timeout): at most
  // timeout / 10 ms packets per address, to addresses from the peer's
  // CONNECT (at most dcutr::max_dial_addrs).
  while (*alive && !*stop && steady_clock::now() < until) {
    for (const auto& a : addrs) {
      bytes junk(static_cast<std::size_t>(size(rng)));
      for (auto& b : junk) b = static_cast<std::uint8_t>(byte(rng));
      if (host_.send_udp_punch(a, junk)) ++sent;
    }
    timer.expires_after(std::chrono::milliseconds(interval_ms(rng)));
    co_await timer.async_wait(net::use_nothrow);
  }
  spdlog::debug("UDP hole punch: {} packets to {} addresses", sent, addrs.size());
}

net::awaitable<net::connection_ptr> dcutr_service::punch(const peer_id& peer,
                                                         const std::vector<multiaddr>& addrs,
                                                         net::dial_options opts,
                                                         net::steady_clock::duration timeout,
                                                         bool quic_server) {
  struct dials {
    net::connection_ptr won;
  };
  auto alive = alive_;
  auto st = std::make_shared<dials>();
  auto ex = host_.get_executor();
  const auto deadline = steady_clock::now() + timeout;
  std::vector<multiaddr> quic_addrs;
  for (const auto& a : addrs) {
    const bool quic = net::is_quic_addr(a);
    if (quic) quic_addrs.push_back(a);
    // The QUIC server does not dial: it opens its NAT with random packets
    // and the peer's Initial comes in through the hole.
    if (quic && quic_server) continue;
    net::asio::co_spawn(
        ex,
        [this, st, a, peer, opts, alive]() -> net::awaitable<void> {
          const std::optional<peer_id> expected = peer;
          auto c = co_await host_.dial(a, expected, opts);
          if (!*alive) co_return;
          if (c && (!st->won || (*c)->transport() == "quic")) st->won = *c;
          if (!c)
            spdlog::debug("hole punch dial {} failed: {}", a.to_string(), c.error().message());
          changed_.notify();
        },
        net::asio::detached);
  }
  auto stop_udp = std::make_shared<bool>(false);
  if (quic_server && !quic_addrs.empty())
    net::asio::co_spawn(ex, udp_punch(quic_addrs, deadline, stop_udp), net::asio::detached);
  struct stopper {
    std::shared_ptr<bool> flag;
    ~stopper() { *flag = true; }
  } stop_on_exit{stop_udp};
  // Our dial may lose to the peer's: its SYN reached our listener first and
  // our connect() then fails (that 4-tuple is taken). Either way a direct
  // connection registers with the host, so wait for any.
  using namespace net::asio::experimental::awaitable_operators;
  net::asio::steady_timer timer(ex);
  auto best = [&]() -> net::connection_ptr {
    // connections() lists QUIC first.
    if (auto d = direct_to(peer)) return d;
    if (st->won && st->won->is_open()) return st->won;
    return nullptr;
  };
  std::optional<steady_clock::time_point> tcp_at;  // when a TCP path came first
  while (*alive) {
    auto d = best();
    if (d && d->transport() == "quic") break;
    if (d && quic_addrs.empty()) break;
    const auto now = steady_clock::now();
    if (d && !tcp_at) tcp_at = now;
    auto until = deadline;
    if (tcp_at) until = std::min(deadline, *tcp_at + cfg_.quic_grace);
    if (now >= until) break;
    timer.expires_at(until);
    co_await (changed_.wait() || timer.async_wait(net::use_nothrow));
  }
  if (!*alive) co_return nullptr;
  auto d = best();
  if (d && d->transport() == "quic") {
    // Both made it: keep QUIC. A TCP path nobody uses yet goes.
    for (const auto& c : host_.connections(peer))
      if (!c->relayed && c->transport() == "tcp" && c->mux->stream_count() == 0) {
        spdlog::debug("hole punch to {}: QUIC and TCP both direct, keeping QUIC", peer.to_string());
        c->mux->close();
      }
  }
  co_return d;
}

net::awaitable<result<net::connection_ptr>> dcutr_service::drive(dcutr::initiator* b,
                                                                 dcutr::responder* a,
                                                                 std::vector<dcutr::action> acts,
                                                                 const net::connection_ptr& relayed,
                                                                 net::stream_ptr s) {
  auto alive = alive_;
  const auto peer = relayed->remote_peer;
  auto now = [] { return steady_clock::now(); };
  auto on_message = [&](const wire::hole_punch_message& msg) {
    return b ? b->on_message(msg, now()) : a->on_message(msg, now());
  };
  auto on_error = [&](net::error_code ec) {
    return b ? b->on_stream_error(ec, now()) : a->on_stream_error(ec, now());
  };
  auto on_dial = [&](bool ok) {
    return b ? b->on_dial_result(ok, now()) : a->on_dial_result(ok, now());
  };
  net::connection_ptr direct;
  net::asio::steady_timer timer(host_.get_executor());
  while (!acts.empty()) {
    std::vector<dcutr::action> next;
    for (auto& act : acts) {
      bool fed = false;  // the machine produced the next batch
      switch (act.what) {
        case kind::open_stream: {
          if (s) (void)co_await s->close_write();
          s.reset();
          if (!*alive) co_return make_error_code(errc::connection_closed);
          auto opened = co_await host_.new_stream(relayed, dcutr_protocol);
          if (!*alive) co_return make_error_code(errc::connection_closed);
          if (!opened) {
            next = on_error(opened.error());
            fed = true;
          } else {
            s = std::move(opened->stream);
          }
          break;
        }
        case kind::send: {
          const bytes msg = act.message.encode();
          auto w = co_await net::write_length_prefixed(*s, msg);
          if (!*alive) co_return make_error_code(errc::connection_closed);
          if (!w) {
            next = on_error(w.error());
            fed = true;
          }
          break;
        }
        case kind::receive: {
          auto raw = co_await net::with_timeout(
              net::read_length_prefixed(*s, wire::dcutr_max_message_size), cfg_.message_timeout);
          if (!*alive) co_return make_error_code(errc::connection_closed);
          fed = true;
          if (!raw) {
            next = on_error(raw.error());
            break;
          }
          auto msg = wire::hole_punch_message::decode(*raw);
          if (!msg) {
            s->reset();
            co_return make_error_code(errc::holepunch_protocol);
          }
          next = on_message(*msg);
          break;
        }
        case kind::dial: {
          if (act.delay > steady_clock::duration::zero()) {
            timer.expires_after(act.delay);
            co_await timer.async_wait(net::use_nothrow);
            if (!*alive) co_return make_error_code(errc::connection_closed);
          }
          // B takes the responder role on its dialed socket, A the initiator
          // role (and keeps it if B's SYN lands in our listener instead).
          net::dial_options opts{.reuse_port = true, .ephemeral_fallback = false};
          opts.role = b ? net::dial_role::responder : net::dial_role::initiator;
          // The expectation outlives our own dial: B's SYN may still be on
          // its way when ours has already succeeded. It expires by itself.
          if (a) host_.expect_punch(peer, act.addrs, now() + cfg_.dial_timeout);
          // Over QUIC, B is the server: it sends random UDP packets while A
          // dials (spec relay/DCUtR.md).
          direct = co_await punch(peer, act.addrs, opts, cfg_.dial_timeout, b != nullptr);
          if (!*alive) co_return make_error_code(errc::connection_closed);
          next = on_dial(direct != nullptr);
          fed = true;
          break;
        }
        case kind::succeeded:
          if (s) (void)co_await s->close_write();
          co_return direct;
        case kind::failed:
          if (s) s->reset();
          co_return act.error;
      }
      if (fed) break;
    }
    acts = std::move(next);
  }
  co_return make_error_code(errc::holepunch_failed);
}

net::awaitable<void> dcutr_service::serve(net::stream_ptr s, net::stream_context ctx) {
  // A sees the relayed connection as outbound; go-libp2p refuses the same.
  if (!ctx.conn->relayed || ctx.conn->dir != net::direction::outbound) co_return s->reset();
  // SECURITY: each stream may make us dial; bound how many run at once.
  if (serving_ >= cfg_.max_inbound) co_return s->reset();
  auto alive = alive_;
  ++serving_;
  const auto started = steady_clock::now();
  const auto peer = ctx.conn->remote_peer;
  dcutr::responder m(our_addrs_(), cfg_.policy, peer);
  std::vector<dcutr::action> first{{.what = kind::receive}};
  auto r = co_await drive(nullptr, &m, std::move(first), ctx.conn, std::move(s));
  if (!*alive) co_return;
  --serving_;
  report({peer, punch_role::responder, r, since(started), m.round()});
}

net::awaitable<result<net::connection_ptr>> dcutr_service::upgrade(net::connection_ptr relayed) {
  auto alive = alive_;
  const auto peer = relayed->remote_peer;
  const auto started = steady_clock::now();
  if (auto d = direct_to(peer)) co_return d;
  if (cfg_.try_unilateral) {
    const auto pub = dcutr::usable_addrs(host_.peers().addrs(peer), public_only, peer);
    if (!pub.empty()) {
      const auto measured = relayed->mux->rtt();
      const net::steady_clock::duration rtt = measured ? *measured : cfg_.unilateral_min;
      const auto budget =
          std::clamp<net::steady_clock::duration>(4 * rtt, cfg_.unilateral_min, cfg_.dial_timeout);
      auto d = co_await punch(peer, pub, net::dial_options{}, budget);
      if (!*alive) co_return make_error_code(errc::connection_closed);
      if (d) {
        report({peer, punch_role::initiator, d, since(started), 0});
        co_return d;
      }
    }
  }
  dcutr::initiator m(our_addrs_(), cfg_.policy, peer);
  auto first = m.start(steady_clock::now());
  auto r = co_await drive(&m, nullptr, std::move(first), relayed, nullptr);
  if (!*alive) co_return make_error_code(errc::connection_closed);
  report({peer, punch_role::initiator, r, since(started), m.round()});
  co_return r;
}

}  // namespace peerup::protocols
