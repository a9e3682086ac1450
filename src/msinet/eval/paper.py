"""Published x4 results to print beside ours (MSINet paper, Table 1; protocol 'stereo': RGB, no shave, (L+R)/2)."""

from __future__ import annotations

PAPER_PROTOCOL = "stereo"
PAPER_SCALE = 4
PAPER_SETS = ("KITTI2012", "KITTI2015", "Middlebury", "Flickr1024")

# method -> (params, {set: (PSNR, SSIM)})
TABLE1 = {
    "EDSR": ("38.9M", ((26.35, 0.8015), (26.04, 0.8039), (29.23, 0.8397), (23.46, 0.7285))),
    "RCAN": ("15.4M", ((26.44, 0.8029), (26.22, 0.8068), (29.30, 0.8397), (23.48, 0.7286))),
    "iPASSRnet": ("1.42M", ((26.56, 0.8053), (26.32, 0.8084), (29.16, 0.8367), (23.44, 0.7287))),
    "SSRDE-FNet": ("2.24M", ((26.70, 0.8082), (26.45, 0.8118), (29.38, 0.8411), (23.59, 0.7352))),
    "NAFSSR": ("1.56M", ((26.93, 0.8145), (26.76, 0.8203), (29.72, 0.8490), (23.88, 0.7468))),
    "MSSFNet": ("1.82M", ((26.97, 0.8158), (26.82, 0.8219), (29.77, 0.8502), (23.99, 0.7508))),
    "SwinFSR": ("9.76M", ((27.03, 0.8143), (26.83, 0.8213), (32.45, 0.8891), (23.83, 0.7471))),
    "MSINet": ("2.04M", ((27.07, 0.8195), (26.88, 0.8253), (29.98, 0.8547), (24.03, 0.7541))),
}


def paper_rows(set_name: str, scale: int) -> list[tuple[str, str, float, float]]:
    """[(method, params, PSNR, SSIM)] published for this set at this scale ([] where the paper has none)."""
    canon = {s.lower(): i for i, s in enumerate(PAPER_SETS)}
    idx = canon.get(set_name.lower())
    if idx is None or scale != PAPER_SCALE:
        return []
    return [(m, params, *scores[idx]) for m, (params, scores) in TABLE1.items()]
