"""What a reviewed photo teaches a fine-tune: one label per bib (docs/training.md#one-label-per-bib).

A reviewed photo can hold the same bib several times: the model's reading, each MTurk worker's box
(`bibtagger mturk import` adds every answer), and a human copy made by the MTurk dialog's *Correct*
(the worker's own box stays beside it). Accepting the photo confirms them all, and trained on as
they are, one plate would be two or three detector targets and a corrected reading (human 979) would
still be taught with the worker's wrong one (mturk 97) on the same crop.

:func:`training_bibs` keeps one label per bib, trusting a person over a worker over the model:

- a bib that repeats a more trusted one (same number and box IoU >= 0.5) or the same source's
  (two workers who agree) is dropped;
- a bib on the box of a more trusted one with another number is overruled (the reviewer's or the
  worker's number wins over the model's; a human bib over any worker's);
- a model bib whose number a person or a worker has anywhere on the photo is dropped (the rule of
  ``Store.set_model_bibs``);
- a bib without a box whose number a kept bib has is dropped;
- two workers' boxes on one place with different numbers and nothing more trusted there: the photo
  cannot be taught either way, so it is left out (:attr:`Labels.unsettled`), named in the fine-tune's log.

Accept (Enter) turns every bib into a human one; a worker's bib keeps its ``extra`` (assignment, label)
and, while its number is still the worker's, ranks as the worker's (:func:`_rank`). A model reading
confirmed by Accept cannot be told from a typed one and ranks as a person's.

An MTurk bib (source ``mturk``) on a reviewed photo was never confirmed: Accept makes every bib human, so it
came after the review (a later batch imported, a rejection undone). Such a photo is left out and named
(:attr:`TrainingSet.unconfirmed`) until it is accepted again, as new model bibs make a photo unreviewed.

Nothing in the store changes: exports and the review show every bib as it is.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterable, Sequence

from bibtagger_gui.core.bib import iou

#: how much each source is trusted (lower first): a person's bib, a crowd worker's, the model's
RANK = {"human": 0, "mturk": 1, "model": 2}
SAME_PLACE_IOU = 0.5


@dataclass
class Labels:
    """One photo's labels for training: kept bibs, how many were dropped as repeats or overruled, and the
    numbers of workers that disagree on one place (then the photo is left out)."""

    bibs: list[Any]
    repeats: int = 0
    overruled: int = 0
    unsettled: list[tuple[str, str]] = field(default_factory=list)
    unconfirmed: list[str] = field(default_factory=list)  # kept MTurk bibs no Accept confirmed (added after it)


def _rank(bib: Any) -> int:
    """How much a bib is trusted. Accept (Enter) makes every bib of the photo a human one but keeps a worker's
    ``extra``: a human bib that still reads and sits as the worker's answer (its ``label``, ``box``) ranks as
    the worker's, so two workers' different readings confirmed wholesale stay two workers' readings."""
    source = getattr(bib, "source", "human")
    extra = getattr(bib, "extra", None)
    if source == "human" and isinstance(extra, dict) and "assignment_id" in extra \
            and str(extra.get("label", "")).strip() == bib.number:
        return RANK["mturk"]
    return RANK.get(source, len(RANK))


def training_bibs(bibs: Sequence[Any]) -> Labels:
    """The bibs (store ``BibRow``s, or anything with ``number``, ``box``, ``source``) one reviewed photo is
    trained on, in their given order; the rules are the module's."""
    order = sorted(range(len(bibs)), key=lambda i: _rank(bibs[i]))  # stable: store order within a source
    kept: list[int] = []
    labels = Labels([])
    for i in order:
        b = bibs[i]
        drop = None
        for k in kept:
            other = bibs[k]
            same_place = b.box is not None and iou(b.box, other.box) >= SAME_PLACE_IOU
            if b.number == other.number and (same_place or b.box is None or b.source == "model" != other.source):
                drop = "repeats"
                break
            if same_place and b.number != other.number:
                if _rank(other) < _rank(b):
                    drop = "overruled"
                    break
                if _rank(b) == _rank(other) == RANK["mturk"]:
                    labels.unsettled.append((other.number, b.number))
        if drop == "repeats":
            labels.repeats += 1
        elif drop == "overruled":
            labels.overruled += 1
        else:
            kept.append(i)
    labels.bibs = [bibs[i] for i in sorted(kept)]
    labels.unconfirmed = [b.number for b in labels.bibs if getattr(b, "source", "") == "mturk"]
    return labels


@dataclass
class TrainingSet:
    """A store's reviewed photos as bib annotation JSON entries (one label per bib), with what was left out."""

    entries: list[dict]
    repeats: int = 0
    overruled: int = 0
    left_out: list[tuple[str, list[tuple[str, str]]]] = field(default_factory=list)  # (relpath, workers' numbers)
    unconfirmed: list[tuple[str, list[str]]] = field(default_factory=list)  # (relpath, MTurk numbers added after its review)

    def notes(self) -> list[str]:
        """Lines for a log: what the one-label rule did (empty when nothing)."""
        lines = []
        if self.repeats or self.overruled:
            lines.append(f"one label per bib: {self.repeats} repeated bib(s) (the model's, MTurk workers') merged, "
                         f"{self.overruled} overruled by a more trusted bib on the same box")
        for relpath, numbers in self.unconfirmed:
            lines.append(f"{relpath}: left out: MTurk box(es) {', '.join(numbers)} came after the photo was reviewed "
                         "(a later batch, a rejection undone) and nobody confirmed them; look at it and accept it again (Enter)")
        for relpath, pairs in self.left_out:
            said = ", ".join(f"{a} vs {b}" for a, b in pairs)
            lines.append(f"{relpath}: left out: MTurk workers read one bib differently ({said}) and no bib of yours "
                         "settles it; fix the number in the app (a bib you type wins)")
        return lines


def training_set(store: Any, photos: Iterable[Any] | None = None) -> TrainingSet:
    """The reviewed photos of ``store`` (with a known size) as training entries, ``{"image", "width",
    "height", "bibs"}``, each photo's bibs by :func:`training_bibs`."""
    bibs = store.all_bibs()
    out = TrainingSet([])
    for p in store.photos("reviewed") if photos is None else photos:
        if p.width is None or p.height is None:
            continue
        labels = training_bibs(bibs.get(p.id, []))
        out.repeats += labels.repeats
        out.overruled += labels.overruled
        if labels.unsettled:
            out.left_out.append((p.relpath, labels.unsettled))
            continue
        if labels.unconfirmed:
            out.unconfirmed.append((p.relpath, labels.unconfirmed))
            continue
        out.entries.append({"image": p.relpath, "width": p.width, "height": p.height,
                            "bibs": [b.to_bib().to_json() for b in labels.bibs], "reviewed": True})
    return out


def unreviewed_crowd_photos(store: Any) -> int:
    """How many unreviewed photos hold an MTurk worker's box: none of them is trained on, since a verdict in
    the MTurk review judges the worker's answer, not the photo (docs/mturk.md#from-verdicts-to-training-data)."""
    bibs = store.all_bibs()
    return sum(any(b.source == "mturk" for b in bibs.get(p.id, [])) for p in store.photos("unreviewed"))


def crowd_note(count: int) -> str:
    """The line that says why photos with MTurk boxes are not trained on yet, and what to do ("" for none)."""
    if not count:
        return ""
    return (f"{count} photo(s) with MTurk workers' boxes are not reviewed, so not trained on: an MTurk verdict "
            "judges the worker's answer, not the photo; accept each photo in the main window (Enter) once its "
            "bibs are right")
