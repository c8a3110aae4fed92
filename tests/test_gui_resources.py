"""A long session keeps the app's resources bounded (docs/gui.md#a-long-session).

Counts, not timings: folder switches leave no job objects, file descriptors or threads behind; the
dialogs a feature opens are deleted after use; the thumbnail LRU holds at most its memory budget; an
idle worker thread holds nothing; and a short run of the session driver (training/app_session.py,
the benchmark's ``gui_session``) ends with the window's QObjects, widgets, dialogs, fds and threads
where they were after the first round.
"""

from __future__ import annotations

import gc
import shutil
import threading
import weakref

import pytest

pytest.importorskip("PySide6")

from PySide6.QtWidgets import QApplication, QDialog, QMessageBox  # noqa: E402

from bibtagger_gui.gui.workers import _Job  # noqa: E402
from tests.test_gui_support import gui_env, make_photos, make_window, wait_idle  # noqa: E402,F401 (fixtures)
from training.app_session import Session, flush, open_fds, os_threads, run_session, settle  # noqa: E402


@pytest.fixture(autouse=True)
def _store_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("BIBTAGGER_STORE_DIR", str(tmp_path / "stores"))


def track_jobs(win) -> list[weakref.ref]:
    """Weak references to every job ``win`` starts from now on (other tests' objects do not count)."""
    refs: list[weakref.ref] = []
    start = win._start

    def tracking(job):
        assert isinstance(job, _Job)
        refs.append(weakref.ref(job))
        start(job)

    win._start = tracking
    return refs


def alive(refs: list[weakref.ref]) -> int:
    gc.collect()
    return sum(1 for r in refs if r() is not None)


def test_folder_switches_leave_no_jobs_fds_or_threads_behind(qtbot, make_window, tmp_path):
    """Every open runs a scan (and a recognition of new photos); 10 switches between two folders must
    leave none of those jobs alive (a lambda holding its job made a cycle through the job's QObject that
    the GC cannot see, so every job ever run stayed), nor more file descriptors or threads."""
    a, b = tmp_path / "a", tmp_path / "b"
    make_photos(a, 3)
    make_photos(b, 3, seed=1)
    win = make_window()
    jobs = track_jobs(win)
    for folder in (a, b):
        assert win.open_folder(folder)
        wait_idle(qtbot, win)
    settle(QApplication.instance())
    fds, threads, named = open_fds()[0], os_threads(), {t.name for t in threading.enumerate()}
    for i in range(10):
        assert win.open_folder(a if i % 2 == 0 else b)
        wait_idle(qtbot, win)
    settle(QApplication.instance())
    assert len(jobs) >= 12 and alive(jobs) == 0
    assert open_fds()[0] <= fds  # (fewer when another test's leftovers were collected meanwhile)
    # The count is the whole process's: in the full suite it holds ~675 threads, and one of another test's
    # pools may start a thread meanwhile (seen once, 676 <= 675). A thread left per open shows as >= 10.
    new = sorted({t.name for t in threading.enumerate()} - named)
    assert os_threads() <= threads + 2, f"threads {threads} -> {os_threads()}; new Python threads: {new}"


def test_feature_dialogs_are_deleted_after_use(qtbot, make_window, tmp_path, monkeypatch):
    """The export dialog, the keyword dialog, the message boxes and a replaced MTurk review dialog are
    children of the window: each used to stay (hidden) until the window closed, one more per use."""
    from bibtagger_gui.gui import keywords_action
    from bibtagger_gui.gui.export_action import SPEC_BY_FORMAT
    from training.app_session import write_mturk_batch

    monkeypatch.setattr(QDialog, "exec", lambda self: int(QDialog.DialogCode.Accepted))
    monkeypatch.setattr(QMessageBox, "exec", lambda self: int(QMessageBox.StandardButton.Ok))
    made = make_photos(tmp_path / "p", 3)
    win = make_window()
    assert win.open_folder(tmp_path / "p")
    wait_idle(qtbot, win)
    app = QApplication.instance()

    def dialogs() -> dict[str, int]:
        flush(app)
        names: dict[str, int] = {}
        for w in QApplication.allWidgets():
            if isinstance(w, QDialog):
                names[type(w).__name__] = names.get(type(w).__name__, 0) + 1
        return names

    before = dialogs()
    kw = win.keywords_controller
    monkeypatch.setattr(keywords_action, "find_exiftool", lambda: "exiftool")
    started = []
    monkeypatch.setattr(kw, "start", lambda jobs, options, exe=None: started.append(len(jobs)))
    csv_path = write_mturk_batch(tmp_path / "batch.csv", [rel for rel, _, _ in made])
    for _ in range(3):
        assert win.export_controller.ask(SPEC_BY_FORMAT["csv"]) is not None
        kw.trigger()
        win.export_controller._message(QMessageBox.Icon.Information, "Export", "done")
        win.mturk_controller.open_batch(csv_path)
    assert started == [3, 3, 3]  # the keyword dialog was really accepted, its jobs taken
    after = dialogs()
    assert after.pop("MTurkReviewDialog", 0) == 1  # the open batch's dialog, not one per import
    assert after == before


