// Sans-I/O core of the relay's name service: who holds which host name until
// when. The I/O layer (src/protocols/names.cpp) decodes a request, checks that
// the peer is authorized, asks this class, and writes the answer.
//
// Rules:
// - A live name belongs to the peer that registered it; another peer's
//   REGISTER gets name_taken until the record expires (no takeover).
// - The holder refreshes by registering again: new expiry and addresses.
// - Records expire `ttl` after their last registration; the granted TTL is the
//   requested one clamped to [min_ttl, max_ttl] (0 asks for max_ttl).
// - Caps: max_names in total and max_names_per_peer, counting live records.
#pragma once

#include <chrono>
#include <cstddef>
#include <map>
#include <unordered_map>
#include <vector>

#include "multiformats/multiaddr.hpp"
#include "multiformats/peer_id.hpp"
#include "wire/names_message.hpp"

namespace peerup::wire {

struct name_registry_limits {
  std::size_t max_names = 4096;
  std::size_t max_names_per_peer = 4;
  std::chrono::seconds min_ttl{60};
  std::chrono::seconds max_ttl{3600};
};

struct name_record {
  peer_id peer;
  std::vector<multiaddr> addrs;
  std::chrono::steady_clock::time_point expires;
};

struct register_decision {
  names_status status = names_status::ok;
  std::chrono::seconds ttl{0};  // granted, when ok
};

class name_registry {
 public:
  // Passed in by the caller: this class reads no clock.
  using time_point = std::chrono::steady_clock::time_point;

  explicit name_registry(name_registry_limits limits);

  // SECURITY: at most names_max_addrs addresses are kept.
  register_decision register_name(const dns_label& host, const peer_id& peer,
                                  std::vector<multiaddr> addrs, std::chrono::seconds requested_ttl,
                                  time_point now);
  // The live record of `host`, or nullptr (none, or expired).
  const name_record* lookup(const dns_label& host, time_point now) const;
  // Drops expired records; returns how many.
  std::size_t expire(time_point now);

  std::size_t size() const { return records_.size(); }  // expired ones included until expire()
  std::size_t names_of(const peer_id& peer) const;
  const name_registry_limits& limits() const { return limits_; }

 private:
  void erase(std::map<dns_label, name_record>::iterator it);

  name_registry_limits limits_;
  std::map<dns_label, name_record> records_;
  std::unordered_map<peer_id, std::size_t> per_peer_;
};

}  // namespace peerup::wire
