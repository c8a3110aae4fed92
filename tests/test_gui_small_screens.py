"""Small screens (docs/gui.md#small-screens): 1366x768 and 1280x720 laptops, 1920x1080 at 150 % and 200 %.

Every window's minimum size fits the smallest supported screen (960x540 logical pixels, less a title bar
and a taskbar); every window opens no larger than the screen it is on; long names are elided, not let
to push what matters out of sight; the status bar gives way by eliding the models' label; the photo
cannot be collapsed. The expectations come from the widgets' own size hints and the screen's geometry.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from PySide6.QtCore import QSize, Qt
from PySide6.QtWidgets import QApplication, QStatusBar, QStyleOptionProgressBar

from bibtagger_gui.core import mturk
from bibtagger_gui.gui import screen_fit
from tests.test_gui_mturk import project  # noqa: F401 (fixture)
from tests.test_gui_support import gui_env, make_window  # noqa: F401 (fixtures)
from tests.test_mturk import answer, photo, row, write_csv

REPO = Path(__file__).resolve().parents[1]
LONG = "Zieleinlauf_Überlingen_" + "長い名前_Фотографии_" * 6 + "0001.jpg"  # no space: cannot wrap at a word


@pytest.fixture(autouse=True)
def _store_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("BIBTAGGER_STORE_DIR", str(tmp_path / "stores"))


def _mturk_dialog(qtbot, tmp_path, name: str = "two.jpg"):
    from bibtagger_gui.core.store import Store
    from bibtagger_gui.gui.mturk_dialog import MTurkReviewDialog

    folder = tmp_path / "photos"
    photo(folder / name, 400, 300)
    photo(folder / "b.jpg", 400, 300)
    rows = [row("A1", name, answer((100, 100, 50, 30, "12")), worker="W1"), row("A2", "b.jpg", answer((10, 10, 50, 30, "7")), worker="W2")]
    store = Store.open(folder)
    store.scan()
    batch = mturk.read_batch(write_csv(tmp_path / "batch.csv", rows))
    dialog = MTurkReviewDialog(batch, mturk.match_photos(batch, store), mturk.VerdictStore.open(store), store)
    qtbot.addWidget(dialog)
    return dialog, store


def _conflicts_dialog(win, tmp_path):
    from bibtagger_gui.gui import import_action

    f = import_action.FileImport(tmp_path / ("volunteer_" + "ö" * 60 + ".json"), [])
    why = "reviewed here with 100, 200; the file has 101"
    return import_action.ConflictsDialog(win.import_controller, [import_action.Conflict(f, LONG, why, None, LONG)])


def _every_window(qtbot, make_window, tmp_path):
    """(name, widget) for the main window and every dialog it opens, made as the app makes them."""
    from bibtagger_gui.gui import export_action, help_dialogs
    from bibtagger_gui.gui.error_report import ErrorDialog

    win = make_window()
    out = [("main window", win)]
    out += [("Keyboard Shortcuts", help_dialogs.ShortcutsDialog(win.keymap, win)), ("About", help_dialogs.AboutDialog(win)),
            ("Model Information", help_dialogs.ModelInfoDialog(None, win))]  # fmt: skip
    log = tmp_path / LONG / "bibtagger.log"
    out.append(("error", ErrorDialog(f"FileNotFoundError: '{tmp_path / LONG}'", "Traceback\n" * 40, log, None, "", win)))
    for spec in export_action.SPECS:
        out.append((f"export {spec.fmt}", export_action.ExportDialog(spec, tmp_path / LONG, None, win, shown=["a"], selected=[])))
    out.append(("import conflicts", _conflicts_dialog(win, tmp_path)))
    dialog, store = _mturk_dialog(qtbot, tmp_path, LONG)
    out.append(("MTurk review", dialog))
    return out, store


def test_every_window_fits_the_smallest_supported_screen(qtbot, make_window, tmp_path):
    """A window whose minimum size is larger than the screen has buttons off screen, whatever it asks for:
    the MTurk review's one row of six buttons and its count line made it 1089 px wide, more than the 944 a
    1920x1080 screen at 200 % leaves."""
    room = screen_fit.room_on(screen_fit.smallest_screen())
    windows, store = _every_window(qtbot, make_window, tmp_path)
    try:
        too_big = {}
        for name, w in windows:
            w.show()
            QApplication.processEvents()
            need = w.minimumSizeHint().expandedTo(w.minimumSize())
            if need.width() > room.width() or need.height() > room.height():
                too_big[name] = (need.width(), need.height())
        assert too_big == {}, f"larger than {room.width()}x{room.height()}: {too_big}"
    finally:
        store.close()


def test_windows_open_no_larger_than_their_screen(qtbot, make_window, tmp_path):
    """Each window asks for a comfortable size (the main window 1400x900, the MTurk review 1300x800, the
    shortcuts 820x640): on a smaller screen it used to open larger than the screen (Close off screen)."""
    windows, store = _every_window(qtbot, make_window, tmp_path)
    try:
        win = windows[0][1]
        screen = win.screen().availableGeometry().size()
        asked = {"main window": QSize(1400, 900), "MTurk review": QSize(1300, 800), "Keyboard Shortcuts": QSize(820, 640)}
        # the check means something only on a screen smaller than what they ask for (offscreen: 800x800)
        assert all(a.width() > screen.width() or a.height() > screen.height() for a in asked.values()), screen
        win.fit_to_screen()  # what run_gui does before showing it
        for name, w in windows:
            w.show()
            QApplication.processEvents()
            frame = screen_fit.frame_extra(w)
            outer = QSize(w.width() + frame.width(), w.height() + frame.height())
            assert outer.width() <= screen.width() and outer.height() <= screen.height(), (name, outer, screen)
    finally:
        store.close()


def test_run_gui_fits_the_window_to_the_screen_and_the_photo_keeps_most_of_it(qtbot, gui_env, placeholder_models_dir):
    from types import SimpleNamespace

    from bibtagger_gui.gui import app as gui_app
    from bibtagger_gui.gui.main_window import PHOTO_MIN_WIDTH, SIDE_WIDTH, MainWindow

    made = []

    def make(models_dir=None):
        made.append(MainWindow(models_dir=models_dir, settings=gui_env))
        qtbot.addWidget(made[-1])
        return made[-1]

    fake_app = SimpleNamespace(exec=lambda: 0)  # the event loop is not entered
    assert gui_app._run_window(fake_app, make, SimpleNamespace(window=None), None, str(placeholder_models_dir), None) == 0
    win = made[0]
    QApplication.processEvents()
    avail = win.screen().availableGeometry()
    assert win.frameGeometry().width() <= avail.width() and win.frameGeometry().height() <= avail.height()
    sizes = win.centralWidget().sizes()
    quarter = win.centralWidget().width() // 4
    # the list and the panel give way down to a quarter of the window each (or their minimum), the photo keeps the rest
    assert sizes[0] <= max(min(SIDE_WIDTH, quarter), win.centralWidget().widget(0).minimumSizeHint().width())
    assert sizes[2] <= max(min(SIDE_WIDTH, quarter), win.centralWidget().widget(2).minimumSizeHint().width())
    assert sizes[1] >= max(PHOTO_MIN_WIDTH, sizes[0], sizes[2])
    win.close()


def test_the_photo_cannot_be_collapsed_by_its_splitter(qtbot, make_window):
    """Dragging a splitter handle over the photo used to collapse it to nothing (and the app remembered it)."""
    from bibtagger_gui.gui.main_window import PHOTO_MIN_WIDTH

    win = make_window()
    splitter = win.centralWidget()
    assert not splitter.isCollapsible(1)
    splitter.setSizes([splitter.width(), 0, 0])  # what a drag of the handle to the far right asks for
    QApplication.processEvents()
    assert win.photo_view.width() >= PHOTO_MIN_WIDTH
    splitter.restoreState(splitter.saveState())
    assert win.photo_view.width() >= PHOTO_MIN_WIDTH


def test_the_status_bar_keeps_counts_progress_and_cancel_whole_on_the_smallest_screen(qtbot, make_window):
    """During a job at 944 px (1920x1080 at 200 %), the models' label took its whole text and cut the
    progress bar and the temporary message; it now gives way with an ellipsis."""
    win = make_window()
    room = screen_fit.room_on(screen_fit.smallest_screen())
    win.resize(room)
    win.model_label.setText("models: det 20261124-e72-92798a-dyn · 3 readers int8 · calibrated")
    win.counts_label.setText("12345 photos · 11000 tagged · 5000 reviewed · 12 errors")
    win.progress.show()
    win.cancel_button.show()
    QApplication.processEvents()
    for w in (win.counts_label, win.progress, win.cancel_button):
        assert w.width() >= w.sizeHint().width(), (w, w.width(), w.sizeHint())
        assert w.mapTo(win, w.rect().topRight()).x() < win.width()
    shown = win.model_label.shown_text()
    assert shown != win.model_label.text() and "…" in shown  # elided, not cut mid-letter
    assert win.model_label.fontMetrics().horizontalAdvance(shown) <= win.model_label.contentsRect().width()
    # with room, it shows its whole text
    win.progress.hide()
    win.cancel_button.hide()
    win.resize(1400, 900)
    QApplication.processEvents()
    assert win.model_label.shown_text() == win.model_label.text()
    assert isinstance(win.model_label.parentWidget(), QStatusBar)


def test_long_names_are_elided_in_their_columns_not_pushing_the_others_out(qtbot, make_window, tmp_path):
    """A long photo or file name made its column as wide as the name: the conflicts list's "What differs"
    and the MTurk table's worker/status/verdict columns were out of sight."""
    from bibtagger_gui.gui.import_action import NAME_COLUMN_CHARS
    from bibtagger_gui.gui.mturk_dialog import PHOTO_COLUMN_CHARS

    win = make_window()
    conflicts = _conflicts_dialog(win, tmp_path)
    conflicts.show()
    QApplication.processEvents()
    tree, header = conflicts.tree, conflicts.tree.header()
    for col in (0, 1):
        assert tree.sizeHintForColumn(col) > header.sectionSize(col)  # the name is longer than its column...
        assert header.sectionSize(col) <= tree.fontMetrics().averageCharWidth() * NAME_COLUMN_CHARS
    assert header.sectionPosition(2) < tree.viewport().width()  # ...and "What differs" is in sight
    item = tree.topLevelItem(0)
    assert item.toolTip(0) == LONG and item.toolTip(1).endswith(".json")  # the whole names on hover
    assert tree.textElideMode() == Qt.TextElideMode.ElideMiddle  # the extension and number stay

    dialog, store = _mturk_dialog(qtbot, tmp_path, LONG)
    try:
        dialog.show()
        QApplication.processEvents()
        table, h = dialog.table, dialog.table.horizontalHeader()
        assert table.sizeHintForColumn(1) > h.sectionSize(1)
        assert h.sectionSize(1) <= table.fontMetrics().averageCharWidth() * PHOTO_COLUMN_CHARS
        assert h.sectionPosition(2) + h.sectionSize(2) <= table.viewport().width()  # the worker is in sight
        row_of_long = next(r for r in range(dialog.proxy.rowCount()) if dialog.proxy.index(r, 1).data() == LONG)
        assert dialog.proxy.index(row_of_long, 1).data(Qt.ItemDataRole.ToolTipRole).splitlines()[0] == LONG
    finally:
        store.close()


