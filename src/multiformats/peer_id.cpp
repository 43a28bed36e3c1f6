#include "multiformats/peer_id.hpp"

#include <string_view>

#include "multiformats/base58.hpp"
#include "multiformats/multibase.hpp"
#include "multiformats/multihash.hpp"
#include "multiformats/varint.hpp"

namespace peerup {
namespace {

constexpr std::uint64_t cid_version_1 = 1;

// Peer IDs are at most 4 + 128 bytes, so their text is far below this.
constexpr std::size_t max_text_length = 256;

result<peer_id> from_cid(byte_span cid) {
  auto version = varint::decode(cid);
  if (!version || version->value != cid_version_1) return errc::invalid_peer_id;
  cid = cid.subspan(version->length);
  auto codec = varint::decode(cid);
  if (!codec || codec->value != peer_id::libp2p_key_codec) return errc::invalid_peer_id;
  return peer_id::from_bytes(cid.subspan(codec->length));
}

}  // namespace

result<peer_id> peer_id::from_bytes(byte_span multihash_bytes) {
  if (!multihash::decode(multihash_bytes)) return errc::invalid_peer_id;
  return peer_id(bytes(multihash_bytes.begin(), multihash_bytes.end()));
}

peer_id peer_id::from_public_key(byte_span public_key_protobuf) {
  const auto mh = public_key_protobuf.size() <= max_inline_key_length
                      ? multihash::of_identity(public_key_protobuf)
                      : multihash::of_sha256(public_key_protobuf);
  return peer_id(mh.encode());
}

result<peer_id> peer_id::parse(std::string_view text) {
  // SECURITY: bound before base conversion.
  if (text.empty() || text.size() > max_text_length) return errc::invalid_peer_id;
  // Per the spec, "1..." and "Qm..." are bare base58btc multihashes; anything
  // else must be a multibase CID.
  if (text.front() == '1' || text.starts_with("Qm")) {
    auto raw = base58::decode(text);
    if (!raw) return errc::invalid_peer_id;
    return from_bytes(*raw);
  }
  auto raw = multibase::decode(text);
  if (!raw) return errc::invalid_peer_id;
  return from_cid(*raw);
}

std::string peer_id::to_string() const { return base58::encode(multihash_); }

std::string peer_id::to_cid_string() const {
  bytes cid;
  varint::encode(cid_version_1, cid);
  varint::encode(libp2p_key_codec, cid);
  append(cid, multihash_);
  return multibase::encode_base32(cid);
}

std::optional<bytes> peer_id::embedded_public_key() const {
  auto mh = multihash::decode(multihash_);
  if (!mh || mh->code != multihash::identity) return std::nullopt;
  return std::move(mh->digest);
}

}  // namespace peerup

std::size_t std::hash<peerup::peer_id>::operator()(const peerup::peer_id& id) const noexcept {
  // The tail of a multihash is key material or a hash output, so it is well mixed.
  return std::hash<std::string_view>{}(peerup::as_string_view(id.to_bytes()));
}
