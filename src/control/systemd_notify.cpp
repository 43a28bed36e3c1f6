#include "control/systemd_notify.hpp"

#include <spdlog/spdlog.h>
#include <systemd/sd-daemon.h>

#include <cstdlib>
#include <string>

namespace peerup::control {

systemd_notifier::systemd_notifier(net::asio::any_io_executor ex) : ex_(std::move(ex)) {
  const char* sock = std::getenv("NOTIFY_SOCKET");
  enabled_ = sock != nullptr && *sock != '\0';
  std::uint64_t usec = 0;
  // > 0 only when WATCHDOG_USEC is set and WATCHDOG_PID, if set, is us.
  if (enabled_ && sd_watchdog_enabled(0, &usec) > 0 && usec > 0)
    watchdog_ = std::chrono::microseconds(usec);
}

systemd_notifier::~systemd_notifier() {
  *alive_ = false;
  if (timer_) timer_->cancel();
}

void systemd_notifier::send(std::string_view state) {
  if (!enabled_) return;
  const std::string s(state);
  if (const int r = sd_notify(0, s.c_str()); r < 0)
    spdlog::warn("sd_notify({}) failed: {}", s.substr(0, s.find('\n')), std::strerror(-r));
}

void systemd_notifier::ready(std::string_view status) {
  send("READY=1\nSTATUS=" + std::string(status));
  arm_watchdog();
}

void systemd_notifier::reloading() {
  // MONOTONIC_USEC lets systemd >= 253 (Type=notify-reload) match the reload
  // to this message; older systemd ignores it.
  timespec ts{};
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  const auto usec = static_cast<std::uint64_t>(ts.tv_sec) * 1000000u +
                    static_cast<std::uint64_t>(ts.tv_nsec) / 1000u;
  send("RELOADING=1\nMONOTONIC_USEC=" + std::to_string(usec));
}

void systemd_notifier::stopping() {
  stopping_ = true;
  if (timer_) timer_->cancel();
  send("STOPPING=1");
}

void systemd_notifier::status(std::string_view text) { send("STATUS=" + std::string(text)); }

void systemd_notifier::arm_watchdog() {
  if (!watchdog_ || timer_ || stopping_) return;
  timer_ = std::make_unique<net::asio::steady_timer>(ex_);
  // Half the interval, as sd_watchdog_enabled(3) advises: one late tick is
  // not yet a restart.
  const auto period = *watchdog_ / 2;
  auto alive = alive_;
  net::asio::co_spawn(
      ex_,
      [this, alive, period]() -> net::awaitable<void> {
        while (*alive && !stopping_) {
          send("WATCHDOG=1");
          timer_->expires_after(period);
          co_await timer_->async_wait(net::use_nothrow);
        }
      },
      net::asio::detached);
}

}  // namespace peerup::control
