// The pairing protocol, /peerup/pair/1.0.0: a new device proves it holds an
// invite code and the home node adds it, in one stream over a Noise
// connection (normally relayed). Sans-I/O: messages in, messages and events
// out; the caller frames each message with an unsigned-varint length
// (wire/length_prefixed) and keeps the invite record (expiry, failures, use).
//
// Why the PAKE when Noise already authenticates both ends: Noise proves the
// peer IDs, not that the device is the one the user invited. CPace proves
// that both ends know the invite secret without showing it to anyone who
// does not, so a wrong guess costs an online attempt and nothing offline.
//
// Steps (device = CPace initiator A, home = responder B):
//   1. device -> home  HELLO   {invite id, sid (16 random bytes), Ya, ADa = device name}
//   2. home: find the invite by id; refuse with ERROR{expired|used|locked|
//      wrong_code (unknown id)}; else count the attempt as a failure until
//      step 4 proves otherwise, run CPace (PRS = invite password, CI =
//      lv_cat(device peer ID, home peer ID) from Noise, sid), and answer
//            home -> device  REPLY {Yb, Tb}
//   3. device: check Tb; a wrong tag means a wrong code (or a different home).
//            device -> home  CONFIRM {Ta}
//   4. home: check Ta; a wrong tag -> ERROR{wrong_code} (the attempt stays
//      counted; at max_failures the invite locks). A right tag -> the invite
//      is used, the failure is taken back, and
//            home -> device  WELCOME {relay address with /p2p, home name, services}
//      The caller then adds the device to authorized_keys.
//   5. device: adds the relay and a name for home. Both print the
//      verification string derived from ISK.
// Binding the Noise peer IDs into CI means the tags also confirm who is at
// each end: a party that relays CPace messages between two Noise sessions
// gets different keys on each side (draft-irtf-cfrg-cpace, "Party identifiers").
//
// SECURITY: every message is at most max_message_bytes; names are at most
// max_name_bytes of printable ASCII; at most max_services services; every
// length is checked before it is read; a message out of order is
// errc::pairing_protocol.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "common/bytes.hpp"
#include "common/error.hpp"
#include "crypto/cpace.hpp"
#include "multiformats/multiaddr.hpp"
#include "multiformats/peer_id.hpp"
#include "wire/invite.hpp"

