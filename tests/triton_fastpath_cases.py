"""The Triton Sinkhorn's self-check (msinet.fastpath) with the kernel run by Triton's interpreter on CPU.

Run by tests/test_fastpath.py in a subprocess with TRITON_INTERPRET=1; pytest does not collect this file by
itself (its name does not start with test_). `sinkhorn(method="triton")` is what "auto" picks on CUDA.
"""

import os

import pytest
import torch

if os.environ.get("TRITON_INTERPRET") != "1":
    pytest.skip("needs TRITON_INTERPRET=1 before triton is imported (see test_fastpath.py)", allow_module_level=True)

import msinet.layers.sinkhorn_triton as sinkhorn_triton_module  # noqa: E402
from msinet import fastpath  # noqa: E402
from msinet.layers.sinkhorn import TRITON_SINKHORN, sinkhorn, sinkhorn_log  # noqa: E402

torch.set_num_threads(1)
CPU = torch.device("cpu")


@pytest.fixture(autouse=True)
def fresh_verdicts():
    fastpath.reset()
    yield
    fastpath.reset()


def _scores(n=3, w=24, seed=0):
    g = torch.Generator().manual_seed(seed)
    return 3 * torch.randn(2, n, w, w, generator=g)


def _warnings(capsys):
    return [line for line in capsys.readouterr().err.splitlines() if line.startswith("warning:")]


def test_the_kernel_passes_its_check_on_one_line_and_is_then_used(capsys, monkeypatch):
    seen = []
    real = sinkhorn_triton_module.sinkhorn_triton
    monkeypatch.setattr(
        sinkhorn_triton_module, "sinkhorn_triton", lambda m, it: seen.append(tuple(m.shape)) or real(m, it)
    )
    scores = _scores()
    plan = sinkhorn(scores, 6, method="triton")
    sinkhorn(scores, 6, method="triton")
    assert seen == [(1, 24, 24), (2, 3, 24, 24), (2, 3, 24, 24)]  # one line checked, once
    verdict = TRITON_SINKHORN.verdicts["cpu (forward)"]
    assert verdict.ok and verdict.deviation < 1e-6
    torch.testing.assert_close(plan.double(), sinkhorn_log(scores.double(), 6), rtol=1e-5, atol=1e-6)
    assert not _warnings(capsys)


def test_the_backward_is_checked_on_its_own_first_use(capsys):
    scores = _scores().requires_grad_(True)
    sinkhorn(scores.detach(), 4, method="triton")
    assert TRITON_SINKHORN.known(CPU, "forward+backward") is None
    (sinkhorn(scores, 4, method="triton") * torch.randn(scores.shape)).sum().backward()
    assert TRITON_SINKHORN.known(CPU, "forward+backward") is True and scores.grad is not None
    assert not _warnings(capsys)


@pytest.mark.parametrize("fault", ["wrong", "raises", "nan"])
def test_a_wrong_or_failing_kernel_falls_back_to_the_scaling_form_with_one_warning(capsys, monkeypatch, fault):
    real = sinkhorn_triton_module.sinkhorn_triton

    def broken(m, iters):
        if fault == "raises":
            raise RuntimeError("triton.runtime.errors.OutOfResources: out of resource: shared memory")
        plan = real(m, iters - 1)  # one iteration short: a plausible-looking wrong plan
        return plan.masked_fill(plan > plan.median(), float("nan")) if fault == "nan" else plan

    monkeypatch.setattr(sinkhorn_triton_module, "sinkhorn_triton", broken)
    scores = _scores(seed=1)
    plans = [sinkhorn(scores, 6, method="triton") for _ in range(2)]
    want = sinkhorn(scores, 6, method="scaling")
    for plan in plans:
        assert torch.equal(plan, want)
    (line,) = _warnings(capsys)
    assert line.startswith("warning: triton-sinkhorn on cpu (forward) ")
    assert line.endswith("using the reference path for the rest of this process")


def test_the_doctor_probe_passes_under_the_interpreter():
    verdict = TRITON_SINKHORN.verify(CPU)
    assert verdict.ok, verdict.describe()
