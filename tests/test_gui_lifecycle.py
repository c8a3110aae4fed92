"""The window's lifecycle around long jobs: a keyword write while another folder opens or the window
closes, and thumbnails of a photo replaced between two openings."""

from __future__ import annotations

import shutil

import cv2
import numpy as np
import pytest

from bibtagger_gui.core.bib import Bib
from bibtagger_gui.core.catalogue import content_hash
from bibtagger_gui.core.keywords import KeywordOptions, jobs_from_store
from tests.test_gui_support import fixed_predictions, gui_env, make_photos, make_window, wait_idle  # noqa: F401

N = 12

pytestmark = pytest.mark.skipif(shutil.which("exiftool") is None, reason="exiftool writes the keywords")


def _two_shoots(tmp_path, monkeypatch):
    for name in ("A", "B"):
        make_photos(tmp_path / name, N, seed=1 if name == "A" else 2)  # same file names, other pictures
    fixed_predictions(monkeypatch, {f"photo_{i:03d}.jpg": [Bib(str(100 + i), (10, 10, 60, 40), 0.9)] for i in range(N)})
    return tmp_path / "A", tmp_path / "B"


def _stale(store) -> list[str]:
    return [p.relpath for p in store.photos() if p.sha1 != content_hash(store.path(p))]


def test_a_keyword_write_refreshes_its_own_project_even_after_another_folder_opened(qtbot, make_window, tmp_path, monkeypatch):
    a, b = _two_shoots(tmp_path, monkeypatch)
    win = make_window()
    win.open_folder(b)
    wait_idle(qtbot, win)
    win.open_folder(a)
    wait_idle(qtbot, win)
    ctl = win.keywords_controller
    ctl.interactive = False
    with qtbot.waitSignal(ctl.finished, timeout=60_000) as done:
        ctl.start(jobs_from_store(win.store), KeywordOptions())
        win.open_folder(b)  # before the write's result is handled
    assert done.args[0].count("written") == N
    assert _stale(win.store) == []  # B's store was not touched with A's files
    from bibtagger_gui.core.store import Store

    with Store.open(a) as store_a:
        assert _stale(store_a) == []  # A's stored hashes follow its rewritten files


def test_closing_the_window_during_a_keyword_write_waits_for_it(qtbot, make_window, tmp_path, monkeypatch):
    a, _ = _two_shoots(tmp_path, monkeypatch)
    win = make_window()
    win.open_folder(a)
    wait_idle(qtbot, win)
    ctl = win.keywords_controller
    ctl.interactive = False
    worker = ctl.start(jobs_from_store(win.store), KeywordOptions())
    assert worker.isRunning()
    win.close()  # destroying a running QThread would abort the app
    assert not worker.isRunning()


def test_a_photo_replaced_between_two_openings_shows_its_new_thumbnail(qtbot, make_window, tmp_path, monkeypatch):
    a, _ = _two_shoots(tmp_path, monkeypatch)
    win = make_window()
    win.open_folder(a)
    wait_idle(qtbot, win)
    pid = win.store.photo_by_path("photo_000.jpg").id
    win.thumbnails.request(win.store.photo(pid))
    qtbot.waitUntil(lambda: win.thumbnails.cached(pid) is not None, timeout=10_000)
    win.close_folder()
    red = np.zeros((240, 320, 3), np.uint8)
    red[:, :, 2] = 255
    cv2.imwrite(str(a / "photo_000.jpg"), red)  # another picture under the same name
    win.open_folder(a)
    wait_idle(qtbot, win)
    win.thumbnails.request(win.store.photo(pid))
    qtbot.waitUntil(lambda: win.thumbnails.cached(pid) is not None, timeout=10_000)
    image = win.thumbnails.cached(pid).toImage()
    centre = image.pixelColor(image.width() // 2, image.height() // 2)
    assert (centre.red(), centre.green(), centre.blue()) > (200, -1, -1) and centre.green() < 60, centre.name()


def test_the_mturk_dialog_closes_with_its_folder(qtbot, make_window, tmp_path, monkeypatch):
    from tests.test_mturk import answer, row, write_csv

    a, b = _two_shoots(tmp_path, monkeypatch)
    src = write_csv(tmp_path / "batch.csv", [row("A1", "photo_000.jpg", answer((10, 10, 50, 30, "100")), worker="W1")])
    win = make_window()
    win.open_folder(a)
    wait_idle(qtbot, win)
    dialog = win.mturk_controller.open_batch(src)
    assert dialog.isVisible()
    win.open_folder(b)  # the dialog worked on A's store, closed now: it must not stay and act on it
    wait_idle(qtbot, win)
    import shiboken6

    assert win.mturk_controller.dialog is None and not shiboken6.isValid(dialog)  # closed and deleted
    assert [b.source for b in win.store.bibs(win.store.photo_by_path("photo_000.jpg").id)] == ["model"]


def test_closing_the_window_during_an_export_finishes_it_cleanly(qtbot, make_window, tmp_path, monkeypatch):
    import time

    from bibtagger_gui.core import exporters
    from bibtagger_gui.gui.export_action import ExportRequest

    a, _ = _two_shoots(tmp_path, monkeypatch)
    win = make_window()
    win.open_folder(a)
    wait_idle(qtbot, win)
    load = exporters.load_image
    monkeypatch.setattr(exporters, "load_image", lambda *args, **kw: time.sleep(0.05) or load(*args, **kw))  # big photos
    ctl = win.export_controller
    ctl.interactive = False
    out = tmp_path / "crops"
    job = ctl.start("crops", ExportRequest(out))
    assert job.thread.is_alive()
    win.close()
    assert not job.thread.is_alive()
    assert (out / "labels.csv").is_file()  # a cancelled export still lists what it wrote
