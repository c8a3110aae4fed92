"""The app's window icon (gui/app_icon.py, docs/desktop.md#window-icon): set by make_app from the PNGs, which
match a fresh render of the SVG; a missing or corrupt PNG is a warning, never a failed start."""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtGui import QIcon, QImage
from PySide6.QtWidgets import QApplication, QWidget

from bibtagger_gui import resources
from bibtagger_gui.core.desktop_entry import icon_source
from bibtagger_gui.gui import app_icon
from bibtagger_gui.gui.app import make_app
from bibtagger_gui.tools import render_icons

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def no_icon(qapp):
    """The shared QApplication without a window icon before the test, and again after it."""
    qapp.setWindowIcon(QIcon())
    yield qapp
    qapp.setWindowIcon(QIcon())


@pytest.fixture
def icon_copy(tmp_path, monkeypatch):
    """The resources folder copied into tmp_path (icons and the SVG), which the app then reads."""
    root = tmp_path / "resources"
    shutil.copytree(resources.resource_path("icons"), root / "icons")
    shutil.copytree(resources.resource_path("desktop"), root / "desktop")
    monkeypatch.setattr(resources, "resources_root", lambda: root)
    return root


def test_make_app_sets_the_window_icon_with_every_size(no_icon):
    assert QApplication.windowIcon().isNull()
    app = make_app()
    icon = app.windowIcon()
    assert not icon.isNull()
    assert app_icon.icon_sizes(icon) == list(app_icon.SIZES)
    for size in app_icon.SIZES:  # each size is its own PNG, not one scaled
        image = icon.pixmap(size, size).toImage()
        expected = QImage(str(app_icon.icon_file(size)))
        assert image.size() == expected.size()
        assert np.array_equal(render_icons.pixels(image), render_icons.pixels(expected))
    window = QWidget()  # a window without its own icon shows the app's
    assert app_icon.icon_sizes(window.windowIcon()) == list(app_icon.SIZES)


