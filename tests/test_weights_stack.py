"""The weights stack in layers: table <- fetch <- loading, one resolver; a peer's published file downloaded from
a loopback server, verified by git blob id and size; pull reports every name."""

from __future__ import annotations

import ast
import dataclasses
from pathlib import Path

import numpy as np
import pytest
import torch
from test_pretrained import _git_blob, _register_tiny, _trained, cache, server, table  # noqa: F401  (fixtures)

import msinet
from msinet.cli.main import main
from msinet.models import fetch, loading, pretrained, resolve
from msinet.models.weights import NoWeightsError, WeightsError

pytestmark = pytest.mark.usefixtures("one_thread")
SRC = Path(msinet.__file__).resolve().parent


def _imports(module: Path) -> set[str]:
    """Every module a source file imports (at any depth of the file), relative imports resolved in msinet."""
    tree = ast.parse(module.read_text())
    package = ".".join(module.relative_to(SRC.parent).with_suffix("").parts[:-1])
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            base = package.rsplit(".", node.level - 1)[0] if node.level else ""
            target = ".".join(p for p in (base, node.module or "") if p)
            found.add(target)
            found.update(f"{target}.{a.name}" for a in node.names)
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
    return found


# ---- layers ------------------------------------------------------------------------------------------------


def test_each_layer_imports_only_the_layers_above_it():
    table = _imports(SRC / "models" / "pretrained.py")
    fetching = _imports(SRC / "models" / "fetch.py")
    resolver = _imports(SRC / "models" / "resolve.py")
    for name in ("msinet.models.fetch", "msinet.models.loading", "msinet.models.resolve", "msinet.models.foreign"):
        assert name not in table, name
    for name in ("msinet.models.loading", "msinet.models.foreign", "msinet.models.resolve"):
        assert name not in fetching, name
    assert "msinet.models.loading" not in resolver and "msinet.models.fetch" not in resolver
    # one sha256 implementation: only fetch hashes files
    for path in (SRC / "models").glob("*.py"):
        if path.name != "fetch.py":
            assert "hashlib" not in _imports(path), path.name


def test_the_clis_ask_the_resolver_instead_of_deciding():
    for path in (SRC / "cli").glob("*.py"):
        text = path.read_text()
        assert "default_model_name" not in text and "_variant_for_scale" not in text, path.name
        assert "model.model_name =" not in text, path.name


# ---- the resolver ------------------------------------------------------------------------------------------


def test_resolver_defaults_aliases_variants_and_files(tmp_path):
    assert resolve.resolve().name == "msinet_small_x4"
    assert resolve.resolve(scale=2).name == "msinet_small_x2"
    assert resolve.resolve("nafssr_s").name == "nafssr_s_x4"  # the alias's recorded name
    assert resolve.resolve("nafssr_s", scale=2).name == "nafssr_s_x2"
    assert resolve.resolve("nafssr_t_x4", scale=2).name == "nafssr_t_x2"
    assert resolve.resolve("msinet_small_x4", scale=4).name == "msinet_small_x4"
    assert resolve.resolve("bicubic_x4", scale=3).name == "bicubic_x3"
    with pytest.raises(ValueError, match="no x3 variant of 'msinet_small_x4'.*trained x3 models|no trained x3"):
        resolve.resolve("msinet_small_x4", scale=3)
    with pytest.raises(ValueError, match="neither a registered model nor an existing weights file"):
        resolve.resolve("nope")
    with pytest.raises(FileNotFoundError, match="weights file not found"):
        resolve.resolve(tmp_path / "missing.pth")
    path = msinet.save_weights(msinet.create_model("bicubic_x4"), tmp_path / "mine.safetensors")
    target = resolve.resolve(path)
    assert target.is_file and target.name == "mine" and target.path == path


def test_no_weights_message_lists_every_trained_model_of_the_scale():
    with pytest.raises(NoWeightsError) as err:
        msinet.load_model("msinet_x4")
    message = str(err.value)
    for name in pretrained.trained_names(4):
        assert name in message
    assert "\n" not in message and "msinet weights" in message


def test_load_model_with_scale_takes_the_variant_and_checks_files(tmp_path):
    assert msinet.load_model("bicubic_x4", scale=2).scale == 2
    path = msinet.save_weights(msinet.load_model(), tmp_path / "x4.safetensors")
    with pytest.raises(ValueError, match="upscales x4, not x2"):
        msinet.load_model(path, scale=2)
    assert msinet.load_model(path).model_name == "x4"  # a file: its name


