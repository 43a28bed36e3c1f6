#!/usr/bin/env python3
"""A TCP service through `peerup proxy`, against `ssh -L` and raw TCP, in one run.

Starts, all on 127.0.0.1: a relay, a home daemon exposing an iperf3 server and a
"banner" server (sends one byte on accept) as services, a laptop running
`peerup proxy` to the home's direct address and to its /p2p-circuit address, and
an OpenSSH server with `ssh -N -L` forwards to the same two services. Then:
  - bulk throughput: iperf3 through each path (best of N);
  - time to first byte of a NEW proxied connection over an EXISTING libp2p (or
    ssh) connection: connect to the forwarder, read the banner's first byte.

With --rtt MS the laptop side (proxies, ssh client, iperf3 client) and the home
side (relay, daemon, sshd, servers) run in two network namespaces joined by a
link with that round-trip time (bench/wanlink.py): what a user reaching home
across the internet gets. Without it everything runs on 127.0.0.1, where every
forwarder is CPU-bound.

Usage: python3 bench/proxy.py [--build build] [--bytes 512MiB] [--runs 3] [--ttfb 200] [--rtt MS]
Needs root for sshd (it logs in as root with a throwaway key) and for --rtt;
without root the ssh -L rows are skipped and say so. Every process is stopped
at the end.
"""
import argparse, json, os, re, select, shutil, socket, statistics, subprocess, sys, tempfile, threading, time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PLAIN_PAIR = "plain forwarder pair (socat, no crypto)"


def size(text):
    m = re.fullmatch(r"(\d+)(B|KiB|MiB|GiB)?", text)
    if not m:
        raise argparse.ArgumentTypeError(f"bad size {text!r}")
    return int(m.group(1)) * {None: 1, "B": 1, "KiB": 1 << 10, "MiB": 1 << 20, "GiB": 1 << 30}[m.group(2)]


def run(argv, timeout=600):
    out = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=timeout)
    if out.returncode != 0:
        raise RuntimeError(f"{' '.join(argv[:3])}... failed: {out.stderr.strip()[-500:]}")
    return out.stdout


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Topology:
    """Where the home side runs. Loopback: everything on 127.0.0.1. WAN: the home
    side in its own namespace behind a delayed link, reached at HOME_IP."""

    def __init__(self, home_ns=None):
        from wanlink import HOME_IP
        self.home_ns = home_ns
        self.home_ip = HOME_IP if home_ns else "127.0.0.1"
        # Inside the home namespace a server may listen on every address: they
        # are all the namespace's own.
        self.home_bind = "0.0.0.0" if home_ns else "127.0.0.1"

    def home(self, argv):
        return ["ip", "netns", "exec", self.home_ns, *argv] if self.home_ns else argv


def wait_port(port, limit=15, host="127.0.0.1"):
    deadline = time.time() + limit
    while time.time() < deadline:
        try:
            socket.create_connection((host, port), 0.5).close()
            return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"nothing listening on {host}:{port}")


def iperf3_to(port, nbytes, host="127.0.0.1"):
    out = json.loads(run(["iperf3", "-c", host, "-p", str(port), "-n", str(nbytes), "-J"]))
    return out["end"]["sum_received"]["bits_per_second"] / 8 / (1 << 20)


def descendants(pid):
    """pid and every process below it (sshd forks one or two per session)."""
    out, todo = [], [pid]
    while todo and len(out) < 64:
        p = todo.pop()
        out.append(p)
        try:
            with open(f"/proc/{p}/task/{p}/children") as f:
                todo += [int(c) for c in f.read().split()]
        except OSError:
            pass
    return out


