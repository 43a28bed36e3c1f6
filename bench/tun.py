#!/usr/bin/env python3
"""Network mode (TUN, issue 14) against Nebula and wireguard-go, in one run.

--path direct (the default): two network namespaces (pubench-tun-<pid>-a and
-b) joined by one veth pair (10.251.0.1 <-> 10.251.0.2, kernel speed, no
delay). --path relayed: a third namespace r between them (a 10.251.1.1 -
10.251.1.2 r 10.251.2.2 - 10.251.2.1 b, r forwards), and for the tunnels r's
iptables drops every forwarded packet (a FORWARD DROP rule), so a and b reach
only r: the tunnel must go through a relay in r (peerup's circuit relay v2,
`peerup relay serve`; Nebula's relay, `relay: am_relay`). The raw row is
measured before the rule, over the forwarded path a - r - b. Over that same
path, one after the other:
  raw        iperf3/ping straight over the veth (the path itself)
  peerup     `peerup daemon --tun` in each namespace, direct over QUIC (packets
             as QUIC datagrams) or, with --peerup-transport tcp, over TCP
             (the /peerup/ip/1.0.0 stream): 10.64.x.y addresses
  nebula     nebula 1.6 (Debian package), a as the lighthouse: 10.252.0.1/2
  wireguard  wireguard-go + wg (Debian packages wireguard-go, wireguard-tools):
             10.253.0.1/2. It has no relay: skipped with --path relayed.
  floor      bench/tun_floor (built with the bench targets): one thread per
             side moving each packet TUN <-> UDP with one read and one send,
             no crypto: the least any user-space tunnel adds to the raw path
             on this machine (10.254.0.1/2; relayed: a plain UDP forwarder in r
             in between, `tun_floor relay`). Not in the default
             --only: ask for it (--only raw,floor,peerup,nebula).
For each: iperf3 TCP b -> a (best of --runs, --seconds each), ping RTT (--pings
lone echoes 10 ms apart; min, median and mean; overhead = tunnel median - raw
median, the same for min), and the UDP
packet rate (iperf3 -u, 100-byte datagrams offered at --udp-rate, packets that
arrived per second). A tool that is not installed is skipped with a line that
says so. Ratios are against Nebula (the issue's target: peerup >= 4x Nebula).

Usage: sudo python3 bench/tun.py [--path direct|relayed] [--build build] [--runs 3]
                                 [--seconds 5] [--json out.json]
Needs root (namespaces, TUN). Bench-only dependencies (not in CI):
  apt-get install --no-install-recommends iperf3 nebula wireguard-go wireguard-tools
(without --no-install-recommends, wireguard-tools pulls in a kernel image and initramfs-tools)
Everything it starts is stopped and both namespaces are deleted on every exit
path; nothing on the host is touched. Run it on a quiet machine: the figures
of a shared CI box are not benchmarks.
"""
import argparse
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests", "lab"))
from labpeer import _read as read  # noqa: E402  (a file's text, "" when missing)
A_IP, B_IP = "10.251.0.1", "10.251.0.2"
# --path relayed: a - r - b, each side on its own /24 with r.
RELAYED_IP = {"a": "10.251.1.1", "b": "10.251.2.1"}
R_IP = {"a": "10.251.1.2", "b": "10.251.2.2"}  # r's address on each side's link
NEBULA_NET = ("10.252.0.1", "10.252.0.2")
NEBULA_RELAY = "10.252.0.3"  # r's Nebula address (lighthouse and relay)
WG_NET = ("10.253.0.1", "10.253.0.2")
FLOOR_NET = ("10.254.0.1", "10.254.0.2")
IPERF_PORT = 5201


def log(msg):
    print(f"[tun-bench {time.strftime('%H:%M:%S')}] {msg}", flush=True)


