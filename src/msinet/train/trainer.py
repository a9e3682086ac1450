"""The training loop: one CPU, one GPU, or many processes under torchrun (DDP), resumable bit for bit.

    trainer = Trainer(load_config("configs/msinet_tiny_x4.yaml"), resume="auto")
    summary = trainer.fit()

Each global step draws the same samples whatever the launch (msinet.runtime.distributed.StepSampler), so
N processes with batch G/N each take the same steps as one process with batch G (DDP averages gradients).
"""

from __future__ import annotations

import math
import os
import random
import shutil
import signal
import threading
import time
import warnings
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader

from ..data.train_patches import StereoPatches, find_pairs, load_rgb_pair
from ..models.weights import save_weights
from ..registry import create_model
from ..runtime.devices import resolve_device
from ..runtime.distributed import StepSampler, all_mean, barrier, broadcast_object, init_world
from ..runtime.precision import auto_training_precision, autocast
from . import checkpoint as ckpt
from .config import dump_config
from .ema import EMA
from .logging import RunLogger
from .loss import StereoSRLoss
from .warm_start import warm_start

RUN_FILES = ("config.yaml", "metrics.jsonl", "checkpoints", "tensorboard", "best.safetensors", "final.safetensors")


def cosine_factor(step: int, total: int, warmup: int, floor: float) -> float:
    """lr multiplier at `step`: linear warm-up, then cosine from 1 to `floor` (= eta_min / lr) at `total`."""
    if step < warmup:
        return (step + 1) / warmup
    t = min(1.0, (step - warmup) / max(1, total - warmup))
    return floor + (1.0 - floor) * 0.5 * (1.0 + math.cos(math.pi * t))


def _interrupt_on_sigterm():
    """Treat SIGTERM (`kill`, a batch scheduler's time limit) like Ctrl-C, so the run checkpoints before it
    exits; a background job (`nohup ... &`) ignores SIGINT, so this is how such a run is stopped cleanly.
    Returns the previous handler, or None where handlers cannot be set (not the main thread)."""
    if threading.current_thread() is not threading.main_thread():
        return None

    from ..runtime.interrupts import Terminated

    def handler(signum, frame):
        raise Terminated(f"signal {signum}")

    return signal.signal(signal.SIGTERM, handler)


