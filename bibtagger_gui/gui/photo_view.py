"""The large photo view: zoom (wheel, +/-), pan (drag), bib boxes, drawing new boxes, moving and
resizing the selected box (drag inside it / drag a corner handle; docs/gui.md#adjusting-a-box), with
a hover cursor that says which of these a press starts, or that it selects a box (:meth:`PhotoView.cursor_at`).

Scene coordinates are the photo's full-resolution *oriented* pixels (the frame of
``Bib.box``). The photo itself is decoded off the GUI thread at a reduced size that follows the view
(:func:`preview_side`: the viewport's long side in device pixels, :func:`load_preview`; EXIF orientation
applied) and its pixmap item is scaled up to the full-resolution frame, so boxes need no conversion whatever
that size. A view grown past what the preview holds (window maximised, a 200 % screen) gets the photo decoded
again at its new side, once it has stayed that size for ``REGROW_MS`` (docs/gui.md#preview-size).
Results of loads for a photo that is no longer shown are dropped (request id), and so is a smaller decode
that lands after a larger one. The list's next and previous
photo are decoded ahead once a photo is shown (gui/look_ahead.py): a step to one shows it at once. Zoomed in past what that
preview holds, ``photo_detail.PhotoDetail`` shows the visible part from a full-resolution decode over it.
The same decode gives the photo's decoded-pixel print (core/pixelprint), sent out by ``printed`` for the window
to keep where the store has none (old stores; docs/store.md#re-encoded-copies-the-decoded-print).
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from PySide6.QtCore import QEvent, QObject, QPointF, QRectF, Qt, QTimer, Signal
from PySide6.QtGui import QBrush, QColor, QFont, QFontMetricsF, QImage, QPainter, QPen, QPixmap
from PySide6.QtWidgets import (
    QApplication,
    QGraphicsItem,
    QGraphicsPixmapItem,
    QGraphicsRectItem,
    QGraphicsScene,
    QGraphicsView,
)

from bibtagger_gui.core.catalogue import file_version, is_version
from bibtagger_gui.core.imageio import ImageError, load_image, probe_image, scaled_decode_side
from bibtagger_gui.core.pixelprint import image_print
from bibtagger_gui.gui import box_adjust
from bibtagger_gui.gui.photo_detail import PhotoDetail
from bibtagger_gui.gui.look import HIGH_CONFIDENCE, bib_look, text_on  # noqa: F401 - HIGH_CONFIDENCE re-exported
from bibtagger_gui.gui.look_ahead import KEEP, Decoded, LookAhead
from bibtagger_gui.gui.qimage import rgb_to_qimage
from bibtagger_gui.gui.threads import WorkQueue, emit_if_alive

#: the most pixels the preview holds on its long side (a fitted view larger than this, a 200 % screen's, is drawn
#: from it scaled up, as it always was; zoomed in past it, gui/photo_detail.py shows the file's own pixels)
VIEW_MAX_SIDE = 2560
#: the least: a view not laid out yet or a very small window still gets a useful preview (a larger view re-decodes)
VIEW_MIN_SIDE = 1024
#: the side asked for is the view's long side plus this fraction, rounded up to a multiple of ``SIDE_STEP``: a scroll
#: bar or a splitter moved by a few pixels does not change it, so neither does libjpeg's scale choice
SIDE_MARGIN = 0.05
SIDE_STEP = 256
#: a view that grew past its preview must stay that size this long (ms) before the photo is decoded again (a window
#: being resized by a drag sends many sizes)
REGROW_MS = 150
#: ``side`` of a preview that holds every pixel of its file: it serves any view
WHOLE = 1 << 30


def preview_side(view_long_side: float) -> int:
    """The long side the preview is decoded at for a view whose viewport's long side is ``view_long_side`` device
    pixels (logical size x devicePixelRatioF): that plus :data:`SIDE_MARGIN`, rounded up to :data:`SIDE_STEP`, within
    :data:`VIEW_MIN_SIDE` .. :data:`VIEW_MAX_SIDE`. The viewport's long side bounds the fitted photo's long side
    whichever way the photo is turned."""
    side = math.ceil(max(0.0, view_long_side) * (1 + SIDE_MARGIN) / SIDE_STEP) * SIDE_STEP
    return max(VIEW_MIN_SIDE, min(VIEW_MAX_SIDE, side))


def load_preview(path: Path, side: int):
    """The photo decoded for a view that needs ``side`` pixels on the long side, oriented (RGB array), and the side
    it serves (:class:`~bibtagger_gui.gui.look_ahead.Decoded`'s ``side``). A JPEG is decoded at the smallest of
    libjpeg's scales (1/8 .. 1/1) that reaches ``side``, kept at that size (no resize costs time and pixels) unless
    it is over :data:`VIEW_MAX_SIDE`; other formats are scaled to ``side``. Raises ``ImageError``."""
    info = probe_image(path)
    long_side = max(info.width, info.height)
    max_side = side
    if info.format == "jpeg":
        max_side = min(VIEW_MAX_SIDE, max(side, scaled_decode_side(long_side, side)))
    rgb = load_image(path, max_side=max_side)
    shown = max(rgb.shape[:2])
    return rgb, (WHOLE if shown >= long_side else shown)


def bib_colour(source: str, confidence: float | None) -> QColor:
    """Box colour (``look.bib_look``): people's bibs by source, model bibs by confidence."""
    return bib_look(source, confidence).colour


def tag_text(bib: Any, selected: bool = False) -> str:
    """A box's tag: ▶ when selected, the number, a model bib's confidence and the state's mark."""
    look = bib_look(bib.source, bib.confidence)
    conf = f" {bib.confidence:.2f}" if bib.source == "model" and bib.confidence is not None else ""
    return ("▶ " if selected else "") + bib.number + conf + (f" {look.mark}" if look.mark else "")


class _Label(QGraphicsItem):
    """Bib number tag drawn at constant screen size above its box, in the application's font (a
    larger system font makes it larger), its text black or white, whichever reads on its colour."""

    def __init__(self, text: str, colour: QColor, parent: QGraphicsItem):
        super().__init__(parent)
        self.text, self.colour = text, colour
        self.setFlag(QGraphicsItem.GraphicsItemFlag.ItemIgnoresTransformations)
        self.font = QFont(QApplication.font())
        self.font.setPointSizeF(max(6.0, self.font.pointSizeF()) + 1)
        self.font.setBold(True)
        fm = QFontMetricsF(self.font)
        self._rect = QRectF(0, -fm.height() - 4, fm.horizontalAdvance(text) + 8, fm.height() + 4)

    def boundingRect(self) -> QRectF:
        return self._rect

    def paint(self, painter: QPainter, option, widget=None) -> None:
        painter.fillRect(self._rect, self.colour)
        painter.setPen(text_on(self.colour))
        painter.setFont(self.font)
        painter.drawText(self._rect, Qt.AlignmentFlag.AlignCenter, self.text)


#: side of a corner handle of the selected box, in logical screen pixels (the view's transform is
#: ignored, so it keeps its size at any zoom; at 200 % it covers twice the device pixels, like the text)
HANDLE_SIZE = 9.0
#: how far from a corner (logical screen pixels) a press still grabs it
HANDLE_GRAB = 8.0
#: the cursor of a drag of the selected box, and of hovering where a press starts one: corner -> resize
#: along that corner's diagonal (0 top-left and 2 bottom-right: "\\"; 1 and 3: "/"), None -> move
_ADJUST_CURSORS: dict[int | None, Qt.CursorShape] = {
    0: Qt.CursorShape.SizeFDiagCursor, 2: Qt.CursorShape.SizeFDiagCursor,
    1: Qt.CursorShape.SizeBDiagCursor, 3: Qt.CursorShape.SizeBDiagCursor,
    None: Qt.CursorShape.SizeAllCursor,
}


class _Handle(QGraphicsItem):
    """A corner handle of the selected box: a filled square of constant screen size."""

    def __init__(self, colour: QColor, dpr: float, parent: QGraphicsItem):
        super().__init__(parent)
        self.setFlag(QGraphicsItem.GraphicsItemFlag.ItemIgnoresTransformations)
        self.colour = colour
        self.pen = QPen(text_on(colour), 1 * dpr)  # cosmetic: device pixels, scaled like the box pens
        self.pen.setCosmetic(True)
        h = HANDLE_SIZE / 2
        self._rect = QRectF(-h, -h, HANDLE_SIZE, HANDLE_SIZE)

    def boundingRect(self) -> QRectF:
        return self._rect.adjusted(-1, -1, 1, 1)

    def paint(self, painter: QPainter, option, widget=None) -> None:
        painter.setPen(self.pen)
        painter.setBrush(self.colour)
        painter.drawRect(self._rect)


class BibBoxItem(QGraphicsRectItem):
    """One bib's box with its number; ``bib_id`` links it to the store row."""

    def __init__(self, bib: Any, selected: bool, dpr: float = 1.0):
        x1, y1, x2, y2 = bib.box
        super().__init__(QRectF(x1, y1, x2 - x1, y2 - y1))
        self.bib_id = bib.id
        self.look = bib_look(bib.source, bib.confidence)
        colour = self.look.colour
        # the line style says the state without colour; a cosmetic pen's width is in device pixels, so it
        # is scaled by the screen's pixel ratio (at 200 % a 2 px line was half as thick as everything else)
        pen = QPen(colour, (4 if selected else 2) * dpr, self.look.line)
        pen.setCosmetic(True)
        if selected:
            self.setBrush(QBrush(QColor(colour.red(), colour.green(), colour.blue(), 40)))
        self.setPen(pen)
        self.label = _Label(tag_text(bib, selected), colour, self)
        self.label.setPos(x1, y1)
        self.setZValue(2 if selected else 1)
        self.selected = selected
        # corner handles (top-left, top-right, bottom-right, bottom-left) on the selected box only
        self.handles = [_Handle(colour, dpr, self) for _ in range(4)] if selected else []
        self._place_handles()

    def corners(self) -> list[QPointF]:
        r = self.rect()
        return [r.topLeft(), r.topRight(), r.bottomRight(), r.bottomLeft()]

    def _place_handles(self) -> None:
        for h, c in zip(self.handles, self.corners()):
            h.setPos(c)

    def set_box(self, r: QRectF) -> None:
        """Show the box at ``r`` (a drag in progress), its tag and handles following."""
        self.setRect(r)
        self.label.setPos(r.topLeft())
        self._place_handles()


class _LoadSignals(QObject):
    # request id, QImage | None, error message, the decoded file's catalogue.file_version (None: it changed meanwhile),
    # the preview side it serves
    loaded = Signal(int, object, str, object, int)
    printed = Signal(int, object)  # request id, pixel print: sent after ``loaded``, so it never delays the photo


def decode_for_view(path: Path, side: int):
    """One photo decoded as the view shows it (the look-ahead's decode, gui/look_ahead.py) for preview ``side``: its
    QImage, or the error to show; the file's version when it did not change during the decode. With it, what makes
    the decoded pixels' print then (None otherwise), called once the pixels went out."""
    before = file_version(path)
    try:
        rgb, serves = load_preview(path, side)
        img = rgb_to_qimage(rgb)
    except ImageError as exc:
        return Decoded(path, None, None, exc.message, None), None
    except Exception as exc:  # noqa: BLE001 - shown as the photo's error, as the view's own decode does
        return Decoded(path, None, None, str(exc), None), None
    same = before is not None and before == file_version(path)
    return Decoded(path, before if same else None, img, "", None, serves), ((lambda: image_print(rgb)) if same else None)


class _LoadJob:
    def __init__(self, signals: _LoadSignals, request: int, path: Path, side: int,
                 version: tuple | None = None):
        self.signals, self.request, self.path, self.side = signals, request, path, side
        self.version = version  # (size, mtime, change time) the store has for the file: its print is made of that file

    def __call__(self) -> None:
        decoded, make_print = decode_for_view(self.path, self.side)  # the look-ahead's decode too
        # dropped when the view is gone
        emit_if_alive(self.signals.loaded, self.request, decoded.image, decoded.error, decoded.version, decoded.side)
        # the print only after the photo went out (it cost the next-photo path ~14 ms at 24 MP: bench-app)
        if make_print is not None and is_version(decoded.version, self.version):
            emit_if_alive(self.signals.printed, self.request, make_print())  # the file the store describes


def _store_version(photo: Any) -> tuple | None:
    """(size, mtime, change time) the store has for ``photo``, when it has its file (a print is made of that file
    only; catalogue.is_version)."""
    if not getattr(photo, "sha1", None) or photo.size is None:
        return None
    return (photo.size, photo.mtime, getattr(photo, "ctime_ns", None))


def photo_part(thumbnail: QPixmap, width: int, height: int) -> QPixmap:
    """The part of a list thumbnail that shows the photo: thumbnails are centred on a fixed 3:2 canvas
    (gui/thumbnails.py), and the bars must not be stretched over the photo's scene."""
    s = min(thumbnail.width() / width, thumbnail.height() / height)
    cw, ch = max(1, round(width * s)), max(1, round(height * s))
    return thumbnail.copy((thumbnail.width() - cw) // 2, (thumbnail.height() - ch) // 2, cw, ch)


class PhotoView(QGraphicsView):
    """Zoomable, pannable photo with bib boxes; emits edits as signals (no store access)."""

    boxDrawn = Signal(tuple)  # (x1, y1, x2, y2) in photo pixels
    boxAdjusted = Signal(int, tuple)  # bib id, its new (x1, y1, x2, y2), on releasing a move/resize drag
    bibClicked = Signal(int)
    bibDoubleClicked = Signal(int)  # a double click on a bib's box: edit its number
    menuAsked = Signal(object, object)  # a right click (or the Menu key): the bib id under it (or None), global QPoint
    drawMissed = Signal()  # a click (a touchpad's tap) or a flat drag while drawing: no box, the drawing goes on
    imageFailed = Signal(str)
    printed = Signal(object)  # (photo id, decoded-pixel print, its file version in the store) of the photo shown

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setScene(QGraphicsScene(self))
        self.setRenderHints(QPainter.RenderHint.Antialiasing | QPainter.RenderHint.SmoothPixmapTransform)
        self.setTransformationAnchor(QGraphicsView.ViewportAnchor.AnchorUnderMouse)
        self.setResizeAnchor(QGraphicsView.ViewportAnchor.AnchorViewCenter)
        self.setDragMode(QGraphicsView.DragMode.ScrollHandDrag)
        self.setBackgroundBrush(QColor(45, 45, 48))
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.pool = WorkQueue(1, lifo=True, name="photo-view")
        self.ahead = LookAhead(decode_for_view, self)  # the list's next and previous photo, decoded before asked for
        self.ahead.ready.connect(self._ahead_ready)
        self.ahead.printed.connect(self._ahead_printed)
        self._regrow = QTimer(self)  # the view grew: decode the photo again at its new side once it stays (REGROW_MS)
        self._regrow.setSingleShot(True)
        self._regrow.setInterval(REGROW_MS)
        self._regrow.timeout.connect(self.follow_view)
        self._path: Path | None = None  # the file of the photo shown
        self._neighbours: list[Path] = []  # what to decode ahead once it is shown
        self._waiting: int | None = None  # the request waiting for the look-ahead's decode of its photo
        self._signals = _LoadSignals(self)
        self._signals.loaded.connect(self._on_loaded)
        self._signals.printed.connect(self._on_printed)
        self._request = 0
        self._photo: Any = None
        self._pixmap_item: QGraphicsPixmapItem | None = None
        self._frame: QGraphicsRectItem | None = None
        self._boxes: list[BibBoxItem] = []
        self._fit_mode = True
        self._drawing = False
        self._draw_start: QPointF | None = None
        self._draw_press: QPointF | None = None  # where (viewport) the mouse was pressed to draw
        self._rubber: QGraphicsRectItem | None = None
        self._selected_id: int | None = None
        # a move/resize drag of the selected box: (item, corner or None for a move, press point, start box)
        self._adjust: tuple[BibBoxItem, int | None, QPointF, tuple] | None = None
        # the newest set_bibs that arrived during a drag (bibs, selected id): applied at the release
        self._deferred: tuple[list[Any], int | None] | None = None
        self._hover: QPointF | None = None  # last mouse position over the viewport (hover cursor)
        self.viewport().setMouseTracking(True)  # moves without a button pressed update the hover cursor
        self.image_loaded = False
        self.image_error: str | None = None
        self._preview_scale = 0.0  # preview pixels per photo pixel, once the photo's own pixels are shown
        self._shown_side = 0  # the preview side (load_preview) the pixels shown serve (0: none shown yet)
        self._asked_side = 0  # the largest side asked for this photo (shown, being decoded or waited for)
        self._print_sent = False  # the photo's pixel print went out (once a photo)
        self._prints_due: dict[Path, Any] = {}  # photos shown from a look-ahead decode whose print is still being made
        self.detail = PhotoDetail(self)  # full resolution when zoomed in past the preview

    # ---- photo
    def clear_photo(self) -> None:
        self._request += 1
        self.detail.reset(None)  # (before the scene deletes its item) the old photo's decode is let go
        self.scene().clear()
        self._pixmap_item = self._frame = self._rubber = None
        self._boxes = []
        self._adjust = None
        self._deferred = None
        self._photo = None
        self._path = None
        self._waiting = None
        self.image_loaded = False
        self.image_error = None
        self._preview_scale = 0.0
        self._shown_side = self._asked_side = 0
        self._print_sent = False
        self._regrow.stop()

    def preview_side(self) -> int:
        """The preview side the view needs now (:func:`preview_side` of its viewport in device pixels, without the
        scroll bars a zoom shows: the fit after a step hides them, and the side must not change with that)."""
        vp = self.maximumViewportSize()
        return preview_side(max(vp.width(), vp.height()) * self.devicePixelRatioF())

    def shown_side(self) -> int:
        """The preview side the pixels shown serve (:data:`WHOLE`: all of the file's; 0 before they are shown)."""
        return self._shown_side

    def set_photo(self, photo: Any, folder: Path, thumbnail: QPixmap | None = None, ahead: Iterable[Path] = ()) -> None:
        """Show ``photo`` (its thumbnail at once if given, the real pixels when decoded: at once when the look-ahead
        has them). ``ahead``: the files to decode next, once these pixels are shown (the list's neighbours)."""
        self.clear_photo()
        self._photo = photo
        self._path = path = Path(folder) / photo.relpath
        self._neighbours = [Path(p) for p in ahead]
        w, h = max(1, photo.width or 1), max(1, photo.height or 1)
        self.scene().setSceneRect(QRectF(0, 0, w, h))
        self._frame = self.scene().addRect(QRectF(0, 0, w, h), QPen(QColor(90, 90, 90)), QBrush(QColor(70, 70, 70)))
        self._frame.setZValue(-2)
        if thumbnail is not None and not thumbnail.isNull():
            self._set_pixmap(photo_part(thumbnail, w, h))
        if photo.error:
            self.image_error = photo.error
        else:
            self.pool.clear()  # a photo skipped past quickly is never decoded
            self.detail.reset(path)
            side = self.preview_side()
            kept = self.ahead.take(path)
            if kept is not None:  # decoded ahead, and the file is still the one decoded
                self._show_kept(kept)
                if kept.side < side:  # for a smaller view than this one: shown until the sharper decode is here
                    self._decode_here(side)
            elif self.ahead.running(path, side):
                self._waiting = self._request  # on its way: not decoded twice (_ahead_ready)
                self._asked_side = side
                self.ahead.hold(path)
            else:
                self.ahead.drop_queued(path)  # decoded here now: not a second time behind the next photo's
                self._decode_here(side)
        self._fit_mode = True
        self.fit()

    def _ahead_ready(self, path: Path) -> None:
        """The look-ahead decoded ``path``: the photo shown, if it was waiting for it (else it is kept for later)."""
        if self._waiting is None or self._waiting != self._request or path != self._path:
            return
        self._waiting = None
        kept = self.ahead.take(path)
        if kept is None:  # it failed, or the file changed: the view's own decode says why / shows the new one
            self._decode_here(self.preview_side())
        else:
            self._show_kept(kept)

    def _ahead_printed(self, path: Path, version: tuple | None, pixel_print: bytes) -> None:
        """The look-ahead made the print of its decode of ``path`` (after the pixels): sent for the photo it was shown
        as (the photo shown, or one left since: its print is not lost to a quick step) when it is of the file the
        store had for it."""
        photo = self._prints_due.pop(path, None)
        if photo is None or not is_version(version, _store_version(photo)):
            return
        if photo is self._photo:
            self._on_printed(self._request, pixel_print)
        else:
            self.printed.emit((photo.id, pixel_print, _store_version(photo)))

    def close_folder(self) -> None:
        """The folder closed: no photo, nothing decoded ahead kept or on its way, no print still to send for it."""
        self.clear_photo()
        self.ahead.forget()
        self._prints_due.clear()

    def follow_view(self) -> None:
        """Decode the photo shown again when the view now needs a larger preview than it was shown or asked at (the
        window maximised, moved to a 200 % screen); the pixels shown stay until the new ones are here."""
        if self._path is None or self._photo is None or self.image_error or not self._asked_side:
            return
        side = self.preview_side()
        if side > max(self._asked_side, self._shown_side):
            self._decode_here(side)

    def _store_version(self) -> tuple | None:
        """:func:`_store_version` of the photo shown."""
        return _store_version(self._photo)

    def _decode_here(self, side: int) -> None:
        """The photo shown decoded by the view's own worker at preview ``side``."""
        self._asked_side = max(self._asked_side, side)
        self.pool.clear()  # a smaller decode of it not started yet is not wanted any more
        self.pool.submit(_LoadJob(self._signals, self._request, self._path, side, self._store_version()))

    def _show_kept(self, kept: Decoded) -> None:
        """Show the look-ahead's decode of the photo shown, and send its print when it is of the file the store has
        (a print still being made is sent when it is: _ahead_printed)."""
        self._asked_side = max(self._asked_side, kept.side)
        self._on_loaded(self._request, kept.image, "", kept.version, kept.side)
        version = self._store_version()
        if is_version(kept.version, version):
            if kept.pixel_print is not None:
                self._on_printed(self._request, kept.pixel_print)
            elif not self._print_sent:  # still being made: sent when it is, even if the reviewer moved on by then
                self._prints_due[kept.path] = self._photo
                while len(self._prints_due) > KEEP:
                    del self._prints_due[next(iter(self._prints_due))]

    def stop_workers(self, timeout: float = 2.0) -> bool:
        """Drop decodes not started and wait (at most ``timeout`` s in all) for the running ones of both
        workers, the preview's and the full-resolution detail's: no decode thread outlives the window."""
        deadline = time.monotonic() + timeout
        self.pool.clear()
        self.detail.pool.clear()
        done = self.pool.wait_for_done(timeout)
        done = self.ahead.stop(max(0.0, deadline - time.monotonic())) and done
        return self.detail.pool.wait_for_done(max(0.0, deadline - time.monotonic())) and done

    def _set_pixmap(self, pix: QPixmap) -> None:
        if self._pixmap_item is not None:
            self.scene().removeItem(self._pixmap_item)
        item = QGraphicsPixmapItem(pix)
        item.setTransformationMode(Qt.TransformationMode.SmoothTransformation)
        # the item's size is the pixmap's logical size: a HiDPI thumbnail (pixel ratio 2) has half its pixels
        item.setScale(self.sceneRect().width() / max(1e-9, pix.deviceIndependentSize().width()))
        item.setZValue(-1)
        self.scene().addItem(item)
        self._pixmap_item = item

    def _on_printed(self, request: int, pixel_print: bytes) -> None:
        if request == self._request and self._photo is not None and not self._print_sent:  # else a photo no longer
            self._print_sent = True  # shown, or one whose print went out from another decode of it
            self.printed.emit((self._photo.id, pixel_print, _store_version(self._photo)))

    def _on_loaded(self, request: int, img: QImage | None, error: str, version: Any = None, side: int = WHOLE) -> None:
        if request != self._request:
            return  # a photo that is no longer shown
        if img is None:
            if self.image_loaded:  # a larger decode failed (the file was cut short or replaced since): the preview
                return  # shown stays, as the detail's does
            self.image_error = error
            self.imageFailed.emit(error)
            return
        if side < self._shown_side:
            return  # a smaller decode that ended after a larger one of this photo
        self._shown_side = side
        self._set_pixmap(QPixmap.fromImage(img))
        self.image_loaded = True
        self._preview_scale = img.width() / max(1e-9, self.sceneRect().width())
        self.detail.schedule()  # zoomed in while the preview loaded: the detail follows it
        if self._path is not None:  # kept for a step back; then the neighbours, now that this photo is shown
            self.ahead.put(Decoded(self._path, version, img, "", None, side))
            self.ahead.want(self._neighbours, current=self._path, side=self.preview_side())

    def preview_scale(self) -> float:
        """Preview pixels per photo pixel (1 for a photo the preview holds whole; 0 before it is shown)."""
        return self._preview_scale

    @property
    def fit_mode(self) -> bool:
        """True while the whole photo is fitted to the view (not zoomed by the reviewer)."""
        return self._fit_mode

    # ---- bibs
    def set_bibs(self, bibs: list[Any], selected_id: int | None) -> None:
        """Draw ``bibs`` (the one ``selected_id`` with its handles). Every redraw of the photo shown comes here
        (a recognition result, another program's change, an edit, another bib selected): during a move/resize
        drag it waits for the release (the newest one is kept), so no refresh drops the box under the mouse."""
        if self._adjust is not None:
            self._deferred = (list(bibs), selected_id)
            return
        self._deferred = None
        for item in self._boxes:
            self.scene().removeItem(item)
        self._boxes = []
        self._selected_id = selected_id
        for b in bibs:
            if b.box is None:
                continue
            item = BibBoxItem(b, b.id == selected_id, self.devicePixelRatioF())
            self.scene().addItem(item)
            self._boxes.append(item)
        self._refresh_cursor()  # another box selected (or this one moved) under a mouse that did not move

    def box_items(self) -> list[BibBoxItem]:
        return list(self._boxes)

    # ---- zoom
    def fit(self) -> None:
        self._fit_mode = True
        if not self.sceneRect().isEmpty():
            self.fitInView(self.sceneRect(), Qt.AspectRatioMode.KeepAspectRatio)
        self._zoomed()

    def _zoomed(self) -> None:
        """The zoom changed (wheel, keys, fit, a zoom to a box): the detail follows, and so does the hover
        cursor, since what lies under the unmoved mouse changed (a box, a handle now within reach)."""
        self.detail.schedule()
        if QApplication.mouseButtons() == Qt.MouseButton.NoButton:  # (a pan's closed hand stays)
            self._refresh_cursor()

    def zoom_to_box(self, box: tuple[float, float, float, float] | None) -> None:
        if box is None:
            return
        x1, y1, x2, y2 = box
        w, h = x2 - x1, y2 - y1
        self._fit_mode = False
        self.fitInView(QRectF(x1 - w, y1 - h, 3 * w, 3 * h), Qt.AspectRatioMode.KeepAspectRatio)
        self._zoomed()

    def zoom_by(self, factor: float) -> None:
        self._fit_mode = False
        self.scale(factor, factor)
        self._zoomed()

    def zoom_level(self) -> float:
        return self.transform().m11()

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        if self._fit_mode:
            self.fit()
        self.detail.schedule()
        self._view_changed()

    def _view_changed(self) -> None:
        """The viewport's size or pixel ratio changed: a larger preview once it stays so (:meth:`follow_view`)."""
        if self._asked_side and self.preview_side() > max(self._asked_side, self._shown_side):
            self._regrow.start()

    def scrollContentsBy(self, dx: int, dy: int) -> None:
        super().scrollContentsBy(dx, dy)
        self.detail.schedule()  # a pan: the piece shown may not cover the view any more

    def viewportEvent(self, event) -> bool:
        """A touchpad's pinch zooms (it did nothing: only the wheel, a touchpad's two-finger scroll, zoomed)."""
        if event.type() == QEvent.Type.NativeGesture and event.gestureType() == Qt.NativeGestureType.ZoomNativeGesture:
            self._hover = QPointF(event.position())  # the fingers are over the view, here
            self.zoom_by(max(0.2, 1.0 + event.value()))
            event.accept()
            return True
        return super().viewportEvent(event)

    def wheelEvent(self, event) -> None:
        """The wheel (a touchpad's two-finger scroll up/down) zooms; a sideways scroll pans (it was dropped)."""
        delta = event.angleDelta().y()
        if not delta and event.angleDelta().x():
            super().wheelEvent(event)  # the horizontal scroll bar's
            return
        if delta:
            self._hover = QPointF(event.position())  # the mouse is over the view, here
            self.zoom_by(1.0015 ** delta)
        event.accept()

    @property
    def adjusting(self) -> bool:
        """A move/resize drag of a box is under way (nothing is written until the release)."""
        return self._adjust is not None

    # ---- drawing a new box
    @property
    def drawing(self) -> bool:
        return self._drawing

    def start_drawing(self) -> None:
        self._drawing = True
        self.setDragMode(QGraphicsView.DragMode.NoDrag)
        self._refresh_cursor()

    def box_being_drawn(self) -> tuple[float, float, float, float] | None:
        """The box placed so far while drawing (x1, y1, x2, y2 in photo pixels: arrows, or the mouse's drag), not
        taken yet; None when there is none."""
        if not self._drawing or self._rubber is None:
            return None
        r = self._rubber.rect()
        return (r.left(), r.top(), r.right(), r.bottom())

    def place_box_being_drawn(self, box: tuple[float, float, float, float]) -> None:
        """While drawing, put the box being drawn at ``box`` (:meth:`box_being_drawn` of a view closed meanwhile):
        arrows move and size it from there, Enter takes it."""
        if not self._drawing:
            return
        if self._rubber is not None:
            self.scene().removeItem(self._rubber)
        x1, y1, x2, y2 = box
        self._rubber = self.scene().addRect(QRectF(x1, y1, x2 - x1, y2 - y1), self._rubber_pen())

    def stop_drawing(self) -> None:
        self._drawing = False
        self._draw_start = self._draw_press = None
        if self._rubber is not None:
            self.scene().removeItem(self._rubber)
            self._rubber = None
        self.setDragMode(QGraphicsView.DragMode.ScrollHandDrag)
        self._refresh_cursor()  # (the view's pan cursor, or the box's under the mouse; it used to be the arrow)

    def scene_pos(self, pos: QPointF) -> QPointF:
        """Photo pixel under a viewport position, exact for fractional positions: with a fractional
        scale factor (QT_SCALE_FACTOR=1.5, 150 % displays) mouse positions fall between logical
        pixels, and ``mapToScene(QPoint)`` would round them first (by up to half a logical pixel,
        several photo pixels on a fitted large photo)."""
        return self.viewportTransform().inverted()[0].map(QPointF(pos))

    def _clamped(self, p: QPointF) -> QPointF:
        r = self.sceneRect()
        return QPointF(min(max(p.x(), r.left()), r.right()), min(max(p.y(), r.top()), r.bottom()))

    # ---- drawing a new box with the keyboard (B, then arrows / Shift+arrows, Enter; Escape cancels)
    _ARROWS = {Qt.Key.Key_Left: (-1, 0), Qt.Key.Key_Right: (1, 0), Qt.Key.Key_Up: (0, -1), Qt.Key.Key_Down: (0, 1)}

    def _box_key(self, event) -> bool:
        """A key that moves, sizes or takes the box being drawn (only while drawing)."""
        mods = event.modifiers() & ~Qt.KeyboardModifier.KeypadModifier
        key = Qt.Key(event.key())
        if key in self._ARROWS:
            return mods in (Qt.KeyboardModifier.NoModifier, Qt.KeyboardModifier.ShiftModifier)
        return key in (Qt.Key.Key_Return, Qt.Key.Key_Enter) and mods == Qt.KeyboardModifier.NoModifier and self._rubber is not None

    def event(self, event) -> bool:
        # while drawing, arrows and Enter belong to the box, not to the window's next-photo/accept shortcuts
        if event.type() == QEvent.Type.ShortcutOverride and self._drawing and self._box_key(event):
            event.accept()
            return True
        if event.type() == QEvent.Type.DevicePixelRatioChange:  # moved to a screen of another scale (200 %)
            self._view_changed()
        return super().event(event)

    def keyPressEvent(self, event) -> None:
        if not (self._drawing and self._box_key(event)):
            super().keyPressEvent(event)
            return
        event.accept()
        key = Qt.Key(event.key())
        if key in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
            self._finish_box(self._rubber.rect())
            return
        visible = self.mapToScene(self.viewport().rect()).boundingRect().intersected(self.sceneRect())
        if self._rubber is None:  # the first arrow puts a box in the middle of what is shown
            w, h = max(4.0, visible.width() / 6), max(4.0, visible.height() / 6)
            c = visible.center()
            self._rubber = self.scene().addRect(QRectF(c.x() - w / 2, c.y() - h / 2, w, h), self._rubber_pen())
            return
        step = max(1.0, visible.width() / 50)
        dx, dy = self._ARROWS[key]
        r = QRectF(self._rubber.rect())
        if event.modifiers() & Qt.KeyboardModifier.ShiftModifier:  # size: right/down grow, left/up shrink
            r.setWidth(max(2.0, r.width() + dx * step))
            r.setHeight(max(2.0, r.height() + dy * step))
        else:
            r.translate(dx * step, dy * step)
        r = r.intersected(self.sceneRect())
        if r.width() >= 2 and r.height() >= 2:
            self._rubber.setRect(r)
            self.ensureVisible(r, 10, 10)

    def _rubber_pen(self) -> QPen:
        pen = QPen(bib_look("human", None).colour, 2 * self.devicePixelRatioF(), Qt.PenStyle.DashLine)
        pen.setCosmetic(True)
        return pen

    def _finish_box(self, r: QRectF) -> None:
        self.stop_drawing()
        if r.width() >= 2 and r.height() >= 2:
            self.boxDrawn.emit((round(r.left(), 1), round(r.top(), 1), round(r.right(), 1), round(r.bottom(), 1)))

    def mousePressEvent(self, event) -> None:
        if self._drawing and event.button() == Qt.MouseButton.LeftButton:
            if self._rubber is not None:  # a box started with the keys gives way to the mouse
                self.scene().removeItem(self._rubber)
            self._draw_start = self._clamped(self.scene_pos(event.position()))
            self._draw_press = QPointF(event.position())
            self._rubber = self.scene().addRect(QRectF(self._draw_start, self._draw_start), self._rubber_pen())
            event.accept()
            return
        if not self._drawing and event.button() == Qt.MouseButton.LeftButton:
            scene_pos = self.scene_pos(event.position())
            if self._start_adjust(event.position(), scene_pos):
                event.accept()
                return
            hit = self.box_at(scene_pos)
            if hit is not None:
                self.bibClicked.emit(hit.bib_id)
        super().mousePressEvent(event)

    def mouseDoubleClickEvent(self, event) -> None:
        """A double click on a box edits its number (as one on its row in the bib panel); elsewhere, or while
        drawing, it is two clicks (the press and release before it did what a click does)."""
        if not self._drawing and event.button() == Qt.MouseButton.LeftButton:
            hit = self.box_at(self.scene_pos(event.position()))
            if hit is not None:
                event.accept()
                self.bibDoubleClicked.emit(hit.bib_id)
                return
        event.accept()

    def contextMenuEvent(self, event) -> None:
        """A right click: the window's menu of what can be done here (the box under the mouse first); the Menu key:
        the same for the selected box. It did nothing."""
        event.accept()
        hit = None
        if event.reason() == event.Reason.Mouse and not self._drawing:
            item = self.box_at(self.scene_pos(QPointF(event.pos())))  # (the viewport's event: its position)
            hit = item.bib_id if item is not None else None
        self.menuAsked.emit(hit, event.globalPos())

    # ---- moving / resizing the selected box with the mouse
    def box_at(self, scene_pos: QPointF) -> BibBoxItem | None:
        """The smallest box containing ``scene_pos`` (the one a click there selects), if any."""
        hits = [b for b in self._boxes if b.rect().contains(scene_pos)]
        return min(hits, key=lambda b: b.rect().width() * b.rect().height()) if hits else None

    def selected_item(self) -> BibBoxItem | None:
        return next((b for b in self._boxes if b.selected), None)

    def handle_at(self, pos: QPointF) -> int | None:
        """The selected box's corner (0 top-left, 1 top-right, 2 bottom-right, 3 bottom-left) whose
        handle is under viewport position ``pos``, if any."""
        item = self.selected_item()
        if item is None:
            return None
        t = self.viewportTransform()
        best = None
        for i, c in enumerate(item.corners()):
            v = t.map(c)
            d = max(abs(v.x() - pos.x()), abs(v.y() - pos.y()))
            if d <= HANDLE_GRAB and (best is None or d < best[0]):
                best = (d, i)
        return None if best is None else best[1]

    def _adjust_at(self, pos: QPointF, scene_pos: QPointF) -> tuple[BibBoxItem, int | None] | None:
        """What a press at viewport ``pos`` (photo pixel ``scene_pos``) adjusts: on a handle of the selected
        box (item, that corner), a resize; inside it (and not inside a smaller box drawn over it, which a
        click selects) (item, None), a move; elsewhere None."""
        item = self.selected_item()
        if item is None:
            return None
        corner = self.handle_at(pos)
        if corner is None and self.box_at(scene_pos) is not item:
            return None
        return item, corner

    def _start_adjust(self, pos: QPointF, scene_pos: QPointF) -> bool:
        """A press that :meth:`_adjust_at` gives a box starts its resize or move."""
        target = self._adjust_at(pos, scene_pos)
        if target is None:
            return False
        item, corner = target
        r = item.rect()
        self._adjust = (item, corner, QPointF(scene_pos), (r.left(), r.top(), r.right(), r.bottom()))
        self.viewport().setCursor(_ADJUST_CURSORS[corner])
        return True

    # ---- the hover cursor: what a press here would do
    def cursor_at(self, pos: QPointF) -> Qt.CursorShape:
        """The cursor for viewport position ``pos`` with no button pressed, by the same rules as a press
        (:meth:`_adjust_at`): the cross while drawing; on a corner handle of the selected box the diagonal
        resize cursor of that corner; inside the selected box (not inside a smaller box over it, which a
        click selects) the move cursor; over any other box the pointing hand (a press selects it); elsewhere the
        open hand of panning (the drag mode's own cursor)."""
        if self._drawing:
            return Qt.CursorShape.CrossCursor
        scene_pos = self.scene_pos(pos)
        target = self._adjust_at(pos, scene_pos)
        if target is not None:
            return _ADJUST_CURSORS[target[1]]
        if self.box_at(scene_pos) is not None:  # another box (the selected one is an adjust target): a press selects it
            return Qt.CursorShape.PointingHandCursor
        return Qt.CursorShape.OpenHandCursor

    def _refresh_cursor(self, pos: QPointF | None = None) -> None:
        """Set the hover cursor for ``pos`` (default: where the mouse last was); not during a drag, whose
        cursor was set by its press."""
        if pos is not None:
            self._hover = QPointF(pos)
        if self._adjust is not None or (self._drawing and self._draw_start is not None):
            return
        if self._hover is None:
            shape = Qt.CursorShape.CrossCursor if self._drawing else Qt.CursorShape.OpenHandCursor
        else:
            shape = self.cursor_at(self._hover)
        if self.viewport().cursor().shape() != shape:
            self.viewport().setCursor(shape)

    def leaveEvent(self, event) -> None:
        self._hover = None
        super().leaveEvent(event)

    def _adjusted_box(self, scene_pos: QPointF) -> tuple:
        assert self._adjust is not None
        _item, corner, start, box = self._adjust
        r = self.sceneRect()
        if corner is None:
            return box_adjust.moved(box, scene_pos.x() - start.x(), scene_pos.y() - start.y(), r.width(), r.height())
        return box_adjust.resized(box, corner, scene_pos.x(), scene_pos.y(), r.width(), r.height())

    def mouseMoveEvent(self, event) -> None:
        if self._drawing and self._draw_start is not None and self._rubber is not None:
            p = self._clamped(self.scene_pos(event.position()))
            self._rubber.setRect(QRectF(self._draw_start, p).normalized())
            event.accept()
            return
        if self._adjust is not None:
            x1, y1, x2, y2 = self._adjusted_box(self.scene_pos(event.position()))
            self._adjust[0].set_box(QRectF(x1, y1, x2 - x1, y2 - y1))  # the live rectangle
            event.accept()
            return
        if event.buttons() == Qt.MouseButton.NoButton:
            self._refresh_cursor(event.position())
        super().mouseMoveEvent(event)

    def mouseReleaseEvent(self, event) -> None:
        if self._drawing and self._draw_start is not None and event.button() == Qt.MouseButton.LeftButton:
            p = self._clamped(self.scene_pos(event.position()))
            r = QRectF(self._draw_start, p).normalized()
            event.accept()
            moved = (event.position() - (self._draw_press or event.position())).manhattanLength()
            if moved < QApplication.startDragDistance() or r.width() < 2 or r.height() < 2:
                # a click (a touchpad's tap) or a flat drag: no box. It ended the drawing without a word (the
                # "Drag a box …" instructions stayed up); the drawing goes on and the window says to drag
                self.scene().removeItem(self._rubber)
                self._rubber = self._draw_start = self._draw_press = None
                self.drawMissed.emit()
                return
            self._finish_box(r)
            return
        if self._adjust is not None and event.button() == Qt.MouseButton.LeftButton:
            item, _corner, _start, box = self._adjust
            new = self._adjusted_box(self.scene_pos(event.position()))
            self._adjust = None
            event.accept()
            x1, y1, x2, y2 = box
            item.set_box(QRectF(x1, y1, x2 - x1, y2 - y1))  # shown as stored until the edit is saved
            if new != box_adjust.rounded(box):
                self.boxAdjusted.emit(item.bib_id, new)  # the window saves it and redraws the boxes
            if self._deferred is not None:  # a refresh that came during the drag (and no redraw since)
                self.set_bibs(*self._deferred)
            self._refresh_cursor(event.position())  # the hover cursor again (it used to become the arrow)
            return
        super().mouseReleaseEvent(event)
        if event.buttons() == Qt.MouseButton.NoButton:
            self._refresh_cursor(event.position())  # after a pan (Qt leaves its open hand) or a click