class Lab:
    """Two namespaces and a veth (or, relayed, a - r - b); run/spawn inside
    them; removes all on exit."""

    def __init__(self, work, relayed=False):
        tag = f"pubench-tun-{os.getpid()}"
        self.relayed = relayed
        self.ns = {"a": f"{tag}-a", "b": f"{tag}-b"}
        if relayed:
            self.ns["r"] = f"{tag}-r"
        self.work = work
        self.procs = []
        self.ip = dict(RELAYED_IP) if relayed else {"a": A_IP, "b": B_IP}

    def __enter__(self):
        for n in self.ns.values():
            subprocess.run(["ip", "netns", "add", n], check=True, timeout=10)
        tag = os.getpid() % 100000
        if not self.relayed:
            va, vb = f"pbt{tag}a", f"pbt{tag}b"
            subprocess.run(["ip", "link", "add", va, "netns", self.ns["a"], "type", "veth", "peer",
                            "name", vb, "netns", self.ns["b"]], check=True, timeout=10)
            links = (("a", va, A_IP), ("b", vb, B_IP))
        else:
            links = []
            for side in ("a", "b"):
                v, vr = f"pbt{tag}{side}", f"pbt{tag}r{side}"
                subprocess.run(["ip", "link", "add", v, "netns", self.ns[side], "type", "veth",
                                "peer", "name", vr, "netns", self.ns["r"]], check=True, timeout=10)
                links += [(side, v, RELAYED_IP[side]), ("r", vr, R_IP[side])]
        for side, dev, ip in links:
            self.run(side, ["ip", "addr", "add", f"{ip}/24", "dev", dev])
            self.run(side, ["ip", "link", "set", dev, "up"])
        for side in self.ns:
            self.run(side, ["ip", "link", "set", "lo", "up"])
        if self.relayed:
            self.run("r", ["sysctl", "-q", "-w", "net.ipv4.ip_forward=1"])
            self.run("a", ["ip", "route", "add", "10.251.2.0/24", "via", R_IP["a"]])
            self.run("b", ["ip", "route", "add", "10.251.1.0/24", "via", R_IP["b"]])
        return self

    def block_direct(self):
        """relayed: r stops forwarding between a and b (packets vanish, as
        behind symmetric NATs); only connections to r itself work."""
        if self.relayed:
            self.run("r", ["iptables", "-A", "FORWARD", "-j", "DROP"])

    def forward_drops(self):
        """Packets r's DROP rule dropped (a direct attempt), or None."""
        if not self.relayed:
            return None
        cp = self.run("r", ["iptables", "-L", "FORWARD", "-v", "-n", "-x"], check=False)
        m = re.search(r"^\s*(\d+)\s+\d+\s+DROP", cp.stdout, re.M)
        return int(m.group(1)) if m else None

    def __exit__(self, *exc):
        for p in self.procs:
            self.stop(p)
        for n in self.ns.values():
            subprocess.run(["ip", "netns", "del", n], timeout=10, stderr=subprocess.DEVNULL)

    def argv(self, side, argv):
        return ["ip", "netns", "exec", self.ns[side], *argv]

    def run(self, side, argv, check=True, timeout=30):
        cp = subprocess.run(self.argv(side, argv), capture_output=True, text=True, timeout=timeout)
        if check and cp.returncode != 0:
            raise RuntimeError(f"{' '.join(argv)} in {side} failed: {cp.stderr[-800:]}")
        return cp

    def spawn(self, side, argv, name):
        log_path = os.path.join(self.work, f"{name}.log")
        with open(log_path, "wb") as f:
            p = subprocess.Popen(self.argv(side, argv), stdout=f, stderr=subprocess.STDOUT,
                                 stdin=subprocess.DEVNULL, start_new_session=True)
        p.log_path = log_path
        self.procs.append(p)
        return p

    def stop(self, p):
        if p.poll() is None:
            os.killpg(p.pid, signal.SIGTERM)
            try:
                p.wait(timeout=5)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait(timeout=5)


def wait_for(pred, timeout, what):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        v = pred()
        if v:
            return v
        time.sleep(0.2)
    raise RuntimeError(f"timed out after {timeout} s waiting for {what}")


# -- measurements (client in b, server in a) ----------------------------------

