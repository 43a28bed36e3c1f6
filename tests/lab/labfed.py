"""Relay federation in the NAT lab (issue 18, docs/federation.md).

Three network relays on the public segment, each in its own namespace:
  grewal  "relay"  203.0.113.10      bob  "bob"  203.0.113.11
  alice   "alice"  203.0.113.12
Home nodes (`peerup daemon`, host_name, a web service that names itself) and
clients (`peerup connect`/`resolve`/`gateway` with their own identities, so a
client never shares a peer ID with a daemon at a relay):
  server.bob     daemon in "home" (behind NAT A)   bea   client of bob, in "home"
  laptop.grewal  daemon in "phone" (behind NAT B)  alex  client of grewal, in "phone"
  visitor.alice  daemon in "alice"                 ann   client of alice, in "alice"
Peerings (trust read from the file's owner): grewal lists bob full and alice
one_way; bob lists grewal full; alice lists grewal full. So grewal and bob
reach each other's hosts, alice's members reach grewal's hosts, and grewal's
members never reach alice's.
"""

import os
import re
import signal
import sys

import labnet
from labnet import LabError, log, wait_for
from labpeer import _read

WEB_PORT = 8080
DNS_PORT = 5353
PEER_ID = re.compile(r"12D3KooW[1-9A-HJ-NP-Za-km-z]+")

# network -> (namespace role, public IP)
RELAYS = {"grewal": ("relay", labnet.RELAY_IP), "bob": ("bob", "203.0.113.11"),
          "alice": ("alice", "203.0.113.12")}
EXTRA_RELAYS = {"bob": "203.0.113.11", "alice": "203.0.113.12"}
# name -> (namespace role, network, daemon?)
NODES = {"server": ("home", "bob", True), "laptop": ("phone", "grewal", True),
         "visitor": ("alice", "alice", True), "bea": ("home", "bob", False),
         "alex": ("phone", "grewal", False), "ann": ("alice", "alice", False)}
# who may use each daemon's web service (its authorized_keys)
HOME_AUTH = {"server": ["alex", "ann"], "laptop": ["bea", "ann"], "visitor": ["alex"]}
PEERINGS = [("grewal", "bob", "full"), ("grewal", "alice", "one_way"),
            ("bob", "grewal", "full"), ("alice", "grewal", "full")]
GET = "GET / HTTP/1.0\r\n\r\n"


