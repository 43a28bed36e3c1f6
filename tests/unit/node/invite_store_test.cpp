#include "node/invite_store.hpp"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <fstream>

#include "crypto/keys.hpp"

namespace peerup::app {
namespace {

namespace fs = std::filesystem;

struct invite_store : ::testing::Test {
  fs::path dir;
  const peer_id home = private_key::from_seed(bytes(32, 5)).value().to_peer_id();
  void SetUp() override {
    dir = fs::temp_directory_path() / ("peerup-invites-" + std::to_string(::getpid()));
    fs::create_directories(dir);
  }
  void TearDown() override { fs::remove_all(dir); }
  pairing::invite_record record(std::int64_t expires) const {
    pairing::invite_record r{
        invite::invite_data{{1, 2}, {3, 4, 5, 6, 7, 8}, home,
                            multiaddr::parse("/ip4/127.0.0.1/tcp/4001").value()},
        expires, "Mary's laptop", {"ssh", "web"}};
    return r;
  }
};

TEST_F(invite_store, records_round_trip_through_the_file_with_mode_0600) {
  auto r = record(2000);
  r.failures = 2;
  r.used = true;
  r.paired_peer = home.to_string();
  r.verification = "1234 5678 9012";
  auto open = record(3000);
  open.data.id = {9, 9};
  open.services.clear();
  const auto file = invites_file_path(dir);
  save_invites(file, {r, open}, 1000);
  struct stat st {};
  ASSERT_EQ(::stat(file.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  const auto back = load_invites(file, home);
  ASSERT_EQ(back.size(), 2u);
  EXPECT_EQ(back[0].data, r.data);
  EXPECT_EQ(back[0].expires_unix, 2000);
  EXPECT_EQ(back[0].failures, 2u);
  EXPECT_TRUE(back[0].used);
  EXPECT_EQ(back[0].device_name, "Mary's laptop");
  EXPECT_EQ(back[0].services, (std::vector<std::string>{"ssh", "web"}));
  EXPECT_EQ(back[0].paired_peer, home.to_string());
  EXPECT_EQ(back[0].verification, "1234 5678 9012");
  EXPECT_TRUE(back[1].services.empty());
  EXPECT_FALSE(back[1].used);
}

TEST_F(invite_store, old_records_are_dropped_and_liveness_follows_expiry_use_and_lock) {
  const auto file = invites_file_path(dir);
  save_invites(file, {record(100)}, 100 + 86400 + 1);
  EXPECT_TRUE(load_invites(file, home).empty());
  auto r = record(1000);
  EXPECT_TRUE(any_live_invite({r}, 999));
  EXPECT_FALSE(any_live_invite({r}, 1000));
  EXPECT_TRUE(any_recent_invite({r}, 1000 + 3599));
  EXPECT_FALSE(any_recent_invite({r}, 1000 + 3600));
  r.failures = r.max_failures;
  EXPECT_FALSE(any_live_invite({r}, 10));
  r.failures = 0;
  r.used = true;
  EXPECT_FALSE(any_live_invite({r}, 10));
  EXPECT_TRUE(load_invites(dir / "missing", home).empty());
}

TEST_F(invite_store, merge_keeps_invites_added_during_an_attempt_and_drops_removed_ones) {
  auto attempted = record(2000);
  attempted.failures = 3;
  attempted.used = true;
  attempted.verification = "1111 2222 3333";
  auto removed = record(2000);
  removed.data.id = {7, 7};
  auto on_disk_same = record(2000);
  auto added = record(2500);
  added.data.id = {8, 8};
  std::vector<pairing::invite_record> on_disk{on_disk_same, added};
  merge_attempt_state(on_disk, {attempted, removed});
  ASSERT_EQ(on_disk.size(), 2u);
  EXPECT_EQ(on_disk[0].failures, 3u);
  EXPECT_TRUE(on_disk[0].used);
  EXPECT_EQ(on_disk[0].verification, "1111 2222 3333");
  EXPECT_EQ(on_disk[1].data.id, added.data.id);
  EXPECT_EQ(on_disk[1].failures, 0u);
  EXPECT_FALSE(on_disk[1].used);
}

TEST_F(invite_store, malformed_lines_and_open_modes_are_refused_with_the_line) {
  const auto file = invites_file_path(dir);
  auto write = [&](const std::string& text, fs::perms mode = fs::perms::owner_read |
                                                             fs::perms::owner_write) {
    std::ofstream(file) << text;
    fs::permissions(file, mode);
  };
  const std::string good =
      "v1 0102 030405060708 /ip4/127.0.0.1/tcp/4001 2000 0 5 0 ssh - - laptop\n";
  write(good);
  EXPECT_EQ(load_invites(file, home).size(), 1u);
  for (const std::string bad :
       {"v2 0102 030405060708 /ip4/127.0.0.1/tcp/4001 2000 0 5 0 ssh - - laptop\n",
        "v1 01 030405060708 /ip4/127.0.0.1/tcp/4001 2000 0 5 0 ssh - - laptop\n",
        "v1 0102 0304050607zz /ip4/127.0.0.1/tcp/4001 2000 0 5 0 ssh - - laptop\n",
        "v1 0102 030405060708 /ip4/1/tcp/4001 2000 0 5 0 ssh - - laptop\n",
        "v1 0102 030405060708 /ip4/127.0.0.1/tcp/4001 x 0 5 0 ssh - - laptop\n",
        "v1 0102 030405060708 /ip4/127.0.0.1/tcp/4001 2000 0 5 2 ssh - - laptop\n",
        "v1 0102 030405060708 /ip4/127.0.0.1/tcp/4001 2000 0 5 0 ssh - -\n",
        "v1 0102 030405060708 /ip4/127.0.0.1/tcp/4001 2000 0 5 0 ssh - - \x1b[2J\n"}) {
    write("# c\n" + bad);
    try {
      load_invites(file, home);
      ADD_FAILURE() << "accepted: " << bad;
    } catch (const std::runtime_error& e) {
      EXPECT_NE(std::string(e.what()).find(":2: "), std::string::npos) << e.what();
    }
  }
  write(good, fs::perms::owner_read | fs::perms::owner_write | fs::perms::group_read);
  EXPECT_THROW(load_invites(file, home), std::runtime_error);
}

}  // namespace
}  // namespace peerup::app
