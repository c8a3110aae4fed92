"""The status bar's photo counts (photos, tagged, reviewed, errors) are kept by the window's snapshots
(``ReviewIndex.counts``, no store query per edit); after every path that changes photos or bibs while a window
is open they must say what ``Store.counts`` says of the store, read afresh by another connection.

One real window on a real store drives each path in turn: edits, undo/redo, accept, the burst keys, batch
actions (a re-run included), recognition results and load errors, a rescan (photos added, gone, renamed,
replaced), another program's edits and scan (one by one and in bulk), an annotation import, a volunteer's
merge, an MTurk batch and a verdict, a start list, another model folder, a filter and a search, another folder.
"""

from __future__ import annotations

import json
import re
import shutil
from dataclasses import astuple
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

pytest.importorskip("PySide6")

from PySide6.QtCore import Qt  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

from bibtagger_gui.cli import main  # noqa: E402
from bibtagger_gui.core.bib import Bib  # noqa: E402
from bibtagger_gui.core.imageio import ImageError  # noqa: E402
from bibtagger_gui.core.recognizer import Recognizer  # noqa: E402
from bibtagger_gui.core.review import ReviewFilter  # noqa: E402
from bibtagger_gui.core.store import Store  # noqa: E402
from bibtagger_gui.gui import live_updates  # noqa: E402
from tests.test_gui_support import gui_env, make_window, select_photos, wait_idle, window_action  # noqa: E402,F401
from tests.test_mturk import answer, row, write_csv  # noqa: E402

CTRL = Qt.KeyboardModifier.ControlModifier
SHIFT = Qt.KeyboardModifier.ShiftModifier
T0 = datetime(2024, 5, 12, 10, 31, 2)
BOX = (40.0, 60.0, 140.0, 110.0)

#: file -> (seconds after T0, predictions); f0..f3 one burst (0.3 s apart), the others lone frames
SHOOT = {
    "f0.jpg": (0.0, [Bib("1234", BOX, 0.40), Bib("55", (200.0, 50.0, 260.0, 90.0), 0.95)]),
    "f1.jpg": (0.3, [Bib("1234", (44.0, 62.0, 144.0, 112.0), 0.45)]),
    "f2.jpg": (0.6, []),
    "f3.jpg": (0.9, [Bib("1234", (52.0, 66.0, 152.0, 116.0), 0.55)]),
    "lone.jpg": (60.0, []),
    "one.jpg": (120.0, [Bib("321", BOX, 0.7)]),
    "bad.jpg": (180.0, []),  # its decode fails
    "gone.jpg": (240.0, [Bib("88", BOX, 0.9)]),
    "old.jpg": (300.0, [Bib("99", BOX, 0.9)]),
    "swap.jpg": (360.0, [Bib("77", BOX, 0.9)]),
    "blank1.jpg": (420.0, []),
    "blank2.jpg": (480.0, []),
}


@pytest.fixture(autouse=True)
def stores(tmp_path, monkeypatch):
    monkeypatch.setenv("BIBTAGGER_STORE_DIR", str(tmp_path / "stores"))


def frame(path: Path, at: datetime, seed: int, size: tuple[int, int] = (96, 64)) -> None:
    """A JPEG of its own pixels (no two photos one picture: the scan matches moves by image data), taken ``at``."""
    exif = Image.Exif()
    ifd = exif.get_ifd(0x8769)
    ifd[0x9003] = at.strftime("%Y:%m:%d %H:%M:%S")
    ifd[0x9291] = f"{at.microsecond // 10000:02d}"
    w, h = size
    pixels = (np.random.default_rng(seed).random((h, w, 3)) * 255).astype(np.uint8)
    Image.fromarray(pixels).save(path, "JPEG", exif=exif.tobytes())


class Reader:
    """Recognizer.recognize_path answering from a table by file name; names in ``failing`` cannot be read."""

    def __init__(self, table: dict[str, list[Bib]]):
        self.table, self.failing = table, {"bad.jpg"}

    def __call__(self, _rec, path) -> list[Bib]:
        name = Path(path).name
        if name in self.failing:
            raise ImageError(path, "permission denied")
        return list(self.table.get(name, []))


