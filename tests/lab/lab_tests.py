#!/usr/bin/env python3
"""CGNAT lab scenarios (issue 5): real peerup processes in network namespaces.

  python3 tests/lab/lab_tests.py --peerup build/src/cli/peerup <scenario>...
  python3 tests/lab/lab_tests.py --list

Exit 0: passed. 1: failed (evidence printed). 77: skipped, with the reason
printed loudly (not root, no netns, or the build has no hole punching yet).
Every scenario builds its own namespaces and removes them on every exit path.
"""

import argparse
import contextlib
import glob
import os
import re
import shutil
import signal
import sys
import tempfile
import time
import traceback

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import labnet  # noqa: E402
import labfed  # noqa: E402
import labpeer  # noqa: E402
import labtun  # noqa: E402
from labnet import LabError, LabSkip, Topology, log  # noqa: E402
from labpeer import _read as read  # noqa: E402  (a file's text, "" when missing)

AGENT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "lab_agent.py")
SCENARIOS = {}


def scenario(name, budget, direct=False):
    def register(fn):
        SCENARIOS[name] = (fn, budget, direct)
        return fn
    return register


class Ctx:
    def __init__(self, peerup, work):
        self.peerup = peerup
        self.work = work

    @contextlib.contextmanager
    def topology(self, home_nat, phone_nat, extra_relays=None):
        """A Topology that prints its NAT state when the block fails, then goes away."""
        t = Topology(home_nat, phone_nat, extra_relays)
        t.up()
        pcaps = []
        try:
            if shutil.which("tcpdump"):
                # Connection set-ups and tear-downs on both NATs' public side:
                # cheap, and what a failed hole punch needs for a diagnosis.
                for side in ("a", "b"):
                    role = t.router(side)
                    pcap = self.path(f"{t.tag}-{role}.pcap")
                    t.spawn(role, ["tcpdump", "-i", "wan0", "-nn", "-U", "-s", "96", "-w", pcap,
                                   "tcp[tcpflags] & (tcp-syn|tcp-rst|tcp-fin) != 0"])
                    pcaps.append((role, pcap))
                for _, pcap in pcaps:
                    labnet.wait_for(lambda: os.path.exists(pcap), 5, "tcpdump to start")
            yield t
        except LabSkip:
            raise
        except BaseException:
            with contextlib.suppress(Exception):
                for role, pcap in pcaps:
                    cp = labnet.run(["tcpdump", "-nn", "-tttt", "-r", pcap], check=False)
                    lines = cp.stdout.splitlines()
                    print(f"--- SYN/FIN/RST on {role} wan0 (last 40 of {len(lines)})")
                    print("\n".join(lines[-40:]))
                print(t.conntrack_dump())
                for role in sorted(t.ns):
                    if role.startswith(("nat", "cgn", "relay")):
                        print(f"--- iptables counters in {role}")
                        print(t.iptables(role, "-nvxL", check=False).stdout)
                        print(t.iptables(role, "-nvxL", table="nat", check=False).stdout)
            raise
        finally:
            t.down()

    def path(self, *parts):
        p = os.path.join(self.work, *parts)
        os.makedirs(os.path.dirname(p), exist_ok=True)
        return p


def check(cond, msg):
    if not cond:
        raise AssertionError(msg)


def agent(*args):
    return [sys.executable, AGENT, *map(str, args)]


# -- 1. home cannot be reached unsolicited ------------------------------------

def _observed(text):
    """'seen 203.0.113.21:4001' -> ('203.0.113.21', 4001)"""
    for line in text.splitlines():
        if line.startswith("seen "):
            ip, port = line[5:].rsplit(":", 1)
            return ip, int(port)
    return None


def _nat_probe(ctx, kind):
    """Builds home=kind, phone=cone; checks what the relay observes of home's
    outbound connections and that nothing from outside reaches home. Returns
    (observed addresses, probe results, sentinel accepts)."""
    with ctx.topology(kind, "cone") as t:
        d = ctx.path(kind, "x")[:-1]
        sentinel = d + "home_accepts.log"
        open(sentinel, "w").close()
        for port in (7001, 7002):
            t.spawn("relay", agent("listen", port, d + f"relay_{port}.log"),
                    stdout=d + f"relay_{port}.out")
        t.spawn("home", agent("listen", labnet.HOME_PORT, sentinel), stdout=d + "home.out")
        labnet.wait_for(lambda: "listening" in read(d + "relay_7001.out") and "listening" in
                        read(d + "relay_7002.out") and "listening" in read(d + "home.out"), 5,
                        "lab agents to listen")
        # Two outbound connections from home's listen port, as a hole-punching
        # node makes them, held open while the probes run.
        for port in (7001, 7002):
            t.spawn("home", agent("connect", labnet.RELAY_IP, port, "--bind-port",
                                  labnet.HOME_PORT, "--hold", 10), stdout=d + f"out_{port}.txt")
        obs = labnet.wait_for(
            lambda: (lambda a, b: (a, b) if a and b else None)(
                _observed(read(d + "out_7001.txt")), _observed(read(d + "out_7002.txt"))), 5,
            "home -> relay connections")
        pub = t.public_ip["home"]
        targets = {(pub, labnet.HOME_PORT), (pub, obs[0][1]), (pub, obs[1][1])}
        probes = []
        for src in ("outside", "phone"):
            for ip, port in sorted(targets):
                probes.append((src, ip, port))
        if kind != "none":
            # An attacker on the public segment routing straight at the private LAN.
            t.run("outside", ["ip", "route", "add", t.ip["home"].rsplit(".", 1)[0] + ".0/24",
                              "via", labnet.SIDES["a"][3]])
            probes.append(("outside", t.ip["home"], labnet.HOME_PORT))
        running = [(p, t.spawn(p[0], agent("connect", p[1], p[2], "--timeout", 2),
                               stdout=d + f"probe_{i}.txt")) for i, p in enumerate(probes)]
        results = {}
        for i, (p, proc) in enumerate(running):
            proc.wait(timeout=10)
            results[p] = (proc.returncode == 0, read(d + f"probe_{i}.txt").strip())
        time.sleep(0.2)
        accepts = [line for line in read(sentinel).splitlines() if line]
        return obs, results, accepts


@scenario("unreachable", budget=60)
def unreachable(ctx):
    """Home behind cone, symmetric and cgnat NATs: the relay sees the NAT's
    public address (with the port behaviour of the kind), while connections
    from the public segment and from phone, to the NAT's address and to
    home's private address, never reach home. Control: with no NAT the same
    probes do reach it, so the probes can detect reachability."""
    for kind in ("cone", "symmetric", "cgnat"):
        obs, results, accepts = _nat_probe(ctx, kind)
        pub = labnet.SIDES["a"][3]
        log(f"{kind}: relay saw home as {obs[0]} and {obs[1]}")
        check(obs[0][0] == pub and obs[1][0] == pub,
              f"{kind}: relay should see home as {pub}, saw {obs}")
        if kind == "symmetric":
            check(obs[0][1] != obs[1][1],
                  f"symmetric NAT reused one port for two destinations: {obs}")
        else:
            check(obs[0][1] == obs[1][1] == labnet.HOME_PORT,
                  f"{kind} NAT should keep source port {labnet.HOME_PORT}: {obs}")
        for (src, ip, port), (ok, out) in results.items():
            log(f"{kind}: {src} -> {ip}:{port}: {'CONNECTED' if ok else 'blocked'} ({out})")
            check(not ok, f"{kind}: {src} reached {ip}:{port} unsolicited: {out}")
        check(not accepts, f"{kind}: home accepted unsolicited connections from {accepts}")
    obs, results, accepts = _nat_probe(ctx, "none")
    log(f"none (control): relay saw home as {obs[0]}; home accepted {accepts}")
    home_ip = labnet.SIDES["a"][5] + ".10"
    check(obs[0][0] == home_ip, f"without NAT the relay should see {home_ip}: {obs}")
    check(all(ok for (_, ip, port), (ok, _) in results.items() if port == labnet.HOME_PORT),
          f"control: probes to an un-NATed home should connect: {results}")
    check(len(accepts) >= 2, f"control: home should have accepted the probes: {accepts}")


