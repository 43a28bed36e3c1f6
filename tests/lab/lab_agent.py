"""Tiny TCP tools the lab runs inside namespaces (python3 stdlib only).

  listen PORT LOG    accept forever; for each connection append "ip:port" of the
                     peer to LOG, answer "seen ip:port\\n", keep it open until the
                     peer closes (so NAT mappings stay live while probed)
  connect HOST PORT [--bind-port P] [--timeout S] [--hold S]
                     connect (optionally from local port P with SO_REUSEPORT, as
                     a hole-punching node does), print the answer line, keep the
                     connection open for --hold seconds; exit 0 when connected,
                     1 when not (refused, dropped, timed out)
  punch HOST PORT --bind-port P [--for S]
                     TCP simultaneous open, as a hole punch does it: connect from
                     local port P to HOST:PORT again and again (0.5 s each) for
                     up to S seconds; on success swap one line with the peer,
                     print "connected: <its line>" and exit 0; else exit 1
"""

import argparse
import socket
import sys
import threading
import time


def serve(port, log_path):
    srv = socket.socket()
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    srv.bind(("0.0.0.0", port))
    srv.listen(64)
    print(f"listening {port}", flush=True)

    def handle(conn, peer):
        with conn:
            conn.settimeout(60)
            try:
                conn.sendall(f"seen {peer[0]}:{peer[1]}\n".encode())
                while conn.recv(4096):
                    pass
            except OSError:
                pass

    while True:
        conn, peer = srv.accept()
        with open(log_path, "a") as f:
            f.write(f"{peer[0]}:{peer[1]}\n")
        threading.Thread(target=handle, args=(conn, peer), daemon=True).start()


def connect(host, port, bind_port, timeout, hold):
    s = socket.socket()
    s.settimeout(timeout)
    if bind_port:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        s.bind(("0.0.0.0", bind_port))
    try:
        s.connect((host, port))
        line = s.makefile().readline().strip()
    except OSError as e:
        print(f"no connection: {e}", flush=True)
        return 1
    print(line or "connected", flush=True)
    time.sleep(hold)
    s.close()
    return 0


def punch(host, port, bind_port, seconds):
    deadline = time.monotonic() + seconds
    last = "no attempt"
    while time.monotonic() < deadline:
        s = socket.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        s.settimeout(0.5)
        try:
            s.bind(("0.0.0.0", bind_port))
            s.connect((host, port))
            s.settimeout(3)
            s.sendall(f"hello from {s.getsockname()[0]}:{bind_port}\n".encode())
            line = s.makefile().readline().strip()
            print(f"connected: {line}", flush=True)
            s.close()
            return 0
        except OSError as e:
            last = str(e)
            s.close()
            time.sleep(0.05)
    print(f"no connection: {last}", flush=True)
    return 1


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    li = sub.add_parser("listen")
    li.add_argument("port", type=int)
    li.add_argument("log")
    co = sub.add_parser("connect")
    co.add_argument("host")
    co.add_argument("port", type=int)
    co.add_argument("--bind-port", type=int, default=0)
    co.add_argument("--timeout", type=float, default=2.0)
    co.add_argument("--hold", type=float, default=0.0)
    pu = sub.add_parser("punch")
    pu.add_argument("host")
    pu.add_argument("port", type=int)
    pu.add_argument("--bind-port", type=int, required=True)
    pu.add_argument("--for", dest="seconds", type=float, default=5.0)
    a = ap.parse_args()
    if a.cmd == "punch":
        return punch(a.host, a.port, a.bind_port, a.seconds)
    if a.cmd == "listen":
        serve(a.port, a.log)
        return 0
    return connect(a.host, a.port, a.bind_port, a.timeout, a.hold)


if __name__ == "__main__":
    sys.exit(main())
