"""GUI exports (gui/export_action.py) write what `bibtagger export` writes, for every "Which photos" choice
(all, reviewed, unreviewed, shown in the list, selected in it); bib panel start-list names/flags."""

from __future__ import annotations

import csv
import io
import json
import os
import re
from pathlib import Path

import pytest
from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QApplication, QMainWindow

from bibtagger_gui.cli import main
from bibtagger_gui.core.bib import Bib
from bibtagger_gui.core.startlist import parse_startlist_text, save_to_store
from bibtagger_gui.core.store import Store
from bibtagger_gui.core.review import ReviewFilter
from bibtagger_gui.gui.export_action import SPECS, ExportDialog, ExportRequest, default_target, install
from tests.test_gui_support import fixed_predictions, gui_env, make_photos, make_window, wait_idle  # noqa: F401

STARTLIST = "bib,name\n100,Ann Smith\n101,Bob Jones\n1234,Cleo Park\n"


@pytest.fixture
def project(tmp_path):
    """Four cv2-written photos with human bibs (one unboxed, one off the start list); photo 0 reviewed."""
    folder = tmp_path / "race"
    photos = make_photos(folder, 4)
    with Store.open(folder) as store:
        store.scan()
        for rel, number, box in photos:
            store.add_bib(store.photo_by_path(rel).id, number, box)
        store.add_bib(store.photo_by_path("photo_001.jpg").id, "1243", None)  # not on the list, no box
        store.set_reviewed(store.photo_by_path("photo_000.jpg").id, True)
        save_to_store(store, parse_startlist_text(STARTLIST))
    return folder


@pytest.fixture
def window(qtbot, project):
    win = QMainWindow()
    qtbot.addWidget(win)
    win.store, win.folder = Store.open(project), project
    controller = install(win)
    controller.interactive = False
    yield win
    win.store.close()


def tree(root: Path) -> dict[str, object]:
    """Relative path -> bytes (files) or link target (symlinks), for comparing export folders."""
    out: dict[str, object] = {}
    for dirpath, _dirs, files in os.walk(root):
        for f in files:
            p = Path(dirpath) / f
            out[p.relative_to(root).as_posix()] = os.readlink(p) if p.is_symlink() else p.read_bytes()
    return out


def gui_export(qtbot, win, fmt: str, target: Path, reviewed_only: bool = False, request: ExportRequest | None = None) -> object:
    """Trigger the menu action with the dialog answered by ``target`` (or ``request``) and wait for the summary."""
    controller = win.export_controller
    controller.ask = lambda spec: request or ExportRequest(target, reviewed_only=reviewed_only)
    with qtbot.waitSignal(controller.finished, timeout=20000) as blocker:
        controller.actions[fmt].trigger()
    return blocker.args[0]


def unstamped(path: Path) -> tuple[bytes, list[dict]]:
    """An exchange JSON file's bytes without its entries' "saved" stamps, and the stamps (each one once)."""
    data = path.read_bytes()
    saves = [json.loads(m) for m in dict.fromkeys(re.findall(rb', "saved": (\{[^{}]*\})', data))]
    return re.sub(rb', "saved": \{[^{}]*\}', b"", data), saves


def same_as_cli(window, project, tmp_path, capsys, fmt: str, gui_out: Path, report, cli_options: list[str]) -> None:
    """`bibtagger export` with ``cli_options`` writes byte for byte what the GUI wrote, with the same summary."""
    spec = next(s for s in SPECS if s.fmt == fmt)
    cli_out = tmp_path / f"cli_{gui_out.name}"
    args = ["export", str(project), "--format", fmt, "--out", str(cli_out), *cli_options]
    capsys.readouterr()
    assert main(args) == 0
    cli_summary = capsys.readouterr().err.strip().splitlines()[-1]
    if spec.folder:
        assert gui_out.is_dir() and tree(gui_out) == tree(cli_out) and tree(gui_out)
    elif fmt == "json":  # byte for byte but the save stamps: the command's file is the project's next save
        (gui, gui_saves), (cli, cli_saves) = unstamped(gui_out), unstamped(cli_out)
        assert gui == cli and len(gui_saves) == len(cli_saves) == 1
        assert cli_saves[0]["project"] == gui_saves[0]["project"] and cli_saves[0]["seq"] == gui_saves[0]["seq"] + 1
    else:
        assert gui_out.read_bytes() == cli_out.read_bytes()
    assert cli_summary == f"exported {report.bibs} bib(s) from {report.photos} photo(s) as {fmt} to {cli_out}"
    assert window.export_controller.last_message == f"Exported {report.bibs} bib(s) from {report.photos} photo(s) as {fmt} to {gui_out}."
    assert report.bibs > 0


