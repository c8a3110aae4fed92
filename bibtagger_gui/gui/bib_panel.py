"""Side panel: the current photo's bibs (number, name, confidence, source) and the number field.

With a start list (``set_startlist``, called by the window once per folder and after an
import) the Name column shows each runner's name, and a number not on the list gets a
warning colour and a tooltip with the nearest valid number (``core.startlist``).

The panel only displays and emits; the window turns its signals into undoable
commands. The table never takes keyboard focus, so the review keys keep working;
typing goes to the number field (``number_edit``).
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QAction, QBrush, QColor, QIcon, QPainter, QPen, QPixmap
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFormLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QStyle,
    QStyleOptionFrame,
    QTableWidget,
    QTableWidgetItem,
    QToolButton,
    QHBoxLayout,
    QVBoxLayout,
    QWidget,
)

from bibtagger_gui.core.bib import MAX_NUMBER_LENGTH
from bibtagger_gui.core.review import ReviewItem
from bibtagger_gui.core.startlist import StartList
from bibtagger_gui.gui import look

OFF_LIST_BACKGROUND = QColor(255, 214, 153)  # light orange: "check this number" (with black text, any palette)
OFF_LIST_TEXT = QColor(0, 0, 0)
COL_NUMBER, COL_NAME, COL_CONFIDENCE, COL_SOURCE = range(4)
#: the number field's hint (placeholder) in its three situations, longest first: the field shows the longest
#: that fits its width (the first one was cut off, "type digits to chan…", in the default 1400x900 window;
#: its long form is also in the field's tooltip and accessible description)
HINT_IDLE = ("type digits to change the selected bib", "type digits to change", "type a number", "number")
HINT_NEW_BOX = ("number for the new box", "new box's number", "number")
HINT_NO_BOX = ("number (no box)", "number")


def state_icon(state: look.BibLook, size: int = 16, dpr: float = 1.0) -> QIcon:
    """A small box drawn like the bib's box on the photo (its colour and line style), for the table."""
    pix = QPixmap(round(size * dpr), round(size * dpr))
    pix.setDevicePixelRatio(dpr)
    pix.fill(Qt.GlobalColor.transparent)
    p = QPainter(pix)
    p.setPen(QPen(state.colour, 2, state.line))
    p.drawRect(2, 2, size - 4, size - 4)
    p.end()
    return QIcon(pix)


def off_list_tooltip(startlist: StartList, number: str) -> str | None:
    """None for a number on the start list, else the warning with the nearest valid number."""
    valid, suggestion, name = startlist.check(number)
    if valid:
        return None
    if suggestion is None:
        return "not on start list"
    return f"not on start list; did you mean {suggestion}" + (f" ({name})" if name else "") + "?"


def hint_room(edit: QLineEdit) -> int:
    """The width (px) a line edit has for its text: its contents rectangle less the text margins and the
    2 px Qt leaves on each side (QLineEditPrivate::horizontalMargin)."""
    opt = QStyleOptionFrame()
    edit.initStyleOption(opt)
    r = edit.style().subElementRect(QStyle.SubElement.SE_LineEditContents, opt, edit)
    m = edit.textMargins()
    return r.width() - m.left() - m.right() - 4


