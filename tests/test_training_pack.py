"""`python -m training pack`: the folder a training run on another machine reads."""

from __future__ import annotations

import json

import numpy as np
import pytest

from training.data import entries_from_annotations, load_entries, split, split_of
from training.reader_data import eval_crop, load_real_bibs
from tests.test_training_reader import make_photo_set


@pytest.fixture
def dev_set(tmp_path):
    """A small dev set whose split has train and val photos, plus one unreadable photo."""
    folder = tmp_path / "dev"
    items = make_photo_set(folder, 12, seed=3)
    assert {split_of(i["image"]) for i in items} == {"train", "val"}
    broken = next(i for i in items if split_of(i["image"]) == "val")
    (folder / broken["image"]).write_bytes(b"not a jpeg")
    (folder / "annotations.json").write_text(json.dumps(items))
    return folder, items, broken["image"]


def test_pack_keeps_train_photos_and_val_crops_and_reports_bad_photos(dev_set, tmp_path):
    from training.__main__ import main
    from training.fonts import find_fonts, find_text_fonts

    folder, items, broken = dev_set
    out = tmp_path / "carry"
    assert main(["pack", "--data", str(folder / "annotations.json"), "--out", str(out)]) == 0

    packed = load_entries(out / "annotations.json")
    assert [e.image for e in packed] == [i["image"] for i in items]
    train, val = split(packed)
    for e in train:  # byte for byte
        assert (out / e.image).read_bytes() == (folder / e.image).read_bytes()
    assert not (out / broken).exists()  # reported and left out; the rest is packed
    orig_val = [e for e in split(entries_from_annotations(items, folder))[1] if e.image != broken]
    new_val = [e for e in val if e.image != broken]
    assert len(new_val) == len(orig_val) >= 1
    for a, b in zip(load_real_bibs(orig_val), load_real_bibs(new_val)):
        for pad_size in ((32, 128), (48, 192)):
            assert np.array_equal(eval_crop(a, pad_size), eval_crop(b, pad_size))  # the val crops are unchanged
        assert (out / b.source).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert (b.image == 128).all(axis=2).mean() > 0.3  # most of the photo is painted grey
        assert not (a.image == 128).all(axis=2).mean() > 0.3
    fonts = {f.name for f in set(find_fonts()) | set(find_text_fonts())}
    assert fonts and {f.name for f in (out / "fonts").iterdir()} == fonts  # what the generator uses here


def test_pack_refuses_a_missing_annotation_file(tmp_path, capsys):
    from training.__main__ import main

    assert main(["pack", "--data", str(tmp_path / "none.json"), "--out", str(tmp_path / "o")]) == 2
    assert "no such annotation file" in capsys.readouterr().err
