"""Long and interrupted jobs finish cleanly: results land whole, --skip-existing resumes, outputs are
never inputs, the output is checked before the model loads, progress/summary/warnings, the scanner's layouts."""

from __future__ import annotations

import errno
import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import msinet.io.landing as landing
from msinet.cli.main import main
from msinet.data.image_io import read_image, write_png
from msinet.data.imresize import imresize
from msinet.infer.pairs import find_pairs

REPO = Path(__file__).resolve().parents[1]
MODEL = ["--model", "bicubic_x4"]

pytestmark = pytest.mark.usefixtures("one_thread")


def make_folder(root: Path, names=("a", "b", "c"), size=(12, 16)) -> Path:
    rng = np.random.default_rng(0)
    root.mkdir(parents=True, exist_ok=True)
    for name in names:
        for tag in "LR":
            write_png(root / f"{name}_{tag}.png", rng.integers(0, 256, (*size, 3), dtype=np.uint8))
    return root


def reference(src: Path, name: str) -> list[np.ndarray]:
    """bicubic_x4 computed here, independently of the CLI (MATLAB bicubic on float, rounded)."""
    out = []
    for tag in "LR":
        sr = imresize(read_image(src / f"{name}_{tag}.png").astype(np.float64) / 255, 4)
        out.append(np.round(np.clip(sr, 0, 1) * 255).astype(np.uint8))
    return out


def snapshot(folder: Path) -> dict:
    return {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in sorted(folder.iterdir())} if folder.is_dir() else {}


def hidden_leftovers(folder: Path) -> list[str]:
    return [p.name for p in folder.iterdir() if p.name.startswith(".") and p.name != ".msinet-output"]


def assert_complete(src: Path, out: Path, names=("a", "b", "c")) -> None:
    for name in names:
        want = reference(src, name)
        for tag, ref in zip("LR", want):
            got = read_image(out / f"{name}_{tag}.png")
            assert np.abs(got.astype(int) - ref).max() <= 1, (name, tag)
    assert hidden_leftovers(out) == []


def interrupt_rename(monkeypatch, at: int, after: bool = False):
    """Raise KeyboardInterrupt at the `at`-th rename of io/landing (1-based), before it or just after it."""
    calls = {"n": 0}
    real = landing._rename

    def rename(src, dst):
        calls["n"] += 1
        if calls["n"] == at and not after:
            raise KeyboardInterrupt
        real(src, dst)
        if calls["n"] == at and after:
            raise KeyboardInterrupt

    monkeypatch.setattr(landing, "_rename", rename)


# each landing renames: the journal, the left view, the right view; the first one puts the folder's marker in place
# before its journal (calls 1..4); pair b is the 2nd landing (calls 5..7)
@pytest.mark.parametrize(
    "at, after, b_state",
    [
        (5, False, "none"),  # before the renames: only temps were written, and they are removed at once
        (7, False, "left only"),  # between the two renames: b_L.png in place, journal and b_R temp left
        (7, True, "both"),  # after both renames, before the journal is deleted
    ],
)
def test_interrupted_landing_then_skip_existing_completes_every_pair(tmp_path, capsys, monkeypatch, at, after, b_state):
    src, out = make_folder(tmp_path / "in"), tmp_path / "out"
    out.mkdir()
    write_png(out / "c_L.png", np.zeros((5, 5, 3), np.uint8))  # a file the user had: never touched
    before = snapshot(out)
    interrupt_rename(monkeypatch, at, after)
    assert main(["upscale", "--input", str(src), "-o", str(out), *MODEL]) == 130
    monkeypatch.undo()
    err = capsys.readouterr().err
    assert "interrupted (SIGINT) during pair 2 of 3 (b), which is not complete" in err and "--skip-existing" in err
    assert err.count("interrupted") == 1  # one line, not a second one from main()
    have = {"none": set(), "left only": {"b_L.png"}, "both": {"b_L.png", "b_R.png"}}[b_state]
    assert {p.name for p in out.glob("b_*.png")} == have
    assert (out / "a_L.png").is_file() and (out / "a_R.png").is_file()

    # a plain rerun first finishes an interrupted landing (the journal says its temps are complete), then
    # refuses every output that exists (nothing is overwritten) and says how to resume; missing pairs are computed
    assert main(["upscale", "--input", str(src), "-o", str(out), *MODEL]) == 1
    got = capsys.readouterr()
    err = got.err
    assert "--skip-existing to keep it" in err
    assert ("finished writing b_R.png" in err) == (b_state == "left only")
    assert_complete(src, out, ("a", "b"))
    # pair b is not "failed": this run completed it (or, "none", computed it); only a and c had outputs already
    assert "error: pair b" not in err and "error: pair a" in err and "error: pair c" in err
    assert "1 written, 0 skipped, 2 failed" in err
    if b_state != "none":
        assert "b: finished writing" in got.out and "computed by an interrupted job" in got.out

    assert main(["upscale", "--input", str(src), "-o", str(out), *MODEL, "--skip-existing"]) == 0
    assert "3 pair(s): 1 written, 2 skipped, 0 failed" in capsys.readouterr().err  # c_R.png was missing
    assert_complete(src, out, ("a", "b"))
    assert (out / "c_L.png").read_bytes() == before["c_L.png"][0]  # the user's file is kept as it was
    assert (out / "c_L.png").stat().st_mtime_ns == before["c_L.png"][1]
    np.testing.assert_allclose(read_image(out / "c_R.png"), reference(src, "c")[1], atol=1)


