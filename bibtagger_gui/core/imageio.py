"""Safe image loading: EXIF orientation, reduced JPEG decode, decompression-bomb guard.

Everything here works on raw bytes (``numpy.fromfile`` + ``cv2.imdecode``) so unicode
paths are fine, and every failure becomes an :class:`ImageError` with a human message.
Headers (size, orientation, capture time) are parsed by small readers in this module:
Pillow is not a runtime dependency.  See docs/images.md.
"""

from __future__ import annotations

import math
import os
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

import cv2
import numpy as np

SUPPORTED_EXTENSIONS = frozenset({".jpg", ".jpeg", ".png", ".tif", ".tiff", ".bmp", ".webp"})
RAW_EXTENSIONS = frozenset(
    ".3fr .ari .arw .bay .cr2 .cr3 .crw .dcr .dng .erf .fff .iiq .k25 .kdc .mef .mos .mrw "
    ".nef .nrw .orf .ori .pef .raf .raw .rw2 .rwl .sr2 .srf .srw .x3f".split()
)
# Photo formats a scan leaves out but names (ScanReport.unsupported), so a folder of iPhone or RAW
# files does not just look empty.
UNSUPPORTED_PHOTO_EXTENSIONS = RAW_EXTENSIONS | frozenset(".heic .heif .hif .avif .jxl".split())
MAX_PIXELS = 200_000_000  # default decompression-bomb limit (200 MP)

_SOF_MARKERS = frozenset({0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF})
_REDUCED_FLAGS = {2: cv2.IMREAD_REDUCED_COLOR_2, 4: cv2.IMREAD_REDUCED_COLOR_4, 8: cv2.IMREAD_REDUCED_COLOR_8}


def _silence_opencv() -> None:
    """OpenCV would log decoder trouble to stderr itself; ImageError carries the one clean message."""
    try:
        cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_SILENT)
    except AttributeError:  # an OpenCV build without the logging API
        pass


_silence_opencv()


class ImageError(Exception):
    """An image that cannot be used; ``message`` is meant for the user."""

    def __init__(self, path: str | os.PathLike, message: str):
        super().__init__(f"{path}: {message}")
        self.path = str(path)
        self.message = message


@dataclass(frozen=True)
class ImageInfo:
    """Header facts. ``width``/``height`` are of the image as displayed (orientation applied)."""

    width: int
    height: int
    orientation: int = 1  # EXIF orientation 1..8
    captured_at: str | None = None  # ISO 8601 "YYYY-MM-DDTHH:MM:SS[.ff]" from EXIF (+ SubSecTime), local time
    format: str = ""  # jpeg | png | tiff | bmp | webp
    raw_width: int = 0  # stored (un-oriented) size
    raw_height: int = 0

    @property
    def pixels(self) -> int:
        return self.width * self.height


def is_supported(path: str | os.PathLike) -> bool:
    """True when the file name has one of the supported image extensions (case-insensitive)."""
    return Path(path).suffix.lower() in SUPPORTED_EXTENSIONS


def is_unsupported_photo(path: str | os.PathLike) -> bool:
    """True for photo formats bibtagger cannot read (HEIC, AVIF, RAW, …), by extension (case-insensitive)."""
    return Path(path).suffix.lower() in UNSUPPORTED_PHOTO_EXTENSIONS


def photo_target_problem(path: str | os.PathLike, harm: str = "writing there would replace a photo") -> str | None:
    """Why a report (CSV, JSON, workbook) must not be written to ``path``: its name, or the name of the file a
    link there points to, is a photo's, so writing would replace a photo (a slip of the shell's completion, a
    file dialog's "Replace?"). Photos are never modified; None when ``path`` may be written. ``harm`` says what
    writing there would do (a new project database: ``core.store.new_db_problem``)."""
    real = Path(os.path.realpath(path))
    for name in (Path(path).name, real.name):
        if is_supported(name) or is_unsupported_photo(name):
            where = path if name == Path(path).name else f"{path} (a link to {real})"
            return f"{where} is named like a photo ({Path(name).suffix}): {harm}; choose another file name"
    return None


