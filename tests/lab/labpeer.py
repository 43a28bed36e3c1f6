"""Real peerup processes inside a lab Topology: a relay on the public segment,
a home daemon (behind NAT A) exposing python's http.server as service "web",
and phone (behind NAT B) running `peerup proxy home web`, fetched with curl
inside phone's namespace."""

import hashlib
import json
import os
import re
import signal
import sys
import time

import labnet
from labnet import LabError, log, wait_for

HTTP_PORT = 8080
BLOB_SIZE = 2 << 20  # bytes of the file fetched to measure who carried it


def _read(path):
    try:
        with open(path, errors="replace") as f:
            return f.read()
    except FileNotFoundError:
        return ""


class Node:
    """A peerup config directory made by `peerup init`, config rewritten by us."""

    def __init__(self, peerup, path):
        self.peerup, self.dir = peerup, path
        cp = labnet.run([peerup, "init", "--dir", path])
        m = re.search(r"12D3KooW[1-9A-HJ-NP-Za-km-z]+", cp.stdout)
        if not m:
            raise LabError(f"peerup init printed no peer ID: {cp.stdout}{cp.stderr}")
        self.id = m.group(0)
        self.config = os.path.join(path, "config.yaml")

    def write_config(self, listen, relays, services=None, names=None, extra=""):
        lines = ["identity_key: identity.key", "authorized_keys: authorized_keys"]
        lines.append("listen:" + ("" if listen else " []"))
        lines += [f"  - {a}" for a in listen]
        lines.append("relays:" + ("" if relays else " []"))
        lines += [f"  - {a}" for a in relays]
        lines.append("services:" + ("" if services else " {}"))
        for name, addr in (services or {}).items():
            lines += [f"  {name}:", f"    local_address: {addr}"]
        lines.append("names:" + ("" if names else " {}"))
        lines += [f"  {k}: {v}" for k, v in (names or {}).items()]
        with open(self.config, "w") as f:
            f.write("\n".join(lines) + "\n" + extra)

    def cmd(self, *args):
        return [self.peerup, "--config", self.config, *map(str, args)]


HOME_METRICS_PORT = 9464