SCRIPT = textwrap.dedent(
    """
    import json, sys
    from types import SimpleNamespace
    from PySide6.QtCore import QSettings
    from PySide6.QtWidgets import QApplication
    from bibtagger_gui.gui import app as gui_app
    from bibtagger_gui.gui.main_window import MainWindow

    app = gui_app.make_app()
    made = []
    def make(models_dir=None):
        made.append(MainWindow(models_dir=models_dir, settings=QSettings(sys.argv[2], QSettings.Format.IniFormat)))
        return made[0]
    def shown():
        w = made[0]
        QApplication.processEvents()
        d = w.show_shortcuts()
        QApplication.processEvents()
        avail = w.screen().availableGeometry()
        out = {"avail": [avail.width(), avail.height()], "ratio": w.devicePixelRatioF()}
        for name, x in (("window", w), ("shortcuts", d)):
            f = x.frameGeometry()
            out[name] = [f.x(), f.y(), f.width(), f.height()]
        print(json.dumps(out))
        return 0
    sys.exit(gui_app._run_window(SimpleNamespace(exec=shown), make, SimpleNamespace(window=None), None, sys.argv[1], None))
    """
)


@pytest.mark.slow
def test_on_a_full_hd_screen_at_200_percent_the_window_opens_within_it(tmp_path, placeholder_models_dir):
    """The real case, in a fresh process: a 1920x1080 screen (the offscreen platform's config file) at
    QT_SCALE_FACTOR=2, i.e. 960x540 logical pixels; the main window and Help > Keyboard Shortcuts open
    inside it."""
    config = tmp_path / "screen.json"
    config.write_text(json.dumps({"screens": [{"name": "fhd", "x": 0, "y": 0, "width": 1920, "height": 1080,
                                               "logicalDpi": 96, "logicalBaseDpi": 96, "dpr": 1}]}))  # fmt: skip
    env = {**os.environ, "QT_QPA_PLATFORM": f"offscreen:configfile={config}", "QT_SCALE_FACTOR": "2",
           "XDG_CONFIG_HOME": str(tmp_path / "c"), "XDG_DATA_HOME": str(tmp_path / "d"),
           "BIBTAGGER_KEYMAP": str(tmp_path / "none.json"), "PYTHONPATH": str(REPO)}  # fmt: skip
    script = tmp_path / "open.py"
    script.write_text(SCRIPT)
    out = subprocess.run([sys.executable, str(script), str(placeholder_models_dir), str(tmp_path / "s.ini")],
                         env=env, capture_output=True, text=True, timeout=120)  # fmt: skip
    assert out.returncode == 0, out.stderr[-3000:]
    facts = json.loads(out.stdout.strip().splitlines()[-1])
    assert facts["ratio"] == 2.0 and facts["avail"] == [960, 540]
    aw, ah = facts["avail"]
    for name in ("window", "shortcuts"):
        x, y, w, h = facts[name]
        assert 0 <= x and 0 <= y and x + w <= aw and y + h <= ah, (name, facts)