def measure(lab, addr, args):
    out = {}
    got = wait_for(lambda: lab.run("b", ["ping", "-n", "-c", "1", "-W", "1", addr],
                                   check=False).returncode == 0, 30, f"{addr} to answer ping")
    # Many lone echoes 10 ms apart: the latency of one packet, not of a queue.
    cp = lab.run("b", ["ping", "-n", "-c", str(args.pings), "-i", "0.01", addr],
                 timeout=args.pings * 0.05 + 30)
    rtts = sorted(float(x) for x in re.findall(r"time=([\d.]+) ms", cp.stdout))
    out["rtt_ms"] = sum(rtts) / len(rtts) if rtts else None
    out["rtt_min_ms"] = rtts[0] if rtts else None
    out["rtt_median_ms"] = rtts[len(rtts) // 2] if rtts else None
    out["pings_answered"] = len(rtts)
    best = 0.0
    for _ in range(args.runs):
        srv = lab.spawn("a", ["iperf3", "-s", "-1", "-B", addr, "-p", str(IPERF_PORT)], "iperf3-s")
        time.sleep(0.4)
        cp = lab.run("b", ["iperf3", "-c", addr, "-p", str(IPERF_PORT), "-t", str(args.seconds),
                           "-J"], check=False, timeout=args.seconds + 30)
        lab.stop(srv)
        if cp.returncode == 0:
            best = max(best, json.loads(cp.stdout)["end"]["sum_received"]["bits_per_second"] / 1e6)
    out["tcp_mbps"] = best
    srv = lab.spawn("a", ["iperf3", "-s", "-1", "-B", addr, "-p", str(IPERF_PORT)], "iperf3-s")
    time.sleep(0.4)
    cp = lab.run("b", ["iperf3", "-c", addr, "-p", str(IPERF_PORT), "-u", "-b", args.udp_rate,
                       "-l", "100", "-t", str(args.seconds), "-J"], check=False,
                 timeout=args.seconds + 30)
    lab.stop(srv)
    if cp.returncode == 0:
        s = json.loads(cp.stdout)["end"]["sum"]
        arrived = s.get("packets", 0) - s.get("lost_packets", 0)
        out["udp_pps"] = arrived / max(s.get("seconds", args.seconds), 1e-9)
    else:
        out["udp_pps"] = None
    return out


# -- the systems ---------------------------------------------------------------

def start_peerup(lab, args, binary=None):
    peerup = binary or args.peerup or os.path.join(args.build, "src", "cli", "peerup")
    if not os.access(peerup, os.X_OK):
        return None, f"no peerup binary at {peerup} (build it: cmake --build {args.build} --target peerup)"
    ids, dirs = {}, {}
    for side in ("a", "b"):
        d = dirs[side] = os.path.join(lab.work, f"peerup-{side}")
        os.makedirs(d)
        ids[side] = subprocess.run([peerup, "keygen", "--key", os.path.join(d, "identity.key")],
                                   check=True, capture_output=True, text=True).stdout.strip()
    port = 4301
    proto = (lambda ip: f"/ip4/{ip}/udp/{port}/quic-v1") if args.peerup_transport == "quic" \
        else (lambda ip: f"/ip4/{ip}/tcp/{port}")
    relays = {"a": [], "b": []}
    procs = {}
    if lab.relayed:
        # A circuit relay v2 in r that a and b reserve on (over --peerup-transport);
        # authorized peers' circuits have no time or data limit (docs/relay.md).
        rdir = os.path.join(lab.work, "peerup-relay")
        os.makedirs(rdir)
        rid = subprocess.run([peerup, "keygen", "--key", os.path.join(rdir, "identity.key")],
                             check=True, capture_output=True, text=True).stdout.strip()
        for side in ("a", "b"):
            subprocess.run([peerup, "relay", "authorize", ids[side], "--comment", side, "--dir",
                            rdir], check=True, capture_output=True)
            relays[side] = [f"{proto(R_IP[side])}/p2p/{rid}"]
        procs["r"] = lab.spawn("r", [peerup, "relay", "serve", "--dir", rdir, "--listen",
                                     proto("0.0.0.0")], "peerup-relay")
        wait_for(lambda: "/p2p/" in read(procs["r"].log_path), 15, "peerup's relay in r")
    for side, other in (("a", "b"), ("b", "a")):
        # Direct: the peer's address; relayed: its ID only (reached through
        # the relay; a hole punch to its address dies in r's DROP rule).
        peer = (f"{proto(lab.ip[other])}/p2p/{ids[other]}" if not lab.relayed else ids[other])
        relay_lines = "".join(f"\n  - {r}" for r in relays[side]) if relays[side] else " []"
        with open(os.path.join(dirs[side], "config.yaml"), "w") as f:
            f.write("identity_key: identity.key\nauthorized_keys: authorized_keys\n"
                    f"listen:\n  - {proto('0.0.0.0')}\nrelays:{relay_lines}\nservices: {{}}\n"
                    f"names:\n  peer: {peer}\n"
                    "network:\n  tun: true\n  name: pubench0\n  allow: [all]\n")
        subprocess.run([peerup, "--config", os.path.join(dirs[side], "config.yaml"), "auth",
                        "add", ids[other], "--comment", "bench"], check=True, capture_output=True)
    for s in ("a", "b"):
        procs[s] = lab.spawn(s, [peerup, "--config", os.path.join(dirs[s], "config.yaml"),
                                 "daemon", "--tun"], f"peerup-{s}")

    def addr_of(side):
        if procs[side].poll() is not None:
            raise RuntimeError(f"peerup in {side} exited: {read(procs[side].log_path)[-1500:]}")
        m = re.search(r"network mode: pubench0 is (\S+)/", read(procs[side].log_path))
        return m and m.group(1)
    a_addr = wait_for(lambda: addr_of("a"), 20, "peerup's interface in a")
    wait_for(lambda: addr_of("b"), 20, "peerup's interface in b")
    if lab.relayed:
        for side in ("a", "b"):
            wait_for(lambda: "reserved on relay" in read(procs[side].log_path), 20,
                     f"peerup in {side} to reserve on the relay")
    return a_addr, procs


def peerup_path(procs):
    """How b's daemon sends to a: the transport of its last "sending to ...
    over a X connection" line (quic, tcp or relayed)."""
    found = re.findall(r"sending to \S+ over a (\w+) connection", read(procs["b"].log_path))
    return found[-1] if found else None


def start_nebula(lab, args):
    if not shutil.which("nebula") or not shutil.which("nebula-cert"):
        return None, "nebula not installed (apt-get install nebula)"
    d = os.path.join(lab.work, "nebula")
    os.makedirs(d)
    subprocess.run(["nebula-cert", "ca", "-name", "bench", "-out-crt", f"{d}/ca.crt", "-out-key",
                    f"{d}/ca.key"], check=True, capture_output=True)
    procs = {}
    # Direct: a is the lighthouse. Relayed: r is the lighthouse and the relay
    # (Nebula >= 1.6: relay.am_relay), a and b name it in relay.relays and
    # use relays when their direct handshake gets no answer.
    if lab.relayed:
        nodes = (("r", NEBULA_RELAY, True), ("a", NEBULA_NET[0], False),
                 ("b", NEBULA_NET[1], False))
        lighthouse = NEBULA_RELAY
    else:
        nodes = (("a", NEBULA_NET[0], True), ("b", NEBULA_NET[1], False))
        lighthouse = NEBULA_NET[0]
    for side, ip, lh in nodes:
        subprocess.run(["nebula-cert", "sign", "-ca-crt", f"{d}/ca.crt", "-ca-key", f"{d}/ca.key",
                        "-name", side, "-ip", f"{ip}/24", "-out-crt", f"{d}/{side}.crt",
                        "-out-key", f"{d}/{side}.key"], check=True, capture_output=True)
        hosts = "    []\n" if lh else f"    - \"{lighthouse}\"\n"
        lh_real = R_IP[side] if lab.relayed and side != "r" else lab.ip["a"]
        if not lab.relayed:
            relay = ""
        elif side == "r":
            relay = "relay:\n  am_relay: true\n  use_relays: true\n"
        else:
            relay = f"relay:\n  relays:\n    - {NEBULA_RELAY}\n  am_relay: false\n  use_relays: true\n"
        static = "" if lh else f"static_host_map:\n  \"{lighthouse}\": [\"{lh_real}:4242\"]\n"
        with open(f"{d}/{side}.yml", "w") as f:
            f.write(f"pki:\n  ca: {d}/ca.crt\n  cert: {d}/{side}.crt\n  key: {d}/{side}.key\n"
                    f"{static}"
                    f"lighthouse:\n  am_lighthouse: {'true' if lh else 'false'}\n"
                    f"  hosts:\n{hosts}"
                    f"{relay}"
                    "listen:\n  host: 0.0.0.0\n  port: 4242\n"
                    "tun:\n  dev: nebula1\n  mtu: 1300\n"
                    "logging:\n  level: warning\n"
                    "firewall:\n  outbound:\n    - port: any\n      proto: any\n      host: any\n"
                    "  inbound:\n    - port: any\n      proto: any\n      host: any\n")
        procs[side] = lab.spawn(side, ["nebula", "-config", f"{d}/{side}.yml"], f"nebula-{side}")
    for side in ("a", "b"):
        wait_for(lambda: lab.run(side, ["ip", "link", "show", "nebula1"],
                                 check=False).returncode == 0, 15, f"nebula1 in {side}")
    return NEBULA_NET[0], procs


def start_wireguard(lab, args):
    if lab.relayed:
        return None, "wireguard-go has no relay (a peer it cannot reach directly is unreachable)"
    if not shutil.which("wireguard-go") or not shutil.which("wg"):
        return None, "wireguard-go or wg not installed (apt-get install wireguard-go wireguard-tools)"
    keys = {}
    for side in ("a", "b"):
        priv = subprocess.run(["wg", "genkey"], check=True, capture_output=True, text=True).stdout.strip()
        pub = subprocess.run(["wg", "pubkey"], input=priv, check=True, capture_output=True,
                             text=True).stdout.strip()
        keys[side] = (priv, pub)
    procs = {}
    for side, other, ip, other_ip, other_wg in (("a", "b", WG_NET[0], B_IP, WG_NET[1]),
                                                ("b", "a", WG_NET[1], A_IP, WG_NET[0])):
        # -f: foreground, so stopping the process removes the interface.
        # One name per side: wireguard-go's control socket lives in
        # /var/run/wireguard/<name>.sock, which both namespaces share.
        dev = f"pbwg{side}"
        # wireguard-go refuses to run on Linux (where the kernel module exists)
        # unless told that userspace is what we want: here it is the subject.
        env_argv = ["env", "WG_PROCESS_FOREGROUND=1",
                    "WG_I_PREFER_BUGGY_USERSPACE_TO_POLISHED_KMOD=1", "wireguard-go", "-f", dev]
        procs[side] = lab.spawn(side, env_argv, f"wireguard-{side}")
        wait_for(lambda: lab.run(side, ["ip", "link", "show", dev], check=False).returncode == 0,
                 10, f"{dev} in {side}")
        kf = os.path.join(lab.work, f"wg-{side}.key")
        with open(kf, "w") as f:
            f.write(keys[side][0])
        os.chmod(kf, 0o600)
        lab.run(side, ["wg", "set", dev, "private-key", kf, "listen-port", "51820", "peer",
                       keys[other][1], "endpoint", f"{other_ip}:51820", "allowed-ips",
                       f"{other_wg}/32"])
        lab.run(side, ["ip", "addr", "add", f"{ip}/24", "dev", dev])
        lab.run(side, ["ip", "link", "set", dev, "up"])
    return WG_NET[0], procs


def start_floor(lab, args):
    binary = os.path.join(args.build, "bench", "tun_floor")
    if not os.access(binary, os.X_OK):
        return None, f"{binary} not built (cmake --build {args.build} --target tun_floor)"
    procs = {}
    peer_of = {"a": lab.ip["b"], "b": lab.ip["a"]}
    if lab.relayed:
        # The relayed floor: a plain UDP forwarder in r, between a and b.
        procs["r"] = lab.spawn("r", [binary, "relay", "51830", lab.ip["a"], lab.ip["b"]],
                               "floor-r")
        wait_for(lambda: "tun_floor relay" in read(procs["r"].log_path), 10, "floor relay in r")
        peer_of = {"a": R_IP["a"], "b": R_IP["b"]}
    for side, ip in (("a", FLOOR_NET[0]), ("b", FLOOR_NET[1])):
        procs[side] = lab.spawn(side, [binary, "pbfloor", f"{ip}/24", "51830", peer_of[side],
                                       "51830"], f"floor-{side}")
        wait_for(lambda: lab.run(side, ["ip", "link", "show", "pbfloor"], check=False)
                 .returncode == 0, 10, f"pbfloor in {side}")
    return FLOOR_NET[0], procs


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--seconds", type=int, default=5)
    ap.add_argument("--pings", type=int, default=200)
    ap.add_argument("--udp-rate", default="200M")
    ap.add_argument("--peerup-transport", choices=("quic", "tcp"), default="quic")
    ap.add_argument("--path", choices=("direct", "relayed"), default="direct",
                    help="relayed: through a relay in a third namespace, direct packets dropped")
    ap.add_argument("--only", default="raw,peerup,nebula,wireguard")
    ap.add_argument("--peerup", help="the peerup binary (default: <build>/src/cli/peerup)")
    ap.add_argument("--baseline", help="another peerup binary, measured in the same run as the "
                    "row 'baseline' (before/after comparisons)")
    ap.add_argument("--json")
    args = ap.parse_args()
    if os.geteuid() != 0:
        sys.exit("bench/tun.py needs root (network namespaces and TUN devices)")
    if not shutil.which("iperf3"):
        sys.exit("iperf3 not found (apt-get install iperf3)")
    results = {}
    systems = {"peerup": start_peerup, "nebula": start_nebula, "wireguard": start_wireguard,
               "floor": start_floor,
               "baseline": lambda lab, a: start_peerup(lab, a, a.baseline)}
    only = args.only.split(",")
    if args.baseline and "baseline" not in only:
        only.insert(only.index("peerup") + 1 if "peerup" in only else len(only), "baseline")
    with tempfile.TemporaryDirectory(prefix="pubench-tun-") as work:
        for name in only:
            os.makedirs(os.path.join(work, name))
            with Lab(os.path.join(work, name), relayed=args.path == "relayed") as lab:
                try:
                    if name == "raw":
                        addr = lab.ip["a"]
                    else:
                        lab.block_direct()
                        addr, procs = systems[name](lab, args)
                        if addr is None:
                            log(f"{name}: skipped: {procs}")
                            continue
                    log(f"{name}: measuring to {addr} ({args.path})")
                    results[name] = measure(lab, addr, args)
                    if name in ("peerup", "baseline"):
                        results[name]["path"] = peerup_path(procs)
                    if lab.relayed and name != "raw":
                        # Proof that nothing went direct: what r's DROP rule caught.
                        results[name]["direct_packets_dropped"] = lab.forward_drops()
                    log(f"{name}: {results[name]}")
                except Exception as e:  # one system failing must not hide the others
                    results[name] = {"error": str(e)[-1500:]}
                    log(f"{name}: FAILED: {e}")
    raw = results.get("raw", {})
    neb = results.get("nebula", {})
    print(f"\npath: {args.path}")
    print(f"{'system':<10} {'TCP Mbit/s':>11} {'vs nebula':>10} {'RTT min':>8} {'median':>8} "
          f"{'+min ms':>8} {'+median':>8} {'UDP pkt/s':>10}")

    def ms(v):
        return f"{v:.3f}" if v is not None else "-"

    def over(r, key):
        return (f"{r[key] - raw[key]:.3f}" if r.get(key) is not None and raw.get(key) is not None
                else "-")
    for name, r in results.items():
        if "error" in r:
            print(f"{name:<10} error: {r['error'].splitlines()[-1] if r['error'] else ''}")
            continue
        ratio = (f"{r['tcp_mbps'] / neb['tcp_mbps']:.2f}x"
                 if neb.get("tcp_mbps") else "-")
        pps = f"{r['udp_pps']:.0f}" if r.get("udp_pps") else "-"
        print(f"{name:<10} {r['tcp_mbps']:>11.1f} {ratio:>10} {ms(r.get('rtt_min_ms')):>8} "
              f"{ms(r.get('rtt_median_ms')):>8} {over(r, 'rtt_min_ms'):>8} "
              f"{over(r, 'rtt_median_ms'):>8} {pps:>10}")
    for name in ("peerup", "baseline"):
        if results.get(name, {}).get("path"):
            print(f"{name} sent over a {results[name]['path']} connection")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=2)
    return 0 if all("error" not in r for r in results.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
