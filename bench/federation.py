#!/usr/bin/env python3
"""Relay federation (issue 18, docs/federation.md): what crossing networks costs.

Starts, all on 127.0.0.1: two network relays, grewal and bob (grewal lists bob
full, bob lists grewal one_way: grewal's members reach bob's hosts), a bob home
node "server" and a grewal home node "desk", each exposing a banner service
("ssh": sends one byte on accept, as sshd does) and an iperf3 server. Then,
for a grewal laptop:
  - time to first byte of a NEW `peerup connect <host> ssh` process (what every
    ssh ProxyCommand pays):
      desk.grewal                     within one network (one relay)
      server.bob, warm                the grewal relay has server.bob cached and
                                      the bob relay knows laptop is grewal's member
      server.bob, cold                the grewal relay restarted (empty caches)
                                      and a laptop identity bob's relay never saw:
                                      one LOOKUP and one MEMBER exchange between
                                      the relays inside the measurement
      server.bob, forwarded           through the grewal relay, which forwards
                                      the circuit to the bob relay (two relays)
  - throughput (iperf3 through `peerup proxy`): desk.grewal (one relay) against
    server.bob forwarded (two relays) and server.bob direct (one relay, the bob
    relay).

Usage: python3 bench/federation.py [--build build] [--runs 10] [--bytes 256MiB]
Every process is stopped at the end. Prints one JSON line per row as well.
"""
import argparse, json, os, re, statistics, subprocess, sys, tempfile, time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "tests", "lab"))
from labpeer import _read as read  # noqa: E402  (a file's text, "" when missing)
from proxy import BannerServer, Procs, cold_first_byte_ms, iperf3_to, size, wait_port  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PEER_ID = re.compile(r"12D3KooW[1-9A-HJ-NP-Za-km-z]+")


def run(argv, timeout=60):
    out = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=timeout)
    if out.returncode != 0:
        raise RuntimeError(f"{' '.join(argv[:4])}... failed: {out.stderr.strip()[-800:]}")
    return out.stdout


def wait_for(pred, limit, what):
    deadline = time.time() + limit
    while time.time() < deadline:
        v = pred()
        if v:
            return v
        time.sleep(0.1)
    raise RuntimeError(f"timed out after {limit} s waiting for {what}")


