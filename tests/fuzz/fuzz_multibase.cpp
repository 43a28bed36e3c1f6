// base58, base32 and multibase decoders (first byte selects). Each accepts
// exactly one text per byte string, so decode then encode gives back the input.
#include "fuzz_common.hpp"
#include "multiformats/base32.hpp"
#include "multiformats/base58.hpp"
#include "multiformats/multibase.hpp"

using namespace peerup;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  fuzz::input in(data, size);
  const std::uint8_t which = in.u8() % 3;
  const std::string_view text = as_string_view(in.rest());
  switch (which) {
    case 0: {
      auto raw = base58::decode(text);
      if (raw) FUZZ_CHECK(base58::encode(*raw) == text);
      break;
    }
    case 1: {
      auto raw = base32::decode(text);
      if (raw) FUZZ_CHECK(base32::encode(*raw) == text);
      break;
    }
    case 2: {
      auto raw = multibase::decode(text);
      if (!raw) break;
      std::string again;
      switch (text.front()) {
        case multibase::base32_prefix: again = multibase::encode_base32(*raw); break;
        case multibase::base58btc_prefix: again = multibase::encode_base58btc(*raw); break;
        case multibase::base64url_prefix: again = multibase::encode_base64url(*raw); break;
        default: FUZZ_CHECK(false && "decoded an unknown multibase prefix");
      }
      FUZZ_CHECK(again == text);
      break;
    }
  }
  return 0;
}
