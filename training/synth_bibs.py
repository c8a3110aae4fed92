"""Synthetic race bibs: Pillow-rendered paper plates, warped and degraded, for both models.

Public API (used by the reader's data pipeline and by the detector's compositing):

- `random_number(rng) -> str`: 1-6 digits, sometimes a letter prefix.
- `render_bib(rng, number=None) -> (rgba_plate HxWx4 uint8, number, digit_box)`: one plate with
  perspective/curl/fold warps, glare and partial occlusion; `digit_box` (x1, y1, x2, y2) is the
  printed number inside the plate, in plate pixels.
- `paste_bib(rng, image, plate, digit_box, x, y, scale)`: alpha-composite a plate into a photo
  (top-left at x, y after scaling); returns the digit box in image pixels.
- `cut_real_bib(image, box, rng)`: a real bib (box + margin) as an opaque RGBA plate for copy-paste.
- `degrade(rng, image)`: camera effects for a whole image or crop (blur, noise, JPEG, contrast).
"""

from __future__ import annotations

import functools
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageDraw, ImageFont

from training.fonts import find_fonts, find_text_fonts

CHARSET = "0123456789ABCDEFGHJKLMNPRSTUVWXYZ"
PREFIX_LETTERS = "ABCDEFGHJKLMNPRSTUVWXYZ"
DigitBox = tuple[int, int, int, int]
# Horizontal scale of the rendered number (after the font's own width): the range the shipped models
# were trained with; real bib digits are narrower (docs/synthetic-data.md#narrow-digits).
SQUEEZE = (0.75, 1.15)

# (paper colour, ink colours that read on it)
_PLATES = [
    ((250, 250, 248), [(10, 10, 10), (200, 20, 30), (20, 40, 160), (0, 90, 40), (30, 30, 30)]),
    ((240, 240, 235), [(10, 10, 10), (210, 40, 40), (20, 20, 110)]),
    ((255, 225, 40), [(10, 10, 10), (20, 20, 120)]),
    ((250, 140, 30), [(10, 10, 10), (255, 255, 255)]),
    ((150, 205, 240), [(10, 10, 10), (20, 20, 90)]),
    ((250, 175, 200), [(10, 10, 10), (90, 10, 60)]),
    ((170, 225, 150), [(10, 10, 10), (0, 60, 20)]),
    ((200, 180, 230), [(10, 10, 10), (40, 20, 80)]),
    ((225, 30, 40), [(255, 255, 255), (10, 10, 10)]),
    ((20, 40, 130), [(255, 255, 255), (255, 220, 0)]),
    ((25, 25, 25), [(255, 255, 255), (255, 220, 0)]),
    ((0, 120, 70), [(255, 255, 255)]),
]
_BAND_COLOURS = [(210, 20, 30), (20, 50, 160), (0, 120, 60), (240, 120, 0), (30, 30, 30), (120, 0, 120), (0, 150, 200)]
_WORDS = (
    "MARATHON RUN CITY HALF 10K 5K TRAIL RACE SPONSOR BANK ENERGY SPORTS WATER MOTORS GILLETTE "
    "ADIDAS NIKE ASICS RADIO NEWS FINISH START CHARITY TRIATHLON CLASSIC OPEN RELAY SERIES 2024 2025 "
    "CLUB ATHLETICS FESTIVAL NIGHT SPRING AUTUMN MEDIA TELECOM INSURANCE"
).split()


def random_number(rng: np.random.Generator) -> str:
    """A bib number: 1-6 digits (mostly 3-5, no leading zero), ~10% with a one-letter prefix."""
    n = int(rng.choice([1, 2, 3, 4, 5, 6], p=[0.03, 0.09, 0.26, 0.30, 0.24, 0.08]))
    digits = str(int(rng.integers(1, 10))) + "".join(str(int(d)) for d in rng.integers(0, 10, n - 1))
    if rng.random() < 0.10:
        digits = PREFIX_LETTERS[int(rng.integers(len(PREFIX_LETTERS)))] + digits[: max(1, n - 1)]
    return digits


@functools.lru_cache(maxsize=256)
def _font(path: str, size: int) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(path, size)


def _pick(rng: np.random.Generator, seq):
    return seq[int(rng.integers(len(seq)))]