@scenario("punch_raw", budget=60)
def punch_raw(ctx):
    """The lab lets a TCP hole punch through where it should, without peerup:
    simultaneous open from port 4001 on both sides connects for cone/cone and
    cgnat/cone, and fails for symmetric/symmetric (so a failing lab-direct
    scenario points at peerup, not at the lab)."""
    for home_nat, phone_nat, expect in (("cone", "cone", True), ("cgnat", "cone", True),
                                        ("symmetric", "symmetric", False)):
        with ctx.topology(home_nat, phone_nat) as t:
            d = ctx.path(f"punch-{home_nat}-{phone_nat}", "x")[:-1]
            port = labnet.HOME_PORT
            procs = {role: t.spawn(role, agent("punch", t.public_ip[peer], port, "--bind-port",
                                               port, "--for", 4), stdout=d + f"{role}.txt")
                     for role, peer in (("home", "phone"), ("phone", "home"))}
            for p in procs.values():
                p.wait(timeout=15)
            got = {role: (p.returncode == 0, read(d + f"{role}.txt").strip())
                   for role, p in procs.items()}
        log(f"{home_nat}/{phone_nat}: {got}")
        for role, (ok, out) in got.items():
            check(ok == expect, f"{home_nat}/{phone_nat}: {role} punch "
                  f"{'failed' if expect else 'succeeded'} ({out}), expected the opposite")


# -- 2. the service through the relay (works without hole punching) ---------

def _start(ctx, t, quic=False):
    tag = f"{t.kinds['a']}-{t.kinds['b']}" + ("-quic" if quic else "")
    # Two scenarios of one pairing in one run get their own directories
    # (a second relay would find the first one's key and no relay_id).
    n = 1
    while os.path.exists(os.path.join(ctx.work, tag + (f"-{n}" if n > 1 else ""))):
        n += 1
    tag += f"-{n}" if n > 1 else ""
    lab = labpeer.PeerupLab(ctx.peerup, t, ctx.path(tag, "x")[:-2], quic=quic)
    lab.start_all()
    return lab


def _first_page(lab):
    """The page arrives at once, over a circuit the relay opened."""
    ok, body, _ = lab.fetch("index.html", timeout=10)
    took = time.monotonic() - lab.proxy_started
    check(ok, f"first page through peerup proxy failed: {body}")
    check(body == b"hello from home, through the lab\n", f"wrong page: {body[:200]!r}")
    check(lab.relay_circuits_opened() >= 1, "the relay logged no circuit phone -> home")
    log(f"first page {took:.2f} s after the proxy started, over a relay circuit")
    return took


def _relayed(ctx, home_nat, phone_nat):
    with ctx.topology(home_nat, phone_nat) as t:
        lab = _start(ctx, t)
        _first_page(lab)
        paths = labnet.wait_for(lambda: lab.paths() or None, 6, "home's status to list phone")
        check(paths == ["relayed"], f"home's status should show phone relayed, shows {paths}")
        ok, relayed, took = lab.fetch_blob()
        check(ok, "2 MiB fetch through the relay failed")
        log(f"{labpeer.BLOB_SIZE} B blob in {took:.2f} s; relay port carried {relayed} B")
        # Every relayed byte enters and leaves the relay: >= 2x the payload.
        check(relayed >= 2 * labpeer.BLOB_SIZE,
              f"relay carried {relayed} B for a {labpeer.BLOB_SIZE} B fetch: not relayed?")


@scenario("relayed_symmetric", budget=60)
def relayed_symmetric(ctx):
    """symmetric/symmetric (no hole punch can work): the page and a 2 MiB file
    reach phone through the relay (relay counters >= 2x payload; status: relayed)."""
    _relayed(ctx, "symmetric", "symmetric")


@scenario("relayed_cgnat", budget=60)
def relayed_cgnat(ctx):
    """home behind CGNAT (two NAT layers), phone symmetric: the service works
    through the relay (relay counters >= 2x payload; status: relayed)."""
    _relayed(ctx, "cgnat", "symmetric")


@scenario("pair_cgnat", budget=60)
def pair_cgnat(ctx):
    """Pairing with both sides behind NAT (issue 15): home behind CGNAT, phone
    behind a symmetric NAT, the relay closed and phone known to nobody. Home
    runs `peerup invite --relay-rights`, phone `peerup join <short code>`
    (the relay keeps the sealed invite); phone then reaches home's page
    through `peerup proxy` with no other command."""
    with ctx.topology("cgnat", "symmetric") as t:
        lab = labpeer.PeerupLab(ctx.peerup, t, ctx.path("pair-cgnat", "x")[:-2])
        lab.start_relay()
        lab.home = labpeer.Node(ctx.peerup, lab.p("home"))
        lab.phone = labpeer.Node(ctx.peerup, lab.p("phone"))
        labnet.run([ctx.peerup, "relay", "authorize", lab.home.id, "--comment", "home", "--dir",
                    lab.p("relay")])
        lab.start_http()
        lab.start_home(authorize_phone=False)
        cp = t.run("home", lab.home.cmd("invite", "--name", "phone", "--service", "web",
                                        "--relay-rights", "--no-wait"), timeout=30)
        m = re.search(r"peerup join ([a-z2-7-]+)", cp.stdout)
        check(m, f"peerup invite printed no code: {cp.stdout}{cp.stderr}")
        code = m.group(1)
        check(len(code.replace("-", "")) == 36, f"expected the 36-character short code, got {code}")
        lab.phone.write_config(listen=[], relays=[])
        started = time.monotonic()
        cp = t.run("phone", lab.phone.cmd("join", code), check=False, timeout=60)
        check(cp.returncode == 0, f"peerup join failed ({cp.returncode}): {cp.stdout}{cp.stderr}")
        log(f"joined in {time.monotonic() - started:.2f} s: {cp.stdout.strip().splitlines()[-1]}")
        check(lab.phone.id in read(lab.p("home/authorized_keys")), "home did not authorize phone")
        check(lab.phone.id in read(lab.p("relay/authorized_keys")), "the relay did not authorize phone")
        conf = read(lab.phone.config)
        check(lab.home.id in conf and lab.relay_id in conf, f"join saved no name or relay: {conf}")
        # The proxy with the config join wrote (start_proxy would rewrite it).
        proc = t.spawn("phone", lab.phone.cmd("proxy", "home", "web", 0),
                       stdout=lab.p("proxy.out"), stderr=lab.p("proxy.log"))
        port = labnet.wait_for(
            lambda: (lambda mm: int(mm.group(1)) if mm else None)(
                re.search(r"proxy 127\.0\.0\.1:(\d+)", read(lab.p("proxy.out")))),
            20, "peerup proxy to listen")
        lab.proxy_proc, lab.proxy_port, lab.proxy_started = proc, port, time.monotonic()
        _first_page(lab)


# -- 3. direct paths (need DCUtR: skipped until the build has hole punching) --

DIRECT_WITHIN_S = 10     # relayed connection -> status shows a direct path
RESUME_WITHIN_S = 10     # direct path cut -> the service works over the relay again
IDLE_RELAY_MAX = 128 << 10  # relay bytes allowed during a 2 MiB fetch on the direct path


def _start_direct(ctx, t, quic=False):
    lab = _start(ctx, t, quic)
    _first_page(lab)
    # holepunch is a per-connection field: wait until phone's connection is listed.
    st = labnet.wait_for(lambda: (lambda s: s if lab.phone_conns(s) else None)(lab.status()), 6,
                         "home's peerup status --json to list phone")
    if not lab.has_holepunch_field(st):
        raise LabSkip("lab-direct: `peerup status --json` has no \"holepunch\" field, so this "
                      "build has no hole punching (DCUtR) yet; direct-path scenario not run")
    return lab


def _wait_direct(lab, t, proto="tcp"):
    def direct():
        return "direct" in lab.paths() and lab.paths()
    paths = labnet.wait_for(direct, DIRECT_WITHIN_S, "home's status to show a direct path to phone",
                            interval=0.5)
    took = time.monotonic() - lab.proxy_started
    logged = lab.log_direct()
    log(f"direct path after {took:.1f} s (status poll, 2 s granularity); paths now {paths}; "
        f"log: {logged}")
    check(logged is not None, "no 'direct connection to <peer> via <addr> after <ms> ms' log line")
    # The direct flow must exist in the NAT itself, not only in peerup's opinion.
    flows = _direct_flows(t, proto)
    check(flows, f"no {proto} flow seen both ways between home and phone's public address in "
          f"{t.router('a')}'s conntrack table")
    log(f"{t.router('a')} conntrack: {flows[0]}")
    return logged


def _direct_flows(t, proto="tcp"):
    """NAT A's conntrack entries to phone's public address that saw both ways:
    ESTABLISHED for TCP; for UDP, no [UNREPLIED] mark (Linux adds [ASSURED]
    only after the flow lived a few seconds)."""
    other = labnet.SIDES["b"][3]
    cp = t.conntrack(t.router("a"), "-L", "-p", proto)
    lines = [line for line in cp.stdout.splitlines() if f"dst={other}" in line]
    if proto == "tcp":
        return [line for line in lines if "ESTABLISHED" in line]
    return [line for line in lines if "UNREPLIED" not in line]