WHICH_CLI = {"all": ({}, []), "reviewed": ({"reviewed_only": True}, ["--reviewed-only"]),
             "unreviewed": ({"unreviewed_only": True}, ["--unreviewed-only"])}  # fmt: skip


@pytest.mark.parametrize("fmt", [s.fmt for s in SPECS])
@pytest.mark.parametrize("which", list(WHICH_CLI))
def test_gui_export_matches_cli(qtbot, window, project, tmp_path, capsys, fmt, which):
    gui_out = tmp_path / f"gui_{fmt}"
    options, cli_options = WHICH_CLI[which]
    report = gui_export(qtbot, window, fmt, gui_out, request=ExportRequest(gui_out, **options))
    same_as_cli(window, project, tmp_path, capsys, fmt, gui_out, report, cli_options)
    assert report.photos == {"all": 4, "reviewed": 1, "unreviewed": 3}[which]


@pytest.fixture
def list_window(qtbot, project, make_window, monkeypatch):
    """The real window on the project, its list filtered to Unreviewed (3 of 4), rows 0 and 2 selected by clicks."""
    fixed_predictions(monkeypatch, {})  # recognition on opening finds nothing: the human bibs stay as they are
    win = make_window()
    win.export_controller.interactive = False
    assert win.open_folder(project)
    wait_idle(qtbot, win)
    win.set_filter(ReviewFilter.UNREVIEWED)
    view = win.list_view
    qtbot.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, pos=view.visualRect(win.list_model.index(0)).center())
    qtbot.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, Qt.KeyboardModifier.ControlModifier,
                     pos=view.visualRect(win.list_model.index(2)).center())  # fmt: skip
    return win


@pytest.mark.parametrize("fmt", [s.fmt for s in SPECS])
@pytest.mark.parametrize("which", ["shown", "selected"])
def test_gui_export_of_the_list_matches_cli_photos_list(qtbot, list_window, project, tmp_path, capsys, fmt, which):
    """"The photos the list shows now" / "selected in the list" export what `--photos LIST` of them exports."""
    win = list_window
    shown = [it.photo.relpath for it in win.list_model.items]
    selected = [shown[0], shown[2]]
    assert len(shown) == 3 and "photo_000.jpg" not in shown  # the filter hides the reviewed photo
    assert [p.relpath for p in win.selected_photos()] == selected
    dialog = win.export_controller.dialog(next(s for s in SPECS if s.fmt == fmt))  # the real dialog, from the window
    qtbot.addWidget(dialog)
    assert dialog.which_buttons["shown"].text() == "The photos the list &shows now (3: filter Unreviewed)"
    assert dialog.which_buttons["selected"].text() == "The photos s&elected in the list (2)"
    dialog.set_which(which)
    gui_out = tmp_path / f"gui_{which}_{fmt}"
    dialog.path_edit.setText(str(gui_out))
    request = dialog.request()
    chosen = shown if which == "shown" else selected
    assert request.photos == tuple(chosen) and not request.reviewed_only and not request.unreviewed_only
    report = gui_export(qtbot, win, fmt, gui_out, request=request)
    assert report.photos == len(chosen)
    listing = tmp_path / "list.txt"
    listing.write_text("".join(f"{rel}\n" for rel in chosen))
    same_as_cli(win, project, tmp_path, capsys, fmt, gui_out, report, ["--photos", str(listing)])


