#include "protocols/federation.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>

#include "net/length_prefixed_io.hpp"

namespace peerup::protocols {

namespace {

constexpr auto message_timeout = std::chrono::seconds(10);

std::string full_name(const wire::dns_label& host, const wire::dns_label& network) {
  return host.str() + "." + network.str();
}

std::uint64_t system_unix() {
  return static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::seconds>(
                                        std::chrono::system_clock::now().time_since_epoch())
                                        .count());
}

net::awaitable<result<wire::federation_response>> connect_and_ask(net::host& h,
                                                                  multiaddr relay,
                                                                  wire::federation_request req) {
  auto conn = co_await h.connect(relay);
  if (!conn) co_return conn.error();
  auto opened = co_await h.new_stream(*conn, federation_protocol);
  if (!opened) co_return opened.error();
  auto& s = *opened->stream;
  const bytes encoded = req.encode();
  if (auto w = co_await net::write_length_prefixed(s, encoded); !w) co_return w.error();
  (void)co_await s.close_write();
  auto raw = co_await net::read_length_prefixed(s, wire::federation_max_message_size);
  if (!raw) co_return raw.error();
  co_return wire::federation_response::decode(*raw);
}

}  // namespace

federation_service::federation_service(net::host& h, const private_key& relay_key,
                                       wire::federation_state state, local_name_lookup local,
                                       federation_options opts)
    : host_(h),
      key_(relay_key),
      state_(std::move(state)),
      local_(std::move(local)),
      opts_(std::move(opts)),
      timer_(h.get_executor()) {
  host_.set_handler(federation_protocol, [this](net::stream_ptr s, net::stream_context ctx) {
    return serve(std::move(s), std::move(ctx));
  });
  net::asio::co_spawn(host_.get_executor(), loop(), net::asio::detached);
}

federation_service::~federation_service() {
  *alive_ = false;
  timer_.cancel();
  host_.remove_handler(federation_protocol);
}

net::steady_clock::time_point federation_service::now() const {
  return opts_.clock ? opts_.clock() : net::steady_clock::now();
}

std::uint64_t federation_service::unix_now() const {
  return opts_.unix_clock ? opts_.unix_clock() : system_unix();
}

result<void> federation_service::set_peerings(std::vector<wire::federation_peering> all,
                                              std::string* why) {
  auto ok = state_.set_peerings(std::move(all), why);
  if (ok) {
    std::erase_if(last_ping_, [&](const auto& kv) { return !state_.peering(kv.first); });
    spdlog::info("federation: {} peerings", state_.peerings().size());
  }
  return ok;
}

wire::federation_response federation_service::answer(const wire::federation_request& req,
                                                      const peer_id& from) {
  using wire::federation_status;
  const auto t = now();
  const auto st = state_.check_request(from, req, t);
  if (st != federation_status::ok) {
    ++stats_.refused;
    spdlog::warn("federation: refused {} from {}: {}",
                 req.host   ? full_name(*req.host, req.network.value_or(req.origin))
                 : req.peer ? "member " + req.peer->to_string()
                            : std::string("ping"),
                 from.to_string(), wire::to_string(st));
    auto r = wire::federation_response::status_only(st, std::string(wire::to_string(st)));
    if (st != federation_status::not_peered) r.network = state_.own_network();
    return r;
  }
  wire::federation_response r;
  r.network = state_.own_network();
  if (req.type == wire::federation_request_type::ping) return r;
  if (req.type == wire::federation_request_type::member) {
    // Our authorized_keys is the member list; the asking relay learns only
    // yes or no about the one peer ID that dialed it.
    const bool member = is_member_ && is_member_(*req.peer);
    if (!member) {
      r.status = federation_status::not_found;
      r.text = "not a member of " + state_.own_network().str();
    }
    spdlog::info("federation: network {} asked whether {} is our member: {}", req.origin.str(),
                 req.peer->to_string(), member ? "yes" : "no");
    ++stats_.served;
    return r;
  }
  // Our own registry only: a federation answer never comes from another
  // relay, so requests cannot loop.
  const auto* rec = local_ ? local_(*req.host, t) : nullptr;
  if (!rec) {
    r.status = federation_status::not_found;
    r.text = full_name(*req.host, state_.own_network()) + " is not registered";
    return r;
  }
  const auto left = std::chrono::ceil<std::chrono::seconds>(rec->expires - t).count();
  const auto ttl = static_cast<std::uint32_t>(
      std::clamp<std::int64_t>(left, 1, wire::federation_max_record_ttl));
  const wire::name_record_body body{state_.own_network(), *req.host, rec->peer, rec->addrs,
                                    unix_now(), ttl};
  r.record = wire::seal_name_record(key_, body);
  ++stats_.served;
  return r;
}

