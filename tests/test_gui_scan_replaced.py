"""A photo the folder scan finds replaced by another picture under the same name (``ScanReport.replaced``):
the window says so (status bar, the count under the list, the recognition message after it) and the
photo is back in the Unreviewed list, recognized again."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

pytest.importorskip("PySide6")

from bibtagger_gui.core.bib import Bib  # noqa: E402
from bibtagger_gui.core.review import ReviewFilter  # noqa: E402
from tests.test_gui_support import fixed_predictions, gui_env, make_photos, make_window, wait_idle  # noqa: E402,F401


def test_a_replaced_photo_is_announced_and_listed_as_unreviewed(qtbot, make_window, tmp_path, monkeypatch):
    folder = tmp_path / "race"
    made = make_photos(folder, 3)
    table = {rel: [Bib(number, box, 0.9)] for rel, number, box in made}
    fixed_predictions(monkeypatch, table)
    win = make_window()
    assert win.open_folder(folder)
    wait_idle(qtbot, win)
    pid = win.store.photo_by_path("photo_000.jpg").id
    win.select_photo(pid)
    win.accept_photo()
    assert win.store.photo(pid).reviewed
    win.set_filter(ReviewFilter.UNREVIEWED)
    assert pid not in [it.photo_id for it in win.list_model.items]
    assert win.queue_label.text() == "2 of 3 photos"

    red = np.zeros((240, 320, 3), np.uint8)
    red[:, :, 2] = 255
    cv2.imwrite(str(folder / "photo_000.jpg"), red)  # another picture under the same name
    table["photo_000.jpg"] = [Bib("777", (5.0, 5.0, 50.0, 30.0), 0.8)]
    messages: list[str] = []
    win.statusBar().messageChanged.connect(lambda m: messages.append(m) if m else None)
    assert win.open_folder(folder)
    wait_idle(qtbot, win)

    said = [m for m in messages if "replaced by another picture" in m]
    assert said and said[0].startswith("1 photo(s) replaced by another picture under the same name") and said[0].endswith(": photo_000.jpg")
    assert win.queue_label.text() == "3 of 3 photos · 1 replaced"
    assert "photo_000.jpg: replaced by another picture" in win.queue_label.toolTip()
    assert "1 photo(s) replaced by another picture" in win.statusBar().currentMessage()  # the recognition message keeps it
    # back in the Unreviewed list, with the new picture's predictions
    assert win.filter is ReviewFilter.UNREVIEWED
    listed = {it.photo_id: it for it in win.list_model.items}
    assert pid in listed and not listed[pid].photo.reviewed
    # the accepted (human) bib stays for the new review, beside the new picture's prediction
    assert sorted((b.number, b.source) for b in listed[pid].bibs) == [("100", "human"), ("777", "model")]
    # a later scan that finds nothing replaced says nothing more
    assert win.open_folder(folder)
    wait_idle(qtbot, win)
    assert win.scan_replaced == [] and "replaced" not in win.queue_label.text()
