"""The main window: photo list, photo view, bib panel, background jobs, review keys.

Thin by design: data rules live in core (``Store``, ``core.review``); this class
wires views, commands and workers. See docs/gui.md and docs/review-flow.md.
"""

from __future__ import annotations

import contextlib
import functools
import importlib
import logging
import sys
import threading
import weakref
from pathlib import Path
from typing import Any, Callable, Iterator

from PySide6.QtCore import QEvent, QItemSelectionModel, QObject, QPoint, QSettings, QSize, Qt, QTimer
from PySide6.QtGui import QAction, QActionGroup, QKeySequence, QShortcut, QUndoStack
from PySide6.QtWidgets import (
    QApplication,
    QComboBox,
    QFileDialog,
    QGridLayout,
    QLabel,
    QLineEdit,
    QListView,
    QMainWindow,
    QMenu,
    QMessageBox,
    QPushButton,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from bibtagger_gui.core import applog, review
from bibtagger_gui.core.bib import given_number, iou
from bibtagger_gui.core.imageio import unsupported_note
from bibtagger_gui.core.list_order import ListOrder
from bibtagger_gui.core.recognition_queue import reviewer_window
from bibtagger_gui.core.review import ReviewFilter, ReviewItem
from bibtagger_gui.core.review_index import ReviewIndex
from bibtagger_gui.gui import box_adjust, empty_state, heap, look, screen_fit
from bibtagger_gui.gui.bib_panel import HINT_IDLE, HINT_NEW_BOX, HINT_NO_BOX, BibPanel
from bibtagger_gui.gui.commands import (
    BIB_CHANGED,
    AcceptPhotoCommand,
    AddBibCommand,
    AdjustBoxCommand,
    BatchEditCommand,
    ChangedMeanwhile,
    DeleteBibCommand,
    EditBibCommand,
    EditContext,
    RecordedBatchCommand,
    SavedMeanwhile,
    StoreCommand,
)
from bibtagger_gui.gui.keymap import DEFAULT_KEYMAP, Keymap, load_keymap
from bibtagger_gui.gui.live_updates import BULK, GONE_FOR_MS, LiveUpdates
from bibtagger_gui.gui.photo_list_model import PhotoListModel
from bibtagger_gui.gui.photo_view import PhotoView
from bibtagger_gui.gui.resume import Resume
from bibtagger_gui.gui.thumbnails import ThumbnailProvider
from bibtagger_gui.gui.threads import WorkQueue
from bibtagger_gui.gui.workers import Generation, RecognitionJob, ScanJob

log = logging.getLogger(__name__)

FEATURE_MODULES = ("mturk_dialog", "keywords_action", "startlist_action", "import_action", "export_action", "batch_action",
                   "burst_action", "finetune_action")
DEFAULT_SIZE = (1400, 900)  # shrunk to a smaller screen (fit_to_screen, docs/gui.md#small-screens)
SIDE_WIDTH = 300  # the list's and the panel's width at the default size; at most a quarter of a narrower window
PHOTO_MIN_WIDTH = 200  # the photo view is never squeezed (or collapsed by its splitter) below this; the window
# stays narrow enough for half a 1366 px screen (side by side with a file manager)
THUMB_ICON = (120, 80)
#: Undo steps kept within one folder (QUndoStack.setUndoLimit); the oldest are dropped beyond it. A step
#: holds its photo's changed bib rows (~5 KB measured), so 2,000 steps are ~10 MB, where an unbounded stack
#: grew by that for every 2,000 edits of a long day on one shoot. 2,000 steps are an hour or more of review
#: (an accept, a typed number or a box each); nobody presses Ctrl+Z that often, and every edit is already
#: saved, so a dropped step loses no data, only the way back past it (docs/gui.md#saving-and-the-undo-stack).
UNDO_LIMIT = 2000

#: the actions whose keys commit digits typed from the photo even when they are letters or cursor keys
#: (MainWindow._moves_on_from_digits)
MOVE_ON_KEYS = ("next_photo", "prev_photo", "accept_photo")


class PhotoListView(QListView):
    """The photo list. :attr:`moving_by_keys` is True while one of its own keys (Up/Down, PageUp/Down,
    Home/End, with or without Shift) moves the current row: the list then keeps the focus, so a
    keyboard user who went there (``focus_list``, Ctrl+L) can walk it and select several photos."""

    moving_by_keys = False

    def keyPressEvent(self, event) -> None:
        self.moving_by_keys = True
        try:
            super().keyPressEvent(event)
        finally:
            self.moving_by_keys = False


class SideButtons(QObject):
    """A mouse's Back/Forward (thumb) buttons anywhere in the window: the previous/next photo, as K/J (their actions,
    which commit a number typed from the photo first and keep a box being drawn). They did nothing. It watches the
    window's own native window, which every mouse event of the window passes before the widget under the mouse
    (the photo list selected its row under the mouse on any button): a dialog or a menu has its own, so theirs stay
    theirs."""

    BUTTONS = {Qt.MouseButton.BackButton: "prev_photo", Qt.MouseButton.ForwardButton: "next_photo"}
    EVENTS = (QEvent.Type.MouseButtonPress, QEvent.Type.MouseButtonDblClick, QEvent.Type.MouseButtonRelease)

    def __init__(self, window: Any):
        super().__init__(window)
        self.window_ = window
        window.windowHandle().installEventFilter(self)

    def eventFilter(self, obj: QObject, event: QEvent) -> bool:  # noqa: N802 (Qt's name)
        if event.type() not in self.EVENTS or event.button() not in self.BUTTONS:
            return False
        if event.type() == QEvent.Type.MouseButtonPress:  # (a double click's second press comes as a press too)
            self.window_.actions_by_name[self.BUTTONS[event.button()]].trigger()
        return True


class MainWindow(QMainWindow):
    """bibtagger's window over one photo folder at a time."""

    def __init__(self, models_dir: str | Path | None = None, settings: QSettings | None = None, keymap: Keymap | None = None):
        super().__init__()
        self.settings = settings if settings is not None else QSettings()
        self.keymap = keymap or load_keymap(self.settings)
        self.models_dir: Path | None = Path(models_dir) if models_dir else None
        # the folder chosen with Load Model Folder… in an earlier session, unless it cannot be used now (deleted, a drive
        # not plugged in, a broken model): then the default models run and the user is told, not left to guess
        self.saved_models_note = "" if models_dir else self._saved_models()
        self._saved_models_said = False  # the first recognition run's message says it again
        self.store: Any = None
        self.folder: Path | None = None
        self.generation = Generation()
        self.jobs: list[Any] = []
        self._retired: list[Any] = []  # jobs no longer the window's that still run: freed here once done
        self._retired_timer = QTimer(self)  # looks again until their workers have let go of them
        self._retired_timer.setSingleShot(True)
        self._retired_timer.setInterval(20)
        self._retired_timer.timeout.connect(lambda: self._retire([]))
        self.job_pool = WorkQueue(1, name="jobs")  # one scan/recognition at a time, in order
        self.last_progress: tuple[int, int] = (0, 0)
        self.progress_label = ""  # what the progress bar counts: "Scanning", "Recognizing", "Fingerprinting"
        # Recognition > Pause: the folder's recognition takes no new photo until resumed, a run the user starts
        # (Re-run on Unreviewed/Selected Photos), Cancel, or another folder (docs/gui.md#recognition-follows-the-reviewer)
        self.recognition_paused = False
        self.last_job_outcome: tuple[str, str, str] | None = None  # kind, outcome, message
        self.models_warning = ""  # set by load_models_dir, e.g. a broken calibration.json
        self.scan_skipped: list[tuple[str, str]] = []  # (relpath, why) of files the last scan left out
        self.scan_replaced: list[str] = []  # relpaths the last scan found holding another picture (unreviewed again)
        self.scan_unsupported: str | None = None  # unsupported_note() of the HEIC/RAW/… files the last scan left out
        self.filter = ReviewFilter.ALL
        self.order = ListOrder.QUEUE  # the list's order (View menu, the order box): docs/review-flow.md#list-order
        self.items: ReviewIndex = ReviewIndex()  # photo id -> snapshot, kept in the list's order
        # after a new list of snapshots, once the event that made it is done (coalesced): gui/heap.py
        self._heap_timer = QTimer(self, singleShot=True, interval=0)
        self._heap_full = False  # a settle of the whole heap asked for since the last one (a read, a folder closed)
        self._heap_timer.timeout.connect(self._settle_heap)
        self.current_id: int | None = None
        self.current_bibs: list[Any] = []
        self.selected_bib: int | None = None
        self._entry: dict[str, Any] | None = None  # number being typed: {"kind": "edit"|"new", ...}
        self._pending_box: tuple | None = None
        self._dropped: tuple[int, str] | None = None  # (generation, relpath) of a dropped photo the scan will find
        self._failures = 0  # edits, undos and redos that could not be written (see _step_stack)
        self._last_failure: Exception | None = None  # the last one's exception

        self._counts_timer = QTimer(self)  # coalesces status-bar count updates during recognition
        self._counts_timer.setSingleShot(True)
        self._counts_timer.setInterval(300)
        self._counts_timer.timeout.connect(self._update_counts)
        self.undo_stack = QUndoStack(self)
        self.undo_stack.setUndoLimit(UNDO_LIMIT)  # (only possible while empty; clear() keeps it)
        self.undo_stack.cleanChanged.connect(lambda clean: self.setWindowModified(not clean))
        self.ctx = EditContext(None, self._store_changed, self._edit_failed)
        self.setWindowTitle("bibtagger[*]")
        self.resize(*DEFAULT_SIZE)

        self._build_widgets()
        self.live_updates = LiveUpdates(self)  # other programs' writes to the store, shown (gui/live_updates.py)
        self._build_actions()
        self._install_features()
        self._build_help_menu()  # last: the rightmost menu, after the features' menus
        empty_state.install(self)  # what the photo view says with no photo (gui/empty_state.py)
        self.resume = Resume(self)  # where the user left off: geometry, per folder photo/filter/search
        self.photo_view.setFocus()
        self._jobs_changed()
        self._update_counts()
        self._report_keymap_problems()
        self._tell_saved_models()

    def fit_to_screen(self, keep_splitter: bool = False) -> QSize:
        """Shrink the window to its screen's available area when it is larger (a 1366x768 laptop, Full HD at
        200 %: docs/gui.md#small-screens), before it is shown. Unless ``keep_splitter`` (the user's own sizes,
        restored), the list and the panel then take at most a quarter of the width each, so the photo keeps
        most of it. Returns the window's size."""
        size = screen_fit.resize_within(self, self.width(), self.height())
        if not keep_splitter:
            splitter = self.centralWidget()
            side = min(SIDE_WIDTH, size.width() // 4)
            left, right = (max(side, splitter.widget(i).minimumSizeHint().width()) for i in (0, 2))
            splitter.setSizes([left, max(PHOTO_MIN_WIDTH, size.width() - left - right), right])
        return size

    def _report_keymap_problems(self) -> None:
        """Say at start what in the key map was refused or changed: status bar and stderr."""
        problems = self.keymap.problems
        if not problems:
            return
        for p in problems:
            print(f"bibtagger: keymap: {p}", file=sys.stderr)
            log.warning("keymap: %s", p)
        more = f" (+{len(problems) - 1} more, see stderr)" if len(problems) > 1 else ""
        self.statusBar().showMessage(f"keymap: {problems[0]}{more}", 30000)
        # stays after other messages replace that one: a permanent label, the list on hover
        self.keymap_label.setText(f"keymap: {len(problems)} problem(s)")
        self.keymap_label.setToolTip("\n".join(problems))
        self.keymap_label.show()

    # ------------------------------------------------------------------ construction
    def _build_widgets(self) -> None:
        # thumbnails are made for the pixel ratio of the screen the list is on (sharp at 200 %; re-made when
        # the window moves to a screen with another ratio, whose repaint asks for them again)
        self.thumbnails = ThumbnailProvider(self, ratio=lambda: self.list_view.devicePixelRatioF())
        self.list_model = PhotoListModel(self.thumbnails, self)
        self.list_view = PhotoListView()
        self.list_view.setObjectName("photoList")
        self.list_view.setModel(self.list_model)
        self.list_view.setUniformItemSizes(True)
        self.list_view.setIconSize(QSize(THUMB_ICON[0], THUMB_ICON[1]))
        # SinglePass (the default): with uniform item sizes the layout of 10,000 rows is cheap, and the
        # Batched mode stopped following the current row past its first batch once rows changed.
        # Extended selection (Shift/Ctrl+click, Shift+Up/Down): photos to export ("selected in the list");
        # the current row is still the photo shown, and moving (J/K, Enter, a plain click) selects it alone
        self.list_view.setSelectionMode(QListView.SelectionMode.ExtendedSelection)
        self.list_view.setEditTriggers(QListView.EditTrigger.NoEditTriggers)
        self.list_view.selectionModel().currentChanged.connect(self._current_changed)

        self.filter_box = QComboBox()
        self.filter_box.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        for f in ReviewFilter:
            self.filter_box.addItem(f.label, f.value)
            self.filter_box.setItemData(self.filter_box.count() - 1, f.description, Qt.ItemDataRole.ToolTipRole)
        self.filter_box.currentIndexChanged.connect(lambda _i: self.set_filter(ReviewFilter(self.filter_box.currentData())))
        # the list's order, under the filter (also View menu, with keys); takes no focus, like the filter box
        self.order_box = QComboBox()
        self.order_box.setObjectName("orderBox")
        self.order_box.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        # never wider than the list needs: the long label must not widen the side column on a small screen
        self.order_box.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.order_box.setMinimumContentsLength(12)
        for o in ListOrder:
            self.order_box.addItem(o.label, o.value)  # its label says "Order:"
        self.order_box.currentIndexChanged.connect(lambda _i: self.set_order(ListOrder(self.order_box.currentData())))
        self.search_edit = QLineEdit()
        self.search_edit.setObjectName("searchEdit")
        self.search_edit.setPlaceholderText("Search bib number (Ctrl+F)")
        self.search_edit.setClearButtonEnabled(True)
        self.search_edit.setFocusPolicy(Qt.FocusPolicy.ClickFocus)  # Ctrl+F; never the initial focus
        self.search_edit.textChanged.connect(lambda _t: self.rebuild_queue(reload=False))
        # Return goes to the first match even when the key map gives accept_photo other keys (with the
        # default map the window's Return shortcut comes first and calls the same method)
        self.search_edit.returnPressed.connect(self.search_entered)
        self.queue_label = QLabel("")

        left = QWidget()
        lay = QVBoxLayout(left)
        lay.setContentsMargins(0, 0, 0, 0)
        # visible labels, the boxes' buddies: a screen reader names a combo box by its label (its own name on
        # Linux is its value), and Alt+S / Alt+D open their lists (the boxes take no focus; docs/accessibility.md)
        self.filter_label = look.BuddyLabel("&Show:", self.filter_box)
        self.order_label = look.BuddyLabel("Or&der:", self.order_box)
        boxes = QGridLayout()
        boxes.setContentsMargins(0, 0, 0, 0)
        for row, (label, box) in enumerate(((self.filter_label, self.filter_box), (self.order_label, self.order_box))):
            boxes.addWidget(label, row, 0)
            boxes.addWidget(box, row, 1)
        boxes.setColumnStretch(1, 1)
        lay.addLayout(boxes)
        lay.addWidget(self.search_edit)
        lay.addWidget(self.list_view, 1)
        lay.addWidget(self.queue_label)

        self.photo_view = PhotoView()
        self.photo_view.setObjectName("photoView")
        self.photo_view.boxDrawn.connect(self._box_drawn)
        self.photo_view.drawMissed.connect(self._draw_missed)
        self.photo_view.bibDoubleClicked.connect(self._bib_double_clicked)
        self.photo_view.menuAsked.connect(self._photo_menu)
        self.photo_view.bibClicked.connect(self._bib_clicked)
        self.photo_view.boxAdjusted.connect(self._box_adjusted)
        self.photo_view.printed.connect(self._keep_pixel_print)
        self.panel = BibPanel()
        self.panel.bibSelected.connect(self._bib_clicked)
        # a right click on a bib's row: the photo's menu, as on its box (it did nothing)
        self.panel.table.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.panel.table.customContextMenuRequested.connect(
            lambda pos: self._photo_menu(self.panel.bib_at_row(self.panel.table.rowAt(pos.y())),
                                         self.panel.table.viewport().mapToGlobal(pos)))  # fmt: skip
        self.panel.numberFieldFocused.connect(self._number_field_focused)
        self.panel.numberFieldLeft.connect(self._number_field_left)
        self.panel.key_to_window = self._moves_on_from_digits
        self.number_edit = self.panel.number_edit
        # Return in the number field commits even when the key map gives accept_photo other keys (with
        # the default map the window's Return shortcut comes first and this never fires)
        self.number_edit.returnPressed.connect(self.enter_pressed)

        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.addWidget(left)
        splitter.addWidget(self.photo_view)
        splitter.addWidget(self.panel)
        splitter.setStretchFactor(0, 0)
        splitter.setStretchFactor(1, 1)
        splitter.setStretchFactor(2, 0)
        splitter.setSizes([SIDE_WIDTH, DEFAULT_SIZE[0] - 2 * SIDE_WIDTH, SIDE_WIDTH])
        # the photo is what the window is for: no drag of a handle hides it (and no saved splitter brings that back)
        self.photo_view.setMinimumWidth(PHOTO_MIN_WIDTH)
        splitter.setCollapsible(1, False)
        # nor the list or the bib panel (its number field and buttons): a handle dragged to the window's edge hid
        # them, no menu brought them back, and the app remembered it (docs/gui.md#mouse-first)
        splitter.setCollapsible(0, False)
        splitter.setCollapsible(2, False)
        self.setCentralWidget(splitter)

        sb = self.statusBar()
        self.counts_label = QLabel()
        # the models' label gives way ("…") before the counts, the progress bar and Cancel on a narrow window
        self.model_label = screen_fit.ElidedLabel()
        self.model_label.setObjectName("modelLabel")
        self.progress = screen_fit.FittingProgressBar()  # "Recognizing 5000/10000", else "5000/10000" when narrow
        self.progress.setMaximumWidth(220)
        self.progress.setTextVisible(True)
        self.progress.hide()
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.cancel_button.clicked.connect(self.cancel_by_user)
        self.cancel_button.hide()
        self.store_label = QLabel("read-only folder")  # shown when the folder's project is kept in the user data folder
        self.store_label.setObjectName("storeElsewhere")
        self.store_label.hide()
        self.keymap_label = QLabel()  # shown when the key map has problems
        self.keymap_label.setObjectName("keymapProblems")
        self.keymap_label.hide()
        sb.addPermanentWidget(self.store_label)
        sb.addPermanentWidget(self.keymap_label)
        sb.addPermanentWidget(self.model_label)
        sb.addPermanentWidget(self.counts_label)
        sb.addPermanentWidget(self.progress)
        sb.addPermanentWidget(self.cancel_button)

    def _action(self, name: str, text: str, slot, menu=None, keys: bool = True) -> QAction:
        act = QAction(text, self)
        act.setObjectName(name)
        plain = text.replace("&", "").rstrip("…")
        if keys and name in self.keymap.keys:
            act.setShortcuts(self.keymap.sequences(name))
            act.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
            # the keys as this user's key map has them (overrides included), for buttons and screen readers
            bound = self.keymap.text(name)
            act.setToolTip(f"{plain} ({bound})" if bound else plain)
            act.setStatusTip(DEFAULT_KEYMAP[name][1])
        act.triggered.connect(lambda _checked=False: slot())
        self.addAction(act)
        if menu is not None:
            menu.addAction(act)
        self.actions_by_name[name] = act
        return act

    def _build_actions(self) -> None:
        self.actions_by_name: dict[str, QAction] = {}
        mb = self.menuBar()
        file_menu = mb.addMenu("&File")
        self._action("open_folder", "&Open Folder…", self.choose_folder, file_menu)
        self.recent_menu = file_menu.addMenu("Open &Recent")
        self.recent_menu.aboutToShow.connect(self._fill_recent)
        self._action("checkpoint", "Mark &Checkpoint (edits are always saved)", self.mark_checkpoint, file_menu)
        file_menu.addSeparator()
        self._action("quit", "&Quit", self.close, file_menu)
        self.file_menu = file_menu

        edit = mb.addMenu("&Edit")
        undo = self._action("undo", "&Undo", self.undo, edit)
        redo = self._action("redo", "&Redo", self.redo, edit)
        self.undo_stack.undoTextChanged.connect(lambda t: undo.setText(f"&Undo {t}".rstrip()))
        self.undo_stack.redoTextChanged.connect(lambda t: redo.setText(f"&Redo {t}".rstrip()))
        self.undo_stack.canUndoChanged.connect(undo.setEnabled)
        self.undo_stack.canRedoChanged.connect(redo.setEnabled)
        undo.setEnabled(False)
        redo.setEnabled(False)
        edit.addSeparator()
        self._action("accept_photo", "&Accept Photo", self.enter_pressed, edit)
        self._action("draw_box", "Draw &Box", self.start_drawing, edit)
        self._action("delete_bib", "&Delete Bib", self.delete_selected_bib, edit)
        self._action("edit_number", "Edit &Number", self.edit_number, edit)
        # in the menu too: a mouse user had no way to cancel a box being drawn, or drop one waiting for its number
        self._action("cancel", "Cance&l Typing/Drawing", self.cancel_entry, edit)
        adjust = edit.addMenu("Ad&just Box")
        for name, text, step in (
            ("box_left", "Move &Left", (-1, 0, 0, 0)),
            ("box_right", "Move &Right", (1, 0, 0, 0)),
            ("box_up", "Move &Up", (0, -1, 0, 0)),
            ("box_down", "Move &Down", (0, 1, 0, 0)),
            ("box_narrower", "&Narrower", (0, 0, -1, 0)),
            ("box_wider", "&Wider", (0, 0, 1, 0)),
            ("box_shorter", "&Shorter", (0, 0, 0, -1)),
            ("box_taller", "&Taller", (0, 0, 0, 1)),
        ):
            self._action(name, text, lambda step=step: self.nudge_box(*step), adjust)
        self.adjust_menu = adjust
        self.edit_menu = edit

        nav = mb.addMenu("&Review")
        self._action("next_photo", "&Next Photo", lambda: self.step_photo(1), nav)
        self._action("prev_photo", "&Previous Photo", lambda: self.step_photo(-1), nav)
        self._action("next_bib", "Next &Bib", lambda: self.step_bib(1), nav)
        self._action("prev_bib", "Previous B&ib", lambda: self.step_bib(-1), nav)
        self._action("search", "&Search Bib Number", self.focus_search, nav)
        self._action("focus_list", "Go to Photo &List", self.focus_list, nav)
        self._action("refresh_queue", "&Rescan Folder and Rebuild Queue", self.rescan_folder, nav)
        # the filter box takes no focus (the review keys must keep working): its choices are here too,
        # so a keyboard reaches them (Alt+R, F)
        self.filter_menu = nav.addMenu("&Filter")
        self.filter_group = QActionGroup(self)
        self.filter_actions: dict[ReviewFilter, QAction] = {}
        for f in ReviewFilter:
            fa = self.filter_menu.addAction(f.label)
            fa.setObjectName(f"filter_{f.value}")
            fa.setCheckable(True)
            fa.setStatusTip(f.description)
            fa.setChecked(f is self.filter)
            fa.triggered.connect(lambda _checked=False, f=f: self.set_filter(f))
            self.filter_group.addAction(fa)
            self.filter_actions[f] = fa
        self.review_menu = nav

        view = mb.addMenu("&View")
        self._action("zoom_bib", "&Zoom to Bib", self.zoom_to_bib, view)
        self._action("fit", "&Fit Photo", self.photo_view.fit, view)
        self._action("zoom_in", "Zoom &In", lambda: self.photo_view.zoom_by(1.25), view)
        self._action("zoom_out", "Zoom &Out", lambda: self.photo_view.zoom_by(0.8), view)
        # the list's order: radio entries with keys (the order box under the filter shows the same choice)
        view.addSeparator()
        self.order_group = QActionGroup(self)
        self.order_actions: dict[ListOrder, QAction] = {}
        for o, text in ((ListOrder.QUEUE, "Order by &Review Queue (Least Confident First)"),
                        (ListOrder.CAPTURE, "Order by &Capture Time"), (ListOrder.NAME, "Order by File &Name")):
            oa = self._action(f"order_{o.value}", text, lambda o=o: self.set_order(o), view)
            oa.setCheckable(True)
            oa.setChecked(o is self.order)
            self.order_group.addAction(oa)
            self.order_actions[o] = oa
        self.view_menu = view

        rec = mb.addMenu("Re&cognition")
        self._action("load_models", "Load &Model Folder…", self.choose_models, rec, keys=False)
        self._action("rerun", "&Re-run on Unreviewed Photos", self.rerun_unreviewed, rec, keys=False)
        self._action("pause_recognition", "&Pause Recognition", self.toggle_recognition_pause, rec)
        self._action("cancel_jobs", "&Cancel", self.cancel_by_user, rec, keys=False)
        for name, tip in (  # (actions without keys have no key map line to take a tip from)
            ("load_models", "Use the models (detector.onnx and reader.onnx) of another folder"),
            ("rerun", "Read every unreviewed photo again with the current models; reviewed photos are never touched"),
            ("cancel_jobs", "Stop the running scan or recognition (also the status bar's Cancel)"),
        ):
            self.actions_by_name[name].setStatusTip(tip)
        self.recognition_menu = rec

        # digits are content, not actions: typed outside a text field they start editing the bib number
        self._digit_shortcuts = []
        for d in "0123456789":
            for seq in (QKeySequence(d), QKeySequence(Qt.KeyboardModifier.KeypadModifier | Qt.Key(ord(d)))):
                sc = QShortcut(seq, self)
                sc.setContext(Qt.ShortcutContext.WindowShortcut)
                sc.activated.connect(lambda d=d: self.type_digit(d))
                self._digit_shortcuts.append(sc)

        self.panel.add_button(self.actions_by_name["accept_photo"])
        self.panel.add_button(self.actions_by_name["draw_box"])
        self.panel.add_button(self.actions_by_name["delete_bib"])
        km = self.keymap
        self._name_widgets()
        self.panel.help.setText(
            f"{km.text('next_photo')}: next photo · {km.text('prev_photo')}: previous · "
            f"{km.text('next_bib')}: next bib · digits: retype number · {km.text('accept_photo')}: accept · "
            f"{km.text('draw_box')}: draw box · {km.text('delete_bib')}: delete · {km.text('zoom_bib')}/{km.text('fit')}: zoom/fit"
            + "".join(f" · {km.text(action)}: {what}" for action, what in
                      (("search", "search"), ("focus_list", "photo list"), ("shortcuts", "all keys")) if km.keys.get(action))
        )

    def _name_widgets(self) -> None:
        """Accessible names, descriptions and tooltips (with this user's keys) for every widget one can use."""
        km = self.keymap

        def keys(action: str) -> str:
            return f" ({km.text(action)})" if km.keys.get(action) else ""

        name = look.name_widget
        search = f"Search bib number{keys('search')}"
        self.search_edit.setPlaceholderText(search)
        name(self.search_edit, "Search bib number", "Show only photos with this bib number; 12* for a prefix", search)
        name(self.filter_box, "Review filter", "Which photos the list shows (also Review > Filter)")
        name(self.order_box, "List order",
             "The order of the photo list: the review queue (least confident first), capture time or file name "
             f"(also View menu{keys('order_queue')}{keys('order_capture')}{keys('order_name')})")
        name(
            self.list_view,
            "Photos",
            f"The review queue{keys('focus_list')}; next/previous photo{keys('next_photo')}{keys('prev_photo')}; "
            "Shift+Up/Down select several photos",
        )
        name(
            self.photo_view,
            "Photo",
            f"The photo with its bib boxes. Zoom to bib{keys('zoom_bib')}, fit{keys('fit')}, zoom in{keys('zoom_in')}, "
            f"out{keys('zoom_out')}; draw a box{keys('draw_box')}: drag with the mouse, or arrow keys to move it, "
            "Shift+arrows to size it, Enter to take it. Wheel: zoom; drag: pan, or move/size the selected box; "
            "double click on a box: edit its number; right click: the actions there",
        )
        name(self.panel.table, "Bibs of this photo", f"Number, confidence and source; next/previous bib{keys('next_bib')}{keys('prev_bib')}")
        name(
            self.number_edit,
            "Bib number",
            f"Digits retype the selected bib's number; edit with letters{keys('edit_number')}, "
            f"commit{keys('accept_photo')}, drop the typing{keys('cancel')}",
        )
        name(self.cancel_button, "Cancel recognition", "Stop the running scan or recognition (also Recognition > Cancel)")
        name(self.progress, "Progress", "Progress of the running scan or recognition")
        for button in self.panel.button_widgets():
            act = button.defaultAction()
            button.setAccessibleName(act.text().replace("&", ""))
            button.setAccessibleDescription(f"{act.statusTip()}{keys(act.objectName())}")

    def _build_help_menu(self) -> None:
        """Help: Keyboard Shortcuts (F1), Open Log Folder, Model Information, About bibtagger (docs/gui.md#help-menu)."""
        from bibtagger_gui.gui import help_dialogs

        menu = self.menuBar().addMenu("&Help")
        self._action("shortcuts", "&Keyboard Shortcuts", self.show_shortcuts, menu)
        self._action("open_log_folder", "Open &Log Folder", self.open_log_folder, menu, keys=False)
        self._action("model_info", "&Model Information", self.show_model_info, menu, keys=False)
        menu.addSeparator()
        self._action("about", "&About bibtagger", self.show_about, menu, keys=False)
        for name, tip in (
            ("open_log_folder", "Open the folder of the log file (warnings, errors and their details)"),
            ("model_info", "Versions, calibration and model cards of the recognition models"),
            ("about", "bibtagger's version and the licences of its components"),
        ):
            self.actions_by_name[name].setStatusTip(tip)
            self.actions_by_name[name].setToolTip(tip)
        self.help_menu = menu
        self._help = help_dialogs

    def show_shortcuts(self) -> Any:
        h = self._help
        return h.show_window(self, "shortcuts_dialog", lambda: h.ShortcutsDialog(self.keymap, self),
                             lambda d: d.fill(self.keymap))  # fmt: skip

    def show_model_info(self) -> Any:
        h = self._help
        return h.show_window(self, "model_info_dialog", lambda: h.ModelInfoDialog(self.models_dir, self),
                             lambda d: d.fill(self.models_dir))  # fmt: skip

    def show_about(self) -> Any:
        h = self._help
        return h.show_window(self, "about_dialog", lambda: h.AboutDialog(self), lambda d: d.fill())

    def open_log_folder(self) -> bool:
        """Help > Open Log Folder: the log's folder in the file manager, or why there is no log."""
        from bibtagger_gui.gui.error_report import open_folder

        folder = applog.state.path.parent if applog.state.path is not None else None
        if folder is None:
            why = applog.state.error or "the log file is only written by the desktop app (bibtagger gui)"
            self.statusBar().showMessage(f"No log file: {why}", 15000)
            return False
        if not open_folder(folder):
            self.statusBar().showMessage(f"Cannot open {folder} in a file manager; the log is {applog.state.path}", 15000)
            return False
        self.statusBar().showMessage(f"Log folder: {folder}", 10000)
        return True

    def _install_features(self) -> None:
        self.feature_errors: list[str] = []
        for name in FEATURE_MODULES:
            try:
                module = importlib.import_module(f"bibtagger_gui.gui.{name}")
            except ModuleNotFoundError as exc:
                if exc.name == f"bibtagger_gui.gui.{name}":
                    continue
                self.feature_errors.append(f"{name}: {exc}")
                continue
            except Exception as exc:  # a broken feature must not take the app down
                self.feature_errors.append(f"{name}: {exc}")
                continue
            install = getattr(module, "install", None)
            if callable(install):
                try:
                    install(self)
                except Exception as exc:
                    self.feature_errors.append(f"{name}: {exc}")
        for problem in self.feature_errors:
            log.error("feature module failed: %s", problem)
        startlist_controller = getattr(self, "startlist_controller", None)
        if startlist_controller is not None:  # names and off-list flags follow a start list import
            startlist_controller.imported.connect(lambda _sl: self.reload_startlist())

    def reload_startlist(self) -> None:
        """Give the bib panel the folder's start list (once per folder and after an import)."""
        from bibtagger_gui.core.startlist import load_from_store

        self.panel.set_startlist(load_from_store(self.store) if self.store is not None else None)

    # ------------------------------------------------------------------ folders
    def choose_folder(self) -> None:
        if self._box_unfinished("open another folder"):  # as J/K: closing the folder dropped a drawn box without a word
            return
        start = str(self.folder or self.settings.value("recent_folder", "") or Path.home())
        path = QFileDialog.getExistingDirectory(self, "Open photo folder", start)
        if path:
            self.open_folder(path)

    def _fill_recent(self) -> None:
        self.recent_menu.clear()
        for path in self.recent_folders():
            act = self.recent_menu.addAction(path)
            act.triggered.connect(lambda _c=False, p=path: self._box_unfinished("open another folder") or self.open_folder(p))

    def recent_folders(self) -> list[str]:
        value = self.settings.value("recent_folders", [])
        if isinstance(value, str):
            value = [value]
        return [str(v) for v in (value or [])]

    def _remember_folder(self, folder: Path) -> None:
        recent = [str(folder)] + [p for p in self.recent_folders() if p != str(folder)]
        self.settings.setValue("recent_folder", str(folder))
        self.settings.setValue("recent_folders", recent[:10])

    def open_folder(self, folder: str | Path) -> bool:
        """Open (or reload) a photo folder: store, queue, then scan + recognition in the background."""
        from bibtagger_gui.core.store import Store, StoreError, folder_problem

        folder = Path(folder).expanduser().resolve()
        finetune = getattr(self, "finetune_controller", None)  # a running fine-tune: stop it, keep it, or stay
        if finetune is not None and folder != self.folder and not finetune.may_leave(f"open {folder.name}", can_keep=True):
            return False
        why = folder_problem(folder)
        if why:  # said once, not "Cannot open X: X: not a folder"
            self._error(f"Cannot open {folder}", why)
            return False
        try:
            store = Store.open(folder)
        except (StoreError, OSError) as exc:
            self._error(f"Cannot open {folder}", str(exc))
            return False
        self.close_folder()
        # a search names a bib of the last shoot: cleared, and the keys go to the new folder's photo
        # (a search box that kept the focus took the digits meant for the first photo's bib)
        self.search_edit.clear()
        self.photo_view.setFocus()
        self.resume.folder_opening(store, folder)  # its saved list order first: the snapshots are sorted once
        self.store, self.folder = store, folder
        self.ctx.store = store
        self.live_updates.watch(store)
        self.reload_startlist()
        self.thumbnails.reset(folder, store.db_path.parent / "thumbs")
        self._remember_folder(folder)
        self.setWindowTitle(f"{folder.name} — bibtagger[*]")
        self.rebuild_queue()
        self.resume.folder_opened()  # its last photo, filter and search (gui/resume.py)
        # the scan starts once the list is painted and the heap settled (the 0 ms timers run after the paint, in the
        # order they were started): its Python work took the GIL from them, 40-230 ms of the open (docs/gui.md#opening-a-folder)
        hold = threading.Event()
        self._start(ScanJob(folder, self.generation.value, self.generation, hold=hold))
        QTimer.singleShot(0, self, hold.set)
        self._tell_store_place()
        return True

    def _tell_store_place(self) -> None:
        """Say where the review is saved when the folder cannot hold its project (read-only: core/store.py keeps it in
        the user data folder): once in the status bar, and in a status bar label that stays while the folder is open."""
        from bibtagger_gui.core.store import fallback_db_path

        elsewhere = self.store is not None and self.folder is not None and self.store.db_path == fallback_db_path(self.folder)
        self.store_label.setVisible(elsewhere)
        if not elsewhere:
            return
        where = self.store.db_path.parent
        note = f"{self.folder.name} cannot be written, so your review is saved in {where} (the photos are never changed)"
        behind = self.store.copy_behind  # the folder's own project changed since this copy was made (core/store.py)
        self.store_label.setText("read-only folder: its project changed" if behind else "read-only folder")
        self.store_label.setToolTip(
            f"{note}. A copy of the folder made elsewhere does not take it along: Export > Export Bib Annotation JSON… "
            "here, then File > Import Annotations… in the copy." + (f"\n\nNote: {behind}." if behind else "")
        )
        self.store_label.setAccessibleName(f"Read-only folder: {note}" + (f". Note: {behind}" if behind else ""))
        self.statusBar().showMessage(f"Note: {behind}" if behind else note, 30000 if behind else 20000)

    def open_photo(self, path: str | Path) -> bool:
        """Show the photo file ``path`` (a photo dropped on the view): in the open folder when it is one of its
        photos (a search or filter hiding it is cleared), else after opening its own folder, at once when the
        store knows it, otherwise when the folder's first scan has found it."""
        path = Path(path).expanduser().resolve()
        rel = self._relpath_in(self.folder, path)
        photo = self.store.photo_by_path(rel) if self.store is not None and rel is not None else None
        if photo is None or photo.missing:
            if not self.open_folder(path.parent):
                return False
            rel = path.name
            photo = self.store.photo_by_path(rel)
        if photo is not None and not photo.missing:
            return self._show_dropped(photo)
        self._dropped = (self.generation.value, rel)  # shown when the scan ends (_job_finished)
        self.statusBar().showMessage(f"Opening {path.name} once the folder's scan has found it…", 5000)
        return True

    @staticmethod
    def _relpath_in(folder: Path | None, path: Path) -> str | None:
        if folder is None:
            return None
        try:
            return path.relative_to(folder).as_posix()
        except ValueError:
            return None

    def _show_dropped(self, photo: Any) -> bool:
        shown = self.reveal_photo(photo.id, "Dropped photo")
        if shown and photo.id == self.current_id and not self.statusBar().currentMessage().startswith("Dropped photo"):
            self.say_of_photo(f"Showing {photo.relpath} (dropped on the view)", 5000)
        return shown

    def _show_dropped_after_scan(self) -> None:
        dropped, self._dropped = self._dropped, None
        if dropped is None or dropped[0] != self.generation.value or self.store is None:
            return
        photo = self.store.photo_by_path(dropped[1])
        if photo is None or photo.missing or not self._show_dropped(photo):
            self.statusBar().showMessage(f"{dropped[1]} is not among the photos of {self.folder.name}", 10000)

    def close_folder(self) -> None:
        """Forget the current folder; running jobs become stale and their results are dropped. A number
        being typed is committed first (opening another folder or quitting must not lose it)."""
        self._commit_entry()
        self.generation.bump()
        for job in self.jobs:
            job.cancel()
        self.job_pool.clear()  # queued jobs never run; the others have started
        self._retire(self.jobs)
        self.jobs = []
        self.end_pause()  # the pause was this folder's: the next folder's recognition runs
        self._jobs_changed()
        self.undo_stack.clear()
        self.undo_stack.setClean()
        self._end_entry()
        mturk = getattr(self, "mturk_controller", None)
        if mturk is not None:
            mturk.folder_closed()  # its dialog acts on this folder's store
        self.live_updates.watch(None)
        self.store_label.hide()
        if self.store is not None:
            self.store.close()
        self.store = None
        self.ctx.store = None
        self.folder = None
        self.items = ReviewIndex(order=self.order)
        self._settle_heap_soon()  # the folder's snapshots dropped: collected (gui/heap.py)
        self.scan_skipped = []
        self.scan_replaced = []
        self.scan_unsupported = None
        self.current_id = None
        self.current_bibs = []
        self.selected_bib = None
        self.list_model.set_items([])
        self.thumbnails.reset(None, None)
        self.photo_view.close_folder()  # its neighbours' decodes (~5-13 MB each) are the folder's too, and their prints
        self.panel.show_item(None, [], None)
        self.panel.set_startlist(None)
        self._update_counts()

    # ------------------------------------------------------------------ background jobs
    @property
    def busy(self) -> bool:
        return bool(self.jobs)

    def _retire(self, jobs: list[Any]) -> None:
        """Keep the jobs that left :attr:`jobs` but still run until they are done, then let them go.

        So the last reference to a job (and its ``JobSignals`` QObject) is dropped in the GUI thread, never
        in the worker thread: the worker lets go of a job before its task says ``done``
        (gui/threads.py). Jobs that never ran (taken from the queue) are simply dropped."""
        self._retired = [j for j in (*self._retired, *jobs)
                         if j.task is not None and j.task.started and not j.task.done]  # fmt: skip
        if self._retired:  # a job whose worker has not let go yet: look again shortly, not only at the next start
            self._retired_timer.start()

    def refuse_while_away(self, done: str) -> bool:
        """True (and the status bar says so, as F5 does) while the open folder cannot be seen (``LiveUpdates.folder_away``:
        renamed, deleted, its drive unplugged, within the ``GONE_FOR_MS`` wait before the window closes it): a job
        started then opened the folder by its path and made a new, empty project in a bare mount point, or wrote to a
        folder that is gone. ``done``: what did not happen ("not scanned", "Export not started")."""
        away = self.live_updates.folder_away() if self.store is not None else None
        if away is None:
            return False
        self.statusBar().showMessage(f"{self.folder} cannot be read now ({away}): {done}. A share or drive back within "
                                     f"{GONE_FOR_MS // 1000} s goes on as before; else the folder is closed and you are "
                                     "told where your edits are", 10000)  # fmt: skip
        return True

    def start_job(self, job: Any, then: Callable[[Any, int, str, str], None] | None = None) -> bool:
        """Run a job of the open folder (a ``workers`` job of kind scan/recognize) after the queued ones; False (the
        status bar says why) while the folder is away (:meth:`refuse_while_away`).

        ``then(job, generation, outcome, message)`` hears its end after the window has (its status, its queue
        rebuilt); it is connected before the job is queued: a job that ends before a later connect (one photo,
        a fast read) would never call it."""
        return self._start(job, then)

    def _start(self, job: Any, then: Callable[[Any, int, str, str], None] | None = None) -> bool:
        if self.refuse_while_away("Scan not started" if job.kind == "scan" else "Recognition not started"):
            return False  # every job's start: a re-run, a batch re-run, a queued scan (docs/gui.md, "The folder itself gone")
        job.db_path = self.store.db_path if self.store is not None else None  # the job opens this file or nothing
        self._retire([])
        job.signals.progress.connect(self._job_progress)
        job.signals.stage.connect(self._job_stage)
        job.signals.photo_done.connect(self._job_photo_done)
        # a weak reference: the connection lives in the job's own QObject, which Python's GC cannot see through,
        # so a lambda holding the job itself kept every job (its ids, its scan report) alive for good
        ref = weakref.ref(job)
        job.signals.finished.connect(lambda g, outcome, msg: self._job_finished(ref(), g, outcome, msg))
        if then is not None:
            job.signals.finished.connect(lambda g, outcome, msg: then(ref(), g, outcome, msg))
        self.jobs.append(job)
        self.last_progress = (0, 0)
        if job.kind == "recognize" and self.recognition_paused:
            job.pause()
        job.task = self.job_pool.submit(job)
        self._jobs_changed()
        self._follow_reviewer()
        return True

    def _jobs_changed(self) -> None:
        running = bool(self.jobs)
        self.progress.setVisible(running)
        self.cancel_button.setVisible(running)
        self.actions_by_name["cancel_jobs"].setEnabled(running)
        if running:
            self.progress_label = "Scanning" if self.jobs[0].kind == "scan" else "Recognizing"
            self._show_progress_format()

    def _job_progress(self, generation: int, done: int, total: int) -> None:
        if generation != self.generation.value:
            return  # a folder that is no longer open
        self.last_progress = (done, total)
        self.progress.setRange(0, max(total, 1))
        self.progress.setValue(done)

    def _job_stage(self, generation: int, label: str) -> None:
        """A job moved on to other work (a recognition job's fingerprinting): the bar names it and counts anew."""
        if generation != self.generation.value:
            return
        self.last_progress = (0, 0)
        self.progress_label = label
        self._show_progress_format()

    def _job_photo_done(self, generation: int, photo_id: int) -> None:
        for job in self.jobs:  # shown now: a later change of it is no longer this window's recognition's (accept_photo)
            getattr(job, "written", set()).discard(photo_id)
        if generation != self.generation.value or self.store is None:
            return
        self.refresh_photo(photo_id)

    def _job_finished(self, job: Any, generation: int, outcome: str, message: str) -> None:
        if job is None:  # dropped (its folder was closed) and collected: nothing to report
            return
        if job in self.jobs:
            self.jobs.remove(job)
        self._retire([job])  # it has just sent its last signal; its worker lets go of it in a moment
        if generation != self.generation.value:
            return
        self.last_job_outcome = (job.kind, outcome, message)
        self._jobs_changed()
        if outcome == "failed":  # a re-run that stopped part way: what it wrote is still one undo step
            note = self._push_rerun(job) if getattr(job, "record", False) else ""
            self.statusBar().showMessage(f"{message}{note}", 15000)
        elif job.kind == "scan":
            self.rebuild_queue()
            self._note_scan(getattr(job, "report", None))
            self.resume.scan_finished()  # a photo not on disk at opening: moved (found now) or gone
            self._show_dropped_after_scan()  # a photo dropped on the view, its folder opened for it
            self._forget_changed(getattr(job, "report", None))
            if getattr(job, "rescan", False) and outcome == "done":  # F5: say what it found (before recognition starts)
                note = self._rescan_note(getattr(job, "report", None))
                notes = self._scan_notes(short=False)  # _note_scan's (a file left out, a photo replaced): said with it
                said = getattr(self, "_photo_message", None)  # "nothing" leaves the rebuild's word of the photo shown up,
                kept = said is not None and said[1] == self.statusBar().currentMessage()  # no other message (it hid a
                if notes or not (kept and note.endswith("no photo added, changed or removed")):  # scan that waited for
                    self.statusBar().showMessage("; ".join([note, *notes]), 30000 if notes else 10000)  # a recognition)
            if outcome == "done":
                self.start_recognition([p.id for p in self.store.photos() if review.needs_recognition(p)])
        else:
            notes = "".join(f"; {n}" for n in self._scan_notes(short=True))  # the scan's news stays said
            if getattr(job, "version", None):
                self._show_models(job.label, job.version, job.calibration_note)
            self.rebuild_queue()
            if getattr(job, "record", False):  # Re-run on Unreviewed Photos: one undo step, also when cancelled
                notes = self._push_rerun(job) + notes
            if self.saved_models_note and self.models_dir is None and not self._saved_models_said:  # said again once,
                self._saved_models_said = True  # when it matters: the run's readings are not from the user's models
                notes += "; read by the default models, not your model folder (hover “models” for why)"
            self.statusBar().showMessage(f"Recognition {outcome}: {message}{self._unreadable_note()}{notes}", 10000)
        self._update_counts()

    def _unreadable_note(self) -> str:
        """"; N photo(s) in the folder could not be read (…)": every photo whose file could not be read, at the scan
        (an empty file, not an image) or by the recognizer (a truncated JPEG), not only this run's; "" when none."""
        n = self.items.counts().errors
        if not n:
            return ""
        return f"; {n} photo(s) in the folder could not be read (Show: {ReviewFilter.UNREADABLE.label} lists them)"

    def _forget_changed(self, report: Any) -> None:
        """Photos whose file changed since they were last seen (replaced, edited): their thumbnails were
        asked for before the scan, from the old file's cache entry; drop them so the new picture shows."""
        for rel in getattr(report, "updated", None) or []:
            photo = self.store.photo_by_path(rel) if self.store is not None else None
            if photo is None:
                continue
            self.thumbnails.forget(photo.id)
            if photo.id in self.items:
                self.refresh_photo(photo.id)
            if photo.id == self.current_id:  # its new pixels: at once, or once a number typed or a box drawn on it
                self.live_updates.show_new_pixels(photo.id)  # is done (showing it again ended them: a drawn box unsaid)

    def _note_scan(self, report: Any) -> None:
        """Tell the user what the scan found that needs them: files it could not take in (e.g. a name
        that is not UTF-8), photos replaced by another picture under the same name, and files in
        formats it cannot read (HEIC, RAW, …: a folder of them would otherwise just look empty).

        Photos that are in the store with an error show in the list; skipped files are not in the
        store at all, so without this they would silently be missing from the review. A replaced photo
        lost its predictions and its review (``ScanReport.replaced``): it is recognized again and back
        among the unreviewed ones, which the user should hear about (``bibtagger predict`` says so too).
        """
        known = {it.photo.relpath for it in self.items.values()}
        self.scan_skipped = [(rel, msg) for rel, msg in (report.errors if report is not None else []) if rel not in known]
        self.scan_replaced = list(getattr(report, "replaced", None) or [])
        self.scan_unsupported = unsupported_note(list(getattr(report, "unsupported", None) or []))
        self._show_queue_label()
        notes = self._scan_notes(short=False)
        if notes:
            self.statusBar().showMessage("; ".join(notes), 30000)

    def _scan_notes(self, short: bool) -> list[str]:
        """What the last scan found for the status bar: full (after the scan) or short (after recognition)."""
        notes = []
        more = " (+{} more: hover the count under the photo list)"
        if self.scan_skipped and short:
            notes.append(f"{len(self.scan_skipped)} file(s) left out by the scan")
        elif self.scan_skipped:
            rel, msg = self.scan_skipped[0]
            n = len(self.scan_skipped)
            notes.append(f"{n} file(s) left out of the review: {rel}: {msg}{more.format(n - 1) if n > 1 else ''}")
        if self.scan_replaced:
            n = len(self.scan_replaced)
            which = "" if short else f": {self.scan_replaced[0]}{more.format(n - 1) if n > 1 else ''}"
            notes.append(f"{n} photo(s) replaced by another picture under the same name "
                         f"(recognized again and unreviewed; your own bibs kept){which}")  # fmt: skip
        if self.scan_unsupported and not short:  # e.g. a folder of HEIC or RAW files: say why it looks empty
            notes.append(self.scan_unsupported)
        return notes

    def _show_queue_label(self) -> None:
        text = f"{self.list_model.total()} of {len(self.items)} photos"
        if self.scan_skipped:
            text += f" · {len(self.scan_skipped)} file(s) left out"
        if self.scan_replaced:
            text += f" · {len(self.scan_replaced)} replaced"
        if self.scan_unsupported:
            text += " · other formats left out"
        self.queue_label.setText(text)
        tips = [f"{rel}: {msg}" for rel, msg in self.scan_skipped]
        tips += [f"{rel}: replaced by another picture (recognized again, unreviewed)" for rel in self.scan_replaced]
        if self.scan_unsupported:
            tips.append(self.scan_unsupported)
        self.queue_label.setToolTip("\n".join(tips))

    def start_recognition(self, photo_ids: list[int], undoable: bool = False) -> bool:
        """Recognize these photos in the background (reviewed ones are skipped by the job). ``undoable``: what it
        writes becomes one undo step when it ends (a re-run replacing predictions; a first recognition replaces
        nothing and is not undoable)."""
        if self.folder is None or not photo_ids:
            return False
        return self._start(RecognitionJob(self.folder, self.generation.value, self.generation, photo_ids, self.models_dir,
                                          record=undoable, recognizer=self._take_loaded_models()))  # fmt: skip

    def _take_loaded_models(self) -> Any:
        """The recognizer the check of :attr:`models_dir` loaded (at start-up, Load Model Folder…), once: the first run
        uses it instead of loading the same models again; later runs load theirs (docs/gui.md#threads-jobs-and-stale-results)."""
        loaded, self._loaded_models = getattr(self, "_loaded_models", None), None
        return loaded[1] if loaded is not None and loaded[0] == self.models_dir else None

    def push_done(self, command: StoreCommand) -> None:
        """Put on the undo stack an edit already written (a re-run's photos, each written as the job read it)."""
        command.applied = True  # the push's redo() must not write it again
        self.undo_stack.push(command)

    def _push_rerun(self, job: Any) -> str:
        """A re-run on the unreviewed photos ended (done or cancelled): what it wrote is one undo step, from the job's
        records (every photo's predictions, model version and review mark before and after). A photo changed again
        after the job wrote it (the user accepted or retyped it meanwhile: those edits are on the stack below this
        step) keeps its new predictions and is left out of the step. Returns the status bar's note."""
        records = job.records
        if not records or self.store is None:
            return ""
        later = self.store.last_changes(min(r.last_change for r in records.values()))
        kept = [r for pid, r in records.items() if later.get(pid, 0) <= r.last_change]
        left = len(records) - len(kept)
        note = ""
        if kept:
            command = RecordedBatchCommand(self.ctx, f"Re-run on Unreviewed Photos ({len(kept)} photos)", kept,
                                           shown=self._rerun_shown, busy=self._busy_for(len(kept)))  # fmt: skip
            self.push_done(command)
            note = f"; {self.keymap.text('undo') or 'Edit > Undo'} undoes it ({len(kept)} photo(s) get their old predictions back)"
        if left:
            note += f"; {left} photo(s) you changed after it read them keep its predictions (not in its undo step)"
        return note

    def _busy_for(self, photos: int) -> Callable[[str], Any]:
        """The ``busy`` context of an undo step over ``photos`` photos: over :data:`BULK` (a re-run of a whole shoot: a
        second or two on 2 cores at 10,000 photos, docs/benchmarks.md) a wait cursor and the step's "Undoing …" painted
        in the status bar before the window stops for it, the cursor put back after, whatever happens."""

        @contextlib.contextmanager
        def busy(text: str) -> Iterator[None]:
            if photos <= BULK:
                yield
                return
            said = self.statusBar().currentMessage()
            self.statusBar().showMessage(text)
            QApplication.setOverrideCursor(Qt.CursorShape.WaitCursor)
            self.statusBar().repaint()  # painted now: the event loop does not run until the step is done
            try:
                yield
            finally:
                QApplication.restoreOverrideCursor()
                if self.statusBar().currentMessage() == text:  # the undo's own message ("Undid …") follows
                    self.statusBar().showMessage(said, 5000)

        return busy

    def _rerun_shown(self, command: BatchEditCommand, how: str) -> None:
        """After the undo or redo of a re-run: its photos as the undo or redo left them (``command.moved``, built from
        what it read and wrote, no read), put into the list and view; after one that failed, read again."""
        if self.store is None:
            return
        moved = getattr(command, "moved", None)
        if moved is not None and self._show_moved(moved):
            return
        ids = command.photo_ids
        if len(ids) > BULK:  # thousands of photos: one read of every photo, not two queries each
            self.rebuild_queue()
        else:
            for pid in ids:
                self.refresh_photo(pid)
            self._update_counts()

    def _show_moved(self, moved: dict[int, Any]) -> bool:
        """Put photos an undo or redo wrote (photo id -> ``core.photo_record.PhotoState``) into the list and the view
        from their states (``review.item_after``: a photo's other facts as the list holds them). Over :data:`BULK`
        photos one new index of every snapshot (sorted once, the capture timeline kept), not a move each. False
        (nothing done) when one is not in the list: the caller reads them all again."""
        items = self.items
        if any(pid not in items for pid in moved):
            return False
        fresh = {pid: review.item_after(items[pid], *state) for pid, state in moved.items()}
        if len(fresh) > BULK:
            index = ReviewIndex([fresh.get(pid, item) for pid, item in items.items()], self.order)
            index.adopt_timeline(items)  # the same photos, names and capture times
            self.items = index
            self._settle_heap_soon(full=False)  # 10,000 new snapshots out of the collector's reach, no full pass
            self.rebuild_queue(reload=False)  # the rows in the new order, the photo shown kept
            if self.current_id in fresh:
                self.refresh_photo(self.current_id, item=fresh[self.current_id])
        else:
            for pid, item in fresh.items():
                self.refresh_photo(pid, item=item)
        self._update_counts()
        return True

    def rerun_unreviewed(self) -> bool:
        """Recognition > Re-run on Unreviewed Photos: a run the user starts, so a pause ends (it would only wait). With
        no folder open or no unreviewed photo it did nothing without a word: the status bar says why."""
        if self.store is None:
            self.statusBar().showMessage(f"No folder is open ({self._first_key('open_folder', 'File > Open Folder')})", 6000)
            return False
        if self.refuse_while_away("Re-run not started"):
            return False
        ids = review.rerun_candidates(self.store.photos())
        if not ids:
            self.statusBar().showMessage(
                "Nothing to re-run: every photo is reviewed, and a re-run never touches reviewed photos (Edit > "
                "Selected Photos > Mark Unreviewed first)", 8000)  # fmt: skip
            return False
        resumed = self.end_pause()
        started = self.start_recognition(ids, undoable=True)  # one undo step when it ends
        if started and resumed:
            self.statusBar().showMessage(f"Recognition resumed: re-running on {len(ids)} unreviewed photo(s)", 8000)
        return started

    def cancel_jobs(self) -> None:
        """Stop the folder's jobs (a paused one at once). A pause stays: the import stops recognition and starts
        it again afterwards, paused as it was; the user's Cancel (:meth:`cancel_by_user`) ends it too."""
        for job in self.jobs:
            job.cancel()
        # a job still queued never runs (so never reports): forget it; a running one reports "cancelled"
        self.jobs = [j for j in self.jobs if not self.job_pool.try_take(j.task)]
        self._jobs_changed()

    def cancel_by_user(self) -> None:
        """Cancel (the status bar's button, Recognition > Cancel): the jobs stop, and a pause ends with them (there
        is nothing left to pause: the next run, e.g. a re-run, is not paused)."""
        self.cancel_jobs()
        self.end_pause()

    def _show_progress_format(self) -> None:
        paused = self.recognition_paused and bool(self.jobs) and self.jobs[0].kind == "recognize"
        label = self.progress_label
        if paused:
            label = "Recognition paused" if label == "Recognizing" else f"{label} paused"
        self.progress.setFormat(f"{label} %v/%m")
        self.progress.set_texts(f"{label} %v/%m", *(["Paused %v/%m"] if paused else []), "%v/%m")  # as fits

    def toggle_recognition_pause(self) -> None:
        """Recognition > Pause/Resume: the folder's recognition starts no new photo (the one under way is finished
        and kept) until resumed. The pause holds the runs under way and those that go on with them (the run after
        the folder's scan, the import's restart); it ends with the folder, with Cancel, and when the user starts
        a run (Re-run on Unreviewed or Selected Photos): docs/gui.md#recognition-follows-the-reviewer."""
        self._set_paused(not self.recognition_paused)
        keys = self.keymap.text("pause_recognition")
        again = f" ({keys})" if keys else ""
        self.statusBar().showMessage(
            f"Recognition paused: no new photo is started until Recognition > Resume Recognition{again}, "
            "a re-run you start, Cancel or another folder"
            if self.recognition_paused else "Recognition resumed", 8000)  # fmt: skip

    def end_pause(self) -> bool:
        """End a pause without a word (the caller says what goes on): paused jobs go on, the menu says Pause again.
        True when recognition was paused."""
        if not self.recognition_paused:
            return False
        self._set_paused(False)
        return True

    def _set_paused(self, paused: bool) -> None:
        self.recognition_paused = paused
        for job in self.jobs:
            if job.kind == "recognize":
                (job.pause if paused else job.resume)()
        self.actions_by_name["pause_recognition"].setText("&Resume Recognition" if paused else "&Pause Recognition")
        if self.jobs:
            self._show_progress_format()

    def _follow_reviewer(self) -> None:
        """Recognition follows the reviewer: the photo shown and the next ones of the list are recognized
        next (core/recognition_queue.py), whenever the photo shown or the list changes."""
        jobs = [j for j in self.jobs if j.kind == "recognize"]
        if jobs:
            ids = reviewer_window(self.list_model.items, self.current_id, self.current_row(), key=lambda it: it.photo_id)
            for job in jobs:
                job.prefer(ids)

    def choose_models(self) -> None:
        start = str(self.models_dir or Path.home())
        path = QFileDialog.getExistingDirectory(self, "Model folder (detector.onnx + reader.onnx)", start)
        if path and self.load_models_dir(path):
            warning = f", {self.models_warning}" if self.models_warning else ""  # keep it visible
            self.statusBar().showMessage(
                f"Models loaded{warning}; use Recognition > Re-run on Unreviewed Photos to apply them",
                15000 if warning else 10000,
            )

    def _saved_models(self) -> str:
        """Take the remembered model folder when its models load; else say why not (:attr:`saved_models_note`; the
        setting stays, so the folder is used again once it is back)."""
        from bibtagger_gui.core.recognizer import default_models_name, open_models_folder

        saved = self.settings.value("models_dir")
        if not saved:
            return ""
        rec, problem = open_models_folder(Path(str(saved)))
        if problem is None:
            self.models_dir = Path(str(saved))
            self._loaded_models = (self.models_dir, rec)  # the check's load serves the first run (30-70 ms, not twice)
            return ""
        note = (f"The model folder you chose, {saved}, cannot be used ({problem}): {default_models_name()} are used "
                "instead (Recognition > Load Model Folder… chooses one)")  # fmt: skip
        log.warning("%s", note)
        return note

    def _tell_saved_models(self) -> None:
        """Say :attr:`saved_models_note` in the status bar and mark the models' label (its tooltip says it again)."""
        if not self.saved_models_note:
            return
        print(f"bibtagger: {self.saved_models_note}", file=sys.stderr)  # a start from a terminal (no-op without one)
        self.statusBar().showMessage(self.saved_models_note, 30000)
        self.model_label.setText("models: ⚠ not your model folder")
        self.model_label.setToolTip(self.saved_models_note)

    def load_models_dir(self, folder: str | Path, remember: bool = True) -> bool:
        """Check and switch to the models in ``folder`` (used by the next recognition run).

        ``remember`` stores the folder in QSettings for the next start (the menu does;
        ``bibtagger gui --models`` does not).
        """
        from bibtagger_gui.core.calibration import FILE_NAME as CALIBRATION_FILE
        from bibtagger_gui.core.recognizer import ModelError, Recognizer

        try:
            rec = Recognizer.from_dir(Path(folder))
        except ModelError as exc:
            self._error("Cannot load models", str(exc))
            return False
        self.models_dir = Path(folder)
        self._loaded_models = (self.models_dir, rec)  # the next run takes it instead of loading the folder again
        self.saved_models_note = ""  # a folder of the user's is in use now
        if remember:
            self.settings.setValue("models_dir", str(self.models_dir))
        self._show_models(rec.label, rec.version, rec.calibration_note)
        self.models_warning = ""
        if rec.calibration is None and (Path(folder) / CALIBRATION_FILE).exists():  # stale or broken file
            self.models_warning = f"confidences uncalibrated: {rec.calibration_note}"
            self.statusBar().showMessage(f"Models loaded, {self.models_warning}", 15000)
        return True

    def _show_models(self, label: str, version: str, calibration_note: str) -> None:
        """Status bar: the models' short name; the full version and the calibration note on hover."""
        if version != getattr(self, "_models_logged", None):  # the log says which models a session used
            self._models_logged = version
            logging.getLogger(applog.STARTUP_LOGGER).info("models in use: %s (%s)", version, calibration_note)
        unusable = self.saved_models_note if self.models_dir is None else ""  # the user's folder is still not in use
        self.model_label.setText(f"models: {'⚠ ' if unusable else ''}{label}")
        self.model_label.setToolTip("\n".join(t for t in (version, calibration_note, unusable) if t))

    # ------------------------------------------------------------------ queue and list
    def set_filter(self, flt: ReviewFilter) -> None:
        self.filter = ReviewFilter(flt)
        if hasattr(self, "filter_actions"):
            self.filter_actions[self.filter].setChecked(True)
        i = self.filter_box.findData(self.filter.value)
        if i != self.filter_box.currentIndex():
            self.filter_box.setCurrentIndex(i)  # re-enters via the signal
            return
        self.rebuild_queue(reload=False)

    def set_order(self, order: ListOrder) -> None:
        """Order the list by the review queue, capture time or file name (core/list_order.py); the photo shown
        stays shown, and Enter, next/previous, the filter and the search follow the new order."""
        self.order = ListOrder(order)
        if hasattr(self, "order_actions"):
            self.order_actions[self.order].setChecked(True)
        i = self.order_box.findData(self.order.value)
        if i != self.order_box.currentIndex():
            self.order_box.setCurrentIndex(i)  # re-enters via the signal
            return
        if self.items.order is self.order:
            return
        self.items.set_order(self.order)  # one sort; every later edit moves a photo by bisection
        self.rebuild_queue(reload=False)
        if self.store is not None and self.order is ListOrder.CAPTURE:
            self.statusBar().showMessage(self._capture_note(), 8000)

    def _capture_note(self) -> str:
        """What capture order rests on: how many photos have a camera time, only a file time, none."""
        from bibtagger_gui.core import bursts
        from bibtagger_gui.core.list_order import clock_of

        clocks = [clock_of(it.photo) for it in self.items.values()]
        parts = [f"{clocks.count(bursts.EXIF)} by camera time (EXIF)"]
        if clocks.count(bursts.FILE):
            parts.append(f"then {clocks.count(bursts.FILE)} by file time")
        if clocks.count(None):
            parts.append(f"then {clocks.count(None)} without a time, by name")
        return "Capture order: " + ", ".join(parts) + "; each sub-folder in turn"

    def rescan_folder(self) -> None:
        """F5: rebuild the list from the store at once, and look at the folder again in the background (a ``ScanJob``,
        as on opening): photos copied in since it was opened (a late card), removed, renamed or replaced show up, a
        file caught half-copied is read again whole, and new photos are recognized. Only a scan puts photos in the
        store, so they used to show only once the folder was opened again (or a ``bibtagger predict`` had run)."""
        self.rebuild_queue()
        if self.store is None or self.folder is None:
            return
        scans = [j for j in self.jobs if j.kind == "scan"]
        if any(j.task is not None and j.task.started for j in scans):  # it may have listed the folder already (F5
            self.statusBar().showMessage("The folder is being scanned already: files copied in since that scan began "
                                         "show after F5 once it ends", 10000)  # fmt: skip  (did nothing, unsaid)
            return
        if scans:  # queued behind a recognition: it lists the folder when it runs (F5 again said nothing)
            self._say_scan_waits()
            return
        if self.refuse_while_away("not scanned"):  # a scan opening the folder's project made a new, empty one in a
            return  # bare mount point
        job = ScanJob(self.folder, self.generation.value, self.generation)
        job.rescan = True  # its end says what it found (_job_finished)
        ahead = [j for j in self.jobs if j.kind == "recognize"]
        self._start(job)  # the progress bar says "Scanning"; the status bar keeps what the rebuild said
        if ahead:  # one job at a time: the scan waits for it (polls go on meanwhile, LiveUpdates.poll)
            self._say_scan_waits()

    def _say_scan_waits(self) -> None:
        """F5's scan waits for the recognition under way (one job at a time), which may be paused."""
        resume = self._first_key("pause_recognition", "Recognition > Resume Recognition")
        state = f"paused: {resume} resumes it" if self.recognition_paused else "running"
        self.statusBar().showMessage(f"The folder is scanned again once the recognition under way is done ({state})", 10000)

    def _rescan_note(self, report: Any) -> str:
        """What an F5 rescan found, for the status bar."""
        if report is None:
            return "Folder scanned again"
        found = [f"{len(v)} {what}" for v, what in ((report.added, "new photo(s)"), (report.moved, "renamed or moved"),
                                                 (report.updated, "changed"), (report.missing, "gone"),
                                                 (report.restored, "back")) if v]  # fmt: skip
        news = ", ".join(found) if found else "no photo added, changed or removed"
        then = " (recognized next)" if report.added else ""
        return f"Folder scanned again: {news}{then}"

    def rebuild_queue(self, reload: bool = True) -> None:
        """Rebuild the ordered, filtered list; from a fresh read of every photo in the store, or with
        ``reload=False`` (a filter, search or order change) from :attr:`items`, which every edit and
        recognition result keeps current (a keystroke in the search must not re-read 10,000 photos)."""
        if self.store is None:
            self.list_model.set_items([])
            return
        keep = self.current_id
        if reload or not self.items:
            self.live_updates.mark()  # what the read below holds: other programs' later writes are polled
            before, self.items = self.items, ReviewIndex(review.load_items(self.store), self.order)
            self.items.adopt_timeline(before)  # the same photos at the same times: the burst keys' timeline stays
            self._settle_heap_soon()  # the collector's full pass after the read, not at the next keystroke
        self.items.set_order(self.order)  # (kept already: nothing to do)
        queue, ids = self.items.queue_ids(self.filter, self.search_edit.text())
        self.list_model.set_items(queue, self.items.labels(ids), ids)
        self._show_queue_label()
        row = self.list_model.row_of(keep) if keep is not None else None
        left = reload and row is None and keep is not None and bool(queue)
        if row is None and queue:
            row = 0
        if row is not None:
            self.select_row(row)
            if left and keep in self.items:  # F5, a job's end: the photo shown went out of the list; say why it changed
                why = [f"Show: {self.filter.label}"] if self.filter is not ReviewFilter.ALL else []
                if self.search_edit.text().strip():
                    why.append(f"search {self.search_edit.text().strip()!r}")
                said = (f"{self.items[keep].photo.relpath} is no longer in this list ({', '.join(why) or 'rebuilt'}): "
                        "showing the first photo of the list")  # fmt: skip
                note = getattr(self, "_box_dropped_note", None)
                joined = note is not None and self.statusBar().currentMessage() == note
                if joined:  # both said, not one over the other
                    said = f"{said}. {note}"
                self.say_of_photo(said, 15000 if joined else 6000)
            if reload and self.current_id == keep:  # still the same photo: show its bibs as stored now
                self.refresh_photo(keep)
        else:
            self._show_photo(None)
        if reload:  # a filter or search change leaves the counts as they are (every edit updates them)
            self._update_counts()
        self._follow_reviewer()  # the list's order changed

    def select_row(self, row: int) -> None:
        if not 0 <= row < self.list_model.total():
            return
        self.list_model.ensure_fetched(row)
        idx = self.list_model.index(row)
        self.list_view.selectionModel().setCurrentIndex(idx, QItemSelectionModel.SelectionFlag.ClearAndSelect)
        self.list_view.scrollTo(idx)
        if self.current_id != self.list_model.item(row).photo_id:
            self._show_photo(self.list_model.item(row).photo_id)

    def select_photo(self, photo_id: int) -> bool:
        row = self.list_model.row_of(photo_id)
        if row is None:
            return False
        self.select_row(row)
        return True

    def shown_photos(self) -> list[Any]:
        """The photos the list shows now (current filter and search), in list order."""
        return [it.photo for it in self.list_model.items]

    def selected_photos(self) -> list[Any]:
        """The photos selected in the list (Shift/Ctrl+click, Shift+Up/Down), in list order."""
        return [item.photo for item in self.selected_items()]

    def selected_items(self) -> list[Any]:
        """The list's snapshots (``core.review.ReviewItem``) of the photos selected in it, in list order."""
        rows = sorted(i.row() for i in self.list_view.selectionModel().selectedRows())
        return [self.list_model.item(r) for r in rows if r < self.list_model.total()]

    def current_row(self) -> int | None:
        return self.list_model.row_of(self.current_id) if self.current_id is not None else None

    def _current_changed(self, current, _previous) -> None:
        if current.isValid():
            pid = self.list_model.item(current.row()).photo_id
            if pid != self.current_id:  # a click in the list commits a typed number, like Tab and J/K: _show_photo does
                if self._has_typed_number() and self.current_row() is not None:  # (a commit here first hid a drawn
                    if not self._commit_to_move_on():  # box without a number: not for one of those). Not saved: the
                        # list goes back to the photo, the number in its field
                        QTimer.singleShot(0, functools.partial(self._back_to_photo, self.current_id))
                        return
                self._show_photo(pid)

    def _back_to_photo(self, photo_id: int) -> None:
        """The list's current row back on ``photo_id``, still shown (a click or arrow in the list that moved it while
        a number that could not be saved waited in the field); after the click's own selection is done."""
        if self.current_id == photo_id and self._typing_kept():
            self.select_photo(photo_id)

    def drawn_box_waits(self) -> bool:
        """Whether a box drawn on the photo shown waits for its number, none typed yet (it cannot be added: a bib
        needs a number; ending the entry drops it)."""
        entry = self._entry
        return entry is not None and entry.get("box") is not None and not self._typed()

    def _box_waits_for_number(self) -> bool:
        """True (and the status bar says what to do) when a drawn box waits for its number and none is typed:
        Enter and next/previous used to drop the box without a word (Enter again then accepted the photo
        without it)."""
        if not self.drawn_box_waits():
            return False
        self._instruct(f"Type the number of the box you drew, then {self._first_key('accept_photo', 'Return')} "
                       f"({self._first_key('cancel', 'Escape')} drops the box)")  # fmt: skip
        self.number_edit.setFocus()
        return True

    def _drawing_under_way(self, then: str) -> bool:
        """True (and the status bar says how to finish) while a box is being drawn (B pressed, the box not taken yet
        with Enter or the mouse's release): J/K, Enter (which accepted the photo) and Ctrl+O ended the drawing
        without a word. They keep it, as they keep a drawn box waiting for its number (:meth:`_box_waits_for_number`);
        ``then``: what the key does once the box is taken or cancelled."""
        if not self.photo_view.drawing:
            return False
        self._instruct(f"A new box is being drawn: drag it (or arrows), Enter takes it, Escape cancels it; then {then}")
        self.photo_view.setFocus()
        return True

    def _box_unfinished(self, then: str) -> bool:
        """A box being drawn or a drawn box waiting for its number (none typed): the status bar says how to finish
        it and the key that would end it does nothing (:meth:`_drawing_under_way`, :meth:`_box_waits_for_number`)."""
        return self._drawing_under_way(then) or self._box_waits_for_number()

    def step_photo(self, delta: int) -> None:
        if self._box_unfinished("go to another photo"):
            return
        if not self._commit_to_move_on():  # not saved: the photo stays, the number in its field (the message says why)
            return
        row = self.current_row()
        total = self.list_model.total()
        if row is not None and not 0 <= row + delta < total:  # the key did nothing: say why
            where = "last" if delta > 0 else "first"
            self.say_of_photo(f"This is the {where} photo of the list ({row + 1} of {total})", 4000)
        row = 0 if row is None else row + delta
        self.select_row(max(0, min(row, total - 1)))

    def select_first_with_bibs(self) -> bool:
        for row, item in enumerate(self.list_model.items):
            if any(b.box is not None for b in item.bibs):
                self.select_row(row)
                return True
        return False

    # ------------------------------------------------------------------ current photo
    def _show_photo(self, photo_id: int | None) -> None:
        dropped = self._drawn_box_left_behind(photo_id)
        drawing = self._drawing_left_behind(photo_id)
        self._commit_entry()  # a typed number belongs to the photo it was typed on, whatever moves on
        self._end_entry()
        self.current_id = photo_id
        self._drop_photo_message()
        self._follow_reviewer()
        if photo_id is None or self.store is None:
            self.current_bibs, self.selected_bib = [], None
            self.photo_view.clear_photo()
            self.panel.show_item(None, [], None)
            if dropped or drawing:
                self._say_box_dropped(dropped or drawing, drawing=not dropped)
            return
        item = review.item_for(self.store, photo_id)
        self.items[photo_id] = item
        self.list_model.update_item(item)  # its row shows what was read (and is the index's: set_items keeps same rows)
        self.current_bibs = list(item.bibs)
        self.selected_bib = self._default_bib()
        self.photo_view.set_photo(item.photo, self.folder, self.thumbnails.cached(photo_id), ahead=self._neighbours(photo_id))
        self._show_bibs(item)
        if dropped or drawing:
            self._say_box_dropped(dropped or drawing, drawing=not dropped)
        # typing a search must not lose its focus, nor the list its own keys (Up/Down walk it, Shift extends)
        if not self.search_edit.hasFocus() and not self.list_view.moving_by_keys and not self._extending_selection():
            self.photo_view.setFocus()

    def _drawn_box_left_behind(self, photo_id: int | None) -> str:
        """The name of the photo shown when another is about to be shown (a click in the list, a search or filter that
        hides it, F5) while a box drawn on it waits for its number and none is typed, else "". Such a box cannot be
        added (a bib needs a number) and goes; a typed number is added with its box, as any typed number is committed
        on leaving. The commands that leave the photo on purpose (J/K, Enter, Ctrl+F, Ctrl+L, Ctrl+O and Open Recent) keep
        the box and say so (:meth:`_box_waits_for_number`)."""
        return self._name_of_photo_left(photo_id) if self.drawn_box_waits() else ""

    def _drawing_left_behind(self, photo_id: int | None) -> str:
        """The name of the photo shown when another is about to be shown (a click in the list, a search or filter that
        hides it, F5) while a box is being drawn on it (B, the box not taken yet), else "". The drawing ends (a box not
        taken is no box yet) and the status bar says so; it ended without a word. J/K, Enter and Ctrl+O keep it
        (:meth:`_drawing_under_way`)."""
        return self._name_of_photo_left(photo_id) if self.photo_view.drawing else ""

    def _name_of_photo_left(self, photo_id: int | None) -> str:
        """The name of the photo shown when ``photo_id`` is another (about to be shown instead), else ""."""
        pid = self.current_id
        if pid is None or photo_id == pid:
            return ""
        return self.items[pid].photo.relpath if pid in self.items else f"photo {pid}"

    def _say_box_dropped(self, name: str, drawing: bool = False) -> None:
        """The status bar says a drawn box without a number was dropped on leaving its photo (or, ``drawing``, that
        the box being drawn there was cancelled; both used to go without a word). It names the photo (the message
        stays up over the next one) and is kept as the last such note, which a rebuild's own message about the photo
        shown adds to (:meth:`rebuild_queue`)."""
        draw = self._first_key("draw_box", "Edit > Draw Box")
        if drawing:
            self._box_dropped_note = f"Cancelled the box you were drawing on {name}: it was not taken ({draw} there draws it again)"
        else:
            self._box_dropped_note = f"Dropped the box you drew on {name}: it had no number ({draw} there draws it again)"
        self.statusBar().showMessage(self._box_dropped_note, 15000)

    def _settle_heap_soon(self, full: bool = True) -> None:
        """gui/heap.settle once the event that made new snapshots is done (a burst of them pays once)."""
        self._heap_full |= full
        self._heap_timer.start()

    def _settle_heap(self) -> None:
        full, self._heap_full = self._heap_full, False
        heap.settle(full=full)

    def _neighbours(self, photo_id: int) -> list[Path]:
        """The files of the list's next and previous photo (those a J, K or Enter most likely shows next), for the
        view to decode ahead (gui/look_ahead.py); none for photos that could not be read."""
        row, model = self.list_model.row_of(photo_id), self.list_model
        if row is None or self.folder is None:
            return []
        rows = [r for r in (row + 1, row - 1) if 0 <= r < model.total()]
        return [self.folder / model.item(r).photo.relpath for r in rows if not model.item(r).photo.error]

    def _extending_selection(self) -> bool:
        """Shift+Up/Down in the list is building a selection of several photos: the list keeps the focus
        so the next Shift+Down extends it (review keys are window shortcuts: they work from the list too)."""
        return self.list_view.hasFocus() and len(self.list_view.selectionModel().selectedRows()) > 1

    def _default_bib(self) -> int | None:
        """The bib selected when a photo is shown: the least confident one (what most needs a look)."""
        if not self.current_bibs:
            return None
        return min(self.current_bibs, key=lambda b: (b.confidence if b.confidence is not None else 2.0, b.id)).id

    def _show_bibs(self, item: ReviewItem | None = None) -> None:
        item = item or self.items.get(self.current_id) if self.current_id is not None else None
        self.photo_view.set_bibs(self.current_bibs, self.selected_bib)
        self.panel.show_item(item, self.current_bibs, self.selected_bib)

    def refresh_photo(self, photo_id: int, select_bib: int | None = None, item: ReviewItem | None = None) -> None:
        """Re-read one photo from the store into the list (and the view when it is current); ``item``: already read."""
        try:
            item = item if item is not None else review.item_for(self.store, photo_id)
        except KeyError:
            return
        if item.photo.missing:  # gone from disk (e.g. a number typed on it was saved as it went): like a
            self.items.pop(photo_id, None)  # reload, :attr:`items` holds only photos on disk
            return
        self.items[photo_id] = item
        self.list_model.update_item(item)
        if photo_id == self.current_id:
            self.current_bibs = list(item.bibs)
            ids = {b.id for b in self.current_bibs}
            if select_bib in ids:
                self.selected_bib = select_bib
            elif self.selected_bib not in ids:
                self.selected_bib = self._default_bib()
            self._show_bibs(item)
        if not self._counts_timer.isActive():
            self._counts_timer.start()

    def _store_changed(self, photo_id: int, bib_id: int | None) -> None:
        """Called by every undo command after it wrote to the store."""
        if photo_id != self.current_id and not self.select_photo(photo_id):  # undo/redo shows the photo it changes
            self.reveal_photo(photo_id)
        self.refresh_photo(photo_id, bib_id)
        self._update_counts()

    def reveal_photo(self, photo_id: int, why: str = "Undo/redo changed") -> bool:
        """Select a photo, clearing the search and then the filter when they hide it (the status bar says
        so: "<why> NAME: showing it (cleared …)"); False when the photo is not in the folder."""
        if self.select_photo(photo_id):
            return True
        cleared = []
        if self.search_edit.text():
            cleared.append(f"search {self.search_edit.text()!r}")
            self.search_edit.clear()  # rebuilds the queue
        if self.list_model.row_of(photo_id) is None and self.filter is not ReviewFilter.ALL:
            cleared.append(f"filter {self.filter.label!r}")
            self.set_filter(ReviewFilter.ALL)
        shown = self.select_photo(photo_id)
        if shown and cleared:
            name = self.items[photo_id].photo.relpath if photo_id in self.items else f"photo {photo_id}"
            self.say_of_photo(f"{why} {name}: showing it (cleared the {' and the '.join(cleared)})", 10000)
        return shown

    def _bib_clicked(self, bib_id: int) -> None:
        """A click on a bib's box in the photo view or on its row in the bib panel: select it (a typed number is
        committed first, a drawn box with it). A drawn box waiting for its number stays, as Tab keeps it: the click
        selects nothing and the status bar says to type its number (the click dropped the box without a word)."""
        if bib_id != self.selected_bib and self._box_waits_for_number():
            self.panel.set_selected(self.selected_bib)  # the panel's row shows the selection that stays
            return
        if self._has_typed_number():
            if not self._commit_to_move_on():  # not saved: the bib being retyped stays selected, its number in the field
                self.panel.set_selected(self.selected_bib)
                return
        self.select_bib(bib_id)

    def _bib_double_clicked(self, bib_id: int) -> None:
        """A double click on a bib's box: select it and edit its number (F2: the field, its text selected), as a
        double click on its row in the bib panel. It did nothing more than a click."""
        self._bib_clicked(bib_id)
        if self.selected_bib == bib_id and not self.drawn_box_waits():
            self.edit_number()

    def _photo_menu(self, bib_id: int | None, where: QPoint) -> QMenu:
        """The photo view's context menu (a right click did nothing): the box under the mouse is selected first (as
        a click selects it), then the window's own actions, with their keys: Edit Number, Delete Bib, Zoom to Bib;
        Draw Box, Cancel Typing/Drawing; Fit Photo, Zoom In/Out; Accept Photo. Each guards itself as from its key."""
        if bib_id is not None and bib_id != self.selected_bib:
            self._bib_clicked(bib_id)
        menu = getattr(self, "photo_menu", None)
        if menu is None:
            menu = self.photo_menu = QMenu(self.photo_view)
            menu.setObjectName("photoMenu")
            for group in (("edit_number", "delete_bib", "zoom_bib"), ("draw_box", "cancel"),
                          ("fit", "zoom_in", "zoom_out"), ("accept_photo",)):  # fmt: skip
                if menu.actions():
                    menu.addSeparator()
                for name in group:
                    menu.addAction(self.actions_by_name[name])
        menu.popup(where)
        return menu

    def select_bib(self, bib_id: int | None) -> None:
        self._commit_entry()
        self.selected_bib = bib_id
        self.photo_view.set_bibs(self.current_bibs, bib_id)
        self.panel.set_selected(bib_id)

    def step_bib(self, delta: int) -> None:
        if self._box_waits_for_number():  # Tab dropped a drawn box without a word, as J/K did
            return
        if not self._commit_to_move_on():
            return
        if not self.current_bibs:
            return
        ids = [b.id for b in self.current_bibs]
        i = ids.index(self.selected_bib) if self.selected_bib in ids else -delta if delta > 0 else 0
        self.select_bib(ids[(i + delta) % len(ids)])
        self.photo_view.setFocus()

    def selected_row(self) -> Any:
        return next((b for b in self.current_bibs if b.id == self.selected_bib), None)

    def zoom_to_bib(self) -> None:
        row = self.selected_row()
        if row is not None:
            self.photo_view.zoom_to_box(row.box)

    # ------------------------------------------------------------------ typing numbers
    @property
    def _entry(self) -> dict[str, Any] | None:
        """The number being typed ({"kind": "edit"|"new", ...}), None when none."""
        return getattr(self, "_entry_state", None)

    @_entry.setter
    def _entry(self, entry: dict[str, Any] | None) -> None:
        # one rule for every refresh (recognition, another program's change, an edit): while an entry is
        # open the panel leaves the typed text alone, with or without the field's focus
        self._entry_state = entry
        panel = getattr(self, "panel", None)
        if panel is not None:
            panel.typing = entry is not None

    def _say(self, message: str) -> None:
        """A key that cannot act says why in the status bar (it must never just do nothing): of the photo shown."""
        self.say_of_photo(message, 5000)

    def say_of_photo(self, message: str, ms: int = 5000) -> None:
        """A status-bar message about the photo shown ("This photo has no bib to delete", "Back at …", "Undid Delete
        bib 12"): it goes when another photo is shown (J/K, a click, Enter's next photo), where it would speak of the
        one before; a later message (a job's) is left alone. Messages about the folder or a job use showMessage and
        their timeout; one that names its photo may outlive it (docs/gui.md#status-bar-messages)."""
        self.statusBar().showMessage(message, ms)
        self._photo_message = (self.current_id, message)

    def _drop_photo_message(self) -> None:
        """Another photo is shown: the status bar's message about the photo before goes (:meth:`say_of_photo`)."""
        said, self._photo_message = getattr(self, "_photo_message", None), None
        if said is None:
            return
        if said[0] == self.current_id:
            self._photo_message = said
        elif self.statusBar().currentMessage() == said[1]:
            self.statusBar().clearMessage()

    def _no_photo_shown(self) -> bool:
        """True (and the status bar says why) when no photo is shown for a key to act on."""
        if self.current_id is not None:
            return False
        if self.store is None:
            self._say(f"No photo: no folder is open ({self.keymap.text('open_folder') or 'File > Open Folder'})")
        elif self.search_edit.text().strip():
            self._say(f"No photo shown: no photo has bib {self.search_edit.text().strip()!r} "
                      f"(Escape in the search box clears it)")  # fmt: skip
        elif self.filter is not ReviewFilter.ALL:
            self._say(f"No photo shown: the filter {self.filter.label!r} leaves none (Review > Filter)")
        else:
            self._say("No photo shown")
        return True

    def type_digit(self, digit: str) -> None:
        """A digit typed outside a text field: start retyping the selected bib's number."""
        if self._no_photo_shown():
            return
        self._begin_entry()
        self._entry["text_keys"] = False  # see _moves_on_from_digits
        self.number_edit.setText(digit)
        self.number_edit.setFocus()

    def _moves_on_from_digits(self, event: Any) -> bool:
        """A key pressed in the number field that goes to the window's next/previous photo or accept instead (it
        commits the number; next/previous then move on): the number was begun by a digit typed from the photo, or is
        a drawn box's, and holds digits only (or nothing yet). An accept key the key map binds to a letter ("A")
        typed "12a" there too. A line edit took Right/Left as cursor keys and J/K (or a letter the key map binds) as text, so
        "123" then J gave "123j" where the flow says J commits and moves on. After F2 (letters: ``A123``) or a click
        in the field they stay the field's keys."""
        entry = self._entry
        text = self.number_edit.text().strip()
        if entry is None or entry.get("text_keys", True) or not (text.isdigit() or text == ""):
            return False
        pressed = QKeySequence(event.keyCombination())
        return any(pressed == seq for action in MOVE_ON_KEYS for seq in self.keymap.sequences(action))

    def edit_number(self) -> None:
        if self._no_photo_shown():
            return
        self._begin_entry()
        self._entry["text_keys"] = True  # F2: letters and cursor keys are the field's
        self.number_edit.setFocus()
        self.number_edit.selectAll()

    def _number_field_focused(self) -> None:
        if self._entry is None and self.current_id is not None:
            self._begin_entry()

    def _number_field_left(self, reason: int) -> None:
        """The focus left the number field within the window (Tab with ``next_bib`` bound elsewhere, a
        click): an entry with nothing typed closes, so it blocks no key (Alt+arrows); a typed number stays
        until it is committed or dropped. Another window or a menu taking the focus closes nothing."""
        if reason in (Qt.FocusReason.ActiveWindowFocusReason.value, Qt.FocusReason.PopupFocusReason.value):
            return
        if self._entry_blank():
            self._close_blank_entry()

    def _entry_blank(self) -> bool:
        """An entry is open with nothing typed (the field shows what it showed when the entry began, or
        nothing) and no drawn box waiting for its number: committing it would change nothing."""
        entry = self._entry
        if entry is None or entry.get("box") is not None:
            return False
        return self.number_edit.text().strip() in ("", entry.get("start", ""))

    def _close_blank_entry(self) -> None:
        """Close a blank entry (see :meth:`_entry_blank`) without touching drawing or the focus: the field
        shows the selected bib's number again (:meth:`_end_entry` also ends drawing)."""
        self._entry = None
        self.panel.set_hint(HINT_IDLE)
        row = self.selected_row()
        self.number_edit.setText(row.number if row is not None else "")

    def _begin_entry(self) -> None:
        if self._entry is not None:
            return
        start = self.number_edit.text().strip()  # what the field shows before any typing
        if self._pending_box is not None:
            self._entry = {"kind": "new", "box": self._pending_box}
            self.panel.set_hint(HINT_NEW_BOX)
            self.number_edit.clear()
        elif self.selected_bib is not None:
            row = self.selected_row()
            self._entry = {"kind": "edit", "bib": self.selected_bib, "old_box": row.box if row is not None else None}
        else:
            self._entry = {"kind": "new", "box": None}  # a photo without bibs: a bib without box
            self.panel.set_hint(HINT_NO_BOX)
        self._entry["start"] = start
        self._entry["had"] = frozenset(b.id for b in self.current_bibs)  # to tell bibs that arrive while typing

    def _end_entry(self) -> None:
        self._entry = None
        self._pending_box = None
        if self.photo_view.drawing:
            self.photo_view.stop_drawing()
        self._close_blank_entry()
        said, self._instruction = getattr(self, "_instruction", None), None
        if said is not None and self.statusBar().currentMessage() == said:
            self.statusBar().clearMessage()

    def _typed(self) -> str:
        """The number field's text as a bib number (``core.bib.given_number``, the rule an import follows too:
        spaces dropped, "12 34" is 1234), or "" when it holds none."""
        try:
            return given_number(self.number_edit.text())
        except ValueError:
            return ""

    def _commit_entry(self, keep_on_failure: bool = False, moving: bool = False) -> bool:
        """Turn the typed number into an undoable edit; True when something was committed. ``keep_on_failure``
        (Enter, and with ``moving`` the keys and clicks that move on: J/K, Tab, a click on a bib or in the list): a
        number that could not be saved (a full disk, the project locked by another program, its bib changed
        meanwhile) stays in the field, so Enter saves it once the cause is gone, and the caller does not move on
        (it checks :meth:`_typing_kept`); it used to be dropped, the field showing the stored number again (the move
        going on, the number only named in the message). Where the window must leave the photo (a filter, search or
        F5 that takes it out of the list, closing the folder) the message says the number is not saved, on which
        photo, and to type it there again."""
        entry, text, typed, failures = self._entry, self._typed(), self.number_edit.text(), self._failures
        photo_id = self.current_id
        if entry is None or self.current_id is None:
            return False
        if self._entry_blank():  # nothing typed: the field still shows the number it began with, which a
            text = ""  # re-run or another program may have replaced since; it is no edit of the user's
        had_focus = self.number_edit.hasFocus()
        self._entry = None
        done = False
        if entry["kind"] == "edit":
            row = next((b for b in self.current_bibs if b.id == entry["bib"]), None)
            if row is not None and text and text != row.number:
                done = self.push_edit(EditBibCommand(self.ctx, self.current_id, row, text))
            elif row is None and text:  # its bib went while typing (a re-run replaced the predictions)
                done = self._commit_on_changed_photo(entry, text, entry.get("old_box"))
        elif text and entry["box"] is None and any(b.id not in entry.get("had", ()) for b in self.current_bibs):
            done = self._commit_on_changed_photo(entry, text, None)  # recognition found bibs while typing
        elif text:
            done = self.push_edit(AddBibCommand(self.ctx, self.current_id, text, entry["box"]))
        failed = not done and self._failures != failures  # not the very number saved meanwhile (SavedMeanwhile)
        if keep_on_failure and failed and self.current_id is not None:
            self._entry = entry  # the failure's message says why; the number waits in the field for Enter
            self.number_edit.setText(typed)
            self.number_edit.setFocus()
            then = f" ({self._first_key('cancel', 'Escape')} drops it, to move on without it)" if moving else ""
            self.statusBar().showMessage(f"{self.statusBar().currentMessage()}. The number {text} stays in the field: "
                                         f"{self._first_key('accept_photo', 'Return')} saves it{then}", 30000)  # fmt: skip
            return False
        if failed and text and photo_id is not None:  # leaving the photo whatever happens: the message keeps the number
            name = self.items[photo_id].photo.relpath if photo_id in self.items else f"photo {photo_id}"
            self.statusBar().showMessage(f"{self.statusBar().currentMessage()}. The number {text} typed on {name} is "
                                         f"not saved: type it again on {name}", 60000)  # fmt: skip
        self._end_entry()
        if had_focus:
            self.photo_view.setFocus()
        return done

    def _commit_to_move_on(self) -> bool:
        """A key or click that moves on (J/K, Tab, B, Ctrl+F/L, a click on a bib or in the list, a box drag) commits
        the typed number first (:meth:`_commit_entry` with ``keep_on_failure`` and ``moving``); False when it could not
        be saved and waits in the field (:meth:`_typing_kept`): the caller must not move on."""
        self._commit_entry(keep_on_failure=True, moving=True)
        return not self._typing_kept()

    def _typing_kept(self) -> bool:
        """After :meth:`_commit_entry` (``keep_on_failure``): True when the typed number could not be saved and waits
        in the field (the entry stays open only then), so the key or click that committed it must not move on."""
        return self._entry is not None

    def _has_typed_number(self) -> bool:
        """A number is typed and not committed yet (not a blank entry, nor a drawn box still without its number)."""
        return self._entry is not None and bool(self._typed()) and not self._entry_blank()

    def typed_number(self) -> tuple[str, str, Any] | None:
        """The number being typed and not yet committed: (its photo's relpath, the number, the box it goes with: the
        retyped bib's or the drawn one), else None. For a reload from another project file (LiveUpdates), which
        writes it there too (:meth:`carry_typed_number`)."""
        entry, text = self._entry, self._typed()
        if entry is None or self.current_id is None or self.store is None or not text or self._entry_blank():
            return None
        if entry["kind"] == "edit":
            row = next((b for b in self.current_bibs if b.id == entry["bib"]), None)
            box = row.box if row is not None else entry.get("old_box")
        else:
            box = entry.get("box")
        return self.store.photo(self.current_id).relpath, text, box

    def unfinished_box(self) -> tuple[str, str, Any] | None:
        """A box being drawn ("drawing", the photo's relpath, the box placed so far or None) or a drawn box waiting
        for its number, none typed ("drawn", relpath, box), else None. For a reload from another project file (LiveUpdates), which closes the
        folder (that ended either without a word): :meth:`carry_unfinished_box` puts it back."""
        if self.current_id is None or self.store is None:
            return None
        if self.drawn_box_waits():
            return "drawn", self.store.photo(self.current_id).relpath, self._entry["box"]
        if self.photo_view.drawing:
            return "drawing", self.store.photo(self.current_id).relpath, self.photo_view.box_being_drawn()
        return None

    def carry_unfinished_box(self, unfinished: tuple[str, str, Any]) -> str:
        """Put a box being drawn or waiting for its number on the project file this window had before a reload
        (:meth:`unfinished_box`) back on its photo in the open store: the photo is shown, drawing goes on or the box
        waits for its number again. Returns what the status bar says of it."""
        kind, relpath, box = unfinished
        photo = self.store.photo_by_path(relpath) if self.store is not None else None
        what = "the box you drew" if kind == "drawn" else "the box you were drawing"
        if photo is None or not self.reveal_photo(photo.id, "Reloaded"):
            draw = self._first_key("draw_box", "Edit > Draw Box")
            return f"{what} on {relpath} was dropped: the photo is not in the new file ({draw} draws it again there)"
        if kind == "drawn":
            self._box_drawn(box)
            return f"{what} on {relpath} waits for its number: type it, then {self._first_key('accept_photo', 'Return')}"
        self.start_drawing()
        if box is not None:  # the box placed so far (it went with the closed folder: drawing began from nothing)
            self.photo_view.place_box_being_drawn(box)
        return f"{what} on {relpath}: drawing goes on (Enter takes the box, Escape cancels it)"

    def carry_typed_number(self, typed: tuple[str, str, Any]) -> str:
        """Write a number typed on the project file this window had before a reload (:meth:`typed_number`) to the
        open store, as an undoable edit: a bib with that number there already is left as it is, a bib in its place
        (IoU >= 0.5) gets it, else it is added (with its box). Returns what the status bar says of it."""
        relpath, text, box = typed
        photo = self.store.photo_by_path(relpath) if self.store is not None else None
        if photo is None:
            return f"the number {text} you were typing on {relpath} is not saved here: the photo is not in the new file yet"
        bibs = self.store.bibs(photo.id)
        if any(b.number == text for b in bibs):
            return f"the number {text} you were typing on {relpath} is in the new file already"
        over = max(bibs, key=lambda b: iou(box, b.box), default=None) if box is not None else None
        if over is not None and iou(box, over.box) >= 0.5:
            command: StoreCommand = EditBibCommand(self.ctx, photo.id, over, text)
        else:
            command = AddBibCommand(self.ctx, photo.id, text, box)
        if not self.push_edit(command):
            return f"the number {text} you were typing on {relpath} could not be saved in the new file"
        return f"the number {text} you were typing on {relpath} was saved in the new file"

    def _commit_on_changed_photo(self, entry: dict[str, Any], text: str, box: Any) -> bool:
        """Commit a number typed while recognition changed its photo: bibs arrived on a photo that had none
        (``box`` None), or the bib being retyped was replaced (``box``: its box). The least surprising edit,
        and the status bar says which: a new bib with the typed number is confirmed (box kept, no
        duplicate); a new bib over the retyped bib's box (IoU >= 0.5, its new reading) gets the typed
        number; otherwise the number is added as a bib of its own (with the old box, if any) and the new
        readings stay beside it to be checked."""
        pid = self.current_id
        # the photo is named, not "this photo": a J/K/click commits the number on its way to the next photo, and
        # the message stays up there (docs/gui.md#status-bar-messages)
        name = self.items[pid].photo.relpath if pid in self.items else self.store.photo(pid).relpath
        arrived = [b for b in self.current_bibs if b.id not in entry.get("had", ())]
        found = ", ".join(b.number for b in arrived)
        same = next((b for b in arrived if b.number == text), None)
        over = max(arrived, key=lambda b: iou(box, b.box), default=None) if box is not None else None
        if same is not None:
            command: StoreCommand = EditBibCommand(self.ctx, pid, same, text)
            command.setText(f"Confirm bib {text}")
            said = f"Recognition found {text} on {name} while you typed: confirmed it (its box kept)"
        elif over is not None and iou(box, over.box) >= 0.5:
            command = EditBibCommand(self.ctx, pid, over, text)
            said = f"Recognition read this bib again on {name} ({over.number}) while you typed: it is now {text}"
        else:
            command = AddBibCommand(self.ctx, pid, text, box)
            what = "without a box" if box is None else "with the box of the bib you retyped"
            news = f"recognition found {found} on {name} while you typed" if found else "its bib was removed meanwhile"
            said = f"Added {text} to {name} {what}; {news} (kept: check them, {self.keymap.text('delete_bib') or 'Delete'} removes one)"
        done = self.push_edit(command)
        if done:
            self.statusBar().showMessage(said, 15000)
        return done

    def cancel_entry(self) -> None:
        if self.search_edit.hasFocus():
            self.search_edit.clear()
            self.photo_view.setFocus()
            # "No photo has bib '99'" must not stay up over the photo the cleared search shows again
            if self.statusBar().currentMessage() == getattr(self, "_search_message", None):
                self.statusBar().clearMessage()
            return
        self._end_entry()
        self.photo_view.setFocus()

    def enter_pressed(self) -> None:
        """Enter: commit a typed number; in the search box go to the results; else accept the photo."""
        if self.search_edit.hasFocus():
            self.search_entered()
            return
        if self._entry is not None or self.number_edit.hasFocus():
            if self._box_waits_for_number():
                return
            if self._commit_entry(keep_on_failure=True) or self._entry is None:
                self.photo_view.setFocus()
            return
        self.accept_photo()

    def accept_photo(self) -> None:
        """Mark the current photo reviewed (bibs human-confirmed) and go to the next unreviewed one."""
        if self._no_photo_shown() or self._drawing_under_way("accept the photo"):
            return
        row = self.current_row()
        item = self.items.get(self.current_id)
        if item is not None and item.photo.error:  # nothing to accept: on to the next photo, the flow goes on
            nxt = review.next_unreviewed(self.list_model.items, row if row is not None else -1)
            if nxt is not None:
                self.select_row(nxt)
            then = "; on to the next unreviewed photo" if nxt is not None else ""
            self.say_of_photo(f"Cannot accept a photo that could not be read ({item.photo.error}){then}", 5000)
            return
        # the bibs shown are what is accepted: another window's change not polled yet, or this window's recognition's
        # write whose photo_done is not handled yet, makes it fail (nothing written); the message says which
        ours = any(self.current_id in getattr(job, "written", ()) for job in self.jobs)
        by = {"by": "this window's recognition"} if ours else {}
        if not self.push_edit(AcceptPhotoCommand(self.ctx, self.current_id, self.current_bibs, **by)):
            if isinstance(self._last_failure, ChangedMeanwhile):  # the photo shows them now: the user looks first
                self.statusBar().showMessage(f"{self.statusBar().currentMessage()}: look, then "
                                             f"{self._first_key('accept_photo', 'Return')} accepts it", 30000)  # fmt: skip
            return
        nxt = review.next_unreviewed(self.list_model.items, row if row is not None else -1)
        if nxt is None:
            self.statusBar().showMessage(self._all_reviewed_note(), 8000)
        else:
            self.select_row(nxt)

    def _all_reviewed_note(self) -> str:
        """What Enter says when no photo of the list is left to accept: the unreadable ones Enter passed over
        (they cannot be accepted) are named, and where to find them."""
        unreadable = review.unreadable_unreviewed(self.list_model.items)
        if not unreadable:
            return "Every photo in this list is reviewed"
        return (f"Every readable photo in this list is reviewed; {unreadable} photo(s) could not be read and stay "
                f"unreviewed (Show: {ReviewFilter.UNREADABLE.label} lists them)")  # fmt: skip

    # ------------------------------------------------------------------ box edits
    def start_drawing(self) -> None:
        """Draw Box: draw a box (the mouse's drag, or the arrows); again while drawing, cancel it, as Escape (the button
        clicked again did nothing, the drawing went on). Not a box already placed with the arrows: B again (a slip, the
        key held a moment) threw it away, no undo bringing it back; it stays and the status bar says how to end it."""
        if self._no_photo_shown():
            return
        if self.photo_view.drawing and self.photo_view.box_being_drawn() is not None:
            accept, cancel = self._first_key("accept_photo", "Return"), self._first_key("cancel", "Escape")
            self.photo_view.setFocus()
            self.say_of_photo(f"A box is placed: {accept} takes it, {cancel} cancels it", 8000)
            return
        if self.photo_view.drawing:
            self._end_entry()
            self.photo_view.setFocus()
            self.say_of_photo("Cancelled the box you were drawing (nothing was saved; "
                              f"Draw Box ({self._first_key('draw_box', 'B')}) draws one)", 6000)  # fmt: skip
            return
        if not self._commit_to_move_on():  # not saved: no box is drawn, the number stays in its field (the message says why)
            return
        self.photo_view.start_drawing()
        self.photo_view.setFocus()  # its arrow keys draw the box without a mouse
        self._instruct("Drag a box around the bib (or arrows: move, Shift+arrows: size, Enter: take it), then type its number and press Enter")

    def _box_drawn(self, box: tuple) -> None:
        self._pending_box = box
        self._entry = None
        self._begin_entry()
        self._entry["text_keys"] = False  # its number typed, J/K commit it and move on (_moves_on_from_digits)
        self.number_edit.setFocus()
        # the drawing instructions ("Drag a box …") would stay up over the step that comes next
        self._instruct(f"Type the bib's number, then {self._first_key('accept_photo', 'Return')} "
                       f"({self._first_key('cancel', 'Escape')} drops the box)")  # fmt: skip

    def _draw_missed(self) -> None:
        """A click (a touchpad's tap) or a flat drag while drawing made no box: the drawing goes on and the status
        bar says to drag (the click ended the drawing without a word and "Drag a box …" stayed up)."""
        self._instruct(f"A click draws no box: drag from one corner of the bib to the other, then type its number "
                       f"({self._first_key('cancel', 'Escape')} cancels the box)")  # fmt: skip

    def _first_key(self, action: str, fallback: str) -> str:
        """The first key this user's key map binds to ``action`` (a message names one key), else ``fallback``."""
        return next(iter(self.keymap.keys.get(action) or []), fallback)

    def _instruct(self, message: str) -> None:
        """A status-bar instruction for a box being drawn or numbered: it goes when that is over (:meth:`_end_entry`),
        so "then type its number and press Enter" does not stay up over the bib just added."""
        self.say_of_photo(message, 8000)
        self._instruction = message

    def _keep_pixel_print(self, printed: tuple) -> None:
        """The view decoded the photo shown: its decoded-pixel print is kept where the store has none for that file
        (a store from before schema 4; Store.add_missing_pixel_print, docs/store.md). A failure only costs the print."""
        if self.store is None:
            return
        try:
            self.store.add_missing_pixel_print(*printed)
        except Exception as exc:  # locked, read-only, gone: the photo is shown all the same
            log.warning("keeping the pixel print of photo %s: %s", printed[0], exc)

    def _box_adjusted(self, bib_id: int, box: tuple) -> None:
        """A move/resize drag of the selected box ended: one undoable edit (a typed number first). A drawn box waiting
        for its number (none typed) stays waiting (committing dropped it without a word), and says so after the edit."""
        waits = self.drawn_box_waits()
        if not waits:
            if not self._commit_to_move_on():  # not saved: the box goes back where it was, the number stays in its field
                self.photo_view.set_bibs(self.current_bibs, self.selected_bib)
                return
        row = next((b for b in self.current_bibs if b.id == bib_id), None)
        if self.current_id is None:
            return
        if row is None:  # replaced while dragged (a re-run's new predictions, another program): say so
            self._say("The box was not moved: its bib was replaced (new predictions or another program) "
                      "while you dragged it; drag the new box")  # fmt: skip
            return
        keep = self.selected_bib  # Tab to another bib during the drag: that selection stays after the save
        saved = self.push_edit(AdjustBoxCommand(self.ctx, self.current_id, row, tuple(box)))
        if waits:
            self._box_waits_for_number()  # the drawn box still waits: its number goes in the field
        elif saved and keep != bib_id and any(b.id == keep for b in self.current_bibs):
            self.select_bib(keep)  # the save's refresh selected the dragged bib again

    def nudge_box(self, dx: int, dy: int, dw: int, dh: int) -> None:
        """Alt+arrows: move the selected box by a step (dx, dy); Alt+Shift+arrows: move its right/bottom
        edge (dw, dh). Not while typing a number, searching or drawing. A burst of nudges of one bib is
        one undo step (AdjustBoxCommand merges them)."""
        row = self.selected_row()
        if self._no_photo_shown() or not self._bib_to_act_on(row, "move"):
            return
        if row.box is None:
            self._say(f"Bib {row.number} has no box to move or size ({self.keymap.text('draw_box') or 'Draw Box'} draws one)")
            return
        if self._entry_blank() or (self._entry is None and self.number_edit.hasFocus()):
            # the number field has the focus with nothing typed (reached by Tab, F2): it blocks nothing
            self._close_blank_entry()
            if self.number_edit.hasFocus():
                self.photo_view.setFocus()
        if self._entry is not None:
            self._say(f"A number is being typed: {self.keymap.text('accept_photo') or 'Return'} commits it, "
                      f"{self.keymap.text('cancel') or 'Escape'} drops it; then move the box")  # fmt: skip
            return
        if self.photo_view.drawing:
            self._say("A new box is being drawn: Enter takes it, Escape cancels it; then move a box")
            return
        if self.search_edit.hasFocus():
            self._say("The search box has the keys: Enter or Escape leaves it")
            return
        photo = self.items[self.current_id].photo if self.current_id in self.items else self.store.photo(self.current_id)
        w, h = max(1, photo.width or 1), max(1, photo.height or 1)
        box = box_adjust.nudged(tuple(row.box), dx, dy, dw, dh, w, h)
        if box != box_adjust.rounded(tuple(row.box)):
            self.push_edit(AdjustBoxCommand(self.ctx, self.current_id, row, box, nudge=True))
        else:
            self._say(f"The box of bib {row.number} cannot go further: it is at the edge of the photo")

    def _bib_to_act_on(self, row: Any, verb: str) -> bool:
        """False (and the status bar says why) when no bib is selected to ``verb``."""
        if row is not None:
            return True
        if not self.current_bibs:
            self._say(f"This photo has no bib to {verb}")
        else:
            self._say(f"No bib is selected to {verb} ({self.keymap.text('next_bib') or 'Review > Next Bib'} selects one)")
        return False

    def delete_selected_bib(self) -> None:
        row = self.selected_row()
        if self._no_photo_shown() or self._drawing_under_way("delete a bib"):  # it deleted the selected bib and
            return  # ended the drawing without a word
        if self._entry is not None and self._entry.get("box") is not None:
            # Edit > Delete Bib while a drawn box waits for its number deleted the *selected* bib and dropped the
            # drawn box and its typed number without a word
            self._say(f"A box you drew waits for its number: {self._first_key('accept_photo', 'Return')} adds it, "
                      f"{self._first_key('cancel', 'Escape')} drops it; then delete a bib")  # fmt: skip
            self.number_edit.setFocus()
            return
        if not self._bib_to_act_on(row, "delete"):
            return
        self._end_entry()
        self.push_edit(DeleteBibCommand(self.ctx, self.current_id, row))

    def push_edit(self, command: StoreCommand) -> bool:
        """Write an edit, then put it on the undo stack; an edit that cannot be written (a bib another
        program changed meanwhile, a full disk) is reported and not pushed. True when it was saved."""
        try:
            command.apply()
        except SavedMeanwhile as exc:  # the number typed is saved already (by another): nothing lost, no "Not saved"
            self.statusBar().showMessage(str(exc), 15000)
            if self.store is not None and command.photo_id is not None:
                self.refresh_photo(command.photo_id)
            return False
        except Exception as exc:  # noqa: BLE001 - the store is unchanged: say so, show what is saved
            self._edit_failed(command.text(), command.photo_id, exc)
            return False
        command.applied = True  # the push's redo() must not write it again
        self.undo_stack.push(command)
        return True

    def _edit_failed(self, what: str, photo_id: int | None, exc: Exception) -> None:
        """An edit, undo or redo that could not be written: tell the user, show what the store holds."""
        import sqlite3

        from bibtagger_gui.core.store import busy_hint, full_hint

        if isinstance(exc, ChangedMeanwhile):
            why = str(exc)
        elif isinstance(exc, KeyError):
            why = BIB_CHANGED  # e.g. update_bib of a bib deleted meanwhile
        elif isinstance(exc, sqlite3.Error):  # a full disk, a lock held past the busy timeout: what to do about it
            why = f"{exc}{busy_hint(exc)}{full_hint(exc)}"
        else:
            why = f"{type(exc).__name__}: {exc}"
        self._failures += 1
        self._last_failure = exc
        self._error("Not saved", f"{what}: {why}")
        if self.store is not None and photo_id is not None:
            self.refresh_photo(photo_id)
            self._update_counts()

    def _unsaved_typing(self) -> str:
        """What is typed or drawn and not saved yet ("the number 12", "the box you drew"), else ""."""
        if self._entry is None or self._entry_blank():
            return ""
        text = self._typed()
        if text:
            return f"the number {text} you were typing"
        return "the box you drew" if self._entry.get("box") is not None else ""

    def undo(self) -> None:
        """Undo the last edit; a number being typed (or a drawn box waiting for its number; reached from the
        Edit menu or with the focus outside the number field) is the last thing done: it alone is taken back
        and the status bar says so. Undo used to drop it without a word *and* undo the saved edit before it,
        often on another photo. So is a box being drawn (B pressed, not taken yet): it is cancelled, nothing else."""
        unsaved, drawing = self._unsaved_typing(), self.photo_view.drawing
        self._end_entry()
        if unsaved or drawing:
            more = self.undo_stack.undoText()
            again = f"; {self._first_key('undo', 'Edit > Undo')} again undoes {more}" if more else ""
            what = "typing: dropped " + unsaved if unsaved else "drawing: cancelled the box you were drawing"
            self.say_of_photo(f"Undid {what} (nothing was saved){again}", 8000)
            self.photo_view.setFocus()
            return
        self._step_stack(self.undo_stack.undo, "Undid", self.undo_stack.undoText())

    def redo(self) -> None:
        """Redo; not while a number is typed (or a drawn box waits for its number): redoing would drop it, so the
        status bar says how to finish it first; nor while a box is being drawn (it ended the drawing unsaid)."""
        if self._drawing_under_way("redo"):
            return
        if self._unsaved_typing():
            accept, cancel = self._first_key("accept_photo", "Return"), self._first_key("cancel", "Escape")
            if self._typed():
                self._say(f"A number is being typed: {accept} commits it, {cancel} drops it; then redo")
            else:  # a drawn box, no number yet: Return alone only asks for it (_box_waits_for_number)
                self._say(f"A box you drew waits for its number: type it, then {accept}; {cancel} drops the box; then redo")
            return
        self._end_entry()
        self._step_stack(self.undo_stack.redo, "Redid", self.undo_stack.redoText())

    def drop_undo_history(self) -> None:
        """A change that is not undoable (an annotation import: many photos in one transaction) was
        written: the stack is emptied, so no older edit can be undone over the import's bibs (it would
        bring back rows the import replaced), and the title stays modified (the data changed). A drawn box waiting for
        its number stays waiting (it is no edit yet: its number typed after adds it; ending it dropped it unsaid)."""
        if not self.drawn_box_waits():
            self._end_entry()
        self.undo_stack.clear()
        self.undo_stack.resetClean()

    def _step_stack(self, step, verb: str = "", what: str = "") -> None:
        """Undo or redo; one that could not be written leaves the stack (obsolete) and the clean state:
        the store is not what it was at the checkpoint, so the title must not say it is. The status bar
        says what was undone or redone ("Undid Copy bibs from IMG_1.jpg") unless the step said more
        itself: a message about the edit ("…; Ctrl+Z undoes it") must not stay up as if nothing happened."""
        failures = self._failures
        before = self.statusBar().currentMessage()
        stack = self.undo_stack
        command = stack.command(stack.index() - 1 if verb == "Undid" else stack.index())
        step()
        if self._failures != failures:
            self.undo_stack.resetClean()
        elif what and self.statusBar().currentMessage() == before:
            if getattr(command, "photo_id", None) is not None and command.photo_id == self.current_id:
                self.say_of_photo(f"{verb} {what}", 5000)  # "Undid Delete bib 12": of the photo it shows
            else:
                self.statusBar().showMessage(f"{verb} {what}", 5000)

    def mark_checkpoint(self) -> None:
        """Ctrl+S: the title's modified marker starts again from here, and the status bar says why nothing else
        happens (a volunteer presses it out of habit and used to see nothing but the title's * go)."""
        self.undo_stack.setClean()
        self.statusBar().showMessage(
            "Checkpoint marked. Every edit is saved as you make it (there is no Save); the * in the title shows "
            "edits made after this point", 6000)  # fmt: skip

    def focus_search(self) -> None:
        if self._box_waits_for_number():  # it dropped the box without a word (the search then left the photo)
            return
        if not self._commit_to_move_on():  # a typed number is committed, as by Tab, J/K or a click; not saved: it
            return  # stays in its field, the search waits (never lost)
        self.search_edit.setFocus(Qt.FocusReason.ShortcutFocusReason)
        self.search_edit.selectAll()

    def search_entered(self) -> None:
        """Enter in the search box: show the first match and give the photo the keys (the search stays);
        with no match the search box keeps the focus and the status bar says so."""
        text = self.search_edit.text().strip()
        if text and self.store is not None and self.list_model.total() == 0:
            self._search_message = f"No photo has bib {text!r}; {self._first_key('cancel', 'Escape')} clears the search"
            self.statusBar().showMessage(self._search_message, 5000)
            return
        if text:
            self.select_row(0)
        self.photo_view.setFocus()

    def focus_list(self) -> None:
        """Give the photo list the keys (Up/Down, Shift+Up/Down to select several photos; Escape leaves)."""
        if self._box_waits_for_number():  # as J/K: a drawn box waits for its number
            return
        if not self._commit_to_move_on():  # not saved: it stays in its field, the list waits
            return
        self.list_view.setFocus(Qt.FocusReason.ShortcutFocusReason)
        if self.list_model.total() == 0:
            self.statusBar().showMessage("The photo list is empty", 4000)

    # ------------------------------------------------------------------ misc
    def _update_counts(self) -> None:
        if self.store is None:
            self.counts_label.setText("no folder open")
            return
        # the snapshots' counts: every edit, scan and recognition result refreshes its photo's snapshot, and a
        # store query per edit took 4-8 ms of a key press over 10,000 photos (docs/bursts.md#cost)
        c = self.items.counts()
        self.counts_label.setText(f"{c.photos} photos · {c.tagged} tagged · {c.reviewed} reviewed · {c.errors} errors")

    def _error(self, title: str, message: str) -> None:
        log.warning("%s: %s", title, message)
        self.statusBar().showMessage(f"{title}: {message}", 15000)
        if QApplication.platformName() not in ("offscreen", "minimal") and self.isVisible():
            QMessageBox.warning(self, title, message)

    def showEvent(self, event) -> None:
        super().showEvent(event)
        if getattr(self, "side_buttons", None) is None and self.windowHandle() is not None:
            self.side_buttons = SideButtons(self)  # the mouse's Back/Forward: its native window exists once shown

    def closeEvent(self, event) -> None:
        finetune = getattr(self, "finetune_controller", None)
        if finetune is not None and not finetune.may_leave("close the window"):  # the user keeps it running
            event.ignore()
            return
        for name in ("keywords_controller", "export_controller"):  # running writes finish or cancel cleanly
            controller = getattr(self, name, None)
            if controller is not None:
                controller.stop()  # (a QThread destroyed while running aborts the app)
        self.close_folder()
        self.thumbnails.pool.clear()
        self.thumbnails.pool.wait_for_done(2)
        self.photo_view.stop_workers(2)  # its preview's decode and its full-resolution detail's
        info = getattr(self, "model_info_dialog", None)
        if info is not None:  # Help > Model Information reading the models in its worker
            info.pool.clear()
            info.pool.wait_for_done(5)
        self.job_pool.wait_for_done(10)
        super().closeEvent(event)
