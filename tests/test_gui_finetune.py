"""Recognition > Improve Models from Reviewed Photos…: the explanation without the training install, the
refusals (finetune's own rule), and real fine-tunes in a child process: done, stopped, failed, left running."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from bibtagger_gui.core import finetune_run as fr
from tests.test_gui_support import gui_env, make_photos, make_window, wait_idle  # noqa: F401

TINY_RUN = ["--epochs", "1", "--steps", "2", "--batch", "4", "--synthetic", "20", "--dev", "", "--threads", "1"]
LONG_RUN = ["--epochs", "1", "--steps", "100000", "--batch", "4", "--synthetic", "20", "--dev", "", "--threads", "1"]


def reviewed_folder(folder: Path, boxed: bool = True) -> Path:
    """Three photos, the first reviewed with one bib (with or without its box)."""
    from bibtagger_gui.core.store import Store

    made = make_photos(folder, 3)
    with Store.open(folder) as store:
        store.scan()
        photo = store.photo_by_path(made[0][0])
        store.add_bib(photo.id, made[0][1], made[0][2] if boxed else None)
        store.set_reviewed(photo.id, True)
    return folder


def open_window(qtbot, make_window, folder: Path, models: Path | None = None):
    win = make_window(models)
    assert win.open_folder(folder)
    wait_idle(qtbot, win, 60000)
    return win


def data_models(tmp_path: Path) -> Path:
    return tmp_path / "data" / "bibtagger" / fr.MODELS_DIR_NAME  # XDG_DATA_HOME of gui_env


def test_the_menu_has_the_action_after_rerun_and_its_stop(qtbot, make_window):
    win = make_window()
    names = [a.objectName() for a in win.recognition_menu.actions()]
    assert names.index("improve_models") == names.index("rerun") + 1
    assert not win.finetune_controller.stop_action.isEnabled() and win.finetune_controller.action.isEnabled()


def test_the_action_imports_neither_torch_nor_training_into_the_app():
    import subprocess

    code = ("import json, sys\nimport bibtagger_gui.gui.finetune_action, bibtagger_gui.core.finetune_run\n"
            "print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in ('torch', 'training', 'onnx'))))")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    assert json.loads(res.stdout.strip().splitlines()[-1]) == []


def test_without_the_training_install_it_explains_and_offers_the_commands(qtbot, make_window, tmp_path, monkeypatch):
    folder = reviewed_folder(tmp_path / "race")
    win = open_window(qtbot, make_window, folder)
    ctl = win.finetune_controller
    ctl.modules = ("training", "no_such_module_for_bibtagger")  # as if torch were not installed
    dialog = ctl.trigger()
    from bibtagger_gui.gui.finetune_action import UnavailableDialog

    assert isinstance(dialog, UnavailableDialog)
    assert "no_such_module_for_bibtagger" in dialog.text.text() and fr.INSTALL_COMMAND in dialog.text.text()
    commands = dialog.commands.toPlainText().splitlines()
    assert fr.INSTALL_COMMAND in commands[0]
    assert "-m training finetune --from" in commands[1] and str(folder) in commands[1]
    dialog.press("copy")
    from PySide6.QtGui import QGuiApplication

    assert QGuiApplication.clipboard().text() == dialog.commands.toPlainText()
    assert dialog.commands.accessibleName() and dialog.buttons["copy"].accessibleName() == "Copy Commands"
    assert not ctl.running and not data_models(tmp_path).exists()
    dialog.press("close")

    monkeypatch.setattr(sys, "frozen", True, raising=False)  # the packaged app: never a child python
    ctl.modules = fr.TRAIN_MODULES
    dialog = ctl.trigger()
    assert "packaged app" in dialog.text.text() and not ctl.running
    dialog.press("close")


def test_the_packaged_app_explains_and_never_starts_a_child(qtbot, make_window, tmp_path, monkeypatch):
    """In the packaged app sys.executable is bibtagger itself: `sys.executable -m training finetune` would start
    the app again (or its CLI), never a Python. The action explains instead, with commands that work from a
    source checkout, and start() refuses whoever calls it. A child started anyhow is caught three ways: the
    QProcess and subprocess spies and the fake app's marker file."""
    import subprocess

    from PySide6.QtCore import QProcess

    from bibtagger_gui.gui.finetune_action import UnavailableDialog

    marker = tmp_path / "the app was started again"
    app = tmp_path / "dist" / "bibtagger" / "bibtagger"
    app.parent.mkdir(parents=True)
    app.write_text(f"#!/bin/sh\necho \"$@\" > '{marker}'\n", encoding="utf-8")
    app.chmod(0o755)
    children: list = []
    monkeypatch.setattr(QProcess, "start", lambda self, *a, **k: children.append((self.program(), self.arguments())))
    monkeypatch.setattr(QProcess, "startDetached", lambda *a, **k: children.append(a) or (False, 0))
    real_popen = subprocess.Popen.__init__
    monkeypatch.setattr(subprocess.Popen, "__init__", lambda self, args, *a, **k: (children.append(args),
                                                                                   real_popen(self, args, *a, **k))[1])
    monkeypatch.setattr(sys, "frozen", True, raising=False)
    monkeypatch.setattr(sys, "executable", str(app))  # before the window: the controller's python is the app
    folder = reviewed_folder(tmp_path / "race")
    win = open_window(qtbot, make_window, folder)
    ctl = win.finetune_controller
    assert ctl.modules == fr.TRAIN_MODULES  # the training install is there: only being frozen stops it
    dialog = ctl.trigger()
    assert isinstance(dialog, UnavailableDialog) and "packaged app" in dialog.text.text()
    install, finetune = dialog.commands.toPlainText().splitlines()
    assert str(app) not in install + finetune and fr.SOURCE_PLACEHOLDER in install
    assert finetune.startswith("python -m training finetune --from")
    assert dialog.notes is not None and fr.SOURCE_PLACEHOLDER in dialog.notes.text()
    assert "start" not in dialog.buttons
    dialog.press("close")
    # whoever calls start() (a button of an older dialog, a future path): refused, explained again
    proc = ctl.start(folder, ctl.models_in_use(), tmp_path / "out")
    ctl.process = None  # (had it started, closing the window would ask whether to stop it: a modal question)
    assert proc is None
    assert isinstance(ctl.dialog, UnavailableDialog) and ctl.dialog.isVisible()
    qtbot.wait(300)
    assert children == [] and not marker.exists() and not ctl.running and not ctl.stop_action.isEnabled()
    assert not (tmp_path / "out").exists() and not data_models(tmp_path).exists()
    ctl.dialog.press("close")


