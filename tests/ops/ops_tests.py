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


# --- control API ------------------------------------------------------------

def api(home, method, target, body=None, headers=None, timeout=30):
    from opsnode import UnixHTTPConnection, http_call
    conn = UnixHTTPConnection(os.path.join(home.dir, "control.sock"), timeout=timeout)
    try:
        return http_call(conn, method, target, body, headers)
    finally:
        conn.close()


def expect_error(home, method, target, body, status, words, headers=None):
    st, hdrs, payload = api(home, method, target, body, headers)
    check(st == status, f"{method} {target} {str(body)[:60]!r}: expected HTTP {status}, got {st} "
                        f"{payload}")
    msg = payload.get("error", "") if isinstance(payload, dict) else str(payload)
    for w in words:
        check(w in msg, f"{method} {target}: error {msg!r} does not say {w!r}")
    return hdrs


def web_server(ctx):
    """python's http.server on loopback, serving a 2 MiB file: the home service."""
    from opsnode import Proc, free_port
    root = ctx.path("www")
    os.makedirs(root)
    with open(os.path.join(root, "blob"), "wb") as f:
        f.write(os.urandom(2 << 20))
    port = free_port()
    p = Proc([sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1",
              "--directory", root])
    ctx.procs.append(p)
    wait_for(lambda: _port_open(port), 10, "http.server")
    return port


def _port_open(port):
    with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
        return True
    return False


def two_nodes(ctx, extra_home=""):
    """home (serving `web`) and laptop, both daemons; laptop authorized on home
    through home's control API (live)."""
    web = web_server(ctx)
    home = ctx.home("home")
    home.write_config(services={"web": f"127.0.0.1:{web}"}, extra=extra_home)
    home.start()
    laptop = ctx.home("laptop")
    laptop.write_config(names={"home": home.addrs[0]})
    laptop.start()
    st, _, body = api(home, "POST", "/v1/auth", {"peer": laptop.id, "comment": "laptop"})
    check(st == 200, f"auth add: {st} {body}")
    # The laptop's daemon gates its own dials too: it must accept home.
    st, _, body = api(laptop, "POST", "/v1/auth", {"peer": home.id, "services": ["web"]})
    check(st == 200, f"auth add on the laptop: {st} {body}")
    return home, laptop, web


