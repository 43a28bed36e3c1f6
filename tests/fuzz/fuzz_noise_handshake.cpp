// The libp2p Noise XX handshake driven by hostile input. The first byte picks
// a mode (bits 0-1) and whether the initiator expects a particular peer (bit 2):
//   0 responder, raw:  [u8 n][message 1 (n bytes)][message 3 (rest)]
//   1 responder, payloads: a correct initiator encrypts [u8 n][msg 1 payload]
//     [msg 3 payload (rest)], so decode/verify of the payload is reached
//   2 initiator, raw:  message 2 = rest
//   3 initiator, payload: a correct responder encrypts message 2's payload = rest
// Any failure must be an error (never a crash); success must authenticate a
// peer whose ID matches its key, and yield working transport ciphers.
#include <algorithm>

#include "fuzz_common.hpp"
#include "noise_fixtures.hpp"

using namespace peerup;
using namespace peerup::noise;

namespace {

const std::vector<std::string> muxers = {"/yamux/1.0.0"};

void check_transport(cipher_state& send, cipher_state& recv) {
  const bytes plain = {'p', 'i', 'n', 'g'};
  bytes frame;
  FUZZ_CHECK(send.encrypt_frame(plain, frame).has_value());
  FUZZ_CHECK(frame.size() == frame_header_size + plain.size() + tag_size);
  auto opened = recv.decrypt_in_place(mutable_byte_span(frame).subspan(frame_header_size));
  FUZZ_CHECK(opened.has_value());
  FUZZ_CHECK(std::equal(opened->begin(), opened->end(), plain.begin(), plain.end()));
}

handshake_result authenticated(handshake& hs, const std::optional<peer_id>& expected) {
  FUZZ_CHECK(hs.is_complete());
  auto r = hs.finish();
  FUZZ_CHECK(r.has_value());
  FUZZ_CHECK(r->remote_peer == r->remote_key.to_peer_id());
  if (expected) FUZZ_CHECK(r->remote_peer == *expected);
  FUZZ_CHECK(r->remote_muxers.size() <= max_payload_muxers);
  FUZZ_CHECK(!hs.finish().has_value());  // callable once
  return std::move(*r);
}

void responder_raw(fuzz::input& in) {
  handshake resp(handshake::role::responder, fuzz::responder_identity(), std::nullopt, muxers,
                 fuzz::responder_keys());
  const byte_span msg1 = in.chunk8();
  const byte_span msg3 = in.rest();
  if (!resp.read_message(msg1)) {
    FUZZ_CHECK(!resp.wants_write() && !resp.write_message());
    return;
  }
  FUZZ_CHECK(resp.wants_write());
  // Message 1 is not checked for a low-order ephemeral key: the ee DH while
  // writing message 2 catches it, so that is the only way writing may fail.
  if (auto m2 = resp.write_message(); !m2) {
    FUZZ_CHECK(m2.error() == errc::invalid_key);
    FUZZ_CHECK(!resp.wants_write() && !resp.read_message(msg3));
    return;
  }
  if (!resp.read_message(msg3)) {
    FUZZ_CHECK(!resp.is_complete() && !resp.finish());
    return;
  }
  (void)authenticated(resp, std::nullopt);
}

void responder_payloads(fuzz::input& in) {
  handshake resp(handshake::role::responder, fuzz::responder_identity(), std::nullopt, muxers,
                 fuzz::responder_keys());
  auto init = fuzz::raw_xx(xx_state::role::initiator, fuzz::initiator_keys());
  const byte_span payload1 = in.chunk8();
  const byte_span payload3 = in.rest();

  bytes msg1, msg2, msg3, ignored;
  FUZZ_CHECK(init.write_message(payload1, msg1).has_value());
  // A payload in message 1 is allowed on the wire and ignored.
  FUZZ_CHECK(resp.read_message(msg1).has_value());
  auto m2 = resp.write_message();
  FUZZ_CHECK(m2.has_value());
  FUZZ_CHECK(init.read_message(*m2, ignored).has_value());
  if (!init.write_message(payload3, msg3)) return;  // too large for one message
  if (!resp.read_message(msg3)) return;
  auto ours = authenticated(resp, std::nullopt);
  auto theirs = init.split();
  FUZZ_CHECK(theirs.has_value());
  check_transport(theirs->first, ours.recv);
  check_transport(ours.send, theirs->second);
}

void initiator_raw(fuzz::input& in, const std::optional<peer_id>& expected) {
  handshake init(handshake::role::initiator, fuzz::initiator_identity(), expected, muxers,
                 fuzz::initiator_keys());
  FUZZ_CHECK(init.write_message().has_value());
  if (!init.read_message(in.rest())) {
    FUZZ_CHECK(!init.wants_write() && !init.write_message());
    return;
  }
  // Authenticated in step 2; message 3 reveals our identity.
  auto msg3 = init.write_message();
  FUZZ_CHECK(msg3.has_value());
  (void)authenticated(init, expected);
}

void initiator_payload(fuzz::input& in, const std::optional<peer_id>& expected) {
  handshake init(handshake::role::initiator, fuzz::initiator_identity(), expected, muxers,
                 fuzz::initiator_keys());
  auto resp = fuzz::raw_xx(xx_state::role::responder, fuzz::responder_keys());
  auto msg1 = init.write_message();
  FUZZ_CHECK(msg1.has_value());
  bytes ignored, msg2;
  FUZZ_CHECK(resp.read_message(*msg1, ignored).has_value());
  if (!resp.write_message(in.rest(), msg2)) return;  // too large for one message
  if (!init.read_message(msg2)) return;
  auto msg3 = init.write_message();
  FUZZ_CHECK(msg3.has_value());
  bytes payload3;
  FUZZ_CHECK(resp.read_message(*msg3, payload3).has_value());
  FUZZ_CHECK(decode_payload(payload3).has_value());
  auto theirs = resp.split();
  FUZZ_CHECK(theirs.has_value());
  auto ours = authenticated(init, expected);
  check_transport(ours.send, theirs->second);
  check_transport(theirs->first, ours.recv);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  fuzz::input in(data, size);
  const std::uint8_t mode = in.u8();
  std::optional<peer_id> expected;
  if ((mode & 4) != 0) expected = fuzz::responder_identity().to_peer_id();
  switch (mode & 3) {
    case 0: responder_raw(in); break;
    case 1: responder_payloads(in); break;
    case 2: initiator_raw(in, expected); break;
    case 3: initiator_payload(in, expected); break;
  }
  return 0;
}
