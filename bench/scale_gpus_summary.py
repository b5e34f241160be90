#!/usr/bin/env python3
"""The table of bench/scale-gpus.sh: throughput of `generate` per run (1 GPU, then every GPU of the host).

Reads OUT/run-<G>gpu/ as the script leaves it: clips/*.json (the sidecars), wall_s, rc, generate.log and
executors/*/ (each executor's stderr and the resources file in which the worker gave it its GPU address). Per run: clips, distinct devices (the sidecars' device strings; on CUDA they end with the
card's UUID), job wall seconds, model load seconds (the executors' "Renderer ready on ... in N ms" lines),
and three rates in clips per hour:
  - steady, per-clip: for each device, its clips over the sum of their render seconds (sidecar
    stage_seconds.total), summed over devices: the rate once loaded, without Spark's time between clips;
  - steady, finished: for each device, (clips - 1) over the time from its first to its last sidecar's
    "finished": the same rate with everything between clips (upload, sidecar, scheduling) included;
  - job: clips over the job's wall seconds, model load and Spark start included.
Speed-ups are against the 1-GPU run. Writes summary.json beside the runs and prints the table.
"""
import glob
import json
import os
import re
import sys
from collections import defaultdict
from datetime import datetime, timezone

READY = re.compile(r"Renderer ready on (.+) in (\d+) ms")


def parse_instant(s):
    """ISO-8601 UTC with up to nanoseconds, as the sidecars write it."""
    m = re.fullmatch(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d+))?Z", s)
    if not m:
        raise ValueError("not an instant: " + s)
    t = datetime.strptime(m.group(1), "%Y-%m-%dT%H:%M:%S").replace(tzinfo=timezone.utc).timestamp()
    return t + (float("0." + m.group(2)) if m.group(2) else 0.0)


def uuid_of(device):
    m = re.search(r"(GPU-[0-9a-fA-F-]+)", device)
    return m.group(1) if m else device


def one_run(d):
    sidecars = []
    for f in sorted(glob.glob(os.path.join(d, "clips", "*.json"))):
        with open(f) as fh:
            sidecars.append(json.load(fh))
    by_device = defaultdict(list)
    for s in sidecars:
        by_device[s["device"]].append(s)
    per_clip = 0.0
    finished = 0.0
    finished_devices = 0
    for clips in by_device.values():
        seconds = sum(c["stage_seconds"]["total"] for c in clips)
        per_clip += 3600.0 * len(clips) / seconds if seconds > 0 else 0.0
        times = sorted(parse_instant(c["finished"]) for c in clips)
        if len(times) >= 2 and times[-1] > times[0]:
            finished += 3600.0 * (len(times) - 1) / (times[-1] - times[0])
            finished_devices += 1
    loads = []
    logs = glob.glob(os.path.join(d, "executors", "*", "stderr")) + [os.path.join(d, "generate.log")]
    for log in logs:
        if os.path.exists(log):
            with open(log, errors="replace") as fh:
                loads += [int(m.group(2)) / 1000.0 for m in READY.finditer(fh.read())]
    addresses = []  # the GPU addresses Spark's worker gave each executor (its resources file)
    for f in sorted(glob.glob(os.path.join(d, "executors", "*", "resource-executor-*.json"))):
        with open(f) as fh:
            for r in json.load(fh):
                if r["id"]["resourceName"] == "gpu":
                    addresses.append(",".join(r["addresses"]))
    wall = None
    if os.path.exists(os.path.join(d, "wall_s")):
        with open(os.path.join(d, "wall_s")) as fh:
            wall = float(fh.read().strip())
    rc = None
    if os.path.exists(os.path.join(d, "rc")):
        with open(os.path.join(d, "rc")) as fh:
            rc = int(fh.read().strip())
    return {
        "clips": len(sidecars),
        "devices": {dev: len(c) for dev, c in sorted(by_device.items())},
        "uuids": sorted({uuid_of(dev) for dev in by_device}),
        "executor_gpu_addresses": addresses,
        "wall_s": wall,
        "exit_code": rc,
        "load_s": sorted(loads),
        "mean_clip_s": sum(c["stage_seconds"]["total"] for c in sidecars) / len(sidecars) if sidecars else None,
        "clips_per_hour_steady_per_clip": per_clip,
        "clips_per_hour_steady_finished": finished if finished_devices == len(by_device) else None,
        "clips_per_hour_job": 3600.0 * len(sidecars) / wall if wall and sidecars else None,
    }


def fmt(v, spec):
    return "-" if v is None else format(v, spec)


def main(out):
    runs = {}
    for d in glob.glob(os.path.join(out, "run-*gpu")):
        g = int(re.search(r"run-(\d+)gpu$", d).group(1))
        runs[g] = one_run(d)
    if not runs:
        print("no runs under " + out, file=sys.stderr)
        return 1
    base = runs.get(1)
    rows = []
    header = ("GPUs", "exit", "clips", "per device", "job wall s", "model load s", "mean clip s",
              "steady clips/h (per-clip)", "x", "steady clips/h (finished)", "x", "job clips/h", "x")
    for g in sorted(runs):
        r = runs[g]

        def x(key):
            if base is None or r[key] is None or not base[key]:
                return None
            return r[key] / base[key]

        r["speedup_steady_per_clip"] = x("clips_per_hour_steady_per_clip")
        r["speedup_steady_finished"] = x("clips_per_hour_steady_finished")
        r["speedup_job"] = x("clips_per_hour_job")
        rows.append((str(g), fmt(r["exit_code"], "d"), str(r["clips"]), "/".join(str(n) for n in r["devices"].values()),
                     fmt(r["wall_s"], ".1f"), "/".join(format(s, ".1f") for s in r["load_s"]) or "-",
                     fmt(r["mean_clip_s"], ".2f"),
                     fmt(r["clips_per_hour_steady_per_clip"], ".1f"), fmt(r["speedup_steady_per_clip"], ".2f"),
                     fmt(r["clips_per_hour_steady_finished"], ".1f"), fmt(r["speedup_steady_finished"], ".2f"),
                     fmt(r["clips_per_hour_job"], ".1f"), fmt(r["speedup_job"], ".2f")))
    widths = [max(len(h), *(len(row[i]) for row in rows)) for i, h in enumerate(header)]
    print(" | ".join(h.ljust(w) for h, w in zip(header, widths)))
    print("-+-".join("-" * w for w in widths))
    for row in rows:
        print(" | ".join(c.ljust(w) for c, w in zip(row, widths)))
    for g in sorted(runs):
        print("%d GPU run: executors given GPU addresses [%s]; devices in the sidecars: %s"
              % (g, " ".join(runs[g]["executor_gpu_addresses"]),
                 "; ".join("%s: %d clips" % kv for kv in runs[g]["devices"].items())))
    top = max(runs)
    if base is not None and top > 1:
        s = runs[top]["speedup_steady_finished"]
        distinct = len(runs[top]["uuids"])
        print("target: steady throughput on %d GPUs >= 1.9x one GPU: %s (%s); distinct devices in the %d-GPU run: %d"
              % (top, "met" if s is not None and s >= 1.9 else "NOT met", fmt(s, ".2f") + "x", top, distinct))
    with open(os.path.join(out, "summary.json"), "w") as fh:
        json.dump({str(g): runs[g] for g in sorted(runs)}, fh, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else os.environ.get("OUT", "/tmp/scale-gpus/out")))
