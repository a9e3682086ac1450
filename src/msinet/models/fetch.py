"""Trained weights as local files: shipped ones, the per-user cache, downloads; each file verified.

    <cache>/weights/<name><format>   e.g. ~/.cache/msinet/weights/nafssr_s_x4.pth (<cache>: msinet.cache, $MSINET_CACHE)
    <cache>/weights/index.json       sha256 of files whose source publishes no hash: the first file wins

A file placed by hand at that path is picked up and verified like a download. A download streams into a
temporary file in the same folder, is verified (size, sha256 / git blob id / recorded sha256, then the caller's
`check`: models/loading.py builds the record's model from it, every key and shape, and keeps that model), and
only then moved into place with os.replace: a truncated or corrupt download never lands. This module moves and
checks bytes; it never builds a model itself (loading sits above it). Plain urllib (stdlib, with Google Drive's
confirm page handled
here) + tqdm rather than gdown: one fewer dependency tree (gdown pulls requests, beautifulsoup4, filelock) for
one confirm step, and the temporary-file/verify/replace sequence stays ours.
"""

from __future__ import annotations

import hashlib
import http.client
import json
import os
import socket
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from html.parser import HTMLParser
from http.cookiejar import CookieJar
from pathlib import Path
from typing import Any, Callable

from ..files import settle
from . import pretrained
from .pretrained import WeightsRecord
from .weights import NoWeightsError, WeightsError

CHUNK = 1 << 20
TIMEOUT_S = 60


class FetchError(OSError):
    """A download that failed; the message is one line naming the URL."""


class OfflineError(FetchError):
    """The host could not be reached: the message names the URL and where a manual download is picked up."""


def weights_dir() -> Path:
    from ..cache import cache_root

    return cache_root() / "weights"


def cache_path(record: WeightsRecord) -> Path:
    """Where the record's file is cached, and where a manually downloaded file is picked up."""
    return weights_dir() / f"{record.name}{record.format}"


# ---- digests -------------------------------------------------------------------------------------------


def _digest(path: Path, algo: str, header: bytes = b"") -> str:
    h = hashlib.new(algo)
    h.update(header)
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(CHUNK), b""):
            h.update(chunk)
    return h.hexdigest()


def sha256_of(path) -> str:
    return _digest(Path(path), "sha256")


def git_blob_id(path) -> str:
    """git's object id of the file's bytes: sha1(b"blob <size>\\0" + bytes)."""
    path = Path(path)
    return _digest(path, "sha1", f"blob {path.stat().st_size}\0".encode())


# ---- the cache's own index (first-download sha256) --------------------------------------------------------


def _index_path() -> Path:
    return weights_dir() / "index.json"


def read_index() -> dict:
    path = _index_path()
    if not path.is_file():
        return {}
    try:
        return json.loads(path.read_text())
    except (OSError, json.JSONDecodeError):
        raise WeightsError(f"{path}: the weights cache index is unreadable; delete it to re-record") from None


def _remember(record: WeightsRecord, path: Path, digest: str) -> None:
    index = read_index()
    index[record.name] = {
        "sha256": digest,
        "size": path.stat().st_size,
        "url": record.url,
        "recorded": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    target = _index_path()
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".index.", suffix=".tmp")
    with os.fdopen(fd, "w") as f:
        json.dump(index, f, indent=2)
    settle(tmp, target)  # mkstemp makes 0600; the index gets the umask's mode like every file msinet writes


# ---- verification ----------------------------------------------------------------------------------------


def check_digest(record: WeightsRecord, path: Path, label: str | None = None) -> str:
    """Raise WeightsError unless `path` holds the record's bytes; returns the file's sha256."""
    what = label or str(path)
    size = path.stat().st_size
    if record.size is not None and size != record.size:
        raise WeightsError(f"{record.name}: {what} has {size} bytes, expected {record.size}")
    digest = sha256_of(path)
    if record.sha256 and digest != record.sha256:
        raise WeightsError(f"{record.name}: {what} has sha256 {digest}, expected {record.sha256}")
    if record.git_blob:
        blob = git_blob_id(path)
        if blob != record.git_blob:
            raise WeightsError(f"{record.name}: {what} has git blob id {blob}, expected {record.git_blob}")
    if not (record.sha256 or record.git_blob):
        known = read_index().get(record.name)
        if known is not None and known.get("sha256") != digest:
            raise WeightsError(
                f"{record.name}: {what} has sha256 {digest}, but the first download recorded "
                f"{known.get('sha256')} in {_index_path()}; delete that entry to accept a new file"
            )
    return digest


def shipped_path(record: WeightsRecord) -> Path:
    """The package's file of a shipped record, checked against its sha256."""
    path = pretrained.WEIGHTS_DIR / record.file
    if not path.is_file():
        raise WeightsError(f"{path}: shipped weights of {record.name} are missing; reinstall msinet")
    digest = sha256_of(path)
    if digest != record.sha256:
        raise WeightsError(
            f"{path}: sha256 {digest} does not match the weights table ({record.sha256}); reinstall msinet"
        )
    return path


Check = Callable[[Path], Any]  # structure check of a verified file (raises WeightsError); its result is returned


def cached_file(record: WeightsRecord, check: Check | None = None) -> tuple[Path | None, Any]:
    """(path, check result) of a downloadable record's verified file in the cache (downloaded or placed by
    hand), or (None, None). A hand-placed file of a record without a published hash is structure-checked
    before its sha256 is recorded (`check` is then required)."""
    path = cache_path(record)
    if not path.is_file():
        return None, None

    def refused(exc: WeightsError) -> WeightsError:  # damaged, truncated or another file: how to get a good one
        return WeightsError(
            f"{exc}; the cached file is damaged or not these weights: delete {path} and run "
            f"`msinet weights pull {record.name}` to download it again"
        )

    try:
        digest = check_digest(record, path)
    except WeightsError as exc:
        raise refused(exc) from None
    result = None
    if not (record.sha256 or record.git_blob) and record.name not in read_index():
        if check is None:
            raise ValueError(f"{record.name}: a first file without a published hash needs a structure check")
        try:
            result = check(path)
        except WeightsError as exc:
            raise refused(exc) from None
        _remember(record, path, digest)
    return path, result