@scenario("control_api")
def control_api(ctx):
    """Every control route with good and bad input, on two live daemons."""
    home, laptop, web = two_nodes(ctx)
    sock = os.path.join(home.dir, "control.sock")
    mode = os.stat(sock).st_mode & 0o777
    check(mode == 0o600, f"control.sock mode {oct(mode)}, expected 0600")
    check(os.stat(os.path.join(home.dir, "control.cookie")).st_mode & 0o777 == 0o600,
          "control.cookie is not 0600")
    # status / services / events / auth list
    st, _, s = api(home, "GET", "/v1/status")
    check(st == 200 and s["peer_id"] == home.id, f"status: {st} {s}")
    st, _, svcs = api(home, "GET", "/v1/services")
    check(st == 200 and svcs[0]["name"] == "web", f"services: {svcs}")
    st, _, keys = api(home, "GET", "/v1/auth")
    check(any(k["peer"] == laptop.id and k["comment"] == "laptop" for k in keys),
          f"auth list lacks the laptop: {keys}")
    # connect (laptop -> home by name), then peers on both sides
    st, _, c = api(laptop, "POST", "/v1/connect", {"peer": "home"})
    check(st == 200 and c["peer"] == home.id and c["path"] == "direct", f"connect: {st} {c}")
    # The laptop's connect returns once its side of Noise XX is done (it sends
    # the last message); home registers the connection when that message
    # arrives, a moment later: wait for it, bounded.
    wait_for(lambda: [p for p in api(home, "GET", "/v1/peers")[2] if p["peer"] == laptop.id],
             5, "home to list the laptop in /v1/peers")
    st, _, peers = api(home, "GET", "/v1/peers")
    mine = [p for p in peers if p["peer"] == laptop.id]
    check(mine and mine[0]["path"] == "direct" and mine[0]["transport"] == "tcp",
          f"home's peers do not show the laptop direct over tcp: {peers}")
    # ping reuses the open connection; traceroute of a direct path is one hop
    st, _, pg = api(laptop, "POST", "/v1/ping", {"peer": home.id, "count": 3})
    check(st == 200 and len(pg["rtt_ms"]) == 3 and pg["reused_connection"] is True,
          f"ping: {st} {pg}")
    st, _, tr = api(laptop, "POST", "/v1/traceroute", {"peer": "home"})
    check(st == 200 and len(tr["hops"]) == 1 and tr["hops"][0]["kind"] == "target (direct)"
          and "rtt_ms" in tr["hops"][0], f"traceroute: {st} {tr}")
    # the CLI uses the socket: peerup ping says so, peerup peers lists home
    r = laptop.cli("ping", "home", "-c", "2", "-i", "0.1")
    check("via the daemon's open connection" in r.stdout, f"peerup ping did not use the daemon: "
                                                         f"{r.stdout}")
    r = laptop.cli("peers")
    check(home.id in r.stdout and "direct" in r.stdout, f"peerup peers: {r.stdout}")
    r = laptop.cli("traceroute", "home")
    check("target (direct)" in r.stdout, f"peerup traceroute: {r.stdout}")
    # events record the connection
    st, _, ev = api(home, "GET", "/v1/events")
    check(any(laptop.id in e["text"] and "connected" in e["text"] for e in ev), f"events: {ev}")
    # reload: good, then a broken config is refused and the old one stays
    st, _, rl = api(home, "POST", "/v1/reload")
    check(st == 200 and rl["reloaded"] is True, f"reload: {st} {rl}")
    with open(home.config) as f:
        good = f.read()
    with open(home.config, "a") as f:
        f.write("bogus_key: 1\n")
    st, _, rl = api(home, "POST", "/v1/reload")
    check(st == 409 and rl["reloaded"] is False and "bogus_key" in rl["error"],
          f"reload of a broken config: {st} {rl}")
    with open(home.config, "w") as f:
        f.write(good)
    # disconnect, then auth remove (live: a reconnect is refused)
    st, _, dc = api(laptop, "POST", "/v1/disconnect", {"peer": "home"})
    check(st == 200 and dc["connections"] >= 1, f"disconnect: {st} {dc}")
    wait_for(lambda: not [p for p in api(home, "GET", "/v1/peers")[2] if p["peer"] == laptop.id],
             10, "home to see the laptop gone")
    st, _, rm = api(home, "DELETE", f"/v1/auth/{laptop.id}")
    check(st == 200 and rm["removed"] == laptop.id, f"auth remove: {st} {rm}")
    # The dialer's handshake may complete before home's gater closes it, so
    # the proof is on home's side: it refuses and never lists the laptop.
    api(laptop, "POST", "/v1/connect", {"peer": "home"})
    time.sleep(0.5)
    check(not [p for p in api(home, "GET", "/v1/peers")[2] if p["peer"] == laptop.id],
          "home lists the laptop after its key was removed")
    check("not in authorized_keys" in home.proc.logs().split("removed " + laptop.id)[-1],
          "home did not refuse the laptop after auth remove")
    # bad input, route by route
    big = {"peer": "x" * (17 * 1024)}
    for method, target in [("POST", "/v1/status"), ("DELETE", "/v1/peers"),
                           ("GET", "/v1/ping"), ("PUT", "/v1/auth"), ("GET", "/v1/reload"),
                           ("GET", "/v1/connect"), ("GET", "/v1/disconnect"),
                           ("POST", "/v1/services"), ("POST", "/v1/events"),
                           ("GET", "/v1/traceroute"), ("GET", f"/v1/auth/{laptop.id}")]:
        hdrs = expect_error(home, method, target, None, 405, ["not allowed", "use"]
                            if not target.startswith("/v1/auth/") else ["DELETE"])
        check("Allow" in hdrs, f"405 for {method} {target} without an Allow header")
    for target in ["/v1/ping", "/v1/traceroute", "/v1/connect", "/v1/disconnect", "/v1/auth",
                   "/v1/reload"]:
        expect_error(home, "POST", target, big, 413, ["larger than 16384"])
        expect_error(home, "POST", target, b"{not json", 400, ["not JSON"])
        expect_error(home, "POST", target, b"[1,2]", 400, ["JSON object"])
        expect_error(home, "POST", target, {"bogus": 1}, 400, ["unknown field", "bogus"])
    expect_error(home, "POST", "/v1/ping", {"peer": "NOT A PEER"}, 400, ["peer:", "peer ID"])
    expect_error(home, "POST", "/v1/ping", {}, 400, ["missing field", "peer"])
    expect_error(home, "POST", "/v1/ping", {"peer": home.id, "count": 11}, 400, ["count", "1 to 10"])
    expect_error(home, "POST", "/v1/ping", {"peer": "nosuchname"}, 502, ["cannot reach"])
    expect_error(home, "POST", "/v1/traceroute", {"peer": 5}, 400, ["peer:"])
    expect_error(home, "POST", "/v1/connect", {"peer": "a", "addr": "/ip4/1.2.3.4"}, 400,
                 ["exactly one"])
    expect_error(home, "POST", "/v1/connect", {"addr": "/ip4/127.0.0.1/tcp/1"}, 400,
                 ["/p2p/<peer-id>"])
    expect_error(home, "POST", "/v1/disconnect", {"peer": laptop.id}, 404, ["not connected"])
    expect_error(home, "POST", "/v1/auth", {"peer": "12D3KooWbad"}, 400, ["peer ID"])
    expect_error(home, "POST", "/v1/auth", {"peer": laptop.id, "services": ["Bad Name"]}, 400,
                 ["not a service name"])
    expect_error(home, "POST", "/v1/auth", {"peer": laptop.id, "comment": "a\nb"}, 400,
                 ["control characters"])
    expect_error(home, "DELETE", "/v1/auth/notapeer", None, 400, ["not a peer ID"])
    expect_error(home, "DELETE", f"/v1/auth/{laptop.id}", None, 404, ["is not in"])
    expect_error(home, "GET", "/v1/nosuch", None, 404, ["no route"])
    expect_error(home, "GET", "/v1/status?x=1", None, 400, ["query strings"])
    expect_error(home, "GET", "/v1/status", None, 431, ["headers larger"],
                 headers={"X-Big": "y" * 9000})
    # raw garbage on the socket: a 400, and the daemon still answers after it
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(5)
        s.connect(sock)
        s.sendall(b"\x00\x01GARBAGE / HTTP/9\r\n\r\n")
        reply = s.recv(4096)
    check(reply.startswith(b"HTTP/1.1 400"), f"garbage got {reply[:60]!r}")
    check(api(home, "GET", "/v1/status")[0] == 200, "daemon stopped answering after garbage")
    print("ok: all routes, good and bad input")