@pytest.mark.parametrize("boxed", [False, True])
def test_too_few_reviewed_bibs_are_refused_by_finetunes_own_rule(qtbot, make_window, tmp_path, boxed, monkeypatch, capsys):
    folder = reviewed_folder(tmp_path / "race", boxed=boxed)
    monkeypatch.setattr(fr, "MIN_BOXED_BIBS", 2 if boxed else 1)  # one boxed bib: refused only under a rule of two
    win = open_window(qtbot, make_window, folder)
    ctl = win.finetune_controller
    dialog = ctl.trigger()
    said = dialog.text.text()
    assert f"has 1 reviewed photo(s) with {int(boxed)} boxed bib(s)" in said and f"at least {fr.MIN_BOXED_BIBS}" in said
    assert not ctl.running and "start" not in dialog.buttons
    dialog.press("ok")
    # finetune itself refuses the same folder with the same rule (before torch is imported)
    from training.finetune import main as finetune_main

    capsys.readouterr()
    assert finetune_main(["--from", str(folder), "--out", str(tmp_path / "out")]) == 2
    assert fr.TOO_FEW in capsys.readouterr().out and not (tmp_path / "out").exists()


def test_photos_with_approved_mturk_answers_but_no_review_are_named_as_the_reason(qtbot, make_window, tmp_path, capsys):
    """The crowd's boxes imported and every answer approved (`mturk review --auto`), no photo accepted: the refusal
    (app and finetune) says those photos are not reviewed and what to do, not only "mark photos reviewed"."""
    from bibtagger_gui.cli import main
    from bibtagger_gui.core import mturk
    from bibtagger_gui.core.store import Store
    from tests.test_mturk import answer, row, write_csv

    folder = tmp_path / "race"
    made = make_photos(folder, 3)
    rows = [row(f"A{i}{w}", name, answer((x1, y1, x2 - x1, y2 - y1, number)), worker=f"W{w}")
            for i, (name, number, (x1, y1, x2, y2)) in enumerate(made[:2]) for w in (1, 2)]
    batch = write_csv(tmp_path / "batch.csv", rows)
    assert main(["mturk", "import", str(batch), str(folder)]) == 0
    assert main(["mturk", "review", str(batch), str(folder), "--auto"]) == 0
    with Store.open(folder) as store, mturk.VerdictStore.open(store) as verdicts:
        assert len([v for v in verdicts.all().values() if v.approves]) == 4 and not store.photos("reviewed")
    win = open_window(qtbot, make_window, folder)
    dialog = win.finetune_controller.trigger()
    said = dialog.text.text()
    assert "has 0 reviewed photo(s)" in said
    assert "2 photo(s) with MTurk workers' boxes are not reviewed" in said and "main window (Enter)" in said
    dialog.press("ok")
    from training.finetune import main as finetune_main

    capsys.readouterr()
    assert finetune_main(["--from", str(folder), "--out", str(tmp_path / "out")]) == 2
    out = capsys.readouterr().out
    assert "2 photo(s) with MTurk workers' boxes are not reviewed" in out and fr.TOO_FEW in out


