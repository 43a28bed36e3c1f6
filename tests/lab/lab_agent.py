"""Tiny TCP tools the lab runs inside namespaces (python3 stdlib only).

  listen PORT LOG    accept forever; for each connection append "ip:port" of the
                     peer to LOG, answer "seen ip:port\\n", keep it open until the
                     peer closes (so NAT mappings stay live while probed)
  connect HOST PORT [--bind-port P] [--timeout S] [--hold S]
                     connect (optionally from local port P with SO_REUSEPORT, as
                     a hole-punching node does), print the answer line, keep the
                     connection open for --hold seconds; exit 0 when connected,
                     1 when not (refused, dropped, timed out)
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
    a = ap.parse_args()
    if a.cmd == "listen":
        serve(a.port, a.log)
        return 0
    return connect(a.host, a.port, a.bind_port, a.timeout, a.hold)


if __name__ == "__main__":
    sys.exit(main())
