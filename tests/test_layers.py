"""Layers: LayerNorm2d, LSKA receptive fields, cross-view fusion (DEAM / SCAM) properties."""

import pytest
import torch
import torch.nn.functional as F

from msinet.layers import DEAM, LSKA_DECOMPOSITION, SCAM, LayerNorm2d, LSKAMap, MultiScaleLSKA, sinkhorn_log


def test_layernorm2d_matches_layer_norm_over_channels():
    ln = LayerNorm2d(8).double()
    with torch.no_grad():
        ln.weight.normal_()
        ln.bias.normal_()
    x = torch.randn(2, 8, 5, 7, dtype=torch.float64)
    ref = F.layer_norm(x.permute(0, 2, 3, 1), (8,), ln.weight, ln.bias, eps=1e-6).permute(0, 3, 1, 2)
    torch.testing.assert_close(ln(x), ref)


@pytest.mark.parametrize("k", sorted(LSKA_DECOMPOSITION))
def test_lska_receptive_field_is_k_by_k(k):
    lska = LSKAMap(1, k).double()
    with torch.no_grad():
        for p in lska.parameters():
            p.uniform_(0.5, 1.0)  # positive weights: no accidental cancellation
        for m in lska.modules():
            if isinstance(m, torch.nn.Conv2d):
                m.bias.zero_()
    size = 2 * k + 1
    x = torch.zeros(1, 1, size, size, dtype=torch.float64)
    x[..., k, k] = 1.0
    support = lska(x)[0, 0] != 0
    rows, cols = support.any(1).nonzero(), support.any(0).nonzero()
    assert (rows.max() - rows.min() + 1).item() == k
    assert (cols.max() - cols.min() + 1).item() == k


def test_multiscale_lska_routes_groups_to_branches():
    x = torch.randn(1, 8, 9, 9)
    full = MultiScaleLSKA(8, (7, 11), None)
    routed = MultiScaleLSKA(8, (7, 11), (0, 0))
    routed.load_state_dict(full.state_dict())
    # group 0 is identical in both (branch 0); group 1 differs only through which branch processed it
    with torch.no_grad():
        a = torch.cat([full.branches[0](x[:, :4]), full.branches[1](x[:, 4:])], 1)
        b = torch.cat([full.branches[0](x[:, :4]), full.branches[0](x[:, 4:])], 1)
        torch.testing.assert_close(full(x), full.proj(a) * x)
        torch.testing.assert_close(routed(x), full.proj(b) * x)
    with pytest.raises(ValueError, match="divisible"):
        MultiScaleLSKA(10, (7, 11, 23, 35))


@pytest.mark.parametrize("cls", [DEAM, SCAM])
def test_fusion_is_identity_at_initialisation(cls):
    fusion = cls(16)
    x_l, x_r = torch.randn(2, 16, 4, 11), torch.randn(2, 16, 4, 11)
    y_l, y_r = fusion(x_l, x_r)
    assert torch.equal(y_l, x_l) and torch.equal(y_r, x_r)


@pytest.mark.parametrize("cls", [DEAM, SCAM])
def test_gradients_reach_every_parameter(cls):
    fusion = cls(8)
    with torch.no_grad():
        fusion.scale_l.fill_(0.5)
        fusion.scale_r.fill_(-0.3)
    x_l, x_r = torch.randn(1, 8, 3, 6), torch.randn(1, 8, 3, 6)
    y_l, y_r = fusion(x_l, x_r)
    (y_l.square().sum() + y_r.pow(3).sum()).backward()
    for name, p in fusion.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, name


def _random_fusion(cls, c=6, seed=0):
    torch.manual_seed(seed)
    fusion = cls(c).double()
    with torch.no_grad():
        for p in fusion.parameters():
            p.normal_()
    return fusion


