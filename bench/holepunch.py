#!/usr/bin/env python3
"""Hole-punch figures from the NAT lab (tests/lab, docs/lab.md); needs root.

  python3 bench/holepunch.py --peerup build/src/cli/peerup [--attempts 20]
      [--pairings cone/cone,cgnat/cone,...] [--transports tcp,quic] [--mib 64]
      [--skip-throughput]

--transports: tcp = every node listens on TCP only (DCUtR punches TCP
simultaneous open); quic = TCP and QUIC, the relay reached over QUIC, so
DCUtR punches over UDP and, for one symmetric side, the birthday punch
follows (docs/nat-traversal.md). The QUIC attempts get --quic-timeout, since a
birthday punch starts only after DCUtR gave up.

Per NAT pairing (home/phone): one relay, one home daemon, then N attempts,
each a fresh `peerup proxy` process (a new relayed connection). An attempt
succeeds when a "direct connection to <peer> via <addr> after <ms> ms" line
appears within --timeout seconds; it fails on "hole punch ... failed" or the
timeout. Reports the success rate, the median of the logged ms (relayed
connection -> direct path) and the median seen from outside (proxy start ->
that log line).

Throughput: iperf3 through `peerup proxy` on the direct path (cone/cone
after the upgrade) and on the relayed path (symmetric/symmetric, where the
punch cannot work), plus raw TCP from phone to the relay's namespace
through NAT B as the lab's baseline.
"""

import argparse
import json
import os
import re
import shutil
import statistics
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests", "lab"))
import labnet  # noqa: E402
import labpeer  # noqa: E402
from labnet import Topology, log  # noqa: E402
from labpeer import _read as read  # noqa: E402  (a file's text, "" when missing)

DEFAULT_PAIRINGS = ["cone/cone", "cgnat/cone", "cone/symmetric", "symmetric/cone",
                    "symmetric/symmetric", "none/symmetric"]
IPERF_PORT = 5201


def phone_connected(lab):
    st = lab.status()
    return bool(lab.phone_conns(st)) if st else False


BIRTHDAY_END = re.compile(r"birthday hole punch \S+ \S+: .*(not tried|none got through|no probe reached)")


def attempt(lab, i, timeout, transport="tcp"):
    """One fresh proxy (relayed connection) -> (ok, logged ms, outside ms, why, birthday?).

    Over QUIC a failed DCUtR is not the end: when one side is symmetric the
    birthday punch follows, so the attempt ends on its outcome."""
    home_log_start = len(read(lab.p("home.log")))
    name = f"attempt{i}"
    proc, port, started = lab.start_proxy(name=name)
    deadline = started + timeout
    result = (False, None, None, "timeout", False)
    hold = None
    try:
        # Traffic on the relayed connection, as a user would make it.
        lab.t.run("phone", ["curl", "-sS", "--max-time", "5", "-o", "/dev/null",
                            f"http://127.0.0.1:{port}/index.html"], check=False, timeout=10)
        # And a connection that stays open (an ssh session, say): a proxy with
        # no stream left closes its relayed connection after a short grace
        # (path_manager relayed_idle_grace), which would end a punch that
        # takes longer, such as DCUtR's 3 rounds followed by a birthday punch.
        hold = lab.t.spawn("phone", ["socat", "-u", f"EXEC:sleep {int(timeout) + 5}",
                                     f"TCP:127.0.0.1:{port}"])
        while time.monotonic() < deadline:
            texts = (read(lab.p("home.log"))[home_log_start:], read(lab.p(f"{name}.log")))
            direct = lab.log_direct(texts)
            if direct:
                birthday = any("birthday hole punch" in t and "direct connection" in t for t in texts)
                result = (True, direct[1], (time.monotonic() - started) * 1000, direct[0], birthday)
                break
            failed = lab.log_holepunch_failed(texts)
            if failed and transport == "quic":
                # The phone (DCUtR responder) may log a failed round early; the
                # attempt ends on the birthday punch's outcome ("not tried"
                # when the NAT kinds do not call for it) or the timeout.
                ended = next((m.group(0) for t in texts for m in [BIRTHDAY_END.search(t)] if m), None)
                if ended:
                    result = (False, None, None, f"{failed}; {ended}", False)
                    break
            elif failed:
                result = (False, None, None, failed, False)
                break
            time.sleep(0.05)
    finally:
        if hold:
            lab.t.stop(hold)
        lab.t.stop(proc)
    # The next attempt must start without a connection to phone at home.
    try:
        labnet.wait_for(lambda: not phone_connected(lab), 8, "home to drop phone", interval=0.5)
    except labnet.LabError:
        pass
    return result


