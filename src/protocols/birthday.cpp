#include "protocols/birthday.hpp"

#include <spdlog/spdlog.h>

#include <random>

#include "net/length_prefixed_io.hpp"
#include "net/quic_transport.hpp"

namespace peerup::protocols {

namespace {

using net::steady_clock;
using net::udp;

multiaddr quic_addr(const udp::endpoint& ep) {
  return *multiaddr::parse("/ip4/" + ep.address().to_string() + "/udp/" +
                           std::to_string(ep.port()) + "/quic-v1");
}

wire::birthday_hello hello_of(const birthday_self& me, const wire::birthday_token& token) {
  wire::birthday_hello h;
  h.token = token;
  if (me.observed && me.observed->address().is_v4()) {
    h.hint = me.hint;
    h.ip = me.observed->address().to_v4().to_bytes();
    h.port = me.observed->port();
  }
  return h;
}

// One hard-side socket and its share of the run's state.
struct hard_state {
  std::vector<std::unique_ptr<udp::socket>> sockets;
  std::optional<std::size_t> winner;
  std::uint64_t dropped = 0;  // datagrams without the token or from elsewhere
  net::signal done;
  explicit hard_state(net::asio::any_io_executor ex) : done(ex) {}
};

// Gives back one of the service's run slots (unless the service is gone).
struct run_slot {
  std::size_t& n;
  std::shared_ptr<bool> alive;
  ~run_slot() {
    if (*alive) --n;
  }
};

// Step 2 on either side: the roles from both hints, logged once.
wire::birthday_role roles(const peer_id& peer, const char* with_or_from, wire::nat_hint ours,
                          wire::nat_hint theirs) {
  const auto role = wire::birthday_role_for(ours, theirs);
  spdlog::info("birthday hole punch {} {}: our NAT {}, its NAT {}: {}", with_or_from,
               peer.to_string(), wire::to_string(ours), wire::to_string(theirs),
               role == wire::birthday_role::hard   ? "we open the mappings"
               : role == wire::birthday_role::easy ? "we probe"
                                                   : "not tried");
  return role;
}

}  // namespace

birthday_service::birthday_service(net::host& h, self_source self, birthday_config cfg)
    : host_(h), self_(std::move(self)), cfg_(cfg) {
  if (!cfg_.enabled) return;
  host_.set_handler(birthday_protocol, [this](net::stream_ptr s, net::stream_context ctx) {
    return serve(std::move(s), std::move(ctx));
  });
}

birthday_service::~birthday_service() {
  *alive_ = false;
  if (cfg_.enabled) host_.remove_handler(birthday_protocol);
}

net::connection_ptr birthday_service::direct_to(const peer_id& peer) const {
  for (const auto& c : host_.connections(peer))
    if (!c->relayed && c->is_open()) return c;
  return nullptr;
}

result<udp::endpoint> birthday_service::usable(const wire::birthday_hello& h,
                                               const peer_id& peer) const {
  if (h.hint == wire::nat_hint::unknown) return make_error_code(errc::birthday_unsuitable);
  const udp::endpoint ep(net::asio::ip::address_v4(h.ip), h.port);
  // SECURITY: the peer's word decides where we send packets: only where
  // DCUtR would dial (public, or private/loopback when the policy says so).
  if (dcutr::usable_addrs({quic_addr(ep)}, cfg_.policy, peer).empty()) {
    spdlog::info("birthday hole punch with {}: refused its address {} (address policy)",
                 peer.to_string(), ep.address().to_string());
    return make_error_code(errc::birthday_unsuitable);
  }
  return ep;
}

net::awaitable<result<net::connection_ptr>> birthday_service::run(net::connection_ptr relayed) {
  auto alive = alive_;
  const auto peer = relayed->remote_peer;
  // SECURITY: our own runs count against the same bound as the peers'
  // (each may hold `sockets` descriptors): many relayed peers at once must
  // not exhaust them.
  if (serving_ >= cfg_.max_inbound) co_return make_error_code(errc::resource_limit);
  ++serving_;
  const run_slot slot{serving_, alive};
  // 1. our hello with a fresh token; the peer's hello
  wire::birthday_token token;
  {
    std::random_device rd;
    for (auto& b : token) b = static_cast<std::uint8_t>(rd());
  }
  const auto me = self_();
  const auto mine = hello_of(me, token);
  auto opened = co_await host_.new_stream(relayed, birthday_protocol);
  if (!*alive) co_return make_error_code(errc::connection_closed);
  if (!opened) co_return opened.error();
  auto s = std::move(opened->stream);
  const bytes out = mine.encode();
  if (auto w = co_await net::write_length_prefixed(*s, out); !w) co_return w.error();
  auto raw = co_await net::with_timeout(
      net::read_length_prefixed(*s, wire::birthday_hello::size), cfg_.message_timeout);
  if (!*alive) co_return make_error_code(errc::connection_closed);
  if (!raw) co_return raw.error();
  auto theirs = wire::birthday_hello::decode(*raw);
  if (!theirs) {
    s->reset();
    co_return theirs.error();
  }
  // 2. roles
  const auto role = roles(peer, "with", mine.hint, theirs->hint);
  if (role == wire::birthday_role::none) {
    (void)co_await s->close_write();
    co_return make_error_code(errc::birthday_unsuitable);
  }
  auto addr = usable(*theirs, peer);
  if (!addr) {
    s->reset();
    co_return addr.error();
  }
  co_return co_await play(relayed, std::move(s), role, token, *addr);
}

net::awaitable<void> birthday_service::serve(net::stream_ptr s, net::stream_context ctx) {
  // Only over a relayed connection: a direct one needs no punch.
  if (!ctx.conn->relayed) co_return s->reset();
  // SECURITY: each run may open many sockets or send many probes.
  if (serving_ >= cfg_.max_inbound) co_return s->reset();
  auto alive = alive_;
  ++serving_;
  const run_slot slot{serving_, alive};
  const auto peer = ctx.conn->remote_peer;
  auto raw = co_await net::with_timeout(
      net::read_length_prefixed(*s, wire::birthday_hello::size), cfg_.message_timeout);
  if (!*alive) co_return;
  if (!raw) co_return s->reset();
  auto theirs = wire::birthday_hello::decode(*raw);
  if (!theirs) {
    spdlog::info("birthday hole punch from {}: {}", peer.to_string(), theirs.error().message());
    co_return s->reset();
  }
  const auto me = self_();
  // The initiator's token counts for both directions.
  const auto mine = hello_of(me, theirs->token);
  const bytes out = mine.encode();
  if (auto w = co_await net::write_length_prefixed(*s, out); !w || !*alive) co_return;
  const auto role = roles(peer, "from", mine.hint, theirs->hint);
  if (role == wire::birthday_role::none) {
    (void)co_await s->close_write();
    co_return;
  }
  auto addr = usable(*theirs, peer);
  if (!addr) co_return s->reset();
  auto r = co_await play(ctx.conn, std::move(s), role, theirs->token, *addr);
  if (!*alive) co_return;
  if (r)
    spdlog::info("direct connection to {} via {} (birthday hole punch, responder)",
                 peer.to_string(), (*r)->remote_addr.to_string());
}

net::awaitable<result<net::connection_ptr>> birthday_service::play(
    const net::connection_ptr& relayed, net::stream_ptr s, wire::birthday_role role,
    wire::birthday_token token, udp::endpoint peer_addr) {
  auto alive = alive_;
  if (role == wire::birthday_role::easy) {
    // Shared with the reader of the hard side's outcome byte, which may
    // outlive this run by its own timeout.
    std::shared_ptr<net::byte_stream> shared(std::move(s));
    auto r = co_await play_easy(relayed, shared, token, peer_addr);
    if (*alive) (void)co_await shared->close_write();
    co_return r;
  }
  auto r = co_await play_hard(relayed, token, peer_addr);
  if (!*alive) co_return r;
  // 5. tell the easy side to stop probing
  const bytes outcome{static_cast<std::uint8_t>(r ? 1 : 0)};
  (void)co_await s->write(outcome);
  (void)co_await s->close_write();
  co_return r;
}

net::awaitable<result<net::connection_ptr>> birthday_service::play_hard(
    const net::connection_ptr& relayed, wire::birthday_token token, udp::endpoint easy) {
  auto alive = alive_;
  const auto peer = relayed->remote_peer;
  auto ex = host_.get_executor();
  auto st = std::make_shared<hard_state>(ex);
  const auto started = steady_clock::now();
  // 3. the mappings: one socket each, one `open` datagram each
  for (std::size_t i = 0; i < cfg_.budget.sockets; ++i) {
    auto sock = std::make_unique<udp::socket>(ex);
    boost::system::error_code ec;
    sock->open(udp::v4(), ec);
    if (!ec) sock->bind(udp::endpoint(udp::v4(), 0), ec);
    if (ec) {
      // SECURITY: out of descriptors is a bound, not an error: fewer mappings.
      spdlog::info("birthday hole punch: {} sockets opened ({})", i, ec.message());
      break;
    }
    const bytes opener = wire::encode_probe(
        {.kind = wire::probe_kind::open, .index = static_cast<std::uint16_t>(i)}, token);
    sock->send_to(net::asio::buffer(opener), easy, 0, ec);  // a full buffer: one mapping fewer
    st->sockets.push_back(std::move(sock));
  }
  // 4. a receiver per socket; the first valid probe from the easy side wins
  for (std::size_t i = 0; i < st->sockets.size(); ++i) {
    net::asio::co_spawn(
        ex,
        [st, i, token, easy]() -> net::awaitable<void> {
          std::array<std::uint8_t, 64> buf;
          udp::endpoint from;
          for (int n = 0; n < 64 && !st->winner; ++n) {  // SECURITY: bounded per socket
            const auto into = net::asio::buffer(buf);
            auto [ec, got] = co_await st->sockets[i]->async_receive_from(into, from,
                                                                         net::use_nothrow);
            if (ec || st->winner) co_return;
            auto p = wire::decode_probe(byte_span(buf.data(), got), token);
            if (!p || p->kind != wire::probe_kind::probe || from != easy) {
              ++st->dropped;
              continue;
            }
            st->winner = i;
            st->done.notify();
            co_return;
          }
        },
        net::asio::detached);
  }
  using namespace net::asio::experimental::awaitable_operators;
  net::asio::steady_timer timer(ex);
  const auto deadline = started + cfg_.budget.duration + std::chrono::milliseconds(500);
  while (*alive && !st->winner && steady_clock::now() < deadline && relayed->is_open()) {
    timer.expires_at(deadline);
    co_await (st->done.wait() || timer.async_wait(net::use_nothrow));
  }
  const auto sockets = st->sockets.size();
  std::uint16_t port = 0;
  if (st->winner) port = st->sockets[*st->winner]->local_endpoint().port();
  for (auto& sock : st->sockets) {
    boost::system::error_code ignored;
    sock->close(ignored);
  }
  if (!*alive) co_return make_error_code(errc::connection_closed);
  if (!st->winner) {
    spdlog::info("birthday hole punch with {}: no probe reached any of {} mappings in {} ms "
                 "({} other datagrams dropped)",
                 peer.to_string(), sockets,
                 std::chrono::duration_cast<std::chrono::milliseconds>(steady_clock::now() - started)
                     .count(),
                 st->dropped);
    co_return make_error_code(errc::birthday_no_hit);
  }
  spdlog::info("birthday hole punch with {}: a probe reached mapping {} of {} (local port {}) "
               "after {} ms; dialing QUIC from it",
               peer.to_string(), *st->winner, sockets, port,
               std::chrono::duration_cast<std::chrono::milliseconds>(steady_clock::now() - started)
                   .count());
  // 4. QUIC from the winner's port: the socket is closed, its NAT mapping
  //    (a conntrack entry, keyed by the 5-tuple) is not
  net::dial_options opts{.reuse_port = false, .ephemeral_fallback = false};
  opts.quic_local_port = port;
  const std::optional<peer_id> expected = peer;
  // Named: host::dial takes the address by reference and `op` starts later.
  const auto target = quic_addr(easy);
  auto op = host_.dial(target, expected, opts);
  auto c = co_await net::with_timeout(std::move(op), cfg_.dial_timeout);
  if (!*alive) co_return make_error_code(errc::connection_closed);
  co_return c;
}

net::awaitable<result<net::connection_ptr>> birthday_service::play_easy(
    const net::connection_ptr& relayed, std::shared_ptr<net::byte_stream> s,
    wire::birthday_token token, udp::endpoint hard) {
  auto alive = alive_;
  const auto peer = relayed->remote_peer;
  auto ex = host_.get_executor();
  struct easy_state {
    bool stop = false;
    std::optional<bool> outcome;  // the hard side's byte
  };
  auto st = std::make_shared<easy_state>();
  // 5. the hard side's outcome byte, read beside the probing
  net::asio::co_spawn(
      ex,
      [st, stream = s, alive, limit = cfg_.budget.duration + cfg_.dial_timeout +
                                           std::chrono::seconds(1)]() -> net::awaitable<void> {
        std::array<std::uint8_t, 1> b{};
        auto n = co_await net::with_timeout(stream->read_some(b), limit);
        if (!*alive) co_return;
        st->outcome = n && *n == 1 && b[0] == 1;
      },
      net::asio::detached);
  // 3. probes from our QUIC listen socket, a burst per tick
  const auto started = steady_clock::now();
  wire::birthday_planner plan(std::random_device{}() ^
                                  static_cast<std::uint64_t>(started.time_since_epoch().count()),
                              cfg_.budget.max_probes);
  const auto per_tick = cfg_.budget.per_tick();
  net::asio::steady_timer timer(ex);
  std::size_t sent = 0;
  std::uint16_t index = 0;
  while (*alive && !st->outcome && !direct_to(peer) && !plan.exhausted() &&
         steady_clock::now() - started < cfg_.budget.duration) {
    for (auto port : plan.next(per_tick)) {
      const bytes p = wire::encode_probe({.kind = wire::probe_kind::probe, .index = index++}, token);
      if (host_.send_udp_punch(quic_addr(udp::endpoint(hard.address(), port)), p)) ++sent;
    }
    timer.expires_after(cfg_.budget.tick);
    co_await timer.async_wait(net::use_nothrow);
  }
  if (!*alive) co_return make_error_code(errc::connection_closed);
  // The hard side dials once a probe got through: wait for its word (or its
  // connection), bounded by the reader's own timeout.
  while (*alive && !st->outcome && !direct_to(peer)) {
    timer.expires_after(std::chrono::milliseconds(50));
    co_await timer.async_wait(net::use_nothrow);
  }
  if (!*alive) co_return make_error_code(errc::connection_closed);
  const auto took =
      std::chrono::duration_cast<std::chrono::milliseconds>(steady_clock::now() - started).count();
  // Its connection registers here when its handshake completes, which can
  // be a moment after its outcome byte left.
  for (int i = 0; i < 40 && *alive && st->outcome.value_or(false) && !direct_to(peer); ++i) {
    timer.expires_after(std::chrono::milliseconds(50));
    co_await timer.async_wait(net::use_nothrow);
  }
  if (!*alive) co_return make_error_code(errc::connection_closed);
  if (auto d = direct_to(peer)) {
    spdlog::info("birthday hole punch with {}: {} probes sent, connected after {} ms",
                 peer.to_string(), sent, took);
    co_return d;
  }
  spdlog::info("birthday hole punch with {}: {} probes sent in {} ms, none got through",
               peer.to_string(), sent, took);
  co_return make_error_code(errc::birthday_no_hit);
}

}  // namespace peerup::protocols
