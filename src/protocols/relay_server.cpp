#include "protocols/relay_server.hpp"

#include <spdlog/spdlog.h>

#include "net/length_prefixed_io.hpp"
#include "net/quic_transport.hpp"
#include "net/resource_log.hpp"
#include "net/splice.hpp"
#include "protocols/relay_client.hpp"
#include "wire/relay_voucher.hpp"

namespace peerup::protocols {

namespace {
constexpr auto message_timeout = std::chrono::seconds(10);
constexpr auto expiry_interval = std::chrono::seconds(30);

std::chrono::system_clock::time_point wall_now() { return std::chrono::system_clock::now(); }

net::awaitable<result<void>> send_hop(net::byte_stream& s, const wire::hop_message& m) {
  const bytes encoded = m.encode();
  co_return co_await net::write_length_prefixed(s, encoded);
}

// The peer's IP for the per-IP limits, over TCP or QUIC.
std::string ip_of(const net::connection& c) {
  if (auto t = c.remote_addr.tcp_target()) return t->host;
  if (auto u = net::to_udp_endpoint(c.remote_addr)) return u->address().to_string();
  return std::string();
}
}  // namespace

relay_server::relay_server(net::host& h, relay_server_config cfg)
    : host_(h),
      cfg_(std::move(cfg)),
      state_(cfg_.limits, cfg_.access),
      expiry_timer_(h.get_executor()) {
  host_.set_handler(relay_hop_protocol, [this](net::stream_ptr s, net::stream_context ctx) {
    return serve_hop(std::move(s), std::move(ctx));
  });
  // The spec ties a reservation to the reserving connection.
  host_.on_disconnect([this, alive = std::weak_ptr<bool>(alive_)](const peer_id& p) {
    if (!alive.lock()) return;
    state_.peer_disconnected(p);
    drop_rate(p);  // circuits still running keep their buckets
  });
  // A reserving home node may stay silent for its whole reservation: its
  // connection is what carries circuits to it, so it is never idle.
  host_.add_idle_exemption([this, alive = std::weak_ptr<bool>(alive_)](const net::connection& c) {
    return alive.lock() && !c.relayed && state_.has_reservation(c.remote_peer, wall_now());
  });
  net::asio::co_spawn(host_.get_executor(), expiry_loop(), net::asio::detached);
}

relay_server::~relay_server() {
  *alive_ = false;
  expiry_timer_.cancel();
  host_.remove_handler(relay_hop_protocol);
}

relay_stats relay_server::stats() const {
  auto throttled = throttled_before_;
  for (const auto& [peer, r] : rates_)
    throttled += r.to_target->throttled() + r.from_target->throttled();
  return {.reservations = state_.reservation_count(),
          .circuits = state_.circuit_count(),
          .circuits_total = circuits_total_,
          .bytes_relayed = bytes_relayed_,
          .rate_limit = cfg_.limits.reservation_rate,
          .throttled_seconds = std::chrono::duration<double>(throttled).count()};
}

relay_server::reservation_rate& relay_server::rate_of(const peer_id& target) {
  auto it = rates_.find(target);
  if (it == rates_.end()) {
    const auto rate = cfg_.limits.reservation_rate;
    it = rates_
             .emplace(target, reservation_rate{std::make_shared<rate_limiter>(rate),
                                               std::make_shared<rate_limiter>(rate)})
             .first;
  }
  return it->second;
}

void relay_server::drop_rate(const peer_id& target) {
  auto it = rates_.find(target);
  if (it == rates_.end()) return;
  throttled_before_ += it->second.to_target->throttled() + it->second.from_target->throttled();
  rates_.erase(it);
}

wire::relay_requester relay_server::requester(const net::stream_context& ctx) const {
  const auto& peer = ctx.conn->remote_peer;
  return {.peer = peer,
          .ip = {},
          .authorized = cfg_.is_authorized && cfg_.is_authorized(peer),
          .over_relayed = ctx.conn->relayed};
}

net::awaitable<void> relay_server::expiry_loop() {
  auto alive = alive_;
  for (;;) {
    expiry_timer_.expires_after(expiry_interval);
    auto [ec] = co_await expiry_timer_.async_wait(net::use_nothrow);
    if (ec || !*alive) co_return;
    if (auto n = state_.expire(wall_now()); n) spdlog::info("relay: {} reservations expired", n);
  }
}

net::awaitable<void> relay_server::serve_hop(net::stream_ptr s, net::stream_context ctx) {
  auto raw = co_await net::with_timeout(net::read_length_prefixed(*s, wire::relay_max_message_size),
                                        message_timeout);
  if (!raw) {
    // SECURITY: oversized or stalled requests get no allocation and no slot.
    if (raw.error() == errc::too_large) {
      const auto reply = wire::hop_message::status_reply(wire::relay_status::malformed_message);
      (void)co_await send_hop(*s, reply);
    }
    co_return s->reset();
  }
  auto msg = wire::hop_message::decode(*raw);
  if (!msg) {
    spdlog::info("relay: malformed hop message from {}: {}", ctx.conn->remote_peer.to_string(),
                 msg.error().message());
    const auto reply = wire::hop_message::status_reply(wire::relay_status::malformed_message);
    (void)co_await send_hop(*s, reply);
    co_return s->reset();
  }
  switch (msg->type) {
    case wire::hop_type::reserve: co_await reserve(*s, ctx); break;
    case wire::hop_type::connect: co_await connect(std::move(s), ctx, *msg); co_return;
    default: {
      const auto reply = wire::hop_message::status_reply(wire::relay_status::unexpected_message);
      (void)co_await send_hop(*s, reply);
      co_return s->reset();
    }
  }
  (void)co_await s->close_write();
}

net::awaitable<void> relay_server::reserve(net::byte_stream& s, const net::stream_context& ctx) {
  auto who = requester(ctx);
  const std::string ip = ip_of(*ctx.conn);
  who.ip = ip;
  // SECURITY: over the memory budget the relay takes no new reservations (a
  // reservation keeps its connection's buffers for hours); refreshes of
  // existing ones still succeed, so peers already served are not harmed.
  wire::reservation_decision decision;
  if (!state_.has_reservation(who.peer, wall_now()) && host_.resources().memory_headroom() == 0) {
    net::log_refusal(host_.resources(), net::resource_limit::memory,
                     "a reservation for " + who.peer.to_string());
    decision.status = wire::relay_status::resource_limit_exceeded;
  } else {
    decision = state_.reserve(who, wall_now());
  }
  std::vector<bytes> addrs;
  std::optional<bytes> voucher;
  if (decision.status == wire::relay_status::ok) {
    for (const auto& a : host_.full_addrs()) addrs.push_back(a.to_bytes());
    voucher = wire::seal_relay_voucher(
        host_.identity(), wire::relay_voucher::make(host_.id(), who.peer, decision.expire));
    spdlog::info("relay: reservation for {} from {} until {}{}", who.peer.to_string(), ip,
                 decision.expire, who.authorized ? " (authorized)" : "");
  } else {
    spdlog::info("relay: reservation refused for {} from {}: status {}", who.peer.to_string(), ip,
                 static_cast<int>(decision.status));
  }
  const auto reply = wire::make_reservation_reply(decision, std::move(addrs), std::move(voucher));
  (void)co_await send_hop(s, reply);
}

net::awaitable<void> relay_server::connect(net::stream_ptr s, const net::stream_context& ctx,
                                           const wire::hop_message& msg) {
  auto refuse = [&](wire::relay_status st) -> net::awaitable<void> {
    const auto reply = wire::hop_message::status_reply(st);
    (void)co_await send_hop(*s, reply);
    s->reset();
  };
  if (!msg.peer) co_return co_await refuse(wire::relay_status::malformed_message);
  auto target = peer_id::from_bytes(msg.peer->id);
  if (!target) co_return co_await refuse(wire::relay_status::malformed_message);

  auto who = requester(ctx);
  const std::string ip = ip_of(*ctx.conn);
  who.ip = ip;
  auto alive = alive_;
  std::optional<wire::circuit_via> via;
  std::optional<peer_id> forwarded_by;
  if (msg.forwarded_for) {
    // The forwarded path, the target's relay: a peer relay of ours opens the
    // circuit on behalf of its member, named in forwarded_for.
    // 1. only the Noise-authenticated relay of one of our peerings, over a
    //    direct connection, and only while forwarded circuits are on
    // 2. the member becomes the circuit's source (STOP names it, so the
    //    home node's Noise and authorized_keys see the real peer)
    // 3. the usual caps, plus max_per_relay through that peer relay
    const peer_id relay = who.peer;
    if (who.over_relayed || !forwarding_.is_peer_relay || forwarding_.max_per_relay == 0 ||
        !forwarding_.is_peer_relay(relay)) {
      spdlog::info("relay: forwarded circuit from {} refused: not a peer relay of a federation",
                   relay.to_string());
      co_return co_await refuse(wire::relay_status::permission_denied);
    }
    auto source = msg.forwarded_for->parsed_id();
    if (!source) co_return co_await refuse(wire::relay_status::malformed_message);
    who.peer = *source;
    who.authorized = true;
    via = wire::circuit_via{relay, forwarding_.max_per_relay, forwarding_.cap, false};
    forwarded_by = relay;
  } else if (!who.authorized && !who.over_relayed && cfg_.access == wire::relay_access::closed &&
             cfg_.is_federated) {
    // A peer we do not know may be a member of a network we federate with:
    // its relay vouches for it (cached), and then it may open circuits to our
    // hosts only. The home node's authorized_keys still decides access.
    auto check = cfg_.is_federated(who.peer, ip);
    const bool member = co_await std::move(check);
    if (!*alive) co_return s->reset();
    who.authorized = member;
  } else if (who.authorized && !who.over_relayed && forwarding_.route &&
             forwarding_.max_per_relay > 0 && !state_.has_reservation(*target, wall_now())) {
    // The forwarded path, the member's relay: our own member (never a
    // foreign one, so circuits cross at most two relays) asks for a host of
    // a federated network that holds no reservation here.
    if (auto home = forwarding_.route(*target)) {
      auto onward = forward_onward(std::move(s), who.peer, ip, *target, *home);
      co_return co_await std::move(onward);
    }
  }
  const auto decision = state_.connect(who, *target, wall_now(), via ? &*via : nullptr);
  if (decision.status != wire::relay_status::ok) {
    spdlog::info("relay: circuit {} -> {} refused: status {}", who.peer.to_string(),
                 target->to_string(), static_cast<int>(decision.status));
    co_return co_await refuse(decision.status);
  }

  // 1. charge the two copy buffers to the memory budget
  // 2. find the target's connection (it holds a reservation, so it is connected)
  // 3. open STOP to it naming the source, read its STATUS
  // 4. answer the source with OK and bridge the two streams
  net::splice_limits limits;
  auto buffers = host_.resources().reserve_memory(2 * limits.buffer_size);
  if (!buffers) {
    net::log_refusal(host_.resources(), buffers.error(),
                     "a circuit " + who.peer.to_string() + " -> " + target->to_string());
    state_.circuit_closed(decision.circuit);
    co_return co_await refuse(wire::relay_status::resource_limit_exceeded);
  }
  auto target_conns = host_.connections(*target);
  std::erase_if(target_conns, [](const net::connection_ptr& c) { return c->relayed; });
  std::optional<net::opened_stream> stop;
  bool over_limit = false;
  if (!target_conns.empty()) {
    // Optimistic: STOP CONNECT follows the proposal without waiting for its echo.
    auto opened = co_await host_.new_stream_optimistic(target_conns.front(), relay_stop_protocol);
    if (opened) stop = std::move(*opened);
    over_limit = !opened && opened.error() == errc::resource_limit;
  }
  bool accepted = false;
  if (stop) {
    const wire::relay_peer source{.id = who.peer.to_bytes(), .addrs = {}};
    const bytes request = wire::stop_message::connect(source, decision.limit).encode();
    if (co_await net::write_length_prefixed(*stop->stream, request)) {
      auto raw = co_await net::with_timeout(
          net::read_length_prefixed(*stop->stream, wire::relay_max_message_size), message_timeout);
      if (raw) {
        auto reply = wire::stop_message::decode(*raw);
        accepted = reply && reply->type == wire::stop_type::status && reply->status &&
                   *reply->status == wire::relay_status::ok;
      }
    }
  }
  if (!*alive) co_return s->reset();
  if (!accepted) {
    state_.circuit_closed(decision.circuit);
    if (stop) stop->stream->reset();
    co_return co_await refuse(over_limit ? wire::relay_status::resource_limit_exceeded
                                         : wire::relay_status::connection_failed);
  }
  auto ok = wire::make_connect_reply(decision);
  if (!co_await send_hop(*s, ok) || !*alive) {
    if (*alive) state_.circuit_closed(decision.circuit);
    stop->stream->reset();
    co_return s->reset();
  }

  if (cfg_.limits.reservation_rate) {
    // a = the source's stream, b = the STOP stream to the reserving target.
    const auto& r = rate_of(*target);
    limits.rate_a_to_b.push_back(r.to_target);
    limits.rate_b_to_a.push_back(r.from_target);
  }
  auto bridged = bridge(*s, *stop->stream, decision, limits,
                        "circuit " + who.peer.to_string() + " -> " + target->to_string(),
                        forwarded_by ? " (forwarded by peer relay " + forwarded_by->to_string() + ")"
                                     : std::string());
  co_await std::move(bridged);
}

// Bridges an accepted circuit until either side ends it or a limit is hit,
// then releases its slot. `what` names it in the logs, `note` follows "open".
// Contract: on the host's executor; the caller keeps both streams alive
// until it returns; nothing of `this` is touched once the server is gone.
net::awaitable<void> relay_server::bridge(net::byte_stream& a, net::byte_stream& b,
                                          wire::connect_decision decision,
                                          net::splice_limits limits, std::string what,
                                          std::string note) {
  auto alive = alive_;
  ++circuits_total_;
  if (decision.limit) {
    limits.max_bytes_per_direction = decision.limit->data.value_or(0);
    limits.max_duration = std::chrono::seconds(decision.limit->duration.value_or(0));
  }
  spdlog::info("relay: {} open{}", what, note);
  const auto started = net::steady_clock::now();
  auto res = co_await net::splice(a, b, limits);
  if (!*alive) co_return;
  state_.circuit_closed(decision.circuit);
  bytes_relayed_ += res.a_to_b + res.b_to_a;
  const std::chrono::duration<double> took = net::steady_clock::now() - started;
  spdlog::info("relay: {} closed after {:.1f} s: {} B up, {} B down{}{}", what, took.count(),
               res.a_to_b, res.b_to_a, res.error ? ": " : "",
               res.error ? res.error.message() : "");
}

// The forwarded path, the member's relay (docs/federation.md):
// 1. count the circuit: the usual caps, plus max_per_relay through `home`
// 2. charge the two copy buffers to the memory budget
// 3. connect to the target's home relay (bounded), open HOP and CONNECT to
//    the target, naming our member in forwarded_for; read its STATUS
// 4. answer our member with that status (OK carries the tighter of the two
//    relays' limits) and bridge the two streams under our own limit
// Contract: on the host's executor; owns `s`; every path closes the circuit
// it counted and resets `s` unless the bridge ended it.
net::awaitable<void> relay_server::forward_onward(net::stream_ptr s, peer_id source, std::string ip,
                                                  peer_id target, multiaddr home) {
  auto alive = alive_;
  auto refuse = [&](wire::relay_status st) -> net::awaitable<void> {
    const auto reply = wire::hop_message::status_reply(st);
    (void)co_await send_hop(*s, reply);
    s->reset();
  };
  const auto relay = home.peer();
  if (!relay) co_return co_await refuse(wire::relay_status::connection_failed);
  const wire::relay_requester who{.peer = source, .ip = ip, .authorized = true, .over_relayed = false};
  const wire::circuit_via via{*relay, forwarding_.max_per_relay, forwarding_.cap, true};
  auto decision = state_.connect(who, target, wall_now(), &via);
  if (decision.status != wire::relay_status::ok) {
    spdlog::info("relay: forwarded circuit {} -> {} via {} refused here: status {}",
                 source.to_string(), target.to_string(), home.to_string(),
                 static_cast<int>(decision.status));
    co_return co_await refuse(decision.status);
  }
  net::splice_limits limits;
  auto buffers = host_.resources().reserve_memory(2 * limits.buffer_size);
  if (!buffers) {
    net::log_refusal(host_.resources(), buffers.error(),
                     "a forwarded circuit " + source.to_string() + " -> " + target.to_string());
    state_.circuit_closed(decision.circuit);
    co_return co_await refuse(wire::relay_status::resource_limit_exceeded);
  }

  struct upstream {
    net::stream_ptr stream;
    wire::hop_message reply;
  };
  auto open = [](net::host& h, multiaddr to, peer_id t, peer_id src) -> net::awaitable<result<upstream>> {
    auto conn = co_await h.connect(to);
    if (!conn) co_return conn.error();
    // SECURITY: never over a circuit: a relay chain would hide the path.
    if ((*conn)->relayed) co_return make_error_code(errc::relay_permission_denied);
    auto opened = co_await h.new_stream_optimistic(*conn, relay_hop_protocol);
    if (!opened) co_return opened.error();
    auto request = wire::hop_message::connect(wire::relay_peer{.id = t.to_bytes(), .addrs = {}});
    request.forwarded_for = wire::relay_peer{.id = src.to_bytes(), .addrs = {}};
    const bytes encoded = request.encode();
    if (auto w = co_await net::write_length_prefixed(*opened->stream, encoded); !w) {
      opened->stream->reset();
      co_return w.error();
    }
    auto raw = co_await net::read_length_prefixed(*opened->stream, wire::relay_max_message_size);
    if (!raw) {
      opened->stream->reset();
      co_return raw.error();
    }
    auto reply = wire::hop_message::decode(*raw);
    if (!reply || reply->type != wire::hop_type::status || !reply->status) {
      opened->stream->reset();
      co_return make_error_code(errc::relay_unexpected_message);
    }
    co_return upstream{std::move(opened->stream), std::move(*reply)};
  }(host_, home, target, source);
  // Connect + handshake + STOP at the far relay: twice the message timeout.
  auto up = co_await net::with_timeout(std::move(open), 2 * message_timeout);
  if (!*alive) co_return s->reset();
  wire::relay_status status = wire::relay_status::connection_failed;
  if (up) status = *up->reply.status;
  if (status != wire::relay_status::ok) {
    state_.circuit_closed(decision.circuit);
    if (up) up->stream->reset();
    spdlog::info("relay: forwarded circuit {} -> {} via {} refused: {}", source.to_string(),
                 target.to_string(), home.to_string(),
                 up ? "status " + std::to_string(static_cast<int>(status))
                    : "relay unreachable: " + up.error().message());
    co_return co_await refuse(status);
  }
  decision.limit = wire::tighter(decision.limit, up->reply.limit);
  auto ok = wire::make_connect_reply(decision);
  if (!co_await send_hop(*s, ok) || !*alive) {
    if (*alive) state_.circuit_closed(decision.circuit);
    up->stream->reset();
    co_return s->reset();
  }
  auto bridged = bridge(*s, *up->stream, decision, limits,
                        "forwarded circuit " + source.to_string() + " -> " + target.to_string(),
                        " via peer relay " + home.to_string());
  co_await std::move(bridged);
}

}  // namespace peerup::protocols