def unsupported_note(relpaths: list[str]) -> str | None:
    """One line on the files a scan left out for their format, e.g.
    ``3 file(s) in formats bibtagger cannot read were left out (2 HEIC, 1 CR2): …``; None if none."""
    if not relpaths:
        return None
    counts: dict[str, int] = {}
    for rel in relpaths:
        ext = Path(rel).suffix.lstrip(".").upper()
        counts[ext] = counts.get(ext, 0) + 1
    kinds = ", ".join(f"{n} {ext}" for ext, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))
    raw = any(Path(rel).suffix.lower() in RAW_EXTENSIONS for rel in relpaths)
    other = any(Path(rel).suffix.lower() not in RAW_EXTENSIONS for rel in relpaths)
    hints = (["convert them to JPEG"] if other else []) + (["RAW files: use the camera's JPEGs"] if raw else [])
    return f"{len(relpaths)} file(s) in formats bibtagger cannot read were left out ({kinds}): {'; '.join(hints)}"


# --------------------------------------------------------------------------- headers

_ReadAt = Callable[[int, int], bytes]


def _exif_date(value: str, subsec: str | None = None) -> str | None:
    """EXIF "YYYY:MM:DD HH:MM:SS" (+ its SubSecTime digits, "45" = .45 s) as ISO "YYYY-MM-DDTHH:MM:SS[.45]"."""
    value = value.strip().strip("\x00").strip()
    if len(value) < 19 or value.startswith("0000"):
        return None
    date, _, time = value[:19].partition(" ")
    parts = date.split(":")
    if len(parts) != 3 or not all(p.isdigit() for p in parts):
        return None
    digits = (subsec or "").strip().strip("\x00").strip()
    fraction = f".{digits}" if digits.isdigit() and digits.isascii() else ""
    return f"{parts[0]}-{parts[1]}-{parts[2]}T{time}{fraction}"


