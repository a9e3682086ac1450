"""One GPU session on a bare device machine, inside a fixed wall-clock budget; every result under --out.

    bash benchmarks/gpu_session.sh                      # on the device (see that file): installs the carried
                                                        # wheels, then runs this with --out $OUT
    python benchmarks/gpu_session.py --out DIR --rehearse   # the same steps at toy sizes on the CPU (tests)

Reads only the repository and the pack that benchmarks/gpu_pack.py wrote (.gpu/: the training and validation
pairs as lossless WebP, the weights to start from); msinet is imported from src/ with no install.

  (a) doctor      `msinet doctor` on the device: each fast path against its reference          (<= 45 s)
  (b) probe       patch pairs per second of a training step (fp32 + TF32) at batch 32 / 64 / 128 on
                  synthetic patches, and of the data pipeline; bf16 autocast is allowed only if its weight
                  gradients at the starting weights agree with fp32's (cosine >= 0.99) and it is faster
  (c) train       x4 warm-started from the pack's weights (EMA continued at full decay), a schedule sized from
                  the probe to end inside the budget (short warm-up, cosine to the end), validation on the
                  pack's validation pairs every ~2 minutes and at the end
  (d) benchmarks  bench_models.py and bench_train.py on the device in what is left                  (<= 60 s)

Files under --out (the device returns at most 8): session.log (everything printed), tables.md (doctor, probe,
validation curve, benchmark tables), x4_best.safetensors (EMA weights of the best validation, rewritten at each
improvement, so a run cut short still returns them), x4_final.safetensors (EMA weights at the schedule's end),
metrics.jsonl.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

T0 = time.monotonic()


def elapsed() -> float:
    return time.monotonic() - T0


class Session:
    def __init__(self, out: Path, budget: float, rehearse: bool, pack: Path):
        self.out, self.budget, self.rehearse, self.pack = out, budget, rehearse, pack
        self.tables = out / "tables.md"
        self.failures: list[str] = []

    def log(self, text: str) -> None:
        print(f"[{elapsed():6.1f} s] {text}", flush=True)

    def table(self, title: str, body: str) -> None:
        with self.tables.open("a") as f:
            f.write(f"\n## {title}\n\n{body.rstrip()}\n")
        print(body.rstrip(), flush=True)

    def left(self) -> float:
        return self.budget - elapsed()

    def command(self, title: str, args: list[str], limit: float) -> None:
        """A subprocess with a time limit whose output becomes a table; a failure is recorded, never fatal."""
        limit = max(5.0, min(limit, self.left() - 10))
        self.log(f"{title}: {' '.join(args)} (limit {limit:.0f} s)")
        env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT / "src"), os.environ.get("PYTHONPATH", "")]))
        try:
            done = subprocess.run(
                [sys.executable, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=limit
            )
            text, rc = done.stdout + (f"\n(stderr)\n{done.stderr[-3000:]}" if done.returncode else ""), done.returncode
        except subprocess.TimeoutExpired as exc:
            out = exc.stdout.decode() if isinstance(exc.stdout, bytes) else (exc.stdout or "")
            text, rc = out + f"\n(stopped at its {limit:.0f} s limit)", "timeout"
        if rc not in (0,):
            self.failures.append(f"{title}: exit {rc}")
        self.table(f"{title} (exit {rc}, {elapsed():.0f} s into the session)", f"```\n{text}\n```")


# ------------------------------------------------------------------------------------------------ config
def session_config(pack: Path, out: Path, rehearse: bool) -> dict:
    """The CPU run's config with its data folders mapped to the pack, warm-started from the pack's weights."""
    from msinet.train.config import load_config

    manifest = json.loads((pack / "pack.json").read_text())
    config = load_config(ROOT / manifest["config"])
    root_pack = pack.resolve()
    mapped = {k: str(root_pack / "data" / Path(v).name) for k, v in manifest["folders"].items()}
    for key in ("train", "val"):
        missing = [name for name in config["data"][key] if name not in mapped]
        if missing:
            raise SystemExit(f"gpu_session: {pack}/pack.json lacks {missing[0]} (run benchmarks/gpu_pack.py again)")
        config["data"][key] = [mapped[name] for name in config["data"][key]]
    config["name"] = "gpu_x4"
    config["model"]["init"] = str(root_pack / "start.safetensors")
    config["checkpoint"].update(carry=str(out / "x4_best.safetensors"), every=10**9, keep=1)
    config["log"].update(
        out_dir=str(Path(os.environ.get("TMPDIR", "/tmp")) / f"gpu_session_{os.getpid()}"),
        tensorboard=False,
        progress=False,
    )
    # memory_check off: each chunk's fit() would re-run it while the caching allocator holds the last chunk's
    # memory (seen on the H200: "needs 100 GiB but 60.8 GiB free" before the second chunk); the probe has run
    # the chosen batch already
    config["train"].update(
        device="cpu" if rehearse else "cuda", channels_last=False, tf32=True, precision="fp32", memory_check=False
    )
    if rehearse:
        config["data"].update(lr_patch=[8, 24], hr_scales=[1.0], workers=0)
    else:
        config["data"]["workers"] = max(2, min(12, (os.cpu_count() or 4) - 3))
    return config


# ------------------------------------------------------------------------------------------------ probe
def probe(session: Session, config: dict) -> dict:
    """Patch pairs/s of a training step per batch size (synthetic patches on the device) and of the data
    pipeline; the batch and precision to train with."""
    import torch
    from torch.utils.data import DataLoader

    from msinet.data.train_patches import StereoPatches
    from msinet.registry import create_model
    from msinet.runtime.precision import autocast
    from msinet.train.loss import StereoSRLoss
    from msinet.train.trainer import build_optimizer
    from msinet.train.warm_start import warm_start

    device = torch.device(config["train"]["device"])
    if device.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = True
        torch.backends.cudnn.benchmark = True
    d = config["data"]
    h, w = d["lr_patch"]
    batches = (1, 2) if session.rehearse else (32, 64, 128)
    timed = 1 if session.rehearse else 12
    loss_fn = StereoSRLoss(config["loss"]["freq_weight"])

    def fresh():
        model = create_model(config["model"]["name"], **config["model"]["options"])
        warm_start(model, config["model"]["init"])
        return model.to(device).train()

    def synthetic(b, seed=0):
        g = torch.Generator().manual_seed(seed)
        lr = [torch.rand(b, 3, h, w, generator=g) for _ in range(2)]
        hr = [torch.nn.functional.interpolate(v, scale_factor=4, mode="bicubic").clamp(0, 1) for v in lr]
        return [v.to(device) for v in (*lr, *hr)]

    def sync():
        if device.type == "cuda":
            torch.cuda.synchronize()

    def rate(b, precision):
        model = fresh()
        opt = build_optimizer(model.parameters(), config["optim"])
        lr_l, lr_r, hr_l, hr_r = synthetic(b)
        for i in range(2 + timed):
            if i == 2:
                sync()
                start = time.perf_counter()
            with autocast(device, precision):
                sr = model(lr_l, lr_r)
            loss = loss_fn(tuple(v.float() for v in sr), (hr_l, hr_r))
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        sync()
        return b * timed / (time.perf_counter() - start)

    rows, rates = ["| batch | precision | patch pairs / s | steps / s |", "|---|---|---|---|"], {}
    for b in batches:
        try:
            rates[b] = rate(b, "fp32")
            rows.append(f"| {b} | fp32 + TF32 | {rates[b]:.0f} | {rates[b] / b:.2f} |")
        except torch.OutOfMemoryError:
            rows.append(f"| {b} | fp32 + TF32 | out of memory | - |")
        session.log(rows[-1])
    if not rates:
        raise SystemExit("gpu_session: no batch size fits the device")

    # bf16: its gradients at the starting weights against fp32's, on one batch of real-looking patches
    model = fresh()
    lr_l, lr_r, hr_l, hr_r = synthetic(max(rates), seed=1)
    grads = {}
    for precision in ("fp32", "bf16"):
        model.zero_grad(set_to_none=True)
        with autocast(device, precision):
            sr = model(lr_l, lr_r)
        loss_fn(tuple(v.float() for v in sr), (hr_l, hr_r)).backward()
        grads[precision] = torch.cat(
            [(torch.zeros_like(p) if p.grad is None else p.grad).flatten().double() for p in model.parameters()]
        )
    cosine = float(torch.nn.functional.cosine_similarity(grads["fp32"], grads["bf16"], dim=0))
    best_fp32 = max(rates, key=rates.get)
    bf16_rate = rate(best_fp32, "bf16")
    rows.append(f"| {best_fp32} | bf16 autocast | {bf16_rate:.0f} | {bf16_rate / best_fp32:.2f} |")
    use_bf16 = cosine >= 0.99 and bf16_rate > 1.1 * rates[best_fp32]

    # the data pipeline: samples/s of the training DataLoader with the session's workers
    dataset = StereoPatches.from_folders(d["train"], scale=4, lr_patch=d["lr_patch"], seed=0, hr_scales=d["hr_scales"])
    loader = DataLoader(
        dataset,
        batch_size=max(rates),
        num_workers=d["workers"],
        sampler=range(10**9),
        prefetch_factor=4 if d["workers"] else None,
    )
    it = iter(loader)
    next(it)
    start, n = time.perf_counter(), 0
    while time.perf_counter() - start < (0.5 if session.rehearse else 4.0):
        n += len(next(it)[0])
    data_rate = n / (time.perf_counter() - start)
    del it, loader

    # the batch with the most patch pairs/s the whole pipeline can feed; the smaller batch when within 5 %
    fed = {b: min(r, data_rate) for b, r in rates.items()}
    top = max(fed.values())
    batch = min(b for b, r in fed.items() if r >= 0.95 * top)
    rows += [
        "",
        f"data pipeline ({d['workers']} workers): {data_rate:.0f} patch pairs / s",
        f"bf16 vs fp32 weight gradients at the starting weights: cosine {cosine:.4f} "
        f"({'bf16 allowed' if cosine >= 0.99 else 'bf16 refused'}, needs >= 0.99)",
        f"chosen: batch {batch}, {'bf16 autocast' if use_bf16 else 'fp32 + TF32'}, "
        f"about {fed[batch] / batch:.2f} steps / s",
    ]
    session.table("(b) throughput probe", "\n".join(rows))
    del model, grads
    if device.type == "cuda":
        torch.cuda.empty_cache()
    return {"batch": batch, "precision": "bf16" if use_bf16 else "fp32", "steps_per_s": fed[batch] / batch}


# ------------------------------------------------------------------------------------------------ training
def train(session: Session, config: dict, choice: dict, seconds: float) -> None:
    """Train for `seconds` of wall clock. The schedule's length is first sized from the probe, then re-sized once
    from the rate of a first short chunk (data loading, gradient checks and validation included: the cosine
    reads train.steps at every step, so it then ends where the time does); chunks end at validation steps, and
    a chunk that would pass the deadline is not started (the best EMA weights are already under --out)."""
    from msinet.train.trainer import Trainer

    steps = 4 if session.rehearse else max(20, int(choice["steps_per_s"] * 0.85 * seconds))
    every = 2 if session.rehearse else max(10, int(choice["steps_per_s"] * 0.85 * 120))
    config["train"].update(batch_size=choice["batch"], precision=choice["precision"], steps=steps)
    config["scheduler"].update(warmup_steps=min(100, steps // 20), eta_min=1e-7)
    config["val"]["every"] = every
    config["log"]["every"] = max(1, min(50, every // 4))
    deadline = time.monotonic() + seconds
    session.log(
        f"(c) train: {steps} steps of batch {choice['batch']} ({choice['precision']}) planned, validation "
        f"every {every} steps, budget {seconds:.0f} s"
    )
    trainer = Trainer(config, force=True)
    if trainer.ema is not None:
        trainer.ema.warmup = False  # continue the carried average at full decay
    tic = time.monotonic()
    start = trainer.validate(_Quiet(session))  # step 0: the starting weights, the bar the run has to beat
    val_seconds = time.monotonic() - tic
    first = 2 if session.rehearse else max(10, int(choice["steps_per_s"] * 45))
    while trainer.step < trainer.config["train"]["steps"]:
        total = trainer.config["train"]["steps"]
        target = min(total, first if trainer.step == 0 else (trainer.step // every + 1) * every)
        tic, before = time.monotonic(), trainer.step
        trainer.fit(stop_after=target - before)
        chunk = time.monotonic() - tic
        if before == 0:  # re-size the schedule from the measured rate (validations to come included)
            rate = (trainer.step - before) / chunk
            left = deadline - time.monotonic()
            vals = left / 120 + 1
            resized = max(trainer.step + 1, int(rate * (left - vals * val_seconds) * 0.95))
            resized = min(resized, 4) if session.rehearse else resized
            trainer.config["train"]["steps"] = resized
            session.log(
                f"measured {rate:.2f} steps/s over the first {trainer.step} steps; schedule re-sized to "
                f"{resized} steps (was {total})"
            )
        elif trainer.step < total and time.monotonic() + chunk > deadline:
            session.log(f"stopping at step {trainer.step} of {total}: the next chunk would pass the deadline")
            trainer.validate(_Quiet(session))
            break
    run_dir = Path(trainer.run_dir)
    if (run_dir / "final.safetensors").is_file():
        shutil.copyfile(run_dir / "final.safetensors", session.out / "x4_final.safetensors")
    if (run_dir / "metrics.jsonl").is_file():
        shutil.copyfile(run_dir / "metrics.jsonl", session.out / "metrics.jsonl")
        vals = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines() if "val_psnr" in line]
        vals = ([{"step": 0, **start}] if start else []) + vals
        rows = ["| step | val PSNR (dB) | gain over bicubic (dB) | SSIM |", "|---|---|---|---|"]
        rows += [f"| {v['step']} | {v['val_psnr']:.3f} | {v['val_gain_db']:+.3f} | {v['val_ssim']:.4f} |" for v in vals]
        session.table(
            f"(c) x4 training: {trainer.step} steps of batch {choice['batch']} ({choice['precision']}), "
            f"validation (EMA weights)",
            "\n".join(rows),
        )
    shutil.rmtree(run_dir, ignore_errors=True)


class _Quiet:
    """The logger interface Trainer.validate needs, printing through the session."""

    def __init__(self, session: Session):
        self.session = session

    def record(self, step, values, show=False):
        self.session.log(f"validation at step {step}: {values}")

    def images(self, *args):
        pass

    def info(self, text):
        self.session.log(text)


# ------------------------------------------------------------------------------------------------ main
def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True, type=Path)
    parser.add_argument("--seconds", type=float, default=540.0, help="wall-clock budget of the whole session")
    parser.add_argument("--pack", type=Path, default=ROOT / ".gpu")
    parser.add_argument("--rehearse", action="store_true", help="toy sizes on the CPU (what the tests run)")
    args = parser.parse_args(argv)
    out = args.out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    if not (args.pack / "pack.json").is_file():
        raise SystemExit(f"gpu_session: no pack at {args.pack} (run benchmarks/gpu_pack.py first)")
    session = Session(out, args.seconds, args.rehearse, args.pack)

    import torch

    session.log(
        f"python {sys.version.split()[0]}, torch {torch.__version__}, cuda "
        f"{torch.cuda.get_device_name(0) if torch.cuda.is_available() else 'none'}; budget {args.seconds:.0f} s"
    )
    if not args.rehearse and not torch.cuda.is_available():
        raise SystemExit("gpu_session: no CUDA device (use --rehearse for the CPU rehearsal)")
    device = "cpu" if args.rehearse else "cuda"

    session.command(
        "(a) msinet doctor",
        ["-m", "msinet", "doctor", "--device", device, "--seconds", "0" if args.rehearse else "3"],
        limit=45,
    )
    config = session_config(args.pack, out, args.rehearse)
    try:
        choice = probe(session, config)
    except Exception as exc:  # the training still runs, at the default batch of 32
        session.failures.append(f"probe: {type(exc).__name__}: {exc}")
        session.log(f"probe failed ({type(exc).__name__}: {exc}); training at batch 32, fp32, 3 steps/s assumed")
        choice = {"batch": 2 if args.rehearse else 32, "precision": "fp32", "steps_per_s": 3.0}
    bench_reserve = 15 if args.rehearse else 75
    train(session, config, choice, seconds=max(10.0, session.left() - bench_reserve))
    if torch.cuda.is_available():  # the benchmarks run in processes of their own: give them the cached memory
        torch.cuda.empty_cache()  # (else bench_train can run out of memory beside the cached 78 GiB, seen on an H200)

    if args.rehearse:
        models, train_args = (
            ["--models", "bicubic_x4", "--rounds", "1", "--no-train"],
            [
                "--models",
                "msinet_tiny_x4",
                "--variants",
                "eager",
                "--rounds",
                "1",
                "--batch",
                "1",
                "--patch",
                "8",
                "24",
            ],
        )
    else:
        models, train_args = (
            ["--device", "cuda", "--sizes", "kitti", "--rounds", "2", "--no-train"],
            [
                "--device",
                "cuda",
                "--models",
                "msinet_small_x4",
                "--variants",
                "eager",
                "bf16",
                "--rounds",
                "3",
                "--batch",
                str(choice["batch"]),
            ],
        )
    session.command("(d) bench_train.py", ["benchmarks/bench_train.py", *train_args], limit=session.left() / 2 - 5)
    session.command("(d) bench_models.py", ["benchmarks/bench_models.py", *models], limit=session.left() - 5)
    session.log(f"session done; failures: {session.failures or 'none'}")
    return 1 if session.failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
