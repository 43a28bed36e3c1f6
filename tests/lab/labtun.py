"""Network mode (TUN, issue 14) in the NAT lab: home and phone each run
`peerup daemon --tun`; real ping, iperf3 and nc go to the 10.64 addresses.

home allows [icmp, tcp/22, tcp/5201, udp/5201] (a real OpenSSH sshd, iperf3); phone keeps the default
[icmp]. A stranger on the public segment (in the relay's namespace) has home
in its own config but is not in home's authorized_keys."""

import hashlib
import json
import os
import secrets
import re
import shutil
import signal
import subprocess
import time

import labnet
import labpeer
from labnet import LabError, log, wait_for
from labpeer import Node, _read

HOME_ALLOW = "[icmp, tcp/22, tcp/5201, udp/5201]"
IPERF_PORT = 5201


def _tun_section(allow=None):
    lines = ["network:", "  tun: true"]
    if allow:
        lines.append(f"  allow: {allow}")
    return "\n".join(lines) + "\n"


class TunLab:
    def __init__(self, peerup, topo, work, quic=False):
        """quic: home, phone and the relay also listen on QUIC and reach the
        relay over it, so the hole punch yields a direct QUIC path (packets as
        QUIC datagrams)."""
        self.lab = labpeer.PeerupLab(peerup, topo, work, quic=quic)
        self.t, self.peerup, self.work = topo, peerup, work
        self.procs = {}

    def p(self, name):
        return os.path.join(self.work, name)

    def start(self):
        lab = self.lab
        lab.start_relay()
        self.home = Node(self.peerup, self.p("home"))
        self.phone = Node(self.peerup, self.p("phone"))
        for n, comment in ((self.home, "home"), (self.phone, "phone")):
            labnet.run([self.peerup, "relay", "authorize", n.id, "--comment", comment, "--dir",
                        self.p("relay")])
        listen = lab.listen_addrs(labnet.HOME_PORT)
        self.home.write_config(listen, [lab.relay_addr], names={"phone": self.phone.id})
        self.phone.write_config(listen, [lab.relay_addr], names={"home": self.home.id})
        with open(self.home.config, "a") as f:
            f.write(_tun_section(HOME_ALLOW))
        with open(self.phone.config, "a") as f:
            f.write(_tun_section())
        labnet.run(self.home.cmd("auth", "add", self.phone.id, "--comment", "phone"))
        labnet.run(self.phone.cmd("auth", "add", self.home.id, "--comment", "home"))
        self.home_addr = self.start_daemon("home", self.home)
        self.phone_addr = self.start_daemon("phone", self.phone)
        for role in ("home", "phone"):
            wait_for(lambda: "reserved on relay" in _read(self.p(f"{role}.log")), 20,
                     f"{role} to reserve a slot on the relay")
        log(f"home is {self.home_addr}, phone is {self.phone_addr}")
        return self

    def start_daemon(self, role, node, ns=None):
        log_path = self.p(f"{role}.log")
        if os.path.exists(log_path):
            os.rename(log_path, log_path + f".{int(time.monotonic() * 1000)}")
        self.procs[role] = self.t.spawn(ns or role, node.cmd("daemon", "--tun", *(["--log-level", "debug"] if os.environ.get("LAB_TUN_DEBUG") else [])),
                                        stdout=self.p(f"{role}.out"), stderr=log_path)

        def addr():
            if self.procs[role].poll() is not None:
                raise LabError(f"{role} daemon exited with {self.procs[role].returncode}: "
                               f"{_read(log_path)[-2000:]}")
            m = re.search(r"network mode: peerup0 is (10\.64\.\d+\.\d+)/16", _read(log_path))
            return m.group(1) if m else None

        return wait_for(addr, 15, f"{role}'s TUN interface")

    def stop_daemon(self, role, sig=signal.SIGTERM):
        self.t.stop(self.procs[role], sig)

    def counters(self, role):
        """The counters (datagram_out=, stream_in=, drops by reason) of the last
        "network mode: peerup0 removed" line."""
        lines = [l for l in _read(self.p(f"{role}.log")).splitlines() if "peerup0 removed" in l]
        if not lines:
            return {}
        return {k: int(v) for k, v in re.findall(r"(\w+)=(\d+)", lines[-1])}

    def network_status(self, role, node):
        """The "network" section of `peerup status --json`, asked of role's
        live daemon over its control socket."""
        cp = self.t.run(role, node.cmd("status", "--json"), check=False, timeout=15)
        if cp.returncode != 0:
            raise LabError(f"peerup status --json on {role} failed: {cp.stderr[-500:]}")
        return json.loads(cp.stdout).get("network")

    # -- tools ----------------------------------------------------------------

    def ssh_roundtrip(self, server_role, client_role, addr, size=1 << 20, timeout=30):
        """Starts OpenSSH's sshd in server_role's namespace on addr:22 (its own
        host key and authorized key, no PAM, no passwords), then pipes `size`
        bytes through `ssh root@addr sha256sum` from client_role. Returns
        (ok, detail)."""
        d = self.p("sshd")
        os.makedirs(d, exist_ok=True)
        for k in ("host_key", "user_key"):
            if not os.path.exists(os.path.join(d, k)):
                labnet.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", k, "-f",
                            os.path.join(d, k)])
        with open(os.path.join(d, "user_key.pub")) as f, \
                open(os.path.join(d, "authorized_keys"), "w") as out:
            out.write(f.read())
        os.makedirs("/run/sshd", exist_ok=True)  # sshd's privilege separation directory
        conf = os.path.join(d, "sshd_config")
        with open(conf, "w") as f:
            f.write(f"Port 22\nListenAddress {addr}\nHostKey {d}/host_key\nPidFile {d}/sshd.pid\n"
                    f"AuthorizedKeysFile {d}/authorized_keys\nPermitRootLogin prohibit-password\n"
                    "PasswordAuthentication no\nKbdInteractiveAuthentication no\nUsePAM no\n")
        os.chmod(conf, 0o600)
        srv = self.t.spawn(server_role, ["/usr/sbin/sshd", "-D", "-e", "-f", conf, "-o",
                                         "StrictModes=no"], stderr=self.p("sshd.log"))
        try:
            wait_for(lambda: self.t.run(server_role, ["ss", "-Htln", "src", f"{addr}:22"],
                                        check=False).stdout.strip(), 10, "sshd to listen")
            data = secrets.token_hex(size // 2)
            want = hashlib.sha256(data.encode()).hexdigest()
            cp = self.t.run(client_role, [
                "ssh", "-F", "/dev/null", "-o", "BatchMode=yes", "-o", "IdentitiesOnly=yes",
                "-i", f"{d}/user_key", "-o", "StrictHostKeyChecking=no", "-o",
                "UserKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR", "-o", "ConnectTimeout=10",
                f"root@{addr}", "sha256sum"], check=False, timeout=timeout, input=data)
            got = cp.stdout.split()[0] if cp.stdout.split() else ""
            if cp.returncode != 0 or got != want:
                return False, (f"ssh exit {cp.returncode}, sha256 {got!r} != {want!r}: "
                               f"{cp.stderr[-800:]}\nsshd: {_read(self.p('sshd.log'))[-800:]}")
            return True, f"{size} B through ssh, sha256 matches"
        finally:
            self.t.stop(srv)

    def addr6(self, role):
        """role's IPv6 address on peerup0, from its log."""
        m = re.search(r"network mode: peerup0 has IPv6 ([0-9a-f:]+)/\d+", _read(self.p(f"{role}.log")))
        return m.group(1) if m else None

    def ping(self, role, addr, count=5, deadline=20, source=None):
        argv = ["ping", "-n", "-c", str(count), "-i", "0.2", "-w", str(deadline), addr]
        if ":" in addr:
            argv.insert(1, "-6")
        if source:
            argv[1:1] = ["-I", source]
        cp = self.t.run(role, argv, check=False, timeout=deadline + 5)
        m = re.search(r"(\d+) received", cp.stdout)
        rtt = re.search(r"= [\d.]+/([\d.]+)/", cp.stdout)
        return (int(m.group(1)) if m else 0), (float(rtt.group(1)) if rtt else None), cp.stdout

    def iperf(self, server_role, client_role, addr, udp=False, seconds=3, timeout=30, rate=None):
        srv = self.t.spawn(server_role, ["iperf3", "-s", "-1", "-B", addr, "-p", str(IPERF_PORT)],
                           stdout=self.p("iperf-server.txt"))
        time.sleep(0.5)
        argv = ["iperf3", "-c", addr, "-p", str(IPERF_PORT), "-t", str(seconds), "-J"]
        if udp:
            argv += ["-u", "-b", rate or "20M", "-l", "1000"]
        elif rate:
            argv += ["-b", rate]
        cp = self.t.run(client_role, argv, check=False, timeout=timeout)
        self.t.stop(srv)
        if cp.returncode != 0:
            return None, cp.stdout[-1500:] + cp.stderr[-500:]
        return json.loads(cp.stdout), ""


    def udp_gso_burst(self, server_role, client_role, addr, segment=1000, count=20):
        """One UDP_SEGMENT send of `count` x `segment` bytes from client_role
        to addr:IPERF_PORT (a QUIC stack's kind of send): with USO on the
        interface the kernel hands the daemon one UDP super-segment. Returns
        (datagrams received, their sizes) as server_role's socket saw them."""
        out = self.p(f"uso-{server_role}.out")
        recv = ("import socket,time\n"
                "s=socket.socket(socket.AF_INET,socket.SOCK_DGRAM)\n"
                f"s.bind(('{addr}',{IPERF_PORT}));s.settimeout(0.5)\n"
                "n=0;sizes=set();end=time.time()+6\n"
                "print('ready',flush=True)\n"
                "while time.time()<end:\n"
                "  try:d=s.recv(65535)\n"
                "  except socket.timeout:\n"
                "    if n:break\n"
                "    continue\n"
                "  n+=1;sizes.add(len(d))\n"
                "print(n,*sorted(sizes),flush=True)\n")
        p = self.t.spawn(server_role, ["python3", "-c", recv], stdout=out)
        wait_for(lambda: "ready" in _read(out), 5, "the UDP receiver")
        send = ("import socket\n"
                "s=socket.socket(socket.AF_INET,socket.SOCK_DGRAM)\n"
                f"s.setsockopt(socket.SOL_UDP,103,{segment})\n"  # UDP_SEGMENT
                f"s.sendto(bytes(range(256))*({segment * count}//256)+bytes({segment * count}%256),"
                f"('{addr}',{IPERF_PORT}))\n")
        self.t.run(client_role, ["python3", "-c", send], timeout=10)
        try:
            p.wait(timeout=10)
        except Exception:
            self.t.stop(p)
        words = _read(out).split()[1:]
        return (int(words[0]), [int(w) for w in words[1:]]) if words else (0, [])


# -- systemd-resolved without systemd (issue 14: the .p2p zone on peerup0) -----

RESOLVED_DIRS = ("/opt/peerup-lab/systemd-resolved", "/")


def find_resolved():
    """(systemd-resolved, resolvectl) from $PEERUP_RESOLVED_ROOT, the tree
    scripts/install-deps.sh unpacks (/opt/peerup-lab/systemd-resolved: the
    Debian package's files, not installed, so the host's /etc/resolv.conf is
    never touched) or an installed package; None when there is none."""
    roots = [os.environ["PEERUP_RESOLVED_ROOT"]] if os.environ.get("PEERUP_RESOLVED_ROOT") \
        else list(RESOLVED_DIRS)
    for root in roots:
        daemon = os.path.join(root, "lib/systemd/systemd-resolved")
        ctl = os.path.join(root, "usr/bin/resolvectl")
        if os.access(daemon, os.X_OK) and os.access(ctl, os.X_OK):
            return daemon, ctl
    return None


_BUS_CONF = """<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>system</type>
  <listen>unix:path=/run/dbus/system_bus_socket</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow user="*"/>
    <allow own="*"/>
    <allow send_destination="*"/>
    <allow receive_sender="*"/>
  </policy>
</busconfig>
"""


class ResolvedNs:
    """One network namespace plus a private mount namespace in which a D-Bus
    system bus and systemd-resolved run as they would under systemd: a tmpfs
    on /run (so /run/dbus and /run/systemd/resolve are ours alone), and
    /etc/passwd and /etc/group bind-mounted with the systemd-resolve user
    resolved drops its privileges to. Every command runs inside through
    nsenter. close() stops everything; the namespaces go with the processes."""

    def __init__(self, work, daemon, ctl):
        self.work, self.daemon, self.ctl = work, daemon, ctl
        self.ns = f"{labnet.PREFIX}{os.getpid()}-resolved"
        self.procs = []
        self.anchor = None

    def __enter__(self):
        try:
            self._up()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc):
        self.close()
        return False

    def argv(self, argv):
        return ["nsenter", "-t", str(self.anchor.pid), "-m", "-n", *argv]

    def run(self, argv, check=True, timeout=15):
        return labnet.run(self.argv(argv), check=check, timeout=timeout)

    def spawn(self, argv, name):
        """Starts argv inside, with the resolvectl under test first on PATH
        (the daemon runs `resolvectl`)."""
        out = open(os.path.join(self.work, f"{name}.log"), "wb")
        env = dict(os.environ, PATH=os.path.dirname(self.ctl) + ":" + os.environ.get("PATH", ""))
        try:
            p = subprocess.Popen(self.argv(argv), stdout=out, stderr=subprocess.STDOUT,
                                 stdin=subprocess.DEVNULL, start_new_session=True, env=env)
        finally:
            out.close()
        self.procs.append(p)
        return p

    def log_of(self, name):
        return _read(os.path.join(self.work, f"{name}.log"))

    def _up(self):
        labnet.run(["ip", "netns", "add", self.ns])
        labnet.run(["ip", "-n", self.ns, "link", "set", "lo", "up"])
        # unshare execs sleep: the Popen's pid is the process that holds both
        # namespaces for as long as the test runs.
        self.anchor = subprocess.Popen(["ip", "netns", "exec", self.ns, "unshare", "-m",
                                        "--propagation", "private", "sleep", "600"],
                                       stdin=subprocess.DEVNULL, start_new_session=True)
        wait_for(lambda: os.readlink(f"/proc/{self.anchor.pid}/ns/mnt") !=
                 os.readlink("/proc/self/ns/mnt") and
                 os.readlink(f"/proc/{self.anchor.pid}/exe").endswith("sleep"), 5,
                 "the namespace anchor")
        passwd, group = (os.path.join(self.work, n) for n in ("passwd", "group"))
        shutil.copy("/etc/passwd", passwd)
        shutil.copy("/etc/group", group)
        if "\nsystemd-resolve:" not in "\n" + _read(passwd):
            with open(passwd, "a") as f:
                f.write("systemd-resolve:x:991:991:systemd Resolver:/:/usr/sbin/nologin\n")
            with open(group, "a") as f:
                f.write("systemd-resolve:x:991:\n")
        bus_conf = os.path.join(self.work, "bus.conf")
        with open(bus_conf, "w") as f:
            f.write(_BUS_CONF)
        self.run(["sh", "-c", "mount -t tmpfs tmpfs /run && mkdir -p /run/dbus /run/systemd && "
                  f"mount --bind {passwd} /etc/passwd && mount --bind {group} /etc/group"])
        self.spawn(["dbus-daemon", "--config-file", bus_conf, "--nofork", "--nopidfile"], "dbus")
        wait_for(lambda: self.run(["test", "-S", "/run/dbus/system_bus_socket"],
                                  check=False).returncode == 0, 10, "the D-Bus system bus")
        self.resolved = self.spawn([self.daemon], "resolved")
        wait_for(lambda: self.resolved.poll() is not None or
                 self.run(["test", "-S", "/run/systemd/resolve/io.systemd.Resolve"],
                          check=False).returncode == 0, 10, "systemd-resolved to start")
        if self.resolved.poll() is not None:
            raise labnet.LabSkip("systemd-resolved exited at start "
                                 f"({self.resolved.returncode}): {self.log_of('resolved')[-800:]}")

    def close(self):
        for p in reversed(self.procs):
            labnet._terminate(p)
        self.procs.clear()
        if self.anchor:
            labnet._terminate(self.anchor)
            self.anchor = None
        labnet._delete_ns(self.ns)