class Bench:
    def __init__(self, peerup, work, runs):
        self.peerup, self.work, self.runs = peerup, work, runs
        self.procs = Procs()
        self.relay_proc, self.addr, self.ids, self.starts = {}, {}, {}, {}

    def p(self, *parts):
        return os.path.join(self.work, *parts)

    def node(self, name):
        out = run([self.peerup, "init", "--dir", self.p(name)])
        self.ids[name] = PEER_ID.search(out).group(0)
        return name

    def cmd(self, name, *args):
        return [self.peerup, "--config", self.p(name, "config.yaml"), *map(str, args)]

    def relay(self, net, members):
        d = self.p(f"relay-{net}")
        if net not in self.ids:
            out = run([self.peerup, "relay", "init", "--dir", d, "--network", net])
            self.ids[net] = PEER_ID.search(out).group(0)
            for m in members:
                run([self.peerup, "relay", "authorize", "--dir", d, self.ids[m]])
        # The same port on a restart: the other side's config names it.
        listen = self.addr[net].split("/p2p/")[0] if net in self.addr else "/ip4/127.0.0.1/tcp/0"
        n = self.starts[net] = self.starts.get(net, 0) + 1
        out = self.p(f"relay-{net}-{n}.out")
        with open(out, "w") as f:
            p = subprocess.Popen([self.peerup, "relay", "serve", "--config", os.path.join(d, "relay.yaml"),
                                  "--listen", listen], stdout=f, stderr=open(self.p(f"relay-{net}-{n}.log"), "w"),
                                 stdin=subprocess.DEVNULL)
        self.procs.procs.append(p)
        self.relay_proc[net] = p
        line = wait_for(lambda: next((l for l in read(out).splitlines() if l.startswith("/ip4/127.0.0.1")), None),
                        15, f"relay {net} to print its address")
        self.addr[net] = line.strip()

    def restart_relay(self, net):
        p = self.relay_proc[net]
        p.terminate()
        p.wait(10)
        self.relay(net, [])
        time.sleep(1.0)  # its federation loop pings the peer relays at start

    def member(self, name, net, services=None):
        lines = ["identity_key: identity.key", "listen: []", "networks:", f"  {net}:", f"    - {self.addr[net]}"]
        if services:
            lines += [f"host_name: {name}", "services:"]
            for s, port in services.items():
                lines += [f"  {s}:", f"    local_address: 127.0.0.1:{port}"]
        with open(self.p(name, "config.yaml"), "w") as f:
            f.write("\n".join(lines) + "\n")

    def daemon(self, name, net, allowed):
        for a in allowed:
            run(self.cmd(name, "auth", "add", self.ids[a]))
        log = self.p(f"{name}.log")
        with open(log, "w") as f:
            self.procs.procs.append(subprocess.Popen(self.cmd(name, "daemon"), stdout=subprocess.DEVNULL,
                                                     stderr=f, stdin=subprocess.DEVNULL))
        wait_for(lambda: f"names: registered {name}.{net}" in read(log), 20, f"{name}.{net} to register")

    def ttfb(self, who, target):
        return cold_first_byte_ms(self.cmd(who, "connect", target, "ssh", "--no-hole-punch"), 1)[0]

    def proxy(self, who, target):
        out = self.p(f"proxy-{who}-{len(self.procs.procs)}.out")
        with open(out, "w") as f:
            p = subprocess.Popen(self.cmd(who, "proxy", target, "iperf", "0", "--no-hole-punch"), stdout=f,
                                 stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
        self.procs.procs.append(p)
        m = wait_for(lambda: re.search(r"proxy 127\.0\.0\.1:(\d+)", read(out)), 20, "peerup proxy to listen")
        return int(m.group(1)), p


def row(name, value, unit, extra=None):
    print(f"{name:52} {value:10.2f} {unit}", flush=True)
    print(json.dumps({"bench": "federation", "row": name, "value": round(value, 3), "unit": unit,
                      **(extra or {})}), flush=True)


def median_p90(samples):
    s = sorted(samples)
    return statistics.median(s), s[max(0, int(len(s) * 0.9) - 1)]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--runs", type=int, default=10, help="TTFB samples per row (1-200)")
    ap.add_argument("--bytes", type=size, default=size("256MiB"), help="iperf3 bytes per throughput row")
    ap.add_argument("--keep", action="store_true", help="keep the work directory")
    a = ap.parse_args()
    if not 1 <= a.runs <= 200:
        ap.error("--runs must be 1 to 200")
    peerup = os.path.join(a.build, "src", "cli", "peerup")
    if not os.access(peerup, os.X_OK):
        ap.error(f"no peerup binary at {peerup}")
    work = tempfile.mkdtemp(prefix="peerup-bench-fed.")
    b = Bench(peerup, work, a.runs)
    banner = BannerServer()
    iperf_port = None
    try:
        # 1. identities: the laptop (warm), one fresh laptop per cold run, the hosts
        laptop = b.node("laptop")
        cold = [b.node(f"cold{i}") for i in range(a.runs)]
        desk, server = b.node("desk"), b.node("server")
        # 2. relays; the bob relay must not rate-limit the cold laptops' first
        #    CONNECTs (all from 127.0.0.1), nor the grewal relay their lookups
        b.relay("bob", [server])
        b.relay("grewal", [laptop, desk, *cold])
        run([peerup, "relay", "federation", "add", "--dir", b.p("relay-grewal"), "bob", b.addr["bob"], "--trust", "full"])
        run([peerup, "relay", "federation", "add", "--dir", b.p("relay-bob"), "grewal", b.addr["grewal"], "--trust",
             "one_way"])
        for net, limit in (("bob", "  unknown_connects_per_ip: 10000\n  lookups_per_second: 10000\n"),
                           ("grewal", "  lookups_per_second: 10000\n")):
            path = b.p(f"relay-{net}", "relay.yaml")
            with open(path) as f:
                text = f.read()
            with open(path, "w") as f:
                f.write(re.sub(r"(?m)^federation:\n", lambda m: m.group(0) + limit, text, count=1))
        # The relays re-read relay.yaml within 2 s; restart them to be sure.
        for net in ("bob", "grewal"):
            b.restart_relay(net)
        # 3. services and home nodes
        iperf_port = wait_port_free_iperf(b)
        services = {"ssh": banner.port, "iperf": iperf_port}
        for name in (laptop, *cold):
            b.member(name, "grewal")
        b.member(desk, "grewal", services)
        b.member(server, "bob", services)
        b.daemon(desk, "grewal", [laptop])
        b.daemon(server, "bob", [laptop, *cold])
        circuit = f"{b.addr['grewal']}/p2p-circuit/p2p/{b.ids[server]}"

        # 4. TTFB, warm rows first (the cold rows restart the grewal relay)
        within = [b.ttfb(laptop, "desk.grewal") for _ in range(a.runs)]
        b.ttfb(laptop, "server.bob")  # warms both relays' caches
        warm = [b.ttfb(laptop, "server.bob") for _ in range(a.runs)]
        forwarded = [b.ttfb(laptop, circuit) for _ in range(a.runs)]
        log_g = read(b.p(f"relay-grewal-{b.starts['grewal']}.log"))
        if f"forwarded circuit {b.ids[laptop]} -> {b.ids[server]} open" not in log_g:
            raise RuntimeError("the forwarded rows did not go through two relays (no forwarded circuit logged)")

        # 5. throughput: one relay (same network), two relays (forwarded), one (federated direct)
        results = {}
        for name, target in (("one relay: desk.grewal", "desk.grewal"),
                             ("two relays: server.bob forwarded", circuit),
                             ("one relay: server.bob via bob relay", "server.bob")):
            port, p = b.proxy(laptop, target)
            results[name] = iperf3_to(port, a.bytes)
            p.terminate()
            p.wait(5)
            row(f"throughput {name}", results[name], "MiB/s", {"bytes": a.bytes})
        row("throughput two relays / one relay",
            results["two relays: server.bob forwarded"] / results["one relay: desk.grewal"], "x")

        # 6. cold: a restarted grewal relay (empty name cache) and a laptop the
        #    bob relay never saw (one MEMBER question)
        cold_s = []
        for who in cold:
            b.restart_relay("grewal")
            cold_s.append(b.ttfb(who, "server.bob"))
        for name, samples in (("ttfb desk.grewal (one network, one relay)", within),
                              ("ttfb server.bob warm (federated, via bob relay)", warm),
                              ("ttfb server.bob cold (LOOKUP + MEMBER inside)", cold_s),
                              ("ttfb server.bob forwarded (two relays)", forwarded)):
            med, p90 = median_p90(samples)
            row(name + " median", med, "ms", {"p90": round(p90, 3), "runs": len(samples)})
        row("ttfb cold / within one network", statistics.median(cold_s) / statistics.median(within), "x")
        row("ttfb warm / within one network", statistics.median(warm) / statistics.median(within), "x")
        row("ttfb forwarded / within one network",
            statistics.median(forwarded) / statistics.median(within), "x")
    finally:
        b.procs.stop()
        banner.stop()
        if a.keep:
            print(f"work directory kept: {work}")
        else:
            subprocess.run(["rm", "-rf", work])
    return 0


def wait_port_free_iperf(b):
    """An iperf3 server on a free loopback port (stopped with the rest)."""
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    b.procs.procs.append(subprocess.Popen(["iperf3", "-s", "-B", "127.0.0.1", "-p", str(port)],
                                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
    wait_port(port)
    return port


if __name__ == "__main__":
    sys.exit(main())
