#include "wire/federation_state.hpp"

#include <algorithm>

namespace peerup::wire {

namespace {

void set_why(std::string* why, std::string text) {
  if (why) *why = std::move(text);
}

}  // namespace

std::string_view to_string(federation_trust t) {
  return t == federation_trust::full ? "full" : "one_way";
}

result<federation_trust> parse_federation_trust(std::string_view text) {
  if (text == "full") return federation_trust::full;
  if (text == "one_way") return federation_trust::one_way;
  return errc::invalid_argument;
}

result<federation_peering> federation_peering::make(dns_label network, multiaddr relay,
                                                   federation_trust trust) {
  auto id = relay.peer();
  // A circuit address names a relay behind another relay: a peer relay must
  // be reachable directly, and its own key is what signs its records.
  if (!id || relay.is_relayed()) return errc::invalid_argument;
  return federation_peering{std::move(network), std::move(relay), std::move(*id), trust};
}

federation_state::federation_state(dns_label own_network, federation_limits limits)
    : own_(std::move(own_network)), limits_(limits) {}

result<void> federation_state::check_new(const federation_peering& p,
                                         const std::map<dns_label, peer_entry>& in,
                                         std::string* why) const {
  if (p.network == own_) {
    set_why(why, "network " + p.network.str() + " is this relay's own network");
    return errc::invalid_argument;
  }
  if (in.contains(p.network)) {
    set_why(why, "network " + p.network.str() + " is listed twice");
    return errc::invalid_argument;
  }
  for (const auto& [net, e] : in) {
    if (e.peering.relay_peer == p.relay_peer) {
      set_why(why, "relay " + p.relay_peer.to_string() + " is already the relay of network " +
                       net.str() + " (one relay serves one network)");
      return errc::invalid_argument;
    }
  }
  return {};
}

result<void> federation_state::add_peering(federation_peering p, std::string* why) {
  if (auto ok = check_new(p, peers_, why); !ok) return ok;
  const auto net = p.network;
  peers_.emplace(net, peer_entry{std::move(p), {}, {}, false, std::nullopt, {}});
  std::erase_if(members_, [](const auto& kv) { return !kv.second.network; });
  return {};
}

bool federation_state::remove_peering(const dns_label& network) {
  if (!peers_.erase(network)) return false;
  drop_network(network);
  return true;
}

result<void> federation_state::set_peerings(std::vector<federation_peering> all,
                                            std::string* why) {
  std::map<dns_label, peer_entry> next;
  for (auto& p : all) {
    if (auto ok = check_new(p, next, why); !ok) return ok;
    const auto net = p.network;
    next.emplace(net, peer_entry{std::move(p), {}, {}, false, std::nullopt, {}});
  }
  // Unchanged peerings keep their buckets and state; answers of a relay that
  // is no longer the peering's (or gone) must not outlive the change.
  for (auto& [net, e] : peers_) {
    auto n = next.find(net);
    if (n != next.end() && n->second.peering == e.peering)
      n->second = std::move(e);
    else
      drop_network(net);
  }
  peers_ = std::move(next);
  std::erase_if(members_, [](const auto& kv) { return !kv.second.network; });
  return {};
}

void federation_state::drop_network(const dns_label& network) {
  std::erase_if(cache_, [&](const auto& kv) { return kv.first.first == network; });
  // SECURITY: a removed or changed peering's members lose their circuits
  // rights at once, and strangers are asked again.
  std::erase_if(members_, [&](const auto& kv) {
    return !kv.second.network || *kv.second.network == network;
  });
}

std::optional<federation_state::member_answer> federation_state::cached_member(
    const peer_id& p, time_point now) const {
  auto it = members_.find(p);
  if (it == members_.end() || it->second.until <= now) return std::nullopt;
  return member_answer{it->second.network};
}

void federation_state::store_member(const peer_id& p, std::optional<dns_label> network,
                                    time_point now) {
  if (network && !peering(*network)) return;
  const auto until = now + (network ? limits_.member_ttl : limits_.negative_ttl);
  members_.insert_or_assign(p, member_entry{std::move(network), until});
  // SECURITY: bounded; evict the entry that expires first.
  while (members_.size() > limits_.max_cache) {
    auto victim = std::min_element(members_.begin(), members_.end(), [](const auto& a, const auto& b) {
      return a.second.until < b.second.until;
    });
    members_.erase(victim);
  }
}

bool federation_state::take_unknown_ip_token(std::string_view ip, time_point now) {
  const double per_minute = limits_.unknown_connects_per_ip;
  if (per_minute <= 0) return false;
  auto it = ip_buckets_.find(ip);
  if (it == ip_buckets_.end()) {
    if (ip_buckets_.size() >= limits_.max_ip_buckets && !ip_buckets_.empty()) {
      auto idle = std::min_element(ip_buckets_.begin(), ip_buckets_.end(),
                                   [](const auto& a, const auto& b) { return a.second.last < b.second.last; });
      ip_buckets_.erase(idle);
    }
    it = ip_buckets_.emplace(std::string(ip), bucket{per_minute, now}).first;
  } else if (it->second.last && now > *it->second.last) {
    const double secs = std::chrono::duration<double>(now - *it->second.last).count();
    it->second.tokens = std::min(per_minute, it->second.tokens + secs * per_minute / 60.0);
    it->second.last = now;
  }
  if (it->second.tokens < 1.0) return false;
  it->second.tokens -= 1.0;
  return true;
}

const federation_peering* federation_state::forward_route(const peer_id& target,
                                                          time_point now) const {
  for (const auto& [key, e] : cache_) {
    if (!e.record || e.record->peer != target || e.stale_until <= now) continue;
    auto p = peers_.find(key.first);
    if (p != peers_.end() && p->second.peering.trust == federation_trust::full)
      return &p->second.peering;
  }
  return nullptr;
}

std::vector<federation_peering> federation_state::member_ask_order() const {
  std::vector<federation_peering> up, down;
  for (const auto& [net, e] : peers_) (e.up ? up : down).push_back(e.peering);
  up.insert(up.end(), down.begin(), down.end());
  if (up.size() > limits_.max_member_asks)
    up.erase(up.begin() + static_cast<std::ptrdiff_t>(limits_.max_member_asks), up.end());
  return up;
}

const federation_peering* federation_state::peering(const dns_label& network) const {
  auto it = peers_.find(network);
  return it == peers_.end() ? nullptr : &it->second.peering;
}

const federation_peering* federation_state::peering_of(const peer_id& relay) const {
  for (const auto& [net, e] : peers_)
    if (e.peering.relay_peer == relay) return &e.peering;
  return nullptr;
}

std::vector<federation_peering> federation_state::peerings() const {
  std::vector<federation_peering> out;
  for (const auto& [net, e] : peers_) out.push_back(e.peering);
  return out;
}

result<const federation_peering*> federation_state::may_ask(const dns_label& network) const {
  const auto* p = peering(network);
  if (!p) return errc::federation_not_peered;
  // one_way: their members reach our hosts, ours never reach theirs.
  if (p->trust != federation_trust::full) return errc::federation_not_trusted;
  return p;
}

bool federation_state::take(bucket& b, time_point now) const {
  const double rate = limits_.lookups_per_second;
  const double burst = 2.0 * rate;
  if (!b.last) {
    b.tokens = burst;
  } else if (now > *b.last) {
    const double secs = std::chrono::duration<double>(now - *b.last).count();
    b.tokens = std::min(burst, b.tokens + secs * rate);
  }
  if (!b.last || now > *b.last) b.last = now;
  if (b.tokens < 1.0) return false;
  b.tokens -= 1.0;
  return true;
}

federation_status federation_state::check_request(const peer_id& from,
                                                  const federation_request& req, time_point now) {
  peer_entry* e = nullptr;
  for (auto& [net, entry] : peers_)
    if (entry.peering.relay_peer == from) e = &entry;
  // SECURITY: a stranger learns nothing, not even whether we serve names.
  if (!e) return federation_status::not_peered;
  // The request must come from the network we peer that relay as; a relay
  // cannot ask in another network's name.
  if (req.origin != e->peering.network) return federation_status::not_peered;
  // Requests are never forwarded, so a hop count or our own network as the
  // origin can only be a loop or a confused peer.
  if (req.hops != 0 || req.origin == own_) return federation_status::loop;
  if (req.type == federation_request_type::ping) return federation_status::ok;
  if (req.type == federation_request_type::member) {
    // "Is X your member?" lets our members open circuits at the asking
    // relay: only a full peering lets our members reach their hosts.
    if (e->peering.trust != federation_trust::full) return federation_status::not_trusted;
    if (!take(e->inbound, now)) return federation_status::rate_limited;
    return federation_status::ok;
  }
  if (!req.network || *req.network != own_) return federation_status::wrong_network;
  // SECURITY: bounded lookups per peer relay.
  if (!take(e->inbound, now)) return federation_status::rate_limited;
  return federation_status::ok;
}

result<name_record_body> federation_state::verify_record(const dns_label& network,
                                                         const dns_label& host,
                                                         byte_span envelope,
                                                         std::uint64_t now_unix) const {
  const auto* p = peering(network);
  if (!p) return errc::federation_not_peered;
  auto opened = open_name_record(envelope);
  if (!opened) return opened.error();
  // 1. only the configured key of that network may speak for it
  if (opened->signer != p->relay_peer) return errc::federation_record_signer;
  // 2. a relay claiming names in another network (a third one, or ours)
  if (opened->body.network != network) return errc::federation_wrong_network;
  // 3. the answer is for the question
  if (opened->body.host != host) return errc::federation_malformed_message;
  // 4. validity in wall-clock time, with the configured skew either way
  const auto skew = static_cast<std::uint64_t>(limits_.clock_skew.count());
  const auto& b = opened->body;
  if (b.issued > now_unix + skew) return errc::federation_record_expired;
  if (b.issued + b.ttl + skew <= now_unix) return errc::federation_record_expired;
  return std::move(opened->body);
}

std::optional<federation_state::cached_answer> federation_state::cached(const dns_label& network,
                                                                        const dns_label& host,
                                                                        time_point now) {
  auto it = cache_.find({network, host});
  if (it == cache_.end()) return std::nullopt;
  auto& e = it->second;
  if (now >= e.stale_until) return std::nullopt;
  e.last_used = now;
  return cached_answer{e.record, now < e.fresh_until ? freshness::fresh : freshness::stale};
}

void federation_state::put(cache_key key, cache_entry e, time_point now) {
  auto it = cache_.find(key);
  if (it != cache_.end()) {
    e.last_used = std::max(e.last_used, it->second.last_used);
    it->second = std::move(e);
    return;
  }
  if (cache_.size() >= limits_.max_cache) {
    expire(now);
    // SECURITY: still full: evict the entry that expires first.
    if (cache_.size() >= limits_.max_cache && !cache_.empty()) {
      auto victim = std::min_element(cache_.begin(), cache_.end(), [](const auto& a, const auto& b) {
        return a.second.stale_until < b.second.stale_until;
      });
      cache_.erase(victim);
    }
  }
  if (limits_.max_cache == 0) return;
  cache_.emplace(std::move(key), std::move(e));
}

void federation_state::store(const name_record_body& record, time_point now,
                             std::uint64_t now_unix) {
  if (!peering(record.network)) return;
  const std::uint64_t end = record.issued + record.ttl;
  const auto left = std::chrono::seconds(end > now_unix ? end - now_unix : 0);
  const auto fresh = std::min(limits_.cache_ttl, left);
  put({record.network, record.host},
      cache_entry{record, now, now + fresh, now + fresh + limits_.stale_ttl, now}, now);
}

void federation_state::store_not_found(const dns_label& network, const dns_label& host,
                                       time_point now) {
  if (!peering(network)) return;
  const auto until = now + limits_.negative_ttl;
  put({network, host}, cache_entry{std::nullopt, now, until, until, now}, now);
}

bool federation_state::take_outbound_token(const dns_label& network, time_point now) {
  auto it = peers_.find(network);
  if (it == peers_.end()) return false;
  return take(it->second.outbound, now);
}

std::vector<std::pair<dns_label, dns_label>> federation_state::due_for_refresh(
    time_point now) const {
  std::vector<std::pair<dns_label, dns_label>> out;
  for (const auto& [key, e] : cache_) {
    if (!e.record) continue;
    if (now - e.last_used > limits_.cache_ttl) continue;  // nobody asked lately
    // Half of the fresh time is gone (or all of it, with the peer down).
    if (now >= e.stored + (e.fresh_until - e.stored) / 2) out.push_back(key);
  }
  return out;
}

std::size_t federation_state::expire(time_point now) {
  return std::erase_if(cache_, [&](const auto& kv) { return now >= kv.second.stale_until; });
}

void federation_state::mark_up(const dns_label& network, time_point now) {
  auto it = peers_.find(network);
  if (it == peers_.end()) return;
  it->second.up = true;
  it->second.last_ok = now;
  it->second.last_error.clear();
}

void federation_state::mark_down(const dns_label& network, std::string why) {
  auto it = peers_.find(network);
  if (it == peers_.end()) return;
  it->second.up = false;
  // SECURITY: the reason may quote a peer; keep it bounded.
  if (why.size() > federation_max_text) why.resize(federation_max_text);
  it->second.last_error = std::move(why);
}

std::optional<federation_state::peering_status> federation_state::status(
    const dns_label& network) const {
  auto it = peers_.find(network);
  if (it == peers_.end()) return std::nullopt;
  peering_status s{it->second.up, it->second.last_ok, it->second.last_error, 0};
  for (const auto& [key, e] : cache_)
    if (key.first == network && e.record) ++s.names_known;
  return s;
}

std::string federation_state::unreachable_message(const dns_label& network,
                                                  std::string_view why) const {
  const auto* p = peering(network);
  std::string out = "network " + network.str() + " unreachable (relay " +
                    (p ? p->relay.to_string() : std::string("not configured")) + ")";
  if (!why.empty()) out += ": " + std::string(why);
  return out;
}

}  // namespace peerup::wire
