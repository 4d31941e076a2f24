#!/usr/bin/env python3
"""Fails when a dependency the library builds with (normal and build dependencies, every feature)
declares a rust-version above the crate's own: the crate's declared rust-version would then be a lie.
Reads `cargo metadata` on stdin."""
import json
import sys


def version(text):
    parts = [int(p) for p in (text or "0").split(".")]
    return tuple(parts + [0] * (3 - len(parts)))


meta = json.load(sys.stdin)
packages = {p["id"]: p for p in meta["packages"]}
nodes = {n["id"]: n for n in meta["resolve"]["nodes"]}
root = next(p for p in meta["packages"] if p["name"] == "twilio-sms")
msrv = version(root["rust_version"])
seen, todo, too_new = set(), [root["id"]], []
while todo:
    node = nodes[todo.pop()]
    for dep in node["deps"]:
        kinds = {k["kind"] for k in dep["dep_kinds"]}
        if not kinds & {None, "build"} or dep["pkg"] in seen:
            continue
        seen.add(dep["pkg"])
        todo.append(dep["pkg"])
        declared = packages[dep["pkg"]].get("rust_version")
        if declared and version(declared) > msrv:
            too_new.append(f"{packages[dep['pkg']]['name']} {packages[dep['pkg']]['version']} needs {declared}")
print(f"{len(seen)} dependencies of the library checked against rust-version {root['rust_version']}")
if too_new:
    print("declared rust-version above the crate's:\n  " + "\n  ".join(sorted(too_new)))
    sys.exit(1)
