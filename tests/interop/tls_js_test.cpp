// Our libp2p TLS certificates (crypto/tls_certificate.hpp) as js-libp2p sees
// them: @libp2p/tls's own verifyPeerCertificate (tests/interop/js-tls,
// make_certs.mjs verify) must accept one for the peer we name and refuse it
// for another peer or with a broken self-signature. The other direction
// (js-libp2p's certificates through our verifier) is in
// tests/unit/crypto/tls_certificate_test.cpp, with checked-in fixtures.
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <string>

#include "crypto/tls_certificate.hpp"
#include "support/process.hpp"
#include "support/temp_dir.hpp"

namespace peerup {
namespace {

using namespace std::chrono_literals;

std::string js_tls_dir() { return std::string(PEERUP_SOURCE_DIR) + "/tests/interop/js-tls"; }

struct verdict {
  int exit_code = -1;
  std::string line;  // {"ok":...}
};

// Runs js-libp2p's certificate check on `der`, naming `expected` as the peer.
verdict js_verify(const test::temp_dir& dir, const bytes& der, const std::string& expected) {
  const auto path = dir.path() / "cert.der";
  std::ofstream(path, std::ios::binary)
      .write(reinterpret_cast<const char*>(der.data()), static_cast<std::streamsize>(der.size()));
  auto child = test::child_process::spawn({"node", "--import", "../js/polyfill.mjs",
                                           "make_certs.mjs", "verify", path.string(), expected},
                                          js_tls_dir());
  verdict v;
  v.line = child.read_line(60s).value_or("");
  v.exit_code = child.wait(30s);
  return v;
}

class tls_js : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(std::filesystem::exists(js_tls_dir() + "/node_modules/@libp2p/tls/package.json"))
        << "run `npm ci` in " << js_tls_dir();
  }
  test::temp_dir dir;
  private_key host = private_key::generate();
  bytes certificate =
      make_tls_identity(host, std::chrono::system_clock::now()).value().certificate_der;
};

TEST_F(tls_js, js_libp2p_accepts_our_certificate_for_our_peer_id) {
  const auto v = js_verify(dir, certificate, host.to_peer_id().to_string());
  EXPECT_EQ(v.exit_code, 0) << v.line;
  EXPECT_EQ(v.line, R"({"ok":true,"peer_id":")" + host.to_peer_id().to_string() + R"("})");
}

TEST_F(tls_js, js_libp2p_refuses_our_certificate_for_another_peer) {
  const auto other = private_key::generate().to_peer_id().to_string();
  const auto v = js_verify(dir, certificate, other);
  EXPECT_EQ(v.exit_code, 1) << v.line;
  EXPECT_NE(v.line.find(R"("ok":false)"), std::string::npos) << v.line;
  EXPECT_NE(v.line.find("UnexpectedPeerError"), std::string::npos) << v.line;
}

TEST_F(tls_js, js_libp2p_refuses_our_certificate_with_a_broken_self_signature) {
  // The certificate ends with the low byte of the ECDSA signature's s.
  bytes broken = certificate;
  broken.back() ^= 0x01;
  const auto v = js_verify(dir, broken, host.to_peer_id().to_string());
  EXPECT_EQ(v.exit_code, 1) << v.line;
  EXPECT_NE(v.line.find("self signature"), std::string::npos) << v.line;
}

}  // namespace
}  // namespace peerup
