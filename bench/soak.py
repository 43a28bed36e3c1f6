#!/usr/bin/env python3
"""Soak (issue 16): clients keep opening and closing proxied connections to a
home node, over the relay and direct, while the lab flushes the NATs'
connection tracking every 30 s and restarts the relay once.

  sudo python3 bench/soak.py --peerup build/src/cli/peerup               # 10 min, 50 clients
  sudo python3 bench/soak.py --peerup build/src/cli/peerup --duration 60 --clients 10  # smoke
  sudo python3 bench/soak.py --peerup build/src/cli/peerup --duration 150 --clients 10 \
      --restart-at -1 --out /tmp/soak-short     # reproduce flush trouble without the restart

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
  proxy;
- the relay restart: when home reserved again, and per proxy the failures in
  the restart window and when it worked again (seconds after the new relay
  was up).

Every process logs at --log-level (debug by default: connections opened and
closed, with the reason, RTT and age). At the end the logs go to <out> and
<out>/timeline.txt merges their connection events with the flushes, the
restart and the failed fetches, in seconds since the start; each spell of
failures outside the windows is printed with the events around it.
Exit 0 when both criteria hold, 1 otherwise, 77 when the lab cannot run.
"""
import argparse
import csv
import datetime
import gzip
import os
import random
import re
import shutil
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
    ap.add_argument("--restart-at", type=float, default=None,
                    help="seconds into the run to restart the relay (default: half time; "
                         "negative: never)")
    ap.add_argument("--log-level", default="debug", help="of every peerup process")
    ap.add_argument("--small-backlog", action="store_true",
                    help="home's web server as `python -m http.server` (listen backlog 5), as "
                         "sessions 7-9 ran it; default: backlog 256")
    ap.add_argument("--shared-identity", action="store_true",
                    help="run both proxies as one node (one key), as sessions 7-9 did")
    ap.add_argument("--ss", action="store_true",
                    help="sample `ss -tin` (TCP retransmissions, RTO, backoff) of the peerup "
                         "sockets in the relay, home and phone namespaces every 0.5 s for 20 s "
                         "after each flush, into <out>/ss.txt")
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
        lab = labpeer.PeerupLab(os.path.abspath(a.peerup), t, work, log_level=a.log_level,
                                http_backlog=None if a.small_backlog else 256)
        lab.start_all(proxy=False, clients=() if a.shared_identity else ("phone2",))
        env_off = dict(os.environ, PEERUP_HOLEPUNCH="off")
        # The relayed proxy is a node of its own (phone2), as two devices
        # would be. With one identity for both proxies, home sees a single
        # peer with a direct path and closes "its" idle relayed connection,
        # which is the relayed proxy's only one (--shared-identity shows it).
        relayed_node = lab.phone if a.shared_identity else lab.clients["phone2"]
        for n in {lab.phone.id: lab.phone, relayed_node.id: relayed_node}.values():
            n.write_config(listen=[f"/ip4/0.0.0.0/tcp/{labnet.HOME_PORT}"],
                           relays=[lab.relay_addr], names={"home": lab.home.id})
        proxies = {}
        for name, env, node in (("relayed", env_off, relayed_node), ("direct", None, lab.phone)):
            p = t.spawn("phone", node.cmd("proxy", "home", "web", 0, "--log-level", a.log_level),
                        stdout=lab.p(f"{name}.out"), stderr=lab.p(f"{name}.log"), env=env)
            port = labnet.wait_for(
                lambda n=name: _port_of(lab.p(f"{n}.out")), 20, f"the {name} proxy")
            proxies[name] = (p, port)
        log(f"proxies: {', '.join(f'{k} 127.0.0.1:{v[1]}' for k, v in proxies.items())}")
        started = time.monotonic()
        wall_started = time.time()
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
        restart_at_s = a.duration / 2 if a.restart_at is None else a.restart_at
        restarted = restart_at_s < 0
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
                if a.ss:
                    threading.Thread(target=_sample_ss, daemon=True,
                                     args=(t, out, started, stop)).start()
            if not restarted and now >= restart_at_s:
                t.stop(lab.relay_proc, signal.SIGTERM)
                shutil.copy(lab.p("relay.log"), lab.p("relay-before-restart.log"))
                lab.start_relay()
                restart_at, restarted = time.monotonic() - started, True
                log(f"{restart_at:6.1f} s: relay restarted")
            time.sleep(0.2)
        stop.set()
        for th in threads:
            th.join(30)
        logs = {}
        for name in ("home.log", "relay-before-restart.log", "relay.log", "relayed.log",
                     "direct.log"):
            if os.path.exists(lab.p(name)):
                with open(lab.p(name), "rb") as src, gzip.open(os.path.join(out, name + ".gz"),
                                                               "wb") as dst:
                    shutil.copyfileobj(src, dst)
                logs[name] = labpeer._read(lab.p(name))
        return report(out, samples, fetches, flushes, restart_at, a,
                      timeline_events(logs, wall_started))
    finally:
        t.down()


