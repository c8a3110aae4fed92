"""MTurk review dialog and Crowd menu (pytest-qt, offscreen)."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

pytest.importorskip("PySide6")

from PySide6.QtCore import Qt  # noqa: E402
from PySide6.QtWidgets import QMainWindow  # noqa: E402

from bibtagger_gui.core import mturk  # noqa: E402
from bibtagger_gui.core.store import Store  # noqa: E402
from bibtagger_gui.gui import mturk_dialog  # noqa: E402
from bibtagger_gui.gui.mturk_dialog import FILTERS, MTurkReviewDialog, install  # noqa: E402
from tests.test_gui_support import gui_env, make_window  # noqa: E402,F401 (fixtures)
from tests.test_mturk import answer, photo, row, write_csv  # noqa: E402


@pytest.fixture(autouse=True)
def _store_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("BIBTAGGER_STORE_DIR", str(tmp_path / "stores"))


@pytest.fixture
def project(tmp_path):
    """(csv path, photo folder, store): 4 pending assignments, 1 approved, one photo on disk."""
    folder = tmp_path / "photos"
    photo(folder / "two.jpg", 400, 300)
    rows = [
        row("A1", "two.jpg", answer((100, 100, 50, 30, "12")), worker="W1"),
        row("A2", "two.jpg", answer((160, 100, 50, 30, "12")), worker="W2"),
        row("A3", "odd.jpg", answer((10, 10, 50, 30, "bib")), worker="W1"),
        row("A4", "done.jpg", answer((10, 10, 50, 30, "8")), worker="W3", status="Approved"),
        row("A5", "last.jpg", answer((10, 10, 50, 30, "9")), worker="W2"),
        row("A6", "two.jpg", answer((100, 100, 50, 30, "12"), (300, 200, 40, 30, "77?")), worker="W4"),
    ]
    src = write_csv(tmp_path / "batch.csv", rows)
    store = Store.open(folder)
    store.scan()
    yield src, folder, store
    store.close()


def open_dialog(qtbot, src: Path, store) -> MTurkReviewDialog:
    batch = mturk.read_batch(src)
    match = mturk.match_photos(batch, store)
    dialog = MTurkReviewDialog(batch, match, mturk.VerdictStore.open(store), store)
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.waitExposed(dialog)
    return dialog


def saved(store) -> dict[str, mturk.Verdict]:
    with mturk.VerdictStore.open(store) as vs:  # a separate connection: what is on disk
        return vs.all()


def test_keys_record_verdicts_that_survive_reopening(qtbot, project):
    src, folder, store = project
    dialog = open_dialog(qtbot, src, store)
    assert dialog.proxy.filter_key() == "pending"
    assert dialog.proxy.rowCount() == 5  # the Approved one is hidden
    assert dialog.current_assignment().assignment_id == "A1"
    assert dialog.preview.has_photo()

    qtbot.keyClick(dialog.table, Qt.Key.Key_A)
    assert saved(store)["A1"].action == mturk.APPROVE
    # Decided rows leave the pending filter; the next one is selected.
    assert dialog.current_assignment().assignment_id == "A2"
    assert dialog.proxy.rowCount() == 4

    qtbot.keyClick(dialog.table, Qt.Key.Key_R)
    v = saved(store)["A2"]
    assert v.action == mturk.REJECT and v.feedback == mturk.DEFAULT_REJECT_FEEDBACK
    assert dialog.current_assignment().assignment_id == "A3"
    assert not dialog.preview.has_photo()  # odd.jpg is not in the folder

    dialog.feedback.setText("You should input a number as a label")
    qtbot.keyClick(dialog.table, Qt.Key.Key_R)
    assert saved(store)["A3"].feedback == "You should input a number as a label"

    # An empty reason is refused and nothing is saved.
    dialog.feedback.setText("")
    qtbot.keyClick(dialog.table, Qt.Key.Key_R)
    assert "A5" not in saved(store) and "reason" in dialog.status.text()
    dialog.close()

    dialog2 = open_dialog(qtbot, src, store)
    assert dialog2.proxy.rowCount() == 2  # A5 and A6 still pending
    dialog2.set_filter("all")
    texts = {dialog2.model.assignment(r).assignment_id: dialog2.model.index(r, 4).data() for r in range(dialog2.model.rowCount())}
    assert texts["A1"] == "approve"
    assert texts["A2"] == f"reject: {mturk.DEFAULT_REJECT_FEEDBACK}"
    assert texts["A3"] == "reject: You should input a number as a label"
    assert texts["A5"] == ""


def test_typing_feedback_does_not_trigger_shortcuts(qtbot, project):
    src, folder, store = project
    dialog = open_dialog(qtbot, src, store)
    dialog.feedback.clear()
    dialog.feedback.setFocus()
    qtbot.keyClicks(dialog.feedback, "Race number")
    assert dialog.feedback.text() == "Race number"
    assert saved(store) == {}


def test_final_assignments_cannot_change_and_arrows_navigate(qtbot, project):
    src, folder, store = project
    dialog = open_dialog(qtbot, src, store)
    dialog.set_filter("all")
    assert dialog.current_assignment().assignment_id == "A1"
    qtbot.keyClick(dialog.table, Qt.Key.Key_Right)
    qtbot.keyClick(dialog.table, Qt.Key.Key_Right)
    qtbot.keyClick(dialog.table, Qt.Key.Key_Right)
    assert dialog.current_assignment().assignment_id == "A4"
    assert not dialog.approve_button.isEnabled()
    qtbot.keyClick(dialog.table, Qt.Key.Key_A)
    assert saved(store) == {} and "already Approved" in dialog.status.text()
    qtbot.keyClick(dialog.table, Qt.Key.Key_Left)
    assert dialog.current_assignment().assignment_id == "A3"
    qtbot.keyClick(dialog.table, Qt.Key.Key_A)
    assert saved(store)["A3"].action == mturk.APPROVE
    assert dialog.current_assignment().assignment_id == "A4"  # "all" keeps decided rows: the next one
    qtbot.keyClick(dialog.table, Qt.Key.Key_Left)
    assert dialog.current_assignment().assignment_id == "A3"
    qtbot.keyClick(dialog.table, Qt.Key.Key_U)
    assert saved(store) == {}


def test_the_agreed_line_leaves_out_a_rejected_answer(qtbot, project):
    src, folder, store = project
    dialog = open_dialog(qtbot, src, store)
    dialog.set_filter("all")
    assert dialog.select_assignment("A1")
    assert "Agreed by 2+ workers: 12" in dialog.details.text()  # A1 and A6: same box, same number
    assert dialog.select_assignment("A6")
    qtbot.keyClick(dialog.table, Qt.Key.Key_R)
    assert saved(store)["A6"].action == mturk.REJECT
    assert dialog.select_assignment("A1")
    assert "Agreed" not in dialog.details.text()


def test_filters(qtbot, project):
    src, folder, store = project
    dialog = open_dialog(qtbot, src, store)
    batch = dialog.batch
    for key, (_, pred) in FILTERS.items():
        dialog.set_filter(key)
        expected = [a.assignment_id for a in batch.assignments if pred(a, None)]
        shown = [dialog.model.assignment(dialog.proxy.mapToSource(dialog.proxy.index(r, 0)).row()).assignment_id for r in range(dialog.proxy.rowCount())]
        assert shown == expected, key
    dialog.set_filter(mturk.FLAG_NON_DIGIT)
    assert dialog.proxy.rowCount() == 2  # 'bib' and '77?'
    dialog.set_filter(mturk.FLAG_DISAGREEMENT)
    assert {dialog.current_assignment().image} == {"two.jpg"}
    dialog.set_filter(mturk.FLAG_MISSING_PHOTO)
    assert dialog.proxy.rowCount() == 3


def test_an_ambiguous_photo_name_has_its_own_filter_and_says_which_files(qtbot, tmp_path):
    """Two folders hold "x.jpg" and the batch names only "x.jpg": the row is not "Photo missing" but "Photo name
    matches several files", its details and Correct name the two files."""
    folder = tmp_path / "photos"
    photo(folder / "a" / "x.jpg", 400, 300)
    photo(folder / "b" / "x.jpg", 420, 300)
    src = write_csv(tmp_path / "batch.csv", [row("A1", "x.jpg", answer((10, 10, 50, 30, "12"))),
                                             row("A2", "gone.jpg", answer((10, 10, 50, 30, "13")))])  # fmt: skip
    with Store.open(folder) as store:
        store.scan()
        dialog = open_dialog(qtbot, src, store)
        dialog.set_filter(mturk.FLAG_AMBIGUOUS_PHOTO)
        assert dialog.proxy.rowCount() == 1 and dialog.current_assignment().assignment_id == "A1"
        assert "a/x.jpg, b/x.jpg" in dialog.details.text()
        assert dialog.preview._message.startswith("photo name matches several files")
        assert not dialog.correct()
        assert "Correct needs one photo: 2 photos have this file name (a/x.jpg, b/x.jpg)" in dialog.status.text()
        dialog.set_filter(mturk.FLAG_MISSING_PHOTO)
        assert dialog.proxy.rowCount() == 1 and dialog.current_assignment().assignment_id == "A2"
        dialog.close()


