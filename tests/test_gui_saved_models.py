"""A model folder chosen with Load Model Folder… is remembered across runs; when at the next start it is gone or
its models no longer load, the window runs the default (bundled) models and says so, naming the folder: in the
status bar, on the models' label (with the reason on hover), on stderr and once in the first recognition's message.
It used to be dropped without a word (a deleted folder) or to fail every run (a corrupt model)."""

from __future__ import annotations

import shutil

import pytest

from bibtagger_gui.core.bib import Bib
from bibtagger_gui.core.recognizer import models_folder_problem
from tests.test_gui_support import fixed_predictions, gui_env, make_photos, wait_idle  # noqa: F401


@pytest.fixture(autouse=True)
def stores(tmp_path, monkeypatch):
    monkeypatch.setenv("BIBTAGGER_STORE_DIR", str(tmp_path / "stores"))
    monkeypatch.delenv("BIBTAGGER_MODELS", raising=False)


def window(qtbot, settings):
    from bibtagger_gui.gui.main_window import MainWindow

    win = MainWindow(settings=settings)  # no --models: the remembered folder, if it loads
    qtbot.addWidget(win)
    return win


def chosen(tmp_path, placeholder_models_dir, how: str):
    folder = tmp_path / "my models"
    shutil.copytree(placeholder_models_dir, folder)
    if how == "deleted":
        shutil.rmtree(folder)
    elif how == "corrupt":
        (folder / "detector.onnx").write_bytes(b"half a download")
    elif how == "no reader":
        (folder / "reader.onnx").unlink()
    return folder


@pytest.mark.parametrize("how", ["deleted", "corrupt", "no reader"])
def test_an_unusable_remembered_model_folder_is_said_and_the_bundled_models_run(how, qtbot, gui_env, tmp_path,
                                                                                placeholder_models_dir, monkeypatch, capsys):  # fmt: skip
    folder = chosen(tmp_path, placeholder_models_dir, how)
    gui_env.setValue("models_dir", str(folder))
    win = window(qtbot, gui_env)
    assert win.models_dir is None  # the default models run
    said = win.statusBar().currentMessage()
    assert str(folder) in said and "the bundled models are used" in said and models_folder_problem(folder) in said
    assert str(folder) in capsys.readouterr().err
    assert "⚠" in win.model_label.text() and str(folder) in win.model_label.toolTip()
    assert gui_env.value("models_dir") == str(folder)  # kept: a drive plugged in again serves it next time
    make_photos(tmp_path / "p", 2)
    fixed_predictions(monkeypatch, {"photo_000.jpg": [Bib("12", (10, 10, 60, 40), 0.9)]})
    win.open_folder(tmp_path / "p")
    wait_idle(qtbot, win)
    assert "not your model folder" in win.statusBar().currentMessage()  # the run's readings: whose models
    assert "⚠" in win.model_label.text() and str(folder) in win.model_label.toolTip()
    win.rerun_unreviewed()
    wait_idle(qtbot, win)
    assert "not your model folder" not in win.statusBar().currentMessage()  # said once, the label keeps it
    assert win.load_models_dir(placeholder_models_dir)  # another folder chosen: the warning goes
    assert "⚠" not in win.model_label.text() and win.saved_models_note == ""
    win.close_folder()


def test_a_usable_remembered_model_folder_is_used_without_a_word(qtbot, gui_env, tmp_path, placeholder_models_dir, capsys):
    folder = chosen(tmp_path, placeholder_models_dir, "kept")
    gui_env.setValue("models_dir", str(folder))
    win = window(qtbot, gui_env)
    assert win.models_dir == folder and win.saved_models_note == "" and models_folder_problem(folder) is None
    assert "⚠" not in win.model_label.text() and capsys.readouterr().err == ""


def test_the_first_run_takes_the_models_the_start_up_check_loaded(qtbot, gui_env, tmp_path, placeholder_models_dir,
                                                                   monkeypatch):  # fmt: skip
    """The check of the remembered folder loaded its models, and the first recognition loaded them again (30-70 ms
    on the bundled models); now it takes the check's. A later run loads its own (the files may have changed)."""
    from bibtagger_gui.core.recognizer import Recognizer

    loads = []
    real = Recognizer.__init__
    monkeypatch.setattr(Recognizer, "__init__", lambda self, *a, **k: loads.append(a[:1]) or real(self, *a, **k))
    folder = chosen(tmp_path, placeholder_models_dir, "kept")
    gui_env.setValue("models_dir", str(folder))
    win = window(qtbot, gui_env)
    assert win.models_dir == folder and len(loads) == 1
    make_photos(tmp_path / "p", 2)
    fixed_predictions(monkeypatch, {"photo_000.jpg": [Bib("12", (10, 10, 60, 40), 0.9)]})
    win.open_folder(tmp_path / "p")
    wait_idle(qtbot, win)
    assert win.last_job_outcome[:2] == ("recognize", "done")
    assert len(loads) == 1  # the first run used the check's models
    assert [b.number for b in win.store.bibs(win.store.photo_by_path("photo_000.jpg").id)] == ["12"]
    assert win.rerun_unreviewed()
    wait_idle(qtbot, win)
    assert len(loads) == 2 and loads[1] == (folder / "detector.onnx",)  # the next run loads the folder's models
    win.close_folder()
