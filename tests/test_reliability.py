"""Nothing left behind, nothing skipped in silence: a refused job leaves the file system as it found
it, a scan skips only the folders msinet made and says so, every command checks where it writes before it
works, every file gets the umask's mode, SIGTERM is handled as SIGINT, output to a log is plain lines, and every
message names the file and says what to do. End-to-end through the command line, on small images."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from PIL import Image

import msinet
from msinet.cli.main import main
from msinet.data.image_io import read_image, write_png
from msinet.data.pair_scan import OUTPUT_MARKER
from msinet.io.mpo import write_mpo

REPO = Path(__file__).resolve().parents[1]
MODEL = ["--model", "bicubic_x4"]
PROC = Path("/proc/self")

pytestmark = pytest.mark.usefixtures("one_thread")


def images(root: Path, *names: str, size=(12, 16), seed: int = 0) -> Path:
    """Random RGB PNGs at root/NAME for each NAME (sub-folders made as needed)."""
    rng = np.random.default_rng(seed)
    for name in names:
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        write_png(root / name, rng.integers(0, 256, (*size, 3), dtype=np.uint8))
    return root


def tree(folder: Path) -> dict:
    """Every file and folder under `folder` with its bytes and mtime: what "as it found it" compares."""
    out = {}
    for p in sorted(folder.rglob("*")):
        out[p.relative_to(folder).as_posix()] = (p.read_bytes(), p.stat().st_mtime_ns) if p.is_file() else "dir"
    return out


def run(capsys, *argv) -> tuple[int, str, str]:
    rc = main([str(a) for a in argv])
    got = capsys.readouterr()
    return rc, got.out, got.err


def one_error_line(err: str, command: str = "upscale") -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"msinet {command}: error: "), err
    assert "Traceback" not in err and "Errno" not in err
    return lines[0]


@pytest.fixture
def umask():
    """umask 027 for one test (files should then be 0640, whatever their kind)."""
    before = os.umask(0o027)
    yield 0o640
    os.umask(before)


def child(code: str, *argv, timeout: int = 120) -> subprocess.CompletedProcess:
    """`python -c code argv...` with this checkout's msinet; stdout and stderr are pipes, not terminals, and
    are decoded as written (no newline translation: a carriage return stays one)."""
    env = {**os.environ, "PYTHONPATH": str(REPO / "src"), "OMP_NUM_THREADS": "1"}
    proc = subprocess.run([sys.executable, "-c", code, *map(str, argv)], env=env, capture_output=True, timeout=timeout)
    proc.stdout, proc.stderr = proc.stdout.decode(), proc.stderr.decode()
    return proc


# ---- 1. a refused job leaves the file system as it found it, and later scans still see every pair ----------


@pytest.mark.parametrize("case", ["own folder", "sizes", "truncated", "unknown model", "scale 3"])
def test_a_refused_job_leaves_no_marker_and_later_scans_see_every_pair(tmp_path, capsys, case):
    shots = images(tmp_path / "shots", "day1/a_L.png", "day1/a_R.png", "day2/b_L.png", "day2/b_R.png")
    out = tmp_path / "out"
    out.mkdir()
    (out / "notes.txt").write_text("a user's folder")
    left, right, target, extra = shots / "day1/a_L.png", shots / "day1/a_R.png", out, [*MODEL]
    if case == "own folder":
        target = shots / "day1"
    elif case == "sizes":
        right = images(tmp_path / "odd", "a_R.png", size=(10, 16)) / "a_R.png"
    elif case == "truncated":
        left = tmp_path / "cut_L.png"
        left.write_bytes((shots / "day1/a_L.png").read_bytes()[:200])
    elif case == "unknown model":
        extra = ["--model", "no_such_model"]
    else:
        extra = ["--scale", "3"]  # no x3 model ships
    before_shots, before_out = tree(shots), tree(out)
    rc, _, err = run(capsys, "upscale", left, right, "-o", target, *extra)
    assert rc == 2, err
    one_error_line(err)
    assert tree(shots) == before_shots and tree(out) == before_out  # no marker, no file, no folder

    rc, _, err = run(capsys, "upscale", "--input", shots, "-o", tmp_path / "all", *MODEL)
    assert rc == 0 and "2 pair(s): 2 written" in err, err
    assert sorted(p.name for p in (tmp_path / "all").glob("*.png")) == [
        "day1_a_L.png",
        "day1_a_R.png",
        "day2_b_L.png",
        "day2_b_R.png",
    ]


def test_the_marker_comes_with_the_first_result_and_says_what_it_is(tmp_path, capsys):
    src = images(tmp_path / "in", "a_L.png", "a_R.png")
    out = tmp_path / "out"
    assert run(capsys, "upscale", src / "a_L.png", src / "a_R.png", "-o", out, *MODEL)[0] == 0
    assert "Delete this file" in (out / OUTPUT_MARKER).read_text()
    rc, stdout, _ = run(capsys, "upscale", src / "a_L.png", src / "a_R.png", "-o", out, *MODEL, "--skip-existing")
    assert rc == 0 and "skipped (all outputs exist)" in stdout
    # without the marker the folder is the user's again: read as input, and no longer written into
    (out / OUTPUT_MARKER).unlink()
    before = tree(out)
    rc, _, err = run(capsys, "upscale", src / "a_L.png", src / "a_R.png", "-o", out, *MODEL, "--skip-existing")
    assert rc == 2 and "holds stereo pairs that msinet did not write" in one_error_line(err) and tree(out) == before
    rc, _, err = run(capsys, "upscale", "--input", tmp_path, "-o", tmp_path / "all", *MODEL)
    assert rc == 0 and "2 pair(s): 2 written" in err  # in/a and out/a


# ---- 2. -o inside --input ---------------------------------------------------------------------------------


def test_output_inside_the_input_that_holds_pairs_is_refused_not_dropped(tmp_path, capsys):
    shots = images(tmp_path / "shots", "a_L.png", "a_R.png", "sub/b_L.png", "sub/b_R.png")
    before = tree(shots)
    rc, _, err = run(capsys, "upscale", "--input", shots, "-o", shots / "sub", *MODEL)
    line = one_error_line(err)
    assert rc == 2 and f"-o {shots / 'sub'} holds stereo pairs that msinet did not write" in line
    assert "choose another -o" in line and tree(shots) == before

    rc, _, err = run(capsys, "upscale", "--input", shots, "-o", shots / "x4", *MODEL)  # a new sub-folder: fine
    assert rc == 0 and "2 pair(s): 2 written" in err, err
    assert sorted(p.name for p in (shots / "x4").glob("*.png")) == ["a_L.png", "a_R.png", "sub_b_L.png", "sub_b_R.png"]
    # a later scan skips msinet's folder, and says so in one line naming it and the marker
    rc, _, err = run(capsys, "upscale", "--input", shots, "-o", tmp_path / "again", *MODEL)
    assert rc == 0 and "2 pair(s): 2 written" in err
    assert f"skipped folder {shots / 'x4'}: msinet wrote results there (it holds {OUTPUT_MARKER}" in err
    # into the same sub-folder again (resume): it is msinet's, so allowed; it is named as not scanned
    rc, _, err = run(capsys, "upscale", "--input", shots, "-o", shots / "x4", *MODEL, "--skip-existing")
    assert rc == 0 and f"skipped folder {shots / 'x4'}: it is the output folder (-o)" in err


# ---- 3. MPO and --layout outputs are msinet's too; MPO files in a folder are named -------------------------


def test_mpo_and_layout_results_are_never_rescanned(tmp_path, capsys):
    rng = np.random.default_rng(3)
    shots = images(tmp_path / "shots", "c_L.png", "c_R.png")
    write_mpo(shots / "pair.mpo", *(rng.integers(0, 256, (12, 16, 3), dtype=np.uint8) for _ in range(2)))
    write_png(shots / "sbs.png", rng.integers(0, 256, (12, 32, 3), dtype=np.uint8))
    assert run(capsys, "upscale", shots / "pair.mpo", "-o", shots / "x4", "--mpo-output", "png", *MODEL)[0] == 0
    assert run(capsys, "upscale", shots / "sbs.png", "--layout", "sbs", "-o", shots / "sbs4", *MODEL)[0] == 0
    assert (shots / "x4" / OUTPUT_MARKER).is_file() and (shots / "sbs4" / OUTPUT_MARKER).is_file()

    rc, _, err = run(capsys, "upscale", "--input", shots, "-o", tmp_path / "out", *MODEL)
    assert rc == 0 and "1 pair(s): 1 written" in err, err
    assert sorted(p.name for p in (tmp_path / "out").glob("*.png")) == ["c_L.png", "c_R.png"]  # no x16 pair_L
    assert read_image(tmp_path / "out" / "c_L.png").shape == (48, 64, 3)
    assert f"skipped folder {shots / 'x4'}: msinet wrote results there" in err
    assert f"skipped folder {shots / 'sbs4'}: msinet wrote results there" in err
    assert f"skipped {shots / 'pair.mpo'}: an MPO is upscaled on its own: msinet upscale {shots / 'pair.mpo'}" in err
    assert f"unpaired (skipped): {shots / 'sbs.png'}" in err


def test_eval_saved_images_are_msinet_s_folder_too(tmp_path, capsys):
    scene = images(tmp_path / "set", "s1/hr0.png", "s1/hr1.png", size=(16, 24))
    rc, _, err = run(
        capsys,
        "eval",
        *MODEL,
        "--data",
        scene,
        "--sets",
        "custom",
        "--no-cache",
        "-q",
        "--save-sr",
        tmp_path / "sr",
        "--out",
        tmp_path / "results",
    )
    saved = tmp_path / "sr" / "set"
    assert rc == 0 and sorted(p.name for p in saved.iterdir()) == [OUTPUT_MARKER, "s1_L.png", "s1_R.png"], err
    rc, _, err = run(capsys, "upscale", "--input", tmp_path, "-o", tmp_path / "x4", *MODEL)
    assert rc == 0 and "1 pair(s): 1 written" in err and f"skipped folder {saved}: msinet wrote results" in err


def test_an_mpo_with_more_than_two_pictures_says_what_it_leaves_out(tmp_path, capsys):
    rng = np.random.default_rng(4)
    views = [Image.fromarray(rng.integers(0, 256, (12, 16, 3), dtype=np.uint8)) for _ in range(3)]
    src = tmp_path / "three.mpo"
    views[0].save(src, format="MPO", save_all=True, append_images=views[1:])
    rc, _, err = run(capsys, "upscale", src, "-o", tmp_path / "out", *MODEL)
    assert rc == 0
    assert f"note: {src} holds 3 pictures: the first two are upscaled as the left and right views, the other 1" in err


# ---- 4, 5. every command checks where it writes before it works --------------------------------------------


@pytest.fixture(scope="module")
def authors_pth(tmp_path_factory) -> Path:
    from test_foreign import reference_state

    path = tmp_path_factory.mktemp("pth") / "msinet.pth"
    torch.save({"params": reference_state("msinet", channels=16, num_blocks=2, scale=2)}, path)
    return path


@pytest.mark.skipif(not PROC.is_dir(), reason="no /proc")
def test_convert_to_an_unwritable_place_is_one_line_before_any_work(tmp_path, capsys, authors_pth, monkeypatch):
    import msinet.models.foreign as foreign

    monkeypatch.setattr(foreign, "load_foreign", lambda *a, **k: pytest.fail("read the checkpoint first"))
    rc, _, err = run(capsys, "convert", authors_pth, "/proc/x.safetensors")
    line = one_error_line(err, "convert")
    assert rc == 2 and line.endswith(
        "cannot write into /proc: files cannot be created there; choose another output folder"
    )
    rc, _, err = run(capsys, "convert", authors_pth, tmp_path)  # a folder where the file should go
    assert rc == 2


def test_convert_and_upscale_on_a_read_only_file_system(tmp_path, capsys, authors_pth, tmpfs):
    ro = tmpfs("ro,size=1m")
    rc, _, err = run(capsys, "convert", authors_pth, ro / "x.safetensors")
    assert rc == 2 and one_error_line(err, "convert").endswith(
        f"cannot write into {ro}: the file system is read-only; choose another output folder"
    )
    src = images(tmp_path / "in", "a_L.png", "a_R.png")
    rc, _, err = run(capsys, "upscale", src / "a_L.png", src / "a_R.png", "-o", ro, *MODEL)
    line = one_error_line(err)
    assert rc == 2 and f"cannot write into {ro}: the file system is read-only" in line
    assert ".msinet-write-test" not in line  # never the name of an internal file


@pytest.mark.skipif(not PROC.is_dir(), reason="no /proc")
@pytest.mark.parametrize("flag, name", [("--onnx", "x.onnx"), ("--pt2", "x.pt2")])
def test_export_checks_its_output_before_exporting(tmp_path, capsys, monkeypatch, flag, name):
    pytest.importorskip("onnx")
    import msinet.export as export

    weights = msinet.save_weights(msinet.create_model("msinet_tiny_x4", num_blocks=1), tmp_path / "t.safetensors")
    monkeypatch.setattr(export, "export_program", lambda *a, **k: pytest.fail("exported before the check"))
    start = time.perf_counter()
    rc, _, err = run(capsys, "export", "--model", weights, flag, f"/proc/{name}")
    line = one_error_line(err, "export")
    assert rc == 2 and "cannot write into /proc: files cannot be created there" in line and ".tmp" not in line
    assert time.perf_counter() - start < 30


def test_train_checks_its_run_folder_before_loading_anything(tmp_path, capsys, tmpfs, monkeypatch):
    from train_utils import tiny_config

    import msinet.train.trainer as trainer

    monkeypatch.setattr(trainer.Trainer, "__init__", lambda *a, **k: pytest.fail("built before the check"))
    ro = tmpfs("ro,size=1m")
    (tmp_path / "t.yaml").write_text(yaml.safe_dump(tiny_config([str(tmp_path)], ro / "runs")))
    rc, _, err = run(capsys, "train", "--config", tmp_path / "t.yaml")
    assert rc == 2 and one_error_line(err, "train").endswith(
        f"cannot create the output folder {ro / 'runs' / 't'}: the file system is read-only; choose another output "
        "folder"
    )


def test_upscale_to_proc_says_what_it_is(tmp_path, capsys):
    if not PROC.is_dir():
        pytest.skip("no /proc")
    src = images(tmp_path / "in", "a_L.png", "a_R.png")
    rc, _, err = run(capsys, "upscale", src / "a_L.png", src / "a_R.png", "-o", "/proc", *MODEL)
    line = one_error_line(err)
    assert rc == 2 and "cannot write into /proc: files cannot be created there" in line
    assert "no such file" not in line


# ---- 6. one mode for every file msinet writes: the umask's --------------------------------------------------


def test_weights_images_and_training_files_get_the_umask_mode(tmp_path, capsys, umask, authors_pth):
    from train_utils import tiny_config, write_synthetic_pairs

    assert run(capsys, "convert", authors_pth, tmp_path / "c.safetensors")[0] == 0
    src = images(tmp_path / "in", "a_L.png", "a_R.png")
    assert run(capsys, "upscale", src / "a_L.png", src / "a_R.png", "-o", tmp_path / "up", *MODEL)[0] == 0
    config = tiny_config(
        write_synthetic_pairs(tmp_path / "data", count=1),
        tmp_path / "runs",
        train={"steps": 2, "ema_decay": 0.5},
        checkpoint={"every": 2},
    )
    (tmp_path / "t.yaml").write_text(yaml.safe_dump(config))
    assert run(capsys, "train", "--config", tmp_path / "t.yaml")[0] == 0
    run_dir = tmp_path / "runs" / "t"
    written = [
        tmp_path / "c.safetensors",
        tmp_path / "up" / "a_L.png",
        tmp_path / "up" / OUTPUT_MARKER,
        run_dir / "final.safetensors",
        *(run_dir / "checkpoints").glob("step_*/*"),
    ]
    assert {p.name for p in written} >= {"final.safetensors", "model.safetensors", "ema.safetensors", "state.pt"}
    assert {p.relative_to(tmp_path).as_posix(): oct(p.stat().st_mode & 0o777) for p in written} == {
        p.relative_to(tmp_path).as_posix(): oct(umask) for p in written
    }


# ---- 7. SIGTERM gets what SIGINT gets ----------------------------------------------------------------------

SIGTERM_WHILE_WRITING = """
import os, signal, sys, pathlib
from msinet.cli.main import main

