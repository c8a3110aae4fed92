"""The photo view's empty states (gui/empty_state.py, docs/gui.md#empty-states): what the window says with no
folder, an empty folder, a scan under way, a list filtered to nothing and a photo that failed to load; its
buttons (mouse and keys), recent folders, dropped folders."""

from __future__ import annotations

import threading

import pytest
from PySide6.QtCore import QMimeData, Qt, QUrl
from PySide6.QtWidgets import QApplication, QFileDialog

from bibtagger_gui.core.bib import Bib
from bibtagger_gui.core.review import ReviewFilter
from bibtagger_gui.gui import look
from tests.test_gui_a11y import dark_palette  # noqa: F401 - fixture
from tests.test_gui_support import desktop_drop, fixed_predictions, gui_env, make_photos, make_window, wait_idle  # noqa: F401


def shows(qtbot, win, *parts: str, timeout: int = 5000) -> str:
    """Wait until the card is shown with every part in its text (read from its labels and buttons)."""
    qtbot.waitUntil(lambda: all(p in win.empty_state.text() for p in parts), timeout=timeout)
    return win.empty_state.text()


def hidden(qtbot, win, timeout: int = 5000) -> None:
    qtbot.waitUntil(lambda: win.empty_state.isHidden() and win.empty_state.text() == "", timeout=timeout)


def shoot(folder, monkeypatch, n=3, base=700):
    make_photos(folder, n, seed=base)
    fixed_predictions(monkeypatch, {f"photo_{i:03d}.jpg": [Bib(str(base + i), (10, 10, 60, 40), 0.5)] for i in range(n)})
    return folder


def key(qtbot, k, mod=Qt.KeyboardModifier.NoModifier):
    qtbot.keyClick(QApplication.focusWidget() or QApplication.activeWindow(), k, mod)


# ---------------------------------------------------------------- no folder


def test_without_a_folder_the_view_says_what_to_do_and_its_button_opens_the_folder_dialog(qtbot, make_window, tmp_path, monkeypatch):
    folder = shoot(tmp_path / "race", monkeypatch)
    asked = []

    def dialog(*_a, **_k):
        asked.append(True)
        return str(folder)

    monkeypatch.setattr(QFileDialog, "getExistingDirectory", staticmethod(dialog))
    win = make_window()
    text = shows(qtbot, win, "Open Folder… (Ctrl+O)", "or drop a folder here")
    assert win.empty_state.state() == "no_folder" and "bib number" in text
    button = win.empty_state.buttons[0]
    assert button.isVisible() and button.focusPolicy() == Qt.FocusPolicy.StrongFocus
    # a first-time user's Enter opens the dialog: the button has the keys (not the window's accept_photo)
    qtbot.waitUntil(lambda: QApplication.focusWidget() is button, timeout=3000)
    key(qtbot, Qt.Key.Key_Return)
    assert asked == [True] and win.folder == folder.resolve()
    wait_idle(qtbot, win)
    hidden(qtbot, win)  # a photo is shown
    assert win.current_id is not None and QApplication.focusWidget() is win.photo_view
    win.close_folder()  # and back when the folder is closed
    shows(qtbot, win, "Open Folder…")
    assert win.empty_state.state() == "no_folder"
    # the mouse too
    asked.clear()
    qtbot.mouseClick(win.empty_state.buttons[0], Qt.MouseButton.LeftButton)
    assert asked == [True] and win.folder == folder.resolve()


