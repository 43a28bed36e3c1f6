#include "protocols/kad.hpp"

#include <algorithm>
#include <deque>
#include <random>
#include <set>

#include <spdlog/spdlog.h>

#include "net/length_prefixed_io.hpp"
#include "net/signal.hpp"

namespace peerup::protocols {

namespace {

using wire::kad_message;
using wire::kad_type;

// Byte equality without std::equal: g++ 12 reports a false stringop-overread
// on the memcmp it inlines for vectors compared inside coroutines.
bool same_bytes(byte_span a, byte_span b) {
  if (a.size() != b.size()) return false;
  unsigned char diff = 0;
  for (std::size_t i = 0; i < a.size(); ++i) diff |= static_cast<unsigned char>(a[i] ^ b[i]);
  return diff == 0;
}

std::vector<dht::lookup_peer> as_lookup_peers(const std::vector<wire::kad_peer>& in) {
  std::vector<dht::lookup_peer> out;
  out.reserve(in.size());
  for (const auto& p : in) {
    if (auto id = p.parsed_id()) out.push_back({*id, p.multiaddrs()});
  }
  return out;
}

net::awaitable<result<kad_message>> exchange(net::host& h, protocol_id proto, dht::lookup_peer to,
                                             kad_message req) {
  if (!to.addrs.empty()) h.peers().add_addrs(to.id, to.addrs);
  auto opened = co_await h.new_stream(to.id, proto);
  if (!opened) co_return opened.error();
  auto& s = *opened->stream;
  const bytes encoded = req.encode();
  if (auto w = co_await net::write_length_prefixed(s, encoded); !w) {
    s.reset();
    co_return w.error();
  }
  if (req.type == kad_type::add_provider) {  // the spec has no answer to it
    (void)co_await s.close_write();
    co_return kad_message{};
  }
  auto raw = co_await net::read_length_prefixed(s, wire::kad_max_message_size);
  if (!raw) {
    s.reset();
    co_return raw.error();
  }
  auto msg = kad_message::decode(*raw);
  (void)co_await s.close_write();
  if (!msg) co_return msg.error();
  // An answer of another type is not an answer to this request.
  if (msg->type != req.type) co_return make_error_code(errc::kad_malformed_message);
  co_return msg;
}

}  // namespace

net::awaitable<result<kad_message>> kad_request(net::host& h, protocol_id proto,
                                                dht::lookup_peer to, kad_message req,
                                                net::steady_clock::duration timeout) {
  auto op = exchange(h, proto, std::move(to), std::move(req));
  co_return co_await net::with_timeout(std::move(op), timeout);
}

// State shared by a lookup and the request coroutines it spawned; they may
// finish after the lookup returned, so they hold it by shared_ptr.
struct kad_node::lookup_run {
  explicit lookup_run(net::asio::any_io_executor ex) : wake(ex) {}
  struct done_request {
    dht::lookup_peer to;
    result<kad_message> answer;
  };
  std::deque<done_request> finished;
  net::signal wake;
};

kad_node::kad_node(net::host& h, kad_config cfg)
    : host_(h),
      cfg_(std::move(cfg)),
      proto_(cfg_.protocol),
      table_(h.id(), cfg_.routing),
      providers_(cfg_.providers) {
  if (cfg_.server) set_server(true);
}

kad_node::~kad_node() {
  *alive_ = false;
  if (timer_) timer_->cancel();
  if (cfg_.server) host_.remove_handler(proto_);
}

void kad_node::set_server(bool on) {
  if (on) {
    host_.set_handler(proto_, [this](net::stream_ptr s, net::stream_context ctx) {
      return serve(std::move(s), std::move(ctx));
    });
  } else {
    host_.remove_handler(proto_);
  }
  cfg_.server = on;
}

void kad_node::add_server(const peer_id& id, const std::vector<multiaddr>& addrs) {
  host_.peers().add_addrs(id, addrs);
  table_.add(id, addrs, net::steady_clock::now());
}

void kad_node::note_server(const peer_id& id, const std::vector<multiaddr>& addrs) {
  auto known = addrs.empty() ? host_.peers().addrs(id) : addrs;
  table_.add(id, known, net::steady_clock::now());
}

std::vector<wire::kad_peer> kad_node::closer_peers(const dht::kad_key& target,
                                                   const peer_id& asker) const {
  std::vector<wire::kad_peer> out;
  for (const auto* e : table_.closest(target, cfg_.routing.k + 1)) {
    if (e->id == asker) continue;  // it knows itself
    auto addrs = e->addrs.empty() ? host_.peers().addrs(e->id) : e->addrs;
    out.push_back(wire::kad_peer::from(e->id, addrs));
    if (out.size() >= cfg_.routing.k) break;
  }
  return out;
}

std::optional<kad_message> kad_node::answer(const kad_message& req, const peer_id& from) {
  const auto now = net::steady_clock::now();
  const auto target = dht::kad_key::of(req.key);
  kad_message out;
  out.type = req.type;
  out.key = req.key;
  switch (req.type) {
    case kad_type::find_node:
      out.closer_peers = closer_peers(target, from);
      return out;
    case kad_type::get_value:
      if (auto v = records_.get(req.key, now)) out.record = wire::kad_record{req.key, *v, {}};
      out.closer_peers = closer_peers(target, from);
      return out;
    case kad_type::get_providers:
      for (const auto& p : providers_.get(req.key, now, wire::kad_max_peers)) {
        out.provider_peers.push_back(wire::kad_peer::from(p.id, p.addrs));
      }
      out.closer_peers = closer_peers(target, from);
      return out;
    case kad_type::add_provider:
      // Spec: only providers that are the sender are recorded.
      for (const auto& p : req.provider_peers) {
        auto id = p.parsed_id();
        if (!id || *id != from) continue;
        if (auto ok = providers_.add(req.key, from, p.multiaddrs(), now); !ok) {
          spdlog::debug("kad: provider record from {} refused: {}", from.to_string(),
                        ok.error().message());
        }
      }
      return std::nullopt;
    case kad_type::ping: return out;
    case kad_type::put_value: {
      // Spec: the record's key is the message's key; the answer echoes the
      // request (go does so). A record the validator refuses is not stored,
      // and the stream is reset (no echo), so the sender counts a failure.
      if (!req.record || !same_bytes(req.record->key, req.key)) return std::nullopt;
      auto stored = records_.put(req.key, req.record->value, now);
      if (!stored) {
        spdlog::debug("kad: record from {} refused: {}", from.to_string(),
                      stored.error().message());
        return std::nullopt;
      }
      if (*stored != dht::put_outcome::kept_old) ++stats_.records_stored;
      out.record = wire::kad_record{req.key, req.record->value, {}};
      return out;
    }
  }
  return std::nullopt;
}

bool kad_node::admit(const peer_id& from, net::steady_clock::time_point now) {
  auto it = rate_.find(from);
  if (it == rate_.end()) {
    // SECURITY: bounded; the peer heard from longest ago is forgotten first.
    if (rate_.size() >= cfg_.max_rate_peers) {
      auto idlest = rate_.begin();
      for (auto j = rate_.begin(); j != rate_.end(); ++j)
        if (j->second.last < idlest->second.last) idlest = j;
      rate_.erase(idlest);
    }
    it = rate_.emplace(from, bucket{cfg_.request_burst, now}).first;
  }
  auto& b = it->second;
  const double elapsed = std::chrono::duration<double>(now - b.last).count();
  b.tokens = std::min(cfg_.request_burst, b.tokens + elapsed * cfg_.requests_per_second);
  b.last = now;
  if (b.tokens < 1) return false;
  b.tokens -= 1;
  return true;
}

net::awaitable<void> kad_node::serve(net::stream_ptr s, net::stream_context ctx) {
  auto alive = alive_;
  const peer_id from = ctx.conn->remote_peer;
  if (cfg_.may_query && !cfg_.may_query(from)) {
    ++stats_.requests_refused;
    s->reset();
    co_return;
  }
  // A peer that lists the protocol in identify is a server: it may enter the table.
  if (const auto* info = host_.peers().find(from)) {
    for (const auto& p : info->protocols) {
      if (p == proto_.str()) {
        note_server(from, {});
        break;
      }
    }
  }
  // SECURITY: a bounded number of requests per stream, each within a timeout.
  for (std::size_t n = 0; n < cfg_.max_requests_per_stream; ++n) {
    auto reading = net::read_length_prefixed(*s, wire::kad_max_message_size);
    auto raw = co_await net::with_timeout(std::move(reading), cfg_.request_timeout);
    if (!*alive) co_return;
    if (!raw) break;  // end of stream, timeout or oversized frame
    // SECURITY: the per-peer budget, over all of its streams.
    if (!admit(from, net::steady_clock::now())) {
      ++stats_.rate_limited;
      spdlog::debug("kad: {} is over its request rate: stream reset", from.to_string());
      s->reset();
      co_return;
    }
    auto req = kad_message::decode(*raw);
    if (!req) {
      ++stats_.requests_refused;
      spdlog::debug("kad: refused a request from {}: {}", from.to_string(),
                    req.error().message());
      s->reset();
      co_return;
    }
    auto reply = answer(*req, from);
    if (!reply && req->type == kad_type::put_value) {
      ++stats_.requests_refused;
      s->reset();
      co_return;
    }
    ++stats_.requests_served;
    if (!reply) continue;
    const bytes encoded = reply->encode();
    if (!co_await net::write_length_prefixed(*s, encoded)) co_return s->reset();
    if (!*alive) co_return;
  }
  (void)co_await s->close_write();
}

net::awaitable<kad_lookup_result> kad_node::run_lookup(
    dht::kad_key target, kad_message req,
    std::function<bool(const peer_id&, const kad_message&)> on_answer) {
  auto alive = alive_;
  ++stats_.lookups;
  std::vector<dht::lookup_peer> seeds;
  for (const auto* e : table_.closest(target, cfg_.lookup.k)) seeds.push_back({e->id, e->addrs});
  dht::lookup l(target, host_.id(), seeds, cfg_.lookup);
  auto run = std::make_shared<lookup_run>(host_.get_executor());
  bool stop = false;
  // Peers asked and not yet answered; expects() admits them through a gater.
  std::vector<peer_id> pending;
  struct forget_pending {
    kad_node& node;
    std::vector<peer_id>& pending;
    std::shared_ptr<bool> alive;
    ~forget_pending() {
      if (!*alive) return;
      for (const auto& p : pending) node.forget_asking(p);
    }
  } forget{*this, pending, alive};
  // Each round hands out what the machine asks for, then waits for at least
  // one answer. The machine bounds the requests (each candidate once, at most
  // max_candidates), so the loop ends.
  while (!stop && !l.done()) {
    for (auto& to : l.next(net::steady_clock::now())) {
      ++stats_.requests_sent;
      ++asking_[to.id];
      pending.push_back(to.id);
      net::asio::co_spawn(
          host_.get_executor(),
          [](net::host& h, protocol_id proto, dht::lookup_peer to, kad_message req,
             net::steady_clock::duration timeout,
             std::shared_ptr<lookup_run> run) -> net::awaitable<void> {
            auto answer = co_await kad_request(h, proto, to, std::move(req), timeout);
            run->finished.push_back({std::move(to), std::move(answer)});
            run->wake.notify();
          }(host_, proto_, to, req, cfg_.lookup.request_timeout, run),
          net::asio::detached);
    }
    if (l.in_flight() == 0) break;
    while (run->finished.empty()) co_await run->wake.wait();
    if (!*alive) co_return kad_lookup_result{};
    while (!run->finished.empty()) {
      auto done = std::move(run->finished.front());
      run->finished.pop_front();
      if (auto it = std::find(pending.begin(), pending.end(), done.to.id); it != pending.end()) {
        pending.erase(it);
        forget_asking(done.to.id);
      }
      if (!done.answer) {
        ++stats_.requests_failed;
        table_.on_failure(done.to.id);
        l.on_failure(done.to.id);
        continue;
      }
      // It answered on the DHT protocol: a server.
      note_server(done.to.id, done.to.addrs);
      table_.on_success(done.to.id, net::steady_clock::now());
      for (const auto& p : done.answer->closer_peers) {
        if (auto id = p.parsed_id(); id && !p.addrs.empty()) {
          host_.peers().add_addrs(*id, p.multiaddrs());
        }
      }
      l.on_response(done.to.id, as_lookup_peers(done.answer->closer_peers));
      if (on_answer && on_answer(done.to.id, *done.answer)) stop = true;
    }
  }
  co_return kad_lookup_result{l.result(), l.stats(), l.hops()};
}

net::awaitable<void> kad_node::bootstrap() {
  auto alive = alive_;
  auto self = host_.id().to_bytes();
  auto first = co_await closest_peers(self);
  (void)first;
  if (!*alive) co_return;
  // A FIND_NODE carries key bytes and servers hash them, so a target in
  // bucket `cpl` is found by trying random keys until one hashes into it
  // (2^(cpl+1) tries on average; buckets past 16 are refreshed by the self
  // lookup, which walks through them anyway).
  std::mt19937_64 rng(std::random_device{}());
  const auto deepest = table_.deepest_bucket();
  if (!deepest) co_return;
  for (std::size_t cpl = 0; cpl <= std::min<std::size_t>(*deepest, 16); ++cpl) {
    std::optional<bytes> key;
    for (std::size_t tries = 0; tries < (std::size_t{1} << 20) && !key; ++tries) {
      bytes candidate(16);
      for (auto& b : candidate) b = static_cast<std::uint8_t>(rng());
      if (dht::common_prefix_length(table_.self_key(), dht::kad_key::of(candidate)) == cpl) {
        key = std::move(candidate);
      }
    }
    if (!key) continue;
    auto walking = closest_peers(*key);
    (void)co_await std::move(walking);
    if (!*alive) co_return;
  }
}

net::awaitable<kad_lookup_result> kad_node::closest_peers(bytes key) {
  auto target = dht::kad_key::of(key);
  auto walking = run_lookup(target, kad_message::find_node(key), nullptr);
  co_return co_await std::move(walking);
}

net::awaitable<std::vector<multiaddr>> kad_node::find_peer(peer_id id) {
  if (const auto* e = table_.find(id); e != nullptr && !e->addrs.empty()) co_return e->addrs;
  std::vector<multiaddr> found;
  auto on_answer = [&found, &id](const peer_id& from, const kad_message& m) {
    for (const auto& p : m.closer_peers) {
      if (p.id == id.to_bytes() && !p.addrs.empty()) {
        found = p.multiaddrs();
        return true;
      }
    }
    return from == id;  // the peer itself answered: its address worked
  };
  auto walking = run_lookup(dht::kad_key::of(id), kad_message::find_node(id.to_bytes()), on_answer);
  auto r = co_await std::move(walking);
  if (found.empty()) {
    for (const auto& p : r.closest) {
      if (p.id == id) found = p.addrs.empty() ? host_.peers().addrs(id) : p.addrs;
    }
  }
  co_return found;
}

net::awaitable<std::size_t> kad_node::provide(bytes key) {
  auto alive = alive_;
  if (cfg_.server) {
    (void)providers_.add(key, host_.id(), host_.announce_addrs(), net::steady_clock::now());
  }
  auto walking = closest_peers(key);
  auto closest = co_await std::move(walking);
  if (!*alive) co_return 0;
  const auto self = wire::kad_peer::from(host_.id(), host_.announce_addrs());
  std::size_t sent = 0;
  for (const auto& p : closest.closest) {
    auto sending = kad_request(host_, proto_, p, kad_message::add_provider(key, self),
                               cfg_.lookup.request_timeout);
    auto r = co_await std::move(sending);
    if (!*alive) co_return sent;
    if (r) ++sent;
  }
  co_return sent;
}

net::awaitable<std::vector<dht::provider>> kad_node::find_providers(bytes key, std::size_t want) {
  std::vector<dht::provider> out;
  std::set<peer_id> seen;
  for (auto& p : providers_.get(key, net::steady_clock::now(), want)) {
    seen.insert(p.id);
    out.push_back(std::move(p));
  }
  if (out.size() >= want) co_return out;
  auto on_answer = [&](const peer_id&, const kad_message& m) {
    for (const auto& p : m.provider_peers) {
      auto id = p.parsed_id();
      if (!id || !seen.insert(*id).second) continue;
      out.push_back(dht::provider{*id, p.multiaddrs()});
      if (!p.addrs.empty()) host_.peers().add_addrs(*id, out.back().addrs);
    }
    return out.size() >= want;
  };
  auto walking = run_lookup(dht::kad_key::of(key), kad_message::get_providers(key), on_answer);
  (void)co_await std::move(walking);
  co_return out;
}

void kad_node::add_bootstrap(const peer_id& id, const std::vector<multiaddr>& addrs) {
  for (const auto& [p, a] : bootstrap_)
    if (p == id) return;
  bootstrap_.emplace_back(id, addrs);
  add_server(id, addrs);
}

std::vector<dht::table_entry> kad_node::export_table() const {
  std::vector<dht::table_entry> out;
  for (const auto* e : table_.closest(table_.self_key(), table_.size())) {
    auto addrs = e->addrs.empty() ? host_.peers().addrs(e->id) : e->addrs;
    if (!addrs.empty()) out.emplace_back(e->id, std::move(addrs));
  }
  return out;
}

std::size_t kad_node::import_table(const std::vector<dht::table_entry>& entries) {
  std::size_t taken = 0;
  const auto now = net::steady_clock::now();
  for (const auto& [id, addrs] : entries) {
    if (id == host_.id() || addrs.empty()) continue;
    const auto r = table_.add(id, addrs, now);
    if (r == dht::add_outcome::added || r == dht::add_outcome::updated ||
        r == dht::add_outcome::replaced_stale) {
      host_.peers().add_addrs(id, addrs);
      ++taken;
    }
  }
  return taken;
}

void kad_node::forget_asking(const peer_id& id) {
  auto it = asking_.find(id);
  if (it != asking_.end() && --it->second == 0) asking_.erase(it);
}

bool kad_node::expects(const peer_id& id) const {
  if (table_.find(id) != nullptr || asking_.find(id) != asking_.end()) return true;
  for (const auto& [p, a] : bootstrap_)
    if (p == id) return true;
  return false;
}

void kad_node::start(std::chrono::seconds interval) {
  if (running_) return;
  running_ = true;
  publish_pending_ = true;
  timer_ = std::make_unique<net::asio::steady_timer>(host_.get_executor());
  net::asio::co_spawn(host_.get_executor(), refresh_loop(interval), net::asio::detached);
}

void kad_node::stop() {
  running_ = false;
  if (timer_) timer_->cancel();
}

void kad_node::publish_soon() {
  publish_pending_ = true;
  if (timer_) timer_->cancel();
}

net::awaitable<void> kad_node::refresh_loop(std::chrono::seconds interval) {
  auto alive = alive_;
  std::optional<net::steady_clock::time_point> last_bootstrap;
  // Bounded by stop() and our destruction; each turn waits on the timer.
  while (*alive && running_) {
    const auto now = net::steady_clock::now();
    if (!last_bootstrap || now - *last_bootstrap >= interval) {
      // A table that ran empty (every peer failed) starts again from the
      // bootstrap peers.
      if (table_.size() == 0)
        for (const auto& [p, a] : bootstrap_) add_server(p, a);
      auto walking = bootstrap();
      co_await std::move(walking);
      if (!*alive || !running_) co_return;
      records_.expire(net::steady_clock::now());
      providers_.expire(net::steady_clock::now());
      last_bootstrap = net::steady_clock::now();
      publish_pending_ = true;  // republish: stores drop records after their ttl
      for (std::size_t i = 0; i < provided_.size(); ++i) {
        auto providing = provide(provided_[i]);
        const auto n = co_await std::move(providing);
        if (!*alive || !running_) co_return;
        spdlog::debug("kad: provided key {} of {} on {} servers", i + 1, provided_.size(), n);
      }
    }
    if (publish_pending_ && self_addrs_) {
      publish_pending_ = false;
      auto publishing = publish_peer_record(self_addrs_());
      const auto n = co_await std::move(publishing);
      if (!*alive || !running_) co_return;
      spdlog::debug("kad: published our peer record on {} servers", n);
    }
    // publish_soon() while we were busy above (a reservation that completed
    // during the walk or the publish) cancelled no wait: its cancel() is
    // lost, and sleeping now would keep the record without the new
    // addresses for a whole interval (e2e two_relays, relays: auto: the
    // record never showed the circuit). Go round again instead; bounded,
    // the flag is set only by publish_soon() and the bootstrap above.
    if (publish_pending_ && self_addrs_) continue;
    timer_->expires_after(interval - (net::steady_clock::now() - *last_bootstrap));
    co_await timer_->async_wait(net::use_nothrow);
  }
}

net::awaitable<std::size_t> kad_node::put_value(bytes key, bytes value) {
  auto alive = alive_;
  // Our own validator first: a record we would refuse, others refuse too.
  if (!dht::validate_record(key, value)) co_return 0;
  if (cfg_.server) (void)records_.put(key, value, net::steady_clock::now());
  auto walking = closest_peers(key);
  auto closest = co_await std::move(walking);
  if (!*alive) co_return 0;
  std::size_t sent = 0;
  for (const auto& p : closest.closest) {
    auto sending = kad_request(host_, proto_, p,
                               kad_message::put_value(wire::kad_record{key, value, {}}),
                               cfg_.lookup.request_timeout);
    auto r = co_await std::move(sending);
    if (!*alive) co_return sent;
    if (r && r->record && same_bytes(r->record->value, value)) ++sent;
  }
  co_return sent;
}

net::awaitable<std::optional<bytes>> kad_node::get_value(bytes key, std::size_t quorum) {
  auto alive = alive_;
  std::optional<bytes> best;
  std::uint64_t best_seq = 0;
  std::size_t valid = 0;
  std::vector<dht::value_answer> answers;
  auto consider = [&](byte_span value) -> std::optional<std::uint64_t> {
    auto r = dht::validate_record(key, value);
    if (!r) return std::nullopt;
    ++valid;
    if (!best || r->seq > best_seq) {
      best = bytes(value.begin(), value.end());
      best_seq = r->seq;
    }
    return r->seq;
  };
  if (auto local = records_.get(key, net::steady_clock::now())) consider(*local);
  auto on_answer = [&](const peer_id& from, const kad_message& m) {
    dht::value_answer a{from, std::nullopt, false};
    if (m.record && same_bytes(m.record->key, key)) {
      a.seq = consider(m.record->value);
      a.returned_invalid = !a.seq;
    } else if (m.record) {
      a.returned_invalid = true;
      spdlog::debug("kad: {} answered GET_VALUE with a record of another key", from.to_string());
    }
    // SECURITY: bounded by the lookup, which asks each candidate once.
    answers.push_back(std::move(a));
    return valid >= quorum;
  };
  auto walking = run_lookup(dht::kad_key::of(key), kad_message::get_value(key), on_answer);
  auto r = co_await std::move(walking);
  if (!*alive || !best) co_return best;
  // Our own store counts as one answer: correct it too (js does).
  if (cfg_.server) (void)records_.put(key, *best, net::steady_clock::now());
  // The spec's correction step: servers that hold an older record (or an
  // invalid one), and the closest that hold none, get the best with
  // PUT_VALUE. Sent in the background: the caller has its answer now.
  std::vector<peer_id> closest;
  for (const auto& p : r.closest) closest.push_back(p.id);
  auto targets = dht::correction_targets(answers, best_seq, closest);
  // SECURITY: at most k corrections (peer_id has no default: erase, not resize).
  if (targets.size() > cfg_.routing.k)
    targets.erase(targets.begin() + static_cast<std::ptrdiff_t>(cfg_.routing.k), targets.end());
  if (!targets.empty()) {
    std::vector<dht::lookup_peer> to;
    to.reserve(targets.size());
    for (const auto& t : targets) to.push_back({t, host_.peers().addrs(t)});
    net::asio::co_spawn(host_.get_executor(),
                        send_corrections(std::move(to), key, *best), net::asio::detached);
  }
  co_return best;
}

net::awaitable<void> kad_node::send_corrections(std::vector<dht::lookup_peer> to, bytes key,
                                                bytes value) {
  auto alive = alive_;
  for (auto& p : to) {
    auto sending = kad_request(host_, proto_, std::move(p),
                               kad_message::put_value(wire::kad_record{key, value, {}}),
                               cfg_.lookup.request_timeout);
    auto r = co_await std::move(sending);
    if (!*alive) co_return;
    if (r && r->record && same_bytes(r->record->value, value)) ++stats_.records_corrected;
  }
}

net::awaitable<std::size_t> kad_node::publish_peer_record(std::vector<multiaddr> addrs) {
  // SECURITY: a record over the bound would be refused everywhere.
  if (addrs.size() > wire::peer_record_max_addrs) addrs.resize(wire::peer_record_max_addrs);
  const auto seq = static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::microseconds>(
          std::chrono::system_clock::now().time_since_epoch())
          .count());
  auto alive = alive_;
  auto envelope = wire::seal_peer_record(host_.identity(), {host_.id(), seq, std::move(addrs)});
  auto putting = put_value(wire::peer_record_key(host_.id()), std::move(envelope));
  const auto n = co_await std::move(putting);
  if (!*alive) co_return n;
  stats_.records_published = n;  // the last publish, not a sum
  // Amino servers refuse our record type: also announce ourselves as the
  // provider of our own peer key, which they keep with our addresses.
  if (proto_.str() == wire::kad_amino_protocol_id) {
    auto providing = provide(dht::namespace_key(dht::peer_namespace(host_.id().to_string())));
    const auto p = co_await std::move(providing);
    if (!*alive) co_return n;
    spdlog::debug("kad: announced our peer key as provider on {} servers", p);
  }
  co_return n;
}

net::awaitable<std::optional<wire::peer_record>> kad_node::find_peer_record(peer_id id) {
  auto alive = alive_;
  auto getting = get_value(wire::peer_record_key(id));
  auto value = co_await std::move(getting);
  if (value) {
    if (auto r = wire::open_peer_record(*value)) co_return *r;
  }
  if (!*alive) co_return std::nullopt;
  // No signed record (e.g. on Amino, whose servers refuse it): the peer as
  // provider of its own peer key. Unsigned addresses, seq 0; whoever answers
  // at them must still prove the peer ID in the Noise handshake.
  auto finding = find_providers(dht::namespace_key(dht::peer_namespace(id.to_string())), 4);
  auto found = co_await std::move(finding);
  for (auto& p : found) {
    if (p.id != id) continue;  // servers keep only self-announced providers
    if (p.addrs.empty()) p.addrs = host_.peers().addrs(id);
    if (p.addrs.empty()) continue;
    // SECURITY: the same bound a signed record has.
    if (p.addrs.size() > wire::peer_record_max_addrs) p.addrs.resize(wire::peer_record_max_addrs);
    co_return wire::peer_record{id, 0, std::move(p.addrs)};
  }
  co_return std::nullopt;
}

}  // namespace peerup::protocols