def _no_relay_bytes(lab):
    ok, relayed, took = lab.fetch_blob()
    check(ok, "2 MiB fetch over the direct path failed")
    log(f"{labpeer.BLOB_SIZE} B blob in {took:.2f} s; relay port carried {relayed} B meanwhile")
    check(relayed < IDLE_RELAY_MAX,
          f"relay carried {relayed} B during a {labpeer.BLOB_SIZE} B fetch on the direct path")


def _check_punch_counted(lab):
    # `peerup status` answers live (control socket), and home's DCUtR run
    # counts its success only when it returns, which can be after the direct
    # path already carries data (e.g. while QUIC gets its grace to win): wait.
    def counted():
        hp = lab.holepunch(lab.status()) or {}
        return hp if hp.get("successes", 0) >= 1 else None
    try:
        hp = labnet.wait_for(counted, 10, "status to count the hole punch", interval=0.25)
    except labnet.LabError:
        hp = lab.holepunch(lab.status()) or {}
    log(f"holepunch status: {hp}")
    check(hp.get("successes", 0) >= 1, f"holepunch should count a success: {hp}")
    # The same counters on home's /metrics (issue 16: hole-punch attempts and outcomes).
    m = lab.metrics()
    attempts = m.get("peerup_holepunch_attempts_total", 0)
    successes = m.get('peerup_holepunch_outcomes_total{outcome="success"}', 0)
    log(f"/metrics: holepunch attempts {attempts:.0f}, successes {successes:.0f}")
    check(attempts >= 1 and successes >= 1,
          f"/metrics should count the hole punch: attempts {attempts}, successes {successes}; "
          f"{ {k: v for k, v in m.items() if 'holepunch' in k} }")


def _direct(ctx, home_nat, phone_nat):
    with ctx.topology(home_nat, phone_nat) as t:
        lab = _start_direct(ctx, t)
        _wait_direct(lab, t)
        _no_relay_bytes(lab)
        _check_punch_counted(lab)


def _direct_quic(ctx, home_nat, phone_nat):
    """The hole punch over QUIC: home and phone reach the relay over QUIC, so
    what they offer in DCUtR are their NATs' UDP mappings; phone (A) dials
    home's, home (B, the QUIC server) sends random UDP packets to phone's."""
    with ctx.topology(home_nat, phone_nat) as t:
        lab = _start_direct(ctx, t, quic=True)
        _wait_direct(lab, t, proto="udp")
        transports = lab.transports()
        log(f"home's paths to phone: {transports}")
        check(transports.get("direct") == "quic",
              f"the direct path should be QUIC (kept over TCP when both work): {transports}")
        _no_relay_bytes(lab)
        _check_punch_counted(lab)


@scenario("quic_direct_cone", budget=60, direct=True)
def quic_direct_cone(ctx):
    """cone/cone over QUIC: relayed at once (circuit over QUIC to the relay),
    then a direct QUIC path from a UDP hole punch; a 2 MiB fetch then moves
    (almost) no bytes through the relay."""
    _direct_quic(ctx, "cone", "cone")


@scenario("quic_direct_cgnat", budget=60, direct=True)
def quic_direct_cgnat(ctx):
    """cgnat/cone over QUIC: a direct QUIC path through both NAT layers of
    home's side; the relay then carries (almost) no service bytes."""
    _direct_quic(ctx, "cgnat", "cone")


@scenario("quic_holepunch_symmetric", budget=60, direct=True)
def quic_holepunch_symmetric(ctx):
    """symmetric/symmetric over QUIC: the UDP hole punch fails (each NAT maps
    the punch to a new port), status says so, and the service keeps working
    through the relay (reached over QUIC)."""
    with ctx.topology("symmetric", "symmetric") as t:
        lab = _start_direct(ctx, t, quic=True)

        def failed():
            hp = lab.holepunch(lab.status()) or {}
            return hp if hp.get("attempts", 0) >= 1 and hp.get("last_error") else None
        hp = labnet.wait_for(failed, 30, "status to show a failed hole punch", interval=0.5)
        log(f"holepunch status: {hp}; log: {lab.log_holepunch_failed()}")
        check(hp.get("successes", 0) == 0, f"a hole punch through symmetric NATs succeeded? {hp}")
        check(lab.paths() == ["relayed"], f"paths should stay relayed: {lab.paths()}")
        check(lab.transports().get("relayed") == "quic",
              f"the relayed path should ride QUIC to the relay: {lab.transports()}")
        ok, relayed, _ = lab.fetch_blob()
        check(ok and relayed >= 2 * labpeer.BLOB_SIZE,
              f"service through the relay after the failed punch: ok={ok}, relay {relayed} B")


@scenario("direct_cone", budget=60, direct=True)
def direct_cone(ctx):
    """cone/cone: relayed at once, then a direct path within seconds; a 2 MiB
    fetch then moves (almost) no bytes through the relay."""
    _direct(ctx, "cone", "cone")


@scenario("direct_cgnat", budget=60, direct=True)
def direct_cgnat(ctx):
    """cgnat/cone: relayed at once, then a direct path within seconds through
    both NAT layers; the relay then carries (almost) no service bytes."""
    _direct(ctx, "cgnat", "cone")


# -- DHT: a public-style js relay found through the DHT (issue 17) -----------

JS_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "interop", "js")
AMINO = "/ipfs/kad/1.0.0"


def _relay_namespace_key():
    """dht::namespace_key("/peerup/relays"): a sha2-256 multihash, hex."""
    import hashlib
    return "1220" + hashlib.sha256(b"/peerup/relays").hexdigest()


def _start_js_relay(ctx, t, work):
    """A js-libp2p relay as public relays run: circuit relay v2 with the js
    default limits (2 minutes, 128 KiB per circuit), @libp2p/kad-dht in server
    mode on the Amino protocol ID, providing the relay namespace."""
    if not shutil.which("node"):
        raise LabSkip("dht_public_relay: no `node` on PATH (scripts/install-deps.sh installs it)")
    if not os.path.isdir(os.path.join(JS_DIR, "node_modules", "@libp2p", "kad-dht")):
        raise LabSkip(f"dht_public_relay: run `npm ci` in {JS_DIR} first")
    out = os.path.join(work, "jsrelay.out")
    t.spawn("relay", ["node", "--import", os.path.join(JS_DIR, "polyfill.mjs"),
                      os.path.join(JS_DIR, "peer.mjs"), "--listen",
                      f"/ip4/0.0.0.0/tcp/{labnet.RELAY_PORT}", "--relay-server",
                      "--relay-default-limits", "--kad", AMINO, "--kad-provide-at-start",
                      _relay_namespace_key(), "--ignore-stdin"],
            stdout=out, stderr=os.path.join(work, "jsrelay.log"))
    m = labnet.wait_for(lambda: re.search(r'"event":"listening","peer_id":"(\w+)"', read(out)), 20,
                        "the js relay to listen")
    relay_id = m.group(1)
    return f"/ip4/{labnet.RELAY_IP}/tcp/{labnet.RELAY_PORT}/p2p/{relay_id}"


