"""The photo view's preview is decoded at the size the view needs (gui/photo_view.py, docs/gui.md#preview-size):
the viewport's long side in device pixels, not a fixed 2560 px; a view that grows gets the photo decoded again,
sharper, with the boxes where they were (scene = full-resolution oriented pixels). Real JPEGs, a real PhotoView
offscreen (device pixel ratio 1; a 200 % screen is the view's ratio patched and its change event sent)."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from PySide6.QtCore import QEvent, QPointF
from PySide6.QtWidgets import QApplication

from bibtagger_gui.core.demo import write_jpeg
from bibtagger_gui.core.imageio import load_image, scaled_decode_side
from bibtagger_gui.gui import look_ahead
from bibtagger_gui.gui.photo_view import SIDE_STEP, VIEW_MAX_SIDE, VIEW_MIN_SIDE, WHOLE, PhotoView, preview_side
from bibtagger_gui.gui.qimage import rgb_to_qimage
from tests.test_gui_photo_detail import view  # noqa: F401 - the fixture: a shown 640x440 PhotoView

W, H = 6000, 4000  # a 24 MP camera file, shown turned (EXIF orientation 6)
BOX = (4200.0, 900.0, 4700.0, 1300.0)  # a bib's box in the shown (oriented) frame: white in the photo, grey around
GREY, WHITE = 90, 250


def marked_photo(path: Path) -> None:
    img = np.full((H, W, 3), GREY, np.uint8)
    x1, y1, x2, y2 = (int(v) for v in BOX)
    img[y1:y2, x1:x2] = WHITE
    write_jpeg(path, img, orientation=6, quality=80)  # stored 4000x6000, shown 6000x4000


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("big")
    marked_photo(d / "a.jpg")
    marked_photo(d / "b.jpg")
    return d


def photo(relpath: str, pid: int = 1) -> SimpleNamespace:
    return SimpleNamespace(id=pid, width=W, height=H, error=None, relpath=relpath, sha1=None, size=None, mtime=None)


BIB = SimpleNamespace(id=7, box=BOX, number="12", source="human", confidence=None)


def shown_width(view) -> int:
    return view._pixmap_item.pixmap().width()


def long_side(view) -> float:
    vp = view.maximumViewportSize()  # the viewport without scroll bars (at fit there are none)
    return max(vp.width(), vp.height()) * view.devicePixelRatioF()


def expected_width(view) -> int:
    """The preview's long side for the view as it is: libjpeg's smallest scale reaching its side, capped."""
    return min(VIEW_MAX_SIDE, scaled_decode_side(W, preview_side(long_side(view))))


def box_on_preview(view) -> None:
    """The bib's box lies on the white patch of the preview shown, and its surroundings on grey (the pixmap item maps
    the scene, full-resolution oriented pixels, onto the preview whatever its size)."""
    item = view._pixmap_item
    img = item.pixmap().toImage()
    (box_item,) = view.box_items()
    r = box_item.rect()
    assert (r.left(), r.top(), r.right(), r.bottom()) == BOX  # the box itself is where the store has it

    def grey_at(x: float, y: float) -> int:
        p = item.mapFromScene(QPointF(x, y))
        return img.pixelColor(int(p.x()), int(p.y())).red()

    assert grey_at(r.center().x(), r.center().y()) > 220
    assert grey_at(r.left() + 30, r.top() + 30) > 220 and grey_at(r.right() - 30, r.bottom() - 30) > 220
    assert grey_at(r.left() - 60, r.center().y()) < 120 and grey_at(r.right() + 60, r.center().y()) < 120


def test_preview_side_covers_the_view_in_few_stable_steps():
    sides = {n: preview_side(n) for n in range(0, 4000, 7)}
    assert min(sides.values()) == VIEW_MIN_SIDE and max(sides.values()) == VIEW_MAX_SIDE
    for n, side in sides.items():
        assert side >= min(n, VIEW_MAX_SIDE)  # the view's pixels, up to the cap
        assert side % SIDE_STEP == 0 or side in (VIEW_MIN_SIDE, VIEW_MAX_SIDE)
    assert list(sides.values()) == sorted(sides.values())
    # a scroll bar's or a splitter's few pixels change nothing: 7 sides over the whole range
    assert len(set(sides.values())) <= (VIEW_MAX_SIDE - VIEW_MIN_SIDE) // SIDE_STEP + 1


def test_the_preview_is_decoded_at_the_size_the_view_needs(qtbot, view, folder):
    view.set_photo(photo("a.jpg"), folder)
    view.set_bibs([BIB], None)
    qtbot.waitUntil(lambda: view.image_loaded, timeout=10000)
    assert shown_width(view) == expected_width(view) < VIEW_MAX_SIDE  # 1500 px for this 640 px view: libjpeg's 1/4
    assert view.preview_scale() == pytest.approx(shown_width(view) / W)
    box_on_preview(view)


def test_a_grown_view_gets_a_sharper_preview_with_the_boxes_in_place(qtbot, view, folder):
    view.set_photo(photo("a.jpg"), folder)
    view.set_bibs([BIB], None)
    qtbot.waitUntil(lambda: view.image_loaded, timeout=10000)
    small = shown_width(view)
    view.resize(1500, 1000)  # maximised
    qtbot.wait(20)
    assert shown_width(view) == small and view.image_loaded  # the pixels shown stay until the sharper ones are here
    qtbot.waitUntil(lambda: shown_width(view) > small, timeout=10000)
    assert shown_width(view) == expected_width(view) == VIEW_MAX_SIDE
    box_on_preview(view)
    view.fit()
    assert view.zoom_level() * view.devicePixelRatioF() <= view.preview_scale() * 1.05  # at fit, no pixel stretched


def test_a_move_to_a_200_percent_screen_gets_a_sharper_preview(qtbot, view, folder, monkeypatch):
    view.set_photo(photo("a.jpg"), folder)
    view.set_bibs([BIB], None)
    qtbot.waitUntil(lambda: view.image_loaded, timeout=10000)
    small = shown_width(view)
    monkeypatch.setattr(view, "devicePixelRatioF", lambda: 2.0)
    QApplication.sendEvent(view, QEvent(QEvent.Type.DevicePixelRatioChange))
    qtbot.waitUntil(lambda: shown_width(view) > small, timeout=10000)
    assert shown_width(view) == expected_width(view)
    box_on_preview(view)


def test_a_kept_decode_for_a_smaller_view_is_shown_first_then_replaced(qtbot, view, folder):
    """A look-ahead decode kept before the view grew is shown within the step (better than the thumbnail), and the
    photo is decoded again at the view's side."""
    view.set_photo(photo("a.jpg"), folder, ahead=[folder / "b.jpg"])
    qtbot.waitUntil(lambda: view.image_loaded, timeout=10000)
    view.ahead.forget()
    b = folder / "b.jpg"
    small = load_image(b, max_side=750)
    view.ahead.put(look_ahead.Decoded(b, look_ahead.file_version(b), rgb_to_qimage(small), "", None, 750))
    view.set_photo(photo("b.jpg", 2), folder)
    view.set_bibs([BIB], None)
    assert view.image_loaded and shown_width(view) == 750 and view.shown_side() == 750  # at once
    qtbot.waitUntil(lambda: shown_width(view) == expected_width(view), timeout=10000)
    assert view.shown_side() >= preview_side(long_side(view))
    box_on_preview(view)


def test_the_look_ahead_decodes_again_what_it_kept_for_a_smaller_view(qtbot, tmp_path):
    a = tmp_path / "a.jpg"
    a.write_bytes(b"x")
    asked: list[int] = []

    def decode(path, side):
        asked.append(side)
        return look_ahead.Decoded(path, look_ahead.file_version(path), object(), "", None, side), None

    ahead = look_ahead.LookAhead(decode)
    ahead.want([a], side=1024)
    qtbot.waitUntil(lambda: a in ahead.kept())
    ahead.want([a], side=1024)  # kept at that side: not again
    ahead.want([a], side=2048)  # the view grew
    qtbot.waitUntil(lambda: a in ahead.kept() and ahead.take(a).side == 2048)
    ahead.want([a], side=1536)  # the larger one serves a smaller view
    qtbot.wait(30)
    assert asked == [1024, 2048]
    whole = look_ahead.Decoded(a, look_ahead.file_version(a), object(), "", None, WHOLE)
    ahead.put(whole)
    ahead.want([a], side=VIEW_MAX_SIDE)  # a photo held whole serves any view
    qtbot.wait(30)
    assert asked == [1024, 2048]
    ahead.stop()
