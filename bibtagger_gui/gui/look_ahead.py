"""The list's neighbours of the photo shown, decoded for the view before they are asked for (docs/gui.md#look-ahead).

A 24 MP JPEG takes ~70-130 ms to decode at the view's size, every J or Enter. Once the photo shown has its
pixels, :class:`LookAhead` decodes the next and the previous photo of the list on a thread of its own, at the
preview side the view asks for (``want(..., side=)``), and keeps them (with the photo just shown: at most
:data:`KEEP` images, 4.5-13 MB each). The view then shows a kept one at once, or waits for the one being
decoded instead of decoding it again. Each decode's pixels go to the view first; the pixel print made of them
follows (``printed``), so a view waiting for the decode does not wait for the print too.

A kept image is used only while its file is the one decoded: size, mtime and change time are read again when
it is taken (a photo another program replaced is decoded anew, also one of the same length whose mtime was put
back: docs/store.md#file-versions). One kept for a smaller view than the one asked for
now is decoded again at the new side. Qt-free apart from the signals; the decode is the view's own
(``photo_view.decode_for_view``).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, Signal

from bibtagger_gui.core.catalogue import file_version
from bibtagger_gui.gui.threads import Task, WorkQueue, emit_if_alive

KEEP = 3  # the photo shown, the next and the previous one


@dataclass(frozen=True)
class Decoded:
    """One photo decoded for the view: ``image`` (a QImage) or ``error``; ``version`` = its file's file_version
    before and after the decode (None: it changed meanwhile, not kept); ``pixel_print`` of the decoded pixels (None
    until the print is made, after the pixels went out); ``side``: the largest preview side (photo_view.preview_side)
    the image serves, its long side, or ``photo_view.WHOLE`` when it holds every pixel of the file."""

    path: Path
    version: tuple[int, float, int | None] | None
    image: Any
    error: str
    pixel_print: bytes | None
    side: int = 0


#: what a decode function returns: the decode, and what makes its pixel print (called after the decode went out)
Decode = Callable[[Path, int], "tuple[Decoded, Callable[[], bytes | None] | None]"]


@dataclass
class _Ahead:
    """One decode asked of the thread: its task, its number (a replaced one's result is dropped), its side."""

    task: Task
    token: int
    side: int


class _Signals(QObject):
    done = Signal(object, int)  # Decoded, its job's token
    printed = Signal(object, int, object, object)  # path, token, the decode's file version, pixel print


class LookAhead(QObject):
    """Decodes ahead of the view and keeps the last :data:`KEEP` photos; ``ready(path)`` when one is done, then
    ``printed(path, version, pixel print)`` once its print is made."""

    ready = Signal(object)  # Path
    printed = Signal(object, object, object)  # Path, the decoded file's file_version, pixel print

    def __init__(self, decode: Decode, parent: QObject | None = None, keep: int = KEEP):
        super().__init__(parent)
        self.decode = decode
        self.keep = max(1, keep)
        self.pool = WorkQueue(1, lifo=False, name="photo-ahead")
        self._signals = _Signals(self)
        self._signals.done.connect(self._done)
        self._signals.printed.connect(self._printed)
        self._kept: OrderedDict[Path, Decoded] = OrderedDict()
        self._tokens: dict[Path, int] = {}  # the job a kept decode came from (its print goes with it)
        self._tasks: dict[Path, _Ahead] = {}  # decodes queued, running, or done with their result not yet here
        self._wanted: set[Path] = set()  # what the last want() asked for, the photo shown included
        self._count = 0

    # ---- what the view asks
    def want(self, paths: Iterable[Path], current: Path | None = None, side: int = 0) -> None:
        """Decode ``paths`` (the list's neighbours, nearest first) at preview ``side`` unless kept at that side or on
        their way at it; what is kept for other photos than these and ``current`` is let go, and so are queued decodes
        no longer wanted. A neighbour kept or queued at a smaller side is decoded again at ``side`` (a running one
        ends, and its result is dropped)."""
        paths = [Path(p) for p in paths]
        self._wanted = wanted = set(paths) | ({Path(current)} if current is not None else set())
        for path in [p for p in self._kept if p not in wanted or (p in paths and self._kept[p].side < side)]:
            del self._kept[path]
        for path, ahead in list(self._tasks.items()):
            if (path not in wanted or ahead.side < side) and self.pool.try_take(ahead.task):
                del self._tasks[path]
        for path in paths:
            if path not in self._kept and (path not in self._tasks or self._tasks[path].side < side):
                self._count += 1
                self._tasks[path] = _Ahead(self.pool.submit(self._job(path, side, self._count)), self._count, side)

    def put(self, decoded: Decoded) -> None:
        """Keep a decode the view made itself (the photo shown: stepping back to it needs no decode)."""
        if decoded.version is None or decoded.image is None:
            return
        self._kept[decoded.path] = decoded
        self._kept.move_to_end(decoded.path)
        self._tokens.pop(decoded.path, None)
        while len(self._kept) > self.keep:
            self._tokens.pop(self._kept.popitem(last=False)[0], None)

    def take(self, path: Path) -> Decoded | None:
        """The kept decode of ``path`` while its file is still the one decoded; else None (and it is let go)."""
        path = Path(path)
        decoded = self._kept.get(path)
        if decoded is None:
            return None
        if file_version(path) != decoded.version:
            del self._kept[path]
            return None
        self._kept.move_to_end(path)
        return decoded

    def running(self, path: Path, side: int = 0) -> bool:
        """A decode of ``path`` at ``side`` or more has started and its result is not here yet (running, or done and on
        its way to this thread): the view waits for it rather than decode it twice."""
        ahead = self._tasks.get(Path(path))
        return ahead is not None and ahead.task.started and ahead.side >= side

    def hold(self, path: Path) -> None:
        """The view waits for the running decode of ``path`` (the photo it shows now): keep its result whatever the
        last :meth:`want` asked for."""
        self._wanted.add(Path(path))

    def drop_queued(self, path: Path) -> bool:
        """Drop the decode of ``path`` if it is queued, not started (the view decodes it itself now); True when dropped."""
        path = Path(path)
        ahead = self._tasks.get(path)
        if ahead is None or not self.pool.try_take(ahead.task):
            return False
        del self._tasks[path]
        return True

    def kept(self) -> list[Path]:
        return list(self._kept)

    def forget(self) -> None:
        """Drop queued decodes and let go of what is kept; a running decode's result is not kept (the folder closed)."""
        self.pool.clear()
        self._tasks.clear()
        self._kept.clear()
        self._tokens.clear()
        self._wanted = set()

    def stop(self, timeout: float = 2.0) -> bool:
        """:meth:`forget`, then wait for a running decode (at most ``timeout`` s)."""
        self.forget()
        return self.pool.wait_for_done(timeout)

    # ---- the decode thread
    def _job(self, path: Path, side: int, token: int) -> Callable[[], None]:
        signals, decode = self._signals, self.decode

        def job() -> None:
            try:
                decoded, make_print = decode(path, side)
            except Exception as exc:  # noqa: BLE001 - a view waiting for it must hear, or it waits for ever
                decoded, make_print = Decoded(path, None, None, str(exc), None), None
            emit_if_alive(signals.done, decoded, token)  # the pixels first: a view may be waiting for them
            if make_print is not None:
                try:
                    pixel_print = make_print()
                except Exception:  # noqa: BLE001 - only the print is lost (the view's own decode makes one later)
                    pixel_print = None
                if pixel_print is not None:
                    emit_if_alive(signals.printed, path, token, decoded.version, pixel_print)

        return job

    def _done(self, decoded: Decoded, token: int) -> None:
        ahead = self._tasks.get(decoded.path)
        if ahead is None or ahead.token != token:
            return  # let go meanwhile (want() moved on, stop()), or replaced by a decode at a larger side
        del self._tasks[decoded.path]
        kept = self._kept.get(decoded.path)
        sharper = kept is not None and kept.version == decoded.version and kept.side > decoded.side
        if decoded.version is not None and decoded.path in self._wanted and not sharper:  # else the list moved on
            self.put(decoded)  # meanwhile: not kept (it would push out the photo shown); nor when the view put a
            self._tokens[decoded.path] = token  # sharper decode of the same file meanwhile (a blur on return)
        self.ready.emit(decoded.path)

    def _printed(self, path: Path, token: int, version: tuple | None, pixel_print: bytes) -> None:
        kept = self._kept.get(path)
        if kept is not None and self._tokens.get(path) == token:  # the kept decode it was made of: kept with it
            self._kept[path] = replace(kept, pixel_print=pixel_print)
        self.printed.emit(path, version, pixel_print)