@scenario("dht_public_relay", budget=100, direct=True)
def dht_public_relay(ctx):
    """Public network mode, in the lab (never the real network): the only
    relay is a js-libp2p relay with js's default limits that serves the DHT
    on /ipfs/kad/1.0.0 and provides the relay namespace. Home (cone NAT) has
    `relays: auto` with relay_policy any and the relay as its one bootstrap
    peer: it finds the relay as a provider through the DHT and reserves on
    it. Phone (cone NAT) has no relay at all: `peerup proxy <home ID>` finds
    home's addresses through the DHT (home announces itself as the provider
    of its own peer key, which Amino servers accept without a validator),
    reaches it through the relay's limited circuit, DCUtR coordinates a hole
    punch over it, and the path goes direct; a 2 MiB fetch then moves almost
    nothing through the relay (the limited circuit could not carry it)."""
    with ctx.topology("cone", "cone") as t:
        work = ctx.path("dht-public", "x")[:-2]
        os.makedirs(work, exist_ok=True)
        relay_addr = _start_js_relay(ctx, t, work)
        log(f"js relay {relay_addr}")
        lab = labpeer.PeerupLab(ctx.peerup, t, work)
        lab.relay_addr = relay_addr
        lab.home = labpeer.Node(ctx.peerup, lab.p("home"))
        lab.phone = labpeer.Node(ctx.peerup, lab.p("phone"))
        lab.start_http()
        dht = (f"dht:\n  protocol: {AMINO}\n  bootstrap:\n    - {relay_addr}\n")
        with open(lab.home.config, "w") as f:
            f.write("identity_key: identity.key\nauthorized_keys: authorized_keys\n"
                    f"listen:\n  - /ip4/0.0.0.0/tcp/{labnet.HOME_PORT}\nrelays: auto\n"
                    f"services:\n  web:\n    local_address: 127.0.0.1:{labpeer.HTTP_PORT}\n"
                    + dht + "  relay_policy: any\n  max_relays: 1\n"
                    # /metrics, as start_home() gives every other lab home
                    # (_check_punch_counted reads the hole-punch counters there).
                    f"metrics: 127.0.0.1:{labpeer.HOME_METRICS_PORT}\n")
        labnet.run(lab.home.cmd("auth", "add", lab.phone.id, "--comment", "phone"))
        lab.home_proc = t.spawn("home", lab.home.cmd("daemon", "--log-level", "debug"),
                                stdout=lab.p("home.out"), stderr=lab.p("home.log"))
        labnet.wait_for(lambda: "found through the DHT: reserving" in read(lab.p("home.log")) and
                        "reserved on relay" in read(lab.p("home.log")), 30,
                        "home to find the js relay in the DHT and reserve on it")
        log("home found the js relay through the DHT and reserved")
        with open(lab.phone.config, "w") as f:
            f.write("identity_key: identity.key\nauthorized_keys: authorized_keys\n"
                    f"listen:\n  - /ip4/0.0.0.0/tcp/{labnet.HOME_PORT}\nrelays: []\n" + dht)
        started = time.monotonic()

        def proxy_up():
            proc = lab.proxy_proc
            if proc.poll() is not None:
                raise LabError(f"peerup proxy exited with {proc.returncode}: "
                               f"{read(lab.p('proxy.log'))[-3000:]}")
            m = re.search(r"proxy 127\.0\.0\.1:(\d+)", read(lab.p("proxy.out")))
            return int(m.group(1)) if m else None
        # Home announces itself as provider of its own peer key (Amino servers
        # refuse our signed records); wait until that names its circuit.
        def announced():
            cp = t.run("phone", lab.phone.cmd("dht", "providers", f"/peerup/peer/{lab.home.id}"),
                       check=False, timeout=30)
            return cp.stdout if "/p2p-circuit" in cp.stdout else None
        providers = labnet.wait_for(announced, 40, "home's circuit in the DHT, as seen from phone",
                                    interval=1)
        log(f"phone sees home in the DHT: {providers.strip()}")
        lab.proxy_proc = t.spawn("phone", lab.phone.cmd("proxy", lab.home.id, "web", 0,
                                                        "--log-level", "debug"),
                                 stdout=lab.p("proxy.out"), stderr=lab.p("proxy.log"))
        lab.proxy_port = labnet.wait_for(proxy_up, 40, "peerup proxy to resolve home via the DHT")
        lab.proxy_started = started
        # Phone's config has no relay and no address for home: only the DHT
        # can have told it where home is.
        # Home's direct addresses come first and go unanswered behind its NAT
        # (10 s dial timeout each), then the circuit through the js relay.
        ok, body, _ = lab.fetch("index.html", timeout=45)
        check(ok, f"first page through the js relay failed: {body}")
        check(body == b"hello from home, through the lab\n", f"wrong page: {body[:200]!r}")
        log(f"first page after {time.monotonic() - started:.1f} s")
        _wait_direct(lab, t)
        _no_relay_bytes(lab)
        _check_punch_counted(lab)


@scenario("holepunch_symmetric", budget=60, direct=True)
def holepunch_symmetric(ctx):
    """symmetric/symmetric: the hole punch fails, visibly (status holepunch
    last_error, log), and the service keeps working through the relay."""
    with ctx.topology("symmetric", "symmetric") as t:
        lab = _start_direct(ctx, t)

        def failed():
            hp = lab.holepunch(lab.status()) or {}
            return hp if hp.get("attempts", 0) >= 1 and hp.get("last_error") else None
        hp = labnet.wait_for(failed, 20, "status to show a failed hole punch", interval=0.5)
        log(f"holepunch status: {hp}; log: {lab.log_holepunch_failed()}")
        check(hp.get("successes", 0) == 0, f"a hole punch through symmetric NATs succeeded? {hp}")
        check(lab.log_holepunch_failed() is not None, "no 'hole punch to <peer> failed' log line")
        check(lab.paths() == ["relayed"], f"paths should stay relayed: {lab.paths()}")
        ok, relayed, _ = lab.fetch_blob()
        check(ok and relayed >= 2 * labpeer.BLOB_SIZE,
              f"service through the relay after the failed punch: ok={ok}, relay {relayed} B")


@scenario("relay_killed", budget=60, direct=True)
def relay_killed(ctx):
    """cone/cone: once the path is direct, SIGKILL the relay; the service keeps
    working over the direct path."""
    with ctx.topology("cone", "cone") as t:
        lab = _start_direct(ctx, t)
        _wait_direct(lab, t)
        lab.kill_relay()
        for i in range(2):
            ok, body, took = lab.fetch("blob", timeout=10)
            check(ok, f"fetch {i + 1} after the relay died failed: {body}")
            log(f"fetch {i + 1} after the relay died: {len(body)} B in {took:.2f} s")
            time.sleep(2.5)  # let the daemon notice the relay is gone and rewrite status
        paths = lab.paths()
        check("direct" in paths, f"status should still show the direct path: {paths}")


@scenario("direct_cut", budget=75, direct=True)
def direct_cut(ctx):
    """cone/cone: once the path is direct, NAT A loses its mapping (conntrack
    entries deleted, MASQUERADE now random); the service works again over the
    relay within seconds."""
    _direct_cut(ctx, quic=False)


@scenario("quic_direct_cut", budget=75, direct=True)
def quic_direct_cut(ctx):
    """cone/cone over QUIC: once the path is a direct QUIC one, NAT A loses its
    UDP mapping (as when a NAT's UDP timeout expires, with a new port after);
    the dead path is noticed (a liveness probe when a stream opens on a quiet
    connection) and the service works again over the relay within seconds."""
    _direct_cut(ctx, quic=True)


def _service_back(lab, since):
    """Fetches the page until it arrives (bounded); seconds from `since`,
    checked against RESUME_WITHIN_S."""
    resumed = None
    while time.monotonic() - since < 2 * RESUME_WITHIN_S:
        ok, _, _ = lab.fetch("index.html", timeout=3)
        if ok:
            resumed = time.monotonic() - since
            break
        time.sleep(0.2)
    check(resumed is not None, f"service did not come back within {2 * RESUME_WITHIN_S} s")
    check(resumed <= RESUME_WITHIN_S, f"service came back after {resumed:.1f} s, "
          f"more than {RESUME_WITHIN_S} s")
    return resumed


def _direct_cut(ctx, quic):
    proto = "udp" if quic else "tcp"
    with ctx.topology("cone", "cone") as t:
        lab = _start_direct(ctx, t, quic=quic)
        _wait_direct(lab, t, proto)
        nat, other = t.router("a"), labnet.SIDES["b"][3]
        # 1. new mappings get random ports, so the old one cannot come back
        t.iptables(nat, "-R", "POSTROUTING", "1", "-o", "wan0", "-j", "MASQUERADE",
                   "--random-fully", table="nat")
        # 2. drop the live mapping of every flow to phone's NAT (not the relay's)
        for direction in ("--orig-dst", "--reply-src"):
            t.conntrack(nat, "-D", "-p", proto, direction, other)
        cut = time.monotonic()
        log(f"direct path cut in {nat}; conntrack now: "
            f"{_direct_flows(t, proto) or 'no flow to phone'}")
        resumed = _service_back(lab, cut)
        log(f"service back {resumed:.1f} s after the cut")
        ok, relayed, _ = lab.fetch_blob()
        if quic:
            # QUIC may survive the new mapping itself (NAT rebinding: the peer
            # validates the new address and carries on), so either path may
            # carry it; what counts is that the service came back in time.
            check(ok, "2 MiB fetch after the cut failed")
            log(f"after the cut: relay carried {relayed} B of the blob; paths {lab.transports()}")
            return
        check(ok and relayed >= 2 * labpeer.BLOB_SIZE,
              f"after the cut the blob should cross the relay: ok={ok}, relay {relayed} B")
        paths = labnet.wait_for(lambda: lab.paths() == ["relayed"] and lab.paths(), 6,
                                "status to show phone relayed again")
        log(f"paths after the cut: {paths}")


FLUSH_RECOVERY_S = 5.0  # the soak's flush window (bench/soak.py)


IDLE_RECOVERY_S = 8.0  # home pings its relay every 5 s, plus a fetch


