"""Background jobs for folder scans and recognition (run on a :class:`WorkQueue` thread).

Every job opens its *own* :class:`Store` (a Store is used from one thread) and
reports through :class:`JobSignals` (queued to the GUI thread). Each job carries
the window's *generation* at the time it was started; the window bumps the
generation when a folder is opened/closed/reloaded. A job stops at the next photo
once its generation is stale, never writes a result for a stale generation, and
the window ignores signals whose generation is not current. So results for a
folder that was closed are dropped rather than shown in (or written to) the wrong one.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any, Sequence

from PySide6.QtCore import QObject, Signal

from bibtagger_gui.core import photo_batch, photo_record
from bibtagger_gui.core.imageio import ImageError
from bibtagger_gui.core.recognition_queue import RecognitionQueue


AWAY_POLL_S = 0.2  #: how often a recognition whose folder went away looks whether it is back

#: What the progress bar counts while a recognition job keeps the decoded-pixel prints of photos that
#: were never recognized here (a store from before schema 4, imports): docs/gui.md, docs/store.md.
FILL_STAGE = "Fingerprinting"


class Generation:
    """The window's current folder generation, readable from worker threads."""

    def __init__(self) -> None:
        self.value = 0
        self._lock = threading.Lock()

    def bump(self) -> int:
        with self._lock:
            self.value += 1
            return self.value


class JobSignals(QObject):
    progress = Signal(int, int, int)  # generation, done, total
    stage = Signal(int, str)  # generation, what the progress counts from now on ("Fingerprinting")
    photo_done = Signal(int, int)  # generation, photo_id
    finished = Signal(int, str, str)  # generation, outcome ("done"|"cancelled"|"stale"|"failed"), message


class _Job:
    kind = "job"

    def __init__(self, folder: Path, generation: int, current: Generation):
        self.folder = Path(folder)
        self.generation = generation
        self.current = current
        self.cancel_event = threading.Event()
        self.signals = JobSignals()  # created in the GUI thread: emits are queued to it
        self.task = None  # the WorkQueue task running this job
        #: the project file the window has open (set as it starts the job): a job opens that file or nothing
        self.db_path: Path | None = None

    def away(self) -> str | None:
        """Why the job must not open its folder's project now (the folder renamed, deleted or its drive unplugged since
        it was queued: ``Store.open`` then made a new, empty project in a bare mount point), else None. Asked as the
        job starts, in its thread (a job queued behind another starts seconds later)."""
        from bibtagger_gui.core.store import folder_problem

        why = folder_problem(self.folder)
        if why is None and self.db_path is not None and not Path(self.db_path).exists():
            why = "its project file is gone: its .bibtagger folder emptied, or its drive unplugged"
        return why

    def _refused(self, g: int, done: str) -> bool:
        """``away`` said, as the job's failed end: True when the job must stop before opening anything."""
        why = self.away()
        if why is not None:
            self.signals.finished.emit(g, "failed", f"{self.folder} cannot be read now ({why}): {done}")
        return why is not None

    @property
    def stale(self) -> bool:
        return self.current.value != self.generation

    def stopped(self) -> bool:
        return self.cancel_event.is_set() or self.stale

    def cancel(self) -> None:
        self.cancel_event.set()

    def _outcome(self) -> str:
        return "stale" if self.stale else "cancelled" if self.cancel_event.is_set() else "done"


#: The longest a scan started with ``hold`` waits for it (an event loop that does not run yet must not stop the scan).
HOLD_MAX_S = 2.0


class ScanJob(_Job):
    """Sync the folder's store with the disk (``Store.scan``). ``hold``: an event the scan waits for first (at most
    :data:`HOLD_MAX_S`; a cancel sets it): the window opening a folder sets it once the list is painted, so the scan's
    Python work does not take the GIL from the list's first paint (docs/gui.md#opening-a-folder)."""

    kind = "scan"

    def __init__(self, folder: Path, generation: int, current: Generation, hold: threading.Event | None = None):
        super().__init__(folder, generation, current)
        self.report = None  # the ScanReport, once the scan has run
        self.hold = hold

    def cancel(self) -> None:
        super().cancel()
        if self.hold is not None:
            self.hold.set()

    def __call__(self) -> None:
        from bibtagger_gui.core.store import Store

        g = self.generation
        if self.hold is not None:
            self.hold.wait(HOLD_MAX_S)
        if self._refused(g, "not scanned"):
            return
        try:
            store = Store.open(self.folder)
            try:

                def progress(done: int = 0, total: int = 0, *rest) -> None:
                    self.signals.progress.emit(g, int(done), int(total))

                report = self.report = store.scan(progress=progress, cancel=self.stopped)
            finally:
                store.close()
            self.signals.finished.emit(g, self._outcome(), str(report) if report is not None else "")
        except Exception as exc:  # report, never kill the pool thread
            self.signals.finished.emit(g, "failed", f"scan failed: {exc}")


