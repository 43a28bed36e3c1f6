#!/usr/bin/env python3
"""Throughput through `peerup gateway` (SOCKS5) against `peerup proxy`, in one run.

Starts, all on 127.0.0.1: a relay; two home daemons exposing the same bulk
server as service "bulk" (home-direct listens on 127.0.0.1, home-relayed only
has a relay reservation); on the laptop node `peerup proxy` to each home and
one `peerup gateway --socks`. The bulk server sends N bytes with sendfile()
(download) or reads N bytes and acks (upload). The same Python client measures
every path, alternating paths within each round so that load on the shared
machine hits all of them alike:

  proxy direct   laptop:proxy port  -> home-direct
  socks direct   laptop:SOCKS5 "hd:<port>"  -> home-direct
  proxy relayed  ... -> relay -> home-relayed
  socks relayed  laptop:SOCKS5 "hr:<port>"  -> relay -> home-relayed

It also reads the CPU time (from /proc) that the forwarding process on the
laptop (the `peerup proxy` of that path, or the gateway) spent per GiB: on a
loaded machine that compares the two code paths far more steadily than MiB/s.

With --perf FILE, `perf record -g` samples the gateway and the direct path's
`peerup proxy` during the measured transfers (compare them with
`perf report -i FILE --no-children --sort pid,dso,sym`).

Usage: python3 bench/gateway.py [--build build] [--bytes 256MiB] [--runs 5] [--perf FILE]
Prints a markdown table (best and median MiB/s per path and direction, and the
forwarder's median CPU seconds per GiB) and the SOCKS/proxy ratios (target:
SOCKS within 10% of proxy). Every process is stopped at the end.
"""
import argparse, os, re, socket, statistics, struct, subprocess, sys, tempfile, threading, time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from proxy import cpu_seconds, free_port, run, size  # noqa: E402  (one copy of the shared helpers)

CHUNK = 1 << 20


def recv_exact(sock, n):
    buf = bytearray(n)
    view, got = memoryview(buf), 0
    while got < n:
        k = sock.recv_into(view[got:], n - got)
        if k == 0:
            raise RuntimeError("connection closed early")
        got += k
    return bytes(buf)


class BulkServer:
    """'D' + u64: send that many bytes (sendfile). 'U' + u64: read them, answer 'K'."""

    def __init__(self, work):
        self.path = os.path.join(work, "bulk.bin")
        with open(self.path, "wb") as f:
            f.write(os.urandom(CHUNK) * 64)  # 64 MiB, sent in a loop
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        threading.Thread(target=self.accept, daemon=True).start()

    def accept(self):
        while True:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self.serve, args=(c,), daemon=True).start()

    def serve(self, c):
        try:
            c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            head = recv_exact(c, 9)
            n = struct.unpack(">Q", head[1:])[0]
            if head[:1] == b"D":
                with open(self.path, "rb") as f:
                    size = os.fstat(f.fileno()).st_size
                    while n > 0:
                        part = min(n, size)
                        sent = c.sendfile(f, 0, part)
                        n -= sent
            else:
                buf = bytearray(CHUNK)
                while n > 0:
                    k = c.recv_into(buf, min(n, CHUNK))
                    if k == 0:
                        return
                    n -= k
                c.sendall(b"K")
        except OSError:
            pass
        finally:
            c.close()


def open_direct(port):
    return socket.create_connection(("127.0.0.1", port), 10)


def open_socks(proxy, host, port):
    s = socket.create_connection(("127.0.0.1", proxy), 10)
    s.sendall(b"\x05\x01\x00")
    if recv_exact(s, 2) != b"\x05\x00":
        raise RuntimeError("SOCKS5 greeting refused")
    h = host.encode()
    s.sendall(b"\x05\x01\x00\x03" + bytes([len(h)]) + h + struct.pack(">H", port))
    reply = recv_exact(s, 10)
    if reply[1] != 0:
        raise RuntimeError(f"SOCKS5 CONNECT {host}:{port} failed: reply {reply[1]}")
    return s


