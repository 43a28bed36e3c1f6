// systemd readiness and watchdog (sd_notify(3), Type=notify units in
// packaging/systemd): READY=1 when the process serves, RELOADING=1 then
// READY=1 around a reload, STOPPING=1 when it begins to stop, and WATCHDOG=1
// from the event loop at half the unit's WatchdogSec=, so a loop that hangs
// stops the pings and systemd restarts the process.
//
// Outside systemd (no $NOTIFY_SOCKET) every call does nothing, so the same
// binary runs under a shell, in tests and under systemd.
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string_view>

#include "net/asio.hpp"

namespace peerup::control {

class systemd_notifier {
 public:
  // Reads $NOTIFY_SOCKET and $WATCHDOG_USEC/$WATCHDOG_PID (sd_watchdog_enabled).
  // Contract: runs on `ex`, a single-threaded executor; the watchdog timer
  // runs there, so it proves that executor's loop still turns.
  explicit systemd_notifier(net::asio::any_io_executor ex);
  ~systemd_notifier();
  systemd_notifier(const systemd_notifier&) = delete;
  systemd_notifier& operator=(const systemd_notifier&) = delete;

  // Sends READY=1 with a STATUS= line and starts the watchdog pings.
  void ready(std::string_view status);
  // RELOADING=1 before a reload starts; ready() again when it is done.
  void reloading();
  // STOPPING=1, and the watchdog pings stop.
  void stopping();
  // Free-form STATUS= shown by `systemctl status`.
  void status(std::string_view text);

  // The watchdog interval the unit asked for, if any.
  std::optional<std::chrono::microseconds> watchdog_interval() const { return watchdog_; }
  bool under_systemd() const { return enabled_; }

 private:
  void send(std::string_view state);
  void arm_watchdog();

  net::asio::any_io_executor ex_;
  bool enabled_ = false;
  std::optional<std::chrono::microseconds> watchdog_;
  std::unique_ptr<net::asio::steady_timer> timer_;
  bool stopping_ = false;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace peerup::control