CHILD = """
import os, signal, sys
import msinet.io.landing as landing
from msinet.cli.main import main

real, calls = landing._rename, {"n": 0}

def rename(src, dst):
    calls["n"] += 1
    if calls["n"] == 7:  # between the left and the right view of the 2nd pair (1: marker, 2: journal, 3: left, ...)
        os.kill(os.getpid(), getattr(signal, sys.argv[1]))
    real(src, dst)

landing._rename = rename
sys.exit(main(sys.argv[2:]))
"""


@pytest.mark.parametrize("sig", ["SIGINT", "SIGTERM", "SIGKILL"])
def test_signal_to_a_child_process_mid_landing(tmp_path, capsys, sig):
    src, out = make_folder(tmp_path / "in"), tmp_path / "out"
    env = {**os.environ, "PYTHONPATH": str(REPO / "src"), "OMP_NUM_THREADS": "1"}
    proc = subprocess.run(
        [sys.executable, "-c", CHILD, sig, "upscale", "--input", str(src), "-o", str(out), *MODEL, "-q"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    if sig in ("SIGINT", "SIGTERM"):  # held back during the renames: pair b lands whole, then the job stops
        assert proc.returncode == 128 + getattr(signal, sig), proc.stderr  # 130, 143: as a shell reports them
        assert {p.name for p in out.glob("b_*")} == {"b_L.png", "b_R.png"} and not hidden_leftovers(out)
        # one line, saying that pair b is complete (not "interrupted during" it), and no second "interrupted"
        assert proc.stderr.count("interrupted") == 1, proc.stderr
        assert f"interrupted ({sig}) after pair 2 of 3 (b) was written" in proc.stderr, proc.stderr
    else:  # SIGKILL cannot be held: b_L.png landed, the journal and b_R's temp are left
        assert proc.returncode == -signal.SIGKILL
        assert {p.name for p in out.glob("b_*")} == {"b_L.png"}
        assert any(name.endswith(".land") for name in hidden_leftovers(out))
    assert not (out / "c_L.png").exists()
    assert main(["upscale", "--input", str(src), "-o", str(out), *MODEL, "--skip-existing"]) == 0
    assert_complete(src, out)


def test_output_inside_input_is_never_scanned(tmp_path, capsys):
    src = make_folder(tmp_path / "nest", names=("m",))
    for _ in range(2):  # the second run must not upscale the first run's outputs (m_L.png -> out_m_L at x16)
        assert main(["upscale", "--input", str(src), "-o", str(src / "out"), *MODEL, "--skip-existing"]) == 0
    err = capsys.readouterr().err
    assert "1 pair(s): 0 written, 1 skipped" in err
    assert sorted(p.name for p in (src / "out").glob("*.png")) == ["m_L.png", "m_R.png"]
    # an older output folder elsewhere in the input is recognised by its marker
    assert main(["upscale", "--input", str(src), "-o", str(tmp_path / "other"), *MODEL]) == 0
    assert sorted(p.name for p in (tmp_path / "other").glob("*.png")) == ["m_L.png", "m_R.png"]
    assert [p.name for p in find_pairs(src)[0]] == ["m"]
    # the input folder itself as output is refused before anything runs
    assert main(["upscale", "--input", str(src), "-o", str(src), *MODEL]) == 2
    assert "is the --input folder" in capsys.readouterr().err


@pytest.mark.parametrize(
    "case, reason",
    [
        ("read-only", "cannot write into {out}: the file system is read-only"),
        ("denied", "cannot write into {out}: permission denied"),
        ("full", "not enough free space in {out}: the outputs need about"),
        ("file", "cannot write into {out}: it is an existing file, not a folder"),
        ("parent-file", "cannot create the output folder {out}/sub: a part of the path is a file, not a folder"),
    ],
)
def test_unwritable_output_fails_before_the_model_is_built(tmp_path, capsys, monkeypatch, case, reason):
    import msinet.cli.preflight as preflight
    import msinet.cli.upscale as upscale

    src, out = make_folder(tmp_path / "in", names=("a",)), tmp_path / "out"

    def no_model(args):
        raise AssertionError("the model was built before the output was checked")

    monkeypatch.setattr(upscale, "_load_model", no_model)
    target = out
    if case in ("read-only", "denied"):
        code = errno.EROFS if case == "read-only" else errno.EACCES

        def refuse(path):
            raise OSError(code, os.strerror(code), str(path))

        monkeypatch.setattr(preflight, "_probe_write", refuse)
    elif case == "full":
        monkeypatch.setattr(preflight.shutil, "disk_usage", lambda p: type("U", (), {"free": 1000})())
    elif case == "file":
        out.write_bytes(b"not a folder")
    else:
        out.write_bytes(b"not a folder")
        target = out / "sub"
    rc = main(["upscale", "--input", str(src), "-o", str(target), *MODEL])
    lines = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and len(lines) == 1, lines
    assert lines[0] == "msinet upscale: error: " + reason.format(out=out) or reason.format(out=out) in lines[0]
    assert reason.format(out=out) in lines[0]
    if case in ("read-only", "denied", "full"):
        assert not out.exists()  # the folder the pre-flight made is removed again


def test_proc_is_refused_in_words(tmp_path, capsys):
    if not Path("/proc/self").is_dir():
        pytest.skip("no /proc")
    src = make_folder(tmp_path / "in", names=("a",))
    rc = main(["upscale", "--input", str(src), "-o", "/proc/msinet_out", *MODEL])
    err = capsys.readouterr().err.strip()
    assert rc == 2 and err.startswith("msinet upscale: error: cannot create the output folder /proc/msinet_out: ")
    assert "Errno" not in err


def test_skip_existing_single_pair_and_flag_conflict(tmp_path, capsys):
    src, out = make_folder(tmp_path / "in", names=("x",)), tmp_path / "out"
    argv = ["upscale", str(src / "x_L.png"), str(src / "x_R.png"), "-o", str(out), *MODEL]
    assert main(argv) == 0
    first = snapshot(out)
    assert main([*argv, "--skip-existing"]) == 0
    assert "x: skipped (all outputs exist)" in capsys.readouterr().out
    assert snapshot(out) == first
    assert main([*argv, "--skip-existing", "--overwrite"]) == 2
    assert "give one" in capsys.readouterr().err


def test_progress_summary_and_slow_setting_warnings(tmp_path, capsys):
    src, out = make_folder(tmp_path / "in", names=("a", "b")), tmp_path / "out"
    rc = main(
        [
            "upscale",
            "--input",
            str(src),
            "-o",
            str(out),
            *MODEL,
            "--precision",
            "fp16",
            "--tile",
            "4",
            "--device",
            "cpu",
        ]
    )
    got = capsys.readouterr()
    assert rc == 0
    assert "warning: --precision fp16 on CPU" in got.err and "warning: --tile 4" in got.err
    assert got.out.splitlines()[0].startswith("[1/2] a: wrote") and got.out.splitlines()[1].startswith("[2/2] b:")
    assert "2 pair(s): 2 written, 0 skipped, 0 failed in" in got.err


def test_cost_estimate_line_before_a_long_job(tmp_path, capsys, monkeypatch):
    import msinet.infer.cost as cost

    src = make_folder(tmp_path / "in", names=("w",), size=(30, 40))
    monkeypatch.setattr(cost, "SMALL_PIXELS", 0)  # probe even this small pair; the probe's timing is set below
    monkeypatch.setattr(cost, "probe_row_cost", lambda *a, **k: (0.0, 1e-3))  # 30 rows * 1e-3 * 40^2 s = 48 s
    argv = ["upscale", "--input", str(src), *MODEL, "--tile", "30"]
    assert main([*argv, "-o", str(tmp_path / "o1")]) == 0
    assert "estimate" not in capsys.readouterr().err  # under a minute: no line
    monkeypatch.setattr(cost, "probe_row_cost", lambda *a, **k: (0.0, 1e-2))  # 480 s
    assert main([*argv, "-o", str(tmp_path / "o2"), "-q"]) == 0
    assert capsys.readouterr().err == ""  # quiet: no estimate
    assert main([*argv, "-o", str(tmp_path / "o3")]) == 0
    assert "estimate: about 8 min for w (40x30 LR) on cpu" in capsys.readouterr().err


def test_rows_fed_counts_what_the_tiler_feeds():
    from msinet.infer.cost import rows_fed
    from msinet.infer.tiling import plan_tile

    for height, tile_rows, context in [(100, 16, 4), (37, 8, 45), (8, 100, 10), (500, 64, 0), (90, 30, 15)]:
        fed, start = 0, 0
        while start < height:
            tile = plan_tile(height, start, tile_rows, context)
            fed += tile.in1 - tile.in0
            start = tile.core1
        assert rows_fed(height, tile_rows, context) >= fed  # never under-estimates
        assert rows_fed(height, tile_rows, context) <= fed + 2 * context  # and is at most one context pair over


def test_landing_recovery_leaves_live_processes_alone(tmp_path):
    live = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        mine = tmp_path / f".x_L.png.{live.pid}.tmp"
        mine.write_bytes(b"in progress")
        dead = tmp_path / ".y_L.png.999999999.tmp"
        dead.write_bytes(b"stale")
        other = tmp_path / ".notes.txt"
        other.write_text("a user's hidden file")
        result = landing.recover(tmp_path)
        assert result["removed"] == [dead] and mine.exists() and other.exists()
    finally:
        live.kill()
        live.wait()


def test_scanner_case_variants_and_kitti_layouts(tmp_path):
    img = np.zeros((4, 6, 3), np.uint8)
    files = [
        "low/a_l.png",
        "low/a_r.png",
        "mixed/B_L.PNG",
        "mixed/B_r.png",
        "scene/Left.PNG",
        "scene/Right.PNG",
        "kitti15/training/image_2/000000_10.png",
        "kitti15/training/image_3/000000_10.png",
        "kitti12/colored_0/000001_10.png",
        "kitti12/colored_1/000001_10.png",
        "upper/LEFT/u.png",
        "upper/RIGHT/u.png",
    ]
    for f in files:
        (tmp_path / f).parent.mkdir(parents=True, exist_ok=True)
        write_png(tmp_path / f, img)
    pairs, unpaired = find_pairs(tmp_path)
    got = {p.name: (p.left.relative_to(tmp_path).as_posix(), p.right.relative_to(tmp_path).as_posix()) for p in pairs}
    assert got == {
        "low_a": ("low/a_l.png", "low/a_r.png"),
        "mixed_B": ("mixed/B_L.PNG", "mixed/B_r.png"),
        "scene": ("scene/Left.PNG", "scene/Right.PNG"),
        "kitti15_training_000000_10": (
            "kitti15/training/image_2/000000_10.png",
            "kitti15/training/image_3/000000_10.png",
        ),
        "kitti12_000001_10": ("kitti12/colored_0/000001_10.png", "kitti12/colored_1/000001_10.png"),
        "upper_u": ("upper/LEFT/u.png", "upper/RIGHT/u.png"),
    }
    assert unpaired == []


def test_real_read_only_and_full_file_systems(tmp_path, capsys, monkeypatch, tmpfs):
    import msinet.cli.upscale as upscale

    src = make_folder(tmp_path / "in", names=("a",), size=(64, 64))
    monkeypatch.setattr(upscale, "_load_model", lambda args: pytest.fail("model built before the pre-flight"))
    ro = tmpfs("ro,size=1m")
    assert main(["upscale", "--input", str(src), "-o", str(ro / "out"), *MODEL]) == 2
    assert f"cannot create the output folder {ro / 'out'}: the file system is read-only" in capsys.readouterr().err
    small = tmpfs("size=64k")  # x4 of a 64x64 pair: two 256x256 RGB views, ~200 KB expected
    assert main(["upscale", "--input", str(src), "-o", str(small / "out"), *MODEL]) == 2
    err = capsys.readouterr().err
    assert f"not enough free space in {small / 'out'}: the outputs need about 197 KB" in err
    assert not (small / "out").exists()


def test_disk_full_while_writing_leaves_no_half_pair(tmp_path, capsys, tmpfs):
    src = make_folder(tmp_path / "in", names=("a",), size=(64, 64))  # noise: PNGs as big as the raw pixels
    small = tmpfs("size=256k")  # passes the pre-flight (~197 KB expected), too small for the ~390 KB written
    assert main(["upscale", "--input", str(src), "-o", str(small / "out"), *MODEL]) == 1
    err = capsys.readouterr().err
    assert f"error: pair a: {small / 'out' / 'a_R.png'}: the disk is full" in err
    assert not (small / "out").exists()  # no half pair, no temp: the folder it made held nothing and is gone


def test_mpo_outputs_land_together_and_skip_existing(tmp_path, capsys):
    from msinet.io.mpo import write_mpo

    rng = np.random.default_rng(1)
    src = write_mpo(tmp_path / "cam.mpo", *(rng.integers(0, 256, (12, 16, 3), dtype=np.uint8) for _ in range(2)))
    out = tmp_path / "out"
    argv = ["upscale", str(src), "-o", str(out), *MODEL, "--mpo-output", "both"]
    assert main(argv) == 0
    assert sorted(p.name for p in out.iterdir() if not p.name.startswith(".")) == ["cam.mpo", "cam_L.png", "cam_R.png"]
    kept = (out / "cam.mpo").stat().st_mtime_ns
    (out / "cam_R.png").unlink()
    capsys.readouterr()
    assert main([*argv, "--skip-existing"]) == 0  # only the missing PNG is written
    assert (out / "cam_R.png").is_file() and (out / "cam.mpo").stat().st_mtime_ns == kept
    assert main([*argv, "--skip-existing"]) == 0
    assert "cam: skipped (all outputs exist)" in capsys.readouterr().out
    assert hidden_leftovers(out) == []


def test_row_progress_moves_inside_a_single_tile():
    import msinet
    from msinet.cli.upscale import RowProgress

    model = msinet.create_model("msinet_tiny_x4", num_blocks=2)
    views = [np.random.default_rng(i).integers(0, 256, (12, 16, 3), dtype=np.uint8) for i in range(2)]
    seen = []
    progress = RowProgress(model, "p", 12)
    real = progress._show
    progress._show = lambda n: (seen.append(n), real(n))
    model.upscale(*views, tile=None, on_tile=progress.on_tile)  # one tile of 12 rows
    progress.close()
    n_attention = sum(1 for m in model.modules() if type(m).__name__ == "DEAM")
    assert n_attention >= 2 and len(seen) == n_attention + 1  # one tick per DEAM, then the tile itself
    assert seen == sorted(seen) and 0 < seen[0] < 12 and seen[-1] == 12
    assert not any(m._forward_hooks for m in model.modules())  # hooks removed
