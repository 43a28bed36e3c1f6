#include "wire/dns_message.hpp"

#include <algorithm>

namespace peerup::wire::dns {

namespace {

constexpr std::uint16_t flag_qr = 0x8000;
constexpr std::uint16_t flag_aa = 0x0400;
constexpr std::uint16_t flag_tc = 0x0200;
constexpr std::uint16_t flag_rd = 0x0100;
constexpr std::size_t rr_fixed_size = 10;  // type, class, ttl, rdlength
constexpr std::size_t max_pointer_jumps = 64;

std::uint16_t get_u16(byte_span in, std::size_t at) {
  return static_cast<std::uint16_t>(in[at] << 8 | in[at + 1]);
}
std::uint32_t get_u32(byte_span in, std::size_t at) {
  return static_cast<std::uint32_t>(get_u16(in, at)) << 16 | get_u16(in, at + 2);
}
void put_u16(bytes& out, std::uint16_t v) {
  out.push_back(static_cast<std::uint8_t>(v >> 8));
  out.push_back(static_cast<std::uint8_t>(v));
}
void put_u32(bytes& out, std::uint32_t v) {
  put_u16(out, static_cast<std::uint16_t>(v >> 16));
  put_u16(out, static_cast<std::uint16_t>(v));
}

// Reads the name at `pos`; sets `pos` past it (past the first pointer when
// the name is compressed).
result<name> read_name(byte_span msg, std::size_t& pos) {
  name out;
  std::size_t cur = pos;
  std::optional<std::size_t> end;
  // SECURITY: every pointer must point before the lowest position reached so
  // far, so positions strictly decrease and no pointer chain can loop; the
  // jump count and the 255-byte name bound cap the work besides.
  std::size_t lowest = pos;
  std::size_t jumps = 0;
  std::size_t wire = 1;
  for (;;) {
    if (cur >= msg.size()) return make_error_code(errc::dns_invalid);
    const std::uint8_t len = msg[cur];
    if ((len & 0xc0) == 0xc0) {
      if (cur + 1 >= msg.size()) return make_error_code(errc::dns_invalid);
      const std::size_t target = static_cast<std::size_t>(get_u16(msg, cur) & 0x3fff);
      if (target >= lowest || ++jumps > max_pointer_jumps)
        return make_error_code(errc::dns_invalid);
      if (!end) end = cur + 2;
      lowest = target;
      cur = target;
      continue;
    }
    // 0x40 and 0x80 are the extended / reserved label types: refused.
    if ((len & 0xc0) != 0) return make_error_code(errc::dns_invalid);
    if (len == 0) {
      if (!end) end = cur + 1;
      break;
    }
    // SECURITY: labels are <= 63 bytes (the two flag bits) and the name
    // <= 255 bytes in all, checked before the label is copied.
    wire += 1 + len;
    if (wire > max_name_length) return make_error_code(errc::dns_invalid);
    if (cur + 1 + len > msg.size()) return make_error_code(errc::dns_invalid);
    out.labels.emplace_back(as_string_view(msg.subspan(cur + 1, len)));
    cur += 1 + len;
  }
  pos = *end;
  return out;
}

enum class record_kind { other, opt };

// Skips one resource record, or reads it into `opt_out` when it is an OPT.
result<record_kind> read_record(byte_span msg, std::size_t& pos, edns& opt_out) {
  auto owner = read_name(msg, pos);
  if (!owner) return owner.error();
  if (pos + rr_fixed_size > msg.size()) return make_error_code(errc::dns_invalid);
  const std::uint16_t type = get_u16(msg, pos);
  const std::uint16_t klass = get_u16(msg, pos + 2);
  const std::uint32_t ttl = get_u32(msg, pos + 4);
  const std::size_t rdlength = get_u16(msg, pos + 8);
  pos += rr_fixed_size;
  // SECURITY: RDLENGTH is checked against the bytes actually present.
  if (pos + rdlength > msg.size()) return make_error_code(errc::dns_invalid);
  const auto rdata = msg.subspan(pos, rdlength);
  pos += rdlength;
  if (type != rr_type::opt) return record_kind::other;
  // RFC 6891 6.1.2: the OPT owner is the root.
  if (!owner->labels.empty()) return make_error_code(errc::dns_invalid);
  // Options are {code, length, data}; each must fit in RDATA.
  for (std::size_t at = 0; at < rdata.size();) {
    if (at + 4 > rdata.size()) return make_error_code(errc::dns_invalid);
    const std::size_t len = get_u16(rdata, at + 2);
    if (at + 4 + len > rdata.size()) return make_error_code(errc::dns_invalid);
    at += 4 + len;
  }
  opt_out = edns{klass, static_cast<std::uint8_t>(ttl >> 16), (ttl & 0x8000) != 0};
  return record_kind::opt;
}

void put_name(bytes& out, const name& n) {
  for (const auto& l : n.labels) {
    out.push_back(static_cast<std::uint8_t>(l.size()));
    append(out, as_bytes(l));
  }
  out.push_back(0);
}

void put_record(bytes& out, const record& r, bool have_question) {
  if (r.owner)
    put_name(out, *r.owner);
  else if (have_question)
    put_u16(out, 0xc000 | header_size);  // the question's name
  else
    out.push_back(0);
  put_u16(out, r.type);
  put_u16(out, class_in);
  put_u32(out, r.ttl);
  put_u16(out, static_cast<std::uint16_t>(std::min<std::size_t>(r.rdata.size(), 0xffff)));
  out.insert(
      out.end(), r.rdata.begin(),
      r.rdata.begin() + static_cast<std::ptrdiff_t>(std::min<std::size_t>(r.rdata.size(), 0xffff)));
}

bytes build(const query& q, const answer& a, bool truncated) {
  const auto code = static_cast<std::uint16_t>(a.code);
  std::uint16_t flags =
      static_cast<std::uint16_t>(flag_qr | (q.hdr.flags & 0x7800) | (code & 0x0f));
  if (a.authoritative) flags |= flag_aa;
  if (truncated) flags |= flag_tc;
  if (q.hdr.recursion_desired()) flags |= flag_rd;
  const bool records = !truncated;
  bytes out;
  out.reserve(classic_udp_limit);
  put_u16(out, q.hdr.id);
  put_u16(out, flags);
  put_u16(out, q.q ? 1 : 0);
  put_u16(out, static_cast<std::uint16_t>(records ? a.answers.size() : 0));
  put_u16(out, static_cast<std::uint16_t>(records ? a.authority.size() : 0));
  put_u16(out, q.opt ? 1 : 0);
  if (q.q) {
    put_name(out, q.q->qname);
    put_u16(out, q.q->qtype);
    put_u16(out, q.q->qclass);
  }
  if (records) {
    for (const auto& r : a.answers) put_record(out, r, q.q.has_value());
    for (const auto& r : a.authority) put_record(out, r, q.q.has_value());
  }
  if (q.opt) {
    out.push_back(0);  // root owner
    put_u16(out, rr_type::opt);
    put_u16(out, our_udp_payload);
    put_u32(out, static_cast<std::uint32_t>(code >> 4) << 24);  // extended rcode, version 0
    put_u16(out, 0);
  }
  return out;
}

}  // namespace

std::string name::text() const {
  std::string out;
  for (const auto& l : labels) {
    if (!out.empty()) out += '.';
    for (char c : l) out += (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
  }
  return out;
}

std::optional<name> name::from_text(std::string_view dotted) {
  if (!dotted.empty() && dotted.back() == '.') dotted.remove_suffix(1);
  name n;
  std::size_t wire = 1;
  while (!dotted.empty()) {
    const auto dot = dotted.find('.');
    const auto label = dotted.substr(0, dot);
    if (label.empty() || label.size() > max_label_length) return std::nullopt;
    wire += 1 + label.size();
    if (wire > max_name_length) return std::nullopt;
    n.labels.emplace_back(label);
    if (dot == std::string_view::npos) break;
    dotted.remove_prefix(dot + 1);
    if (dotted.empty()) return std::nullopt;  // "a..": an empty last label
  }
  return n;
}

bool name::plain_labels() const {
  return std::all_of(labels.begin(), labels.end(), [](const std::string& l) {
    return std::all_of(l.begin(), l.end(), [](char c) {
      return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
             c == '-' || c == '_';
    });
  });
}

std::size_t name::wire_size() const {
  std::size_t n = 1;
  for (const auto& l : labels) n += 1 + l.size();
  return n;
}

result<query> parse_query(byte_span msg) {
  // 1. header; drop what is too short to answer or is itself a response
  // 2. exactly one question (QDCOUNT != 1 is FORMERR)
  // 3. answer and authority records skipped (a query should have none)
  // 4. additional records: at most one OPT, whose version must be 0
  // 5. no bytes may follow the last record
  if (msg.size() < header_size) return make_error_code(errc::dns_invalid);
  query q;
  q.hdr = header{get_u16(msg, 0), get_u16(msg, 2), get_u16(msg, 4),
                 get_u16(msg, 6), get_u16(msg, 8), get_u16(msg, 10)};
  if (q.hdr.is_response()) return make_error_code(errc::dns_invalid);
  std::size_t pos = header_size;
  auto formerr = [&q] {
    q.problem = rcode::formerr;
    return q;
  };
  if (q.hdr.qdcount != 1) return formerr();
  auto qname = read_name(msg, pos);
  if (!qname || pos + 4 > msg.size()) return formerr();
  q.q = question{std::move(*qname), get_u16(msg, pos), get_u16(msg, pos + 2)};
  pos += 4;
  // SECURITY: the counts are untrusted, but every record consumes at least
  // 11 bytes or fails, so the loop is bounded by the message size.
  edns opt;
  const std::size_t skipped = std::size_t{q.hdr.ancount} + q.hdr.nscount;
  for (std::size_t i = 0; i < skipped; ++i) {
    auto r = read_record(msg, pos, opt);
    if (!r || *r == record_kind::opt) return formerr();  // OPT outside the additional section
  }
  for (std::size_t i = 0; i < q.hdr.arcount; ++i) {
    auto r = read_record(msg, pos, opt);
    if (!r) return formerr();
    if (*r == record_kind::opt) {
      if (q.opt) return formerr();  // RFC 6891 6.1.1: at most one OPT
      q.opt = opt;
    }
  }
  if (pos != msg.size()) return formerr();
  if (q.hdr.opcode() != 0)
    q.problem = rcode::notimp;
  else if (q.opt && q.opt->version != 0)
    q.problem = rcode::badvers;
  return q;
}

std::size_t response_limit(const query& q, bool tcp) {
  if (tcp) return max_message_size;
  if (!q.opt) return classic_udp_limit;
  return std::clamp<std::size_t>(q.opt->udp_size, classic_udp_limit, our_udp_payload);
}

bytes encode_response(const query& q, const answer& a, std::size_t limit) {
  bytes full = build(q, a, false);
  if (full.size() <= limit) return full;
  return build(q, a, true);
}

bytes soa_rdata(const name& mname, const name& rname, std::uint32_t serial, std::uint32_t refresh,
                std::uint32_t retry, std::uint32_t expire, std::uint32_t minimum) {
  bytes out;
  put_name(out, mname);
  put_name(out, rname);
  for (auto v : {serial, refresh, retry, expire, minimum}) put_u32(out, v);
  return out;
}

bytes encode_query(std::uint16_t id, std::string_view dotted, std::uint16_t qtype,
                   std::optional<edns> opt) {
  auto n = name::from_text(dotted);
  if (!n) return {};
  bytes out;
  put_u16(out, id);
  put_u16(out, flag_rd);
  put_u16(out, 1);
  put_u16(out, 0);
  put_u16(out, 0);
  put_u16(out, opt ? 1 : 0);
  put_name(out, *n);
  put_u16(out, qtype);
  put_u16(out, class_in);
  if (opt) {
    out.push_back(0);
    put_u16(out, rr_type::opt);
    put_u16(out, opt->udp_size);
    put_u32(out, static_cast<std::uint32_t>(opt->version) << 16 | (opt->dnssec_ok ? 0x8000u : 0u));
    put_u16(out, 0);
  }
  return out;
}

}  // namespace peerup::wire::dns
