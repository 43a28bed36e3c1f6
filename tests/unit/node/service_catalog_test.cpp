// The service catalog policy: which services a peer is told about.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "crypto/keys.hpp"
#include "config/config.hpp"
#include "node/service_catalog.hpp"

namespace peerup::app {
namespace {

TEST(service_catalog, lists_enabled_services_the_peer_may_use_with_their_ports) {
  const auto laptop = private_key::generate().to_peer_id();
  const auto phone = private_key::generate().to_peer_id();
  const auto stranger = private_key::generate().to_peer_id();
  auto cfg = parse_config(
      "services:\n"
      "  ssh:\n    local_address: 127.0.0.1:22\n"
      "  web:\n    local_address: \"[::1]:8080\"\n"
      "  off:\n    local_address: 127.0.0.1:9\n    enabled: false\n",
      "c.yaml");
  ASSERT_TRUE(cfg);
  access_policy policy;
  policy.allow({laptop, {}, "", 1});
  policy.allow({phone, {*service_name::parse("web")}, "", 2});
  auto all = catalog_for(cfg->services, policy, laptop);
  ASSERT_TRUE(all);
  EXPECT_EQ(*all, (std::vector<published_service>{{"ssh", 22}, {"web", 8080}}));
  auto web = catalog_for(cfg->services, policy, phone);
  ASSERT_TRUE(web);
  EXPECT_EQ(*web, (std::vector<published_service>{{"web", 8080}}));
  EXPECT_FALSE(catalog_for(cfg->services, policy, stranger));
}

}  // namespace
}  // namespace peerup::app