# ---- downloads ---------------------------------------------------------------------------------------------


def test_a_first_download_builds_the_model_once(server, cache, table, tmp_path, monkeypatch):
    model = _trained("msinet_tiny_x4")
    src = msinet.save_weights(model, tmp_path / "t.safetensors")
    server.routes["/t.safetensors"] = (src.read_bytes(), "application/octet-stream")
    _register_tiny(table, server.url + "/t.safetensors", git_blob=_git_blob(src))
    calls = []
    original = loading.load_file
    monkeypatch.setattr(loading, "load_file", lambda *a, **k: calls.append(a) or original(*a, **k))
    loaded = msinet.load_model("msinet_tiny_x4", download=True, progress=False)
    assert len(calls) == 1 and loaded.model_name == "msinet_tiny_x4"
    left = torch.rand(1, 3, 8, 12)
    torch.testing.assert_close(loaded(left, left)[0], model(left, left)[0], atol=0, rtol=0)


def test_pull_tries_every_name_and_reports_each(cache, capsys):
    assert main(["weights", "pull", "nope", "msinet_small_x4", "msinet_x4"]) == 2
    captured = capsys.readouterr()
    assert "msinet_small_x4: ships with msinet" in captured.out  # tried after the first failure
    errors = [line for line in captured.err.splitlines() if line.startswith("msinet weights: error:")]
    assert len(errors) == 2 and "'nope'" in errors[0] and "msinet_x4" in errors[1]
    assert "2 of 3 could not be pulled" in captured.err


PEER = "cvhssr_t_x4"


def test_a_peer_checkpoint_downloads_verified_by_blob_id_and_size(server, cache, table, shared_peers):
    if PEER not in msinet.list_models():
        pytest.skip(f"{PEER} is not registered")
    published = shared_peers / f"{PEER}.pth"
    record = pretrained.record_for(PEER)
    assert record.git_blob == _git_blob(published) and record.size == published.stat().st_size
    assert record.url.startswith("https://raw.githubusercontent.com/") and record.licence
    body = published.read_bytes()
    server.routes["/good.pth"] = (body, "application/octet-stream")
    damaged = bytearray(body)
    damaged[len(damaged) // 2] ^= 1  # one changed byte, same size
    server.routes["/bad.pth"] = (bytes(damaged), "application/octet-stream")

    table(dataclasses.replace(record, url=server.url + "/bad.pth"))
    with pytest.raises(WeightsError, match="git blob id"):
        loading.fetch_weights(PEER, progress=False)
    assert not cache.exists() or not any(cache.iterdir())  # nothing lands in the cache

    table(dataclasses.replace(record, url=server.url + "/good.pth"))
    path = loading.fetch_weights(PEER, progress=False)
    assert path == fetch.cache_path(record) and path.read_bytes() == body
    by_name, by_file = msinet.load_model(PEER), msinet.load_model(published)
    assert by_name.model_name == PEER
    g = torch.Generator().manual_seed(0)
    left, right = torch.rand(1, 3, 16, 24, generator=g), torch.rand(1, 3, 16, 24, generator=g)
    with torch.no_grad():
        for a, b in zip(by_name(left, right), by_file(left, right)):
            assert torch.equal(a, b)
    assert np.isfinite(a.numpy()).all()


def test_msinet_report_scores_against_bicubic_on_real_pairs(shared_data, capsys):
    """`msinet report` (the held-out table of the model cards) as a documented command; bicubic gains 0 dB."""
    code = main(
        [
            "report",
            "--data",
            str(shared_data / "stereo"),
            "--model",
            "bicubic_x4",
            "--pairs",
            "middlebury2014_motorcycle_quarter",
        ]
    )
    out = capsys.readouterr().out
    assert code == 0 and "model: bicubic_x4; x4" in out
    row = next(line for line in out.splitlines() if line.startswith("| middlebury2014_motorcycle_quarter"))
    assert row.rstrip().endswith("| +0.00 |")
    with pytest.raises(SystemExit) as stop:  # --data is required: no default path climbs out of the package
        main(["report", "--model", "bicubic_x4"])
    assert stop.value.code == 2
