#include "protocols/autonat.hpp"

#include <spdlog/spdlog.h>

#include "net/length_prefixed_io.hpp"

namespace peerup::protocols {

namespace {

using status = wire::autonat_response_status;

wire::autonat_message refusal(status st, std::string text) {
  return wire::autonat_message::response(st, std::nullopt, std::move(text));
}

}  // namespace

autonat_server::autonat_server(net::host& h, autonat_server_config cfg)
    : host_(h), cfg_(std::move(cfg)), limiter_(cfg_.limits) {
  host_.set_handler(autonat_protocol, [this](net::stream_ptr s, net::stream_context ctx) {
    return serve(std::move(s), std::move(ctx));
  });
}

autonat_server::~autonat_server() {
  *alive_ = false;
  host_.remove_handler(autonat_protocol);
}

net::awaitable<void> autonat_server::serve(net::stream_ptr s, net::stream_context ctx) {
  auto alive = alive_;
  auto reply = co_await handle(*s, ctx);
  if (!*alive) co_return;
  const auto st = reply.dial_response ? reply.dial_response->status : std::nullopt;
  if (st == status::ok)
    ++stats_.dialed_ok;
  else if (st == status::e_dial_error)
    ++stats_.dial_errors;
  else
    ++stats_.refused;
  const bytes encoded = reply.encode();
  if (!co_await net::write_length_prefixed(*s, encoded)) co_return s->reset();
  (void)co_await s->close_write();
}

net::awaitable<wire::autonat_message> autonat_server::handle(net::byte_stream& s,
                                                             const net::stream_context& ctx) {
  auto alive = alive_;
  const auto& requester = ctx.conn->remote_peer;
  ++stats_.requests;
  // The spec: never over a relayed connection, whose remote IP is the relay's.
  if (ctx.conn->relayed) co_return refusal(status::e_dial_refused, "relayed connection");
  if (cfg_.may_ask && !cfg_.may_ask(requester))
    co_return refusal(status::e_dial_refused, "not authorized");
  auto raw = co_await net::with_timeout(
      net::read_length_prefixed(s, wire::autonat_max_message_size), cfg_.message_timeout);
  if (!*alive) co_return refusal(status::e_internal_error, "stopping");
  if (!raw) co_return refusal(status::e_bad_request, "no request");
  auto msg = wire::autonat_message::decode(*raw);
  if (!msg || msg->type != wire::autonat_message_type::dial || !msg->dial || !msg->dial->peer)
    co_return refusal(status::e_bad_request, "expected DIAL");
  const auto& info = *msg->dial->peer;
  if (info.id && *info.id != requester.to_bytes())
    co_return refusal(status::e_bad_request, "peer ID is not the requester's");
  // SECURITY: rate limits and a bound on concurrent dial-backs, before any dial.
  if (in_flight_ >= cfg_.max_concurrent || !limiter_.admit(requester, net::steady_clock::now()))
    co_return refusal(status::e_dial_refused, "rate limited");
  const auto targets = dialback_targets(info.multiaddrs(), ctx.conn->remote_addr, cfg_.limits);
  if (targets.empty()) co_return refusal(status::e_dial_refused, "no address to dial");

  ++in_flight_;
  std::optional<multiaddr> reached;
  for (const auto& t : targets) {
    // A fresh port (no SO_REUSEPORT), as another host would dial: reusing our
    // listen port would ride on the NAT mapping of the existing connection.
    const net::dial_options opts{.reuse_port = false};
    const std::optional<peer_id> expected = requester;
    auto dialing = host_.dial(t, expected, opts);
    auto c = co_await net::with_timeout(std::move(dialing), cfg_.dial_timeout);
    if (!*alive) co_return refusal(status::e_internal_error, "stopping");
    if (c) {
      (*c)->mux->close();
      reached = t;
      break;
    }
    spdlog::debug("autonat: dial-back {} for {} failed: {}", t.to_string(), requester.to_string(),
                  c.error().message());
  }
  --in_flight_;
  if (!reached) co_return refusal(status::e_dial_error, "dial failed");
  co_return wire::autonat_message::response(status::ok, reached->to_bytes());
}

net::awaitable<result<autonat_answer>> autonat_ask(net::host& h, const net::connection_ptr& conn,
                                                   const std::vector<multiaddr>& addrs,
                                                   net::steady_clock::duration timeout) {
  auto opened = co_await h.new_stream(conn, autonat_protocol);
  if (!opened) co_return opened.error();
  auto& s = *opened->stream;
  const bytes request = wire::autonat_message::dial_request(h.id(), addrs).encode();
  if (auto w = co_await net::write_length_prefixed(s, request); !w) co_return w.error();
  auto raw = co_await net::with_timeout(
      net::read_length_prefixed(s, wire::autonat_max_message_size), timeout);
  if (!raw) co_return raw.error();
  auto msg = wire::autonat_message::decode(*raw);
  if (!msg || msg->type != wire::autonat_message_type::dial_response || !msg->dial_response ||
      !msg->dial_response->status)
    co_return make_error_code(errc::autonat_protocol);
  const auto& r = *msg->dial_response;
  autonat_answer a;
  a.text = r.status_text.value_or("");
  switch (*r.status) {
    case status::ok:
      a.verdict = autonat_verdict::reachable;
      if (r.addr) {
        if (auto m = multiaddr::from_bytes(*r.addr)) a.addr = std::move(*m);
      }
      break;
    case status::e_dial_error: a.verdict = autonat_verdict::unreachable; break;
    default: a.verdict = autonat_verdict::no_verdict; break;
  }
  (void)co_await s.close_write();
  co_return a;
}

}  // namespace peerup::protocols
