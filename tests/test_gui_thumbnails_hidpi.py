"""List thumbnails follow the screen's device pixel ratio (docs/gui.md#thumbnails-and-caching): at 200 %
a 160 px thumbnail is made 320 device pixels wide with pixel ratio 2 (it was 160 px, scaled up and soft),
cached per ratio (a window moved to another screen gets them re-made), and at 100 % nothing changes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from types import SimpleNamespace

import cv2
import numpy as np
import pytest
from PySide6.QtCore import QSize
from PySide6.QtGui import QImage, QPixmap

from bibtagger_gui.gui import thumbnails
from bibtagger_gui.gui.photo_view import PhotoView
from bibtagger_gui.gui.thumbnails import THUMB_SIZE, ThumbnailProvider, thumb_key
from tests.test_gui_support import make_photos

PHOTO = (960, 720)  # larger than a thumbnail at 200 %, so the decode size matters


def gray(img: QImage) -> np.ndarray:
    img = img.convertToFormat(QImage.Format.Format_Grayscale8)
    return np.array([np.frombuffer(img.constScanLine(y), np.uint8, img.width()) for y in range(img.height())], np.float64)


def sharpness(a: np.ndarray) -> float:
    """Variance of the Laplacian: detail (the photos' noise) a soft, scaled-up thumbnail lacks."""
    return float(cv2.Laplacian(a, cv2.CV_64F).var())


@pytest.fixture
def provider(qtbot, tmp_path):
    make_photos(tmp_path / "p", 1, size=PHOTO)
    ratio = [1.0]
    p = ThumbnailProvider(size=THUMB_SIZE, ratio=lambda: ratio[0])
    p.reset(tmp_path / "p", tmp_path / "thumbs")
    p.set_ratio = lambda r: ratio.__setitem__(0, r)  # what moving the window to another screen does
    yield p
    p.pool.clear()
    p.pool.wait_for_done(5)
    p.pool.shutdown()


def made(qtbot, p: ThumbnailProvider, photo) -> QPixmap:
    """Ask for ``photo``'s thumbnail and wait until the one for the current ratio is in memory."""
    p.get(photo)
    qtbot.waitUntil(lambda: p.pending == 0 and p.cached(photo.id) is not None, timeout=10_000)
    pix = p.cached(photo.id)
    assert pix.devicePixelRatio() == p.ratio()
    return pix


def test_thumbnails_have_the_screens_pixel_ratio_and_its_pixels(qtbot, provider, tmp_path, monkeypatch):
    photo = SimpleNamespace(id=1, relpath="photo_000.jpg")
    key = thumb_key(photo)
    one = made(qtbot, provider, photo)
    # 100 %: as before: 160x106 device pixels, ratio 1, the disk cache file named as it always was
    assert (one.width(), one.height(), one.devicePixelRatio()) == (160, 106, 1.0)
    assert QImage(str(tmp_path / "thumbs" / key[:2] / f"{key}.jpg")).width() == 160
    assert sorted(f.name for f in (tmp_path / "thumbs" / key[:2]).iterdir()) == [f"{key}.jpg"]

    provider.set_ratio(2.0)
    assert provider.get(photo) is one and provider.pending == 1  # shown until the sharp one arrives
    two = made(qtbot, provider, photo)
    assert (two.width(), two.height(), two.devicePixelRatio()) == (320, 212, 2.0)
    assert two.deviceIndependentSize().toSize() == QSize(160, 106)  # the same place in the list
    assert QImage(str(tmp_path / "thumbs" / key[:2] / f"{key}-320.jpg")).width() == 320  # decoded at 320 px
    icon_pix = provider.icon(photo).pixmap(QSize(160, 106), 2.0)  # what the list paints at 200 %
    assert icon_pix.width() == 320
    # sharper than the 100 % thumbnail scaled up to the same pixels (what a 200 % screen showed)
    up = one.toImage().scaled(320, 212)
    assert sharpness(gray(two.toImage())) > 1.5 * sharpness(gray(up))
    assert provider.held_bytes == 320 * 212 * 4  # the 100 % one it replaced no longer counts

    # back on a 100 % screen: made again at ratio 1, from the disk cache (no decode)
    decodes = []
    monkeypatch.setattr(thumbnails, "load_image", lambda *a, **k: decodes.append(a) or pytest.fail("decoded"))
    provider.set_ratio(1.0)
    again = made(qtbot, provider, photo)
    assert (again.width(), again.height(), again.devicePixelRatio()) == (160, 106, 1.0)
    assert decodes == [] and np.abs(gray(again.toImage()) - gray(one.toImage())).mean() < 3  # (JPEG-cached)
    assert provider.held_bytes == 160 * 106 * 4


def test_a_hidpi_thumbnail_fills_the_photo_view_while_the_photo_loads(qtbot):
    """The photo view shows the list thumbnail at once; a pixmap item's size is its logical size, so a
    ratio-2 thumbnail scaled by its device pixels covered only half the photo."""
    view = PhotoView()
    qtbot.addWidget(view)
    photo = SimpleNamespace(width=960, height=720, error="not decoded in this test", relpath="x.jpg")
    for ratio in (1.0, 2.0):
        pix = QPixmap(round(160 * ratio), round(106 * ratio))
        pix.fill()
        pix.setDevicePixelRatio(ratio)
        view.set_photo(photo, ".", pix)
        shown = view._pixmap_item.sceneBoundingRect()
        assert (shown.width(), shown.height()) == pytest.approx((960, 720), rel=0.01), ratio  # thumbnail rounding
    view.pool.shutdown()


_WINDOW_AT_SCALE = r"""
import json, sys, time
from pathlib import Path
from types import SimpleNamespace
from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QApplication
from bibtagger_gui.gui.main_window import MainWindow

app = QApplication([])
models, folder, tmp = sys.argv[1:4]
win = MainWindow(models_dir=models, settings=QSettings(str(Path(tmp) / "settings.ini"), QSettings.Format.IniFormat))
win.show()
app.processEvents()
win.thumbnails.reset(Path(folder), Path(tmp) / "thumbs")
photo = SimpleNamespace(id=1, relpath="photo_000.jpg")
win.thumbnails.get(photo)
end = time.monotonic() + 30
while win.thumbnails.cached(1) is None and time.monotonic() < end:
    app.processEvents()
    time.sleep(0.01)
pix = win.thumbnails.cached(1)
print(json.dumps({"view": win.list_view.devicePixelRatioF(), "ratio": pix.devicePixelRatio(),
                  "size": [pix.width(), pix.height()]}))
win.thumbnails.pool.wait_for_done(5)
win.close()
"""


def test_the_window_makes_thumbnails_for_its_screens_ratio(tmp_path, placeholder_models_dir):
    make_photos(tmp_path / "p", 1, size=PHOTO)
    seen = {}
    for scale in ("1", "2"):
        env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "QT_SCALE_FACTOR": scale,
               "BIBTAGGER_KEYMAP": str(tmp_path / "no-keymap.json"), "XDG_DATA_HOME": str(tmp_path / "data"),
               "XDG_CONFIG_HOME": str(tmp_path / "config")}
        args = [str(placeholder_models_dir), str(tmp_path / "p"), str(tmp_path / scale)]
        (tmp_path / scale).mkdir()
        out = subprocess.run([sys.executable, "-c", _WINDOW_AT_SCALE, *args], env=env, capture_output=True,
                             text=True, timeout=120)  # fmt: skip
        assert out.returncode == 0, out.stderr[-2000:]
        seen[scale] = json.loads(out.stdout.strip().splitlines()[-1])
    assert seen["1"] == {"view": 1.0, "ratio": 1.0, "size": [160, 106]}
    assert seen["2"] == {"view": 2.0, "ratio": 2.0, "size": [320, 212]}
