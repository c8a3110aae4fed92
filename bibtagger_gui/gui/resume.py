"""Where the user left off: the window's geometry and, per photo folder, the photo shown, the filter, the
search and the list's order, kept in QSettings as they change and given back on the next start or reopen
(docs/gui.md#resuming-where-you-left-off).

Per-user QSettings, not the project store's meta: where one person was looking is not project data
(a project is handed to volunteers, shared on a network folder, copied to another machine), a meta
write is a fsynced transaction with a history row (one per photo step would fill the history and move
``Store.last_change``), and QSettings never touches the photo folder, read-only or not. A photo is
remembered by its store id *and* relpath, with the project's ``created`` stamp: the id survives a rename
or move (the scan re-matches a moved file by its hash and keeps its id), the relpath is the way back
when the project database was made anew (other ids).
"""

from __future__ import annotations

import hashlib
import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PySide6.QtCore import QByteArray, QEvent, QObject, QPoint, QRect, QSettings, QTimer
from PySide6.QtGui import QGuiApplication

from bibtagger_gui.core.list_order import ListOrder
from bibtagger_gui.core.review import ReviewFilter

log = logging.getLogger(__name__)

#: A change is written at most this long after it happened, and at most once per this interval (a
#: held J key or a typed search is one write, not one per photo or keystroke). A killed app loses at most this.
SAVE_DELAY_MS = 500
#: Folders remembered; the least recently used beyond this are forgotten.
MAX_FOLDERS = 50
GROUP = "resume"
#: Version passed to QMainWindow.saveState/restoreState (bump when docks or toolbars change meaning).
STATE_VERSION = 1
#: How much of a window's top edge (its title bar) must lie on a screen for it to count as on screen.
MIN_VISIBLE = QRect(0, 0, 100, 20)


@dataclass(frozen=True)
class FolderState:
    """What is remembered of one folder."""

    photo_id: int | None
    relpath: str | None
    project: str | None  # the store's meta "created": the project database the id belongs to
    filter: str
    search: str
    order: str = ""  # a ListOrder value; "" in a state saved before the list had orders: the window's stays


def folder_key(folder: Path) -> str:
    """The settings group of a folder (its resolved path, hashed: any character, any length)."""
    return hashlib.sha1(str(folder).encode("utf-8", "surrogateescape")).hexdigest()[:20]


def resolve_photo(store: Any, saved: FolderState, project: str | None) -> Any:
    """The store's photo for ``saved`` (None when it has none): by id within the same project database
    (a renamed or moved photo keeps its id), else by relpath (a database made anew)."""
    if saved.photo_id is not None and saved.project and saved.project == project:
        try:
            return store.photo(saved.photo_id)
        except KeyError:
            pass
    if saved.relpath:
        return store.photo_by_path(saved.relpath)
    return None


