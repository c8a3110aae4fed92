"""Synthetic demo race photos with ground truth (``make run`` without a folder, and tests).

``python -m bibtagger_gui.core.demo OUTDIR [--count 24] [--seed 0]`` writes OUTDIR/race_XXX.jpg
(runners drawn as simple shapes on varied backgrounds, coloured bib plates with 2-5 digit
numbers in Hershey fonts, some tilted or in perspective, some photos without any bib, one photo
stored sideways with an EXIF orientation tag) and OUTDIR/ground_truth.json (bib annotation
JSON, boxes in displayed-image pixels around the printed number, as the format wants). The same seed gives the same files.
"""

from __future__ import annotations

import argparse
import struct
import sys
from pathlib import Path

import cv2
import numpy as np

from bibtagger_gui.core.annotations import PhotoAnnotation, save_annotations
from bibtagger_gui.core.bib import Bib

FONTS = [cv2.FONT_HERSHEY_SIMPLEX, cv2.FONT_HERSHEY_DUPLEX, cv2.FONT_HERSHEY_TRIPLEX, cv2.FONT_HERSHEY_COMPLEX]
PLATES = [((255, 255, 255), (0, 0, 0)), ((250, 230, 40), (0, 0, 0)), ((255, 255, 255), (200, 0, 0)), ((30, 60, 160), (255, 255, 255)), ((255, 140, 0), (0, 0, 0))]


def exif_orientation_segment(orientation: int) -> bytes:
    """A minimal JPEG APP1 segment holding only EXIF Orientation (little-endian TIFF)."""
    tiff = b"II*\x00" + struct.pack("<I", 8) + struct.pack("<H", 1)
    tiff += struct.pack("<HHIHH", 0x0112, 3, 1, orientation, 0) + struct.pack("<I", 0)
    payload = b"Exif\x00\x00" + tiff
    return b"\xff\xe1" + struct.pack(">H", len(payload) + 2) + payload


