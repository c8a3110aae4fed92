"""The photo view's full-resolution detail when zoomed in past its preview (gui/photo_detail.py,
docs/gui.md#zoomed-in-detail): real JPEGs in tmp_path, a real PhotoView offscreen."""

from __future__ import annotations

import gc
import logging
import threading
import weakref
from pathlib import Path
from types import SimpleNamespace

import cv2
import numpy as np
import pytest

from bibtagger_gui.core.demo import write_jpeg
from bibtagger_gui.core.imageio import load_image, scaled_decode_side
from bibtagger_gui.gui import photo_detail
from bibtagger_gui.gui.photo_detail import MARGIN, held_factor
from bibtagger_gui.gui.photo_view import PhotoView, preview_side
from tests.test_gui_support import fixed_predictions, gui_env, make_window  # noqa: F401 - fixtures


def fine_photo(path: Path, size: tuple[int, int] = (4000, 3000), seed: int = 0, orientation: int = 1) -> np.ndarray:
    """A ``size`` (oriented W x H) JPEG of fine detail a preview (at most 2560 px) cannot hold: a smooth gradient
    under 1-2 px random dots and rows of small digits. Returns the oriented pixels as written."""
    w, h = size
    rng = np.random.default_rng(seed)
    ramp = np.linspace(60, 190, w, dtype=np.float32)[None, :, None]
    img = np.broadcast_to(ramp, (h, w, 3)).astype(np.uint8).copy()
    dots = rng.random((h // 2, w // 2)) < 0.25
    img[np.kron(dots, np.ones((2, 2), bool))[:h, :w]] = (15, 15, 15)
    for y in range(40, h, 90):
        cv2.putText(img, "".join(str(d) for d in rng.integers(0, 10, 120)), (10, y), cv2.FONT_HERSHEY_PLAIN, 0.8, (255, 255, 255), 1)
    write_jpeg(path, img, orientation=orientation, quality=95)  # (stored turned back, EXIF says how to show it)
    return img


def photo(relpath: str, w: int, h: int) -> SimpleNamespace:
    return SimpleNamespace(width=w, height=h, error=None, relpath=relpath)


@pytest.fixture
def view(qtbot):
    v = PhotoView()
    qtbot.addWidget(v)
    v.resize(640, 440)
    v.show()
    qtbot.waitExposed(v)
    yield v
    v.detail.pool.clear()
    v.detail.pool.wait_for_done(10)
    v.pool.wait_for_done(10)


def shown(qtbot, view, p, folder) -> None:
    view.set_photo(p, folder)
    qtbot.waitUntil(lambda: view.image_loaded, timeout=10000)


def detail_shown(qtbot, view) -> None:
    qtbot.waitUntil(lambda: view.detail.item is not None, timeout=15000)
    qtbot.waitUntil(lambda: view.detail.pool.active == 0 and view.detail.pool.pending == 0, timeout=15000)


def grab(view) -> np.ndarray:
    """The viewport as rendered, RGB (offscreen: device pixel ratio 1)."""
    from PySide6.QtGui import QImage

    img = view.viewport().grab().toImage().convertToFormat(QImage.Format.Format_RGB888)
    a = np.frombuffer(img.constBits(), np.uint8).reshape(img.height(), img.bytesPerLine())
    return a[:, : 3 * img.width()].reshape(img.height(), img.width(), 3).copy()


def sharpness(rgb: np.ndarray) -> float:
    """Variance of the Laplacian of the grey image: high for crisp dots and digits, low for blur."""
    return float(cv2.Laplacian(cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY), cv2.CV_64F).var())


def mad(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(a.astype(np.int16) - b.astype(np.int16)).mean())


def test_zoomed_in_past_the_preview_the_view_shows_the_files_full_detail(qtbot, view, tmp_path):
    """At 1:1 on a 4000x3000 photo the preview (2000 px for this 640 px view: libjpeg's 1/2) is scaled up 2x
    (blurred dots and digits); the viewport must show the file's own pixels."""
    fine_photo(tmp_path / "fine.jpg")
    full = load_image(tmp_path / "fine.jpg")
    shown(qtbot, view, photo("fine.jpg", 4000, 3000), tmp_path)
    assert view.preview_scale() == pytest.approx(scaled_decode_side(4000, preview_side(640)) / 4000)
    view.zoom_by(1.0 / view.zoom_level())  # 1:1, one photo pixel per screen pixel
    assert view.zoom_level() == pytest.approx(1.0)
    detail_shown(qtbot, view)
    sharp = grab(view)
    view.detail.item.setVisible(False)  # what the view showed before: the preview alone
    blurred = grab(view)
    view.detail.item.setVisible(True)

    # the file's pixels under the viewport (found to the pixel: the view's translation is not an integer)
    tl = view.mapToScene(0, 0)
    h, w = sharp.shape[:2]
    best = min(
        (mad(sharp[8:-8, 8:-8], full[y + 8 : y + h - 8, x + 8 : x + w - 8]), x, y)
        for x in range(int(tl.x()) - 1, int(tl.x()) + 2) for y in range(int(tl.y()) - 1, int(tl.y()) + 2)
    )
    truth = full[best[2] : best[2] + h, best[1] : best[1] + w]
    assert best[0] < 4, best  # the file's own pixels (JPEG-identical decode), not an upscaled preview
    assert mad(blurred[8:-8, 8:-8], truth[8:-8, 8:-8]) > 3 * best[0] + 10
    assert sharpness(sharp) > 0.8 * sharpness(truth)
    assert sharpness(sharp) > 2.5 * sharpness(blurred), (sharpness(sharp), sharpness(blurred))
    # the piece shown is the screen's resolution around what is visible, not the whole 12 MP decode
    pix = view.detail.item.pixmap()
    assert pix.width() * pix.height() <= (1 + 2 * MARGIN) ** 2 * w * h * 1.05


def test_a_pan_or_a_further_zoom_gets_a_new_piece_and_fit_drops_it(qtbot, view, tmp_path):
    fine_photo(tmp_path / "fine.jpg")
    full = load_image(tmp_path / "fine.jpg")
    shown(qtbot, view, photo("fine.jpg", 4000, 3000), tmp_path)
    view.zoom_by(1.0 / view.zoom_level())
    detail_shown(qtbot, view)
    first = view.detail.item
    view.horizontalScrollBar().setValue(view.horizontalScrollBar().value() + 1500)  # far past the margin
    qtbot.waitUntil(lambda: view.detail.item is not None and view.detail.item is not first, timeout=10000)
    visible = view.mapToScene(view.viewport().rect()).boundingRect()
    assert view.detail.item.sceneBoundingRect().contains(visible)
    view.fit()
    qtbot.waitUntil(lambda: view.detail.item is None, timeout=5000)
    assert view.detail.source is not None and view.detail.source.shape == full.shape  # kept for this photo


def test_an_exif_rotated_photos_detail_lies_under_its_boxes(qtbot, view, tmp_path):
    """Orientation 6: stored 4000x3000, shown 3000x4000. The detail must be the oriented decode, in the
    scene's frame: the box's pixels in the piece are the file's pixels under that box."""
    oriented = fine_photo(tmp_path / "rot.jpg", size=(3000, 4000), orientation=6)
    full = load_image(tmp_path / "rot.jpg")
    assert full.shape == oriented.shape == (4000, 3000, 3)
    box = (2200.0, 3100.0, 2320.0, 3160.0)  # far from the centre: a wrong turn or flip shows other pixels
    shown(qtbot, view, photo("rot.jpg", 3000, 4000), tmp_path)
    view.set_bibs([SimpleNamespace(id=1, box=box, number="7", source="human", confidence=None)], 1)
    view.zoom_to_box(box)
    detail_shown(qtbot, view)
    item = view.detail.item
    assert view.box_items()[0].rect().getCoords() == box  # boxes unchanged, in full-resolution scene pixels
    inv = item.sceneTransform().inverted()[0]
    r = inv.mapRect(view.box_items()[0].rect())
    img = item.pixmap().toImage()
    from PySide6.QtGui import QImage

    img = img.convertToFormat(QImage.Format.Format_RGB888)
    piece = np.frombuffer(img.constBits(), np.uint8).reshape(img.height(), img.bytesPerLine())[:, : 3 * img.width()]
    piece = piece.reshape(img.height(), img.width(), 3)
    x0, y0 = round(r.left()), round(r.top())
    got = piece[y0 : y0 + 60, x0 : x0 + 120]
    want = full[3100:3160, 2200:2320]
    assert got.shape == want.shape and mad(got, want) < 2
    assert mad(got, full[::-1, ::-1][3100:3160, 2200:2320]) > 20  # the pixels there are the box's own


def test_moving_to_the_next_photo_during_a_detail_load_drops_it(qtbot, view, tmp_path, monkeypatch):
    """The first photo's full decode ends after the second photo is shown and zoomed: it must neither be
    shown for the second photo nor kept."""
    fine_photo(tmp_path / "a.jpg", seed=1)
    fine_photo(tmp_path / "b.jpg", seed=2)
    started, release = threading.Event(), threading.Event()
    decoded: list = []

    def slow_first(path, **kw):
        rgb = load_image(path, **kw)
        if not started.is_set():
            started.set()
            release.wait(10)
        decoded.append(weakref.ref(rgb))
        return rgb

    monkeypatch.setattr(photo_detail, "load_image", slow_first)
    shown(qtbot, view, photo("a.jpg", 4000, 3000), tmp_path)
    view.zoom_by(1.0 / view.zoom_level())
    qtbot.waitUntil(started.is_set, timeout=10000)  # a.jpg's full decode is running
    shown(qtbot, view, photo("b.jpg", 4000, 3000), tmp_path)  # J
    view.zoom_by(1.0 / view.zoom_level())
    qtbot.wait(2 * photo_detail.SETTLE_MS + 20)  # b.jpg's decode is queued behind a.jpg's
    release.set()
    detail_shown(qtbot, view)
    qtbot.waitUntil(lambda: len(decoded) == 2, timeout=10000)
    qtbot.wait(50)
    gc.collect()
    assert decoded[0]() is None  # a.jpg's decode was let go, not adopted
    assert view.detail.source is decoded[1]()
    b = load_image(tmp_path / "b.jpg")
    tl = view.detail.item.sceneBoundingRect().topLeft()
    img = view.detail.item.pixmap().toImage()
    from PySide6.QtGui import QImage

    img = img.convertToFormat(QImage.Format.Format_RGB888)
    piece = np.frombuffer(img.constBits(), np.uint8).reshape(img.height(), img.bytesPerLine())[:, : 3 * img.width()]
    piece = piece.reshape(img.height(), img.width(), 3)
    x, y = round(tl.x()), round(tl.y())
    assert mad(piece, b[y : y + img.height(), x : x + img.width()]) < 2  # b.jpg's pixels, not a.jpg's


def test_the_detail_is_released_when_the_photo_changes_and_held_within_its_budget(qtbot, view, tmp_path, monkeypatch):
    fine_photo(tmp_path / "a.jpg", seed=1)
    fine_photo(tmp_path / "b.jpg", seed=2)
    shown(qtbot, view, photo("a.jpg", 4000, 3000), tmp_path)
    view.zoom_by(1.0 / view.zoom_level())
    detail_shown(qtbot, view)
    held = weakref.ref(view.detail.source)
    assert view.detail.held_bytes >= 4000 * 3000 * 3  # one full decode (36 MB) and the piece shown
    shown(qtbot, view, photo("b.jpg", 4000, 3000), tmp_path)
    gc.collect()
    assert held() is None and view.detail.held_bytes == 0 and view.detail.item is None
    # over the budget, the decode is held at libjpeg's 1/2 (and still sharper than the preview)
    monkeypatch.setattr(photo_detail, "DETAIL_BUDGET_MB", 10)
    view.zoom_by(1.0 / view.zoom_level())
    detail_shown(qtbot, view)
    assert view.detail.source.shape == (1500, 2000, 3) and view.detail.source.nbytes <= 10 * 2**20
    assert held_factor(4000, 3000, 4000 * 3000 * 3) == 1 and held_factor(4000, 3000, 4000 * 3000 * 3 - 1) == 2
    assert held_factor(100_000, 100_000, 2**20) == 8


def test_no_full_decode_at_fit_or_for_a_photo_the_preview_holds(qtbot, view, tmp_path, monkeypatch):
    """The next-photo path stays as it was: nothing is decoded whole unless the reviewer zooms in past the
    preview. The trigger counts device pixels (a 200 % screen needs the detail sooner)."""
    calls = []
    monkeypatch.setattr(photo_detail, "load_image", lambda *a, **k: calls.append(a) or load_image(*a, **k))
    fine_photo(tmp_path / "big.jpg")
    fine_photo(tmp_path / "small.jpg", size=(1200, 800))
    shown(qtbot, view, photo("small.jpg", 1200, 800), tmp_path)
    view.zoom_by(3.0)  # 3 screen pixels per photo pixel, but the preview is the whole photo
    shown(qtbot, view, photo("big.jpg", 4000, 3000), tmp_path)  # fitted
    qtbot.wait(3 * photo_detail.SETTLE_MS)
    view.pool.wait_for_done(5)
    assert calls == [] and view.detail.state == "idle"
    # a zoom that a 100 % screen shows from the preview, but a 200 % screen needs twice the pixels for
    view.zoom_by(0.9 * view.preview_scale() / view.zoom_level())
    assert not view.detail.wanted()
    monkeypatch.setattr(view, "devicePixelRatioF", lambda: 2.0)
    assert view.detail.wanted()


def test_a_detail_that_cannot_be_decoded_leaves_the_preview_quietly(qtbot, view, tmp_path, caplog):
    """The file was cut short after its preview was decoded: zooming in keeps the preview, says nothing in
    the window (the preview is fine), logs why and does not try again for this photo."""
    fine_photo(tmp_path / "cut.jpg")
    data = (tmp_path / "cut.jpg").read_bytes()
    failed = []
    view.imageFailed.connect(failed.append)
    shown(qtbot, view, photo("cut.jpg", 4000, 3000), tmp_path)
    (tmp_path / "cut.jpg").write_bytes(data[: len(data) // 2])
    with caplog.at_level(logging.WARNING, logger="bibtagger_gui.gui.photo_detail"):
        view.zoom_by(1.0 / view.zoom_level())
        qtbot.waitUntil(lambda: view.detail.state == "failed", timeout=10000)
    assert "truncated JPEG" in view.detail.error and "truncated JPEG" in caplog.text
    assert view.image_loaded and view.image_error is None and failed == [] and view.detail.item is None
    view.zoom_by(1.5)
    qtbot.wait(3 * photo_detail.SETTLE_MS)
    assert view.detail.state == "failed" and view.detail.pool.pending == 0 and view.detail.pool.active == 0


def test_closing_the_window_waits_for_a_full_resolution_decode(qtbot, make_window, tmp_path, monkeypatch):
    """The close handler waited for the preview's decode but not for the detail's: a full decode of a large
    photo (~0.1-0.5 s) still ran in its thread after the window was gone. Now both are waited for (bounded)."""
    folder = tmp_path / "big"
    folder.mkdir()
    fine_photo(folder / "a.jpg", size=(3000, 2000))
    fixed_predictions(monkeypatch, {})
    started, release = threading.Event(), threading.Event()
    finished: list[bool] = []

    def slow(path, **kw):
        started.set()
        release.wait(1.5)  # a slow disk, a 60 MP file
        rgb = load_image(path, **kw)
        finished.append(True)
        return rgb

    monkeypatch.setattr(photo_detail, "load_image", slow)
    win = make_window()
    win.open_folder(folder)
    view = win.photo_view
    qtbot.waitUntil(lambda: view.image_loaded, timeout=20000)
    view.zoom_by(1.0 / view.zoom_level())  # 1:1, past the preview's resolution
    qtbot.waitUntil(started.is_set, timeout=10000)  # the full decode runs
    win.close()
    assert finished and view.detail.pool.active == 0  # it ended before the close handler returned