def test_deam_against_hand_written_equations():
    """Eq. 2-3 of the paper written out per image row with explicit loops over rows."""
    fusion = _random_fusion(DEAM)
    x_l, x_r = torch.randn(1, 6, 3, 5, dtype=torch.float64), torch.randn(1, 6, 3, 5, dtype=torch.float64)
    u_l = fusion.query_l(fusion.norm_l(x_l))[0]
    u_r = fusion.query_r(fusion.norm_r(x_r))[0]
    v_l, v_r = fusion.value_l(x_l)[0], fusion.value_r(x_r)[0]
    out_l, out_r = torch.empty_like(x_l[0]), torch.empty_like(x_r[0])
    for h in range(3):
        m = u_l[:, h, :].T @ u_r[:, h, :] / 6**0.5  # (W_left, W_right)
        t = sinkhorn_log(m, 10)
        out_l[:, h, :] = x_l[0, :, h, :] + fusion.scale_l[0, :, 0, :] * (t @ v_r[:, h, :].T).T
        out_r[:, h, :] = x_r[0, :, h, :] + fusion.scale_r[0, :, 0, :] * (t.T @ v_l[:, h, :].T).T
    y_l, y_r = fusion(x_l, x_r)
    torch.testing.assert_close(y_l[0], out_l)
    torch.testing.assert_close(y_r[0], out_r)


def test_scam_view_swap_symmetry():
    """Swapping the views and the left/right weights swaps SCAM's outputs exactly."""
    fusion = _random_fusion(SCAM)
    swapped = SCAM(6).double()

    def swap(key):  # norm_l.weight <-> norm_r.weight, scale_l <-> scale_r, ...
        return key.replace("_l", "\0").replace("_r", "_l").replace("\0", "_r")

    swapped.load_state_dict({swap(k): v for k, v in fusion.state_dict().items()})
    x_l, x_r = torch.randn(2, 6, 3, 7, dtype=torch.float64), torch.randn(2, 6, 3, 7, dtype=torch.float64)
    a_l, a_r = fusion(x_l, x_r)
    b_r, b_l = swapped(x_r, x_l)
    torch.testing.assert_close(a_l, b_l)
    torch.testing.assert_close(a_r, b_r)


def test_deam_keeps_plan_only_when_asked():
    fusion = _random_fusion(DEAM)
    x = torch.randn(1, 6, 2, 9, dtype=torch.float64)
    fusion(x, x)
    assert fusion.last_plan is None
    fusion.keep_plan = True
    fusion(x, x)
    assert fusion.last_plan.shape == (1, 2, 9, 9)
    torch.testing.assert_close(fusion.last_plan.sum(-1), torch.ones(1, 2, 9, dtype=torch.float64))


@pytest.mark.parametrize(
    "kernels,route",
    [((7, 11, 23, 35), None), ((7, 11, 23, 35), (0, 1, 2, 2)), ((35, 7, 23, 11), (3, 0, 1, 2))],
    ids=["paper", "released", "mixed"],
)
def test_fused_lska_equals_per_branch_forward_and_gradients(kernels, route):
    """One depthwise conv per stage (zero-padded kernels, grouped 1x1) is the per-branch LSKA, exactly in
    float64; gradients reach the branches' own parameters. 'mixed' interleaves dilations 3,2,3,2."""
    torch.manual_seed(0)
    lska = MultiScaleLSKA(16, kernels, route).double()
    x = torch.randn(2, 16, 12, 40, dtype=torch.float64)
    runs = {}
    for fused in (False, True):
        lska.fused = fused
        lska.zero_grad()
        out = lska(x)
        (out * torch.linspace(-1, 1, out.numel(), dtype=torch.float64).view_as(out)).sum().backward()
        runs[fused] = out.detach(), [p.grad.clone() for p in lska.parameters() if p.grad is not None]
    torch.testing.assert_close(runs[True][0], runs[False][0], rtol=0, atol=1e-13)
    assert len(runs[True][1]) == len(runs[False][1])
    for a, b in zip(runs[True][1], runs[False][1]):
        torch.testing.assert_close(a, b, rtol=1e-12, atol=1e-12)
    # under no_grad the fused weights are cached, and rebuilt once a parameter changes
    with torch.no_grad():
        first = lska(x)
        lska.branches[0].local_h.weight.add_(0.5)
        lska.fused = False
        want = lska(x)
        lska.fused = True
        torch.testing.assert_close(lska(x), want, rtol=0, atol=1e-13)
        assert not torch.equal(first, want)
