"""A long review session in the real ``MainWindow`` (offscreen), and what it holds while it runs.

A photographer reviews a shoot for hours: thousands of next/previous photos, edits and undos,
searches, filter changes, re-runs of recognition, another folder opened and back, the MTurk dialog,
exports and keyword writes. :func:`run_session` drives the window through such a session in cycles
(one folder switch each) and :func:`sample` reads, after every cycle, what the app holds: resident
memory (``/proc/self/statm``), open file descriptors (and those on SQLite files), threads, the
window's live QObjects / dialogs / QThreads / QTimers, all widgets, the thumbnail LRU (count and
MB) and the undo stack. ``training/bench_app.py`` (op ``gui_session``) runs it at full size and
reports RSS start/end and the slope after warm-up; tests/test_gui_resources.py runs it small and
checks that the counts come back to where they were (docs/gui.md#a-long-session).

Qt is imported inside the functions; this module needs no torch.
"""

from __future__ import annotations

import csv
import gc
import json
import os
import threading
import time
from pathlib import Path
from typing import Any, Callable

PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


def rss_mb() -> float:
    """Resident set size now (``/proc/self/statm``), MiB; 0 where /proc is missing."""
    try:
        return int(Path("/proc/self/statm").read_text().split()[1]) * PAGE / 2**20
    except (OSError, IndexError, ValueError):
        return 0.0


def open_fds() -> tuple[int, int]:
    """(open file descriptors, those on SQLite files: ``*.db``, ``-wal``, ``-shm``, ``-journal``)."""
    try:
        names = os.listdir("/proc/self/fd")
    except OSError:
        return 0, 0
    db = 0
    for n in names:
        try:
            target = os.readlink(f"/proc/self/fd/{n}")
        except OSError:
            continue
        if target.endswith((".db", ".db-wal", ".db-shm", ".db-journal")):
            db += 1
    return len(names), db


def os_threads() -> int:
    """Threads of this process (Python, Qt, onnxruntime), from ``/proc/self/status``."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Threads:"):
                return int(line.split()[1])
    except OSError:
        pass
    return threading.active_count()


def sample(win: Any, collect: bool = True) -> dict[str, float]:
    """What the app holds now. ``collect`` runs the GC first (a cycle not yet collected is not a leak)."""
    from PySide6.QtCore import QObject, QThread, QTimer
    from PySide6.QtWidgets import QApplication, QDialog

    if collect:
        gc.collect()
    fds, db_fds = open_fds()
    widgets = QApplication.allWidgets()
    lru = win.thumbnails._lru
    thumb_bytes = sum(p.width() * p.height() * max(1, p.depth()) // 8 for p in lru.values())
    # QStatusBar makes a timer for a timed message and deletes it on clearMessage (a photo's message goes when
    # another photo is shown: MainWindow.say_of_photo), so it comes and goes with messages: not counted
    passing = len(win.statusBar().findChildren(QTimer))
    return {
        "rss_mb": round(rss_mb(), 1), "fds": fds, "db_fds": db_fds,
        "threads": os_threads(), "py_threads": threading.active_count(),
        "qobjects": len(win.findChildren(QObject)) - passing, "widgets": len(widgets),
        "dialogs": sum(1 for w in widgets if isinstance(w, QDialog)),
        "qthreads": len(win.findChildren(QThread)), "qtimers": len(win.findChildren(QTimer)) - passing,
        "thumbs": len(lru), "thumb_mb": round(thumb_bytes / 2**20, 1), "icons": len(win.thumbnails._icons),
        # the frozen ones too: the window freezes what a folder's read leaves (gui/heap.py), get_objects skips them
        "undo": win.undo_stack.count(), "py_objects": len(gc.get_objects()) + gc.get_freeze_count(),
    }


def slope(values: list[float], per: float = 1.0) -> float:
    """Least-squares slope of ``values`` against their index, times ``per`` (0 for fewer than 2)."""
    n = len(values)
    if n < 2:
        return 0.0
    mx, my = (n - 1) / 2, sum(values) / n
    sxx = sum((i - mx) ** 2 for i in range(n))
    return per * sum((i - mx) * (v - my) for i, v in enumerate(values)) / sxx


def write_mturk_batch(path: Path, relpaths: list[str]) -> Path:
    """A small MTurk batch CSV (as MTurk writes it) with two workers' boxes on each of ``relpaths``."""
    cols = ["HITId", "AssignmentId", "WorkerId", "AssignmentStatus", "RequesterFeedback", "WorkTimeInSeconds",
            "Input.objects_to_find", "Input.image_url", "Answer.annotation_data", "Answer.label"]  # fmt: skip
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f, quoting=csv.QUOTE_ALL, lineterminator="\r\n")
        w.writerow(cols)
        for i, rel in enumerate(relpaths):
            for k, worker in enumerate(("W1", "W2")):
                boxes = json.dumps([{"left": 20 + k, "top": 20, "width": 60, "height": 30, "label": str(100 + i)}])
                w.writerow([f"H{i}", f"A{i}_{worker}", worker, "Submitted", "", "30", rel,
                            f"https://example.com/{rel}", boxes, "{}"])  # fmt: skip
    return path