class _FolderAway(Exception):
    """The recognition was stopped while its folder was away (:meth:`RecognitionJob._recognize`)."""


class RecognitionJob(_Job):
    """Run the recognizer on ``photo_ids`` (skipping reviewed photos), writing model bibs.

    Human edits are kept: ``Store.set_model_bibs`` replaces model bibs only and drops
    predictions that repeat a human/mturk bib. The photos are taken from a
    :class:`~bibtagger_gui.core.recognition_queue.RecognitionQueue`: the window's :meth:`prefer`
    (the photo shown and the next ones of the list) goes first, each photo once; :meth:`pause`
    stops it taking new photos until :meth:`resume` (docs/gui.md#recognition-follows-the-reviewer).

    ``collect=True`` (a re-run on the photos selected in the list, gui/batch_action.py): nothing is
    written; each photo's predictions go to :attr:`results` (photo id -> (bibs, decoded-pixel print)) and
    its load error to :attr:`failures`, for the window to write them as one undo step when the job ends.

    ``record=True`` (Recognition > Re-run on Unreviewed Photos): each photo is written as it is read (the reviewer
    sees it at once), and what the write changed goes to :attr:`records` (photo id ->
    ``core.photo_record.PhotoRecord``, recorded in the write's own transaction), for the window to put the whole
    re-run on the undo stack as one step when the job ends.
    """

    kind = "recognize"

    def __init__(self, folder: Path, generation: int, current: Generation, photo_ids: Sequence[int], models_dir: Path | None,
                 collect: bool = False, record: bool = False, recognizer: Any = None):  # fmt: skip
        super().__init__(folder, generation, current)
        self.recognizer = recognizer  # models_dir's, already loaded by the window's check of it: not loaded again
        self.queue = RecognitionQueue(photo_ids)
        self.collect = collect
        self.record = record and not collect
        self.records: dict[int, photo_record.PhotoRecord] = {}  # record: photo id -> what its write changed
        self.results: dict[int, tuple[list, bytes | None]] = {}  # collect: photo id -> (bibs, pixel print)
        self.failures: dict[int, str] = {}  # collect: photo id -> why it could not be read
        self.written: set[int] = set()  # photos written whose photo_done the window has not handled yet (it drops them)
        self.models_dir = Path(models_dir) if models_dir else None
        self.version: str | None = None  # the models' version once loaded
        self.label: str | None = None  # and their short name (Recognizer.label)
        self.calibration_note = ""
        self.printed = 0  # decoded-pixel prints written after the photos (Store.fill_pixel_prints)
        self.errors = 0  # photos of this run that could not be read (the window says how many of the folder's cannot)

    def cancel(self) -> None:
        super().cancel()
        self.queue.wake()  # a paused job stops at once

    def prefer(self, photo_ids: Sequence[int]) -> list[int]:
        """Recognize these photos next (GUI thread; see RecognitionQueue.prefer)."""
        return self.queue.prefer(photo_ids)

    def pause(self) -> None:
        self.queue.pause()

    def resume(self) -> None:
        self.queue.resume()

    @property
    def paused(self) -> bool:
        return self.queue.paused

    def _stopped_or_paused(self) -> bool:
        """The fingerprinting's ``cancel``: waits while paused, true once stopped."""
        self.queue.wait_while_paused(self.stopped)
        return self.stopped()

    def __call__(self) -> None:
        from bibtagger_gui.core.recognizer import ModelError, Recognizer
        from bibtagger_gui.core.store import Store

        g, total = self.generation, self.queue.total
        try:
            rec, self.recognizer = self.recognizer, None
            if rec is None:
                rec = Recognizer.from_dir(self.models_dir) if self.models_dir else Recognizer()
        except ModelError as exc:
            self.signals.finished.emit(g, "failed", str(exc))
            return
        except Exception as exc:
            self.signals.finished.emit(g, "failed", f"cannot load models: {exc}")
            return
        self.version, self.label, self.calibration_note = rec.version, rec.label, rec.calibration_note
        errors = 0
        if self._refused(g, "nothing recognized"):
            return
        try:
            store = Store.open(self.folder)
        except Exception as exc:
            self.signals.finished.emit(g, "failed", f"cannot open the project store: {exc}")
            return
        gone: str | None = None  # why the folder could not be seen as a photo failed to read: the job stops there
        try:
            self.signals.progress.emit(g, 0, total)
            done = 0  # photos taken (all of them, or those before a cancel; a stale job's count is never shown)
            while (pid := self.queue.take(self.stopped)) is not None:
                done += 1
                try:
                    photo = store.photo(pid)
                except Exception:
                    continue  # photo removed by a rescan meanwhile
                if photo.reviewed:
                    self.signals.progress.emit(g, done, total)
                    continue
                try:
                    bibs = self._recognize(rec, store, photo.relpath)
                except _FolderAway:
                    break  # stopped while the folder was away: the window closes it (LiveUpdates) or it was cancelled
                except ImageError as exc:
                    if self.stale or (gone := self.away()) is not None:
                        break  # the folder went (a drive unplugged): its photos are not unreadable, nothing marked
                    self._failed(store, pid, exc.message)
                    errors += 1
                except Exception as exc:
                    if self.stale or (gone := self.away()) is not None:
                        break
                    self._failed(store, pid, f"recognition failed: {exc}")
                    errors += 1
                else:
                    if self.stale:
                        break  # the folder was closed/reloaded: drop this result
                    if self.collect:
                        self.results[pid] = (bibs, getattr(rec, "last_print", None))
                        self.signals.progress.emit(g, done, total)
                        continue
                    self.written.add(pid)  # before its commit: an accept right after it must blame this job (after
                    # the write, a thread descheduled there left the window blaming another window or program)
                    if not self._write(store, pid, bibs, rec.version, getattr(rec, "last_print", None)):
                        self.written.discard(pid)
                        self.signals.progress.emit(g, done, total)  # accepted while we were working: the review stands
                        continue
                self.signals.photo_done.emit(g, pid)
                self.signals.progress.emit(g, done, total)
            if gone is not None:
                done -= 1  # the photo it failed on: not done
            elif not self.stopped():
                done = total
                # reviewed/tagged photos never recognized here (a store from before schema 4, imports): their
                # decoded-pixel print, once, so a re-encoded copy keeps their review (docs/store.md)
                todo = [] if self.collect else store.photos_without_print()
                if todo:  # thousands on an old store: counted in the progress bar, cancellable, pausable
                    self.signals.stage.emit(g, FILL_STAGE)
                    self.printed = store.fill_pixel_prints(
                        todo, cancel=self._stopped_or_paused, progress=lambda d, t: self.signals.progress.emit(g, d, t))
        except Exception as exc:
            self.signals.finished.emit(g, "failed", f"recognition stopped: {exc}")
            return
        finally:
            store.close()
        self.errors = errors
        if gone is not None:
            self.signals.finished.emit(g, "failed", f"{self.folder} cannot be read now ({gone}): recognition stopped "
                                       f"after {done} of {total} photo(s); the others were not marked unreadable")  # fmt: skip
            return
        count = f"{done} of {total}" if done < total else f"{total}"
        msg = f"{count} photo(s)"  # and the folder's unreadable photos, said by the window (those the scan found too)
        if self.printed:
            msg += f", {self.printed} photo(s) fingerprinted"
        self.signals.finished.emit(g, self._outcome(), msg)

    def _recognize(self, rec: Any, store: Any, relpath: str) -> list:
        """``rec.recognize_path`` of the photo; one that fails while the folder itself is away (a share reconnecting, a
        drive waking up: ``LiveUpdates`` waits ``GONE_FOR_MS`` before closing it) is read again once it is back. Each
        photo reached meanwhile was marked unreadable for good ("no such file"; never recognized again on opening).
        :class:`_FolderAway` when the job is stopped while it is away."""
        while True:
            try:
                return rec.recognize_path(self.folder / relpath)
            except Exception:
                if not self._folder_away(store):
                    raise
            while self._folder_away(store):
                if self.stopped():
                    raise _FolderAway()
                time.sleep(AWAY_POLL_S)

    def _folder_away(self, store: Any) -> bool:
        """The folder cannot be seen now, as the window's poll tests it (``LiveUpdates.folder_away``)."""
        from bibtagger_gui.core.store import folder_away

        return folder_away(self.folder, store.db_path) is not None

    def _write(self, store, photo_id: int, bibs: list, version: str, pixel_print: bytes | None) -> bool:
        """Write a photo's predictions (``photo_batch.put_predictions``), recorded when :attr:`record`."""
        if not self.record:
            return photo_batch.put_predictions(store, photo_id, bibs, version, pixel_print)
        done = photo_record.record_edit(
            store, photo_id, lambda s: photo_batch.put_predictions(s, photo_id, bibs, version, pixel_print),
            texts=True)  # the undo step's history JSON made here, not while the user waits for the undo
        if done.result and done.changes_store:
            self.records[photo_id] = done
        return bool(done.result)

    def _failed(self, store, photo_id: int, message: str) -> None:
        if self.collect:
            self.failures[photo_id] = message
        else:
            store.set_error(photo_id, message)