def _worker_ignores_interrupts(worker_id: int) -> None:
    """DataLoader workers leave SIGINT/SIGTERM to the training process: Ctrl-C in a terminal, `kill -- -PGID` or
    `pkill -f` reach the whole group, and a worker killed first made the trainer die on "DataLoader worker
    killed" instead of checkpointing. Workers still exit when the loader shuts down or the trainer dies."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)


def build_optimizer(params, optim: dict) -> torch.optim.Optimizer:
    lr, betas, wd = optim["lr"], tuple(optim["betas"]), optim["weight_decay"]
    if optim["name"] == "lion":
        from ..runtime.extras import require

        Lion = require("lion_pytorch", "the Lion optimizer").Lion  # lucidrains' reference implementation

        return Lion(params, lr=lr, betas=betas, weight_decay=wd)
    if optim["name"] == "adamw":
        return torch.optim.AdamW(params, lr=lr, betas=betas, weight_decay=wd)
    if optim["name"] == "adam":
        return torch.optim.Adam(params, lr=lr, betas=betas, weight_decay=wd)
    # plain SGD (momentum = betas[0]) is linear in the gradients: the DDP equivalence test relies on that
    return torch.optim.SGD(params, lr=lr, momentum=betas[0], weight_decay=wd)


def prepare_run_dir(run_dir: Path, resuming: bool, force: bool) -> None:
    """Refuse to overwrite an existing run unless forced; with force, remove only what a run writes."""
    if resuming or not run_dir.exists():
        return
    present = [name for name in RUN_FILES if (run_dir / name).exists()]
    others = [p.name for p in run_dir.iterdir() if p.name not in RUN_FILES]
    if not present and not others:
        return
    if not force:
        raise FileExistsError(
            f"run folder {run_dir} already exists; use --resume auto to continue it or --force to start over"
        )
    if others and not present:
        raise FileExistsError(
            f"{run_dir} is not a training run folder (it holds {', '.join(sorted(others)[:3])}); "
            f"refusing to clear it even with --force: choose another log.out_dir or name"
        )
    for name in present:
        path = run_dir / name
        shutil.rmtree(path) if path.is_dir() else path.unlink()


class Trainer:
    def __init__(self, config: dict, resume: str | None = None, force: bool = False):
        self.config = config
        if not config["data"]["train"]:
            raise ValueError("config: 'data.train' is empty; name at least one folder of stereo pairs")
        self._setup_runtime()
        self.resume_from = self._plan_run_folder(resume, force)
        self._build_model()
        self._build_data()
        self._build_optimisation()
        self._restore(resume)
        self._wrap_for_steps()

    # ----------------------------------------------------------------- construction, step by step
    def _setup_runtime(self) -> None:
        """Device, process world, precision and the backends' numeric switches."""
        t = self.config["train"]
        device = resolve_device(t["device"])
        if t["precision"] == "fp16" and device.type != "cuda":
            raise ValueError("config: 'train.precision' fp16 needs a CUDA device (use bf16 or fp32 on CPU)")
        self.world = init_world(device.type)
        self.device = torch.device(f"cuda:{self.world.local_rank}") if device.type == "cuda" else device
        from_scratch = not (self.config["model"]["init"] or self.config["checkpoint"]["carry"])
        self.precision = (
            auto_training_precision(self.device, from_scratch) if t["precision"] == "auto" else t["precision"]
        )
        if t["deterministic"]:
            os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
            torch.use_deterministic_algorithms(True)
            torch.backends.cudnn.benchmark = False
        elif self.device.type == "cuda":
            torch.backends.cudnn.benchmark = True
        if self.device.type == "cuda":
            torch.backends.cuda.matmul.allow_tf32 = t["tf32"]
            torch.backends.cudnn.allow_tf32 = t["tf32"]

    def _plan_run_folder(self, resume: str | None, force: bool) -> Path | None:
        """The run folder is prepared and the checkpoint to resume is chosen by rank 0, then shared."""
        self.run_dir = Path(self.config["log"]["out_dir"]) / self.config["name"]
        plan = None
        if self.world.is_main:
            try:
                path = ckpt.resolve_resume(resume, self.run_dir)
                prepare_run_dir(self.run_dir, resuming=resume is not None, force=force)
                self.run_dir.mkdir(parents=True, exist_ok=True)
                plan = ("ok", None if path is None else str(path))
            except (ValueError, OSError) as exc:
                plan = ("error", f"{type(exc).__name__}:{exc}")
        plan = broadcast_object(plan, self.world)
        if plan[0] == "error":
            kind, _, message = plan[1].partition(":")
            raise (
                FileExistsError
                if kind == "FileExistsError"
                else FileNotFoundError
                if kind == "FileNotFoundError"
                else ValueError
            )(message)
        return None if plan[1] is None else Path(plan[1])

    def _build_model(self) -> None:
        """Seeds, the model (warm-started from model.init unless resuming), its device and memory format."""
        t, m = self.config["train"], self.config["model"]
        random.seed(t["seed"])
        torch.manual_seed(t["seed"])
        np.random.seed(t["seed"] % 2**32)
        self.model = create_model(m["name"], **m["options"])
        self.init_skipped: list[str] = []
        if m["init"] and self.resume_from is None:
            self.init_skipped = warm_start(self.model, m["init"], m["init_partial"])
        self.model = self.model.to(self.device)
        self.scale = self.model.scale
        if t["checkpoint_blocks"]:
            if not self.model.supports_checkpoint_blocks:
                raise ValueError(f"config: 'train.checkpoint_blocks' is not supported by {m['name']}")
            self.model.checkpoint_blocks = True
        self.memory_format = torch.channels_last if t["channels_last"] else torch.contiguous_format
        self.model.to(memory_format=self.memory_format)

    def _build_data(self) -> None:
        """Training patches of the data.train folders; validation pairs of data.val (one pair scanner)."""
        t, d = self.config["train"], self.config["data"]
        self.dataset = StereoPatches.from_folders(
            d["train"],
            scale=self.scale,
            lr_patch=d["lr_patch"],
            seed=t["seed"],
            hflip=d["hflip"],
            vflip=d["vflip"],
            rgb_perm=d["rgb_perm"],
            hr_scales=d["hr_scales"],
            degradation=d["degradation"],
        )
        self.val_pairs = [pair for folder in d["val"] for pair in find_pairs(folder)][: d["val_max_pairs"]]

    def _build_optimisation(self) -> None:
        """Loss, optimizer, learning-rate schedule, EMA of the weights, fp16 gradient scaler."""
        t, o, s = self.config["train"], self.config["optim"], self.config["scheduler"]
        self.loss_fn = StereoSRLoss(self.config["loss"]["freq_weight"])
        self.optimizer = build_optimizer(self.model.parameters(), o)
        floor = s["eta_min"] / o["lr"] if s["name"] == "cosine" else 1.0
        self.scheduler = torch.optim.lr_scheduler.LambdaLR(
            self.optimizer, lambda step: cosine_factor(step, t["steps"], s["warmup_steps"], floor)
        )
        self.ema = EMA(self.model, t["ema_decay"]) if t["ema_decay"] > 0 else None
        self.scaler = torch.amp.GradScaler("cuda", enabled=self.precision == "fp16")

    def _restore(self, resume: str | None) -> None:
        """Step, best score and states from the checkpoint to resume, else from the carry file (--resume auto)."""
        self.step = 0
        self.best = -math.inf
        self.carried_from = None
        carry = self.config["checkpoint"]["carry"]
        if self.resume_from is not None:
            self._load(self.resume_from)
        elif resume == "auto" and carry and Path(carry).is_file():
            self._load_carry(Path(carry))

    def _wrap_for_steps(self) -> None:
        """What runs the steps: the model itself, wrapped by DDP under torchrun, compiled on CUDA if asked."""
        t = self.config["train"]
        self.ddp_model = self.model
        if self.world.distributed:
            from torch.nn.parallel import DistributedDataParallel

            drop_path = self.model.drop_path_rate > 0  # skipped blocks leave unused parameters
            self.ddp_model = DistributedDataParallel(
                self.model,
                device_ids=[self.device.index] if self.device.type == "cuda" else None,
                find_unused_parameters=drop_path,
            )
        self.notices: list[str] = []
        self.step_model = self.ddp_model
        if t["compile"] != "off":
            if self.device.type != "cuda":  # inductor on CPU compiles for minutes and measured no faster
                self.notices.append(f"train.compile={t['compile']} is for CUDA; training eagerly on {self.device.type}")
            else:
                self.model.static_drop_path = True  # no Python branch on a device value inside the graph
                self.step_model = torch.compile(
                    self.ddp_model, mode=None if t["compile"] == "default" else t["compile"]
                )

    # ----------------------------------------------------------------- checkpoints
    def _state(self) -> dict:
        return {
            "step": self.step,
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict(),
            "scaler": self.scaler.state_dict(),
            "ema": None if self.ema is None else self.ema.state_dict(),
            "rng": ckpt.rng_state(),
            "data_position": {"global_samples": self.step * self.config["train"]["batch_size"]},
            "best": self.best,
            "world_size": self.world.size,
        }

    def _save(self) -> None:
        if self.world.is_main:
            ckpt.save_checkpoint(
                self.run_dir,
                self.step,
                self.model,
                self._state(),
                None if self.ema is None else self.ema.model,
                self.config["checkpoint"]["keep"],
            )
        barrier(self.world)

    def _load(self, path: Path) -> None:
        from ..models.loading import load_into

        state = ckpt.load_state(path)
        load_into(self.model, path / "model.safetensors")
        if self.ema is not None:
            if state["ema"] is None or not (path / "ema.safetensors").is_file():
                raise ValueError(f"{path}: the checkpoint has no EMA weights but train.ema_decay is set")
            load_into(self.ema.model, path / "ema.safetensors")
            self.ema.load_state_dict(state["ema"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        self.scaler.load_state_dict(state["scaler"])
        ckpt.set_rng_state(state["rng"])
        self.step, self.best = state["step"], state["best"]

    def _load_carry(self, path: Path) -> None:
        """Continue from the carried weights: model and EMA from them, step and best from their metadata;
        the optimizer starts fresh and the schedule is advanced to the step."""
        from ..models.loading import load_into
        from ..models.weights import read_safetensors

        metadata = read_safetensors(path)[1]
        try:
            step, best = int(metadata["step"]), float(metadata["val_psnr"])
        except (KeyError, ValueError):
            raise ValueError(
                f"config: 'checkpoint.carry' {path}: no step/val_psnr in its metadata (not written by a training run)"
            ) from None
        load_into(self.model, path)
        if self.ema is not None:
            load_into(self.ema.model, path)
            self.ema.warmup = False  # the carried weights are an average already: continue it at full decay
        with warnings.catch_warnings():  # the schedule is moved to `step` before any optimizer step, on purpose
            warnings.simplefilter("ignore", UserWarning)
            self.scheduler.last_epoch = step - 1
            self.scheduler.step()
        self.step, self.best, self.carried_from = step, best, path

    def _write_carry(self, model) -> None:
        carry = self.config["checkpoint"]["carry"]
        if carry:
            save_weights(
                model,
                carry,
                overwrite=True,
                extra_metadata={"step": self.step, "val_psnr": f"{self.best:.4f}", "run": self.config["name"]},
            )

    # ----------------------------------------------------------------- validation
    def eval_model(self):
        return self.model if self.ema is None else self.ema.model

    def validate(self, logger: RunLogger) -> dict | None:
        if not self.val_pairs:
            return None
        from .heldout import evaluate_pair, to_tensor

        result = None
        if self.world.is_main:
            model = self.eval_model()
            was_training = model.training
            model.eval()
            rows = [
                evaluate_pair(model, *load_rgb_pair(l, r), self.scale, self.device, self.config["data"]["degradation"])
                for l, r in self.val_pairs
            ]
            model.train(was_training)
            result = {k: float(np.mean([r[k] for r in rows])) for k in ("psnr", "ssim", "bicubic_psnr")}
            result = {
                "val_psnr": result["psnr"],
                "val_ssim": result["ssim"],
                "val_gain_db": result["psnr"] - result["bicubic_psnr"],
            }
            if result["val_psnr"] > self.best:
                self.best = result["val_psnr"]
                save_weights(
                    model,
                    self.run_dir / "best.safetensors",
                    overwrite=True,
                    extra_metadata={"step": self.step, "val_psnr": f"{self.best:.4f}"},
                )
                self._write_carry(model)
            logger.record(self.step, result, show=False)
            logger.images(self.step, "val/sr_left", to_tensor(rows[0]["sr_left"], "cpu")[0])
            logger.info(
                f"step {self.step}: val PSNR {result['val_psnr']:.3f} dB ({result['val_gain_db']:+.3f} "
                f"over bicubic), SSIM {result['val_ssim']:.4f}, best {self.best:.3f}"
            )
        barrier(self.world)
        self.best = broadcast_object(self.best, self.world)
        return result

    # ----------------------------------------------------------------- memory
    def check_memory(self) -> int | None:
        """Estimated peak bytes of a training step (activations counted on one sample); raises
        MemoryBudgetError with one line of advice if it exceeds train.memory_budget_gb or the free memory."""
        from ..runtime.devices import free_memory_bytes
        from .memory import GIB, check_fits, count_saved_activations, fixed_bytes

        t, d = self.config["train"], self.config["data"]
        if not t["memory_check"]:
            return None
        h, w = d["lr_patch"]
        g = torch.Generator().manual_seed(0)  # not the global RNG: the run's random stream stays untouched
        lr = [torch.rand(1, 3, h, w, generator=g).to(self.device) for _ in range(2)]
        hr = [torch.rand(1, 3, h * self.scale, w * self.scale, generator=g).to(self.device) for _ in range(2)]
        model, saved = self.model, (self.model.checkpoint_blocks, self.model.drop_path_rate, self.model.training)
        model.checkpoint_blocks, model.drop_path_rate = False, 0.0  # every block, each counted once
        model.train()

        def run():
            with self._autocast():
                sr = model(*lr)
            return self.loss_fn(tuple(v.float() for v in sr), tuple(hr))

        try:
            count = count_saved_activations(run, model.repeated_blocks(), exclude=list(model.parameters()))
        finally:
            model.checkpoint_blocks, model.drop_path_rate = saved[:2]
            model.train(saved[2])
        if t["memory_budget_gb"] > 0:
            budget, where = int(t["memory_budget_gb"] * GIB), "train.memory_budget_gb"
        else:  # processes of a CPU launch share the host's memory
            budget = free_memory_bytes(self.device) // (self.world.size if self.device.type == "cpu" else 1)
            where = f"{self.device}" + (" (free, per process)" if self.world.size > 1 else " (free)")
        local = max(1, t["batch_size"] // self.world.size)
        return check_fits(
            count,
            local,
            t["checkpoint_blocks"],
            fixed_bytes(model, self.config["optim"]["name"], self.config["data"]["workers"]),
            budget,
            where,
            d["lr_patch"],
            self.world.size,
            model.supports_checkpoint_blocks,
        )

    def _autocast(self):
        return autocast(self.device, self.precision)

    def _start_description(self) -> str:
        if self.resume_from:
            return f"resumed from {self.resume_from} at step {self.step}"
        if self.carried_from:
            return (
                f"continued from the carried weights {self.carried_from} at step {self.step} "
                f"(best {self.best:.3f} dB; fresh optimizer state)"
            )
        init = self.config["model"]["init"]
        if not init:
            return "fresh start"
        kept = (
            f" ({len(self.init_skipped)} tensors kept their random init: {', '.join(self.init_skipped[:4])})"
            if self.init_skipped
            else ""
        )
        return f"initialised from {init}{kept}"

    # ----------------------------------------------------------------- gradients
    MAX_SKIPPED_IN_A_ROW = 10
    skipped_steps = 0
    _skipped_in_a_row = 0

    def _gradients_finite(self, clip: float) -> bool:
        """Clip the gradients (if `clip`) and say whether they are all finite. A step with a NaN or inf gradient is
        skipped whole (no optimizer or EMA update): Lion takes the sign of its momentum and sign(NaN) = 0, so one
        NaN would otherwise freeze every weight for the rest of the run without a word (seen with bf16 autocast +
        channels_last on a CPU: oneDNN's dilated depthwise weight gradient). fp16's GradScaler skips such steps
        itself and lowers its scale. Ten skipped steps in a row stop the run with advice."""
        if self.scaler.is_enabled():
            if clip > 0:
                self.scaler.unscale_(self.optimizer)
                torch.nn.utils.clip_grad_norm_(self.model.parameters(), clip)
            return True
        grads = [p.grad for p in self.model.parameters() if p.grad is not None]
        norm = (
            torch.nn.utils.clip_grad_norm_(self.model.parameters(), clip)
            if clip > 0
            else torch.nn.utils.get_total_norm(grads)
        )
        if bool(torch.isfinite(norm)):
            self._skipped_in_a_row = 0
            return True
        self.skipped_steps += 1
        self._skipped_in_a_row += 1
        if self._skipped_in_a_row >= self.MAX_SKIPPED_IN_A_ROW:
            raise FloatingPointError(
                f"gradients were not finite in {self._skipped_in_a_row} steps in a row (by step "
                f"{self.step + 1}); use train.precision=fp32, train.channels_last=false or a "
                f"lower optim.lr"
            )
        return False

    # ----------------------------------------------------------------- loop
    def fit(self, stop_after: int | None = None) -> dict:
        """Train to train.steps (or `stop_after` more steps, then checkpoint and return)."""
        total = self.config["train"]["steps"]
        end = total if stop_after is None else min(total, self.step + stop_after)
        logger = self._open_log(total)
        batches = iter(self._loader())
        start_time, start_step = time.perf_counter(), self.step
        self._loss_window, self._loss_steps, self.last_loss = (
            torch.zeros((), dtype=torch.float64, device=self.device),
            0,
            float("nan"),
        )
        self.ddp_model.train()
        previous_handler = _interrupt_on_sigterm()
        try:
            while self.step < end:
                lr_now = self._train_step(next(batches))
                logger.step()
                self._after_step(logger, lr_now, end, total)
        except KeyboardInterrupt:
            if not self.world.distributed and self.step > start_step:
                self._save()  # so `--resume auto` continues from here
                logger.info(f"interrupted: checkpoint saved at step {self.step}")
            raise
        finally:
            if previous_handler is not None:
                signal.signal(signal.SIGTERM, previous_handler)
            logger.close()
            del batches
        elapsed = time.perf_counter() - start_time
        if self.world.is_main and self.step == total:
            save_weights(
                self.eval_model(),
                self.run_dir / "final.safetensors",
                overwrite=True,
                extra_metadata={"step": self.step},
            )
        return {
            "step": self.step,
            "loss": self.last_loss,
            "best_val_psnr": self.best,
            "seconds": elapsed,
            "it_s": (self.step - start_step) / elapsed if elapsed > 0 else 0.0,
            "run_dir": str(self.run_dir),
        }

    def _open_log(self, total: int) -> RunLogger:
        """The run's logger; writes config.yaml and the start-up lines (what runs where, from what, memory)."""
        t, log_cfg = self.config["train"], self.config["log"]
        logger = RunLogger(
            self.run_dir,
            total,
            self.step,
            enabled=self.world.is_main,
            tensorboard=log_cfg["tensorboard"],
            progress=log_cfg["progress"],
        )
        if self.world.is_main:
            (self.run_dir / "config.yaml").write_text(dump_config(self.config))
            local = t["batch_size"] // self.world.size if t["batch_size"] % self.world.size == 0 else "?"
            n_params = sum(p.numel() for p in self.model.parameters())
            logger.info(
                f"run {self.run_dir}: {self.config['model']['name']} ({n_params / 1e6:.3f}M parameters) on "
                f"{self.device}, effective batch size {t['batch_size']} = {local} per process x "
                f"{self.world.size} process(es), {self.precision}; {len(self.dataset.sources)} training "
                f"images; " + self._start_description()
            )
        for notice in self.notices:
            logger.info(notice)
        need = self.check_memory()
        if need is not None:
            logger.info(
                f"memory: a step needs about {need / 2**30:.1f} GiB (estimate"
                f"{', blocks checkpointed' if t['checkpoint_blocks'] else ''})"
            )
        return logger

    def _loader(self) -> DataLoader:
        """Batches of the global step sequence, from the current step on (StepSampler)."""
        t, workers = self.config["train"], self.config["data"]["workers"]
        sampler = StepSampler(t["batch_size"], self.world, start_step=self.step)
        return DataLoader(
            self.dataset,
            batch_size=sampler.local_batch,
            sampler=sampler,
            num_workers=workers,
            pin_memory=self.device.type == "cuda",
            persistent_workers=False,
            prefetch_factor=4 if workers else None,
            worker_init_fn=_worker_ignores_interrupts,
            # its own generator: a DataLoader otherwise draws its base seed from the global torch
            # RNG (which drop-path uses), and a resumed run would then diverge
            generator=torch.Generator().manual_seed(t["seed"]),
        )

    def _train_step(self, batch) -> float:
        """Forward, loss, backward and (when the gradients are finite) an optimizer and EMA update; returns the
        learning rate the step used."""
        lr_l, lr_r, hr_l, hr_r = (x.to(self.device, non_blocking=True, memory_format=self.memory_format) for x in batch)
        with self._autocast():
            sr = self.step_model(lr_l, lr_r)
        loss = self.loss_fn(tuple(v.float() for v in sr), (hr_l, hr_r))
        self.optimizer.zero_grad(set_to_none=True)
        self.scaler.scale(loss).backward()
        if self._gradients_finite(self.config["train"]["grad_clip"]):
            self.scaler.step(self.optimizer)
            self.scaler.update()
            if self.ema is not None:
                self.ema.update(self.model)
        lr_now = self.optimizer.param_groups[0]["lr"]
        self.scheduler.step()
        self.step += 1
        self._loss_window += loss.detach().double()
        self._loss_steps += 1
        return lr_now

    def _after_step(self, logger: RunLogger, lr_now: float, end: int, total: int) -> None:
        """Every log.every steps a loss record, every val.every a validation, every checkpoint.every a save."""
        if self.step % self.config["log"]["every"] == 0 or self.step == end:
            self.last_loss = all_mean(float(self._loss_window.item()) / self._loss_steps, self.world, self.device)
            if not math.isfinite(self.last_loss):  # checked here, not every step, to keep the GPU queue full
                raise FloatingPointError(
                    f"training loss became {self.last_loss} by step {self.step}; lower "
                    f"optim.lr or use train.precision=fp32"
                )
            logger.record(
                self.step,
                {
                    "train_loss": self.last_loss,
                    "train_lr": lr_now,
                    "train_it_s": round(logger.its_per_second(self.step), 3),
                    "skipped_steps": self.skipped_steps,
                },
            )
            self._loss_window.zero_()
            self._loss_steps = 0
        if self.step % self.config["val"]["every"] == 0 or self.step == total:
            self.validate(logger)
        if self.step % self.config["checkpoint"]["every"] == 0 or self.step == end:
            self._save()