def test_export_dialog_is_keyboard_operable(qtbot, list_window, tmp_path):
    """Alt+E picks "selected in the list", Enter exports: the real dialog, run by exec() as from the menu."""
    win = list_window
    controller = win.export_controller
    target = tmp_path / "sel.json"
    seen = {}

    def drive():
        dialog = QApplication.activeModalWidget()
        if dialog is None:  # not shown yet
            QTimer.singleShot(20, drive)
            return
        seen["dialog"] = dialog
        QTimer.singleShot(5000, dialog.reject)  # a failing test must not hang in exec()
        dialog.path_edit.setText(str(target))
        dialog.activateWindow()
        qtbot.waitUntil(lambda: QApplication.activeWindow() is dialog, timeout=3000)
        qtbot.keyClick(QApplication.focusWidget(), Qt.Key.Key_E, Qt.KeyboardModifier.AltModifier)
        qtbot.waitUntil(lambda: dialog.which() == "selected", timeout=3000)
        qtbot.keyClick(QApplication.focusWidget(), Qt.Key.Key_Return)

    QTimer.singleShot(0, drive)
    request = controller.ask(SPEC_JSON)
    assert isinstance(seen["dialog"], ExportDialog)
    assert request == ExportRequest(target, photos=tuple(p.relpath for p in win.selected_photos()))
    # nothing selected, empty list: those choices are disabled; a bare window has no list: hidden
    win.search_edit.setText("no-such-number")
    dialog = controller.dialog(SPEC_JSON)
    qtbot.addWidget(dialog)
    assert not dialog.which_buttons["shown"].isEnabled() and not dialog.which_buttons["selected"].isEnabled()
    assert dialog.which_buttons["shown"].text().endswith('(0: filter Unreviewed, search "no-such-number")')


def test_a_listed_photo_gone_from_the_folder_exports_nothing(qtbot, list_window, tmp_path):
    """Like `--photos` with a line naming no photo: an error, never a silently smaller export."""
    win = list_window
    target = tmp_path / "x.json"
    request = ExportRequest(target, photos=("photo_001.jpg", "gone.jpg"))
    outcome = gui_export(qtbot, win, "json", target, request=request)
    assert isinstance(outcome, str) and "1 of the chosen photos are no longer in the folder (gone.jpg)" in outcome
    assert not target.exists()


SPEC_JSON = next(s for s in SPECS if s.fmt == "json")


def test_menu_dialog_and_names_in_gui_csv(qtbot, window, tmp_path):
    menu = window.export_controller.menu
    assert menu.title().replace("&", "") == "Export"
    assert [a.text() for a in menu.actions()] == [s.text for s in SPECS]
    rows = list(csv.DictReader(io.StringIO(gui_export_text(qtbot, window, tmp_path / "x.csv"))))
    assert {r["number"]: r["name"] for r in rows} == {"100": "Ann Smith", "101": "Bob Jones", "102": "", "103": "", "1243": ""}
    # the real dialog: default target next to the folder, options read back
    spec = next(s for s in SPECS if s.fmt == "bibfolders")
    dialog = ExportDialog(spec, default_target(spec, window.folder), window.store.counts())
    qtbot.addWidget(dialog)
    assert dialog.request().target == window.folder.parent / "race_by_bib"
    assert "(1 of 4)" in dialog.reviewed_only.text() and "(3 of 4)" in dialog.which_buttons["unreviewed"].text()
    assert not dialog.which_buttons["shown"].isVisibleTo(dialog)  # a window without a photo list
    assert dialog.request() == ExportRequest(window.folder.parent / "race_by_bib")  # all photos by default
    dialog.reviewed_only.setChecked(True)
    dialog.copy.setChecked(True)
    assert dialog.request() == ExportRequest(window.folder.parent / "race_by_bib", True, True)


def gui_export_text(qtbot, win, target: Path) -> str:
    gui_export(qtbot, win, "csv", target)
    return target.read_text(encoding="utf-8-sig")  # a CSV file starts with the BOM Excel needs


def test_errors_are_reported_not_raised(qtbot, window, tmp_path):
    controller = window.export_controller
    (tmp_path / "a_file").write_text("")
    outcome = gui_export(qtbot, window, "csv", tmp_path / "a_file" / "x.csv")  # parent is a file: cannot write
    assert isinstance(outcome, str)
    assert controller.last_message.startswith(f"Export failed: {tmp_path / 'a_file'}: not a folder, so x.csv cannot be written")
    report = controller.last_report
    assert controller.job is None  # ready for the next export
    assert gui_export(qtbot, window, "csv", tmp_path / "ok.csv") is controller.last_report
    report = controller.last_report
    assert controller.start("csv", ExportRequest(tmp_path)) is None  # a folder given for a file export
    assert "is a folder" in controller.last_message and controller.last_report is report
    bare = QMainWindow()
    qtbot.addWidget(bare)
    install(bare).interactive = False
    assert bare.export_controller.trigger("csv") is None
    assert bare.export_controller.last_message == "Open a photo folder first."