@scenario("control_unavailable")
def control_unavailable(ctx):
    """A daemon that cannot create its control socket logs why and serves on;
    `peerup status` falls back to status.json."""
    home = ctx.home()
    home.write_config()
    os.mkdir(os.path.join(home.dir, "control.sock"))  # in the way, and not a socket
    home.start()
    check("exists and is not a socket" in home.proc.logs() and "running without it" in
          home.proc.logs(), f"no clear error about the socket: {home.proc.logs()[-800:]}")
    wait_for(lambda: os.path.exists(os.path.join(home.dir, "status.json")), 10, "status.json")
    r = home.cli("status", "--json")
    check(home.id in r.stdout, f"peerup status did not fall back to status.json: {r.stderr}")
    check(home.proc.p.poll() is None, "the daemon exited")
    print("ok: logged, served on, status from status.json")


def nobody_ids():
    import pwd
    try:
        pw = pwd.getpwnam("nobody")
    except KeyError:
        raise Skip("no user nobody")
    return pw.pw_uid, pw.pw_gid


def as_user(uid, gid):
    def fn():
        os.setgroups([])
        os.setgid(gid)
        os.setuid(uid)
    return fn


@scenario("control_other_user")
def control_other_user(ctx):
    """A client of another uid: refused without the cookie (401, clear error), served
    with it; a user who cannot open the 0600 socket gets a clear CLI error."""
    if os.geteuid() != 0:
        raise Skip("needs root to run the daemon and a client as different users")
    uid, gid = nobody_ids()
    # the binary where nobody can run it (the build tree may be 0700)
    peerup = ctx.path("peerup")
    shutil.copy2(ctx.peerup, peerup)
    os.chmod(peerup, 0o755)
    folder = ctx.path("nobody-home")
    os.makedirs(folder)
    os.chown(folder, uid, gid)
    os.chmod(folder, 0o700)
    r = __import__("subprocess").run([peerup, "init", "--dir", folder], capture_output=True,
                                     text=True, timeout=30, preexec_fn=as_user(uid, gid))
    check(r.returncode == 0, f"init as nobody: {r.stderr}")
    home = Home.__new__(Home)
    home.peerup, home.dir, home.proc = peerup, folder, None
    home.id = r.stdout.split()[0]
    home.config = os.path.join(folder, "config.yaml")
    home.write_config()
    os.chown(home.config, uid, gid)
    ctx.procs.append(home)
    home.start(preexec_fn=as_user(uid, gid))
    # root is another uid: it can connect (root ignores the mode) but is refused
    st, _, body = api(home, "GET", "/v1/status")
    check(st == 401, f"root without the cookie: expected 401, got {st} {body}")
    for w in ("uid 0", f"uid {uid}", "control.cookie", "Authorization: Bearer"):
        check(w in body["error"], f"401 error {body['error']!r} does not say {w!r}")
    with open(os.path.join(folder, "control.cookie")) as f:
        cookie = f.read().strip()
    st, _, body = api(home, "GET", "/v1/status", headers={"Authorization": "Bearer " + "0" * 64})
    check(st == 401, f"a wrong cookie was accepted: {st}")
    st, _, body = api(home, "GET", "/v1/status", headers={"Authorization": "Bearer " + cookie})
    check(st == 200 and body["peer_id"] == home.id, f"root with the cookie: {st} {body}")
    # the CLI as root reads the cookie itself
    r = home.cli("status", "--json")
    check(home.id in r.stdout, f"peerup status as root: {r.stdout} {r.stderr}")
    # a daemon of root, and a client as nobody: the kernel refuses the socket
    rhome = ctx.home("root-home")
    rhome.write_config()
    os.chmod(ctx.work, 0o755)
    os.chmod(rhome.dir, 0o755)  # let nobody reach the socket file, so the mode is what refuses
    os.chmod(rhome.config, 0o644)
    rhome.peerup = peerup
    rhome.start()
    r = rhome.cli("peers", check=False, user=as_user(uid, gid))
    check(r.returncode != 0 and "permission denied" in r.stderr and "owner-only" in r.stderr,
          f"nobody on root's socket: rc {r.returncode}, stderr {r.stderr!r}")
    print("ok: 401 without cookie, 200 with it, EACCES explained")


# --- metrics and the status page -----------------------------------------------

def scrape(port):
    import urllib.request
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as r:
        check(r.status == 200, f"/metrics: HTTP {r.status}")
        ctype = r.headers.get("Content-Type", "")
        check(ctype.startswith("text/plain; version=0.0.4"), f"/metrics Content-Type {ctype!r}")
        text = r.read().decode()
    return parse_exposition(text)


