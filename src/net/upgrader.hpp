// Turns a raw byte stream (TCP socket or relayed circuit) into an
// authenticated, multiplexed connection: multistream "/noise", Noise XX,
// connection gater, then Yamux (via the Noise muxer extension when both sides
// offer it, else multistream "/yamux/1.0.0").
#pragma once

#include <functional>
#include <memory>
#include <optional>

#include "crypto/keys.hpp"
#include "net/connection.hpp"
#include "net/yamux_connection.hpp"
#include "wire/noise_handshake.hpp"

namespace peerup::net {

// Called once the remote peer is authenticated, before any stream exists.
using connection_gater = std::function<bool(const peer_id& remote, const multiaddr& remote_addr)>;

// The host's Noise static key and signed handshake payload, advertising our
// muxers (yamux): made once per host (wire/noise_handshake.hpp local_static).
std::shared_ptr<const noise::local_static> make_noise_static(const private_key& identity);

struct upgrade_params {
  std::shared_ptr<const noise::local_static> noise_static;  // from make_noise_static
  const connection_gater& gater;
  yamux::config yamux_cfg;
  // Charged with the connection's buffers and streams; null: not accounted.
  connection_resources_ptr resources = nullptr;
};

struct raw_connection {
  stream_ptr stream;
  multiaddr remote_addr;
  multiaddr local_addr;
  bool relayed = false;
};

// 1. negotiate /noise with multistream-select
// 2. run Noise XX (the dialer checks the remote is `expected`)
// 3. ask the gater; refuse before any stream can open
// 4. pick the muxer: from the Noise extension when both listed yamux,
//    otherwise multistream-select /yamux/1.0.0 inside the secure channel
// Contract: takes ownership of raw.stream; the returned connection's mux is not
// started (the host starts it once it has registered the connection).
awaitable<result<connection_ptr>> upgrade_outbound(raw_connection raw, const upgrade_params& p,
                                                   std::optional<peer_id> expected);
awaitable<result<connection_ptr>> upgrade_inbound(raw_connection raw, const upgrade_params& p);

}  // namespace peerup::net
