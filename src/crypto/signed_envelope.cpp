#include "crypto/signed_envelope.hpp"

#include <optional>

#include "multiformats/varint.hpp"

namespace peerup::signed_envelope {
namespace {

// Envelope field numbers (record.pb.Envelope).
constexpr std::uint64_t public_key_field = 1;
constexpr std::uint64_t payload_type_field = 2;
constexpr std::uint64_t payload_field = 3;
constexpr std::uint64_t signature_field = 5;

constexpr std::uint64_t wire_varint = 0;
constexpr std::uint64_t wire_fixed64 = 1;
constexpr std::uint64_t wire_bytes = 2;
constexpr std::uint64_t wire_fixed32 = 5;

// What gets signed: each of domain, payload type and payload, varint-length-prefixed.
bytes signing_buffer(std::string_view domain, byte_span payload_type, byte_span payload) {
  bytes out;
  out.reserve(domain.size() + payload_type.size() + payload.size() + 12);
  for (byte_span part : {as_bytes(domain), payload_type, payload}) {
    varint::encode(part.size(), out);
    append(out, part);
  }
  return out;
}

void add_bytes_field(bytes& out, std::uint64_t field, byte_span value) {
  varint::encode(field << 3 | wire_bytes, out);
  varint::encode(value.size(), out);
  append(out, value);
}

struct raw_fields {
  std::optional<byte_span> public_key, payload_type, payload, signature;
};

// The envelope is proto3: fields may come in any order and unknown fields are
// skipped, but a repeated known field is refused rather than merged.
result<raw_fields> read_fields(byte_span in) {
  raw_fields f;
  while (!in.empty()) {
    auto tag = varint::decode(in);
    if (!tag) return errc::invalid_protobuf;
    in = in.subspan(tag->length);
    const std::uint64_t wire = tag->value & 7;
    const std::uint64_t number = tag->value >> 3;
    if (number == 0) return errc::invalid_protobuf;
    std::size_t skip = 0;
    if (wire == wire_varint) {
      auto v = varint::decode(in);
      if (!v) return errc::invalid_protobuf;
      skip = v->length;
    } else if (wire == wire_fixed64 || wire == wire_fixed32) {
      skip = wire == wire_fixed64 ? 8 : 4;
    } else if (wire == wire_bytes) {
      auto len = varint::decode(in);
      if (!len) return errc::invalid_protobuf;
      in = in.subspan(len->length);
      // SECURITY: a declared length must fit in what remains.
      if (len->value > in.size()) return errc::invalid_protobuf;
      const auto value = in.first(static_cast<std::size_t>(len->value));
      std::optional<byte_span>* slot = nullptr;
      switch (number) {
        case public_key_field: slot = &f.public_key; break;
        case payload_type_field: slot = &f.payload_type; break;
        case payload_field: slot = &f.payload; break;
        case signature_field: slot = &f.signature; break;
        default: break;
      }
      if (slot) {
        if (*slot) return errc::invalid_protobuf;
        *slot = value;
      }
      skip = value.size();
    } else {
      return errc::invalid_protobuf;
    }
    if (skip > in.size()) return errc::invalid_protobuf;
    in = in.subspan(skip);
  }
  return f;
}

}  // namespace

bytes seal(const private_key& key, std::string_view domain, byte_span payload_type,
           byte_span payload) {
  const bytes signature = key.sign(signing_buffer(domain, payload_type, payload));
  bytes out;
  add_bytes_field(out, public_key_field, key.get_public_key().to_protobuf());
  // proto3 leaves empty bytes fields out.
  if (!payload_type.empty()) add_bytes_field(out, payload_type_field, payload_type);
  if (!payload.empty()) add_bytes_field(out, payload_field, payload);
  add_bytes_field(out, signature_field, signature);
  return out;
}

result<envelope> open(byte_span data, std::string_view expected_domain) {
  // SECURITY: bound before parsing; fields are views until the signature checks out.
  if (data.size() > max_envelope_length) return errc::too_large;
  auto fields = read_fields(data);
  if (!fields) return fields.error();
  if (!fields->public_key || !fields->signature) return errc::invalid_protobuf;
  auto key = public_key::from_protobuf(*fields->public_key);
  if (!key) return key.error();
  const byte_span payload_type = fields->payload_type.value_or(byte_span{});
  const byte_span payload = fields->payload.value_or(byte_span{});
  if (!key->verify(signing_buffer(expected_domain, payload_type, payload), *fields->signature)) {
    return errc::bad_signature;
  }
  return envelope{std::move(*key), bytes(payload_type.begin(), payload_type.end()),
                  bytes(payload.begin(), payload.end()),
                  bytes(fields->signature->begin(), fields->signature->end())};
}

}  // namespace peerup::signed_envelope
