"""The lightweight peers through every path a user takes: `upscale` (tiled at the model's declared context, equal to
the API), `train` (from scratch and fine-tuning the published weights), `convert`, `models`."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from test_upscale_cli import real_lr_pair
from train_utils import tiny_config, write_synthetic_pairs

import msinet
from msinet.cli.main import main
from msinet.data.image_io import read_image
from msinet.train.config import load_config
from msinet.train.trainer import Trainer

pytestmark = pytest.mark.usefixtures("one_thread")

PEERS = ["cvhssr_t_x4", "ehfssr_s_x4", "nafrssr_t_x4"]
SMALL = {  # the same architectures, small enough for a 2-core CI machine
    "cvhssr_t_x4": {"channels": 8, "num_blocks": 1},
    "ehfssr_s_x4": {"channels": 8, "num_groups": 1, "blocks_per_group": 2},
    "nafrssr_t_x4": {
        "channels": 8,
        "early_blocks": 1,
        "early_passes": 1,
        "middle_blocks": 1,
        "middle_passes": 1,
        "late_blocks": 1,
    },
}


@pytest.mark.parametrize("name", PEERS)
def test_upscale_a_real_pair_with_the_published_weights_tiled(tmp_path, capsys, shared_data, shared_peers, name):
    left, right = real_lr_pair(tmp_path, "kitti2015_000046", crop=(slice(20, 60), slice(100, 196)))
    weights = shared_peers / f"{name}.pth"
    rc = main(["upscale", str(left), str(right), "-o", str(tmp_path / "out"), "--model", str(weights), "--tile", "16"])
    err = capsys.readouterr().err
    assert rc == 0, err
    sr_left = read_image(tmp_path / "out" / "kitti2015_000046_L.png")
    assert sr_left.shape == (160, 384, 3)
    model = msinet.load_model(weights)
    untiled, _ = model.upscale(read_image(left), read_image(right))
    # 16-row tiles with the model's declared context: within a few 8-bit levels of the untiled result (EHFSSR's
    # windows and global pooling make its tiles approximate, docs/compatibility.md), and far better than bicubic
    diff = np.abs(sr_left.astype(int) - untiled.astype(int))
    assert diff.mean() < 0.5 and np.percentile(diff, 99.9) <= 6, (diff.mean(), diff.max())


@pytest.mark.parametrize("name", PEERS)
def test_train_from_scratch_and_fine_tune_the_published_weights(tmp_path, shared_peers, name):
    dirs = write_synthetic_pairs(tmp_path / "data", count=1)
    config = tiny_config(
        dirs, tmp_path / "runs", model={"name": name, "options": SMALL[name]}, train={"steps": 2, "ema_decay": 0.5}
    )
    summary = Trainer(load_config(base=config)).fit()
    assert summary["step"] == 2 and np.isfinite(summary["loss"])

    published = shared_peers / f"{name}.pth"
    config = tiny_config(
        dirs,
        tmp_path / "runs2",
        model={"name": name, "options": {}, "init": str(published)},
        data={"lr_patch": [16, 32]},
        train={"steps": 1, "batch_size": 1},
    )
    trainer = Trainer(load_config(base=config))
    start = {k: v.clone() for k, v in trainer.model.state_dict().items()}
    reference = msinet.load_model(published).state_dict()
    assert all(torch.equal(start[k], reference[k]) for k in reference)  # every published weight was copied
    trainer.fit()
    moved = [k for k, v in trainer.model.state_dict().items() if not torch.equal(v, start[k])]
    assert moved  # and the step changed some of them


def test_models_lists_the_peers_with_their_published_sizes(capsys):
    assert main(["models"]) == 0
    out = capsys.readouterr().out
    for name, count in [("cvhssr_t_x4", "678,000"), ("ehfssr_s_x4", "643,513"), ("nafrssr_m_x4", "280,383")]:
        line = next(line for line in out.splitlines() if line.split() and line.split()[0] == name)
        assert count in line or count.replace(",", "") in line or f"{int(count.replace(',', '')) / 1e6:.2f}" in line, (
            line
        )
