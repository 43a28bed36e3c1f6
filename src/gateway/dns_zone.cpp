#include "gateway/dns_zone.hpp"

namespace peerup::app {

namespace dns = wire::dns;

namespace {

constexpr std::uint32_t soa_refresh = 3600, soa_retry = 600, soa_expire = 86400;

dns::name zone_name(const dns_zone_settings& s) {
  return dns::name::from_text(s.zone).value_or(dns::name{});
}

dns::record soa(const dns_zone_settings& s) {
  const dns::name zone = zone_name(s);
  dns::name mname = zone, rname = zone;
  mname.labels.insert(mname.labels.begin(), "gateway");
  rname.labels.insert(rname.labels.begin(), "hostmaster");
  return dns::record{zone, dns::rr_type::soa, s.ttl,
                     dns::soa_rdata(mname, rname, 1, soa_refresh, soa_retry, soa_expire, s.ttl)};
}

// The name exists but has no record of the asked type.
dns::answer no_data(const dns_zone_settings& s) {
  return dns::answer{dns::rcode::noerror, true, {}, {soa(s)}};
}

dns::answer respond(dns::rcode code, bool authoritative = false) {
  return dns::answer{code, authoritative, {}, {}};
}

bool ends_with_zone(const dns::name& n, const dns::name& zone) {
  if (n.labels.size() < zone.labels.size()) return false;
  const std::size_t off = n.labels.size() - zone.labels.size();
  for (std::size_t i = 0; i < zone.labels.size(); ++i) {
    const auto& a = n.labels[off + i];
    const auto& b = zone.labels[i];
    if (a.size() != b.size()) return false;
    for (std::size_t j = 0; j < a.size(); ++j) {
      const char c = (a[j] >= 'A' && a[j] <= 'Z') ? static_cast<char>(a[j] - 'A' + 'a') : a[j];
      if (c != b[j]) return false;
    }
  }
  return true;
}

}  // namespace

dns_decision decide(const dns::query& q, const dns_zone_settings& s) {
  dns_decision d;
  if (q.problem != dns::rcode::noerror || !q.q) {
    d.immediate = respond(q.problem == dns::rcode::noerror ? dns::rcode::formerr : q.problem);
    return d;
  }
  const auto& question = *q.q;
  const dns::name zone = zone_name(s);
  // Only class IN (or ANY) names live in the zone; CHAOS "version.bind" and
  // the like are not ours to answer.
  if ((question.qclass != dns::class_in && question.qclass != 255) ||
      !ends_with_zone(question.qname, zone)) {
    d.immediate = respond(dns::rcode::refused);
    return d;
  }
  if (question.qname.labels.size() == zone.labels.size()) {  // the apex
    if (question.qtype == dns::rr_type::soa || question.qtype == dns::rr_type::any)
      d.immediate = dns::answer{dns::rcode::noerror, true, {soa(s)}, {}};
    else
      d.immediate = no_data(s);
    return d;
  }
  // A label holding '.', spaces or control bytes cannot be a peer-up name.
  if (!question.qname.plain_labels()) {
    d.immediate = answer_missing(s);
    return d;
  }
  d.what = dns_decision::kind::lookup;
  const std::size_t below = question.qname.labels.size() - zone.labels.size();
  for (std::size_t i = 0; i < below; ++i) {
    if (i) d.host += '.';
    d.host += question.qname.labels[i];
  }
  return d;
}

dns::answer answer_found(const dns::query& q, const dns_zone_settings& s, std::uint32_t ip,
                         const std::optional<std::array<std::uint8_t, 16>>& own_v6) {
  const bytes v4{static_cast<std::uint8_t>(ip >> 24), static_cast<std::uint8_t>(ip >> 16),
                 static_cast<std::uint8_t>(ip >> 8), static_cast<std::uint8_t>(ip)};
  bytes v6;
  if (own_v6) {
    v6.assign(own_v6->begin(), own_v6->end());
  } else {
    v6.assign(10, 0);
    v6.push_back(0xff);
    v6.push_back(0xff);
    append(v6, v4);  // ::ffff:a.b.c.d reaches the same IPv4 listeners
  }
  const std::uint16_t t = q.q ? q.q->qtype : 0;
  dns::answer a{dns::rcode::noerror, true, {}, {}};
  if (t == dns::rr_type::a || t == dns::rr_type::any)
    a.answers.push_back(dns::record{std::nullopt, dns::rr_type::a, s.ttl, v4});
  if ((s.aaaa || own_v6) && (t == dns::rr_type::aaaa || t == dns::rr_type::any))
    a.answers.push_back(dns::record{std::nullopt, dns::rr_type::aaaa, s.ttl, v6});
  if (a.answers.empty()) return no_data(s);
  return a;
}

dns::answer answer_missing(const dns_zone_settings& s) {
  return dns::answer{dns::rcode::nxdomain, true, {}, {soa(s)}};
}

dns::answer answer_failed() { return respond(dns::rcode::servfail); }

}  // namespace peerup::app
