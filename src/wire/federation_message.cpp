#include "wire/federation_message.hpp"

#include <algorithm>

#include "crypto/signed_envelope.hpp"
#include "wire/protobuf.hpp"

namespace peerup::wire {

using pb::field;

namespace {

constexpr errc malformed = errc::federation_malformed_message;

result<std::uint64_t> read_varint(const field& f, std::uint64_t max) {
  if (!pb::is_varint(f) || f.varint > max) return malformed;
  return f.varint;
}

result<void> read_label(const field& f, std::optional<dns_label>& out) {
  if (!pb::is_len(f)) return malformed;
  auto l = dns_label::parse(as_string_view(f.bytes));
  if (!l) return malformed;
  out = std::move(*l);
  return {};
}

std::string read_text(const field& f) {
  // SECURITY: the text is for logs; keep a bounded prefix.
  return std::string(as_string_view(f.bytes).substr(0, federation_max_text));
}

byte_span payload_type_bytes() { return as_bytes(federation_record_payload_type); }

}  // namespace

std::string_view to_string(federation_status s) {
  switch (s) {
    case federation_status::ok: return "ok";
    case federation_status::not_peered: return "not a federation peer";
    case federation_status::not_trusted: return "not trusted in this direction";
    case federation_status::not_found: return "not registered";
    case federation_status::rate_limited: return "rate limited";
    case federation_status::wrong_network: return "wrong network";
    case federation_status::loop: return "forwarded request refused (loop)";
    case federation_status::malformed_message: return "malformed message";
  }
  return "unknown status";
}

bytes federation_request::encode() const {
  pb::writer w;
  w.add_varint(1, static_cast<std::uint64_t>(type));
  w.add_string(2, origin.str());
  if (network) w.add_string(3, network->str());
  if (host) w.add_string(4, host->str());
  if (hops) w.add_varint(5, hops);
  if (peer) w.add_bytes(6, peer->to_bytes());
  return w.take();
}

result<federation_request> federation_request::decode(byte_span msg) {
  // SECURITY: the stream reader bounds the frame; re-checked so the codec is
  // safe on its own.
  if (msg.size() > federation_max_message_size) return errc::too_large;
  std::optional<federation_request_type> type;
  std::optional<dns_label> origin, network, host;
  std::uint32_t hops = 0;
  std::optional<peer_id> peer;
  auto ok = pb::for_each_field(msg, [&](const field& f) -> result<void> {
    switch (f.number) {
      case 1: {
        auto v = read_varint(f, 2);
        if (!v) return v.error();
        type = static_cast<federation_request_type>(*v);
        return {};
      }
      case 2: return read_label(f, origin);
      case 3: return read_label(f, network);
      case 4: return read_label(f, host);
      case 5: {
        auto v = read_varint(f, 0xffffffffu);
        if (!v) return v.error();
        hops = static_cast<std::uint32_t>(*v);
        return {};
      }
      case 6: {
        // SECURITY: a peer ID is a multihash of at most a few dozen bytes;
        // from_bytes checks its shape before anything is kept.
        if (!pb::is_len(f) || f.bytes.size() > 128) return malformed;
        auto id = peer_id::from_bytes(f.bytes);
        if (!id) return malformed;
        peer = std::move(*id);
        return {};
      }
      default: return {};
    }
  });
  if (!ok) return ok.error() == errc::too_large ? errc::too_large : malformed;
  if (!type || !origin) return malformed;
  if (*type == federation_request_type::lookup && (!network || !host)) return malformed;
  if (*type == federation_request_type::member && !peer) return malformed;
  return federation_request{*type,          std::move(*origin), std::move(network),
                            std::move(host), hops,              std::move(peer)};
}

bytes federation_response::encode() const {
  pb::writer w;
  w.add_varint(1, static_cast<std::uint64_t>(status));
  if (!record.empty()) w.add_bytes(2, record);
  if (network) w.add_string(3, network->str());
  if (!text.empty()) w.add_string(5, std::string_view(text).substr(0, federation_max_text));
  return w.take();
}

result<federation_response> federation_response::decode(byte_span msg) {
  if (msg.size() > federation_max_message_size) return errc::too_large;
  federation_response r;
  bool have_status = false;
  auto ok = pb::for_each_field(msg, [&](const field& f) -> result<void> {
    switch (f.number) {
      case 1: {
        auto v = read_varint(f, 0xffffffffu);
        if (!v) return v.error();
        r.status = static_cast<federation_status>(*v);
        have_status = true;
        return {};
      }
      case 2:
        if (!pb::is_len(f)) return malformed;
        r.record = pb::to_bytes(f);
        return {};
      case 3: return read_label(f, r.network);
      case 5:
        if (!pb::is_len(f)) return malformed;
        r.text = read_text(f);
        return {};
      default: return {};
    }
  });
  if (!ok) return malformed;
  if (!have_status) return malformed;
  return r;
}

federation_response federation_response::status_only(federation_status s, std::string text) {
  federation_response r;
  r.status = s;
  r.text = std::move(text);
  return r;
}

bytes name_record_body::encode() const {
  pb::writer w;
  w.add_string(1, network.str());
  w.add_string(2, host.str());
  w.add_bytes(3, peer.to_bytes());
  for (const auto& a : addrs) w.add_bytes(4, a.to_bytes());
  w.add_varint(5, issued);
  w.add_varint(6, ttl);
  return w.take();
}

result<name_record_body> name_record_body::decode(byte_span msg) {
  if (msg.size() > federation_max_message_size) return errc::too_large;
  std::optional<dns_label> network, host;
  std::optional<peer_id> peer;
  std::vector<multiaddr> addrs;
  std::optional<std::uint64_t> issued;
  std::optional<std::uint32_t> ttl;
  auto ok = pb::for_each_field(msg, [&](const field& f) -> result<void> {
    switch (f.number) {
      case 1: return read_label(f, network);
      case 2: return read_label(f, host);
      case 3: {
        if (!pb::is_len(f)) return malformed;
        auto id = peer_id::from_bytes(f.bytes);
        if (!id) return malformed;
        peer = std::move(*id);
        return {};
      }
      case 4: {
        if (!pb::is_len(f)) return malformed;
        // SECURITY: bounded count before the vector grows.
        if (addrs.size() >= names_max_addrs) return malformed;
        auto a = multiaddr::from_bytes(f.bytes);
        if (!a) return malformed;
        addrs.push_back(std::move(*a));
        return {};
      }
      case 5: {
        auto v = read_varint(f, ~std::uint64_t{0});
        if (!v) return v.error();
        issued = *v;
        return {};
      }
      case 6: {
        // SECURITY: a record cannot ask to be trusted for longer than an hour.
        auto v = read_varint(f, federation_max_record_ttl);
        if (!v) return v.error();
        ttl = static_cast<std::uint32_t>(*v);
        return {};
      }
      default: return {};
    }
  });
  if (!ok) return malformed;
  if (!network || !host || !peer || !issued || !ttl || *ttl == 0) return malformed;
  return name_record_body{std::move(*network), std::move(*host), std::move(*peer),
                          std::move(addrs),    *issued,          *ttl};
}

bytes seal_name_record(const private_key& relay_key, const name_record_body& body) {
  return signed_envelope::seal(relay_key, federation_record_domain, payload_type_bytes(),
                               body.encode());
}

result<opened_name_record> open_name_record(byte_span envelope_bytes) {
  // SECURITY: the envelope is bounded by the response that carried it.
  if (envelope_bytes.size() > federation_max_message_size) return errc::too_large;
  auto env = signed_envelope::open(envelope_bytes, federation_record_domain);
  if (!env) return env.error() == errc::bad_signature ? errc::bad_signature : malformed;
  if (!std::ranges::equal(env->payload_type, payload_type_bytes())) return malformed;
  auto body = name_record_body::decode(env->payload);
  if (!body) return body.error();
  return opened_name_record{std::move(*body), env->signer()};
}

}  // namespace peerup::wire
