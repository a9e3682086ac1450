"""`msinet convert`: an authors' MSINet / NAFSSR .pth checkpoint -> a msinet .safetensors file."""

from __future__ import annotations

HELP = "convert an authors' MSINet or NAFSSR .pth checkpoint to msinet .safetensors (config embedded)"


def add_arguments(p):
    p.add_argument("checkpoint", help="BasicSR .pth of the MSINet or NAFSSR codes (params / params_ema)")
    p.add_argument("output", help="where to write the .safetensors file")
    p.add_argument(
        "--paper-lska",
        action="store_true",
        help="MSINet: use all four LSKA scales as the paper describes, instead of the released code's "
        "routing (the 4th channel group through the k=23 branch); changes the outputs",
    )
    p.add_argument(
        "--no-tlsc", action="store_true", help="keep global pooling at inference instead of the 45x135 local statistics"
    )
    p.add_argument("--overwrite", action="store_true", help="replace OUTPUT if it exists")


def run(args) -> int:
    from pathlib import Path

    from ..models.foreign import load_foreign
    from ..models.weights import save_weights
    from .preflight import check_output_file

    out = Path(args.output)
    if out.suffix != ".safetensors":
        raise ValueError(f"output must end in .safetensors, got {out}")
    check_output_file(out, args.overwrite)  # before the checkpoint is read: a job that cannot write fails at once
    overrides = {}
    if args.paper_lska:
        overrides["lska_branch_of_group"] = None
    if args.no_tlsc:
        overrides["tlsc_window"] = None
    model = load_foreign(args.checkpoint, **overrides)
    if args.paper_lska and model.foreign_layout.family != "msinet":
        raise ValueError(
            f"--paper-lska applies to MSINet checkpoints; {args.checkpoint} is {model.foreign_layout.describe()}"
        )
    save_weights(model, out, overwrite=args.overwrite, extra_metadata={"converted_from": Path(args.checkpoint).name})
    n = sum(p.numel() for p in model.parameters())
    name = f" = {model.model_name}" if model.model_name else ""
    print(f"{args.checkpoint}: {model.foreign_layout.describe()}{name}, {n:,} parameters -> {out}")
    return 0