def test_recent_folders_are_offered_and_one_opens_with_a_click_or_tab_and_enter(qtbot, make_window, gui_env, tmp_path, monkeypatch):
    a, b = shoot(tmp_path / "a", monkeypatch), shoot(tmp_path / "b", monkeypatch, base=800)
    gone = tmp_path / "gone"
    gui_env.setValue("recent_folders", [str(a), str(gone), str(b)])  # a vanished one is not offered
    win = make_window()
    text = shows(qtbot, win, "Recent folders", str(a), str(b))
    assert str(gone) not in text
    recent = [r for r in win.empty_state.recent if r.isVisible()]
    assert [r.toolTip() for r in recent] == [str(a), str(b)]
    assert recent[1].accessibleName() == "Open recent folder b" and "b" in recent[1].text()
    qtbot.mouseClick(recent[1], Qt.MouseButton.LeftButton)
    assert win.folder == b.resolve()
    wait_idle(qtbot, win)
    hidden(qtbot, win)
    win.close_folder()
    shows(qtbot, win, "Recent folders")
    # keyboard only: Tab in the photo view (nothing to select there) goes to the card, Tab moves on, Enter opens
    win.photo_view.setFocus()
    key(qtbot, Qt.Key.Key_Tab)
    assert QApplication.focusWidget() is win.empty_state.buttons[0]
    key(qtbot, Qt.Key.Key_Tab)
    assert QApplication.focusWidget() is win.empty_state.buttons[1]  # Try Demo Photos
    key(qtbot, Qt.Key.Key_Tab)
    first_recent = win.empty_state.recent[0]
    assert QApplication.focusWidget() is first_recent and first_recent.toolTip() == str(b.resolve())  # b is the newest now
    key(qtbot, Qt.Key.Key_Down)
    assert QApplication.focusWidget() is win.empty_state.recent[1]
    key(qtbot, Qt.Key.Key_Return)
    assert win.folder == a.resolve()
    wait_idle(qtbot, win)


def test_try_demo_photos_makes_the_demo_folder_opens_it_and_reuses_it_later(qtbot, make_window, monkeypatch):
    """The packaged app has no `make run`: the no-folder card's Try Demo Photos makes core.demo's photos in the
    user data folder (in a worker) and opens them; keyboard only: Tab from Open Folder…, Enter."""
    from bibtagger_gui.core import demo
    from bibtagger_gui.gui import demo_action

    monkeypatch.setattr(demo_action, "COUNT", 5)
    made = []
    write = demo.write_demo
    monkeypatch.setattr(demo, "write_demo", lambda *a, **k: made.append(a) or write(*a, **k))
    fixed_predictions(monkeypatch, {})
    win = make_window()
    shows(qtbot, win, "Open Folder…", "Try Demo Photos")
    first, button = win.empty_state.buttons
    assert button.text() == button.accessibleName() == "Try Demo Photos" and "synthetic race photos" in button.accessibleDescription()
    assert button.focusPolicy() == Qt.FocusPolicy.StrongFocus and button.toolTip() == button.accessibleDescription()
    qtbot.waitUntil(lambda: QApplication.focusWidget() is first, timeout=3000)
    key(qtbot, Qt.Key.Key_Tab)
    assert QApplication.focusWidget() is button
    key(qtbot, Qt.Key.Key_Return)
    target = demo.default_demo_dir()
    qtbot.waitUntil(lambda: win.folder == target.resolve(), timeout=20000)
    wait_idle(qtbot, win)
    photos = [p.name for p in demo.demo_photos(target)]
    assert len(photos) == 5 and (target / "ground_truth.json").is_file() and len(made) == 1
    assert sorted(item.photo.relpath for item in win.items.values()) == photos
    hidden(qtbot, win)  # a demo photo is shown
    stamp = {n: (target / n).stat().st_mtime_ns for n in photos}
    win.close_folder()
    shows(qtbot, win, "Try Demo Photos")
    qtbot.mouseClick(win.empty_state.buttons[1], Qt.MouseButton.LeftButton)  # again: the same folder, not made again
    assert win.folder == target.resolve() and len(made) == 1
    assert {n: (target / n).stat().st_mtime_ns for n in photos} == stamp
    wait_idle(qtbot, win)


def test_try_demo_photos_leaves_a_foreign_folder_of_that_name_alone(qtbot, make_window):
    from bibtagger_gui.core import demo

    target = demo.default_demo_dir()
    target.mkdir(parents=True)
    (target / "notes.txt").write_text("mine")
    win = make_window()
    shows(qtbot, win, "Try Demo Photos")
    qtbot.mouseClick(win.empty_state.buttons[1], Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: "not empty" in win.statusBar().currentMessage(), timeout=10000)
    assert win.folder is None and win.empty_state.state() == "no_folder" and not win.demo_maker.busy()
    assert [p.name for p in target.iterdir()] == ["notes.txt"]


def mime(path) -> QMimeData:
    m = QMimeData()
    m.setUrls([QUrl.fromLocalFile(str(path))])
    return m


def drag(win, data: QMimeData) -> tuple[bool, bool]:
    """A desktop drag over the photo view and its drop (Qt delivers the drop where the enter was accepted):
    whether the move was accepted (else the no-entry cursor) and the drop."""
    return desktop_drop(win.photo_view.viewport(), data)


