"""Reader training samples: real bib crops (with jitter/augmentation) and synthetic bib crops.

Every crop goes through `bibtagger_gui.core.recognizer.reader_crop`, the app's own preprocessing
(box + 10% pad, grey, resize to height 32 keeping aspect, pad right to 128 with the mean), so
training sees exactly what the app feeds the ONNX reader.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from bibtagger_gui.core.decode import ctc_greedy_decode
from bibtagger_gui.core.recognizer import OnnxModel, reader_batch, reader_crop, reader_crop_window
from training.data import Entry
from training.models.reader import CHARSET, INPUT_H, INPUT_W
from training.synth_bibs import SQUEEZE, crease, degrade, paste_bib, random_background, render_bib

SIZE = (INPUT_H, INPUT_W)
EVAL_PAD = 0.1  # the recognizer's default padding around a detected box
NO_SQUEEZE = (1.0, 1.0)  # real crops keep their printed width (and draw no random factor)
TRAIN_PAD = (0.0, 0.4)  # padding range in training: robust to loose boxes and neighbouring text


@dataclass
class RealBib:
    """One annotated bib of a loaded photo."""

    image: np.ndarray  # RGB uint8, EXIF orientation applied
    box: tuple[float, float, float, float]
    number: str
    source: str
    det_box: tuple[float, float, float, float] | None = None  # the app detector's box for this bib, if found
    cuts: tuple[float, ...] | None = None  # x of the box's left end, the gaps between characters, its right end


def attach_detector_boxes(bibs: list[RealBib], detector_path: Path, iou_min: float = 0.5) -> int:
    """Set ``det_box`` of each bib to the shipped detector's best-matching box (IoU >= iou_min).

    The app reads the detector's boxes, not annotated ones; training on both teaches the reader
    the margins and cut-offs it really sees. Returns how many bibs got a box.
    """
    from bibtagger_gui.core.recognizer import OnnxModel, Recognizer

    rec = Recognizer.__new__(Recognizer)  # detector only: no reader needed
    rec.detector = OnnxModel.load(Path(detector_path), "detector", 1)
    rec.stride = int(rec.detector.meta.get("bibtagger.stride", "4"))
    rec.score_threshold = 0.3
    found, cache = 0, {}
    for b in bibs:
        key = id(b.image)
        if key not in cache:
            cache[key] = rec.detect(b.image)[0]
        boxes = cache[key]
        if not len(boxes):
            continue
        x1, y1, x2, y2 = b.box
        ix = np.clip(np.minimum(x2, boxes[:, 2]) - np.maximum(x1, boxes[:, 0]), 0, None)
        iy = np.clip(np.minimum(y2, boxes[:, 3]) - np.maximum(y1, boxes[:, 1]), 0, None)
        inter = ix * iy
        union = (x2 - x1) * (y2 - y1) + (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1]) - inter
        iou = inter / np.maximum(union, 1e-6)
        j = int(np.argmax(iou))
        if iou[j] >= iou_min:
            b.det_box = tuple(float(v) for v in boxes[j])  # type: ignore[assignment]
            found += 1
    return found


def ctc_align(logprobs: np.ndarray, labels: list[int]) -> list[int] | None:
    """Most probable CTC path of `labels` through log-probs [T, C] (blank 0): for each label, the
    frame where its best path emits it first. None when the labels do not fit in T frames."""
    T = logprobs.shape[0]
    ext = [0]
    for lab in labels:
        ext += [lab, 0]
    S = len(ext)
    if S > 2 * T + 1 or not labels:
        return None
    score = np.full((T, S), -np.inf)
    back = np.zeros((T, S), np.int64)
    score[0, 0], score[0, 1] = logprobs[0, 0], logprobs[0, ext[1]]
    for t in range(1, T):
        for s in range(S):
            cands = [(score[t - 1, s], s)]
            if s >= 1:
                cands.append((score[t - 1, s - 1], s - 1))
            if s >= 2 and ext[s] != 0 and ext[s] != ext[s - 2]:
                cands.append((score[t - 1, s - 2], s - 2))
            best, arg = max(cands)
            score[t, s], back[t, s] = best + logprobs[t, ext[s]], arg
    s = S - 1 if score[T - 1, S - 1] >= score[T - 1, S - 2] else S - 2
    if not np.isfinite(score[T - 1, s]):
        return None
    states = [s]
    for t in range(T - 1, 0, -1):
        s = int(back[t, s])
        states.append(s)
    states.reverse()
    first: dict[int, int] = {}
    for t, st in enumerate(states):
        if st % 2 == 1:
            first.setdefault(st // 2, t)
    return [first[i] for i in range(len(labels))] if len(first) == len(labels) else None


def attach_glyph_cuts(bibs: list[RealBib], reader_path: Path, min_share: float = 0.35, verify: bool = True) -> int:
    """Set ``cuts`` of each bib: where a trained reader's forced CTC alignment of the true number emits
    its second to last characters (their left edges), mapped back to image x, between the box's ends.

    Read from the annotated box through the app's crop. Cuts that leave a character narrower than
    `min_share` of the mean character width are dropped (the alignment did not see the glyphs), and with
    `verify` so are cuts whose strips, put back in reverse order, the reader does not read as the
    reversed number (a strip holds a piece of a neighbour).
    Returns how many bibs got cuts. ``mosaic_bib`` recombines the pieces.
    """
    model = OnnxModel.load(Path(reader_path), "reader", 1)
    charset = model.charset
    (h, w), stretch, channels = model.input_size, model.stretch, model.channels
    found = 0
    for b in bibs:
        if not b.number or any(c not in charset for c in b.number):
            continue
        crop = eval_crop(b, (h, w), stretch, channels)
        (lp,) = model.run({"crop": reader_batch([crop])}, ["logits"])
        frames = ctc_align(lp[0].astype(np.float64), [charset.index(c) + 1 for c in b.number])
        if frames is None:
            continue
        # the crop's window [cx1, cx2) became nw of the input's w columns, read as T frames
        x1, _, x2, _ = b.box
        (cx1, _, cx2, _), nw = reader_crop_window(b.image.shape, b.box, (h, w), EVAL_PAD, stretch)
        T = lp.shape[1]
        centres = [cx1 + (f + 0.5) * w / T * (cx2 - cx1) / nw for f in frames]  # frame centres -> image x
        # the shipped readers emit a character at its left edge: cut there (shifting the cuts by
        # +-8 to 25 % of the spacing read fewer mosaics right; docs/recognizer.md#mosaics)
        cuts = [float(x1)] + centres[1:] + [float(x2)]
        widths = np.diff(cuts)
        if not (len(widths) and widths.min() >= min_share * (x2 - x1) / len(widths)):
            continue
        if verify and len(b.number) > 1:  # the strips in reverse order must read as the reversed number
            image, box = _recombine(b.image, b.box, cuts, list(range(len(b.number)))[::-1])
            (lp2,) = model.run({"crop": reader_batch([reader_crop(image, box, (h, w), pad=EVAL_PAD, stretch=stretch,
                                                                  channels=channels)])}, ["logits"])
            if ctc_greedy_decode(lp2, charset)[0][0] != b.number[::-1]:
                continue
        b.cuts = tuple(cuts)
        found += 1
    return found


def _recombine(image: np.ndarray, box, cuts, pick: list[int]) -> tuple[np.ndarray, tuple[float, float, float, float]]:
    """The photo rows around `box` with the character strips `pick` (indices into the strips
    between successive `cuts`) between its real margins (a box width on each side); returns
    (region, the new number's box)."""
    H, W = image.shape[:2]
    x1, y1, x2, y2 = box
    bw, bh = x2 - x1, y2 - y1
    ry1, ry2 = int(max(0, y1 - bh)), int(min(H, y2 + bh))
    xs = [int(round(min(max(c, 0), W))) for c in cuts]
    left = image[ry1:ry2, int(max(0, x1 - bw)):xs[0]]
    right = image[ry1:ry2, xs[-1]:int(min(W, x2 + bw))]
    strips = [image[ry1:ry2, xs[i]:xs[i + 1]] for i in pick]
    region = np.ascontiguousarray(np.concatenate([left, *strips, right], axis=1))
    lx = left.shape[1]
    return region, (float(lx), y1 - ry1, float(lx + sum(s.shape[1] for s in strips)), y2 - ry1)


def mosaic_bib(rng: np.random.Generator, bib: RealBib, max_chars: int = 6) -> RealBib:
    """A new bib from a real one's character strips (``cuts``): one to one more characters than it
    has, each a strip of the photo (full height around the box) drawn from its own characters,
    between its real left and right plate margins. Same font, paper and light; a new number.
    Bibs without cuts, or whose numbers have a letter, come back unchanged."""
    if bib.cuts is None or not bib.number.isdigit():
        return bib
    n = len(bib.number)
    m = int(np.clip(n + rng.integers(-1, 2), 1, max_chars))
    pick = [int(i) for i in rng.integers(0, n, m)]
    region, box = _recombine(bib.image, bib.box, bib.cuts, pick)
    return RealBib(region, box, "".join(bib.number[i] for i in pick), bib.source + " (mosaic)")


def load_rgb(path: Path) -> np.ndarray:
    """RGB uint8 photo with EXIF orientation applied (core.imageio: bytes in, so any path works on Windows too)."""
    from bibtagger_gui.core.imageio import load_image

    return load_image(path)


def load_real_bibs(entries: list[Entry], charset: str = CHARSET, warn=sys.stderr) -> list[RealBib]:
    """Load the photos of `entries` once and list their boxed bibs whose numbers fit the charset.

    Unreadable photos and unusable bibs (no box, characters outside the charset) are reported
    on `warn` and skipped.
    """
    out: list[RealBib] = []
    for e in entries:
        usable = [b for b in e.bibs if b.box is not None and b.number and all(c in charset for c in b.number.upper())]
        for b in e.bibs:
            if b not in usable:
                print(f"{e.image}: skipping bib {b.number!r} (no box or characters outside the charset)", file=warn)
        if not usable:
            continue
        try:
            img = load_rgb(e.path)
        except Exception as exc:  # ImageError or OSError: report and go on
            print(f"{e.path}: {exc}", file=warn)
            continue
        sx, sy = img.shape[1] / max(e.width, 1), img.shape[0] / max(e.height, 1)
        for b in usable:
            x1, y1, x2, y2 = b.box  # type: ignore[misc]
            out.append(RealBib(img, (x1 * sx, y1 * sy, x2 * sx, y2 * sy), b.number.upper(), e.image))
    return out


def jitter_box(rng: np.random.Generator, box, strength: float = 1.0) -> tuple[float, float, float, float]:
    """Move each side of a box by up to ~12% of its size (a detector is never pixel exact)."""
    x1, y1, x2, y2 = box
    w, h = x2 - x1, y2 - y1
    d = rng.uniform(-1, 1, 4) * strength * np.array([0.08 * w, 0.12 * h, 0.08 * w, 0.12 * h])
    return x1 + d[0], y1 + d[1], max(x1 + d[0] + 2, x2 + d[2]), max(y1 + d[1] + 2, y2 + d[3])


def eval_crop(bib: RealBib, size: tuple[int, int] = SIZE, stretch: float = 1.0, channels: int = 1) -> np.ndarray:
    """Deterministic crop for validation: the ground-truth box through the app's preprocessing."""
    return reader_crop(bib.image, bib.box, size, pad=EVAL_PAD, stretch=stretch, channels=channels)


def _affine_region(rng: np.random.Generator, image: np.ndarray, box, strength: float,
                   squeeze: tuple[float, float] = NO_SQUEEZE):
    """Cut a region around `box`, rotate/shear/scale it slightly and scale it horizontally by a
    factor drawn from `squeeze` (none drawn when it is (1, 1)); return (region, new box)."""
    H, W = image.shape[:2]
    x1, y1, x2, y2 = box
    bw, bh = x2 - x1, y2 - y1
    rx1, ry1 = int(max(0, x1 - bw)), int(max(0, y1 - bh))
    rx2, ry2 = int(min(W, x2 + bw)), int(min(H, y2 + bh))
    region = image[ry1:ry2, rx1:rx2]
    bx = np.array([[x1 - rx1, y1 - ry1], [x2 - rx1, y1 - ry1], [x2 - rx1, y2 - ry1], [x1 - rx1, y2 - ry1]], np.float32)
    c = bx.mean(0)
    M = cv2.getRotationMatrix2D((float(c[0]), float(c[1])), rng.normal(0, 4) * strength, rng.uniform(0.9, 1.1))
    M[0, 1] += rng.normal(0, 0.08) * strength
    if tuple(squeeze) != NO_SQUEEZE:  # narrower / wider digits than printed, about the box centre
        k = rng.uniform(*squeeze)
        M[0] = k * M[0]
        M[0, 2] += (1 - k) * float(c[0])
    region = cv2.warpAffine(region, M, (region.shape[1], region.shape[0]), borderMode=cv2.BORDER_REPLICATE)
    pts = np.hstack([bx, np.ones((4, 1), np.float32)]) @ M.T
    # shrink the rotated corners' bbox back towards the original size (annotations are axis-aligned)
    nb = (pts[:, 0].min(), pts[:, 1].min(), pts[:, 0].max(), pts[:, 1].max())
    return region, nb


def fold_region(rng: np.random.Generator, region: np.ndarray, box) -> tuple[np.ndarray, tuple[float, float, float, float]]:
    """A vertical crease across the number: the part beyond it (right or left) is foreshortened and
    sheared as paper bent away from the camera, and often shaded; returns (region, the box's new extent)."""
    x1, y1, x2, y2 = (float(v) for v in box)
    w = x2 - x1
    comp, shear = rng.uniform(0.55, 0.95), rng.uniform(-0.2, 0.2)
    right = rng.random() < 0.5  # crease in the right part, the right end bent away (else the left)
    fx = x1 + (rng.uniform(0.45, 0.9) if right else rng.uniform(0.1, 0.55)) * w
    out, beyond = crease(region, fx, comp, shear, right, border=cv2.BORDER_REPLICATE)
    if right:
        x2 = fx + (x2 - fx) * comp
    else:
        x1 = fx - (fx - x1) * comp
    if rng.random() < 0.7:
        shade = np.where(beyond, rng.uniform(0.55, 0.9), 1.0).astype(np.float32)[..., None]
        out = np.clip(out.astype(np.float32) * shade, 0, 255).astype(np.uint8)
    return out, (x1, y1, x2, y2)


def real_sample(rng: np.random.Generator, bib: RealBib, strength: float = 1.0, det_share: float = 0.0,
                size: tuple[int, int] = SIZE, stretch: float = 1.0, squeeze: tuple[float, float] = NO_SQUEEZE,
                fold: float = 0.0, channels: int = 1) -> np.ndarray:
    """Augmented crop of a real bib: affine (horizontal scale from `squeeze`), with probability
    `fold` a crease (`fold_region`), colour, camera degradation, box jitter, random padding.

    With probability `det_share` (when the bib has one) the detector's box is used instead of
    the annotated one.
    """
    box = bib.det_box if bib.det_box is not None and rng.random() < det_share else bib.box
    region, box = _affine_region(rng, bib.image, box, strength, squeeze)
    if fold > 0 and rng.random() < fold:
        region, box = fold_region(rng, region, box)
    f = region.astype(np.float32) * rng.uniform(0.7, 1.3, 3)
    if rng.random() < 0.15:
        f = 255 - f  # negative plates (light digits on dark) exist
    region = degrade(rng, np.clip(f, 0, 255).astype(np.uint8), 0.5 * strength)
    return reader_crop(region, jitter_box(rng, box, strength), size, pad=rng.uniform(*TRAIN_PAD), stretch=stretch,
                       channels=channels)


def synth_sample(rng: np.random.Generator, photos: list[np.ndarray] | None = None, number: str | None = None,
                 size: tuple[int, int] = SIZE, stretch: float = 1.0,
                 squeeze: tuple[float, float] = SQUEEZE, channels: int = 1) -> tuple[np.ndarray, str]:
    """A synthetic bib rendered, pasted into a background patch, degraded and cropped like a detection."""
    plate, number, dbox = render_bib(rng, number, squeeze=squeeze)
    digit_h = rng.uniform(14, 70)
    scale = digit_h / max(dbox[3] - dbox[1], 1)
    ph, pw = int(plate.shape[0] * scale) + 1, int(plate.shape[1] * scale) + 1
    bh, bw = ph + int(rng.integers(4, 40)), pw + int(rng.integers(4, 40))
    bg = random_background(rng, bh, bw, photos)
    x, y = int(rng.integers(0, bw - pw + 1)), int(rng.integers(0, bh - ph + 1))
    img, box = paste_bib(rng, bg, plate, dbox, x, y, scale)
    img = degrade(rng, img)
    return reader_crop(img, jitter_box(rng, box), size, pad=rng.uniform(*TRAIN_PAD), stretch=stretch, channels=channels), number


RENDER_CHUNK = 1000  # crops per independently seeded chunk of a parallel render (small: all workers busy)


def render_synthetic(n: int, seed: int, photos: list[np.ndarray] | None = None, progress=None,
                     size: tuple[int, int] = SIZE, stretch: float = 1.0,
                     squeeze: tuple[float, float] = SQUEEZE, channels: int = 1,
                     workers: int = 1, chunk: int = RENDER_CHUNK) -> tuple[np.ndarray, list[str]]:
    """`n` synthetic crops as uint8 [n,h,w] (grey) or [n,3,h,w] (RGB) plus their numbers (deterministic for a seed).

    ``workers`` <= 1 renders one random stream seeded ``seed``. With more workers the crops come in
    chunks of ``chunk``, chunk k drawn from the stream seeded ``(seed, k)``, rendered by a pool
    of processes: the result depends on ``seed`` alone, not on the number of workers (but differs
    from the single-stream one).
    """
    if workers > 1 and n > 0:
        return _render_parallel(n, seed, photos, progress, size, stretch, squeeze, channels, workers, chunk)
    return _render_stream(np.random.default_rng(seed), n, photos, size, stretch, squeeze, channels, progress)


RENDER_PROGRESS_EVERY = 100  # crops between two progress calls: about a second, so a progress bar moves steadily


def _render_stream(rng, n, photos, size, stretch, squeeze, channels, progress=None) -> tuple[np.ndarray, list[str]]:
    """`n` synthetic crops drawn in order from `rng` (uint8, as render_synthetic returns them)."""
    xs = np.empty((n, *size) if channels == 1 else (n, channels, *size), np.uint8)
    labels = []
    for i in range(n):
        crop, number = synth_sample(rng, photos, size=size, stretch=stretch, squeeze=squeeze, channels=channels)
        xs[i] = np.clip(crop * 255 + 0.5, 0, 255).astype(np.uint8)
        labels.append(number)
        if progress and (i + 1) % RENDER_PROGRESS_EVERY == 0:
            progress(i + 1, n)
    return xs, labels


_POOL_PHOTOS: list[np.ndarray] | None = None  # a render worker's copy of the background photos


def _init_render_worker(photos: list[np.ndarray] | None) -> None:
    global _POOL_PHOTOS
    _POOL_PHOTOS = photos
    cv2.setNumThreads(1)


def _render_chunk(job: tuple) -> tuple[int, np.ndarray, list[str]]:
    k, count, seed, size, stretch, squeeze, channels = job
    return (k, *_render_stream(np.random.default_rng([seed, k]), count, _POOL_PHOTOS, size, stretch, squeeze, channels))


def _render_parallel(n, seed, photos, progress, size, stretch, squeeze, channels, workers, chunk):
    import multiprocessing as mp

    jobs = [(k, min(chunk, n - k * chunk), seed, tuple(size), stretch, tuple(squeeze), channels)
            for k in range(-(-n // chunk))]
    xs = np.empty((n, *size) if channels == 1 else (n, channels, *size), np.uint8)
    labels: list[str] = [""] * n
    # spawned, not forked: a fork of a process whose OpenCV / torch thread pools ran can deadlock
    with mp.get_context("spawn").Pool(min(workers, len(jobs)), _init_render_worker, (photos,)) as pool:
        done = 0
        for k, out, chunk_labels in pool.imap_unordered(_render_chunk, jobs):
            xs[k * chunk : k * chunk + len(out)] = out
            labels[k * chunk : k * chunk + len(out)] = chunk_labels
            done += len(out)
            if progress:
                progress(done, n)
    return xs, labels


def synthetic_cached(path: Path | None, key: dict, render) -> tuple[np.ndarray, list[str], bool]:
    """(crops, numbers, loaded) from the cache file ``path`` when its stored ``key`` (the render's
    settings) matches, else ``render()``'s result, then saved there atomically. ``path`` None: no cache.

    A cache file that cannot be read, or holds another render, is reported and rendered over.
    """
    if path is not None and Path(path).is_file():
        try:
            with np.load(path, allow_pickle=False) as z:
                stored = json.loads(str(z["key"]))
                if stored == key:
                    return z["x"], [str(v) for v in z["y"]], True
            print(f"{path}: holds another synthetic render ({stored}); rendering anew", file=sys.stderr)
        except Exception as exc:  # truncated or foreign file
            print(f"{path}: unreadable synthetic cache ({exc}); rendering anew", file=sys.stderr)
    xs, ys = render()
    if path is not None:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp.npz")
        np.savez(tmp, x=xs, y=np.array(ys, dtype=str), key=json.dumps(key))
        tmp.replace(path)
    return xs, ys, False
