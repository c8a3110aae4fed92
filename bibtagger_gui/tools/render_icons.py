"""Render the window icon's PNGs from the SVG: ``python -m bibtagger_gui.tools.render_icons`` (or ``make icons``).

Run it after changing ``resources/desktop/bibtagger.svg``; ``tests/test_app_icon.py`` renders again and fails
when a committed PNG differs from a fresh render (docs/desktop.md#window-icon). Needs QtSvg (PySide6, from
source; the packaged app has none, which is why the app reads PNGs). A PNG whose pixels are unchanged is not
rewritten; each written file is replaced atomically.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import numpy as np
from PySide6.QtCore import QBuffer, QByteArray, QIODevice, QRectF, Qt
from PySide6.QtGui import QGuiApplication, QImage, QPainter
from PySide6.QtSvg import QSvgRenderer

from bibtagger_gui.core.annotations import atomic_write_bytes
from bibtagger_gui.core.desktop_entry import icon_source
from bibtagger_gui.gui.app_icon import SIZES, icon_file


def render(svg: Path, size: int) -> QImage:
    """The SVG drawn into a transparent ``size`` x ``size`` image (antialiased), as non-premultiplied ARGB32,
    the pixels a PNG stores exactly."""
    renderer = QSvgRenderer(str(svg))
    if not renderer.isValid():
        raise ValueError(f"{svg}: not a readable SVG")
    image = QImage(size, size, QImage.Format.Format_ARGB32_Premultiplied)
    image.fill(Qt.GlobalColor.transparent)
    painter = QPainter(image)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
    renderer.render(painter, QRectF(0, 0, size, size))
    painter.end()
    return image.convertToFormat(QImage.Format.Format_ARGB32)


def pixels(image: QImage) -> np.ndarray:
    """An image's pixels as a height x width x 4 uint8 array (ARGB32, non-premultiplied)."""
    image = image.convertToFormat(QImage.Format.Format_ARGB32)
    row = image.bytesPerLine()
    data = np.frombuffer(image.constBits(), np.uint8, count=row * image.height()).reshape(image.height(), row)
    return data[:, : image.width() * 4].reshape(image.height(), image.width(), 4).copy()


def png_bytes(image: QImage) -> bytes:
    data = QByteArray()
    buffer = QBuffer(data)
    buffer.open(QIODevice.OpenModeFlag.WriteOnly)
    if not image.save(buffer, "PNG"):
        raise OSError("cannot encode PNG")
    buffer.close()
    return bytes(data.data())


def render_all(svg: Path | None = None) -> list[tuple[Path, bool]]:
    """Render every size to its file; returns each file and whether it was (re)written."""
    svg = svg or icon_source()
    done = []
    for size in SIZES:
        image = render(svg, size)
        path = icon_file(size)
        old = QImage(str(path)) if path.is_file() else QImage()
        same = not old.isNull() and old.size() == image.size() and np.array_equal(pixels(old), pixels(image))
        if not same:
            path.parent.mkdir(parents=True, exist_ok=True)
            atomic_write_bytes(path, png_bytes(image))
        done.append((path, not same))
    return done


def main(argv: list[str] | None = None) -> int:
    prog = "python -m bibtagger_gui.tools.render_icons"
    parser = argparse.ArgumentParser(prog=prog, description=__doc__.split("\n")[0])
    parser.parse_args(argv)
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    _app = QGuiApplication.instance() or QGuiApplication(sys.argv[:1])
    for path, written in render_all():
        print(f"{path}: {'written' if written else 'up to date'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
