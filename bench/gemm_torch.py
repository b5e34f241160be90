#!/usr/bin/env python3
"""PyTorch baseline for `sparse-render bench gemm`, and the combined table.

Times torch.matmul(A, B.t()) -- bf16 A[M,K], B[N,K], bf16 out, fp32 accumulation (cuBLAS) -- at the same
shapes, the same way as the Java side: CUDA events, median of 5 after 2 warm-ups, TFLOP/s = 2MNK/t.
With --ours FILE (the JSON lines `sparse-render bench gemm` printed) it prints one markdown table with
both implementations as a percentage of PyTorch, measured in the same device call.

    python3 bench/gemm_torch.py --ours gemm_java.jsonl [--json torch.jsonl]
"""
import argparse
import json
import statistics

import torch

SHAPES = [(8192, 8192, 8192), (27280, 3072, 3072), (27280, 14336, 3072), (27280, 3072, 14336)]


def time_matmul(m, n, k, warmups=2, iters=5):
    g = torch.Generator(device="cuda").manual_seed(0)
    a = (torch.rand(m, k, device="cuda", generator=g) * 2 - 1).to(torch.bfloat16)
    b = (torch.rand(n, k, device="cuda", generator=g) * 2 - 1).to(torch.bfloat16)
    for _ in range(warmups):
        torch.matmul(a, b.t())
    torch.cuda.synchronize()
    times = []
    for _ in range(iters):
        s, e = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        s.record()
        torch.matmul(a, b.t())
        e.record()
        e.synchronize()
        times.append(s.elapsed_time(e))
    del a, b
    torch.cuda.empty_cache()
    med = statistics.median(times)
    return med, 2.0 * m * n * k / (med * 1e-3) / 1e12, times


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ours", help="JSON lines from `sparse-render bench gemm`")
    ap.add_argument("--json", help="write PyTorch's results here as JSON lines")
    args = ap.parse_args()
    ours = {}
    shapes = list(SHAPES)
    if args.ours:
        with open(args.ours) as f:
            for line in f:
                line = line.strip()
                if not line.startswith("{"):
                    continue
                r = json.loads(line)
                if "median_ms" in r:
                    ours[(r["impl"], r["m"], r["n"], r["k"])] = r
                    if (r["m"], r["n"], r["k"]) not in shapes:
                        shapes.append((r["m"], r["n"], r["k"]))
    print(f"device: {torch.cuda.get_device_name()}, torch {torch.__version__}, cuBLAS via torch.matmul")
    rows = []
    out = open(args.json, "w") if args.json else None
    for (m, n, k) in shapes:
        med, tf, times = time_matmul(m, n, k)
        rec = {"impl": "torch", "m": m, "n": n, "k": k, "median_ms": round(med, 4), "tflops": round(tf, 1), "all_ms": times}
        print(json.dumps(rec), flush=True)
        if out:
            out.write(json.dumps(rec) + "\n")
        rows.append((m, n, k, med, tf))
    print()
    impls = [i for i in ("cublaslt", "own", "own-mma-sync") if any(key[0] == i for key in ours)]
    header = "| M x N x K | PyTorch ms | PyTorch TFLOP/s |"
    for impl in impls:
        header += f" {impl} ms | TFLOP/s | % of PyTorch |"
    print(header)
    print("|" + "---|" * (3 + 3 * len(impls)))
    for (m, n, k, med, tf) in rows:
        cells = [f"{m} x {n} x {k}", f"{med:.3f}", f"{tf:.0f}"]
        for impl in impls:
            r = ours.get((impl, m, n, k))
            if r:
                cells += [f"{r['median_ms']:.3f}", f"{r['tflops']:.0f}", f"{100.0 * r['tflops'] / tf:.0f}%"]
            else:
                cells += ["-", "-", "-"]
        print("| " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
