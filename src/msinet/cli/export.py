"""`msinet export`: a model as ONNX (dynamic height and width) and/or a torch.export program (.pt2)."""

from __future__ import annotations

from .model_options import add_weights_options, load_cli_model

HELP = "export a model to ONNX (inputs left/right, dynamic height and width) or a torch.export .pt2 program"


def add_arguments(p):
    p.add_argument(
        "--model",
        default=None,
        help="registry name or weights file (.safetensors/.pth); "
        "default: the packaged default model (msinet.load_model())",
    )
    p.add_argument("--onnx", default=None, metavar="OUT.onnx", help="write an ONNX model here")
    p.add_argument(
        "--pt2", default=None, metavar="OUT.pt2", help="write a torch.export program here (load with torch.export.load)"
    )
    p.add_argument(
        "--sinkhorn-iters",
        type=int,
        default=None,
        help="Sinkhorn iterations baked into the graph (default: the model's own, 10)",
    )
    p.add_argument("--static", action="store_true", help="fixed input size (--height x --width) instead of dynamic")
    p.add_argument(
        "--height",
        type=int,
        default=None,
        help="LR height of the sample input (default: above the TLSC window); with --static the only accepted height",
    )
    p.add_argument("--width", type=int, default=None, help="LR width of the sample input (see --height)")
    p.add_argument("--opset", type=int, default=None, help="ONNX opset (default: the exporter's)")
    p.add_argument("--no-verify", action="store_true", help="skip the onnxruntime vs PyTorch check on the sample")
    p.add_argument("--overwrite", action="store_true", help="replace existing output files")
    add_weights_options(p)


def run(args) -> int:
    from pathlib import Path

    from ..export import export_onnx, export_program, minimum_size
    from .preflight import check_output_file

    if args.onnx is None and args.pt2 is None:
        raise ValueError("nothing to write: give --onnx OUT.onnx and/or --pt2 OUT.pt2")
    if (args.height is None) != (args.width is None):
        raise ValueError("give both --height and --width, or neither")
    if args.static and args.height is None:
        raise ValueError("--static needs --height and --width (the one input size the export will accept)")
    size = None if args.height is None else (args.height, args.width)
    for target, suffix in ((args.onnx, ".onnx"), (args.pt2, ".pt2")):
        if target is None:
            continue
        if Path(target).suffix.lower() != suffix:
            raise ValueError(f"{target}: the file name should end in {suffix}")
    for target in (args.onnx, args.pt2):  # before a minute of exporting: the name is free, the folder writable
        if target is not None:
            check_output_file(target, args.overwrite)
    try:
        import onnx  # noqa: F401
        import onnxscript  # noqa: F401
    except ImportError:
        if args.onnx is not None:
            raise ValueError(
                "ONNX export needs the onnx and onnxscript packages: pip install 'msinet[export]'"
            ) from None

    model = load_cli_model(args.model, args)
    name = model.model_name
    dynamic = not args.static
    print(f"exporting {name} (x{model.scale}, {'dynamic height/width' if dynamic else f'fixed {size[0]}x{size[1]}'})")
    program = export_program(model, dynamic=dynamic, sample_size=size, sinkhorn_iters=args.sinkhorn_iters)
    if args.onnx is not None:
        res = export_onnx(
            model,
            args.onnx,
            dynamic=dynamic,
            sample_size=size,
            sinkhorn_iters=args.sinkhorn_iters,
            opset=args.opset,
            overwrite=args.overwrite,
            verify=not args.no_verify,
            program=program,
        )
        check = (
            ""
            if res.max_abs_diff is None
            else f"; onnxruntime vs PyTorch on a {res.sample_size[0]}x{res.sample_size[1]} pair: "
            f"max |diff| {res.max_abs_diff:.2e}"
        )
        iters = "" if res.sinkhorn_iters is None else f", {res.sinkhorn_iters} Sinkhorn iterations"
        print(f"wrote {res.path} (opset {res.opset}{iters}){check}")
        print(
            "  inputs left, right: float32 (1,3,height,width) RGB in [0,1]; "
            f"outputs sr_left, sr_right: (1,3,{model.scale}*height,{model.scale}*width)"
        )
    if args.pt2 is not None:
        import torch

        from ..files import atomic_target

        with atomic_target(args.pt2) as tmp:
            torch.export.save(program[0], str(tmp))
        h, w = minimum_size(program[0])
        print(f"wrote {args.pt2} (torch.export program; accepts LR inputs from {h}x{w} up)")
    return 0
