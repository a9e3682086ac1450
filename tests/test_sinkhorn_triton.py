"""The fused Triton Sinkhorn, checked on CPU by Triton's interpreter (tests/triton_cases.py).

TRITON_INTERPRET must be set before triton is first imported, and it turns every Triton kernel in the
process into interpreted numpy: so the cases run in a pytest subprocess with the variable set, and this
process (and every other test module) never sees it.
"""

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest
from triton_interpreter import assert_cases_pass_under_the_interpreter

TESTS = Path(__file__).resolve().parent


@pytest.mark.skipif(importlib.util.find_spec("triton") is None, reason="triton is not installed (dev extra)")
def test_triton_kernel_matches_float64_reference_under_the_interpreter():
    assert_cases_pass_under_the_interpreter("triton_cases.py")


@pytest.mark.skipif(importlib.util.find_spec("triton") is None, reason="triton is not installed (dev extra)")
def test_triton_kernels_compile_for_an_h100_without_a_gpu(tmp_path):
    # the interpreter does not run the backend's type checks and lowering: compile to a cubin for sm_90
    env = {
        **os.environ,
        "TRITON_CACHE_DIR": str(tmp_path),
        "TRITON_DEFAULT_FP_FUSION": "1",
        "PYTHONPATH": os.pathsep.join([str(TESTS.parent / "src"), os.environ.get("PYTHONPATH", "")]),
    }
    env.pop("TRITON_INTERPRET", None)
    run = subprocess.run(
        [sys.executable, str(TESTS / "triton_compile_check.py")],
        cwd=TESTS.parent,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    assert "_forward_kernel cubin" in run.stdout and "_backward_kernel cubin" in run.stdout


@pytest.mark.skipif(importlib.util.find_spec("triton") is None, reason="triton is not installed (dev extra)")
def test_triton_method_on_cpu_is_refused_with_a_clear_error():
    import torch

    from msinet.layers.sinkhorn import sinkhorn

    if os.environ.get("TRITON_INTERPRET") == "1":
        pytest.skip("the interpreter accepts CPU tensors")
    with pytest.raises(ValueError, match="needs CUDA tensors"):
        sinkhorn(torch.zeros(1, 4, 4), method="triton")
