// Invite codes and links for pairing a device with a home node (peerup
// invite / peerup join).
//
// An invite carries what the new device needs to reach the home node and run
// the PAKE, and nothing the home node must keep secret after use:
//   - the home node's Ed25519 public key (its peer ID), so the device dials
//     <relay>/p2p-circuit/p2p/<home> and Noise authenticates home;
//   - the relay's transport address (/ip4|ip6|dns|dns4|dns6/.../tcp/<port>,
//     without /p2p: the device learns the relay's peer ID from Noise and the
//     home node confirms it inside the paired channel);
//   - a 2-byte invite ID that picks the pending invite on the home node;
//   - a 6-byte secret, the CPace password. 48 bits are plenty for a PAKE
//     whose every guess is an online attempt and whose invite locks after a
//     few failures (wire/pairing.hpp); the code stays short enough to type.
//
// Binary form, version 1:
//   u8 version (1) | u8[2] id | u8[6] secret | u8[32] home Ed25519 key |
//   u8 L | u8[L] relay multiaddr (binary) | u8[2] check
// Version 2 (an invite with relay rights) adds, before the check, the relay's
// own invite for the device (wire/relay_invite.hpp): u8[2] relay invite id |
// u8[6] relay secret. The device pairs with the relay with it first, and is
// then authorized there. An invite whose home key is the relay's own (made by
// `peerup relay invite`) is version 1: the device pairs with the relay only.
// where check is the first two bytes of SHA-256 over everything before it,
// so a typo reads "typo in the code" instead of a failed PAKE that counts
// against the invite.
//
// Text forms (RFC 4648 base32 of the binary form, lower case, no padding):
//   code: groups of 5 characters joined by '-', e.g. "aeaqc-...";
//   link: "peerup://join/" followed by the same characters without dashes.
// decode() accepts both, ignores dashes, spaces and case, and reads the
// digits 0/1/8 as the letters o/l/b they are mistaken for.
//
// Short codes (version 3), for typing on a phone: 34 characters instead of
// 84. The relay holds the full invite for the code, sealed so it can neither
// read nor change it (crypto/sealed.hpp), under a handle derived from the
// code's secret (wire/rendezvous.hpp):
//   u8 version (3) | u8[10] secret | u8 L | u8[L] relay multiaddr | u8[2] check
// The device dials the relay, asks for the box by handle, opens it with the
// secret, and goes on as with a full code. The 80-bit secret is both the
// sealing key (an offline search costs 2^80) and the lookup: a stranger
// without it finds nothing. Home's PAKE secret inside the box is unchanged,
// so a wrong guess at home still counts against the invite.
//
// SECURITY: the text is bounded (max_text_length) before it is decoded, every
// length inside is checked, and the relay address must be one TCP host:port.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

#include "common/bytes.hpp"
#include "common/error.hpp"
#include "multiformats/multiaddr.hpp"
#include "multiformats/peer_id.hpp"

namespace peerup::invite {

inline constexpr std::uint8_t version = 1;
inline constexpr std::uint8_t version_with_relay_pass = 2;
inline constexpr std::uint8_t version_short = 3;
inline constexpr std::size_t short_secret_bytes = 10;
inline constexpr std::size_t id_bytes = 2;
inline constexpr std::size_t secret_bytes = 6;
inline constexpr std::size_t max_relay_bytes = 128;
inline constexpr std::size_t max_text_length = 512;
inline constexpr std::string_view link_prefix = "peerup://join/";

// The relay's invite for the device, inside a home invite with relay rights.
struct relay_pass {
  std::array<std::uint8_t, id_bytes> id{};
  std::array<std::uint8_t, secret_bytes> secret{};
  friend bool operator==(const relay_pass&, const relay_pass&) = default;
};

struct invite_data {
  std::array<std::uint8_t, id_bytes> id{};
  std::array<std::uint8_t, secret_bytes> secret{};
  peer_id home;                    // an Ed25519 peer ID (no default: build with aggregate init)
  multiaddr relay;                 // transport address of the relay, no /p2p
  std::optional<relay_pass> pass;  // version 2: relay rights for the device

  friend bool operator==(const invite_data&, const invite_data&) = default;
};

// The binary form. Fails with errc::invalid_argument when `home` is not an
// Ed25519 peer ID or `relay` is not a TCP host:port address (the caller's
// config is wrong; the message says which).
result<bytes> encode_binary(const invite_data& inv, std::string* why = nullptr);
// Text forms of encode_binary.
result<std::string> encode_code(const invite_data& inv, std::string* why = nullptr);
result<std::string> encode_link(const invite_data& inv, std::string* why = nullptr);

// Parses a code or a link. errc::invite_invalid with `why` set to what was
// wrong: too long, a character that is not base32, a wrong length, an unknown
// version, a failed check (a typo), a bad key or relay address.
result<invite_data> decode(std::string_view text, std::string* why = nullptr);
result<invite_data> decode_binary(byte_span in, std::string* why = nullptr);

// A short code: what the relay's box opens with, and where the relay is.
struct short_code {
  std::array<std::uint8_t, short_secret_bytes> secret{};
  multiaddr relay;  // transport address of the relay, no /p2p
  friend bool operator==(const short_code&, const short_code&) = default;
};
using rendezvous_handle = std::array<std::uint8_t, 8>;

// The text form of a short code (groups of 5, as encode_code); fails with
// errc::invalid_argument when the relay is not a TCP host:port.
result<std::string> encode_short_code(const short_code& c, std::string* why = nullptr);
// Parses a full code, a link or a short code; errc::invite_invalid as decode().
result<std::variant<invite_data, short_code>> decode_any(std::string_view text,
                                                         std::string* why = nullptr);
// The handle the relay files the box under (not the key: see crypto/sealed).
rendezvous_handle handle_of(const short_code& c);
// The full invite sealed for the relay, and opened again by the device.
// open_sealed fails with errc::invite_invalid (`why` says: the box does not
// open with this code, or what is wrong inside it).
bytes seal(const invite_data& inv, const short_code& c);
result<invite_data> open_sealed(byte_span box, const short_code& c, std::string* why = nullptr);
// A sealed box is at most this long (a full invite with relay rights and the
// longest relay address, plus the AEAD tag).
inline constexpr std::size_t max_sealed_bytes = 256;

// The CPace password input (PRS) and the invite ID as bytes, as both sides
// feed them to the PAKE.
bytes password(const invite_data& inv);
// The invite the device runs with the relay (its pass, the relay's peer ID
// as learnt from Noise, the same relay address).
invite_data relay_invite_of(const invite_data& inv, const peer_id& relay);

}  // namespace peerup::invite