class Counted:
    """After each step: the label's numbers and the snapshots' counts equal a fresh ``Store.counts``."""

    def __init__(self, qtbot, win):
        self.qtbot, self.win = qtbot, win
        self.truth: tuple | None = None

    def __call__(self, step: str, moves: bool | None = None) -> tuple:
        win = self.win
        self.qtbot.waitUntil(lambda: not win._counts_timer.isActive(), timeout=3000)  # the coalesced update
        with Store.open(win.folder) as fresh:
            truth = astuple(fresh.counts())
            facts = {p.id: (bool(fresh.bibs(p.id)), bool(p.reviewed), p.error) for p in fresh.photos()}
        shown = tuple(int(n) for n in re.findall(r"\d+", win.counts_label.text()))
        kept = astuple(win.items.counts())
        stale = {pid: (facts.get(pid), (bool(it.bibs), bool(it.photo.reviewed), it.photo.error))
                 for pid, it in win.items.items() if facts.get(pid) != (bool(it.bibs), bool(it.photo.reviewed), it.photo.error)}  # fmt: skip
        assert (shown, kept) == (truth, truth), f"{step}: label {shown}, kept {kept}, store {truth}; stale snapshots {stale}"
        if moves is not None:  # the step did (or did not) change what is counted: each path is really exercised
            assert (truth != self.truth) == moves, f"{step}: counts {self.truth} -> {truth}"
        self.truth = truth
        return truth


def key(qtbot, k, mod=Qt.KeyboardModifier.NoModifier) -> None:
    qtbot.keyClick(QApplication.focusWidget() or QApplication.activeWindow(), k, mod)


def pid(win, rel: str) -> int:
    return win.store.photo_by_path(rel).id


def show(win, rel: str) -> int:
    photo_id = pid(win, rel)
    assert win.reveal_photo(photo_id)
    win.photo_view.setFocus()
    return photo_id


def select(win, rels: list[str]) -> None:
    win.set_filter(ReviewFilter.ALL)
    win.search_edit.clear()
    select_photos(win, [pid(win, r) for r in rels])


def trigger(win, name: str) -> None:
    window_action(win, name).trigger()


