#include "dht/record_store.hpp"

namespace peerup::dht {

result<wire::peer_record> validate_record(byte_span key, byte_span value) {
  return wire::validate_peer_record(key, value);
}

result<put_outcome> record_store::put(byte_span key, byte_span value, time_point now) {
  auto r = validate_record(key, value);
  if (!r) return r.error();
  const bytes k(key.begin(), key.end());
  if (auto it = records_.find(k); it != records_.end()) {
    if (now - it->second.stored < limits_.ttl && it->second.seq >= r->seq)
      return put_outcome::kept_old;
    it->second = entry{bytes(value.begin(), value.end()), r->seq, now};
    return put_outcome::replaced;
  }
  if (records_.size() >= limits_.max_records) expire(now);
  // SECURITY: at the bound a new record is refused; stored ones still refresh.
  if (records_.size() >= limits_.max_records) return errc::kad_store_full;
  records_.emplace(k, entry{bytes(value.begin(), value.end()), r->seq, now});
  return put_outcome::stored;
}

std::optional<bytes> record_store::get(byte_span key, time_point now) const {
  auto it = records_.find(bytes(key.begin(), key.end()));
  if (it == records_.end() || now - it->second.stored >= limits_.ttl) return std::nullopt;
  return it->second.value;
}

std::vector<peer_id> correction_targets(const std::vector<value_answer>& answers,
                                        std::uint64_t best_seq,
                                        const std::vector<peer_id>& closest) {
  std::vector<peer_id> out;
  auto listed = [](const std::vector<peer_id>& v, const peer_id& p) {
    for (const auto& x : v)
      if (x == p) return true;
    return false;
  };
  for (const auto& a : answers) {
    if (listed(out, a.from)) continue;
    bool worse = false;
    if (a.seq) worse = *a.seq < best_seq;
    else if (a.returned_invalid) worse = true;
    else worse = listed(closest, a.from);  // no record, but one of the k closest
    // A peer that also answered with the best (a second answer) is fine.
    bool has_best = false;
    for (const auto& b : answers)
      if (b.from == a.from && b.seq && *b.seq >= best_seq) has_best = true;
    if (worse && !has_best) out.push_back(a.from);
  }
  return out;
}

std::size_t record_store::expire(time_point now) {
  return std::erase_if(records_,
                       [&](const auto& kv) { return now - kv.second.stored >= limits_.ttl; });
}

}  // namespace peerup::dht
