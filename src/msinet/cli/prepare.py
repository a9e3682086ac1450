"""`msinet prepare`: raw Flickr1024 / KITTI / Middlebury downloads -> msinet's train and test layouts."""

from __future__ import annotations

HELP = "convert raw dataset downloads into the train/test layouts (reports what it found and what is missing)"


def add_arguments(p):
    p.add_argument("raw", help="folder holding the downloads (unpacked), searched recursively")
    p.add_argument("-o", "--out", required=True, help="output folder (test/<Set>/..., train/..., patches_x<s>/)")
    p.add_argument("--scale", type=int, default=4, choices=[2, 3, 4], help="LR scale for test sets and patches")
    p.add_argument(
        "--patches",
        action="store_true",
        help="also write pre-generated training patches (LR 30x90, stride 20); training crops on the fly without them",
    )
    p.add_argument("--scan-only", action="store_true", help="only report what was found")
    p.add_argument("--overwrite", action="store_true", help="write into non-empty output folders")


def run(args) -> int:
    from ..data.prepare import DOWNLOADS, prepare, scan_raw

    if args.scan_only:
        found = scan_raw(args.raw)
        for key, entry in sorted(found.items()):
            print(f"found {key}: {len(entry.pairs)} pairs in {', '.join(sorted(entry.sources))}")
        for dataset, url in DOWNLOADS.items():
            if not any(k.startswith(dataset) for k in found):
                print(f"missing {dataset}: not found (download: {url})")
        return 0
    prepare(args.raw, args.out, args.scale, args.patches, args.overwrite)
    return 0
