#include "wire/peer_record.hpp"

#include <algorithm>

#include "crypto/signed_envelope.hpp"
#include "wire/protobuf.hpp"

namespace peerup::wire {

bytes peer_record::encode() const {
  pb::writer w;
  w.add_bytes(1, peer.to_bytes());
  w.add_varint(2, seq);
  for (const auto& a : addrs) {
    pb::writer info;
    info.add_bytes(1, a.to_bytes());
    w.add_bytes(3, info.data());
  }
  return w.take();
}

result<peer_record> peer_record::decode(byte_span in) {
  // SECURITY: the payload sits inside a bounded envelope; bound it on its own
  // too, since the fuzzer and future callers hand it in directly.
  if (in.size() > peer_record_max_size) return errc::too_large;
  std::optional<peer_id> id;
  std::uint64_t seq = 0;
  std::vector<multiaddr> addrs;
  auto ok = pb::for_each_field(in, [&](const pb::field& f) -> result<void> {
    switch (f.number) {
      case 1: {
        if (!pb::is_len(f) || id) return errc::kad_record_invalid;
        auto p = peer_id::from_bytes(f.bytes);
        if (!p) return errc::kad_record_invalid;
        id = *p;
        return {};
      }
      case 2:
        if (!pb::is_varint(f)) return errc::invalid_protobuf;
        seq = f.varint;
        return {};
      case 3: {
        if (!pb::is_len(f)) return errc::invalid_protobuf;
        // SECURITY: counted before anything is kept.
        if (addrs.size() >= peer_record_max_addrs) return errc::kad_record_invalid;
        std::optional<multiaddr> addr;
        auto inner = pb::for_each_field(f.bytes, [&](const pb::field& g) -> result<void> {
          if (g.number != 1) return {};
          if (!pb::is_len(g)) return errc::invalid_protobuf;
          auto a = multiaddr::from_bytes(g.bytes);
          if (!a) return errc::kad_record_invalid;
          addr = std::move(*a);
          return {};
        });
        if (!inner) return inner.error();
        if (!addr) return errc::kad_record_invalid;
        addrs.push_back(std::move(*addr));
        return {};
      }
      default: return {};  // unknown fields: skipped (proto3)
    }
  });
  if (!ok) return ok.error();
  if (!id) return errc::kad_record_invalid;
  return peer_record{*id, seq, std::move(addrs)};
}

bytes seal_peer_record(const private_key& key, peer_record r) {
  r.peer = key.to_peer_id();
  return signed_envelope::seal(key, peer_record_domain, peer_record_payload_type, r.encode());
}

result<peer_record> open_peer_record(byte_span envelope_bytes) {
  // SECURITY: bounded before the signature check does any work.
  if (envelope_bytes.size() > peer_record_max_size) return errc::too_large;
  auto env = signed_envelope::open(envelope_bytes, peer_record_domain);
  if (!env) return env.error();
  if (!std::ranges::equal(env->payload_type, peer_record_payload_type))
    return errc::kad_record_invalid;
  auto r = peer_record::decode(env->payload);
  if (!r) return r.error();
  // A valid signature by some key proves nothing unless it is the peer's.
  if (r->peer != env->signer()) return errc::kad_record_invalid;
  return r;
}

result<peer_record> validate_peer_record(byte_span key, byte_span value) {
  // SECURITY: sizes first, so nothing larger is parsed or verified.
  if (value.size() > peer_record_max_size) return errc::too_large;
  auto named = peer_of_record_key(key);
  if (!named) return errc::kad_record_invalid;  // a namespace we have no validator for
  auto r = open_peer_record(value);
  if (!r) return r.error();
  // Signed by someone, for someone: only the key's own peer may write it.
  if (r->peer != *named) return errc::kad_record_invalid;
  return r;
}

bytes peer_record_key(const peer_id& peer) {
  // Sized first: g++ 12 warns (array-bounds) on appending to a short vector.
  const auto& id = peer.to_bytes();
  bytes k(peer_record_namespace.size() + id.size());
  std::copy(peer_record_namespace.begin(), peer_record_namespace.end(), k.begin());
  std::copy(id.begin(), id.end(), k.begin() + static_cast<long>(peer_record_namespace.size()));
  return k;
}

std::optional<peer_id> peer_of_record_key(byte_span key) {
  const auto ns = as_bytes(peer_record_namespace);
  if (key.size() <= ns.size() || !std::equal(ns.begin(), ns.end(), key.begin())) return std::nullopt;
  auto p = peer_id::from_bytes(key.subspan(ns.size()));
  if (!p) return std::nullopt;
  return *p;
}

}  // namespace peerup::wire
