// Hex literals for test vectors (shared by the multiformats and crypto tests).
#pragma once

#include <stdexcept>
#include <string_view>

#include "common/bytes.hpp"

namespace peerup::test {

inline bytes from_hex(std::string_view hex) {
  auto nibble = [](char c) -> std::uint8_t {
    if (c >= '0' && c <= '9') return static_cast<std::uint8_t>(c - '0');
    if (c >= 'a' && c <= 'f') return static_cast<std::uint8_t>(c - 'a' + 10);
    if (c >= 'A' && c <= 'F') return static_cast<std::uint8_t>(c - 'A' + 10);
    throw std::invalid_argument("bad hex in test vector");
  };
  if (hex.size() % 2 != 0) throw std::invalid_argument("odd hex length in test vector");
  bytes out;
  for (std::size_t i = 0; i < hex.size(); i += 2) {
    out.push_back(static_cast<std::uint8_t>(nibble(hex[i]) << 4 | nibble(hex[i + 1])));
  }
  return out;
}

// Public key protobufs from libp2p/specs peer-ids/peer-ids.md "Test vectors".
inline constexpr std::string_view spec_ed25519_public =
    "080112201ed1e8fae2c4a144b8be8fd4b47bf3d3b34b871c3cacf6010f0e42d474fce27e";
inline constexpr std::string_view spec_ed25519_private =
    "080112407e0830617c4a7de83925dfb2694556b12936c477a0e1feb2e148ec9da60fee7d1ed1e8fae2c4a144b8be8f"
    "d4b47bf3d3b34b871c3cacf6010f0e42d474fce27e";
inline constexpr std::string_view spec_secp256k1_public =
    "08021221037777e994e452c21604f91de093ce415f5432f701dd8cd1a7a6fea0e630bfca99";
inline constexpr std::string_view spec_ecdsa_public =
    "0803125b3059301306072a8648ce3d020106082a8648ce3d03010703420004de3d300fa36ae0e8f5d530899d83abab"
    "44abf3161f162a4bc901d8e6ecda020e8b6d5f8da30525e71d6851510c098e5c47c646a597fb4dcec034e9f77c409e"
    "62";
inline constexpr std::string_view spec_rsa_public =
    "080012a60430820222300d06092a864886f70d01010105000382020f003082020a0282020100e1beab071d08200bde"
    "24eef00d049449b07770ff9910257b2d7d5dda242ce8f0e2f12e1af4b32d9efd2c090f66b0f29986dbb645dae98800"
    "89704a94e5066d594162ae6ee8892e6ec70701db0a6c445c04778eb3de1293aa1a23c3825b85c6620a2bc3f82f9b0c"
    "309bc0ab3aeb1873282bebd3da03c33e76c21e9beb172fd44c9e43be32e2c99827033cf8d0f0c606f4579326c930eb"
    "4e854395ad941256542c793902185153c474bed109d6ff5141ebf9cd256cf58893a37f83729f97e7cb435ec679d2e3"
    "3901d27bb35aa0d7e20561da08885ef0abbf8e2fb48d6a5487047a9ecb1ad41fa7ed84f6e3e8ecd5d98b3982d2a901"
    "b4454991766da295ab78822add5612a2df83bcee814cf50973e80d7ef38111b1bd87da2ae92438a2c8cbcc70b31ee3"
    "19939a3b9c761dbc13b5c086d6b64bf7ae7dacc14622375d92a8ff9af7eb962162bbddebf90acb32adb5e4e4029f1c"
    "96019949ecfbfeffd7ac1e3fbcc6b6168c34be3d5a2e5999fcbb39bba7adbca78eab09b9bc39f7fa4b93411f4cc175"
    "e70c0a083e96bfaefb04a9580b4753c1738a6a760ae1afd851a1a4bdad231cf56e9284d832483df215a46c1c21bdf0"
    "c6cfe951c18f1ee4078c79c13d63edb6e14feaeffabc90ad317e4875fe648101b0864097e998f0ca3025ef9638cd2b"
    "0caecd3770ab54a1d9c6ca959b0f5dcbc90caeefc4135baca6fd475224269bbe1b0203010001";

// Their peer IDs (base58btc and CIDv1), as computed by other libp2p
// implementations' test suites and cross-checked independently.
inline constexpr std::string_view spec_ed25519_peer =
    "12D3KooWBtg3aaRMjxwedh83aGiUkwSxDwUZkzuJcfaqUmo7R3pq";
inline constexpr std::string_view spec_ed25519_cid =
    "bafzaajaiaejcahwr5d5ofrfbis4l5d6uwr57hu5tjodrypfm6yaq6dsc2r2pzyt6";
inline constexpr std::string_view spec_secp256k1_peer =
    "16Uiu2HAmLhLvBoYaoZfaMUKuibM6ac163GwKY74c5kiSLg5KvLpY";
inline constexpr std::string_view spec_secp256k1_cid =
    "bafzaajiiaijcca3xo7uzjzcsyilaj6i54cj44qk7kqzpoao5rti2pjx6udtdbp6kte";
inline constexpr std::string_view spec_ecdsa_peer =
    "QmVMT29id3TUASyfZZ6k9hmNyc2nYabCo4uMSpDw4zrgDk";
inline constexpr std::string_view spec_ecdsa_cid =
    "bafzbeidigywdclqvl5hxfefwp5onbffcfife7pza57mmfb4tiqmtkdjw64";
inline constexpr std::string_view spec_rsa_peer = "QmaeANgBs1DTSxWSrPPtobgQuxW8XTfsS4ydbK4rCHzqxG";

}  // namespace peerup::test
