"""The app's own window icon, set on the QApplication at start (docs/desktop.md#window-icon).

Windows, macOS, an X11 desktop without the installed entry, and task switchers take a window's icon from the
app itself, not from a desktop entry. The icon is ``resources/icons/bibtagger-<N>.png`` for each of
:data:`SIZES`: PNG, which QtGui reads without a plugin, rendered from ``resources/desktop/bibtagger.svg`` by
``python -m bibtagger_gui.tools.render_icons`` (the packaged app has no QtSvg, so no SVG image plugin; a test
re-renders them and compares). A missing or unreadable size is a logged warning; with no PNG at all the SVG is
tried when Qt can read it; with nothing the app starts with the platform's default icon.
"""

from __future__ import annotations

import logging
from pathlib import Path

from PySide6.QtGui import QIcon, QImage, QImageReader, QPixmap

from bibtagger_gui.core.desktop_entry import ICON_NAME, icon_source
from bibtagger_gui.resources import resource_path

log = logging.getLogger(__name__)

#: the problems of the last :func:`set_app_icon` (its warnings), for the log file's startup line (:func:`summary`)
last_problems: list[str] = []

#: the square sizes of the window icon, in pixels (Windows' small and large icons, task bars, Alt+Tab, HiDPI)
SIZES = (16, 24, 32, 48, 64, 128, 256)


def icon_file(size: int) -> Path:
    """The PNG of one size (resources/icons, bundled by build.spec)."""
    return resource_path("icons", f"{ICON_NAME}-{size}.png")


def load_icon() -> tuple[QIcon, list[str]]:
    """The window icon from the PNGs, and one line for each size that could not be used (empty: all there).
    Falls back to the SVG when no PNG loads and Qt has an SVG image plugin; the icon is null when neither
    loads. Needs a QGuiApplication (pixmaps)."""
    icon = QIcon()
    problems = []
    for size in SIZES:
        path = icon_file(size)
        if not path.is_file():
            problems.append(f"{path}: no such file")
            continue
        reader = QImageReader(str(path), b"png")
        image = reader.read()
        if image.isNull():
            problems.append(f"{path}: cannot read ({reader.errorString()})")
        elif (image.width(), image.height()) != (size, size):
            problems.append(f"{path}: {image.width()}x{image.height()} px, not {size}x{size}")
        else:
            icon.addPixmap(QPixmap.fromImage(image.convertToFormat(QImage.Format.Format_ARGB32_Premultiplied)))
    if icon.isNull():
        svg = icon_source()
        if b"svg" in QImageReader.supportedImageFormats() and not QImage(str(svg)).isNull():
            icon = QIcon(str(svg))
            problems.append(f"no window icon PNG could be used; the SVG {svg} instead")
        else:
            problems.append("no window icon could be loaded; the platform's default icon is shown")
    return icon, problems


def set_app_icon(app) -> QIcon:
    """Give ``app`` (a QGuiApplication) the window icon; each problem is a warning, never an error: a missing
    or corrupt icon file must not stop the app. Returns the icon (null when none could be loaded)."""
    try:
        icon, problems = load_icon()
    except Exception as exc:  # noqa: BLE001 - an icon is never worth a failed start
        icon, problems = QIcon(), [f"window icon: {type(exc).__name__}: {exc}"]
    last_problems[:] = problems
    for problem in problems:
        log.warning("window icon: %s", problem)
    if not icon.isNull():
        app.setWindowIcon(icon)
    return icon


def summary(app) -> str:
    """The app's window icon in one line for the log file's startup lines (gui/app.py): its sizes, and the
    problems of the last :func:`set_app_icon`, whose warnings came before the log file was opened."""
    icon = app.windowIcon()
    sizes = icon_sizes(icon)
    text = f"{'/'.join(str(s) for s in sizes)} px" if sizes else ("none" if icon.isNull() else "scalable (SVG)")
    return text + "".join(f"; {p}" for p in last_problems)


def icon_sizes(icon: QIcon) -> list[int]:
    """The square sizes an icon holds, smallest first (what the self-test reports)."""
    return sorted({s.width() for s in icon.availableSizes() if s.width() == s.height()})
