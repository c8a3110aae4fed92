"""The one recognizer API: ``recognize(image) -> list[Bib]`` over two ONNX models.

The detector finds bib number regions on a letterboxed, reduced image; the reader
turns each region (cropped from the larger image) into a number with CTC.
Model metadata (kind, version, input size, charset) is read from the ONNX files.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from bibtagger_gui.core.bib import Bib
from bibtagger_gui.core.decode import centernet_decode, ctc_greedy_decode, letterbox, nms


class ModelError(RuntimeError):
    """A model file is missing, corrupt, or not the kind expected."""


def default_models_dir() -> Path:
    """`$BIBTAGGER_MODELS`, else the bundled `resources/models`."""
    env = os.environ.get("BIBTAGGER_MODELS")
    if env:
        return Path(env)
    try:
        from bibtagger_gui.resources import resource_path  # frozen-app aware, when present
    except ImportError:
        return Path(__file__).resolve().parents[2] / "resources" / "models"
    return resource_path("models")


@dataclass
class OnnxModel:
    """An ONNX Runtime session plus the bibtagger metadata embedded at export."""

    path: Path
    session: object
    meta: dict[str, str]

    @classmethod
    def load(cls, path: Path, kind: str, threads: int | None = None) -> "OnnxModel":
        import onnxruntime as ort

        path = Path(path)
        if not path.is_file():
            raise ModelError(f"{kind} model not found: {path}")
        opts = ort.SessionOptions()
        if threads:
            opts.intra_op_num_threads = threads
            opts.inter_op_num_threads = 1
        opts.log_severity_level = 3
        try:
            session = ort.InferenceSession(str(path), sess_options=opts, providers=["CPUExecutionProvider"])
        except Exception as exc:  # onnxruntime raises its own exception types
            raise ModelError(f"{kind} model {path} cannot be loaded (corrupt or incompatible file): {exc}") from exc
        meta = dict(session.get_modelmeta().custom_metadata_map)
        found = meta.get("bibtagger.kind")
        if found != kind:
            raise ModelError(f"{path} is not a bibtagger {kind} model (kind in metadata: {found!r})")
        return cls(path, session, meta)

    @property
    def version(self) -> str:
        return self.meta.get("bibtagger.version", "unknown")

    @property
    def input_size(self) -> tuple[int, int]:
        h, w = self.meta.get("bibtagger.input_size", "0,0").split(",")
        return int(h), int(w)

    def run(self, feeds: dict[str, np.ndarray]) -> list[np.ndarray]:
        return self.session.run(None, feeds)  # type: ignore[attr-defined]


class Recognizer:
    """Detector + reader; ``recognize`` returns bibs in the input image's pixel frame."""

    def __init__(
        self,
        detector_path: Path | None = None,
        reader_path: Path | None = None,
        threads: int | None = None,
        score_threshold: float = 0.3,
        min_confidence: float = 0.25,
    ) -> None:
        models = default_models_dir()
        self.detector = OnnxModel.load(Path(detector_path or models / "detector.onnx"), "detector", threads)
        self.reader = OnnxModel.load(Path(reader_path or models / "reader.onnx"), "reader", threads)
        self.stride = int(self.detector.meta.get("bibtagger.stride", "4"))
        self.charset = self.reader.meta.get("bibtagger.charset", "0123456789")
        self.score_threshold = score_threshold
        self.min_confidence = min_confidence

    @classmethod
    def from_dir(cls, folder: Path, **kwargs) -> "Recognizer":
        folder = Path(folder)
        return cls(folder / "detector.onnx", folder / "reader.onnx", **kwargs)

    @property
    def version(self) -> str:
        return f"det:{self.detector.version}+read:{self.reader.version}"

    def detect(self, image: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Boxes [N,4] in image pixels and detector scores [N]."""
        tensor, scale = letterbox(image, self.detector.input_size)
        heatmap, size, offset = self.detector.run({"image": tensor})
        boxes, scores = centernet_decode(heatmap, size, offset, self.stride, self.score_threshold)
        if len(boxes):
            keep = nms(boxes, scores, 0.5)
            boxes, scores = boxes[keep] / scale, scores[keep]
            h, w = image.shape[:2]
            boxes[:, [0, 2]] = boxes[:, [0, 2]].clip(0, w)
            boxes[:, [1, 3]] = boxes[:, [1, 3]].clip(0, h)
        return boxes, scores

    def read(self, image: np.ndarray, boxes: np.ndarray) -> list[tuple[str, float]]:
        """Read the number in each box of an RGB image."""
        if len(boxes) == 0:
            return []
        h, w = self.reader.input_size
        batch = np.stack([reader_crop(image, b, (h, w)) for b in boxes])[:, None]
        (logprobs,) = self.reader.run({"crop": batch})
        return ctc_greedy_decode(logprobs, self.charset)

    def recognize(self, image: np.ndarray) -> list[Bib]:
        """Bibs found in an RGB uint8 image (EXIF orientation already applied)."""
        boxes, scores = self.detect(image)
        bibs = []
        for box, score, (text, read_conf) in zip(boxes, scores, self.read(image, boxes)):
            confidence = float(score) * read_conf
            if not text or confidence < self.min_confidence:
                continue
            bibs.append(Bib(text, tuple(round(float(v), 1) for v in box), round(confidence, 4)))
        return sorted(bibs, key=lambda b: -(b.confidence or 0))

    def recognize_path(self, path: Path) -> list[Bib]:
        """Load a photo (reduced decode where possible) and return bibs in full-resolution pixels."""
        from bibtagger_gui.core.imageio import load_image, probe_image

        info = probe_image(path)
        image = load_image(path, max_side=2048)
        factor = info.width / image.shape[1]
        bibs = self.recognize(image)
        if abs(factor - 1) < 1e-6:
            return bibs
        return [Bib(b.number, tuple(round(v * factor, 1) for v in b.box), b.confidence) for b in bibs]  # type: ignore[union-attr]


def reader_crop(image: np.ndarray, box, size: tuple[int, int], pad: float = 0.1) -> np.ndarray:
    """Grey float32 crop of `box` (with `pad` margin) resized to height h, padded right to width w."""
    h, w = size
    x1, y1, x2, y2 = (float(v) for v in box)
    px, py = (x2 - x1) * pad, (y2 - y1) * pad
    H, W = image.shape[:2]
    x1, y1 = int(max(0, x1 - px)), int(max(0, y1 - py))
    x2, y2 = int(min(W, x2 + px)), int(min(H, y2 + py))
    crop = image[y1:max(y2, y1 + 1), x1:max(x2, x1 + 1)]
    grey = cv2.cvtColor(crop, cv2.COLOR_RGB2GRAY).astype(np.float32) / 255.0
    ch, cw = grey.shape
    nw = min(w, max(1, round(cw * h / ch)))
    resized = cv2.resize(grey, (nw, h), interpolation=cv2.INTER_AREA if ch > h else cv2.INTER_LINEAR)
    out = np.full((h, w), float(resized.mean()), dtype=np.float32)
    out[:, :nw] = resized
    return out


_default: Recognizer | None = None


def recognize(image: np.ndarray) -> list[Bib]:
    """Recognize bibs with the default models (loaded once)."""
    global _default
    if _default is None:
        _default = Recognizer()
    return _default.recognize(image)
