"""``bibtagger --selftest``: prove an installation (or a PyInstaller build) works end to end.

Starts Qt offscreen with a QApplication and renders a widget, sets the window icon from the bundled PNGs
(every size must load), makes the main window, loads the default ONNX
models, draws a synthetic race photo with a bib (OpenCV's built-in Hershey font, no font
files needed), recognizes it and prints ``OK <n> bibs, models <version>``; exit code 0.
Any failure prints ``SELFTEST FAILED: <step>: <reason>`` to stderr and exits 1.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import sys
from pathlib import Path

import numpy as np


def synthetic_bib_image(number: str = "1234", width: int = 640, height: int = 480) -> np.ndarray:
    """An RGB uint8 scene: grey-green background, a runner-ish shape, a white bib with black digits."""
    import cv2

    rng = np.random.default_rng(7)
    img = np.empty((height, width, 3), np.uint8)
    img[:] = (96, 120, 88)
    img = cv2.add(img, rng.integers(0, 24, img.shape, dtype=np.uint8))
    cx = width // 2
    cv2.ellipse(img, (cx, height // 2 + 40), (90, 170), 0, 0, 360, (40, 60, 170), -1)  # torso
    cv2.circle(img, (cx, height // 2 - 160), 45, (150, 180, 220), -1)  # head
    bw, bh = 180, 110
    x1, y1 = cx - bw // 2, height // 2 - 20
    cv2.rectangle(img, (x1, y1), (x1 + bw, y1 + bh), (250, 250, 250), -1)
    scale = 2.2
    (tw, th), _ = cv2.getTextSize(number, cv2.FONT_HERSHEY_DUPLEX, scale, 5)
    cv2.putText(img, number, (cx - tw // 2, y1 + (bh + th) // 2), cv2.FONT_HERSHEY_DUPLEX, scale, (10, 10, 10), 5,
                cv2.LINE_AA)  # fmt: skip
    return img


def _check_qt() -> str:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtCore import QSize
    from PySide6.QtWidgets import QApplication, QLabel

    app = QApplication.instance() or QApplication(["bibtagger-selftest"])
    label = QLabel("bibtagger 1234")
    label.resize(QSize(160, 40))
    if label.grab().toImage().isNull():  # widgets render through the platform plugin
        raise RuntimeError("could not render a widget")
    for module in ("bibtagger_gui.gui.main_window",):  # the GUI must be importable when it exists
        if importlib.util.find_spec(module) is not None:
            importlib.import_module(module)
    return app.platformName()


def _check_icon() -> str:
    """The window icon as the app sets it (gui/app.py make_app): every PNG size bundled and read, no fallback."""
    from PySide6.QtWidgets import QApplication

    from bibtagger_gui.gui.app_icon import SIZES, icon_sizes, load_icon, set_app_icon

    icon, problems = load_icon()
    if problems:
        raise RuntimeError("; ".join(problems))
    set_app_icon(QApplication.instance())
    sizes = icon_sizes(QApplication.windowIcon())
    if sizes != list(SIZES):
        raise RuntimeError(f"window icon sizes {sizes}, expected {list(SIZES)}")
    return "/".join(str(s) for s in sizes)


def _check_window() -> int:
    """Make the main window as the app does (offscreen, settings in a temporary file: nothing of the user's
    changes) and require each feature module of ``FEATURE_MODULES`` to be there and to install its menu
    entries. The window skips a feature module it cannot find and only logs one that fails: a build that lost
    one (a hidden import, an excluded library) would start without its menus. Returns how many installed."""
    import tempfile

    from PySide6.QtCore import QSettings

    from bibtagger_gui.gui import main_window

    names = main_window.FEATURE_MODULES
    missing = [n for n in names if importlib.util.find_spec(f"bibtagger_gui.gui.{n}") is None]
    if missing:
        raise RuntimeError(f"feature module(s) missing: {', '.join(missing)}")
    with tempfile.TemporaryDirectory(prefix="bibtagger-selftest-") as tmp:
        settings = QSettings(str(Path(tmp) / "settings.ini"), QSettings.Format.IniFormat)
        window = main_window.MainWindow(settings=settings)
        try:
            errors = list(window.feature_errors)
        finally:
            window.close()
            window.deleteLater()
            settings.sync()
            del settings
    if errors:
        raise RuntimeError("feature module(s) failed: " + "; ".join(errors))
    return len(names)


def run_selftest(out=None, err=None) -> int:
    """Run the checks; print the result line; return the exit code."""
    out = out or sys.stdout
    err = err or sys.stderr
    step = "qt"
    try:
        platform = _check_qt()
        step = "icon"
        icon = _check_icon()
        step = "window"
        features = _check_window()
        step = "models"
        from bibtagger_gui.core.recognizer import Recognizer

        recognizer = Recognizer()
        step = "calibration"
        from bibtagger_gui.core.calibration import FILE_NAME

        if (Path(recognizer.reader.path).parent / FILE_NAME).exists() and recognizer.calibration is None:
            raise RuntimeError(recognizer.calibration_note)  # shipped with the models, but broken or stale
        step = "recognize"
        bibs = recognizer.recognize(synthetic_bib_image())
    except Exception as exc:  # noqa: BLE001 - a selftest reports whatever broke
        print(f"SELFTEST FAILED: {step}: {type(exc).__name__}: {exc}", file=err)
        return 1
    exiftool = shutil.which("exiftool") or "not found (needed only to write keywords)"
    print(f"qt platform: {platform}; window icon: {icon} px; window: {features} feature modules; exiftool: {exiftool}; "
          f"{recognizer.calibration_note}", file=err)
    numbers = ", ".join(b.number for b in bibs)
    print(f"OK {len(bibs)} bibs, models {recognizer.version}" + (f" ({numbers})" if numbers else ""), file=out)
    return 0


def main(argv: list[str] | None = None) -> int:
    return run_selftest()


if __name__ == "__main__":
    raise SystemExit(main())
