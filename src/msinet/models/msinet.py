"""MSINet (Xu & Qi): MSCAB blocks (multi-scale LSKA + channel attention) with DEAM optimal-transport fusion.

The family: its sizes; the authors' checkpoints are read by the trunk's adapter (stereo_sr.py). Where the
paper is silent the authors' released code decides (docs/architecture.md):
64 channels, DEAM after every block, LSKA kernels 7/11/23/35 over four channel groups, drop-path 0.1.
"""

from ..registry import register_family
from .family import Adapter, Family, Size
from .stereo_sr import RELEASED_BRANCH_OF_GROUP, StereoSRNet, inspect_layout, matches_msinet, their_key

MSINET = dict(
    channels=64, num_blocks=32, fusion="deam", multiscale=True, lska_kernels=(7, 11, 23, 35), drop_path_rate=0.1
)

# rows of the paper's Table 2 (the frequency loss row differs only in training: configs/)
ABLATIONS = {
    "none": dict(fusion="none", multiscale=False),
    "scam": dict(fusion="scam", multiscale=False),
    "deam": dict(fusion="deam", multiscale=False),
    "deam_mscam": dict(fusion="deam", multiscale=True),
}


def _sizes():
    for s in (2, 4):
        yield Size(f"msinet_x{s}", s, MSINET, "paper", description=f"MSINet x{s} as in the paper (2.04M params at x4)")
        yield Size(
            f"msinet_x{s}_released",
            s,
            {**MSINET, "lska_branch_of_group": RELEASED_BRANCH_OF_GROUP},
            "released",
            description=f"MSINet x{s} exactly as the authors' released code (4th LSKA group through the k=23 branch)",
        )
        small = {**MSINET, "channels": 48, "num_blocks": 16, "drop_path_rate": 0.05}
        yield Size(f"msinet_small_x{s}", s, small, "small", description=f"MSINet-S x{s}: 48 channels, 16 blocks")
        tiny = {**MSINET, "channels": 32, "num_blocks": 8, "drop_path_rate": 0.0}
        yield Size(f"msinet_tiny_x{s}", s, tiny, "tiny", description=f"MSINet-T x{s}: 32 channels, 8 blocks")
        for row, opts in ABLATIONS.items():
            yield Size(
                f"msinet_x{s}_ablation_{row}",
                s,
                {**MSINET, **opts},
                f"ablation_{row}",
                description=f"Table 2 ablation '{row}', x{s}",
            )


register_family(
    Family(
        name="msinet",
        title="MSINet (Xu & Qi)",
        network=StereoSRNet,
        sizes=tuple(_sizes()),
        adapter=Adapter(matches_msinet, inspect_layout, their_key),
    )
)
