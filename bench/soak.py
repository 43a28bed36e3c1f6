#!/usr/bin/env python3
"""Soak (issue 16): clients keep opening and closing proxied connections to a
home node, over the relay and direct, while the lab flushes the NATs'
connection tracking every 30 s and restarts the relay once.

  sudo python3 bench/soak.py --peerup build/src/cli/peerup               # 10 min, 50 clients
  sudo python3 bench/soak.py --peerup build/src/cli/peerup --duration 60 --clients 10  # smoke

It builds the lab of tests/lab (cone NAT at home and at the phone, a relay on
the public segment) and runs in the phone's namespace two `peerup proxy`
processes to home's `web` service: one with hole punching off (stays relayed)
and one that punches (direct). N client threads loop: curl one of the two
proxies (alternating), check the body, sleep 0-200 ms. Every 30 s it runs
`conntrack -F` in both NAT namespaces; at half time it restarts the relay
(SIGTERM, start again on the same key and port).

Every 5 s it samples VmRSS and the open fd count of home's daemon and of the
relay (from /proc). It writes <out>/samples.csv and <out>/fetches.csv and
prints:
- RSS and fds after warm-up (the first sample after 20% of the run) and at
  the end, and whether the end is within 10% of warm-up (flat);
- fetches that failed outside the flush windows (5 s after a flush, 20 s
  after the relay restart): must be zero;
- recovery after each flush: time from the flush to the first success of each
  proxy.
Exit 0 when both criteria hold, 1 otherwise, 77 when the lab cannot run.
"""
import argparse
import csv
import os
import random
import signal
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "lab"))
import labnet  # noqa: E402
import labpeer  # noqa: E402
from labnet import LabSkip, Topology, log  # noqa: E402

FLUSH_WINDOW_S = 5.0
RESTART_WINDOW_S = 20.0


