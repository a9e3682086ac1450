"""`msinet weights`: every registered model with the state of its trained weights; `pull` downloads them."""

from __future__ import annotations

import sys

HELP = "list the registered models and the state of their trained weights; `msinet weights pull NAME...` downloads"

# state of a model's weights, as listed
SHIPPED, DOWNLOADED, DOWNLOADABLE, NOT_NEEDED, NONE = "shipped", "downloaded", "downloadable", "not needed", "none"


def add_arguments(p):
    p.add_argument(
        "action",
        nargs="?",
        default="list",
        choices=("list", "pull"),
        help="list (default) or pull: download, verify and cache the named models' weights",
    )
    p.add_argument("names", nargs="*", metavar="NAME", help="pull: registry names (aliases such as nafssr_s work)")
    p.add_argument("--quiet", "-q", action="store_true", help="pull: no progress bar")


def weights_state(name: str) -> tuple[str, str]:
    """(state, detail) of a registry name's weights; a cached file that fails verification is reported, not raised."""
    from ..models.fetch import cache_path
    from ..models.loading import cached_weights
    from ..models.pretrained import WEIGHTS_DIR, record_for
    from ..models.weights import WeightsError
    from ..registry import create_model

    record = record_for(name)
    alias = "" if record is None or record.name == name else f" (= {record.name})"
    if record is None:
        if not any(True for _ in create_model(name).parameters()):
            return NOT_NEEDED, "parameter-free"
        return NONE, "random init only (--random-init)"
    if record.source == "shipped":
        return SHIPPED, f"{WEIGHTS_DIR / record.file}{alias}"
    try:
        path = cached_weights(record)
    except WeightsError as exc:
        return DOWNLOADABLE, f"cached file REFUSED: {exc}"
    if path is not None:
        return DOWNLOADED, f"{path}{alias}"
    return DOWNLOADABLE, (
        f"{record.source}, {record.size_text()}, verified by {record.verification}{record.digest_text()}{alias}; "
        f"manual download goes to {cache_path(record)}"
    )


def _list() -> int:
    from ..models.fetch import weights_dir
    from ..registry import list_models

    print(f"weights cache: {weights_dir()} (set MSINET_CACHE to move it)")
    names = list_models()
    width = max(len(n) for n in names)
    print(f"{'model':{width}s}  {'weights':12s}  where / how")
    for name in names:
        state, detail = weights_state(name)
        print(f"{name:{width}s}  {state:12s}  {detail}")
    return 0


def _pull(names, quiet: bool) -> int:
    """Every name is tried and reported on its own line; exit 1 if any could not be had."""
    from ..models.fetch import cache_path
    from ..models.loading import fetch_weights
    from ..models.pretrained import record_for
    from ..models.resolve import canonical_name

    if not names:
        raise ValueError("pull needs model names, e.g. `msinet weights pull nafssr_s_x4` (see `msinet weights`)")
    failed, done = 0, set()
    for name in names:
        try:
            canonical = canonical_name(name)  # unknown names: one line listing the known ones
            if canonical in done:  # an alias and its name: once
                continue
            done.add(canonical)
            record = record_for(canonical)
            if record is None:
                raise ValueError(f"{name} has no trained weights to download (`msinet weights` lists those that do)")
            if record.source == "shipped":
                print(f"{record.name}: ships with msinet, nothing to download")
                continue
            cached = cache_path(record).is_file()
            if not cached and not quiet:
                print(f"{record.name}: downloading {record.url}", file=sys.stderr)
            path = fetch_weights(record.name, download=True, progress=not quiet)
            print(
                f"{record.name}: already cached and verified: {path}"
                if cached
                else f"{record.name}: verified ({record.verification}) -> {path}"
            )
        except (ValueError, OSError) as exc:  # WeightsError, FetchError/OfflineError included
            failed += 1
            print(f"msinet weights: error: {exc}", file=sys.stderr)
    if failed > 0 and len(names) > 1:
        print(f"{failed} of {len(names)} could not be pulled", file=sys.stderr)
    return 2 if failed else 0  # as any user error (cli.main)


def run(args) -> int:
    if args.action == "list":
        if args.names:
            raise ValueError("list takes no names; did you mean `msinet weights pull " + " ".join(args.names) + "`?")
        return _list()
    return _pull(args.names, args.quiet)
