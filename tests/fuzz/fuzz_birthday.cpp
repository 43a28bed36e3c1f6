// The birthday hole punch's inputs from the network: the hello read from the
// relayed stream and the probe datagrams. A decoded hello re-encodes to the
// same bytes; a probe decodes only with its token, at its fixed size.
#include "fuzz_common.hpp"
#include "wire/birthday.hpp"

using namespace peerup;
using namespace peerup::wire;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const byte_span in(data, size);
  if (auto h = birthday_hello::decode(in)) {
    FUZZ_CHECK(size == birthday_hello::size);
    FUZZ_CHECK(h->encode() == bytes(data, data + size));
  }
  // The token is the probe's last 16 bytes when there are enough of them,
  // so the fuzzer reaches the accepting path too.
  birthday_token token{};
  if (size >= token.size()) std::copy_n(data + size - token.size(), token.size(), token.begin());
  if (auto p = decode_probe(in, token)) {
    FUZZ_CHECK(size == birthday_probe::size);
    FUZZ_CHECK(encode_probe(*p, token) == bytes(data, data + size));
  }
  return 0;
}