def transfer(sock, direction, nbytes):
    """MiB/s of one transfer of nbytes on an open connection."""
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.settimeout(300)
    start = time.perf_counter()
    if direction == "download":
        sock.sendall(b"D" + struct.pack(">Q", nbytes))
        buf, got = bytearray(CHUNK), 0
        while got < nbytes:
            k = sock.recv_into(buf, CHUNK)
            if k == 0:
                raise RuntimeError("download ended early")
            got += k
    else:
        sock.sendall(b"U" + struct.pack(">Q", nbytes))
        block, left = os.urandom(CHUNK), nbytes
        while left > 0:
            part = min(left, CHUNK)
            sock.sendall(block[:part])
            left -= part
        if recv_exact(sock, 1) != b"K":
            raise RuntimeError("upload not acknowledged")
    seconds = time.perf_counter() - start
    sock.close()
    return nbytes / (1 << 20) / seconds


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--bytes", type=size, default=size("256MiB"))
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--perf", help="perf record -g the gateway and the direct proxy into this file")
    args = ap.parse_args()
    peerup = os.path.join(args.build, "src", "cli", "peerup")
    if not os.path.exists(peerup):
        sys.exit(f"missing {peerup}: build first (cmake --build {args.build} --target peerup)")

    procs = []
    load_before = open("/proc/loadavg").read().split()[0]

    def spawn(argv, log=None, out=subprocess.DEVNULL):
        p = subprocess.Popen(argv, stdout=out, stderr=log or subprocess.DEVNULL, text=True)
        procs.append(p)
        return p

    def first_line(p, pattern, limit=30):
        deadline = time.time() + limit
        while time.time() < deadline:
            line = p.stdout.readline()
            if not line:
                break
            m = re.search(pattern, line)
            if m:
                return m
        raise RuntimeError(f"no line matching {pattern!r}")

    with tempfile.TemporaryDirectory(prefix="peerup-gateway-bench.") as work:
        try:
            bulk = BulkServer(work)
            os.makedirs(f"{work}/relay")
            relay_id = run([peerup, "keygen", "--key", f"{work}/relay/identity.key"]).strip()
            relay_port = free_port()
            spawn([peerup, "relay", "serve", "--dir", f"{work}/relay", "--listen",
                   f"/ip4/127.0.0.1/tcp/{relay_port}"])
            relay = f"/ip4/127.0.0.1/tcp/{relay_port}/p2p/{relay_id}"
            ids, cfg = {}, {}
            for node in ("hd", "hr", "laptop"):
                out = run([peerup, "init", "--dir", f"{work}/{node}"])
                ids[node] = re.search(r"12D3KooW[1-9A-HJ-NP-Za-km-z]+", out).group(0)
                cfg[node] = f"{work}/{node}/config.yaml"
                run([peerup, "relay", "authorize", ids[node], "--dir", f"{work}/relay"])
            hd_port = free_port()
            text = open(cfg["hd"]).read().replace("/ip4/0.0.0.0/tcp/4001", f"/ip4/127.0.0.1/tcp/{hd_port}")
            open(cfg["hd"], "w").write(text.replace("  - /ip6/::/tcp/4001\n", ""))
            text = open(cfg["hr"]).read().replace("  - /ip4/0.0.0.0/tcp/4001\n", "")
            open(cfg["hr"], "w").write(text.replace("  - /ip6/::/tcp/4001\n", ""))
            run([peerup, "--config", cfg["hr"], "relay", "add", relay])
            run([peerup, "--config", cfg["laptop"], "relay", "add", relay])
            for home in ("hd", "hr"):
                run([peerup, "--config", cfg[home], "service", "add", "bulk", f"127.0.0.1:{bulk.port}"])
                run([peerup, "--config", cfg[home], "auth", "add", ids["laptop"]])
            run([peerup, "--config", cfg["laptop"], "name", "add", "hd",
                 f"/ip4/127.0.0.1/tcp/{hd_port}/p2p/{ids['hd']}"])
            run([peerup, "--config", cfg["laptop"], "name", "add", "hr", ids["hr"]])
            logs = {}
            for home in ("hd", "hr"):
                logs[home] = open(f"{work}/{home}.log", "w")
                spawn([peerup, "--log-level", "info", "--config", cfg[home], "daemon"], log=logs[home])
            deadline = time.time() + 20
            while "reserved on relay" not in open(f"{work}/hr.log").read() and time.time() < deadline:
                time.sleep(0.2)
            proxies, proxy_pids = {}, {}
            for home in ("hd", "hr"):
                p = spawn([peerup, "--config", cfg["laptop"], "proxy", home, "bulk", "0"], out=subprocess.PIPE)
                proxies[home] = int(first_line(p, r"proxy 127\.0\.0\.1:(\d+)").group(1))
                proxy_pids[home] = p.pid
            g = spawn([peerup, "--config", cfg["laptop"], "gateway", "--socks", "127.0.0.1:0"],
                      out=subprocess.PIPE)
            socks = int(first_line(g, r"socks5 127\.0\.0\.1:(\d+)").group(1))
            forwarder = {
                "proxy, direct": proxy_pids["hd"],
                "SOCKS gateway, direct": g.pid,
                "proxy, via relay": proxy_pids["hr"],
                "SOCKS gateway, via relay": g.pid,
            }

            paths = {
                "proxy, direct": lambda: open_direct(proxies["hd"]),
                "SOCKS gateway, direct": lambda: open_socks(socks, "hd", bulk.port),
                "proxy, via relay": lambda: open_direct(proxies["hr"]),
                "SOCKS gateway, via relay": lambda: open_socks(socks, "hr", bulk.port),
            }
            # Warm up: each path's libp2p connection exists before timing.
            for opener in paths.values():
                transfer(opener(), "download", 1 << 20)
            perf = None
            if args.perf:
                perf = subprocess.Popen(["perf", "record", "-q", "-g", "-F", "499", "-o", args.perf, "-p",
                                         f"{g.pid},{proxy_pids['hd']}"], stderr=subprocess.DEVNULL)
                time.sleep(1)
            results = {(p, d): [] for p in paths for d in ("download", "upload")}
            cpu = {(p, d): [] for p in paths for d in ("download", "upload")}
            gib = args.bytes / (1 << 30)
            for r in range(args.runs):
                order = list(paths) if r % 2 == 0 else list(reversed(paths))
                for direction in ("download", "upload"):
                    for name in order:
                        before = cpu_seconds([forwarder[name]])
                        results[(name, direction)].append(transfer(paths[name](), direction, args.bytes))
                        # The forwarder may still be flushing its last bytes: let it settle.
                        time.sleep(0.2)
                        cpu[(name, direction)].append((cpu_seconds([forwarder[name]]) - before) / gib)
            if perf:
                perf.send_signal(2)  # SIGINT: perf writes its file and exits
                perf.wait(60)
        finally:
            for p in procs:
                p.terminate()
            for p in procs:
                try:
                    p.wait(5)
                except subprocess.TimeoutExpired:
                    p.kill()

    print(f"# peerup gateway (SOCKS5) vs peerup proxy, {time.strftime('%Y-%m-%d %H:%M')}, "
          f"{os.cpu_count()} cores, loopback, {args.bytes >> 20} MiB per transfer, {args.runs} runs")
    print()
    print(f"load average before / after: {load_before} / {open('/proc/loadavg').read().split()[0]}")
    print()
    print("| path | download best | download median | upload best | upload median "
          "| forwarder CPU s/GiB down / up |")
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    for name in paths:
        d, u = results[(name, "download")], results[(name, "upload")]
        cd, cu = statistics.median(cpu[(name, "download")]), statistics.median(cpu[(name, "upload")])
        print(f"| {name} | {max(d):.0f} | {statistics.median(d):.0f} | {max(u):.0f} | "
              f"{statistics.median(u):.0f} | {cd:.2f} / {cu:.2f} |")
    print()
    for where in ("direct", "via relay"):
        for direction in ("download", "upload"):
            s = statistics.median(results[(f"SOCKS gateway, {where}", direction)])
            p = statistics.median(results[(f"proxy, {where}", direction)])
            sc = statistics.median(cpu[(f"SOCKS gateway, {where}", direction)])
            pc = statistics.median(cpu[(f"proxy, {where}", direction)])
            print(f"- SOCKS / proxy, {where}, {direction} (medians): {s / p:.2f}x MiB/s "
                  f"(target >= 0.90), {sc / pc:.2f}x forwarder CPU per GiB")


if __name__ == "__main__":
    main()
