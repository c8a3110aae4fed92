"""Synthetic bib renderer: shapes, ranges, digit boxes, compositing, fonts."""

from __future__ import annotations

import numpy as np
import pytest

from training.fonts import FontError, find_fonts
from training.models.reader import CHARSET
from training.reader_data import SIZE, synth_sample
from training.synth_bibs import cut_real_bib, degrade, paste_bib, random_background, random_number, render_bib


def test_fonts_found_and_clear_error_when_missing(tmp_path):
    fonts = find_fonts()
    assert fonts and all(p.suffix.lower() in (".ttf", ".otf") and p.is_file() for p in fonts)
    with pytest.raises(FontError, match="make sysdeps"):
        find_fonts((str(tmp_path),))


def test_random_number_shape_and_determinism():
    rng = np.random.default_rng(1)
    numbers = [random_number(rng) for _ in range(400)]
    for n in numbers:
        assert 1 <= len(n) <= 6 and all(c in CHARSET for c in n)
        assert n[1:].isdigit() or len(n) == 1
    assert any(n[0].isalpha() for n in numbers) and any(len(n) == 6 for n in numbers)
    again = np.random.default_rng(1)
    assert [random_number(again) for _ in range(400)] == numbers


@pytest.mark.parametrize("seed", range(6))
def test_render_bib_plate_and_digit_box(seed):
    rng = np.random.default_rng(seed)
    plate, number, (x1, y1, x2, y2) = render_bib(rng, "A123" if seed == 0 else None)
    if seed == 0:
        assert number == "A123"
    assert plate.dtype == np.uint8 and plate.ndim == 3 and plate.shape[2] == 4
    h, w = plate.shape[:2]
    assert 0 <= x1 < x2 <= w and 0 <= y1 < y2 <= h
    assert (x2 - x1) >= 4 and (y2 - y1) >= 4
    alpha = plate[..., 3]
    assert alpha[(y1 + y2) // 2, (x1 + x2) // 2] > 0  # the number sits on the plate
    assert alpha.max() == 255 and (alpha > 0).mean() > 0.4
    grey = plate[y1:y2, x1:x2, :3].astype(float).mean(2)
    assert grey.std() > 15  # ink on paper, not a flat patch


def test_paste_bib_maps_digit_box_and_keeps_input():
    rng = np.random.default_rng(3)
    plate, _, box = render_bib(rng, "4821")
    image = np.full((400, 600, 3), 30, np.uint8)
    out, ibox = paste_bib(rng, image, plate, box, 50, 60, scale=0.5)
    assert (image == 30).all()
    assert ibox == pytest.approx((50 + box[0] * 0.5, 60 + box[1] * 0.5, 50 + box[2] * 0.5, 60 + box[3] * 0.5))
    ph, pw = round(plate.shape[0] * 0.5), round(plate.shape[1] * 0.5)
    assert (out[:60] == 30).all() and (out[:, :50] == 30).all() and (out[60 + ph + 1 :] == 30).all()
    assert (out[60 : 60 + ph, 50 : 50 + pw] != 30).any()
    # partly outside the image: clipped box, no crash
    out2, ibox2 = paste_bib(rng, image, plate, box, 560, 380, scale=1.0)
    assert 0 <= ibox2[0] <= ibox2[2] <= 600 and 0 <= ibox2[1] <= ibox2[3] <= 400


def test_cut_real_bib_box_maps_back():
    rng = np.random.default_rng(0)
    image = rng.integers(0, 255, (200, 300, 3), dtype=np.uint8)
    rgba, (x1, y1, x2, y2) = cut_real_bib(image, (100, 80, 160, 110), rng)
    assert rgba.shape[2] == 4 and (rgba[..., 3] == 255).all()
    assert 0 <= x1 < x2 <= rgba.shape[1] and 0 <= y1 < y2 <= rgba.shape[0]
    assert (x2 - x1, y2 - y1) == (60, 30)


def test_degrade_and_background_shapes():
    rng = np.random.default_rng(0)
    img = random_background(rng, 50, 80)
    assert img.shape == (50, 80, 3) and img.dtype == np.uint8
    photo = rng.integers(0, 255, (300, 400, 3), dtype=np.uint8)
    assert random_background(rng, 40, 90, [photo]).shape == (40, 90, 3)
    for _ in range(10):
        out = degrade(rng, img)
        assert out.shape == img.shape and out.dtype == np.uint8


def test_synth_sample_is_a_reader_crop():
    rng = np.random.default_rng(0)
    crop, number = synth_sample(rng)
    assert crop.shape == SIZE and crop.dtype == np.float32
    assert 0.0 <= crop.min() and crop.max() <= 1.0 and crop.std() > 0.02
    assert number and all(c in CHARSET for c in number)


def test_squeeze_narrows_the_printed_number():
    """Same draws, squeeze 0.5 vs 1.0: the digit box (no warps at strength 0) is about half as wide."""
    boxes = {}
    for k in (0.5, 1.0):
        _, number, (x1, y1, x2, y2) = render_bib(np.random.default_rng(4), "60452", strength=0.0, squeeze=(k, k))
        boxes[k] = (x2 - x1, y2 - y1)
    assert boxes[0.5][1] == boxes[1.0][1]
    assert boxes[0.5][0] / boxes[1.0][0] == pytest.approx(0.5, abs=0.03)


def test_real_crop_squeeze_scales_the_box_horizontally_only():
    from training.reader_data import _affine_region

    image = np.random.default_rng(0).integers(0, 255, (200, 300, 3), np.uint8)
    box = (100.0, 80.0, 180.0, 120.0)
    plain = _affine_region(np.random.default_rng(5), image, box, 0.0)[1]
    narrow = _affine_region(np.random.default_rng(5), image, box, 0.0, (0.6, 0.6))[1]
    w = lambda b: b[2] - b[0]  # noqa: E731
    assert w(narrow) / w(plain) == pytest.approx(0.6, rel=1e-4)
    assert narrow[3] - narrow[1] == pytest.approx(plain[3] - plain[1], rel=1e-4)
    assert (narrow[0] + narrow[2]) / 2 == pytest.approx((plain[0] + plain[2]) / 2, abs=1e-3)  # about the centre


def test_squeeze_range_matches_the_real_digit_widths(rbnr_dev):
    """docs/synthetic-data.md#narrow-digits: the first range draws numbers wider than the dev train
    bibs; 0.5-1.0 brings the median width per character to theirs."""
    from training.data import load_entries, split

    train, _ = split(load_entries(rbnr_dev / "annotations.json"))
    real = np.median([(b.box[2] - b.box[0]) / ((b.box[3] - b.box[1]) * len(b.number)) for e in train for b in e.bibs if b.box])

    def synthetic(squeeze):
        rng = np.random.default_rng(0)
        widths = []
        for _ in range(150):
            _, number, (x1, y1, x2, y2) = render_bib(rng, squeeze=squeeze)
            widths.append((x2 - x1) / ((y2 - y1) * len(number)))
        return np.median(widths)

    assert synthetic((0.75, 1.15)) > real * 1.15
    assert synthetic((0.5, 1.0)) == pytest.approx(real, rel=0.08)
