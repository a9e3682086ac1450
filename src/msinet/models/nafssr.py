"""NAFSSR (Chu et al., CVPRW 2022): NAFNet blocks with SCAM fusion after every block.

It is the stereo trunk with the multi-scale branch off and softmax cross attention; the published variants
(x4 parameter counts 0.46M / 1.56M / 6.80M / 23.83M) differ in channel count, depth and drop-path rate.
"""

from ..registry import register_model

VARIANTS = {  # name: (channels, blocks, drop-path rate)
    "t": (48, 16, 0.0),
    "s": (64, 32, 0.1),
    "b": (96, 64, 0.2),
    "l": (128, 128, 0.3),
}

for variant, (channels, blocks, drop) in VARIANTS.items():
    for s in (2, 4):
        names = [f"nafssr_{variant}_x{s}"] + ([f"nafssr_{variant}"] if s == 4 else [])
        for name in names:
            register_model(
                name,
                "stereo_sr",
                f"NAFSSR-{variant.upper()} x{s}",
                scale=s,
                channels=channels,
                num_blocks=blocks,
                fusion="scam",
                multiscale=False,
                drop_path_rate=drop,
            )
