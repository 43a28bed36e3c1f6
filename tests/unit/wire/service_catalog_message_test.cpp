#include "wire/service_catalog_message.hpp"

#include <gtest/gtest.h>

#include "wire/protobuf.hpp"

namespace peerup::wire {
namespace {

TEST(service_catalog_message, list_round_trips_in_order) {
  const std::vector<published_service> list{{"ssh", 22}, {"web", 8080}, {"db.main", 5432}};
  auto back = decode_service_list(encode_service_list(list));
  ASSERT_TRUE(back);
  EXPECT_EQ(*back, list);
}

TEST(service_catalog_message, empty_list_is_an_empty_message) {
  EXPECT_TRUE(encode_service_list({}).empty());
  auto back = decode_service_list({});
  ASSERT_TRUE(back);
  EXPECT_TRUE(back->empty());
}

bytes one(std::string_view name, std::uint64_t port) {
  pb::writer s;
  s.add_string(1, name);
  s.add_varint(2, port);
  pb::writer w;
  w.add_bytes(1, s.data());
  return w.take();
}

TEST(service_catalog_message, refuses_bad_names_and_ports) {
  EXPECT_FALSE(decode_service_list(one("../etc", 22)));
  EXPECT_FALSE(decode_service_list(one("", 22)));
  EXPECT_FALSE(decode_service_list(one("-x", 22)));
  EXPECT_FALSE(decode_service_list(one(std::string(65, 'a'), 22)));
  EXPECT_FALSE(decode_service_list(one("ssh", 0)));
  EXPECT_FALSE(decode_service_list(one("ssh", 65536)));
  EXPECT_TRUE(decode_service_list(one("ssh", 65535)));
}

TEST(service_catalog_message, refuses_more_services_than_the_cap) {
  bytes msg;
  for (std::size_t i = 0; i <= service_catalog_limits::max_services; ++i)
    append(msg, one("s" + std::to_string(i), 1));
  EXPECT_EQ(decode_service_list(msg).error(), make_error_code(errc::too_large));
}

TEST(service_catalog_message, refuses_oversized_message) {
  bytes big(service_catalog_limits::max_message + 1, 0);
  EXPECT_EQ(decode_service_list(big).error(), make_error_code(errc::too_large));
}

}  // namespace
}  // namespace peerup::wire
