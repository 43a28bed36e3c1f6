#include "wire/noise_payload.hpp"

#include "wire/protobuf.hpp"

namespace peerup::noise {
namespace {

enum payload_field : std::uint32_t { identity_key = 1, identity_sig = 2, extensions = 4 };
enum extensions_field : std::uint32_t { webtransport_certhashes = 1, stream_muxers = 2 };

result<void> decode_extensions(byte_span in, handshake_payload& out) {
  pb::reader r(in);
  for (;;) {
    auto f = r.next();
    if (!f) return f.error();
    if (!*f) return {};
    const pb::field& field = **f;
    if (field.number != webtransport_certhashes && field.number != stream_muxers) continue;
    if (field.type != pb::wire_type::length_delimited) return errc::noise_handshake_failed;
    if (field.number == webtransport_certhashes) {
      // SECURITY: bound the number of entries a peer can make us keep.
      if (out.webtransport_certhashes.size() >= max_payload_certhashes) return errc::too_large;
      out.webtransport_certhashes.emplace_back(field.bytes.begin(), field.bytes.end());
    } else {
      // SECURITY: bound both the count and each name before copying it.
      if (out.stream_muxers.size() >= max_payload_muxers) return errc::too_large;
      if (field.bytes.size() > max_muxer_name) return errc::too_large;
      out.stream_muxers.emplace_back(as_string_view(field.bytes));
    }
  }
}

}  // namespace

bytes encode_payload(const handshake_payload& p) {
  pb::writer ext;
  for (const auto& h : p.webtransport_certhashes) ext.add_bytes(webtransport_certhashes, h);
  for (const auto& m : p.stream_muxers) ext.add_string(stream_muxers, m);

  pb::writer w;
  w.add_bytes(identity_key, p.identity_key);
  w.add_bytes(identity_sig, p.identity_sig);
  if (!ext.data().empty()) w.add_bytes(extensions, ext.data());
  return w.take();
}

result<handshake_payload> decode_payload(byte_span in) {
  handshake_payload out;
  pb::reader r(in);
  for (;;) {
    auto f = r.next();
    if (!f) return f.error();
    if (!*f) return out;
    const pb::field& field = **f;
    if (field.number != identity_key && field.number != identity_sig && field.number != extensions)
      continue;
    if (field.type != pb::wire_type::length_delimited) return errc::noise_handshake_failed;
    switch (field.number) {
      case identity_key: out.identity_key.assign(field.bytes.begin(), field.bytes.end()); break;
      case identity_sig: out.identity_sig.assign(field.bytes.begin(), field.bytes.end()); break;
      default:
        if (auto e = decode_extensions(field.bytes, out); !e) return e.error();
        break;
    }
  }
}

bytes static_key_signing_input(byte_span static_public_key) {
  bytes out;
  out.reserve(static_key_signature_prefix.size() + static_public_key.size());
  append(out, as_bytes(static_key_signature_prefix));
  append(out, static_public_key);
  return out;
}

}  // namespace peerup::noise
