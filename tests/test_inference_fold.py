"""Inference folds (msinet.layers.inference_fold): the folded blocks compute what the modules as written compute."""

from __future__ import annotations

import pytest
import torch

import msinet
from msinet.layers import MSCAM, SFFN, LayerNorm2d, inference_fold

pytestmark = pytest.mark.usefixtures("one_thread")


def perturbed(module: torch.nn.Module, seed: int = 0, scale: float = 0.3) -> torch.nn.Module:
    """Every parameter moved off its initial value (beta and gamma start at zero, which would hide a fold)."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in module.parameters():
            p.add_(scale * torch.randn(p.shape, generator=g, dtype=p.dtype))
    return module.eval()


def both(module, *inputs):
    """(as written, folded) outputs of module under inference_mode."""
    with torch.inference_mode():
        with inference_fold.switched(False):
            plain = module(*inputs)
        with inference_fold.switched(True):
            folded = module(*inputs)
    return plain, folded


@pytest.mark.parametrize("layout", [torch.channels_last, torch.contiguous_format])
@pytest.mark.parametrize(
    "make",
    [
        lambda: MSCAM(16, multiscale=True),
        lambda: MSCAM(16, multiscale=False),
        lambda: SFFN(16),
        lambda: LayerNorm2d(16),
    ],
    ids=["mscam", "nafnet-mixer", "sffn", "layernorm"],
)
def test_folded_block_equals_the_block_in_float64(make, layout):
    block = perturbed(make().double())
    x = torch.randn(2, 16, 11, 37, dtype=torch.float64).contiguous(memory_format=layout)
    plain, folded = both(block, x)
    assert folded.shape == plain.shape
    assert (folded - plain).abs().max().item() < 1e-12
    assert plain.abs().max().item() > 1e-2  # not a trivially zero update


def test_folded_models_equal_the_models_in_float32():
    l, r = (torch.rand(1, 3, 24, 52, generator=torch.Generator().manual_seed(s)) for s in (1, 2))
    for name in ("msinet_small_x4", "nafssr_t_x4"):
        model = perturbed(msinet.create_model(name), seed=3, scale=0.05).to(memory_format=torch.channels_last)
        inputs = [t.contiguous(memory_format=torch.channels_last) for t in (l, r)]
        (pl, pr), (fl, fr) = both(model, *inputs)
        assert max((fl - pl).abs().max().item(), (fr - pr).abs().max().item()) < 1e-5, name
        assert pl.std().item() > 0.05  # an image, not a constant


def test_a_changed_parameter_is_folded_again():
    block = perturbed(MSCAM(8, multiscale=True).double())
    x = torch.randn(1, 8, 9, 20, dtype=torch.float64).contiguous(memory_format=torch.channels_last)
    both(block, x)  # fills the cache
    with torch.no_grad():
        block.beta.mul_(-2.0)  # in place
        block.project.weight = torch.nn.Parameter(block.project.weight * 0.5)  # replaced
    plain, folded = both(block, x)
    assert (folded - plain).abs().max().item() < 1e-12


def test_training_autocast_and_contiguous_inputs_run_the_blocks_as_written():
    block = perturbed(MSCAM(8, multiscale=True))
    x = torch.randn(1, 8, 9, 20).contiguous(memory_format=torch.channels_last)
    assert not inference_fold.active(x.requires_grad_())  # autograd on
    with torch.no_grad():
        assert inference_fold.active(x)
        assert not inference_fold.active(x.contiguous())  # contiguous: the authors' rounding, as written
        with torch.autocast("cpu", dtype=torch.bfloat16):
            assert not inference_fold.active(x)
    block(x).sum().backward()
    assert block.project.weight.grad is not None and block.beta.grad is not None


def test_residual_pointwise_is_the_same_sum_in_both_layouts():
    g = torch.Generator().manual_seed(5)
    x, a, b = (torch.randn(2, c, 5, 7, generator=g, dtype=torch.float64) for c in (6, 4, 3))
    wa, wb, bias = (torch.randn(*s, generator=g, dtype=torch.float64) for s in ((6, 4), (6, 3), (6,)))
    want = x + torch.einsum("oc,bchw->bohw", wa, a) + torch.einsum("oc,bchw->bohw", wb, b) + bias[:, None, None]
    last = [t.contiguous(memory_format=torch.channels_last) for t in (x, a, b)]
    for args in ((x, a, b), (last[0], *last[1:]), (last[0], a, b)):  # matrix rows, and the 1x1-conv fallback
        got = inference_fold.residual_pointwise(args[0], list(args[1:]), [wa, wb], bias)
        assert (got - want).abs().max().item() < 1e-12
