"""Image-data hash: tells "same picture, metadata edited" from "another picture" without decoding.

A keyword or EXIF/XMP edit (exiftool, Lightroom, digiKam, Photo Mechanic) rewrites a photo's
metadata segments and copies its coded image data byte for byte; another picture has other coded
data. :func:`pixel_hash` hashes only the parts that define the pixels, sampled like
``catalogue.content_hash`` (length, first and last 64 KiB), so it costs a few small reads:

- JPEG: the segments before the first SOS other than APPn/COM (SOF, DQT, DHT, DRI, the SOS
  header) and the data from there to the last EOI marker in the file's last 64 KiB (none there:
  a truncated file, or a trailer longer than that, gets no fingerprint). Trailers after the EOI
  (Photo Mechanic, Samsung) are left out;
  appended images (MPF previews) that end the file with their own EOI are included, and metadata
  tools copy them untouched. Entropy-coded data is a sequential bit stream: a difference anywhere
  before its last 64 KiB shifts its length or its tail.
- PNG: IHDR, PLTE, tRNS and the payload of the IDAT chunks (text/eXIf/iTXt chunks are skipped
  wherever they are). The IDAT chunk headers are walked, so a PNG written in many small chunks is
  read almost whole.
- WebP: the payload of the VP8/VP8L/ALPH/ANIM/ANMF chunks (VP8X, EXIF, XMP and ICCP skipped).
- BMP: the info header and the pixel array (exiftool cannot write BMP metadata anyway).

Other formats (TIFF) and files whose structure cannot be followed (also a PNG, WebP or BMP
shorter than its chunks or header say: a copy still being written; or a file shorter than the
``size`` its caller stat'ed: rewritten meanwhile) get ``""``: no fingerprint,
the caller falls back to comparing the pixel size. Lossless re-encoding (``jpegtran
-optimize``, a PNG re-compressed) changes the coded data; the store then compares decoded prints
(core/pixelprint), where it has one, to tell a re-encoded copy from another picture.
Not a security hash: it identifies, it does not authenticate.
"""

from __future__ import annotations

import hashlib
import os
import struct
from typing import BinaryIO

SAMPLE = 64 * 1024
_JPEG_METADATA = frozenset(range(0xE0, 0xF0)) | {0xFE}  # APP0..APP15, COM
_PNG_PIXELS = frozenset({b"IHDR", b"PLTE", b"tRNS"})
_WEBP_PIXELS = frozenset({b"VP8 ", b"VP8L", b"ALPH", b"ANIM", b"ANMF"})


class _Unreadable(Exception):
    """The file's structure cannot be followed: no fingerprint."""


def pixel_hash(path: str | os.PathLike, size: int | None = None) -> str:
    """Hex SHA-1 of the image data of a JPEG/PNG/WebP/BMP file, ``""`` for other or malformed files.

    Raises OSError when the file cannot be read.
    """
    with open(path, "rb") as f:
        if size is None:
            size = os.fstat(f.fileno()).st_size
        magic = f.read(16)
        try:
            if magic.startswith(b"\xff\xd8"):
                kind, tables, ranges = b"jpeg", *_jpeg(f, size)
            elif magic.startswith(b"\x89PNG\r\n\x1a\n"):
                kind, tables, ranges = b"png", *_png(f, size)
            elif magic[:4] == b"RIFF" and magic[8:12] == b"WEBP":
                kind, tables, ranges = b"webp", *_webp(f, size)
            elif magic.startswith(b"BM"):
                kind, tables, ranges = b"bmp", *_bmp(f, size)
            else:
                return ""
            return _digest(f, kind, tables, ranges)
        except (_Unreadable, struct.error):  # struct.error: a header cut short (the file shrank since its stat)
            return ""


def _digest(f: BinaryIO, kind: bytes, tables: list[bytes], ranges: list[tuple[int, int]]) -> str:
    """SHA-1 of the tables, the total data length and the first and last SAMPLE bytes of the data."""
    total = sum(n for _, n in ranges)
    if total == 0:
        raise _Unreadable  # pragma: no cover - every parser returns data or raises
    h = hashlib.sha1(kind + b"\0")
    for t in tables:
        h.update(len(t).to_bytes(4, "little"))
        h.update(t)
    h.update(total.to_bytes(8, "little"))
    if total <= 2 * SAMPLE:
        h.update(_read_ranges(f, ranges, 0, total))
    else:
        h.update(_read_ranges(f, ranges, 0, SAMPLE))
        h.update(_read_ranges(f, ranges, total - SAMPLE, SAMPLE))
    return h.hexdigest()


