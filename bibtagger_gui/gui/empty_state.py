"""What the photo view says when it shows no photo (docs/gui.md#empty-states).

A card over the photo view, in the palette's window colours, for five states:

- ``no_folder``: what the app does, *Open Folder… (Ctrl+O)*, *Try Demo Photos* (gui/demo_action.py),
  "or drop a folder here", recent folders;
- ``scanning``: the first scan of a folder, before any photo is in the list ("Scanning… n photos found");
- ``no_photos``: the folder holds no photo bibtagger reads (which formats it reads, the HEIC/RAW/… files
  the scan left out, a failed or cancelled scan);
- ``filtered``: the search and/or the filter leave no photo: which, and how to clear them;
- ``failed``: the photo shown could not be loaded (its error).

:func:`describe` decides the state and its words from the window (no widgets); :class:`EmptyState` shows
them. It follows the window through its signals (list model resets, the current photo, the progress bar,
a failed load), refreshing once per event-loop turn, so ``main_window`` only creates it. A folder dropped
on the photo view (or anywhere on the window) opens it, in every state, unless a box is being drawn or waits for its
number (the drop is refused and the status bar says how to finish the box, as for Ctrl+O); a photo file dropped there is shown (its folder opened first
when it is not the open one's, ``MainWindow.open_photo``); any other file is refused, the status bar says why. Its buttons take Return/Enter/Space and Tab/Up/Down from the
window's shortcuts while they have the focus; Tab in the photo view with no photo shown goes to them, and
in the no-folder and no-photos states the first button takes the focus from the photo view.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from PySide6.QtCore import QEvent, QObject, QSize, Qt, QTimer
from PySide6.QtGui import QColor, QFont, QPainter, QPalette, QPen
from PySide6.QtWidgets import QFrame, QLabel, QLineEdit, QPushButton, QSizePolicy, QStyle, QStyleOptionButton, QVBoxLayout

from bibtagger_gui.core.imageio import SUPPORTED_EXTENSIONS, is_supported, is_unsupported_photo
from bibtagger_gui.core.review import ReviewFilter
from bibtagger_gui.gui import demo_action, look

#: recent folders offered as buttons (File > Open Recent has up to 10)
MAX_RECENT = 5
#: the card's widest size (logical px); narrower in a narrow view
CARD_WIDTH = 520
#: the card's edge (logical px; docs/gui.md#empty-states)
EDGE_WIDTH = 2
_PRIMARY = 2  # at most two buttons of a state (Clear Search, Show All Photos)

_ACTIVATE = (Qt.Key.Key_Return, Qt.Key.Key_Enter, Qt.Key.Key_Space)
_MOVE = (Qt.Key.Key_Tab, Qt.Key.Key_Backtab, Qt.Key.Key_Up, Qt.Key.Key_Down)


@dataclass
class Action:
    """A button of the card: its text, what it does in words (tooltip, accessible description), its slot."""

    text: str
    description: str
    slot: Callable[[], Any]
    name: str = ""  # accessible name (the text without its keys when empty)


@dataclass
class Content:
    """What the card says: the state, a title, lines of text, buttons and recent folders."""

    state: str
    title: str
    lines: list[str] = field(default_factory=list)
    actions: list[Action] = field(default_factory=list)
    drop_hint: bool = False
    recent: list[str] = field(default_factory=list)

    def text(self) -> str:
        """Everything the card says, for tests and the accessible description."""
        parts = [self.title, *self.lines, *(a.text for a in self.actions)]
        if self.drop_hint:
            parts.append(DROP_HINT)
        if self.recent:
            parts += [RECENT_TITLE, *self.recent]
        return "\n".join(parts)


DROP_HINT = "or drop a folder here"
RECENT_TITLE = "Recent folders"


def _keys(window: Any, action: str) -> str:
    bound = window.keymap.text(action) if window.keymap.keys.get(action) else ""
    return f" ({bound})" if bound else ""


def readable_formats() -> str:
    """The photo formats a scan takes in, in words ("BMP, JPEG, PNG, TIFF and WEBP")."""
    names = sorted({{"JPG": "JPEG", "TIF": "TIFF"}.get(e.lstrip(".").upper(), e.lstrip(".").upper()) for e in SUPPORTED_EXTENSIONS})
    return ", ".join(names[:-1]) + f" and {names[-1]}" if len(names) > 1 else names[0]


def _photos(n: int) -> str:
    return f"{n} photo" if n == 1 else f"{n} photos"


def recent_folders(window: Any, leave_out: Path | None = None) -> list[str]:
    """The window's recent folders that are still folders, the open one left out, at most MAX_RECENT."""
    out = []
    for path in window.recent_folders():
        if leave_out is not None and Path(path) == leave_out:
            continue
        try:
            if Path(path).is_dir():
                out.append(path)
        except OSError:
            continue
        if len(out) >= MAX_RECENT:
            break
    return out


