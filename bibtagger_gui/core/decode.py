"""Numpy post-processing shared by the app and training: letterbox, CenterNet decode, NMS, CTC.

Kept free of onnxruntime and torch so both sides decode model outputs identically.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

PAD_VALUE = 0.5


def letterbox_geometry(
    shape: tuple[int, int], size: tuple[int, int], multiple: int | None = None
) -> tuple[float, tuple[int, int], tuple[int, int]]:
    """(scale, (nh, nw), (H, W)) of letterboxing an image of `shape` into `size`: resized by `scale` to
    nh x nw it fits `size`; H x W is the padded input, `size` itself, or with `multiple` each side of
    the resized image rounded up to a multiple of it (never beyond `size`)."""
    h, w = shape[:2]
    th, tw = size
    scale = min(th / h, tw / w)
    nh, nw = max(1, round(h * scale)), max(1, round(w * scale))
    if multiple:
        th, tw = min(th, math.ceil(nh / multiple) * multiple), min(tw, math.ceil(nw / multiple) * multiple)
    return scale, (nh, nw), (th, tw)


def letterbox(image: np.ndarray, size: tuple[int, int], multiple: int | None = None) -> tuple[np.ndarray, float]:
    """Resize an RGB uint8 image to fit (H, W), pad bottom/right with 0.5 (to `size`, or with `multiple`
    only up to the next multiple of it, ``letterbox_geometry``); return NCHW float32 and scale."""
    scale, (nh, nw), (th, tw) = letterbox_geometry(image.shape[:2], size, multiple)
    interp = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    resized = cv2.resize(image, (nw, nh), interpolation=interp)
    out = np.full((th, tw, 3), PAD_VALUE, dtype=np.float32)
    out[:nh, :nw] = resized.astype(np.float32) / 255.0
    return out.transpose(2, 0, 1)[None], scale


def centernet_decode(
    heatmap: np.ndarray,
    size: np.ndarray,
    offset: np.ndarray,
    stride: int = 4,
    score_threshold: float = 0.3,
    topk: int = 100,
) -> tuple[np.ndarray, np.ndarray]:
    """Peaks of a [1,1,h,w] heatmap -> boxes [N,4] (x1,y1,x2,y2, input pixels) and scores [N]."""
    hm = heatmap[0, 0].astype(np.float32)
    peaks = cv2.dilate(hm, np.ones((3, 3), np.uint8))
    ys, xs = np.nonzero((hm == peaks) & (hm >= score_threshold))
    if len(ys) == 0:
        return np.zeros((0, 4), np.float32), np.zeros((0,), np.float32)
    scores = hm[ys, xs]
    order = np.argsort(-scores)[:topk]
    ys, xs, scores = ys[order], xs[order], scores[order]
    cx = (xs + offset[0, 0, ys, xs]) * stride
    cy = (ys + offset[0, 1, ys, xs]) * stride
    bw = np.maximum(size[0, 0, ys, xs], 1.0)
    bh = np.maximum(size[0, 1, ys, xs], 1.0)
    boxes = np.stack([cx - bw / 2, cy - bh / 2, cx + bw / 2, cy + bh / 2], axis=1).astype(np.float32)
    return boxes, scores.astype(np.float32)


def box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Pairwise IoU of boxes a [N,4] and b [M,4] -> [N,M]."""
    a = np.asarray(a, np.float32).reshape(-1, 4)
    b = np.asarray(b, np.float32).reshape(-1, 4)
    x1 = np.maximum(a[:, None, 0], b[None, :, 0])
    y1 = np.maximum(a[:, None, 1], b[None, :, 1])
    x2 = np.minimum(a[:, None, 2], b[None, :, 2])
    y2 = np.minimum(a[:, None, 3], b[None, :, 3])
    inter = np.clip(x2 - x1, 0, None) * np.clip(y2 - y1, 0, None)
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    return inter / np.maximum(area_a[:, None] + area_b[None, :] - inter, 1e-9)


def nms(boxes: np.ndarray, scores: np.ndarray, iou_threshold: float = 0.5) -> np.ndarray:
    """Greedy non-maximum suppression; returns kept indices, best score first."""
    order = np.argsort(-np.asarray(scores))
    keep: list[int] = []
    while len(order):
        i = int(order[0])
        keep.append(i)
        if len(order) == 1:
            break
        ious = box_iou(boxes[i : i + 1], boxes[order[1:]])[0]
        order = order[1:][ious < iou_threshold]
    return np.asarray(keep, dtype=np.int64)


def ctc_greedy_decode(logprobs: np.ndarray, charset: str) -> list[tuple[str, float]]:
    """Best-path CTC decode of log-probs [N,T,C] (blank = 0, class i+1 = charset[i]).

    Confidence is the probability of the best path (exp of the summed per-step max log-prob).
    """
    logprobs = np.asarray(logprobs, np.float32)
    best = logprobs.argmax(axis=2)
    best_lp = logprobs.max(axis=2)
    out = []
    for seq, lp in zip(best, best_lp):
        chars = []
        prev = 0
        for k in seq:
            if k != prev and k != 0:
                chars.append(charset[k - 1])
            prev = k
        out.append(("".join(chars), float(np.exp(lp.sum()))))
    return out
