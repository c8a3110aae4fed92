"""Recognition follows the reviewer (the photo shown and the next ones first), Pause/Resume, Cancel.

A real window with the placeholder models; ``Recognizer.recognize_path`` is replaced by a :class:`Stepper`
that records each photo it is asked for and holds it until the test lets it go, so the order is exact.
"""

from __future__ import annotations

import threading
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication

from bibtagger_gui.core.bib import Bib
from bibtagger_gui.core.recognition_queue import POLL_S
from bibtagger_gui.core.recognizer import Recognizer
from bibtagger_gui.core.store import Store
from tests.test_gui_support import gui_env, make_photos, make_window, wait_idle  # noqa: F401 - fixtures

N = 30


class Stepper:
    """``recognize_path`` that records the photos it is asked for and waits for a :meth:`go` per photo."""

    def __init__(self, monkeypatch, answers: dict[str, list[Bib]]):
        self.started: list[str] = []
        self._go = threading.Semaphore(0)
        stepper = self

        def fake(_rec, path):
            name = Path(path).name
            stepper.started.append(name)
            if not stepper._go.acquire(timeout=30):
                raise RuntimeError("the test never let this photo go")
            return list(answers.get(name, []))

        monkeypatch.setattr(Recognizer, "recognize_path", fake)

    def wait_started(self, qtbot, count: int) -> str:
        qtbot.waitUntil(lambda: len(self.started) >= count, timeout=20000)
        return self.started[count - 1]

    def go(self, qtbot, n: int = 1) -> str | None:
        """Let the photo under way finish; the name of the photo started next (None: nothing started)."""
        before = len(self.started)
        for _ in range(n):
            self._go.release()
        if n == 1:
            try:
                qtbot.waitUntil(lambda: len(self.started) > before, timeout=5000)
            except Exception:  # noqa: BLE001 - the run may have ended
                return None
            return self.started[before]
        return None

    def finish(self) -> None:
        for _ in range(N * 2):
            self._go.release()


def shoot(qtbot, make_window, tmp_path, monkeypatch):
    """N photos, each answered with its own number; the window open on them, photo_000 being recognized."""
    folder = tmp_path / "p"
    photos = make_photos(folder, N)
    stepper = Stepper(monkeypatch, {rel: [Bib(num, box, 0.5)] for rel, num, box in photos})
    win = make_window()
    win.open_folder(folder)
    assert stepper.wait_started(qtbot, 1) == "photo_000.jpg"  # the first photo of the list, shown
    assert win.current_id == win.store.photo_by_path("photo_000.jpg").id
    return win, stepper, folder


def pid(win, i: int) -> int:
    return win.store.photo_by_path(f"photo_{i:03d}.jpg").id


def key(qtbot, k, mod=Qt.KeyboardModifier.NoModifier):
    qtbot.keyClick(QApplication.focusWidget() or QApplication.activeWindow(), k, mod)


def test_the_photo_shown_is_recognized_next_and_its_view_updates(qtbot, make_window, tmp_path, monkeypatch):
    """It used to wait for every photo before it in the run's fixed order (minutes on a 5,000-photo shoot)."""
    win, stepper, folder = shoot(qtbot, make_window, tmp_path, monkeypatch)
    assert win.select_photo(pid(win, 25))  # the reviewer jumps far ahead while photo_000 is recognized
    assert win.current_bibs == []
    assert stepper.go(qtbot) == "photo_025.jpg"  # before photo_001 … photo_024
    assert stepper.go(qtbot) == "photo_026.jpg"  # then the next ones of the list
    # photo_025's predictions reached the view (the photo shown), the least confident bib selected
    qtbot.waitUntil(lambda: [b.number for b in win.current_bibs] == ["125"], timeout=5000)
    assert win.selected_bib == win.current_bibs[0].id and win.panel.table.rowCount() == 1
    stepper.finish()
    wait_idle(qtbot, win)
    # … then photo_027 … photo_029, the list wrapping to photo_001 …, each photo once
    assert stepper.started[:6] == [f"photo_{i:03d}.jpg" for i in (0, 25, 26, 27, 28, 29)]
    assert stepper.started[6] == "photo_001.jpg"
    assert sorted(stepper.started) == [f"photo_{i:03d}.jpg" for i in range(N)]
    assert win.last_job_outcome[:2] == ("recognize", "done")
    with Store.open(folder) as store:
        assert all(p.model_version for p in store.photos())