def test_models_without_reader_pt_are_refused_clearly(qtbot, make_window, tmp_path, placeholder_models_dir):
    assert not (placeholder_models_dir / "reader.pt").exists()
    win = open_window(qtbot, make_window, reviewed_folder(tmp_path / "race"))
    dialog = win.finetune_controller.trigger()
    assert "no reader.pt" in dialog.text.text() and str(placeholder_models_dir) in dialog.text.text()
    assert not win.finetune_controller.running
    dialog.press("ok")


# ---------------------------------------------------------------- real runs (torch in the child only)


@pytest.fixture
def trainable(tmp_path):
    """(photo folder with 6 reviewed photos, a models folder with two readers and their .pt): what finetune's tests use."""
    pytest.importorskip("torch")
    from tests.model_factory import make_trainable_models
    from tests.test_training_reader import reviewed_photo_set

    photos = reviewed_photo_set(tmp_path / "race", seed=4)
    make_photos(photos / "new", 1)  # one photo not reviewed yet: Re-run on Unreviewed Photos has work
    models = make_trainable_models(tmp_path / "models", readers=2)  # an ensemble of two, as resources/models has three
    return photos, models


def start(qtbot, make_window, trainable, extra):
    photos, models = trainable
    win = open_window(qtbot, make_window, photos, models)
    ctl = win.finetune_controller
    ctl.extra_args = list(extra)
    dialog = ctl.trigger()
    said = dialog.text.text()
    assert "6 reviewed photo(s) with 6 boxed bib(s)" in said and str(models) in said and "the 2 readers" in said
    dialog.press("start")
    assert ctl.running and not win.finetune_controller.action.isEnabled() and ctl.stop_action.isEnabled()
    return win, ctl


