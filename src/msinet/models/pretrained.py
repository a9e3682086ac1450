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
    licence    the licence situation of a downloadable file (e.g. "no licence file in the repository")
    default    true: the model `msinet.load_model()` / the CLIs use at this scale when no --model is given
    published  [{"source": "...", "<set>": [PSNR, SSIM], ...}]: the figures these weights should reproduce

Adding a shipped model = its .safetensors file in msinet/weights/ + one record {source, file, format, size, sha256}.

The weights stack, each layer importing only those above it:
    pretrained (this table: what exists, where, how it is checked)
      <- fetch   (bytes into local files, verified: shipped, cached, downloaded; never builds a model)
      <- loading (the one place a model is built from a name or a file)
    resolve: what a user named -> a registry name or a file (defaults per scale, aliases, x2/x4 variants)
"""

from __future__ import annotations

import functools
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
    licence: str | None = None
    published: tuple = ()

    @property
    def scale(self) -> int:
        from ..registry import get_entry

        return get_entry(self.name).scale

    @property
    def verification(self) -> str:
        if self.sha256:
            return "sha256"
        if self.git_blob:
            return "git blob id"
        return "first-download sha256"

    def digest_text(self) -> str:
        """' <the expected sha256 or git blob id>', or '' for a first-download record."""
        digest = self.sha256 or self.git_blob
        return f" {digest}" if digest else ""

    def size_text(self) -> str:
        if self.size is not None:
            return f"{self.size / 1e6:.1f} MB"
        return self.size_note or "size unknown"


def _record(name: str, raw: dict) -> WeightsRecord:
    from ..registry import list_models

    where = f"{INDEX}: record {name!r}"
    if name not in list_models(canonical=True):
        raise WeightsError(f"{where}: not a canonical registered model name (aliases have no records)")
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


def record_for(name: str) -> WeightsRecord | None:
    """The record of a registry name, also through an alias ('nafssr_s' -> the record of 'nafssr_s_x4')."""
    from ..registry import get_entry

    return weights_table().get(get_entry(name).canonical)


def trained_names(scale: int | None = None) -> list[str]:
    """Registry names with trained weights somewhere (shipped or downloadable), of `scale` if given; sorted."""
    return sorted(n for n, r in weights_table().items() if scale is None or r.scale == scale)