def test_correct_copies_boxes_as_human_bibs(qtbot, project):
    src, folder, store = project
    dialog = open_dialog(qtbot, src, store)
    changed = []
    dialog.bibs_changed.connect(changed.append)
    dialog.set_filter("all")
    assert dialog.select_assignment("A6")
    qtbot.keyClick(dialog.table, Qt.Key.Key_C)
    pid = store.photo_by_path("two.jpg").id
    human = [(b.number, b.box) for b in store.bibs(pid) if b.source == "human"]
    assert human == [("12", (100.0, 100.0, 150.0, 130.0)), ("77?", (300.0, 200.0, 340.0, 230.0))]
    assert saved(store)["A6"].action == mturk.CORRECT and changed == [pid]
    # Correct on a photo that is not in the folder explains itself and records nothing.
    assert dialog.select_assignment("A5")
    qtbot.keyClick(dialog.table, Qt.Key.Key_C)
    assert "A5" not in saved(store) and "Correct needs the photo" in dialog.status.text()


def test_closing_or_escaping_the_dialog_records_no_verdict(qtbot, project):
    src, folder, store = project
    dialog = open_dialog(qtbot, src, store)
    qtbot.keyClick(dialog.table, Qt.Key.Key_Escape)
    dialog.show()
    assert dialog.close() and not dialog.isVisible()  # QDialog.reject on close: nothing rejected
    assert saved(store) == {}