def test_a_finetune_runs_in_a_child_and_its_models_can_be_used(qtbot, make_window, tmp_path, trainable):
    # --keep-start never: the barely trained readers must reach the folder, to be loaded and used below
    win, ctl = start(qtbot, make_window, trainable, TINY_RUN + ["--keep-start", "never"])
    qtbot.waitUntil(lambda: ctl.outcome != "", timeout=120000)
    assert ctl.outcome == "done", "\n".join(ctl.lines[-10:])
    out = ctl.out
    assert out.parent == data_models(tmp_path) and out.name.startswith("race-") and not fr.partial_folders(out)
    assert {"gather", "reader", "reader-2", "quantize", "compare"} <= ctl.stages_seen
    full = json.loads((out / "finetune.json").read_text())
    report = full["reader"]
    n = report["val_bibs"]
    dialog = ctl.dialog
    said = dialog.text.text()
    # the advice comes from the whole folders run as the app runs them (tests/test_training_finetune.py checks
    # these numbers against the recognizer's own); the first reader's crop accuracy is a secondary line
    e2e = full["end_to_end"]
    was, now = fr.Score.from_json(e2e["start"]["image_level"]), fr.Score.from_json(e2e["new"]["image_level"])
    assert f"{e2e['photos']} held-out photo(s)" in said
    assert f"current models: {was.describe()}" in said and f"new models: {now.describe()}" in said
    verdict = "better" if now.f1 > was.f1 else "worse" if now.f1 < was.f1 else "same"
    assert ctl.result.verdict() == verdict and ("keeping the current models is advised" in said) == (verdict == "worse")
    assert (f"First reader alone, held-out bib crops read exactly: current {report['init_val_accuracy']:.1%} "
            f"({round(report['init_val_accuracy'] * n)}/{n}) → new {report['best_val_accuracy']:.1%}") in said
    assert report["version"] in said and str(out) in said and "2 readers voting" in said
    assert set(dialog.buttons) == {"use", "keep"} and dialog.buttons["use"].accessibleName() == "Use These Models"
    dialog.press("use")
    assert win.models_dir == out and win.settings.value("models_dir") == str(out)  # remembered, like Load Model Folder
    assert "-ft-" in win.model_label.toolTip() and "2 readers int8" in win.model_label.text()
    assert set(dialog.buttons) == {"rerun", "close"}
    dialog.press("rerun")
    wait_idle(qtbot, win, 60000)
    (fresh,) = win.store.photos("unreviewed")
    assert fresh.relpath == "new/photo_000.jpg" and "-ft-" in fresh.model_version  # recognized with the new reader


def test_stop_leaves_no_model_folder(qtbot, make_window, tmp_path, trainable):
    win, ctl = start(qtbot, make_window, trainable, LONG_RUN)
    models_before = win.models_dir
    qtbot.waitUntil(lambda: "reader" in ctl.stages_seen, timeout=120000)  # training: its work folder exists
    out = ctl.out
    assert fr.partial_folders(out)
    ctl.stop_button.click()
    qtbot.waitUntil(lambda: ctl.outcome != "", timeout=60000)
    assert ctl.outcome == "stopped" and not ctl.running
    assert not out.exists() and fr.partial_folders(out) == []
    if sys.platform != "win32":  # SIGINT: finetune cleaned up itself and said so
        assert any("interrupted: nothing written" in ln for ln in ctl.lines), ctl.lines[-5:]
    assert win.models_dir == models_before and not ctl.progress.isVisible()


def test_opening_a_folder_or_closing_the_window_asks_about_a_running_finetune(qtbot, make_window, tmp_path, trainable):
    win, ctl = start(qtbot, make_window, trainable, LONG_RUN)
    answers, asked = ["keep", "cancel", "stop"], []

    def ask(what, can_keep):
        asked.append((what, can_keep))
        return answers.pop(0)

    ctl.ask_stop = ask
    other = tmp_path / "other"
    make_photos(other, 1)
    assert win.open_folder(other) and win.folder == other.resolve() and ctl.running  # kept running
    wait_idle(qtbot, win, 60000)
    qtbot.waitUntil(lambda: "reader" in ctl.stages_seen, timeout=120000)
    out = ctl.out
    win.close()  # answered Cancel: the window stays, the run goes on
    assert win.isVisible() and ctl.running
    win.close()  # answered Stop It
    assert not win.isVisible() and not ctl.running and ctl.outcome == "stopped"
    assert [a[1] for a in asked] == [True, False, False] and "open other" in asked[0][0]
    assert not out.exists() and fr.partial_folders(out) == []


