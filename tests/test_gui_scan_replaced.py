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


def test_showing_a_photo_keeps_its_print_where_an_old_store_has_none(qtbot, make_window, tmp_path):
    """A store from before schema 4 (every photo recognized, so no recognition job runs to fill prints): the photo
    view's decode gives each photo shown its decoded-pixel print, the same picture as file_print's; a photo that
    has a print keeps it (a re-encode's kept print is never replaced)."""
    from bibtagger_gui.core.pixelprint import file_print, same_picture
    from bibtagger_gui.core.store import Store

    folder = tmp_path / "race"
    made = make_photos(folder, 3)
    old_print = bytes(32 * 32)  # a print kept from an earlier version of photo 1's file
    with Store.open(folder) as store:
        store.scan()
        ids = [store.photo_by_path(rel).id for rel, _, _ in made]
        for pid, (_rel, number, box) in zip(ids, made):
            store.set_model_bibs(pid, [Bib(number, box, 0.9)], "det:old+read:old")  # recognized before prints existed
        store.set_reviewed(ids[0], True)
        store.set_pixel_print(ids[1], old_print)
        assert store.pixel_print(ids[0]) is None and store.pixel_print(ids[2]) is None
    win = make_window()
    assert win.open_folder(folder)
    wait_idle(qtbot, win)
    assert win.store.pixel_print(ids[0]) is None  # nothing decoded photos for prints on opening
    for pid in ids[:2]:
        win.select_photo(pid)
        qtbot.waitUntil(lambda: win.photo_view.image_loaded, timeout=10000)
    kept = win.store.pixel_print(ids[0])
    assert kept is not None and same_picture(kept, file_print(folder / made[0][0]))
    assert win.store.pixel_print(ids[1]) == old_print
    assert win.store.pixel_print(ids[2]) is None  # never shown
