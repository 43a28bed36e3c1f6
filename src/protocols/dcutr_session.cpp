#include "protocols/dcutr_session.hpp"

#include <algorithm>
#include <array>

namespace peerup::protocols::dcutr {

namespace proto = multiaddr_protocols;

namespace {

addr_scope scope_of_ip4(const bytes& v) {
  const std::uint8_t a = v[0], b = v[1];
  if (a == 0 || a >= 224) return addr_scope::unusable;  // this network, multicast, reserved
  if (a == 127) return addr_scope::loopback;
  if (a == 10 || (a == 172 && (b & 0xf0) == 16) || (a == 192 && b == 168) ||
      (a == 100 && (b & 0xc0) == 64) || (a == 169 && b == 254))
    return addr_scope::private_net;
  return addr_scope::public_net;
}

addr_scope scope_of_ip6(const bytes& v) {
  static constexpr std::array<std::uint8_t, 12> v4_mapped{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  if (std::equal(v4_mapped.begin(), v4_mapped.end(), v.begin()))
    return scope_of_ip4(bytes(v.begin() + 12, v.end()));
  const bool zero_prefix = std::all_of(v.begin(), v.begin() + 15, [](auto x) { return x == 0; });
  if (zero_prefix && v[15] == 0) return addr_scope::unusable;  // ::
  if (zero_prefix && v[15] == 1) return addr_scope::loopback;  // ::1
  if (v[0] == 0xff) return addr_scope::unusable;               // multicast
  // Link-local needs a zone we cannot carry to the peer.
  if (v[0] == 0xfe && (v[1] & 0xc0) == 0x80) return addr_scope::unusable;
  if ((v[0] & 0xfe) == 0xfc) return addr_scope::private_net;  // ULA fc00::/7
  return addr_scope::public_net;
}

}  // namespace

addr_scope scope_of(const multiaddr& a) {
  const auto& c = a.components();
  if (c.size() < 2) return addr_scope::unusable;
  // TCP, or QUIC (/udp/<port>/quic-v1), with an optional trailing /p2p.
  std::size_t end = 2;
  if (c[1].code == proto::code::udp) {
    if (c.size() < 3 || c[2].code != proto::code::quic_v1) return addr_scope::unusable;
    end = 3;
  } else if (c[1].code != proto::code::tcp) {
    return addr_scope::unusable;
  }
  if (c.size() > end + 1 || (c.size() == end + 1 && c[end].code != proto::code::p2p))
    return addr_scope::unusable;
  if (c[1].value.size() != 2 || (c[1].value[0] == 0 && c[1].value[1] == 0))
    return addr_scope::unusable;
  switch (c[0].code) {
    case proto::code::ip4: return scope_of_ip4(c[0].value);
    case proto::code::ip6: return scope_of_ip6(c[0].value);
    case proto::code::dns:
    case proto::code::dns4:
    // QUIC dials IP addresses only (net::to_udp_endpoint).
    case proto::code::dns6: return end == 3 ? addr_scope::unusable : addr_scope::dns;
    default: return addr_scope::unusable;
  }
}

bool addr_policy::allows(addr_scope s) const {
  switch (s) {
    case addr_scope::public_net:
    case addr_scope::dns: return true;
    case addr_scope::private_net: return allow_private;
    case addr_scope::loopback: return allow_loopback;
    case addr_scope::unusable: return false;
  }
  return false;
}

std::vector<multiaddr> usable_addrs(const std::vector<multiaddr>& in, const addr_policy& p,
                                    const std::optional<peer_id>& remote) {
  std::vector<multiaddr> out;
  for (const auto& a : in) {
    if (out.size() >= max_dial_addrs) break;
    if (a.is_relayed() || !p.allows(scope_of(a))) continue;
    if (auto id = a.peer(); id && remote && *id != *remote) continue;
    auto bare = a.without_peer();
    if (std::find(out.begin(), out.end(), bare) == out.end()) out.push_back(std::move(bare));
  }
  return out;
}

// --- initiator (B) ---

initiator::initiator(const std::vector<multiaddr>& our_addrs, addr_policy policy, peer_id remote)
    : ours_(usable_addrs(our_addrs, policy)), policy_(policy), remote_(std::move(remote)) {}

std::vector<action> initiator::start(clock::time_point now) {
  if (state_ != state::idle) return {};
  if (ours_.empty()) {
    state_ = state::done;
    return {{.what = action::kind::failed, .error = make_error_code(errc::holepunch_no_addresses)}};
  }
  return begin_round(now);
}

std::vector<action> initiator::begin_round(clock::time_point now) {
  ++round_;
  state_ = state::awaiting_connect;
  sent_at_ = now;
  return {{.what = action::kind::open_stream},
          {.what = action::kind::send, .message = wire::hole_punch_message::connect(ours_)},
          {.what = action::kind::receive}};
}

std::vector<action> initiator::fail_round(boost::system::error_code ec, clock::time_point now) {
  last_error_ = ec;
  if (round_ >= max_rounds) {
    state_ = state::done;
    return {{.what = action::kind::failed, .error = ec}};
  }
  return begin_round(now);
}

std::vector<action> initiator::on_message(const wire::hole_punch_message& m,
                                          clock::time_point now) {
  if (state_ != state::awaiting_connect) {
    state_ = state::done;
    return {{.what = action::kind::failed, .error = make_error_code(errc::holepunch_protocol)}};
  }
  // A message without a type would read as CONNECT in go-libp2p (the proto2
  // default); we insist on the type the protocol step expects.
  if (m.type != wire::hole_punch_type::connect) {
    state_ = state::done;
    return {{.what = action::kind::failed, .error = make_error_code(errc::holepunch_protocol)}};
  }
  auto theirs = usable_addrs(m.obs_multiaddrs(), policy_, remote_);
  if (theirs.empty()) {
    // A has nothing we could dial; more rounds would not change that.
    state_ = state::done;
    return {{.what = action::kind::failed, .error = make_error_code(errc::holepunch_no_addresses)}};
  }
  rtt_ = now - sent_at_;
  state_ = state::dialing;
  return {{.what = action::kind::send, .message = wire::hole_punch_message::sync()},
          {.what = action::kind::dial, .addrs = std::move(theirs), .delay = *rtt_ / 2}};
}

std::vector<action> initiator::on_dial_result(bool direct, clock::time_point now) {
  if (state_ != state::dialing) return {};
  if (direct) {
    state_ = state::done;
    return {{.what = action::kind::succeeded}};
  }
  return fail_round(make_error_code(errc::holepunch_failed), now);
}

std::vector<action> initiator::on_stream_error(boost::system::error_code ec,
                                               clock::time_point now) {
  if (state_ == state::done || state_ == state::idle) return {};
  return fail_round(ec, now);
}

// --- responder (A) ---

responder::responder(const std::vector<multiaddr>& our_addrs, addr_policy policy, peer_id remote)
    : ours_(usable_addrs(our_addrs, policy)), policy_(policy), remote_(std::move(remote)) {}

std::vector<action> responder::fail(errc e) {
  state_ = state::done;
  return {{.what = action::kind::failed, .error = make_error_code(e)}};
}

std::vector<action> responder::on_message(const wire::hole_punch_message& m, clock::time_point) {
  switch (state_) {
    case state::awaiting_connect: {
      if (m.type != wire::hole_punch_type::connect) return fail(errc::holepunch_protocol);
      // SECURITY: a peer cannot keep us dialing by restarting forever.
      if (round_ >= max_rounds) return fail(errc::holepunch_protocol);
      if (ours_.empty()) return fail(errc::holepunch_no_addresses);
      theirs_ = usable_addrs(m.obs_multiaddrs(), policy_, remote_);
      if (theirs_.empty()) return fail(errc::holepunch_no_addresses);
      ++round_;
      state_ = state::awaiting_sync;
      return {{.what = action::kind::send, .message = wire::hole_punch_message::connect(ours_)},
              {.what = action::kind::receive}};
    }
    case state::awaiting_sync:
      if (m.type != wire::hole_punch_type::sync) return fail(errc::holepunch_protocol);
      state_ = state::dialing;
      return {{.what = action::kind::dial, .addrs = theirs_, .delay = clock::duration::zero()}};
    case state::dialing:
    case state::done: return fail(errc::holepunch_protocol);
  }
  return fail(errc::holepunch_protocol);
}

std::vector<action> responder::on_dial_result(bool direct, clock::time_point) {
  if (state_ != state::dialing) return {};
  if (direct) {
    state_ = state::done;
    return {{.what = action::kind::succeeded}};
  }
  // B decides whether to retry; wait for its next CONNECT.
  state_ = state::awaiting_connect;
  return {{.what = action::kind::receive}};
}

std::vector<action> responder::on_stream_error(boost::system::error_code ec, clock::time_point) {
  if (state_ == state::done) return {};
  state_ = state::done;
  if (round_ > 0) ec = make_error_code(errc::holepunch_failed);
  return {{.what = action::kind::failed, .error = ec}};
}

}  // namespace peerup::protocols::dcutr
