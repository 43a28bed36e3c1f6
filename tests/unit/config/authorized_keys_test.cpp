#include "config/authorized_keys.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "crypto/keys.hpp"
#include "support/temp_dir.hpp"

namespace peerup::app {
namespace {

using ::testing::HasSubstr;

peer_id new_peer() { return private_key::generate().to_peer_id(); }
service_name svc(const char* n) { return *service_name::parse(n); }

TEST(authorized_keys, parses_entries_options_and_comments_and_skips_comment_lines) {
  const auto a = new_peer(), b = new_peer(), c = new_peer();
  const std::string text =
      "# who may connect\n"
      "\n" +
      a.to_string() + "\n" +                                       // line 3
      "  service=ssh,web " + b.to_string() + " laptop of bob\n" +  // 4
      "\t" + c.to_string() + "\t# phone\r\n";                      // 5
  const auto f = parse_authorized_keys(text);
  EXPECT_TRUE(f.problems.empty());
  ASSERT_EQ(f.entries.size(), 3u);
  EXPECT_EQ(f.entries[0].peer, a);
  EXPECT_EQ(f.entries[0].line, 3);
  EXPECT_TRUE(f.entries[0].services.empty());
  EXPECT_EQ(f.entries[1].peer, b);
  EXPECT_EQ(f.entries[1].line, 4);
  ASSERT_EQ(f.entries[1].services.size(), 2u);
  EXPECT_EQ(f.entries[1].services[1].str(), "web");
  EXPECT_EQ(f.entries[1].comment, "laptop of bob");
  EXPECT_EQ(f.entries[2].comment, "# phone");
}

TEST(authorized_keys, reports_each_bad_line_with_its_number_and_keeps_the_good_ones) {
  const auto good = new_peer();
  const std::string text = good.to_string() + "\n" +                  // 1
                           "12D3KooWnotapeer\n" +                     // 2
                           "# fine\n" +                               // 3
                           "colour=red " + good.to_string() + "\n" +  // 4
                           "service= " + good.to_string() + "\n" +    // 5
                           "service=ssh,\n" +                         // 6
                           "service=ssh\n" +                          // 7
                           "service=a/b " + good.to_string() + "\n";  // 8
  const auto f = parse_authorized_keys(text);
  ASSERT_EQ(f.entries.size(), 1u);
  EXPECT_EQ(f.entries[0].line, 1);
  ASSERT_EQ(f.problems.size(), 6u);
  EXPECT_EQ(f.problems[0].line, 2);
  EXPECT_THAT(f.problems[0].message, HasSubstr("expected a peer ID"));
  EXPECT_EQ(f.problems[1].line, 4);
  EXPECT_THAT(f.problems[1].message, HasSubstr("unknown option \"colour\""));
  EXPECT_EQ(f.problems[2].line, 5);
  EXPECT_EQ(f.problems[3].line, 6);
  EXPECT_EQ(f.problems[4].line, 7);
  EXPECT_THAT(f.problems[4].message, HasSubstr("expected a peer ID after the options"));
  EXPECT_EQ(f.problems[5].line, 8);
  EXPECT_THAT(f.problems[5].message, HasSubstr("bad service name"));
}

TEST(authorized_keys, refuses_overlong_lines_and_caps_the_entry_count) {
  const auto p = new_peer().to_string();
  auto f = parse_authorized_keys(p + " " + std::string(authorized_keys_limits::max_line, 'x'));
  ASSERT_EQ(f.problems.size(), 1u);
  EXPECT_THAT(f.problems[0].message, HasSubstr("line longer than"));

  std::string many;
  for (std::size_t i = 0; i <= authorized_keys_limits::max_entries; ++i) many += p + "\n";
  f = parse_authorized_keys(many);
  EXPECT_EQ(f.entries.size(), authorized_keys_limits::max_entries);
  ASSERT_EQ(f.problems.size(), 1u);
  EXPECT_EQ(f.problems[0].line, static_cast<int>(authorized_keys_limits::max_entries) + 1);
}

TEST(authorized_keys, upsert_replaces_the_peers_line_and_keeps_everything_else) {
  const auto a = new_peer(), b = new_peer();
  const std::string text = "# header\n" + a.to_string() + " old\n" + b.to_string() + "\n" +
                           a.to_string() + " duplicate\n";
  authorized_key k{a, {svc("ssh")}, "new", 0};
  const auto out = upsert_authorized_key(text, k);
  EXPECT_EQ(out, "# header\nservice=ssh " + a.to_string() + " new\n" + b.to_string() + "\n");
  const auto c = new_peer();
  EXPECT_EQ(upsert_authorized_key(out, {c, {}, "", 0}), out + c.to_string() + "\n");
}

TEST(authorized_keys, remove_drops_every_line_of_the_peer) {
  const auto a = new_peer(), b = new_peer();
  int removed = 0;
  const auto out = remove_authorized_key(
      "# keep\n" + a.to_string() + "\nservice=x " + a.to_string() + " y\n" + b.to_string() + "\n",
      a, removed);
  EXPECT_EQ(removed, 2);
  EXPECT_EQ(out, "# keep\n" + b.to_string() + "\n");
}

TEST(authorized_keys, a_comment_cannot_smuggle_in_another_entry) {
  const auto a = new_peer(), evil = new_peer();
  authorized_key k{a, {svc("web")}, "note\n" + evil.to_string(), 0};
  const auto f = parse_authorized_keys(k.to_line() + "\n");
  ASSERT_EQ(f.entries.size(), 1u);
  EXPECT_EQ(f.entries[0].peer, a);
}

TEST(authorized_keys, editing_never_writes_a_file_that_would_not_load) {
  const auto a = new_peer(), b = new_peer();
  const std::string text = a.to_string() + " alice\n";
  auto message_of = [&](const authorized_key& k) -> std::string {
    try {
      upsert_authorized_key_checked(text, k);
    } catch (const std::invalid_argument& e) {
      return e.what();
    }
    return "";
  };
  // A comment as long as the line limit allows, once, and one byte longer.
  const std::size_t room = authorized_keys_limits::max_line - b.to_string().size() - 1;
  EXPECT_EQ(message_of({b, {}, std::string(room, 'c'), 0}), "");
  EXPECT_EQ(message_of({b, {}, std::string(room + 1, 'c'), 0}),
            "the entry would be 4097 bytes, over the 4096-byte line limit; shorten the comment");
  EXPECT_EQ(message_of({b, {}, "red \x1b[31m", 0}),
            "the comment holds control character U+001B (byte 4); a comment is one line of text");
  EXPECT_EQ(message_of({b, {}, "two\nlines", 0}),
            "the comment holds control character U+000A (byte 3); a comment is one line of text");
  EXPECT_EQ(message_of({b, {}, "tab\tand caf\xc3\xa9", 0}), "");
  // A file already at the entry cap takes no new peer.
  std::string full;
  for (std::size_t i = 0; i < authorized_keys_limits::max_entries; ++i)
    full += a.to_string() + "\n";
  EXPECT_THROW(upsert_authorized_key_checked(full + "# end\n", {b, {}, "", 0}),
               std::invalid_argument);
  EXPECT_EQ(upsert_authorized_key_checked(text, {b, {}, "bob", 0}),
            text + b.to_string() + " bob\n");
}

TEST(access_policy, unrestricted_entries_allow_every_service_restricted_ones_only_theirs) {
  const auto all = new_peer(), ssh_only = new_peer(), stranger = new_peer();
  access_policy p;
  p.allow({all, {}, "", 1});
  p.allow({ssh_only, {svc("ssh")}, "", 2});
  EXPECT_TRUE(p.may_connect(all));
  EXPECT_TRUE(p.may_use(all, svc("web")));
  EXPECT_TRUE(p.may_connect(ssh_only));
  EXPECT_TRUE(p.may_use(ssh_only, svc("ssh")));
  EXPECT_FALSE(p.may_use(ssh_only, svc("web")));
  EXPECT_FALSE(p.may_connect(stranger));
  EXPECT_FALSE(p.may_use(stranger, svc("ssh")));
}

TEST(access_policy, a_per_service_file_grants_only_its_service) {
  const auto web_guest = new_peer();
  access_policy p;
  p.allow_for(svc("web"), {web_guest, {}, "", 1});
  EXPECT_TRUE(p.may_connect(web_guest));
  EXPECT_TRUE(p.may_use(web_guest, svc("web")));
  EXPECT_FALSE(p.may_use(web_guest, svc("ssh")));
  // An entry of web's file restricted to another service grants nothing.
  const auto odd = new_peer();
  p.allow_for(svc("web"), {odd, {svc("ssh")}, "", 2});
  EXPECT_FALSE(p.may_connect(odd));
}

struct policy_files : ::testing::Test {
  test::temp_dir dir;
  peer_id owner = new_peer(), guest = new_peer();

