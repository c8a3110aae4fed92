"""MTurk batch review dialog and the "Crowd" menu of the main window.

``install(window)`` adds *Crowd ▸ Import MTurk Batch…* and *Export MTurk Verdicts…*.
The dialog lists the assignments of a batch (model/view), shows the photo with every
worker's boxes (one colour per worker), and records verdicts with keys:
A approve, R reject (with the feedback text), C correct (copy the worker's boxes into the
photo's bibs as human bibs), U clear the verdict, Left/Right previous/next.
Every verdict is saved to ``.bibtagger/mturk.db`` the moment it is made, and is an edit on the main
window's undo stack (``commands.VerdictCommand``): Ctrl+Z puts the photo's bibs and the earlier verdict
back exactly, Ctrl+Shift+Z re-applies (docs/mturk.md).
"""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

from PySide6.QtCore import QAbstractTableModel, QEvent, QModelIndex, QObject, QRectF, QSortFilterProxyModel, Qt, Signal
from PySide6.QtGui import QAction, QColor, QKeyEvent, QPainter, QPen, QPixmap
from PySide6.QtWidgets import (
    QApplication,
    QComboBox,
    QDialog,
    QFileDialog,
    QGridLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QMessageBox,
    QPushButton,
    QSizePolicy,
    QSplitter,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from bibtagger_gui.core import mturk
from bibtagger_gui.gui.commands import EditContext, VerdictCommand
from bibtagger_gui.gui.feature_controller import save_typed_number
from bibtagger_gui.gui import look, screen_fit
from bibtagger_gui.gui.look import name_widget

# Okabe-Ito (no red/green pair for the first workers; docs/gui.md#accessibility); the current worker's
# boxes are also solid and thick, the others dashed, so they differ without colour too.
WORKER_COLOURS = ["#56b4e9", "#e69f00", "#009e73", "#f0e442", "#0072b2", "#d55e00", "#cc79a7", "#ffffff"]
PREVIEW_CANVAS = "#505050"  # the preview's background where no photo could be read
PREVIEW_MESSAGE = "#ffffff"  # its message ("photo not in the folder: …") on that canvas


def tag_colours(worker_colour: QColor | str) -> tuple[QColor, QColor]:
    """A box label's tag: filled with its worker's colour, the number black or white (``look.text_on``), so it
    reads on any photo and on the canvas (the number in the worker's colour was 1.5:1 in blue on the canvas)."""
    fill = QColor(worker_colour)
    return fill, look.text_on(fill)


PREVIEW_MAX_SIDE = 1600
PHOTO_COLUMN_CHARS = 40  # the widest the Photo column grows, in average characters (longer names are elided)

# Filters of the assignment list: key -> (label, predicate(assignment, verdict)).
FILTERS: dict[str, tuple[str, Any]] = {
    "all": ("All assignments", lambda a, v: True),
    "pending": ("Pending (no verdict yet)", lambda a, v: a.pending and v is None),
    mturk.FLAG_NON_DIGIT: ("Non-digit labels", lambda a, v: mturk.FLAG_NON_DIGIT in a.all_flags),
    mturk.FLAG_DISAGREEMENT: ("Workers disagree", lambda a, v: mturk.FLAG_DISAGREEMENT in a.all_flags),
    mturk.FLAG_MISSING_PHOTO: ("Photo missing", lambda a, v: mturk.FLAG_MISSING_PHOTO in a.all_flags),
    mturk.FLAG_AMBIGUOUS_PHOTO: ("Photo name matches several files", lambda a, v: mturk.FLAG_AMBIGUOUS_PHOTO in a.all_flags),
    "other": (
        "Empty / malformed / outside",
        lambda a, v: bool(a.all_flags & {mturk.FLAG_EMPTY, mturk.FLAG_BAD_ANSWER, mturk.FLAG_OUTSIDE}),
    ),
    "decided": ("With a verdict", lambda a, v: v is not None),
}

VERDICT_TEXT = {mturk.APPROVE: "approve", mturk.REJECT: "reject", mturk.CORRECT: "corrected (approve)"}


class AssignmentTableModel(QAbstractTableModel):
    """One row per assignment of a batch, with its current verdict."""

    COLUMNS = ["Line", "Photo", "Worker", "MTurk status", "Verdict", "Flags", "Labels", "Time (s)"]
    AssignmentRole = Qt.ItemDataRole.UserRole + 1

    def __init__(self, batch: mturk.Batch, verdicts: mturk.VerdictStore, parent: QObject | None = None):
        super().__init__(parent)
        self.batch = batch
        self.verdicts = verdicts
        self._verdicts = verdicts.all()

    def rowCount(self, parent: QModelIndex = QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self.batch.assignments)

    def columnCount(self, parent: QModelIndex = QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self.COLUMNS)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return self.COLUMNS[section]
        return None

    def assignment(self, row: int) -> mturk.Assignment:
        return self.batch.assignments[row]

    def verdict(self, assignment_id: str) -> mturk.Verdict | None:
        return self._verdicts.get(assignment_id)

    def data(self, index: QModelIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        a = self.batch.assignments[index.row()]
        v = self._verdicts.get(a.assignment_id)
        col = index.column()
        if role == self.AssignmentRole:
            return a
        if role == Qt.ItemDataRole.DisplayRole:
            if col == 0:
                return a.line
            if col == 1:
                return a.image
            if col == 2:
                return a.worker_id
            if col == 3:
                return a.status
            if col == 4:
                if v is None:
                    return ""
                return VERDICT_TEXT[v.action] + (f": {v.feedback}" if v.action == mturk.REJECT else "")
            if col == 5:
                return ", ".join(mturk.FLAG_LABELS[f] for f in sorted(a.all_flags))
            if col == 6:
                return " ".join(b.label if b.is_digit else repr(b.label) for b in a.boxes) or "(no box)"
            if col == 7:
                return a.work_time if a.work_time is not None else ""
        if role == Qt.ItemDataRole.ForegroundRole and a.final:  # dimmed, still 4.5:1 (disabled text was 1.9:1)
            return look.dimmed_text()
        if role == Qt.ItemDataRole.ToolTipRole:
            lines = ([a.image] if col == 1 else []) + a.all_notes  # the photo column may be elided
            return "\n".join(lines) or None
        return None

    def set_verdict(self, row: int, verdict: mturk.Verdict | None) -> mturk.Verdict | None:
        """Save (or clear, with None) the verdict of a row now, then refresh the row; returns it as saved
        (a verdict with its ``updated`` time keeps it: an undo puts the earlier verdict back exactly)."""
        a = self.batch.assignments[row]
        saved = None
        if verdict is None:
            self.verdicts.clear(a.assignment_id)
            self._verdicts.pop(a.assignment_id, None)
        else:
            saved = self._verdicts[a.assignment_id] = self.verdicts.set(verdict, a)
        self.dataChanged.emit(self.index(row, 0), self.index(row, self.columnCount() - 1))
        return saved

    def row_of(self, assignment_id: str) -> int:
        return next(i for i, a in enumerate(self.batch.assignments) if a.assignment_id == assignment_id)


class AssignmentFilterProxy(QSortFilterProxyModel):
    """Shows the rows that pass one of :data:`FILTERS`."""

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self._key = "all"

    def set_filter(self, key: str) -> None:
        if key not in FILTERS:
            raise KeyError(key)
        self.refresh(lambda: setattr(self, "_key", key))

    def refresh(self, change: Any = None) -> None:
        """Re-apply the filter (after ``change()``, or after a verdict changed which rows pass it)."""
        if hasattr(self, "beginFilterChange"):  # Qt >= 6.9
            self.beginFilterChange()
            if change:
                change()
            self.endFilterChange(QSortFilterProxyModel.Direction.Rows)
        else:
            if change:
                change()
            self.invalidateRowsFilter()

    def filter_key(self) -> str:
        return self._key

    def filterAcceptsRow(self, source_row: int, source_parent: QModelIndex) -> bool:
        model = self.sourceModel()
        a = model.assignment(source_row)
        return bool(FILTERS[self._key][1](a, model.verdict(a.assignment_id)))


class BoxPreview(QLabel):
    """The photo (or a grey canvas when it is missing) with every worker's boxes."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setMinimumSize(320, 240)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self._base: QPixmap | None = None
        self._full_size: tuple[int, int] = (1, 1)
        self._message = ""
        self._groups: list[tuple[QColor, list[mturk.MTurkBox], bool]] = []
        self._cache: tuple[str, QPixmap, tuple[int, int]] | None = None
        self.error = ""

    def show_image(self, ref: mturk.PhotoRef | None, assignments: list[mturk.Assignment], current: mturk.Assignment) -> None:
        self.error = ""
        self._groups = []
        colours: dict[str, QColor] = {}
        for a in assignments:
            c = colours.setdefault(a.worker_id, QColor(WORKER_COLOURS[len(colours) % len(WORKER_COLOURS)]))
            self._groups.append((c, a.boxes, a is current))
        self._base, self._message = None, ""
        if ref is not None:
            self._load(ref)
        if self._base is None:
            boxes = [b for a in assignments for b in a.boxes]
            w = int(max([b.x2 * 1.05 for b in boxes] + [ref.width if ref and ref.width else 0, 400]))
            h = int(max([b.y2 * 1.05 for b in boxes] + [ref.height if ref and ref.height else 0, 300]))
            self._full_size = (w, h)
            where = "photo name matches several files" if mturk.FLAG_AMBIGUOUS_PHOTO in current.all_flags else "photo not in the folder"
            self._message = self.error or f"{where}: boxes shown on a blank canvas"
        self._render()

    def _load(self, ref: mturk.PhotoRef) -> None:
        key = str(ref.path)
        if self._cache and self._cache[0] == key:
            self._base, self._full_size = self._cache[1], self._cache[2]
            return
        from bibtagger_gui.core.imageio import ImageError, load_with_info
        from bibtagger_gui.gui.qimage import rgb_to_qimage

        try:
            rgb, info = load_with_info(ref.path, max_side=PREVIEW_MAX_SIDE)
        except ImageError as exc:
            self.error = f"{ref.relpath}: {exc.message}"
            return
        self._base = QPixmap.fromImage(rgb_to_qimage(rgb))
        self._full_size = (info.width, info.height)
        self._cache = (key, self._base, self._full_size)

    def has_photo(self) -> bool:
        return self._base is not None

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self._render()

    def _render(self) -> None:
        fw, fh = self._full_size
        avail_w, avail_h = max(50, self.width() - 4), max(50, self.height() - 4)
        scale = min(avail_w / fw, avail_h / fh)
        w, h = max(1, int(fw * scale)), max(1, int(fh * scale))
        canvas = QPixmap(w, h)
        canvas.fill(QColor(PREVIEW_CANVAS))
        p = QPainter(canvas)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        if self._base is not None:
            p.drawPixmap(QRectF(0, 0, w, h), self._base, QRectF(self._base.rect()))
        for colour, boxes, is_current in sorted(self._groups, key=lambda g: g[2]):  # current worker on top
            pen = QPen(colour, 3 if is_current else 1.5)
            if not is_current:
                pen.setStyle(Qt.PenStyle.DashLine)
            p.setPen(pen)
            for b in boxes:
                r = QRectF(b.x1 * scale, b.y1 * scale, (b.x2 - b.x1) * scale, (b.y2 - b.y1) * scale)
                p.drawRect(r)
                fill, text = tag_colours(colour)
                fm = p.fontMetrics()
                tag = QRectF(r.left(), max(0.0, r.top() - fm.height()), fm.horizontalAdvance(b.label) + 4, fm.height())
                p.fillRect(tag, fill)
                p.setPen(text)
                p.drawText(tag, Qt.AlignmentFlag.AlignCenter, b.label)
                p.setPen(pen)
        if self._message:
            p.setPen(QColor(PREVIEW_MESSAGE))
            p.drawText(QRectF(0, 0, w, 24), Qt.AlignmentFlag.AlignCenter, self._message)
        p.end()
        self.setPixmap(canvas)


class MTurkReviewDialog(QDialog):
    """Review the assignments of one batch; verdicts go straight to the VerdictStore."""

    bibs_changed = Signal(int)  # photo id whose bibs were changed by "correct"

    def __init__(
        self,
        batch: mturk.Batch,
        match: mturk.PhotoMatch,
        verdicts: mturk.VerdictStore,
        store: Any = None,
        parent: QWidget | None = None,
        edits: Any = None,
    ):
        super().__init__(parent)
        self.batch, self.match, self.verdicts, self.store = batch, match, verdicts, store
        # Verdicts are undoable edits: with the main window (``edits``) they go through its push_edit
        # onto its undo stack (Ctrl+Z / Ctrl+Shift+Z work here too); alone, they are applied directly.
        self.edits = edits
        self.ctx = edits.ctx if edits is not None else EditContext(store)
        self.sink: Any = self  # writes and shows verdicts for undo/redo (the controller, once it owns the dialog)
        self.setWindowTitle(f"MTurk review — {batch.path.name}")

        self.model = AssignmentTableModel(batch, verdicts, self)
        self.proxy = AssignmentFilterProxy(self)
        self.proxy.setSourceModel(self.model)

        self.filter_box = QComboBox()
        for key, (label, _) in FILTERS.items():
            self.filter_box.addItem(label, key)
        self.filter_box.currentIndexChanged.connect(lambda _: self.set_filter(self.filter_box.currentData()))
        self.count_label = QLabel()
        self.count_label.setWordWrap(True)  # its whole line set the dialog's minimum width

        self.table = QTableView()
        self.table.setModel(self.proxy)
        self.table.setSelectionBehavior(QTableView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QTableView.SelectionMode.SingleSelection)
        self.table.verticalHeader().hide()
        self.table.verticalHeader().setDefaultSectionSize(self.table.fontMetrics().height() + 6)
        self.table.setSortingEnabled(True)
        self.table.sortByColumn(0, Qt.SortOrder.AscendingOrder)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.table.horizontalHeader().setStretchLastSection(True)
        # a long photo name (a path, a URL) is cut in its middle, whole in its tooltip, instead of pushing the
        # worker, status and verdict columns out of sight (docs/gui.md#small-screens)
        self.table.horizontalHeader().setMaximumSectionSize(self.table.fontMetrics().averageCharWidth() * PHOTO_COLUMN_CHARS)
        self.table.setTextElideMode(Qt.TextElideMode.ElideMiddle)
        self.table.selectionModel().currentRowChanged.connect(lambda cur, _prev: self._show_current())

        self.preview = BoxPreview()
        self.details = QLabel()
        self.details.setWordWrap(True)
        self.details.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.feedback = QLineEdit(mturk.DEFAULT_REJECT_FEEDBACK)
        self.feedback.setMaxLength(mturk.MAX_FEEDBACK)
        self.feedback.setToolTip("Sent to the worker with a rejection (required by MTurk)")
        self.status = QLabel()
        self.status.setWordWrap(True)

        self.approve_button = QPushButton("&Approve (A)")
        self.reject_button = QPushButton("&Reject (R)")
        self.correct_button = QPushButton("&Correct (C)")
        self.clear_button = QPushButton("&Undo verdict (U)")
        self.prev_button = QPushButton("◀ Previous")
        self.next_button = QPushButton("Next ▶")
        for b in (self.approve_button, self.reject_button, self.correct_button, self.clear_button, self.prev_button, self.next_button):
            b.setAutoDefault(False)
            b.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.approve_button.clicked.connect(self.approve)
        self.reject_button.clicked.connect(self.reject_assignment)
        self.correct_button.clicked.connect(self.correct)
        self.clear_button.clicked.connect(self.clear_verdict)
        self.prev_button.clicked.connect(lambda: self.step(-1))
        self.next_button.clicked.connect(lambda: self.step(1))

        # Keys work wherever the focus is except in text fields (which keep their letters
        # and arrows): the table is filtered, everything else reaches keyPressEvent.
        self._keys = {
            Qt.Key.Key_A: self.approve, Qt.Key.Key_R: self.reject_assignment, Qt.Key.Key_C: self.correct,
            Qt.Key.Key_U: self.clear_verdict, Qt.Key.Key_Right: lambda: self.step(1), Qt.Key.Key_Left: lambda: self.step(-1),
        }  # fmt: skip
        self.table.installEventFilter(self)
        for name in ("undo", "redo"):  # the window's Edit > Undo/Redo and their keys, in this window too
            act = getattr(edits, "actions_by_name", {}).get(name)
            if act is not None:
                self.addAction(act)

        top = QHBoxLayout()
        top.addWidget(look.BuddyLabel("&Show:", self.filter_box))  # the box's name for a screen reader, Alt+S
        top.addWidget(self.filter_box)
        top.addWidget(self.count_label, 1)
        left = QWidget()
        lv = QVBoxLayout(left)
        lv.setContentsMargins(0, 0, 0, 0)
        lv.addLayout(top)
        lv.addWidget(self.table)
        right = QWidget()
        rv = QVBoxLayout(right)
        rv.setContentsMargins(0, 0, 0, 0)
        rv.addWidget(self.preview, 1)
        rv.addWidget(self.details)
        fb = QHBoxLayout()
        fb.addWidget(QLabel("Rejection feedback:"))
        fb.addWidget(self.feedback, 1)
        rv.addLayout(fb)
        # the verdicts on one row, the moves under them: one row of six buttons made the dialog wider than a
        # 1920x1080 screen at 200 % (960 logical pixels)
        buttons = QGridLayout()
        for col, b in enumerate((self.approve_button, self.reject_button, self.correct_button, self.clear_button)):
            buttons.addWidget(b, 0, col)
        buttons.addWidget(self.prev_button, 1, 0)
        buttons.addWidget(self.next_button, 1, 3)
        rv.addLayout(buttons)
        rv.addWidget(self.status)
        split = QSplitter()
        split.addWidget(left)
        split.addWidget(right)
        split.setSizes([650, 650])
        layout = QVBoxLayout(self)
        layout.addWidget(split)

        self._name_widgets()
        start = self.filter_box.findData("pending") if any(a.pending for a in batch.assignments) else 0
        self.filter_box.setCurrentIndex(max(0, start))
        self.set_filter(self.filter_box.currentData())
        self.table.setFocus()
        screen_fit.resize_within(self, 1300, 800)  # less on a smaller screen

    def _name_widgets(self) -> None:
        """Accessible names, tooltips with each button's key, and the Tab order filter -> list -> feedback
        (the buttons take no focus: their keys work from the list)."""
        for widget, title, tip in (
            (self.filter_box, "Show", "Which assignments the list shows"),
            (self.table, "Assignments", "The batch's assignments; A approve, R reject, C correct, U undo verdict, Left/Right previous/next"),
            (self.preview, "Photo with the workers' boxes", "The current worker's boxes solid and thick, other workers' dashed"),
            (self.feedback, "Rejection feedback", self.feedback.toolTip()),
            (self.approve_button, "Approve", "Approve the assignment (A)"),
            (self.reject_button, "Reject", "Reject the assignment with the feedback text (R)"),
            (self.correct_button, "Correct", "Copy the worker's boxes into the photo's bibs and approve (C)"),
            (self.clear_button, "Undo verdict", "Clear this assignment's verdict (U)"),
            (self.prev_button, "Previous assignment", "Previous assignment (Left)"),
            (self.next_button, "Next assignment", "Next assignment (Right)"),
        ):
            name_widget(widget, title, tip)
        QWidget.setTabOrder(self.filter_box, self.table)
        QWidget.setTabOrder(self.table, self.feedback)

    def _handle_key(self, event: QKeyEvent) -> bool:
        mods = event.modifiers() & ~Qt.KeyboardModifier.KeypadModifier
        fn = self._keys.get(Qt.Key(event.key()))
        if fn is None or mods != Qt.KeyboardModifier.NoModifier:
            return False
        fn()
        return True

    def eventFilter(self, obj: QObject, event: QEvent) -> bool:
        if obj is self.table and event.type() == QEvent.Type.KeyPress and self._handle_key(event):
            return True
        return super().eventFilter(obj, event)

    def keyPressEvent(self, event: QKeyEvent) -> None:
        if not self._handle_key(event):
            super().keyPressEvent(event)

    # ------------------------------------------------------------------ navigation

    def set_filter(self, key: str) -> None:
        current = self.current_assignment()
        self.proxy.set_filter(key)
        if self.filter_box.currentData() != key:
            self.filter_box.setCurrentIndex(self.filter_box.findData(key))
        self._update_count()
        if current is not None and not self.select_assignment(current.assignment_id):
            self._select_proxy_row(0)
        elif current is None:
            self._select_proxy_row(0)

    def _update_count(self) -> None:
        decided = sum(1 for a in self.batch.assignments if a.pending and self.model.verdict(a.assignment_id))
        pending = sum(1 for a in self.batch.assignments if a.pending)
        self.count_label.setText(f"{self.proxy.rowCount()} shown · {decided}/{pending} pending assignments decided")

    def _select_proxy_row(self, row: int) -> None:
        if self.proxy.rowCount() == 0:
            self.table.selectionModel().clearCurrentIndex()
            self.table.clearSelection()
            self._show_current()
            return
        row = max(0, min(row, self.proxy.rowCount() - 1))
        index = self.proxy.index(row, 0)
        self.table.selectionModel().setCurrentIndex(
            index, self.table.selectionModel().SelectionFlag.ClearAndSelect | self.table.selectionModel().SelectionFlag.Rows
        )
        self.table.scrollTo(index)
        self._show_current()

    def select_assignment(self, assignment_id: str) -> bool:
        a = self.batch.assignment(assignment_id)
        if a is None:
            return False
        index = self.proxy.mapFromSource(self.model.index(self.batch.assignments.index(a), 0))
        if not index.isValid():
            return False
        self._select_proxy_row(index.row())
        return True

    def current_row(self) -> int:
        """Source row of the current assignment, or -1."""
        index = self.table.currentIndex()
        return self.proxy.mapToSource(index).row() if index.isValid() else -1

    def current_assignment(self) -> mturk.Assignment | None:
        row = self.current_row()
        return self.model.assignment(row) if row >= 0 else None

    def step(self, delta: int) -> None:
        index = self.table.currentIndex()
        self._select_proxy_row((index.row() if index.isValid() else -1) + delta)

    # ------------------------------------------------------------------ verdicts

    def _decide(self, verdict_for: Any) -> bool:
        a = self.current_assignment()
        if a is None:
            self.status.setText("Nothing selected.")
            return False
        if not a.pending:
            self.status.setText(f"This assignment is already {a.status} on MTurk; it cannot be changed.")
            return False
        proxy_row = self.table.currentIndex().row()
        nxt = self.proxy.index(proxy_row + 1, 0)
        next_id = self.model.assignment(self.proxy.mapToSource(nxt).row()).assignment_id if nxt.isValid() else None
        before = self.model.verdict(a.assignment_id)
        try:
            verdict = verdict_for(a)
        except mturk.VerdictError as exc:
            self.status.setText(str(exc))
            return False
        if verdict is None:
            return False
        cmd = self._record(a, before, verdict)
        if cmd is None:
            return False
        text = f"Saved: {VERDICT_TEXT[verdict.action]} — {a.image} ({a.worker_id})."
        if verdict.action == mturk.CORRECT:
            text += f" {self._copied} box(es) copied to {a.image}; edit them in the main window."
        if verdict.action == mturk.REJECT:
            text += self._kept_note(a)
        self.status.setText(text)
        self.proxy.refresh()
        self._update_count()
        if next_id is None or not self.select_assignment(next_id):
            self._select_proxy_row(proxy_row)
        return True

    def _record(self, a: mturk.Assignment, before: mturk.Verdict | None, after: mturk.Verdict | None) -> VerdictCommand | None:
        """Save a verdict change and its effect on the photo's bibs as one undoable edit; None if not saved."""
        ref = self.match.present.get(a.image)
        photo_id = ref.photo_id if self.store is not None and ref is not None else None
        sink, aid = self.sink, a.assignment_id
        what = VERDICT_TEXT[after.action].split(" ")[0] if after is not None else "clear verdict"
        cmd = VerdictCommand(
            self.ctx, photo_id, f"MTurk {what}: {a.image} ({a.worker_id})", (before, after),
            write_verdict=lambda v: sink.write_verdict(a, v),
            bibs_step=self._bibs_step(a, before, after, photo_id) if photo_id is not None else None,
            reveal=lambda: sink.reveal_verdict(aid),
        )  # fmt: skip
        self._copied = 0
        if self.edits is not None:
            if not self.edits.push_edit(cmd):
                self.status.setText("Not saved (the main window's status bar says why).")
                return None
        else:
            try:
                cmd.apply()
            except Exception as exc:  # noqa: BLE001 - nothing was saved: say so
                self.status.setText(f"Not saved: {exc}")
                return None
        if cmd.changes_store:
            self.bibs_changed.emit(photo_id)
        return cmd

    def _bibs_step(self, a: mturk.Assignment, before: mturk.Verdict | None, after: mturk.Verdict | None, photo_id: int) -> Any:
        """What a verdict change does to the photo's bibs (run once, inside the edit's transaction).

        Leaving *correct* takes back the copies still as copied; entering or leaving *reject* takes the
        answer's MTurk bibs out or brings them back; *correct* copies the worker's boxes as human bibs."""
        was = before.action if before is not None else None
        now = after.action if after is not None else None

        def step(store: Any) -> None:
            if was == mturk.CORRECT and now != mturk.CORRECT:
                mturk.remove_corrections(a, store, photo_id)
            if (was == mturk.REJECT) != (now == mturk.REJECT):
                mturk.sync_verdict_bibs(a, store, photo_id, mturk.REJECT if now == mturk.REJECT else None)
            if now == mturk.CORRECT:
                self._copied = len(mturk.correct_into_store(a, store, photo_id))

        return step

    def write_verdict(self, a: mturk.Assignment, verdict: mturk.Verdict | None) -> mturk.Verdict | None:
        """Save (None: clear) the verdict of an assignment of this batch; returns it as saved."""
        return self.model.set_verdict(self.model.row_of(a.assignment_id), verdict)

    def reveal_verdict(self, assignment_id: str) -> None:
        """After an undo or redo of a verdict: refilter, recount and select that assignment; a filter that
        hides it now (an approval redone under "pending") gives way to "All assignments", as the main
        window clears its own filter to show the photo an undo changed."""
        self.proxy.refresh()
        cleared = ""
        if not self.select_assignment(assignment_id) and self.proxy.filter_key() != "all":
            cleared = f" (showing all assignments: it left the filter {FILTERS[self.proxy.filter_key()][0]!r})"
            self.set_filter("all")
            self.select_assignment(assignment_id)
        self._update_count()
        v = self.model.verdict(assignment_id)
        a = self.batch.assignment(assignment_id)
        kept = self._kept_note(a) if v is not None and v.action == mturk.REJECT else ""
        self.status.setText(f"Verdict now: {VERDICT_TEXT[v.action] if v else 'none'} — {a.image} ({a.worker_id}){cleared}.{kept}")

    def approve(self) -> bool:
        return self._decide(lambda a: mturk.Verdict(a.assignment_id, mturk.APPROVE))

    def _kept_note(self, a: mturk.Assignment) -> str:
        """" Note: photo … was already accepted with this worker's box(es) …" after a rejection whose boxes stay on
        the photo (Accept had made them human bibs: mturk.kept_after_reject), else ""."""
        ref = self.match.present.get(a.image)
        if self.store is None or ref is None or ref.photo_id is None:
            return ""
        note = mturk.kept_note(ref.relpath, mturk.kept_after_reject(a, self.store, ref.photo_id))
        return f" Note: {note}." if note else ""

    def reject_assignment(self) -> bool:
        """R: reject the current assignment. (Not ``reject``: QDialog calls that on Escape and on close.)"""
        return self._decide(lambda a: mturk.Verdict(a.assignment_id, mturk.REJECT, self.feedback.text().strip()))

    def correct(self) -> bool:
        def make(a: mturk.Assignment) -> mturk.Verdict | None:
            ref = self.match.present.get(a.image)
            if self.store is None or ref is None or ref.photo_id is None:
                if a.photo_notes:  # the name matches several files
                    self.status.setText(f"Correct needs one photo: {a.photo_notes[0]}")
                    return None
                self.status.setText("Correct needs the photo in the open project (it is not in this folder's store).")
                return None
            return mturk.Verdict(a.assignment_id, mturk.CORRECT)

        return self._decide(make)

    def clear_verdict(self) -> None:
        """U: take the verdict back, with its effect on the photo (see :meth:`_bibs_step`); undoable too."""
        a = self.current_assignment()
        if a is None or self.model.verdict(a.assignment_id) is None:
            return
        if self._record(a, self.model.verdict(a.assignment_id), None) is None:
            return
        self.status.setText(f"Verdict cleared for {a.image} ({a.worker_id}).")
        self._update_count()

    # ------------------------------------------------------------------ display

    def _show_current(self) -> None:
        a = self.current_assignment()
        for b in (self.approve_button, self.reject_button, self.correct_button, self.clear_button):
            b.setEnabled(a is not None and a.pending)
        if a is None:
            self.details.setText("No assignment matches this filter.")
            self.preview.clear()
            return
        group = self.batch.images.get(a.image, [a])
        ref = self.match.present.get(a.image)
        self.preview.show_image(ref, group, a)
        v = self.model.verdict(a.assignment_id)
        e = html.escape
        lines = [
            f"<b>{e(a.image)}</b> — line {a.line}, worker {e(a.worker_id)}, {e(a.status)}"
            + (f", work time {a.work_time}s" if a.work_time is not None else ""),
            "Boxes: " + e(", ".join(b.label if b.is_digit else repr(b.label) for b in a.boxes) or "none"),
        ]
        if len(group) > 1:
            lines.append(
                "Other workers: "
                + e("; ".join(f"{o.worker_id}: {', '.join(o.numbers) or 'none'}" for o in group if o is not a))
            )
            rejected = {o.assignment_id for o in group if (w := self.model.verdict(o.assignment_id)) and w.action == mturk.REJECT}
            agreed = mturk.consensus(group, rejected=rejected)  # a rejected answer (MTurk's or ours) agrees with nobody
            if agreed:
                lines.append("Agreed by 2+ workers: " + e(", ".join(b.number for b in agreed)))
        lines += [f"⚠ {e(n)}" for n in a.all_notes]
        if a.feedback:
            lines.append(f"Feedback on MTurk: {e(a.feedback)}")
        if v is not None:
            lines.append(f"Verdict: {VERDICT_TEXT[v.action]}" + (f" ({e(v.feedback)})" if v.feedback else ""))
        self.details.setText("<br>".join(lines))


# --------------------------------------------------------------------------- menu


def import_note(batch: mturk.Batch, report: mturk.ImportReport) -> str:
    """What an MTurk import added, and what of it can be undone.

    The import only *adds* ``source="mturk"`` bibs (new rows; it never changes or removes one), so
    it is not an edit on the undo stack but leaves the stack as it is: an earlier edit undone later
    touches only its own rows (checked unchanged) and the imported ones stay
    (tests/test_gui_undo_mturk.py). Verdicts given afterwards are undoable edits.
    """
    if not report.added:
        return f"MTurk batch {batch.path.name}: no new worker boxes (already imported)."
    return (f"MTurk batch {batch.path.name}: {report.added} worker box(es) added to the photos as MTurk bibs. "
            "The import cannot be undone (reject an answer to take its boxes out); it only adds bibs, so your "
            "earlier edits can still be undone, and so can every verdict."
            + (f" {report.reviewed_note()}." if report.reviewed_note() else ""))  # fmt: skip


class MTurkController(QObject):
    """The Crowd menu's state: the open batch and its dialog (one per main window)."""

    def __init__(self, window: Any):
        super().__init__(window)
        self.window = window
        self.dialog: MTurkReviewDialog | None = None
        self.batch: mturk.Batch | None = None
        self._verdicts: mturk.VerdictStore | None = None
        self.import_report: mturk.ImportReport | None = None

    def _folder(self) -> Path | None:
        store = getattr(self.window, "store", None)
        if store is not None:
            return Path(store.folder)
        folder = getattr(self.window, "folder", None)
        return Path(folder) if folder else None

    def open_batch(self, csv_path: str | Path, folder: str | Path | None = None) -> MTurkReviewDialog:
        """Read a batch, import the workers' boxes into the window's store, show the review dialog.

        Raises mturk.BatchFormatError for unusable files.
        """
        batch = mturk.read_batch(csv_path)
        store = getattr(self.window, "store", None)
        if store is not None:  # a number being typed is saved before the workers' boxes come in
            save_typed_number(self.window)
        folder = Path(folder) if folder else self._folder()
        if store is None and folder is None:
            raise mturk.BatchFormatError("open a photo folder first")
        target = store if store is not None else folder
        match = mturk.match_photos(batch, target)
        if self._verdicts is not None:
            self._verdicts.close()
        self._verdicts = mturk.VerdictStore.open(target)
        self._verdicts.set_meta("last_csv", str(Path(csv_path).resolve()))
        # a verdict whose photo part was committed when the app stopped: mturk.db gets it now, before the
        # import (which leaves out rejected answers) and the table read it (docs/mturk.md)
        finished = mturk.finish_pending_verdict(store, self._verdicts, batch) if store is not None else None
        self.import_report = mturk.import_into_store(batch, store, self._verdicts, match) if store is not None else None
        if self.import_report and self.import_report.added:
            rebuild = getattr(self.window, "rebuild_queue", None)
            if callable(rebuild):
                rebuild()
        status = getattr(self.window, "statusBar", None)
        if self.import_report is not None and callable(status):
            status().showMessage(import_note(batch, self.import_report), 15000)
        # the previous batch's dialog is replaced: closed and deleted (it was kept as a hidden child of the
        # window, with its photo, for every batch opened)
        self._drop_dialog()
        self.batch = batch
        edits = self.window if callable(getattr(self.window, "push_edit", None)) else None
        self.dialog = MTurkReviewDialog(batch, match, self._verdicts, store, self.window, edits=edits)
        self.dialog.sink = self  # undo/redo of a verdict reach the dialog showing it, even a later one
        self.dialog.bibs_changed.connect(self._bibs_changed)
        if finished is not None:
            aid, v = finished
            a = batch.assignment(aid)
            what = f"{a.image} ({a.worker_id})" if a is not None else f"assignment {aid}"
            self.dialog.status.setText(f"Saved the verdict that was being written when bibtagger stopped: "
                                       f"{VERDICT_TEXT[v.action] if v else 'none'} — {what}.")  # fmt: skip
        self.dialog.show()
        return self.dialog

    def _drop_dialog(self) -> None:
        """Close and delete the open batch's dialog (a child of the window: kept for good otherwise)."""
        if self.dialog is not None:
            self.dialog.close()
            self.dialog.deleteLater()
            self.dialog = None

    def folder_closed(self) -> None:
        """The window closed its folder (another one opens, or the app quits): the dialog and the verdict
        store belong to that folder's project, whose store is closed now, so they close too."""
        self._drop_dialog()
        if self._verdicts is not None:
            self._verdicts.close()
            self._verdicts = None
        self.batch = None  # its verdicts are that folder's

    def write_verdict(self, a: mturk.Assignment, verdict: mturk.Verdict | None) -> mturk.Verdict | None:
        """Save a verdict for an undo/redo: through the open dialog when it shows that batch (its table
        follows), else straight into the folder's verdict store."""
        d = self.dialog
        if d is not None and d.batch.assignment(a.assignment_id) is not None:
            return d.write_verdict(a, verdict)
        if self._verdicts is None:
            raise mturk.VerdictError("the MTurk verdicts of this folder are closed")
        if verdict is None:
            self._verdicts.clear(a.assignment_id)
            return None
        return self._verdicts.set(verdict, a)

    def reveal_verdict(self, assignment_id: str) -> None:
        """After an undo or redo of a verdict: the dialog selects it (even closed or behind the window,
        so it is there when it comes back) and the main window's status bar says what the verdict is now
        (the window itself shows the photo: ``VerdictCommand``)."""
        d = self.dialog
        if d is not None and d.batch.assignment(assignment_id) is not None:
            d.reveal_verdict(assignment_id)
            text = f"MTurk {d.status.text()[0].lower()}{d.status.text()[1:]}"
        else:
            v = self._verdicts.get(assignment_id) if self._verdicts is not None else None
            text = f"MTurk verdict now: {VERDICT_TEXT[v.action] if v else 'none'} — assignment {assignment_id}."
        status = getattr(self.window, "statusBar", None)
        if callable(status):
            status().showMessage(text, 10000)

    def _bibs_changed(self, photo_id: int) -> None:
        """After *correct*: show the photo with its new human bibs in the main window, ready to edit."""
        refresh = getattr(self.window, "refresh_photo", None)
        if callable(refresh):
            refresh(photo_id)
        select = getattr(self.window, "select_photo", None)
        if callable(select):
            select(photo_id)

    def export_to(self, out_csv: str | Path, csv_path: str | Path | None = None) -> mturk.ExportReport:
        """Export the verdicts of the open batch (or of ``csv_path``) to ``out_csv``."""
        batch = mturk.read_batch(csv_path) if csv_path else self.batch
        if batch is None:
            raise mturk.BatchFormatError("no MTurk batch is open")
        if Path(out_csv).resolve() == batch.path.resolve():
            raise mturk.BatchFormatError("choose another file: MTurk's download is kept as it is")
        if self._verdicts is not None:
            return mturk.export_batch(batch, self._verdicts, out_csv)
        folder = self._folder()
        if folder is None:
            raise mturk.BatchFormatError("open a photo folder first")
        store = getattr(self.window, "store", None)
        with mturk.VerdictStore.open(store if store is not None else folder) as verdicts:
            if store is not None:
                mturk.finish_pending_verdict(store, verdicts, batch)
            return mturk.export_batch(batch, verdicts, out_csv)

    # menu handlers (file dialogs, message boxes)

    def import_action(self) -> None:
        start = str(self._folder() or Path.home())
        path, _ = QFileDialog.getOpenFileName(self.window, "Import MTurk batch results", start, "CSV files (*.csv);;All files (*)")
        if not path:
            return
        folder = None
        if self._folder() is None:
            folder = QFileDialog.getExistingDirectory(self.window, "Photo folder of this batch", str(Path(path).parent))
            if not folder:
                return
        try:
            dialog = self.open_batch(path, folder)
        except (mturk.BatchFormatError, OSError) as exc:
            QMessageBox.warning(self.window, "MTurk import", str(exc))
            return
        b = dialog.batch
        rep = self.import_report
        shared = dialog.match.ambiguous_lines()
        if b.errors or dialog.match.missing or shared or (rep and rep.added):
            text = (
                f"{len(b.assignments)} assignments on {len(b.images)} photos; "
                f"{len(dialog.match.missing)} photos are not in the folder."
                + (f"\n{len(shared)} photo names are shared by several photos of the folder, which the batch does not "
                   "tell apart; their answers were not imported:\n" + "\n".join(shared[:20]) if shared else "")
                + (f"\n{import_note(b, rep)}" if rep and rep.added else "")
                + ("\n\nProblems in the CSV:\n" if b.errors else "")
                + "\n".join(str(e) for e in b.errors[:20])
                + (f"\n… and {len(b.errors) - 20} more problems" if len(b.errors) > 20 else "")
            )
            QMessageBox.information(self.window, "MTurk import", text)

    def export_action(self) -> None:
        csv_path = None
        if self.batch is None:
            last = self._verdicts.get_meta("last_csv") if self._verdicts else None
            csv_path, _ = QFileDialog.getOpenFileName(self.window, "MTurk batch results to answer", last or "", "CSV files (*.csv)")
            if not csv_path:
                return
        default = (self.batch.path if self.batch else Path(csv_path)).with_name("verdicts_upload.csv")
        out, _ = QFileDialog.getSaveFileName(self.window, "Export MTurk verdicts", str(default), "CSV files (*.csv)")
        if not out:
            return
        try:
            rep = self.export_to(out, csv_path)
        except (mturk.BatchFormatError, OSError) as exc:
            QMessageBox.warning(self.window, "MTurk export", str(exc))
            return
        msg = f"{len(rep.approved)} approved, {len(rep.rejected)} rejected, {rep.untouched} rows unchanged.\nUpload {out} on MTurk (Manage ▸ Results ▸ Upload CSV)."
        if rep.ignored_final:
            msg += f"\n{len(rep.ignored_final)} verdicts were for assignments already decided on MTurk and were left out."
        if rep.encoding_note:
            msg += f"\nThe file was {rep.encoding_note}."
        QMessageBox.information(self.window, "MTurk export", msg)


def install(window: Any) -> MTurkController:
    """Add the Crowd menu (Import MTurk Batch…, Export MTurk Verdicts…) to a QMainWindow."""
    controller = MTurkController(window)
    menu = window.menuBar().addMenu("Cr&owd")  # Alt+O: Alt+R is &Review (it went to Review and Crowd in turn)
    import_act = QAction("Import MTurk Batch…", window)
    import_act.triggered.connect(controller.import_action)
    import_act.setStatusTip("Read a batch results CSV downloaded from MTurk: the workers' boxes are added as mturk "
                            "bibs of the folder's photos")
    export_act = QAction("Export MTurk Verdicts…", window)
    export_act.setStatusTip("Write the approve/reject verdicts of a batch's assignments as a CSV to upload on MTurk")
    export_act.triggered.connect(controller.export_action)
    menu.addAction(import_act)
    menu.addAction(export_act)
    window.mturk_controller = controller
    controller.menu, controller.import_act, controller.export_act = menu, import_act, export_act
    return controller
