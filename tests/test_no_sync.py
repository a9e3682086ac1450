"""No model's forward or backward may wait on the device: every op that needs a value on the host (on CUDA a
device-to-host synchronisation that drains the queue) or whose output shape depends on the data is refused.

Checked on CPU with a TorchDispatchMode that records every aten op the models run, in training and eval
mode, for every registered model at tiny sizes.
"""

import pytest
import torch
from torch.utils._python_dispatch import TorchDispatchMode

import msinet
from msinet.layers.sinkhorn import sinkhorn
from msinet.registry import get_entry

aten = torch.ops.aten
# ops that read a tensor's value on the host, or return a data-dependent shape, named explicitly; any op
# tagged data_dependent_output / dynamic_output_shape is refused too (aten.index.Tensor only with a bool mask)
SYNCING = {
    aten._local_scalar_dense.default,
    aten.is_nonzero.default,
    aten.item.default,
    aten.equal.default,
    aten.allclose.default,
    aten.nonzero.default,
    aten.argwhere.default,
    aten.masked_select.default,
    aten.unique_consecutive.default,
    aten._unique2.default,
    aten.unique_dim.default,
    aten.repeat_interleave.Tensor,
    aten.bincount.default,
}
SHAPE_TAGS = (torch.Tag.data_dependent_output, torch.Tag.dynamic_output_shape)


def _is_syncing(func, args) -> bool:
    if func is aten.index.Tensor or func is aten.index_put.default or func is aten.index_put_.default:
        return any(t is not None and t.dtype == torch.bool for t in args[1])
    return func in SYNCING or any(tag in func.tags for tag in SHAPE_TAGS)


class SyncRecorder(TorchDispatchMode):
    def __init__(self):
        super().__init__()
        self.syncing: set[str] = set()
        self.ops = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        self.ops += 1
        if _is_syncing(func, args):
            self.syncing.add(str(func))
        return func(*args, **(kwargs or {}))


def test_the_recorder_sees_host_reads_and_data_dependent_shapes():
    x = torch.tensor([0.0, 1.0, 2.0])
    with SyncRecorder() as rec:
        bool((x > 0).all())
        x[x > 0]
        x.nonzero()
        float(x.sum())
    assert {"aten._local_scalar_dense.default", "aten.nonzero.default", "aten.index.Tensor"} <= rec.syncing


@pytest.mark.parametrize("costs", ["feature_like", "adversarial"])
def test_sinkhorn_forward_and_backward_do_not_sync(costs):
    g = torch.Generator().manual_seed(0)
    m = torch.randn(2, 3, 17, 17, generator=g)
    if costs == "adversarial":  # large spreads: the regime the anchors exist for
        m = m * 1000
        m[0, 1, :, 5] -= 500
    m.requires_grad_(True)
    with SyncRecorder() as rec:
        sinkhorn(m, 10).square().sum().backward()
    assert rec.ops > 0 and not rec.syncing, rec.syncing
    assert torch.isfinite(m.grad).all()


def _tiny(name: str) -> torch.nn.Module:
    # the stereo trunk with one block; other architectures (bicubic, peers such as nafrssr) as registered
    return msinet.create_model(name, **({"num_blocks": 1} if get_entry(name).arch == "stereo_sr" else {}))


@pytest.mark.usefixtures("one_thread")
@pytest.mark.parametrize("name", msinet.list_models())
def test_model_forward_and_backward_do_not_sync(name):
    torch.manual_seed(0)
    model = _tiny(name)
    for p in model.parameters():  # zero-initialised output scales would leave DEAM's gradient path idle
        if p.dim() == 4 and p.shape[0] == 1 and not p.any():
            torch.nn.init.normal_(p, std=0.1)
    # stochastic depth flips its per-block coin with torch.rand(()) on the host's CPU generator, never on the
    # model's device: a host-side read with nothing to wait for, but indistinguishable here, so it is off
    if hasattr(model, "drop_path_rate"):
        model.drop_path_rate = 0.0
    for training in (True, False):
        model.train(training)
        model.zero_grad(set_to_none=True)
        left = torch.rand(1, 3, 6, 11, requires_grad=True)
        right = torch.rand(1, 3, 6, 11, requires_grad=True)
        with SyncRecorder() as rec:
            sr_l, sr_r = model(left, right)
            (sr_l.square().mean() + sr_r.square().mean()).backward()
        assert rec.ops > 0 and not rec.syncing, f"{name} ({'train' if training else 'eval'}): {rec.syncing}"
        assert left.grad is not None and torch.isfinite(left.grad).all()
