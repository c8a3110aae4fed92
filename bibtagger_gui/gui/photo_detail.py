"""Full-resolution detail over the photo view's preview when zoomed in past it (docs/gui.md#zoomed-in-detail).

The view shows a photo from one reduced decode (``photo_view.load_preview``, at most 2560 px). Once the reviewer zooms in
so far that one preview pixel covers more than one screen (device) pixel, :class:`PhotoDetail` decodes the
photo whole in a worker of its own (``load_image``: EXIF orientation applied, so its pixels are in the
scene's oriented frame, the frame of the boxes) and keeps that one decode while the photo is shown. For
what is on screen it cuts the visible part plus a margin out of it, at the screen's resolution (never above
the file's), in the same worker, and shows that piece over the preview. Only the current photo's decode is
held (at most ``DETAIL_BUDGET_MB``: a larger photo is held at libjpeg's 1/2, 1/4 …); it is released when
the photo changes, and a decode or a piece for a photo no longer shown is dropped (request id). A failing
decode leaves the preview, logged.
"""

from __future__ import annotations

import logging
import math
from pathlib import Path

import cv2
import numpy as np
from PySide6.QtCore import QObject, QRectF, Qt, QTimer, Signal
from PySide6.QtGui import QImage, QPixmap, QTransform
from PySide6.QtWidgets import QGraphicsPixmapItem, QGraphicsView

from bibtagger_gui.core.imageio import ImageError, load_image
from bibtagger_gui.gui.qimage import rgb_to_qimage
from bibtagger_gui.gui.threads import WorkQueue, emit_if_alive

log = logging.getLogger(__name__)

#: the most the one full decode held for the current photo may take (RGB bytes): a 61 MP file (172 MiB) is
#: held whole, a 100 MP one at 1/2
DETAIL_BUDGET_MB = 192
#: screen (device) pixels per preview pixel above which the detail is loaded
DETAIL_TRIGGER = 1.05
#: the piece shown covers the visible part and this fraction of its size more on each side (small pans
#: need no new piece)
MARGIN = 0.25
#: how long the view must stay still before a new piece is cut (a wheel zoom or a drag sends many changes)
SETTLE_MS = 40


def held_factor(width: int, height: int, budget_bytes: int) -> int:
    """The smallest libjpeg scale-down (1, 2, 4, 8) at which a ``width`` x ``height`` RGB decode fits the budget."""
    for f in (1, 2, 4):
        if math.ceil(width / f) * math.ceil(height / f) * 3 <= budget_bytes:
            return f
    return 8


class _Signals(QObject):
    decoded = Signal(int, object, str)  # request id, RGB array | None, error message
    cut = Signal(int, int, object, object)  # request id, piece number, QImage, its scene rect (x, y, w, h)


class _DecodeJob:
    """Decode one photo whole (or at the budget's scale-down), oriented."""

    def __init__(self, signals: _Signals, request: int, path: Path, max_side: int | None):
        self.signals, self.request, self.path, self.max_side = signals, request, path, max_side

    def __call__(self) -> None:
        rgb, error = None, ""
        try:
            rgb = load_image(self.path, max_side=self.max_side)
        except ImageError as exc:
            error = exc.message
        except Exception as exc:  # noqa: BLE001 - MemoryError, a decoder bug: the preview stays
            error = f"{type(exc).__name__}: {exc}"
        emit_if_alive(self.signals.decoded, self.request, rgb, error)


class _CutJob:
    """Cut ``box`` (source pixels x0, y0, x1, y1) out of the decode and scale it to ``size``."""

    def __init__(self, signals: _Signals, request: int, number: int, source: np.ndarray,
                 box: tuple[int, int, int, int], size: tuple[int, int], scene: tuple[float, float, float, float]):
        self.signals, self.request, self.number = signals, request, number
        self.source, self.box, self.size, self.scene = source, box, size, scene

    def __call__(self) -> None:
        x0, y0, x1, y1 = self.box
        part = self.source[y0:y1, x0:x1]
        self.source = None  # the decode belongs to the view: a late piece must not keep it alive
        if self.size != (x1 - x0, y1 - y0):
            part = cv2.resize(part, self.size, interpolation=cv2.INTER_AREA)
        emit_if_alive(self.signals.cut, self.request, self.number, rgb_to_qimage(part), self.scene)


