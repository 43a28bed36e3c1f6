// The pairing parsers: invite::decode on arbitrary text (a typed code or a
// link), invite::decode_binary on arbitrary bytes, and pairing::decode on an
// arbitrary message body, relay_invite::decode_request/_response on
// arbitrary bytes, invite::decode_any on text (short codes too) and
// rendezvous::decode_request/_response (the first byte selects). A decoded invite must
// encode back to a code and a link that decode to the same invite; a decoded
// pairing message must re-encode to the same bytes.
#include "crypto/keys.hpp"
#include "fuzz_common.hpp"
#include "wire/invite.hpp"
#include "wire/pairing.hpp"
#include "wire/relay_invite.hpp"
#include "wire/rendezvous.hpp"

using namespace peerup;

namespace {

void check_invite(const invite::invite_data& inv) {
  auto code = invite::encode_code(inv);
  auto link = invite::encode_link(inv);
  FUZZ_CHECK(code.has_value() && link.has_value());
  auto from_code = invite::decode(*code);
  auto from_link = invite::decode(*link);
  FUZZ_CHECK(from_code.has_value() && *from_code == inv);
  FUZZ_CHECK(from_link.has_value() && *from_link == inv);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  fuzz::input in(data, size);
  const std::uint8_t mode = in.u8() % 8;
  const byte_span rest = in.rest();
  if (mode == 0) {
    std::string why;
    auto inv = invite::decode(as_string_view(rest), &why);
    if (!inv) {
      FUZZ_CHECK(inv.error() == errc::invite_invalid && !why.empty());
      return 0;
    }
    check_invite(*inv);
  } else if (mode == 1) {
    auto inv = invite::decode_binary(rest);
    if (!inv) {
      FUZZ_CHECK(inv.error() == errc::invite_invalid);
      return 0;
    }
    auto again = invite::encode_binary(*inv);
    FUZZ_CHECK(again.has_value() && *again == bytes(rest.begin(), rest.end()));
    check_invite(*inv);
  } else if (mode == 3) {
    auto req = relay_invite::decode_request(rest);
    if (!req) {
      FUZZ_CHECK(req.error() == errc::relay_invite_protocol);
      return 0;
    }
    auto again = relay_invite::encode(*req);
    FUZZ_CHECK(again.has_value());
    FUZZ_CHECK(relay_invite::decode_request(*again).value() == *req);
  } else if (mode == 4) {
    auto res = relay_invite::decode_response(rest);
    if (!res) {
      FUZZ_CHECK(res.error() == errc::relay_invite_protocol);
      return 0;
    }
    auto again = relay_invite::encode(*res);
    FUZZ_CHECK(again.has_value());
    FUZZ_CHECK(relay_invite::decode_response(*again).value() == *res);
  } else if (mode == 5) {
    std::string why;
    auto any = invite::decode_any(as_string_view(rest), &why);
    if (!any) {
      FUZZ_CHECK(any.error() == errc::invite_invalid && !why.empty());
      return 0;
    }
    if (const auto* c = std::get_if<invite::short_code>(&*any)) {
      auto text = invite::encode_short_code(*c);
      FUZZ_CHECK(text.has_value());
      auto back = invite::decode_any(*text);
      FUZZ_CHECK(back.has_value() && std::get<invite::short_code>(*back) == *c);
      // A box sealed for it opens with it.
      const invite::invite_data inv{{1, 2}, {3, 4, 5, 6, 7, 8},
                                    private_key::from_seed(bytes(32, 1)).value().to_peer_id(),
                                    c->relay};
      auto opened = invite::open_sealed(invite::seal(inv, *c), *c);
      FUZZ_CHECK(opened.has_value() && *opened == inv);
    } else {
      check_invite(std::get<invite::invite_data>(*any));
    }
  } else if (mode == 6) {
    auto req = rendezvous::decode_request(rest);
    if (!req) {
      FUZZ_CHECK(req.error() == errc::rendezvous_protocol);
      return 0;
    }
    auto again = rendezvous::encode(*req);
    FUZZ_CHECK(again.has_value());
    FUZZ_CHECK(rendezvous::decode_request(*again).value() == *req);
  } else if (mode == 7) {
    auto res = rendezvous::decode_response(rest);
    if (!res) {
      FUZZ_CHECK(res.error() == errc::rendezvous_protocol);
      return 0;
    }
    auto again = rendezvous::encode(*res);
    FUZZ_CHECK(again.has_value());
    FUZZ_CHECK(rendezvous::decode_response(*again).value() == *res);
  } else {
    auto msg = pairing::decode(rest);
    if (!msg) {
      FUZZ_CHECK(msg.error() == errc::pairing_protocol);
      return 0;
    }
    auto again = pairing::encode(*msg);
    FUZZ_CHECK(again.has_value() && *again == bytes(rest.begin(), rest.end()));
  }
  return 0;
}
