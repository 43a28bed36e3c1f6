"""NAT lab topology: Linux network namespaces, veth pairs and iptables NAT.

Every namespace this module creates is named pulab-<owner pid>-<n>-<role>, so
a later run can find (and only find) namespaces left by a crashed run: their
owner pid is dead. Nothing here touches the host's own interfaces, routes,
sysctls or iptables: links are created inside our namespaces, ip_forward is
set inside router namespaces only, and every iptables call runs inside one.

Layout (addresses exist only inside the namespaces):

  relay 203.0.113.10 --+
  outside 203.0.113.99 (the switch itself, an unsolicited "internet host")
                       +-- br0 (namespace "wan"), the public segment 203.0.113.0/24
  side a (home):  home 192.168.1.10 -- nata [-- cgna 100.64.1.0/24] -- 203.0.113.21
  side b (phone): phone 10.0.2.10   -- natb [-- cgnb 100.64.2.0/24] -- 203.0.113.22

NAT kinds per side:
  cone       MASQUERADE (Linux keeps the source port when it is free)
  symmetric  MASQUERADE --random-fully (a new port per connection)
  cgnat      cone router behind a second MASQUERADE layer in 100.64.0.0/10
  none       plain router; the host has a public address (198.51.100.0/24 for
             home, 192.0.2.0/24 for phone) and no firewall
NAT routers behave like home routers: they forward LAN -> WAN, accept replies
(conntrack ESTABLISHED,RELATED) and silently drop anything unsolicited from
the WAN, so a SYN to an unmapped port gets no RST.
"""

import itertools
import os
import signal
import subprocess
import sys
import time

PREFIX = "pulab-"
NAT_KINDS = ("none", "cone", "symmetric", "cgnat")
SKIP = 77  # ctest SKIP_RETURN_CODE

WAN_PREFIXLEN = 24
RELAY_IP = "203.0.113.10"
OUTSIDE_IP = "203.0.113.99"
RELAY_PORT = 4001
HOME_PORT = 4001

# side -> (host role, router role, cgn role, WAN ip, private LAN, public LAN, CGN /24)
SIDES = {
    "a": ("home", "nata", "cgna", "203.0.113.21", "192.168.1", "198.51.100", "100.64.1"),
    "b": ("phone", "natb", "cgnb", "203.0.113.22", "10.0.2", "192.0.2", "100.64.2"),
}

_counter = itertools.count(1)


class LabError(Exception):
    pass


class LabSkip(Exception):
    pass


class LabTimeout(Exception):
    pass


def log(msg):
    print(f"[lab {time.strftime('%H:%M:%S')}] {msg}", flush=True)


def run(argv, check=True, timeout=15, input=None):
    """Runs a command to completion, bounded in time; returns CompletedProcess."""
    try:
        cp = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, input=input)
    except subprocess.TimeoutExpired as e:
        raise LabError(f"timed out after {timeout} s: {' '.join(argv)}") from e
    if check and cp.returncode != 0:
        raise LabError(
            f"failed ({cp.returncode}): {' '.join(argv)}\n{cp.stdout}{cp.stderr}".rstrip())
    return cp


