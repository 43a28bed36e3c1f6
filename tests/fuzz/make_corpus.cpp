// Writes the seed corpora: a few valid inputs per fuzz target, produced by our
// own encoders so they match the wire formats exactly. Run after a format or
// a harness layout changes:  ./make_fuzz_corpus tests/fuzz/corpus
// Seeds for the RSA/ECDSA/secp256k1 keys use freshly generated keys, so those
// files change on every run; everything else is deterministic.
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>

#include "../unit/crypto/tls_vectors.hpp"
#include "../unit/multiformats/test_hex.hpp"
#include "corpus_sequences.hpp"
#include "crypto/signed_envelope.hpp"
#include "crypto/tls_certificate.hpp"
#include "multiformats/base32.hpp"
#include "multiformats/base58.hpp"
#include "multiformats/multibase.hpp"
#include "noise_fixtures.hpp"
#include "tls_fixtures.hpp"
#include "wire/autonat_message.hpp"
#include "wire/birthday.hpp"
#include "wire/dcutr_message.hpp"
#include "wire/dns_message.hpp"
#include "wire/identify_message.hpp"
#include "wire/invite.hpp"
#include "wire/relay_invite.hpp"
#include "wire/length_prefixed.hpp"
#include "wire/multistream.hpp"
#include "wire/names_message.hpp"
#include "wire/federation_message.hpp"
#include "wire/pairing.hpp"
#include "wire/kad_message.hpp"
#include "wire/relay_message.hpp"
#include "wire/peer_record.hpp"
#include "wire/relay_server_state.hpp"
#include "wire/relay_voucher.hpp"
#include "wire/service_catalog_message.hpp"
#include "wire/socks5.hpp"
#include "wire/yamux_frame.hpp"

using namespace peerup;
namespace fs = std::filesystem;

namespace {

fs::path root;

void write(const std::string& target, const std::string& name, byte_span data) {
  const fs::path dir = root / target;
  fs::create_directories(dir);
  std::ofstream(dir / name, std::ios::binary)
      .write(reinterpret_cast<const char*>(data.data()), static_cast<std::streamsize>(data.size()));
}
void write(const std::string& target, const std::string& name, std::string_view text) {
  write(target, name, as_bytes(text));
}

bytes cat(std::initializer_list<byte_span> parts) {
  bytes out;
  for (auto p : parts) append(out, p);
  return out;
}
bytes as_bytes_vec(std::string_view s) { return {s.begin(), s.end()}; }
bytes u8(std::size_t v) { return {static_cast<std::uint8_t>(v)}; }
bytes u16(std::size_t v) {
  return {static_cast<std::uint8_t>(v >> 8), static_cast<std::uint8_t>(v)};
}

const peer_id alice = fuzz::initiator_identity().to_peer_id();
const peer_id relay = fuzz::responder_identity().to_peer_id();
// An RSA-style (sha256 multihash) peer ID.
const peer_id qm_peer = peer_id::from_public_key(bytes(300, 0x30));

std::vector<multiaddr> sample_addrs() {
  std::vector<multiaddr> out;
  for (auto text : {"/ip4/127.0.0.1/tcp/4001", "/ip6/::1/tcp/4001",
                    "/ip4/192.0.2.7/udp/4001/quic-v1", "/dns4/relay.example.com/tcp/443/wss",
                    "/dnsaddr/bootstrap.libp2p.io", "/ip6zone/eth0/ip6/fe80::1/tcp/22",
                    "/ip4/10.0.0.0/ipcidr/8", "/ip4/1.2.3.4/tcp/443/tls/sni/example.com/ws",
                    "/ip4/1.2.3.4/udp/443/quic-v1/webtransport/certhash/"
                    "uEiDDq4_xNyDorZBH3TlGazyJdOWSwvo4PUo5YHFMrvDE8g"}) {
    out.push_back(multiaddr::parse(text).value());
  }
  out.push_back(multiaddr::parse("/ip4/203.0.113.5/tcp/4001").value().with_peer(relay));
  out.push_back(multiaddr::parse("/ip4/203.0.113.5/tcp/4001/p2p/" + relay.to_string() +
                                 "/p2p-circuit/p2p/" + alice.to_string())
                    .value());
  out.push_back(multiaddr::from_peer(qm_peer));
  return out;
}

void multiformats() {
  int i = 0;
  for (std::uint64_t v : {0ull, 1ull, 127ull, 128ull, 300ull, 16384ull, (1ull << 63) - 1}) {
    write("varint", "v" + std::to_string(i++), varint::encode(v));
  }
  write("varint", "truncated", bytes{0x80, 0x80});
  i = 0;
  for (const auto& a : sample_addrs()) {
    write("multiaddr_bytes", "a" + std::to_string(i), a.to_bytes());
    write("multiaddr_text", "a" + std::to_string(i++), a.to_string());
  }
  write("multiaddr_text", "ipfs_alias", "/ip4/1.2.3.4/tcp/1/ipfs/" + qm_peer.to_string());
  write("multiaddr_text", "cid_peer", "/p2p/" + alice.to_cid_string());

  write("peer_id", "ed25519", cat({u8(1), as_bytes(alice.to_string())}));
  write("peer_id", "qm", cat({u8(1), as_bytes(qm_peer.to_string())}));
  write("peer_id", "cid", cat({u8(1), as_bytes(alice.to_cid_string())}));
  write("peer_id", "bytes", cat({u8(0), alice.to_bytes()}));

  const bytes sample = {0, 0, 1, 2, 3, 0xfe, 0xff};
  write("multibase", "base58", cat({u8(0), as_bytes(base58::encode(sample))}));
  write("multibase", "base32", cat({u8(1), as_bytes(base32::encode(sample))}));
  write("multibase", "mb_z", cat({u8(2), as_bytes(multibase::encode_base58btc(sample))}));
  write("multibase", "mb_b", cat({u8(2), as_bytes(multibase::encode_base32(sample))}));
  write("multibase", "mb_u", cat({u8(2), as_bytes(multibase::encode_base64url(sample))}));
}

// --- keys: layout [u16 key length][key][u8 msg length][msg][signature] ---

using pkey_ptr = std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)>;