  config make_config(bool web_enabled = true) {
    auto cfg = parse_config(
        "services:\n  ssh:\n    local_address: 127.0.0.1:22\n"
        "  web:\n    local_address: 127.0.0.1:80\n    enabled: " +
            std::string(web_enabled ? "true" : "false") + "\n    authorized_keys: web.keys\n",
        dir.path() / "config.yaml");
    EXPECT_TRUE(cfg);
    return *cfg;
  }
};

TEST_F(policy_files, loads_main_and_per_service_files) {
  dir.write("authorized_keys", owner.to_string() + "\n");
  dir.write("web.keys", guest.to_string() + " guest\n");
  auto p = load_access_policy(make_config());
  ASSERT_TRUE(p) << p.error().to_string();
  EXPECT_TRUE(p->may_use(owner, svc("ssh")));
  EXPECT_TRUE(p->may_use(guest, svc("web")));
  EXPECT_FALSE(p->may_use(guest, svc("ssh")));
}

TEST_F(policy_files, ignores_the_file_of_a_disabled_service) {
  dir.write("authorized_keys", owner.to_string() + "\n");
  dir.write("web.keys", guest.to_string() + "\n");
  auto p = load_access_policy(make_config(false));
  ASSERT_TRUE(p);
  EXPECT_FALSE(p->may_connect(guest));
}

TEST_F(policy_files, refuses_a_file_readable_by_others_and_says_how_to_fix_it) {
  dir.write("authorized_keys", owner.to_string() + "\n", 0644);
  dir.write("web.keys", "");
  auto p = load_access_policy(make_config());
  ASSERT_FALSE(p);
  EXPECT_THAT(p.error().to_string(), HasSubstr("chmod 600"));
}

TEST_F(policy_files, refuses_a_per_service_file_with_a_bad_line_naming_file_and_line) {
  dir.write("authorized_keys", owner.to_string() + "\n");
  dir.write("web.keys", "# guests\nnot-a-peer\n");
  auto p = load_access_policy(make_config());
  ASSERT_FALSE(p);
  EXPECT_THAT(p.error().to_string(),
              HasSubstr((dir.path() / "web.keys").string() + ":2: expected a peer ID"));
}

TEST_F(policy_files, refuses_a_missing_file) {
  auto p = load_access_policy(make_config());
  ASSERT_FALSE(p);
  EXPECT_THAT(p.error().to_string(), HasSubstr("does not exist"));
}

TEST_F(policy_files, write_private_file_creates_mode_0600) {
  const auto path = dir.path() / "sub" / "keys";
  write_private_file(path, "x\n");
  struct stat st {};
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  EXPECT_EQ(read_small_file(path, 100), "x\n");
  EXPECT_THROW(read_small_file(path, 1), std::runtime_error);
}

}  // namespace
}  // namespace peerup::app
