"""The photo list model stays cheap with 10,000 photos: no image decoding in data()."""

from __future__ import annotations

import threading
from dataclasses import dataclass

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QListView

from bibtagger_gui.core.imageio import ImageError
from bibtagger_gui.core.review import ReviewItem
from bibtagger_gui.gui import thumbnails
from bibtagger_gui.gui.photo_list_model import PhotoIdRole, PhotoListModel
from bibtagger_gui.gui.thumbnails import ThumbnailProvider

N = 10_000


@dataclass(frozen=True)
class FakePhoto:
    id: int
    relpath: str
    reviewed: bool = False
    error: str | None = None
    width: int = 4000
    height: int = 3000
    size: int = 1000
    mtime: float = 1.0
    sha1: str = ""


@dataclass(frozen=True)
class FakeBib:
    number: str
    source: str = "model"
    confidence: float = 0.8


def test_10000_rows_answer_without_decoding_and_fetch_lazily(qtbot, tmp_path, monkeypatch):
    decodes: list[int] = []

    def counting_load(path, max_side=None, **kw):
        decodes.append(threading.get_ident())
        raise ImageError(path, "fake photo")

    monkeypatch.setattr(thumbnails, "load_image", counting_load)
    provider = ThumbnailProvider(size=64)
    provider.reset(tmp_path, None)
    model = PhotoListModel(provider)
    items = [ReviewItem(FakePhoto(i, f"img_{i:05d}.jpg", reviewed=i % 7 == 0), (FakeBib(str(i)),)) for i in range(N)]
    model.set_items(items)

    assert model.total() == N
    assert model.rowCount() == PhotoListModel.BATCH < N  # rows are exposed lazily
    assert model.canFetchMore()

    view = QListView()
    qtbot.addWidget(view)
    view.setUniformItemSizes(True)
    view.setModel(model)
    view.resize(300, 400)
    view.show()
    qtbot.waitExposed(view)
    qtbot.wait(50)
    # a view shows a few rows, so only a few thumbnails are requested
    requested_by_view = provider.pending + len(provider._failed)
    assert 0 < requested_by_view < 60

    main = threading.get_ident()
    while model.canFetchMore():
        model.fetchMore()
    assert model.rowCount() == N
    for row in range(N):
        idx = model.index(row)
        assert model.data(idx, Qt.ItemDataRole.DisplayRole).endswith(str(row))
        assert model.data(idx, PhotoIdRole) == row
        model.data(idx, Qt.ItemDataRole.ToolTipRole)
        model.data(idx, Qt.ItemDataRole.BackgroundRole)
        assert model.data(idx, Qt.ItemDataRole.DecorationRole) is not None  # placeholder, error icon or thumb
    assert main not in decodes, "an image was decoded in the GUI thread"
    provider.pool.clear()
    provider.pool.wait_for_done(5)
    assert all(t != main for t in decodes)


def test_thumbnails_are_made_in_workers_cached_in_memory_and_on_disk(qtbot, tmp_path):
    from tests.test_gui_support import make_photos

    photos_dir = tmp_path / "photos"
    made = make_photos(photos_dir, 3)
    cache = tmp_path / "thumbs"
    provider = ThumbnailProvider(size=64)
    provider.reset(photos_dir, cache)
    photos = [FakePhoto(i, rel) for i, (rel, _, _) in enumerate(made)]
    assert all(provider.get(p) is None for p in photos)  # never synchronous
    qtbot.waitUntil(lambda: all(provider.cached(p.id) is not None for p in photos), timeout=5000)
    assert (provider.cached(0).width(), provider.cached(0).height()) == (64, 42)  # on a fixed 3:2 canvas
    disk = sorted(cache.rglob("*.jpg"))[0]
    from PySide6.QtGui import QImage

    assert max(QImage(str(disk)).width(), QImage(str(disk)).height()) == 64  # reduced decode, long side 64
    assert len(list(cache.rglob("*.jpg"))) == 3

    # a fresh provider reads the disk cache instead of decoding the photos again
    provider2 = ThumbnailProvider(size=64)
    provider2.reset(photos_dir, cache)
    calls = []
    orig = thumbnails.load_image
    thumbnails.load_image = lambda *a, **k: calls.append(a) or orig(*a, **k)
    try:
        for p in photos:
            provider2.request(p)
        qtbot.waitUntil(lambda: provider2.pending == 0, timeout=5000)
    finally:
        thumbnails.load_image = orig
    assert calls == [] and provider2.cached(2) is not None