def _read_ranges(f: BinaryIO, ranges: list[tuple[int, int]], start: int, count: int) -> bytes:
    """``count`` bytes from offset ``start`` of the concatenation of the file ``ranges``."""
    out = bytearray()
    for offset, length in ranges:
        if start >= length:
            start -= length
            continue
        f.seek(offset + start)
        take = min(length - start, count - len(out))
        out += f.read(take)
        start = 0
        if len(out) >= count:
            break
    if len(out) < count:  # the file is shorter than its size said (rewritten meanwhile): no fingerprint
        raise _Unreadable
    return bytes(out)


def _jpeg(f: BinaryIO, size: int) -> tuple[list[bytes], list[tuple[int, int]]]:
    tables: list[bytes] = []
    pos = 2
    while True:
        f.seek(pos)
        head = f.read(4)
        if len(head) < 2 or head[0] != 0xFF:
            raise _Unreadable
        marker = head[1]
        if marker == 0xFF:  # fill byte
            pos += 1
            continue
        if marker == 0x01 or 0xD0 <= marker <= 0xD8:  # markers without a length
            pos += 2
            continue
        if marker == 0xD9 or len(head) < 4:  # EOI before any image data
            raise _Unreadable
        length = struct.unpack(">H", head[2:4])[0]
        if length < 2 or pos + 2 + length > size:
            raise _Unreadable
        if marker not in _JPEG_METADATA:
            f.seek(pos)
            tables.append(f.read(2 + length))
        pos += 2 + length
        if marker == 0xDA:  # SOS: entropy-coded data follows
            break
    start = pos
    window = max(start, size - SAMPLE)
    f.seek(window)
    tail = f.read(size - window)
    eoi = tail.rfind(b"\xff\xd9")
    if eoi < 0:  # truncated (a copy still being written) or a trailer longer than SAMPLE
        raise _Unreadable
    end = window + eoi + 2
    if end <= start:
        raise _Unreadable
    return tables, [(start, end - start)]


def _png(f: BinaryIO, size: int) -> tuple[list[bytes], list[tuple[int, int]]]:
    tables: list[bytes] = []
    ranges: list[tuple[int, int]] = []
    pos = 8
    while pos + 12 <= size:
        f.seek(pos)
        length, kind = struct.unpack(">I4s", f.read(8))
        if pos + 12 + length > size:
            raise _Unreadable
        if kind == b"IDAT":
            if length:
                ranges.append((pos + 8, length))
        elif kind in _PNG_PIXELS:
            tables.append(kind + f.read(length))
        elif kind == b"IEND":
            break
        pos += 12 + length
    if not ranges:
        raise _Unreadable
    return tables, ranges


def _webp(f: BinaryIO, size: int) -> tuple[list[bytes], list[tuple[int, int]]]:
    tables: list[bytes] = []
    ranges: list[tuple[int, int]] = []
    pos = 12
    while pos + 8 <= size:
        f.seek(pos)
        kind, length = struct.unpack("<4sI", f.read(8))
        if pos + 8 + length > size:
            raise _Unreadable
        if kind in _WEBP_PIXELS and length:
            tables.append(kind)
            ranges.append((pos + 8, length))
        pos += 8 + length + (length & 1)  # chunks are padded to even sizes
    if not ranges:
        raise _Unreadable
    return tables, ranges


def _bmp(f: BinaryIO, size: int) -> tuple[list[bytes], list[tuple[int, int]]]:
    f.seek(2)
    raw = f.read(16)
    if len(raw) < 16:
        raise _Unreadable
    file_size, offset, header_size = struct.unpack("<I4xII", raw)
    if not 14 + header_size <= offset < size or file_size > size:  # file_size 0: not filled in by the writer
        raise _Unreadable
    f.seek(14)
    return [f.read(header_size)], [(offset, size - offset)]