def run_pairing(peerup, work, home_nat, phone_nat, attempts, timeout, transport="tcp"):
    with Topology(home_nat, phone_nat) as t:
        lab = labpeer.PeerupLab(peerup, t, os.path.join(work, f"{transport}-{home_nat}-{phone_nat}"),
                                quic=(transport == "quic"))
        os.makedirs(lab.work, exist_ok=True)
        # A new phone (identity) per attempt, as if each were a new device: the
        # daemon backs off punching to one peer whose direct path just died
        # (path_policy: one run per 10 s), so one identity reused every few
        # seconds would measure that backoff, not hole punching.
        lab.start_relay()
        lab.home = labpeer.Node(peerup, lab.p("home"))
        phones = [labpeer.Node(peerup, lab.p(f"phone{i}")) for i in range(attempts)]
        for n, comment in [(lab.home, "home")] + [(ph, f"phone{i}") for i, ph in enumerate(phones)]:
            labnet.run([peerup, "relay", "authorize", n.id, "--comment", comment, "--dir", lab.p("relay")])
        for i, ph in enumerate(phones):
            labnet.run(lab.home.cmd("auth", "add", ph.id, "--comment", f"phone{i}"))
        lab.phone = phones[0]
        lab.start_http()
        lab.start_home(authorize_phone=False)
        results = []
        for i in range(attempts):
            lab.phone = phones[i]
            results.append(attempt(lab, i, timeout, transport))
    ok = [r for r in results if r[0]]
    why = sorted({r[3] for r in results if not r[0]})
    row = {
        "pairing": f"{home_nat}/{phone_nat}",
        "transport": transport,
        # What the direct paths ran on: "quic-v1" in the address, or TCP.
        "direct_over": sorted({"QUIC" if "quic-v1" in r[3] else "TCP" for r in ok}),
        "by_birthday": sum(1 for r in ok if r[4]),
        "attempts": attempts,
        "successes": len(ok),
        "median_logged_ms": statistics.median([r[1] for r in ok]) if ok else None,
        "median_outside_ms": statistics.median([r[2] for r in ok]) if ok else None,
        "failures": why[:3],
    }
    log(f"{row['pairing']}: {row['successes']}/{attempts} direct; {row}")
    return row


def iperf_mib_s(t, role, host, port, mib):
    cp = t.run(role, ["iperf3", "-c", host, "-p", str(port), "-n", f"{mib}M", "-J"], check=False,
               timeout=120)
    try:
        end = json.loads(cp.stdout)["end"]
        return end["sum_received"]["bits_per_second"] / 8 / (1 << 20)
    except (ValueError, KeyError):
        log(f"iperf3 failed: {cp.stdout[-500:]}{cp.stderr[-500:]}")
        return None