@scenario("conntrack_flush", budget=100)
def conntrack_flush(ctx):
    """cone/cone, one setup, two checks (CI time: the idle check once was a
    scenario of its own with its own ~15 s setup).
    1. Under load: conntrack -F in both NATs (a NAT reboot), twice; proxied
       fetches succeed again within 5 s, and none fails outside the flush
       windows. A side that only answers must probe on its own when its busy
       connection falls silent: the peers' packets are dropped at its NAT
       until it sends (keepalive alone: up to 15 s).
    2. Idle: after a few seconds without traffic, conntrack -F again, then a
       fetch every 0.5 s until one works, twice. An idle home only answers:
       the relay's packets to it are dropped at its NAT until it sends, and
       it sends only keepalives. Its connection to the relay pings every 5 s
       (others every 15 s), so the service is back within IDLE_RECOVERY_S;
       with 15 s it took 0-15 s (by the keepalive's phase)."""
    with ctx.topology("cone", "cone") as t:
        lab = _start(ctx, t)
        _first_page(lab)
        _flush_under_load(t, lab)
        _flush_idle(t, lab)


def _flush_under_load(t, lab):
    import threading
    url = f"http://127.0.0.1:{lab.proxy_port}/index.html"
    fetches, lock, stop = [], threading.Lock(), threading.Event()
    started = time.monotonic()

    def client(i):
        for _ in range(10_000):  # bounded; stop ends it long before
            if stop.is_set():
                return
            t0 = time.monotonic()
            cp = t.run("phone", ["curl", "-sS", "--max-time", "10", "-o", "/dev/null", "-w",
                                 "%{http_code}", url], check=False, timeout=20)
            with lock:
                fetches.append((t0, cp.returncode == 0 and cp.stdout.strip() == "200"))
            stop.wait(0.05 + 0.05 * i)

    threads = [threading.Thread(target=client, args=(i,), daemon=True) for i in range(4)]
    for th in threads:
        th.start()
    try:
        time.sleep(4)  # steady traffic first
        with lock:
            warm = list(fetches)
        check(warm and all(ok for _, ok in warm), f"fetches failed before the flush: {warm}")
        recoveries, flushes = [], []
        for n in range(2):
            for side in ("a", "b"):
                t.conntrack(t.router(side), "-F")
            flushed = time.monotonic()
            flushes.append(flushed)
            log(f"flush {n + 1}: conntrack -F in both NATs")
            labnet.wait_for(lambda: any(ok and t0 >= flushed for t0, ok in list(fetches)),
                            3 * FLUSH_RECOVERY_S, "a fetch started after the flush to succeed",
                            interval=0.1)
            with lock:
                first = min(t0 for t0, ok in fetches if ok and t0 >= flushed)
            recoveries.append(first - flushed)
            log(f"flush {n + 1}: first successful fetch started {first - flushed:.2f} s after")
            time.sleep(8)
    finally:
        stop.set()
        for th in threads:
            th.join(25)
    # A fetch may fail when it started up to 10 s (curl's limit) before a
    # flush or within the window after it; any other failure counts.
    late = [round(t0 - started, 1) for t0, ok in fetches if not ok and
            not any(-10 <= t0 - f < FLUSH_RECOVERY_S for f in flushes)]
    check(all(r <= FLUSH_RECOVERY_S for r in recoveries),
          f"recovery after a flush took {recoveries} s, more than {FLUSH_RECOVERY_S} s")
    check(not late, f"fetches failed outside the flush windows, at {late} s")
    log(f"recovered {', '.join(f'{r:.2f} s' for r in recoveries)}; {len(fetches)} fetches")


def _flush_idle(t, lab):
    recoveries = []
    for n in range(2):
        # Idle: the quiet probes after the last fetch (1 s after it, answered
        # within a round trip) are done; from here home sends only keepalives.
        time.sleep(4)
        for side in ("a", "b"):
            t.conntrack(t.router(side), "-F")
        flushed = time.monotonic()
        log(f"idle flush {n + 1}: conntrack -F in both NATs")
        first_ok = None
        for _ in range(60):  # bounded: at most 60 fetches of up to 4 s, cut at 30 s
            t0 = time.monotonic()
            ok, body, _ = lab.fetch("index.html", timeout=4)
            if ok:
                first_ok = t0 - flushed
                break
            if time.monotonic() - flushed > 30:
                break
            time.sleep(max(0.0, 0.5 - (time.monotonic() - t0)))
        check(first_ok is not None, f"idle flush {n + 1}: no fetch worked within 30 s")
        log(f"idle flush {n + 1}: first working fetch started {first_ok:.2f} s after")
        recoveries.append(first_ok)
    check(all(r <= IDLE_RECOVERY_S for r in recoveries),
          f"an idle home took {recoveries} s to be reached after a flush, more than "
          f"{IDLE_RECOVERY_S} s")


BIRTHDAY_WITHIN_S = 40   # relayed -> direct: three failed DCUtR rounds (15 s), then the birthday punch


@scenario("quic_birthday_symmetric_cone", budget=80, direct=True)
def quic_birthday_symmetric_cone(ctx):
    """symmetric/cone over QUIC: DCUtR fails (home's NAT maps each destination
    to a new port), then the birthday punch finds a path: home opens 256
    mappings towards phone, phone probes random ports of home's NAT; a direct
    QUIC path, status says "birthday", and a 2 MiB fetch then moves (almost)
    no bytes through the relay."""
    with ctx.topology("symmetric", "cone") as t:
        lab = _start_direct(ctx, t, quic=True)

        def direct():
            tr = lab.transports()
            return tr.get("direct") == "quic" and tr
        tr = labnet.wait_for(direct, BIRTHDAY_WITHIN_S, "a direct QUIC path to phone", interval=0.5)
        took = time.monotonic() - lab.proxy_started
        home_log, proxy_log = lab.logs()["home.log"], lab.logs()["proxy.log"]
        birthday = [line for line in (home_log + proxy_log).splitlines() if "birthday" in line]
        log(f"direct QUIC path {took:.1f} s after the proxy started; paths {tr}")
        for line in birthday:
            log(f"  {line}")
        check(re.search(r"direct connection to \S+ via \S+ after \d+ ms \(birthday hole punch",
                        home_log), "home's log shows no direct connection from the birthday punch")
        hp = labnet.wait_for(lambda: (lambda h: h if h.get("method") else None)(
            lab.holepunch(lab.status()) or {}), 10, "status to say how the path was found")
        log(f"holepunch status: {hp}")
        check(hp.get("method") == "birthday", f"status should say the path came from the birthday "
              f"punch: {hp}")
        flows = _direct_flows(t, "udp")
        check(flows, f"no UDP flow seen both ways between home and phone's public address in "
              f"{t.router('a')}'s conntrack table")
        log(f"{t.router('a')} conntrack: {flows[0]}")
        _no_relay_bytes(lab)


EXPIRE_TIMEOUT_S = 3      # NAT A's lowered UDP conntrack timeout (both unreplied and stream)
REPUNCH_WITHIN_S = 20     # mapping expired -> a direct QUIC path again


@scenario("quic_mapping_expired", budget=80, direct=True)
def quic_mapping_expired(ctx):
    """cone/cone over QUIC: once the path is a direct QUIC one, NAT A's UDP
    conntrack timeout is lowered to 3 s and the quiet direct flow expires
    there; the service works again within seconds (the dead path is noticed)
    and a new hole punch brings a direct QUIC path back."""
    with ctx.topology("cone", "cone") as t:
        lab = _start_direct(ctx, t, quic=True)
        _wait_direct(lab, t, "udp")
        nat, relay = t.router("a"), labnet.RELAY_IP
        punches_before = (lab.holepunch(lab.status()) or {}).get("successes", 0)
        defaults = {k: t.run(nat, ["sysctl", "-n", f"net.netfilter.nf_conntrack_{k}"]).stdout.strip()
                    for k in ("udp_timeout", "udp_timeout_stream")}
        # 1. a NAT with a UDP timeout shorter than the QUIC keep-alive (15 s):
        #    the conntrack sysctls are per network namespace
        for k in defaults:
            t.run(nat, ["sysctl", "-qw", f"net.netfilter.nf_conntrack_{k}={EXPIRE_TIMEOUT_S}"])
        lowered = time.monotonic()

        # 2. wait for the direct flow to expire in NAT A. Only that one: the
        #    relay's flow is kept fresh meanwhile (a NAT that expired every
        #    mapping would also cut the relayed fallback this test relies on).
        def expired():
            t.conntrack(nat, "-U", "-p", "udp", "--orig-dst", relay, "--timeout", "60")
            return not _direct_flows(t, "udp") and not [
                line for line in t.conntrack(nat, "-L", "-p", "udp").stdout.splitlines()
                if f"dst={labnet.SIDES['b'][3]}" in line]
        labnet.wait_for(expired, 30, "the direct UDP flow to expire in NAT A", interval=0.25)
        gone = time.monotonic()
        log(f"direct UDP flow expired in {nat} {gone - lowered:.1f} s after the timeout "
            f"was lowered to {EXPIRE_TIMEOUT_S} s")
        # 3. new mappings get ordinary timeouts again
        for k, v in defaults.items():
            t.run(nat, ["sysctl", "-qw", f"net.netfilter.nf_conntrack_{k}={v}"])

        # 4. the service: phone's next stream meets the dead mapping
        resumed = _service_back(lab, gone)
        log(f"service answered {resumed:.1f} s after the mapping expired; paths {lab.transports()}")

        # 5. punched again: a direct QUIC path, a flow both ways in NAT A, and
        #    (when the old path did not heal by itself) one more counted punch
        def direct_again():
            tr = lab.transports()
            return tr.get("direct") == "quic" and _direct_flows(t, "udp") and tr
        tr = labnet.wait_for(direct_again, REPUNCH_WITHIN_S,
                             "a direct QUIC path to phone again", interval=0.5)
        again = time.monotonic() - gone
        hp = lab.holepunch(lab.status()) or {}
        log(f"direct QUIC path again {again:.1f} s after the expiry; paths {tr}; holepunch {hp}; "
            f"{nat} conntrack: {_direct_flows(t, 'udp')[0]}")
        log(f"hole punches counted: {punches_before} before, {hp.get('successes', 0)} now")
        _no_relay_bytes(lab)