def test_a_rejected_answers_boxes_leave_the_photo_and_come_back_on_undo(qtbot, project):
    src, folder, store = project
    batch = mturk.read_batch(src)
    with mturk.VerdictStore.open(store) as vs:
        mturk.import_into_store(batch, store, vs, mturk.match_photos(batch, store))
    pid = store.photo_by_path("two.jpg").id

    def mturk_bibs():
        return sorted((b.extra["assignment_id"], b.number) for b in store.bibs(pid) if b.source == "mturk")

    assert mturk_bibs() == [("A1", "12"), ("A2", "12"), ("A6", "12")]
    dialog = open_dialog(qtbot, src, store)
    changed = []
    dialog.bibs_changed.connect(changed.append)
    assert dialog.select_assignment("A2")
    qtbot.keyClick(dialog.table, Qt.Key.Key_R)
    assert saved(store)["A2"].action == mturk.REJECT
    assert mturk_bibs() == [("A1", "12"), ("A6", "12")] and changed == [pid]
    assert store.deleted_numbers(pid) == set()  # a worker's box says nothing about the model's reading
    dialog.set_filter("all")
    assert dialog.select_assignment("A2")
    qtbot.keyClick(dialog.table, Qt.Key.Key_U)  # the rejection undone: the box is back
    assert "A2" not in saved(store)
    assert mturk_bibs() == [("A1", "12"), ("A2", "12"), ("A6", "12")]


def test_rejecting_after_the_photo_was_accepted_keeps_the_boxes_and_says_so(qtbot, project):
    """Accept (Enter) made the worker's box a human bib (its extra kept): a later Reject judges the worker, not
    the photo, so the box stays (and is trained on as the worker's) — and the dialog says so, naming it."""
    from bibtagger_gui.core import photo_batch

    src, folder, store = project
    batch = mturk.read_batch(src)
    with mturk.VerdictStore.open(store) as vs:
        mturk.import_into_store(batch, store, vs, mturk.match_photos(batch, store))
    pid = store.photo_by_path("two.jpg").id
    photo_batch.accept_photo(store, pid)
    dialog = open_dialog(qtbot, src, store)
    assert dialog.select_assignment("A2")
    qtbot.keyClick(dialog.table, Qt.Key.Key_R)
    assert saved(store)["A2"].action == mturk.REJECT
    assert [b.source for b in store.bibs(pid) if b.extra and b.extra.get("assignment_id") == "A2"] == ["human"]
    assert ("photo two.jpg was already accepted with this worker's box(es) 12; they stay"
            in dialog.status.text()), dialog.status.text()
    assert "open the photo to fix them" in dialog.status.text()