def _finetune_dialogs(win, tmp_path):
    """Yields (name, widget) for every window Recognition > Improve Models from Reviewed Photos… opens, made by
    the controller as the app makes them (one at a time: each closes the one before), over a folder and a models
    folder with long names (paths in their text)."""
    from bibtagger_gui.core import finetune_run as fr
    from bibtagger_gui.core.store import Store
    from tests.test_gui_support import make_photos

    folder = tmp_path / LONG.replace(".jpg", "")
    made = make_photos(folder, 2)
    with Store.open(folder) as store:
        store.scan()
        p = store.photo_by_path(made[0][0])
        store.add_bib(p.id, made[0][1], made[0][2])
        store.set_reviewed(p.id, True)
    models = tmp_path / ("models_" + LONG.replace(".jpg", ""))
    models.mkdir()
    for f in win.models_dir.iterdir() if win.models_dir else ():
        if f.is_file():
            (models / f.name).write_bytes(f.read_bytes())
    (models / "reader.pt").write_bytes(b"a checkpoint")  # the start confirmation only checks that it is there
    assert win.load_models_dir(models, remember=False) and win.open_folder(folder)
    ctl = win.finetune_controller
    ctl.modules = ("no_such_module_for_bibtagger_" + "x" * 40,)
    yield "fine-tune unavailable", ctl.trigger()
    ctl.modules = fr.TRAIN_MODULES
    (models / "reader.pt").unlink()  # as the packaged app's bundled models (ONNX only): both notes are shown
    sys.frozen = True  # the packaged app (no source folder: the install command's placeholder, its note)
    try:
        dialog = ctl.trigger()
    finally:
        del sys.frozen
    assert dialog.notes is not None and fr.SOURCE_PLACEHOLDER in dialog.notes.text()
    yield "fine-tune unavailable, packaged app", dialog
    (models / "reader.pt").write_bytes(b"a checkpoint")
    dialog = ctl.trigger()
    assert "start" in dialog.buttons
    yield "fine-tune start", dialog
    result_folder = fr.output_folder(folder, data_dir=tmp_path / ("data_" + "ü" * 40))
    shutil.copytree(models, result_folder)  # Use These Models loads it
    ctl.result = fr.Result(result_folder, "reader-20261127-e3-92798a-ft-" + "f" * 40, 0.5, 0.25, 4, 8, 2,
                           "Detector kept: its fine-tune found fewer bibs on the held-out photos.", True, readers=3, int8=True,
                           compare_photos=2, start_score=fr.Score(1, 2, 3, 0.333, 0.25, 0.286),
                           new_score=fr.Score(2, 1, 2, 0.667, 0.5, 0.571))  # fmt: skip
    ctl._show_result(ctl.result)
    yield "fine-tune result", ctl.dialog
    ctl.dialog.press("use")  # the same dialog, its text and buttons after Use These Models
    yield "fine-tune result, models in use", ctl.dialog
    ctl.out = result_folder
    # the line finetune ends with, naming a file on Windows: no line break at "\\" (nor "_" or "."), one word
    last = ("fine-tuning failed (FileNotFoundError): [Errno 2] No such file or directory: 'C:\\Users\\anna.mueller\\"
            "OneDrive\\Bilder\\Laeufe\\2024\\Berlin_Marathon_Zieleinlauf\\Kamera_2_Fotografin_Anna_Mueller\\"
            "Originale_unbearbeitet\\.bibtagger\\project.db'")
    ctl.lines = ["Traceback (most recent call last):"] + [f'  File "{tmp_path / LONG}/training/finetune.py", line {i}'
                                                          for i in range(60)] + [last]  # fmt: skip
    ctl._failed(1)
    assert ctl.dialog.details.toPlainText().endswith(last) and "whole in the details" in ctl.dialog.text.text()
    yield "fine-tune failed", ctl.dialog
    ctl.photos = folder
    yield "stop question", ctl.stop_question(f"open {LONG}", can_keep=True)[0]


