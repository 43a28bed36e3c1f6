#include "protocols/identify.hpp"

#include <spdlog/spdlog.h>

#include "net/length_prefixed_io.hpp"

namespace peerup::protocols {

identify_service::identify_service(net::host& h) : host_(h) {
  host_.set_handler(identify_protocol, [this](net::stream_ptr s, net::stream_context ctx) {
    return serve(std::move(s), std::move(ctx));
  });
  host_.set_handler(identify_push_protocol, [this](net::stream_ptr s, net::stream_context ctx) {
    return serve_push(std::move(s), std::move(ctx));
  });
  host_.on_connection([this](const net::connection_ptr& conn) {
    net::asio::co_spawn(
        host_.get_executor(),
        [this, conn]() -> net::awaitable<void> {
          auto r = co_await exchange(conn);
          if (!r && spdlog::should_log(spdlog::level::debug))
            spdlog::debug("identify {} failed: {}", conn->remote_peer.to_string(),
                          r.error().message());
        },
        net::asio::detached);
  });
  // The exchange of a connection goes with it: a relay that held 100,000
  // connections keeps nothing of them once they left.
  host_.on_connection_closed(
      [this, alive = std::weak_ptr<bool>(alive_)](const net::connection_ptr& conn) {
        if (alive.lock()) exchanges_.erase(conn.get());
      });
}

identify_service::~identify_service() { *alive_ = false; }

wire::identify_message identify_service::build(const net::connection& conn) const {
  wire::identify_message m;
  m.protocol_version = std::string(libp2p_protocol_version);
  m.agent_version = host_.config().agent_version;
  m.public_key = host_.identity().get_public_key().to_protobuf();
  for (const auto& a : host_.announce_addrs()) m.listen_addrs.push_back(a.to_bytes());
  m.observed_addr = conn.remote_addr.to_bytes();
  m.protocols = host_.protocols();
  return m;
}

net::awaitable<void> identify_service::serve(net::stream_ptr s, net::stream_context ctx) {
  auto msg = build(*ctx.conn).encode();
  if (auto w = co_await net::write_length_prefixed(*s, msg); !w) co_return s->reset();
  (void)co_await s->close_write();
}

net::awaitable<void> identify_service::serve_push(net::stream_ptr s, net::stream_context ctx) {
  auto raw = co_await net::read_length_prefixed(*s, wire::identify_max_message_size);
  if (!raw) co_return s->reset();
  auto m = wire::identify_message::decode(*raw);
  if (!m) {
    spdlog::debug("bad identify push from {}", ctx.conn->remote_peer.to_string());
    co_return s->reset();
  }
  (void)record(ctx.conn, *m);
  (void)co_await s->close_write();
}

std::shared_ptr<identify_service::exchange_state> identify_service::state_for(
    const net::connection_ptr& conn) {
  auto it = exchanges_.find(conn.get());
  if (it != exchanges_.end() && !it->second->conn.expired()) return it->second;
  auto st = std::make_shared<exchange_state>(host_.get_executor());
  st->conn = conn;
  // Only open connections are tracked: the host's close observer, which
  // erases the entry, has already run for a closed one.
  if (conn->is_open()) exchanges_[conn.get()] = st;
  return st;
}

net::awaitable<result<identify_info>> identify_service::identify(const net::connection_ptr& conn) {
  auto it = exchanges_.find(conn.get());
  if (it == exchanges_.end() || it->second->conn.expired()) co_return co_await exchange(conn);
  auto st = it->second;
  while (!st->outcome) co_await st->done.wait();
  co_return *st->outcome;
}

net::awaitable<result<identify_info>> identify_service::exchange(net::connection_ptr conn) {
  auto st = state_for(conn);
  auto outcome = co_await ask(conn);
  st->outcome = outcome;
  st->done.notify();
  co_return outcome;
}

net::awaitable<result<identify_info>> identify_service::ask(const net::connection_ptr& conn) {
  auto opened = co_await host_.new_stream(conn, identify_protocol);
  if (!opened) co_return opened.error();
  auto& s = *opened->stream;
  // go-libp2p may split identify into several messages; merge up to a bound.
  wire::identify_message merged;
  for (std::size_t i = 0; i < wire::identify_max_messages; ++i) {
    auto raw = co_await net::read_length_prefixed(s, wire::identify_max_message_size);
    if (!raw) {
      if (raw.error() == errc::connection_closed && i > 0) break;  // clean end after a message
      co_return raw.error();
    }
    if (auto r = merged.merge(*raw); !r) co_return make_error_code(errc::identify_invalid);
  }
  co_return record(conn, merged);
}

result<identify_info> identify_service::record(const net::connection_ptr& conn,
                                               const wire::identify_message& m) {
  identify_info info{.peer = conn->remote_peer};
  if (m.public_key) {
    // The key must belong to the authenticated peer; anything else is a lie.
    auto key = public_key::from_protobuf(*m.public_key);
    if (!key || key->to_peer_id() != conn->remote_peer) return errc::identify_invalid;
  }
  for (const auto& raw : m.listen_addrs) {
    auto a = multiaddr::from_bytes(raw);
    if (a) info.listen_addrs.push_back(std::move(*a));
  }
  if (m.observed_addr) {
    if (auto a = multiaddr::from_bytes(*m.observed_addr)) info.observed_addr = std::move(*a);
  }
  info.protocols = m.protocols;
  info.agent_version = m.agent_version.value_or("");
  info.protocol_version = m.protocol_version.value_or("");

  auto& store = host_.peers();
  store.add_addrs(conn->remote_peer, info.listen_addrs);
  store.set_protocols(conn->remote_peer, info.protocols);
  store.set_agent(conn->remote_peer, info.agent_version);
  if (info.observed_addr) store.set_observed_addr(conn->remote_peer, *info.observed_addr);
  for (const auto& f : listeners_) f(conn, info);
  return info;
}

void identify_service::push_all() {
  for (const auto& conn : host_.all_connections()) {
    net::asio::co_spawn(
        host_.get_executor(),
        [this, conn]() -> net::awaitable<void> {
          auto opened = co_await host_.new_stream(conn, identify_push_protocol);
          if (!opened) co_return;
          auto msg = build(*conn).encode();
          if (co_await net::write_length_prefixed(*opened->stream, msg))
            (void)co_await opened->stream->close_write();
        },
        net::asio::detached);
  }
}

}  // namespace peerup::protocols
