"""Training curves of a run as a figure: training loss and validation gain over bicubic against the step.

python -m msinet.train.curves runs/msinet_small_x2 -o docs/figures/msinet_small_x2_curves.png
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def read_metrics(run_dir) -> tuple[list[tuple[int, float]], list[tuple[int, float]]]:
    """(step, train_loss) and (step, val_gain_db) series of a run's metrics.jsonl."""
    path = Path(run_dir) / "metrics.jsonl"
    if not path.is_file():
        raise FileNotFoundError(f"no metrics.jsonl in {run_dir} (is it a training run folder?)")
    loss, gain = [], []
    for line in path.read_text().splitlines():
        record = json.loads(line)
        if "train_loss" in record:
            loss.append((record["step"], record["train_loss"]))
        if "val_gain_db" in record:
            gain.append((record["step"], record["val_gain_db"]))
    return loss, gain


def plot_curves(run_dir, out, title: str | None = None) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    loss, gain = read_metrics(run_dir)
    fig, (ax_loss, ax_gain) = plt.subplots(1, 2, figsize=(9, 3.2))
    if loss:
        ax_loss.plot(*zip(*loss), lw=1)
    ax_loss.set(xlabel="step", ylabel="training loss (MSE + 0.01 FFT)", yscale="log")
    if gain:
        ax_gain.plot(*zip(*gain), marker="o", lw=1)
    ax_gain.set(xlabel="step", ylabel="validation gain over bicubic (dB)")
    for ax in (ax_loss, ax_gain):
        ax.grid(alpha=0.3)
    fig.suptitle(title or Path(run_dir).name)
    fig.tight_layout()
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m msinet.train.curves", description=__doc__.split("\n")[0])
    parser.add_argument("run_dir")
    parser.add_argument("-o", "--output", required=True, help="PNG to write")
    parser.add_argument("--title", default=None)
    args = parser.parse_args(argv)
    if Path(args.output).exists():
        print(f"msinet curves: error: {args.output} exists; refusing to overwrite it", file=sys.stderr)
        return 2
    try:
        print(plot_curves(args.run_dir, args.output, args.title))
    except (OSError, ValueError) as exc:
        print(f"msinet curves: error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
