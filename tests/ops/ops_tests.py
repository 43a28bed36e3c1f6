#!/usr/bin/env python3
"""Operations scenarios (issue 16): real peerup processes on loopback.

  python3 tests/ops/ops_tests.py --peerup build/src/cli/peerup <scenario>...
  python3 tests/ops/ops_tests.py --list

Exit 0: passed. 1: failed (logs printed). 77: skipped with the reason printed.
Every scenario works in its own temporary folder and stops its processes on
every exit path.
"""
import argparse
import contextlib
import os
import shutil
import signal
import socket
import sys
import tempfile
import time
import traceback

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from opsnode import Home, OpsError, wait_for  # noqa: E402

SCENARIOS = {}


class Skip(Exception):
    pass


def scenario(name):
    def register(fn):
        SCENARIOS[name] = fn
        return fn
    return register


class Ctx:
    def __init__(self, peerup, work):
        self.peerup = peerup
        self.work = work
        self.cleanups = []
        self.procs = []

    def home(self, name="home"):
        h = Home(self.peerup, os.path.join(self.work, name))
        self.procs.append(h)
        return h

    def path(self, name):
        return os.path.join(self.work, name)


def check(cond, what):
    if not cond:
        raise OpsError(what)


# --- systemd notify -------------------------------------------------------

class NotifySocket:
    """What systemd does for Type=notify: a datagram socket in $NOTIFY_SOCKET.
    A thread stamps each message as it arrives."""

    def __init__(self, path):
        import threading
        self.path = path
        self.s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.s.bind(path)
        self.s.settimeout(0.05)
        self.messages = []  # (monotonic time, {key: value})
        self.running = True
        self.t = threading.Thread(target=self._run, daemon=True)
        self.t.start()

    def _run(self):
        while self.running:
            try:
                data = self.s.recv(4096)
            except (socket.timeout, BlockingIOError):
                continue
            except OSError:
                return
            fields = dict(line.split("=", 1) for line in data.decode().splitlines() if "=" in line)
            self.messages.append((time.monotonic(), fields))

    def drain(self):
        time.sleep(0.06)

    def wait(self, key, value="1", after=0.0, timeout=10):
        def seen():
            return [t for t, m in list(self.messages) if m.get(key) == value and t >= after]
        return wait_for(seen, timeout, f"{key}={value} on the notify socket")[0]

    def close(self):
        self.running = False
        self.t.join(1)
        self.s.close()


def notify_env(sock, watchdog_usec=None):
    env = {"NOTIFY_SOCKET": sock.path}
    if watchdog_usec:
        env["WATCHDOG_USEC"] = str(watchdog_usec)
    return env


@scenario("notify_daemon")
def notify_daemon(ctx):
    """The daemon sends READY=1, WATCHDOG=1 every half interval, RELOADING=1
    then READY=1 on SIGHUP, and STOPPING=1 on SIGTERM."""
    sock = NotifySocket(ctx.path("notify"))
    try:
        home = ctx.home()
        home.write_config()
        t0 = time.monotonic()
        home.start(env=notify_env(sock, watchdog_usec=400_000))
        ready = sock.wait("READY")
        check(ready >= t0, "READY=1 came before the daemon started")
        # 400 ms watchdog: pings every 200 ms. Count them over 1.2 s.
        time.sleep(1.2)
        sock.drain()
        pings = [t for t, m in sock.messages if m.get("WATCHDOG") == "1"]
        check(len(pings) >= 4, f"expected >= 4 WATCHDOG=1 in 1.2 s at a 400 ms watchdog, got "
                               f"{len(pings)}")
        gaps = [b - a for a, b in zip(pings, pings[1:])]
        check(max(gaps) < 0.4, f"a watchdog gap reached the 400 ms limit: {max(gaps):.3f} s")
        before_hup = time.monotonic()
        home.proc.signal(signal.SIGHUP)
        rl = sock.wait("RELOADING", after=before_hup)
        rd = sock.wait("READY", after=rl)
        check(rd >= rl, "READY=1 after the reload came before RELOADING=1")
        msgs = [m for t, m in sock.messages if t >= rl and "RELOADING" in m]
        check("MONOTONIC_USEC" in msgs[0], f"RELOADING=1 without MONOTONIC_USEC: {msgs[0]}")
        before_term = time.monotonic()
        home.proc.signal(signal.SIGTERM)
        sock.wait("STOPPING", after=before_term)
        check(home.proc.p.wait(10) == 0, "daemon did not exit 0 after SIGTERM")
        sock.drain()
        stopped = [t for t, m in sock.messages if m.get("STOPPING") == "1"][0]
        late = [t for t, m in sock.messages if m.get("WATCHDOG") == "1" and t > stopped + 0.05]
        check(not late, f"{len(late)} WATCHDOG=1 after STOPPING=1")
        print(f"ok: READY, {len(pings)} watchdog pings (max gap {max(gaps)*1000:.0f} ms), "
              "RELOADING/READY, STOPPING")
    finally:
        sock.close()


