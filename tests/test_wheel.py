"""The package as users get it: a wheel built from this tree, installed with only its core dependencies into a
fresh virtual environment outside the checkout, runs the demo and lists its weights offline.

Installing needs the package registry (as CI has); running does not: the network is closed to the commands by
a proxy that refuses every connection.
"""

from __future__ import annotations

import os
import subprocess
import sys
import venv
import zipfile
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parent.parent
CORE = {"torch", "numpy", "safetensors", "pillow", "pyyaml", "platformdirs", "tqdm"}


def _run(cmd, cwd, env=None, timeout=900):
    proc = subprocess.run([str(c) for c in cmd], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    return proc


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """(venv python, a working folder outside the checkout) with the built wheel and its core dependencies."""
    work = tmp_path_factory.mktemp("wheel")
    proc = _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", work / "dist", ROOT], work)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "deprecat" not in (proc.stdout + proc.stderr).lower(), proc.stderr[-3000:]
    (wheel,) = (work / "dist").glob("msinet-*.whl")
    with zipfile.ZipFile(wheel) as zf:
        names = set(zf.namelist())
    for shipped in (
        "msinet/weights/index.json",
        "msinet/weights/msinet_small_x4.safetensors",
        "msinet/weights/msinet_small_x2.safetensors",
        "msinet/assets/motorcycle_left.webp",
        "msinet/assets/motorcycle_right.webp",
    ):
        assert shipped in names, f"{shipped} missing from {wheel.name}"
    venv.EnvBuilder(with_pip=True).create(work / "venv")
    python = work / "venv" / "bin" / "python"
    torch_pin = f"torch=={torch.__version__.split('+')[0]}"  # the build installed here (a CPU wheel from disk)
    proc = _run([python, "-m", "pip", "install", "-q", torch_pin, wheel], work)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return python, work


def _offline_env(work: Path) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "no_proxy", "NO_PROXY")}
    dead = "http://127.0.0.1:9"  # the discard port: every connection is refused
    env.update(
        HTTP_PROXY=dead,
        HTTPS_PROXY=dead,
        http_proxy=dead,
        https_proxy=dead,
        OMP_NUM_THREADS="1",
        MSINET_CACHE=str(work / "cache"),
        XDG_CACHE_HOME=str(work / "xdg"),
    )
    return env


def test_core_install_holds_only_the_core(installed):
    python, work = installed
    proc = _run([python, "-m", "pip", "list", "--format=freeze"], work)
    dists = {line.split("==")[0].lower() for line in proc.stdout.splitlines()}
    for extra_only in (
        "scipy",
        "scikit-image",
        "opencv-python-headless",
        "matplotlib",
        "tensorboard",
        "lion-pytorch",
        "onnx",
        "av",
    ):
        assert extra_only not in dists
    assert CORE <= dists
    proc = _run([python, "-c", "import msinet, sys; print(msinet.__file__); print('torch' in sys.modules)"], work)
    location, torch_loaded = proc.stdout.split()
    assert Path(location).is_relative_to(work / "venv"), location  # the installed copy, not this checkout
    assert torch_loaded == "False"  # `import msinet` stays light


def test_demo_and_weights_run_offline_from_the_wheel(installed):
    python, work = installed
    msinet = python.parent / "msinet"
    env = _offline_env(work)
    proc = _run([msinet, "upscale", "--demo", "-o", work / "demo"], work, env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "msinet_small_x4" in proc.stdout and " dB" in proc.stdout
    for name in ("demo_L.png", "demo_R.png", "demo_comparison.png"):
        assert (work / "demo" / name).stat().st_size > 10_000
    proc = _run([msinet, "weights"], work, env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "msinet_small_x4" in proc.stdout and "shipped" in proc.stdout


def test_a_command_missing_its_extra_names_it(installed, tmp_path):
    python, work = installed
    msinet = python.parent / "msinet"
    config = tmp_path / "c.yaml"
    config.write_text(
        f"name: t\nmodel: {{name: msinet_small_x4}}\ndata: {{train: [{tmp_path}]}}\n"
        f"optim: {{name: lion}}\nlog: {{out_dir: {tmp_path / 'runs'}}}\n"
    )
    proc = _run([msinet, "train", "--config", config], work, _offline_env(work))
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 2 and lines and "pip install 'msinet[train]'" in lines[-1], proc.stderr
    assert "Traceback" not in proc.stderr
