"""A WAN link with a fixed round-trip time between two network namespaces.

This kernel has no netem qdisc, so the delay is a userspace packet delay line:
one TUN device in each namespace, and a thread here that reads every IP packet
from one and writes it to the other `rtt/2` later. It works on packets, not on
byte streams, so TCP on both ends sees a real RTT: slow start, its window
autotuning and every application-level window (Yamux, ssh channels) behave as
they would across the internet. There is no loss and no bandwidth cap: the
link only adds latency.

  laptop namespace  10.250.0.1 --[tun, rtt/2 each way]-- 10.250.0.2  home namespace

The addresses exist only inside the two namespaces this module creates
(pubench-<pid>-home, pubench-<pid>-laptop) and deletes on exit; nothing on
the host is touched. Needs root.
"""

import collections
import fcntl
import os
import select
import struct
import subprocess
import threading
import time

LAPTOP_IP = "10.250.0.1"
HOME_IP = "10.250.0.2"
# A large MTU keeps the packet rate (and this Python loop) far below what the
# forwarders under test can push; TCP still segments, acks and autotunes.
MTU = 65000

_TUNSETIFF = 0x400454CA
_IFF_TUN = 0x0001
_IFF_NO_PI = 0x1000
_MAX_QUEUED = 1 << 16  # packets queued per direction at most; TCP windows keep it far lower


def _ip(*args):
    subprocess.run(["ip", *args], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=15)


def _open_tun(name):
    fd = os.open("/dev/net/tun", os.O_RDWR | os.O_NONBLOCK)
    fcntl.ioctl(fd, _TUNSETIFF, struct.pack("16sH22x", name.encode(), _IFF_TUN | _IFF_NO_PI))
    return fd


class WanLink:
    """Context manager: two namespaces joined by a delay line of `rtt_ms`."""

    def __init__(self, rtt_ms):
        if os.geteuid() != 0:
            raise RuntimeError("a WAN link needs root (network namespaces and TUN devices)")
        tag = f"pubench-{os.getpid()}"
        self.ns = {"home": f"{tag}-home", "laptop": f"{tag}-laptop"}
        self.one_way = rtt_ms / 2000.0
        self.fds = {}
        self.stopping = threading.Event()
        self.thread = None
        self.forwarded = 0

    def prefix(self, role):
        """argv prefix that runs a command in `role`'s namespace."""
        return ["ip", "netns", "exec", self.ns[role]]

    def __enter__(self):
        try:
            for role, (ip, peer) in (("home", (HOME_IP, LAPTOP_IP)), ("laptop", (LAPTOP_IP, HOME_IP))):
                ns = self.ns[role]
                _ip("netns", "add", ns)
                _ip("-n", ns, "link", "set", "lo", "up")
                dev = f"pbw{os.getpid() % 100000}{role[0]}"
                self.fds[role] = _open_tun(dev)
                _ip("link", "set", "dev", dev, "netns", ns)
                _ip("-n", ns, "addr", "add", ip, "peer", peer, "dev", dev)
                _ip("-n", ns, "link", "set", "dev", dev, "mtu", str(MTU), "up")
            self.thread = threading.Thread(target=self._run, daemon=True)
            self.thread.start()
            return self
        except BaseException:
            self.__exit__(None, None, None)
            raise

    def __exit__(self, *exc):
        self.stopping.set()
        if self.thread:
            self.thread.join(2)
        for ns in self.ns.values():
            pids = subprocess.run(["ip", "netns", "pids", ns], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                  text=True, timeout=15).stdout.split()
            for pid in pids:
                try:
                    os.kill(int(pid), 9)
                except (OSError, ValueError):
                    pass
            subprocess.run(["ip", "netns", "del", ns], stderr=subprocess.DEVNULL, timeout=15)
        for fd in self.fds.values():
            os.close(fd)
        self.fds.clear()

    def _run(self):
        """The delay line. Fixed delay means each queue stays in arrival order."""
        home, laptop = self.fds["home"], self.fds["laptop"]
        other = {home: laptop, laptop: home}
        queue = collections.deque()  # (due, destination fd, packet)
        while not self.stopping.is_set():
            now = time.monotonic()
            while queue and queue[0][0] <= now:
                _, dst, packet = queue.popleft()
                try:
                    os.write(dst, packet)
                    self.forwarded += 1
                except OSError:
                    pass  # a full device queue drops the packet, as a router would
            timeout = min(0.1, queue[0][0] - now) if queue else 0.1
            readable, _, _ = select.select([home, laptop], [], [], max(0.0, timeout))
            due = time.monotonic() + self.one_way
            for fd in readable:
                for _ in range(256):  # bounded: let the writer side run between bursts
                    try:
                        packet = os.read(fd, MTU + 64)
                    except BlockingIOError:
                        break
                    except OSError:
                        return
                    if len(queue) < _MAX_QUEUED:
                        queue.append((due, other[fd], packet))
