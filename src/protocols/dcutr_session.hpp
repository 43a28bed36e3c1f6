// DCUtR (libp2p/specs relay/DCUtR.md) as two sans-I/O state machines, one
// per side, plus the address rules for hole punching. No asio, no clock:
// the I/O side (protocols/dcutr.cpp) feeds messages, dial results and `now`
// and carries out the actions it gets back.
//
// Roles, as in the spec: B received the relayed connection and initiates;
// A dialed through the relay and answers. On TCP both dial at once; B takes
// the responder role of the security handshake on its dialed socket and A the
// initiator role (what go-libp2p and js-libp2p do), so a simultaneous open
// ends with exactly one initiator.
#pragma once

#include <chrono>
#include <optional>
#include <vector>

#include "common/error.hpp"
#include "multiformats/multiaddr.hpp"
#include "multiformats/peer_id.hpp"
#include "wire/dcutr_message.hpp"

namespace peerup::protocols::dcutr {

using clock = std::chrono::steady_clock;

// The spec: B SHOULD retry twice, three attempts in all.
inline constexpr int max_rounds = 3;
// SECURITY: at most this many addresses from a peer's CONNECT are dialed.
inline constexpr std::size_t max_dial_addrs = 8;

enum class addr_scope { unusable, loopback, private_net, public_net, dns };
// TCP over IP or DNS and QUIC (/udp/<port>/quic-v1) over IP, each with an
// optional trailing /p2p, are usable for hole punching; relay circuits,
// other transports, unspecified and multicast addresses and port 0 are not.
addr_scope scope_of(const multiaddr& a);

struct addr_policy {
  // RFC 1918, CGNAT 100.64/10, IPv6 ULA: two peers on one LAN go direct.
  bool allow_private = true;
  // Only tests on one machine want this.
  bool allow_loopback = false;
  bool allows(addr_scope s) const;
};

// The addresses of `in` that may be dialed (or offered) for hole punching
// with `remote`: usable under `p`, no relay circuit, no /p2p of another peer,
// without duplicates, at most max_dial_addrs, in their original order.
std::vector<multiaddr> usable_addrs(const std::vector<multiaddr>& in, const addr_policy& p,
                                    const std::optional<peer_id>& remote = std::nullopt);

// What the I/O side must do next.
struct action {
  enum class kind {
    open_stream,  // open a new /libp2p/dcutr stream on the relayed connection
    send,         // write `message` on the stream
    receive,      // read the next message and pass it to on_message
    dial,         // after `delay`, dial every address of `addrs` (role: see above)
    succeeded,    // a direct connection exists; close the stream
    failed,       // give up with `error`; reset the stream
  };
  kind what;
  wire::hole_punch_message message{};
  std::vector<multiaddr> addrs{};
  clock::duration delay{};
  boost::system::error_code error{};
};

// B. One run: up to max_rounds rounds, each on a fresh stream (go-libp2p and
// js-libp2p answer one exchange per stream and then close it).
// 1. open a stream, send CONNECT with our addresses, start the RTT clock
// 2. on A's CONNECT: RTT = now - start; send SYNC; dial A's addresses after RTT/2
// 3. on the dial result: done, or back to 1 until max_rounds
class initiator {
 public:
  initiator(const std::vector<multiaddr>& our_addrs, addr_policy policy, peer_id remote);

  std::vector<action> start(clock::time_point now);
  std::vector<action> on_message(const wire::hole_punch_message& m, clock::time_point now);
  std::vector<action> on_dial_result(bool direct, clock::time_point now);
  // The stream broke or a message did not come in time: the round failed.
  std::vector<action> on_stream_error(boost::system::error_code ec, clock::time_point now);

  int round() const { return round_; }
  std::optional<clock::duration> last_rtt() const { return rtt_; }
  bool finished() const { return state_ == state::done; }

 private:
  enum class state { idle, awaiting_connect, dialing, done };
  std::vector<action> begin_round(clock::time_point now);
  std::vector<action> fail_round(boost::system::error_code ec, clock::time_point now);

  std::vector<multiaddr> ours_;
  addr_policy policy_;
  peer_id remote_;
  state state_ = state::idle;
  int round_ = 0;
  clock::time_point sent_at_{};
  std::optional<clock::duration> rtt_;
  boost::system::error_code last_error_;
};

// A. Serves one stream: CONNECT -> CONNECT, SYNC -> dial at once. A peer that
// reuses the stream for its retries (as the spec suggests) may start over
// after a failed dial, up to max_rounds. The stream starts with a receive.
class responder {
 public:
  responder(const std::vector<multiaddr>& our_addrs, addr_policy policy, peer_id remote);

  std::vector<action> on_message(const wire::hole_punch_message& m, clock::time_point now);
  std::vector<action> on_dial_result(bool direct, clock::time_point now);
  // The stream ended or broke; after a failed round that is how B gives up.
  std::vector<action> on_stream_error(boost::system::error_code ec, clock::time_point now);

  int round() const { return round_; }
  // B's addresses from the last CONNECT (after filtering).
  const std::vector<multiaddr>& their_addrs() const { return theirs_; }
  bool finished() const { return state_ == state::done; }

 private:
  enum class state { awaiting_connect, awaiting_sync, dialing, done };
  std::vector<action> fail(errc e);

  std::vector<multiaddr> ours_;
  addr_policy policy_;
  peer_id remote_;
  std::vector<multiaddr> theirs_;
  state state_ = state::awaiting_connect;
  int round_ = 0;
};

}  // namespace peerup::protocols::dcutr
