#include "wire/kad_message.hpp"

#include "wire/protobuf.hpp"

namespace peerup::wire {

namespace {

using pb::field;
using pb::for_each_field;
using pb::is_len;
using pb::is_varint;

bytes encode_peer(const kad_peer& p) {
  pb::writer w;
  w.add_bytes(1, p.id);
  for (const auto& a : p.addrs) w.add_bytes(2, a);
  if (p.connection != kad_connection::not_connected) {
    w.add_varint(3, static_cast<std::uint64_t>(p.connection));
  }
  return w.take();
}

bytes encode_record(const kad_record& r) {
  pb::writer w;
  w.add_bytes(1, r.key);
  w.add_bytes(2, r.value);
  if (!r.time_received.empty()) w.add_string(5, r.time_received);
  return w.take();
}

// Reads a bytes field into `out`, refusing one over `max`.
result<void> read_bounded(const field& f, std::size_t max, bytes& out) {
  if (!is_len(f)) return errc::invalid_protobuf;
  // SECURITY: each byte field is bounded on its own, not only by the frame.
  if (f.bytes.size() > max) return errc::kad_malformed_message;
  out = pb::to_bytes(f);
  return {};
}

// Decodes one Peer. Unlike the relay codec, a repeated embedded Peer is a new
// list element (repeated field), so there is nothing to merge.
result<void> read_peer(const field& outer, std::vector<kad_peer>& list, std::size_t& dropped) {
  if (!is_len(outer)) return errc::invalid_protobuf;
  kad_peer p;
  auto ok = for_each_field(outer.bytes, [&](const field& f) -> result<void> {
    switch (f.number) {
      case 1: return read_bounded(f, kad_max_peer_id_size, p.id);
      case 2:
        if (!is_len(f)) return errc::invalid_protobuf;
        if (f.bytes.size() > kad_max_addr_size) return errc::kad_malformed_message;
        // SECURITY: addresses past the bound are dropped, not stored.
        if (p.addrs.size() >= kad_max_addrs) {
          ++dropped;
          return {};
        }
        p.addrs.push_back(pb::to_bytes(f));
        return {};
      case 3:
        if (!is_varint(f)) return errc::invalid_protobuf;
        // An unknown enum value reads as the default (proto3 keeps it as an
        // int; nothing here acts on it).
        p.connection =
            f.varint <= 3 ? static_cast<kad_connection>(f.varint) : kad_connection::not_connected;
        return {};
      default: return {};
    }
  });
  if (!ok) return ok.error();
  if (p.id.empty()) return errc::kad_malformed_message;
  // SECURITY: peers past the bound are dropped, not stored.
  if (list.size() >= kad_max_peers) {
    ++dropped;
    return {};
  }
  list.push_back(std::move(p));
  return {};
}

// Record fields are merged (proto rules for a repeated embedded message).
result<void> merge_record(const field& outer, std::optional<kad_record>& r) {
  if (!is_len(outer)) return errc::invalid_protobuf;
  if (!r) r.emplace();
  return for_each_field(outer.bytes, [&](const field& f) -> result<void> {
    switch (f.number) {
      case 1: return read_bounded(f, kad_max_key_size, r->key);
      case 2: return read_bounded(f, kad_max_value_size, r->value);
      case 5: {
        bytes t;
        // RFC 3339 text is ~30 bytes; 64 leaves room for fractions and zones.
        if (auto ok = read_bounded(f, 64, t); !ok) return ok;
        r->time_received.assign(t.begin(), t.end());
        return {};
      }
      default: return {};
    }
  });
}

std::vector<multiaddr> parse_all(const std::vector<bytes>& raw) {
  std::vector<multiaddr> out;
  for (const auto& r : raw) {
    if (auto a = multiaddr::from_bytes(r)) out.push_back(std::move(*a));
  }
  return out;
}

kad_message with_key(kad_type t, byte_span key) {
  kad_message m;
  m.type = t;
  m.key.assign(key.begin(), key.end());
  return m;
}

}  // namespace

kad_peer kad_peer::from(const peer_id& id, const std::vector<multiaddr>& addrs, kad_connection c) {
  kad_peer p{id.to_bytes(), {}, c};
  for (const auto& a : addrs) p.addrs.push_back(a.to_bytes());
  return p;
}

std::vector<multiaddr> kad_peer::multiaddrs() const { return parse_all(addrs); }

kad_message kad_message::find_node(byte_span key) { return with_key(kad_type::find_node, key); }
kad_message kad_message::get_providers(byte_span key) {
  return with_key(kad_type::get_providers, key);
}
kad_message kad_message::get_value(byte_span key) { return with_key(kad_type::get_value, key); }

kad_message kad_message::add_provider(byte_span key, kad_peer self) {
  auto m = with_key(kad_type::add_provider, key);
  m.provider_peers.push_back(std::move(self));
  return m;
}

kad_message kad_message::put_value(kad_record r) {
  auto m = with_key(kad_type::put_value, r.key);
  m.record = std::move(r);
  return m;
}

bytes kad_message::encode() const {
  pb::writer w;
  w.add_varint(1, static_cast<std::uint64_t>(type));
  if (!key.empty()) w.add_bytes(2, key);
  if (record) w.add_bytes(3, encode_record(*record));
  for (const auto& p : closer_peers) w.add_bytes(8, encode_peer(p));
  for (const auto& p : provider_peers) w.add_bytes(9, encode_peer(p));
  return w.take();
}

result<kad_message> kad_message::decode(byte_span in) {
  // SECURITY: callers frame with kad_max_message_size; re-checked here so the
  // codec is safe on its own.
  if (in.size() > kad_max_message_size) return errc::too_large;
  kad_message m;
  auto ok = for_each_field(in, [&](const field& f) -> result<void> {
    switch (f.number) {
      case 1:
        if (!is_varint(f)) return errc::invalid_protobuf;
        // proto3 would keep an unknown value; a request we cannot name has no
        // answer, so it is refused here rather than misread as PUT_VALUE.
        if (f.varint > static_cast<std::uint64_t>(kad_type::ping)) {
          return errc::kad_malformed_message;
        }
        m.type = static_cast<kad_type>(f.varint);
        return {};
      case 2: return read_bounded(f, kad_max_key_size, m.key);
      case 3: return merge_record(f, m.record);
      case 8: return read_peer(f, m.closer_peers, m.dropped);
      case 9: return read_peer(f, m.provider_peers, m.dropped);
      case 10:  // clusterLevelRaw: int32, unused by every implementation
        return is_varint(f) ? result<void>{} : result<void>{errc::invalid_protobuf};
      default: return {};
    }
  });
  if (!ok) return ok.error();
  return m;
}

}  // namespace peerup::wire