@pytest.mark.parametrize("size", app_icon.SIZES)
def test_the_pngs_match_a_fresh_render_of_the_svg(qapp, size):
    committed = QImage(str(app_icon.icon_file(size)))
    assert (committed.width(), committed.height()) == (size, size)
    fresh = render_icons.pixels(render_icons.render(icon_source(), size))
    differ = np.abs(render_icons.pixels(committed).astype(int) - fresh.astype(int)).max()
    assert differ == 0, f"{app_icon.icon_file(size)} differs from the SVG (by {differ}): run `make icons`"
    alpha = fresh[..., 3]  # BGRA: the icon's rounded square, transparent corners
    assert alpha[size // 2, size // 2] == 255 and alpha[0, 0] == 0


def test_a_changed_svg_is_caught_and_render_all_rewrites_only_what_changed(qapp, icon_copy):
    svg = icon_copy / "desktop" / "bibtagger.svg"
    assert all(not written for _, written in render_icons.render_all(svg))  # the committed PNGs are up to date
    svg.write_text(svg.read_text(encoding="utf-8").replace("#0072b2", "#d55e00"), encoding="utf-8")
    size = app_icon.SIZES[0]
    assert not np.array_equal(render_icons.pixels(render_icons.render(svg, size)),
                              render_icons.pixels(QImage(str(app_icon.icon_file(size)))))  # fmt: skip
    assert all(written for _, written in render_icons.render_all(svg))
    assert np.array_equal(render_icons.pixels(QImage(str(app_icon.icon_file(size)))),
                          render_icons.pixels(render_icons.render(svg, size)))  # fmt: skip


def test_render_refuses_a_broken_svg(qapp, tmp_path):
    broken = tmp_path / "broken.svg"
    broken.write_text("<svg", encoding="utf-8")
    with pytest.raises(ValueError, match="not a readable SVG"):
        render_icons.render(broken, 16)


def test_a_missing_or_corrupt_png_is_a_warning_and_the_other_sizes_stay(no_icon, icon_copy, caplog):
    (icon_copy / "icons" / "bibtagger-16.png").unlink()
    (icon_copy / "icons" / "bibtagger-32.png").write_bytes(b"\x89PNG\r\n\x1a\n truncated")
    shutil.copyfile(icon_copy / "icons" / "bibtagger-64.png", icon_copy / "icons" / "bibtagger-48.png")
    with caplog.at_level(logging.WARNING, logger="bibtagger_gui"):
        app = make_app()
    messages = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any("bibtagger-16.png: no such file" in m for m in messages), messages
    assert any("bibtagger-32.png: cannot read" in m for m in messages), messages
    assert any("bibtagger-48.png: 64x64 px, not 48x48" in m for m in messages), messages
    assert app_icon.icon_sizes(app.windowIcon()) == [s for s in app_icon.SIZES if s not in (16, 32, 48)]
    line = app_icon.summary(app)  # the log file's startup line keeps what was warned before the log was opened
    assert line.startswith("24/64/128/256 px; ") and "bibtagger-16.png: no such file" in line, line


def test_the_log_files_startup_lines_name_the_window_icon(no_icon, tmp_path, monkeypatch):
    from bibtagger_gui.core import applog
    from bibtagger_gui.gui.app import start_error_reporting

    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    make_app()
    reporter, restore = start_error_reporting()
    restore()
    applog.close_file_log()
    sizes = "/".join(str(s) for s in app_icon.SIZES)
    assert f"Window icon: {sizes} px" in reporter.log_path.read_text(encoding="utf-8")
    assert f"Window icon: {sizes} px" in reporter.versions  # also in an error report's details


def test_no_png_at_all_falls_back_to_the_svg_or_to_no_icon(no_icon, icon_copy, caplog, monkeypatch):
    shutil.rmtree(icon_copy / "icons")
    with caplog.at_level(logging.WARNING, logger="bibtagger_gui"):
        app = make_app()  # from source Qt has the SVG image plugin (QtSvg): the SVG is used
    assert not app.windowIcon().isNull()
    assert any("the SVG" in r.getMessage() for r in caplog.records)
    (icon_copy / "desktop" / "bibtagger.svg").write_bytes(b"not an svg")
    app.setWindowIcon(QIcon())
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="bibtagger_gui"):
        assert make_app() is app  # nothing loads: the app still starts, with the platform's icon
    assert app.windowIcon().isNull()
    assert any("platform's default icon" in r.getMessage() for r in caplog.records)


def test_an_error_while_loading_is_only_a_warning(no_icon, monkeypatch, caplog):
    def broken():
        raise MemoryError("no memory for pixmaps")

    monkeypatch.setattr(app_icon, "load_icon", broken)
    with caplog.at_level(logging.WARNING, logger="bibtagger_gui"):
        app = make_app()
    assert app.windowIcon().isNull()
    assert any("MemoryError: no memory for pixmaps" in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize("kind", ["ico", "icns"])
def test_pyinstaller_turns_the_executables_icon_into_ico_and_icns(tmp_path, kind):
    """build.spec's `icon=` on Windows (.ico) and macOS (.icns), whose builds do not run here: PyInstaller's own
    conversion of that PNG with Pillow (the dev extra) gives an icon with its sizes."""
    building = pytest.importorskip("PyInstaller.building.icon")
    image = pytest.importorskip("PIL.Image")
    png = app_icon.icon_file(max(app_icon.SIZES))
    spec = (REPO / "build.spec").read_text(encoding="utf-8")
    assert f'"bibtagger-{max(app_icon.SIZES)}.png"' in spec and spec.count("icon=EXE_ICON") == 3  # both exes, the .app
    converted = building.normalize_icon_type(str(png), (kind,), kind, str(tmp_path))
    with image.open(converted) as icon:
        assert icon.format == kind.upper()
        sizes = {s[:2] for s in icon.info["sizes"]}
    assert {(s, s) for s in (16, 32, 128, 256)} <= sizes, sizes