def test_unreadable_photo_gets_error_icon_and_tooltip(qtbot, tmp_path):
    (tmp_path / "bad.jpg").write_bytes(b"\xff\xd8\xffnot really")
    provider = ThumbnailProvider(size=64)
    provider.reset(tmp_path, None)
    model = PhotoListModel(provider)
    model.set_items([ReviewItem(FakePhoto(1, "bad.jpg"), ())])
    idx = model.index(0)
    model.data(idx, Qt.ItemDataRole.DecorationRole)
    qtbot.waitUntil(lambda: provider.failure(1) is not None, timeout=5000)
    assert "Error:" in model.data(idx, Qt.ItemDataRole.ToolTipRole)
    assert provider.failure(1) in model.data(idx, Qt.ItemDataRole.ToolTipRole)


def test_a_portrait_photos_thumbnail_placeholder_covers_the_photo_not_its_3_2_frame(qtbot, tmp_path):
    import cv2
    import numpy as np

    from bibtagger_gui.gui.photo_view import PhotoView

    folder = tmp_path / "photos"
    folder.mkdir()
    cv2.imwrite(str(folder / "tall.jpg"), np.full((600, 400, 3), 200, np.uint8))  # portrait 400x600
    photo = FakePhoto(1, "tall.jpg", width=400, height=600)
    provider = ThumbnailProvider(size=160)
    provider.reset(folder, None)
    provider.request(photo)
    qtbot.waitUntil(lambda: provider.cached(1) is not None, timeout=5000)
    thumb = provider.cached(1)
    assert (thumb.width(), thumb.height()) == (160, 106)  # the list's fixed 3:2 canvas, bars left and right
    view = PhotoView()
    qtbot.addWidget(view)
    view.set_photo(photo, folder, thumb)  # shown at once, before the photo is decoded
    rect = view._pixmap_item.sceneBoundingRect()
    assert abs(rect.x()) < 4 and abs(rect.y()) < 4 and abs(rect.width() - 400) < 8 and abs(rect.height() - 600) < 8, rect


def test_a_thumbnail_on_its_way_when_the_photo_changed_is_dropped(qtbot, tmp_path, monkeypatch):
    """The list asks for a thumbnail from the old file before the scan finds it replaced; the scan's
    forget() must also drop that request's late result, or it lands after the forget and the new
    picture never shows (a flaky window test under load)."""
    import numpy as np

    from bibtagger_gui.core.imageio import load_image

    release, blocked = threading.Event(), threading.Event()

    def slow_first_load(path, **kw):
        image = load_image(path, **kw)  # the old picture, read before the file is replaced
        if not blocked.is_set():
            blocked.set()
            release.wait(10)
        return image

    monkeypatch.setattr(thumbnails, "load_image", slow_first_load)
    (tmp_path / "a.jpg").write_bytes(_jpeg(np.full((60, 90, 3), 40, np.uint8)))  # dark grey
    provider = ThumbnailProvider(size=32)
    provider.reset(tmp_path, None)
    provider.request(FakePhoto(1, "a.jpg"))
    assert blocked.wait(10)
    red = np.zeros((60, 90, 3), np.uint8)
    red[..., 0] = 255
    (tmp_path / "a.jpg").write_bytes(_jpeg(red))
    provider.forget(1)  # what MainWindow._forget_changed does after the scan
    provider.request(FakePhoto(1, "a.jpg", size=2000, mtime=2.0))
    qtbot.waitUntil(lambda: provider.cached(1) is not None, timeout=5000)
    release.set()
    assert provider.pool.wait_for_done(10)
    qtbot.wait(100)  # deliver the old job's queued signal, if it emitted one
    centre = provider.cached(1).toImage().pixelColor(16, 10)
    assert centre.red() > 200 and centre.green() < 60, centre.name()


def _jpeg(rgb) -> bytes:
    import cv2

    ok, data = cv2.imencode(".jpg", rgb[..., ::-1])
    assert ok
    return data.tobytes()