def test_rejecting_before_any_accept_says_nothing_more(qtbot, project):
    src, folder, store = project
    batch = mturk.read_batch(src)
    with mturk.VerdictStore.open(store) as vs:
        mturk.import_into_store(batch, store, vs, mturk.match_photos(batch, store))
    dialog = open_dialog(qtbot, src, store)
    assert dialog.select_assignment("A2")
    qtbot.keyClick(dialog.table, Qt.Key.Key_R)
    assert "Saved: reject" in dialog.status.text() and "already accepted" not in dialog.status.text()


def test_install_adds_crowd_menu_and_export(qtbot, project, tmp_path):
    src, folder, store = project
    window = QMainWindow()
    window.store, window.folder = store, folder
    qtbot.addWidget(window)
    controller = install(window)
    menus = {a.text().replace("&", ""): a.menu() for a in window.menuBar().actions()}
    assert "Crowd" in menus
    assert [a.text() for a in menus["Crowd"].actions()] == ["Import MTurk Batch…", "Export MTurk Verdicts…"]

    dialog = controller.open_batch(src)
    qtbot.waitExposed(dialog)
    # The workers' digit boxes of photos in the folder became mturk bibs (A1 and A2 on two.jpg, A6's '12').
    pid = store.photo_by_path("two.jpg").id
    assert sorted(b.extra["assignment_id"] for b in store.bibs(pid) if b.source == "mturk") == ["A1", "A2", "A6"]
    qtbot.keyClick(dialog.table, Qt.Key.Key_A)
    qtbot.keyClick(dialog.table, Qt.Key.Key_R)
    out = tmp_path / "upload.csv"
    rep = controller.export_to(out)
    assert rep.approved == ["A1"] and rep.rejected == ["A2"]
    with open(out, newline="", encoding="utf-8") as f:
        got = {r["AssignmentId"]: (r["Approve"], r["Reject"]) for r in csv.DictReader(f)}
    assert got["A1"] == ("x", "") and got["A2"] == ("", mturk.DEFAULT_REJECT_FEEDBACK)
    assert not any(got["A4"]) and not any(got["A5"])  # untouched: still without those fields, as downloaded
    with pytest.raises(mturk.BatchFormatError):
        controller.export_to(src)
    dialog.close()


def test_install_without_store_uses_the_folder(qtbot, tmp_path, project):
    src, folder, store = project
    window = QMainWindow()
    window.store, window.folder = None, folder
    qtbot.addWidget(window)
    controller = mturk_dialog.install(window)
    dialog = controller.open_batch(src)
    assert set(dialog.match.present) == {"two.jpg"}
    qtbot.keyClick(dialog.table, Qt.Key.Key_A)
    assert saved(store)["A1"].action == mturk.APPROVE  # same mturk.db as the store's
    dialog.close()


def test_main_window_integration(qtbot, make_window, tmp_path):
    from tests.test_gui_support import make_photos, wait_idle

    folder = tmp_path / "event"
    made = make_photos(folder, 2)
    (rel0, number0, box0), (rel1, _, _) = made
    x1, y1, x2, y2 = box0
    src = write_csv(tmp_path / "batch.csv", [
        row("A1", rel0, answer((x1, y1, x2 - x1, y2 - y1, number0)), worker="W1"),
        row("A2", rel1, answer((5, 5, 30, 20, "7o")), worker="W2"),
        row("A3", "elsewhere.jpg", answer((5, 5, 30, 20, "1")), worker="W2"),
    ])  # fmt: skip
    win = make_window()
    assert win.feature_errors == []
    assert "Crowd" in [a.text().replace("&", "") for a in win.menuBar().actions()]
    assert win.open_folder(folder)
    wait_idle(qtbot, win)
    dialog = win.mturk_controller.open_batch(src)
    qtbot.waitExposed(dialog)
    assert dialog.match.missing == ["elsewhere.jpg"]
    pid0 = win.store.photo_by_path(rel0).id
    assert [(b.number, b.extra["worker_id"]) for b in win.store.bibs(pid0) if b.source == "mturk"] == [(number0, "W1")]
    assert dialog.select_assignment("A2")
    qtbot.keyClick(dialog.table, Qt.Key.Key_C)
    pid1 = win.store.photo_by_path(rel1).id
    assert win.current_id == pid1  # the main window shows the corrected photo for editing
    assert [b.number for b in win.current_bibs if b.source == "human"] == ["7o"]
    dialog.close()