// 1. read one length-prefixed request (bounded in size and time)
// 2. check the peer relay and the request against our peerings (stranger,
//    impersonated origin, forwarded request, rate limit)
// 3. answer from our registry, signed, and close
net::awaitable<void> federation_service::serve(net::stream_ptr s, net::stream_context ctx) {
  auto alive = alive_;
  const peer_id from = ctx.conn->remote_peer;
  auto read = net::read_length_prefixed(*s, wire::federation_max_message_size);
  auto raw = co_await net::with_timeout(std::move(read), message_timeout);
  if (!*alive) co_return;
  wire::federation_response reply;
  if (!raw) {
    // SECURITY: an oversized request is refused before any allocation.
    if (raw.error() != errc::too_large) co_return s->reset();
    reply = wire::federation_response::status_only(wire::federation_status::malformed_message);
  } else if (auto req = wire::federation_request::decode(*raw); !req) {
    ++stats_.refused;
    reply = wire::federation_response::status_only(wire::federation_status::malformed_message,
                                                    req.error().message());
  } else {
    reply = answer(*req, from);
  }
  const bytes encoded = reply.encode();
  auto written = co_await net::write_length_prefixed(*s, encoded);
  if (!*alive || !written) co_return;
  (void)co_await s->close_write();
}

net::awaitable<result<wire::federation_response>> federation_service::ask(
    wire::federation_peering peer, wire::federation_request req) {
  ++stats_.asked;
  auto op = connect_and_ask(host_, peer.relay, std::move(req));
  co_return co_await net::with_timeout(std::move(op), opts_.request_timeout);
}

wire::names_response federation_service::from_record(const wire::name_record_body& r,
                                                      const wire::federation_peering& peer,
                                                      bool stale) const {
  wire::names_response out;
  out.peer = r.peer;
  out.addrs = r.addrs;
  // The home relay's circuit: where the host holds its reservation.
  if (auto c = multiaddr::parse(peer.relay.to_string() + "/p2p-circuit/p2p/" + r.peer.to_string()))
    out.addrs.push_back(std::move(*c));
  const std::uint64_t end = r.issued + r.ttl;
  const auto t = unix_now();
  out.ttl = static_cast<std::uint32_t>(std::max<std::uint64_t>(1, end > t ? end - t : 1));
  out.text = "via network " + peer.network.str() + (stale ? " (stale: relay unreachable)" : "");
  return out;
}

// 1. trust: a peering, and not one_way from our side
// 2. a fresh cached answer
// 3. ask the peer relay (bounded by our outbound bucket), verify, cache
// 4. on failure: the stale answer, else "network <n> unreachable (relay ...)"
net::awaitable<wire::names_response> federation_service::lookup(wire::dns_label network,
                                                                wire::dns_label host) {
  co_return co_await lookup_impl(std::move(network), std::move(host), false);
}

net::awaitable<wire::names_response> federation_service::lookup_impl(wire::dns_label network,
                                                                     wire::dns_label host,
                                                                     bool refresh) {
  using wire::names_status;
  auto alive = alive_;
  const auto own = state_.own_network();
  auto allowed = state_.may_ask(network);
  if (!allowed) {
    if (allowed.error() == errc::federation_not_trusted)
      co_return wire::names_response::status_only(
          names_status::not_federated,
          "network " + network.str() + " is one_way from " + own.str() + ": its members reach " +
              own.str() + ", " + own.str() + "'s members do not reach it");
    co_return wire::names_response::status_only(
        names_status::not_federated,
        "this relay serves network " + own.str() + " and is not federated with network " +
            network.str());
  }
  const auto peer = **allowed;
  const auto name = full_name(host, network);
  auto cached = state_.cached(network, host, now());
  if (!refresh && cached && cached->state == wire::federation_state::freshness::fresh) {
    ++stats_.cache_hits;
    if (!cached->record)
      co_return wire::names_response::status_only(names_status::not_found,
                                                   name + " is not registered (cached)");
    co_return from_record(*cached->record, peer, false);
  }
  std::string why;
  if (!state_.take_outbound_token(network, now())) {
    why = "too many lookups, rate limited here";
  } else {
    const wire::federation_request req{wire::federation_request_type::lookup, own, network, host,
                                       0};
    auto r = co_await ask(peer, req);
    if (!*alive) co_return wire::names_response::status_only(names_status::network_unreachable);
    if (!r) {
      why = r.error().message();
    } else if (r->status == wire::federation_status::not_found) {
      state_.mark_up(network, now());
      state_.store_not_found(network, host, now());
      co_return wire::names_response::status_only(names_status::not_found,
                                                  name + " is not registered");
    } else if (r->status != wire::federation_status::ok) {
      why = "it refused: " + std::string(wire::to_string(r->status));
    } else if (auto body = state_.verify_record(network, host, r->record, unix_now()); !body) {
      // SECURITY: a record the relay could not have signed for this name is
      // dropped and logged; the peering counts as down until it answers well.
      ++stats_.bad_records;
      why = "it sent a bad record: " + body.error().message();
      spdlog::error("federation: {} from {}: {}", name, peer.relay.to_string(), why);
    } else {
      state_.mark_up(network, now());
      state_.store(*body, now(), unix_now());
      co_return from_record(*body, peer, false);
    }
  }
  state_.mark_down(network, why);
  if (cached && cached->record) {
    ++stats_.stale_answers;
    spdlog::warn("federation: {}: answering from the stale cache ({})", name, why);
    co_return from_record(*cached->record, peer, true);
  }
  co_return wire::names_response::status_only(names_status::network_unreachable,
                                              state_.unreachable_message(network, why));
}

