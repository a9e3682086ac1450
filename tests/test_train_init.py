"""`model.init`: training starts from existing weights (file, registry name with weights, authors' .pth)."""

from __future__ import annotations

import pytest
import torch
from train_utils import tiny_config, write_synthetic_pairs

import msinet
from msinet.train.config import load_config
from msinet.train.trainer import Trainer

TINY = {"num_blocks": 1, "channels": 8}


def _trainer(tmp_path, init, partial=False, name="msinet_tiny_x4", **extra):
    data = tmp_path / "data"
    folders = (
        [str(p) for p in sorted(data.iterdir())]
        if data.exists()
        else write_synthetic_pairs(data, count=1, size=(48, 144))
    )
    cfg = tiny_config(folders, tmp_path / "runs", **extra)
    cfg["model"] = {"name": name, "options": dict(TINY), "init": str(init), "init_partial": partial}
    return Trainer(load_config(base=cfg))


def _saved(tmp_path, name="msinet_tiny_x4", seed=11):
    torch.manual_seed(seed)
    model = msinet.create_model(name, **TINY)
    return model, msinet.save_weights(model, tmp_path / f"{name}.safetensors")


def test_init_from_a_weights_file_copies_every_tensor(tmp_path):
    source, path = _saved(tmp_path)
    trainer = _trainer(tmp_path, path)
    for key, value in source.state_dict().items():
        assert torch.equal(trainer.model.state_dict()[key], value), key
    fresh = msinet.create_model("msinet_tiny_x4", **TINY)
    assert any(not torch.equal(fresh.state_dict()[k], v) for k, v in source.state_dict().items())
    # and it trains from there
    summary = trainer.fit()
    assert summary["step"] == 4


def test_init_partial_moves_an_x4_body_into_an_x2_model(tmp_path):
    source, path = _saved(tmp_path)
    with pytest.raises(ValueError, match=r"model\.init.*does not match.*init_partial"):
        _trainer(tmp_path, path, name="msinet_tiny_x2")
    trainer = _trainer(tmp_path, path, partial=True, name="msinet_tiny_x2")
    own, src = trainer.model.state_dict(), source.state_dict()
    copied = [k for k in own if k not in trainer.init_skipped]
    assert trainer.init_skipped and all(own[k].shape != src[k].shape for k in trainer.init_skipped)
    assert len(copied) > 0.9 * len(own)
    assert all(torch.equal(own[k], src[k]) for k in copied)


def test_init_from_the_shipped_model_by_name(tmp_path):
    from msinet.models.resolve import default_model_name

    name = default_model_name()
    if name.startswith("bicubic"):
        pytest.skip("no shipped trained model in this install")
    folders = write_synthetic_pairs(tmp_path / "data", count=1, size=(48, 144))
    cfg = tiny_config(folders, tmp_path / "runs", train={"steps": 1, "batch_size": 1})
    cfg["model"] = {"name": name, "options": {}, "init": name}
    trainer = Trainer(load_config(base=cfg))
    shipped = msinet.load_model(name)
    assert all(torch.equal(trainer.model.state_dict()[k], v) for k, v in shipped.state_dict().items())


def test_init_errors_are_one_line(tmp_path):
    with pytest.raises(FileNotFoundError, match="no such registered model or weights file"):
        _trainer(tmp_path, tmp_path / "missing.safetensors")
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"not a safetensors file")
    with pytest.raises(ValueError, match="not a readable safetensors"):
        _trainer(tmp_path, bad)
    with pytest.raises(ValueError, match=r"model\.init.*msinet_x4"):  # a name with no trained weights anywhere
        _trainer(tmp_path, "msinet_x4")


def test_resume_ignores_init(tmp_path):
    """A resumed run continues from its checkpoint, never re-initialises from model.init."""
    _, path = _saved(tmp_path)
    trainer = _trainer(tmp_path, path, checkpoint={"every": 2})
    trainer.fit(stop_after=2)
    trained = {k: v.clone() for k, v in trainer.model.state_dict().items()}
    cfg = dict(trainer.config)
    resumed = Trainer(cfg, resume="auto")
    assert resumed.step == 2
    assert all(torch.equal(resumed.model.state_dict()[k], v) for k, v in trained.items())


def test_training_curves_figure(tmp_path):
    from PIL import Image

    from msinet.train.curves import main, read_metrics

    trainer = _trainer(tmp_path, _saved(tmp_path)[1], val={"every": 2})
    trainer.config["data"]["val"] = []  # no val pairs: the figure still shows the loss
    trainer.fit()
    loss, gain = read_metrics(trainer.run_dir)
    assert [s for s, _ in loss] == [1, 2, 3, 4] and gain == []
    out = tmp_path / "curves.png"
    assert main([str(trainer.run_dir), "-o", str(out)]) == 0
    assert Image.open(out).size[0] > 500
    assert main([str(trainer.run_dir), "-o", str(out)]) == 2  # never overwrites


def test_init_from_an_authors_checkpoint(tmp_path):
    """An official NAFSSR-T .pth (keys of the authors' code) warm-starts the registered nafssr_t."""
    from test_foreign import reference_state, save_pth

    from msinet.train.warm_start import warm_start

    path = save_pth(tmp_path, {"params": reference_state("nafssr", 48, 16, 4)})
    model = msinet.create_model("nafssr_t")
    assert warm_start(model, str(path)) == []
    loaded = msinet.load_model(path)
    assert all(torch.equal(model.state_dict()[k], v) for k, v in loaded.state_dict().items())
    with pytest.raises(ValueError, match="does not match"):
        warm_start(msinet.create_model("nafssr_s"), str(path))
