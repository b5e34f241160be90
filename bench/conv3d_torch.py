#!/usr/bin/env python3
"""PyTorch (cuDNN) baseline for `sparse-render bench conv3d`, and the combined table.

Times torch.nn.functional.conv3d -- bf16 x [1, C, T, H, W], bf16 weight [O, C, kt, kh, kw], padding
(0, kh // 2, kw // 2), fp32 accumulation -- at the shapes `bench conv3d` printed, the same way as the
Java side: CUDA events, median of 5 after 2 warm-ups, TFLOP/s = 2 M N K / t with M = T'H'W', N = O,
K = C kt kh kw. Two memory formats: contiguous NCDHW (our layout, channels-first) and channels_last_3d
(cuDNN's preferred NDHWC; the layout change itself not timed). With --ours FILE it prints one markdown
table with ours as a percentage of the faster PyTorch format, measured in the same device call.

    python3 bench/conv3d_torch.py --ours conv3d_java.jsonl [--json torch.jsonl]
"""
import argparse
import json
import statistics

import torch
import torch.nn.functional as F


def parse(shape):
    x, o, k = shape.split(":")
    c, t, h, w = (int(v) for v in x.split("x"))
    kt, kh, kw = (int(v) for v in k.split("x"))
    return c, t, h, w, int(o), kt, kh, kw


def time_conv(shape, channels_last, warmups=2, iters=5):
    c, t, h, w, o, kt, kh, kw = parse(shape)
    g = torch.Generator(device="cuda").manual_seed(0)
    x = (torch.rand(1, c, t, h, w, device="cuda", generator=g) * 2 - 1).to(torch.bfloat16)
    wt = ((torch.rand(o, c, kt, kh, kw, device="cuda", generator=g) * 2 - 1) * 0.05).to(torch.bfloat16)
    b = torch.zeros(o, device="cuda", dtype=torch.bfloat16)
    if channels_last:
        x = x.contiguous(memory_format=torch.channels_last_3d)
        wt = wt.contiguous(memory_format=torch.channels_last_3d)
    pad = (0, kh // 2, kw // 2)
    with torch.no_grad():
        for _ in range(warmups):
            F.conv3d(x, wt, b, padding=pad)
        torch.cuda.synchronize()
        times = []
        for _ in range(iters):
            s, e = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            s.record()
            F.conv3d(x, wt, b, padding=pad)
            e.record()
            e.synchronize()
            times.append(s.elapsed_time(e))
    del x, wt, b
    torch.cuda.empty_cache()
    to, ho, wo = t - kt + 1, h + 2 * (kh // 2) - kh + 1, w + 2 * (kw // 2) - kw + 1
    flops = 2.0 * to * ho * wo * o * c * kt * kh * kw
    med = statistics.median(times)
    return med, flops / (med * 1e-3) / 1e12, times


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ours", required=True, help="JSON lines from `sparse-render bench conv3d`")
    ap.add_argument("--json", help="write PyTorch's results here as JSON lines")
    args = ap.parse_args()
    ours = {}
    norms = {}
    shapes = []
    with open(args.ours) as f:
        for line in f:
            line = line.strip()
            if not line.startswith("{"):
                continue
            r = json.loads(line)
            if r.get("op") == "conv3d":
                ours.setdefault(r["shape"], []).append(r)
                if r["shape"] not in shapes:
                    shapes.append(r["shape"])
            elif r.get("op") == "channel_rms_norm_silu":
                norms[r["shape"]] = r
    torch.backends.cudnn.benchmark = True
    print(f"device: {torch.cuda.get_device_name()}, torch {torch.__version__}, cuDNN {torch.backends.cudnn.version()}")
    out = open(args.json, "w") if args.json else None
    rows = []
    for shape in shapes:
        res = {}
        for fmt, cl in (("ncdhw", False), ("ndhwc", True)):
            try:
                med, tf, times = time_conv(shape, cl)
            except RuntimeError as e:  # out of memory, or no algorithm for the shape
                print(json.dumps({"impl": "torch", "format": fmt, "shape": shape, "error": str(e)[:200]}), flush=True)
                torch.cuda.empty_cache()
                continue
            rec = {"impl": "torch", "format": fmt, "shape": shape, "median_ms": round(med, 4), "tflops": round(tf, 1), "all_ms": times}
            print(json.dumps(rec), flush=True)
            if out:
                out.write(json.dumps(rec) + "\n")
            res[fmt] = (med, tf)
        rows.append((shape, res))
    print()
    print("| C x T x H x W : O : kernel | ours tile | ours ms | ours TFLOP/s | cuDNN NCDHW ms | TFLOP/s | cuDNN NDHWC ms | TFLOP/s"
          " | ours % of best cuDNN | norm+SiLU GB/s |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for shape, res in rows:
        for r in ours[shape]:
            cells = [shape, r["tile"], f"{r['median_ms']:.3f}", f"{r['tflops']:.0f}"]
            for fmt in ("ncdhw", "ndhwc"):
                cells += [f"{res[fmt][0]:.3f}", f"{res[fmt][1]:.0f}"] if fmt in res else ["-", "-"]
            best = max((v[1] for v in res.values()), default=None)
            cells.append(f"{100.0 * r['tflops'] / best:.0f}%" if best else "-")
            n = norms.get(shape)
            cells.append(f"{n['gb_per_s']:.0f}" if n else "-")
            print("| " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
