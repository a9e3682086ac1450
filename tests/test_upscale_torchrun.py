"""torchrun scale-out of `msinet upscale`: 2 CPU processes (gloo) write the same files as one process."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from msinet.cli.main import main
from msinet.data.image_io import read_image, write_png

pytestmark = pytest.mark.usefixtures("one_thread")


def torchrun(*argv, cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": os.pathsep.join(sys.path)}
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "torch.distributed.run",
            "--standalone",
            "--nproc_per_node",
            "2",
            "-m",
            "msinet",
            "upscale",
            *map(str, argv),
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        cwd=cwd,
    )


def files(folder: Path) -> list[str]:
    """Every file but the marker of an msinet output folder (temp files included: there must be none)."""
    return sorted(
        p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file() and p.name != ".msinet-output"
    )


def test_two_processes_write_the_pairs_one_process_writes(tmp_path, shared_data, capsys):
    src = tmp_path / "in"
    scenes = (
        "kitti2015_000046",
        "kitti2012_000000",
        "flickr1024_0026",
        "middlebury2014_motorcycle_quarter",
        "crestereo_test",
    )
    for i, scene in enumerate(scenes):  # five real pairs: an odd count, so the ranks get 3 and 2
        for view, tag in (("left", "L"), ("right", "R")):
            write_png(
                src / f"p{i}_{tag}.png",
                read_image(shared_data / "stereo" / scene / f"{view}.png")[100:120, 200:232, :3],
            )
    # one thread everywhere: the same arithmetic in every process (thread counts change float sums' order)
    proc = torchrun("--input", src, "-o", tmp_path / "ddp", "--threads", "1", cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert proc.stdout.count("5 pair(s) shared out over 2 processes") == 1  # one report, from rank 0
    assert proc.stdout.count(": wrote") == 3  # rank 0 did p0, p2, p4; rank 1 the other two
    assert main(["upscale", "--input", str(src), "-o", str(tmp_path / "single"), "--threads", "1", "-q"]) == 0
    assert (
        files(tmp_path / "ddp") == files(tmp_path / "single") == sorted(f"p{i}_{t}.png" for i in range(5) for t in "LR")
    )
    for name in files(tmp_path / "single"):
        np.testing.assert_array_equal(read_image(tmp_path / "ddp" / name), read_image(tmp_path / "single" / name))


def test_two_processes_share_a_video(tmp_path, shared_data):
    pytest.importorskip("av", reason="video needs PyAV (pip install 'msinet[video]')")
    from media_utils import real_view_windows, stream_facts, write_clip

    from msinet.io import join

    clip = write_clip(tmp_path / "clip.mp4", [join(l, r, "sbs") for l, r in real_view_windows(shared_data, 12)])
    common = ["--layout", "sbs", "--lossless", "--chunk", "3", "--model", "bicubic_x4"]
    proc = torchrun(clip, "-o", tmp_path / "ddp.mp4", *common, cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "12 frames, 6 computed by this process" in proc.stdout  # rank 0 did segments 0 and 2 of 4
    assert main(["upscale", str(clip), "-o", str(tmp_path / "single.mp4"), *common, "-q"]) == 0
    ddp, single = stream_facts(tmp_path / "ddp.mp4"), stream_facts(tmp_path / "single.mp4")
    assert len(ddp["frames"]) == len(single["frames"]) == 12
    for a, b in zip(ddp["frames"], single["frames"]):
        np.testing.assert_array_equal(a, b)
    assert ddp["audio_seconds"] == single["audio_seconds"]
    assert files(tmp_path) == ["clip.mp4", "ddp.mp4", "single.mp4"]  # no work folder or segment left behind


def test_two_processes_evaluate_like_one(tmp_path, shared_data):
    scenes = ("kitti2015_000046", "flickr1024_0026", "middlebury2014_motorcycle_quarter")
    for i, scene in enumerate(scenes):  # three real HR crops: the ranks score 2 and 1
        for view, name in (("left", "hr0"), ("right", "hr1")):
            write_png(
                tmp_path / "data" / "Flickr1024" / "hr" / f"scene{i}" / f"{name}.png",
                read_image(shared_data / "stereo" / scene / f"{view}.png")[40:104, 100:196, :3],
            )
    common = [
        "--model",
        "bicubic_x4",
        "--data",
        tmp_path / "data",
        "--sets",
        "Flickr1024",
        "--no-cache",
        "--no-bicubic",
        "-q",
    ]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": os.pathsep.join(sys.path)}
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "torch.distributed.run",
            "--standalone",
            "--nproc_per_node",
            "2",
            "-m",
            "msinet",
            "eval",
            *map(str, common),
            "--out",
            str(tmp_path / "ddp"),
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert proc.stdout.count("Flickr1024") == 1  # one table, from rank 0
    assert main(["eval", *map(str, common), "--out", str(tmp_path / "single")]) == 0
    ddp, single = (tmp_path / d / "bicubic_x4_x4.csv" for d in ("ddp", "single"))
    assert ddp.read_text() == single.read_text()
    assert single.read_text().count("scene") == 3  # every pair scored once, in order
