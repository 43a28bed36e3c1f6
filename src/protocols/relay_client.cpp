#include "protocols/relay_client.hpp"

#include <spdlog/spdlog.h>

#include "net/length_prefixed_io.hpp"
#include "wire/relay_voucher.hpp"

namespace peerup::protocols {

namespace {

constexpr auto message_timeout = std::chrono::seconds(10);

std::vector<multiaddr> decode_addrs(const std::vector<bytes>& raw) {
  std::vector<multiaddr> out;
  for (const auto& r : raw)
    if (auto a = multiaddr::from_bytes(r)) out.push_back(std::move(*a));
  return out;
}

net::awaitable<result<wire::hop_message>> read_hop(net::byte_stream& s) {
  auto raw = co_await net::with_timeout(net::read_length_prefixed(s, wire::relay_max_message_size),
                                        message_timeout);
  if (!raw) co_return raw.error();
  auto msg = wire::hop_message::decode(*raw);
  if (!msg) co_return make_error_code(errc::relay_malformed_message);
  co_return msg;
}

// open_relay_voucher checks the signature and that the signer is the relay
// the voucher names; here we check it is our relay and names us.
bool voucher_names(const bytes& envelope_bytes, const peer_id& relay, const peer_id& us) {
  auto v = wire::open_relay_voucher(envelope_bytes);
  return v && v->relay == relay.to_bytes() && v->peer == us.to_bytes();
}

}  // namespace

result<circuit_parts> split_circuit(const multiaddr& addr) {
  const std::string text = addr.to_string();
  const std::string marker = "/p2p-circuit";
  const auto pos = text.find(marker);
  if (pos == std::string::npos) return errc::invalid_multiaddr;
  auto relay = multiaddr::parse(text.substr(0, pos));
  if (!relay) return relay.error();
  auto relay_id = relay->peer();
  if (!relay_id) return errc::invalid_multiaddr;  // the relay must be authenticated
  circuit_parts parts{*relay, *relay_id, std::nullopt};
  const std::string rest = text.substr(pos + marker.size());
  if (!rest.empty()) {
    auto target = multiaddr::parse(rest);
    if (!target || !target->peer()) return errc::invalid_multiaddr;
    parts.target = target->peer();
  }
  return parts;
}

net::awaitable<result<reservation>> reserve(net::host& h, const net::connection_ptr& relay_conn) {
  auto opened = co_await h.new_stream(relay_conn, relay_hop_protocol);
  if (!opened) co_return opened.error();
  auto& s = *opened->stream;
  const bytes request = wire::hop_message::reserve().encode();
  if (auto w = co_await net::write_length_prefixed(s, request); !w) co_return w.error();
  auto reply = co_await read_hop(s);
  if (!reply) co_return reply.error();
  if (reply->type != wire::hop_type::status || !reply->status)
    co_return make_error_code(errc::relay_unexpected_message);
  if (*reply->status != wire::relay_status::ok)
    co_return make_error_code(wire::to_errc(*reply->status));
  if (!reply->reservation) co_return make_error_code(errc::relay_malformed_message);

  reservation r{.relay = relay_conn->remote_peer};
  r.expire_unix = reply->reservation->expire.value_or(0);
  r.relay_addrs = decode_addrs(reply->reservation->addrs);
  r.limit = reply->limit;
  if (reply->reservation->voucher)
    r.voucher_valid = voucher_names(*reply->reservation->voucher, r.relay, h.id());
  // Our circuit addresses: every relay address, plus the one we reached it on.
  std::vector<multiaddr> bases = r.relay_addrs;
  bases.push_back(relay_conn->remote_addr);
  for (const auto& base : bases) {
    if (base.is_relayed()) continue;
    auto text = base.without_peer().to_string() + "/p2p/" + r.relay.to_string() + "/p2p-circuit";
    if (auto a = multiaddr::parse(text);
        a && std::find(r.circuit_addrs.begin(), r.circuit_addrs.end(), *a) == r.circuit_addrs.end())
      r.circuit_addrs.push_back(*a);
  }
  co_return r;
}

net::awaitable<result<net::connection_ptr>> dial_through_relay(net::host& h,
                                                               const multiaddr& circuit_addr,
                                                               std::optional<peer_id> expected) {
  auto parts = split_circuit(circuit_addr);
  if (!parts) co_return parts.error();
  if (!expected) expected = parts->target;
  if (!expected) co_return make_error_code(errc::invalid_multiaddr);  // whom to ask the relay for?
  auto relay_conn = co_await h.connect(parts->relay);
  if (!relay_conn) co_return relay_conn.error();
  // SECURITY: no relay chains; circuits over circuits would hide the real path.
  if ((*relay_conn)->relayed) co_return make_error_code(errc::relay_permission_denied);

  // Optimistic: CONNECT follows the proposal without waiting for its echo.
  auto opened = co_await h.new_stream_optimistic(*relay_conn, relay_hop_protocol);
  if (!opened) co_return opened.error();
  const wire::relay_peer target{.id = expected->to_bytes(), .addrs = {}};
  const bytes request = wire::hop_message::connect(target).encode();
  if (auto w = co_await net::write_length_prefixed(*opened->stream, request); !w)
    co_return w.error();
  auto reply = co_await read_hop(*opened->stream);
  if (!reply) co_return reply.error();
  if (reply->type != wire::hop_type::status || !reply->status)
    co_return make_error_code(errc::relay_unexpected_message);
  if (*reply->status != wire::relay_status::ok)
    co_return make_error_code(wire::to_errc(*reply->status));

  auto remote =
      multiaddr::parse(parts->relay.to_string() + "/p2p-circuit/p2p/" + expected->to_string());
  if (!remote) co_return remote.error();
  net::raw_connection raw{std::move(opened->stream), *remote, (*relay_conn)->local_addr, true};
  co_return co_await h.add_outbound(std::move(raw), expected);
}

void install_relay_stop(net::host& h, std::function<bool(const peer_id& relay)> accept_from) {
  h.set_handler(relay_stop_protocol,
                [&h, accept_from = std::move(accept_from)](
                    net::stream_ptr s, net::stream_context ctx) -> net::awaitable<void> {
                  auto reply = [&](wire::relay_status st) -> net::awaitable<result<void>> {
                    const bytes encoded = wire::stop_message::status_reply(st).encode();
                    co_return co_await net::write_length_prefixed(*s, encoded);
                  };
                  auto raw = co_await net::with_timeout(
                      net::read_length_prefixed(*s, wire::relay_max_message_size), message_timeout);
                  if (!raw) co_return s->reset();
                  auto msg = wire::stop_message::decode(*raw);
                  if (!msg || msg->type != wire::stop_type::connect || !msg->peer) {
                    (void)co_await reply(wire::relay_status::malformed_message);
                    co_return s->reset();
                  }
                  auto source = peer_id::from_bytes(msg->peer->id);
                  if (!source) {
                    (void)co_await reply(wire::relay_status::malformed_message);
                    co_return s->reset();
                  }
                  // SECURITY: only relays we chose may hand us circuits, and never over a
                  // relayed connection.
                  if (ctx.conn->relayed || (accept_from && !accept_from(ctx.conn->remote_peer))) {
                    (void)co_await reply(wire::relay_status::permission_denied);
                    co_return s->reset();
                  }
                  if (!co_await reply(wire::relay_status::ok)) co_return s->reset();
                  auto remote = multiaddr::parse(ctx.conn->remote_addr.without_peer().to_string() +
                                                 "/p2p/" + ctx.conn->remote_peer.to_string() +
                                                 "/p2p-circuit/p2p/" + source->to_string());
                  if (!remote) co_return s->reset();
                  net::raw_connection circuit{std::move(s), *remote, ctx.conn->local_addr, true};
                  auto conn = co_await h.add_inbound(std::move(circuit));
                  if (!conn)
                    spdlog::debug("relayed connection from {} failed: {}", source->to_string(),
                                  conn.error().message());
                  else if ((*conn)->remote_peer != *source)
                    spdlog::warn("relay {} said {} but Noise authenticated {}",
                                 ctx.conn->remote_peer.to_string(), source->to_string(),
                                 (*conn)->remote_peer.to_string());
                });
}

void install_circuit_dialer(net::host& h) {
  h.set_circuit_dialer([&h](const multiaddr& addr, std::optional<peer_id> expected) {
    return dial_through_relay(h, addr, std::move(expected));
  });
}

}  // namespace peerup::protocols
