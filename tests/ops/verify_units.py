#!/usr/bin/env python3
"""The systemd units in packaging/systemd pass `systemd-analyze verify` and keep
the hardening docs/operations.md promises.

1. Copy each unit into a temporary folder, with /usr/bin/peerup replaced by
   this build's binary (verify checks that ExecStart= is executable).
2. Run `systemd-analyze verify` on them: any line it prints fails the test,
   because it exits 0 on an unknown key or an unparsable value and only warns.
3. Check the policy: Type=notify with a watchdog, ProtectSystem=strict,
   NoNewPrivileges, no capability but CAP_NET_ADMIN (daemon only, for TUN),
   the relay and the others running as the `peerup` user.
4. Run each ExecStart= command line with --help appended: the binary must
   accept the subcommand and options the unit gives it.
5. Self-check: a unit with a misspelt key must make step 2 fail, so this test
   cannot pass by ignoring verify's output.

usage: verify_units.py --peerup <binary> [--units <folder>]
"""
import argparse
import pathlib
import re
import shlex
import shutil
import subprocess
import sys
import tempfile

UNITS = {
    "peerup-daemon.service": {"caps": {"CAP_NET_ADMIN"}},
    "peerup-gateway.service": {"caps": set()},
    "peerup-relay.service": {"caps": set()},
}


def parse(text):
    """[section] key=value lines into {(section, key): [values]}."""
    out, section = {}, None
    for line in text.splitlines():
        line = line.strip()
        if not line or line[0] in "#;":
            continue
        if line.startswith("["):
            section = line.strip("[]")
            continue
        key, _, value = line.partition("=")
        out.setdefault((section, key.strip()), []).append(value.strip())
    return out


def verify(folder, names):
    r = subprocess.run(["systemd-analyze", "verify", *names], cwd=folder,
                       capture_output=True, text=True, timeout=60)
    return r.returncode, (r.stdout + r.stderr).strip()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--peerup", required=True)
    ap.add_argument("--units", default=str(pathlib.Path(__file__).resolve().parents[2] /
                                           "packaging" / "systemd"))
    a = ap.parse_args()
    if not shutil.which("systemd-analyze"):
        print("SKIP: systemd-analyze not installed (Debian package systemd)")
        return 77
    src = pathlib.Path(a.units)
    peerup = str(pathlib.Path(a.peerup).resolve())
    problems = []
    with tempfile.TemporaryDirectory() as tmp:
        # 1. the units, pointed at this build's binary
        for name in UNITS:
            text = (src / name).read_text()
            (pathlib.Path(tmp) / name).write_text(text.replace("/usr/bin/peerup", peerup))
        # 2. verify, with no output allowed
        rc, out = verify(tmp, list(UNITS))
        if rc != 0 or out:
            problems.append(f"systemd-analyze verify (rc {rc}):\n{out}")
        # 5. self-check with a broken copy
        bad = (pathlib.Path(tmp) / "peerup-relay.service").read_text().replace(
            "Type=notify", "Type=notify\nWatchdogSecs=30s")
        (pathlib.Path(tmp) / "broken.service").write_text(bad)
        rc, out = verify(tmp, ["broken.service"])
        if "WatchdogSecs" not in out:
            problems.append("self-check: verify did not flag a misspelt key (WatchdogSecs); "
                            f"this test would miss real mistakes. Output: {out!r}")

    for name, want in UNITS.items():
        u = parse((src / name).read_text())
        svc = lambda k: u.get(("Service", k), [])  # noqa: E731
        for key, value in [("Type", "notify"), ("ProtectSystem", "strict"),
                           ("NoNewPrivileges", "yes"), ("User", "peerup"),
                           ("NotifyAccess", "main")]:
            if value not in svc(key):
                problems.append(f"{name}: expected {key}={value}, got {svc(key)}")
        if not svc("WatchdogSec"):
            problems.append(f"{name}: no WatchdogSec=")
        for key in ("CapabilityBoundingSet", "AmbientCapabilities"):
            vals = svc(key)
            caps = set(" ".join(vals).split())
            if not vals or caps != want["caps"]:
                problems.append(f"{name}: {key} must be exactly {sorted(want['caps']) or 'empty'}"
                                f", got {vals}")
        # 4. the command line parses
        exec_start = svc("ExecStart")
        if len(exec_start) != 1:
            problems.append(f"{name}: expected one ExecStart=, got {exec_start}")
            continue
        argv = shlex.split(exec_start[0])
        if argv[0] != "/usr/bin/peerup":
            problems.append(f"{name}: ExecStart= must run /usr/bin/peerup, got {argv[0]}")
            continue
        r = subprocess.run([peerup, *argv[1:], "--help"], capture_output=True, text=True,
                           timeout=30)
        if r.returncode != 0:
            problems.append(f"{name}: `peerup {' '.join(argv[1:])} --help` failed "
                            f"(rc {r.returncode}): {r.stderr.strip()}")
        state = svc("StateDirectory")
        paths = [p for p in argv if p.startswith("/var/lib/")]
        for p in paths:
            if not state or not p.startswith("/var/lib/" + state[0] + "/"):
                problems.append(f"{name}: {p} is outside StateDirectory={state}, which "
                                "ProtectSystem=strict leaves read-only")

    if problems:
        print("\n".join(problems), file=sys.stderr)
        return 1
    print(f"ok: {len(UNITS)} units verified")
    return 0


if __name__ == "__main__":
    sys.exit(main())
