"""`msinet train`: train a model from a YAML config (one CPU/GPU, or DDP under torchrun)."""

from __future__ import annotations

import sys

HELP = "train a stereo SR model from a YAML config (resumable; DDP under torchrun)"


def add_arguments(parser) -> None:
    parser.add_argument("--config", required=True, help="YAML config, e.g. configs/msinet_x4_paper.yaml")
    parser.add_argument(
        "--resume",
        default=None,
        metavar="auto|PATH",
        help="continue a run: 'auto' = its latest complete checkpoint, or a checkpoint folder",
    )
    parser.add_argument("--force", action="store_true", help="start over in an existing run folder (clears it)")
    parser.add_argument(
        "--stop-after",
        type=int,
        default=None,
        metavar="STEPS",
        help="checkpoint and exit after this many steps (continue later with --resume auto)",
    )
    parser.add_argument(
        "overrides",
        nargs="*",
        metavar="KEY=VALUE",
        help="config overrides, e.g. optim.lr=1e-4 train.steps=1000 data.train=[a,b]",
    )


def run(args) -> int:
    from pathlib import Path

    from ..runtime.distributed import close_world
    from ..train.config import load_config
    from ..train.trainer import Trainer
    from .preflight import check_output_folder

    if args.stop_after is not None and args.stop_after <= 0:
        raise ValueError(f"--stop-after must be positive, got {args.stop_after}")
    config = load_config(args.config, args.overrides)
    if config["optim"]["name"] == "lion":  # an optional dependency: say so before any work
        from ..runtime.extras import require

        require("lion_pytorch", "msinet train with optim.name: lion")
    # where the run writes, checked before data or model load (a refused run removes the folder it made)
    check_output_folder(Path(config["log"]["out_dir"]) / config["name"], quiet=True)
    try:
        trainer = Trainer(config, resume=args.resume, force=args.force)
        summary = trainer.fit(stop_after=args.stop_after)
    except FloatingPointError as exc:
        print(f"msinet train: error: {exc}", file=sys.stderr)
        return 1
    finally:
        close_world()
    if trainer.world.is_main:
        print(
            f"done: step {summary['step']} in {summary['seconds']:.1f} s ({summary['it_s']:.2f} it/s), "
            f"last loss {summary['loss']:.5g}; run folder {summary['run_dir']}"
        )
    return 0
