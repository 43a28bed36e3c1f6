#include "protocols/relay_invite.hpp"

#include <spdlog/spdlog.h>

#include "net/length_prefixed_io.hpp"

namespace peerup::protocols {

namespace {

net::awaitable<result<void>> serve_one(net::byte_stream& s, const peer_id& peer,
                                       const relay_invite_maker& make) {
  // SECURITY: read_length_prefixed bounds the body before allocating.
  auto body = co_await net::read_length_prefixed(s, relay_invite::max_message_bytes);
  if (!body) co_return body.error();
  auto req = relay_invite::decode_request(*body);
  relay_invite::response res;
  if (!req) {
    res.code = relay_invite::status::bad_request;
  } else {
    res = make(peer, *req);
  }
  auto out = relay_invite::encode(res);
  if (!out) co_return out.error();
  if (auto w = co_await net::write_length_prefixed(s, *out); !w) co_return w.error();
  (void)co_await s.close_write();
  spdlog::info("relay invite for {}: {}", peer.to_string(), relay_invite::describe(res.code));
  co_return result<void>{};
}

net::awaitable<result<relay_invite::response>> ask(net::byte_stream& s,
                                                   const relay_invite::request& req) {
  auto body = relay_invite::encode(req);
  if (!body) co_return body.error();
  auto answer =
      co_await net::exchange_length_prefixed(s, std::move(*body), relay_invite::max_message_bytes);
  if (!answer) co_return answer.error();
  co_return relay_invite::decode_response(*answer);
}

}  // namespace

void install_relay_invite(net::host& h, relay_invite_maker make) {
  auto shared = std::make_shared<relay_invite_maker>(std::move(make));
  h.set_handler(
      relay_invite_protocol,
      [shared](net::stream_ptr s, net::stream_context ctx) -> net::awaitable<void> {
        const auto peer = ctx.conn->remote_peer;
        auto r = co_await net::with_timeout(serve_one(*s, peer, *shared), relay_invite_timeout);
        if (!r) {
          spdlog::warn("relay invite for {} failed: {}", peer.to_string(), r.error().message());
          s->reset();
        }
      });
}

net::awaitable<result<relay_invite::response>> request_relay_invite(net::host& h,
                                                                    const net::connection_ptr& conn,
                                                                    relay_invite::request req,
                                                                    std::string* why) {
  auto opened = co_await h.new_stream(conn, relay_invite_protocol);
  if (!opened) co_return opened.error();
  auto res = co_await net::with_timeout(ask(*opened->stream, req), relay_invite_timeout);
  if (!res) co_return res.error();
  if (res->code != relay_invite::status::ok) {
    if (why) *why = std::string(relay_invite::describe(res->code));
    co_return make_error_code(errc::relay_invite_refused);
  }
  co_return *res;
}

}  // namespace peerup::protocols