def test_a_folder_dropped_on_the_photo_view_opens(qtbot, make_window, tmp_path, monkeypatch):
    folder = shoot(tmp_path / "dropped", monkeypatch)
    (folder / "notes.txt").write_text("start list on paper")
    win = make_window()
    shows(qtbot, win, "or drop a folder here")
    refused, _ = drag(win, mime(folder / "notes.txt"))  # neither a folder nor a photo: the no-entry cursor
    assert not refused and win.folder is None
    assert drag(win, mime(folder)) == (True, True)
    assert win.folder == folder.resolve()
    wait_idle(qtbot, win)


def test_a_photo_file_dropped_on_the_view_opens_its_folder_and_shows_it(qtbot, make_window, tmp_path, monkeypatch):
    """A photo file dropped on the view used to be refused (only folders were taken): its folder opens and the
    photo is shown, after the first scan of a new folder; in the open folder the search hiding it is cleared.
    Other files are refused while dragged, and the status bar says why."""
    folder = shoot(tmp_path / "race", monkeypatch, n=4)
    (folder / "notes.txt").write_text("start list on paper")
    (folder / "IMG_9.HEIC").write_bytes(b"not read")
    win = make_window()
    shows(qtbot, win, "or drop a folder here")
    said = []
    win.statusBar().messageChanged.connect(said.append)
    assert drag(win, mime(folder / "photo_002.jpg")) == (True, True)
    assert win.folder == folder.resolve()
    qtbot.waitUntil(lambda: win.store.photo_by_path("photo_002.jpg") is not None
                    and win.current_id == win.store.photo_by_path("photo_002.jpg").id, timeout=20000)  # fmt: skip
    wait_idle(qtbot, win)
    assert win.current_id == win.store.photo_by_path("photo_002.jpg").id  # still there after recognition
    win.search_edit.setText("701")  # a search that shows photo_001 only
    qtbot.waitUntil(lambda: win.list_model.total() == 1, timeout=5000)
    assert drag(win, mime(folder / "photo_003.jpg")) == (True, True)  # in the open folder: no reopening
    assert win.current_id == win.store.photo_by_path("photo_003.jpg").id and win.search_edit.text() == ""
    assert any("photo_003.jpg" in m for m in said)
    for name, why in (("notes.txt", "not a photo"), ("IMG_9.HEIC", "HEIC")):
        said.clear()
        refused, dropped = drag(win, mime(folder / name))
        assert not refused and not dropped and win.current_id == win.store.photo_by_path("photo_003.jpg").id
        assert any(name in m and why in m for m in said), said


def test_a_photo_given_to_the_app_opens_its_folder_at_it(qtbot, gui_env, placeholder_models_dir, tmp_path, monkeypatch, capsys):
    """`bibtagger IMG.jpg` is what a file manager's Open With, or a photo dropped on the app's icon, runs: argparse
    refused it ("invalid choice", unseen in the windowed app: nothing opened) and `gui IMG.jpg` said "not a folder".
    Now the window opens the photo's folder at that photo; another file opens the window, saying why."""
    from types import SimpleNamespace

    from bibtagger_gui.cli import main
    from bibtagger_gui.gui import app as gui_app
    from bibtagger_gui.gui.main_window import MainWindow

    folder = shoot(tmp_path / "race ü", monkeypatch, n=4)
    (folder / "notes.txt").write_text("start list on paper")
    given = []
    monkeypatch.setattr(gui_app, "run_gui", lambda target, models, screenshot: given.append(target) or 0)
    assert main([str(folder / "photo_002.jpg")]) == 0 and given == [str(folder / "photo_002.jpg")]
    made = []

    def make(models_dir=None):
        made.append(MainWindow(models_dir=models_dir, settings=gui_env))
        qtbot.addWidget(made[-1])
        return made[-1]

    def run_window(target):
        assert gui_app._run_window(SimpleNamespace(exec=lambda: 0), make, SimpleNamespace(window=None), target,
                                   str(placeholder_models_dir), None) == 0  # fmt: skip
        return made[-1]

    win = run_window(given[0])
    assert win.folder == folder.resolve()
    qtbot.waitUntil(lambda: win.store.photo_by_path("photo_002.jpg") is not None
                    and win.current_id == win.store.photo_by_path("photo_002.jpg").id, timeout=20000)  # fmt: skip
    wait_idle(qtbot, win)
    assert win.current_id == win.store.photo_by_path("photo_002.jpg").id
    win.close_folder()
    capsys.readouterr()
    win = run_window(str(folder / "notes.txt"))
    assert win.folder is None and "notes.txt: not a photo" in win.statusBar().currentMessage()
    assert "notes.txt: not a photo" in capsys.readouterr().err


