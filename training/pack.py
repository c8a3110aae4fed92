"""Pack what a training run on another machine needs into one folder (a lent GPU machine's carry).

`python -m training pack --out .gpu [--data JSON] [--margin 1.0]`

- the annotation JSON as it is (the split is by image name, so it is the same there);
- the train photos byte for byte (synthetic backgrounds, real crops);
- the val photos as PNGs of the same size and name with everything farther than ``margin`` box
  sizes from a labelled bib painted grey: the reader's val crops (box + pad <= 0.4) are
  bit-identical, and the files shrink ~7x on the dev set (the val split is only ever read through its boxes);
- the fonts the synthetic generator uses (`fonts/`; point $BIBTAGGER_FONT_DIR at it there).

On the other machine: `BIBTAGGER_FONT_DIR=$PWD/OUT/fonts python -m training train-reader --data
OUT/annotations.json ...` (docs/training.md#gpu-runs). Keep OUT out of git (.git/info/exclude).
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

import cv2
import numpy as np

from training.data import DEFAULT_DEV, Entry, load_entries, split

GREY = 128


def masked_val_photo(entry: Entry, margin: float = 1.0) -> np.ndarray:
    """The oriented RGB photo with everything farther than ``margin`` box sizes from its boxes grey."""
    from bibtagger_gui.core.imageio import load_image

    img = load_image(entry.path)
    sx, sy = img.shape[1] / max(entry.width, 1), img.shape[0] / max(entry.height, 1)
    keep = np.zeros(img.shape[:2], bool)
    for b in entry.bibs:
        if b.box is None:
            continue
        x1, y1, x2, y2 = b.box[0] * sx, b.box[1] * sy, b.box[2] * sx, b.box[3] * sy
        w, h = x2 - x1, y2 - y1
        keep[max(0, int(y1 - margin * h)) : max(0, int(y2 + margin * h) + 1), max(0, int(x1 - margin * w)) : max(0, int(x2 + margin * w) + 1)] = True
    out = img.copy()
    out[~keep] = GREY
    return out


def pack(out: Path, data: Path = DEFAULT_DEV / "annotations.json", margin: float = 1.0, fonts: bool = True,
         log=print) -> dict:
    """Write the folder; returns counts and its size in bytes. Unreadable photos are reported and left out."""
    from training.fonts import find_fonts, find_text_fonts

    entries = load_entries(data)
    train, val = split(entries)
    out.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(data, out / "annotations.json")
    counts = {"train": 0, "val": 0, "fonts": 0, "skipped": 0}
    for e in train:
        dst = out / e.image
        dst.parent.mkdir(parents=True, exist_ok=True)
        try:
            shutil.copyfile(e.path, dst)
            counts["train"] += 1
        except OSError as exc:
            log(f"{e.path}: {exc} (left out)")
            counts["skipped"] += 1
    for e in val:
        dst = out / e.image
        dst.parent.mkdir(parents=True, exist_ok=True)
        try:
            img = masked_val_photo(e, margin)
        except Exception as exc:  # ImageError or OSError: report and go on
            log(f"{e.path}: {exc} (left out)")
            counts["skipped"] += 1
            continue
        ok, buf = cv2.imencode(".png", cv2.cvtColor(img, cv2.COLOR_RGB2BGR))
        tmp = dst.with_name(dst.name + ".tmp")
        tmp.write_bytes(buf.tobytes())
        tmp.replace(dst)  # PNG bytes under the photo's own name: the image loaders go by content
        counts["val"] += 1
    if fonts:
        (out / "fonts").mkdir(exist_ok=True)
        for f in sorted(set(find_fonts()) | set(find_text_fonts())):
            shutil.copyfile(f, out / "fonts" / f.name)
            counts["fonts"] += 1
    counts["bytes"] = sum(p.stat().st_size for p in out.rglob("*") if p.is_file())
    return counts


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m training pack", description=__doc__.splitlines()[0])
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--data", type=Path, default=DEFAULT_DEV / "annotations.json", help="bib annotation JSON (dev set)")
    p.add_argument("--margin", type=float, default=1.0, help="val photos: box sizes kept around each labelled bib")
    p.add_argument("--no-fonts", action="store_true", help="leave the fonts out")
    args = p.parse_args(argv)
    if not args.data.is_file():
        print(f"{args.data}: no such annotation file", file=sys.stderr)
        return 2
    c = pack(args.out, args.data, args.margin, fonts=not args.no_fonts, log=lambda m: print(m, file=sys.stderr))
    print(f"{args.out}: {c['train']} train photos, {c['val']} masked val photos, {c['fonts']} fonts, "
          f"{c['bytes'] / 2**20:.1f} MiB" + (f"; {c['skipped']} photo(s) left out" if c["skipped"] else ""))
    return 0
