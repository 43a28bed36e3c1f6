#!/usr/bin/env python3
"""peer-up benchmark: one command, one table, every figure from the same run.

Compares on loopback, single stream:
  - raw TCP (iperf3)                             -> the ceiling
  - peerup perf (TCP + Noise + Yamux, /perf/1.0.0)
  - js-libp2p 3.x perf, js client -> js server   (same protocol, same machine)
  - mixed pairs (js client -> peerup server, peerup client -> js server)
and the time to connect (TCP + multistream + Noise XX + Yamux) plus one ping;
then bench/proxy.py: a TCP service through `peerup proxy` (direct, relayed)
against `ssh -L`, and the time to first byte of a new proxied connection.

Usage: python3 bench/run.py [--build build] [--bytes 1GiB] [--js-bytes 256MiB] [--runs 3]
Every process listens on 127.0.0.1 only and is stopped at the end.
"""
import argparse, json, os, re, shutil, statistics, subprocess, sys, time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
JS_DIR = os.path.join(ROOT, "tests", "interop", "js")
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from proxy import run, size  # noqa: E402  (one copy of the shared helpers)


def js_cmd(*flags):
    return ["node", "--import", os.path.join(JS_DIR, "polyfill.mjs"), os.path.join(JS_DIR, "peer.mjs"), *flags]


class Server:
    """A background process whose first stdout line (or JSON event) gives its address."""

    def __init__(self, argv, parse):
        self.proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.DEVNULL, text=True)
        deadline = time.time() + 30
        self.addr = None
        while time.time() < deadline and self.addr is None:
            line = self.proc.stdout.readline()
            if not line:
                break
            self.addr = parse(line)
        if self.addr is None:
            self.stop()
            raise RuntimeError(f"{argv[0]} did not report an address")

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()


def js_listening(line):
    try:
        ev = json.loads(line)
    except ValueError:
        return None
    return ev["addrs"][0] if ev.get("event") == "listening" else None


def iperf3(nbytes):
    port = "5301"
    srv = subprocess.Popen(["iperf3", "-s", "-1", "-B", "127.0.0.1", "-p", port],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(0.5)
    try:
        out = json.loads(run(["iperf3", "-c", "127.0.0.1", "-p", port, "-n", str(nbytes), "-J"]))
        return out["end"]["sum_received"]["bits_per_second"] / 8 / (1 << 20)
    finally:
        srv.wait(10)


def peerup_perf(peerup, addr, up, down):
    out = json.loads(run([peerup, "perf", "--server-address", addr, "--upload-bytes", str(up),
                          "--download-bytes", str(down), "--json"]))
    return out


def js_perf(addr, up, down):
    out = run(js_cmd("--dial", addr, "--perf-upload", str(up), "--perf-download", str(down)))
    for line in out.splitlines():
        ev = json.loads(line)
        if ev.get("event") == "result" and ev.get("action") == "perf":
            if not ev["ok"]:
                raise RuntimeError(f"js perf failed: {ev}")
            return ev
    raise RuntimeError("js perf printed no result")


def mib_s(nbytes, seconds):
    return nbytes / (1 << 20) / seconds


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--bytes", type=size, default=size("1GiB"))
    ap.add_argument("--js-bytes", type=size, default=size("256MiB"))
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--proxy-bytes", type=size, default=size("512MiB"))
    ap.add_argument("--skip-proxy", action="store_true")
    args = ap.parse_args()
    peerup = os.path.join(args.build, "src", "cli", "peerup")
    for tool in (peerup,):
        if not os.path.exists(tool):
            sys.exit(f"missing {tool}: build first (cmake --build {args.build})")
    if not shutil.which("iperf3"):
        sys.exit("iperf3 missing: bash scripts/install-deps.sh")

    rows = {}
    def best(name, samples):
        rows[name] = max(samples)  # best of N: the least disturbed run on a shared machine

    ours = Server([peerup, "perf", "--run-server", "--listen", "/ip4/127.0.0.1/tcp/0"], lambda l: l.strip() or None)
    js = Server(js_cmd("--listen", "/ip4/127.0.0.1/tcp/0"), js_listening)
    try:
        best("raw TCP (iperf3)", [iperf3(args.bytes) for _ in range(args.runs)])
        up, down = [], []
        connect_ms = []
        for _ in range(args.runs):
            r = peerup_perf(peerup, ours.addr, args.bytes, 0)
            up.append(mib_s(r["uploadBytes"], r["timeSeconds"]))
            connect_ms.append(r["connectSeconds"] * 1000)
            r = peerup_perf(peerup, ours.addr, 0, args.bytes)
            down.append(mib_s(r["downloadBytes"], r["timeSeconds"]))
        best("peerup -> peerup upload", up)
        best("peerup -> peerup download", down)
        js_up, js_down = [], []
        for _ in range(args.runs):
            r = js_perf(js.addr, args.js_bytes, 0)
            js_up.append(mib_s(args.js_bytes, r["seconds"]))
            r = js_perf(js.addr, 0, args.js_bytes)
            js_down.append(mib_s(args.js_bytes, r["seconds"]))
        best("js -> js upload", js_up)
        best("js -> js download", js_down)
        r = js_perf(ours.addr, args.js_bytes, args.js_bytes)
        rows["js -> peerup (up+down)"] = mib_s(2 * args.js_bytes, r["seconds"])
        r = peerup_perf(peerup, js.addr, args.js_bytes, args.js_bytes)
        rows["peerup -> js (up+down)"] = mib_s(2 * args.js_bytes, r["timeSeconds"])

        pings = run([peerup, "ping", "-c", "20", "-i", "0.05", "--json", ours.addr])
        rtts = [json.loads(l)["rtt_ms"] for l in pings.splitlines() if '"ok":true' in l]
    finally:
        ours.stop()
        js.stop()

    raw = rows["raw TCP (iperf3)"]
    ours_best = max(rows["peerup -> peerup upload"], rows["peerup -> peerup download"])
    js_best = max(rows["js -> js upload"], rows["js -> js download"])
    print(f"# peer-up benchmark, {time.strftime('%Y-%m-%d %H:%M')} on {os.cpu_count()} cores, loopback, single stream")
    print(f"# {args.bytes >> 20} MiB per peerup/iperf3 transfer, {args.js_bytes >> 20} MiB per js transfer, best of {args.runs}")
    print()
    print("| path | MiB/s | vs raw TCP |")
    print("| --- | ---: | ---: |")
    for name, v in rows.items():
        print(f"| {name} | {v:.0f} | {v / raw:.0%} |")
    print()
    print(f"- peerup / raw TCP: {ours_best / raw:.2f}x (target >= 0.50)")
    print(f"- peerup / js-libp2p: {ours_best / js_best:.1f}x (target >= 3)")
    print(f"- connect (TCP + multistream + Noise XX + Yamux), median: {statistics.median(connect_ms):.2f} ms")
    print(f"- ping RTT on an open connection, median of {len(rtts)}: {statistics.median(rtts):.3f} ms")
    if args.skip_proxy:
        return
    # The proxy-vs-ssh -L part lives in bench/proxy.py (it also runs alone).
    import tempfile
    import proxy
    with tempfile.TemporaryDirectory(prefix="peerup-bench.") as work:
        prox, ttfb, notes = proxy.proxy_bench(peerup, args.proxy_bytes, args.runs, work)
    print()
    proxy.report(prox, ttfb, notes, args.proxy_bytes, args.runs, 200)

if __name__ == "__main__":
    main()