def flush(app: Any) -> None:
    """Events, then the deferred deletes (``deleteLater``) that a running event loop would carry out: a
    bare ``processEvents`` outside ``exec()`` leaves them pending, which would look like a leak."""
    from PySide6.QtCore import QEvent

    app.processEvents()
    app.sendPostedEvents(None, QEvent.Type.DeferredDelete)


def settle(app: Any, seconds: float = 0.3) -> None:
    """Let short-lived things end (a line edit's clear-button fade is a 160 ms animation)."""
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        flush(app)
        time.sleep(0.01)
    flush(app)


def wait(app: Any, cond: Callable[[], bool], timeout: float = 120.0) -> None:
    end = time.perf_counter() + timeout
    while not cond():
        if time.perf_counter() > end:
            raise TimeoutError("the window did not get there in time")
        flush(app)
        time.sleep(0.001)


def quiet_dialogs() -> None:
    """Modal dialogs answer at once (offscreen there is nobody to click): ``exec`` accepts, as OK would.
    The dialogs are still created, shown and left to their owners, so a dialog never deleted still leaks."""
    from PySide6.QtWidgets import QDialog, QMessageBox

    QDialog.exec = lambda self: int(QDialog.DialogCode.Accepted)  # type: ignore[method-assign]
    QMessageBox.exec = lambda self: int(QMessageBox.StandardButton.Ok)  # type: ignore[method-assign]