namespace peerup::pairing {

inline constexpr std::string_view protocol_id = "/peerup/pair/1.0.0";
inline constexpr std::size_t max_message_bytes = 2048;
inline constexpr std::size_t sid_bytes = 16;
inline constexpr std::size_t max_name_bytes = 64;
inline constexpr std::size_t max_services = 32;
inline constexpr unsigned default_max_failures = 5;

enum class refusal : std::uint8_t {
  expired = 1,     // the invite's expiry passed
  wrong_code = 2,  // unknown invite ID, or the PAKE tags did not match
  locked = 3,      // too many wrong codes
  used = 4,        // the invite was used already
};

struct hello {
  std::array<std::uint8_t, invite::id_bytes> invite_id{};
  std::array<std::uint8_t, sid_bytes> sid{};
  cpace::point share{};
  std::string device_name;
  friend bool operator==(const hello&, const hello&) = default;
};
struct reply {
  cpace::point share{};
  cpace::tag tag{};
  friend bool operator==(const reply&, const reply&) = default;
};
struct confirm {
  cpace::tag tag{};
  friend bool operator==(const confirm&, const confirm&) = default;
};
struct welcome {
  multiaddr relay;  // with /p2p/<relay>
  std::string home_name;
  std::vector<std::string> services;
  friend bool operator==(const welcome&, const welcome&) = default;
};
struct error_msg {
  refusal why = refusal::wrong_code;
  friend bool operator==(const error_msg&, const error_msg&) = default;
};
using message = std::variant<hello, reply, confirm, welcome, error_msg>;

// One message body (no length prefix). encode() of a message whose fields
// are over their bounds returns errc::invalid_argument.
result<bytes> encode(const message& m);
// errc::pairing_protocol on anything malformed or over a bound.
result<message> decode(byte_span in);

// A name is 1..max_name_bytes of printable ASCII without spaces at the ends.
bool valid_name(std::string_view name);
// The errc a refusal becomes on the device.
errc to_errc(refusal r);
std::string_view describe(refusal r);

// CI = lv_cat(device peer ID bytes, home peer ID bytes): initiator first.
bytes channel_id(const peer_id& device, const peer_id& home);
// Three groups of four digits from SHA-512("peerup-pair-verify" || ISK),
// for users to compare on both screens ("1234 5678 9012").
std::string verification_string(const cpace::isk& key);

// What the home node keeps per invite (the caller persists it).
struct invite_record {
  invite::invite_data data;
  std::int64_t expires_unix = 0;  // seconds since the epoch
  std::string device_name;        // comment for authorized_keys, name suggested for the device
  std::vector<std::string> services;
  unsigned failures = 0;
  unsigned max_failures = default_max_failures;
  bool used = false;
  // Filled in by the caller after a pairing, so `peerup invite` can report it.
  std::string paired_peer;
  std::string verification;
};

// What pairing produced, on either side.
struct paired {
  peer_id peer;  // the other side
  std::string verification;
  std::string name;  // home: the device's name; device: the name for home
  std::vector<std::string> services;
  multiaddr relay;  // device: the relay to add (with /p2p)
};

// The home side of one pairing stream.
class home_session {
public:
  // `device` and `home` are the Noise-authenticated peer IDs of the stream.
  home_session(peer_id home, peer_id device, multiaddr relay_with_peer, std::string home_name);

  // Step 2. `find` returns the invite record for an ID, or null. Returns the
  // message to send (REPLY or ERROR). An ERROR ends the stream.
  template <class Find>
  result<message> on_hello(const hello& h, Find&& find, std::int64_t now_unix) {
    return on_hello_impl(h, find(h.invite_id), now_unix);
  }
  // Step 4. Returns WELCOME (and pairing_result() is set) or ERROR.
  result<message> on_confirm(const confirm& c);

  const std::optional<paired>& pairing_result() const { return result_; }

private:
  result<message> on_hello_impl(const hello& h, invite_record* rec, std::int64_t now_unix);
  peer_id home_;
  peer_id device_;
  multiaddr relay_;
  std::string home_name_;
  invite_record* record_ = nullptr;  // valid between on_hello and on_confirm (caller-owned)
  std::optional<cpace::session> pake_;
  std::optional<paired> result_;
  enum class state { want_hello, want_confirm, done } state_ = state::want_hello;
};

// The device side.
class device_session {
public:
  // Step 1: builds HELLO. Fails if `device_name` is not a valid name.
  static result<device_session> start(const invite::invite_data& inv, peer_id device,
                                      std::string device_name);
  const hello& first_message() const { return hello_; }

  // Steps 3 and 5. On REPLY returns CONFIRM to send; on WELCOME returns
  // std::nullopt and pairing_result() is set. An ERROR from home becomes its
  // errc (invite_expired, invite_wrong_code, invite_locked, invite_used).
  result<std::optional<message>> on_message(const message& m);

  const std::optional<paired>& pairing_result() const { return result_; }

private:
  device_session(invite::invite_data inv, peer_id device, hello h, cpace::session pake)
      : invite_(std::move(inv)), device_(std::move(device)), hello_(std::move(h)),
        pake_(std::move(pake)) {}
  invite::invite_data invite_;
  peer_id device_;
  hello hello_;
  std::optional<cpace::session> pake_;
  std::string verification_;
  std::optional<paired> result_;
  enum class state { want_reply, want_welcome, done } state_ = state::want_reply;
};

}  // namespace peerup::pairing
