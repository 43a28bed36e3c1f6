#include "wire/relay_server_state.hpp"

#include <algorithm>
#include <limits>

namespace peerup::wire {

namespace {

std::uint64_t unix_seconds(relay_server_state::time_point t) {
  const auto s = std::chrono::duration_cast<std::chrono::seconds>(t.time_since_epoch()).count();
  return s < 0 ? 0 : static_cast<std::uint64_t>(s);
}

std::optional<relay_limit> make_limit(std::chrono::seconds duration, std::uint64_t data) {
  relay_limit l;
  if (duration.count() > 0) {
    // The wire field is uint32 seconds; longer limits saturate.
    const auto max =
        static_cast<std::chrono::seconds::rep>(std::numeric_limits<std::uint32_t>::max());
    l.duration = static_cast<std::uint32_t>(std::min(duration.count(), max));
  }
  if (data > 0) l.data = data;
  if (!l.duration && !l.data) return std::nullopt;
  return l;
}

reservation_decision refuse_reservation(relay_status s) { return {s, 0, std::nullopt}; }
connect_decision refuse_connect(relay_status s) { return {s, std::nullopt, 0}; }

}  // namespace

std::optional<relay_limit> tighter(const std::optional<relay_limit>& a,
                                   const std::optional<relay_limit>& b) {
  auto pick = [](auto x, auto y) -> decltype(x) {
    if (!x || *x == 0) return y && *y != 0 ? y : decltype(x){};
    if (!y || *y == 0) return x;
    return std::min(*x, *y);
  };
  relay_limit l;
  l.duration = pick(a ? a->duration : std::nullopt, b ? b->duration : std::nullopt);
  l.data = pick(a ? a->data : std::nullopt, b ? b->data : std::nullopt);
  if (!l.duration && !l.data) return std::nullopt;
  return l;
}

relay_server_state::relay_server_state(relay_limits limits, relay_access access)
    : limits_(limits), access_(access) {}

std::optional<relay_limit> relay_server_state::limit_for(bool authorized) const {
  return authorized ? make_limit(limits_.circuit_duration, limits_.circuit_data)
                    : make_limit(limits_.open_circuit_duration, limits_.open_circuit_data);
}

std::size_t relay_server_state::reservations_from(std::string_view ip) const {
  auto it = reservations_per_ip_.find(ip);
  return it == reservations_per_ip_.end() ? 0 : it->second;
}

void relay_server_state::erase_reservation(std::unordered_map<peer_id, reservation>::iterator it) {
  auto ip = reservations_per_ip_.find(it->second.ip);
  if (ip != reservations_per_ip_.end() && --ip->second == 0) reservations_per_ip_.erase(ip);
  reservations_.erase(it);
}

reservation_decision relay_server_state::reserve(const relay_requester& from, time_point now) {
  // 1. Refuse what we cannot verify or do not allow: requests over a relayed
  //    connection (the IP is the relay's) and, in closed mode, strangers.
  // 2. Refresh an existing, unexpired reservation in place.
  // 3. Otherwise admit a new one within the total and per-IP caps.
  if (from.over_relayed) return refuse_reservation(relay_status::permission_denied);
  if (access_ == relay_access::closed && !from.authorized)
    return refuse_reservation(relay_status::permission_denied);

  auto it = reservations_.find(from.peer);
  if (it != reservations_.end() && it->second.expires <= now) {
    erase_reservation(it);
    it = reservations_.end();
  }
  const bool same_ip = it != reservations_.end() && it->second.ip == from.ip;
  const auto over_cap = [&] {
    return (!same_ip && reservations_from(from.ip) >= limits_.max_reservations_per_ip) ||
           (it == reservations_.end() && reservations_.size() >= limits_.max_reservations);
  };
  // Expired entries are purged lazily, only when they would cause a refusal;
  // `it` survives because it is unexpired (or end).
  if (over_cap()) {
    expire(now);
    if (over_cap()) return refuse_reservation(relay_status::reservation_refused);
  }

  if (it != reservations_.end() && !same_ip) {
    erase_reservation(it);
    it = reservations_.end();
  }
  const time_point expires = now + limits_.reservation_ttl;
  if (it == reservations_.end()) {
    reservations_.emplace(from.peer, reservation{std::string(from.ip), expires, from.authorized});
    auto ip = reservations_per_ip_.find(from.ip);
    if (ip == reservations_per_ip_.end()) {
      reservations_per_ip_.emplace(std::string(from.ip), 1);
    } else {
      ++ip->second;
    }
  } else {
    it->second.expires = expires;
    it->second.authorized = from.authorized;
  }
  return {relay_status::ok, unix_seconds(expires), limit_for(from.authorized)};
}

connect_decision relay_server_state::connect(const relay_requester& from, const peer_id& target,
                                             time_point now, const circuit_via* via) {
  // 1. Refuse relayed and (closed mode) unauthorized sources.
  // 2. The target must hold an unexpired reservation (not when we forward
  //    the circuit onward to the target's home relay).
  // 3. Total and per-peer circuit caps, for source and target alike, and the
  //    forwarded circuits through one peer relay.
  // 4. Count the circuit now; the caller reports its end.
  if (from.over_relayed) return refuse_connect(relay_status::permission_denied);
  if (access_ == relay_access::closed && !from.authorized)
    return refuse_connect(relay_status::permission_denied);
  // A circuit to oneself carries nothing useful and would count twice
  // against the same peer's circuit cap (found by fuzz_relay_server_state).
  if (from.peer == target) return refuse_connect(relay_status::permission_denied);
  // A relay forwards to another relay, never to itself or back to the one
  // that forwarded to it.
  if (via && (via->peer_relay == target || via->peer_relay == from.peer))
    return refuse_connect(relay_status::permission_denied);

  bool target_authorized = true;  // onward: a host its home relay vouches for
  if (!via || !via->onward) {
    auto rsv = reservations_.find(target);
    if (rsv == reservations_.end()) return refuse_connect(relay_status::no_reservation);
    if (rsv->second.expires <= now) {
      erase_reservation(rsv);
      return refuse_connect(relay_status::no_reservation);
    }
    target_authorized = rsv->second.authorized;
  }

  // SECURITY: forwarded circuits through one peer relay are capped, so one
  // peering cannot take every circuit slot of the relay.
  if (circuits_.size() >= limits_.max_circuits ||
      circuits_of(from.peer) >= limits_.max_circuits_per_peer ||
      circuits_of(target) >= limits_.max_circuits_per_peer ||
      (via && forwarded_through(via->peer_relay) >= via->max_per_relay)) {
    return refuse_connect(relay_status::resource_limit_exceeded);
  }

  const circuit_id id = next_circuit_++;
  circuits_.emplace(id, circuit{from.peer, target,
                                via ? std::optional<peer_id>(via->peer_relay) : std::nullopt});
  ++circuits_per_peer_[from.peer];
  ++circuits_per_peer_[target];
  auto limit = limit_for(from.authorized && target_authorized);
  if (via) {
    ++forwarded_per_relay_[via->peer_relay];
    limit = tighter(limit, via->cap);
  }
  return {relay_status::ok, limit, id};
}

std::size_t relay_server_state::forwarded_through(const peer_id& peer_relay) const {
  auto it = forwarded_per_relay_.find(peer_relay);
  return it == forwarded_per_relay_.end() ? 0 : it->second;
}

bool relay_server_state::circuit_closed(circuit_id id) {
  auto it = circuits_.find(id);
  if (it == circuits_.end()) return false;
  for (const peer_id* p : {&it->second.source, &it->second.target}) {
    auto count = circuits_per_peer_.find(*p);
    if (count != circuits_per_peer_.end() && --count->second == 0) circuits_per_peer_.erase(count);
  }
  if (it->second.via) {
    auto f = forwarded_per_relay_.find(*it->second.via);
    if (f != forwarded_per_relay_.end() && --f->second == 0) forwarded_per_relay_.erase(f);
  }
  circuits_.erase(it);
  return true;
}

void relay_server_state::peer_disconnected(const peer_id& peer) {
  auto it = reservations_.find(peer);
  if (it != reservations_.end()) erase_reservation(it);
}

std::size_t relay_server_state::expire(time_point now) {
  std::size_t dropped = 0;
  for (auto it = reservations_.begin(); it != reservations_.end();) {
    auto next = std::next(it);
    if (it->second.expires <= now) {
      erase_reservation(it);
      ++dropped;
    }
    it = next;
  }
  return dropped;
}

bool relay_server_state::has_reservation(const peer_id& peer, time_point now) const {
  auto it = reservations_.find(peer);
  return it != reservations_.end() && it->second.expires > now;
}

std::size_t relay_server_state::circuits_of(const peer_id& peer) const {
  auto it = circuits_per_peer_.find(peer);
  return it == circuits_per_peer_.end() ? 0 : it->second;
}

hop_message make_reservation_reply(const reservation_decision& d, std::vector<bytes> relay_addrs,
                                   std::optional<bytes> voucher) {
  hop_message m = hop_message::status_reply(d.status);
  if (d.status != relay_status::ok) return m;
  m.reservation = relay_reservation{d.expire, std::move(relay_addrs), std::move(voucher)};
  m.limit = d.limit;
  return m;
}

hop_message make_connect_reply(const connect_decision& d) {
  hop_message m = hop_message::status_reply(d.status);
  if (d.status == relay_status::ok) m.limit = d.limit;
  return m;
}

}  // namespace peerup::wire
