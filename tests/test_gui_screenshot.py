"""`bibtagger gui DIR --screenshot PNG` (the real CLI in a subprocess, offscreen)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from bibtagger_gui.gui.main_window import DEFAULT_SIZE
from tests.test_gui_support import demo_folder, demo_template  # noqa: F401


def test_screenshot_command_writes_a_png_of_the_window(tmp_path, demo_folder, placeholder_models_dir):
    png = tmp_path / "shot.png"
    env = {
        **_without_display(),
        "XDG_CONFIG_HOME": str(tmp_path / "config"),
        "XDG_DATA_HOME": str(tmp_path / "data"),
        "BIBTAGGER_KEYMAP": str(tmp_path / "none.json"),
    }
    if not sys.platform.startswith("linux"):
        env["QT_QPA_PLATFORM"] = "offscreen"  # on Linux, --screenshot without a display runs offscreen itself
    cmd = [sys.executable, "-m", "bibtagger_gui", "gui", str(demo_folder), "--models", str(placeholder_models_dir), "--screenshot", str(png)]
    out = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    data = png.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    from PySide6.QtGui import QImage

    img = QImage(str(png))
    assert (img.width(), img.height()) == DEFAULT_SIZE
    # not a blank image: many distinct colours (list, photo, panel)
    colours = {img.pixel(x, y) for x in range(0, img.width(), 7) for y in range(0, img.height(), 7)}
    assert len(colours) > 50
    # the store was filled by the recognition run the screenshot waited for
    from bibtagger_gui.core.store import Store

    with Store.open(demo_folder) as store:
        assert all(p.model_version for p in store.photos())


def _without_display() -> dict:
    return {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")}


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="DISPLAY/WAYLAND_DISPLAY are how Linux finds a display")
def test_without_a_display_the_app_says_so_instead_of_aborting(tmp_path):
    cmd = [sys.executable, "-m", "bibtagger_gui", "gui", str(tmp_path)]
    out = subprocess.run(cmd, env={**_without_display(), "HOME": str(tmp_path)}, capture_output=True, text=True, timeout=120)
    assert out.returncode == 1, out.stderr[-2000:]
    assert out.stderr.strip() == (
        "bibtagger gui: no display found (DISPLAY and WAYLAND_DISPLAY are not set): run the app in a desktop "
        "session (or over ssh -X); --screenshot and the command-line tools need none"
    )


def test_gui_command_module_does_not_import_pyside():
    code = "import sys, bibtagger_gui.cli.gui_cmd, bibtagger_gui.cli as c; c.build_parser(); print('PySide6' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.stdout.strip() == "False", out.stderr


def test_a_screenshot_into_a_missing_folder_is_refused_before_the_window_opens(tmp_path, capsys, monkeypatch):
    """`--screenshot /typo/shot.png` made the folders after scanning and recognizing the whole folder; it is
    refused first, as every output in a missing folder is (core.store.out_folder_problem)."""
    from bibtagger_gui.cli import main
    from bibtagger_gui.gui import app

    opened = []
    monkeypatch.setattr(app, "run_gui", lambda *a: opened.append(a) or 0)
    png = tmp_path / "nonexist" / "shot.png"
    assert main(["gui", str(tmp_path), "--screenshot", str(png)]) == 1
    assert capsys.readouterr().err.strip() == (f"bibtagger gui: {png.parent}: no such folder, so shot.png cannot be "
                                               "written there (make the folder first, or choose another place)")  # fmt: skip
    assert opened == [] and not png.parent.exists()


def test_a_screenshot_never_replaces_a_photo_nor_lands_in_the_photo_folder(tmp_path, capsys, monkeypatch):
    """`gui RACE --screenshot RACE/IMG_1.jpg` (a slip of the shell's completion) wrote the window's PNG over the photo;
    a new PNG in the photo folder would be taken for a photo by the next scan. Both are refused before the window opens,
    as a screenshot named like a photo (not .png) anywhere; another .png outside the folder is replaced as before."""
    from bibtagger_gui.cli import main
    from bibtagger_gui.gui import app
    from tests.test_gui_support import make_photos

    opened = []
    monkeypatch.setattr(app, "run_gui", lambda *a: opened.append(a[2]) or 0)
    race = tmp_path / "race"
    make_photos(race / "day 1", 1)
    photo = race / "day 1" / "photo_000.jpg"
    before = photo.read_bytes()
    for target in (photo, race / "shot.png", tmp_path / "elsewhere.jpg"):
        assert main(["gui", str(race), "--screenshot", str(target)]) == 1
        said = capsys.readouterr().err.strip()
        assert said.startswith(f"bibtagger gui: {target}") and "choose" in said, said
    assert main(["gui", str(photo), "--screenshot", str(race / "day 1" / "shot.png")]) == 1  # a photo given: its folder's
    assert "inside the photo folder" in capsys.readouterr().err
    assert opened == [] and photo.read_bytes() == before and not (race / "shot.png").exists()
    (tmp_path / "old.png").write_bytes(b"an earlier screenshot")
    assert main(["gui", str(race), "--screenshot", str(tmp_path / "old.png")]) == 0
    assert opened == [str(tmp_path / "old.png")]


def test_a_screenshot_with_models_that_do_not_load_is_refused(tmp_path, demo_folder):
    """`gui DIR --models BROKEN --screenshot PNG` wrote the PNG of a run with the bundled models and exited 0, the
    failure only on stderr: a script took the wrong picture for the one asked for. It exits 1, writing nothing."""
    broken = tmp_path / "models"
    broken.mkdir()
    (broken / "detector.onnx").write_bytes(b"not a model")
    png = tmp_path / "shot.png"
    env = {**_without_display(), "QT_QPA_PLATFORM": "offscreen", "XDG_CONFIG_HOME": str(tmp_path / "config"),
           "XDG_DATA_HOME": str(tmp_path / "data"), "BIBTAGGER_KEYMAP": str(tmp_path / "none.json")}
    cmd = [sys.executable, "-m", "bibtagger_gui", "gui", str(demo_folder), "--models", str(broken), "--screenshot", str(png)]
    out = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 1, out.stderr[-3000:]
    assert "bibtagger gui: " in out.stderr and str(broken) in out.stderr
    assert not png.exists()
