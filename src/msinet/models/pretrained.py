"""The weights table (msinet/weights/index.json): for every model name that has trained weights somewhere,
where they come from and how a file is checked.

One record per registry name (JSON object under "models"):
    source     "shipped"      a file inside this package (msinet/weights/<file>)
               "github-blob"  a file of a public GitHub repository; `url` is pinned to a commit, never a branch
               "gdrive"       a Google Drive file (`url` = drive.google.com/uc?export=download&id=...)
    format     ".safetensors" (msinet's own, config embedded) or ".pth" (an authors' BasicSR checkpoint,
               read by models/foreign.py)
    file       shipped only: the file name in msinet/weights/
    url, page  download URL; page = where a person downloads it by hand
    size       bytes, when known (size_note: a rough size for display, e.g. "about 8 MB")
    sha256     expected sha256 of the file, or
    git_blob   expected git blob id, sha1(b"blob <size>\\0" + bytes), as listed by `git ls-tree`;
               with neither, the sha256 of the first download is recorded in the cache's index.json and a later
               file must match it (models/fetch.py). The file's structure (every key and shape) is checked always.
    default    true: the model `msinet.load_model()` / the CLIs use at this scale when no --model is given
    published  [{"source": "...", "<set>": [PSNR, SSIM], ...}]: the figures these weights should reproduce

Adding a shipped model = its .safetensors file in msinet/weights/ + one record {source, file, format, size, sha256}.
"""
from __future__ import annotations

import functools
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

from .weights import WeightsError

WEIGHTS_DIR = Path(__file__).resolve().parent.parent / "weights"
INDEX = WEIGHTS_DIR / "index.json"
SOURCES = ("shipped", "github-blob", "gdrive")
FORMATS = (".safetensors", ".pth")


@dataclass(frozen=True)
class WeightsRecord:
    name: str
    source: str
    format: str
    url: str | None = None
    page: str | None = None
    file: str | None = None
    size: int | None = None
    size_note: str | None = None
    sha256: str | None = None
    git_blob: str | None = None
    default: bool = False
    card: str | None = None
    published: tuple = ()

    @property
    def scale(self) -> int:
        from ..registry import get_entry

        return int(get_entry(self.name).kwargs["scale"])

    @property
    def verification(self) -> str:
        if self.sha256:
            return "sha256"
        if self.git_blob:
            return "git blob id"
        return "first-download sha256"

    def size_text(self) -> str:
        if self.size is not None:
            return f"{self.size / 1e6:.1f} MB"
        return self.size_note or "size unknown"


def _record(name: str, raw: dict) -> WeightsRecord:
    from ..registry import list_models

    where = f"{INDEX}: record {name!r}"
    if name not in list_models():
        raise WeightsError(f"{where}: not a registered model name")
    fields = set(WeightsRecord.__dataclass_fields__) - {"name"}
    unknown = sorted(set(raw) - fields)
    if unknown:
        raise WeightsError(f"{where}: unknown field {unknown[0]!r}")
    record = WeightsRecord(name=name, **{**raw, "published": tuple(raw.get("published", ()))})
    if record.source not in SOURCES:
        raise WeightsError(f"{where}: source must be one of {', '.join(SOURCES)}, got {record.source!r}")
    if record.format not in FORMATS:
        raise WeightsError(f"{where}: format must be one of {', '.join(FORMATS)}, got {record.format!r}")
    if record.source == "shipped" and not (record.file and record.sha256):
        raise WeightsError(f"{where}: a shipped record needs file and sha256")
    if record.source != "shipped" and not record.url:
        raise WeightsError(f"{where}: a {record.source} record needs a url")
    return record


@functools.cache
def _table() -> dict[str, WeightsRecord]:
    raw = json.loads(INDEX.read_text()) if INDEX.is_file() else {"models": {}}
    return {name: _record(name, fields) for name, fields in raw["models"].items()}


def weights_table() -> dict[str, WeightsRecord]:
    """{registry name: WeightsRecord} for every model with trained weights somewhere."""
    return _table()


def _same_model(a: str, b: str) -> bool:
    from ..registry import get_entry

    ea, eb = get_entry(a), get_entry(b)
    return ea.arch == eb.arch and ea.kwargs == eb.kwargs


def record_for(name: str) -> WeightsRecord | None:
    """The record of a registry name, also through an alias ('nafssr_s' -> the record of 'nafssr_s_x4')."""
    table = weights_table()
    if name in table:
        return table[name]
    return next((r for n, r in table.items() if _same_model(n, name)), None)


def default_model_name(scale: int | None = None) -> str:
    """The model used when none is named: the shipped default of `scale` (of x4 when scale is None, falling
    back to bicubic_x4). A scale without a default is an error naming the trained models of that scale."""
    defaults = {r.scale: r.name for r in weights_table().values() if r.default}
    if scale is None:
        return defaults.get(4) or next(iter(defaults.values()), "bicubic_x4")
    if scale in defaults:
        return defaults[scale]
    others = [n for n, r in weights_table().items() if r.scale == scale]
    hint = f"trained x{scale} models: {', '.join(others)}" if others else f"no trained x{scale} model is known"
    raise WeightsError(f"no default x{scale} model ships with msinet; pass --model NAME ({hint}; `msinet weights` "
                       f"lists them), a weights file, or --model bicubic_x{scale}")


def shipped_path(record: WeightsRecord) -> Path:
    """The package's file of a shipped record, checked against its sha256."""
    path = WEIGHTS_DIR / record.file
    if not path.is_file():
        raise WeightsError(f"{path}: shipped weights of {record.name} are missing; reinstall msinet")
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    if digest != record.sha256:
        raise WeightsError(f"{path}: sha256 {digest} does not match the weights table ({record.sha256}); "
                           "reinstall msinet")
    return path