def test_moving_to_another_photo_reprioritizes(qtbot, make_window, tmp_path, monkeypatch):
    win, stepper, _ = shoot(qtbot, make_window, tmp_path, monkeypatch)
    win.select_photo(pid(win, 10))
    assert stepper.go(qtbot) == "photo_010.jpg"
    win.select_photo(pid(win, 20))  # moved on while photo_010 is recognized: photo_011 … wait
    assert stepper.go(qtbot) == "photo_020.jpg"
    key(qtbot, Qt.Key.Key_Left)  # back to photo_019 (not recognized yet) with the keys
    assert win.current_id == pid(win, 19)
    assert stepper.go(qtbot) == "photo_019.jpg"
    assert stepper.go(qtbot) == "photo_021.jpg"  # the photo after it is done: the next one not done yet
    stepper.finish()
    wait_idle(qtbot, win)
    assert sorted(stepper.started) == [f"photo_{i:03d}.jpg" for i in range(N)]  # nothing twice


def test_a_photo_accepted_or_typed_on_while_it_is_recognized_keeps_the_users_work(qtbot, make_window, tmp_path,
                                                                                 monkeypatch):  # fmt: skip
    """The photo shown is now the one being recognized: the existing rules for a result that arrives after
    the user's edit hold (docs/review-flow.md#keyboard-only, RecognitionJob)."""
    win, stepper, folder = shoot(qtbot, make_window, tmp_path, monkeypatch)
    win.select_photo(pid(win, 15))
    assert stepper.go(qtbot) == "photo_015.jpg"
    key(qtbot, Qt.Key.Key_7)
    key(qtbot, Qt.Key.Key_Return)  # a bib without a box, typed before the recognizer answers
    key(qtbot, Qt.Key.Key_Return)  # and the photo accepted: the next unreviewed one (photo_016) is shown
    assert win.current_id == pid(win, 16)
    assert stepper.go(qtbot) == "photo_016.jpg"  # photo_015's result arrived after the accept: dropped
    key(qtbot, Qt.Key.Key_4)  # typing on photo_016 while it is recognized
    assert stepper.go(qtbot) == "photo_017.jpg"
    qtbot.waitUntil(lambda: [b.number for b in win.current_bibs] == ["116"], timeout=5000)  # the view updated
    assert win.number_edit.text() == "4" and QApplication.focusWidget() is win.number_edit  # the typing stays
    key(qtbot, Qt.Key.Key_Return)
    stepper.finish()
    wait_idle(qtbot, win)
    with Store.open(folder) as store:
        p15, p16 = store.photo_by_path("photo_015.jpg"), store.photo_by_path("photo_016.jpg")
        assert p15.reviewed and [(b.number, b.source) for b in store.bibs(p15.id)] == [("7", "human")]
        assert sorted((b.number, b.source) for b in store.bibs(p16.id)) == [("116", "model"), ("4", "human")]
    assert sorted(stepper.started) == [f"photo_{i:03d}.jpg" for i in range(N)]


