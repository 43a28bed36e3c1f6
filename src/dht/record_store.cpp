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

std::size_t record_store::expire(time_point now) {
  return std::erase_if(records_,
                       [&](const auto& kv) { return now - kv.second.stored >= limits_.ttl; });
}

}  // namespace peerup::dht
