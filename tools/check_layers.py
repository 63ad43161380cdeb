#!/usr/bin/env python3
"""Checks that libsbert's folders stay layers (make check-layers; make test runs it).

    python3 tools/check_layers.py [--src libsbert] [--objects build/libsbert]

The layers, lowest first (README, "Layout"):

    base                      error.h, memory.h, threadpool.h
    text, kernels             UTF-8 and Unicode; the arithmetic
    tokenizer                 text -> ids
    model                     the .sbert file
    engine                    the forward pass, pooling
    api                       include/sbert.h's functions

Two checks, each failing with the offending file and line or symbol:

1. #include lines: a file may include headers of its own folder, the public include/sbert.h, and
   the door header (FOLDER/FOLDER.h) of a folder of a lower layer; nothing of its own layer's
   other folder and nothing above it.
2. Symbols (nm of the compiled objects, when --objects is given): every undefined symbol of an
   object is looked up among the defined symbols of all objects; the folder that uses it must be
   above the folder that defines it, and the folders must not form a cycle. This catches what the
   includes cannot: a function declared by hand, or called through a header that declares more
   than its folder defines.
"""
import argparse
import os
import re
import subprocess
import sys

RANK = {"base": 0, "text": 1, "kernels": 1, "tokenizer": 2, "model": 3, "engine": 4, "api": 5}
PUBLIC = {"sbert.h"}
INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"')


def folder_of(path, src):
    rel = os.path.relpath(path, src).split(os.sep)
    return rel[0] if len(rel) > 1 else None


def check_includes(src):
    errors = []
    for root, _, files in os.walk(src):
        for name in sorted(files):
            if not name.endswith((".c", ".h")):
                continue
            path = os.path.join(root, name)
            here = folder_of(path, src)
            if here not in RANK:
                errors.append(f"{path}: not in a layer folder ({', '.join(RANK)})")
                continue
            with open(path, encoding="utf-8", errors="replace") as f:
                for n, line in enumerate(f, 1):
                    m = INCLUDE.match(line)
                    if not m:
                        continue
                    inc = m.group(1)
                    if inc in PUBLIC:
                        continue
                    if "/" not in inc:  # the including file's own folder
                        if os.path.exists(os.path.join(root, inc)):
                            continue
                        errors.append(f"{path}:{n}: includes \"{inc}\", which is not in {here}/")
                        continue
                    there = inc.split("/")[0]
                    if there == here:
                        continue
                    if there not in RANK:
                        errors.append(f"{path}:{n}: includes \"{inc}\" from no layer")
                    elif RANK[there] >= RANK[here]:
                        errors.append(f"{path}:{n}: {here} includes \"{inc}\" of {there}, "
                                      f"a layer {'above' if RANK[there] > RANK[here] else 'beside'} it")
                    elif inc != f"{there}/{there}.h":
                        errors.append(f"{path}:{n}: includes \"{inc}\"; other folders see only "
                                      f"{there}/{there}.h")
    return errors


def symbols(obj, nm):
    out = subprocess.run([nm, obj], capture_output=True, text=True, check=True).stdout
    defined, undefined = set(), set()
    for line in out.splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[0] == "U":
            undefined.add(parts[1])
        elif len(parts) == 3 and parts[1] in "TDBRVWGSCI" and parts[1].isupper():
            defined.add(parts[2])
    return defined, undefined


def check_objects(objdir, nm):
    objects = []
    for root, _, files in os.walk(objdir):
        objects += [os.path.join(root, f) for f in sorted(files) if f.endswith(".o")]
    if not objects:
        return [f"{objdir}: no object files (build the library first)"]
    owner, uses = {}, []
    for obj in objects:
        where = folder_of(obj, objdir)
        defined, undefined = symbols(obj, nm)
        for s in defined:
            owner[s] = (where, obj)
        uses.append((where, obj, undefined))
    errors, edges = [], {}
    for where, obj, undefined in uses:
        for s in sorted(undefined):
            if s not in owner:
                continue  # libc, libm, pthreads
            there, def_obj = owner[s]
            if there == where:
                continue
            edges.setdefault(where, {}).setdefault(there, (obj, s, def_obj))
            if where not in RANK or there not in RANK or RANK[there] >= RANK[where]:
                errors.append(f"{obj}: {where} calls {s} of {there} ({def_obj}), "
                              "which is not below it")
    # cycles between folders (already upward edges above; named as cycles to say what breaks)
    state = {}

    def visit(node, stack):
        state[node] = 1
        for nxt in sorted(edges.get(node, {})):
            if state.get(nxt) == 1:
                cycle = stack[stack.index(nxt):] + [nxt]
                errors.append("cycle between folders: " + " -> ".join(cycle))
            elif nxt not in state:
                visit(nxt, stack + [nxt])
        state[node] = 2

    for node in sorted(edges):
        if node not in state:
            visit(node, [node])
    return errors


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--src", default="libsbert")
    ap.add_argument("--objects", help="folder of the compiled objects, e.g. build/libsbert")
    ap.add_argument("--nm", default=os.environ.get("NM", "nm"))
    args = ap.parse_args()
    errors = check_includes(args.src)
    if args.objects:
        errors += check_objects(args.objects, args.nm)
    for e in errors:
        print("check-layers: " + e, file=sys.stderr)
    checked = "#include lines" + (" and symbols of the objects" if args.objects else "")
    if errors:
        print(f"check-layers: {len(errors)} violation(s) in the {checked}", file=sys.stderr)
        return 1
    print(f"check-layers: {args.src}: layers hold ({checked})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
