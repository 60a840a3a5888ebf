#!/usr/bin/env python3
"""Two eplb placements (eplb.placement/v1, same config and layers) as one probe file, the format of
shared/baselines/probe_placements.json that vllm_style_shuffle.py and `eplb shuffle --probe` take.

usage: scripts/make_probe.py OLD.json NEW.json OUT.json
"""
import json
import os
import sys


def load(path):
    try:
        with open(path) as f:
            p = json.load(f)
    except (OSError, ValueError) as e:
        sys.exit(f"{path}: {e}")
    if p.get("schema") != "eplb.placement/v1":
        sys.exit(f"{path}: schema is {p.get('schema')!r}, expected 'eplb.placement/v1'")
    return p


def main():
    if len(sys.argv) != 4:
        sys.exit(__doc__.strip())
    old_path, new_path, out_path = sys.argv[1:]
    old, new = load(old_path), load(new_path)
    keys = ("num_physical_experts", "num_groups", "num_nodes", "num_gpus")
    for k in keys:
        if old["config"][k] != new["config"][k]:
            sys.exit(f"{new_path}: {k} is {new['config'][k]}, {old_path} has {old['config'][k]}")
    if old["layers"] != new["layers"]:
        sys.exit(f"{new_path}: layers {new['layers']} differ from {old_path}'s {old['layers']}")
    c = old["config"]
    probe = {
        "layers": old["layers"],
        "num_replicas": c["num_physical_experts"],
        "num_groups": c["num_groups"],
        "num_nodes": c["num_nodes"],
        "num_gpus": c["num_gpus"],
        "old_trace": os.path.basename(old["inputs"]["trace"]),
        "new_trace": os.path.basename(new["inputs"]["trace"]),
        "old": old["phy2log"],
        "new": new["phy2log"],
    }
    tmp = out_path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(probe, f)
    os.replace(tmp, out_path)


if __name__ == "__main__":
    main()
