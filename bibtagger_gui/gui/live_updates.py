"""Changes another program writes to the open project's store, shown in the window (docs/gui.md#changes-by-other-programs).

``bibtagger predict`` / ``import`` / ``mturk import`` in a terminal, a second window on the same folder, a
volunteer on a network share: each commits to the same SQLite store. Every second (and at once when the
window is activated again) :class:`LiveUpdates` asks the window's connection for SQLite's ``data_version``
(``Store.data_version``: it moves only when *another* connection committed, so the window's own edits
cost nothing); when it moved, ``Store.changes_since`` names the photos changed after the last mark, and
only those are read again and put in place through the window's usual paths (``refresh_photo``: the list
row in place, selection and scroll kept; the photo shown, its bibs and review mark); a photo added or gone, or
in capture or file-name order one whose file was renamed or replaced, rebuilds the rows from the kept index
(no sort). A photo that reads back
as the window already shows it (the window's own edits, a photo its own recognition job just reported)
changes nothing on screen. The data part (what changed since a history id) is the store's, Qt-free.
A project file replaced under the window (a sync tool, a backup copy put back: ``Store.replaced``) reloads the
folder from the new file, with a status message (:meth:`LiveUpdates._reload_replaced`).
"""

from __future__ import annotations

import logging
import sqlite3
import time
from typing import Any

from PySide6.QtCore import QObject, Qt, QTimer
from PySide6.QtWidgets import QApplication

from bibtagger_gui.core import review
from bibtagger_gui.core.list_order import ListOrder
from bibtagger_gui.core.review_index import ReviewIndex

log = logging.getLogger(__name__)

POLL_MS = 1000  #: how often the store is asked whether another connection committed
#: how long the open folder must stay gone, at every poll, before the window closes it: a network share or a
#: drive that is away for a moment (a reconnecting share, a sleeping disk) closed it at the first poll
GONE_FOR_MS = 5000
BULK = 200  #: more changed photos than this: one read of every photo (two queries) instead of two queries each
#: what the window's own recognition job writes (its ``photo_done`` signal shows it): not announced while one runs
JOB_ACTIONS = frozenset({"model_bibs", "error"})
FILE_ACTIONS = frozenset({"photo_update", "photo_move"})  # the file changed: its thumbnail (and pixels) again


def _whole_project(kept: list, db_path: Any) -> Any:
    """Of what ``Store.close_replaced`` kept, the copy of the whole project (not ``project.db-wal`` and its kin, a
    log), else None."""
    return next((p for p in kept if not p.name.startswith(f"{db_path.name}-")), None)


