"""NAFSSR (Chu et al., CVPRW 2022): NAFNet blocks with SCAM fusion after every block.

It is the stereo trunk with the multi-scale branch off and softmax cross attention; the published variants
(x4 parameter counts 0.46M / 1.56M / 6.80M / 23.83M) differ in channel count, depth and drop-path rate.
"""

from ..registry import register_family
from .family import Adapter, Family, sizes_at_scales
from .stereo_sr import StereoSRNet, inspect_layout, matches_nafssr, their_key

VARIANTS = {  # name: (channels, blocks, drop-path rate)
    "t": (48, 16, 0.0),
    "s": (64, 32, 0.1),
    "b": (96, 64, 0.2),
    "l": (128, 128, 0.3),
}

register_family(
    Family(
        name="nafssr",
        title="NAFSSR (Chu et al., CVPRW 2022)",
        network=StereoSRNet,
        sizes=tuple(
            size
            for variant, (channels, blocks, drop) in VARIANTS.items()
            for size in sizes_at_scales(
                f"nafssr_{variant}",
                f"NAFSSR-{variant.upper()}",
                channels=channels,
                num_blocks=blocks,
                fusion="scam",
                multiscale=False,
                drop_path_rate=drop,
            )
        ),
        adapter=Adapter(matches_nafssr, inspect_layout, their_key),
    )
)