def cpu_seconds(pids):
    """User + system CPU seconds used so far by `pids` (and their threads), and by
    their children that have exited (a forking server's per-connection child)."""
    total = 0
    for p in pids:
        try:
            with open(f"/proc/{p}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            total += sum(int(v) for v in fields[11:15])  # utime, stime, cutime, cstime
        except (OSError, IndexError, ValueError):
            pass
    return total / os.sysconf("SC_CLK_TCK")


def measured_transfer(port, nbytes, pids, host="127.0.0.1"):
    """(MiB/s, forwarding CPU seconds per GiB). CPU per byte is what a loaded
    machine cannot distort much: throughput there depends on what else runs."""
    pids = [q for p in pids for q in descendants(p)]
    before = cpu_seconds(pids)
    mib_s = iperf3_to(port, nbytes, host)
    time.sleep(0.3)  # let a forking forwarder's child exit, so its parent counts its time
    return mib_s, (cpu_seconds(pids) - before) / (nbytes / (1 << 30))


class BannerServer:
    """Accepts on 127.0.0.1 and sends one byte at once: what a server-speaks-first
    protocol (ssh, smtp) does. Runs until stop(); each accept is bounded by a timeout."""

    def __init__(self, host="127.0.0.1", port=0):
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((host, port))
        self.sock.listen(128)
        self.sock.settimeout(0.5)
        self.port = self.sock.getsockname()[1]
        self.stopping = False
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        while not self.stopping:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            with conn:
                try:
                    conn.sendall(b"B")
                except OSError:
                    pass

    def stop(self):
        self.stopping = True
        self.thread.join(2)
        self.sock.close()


def first_byte_ms(port, count, host="127.0.0.1"):
    """Median and p90 ms from connect() to the first byte read, over `count` new connections."""
    samples = []
    for _ in range(count):
        start = time.perf_counter()
        with socket.create_connection((host, port), 5) as s:
            s.settimeout(5)
            if s.recv(1) != b"B":
                raise RuntimeError(f"port {port}: no banner byte")
        samples.append((time.perf_counter() - start) * 1000)
    samples.sort()
    return statistics.median(samples), samples[int(len(samples) * 0.9) - 1]


COLD = "new process: "  # ttfb rows measured from a process start, not over an open connection


def cold_first_byte_ms(argv, count):
    """Median and p90 ms from starting `argv` (a stdio forwarder: `peerup connect`,
    `ssh -W`) to the banner's first byte on its stdout: what every ssh ProxyCommand
    invocation pays before ssh can even start its own handshake."""
    samples = []
    for _ in range(count):
        start = time.perf_counter()
        p = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        try:
            ready, _, _ = select.select([p.stdout], [], [], 10)
            if not ready or p.stdout.read(1) != b"B":
                raise RuntimeError(f"{' '.join(argv[:4])}...: no banner byte within 10 s")
            samples.append((time.perf_counter() - start) * 1000)
        finally:
            p.stdin.close()
            try:
                p.wait(5)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
    samples.sort()
    return statistics.median(samples), samples[max(0, int(len(samples) * 0.9) - 1)]


class Procs:
    def __init__(self):
        self.procs = []

    def spawn(self, argv, out=subprocess.DEVNULL):
        p = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT if out != subprocess.DEVNULL else out,
                             stdin=subprocess.DEVNULL, text=True)
        self.procs.append(p)
        return p

    def stop(self):
        for p in self.procs:
            p.terminate()
        for p in self.procs:
            try:
                p.wait(5)
            except subprocess.TimeoutExpired:
                p.kill()


def start_sshd(procs, work, topo):
    """sshd on a loopback high port with its own host key; returns (ssh argv prefix, cipher) or None."""
    if os.geteuid() != 0 or not os.path.exists("/usr/sbin/sshd"):
        return None
    d = f"{work}/ssh"
    os.makedirs(d)
    for k in ("host_key", "user_key"):
        run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", f"{d}/{k}"])
    shutil.copy(f"{d}/user_key.pub", f"{d}/authorized_keys")
    os.makedirs("/run/sshd", exist_ok=True)
    port = free_port()
    with open(f"{d}/sshd_config", "w") as f:
        f.write(f"Port {port}\nListenAddress {topo.home_ip}\nHostKey {d}/host_key\nPidFile {d}/sshd.pid\n"
                f"AuthorizedKeysFile {d}/authorized_keys\nPermitRootLogin prohibit-password\n"
                "PasswordAuthentication no\nKbdInteractiveAuthentication no\nUsePAM no\n")
    sshd = procs.spawn(topo.home(["/usr/sbin/sshd", "-D", "-e", "-f", f"{d}/sshd_config", "-o", "StrictModes=no"]))
    wait_port(port, host=topo.home_ip)
    ssh = ["ssh", "-p", str(port), "-i", f"{d}/user_key", "-o", "StrictHostKeyChecking=no",
           "-o", "UserKnownHostsFile=/dev/null", "-o", "BatchMode=yes", "-o", "LogLevel=ERROR"]
    # The cipher OpenSSH negotiates by default (what a user of ssh -L gets).
    dest = f"root@{topo.home_ip}"
    out = subprocess.run(ssh + ["-v", dest, "true"], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True, timeout=30)
    m = re.search(r"kex: server->client cipher: (\S+)", out.stderr)
    return ssh, dest, (m.group(1) if m else "unknown"), sshd.pid