def parse_exposition(text):
    """{(name, frozenset(labels)): value}; fails on any line that is not the
    text format (so the writer's output is checked as Prometheus reads it)."""
    import re
    sample = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (-?[0-9.eE+-]+|NaN|\+Inf|-Inf)$')
    label = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')
    out, typed = {}, set()
    for line in text.splitlines():
        if line.startswith("# HELP "):
            continue
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split(" ")
            check(kind in ("counter", "gauge"), f"bad TYPE line {line!r}")
            typed.add(name)
            continue
        m = sample.match(line)
        check(m is not None, f"not a Prometheus sample line: {line!r}")
        name, labels = m.group(1), frozenset(label.findall(m.group(3) or ""))
        check(name in typed, f"sample {name} before its TYPE line")
        check((name, labels) not in out, f"duplicate series {name}{dict(labels)}")
        out[(name, labels)] = float(m.group(4))
    return out


def metric(samples, name, **labels):
    return samples.get((name, frozenset(labels.items())), 0.0)


def curl(url, proxy_port=None, timeout=30):
    import subprocess
    r = subprocess.run(["curl", "-sS", "-o", "/dev/null", "-w", "%{http_code} %{size_download}",
                        url], capture_output=True, text=True, timeout=timeout)
    check(r.returncode == 0, f"curl {url}: {r.stderr}")
    code, size = r.stdout.split()
    return int(code), int(size)


@scenario("metrics")
def metrics(ctx):
    """/metrics in the text format; counters move while a client proxies traffic."""
    from opsnode import Proc, free_port
    mport = free_port()
    web = web_server(ctx)
    home = ctx.home("home")
    # Two connections per IP: the laptop's proxy and one more (the refusal check below).
    home.write_config(services={"web": f"127.0.0.1:{web}"},
                      extra=f"metrics: 127.0.0.1:{mport}\nlimits:\n  max_connections_per_ip: 2\n")
    home.start()
    check(any(line == f"metrics 127.0.0.1:{mport}" for line in home.proc.out),
          "the daemon did not print its metrics address")
    laptop = ctx.home("laptop")
    laptop.write_config(names={"home": home.addrs[0]})
    st, _, body = api(home, "POST", "/v1/auth", {"peer": laptop.id})
    check(st == 200, f"auth add: {body}")
    before = scrape(mport)
    check(metric(before, "peerup_up") == 1, "peerup_up is not 1")
    check(metric(before, "peerup_authorized_peers") == 1, "authorized peers gauge is not 1")
    proxy = Proc([ctx.peerup, "--config", laptop.config, "proxy", "home", "web", "0"])
    ctx.procs.append(proxy)
    port = int(proxy.wait_line(r"^proxy 127\.0\.0\.1:(\d+)").group(1))
    # Two downloads of 2 MiB, a scrape between and after.
    code, size = curl(f"http://127.0.0.1:{port}/blob")
    check(code == 200 and size == 2 << 20, f"download 1: {code} {size}")
    mid = scrape(mport)
    code, size = curl(f"http://127.0.0.1:{port}/blob")
    check(code == 200 and size == 2 << 20, f"download 2: {code} {size}")
    after = scrape(mport)
    conn = dict(direction="inbound", transport="tcp", path="direct")
    check(metric(after, "peerup_connections_opened_total", **conn) >= 1,
          "no inbound direct tcp connection counted")
    check(metric(mid, "peerup_connections", **conn) >= 1, "open connections gauge is 0 mid-run")
    s1 = metric(mid, "peerup_service_streams_total", service="web")
    s2 = metric(after, "peerup_service_streams_total", service="web")
    check(s1 >= 1 and s2 >= s1 + 1, f"service streams did not move: {s1} -> {s2}")
    b0 = metric(before, "peerup_service_bytes_total", service="web", direction="out")
    b1 = metric(mid, "peerup_service_bytes_total", service="web", direction="out")
    b2 = metric(after, "peerup_service_bytes_total", service="web", direction="out")
    check(b0 == 0 and b1 >= 2 << 20 and b2 >= b1 + (2 << 20),
          f"service bytes out did not move by 2 MiB per download: {b0} -> {b1} -> {b2}")
    bin_ = metric(after, "peerup_service_bytes_total", service="web", direction="in")
    check(bin_ > 0, "no request bytes counted into the service")
    pb = metric(after, "peerup_peer_bytes_total", peer=laptop.id, direction="out")
    check(pb >= 4 << 20, f"per-peer bytes out for the laptop: {pb}")
    check(metric(after, "peerup_resource_refusals_total", limit="max_connections") == 0,
          "unexpected resource refusals")
    # The refusal counter moves: raw TCP connections that never finish a
    # handshake fill home's per-IP allowance, and each new one evicts the
    # oldest unfinished one (a refusal of max_connections_per_ip).
    import re
    hport = int(re.search(r"/tcp/(\d+)", home.addrs[0]).group(1))
    raw = []
    try:
        for _ in range(3):
            raw.append(socket.create_connection(("127.0.0.1", hport), timeout=5))
            time.sleep(0.2)
        wait_for(lambda: metric(scrape(mport), "peerup_resource_refusals_total",
                                limit="max_connections_per_ip") >= 1,
                 10, "a max_connections_per_ip refusal to be counted")
    finally:
        for c in raw:
            c.close()
    for name in ("peerup_holepunch_attempts_total", "peerup_name_relay_queries_total",
                 "peerup_streams", "peerup_relayed_connections"):
        check(any(k[0] == name for k in after), f"{name} missing")
    # A wrong path and method on the metrics port
    import urllib.error
    import urllib.request
    try:
        urllib.request.urlopen(f"http://127.0.0.1:{mport}/other", timeout=5)
        check(False, "/other answered 200")
    except urllib.error.HTTPError as e:
        check(e.code == 404, f"/other: {e.code}")
    # Every metric the Grafana dashboard plots exists.
    import json
    import re
    dash = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "docs",
                        "grafana-dashboard.json")
    with open(dash) as f:
        exprs = [t["expr"] for p in json.load(f)["panels"] for t in p["targets"]]
    names = {n for e in exprs for n in re.findall(r"peerup_[a-z_]+", e)}
    served = {k[0] for k in after}
    missing = sorted(names - served - {"peerup_up"} if "peerup_up" in served else names - served)
    check(not missing, f"the dashboard plots metrics /metrics lacks: {missing}")
    print(f"ok: dashboard's {len(names)} metrics served; streams {s2:.0f}, bytes out {b2/1048576:.1f} MiB, per-peer {pb/1048576:.1f} MiB")


