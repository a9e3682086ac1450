"""Fast paths that check themselves (msinet.fastpath): the first use on a device is compared with the reference
path; a wrong or failing fast path gives one warning line and the reference results from then on.

Checked on CPU: the mechanism itself, the fused LSKA (fused=True runs on CPU), CUDA graph replay through the
runner's stand-in capture, and the Triton Sinkhorn under Triton's interpreter in a subprocess
(tests/triton_fastpath_cases.py; TRITON_INTERPRET must be set before triton is imported).
"""

import importlib.util
import os
import warnings
from pathlib import Path

import pytest
import torch
from triton_interpreter import assert_cases_pass_under_the_interpreter

import msinet
from msinet import fastpath
from msinet.infer.graphs import GRAPH_REPLAY, GraphedForward, eager_capture, graphed_model
from msinet.layers.lska import FUSED_LSKA, MultiScaleLSKA
from msinet.layers.sinkhorn import TRITON_SINKHORN

TESTS = Path(__file__).resolve().parent
pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(autouse=True)
def fresh_verdicts():
    fastpath.reset()
    yield
    fastpath.reset()


def _warnings(capsys) -> list[str]:
    return [line for line in capsys.readouterr().err.splitlines() if line.startswith("warning:")]


# ---- the mechanism -----------------------------------------------------------------------------------------


def _path():
    return fastpath.FastPath("test-path", "a test", rtol=1e-4, atol=1e-6)


def test_a_wrong_fast_path_is_refused_once_with_one_warning_and_the_verdict_is_kept(capsys):
    path, calls = _path(), []
    x = torch.linspace(-1, 1, 50)

    def fast():
        calls.append("fast")
        return [x * (1 + 1e-3)]  # 1e-3 relative: ten times the tolerance

    for _ in range(3):
        assert path.enabled(torch.device("cpu"), fast, lambda: [x]) is False
    assert calls == ["fast"]  # checked once; later calls are a lookup
    (line,) = _warnings(capsys)
    assert line.startswith("warning: test-path on cpu max deviation 1.0e-03 (allowed 1.0e-04)")
    assert line.endswith("using the reference path for the rest of this process")
    verdict = path.verdicts["cpu"]
    assert not verdict.ok and verdict.deviation == pytest.approx(1e-3, rel=1e-4) and verdict.seconds > 0


def test_a_fast_path_within_tolerance_is_taken_and_a_variant_is_checked_on_its_own(capsys):
    path = _path()
    x = torch.linspace(-1, 1, 50)
    assert path.enabled("cpu", lambda: [x * (1 + 5e-5)], lambda: [x]) is True
    assert path.known("cpu") is True and path.known("cpu", "backward") is None
    assert path.enabled("cpu", lambda: [x + 1], lambda: [x], variant="backward") is False
    assert path.known("cpu") is True and path.known("cpu", "backward") is False
    (line,) = _warnings(capsys)
    assert line.startswith("warning: test-path on cpu (backward) ")


def test_an_exception_a_nan_or_a_wrong_shape_in_the_fast_path_is_a_failure(capsys):
    x = torch.ones(4)

    def raising():
        raise RuntimeError("no kernel image is available for execution on the device\nsecond line")

    path = _path()
    assert path.enabled("cpu", raising, lambda: [x]) is False
    (line,) = _warnings(capsys)
    assert "raised RuntimeError: no kernel image is available for execution on the device" in line
    assert "second line" not in line
    for wrong in ([torch.tensor([1.0, float("nan"), 1.0, 1.0])], [torch.ones(5)], [x, x]):
        path = _path()
        assert path.enabled("cpu", lambda wrong=wrong: wrong, lambda: [x]) is False
        assert len(_warnings(capsys)) == 1


def test_nothing_is_checked_or_recorded_while_tracing():
    path, calls = _path(), []

    def f(x):
        ok = path.enabled("cpu", lambda: calls.append(1) or [x], lambda: [x])
        return x + 1 if ok else x - 1

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        traced = torch.jit.trace(f, torch.zeros(3), check_trace=False)
    assert calls == [] and path.verdicts == {}
    assert torch.equal(traced(torch.zeros(3)), -torch.ones(3))  # unknown verdict while tracing: the reference


