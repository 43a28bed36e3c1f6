#include <gtest/gtest.h>

#include "wire/noise_payload.hpp"
#include "wire/protobuf.hpp"

namespace peerup::noise {
namespace {

TEST(noise_payload, round_trips_all_fields) {
  handshake_payload p;
  p.identity_key = {0x08, 0x01, 0x12, 0x02, 0xaa, 0xbb};
  p.identity_sig = bytes(64, 0x5a);
  p.webtransport_certhashes = {{0x12, 0x20, 0x01}};
  p.stream_muxers = {"/yamux/1.0.0", "/mplex/6.7.0"};
  auto decoded = decode_payload(encode_payload(p));
  ASSERT_TRUE(decoded);
  EXPECT_EQ(*decoded, p);
}

TEST(noise_payload, encodes_fields_in_the_libp2p_layout) {
  handshake_payload p;
  p.identity_key = {0x01};
  p.identity_sig = {0x02};
  p.stream_muxers = {"/y"};
  // 0a 01 01 | 12 01 02 | 22 04 (12 02 '/' 'y'): extensions is field 4 and
  // stream_muxers is its field 2.
  EXPECT_EQ(to_hex(encode_payload(p)), "0a0101120102220412022f79");
}

TEST(noise_payload, omits_extensions_when_there_are_none) {
  handshake_payload p;
  p.identity_key = {0x01};
  p.identity_sig = {0x02};
  EXPECT_EQ(to_hex(encode_payload(p)), "0a0101120102");
}

TEST(noise_payload, skips_unknown_and_legacy_data_fields) {
  pb::writer w;
  w.add_bytes(1, bytes{0x01});
  w.add_bytes(3, bytes{0x99, 0x98});  // legacy `data`
  w.add_varint(7, 42);
  w.add_bytes(2, bytes{0x02});
  auto decoded = decode_payload(w.take());
  ASSERT_TRUE(decoded);
  EXPECT_EQ(decoded->identity_key, bytes{0x01});
  EXPECT_EQ(decoded->identity_sig, bytes{0x02});
}

TEST(noise_payload, rejects_wrong_wire_type_for_identity_key) {
  pb::writer w;
  w.add_varint(1, 5);
  auto r = decode_payload(w.take());
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), errc::noise_handshake_failed);
}

TEST(noise_payload, rejects_truncated_protobuf) {
  const bytes truncated{0x0a, 0x05, 0x01};
  auto r = decode_payload(truncated);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), errc::invalid_protobuf);
}

TEST(noise_payload, bounds_the_number_of_muxers) {
  pb::writer ext;
  for (std::size_t i = 0; i <= max_payload_muxers; ++i) ext.add_string(2, "/m");
  pb::writer w;
  w.add_bytes(4, ext.data());
  auto r = decode_payload(w.take());
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), errc::too_large);
}

TEST(noise_payload, bounds_the_length_of_a_muxer_name) {
  pb::writer ext;
  ext.add_string(2, std::string(max_muxer_name + 1, 'a'));
  pb::writer w;
  w.add_bytes(4, ext.data());
  auto r = decode_payload(w.take());
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), errc::too_large);
}

TEST(noise_payload, bounds_the_number_of_certhashes) {
  pb::writer ext;
  for (std::size_t i = 0; i <= max_payload_certhashes; ++i) ext.add_bytes(1, bytes{0x00});
  pb::writer w;
  w.add_bytes(4, ext.data());
  EXPECT_EQ(decode_payload(w.take()).error(), errc::too_large);
}

TEST(noise_payload, signing_input_is_prefix_then_static_key) {
  const bytes key(32, 0x07);
  const std::string expected = "noise-libp2p-static-key:" + std::string(32, '\x07');
  EXPECT_EQ(as_string_view(static_key_signing_input(key)), expected);
}

}  // namespace
}  // namespace peerup::noise