def test_a_failed_finetune_says_its_last_error_line(qtbot, make_window, tmp_path, trainable):
    photos, models = trainable
    (models / "reader.pt").write_bytes(b"not a torch checkpoint")
    win, ctl = start(qtbot, make_window, trainable, TINY_RUN)
    qtbot.waitUntil(lambda: ctl.outcome != "", timeout=120000)
    assert ctl.outcome == "failed"
    last = [ln for ln in ctl.lines if fr.parse_progress(ln) is None][-1].strip()
    assert last.startswith("fine-tuning failed (")  # finetune's own last line
    said = ctl.dialog.text.text()
    assert last in said and "unchanged" in said and last in ctl.dialog.details.toPlainText()
    assert not ctl.out.exists() and fr.partial_folders(ctl.out) == [] and win.models_dir == models
    assert last in win.statusBar().currentMessage()
    ctl.dialog.press("ok")


def test_the_end_of_a_run_takes_no_key_meant_for_the_review(qtbot, make_window, tmp_path):
    """The result pops up while the user reviews: Enter must not choose Use These Models, Escape keeps them."""
    from PySide6.QtCore import Qt
    from PySide6.QtWidgets import QApplication

    win = open_window(qtbot, make_window, reviewed_folder(tmp_path / "race"))
    ctl = win.finetune_controller
    ctl.result = fr.Result(tmp_path / "new", "reader-x-ft", 0.5, 0.25, 4, 8, 2, "Detector kept.", False)
    ctl._show_result(ctl.result)
    dialog = ctl.dialog
    assert not dialog.isModal() and not any(b.isDefault() or b.autoDefault() for b in dialog.buttons.values())
    qtbot.waitExposed(dialog)
    dialog.activateWindow()  # as the window manager does with a new window
    qtbot.waitUntil(lambda: QApplication.activeWindow() is dialog, timeout=3000)
    qtbot.keyClick(dialog, Qt.Key.Key_Return)
    assert win.models_dir != tmp_path / "new" and dialog.isVisible()
    assert "current 25.0% (1/4) → new 50.0% (2/4)" in dialog.text.text()
    qtbot.keyClick(dialog, Qt.Key.Key_Escape)
    assert not dialog.isVisible() and win.models_dir != tmp_path / "new"


def test_the_result_waits_while_a_number_is_typed_and_does_not_take_the_keyboard(qtbot, make_window, tmp_path):
    """A run ending while the reviewer types a number: its dialog waits for the number to be committed, then
    opens beside the window without taking the keys (shown without activating)."""
    from PySide6.QtCore import Qt
    from PySide6.QtWidgets import QApplication

    from bibtagger_gui.gui.finetune_action import WAIT_MS

    def key(k):  # where the keyboard is, as a user's key goes
        qtbot.keyClick(QApplication.focusWidget() or win, k)

    win = open_window(qtbot, make_window, reviewed_folder(tmp_path / "race"))
    ctl = win.finetune_controller
    win.photo_view.setFocus()
    key(Qt.Key.Key_7)
    key(Qt.Key.Key_7)
    assert win._entry is not None  # typing
    ctl.result = fr.Result(tmp_path / "new", "reader-x-ft", 0.5, 0.25, 4, 8, 2, "Detector kept.", False)
    ctl._show_result(ctl.result)
    dialog = ctl.dialog
    qtbot.wait(3 * WAIT_MS)
    assert not dialog.isVisible()  # not under the typing
    assert dialog.testAttribute(Qt.WidgetAttribute.WA_ShowWithoutActivating)
    key(Qt.Key.Key_Return)  # the number is committed: typing is over
    assert win._entry is None
    qtbot.waitUntil(dialog.isVisible, timeout=3000)
    assert "77" in {b.number for b in win.current_bibs}  # the keys went to the photo, none to the dialog