@pytest.mark.slow  # (~9 s: a dozen paths, each its own scan, recognition or import)
def test_the_counts_say_what_the_store_counts_after_every_path(qtbot, make_window, tmp_path, monkeypatch,
                                                                 placeholder_models_dir):  # fmt: skip
    folder = tmp_path / "race"
    folder.mkdir()
    for seed, (name, (dt, _bibs)) in enumerate(SHOOT.items()):
        frame(folder / name, T0 + timedelta(seconds=dt), seed)
    reader = Reader({name: bibs for name, (_dt, bibs) in SHOOT.items()})
    monkeypatch.setattr(Recognizer, "recognize_path", lambda self, path: reader(self, path))
    win = make_window()
    assert win.open_folder(folder)
    wait_idle(qtbot, win)
    for c in (win.batch_controller, win.import_controller, win.startlist_controller):
        c.interactive = False
    check = Counted(qtbot, win)
    photos, tagged, reviewed, errors = check("opened, scanned and recognized")
    assert (photos, errors) == (len(SHOOT), 1) and 0 < tagged < photos  # bad.jpg could not be read

    # ---- single edits, the burst keys, undo and redo
    show(win, "f0.jpg")
    for d in "1243":
        key(qtbot, getattr(Qt.Key, f"Key_{d}"))
    key(qtbot, Qt.Key.Key_Return)  # the fix of a reading
    check("a number retyped", moves=False)
    key(qtbot, Qt.Key.Key_B, CTRL)  # the fix on the burst's other frames
    assert "1243" in [b.number for b in win.store.bibs(pid(win, "f3.jpg"))]
    check("Ctrl+B", moves=False)
    show(win, "f1.jpg")
    key(qtbot, Qt.Key.Key_Return)  # accept
    check("accept", moves=True)
    show(win, "f2.jpg")
    key(qtbot, Qt.Key.Key_D, CTRL)  # f1's bibs onto f2, which had none
    check("Ctrl+D", moves=True)
    win.undo()
    check("undo of Ctrl+D", moves=True)
    win.redo()
    check("redo of Ctrl+D", moves=True)
    show(win, "one.jpg")
    trigger(win, "delete_bib")  # its only bib
    check("a bib deleted", moves=True)
    win.undo()
    check("undo of the delete", moves=True)

    # ---- batch actions on selected photos
    select(win, ["f3.jpg", "one.jpg", "bad.jpg"])
    trigger(win, "batch_mark_reviewed")  # bad.jpg left alone
    check("batch Mark Reviewed", moves=True)
    win.undo()
    check("undo of the batch", moves=True)
    select(win, ["one.jpg", "f3.jpg"])
    trigger(win, "batch_delete_predictions")
    check("batch Delete Predictions", moves=True)
    win.undo()
    check("undo of Delete Predictions", moves=True)

    # ---- recognition: a load error, then a re-run on the selected photo once it reads again
    reader.failing.add("lone.jpg")  # (e.g. its permissions) recognized before with nothing on it
    assert win.rerun_unreviewed()
    wait_idle(qtbot, win)
    assert win.store.photo(pid(win, "lone.jpg")).error == "permission denied"
    check("a re-run that could not read a photo", moves=True)
    reader.failing.discard("lone.jpg")
    select(win, ["lone.jpg"])
    trigger(win, "rerun_selected")
    qtbot.waitUntil(lambda: not win.batch_controller.pending, timeout=20000)
    assert win.store.photo(pid(win, "lone.jpg")).error is None
    check("a re-run on the selected photo that reads it again", moves=True)

    # ---- a rescan: a photo added, one gone, one renamed, one replaced by another picture
    show(win, "swap.jpg")
    key(qtbot, Qt.Key.Key_Return)
    show(win, "gone.jpg")
    key(qtbot, Qt.Key.Key_Return)
    check("two more accepted", moves=True)
    frame(folder / "new.jpg", T0 + timedelta(seconds=600), 100)
    reader.table["new.jpg"] = [Bib("4", BOX, 0.8)]
    (folder / "gone.jpg").unlink()
    (folder / "old.jpg").rename(folder / "renamed.jpg")
    frame(folder / "swap.jpg", T0 + timedelta(seconds=360), 101, size=(80, 60))
    reader.table["swap.jpg"] = []
    assert win.open_folder(folder)
    wait_idle(qtbot, win)
    check("rescan", moves=True)

    # ---- another program's edits, one by one, then its scan, then many at once
    with Store.open(folder) as other:
        other.set_reviewed(pid(win, "f3.jpg"), True)
        other.add_bib(pid(win, "blank1.jpg"), "612", None)
        other.set_error(pid(win, "blank2.jpg"), "truncated JPEG")
    assert win.live_updates.poll()
    check("another program's edits", moves=True)
    frame(folder / "new2.jpg", T0 + timedelta(seconds=660), 102)
    (folder / "renamed.jpg").unlink()
    with Store.open(folder) as other:
        other.scan()
    assert win.live_updates.poll()
    check("another program's scan", moves=True)
    bulk = live_updates.BULK
    monkeypatch.setattr(live_updates, "BULK", 2)  # (a poll of more changed photos reads every photo afresh)
    with Store.open(folder) as other:
        for rel in ("f0.jpg", "one.jpg", "new2.jpg"):
            other.set_reviewed(pid(win, rel), True)
        other.set_error(pid(win, "blank2.jpg"), None)
    assert win.live_updates.poll()
    check("another program's edits in bulk", moves=True)
    monkeypatch.setattr(live_updates, "BULK", bulk)

    # ---- imports: annotations, a volunteer's review of a hand-out, an MTurk batch and a verdict
    entries = [{"image": "f2.jpg", "width": 96, "height": 64, "bibs": [], "reviewed": True},
               {"image": "blank2.jpg", "width": 96, "height": 64, "bibs": [{"number": "5", "box": [1, 1, 20, 20]}]}]  # fmt: skip
    (tmp_path / "ann.json").write_text(json.dumps(entries))
    assert win.import_controller.import_file(tmp_path / "ann.json", source="human") is not None
    check("annotation import", moves=True)
    handout = tmp_path / "handout.json"
    assert main(["export", str(folder), "--format", "json", "--out", str(handout)]) == 0
    data = json.loads(handout.read_text())
    for entry in data if isinstance(data, list) else data["images"]:
        if entry["image"] == "new.jpg":  # the volunteer reviewed it and took its prediction off
            entry["bibs"], entry["reviewed"] = [], True
    handout.write_text(json.dumps(data))
    assert win.import_controller.import_file(handout) is not None
    check("a volunteer's review merged", moves=True)
    batch = write_csv(tmp_path / "batch.csv", [row("A1", "blank1.jpg", answer((5, 5, 30, 20, "41")), worker="W1"),
                                                row("A2", "new2.jpg", answer((5, 5, 30, 20, "42")), worker="W2")])  # fmt: skip
    had = {rel: bool(win.store.bibs(pid(win, rel))) for rel in ("blank1.jpg", "new2.jpg")}
    dialog = win.mturk_controller.open_batch(batch)
    check("MTurk batch imported", moves=not all(had.values()))
    assert dialog.select_assignment("A2")
    qtbot.keyClick(dialog.table, Qt.Key.Key_R)  # rejected: the worker's box leaves new2.jpg
    check("MTurk verdict", moves=not had["new2.jpg"])
    win.undo()
    check("undo of the verdict", moves=not had["new2.jpg"])
    dialog.close()

    # ---- a start list, another model folder, a filter and a search: nothing counted changes
    (tmp_path / "start.csv").write_text("bib,name\n1243,Ann\n321,Bo\n")
    assert win.startlist_controller.import_file(tmp_path / "start.csv") is not None
    check("start list", moves=False)
    models = tmp_path / "models"
    shutil.copytree(placeholder_models_dir, models)
    assert win.load_models_dir(models, remember=False)
    check("another model folder", moves=False)
    assert win.rerun_unreviewed()
    wait_idle(qtbot, win)
    check("re-run on unreviewed photos")
    win.set_filter(ReviewFilter.REVIEWED)
    win.search_edit.setText("1243")
    assert 0 < win.list_model.total() < len(win.items)
    check("a filter and a search (the counts are the folder's)", moves=False)
    win.set_filter(ReviewFilter.ALL)
    win.search_edit.clear()

    # ---- another folder and back
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    frame(elsewhere / "x.jpg", T0, 200)
    reader.table["x.jpg"] = [Bib("7", BOX, 0.9)]
    assert win.open_folder(elsewhere)
    wait_idle(qtbot, win)
    check("another folder", moves=True)
    assert win.open_folder(folder)
    wait_idle(qtbot, win)
    check("back", moves=True)


