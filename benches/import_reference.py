#!/usr/bin/env python3
"""The Python half of the import comparison: a plain PIL loop doing what `atelier import`
does to each photo, in one process, timed the same way.

Per file: decode, flatten alpha onto white, pad to a square with the mean colour of the
photo's outermost pixels (the `pad` squaring of the colour presets), resize to the preset's
side with LANCZOS, and lay the pixels out as channel planes of u8. No `draft()`: that would
let the JPEG decoder skip detail Atelier's decoder reads.

    python3 benches/import_reference.py DIR [--size 64]

Run it alternated with `atelier import --data DIR --preset fastgan-64-rgb` (see the README's
"Speed" section); compare only figures measured side by side.
"""

import argparse
import os
import sys
import time

import numpy as np
from PIL import Image

EXTENSIONS = {".jpg", ".jpeg", ".png", ".webp", ".bmp", ".gif", ".tif", ".tiff"}


def image_files(root):
    for folder, _, files in os.walk(root):
        for name in sorted(files):
            if os.path.splitext(name)[1].lower() in EXTENSIONS:
                yield os.path.join(folder, name)


def flatten_alpha(image):
    if image.mode in ("RGBA", "LA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(white, rgba).convert("RGB")
    return image.convert("RGB")


def border_mean(pixels):
    top, bottom = pixels[0], pixels[-1]
    left, right = pixels[1:-1, 0], pixels[1:-1, -1]
    border = np.concatenate([top, bottom, left, right]).astype(np.uint64)
    return tuple(int(v) for v in border.sum(axis=0) // max(len(border), 1))


def normalise(path, size):
    with Image.open(path) as opened:
        rgb = flatten_alpha(opened)
    w, h = rgb.size
    side = max(w, h)
    fill = border_mean(np.asarray(rgb))
    canvas = Image.new("RGB", (side, side), fill)
    canvas.paste(rgb, ((side - w) // 2, (side - h) // 2))
    if side != size:
        canvas = canvas.resize((size, size), Image.LANCZOS)
    return np.ascontiguousarray(np.asarray(canvas).transpose(2, 0, 1))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dir")
    parser.add_argument("--size", type=int, default=64)
    args = parser.parse_args()
    started = time.perf_counter()
    planes, skipped = [], 0
    for path in image_files(args.dir):
        try:
            planes.append(normalise(path, args.size))
        except (OSError, ValueError):
            skipped += 1
    seconds = time.perf_counter() - started
    count = len(planes)
    print(
        f"PIL reference: {count} images ({skipped} skipped) at {args.size} px in "
        f"{seconds:.2f} s, {count / seconds:.1f} images/s"
    )
    return 0 if count else 1


if __name__ == "__main__":
    sys.exit(main())