def _background(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
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
    noise = rng.normal(0, 6, img.shape)
    return np.clip(img + noise, 0, 255).astype(np.uint8)


def _plate(rng: np.random.Generator, number: str, height: int) -> tuple[np.ndarray, tuple[int, int, int, int]]:
    """A bib plate image and the printed number's box on it (x1, y1, x2, y2): the bib annotation
    JSON's boxes cover the printed number, not the plate."""
    bg, fg = PLATES[int(rng.integers(len(PLATES)))]
    font = FONTS[int(rng.integers(len(FONTS)))]
    thickness = max(2, height // 14)
    scale = cv2.getFontScaleFromHeight(font, int(height * 0.55), thickness)
    (tw, th), _ = cv2.getTextSize(number, font, scale, thickness)
    pw = int(tw + height * 0.5)
    plate = np.full((height, pw, 3), bg, np.uint8)
    cv2.putText(plate, number, ((pw - tw) // 2, (height + th) // 2), font, scale, fg, thickness, cv2.LINE_AA)
    ink = np.argwhere(np.any(plate != np.array(bg, np.uint8), axis=2))  # the drawn number, before the strip
    (y1, x1), (y2, x2) = ink.min(axis=0), ink.max(axis=0) + 1
    if rng.random() < 0.6:  # sponsor strip
        cv2.rectangle(plate, (0, 0), (pw - 1, max(2, height // 9)), tuple(int(c) for c in rng.integers(0, 255, 3)), -1)
    return plate, (int(x1), int(y1), int(x2), int(y2))


def _runner(rng: np.random.Generator, img: np.ndarray, cx: int, feet: int, scale: float, number: str | None) -> Bib | None:
    h, w = img.shape[:2]
    torso_w, torso_h = int(70 * scale), int(110 * scale)
    top = feet - int(250 * scale)
    shirt = tuple(int(c) for c in rng.integers(0, 255, 3))
    skin = tuple(int(c) for c in rng.choice([(230, 190, 160), (190, 140, 100), (120, 80, 50), (250, 210, 180)]))
    legs = tuple(int(c) for c in rng.integers(0, 90, 3))
    lw = max(3, int(14 * scale))
    hip = top + torso_h
    cv2.line(img, (cx - torso_w // 4, hip), (cx - int(30 * scale), feet), legs, lw)
    cv2.line(img, (cx + torso_w // 4, hip), (cx + int(25 * scale), feet - int(10 * scale)), legs, lw)
    cv2.rectangle(img, (cx - torso_w // 2, top), (cx + torso_w // 2, hip), shirt, -1)
    cv2.line(img, (cx - torso_w // 2, top + 10), (cx - torso_w, top + int(80 * scale)), skin, max(3, int(10 * scale)))
    cv2.line(img, (cx + torso_w // 2, top + 10), (cx + torso_w, top + int(60 * scale)), skin, max(3, int(10 * scale)))
    cv2.circle(img, (cx, top - int(28 * scale)), int(26 * scale), skin, -1)
    if number is None:
        return None
    plate, text = _plate(rng, number, max(14, int(torso_h * rng.uniform(0.32, 0.45))))
    ph, pw = plate.shape[:2]
    if pw > torso_w * 1.3:  # keep the plate on the chest
        plate = cv2.resize(plate, (int(torso_w * 1.3), int(ph * torso_w * 1.3 / pw)), interpolation=cv2.INTER_AREA)
        fx, fy = plate.shape[1] / pw, plate.shape[0] / ph
        text = (text[0] * fx, text[1] * fy, text[2] * fx, text[3] * fy)
        ph, pw = plate.shape[:2]
    src = np.float32([[0, 0], [pw, 0], [pw, ph], [0, ph]])
    centre = np.float32([cx, top + torso_h * 0.45])
    dst = src - np.float32([pw / 2, ph / 2])
    angle = np.deg2rad(rng.uniform(-12, 12) if rng.random() < 0.5 else 0.0)
    rot = np.float32([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    dst = dst @ rot.T
    if rng.random() < 0.35:  # perspective: one side further away
        k = rng.uniform(0.75, 0.92)
        side = [1, 2] if rng.random() < 0.5 else [0, 3]
        dst[side, 1] *= k
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
    return Bib(number, (round(float(x1), 1), round(float(y1), 1), round(float(x2), 1), round(float(y2), 1)))


def make_photo(rng: np.random.Generator, size: tuple[int, int] = (640, 960), no_bib: bool = False) -> tuple[np.ndarray, list[Bib]]:
    """One synthetic race photo (RGB) and its bibs."""
    h, w = size
    img = _background(rng, h, w)
    bibs: list[Bib] = []
    n = 0 if no_bib and rng.random() < 0.5 else int(rng.integers(1, 4))
    taken: list[tuple[float, float]] = []  # x extents, so runners never hide each other's bibs
    for _ in range(n):
        scale = rng.uniform(0.9, 1.6) * h / 640
        half = 80 * scale
        for _try in range(30):
            cx = int(rng.uniform(half, w - half))
            if all(cx + half < a or cx - half > b for a, b in taken):
                break
        else:
            continue
        taken.append((cx - half, cx + half))
        feet = int(h * rng.uniform(0.82, 0.97))
        number = None if no_bib else str(int(rng.integers(10 ** (d := int(rng.integers(2, 6))) // 10, 10**d)))
        bib = _runner(rng, img, cx, feet, scale, number)
        if bib is not None:
            bibs.append(bib)
    img = cv2.GaussianBlur(img, (3, 3), rng.uniform(0.3, 1.0))
    return img, bibs


def write_jpeg(path: Path, rgb: np.ndarray, orientation: int = 1, quality: int = 90) -> None:
    """Write a JPEG; with an orientation the pixels are stored turned back and the EXIF tag says how to show them."""
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
    if orientation != 1:
        blob = blob[:2] + exif_orientation_segment(orientation) + blob[2:]
    path.write_bytes(blob)


def generate(outdir: str | Path, count: int = 24, seed: int = 0, size: tuple[int, int] = (640, 960)) -> list[PhotoAnnotation]:
    """Write ``count`` demo photos and ground_truth.json into ``outdir``; returns the ground truth."""
    out = Path(outdir)
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    truth = []
    for i in range(count):
        no_bib = i % 6 == 5
        portrait = i % 7 == 3
        img, bibs = make_photo(rng, (size[1], size[0]) if portrait else size, no_bib=no_bib)
        orientation = 6 if i == 1 else 1
        name = f"race_{i + 1:03d}.jpg"
        write_jpeg(out / name, img, orientation)
        truth.append(PhotoAnnotation(name, img.shape[1], img.shape[0], bibs))
    save_annotations(out / "ground_truth.json", truth)
    return truth


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