def setup_peerup(peerup, procs, work, services, topo):
    """Relay + home daemon serving `services` ({name: port}) + a laptop config. Returns targets."""
    def peer_of(text):
        return re.search(r"12D3KooW[1-9A-HJ-NP-Za-km-z]+", text).group(0)
    os.makedirs(f"{work}/relay")
    relay_id = run([peerup, "keygen", "--key", f"{work}/relay/identity.key"]).strip()
    relay_port = free_port()
    relay_proc = procs.spawn(topo.home([peerup, "relay", "serve", "--dir", f"{work}/relay", "--listen",
                                        f"/ip4/{topo.home_ip}/tcp/{relay_port}"]))
    relay = f"/ip4/{topo.home_ip}/tcp/{relay_port}/p2p/{relay_id}"
    ids = {}
    for node in ("home", "laptop"):
        ids[node] = peer_of(run([peerup, "init", "--dir", f"{work}/{node}"]))
        cfg = f"{work}/{node}/config.yaml"
        port = free_port()
        ip = topo.home_ip if node == "home" else "127.0.0.1"
        text = open(cfg).read().replace("/ip4/0.0.0.0/tcp/4001", f"/ip4/{ip}/tcp/{port}")
        text = text.replace("/ip6/::/tcp/4001", f"/ip6/::1/tcp/{port}")
        if node == "home":  # QUIC on the same port number (UDP): the cold-connect row over QUIC
            text = text.replace("/ip4/0.0.0.0/udp/4001/quic-v1", f"/ip4/{ip}/udp/{port}/quic-v1")
            text = text.replace("/ip6/::/udp/4001/quic-v1", f"/ip6/::1/udp/{port}/quic-v1")
        open(cfg, "w").write(text)
        ids[node + "_port"] = port
        run([peerup, "--config", cfg, "relay", "add", relay])
        run([peerup, "relay", "authorize", ids[node], "--dir", f"{work}/relay"])
    home_cfg = f"{work}/home/config.yaml"
    for name, port in services.items():
        run([peerup, "--config", home_cfg, "service", "add", name, f"127.0.0.1:{port}"])
    run([peerup, "--config", home_cfg, "auth", "add", ids["laptop"]])
    log_path = f"{work}/home.log"
    daemon = procs.spawn(topo.home([peerup, "--log-level", "info", "--config", home_cfg, "daemon"]),
                         out=open(log_path, "w"))
    deadline = time.time() + 20
    while "reserved on relay" not in open(log_path).read() and time.time() < deadline:
        time.sleep(0.2)
    return {
        "direct": f"/ip4/{topo.home_ip}/tcp/{ids['home_port']}/p2p/{ids['home']}",
        "via relay": f"{relay}/p2p-circuit/p2p/{ids['home']}",
        "direct over QUIC": f"/ip4/{topo.home_ip}/udp/{ids['home_port']}/quic-v1/p2p/{ids['home']}",
        "laptop_cfg": f"{work}/laptop/config.yaml",
        "pids": {"direct": [daemon.pid], "via relay": [daemon.pid, relay_proc.pid]},
    }