def _render_text_mask(rng: np.random.Generator, text: str, font_path: str, size: int,
                      squeeze: tuple[float, float] = SQUEEZE) -> np.ndarray:
    """Grey mask (0..255) of `text` tightly cropped, with random tracking and a horizontal squeeze
    drawn from `squeeze` (low, high)."""
    font = _font(font_path, size)
    track = rng.uniform(-0.06, 0.12) * size
    widths = [font.getlength(c) for c in text]
    total = int(sum(widths) + track * (len(text) - 1) + size)
    canvas = Image.new("L", (max(total, 8), int(size * 1.6)), 0)
    draw = ImageDraw.Draw(canvas)
    x = size * 0.3
    stroke = int(rng.integers(0, 3)) if rng.random() < 0.3 else 0
    # some bibs print the leading digits (wave / corral) smaller, bottom-aligned
    small = int(rng.integers(1, 3)) if len(text) >= 4 and rng.random() < 0.08 else 0
    small_font = _font(font_path, max(8, int(size * rng.uniform(0.55, 0.8)))) if small else font
    base = size * 0.2 + font.getbbox("0")[3]
    for i, (c, w) in enumerate(zip(text, widths)):
        f = small_font if i < small else font
        y = base - f.getbbox("0")[3] if i < small else size * 0.2
        draw.text((x, y), c, font=f, fill=255, stroke_width=stroke, stroke_fill=255)
        x += (f.getlength(c) if i < small else w) + track
    m = np.asarray(canvas)
    ys, xs = np.nonzero(m > 20)
    if len(xs) == 0:
        return np.zeros((size, size), np.uint8)
    m = m[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1]
    sx = rng.uniform(*squeeze)
    return cv2.resize(m, (max(2, int(m.shape[1] * sx)), m.shape[0]), interpolation=cv2.INTER_AREA)


def _draw_words(rng, draw: ImageDraw.ImageDraw, box: tuple[int, int, int, int], colour) -> None:
    """Small sponsor words centred in `box` (x1, y1, x2, y2)."""
    x1, y1, x2, y2 = box
    h = y2 - y1
    if h < 6 or x2 - x1 < 20:
        return
    size = max(6, int(h * rng.uniform(0.45, 0.85)))
    font = _font(str(_pick(rng, find_text_fonts())), size)
    words = " ".join(_pick(rng, _WORDS) for _ in range(int(rng.integers(1, 4))))
    tw = font.getlength(words)
    if tw > (x2 - x1):
        words = _pick(rng, _WORDS)
        tw = font.getlength(words)
    x = x1 + (x2 - x1 - tw) * rng.uniform(0.0, 1.0) if tw < x2 - x1 else x1
    draw.text((x, y1 + (h - size) / 2), words, font=font, fill=tuple(colour))


