"""Fixtures and helpers shared by the tests/test_gui_*.py files (holds no tests itself)."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from bibtagger_gui.core.bib import Bib


def make_photos(folder: Path, n: int, size: tuple[int, int] = (320, 240), seed: int = 0) -> list[tuple[str, str, tuple]]:
    """n small JPEGs, each with one white plate carrying a number; returns (relpath, number, box)."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    w, h = size
    out = []
    for i in range(n):
        img = (rng.random((h, w, 3)) * 90).astype(np.uint8)
        x, y = int(rng.integers(10, w - 110)), int(rng.integers(10, h - 60))
        cv2.rectangle(img, (x, y), (x + 100, y + 50), (255, 255, 255), -1)
        number = str(100 + i)
        cv2.putText(img, number, (x + 8, y + 38), cv2.FONT_HERSHEY_SIMPLEX, 1.1, (0, 0, 0), 3)
        rel = f"photo_{i:03d}.jpg"
        cv2.imwrite(str(folder / rel), img)
        out.append((rel, number, (float(x), float(y), float(x + 100), float(y + 50))))
    return out


@pytest.fixture
def gui_env(tmp_path, monkeypatch):
    """Isolated settings/key map/data dirs; returns a QSettings on an ini file in tmp_path."""
    from PySide6.QtCore import QSettings

    monkeypatch.setenv("BIBTAGGER_KEYMAP", str(tmp_path / "no-keymap.json"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    return QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)


@pytest.fixture
def make_window(qtbot, gui_env, placeholder_models_dir):
    """Factory: a shown, active MainWindow using the placeholder models."""
    from PySide6.QtWidgets import QApplication

    from bibtagger_gui.gui.main_window import MainWindow

    windows = []

    def make(models_dir=None):
        win = MainWindow(models_dir=models_dir or placeholder_models_dir, settings=gui_env)
        qtbot.addWidget(win)
        win.show()
        qtbot.waitExposed(win)
        win.activateWindow()
        qtbot.waitUntil(lambda: QApplication.activeWindow() is win, timeout=3000)
        windows.append(win)
        return win

    yield make
    for win in windows:
        win.close_folder()
        win.job_pool.wait_for_done(10)
        win.thumbnails.pool.clear()
        win.thumbnails.pool.wait_for_done(5)
        win.photo_view.pool.wait_for_done(5)


def wait_idle(qtbot, win, timeout: int = 20000) -> None:
    qtbot.waitUntil(lambda: not win.busy, timeout=timeout)


def fixed_predictions(monkeypatch, table: dict[str, list[Bib]]) -> None:
    """Make Recognizer.recognize_path answer from ``table`` (by file name) instead of the models."""
    from bibtagger_gui.core.recognizer import Recognizer

    def fake(self, path):
        return list(table.get(Path(path).name, []))

    monkeypatch.setattr(Recognizer, "recognize_path", fake)


@pytest.fixture(scope="session")
def demo_template(tmp_path_factory) -> Path:
    """50 small demo photos from core.demo (made once per session; copy before use)."""
    from bibtagger_gui.core.demo import generate

    out = tmp_path_factory.mktemp("demo50")
    generate(out, count=50, seed=7, size=(320, 480))
    return out


@pytest.fixture
def demo_folder(tmp_path, demo_template) -> Path:
    """A private copy of the demo photos (the store writes FOLDER/.bibtagger)."""
    import shutil

    dst = tmp_path / "demo"
    shutil.copytree(demo_template, dst)
    return dst


def ground_truth(folder: Path) -> dict[str, list[Bib]]:
    from bibtagger_gui.core.annotations import load_annotations

    return {a.image: list(a.bibs) for a in load_annotations(folder / "ground_truth.json")}


def select_photos(win, pids: list[int]) -> None:
    """Select these photos in the list as Ctrl+clicks do (the current row is the first)."""
    from PySide6.QtCore import QItemSelectionModel

    win.select_photo(pids[0])
    sm = win.list_view.selectionModel()
    for pid in pids[1:]:
        sm.select(win.list_model.index(win.list_model.row_of(pid)), QItemSelectionModel.SelectionFlag.Select)
    assert sorted(p.id for p in win.selected_photos()) == sorted(pids)


def window_action(win, name: str):
    """The window's QAction of that object name (the test fails when there is none)."""
    from PySide6.QtGui import QAction

    act = win.findChild(QAction, name)
    assert act is not None, f"no action {name}"
    return act


def desktop_drop(widget, data) -> tuple[bool, bool]:
    """A desktop drag of ``data`` (a QMimeData) over ``widget``'s middle and its drop there (Qt passes them up to a
    parent that takes drops): whether the move was accepted (else the no-entry cursor) and the drop."""
    from PySide6.QtCore import QPointF, Qt
    from PySide6.QtGui import QDragEnterEvent, QDragMoveEvent, QDropEvent
    from PySide6.QtWidgets import QApplication

    pos = widget.rect().center()
    args = (Qt.DropAction.CopyAction, data, Qt.MouseButton.NoButton, Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(widget, QDragEnterEvent(pos, *args))
    move = QDragMoveEvent(pos, *args)
    QApplication.sendEvent(widget, move)
    dropped = QDropEvent(QPointF(pos), *args)
    QApplication.sendEvent(widget, dropped)
    return move.isAccepted(), dropped.isAccepted()