class OneClickButton(QToolButton):
    """A tool button that a double click triggers once. The second click of a double click (press, double-click
    event, release) was a second click: Accept Photo double-clicked accepted the next photo too, unseen, and Delete
    Bib deleted the next bib as well."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self._second = False  # the press under way is a double click's second: its release triggers nothing

    def mouseDoubleClickEvent(self, event) -> None:  # noqa: N802 (Qt's name)
        self._second = True
        event.accept()

    def mouseReleaseEvent(self, event) -> None:  # noqa: N802
        if self._second:
            self._second = False
            self.setDown(False)
            event.accept()
            return
        super().mouseReleaseEvent(event)


class BibPanel(QWidget):
    """Bib table + number field + action buttons for the current photo."""

    bibSelected = Signal(int)
    numberFieldFocused = Signal()
    #: the number field lost the focus (the Qt.FocusReason as an int)
    numberFieldLeft = Signal(int)

    def __init__(self, parent=None):
        super().__init__(parent)
        #: set by the window: True when a key pressed in the number field is to go to the window's action
        #: instead of being text or moving the cursor (the keys that move on, after digits typed from the photo)
        self.key_to_window: Any = lambda _event: False
        self.title = QLabel("No photo")
        self.title.setWordWrap(True)
        self.title.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        font = self.title.font()
        font.setBold(True)
        self.title.setFont(font)
        self.state = QLabel("")
        self.state.setWordWrap(True)

        self.table = QTableWidget(0, 4)
        self.table.setHorizontalHeaderLabels(["Number", "Name", "Confidence", "Source"])
        self.table.setColumnHidden(COL_NAME, True)
        self.table.verticalHeader().setVisible(False)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.table.itemSelectionChanged.connect(self._row_selected)
        self.table.cellDoubleClicked.connect(lambda *_: self.number_edit.setFocus())

        self.number_edit = QLineEdit()
        self.number_edit.setObjectName("numberEdit")
        self.number_edit.setMaxLength(MAX_NUMBER_LENGTH)  # the rule a number follows (core.bib.given_number)
        font = self.number_edit.font()
        font.setPointSize(font.pointSize() + 6)
        self.number_edit.setFont(font)
        self._hint: tuple[str, ...] = HINT_IDLE
        self.set_hint(HINT_IDLE)
        self._select_on_release = False  # the field took the focus from a click: its number is selected at the release
        self.number_edit.installEventFilter(self)

        self.buttons = QHBoxLayout()
        form = QFormLayout()
        form.addRow("&Number:", self.number_edit)  # Alt+N: the field

        self.help = QLabel()
        self.help.setWordWrap(True)
        # the palette's own text colour: a fixed grey had 2.6:1 on a dark window

        layout = QVBoxLayout(self)
        layout.addWidget(self.title)
        layout.addWidget(self.state)
        layout.addWidget(self.table, 1)
        layout.addLayout(form)
        layout.addLayout(self.buttons)
        layout.addWidget(self.help)
        self._bibs: list[Any] = []
        self._updating = False
        #: a number is being typed (the window's entry is open): no refresh changes the field's text, with or
        #: without the focus (the window sets it; its commit or cancel puts the selected bib's number back)
        self.typing = False
        self.startlist: StartList | None = None

    def set_startlist(self, startlist: StartList | None) -> None:
        """Use ``startlist`` for names and off-list flags (None: no start list); redraws the rows."""
        self.startlist = startlist if startlist else None
        self.table.setColumnHidden(COL_NAME, self.startlist is None)
        self._fill_rows()

    def add_button(self, action: QAction) -> None:
        button = OneClickButton()
        button.setDefaultAction(action)
        button.setFocusPolicy(Qt.FocusPolicy.NoFocus)  # its action's keys reach it (tooltip: "Draw Box (B)")
        self.buttons.addWidget(button)

    def button_widgets(self) -> list[QToolButton]:
        return [self.buttons.itemAt(i).widget() for i in range(self.buttons.count())]

    def set_hint(self, hints: tuple[str, ...]) -> None:
        """Show the longest of ``hints`` (longest first) that fits the number field as its placeholder."""
        self._hint = tuple(hints)
        self._fit_hint()

    def _fit_hint(self) -> None:
        edit = self.number_edit
        room = hint_room(edit)
        fm = edit.fontMetrics()
        text = next((h for h in self._hint if fm.horizontalAdvance(h) <= room), self._hint[-1])
        if edit.placeholderText() != text:
            edit.setPlaceholderText(text)

    def eventFilter(self, obj, event) -> bool:
        if obj is self.number_edit and event.type() in (event.Type.Resize, event.Type.FontChange):
            self._fit_hint()
        if obj is self.number_edit and event.type() == event.Type.FocusIn:
            # a click into the field selects its number once the click is over, so digits typed after it replace
            # the number as digits typed from the photo do (they went where the click put the cursor: "22" clicked,
            # then "23" typed, was committed as 2223); a drag that selects, or a second click, is the field's own
            self._select_on_release = event.reason() == Qt.FocusReason.MouseFocusReason
            self.numberFieldFocused.emit()
        if obj is self.number_edit and event.type() == event.Type.MouseButtonRelease and self._select_on_release:
            self._select_on_release = False
            if not self.number_edit.hasSelectedText():
                self.number_edit.selectAll()
        if obj is self.number_edit and event.type() == event.Type.FocusOut:
            self._select_on_release = False
            self.numberFieldLeft.emit(int(event.reason().value))
        if obj is self.number_edit and event.type() == event.Type.ShortcutOverride and (
            event.text().isspace() or self.key_to_window(event)
        ):
            # Space (and any key that types only whitespace) is no part of a bib number: a line edit would
            # take it as text, so a key map binding it (the documented "next_photo": "N; Space") did
            # nothing in the number field; the window's shortcut gets it (typed, unbound, it stays text)
            return True
        return False

    # ---- content
    def show_item(self, item: ReviewItem | None, bibs: list[Any], selected_id: int | None) -> None:
        self._updating = True
        try:
            self._bibs = list(bibs)
            if item is None:
                self.title.setText("No photo")
                self.state.setText("")
            else:
                p = item.photo
                # the relative path, folders included: two cards' IMG_0001.JPG are told apart here too
                self.title.setText(p.relpath)
                self.title.setToolTip(p.relpath)
                size = f"{p.width}×{p.height} px" if p.width else ""
                parts = [size, "reviewed ✓" if p.reviewed else "not reviewed"]
                if item.conflict:
                    parts.append("conflict: model and people disagree")
                if p.error:
                    parts.append(f"error: {p.error}")
                self.state.setText(" · ".join(x for x in parts if x))
            self._fill_rows()
            self.set_selected(selected_id)
        finally:
            self._updating = False

    def _fill_rows(self) -> None:
        was = self._updating
        self._updating = True
        try:
            self.table.setRowCount(len(self._bibs))
            for r, b in enumerate(self._bibs):
                state = look.bib_look(b.source, b.confidence)
                conf = "" if b.confidence is None else f"{b.confidence:.2f}"
                if b.source == "model" and state.mark:
                    conf += f" {state.mark}"  # the state in text too (the same mark as on the box's tag)
                name, warning = "", None
                if self.startlist is not None:
                    warning = off_list_tooltip(self.startlist, b.number)
                    name = "⚠ not on list" if warning else self.startlist.name(b.number)
                cells = [b.number + ("" if b.box is not None else " (no box)"), name, conf, b.source]
                for c, text in enumerate(cells):
                    cell = QTableWidgetItem(text)
                    if c == COL_NUMBER:
                        # the state as the box's own colour and line, beside text in the palette's colour
                        # (coloured text was unreadable: orange on white, red on a dark base)
                        cell.setIcon(state_icon(state, dpr=self.devicePixelRatioF()))
                        cell.setData(Qt.ItemDataRole.AccessibleTextRole, f"{b.number}, {state.words}")
                        f = cell.font()
                        f.setBold(True)
                        cell.setFont(f)
                    if c == COL_CONFIDENCE:
                        cell.setToolTip(state.words)
                    if warning and c in (COL_NUMBER, COL_NAME):
                        cell.setBackground(QBrush(OFF_LIST_BACKGROUND))
                        cell.setForeground(QBrush(OFF_LIST_TEXT))  # not the palette's text: white on a dark one
                        cell.setToolTip(warning)
                    self.table.setItem(r, c, cell)
        finally:
            self._updating = was

    def set_selected(self, bib_id: int | None) -> None:
        was = self._updating
        self._updating = True
        try:
            self.table.clearSelection()
            for r, b in enumerate(self._bibs):
                if b.id == bib_id:
                    self.table.selectRow(r)
                    break
            if not self.number_edit.hasFocus() and not self.typing:  # a typed number is never overwritten
                number = next((b.number for b in self._bibs if b.id == bib_id), "")
                self.number_edit.setText(number)
        finally:
            self._updating = was

    def bib_at_row(self, row: int) -> int | None:
        """The id of the bib shown in table row ``row`` (None off the rows)."""
        return self._bibs[row].id if 0 <= row < len(self._bibs) else None

    def _row_selected(self) -> None:
        if self._updating:
            return
        rows = self.table.selectionModel().selectedRows()
        if rows and rows[0].row() < len(self._bibs):
            self.bibSelected.emit(self._bibs[rows[0].row()].id)
