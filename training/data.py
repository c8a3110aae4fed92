"""Readers for the bib annotation JSON and the deterministic train/val split."""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path

from bibtagger_gui.core.bib import Bib

DEFAULT_DEV = Path(os.environ.get("BIBTAGGER_SHARED", Path(__file__).resolve().parents[2] / "shared")) / "datasets" / "rbnr_dev"


@dataclass(frozen=True)
class Entry:
    """One annotated photo: absolute path, size and ground-truth bibs."""

    path: Path
    image: str
    width: int
    height: int
    bibs: tuple[Bib, ...]


def load_entries(json_path: Path, root: Path | None = None) -> list[Entry]:
    """Read a bib annotation JSON; image paths are resolved against `root` (default: the JSON's folder)."""
    json_path = Path(json_path)
    root = Path(root) if root is not None else json_path.parent
    data = json.loads(json_path.read_text(encoding="utf-8"))
    return entries_from_annotations(data, root)


# Label slips documented in shared/datasets/README.md: (image, labelled number) -> printed number.
# Applied on read so training never learns them; models trained before this (2026-11-24 v1) saw them.
LABEL_FIXES: dict[tuple[str, str], str] = {
    ("set2/set2_31.JPG", "80653"): "80635",
    ("set2/set2_50.JPG", "891"): "0891",
}


# Bibs the dev annotations miss ("labelling is not exhaustive", shared/datasets/README.md): a
# model-assisted audit on 2026-11-24 (docs/training.md#label-audit). Every val photo was checked by eye;
# in train photos, the recognizer's unlabelled detections were checked by eye. `legible` bibs show
# every digit; the others (number starting with "?") are partly hidden or cut off: still bib regions
# for the detector, never reader targets nor scored. Boxes come from the recognizer, checked by eye.
LABEL_AUDIT = Path(__file__).resolve().parent / "label_audit.json"


def audit_additions(path: Path | None = LABEL_AUDIT, legible_only: bool = True) -> dict[str, tuple[Bib, ...]]:
    """image relpath -> bibs the annotations miss, from a label-audit JSON (bib annotation items, flat)."""
    if path is None:
        return {}
    out: dict[str, tuple[Bib, ...]] = {}
    for item in json.loads(Path(path).read_text(encoding="utf-8")):
        if legible_only and not item.get("legible", False):
            continue
        out[item["image"]] = out.get(item["image"], ()) + (Bib(str(item["number"]), tuple(item["box"])),)  # type: ignore[arg-type]
    return out


def audited(entries: list[Entry], path: Path | None = LABEL_AUDIT, legible_only: bool = True) -> list[Entry]:
    """Entries with the audit's missing bibs added (numbers already labelled on a photo are not repeated)."""
    extra_of = audit_additions(path, legible_only)
    out = []
    for e in entries:
        known = {x.number for x in e.bibs}
        extra = tuple(b for b in extra_of.get(e.image, ()) if b.number not in known)
        out.append(Entry(e.path, e.image, e.width, e.height, e.bibs + extra) if extra else e)
    return out


def label_audit_path(option: str, data: Path) -> Path | None:
    """The audit file a `--label-audit` option names: "auto" = the bundled one when `data` is the
    rbnr_dev annotations it was made for (else none), "none" = none, anything else = that path."""
    if option == "none":
        return None
    if option != "auto":
        return Path(option)
    try:
        same = Path(data).resolve() == (DEFAULT_DEV / "annotations.json").resolve()
    except OSError:
        same = False
    return LABEL_AUDIT if same else None


def _fixed(image: str, bib: Bib) -> Bib:
    number = LABEL_FIXES.get((image, bib.number))
    return Bib(number, bib.box, bib.confidence) if number else bib


def entries_from_annotations(data: list[dict], root: Path) -> list[Entry]:
    """Entries from already-parsed bib annotation JSON items (known label slips fixed); paths under `root`."""
    root = Path(root)
    out = []
    for item in data:
        bibs = tuple(_fixed(item["image"], Bib.from_json(b)) for b in item.get("bibs", []))
        out.append(Entry(root / item["image"], item["image"], int(item["width"]), int(item["height"]), bibs))
    return out


def entries_from_store(folder: Path, notes: list[str] | None = None) -> list[Entry]:
    """Reviewed photos of an app store (the user's corrections) as entries, paths under the photo folder, one
    label per bib (core.training_labels: the model's and MTurk workers' repeats of a bib merged); ``notes``
    gets the lines saying what that rule merged or left out."""
    from bibtagger_gui.core.store import Store
    from bibtagger_gui.core.training_labels import crowd_note, training_set, unreviewed_crowd_photos

    with Store.open(Path(folder)) as store:
        found = training_set(store)
        if notes is not None:
            notes += found.notes() + [line for line in [crowd_note(unreviewed_crowd_photos(store))] if line]
        return entries_from_annotations(found.entries, Path(store.folder))


def split_of(image: str, val_fraction: float = 0.2) -> str:
    """'train' or 'val' for an image relpath, stable across runs and machines (hash of the name)."""
    h = int(hashlib.sha1(image.encode("utf-8")).hexdigest()[:8], 16) / 0xFFFFFFFF
    return "val" if h < val_fraction else "train"


def split(entries: list[Entry], val_fraction: float = 0.2) -> tuple[list[Entry], list[Entry]]:
    """Deterministic train/val split by image name hash."""
    train = [e for e in entries if split_of(e.image, val_fraction) == "train"]
    val = [e for e in entries if split_of(e.image, val_fraction) == "val"]
    return train, val


def data_hash(entries: list[Entry]) -> str:
    """Short hash of the training data (names + labels) embedded in exported models."""
    h = hashlib.sha1()
    for e in sorted(entries, key=lambda e: e.image):
        h.update(e.image.encode())
        for b in e.bibs:
            h.update(f"{b.number}{b.box}".encode())
    return h.hexdigest()[:12]