// 1. the cache: a member of a peering for member_ttl, a stranger for
//    negative_ttl (so a stranger's CONNECT flood costs one round of asks)
// 2. ask the peerings (those up first, at most max_member_asks), each
//    bounded by our outbound bucket for it and request_timeout
// 3. the first "yes" whose responder is that peering's network wins
net::awaitable<std::optional<wire::dns_label>> federation_service::foreign_member(peer_id p,
                                                                                 std::string ip) {
  auto alive = alive_;
  if (auto c = state_.cached_member(p, now())) co_return c->network;
  // SECURITY: fresh peer IDs are free; the IP they come from is not.
  if (!state_.take_unknown_ip_token(ip, now())) {
    ++stats_.unknown_ip_limited;
    spdlog::warn("federation: not asking about {}: too many unknown peers from {} (at most {} a "
                 "minute)",
                 p.to_string(), ip, state_.limits().unknown_connects_per_ip);
    co_return std::nullopt;
  }
  for (const auto& peer : state_.member_ask_order()) {
    if (!state_.take_outbound_token(peer.network, now())) {
      spdlog::warn("federation: not asking network {} about {}: rate limited", peer.network.str(),
                   p.to_string());
      continue;
    }
    wire::federation_request req{wire::federation_request_type::member, state_.own_network(),
                                 std::nullopt, std::nullopt, 0, p};
    auto r = co_await ask(peer, std::move(req));
    if (!*alive) co_return std::nullopt;
    // The peering may have gone while we waited: its answer no longer counts.
    const auto* still = state_.peering(peer.network);
    if (!still || !(*still == peer)) continue;
    if (!r) {
      state_.mark_down(peer.network, r.error().message());
      continue;
    }
    state_.mark_up(peer.network, now());
    if (r->status == wire::federation_status::ok && r->network == peer.network) {
      spdlog::info("federation: {} is a member of network {} (its relay says so)", p.to_string(),
                   peer.network.str());
      state_.store_member(p, peer.network, now());
      co_return peer.network;
    }
  }
  state_.store_member(p, std::nullopt, now());
  co_return std::nullopt;
}

std::optional<wire::federation_peering> federation_service::forward_route(
    const peer_id& target) const {
  if (const auto* p = state_.forward_route(target, now())) return *p;
  return std::nullopt;
}

std::optional<wire::dns_label> federation_service::peering_network_of(const peer_id& relay) const {
  if (const auto* p = state_.peering_of(relay)) return p->network;
  return std::nullopt;
}

net::awaitable<void> federation_service::ping(wire::federation_peering peer) {
  auto alive = alive_;
  const wire::federation_request req{wire::federation_request_type::ping, state_.own_network(),
                                     std::nullopt, std::nullopt, 0};
  auto r = co_await ask(peer, req);
  if (!*alive || !state_.peering(peer.network)) co_return;
  if (r && r->status == wire::federation_status::ok && r->network == peer.network) {
    state_.mark_up(peer.network, now());
  } else {
    const std::string why = !r ? r.error().message()
                               : r->status != wire::federation_status::ok
                                   ? "refused: " + std::string(wire::to_string(r->status))
                                   : "serves another network";
    spdlog::warn("federation: peer relay of {} ({}) is down: {}", peer.network.str(),
                 peer.relay.to_string(), why);
    state_.mark_down(peer.network, why);
  }
}

// Every tick: expire the cache, refresh names in use, ping peerings whose
// last ping is older than ping_interval. Bounded work per tick.
net::awaitable<void> federation_service::loop() {
  auto alive = alive_;
  for (;;) {
    if (!*alive) co_return;
    const auto t = now();
    state_.expire(t);
    for (const auto& p : state_.peerings()) {
      auto it = last_ping_.find(p.network);
      if (it != last_ping_.end() && t - it->second < opts_.ping_interval) continue;
      last_ping_[p.network] = t;
      net::asio::co_spawn(host_.get_executor(), ping(p), net::asio::detached);
    }
    auto due = state_.due_for_refresh(t);
    if (due.size() > opts_.max_refresh_per_tick)
      due.erase(due.begin() + static_cast<std::ptrdiff_t>(opts_.max_refresh_per_tick), due.end());
    for (auto& [network, host] : due) {
      auto op = lookup_impl(network, host, true);
      net::asio::co_spawn(host_.get_executor(), std::move(op), net::asio::detached);
    }
    timer_.expires_after(opts_.tick);
    auto [ec] = co_await timer_.async_wait(net::use_nothrow);
    if (ec || !*alive) co_return;
  }
}

}  // namespace peerup::protocols
