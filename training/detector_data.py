"""Training samples for the bib detector: augmented crops of real photos, copy-paste, synthetic bibs.

A sample is built in the frame the app sees at inference (photo letterboxed to the model's input
size), then randomly rescaled, rotated a little, cropped to a square, and photometrically jittered.
Real bibs are copy-pasted between photos and, when ``training.synth_bibs`` is available, rendered
bibs are composited in.  See docs/recognizer.md for the reasoning behind each choice.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from training.data import Entry
from training.synth_bibs import write_image

PAD = 127.5  # letterbox pad value 0.5 in uint8 space
MIN_BOX_H = 4.0  # boxes smaller than this (input px) are ignored, neither positive nor negative


@dataclass
class Photo:
    """A decoded training photo (RGB uint8) and its bib boxes [N,4] in its own pixels."""

    image: np.ndarray
    boxes: np.ndarray
    faces: np.ndarray = field(default_factory=lambda: np.zeros((0, 4), np.float32))


def load_photos(entries: list[Entry], max_side: int = 1600) -> list[Photo]:
    """Decode every entry once (RGB, at most `max_side` long); unreadable photos are skipped with a message.

    Entries without any bib are kept as negatives. Entries with a bib *without a box* (a number typed
    on a photo without bibs, or copied from another frame: docs/bursts.md) are left out with a message:
    the bib is somewhere on the photo, and every crop would teach the detector that it is background.
    """
    from bibtagger_gui.core.imageio import ImageError, load_image

    photos = []
    for e in entries:
        unboxed = [b.number for b in e.bibs if b.box is None]
        if unboxed:
            print(f"skipping {e.image}: bib {', '.join(unboxed)} has no box (somewhere on the photo, "
                  "not background)", flush=True)  # fmt: skip
            continue
        try:  # the app's loader: EXIF orientation applied like the annotation boxes; big photos reduced
            img = load_image(e.path, max_side=max_side)
        except ImageError as exc:
            print(f"skipping {exc}", flush=True)
            continue
        sx, sy = img.shape[1] / e.width, img.shape[0] / e.height
        boxes = [
            (b.box[0] * sx, b.box[1] * sy, b.box[2] * sx, b.box[3] * sy)
            for b in e.bibs
            if b.box is not None and b.box[2] > b.box[0] and b.box[3] > b.box[1]
        ]
        photos.append(Photo(img, np.asarray(boxes, np.float32).reshape(-1, 4)))
    return photos


def bib_patches(photos: list[Photo], margin: float = 0.35) -> list[tuple[np.ndarray, np.ndarray]]:
    """Crops of every real bib with some surrounding plate/shirt: (patch RGB, box inside the patch)."""
    out = []
    for p in photos:
        h, w = p.image.shape[:2]
        for x1, y1, x2, y2 in p.boxes:
            bw, bh = x2 - x1, y2 - y1
            mx, my = margin * bw, margin * bh * 1.5
            X1, Y1 = int(max(0, math.floor(x1 - mx))), int(max(0, math.floor(y1 - my)))
            X2, Y2 = int(min(w, math.ceil(x2 + mx))), int(min(h, math.ceil(y2 + my)))
            if X2 - X1 < 4 or Y2 - Y1 < 4:
                continue
            out.append((p.image[Y1:Y2, X1:X2].copy(), np.array([x1 - X1, y1 - Y1, x2 - X1, y2 - Y1], np.float32)))
    return out


def load_synth():
    """`synth_bibs.render_bib` when it imports and renders (fonts installed), else None."""
    try:
        from training.synth_bibs import render_bib  # written by the reader engineer
    except Exception:  # noqa: BLE001 - optional until that module exists / fonts are installed
        return None
    try:
        render_bib(np.random.default_rng(0))
    except Exception:  # noqa: BLE001
        return None
    return render_bib


def _feather(h: int, w: int, border: float) -> np.ndarray:
    """Alpha mask 1 inside, ramping to 0 over `border` px at the edges."""
    b = max(1.0, border)
    ys = np.minimum(np.arange(h) + 0.5, h - np.arange(h) - 0.5) / b
    xs = np.minimum(np.arange(w) + 0.5, w - np.arange(w) - 0.5) / b
    return np.clip(np.minimum(ys[:, None], xs[None, :]), 0, 1).astype(np.float32)


def _composite(dst: np.ndarray, patch: np.ndarray, alpha: np.ndarray, x: int, y: int) -> None:
    """Alpha-blend `patch` (h,w,3 uint8 or float) into `dst` at (x, y), clipped to dst."""
    H, W = dst.shape[:2]
    h, w = patch.shape[:2]
    x1, y1, x2, y2 = max(0, x), max(0, y), min(W, x + w), min(H, y + h)
    if x2 <= x1 or y2 <= y1:
        return
    p = patch[y1 - y : y2 - y, x1 - x : x2 - x].astype(np.float32)
    a = alpha[y1 - y : y2 - y, x1 - x : x2 - x, None]
    region = dst[y1:y2, x1:x2].astype(np.float32)
    dst[y1:y2, x1:x2] = np.clip(region * (1 - a) + p * a, 0, 255).astype(np.uint8)


def _overlaps(box: np.ndarray, boxes: np.ndarray, pad: float = 4.0) -> bool:
    if len(boxes) == 0:
        return False
    return bool(
        np.any(
            (box[0] - pad < boxes[:, 2]) & (box[2] + pad > boxes[:, 0]) & (box[1] - pad < boxes[:, 3]) & (box[3] + pad > boxes[:, 1])
        )
    )


# Arm-like occluders (docs/recognizer.md#partly-hidden-bibs). A number with OCCLUDED_VISIBLE of its width
# left uncovered is a partly hidden bib, drawn as a negative: its visible digits are a wrong number.
OCCLUDED_VISIBLE = (0.3, 0.75)
# The same band ending just past the number (gap as a fraction of its width) keeps a whole bib.
MARGIN_GAP = (0.05, 0.3)
MAX_HIDDEN = 0.1  # a box more covered than this is no longer a whole bib
SKIN_AND_CLOTH = [(224, 172, 138), (198, 134, 96), (141, 85, 54), (90, 56, 38), (30, 30, 34), (200, 200, 205),
                  (40, 60, 140), (170, 30, 40), (60, 120, 60)]


def band_mask(shape: tuple[int, int], box, side: int, edge: float, angle: float,
              width: float, reach: tuple[float, float]) -> np.ndarray:
    """Float mask (0..1) of an arm-like band over `box` (x1, y1, x2, y2).

    The band comes from `side` (0 = left, 1 = right). Its inner edge crosses the box's centre line
    where `edge` of the box width, counted from the other side, stays uncovered (> 1: past the
    number), tilted by `angle` degrees from vertical; it extends `width` px outward and
    `reach` = (up, down) px.
    """
    x1, y1, x2, y2 = (float(v) for v in box)
    bw, cy = x2 - x1, (y1 + y2) / 2
    xe = x2 - edge * bw if side == 0 else x1 + edge * bw
    out = -1.0 if side == 0 else 1.0  # direction away from the visible part, along x
    t = math.tan(math.radians(angle))
    up, down = reach
    pts = np.array([
        (xe - up * t, cy - up), (xe + down * t, cy + down),
        (xe + down * t + out * width, cy + down), (xe - up * t + out * width, cy - up),
    ], np.float32)
    mask = np.zeros(shape, np.uint8)
    cv2.fillPoly(mask, [np.round(pts * 4).astype(np.int32)], 255, lineType=cv2.LINE_AA, shift=2)
    return cv2.GaussianBlur(mask, (3, 3), 0.7).astype(np.float32) / 255.0


def hidden_fraction(mask: np.ndarray, box) -> float:
    """Mean of `mask` (0..1) over the pixels of `box` (x1, y1, x2, y2), clipped to the mask."""
    H, W = mask.shape[:2]
    x1, y1 = max(0, int(math.floor(box[0]))), max(0, int(math.floor(box[1])))
    x2, y2 = min(W, int(math.ceil(box[2]))), min(H, int(math.ceil(box[3])))
    return float(mask[y1:y2, x1:x2].mean()) if x2 > x1 and y2 > y1 else 0.0


def _photometric(img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Colour jitter, blur, noise, JPEG artefacts, occasional greyscale (uint8 RGB in, out)."""
    out = img.astype(np.float32)
    if rng.random() < 0.8:
        contrast = rng.uniform(0.6, 1.4)
        bright = rng.uniform(-35, 35)
        mean = out.mean()
        out = (out - mean) * contrast + mean + bright
        out *= rng.uniform(0.85, 1.15, size=3).astype(np.float32)  # white balance
    if rng.random() < 0.5:
        grey = out.mean(axis=2, keepdims=True)
        out = grey + (out - grey) * rng.uniform(0.3, 1.5)
    if rng.random() < 0.05:
        out[:] = out.mean(axis=2, keepdims=True)
    out = np.clip(out, 0, 255).astype(np.uint8)
    if rng.random() < 0.25:
        k = int(rng.choice([3, 5]))
        out = cv2.GaussianBlur(out, (k, k), rng.uniform(0.5, 1.5))
    if rng.random() < 0.2:
        noise = rng.normal(0, rng.uniform(2, 10), out.shape).astype(np.float32)
        out = np.clip(out.astype(np.float32) + noise, 0, 255).astype(np.uint8)
    if rng.random() < 0.3:
        ok, buf = cv2.imencode(".jpg", out, [cv2.IMWRITE_JPEG_QUALITY, int(rng.integers(25, 90))])
        if ok:
            out = cv2.imdecode(buf, cv2.IMREAD_UNCHANGED)
    return out


