"""The training loss (paper eq. 4) against a NumPy float64 computation."""

import numpy as np
import pytest
import torch

from msinet.train.loss import StereoSRLoss


def reference(sr_l, sr_r, hr_l, hr_r, lam):
    sr, hr = np.concatenate([sr_l, sr_r], 1), np.concatenate([hr_l, hr_r], 1)
    mse = np.mean((sr - hr) ** 2)
    d = np.fft.rfft2(sr) - np.fft.rfft2(hr)  # over the last two axes, unnormalised
    return mse + lam * (np.abs(d.real).mean() + np.abs(d.imag).mean())


@pytest.mark.parametrize("lam", [0.0, 0.01, 1.0])
def test_matches_numpy(lam):
    g = torch.Generator().manual_seed(0)
    t = [torch.rand(2, 3, 6, 9, generator=g, dtype=torch.float64) for _ in range(4)]
    got = StereoSRLoss(lam)((t[0], t[1]), (t[2], t[3]))
    np.testing.assert_allclose(got.item(), reference(*(x.numpy() for x in t), lam), rtol=1e-6)


def test_zero_for_perfect_output_and_positive_otherwise():
    x = torch.rand(1, 3, 8, 8)
    loss = StereoSRLoss()
    assert loss((x, x), (x, x)).item() == 0.0
    assert loss((x + 0.1, x), (x, x)).item() > 0.0


def test_rejects_negative_weight():
    with pytest.raises(ValueError, match="freq_weight"):
        StereoSRLoss(-1)