def test_a_photo_accepted_between_the_jobs_check_and_its_write_stays_reviewed(qtbot, make_window, tmp_path,
                                                                              monkeypatch):  # fmt: skip
    """The job used to check "reviewed?" and then write the predictions in another transaction: an accept in
    between was undone (new model bibs unreview a photo). The check is now inside the write's transaction."""
    win, stepper, folder = shoot(qtbot, make_window, tmp_path, monkeypatch)
    target = pid(win, 15)
    real = Store.set_model_bibs

    def accepted_meanwhile(self, photo_id, *args, **kwargs):
        if photo_id == target:  # the user's accept lands just before this write (another connection)
            with Store.open(folder) as other:
                other.set_reviewed(photo_id, True)
        return real(self, photo_id, *args, **kwargs)

    monkeypatch.setattr(Store, "set_model_bibs", accepted_meanwhile)
    win.select_photo(target)
    assert stepper.go(qtbot) == "photo_015.jpg"
    stepper.finish()
    wait_idle(qtbot, win)
    with Store.open(folder) as store:
        assert store.photo(target).reviewed and store.bibs(target) == []  # the review stands, nothing added
        assert store.bibs(pid(win, 16)) and not store.photo(pid(win, 16)).reviewed  # the others got theirs


def test_pause_stops_new_photos_and_resume_goes_on(qtbot, make_window, tmp_path, monkeypatch):
    win, stepper, folder = shoot(qtbot, make_window, tmp_path, monkeypatch)
    key(qtbot, Qt.Key.Key_P, Qt.KeyboardModifier.ControlModifier)  # Recognition > Pause Recognition
    assert win.recognition_paused and "paused" in win.progress.text().lower()
    assert win.actions_by_name["pause_recognition"].text().replace("&", "") == "Resume Recognition"
    stepper.finish()  # photo_000 may finish; nothing new may start
    with Store.open(folder) as store:
        qtbot.waitUntil(lambda: store.photo_by_path("photo_000.jpg").model_version is not None, timeout=5000)
    qtbot.wait(int(4 * POLL_S * 1000))
    assert stepper.started == ["photo_000.jpg"] and win.busy and win.progress.isVisible()
    assert win.last_progress == (1, N) and "paused" in win.progress.text().lower()
    win.select_photo(pid(win, 12))  # moving while paused starts nothing either …
    qtbot.wait(int(2 * POLL_S * 1000))
    assert stepper.started == ["photo_000.jpg"]
    win.actions_by_name["pause_recognition"].trigger()  # … and on resume the photo shown comes first
    assert not win.recognition_paused and "paused" not in win.progress.text().lower()
    wait_idle(qtbot, win)
    assert stepper.started[1] == "photo_012.jpg"
    assert sorted(stepper.started) == [f"photo_{i:03d}.jpg" for i in range(N)]
    assert win.last_job_outcome[:2] == ("recognize", "done")


def test_a_run_that_goes_on_with_the_paused_one_waits_and_cancel_stops_it_and_ends_the_pause(qtbot, make_window, tmp_path,
                                                                                              monkeypatch):
    """The window's own restart (the import's, after it stopped the run) keeps the pause; the user's Cancel stops a
    paused run at once and ends the pause with it: nothing is left to pause, so the next run is not paused."""
    win, stepper, folder = shoot(qtbot, make_window, tmp_path, monkeypatch)
    win.toggle_recognition_pause()
    stepper.finish()
    qtbot.waitUntil(lambda: win.last_progress == (1, N), timeout=5000)
    assert win.start_recognition([pid(win, 3)])  # as the import starts the stopped run again
    assert len(win.jobs) == 2 and all(j.paused for j in win.jobs)
    win.cancel_button.click()  # Cancel still stops a paused run at once
    wait_idle(qtbot, win, 5000)
    assert win.last_job_outcome[:2] == ("recognize", "cancelled")
    assert win.statusBar().currentMessage().startswith(f"Recognition cancelled: 1 of {N} photo(s)")
    assert stepper.started == ["photo_000.jpg"] and not win.progress.isVisible()
    with Store.open(folder) as store:
        assert [p.relpath for p in store.photos() if p.model_version] == ["photo_000.jpg"]  # what was done is kept
    assert not win.recognition_paused  # the pause ended with the runs it held
    assert win.actions_by_name["pause_recognition"].text().replace("&", "") == "Pause Recognition"
    assert win.start_recognition([pid(win, 3)])  # a new run starts at once
    wait_idle(qtbot, win)
    assert stepper.started == ["photo_000.jpg", "photo_003.jpg"]