def chromium_dom(url, budget_ms=6000):
    import subprocess
    exe = shutil.which("chromium") or shutil.which("chromium-browser")
    if not exe:
        raise Skip("chromium not installed (scripts/install-deps.sh installs it)")
    profile = tempfile.mkdtemp(prefix="peerup-chromium-")
    try:
        r = subprocess.run([exe, "--headless=new", "--no-sandbox", "--disable-gpu",
                            "--disable-dev-shm-usage", "--no-first-run", "--user-data-dir=" + profile,
                            f"--virtual-time-budget={budget_ms}", "--dump-dom", url],
                           capture_output=True, text=True, timeout=90)
    finally:
        shutil.rmtree(profile, ignore_errors=True)
    check(r.returncode == 0, f"chromium failed ({r.returncode}): {r.stderr[-2000:]}")
    return r.stdout


@scenario("status_page")
def status_page(ctx):
    """The status page in headless Chromium shows a connected peer and its path."""
    from opsnode import free_port
    import html.parser
    import urllib.error
    import urllib.request
    pport = free_port()
    home, laptop, web = two_nodes(ctx, extra_home=f"status_page: 127.0.0.1:{pport}\n")
    st, _, c = api(laptop, "POST", "/v1/connect", {"peer": "home"})
    check(st == 200, f"connect: {st} {c}")
    # Without the cookie: refused, for the page and for the API behind it
    for path in ("/", "/v1/peers"):
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{pport}{path}", timeout=5)
            check(False, f"{path} answered without the cookie")
        except urllib.error.HTTPError as e:
            check(e.code == 401, f"{path} without cookie: HTTP {e.code}")
    # A foreign Host (DNS rebinding) is refused even with the cookie
    with open(os.path.join(home.dir, "control.cookie")) as f:
        cookie = f.read().strip()
    req = urllib.request.Request(f"http://127.0.0.1:{pport}/v1/peers",
                                 headers={"Host": "evil.example", "Cookie": "peerup_session=" +
                                          cookie})
    try:
        urllib.request.urlopen(req, timeout=5)
        check(False, "a foreign Host was served")
    except urllib.error.HTTPError as e:
        check(e.code == 403, f"foreign Host: HTTP {e.code}")
    # The page is read-only: a POST with the cookie is refused
    req = urllib.request.Request(f"http://127.0.0.1:{pport}/v1/reload", data=b"{}", method="POST",
                                 headers={"Cookie": "peerup_session=" + cookie})
    try:
        urllib.request.urlopen(req, timeout=5)
        check(False, "the page accepted a POST")
    except urllib.error.HTTPError as e:
        check(e.code == 403, f"POST through the page: HTTP {e.code}")
    # The login link of `peerup status --page`, opened in a real browser
    link = home.cli("status", "--page").stdout.strip()
    check(link.startswith(f"http://127.0.0.1:{pport}/login?token="), f"page link {link!r}")
    dom = chromium_dom(link)

    class Rows(html.parser.HTMLParser):
        def __init__(self):
            super().__init__()
            self.rows, self.loaded, self.cur, self.cls = [], False, None, None

        def handle_starttag(self, tag, attrs):
            a = dict(attrs)
            if tag == "body" and a.get("data-loaded") == "1":
                self.loaded = True
            if tag == "tr" and "data-peer" in a:
                self.cur = {"peer": a["data-peer"], "data-path": a.get("data-path")}
                self.rows.append(self.cur)
            if tag == "td" and self.cur is not None:
                self.cls = (a.get("class") or "").split()

        def handle_data(self, data):
            if self.cur is not None and self.cls:
                self.cur.setdefault(self.cls[-1] if self.cls[0] == "path" else self.cls[0], data)

        def handle_endtag(self, tag):
            if tag == "td":
                self.cls = None
            if tag == "tr":
                self.cur = None

    p = Rows()
    p.feed(dom)
    check(p.loaded, "the page's script never loaded the daemon's data; DOM:\n" + dom[-3000:])
    mine = [r for r in p.rows if r["peer"] == laptop.id]
    check(mine, f"the laptop {laptop.id} is not on the page; rows: {p.rows}")
    check(mine[0]["data-path"] == "direct", f"path on the page: {mine[0]}")
    check("web" in dom and "127.0.0.1:" + str(web) in dom, "the service is not on the page")
    check("connected" in dom, "no recent events on the page")
    print(f"ok: chromium shows {laptop.id[:16]}... path {mine[0]['data-path']}, service web, events")