# Connection-level lines worth a timeline; the per-stream service lines of a
# busy home node are not (thousands), nor are successes of single fetches.
TIMELINE = re.compile(r"connected to|closed after|connected \(|lost connection|reserved on relay|"
                      r"relay \S+: |relay: circuit .* (refused|open|closed)|proxy: |"
                      r"reconnect|failed|timed out|path to|direct connection|closing")
STAMP = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}) (\w+) (.*)$")


def timeline_events(logs, wall_started):
    """[(t_s, source, level, text)] of the logs' connection events, t in
    seconds since the run started (the logs carry local wall-clock time)."""
    events = []
    for name, text in logs.items():
        source = name.replace(".log", "")
        for line in text.splitlines():
            m = STAMP.match(line)
            if not m or not TIMELINE.search(m.group(3)):
                continue
            if "-> service " in m.group(3):
                continue
            at = datetime.datetime.strptime(m.group(1), "%Y-%m-%dT%H:%M:%S.%f").timestamp()
            events.append((at - wall_started, source, m.group(2), m.group(3)))
    events.sort(key=lambda e: e[0])
    return events


def _spells(failed, gap=3.0):
    """Groups failed fetches whose start times lie within `gap` s of each other."""
    spells = []
    for f in sorted(failed, key=lambda f: f[0]):
        if spells and f[0] - spells[-1][-1][0] <= gap:
            spells[-1].append(f)
        else:
            spells.append([f])
    return spells


def _write_timeline(out, events, fetches, flushes, restart_at):
    rows = [(e[0], e[1], e[2], e[3]) for e in events]
    rows += [(fl, "lab", "-", "conntrack -F in both NATs") for fl in flushes]
    if restart_at is not None:
        rows.append((restart_at, "lab", "-", "relay restarted"))
    rows += [(f[0], "fetch", "FAIL", f"{f[1]} failed after {f[3]:.1f} s: {f[4]}")
             for f in fetches if not f[2]]
    rows.sort(key=lambda r: r[0])
    with open(os.path.join(out, "timeline.txt"), "w") as f:
        for r in rows:
            f.write(f"{r[0]:8.2f} {r[1]:<8} {r[2]:<5} {r[3]}\n")
    return rows


_ss_lock = threading.Lock()


def _sample_ss(t, out, started, stop, seconds=20.0, every=0.5):
    """Appends `ss -tin` of the TCP sockets on port 4001 (peerup's) in the
    relay, home and phone namespaces to <out>/ss.txt for `seconds`."""
    end = time.monotonic() + seconds
    while time.monotonic() < end and not stop.is_set():
        at = time.monotonic() - started
        chunks = []
        for role in ("relay", "home", "phone"):
            cp = t.run(role, ["ss", "-tin", "( sport = :4001 or dport = :4001 )"], check=False,
                       timeout=5)
            chunks.append(f"--- {at:8.2f} {role}\n{cp.stdout}")
        with _ss_lock, open(os.path.join(out, "ss.txt"), "a") as f:
            f.write("".join(chunks))
        stop.wait(every)


def _port_of(path):
    m = re.search(r"proxy 127\.0\.0\.1:(\d+)", labpeer._read(path))
    return int(m.group(1)) if m else None


def report(out, samples, fetches, flushes, restart_at, a, events=()):
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
    rows = _write_timeline(out, events, fetches, flushes, restart_at)
    # Each spell of failures outside the windows with the connection events
    # from 12 s before it to its end (the last failure's end): what died,
    # when, and what replaced it.
    for spell in _spells(unexcused)[:8]:
        first, last = spell[0][0], max(f[0] + f[3] for f in spell)
        proxies = sorted({f[1] for f in spell})
        print(f"spell {first:.1f}-{last:.1f} s: {len(spell)} failed ({', '.join(proxies)}); events:")
        shown = [r for r in rows if first - 12 <= r[0] <= last and r[1] != "fetch"]
        for r in shown[:40]:
            print(f"  {r[0]:8.2f} {r[1]:<8} {r[3][:160]}")
        if len(shown) > 40:
            print(f"  ... {len(shown) - 40} more in timeline.txt")
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
    if restart_at is not None:
        # Restart recovery: home's next reservation, and per proxy the first
        # success that started after the restart window's last failure.
        rec = []
        reserved = [e[0] for e in events if e[1] == "home" and e[0] >= restart_at and
                    "reserved on relay" in e[3]]
        rec.append(f"home re-reserved {reserved[0] - restart_at:.2f} s after" if reserved
                   else "home never re-reserved")
        for name in ("relayed", "direct"):
            mine = [f for f in fetches if f[1] == name and f[0] >= restart_at - 10]
            bad = [f[0] for f in mine if not f[2] and f[0] < restart_at + RESTART_WINDOW_S]
            since = max(bad + [restart_at])
            good = [f[0] for f in mine if f[2] and f[0] >= since]
            rec.append(f"{name}: {len(bad)} failed, working {good[0] - restart_at:.2f} s after"
                       if good else f"{name}: {len(bad)} failed, never working again")
        print(f"relay restart at {restart_at:.1f} s: {'; '.join(rec)}")
    print(f"CSV: {out}/samples.csv, {out}/fetches.csv; {out}/timeline.txt; logs {out}/*.log.gz")
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
