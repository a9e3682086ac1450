"""`msinet upscale clip.mp4 --layout sbs`: a real 12-frame SBS clip with audio, end to end, resumed, refused."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import msinet
from msinet.cli.main import main
from msinet.io import join

av = pytest.importorskip("av", reason="video needs PyAV (pip install 'msinet[video]')")
from media_utils import real_view_windows, stream_facts, write_clip  # noqa: E402

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    from conftest import SHARED_DATA

    from msinet.io import iter_stereo_frames

    if not (SHARED_DATA / "stereo" / "crestereo_test").is_dir():
        pytest.skip(f"real stereo data not available: {SHARED_DATA}")
    folder = tmp_path_factory.mktemp("clip")
    windows = real_view_windows(SHARED_DATA, 12)
    path = write_clip(folder / "clip.mp4", [join(l, r, "sbs") for l, r in windows], fps=6, audio_seconds=2.0)
    # the reference: each decoded frame upscaled as a pair by the default model, reassembled side by side
    # on one thread, as the run below (thread counts change the order of float sums, and so a rounding or two)
    model = msinet.load_model()
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        want = [join(*model.upscale(l, r), "sbs") for _, l, r in iter_stereo_frames(path, "sbs")]
    finally:
        torch.set_num_threads(before)
    return path, want


@pytest.fixture(scope="module")
def lossless_run(clip, tmp_path_factory):
    src, _ = clip
    out = tmp_path_factory.mktemp("lossless") / "out.mp4"
    argv = ["upscale", str(src), "--layout", "sbs", "-o", str(out), "--lossless", "--chunk", "4", "--threads", "1"]
    assert main([*argv, "-q"]) == 0
    return out


def test_sbs_clip_end_to_end_equals_pairwise_upscaling(clip, lossless_run):
    _, want = clip
    facts = stream_facts(lossless_run)
    assert len(facts["frames"]) == 12 and facts["rate"] == 6
    assert facts["codec"] == "h264" and facts["audio"] == "aac"
    assert abs(facts["audio_seconds"] - 2.0) < 0.05  # the AAC track was copied whole
    for i, (got, ref) in enumerate(zip(facts["frames"], want)):
        assert got.shape == (192, 512, 3)
        np.testing.assert_array_equal(got, ref, err_msg=f"frame {i}")
    assert not lossless_run.with_name("out.mp4.partial").exists()


# the runs below test the video plumbing, not the network: bicubic_x4 (no weights, deterministic) keeps them fast


def test_default_h264_plays_and_is_close(clip, tmp_path, capsys):
    from msinet.io import iter_stereo_frames

    src, _ = clip
    out = tmp_path / "sr"
    rc = main(["upscale", str(src), "--layout", "sbs", "-o", str(out), "--model", "bicubic_x4"])
    assert rc == 0, capsys.readouterr().err
    facts = stream_facts(out / "clip.mp4")  # -o a folder: <stem>.mp4 inside it
    assert facts["pix_fmt"] == "yuv420p" and len(facts["frames"]) == 12
    model = msinet.load_model("bicubic_x4")
    want = [join(*model.upscale(l, r), "sbs") for _, l, r in iter_stereo_frames(src, "sbs")]
    mse = np.mean([(g.astype(float) - r) ** 2 for g, r in zip(facts["frames"], want)])
    assert 10 * np.log10(255**2 / mse) > 35  # crf 18 of the same frames
    assert "12 frames" in capsys.readouterr().out
    rc = main(["upscale", str(src), "--layout", "sbs", "-o", str(out), "--model", "bicubic_x4"])
    assert rc == 2 and "exists; pass --overwrite" in capsys.readouterr().err


def test_resume_after_interruption_redoes_nothing_and_gives_the_same_file(clip, tmp_path, monkeypatch, capsys):
    import msinet.infer.video_upscale as video

    src, _ = clip
    out = tmp_path / "out.mp4"
    argv = [
        "upscale",
        str(src),
        "--layout",
        "sbs",
        "-o",
        str(out),
        "--lossless",
        "--chunk",
        "4",
        "--model",
        "bicubic_x4",
        "-q",
    ]
    uninterrupted = tmp_path / "uninterrupted.mp4"
    assert main([*argv[:5], str(uninterrupted), *argv[6:]]) == 0
    real, calls = video.upscale_pair, []

    def crash_on_7th(*a, **k):
        calls.append(1)
        if len(calls) == 7:
            raise KeyboardInterrupt
        return real(*a, **k)

    monkeypatch.setattr(video, "upscale_pair", crash_on_7th)
    assert main(argv) == 130
    partial = tmp_path / "out.mp4.partial"
    assert not out.exists()  # nothing in the output's place
    assert sorted(p.name for p in partial.iterdir()) == ["seg_00000.mp4", "state.json"]  # no half segment left
    assert len(stream_facts(partial / "seg_00000.mp4")["frames"]) == 4  # a finished segment plays

    calls.clear()
    monkeypatch.setattr(video, "upscale_pair", lambda *a, **k: (calls.append(1), real(*a, **k))[1])
    assert main(argv[:-1]) == 0
    assert len(calls) == 8  # frames 4..11 only
    assert "4 resumed" in capsys.readouterr().out
    got, ref = stream_facts(out), stream_facts(uninterrupted)
    for a, b in zip(got["frames"], ref["frames"], strict=True):
        np.testing.assert_array_equal(a, b)
    assert abs(got["audio_seconds"] - ref["audio_seconds"]) < 1e-6
    assert not partial.exists()


def test_resume_with_other_settings_is_refused(clip, tmp_path, monkeypatch, capsys):
    import msinet.infer.video_upscale as video

    src, _ = clip
    out = tmp_path / "out.mp4"

    def crash(*a, **k):
        raise KeyboardInterrupt

    monkeypatch.setattr(video, "upscale_pair", crash)
    argv = ["upscale", str(src), "--layout", "sbs", "-o", str(out), "--chunk", "4", "--model", "bicubic_x4"]
    assert main(argv) == 130
    monkeypatch.undo()
    rc = main([*argv, "--crf", "30"])
    err = capsys.readouterr().err
    assert rc == 2 and "interrupted run that differs: encoding: Encoding(crf=18" in err and "--overwrite" in err


def test_stale_partial_names_the_change_and_overwrite_starts_over(clip, tmp_path, monkeypatch, capsys):
    import os
    import shutil

    import msinet.infer.video_upscale as video

    src = shutil.copy(clip[0], tmp_path / "clip.mp4")  # a copy: its modification time changes below
    out = tmp_path / "out.mp4"
    real, calls = video.upscale_pair, []

    def crash_on_5th(*a, **k):
        calls.append(1)
        if len(calls) == 5:
            raise KeyboardInterrupt
        return real(*a, **k)

    monkeypatch.setattr(video, "upscale_pair", crash_on_5th)
    argv = ["upscale", str(src), "--layout", "sbs", "-o", str(out), "--chunk", "4", "--model", "bicubic_x4", "-q"]
    assert main(argv) == 130
    monkeypatch.undo()
    st = os.stat(src)
    os.utime(src, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))  # `touch clip.mp4`
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "the source file changed since that run (modified)" in err and "--overwrite" in err
    assert main([*argv, "--overwrite"]) == 0  # the stale work folder is discarded, the job starts over
    assert out.is_file() and not (tmp_path / "out.mp4.partial").exists()
    assert len(stream_facts(out)["frames"]) == 12


def test_bad_videos_one_line_errors(clip, tmp_path, capsys, shared_data):
    src, _ = clip
    flat = write_clip(tmp_path / "flat.mp4", [l for l, _ in real_view_windows(shared_data, 3, size=(54, 96))])
    garbage = tmp_path / "garbage.mp4"
    garbage.write_bytes(b"\x00\x00\x00\x18ftypmp42 this is not a video at all" * 10)
    odd = write_clip(
        tmp_path / "odd.mkv", [np.zeros((20, 41, 3), np.uint8)] * 2, audio_seconds=None, codec="libx264rgb"
    )
    cases = [
        (["upscale", str(flat), "-o", str(tmp_path / "o.mp4")], "pass --layout"),  # 2D, no layout
        (["upscale", str(flat), "--layout", "auto", "-o", str(tmp_path / "o.mp4")], "cannot tell the stereo layout"),
        (["upscale", str(garbage), "--layout", "sbs", "-o", str(tmp_path / "o.mp4")], "cannot read video"),
        (["upscale", str(odd), "--layout", "sbs", "-o", str(tmp_path / "o.mp4")], "must have an even width"),
        (["upscale", str(src), "--layout", "sbs", "-o", str(tmp_path / "x.gif")], "cannot write video as .gif"),
        (["upscale", str(tmp_path / "missing.mp4"), "--layout", "sbs", "-o", str(tmp_path / "o.mp4")], "not found"),
    ]
    for argv, message in cases:
        rc = main(argv)
        err = capsys.readouterr().err
        assert rc == 2 and message in err and len(err.strip().splitlines()) == 1, (argv, err)
    assert not (tmp_path / "o.mp4").exists() and not (tmp_path / "o.mp4.partial").exists()
