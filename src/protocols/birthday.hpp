// The birthday hole punch over the host (sans-I/O core: wire/birthday.hpp).
// Runs after DCUtR failed, between two peerup nodes that both speak
// /peerup/birthday/1.0.0 (not a libp2p spec: go-, rust- and js-libp2p do not
// offer it, and nothing changes for them).
//
// 1. the initiator (DCUtR's B) opens /peerup/birthday/1.0.0 on the relayed
//    connection and sends its hello: NAT hint, a fresh token, its observed
//    UDP address; the responder answers with its own hello
// 2. both compute the roles (wire::birthday_role_for); none: both stop
// 3. the hard side opens `sockets` UDP sockets, each sending one `open`
//    datagram to the easy side's observed address; the easy side sends
//    `probe` datagrams from its QUIC listen socket to random ports of the
//    hard side's IP, a burst per tick, up to `max_probes`
// 4. the first probe that reaches one of the hard side's sockets (from the
//    easy side's address, with the token) wins: the hard side closes every
//    socket and dials QUIC from the winner's port to the easy side's QUIC
//    listener; its NAT mapping and the easy side's filter already fit
// 5. the hard side writes one byte (1: connected, 0: not) and closes; the
//    easy side stops probing at that byte, a direct connection, or its
//    deadline
//
// SECURITY: packets go only to the addresses the peer reported over the
// authenticated relayed stream, filtered by the DCUtR address policy (no
// loopback or private addresses unless allowed), within a fixed budget
// (wire::birthday_budget); probes without the token are dropped.
#pragma once

#include <functional>

#include "net/host.hpp"
#include "protocols/dcutr_session.hpp"
#include "wire/birthday.hpp"

namespace peerup::protocols {

inline const protocol_id birthday_protocol{std::string(wire::birthday_protocol_id)};

struct birthday_config {
  bool enabled = true;
  wire::birthday_budget budget;
  dcutr::addr_policy policy;
  net::steady_clock::duration message_timeout = std::chrono::seconds(10);
  net::steady_clock::duration dial_timeout = std::chrono::seconds(5);
  // SECURITY: runs at once, ours and the peers' together (each may open
  // `sockets` sockets or send `max_probes` probes).
  std::size_t max_inbound = 2;
};

// What we know of our own UDP mapping: our hint and observed address.
struct birthday_self {
  wire::nat_hint hint = wire::nat_hint::unknown;
  std::optional<net::udp::endpoint> observed;  // IPv4 only
};

class birthday_service {
 public:
  using self_source = std::function<birthday_self()>;
  // `self` tells our NAT hint and observed UDP address when a run starts.
  birthday_service(net::host& h, self_source self, birthday_config cfg = {});
  ~birthday_service();
  birthday_service(const birthday_service&) = delete;
  birthday_service& operator=(const birthday_service&) = delete;

  // The initiator's run on `relayed` (steps 1-5). Errors:
  // birthday_unsuitable, birthday_no_hit, birthday_malformed, or the
  // stream's. Contract: on the host's executor; bounded by two
  // message_timeouts, the budget's duration and one dial_timeout.
  net::awaitable<result<net::connection_ptr>> run(net::connection_ptr relayed);

 private:
  net::awaitable<void> serve(net::stream_ptr s, net::stream_context ctx);
  // Steps 3-5 once both hellos are known.
  net::awaitable<result<net::connection_ptr>> play(const net::connection_ptr& relayed,
                                                   net::stream_ptr s, wire::birthday_role role,
                                                   wire::birthday_token token,
                                                   net::udp::endpoint peer_addr);
  net::awaitable<result<net::connection_ptr>> play_hard(const net::connection_ptr& relayed,
                                                        wire::birthday_token token,
                                                        net::udp::endpoint easy);
  net::awaitable<result<net::connection_ptr>> play_easy(const net::connection_ptr& relayed,
                                                        std::shared_ptr<net::byte_stream> s,
                                                        wire::birthday_token token,
                                                        net::udp::endpoint hard);
  result<net::udp::endpoint> usable(const wire::birthday_hello& h, const peer_id& peer) const;
  net::connection_ptr direct_to(const peer_id& peer) const;

  net::host& host_;
  self_source self_;
  birthday_config cfg_;
  std::size_t serving_ = 0;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace peerup::protocols
