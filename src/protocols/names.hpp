// /peerup/names/1.0.0 over streams (messages: wire/names_message.hpp).
//
// Relay side: names_server answers REGISTER and LOOKUP for one network, for
// authorized peers only, from a wire::name_registry.
// Home side: name_registrar keeps the node's host name registered with each
// relay of its networks and refreshes it at half its TTL.
// Client side: ask_names sends one request and returns the answer.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "net/host.hpp"
#include "wire/name_registry.hpp"
#include "wire/names_message.hpp"

namespace peerup::protocols {

class federation_service;  // protocols/federation.hpp

inline const protocol_id names_protocol{std::string(wire::names_protocol_id)};

struct names_server_config {
  wire::dns_label network;  // the one network this relay serves
  wire::name_registry_limits limits;
  // Who may register and look up (the relay's authorized_keys). Empty: nobody.
  std::function<bool(const peer_id&)> is_authorized;
};

struct names_server_stats {
  std::size_t names = 0;
  std::uint64_t registrations = 0, lookups = 0, refused = 0;
};

class names_server {
 public:
  // Installs the handler on `h`; the host must outlive the server.
  names_server(net::host& h, names_server_config cfg);
  ~names_server();
  names_server(const names_server&) = delete;
  names_server& operator=(const names_server&) = delete;

  names_server_stats stats() const;
  // Lookups of other networks go to `f` (docs/federation.md); nullptr: they
  // get wrong_network. `f` must outlive this server or be unset first.
  void set_federation(federation_service* f) { federation_ = f; }
  // The live record of `host` in our network (for federation answers).
  const wire::name_record* lookup_local(const wire::dns_label& host,
                                        net::steady_clock::time_point now) const {
    return registry_.lookup(host, now);
  }
  void set_authorizer(std::function<bool(const peer_id&)> f) { cfg_.is_authorized = std::move(f); }

 private:
  net::awaitable<void> serve(net::stream_ptr s, net::stream_context ctx);
  wire::names_response answer(const wire::names_request& req, const peer_id& from);
  net::awaitable<void> expiry_loop();

  net::host& host_;
  names_server_config cfg_;
  wire::name_registry registry_;
  names_server_stats stats_;
  federation_service* federation_ = nullptr;
  net::asio::steady_timer expiry_timer_;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

// Sends `req` on a new stream over `relay` and reads the answer.
// Contract: runs on the host's executor; the caller bounds it with
// with_timeout. Transport failures are errors; a refusal is an answer with
// its status.
net::awaitable<result<wire::names_response>> ask_names(net::host& h,
                                                       const net::connection_ptr& relay,
                                                       const wire::names_request& req);
// Connects to `relay` (a multiaddr ending in /p2p/<relay>) first, all of it
// bounded by `timeout`.
net::awaitable<result<wire::names_response>> ask_names(net::host& h, const multiaddr& relay,
                                                       const wire::names_request& req,
                                                       net::steady_clock::duration timeout);

struct name_registration {
  wire::dns_label network;
  multiaddr relay;
  enum class state { registering, registered, refused, backoff } current = state::registering;
  std::string last_error;
  std::chrono::seconds granted_ttl{0};
  net::steady_clock::time_point expires{};  // when registered
};
std::string_view to_string(name_registration::state s);

struct name_registrar_options {
  net::steady_clock::duration request_timeout = std::chrono::seconds(10);
  net::steady_clock::duration min_backoff = std::chrono::seconds(2);
  net::steady_clock::duration max_backoff = std::chrono::seconds(60);
  // After name_taken: the holder may let it expire, so try again this often.
  net::steady_clock::duration taken_retry = std::chrono::seconds(60);
  std::uint32_t requested_ttl = 0;  // 0: the relay's maximum
};

class name_registrar {
 public:
  // One registration of `host` per (network, relay) in `targets`.
  name_registrar(net::host& h, wire::dns_label host,
                 const std::vector<std::pair<wire::dns_label, multiaddr>>& targets,
                 name_registrar_options opts = {});
  ~name_registrar();
  name_registrar(const name_registrar&) = delete;
  name_registrar& operator=(const name_registrar&) = delete;

  // Spawns one coroutine per registration on the host's executor.
  void start();
  void stop();
  const std::vector<name_registration>& registrations() const { return regs_; }
  const wire::dns_label& host_name() const { return host_name_; }

 private:
  net::awaitable<void> keep(std::size_t index);

  net::host& host_;
  wire::dns_label host_name_;
  name_registrar_options opts_;
  std::vector<name_registration> regs_;
  std::vector<std::unique_ptr<net::asio::steady_timer>> timers_;
  bool started_ = false;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace peerup::protocols