def test_every_finetune_dialog_fits_the_smallest_supported_screen(qtbot, make_window, tmp_path):
    """The fine-tune's dialogs came after this file's list of windows: each states paths (the photo folder,
    the models in use, the new folder) that no word wrap can break."""
    room = screen_fit.room_on(screen_fit.smallest_screen())
    win = make_window()
    too_big = {}
    for name, w in _finetune_dialogs(win, tmp_path):
        w.show()
        QApplication.processEvents()
        need = w.minimumSizeHint().expandedTo(w.minimumSize())
        if need.width() > room.width() or need.height() > room.height():
            too_big[name] = (need.width(), need.height())
        frame = screen_fit.frame_extra(w)
        screen = w.screen().availableGeometry().size()
        assert w.width() + frame.width() <= max(screen.width(), need.width() + frame.width()), name
    assert too_big == {}, f"larger than {room.width()}x{room.height()}: {too_big}"


def test_the_status_bar_keeps_both_jobs_whole_on_the_smallest_screen(qtbot, make_window):
    """A recognition and a fine-tune at once on 944 px (1920x1080 at 200 %): the counts, both progress bars,
    Cancel and Stop Improving each keep their size and stay inside the window; the models' label gives way."""
    from bibtagger_gui.core import finetune_run as fr

    win = make_window()
    ctl = win.finetune_controller
    room = screen_fit.room_on(screen_fit.smallest_screen())
    win.resize(room)
    win.model_label.setText("models: det 20261124-e72-92798a-dyn · 3 readers int8 · calibrated")
    win.counts_label.setText("12345 photos · 11000 tagged · 5000 reviewed · 12 errors")
    win.progress_label = "Recognizing"  # as a recognition of a 10,000-photo folder shows it
    win._show_progress_format()
    win.progress.setRange(0, 10000)
    win.progress.setValue(5000)
    win.progress.show()
    win.cancel_button.show()
    ctl._set_running(True)  # as start() shows them
    ctl._show_progress(fr.Progress("reader-2", 3, 120))
    QApplication.processEvents()
    for w in (win.counts_label, win.progress, win.cancel_button, ctl.progress, ctl.stop_button):
        assert w.isVisible() and w.width() >= w.sizeHint().width(), (w, w.width(), w.sizeHint())
        assert w.mapTo(win, w.rect().topRight()).x() < win.width(), w
    shown = win.model_label.shown_text()
    assert "…" in shown and win.model_label.fontMetrics().horizontalAdvance(shown) <= win.model_label.contentsRect().width()
    # each bar's text, as its style draws it, within the bar: "Improving models: comparing on held-out photos
    # 30/120" was cut at both ends, on a wide screen too
    for size in (room, QSize(1400, 900)):
        win.resize(size)
        for stage in (*fr.STAGE_LABELS, "reader-3", None):
            if stage is None:
                ctl.progress.set_texts("Stopping the fine-tune…", "Stopping…")
            else:
                ctl._show_progress(fr.Progress(stage, 30, 120))
            QApplication.processEvents()
            for bar in (win.progress, ctl.progress):
                option = QStyleOptionProgressBar()
                bar.initStyleOption(option)
                assert option.text == bar.text() and option.text and bar.fontMetrics().horizontalAdvance(option.text) <= bar.contentsRect().width() - 8, (
                    size, stage, option.text, bar.width())
            assert ctl.progress.toolTip().startswith("Improving models: ")  # the whole line on hover
        assert win.progress.text() == ("Recognizing 5000/10000" if size.width() > 1000 else "5000/10000")
    ctl._set_running(False)


