#include "protocols/kad.hpp"

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
    case kad_type::get_value:  // no record store yet: closer peers only
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
    case kad_type::put_value: break;
  }
  return std::nullopt;
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
    auto req = kad_message::decode(*raw);
    if (!req || req->type == kad_type::put_value) {
      ++stats_.requests_refused;
      spdlog::debug("kad: refused a request from {}: {}", from.to_string(),
                    req ? "PUT_VALUE (no record store)" : req.error().message());
      s->reset();
      co_return;
    }
    ++stats_.requests_served;
    auto reply = answer(*req, from);
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
  // Each round hands out what the machine asks for, then waits for at least
  // one answer. The machine bounds the requests (each candidate once, at most
  // max_candidates), so the loop ends.
  while (!stop && !l.done()) {
    for (auto& to : l.next(net::steady_clock::now())) {
      ++stats_.requests_sent;
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

}  // namespace peerup::protocols
