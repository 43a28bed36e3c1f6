#!/usr/bin/env python3
"""Reservation setup rate of the relay (issue 19), from relay_capacity_bench.

Runs `relay_capacity_bench --reservations N --circuits 0 --steady-seconds 0` and reports
reservations/s (wall), the relay's CPU per reservation (the bench's own CPU column) and the load
generator's: the bench process's own utime+stime (not its children's) read from /proc between its
"relay pid" line and its "N reservations set up" row. Both processes are single-threaded, so the
rate is bounded by 1 / relay CPU, 1 / generator CPU and, on a 2-core machine, 2 / their sum.

usage: relay_setup_rate.py BENCH PEERUP N [LABEL]
  e.g. bench/relay_setup_rate.py build/bench/relay_capacity_bench build/src/cli/peerup 10000 main
"""
import os
import subprocess
import sys


def own_cpu_seconds(pid):
    with open(f'/proc/{pid}/stat') as f:
        text = f.read()
    fields = text[text.rfind(')') + 2:].split()  # state is field 3; utime 14, stime 15
    return (int(fields[11]) + int(fields[12])) / os.sysconf('SC_CLK_TCK')


def main():
    if len(sys.argv) < 4:
        sys.exit(__doc__)
    bench, peerup, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
    label = sys.argv[4] if len(sys.argv) > 4 else ''
    # stdbuf: the bench's printf lines must arrive as they are written.
    p = subprocess.Popen(['stdbuf', '-oL', bench, '--reservations', str(n), '--circuits', '0',
                          '--steady-seconds', '0', '--concurrency', '200', '--peerup', peerup,
                          # only the reservation phase is measured: no refresh, no wait for
                          # the relay's memory after everyone left (40 s by default)
                          '--refresh-sample', '0', '--settle-seconds', '0',
                          '--dir', f'/tmp/relay-setup-rate-{os.getpid()}'],
                         stdout=subprocess.PIPE, text=True)
    start = end = relay_cpu = wall = None
    ok = 0
    for line in p.stdout:
        if line.startswith('relay pid'):
            start = own_cpu_seconds(p.pid)
        elif 'N reservations set up' in line:
            end = own_cpu_seconds(p.pid)
            cols = [c.strip() for c in line.split('|')]
            relay_cpu, wall = float(cols[4]), float(cols[5])
        elif line.startswith('reservations:'):
            ok = int(line.split()[1])
    p.wait()
    if start is None or end is None or ok == 0 or wall <= 0:
        sys.exit(f'relay_setup_rate: the bench did not report a reservation phase (exit {p.returncode})')
    relay_ms = relay_cpu * 1000 / ok
    gen_ms = (end - start) * 1000 / ok
    print(f'{label} N={n} ok={ok} wall={wall:.2f}s rate={ok / wall:.0f}/s '
          f'relay_cpu={relay_ms:.3f}ms/res generator_cpu={gen_ms:.3f}ms/res '
          f'2_cores/sum={2000 / (relay_ms + gen_ms):.0f}/s')


if __name__ == '__main__':
    main()