# -- runner -------------------------------------------------------------------

# -- 4. network mode (TUN, issue 14) ------------------------------------------

def _tun_traffic(tl, t, path):
    """ping, iperf3 TCP and UDP from phone to home's 10.64 address; the
    filter and the no-transit rule hold. Returns the figures."""
    got, rtt, out = tl.ping("phone", tl.home_addr, count=5)
    check(got >= 4, f"ping {tl.home_addr} from phone ({path}): {got}/5 replies\n{out}")
    log(f"ping {tl.home_addr} ({path}): {got}/5, avg rtt {rtt} ms")
    # home -> phone works too (phone's default [icmp] lets pings in)
    got, _, out = tl.ping("home", tl.phone_addr, count=3)
    check(got >= 2, f"ping {tl.phone_addr} from home: {got}/3\n{out}")
    # IPv6 on the interface: the derived ULA addresses reach each other too.
    home6 = tl.addr6("home")
    check(home6 and home6.startswith("fd70:6565:7275:"), f"home's log names no IPv6 address: {home6}")
    got, rtt6, out = tl.ping("phone", home6, count=3)
    check(got >= 2, f"ping -6 {home6} from phone ({path}): {got}/3\n{out}")
    log(f"ping -6 {home6} ({path}): {got}/3, avg rtt {rtt6} ms")
    # ssh (real OpenSSH) to home's 10.64 address, 1 MiB through it, checksummed.
    ok, detail = tl.ssh_roundtrip("home", "phone", tl.home_addr)
    check(ok, f"ssh to {tl.home_addr} over {path}: {detail}")
    log(f"ssh root@{tl.home_addr} ({path}): {detail}")
    tcp, err = tl.iperf("home", "phone", tl.home_addr)
    check(tcp is not None, f"iperf3 TCP over {path} failed: {err}")
    mbps = tcp["end"]["sum_received"]["bits_per_second"] / 1e6
    log(f"iperf3 TCP phone -> home ({path}): {mbps:.1f} Mbit/s (busy machine, not a benchmark)")
    check(mbps > 1, f"iperf3 TCP moved only {mbps:.2f} Mbit/s")
    udp, err = tl.iperf("home", "phone", tl.home_addr, udp=True)
    check(udp is not None, f"iperf3 UDP over {path} failed: {err}")
    u = udp["end"]["sum"]
    log(f"iperf3 UDP 20 Mbit/s offered ({path}): {u['bits_per_second'] / 1e6:.1f} Mbit/s, "
        f"lost {u.get('lost_percent', 0):.1f}%")
    check(u.get("lost_percent", 100) < 50, f"iperf3 UDP lost {u.get('lost_percent')}%")
    # The filter: phone may not reach home's tcp/8080 (only icmp, 5201)
    blocked = t.run("phone", ["nc", "-z", "-w", "2", tl.home_addr, "8080"], check=False)
    check(blocked.returncode != 0, "phone reached home's tcp/8080 through the filter")
    # Anti-spoofing / no transit: a packet from another source on phone's
    # interface never leaves phone.
    t.run("phone", ["ip", "addr", "add", "10.64.250.250/32", "dev", "peerup0"])
    got, _, _ = tl.ping("phone", tl.home_addr, count=2, deadline=4, source="10.64.250.250")
    check(got == 0, "a ping from a source that is not phone's address got replies")
    return mbps


def _tun_stop_and_counters(tl):
    tl.stop_daemon("home")
    tl.stop_daemon("phone")
    home, phone = tl.counters("home"), tl.counters("phone")
    log(f"home counters: {home}")
    log(f"phone counters: {phone}")
    check(home.get("filtered", 0) >= 1, f"home counted no filtered packet: {home}")
    check(phone.get("not_from_self", 0) >= 2, f"phone counted no spoofed source: {phone}")
    return home, phone


def _tun_offload_check(tl, home, phone):
    """TCP offload on the interface: phone's kernel handed it TCP super-segments
    (iperf3 phone -> home) and home merged runs of segments into GSO writes."""
    if any(m in read(tl.p(f"{r}.log")) for r in ("home", "phone")
           for m in ("the kernel refused IFF_VNET_HDR", "the kernel refused TCP offload")):
        log("TUN offload refused by this kernel: split/merge counters not checked")
        return
    check(phone.get("split_reads", 0) >= 1, f"phone split no TSO read: {phone}")
    check(home.get("merged_writes", 0) >= 1, f"home merged no GRO write: {home}")
    log(f"offload: phone split {phone.get('split_reads')} TSO reads; home wrote "
        f"{home.get('merged_packets')} packets in {home.get('merged_writes')} merged writes")


@scenario("tun_relayed", budget=120)
def tun_relayed(ctx):
    """symmetric/symmetric, network mode over the relay: ping, iperf3 TCP and
    UDP to the 10.64 address; filter, anti-spoofing, unauthorized peer, and a
    SIGKILL leaves nothing that blocks a restart."""
    with ctx.topology("symmetric", "symmetric") as t:
        tl = labtun.TunLab(ctx.peerup, t, ctx.path("tun-relayed", "x")[:-2]).start()
        _tun_traffic(tl, t, "relayed")
        # DNS: phone's gateway answers home.p2p with home's 10.64 address.
        gw = t.spawn("phone", tl.phone.cmd("gateway", "--dns", "127.0.0.1:5353"),
                     stdout=tl.p("gateway.out"), stderr=tl.p("gateway.log"))
        labnet.wait_for(lambda: "dns 127.0.0.1:5353" in read(tl.p("gateway.out")), 10,
                        "phone's gateway to serve DNS")
        dig = t.run("phone", ["dig", "@127.0.0.1", "-p", "5353", "+short", "+time=5", "+tries=1",
                              "home.p2p"], check=False, timeout=15)
        check(dig.stdout.strip() == tl.home_addr,
              f"dig home.p2p answered {dig.stdout.strip()!r}, not {tl.home_addr}")
        log(f"dig @phone's gateway home.p2p -> {dig.stdout.strip()}")
        # AAAA: home's own IPv6 (ULA) address on peerup0, as home's log names it.
        home6 = tl.addr6("home")
        dig6 = t.run("phone", ["dig", "@127.0.0.1", "-p", "5353", "+short", "+time=5", "+tries=1",
                               "AAAA", "home.p2p"], check=False, timeout=15)
        check(home6 and dig6.stdout.strip() == home6,
              f"dig AAAA home.p2p answered {dig6.stdout.strip()!r}, not {home6}")
        log(f"dig AAAA @phone's gateway home.p2p -> {dig6.stdout.strip()}")
        t.stop(gw)
        check("sending to " in read(tl.p("phone.log")) and "over a relayed connection"
              in read(tl.p("phone.log")), "phone's log shows no stream over a relayed connection")
        # An unauthorized peer (the stranger, on the public segment) gets nothing.
        stranger = labpeer.Node(ctx.peerup, tl.p("stranger"))
        labnet.run([ctx.peerup, "relay", "authorize", stranger.id, "--dir", tl.p("relay")])
        stranger.write_config([], [tl.lab.relay_addr], names={"home": tl.home.id})
        with open(stranger.config, "a") as f:
            f.write(labtun._tun_section("[all]"))
        labnet.run(stranger.cmd("auth", "add", tl.home.id))
        s_addr = tl.start_daemon("stranger", stranger, ns="relay")
        home_seen_by_stranger = re.search(r"peer \S+ is (10\.64\.\d+\.\d+)",
                                          read(tl.p("stranger.log")))
        check(home_seen_by_stranger, "stranger's log names no peer address")
        got, _, _ = tl.ping("relay", home_seen_by_stranger.group(1), count=3, deadline=8)
        check(got == 0, "an unauthorized peer's ping reached home")
        check(re.search(r"refused (connection from|/peerup/ip/1.0.0 from) " + stranger.id,
                        read(tl.p("home.log"))),
              "home's log does not show the stranger refused")
        log(f"stranger {s_addr}: 0/3 replies, refused by home")
        # SIGKILL home: the interface goes with the process, a restart works.
        tl.stop_daemon("home", signal.SIGKILL)
        gone = t.run("home", ["ip", "link", "show", "peerup0"], check=False)
        check(gone.returncode != 0, "peerup0 still exists after home was killed")
        tl.home_addr = tl.start_daemon("home", tl.home)
        labnet.wait_for(lambda: "reserved on relay" in read(tl.p("home.log")), 20,
                        "home to reserve again")
        got, _, out = tl.ping("phone", tl.home_addr, count=5)
        check(got >= 3, f"after home's restart, ping got {got}/5\n{out}")
        log(f"home killed with SIGKILL: peerup0 gone; restarted, ping {got}/5")
        # The killed home logged no counters: knock on a filtered port again.
        blocked = t.run("phone", ["nc", "-z", "-w", "2", tl.home_addr, "8080"], check=False)
        check(blocked.returncode != 0, "phone reached home's tcp/8080 after the restart")
        route = t.run("home", ["ip", "route"], check=False).stdout
        check("default" in route and route.count("peerup0") == 1,
              f"home's routes changed beyond the prefix route:\n{route}")
        _tun_stop_and_counters(tl)


