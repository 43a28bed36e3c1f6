"""Real peerup processes on loopback for the operations tests (tests/ops).

A Home is `peerup init` output with its config rewritten (listen on
127.0.0.1, services, names); start() runs `peerup daemon` and waits for its
"ready" line. Every process is killed and every folder removed by the
scenario's cleanup, on every exit path.
"""
import json
import os
import re
import signal
import socket
import subprocess
import threading
import time

import http.client


class OpsError(Exception):
    pass


def wait_for(pred, timeout, what, interval=0.05):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        v = pred()
        if v:
            return v
        time.sleep(interval)
    raise OpsError(f"timed out after {timeout} s waiting for {what}")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Proc:
    """A child process whose stdout and stderr are collected by threads."""

    def __init__(self, argv, env=None, cwd=None, preexec_fn=None):
        self.argv = argv
        self.p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True, env=env, cwd=cwd,
                                  preexec_fn=preexec_fn)
        self.out, self.err = [], []
        self._threads = [threading.Thread(target=self._pump, args=(self.p.stdout, self.out),
                                          daemon=True),
                         threading.Thread(target=self._pump, args=(self.p.stderr, self.err),
                                          daemon=True)]
        for t in self._threads:
            t.start()

    @staticmethod
    def _pump(f, lines):
        for line in f:
            lines.append(line.rstrip("\n"))

    def wait_line(self, pattern, timeout=20):
        rx = re.compile(pattern)

        def find():
            for line in list(self.out):
                m = rx.search(line)
                if m:
                    return m
            if self.p.poll() is not None:
                raise OpsError(f"{self.argv[:4]} exited with {self.p.returncode} before "
                               f"/{pattern}/; stderr:\n" + "\n".join(self.err[-30:]))
            return None
        return wait_for(find, timeout, f"/{pattern}/ from {self.argv[:4]}")

    def signal(self, sig):
        if self.p.poll() is None:
            self.p.send_signal(sig)

    def stop(self, timeout=10):
        if self.p.poll() is None:
            self.p.send_signal(signal.SIGTERM)
            try:
                self.p.wait(timeout)
            except subprocess.TimeoutExpired:
                self.p.kill()
                self.p.wait(5)
        for t in self._threads:
            t.join(2)
        return self.p.returncode

    def logs(self):
        return "\n".join(self.err)


class Home:
    def __init__(self, peerup, folder):
        self.peerup = peerup
        self.dir = folder
        r = subprocess.run([peerup, "init", "--dir", folder], capture_output=True, text=True,
                           timeout=30)
        if r.returncode != 0:
            raise OpsError(f"peerup init failed: {r.stderr}")
        self.id = r.stdout.split()[0]
        self.config = os.path.join(folder, "config.yaml")
        self.proc = None

    def write_config(self, listen=("/ip4/127.0.0.1/tcp/0",), relays=(), services=None,
                     names=None, extra=""):
        lines = ["identity_key: identity.key", "listen:"]
        lines += [f"  - {a}" for a in listen] or []
        if not listen:
            lines[-1] = "listen: []"
        lines.append("relays:" if relays else "relays: []")
        lines += [f"  - {r}" for r in relays]
        lines.append("authorized_keys: authorized_keys")
        if services:
            lines.append("services:")
            for name, addr in services.items():
                lines += [f"  {name}:", f"    local_address: {addr}"]
        else:
            lines.append("services: {}")
        if names:
            lines.append("names:")
            lines += [f"  {n}: {p}" for n, p in names.items()]
        else:
            lines.append("names: {}")
        text = "\n".join(lines) + "\n" + extra
        with open(self.config, "w") as f:
            f.write(text)
        os.chmod(self.config, 0o600)

    def cli(self, *args, timeout=30, check=True, user=None):
        argv = [self.peerup, "--config", self.config, *args]
        r = subprocess.run(argv, capture_output=True, text=True, timeout=timeout,
                           preexec_fn=user)
        if check and r.returncode != 0:
            raise OpsError(f"`peerup {' '.join(args)}` failed ({r.returncode}): {r.stderr}")
        return r

    def start(self, env=None, preexec_fn=None):
        e = dict(os.environ)
        e.update(env or {})
        self.proc = Proc([self.peerup, "--config", self.config, "daemon"], env=e,
                         preexec_fn=preexec_fn)
        self.proc.wait_line(r"^ready$")
        self.addrs = [line.split()[1] for line in self.proc.out if line.startswith("listen ")]
        return self

    def stop(self):
        return self.proc.stop() if self.proc else None


class UnixHTTPConnection(http.client.HTTPConnection):
    """HTTP/1.1 over a Unix socket (the daemon's control socket)."""

    def __init__(self, path, timeout=10):
        super().__init__("localhost", timeout=timeout)
        self.path = path

    def connect(self):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(self.timeout)
        s.connect(self.path)
        self.sock = s


def http_call(conn, method, target, body=None, headers=None):
    """Returns (status, headers, parsed JSON or text)."""
    h = {"Host": "localhost"}
    h.update(headers or {})
    data = None
    if body is not None:
        data = body if isinstance(body, (bytes, str)) else json.dumps(body)
        if isinstance(data, str):
            data = data.encode()
        h.setdefault("Content-Type", "application/json")
    try:
        conn.request(method, target, body=data, headers=h)
    except (BrokenPipeError, ConnectionResetError):
        # The server answered (e.g. 413) and closed before it read the whole
        # body; its answer is still in the socket.
        pass
    r = conn.getresponse()
    raw = r.read()
    ctype = r.getheader("Content-Type", "")
    payload = json.loads(raw) if "json" in ctype and raw else raw.decode(errors="replace")
    return r.status, dict(r.getheaders()), payload
