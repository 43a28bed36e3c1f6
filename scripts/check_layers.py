#!/usr/bin/env python3
"""Fails when a source file includes a header of a layer it does not link.

Every layer's include path is src/, so the compiler alone would accept
`#include "gateway/gateway.hpp"` in src/net and fail only at link time, or not
at all for a header-only use. This check makes the layer rule of
src/CMakeLists.txt part of the build.

A layer named with a trailing "!" (`wire!=crypto`) is sans-I/O: its files may
not include asio or Beast, so protocol cores stay testable with bytes and a
clock alone (STYLE.md). Socket address types (sys/socket.h) are data, allowed.

usage: check_layers.py <src dir> <stamp file> <layer>[!]=<dep>,<dep> ...
"""
import pathlib
import re
import sys

INCLUDE = re.compile(r'^\s*#\s*include\s+"([a-z_]+)/[^"]+"', re.M)
IO_INCLUDE = re.compile(r'^\s*#\s*include\s+<(boost/asio|boost/beast)', re.M)


def main() -> int:
    src, stamp, *specs = sys.argv[1:]
    deps = {}
    sans_io = set()
    for spec in specs:
        layer, _, rest = spec.partition("=")
        if layer.endswith("!"):
            layer = layer[:-1]
            sans_io.add(layer)
        deps[layer] = [d for d in rest.split(",") if d]

    def below(layer, seen=None):
        seen = set() if seen is None else seen
        for d in deps.get(layer, []):
            if d not in seen:
                seen.add(d)
                below(d, seen)
        return seen

    problems = []
    for layer in deps:
        allowed = below(layer) | {layer}
        for path in sorted(pathlib.Path(src, layer).glob("*.[ch]pp")):
            for n, line in enumerate(path.read_text().splitlines(), 1):
                if layer in sans_io and IO_INCLUDE.match(line):
                    problems.append(f"{path}:{n}: layer '{layer}' is sans-I/O and may not "
                                    f"include I/O headers; see src/CMakeLists.txt")
                m = INCLUDE.match(line)
                if m and m.group(1) in deps and m.group(1) not in allowed:
                    problems.append(f"{path}:{n}: layer '{layer}' includes '{m.group(1)}', "
                                    f"which it does not link (it may use: "
                                    f"{', '.join(sorted(allowed))}); see src/CMakeLists.txt")
    if problems:
        print("\n".join(problems), file=sys.stderr)
        return 1
    pathlib.Path(stamp).write_text("ok\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