def test_a_missing_folder_given_to_the_app_is_named_once_as_missing(qtbot, gui_env, placeholder_models_dir, tmp_path, capsys):
    """`bibtagger gui nonexist` said "Cannot open …/nonexist: …/nonexist: not a folder": the path twice, and
    "not a folder" for a folder that is not there at all."""
    from types import SimpleNamespace

    from bibtagger_gui.gui import app as gui_app
    from bibtagger_gui.gui.main_window import MainWindow

    made = []

    def make(models_dir=None):
        made.append(MainWindow(models_dir=models_dir, settings=gui_env))
        qtbot.addWidget(made[-1])
        return made[-1]

    (tmp_path / "a file").write_text("x")
    for name, why in (("nonexist", "no such folder"), ("a file", "not a photo")):
        assert gui_app._run_window(SimpleNamespace(exec=lambda: 0), make, SimpleNamespace(window=None), str(tmp_path / name),
                                   str(placeholder_models_dir), None) == 0  # fmt: skip
        err = capsys.readouterr().err
        assert err.count(str(tmp_path / name)) <= 1 and why in err, err
    assert made[0].open_folder(tmp_path / "a file") is False  # the window's own path: a file is not a folder
    said = made[0].statusBar().currentMessage()
    assert said == f"Cannot open {tmp_path / 'a file'}: not a folder"


# ---------------------------------------------------------------- folder states


def test_a_folder_without_photos_says_so_with_the_formats_it_left_out(qtbot, make_window, tmp_path):
    folder = tmp_path / "phone"
    folder.mkdir()
    for name in ("IMG_1.HEIC", "IMG_2.heic", "DSC_3.CR2"):
        (folder / name).write_bytes(b"not read")
    win = make_window()
    win.open_folder(folder)
    wait_idle(qtbot, win)
    text = shows(qtbot, win, "No photos in phone", "3 file(s) in formats bibtagger cannot read were left out (2 HEIC, 1 CR2)")
    assert win.empty_state.state() == "no_photos"
    assert "JPEG" in text and "Open Another Folder… (Ctrl+O)" in text
    # an empty folder: no note about other formats
    empty = tmp_path / "empty"
    empty.mkdir()
    win.open_folder(empty)
    wait_idle(qtbot, win)
    text = shows(qtbot, win, "No photos in empty")
    assert "cannot read" not in text


def test_a_first_scan_says_how_many_photos_it_found_and_the_photos_follow(qtbot, make_window, tmp_path, monkeypatch):
    from bibtagger_gui.core.store import Store

    folder = shoot(tmp_path / "big", monkeypatch, n=5)
    gate, orig = threading.Event(), Store.scan

    def slow_scan(self, progress=None, cancel=None):
        def p(done, total, *rest):
            progress(done, total)
            if done == 2:
                gate.wait(20)  # the scan is under way: 2 of 5 looked at

        return orig(self, progress=p, cancel=cancel)

    monkeypatch.setattr(Store, "scan", slow_scan)
    win = make_window()
    win.open_folder(folder)
    try:
        shows(qtbot, win, "Scanning big…", "Scanning… 5 photos found", "2 of 5 looked at")
        assert win.empty_state.state() == "scanning"
    finally:
        gate.set()
    wait_idle(qtbot, win)
    hidden(qtbot, win)
    assert win.current_id is not None


