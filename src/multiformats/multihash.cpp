#include "multiformats/multihash.hpp"

#include <sodium.h>

#include "multiformats/varint.hpp"

namespace peerup {

std::array<std::uint8_t, 32> sha256_digest(byte_span in) {
  std::array<std::uint8_t, 32> out{};
  crypto_hash_sha256(out.data(), in.data(), in.size());
  return out;
}

result<multihash> multihash::decode(byte_span in) {
  auto code = varint::decode(in);
  if (!code) return code.error();
  in = in.subspan(code->length);
  auto length = varint::decode(in);
  if (!length) return length.error();
  in = in.subspan(length->length);
  switch (code->value) {
    case sha2_256:
      if (length->value != 32) return errc::multihash_length;
      break;
    case identity:
      // SECURITY: bound the digest before copying it.
      if (length->value > max_identity_length) return errc::too_large;
      break;
    default: return errc::unknown_multihash;
  }
  if (in.size() < length->value) return errc::truncated;
  if (in.size() > length->value) return errc::multihash_length;
  return multihash{code->value, bytes(in.begin(), in.end())};
}

multihash multihash::of_sha256(byte_span data) {
  const auto d = sha256_digest(data);
  return multihash{sha2_256, bytes(d.begin(), d.end())};
}

multihash multihash::of_identity(byte_span data) {
  return multihash{identity, bytes(data.begin(), data.end())};
}

bytes multihash::encode() const {
  bytes out;
  out.reserve(digest.size() + 4);
  varint::encode(code, out);
  varint::encode(digest.size(), out);
  append(out, digest);
  return out;
}

}  // namespace peerup
