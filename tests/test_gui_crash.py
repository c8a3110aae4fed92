"""The GUI process SIGKILLed right after an edit: the edit is in the store on reopen (docs/crash-safety.md)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

from bibtagger_gui.core.store import Store
from tests.test_gui_support import make_photos

CHILD = textwrap.dedent(
    """
    import sys, time
    from PySide6.QtCore import QSettings
    from PySide6.QtWidgets import QApplication
    from bibtagger_gui.core.recognizer import Recognizer
    from bibtagger_gui.gui.commands import AcceptPhotoCommand, AddBibCommand, DeleteBibCommand
    from bibtagger_gui.gui.main_window import MainWindow

    Recognizer.recognize_path = lambda self, path: []
    folder, models, settings = sys.argv[1:4]
    app = QApplication([])
    win = MainWindow(models_dir=models, settings=QSettings(settings, QSettings.Format.IniFormat))
    win.show()
    assert win.open_folder(folder)
    deadline = time.time() + 60
    while win.busy and time.time() < deadline:
        app.processEvents()
        time.sleep(0.01)
    first, second = win.store.photos()[:2]
    assert win.push_edit(AddBibCommand(win.ctx, first.id, "1234", (10.0, 10.0, 60.0, 40.0)))
    assert win.push_edit(AcceptPhotoCommand(win.ctx, first.id))
    assert win.push_edit(AddBibCommand(win.ctx, second.id, "55", None))
    (row,) = win.store.bibs(second.id)
    assert win.push_edit(DeleteBibCommand(win.ctx, second.id, row))
    print("READY", flush=True)  # the edits went through the window's undo stack; nothing else happens
    time.sleep(120)
    """
)


def test_edits_survive_a_sigkill_of_the_gui(tmp_path, placeholder_models_dir, monkeypatch):
    folder = tmp_path / "race"
    make_photos(folder, 2)
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", XDG_DATA_HOME=str(tmp_path / "data"),
               XDG_CONFIG_HOME=str(tmp_path / "config"), BIBTAGGER_KEYMAP=str(tmp_path / "no-keymap.json"),
               BIBTAGGER_STORE_DIR=str(tmp_path / "stores"), PYTHONPATH=str(Path(__file__).parents[1]))  # fmt: skip
    args = [sys.executable, "-c", CHILD, str(folder), str(placeholder_models_dir), str(tmp_path / "settings.ini")]
    child = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
                             start_new_session=True)  # fmt: skip
    try:
        line = child.stdout.readline()
        assert line.startswith("READY"), line or child.stderr.read()
        os.killpg(child.pid, signal.SIGKILL)
    finally:
        child.kill()
        child.wait(timeout=30)
    monkeypatch.setenv("BIBTAGGER_STORE_DIR", env["BIBTAGGER_STORE_DIR"])
    with Store.open(folder) as store:
        assert store._conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        first, second = store.photos()[:2]
        assert [(b.number, b.box, b.source) for b in store.bibs(first.id)] == [("1234", (10.0, 10.0, 60.0, 40.0), "human")]
        assert first.reviewed and store.bibs(second.id) == []
        assert [h.action for h in store.history(second.id) if h.action.startswith("bib_")] == ["bib_add", "bib_delete"]
