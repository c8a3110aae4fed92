"""Accuracy of predictions against ground truth, both in the bib annotation format.

* image level: per photo, the set of numbers predicted vs. the set in the ground truth;
  TP/FP/FN summed over photos (what a photographer's customer search sees);
* box + number: a prediction is a TP when its number equals a ground-truth bib's number and
  the boxes overlap with IoU >= 0.5; greedy matching, most confident prediction first.

Numbers are compared as labels (``core.bib.label_number``): exact, but full-width digits ("１８１" in a ground
truth typed on a Japanese or Chinese keyboard) are the ASCII ones and zero-width characters do not count.

A validation split of a few dozen photos decides F1 by single bibs, so ``f1_interval`` gives a
photo-level bootstrap interval to read differences against.

Photos are matched by ``image`` (relpath). A ground-truth photo without a prediction counts
all its bibs as FN (unless ``common_only``); predicted photos absent from the ground truth
are ignored and reported. When not one photo is in both files (made from folders laid out differently,
"a.jpg" against "set1/a.jpg"), `bibtagger eval` warns before its score of 0 (``cli.eval_cmd.no_common_photo_note``).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np

from bibtagger_gui.core.annotations import PhotoAnnotation
from bibtagger_gui.core.bib import Bib, Box, iou, label_number


@dataclass
class PRF:
    tp: int = 0
    fp: int = 0
    fn: int = 0

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 0.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 0.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0

    def add(self, tp: int, fp: int, fn: int) -> None:
        self.tp += tp
        self.fp += fp
        self.fn += fn

    def to_json(self) -> dict:
        return {**asdict(self), "precision": round(self.precision, 4), "recall": round(self.recall, 4), "f1": round(self.f1, 4)}


def image_counts(truth: list[Bib], pred: list[Bib]) -> PRF:
    """Image level: the set of numbers predicted for a photo against the set in its ground truth."""
    t, p = {label_number(b.number) for b in truth}, {label_number(b.number) for b in pred}
    return PRF(len(t & p), len(p - t), len(t - p))


def f1_interval(per_photo: list[PRF], level: float = 0.95, resamples: int = 2000, seed: int = 0) -> tuple[float, float]:
    """Percentile bootstrap interval of the summed F1: photos are drawn with replacement.

    Photos, not bibs, are resampled because a photo's errors come together (one hard scene).
    Deterministic for a seed; (0, 0) for no photos.
    """
    counts = np.array([(c.tp, c.fp, c.fn) for c in per_photo], np.int64).reshape(-1, 3)
    if len(counts) == 0:
        return 0.0, 0.0
    idx = np.random.default_rng(seed).integers(0, len(counts), (resamples, len(counts)))
    tp, fp, fn = counts[idx].sum(axis=1).T
    denom = 2 * tp + fp + fn  # F1 = 2TP / (2TP + FP + FN)
    f1 = np.divide(2 * tp, denom, out=np.zeros(resamples), where=denom > 0)
    tail = 100 * (1 - level) / 2
    lo, hi = np.percentile(f1, [tail, 100 - tail])
    return float(lo), float(hi)


@dataclass
class EvalResult:
    image: PRF
    box: PRF
    iou: float
    photos: int  # ground-truth photos evaluated
    image_per_photo: list[PRF] = field(default_factory=list)  # image-level counts of each evaluated photo
    unpredicted: list[str] = field(default_factory=list)  # GT photos without a prediction
    unknown: list[str] = field(default_factory=list)  # predicted photos not in the GT
    unboxed_gt: int = 0  # GT bibs without a box (left out of the box metric)
    common_only: bool = False  # unpredicted GT photos were skipped rather than counted as missed

    def to_json(self) -> dict:
        return {
            "photos": self.photos,
            "image_level": {**self.image.to_json(), "f1_ci95": [round(v, 4) for v in f1_interval(self.image_per_photo)]},
            "box_level": {**self.box.to_json(), "iou": self.iou},
            "unpredicted_photos": len(self.unpredicted),
            "unknown_photos": len(self.unknown),
            "unboxed_gt_bibs": self.unboxed_gt,
        }


def match_boxes(gt: list[Bib], pred: list[Bib], iou_threshold: float = 0.5) -> tuple[int, int, int, int]:
    """Greedy box+number matching on one photo -> (tp, fp, fn, unboxed_gt).

    Ground-truth bibs without a box are left out, and so are predictions of their numbers
    that match no boxed bib (they can be neither right nor wrong). Predictions without a box are FP.
    """
    boxed = [g for g in gt if g.box is not None]
    unboxed_numbers = {label_number(g.number) for g in gt if g.box is None}
    used = [False] * len(boxed)
    tp = fp = 0
    for p in sorted(pred, key=lambda b: -(b.confidence if b.confidence is not None else 1.0)):
        best, best_iou = -1, iou_threshold
        if p.box is not None:
            for j, g in enumerate(boxed):
                if used[j] or label_number(g.number) != label_number(p.number):
                    continue
                v = iou(p.box, g.box)  # type: ignore[arg-type]
                if v >= best_iou:
                    best, best_iou = j, v
        if best >= 0:
            used[best] = True
            tp += 1
        elif label_number(p.number) not in unboxed_numbers:
            fp += 1
    return tp, fp, used.count(False), len(gt) - len(boxed)


def evaluate(
    gt: list[PhotoAnnotation], pred: list[PhotoAnnotation], iou_threshold: float = 0.5, common_only: bool = False
) -> EvalResult:
    preds = {p.image: p for p in pred}
    gts = {g.image: g for g in gt}
    result = EvalResult(PRF(), PRF(), iou_threshold, 0, unknown=sorted(set(preds) - set(gts)), common_only=common_only)
    for g in gt:
        p = preds.get(g.image)
        if p is None:
            result.unpredicted.append(g.image)
            if common_only:
                continue
        result.photos += 1
        pbibs = p.bibs if p is not None else []
        counts = image_counts(g.bibs, pbibs)
        result.image.add(counts.tp, counts.fp, counts.fn)
        result.image_per_photo.append(counts)
        tp, fp, fn, unboxed = match_boxes(g.bibs, pbibs, iou_threshold)
        result.box.add(tp, fp, fn)
        result.unboxed_gt += unboxed
    return result


def format_result(r: EvalResult) -> str:
    """Human-readable summary (what `bibtagger eval` prints)."""

    def line(name: str, m: PRF) -> str:
        return f"{name:<22} P {m.precision:.3f}  R {m.recall:.3f}  F1 {m.f1:.3f}   (TP {m.tp}, FP {m.fp}, FN {m.fn})"

    lines = [
        f"photos evaluated: {r.photos}",
        line("image level (numbers)", r.image),
        line(f"box+number IoU>={r.iou:g}", r.box),
    ]
    if r.image_per_photo:
        lo, hi = f1_interval(r.image_per_photo)
        lines.append(f"image-level F1 95% bootstrap interval over photos: {lo:.3f} - {hi:.3f}")
    if r.unpredicted:
        how = "skipped" if r.common_only else "their bibs count as missed"
        lines.append(f"ground-truth photos without a prediction: {len(r.unpredicted)} ({how})")
    if r.unknown:
        lines.append(f"predicted photos not in the ground truth (ignored): {len(r.unknown)}")
    if r.unboxed_gt:
        lines.append(f"ground-truth bibs without a box (box metric leaves them out): {r.unboxed_gt}")
    return "\n".join(lines)
