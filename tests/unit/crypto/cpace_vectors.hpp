// Test vectors of draft-irtf-cfrg-cpace, appendix "Test vector for CPace using
// group ristretto255 and hash SHA-512" and the string-utility vectors of the
// appendix "CPace function definitions". Copied as published from
// github.com/cfrg/draft-irtf-cfrg-cpace, draft-irtf-cfrg-cpace.md at commit
// 8fb4056e1b9201927d9f651b9970d9d5660c7892 (2026-04-23); the same values are
// in draft-irtf-cfrg-cpace-13 (October 2024).
#pragma once

#include <string_view>

namespace peerup::test::cpace_vectors {

// Inputs.
inline constexpr std::string_view prs = "50617373776f7264";  // b'Password'
inline constexpr std::string_view ci = "0b415f696e69746961746f720b425f726573706f6e646572";
inline constexpr std::string_view sid = "7e4b4791d6a8ef019b936c79fb7f2c57";
inline constexpr std::string_view ada = "414461";  // b'ADa'
inline constexpr std::string_view adb = "414462";  // b'ADb'
inline constexpr std::string_view ya =
    "da3d23700a9e5699258aef94dc060dfda5ebb61f02a5ea77fad53f4ff0976d08";
inline constexpr std::string_view yb =
    "d2316b454718c35362d83d69df6320f38578ed5984651435e2949762d900b80d";

// Outputs.
inline constexpr std::string_view generator_string =
    "11435061636552697374726574746f3235350850617373776f726464"
    "00000000000000000000000000000000000000000000000000000000"
    "00000000000000000000000000000000000000000000000000000000"
    "00000000000000000000000000000000000000000000000000000000"
    "00000000000000000000000000000000180b415f696e69746961746f"
    "720b425f726573706f6e646572107e4b4791d6a8ef019b936c79fb7f"
    "2c57";
inline constexpr std::string_view generator_hash =
    "da6d3ddc8802fca9058755ffd3ebde08a9c2c74945901a258482a288"
    "b6663af06bf645c93cd1c51512307199c80e84908916d983b34af772"
    "05f90851a657ee27";
inline constexpr std::string_view g =
    "222b6b195fe84b1652badb6f6a3ae3d24341e7306967f0b8115b40d5698c7e56";
inline constexpr std::string_view Ya =
    "d6bac480f2c386c394efc7c47adb9925dcd2630b64f240c50f8d0eec482b9157";
inline constexpr std::string_view Yb =
    "3ea7e0b19560d7c0b0f5734f63b955286dfa8232b5ebe63324e2d9e7433f7258";
inline constexpr std::string_view K =
    "80b69a8a76457ab6a4d7f887a4bf6b55a2f80ac19c333f917a05fc9887c8b40f";
inline constexpr std::string_view transcript_ir =
    "20d6bac480f2c386c394efc7c47adb9925dcd2630b64f240c50f8d0e"
    "ec482b915703414461203ea7e0b19560d7c0b0f5734f63b955286dfa"
    "8232b5ebe63324e2d9e7433f725803414462";
inline constexpr std::string_view isk_ir =
    "b69effbf61b51d56401c0f65601abe428de8206feaaf0e32198896dc"
    "ae7b35cd2b38950a39dfd5d4a79164614c2984f7daa460b588c1e80c"
    "3fa2068af7900447";
inline constexpr std::string_view sid_output_ir =
    "bb1c449b35f0ea79a65c209f329a693d475e0ce2387bed9fe4b78f60"
    "b2a27c219813fb2cfe175ef40d2222d9261e66da7d78f7c55a303b1b"
    "8611dcdfab880c47";

// "Verification test vectors for ristretto255": a valid scalar_mult_vfy and
// the invalid inputs that MUST yield G.I.
inline constexpr std::string_view vfy_s =
    "7cd0e075fa7955ba52c02759a6c90dbbfc10e6d40aea8d283e407d88cf538a05";
inline constexpr std::string_view vfy_X =
    "2c3c6b8c4f3800e7aef6864025b4ed79bd599117e427c41bd47d93d654b4a51c";
inline constexpr std::string_view vfy_result =
    "7c13645fe790a468f62c39beb7388e541d8405d1ade69d1778c5fe3e7f6b600e";
inline constexpr std::string_view vfy_invalid_1 =
    "2b3c6b8c4f3800e7aef6864025b4ed79bd599117e427c41bd47d93d654b4a51c";
inline constexpr std::string_view vfy_invalid_2 =
    "0000000000000000000000000000000000000000000000000000000000000000";

}  // namespace peerup::test::cpace_vectors