class LiveUpdates(QObject):
    """Polls the window's store for other connections' commits and refreshes what they changed."""

    def __init__(self, window: Any):
        super().__init__(window)
        self.window = window
        self.timer = QTimer(self)
        self.timer.setInterval(POLL_MS)
        self.timer.timeout.connect(self.poll)
        self._store: Any = None
        self._mark = 0  # history id up to which the window's snapshots are known to be current
        self._version: int | None = None  # data_version when _mark was taken
        #: the photo shown whose file another program replaced while a number was typed or a box drawn on
        #: it: its pixels are reloaded at the first poll after the typing/drawing ends
        self._stale_pixels: int | None = None
        self._gone_since: float | None = None  # monotonic time of the first poll that found the open folder gone
        QApplication.instance().applicationStateChanged.connect(self._app_state)

    def watch(self, store: Any) -> None:
        """Follow ``store`` (the folder just opened; None: no folder)."""
        self._store = store
        self._gone_since = None
        if store is None:
            self.timer.stop()
            return
        self.mark()
        self.timer.start()

    def mark(self) -> None:
        """The window is about to read every photo afresh (``rebuild_queue``): later polls look past this point.
        Read before the photos, so a commit landing during the read is looked at again, never skipped."""
        if self._store is not None:
            self._mark = self._store.last_change()
            self._version = self._store.data_version()

    def _app_state(self, state: Qt.ApplicationState) -> None:
        if state == Qt.ApplicationState.ApplicationActive and self._store is not None:
            QTimer.singleShot(0, self, self.poll)  # back from the terminal that ran `bibtagger predict`: at once

    def poll(self) -> int:
        """Look for other connections' commits; returns how many photos on screen they changed."""
        w, store = self.window, self._store
        if store is None or store is not w.store or not w.isVisible() or w.isMinimized():
            return 0  # a hidden window catches up when shown (the mark stays)
        if self._folder_gone():
            return 0
        if any(j.kind == "scan" and j.task is not None and j.task.started for j in w.jobs) or w.photo_view.adjusting:
            # the scan's end reads every photo anyway; a dragged box's photo is not reloaded under the mouse. A scan
            # still queued (F5 during a recognition, which may be paused) writes nothing yet: the polls go on
            return 0
        self._reload_stale_pixels()
        try:
            why = store.replaced(self._mark)  # a sync tool or a restored copy put another file there: no version moves
            if why is not None:
                self._reload_replaced(why)
                return 0
            top = store.last_change()  # before data_version: a commit between the two moves the version
            version = store.data_version()
            if version == self._version:
                self._mark = top  # only this connection wrote since: the window's own edits, already shown
                return 0
            news = store.changes_since(self._mark)
            if news.replaced is not None:
                self._reload_replaced(news.replaced)
                return 0
            self._mark, self._version = news.last, version
            if not news.photos and not news.meta:
                return 0
            return self._apply(store, news.photos, news.meta)
        except sqlite3.Error as exc:  # a locked or vanished database: try again at the next poll
            log.warning("checking the store for other programs' changes: %s", exc)
            return 0

    def _folder_gone(self) -> bool:
        """The open folder itself is gone -- renamed or moved, deleted, or its drive unplugged (also a mount point left
        empty: its ``.bibtagger`` folder went with the project file) -- while the window had it open: close it and
        say where the edits are, instead of reopening it (that said only "Cannot open …: no such folder" and left
        the old title, or made a new empty project in a bare mount point). Edits were saved as they were made; a
        number being typed is saved too, and the project as this window read it is kept whole when its file went
        (``Store.close_replaced``: ``project.db.gone-<time>``). Only once it stayed gone at every poll for
        ``GONE_FOR_MS`` (a share back within it goes on as if nothing happened); True while it is gone (the poll
        reads nothing else)."""
        w, store, folder = self.window, self._store, self.window.folder
        why = self.folder_away()
        if why is None:
            self._gone_since = None
            return False
        now = time.monotonic()
        if self._gone_since is None:
            self._gone_since = now
        if (now - self._gone_since) * 1000 < GONE_FOR_MS:  # away for a moment (a share reconnecting): wait, read nothing
            return True
        log.warning("the open folder %s is gone (%s): closing it", folder, why)
        typed, unfinished, failures = w.typed_number(), w.unfinished_box(), w._failures
        w._commit_entry()  # to the project this connection still has open (renamed with the folder, or kept below)
        went = store.replaced() is not None  # the project file went with the folder (else it lies elsewhere: a store dir)
        kept = store.close_replaced() if went else []
        w.close_folder()
        w.setWindowTitle("bibtagger")
        copy = _whole_project(kept, store.db_path)
        if copy is not None:
            where = f"; the project as this window had it is kept as {copy}"
        elif not went:
            where = f" ({store.db_path})"
        else:
            where = " (in its .bibtagger folder, which went with it)"
        saved, lost = self._unsaved_said(typed, unfinished, saved=w._failures == failures)
        w._error("Folder gone", f"{folder} is gone ({why}): renamed, moved, deleted or its drive unplugged while it was "
                 f"open, so it was closed. Every edit made here was saved in its project{saved}{where}.{lost} Open "
                 "the folder where it is now (File > Open Folder…)")  # fmt: skip
        return True

    @staticmethod
    def _unsaved_said(typed: Any, unfinished: Any, saved: bool) -> tuple[str, str]:
        """What the folder-gone message says of a number being typed (``MainWindow.typed_number``) and of a box with no
        number yet (``unfinished_box``) as the folder closed: (", the number 821 you were typing included", "") when
        the number was saved; else a sentence of what was not (a drawn box with no number is nothing to save, and a
        save that failed said why just before). Both were said as "included" before."""
        if typed is not None and saved:
            return f", the number {typed[1]} you were typing included", ""
        if typed is not None:
            return "", f" The number {typed[1]} you were typing on {typed[0]} could not be saved (said before): type it again there."
        if unfinished is not None:
            what = "drew" if unfinished[0] == "drawn" else "were drawing"
            return "", f" The box you {what} on {unfinished[1]} had no number yet, so it was not saved: draw it again there."
        return "", ""

    def folder_away(self) -> str | None:
        """Why the open folder cannot be seen now (renamed or moved, deleted, its drive unplugged or a share away; a
        mount point left empty: its ``.bibtagger`` folder went with the project file), else None. One ``stat`` or two;
        nothing is made: a scan or a job that opened the folder's project then made a new, empty one in a bare mount
        point (MainWindow.rescan_folder asks first)."""
        from bibtagger_gui.core.store import folder_away

        store, folder = self._store, self.window.folder
        if store is None or folder is None:
            return None
        return folder_away(folder, store.db_path)

    def _reload_replaced(self, why: str) -> None:
        """The project file under the window's connection was replaced (``Store.replaced``): what it shows is a
        state nobody else sees any more. The folder is closed (jobs dropped, the undo history cleared: its ids are
        the old file's), the old file's write-ahead log set aside (``Store.close_replaced``: SQLite would replay it
        onto the new file; the project copied aside whole, as this connection reads it, when the new file lacks its
        edits or is gone) and the folder opened again from the new file; a number being typed is written to both files (MainWindow.typed_number,
        carry_typed_number: it went to the old one only, set aside with it); the status bar says so."""
        w, store = self.window, self._store
        folder = w.folder
        log.warning("the project of %s changed under the window, reloading: %s", folder, why)
        typed = w.typed_number()  # written to the new file below, as to the old one here
        unfinished = w.unfinished_box()  # a box drawn, no number yet (or being drawn): put back on its photo below
        w._commit_entry()  # to the old file too (the copy of a deleted one keeps it)
        kept = store.close_replaced()  # before the folder closes the connection: a deleted file is read through it
        w.close_folder()
        if folder is None or not w.open_folder(folder):
            return
        carried = f"; {w.carry_typed_number(typed)}" if typed is not None else ""
        carried += f"; {w.carry_unfinished_box(unfinished)}" if unfinished is not None else ""
        copy = _whole_project(kept, store.db_path)
        note = (f"; the project as this window had it (edits the new file lacks) kept as {copy}" if copy is not None
                else f"; the old file's log kept as {kept[0].name}" if kept else "")  # fmt: skip
        w.statusBar().showMessage(f"Project reloaded: {why}. The undo history was cleared{note}{carried}", 20000)

    def _apply(self, store: Any, changed: dict[int, frozenset[str]], meta: frozenset[str]) -> int:
        from bibtagger_gui.core.startlist import META_KEY as STARTLIST_KEY

        w = self.window
        if STARTLIST_KEY in meta:
            w.reload_startlist()
        job_running = any(j.kind == "recognize" for j in w.jobs)
        if len(changed) > BULK:
            announced = self._reload_all(changed, job_running)
        else:
            announced = self._refresh_each(store, changed, job_running)
        if announced:
            w._update_counts()
            w.statusBar().showMessage(f"Updated by another program: {announced} photo{'s' if announced != 1 else ''}", 8000)
        return announced

    def _by_others(self, actions: frozenset[str], job_running: bool) -> bool:
        return not (job_running and actions <= JOB_ACTIONS)

    def _refresh_each(self, store: Any, changed: dict[int, frozenset[str]], job_running: bool) -> int:
        """Read each changed photo again (two indexed queries); put those that differ in place."""
        w = self.window
        announced, queue_changed = 0, False
        for pid, actions in changed.items():
            try:
                item = review.item_for(store, pid)
            except KeyError:
                item = None
            if item is not None and item.photo.missing:
                item = None  # gone from disk (another program's scan): out of the list, as on a reload
            old = w.items.get(pid)
            if actions & FILE_ACTIONS:
                w.thumbnails.forget(pid)
            if item == old and not actions & FILE_ACTIONS:
                continue  # as shown: the window's own edit, or its recognition job's photo already refreshed
            if item is None or old is None:  # a photo added, gone or back: the list's rows change
                if item is None:
                    w.items.pop(pid, None)
                else:
                    w.items[pid] = item
                queue_changed = True
            else:
                # in capture or file-name order a row is its file's place: a file renamed or replaced (another
                # time) moves; in queue order rows stay until the queue is rebuilt, as after the window's edits
                moved = w.order is not ListOrder.QUEUE and review.order_key(item, w.order) != review.order_key(old, w.order)
                queue_changed |= moved
                if pid == w.current_id and actions & FILE_ACTIONS and item.photo.sha1 != old.photo.sha1 and not self._busy():
                    self._stale_pixels = None
                    w._show_photo(pid)  # another file under its name: its pixels again
                else:
                    if pid == w.current_id and actions & FILE_ACTIONS and item.photo.sha1 != old.photo.sha1:
                        self._stale_pixels = pid  # typed/drawn on: its bibs now, its pixels when that ends
                    w.refresh_photo(pid, item=item)
            announced += self._by_others(actions, job_running)
        if queue_changed:
            w.rebuild_queue(reload=False)  # rows in list order (no sort: the index is kept); the photo shown stays
        return announced

    def _reload_all(self, changed: dict[int, frozenset[str]], job_running: bool) -> int:
        """Many photos changed (an import, a predict run): one read of every photo, the list rebuilt."""
        w = self.window
        old: ReviewIndex = w.items
        for pid, actions in changed.items():
            if actions & FILE_ACTIONS:
                w.thumbnails.forget(pid)
        shown = w.current_id
        before = old.get(shown) if shown is not None else None
        w.rebuild_queue()  # marks, reads every photo, keeps the photo shown and re-reads its bibs
        after = w.items.get(shown) if shown is not None else None
        if (shown == w.current_id and before is not None and after is not None
                and changed.get(shown, frozenset()) & FILE_ACTIONS and after.photo.sha1 != before.photo.sha1):
            self.show_new_pixels(shown)  # another file under its name: its pixels now, or once typing/drawing ends
        return sum(1 for pid, actions in changed.items()
                   if old.get(pid) != w.items.get(pid) and self._by_others(actions, job_running))  # fmt: skip

    def show_new_pixels(self, photo_id: int) -> None:
        """Another file is under the name of the photo shown (the window's own scan found it replaced): its new pixels
        at once, or at the first poll after a number typed or a box drawn on it is done (showing the photo again
        ended them: a drawn box waiting for its number went without a word)."""
        self._stale_pixels = photo_id
        self._reload_stale_pixels()

    def _reload_stale_pixels(self) -> None:
        """The photo shown got a new file while a number was typed or a box drawn on it: once that ended,
        show its new pixels (the selected bib kept). Another photo shown meanwhile was loaded afresh."""
        w, pid = self.window, self._stale_pixels
        if pid is None or self._busy():
            return
        self._stale_pixels = None
        if pid != w.current_id or pid not in w.items:
            return
        selected = w.selected_bib
        w._show_photo(pid)
        if selected != w.selected_bib and any(b.id == selected for b in w.current_bibs):
            w.select_bib(selected)

    def _busy(self) -> bool:
        """A number is typed or a box drawn on the photo shown: its pixels are not reloaded under it."""
        return self.window._entry is not None or self.window.photo_view.drawing
