"""The photo files photographers really have: colour models, bit depths, odd JPEG coding, big metadata.

Each file is made here (Pillow/OpenCV or a few hand-written JPEG segments); the decoded pixels are
compared with Pillow's, or the message is checked. See docs/images.md ("Photo formats").
"""

from __future__ import annotations

import struct
import tracemalloc
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from bibtagger_gui.core.demo import write_jpeg
from bibtagger_gui.core.imageio import ImageError, load_image, probe_image
from tests.test_imageio import close, quadrants


def pillow_rgb(path: Path) -> np.ndarray:
    return np.asarray(Image.open(path).convert("RGB"))


def _rgba(img: np.ndarray) -> np.ndarray:
    a = np.dstack([img, np.full(img.shape[:2], 255, np.uint8)])
    a[:, : img.shape[1] // 4, 3] = 128
    return a


# name -> writer(path) for the formats that must decode to Pillow's pixels
WRITERS = {
    "cmyk.jpg": lambda p, img: Image.fromarray(img).convert("CMYK").save(p, "JPEG", quality=95),  # Adobe APP14, inverted
    "grey.jpg": lambda p, img: Image.fromarray(img).convert("L").save(p, "JPEG", quality=95),
    "progressive.jpg": lambda p, img: Image.fromarray(img).save(p, "JPEG", quality=95, progressive=True),
    "sixteen.png": lambda p, img: cv2.imwrite(str(p), img[:, :, ::-1].astype(np.uint16) * 257),
    "alpha.png": lambda p, img: Image.fromarray(_rgba(img), "RGBA").save(p),
    "palette.png": lambda p, img: Image.fromarray(img).quantize(8).save(p),
    "grey_alpha.png": lambda p, img: Image.fromarray(_rgba(img), "RGBA").convert("LA").save(p),
    "one_bit.png": lambda p, img: Image.fromarray(img).convert("1").save(p),
    "animated.png": lambda p, img: Image.fromarray(img).save(p, save_all=True, append_images=[Image.fromarray(255 - img)]),
    "animated.webp": lambda p, img: Image.fromarray(img).save(
        p, save_all=True, append_images=[Image.fromarray(255 - img)], lossless=True),  # fmt: skip
    "multipage.tif": lambda p, img: Image.fromarray(img).save(p, save_all=True, append_images=[Image.fromarray(255 - img)]),
    "cmyk.tif": lambda p, img: Image.fromarray(img).convert("CMYK").save(p),
    "sixteen.tif": lambda p, img: cv2.imwrite(str(p), img[:, :, ::-1].astype(np.uint16) * 257),
}


@pytest.mark.parametrize("name", sorted(WRITERS))
def test_format_decodes_like_pillow(tmp_path, name):
    """Animated files and multi-page TIFFs give their first frame, like Pillow."""
    path = tmp_path / name
    WRITERS[name](path, quadrants())
    info = probe_image(path)
    got = load_image(path)
    assert (info.width, info.height) == (100, 60)
    assert close(got, pillow_rgb(path), tol=2.0), name


def _seg(marker: int, body: bytes) -> bytes:
    return b"\xff" + bytes([marker]) + struct.pack(">H", len(body) + 2) + body


def grey_jpeg(precision: int = 8, sof: int = 0xC0, w: int = 32, h: int = 16) -> bytes:
    """A valid single-component sequential JPEG, mid grey (every block DC diff 0, then EOB)."""
    dqt = _seg(0xDB, b"\x00" + bytes([1] * 64))
    frame = _seg(sof, struct.pack(">BHHB", precision, h, w, 1) + b"\x01\x11\x00")
    one_code = bytes([1] + [0] * 15) + b"\x00"  # one 1-bit code ("0") for symbol 0
    dht = _seg(0xC4, b"\x00" + one_code) + _seg(0xC4, b"\x10" + one_code)
    sos = _seg(0xDA, b"\x01\x01\x00\x00\x3f\x00")
    blocks = ((w + 7) // 8) * ((h + 7) // 8)
    bits = "00" * blocks
    bits += "1" * (-len(bits) % 8)
    data = bytes(int(bits[i : i + 8], 2) for i in range(0, len(bits), 8))
    return b"\xff\xd8" + dqt + frame + dht + sos + data + b"\xff\xd9"


def test_hand_made_jpeg_is_valid(tmp_path):
    """The 8-bit twin of the 12-bit file below decodes, so the 12-bit one fails for its precision only."""
    path = tmp_path / "eight.jpg"
    path.write_bytes(grey_jpeg())
    img = load_image(path)
    assert img.shape == (16, 32, 3) and int(img.min()) == int(img.max()) == 128


def test_twelve_bit_jpeg_says_so(tmp_path):
    path = tmp_path / "twelve.jpg"
    path.write_bytes(grey_jpeg(precision=12, sof=0xC1))
    assert probe_image(path).width == 32  # listed in the project with its size...
    with pytest.raises(ImageError) as err:  # ...and its decode says what is wrong, not "corrupt"
        load_image(path)
    assert err.value.message == "12-bit JPEG is not supported (save it as an ordinary 8-bit JPEG)"


def test_megabytes_of_metadata_before_the_image_data(tmp_path):
    """Big ICC profiles / Photoshop previews / extended XMP: 1.3 MB of APP2 segments before SOS."""
    plain = tmp_path / "plain.jpg"
    write_jpeg(plain, quadrants(120, 200))
    data = plain.read_bytes()
    icc = b"\xff\xe2" + struct.pack(">H", 65535) + b"ICC_PROFILE\x00" + bytes(65535 - 2 - 12)
    fat = tmp_path / "fat.jpg"
    fat.write_bytes(data[:2] + icc * 20 + data[2:])
    assert np.array_equal(load_image(fat), load_image(plain))
    assert load_image(fat, max_side=100).shape == (60, 100, 3)


@pytest.mark.parametrize("orientation,copies", [(1, 1.3), (6, 2.3)])
def test_decode_keeps_one_copy_of_the_pixels(tmp_path, orientation, copies):
    """Peak memory of a full decode: the decoded pixels once (+ the file's bytes), one more copy to rotate.

    Measured with tracemalloc, which sees numpy's (and so OpenCV's) buffers: before, the BGR and
    RGB copies were both alive (2.2x upright).
    """
    img = np.random.default_rng(0).integers(0, 255, (600, 800, 3), dtype=np.uint8)
    path = tmp_path / "big.jpg"
    write_jpeg(path, img, orientation=orientation, quality=60)
    load_image(path)  # warm-up: first-call allocations are not the decode's
    tracemalloc.start()
    try:
        out = load_image(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < copies * out.nbytes + path.stat().st_size
