"""Thumbnails made off the GUI thread, cached in memory (LRU) and on disk.

``ThumbnailProvider.get(photo)`` never decodes anything: it answers from the
in-memory LRU or returns None and queues a :class:`_ThumbJob` on its own
:class:`~bibtagger_gui.gui.threads.WorkQueue` (newest request first). The job first looks for ``<cache_dir>/<aa>/<key>.jpg``; otherwise it
decodes the photo with a reduced JPEG decode (``load_image(max_side=...)``, EXIF
orientation applied), writes the small JPEG to the disk cache and hands a QImage
back through a queued signal. The provider turns it into a QPixmap in the GUI
thread and emits ``ready(photo_id)``. Every request gets a ticket; a result is kept only while
its ticket is the photo's current one, so ``reset()`` (new folder) and ``forget()`` (the file
changed) drop the late results of requests made before them.

Thumbnails follow the screen's device pixel ratio (``ratio``: a callable, the list view's
``devicePixelRatioF``): at 200 % a 160 px thumbnail is made from a 320 px decode, 320 device pixels wide
with ``setDevicePixelRatio(2)`` (160 logical pixels, sharp); a cached one made for another ratio (the
window moved to another screen) is shown until its re-render arrives. The memory budget counts the
pixmaps' real bytes. See docs/gui.md#thumbnails-and-caching.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtGui import QIcon, QImage, QPainter, QPixmap

from bibtagger_gui.core.imageio import ImageError, load_image
from bibtagger_gui.gui.qimage import rgb_to_qimage
from bibtagger_gui.gui.threads import WorkQueue, emit_if_alive

THUMB_SIZE = 160
#: Memory for the thumbnails kept as pixmaps (MiB), in real bytes. One is a 160x106 ARGB canvas, 66 KiB,
#: so 64 MiB keep ~990 of them at 100 % (~250 at 200 %, where each has 4x the pixels): every row a reviewer
#: scrolled past recently; older ones come back from the disk cache in about a millisecond. (The former cap
#: of 3,000 items held ~200 MB after a walk through a 3,000-photo shoot; docs/gui.md#thumbnails-and-caching.)
MEMORY_BUDGET_MB = 64


def canvas_pixels(size: int = THUMB_SIZE, ratio: float = 1.0) -> tuple[int, int]:
    """Device pixels of a thumbnail's fixed 3:2 canvas of ``size`` logical pixels at pixel ratio ``ratio``."""
    return max(1, round(size * ratio)), max(1, round(size * 2 // 3 * ratio))


def thumb_bytes(size: int = THUMB_SIZE, ratio: float = 1.0) -> int:
    """Bytes of one thumbnail pixmap: the fixed 3:2 canvas in device pixels, 4 bytes a pixel."""
    w, h = canvas_pixels(size, ratio)
    return w * h * 4


def pixmap_bytes(pix: QPixmap) -> int:
    """The real bytes of a pixmap's pixels."""
    return pix.width() * pix.height() * pix.depth() // 8


def thumb_key(photo: Any) -> str:
    """Cache key of a photo's thumbnail: changes when the file changes."""
    raw = f"{photo.relpath}\0{getattr(photo, 'size', '')}\0{getattr(photo, 'mtime', '')}\0{getattr(photo, 'sha1', '')}"
    return hashlib.sha1(raw.encode("utf-8", "surrogatepass")).hexdigest()


class _Emitter(QObject):
    done = Signal(int, int, object, float)  # ticket, photo_id, QImage, the pixel ratio it was made for
    failed = Signal(int, int, str)


class _ThumbJob:
    def __init__(self, emitter: _Emitter, ticket: int, photo_id: int, path: Path, disk: Path | None, size: int,
                 ratio: float = 1.0):  # fmt: skip
        self.emitter, self.ticket, self.photo_id = emitter, ticket, photo_id
        self.path, self.disk, self.size, self.ratio = path, disk, size, ratio

    def __call__(self) -> None:  # worker thread: no QPixmap, no store
        try:
            if self.disk is not None and self.disk.is_file():
                img = QImage(str(self.disk))
                if not img.isNull():
                    emit_if_alive(self.emitter.done, self.ticket, self.photo_id, img, self.ratio)
                    return
            img = rgb_to_qimage(load_image(self.path, max_side=self.size))
            if self.disk is not None:
                try:
                    self.disk.parent.mkdir(parents=True, exist_ok=True)
                    tmp = self.disk.with_suffix(f".{self.ticket}.tmp.jpg")  # two jobs for one photo never share it
                    if img.save(str(tmp), "JPG", 85):
                        tmp.replace(self.disk)
                except OSError:
                    pass  # a cache that cannot be written is only slower
            emit_if_alive(self.emitter.done, self.ticket, self.photo_id, img, self.ratio)  # dropped when the provider is gone
        except ImageError as exc:
            emit_if_alive(self.emitter.failed, self.ticket, self.photo_id, exc.message)
        except Exception as exc:  # never let a worker die silently
            emit_if_alive(self.emitter.failed, self.ticket, self.photo_id, str(exc))


class ThumbnailProvider(QObject):
    """Asynchronous thumbnails with an in-memory LRU and an optional disk cache.

    ``size`` is in logical pixels; ``ratio`` gives the device pixel ratio to render for (default 1).
    The LRU keeps at most ``budget_mb`` of pixmap bytes (and ``max_items`` thumbnails when given)."""

    ready = Signal(int)  # photo_id
    failed = Signal(int, str)

    def __init__(self, parent: QObject | None = None, size: int = THUMB_SIZE, max_items: int | None = None,
                 threads: int = 2, budget_mb: float = MEMORY_BUDGET_MB,
                 ratio: Callable[[], float] | None = None):  # fmt: skip
        super().__init__(parent)
        self.size = size
        self.max_items = max_items  # a cap on the count beside the budget (None: the budget alone)
        self.budget_bytes = int(budget_mb * 2**20)
        self.ratio_source = ratio
        self._bytes = 0  # real bytes of the pixmaps in the LRU
        self.pool = WorkQueue(threads, lifo=True, name="thumbnails")
        self.folder: Path | None = None
        self.cache_dir: Path | None = None
        self._tickets = 0  # requests made so far: each one's ticket
        self._current: dict[int, int] = {}  # photo_id -> ticket of its pending request (the result wanted)
        self._lru: OrderedDict[int, QPixmap] = OrderedDict()
        self._icons: dict[int, QIcon] = {}
        self._failed: dict[int, str] = {}
        self._emitter = _Emitter(self)
        self._emitter.done.connect(self._on_done)
        self._emitter.failed.connect(self._on_failed)

    def reset(self, folder: Path | None, cache_dir: Path | None) -> None:
        """Forget everything (new folder); results of queued/running jobs are dropped."""
        self._current.clear()  # late results of the old folder's requests are dropped
        self.pool.clear()
        self._lru.clear()
        self._bytes = 0
        self._icons.clear()
        self._failed.clear()
        self.folder, self.cache_dir = folder, cache_dir

    def ratio(self) -> float:
        """The device pixel ratio thumbnails are made for now (the screen the list is on)."""
        r = float(self.ratio_source()) if self.ratio_source is not None else 1.0
        return r if r > 0 else 1.0

    @property
    def held_bytes(self) -> int:
        """Real bytes of the pixmaps kept in memory."""
        return self._bytes

    @property
    def pending(self) -> int:
        return len(self._current)

    def failure(self, photo_id: int) -> str | None:
        """The message of a thumbnail that could not be made (not retried until reset)."""
        return self._failed.get(photo_id)

    def forget(self, photo_id: int) -> None:
        """Drop one photo's cached thumbnail/failure (e.g. the file changed), and the result of a request
        already on its way (it may have been made from the old file's disk-cache entry)."""
        self._current.pop(photo_id, None)
        self._drop(photo_id)
        self._failed.pop(photo_id, None)

    def cached(self, photo_id: int) -> QPixmap | None:
        pix = self._lru.get(photo_id)
        if pix is not None:
            self._lru.move_to_end(photo_id)
        return pix

    def icon(self, photo: Any) -> QIcon | None:
        """Like :meth:`get` as a QIcon (views draw it scaled into their icon size, aspect kept)."""
        pix = self.get(photo)
        if pix is None:
            return None
        icon = self._icons.get(photo.id)
        if icon is None:
            icon = self._icons[photo.id] = QIcon(pix)
        return icon

    def get(self, photo: Any) -> QPixmap | None:
        """The thumbnail if cached in memory, else None (and it is being made). One made for another pixel
        ratio (the window moved to another screen) is returned while the one for this ratio is made."""
        pix = self.cached(photo.id)
        self.request(photo)  # (nothing when it is cached for the current ratio)
        return pix

    def request(self, photo: Any) -> None:
        """Queue the making of ``photo``'s thumbnail for the current pixel ratio, unless it is cached for
        it, already on its way, or failed."""
        if photo.id in self._current or photo.id in self._failed or self.folder is None:
            return
        ratio = self.ratio()
        pix = self._lru.get(photo.id)
        if pix is not None and pix.devicePixelRatio() == ratio:
            return
        self._tickets += 1
        self._current[photo.id] = self._tickets
        key = thumb_key(photo)
        px = canvas_pixels(self.size, ratio)[0]
        name = key if px == self.size else f"{key}-{px}"  # at 100 % the file is named as it always was
        disk = self.cache_dir / key[:2] / f"{name}.jpg" if self.cache_dir is not None else None
        self.pool.submit(_ThumbJob(self._emitter, self._tickets, photo.id, self.folder / photo.relpath, disk, px, ratio))

    def _wanted(self, ticket: int, photo_id: int) -> bool:
        if self._current.get(photo_id) != ticket:
            return False  # made before a reset() or forget(): stale
        del self._current[photo_id]
        return True

    def _on_done(self, ticket: int, photo_id: int, img: QImage, ratio: float = 1.0) -> None:
        if not self._wanted(ticket, photo_id):
            return
        self._drop(photo_id)  # one made for another ratio
        pix = self._lru[photo_id] = self._framed(img, ratio)
        self._bytes += pixmap_bytes(pix)
        while len(self._lru) > 1 and (self._bytes > self.budget_bytes or
                                      (self.max_items is not None and len(self._lru) > self.max_items)):  # fmt: skip
            self._drop(next(iter(self._lru)))  # the least recently used
        self.ready.emit(photo_id)

    def _drop(self, photo_id: int) -> None:
        pix = self._lru.pop(photo_id, None)
        if pix is not None:
            self._bytes -= pixmap_bytes(pix)
        self._icons.pop(photo_id, None)

    def _framed(self, img: QImage, ratio: float = 1.0) -> QPixmap:
        """The thumbnail centred on a fixed 3:2 canvas, so list rows line up for any orientation; at pixel
        ratio ``ratio`` the canvas has ``ratio`` times the pixels and says so (``setDevicePixelRatio``), so
        it keeps its logical size and is drawn without being scaled up."""
        w, h = canvas_pixels(self.size, ratio)
        pix = QPixmap(w, h)
        pix.fill(Qt.GlobalColor.transparent)
        scaled = img.scaled(w, h, Qt.AspectRatioMode.KeepAspectRatio, Qt.TransformationMode.SmoothTransformation)
        painter = QPainter(pix)
        painter.drawImage((w - scaled.width()) // 2, (h - scaled.height()) // 2, scaled)
        painter.end()
        pix.setDevicePixelRatio(ratio)
        return pix

    def _on_failed(self, ticket: int, photo_id: int, message: str) -> None:
        if not self._wanted(ticket, photo_id):
            return
        self._failed[photo_id] = message
        self.failed.emit(photo_id, message)