def _parse_tiff(read_at: _ReadAt) -> dict[str, object]:
    """Read orientation, size and dates from a TIFF structure (a TIFF file or an EXIF blob)."""
    out: dict[str, object] = {}
    head = read_at(0, 8)
    if len(head) < 8 or head[:2] not in (b"II", b"MM"):
        return out
    e = "<" if head[:2] == b"II" else ">"
    if struct.unpack(e + "H", head[2:4])[0] != 42:
        return out
    sizes = {1: 1, 2: 1, 3: 2, 4: 4, 5: 8, 7: 1, 9: 4, 10: 8}

    def read_ifd(offset: int) -> dict[int, object]:
        tags: dict[int, object] = {}
        raw = read_at(offset, 2)
        if len(raw) < 2:
            return tags
        n = min(struct.unpack(e + "H", raw)[0], 512)
        block = read_at(offset + 2, 12 * n)
        for i in range(len(block) // 12):
            tag, typ, count = struct.unpack(e + "HHI", block[12 * i : 12 * i + 8])
            data = block[12 * i + 8 : 12 * i + 12]
            size = sizes.get(typ, 1) * count
            if size > 4:
                if typ != 2 or count > 64:  # only short strings are read from elsewhere
                    continue
                data = read_at(struct.unpack(e + "I", data)[0], size)
            if typ == 3 and count >= 1:
                tags[tag] = struct.unpack(e + "H", data[:2])[0]
            elif typ == 4 and count >= 1:
                tags[tag] = struct.unpack(e + "I", data[:4])[0]
            elif typ == 2:
                tags[tag] = data[:count].decode("ascii", "replace")
        return tags

    ifd0 = read_ifd(struct.unpack(e + "I", head[4:8])[0])
    if isinstance(ifd0.get(0x0112), int):
        out["orientation"] = ifd0[0x0112]
    for key, tag in (("width", 0x0100), ("height", 0x0101)):
        if isinstance(ifd0.get(tag), int):
            out[key] = ifd0[tag]
    date, subsec = ifd0.get(0x0132), None
    exif_ptr = ifd0.get(0x8769)
    if isinstance(exif_ptr, int) and exif_ptr > 0:
        exif = read_ifd(exif_ptr)
        # each date with its own fraction of a second: SubSecTimeOriginal / Digitized / SubSecTime
        for date_tag, subsec_tag in ((0x9003, 0x9291), (0x9004, 0x9292), (None, 0x9290)):
            if date_tag is None or exif.get(date_tag):
                date = exif[date_tag] if date_tag is not None else date
                subsec = exif.get(subsec_tag)
                break
    if isinstance(date, str):
        out["captured_at"] = _exif_date(date, subsec if isinstance(subsec, str) else None)
    return out


def _bytes_reader(blob: bytes) -> _ReadAt:
    return lambda off, n: blob[off : off + n] if off >= 0 else b""


def _file_reader(f) -> _ReadAt:
    def read_at(off: int, n: int) -> bytes:
        if off < 0:
            return b""
        f.seek(off)
        return f.read(n)

    return read_at


def _probe_jpeg(f) -> dict[str, object]:
    out: dict[str, object] = {"format": "jpeg"}
    f.seek(2)
    while True:
        b = f.read(1)
        if not b:
            break
        if b != b"\xff":
            continue
        m = f.read(1)
        while m == b"\xff":
            m = f.read(1)
        if not m:
            break
        marker = m[0]
        if marker in (0x01, 0xD8) or 0xD0 <= marker <= 0xD7:
            continue
        if marker in (0xD9, 0xDA):
            break
        raw = f.read(2)
        if len(raw) < 2:
            break
        length = struct.unpack(">H", raw)[0] - 2
        if marker == 0xE1 and "orientation" not in out:
            payload = f.read(length)
            if payload[:6] == b"Exif\x00\x00":
                for k, v in _parse_tiff(_bytes_reader(payload[6:])).items():
                    if k in ("orientation", "captured_at"):
                        out[k] = v
            continue
        if marker in _SOF_MARKERS:
            sof = f.read(5)
            if len(sof) == 5:
                out["height"], out["width"] = struct.unpack(">HH", sof[1:5])
            break
        f.seek(length, os.SEEK_CUR)
    return out


def _probe_png(f) -> dict[str, object]:
    out: dict[str, object] = {"format": "png"}
    f.seek(8)
    while True:
        head = f.read(8)
        if len(head) < 8:
            break
        length, ctype = struct.unpack(">I4s", head)
        if ctype == b"IHDR":
            out["width"], out["height"] = struct.unpack(">II", f.read(8))
            f.seek(length - 8 + 4, os.SEEK_CUR)
        elif ctype == b"eXIf" and length < (1 << 20):
            blob = f.read(length)
            tiff = _parse_tiff(_bytes_reader(blob[6:] if blob[:6] == b"Exif\x00\x00" else blob))
            out.update({k: v for k, v in tiff.items() if k in ("orientation", "captured_at")})
            f.seek(4, os.SEEK_CUR)
        elif ctype in (b"IDAT", b"IEND"):
            break
        else:
            f.seek(length + 4, os.SEEK_CUR)
    return out


def _probe_bmp(f) -> dict[str, object]:
    f.seek(14)
    head = f.read(12)
    if len(head) < 12:
        return {"format": "bmp"}
    size = struct.unpack("<I", head[:4])[0]
    if size == 12:
        w, h = struct.unpack("<HH", head[4:8])
    else:
        w, h = struct.unpack("<ii", head[4:12])
    return {"format": "bmp", "width": abs(w), "height": abs(h)}


def _probe_webp(f) -> dict[str, object]:
    out: dict[str, object] = {"format": "webp"}
    f.seek(12)
    while True:
        head = f.read(8)
        if len(head) < 8:
            break
        ctype, length = struct.unpack("<4sI", head)
        body_start = f.tell()
        if ctype == b"VP8X":
            d = f.read(10)
            if len(d) == 10:
                out["width"] = 1 + int.from_bytes(d[4:7], "little")
                out["height"] = 1 + int.from_bytes(d[7:10], "little")
        elif ctype == b"VP8 " and "width" not in out:
            d = f.read(10)
            if len(d) == 10 and d[3:6] == b"\x9d\x01\x2a":
                out["width"] = struct.unpack("<H", d[6:8])[0] & 0x3FFF
                out["height"] = struct.unpack("<H", d[8:10])[0] & 0x3FFF
        elif ctype == b"VP8L" and "width" not in out:
            d = f.read(5)
            if len(d) == 5 and d[0] == 0x2F:
                bits = int.from_bytes(d[1:5], "little")
                out["width"] = (bits & 0x3FFF) + 1
                out["height"] = ((bits >> 14) & 0x3FFF) + 1
        elif ctype == b"EXIF" and length < (1 << 20):
            blob = f.read(length)
            tiff = _parse_tiff(_bytes_reader(blob[6:] if blob[:6] == b"Exif\x00\x00" else blob))
            out.update({k: v for k, v in tiff.items() if k in ("orientation", "captured_at")})
        f.seek(body_start + length + (length & 1))
    return out


def _sniff(head: bytes) -> str | None:
    if head[:3] == b"\xff\xd8\xff":
        return "jpeg"
    if head[:8] == b"\x89PNG\r\n\x1a\n":
        return "png"
    if head[:4] in (b"II*\x00", b"MM\x00*"):
        return "tiff"
    if head[:2] == b"BM":
        return "bmp"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "webp"
    return None


def _open(path: Path):
    try:
        return open(path, "rb")
    except FileNotFoundError:
        raise ImageError(path, "file not found") from None
    except PermissionError:
        raise ImageError(path, "permission denied") from None
    except IsADirectoryError:
        raise ImageError(path, "is a folder, not an image") from None
    except OSError as exc:
        raise ImageError(path, f"cannot read file ({exc.strerror or exc})") from None


def probe_image(path: str | os.PathLike, max_pixels: int | None = MAX_PIXELS) -> ImageInfo:
    """Size, orientation and capture time from the file header only (no pixel decoding).

    Raises ImageError for unreadable files, non-images, broken headers and images over
    ``max_pixels`` (None disables the limit).
    """
    path = Path(path)
    with _open(path) as f:
        try:
            head = f.read(16)
            if not head:
                raise ImageError(path, "empty file")
            kind = _sniff(head)
            if kind is None:
                raise ImageError(path, "not an image (unrecognized file content)")
            if kind == "jpeg":
                d = _probe_jpeg(f)
            elif kind == "png":
                d = _probe_png(f)
            elif kind == "tiff":
                d = {"format": "tiff", **_parse_tiff(_file_reader(f))}
            elif kind == "bmp":
                d = _probe_bmp(f)
            else:
                d = _probe_webp(f)
        except OSError as exc:
            raise ImageError(path, f"cannot read file ({exc.strerror or exc})") from None
        except struct.error:
            raise ImageError(path, f"truncated {kind.upper()} header") from None
    w, h = int(d.get("width") or 0), int(d.get("height") or 0)
    if w <= 0 or h <= 0:
        raise ImageError(path, f"corrupt {kind.upper()} (no image size in header)")
    if max_pixels is not None and w * h > max_pixels:
        raise ImageError(path, f"image too large ({w}x{h} px, limit {max_pixels / 1e6:g} MP)")
    orientation = d.get("orientation")
    orientation = orientation if isinstance(orientation, int) and 1 <= orientation <= 8 else 1
    ow, oh = (h, w) if orientation >= 5 else (w, h)
    captured = d.get("captured_at")
    return ImageInfo(ow, oh, orientation, captured if isinstance(captured, str) else None, kind, w, h)


# --------------------------------------------------------------------------- decoding


def apply_orientation(image: np.ndarray, orientation: int) -> np.ndarray:
    """Turn stored pixels into displayed pixels for an EXIF orientation (1..8)."""
    if orientation == 2:
        image = image[:, ::-1]
    elif orientation == 3:
        image = image[::-1, ::-1]
    elif orientation == 4:
        image = image[::-1]
    elif orientation == 5:
        image = image.swapaxes(0, 1)
    elif orientation == 6:
        image = image.swapaxes(0, 1)[:, ::-1]
    elif orientation == 7:
        image = image.swapaxes(0, 1)[::-1, ::-1]
    elif orientation == 8:
        image = image.swapaxes(0, 1)[::-1]
    return np.ascontiguousarray(image)


def _jpeg_segments(data: np.ndarray) -> Iterator[tuple[int, int, int]]:
    """(marker, offset of the marker, segment length) of each marker segment up to and including the first SOS.

    Walks the segments by their lengths, however much metadata comes first (large ICC
    profiles, Photoshop previews or extended XMP can put megabytes before the image data).
    """
    buf = memoryview(data)
    n = len(buf)
    i = 2
    while i + 4 <= n:
        if buf[i] != 0xFF:
            i += 1
            continue
        marker = buf[i + 1]
        if marker == 0xFF:
            i += 1
            continue
        if marker in (0x01, 0xD8) or 0xD0 <= marker <= 0xD7:
            i += 2
            continue
        length = (buf[i + 2] << 8) | buf[i + 3]
        yield marker, i, length
        if marker == 0xDA:
            return
        i += 2 + length


def _jpeg_scan_start(data: np.ndarray) -> int:
    """Offset just after the first SOS segment header, or -1."""
    for marker, at, length in _jpeg_segments(data):
        if marker == 0xDA:
            return at + 2 + length
    return -1


def _jpeg_unsupported(data: np.ndarray) -> str | None:
    """Why libjpeg (8-bit, as OpenCV uses it) cannot decode this JPEG's frame type, or None."""
    for marker, at, _ in _jpeg_segments(data):
        if marker in _SOF_MARKERS:
            precision = int(data[at + 4]) if at + 4 < len(data) else 8
            if marker in (0xC3, 0xC7, 0xCB, 0xCF):
                return "lossless JPEG is not supported (save it as an ordinary JPEG)"
            if marker in (0xC5, 0xC6, 0xC7, 0xCD, 0xCE, 0xCF):
                return "hierarchical JPEG is not supported (save it as an ordinary JPEG)"
            if precision != 8:
                return f"{precision}-bit JPEG is not supported (save it as an ordinary 8-bit JPEG)"
            return None
    return None


def _reduction(long_side: int, max_side: int | None) -> int:
    if not max_side:
        return 1
    for f in (8, 4, 2):
        if math.ceil(long_side / f) >= max_side:
            return f
    return 1


def scaled_decode_side(long_side: int, min_side: int) -> int:
    """Long side of the smallest libjpeg-scaled decode (1/8, 1/4, 1/2 or 1/1 of ``long_side``) that
    still reaches ``min_side``: passed to :func:`load_image` as ``max_side``, a JPEG is decoded at
    exactly that scale and needs no resize after it."""
    return math.ceil(long_side / _reduction(long_side, min_side))


def load_with_info(
    path: str | os.PathLike, max_side: int | None = None, max_pixels: int | None = MAX_PIXELS
) -> tuple[np.ndarray, ImageInfo]:
    """Like :func:`load_image` and also returns the header info (full-resolution, oriented size)."""
    path = Path(path)
    info = probe_image(path, max_pixels=max_pixels)
    try:
        data = np.fromfile(path, dtype=np.uint8)
    except PermissionError:
        raise ImageError(path, "permission denied") from None
    except OSError as exc:
        raise ImageError(path, f"cannot read file ({exc.strerror or exc})") from None
    factor = 1
    if info.format == "jpeg":
        start = _jpeg_scan_start(data)
        if start < 0:
            raise ImageError(path, "corrupt JPEG (no image data)")
        # EOI is normally within the last bytes: look there first, then in all of the scan data
        tail = data[max(start, len(data) - 65536) :].tobytes()
        if b"\xff\xd9" not in tail and b"\xff\xd9" not in data[start:].tobytes():
            raise ImageError(path, "truncated JPEG (file ends before the end-of-image marker)")
        factor = _reduction(max(info.width, info.height), max_side)
    elif info.format == "png" and data[-4096:].tobytes().rfind(b"IEND") < 0 and data.tobytes().rfind(b"IEND") < 0:
        raise ImageError(path, "truncated PNG (file ends before the IEND chunk)")
    flags = (_REDUCED_FLAGS[factor] if factor > 1 else cv2.IMREAD_COLOR) | cv2.IMREAD_IGNORE_ORIENTATION
    try:
        bgr = cv2.imdecode(data, flags)
    except cv2.error as exc:
        raise ImageError(path, f"cannot decode {info.format.upper()} ({str(exc).strip().splitlines()[-1]})") from None
    if bgr is None or bgr.size == 0:
        why = _jpeg_unsupported(data) if info.format == "jpeg" else None
        raise ImageError(path, why or f"corrupt {info.format.upper()} (cannot decode the pixels)")
    del data  # the file's bytes are not needed any more: peak memory stays at one decoded copy
    rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB, dst=bgr)  # in place
    if info.format != "tiff" or (info.orientation >= 5 and rgb.shape[:2] == (info.raw_height, info.raw_width)):
        # OpenCV's TIFF decoder orients the pixels itself (whatever the flags say); for
        # every other format IMREAD_IGNORE_ORIENTATION leaves it to us.
        rgb = apply_orientation(rgb, info.orientation)
    if max_side:
        h, w = rgb.shape[:2]
        long_side = max(h, w)
        if long_side > max_side:
            s = max_side / long_side
            size = (max(1, round(w * s)), max(1, round(h * s)))
            rgb = cv2.resize(rgb, size, interpolation=cv2.INTER_AREA)
    return rgb, info


def load_image(path: str | os.PathLike, max_side: int | None = None, max_pixels: int | None = MAX_PIXELS) -> np.ndarray:
    """Decode an image file to RGB uint8 HxWx3 with EXIF orientation applied.

    With ``max_side`` the long side of the result is at most ``max_side`` (never upscaled);
    JPEGs are decoded at 1/2, 1/4 or 1/8 by libjpeg first (the smallest scale still
    >= max_side), then resized down. The full-resolution oriented size is
    ``probe_image(path).width/height`` (or use :func:`load_with_info`).
    """
    return load_with_info(path, max_side=max_side, max_pixels=max_pixels)[0]


def read_exif_orientation(path: str | os.PathLike) -> int:
    """EXIF orientation (1..8) of a file, 1 when absent."""
    return probe_image(path, max_pixels=None).orientation