def proxy_bench(peerup, nbytes, runs, work, ttfb_count=200, topo=None):
    """Returns (throughput rows {path: (MiB/s, CPU s/GiB)}, ttfb rows {path: (median, p90)}, notes)."""
    topo = topo or Topology()
    procs = Procs()
    banner = None
    notes = []
    try:
        if topo.home_ns:  # the banner must live on the home side: a process there
            banner_port = free_port()
            procs.spawn(topo.home([sys.executable, os.path.abspath(__file__), "--banner-server", str(banner_port)]))
        else:
            banner = BannerServer()
            banner_port = banner.port
        iperf_port = free_port()
        procs.spawn(topo.home(["iperf3", "-s", "-B", topo.home_bind, "-p", str(iperf_port)]))
        wait_port(iperf_port, host=topo.home_ip)
        wait_port(banner_port, host=topo.home_ip)
        t = setup_peerup(peerup, procs, work, {"iperf": iperf_port, "banner": banner_port}, topo)
        fwd = {}  # path -> (iperf port, banner port)
        cpu_pids = {}  # path -> the forwarding processes whose CPU time counts
        for path in ("direct", "via relay"):
            ports = []
            for service in ("iperf", "banner"):
                p = free_port()
                proc = procs.spawn([peerup, "--config", t["laptop_cfg"], "proxy", t[path], service, str(p)])
                ports.append(p)
                if service == "iperf":
                    cpu_pids[f"peerup proxy, {path}"] = t["pids"][path] + [proc.pid]
            fwd[f"peerup proxy, {path}"] = tuple(ports)
        if shutil.which("socat") and not topo.home_ns:
            # The ceiling for any forwarder pair on one CPU-bound machine: two
            # plain copies, no crypto, no framing, the same two extra TCP hops
            # every forwarder pays. (Across a WAN link the link is the limit.)
            near, far = free_port(), free_port()
            relay_far = procs.spawn(topo.home(["socat", "-b", "262144", f"TCP-LISTEN:{far},bind={topo.home_bind},"
                                                "fork,reuseaddr", f"TCP:127.0.0.1:{iperf_port}"]))
            relay_near = procs.spawn(["socat", "-b", "262144", f"TCP-LISTEN:{near},bind=127.0.0.1,fork,reuseaddr",
                                      f"TCP:{topo.home_ip}:{far}"])
            fwd[PLAIN_PAIR] = (near, None)
            cpu_pids[PLAIN_PAIR] = [relay_near.pid, relay_far.pid]
        ssh = start_sshd(procs, work, topo)
        if ssh:
            argv, dest, cipher, sshd_pid = ssh
            ports = (free_port(), free_port())
            client = procs.spawn(argv + ["-N", "-L", f"{ports[0]}:127.0.0.1:{iperf_port}",
                                         "-L", f"{ports[1]}:127.0.0.1:{banner_port}", dest])
            fwd[f"ssh -L ({cipher})"] = ports
            cpu_pids[f"ssh -L ({cipher})"] = [client.pid, sshd_pid]
        else:
            notes.append("ssh -L skipped: needs root and /usr/sbin/sshd")
        for ports in fwd.values():
            for p in ports:
                if p:
                    wait_port(p)
        # Warm up: the first connection through each forwarder dials the libp2p
        # (or uses the ssh) connection; TTFB is about the connections after it.
        for ports in fwd.values():
            if ports[1]:
                first_byte_ms(ports[1], 3)
        rows = {"raw TCP (iperf3)": []}
        rows.update({name: [] for name in fwd})
        # Interleaved, so a burst of load elsewhere hits every path alike.
        for _ in range(runs):
            rows["raw TCP (iperf3)"].append((iperf3_to(iperf_port, nbytes, topo.home_ip), 0.0))
            for name, ports in fwd.items():
                rows[name].append(measured_transfer(ports[0], nbytes, cpu_pids[name]))
        ttfb = {"raw TCP": first_byte_ms(banner_port, ttfb_count, topo.home_ip)}
        for name, ports in fwd.items():
            if ports[1]:
                ttfb[name] = first_byte_ms(ports[1], ttfb_count)
        cold_count = max(5, ttfb_count // 10)
        for path in ("direct", "direct over QUIC", "via relay"):
            argv = [peerup, "--config", t["laptop_cfg"], "connect", t[path], "banner"]
            ttfb[f"{COLD}peerup connect, {path}"] = cold_first_byte_ms(argv, cold_count)
        if ssh:
            argv = ssh[0] + ["-W", f"127.0.0.1:{banner_port}", ssh[1]]
            ttfb[f"{COLD}ssh -W (a new ssh connection)"] = cold_first_byte_ms(argv, cold_count)
        # Best throughput of N (the least disturbed run), least CPU of N.
        best = {k: (max(r[0] for r in v), min(r[1] for r in v)) for k, v in rows.items()}
        return best, ttfb, notes
    finally:
        procs.stop()
        if banner:
            banner.stop()


def report(prox, ttfb, notes, nbytes, runs, ttfb_count):
    base = prox["raw TCP (iperf3)"]
    print(f"## TCP service through peerup proxy vs ssh -L (iperf3, {nbytes >> 20} MiB, best of {runs})")
    print()
    print("| path | MiB/s | vs raw TCP | forwarding CPU s per GiB |")
    print("| --- | ---: | ---: | ---: |")
    for name, (v, cpu) in prox.items():
        print(f"| {name} | {v:.0f} | {v / base[0]:.0%} | " + (f"{cpu:.2f} |" if cpu else "- |"))
    print()
    direct = prox["peerup proxy, direct"]
    print(f"- relayed / direct: {prox['peerup proxy, via relay'][0] / direct[0]:.2f}x (target >= 0.40)")
    ssh_rows = [k for k in prox if k.startswith("ssh -L")]
    if ssh_rows:
        ssh = prox[ssh_rows[0]]
        print(f"- peerup proxy direct / ssh -L throughput: {direct[0] / ssh[0]:.2f}x (target >= 2)")
        print(f"- ssh -L / peerup proxy direct CPU per byte: {ssh[1] / direct[1]:.2f}x")
    if PLAIN_PAIR in prox:
        plain = prox[PLAIN_PAIR]
        print(f"- peerup proxy direct / {PLAIN_PAIR}: {direct[0] / plain[0]:.2f}x throughput, "
              f"{direct[1] / plain[1]:.2f}x CPU per byte")
    print()
    print(f"## Time to first byte of a new connection over an open one ({ttfb_count} connections)")
    print()
    print("| path | median ms | p90 ms |")
    print("| --- | ---: | ---: |")
    for name, (med, p90) in ttfb.items():
        if not name.startswith(COLD):
            print(f"| {name} | {med:.3f} | {p90:.3f} |")
    cold = {k[len(COLD):]: v for k, v in ttfb.items() if k.startswith(COLD)}
    if cold:
        print()
        print("## Time to first byte from a new process (a stdio forwarder, as an ssh ProxyCommand runs it)")
        print()
        print("| forwarder | median ms | p90 ms |")
        print("| --- | ---: | ---: |")
        for name, (med, p90) in cold.items():
            print(f"| {name} | {med:.1f} | {p90:.1f} |")
    for n in notes:
        print(f"- {n}")


def serve_banner(port):
    """--banner-server PORT: the banner service as its own process (for the home namespace)."""
    server = BannerServer("0.0.0.0", port)
    try:
        while True:
            time.sleep(3600)
    finally:
        server.stop()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--bytes", type=size, default=size("512MiB"))
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--ttfb", type=int, default=200)
    ap.add_argument("--rtt", type=float, default=0, help="round-trip ms between laptop and home (0: loopback)")
    ap.add_argument("--in-wan", metavar="HOME_NS", help=argparse.SUPPRESS)  # set by the --rtt parent
    ap.add_argument("--banner-server", type=int, metavar="PORT", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.banner_server:
        return serve_banner(args.banner_server)
    if not 0 <= args.rtt <= 1000:
        sys.exit(f"--rtt {args.rtt}: expected 0 to 1000 ms")
    peerup = os.path.abspath(os.path.join(args.build, "src", "cli", "peerup"))
    if not os.path.exists(peerup):
        sys.exit(f"missing {peerup}: build first (cmake --build {args.build})")
    if not shutil.which("iperf3"):
        sys.exit("iperf3 missing: bash scripts/install-deps.sh")
    if args.rtt and not args.in_wan:
        # This process holds the delay line; the measuring one runs on the laptop side.
        from wanlink import WanLink
        with WanLink(args.rtt) as wan:
            argv = [sys.executable, os.path.abspath(__file__), *sys.argv[1:], "--in-wan", wan.ns["home"]]
            sys.exit(subprocess.run(wan.prefix("laptop") + argv, timeout=3600).returncode)
    with tempfile.TemporaryDirectory(prefix="peerup-bench.") as work:
        prox, ttfb, notes = proxy_bench(peerup, args.bytes, args.runs, work, args.ttfb, Topology(args.in_wan))
    link = f"laptop <-> home RTT {args.rtt:g} ms (bench/wanlink.py)" if args.rtt else "loopback"
    print(f"# {time.strftime('%Y-%m-%d %H:%M')}, {os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}, {link}")
    report(prox, ttfb, notes, args.bytes, args.runs, args.ttfb)


if __name__ == "__main__":
    main()