def describe(window: Any) -> Content | None:
    """The empty state of ``window`` now, or None when a photo is shown normally."""
    open_folder = Action(
        f"Open Folder…{_keys(window, 'open_folder')}",
        f"Choose a folder of race photos to review (File > Open Folder){_keys(window, 'open_folder')}",
        window.choose_folder,
        "Open Folder…",
    )
    if window.store is None or window.folder is None:
        try_demo = Action(
            "Try Demo Photos",
            "Open 24 synthetic race photos (bursts, a sideways photo, photos without a bib) made in the "
            "bibtagger-demo folder of your user data folder, to try the app on",
            lambda: demo_action.open_demo(window),
        )
        return Content(
            "no_folder",
            "Find the race bib numbers in your photos",
            ["Open a folder of race photos: bibtagger reads the bib number of every runner in them, "
             "and you check and correct them, photo by photo."],  # fmt: skip
            [open_folder, try_demo],
            drop_hint=True,
            recent=recent_folders(window),
        )
    folder: Path = window.folder
    if window.current_id is not None:
        error = window.photo_view.image_error
        if not error:
            return None
        item = window.items.get(window.current_id)
        name = item.photo.relpath if item is not None else "This photo"
        return Content(
            "failed",
            "This photo could not be loaded",
            [f"{name}: {error}",
             f"The file is left as it is. Go on with the next photo{_keys(window, 'next_photo')}."],  # fmt: skip
        )
    total = len(window.items)
    if total == 0:
        scan = next((j for j in window.jobs if j.kind == "scan"), None)
        if scan is not None:
            done, found = window.last_progress if window.jobs and window.jobs[0] is scan else (0, 0)
            lines = [f"Scanning… {_photos(found)} found"]
            if found:
                lines.append(f"{done} of {found} looked at; they appear here when the scan is done.")
            return Content("scanning", f"Scanning {folder.name}…", lines)
        lines = [f"bibtagger found no photo it can read in this folder or its sub-folders ({readable_formats()})."]
        if window.scan_unsupported:
            lines.append(window.scan_unsupported)
        if window.scan_skipped:
            rel, why = window.scan_skipped[0]
            more = f" (+{len(window.scan_skipped) - 1} more)" if len(window.scan_skipped) > 1 else ""
            lines.append(f"{len(window.scan_skipped)} file(s) could not be taken in: {rel}: {why}{more}")
        outcome = window.last_job_outcome
        if outcome is not None and outcome[0] == "scan" and outcome[1] == "failed":
            lines.append(outcome[2])
        elif outcome is not None and outcome[0] == "scan" and outcome[1] == "cancelled":
            lines.append("The scan was cancelled: open the folder again to scan it.")
        other = Action(
            f"Open Another Folder…{_keys(window, 'open_folder')}", open_folder.description, window.choose_folder,
            "Open Another Folder…",
        )  # fmt: skip
        return Content("no_photos", f"No photos in {folder.name}", lines, [other], drop_hint=True,
                       recent=recent_folders(window, leave_out=folder))  # fmt: skip
    if window.list_model.total() == 0:
        search = window.search_edit.text().strip()
        flt: ReviewFilter = window.filter
        filtered = flt is not ReviewFilter.ALL
        lines, actions = [], []
        if search and filtered:
            lines.append(f"No photo has bib “{search}” under the filter “{flt.label}” "
                         f"({_photos(total)} in the folder).")  # fmt: skip
        elif search:
            lines.append(f"No photo has bib “{search}” ({_photos(total)} in the folder).")
        else:
            lines.append(f"The filter “{flt.label}” leaves none of the {_photos(total)} in the folder.")
        if search:
            lines.append(f"Escape in the search box{_keys(window, 'search')} clears the search.")
            actions.append(Action("Clear Search", "Clear the bib number search and show its photos again",
                                  window.search_edit.clear))  # fmt: skip
        if filtered:
            lines.append(f"Choose “{ReviewFilter.ALL.label}” in the filter box above the list (or Review > Filter).")
            actions.append(Action("Show All Photos", f"Set the review filter to “{ReviewFilter.ALL.label}”",
                                  lambda: window.set_filter(ReviewFilter.ALL)))  # fmt: skip
        return Content("filtered", "No photo matches", lines, actions)
    return None


