#!/usr/bin/env python3
"""Fails when a source file includes a header of a layer it does not link, or
when a sans-I/O layer includes asio.

Every layer's include path is src/, so the compiler alone would accept
`#include "gateway/gateway.hpp"` in src/net and fail only at link time, or not
at all for a header-only use. This check makes the layer rule of
src/CMakeLists.txt part of the build.

usage: check_layers.py <src dir> <stamp file> <spec> ...
  spec: <layer>[@<folder>][!]=<dep>,<dep>
    @<folder>  the layer's folder under src/ when it is not the layer's name
               (tun_core@tun/core: the sans-I/O core inside src/tun)
    !          a sans-I/O layer: its files may not include asio or Beast
               (boost/asio*, boost/beast*, net/asio.hpp), because sans-I/O code must run without sockets
               or an event loop, in unit tests and fuzzers
"""
import pathlib
import re
import sys

INCLUDE = re.compile(r'^\s*#\s*include\s+"([a-z_/]+)/[^"/]+"', re.M)
ASIO = re.compile(r'^\s*#\s*include\s+[<"](boost/asio\b|boost/beast\b|asio\b|net/asio\.hpp)', re.M)


def main() -> int:
    src, stamp, *specs = sys.argv[1:]
    deps, folder, pure = {}, {}, set()
    for spec in specs:
        head, _, rest = spec.partition("=")
        if head.endswith("!"):
            head = head[:-1]
            pure.add(head)
        layer, _, where = head.partition("@")
        deps[layer] = [d for d in rest.split(",") if d]
        folder[layer] = where or layer
    layer_of_folder = {f: layer for layer, f in folder.items()}

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
        for path in sorted(pathlib.Path(src, folder[layer]).glob("*.[ch]pp")):
            for n, line in enumerate(path.read_text().splitlines(), 1):
                if layer in pure and ASIO.match(line):
                    problems.append(f"{path}:{n}: layer '{layer}' is sans-I/O and may not "
                                    f"include asio; move the I/O to a layer above it")
                m = INCLUDE.match(line)
                if not m:
                    continue
                target = layer_of_folder.get(m.group(1))
                if target is None and m.group(1).split("/")[0] in layer_of_folder:
                    target = layer_of_folder[m.group(1).split("/")[0]]
                if target is not None and target not in allowed:
                    problems.append(f"{path}:{n}: layer '{layer}' includes '{target}' "
                                    f"({m.group(1)}/), which it does not link (it may use: "
                                    f"{', '.join(sorted(allowed))}); see src/CMakeLists.txt")
    if problems:
        print("\n".join(problems), file=sys.stderr)
        return 1
    pathlib.Path(stamp).write_text("ok\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
