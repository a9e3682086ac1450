"""A short real training: a tiny MSINet on patches of the "train" pairs of ../shared/data/stereo lowers its loss
and beats MATLAB-bicubic PSNR on (a crop of) a held-out pair."""

import json

import pytest

from msinet.data.train_patches import find_pairs, load_rgb_pair
from msinet.train.config import load_config
from msinet.train.heldout import evaluate_pair
from msinet.train.trainer import Trainer

pytestmark = pytest.mark.usefixtures("one_thread")

TRAIN = ("flickr1024_0026", "middlebury2014_playtablep_half", "crestereo_test", "scared_d1k1")


@pytest.mark.slow
def test_short_real_training_beats_bicubic(shared_data, tmp_path):
    stereo = shared_data / "stereo"
    config = load_config(
        base={
            "name": "real",
            "model": {"name": "msinet_tiny_x4", "options": {"num_blocks": 1, "channels": 8}},
            "data": {"train": [str(stereo / n) for n in TRAIN], "lr_patch": [16, 48], "workers": 0},
            "loss": {"freq_weight": 0.0},
            "optim": {"name": "lion", "lr": 4.0e-3, "betas": [0.9, 0.99]},
            "scheduler": {"eta_min": 1.0e-6, "warmup_steps": 10},
            "train": {"steps": 400, "batch_size": 8, "seed": 0},
            "log": {"out_dir": str(tmp_path), "every": 50, "tensorboard": False, "progress": False},
            "checkpoint": {"every": 1000},
        }
    )
    trainer = Trainer(config)
    trainer.fit()
    losses = [r["train_loss"] for r in map(json.loads, (tmp_path / "real" / "metrics.jsonl").read_text().splitlines())]
    assert losses[-1] < 0.7 * losses[0], losses

    ((left, right),) = find_pairs(stereo / "kitti2015_000046")
    hr_l, hr_r = load_rgb_pair(left, right)
    crop = (slice(100, 292), slice(400, 976))  # 192x576 HR, well inside the image
    result = evaluate_pair(trainer.model.eval(), hr_l[crop], hr_r[crop], 4)
    assert result["psnr"] > result["bicubic_psnr"] + 0.1, result  # measured: +0.38 dB


def test_shipped_default_model_beats_bicubic(shared_data):
    import msinet
    from msinet.models.resolve import default_model_name

    assert default_model_name() == "msinet_small_x4"
    model = msinet.load_model()
    assert not model.training and model.config["channels"] == 48 and model.config["num_blocks"] == 16
    ((left, right),) = find_pairs(shared_data / "stereo" / "kitti2015_000046")
    hr_l, hr_r = load_rgb_pair(left, right)
    crop = (slice(100, 292), slice(400, 976))
    result = evaluate_pair(model, hr_l[crop], hr_r[crop], 4)
    assert result["psnr"] > result["bicubic_psnr"] + 0.3, result  # the whole pair: +0.66 dB (docs/model_card.md)


def test_shipped_x2_default_beats_bicubic(shared_data):
    """The x2 default (docs/model_card.md) on a crop of a held-out pair, LR made by the kits' degradation."""
    import msinet
    from msinet.models.resolve import default_model_name

    assert default_model_name(2) == "msinet_small_x2"
    model = msinet.load_model(scale=2)
    assert model.scale == 2 and not model.training
    ((left, right),) = find_pairs(shared_data / "stereo" / "kitti2015_000046")
    hr_l, hr_r = load_rgb_pair(left, right)
    crop = (slice(100, 292), slice(400, 976))
    result = evaluate_pair(model, hr_l[crop], hr_r[crop], 2)
    assert result["psnr"] > result["bicubic_psnr"] + 0.3, result
