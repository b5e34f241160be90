#!/usr/bin/env python3
"""What FP8 GEMMs would buy the DiT, measured before building them (issue 7's levers).

For the TI2V-5B DiT's GEMM shapes at 1280x704x121 with the guided batch of 2 (M = 54,560 tokens), times
bf16 torch.matmul(A, B.t()) against torch._scaled_mm on float8_e4m3fn operands with per-tensor scales (bf16 out,
fp32 accumulation; with and without cuBLASLt's fast accumulation), and the per-tensor quantisation of the
activation A (amax, scale, cast) as PyTorch does it (unfused). Then, because a whole DiT runs at the card's power
limit (docs/BENCHMARKS.md, session 8), a sustained loop: every layer's GEMMs (q, k, v, o, cross-attention q and o,
FFN in and out) of 30 layers, repeated for about --seconds each, bf16 and fp8 (with the six activation
quantisations per layer), timed per layer, with the SM clock and power from nvidia-smi.

    python3 bench/gemm_fp8_torch.py [--json out.jsonl] [--seconds 20]
"""
import argparse
import json
import statistics
import subprocess
import threading
import time

import torch

M = 2 * 27280
D, FFN = 3072, 14336
SHAPES = [("qkvo / cross q, o", M, D, D), ("ffn in", M, FFN, D), ("ffn out", M, D, FFN)]
E4M3_MAX = 448.0


def timed(fn, warmups=2, iters=5):
    for _ in range(warmups):
        fn()
    torch.cuda.synchronize()
    ts = []
    for _ in range(iters):
        s, e = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        s.record()
        fn()
        e.record()
        e.synchronize()
        ts.append(s.elapsed_time(e))
    return statistics.median(ts)


def quantize(x):
    amax = x.abs().amax().float()
    scale = (amax / E4M3_MAX).clamp(min=1e-12)
    return (x.float() / scale).to(torch.float8_e4m3fn), scale


def operands(m, n, k, g):
    a = ((torch.rand(m, k, device="cuda", generator=g) * 2 - 1) * 3).to(torch.bfloat16)
    b = ((torch.rand(n, k, device="cuda", generator=g) * 2 - 1) / k ** 0.5).to(torch.bfloat16)
    return a, b


class Smi:
    """nvidia-smi every 200 ms in a thread: median SM clock and power."""

    def __init__(self):
        self.rows, self.stop = [], False

    def __enter__(self):
        self.t = threading.Thread(target=self.run, daemon=True)
        self.t.start()
        return self

    def run(self):
        while not self.stop:
            out = subprocess.run(["nvidia-smi", "--query-gpu=clocks.sm,power.draw", "--format=csv,noheader,nounits"],
                                 capture_output=True, text=True).stdout.strip().split(",")
            try:
                self.rows.append((float(out[0]), float(out[1])))
            except (ValueError, IndexError):
                pass
            time.sleep(0.2)

    def __exit__(self, *exc):
        self.stop = True
        self.t.join()

    def summary(self):
        if not self.rows:
            return {}
        return {"sm_mhz_median": statistics.median(r[0] for r in self.rows),
                "power_w_median": statistics.median(r[1] for r in self.rows)}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--json")
    ap.add_argument("--seconds", type=float, default=20.0)
    args = ap.parse_args()
    out = open(args.json, "w") if args.json else None

    def emit(rec):
        print(json.dumps(rec), flush=True)
        if out:
            out.write(json.dumps(rec) + "\n")

    emit({"device": torch.cuda.get_device_name(), "torch": torch.__version__})
    g = torch.Generator(device="cuda").manual_seed(0)
    for name, m, n, k in SHAPES:
        a, b = operands(m, n, k, g)
        a8, sa = quantize(a)
        b8, sb = quantize(b)
        flop = 2.0 * m * n * k
        t_bf16 = timed(lambda: torch.matmul(a, b.t()))
        t_fp8 = timed(lambda: torch._scaled_mm(a8, b8.t(), scale_a=sa, scale_b=sb, out_dtype=torch.bfloat16))
        t_fast = timed(lambda: torch._scaled_mm(a8, b8.t(), scale_a=sa, scale_b=sb, out_dtype=torch.bfloat16,
                                                use_fast_accum=True))
        t_quant = timed(lambda: quantize(a))
        ref = torch.matmul(a.double(), b.double().t())
        got = torch._scaled_mm(a8, b8.t(), scale_a=sa, scale_b=sb, out_dtype=torch.bfloat16).double()
        rel = ((got - ref).norm() / ref.norm()).item()
        got16 = torch.matmul(a, b.t()).double()
        rel16 = ((got16 - ref).norm() / ref.norm()).item()
        emit({"shape": name, "m": m, "n": n, "k": k, "bf16_ms": round(t_bf16, 4), "bf16_tflops": round(flop / t_bf16 / 1e9, 1),
              "fp8_ms": round(t_fp8, 4), "fp8_tflops": round(flop / t_fp8 / 1e9, 1),
              "fp8_fast_ms": round(t_fast, 4), "fp8_fast_tflops": round(flop / t_fast / 1e9, 1),
              "quant_a_torch_ms": round(t_quant, 4), "quant_a_bytes_gb": round(m * k * (2 + 2 + 1) / 1e9, 3),
              "rel_l2_fp8": rel, "rel_l2_bf16": rel16})
        del a, b, a8, b8, ref, got, got16
        torch.cuda.empty_cache()

    # Sustained: one layer's GEMMs (B = 2), 30 layers per "forward", repeated for --seconds.
    x, wq = operands(M, D, D, g)
    h, w_in = operands(M, FFN, D, g)
    gl, w_out = operands(M, D, FFN, g)
    ws = [wq] * 6
    wq8, swq = quantize(wq)
    w_in8, sw_in = quantize(w_in)
    w_out8, sw_out = quantize(w_out)

    def layer_bf16():
        for w in ws:
            torch.matmul(x, w.t())
        torch.matmul(x, w_in.t())
        torch.matmul(gl, w_out.t())

    def layer_fp8(fast):
        for i in range(6):
            if i in (0, 3, 4, 5):   # norm output (q, k, v share it), attention output, cross q input, cross o input
                xa, s = quantize(x)
            torch._scaled_mm(xa, wq8.t(), scale_a=s, scale_b=swq, out_dtype=torch.bfloat16, use_fast_accum=fast)
        xa, s = quantize(x)
        torch._scaled_mm(xa, w_in8.t(), scale_a=s, scale_b=sw_in, out_dtype=torch.bfloat16, use_fast_accum=fast)
        ga, s = quantize(gl)
        torch._scaled_mm(ga, w_out8.t(), scale_a=s, scale_b=sw_out, out_dtype=torch.bfloat16, use_fast_accum=fast)

    for label, fn in [("bf16", layer_bf16), ("fp8 + quantisation", lambda: layer_fp8(False)),
                      ("fp8 fast accum + quantisation", lambda: layer_fp8(True))]:
        for _ in range(30):
            fn()
        torch.cuda.synchronize()
        layers, t0 = 0, time.time()
        with Smi() as smi:
            s, e = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            s.record()
            while time.time() - t0 < args.seconds:
                for _ in range(30):
                    fn()
                layers += 30
                torch.cuda.synchronize()
            e.record()
            e.synchronize()
        ms = s.elapsed_time(e)
        emit({"sustained": label, "layers": layers, "ms_per_layer": round(ms / layers, 3),
              "s_per_50_guided_steps": round(ms / layers * 30 * 50 / 1e3, 2), **smi.summary()})


if __name__ == "__main__":
    main()