@scenario("tun_direct", budget=120, direct=True)
def tun_direct(ctx):
    """cone/cone over QUIC, network mode: an iperf3 TCP run started at once
    keeps going while the path upgrades from relayed to direct QUIC; then ping
    and iperf3 over the direct path as QUIC datagrams (counted), with (almost)
    no bytes through the relay."""
    with ctx.topology("cone", "cone") as t:
        tl = labtun.TunLab(ctx.peerup, t, ctx.path("tun-direct", "x")[:-2], quic=True).start()
        # The first packet opens the (relayed) path; the hole punch follows
        # within seconds, during this 10 s run. The run is paced (50 Mbit/s) so
        # the punch's identify and DCUtR messages are not queued behind a
        # saturated circuit.
        tcp, err = tl.iperf("home", "phone", tl.home_addr, seconds=10, timeout=40, rate="50M")
        check(tcp is not None, f"iperf3 TCP across the relayed -> direct upgrade failed: {err}")
        plog = read(tl.p("phone.log"))
        relayed_at = plog.find("over a relayed connection")
        direct_at = plog.find("over a quic connection")
        check(relayed_at >= 0 and direct_at > relayed_at,
              "phone's log does not show the flow moving from relayed to direct QUIC")
        check("go as QUIC datagrams" in plog, "phone's log does not show QUIC datagrams in use")
        mbps = tcp["end"]["sum_received"]["bits_per_second"] / 1e6
        log(f"iperf3 TCP across the upgrade: {mbps:.1f} Mbit/s, no error")
        before = t.relay_bytes()
        _tun_traffic(tl, t, "direct")
        relayed = t.relay_bytes() - before
        log(f"relay carried {relayed} B during the direct-path traffic")
        check(relayed < 1 << 20, f"relay carried {relayed} B on the direct path")
        # The live counters: status --json names the path and the datagrams.
        ns = tl.network_status("phone", tl.phone)
        check(ns and ns["address"] == tl.phone_addr, f"phone's status has no network section: {ns}")
        peer = next((p for p in ns["peers"] if p["peer"] == tl.home.id), None)
        check(peer and peer["transport"] == "quic" and peer["datagrams"],
              f"phone's status does not show QUIC datagrams to home: {peer}")
        check(peer["traffic"]["datagram_packets_out"] >= 1000 and
              ns["total"]["datagram_packets_out"] >= peer["traffic"]["datagram_packets_out"],
              f"phone's status counts few datagrams: {ns['total']}")
        log(f"phone's status: home via {peer['transport']}, datagrams out "
            f"{peer['traffic']['datagram_packets_out']}, stream out "
            f"{peer['traffic']['stream_packets_out']}")
        # UDP segmentation offload: one UDP_SEGMENT send of 20 x 1000 bytes
        # arrives as 20 datagrams of 1000 bytes (split by us when the kernel
        # handed us the super-segment, by the kernel otherwise).
        got, sizes = tl.udp_gso_burst("home", "phone", tl.home_addr)
        check(got >= 15 and sizes == [1000],
              f"a UDP_SEGMENT send to home arrived as {got} datagrams of sizes {sizes}")
        log(f"UDP_SEGMENT 20 x 1000 B: home received {got} datagrams of {sizes} B")
        home, phone = _tun_stop_and_counters(tl)
        _tun_offload_check(tl, home, phone)
        if "UDP segmentation on" in read(tl.p("phone.log")):
            check(phone.get("udp_split_reads", 0) >= 1,
                  f"phone's kernel has USO but phone split no UDP super-segment: {phone}")
            log(f"USO: phone split {phone.get('udp_split_reads')} UDP super-segments")
        else:
            log("USO: not on this kernel (before 6.2): udp_split_reads not checked")
        # The direct QUIC path carried the packets as datagrams: iperf3 alone
        # sends thousands each way; the stream keeps the relayed start and
        # packets larger than a datagram (none at the default MTU).
        for role, c in (("home", home), ("phone", phone)):
            check(c.get("datagram_out", 0) >= 1000 and c.get("datagram_in", 0) >= 1000,
                  f"{role} sent/received few QUIC datagrams: {c}")
            check(c.get("datagram_out", 0) > c.get("stream_out", 0),
                  f"{role} sent more packets on the stream than as datagrams: {c}")


@scenario("tun_resolved", budget=60)
def tun_resolved(ctx):
    """systemd-resolved (without systemd as PID 1: its own D-Bus system bus
    in a private mount namespace) gets the .p2p zone on peerup0 while the
    daemon runs, answers a member's name through the daemon's relay and the
    gateway on loopback, and loses the registration when the daemon stops."""
    found = labtun.find_resolved()
    if not found:
        raise labnet.LabSkip("no systemd-resolved to test with (scripts/install-deps.sh unpacks "
                             "the Debian package into /opt/peerup-lab/systemd-resolved; or set "
                             "PEERUP_RESOLVED_ROOT)")
    if not shutil.which("dbus-daemon") or not shutil.which("nsenter"):
        raise labnet.LabSkip("dbus-daemon or nsenter missing (Debian packages dbus, util-linux)")
    work = ctx.path("tun-resolved", "x")[:-2]
    peerup = os.path.abspath(ctx.peerup)  # nsenter -m starts in the namespace's root
    with labtun.ResolvedNs(work, *found) as rn:
        node = labpeer.Node(peerup, os.path.join(work, "node"))
        home = labpeer.Node(peerup, os.path.join(work, "home"))
        node.write_config(["/ip4/127.0.0.1/tcp/0"], [], names={"home": home.id})
        with open(node.config, "a") as f:
            f.write(labtun._tun_section() + "gateway:\n  dns: 127.0.0.1:5353\n")
        labnet.run(node.cmd("auth", "add", home.id, "--comment", "home"))
        daemon = rn.spawn(node.cmd("daemon", "--tun"), "daemon")

        def registered():
            if daemon.poll() is not None:
                raise LabError(f"the daemon exited: {rn.log_of('daemon')[-1500:]}")
            text = rn.log_of("daemon")
            return "systemd-resolved sends" in text or "could not register" in text
        labnet.wait_for(registered, 20, "the daemon to register with systemd-resolved")
        text = rn.log_of("daemon")
        # resolved sends peerup0's queries out of peerup0, where 127.0.0.1
        # is unreachable: the daemon registers its own interface address and
        # relays from there to the gateway on loopback.
        own = re.search(r"network mode: peerup0 is (10\.64\.\d+\.\d+)/", text)
        check(own, "the daemon's log names no interface address")
        server = f"{own.group(1)}:5353"
        check(f"systemd-resolved sends *.p2p to {server} via peerup0 (relayed to 127.0.0.1:5353)"
              in text, f"the daemon did not register the zone: {text[-1500:]}")
        home_addr = re.search(r"peer " + home.id + r" is (10\.64\.\d+\.\d+)", text)
        check(home_addr, "the daemon's log names no address for home")
        dns = rn.run([rn.ctl, "dns", "peerup0"], check=False).stdout
        domain = rn.run([rn.ctl, "domain", "peerup0"], check=False).stdout
        check(server in dns and "~p2p" in domain,
              f"resolvectl shows no registration on peerup0: {dns!r} {domain!r}")
        log(f"resolvectl: {dns.strip()} | {domain.strip()}")
        gw = rn.spawn(node.cmd("gateway", "--dns", "127.0.0.1:5353"), "gateway")
        labnet.wait_for(lambda: "dns 127.0.0.1:5353" in rn.log_of("gateway"), 10,
                        "the gateway to serve DNS")
        q = rn.run([rn.ctl, "query", "--cache=no", "home.p2p"], check=False, timeout=20)
        log(f"resolvectl query home.p2p: {(q.stdout + q.stderr).strip()}")
        check(q.returncode == 0 and home_addr.group(1) in q.stdout,
              f"systemd-resolved did not answer home.p2p with {home_addr.group(1)}: "
              f"{q.stdout}{q.stderr}")
        labnet._terminate(gw)
        # Stop: the registration goes (resolvectl revert, then the interface).
        labnet._terminate(daemon)
        check("peerup0 removed" in rn.log_of("daemon"), "the daemon did not stop cleanly")
        after = rn.run([rn.ctl, "domain"], check=False).stdout
        check("~p2p" not in after and "peerup0" not in after,
              f"systemd-resolved still routes .p2p after the daemon stopped: {after!r}")
        log("daemon stopped: systemd-resolved no longer routes .p2p")