bytes openssl_sign(EVP_PKEY* key, byte_span message) {
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  std::size_t len = 0;
  EVP_DigestSignInit(ctx.get(), nullptr, EVP_sha256(), nullptr, key);
  EVP_DigestSign(ctx.get(), nullptr, &len, message.data(), message.size());
  bytes sig(len);
  EVP_DigestSign(ctx.get(), sig.data(), &len, message.data(), message.size());
  sig.resize(len);
  return sig;
}

bytes spki(EVP_PKEY* key) {
  unsigned char* der = nullptr;
  const int n = i2d_PUBKEY(key, &der);
  bytes out(der, der + n);
  OPENSSL_free(der);
  return out;
}

void key_seed(const std::string& name, key_type type, byte_span data, byte_span message,
              byte_span signature) {
  const bytes pb = public_key::from_raw(type, data).value().to_protobuf();
  write("public_key", name, cat({u16(pb.size()), pb, u8(message.size()), message, signature}));
}

void keys() {
  const auto msg = as_bytes("libp2p signature test");
  const auto ed = fuzz::initiator_identity();
  key_seed("ed25519", key_type::ed25519, ed.get_public_key().raw(), msg, ed.sign(msg));

  pkey_ptr rsa(EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", size_t{2048}), EVP_PKEY_free);
  key_seed("rsa", key_type::rsa, spki(rsa.get()), msg, openssl_sign(rsa.get(), msg));
  pkey_ptr p256(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256"), EVP_PKEY_free);
  key_seed("ecdsa", key_type::ecdsa, spki(p256.get()), msg, openssl_sign(p256.get(), msg));
  pkey_ptr k1(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "secp256k1"), EVP_PKEY_free);
  bytes point(65);
  std::size_t point_len = 0;
  EVP_PKEY_get_octet_string_param(k1.get(), OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY, point.data(),
                                  point.size(), &point_len);
  if (point_len == 65) {  // 04 || x || y -> compressed (02|03) || x, as libp2p carries it
    point[0] = static_cast<std::uint8_t>(0x02 | (point[64] & 1));
    point_len = 33;
  }
  point.resize(point_len);
  key_seed("secp256k1", key_type::secp256k1, point, msg, openssl_sign(k1.get(), msg));
}

// --- wire messages ---

wire::identify_message sample_identify() {
  wire::identify_message m;
  m.protocol_version = "ipfs/0.1.0";
  m.agent_version = "peerup/0.1.0";
  m.public_key = fuzz::responder_identity().get_public_key().to_protobuf();
  m.set_listen_addrs({sample_addrs()[0], sample_addrs()[1], sample_addrs()[9]});
  m.observed_addr = multiaddr::parse("/ip4/198.51.100.4/tcp/51234").value().to_bytes();
  m.protocols = {"/ipfs/id/1.0.0", "/ipfs/ping/1.0.0", "/libp2p/circuit/relay/0.2.0/hop"};
  return m;
}

void messages() {
  using namespace wire;
  const auto id = sample_identify();
  const bytes id_bytes = id.encode();
  write("identify", "full", id_bytes);
  wire::identify_message record_only;
  record_only.signed_peer_record = signed_envelope::seal(
      fuzz::responder_identity(), "libp2p-peer-record", bytes{0x03, 0x01}, bytes{0x0a, 0x01, 0x01});
  const bytes rec = record_only.encode();
  write("identify", "chunked", cat({u16(id_bytes.size()), id_bytes, u16(rec.size()), rec}));
  write("protobuf", "identify", id_bytes);

  const bytes voucher_env =
      seal_relay_voucher(fuzz::responder_identity(), relay_voucher::make(relay, alice, 1700003600));
  reservation_decision d{relay_status::ok, 1700003600, relay_limit{120, 131072}};
  const hop_message reply = make_reservation_reply(d, {sample_addrs()[9].to_bytes()}, voucher_env);
  const auto hop = [](const hop_message& m) { return cat({u8(0), m.encode()}); };
  write("relay_message", "hop_reserve", hop(hop_message::reserve()));
  write("relay_message", "hop_reply", hop(reply));
  write("relay_message", "hop_connect",
        hop(hop_message::connect(relay_peer::from(alice, {sample_addrs()[0]}))));
  {
    auto fwd = hop_message::connect(relay_peer::from(alice, {}));
    fwd.forwarded_for = relay_peer::from(relay);
    write("relay_message", "hop_connect_forwarded", hop(fwd));
  }
  write("relay_message", "stop_connect",
        cat({u8(1),
             stop_message::connect(relay_peer::from(alice), relay_limit{120, 131072}).encode()}));
  write("relay_message", "stop_status",
        cat({u8(1), stop_message::status_reply(relay_status::ok).encode()}));
  write("relay_message", "voucher",
        cat({u8(2), relay_voucher::make(relay, alice, 1700003600).encode()}));
  write("relay_message", "voucher_envelope", cat({u8(3), voucher_env}));
  write("relay_message", "envelope", cat({u8(4), voucher_env}));
  write("protobuf", "hop_reply", reply.encode());

  write("dcutr", "connect",
        hole_punch_message::connect(std::vector{sample_addrs()[0], sample_addrs()[2]}).encode());
  write("dcutr", "sync", hole_punch_message::sync().encode());
  {
    const birthday_token token{9, 8, 7, 6, 5, 4, 3, 2, 1, 0, 1, 2, 3, 4, 5, 6};
    write("birthday", "hello_hard",
          birthday_hello{.hint = nat_hint::hard, .token = token, .ip = {203, 0, 113, 21},
                         .port = 51234}
              .encode());
    write("birthday", "hello_unknown", birthday_hello{}.encode());
    write("birthday", "probe", encode_probe({.kind = probe_kind::probe, .index = 3}, token));
    write("birthday", "open", encode_probe({.kind = probe_kind::open, .index = 255}, token));
  }
  write("autonat", "dial",
        autonat_message::dial_request(alice, {sample_addrs()[0], sample_addrs()[1]}).encode());
  write("autonat", "ok",
        autonat_message::response(autonat_response_status::ok, sample_addrs()[0].to_bytes())
            .encode());
  write("autonat", "refused",
        autonat_message::response(autonat_response_status::e_dial_refused, std::nullopt,
                                  "dial refused")
            .encode());

  // [max size selector][u8 n][chunk]...: two messages split across chunks.
  const bytes stream = cat({frame_length_prefixed(id_bytes), frame_length_prefixed(rec)});
  bytes lp = u8(4);  // 4096
  for (std::size_t off = 0; off < stream.size(); off += 200) {
    const auto n = std::min<std::size_t>(200, stream.size() - off);
    append(lp, u8(n));
    append(lp, byte_span(stream).subspan(off, n));
  }
  write("length_prefixed", "two_messages", lp);
  const auto kpeer = [](const peer_id& p) {
    return kad_peer::from(p, {sample_addrs()[0], sample_addrs()[2]}, kad_connection::connected);
  };
  write("kad_message", "find_node", kad_message::find_node(alice.to_bytes()).encode());
  kad_message closer = kad_message::find_node(alice.to_bytes());
  closer.closer_peers = {kpeer(alice), kpeer(relay)};
  write("kad_message", "find_node_answer", closer.encode());
  const bytes cid_hash{0x12, 0x20, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16,
                       17,   18,   19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32};
  write("kad_message", "add_provider", kad_message::add_provider(cid_hash, kpeer(alice)).encode());
  kad_message providers = kad_message::get_providers(cid_hash);
  providers.provider_peers = {kpeer(relay)};
  providers.closer_peers = {kpeer(alice)};
  write("kad_message", "providers_answer", providers.encode());
  write("kad_message", "put_value",
        kad_message::put_value(kad_record{as_bytes_vec("/pk/key"), as_bytes_vec("value"),
                                          "2026-12-05T23:00:00Z"})
            .encode());
  write("length_prefixed", "small",
        cat({u8(2), u8(3), frame_length_prefixed(as_bytes("hi")), u8(1), bytes{0}}));
  // Signed peer records (the DHT's one record type) and their payload.
  const peer_record pr{alice, 1700000000000000, {sample_addrs()[0], sample_addrs()[2]}};
  write("peer_record", "sealed_by_initiator", seal_peer_record(fuzz::initiator_identity(), pr));
  write("peer_record", "payload_of_initiator", pr.encode());
  write("kad_message", "put_peer_record",
        kad_message::put_value(kad_record{peer_record_key(alice),
                                          seal_peer_record(fuzz::initiator_identity(), pr), ""})
            .encode());
}

void multistream_seeds() {
  using multistream::encode_message;
  const bytes header = encode_message(multistream::protocol_id);
  // Listener: [1] then [u8 n][chunk]...
  const bytes proposals =
      cat({header, encode_message("/tls/1.0.0"), encode_message("ls"), encode_message("/noise")});
  bytes l = u8(1);
  for (std::size_t off = 0; off < proposals.size(); off += 7) {
    const auto n = std::min<std::size_t>(7, proposals.size() - off);
    append(l, u8(n));
    append(l, byte_span(proposals).subspan(off, n));
  }
  write("multistream", "listener", l);
  const bytes lazy = cat({header, encode_message("/yamux/1.0.0"), as_bytes("early data")});
  write("multistream", "listener_lazy", cat({u8(1), u8(lazy.size()), lazy}));
  // Deferring listener: [3] then [u8 n][chunk], each pending proposal
  // followed by its decision byte: refuse /echo/1.0.0, accept /echo/2.0.0.
  const bytes first = cat({header, encode_message("/echo/1.0.0")});
  const bytes second = cat({encode_message("/echo/2.0.0"), as_bytes("early data")});
  write("multistream", "listener_deferred",
        cat({u8(3), u8(first.size()), first, u8(0), u8(second.size()), second, u8(1)}));
  // Dialer: [0] then answers.
  const bytes answers = cat({header, encode_message("na"), encode_message("/yamux/1.0.0")});
  write("multistream", "dialer", cat({u8(0), u8(answers.size()), answers}));
}

void noise_seeds() {
  using namespace noise;
  handshake init(handshake::role::initiator, fuzz::initiator_identity(), std::nullopt,
                 {"/yamux/1.0.0"}, fuzz::initiator_keys());
  handshake resp(handshake::role::responder, fuzz::responder_identity(), std::nullopt,
                 {"/yamux/1.0.0"}, fuzz::responder_keys());
  const bytes m1 = init.write_message().value();
  resp.read_message(m1).value();
  const bytes m2 = resp.write_message().value();
  init.read_message(m2).value();
  const bytes m3 = init.write_message().value();
  resp.read_message(m3).value();

  write("noise_handshake", "responder_raw", cat({u8(0), u8(m1.size()), m1, m3}));
  const bytes p_init =
      fuzz::signed_payload(fuzz::initiator_identity(), fuzz::initiator_keys(), {"/yamux/1.0.0"});
  const bytes p_resp = fuzz::signed_payload(fuzz::responder_identity(), fuzz::responder_keys(),
                                            {"/yamux/1.0.0", "/mplex/6.7.0"});
  write("noise_handshake", "responder_payload", cat({u8(1), u8(0), p_init}));
  write("noise_handshake", "initiator_raw", cat({u8(2), m2}));
  write("noise_handshake", "initiator_raw_expect", cat({u8(6), m2}));
  write("noise_handshake", "initiator_payload", cat({u8(3), p_resp}));
  write("noise_handshake", "initiator_payload_expect", cat({u8(7), p_resp}));
  write("noise_payload", "signed", p_resp);
  handshake_payload with_certs = decode_payload(p_resp).value();
  with_certs.webtransport_certhashes = {bytes(34, 0x12)};
  write("noise_payload", "certhashes", encode_payload(with_certs));
  write("protobuf", "noise_payload", p_resp);

  // Cipher: [mode] then raw [u16 n][ciphertext]... or sealed [u16 n][plain][flip]...
  auto fin = init.finish().value();
  bytes frame;
  fin.send.encrypt_frame(as_bytes("hello"), frame).value();
  write("noise_cipher", "raw", cat({u8(0), u16(frame.size() - 2), byte_span(frame).subspan(2)}));
  write("noise_cipher", "sealed",
        cat({u8(1), u16(5), as_bytes("hello"), u8(0), u16(0), u8(0), u16(3), as_bytes("abc"),
             u8(0x41)}));
  write("noise_cipher", "near_exhaustion",
        cat({u8(3), u16(1), as_bytes("a"), u8(0), u16(1), as_bytes("b"), u8(0), u16(1),
             as_bytes("c"), u8(0), u16(1), as_bytes("d"), u8(0)}));
}

void yamux_seeds() {
  using namespace yamux;
  frame_header h{.type = frame_type::data, .flags = flag::syn, .stream_id = 1, .length = 5};
  write("yamux_frame", "syn_data", encode(h));
  write("yamux_frame", "ping",
        encode(frame_header{.type = frame_type::ping, .flags = flag::syn, .length = 7}));
  write("yamux_frame", "go_away", encode(frame_header{.type = frame_type::go_away, .length = 1}));
  for (const auto& [name, seed] : fuzz::yamux_session_seeds()) write("yamux_session", name, seed);
  for (const auto& [name, seed] : fuzz::relay_state_seeds())
    write("relay_server_state", name, seed);
}

// fuzz_socks5: byte 0 = ask for a password; then the client's bytes.
// fuzz_dns: byte 0 = mode (1 TCP, 2 AAAA, 4 zone peerup.internal, 8 miss).
void gateway_seeds() {
  namespace socks5 = wire::socks5;
  namespace dns = wire::dns;
  const bytes greet = socks5::encode_greeting({socks5::method::no_auth});
  const bytes greet_auth =
      socks5::encode_greeting({socks5::method::no_auth, socks5::method::username_password});
  write("socks5", "curl_by_name", cat({u8(0), greet, socks5::encode_connect("laptop.grewal", 22)}));
  write(
      "socks5", "zone_name_early_data",
      cat({u8(0), greet, socks5::encode_connect("web.home.p2p", 80), as_bytes("GET / HTTP/1.1")}));
  write("socks5", "ipv4", cat({u8(0), greet, socks5::encode_connect_ipv4({127, 64, 1, 2}, 8080)}));
  write("socks5", "password",
        cat({u8(1), greet_auth, socks5::encode_credentials("alice", "secret"),
             socks5::encode_connect("home", 22)}));
  bytes v6 = socks5::encode_connect_ipv4({0, 0, 0, 0}, 22);
  v6[3] = 0x04;
  v6.insert(v6.begin() + 4, 12, 0);
  write("socks5", "ipv6", cat({u8(0), greet, v6}));
  bytes bind = socks5::encode_connect("home", 22);
  bind[1] = 0x02;
  write("socks5", "bind", cat({u8(0), greet, bind}));
  write("socks5", "socks4", bytes{0, 0x04, 0x01, 0x00, 0x50, 127, 0, 0, 1, 0});

  write("dns", "a_udp", cat({u8(0), dns::encode_query(1, "laptop.grewal.p2p", dns::rr_type::a)}));
  write(
      "dns", "aaaa_edns",
      cat({u8(2), dns::encode_query(2, "home.p2p", dns::rr_type::aaaa, dns::edns{1232, 0, true})}));
  write("dns", "outside_zone", cat({u8(1), dns::encode_query(3, "example.com", dns::rr_type::a)}));
  write("dns", "apex_soa", cat({u8(0), dns::encode_query(4, "p2p", dns::rr_type::soa)}));
  write("dns", "two_label_zone_miss",
        cat({u8(12), dns::encode_query(5, "x.peerup.internal", dns::rr_type::any)}));
  write("dns", "badvers", cat({u8(0), dns::encode_query(6, "a.p2p", 1, dns::edns{512, 1, false})}));
  bytes compressed = dns::encode_query(7, "a.p2p", dns::rr_type::a);
  compressed[11] = 1;
  append(compressed, bytes{1, 'b', 0xc0, 14, 0, 1, 0, 1, 0, 0, 0, 5, 0, 4, 1, 2, 3, 4});
  write("dns", "compressed_additional", cat({u8(0), compressed}));
  write("dns", "pointer_loop", bytes{0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0xc0, 12, 0, 1, 0, 1});
}

// fuzz_names: byte 0 = 0 request, 1 response, 2 service list, 3 registry ops
// ([u8 limits] then [u8 op][u8 arg]...: op 0 register, 1 lookup, 2 time, 3 expire).
void naming_seeds() {
  const auto grewal = wire::dns_label::parse("grewal").value();
  const auto home = wire::dns_label::parse("home").value();
  const auto addr = multiaddr::parse("/ip4/192.0.2.1/tcp/4001").value();
  const wire::names_request reg{wire::names_request_type::register_name, grewal, home, 600, {addr}};
  const wire::names_request look{wire::names_request_type::lookup, grewal, home, 0, {}};
  write("names", "register", cat({u8(0), reg.encode()}));
  write("names", "lookup", cat({u8(0), look.encode()}));
  wire::names_response found;
  found.peer = alice;
  found.addrs = {addr};
  found.ttl = 300;
  write("names", "found", cat({u8(1), found.encode()}));
  write("names", "taken",
        cat({u8(1), wire::names_response::status_only(wire::names_status::name_taken, "held")
                        .encode()}));
  write("names", "services",
        cat({u8(2), wire::encode_service_list({{"ssh", 22}, {"web", 8080}})}));
  // Two peers race for name 0 (arg: name = arg % 4, peer = (arg >> 2) % 4,
  // ttl = arg >> 4), time passes, the second takes it after expiry.
  write("names", "registry_takeover",
        bytes{3, 0x15, 0, 0x10, 0, 0x14, 1, 0x00, 2, 30, 3, 0, 0, 0x14, 1, 0x00});
}

// fuzz_invite: byte 0 = 0 code/link text, 1 invite binary, 2 pairing message,
// 3 relay-invite request, 4 relay-invite response.
void pairing_seeds() {
  const invite::invite_data inv{{0x12, 0x34}, {1, 2, 3, 4, 5, 6}, alice,
                                multiaddr::parse("/ip4/203.0.113.5/tcp/4001").value()};
  const invite::invite_data inv6{{0, 1}, {0, 0, 0, 0, 0, 0}, alice,
                                 multiaddr::parse("/dns4/relay.example.com/tcp/443").value()};
  write("invite", "code", cat({u8(0), as_bytes(invite::encode_code(inv).value())}));
  write("invite", "link", cat({u8(0), as_bytes(invite::encode_link(inv6).value())}));
  write("invite", "binary", cat({u8(1), invite::encode_binary(inv).value()}));
  write("invite", "binary_dns", cat({u8(1), invite::encode_binary(inv6).value()}));
  auto with_pass = inv;
  with_pass.pass = invite::relay_pass{{0xaa, 0xbb}, {9, 8, 7, 6, 5, 4}};
  write("invite", "binary_v2", cat({u8(1), invite::encode_binary(with_pass).value()}));
  write("invite", "code_v2", cat({u8(0), as_bytes(invite::encode_code(with_pass).value())}));
  write("invite", "relay_request",
        cat({u8(3), relay_invite::encode(relay_invite::request{1796515817, "laptop"}).value()}));
  write("invite", "relay_response",
        cat({u8(4), relay_invite::encode(relay_invite::response{relay_invite::status::ok,
                                                                {1, 2}, {3, 4, 5, 6, 7, 8}})
                        .value()}));
  write("invite", "relay_refusal",
        cat({u8(4), relay_invite::encode(relay_invite::response{
                                             relay_invite::status::not_sponsor, {}, {}})
                        .value()}));
  pairing::hello h;
  h.invite_id = inv.id;
  h.device_name = "laptop";
  write("invite", "hello", cat({u8(2), pairing::encode(h).value()}));
  write("invite", "reply", cat({u8(2), pairing::encode(pairing::reply{}).value()}));
  write("invite", "confirm", cat({u8(2), pairing::encode(pairing::confirm{}).value()}));
  write("invite", "welcome",
        cat({u8(2), pairing::encode(pairing::welcome{inv.relay.with_peer(relay), "home",
                                                     {"ssh", "web"}})
                        .value()}));
  write("invite", "error",
        cat({u8(2), pairing::encode(pairing::error_msg{pairing::refusal::locked}).value()}));
}

// A TBSCertificate for the fixed fuzz certificate key, with a libp2p extension
// signed by `host` (critical or not, optionally with critical keyUsage and
// basicConstraints), cut out of a certificate GnuTLS signs.
bytes fixed_key_tbs(const private_key& host, bool critical, bool key_usage) {
  gnutls_x509_privkey_t key = fuzz::tls_fixed_cert_key();
  gnutls_x509_crt_t crt = nullptr;
  gnutls_x509_crt_init(&crt);
  gnutls_pubkey_t pub = nullptr;
  gnutls_pubkey_init(&pub);
  const std::uint8_t serial[] = {0x01, 0x23, 0x45};
  const time_t made_at = 1780272000;  // 2026-06-01
  gnutls_x509_crt_set_version(crt, 3);
  gnutls_x509_crt_set_serial(crt, serial, sizeof serial);
  gnutls_x509_crt_set_dn_by_oid(crt, GNUTLS_OID_X520_COMMON_NAME, 0, "fuzz", 4);
  gnutls_x509_crt_set_activation_time(crt, made_at - 3600);
  gnutls_x509_crt_set_expiration_time(crt, made_at + 100LL * 365 * 24 * 3600);
  gnutls_x509_crt_set_key(crt, key);
  gnutls_pubkey_import_x509(pub, crt, 0);
  gnutls_datum_t spki{};
  gnutls_pubkey_export2(pub, GNUTLS_X509_FMT_DER, &spki);
  const bytes ext =
      encode_signed_key(host.get_public_key().to_protobuf(),
                        host.sign(tls_signature_message(byte_span(spki.data, spki.size))));
  gnutls_free(spki.data);
  gnutls_x509_crt_set_extension_by_oid(crt, std::string(libp2p_tls_extension_oid).c_str(),
                                       ext.data(), ext.size(), critical ? 1 : 0);
  if (key_usage) {
    gnutls_x509_crt_set_key_usage(crt, GNUTLS_KEY_DIGITAL_SIGNATURE);
    gnutls_x509_crt_set_basic_constraints(crt, 0, -1);
  }
  gnutls_x509_crt_sign2(crt, crt, key, GNUTLS_DIG_SHA256, 0);
  gnutls_datum_t der{};
  gnutls_x509_crt_export2(crt, GNUTLS_X509_FMT_DER, &der);
  const bytes cert(der.data, der.data + der.size);
  gnutls_free(der.data);
  gnutls_pubkey_deinit(pub);
  gnutls_x509_crt_deinit(crt);
  gnutls_x509_privkey_deinit(key);
  // Certificate = 30 82 LL LL || TBS; TBS = 30 82 LL LL || ... (both over 255 bytes).
  if (cert.size() < 8 || cert[1] != 0x82 || cert[5] != 0x82) return {};
  const std::size_t tbs_length = 4 + (std::size_t{cert[6]} << 8 | cert[7]);
  return bytes(cert.begin() + 4, cert.begin() + 4 + static_cast<std::ptrdiff_t>(tbs_length));
}

// fuzz_tls_certificate: [u8 mode][bytes]; mode 0 SignedKey, 1 certificate, 2 TBS to sign.
// Our certificate has a fresh key, so that file changes on every run.
void tls_seeds() {
  const std::string t = "tls_certificate";
  const auto& host = fuzz::initiator_identity();
  const bytes pb = host.get_public_key().to_protobuf();
  write(t, "signed_key", cat({u8(0), encode_signed_key(pb, host.sign(as_bytes("spki")))}));
  write(t, "signed_key_long_form",
        cat({u8(0), encode_signed_key(bytes(300, 0x08), bytes(200, 0x01))}));
  const auto made_at = std::chrono::system_clock::time_point(std::chrono::seconds(1780272000));
  write(t, "cert_ours", cat({u8(1), make_tls_identity(host, made_at).value().certificate_der}));
  write(t, "cert_spec_ed25519", cat({u8(1), test::from_hex(test::spec_cert_ed25519)}));
  write(t, "cert_spec_ecdsa", cat({u8(1), test::from_hex(test::spec_cert_ecdsa)}));
  write(t, "cert_spec_secp256k1", cat({u8(1), test::from_hex(test::spec_cert_secp256k1)}));
  write(t, "cert_spec_invalid", cat({u8(1), test::from_hex(test::spec_cert_invalid)}));
  // Mode 2: TBSCertificates over the fixed key (tls_fixtures.hpp), which the
  // harness signs. ECDSA signatures are randomized, so only the TBS is stored.
  write(t, "tbs_plain", cat({u8(2), fixed_key_tbs(host, false, false)}));
  write(t, "tbs_critical_key_usage", cat({u8(2), fixed_key_tbs(host, true, true)}));
  // js-libp2p's certificates (tests/unit/crypto/fixtures/tls, see tls_certificate_test.cpp).
  for (const char* kind : {"ed25519", "secp256k1", "ecdsa", "rsa"}) {
    const std::string name = std::string("js_") + kind + ".der";
    std::ifstream in(std::string(PEERUP_TESTS_DIR) + "/unit/crypto/fixtures/tls/" + name,
                     std::ios::binary);
    const bytes der((std::istreambuf_iterator<char>(in)), {});
    if (!der.empty()) write(t, "cert_" + name, cat({u8(1), der}));
  }
}

// fuzz_federation: byte 0 = 0 request, 1 response, 2 record body, 3 signed
// record ([u8 host: 0 server][u16 now offset] envelope), 4 state ops
// ([u8 limits] then [u8 op][u8 arg]...).
void federation_seeds() {
  using namespace wire;
  const auto grewal = dns_label::parse("grewal").value();
  const auto bob = dns_label::parse("bob").value();
  const auto server = dns_label::parse("server").value();
  const federation_request look{federation_request_type::lookup, grewal, bob, server, 0};
  const federation_request ping{federation_request_type::ping, grewal, std::nullopt, std::nullopt, 0};
  write("federation", "lookup", cat({u8(0), look.encode()}));
  write("federation", "ping", cat({u8(0), ping.encode()}));
  const federation_request member{federation_request_type::member, grewal, std::nullopt,
                                  std::nullopt, 0, alice};
  write("federation", "member", cat({u8(0), member.encode()}));
  const name_record_body body{bob, server, alice,
                              {multiaddr::parse("/ip4/192.0.2.1/tcp/4001").value()}, 1700000000,
                              600};
  // Signed by the key the fuzz target configures for bob (fixed identity 2).
  const bytes sealed = seal_name_record(fuzz::responder_identity(), body);
  federation_response found;
  found.record = sealed;
  found.network = bob;
  write("federation", "found", cat({u8(1), found.encode()}));
  write("federation", "not_found",
        cat({u8(1), federation_response::status_only(federation_status::not_found, "no").encode()}));
  write("federation", "record", cat({u8(2), body.encode()}));
  write("federation", "signed_record", cat({u8(3), u8(0), u16(100), sealed}));
  // store a, b; look them up; a lookup from bob; time; expire; remove bob
  write("federation", "state",
        bytes{4, 0x2a, 0, 0x40, 0, 0x44, 2, 0x40, 2, 0x44, 3, 0x04, 3, 0x05, 5, 20, 6, 0, 2, 0x40,
              7, 0x00, 7, 0x01, 2, 0x40});
  // member asks from bob (full) and alice (one_way); store members; remove bob
  write("federation", "member_state",
        bytes{4, 0x2a, 8, 0x00, 8, 0x11, 9, 0x04, 9, 0x05, 9, 0x02, 5, 20, 7, 0x01, 9, 0x04});
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s <corpus dir>\n", argv[0]);
    return 2;
  }
  root = argv[1];
  multiformats();
  keys();
  messages();
  multistream_seeds();
  noise_seeds();
  yamux_seeds();
  gateway_seeds();
  naming_seeds();
  federation_seeds();
  pairing_seeds();
  tls_seeds();
  return 0;
}
