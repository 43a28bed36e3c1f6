#include "protocols/names.hpp"

#include <spdlog/spdlog.h>

#include "common/printable.hpp"
#include "net/length_prefixed_io.hpp"
#include "protocols/federation.hpp"

namespace peerup::protocols {

namespace {

constexpr auto message_timeout = std::chrono::seconds(10);
constexpr auto expiry_interval = std::chrono::seconds(30);

std::string full_name(const wire::dns_label& host, const wire::dns_label& network) {
  return host.str() + "." + network.str();
}

net::awaitable<result<wire::names_response>> connect_and_ask(net::host& h, const multiaddr& relay,
                                                             const wire::names_request& req) {
  auto conn = co_await h.connect(relay);
  if (!conn) co_return conn.error();
  co_return co_await ask_names(h, *conn, req);
}

}  // namespace

names_server::names_server(net::host& h, names_server_config cfg)
    : host_(h), cfg_(std::move(cfg)), registry_(cfg_.limits), expiry_timer_(h.get_executor()) {
  host_.set_handler(names_protocol, [this](net::stream_ptr s, net::stream_context ctx) {
    return serve(std::move(s), std::move(ctx));
  });
  net::asio::co_spawn(host_.get_executor(), expiry_loop(), net::asio::detached);
}

names_server::~names_server() {
  *alive_ = false;
  expiry_timer_.cancel();
  host_.remove_handler(names_protocol);
}

names_server_stats names_server::stats() const {
  auto s = stats_;
  s.names = registry_.size();
  return s;
}

net::awaitable<void> names_server::expiry_loop() {
  auto alive = alive_;
  for (;;) {
    expiry_timer_.expires_after(expiry_interval);
    auto [ec] = co_await expiry_timer_.async_wait(net::use_nothrow);
    if (ec || !*alive) co_return;
    if (auto n = registry_.expire(net::steady_clock::now()); n)
      spdlog::info("names: {} registrations expired", n);
  }
}

wire::names_response names_server::answer(const wire::names_request& req, const peer_id& from) {
  using wire::names_status;
  const auto name = full_name(req.host, req.network);
  if (req.network != cfg_.network) {
    ++stats_.refused;
    return wire::names_response::status_only(
        names_status::wrong_network, "this relay serves network \"" + cfg_.network.str() + "\"");
  }
  const auto now = net::steady_clock::now();
  if (req.type == wire::names_request_type::register_name) {
    const auto d =
        registry_.register_name(req.host, from, req.addrs, std::chrono::seconds(req.ttl), now);
    if (d.status == names_status::ok) {
      ++stats_.registrations;
      spdlog::info("names: {} registered by {} for {} s", name, from.to_string(), d.ttl.count());
      wire::names_response r;
      r.ttl = static_cast<std::uint32_t>(d.ttl.count());
      return r;
    }
    ++stats_.refused;
    if (d.status == names_status::name_taken) {
      const auto* holder = registry_.lookup(req.host, now);
      spdlog::warn("names: refused {} to {}: held by {}", name, from.to_string(),
                   holder ? holder->peer.to_string() : std::string("?"));
      return wire::names_response::status_only(d.status, name + " is registered by another peer");
    }
    spdlog::warn("names: refused {} to {}: {}", name, from.to_string(), wire::to_string(d.status));
    return wire::names_response::status_only(d.status, std::string(wire::to_string(d.status)));
  }
  ++stats_.lookups;
  const auto* rec = registry_.lookup(req.host, now);
  if (!rec)
    return wire::names_response::status_only(names_status::not_found, name + " is not registered");
  wire::names_response r;
  r.peer = rec->peer;
  r.addrs = rec->addrs;
  const auto left = std::chrono::ceil<std::chrono::seconds>(rec->expires - now).count();
  r.ttl = static_cast<std::uint32_t>(std::max<std::int64_t>(1, left));
  return r;
}

// 1. read one length-prefixed request (bounded in size and time)
// 2. refuse peers that are not authorized, whatever they asked
// 3. decide with the registry and write one answer, then close
net::awaitable<void> names_server::serve(net::stream_ptr s, net::stream_context ctx) {
  auto alive = alive_;
  const peer_id from = ctx.conn->remote_peer;
  auto read = net::read_length_prefixed(*s, wire::names_max_message_size);
  auto raw = co_await net::with_timeout(std::move(read), message_timeout);
  if (!*alive) co_return;
  wire::names_response reply;
  if (!raw) {
    // SECURITY: an oversized request is refused before any allocation.
    if (raw.error() != errc::too_large) co_return s->reset();
    reply = wire::names_response::status_only(wire::names_status::malformed_message);
  } else if (!cfg_.is_authorized || !cfg_.is_authorized(from)) {
    ++stats_.refused;
    spdlog::warn("names: refused request from unauthorized peer {}", from.to_string());
    reply = wire::names_response::status_only(wire::names_status::permission_denied,
                                              "peer not authorized on this relay");
  } else if (auto req = wire::names_request::decode(*raw); !req) {
    ++stats_.refused;
    reply = wire::names_response::status_only(wire::names_status::malformed_message,
                                              req.error().message());
  } else if (federation_ && req->type == wire::names_request_type::lookup &&
             req->network != cfg_.network) {
    // Another network's name, for one of our members: through federation.
    ++stats_.lookups;
    auto op = federation_->lookup(req->network, req->host);
    reply = co_await std::move(op);
    if (!*alive) co_return;
  } else {
    reply = answer(*req, from);
  }
  const bytes encoded = reply.encode();
  auto written = co_await net::write_length_prefixed(*s, encoded);
  if (!*alive || !written) co_return;
  (void)co_await s->close_write();
}

net::awaitable<result<wire::names_response>> ask_names(net::host& h,
                                                       const net::connection_ptr& relay,
                                                       const wire::names_request& req) {
  auto opened = co_await h.new_stream(relay, names_protocol);
  if (!opened) co_return opened.error();
  auto& s = *opened->stream;
  const bytes encoded = req.encode();
  if (auto w = co_await net::write_length_prefixed(s, encoded); !w) co_return w.error();
  (void)co_await s.close_write();
  auto raw = co_await net::read_length_prefixed(s, wire::names_max_message_size);
  if (!raw) co_return raw.error();
  co_return wire::names_response::decode(*raw);
}

net::awaitable<result<wire::names_response>> ask_names(net::host& h, const multiaddr& relay,
                                                       const wire::names_request& req,
                                                       net::steady_clock::duration timeout) {
  auto op = connect_and_ask(h, relay, req);
  co_return co_await net::with_timeout(std::move(op), timeout);
}

std::string_view to_string(name_registration::state s) {
  switch (s) {
    case name_registration::state::registering: return "registering";
    case name_registration::state::registered: return "registered";
    case name_registration::state::refused: return "refused";
    case name_registration::state::backoff: return "backoff";
  }
  return "?";
}

name_registrar::name_registrar(net::host& h, wire::dns_label host,
                               const std::vector<std::pair<wire::dns_label, multiaddr>>& targets,
                               name_registrar_options opts)
    : host_(h), host_name_(std::move(host)), opts_(opts) {
  for (const auto& [network, relay] : targets) {
    regs_.push_back(name_registration{network, relay});
    timers_.push_back(std::make_unique<net::asio::steady_timer>(h.get_executor()));
  }
}

name_registrar::~name_registrar() {
  *alive_ = false;
  for (auto& t : timers_) t->cancel();
}

void name_registrar::start() {
  if (started_) return;
  started_ = true;
  // A relay that restarted has forgotten our name (its registry lives in
  // memory): register again as soon as a new direct connection to it comes
  // up (the reservation keeper reconnects), not at the next refresh, which
  // may be half an hour away. Cancelling the timer wakes keep() early.
  host_.on_connection([this, alive = std::weak_ptr<bool>(alive_)](const net::connection_ptr& c) {
    auto a = alive.lock();
    if (!a || !*a || !started_ || c->relayed) return;
    for (std::size_t i = 0; i < regs_.size(); ++i)
      if (regs_[i].current == name_registration::state::registered &&
          regs_[i].relay.peer() == c->remote_peer)
        timers_[i]->cancel();
  });
  for (std::size_t i = 0; i < regs_.size(); ++i)
    net::asio::co_spawn(host_.get_executor(), keep(i), net::asio::detached);
}

void name_registrar::stop() {
  started_ = false;
  for (auto& t : timers_) t->cancel();
}

// 1. REGISTER host_name with the relay (connecting if needed)
// 2. ok: sleep half the granted TTL, then refresh
// 3. name taken or refused: log it and retry slowly (the holder may let the
//    name expire, the relay's authorized_keys may change)
// 4. a transport error: retry with exponential backoff
net::awaitable<void> name_registrar::keep(std::size_t index) {
  auto alive = alive_;  // the registrar may be destroyed while we sleep
  auto backoff = opts_.min_backoff;
  while (*alive && started_) {
    const wire::names_request req{wire::names_request_type::register_name,
                                  regs_[index].network,
                                  host_name_,
                                  opts_.requested_ttl,
                                  {}};
    const multiaddr relay = regs_[index].relay;
    auto op = ask_names(host_, relay, req, opts_.request_timeout);
    auto r = co_await std::move(op);
    if (!*alive || !started_) co_return;
    auto& reg = regs_[index];
    const auto name = full_name(host_name_, reg.network);
    net::steady_clock::duration wait = backoff;
    if (r && r->status == wire::names_status::ok) {
      if (reg.current != name_registration::state::registered)
        spdlog::info("names: registered {} with {} for {} s", name, relay.to_string(), r->ttl);
      reg.current = name_registration::state::registered;
      reg.last_error.clear();
      reg.granted_ttl = std::chrono::seconds(std::max<std::uint32_t>(r->ttl, 2));
      reg.expires = net::steady_clock::now() + reg.granted_ttl;
      wait = reg.granted_ttl / 2;
      backoff = opts_.min_backoff;
    } else if (r) {
      // SECURITY: the relay's text goes to logs and `peerup status`; printable only.
      const std::string why =
          r->text.empty() ? std::string(wire::to_string(r->status)) : printable(r->text);
      if (reg.current != name_registration::state::refused || reg.last_error != why)
        spdlog::error("names: {} refused {}: {}", relay.to_string(), name, why);
      reg.current = name_registration::state::refused;
      reg.last_error = why;
      wait = opts_.taken_retry;
    } else {
      reg.last_error = r.error().message();
      spdlog::warn("names: registering {} with {} failed: {}; retrying in {} s", name,
                   relay.to_string(), reg.last_error,
                   std::chrono::duration_cast<std::chrono::seconds>(backoff).count());
      reg.current = name_registration::state::backoff;
      backoff = std::min(backoff * 2, opts_.max_backoff);
    }
    auto& timer = *timers_[index];
    timer.expires_after(wait);
    co_await timer.async_wait(net::use_nothrow);
  }
}

}  // namespace peerup::protocols
