"""Network mode (TUN, issue 14) in the NAT lab: home and phone each run
`peerup daemon --tun`; real ping, iperf3 and nc go to the 10.64 addresses.

home allows [icmp, tcp/5201, udp/5201] (iperf3); phone keeps the default
[icmp]. A stranger on the public segment (in the relay's namespace) has home
in its own config but is not in home's authorized_keys."""

import json
import os
import re
import signal
import time

import labnet
import labpeer
from labnet import LabError, log, wait_for
from labpeer import Node, _read

HOME_ALLOW = "[icmp, tcp/5201, udp/5201]"
IPERF_PORT = 5201


def _tun_section(allow=None):
    lines = ["network:", "  tun: true"]
    if allow:
        lines.append(f"  allow: {allow}")
    return "\n".join(lines) + "\n"


class TunLab:
    def __init__(self, peerup, topo, work, quic=False):
        """quic: home, phone and the relay also listen on QUIC and reach the
        relay over it, so the hole punch yields a direct QUIC path (packets as
        QUIC datagrams)."""
        self.lab = labpeer.PeerupLab(peerup, topo, work, quic=quic)
        self.t, self.peerup, self.work = topo, peerup, work
        self.procs = {}

    def p(self, name):
        return os.path.join(self.work, name)

    def start(self):
        lab = self.lab
        lab.start_relay()
        self.home = Node(self.peerup, self.p("home"))
        self.phone = Node(self.peerup, self.p("phone"))
        for n, comment in ((self.home, "home"), (self.phone, "phone")):
            labnet.run([self.peerup, "relay", "authorize", n.id, "--comment", comment, "--dir",
                        self.p("relay")])
        listen = lab.listen_addrs(labnet.HOME_PORT)
        self.home.write_config(listen, [lab.relay_addr], names={"phone": self.phone.id})
        self.phone.write_config(listen, [lab.relay_addr], names={"home": self.home.id})
        with open(self.home.config, "a") as f:
            f.write(_tun_section(HOME_ALLOW))
        with open(self.phone.config, "a") as f:
            f.write(_tun_section())
        labnet.run(self.home.cmd("auth", "add", self.phone.id, "--comment", "phone"))
        labnet.run(self.phone.cmd("auth", "add", self.home.id, "--comment", "home"))
        self.home_addr = self.start_daemon("home", self.home)
        self.phone_addr = self.start_daemon("phone", self.phone)
        for role in ("home", "phone"):
            wait_for(lambda: "reserved on relay" in _read(self.p(f"{role}.log")), 20,
                     f"{role} to reserve a slot on the relay")
        log(f"home is {self.home_addr}, phone is {self.phone_addr}")
        return self

    def start_daemon(self, role, node, ns=None):
        log_path = self.p(f"{role}.log")
        if os.path.exists(log_path):
            os.rename(log_path, log_path + f".{int(time.monotonic() * 1000)}")
        self.procs[role] = self.t.spawn(ns or role, node.cmd("daemon", "--tun", *(["--log-level", "debug"] if os.environ.get("LAB_TUN_DEBUG") else [])),
                                        stdout=self.p(f"{role}.out"), stderr=log_path)

        def addr():
            if self.procs[role].poll() is not None:
                raise LabError(f"{role} daemon exited with {self.procs[role].returncode}: "
                               f"{_read(log_path)[-2000:]}")
            m = re.search(r"network mode: peerup0 is (10\.64\.\d+\.\d+)/16", _read(log_path))
            return m.group(1) if m else None

        return wait_for(addr, 15, f"{role}'s TUN interface")

    def stop_daemon(self, role, sig=signal.SIGTERM):
        self.t.stop(self.procs[role], sig)

    def counters(self, role):
        """The counters (datagram_out=, stream_in=, drops by reason) of the last
        "network mode: peerup0 removed" line."""
        lines = [l for l in _read(self.p(f"{role}.log")).splitlines() if "peerup0 removed" in l]
        if not lines:
            return {}
        return {k: int(v) for k, v in re.findall(r"(\w+)=(\d+)", lines[-1])}

    def network_status(self, role, node):
        """The "network" section of `peerup status --json`, asked of role's
        live daemon over its control socket."""
        cp = self.t.run(role, node.cmd("status", "--json"), check=False, timeout=15)
        if cp.returncode != 0:
            raise LabError(f"peerup status --json on {role} failed: {cp.stderr[-500:]}")
        return json.loads(cp.stdout).get("network")

    # -- tools ----------------------------------------------------------------

    def ping(self, role, addr, count=5, deadline=20, source=None):
        argv = ["ping", "-n", "-c", str(count), "-i", "0.2", "-w", str(deadline), addr]
        if source:
            argv[1:1] = ["-I", source]
        cp = self.t.run(role, argv, check=False, timeout=deadline + 5)
        m = re.search(r"(\d+) received", cp.stdout)
        rtt = re.search(r"= [\d.]+/([\d.]+)/", cp.stdout)
        return (int(m.group(1)) if m else 0), (float(rtt.group(1)) if rtt else None), cp.stdout

    def iperf(self, server_role, client_role, addr, udp=False, seconds=3, timeout=30, rate=None):
        srv = self.t.spawn(server_role, ["iperf3", "-s", "-1", "-B", addr, "-p", str(IPERF_PORT)],
                           stdout=self.p("iperf-server.txt"))
        time.sleep(0.5)
        argv = ["iperf3", "-c", addr, "-p", str(IPERF_PORT), "-t", str(seconds), "-J"]
        if udp:
            argv += ["-u", "-b", rate or "20M", "-l", "1000"]
        elif rate:
            argv += ["-b", rate]
        cp = self.t.run(client_role, argv, check=False, timeout=timeout)
        self.t.stop(srv)
        if cp.returncode != 0:
            return None, cp.stdout[-1500:] + cp.stderr[-500:]
        return json.loads(cp.stdout), ""
