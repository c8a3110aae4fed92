"""Decoded-pixel fingerprint: tells a re-encoded copy of a picture from another picture.

The image-data hash (core/pixelhash) changes when a file is re-encoded without changing its pixels
(``jpegtran -optimize`` or ``-progressive``, a tool that re-packs a JPEG's Huffman tables, a PNG
re-compressed) or re-compressed at another quality. The *print* is what the picture looks like:
its luma averaged over a fixed ``GRID`` x ``GRID`` grid (INTER_AREA), 1 byte a cell, from any
decode of the photo (the recognizer's reduced decode, or :func:`file_print`'s). Two prints are of
one picture when every cell is within ``MAX_CELL_DIFF`` and the cells differ by at most
``MAX_MEAN_DIFF`` on average (docs/store.md#re-encoded-copies-the-decoded-print):

- identical coefficients (a lossless re-pack) decode to identical pixels: difference 0;
- the decode scale the print came from (libjpeg 1/8 .. 1/1) moves cells by up to ~6 levels on small
  photos (~2 on camera files), mean < 0.4; a re-compression at quality 50..95 likewise;
- another photograph of the same size, or the same scene moved by 0.5 % of its width (a burst frame,
  a runner a step further), moves cells by 25 or more, mean > 2.5.

Stored per photo (store.pixel_prints), keyed to the content hash of the file version it describes.
"""

from __future__ import annotations

import os

import numpy as np

GRID = 32
MAX_CELL_DIFF = 8
MAX_MEAN_DIFF = 1.0
#: :func:`file_print` decodes a JPEG at the smallest libjpeg scale whose long side still reaches this
#: (1/8 for camera files: entropy decoding only, no full-size IDCT), so a cell averages >= 8 px.
PRINT_DECODE_SIDE = 256


def image_print(rgb: np.ndarray) -> bytes:
    """Print of a decoded, oriented RGB uint8 image (any scale)."""
    import cv2

    grey = cv2.cvtColor(np.ascontiguousarray(rgb), cv2.COLOR_RGB2GRAY)
    return cv2.resize(grey, (GRID, GRID), interpolation=cv2.INTER_AREA).tobytes()


def file_print(path: str | os.PathLike) -> bytes | None:
    """Print of a photo file from a reduced decode; None when it cannot be decoded (truncated, being
    written, not an image). Raises nothing."""
    from bibtagger_gui.core.imageio import ImageError, load_image, probe_image, scaled_decode_side

    try:
        info = probe_image(path)
        side = None
        if info.format == "jpeg":  # exactly a libjpeg scale: no resize before the grid
            side = scaled_decode_side(max(info.width, info.height), PRINT_DECODE_SIDE)
        return image_print(load_image(path, max_side=side))
    except (ImageError, OSError, ValueError):
        return None


def same_picture(a: bytes, b: bytes) -> bool:
    """Whether two prints show one picture (see the module docstring for the tolerances)."""
    if len(a) != GRID * GRID or len(b) != GRID * GRID:
        return False
    diff = np.abs(np.frombuffer(a, np.uint8).astype(np.int16) - np.frombuffer(b, np.uint8).astype(np.int16))
    return int(diff.max()) <= MAX_CELL_DIFF and float(diff.mean()) <= MAX_MEAN_DIFF
