// Noise transport frames. First byte: bit 0 picks the mode, bit 1 starts both
// nonces just below exhaustion. Then frames [u16 length][bytes]...
//   raw:     each frame is handed to decrypt_in_place as received ciphertext;
//            forged input must fail and leave the nonce where it was.
//   sealed:  each frame is plaintext; [u8 flip] follows it. It is sealed by a
//            sender, optionally corrupted (flip != 0 xors one byte), and opened
//            by the receiver: intact frames must round-trip, corrupted ones fail.
#include <algorithm>

#include "fuzz_common.hpp"
#include "wire/noise_cipher.hpp"

using namespace peerup;
using namespace peerup::noise;

namespace {

key32 fixed_key() {
  key32 k;
  k.fill(0x5a);
  return k;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  fuzz::input in(data, size);
  const std::uint8_t mode = in.u8();
  cipher_state send(fixed_key()), recv(fixed_key());
  if ((mode & 2) != 0) {
    const std::uint64_t start = ~std::uint64_t{0} - 3;
    send.set_nonce_for_testing(start);
    recv.set_nonce_for_testing(start);
  }
  if ((mode & 1) == 0) {
    while (!in.empty()) {
      const byte_span chunk = in.chunk16();
      bytes frame(chunk.begin(), chunk.end());
      const std::uint64_t before = recv.nonce();
      auto opened = recv.decrypt_in_place(frame);
      // Nobody without the key can forge a tag.
      FUZZ_CHECK(!opened.has_value());
      FUZZ_CHECK(recv.nonce() == before);
    }
    return 0;
  }
  while (!in.empty()) {
    const byte_span plain = in.chunk16();
    const std::uint8_t flip = in.u8();
    bytes frame;
    const std::uint64_t before = send.nonce();
    auto sealed = send.encrypt_frame(plain, frame);
    if (!sealed) {
      FUZZ_CHECK(sealed.error() == errc::too_large || sealed.error() == errc::nonce_exhausted);
      FUZZ_CHECK(frame.empty() && send.nonce() == before);
      return 0;
    }
    FUZZ_CHECK(send.nonce() == before + 1);
    FUZZ_CHECK(frame.size() == frame_header_size + plain.size() + tag_size);
    FUZZ_CHECK(read_frame_length(std::span<const std::uint8_t, frame_header_size>(
                   frame.data(), frame_header_size)) == plain.size() + tag_size);
    mutable_byte_span body = mutable_byte_span(frame).subspan(frame_header_size);
    if (flip != 0) body[flip % body.size()] ^= flip;
    auto opened = recv.decrypt_in_place(body);
    if (flip != 0) {
      FUZZ_CHECK(!opened.has_value());
      return 0;  // the connection would be closed here
    }
    FUZZ_CHECK(opened.has_value());
    FUZZ_CHECK(std::equal(opened->begin(), opened->end(), plain.begin(), plain.end()));
  }
  return 0;
}