class _Button(QPushButton):
    """A card button: Return/Enter/Space press it and Tab/Up/Down move among the card's buttons, even where
    the window's shortcuts have those keys (Return accepts a photo, Tab selects the next bib).

    :meth:`set_elided` gives it a text shown elided in its middle to the button's own width, again at each
    resize (a recent folder's name and parent: the card is narrower than :data:`CARD_WIDTH` on a small screen,
    and a text elided to a fixed width ran past the button's edges there)."""

    full_text = ""  # the whole text of set_elided; "" for a button that shows its text as it is

    def set_elided(self, text: str) -> None:
        self.full_text = text
        # the layout gives it the card's width whatever its text (the text follows the width, not the other way)
        self.setSizePolicy(QSizePolicy.Policy.Ignored, self.sizePolicy().verticalPolicy())
        self._elide()

    def set_plain(self, text: str) -> None:
        self.full_text = ""
        self.setSizePolicy(QSizePolicy.Policy.Minimum, self.sizePolicy().verticalPolicy())
        self.setText(text)

    def text_room(self) -> int:
        """The width its label may take: the button's less what the style adds around a label."""
        opt = QStyleOptionButton()
        self.initStyleOption(opt)
        opt.text = ""  # (a style may give a button with text a minimum width: not a margin)
        frame = self.style().sizeFromContents(QStyle.ContentsType.CT_PushButton, opt, QSize(0, 0), self).width()
        return max(0, self.width() - frame)

    def _elide(self) -> None:
        if self.full_text:
            self.setText(self.fontMetrics().elidedText(self.full_text, Qt.TextElideMode.ElideMiddle, self.text_room()))

    def resizeEvent(self, event) -> None:  # noqa: N802 (Qt's name)
        super().resizeEvent(event)
        self._elide()

    def changeEvent(self, event) -> None:  # noqa: N802
        super().changeEvent(event)
        if event.type() in (QEvent.Type.FontChange, QEvent.Type.StyleChange):
            self._elide()

    def event(self, event) -> bool:
        if event.type() == QEvent.Type.ShortcutOverride and _card_key(event):
            event.accept()
            return True
        return super().event(event)

    def keyPressEvent(self, event) -> None:
        key = event.key()
        if key in (Qt.Key.Key_Return, Qt.Key.Key_Enter) and _card_key(event):
            if not event.isAutoRepeat():
                self.click()
            event.accept()
            return
        if key in _MOVE and _card_key(event):
            back = key in (Qt.Key.Key_Backtab, Qt.Key.Key_Up) or bool(event.modifiers() & Qt.KeyboardModifier.ShiftModifier)
            card = self.parentWidget()
            while card is not None and not isinstance(card, EmptyState):
                card = card.parentWidget()
            if card is not None:
                card.focus_step(-1 if back else 1)
            event.accept()
            return
        super().keyPressEvent(event)


def _card_key(event) -> bool:
    """A key the card's buttons take: Return, Enter, Space (plain or keypad), Tab, Shift+Tab, Up, Down."""
    mods = event.modifiers() & ~Qt.KeyboardModifier.KeypadModifier
    key = event.key()
    if key in _ACTIVATE:
        return mods == Qt.KeyboardModifier.NoModifier
    if key in _MOVE:
        return mods in (Qt.KeyboardModifier.NoModifier, Qt.KeyboardModifier.ShiftModifier)
    return False


def _local_paths(mime: Any) -> list[Path]:
    if mime is None or not mime.hasUrls():
        return []
    return [Path(url.toLocalFile()) for url in mime.urls() if url.isLocalFile()]


def dropped_photo(mime: Any) -> Path | None:
    """The first local file among the dropped URLs that is a photo bibtagger reads (by its extension), if any."""
    for path in _local_paths(mime):
        try:
            if is_supported(path) and not path.name.startswith(".") and path.is_file():
                return path
        except OSError:
            continue
    return None


def refusal(mime: Any) -> str | None:
    """Why a drop of local files that are neither a folder nor a readable photo is refused (None: no local file)."""
    paths = _local_paths(mime)
    if not paths:
        return None
    return file_refusal(paths[0])


