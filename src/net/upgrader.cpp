#include "net/upgrader.hpp"

#include <algorithm>

#include "net/multistream_io.hpp"
#include "net/noise_stream.hpp"
#include "wire/noise_handshake.hpp"
#include "wire/yamux.hpp"

namespace peerup::net {

namespace {

const std::vector<std::string>& our_muxers() {
  static const std::vector<std::string> muxers{std::string(yamux::protocol_id)};
  return muxers;
}

bool muxer_agreed_in_handshake(const secured_channel& sc) {
  return std::find(sc.remote_muxers.begin(), sc.remote_muxers.end(), yamux::protocol_id) !=
         sc.remote_muxers.end();
}

awaitable<result<connection_ptr>> finish(secured_channel sc, raw_connection& raw,
                                         const upgrade_params& p, direction dir) {
  if (p.gater && !p.gater(sc.remote_peer, raw.remote_addr)) {
    sc.stream->reset();
    co_return make_error_code(errc::connection_denied);
  }
  if (!muxer_agreed_in_handshake(sc)) {
    auto muxer = dir == direction::outbound
                     ? co_await negotiate_outbound(*sc.stream, our_muxers())
                     : co_await negotiate_inbound(*sc.stream, [](std::string_view proto) {
                         return proto == yamux::protocol_id;
                       });
    if (!muxer) {
      sc.stream->reset();
      co_return muxer.error();
    }
  }
  sc.stream->set_resources(p.resources);
  auto conn = std::make_shared<connection>(connection{
      .remote_peer = sc.remote_peer,
      .remote_addr = raw.remote_addr,
      .local_addr = raw.local_addr,
      .dir = dir,
      .relayed = raw.relayed,
      .mux = std::make_shared<yamux_connection>(std::move(sc.stream), dir == direction::outbound,
                                                p.yamux_cfg, p.resources),
  });
  co_return conn;
}

}  // namespace

std::shared_ptr<const noise::local_static> make_noise_static(const private_key& identity) {
  return noise::local_static::make(identity, our_muxers());
}

awaitable<result<connection_ptr>> upgrade_outbound(raw_connection raw, const upgrade_params& p,
                                                   std::optional<peer_id> expected) {
  auto sc = co_await negotiate_and_secure_outbound(std::move(raw.stream), p.noise_static,
                                                   std::move(expected));
  if (!sc) co_return sc.error();
  co_return co_await finish(std::move(*sc), raw, p, direction::outbound);
}

awaitable<result<connection_ptr>> upgrade_inbound(raw_connection raw, const upgrade_params& p) {
  // The multistream echoes wait in `io` and go out with Noise message 2.
  auto io = std::make_unique<handshake_stream>(std::move(raw.stream));
  auto security = co_await negotiate_inbound(
      *io, [](std::string_view proto) { return proto == noise::protocol_id; });
  if (!security) {
    // The "na" answers the peer had already earned.
    (void)co_await io->flush();
    io->reset();
    co_return security.error();
  }
  auto sc = co_await secure_inbound(std::move(io), p.noise_static);
  if (!sc) co_return sc.error();
  co_return co_await finish(std::move(*sc), raw, p, direction::inbound);
}

}  // namespace peerup::net
