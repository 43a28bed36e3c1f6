// Invite codes and links; see invite.hpp for the format.
#include "wire/invite.hpp"

#include <algorithm>

#include "crypto/keys.hpp"
#include "crypto/sealed.hpp"
#include "multiformats/base32.hpp"
#include "multiformats/multihash.hpp"

namespace peerup::invite {
namespace {

constexpr std::size_t check_bytes = 2;
constexpr std::size_t key_bytes = 32;
constexpr std::size_t fixed_bytes = 1 + id_bytes + secret_bytes + key_bytes + 1 + check_bytes;
constexpr std::size_t pass_bytes = id_bytes + secret_bytes;
constexpr std::size_t short_fixed_bytes = 1 + short_secret_bytes + 1 + check_bytes;
constexpr std::string_view seal_context = "peerup-invite-seal-v1";
constexpr std::string_view handle_context = "peerup-invite-handle-v1";

// Multiaddr protocol codes of the accepted relay forms.
constexpr std::uint64_t code_ip4 = 0x04, code_tcp = 0x06, code_ip6 = 0x29, code_dns = 0x35,
                        code_dns4 = 0x36, code_dns6 = 0x37;

result<invite_data> fail(std::string* why, std::string text) {
  if (why) *why = std::move(text);
  return make_error_code(errc::invite_invalid);
}

// Empty when `relay` is one host then tcp, else what is wrong.
std::string check_relay(const multiaddr& relay) {
  const auto& c = relay.components();
  if (c.size() != 2) return "relay address must be /ip4|ip6|dns|dns4|dns6/<host>/tcp/<port>";
  const auto host = c[0].code;
  if (host != code_ip4 && host != code_ip6 && host != code_dns && host != code_dns4 &&
      host != code_dns6) {
    return "relay address must start with /ip4, /ip6, /dns, /dns4 or /dns6";
  }
  if (c[1].code != code_tcp) return "relay address must end with /tcp/<port>";
  return {};
}

std::string grouped(const std::string& plain) {
  std::string out;
  for (std::size_t i = 0; i < plain.size(); ++i) {
    if (i != 0 && i % 5 == 0) out.push_back('-');
    out.push_back(plain[i]);
  }
  return out;
}

// The bytes of a code or link text, or what is wrong with the text.
result<bytes> text_to_binary(std::string_view text, std::string* why);

result<short_code> decode_short_binary(byte_span in, std::string* why) {
  auto bad = [why](std::string t) -> result<short_code> {
    if (why) *why = std::move(t);
    return make_error_code(errc::invite_invalid);
  };
  // SECURITY: fixed part and relay length checked before reading.
  if (in.size() < short_fixed_bytes) return bad("invite is too short (a character missing?)");
  if (in.size() > short_fixed_bytes + max_relay_bytes) return bad("invite is too long");
  const auto body = in.first(in.size() - check_bytes);
  const auto digest = sha256_digest(body);
  if (!std::equal(digest.begin(), digest.begin() + check_bytes, in.end() - check_bytes))
    return bad("invite check failed: a typo in the code?");
  short_code out;
  std::copy_n(in.begin() + 1, short_secret_bytes, out.secret.begin());
  std::size_t pos = 1 + short_secret_bytes;
  const std::size_t relay_len = in[pos++];
  if (relay_len != body.size() - pos)
    return bad("invite relay address length does not match the invite");
  auto relay = multiaddr::from_bytes(in.subspan(pos, relay_len));
  if (!relay) return bad("invite relay address is malformed");
  if (auto wrong = check_relay(*relay); !wrong.empty()) return bad("invite " + wrong);
  out.relay = std::move(*relay);
  return out;
}

}  // namespace

result<bytes> encode_binary(const invite_data& inv, std::string* why) {
  auto key = public_key::from_peer_id(inv.home);
  if (!key || key->type() != key_type::ed25519 || key->raw().size() != key_bytes) {
    if (why) *why = "home peer ID " + inv.home.to_string() + " is not an Ed25519 key";
    return make_error_code(errc::invalid_argument);
  }
  if (auto bad = check_relay(inv.relay); !bad.empty()) {
    if (why) *why = bad + ", got " + inv.relay.to_string();
    return make_error_code(errc::invalid_argument);
  }
  const bytes& relay = inv.relay.to_bytes();
  if (relay.size() > max_relay_bytes) {
    if (why) *why = "relay address is over " + std::to_string(max_relay_bytes) + " bytes";
    return make_error_code(errc::invalid_argument);
  }
  bytes out;
  out.reserve(fixed_bytes + relay.size() + pass_bytes);
  out.push_back(inv.pass ? version_with_relay_pass : version);
  append(out, inv.id);
  append(out, inv.secret);
  append(out, key->raw());
  out.push_back(static_cast<std::uint8_t>(relay.size()));
  append(out, relay);
  if (inv.pass) {
    append(out, inv.pass->id);
    append(out, inv.pass->secret);
  }
  const auto digest = sha256_digest(out);
  out.insert(out.end(), digest.begin(), digest.begin() + check_bytes);
  return out;
}

result<std::string> encode_code(const invite_data& inv, std::string* why) {
  auto bin = encode_binary(inv, why);
  if (!bin) return bin.error();
  return grouped(base32::encode(*bin));
}

result<std::string> encode_link(const invite_data& inv, std::string* why) {
  auto bin = encode_binary(inv, why);
  if (!bin) return bin.error();
  return std::string(link_prefix) + base32::encode(*bin);
}

result<invite_data> decode_binary(byte_span in, std::string* why) {
  // SECURITY: the fixed part and the relay length are checked before any
  // field is read; the relay address is parsed by the bounded multiaddr codec.
  if (in.size() < fixed_bytes) return fail(why, "invite is too short (a character missing?)");
  if (in.size() > fixed_bytes + max_relay_bytes + pass_bytes)
    return fail(why, "invite is too long");
  const auto body = in.first(in.size() - check_bytes);
  const auto digest = sha256_digest(body);
  if (!std::equal(digest.begin(), digest.begin() + check_bytes, in.end() - check_bytes)) {
    return fail(why, "invite check failed: a typo in the code?");
  }
  if (in[0] != version && in[0] != version_with_relay_pass) {
    return fail(why, "invite version " + std::to_string(in[0]) + " is not supported (expected " +
                         std::to_string(version) + " or " +
                         std::to_string(version_with_relay_pass) + "): update peerup");
  }
  const std::size_t tail = in[0] == version_with_relay_pass ? pass_bytes : 0;
  std::array<std::uint8_t, id_bytes> id{};
  std::array<std::uint8_t, secret_bytes> secret{};
  std::size_t pos = 1;
  std::copy_n(in.begin() + pos, id_bytes, id.begin());
  pos += id_bytes;
  std::copy_n(in.begin() + pos, secret_bytes, secret.begin());
  pos += secret_bytes;
  auto key = public_key::from_raw(key_type::ed25519, in.subspan(pos, key_bytes));
  if (!key) return fail(why, "invite carries an invalid home key");
  pos += key_bytes;
  const std::size_t relay_len = in[pos++];
  if (body.size() < pos + tail || relay_len != body.size() - pos - tail) {
    return fail(why, "invite relay address length " + std::to_string(relay_len) +
                         " does not match the invite");
  }
  auto relay = multiaddr::from_bytes(in.subspan(pos, relay_len));
  if (!relay) return fail(why, "invite relay address is malformed");
  if (auto bad = check_relay(*relay); !bad.empty()) return fail(why, "invite " + bad);
  pos += relay_len;
  std::optional<relay_pass> pass;
  if (tail != 0) {
    pass.emplace();
    std::copy_n(in.begin() + pos, id_bytes, pass->id.begin());
    std::copy_n(in.begin() + pos + id_bytes, secret_bytes, pass->secret.begin());
  }
  return invite_data{id, secret, key->to_peer_id(), std::move(*relay), pass};
}

namespace {

result<bytes> text_to_binary(std::string_view text, std::string* why) {
  auto fail = [why](std::string t) -> result<bytes> {
    if (why) *why = std::move(t);
    return make_error_code(errc::invite_invalid);
  };
  // SECURITY: bound the text before copying or decoding it.
  if (text.size() > max_text_length) {
    return fail("invite is " + std::to_string(text.size()) + " characters, at most " +
                std::to_string(max_text_length) + " expected");
  }
  auto lower = [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; };
  std::string_view rest = text;
  while (!rest.empty() && (rest.front() == ' ' || rest.front() == '\t')) rest.remove_prefix(1);
  while (!rest.empty() && (rest.back() == ' ' || rest.back() == '\t' || rest.back() == '\n' ||
                           rest.back() == '\r')) {
    rest.remove_suffix(1);
  }
  if (rest.size() >= link_prefix.size() &&
      std::equal(link_prefix.begin(), link_prefix.end(), rest.begin(),
                 [&](char a, char b) { return a == lower(b); })) {
    rest.remove_prefix(link_prefix.size());
  } else if (rest.find("://") != std::string_view::npos) {
    return fail("a link must start with " + std::string(link_prefix));
  }
  std::string clean;
  clean.reserve(rest.size());
  for (std::size_t i = 0; i < rest.size(); ++i) {
    char c = lower(rest[i]);
    if (c == '-' || c == ' ') continue;
    if (c == '0') c = 'o';
    if (c == '1') c = 'l';
    if (c == '8') c = 'b';
    if (!((c >= 'a' && c <= 'z') || (c >= '2' && c <= '7'))) {
      return fail("invite has a character that is not in a code at position " +
                           std::to_string(i + 1) + " (letters a-z and digits 2-7 only)");
    }
    clean.push_back(c);
  }
  if (clean.empty()) return fail("invite is empty");
  auto bin = base32::decode(clean);
  if (!bin) return fail("invite has the wrong number of characters (one missing or extra?)");
  return std::move(*bin);
}

}  // namespace

result<invite_data> decode(std::string_view text, std::string* why) {
  auto bin = text_to_binary(text, why);
  if (!bin) return bin.error();
  if (!bin->empty() && (*bin)[0] == version_short)
    return fail(why, "this is a short code: the relay holds the rest (peerup join reads both)");
  return decode_binary(*bin, why);
}

result<std::variant<invite_data, short_code>> decode_any(std::string_view text, std::string* why) {
  auto bin = text_to_binary(text, why);
  if (!bin) return bin.error();
  if (!bin->empty() && (*bin)[0] == version_short) {
    auto c = decode_short_binary(*bin, why);
    if (!c) return c.error();
    return std::variant<invite_data, short_code>{std::move(*c)};
  }
  auto inv = decode_binary(*bin, why);
  if (!inv) return inv.error();
  return std::variant<invite_data, short_code>{std::move(*inv)};
}

result<std::string> encode_short_code(const short_code& c, std::string* why) {
  if (auto bad = check_relay(c.relay); !bad.empty()) {
    if (why) *why = bad + ", got " + c.relay.to_string();
    return make_error_code(errc::invalid_argument);
  }
  const bytes& relay = c.relay.to_bytes();
  if (relay.size() > max_relay_bytes) {
    if (why) *why = "relay address is over " + std::to_string(max_relay_bytes) + " bytes";
    return make_error_code(errc::invalid_argument);
  }
  bytes out;
  out.push_back(version_short);
  append(out, c.secret);
  out.push_back(static_cast<std::uint8_t>(relay.size()));
  append(out, relay);
  const auto digest = sha256_digest(out);
  out.insert(out.end(), digest.begin(), digest.begin() + check_bytes);
  return grouped(base32::encode(out));
}

rendezvous_handle handle_of(const short_code& c) {
  return crypto::derive_handle(c.secret, handle_context);
}

bytes seal(const invite_data& inv, const short_code& c) {
  auto plain = encode_binary(inv);
  if (!plain) return {};  // the caller built `inv` from its own config: checked there
  return crypto::seal_once(c.secret, seal_context, *plain);
}

result<invite_data> open_sealed(byte_span box, const short_code& c, std::string* why) {
  // SECURITY: bounded before decrypting; what is inside is checked as any code.
  if (box.size() > max_sealed_bytes) return fail(why, "the relay's invite is too long");
  auto plain = crypto::open_once(c.secret, seal_context, box);
  if (!plain) return fail(why, "the relay's invite does not open with this code");
  auto inv = decode_binary(*plain, why);
  if (!inv) return inv.error();
  // The box must name the relay the code names: the device dialled that one.
  if (inv->relay != c.relay) return fail(why, "the relay's invite names another relay");
  return inv;
}

bytes password(const invite_data& inv) {
  bytes out;
  append(out, as_bytes("peerup-invite-v1"));
  append(out, inv.id);
  append(out, inv.secret);
  return out;
}

invite_data relay_invite_of(const invite_data& inv, const peer_id& relay) {
  invite_data out{{}, {}, relay, inv.relay, std::nullopt};
  if (inv.pass) {
    out.id = inv.pass->id;
    out.secret = inv.pass->secret;
  }
  return out;
}

}  // namespace peerup::invite