def test_a_rerun_the_user_starts_ends_the_pause(qtbot, make_window, tmp_path, monkeypatch):
    """Re-run on Unreviewed Photos while paused used to be queued paused behind the paused run, waiting for a Resume
    the user did not know was needed; starting a run now means recognize: the pause ends, both runs go on."""
    win, stepper, _folder = shoot(qtbot, make_window, tmp_path, monkeypatch)
    key(qtbot, Qt.Key.Key_P, Qt.KeyboardModifier.ControlModifier)
    assert win.recognition_paused and "paused" in win.progress.text().lower()
    assert win.rerun_unreviewed()
    assert not win.recognition_paused and not any(j.paused for j in win.jobs)
    assert win.actions_by_name["pause_recognition"].text().replace("&", "") == "Pause Recognition"
    assert "paused" not in win.progress.text().lower()
    assert win.statusBar().currentMessage().startswith("Recognition resumed: re-running on ")
    stepper.finish()
    wait_idle(qtbot, win)
    assert sorted(set(stepper.started)) == [f"photo_{i:03d}.jpg" for i in range(N)]  # the first run went on too
    assert win.last_job_outcome[:2] == ("recognize", "done")


def test_the_pause_ends_with_its_folder(qtbot, make_window, tmp_path, monkeypatch):
    """Paused, then another folder opened: its recognition runs (it used to start paused, the bar saying so, for the
    rest of the session); a pause pressed during that folder's scan still holds the run that follows the scan."""
    win, stepper, _folder = shoot(qtbot, make_window, tmp_path, monkeypatch)
    win.toggle_recognition_pause()
    other = tmp_path / "other"
    make_photos(other, 3, seed=5)
    assert win.open_folder(other)
    assert not win.recognition_paused
    assert win.actions_by_name["pause_recognition"].text().replace("&", "") == "Pause Recognition"
    stepper.finish()
    wait_idle(qtbot, win)
    assert win.last_job_outcome[:2] == ("recognize", "done")
    assert all(p.model_version for p in win.store.photos())
    third = tmp_path / "third"
    make_photos(third, 2, seed=6)
    assert win.open_folder(third)
    assert win.jobs and win.jobs[0].kind == "scan"
    win.toggle_recognition_pause()  # during the scan: the run after it starts paused
    qtbot.waitUntil(lambda: any(j.kind == "recognize" for j in win.jobs), timeout=10000)
    assert win.recognition_paused and win.jobs[0].paused and "paused" in win.progress.text().lower()
    win.cancel_by_user()
    wait_idle(qtbot, win)


def _human_box_shoot(qtbot, make_window, tmp_path, monkeypatch):
    """N photos; photo_000 carries a human bib with a box before the window opens (so it has a box to drag
    while its recognition is under way) and the recognizer reads another bib elsewhere on it."""
    folder = tmp_path / "p"
    photos = make_photos(folder, N)
    rel0, _num0, box0 = photos[0]
    x1, y1, x2, y2 = box0
    far = (5.0, 5.0, 45.0, 30.0) if x1 > 60 or y1 > 45 else (250.0, 190.0, 300.0, 225.0)
    stepper = Stepper(monkeypatch, {rel0: [Bib("999", far, 0.5)]})
    with Store.open(folder) as store:
        store.scan()
        human = store.add_bib(store.photo_by_path(rel0).id, "42", box0)
    win = make_window()
    win.open_folder(folder)
    stepper.wait_started(qtbot, 1)
    assert win.select_photo(human.photo_id)
    if stepper.started != [rel0]:  # the run began elsewhere (on a loaded machine the window may show photo_000
        assert stepper.go(qtbot) == rel0  # only after the run took its first photo): photo_000 is taken next
    assert stepper.started[-1] == rel0  # the photo shown, being recognized
    assert [b.id for b in win.current_bibs] == [human.id] and win.selected_bib == human.id
    return win, stepper, folder, human


