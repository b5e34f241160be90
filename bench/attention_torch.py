#!/usr/bin/env python3
"""PyTorch baseline for `sparse-render bench attention`, and the combined table.

Times torch.nn.functional.scaled_dot_product_attention (non-causal, scale 1/sqrt(D), bf16 in and out)
with the flash and the cuDNN backends (torch.nn.attention.sdpa_kernel) at the shapes found in --ours,
the same way as the Java side: CUDA events, median of 5 after 2 warm-ups, TFLOP/s = 4*B*H*L^2*D / t.
Inputs are uniform random bf16 in the [B, L, H, D] memory layout (viewed as [B, H, L, D], as a model
calls it); dense attention's time does not depend on the values.

    python3 bench/attention_torch.py --ours attention_java.jsonl [--json torch.jsonl]
"""
import argparse
import json
import statistics

import torch
import torch.nn.functional as F
from torch.nn.attention import SDPBackend, sdpa_kernel

BACKENDS = [("flash", SDPBackend.FLASH_ATTENTION), ("cudnn", SDPBackend.CUDNN_ATTENTION)]


def time_sdpa(b, l, h, d, backend, warmups=2, iters=5):
    g = torch.Generator(device="cuda").manual_seed(0)
    q, k, v = [(torch.rand(b, l, h, d, device="cuda", generator=g) * 2 - 1).to(torch.bfloat16).transpose(1, 2)
               for _ in range(3)]
    with sdpa_kernel([backend]):
        for _ in range(warmups):
            F.scaled_dot_product_attention(q, k, v)
        torch.cuda.synchronize()
        times = []
        for _ in range(iters):
            s, e = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            s.record()
            F.scaled_dot_product_attention(q, k, v)
            e.record()
            e.synchronize()
            times.append(s.elapsed_time(e))
    del q, k, v
    torch.cuda.empty_cache()
    med = statistics.median(times)
    return med, 4.0 * b * h * l * l * d / (med * 1e-3) / 1e12, times


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ours", required=True, help="JSON lines from `sparse-render bench attention`")
    ap.add_argument("--json", help="write PyTorch's results here as JSON lines")
    args = ap.parse_args()
    ours = []
    shapes = []
    with open(args.ours) as f:
        for line in f:
            line = line.strip()
            if line.startswith("{") and '"median_ms"' in line:
                r = json.loads(line)
                ours.append(r)
                key = (r["b"], r["l"], r["h"], r["d"])
                if key not in shapes:
                    shapes.append(key)
    print(f"device: {torch.cuda.get_device_name()}, torch {torch.__version__}, cuDNN {torch.backends.cudnn.version()}")
    out = open(args.json, "w") if args.json else None
    torch_rows = {}
    for (b, l, h, d) in shapes:
        for name, backend in BACKENDS:
            try:
                med, tf, times = time_sdpa(b, l, h, d, backend)
                rec = {"impl": "torch-" + name, "b": b, "l": l, "h": h, "d": d, "median_ms": round(med, 4),
                       "tflops": round(tf, 1), "all_ms": times}
            except Exception as e:  # a backend not available on this build or card
                rec = {"impl": "torch-" + name, "b": b, "l": l, "h": h, "d": d, "error": str(e)[:200]}
                med = tf = None
            print(json.dumps(rec), flush=True)
            if out:
                out.write(json.dumps(rec) + "\n")
            torch_rows[(b, l, h, d, name)] = (med, tf)
    print()
    print("| B, L, H, D | impl | policy | ms | TFLOP/s (dense-equiv.) | real TFLOP | tile sparsity | of which before QK | pre-pass ms | recall mean / p05 / min | x vs torch flash | x vs our dense |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for (b, l, h, d) in shapes:
        fl = torch_rows.get((b, l, h, d, "flash"), (None, None))[0]
        for name, _ in BACKENDS:
            med, tf = torch_rows[(b, l, h, d, name)]
            if med is None:
                print(f"| {b}, {l}, {h}, {d} | torch {name} | dense | n/a | n/a | | | | | | | |")
            else:
                rel = f"{fl / med:.2f}" if fl else ""
                print(f"| {b}, {l}, {h}, {d} | torch {name} | dense | {med:.2f} | {tf:.0f} | "
                      f"{4.0 * b * h * l * l * d / 1e12:.2f} | 0 | 0 | | 1 | {rel} | |")
        # Our dense baseline per implementation: the natural-order dense row at bc = 64.
        # keyed by implementation and video-like peak: each --peak pass has its own dense row
        label = lambda r: (f"{r['impl']} {r['kernel']}" if r.get("kernel") else r["impl"]) + f" peak {r.get('peak', 16)}"
        dense = {label(r): r["median_ms"] for r in ours
                 if (r["b"], r["l"], r["h"], r["d"]) == (b, l, h, d) and r["policy"].startswith("dense:") and "order=natural" in r["policy"]
                 and "bc=64" in r["policy"]}
        for r in ours:
            if (r["b"], r["l"], r["h"], r["d"]) == (b, l, h, d):
                rel = f"{fl / r['median_ms']:.2f}" if fl else ""
                own = f"{dense[label(r)] / r['median_ms']:.2f}" if label(r) in dense else ""
                rec = (f"{r['recall_mean']:.3f} / {r['recall_p05']:.3f} / {r['recall_min']:.3f}"
                       if "recall_mean" in r else "")
                plan = f"{r['plan_ms']:.2f}" if r.get("plan_ms") else ""
                impl = f"{r['impl']} {r['kernel']}" if r.get("kernel") else r["impl"]
                pol = r['policy'] + (f" (peak {r['peak']:g})" if r.get("peak", 16) != 16 else "")
                print(f"| {b}, {l}, {h}, {d} | {impl} | {pol} | {r['median_ms']:.2f} | {r['tflops_dense_equiv']:.0f} | "
                      f"{r['real_tflop']:.2f} | {r['tile_sparsity']:.3f} | {r.get('skipped_before_qk', 0):.3f} | {plan} | {rec} | {rel} | {own} |")


if __name__ == "__main__":
    main()