# ---- downloading -----------------------------------------------------------------------------------------


class _DriveConfirm(HTMLParser):
    """Google Drive's "can't scan this file for viruses" page: a form (action + hidden inputs) or a link
    carrying confirm=<token>."""

    def __init__(self):
        super().__init__()
        self.action, self.fields, self.href = None, {}, None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "form" and "download" in (a.get("id", "") + a.get("action", "")):
            self.action = a.get("action")
        elif tag == "input" and a.get("type") == "hidden" and a.get("name"):
            self.fields[a["name"]] = a.get("value", "")
        elif tag == "a" and "confirm=" in (a.get("href") or ""):
            self.href = a["href"]


def drive_confirm_url(page: str, base_url: str) -> str | None:
    """The URL that Drive's confirm page leads to (the file itself), or None if the page has none."""
    parser = _DriveConfirm()
    parser.feed(page)
    if parser.action:
        return urllib.parse.urljoin(base_url, parser.action) + "?" + urllib.parse.urlencode(parser.fields)
    if parser.href:
        return urllib.parse.urljoin(base_url, parser.href)
    return None


def _manual_hint(record: WeightsRecord) -> str:
    return f"download it by hand from {record.page or record.url} and place it at {cache_path(record)}"


def _open(opener, url: str, record: WeightsRecord):
    request = urllib.request.Request(url, headers={"User-Agent": "msinet"})
    try:
        return opener.open(request, timeout=TIMEOUT_S)
    except urllib.error.HTTPError as exc:
        raise FetchError(f"{url}: HTTP {exc.code} {exc.reason}") from None
    except (urllib.error.URLError, socket.timeout, ConnectionError) as exc:
        reason = getattr(exc, "reason", exc)
        raise OfflineError(f"cannot reach {url} ({reason}); {_manual_hint(record)}") from None


def _is_html(response) -> bool:
    return response.headers.get_content_type() == "text/html"


def _stream(response, out, url: str, desc: str, progress: bool) -> int:
    from ..runtime.progress import progress_bar

    total = response.headers.get("Content-Length")
    total = int(total) if total and total.isdigit() else None
    written = 0
    with progress_bar(
        total=total,
        unit="B",
        unit_scale=True,
        unit_divisor=1024,
        desc=desc,
        disable=not progress,
        file=sys.stderr,
        leave=False,
    ) as bar:
        try:
            for chunk in iter(lambda: response.read(CHUNK), b""):
                out.write(chunk)
                written += len(chunk)
                bar.update(len(chunk))
        except (http.client.IncompleteRead, ConnectionError, socket.timeout) as exc:
            raise FetchError(f"{url}: connection broken after {written} bytes ({type(exc).__name__})") from None
    if total is not None and written != total:
        raise FetchError(f"{url}: truncated download ({written} of {total} bytes)")
    return written


def _download_to(record: WeightsRecord, out, progress: bool) -> None:
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(CookieJar()))
    url = record.url
    response = _open(opener, url, record)
    with response:
        if record.source == "gdrive" and _is_html(response):
            page = response.read(CHUNK).decode("utf-8", "replace")
            next_url = drive_confirm_url(page, response.geturl())
            if next_url is None:
                raise FetchError(
                    f"{url}: Google Drive answered with a page, not the file (quota exceeded or "
                    f"not shared?); {_manual_hint(record)}"
                )
            url = next_url
            response.close()
            response = _open(opener, url, record)
        if _is_html(response):
            raise FetchError(f"{url}: the server sent an HTML page, not the weights; {_manual_hint(record)}")
        _stream(response, out, url, record.name, progress)


def download(record: WeightsRecord, progress: bool = True, check: Check | None = None) -> tuple[Path, Any]:
    """Download, verify (digest, then `check` on the temporary file) and atomically move the record's file into
    the cache; returns (path, check result). Nothing lands in the cache when any step fails."""
    if record.source == "shipped":
        raise ValueError(f"{record.name} ships with msinet; nothing to download")
    dest = cache_path(record)
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.", suffix=".part")
    tmp = Path(tmp_name)
    result = None
    try:
        with os.fdopen(fd, "wb") as out:
            _download_to(record, out, progress)
        digest = check_digest(record, tmp, f"the download from {record.url}")
        if check is not None:
            try:
                result = check(tmp)
            except (WeightsError, FileNotFoundError) as exc:
                raise WeightsError(
                    f"{record.name}: the download from {record.url} is not usable "
                    f"({str(exc).replace(str(tmp), 'file')})"
                ) from None
        settle(tmp, dest)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    if not (record.sha256 or record.git_blob) and record.name not in read_index():
        _remember(record, dest, digest)
    return dest, result


def local_file(
    record: WeightsRecord, download_missing: bool = False, progress: bool = True, check: Check | None = None
) -> tuple[Path, Any]:
    """(path, check result or None) of a record's verified local file: shipped, cached, or
    (download_missing=True) downloaded now."""
    if record.source == "shipped":
        return shipped_path(record), None
    path, result = cached_file(record, check)
    if path is not None:
        return path, result
    if not download_missing:
        raise NoWeightsError(
            f"{record.name}: trained weights not downloaded yet; run `msinet weights pull "
            f"{record.name}` (or load_model(..., download=True)), or {_manual_hint(record)}"
        )
    return download(record, progress, check)