def throughput(peerup, work, mib, transports=("tcp",)):
    rows = []
    cases = [("cone", "cone", "direct", tr) for tr in transports]
    cases.append(("symmetric", "symmetric", "relayed", "tcp"))
    for home_nat, phone_nat, want, transport in cases:
        with Topology(home_nat, phone_nat) as t:
            lab = labpeer.PeerupLab(peerup, t, os.path.join(work, f"tp-{transport}-{home_nat}-{phone_nat}"),
                                    quic=(transport == "quic"))
            os.makedirs(lab.work, exist_ok=True)
            t.spawn("home", ["iperf3", "-s", "-B", "127.0.0.1", "-p", str(IPERF_PORT)])
            lab.start_all(extra_services={"iperf": f"127.0.0.1:{IPERF_PORT}"}, proxy=False)
            lab.start_proxy()
            _, port, _ = lab.start_proxy(service="iperf", name="iperf-proxy")
            lab.fetch("index.html")
            if want == "direct":
                try:
                    labnet.wait_for(lambda: "direct" in lab.paths(), 15, "a direct path",
                                    interval=0.5)
                except labnet.LabError:
                    log("no direct path: the direct row is not measured")
                    rows.append((f"peerup proxy, direct over {transport} (cone/cone)", None, lab.paths()))
                    continue
            else:
                # Raw TCP through NAT B to the relay's namespace, the lab's baseline.
                t.spawn("relay", ["iperf3", "-s", "-p", str(IPERF_PORT)])
                time.sleep(0.5)
                rows.append(("raw TCP phone -> relay host (iperf3)",
                             iperf_mib_s(t, "phone", labnet.RELAY_IP, IPERF_PORT, mib), []))
            before = t.relay_bytes()
            rate = iperf_mib_s(t, "phone", "127.0.0.1", port, mib)
            relayed = t.relay_bytes() - before
            paths = lab.paths()
            log(f"{want}: {rate} MiB/s, paths {paths}, relay carried {relayed} B")
            label = f"{want} over {transport}" if want == "direct" else want
            rows.append((f"peerup proxy, {label} ({home_nat}/{phone_nat})", rate,
                         [paths, lab.transports()]))
    return rows


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--peerup", default=os.path.join(ROOT, "build", "src", "cli", "peerup"))
    ap.add_argument("--attempts", type=int, default=20)
    ap.add_argument("--timeout", type=float, default=10.0, help="seconds per attempt")
    ap.add_argument("--pairings", default=",".join(DEFAULT_PAIRINGS))
    ap.add_argument("--transports", default="tcp,quic", help="tcp, quic or both")
    ap.add_argument("--quic-timeout", type=float, default=30.0,
                    help="seconds per QUIC attempt (DCUtR gives up after ~15 s, then the birthday punch)")
    ap.add_argument("--mib", type=int, default=64, help="MiB per throughput run")
    ap.add_argument("--skip-throughput", action="store_true")
    ap.add_argument("--skip-holepunch", action="store_true")
    a = ap.parse_args()
    try:
        labnet.require_lab()
    except labnet.LabSkip as e:
        print(f"cannot run: {e}", file=sys.stderr)
        return 77
    labnet.cleanup_stale()
    labnet.install_exit_handlers(3600)
    work = tempfile.mkdtemp(prefix="peerup-holepunch.")
    try:
        rows = []
        transports = [x for x in a.transports.split(",") if x]
        if not a.skip_holepunch:
            for pairing in a.pairings.split(","):
                home_nat, phone_nat = pairing.split("/")
                for transport in transports:
                    timeout = a.quic_timeout if transport == "quic" else a.timeout
                    rows.append(run_pairing(a.peerup, work, home_nat, phone_nat, a.attempts,
                                            timeout, transport))
        tp = [] if a.skip_throughput else throughput(a.peerup, work, a.mib, transports)
    finally:
        shutil.rmtree(work, ignore_errors=True)

    fmt = lambda v: "-" if v is None else f"{v:.0f}"  # noqa: E731
    print(f"\nHole punching, {a.attempts} attempts per pairing ({time.strftime('%Y-%m-%d %H:%M %Z')})\n")
    print("| home / phone | listens on | direct | direct path over | median relayed -> direct (logged)"
          " | median proxy start -> direct | failures |")
    print("| --- | --- | ---: | --- | ---: | ---: | --- |")
    for r in rows:
        print(f"| {r['pairing']} | {r['transport']} | {r['successes']}/{r['attempts']}"
              f" | {', '.join(r['direct_over']) or '-'}"
              + (f" ({r['by_birthday']} by birthday)" if r["by_birthday"] else "")
              + f" | {fmt(r['median_logged_ms'])} ms"
              f" | {fmt(r['median_outside_ms'])} ms | {'; '.join(r['failures'])[:120]} |")
    if tp:
        print(f"\nThroughput inside the lab, iperf3 {a.mib} MiB\n")
        print("| path | MiB/s |")
        print("| --- | ---: |")
        for name, rate, paths in tp:
            print(f"| {name} | {fmt(rate)} |" + (f" <!-- paths {paths} -->" if paths else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