def test_thumbnail_memory_stays_within_its_budget(qtbot):
    """The LRU's cap is a memory budget in real bytes: 3,000 thumbnails (the former cap) held ~200 MB, and
    a thumbnail for a 200 % screen has four times the pixels of one for 100 %."""
    from PySide6.QtGui import QImage

    from bibtagger_gui.gui.thumbnails import MEMORY_BUDGET_MB, ThumbnailProvider, thumb_bytes

    def held_mb(p: ThumbnailProvider) -> float:
        return sum(x.width() * x.height() * x.depth() // 8 for x in p._lru.values()) / 2**20

    img = QImage(480, 320, QImage.Format.Format_RGB888)
    img.fill(0x808080)
    kept = {}
    for ratio in (1.0, 2.0):
        small = ThumbnailProvider(budget_mb=1)
        for pid in range(60):  # more than 1 MiB of thumbnails
            small._current[pid] = pid
            small._on_done(pid, pid, img, ratio)
        kept[ratio] = len(small._lru)
        assert kept[ratio] == 2**20 // thumb_bytes(ratio=ratio) < 60
        assert list(small._lru) == list(range(60 - kept[ratio], 60))  # the most recent ones
        assert small.held_bytes == held_mb(small) * 2**20 <= 2**20
        assert held_mb(small) > 1.0 - thumb_bytes(ratio=ratio) / 2**20  # no room for one more
        small.pool.shutdown()
    assert kept[2.0] == 2**20 // (4 * thumb_bytes())  # a quarter as many at 200 %
    default = ThumbnailProvider()
    default._current[0] = 0
    default._on_done(0, 0, img)
    assert default.held_bytes == thumb_bytes() == held_mb(default) * 2**20  # 160x106, 4 bytes a pixel
    assert MEMORY_BUDGET_MB * 2**20 // thumb_bytes() > 900  # ~990 rows' thumbnails at 100 %
    default.pool.shutdown()


def test_an_idle_worker_holds_no_finished_work():
    """The window frees its jobs (and their QObjects) in the GUI thread; a worker thread that kept its
    last task until the next one arrived would free it there instead."""
    from bibtagger_gui.gui.threads import WorkQueue

    class Work:
        def __call__(self) -> None:
            pass

    pool = WorkQueue(1)
    work = Work()
    ref = weakref.ref(work)
    task = pool.submit(work)
    del work
    assert pool.wait_for_done(5)
    assert task.done and task.fn is None
    assert ref() is None  # no gc.collect: nothing but the task held it
    pool.shutdown()


def test_a_short_session_ends_where_it_began(qtbot, make_window, tmp_path, monkeypatch):
    """The benchmark's session driver, small: 8 rounds of folder switch, steps, edits, undo/redo,
    searches, filters, MTurk dialog, export, keywords (when exiftool is there) and a recognition re-run.
    After warm-up (two rounds: both folders opened once) the window's objects come back to the same
    counts at the same point of the round, and the undo stack holds only the open folder's edits."""
    monkeypatch.setattr(QDialog, "exec", lambda self: int(QDialog.DialogCode.Accepted))
    monkeypatch.setattr(QMessageBox, "exec", lambda self: int(QMessageBox.StandardButton.Ok))
    # (the benchmark calls app_session.quiet_dialogs for the same; monkeypatch undoes it after the test)
    a, b, kw = tmp_path / "a", tmp_path / "b", tmp_path / "kw"
    make_photos(a, 6)
    make_photos(b, 5, seed=1)
    make_photos(kw, 2, seed=2)
    win = make_window()
    jobs = track_jobs(win)
    app = QApplication.instance()
    session = Session(app, win, [a, b], tmp_path / "work", keywords_folder=kw if shutil.which("exiftool") else None,
                      recognize=2)  # fmt: skip
    samples = run_session(app, win, session, cycles=10, steps=6)
    assert session.actions["mturk"] == 2 and session.actions["export"] == 2 and session.actions["recognition"] == 2
    assert session.actions["edit"] > 0 and session.actions["undo_redo"] > 0
    keys = ("qobjects", "widgets", "dialogs", "qthreads", "qtimers", "fds", "db_fds", "threads", "py_threads")
    # samples[k] follows round k: odd rounds open folder a, even ones b; the first recognition (round 5)
    # starts onnxruntime's threads for good, the MTurk dialog is open after rounds 1 and 6
    for early, late in ((5, 7), (5, 9)):
        assert {k: samples[late][k] for k in keys} == {k: samples[early][k] for k in keys}, (early, late)
    # every round: no more than in the first three (the MTurk dialog's verdict store is open after round 1;
    # SQLite keeps the fd of a connection closed while another one holds the file, until it reuses it:
    # one per project file, not one per export)
    for s in samples[5:]:
        for k in ("fds", "db_fds"):
            assert s[k] <= max(samples[i][k] for i in (1, 2, 3)), (k, s)
        assert (s["qobjects"], s["widgets"], s["dialogs"]) in {(samples[k]["qobjects"], samples[k]["widgets"],
                                                                samples[k]["dialogs"]) for k in (1, 2)}, s  # fmt: skip
    assert samples[-1]["undo"] <= 6 + 2  # the last round's edits only: opening a folder empties the stack
    assert len(jobs) >= 12 and alive(jobs) == 0


def test_a_job_whose_worker_lets_go_late_is_released_without_another_start(qtbot, make_window):
    """The window gets a job's last signal before its worker thread has let go of it (under load, often).
    It keeps the job until then; it used to look again only when the next job started, so the last job
    of a session stayed (and the folder-switch test above failed under load)."""
    from types import SimpleNamespace

    win = make_window()
    job = SimpleNamespace(task=SimpleNamespace(started=True, done=False))
    win._retire([job])
    assert win._retired == [job]  # its worker still holds it: not dropped in the worker thread
    job.task.done = True  # the worker lets go
    qtbot.waitUntil(lambda: win._retired == [], timeout=2000)
