// Untrusted text made safe for logs and messages (common/printable.hpp).
#include "common/printable.hpp"

#include <gtest/gtest.h>

namespace peerup {
namespace {

TEST(printable, keeps_printable_ascii_and_escapes_everything_else) {
  EXPECT_EQ(printable("home.p2p"), "home.p2p");
  EXPECT_EQ(printable("a\nINFO forged"), "a\\x0aINFO forged");
  EXPECT_EQ(printable("\x1b[31mred\r"), "\\x1b[31mred\\x0d");
  EXPECT_EQ(printable(std::string_view("nul\0", 4)), "nul\\x00");
  EXPECT_EQ(printable("caf\xc3\xa9 \x7f"), "caf\\xc3\\xa9 \\x7f");
  // A backslash is escaped too, so "\x0a" typed by a client stays distinct.
  EXPECT_EQ(printable("\\x0a"), "\\\\x0a");
}

TEST(printable, cuts_long_input_and_says_so) {
  const std::string long_name(300, 'a');
  EXPECT_EQ(printable(long_name), std::string(256, 'a') + "...");
  EXPECT_EQ(printable("abcdef", 3), "abc...");
  EXPECT_EQ(printable("abc", 3), "abc");
  EXPECT_EQ(printable(""), "");
}

}  // namespace
}  // namespace peerup
