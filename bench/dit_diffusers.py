#!/usr/bin/env python3
"""Baseline for `sparse-render bench dit`: times diffusers' WanTransformer3DModel forward at one of the
project's model presets (random weights, bf16, one timestep per sample), under PyTorch's default SDPA
choice and with the flash and cuDNN backends forced. Needs torch and diffusers importable (diffusers is
not a dependency of the project: put its `src` on PYTHONPATH). One JSON line per backend.

    python3 bench/dit_diffusers.py --config conf/models/wan2.2-ti2v-5b.json --frames 121 --size 1280x704
"""
import argparse
import json
import statistics

import torch
from torch.nn.attention import SDPBackend, sdpa_kernel


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--config", default="conf/models/wan2.2-ti2v-5b.json")
    ap.add_argument("--frames", type=int, default=121)
    ap.add_argument("--size", default="1280x704")
    ap.add_argument("--batch", type=int, default=1)
    ap.add_argument("--warmups", type=int, default=1)
    ap.add_argument("--iters", type=int, default=3)
    ap.add_argument("--backends", default="default,flash,cudnn")
    a = ap.parse_args()

    from diffusers import __version__ as diffusers_version
    from diffusers.models.transformers.transformer_wan import WanTransformer3DModel

    preset = json.load(open(a.config))
    cfg = {k: v for k, v in preset["transformer"].items() if not k.startswith("_")}
    spatial = 16 if preset.get("vae") == "wan2.2" else 8
    width, height = (int(x) for x in a.size.lower().split("x"))
    lf, lh, lw = (a.frames - 1) // 4 + 1, height // spatial, width // spatial
    torch.manual_seed(0)
    torch.set_default_dtype(torch.bfloat16)
    with torch.device("cuda"):
        model = WanTransformer3DModel(**cfg).eval()
    torch.set_default_dtype(torch.float32)
    dev = "cuda"
    x = torch.randn(a.batch, cfg["in_channels"], lf, lh, lw, device=dev, dtype=torch.bfloat16)
    t = torch.full((a.batch,), 500, device=dev, dtype=torch.long)
    ctx = torch.randn(a.batch, preset.get("text_len", 512), cfg["text_dim"], device=dev, dtype=torch.bfloat16)
    tokens = lf * (lh // cfg["patch_size"][1]) * (lw // cfg["patch_size"][2])
    print(json.dumps({"impl": "diffusers", "diffusers": diffusers_version, "torch": torch.__version__,
                      "device": torch.cuda.get_device_name(), "tokens": tokens,
                      "params_b": round(sum(p.numel() for p in model.parameters()) / 1e9, 3)}), flush=True)
    choices = {"default": None, "flash": SDPBackend.FLASH_ATTENTION, "cudnn": SDPBackend.CUDNN_ATTENTION}
    for name in a.backends.split(","):
        backend = choices[name]
        ms = []
        torch.cuda.reset_peak_memory_stats()
        try:
            with torch.inference_mode(), (sdpa_kernel([backend]) if backend is not None else torch.autocast("cuda", enabled=False)):
                for i in range(a.warmups + a.iters):
                    s, e = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
                    s.record()
                    model(hidden_states=x, timestep=t, encoder_hidden_states=ctx, return_dict=False)
                    e.record()
                    torch.cuda.synchronize()
                    if i >= a.warmups:
                        ms.append(s.elapsed_time(e))
            print(json.dumps({"impl": "diffusers", "sdpa": name, "b": a.batch, "tokens": tokens,
                              "median_ms": round(statistics.median(ms), 1), "all_ms": [round(v, 1) for v in ms],
                              "peak_gib": round(torch.cuda.max_memory_allocated() / 2**30, 2)}), flush=True)
        except RuntimeError as err:
            print(json.dumps({"impl": "diffusers", "sdpa": name, "error": str(err)[:300]}), flush=True)


if __name__ == "__main__":
    main()
