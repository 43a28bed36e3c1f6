#include "protocols/pairing.hpp"

#include <spdlog/spdlog.h>

#include <chrono>

#include "net/length_prefixed_io.hpp"

namespace peerup::protocols {

namespace {

std::int64_t unix_now() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

net::awaitable<result<void>> send(net::byte_stream& s, const pairing::message& m) {
  auto b = pairing::encode(m);
  if (!b) co_return b.error();
  co_return co_await net::write_length_prefixed(s, *b);
}

net::awaitable<result<pairing::message>> receive(net::byte_stream& s) {
  // SECURITY: read_length_prefixed refuses a length over the bound before
  // allocating; decode checks every field.
  auto b = co_await net::read_length_prefixed(s, pairing::max_message_bytes);
  if (!b) co_return b.error();
  co_return pairing::decode(*b);
}

// Steps 2 and 4 for one stream; returns what to log.
net::awaitable<result<std::string>> serve_once(net::byte_stream& s, const net::stream_context& ctx,
                                               const net::host& h,
                                               const pairing_home_hooks& hooks) {
  auto first = co_await receive(s);
  if (!first) co_return first.error();
  const auto* hello = std::get_if<pairing::hello>(&*first);
  if (hello == nullptr) co_return make_error_code(errc::pairing_protocol);

  std::vector<pairing::invite_record> records;
  if (!hooks.load(records)) co_return make_error_code(errc::service_unavailable);
  auto find = [&](const std::array<std::uint8_t, invite::id_bytes>& id) {
    pairing::invite_record* hit = nullptr;
    for (auto& r : records)
      if (r.data.id == id) hit = &r;
    return hit;
  };
  auto* record = find(hello->invite_id);
  pairing::home_session session(h.id(), ctx.conn->remote_peer,
                                record ? hooks.relay(record->data.relay) : multiaddr{},
                                hooks.home_name);
  auto answer = session.on_hello(*hello, find, unix_now());
  // The attempt is counted on disk before the answer leaves, so killing the
  // daemon mid-run cannot give a guesser a free try.
  hooks.save(records);
  if (!answer) co_return answer.error();
  if (auto w = co_await send(s, *answer); !w) co_return w.error();
  if (const auto* e = std::get_if<pairing::error_msg>(&*answer))
    co_return std::string(pairing::describe(e->why));

  auto second = co_await receive(s);
  if (!second) co_return second.error();
  const auto* confirm = std::get_if<pairing::confirm>(&*second);
  if (confirm == nullptr) co_return make_error_code(errc::pairing_protocol);
  auto final_msg = session.on_confirm(*confirm);
  if (!final_msg) co_return final_msg.error();
  if (const auto& done = session.pairing_result()) {
    if (!hooks.on_paired(*done)) {
      // Could not write authorized_keys: leave the invite usable.
      record->used = false;
      hooks.save(records);
      co_return make_error_code(errc::service_unavailable);
    }
    record->paired_peer = done->peer.to_string();
    record->verification = done->verification;
  }
  hooks.save(records);
  if (auto w = co_await send(s, *final_msg); !w) co_return w.error();
  (void)co_await s.close_write();
  if (const auto* e = std::get_if<pairing::error_msg>(&*final_msg))
    co_return std::string(pairing::describe(e->why));
  co_return "paired, verification " + session.pairing_result()->verification;
}

}  // namespace

void install_pairing(net::host& h, pairing_home_hooks hooks) {
  struct state {
    pairing_home_hooks hooks;
    bool busy = false;
  };
  auto shared = std::make_shared<state>(state{std::move(hooks)});
  h.set_handler(pairing_protocol,
                [&h, shared](net::stream_ptr s, net::stream_context ctx) -> net::awaitable<void> {
                  const auto peer = ctx.conn->remote_peer.to_string();
                  // SECURITY: one attempt at a time. Each attempt loads, counts
                  // and saves the failure counters; two interleaved attempts
                  // would each save the count they loaded and lose a failure.
                  if (shared->busy) {
                    spdlog::warn("pairing with {} refused: another pairing is running", peer);
                    (void)co_await s->close_write();
                    co_return;
                  }
                  shared->busy = true;
                  auto r = co_await net::with_timeout(serve_once(*s, ctx, h, shared->hooks),
                                                      pairing_timeout);
                  shared->busy = false;
                  if (r)
                    spdlog::info("pairing with {}: {}", peer, *r);
                  else
                    spdlog::warn("pairing with {} failed: {}", peer, r.error().message());
                  (void)co_await s->close_write();
                });
}

namespace {
net::awaitable<result<pairing::paired>> pair_steps(net::byte_stream& s,
                                                   pairing::device_session& session) {
  if (auto w = co_await send(s, session.first_message()); !w) co_return w.error();
  for (int step = 0; step < 2; ++step) {  // REPLY, then WELCOME
    auto m = co_await receive(s);
    if (!m) co_return m.error();
    auto next = session.on_message(*m);
    if (!next) co_return next.error();
    if (*next) {
      if (auto w = co_await send(s, **next); !w) co_return w.error();
    }
    if (session.pairing_result()) co_return *session.pairing_result();
  }
  co_return make_error_code(errc::pairing_protocol);
}
}  // namespace

net::awaitable<result<pairing::paired>> pair_as_device(net::byte_stream& s,
                                                       pairing::device_session& session) {
  co_return co_await net::with_timeout(pair_steps(s, session), pairing_timeout);
}

}  // namespace peerup::protocols