def _plate(rng: np.random.Generator, number: str, squeeze: tuple[float, float] = SQUEEZE) -> tuple[np.ndarray, np.ndarray, DigitBox]:
    """Flat plate: RGB image, ink mask of the number, digit box."""
    bg, inks = _pick(rng, _PLATES)
    ink = _pick(rng, inks)
    bg = np.clip(np.array(bg) + rng.normal(0, 8, 3), 0, 255).astype(int)
    size = int(rng.integers(40, 110))
    mask = _render_text_mask(rng, number, str(_pick(rng, find_fonts())), size, squeeze)
    th, tw = mask.shape
    mx = int(th * rng.uniform(0.1, 0.6))
    top = int(th * rng.uniform(0.1, 0.9))
    bottom = int(th * rng.uniform(0.1, 0.7))
    W, H = tw + 2 * mx + int(rng.integers(0, th // 2 + 1)), th + top + bottom
    W = max(W, int(H * rng.uniform(1.1, 1.6)))  # bibs are landscape
    x0 = int((W - tw) * rng.uniform(0.35, 0.65))
    y0 = top
    img = Image.new("RGB", (W, H), tuple(bg))
    draw = ImageDraw.Draw(img)
    # header band with sponsor text, sponsor lines above / below the number
    if rng.random() < 0.45 and top > th * 0.25:
        band = _pick(rng, _BAND_COLOURS)
        bh = int(top * rng.uniform(0.5, 0.9))
        draw.rectangle((0, 0, W, bh), fill=band)
        _draw_words(rng, draw, (int(W * 0.05), int(bh * 0.1), int(W * 0.95), int(bh * 0.9)), (255, 255, 255))
    elif rng.random() < 0.7:
        _draw_words(rng, draw, (int(W * 0.05), int(top * 0.1), int(W * 0.95), int(top * 0.85)), ink)
    if rng.random() < 0.7:
        _draw_words(rng, draw, (int(W * 0.05), y0 + th + int(bottom * 0.15), int(W * 0.95), H - int(bottom * 0.1)),
                    ink if rng.random() < 0.6 else _pick(rng, _BAND_COLOURS))
    if rng.random() < 0.5:  # safety-pin holes
        r = max(2, H // 40)
        for cx, cy in ((r * 3, r * 3), (W - r * 3, r * 3), (r * 3, H - r * 3), (W - r * 3, H - r * 3)):
            draw.ellipse((cx - r, cy - r, cx + r, cy + r), fill=(60, 60, 60))
    rgb = np.asarray(img).astype(np.float32)
    full = np.zeros((H, W), np.float32)
    full[y0 : y0 + th, x0 : x0 + tw] = mask / 255.0
    rgb = rgb * (1 - full[..., None]) + np.array(ink, np.float32) * full[..., None]
    # paper texture and uneven light
    rgb += rng.normal(0, rng.uniform(0, 6), rgb.shape[:2])[..., None]
    gx = np.linspace(-1, 1, W)[None, :] * rng.uniform(-0.15, 0.15)
    gy = np.linspace(-1, 1, H)[:, None] * rng.uniform(-0.15, 0.15)
    rgb *= (1 + gx + gy)[..., None]
    return np.clip(rgb, 0, 255).astype(np.uint8), (full * 255).astype(np.uint8), (x0, y0, x0 + tw, y0 + th)


def crease(img: np.ndarray, fx: float, comp: float, shear: float, right: bool = True,
           border: int = cv2.BORDER_CONSTANT) -> tuple[np.ndarray, np.ndarray]:
    """Fold `img` along the vertical line x = fx: the part beyond it (right of it, or left) is
    foreshortened to `comp` of its width and sheared by `shear` (paper bent away from the camera).
    Returns the folded image and the boolean mask of the part beyond the crease."""
    h, w = img.shape[:2]
    mx, my = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
    d = mx - fx if right else fx - mx
    beyond = d > 0
    src_x = np.where(beyond, fx + d / comp if right else fx - d / comp, mx).astype(np.float32)
    src_y = np.where(beyond, my + shear * d, my).astype(np.float32)
    return cv2.remap(img, src_x, src_y, cv2.INTER_LINEAR, borderMode=border, borderValue=0), beyond


def _warp(rng: np.random.Generator, rgba: np.ndarray, ink: np.ndarray, strength: float) -> tuple[np.ndarray, np.ndarray]:
    """Perspective + rotation, then cylindrical curl and a fold; ink mask warped identically."""
    H, W = rgba.shape[:2]
    pad = int(max(H, W) * 0.25)
    stack = np.dstack([rgba, ink])
    stack = cv2.copyMakeBorder(stack, pad, pad, pad, pad, cv2.BORDER_CONSTANT, value=0)
    h2, w2 = stack.shape[:2]
    src = np.float32([[pad, pad], [pad + W, pad], [pad + W, pad + H], [pad, pad + H]])
    jit = rng.uniform(-1, 1, (4, 2)) * np.array([W, H]) * 0.10 * strength
    ang = np.deg2rad(rng.normal(0, 6) * strength)
    c = np.array([w2 / 2, h2 / 2])
    R = np.array([[np.cos(ang), -np.sin(ang)], [np.sin(ang), np.cos(ang)]])
    dst = ((src - c) @ R.T + c + jit).astype(np.float32)
    M = cv2.getPerspectiveTransform(src, dst)
    stack = cv2.warpPerspective(stack, M, (w2, h2), flags=cv2.INTER_LINEAR, borderValue=0)
    # curl: vertical sine displacement across the width, and a fold shading line
    if rng.random() < 0.6 * strength:
        amp = rng.uniform(-0.08, 0.08) * H
        xs = np.arange(w2, dtype=np.float32)
        ys = np.arange(h2, dtype=np.float32)
        mx, my = np.meshgrid(xs, ys)
        my = my + amp * np.sin(np.pi * (mx - pad) / max(W, 1))
        mx = mx + rng.uniform(-0.04, 0.04) * W * np.sin(np.pi * (my - pad) / max(H, 1))
        stack = cv2.remap(stack, mx.astype(np.float32), my.astype(np.float32), cv2.INTER_LINEAR, borderValue=0)
    if rng.random() < 0.2 * strength:  # fold: the part beyond a vertical crease is sheared and foreshortened
        fx = pad + rng.uniform(0.4, 0.85) * W
        comp, shear = rng.uniform(0.6, 0.95), rng.uniform(-0.25, 0.25)
        stack, _ = crease(stack, fx, comp, shear)
    if rng.random() < 0.3 * strength:
        fx = int(rng.uniform(0.2, 0.8) * w2)
        shade = rng.uniform(0.7, 0.9)
        rgb = stack[..., :3].astype(np.float32)
        if rng.random() < 0.5:
            rgb[:, fx:] *= shade
        else:
            rgb[:, :fx] *= shade
        stack[..., :3] = np.clip(rgb, 0, 255).astype(np.uint8)
    return stack[..., :4].copy(), stack[..., 4].copy()


def _glare_occlude(rng: np.random.Generator, rgba: np.ndarray, box: DigitBox, strength: float) -> np.ndarray:
    """Specular glare blob and a partial occluder (arm, hand, other runner) painted onto the plate."""
    H, W = rgba.shape[:2]
    rgb = rgba[..., :3].astype(np.float32)
    if rng.random() < 0.3 * strength:
        cx, cy = rng.uniform(0, W), rng.uniform(0, H)
        sx, sy = rng.uniform(0.05, 0.3) * W, rng.uniform(0.05, 0.3) * H
        yy, xx = np.mgrid[0:H, 0:W]
        g = np.exp(-(((xx - cx) / sx) ** 2 + ((yy - cy) / sy) ** 2)) * rng.uniform(0.3, 0.8)
        rgb = rgb + (255 - rgb) * g[..., None]
    if rng.random() < 0.2 * strength:
        x1, y1, x2, y2 = box
        bw, bh = x2 - x1, y2 - y1
        colour = _pick(rng, [(200, 150, 120), (120, 80, 60), (30, 30, 30), (60, 60, 140), (230, 230, 230)])
        layer = np.zeros((H, W), np.uint8)
        side = int(rng.integers(4))
        depth = rng.uniform(0.03, 0.12)  # fraction of the number covered from one side
        if side == 0:
            pts = [(0, 0), (x1 + bw * depth, 0), (x1 + bw * depth * rng.uniform(0.5, 1.5), H), (0, H)]
        elif side == 1:
            pts = [(W, 0), (x2 - bw * depth, 0), (x2 - bw * depth * rng.uniform(0.5, 1.5), H), (W, H)]
        elif side == 2:
            pts = [(0, H), (W, H), (W, y2 - bh * depth * 1.5), (0, y2 - bh * depth * rng.uniform(0.5, 2.0))]
        else:
            pts = [(0, 0), (W, 0), (W, y1 + bh * depth), (0, y1 + bh * depth * rng.uniform(0.5, 2.0))]
        cv2.fillPoly(layer, [np.array(pts, np.int32)], 255)
        a = (layer.astype(np.float32) / 255.0)[..., None]
        rgb = rgb * (1 - a) + np.array(colour, np.float32) * a
    out = rgba.copy()
    out[..., :3] = np.clip(rgb, 0, 255).astype(np.uint8)
    return out


def render_bib(rng: np.random.Generator, number: str | None = None, strength: float = 1.0,
               squeeze: tuple[float, float] = SQUEEZE) -> tuple[np.ndarray, str, DigitBox]:
    """Render one synthetic bib plate.

    Returns (rgba HxWx4 uint8 with alpha 0 outside the plate, number, digit_box x1,y1,x2,y2 in plate
    pixels, integers, inside the image). `strength` (0..1) scales warps, glare and occlusion;
    `squeeze` is the range of the number's horizontal scale (below 1: narrower digits).
    """
    number = number if number is not None else random_number(rng)
    rgb, ink, _ = _plate(rng, number, squeeze)
    H, W = rgb.shape[:2]
    alpha = np.full((H, W), 255, np.uint8)
    if rng.random() < 0.5:  # rounded corners
        r = int(min(H, W) * rng.uniform(0.02, 0.1))
        alpha[:] = 0
        cv2.rectangle(alpha, (r, 0), (W - 1 - r, H - 1), 255, -1)
        cv2.rectangle(alpha, (0, r), (W - 1, H - 1 - r), 255, -1)
        for cx, cy in ((r, r), (W - 1 - r, r), (r, H - 1 - r), (W - 1 - r, H - 1 - r)):
            cv2.circle(alpha, (cx, cy), r, 255, -1)
    rgba = np.dstack([rgb, alpha])
    rgba, ink = _warp(rng, rgba, ink, strength)
    ys, xs = np.nonzero(rgba[..., 3] > 0)
    y1p, y2p, x1p, x2p = ys.min(), ys.max() + 1, xs.min(), xs.max() + 1
    rgba, ink = rgba[y1p:y2p, x1p:x2p], ink[y1p:y2p, x1p:x2p]
    ys, xs = np.nonzero(ink > 100)
    box = (int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1)
    rgba = _glare_occlude(rng, rgba, box, strength)
    rgba[..., :3] = np.where(rgba[..., 3:] > 0, rgba[..., :3], 0)
    return np.ascontiguousarray(rgba), number, box


def paste_bib(
    rng: np.random.Generator, image: np.ndarray, plate: np.ndarray, digit_box: DigitBox, x: int, y: int, scale: float = 1.0
) -> tuple[np.ndarray, tuple[float, float, float, float]]:
    """Alpha-composite `plate` (RGBA) into RGB `image` with its top-left at (x, y) after scaling.

    The plate's brightness is matched loosely to the surroundings. Returns (new image, digit box
    in image pixels, clipped to the image). The input image is not modified.
    """
    out = image.copy()
    if scale != 1.0:
        plate = cv2.resize(plate, (max(1, round(plate.shape[1] * scale)), max(1, round(plate.shape[0] * scale))),
                           interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)
    ph, pw = plate.shape[:2]
    H, W = out.shape[:2]
    x1, y1, x2, y2 = max(0, x), max(0, y), min(W, x + pw), min(H, y + ph)
    if x2 > x1 and y2 > y1:
        p = plate[y1 - y : y2 - y, x1 - x : x2 - x].astype(np.float32)
        region = out[y1:y2, x1:x2].astype(np.float32)
        gain = np.clip(region.mean() / 128.0, 0.6, 1.15) * rng.uniform(0.85, 1.1)
        a = p[..., 3:] / 255.0
        out[y1:y2, x1:x2] = np.clip(region * (1 - a) + p[..., :3] * gain * a, 0, 255).astype(np.uint8)
    bx1, by1, bx2, by2 = (v * scale for v in digit_box)
    box = (max(0.0, x + bx1), max(0.0, y + by1), min(float(W), x + bx2), min(float(H), y + by2))
    return out, box


def cut_real_bib(image: np.ndarray, box, rng: np.random.Generator, margin: float = 0.3) -> tuple[np.ndarray, DigitBox]:
    """Cut a real annotated bib (box grown by `margin` x box size, random per side) as an opaque RGBA plate.

    Returns (rgba, digit_box in plate pixels) — use with `paste_bib` for copy-paste augmentation.
    """
    H, W = image.shape[:2]
    x1, y1, x2, y2 = box
    bw, bh = x2 - x1, y2 - y1
    m = rng.uniform(0.3, 1.0, 4) * margin
    cx1, cy1 = int(max(0, x1 - m[0] * bw)), int(max(0, y1 - m[1] * bh))
    cx2, cy2 = int(min(W, x2 + m[2] * bw)), int(min(H, y2 + m[3] * bh))
    crop = image[cy1:cy2, cx1:cx2]
    rgba = np.dstack([crop, np.full(crop.shape[:2], 255, np.uint8)])
    return rgba, (int(x1 - cx1), int(y1 - cy1), int(round(x2 - cx1)), int(round(y2 - cy1)))


def degrade(rng: np.random.Generator, image: np.ndarray, strength: float = 1.0) -> np.ndarray:
    """Camera effects: defocus/motion blur, down-up sampling, noise, contrast/gamma, JPEG artefacts."""
    img = image
    r = rng.random
    if r() < 0.4 * strength:
        k = int(rng.choice([3, 5]))
        img = cv2.GaussianBlur(img, (k, k), 0)
    if r() < 0.2 * strength:
        k = int(rng.integers(3, 8))
        kern = np.zeros((k, k), np.float32)
        kern[k // 2, :] = 1.0 / k
        M = cv2.getRotationMatrix2D((k / 2 - 0.5, k / 2 - 0.5), rng.uniform(0, 180), 1.0)
        kern = cv2.warpAffine(kern, M, (k, k))
        img = cv2.filter2D(img, -1, kern / max(kern.sum(), 1e-6))
    if r() < 0.3 * strength:
        f = rng.uniform(0.3, 0.8)
        h, w = img.shape[:2]
        small = cv2.resize(img, (max(1, int(w * f)), max(1, int(h * f))), interpolation=cv2.INTER_AREA)
        img = cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)
    f = img.astype(np.float32)
    if r() < 0.7:
        f = (f - 128) * rng.uniform(0.6, 1.3) + 128 + rng.uniform(-40, 30)
    if r() < 0.5 * strength:
        f = f + rng.normal(0, rng.uniform(2, 10), f.shape)
    if r() < 0.3:
        f = 255.0 * (np.clip(f, 0, 255) / 255.0) ** rng.uniform(0.6, 1.6)
    img = np.clip(f, 0, 255).astype(np.uint8)
    if r() < 0.5 * strength:
        ok, buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, int(rng.integers(15, 90))])
        if ok:
            img = cv2.imdecode(buf, cv2.IMREAD_UNCHANGED)
    return img


def random_background(rng: np.random.Generator, h: int, w: int, photos: list[np.ndarray] | None = None) -> np.ndarray:
    """RGB background: a random patch of a real photo when given, else clutter (gradient, stripes, blobs)."""
    if photos and rng.random() < 0.8:
        p = _pick(rng, photos)
        ph, pw = p.shape[:2]
        s = max(h / ph, w / pw, rng.uniform(0.3, 1.0) * max(h / ph, w / pw) * 2.0)
        ch, cw = min(ph, max(1, int(h / s))), min(pw, max(1, int(w / s)))
        y, x = int(rng.integers(0, ph - ch + 1)), int(rng.integers(0, pw - cw + 1))
        return cv2.resize(np.ascontiguousarray(p[y : y + ch, x : x + cw]), (w, h), interpolation=cv2.INTER_LINEAR)
    base = rng.uniform(0, 255, 3)
    img = np.empty((h, w, 3), np.float32)
    img[:] = base
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    img += (np.sin(xx * rng.uniform(0.01, 0.3) + yy * rng.uniform(0, 0.2))[..., None] * rng.uniform(0, 60, 3))
    for _ in range(int(rng.integers(0, 6))):
        c = tuple(float(v) for v in rng.uniform(0, 255, 3))
        cv2.circle(img, (int(rng.integers(0, w)), int(rng.integers(0, h))), int(rng.integers(3, max(4, h))), c, -1)
    return np.clip(img, 0, 255).astype(np.uint8)


def preview(out: Path, n: int = 24, seed: int = 0) -> Path:
    """Write a contact sheet of `n` rendered plates (digit boxes drawn in green) to `out` (PNG)."""
    rng = np.random.default_rng(seed)
    tiles = []
    for _ in range(n):
        plate, number, (x1, y1, x2, y2) = render_bib(rng)
        bg = random_background(rng, plate.shape[0] + 20, plate.shape[1] + 20)
        img, _ = paste_bib(rng, bg, plate, (x1, y1, x2, y2), 10, 10)
        img = degrade(rng, img)
        cv2.rectangle(img, (x1 + 10, y1 + 10), (x2 + 10, y2 + 10), (0, 255, 0), 1)
        tile = cv2.resize(img, (240, 140))
        cv2.putText(tile, number, (4, 134), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (255, 0, 255), 1)
        tiles.append(tile)
    while len(tiles) % 6:
        tiles.append(np.zeros_like(tiles[0]))
    sheet = np.vstack([np.hstack(tiles[i : i + 6]) for i in range(0, len(tiles), 6)])
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    write_image(out, cv2.cvtColor(sheet, cv2.COLOR_RGB2BGR))
    return out


def write_image(path: Path, bgr: np.ndarray) -> None:
    """Encode ``bgr`` by ``path``'s extension and write it atomically; never cv2.imwrite, which
    cannot open non-ASCII paths on Windows (docs/portability.md)."""
    from bibtagger_gui.core.annotations import atomic_write_bytes

    ok, data = cv2.imencode(Path(path).suffix or ".png", bgr)
    if not ok:
        raise OSError(f"{path}: cannot encode the image")
    atomic_write_bytes(path, data.tobytes())


def preview_main(argv: list[str] | None = None) -> int:
    """`python -m training synth-preview [--out PNG] [-n N] [--seed S]`."""
    import argparse

    p = argparse.ArgumentParser(prog="python -m training synth-preview", description="contact sheet of synthetic bibs")
    p.add_argument("--out", type=Path, default=Path("runs/synth_preview.png"))
    p.add_argument("-n", type=int, default=36)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    print(preview(args.out, args.n, args.seed))
    return 0