def test_every_fast_path_is_registered_with_a_probe():
    names = {p.name for p in fastpath.all_paths()}
    assert {"triton-sinkhorn", "fused-lska", "cuda-graph-replay"} <= names
    assert all(p.probe is not None for p in fastpath.all_paths())


# ---- fused LSKA ----------------------------------------------------------------------------------------------


def _lska(fused=True):
    torch.manual_seed(0)
    layer = MultiScaleLSKA(16, branch_of_group=(0, 1, 2, 2))
    layer.fused = fused
    return layer


def test_fused_lska_is_checked_once_and_then_used(capsys, monkeypatch):
    layer = _lska()
    x = torch.randn(1, 16, 30, 90)
    calls = []
    real = MultiScaleLSKA._forward_fused
    monkeypatch.setattr(MultiScaleLSKA, "_forward_fused", lambda self, t: calls.append(tuple(t.shape)) or real(self, t))
    with torch.no_grad():
        out = layer(x)
        layer(x)
        want = _lska(fused=False)(x)
    # probed on the corner (1, C, 24, 80) of the real input, then the full input twice
    assert calls == [(1, 16, 24, 80), (1, 16, 30, 90), (1, 16, 30, 90)]
    assert FUSED_LSKA.known(torch.device("cpu")) is True and not _warnings(capsys)
    torch.testing.assert_close(out, want, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("fault", ["wrong", "raises"])
def test_a_wrong_or_failing_fused_lska_falls_back_to_the_branches_with_one_warning(capsys, monkeypatch, fault):
    real = MultiScaleLSKA._forward_fused

    def broken(self, t):
        if fault == "raises":
            raise RuntimeError("CUDA error: an illegal memory access was encountered")
        return real(self, t).roll(1, dims=-1)  # e.g. a padding off by one pixel

    monkeypatch.setattr(MultiScaleLSKA, "_forward_fused", broken)
    layer, reference = _lska(), _lska(fused=False)
    x = torch.randn(2, 16, 20, 40)
    with torch.no_grad():
        outs = [layer(x) for _ in range(3)]
        want = reference(x)
    for out in outs:
        assert torch.equal(out, want)  # the per-branch path itself, not an approximation of it
    (line,) = _warnings(capsys)
    assert line.startswith("warning: fused-lska on cpu ")
    assert ("raised RuntimeError: CUDA error" in line) if fault == "raises" else ("max deviation" in line)


def test_a_model_with_a_wrong_fused_lska_gives_the_reference_output(capsys, monkeypatch):
    model = msinet.create_model("msinet_tiny_x4", num_blocks=2).eval()
    pair = [torch.rand(1, 3, 12, 40, generator=torch.Generator().manual_seed(s)) for s in (1, 2)]
    with torch.inference_mode():
        want = model(*pair)
        monkeypatch.setattr(MultiScaleLSKA, "fused", True)
        real = MultiScaleLSKA._forward_fused
        monkeypatch.setattr(MultiScaleLSKA, "_forward_fused", lambda self, t: real(self, t) * 1.01)
        got = model(*pair)
    for g, w in zip(got, want):
        assert torch.equal(g, w)
    assert len(_warnings(capsys)) == 1  # one line for the whole process, however many layers


# ---- CUDA graph replay (the runner with its CPU stand-in capture) ---------------------------------------------


def _model():
    torch.manual_seed(0)
    return msinet.create_model("nafssr_t_x2", num_blocks=2, channels=8).eval()


def _pair(seed, h=10, w=24):
    g = torch.Generator().manual_seed(seed)
    return torch.rand(1, 3, h, w, generator=g), torch.rand(1, 3, h, w, generator=g)


def _bad_capture(fault):
    """eager_capture's contract, with a replay that writes wrong values (e.g. a captured side effect that
    does not repeat) or raises."""

    def capture(fn, static_inputs):
        outputs, replay = eager_capture(fn, static_inputs)

        def bad_replay():
            if fault == "raises":
                raise RuntimeError("CUDA error: operation not permitted when stream is capturing")
            replay()
            outputs[0].add_(0.01)

        return outputs, bad_replay

    return capture


@pytest.mark.parametrize("fault", ["wrong", "raises"])
def test_a_wrong_or_failing_graph_replay_falls_back_to_eager_with_one_warning(capsys, fault):
    model = _model()
    notes = []
    graphed = GraphedForward(model, capture_after=1, capture=_bad_capture(fault), notify=notes.append)
    with torch.inference_mode():
        results = [(graphed(*_pair(s)), model(*_pair(s))) for s in range(3)]
        again = GraphedForward(model, capture_after=1, capture=_bad_capture(fault), notify=notes.append)
        second = again(*_pair(7)), model(*_pair(7))
    for got, want in results + [second]:
        for g, w in zip(got, want):
            assert torch.equal(g, w)
    assert graphed.replays == 0 and graphed.disabled and not graphed.graphs
    assert again.disabled and not again.graphs  # the verdict holds for the device: no second capture, no line
    assert notes == []  # no second line from the runner
    (line,) = _warnings(capsys)
    assert line.startswith("warning: cuda-graph-replay on cpu ")
    assert GRAPH_REPLAY.known(torch.device("cpu")) is False


def test_a_correct_replay_passes_its_check_once_and_is_used(capsys):
    model = _model()
    graphed = GraphedForward(model, capture_after=1, capture=eager_capture)
    with torch.inference_mode():
        for s in range(3):
            for g, w in zip(graphed(*_pair(s)), model(*_pair(s))):
                torch.testing.assert_close(g, w, rtol=0, atol=1e-6)
    assert graphed.replays == 3 and GRAPH_REPLAY.verdicts["cpu"].deviation == 0.0
    assert not _warnings(capsys)


# ---- the Triton Sinkhorn, under Triton's interpreter ----------------------------------------------------------


@pytest.mark.skipif(importlib.util.find_spec("triton") is None, reason="triton is not installed (dev extra)")
def test_the_triton_sinkhorn_checks_itself_under_the_interpreter():
    assert_cases_pass_under_the_interpreter("triton_fastpath_cases.py")


def test_the_triton_sinkhorn_is_not_available_without_cuda_or_the_interpreter():
    if os.environ.get("TRITON_INTERPRET") == "1":
        pytest.skip("the interpreter runs CPU tensors")
    reason = TRITON_SINKHORN.verify(torch.device("cpu"))
    assert reason in ("needs CUDA", "triton is not installed")


def test_checks_inside_the_warm_up_before_capture_do_not_count_as_host_syncs(monkeypatch):
    """The first use of a fast path may fall in the watched warm-up run before a capture (--cuda-graphs on):
    the check's own host reads must not turn graphs off."""
    monkeypatch.setattr(MultiScaleLSKA, "fused", True)
    model = msinet.create_model("msinet_tiny_x4", num_blocks=2, sinkhorn_method="log").eval()
    notes = []
    graphed = GraphedForward(model, capture_after=1, capture=eager_capture, notify=notes.append)
    with torch.inference_mode():
        got = graphed(*_pair(3, 12, 40))
        got = graphed(*_pair(3, 12, 40))
        want = model(*_pair(3, 12, 40))
    assert notes == [] and graphed.disabled is None and graphed.replays == 2
    assert FUSED_LSKA.known(torch.device("cpu")) is True  # checked during the warm-up
    for g, w in zip(got, want):
        torch.testing.assert_close(g, w, rtol=0, atol=1e-6)


def test_on_cpu_by_default_no_fast_path_runs_and_nothing_is_checked():
    model = msinet.create_model("msinet_tiny_x4", num_blocks=2).eval()
    with torch.inference_mode():
        model(*_pair(4, 12, 40))
    assert graphed_model(model, torch.device("cpu"), "auto") is None  # graph replay is CUDA-only
    assert all(not p.verdicts for p in fastpath.all_paths())
