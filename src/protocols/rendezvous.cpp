#include "protocols/rendezvous.hpp"

#include <spdlog/spdlog.h>

#include "net/length_prefixed_io.hpp"

namespace peerup::protocols {

namespace {

net::awaitable<result<void>> serve_one(net::byte_stream& s, const peer_id& peer,
                                       rendezvous::store& boxes, const rendezvous_hooks& hooks) {
  // SECURITY: read_length_prefixed bounds the body before allocating.
  auto body = co_await net::read_length_prefixed(s, rendezvous::max_message_bytes);
  if (!body) co_return body.error();
  auto req = rendezvous::decode_request(*body);
  rendezvous::response res;
  if (!req) {
    res.code = rendezvous::status::bad_request;
  } else if (req->what == rendezvous::op::put) {
    res.code = hooks.may_put(peer) ? boxes.put(peer, *req, hooks.now_unix())
                                   : rendezvous::status::not_authorized;
    spdlog::info("rendezvous: invite box from {}: {}", peer.to_string(),
                 rendezvous::describe(res.code));
  } else {
    res = boxes.get(req->handle, hooks.now_unix());
    // Not logged by handle: a failed get is what a typo or a scanner does.
    spdlog::debug("rendezvous: {} asked for a box: {}", peer.to_string(),
                  rendezvous::describe(res.code));
  }
  auto out = rendezvous::encode(res);
  if (!out) co_return out.error();
  if (auto w = co_await net::write_length_prefixed(s, *out); !w) co_return w.error();
  (void)co_await s.close_write();
  co_return result<void>{};
}

net::awaitable<result<rendezvous::response>> ask(net::byte_stream& s,
                                                 const rendezvous::request& req) {
  auto body = rendezvous::encode(req);
  if (!body) co_return body.error();
  auto answer =
      co_await net::exchange_length_prefixed(s, std::move(*body), rendezvous::max_message_bytes);
  if (!answer) co_return answer.error();
  co_return rendezvous::decode_response(*answer);
}

net::awaitable<result<rendezvous::response>> request(net::host& h, net::connection_ptr conn,
                                                     rendezvous::request req) {
  auto opened = co_await h.new_stream(conn, rendezvous_protocol);
  if (!opened) co_return opened.error();
  auto asking = ask(*opened->stream, req);
  co_return co_await net::with_timeout(std::move(asking), rendezvous_timeout);
}

}  // namespace

void install_rendezvous(net::host& h, rendezvous::store& boxes, rendezvous_hooks hooks) {
  auto shared = std::make_shared<rendezvous_hooks>(std::move(hooks));
  h.set_handler(rendezvous_protocol,
                [&boxes, shared](net::stream_ptr s, net::stream_context ctx) -> net::awaitable<void> {
                  const auto peer = ctx.conn->remote_peer;
                  auto serving = serve_one(*s, peer, boxes, *shared);
                  auto r = co_await net::with_timeout(std::move(serving), rendezvous_timeout);
                  if (!r) {
                    spdlog::debug("rendezvous with {} failed: {}", peer.to_string(),
                                  r.error().message());
                    s->reset();
                  }
                });
}

net::awaitable<result<void>> put_invite_box(net::host& h, net::connection_ptr conn,
                                            rendezvous::request req, std::string* why) {
  req.what = rendezvous::op::put;
  auto res = co_await request(h, std::move(conn), std::move(req));
  if (!res) co_return res.error();
  if (res->code != rendezvous::status::ok) {
    if (why) *why = std::string(rendezvous::describe(res->code));
    co_return make_error_code(errc::rendezvous_refused);
  }
  co_return result<void>{};
}

net::awaitable<result<bytes>> get_invite_box(net::host& h, net::connection_ptr conn,
                                             invite::rendezvous_handle handle, std::string* why) {
  rendezvous::request req;
  req.what = rendezvous::op::get;
  req.handle = handle;
  auto res = co_await request(h, std::move(conn), std::move(req));
  if (!res) co_return res.error();
  if (res->code != rendezvous::status::ok || res->box.empty()) {
    if (why) *why = std::string(rendezvous::describe(res->code));
    co_return make_error_code(errc::rendezvous_unknown);
  }
  co_return std::move(res->box);
}

}  // namespace peerup::protocols
