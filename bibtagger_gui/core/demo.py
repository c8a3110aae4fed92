"""Synthetic demo race photos with ground truth (``make run`` without a folder, and tests).

``python -m bibtagger_gui.core.demo OUTDIR [--count 24] [--seed 0]`` writes OUTDIR/race_XXX.jpg
(runners drawn as simple shapes on varied backgrounds, coloured bib plates with 2-5 digit
numbers in Hershey fonts, some tilted or in perspective, some photos without any bib, one photo
stored sideways with an EXIF orientation tag) and OUTDIR/ground_truth.json (bib annotation
JSON, boxes in displayed-image pixels around the printed number, as the format wants). The same seed gives the same files.

Every photo carries an EXIF capture time (DateTimeOriginal + SubSecTimeOriginal), and the photos are
shot as :data:`PLAN` says: lone photos minutes apart and bursts of 3-5 frames 0.15-0.45 s apart, whose
frames show the same runners (same numbers) coming a little closer and drifting sideways, so the burst
tools (docs/bursts.md) have something to work on.

:func:`write_demo` is what ``bibtagger demo`` and the app's *Try Demo Photos* run: :func:`generate` into a
folder that is missing, empty or an earlier demo (:func:`is_demo_folder`), never into one holding anything
else (docs/packaging.md#demo-photos).
"""

from __future__ import annotations

import argparse
import re
import shutil
import struct
import sys
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Callable

import cv2
import numpy as np

from bibtagger_gui.core.annotations import PhotoAnnotation, save_annotations
from bibtagger_gui.core.bib import Bib
from bibtagger_gui.core.catalogue import STORE_DIRNAME
from bibtagger_gui.core.portable import user_data_dir

FONTS = [cv2.FONT_HERSHEY_SIMPLEX, cv2.FONT_HERSHEY_DUPLEX, cv2.FONT_HERSHEY_TRIPLEX, cv2.FONT_HERSHEY_COMPLEX]
PLATES = [((255, 255, 255), (0, 0, 0)), ((250, 230, 40), (0, 0, 0)), ((255, 255, 255), (200, 0, 0)), ((30, 60, 160), (255, 255, 255)), ((255, 140, 0), (0, 0, 0))]

#: the shoot, cycled: (frames, kind) per shot; kind "sideways" (the first cycle's only: stored turned, EXIF
#: orientation 6), "nobib" (no runner with a bib), "portrait" (taller than wide). 24 photos per cycle,
#: 4 bursts (4, 3, 5, 3 frames). A burst cut short by ``count`` keeps the frames it has.
PLAN: tuple[tuple[int, str], ...] = (
    (1, ""), (1, "sideways"), (4, ""), (1, "nobib"), (3, "portrait"), (1, ""), (1, "portrait"),
    (5, ""), (1, "nobib"), (3, ""), (1, ""), (1, "nobib"), (1, ""),
)
#: first capture time of a shoot (plus up to half an hour by seed); camera clock, no time zone
START = datetime(2024, 5, 12, 9, 0, 0)


@dataclass(frozen=True)
class _RunnerSpec:
    """One runner of a scene, drawn alike in every frame of a burst (only place and size change)."""

    cx: float
    feet: float
    scale: float
    shirt: tuple[int, int, int]
    skin: tuple[int, int, int]
    legs: tuple[int, int, int]
    number: str | None
    plate: tuple  # (background, ink, font, sponsor strip colour or None)
    plate_frac: float  # plate height / torso height
    angle: float  # degrees
    perspective: tuple[float, tuple[int, int]] | None  # (squeeze, the plate corners squeezed)


@dataclass(frozen=True)
class _Scene:
    background: np.ndarray  # before sensor noise
    runners: tuple[_RunnerSpec, ...]
    blur: float


def exif_segment(orientation: int = 1, taken: datetime | None = None) -> bytes:
    """A minimal JPEG APP1 segment (little-endian TIFF): EXIF Orientation, and with ``taken`` an EXIF IFD
    with DateTimeOriginal and SubSecTimeOriginal (hundredths of a second, as many cameras write)."""
    entries0 = [struct.pack("<HHIHH", 0x0112, 3, 1, orientation, 0)]
    tail = b""
    if taken is not None:
        exif_ifd = 8 + 2 + 12 * 2 + 4
        date_at = exif_ifd + 2 + 12 * 2 + 4
        entries0.append(struct.pack("<HHII", 0x8769, 4, 1, exif_ifd))
        date = taken.strftime("%Y:%m:%d %H:%M:%S").encode("ascii") + b"\x00"
        subsec = f"{taken.microsecond // 10000:02d}".encode("ascii") + b"\x00\x00"  # 3 bytes + pad, inline
        tail = struct.pack("<H", 2) + struct.pack("<HHII", 0x9003, 2, len(date), date_at)
        tail += struct.pack("<HHI", 0x9291, 2, 3) + subsec + struct.pack("<I", 0) + date
    tiff = b"II*\x00" + struct.pack("<I", 8) + struct.pack("<H", len(entries0)) + b"".join(entries0) + struct.pack("<I", 0) + tail
    payload = b"Exif\x00\x00" + tiff
    return b"\xff\xe1" + struct.pack(">H", len(payload) + 2) + payload


