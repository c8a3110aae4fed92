"""`python -m training refine-zoom`: how tight the detector's box is as a function of zoom.

The recognizer re-detects small bibs on a zoomed crop (core.recognizer ``REFINE_WINDOW`` /
``REFINE_TARGET_PX``). This command measures, for each (window, target height) pair, the IoU of
the best detection with the annotated box when every annotated bib is zoomed to that height in a
window of that side. Crops are centred on the bib plus a seeded +-15 % offset, standing in for the
first detection's error. It uses the train split by default, so the refinement settings are chosen
without looking at the val split. See docs/recognizer.md.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np


def zoom_ious(recognizer, photos, window: int, target_px: float, seed: int = 0) -> list[float]:
    """Best-detection IoU for every boxed bib of `photos` zoomed to `target_px` in a `window` crop.

    `photos` is a list of (RGB image, bibs); `recognizer` a core.recognizer.Recognizer, whose
    `detect_zoomed` (the refinement's own zoomed detection) is measured. Bibs whose zoomed crop
    would not be smaller than the photo are skipped, as the recognizer skips them too.
    """
    from bibtagger_gui.core.bib import iou

    rng = np.random.default_rng(seed)
    out: list[float] = []
    for image, bibs in photos:
        for bib in bibs:
            if bib.box is None:
                continue
            x1, y1, x2, y2 = bib.box
            bw, bh = x2 - x1, y2 - y1
            jx, jy = rng.uniform(-0.15, 0.15, size=2)
            if bh <= 0:
                continue
            cx, cy = (x1 + x2) / 2 + jx * bw, (y1 + y2) / 2 + jy * bh
            found = recognizer.detect_zoomed(image, cx, cy, bh, window, target_px)
            if found is None:
                continue
            out.append(max((iou(tuple(float(v) for v in b), bib.box) for b in found), default=0.0))
    return out


def summarize(ious: list[float]) -> dict[str, float]:
    a = np.asarray(ious, dtype=np.float64)
    if not len(a):
        return {"n": 0}
    return {
        "n": int(len(a)),
        "mean_iou": round(float(a.mean()), 4),
        "iou_ge_0.7": round(float((a >= 0.7).mean()), 4),
        "iou_ge_0.8": round(float((a >= 0.8).mean()), 4),
        "missed": round(float((a < 0.5).mean()), 4),
    }


def main(argv: list[str] | None = None) -> int:
    from training.data import DEFAULT_DEV, load_entries, split

    p = argparse.ArgumentParser(prog="python -m training refine-zoom", description=__doc__.splitlines()[0])
    p.add_argument("--annotations", type=Path, default=DEFAULT_DEV / "annotations.json")
    p.add_argument("--models", type=Path, default=Path("resources/models"), help="folder with detector.onnx and reader.onnx")
    p.add_argument("--split", choices=["train", "val"], default="train")
    p.add_argument("--windows", default="256,512", help="comma-separated window sides (the detector must accept them)")
    p.add_argument("--targets", default="24,32,40,48,56", help="comma-separated zoomed bib heights, px")
    p.add_argument("--threads", type=int, default=1)
    args = p.parse_args(argv)
    if not args.annotations.is_file():
        print(f"annotations not found: {args.annotations}", file=sys.stderr)
        return 2
    from bibtagger_gui.core.recognizer import ModelError, Recognizer

    try:
        rec = Recognizer.from_dir(args.models, threads=args.threads)
    except ModelError as exc:
        print(exc, file=sys.stderr)
        return 2
    from bibtagger_gui.core.imageio import load_with_info

    train, val = split(load_entries(args.annotations))
    photos = [(load_with_info(e.path)[0], e.bibs) for e in (train if args.split == "train" else val)]
    for window in (int(w) for w in args.windows.split(",")):
        for target in (float(t) for t in args.targets.split(",")):
            try:
                row = {"window": window, "target_px": target, **summarize(zoom_ious(rec, photos, window, target))}
            except Exception as exc:  # a static-input detector rejects other window sizes
                row = {"window": window, "target_px": target, "error": str(exc).splitlines()[0][:200]}
            print(json.dumps(row), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
