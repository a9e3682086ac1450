"""`msinet doctor` end to end on CPU: every section present, exit 0; a failing fast path or a corrupt cached
weights file gives FAILED lines and exit 1."""

import re

import pytest
import torch

from msinet import __version__, fastpath
from msinet.cli.main import main
from msinet.layers.lska import FUSED_LSKA, MultiScaleLSKA
from msinet.models.fetch import cache_path
from msinet.models.pretrained import weights_table

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(autouse=True)
def empty_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("MSINET_CACHE", str(tmp_path / "cache"))
    fastpath.reset()
    yield tmp_path / "cache"
    fastpath.reset()


def _doctor(capsys, *extra):
    code = main(["doctor", "--seconds", "0.3", *extra])
    return code, capsys.readouterr().out


def test_doctor_on_cpu_reports_every_section_and_exits_0(capsys, empty_cache):
    code, out = _doctor(capsys)
    assert code == 0, out
    lines = out.splitlines()
    assert re.search(rf"^  msinet +{re.escape(__version__)} ", out, re.M)
    assert re.search(rf"^  torch +{re.escape(torch.__version__)} \(CUDA ", out, re.M)
    for dist in ("triton", "onnxruntime", "av"):
        assert re.search(rf"^  {dist} +\S", out, re.M), dist
    assert re.search(r"^  cpu +.*cores \(\d+ usable\)", out, re.M)
    assert re.search(rf"^threads +torch {torch.get_num_threads()} intra-op", out, re.M)
    assert re.search(r"^bf16 +cpu (native|emulated|unknown)", out, re.M)
    assert f"weights cache       {empty_cache / 'weights'} ($MSINET_CACHE set)" in lines
    for name, record in weights_table().items():
        want = "shipped in the package" if record.source == "shipped" else "not downloaded"
        assert re.search(rf"^  {name} +{want}", out, re.M), name
    # each fast path on the CPU: the fused LSKA runs and passes; the CUDA-only ones say why they do not
    assert re.search(r"^  fused-lska cpu +ok: max deviation \S+ \(allowed \S+\), \d+\.\d\d s$", out, re.M)
    assert re.search(r"^  cuda-graph-replay cpu +not available \(needs CUDA\)$", out, re.M)
    assert re.search(r"^  triton-sinkhorn cpu +not available \((needs CUDA|triton is not installed)\)$", out, re.M)
    assert re.search(
        r"^speed +msinet_small_x4 \(random weights\), LR pair 32x64, cpu, fp32, .* per pair over \d+ runs?", out, re.M
    )
    assert lines[-1] == "result: ok"


def test_a_failing_fast_path_is_reported_with_its_deviation_and_exit_1(capsys, monkeypatch):
    real = MultiScaleLSKA._forward_fused
    monkeypatch.setattr(MultiScaleLSKA, "_forward_fused", lambda self, x: real(self, x) + 0.5)
    code, out = _doctor(capsys, "--seconds", "0")
    assert code == 1
    assert re.search(r"^  fused-lska cpu +FAILED: max deviation 5\.0e-01 \(allowed \S+\)$", out, re.M), out
    assert out.splitlines()[-1] == "result: FAILED: fused-lska cpu"
    assert "speed " not in out  # --seconds 0 skips the probe
    assert FUSED_LSKA.verdicts == {}  # doctor's own probes leave the process's verdicts alone


def test_a_raising_fast_path_and_a_corrupt_cached_file_are_failures(capsys, monkeypatch, empty_cache):
    def raising(self, x):
        raise RuntimeError("no kernel image is available for execution on the device")

    monkeypatch.setattr(MultiScaleLSKA, "_forward_fused", raising)
    checked = next(r for r in weights_table().values() if r.source != "shipped" and (r.sha256 or r.git_blob))
    path = cache_path(checked)
    path.parent.mkdir(parents=True)
    path.write_bytes(b"not a checkpoint")
    code, out = _doctor(capsys, "--seconds", "0")
    assert code == 1
    assert re.search(r"^  fused-lska cpu +FAILED: raised RuntimeError: no kernel image is available", out, re.M)
    assert re.search(rf"^  {checked.name} +BAD: {checked.name}: .* has ", out, re.M), out
    assert out.splitlines()[-1] == f"result: FAILED: cached weights of {checked.name}; fused-lska cpu"