def exif_orientation_segment(orientation: int) -> bytes:
    """A minimal JPEG APP1 segment holding only EXIF Orientation."""
    return exif_segment(orientation)


def _background(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    """The scene behind the runners, without sensor noise (added per frame)."""
    img = np.empty((h, w, 3), np.float32)
    top, bottom = rng.uniform(60, 230, 3), rng.uniform(40, 200, 3)
    horizon = int(h * rng.uniform(0.35, 0.6))
    t = np.linspace(0, 1, horizon)[:, None, None]
    img[:horizon] = top * (1 - t) + rng.uniform(120, 255, 3) * t
    ground = rng.uniform(50, 160, 3)
    img[horizon:] = ground * (1 - 0.3 * np.linspace(0, 1, h - horizon)[:, None, None]) + bottom * 0.1
    img = np.clip(img, 0, 255).astype(np.uint8)
    for _ in range(rng.integers(3, 9)):  # buildings, trees, barriers, crowd blobs
        colour = tuple(int(c) for c in rng.integers(0, 255, 3))
        x, y = int(rng.integers(0, w)), int(rng.integers(0, horizon + 20))
        if rng.random() < 0.5:
            cv2.rectangle(img, (x, y), (x + int(rng.integers(30, 200)), horizon + int(rng.integers(0, 40))), colour, -1)
        else:
            cv2.ellipse(img, (x, y), (int(rng.integers(20, 90)), int(rng.integers(20, 70))), 0, 0, 360, colour, -1)
    return img


def _plate(spec: tuple, number: str, height: int) -> tuple[np.ndarray, tuple[int, int, int, int]]:
    """A bib plate image and the printed number's box on it (x1, y1, x2, y2): the bib annotation
    JSON's boxes cover the printed number, not the plate."""
    bg, fg, font, strip = spec
    thickness = max(2, height // 14)
    scale = cv2.getFontScaleFromHeight(font, int(height * 0.55), thickness)
    (tw, th), _ = cv2.getTextSize(number, font, scale, thickness)
    pw = int(tw + height * 0.5)
    plate = np.full((height, pw, 3), bg, np.uint8)
    cv2.putText(plate, number, ((pw - tw) // 2, (height + th) // 2), font, scale, fg, thickness, cv2.LINE_AA)
    ink = np.argwhere(np.any(plate != np.array(bg, np.uint8), axis=2))  # the drawn number, before the strip
    (y1, x1), (y2, x2) = ink.min(axis=0), ink.max(axis=0) + 1
    if strip is not None:  # sponsor strip
        cv2.rectangle(plate, (0, 0), (pw - 1, max(2, height // 9)), strip, -1)
    return plate, (int(x1), int(y1), int(x2), int(y2))


def _runner_spec(rng: np.random.Generator, cx: float, feet: float, scale: float, number: str | None) -> _RunnerSpec:
    shirt = tuple(int(c) for c in rng.integers(0, 255, 3))
    skin = tuple(int(c) for c in rng.choice([(230, 190, 160), (190, 140, 100), (120, 80, 50), (250, 210, 180)]))
    legs = tuple(int(c) for c in rng.integers(0, 90, 3))
    bg, fg = PLATES[int(rng.integers(len(PLATES)))]
    font = FONTS[int(rng.integers(len(FONTS)))]
    strip = tuple(int(c) for c in rng.integers(0, 255, 3)) if rng.random() < 0.6 else None
    frac = float(rng.uniform(0.32, 0.45))
    angle = float(rng.uniform(-12, 12)) if rng.random() < 0.5 else 0.0
    perspective = None
    if rng.random() < 0.35:  # one side further away
        perspective = (float(rng.uniform(0.75, 0.92)), (1, 2) if rng.random() < 0.5 else (0, 3))
    return _RunnerSpec(cx, feet, scale, shirt, skin, legs, number, (bg, fg, font, strip), frac, angle, perspective)


def _draw_runner(img: np.ndarray, r: _RunnerSpec) -> Bib | None:
    h, w = img.shape[:2]
    cx, feet, scale = int(round(r.cx)), int(round(r.feet)), r.scale
    torso_w, torso_h = int(70 * scale), int(110 * scale)
    top = feet - int(250 * scale)
    lw = max(3, int(14 * scale))
    hip = top + torso_h
    cv2.line(img, (cx - torso_w // 4, hip), (cx - int(30 * scale), feet), r.legs, lw)
    cv2.line(img, (cx + torso_w // 4, hip), (cx + int(25 * scale), feet - int(10 * scale)), r.legs, lw)
    cv2.rectangle(img, (cx - torso_w // 2, top), (cx + torso_w // 2, hip), r.shirt, -1)
    cv2.line(img, (cx - torso_w // 2, top + 10), (cx - torso_w, top + int(80 * scale)), r.skin, max(3, int(10 * scale)))
    cv2.line(img, (cx + torso_w // 2, top + 10), (cx + torso_w, top + int(60 * scale)), r.skin, max(3, int(10 * scale)))
    cv2.circle(img, (cx, top - int(28 * scale)), int(26 * scale), r.skin, -1)
    if r.number is None:
        return None
    plate, text = _plate(r.plate, r.number, max(14, int(torso_h * r.plate_frac)))
    ph, pw = plate.shape[:2]
    if pw > torso_w * 1.3:  # keep the plate on the chest
        plate = cv2.resize(plate, (int(torso_w * 1.3), int(ph * torso_w * 1.3 / pw)), interpolation=cv2.INTER_AREA)
        fx, fy = plate.shape[1] / pw, plate.shape[0] / ph
        text = (text[0] * fx, text[1] * fy, text[2] * fx, text[3] * fy)
        ph, pw = plate.shape[:2]
    src = np.float32([[0, 0], [pw, 0], [pw, ph], [0, ph]])
    centre = np.float32([cx, top + torso_h * 0.45])
    dst = src - np.float32([pw / 2, ph / 2])
    angle = np.deg2rad(r.angle)
    rot = np.float32([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    dst = dst @ rot.T
    if r.perspective is not None:
        k, side = r.perspective
        dst[list(side), 1] *= k
    dst += centre
    m = cv2.getPerspectiveTransform(src, dst.astype(np.float32))
    warped = cv2.warpPerspective(plate, m, (w, h), flags=cv2.INTER_LINEAR)
    mask = cv2.warpPerspective(np.full((ph, pw), 255, np.uint8), m, (w, h))
    img[mask > 127] = warped[mask > 127]
    tx1, ty1, tx2, ty2 = text
    corners = cv2.perspectiveTransform(np.float32([[[tx1, ty1], [tx2, ty1], [tx2, ty2], [tx1, ty2]]]), m)[0]
    x1, y1 = np.clip(corners.min(axis=0), 0, [w, h])  # the printed number's box, as the format wants
    x2, y2 = np.clip(corners.max(axis=0), 0, [w, h])
    if x2 - x1 < 4 or y2 - y1 < 4:
        return None
    return Bib(r.number, (round(float(x1), 1), round(float(y1), 1), round(float(x2), 1), round(float(y2), 1)))


def _scene(rng: np.random.Generator, size: tuple[int, int], no_bib: bool, runners: tuple[int, int] = (1, 3), room: float = 1.0, drift: float = 0.0) -> _Scene:
    """A scene; ``room`` (>= 1, the runners' largest growth) and ``drift`` (their largest sideways move, px)
    keep every runner inside the photo and clear of the others in every frame of a burst."""
    h, w = size
    background = _background(rng, h, w)
    n = 0 if no_bib and rng.random() < 0.5 else int(rng.integers(runners[0], runners[1] + 1))
    specs: list[_RunnerSpec] = []
    taken: list[tuple[float, float]] = []  # x extents, so runners never hide each other's bibs
    for _ in range(n):
        scale = rng.uniform(0.9, 1.6) * h / 640
        half = 80 * scale * room
        for _try in range(30):
            cx = float(rng.uniform(half + drift, max(half + drift + 1, w - half - drift)))
            if all(cx + half < a or cx - half > b for a, b in taken):
                break
        else:
            continue
        taken.append((cx - half, cx + half))
        feet = float(int(h * rng.uniform(0.82, 0.97)))
        number = None if no_bib else str(int(rng.integers(10 ** (d := int(rng.integers(2, 6))) // 10, 10**d)))
        specs.append(_runner_spec(rng, cx, feet, scale, number))
    return _Scene(background, tuple(specs), float(rng.uniform(0.3, 1.0)))


def _render(rng: np.random.Generator, scene: _Scene, grow: float = 1.0, shift: float = 0.0, tilt: float = 0.0) -> tuple[np.ndarray, list[Bib]]:
    """One frame of ``scene``: every runner ``grow`` times its size (feet moving down as it comes closer),
    ``shift`` px sideways, plates turned ``tilt`` degrees more; fresh sensor noise."""
    img = scene.background.copy()
    h = img.shape[0]
    bibs: list[Bib] = []
    for r in scene.runners:
        moved = replace(r, cx=r.cx + shift, scale=r.scale * grow, feet=min(h - 1.0, r.feet + (grow - 1) * (h - r.feet) * 2), angle=r.angle + tilt)
        bib = _draw_runner(img, moved)
        if bib is not None:
            bibs.append(bib)
    noise = rng.normal(0, 6, img.shape)
    img = np.clip(img + noise, 0, 255).astype(np.uint8)
    return cv2.GaussianBlur(img, (3, 3), scene.blur), bibs


def make_photo(rng: np.random.Generator, size: tuple[int, int] = (640, 960), no_bib: bool = False) -> tuple[np.ndarray, list[Bib]]:
    """One synthetic race photo (RGB) and its bibs."""
    return _render(rng, _scene(rng, size, no_bib))


def make_burst(rng: np.random.Generator, frames: int, size: tuple[int, int] = (640, 960), no_bib: bool = False) -> list[tuple[np.ndarray, list[Bib]]]:
    """``frames`` photos of the same 2-3 runners (fewer where they do not fit; same numbers) a moment apart: each frame they come
    1-3 % closer and drift up to 0.6 % of the width sideways, plates turning a little; the boxes follow."""
    grow, step = float(rng.uniform(0.01, 0.03)), float(rng.uniform(-0.006, 0.006)) * size[1]
    last = frames - 1
    scene = _scene(rng, size, no_bib, runners=(2, 3), room=1 + grow * last, drift=abs(step) * last)
    out = []
    for k in range(frames):
        out.append(_render(rng, scene, grow=1 + grow * k, shift=step * k, tilt=float(rng.uniform(-1.0, 1.0)) if k else 0.0))
    return out


def write_jpeg(path: Path, rgb: np.ndarray, orientation: int = 1, quality: int = 90, taken: datetime | None = None) -> None:
    """Write a JPEG; with an orientation the pixels are stored turned back and the EXIF tag says how to show them;
    with ``taken`` the EXIF capture time (to the hundredth of a second) is written too."""
    stored = rgb
    if orientation == 6:
        stored = np.ascontiguousarray(np.rot90(rgb, 1))  # shown rotated 90 deg clockwise
    elif orientation == 8:
        stored = np.ascontiguousarray(np.rot90(rgb, -1))
    elif orientation == 3:
        stored = np.ascontiguousarray(rgb[::-1, ::-1])
    ok, data = cv2.imencode(".jpg", cv2.cvtColor(stored, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise OSError(f"cannot encode {path}")
    blob = data.tobytes()
    if orientation != 1 or taken is not None:
        blob = blob[:2] + exif_segment(orientation, taken) + blob[2:]
    path.write_bytes(blob)


def shots(count: int) -> list[tuple[int, str]]:
    """:data:`PLAN` cycled and cut to ``count`` photos: (frames, kind) per shot; "sideways" only once."""
    out: list[tuple[int, str]] = []
    left, cycle = count, 0
    while left > 0:
        for frames, kind in PLAN:
            if left <= 0:
                break
            out.append((min(frames, left), "" if kind == "sideways" and cycle else kind))
            left -= out[-1][0]
        cycle += 1
    return out


def generate(outdir: str | Path, count: int = 24, seed: int = 0, size: tuple[int, int] = (640, 960),
             progress: Callable[[int, int], object] | None = None) -> list[PhotoAnnotation]:
    """Write ``count`` demo photos and ground_truth.json into ``outdir``; returns the ground truth.
    ``progress(done, count)`` is called after each photo."""
    out = Path(outdir)
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    truth = []
    centis = int(rng.integers(0, 1800)) * 100  # hundredths of a second after START
    i = 0
    for s, (frames, kind) in enumerate(shots(count)):
        if s:
            centis += int(rng.integers(60, 420)) * 100 + int(rng.integers(0, 100))  # the next shot, minutes later
        shape = (size[1], size[0]) if kind == "portrait" else size
        made = make_burst(rng, frames, shape, kind == "nobib") if frames > 1 else [make_photo(rng, shape, kind == "nobib")]
        for k, (img, bibs) in enumerate(made):
            if k:
                centis += int(rng.integers(15, 46))  # 0.15-0.45 s between frames
            name = f"race_{i + 1:03d}.jpg"
            write_jpeg(out / name, img, 6 if kind == "sideways" else 1, taken=START + timedelta(milliseconds=10 * centis))
            truth.append(PhotoAnnotation(name, img.shape[1], img.shape[0], bibs))
            i += 1
            if progress is not None:
                progress(i, count)
    save_annotations(out / "ground_truth.json", truth)
    return truth


#: the demo folder's name in the user data folder (``bibtagger demo`` without OUTDIR, *Try Demo Photos*)
DEMO_FOLDER_NAME = "bibtagger-demo"
#: the file :func:`write_demo` leaves in a demo folder (written first: an interrupted demo is still one)
MARKER = ".bibtagger-demo"
GROUND_TRUTH = "ground_truth.json"
_DEMO_PHOTO = re.compile(r"race_\d{3,}\.jpg")


class DemoFolderError(Exception):
    """The folder holds something other than an earlier demo: nothing was written."""


def default_demo_dir() -> Path:
    """``<user data folder>/bibtagger-demo`` (core/portable.py's :func:`user_data_dir`)."""
    return user_data_dir() / DEMO_FOLDER_NAME


def _demo_entry(name: str) -> bool:
    return name in (MARKER, GROUND_TRUTH, STORE_DIRNAME) or bool(_DEMO_PHOTO.fullmatch(name))


def is_demo_folder(folder: str | Path) -> bool:
    """Whether ``folder`` holds an earlier demo: :data:`MARKER`, or (a ``make run`` demo_photos/ from before
    the marker) ground_truth.json with nothing but race_NNN.jpg photos and bibtagger's own project folder."""
    folder = Path(folder)
    if (folder / MARKER).is_file():
        return True
    names = [p.name for p in folder.iterdir()] if folder.is_dir() else []
    return GROUND_TRUTH in names and all(_demo_entry(n) for n in names)


def demo_photos(folder: str | Path) -> list[Path]:
    """The demo's photos in ``folder`` (race_NNN.jpg), sorted."""
    folder = Path(folder)
    return sorted(p for p in folder.glob("race_*.jpg") if _DEMO_PHOTO.fullmatch(p.name)) if folder.is_dir() else []


def write_demo(outdir: str | Path, count: int = 24, seed: int = 0,
               progress: Callable[[int, int], object] | None = None) -> list[PhotoAnnotation]:
    """:func:`generate` into ``outdir`` (made when missing) after checking it: empty or missing, fine; an earlier
    demo (:func:`is_demo_folder`) is replaced: its race_NNN.jpg photos, ground_truth.json and its bibtagger
    project (``.bibtagger/``, the review done on it) are removed first, any other file left; anything else
    raises :class:`DemoFolderError` and nothing is written. Returns the ground truth."""
    out = Path(outdir)
    if out.exists() and not out.is_dir():
        raise DemoFolderError(f"{out} is a file, not a folder: choose a folder for the demo photos")
    if out.is_dir() and any(out.iterdir()):
        if not is_demo_folder(out):
            raise DemoFolderError(f"{out} is not empty and holds no earlier demo: the demo photos go into a new or empty "
                                  "folder (or one an earlier `bibtagger demo` made); choose another folder")
        for photo in demo_photos(out):
            photo.unlink()
        (out / GROUND_TRUTH).unlink(missing_ok=True)
        if (out / STORE_DIRNAME).is_dir():
            shutil.rmtree(out / STORE_DIRNAME)
    out.mkdir(parents=True, exist_ok=True)
    (out / MARKER).write_text(f"made by `bibtagger demo --count {count} --seed {seed}`; "
                              "a later `bibtagger demo` into this folder replaces it\n", encoding="utf-8")
    return generate(out, count, seed, progress=progress)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bibtagger_gui.core.demo", description=__doc__.split("\n\n")[0])
    ap.add_argument("outdir", type=Path)
    ap.add_argument("--count", type=int, default=24)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    truth = generate(args.outdir, args.count, args.seed)
    print(f"wrote {len(truth)} demo photos with {sum(len(t.bibs) for t in truth)} bibs to {args.outdir}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
