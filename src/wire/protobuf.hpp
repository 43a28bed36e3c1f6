// A minimal protobuf (proto2/proto3 wire format) reader and writer.
//
// libp2p messages are small and flat, so a hand-written codec lets every
// length be bounded where it is read, with no generated code to fuzz around.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

#include "common/bytes.hpp"
#include "common/error.hpp"

namespace peerup::pb {

enum class wire_type : std::uint8_t { varint = 0, fixed64 = 1, length_delimited = 2, fixed32 = 5 };

class writer {
 public:
  void add_varint(std::uint32_t field, std::uint64_t v);
  void add_bytes(std::uint32_t field, byte_span v);
  void add_string(std::uint32_t field, std::string_view v) { add_bytes(field, as_bytes(v)); }
  const bytes& data() const& { return out_; }
  bytes take() { return std::move(out_); }

 private:
  void add_tag(std::uint32_t field, wire_type t);
  bytes out_;
};

struct field {
  std::uint32_t number = 0;
  wire_type type = wire_type::varint;
  std::uint64_t varint = 0;  // for varint, fixed32 and fixed64
  byte_span bytes;           // for length_delimited; views into the input
};

// Iterates over the fields of one message. The input must outlive the reader.
class reader {
 public:
  explicit reader(byte_span in) : in_(in) {}
  // Returns the next field, std::nullopt at the end, or an error.
  // SECURITY: length-delimited fields are bounded by the remaining input.
  result<std::optional<field>> next();

 private:
  byte_span in_;
  std::size_t pos_ = 0;
};

// Calls on_field(field) for each field of `in`; stops at the first error,
// from the reader or from on_field (which returns result<void>).
template <class Fn>
result<void> for_each_field(byte_span in, Fn&& on_field) {
  reader r(in);
  for (;;) {
    auto next = r.next();
    if (!next) return next.error();
    if (!*next) return {};
    if (auto ok = on_field(**next); !ok) return ok.error();
  }
}

inline bool is_len(const field& f) { return f.type == wire_type::length_delimited; }
inline bool is_varint(const field& f) { return f.type == wire_type::varint; }
inline bytes to_bytes(const field& f) { return bytes(f.bytes.begin(), f.bytes.end()); }

}  // namespace peerup::pb
