"""One cross-view fusion layer: SCAM (NAFSSR) vs DEAM with the reference Sinkhorn vs DEAM with the fast one.

    python benchmarks/bench_fusion.py [--device cuda] [--threads N] [--sizes kitti ...] [--rounds 5] [--layouts]

--layouts adds SCAM and the fast DEAM computing their products through (B,H,W,C) transposes, an A/B of the
alternative layout against the (B,H,C,W) row slabs the layers use.
For each LR test size (64 channels, one pair) and for a training step (LR 30x90 patches, batch 8): best time
of the layer (inference: forward under inference_mode; training: forward + backward), its peak memory, and
the largest deviation of its output from a float64 run of the reference DEAM.
"""

from __future__ import annotations

import argparse
import sys

import torch
from benchlib import (
    SIZES,
    TRAIN_BATCH,
    TRAIN_PATCH,
    add_common_arguments,
    environment,
    markdown_table,
    peak_memory_mib,
    setup,
    time_interleaved,
)

from msinet.layers import DEAM, SCAM
from msinet.layers.sinkhorn import sinkhorn_log

CHANNELS = 64


class ReferenceDEAM(DEAM):
    """DEAM with Algorithm 1 as written (log-domain Sinkhorn): the speed and accuracy baseline."""

    def weights(self, scores):
        plan = sinkhorn_log(scores, self.sinkhorn_iters)
        return plan, plan.transpose(-1, -2)


class TransposedLayout:
    """The products via (B,H,W,C) transposes instead of row slabs, for the A/B of --layouts."""

    def scores(self, x_l, x_r):
        q_l = self.query_l(self.norm_l(x_l)).permute(0, 2, 3, 1)  # (B, H, W, C)
        q_r = self.query_r(self.norm_r(x_r)).permute(0, 2, 1, 3)  # (B, H, C, W)
        return torch.matmul(q_l, q_r) * self.scale

    def forward(self, x_l, x_r):
        v_l, v_r = self.value_l(x_l).permute(0, 2, 3, 1), self.value_r(x_r).permute(0, 2, 3, 1)
        r2l, l2r = self.weights(self.scores(x_l, x_r))
        return (
            x_l + torch.matmul(r2l, v_r).permute(0, 3, 1, 2) * self.scale_l,
            x_r + torch.matmul(l2r, v_l).permute(0, 3, 1, 2) * self.scale_r,
        )


class TransposedSCAM(TransposedLayout, SCAM):
    pass


class TransposedDEAM(TransposedLayout, DEAM):
    pass


def build_layers(device: torch.device, layouts: bool = False) -> dict[str, torch.nn.Module]:
    torch.manual_seed(0)
    scam = SCAM(CHANNELS)
    fast = DEAM(CHANNELS)
    with torch.no_grad():  # non-zero output scales, or every layer is the identity at initialisation
        for layer in (scam, fast):
            layer.scale_l.fill_(1.0)
            layer.scale_r.fill_(1.0)
    ref = ReferenceDEAM(CHANNELS)
    ref.load_state_dict(fast.state_dict())
    layers = {"SCAM": scam, "DEAM ref": ref, "DEAM fast": fast}
    if layouts:
        layers["SCAM transposed"], layers["DEAM fast transposed"] = TransposedSCAM(CHANNELS), TransposedDEAM(CHANNELS)
        layers["SCAM transposed"].load_state_dict(scam.state_dict())
        layers["DEAM fast transposed"].load_state_dict(fast.state_dict())
    return {name: layer.to(device) for name, layer in layers.items()}


def inputs(batch: int, hw: tuple[int, int], device: torch.device, grad: bool = False):
    g = torch.Generator().manual_seed(1)
    x_l, x_r = (torch.randn(batch, CHANNELS, *hw, generator=g) for _ in range(2))
    return x_l.to(device).requires_grad_(grad), x_r.to(device).requires_grad_(grad)


def inference_step(layer, x_l, x_r):
    def run():
        with torch.inference_mode():
            return layer(x_l, x_r)

    return run


def training_step(layer, x_l, x_r):
    def run():
        layer.zero_grad(set_to_none=True)
        y_l, y_r = layer(x_l, x_r)
        (y_l.square().mean() + y_r.square().mean()).backward()
        return None

    return run


def max_error_vs_float64_reference(layers, x_l, x_r) -> dict[str, float]:
    ref64 = ReferenceDEAM(CHANNELS).double()
    ref64.load_state_dict(layers["DEAM ref"].state_dict())
    ref64.to(x_l.device)
    with torch.inference_mode():
        want = ref64(x_l.double(), x_r.double())
        out = {}
        for name in ("DEAM ref", "DEAM fast"):
            got = layers[name](x_l, x_r)
            out[name] = max((g.double() - w).abs().max().item() for g, w in zip(got, want))
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_common_arguments(parser)
    parser.add_argument("--no-train", action="store_true", help="skip the forward+backward measurements")
    parser.add_argument(
        "--layouts",
        action="store_true",
        help="also time SCAM / fast DEAM computing their products via (B,H,W,C) transposes",
    )
    args = parser.parse_args(argv)
    device = setup(args)
    layers = build_layers(device, args.layouts)
    print(f"# Fusion layer, {CHANNELS} channels, 10 Sinkhorn iterations; {environment(device)}\n")

    cases = [(f"{name} {hw[0]}x{hw[1]}", 1, hw, "inference") for name, hw in SIZES.items() if name in args.sizes]
    if not args.no_train:
        cases += [(f"{name} {hw[0]}x{hw[1]}", 1, hw, "train") for name, hw in SIZES.items() if name in args.sizes]
        cases.append((f"patch {TRAIN_PATCH[0]}x{TRAIN_PATCH[1]} x{TRAIN_BATCH}", TRAIN_BATCH, TRAIN_PATCH, "train"))

    rows = []
    for label, batch, hw, mode in cases:
        x_l, x_r = inputs(batch, hw, device, grad=mode == "train")
        step = inference_step if mode == "inference" else training_step
        fns = {name: step(layer, x_l, x_r) for name, layer in layers.items()}
        ms = time_interleaved(fns, device, args.rounds)
        mem = {name: peak_memory_mib(fn, device) for name, fn in fns.items()}
        err = max_error_vs_float64_reference(layers, x_l.detach(), x_r.detach()) if mode == "inference" else {}
        for name in layers:
            rows.append([label, mode, name, ms[name], ms[name] / ms["SCAM"], mem[name], err.get(name, float("nan"))])
        print(f"  {label} {mode}: " + ", ".join(f"{n} {ms[n]:.1f} ms" for n in layers), file=sys.stderr)

    print(markdown_table(["size (H x W)", "mode", "layer", "ms", "x SCAM", "peak MiB", "max err vs f64 ref"], rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
