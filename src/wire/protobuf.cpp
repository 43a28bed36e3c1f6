#include "wire/protobuf.hpp"

#include "multiformats/varint.hpp"

namespace peerup::pb {

void writer::add_tag(std::uint32_t field, wire_type t) {
  varint::encode((static_cast<std::uint64_t>(field) << 3) | static_cast<std::uint8_t>(t), out_);
}

void writer::add_varint(std::uint32_t field, std::uint64_t v) {
  add_tag(field, wire_type::varint);
  varint::encode(v, out_);
}

void writer::add_bytes(std::uint32_t field, byte_span v) {
  add_tag(field, wire_type::length_delimited);
  varint::encode(v.size(), out_);
  append(out_, v);
}

namespace {
// Protobuf varints may be 10 bytes (negative int64); libp2p never sends those,
// and the multiformats decoder's 9-byte cap is fine for every field we read.
// Protobuf encoders may emit non-minimal varints, so decode leniently here.
result<varint::decoded> pb_varint(byte_span in) {
  std::uint64_t value = 0;
  for (std::size_t i = 0; i < in.size() && i < 10; ++i) {
    value |= static_cast<std::uint64_t>(in[i] & 0x7f) << (7 * i);
    if ((in[i] & 0x80) == 0) return varint::decoded{value, i + 1};
  }
  return errc::invalid_protobuf;
}
}  // namespace

result<std::optional<field>> reader::next() {
  if (pos_ >= in_.size()) return std::optional<field>{};
  auto tag = pb_varint(in_.subspan(pos_));
  if (!tag) return tag.error();
  pos_ += tag->length;
  field f;
  const std::uint64_t number = tag->value >> 3;
  if (number == 0 || number > 0x1fffffff) return errc::invalid_protobuf;
  f.number = static_cast<std::uint32_t>(number);
  switch (tag->value & 7) {
    case 0: {
      f.type = wire_type::varint;
      auto v = pb_varint(in_.subspan(pos_));
      if (!v) return v.error();
      f.varint = v->value;
      pos_ += v->length;
      break;
    }
    case 1:
    case 5: {
      const std::size_t n = (tag->value & 7) == 1 ? 8 : 4;
      f.type = n == 8 ? wire_type::fixed64 : wire_type::fixed32;
      if (in_.size() - pos_ < n) return errc::invalid_protobuf;
      for (std::size_t i = 0; i < n; ++i) f.varint |= std::uint64_t{in_[pos_ + i]} << (8 * i);
      pos_ += n;
      break;
    }
    case 2: {
      f.type = wire_type::length_delimited;
      auto len = pb_varint(in_.subspan(pos_));
      if (!len) return len.error();
      pos_ += len->length;
      // SECURITY: a declared length beyond the remaining input is malformed.
      if (len->value > in_.size() - pos_) return errc::invalid_protobuf;
      f.bytes = in_.subspan(pos_, static_cast<std::size_t>(len->value));
      pos_ += static_cast<std::size_t>(len->value);
      break;
    }
    default: return errc::invalid_protobuf;  // groups (3, 4) and reserved types
  }
  return std::optional<field>{f};
}

}  // namespace peerup::pb