def relayed_nodes(ctx, relay_yaml_extra="", home_extra="", laptop_extra=""):
    """A relay (with /metrics), home serving `web` and the laptop, both on the
    relay only (no direct address, no hole punching), authorized both ways;
    returns once home holds its reservation."""
    import subprocess
    from opsnode import Proc, free_port
    rdir = ctx.path("relay")
    r = subprocess.run([ctx.peerup, "relay", "init", "--dir", rdir], capture_output=True,
                       text=True, timeout=30)
    check(r.returncode == 0, f"relay init: {r.stderr}")
    with open(os.path.join(rdir, "relay.yaml"), "a") as f:
        f.write(relay_yaml_extra)
    web = web_server(ctx)
    home = ctx.home("home")
    laptop = ctx.home("laptop")
    for who in (home, laptop):
        r = subprocess.run([ctx.peerup, "relay", "authorize", who.id, "--dir", rdir],
                           capture_output=True, text=True, timeout=30)
        check(r.returncode == 0, f"relay authorize: {r.stderr}")
    rport = free_port()
    relay = Proc([ctx.peerup, "relay", "serve", "--config", os.path.join(rdir, "relay.yaml"),
                  "--listen", "/ip4/127.0.0.1/tcp/0", "--metrics", f"127.0.0.1:{rport}"])
    ctx.procs.append(relay)
    raddr = relay.wait_line(r"^(/ip4/127\.0\.0\.1/tcp/\d+/p2p/\S+)$").group(1)
    relay.wait_line(rf"^metrics 127\.0\.0\.1:{rport}$")
    hport = free_port()
    # No direct address and no hole punching: the relay is the only path.
    home.write_config(listen=(), relays=(raddr,), services={"web": f"127.0.0.1:{web}"},
                      extra=f"metrics: 127.0.0.1:{hport}\n" + home_extra.format(relay=raddr))
    home.start(env={"PEERUP_HOLEPUNCH": "off"})
    laptop.write_config(listen=(), relays=(raddr,),
                        names={"home": f"{raddr}/p2p-circuit/p2p/{home.id}"},
                        extra=laptop_extra.format(relay=raddr))
    laptop.start(env={"PEERUP_HOLEPUNCH": "off"})
    for a, b in ((home, laptop), (laptop, home)):
        st, _, body = api(a, "POST", "/v1/auth", {"peer": b.id})
        check(st == 200, f"auth add: {body}")
    wait_for(lambda: metric(scrape(hport), "peerup_relay_reservations", state="reserved") == 1,
             20, "home's reservation on the relay")
    return raddr, rport, hport, home, laptop


@scenario("relayed")
def relayed(ctx):
    """Over a relay: traceroute shows the relay hop and the target with RTTs,
    peers show path relayed, and the relay's and home's /metrics count it."""
    from opsnode import Proc
    raddr, rport, hport, home, laptop = relayed_nodes(ctx)
    st, _, tr = api(laptop, "POST", "/v1/traceroute", {"peer": "home"}, timeout=60)
    check(st == 200 and tr["path"] == "relayed" and len(tr["hops"]) == 2, f"traceroute: {st} {tr}")
    h1, h2 = tr["hops"]
    check(h1["kind"] == "relay" and raddr.endswith(h1["peer"]) and "rtt_ms" in h1,
          f"hop 1 is not the relay with an RTT: {h1}")
    check(h2["peer"] == home.id and "rtt_ms" in h2, f"hop 2 is not home with an RTT: {h2}")
    r = laptop.cli("traceroute", "home")
    check(" 1  relay" in r.stdout and " 2  target (via relay)" in r.stdout,
          f"peerup traceroute: {r.stdout}")
    st, _, peers = api(home, "GET", "/v1/peers")
    mine = [p for p in peers if p["peer"] == laptop.id]
    check(mine and mine[0]["path"] == "relayed" and mine[0]["transport"] == "relayed",
          f"home does not list the laptop as relayed: {peers}")
    before = scrape(rport)
    proxy = Proc([ctx.peerup, "--config", laptop.config, "proxy", "home", "web", "0"],
                 env=dict(os.environ, PEERUP_HOLEPUNCH="off"))
    ctx.procs.append(proxy)
    port = int(proxy.wait_line(r"^proxy 127\.0\.0\.1:(\d+)").group(1))
    code, size = curl(f"http://127.0.0.1:{port}/blob")
    check(code == 200 and size == 2 << 20, f"download over the relay: {code} {size}")
    proxy.stop()
    wait_for(lambda: metric(scrape(rport), "peerup_relay_bytes_total") >=
             metric(before, "peerup_relay_bytes_total") + (2 << 20), 15, "relay bytes to count")
    after = scrape(rport)
    check(metric(after, "peerup_relay_reservations") >= 2, "relay counts < 2 reservations")
    check(metric(after, "peerup_relay_circuits_total") >= 2, "relay counts < 2 circuits")
    check(metric(after, "peerup_relay_authorized_peers") == 2, "relay authorized peers != 2")
    hm = scrape(hport)
    check(metric(hm, "peerup_connections_opened_total", direction="inbound", transport="relayed",
                 path="relayed") >= 1, "home counted no inbound relayed connection")
    check(metric(hm, "peerup_service_bytes_total", service="web", direction="out") >= 2 << 20,
          "home counted no service bytes over the relay")
    print(f"ok: traceroute relay {h1['rtt_ms']:.2f} ms, target {h2['rtt_ms']:.2f} ms; relay "
          f"{metric(after, 'peerup_relay_bytes_total')/1048576:.1f} MiB, "
          f"{metric(after, 'peerup_relay_circuits_total'):.0f} circuits")

