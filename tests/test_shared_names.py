"""A shoot from two camera bodies and several cards: the same file name in several subfolders
(``card1/IMG_0001.JPG``, ``card2/IMG_0001.JPG``), names that differ only in case on a case-sensitive
disk, and one card copied twice. Every place that matches or writes photos by name must keep them
apart, or refuse and say why (docs/imports.md, docs/mturk.md, docs/exports.md, docs/store.md)."""

from __future__ import annotations

import csv
import json
import os
import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest

from bibtagger_gui.cli import main
from bibtagger_gui.core import mturk
from bibtagger_gui.core.name_match import by_folders, list_labels
from bibtagger_gui.core.store import Store


@pytest.fixture(autouse=True)
def _store_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("BIBTAGGER_STORE_DIR", str(tmp_path / "stores"))


def photo(path: Path, seed: int, w: int = 160, h: int = 120) -> Path:
    """A real JPEG of its own content (seed): two seeds are two different pictures."""
    path.parent.mkdir(parents=True, exist_ok=True)
    img = (np.random.default_rng(seed).random((h, w, 3)) * 255).astype(np.uint8)
    assert cv2.imwrite(str(path), img)
    return path


def scanned(folder: Path) -> Store:
    store = Store.open(folder)
    store.scan()
    return store


def numbers(store: Store, rel: str) -> list[str]:
    return sorted(b.number for b in store.bibs(store.photo_by_path(rel).id))


# --------------------------------------------------------------------------- annotation JSON import, --photos


def test_import_never_puts_an_entry_on_a_photo_another_entry_names_exactly(tmp_path, capsys):
    """predict --json on the whole shoot, imported on a laptop that holds card2 only: card1's entry
    must not land on card2's photo by the shared file name (it did, being first in the file, and card2's
    own entry was then skipped as "same photo")."""
    laptop = tmp_path / "laptop"
    photo(laptop / "card2" / "IMG_0001.JPG", 2)
    entries = [{"image": "card1/IMG_0001.JPG", "width": 160, "height": 120, "bibs": [{"number": "11", "box": None}]},
               {"image": "card2/IMG_0001.JPG", "width": 160, "height": 120, "bibs": [{"number": "22", "box": None}]}]  # fmt: skip
    src = tmp_path / "all.json"
    src.write_text(json.dumps(entries), encoding="utf-8")
    assert main(["import", str(laptop), str(src)]) == 0
    err = capsys.readouterr().err
    assert "card1/IMG_0001.JPG: no such photo in the folder" in err
    with Store.open(laptop) as store:
        assert numbers(store, "card2/IMG_0001.JPG") == ["22"]
    # a photo list made on the server: the listed card2 path is card2's photo, card1's line names none
    listing = tmp_path / "list.txt"
    listing.write_text("card1/IMG_0001.JPG\ncard2/IMG_0001.JPG\n", encoding="utf-8")
    assert main(["export", str(laptop), "--format", "csv", "--photos", str(listing)]) == 1
    assert "card1/IMG_0001.JPG" in capsys.readouterr().err


def test_import_tells_names_apart_by_case_and_names_a_guess_across_folders(tmp_path, capsys):
    """IMG_0002.JPG and img_0002.jpg of one folder (a case-sensitive disk): an entry from another layout
    goes to the one spelled as it is. A match on the file name alone into another folder is named on
    stderr, not only counted."""
    folder = tmp_path / "shoot"
    photo(folder / "IMG_0002.JPG", 1)
    photo(folder / "img_0002.jpg", 2)
    photo(folder / "card1" / "IMG_0003.JPG", 3)
    assert by_folders("usb/img_0002.jpg", ["IMG_0002.JPG", "img_0002.jpg"]) == "img_0002.jpg"
    assert by_folders("usb/IMG_0001.JPG", ["card1/IMG_0001.JPG", "card2/IMG_0001.JPG"]) is None
    entries = [{"image": "usb/img_0002.jpg", "width": 160, "height": 120, "bibs": [{"number": "7", "box": None}]},
               {"image": "usb/IMG_0003.JPG", "width": 160, "height": 120, "bibs": [{"number": "8", "box": None}]}]  # fmt: skip
    src = tmp_path / "v.json"
    src.write_text(json.dumps(entries), encoding="utf-8")
    assert main(["import", str(folder), str(src)]) == 0
    err = capsys.readouterr().err
    assert "usb/IMG_0003.JPG: note: matched by file name to card1/IMG_0003.JPG" in err
    with Store.open(folder) as store:
        assert numbers(store, "img_0002.jpg") == ["7"] and numbers(store, "IMG_0002.JPG") == []
        assert numbers(store, "card1/IMG_0003.JPG") == ["8"]