# -- relay federation: three relays, home nodes behind NATs (issue 18) -------

def _fed_must(lab, who, target, what):
    ok, out, err = lab.get(who, target)
    check(ok, f"{what}: {who} -> {target} failed:\n{out[-500:]}{err[-1500:]}")
    log(f"{what}: {who} -> {target}: page arrived")


def _fed_refused(lab, who, target, what, needle=None):
    ok, out, err = lab.get(who, target, timeout=60)
    check(not ok, f"{what}: {who} -> {target} should be refused, got {out[-300:]!r}")
    if needle:
        check(needle in err, f"{what}: {who} -> {target}: no {needle!r} in the error: {err[-1500:]}")
    log(f"{what}: {who} -> {target} refused: {err.strip().splitlines()[-1] if err.strip() else '?'}")


@scenario("federation", budget=170)
def federation(ctx):
    """Three relays (grewal, bob, alice) in namespaces, home nodes behind NATs:
    full trust both ways, one_way one way only, the forwarded path through two
    relays, names by `peerup resolve` and dig, a peer relay's restart, and a
    removed peering, with no restart."""
    with ctx.topology("cone", "cone", labfed.EXTRA_RELAYS) as t:
        lab = labfed.FedLab(ctx.peerup, t, ctx.path("federation", "x")[:-2]).start_all()
        ids = lab.ids

        # 1. full both ways: grewal's member reaches bob's host and back
        _fed_must(lab, "alex", "server.bob", "full trust")
        _fed_must(lab, "bea", "laptop.grewal", "full trust, the other way")

        # 2. one_way: alice's members reach grewal's hosts, never the reverse
        _fed_must(lab, "ann", "laptop.grewal", "one_way, the allowed way")
        _fed_refused(lab, "alex", "visitor.alice", "one_way, the wrong way", "one_way")

        # 3. names across networks: peerup resolve and dig through the gateway
        cp = lab.resolve("alex", "server.bob")
        check(cp.returncode == 0 and ids["server"] in cp.stdout,
              f"peerup resolve server.bob: {cp.stdout}{cp.stderr}")
        lab.gateway("alex")
        dig = lab.dig("alex", "server.bob.p2p")
        answer = re.search(r"^server\.bob\.p2p\.\s+\d+\s+IN\s+A\s+(127\.64\.\d+\.\d+)$", dig.stdout, re.M)
        check(dig.returncode == 0 and answer,
              f"dig server.bob.p2p through the gateway: {dig.stdout}{dig.stderr}")
        log(f"dig server.bob.p2p -> {answer.group(1)}; resolve -> {ids['server']}")

        # 4. the forwarded path: alex's NAT rejects the bob relay; its own
        #    relay forwards the circuit (data through two relays)
        reject = ["FORWARD", "-p", "tcp", "-d", labfed.RELAYS["bob"][1], "-j", "REJECT",
                  "--reject-with", "tcp-reset"]
        t.iptables("natb", "-I", *reject)
        try:
            _fed_must(lab, "alex", "server.bob", "forwarded (bob relay unreachable)")
        finally:
            t.iptables("natb", "-D", *reject)
        check(f"forwarded circuit {ids['alex']} -> {ids['server']} open via peer relay"
              in lab.relay_log("grewal"), "the grewal relay logged no forwarded circuit")
        check(f"open (forwarded by peer relay {ids['grewal']})" in lab.relay_log("bob"),
              "the bob relay logged no circuit forwarded by grewal")

        # 5. a peer relay's restart is survived: bob comes back, server
        #    re-reserves and re-registers, alex reaches it again
        lab.stop_relay("bob")
        _fed_refused(lab, "alex", "server.bob", "bob relay down")
        lab.start_relay("bob")
        labnet.wait_for(lambda: lab.get("alex", "server.bob")[0], 60,
                        "alex to reach server.bob after the bob relay restarted", interval=2)
        log("bob relay restarted: alex reaches server.bob again")

        # 6. removing a peering takes effect with no restart
        lab.federation("remove", "bob", "grewal")
        labnet.wait_for(lambda: "network bob: 0 peerings" in labnet.run(
            [ctx.peerup, "relay", "federation", "list", "--dir", lab.p("relay-bob")],
            check=False).stdout, 10, "the bob relay to apply the removal")
        _fed_refused(lab, "alex", "server.bob", "peering removed at bob")
        _fed_refused(lab, "bea", "laptop.grewal", "peering removed at bob")
        check(lab.relay_proc["bob"].poll() is None, "the bob relay restarted or died")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--peerup", default=os.environ.get("PEERUP_BINARY", ""))
    ap.add_argument("--keep", action="store_true", help="keep the work directory (logs)")
    ap.add_argument("--list", action="store_true")
    ap.add_argument("scenarios", nargs="*")
    a = ap.parse_args()
    if a.list or not a.scenarios:
        for name, (fn, budget, direct) in SCENARIOS.items():
            print(f"{name:24} {budget:4} s {'direct ' if direct else ''}{(fn.__doc__ or '').split(chr(10))[0]}")
        return 0
    unknown = [s for s in a.scenarios if s not in SCENARIOS]
    if unknown:
        print(f"unknown scenarios: {unknown}; see --list", file=sys.stderr)
        return 2
    try:
        labnet.require_lab()
    except LabSkip as e:
        print(f"\n*** SKIPPED: NAT lab not run: {e} ***\n", flush=True)
        return labnet.SKIP
    labnet.cleanup_stale()
    budget = sum(SCENARIOS[s][1] for s in a.scenarios)
    labnet.install_exit_handlers(budget)
    work = tempfile.mkdtemp(prefix="peerup-lab.")
    ctx = Ctx(a.peerup, work)
    code = 0
    try:
        for name in a.scenarios:
            fn = SCENARIOS[name][0]
            log(f"== {name}: {(fn.__doc__ or '').split(chr(10))[0]}")
            started = time.monotonic()
            fn(ctx)
            log(f"== {name}: PASSED in {time.monotonic() - started:.1f} s")
    except LabSkip as e:
        print(f"\n*** SKIPPED: {e} ***\n", flush=True)
        code = labnet.SKIP
    except BaseException as e:  # noqa: BLE001 - every failure must tear down and report
        print(f"\n*** FAILED: {type(e).__name__}: {e} ***", flush=True)
        traceback.print_exc()
        for f in sorted(glob.glob(os.path.join(work, "**", "*.log"), recursive=True)):
            lines = read(f).splitlines()
            print(f"--- {os.path.relpath(f, work)} (last 40 of {len(lines)} lines)")
            print("\n".join(lines[-40:]))
        code = 1
    finally:
        signal_off()
        if a.keep or os.environ.get("LAB_KEEP"):
            print(f"work directory kept: {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
        leftovers = [ns for ns in labnet.netns_list()
                     if ns.startswith(f"{labnet.PREFIX}{os.getpid()}-")]
        if leftovers:
            print(f"*** FAILED: namespaces left behind: {leftovers}", flush=True)
            code = 1
    return code


def signal_off():
    signal.alarm(0)


if __name__ == "__main__":
    sys.exit(main())