class FedLab:
    def __init__(self, peerup, topo, work):
        if not peerup or not os.access(peerup, os.X_OK):
            raise LabError(f"no peerup binary at {peerup!r} (pass --peerup or PEERUP_BINARY)")
        self.peerup, self.t, self.work = peerup, topo, work
        self.ids, self.relay_addr, self.relay_proc, self.starts = {}, {}, {}, {}
        self.daemon_proc = {}

    def p(self, *parts):
        return os.path.join(self.work, *parts)

    def cfg(self, name):
        return self.p(name, "config.yaml")

    def cmd(self, name, *args):
        return [self.peerup, "--config", self.cfg(name), *map(str, args)]

    # -- set-up ---------------------------------------------------------------

    def start_all(self):
        # 1. identities: nodes, then relays (relay init prints the peer ID)
        for name in NODES:
            cp = labnet.run([self.peerup, "init", "--dir", self.p(name)])
            m = PEER_ID.search(cp.stdout)
            if not m:
                raise LabError(f"peerup init printed no peer ID: {cp.stdout}{cp.stderr}")
            self.ids[name] = m.group(0)
        for net, (role, ip) in RELAYS.items():
            cp = labnet.run([self.peerup, "relay", "init", "--dir", self.p(f"relay-{net}"),
                             "--network", net])
            m = PEER_ID.search(cp.stdout)
            if not m:
                raise LabError(f"relay init printed no peer ID: {cp.stdout}{cp.stderr}")
            self.ids[net] = m.group(0)
            self.relay_addr[net] = f"/ip4/{ip}/tcp/{labnet.RELAY_PORT}/p2p/{m.group(0)}"
        # 2. members on their relays; peerings (before the relays start)
        for name, (_, net, _) in NODES.items():
            labnet.run([self.peerup, "relay", "authorize", "--dir", self.p(f"relay-{net}"),
                        self.ids[name], "--comment", name])
        for at, net, trust in PEERINGS:
            self.federation("add", at, net, "--trust", trust)
        # 3. relays, web services, node configs, daemons
        for net in RELAYS:
            self.start_relay(net)
        for name, (role, net, daemon) in NODES.items():
            self.write_config(name)
            if daemon:
                self.start_web(name)
                for who in HOME_AUTH[name]:
                    labnet.run(self.cmd(name, "auth", "add", self.ids[who], "--comment", who))
                self.start_daemon(name)
        for name, (_, net, daemon) in NODES.items():
            if daemon:
                wait_for(lambda: f"names: registered {name}.{net}" in
                         _read(self.p(f"{name}.log")), 20, f"{name}.{net} to register")
        return self

    def federation(self, verb, at, net, *extra):
        argv = [self.peerup, "relay", "federation", verb, "--dir", self.p(f"relay-{at}"), net]
        if verb == "add":
            argv.append(self.relay_addr[net])
        return labnet.run(argv + list(extra))

    def start_relay(self, net):
        role, _ = RELAYS[net]
        n = self.starts[net] = self.starts.get(net, 0) + 1
        out = self.p(f"relay-{net}-{n}.out")
        self.relay_proc[net] = self.t.spawn(
            role, [self.peerup, "relay", "serve", "--config",
                   self.p(f"relay-{net}", "relay.yaml"), "--listen",
                   f"/ip4/0.0.0.0/tcp/{labnet.RELAY_PORT}"],
            stdout=out, stderr=self.p(f"relay-{net}-{n}.log"))
        wait_for(lambda: "/p2p/" in _read(out), 10, f"relay {net} to print its addresses")

    def stop_relay(self, net):
        self.t.stop(self.relay_proc[net], signal.SIGTERM)
        log(f"relay {net} stopped")

    def relay_log(self, net):
        return "".join(_read(self.p(f"relay-{net}-{n}.log"))
                       for n in range(1, self.starts.get(net, 0) + 1))

    def write_config(self, name):
        role, net, daemon = NODES[name]
        lines = ["identity_key: identity.key", "authorized_keys: authorized_keys", "listen: []",
                 "networks:", f"  {net}:", f"    - {self.relay_addr[net]}"]
        if daemon:
            lines += [f"host_name: {name}", "services:", "  web:",
                      f"    local_address: 127.0.0.1:{WEB_PORT}"]
        with open(self.cfg(name), "w") as f:
            f.write("\n".join(lines) + "\n")

    def start_web(self, name):
        role, net, _ = NODES[name]
        www = self.p(f"www-{name}")
        os.makedirs(www, exist_ok=True)
        with open(os.path.join(www, "index.html"), "w") as f:
            f.write(f"hello from {name}.{net}\n")
        self.t.spawn(role, [sys.executable, "-m", "http.server", "--bind", "127.0.0.1",
                            "--directory", www, str(WEB_PORT)], stderr=self.p(f"http-{name}.txt"))

    def start_daemon(self, name):
        role = NODES[name][0]
        self.daemon_proc[name] = self.t.spawn(role, self.cmd(name, "daemon"),
                                              stdout=self.p(f"{name}.out"),
                                              stderr=self.p(f"{name}.log"))

    # -- using it ---------------------------------------------------------------

    def get(self, who, target, timeout=40):
        """`peerup connect <target> web` as `who`, sending an HTTP GET ->
        (ok, stdout, stderr). ok: the page of `target` came back."""
        role = NODES[who][0]
        try:
            cp = self.t.run(role, self.cmd(who, "connect", target, "web", "--no-hole-punch"),
                            check=False, timeout=timeout, input=GET)
        except LabError as e:
            return False, "", str(e)
        ok = cp.returncode == 0 and f"hello from {target}\n" in cp.stdout
        return ok, cp.stdout, cp.stderr

    def resolve(self, who, name):
        role = NODES[who][0]
        return self.t.run(role, self.cmd(who, "resolve", name), check=False, timeout=30)

    def gateway(self, who):
        """`peerup gateway` (DNS on 127.0.0.1:5353 inside who's namespace)."""
        role = NODES[who][0]
        out = self.p(f"gateway-{who}.out")
        self.t.spawn(role, self.cmd(who, "gateway", "--log-level", "debug", "--socks", "127.0.0.1:0", "--dns",
                                    f"127.0.0.1:{DNS_PORT}"),
                     stdout=out, stderr=self.p(f"gateway-{who}.log"))
        wait_for(lambda: f"dns 127.0.0.1:{DNS_PORT}" in _read(out) + _read(
            self.p(f"gateway-{who}.log")), 10, "the gateway to listen")

    def dig(self, who, name):
        role = NODES[who][0]
        return self.t.run(role, ["dig", "@127.0.0.1", "-p", str(DNS_PORT), "+time=10",
                                 "+tries=1", name], check=False, timeout=20)
