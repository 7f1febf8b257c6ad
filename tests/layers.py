#!/usr/bin/env python3
"""The house's layer check, run by `make test` (and `make layers`).

Reads every #include "folder/file.h" under src/ and fails, one line per
finding, on:
  - an include that runs up the layers, or sideways between two folders of
    the same layer (LAYERS below is the order; README "Architecture" says
    what each layer is for);
  - a circle of modules (a module is x.c plus x.h), found as a strongly
    connected component of the include graph;
  - a source file over MAX_LINES lines;
  - with --objects DIR (the build folder), the same layer and circle rules
    on calls: an edge from x.o to y.o for every symbol x uses and y defines
    (read with nm), so a function declared low but defined high is found.

  tests/layers.py [--src DIR] [--objects DIR]
                                  exit 0 when clean, 1 with findings
  tests/layers.py --self-test     checks the checker: a copy of src/ with a
                                  wrong include and a circle must fail
"""
import os
import re
import shutil
import subprocess
import sys
import tempfile

# Lower rank first; a file may include its own folder or any lower rank.
LAYERS = [
    ("core",),
    ("net",),
    ("broker",),
    ("control", "celery"),
    ("resilience", "dlq"),
    ("worker", "console", "demo"),
    ("sim",),
    ("ui",),
    ("cli",),
    ("main",),
]
RANK = {folder: rank for rank, row in enumerate(LAYERS) for folder in row}
MAX_LINES = 700
INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.M)


def module_of(path):
    """src/worker/pool.c -> worker/pool; src/main.c -> main/main."""
    rel = os.path.splitext(path)[0]
    return rel if "/" in rel else "main/" + rel


def folder_of(module):
    return module.split("/", 1)[0]


def read_graph(src):
    edges, lines, findings = {}, {}, []
    for root, _, files in os.walk(src):
        for name in sorted(files):
            if not name.endswith((".c", ".h")):
                continue
            full = os.path.join(root, name)
            rel = os.path.relpath(full, src)
            with open(full, encoding="utf-8") as f:
                text = f.read()
            lines[rel] = text.count("\n")
            mod = module_of(rel)
            for inc in INCLUDE.findall(text):
                if not os.path.exists(os.path.join(src, inc)):
                    continue                  # a library header
                target = module_of(inc)
                if target != mod:
                    edges.setdefault(mod, {}).setdefault(target, rel)
                    edges.setdefault(target, {})
            edges.setdefault(mod, {})
    return edges, lines, findings


def layer_findings(edges):
    out = []
    for mod, targets in sorted(edges.items()):
        here = folder_of(mod)
        for target, rel in sorted(targets.items()):
            there = folder_of(target)
            if there == here or target == "main/qdeck-plugin":
                continue
            if here not in RANK or there not in RANK:
                unknown = here if here not in RANK else there
                out.append(f"src/{rel}: folder '{unknown}' has no layer in tests/layers.py")
            elif RANK[there] >= RANK[here]:
                way = "sideways" if RANK[there] == RANK[here] else "up"
                out.append(f"src/{rel}: includes {target}.h, {way} from {here} to {there}")
    return out


def circles(edges):
    """Tarjan's strongly connected components, iteratively; returns the
    components of more than one module."""
    index, low, on_stack, stack, found = {}, {}, set(), [], []
    counter = [0]
    for start in sorted(edges):
        if start in index:
            continue
        work = [(start, iter(sorted(edges[start])))]
        index[start] = low[start] = counter[0]; counter[0] += 1
        stack.append(start); on_stack.add(start)
        while work:
            node, it = work[-1]
            advanced = False
            for nxt in it:
                if nxt not in index:
                    index[nxt] = low[nxt] = counter[0]; counter[0] += 1
                    stack.append(nxt); on_stack.add(nxt)
                    work.append((nxt, iter(sorted(edges[nxt]))))
                    advanced = True
                    break
                if nxt in on_stack:
                    low[node] = min(low[node], index[nxt])
            if advanced:
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                comp = []
                while True:
                    m = stack.pop(); on_stack.discard(m); comp.append(m)
                    if m == node:
                        break
                if len(comp) > 1:
                    found.append(sorted(comp))
    return found


def nm_symbols(obj, *flags):
    res = subprocess.run(["nm", "-g", "--format=posix", *flags, obj],
                         capture_output=True, text=True, check=True)
    return [line.split()[0] for line in res.stdout.splitlines() if line.strip()]


def call_graph(objects):
    """Module call edges from the objects under OBJECTS/src."""
    root = os.path.join(objects, "src")
    defined, wanted = {}, {}
    for base, _, files in os.walk(root):
        for name in sorted(files):
            if not name.endswith(".o"):
                continue
            full = os.path.join(base, name)
            mod = module_of(os.path.relpath(full, root)[:-2] + ".c")
            for sym in nm_symbols(full, "--defined-only"):
                defined[sym] = mod
            wanted[mod] = nm_symbols(full, "--undefined-only")
    edges = {mod: {} for mod in wanted}
    for mod, syms in wanted.items():
        for sym in syms:
            target = defined.get(sym)
            if target and target != mod:
                edges[mod].setdefault(target, mod + ".c (calls " + sym + ")")
    return edges


def check(src, objects=None):
    edges, lines, out = read_graph(src)
    out += layer_findings(edges)
    for comp in circles(edges):
        out.append("circle: " + " <-> ".join(comp))
    if objects:
        calls = call_graph(objects)
        out += [f.replace(", up", ", calls up").replace(", sideways", ", calls sideways")
                for f in layer_findings(calls)]
        for comp in circles(calls):
            out.append("call circle: " + " <-> ".join(comp))
    for rel, n in sorted(lines.items()):
        if n > MAX_LINES:
            out.append(f"src/{rel}: {n} lines, over {MAX_LINES}")
    return out


def self_test(src):
    with tempfile.TemporaryDirectory() as tmp:
        copy = os.path.join(tmp, "src")
        shutil.copytree(src, copy)
        if check(copy):
            print("layers self-test: src/ is not clean to begin with", file=sys.stderr)
            return 1
        with open(os.path.join(copy, "core", "clock.c"), "a") as f:
            f.write('\n#include "cli/app.h"\n')
        with open(os.path.join(copy, "core", "xalloc.h"), "a") as f:
            f.write('\n#include "core/log.h"\n')
        with open(os.path.join(copy, "core", "log.h"), "a") as f:
            f.write('\n#include "core/xalloc.h"\n')
        got = check(copy)
        want_up = any("core/clock.c: includes cli/app.h, up" in g for g in got)
        want_circle = any(g.startswith("circle:") and "core/log" in g and "core/xalloc" in g for g in got)
        if not (want_up and want_circle):
            print("layers self-test: the planted wrong include or circle was not found", file=sys.stderr)
            return 1
    print("layers self-test: a wrong include and a planted circle are both found")
    return 0


def main(argv):
    src = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "src")
    if "--src" in argv:
        src = argv[argv.index("--src") + 1]
    if "--self-test" in argv:
        return self_test(src)
    objects = argv[argv.index("--objects") + 1] if "--objects" in argv else None
    findings = check(src, objects)
    for line in findings:
        print(line)
    if findings:
        print(f"layers: {len(findings)} finding(s)", file=sys.stderr)
        return 1
    print("layers: no upward include, no circle, no file over "
          f"{MAX_LINES} lines")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
