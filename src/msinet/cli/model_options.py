"""Options shared by the commands that load models (upscale, eval, stereo-eval, export): trained weights by
default, downloaded on first use; random weights only with --random-init."""

from __future__ import annotations

import sys


def add_weights_options(p) -> None:
    p.add_argument(
        "--no-download",
        action="store_true",
        help="never download weights: fail with the path where a manual download is picked up",
    )
    p.add_argument(
        "--random-init",
        action="store_true",
        help="development only: run a registry model that has no trained weights with random weights "
        "(its outputs are meaningless)",
    )
    p.add_argument(
        "--threads",
        type=int,
        default=None,
        metavar="N",
        help="CPU threads (default: OMP_NUM_THREADS if set, else the physical cores this process may use)",
    )


def load_cli_model(spec, args, scale: int | None = None, **overrides):
    """msinet.load_model(spec, scale) under the command's --no-download / --random-init (the model resolver
    decides what None, an alias or a scale means); downloads show a progress bar."""
    from ..models.loading import load_model
    from ..runtime.cpu import set_threads

    set_threads(getattr(args, "threads", None))
    model = load_model(
        spec,
        scale=scale,
        download=not getattr(args, "no_download", False),
        random_init=getattr(args, "random_init", False),
        progress=not getattr(args, "quiet", False),
        **overrides,
    )
    if getattr(model, "random_init", False):
        print(f"warning: {spec} runs with random weights (--random-init): its outputs are meaningless", file=sys.stderr)
    return model