class PeerupLab:
    """relay + home daemon + http service + phone proxy in topology `t`."""

    def __init__(self, peerup, topo, work, quic=False, log_level=None, http_backlog=None):
        """quic: every node listens on TCP and QUIC (UDP) port 4001 and home and
        phone reach the relay over QUIC, so their observed addresses (what a
        hole punch offers) are UDP mappings and DCUtR punches over QUIC.
        log_level: passed as --log-level to the relay and home's daemon (the
        soak's timeline wants debug: connection closes and their reasons).
        http_backlog: the listen backlog of home's web server (default: python's
        http.server, 5)."""
        if not peerup or not os.access(peerup, os.X_OK):
            raise LabError(f"no peerup binary at {peerup!r} (pass --peerup or PEERUP_BINARY)")
        self.peerup, self.t, self.work = peerup, topo, work
        self.quic = quic
        self.log_args = ["--log-level", log_level] if log_level else []
        self.http_backlog = http_backlog
        self.relay_proc = self.home_proc = self.proxy_proc = None
        self.proxy_port = None
        self.blob_sha = None

    def p(self, name):
        return os.path.join(self.work, name)

    # -- start-up -----------------------------------------------------------

    def start_all(self, extra_services=None, proxy=True, clients=()):
        """clients: names of more client nodes (each its own identity, in
        self.clients[name]), authorized at the relay and at home like phone."""
        self.start_relay()
        self.home = Node(self.peerup, self.p("home"))
        self.phone = Node(self.peerup, self.p("phone"))
        self.clients = {name: Node(self.peerup, self.p(name)) for name in clients}
        for n, comment in ((self.home, "home"), (self.phone, "phone"),
                           *((c, name) for name, c in self.clients.items())):
            labnet.run([self.peerup, "relay", "authorize", n.id, "--comment", comment, "--dir",
                        self.p("relay")])
        self.start_http()
        self.start_home(extra_services)
        if proxy:
            self.start_proxy()
        return self

    def start_relay(self):
        os.makedirs(self.p("relay"), exist_ok=True)
        if not os.path.exists(self.p("relay/identity.key")):
            self.relay_id = labnet.run(
                [self.peerup, "keygen", "--key", self.p("relay/identity.key")]).stdout.strip()
        self.relay_proc = self.t.spawn(
            "relay", [self.peerup, "relay", "serve", "--dir", self.p("relay"),
                      *[x for a in self.listen_addrs(labnet.RELAY_PORT) for x in ("--listen", a)],
                      *self.log_args],
            stdout=self.p("relay.out"), stderr=self.p("relay.log"))
        wait_for(lambda: "/p2p/" in _read(self.p("relay.out")), 10, "the relay to print its addrs")
        transport = f"udp/{labnet.RELAY_PORT}/quic-v1" if self.quic else f"tcp/{labnet.RELAY_PORT}"
        self.relay_addr = f"/ip4/{labnet.RELAY_IP}/{transport}/p2p/{self.relay_id}"

    def listen_addrs(self, port):
        addrs = [f"/ip4/0.0.0.0/tcp/{port}"]
        if self.quic:
            addrs.append(f"/ip4/0.0.0.0/udp/{port}/quic-v1")
        return addrs

    def kill_relay(self):
        self.t.stop(self.relay_proc, signal.SIGKILL)
        log("relay killed (SIGKILL)")

    def start_http(self):
        www = self.p("www")
        os.makedirs(www, exist_ok=True)
        with open(os.path.join(www, "index.html"), "w") as f:
            f.write("hello from home, through the lab\n")
        blob = os.urandom(BLOB_SIZE)
        self.blob_sha = hashlib.sha256(blob).hexdigest()
        with open(os.path.join(www, "blob"), "wb") as f:
            f.write(blob)
        if self.http_backlog:
            # python -m http.server listens with a backlog of 5: a burst of
            # connects (fetches queued behind a stalled path, released at
            # once) overflows it and some are reset. The soak wants a service
            # that takes its 50 clients at once, as a real one would.
            code = ("import functools, http.server, sys\n"
                    "class S(http.server.ThreadingHTTPServer):\n"
                    f"    request_queue_size = {int(self.http_backlog)}\n"
                    "h = functools.partial(http.server.SimpleHTTPRequestHandler, directory=sys.argv[1])\n"
                    "S(('127.0.0.1', int(sys.argv[2])), h).serve_forever()\n")
            argv = [sys.executable, "-c", code, www, str(HTTP_PORT)]
        else:
            argv = [sys.executable, "-m", "http.server", "--bind", "127.0.0.1", "--directory", www,
                    str(HTTP_PORT)]
        self.t.spawn("home", argv, stderr=self.p("http.txt"))

    def start_home(self, extra_services=None, authorize_phone=True):
        services = {"web": f"127.0.0.1:{HTTP_PORT}", **(extra_services or {})}
        # /metrics on loopback in home's namespace (metrics(): the hole-punch counters).
        self.home.write_config(listen=self.listen_addrs(labnet.HOME_PORT),
                               relays=[self.relay_addr], services=services,
                               extra=f"metrics: 127.0.0.1:{HOME_METRICS_PORT}\n")
        if authorize_phone:
            labnet.run(self.home.cmd("auth", "add", self.phone.id, "--comment", "phone"))
        for name, c in getattr(self, "clients", {}).items():
            labnet.run(self.home.cmd("auth", "add", c.id, "--comment", name))
        self.home_proc = self.t.spawn("home", self.home.cmd("daemon", *self.log_args),
                                      stdout=self.p("home.out"),
                                      stderr=self.p("home.log"))
        wait_for(lambda: "reserved on relay" in _read(self.p("home.log")), 20,
                 "home to reserve a slot on the relay")

    def start_proxy(self, service="web", name="proxy"):
        """Starts `peerup proxy home <service> 0` in phone's namespace, logging to
        <name>.log; the first one (name "proxy") is the one fetch() uses."""
        self.phone.write_config(listen=self.listen_addrs(labnet.HOME_PORT),
                                relays=[self.relay_addr], names={"home": self.home.id})
        started = time.monotonic()
        proc = self.t.spawn("phone", self.phone.cmd("proxy", "home", service, 0, "--log-level", "debug"),
                            stdout=self.p(f"{name}.out"), stderr=self.p(f"{name}.log"))

        def port():
            if proc.poll() is not None:
                raise LabError(f"peerup proxy exited with {proc.returncode}: "
                               f"{_read(self.p(name + '.log'))[-2000:]}")
            m = re.search(r"proxy 127\.0\.0\.1:(\d+)", _read(self.p(f"{name}.out")))
            return int(m.group(1)) if m else None

        port_no = wait_for(port, 20, "peerup proxy to listen")
        if name == "proxy":
            self.proxy_proc, self.proxy_port, self.proxy_started = proc, port_no, started
        return proc, port_no, started

    # -- using the service ----------------------------------------------------

    def fetch(self, path="index.html", timeout=10):
        """curl inside phone's namespace through the proxy -> (ok, body bytes, seconds)."""
        out = self.p("fetched")
        started = time.monotonic()
        cp = self.t.run("phone", ["curl", "-sS", "--max-time", str(timeout), "-o", out,
                                  f"http://127.0.0.1:{self.proxy_port}/{path}"],
                        check=False, timeout=timeout + 5)
        took = time.monotonic() - started
        if cp.returncode != 0:
            return False, cp.stderr.strip(), took
        with open(out, "rb") as f:
            return True, f.read(), took

    def fetch_blob(self, timeout=20):
        """Fetches the random blob and checks its hash -> (ok, relay bytes during it, secs)."""
        before = self.t.relay_bytes() if self.relay_alive() else 0
        ok, body, took = self.fetch("blob", timeout)
        after = self.t.relay_bytes() if self.relay_alive() else 0
        if ok and hashlib.sha256(body).hexdigest() != self.blob_sha:
            raise AssertionError(f"blob arrived corrupted ({len(body)} bytes)")
        return ok, after - before, took

    def relay_alive(self):
        return self.relay_proc is not None and self.relay_proc.poll() is None

    # -- observing -------------------------------------------------------------

    def metrics(self):
        """home's /metrics as {sample name with labels: value}, {} when it does not answer."""
        cp = self.t.run("home", ["curl", "-sS", "--max-time", "5",
                                 f"http://127.0.0.1:{HOME_METRICS_PORT}/metrics"],
                        check=False, timeout=10)
        out = {}
        for line in cp.stdout.splitlines() if cp.returncode == 0 else []:
            if line and not line.startswith("#") and " " in line:
                name, _, value = line.rpartition(" ")
                try:
                    out[name] = float(value)
                except ValueError:
                    pass
        return out

    def status(self):
        """home's `peerup status --json`, or None when it is not available."""
        cp = self.t.run("home", self.home.cmd("status", "--json"), check=False)
        if cp.returncode != 0:
            return None
        try:
            return json.loads(cp.stdout)
        except ValueError:
            return None

    def phone_conns(self, st):
        return [c for c in (st or {}).get("connections", []) if c.get("peer") == self.phone.id]

    def holepunch(self, st):
        """The holepunch object for phone: per connection, else top level."""
        for c in self.phone_conns(st):
            if isinstance(c.get("holepunch"), dict):
                return c["holepunch"]
        hp = (st or {}).get("holepunch")
        if isinstance(hp, dict):
            return hp.get(self.phone.id, hp) if self.phone.id in hp else hp
        if isinstance(hp, list):
            for h in hp:
                if isinstance(h, dict) and h.get("peer") == self.phone.id:
                    return h
        return None

    def has_holepunch_field(self, st):
        return st is not None and '"holepunch"' in json.dumps(st)

    def paths(self, st=None):
        st = st if st is not None else self.status()
        return sorted({c.get("path", "?") for c in self.phone_conns(st)})

    def transports(self, st=None):
        """{path: transport} of home's connections to phone ("direct": "quic")."""
        st = st if st is not None else self.status()
        return {c.get("path", "?"): c.get("transport", "") for c in self.phone_conns(st)}

    def logs(self):
        return {n: _read(self.p(n)) for n in ("home.log", "proxy.log", "relay.log")}

    def log_direct(self, texts=None):
        """The first "direct connection to <phone> via <addr> after <ms> ms" -> (addr, ms)."""
        for text in texts or (_read(self.p("home.log")), _read(self.p("proxy.log"))):
            m = re.search(r"direct connection to (\S+) via (\S+) after (\d+) ms", text)
            if m:
                return m.group(2), int(m.group(3))
        return None

    def log_holepunch_failed(self, texts=None):
        for text in texts or (_read(self.p("home.log")), _read(self.p("proxy.log"))):
            m = re.search(r"hole punch to (\S+) failed: (.*)", text)
            if m:
                return m.group(2).strip()
        return None

    def relay_circuits_opened(self):
        return _read(self.p("relay.log")).count(f"relay: circuit {self.phone.id} -> {self.home.id} open")