# --- bandwidth limits ----------------------------------------------------------

def iperf3_rate(port, seconds, reverse=False):
    """Runs iperf3 -c 127.0.0.1:port (through a proxy) and returns the bytes
    per second the receiving end counted."""
    import json
    import subprocess
    argv = ["iperf3", "-c", "127.0.0.1", "-p", str(port), "-t", str(seconds), "-J"]
    if reverse:
        argv.append("-R")
    r = subprocess.run(argv, capture_output=True, text=True, timeout=seconds + 60)
    check(r.returncode == 0, f"iperf3 {' '.join(argv[5:])}: rc {r.returncode}: "
                             f"{r.stdout[-600:]} {r.stderr[-600:]}")
    return json.loads(r.stdout)["end"]["sum_received"]["bits_per_second"] / 8


def within(measured, limit, what, tolerance=0.10):
    ratio = measured / limit
    check(abs(ratio - 1) <= tolerance,
          f"{what}: {measured / 1e6:.3f} MB/s against a limit of {limit / 1e6:.3f} MB/s "
          f"({(ratio - 1) * 100:+.1f}%, allowed +-{tolerance * 100:.0f}%)")
    return f"{what} {measured / 1e6:.3f} MB/s ({(ratio - 1) * 100:+.1f}%)"


@scenario("rate_limit")
def rate_limit(ctx):
    """Service and peer rate limits hold within 10% under iperf3 through `peerup proxy`."""
    import shutil as sh
    from opsnode import Proc, free_port
    if not sh.which("iperf3"):
        raise Skip("iperf3 is not installed (scripts/install-deps.sh installs it)")
    service_rate, peer_rate = 2_000_000, 1_000_000
    iport, mport = free_port(), free_port()
    server = Proc(["iperf3", "-s", "-p", str(iport), "-B", "127.0.0.1"])
    ctx.procs.append(server)
    wait_for(lambda: _port_open(iport), 10, "iperf3 -s")
    home = ctx.home("home")
    metrics_line = f"metrics: 127.0.0.1:{mport}\n"
    home.write_config(services={"iperf": f"127.0.0.1:{iport}"}, extra=metrics_line)
    with open(home.config) as f:
        text = f.read()
    limited = text.replace(f"    local_address: 127.0.0.1:{iport}\n",
                           f"    local_address: 127.0.0.1:{iport}\n"
                           f"    rate_limit: {service_rate}\n")
    with open(home.config, "w") as f:
        f.write(limited)
    home.start()
    laptop = ctx.home("laptop")
    laptop.write_config(names={"home": home.addrs[0]})
    st, _, body = api(home, "POST", "/v1/auth", {"peer": laptop.id})
    check(st == 200, f"auth add: {body}")
    proxy = Proc([ctx.peerup, "--config", laptop.config, "proxy", "home", "iperf", "0"])
    ctx.procs.append(proxy)
    port = int(proxy.wait_line(r"^proxy 127\.0\.0\.1:(\d+)").group(1))
    m = scrape(mport)
    check(metric(m, "peerup_service_rate_limit_bytes", service="iperf") == service_rate,
          "the service's limit gauge is not its rate_limit")
    check(metric(m, "peerup_peer_rate_limit_bytes") == 0, "peer limit gauge is not 0 (none)")
    results = [within(iperf3_rate(port, 8), service_rate, "service limit, upload")]
    results.append(within(iperf3_rate(port, 8, reverse=True), service_rate,
                          "service limit, download"))
    m = scrape(mport)
    for d in ("in", "out"):
        waited = metric(m, "peerup_service_throttled_seconds_total", service="iperf", direction=d)
        check(waited > 1, f"throttled seconds of the service ({d}): {waited}")
    # Reload: the service limit goes, a lower per-peer limit comes.
    with open(home.config, "w") as f:
        f.write(text + f"peer_rate_limit: {peer_rate}\n")
    st, _, body = api(home, "POST", "/v1/reload")
    check(st == 200, f"reload: {st} {body}")
    m = scrape(mport)
    check(metric(m, "peerup_service_rate_limit_bytes", service="iperf") == 0,
          "the service's limit gauge did not go to 0")
    check(metric(m, "peerup_peer_rate_limit_bytes") == peer_rate, "peer limit gauge")
    results.append(within(iperf3_rate(port, 8), peer_rate, "peer limit, upload"))
    m = scrape(mport)
    waited = metric(m, "peerup_peer_throttled_seconds_total", peer=laptop.id, direction="in")
    check(waited > 1, f"throttled seconds of the peer: {waited}")
    # The service's counter keeps what the replaced bucket had counted.
    check(metric(m, "peerup_service_throttled_seconds_total", service="iperf", direction="in") > 1,
          "the service's throttled seconds went back after the reload")
    print("ok: " + "; ".join(results))


