"""The list's neighbours of the photo shown, decoded for the view before they are asked for (docs/gui.md#look-ahead).

A 24 MP JPEG takes ~100 ms to decode at the view's size, every J or Enter. Once the photo shown has its
pixels, :class:`LookAhead` decodes the next and the previous photo of the list on a thread of its own and
keeps them (with the photo just shown: at most :data:`KEEP` images, ~13 MB each at 2560 px). The view
then shows a kept one at once, or waits for the one being decoded instead of decoding it again.

A kept image is used only while its file is the one decoded: size, mtime and change time are read again when
it is taken (a photo another program replaced is decoded anew, also one of the same length whose mtime was put
back: docs/store.md#file-versions). Qt-free apart from the signal that says a
decode is done; the decode is the view's own (``photo_view.decode_for_view``).
"""

from __future__ import annotations

import os
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, Signal

from bibtagger_gui.core.catalogue import change_ns
from bibtagger_gui.gui.threads import Task, WorkQueue, emit_if_alive

KEEP = 3  # the photo shown, the next and the previous one


def file_version(path: Path) -> tuple[int, float, int | None] | None:
    """(size, mtime, change time) of ``path`` now (``core.catalogue.change_ns``: None on Windows); None when it
    cannot be read."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_size, st.st_mtime, change_ns(st))


def is_version(now: tuple | None, stored: tuple | None) -> bool:
    """Whether a :func:`file_version` is the store's (size, mtime, change time) of the file: a change time the store
    does not know yet (None: a project an older bibtagger wrote, until the next scan) is not compared."""
    if now is None or stored is None or now[:2] != stored[:2]:
        return False
    return stored[2] is None or now[2] == stored[2]


@dataclass(frozen=True)
class Decoded:
    """One photo decoded for the view: ``image`` (a QImage) or ``error``; ``version`` = its file's file_version
    before and after the decode (None: it changed meanwhile, not kept); ``pixel_print`` of the decoded pixels."""

    path: Path
    version: tuple[int, float, int | None] | None
    image: Any
    error: str
    pixel_print: bytes | None


class _Signals(QObject):
    done = Signal(object)  # Decoded


class LookAhead(QObject):
    """Decodes ahead of the view and keeps the last :data:`KEEP` photos; ``ready(path)`` when one is done."""

    ready = Signal(object)  # Path

    def __init__(self, decode: Callable[[Path], Decoded], parent: QObject | None = None, keep: int = KEEP):
        super().__init__(parent)
        self.decode = decode
        self.keep = max(1, keep)
        self.pool = WorkQueue(1, lifo=False, name="photo-ahead")
        self._signals = _Signals(self)
        self._signals.done.connect(self._done)
        self._kept: OrderedDict[Path, Decoded] = OrderedDict()
        self._tasks: dict[Path, Task] = {}  # decodes queued, running, or done with their result not yet here
        self._wanted: set[Path] = set()  # what the last want() asked for, the photo shown included

    # ---- what the view asks
    def want(self, paths: Iterable[Path], current: Path | None = None) -> None:
        """Decode ``paths`` (the list's neighbours, nearest first) unless kept or on their way; what is kept
        for other photos than these and ``current`` is let go, and so are queued decodes no longer wanted."""
        paths = [Path(p) for p in paths]
        self._wanted = wanted = set(paths) | ({Path(current)} if current is not None else set())
        for path in [p for p in self._kept if p not in wanted]:
            del self._kept[path]
        for path, task in list(self._tasks.items()):
            if path not in wanted and self.pool.try_take(task):
                del self._tasks[path]
        for path in paths:
            if path not in self._kept and path not in self._tasks:
                self._tasks[path] = self.pool.submit(self._job(path))

    def put(self, decoded: Decoded) -> None:
        """Keep a decode the view made itself (the photo shown: stepping back to it needs no decode)."""
        if decoded.version is None or decoded.image is None:
            return
        self._kept[decoded.path] = decoded
        self._kept.move_to_end(decoded.path)
        while len(self._kept) > self.keep:
            self._kept.popitem(last=False)

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

    def running(self, path: Path) -> bool:
        """A decode of ``path`` has started and its result is not here yet (running, or done and on its way to this
        thread): the view waits for it rather than decode it twice."""
        task = self._tasks.get(Path(path))
        return task is not None and task.started

    def hold(self, path: Path) -> None:
        """The view waits for the running decode of ``path`` (the photo it shows now): keep its result whatever the
        last :meth:`want` asked for."""
        self._wanted.add(Path(path))

    def drop_queued(self, path: Path) -> bool:
        """Drop the decode of ``path`` if it is queued, not started (the view decodes it itself now); True when dropped."""
        path = Path(path)
        task = self._tasks.get(path)
        if task is None or not self.pool.try_take(task):
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
        self._wanted = set()

    def stop(self, timeout: float = 2.0) -> bool:
        """:meth:`forget`, then wait for a running decode (at most ``timeout`` s)."""
        self.forget()
        return self.pool.wait_for_done(timeout)

    # ---- the decode thread
    def _job(self, path: Path) -> Callable[[], None]:
        signals, decode = self._signals, self.decode

        def job() -> None:
            try:
                decoded = decode(path)
            except Exception as exc:  # noqa: BLE001 - a view waiting for it must hear, or it waits for ever
                decoded = Decoded(path, None, None, str(exc), None)
            emit_if_alive(signals.done, decoded)

        return job

    def _done(self, decoded: Decoded) -> None:
        if self._tasks.pop(decoded.path, None) is None:
            return  # let go meanwhile (want() moved on, stop())
        if decoded.version is not None and decoded.path in self._wanted:  # else the list moved on meanwhile: not
            self.put(decoded)  # kept (it would push out the photo shown)
        self.ready.emit(decoded.path)