def test_a_search_or_filter_that_leaves_nothing_says_which_and_how_to_clear_it(qtbot, make_window, tmp_path, monkeypatch):
    folder = shoot(tmp_path / "p", monkeypatch, n=4)
    win = make_window()
    win.open_folder(folder)
    wait_idle(qtbot, win)
    hidden(qtbot, win)
    win.search_edit.setText("99")
    text = shows(qtbot, win, "No photo matches", "No photo has bib “99” (4 photos in the folder)",
                 "Escape in the search box (Ctrl+F) clears the search", "Clear Search")  # fmt: skip
    assert "Show All Photos" not in text and win.empty_state.state() == "filtered"
    qtbot.mouseClick(win.empty_state.buttons[0], Qt.MouseButton.LeftButton)
    assert win.search_edit.text() == "" and win.list_model.total() == 4
    hidden(qtbot, win)

    win.filter_actions[ReviewFilter.REVIEWED].trigger()
    text = shows(qtbot, win, "The filter “Reviewed” leaves none of the 4 photos in the folder",
                 "Choose “All photos” in the filter box above the list (or Review > Filter)", "Show All Photos")  # fmt: skip
    assert "Clear Search" not in text
    win.search_edit.setText("70*")
    shows(qtbot, win, "No photo has bib “70*” under the filter “Reviewed”", "Clear Search", "Show All Photos")
    show_all = next(b for b in win.empty_state.visible_buttons() if b.text() == "Show All Photos")
    qtbot.mouseClick(show_all, Qt.MouseButton.LeftButton)
    assert win.filter is ReviewFilter.ALL and win.list_model.total() == 4  # 700..703 all match 70*
    hidden(qtbot, win)


def test_a_photo_that_fails_to_load_says_so_and_the_next_photo_clears_it(qtbot, make_window, tmp_path, monkeypatch):
    folder = shoot(tmp_path / "p", monkeypatch, n=2)
    (folder / "photo_000.jpg").write_bytes(b"\xff\xd8\xff this is no jpeg")  # the scan records its error
    win = make_window()
    win.open_folder(folder)
    wait_idle(qtbot, win)
    bad = next(it.photo for it in win.items.values() if it.photo.relpath == "photo_000.jpg")
    assert bad.error
    win.select_photo(bad.id)
    text = shows(qtbot, win, "This photo could not be loaded", f"photo_000.jpg: {bad.error}", "next photo (Right, J)")
    assert win.empty_state.state() == "failed" and win.empty_state.visible_buttons() == []
    # it takes no mouse press (the photo can still be panned, a box drawn) and no focus
    assert win.empty_state.testAttribute(Qt.WidgetAttribute.WA_TransparentForMouseEvents)
    good = next(it.photo.id for it in win.items.values() if it.photo.relpath == "photo_001.jpg")
    win.select_photo(good)
    hidden(qtbot, win)

    # a file that decodes badly only in the view (no error at the scan): the view's failure is said too
    from bibtagger_gui.core.imageio import ImageError
    from bibtagger_gui.gui import photo_view

    def broken(*_a, **_k):
        raise ImageError(_a[0], "truncated file")

    monkeypatch.setattr(photo_view, "load_image", broken)
    win.photo_view.ahead.stop()  # nothing decoded ahead (gui/look_ahead.py): the view decodes photo_001 again
    win.select_photo(bad.id)
    win.select_photo(good)
    shows(qtbot, win, "This photo could not be loaded", "photo_001.jpg: truncated file")


# ---------------------------------------------------------------- accessibility


@pytest.mark.parametrize("dark", [False, True])
def test_the_card_is_named_and_its_text_reads_on_its_background_in_light_and_dark_palettes(qtbot, make_window, dark, request):
    if dark:
        request.getfixturevalue("dark_palette")
    win = make_window()
    shows(qtbot, win, "Open Folder…")
    es = win.empty_state
    assert es.accessibleName() == "Find the race bib numbers in your photos"
    assert "Open Folder… (Ctrl+O)" in es.accessibleDescription() and "or drop a folder here" in es.accessibleDescription()
    button = es.buttons[0]
    assert button.accessibleName() == "Open Folder…" and "(Ctrl+O)" in button.accessibleDescription()
    assert button.toolTip() == button.accessibleDescription()
    background = es.palette().color(es.backgroundRole())
    assert es.autoFillBackground()
    for label in (es.title, es.body, es.drop):
        fg = label.palette().color(label.foregroundRole())
        assert look.contrast(fg, background) >= 4.5, (label.objectName(), fg.getRgb(), background.getRgb())
    # it follows the palette (the dark one's window is dark), not a fixed colour
    assert look.luminance(background) < 0.2 if dark else look.luminance(background) > 0.5