def file_refusal(path: Path) -> str:
    """Why the file ``path`` is not opened as a photo (dropped on the view, or on the app's icon)."""
    name = path.name or str(path)
    if is_unsupported_photo(name):
        fmt = Path(name).suffix.lstrip(".").upper()
        return f"Cannot open {name}: {fmt} photos cannot be read (bibtagger reads {readable_formats()}); drop a folder or a photo"
    return f"Cannot open {name}: not a photo bibtagger reads ({readable_formats()}); drop a folder or a photo"


def dropped_folder(mime: Any) -> Path | None:
    """The first local folder among the dropped URLs, if any."""
    if mime is None or not mime.hasUrls():
        return None
    for url in mime.urls():
        if url.isLocalFile():
            path = Path(url.toLocalFile())
            try:
                if path.is_dir():
                    return path
            except OSError:
                continue
    return None


class EmptyState(QFrame):
    """The card over ``window.photo_view`` (a child of the view, centred on its viewport)."""

    def __init__(self, window: Any):
        view = window.photo_view
        super().__init__(view)
        self.window_ = window
        self.setObjectName("emptyState")
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.setAutoFillBackground(True)  # the palette's window colour: its text colour reads on it
        self.setBackgroundRole(QPalette.ColorRole.Window)
        self.content: Content | None = None

        self.title = QLabel()
        self.title.setObjectName("emptyStateTitle")
        font = QFont(self.title.font())
        font.setPointSizeF(font.pointSizeF() + 3)
        font.setBold(True)
        self.title.setFont(font)
        self.title.setWordWrap(True)
        self.body = QLabel()
        self.body.setObjectName("emptyStateText")
        self.body.setWordWrap(True)
        self.body.setTextFormat(Qt.TextFormat.PlainText)
        self.body.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.buttons = [self._button(f"emptyStateButton{i}") for i in range(_PRIMARY)]
        self.drop = QLabel(DROP_HINT)
        self.drop.setObjectName("emptyStateDrop")
        self.recent_title = QLabel(RECENT_TITLE)
        self.recent_title.setObjectName("emptyStateRecentTitle")
        bold = QFont(self.recent_title.font())
        bold.setBold(True)
        self.recent_title.setFont(bold)
        self.recent = [self._button(f"emptyStateRecent{i}") for i in range(MAX_RECENT)]

        lay = QVBoxLayout(self)
        lay.setContentsMargins(20, 16, 20, 16)
        lay.addWidget(self.title)
        lay.addWidget(self.body)
        for b in self.buttons:
            lay.addWidget(b)
        lay.addWidget(self.drop, 0, Qt.AlignmentFlag.AlignHCenter)
        lay.addSpacing(6)
        lay.addWidget(self.recent_title)
        for b in self.recent:
            lay.addWidget(b)
        self._slots: dict[QPushButton, Callable[[], Any]] = {}

        self._timer = QTimer(self)  # one refresh per event-loop turn, after the window's own updates
        self._timer.setSingleShot(True)
        self._timer.setInterval(0)
        self._timer.timeout.connect(self.refresh)
        w = window
        w.list_model.modelReset.connect(self.schedule)
        w.list_model.rowsInserted.connect(self.schedule)
        w.list_model.rowsRemoved.connect(self.schedule)
        w.list_view.selectionModel().currentChanged.connect(self.schedule)
        w.progress.valueChanged.connect(self.schedule)
        w.search_edit.textChanged.connect(self.schedule)
        view.imageFailed.connect(self.schedule)
        self._progress, self._view, self._viewport = w.progress, view, view.viewport()
        self._edits: tuple[QLineEdit, ...] = ()  # the window's text fields, watched for drops below
        w.progress.installEventFilter(self)  # shown/hidden: a job started or ended
        view.installEventFilter(self)  # Tab into the card; drops
        self._viewport.installEventFilter(self)  # resize: the card stays centred; drops
        self._viewport.setAcceptDrops(True)
        self.setAcceptDrops(True)
        # the whole window takes drops too: a folder dropped on the photo list, the bib panel or the status bar was
        # refused (the no-entry cursor); widgets that take no drop pass it up to the window
        window.setAcceptDrops(True)
        window.installEventFilter(self)
        # a text field takes a drag that carries the path as plain text too (some file managers send it): dropped on
        # the search box it searched for the path (every photo hidden), on the number field it was typed there
        self._edits = tuple(window.findChildren(QLineEdit))
        for edit in self._edits:
            edit.installEventFilter(self)
        self.installEventFilter(self)
        self.hide()
        self.schedule()

    def canvas(self) -> QColor:
        """The colour the card lies on: the photo view's background."""
        return self._view.backgroundBrush().color()

    def edge_colour(self) -> QColor:
        """The card's edge: palette-derived, at least 3:1 against the photo canvas (``look.edge_on``), read
        at each paint, so a palette changed while the app runs (a system dark mode) is followed."""
        return look.edge_on(self.canvas(), self.palette())

    def paintEvent(self, event) -> None:  # noqa: N802 (Qt's name)
        """The style's panel, then a 2 px edge over its border: in a dark palette the card's window colour
        is about the canvas's (53 vs 45 grey, 1.1:1) and the style's frame lines darker still."""
        super().paintEvent(event)
        painter = QPainter(self)
        try:
            pen = QPen(self.edge_colour(), EDGE_WIDTH)
            pen.setJoinStyle(Qt.PenJoinStyle.MiterJoin)
            painter.setPen(pen)
            painter.setBrush(Qt.BrushStyle.NoBrush)
            half = EDGE_WIDTH / 2
            painter.drawRect(self.rect().toRectF().adjusted(half, half, -half, -half))
        finally:
            painter.end()

    def _button(self, name: str) -> _Button:
        b = _Button(self)
        b.setObjectName(name)
        b.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        b.setAccessibleName(name)  # replaced when shown; never unnamed
        b.setToolTip(name)
        b.clicked.connect(lambda _c=False, b=b: self._clicked(b))
        b.hide()
        return b

    # ---- content
    def schedule(self, *_args: Any) -> None:
        if not self._timer.isActive():
            self._timer.start()

    def state(self) -> str | None:
        return self.content.state if self.content is not None else None

    def text(self) -> str:
        """What the card says now ("" when hidden), read from its widgets."""
        if self.isHidden():
            return ""
        parts = [self.title.text(), self.body.text()]
        parts += [b.text() for b in self.buttons if not b.isHidden()]
        if not self.drop.isHidden():
            parts.append(self.drop.text())
        if not self.recent_title.isHidden():
            parts.append(self.recent_title.text())
        parts += [b.toolTip() for b in self.recent if not b.isHidden()]
        return "\n".join(p for p in parts if p)

    def visible_buttons(self) -> list[QPushButton]:
        return [b for b in (*self.buttons, *self.recent) if not b.isHidden()]

    def refresh(self) -> None:
        """Show the state of the window now (or hide the card)."""
        self._timer.stop()
        window = self.window_
        content = describe(window)
        before = self.state()
        focused = window.focusWidget()
        focused = focused if focused is not None and self.isAncestorOf(focused) else None
        self.content = content
        if content is None:
            self.hide()
            if focused is not None:  # a photo is shown now: the keys go to it, not to the next widget in line
                window.photo_view.setFocus(Qt.FocusReason.OtherFocusReason)
            return
        self.title.setText(content.title)
        self.body.setText("\n".join(content.lines))
        self._slots = {}
        for b, a in zip(self.buttons, [*content.actions, *[None] * _PRIMARY]):
            self._fill(b, a)
        self.drop.setVisible(content.drop_hint)
        self.recent_title.setVisible(bool(content.recent))
        for b, path in zip(self.recent, [*content.recent, *[None] * MAX_RECENT]):
            self._fill(b, self._recent_action(path) if path else None, elided=True)
        self.setAccessibleName(content.title)
        self.setAccessibleDescription(content.text())
        # a card with nothing to press lets the mouse through (a failed photo can still be panned)
        self.setAttribute(Qt.WidgetAttribute.WA_TransparentForMouseEvents, not self.visible_buttons())
        self.show()
        self.raise_()
        self.place()
        if focused is not None and focused.isHidden() and self.visible_buttons():
            self.visible_buttons()[0].setFocus(Qt.FocusReason.OtherFocusReason)
        if content.state != before and content.state in ("no_folder", "no_photos"):
            fw = window.focusWidget()
            if fw is None or fw is window.photo_view or (fw is not None and self.isAncestorOf(fw)):
                self.buttons[0].setFocus(Qt.FocusReason.OtherFocusReason)

    def _fill(self, button: _Button, action: Action | None, elided: bool = False) -> None:
        if action is None:
            button.hide()
            return
        if elided:
            button.set_elided(action.text)
        else:
            button.set_plain(action.text)
        look.name_widget(button, action.name or action.text, action.description)
        self._slots[button] = action.slot
        button.show()

    def _recent_action(self, path: str) -> Action:
        window = self.window_
        p = Path(path)  # (the button elides it to its own width: _Button.set_elided; the whole path is its tooltip)
        return Action(f"{p.name or path}  —  {p.parent}", path, lambda: window.open_folder(path),
                      f"Open recent folder {p.name or path}")

    def _clicked(self, button: QPushButton) -> None:
        slot = self._slots.get(button)
        if slot is not None:
            slot()

    def place(self) -> None:
        """Centre the card on the view's viewport, as wide as fits (at most CARD_WIDTH)."""
        vp = self._viewport.geometry()
        width = max(120, min(CARD_WIDTH, vp.width() - 32))
        lay = self.layout()
        lay.activate()
        height = lay.totalHeightForWidth(width) if lay.hasHeightForWidth() else lay.totalSizeHint().height()
        height = max(40, min(height, vp.height() - 16))
        self.setGeometry(vp.x() + (vp.width() - width) // 2, vp.y() + (vp.height() - height) // 2, width, height)

    # ---- keys and drops
    def focus_step(self, step: int) -> None:
        """Move the focus to the next (1) or previous (-1) button of the card, round."""
        buttons = self.visible_buttons()
        if not buttons:
            return
        current = self.window_.focusWidget()
        i = buttons.index(current) if current in buttons else (-1 if step > 0 else 0)
        buttons[(i + step) % len(buttons)].setFocus(Qt.FocusReason.TabFocusReason)

    def eventFilter(self, obj: QObject, event: QEvent) -> bool:
        # the watched objects as kept at the start: a window being destroyed still sends events (its progress
        # bar's Hide) after its photo view is gone, so nothing here asks the view for them again
        t = event.type()
        if obj is self._progress:
            if t in (QEvent.Type.Show, QEvent.Type.Hide):
                try:
                    self.schedule()
                except RuntimeError:  # the card itself is being destroyed
                    pass
            return False
        if obj is self._viewport and t == QEvent.Type.Resize:
            if not self.isHidden():
                self.place()
            return False
        if obj is self._view and t in (QEvent.Type.ShortcutOverride, QEvent.Type.KeyPress) and self._tab_in(event):
            # Tab in the photo view with no photo shown (where it selects no bib): to the card's buttons
            event.accept()
            if t == QEvent.Type.KeyPress:
                self.focus_step(-1 if event.key() == Qt.Key.Key_Backtab else 1)
            return True
        if obj in self._edits and t in (QEvent.Type.DragEnter, QEvent.Type.DragMove, QEvent.Type.Drop):
            mime = event.mimeData()
            if dropped_folder(mime) is None and dropped_photo(mime) is None:
                return False  # text, or a file that is no photo: the field's
        elif obj not in (self._view, self._viewport, self, self.window_):
            return False
        if t in (QEvent.Type.DragEnter, QEvent.Type.DragMove):
            mime = event.mimeData()
            if dropped_folder(mime) is not None or dropped_photo(mime) is not None:
                event.acceptProposedAction()
                return True
            why = refusal(mime) if t == QEvent.Type.DragEnter else None
            if why is not None:  # refused (the no-entry cursor), and said once as it comes over the view
                self.window_.statusBar().showMessage(why, 8000)
        elif t == QEvent.Type.Drop:
            mime = event.mimeData()
            folder = dropped_folder(mime)
            photo = dropped_photo(mime) if folder is None else None
            if folder is not None or photo is not None:
                if self.window_._box_unfinished("drop it again"):  # as Ctrl+O: the drop ended it without a word
                    event.ignore()
                    return True
                event.acceptProposedAction()
                if folder is not None:
                    self.window_.open_folder(folder)
                else:
                    self.window_.open_photo(photo)
                return True
            event.ignore()
            return True
        return False

    def _tab_in(self, event) -> bool:
        if event.key() not in (Qt.Key.Key_Tab, Qt.Key.Key_Backtab) or not _card_key(event):
            return False
        return not self.isHidden() and self.window_.current_id is None and bool(self.visible_buttons())


def install(window: Any) -> EmptyState:
    """Create the empty state of ``window``'s photo view (``window.empty_state``)."""
    window.empty_state = EmptyState(window)
    return window.empty_state


__all__ = ["EmptyState", "Content", "Action", "describe", "install", "dropped_folder", "dropped_photo", "refusal", "readable_formats"]