def test_the_no_folder_card_with_try_demo_and_five_recent_folders_fits_the_smallest_screen(qtbot, make_window, gui_env, tmp_path):
    """The no-folder card (Open Folder…, Try Demo Photos, the drop line, five recent folders) in the photo view of
    a window on the smallest supported screen: every button whole, inside the card and the view."""
    recent = []
    for i in range(6):
        folder = tmp_path / f"{LONG[:40]}_{i}"
        folder.mkdir()
        recent.append(str(folder))
    gui_env.setValue("recent_folders", recent)
    win = make_window()
    win.resize(screen_fit.room_on(screen_fit.smallest_screen()))
    qtbot.waitUntil(lambda: "Try Demo Photos" in win.empty_state.text(), timeout=5000)
    card = win.empty_state
    card.place()
    QApplication.processEvents()
    viewport = win.photo_view.viewport().geometry()
    assert viewport.contains(card.geometry()), (viewport, card.geometry())
    buttons = card.visible_buttons()
    assert [b.text() for b in buttons[:2]] == ["Open Folder… (Ctrl+O)", "Try Demo Photos"] and len(buttons) == 7
    for b in buttons:
        assert card.rect().contains(b.geometry()), (b.text(), b.geometry(), card.rect())
        assert b.height() >= b.sizeHint().height(), (b.text(), b.height(), b.sizeHint())
    for b in buttons[:2]:  # their words whole (the recent folders' names are elided)
        assert b.fontMetrics().horizontalAdvance(b.text()) < b.contentsRect().width(), (b.text(), b.width())


