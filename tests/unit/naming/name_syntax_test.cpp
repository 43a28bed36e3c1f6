// Name syntax: what the resolver accepts as a name before any lookup.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "crypto/keys.hpp"
#include "naming/resolver.hpp"

namespace peerup::app {
namespace {

const std::string home_id = private_key::generate().to_peer_id().to_string();

TEST(name_syntax, strips_trailing_dot_and_p2p_suffix_only) {
  EXPECT_EQ(strip_name_suffix("home.grewal.p2p."), "home.grewal");
  EXPECT_EQ(strip_name_suffix("home.grewal.P2P"), "home.grewal");
  EXPECT_EQ(strip_name_suffix("home.grewal"), "home.grewal");
  EXPECT_EQ(strip_name_suffix("p2p"), "p2p");
  EXPECT_EQ(strip_name_suffix(home_id), home_id);  // case kept: peer IDs are case-sensitive
  EXPECT_FALSE(strip_name_suffix(""));
  EXPECT_FALSE(strip_name_suffix("."));
  EXPECT_FALSE(strip_name_suffix("a b"));
  EXPECT_FALSE(strip_name_suffix("a/b"));
  EXPECT_FALSE(strip_name_suffix(std::string(256, 'a')));
}

}  // namespace
}  // namespace peerup::app