class PhotoDetail(QObject):
    """The full-resolution layer of one :class:`~bibtagger_gui.gui.photo_view.PhotoView`.

    The view calls :meth:`reset` when its photo changes, :meth:`schedule` when what it shows may have changed
    (zoom, pan, resize, the preview arrived); it answers :meth:`preview_scale` (preview pixels per photo
    pixel), ``image_loaded`` and ``fit_mode``.
    """

    def __init__(self, view: QGraphicsView):
        super().__init__(view)
        self.view = view
        self.pool = WorkQueue(1, lifo=True, name="photo-detail")
        self._signals = _Signals(self)
        self._signals.decoded.connect(self._on_decoded)
        self._signals.cut.connect(self._on_cut)
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(SETTLE_MS)
        self._timer.timeout.connect(self.update)
        self._request = 0
        self._path: Path | None = None
        self.state = "idle"  # idle | loading | ready | failed (for this photo)
        self.source: np.ndarray | None = None  # the one decode held (current photo only)
        self.item: QGraphicsPixmapItem | None = None  # the piece shown
        self._target: tuple[QRectF, float] | None = None  # scene rect and resolution of the last piece asked for
        self._number = 0  # pieces asked for (a late, older piece is dropped)
        self._shown = 0
        self.error: str | None = None

    # ---- the view's calls
    def reset(self, path: Path | None) -> None:
        """A new photo (``path``; None: none, or one that cannot be read): forget and release the old one's."""
        self._request += 1
        self.pool.clear()  # a decode or piece not started for the old photo never runs
        self._timer.stop()
        self._drop_item()
        self._path, self.source, self.state, self.error = path, None, "idle", None
        self._shown = self._number

    def schedule(self) -> None:
        """What the view shows may have changed: look again once it stays still for ``SETTLE_MS``."""
        if self._path is not None:
            self._timer.start()

    @property
    def held_bytes(self) -> int:
        """Bytes held for the detail: the decode and the piece shown."""
        n = self.source.nbytes if self.source is not None else 0
        if self.item is not None:
            pix = self.item.pixmap()
            n += pix.width() * pix.height() * max(1, pix.depth() // 8)
        return n

    def device_scale(self) -> float:
        """Screen (device) pixels per photo pixel at the view's zoom."""
        return self.view.transform().m11() * self.view.devicePixelRatioF()

    def wanted(self) -> bool:
        """True when the view shows the photo finer than its preview holds (zoomed in, preview shown)."""
        v = self.view
        if self._path is None or not v.image_loaded or v.fit_mode:
            return False
        preview = v.preview_scale()
        return preview < 1.0 and self.device_scale() > preview * DETAIL_TRIGGER

    def update(self) -> None:
        """Load the decode, or cut a new piece for what is visible, or drop the piece when not zoomed in."""
        if not self.wanted():
            self._drop_item()  # zoomed back out: the preview alone (the decode stays for this photo)
            return
        if self.state == "idle":
            self._start_decode()
            return
        if self.state != "ready" or self.source is None:
            return
        scene = self.view.sceneRect()
        visible = self.view.mapToScene(self.view.viewport().rect()).boundingRect().intersected(scene)
        if visible.isEmpty():
            return
        k = self.source.shape[1] / scene.width()  # source pixels per photo pixel (1, or 1/f over budget)
        res = min(1.0, self.device_scale() / k) * k  # piece pixels per photo pixel
        if self._target is not None:
            rect, have = self._target
            if rect.contains(visible) and 0.95 * res <= have <= 2.0 * res:
                return  # the piece asked for last still covers the view at its resolution
        mx, my = visible.width() * MARGIN, visible.height() * MARGIN
        want = visible.adjusted(-mx, -my, mx, my).intersected(scene)
        h, w = self.source.shape[:2]
        x0, y0 = max(0, math.floor(want.left() * k)), max(0, math.floor(want.top() * k))
        x1, y1 = min(w, math.ceil(want.right() * k)), min(h, math.ceil(want.bottom() * k))
        if x1 <= x0 or y1 <= y0:
            return
        t = res / k  # piece pixels per source pixel (<= 1)
        size = (max(1, round((x1 - x0) * t)), max(1, round((y1 - y0) * t)))
        rect = QRectF(x0 / k, y0 / k, (x1 - x0) / k, (y1 - y0) / k)
        self._target = (rect, res)
        self._number += 1
        self.pool.clear()  # an older piece not started yet is not wanted any more
        self.pool.submit(_CutJob(self._signals, self._request, self._number, self.source, (x0, y0, x1, y1), size,
                                 (rect.x(), rect.y(), rect.width(), rect.height())))

    # ---- internals
    def _start_decode(self) -> None:
        assert self._path is not None
        scene = self.view.sceneRect()
        w, h = round(scene.width()), round(scene.height())
        f = held_factor(w, h, DETAIL_BUDGET_MB * 2**20)
        self.state = "loading"
        self.pool.submit(_DecodeJob(self._signals, self._request, self._path,
                                    None if f == 1 else math.ceil(max(w, h) / f)))

    def _on_decoded(self, request: int, rgb: np.ndarray | None, error: str) -> None:
        if request != self._request:
            return  # a photo no longer shown: its decode is let go here
        if rgb is None:
            self.state, self.error = "failed", error
            log.warning("full-resolution detail of %s not loaded (the preview stays): %s", self._path, error)
            return
        self.state, self.source = "ready", rgb
        self.update()

    def _on_cut(self, request: int, number: int, img: QImage, scene: tuple[float, float, float, float]) -> None:
        if request != self._request or number < self._shown or not self.wanted():
            return
        x, y, w, h = scene
        self._drop_item(keep_target=True)
        item = QGraphicsPixmapItem(QPixmap.fromImage(img))
        item.setTransformationMode(Qt.TransformationMode.SmoothTransformation)
        item.setPos(x, y)
        item.setTransform(QTransform.fromScale(w / img.width(), h / img.height()))
        item.setZValue(-0.5)  # over the preview (-1), under the boxes
        self.view.scene().addItem(item)
        self.item, self._shown = item, number

    def _drop_item(self, keep_target: bool = False) -> None:
        if self.item is not None:
            if self.item.scene() is not None:
                self.item.scene().removeItem(self.item)
            self.item = None
        if not keep_target:
            self._target = None
