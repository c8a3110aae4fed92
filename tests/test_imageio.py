"""core/imageio: orientation, reduced decode, header probing and every bad-input message."""

from __future__ import annotations

import math
import os
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image, ImageOps

from bibtagger_gui.core import imageio
from bibtagger_gui.core.imageio import ImageError, load_image, load_with_info, probe_image


def quadrants(h: int = 60, w: int = 100) -> np.ndarray:
    """An RGB image whose every flip/rotation looks different."""
    a = np.zeros((h, w, 3), np.uint8)
    a[: h // 2, : w // 2] = (255, 0, 0)
    a[: h // 2, w // 2 :] = (0, 255, 0)
    a[h // 2 :, : w // 2] = (0, 0, 255)
    a[h // 2 :, w // 2 :] = (255, 255, 0)
    a[h // 12 : h // 4, w // 20 : w // 5] = 255
    return a


def save(path: Path, array: np.ndarray, orientation: int | None = None, date: str | None = None, **kw) -> Path:
    exif = Image.Exif()
    if orientation is not None:
        exif[0x0112] = orientation
    if date is not None:
        exif.get_ifd(0x8769)[0x9003] = date
    fmt = {".jpg": "JPEG", ".jpeg": "JPEG", ".png": "PNG", ".webp": "WEBP", ".tif": "TIFF", ".bmp": "BMP"}[path.suffix.lower()]
    if fmt == "JPEG":
        kw.setdefault("quality", 97)
    if fmt == "WEBP":
        kw.setdefault("lossless", True)
    if fmt != "BMP":
        kw["exif"] = exif.tobytes()
    Image.fromarray(array).save(path, fmt, **kw)
    return path


def close(a: np.ndarray, b: np.ndarray, tol: float = 3.0) -> bool:
    return a.shape == b.shape and float(np.abs(a.astype(int) - b.astype(int)).mean()) < tol


@pytest.mark.parametrize("ext", [".jpg", ".png", ".webp"])
@pytest.mark.parametrize("orientation", range(1, 9))
def test_orientation_matches_pillow(tmp_path, ext, orientation):
    path = save(tmp_path / f"o{orientation}{ext}", quadrants(), orientation)
    expected = np.asarray(ImageOps.exif_transpose(Image.open(path)).convert("RGB"))
    got = load_image(path)
    assert got.dtype == np.uint8 and got.ndim == 3 and got.shape[2] == 3
    assert close(got, expected)
    info = probe_image(path)
    assert info.orientation == orientation
    assert (info.width, info.height) == (expected.shape[1], expected.shape[0])


@pytest.mark.parametrize("orientation", [1, 3, 6, 8])
def test_tiff_orientation(tmp_path, orientation):
    # OpenCV's TIFF decoder orients by itself; the result must still be oriented exactly once.
    path = save(tmp_path / "t.tif", quadrants(), orientation)
    assert close(load_image(path), imageio.apply_orientation(quadrants(), orientation))


def test_reduced_decode_uses_libjpeg_scaling(tmp_path):
    rng = np.random.default_rng(0)
    big = cv2.resize(rng.integers(0, 255, (30, 40, 3), dtype=np.uint8), (1001, 603), interpolation=cv2.INTER_NEAREST)
    path = save(tmp_path / "big.jpg", big)
    data = np.fromfile(path, np.uint8)
    for factor, flag in ((2, cv2.IMREAD_REDUCED_COLOR_2), (4, cv2.IMREAD_REDUCED_COLOR_4), (8, cv2.IMREAD_REDUCED_COLOR_8)):
        reduced = cv2.cvtColor(cv2.imdecode(data, flag), cv2.COLOR_BGR2RGB)
        assert reduced.shape[:2] == (math.ceil(603 / factor), math.ceil(1001 / factor))
        # asking for exactly the reduced long side returns the libjpeg-scaled pixels untouched
        assert np.array_equal(load_image(path, max_side=math.ceil(1001 / factor)), reduced)
    for max_side in (1000, 700, 300, 100, 10):
        img = load_image(path, max_side=max_side)
        assert max(img.shape[:2]) == max_side
        assert img.shape[0] == round(603 * max_side / 1001)
    assert load_image(path, max_side=5000).shape == (603, 1001, 3)  # never upscaled


def test_reduced_decode_keeps_orientation(tmp_path):
    path = save(tmp_path / "rot.jpg", cv2.resize(quadrants(), (800, 480), interpolation=cv2.INTER_NEAREST), orientation=6)
    img, info = load_with_info(path, max_side=100)
    assert (info.width, info.height) == (480, 800)
    assert img.shape == (100, 60, 3)
    expected = cv2.resize(imageio.apply_orientation(quadrants(), 6), (60, 100), interpolation=cv2.INTER_AREA)
    assert close(img, expected, tol=12)


def test_non_jpeg_max_side(tmp_path):
    path = save(tmp_path / "p.png", cv2.resize(quadrants(), (400, 240)))
    assert load_image(path, max_side=100).shape == (60, 100, 3)


def test_probe_reads_capture_time_and_formats(tmp_path):
    path = save(tmp_path / "d.jpg", quadrants(), orientation=8, date="2019:05:12 10:31:02")
    info = probe_image(path)
    assert (info.width, info.height, info.orientation, info.captured_at) == (60, 100, 8, "2019-05-12T10:31:02")
    assert info.format == "jpeg" and (info.raw_width, info.raw_height) == (100, 60)
    for ext in (".png", ".bmp", ".tif", ".webp"):
        p = save(tmp_path / f"x{ext}", quadrants(50, 70))
        i = probe_image(p)
        assert (i.width, i.height) == (70, 50), ext
        assert load_image(p).shape == (50, 70, 3)
    gray = tmp_path / "g.png"
    Image.fromarray(np.full((20, 30), 128, np.uint8)).save(gray)
    assert load_image(gray).shape == (20, 30, 3)


def test_uppercase_extension_and_content_sniffing(tmp_path):
    jpg = save(tmp_path / "A.JPG", quadrants())
    assert imageio.is_supported(jpg) and not imageio.is_supported(tmp_path / "a.txt")
    assert probe_image(jpg).format == "jpeg"
    png_named_jpg = tmp_path / "really_png.jpg"
    Image.fromarray(quadrants()).save(png_named_jpg, "PNG")
    assert probe_image(png_named_jpg).format == "png"
    assert load_image(png_named_jpg).shape == (60, 100, 3)


def test_unicode_path(tmp_path):
    folder = tmp_path / "Läufer Zieleinlauf 日本"
    folder.mkdir()
    path = save(folder / "Ünïcödé_ß_🏃.jpg", quadrants())
    assert load_image(path).shape == (60, 100, 3)
    assert probe_image(str(path)).width == 100


def write_png_bomb(path: Path, width: int = 20000, height: int = 20000) -> Path:
    """A small PNG whose IHDR claims width x height RGB pixels (only 2 rows of data)."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    rows = zlib.compress(b"\x00" + b"\x00" * (3 * width) * 2, 9)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", rows) + chunk(b"IEND", b""))
    return path


def bad_files(folder: Path) -> dict[str, tuple[Path, str]]:
    """Each kind of broken file with the start of the message it must give."""
    good = save(folder / "good.jpg", quadrants()).read_bytes()
    out: dict[str, tuple[Path, str]] = {}
    p = folder / "empty.jpg"
    p.write_bytes(b"")
    out["empty"] = (p, "empty file")
    p = folder / "text.jpg"
    p.write_text("this is not a photo\n")
    out["text"] = (p, "not an image")
    p = folder / "truncated.jpg"
    p.write_bytes(good[: len(good) * 2 // 3])
    out["truncated"] = (p, "truncated JPEG")
    p = folder / "corrupt.jpg"
    p.write_bytes(b"\xff\xd8\xff" + bytes(np.random.default_rng(3).integers(0, 256, 3000, dtype=np.uint8)) + b"\xff\xd9")
    out["corrupt"] = (p, "corrupt JPEG")
    out["bomb"] = (write_png_bomb(folder / "bomb.png"), "image too large (20000x20000 px, limit 200 MP)")
    p = folder / "cut.png"
    png = folder / "ok.png"
    Image.fromarray(quadrants()).save(png)
    p.write_bytes(png.read_bytes()[:-30])
    out["truncated_png"] = (p, "truncated PNG")
    out["missing"] = (folder / "nope.jpg", "file not found")
    return out


def test_bad_inputs_give_clear_messages(tmp_path):
    for name, (path, message) in bad_files(tmp_path).items():
        with pytest.raises(ImageError) as err:
            load_image(path)
        assert err.value.message.startswith(message), (name, err.value.message)
        assert err.value.path == str(path)
        assert str(err.value) == f"{path}: {err.value.message}"


def test_probe_refuses_bomb_without_decoding(tmp_path):
    bomb = write_png_bomb(tmp_path / "bomb.png")
    assert bomb.stat().st_size < 2000
    with pytest.raises(ImageError, match="image too large"):
        probe_image(bomb)
    # the limit is a parameter: with a higher one the header still reads fine
    assert probe_image(bomb, max_pixels=500_000_000).width == 20000
    with pytest.raises(ImageError, match=r"image too large \(100x60 px, limit 0.001 MP\)"):
        load_image(save(tmp_path / "s.jpg", quadrants()), max_pixels=1000)


def test_directory_is_not_an_image(tmp_path):
    with pytest.raises(ImageError, match="folder"):
        load_image(tmp_path)


def test_permission_denied(tmp_path, public_tmp):
    """Root ignores file modes, so as root the child process drops to user nobody after its imports."""
    base = public_tmp
    path = save(base / "secret.jpg", quadrants())
    path.chmod(0o000)
    code = (
        "import os, sys\n"
        "from bibtagger_gui.core.imageio import load_image, ImageError\n"
        "if os.geteuid() == 0:\n    os.setgid(65534); os.setuid(65534)\n"
        "try:\n    load_image(sys.argv[1])\n"
        "except ImageError as e:\n    print(e.message)\n"
    )
    res = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True, text=True, timeout=60)
    assert res.stdout.strip() == "permission denied", res.stderr


def test_half_a_tiff_gives_only_the_clean_message(tmp_path, capfd):
    rng = np.random.default_rng(0)
    whole = save(tmp_path / "whole.tif", rng.integers(0, 255, (200, 300, 3), dtype=np.uint8))
    data = whole.read_bytes()
    half = tmp_path / "half.tif"
    half.write_bytes(data[: len(data) // 2])  # header and directory intact, strips cut off
    capfd.readouterr()
    with pytest.raises(ImageError) as err:
        load_image(half)
    assert err.value.message == "corrupt TIFF (cannot decode the pixels)"
    assert capfd.readouterr().err == ""  # OpenCV's own [ERROR:…] TIFF_Error lines stay silent