class DetectorSampler:
    """Draws augmented (image, boxes) training crops in the detector's input frame."""

    def __init__(
        self,
        photos: list[Photo],
        input_size: int = 512,
        crop: int = 384,
        scale_range: tuple[float, float] = (0.55, 1.8),
        p_flip: float = 0.5,
        p_copy_paste: float = 0.5,
        p_synth: float = 0.5,
        synth: object = "auto",
        p_occlude: float = 0.0,
    ):
        """``p_occlude``: chance that a bib (real or pasted) gets an arm-like occluder; two thirds
        of those hide part of the number and become negatives, one third end just past it."""
        self.photos = photos
        self.input_size = input_size
        self.crop = crop
        self.scale_range = scale_range
        self.p_flip = p_flip
        self.p_copy_paste = p_copy_paste
        self.p_synth = p_synth
        self.p_occlude = p_occlude
        self.patches = bib_patches(photos)
        self.render_bib = load_synth() if synth == "auto" else synth

    # ----------------------------------------------------------------- geometry
    def _base(self, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        p = self.photos[int(rng.integers(len(self.photos)))]
        img, boxes = p.image, p.boxes.copy()
        h, w = img.shape[:2]
        if rng.random() < self.p_flip:
            img = img[:, ::-1]
            boxes = np.stack([w - boxes[:, 2], boxes[:, 1], w - boxes[:, 0], boxes[:, 3]], axis=1) if len(boxes) else boxes
        s = self.input_size / max(h, w) * math.exp(rng.uniform(*map(math.log, self.scale_range)))
        nw, nh = max(1, round(w * s)), max(1, round(h * s))
        img = cv2.resize(np.ascontiguousarray(img), (nw, nh), interpolation=cv2.INTER_AREA if s < 1 else cv2.INTER_LINEAR)
        return img, boxes * np.array([nw / w, nh / h, nw / w, nh / h], np.float32)

    def _crop(self, img: np.ndarray, boxes: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """Crop a `crop`-square window (with small rotation) from the rescaled photo; pad with grey."""
        h, w = img.shape[:2]
        c = self.crop
        if len(boxes) and rng.random() < 0.7:
            b = boxes[int(rng.integers(len(boxes)))]
            cx, cy = (b[0] + b[2]) / 2, (b[1] + b[3]) / 2
            ox = cx - rng.uniform(0.1, 0.9) * c
            oy = cy - rng.uniform(0.1, 0.9) * c
        elif rng.random() < 0.5:  # the app's letterbox: photo at the top-left, grey bottom/right
            ox = rng.uniform(0, max(0, w - c))
            oy = rng.uniform(0, max(0, h - c))
        else:
            ox = rng.uniform(min(0, w - c), max(0, w - c))
            oy = rng.uniform(min(0, h - c), max(0, h - c))
        angle = rng.uniform(-6, 6) if rng.random() < 0.5 else 0.0
        m = cv2.getRotationMatrix2D((ox + c / 2, oy + c / 2), angle, 1.0)
        m[:, 2] -= (ox, oy)
        out = cv2.warpAffine(img, m, (c, c), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=(PAD, PAD, PAD))
        if len(boxes):
            corners = np.stack(
                [boxes[:, [0, 1]], boxes[:, [2, 1]], boxes[:, [0, 3]], boxes[:, [2, 3]]], axis=1
            )  # N,4,2
            pts = corners @ m[:, :2].T + m[:, 2]
            # rotating a box inflates its axis-aligned hull; shrink back towards the true extent
            nb = np.concatenate([pts.min(axis=1), pts.max(axis=1)], axis=1)
            ctr = (nb[:, :2] + nb[:, 2:]) / 2
            half = np.stack([(boxes[:, 2] - boxes[:, 0]) / 2, (boxes[:, 3] - boxes[:, 1]) / 2], axis=1)
            boxes = np.concatenate([ctr - half, ctr + half], axis=1)
            vis = self._visible(boxes, c)
            boxes = boxes[vis]
        return out, boxes

    @staticmethod
    def _visible(boxes: np.ndarray, c: int) -> np.ndarray:
        """Keep boxes with at least 60% of their area inside the crop."""
        area = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
        ix = np.clip(boxes[:, 2], 0, c) - np.clip(boxes[:, 0], 0, c)
        iy = np.clip(boxes[:, 3], 0, c) - np.clip(boxes[:, 1], 0, c)
        return (np.clip(ix, 0, None) * np.clip(iy, 0, None)) >= 0.6 * np.maximum(area, 1e-6)

    # ----------------------------------------------------------------- pasting
    def _paste_real(self, img: np.ndarray, boxes: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        if not self.patches:
            return boxes
        patch, pbox = self.patches[int(rng.integers(len(self.patches)))]
        target_h = math.exp(rng.uniform(math.log(7), math.log(60)))
        s = target_h / max(1.0, pbox[3] - pbox[1])
        return self._paste(img, boxes, patch, pbox, s, 0.5 * min(patch.shape[:2]) * s * 0.15, rng)

    def _paste_synth(self, img: np.ndarray, boxes: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        try:
            plate, _number, dbox = self.render_bib(rng)  # type: ignore[misc]
        except Exception:  # noqa: BLE001 - a failed render only loses one augmentation
            return boxes
        plate = np.asarray(plate)
        if plate.ndim != 3 or plate.shape[2] != 4:
            return boxes
        dbox = np.asarray(dbox, np.float32)
        target_h = math.exp(rng.uniform(math.log(7), math.log(60)))
        s = target_h / max(1.0, dbox[3] - dbox[1])
        # slight perspective / shear so plates are not perfectly frontal
        h, w = plate.shape[:2]
        jit = 0.06 * np.array([w, h], np.float32)
        src = np.float32([[0, 0], [w, 0], [w, h], [0, h]])
        dst = src + rng.uniform(-1, 1, (4, 2)).astype(np.float32) * jit
        dst -= dst.min(axis=0)
        pm = cv2.getPerspectiveTransform(src, dst)
        ow, oh = int(dst[:, 0].max()) + 1, int(dst[:, 1].max()) + 1
        warped = cv2.warpPerspective(plate, pm, (ow, oh), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=(0, 0, 0, 0))
        corners = np.float32([[dbox[0], dbox[1]], [dbox[2], dbox[1]], [dbox[2], dbox[3]], [dbox[0], dbox[3]]])
        tc = cv2.perspectiveTransform(corners[None], pm)[0]
        # the number box keeps its size; its centre follows the warp
        cx, cy = tc.mean(axis=0)
        hw, hh = (dbox[2] - dbox[0]) / 2, (dbox[3] - dbox[1]) / 2
        wbox = np.array([cx - hw, cy - hh, cx + hw, cy + hh], np.float32)
        rgb = warped[:, :, :3]
        alpha = warped[:, :, 3].astype(np.float32) / 255.0
        # shade the plate like the surrounding light
        rgb = np.clip(rgb.astype(np.float32) * rng.uniform(0.55, 1.05) + rng.uniform(-15, 15), 0, 255).astype(np.uint8)
        return self._paste(img, boxes, rgb, wbox, s, 0.0, rng, alpha=alpha)

    def _paste(self, img, boxes, patch, pbox, s, feather, rng, alpha=None) -> np.ndarray:
        ph, pw = patch.shape[:2]
        nw, nh = max(2, round(pw * s)), max(2, round(ph * s))
        if nw >= img.shape[1] - 2 or nh >= img.shape[0] - 2:
            return boxes
        patch = cv2.resize(patch, (nw, nh), interpolation=cv2.INTER_AREA if s < 1 else cv2.INTER_LINEAR)
        if alpha is None:
            alpha = _feather(nh, nw, max(1.0, feather))
        else:
            alpha = cv2.resize(alpha, (nw, nh), interpolation=cv2.INTER_LINEAR)
        sb = pbox * np.float32(s)
        for _ in range(6):
            x = int(rng.integers(0, img.shape[1] - nw))
            y = int(rng.integers(0, img.shape[0] - nh))
            nb = sb + np.array([x, y, x, y], np.float32)
            full = np.array([x, y, x + nw, y + nh], np.float32)
            if not _overlaps(full, boxes):
                _composite(img, patch, alpha, x, y)
                return np.concatenate([boxes.reshape(-1, 4), nb[None]], axis=0)
        return boxes

    # ----------------------------------------------------------------- occlusion
    def _occlude(self, img: np.ndarray, box: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Paint an arm, hand or other runner over `box` from one side, in place; returns its mask.

        Two times in three the band hides part of the number (``OCCLUDED_VISIBLE`` of it stays
        visible); otherwise it ends just past the number (``MARGIN_GAP``).
        """
        x1, y1, x2, y2 = (float(v) for v in box)
        bw, bh = x2 - x1, y2 - y1
        hide = rng.random() < 2 / 3
        edge = rng.uniform(*OCCLUDED_VISIBLE) if hide else 1.0 + rng.uniform(*MARGIN_GAP)
        width = (1.0 - edge) * bw + rng.uniform(0.5, 3.0) * bh if hide else rng.uniform(0.8, 3.0) * bh
        reach = (rng.uniform(0.8, 5.0) * bh, rng.uniform(0.8, 5.0) * bh)
        mask = band_mask(img.shape[:2], box, int(rng.integers(2)), edge, rng.uniform(-25, 25), width, reach)
        ys, xs = np.nonzero(mask > 0)
        if not len(ys):
            return mask
        Y1, Y2, X1, X2 = ys.min(), ys.max() + 1, xs.min(), xs.max() + 1
        h, w = Y2 - Y1, X2 - X1
        if rng.random() < 0.5 and self.photos:  # texture of another photo (crowd, clothes, skin)
            src = self.photos[int(rng.integers(len(self.photos)))].image
            sh, sw = src.shape[:2]
            ch, cw = min(sh, max(h, 8)), min(sw, max(w, 8))
            oy, ox = int(rng.integers(0, sh - ch + 1)), int(rng.integers(0, sw - cw + 1))
            tex = cv2.resize(src[oy : oy + ch, ox : ox + cw], (w, h), interpolation=cv2.INTER_LINEAR).astype(np.float32)
        else:  # a plain limb or sleeve, shaded across the band
            colour = np.array(SKIN_AND_CLOTH[int(rng.integers(len(SKIN_AND_CLOTH)))], np.float32)
            shade = np.linspace(rng.uniform(0.6, 1.0), rng.uniform(0.9, 1.2), w, dtype=np.float32)
            tex = colour[None, None, :] * shade[None, :, None] + rng.normal(0, 4, (h, w, 3)).astype(np.float32)
        _composite(img, tex, mask[Y1:Y2, X1:X2], int(X1), int(Y1))
        return mask

    def _occlude_some(self, img: np.ndarray, boxes: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Occlude each box with chance ``p_occlude``; boxes left more than ``MAX_HIDDEN`` covered
        (by their own band or a neighbour's) are partly hidden bibs and are dropped: negatives."""
        if self.p_occlude <= 0 or not len(boxes):
            return boxes
        covered = np.zeros(img.shape[:2], np.float32)
        for b in boxes:
            if rng.random() < self.p_occlude:
                covered = np.maximum(covered, self._occlude(img, b, rng))
        return boxes[[hidden_fraction(covered, b) <= MAX_HIDDEN for b in boxes]]

    # ----------------------------------------------------------------- public
    def sample(self, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """One augmented crop: RGB uint8 [crop,crop,3] and boxes [N,4] in crop pixels."""
        img, boxes = self._base(rng)
        img, boxes = self._crop(img, boxes, rng)
        img = np.ascontiguousarray(img)
        if rng.random() < self.p_copy_paste:
            for _ in range(int(rng.integers(1, 3))):
                boxes = self._paste_real(img, boxes, rng)
        if self.render_bib is not None and rng.random() < self.p_synth:
            for _ in range(int(rng.integers(1, 3))):
                boxes = self._paste_synth(img, boxes, rng)
        # occluders last, so that later pastes cannot cover the band or the part of a bib it left
        boxes = self._occlude_some(img, boxes.reshape(-1, 4), rng)
        img = _photometric(img, rng)
        return img, boxes.reshape(-1, 4).astype(np.float32)


def make_targets(boxes: np.ndarray, size: int, stride: int = 4, alpha: float = 0.54) -> dict[str, np.ndarray]:
    """CenterNet targets on a (size/stride)^2 grid.

    heatmap [1,h,w]: elliptical Gaussians (TTFNet-style, sigma = alpha*box/6) peaking at 1 on centre cells.
    wh/off [2,h,w] + reg_weight [1,h,w]: box size (input px) and centre offset ((cx/stride) - cell)
    regressed on every cell where the object's Gaussian exceeds 0.3 (weighted by it).
    ignore [1,h,w]: 1 where tiny boxes lie (excluded from the heatmap loss).
    """
    g = size // stride
    hm = np.zeros((g, g), np.float32)
    wh = np.zeros((2, g, g), np.float32)
    off = np.zeros((2, g, g), np.float32)
    rw = np.zeros((g, g), np.float32)
    ignore = np.zeros((g, g), np.float32)
    boxes = np.asarray(boxes, np.float32).reshape(-1, 4)
    areas = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    ys, xs = np.mgrid[0:g, 0:g].astype(np.float32)
    for i in np.argsort(-areas):
        x1, y1, x2, y2 = boxes[i]
        bw, bh = x2 - x1, y2 - y1
        if bw <= 0 or bh <= 0:
            continue
        cx, cy = (x1 + x2) / 2 / stride, (y1 + y2) / 2 / stride
        if bh < MIN_BOX_H:
            ix1, iy1 = int(max(0, math.floor(x1 / stride))), int(max(0, math.floor(y1 / stride)))
            ix2, iy2 = int(min(g, math.ceil(x2 / stride))), int(min(g, math.ceil(y2 / stride)))
            ignore[iy1:iy2, ix1:ix2] = 1
            continue
        ci, cj = int(min(g - 1, max(0, math.floor(cx)))), int(min(g - 1, max(0, math.floor(cy))))
        sx = max(0.5, alpha * bw / 6 / stride)
        sy = max(0.5, alpha * bh / 6 / stride)
        gauss = np.exp(-((xs - ci) ** 2) / (2 * sx * sx) - ((ys - cj) ** 2) / (2 * sy * sy))
        gauss[cj, ci] = 1.0
        owner = (gauss > 0.3) & (gauss >= hm)  # cells where this object dominates (smaller ones win ties)
        owner[cj, ci] = True
        hm = np.maximum(hm, gauss)
        wh[0][owner], wh[1][owner] = bw, bh
        off[0][owner] = cx - xs[owner]
        off[1][owner] = cy - ys[owner]
        rw[owner] = gauss[owner]
    return {"heatmap": hm[None], "wh": wh, "off": off, "reg_weight": rw[None], "ignore": ignore[None]}


def to_tensor_batch(images: list[np.ndarray]) -> np.ndarray:
    """uint8 HxWx3 RGB images -> float32 [N,3,H,W] in 0..1."""
    return np.stack([im.astype(np.float32).transpose(2, 0, 1) / 255.0 for im in images])


def save_preview(sampler: DetectorSampler, path: Path, n: int = 8, seed: int = 0) -> None:
    """Grid of samples with their boxes drawn (for eyeballing the augmentation)."""
    rng = np.random.default_rng(seed)
    tiles = []
    for _ in range(n):
        img, boxes = sampler.sample(rng)
        img = cv2.cvtColor(img, cv2.COLOR_RGB2BGR)
        for b in boxes:
            cv2.rectangle(img, (int(b[0]), int(b[1])), (int(b[2]), int(b[3])), (0, 255, 0), 1)
        tiles.append(img)
    rows = [np.concatenate(tiles[i : i + 4], axis=1) for i in range(0, n, 4)]
    write_image(Path(path), np.concatenate(rows, axis=0))
