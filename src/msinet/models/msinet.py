"""MSINet (Xu & Qi): MSCAB blocks (multi-scale LSKA + channel attention) with DEAM optimal-transport fusion.

Named configurations. Where the paper is silent the authors' released code decides (docs/architecture.md):
64 channels, DEAM after every block, LSKA kernels 7/11/23/35 over four channel groups, drop-path 0.1.
"""

from ..registry import register_model

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

for s in (2, 4):
    register_model(f"msinet_x{s}", "stereo_sr", f"MSINet x{s} as in the paper (2.04M params at x4)", scale=s, **MSINET)
    register_model(
        f"msinet_x{s}_released",
        "stereo_sr",
        f"MSINet x{s} exactly as the authors' released code (4th LSKA group through the k=23 branch)",
        scale=s,
        **MSINET,
        lska_branch_of_group=(0, 1, 2, 2),
    )
    register_model(
        f"msinet_small_x{s}",
        "stereo_sr",
        f"MSINet-S x{s}: 48 channels, 16 blocks",
        scale=s,
        **{**MSINET, "channels": 48, "num_blocks": 16, "drop_path_rate": 0.05},
    )
    register_model(
        f"msinet_tiny_x{s}",
        "stereo_sr",
        f"MSINet-T x{s}: 32 channels, 8 blocks",
        scale=s,
        **{**MSINET, "channels": 32, "num_blocks": 8, "drop_path_rate": 0.0},
    )
    for row, opts in ABLATIONS.items():
        register_model(
            f"msinet_x{s}_ablation_{row}", "stereo_sr", f"Table 2 ablation '{row}', x{s}", scale=s, **{**MSINET, **opts}
        )