def proc_stats(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            rss = next(int(line.split()[1]) for line in f if line.startswith("VmRSS:"))
        fds = len(os.listdir(f"/proc/{pid}/fd"))
        return rss, fds
    except (OSError, StopIteration):
        return None, None


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--peerup", default=os.environ.get("PEERUP_BINARY"))
    ap.add_argument("--duration", type=float, default=600)
    ap.add_argument("--clients", type=int, default=50)
    ap.add_argument("--flush-every", type=float, default=30)
    ap.add_argument("--out", default=None)
    a = ap.parse_args()
    try:
        labnet.require_lab()
    except LabSkip as e:
        print(f"SKIP: {e}")
        return 77
    out = a.out or tempfile.mkdtemp(prefix="peerup-soak-")
    os.makedirs(out, exist_ok=True)
    work = tempfile.mkdtemp(prefix="peerup-soak-work-")
    os.chmod(work, 0o755)
    t = Topology("cone", "cone")
    t.up()
    try:
        lab = labpeer.PeerupLab(os.path.abspath(a.peerup), t, work).start_all(proxy=False)
        env_off = dict(os.environ, PEERUP_HOLEPUNCH="off")
        lab.phone.write_config(listen=[f"/ip4/0.0.0.0/tcp/{labnet.HOME_PORT}"],
                               relays=[lab.relay_addr], names={"home": lab.home.id})
        proxies = {}
        for name, env in (("relayed", env_off), ("direct", None)):
            p = t.spawn("phone", lab.phone.cmd("proxy", "home", "web", 0),
                        stdout=lab.p(f"{name}.out"), stderr=lab.p(f"{name}.log"), env=env)
            port = labnet.wait_for(
                lambda n=name: _port_of(lab.p(f"{n}.out")), 20, f"the {name} proxy")
            proxies[name] = (p, port)
        log(f"proxies: {', '.join(f'{k} 127.0.0.1:{v[1]}' for k, v in proxies.items())}")
        started = time.monotonic()
        stop = threading.Event()
        fetches = []  # (t, proxy, ok, seconds, error)
        lock = threading.Lock()

        def client(i):
            rnd = random.Random(i)
            n = 0
            while not stop.is_set():
                name = ("relayed", "direct")[(i + n) % 2]
                n += 1
                t0 = time.monotonic()
                cp = t.run("phone", ["curl", "-sS", "--max-time", "10", "-o", "/dev/null", "-w",
                                     "%{http_code}", f"http://127.0.0.1:{proxies[name][1]}/index.html"],
                           check=False, timeout=20)
                ok = cp.returncode == 0 and cp.stdout.strip() == "200"
                with lock:
                    fetches.append((t0 - started, name, ok, time.monotonic() - t0,
                                    "" if ok else (cp.stderr.strip() or cp.stdout.strip())[:200]))
                stop.wait(rnd.uniform(0, 0.2))

        threads = [threading.Thread(target=client, args=(i,), daemon=True)
                   for i in range(a.clients)]
        for th in threads:
            th.start()
        samples, flushes, restart_at = [], [], None
        next_flush, next_sample = a.flush_every, 0.0
        restarted = False
        while (now := time.monotonic() - started) < a.duration:
            if now >= next_sample:
                hr, hf = proc_stats(lab.home_proc.pid)
                rr, rf = proc_stats(lab.relay_proc.pid) if lab.relay_alive() else (None, None)
                samples.append((round(now, 1), hr, hf, rr, rf))
                next_sample += 5
            if now >= next_flush:
                for side in ("a", "b"):
                    t.conntrack(t.router(side), "-F")
                flushes.append(now)
                log(f"{now:6.1f} s: conntrack -F in both NATs")
                next_flush += a.flush_every
            if not restarted and now >= a.duration / 2:
                t.stop(lab.relay_proc, signal.SIGTERM)
                lab.start_relay()
                restart_at, restarted = time.monotonic() - started, True
                log(f"{restart_at:6.1f} s: relay restarted")
            time.sleep(0.2)
        stop.set()
        for th in threads:
            th.join(30)
        return report(out, samples, fetches, flushes, restart_at, a)
    finally:
        t.down()


def _port_of(path):
    import re
    m = re.search(r"proxy 127\.0\.0\.1:(\d+)", labpeer._read(path))
    return int(m.group(1)) if m else None


def report(out, samples, fetches, flushes, restart_at, a):
    with open(os.path.join(out, "samples.csv"), "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["t_s", "home_rss_kib", "home_fds", "relay_rss_kib", "relay_fds"])
        w.writerows(samples)
    with open(os.path.join(out, "fetches.csv"), "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["t_s", "proxy", "ok", "seconds", "error"])
        w.writerows(fetches)

    def excused(f):
        # A fetch in flight when the flush or restart came, or started within
        # its window, may fail.
        start, end = f[0], f[0] + f[3]
        for at, window in [(fl, FLUSH_WINDOW_S) for fl in flushes] + (
                [(restart_at, RESTART_WINDOW_S)] if restart_at is not None else []):
            if start <= at <= end or 0 <= start - at < window:
                return True
        return False

    failed = [f for f in fetches if not f[2]]
    unexcused = [f for f in failed if not excused(f)]
    ok = True
    print(f"fetches: {len(fetches)} ({len(failed)} failed, {len(unexcused)} outside the flush and "
          f"restart windows)")
    for f in unexcused[:10]:
        print(f"  started {f[0]:7.1f} s, failed after {f[3]:.1f} s, {f[1]}: {f[4]}")
    ok &= not unexcused
    warm_t = a.duration * 0.2
    # The relay's numbers restart with it: compare its level after the restart.
    for col, what in ((1, "home RSS KiB"), (2, "home fds"), (3, "relay RSS KiB"), (4, "relay fds")):
        since = restart_at + RESTART_WINDOW_S if col >= 3 and restart_at else warm_t
        pts = [s for s in samples if s[0] >= since and s[col] is not None]
        if len(pts) < 2:
            print(f"{what}: too few samples")
            continue
        base, end = pts[0][col], pts[-1][col]
        flat = end <= base * 1.10
        ok &= flat
        print(f"{what}: {base} after warm-up (t={pts[0][0]} s), {end} at the end, "
              f"max {max(p[col] for p in pts)}: {'flat' if flat else 'GREW > 10%'}")
    for fl in flushes:
        rec = []
        for name in ("relayed", "direct"):
            after = [f for f in fetches if f[1] == name and f[0] >= fl and f[2]]
            rec.append(f"{name} {after[0][0] - fl:.2f} s" if after else f"{name} never")
        print(f"flush at {fl:6.1f} s: recovered {', '.join(rec)}")
    print(f"CSV: {out}/samples.csv, {out}/fetches.csv")
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