@scenario("notify_quiet")
def notify_quiet(ctx):
    """Without $NOTIFY_SOCKET the daemon runs and stops as before (no errors)."""
    home = ctx.home()
    home.write_config()
    env = {k: "" for k in ("NOTIFY_SOCKET",)}
    home.start(env=env)
    rc = home.stop()
    check(rc == 0, f"daemon exited {rc}")
    check("sd_notify" not in home.proc.logs(), "sd_notify complained without a socket")
    print("ok")


@scenario("notify_relay_gateway")
def notify_relay_gateway(ctx):
    """`peerup relay serve` and `peerup gateway` send READY=1 and STOPPING=1."""
    from opsnode import Proc
    sock = NotifySocket(ctx.path("notify"))
    try:
        rdir = ctx.path("relay")
        r = __import__("subprocess").run([ctx.peerup, "relay", "init", "--dir", rdir],
                                         capture_output=True, text=True, timeout=30)
        check(r.returncode == 0, f"relay init failed: {r.stderr}")
        env = dict(os.environ, NOTIFY_SOCKET=sock.path, WATCHDOG_USEC="1000000")
        relay = Proc([ctx.peerup, "relay", "serve", "--dir", rdir, "--listen",
                      "/ip4/127.0.0.1/tcp/0"], env=env)
        ctx.procs.append(relay)
        sock.wait("READY")
        sock.wait("WATCHDOG")
        t = time.monotonic()
        relay.signal(signal.SIGTERM)
        sock.wait("STOPPING", after=t)
        check(relay.p.wait(10) == 0, "relay did not exit 0")
        home = ctx.home()
        home.write_config()
        t = time.monotonic()
        gw = Proc([ctx.peerup, "--config", home.config, "gateway", "--socks", "127.0.0.1:0"],
                  env=env)
        ctx.procs.append(gw)
        sock.wait("READY", after=t)
        t = time.monotonic()
        gw.signal(signal.SIGTERM)
        sock.wait("STOPPING", after=t)
        check(gw.p.wait(10) == 0, "gateway did not exit 0")
        print("ok: relay and gateway READY/WATCHDOG/STOPPING")
    finally:
        sock.close()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--peerup")
    ap.add_argument("--list", action="store_true")
    ap.add_argument("--keep", action="store_true", help="keep the work folder")
    ap.add_argument("scenarios", nargs="*")
    a = ap.parse_args()
    if a.list:
        print("\n".join(SCENARIOS))
        return 0
    rc = 0
    for name in a.scenarios:
        work = tempfile.mkdtemp(prefix=f"peerup-ops-{name}-")
        os.chmod(work, 0o755)
        ctx = Ctx(os.path.abspath(a.peerup), work)
        print(f"== {name}: {SCENARIOS[name].__doc__.strip().splitlines()[0]}")
        try:
            SCENARIOS[name](ctx)
        except Skip as e:
            print(f"SKIP {name}: {e}")
            rc = rc or 77
        except Exception:
            traceback.print_exc()
            for p in ctx.procs:
                proc = getattr(p, "proc", p)
                if proc is not None and hasattr(proc, "err"):
                    print(f"--- stderr of {proc.argv[:4]} (last 60 lines)")
                    print("\n".join(proc.err[-60:]))
            rc = 1
        finally:
            for p in reversed(ctx.procs):
                with contextlib.suppress(Exception):
                    p.stop()
            for c in reversed(ctx.cleanups):
                with contextlib.suppress(Exception):
                    c()
            if not a.keep:
                shutil.rmtree(work, ignore_errors=True)
    return rc


if __name__ == "__main__":
    sys.exit(main())
