"""`bibtagger eval GT.json PRED.json`: image-level and box+number precision/recall/F1."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def register(sub) -> None:
    p = sub.add_parser("eval", help="score predictions against ground truth (bib annotation JSON)", description=__doc__)
    p.add_argument("gt", type=Path, metavar="GT.json", help="ground truth")
    p.add_argument("pred", type=Path, metavar="PRED.json", help="predictions (e.g. from `bibtagger predict --json`)")
    p.add_argument("--iou", type=float, default=0.5, help="IoU for a box to count as found (default 0.5)")
    p.add_argument("--common", action="store_true", help="score only photos present in both files (default: unpredicted photos count as missed)")
    p.add_argument("--json", action="store_true", help="print machine-readable JSON instead of text")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from bibtagger_gui.core.annotations import AnnotationError, load_annotations
    from bibtagger_gui.core.evaluation import evaluate, format_result

    try:
        gt = load_annotations(args.gt)
        pred = load_annotations(args.pred)
    except AnnotationError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    if not 0.0 < args.iou <= 1.0:
        print("error: --iou must be in (0, 1]", file=sys.stderr)
        return 2
    result = evaluate(gt, pred, iou_threshold=args.iou, common_only=args.common)
    note = no_common_photo_note(gt, pred)
    if note:
        print(f"warning: {note}", file=sys.stderr)
    if args.json:
        print(json.dumps(result.to_json(), indent=1))
    else:
        print(format_result(result))
    return 0


def no_common_photo_note(gt: list, pred: list) -> str | None:
    """Why a score of 0 would mislead: not one predicted photo has a ground-truth photo's path (the two files were
    made from folders laid out differently), with a pair of the same file name when there is one; else None."""
    gt_paths, pred_paths = [a.image for a in gt], [a.image for a in pred]
    if not gt_paths or not pred_paths or set(gt_paths) & set(pred_paths):
        return None
    by_name = {Path(p).name: p for p in gt_paths}
    pair = next(((p, by_name[Path(p).name]) for p in pred_paths if Path(p).name in by_name), (pred_paths[0], gt_paths[0]))
    return (f"no predicted photo has a ground-truth photo's path (e.g. {pair[0]!r} and {pair[1]!r}): were the two files made "
            "from folders laid out differently? Photos are matched by their path relative to the folder")
