"""A small pool of Python worker threads (LIFO or FIFO) for the GUI's background work.

Why not QThreadPool/QRunnable: with PySide6 6.12 on CPython 3.11, every call that Qt
makes into a Python ``QRunnable.run`` (or a Python callable) on a Qt-created thread
drops one reference too many on the returned object; after a few thousand runs
(``None``/``True`` reach refcount 0) the process aborts with "Fatal Python error:
none_dealloc". Python threads emitting Qt signals do not have the problem, so all
background work runs here and talks to the GUI through queued signals (see docs/gui.md).
"""

from __future__ import annotations

import sys
import threading
from collections import deque
from typing import Callable


def report_exception() -> None:
    """Hand the exception being handled to ``threading.excepthook``, as an uncaught exception of a plain
    thread would be: stderr by default, the app's error dialog and log once ``run_gui`` installed its hook
    (gui/error_report.py). Never raises (the worker thread must live on)."""
    try:
        exc_type, exc, tb = sys.exc_info()
        threading.excepthook(threading.ExceptHookArgs([exc_type, exc, tb, threading.current_thread()]))
    except Exception:  # noqa: BLE001 - a failing hook must not kill the worker
        pass


def emit_if_alive(signal, *args) -> bool:
    """``signal.emit(*args)`` from a worker thread; False (nothing sent) when the signal's QObject was
    deleted while the work ran (its view or window closed): the result has nobody to go to. Before, the
    RuntimeError escaped the work function as an unexpected error."""
    try:
        signal.emit(*args)
    except RuntimeError as exc:
        if "deleted" not in str(exc):
            raise
        return False
    return True


class Task:
    """One queued callable; ``cancelled`` once removed from the queue before it ran, ``done`` once it ran.

    A task lets go of its callable when it is done or cancelled (``fn`` becomes None), and the worker
    thread keeps no reference to it afterwards: whoever submitted the work decides in which thread it is
    freed (the window frees its jobs, and their QObjects, in the GUI thread; docs/gui.md#a-long-session).
    """

    __slots__ = ("fn", "cancelled", "started", "done")

    def __init__(self, fn: Callable[[], object]):
        self.fn: Callable[[], object] | None = fn
        self.cancelled = False
        self.started = False
        self.done = False


class WorkQueue:
    """Up to ``threads`` daemon threads running submitted callables.

    ``lifo=True`` runs the newest work first (thumbnails: what is on screen now).
    ``clear()`` drops work not started yet; running work is never interrupted here
    (jobs watch their own cancel flag).
    """

    def __init__(self, threads: int = 1, lifo: bool = False, name: str = "bibtagger-worker"):
        self.max_threads = max(1, threads)
        self.lifo = lifo
        self.name = name
        self._queue: deque[Task] = deque()
        self._cond = threading.Condition()
        self._threads: list[threading.Thread] = []
        self._running = 0
        self._closed = False

    def submit(self, fn: Callable[[], object]) -> Task:
        task = Task(fn)
        with self._cond:
            if self._closed:
                task.cancelled = True
                return task
            self._queue.append(task)
            idle = len(self._threads) - self._running
            if idle < len(self._queue) and len(self._threads) < self.max_threads:
                t = threading.Thread(target=self._loop, name=f"{self.name}-{len(self._threads)}", daemon=True)
                self._threads.append(t)
                t.start()
            self._cond.notify()
        return task

    def _loop(self) -> None:
        while True:
            with self._cond:
                while not self._queue and not self._closed:
                    self._cond.wait()
                if self._closed and not self._queue:
                    return
                task = self._queue.pop() if self.lifo else self._queue.popleft()
                task.started = True
                self._running += 1
            try:
                task.fn()  # type: ignore[misc]
            except Exception:  # work functions report their own errors; what escapes is a bug: keep the thread alive
                report_exception()
            finally:
                with self._cond:
                    task.fn, task.done = None, True
                    self._running -= 1
                    self._cond.notify_all()
                task = None  # an idle worker holds nothing: not even the last task

    def try_take(self, task: Task) -> bool:
        """Remove ``task`` if it has not started; True when removed."""
        with self._cond:
            try:
                self._queue.remove(task)
            except ValueError:
                return False
            task.cancelled, task.fn = True, None
            return True

    def clear(self) -> int:
        """Drop all queued (not started) work; returns how many were dropped."""
        with self._cond:
            n = len(self._queue)
            for t in self._queue:
                t.cancelled, t.fn = True, None
            self._queue.clear()
            return n

    @property
    def pending(self) -> int:
        with self._cond:
            return len(self._queue)

    @property
    def active(self) -> int:
        with self._cond:
            return self._running

    def wait_for_done(self, timeout: float | None = None) -> bool:
        """Block until no work is queued or running (True), or ``timeout`` seconds pass (False)."""
        with self._cond:
            return self._cond.wait_for(lambda: not self._queue and not self._running, timeout)

    def shutdown(self, timeout: float | None = 5.0) -> None:
        """Drop queued work, let running work finish, stop the threads."""
        self.clear()
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        for t in self._threads:
            t.join(timeout)
