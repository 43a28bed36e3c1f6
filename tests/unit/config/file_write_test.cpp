// Rewriting a file keeps its mode and owner, a new file is 0600 whatever the
// umask, and the write is atomic (issue 21, defect 2: `peerup name add` made
// a 0600 config holding SOCKS passwords world-readable).
#include "config/file_write.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>

#include "config/authorized_keys.hpp"
#include "config/config.hpp"
#include "crypto/keys.hpp"
#include "support/temp_dir.hpp"

namespace peerup::app {
namespace {

namespace fs = std::filesystem;

struct stat_result {
  unsigned mode = 0;
  uid_t uid = 0;
  gid_t gid = 0;
};
stat_result stat_of(const fs::path& p) {
  struct stat st {};
  EXPECT_EQ(::stat(p.c_str(), &st), 0) << p;
  return {static_cast<unsigned>(st.st_mode & 07777), st.st_uid, st.st_gid};
}
std::string contents(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// Restores the umask on every exit path.
struct umask_guard {
  mode_t old;
  explicit umask_guard(mode_t m) : old(::umask(m)) {}
  ~umask_guard() { ::umask(old); }
};

struct file_write : ::testing::Test {
  test::temp_dir dir;
  umask_guard mask{022};
  config load(const fs::path& file) {
    auto c = load_config(file);
    EXPECT_TRUE(c) << c.error().to_string();
    return *c;
  }
};

TEST_F(file_write, saving_a_config_keeps_its_mode_and_the_bak_gets_the_same) {
  const auto file = dir.write("config.yaml", "identity_key: identity.key\n", 0600);
  auto cfg = load(file);
  cfg.names.emplace("home", name_target{private_key::generate().to_peer_id(), std::nullopt});
  save_config(cfg);
  EXPECT_EQ(stat_of(file).mode, 0600u);
  EXPECT_EQ(stat_of(dir.path() / "config.yaml.bak").mode, 0600u);
  EXPECT_THAT(contents(file), ::testing::HasSubstr("home: "));
  EXPECT_EQ(contents(dir.path() / "config.yaml.bak"), "identity_key: identity.key\n");

  ::chmod(file.c_str(), 0640);
  save_config(cfg);
  EXPECT_EQ(stat_of(file).mode, 0640u);
}

TEST_F(file_write, a_new_file_is_0600_whatever_the_umask) {
  const auto file = dir.path() / "fresh.yaml";
  replace_file(file, "x: 1\n");
  EXPECT_EQ(stat_of(file).mode, 0600u);
  EXPECT_EQ(contents(file), "x: 1\n");
}

TEST_F(file_write, no_temp_file_is_left_and_the_old_file_is_whole_until_the_rename) {
  const auto file = dir.write("config.yaml", "old\n", 0644);
  replace_file(file, "new\n");
  EXPECT_EQ(contents(file), "new\n");
  EXPECT_EQ(stat_of(file).mode, 0644u);
  int entries = 0;
  for (const auto& e : fs::directory_iterator(dir.path())) {
    ++entries;
    EXPECT_EQ(e.path().filename(), "config.yaml");
  }
  EXPECT_EQ(entries, 1);
}

TEST_F(file_write, a_failed_write_leaves_the_old_file_and_no_temp_file) {
  const auto sub = dir.path() / "ro";
  fs::create_directories(sub);
  const auto file = sub / "config.yaml";
  { std::ofstream(file) << "old\n"; }
  ::chmod(sub.c_str(), 0500);
  if (::geteuid() == 0) {
    ::chmod(sub.c_str(), 0700);
    GTEST_SKIP() << "root writes into a 0500 folder";
  }
  EXPECT_THROW(replace_file(file, "new\n"), std::runtime_error);
  ::chmod(sub.c_str(), 0700);
  EXPECT_EQ(contents(file), "old\n");
}

// The same promise where the last step fails, which also holds for root (the
// test above is skipped there): the path is a folder, so the rename fails
// after the temp file was written; the folder stays and no temp file is left.
TEST_F(file_write, a_failed_rename_leaves_what_was_there_and_no_temp_file) {
  const auto target = dir.path() / "config.yaml";
  fs::create_directories(target / "inside");
  EXPECT_THROW(replace_file(target, "new\n"), std::runtime_error);
  EXPECT_TRUE(fs::is_directory(target / "inside"));
  int entries = 0;
  for (const auto& e : fs::directory_iterator(dir.path())) {
    ++entries;
    EXPECT_EQ(e.path().filename(), "config.yaml");
  }
  EXPECT_EQ(entries, 1);
}

TEST_F(file_write, private_files_keep_the_owner_bits_and_lose_group_and_other_access) {
  const auto keys = dir.write("authorized_keys", "# old\n", 0400);
  write_private_file(keys, "# new\n");
  EXPECT_EQ(stat_of(keys).mode, 0400u);
  ::chmod(keys.c_str(), 0644);
  write_private_file(keys, "# newer\n");
  EXPECT_EQ(stat_of(keys).mode, 0600u & 0644u);
  write_private_file(dir.path() / "new_keys", "# x\n");
  EXPECT_EQ(stat_of(dir.path() / "new_keys").mode, 0600u);
}

TEST_F(file_write, root_editing_a_file_of_another_user_keeps_that_owner) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root to chown";
  const auto file = dir.write("config.yaml", "identity_key: identity.key\n", 0600);
  ASSERT_EQ(::chown(file.c_str(), 65534, 65534), 0);
  auto cfg = load(file);
  save_config(cfg);
  const auto st = stat_of(file);
  EXPECT_EQ(st.uid, 65534u);
  EXPECT_EQ(st.gid, 65534u);
  EXPECT_EQ(st.mode, 0600u);
  EXPECT_EQ(stat_of(dir.path() / "config.yaml.bak").uid, 65534u);
}

}  // namespace
}  // namespace peerup::app