@pytest.mark.skipif(shutil.which("exiftool") is None, reason="exiftool missing: run `make sysdeps`")
def test_a_keyword_write_that_clears_a_load_error_shows_in_the_counts(qtbot, make_window, tmp_path, monkeypatch):
    """Writing keywords re-reads the rewritten files' facts in the window's own connection (no other program's
    write for the live updates to hear); a photo that could not be recognized but carries a bib typed by hand
    lost its load error in the store, while the window's snapshot, its row and the counts kept it."""
    from bibtagger_gui.core.keywords import KeywordOptions, jobs_from_store

    folder = tmp_path / "race"
    folder.mkdir()
    for seed, name in enumerate(("a.jpg", "b.jpg", "c.jpg")):
        frame(folder / name, T0 + timedelta(seconds=60 * seed), seed)
    reader = Reader({"a.jpg": [Bib("3", BOX, 0.9)]})
    reader.failing = {"b.jpg"}
    monkeypatch.setattr(Recognizer, "recognize_path", lambda self, path: reader(self, path))
    win = make_window()
    assert win.open_folder(folder)
    wait_idle(qtbot, win)
    check = Counted(qtbot, win)
    assert check("opened")[3] == 1  # b.jpg could not be read
    show(win, "b.jpg")
    for d in "12":
        key(qtbot, getattr(Qt.Key, f"Key_{d}"))
    key(qtbot, Qt.Key.Key_Return)  # a number typed on it (no box)
    check("a bib typed on the photo that could not be read", moves=True)
    ctl = win.keywords_controller
    ctl.interactive = False
    with qtbot.waitSignal(ctl.finished, timeout=60_000) as done:
        ctl.start(jobs_from_store(win.store), KeywordOptions())
    assert "b.jpg" in done.args[0].rewritten()
    check("keywords written", moves=True)
    assert win.items[pid(win, "b.jpg")].photo.sha1 == win.store.photo_by_path("b.jpg").sha1  # the new file's facts