def wait_for(pred, timeout, what, interval=0.1):
    """Polls pred() until it returns something truthy; bounded by timeout seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = pred()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise LabError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(interval)


def netns_list():
    cp = run(["ip", "netns", "list"], check=False)
    return [line.split()[0] for line in cp.stdout.splitlines() if line.strip()]


def _pid_alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _kill_ns_processes(ns):
    cp = run(["ip", "netns", "pids", ns], check=False)
    for tok in cp.stdout.split():
        try:
            os.kill(int(tok), signal.SIGKILL)
        except (ValueError, ProcessLookupError):
            pass


def _delete_ns(ns):
    _kill_ns_processes(ns)
    run(["ip", "netns", "del", ns], check=False)


def cleanup_stale():
    """Deletes lab namespaces whose owner process is gone (a crashed earlier run)."""
    removed = []
    for ns in netns_list():
        if not ns.startswith(PREFIX):
            continue
        parts = ns[len(PREFIX):].split("-")
        if not parts or not parts[0].isdigit():
            continue
        owner = int(parts[0])
        if owner != os.getpid() and not _pid_alive(owner):
            _delete_ns(ns)
            removed.append(ns)
    if removed:
        log(f"removed {len(removed)} stale lab namespaces: {' '.join(removed)}")
    return removed


def require_lab():
    """Raises LabSkip (loudly explained) when namespaces cannot be made here."""
    if os.geteuid() != 0:
        raise LabSkip("the NAT lab needs root (CAP_NET_ADMIN, CAP_SYS_ADMIN) to create network "
                      "namespaces; run as root (CI does)")
    from shutil import which
    missing = [t for t in ("ip", "iptables", "conntrack", "curl") if not which(t)]
    if missing:
        raise LabSkip(f"missing tools: {' '.join(missing)} (bash scripts/install-deps.sh)")
    probe = f"{PREFIX}{os.getpid()}-0-probe"
    cp = run(["ip", "netns", "add", probe], check=False)
    if cp.returncode != 0:
        raise LabSkip(f"'ip netns add' failed: {cp.stderr.strip()}")
    try:
        nat = run(["ip", "netns", "exec", probe, "iptables", "-t", "nat", "-A", "POSTROUTING",
                   "-o", "lo", "-j", "MASQUERADE", "--random-fully"], check=False)
        if nat.returncode != 0:
            raise LabSkip(f"iptables NAT unavailable in a namespace: {nat.stderr.strip()}")
    finally:
        run(["ip", "netns", "del", probe], check=False)


class Topology:
    """The lab network for one (home NAT, phone NAT) pairing. Use as a context
    manager, or call up() then down() in a finally: down() is idempotent and
    removes every namespace, and with them every link, rule and process."""

    def __init__(self, home_nat="cone", phone_nat="cone", extra_relays=None):
        """extra_relays: {role: ip on 203.0.113.0/24}, more public hosts on the
        switch beside "relay" (e.g. the relays of other networks)."""
        for k in (home_nat, phone_nat):
            if k not in NAT_KINDS:
                raise ValueError(f"NAT kind {k!r} not in {NAT_KINDS}")
        self.kinds = {"a": home_nat, "b": phone_nat}
        self.extra_relays = dict(extra_relays or {})
        for role, ip in self.extra_relays.items():
            if role in ("relay", "outside", "wan") or not ip.startswith("203.0.113.") or \
                    ip in (RELAY_IP, OUTSIDE_IP) or ip in [v[3] for v in SIDES.values()]:
                raise ValueError(f"extra relay {role}={ip}: needs a free 203.0.113.x address")
        self.tag = f"{PREFIX}{os.getpid()}-{next(_counter)}"
        self.ns = {}  # role -> namespace name
        self.ip = {"relay": RELAY_IP, "outside": OUTSIDE_IP}
        self.public_ip = {}  # host role -> the address the public segment sees
        self.procs = []

    # -- lifecycle ---------------------------------------------------------

    def __enter__(self):
        self.up()
        return self

    def __exit__(self, *exc):
        self.down()
        return False

    def up(self):
        try:
            self._build()
        except BaseException:
            self.down()
            raise
        log(f"topology {self.tag}: home={self.kinds['a']} phone={self.kinds['b']} up")
        return self

    def down(self):
        for p in reversed(self.procs):
            _terminate(p)
        self.procs.clear()
        for ns in dict.fromkeys(self.ns.values()):  # "outside" shares "wan"
            _delete_ns(ns)
        self.ns.clear()

    # -- running things inside -------------------------------------------

    def exec_argv(self, role, argv):
        return ["ip", "netns", "exec", self.ns[role], *argv]

    def run(self, role, argv, check=True, timeout=15, input=None):
        return run(self.exec_argv(role, argv), check=check, timeout=timeout, input=input)

    def spawn(self, role, argv, stdout=None, stderr=None, env=None):
        """Starts a long-running process in `role`'s namespace; down() stops it."""
        out = open(stdout, "wb") if stdout else subprocess.DEVNULL
        err = open(stderr, "wb") if stderr else subprocess.DEVNULL
        try:
            p = subprocess.Popen(self.exec_argv(role, argv), stdout=out, stderr=err,
                                 stdin=subprocess.DEVNULL, env=env, start_new_session=True)
        finally:
            for f in (out, err):
                if f is not subprocess.DEVNULL:
                    f.close()
        self.procs.append(p)
        return p

    def stop(self, p, sig=signal.SIGTERM):
        _terminate(p, sig)
        if p in self.procs:
            self.procs.remove(p)

    def iptables(self, role, *args, table="filter", check=True):
        return self.run(role, ["iptables", "-w", "5", "-t", table, *args], check=check)

    def conntrack(self, role, *args, check=False):
        return self.run(role, ["conntrack", *args], check=check)

    def router(self, side):
        """The namespace whose WAN address the public segment sees for a side."""
        host, nat, cgn, *_ = SIDES[side]
        return cgn if self.kinds[side] == "cgnat" else nat

    # -- building ----------------------------------------------------------

    def _add_ns(self, role):
        name = f"{self.tag}-{role}"
        run(["ip", "netns", "add", name])
        self.ns[role] = name
        run(["ip", "-n", name, "link", "set", "lo", "up"])

    def _ipn(self, role, *args):
        run(["ip", "-n", self.ns[role], *args])

    def _veth(self, role_a, if_a, role_b, if_b):
        # Created inside role_a's namespace with its peer moved straight into
        # role_b's: no interface ever exists in the host namespace.
        self._ipn(role_a, "link", "add", if_a, "type", "veth", "peer", "name", if_b, "netns",
                  self.ns[role_b])
        self._ipn(role_a, "link", "set", if_a, "up")
        self._ipn(role_b, "link", "set", if_b, "up")

    def _addr(self, role, ifname, cidr):
        self._ipn(role, "addr", "add", cidr, "dev", ifname)

    def _forwarding(self, role):
        self.run(role, ["sysctl", "-qw", "net.ipv4.ip_forward=1"])

    def _wan_port(self, role, ip):
        """Plugs `role` into the public switch as eth-wan with address ip."""
        self._veth("wan", f"p-{role}", role, "wan0")
        self._ipn("wan", "link", "set", f"p-{role}", "master", "br0")
        self._addr(role, "wan0", f"{ip}/{WAN_PREFIXLEN}")

    def _nat_firewall(self, role, lan_if, random_fully):
        rules = "\n".join([
            "*nat",
            "-A POSTROUTING -o wan0 -j MASQUERADE" + (" --random-fully" if random_fully else ""),
            "COMMIT",
            "*filter",
            ":FORWARD DROP [0:0]",
            "-A FORWARD -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT",
            f"-A FORWARD -i {lan_if} -o wan0 -j ACCEPT",
            "-A INPUT -i wan0 -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT",
            "-A INPUT -i wan0 -j DROP",
            "COMMIT",
            ""])
        self.run(role, ["iptables-restore", "-w", "5"], input=rules)

    def _build(self):
        self._add_ns("wan")
        self._ipn("wan", "link", "add", "br0", "type", "bridge")
        self._ipn("wan", "link", "set", "br0", "up")
        self._addr("wan", "br0", f"{OUTSIDE_IP}/{WAN_PREFIXLEN}")
        self.ns["outside"] = self.ns["wan"]

        self._add_ns("relay")
        self._wan_port("relay", RELAY_IP)
        # Byte counters for the relay's port, read by relay_bytes().
        for proto in ("tcp", "udp"):  # TCP and QUIC
            self.iptables("relay", "-A", "INPUT", "-p", proto, "--dport", str(RELAY_PORT))
            self.iptables("relay", "-A", "OUTPUT", "-p", proto, "--sport", str(RELAY_PORT))

        for role, ip in self.extra_relays.items():
            self._add_ns(role)
            self._wan_port(role, ip)
            self.ip[role] = ip

        public_lans = []
        for side, (host, nat, cgn, wan_ip, priv, pub, cgn_net) in SIDES.items():
            kind = self.kinds[side]
            lan = pub if kind == "none" else priv
            self._add_ns(host)
            self._add_ns(nat)
            self._veth(nat, "lan0", host, "eth0")
            self._addr(nat, "lan0", f"{lan}.1/24")
            self._addr(host, "eth0", f"{lan}.10/24")
            self._ipn(host, "route", "add", "default", "via", f"{lan}.1")
            self._forwarding(nat)
            self.ip[host] = f"{lan}.10"
            if kind == "cgnat":
                self._add_ns(cgn)
                self._veth(nat, "wan0", cgn, "in0")
                self._addr(nat, "wan0", f"{cgn_net}.2/24")
                self._addr(cgn, "in0", f"{cgn_net}.1/24")
                self._ipn(nat, "route", "add", "default", "via", f"{cgn_net}.1")
                self._wan_port(cgn, wan_ip)
                self._forwarding(cgn)
                self._nat_firewall(nat, "lan0", random_fully=False)
                self._nat_firewall(cgn, "in0", random_fully=False)
            else:
                self._wan_port(nat, wan_ip)
                if kind == "none":
                    public_lans.append((f"{lan}.0/24", wan_ip))
                else:
                    self._nat_firewall(nat, "lan0", random_fully=(kind == "symmetric"))
            self.public_ip[host] = self.ip[host] if kind == "none" else wan_ip
        # Public LANs (kind none) are routed by every host on the public segment.
        wan_hosts = ["wan", "relay", *self.extra_relays] + [self.router(s) for s in SIDES]
        for net, via in public_lans:
            for role in wan_hosts:
                if self.ip.get(role) != via and not self._owns(role, via):
                    self._ipn(role, "route", "add", net, "via", via)

    def _owns(self, role, ip):
        cp = run(["ip", "-n", self.ns[role], "-o", "addr", "show"], check=False)
        return f" {ip}/" in cp.stdout

    # -- observations --------------------------------------------------------

    def relay_bytes(self):
        """Bytes the relay's port (TCP and UDP) has received plus sent, from iptables
        counters."""
        total = 0
        for chain in ("INPUT", "OUTPUT"):
            cp = self.iptables("relay", "-nvxL", chain)
            for line in cp.stdout.splitlines():
                cols = line.split()
                if len(cols) > 2 and cols[0].isdigit() and f"{RELAY_PORT}" in line:
                    total += int(cols[1])
        return total

    def conntrack_dump(self):
        out = []
        for role in sorted(self.ns):
            if role.startswith(("nat", "cgn")):
                cp = self.conntrack(role, "-L")
                out.append(f"--- conntrack -L in {role}\n{cp.stdout}{cp.stderr}")
        return "\n".join(out)


def _terminate(p, sig=signal.SIGTERM, grace=3.0):
    if p.poll() is not None:
        return
    try:
        os.killpg(p.pid, sig)
    except ProcessLookupError:
        return
    try:
        p.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        try:
            os.killpg(p.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        p.wait(timeout=5)


def install_exit_handlers(budget_s):
    """Turns SIGTERM/SIGINT/SIGHUP into exceptions and arms an overall deadline,
    so that `finally:` teardown runs on every exit path we can catch. (SIGKILL
    cannot be caught: cleanup_stale() at the next run handles that.)"""

    def on_signal(signum, _frame):
        raise SystemExit(f"lab: got signal {signum}, tearing down")

    def on_alarm(_signum, _frame):
        raise LabTimeout(f"lab: over its {budget_s} s budget, tearing down")

    for s in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(s, on_signal)
    signal.signal(signal.SIGALRM, on_alarm)
    signal.alarm(int(budget_s))


if __name__ == "__main__":
    # python3 labnet.py cleanup: remove stale lab namespaces by hand.
    if sys.argv[1:] == ["cleanup"]:
        cleanup_stale()
    else:
        print(__doc__)
