"""training.refine_zoom: the measurement behind the recognizer's refinement zoom."""

from __future__ import annotations

import numpy as np
import pytest

from bibtagger_gui.core.bib import Bib
from bibtagger_gui.core.recognizer import Recognizer
from tests.test_recognizer import bright_spot_detector, fixed_reader


@pytest.fixture(scope="module")
def rec(tmp_path_factory):
    folder = tmp_path_factory.mktemp("zoom")
    det = bright_spot_detector(folder / "detector.onnx", box=(48.0, 24.0))
    return Recognizer(det, fixed_reader(folder / "reader.onnx", "12"), threads=1)


def test_zoom_ious_peak_where_the_detector_box_fits(rec):
    from training.refine_zoom import summarize, zoom_ious

    # a 48x24 "bib" brightest at its centre (one heatmap peak); the bright-spot detector always
    # answers a 48x24 input-px box, so the box fits when the bib is zoomed to 24 px high, and is
    # half as wide and high (IoU <= 0.25) when it is zoomed to 48 px
    image = np.zeros((600, 800, 3), np.uint8)
    yy, xx = np.mgrid[300:324, 400:448]
    image[300:324, 400:448] = (255 * (1 - 0.1 * np.hypot((xx - 424) / 24, (yy - 312) / 12)))[..., None].astype(np.uint8)
    photo = (image, (Bib("12", (400.0, 300.0, 448.0, 324.0)), Bib("7", None)))
    fit = zoom_ious(rec, [photo], window=128, target_px=24)
    half = zoom_ious(rec, [photo], window=128, target_px=48)
    assert len(fit) == len(half) == 1  # the unboxed bib is skipped
    assert fit[0] > 0.6 and half[0] <= 0.25 + 1e-6
    assert zoom_ious(rec, [photo], window=128, target_px=3) == []  # zoomed crop larger than the photo


def test_summarize_counts_tight_loose_and_missed_boxes():
    from training.refine_zoom import summarize

    s = summarize([0.9, 0.75, 0.3, 0.0])
    assert s == {"n": 4, "mean_iou": 0.4875, "iou_ge_0.7": 0.5, "iou_ge_0.8": 0.25, "missed": 0.5}
    assert summarize([]) == {"n": 0}
