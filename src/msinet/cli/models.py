"""`msinet models`: the registered models with their parameter counts."""

from __future__ import annotations

HELP = "list the registered models (name, parameters, description)"


def add_arguments(p):
    p.add_argument("pattern", nargs="?", default=None, help="fnmatch filter, e.g. 'msinet_*'")
    p.add_argument("--breakdown", action="store_true", help="per-component parameter table of each model")


def run(args) -> int:
    from ..registry import create_model, get_entry, list_models

    names = list_models(args.pattern)
    if not names:
        raise ValueError(f"no registered model matches {args.pattern!r}")
    if args.breakdown:
        from ..models.summary import parameter_breakdown

        for name in names:
            model = create_model(name)
            print(f"{name} ({get_entry(name).description})")
            print(f"| {'component':50s} | {'parameters':>11s} |\n|{'-' * 52}|{'-' * 12}:|")
            for component, n in parameter_breakdown(model):
                print(f"| {component:50s} | {n:11,d} |")
            print()
        return 0
    print(f"{'model':34s} {'params':>12s}  description")
    for name in names:
        n = sum(p.numel() for p in create_model(name).parameters())
        print(f"{name:34s} {n:12,d}  {get_entry(name).description}")
    return 0