def ensure_on_screen(window: Any) -> bool:
    """Move ``window`` onto the primary screen (shrunk to fit) when its title bar is on no screen, e.g. a
    position saved on a monitor that is no longer attached which ``restoreGeometry`` did not correct.
    True when it was moved."""
    if window.isMaximized() or window.isFullScreen():
        return False
    frame = window.frameGeometry()
    band = QRect(frame.left(), frame.top(), frame.width(), min(MIN_VISIBLE.height(), frame.height()))
    need_w = min(MIN_VISIBLE.width(), frame.width())
    for screen in QGuiApplication.screens():
        seen = screen.availableGeometry().intersected(band)
        if seen.width() >= need_w and seen.height() >= band.height():
            return False
    screen = QGuiApplication.primaryScreen()
    if screen is None:
        return False
    avail = screen.availableGeometry()
    extra_w, extra_h = frame.width() - window.width(), frame.height() - window.height()
    window.resize(min(window.width(), avail.width() - extra_w), min(window.height(), avail.height() - extra_h))
    frame = window.frameGeometry()
    left = avail.left() + max(0, (avail.width() - frame.width()) // 2)
    top = avail.top() + max(0, (avail.height() - frame.height()) // 2)
    window.move(QPoint(left, top))
    log.info("window was off screen (%s); moved to %s", band, window.frameGeometry())
    return True


class Resume(QObject):
    """Remembers and gives back where the user left off, for one :class:`MainWindow`.

    The window calls :meth:`folder_opening` before a folder's queue is built (its list order), :meth:`folder_opened`
    after it and :meth:`scan_finished`
    after its scan; ``run_gui`` calls :meth:`restore_window` before showing the window. Everything else
    follows the window's own signals: the current photo, the filter box, the search box, the splitter,
    and the window's move, resize, state change and close."""

    def __init__(self, window: Any):
        super().__init__(window)
        self.window = window
        self.settings: QSettings = window.settings
        self.active = True  # False: nothing given back, nothing written (--screenshot)
        self.writes = 0  # flushes that wrote something (a burst of changes is one)
        self.last_message = ""
        self._pending: dict[str, FolderState] = {}  # folder key -> state not written yet
        self._geometry_dirty = False
        self._watching: tuple[Path, int] | None = None  # (folder, generation) whose changes are remembered
        self._project: str | None = None
        self._awaiting: tuple[FolderState, int | None] | None = None  # (saved, photo shown instead) until the scan
        self._opening: FolderState | None = None  # the state folder_opening read, for folder_opened
        self._check_screen = False
        self._warned = False
        self.timer = QTimer(self)
        self.timer.setSingleShot(True)
        self.timer.setInterval(SAVE_DELAY_MS)
        self.timer.timeout.connect(self.flush)
        window.list_view.selectionModel().currentChanged.connect(lambda _c, _p: self._note_folder())
        window.filter_box.currentIndexChanged.connect(lambda _i: self._note_folder())
        window.order_box.currentIndexChanged.connect(lambda _i: self._note_folder())
        window.search_edit.textChanged.connect(lambda _t: self._note_folder())
        window.centralWidget().splitterMoved.connect(lambda _pos, _i: self._note_window())
        window.installEventFilter(self)

    # ------------------------------------------------------------------ window
    def restore_window(self) -> bool:
        """Give the window its saved geometry (size, position, maximized), state and splitter sizes
        (before it is shown). Qt's ``restoreGeometry`` already puts a window saved on a screen that is
        gone onto an attached one; :func:`ensure_on_screen` checks the result once it is shown."""
        if not self.active:
            return False
        w, s = self.window, self.settings
        restored = False
        try:
            geometry = s.value(f"{GROUP}/window/geometry")
            if isinstance(geometry, (QByteArray, bytes)) and w.restoreGeometry(QByteArray(geometry)):
                restored = self._check_screen = True
            state = s.value(f"{GROUP}/window/state")
            if isinstance(state, (QByteArray, bytes)):
                w.restoreState(QByteArray(state), STATE_VERSION)
            splitter = s.value(f"{GROUP}/window/splitter")
            if isinstance(splitter, (QByteArray, bytes)):
                w.centralWidget().restoreState(QByteArray(splitter))
        except (TypeError, ValueError) as exc:  # a hand-edited settings file: the defaults stay
            log.warning("saved window geometry not usable: %s", exc)
        return restored

    def _note_window(self) -> None:
        if self.active and self.window.isVisible():
            self._geometry_dirty = True
            self._schedule()

    def eventFilter(self, obj: QObject, event: QEvent) -> bool:  # noqa: N802 (Qt's name)
        if obj is self.window:
            kind = event.type()
            if kind in (QEvent.Type.Move, QEvent.Type.Resize, QEvent.Type.WindowStateChange):
                self._note_window()
            elif kind == QEvent.Type.Close:
                self._note_window()
                self.flush()  # the folder is still open here (closeEvent closes it)
            elif kind == QEvent.Type.Show and self._check_screen:
                self._check_screen = False
                QTimer.singleShot(0, self._check_on_screen)
        return False

    def _check_on_screen(self) -> None:
        ensure_on_screen(self.window)

    # ------------------------------------------------------------------ folders
    def folder_opening(self, store: Any, folder: Path) -> None:
        """A folder is being opened, its queue not built yet (the window has no store yet): its saved list order
        becomes the window's now, so the snapshots are sorted once, in that order (giving it back after the
        queue was built sorted 10,000 photos a second time, ~70 ms). :meth:`folder_opened` gives back the rest."""
        self._awaiting = None
        self._watching = None
        self._opening = None
        if not self.active:
            return
        self._project = store.get_meta("created")
        key = folder_key(folder)
        saved = self._opening = self._pending.get(key) or self._read(key) or self._read_project(self._project)
        order = self._saved_order(saved) if saved is not None else self.window.order
        if order is not self.window.order:
            self.window.set_order(order)  # no folder yet: nothing is read or sorted

    def folder_opened(self) -> None:
        """A folder was opened and its queue built: give back its order (already given by :meth:`folder_opening`),
        filter, search and photo."""
        w = self.window
        saved, self._opening = self._opening, None
        self._awaiting = None
        self._watching = None
        if not self.active or w.store is None or w.folder is None:
            return
        try:
            if saved is not None:
                self._give_back(saved)
        finally:
            self._watching = (w.folder, w.generation.value)

    def _saved_order(self, saved: FolderState) -> ListOrder:
        try:
            return ListOrder(saved.order) if saved.order else self.window.order
        except ValueError:  # a hand-edited settings file: the order stays
            return self.window.order

    def _give_back(self, saved: FolderState) -> None:
        w = self.window
        order = self._saved_order(saved)
        if order is not w.order:  # (folder_opening gave it before the queue was built: nothing to do then)
            w.set_order(order)
        try:
            flt = ReviewFilter(saved.filter)
        except ValueError:
            flt = w.filter
        if flt is not w.filter:
            w.set_filter(flt)
        if saved.search != w.search_edit.text():
            w.search_edit.setText(saved.search)  # the photo keeps the keys (open_folder gave them)
        self._go_to(saved, final=False)

    def _go_to(self, saved: FolderState, final: bool) -> None:
        """Show the saved photo; one not on disk now is looked up again after the scan (``final``), which
        re-matches a moved file and marks a deleted one missing; then the queue head stays, with a message."""
        w = self.window
        photo = resolve_photo(w.store, saved, self._project)
        here = photo is not None and not photo.missing and (w.folder / photo.relpath).is_file()
        if here and w.select_photo(photo.id):
            row = w.current_row()
            self._say(f"Back at {photo.relpath} ({(row or 0) + 1} of {w.list_model.total()}), where you left off", 5000, photo=True)
            return
        if here:  # in the folder but the filter or search hides it now (e.g. reviewed since, filter Unreviewed)
            hiding = []
            if w.filter is not ReviewFilter.ALL:
                hiding.append(f"the filter {w.filter.label!r}")
            if w.search_edit.text():
                hiding.append(f"the search {w.search_edit.text()!r}")
            self._say(f"The photo you were on last time ({photo.relpath}) is hidden by {' and '.join(hiding) or 'the list'}; "
                      f"showing the first photo of the list", 10000)  # fmt: skip
            return
        if not final:
            self._awaiting = (saved, w.current_id)
            return
        name = photo.relpath if photo is not None else saved.relpath or "?"
        notes = w._scan_notes(short=False)  # the scan's own news stays said
        self._say("; ".join([f"The photo you were on last time ({name}) is no longer in this folder; "
                             f"showing the first photo of the queue", *notes]), 15000)  # fmt: skip

    def scan_finished(self) -> None:
        """The folder's scan ended: a photo that was not on disk at opening is looked up again, unless the
        user has moved to another photo meanwhile."""
        if self._awaiting is None or not self.active or self.window.store is None:
            self._awaiting = None
            return
        saved, shown = self._awaiting
        self._awaiting = None
        if shown is not None and self.window.current_id != shown:
            return
        self._go_to(saved, final=True)

    def _note_folder(self) -> None:
        w = self.window
        if not self.active or w.folder is None or self._watching != (w.folder, w.generation.value):
            return  # opening, closing, or another folder's leftovers
        key = folder_key(w.folder)
        before = self._pending.get(key) or self._read(key)
        photo_id, relpath, project = w.current_id, None, self._project
        if self._awaiting is not None:
            saved, shown = self._awaiting
            if shown is not None and photo_id not in (shown, None):
                self._awaiting = None  # the user moved on: the saved photo is no longer wanted
            else:  # still waiting for the scan to find it: the saved photo stays the one to go back to
                photo_id, relpath, project = saved.photo_id, saved.relpath, saved.project
        if photo_id is None and before is not None:  # an empty list (a search with no match): keep the photo
            photo_id, relpath, project = before.photo_id, before.relpath, before.project
        elif relpath is None and photo_id is not None:
            item = w.items.get(photo_id)
            relpath = item.photo.relpath if item is not None else None
        state = FolderState(photo_id, relpath, project, w.filter.value, w.search_edit.text(), w.order.value)
        if state != before:
            self._pending[key] = state
            self._schedule()

    # ------------------------------------------------------------------ settings
    def _schedule(self) -> None:
        if not self.timer.isActive():  # a throttle, not a debounce: a long burst still writes every interval
            self.timer.start()

    def _read(self, key: str) -> FolderState | None:
        s = self.settings
        g = f"{GROUP}/folders/{key}"
        if s.value(f"{g}/saved") is None:
            return None
        try:
            pid = s.value(f"{g}/photo_id")
            return FolderState(
                photo_id=int(pid) if pid not in (None, "") else None,
                relpath=str(s.value(f"{g}/relpath") or "") or None,
                project=str(s.value(f"{g}/project") or "") or None,
                filter=str(s.value(f"{g}/filter") or ReviewFilter.ALL.value),
                search=str(s.value(f"{g}/search") or ""),
                order=str(s.value(f"{g}/order") or ""),
            )
        except (TypeError, ValueError):
            return None

    def _read_project(self, project: str | None) -> FolderState | None:
        """The most recently saved state of the project database ``project`` (its meta ``created``) under any
        folder path: a shoot folder renamed or moved as a whole carries its store (``.bibtagger/``, or the
        fallback copy of it), so it is still recognized. None without a project or a match."""
        if not project:
            return None
        best: tuple[float, str] | None = None
        for st in self._pending.values():
            if st.project == project:
                return st  # written this session: the newest
        s = self.settings
        s.beginGroup(f"{GROUP}/folders")
        try:
            for key in s.childGroups():
                if str(s.value(f"{key}/project") or "") != project:
                    continue
                try:
                    when = float(s.value(f"{key}/saved") or 0)
                except (TypeError, ValueError):
                    when = 0.0
                if best is None or when > best[0]:
                    best = (when, key)
        finally:
            s.endGroup()
        return self._read(best[1]) if best is not None else None

    def flush(self) -> None:
        """Write what changed since the last write, and sync the settings file at once (a killed app
        has written everything up to :data:`SAVE_DELAY_MS` before)."""
        self.timer.stop()
        if not self.active or (not self._pending and not self._geometry_dirty):
            return
        s, w = self.settings, self.window
        try:
            now = time.time()
            for key, st in self._pending.items():
                g = f"{GROUP}/folders/{key}"
                s.setValue(f"{g}/photo_id", "" if st.photo_id is None else st.photo_id)
                s.setValue(f"{g}/relpath", st.relpath or "")
                s.setValue(f"{g}/project", st.project or "")
                s.setValue(f"{g}/filter", st.filter)
                s.setValue(f"{g}/search", st.search)
                s.setValue(f"{g}/order", st.order)
                s.setValue(f"{g}/saved", now)
            if self._pending:
                self._forget_old()
            if self._geometry_dirty:
                s.setValue(f"{GROUP}/window/geometry", w.saveGeometry())
                s.setValue(f"{GROUP}/window/state", w.saveState(STATE_VERSION))
                s.setValue(f"{GROUP}/window/splitter", w.centralWidget().saveState())
            self._pending.clear()
            self._geometry_dirty = False
            s.sync()
            self.writes += 1
            if s.status() != QSettings.Status.NoError and not self._warned:
                self._warned = True  # a read-only settings file: the app goes on, without resuming
                log.warning("settings not written (%s): %s", s.status().name, s.fileName())
        except Exception:  # remembering a position must never cost the session
            log.exception("saving where the user left off failed")

    def _forget_old(self) -> None:
        s = self.settings
        s.beginGroup(f"{GROUP}/folders")
        try:
            keys = s.childGroups()
            if len(keys) <= MAX_FOLDERS:
                return

            def when(k: str) -> float:
                try:
                    return float(s.value(f"{k}/saved") or 0)
                except (TypeError, ValueError):
                    return 0.0

            for k in sorted(keys, key=when)[: len(keys) - MAX_FOLDERS]:
                s.remove(k)
        finally:
            s.endGroup()

    def _say(self, message: str, ms: int, photo: bool = False) -> None:
        """``photo``: the message speaks of the photo shown and goes when another is shown (window.say_of_photo)."""
        self.last_message = message
        if photo:
            self.window.say_of_photo(message, ms)
        else:
            self.window.statusBar().showMessage(message, ms)
