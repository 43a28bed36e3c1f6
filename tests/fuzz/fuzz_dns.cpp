// The gateway's DNS path on arbitrary packets: parse_query, the zone decision
// (peerup/dns_zone) and encode_response. Byte 0 picks UDP or TCP limits and
// AAAA; the rest is the packet. Every answer must fit the limit it was built
// for, keep the query's ID, be a response, and carry the question only when
// the query had one.
#include "fuzz_common.hpp"
#include "gateway/dns_zone.hpp"
#include "wire/dns_message.hpp"

using namespace peerup;
namespace dns = peerup::wire::dns;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  fuzz::input in(data, size);
  const std::uint8_t mode = in.u8();
  const byte_span packet = in.rest();
  auto q = dns::parse_query(packet);
  if (!q) {
    FUZZ_CHECK(q.error() == errc::dns_invalid);
    FUZZ_CHECK(packet.size() < dns::header_size || (packet[2] & 0x80) != 0);
    return 0;
  }
  if (q->q) {
    FUZZ_CHECK(q->q->qname.wire_size() <= dns::max_name_length);
    for (const auto& l : q->q->qname.labels) FUZZ_CHECK(!l.empty() && l.size() <= 63);
  }
  app::dns_zone_settings zone;
  zone.aaaa = (mode & 2) != 0;
  zone.zone = (mode & 4) ? "peerup.internal" : "p2p";
  const bool tcp = (mode & 1) != 0;
  const auto d = app::decide(*q, zone);
  dns::answer a = d.immediate;
  if (d.what == app::dns_decision::kind::lookup) {
    FUZZ_CHECK(!d.host.empty());
    a = (mode & 8) ? app::answer_missing(zone) : app::answer_found(*q, zone, 0x7f400102u);
  }
  const std::size_t limit = dns::response_limit(*q, tcp);
  FUZZ_CHECK(limit >= dns::classic_udp_limit && limit <= dns::max_message_size);
  const bytes reply = dns::encode_response(*q, a, limit);
  FUZZ_CHECK(reply.size() >= dns::header_size && reply.size() <= limit);
  FUZZ_CHECK(reply[0] == packet[0] && reply[1] == packet[1]);
  FUZZ_CHECK((reply[2] & 0x80) != 0);
  FUZZ_CHECK((reply[4] << 8 | reply[5]) == (q->q ? 1 : 0));
  // A response is never taken for a query (so two servers cannot loop).
  FUZZ_CHECK(!dns::parse_query(reply));
  return 0;
}