def test_the_recent_folder_buttons_elide_their_text_to_their_own_width_on_every_screen(qtbot, make_window, gui_env, tmp_path):
    """A recent folder's name and parent are cut in their middle to the button's width, whatever the card's width
    (it used to be cut to a fixed 440 px, wider than the button on the smallest screen); the path is the tooltip."""
    recent = []
    for i in range(5):
        folder = tmp_path / f"{LONG[:30]}_{i}" / f"{LONG[:40]}_{i}"
        folder.mkdir(parents=True)
        recent.append(str(folder))
    gui_env.setValue("recent_folders", recent)
    win = make_window()
    qtbot.waitUntil(lambda: "Try Demo Photos" in win.empty_state.text(), timeout=5000)
    card = win.empty_state
    shown: dict[int, list[str]] = {}
    for width in (screen_fit.room_on(screen_fit.smallest_screen()).width(), 1366, 1920):
        win.resize(width, 700)
        QApplication.processEvents()
        card.place()
        QApplication.processEvents()
        buttons = card.visible_buttons()[2:]
        assert [b.toolTip() for b in buttons] == recent
        for b in buttons:
            assert card.rect().contains(b.geometry()), (width, b.geometry(), card.rect())
            # the button's own measure of the room its text needs (the style's margins around the label)
            assert b.sizeHint().width() <= b.width(), (width, b.text(), b.sizeHint(), b.width())
            assert "…" in b.text() and b.text() != b.full_text
        shown[width] = [b.text() for b in buttons]
    small, large = min(shown), max(shown)
    assert all(len(a) < len(b) for a, b in zip(shown[small], shown[large]))  # a wider card shows more of each path