real, calls = pathlib.Path.write_bytes, {"n": 0}

def write_bytes(self, data):  # SIGTERM while the temp of the 2nd pair's left view is written (not a rename)
    if self.name.endswith(".tmp") and "_L.png" in self.name:
        calls["n"] += 1
        if calls["n"] == int(sys.argv[1]):
            os.kill(os.getpid(), signal.SIGTERM)
    return real(self, data)

pathlib.Path.write_bytes = write_bytes
sys.exit(main(sys.argv[2:]))
"""


def test_sigterm_cleans_up_and_explains_like_sigint(tmp_path):
    src = images(tmp_path / "in", "a_L.png", "a_R.png", "b_L.png", "b_R.png", "c_L.png", "c_R.png")
    out = tmp_path / "out"
    proc = child(SIGTERM_WHILE_WRITING, 2, "upscale", "--input", src, "-o", out, *MODEL)
    assert proc.returncode == 143, proc.stderr  # 128 + SIGTERM, as a shell reports it
    assert sorted(p.name for p in out.iterdir()) == [OUTPUT_MARKER, "a_L.png", "a_R.png"]  # no hidden temp
    assert "interrupted (SIGTERM) during pair 2 of 3 (b), which is not complete" in proc.stderr
    assert "--skip-existing" in proc.stderr and proc.stderr.count("interrupted") == 1

    # a single pair into a new folder: nothing is left, not even the folder (or a marker in it)
    single = tmp_path / "single"
    proc = child(SIGTERM_WHILE_WRITING, 1, "upscale", src / "a_L.png", src / "a_R.png", "-o", single, *MODEL)
    assert proc.returncode == 143 and not single.exists(), proc.stderr
    assert proc.stderr.count("interrupted") == 1 and "SIGTERM" in proc.stderr


# ---- 8. messages that name the file and say what to do -------------------------------------------------------


def test_folders_and_binary_files_where_files_are_expected(tmp_path, capsys):
    src = images(tmp_path / "in", "a_L.png", "a_R.png")
    rc, _, err = run(capsys, "upscale", src / "a_L.png", src / "a_R.png", "-o", tmp_path / "o", "--model", src)
    line = one_error_line(err)
    assert f"{src} is a folder, not a weights file; give a .safetensors or .pth file" in line
    assert rc == 2 and "not found" not in line
    rc, _, err = run(capsys, "train", "--config", src)
    line = one_error_line(err, "train")
    assert rc == 2 and f"{src} is a folder, not a config file; give a YAML file" in line
    rc, _, err = run(capsys, "train", "--config", src / "a_L.png")
    line = one_error_line(err, "train")
    assert rc == 2 and f"{src / 'a_L.png'}: not a text file, so not a YAML config" in line and "codec" not in line


def test_eval_names_the_size_of_a_one_pixel_image(tmp_path, capsys):
    scene = tmp_path / "set" / "s1"
    for view in ("hr0", "hr1"):
        images(scene, f"{view}.png", size=(1, 1))
    rc, _, err = run(
        capsys,
        "eval",
        "--model",
        "bicubic_x4",
        "--data",
        tmp_path / "set",
        "--sets",
        "custom",
        "--no-cache",
        "--out",
        tmp_path / "results",
    )
    assert rc == 2 and f"{scene / 'hr0.png'}: 1x1 is too small for x4" in err and "0x0" not in err
    assert "\r" not in err  # no progress bar frame before the error (stderr is no terminal here)


def test_context_zero_with_tiles_warns_and_the_seams_are_real(tmp_path, capsys, shared_data):
    src = images(tmp_path / "in", "a_L.png", "a_R.png", size=(24, 16))
    argv = ["upscale", src / "a_L.png", src / "a_R.png", *MODEL, "--context", "0"]
    rc, _, err = run(capsys, *argv, "-o", tmp_path / "tiled", "--tile", "8")
    assert rc == 0 and "warning: --context 0: the tiles see no rows beyond their own" in err
    rc, _, err = run(capsys, *argv, "-o", tmp_path / "whole")  # --tile auto: one tile for so small a pair
    assert rc == 0 and "warning" not in err
    # what the warning says, on a real crop with the shipped model: seams of tens of levels, none with context
    from msinet.data.imresize import imresize

    model = msinet.load_model()
    views = [
        imresize(
            np.asarray(
                Image.open(shared_data / "stereo" / "middlebury2014_motorcycle_quarter" / f"{v}.png").convert("RGB")
            ),
            0.25,
        )[40:72, :96]
        for v in ("left", "right")
    ]
    whole = model.upscale(*views, tile=None)[0].astype(int)
    assert np.abs(model.upscale(*views, tile=16, context=0)[0] - whole).max() >= 20
    assert np.abs(model.upscale(*views, tile=16, context="auto")[0] - whole).max() <= 1


# ---- 9. output to a log file or a pipe is plain lines ---------------------------------------------------------


def test_progress_into_a_pipe_is_plain_lines(tmp_path):
    src = images(tmp_path / "in", "a_L.png", "a_R.png", "b_L.png", "b_R.png", "c_L.png", "c_R.png")
    out = tmp_path / "out"
    run_main = "import sys; from msinet.cli.main import main; sys.exit(main(sys.argv[1:]))"
    assert child(run_main, "upscale", src / "a_L.png", src / "a_R.png", "-o", out, *MODEL).returncode == 0
    proc = child(run_main, "upscale", "--input", src, "-o", out, *MODEL, "--skip-existing")
    assert proc.returncode == 0, proc.stderr
    for text in (proc.stdout, proc.stderr):
        assert "\r" not in text and "\x1b" not in text and "pair/s" not in text, repr(text)
    assert proc.stderr.splitlines()[-1].startswith("msinet upscale: 3 pair(s): 2 written, 1 skipped, 0 failed")
    assert [line.split(":")[0] for line in proc.stdout.splitlines()] == ["[1/3] a", "[2/3] b", "[3/3] c"]
    # one pair in a folder, taking over a second: the pair bar and the row bar would nest
    one = images(tmp_path / "one", "w_L.png", "w_R.png", size=(64, 320))
    proc = child(
        run_main, "upscale", "--input", one, "-o", tmp_path / "o1", "--model", "msinet_tiny_x4", "--random-init"
    )
    assert proc.returncode == 0 and "\r" not in proc.stderr and "\x1b" not in proc.stderr, repr(proc.stderr)


def test_plain_progress_is_a_line_now_and_then():
    import io

    from msinet.runtime.progress import PlainProgress, progress_bar

    log = io.StringIO()
    assert isinstance(progress_bar(total=3, desc="x", file=log), PlainProgress)  # a StringIO is no terminal
    quiet = PlainProgress(total=3, desc="upscale", unit="pair", file=log, plain_every=None)
    for _ in range(3):
        quiet.update(1)
    assert log.getvalue() == ""  # the caller prints a line per pair itself
    every = PlainProgress(total=4, desc="rows", unit="row", file=log, plain_every=0.0)
    every.update(1)
    every.set_postfix({"loss": 0.5})
    every.update(1)
    assert log.getvalue().splitlines() == [
        "rows: 1/4 rows (25%) after 0:00",
        "rows: 2/4 rows (50%) after 0:00, loss=0.5",
    ]
    download = PlainProgress(total=8 << 20, desc="w", unit="B", file=log, plain_every=0.0)
    download.update(3 << 20)
    assert log.getvalue().splitlines()[-1] == "w: 3.0 MB of 8.0 MB (38%) after 0:00"


def test_threads_default_to_the_physical_cores_this_process_may_use(monkeypatch):
    from msinet.runtime.cpu import physical_cores, set_threads

    before = torch.get_num_threads()
    try:
        assert 1 <= physical_cores() <= (os.cpu_count() or 1)
        monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
        monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0})  # e.g. under `taskset -c 0`
        assert physical_cores() == 1 and set_threads() == 1 and torch.get_num_threads() == 1
        assert set_threads(2) == 2 and torch.get_num_threads() == 2
        monkeypatch.setattr(os, "sched_getaffinity", lambda pid: set(range(os.cpu_count() or 1)))
        cores = physical_cores()
        monkeypatch.setenv("LOCAL_WORLD_SIZE", "2")  # torchrun: cores shared among its processes
        assert set_threads() == max(1, cores // 2)
        monkeypatch.setenv("OMP_NUM_THREADS", "3")  # the user's (or torchrun's) setting wins over the count
        assert set_threads() == 3 and torch.get_num_threads() == 3
        assert set_threads(1) == 1  # and --threads over both
        for bad in ("0", "two"):
            monkeypatch.setenv("OMP_NUM_THREADS", bad)
            with pytest.raises(ValueError, match="OMP_NUM_THREADS must be a positive integer"):
                set_threads()
        with pytest.raises(ValueError, match="--threads must be a positive integer"):
            set_threads(0)
    finally:
        torch.set_num_threads(before)
