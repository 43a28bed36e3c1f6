#include "wire/birthday.hpp"

#include <algorithm>

namespace peerup::wire {

namespace {
constexpr std::uint8_t version = 1;
constexpr std::array<std::uint8_t, 4> magic{0x00, 'p', 'u', 'b'};
}  // namespace

std::string_view to_string(nat_hint h) {
  switch (h) {
    case nat_hint::easy: return "easy";
    case nat_hint::hard: return "hard";
    case nat_hint::unknown: break;
  }
  return "unknown";
}

nat_hint classify_nat(std::uint16_t local_port, std::span<const std::uint16_t> observed) {
  if (observed.empty()) return nat_hint::unknown;
  const bool all_same =
      std::all_of(observed.begin(), observed.end(), [&](auto p) { return p == observed[0]; });
  if (!all_same) return nat_hint::hard;
  return observed[0] == local_port ? nat_hint::easy : nat_hint::hard;
}

bytes birthday_hello::encode() const {
  bytes out;
  out.reserve(size);
  out.push_back(version);
  out.push_back(static_cast<std::uint8_t>(hint));
  out.insert(out.end(), token.begin(), token.end());
  out.insert(out.end(), ip.begin(), ip.end());
  out.push_back(static_cast<std::uint8_t>(port >> 8));
  out.push_back(static_cast<std::uint8_t>(port & 0xff));
  return out;
}

result<birthday_hello> birthday_hello::decode(byte_span in) {
  // SECURITY: a fixed size; every field is checked before it is used.
  if (in.size() != size) return make_error_code(errc::birthday_malformed);
  if (in[0] != version) return make_error_code(errc::birthday_malformed);
  if (in[1] > static_cast<std::uint8_t>(nat_hint::hard))
    return make_error_code(errc::birthday_malformed);
  birthday_hello h;
  h.hint = static_cast<nat_hint>(in[1]);
  std::copy_n(in.begin() + 2, 16, h.token.begin());
  std::copy_n(in.begin() + 18, 4, h.ip.begin());
  h.port = static_cast<std::uint16_t>((in[22] << 8) | in[23]);
  // A side without an observed address says unknown, with port 0; any
  // other hint needs a port to be usable.
  if (h.hint != nat_hint::unknown && h.port == 0) return make_error_code(errc::birthday_malformed);
  return h;
}

birthday_role birthday_role_for(nat_hint ours, nat_hint theirs) {
  if (ours == nat_hint::hard && theirs == nat_hint::easy) return birthday_role::hard;
  if (ours == nat_hint::easy && theirs == nat_hint::hard) return birthday_role::easy;
  return birthday_role::none;
}

bytes encode_probe(const birthday_probe& p, const birthday_token& token) {
  bytes out(magic.begin(), magic.end());
  out.push_back(static_cast<std::uint8_t>(p.kind));
  out.push_back(0);
  out.push_back(static_cast<std::uint8_t>(p.index >> 8));
  out.push_back(static_cast<std::uint8_t>(p.index & 0xff));
  out.insert(out.end(), token.begin(), token.end());
  return out;
}

std::optional<birthday_probe> decode_probe(byte_span in, const birthday_token& token) {
  if (in.size() != birthday_probe::size) return std::nullopt;
  if (!std::equal(magic.begin(), magic.end(), in.begin())) return std::nullopt;
  if (in[4] != static_cast<std::uint8_t>(probe_kind::open) &&
      in[4] != static_cast<std::uint8_t>(probe_kind::probe))
    return std::nullopt;
  if (in[5] != 0) return std::nullopt;
  if (!std::equal(token.begin(), token.end(), in.begin() + 8)) return std::nullopt;
  return birthday_probe{.kind = static_cast<probe_kind>(in[4]),
                        .index = static_cast<std::uint16_t>((in[6] << 8) | in[7])};
}

std::size_t birthday_budget::per_tick() const {
  const auto ticks = std::max<std::int64_t>(1, duration / std::max(tick, std::chrono::milliseconds(1)));
  return std::max<std::size_t>(1, (max_probes + static_cast<std::size_t>(ticks) - 1) /
                                      static_cast<std::size_t>(ticks));
}

birthday_planner::birthday_planner(std::uint64_t seed, std::size_t max_probes,
                                   std::uint16_t first_port)
    : rng_(seed) {
  const auto first = std::max<std::uint16_t>(first_port, 1);
  ports_.reserve(65536 - first);
  for (std::uint32_t p = first; p <= 65535; ++p) ports_.push_back(static_cast<std::uint16_t>(p));
  max_ = std::min(max_probes, ports_.size());
}

std::vector<std::uint16_t> birthday_planner::next(std::size_t n) {
  std::vector<std::uint16_t> out;
  // A partial Fisher-Yates shuffle: each pick comes from the unused pool.
  while (out.size() < n && sent_ < max_) {
    std::uniform_int_distribution<std::size_t> pick(sent_, ports_.size() - 1);
    std::swap(ports_[sent_], ports_[pick(rng_)]);
    out.push_back(ports_[sent_++]);
  }
  return out;
}

}  // namespace peerup::wire
