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
    if args.json:
        print(json.dumps(result.to_json(), indent=1))
    else:
        print(format_result(result))
    return 0