def test_bib_panel_names_and_off_list_flag(qtbot, make_window, tmp_path, monkeypatch):
    folder = tmp_path / "p"
    make_photos(folder, 1)
    fixed_predictions(monkeypatch, {"photo_000.jpg": [Bib("1234", (10, 10, 60, 40), 0.95), Bib("1243", (80, 10, 130, 40), 0.9)]})
    win = make_window()
    assert win.feature_errors == [] and hasattr(win, "export_controller")
    assert win.export_controller.menu is win.keywords_controller.menu  # one Export menu
    win.open_folder(folder)
    wait_idle(qtbot, win)
    qtbot.waitUntil(lambda: win.panel.table.rowCount() == 2, timeout=5000)
    table = win.panel.table
    assert table.isColumnHidden(1) and win.panel.startlist is None  # no start list yet
    csv_path = tmp_path / "start.csv"
    csv_path.write_text(STARTLIST)
    win.startlist_controller.interactive = False
    win.startlist_controller.import_file(csv_path)  # the window reloads the panel's start list
    assert not table.isColumnHidden(1)
    rows = {table.item(r, 0).text(): r for r in range(table.rowCount())}
    assert table.item(rows["1234"], 1).text() == "Cleo Park" and not table.item(rows["1234"], 0).toolTip()
    off = rows["1243"]
    assert table.item(off, 0).toolTip() == "not on start list; did you mean 1234 (Cleo Park)?"
    assert table.item(off, 1).toolTip() == table.item(off, 0).toolTip() and "not on list" in table.item(off, 1).text()
    assert table.item(off, 0).background().color() != table.item(rows["1234"], 0).background().color()
    win.close_folder()
    assert win.panel.startlist is None
    win.open_folder(folder)  # reopening loads the stored list once
    assert win.panel.startlist is not None and win.panel.startlist.name("1234") == "Cleo Park"


def test_a_photo_chosen_as_the_export_file_is_refused_and_kept(qtbot, window, project):
    """A file dialog's "Replace?" answered yes over a photo wrote the CSV into it; now the export is refused, said
    plainly (it read "ExportError: …" for the refused folder inside the photo folder)."""
    photo = project / "photo_001.jpg"
    before = photo.read_bytes()
    outcome = gui_export(qtbot, window, "csv", photo)
    assert isinstance(outcome, str) and photo.read_bytes() == before
    assert window.export_controller.last_message.startswith(f"Export failed: {photo} is named like a photo")
    gui_export(qtbot, window, "crops", project / "crops")
    assert window.export_controller.last_message.startswith(f"Export failed: {project / 'crops'} is inside the photo folder")


@pytest.mark.parametrize("fmt", ["csv", "bibfolders"])
def test_a_typed_target_in_a_missing_folder_is_refused_and_no_folder_made(qtbot, window, tmp_path, fmt):
    """The dialog's path field takes a typed path; a typo in its folder made the folders (as `export --out` did):
    now the export fails with the CLI's message, and a per-bib folder beside an existing one is still made."""
    target = tmp_path / "nonexist" / ("x.csv" if fmt == "csv" else "by_bib")
    outcome = gui_export(qtbot, window, fmt, target)
    assert isinstance(outcome, str) and not (tmp_path / "nonexist").exists()
    assert window.export_controller.last_message == (f"Export failed: {tmp_path / 'nonexist'}: no such folder, so "
                                                     f"{target.name} cannot be written there (make the folder first, or "
                                                     "choose another place)")  # fmt: skip
    if fmt == "bibfolders":
        gui_export(qtbot, window, fmt, tmp_path / "by_bib")
        assert (tmp_path / "by_bib").is_dir() and window.export_controller.last_report is not None
