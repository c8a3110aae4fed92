"""The photos a recognition run still has to do, in the order the reviewer needs them (Qt-free).

A :class:`RecognitionQueue` is shared by two threads: the recognition job's worker thread takes one
photo id at a time (:meth:`~RecognitionQueue.take`), and the window says which photos the reviewer is
about to look at (:meth:`~RecognitionQueue.prefer`: the photo shown and the next few of the list);
those are taken first, the rest in the order the run was started with. An id is taken once at most,
so nothing is recognized twice however often the preference changes. :meth:`~RecognitionQueue.pause`
makes ``take`` wait (the photo being recognized is finished, no new one is started) until
:meth:`~RecognitionQueue.resume` or until the job is stopped (docs/gui.md#recognition-follows-the-reviewer).
"""

from __future__ import annotations

import threading
from typing import Callable, Iterable, Sequence, TypeVar

T = TypeVar("T")

#: How many photos after the one shown (in list order) are preferred: at ~10 photos/s they are ready in
#: about 2 s, while a reviewer spends seconds on each photo, so recognition stays ahead of the review.
AHEAD = 20

#: How often a paused ``take`` looks at its ``stopped`` callable (a cancel also wakes it at once).
POLL_S = 0.2


class RecognitionQueue:
    """Photo ids to recognize: the preferred ones first, then the rest in their original order."""

    def __init__(self, photo_ids: Iterable[int]):
        self._order: list[int] = list(dict.fromkeys(photo_ids))  # once each, in the order given
        self._pending: set[int] = set(self._order)
        self._next = 0  # position in _order of the first id that may still be pending
        self._front: list[int] = []  # preferred ids, first to take at the end (reversed)
        self._paused = False
        self._cond = threading.Condition()

    @property
    def total(self) -> int:
        """How many photos the run was started with."""
        return len(self._order)

    @property
    def remaining(self) -> int:
        with self._cond:
            return len(self._pending)

    @property
    def paused(self) -> bool:
        return self._paused

    def prefer(self, photo_ids: Sequence[int]) -> list[int]:
        """Take these photos next, in this order (those still to do); replaces the previous preference.
        Returns the preferred ids still to do."""
        with self._cond:
            front = [i for i in dict.fromkeys(photo_ids) if i in self._pending]
            self._front = front[::-1]
            return front

    def take(self, stopped: Callable[[], bool] = lambda: False) -> int | None:
        """The next photo id to recognize, or None when there is none left or ``stopped()`` is true.
        Waits while paused (the job's thread; a :meth:`wake` or every :data:`POLL_S` looks again)."""
        with self._cond:
            while self._paused and not stopped():
                self._cond.wait(POLL_S)
            if stopped():
                return None
            while self._front:
                pid = self._front.pop()
                if pid in self._pending:
                    self._pending.discard(pid)
                    return pid
            while self._next < len(self._order):
                pid = self._order[self._next]
                self._next += 1
                if pid in self._pending:
                    self._pending.discard(pid)
                    return pid
            return None

    def wait_while_paused(self, stopped: Callable[[], bool] = lambda: False) -> None:
        """Return once not paused or once ``stopped()`` (work that is not taken one photo at a time:
        the run's closing fingerprinting)."""
        with self._cond:
            while self._paused and not stopped():
                self._cond.wait(POLL_S)

    def pause(self) -> None:
        with self._cond:
            self._paused = True

    def resume(self) -> None:
        with self._cond:
            self._paused = False
            self._cond.notify_all()

    def wake(self) -> None:
        """Make a waiting :meth:`take` look at its ``stopped`` callable now (a cancel)."""
        with self._cond:
            self._cond.notify_all()


def reviewer_window(rows: Sequence[T], current: int | None, current_row: int | None, ahead: int = AHEAD,
                    key: Callable[[T], int] = lambda r: r) -> list[int]:  # type: ignore[assignment,return-value]
    """What the reviewer looks at next: the photo shown (``current``), then the ids (``key(row)``) of the
    ``ahead`` rows after ``current_row`` in the list, wrapping around as accepting the last photo does. A
    photo shown that the list does not hold (``current_row`` None) comes first, then the list's top rows."""
    out = [current] if current is not None else []
    n = len(rows)
    start = current_row + 1 if current_row is not None else 0
    for k in range(min(ahead, n)):
        pid = key(rows[(start + k) % n])
        if pid != current:
            out.append(pid)
    return out