@scenario("relay_rate_limit")
def relay_rate_limit(ctx):
    """limits.reservation_rate on the relay holds within 10% for a download over a circuit."""
    from opsnode import Proc
    rate = 400_000
    raddr, rport, hport, home, laptop = relayed_nodes(
        ctx, f"limits:\n  reservation_rate: {rate}\n")
    m = scrape(rport)
    check(metric(m, "peerup_relay_reservation_rate_limit_bytes") == rate, "relay's limit gauge")
    proxy = Proc([ctx.peerup, "--config", laptop.config, "proxy", "home", "web", "0"],
                 env=dict(os.environ, PEERUP_HOLEPUNCH="off"))
    ctx.procs.append(proxy)
    port = int(proxy.wait_line(r"^proxy 127\.0\.0\.1:(\d+)").group(1))
    import subprocess
    r = subprocess.run(["curl", "-sS", "-o", "/dev/null", "-w", "%{size_download} %{time_total}",
                        f"http://127.0.0.1:{port}/blob"], capture_output=True, text=True,
                       timeout=120)
    check(r.returncode == 0, f"curl over the relay: {r.stderr}")
    size, took = r.stdout.split()
    size, took = int(size), float(took)
    check(size == 2 << 20, f"downloaded {size} bytes")
    result = within(size / took, rate, "relay reservation limit, download")
    m = scrape(rport)
    waited = metric(m, "peerup_relay_throttled_seconds_total")
    check(waited > 2, f"relay throttled seconds: {waited}")
    print(f"ok: {result}, {size} bytes in {took:.2f} s; relay throttled {waited:.1f} s")


@scenario("gateway_metrics")
def gateway_metrics(ctx):
    """`peerup gateway --metrics`: its resolver's lookups (a miss, then a cache hit) and SOCKS."""
    import subprocess
    from opsnode import Proc, free_port
    networks = "networks:\n  grewal:\n    - {relay}\n"
    raddr, rport, hport, home, laptop = relayed_nodes(
        ctx, "names:\n  network: grewal\n", home_extra="host_name: home\n" + networks,
        laptop_extra=networks)
    relay = next(p for p in ctx.procs if getattr(p, "argv", [])[1:3] == ["relay", "serve"])
    # A lookup before home registers would be cached as "not registered".
    wait_for(lambda: any("registered by" in line for line in relay.err), 30,
             "home to register its name on the relay")
    gport = free_port()
    gw = Proc([ctx.peerup, "--config", laptop.config, "gateway", "--socks", "127.0.0.1:0",
               "--metrics", f"127.0.0.1:{gport}"], env=dict(os.environ, PEERUP_HOLEPUNCH="off"))
    ctx.procs.append(gw)
    sport = int(gw.wait_line(r"^socks5 127\.0\.0\.1:(\d+)").group(1))
    gw.wait_line(rf"^metrics 127\.0\.0\.1:{gport}$")
    m = scrape(gport)
    check(metric(m, "peerup_gateway_up") == 1, "peerup_gateway_up is not 1")
    check(metric(m, "peerup_gateway_name_lookups_total", result="cache_miss") == 0,
          "lookups before any client")

    def fetch():
        r = subprocess.run(["curl", "-sS", "--max-time", "20", "-o", "/dev/null", "-w",
                            "%{http_code} %{size_download}", "--socks5-hostname",
                            f"127.0.0.1:{sport}", "http://web.home.grewal.p2p/blob"],
                           capture_output=True, text=True, timeout=40)
        return r.returncode == 0 and r.stdout.split() == ["200", str(2 << 20)]
    check(fetch(), "SOCKS fetch of web.home.grewal.p2p failed")
    check(fetch(), "second SOCKS fetch failed")
    m = scrape(gport)
    miss = metric(m, "peerup_gateway_name_lookups_total", result="cache_miss")
    hit = metric(m, "peerup_gateway_name_lookups_total", result="cache_hit")
    queries = metric(m, "peerup_gateway_name_relay_queries_total")
    check(miss >= 1 and hit >= 1, f"lookups: {miss} misses, {hit} hits (want >= 1 each)")
    check(queries >= 1, f"relay queries: {queries}")
    check(metric(m, "peerup_gateway_names_cached") >= 1, "no name cached")
    check(any(k[0] == "peerup_gateway_connections" for k in m), "connections gauge missing")
    print(f"ok: gateway lookups {miss:.0f} miss, {hit:.0f} hit, {queries:.0f} relay queries")


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