class Session:
    """Drives one window through the actions of a review session; ``folders`` are opened in turn."""

    def __init__(self, app: Any, win: Any, folders: list[Path], work: Path, keywords_folder: Path | None = None,
                 recognize: int = 3, wait_pixels: bool = True):  # fmt: skip
        self.app, self.win, self.folders, self.work = app, win, [Path(f) for f in folders], Path(work)
        self.keywords_folder = keywords_folder
        self.recognize = recognize  # photos each re-run of recognition covers (0: none)
        self.wait_pixels = wait_pixels
        self.step_count = 0
        self.cycle_count = 0
        self.mturk_csv: dict[Path, Path] = {}
        self.actions: dict[str, int] = {}
        self.work.mkdir(parents=True, exist_ok=True)

    def _did(self, name: str) -> None:
        self.actions[name] = self.actions.get(name, 0) + 1

    def open(self, folder: Path) -> None:
        win = self.win
        assert win.open_folder(folder), f"cannot open {folder}"
        wait(self.app, lambda: not win.jobs, 600)
        self._did("open_folder")

    def step(self, delta: int) -> None:
        win = self.win
        win.step_photo(delta)
        if self.wait_pixels and win.current_id is not None:
            wait(self.app, lambda: win.photo_view.image_loaded or win.photo_view.image_error is not None)
        self.step_count += 1
        self._did("step")

    def edit(self, i: int) -> None:
        """Retype the selected bib's number (or add one), sometimes undo and redo it, sometimes accept."""
        win = self.win
        if win.current_id is None:
            return
        win.type_digit(str(i % 10))
        win.number_edit.setText(str(1000 + i % 900))
        win._commit_entry()
        self._did("edit")
        if i % 3 == 0:
            win.undo()
            win.redo()
            self._did("undo_redo")
        if i % 4 == 0:
            win.accept_photo()
            self._did("accept")

    def search_and_filter(self, i: int) -> None:
        from bibtagger_gui.core.review import ReviewFilter

        win = self.win
        for text in ("1", "1" + str(i % 10), ""):
            win.search_edit.setText(text)
            self.app.processEvents()
        for flt in (ReviewFilter.UNREVIEWED, ReviewFilter.LOW_CONFIDENCE, ReviewFilter.ALL):
            win.set_filter(flt)
            self.app.processEvents()
        self._did("search_filter")

    def rerun(self) -> None:
        win = self.win
        if not self.recognize or win.store is None:
            return
        ids = [p.id for p in win.store.photos()[: self.recognize]]
        win.start_recognition(ids)
        wait(self.app, lambda: not win.jobs, 600)
        self._did("recognition")

    def mturk(self) -> None:
        """Open this folder's MTurk batch twice (a second import is a no-op), answer one, close the dialog."""
        win = self.win
        controller = getattr(win, "mturk_controller", None)
        if controller is None or win.store is None:
            return
        csv_path = self.mturk_csv.get(win.folder)
        if csv_path is None:
            rels = [p.relpath for p in win.store.photos()[:3]]
            csv_path = self.mturk_csv[win.folder] = write_mturk_batch(
                self.work / f"mturk-{len(self.mturk_csv)}.csv", rels)
        for _ in range(2):
            dialog = controller.open_batch(csv_path)
            self.app.processEvents()
        dialog.approve()
        dialog.close()
        self.app.processEvents()
        self._did("mturk")

    def export(self) -> None:
        win = self.win
        controller = getattr(win, "export_controller", None)
        if controller is None or win.store is None:
            return
        from bibtagger_gui.gui import export_action

        target = self.work / "export.csv"
        real_ask = controller.ask

        def ask(spec):  # the real dialog (created, "accepted"), aimed at our file
            request = real_ask(spec)
            return export_action.ExportRequest(target) if request is not None else None

        controller.ask = ask
        try:
            controller.trigger("csv")
        finally:
            controller.ask = real_ask
        wait(self.app, lambda: controller.job is None, 300)
        self._did("export")

    def keywords(self) -> None:
        win = self.win
        controller = getattr(win, "keywords_controller", None)
        if controller is None or win.store is None:
            return
        try:
            controller.trigger()  # dialog (accepted) -> worker QThread -> exiftool
        except Exception:  # noqa: BLE001 - no exiftool: the session goes on without keywords
            return
        wait(self.app, lambda: controller.worker is None, 300)
        self._did("keywords")

    def cycle(self, steps: int) -> None:
        """One cycle: open the next folder, ``steps`` photo steps with edits every few, a search and
        filter round, and in turn a recognition re-run, the MTurk dialog, an export, keyword writes."""
        c = self.cycle_count
        self.cycle_count += 1
        if self.keywords_folder is not None and c % 10 == 9:
            self.open(self.keywords_folder)
            self.keywords()
        folder = self.folders[c % len(self.folders)]
        self.open(folder)
        self.win.select_row(0)
        for k in range(steps):
            self.step(-1 if k % 5 == 4 else 1)
            if k % 7 == 3:
                self.edit(self.actions.get("edit", 0))
        self.search_and_filter(c)
        if c % 5 == 0:
            self.mturk()
        if c % 5 == 2:
            self.export()
        if c % 5 == 4:
            self.rerun()


def run_session(app: Any, win: Any, session: Session, cycles: int, steps: int,
                on_sample: Callable[[int, dict], None] | None = None) -> list[dict]:  # fmt: skip
    """``cycles`` cycles of ``steps`` photo steps; a sample before the first and after each cycle."""
    samples = [dict(sample(win), cycle=0, steps=0, seconds=0.0)]
    t0 = time.perf_counter()
    for c in range(1, cycles + 1):
        session.cycle(steps)
        settle(app)
        s = dict(sample(win), cycle=c, steps=session.step_count, seconds=round(time.perf_counter() - t0, 1))
        samples.append(s)
        if on_sample is not None:
            on_sample(c, s)
    return samples
