"""What a training run reports (rank 0 only): a progress bar, TensorBoard scalars and images, JSONL metrics.

metrics.jsonl holds one JSON object per line: {"step", "loss", "lr", "it_s", ...} for training records
and {"step", "val_psnr", "val_ssim", ...} for validations. On resume, records after the resumed step
(written by the interrupted run after its last checkpoint) are dropped so the file reads as one run.
"""

from __future__ import annotations

import json
import time
from pathlib import Path


def truncate_jsonl(path: Path, last_step: int) -> None:
    path = Path(path)
    if not path.is_file():
        return
    kept = []
    for line in path.read_text().splitlines():
        try:
            if json.loads(line).get("step", 0) <= last_step:
                kept.append(line)
        except json.JSONDecodeError:  # a line cut by a crash
            continue
    path.write_text("".join(k + "\n" for k in kept))


class RunLogger:
    def __init__(
        self,
        run_dir: Path,
        total_steps: int,
        start_step: int,
        enabled: bool = True,
        tensorboard: bool = True,
        progress: bool = True,
    ):
        self.enabled = enabled
        self.jsonl = Path(run_dir) / "metrics.jsonl"
        self.bar = self.writer = None
        self._t0, self._s0 = time.perf_counter(), start_step
        if not enabled:
            return
        truncate_jsonl(self.jsonl, start_step)
        if tensorboard:
            try:
                from torch.utils.tensorboard import SummaryWriter
            except ImportError:  # tensorboard is a dependency, but a trimmed install still trains
                SummaryWriter = None
            if SummaryWriter is not None:
                self.writer = SummaryWriter(str(Path(run_dir) / "tensorboard"), purge_step=start_step + 1)
        if progress:
            from ..runtime.progress import progress_bar

            self.bar = progress_bar(
                total=total_steps, initial=start_step, unit="it", dynamic_ncols=True, desc="train", smoothing=0.1
            )

    def info(self, text: str) -> None:
        if not self.enabled:
            return
        if self.bar is not None:
            self.bar.write(text)
        else:
            print(text, flush=True)

    def step(self) -> None:
        if self.bar is not None:
            self.bar.update(1)

    def its_per_second(self, step: int) -> float:
        elapsed = time.perf_counter() - self._t0
        return (step - self._s0) / elapsed if elapsed > 0 else 0.0

    def record(self, step: int, values: dict, show: bool = True) -> None:
        if not self.enabled:
            return
        with self.jsonl.open("a") as f:
            f.write(json.dumps({"step": step, **values}) + "\n")
        if self.writer is not None:
            for key, value in values.items():
                if isinstance(value, (int, float)):
                    self.writer.add_scalar(key.replace("_", "/", 1), value, step)
        if show and self.bar is not None:
            self.bar.set_postfix(
                {k: (f"{v:.4g}" if isinstance(v, float) else v) for k, v in values.items()}, refresh=False
            )

    def images(self, step: int, tag: str, image) -> None:
        """image: (3, H, W) float tensor in [0, 1]."""
        if self.enabled and self.writer is not None:
            self.writer.add_image(tag, image.clamp(0, 1), step)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
        if self.writer is not None:
            self.writer.close()
