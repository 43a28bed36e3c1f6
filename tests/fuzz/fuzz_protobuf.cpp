// pb::reader on arbitrary bytes: every field must lie inside the input, the
// reader must terminate, and the fields it reads must re-encode (through
// pb::writer for the types it writes) to bytes that read back the same.
#include <vector>

#include "fuzz_common.hpp"
#include "wire/protobuf.hpp"

using namespace peerup;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const byte_span in(data, size);
  pb::reader r(in);
  std::vector<pb::field> fields;
  // Each field consumes at least one byte, so there are at most `size` of them.
  for (std::size_t i = 0; i <= size; ++i) {
    auto f = r.next();
    if (!f) return 0;
    if (!*f) break;
    FUZZ_CHECK(i < size);
    FUZZ_CHECK((*f)->number >= 1 && (*f)->number <= 0x1fffffff);
    if ((*f)->type == pb::wire_type::length_delimited && !(*f)->bytes.empty()) {
      FUZZ_CHECK((*f)->bytes.data() >= data &&
                 (*f)->bytes.data() + (*f)->bytes.size() <= data + size);
    }
    fields.push_back(**f);
  }

  pb::writer w;
  std::vector<pb::field> kept;
  for (const auto& f : fields) {
    if (f.type == pb::wire_type::varint) {
      w.add_varint(f.number, f.varint);
      kept.push_back(f);
    } else if (f.type == pb::wire_type::length_delimited) {
      w.add_bytes(f.number, f.bytes);
      kept.push_back(f);
    }
  }
  const bytes out = w.take();
  pb::reader again(out);
  for (const auto& want : kept) {
    auto f = again.next();
    FUZZ_CHECK(f.has_value() && f->has_value());
    const pb::field& got = **f;
    FUZZ_CHECK(got.number == want.number && got.type == want.type);
    if (got.type == pb::wire_type::varint) FUZZ_CHECK(got.varint == want.varint);
    if (got.type == pb::wire_type::length_delimited) {
      FUZZ_CHECK(got.bytes.size() == want.bytes.size() &&
                 std::equal(got.bytes.begin(), got.bytes.end(), want.bytes.begin()));
    }
  }
  auto end = again.next();
  FUZZ_CHECK(end.has_value() && !end->has_value());
  return 0;
}