def test_recognition_of_the_photo_shown_does_not_cancel_a_box_drag(qtbot, make_window, tmp_path, monkeypatch):
    """The recognition job's refresh of the photo shown used to redraw the boxes under the mouse
    (PhotoView.set_bibs dropped the drag): the box jumped back and the release saved nothing. Now the
    refresh waits for the release, and then shows the new reading beside the moved box."""
    from PySide6.QtCore import QPoint

    win, stepper, folder, human = _human_box_shoot(qtbot, make_window, tmp_path, monkeypatch)
    view, vp = win.photo_view, win.photo_view.viewport()
    x1, y1, x2, y2 = human.box
    press = view.mapFromScene((x1 + x2) / 2, (y1 + y2) / 2)
    qtbot.mousePress(vp, Qt.MouseButton.LeftButton, pos=press)
    qtbot.mouseMove(vp, press + QPoint(6, 4))
    assert view.adjusting
    live = view.selected_item().rect()
    stepper.go(qtbot)  # photo_000's reading is written and its photo_done refreshes the photo shown
    qtbot.waitUntil(lambda: len(win.current_bibs) == 2, timeout=5000)
    assert view.adjusting  # the drag goes on
    assert [b.bib_id for b in view.box_items()] == [human.id] and view.selected_item().rect() == live
    qtbot.mouseMove(vp, press + QPoint(12, 8))
    qtbot.mouseRelease(vp, Qt.MouseButton.LeftButton, pos=press + QPoint(12, 8))
    assert not view.adjusting
    moved = win.store.bib(human.id).box
    assert moved != human.box and moved[0] > x1 and moved[1] > y1  # the drag was saved
    shown = {b.bib_id: b.rect() for b in view.box_items()}  # the deferred refresh, applied at the release
    assert set(shown) == {b.id for b in win.current_bibs}
    assert shown[human.id].left() == moved[0] and shown[human.id].top() == moved[1]
    stepper.finish()
    wait_idle(qtbot, win)


def test_a_typed_number_is_kept_by_the_recognition_refresh_when_the_field_has_no_focus(qtbot, make_window, tmp_path,
                                                                                       monkeypatch):  # fmt: skip
    """BibPanel.set_selected put the selected bib's number over a typed one whenever the number field had no
    focus: the recognition result of the photo shown turned a typed "4" into the new reading "116", and Enter
    then confirmed the reading instead of adding 4 (only the live-update poll put the typed text back)."""
    win, stepper, folder = shoot(qtbot, make_window, tmp_path, monkeypatch)
    win.select_photo(pid(win, 16))
    assert stepper.go(qtbot) == "photo_016.jpg"
    win.type_digit("4")
    win.photo_view.setFocus()  # the user looks elsewhere (a click on the photo): the typed number stays open
    assert win._entry is not None and QApplication.focusWidget() is not win.number_edit
    assert stepper.go(qtbot) == "photo_017.jpg"
    qtbot.waitUntil(lambda: [b.number for b in win.current_bibs] == ["116"], timeout=5000)  # refreshed
    assert win.number_edit.text() == "4" and win._entry is not None  # the typed number, unchanged
    win.select_bib(win.current_bibs[0].id)  # any refresh of the panel (here a click on the new reading's row)
    assert win.number_edit.text() in ("", "116")  # ... commits the typed number first, then shows the selection
    stepper.finish()
    wait_idle(qtbot, win)
    with Store.open(folder) as store:
        assert sorted(b.number for b in store.bibs(pid(win, 16))) == ["116", "4"]
