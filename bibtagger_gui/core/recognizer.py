"""The one recognizer API: ``recognize(image) -> list[Bib]`` over two ONNX models.

The detector finds bib number regions on a letterboxed, reduced image; the reader turns each
region (cropped from an image decoded just large enough for the text to be >= ``read_px``
high) into a number with CTC.  Candidates that do not look like bib numbers are rejected and
the remaining ones get a confidence combining both models, mapped to a probability by the
models' ``calibration.json`` (core.calibration).  Model metadata (kind, version,
input size, stride, charset) is read from the ONNX files.  See docs/recognizer.md.
"""

from __future__ import annotations

import logging
import math
import os
import re
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import cv2
import numpy as np

from bibtagger_gui.core.bib import Bib
from bibtagger_gui.core.calibration import FILE_NAME as CALIBRATION_FILE
from bibtagger_gui.core.calibration import Calibration, CalibrationError
from bibtagger_gui.core.decode import centernet_decode, ctc_greedy_decode, letterbox, letterbox_geometry, nms

NMS_IOU = 0.4
REFINE_BELOW_PX = 24.0  # boxes shorter than this in the detector's input frame get a second look ...
REFINE_TARGET_PX = 40.0  # ... on a crop zoomed so that they are this tall (`python -m training refine-zoom`)
REFINE_IF_READ_BELOW = 0.8  # ... when their reading is below this confidence (or they are under half that size)
REFINE_WINDOW = 256  # zoomed-crop input side when the detector accepts other sizes than input_size
REFINE_MAX = 4  # at most this many extra detector runs per photo
DETECT_MULTIPLE = 32  # the detector's total stride: its input sides must be multiples of this
# The first decode of a big JPEG aims at this long side (1/4 of a 24 MP photo): entropy decoding
# dominates, so 1/8 saves little, and at this size most bib numbers are tall enough to read
# without a second decode.
FIRST_DECODE_SIDE = 1000
# Test-time augmentation of the reader: every box is read at these crop paddings in one batch and
# the readings vote (see Recognizer.read). The reader is sensitive to crop padding (val crops: 35/37
# exact at pad 0, 34/37 at 0.1, 32/37 at 0.25), so one padding is a noisy sample of its opinion.
READ_PADS = (0.05, 0.1, 0.2)
# A box whose views disagree (winning vote below REREAD_BELOW) is read again with every crop widened
# REREAD_STRETCH times, and that reading replaces the first. Numbers printed narrower than the
# readers' training digits split their vote at the readers' own width and read right when widened
# (docs/recognizer.md#doubtful-re-read).
REREAD_BELOW = 0.3
REREAD_STRETCH = 1.3
# intra-op threads of each reader session when the Recognizer is not given `threads`
READER_THREADS = 1
# Readings whose raw score (combine_confidence) is below this are dropped by default; with a
# calibration the default min_confidence is this score mapped through it (same decisions).
DEFAULT_MIN_SCORE = 0.4

log = logging.getLogger(__name__)


class ModelError(RuntimeError):
    """A model file is missing, corrupt, or not the kind expected."""


def ensemble_members(folder: Path) -> list[Path]:
    """The extra reader models of a models folder: ``reader-*.onnx``, in name order."""
    return sorted(Path(folder).glob("reader-*.onnx"))


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


_IO = {"detector": (["image"], ["heatmap", "size", "offset"]), "reader": (["crop"], ["logits"])}


@dataclass
class OnnxModel:
    """An ONNX Runtime session plus the bibtagger metadata embedded at export."""

    path: Path
    session: object
    meta: dict[str, str]

    @classmethod
    def load(cls, path: Path, kind: str, threads: int | None = None) -> "OnnxModel":
        """Open `path` as a bibtagger `kind` model; every problem becomes a ModelError."""
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
        inputs = [i.name for i in session.get_inputs()]
        outputs = [o.name for o in session.get_outputs()]
        want_in, want_out = _IO[kind]
        if inputs != want_in or sorted(outputs) != sorted(want_out):
            raise ModelError(f"{path}: {kind} model has inputs {inputs} / outputs {outputs}, expected {want_in} / {want_out}")
        model = cls(path, session, meta)
        checks = [("input_size", lambda: min(model.input_size) > 0, ""), ("stretch", lambda: 0.25 <= model.stretch <= 8, "")]
        if kind == "reader":
            checks.append(("channels", lambda: model.channels in (1, 3), " (1 or 3)"))
        for key, valid, hint in checks:  # each property parses its metadata; unparsable counts as bad
            try:
                ok = valid()
            except ValueError:
                ok = False
            if not ok:
                raise ModelError(f"{path}: bad bibtagger.{key} metadata {meta.get('bibtagger.' + key)!r}{hint}")
        return model

    @property
    def version(self) -> str:
        return self.meta.get("bibtagger.version", "unknown")

    @property
    def input_size(self) -> tuple[int, int]:
        h, w = self.meta.get("bibtagger.input_size", "0,0").split(",")
        return int(h), int(w)

    @property
    def stretch(self) -> float:
        """A reader's horizontal stretch of crops (``reader_crop``); 1.0 when its metadata has none."""
        return float(self.meta.get("bibtagger.stretch", "1"))

    @property
    def charset(self) -> str:
        """A reader's characters, in class order after the CTC blank; digits when its metadata has none."""
        return self.meta.get("bibtagger.charset", "0123456789")

    @property
    def channels(self) -> int:
        """A reader's crop channels: 1 (grey, ``reader_crop``'s default) or 3 (RGB); 1 when its metadata has none."""
        return int(self.meta.get("bibtagger.channels", "1"))

    def run(self, feeds: dict[str, np.ndarray], names: list[str] | None = None) -> list[np.ndarray]:
        return self.session.run(names, feeds)  # type: ignore[attr-defined]


@dataclass(frozen=True)
class Rules:
    """What a bib number may look like; candidates breaking a rule are dropped."""

    pattern: str = r"[A-Z]{0,2}[0-9]{1,6}"  # optional letter prefix, then digits
    min_chars: int = 2
    max_chars: int = 7
    min_box_px: float = 5.0  # box height in the detector's input frame
    min_aspect: float = 0.5  # box width / height of the printed number
    max_aspect: float = 7.0
    min_read_confidence: float = 0.2

    def accept(self, text: str, box_h_input: float, aspect: float, read_conf: float) -> bool:
        return (
            self.min_chars <= len(text) <= self.max_chars
            and re.fullmatch(self.pattern, text) is not None
            and box_h_input >= self.min_box_px
            and self.min_aspect <= aspect <= self.max_aspect
            and read_conf >= self.min_read_confidence
        )


def models_folder_problem(folder: str | Path) -> str | None:
    """Why ``folder`` cannot be used as a models folder now, or None: gone (deleted, renamed, a drive not plugged in),
    not a folder, or a model in it missing, corrupt or not a bibtagger model (loaded as a recognition run would)."""
    return open_models_folder(folder)[1]


def open_models_folder(folder: str | Path) -> tuple[Recognizer | None, str | None]:
    """The recognizer of ``folder``'s models, loaded as a recognition run loads them, or None and why the folder
    cannot be used (:func:`models_folder_problem`). The window keeps it for its first run (no second load)."""
    folder = Path(folder)
    if not folder.exists():
        return None, "it no longer exists"
    if not folder.is_dir():
        return None, "it is not a folder"
    try:
        return Recognizer.from_dir(folder), None
    except ModelError as exc:
        return None, str(exc)
    except Exception as exc:  # noqa: BLE001 - whatever a broken file raises, the folder is not usable
        return None, f"its models cannot be loaded: {exc}"


def default_models_name() -> str:
    """What the models used without a models folder are called in a message: the bundled ones, or ``$BIBTAGGER_MODELS``'s."""
    return f"the models of $BIBTAGGER_MODELS ({default_models_dir()})" if os.environ.get("BIBTAGGER_MODELS") else "the bundled models"


def combine_confidence(det_score: float, read_conf: float) -> float:
    """Raw bib score: geometric mean of the detector peak and the CTC path probability.

    The geometric mean keeps the product's ranking (both must be high) while staying on the
    scale of its inputs. ``core.calibration`` maps it to a probability; see docs/recognizer.md.
    """
    return float(math.sqrt(max(det_score, 0.0) * max(read_conf, 0.0)))


class Recognizer:
    """Detector + reader; ``recognize`` returns bibs in the input image's pixel frame."""

    def __init__(
        self,
        detector_path: Path | None = None,
        reader_path: Path | None = None,
        threads: int | None = None,
        score_threshold: float = 0.3,
        min_confidence: float | None = None,
        read_px: int | None = None,
        rules: Rules | None = None,
        read_widen: tuple[tuple[float, float], ...] = (),
        refine_small: bool = True,
        reread_below: float = REREAD_BELOW,
        read_pads: tuple[float, ...] = READ_PADS,
        calibration: Calibration | Path | bool = True,
        extra_readers: Sequence[Path] | None = None,
    ) -> None:
        """``calibration``: True = ``calibration.json`` beside the reader when it names these
        models (else raw scores, with the reason in ``calibration_note``), False = raw scores, or a
        file / Calibration to use. ``min_confidence`` applies to the reported confidence; None =
        ``DEFAULT_MIN_SCORE`` mapped through the calibration. ``extra_readers``: more reader models
        whose readings join the vote (an ensemble; None = the models folder's ``reader-*.onnx``
        when no reader path is given). ``reread_below``: a reading whose vote is below this is
        replaced by a reading of widened crops (0 = never)."""
        models = default_models_dir()
        self._per_thread = threading.local()  # recognize_path's last_print, one per calling thread
        self.detector = OnnxModel.load(Path(detector_path or models / "detector.onnx"), "detector", threads)
        # Readers run small batches (a few crops per box): one intra-op thread unless told otherwise.
        # Two threads made the whole photo ~1.7x slower on 2 cores (docs/recognizer.md#threads).
        reader_threads = threads or READER_THREADS
        self.reader = OnnxModel.load(Path(reader_path or models / "reader.onnx"), "reader", reader_threads)
        if extra_readers is None:
            extra_readers = ensemble_members(models) if reader_path is None else ()
        self.readers = [self.reader] + [OnnxModel.load(Path(p), "reader", reader_threads) for p in extra_readers]
        self.stride = int(self.detector.meta.get("bibtagger.stride", "4"))
        self.charset = self.reader.charset
        for m in self.readers[1:]:
            if m.charset != self.charset:
                raise ModelError(f"{m.path}: charset differs from {self.reader.path}'s; an ensemble must read the same characters")
        self.score_threshold = score_threshold
        self.calibration, self.calibration_note = self._load_calibration(calibration)
        self.default_min_confidence = self.calibrate(DEFAULT_MIN_SCORE)
        self.min_confidence = self.default_min_confidence if min_confidence is None else min_confidence
        # text should be at least about the reader's input height in the image we crop from
        self.read_px = int(read_px or self.reader.input_size[0])
        self.rules = rules or Rules()
        self.read_widen = tuple(read_widen)
        self.read_pads = tuple(read_pads) or (0.1,)
        self.refine_small = refine_small
        self.reread_below = reread_below
        # a detector exported with dynamic H/W refines on a small window (cheap); else on input_size
        dims = self.detector.session.get_inputs()[0].shape  # type: ignore[attr-defined]
        self.dynamic_input = not all(isinstance(d, int) for d in dims[2:])
        self.refine_input = REFINE_WINDOW if self.dynamic_input else max(self.detector.input_size)

    @classmethod
    def from_dir(cls, folder: Path, **kwargs) -> "Recognizer":
        """detector.onnx + reader.onnx (+ any reader-*.onnx ensemble members) of a models folder."""
        folder = Path(folder)
        if folder.is_file():
            raise ModelError(f"{folder} is a file, not a models folder: give the folder that holds detector.onnx and reader.onnx")
        if not folder.exists():
            raise ModelError(f"models folder {folder}: no such folder")
        kwargs.setdefault("extra_readers", ensemble_members(folder))
        return cls(folder / "detector.onnx", folder / "reader.onnx", **kwargs)

    @property
    def reader_version(self) -> str:
        """The reader's version, or the ensemble members' joined by commas."""
        return ",".join(m.version for m in self.readers)

    @property
    def version(self) -> str:
        return f"det:{self.detector.version}+read:{self.reader_version}" + ("+cal" if self.calibration else "")

    @property
    def label(self) -> str:
        """Short name of the loaded models for a status bar (``version`` is the full one, for records)."""
        n = len(self.readers)
        readers = "1 reader" if n == 1 else f"{n} readers"
        if all(m.version.endswith("-int8") for m in self.readers):
            readers += " int8"
        return f"det {self.detector.version} · {readers}" + (" · calibrated" if self.calibration else "")

    def _load_calibration(self, option: Calibration | Path | bool) -> tuple[Calibration | None, str]:
        """(calibration or None, why none). A missing, unreadable or other models' file means raw scores."""
        if option is False:
            return None, "calibration off"
        if isinstance(option, Calibration):
            cal, source = option, "given calibration"
        else:
            path = Path(self.reader.path).parent / CALIBRATION_FILE if option is True else Path(option)
            if option is True and not path.exists():
                return None, f"no {CALIBRATION_FILE} beside the reader: confidences are raw scores"
            try:
                cal = Calibration.load(path)
            except CalibrationError as exc:
                log.warning("%s; confidences are raw scores", exc)
                return None, f"{exc}; confidences are raw scores"
            source = str(path)
        if not cal.matches(self.detector.version, self.reader_version):
            note = (f"{source} is for detector {cal.detector_version} + reader {cal.reader_version}, not "
                    f"{self.detector.version} + {self.reader_version}: confidences are raw scores")
            log.warning(note)
            return None, note
        return cal, f"calibrated by {source}"

    def calibrate(self, raw: float) -> float:
        """The reported confidence of a raw score (identity without a calibration)."""
        return self.calibration(raw) if self.calibration else raw

    # ------------------------------------------------------------------ stages
    def detect(self, image: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Boxes [N,4] in image pixels and detector scores [N] (letterbox, decode, NMS, clip)."""
        boxes, scores, _ = self._detect(image)
        return boxes, scores

    def detect_size(self, shape: tuple[int, int]) -> tuple[int, int]:
        """Detector input (H, W) for an image of `shape`: ``input_size``, or with a detector that
        takes any size, the image scaled to fit it with each side rounded up to a multiple of
        ``DETECT_MULTIPLE`` (a 3:2 photo needs 2/3 of the square's work; docs/recognizer.md#tight-letterbox)."""
        return letterbox_geometry(shape, self.detector.input_size, self._detect_multiple)[2]

    @property
    def _detect_multiple(self) -> int | None:
        return DETECT_MULTIPLE if self.dynamic_input else None

    def _detect(
        self, image: np.ndarray, threshold: float | None = None, size: tuple[int, int] | None = None
    ) -> tuple[np.ndarray, np.ndarray, float]:
        tensor, scale = letterbox(image, size) if size else letterbox(image, self.detector.input_size, self._detect_multiple)
        heatmap, size, offset = self.detector.run({"image": tensor}, ["heatmap", "size", "offset"])
        th = self.score_threshold if threshold is None else threshold
        boxes, scores = centernet_decode(heatmap, size, offset, self.stride, th)
        if len(boxes):
            keep = nms(boxes, scores, NMS_IOU)
            boxes, scores = boxes[keep] / scale, scores[keep]
            h, w = image.shape[:2]
            boxes[:, [0, 2]] = boxes[:, [0, 2]].clip(0, w)
            boxes[:, [1, 3]] = boxes[:, [1, 3]].clip(0, h)
            keep = ((boxes[:, 2] - boxes[:, 0]) >= 1) & ((boxes[:, 3] - boxes[:, 1]) >= 1)
            boxes, scores = boxes[keep], scores[keep]
        return boxes, scores, scale

    def read(self, image: np.ndarray, boxes: np.ndarray, widen: float = 1.0) -> list[tuple[str, float]]:
        """Read the number in each box (image pixels) of an RGB image: (text, confidence).

        Each box is read at every padding of ``read_pads`` (and, per ``read_widen``, widened),
        all in one reader batch. The views vote: a text scores the sum of its CTC path
        probabilities over the views that read it, divided by the number of views, i.e. the mean
        over views of P(text) with a view that reads something else counting 0. The best text
        wins with that mean as its confidence, so readings that change with the crop margin
        (typical of non-bibs and of misreads) lose confidence, while stable ones keep it. With an
        ensemble every reader reads every view and all of them vote alike. ``widen`` multiplies
        every reader's own crop stretch (``reader_crop``).
        """
        if len(boxes) == 0:
            return []
        boxes = np.asarray(boxes, np.float32).reshape(-1, 4)
        variants = [boxes] + [_widen(boxes, fx, fy) for fx, fy in self.read_widen]
        views = [(v, pad) for v in variants for pad in self.read_pads]
        batches: dict[tuple, np.ndarray] = {}  # crops are shared by readers of one input size, stretch and channels
        reads: list[tuple[str, float]] = []
        for model in self.readers:
            key = tuple(model.input_size), model.stretch * widen, model.channels
            if key not in batches:
                size, stretch, channels = key
                batches[key] = reader_batch(
                    reader_crop(image, b, size, pad=pad, stretch=stretch, channels=channels) for v, pad in views for b in v)
            (logprobs,) = model.run({"crop": batches[key]}, ["logits"])
            reads += ctc_greedy_decode(logprobs, self.charset)
        n = len(boxes)
        total = len(reads) // n  # views x readers
        out = []
        for i in range(n):
            votes: dict[str, float] = {}
            for k in range(total):
                text, conf = reads[k * n + i]
                votes[text] = votes.get(text, 0.0) + conf / total
            text = max(votes, key=lambda t: votes[t])
            out.append((text, float(votes[text])))
        return out

    def refine(self, image: np.ndarray, boxes: np.ndarray) -> np.ndarray:
        """Re-detect small boxes on a zoomed crop so they are ~``REFINE_TARGET_PX`` high in the input.

        Small bibs (a few pixels in the letterboxed photo) get loose boxes, and a box that cuts a
        digit off reads as a different number; the second look at the bib's neighbourhood, where it
        has the size the detector knows best, tightens the box. Boxes whose refinement finds
        nothing overlapping are kept as they were.
        """
        boxes = np.asarray(boxes, np.float32).reshape(-1, 4).copy()
        side_in = max(self.detector.input_size)
        long_side = max(image.shape[:2])
        for i, (x1, y1, x2, y2) in enumerate(boxes):
            bh = y2 - y1
            if bh * side_in / long_side >= REFINE_BELOW_PX or bh < 2:
                continue
            found = self.detect_zoomed(image, (x1 + x2) / 2, (y1 + y2) / 2, bh, self.refine_input, REFINE_TARGET_PX)
            if found is None or not len(found):
                continue
            overlap = _overlap_of_smaller(boxes[i], found)
            j = int(np.argmax(overlap))
            if overlap[j] >= 0.5:  # one box lies mostly inside the other: the same bib
                boxes[i] = found[j]
        return boxes

    def detect_zoomed(
        self, image: np.ndarray, cx: float, cy: float, height: float, window: int, target_px: float
    ) -> np.ndarray | None:
        """Detections (image pixels) on a square crop around (cx, cy) zoomed so that `height` image
        pixels become `target_px` in a `window`-sided detector input (low threshold: a second look).

        None when that crop would not be smaller than the image (zooming would not help).
        """
        H, W = image.shape[:2]
        crop_side = height * window / target_px
        if crop_side >= max(H, W):
            return None
        ox = int(round(min(max(0.0, cx - crop_side / 2), max(0.0, W - crop_side))))
        oy = int(round(min(max(0.0, cy - crop_side / 2), max(0.0, H - crop_side))))
        cs = int(math.ceil(crop_side))
        found, _scores, _ = self._detect(image[oy : oy + cs, ox : ox + cs], threshold=0.1, size=(window, window))
        return found + np.array([ox, oy, ox, oy], np.float32)

    def _assemble(self, boxes: np.ndarray, scores: np.ndarray, reads, det_scale: float, factor: float) -> list[Bib]:
        """Filter candidates, combine confidences, keep one bib per number; boxes scaled by `factor`."""
        best: dict[str, Bib] = {}
        for box, score, (text, read_conf) in zip(boxes, scores, reads):
            bw, bh = float(box[2] - box[0]), float(box[3] - box[1])
            if bh <= 0 or not self.rules.accept(text, bh * det_scale, bw / bh, read_conf):
                continue
            confidence = self.calibrate(combine_confidence(float(score), read_conf))
            if confidence < self.min_confidence:
                continue
            bib = Bib(text, tuple(round(float(v) * factor, 1) for v in box), round(confidence, 4))  # type: ignore[arg-type]
            if text not in best or confidence > (best[text].confidence or 0):
                best[text] = bib  # a number appears once per photo: keep its best reading
        return sorted(best.values(), key=lambda b: -(b.confidence or 0))

    # ------------------------------------------------------------------ API
    def recognize(self, image: np.ndarray) -> list[Bib]:
        """Bibs found in an RGB uint8 image (EXIF orientation already applied), in its pixels."""
        boxes, scores, scale = self._detect(image)
        boxes, reads = self._read_refined(image, boxes, scores)
        return self._assemble(boxes, scores, reads, scale, 1.0)

    def _read_refined(self, image: np.ndarray, boxes: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, list[tuple[str, float]]]:
        """Read every box; refine and re-read the small ones whose reading is doubtful or that are tiny
        (at most ``REFINE_MAX`` per photo, best detector scores first, get the extra detector run);
        then read the boxes whose vote is still below ``reread_below`` again from widened crops.
        """
        reads = self.read(image, boxes)
        if self.refine_small and len(boxes):
            boxes, reads = self._refine_doubtful(image, boxes, scores, reads)
        doubtful = [i for i, (_, conf) in enumerate(reads) if conf < self.reread_below]
        if doubtful:
            for i, r in zip(doubtful, self.read(image, boxes[doubtful], widen=REREAD_STRETCH)):
                reads[i] = r
        return boxes, reads

    def _refine_doubtful(self, image: np.ndarray, boxes: np.ndarray, scores: np.ndarray,
                         reads: list[tuple[str, float]]) -> tuple[np.ndarray, list[tuple[str, float]]]:
        """Refine (``refine``) and re-read the small boxes whose reading is doubtful or that are tiny."""
        side_in = max(self.detector.input_size)
        h_in = (boxes[:, 3] - boxes[:, 1]) * side_in / max(image.shape[:2])
        doubtful = np.array([c < REFINE_IF_READ_BELOW for _, c in reads])
        todo = np.nonzero((h_in < REFINE_BELOW_PX) & (doubtful | (h_in < REFINE_BELOW_PX / 2)))[0]
        todo = todo[np.argsort(-scores[todo])][:REFINE_MAX]
        if not len(todo):
            return boxes, reads
        boxes = boxes.copy()
        boxes[todo] = self.refine(image, boxes[todo])
        for i, r in zip(todo, self.read(image, boxes[todo])):
            reads[i] = r
        return boxes, reads

    @property
    def last_print(self) -> bytes | None:
        """The decoded-pixel print (core/pixelprint) of the photo this thread's last ``recognize_path``
        decoded; None before. Per thread, so two workers sharing one Recognizer never swap prints."""
        return getattr(self._per_thread, "print", None)

    def recognize_path(self, path: Path) -> list[Bib]:
        """Load a photo (reduced JPEG decode where it suffices) and return bibs in full-resolution pixels.

        ``last_print`` is then the decoded-pixel print (core/pixelprint) of the image the bibs were read
        from, for ``Store.set_model_bibs(..., pixel_print=)`` (None until a photo was decoded).

        A JPEG is decoded once at the smallest libjpeg scale (1/8..1) whose long side reaches
        ``FIRST_DECODE_SIDE`` (exactly that scale, so no extra resize); detection runs on it
        (letterboxed) and reading too, unless a detected box is shorter than 3/4 of ``read_px``
        there, in which case one larger decode is made for reading. Other formats are decoded once.
        """
        from bibtagger_gui.core.imageio import load_with_info, probe_image, scaled_decode_side
        from bibtagger_gui.core.pixelprint import image_print

        info = probe_image(path)
        full_long = max(info.width, info.height)
        side = None
        if info.format == "jpeg":
            side = scaled_decode_side(full_long, max(FIRST_DECODE_SIDE, max(self.detector.input_size)))
        self._per_thread.print = None
        image, info = load_with_info(path, max_side=side)
        self._per_thread.print = image_print(image)
        full_long = max(info.width, info.height)
        boxes, scores, det_scale = self._detect(image)
        read_image, read_boxes = image, boxes
        long_now = max(image.shape[:2])
        if len(boxes) and long_now < full_long:
            smallest = float((boxes[:, 3] - boxes[:, 1]).min())
            if smallest < 0.75 * self.read_px:
                need_side = math.ceil(min(full_long, long_now * self.read_px / max(smallest, 1e-6)))
                if need_side > long_now * 1.25:
                    read_image, _ = load_with_info(path, max_side=need_side)
                    read_boxes = boxes * (max(read_image.shape[:2]) / long_now)
        read_boxes, reads = self._read_refined(read_image, read_boxes, scores)
        boxes = read_boxes * (long_now / max(read_image.shape[:2]))
        return self._assemble(boxes, scores, reads, det_scale, full_long / long_now)


def _overlap_of_smaller(box: np.ndarray, others: np.ndarray) -> np.ndarray:
    """Intersection of `box` with each of `others` divided by the smaller of the two areas."""
    ix = np.clip(np.minimum(box[2], others[:, 2]) - np.maximum(box[0], others[:, 0]), 0, None)
    iy = np.clip(np.minimum(box[3], others[:, 3]) - np.maximum(box[1], others[:, 1]), 0, None)
    area = (box[2] - box[0]) * (box[3] - box[1])
    areas = (others[:, 2] - others[:, 0]) * (others[:, 3] - others[:, 1])
    return ix * iy / np.maximum(np.minimum(area, areas), 1e-6)


def _widen(boxes: np.ndarray, fx: float, fy: float) -> np.ndarray:
    """Boxes grown by fx of their width and fy of their height (centred)."""
    dw = (boxes[:, 2] - boxes[:, 0]) * fx / 2
    dh = (boxes[:, 3] - boxes[:, 1]) * fy / 2
    return np.stack([boxes[:, 0] - dw, boxes[:, 1] - dh, boxes[:, 2] + dw, boxes[:, 3] + dh], axis=1)


def reader_crop_window(shape: tuple[int, ...], box, size: tuple[int, int], pad: float = 0.1,
                       stretch: float = 1.0) -> tuple[tuple[int, int, int, int], int]:
    """Where ``reader_crop`` cuts `box` (with `pad`) from an image of `shape`: the pixel window
    (x1, y1, x2, y2), at least 1 px each way, and the width it is resized to in the reader's input
    (the rest of `size`'s width is padding)."""
    h, w = size
    x1, y1, x2, y2 = (float(v) for v in box)
    px, py = (x2 - x1) * pad, (y2 - y1) * pad
    H, W = shape[:2]
    x1, y1 = int(min(W - 1, max(0, x1 - px))), int(min(H - 1, max(0, y1 - py)))
    x2, y2 = max(int(min(W, x2 + px)), x1 + 1), max(int(min(H, y2 + py)), y1 + 1)
    nw = min(w, max(1, round((x2 - x1) * h / (y2 - y1) * stretch)))
    return (x1, y1, x2, y2), nw


def reader_crop(image: np.ndarray, box, size: tuple[int, int], pad: float = 0.1, stretch: float = 1.0,
                channels: int = 1) -> np.ndarray:
    """Float32 crop (0..1) of `box` (with `pad` margin) resized to height h, padded right to w with its mean.

    Grey [h,w] for a 1-channel reader, RGB [3,h,w] for a 3-channel one (``channels``, the reader's
    ``bibtagger.channels`` metadata; docs/recognizer.md#rgb-readers). ``stretch`` widens the resized crop
    by that factor (never beyond w), so a short number spans more of the reader's CTC steps; each reader
    declares its own in its metadata (docs/recognizer.md#stretch).
    This is the reader's preprocessing in training too (training/reader_data.py): keep them in step.
    """
    if channels not in (1, 3):
        raise ValueError(f"reader crops have 1 or 3 channels, not {channels}")
    h, w = size
    (x1, y1, x2, y2), nw = reader_crop_window(image.shape, box, size, pad, stretch)
    crop = image[y1:y2, x1:x2]
    src = (cv2.cvtColor(crop, cv2.COLOR_RGB2GRAY) if channels == 1 else crop).astype(np.float32) / 255.0
    ch = src.shape[0]
    resized = cv2.resize(src, (nw, h), interpolation=cv2.INTER_AREA if ch > h else cv2.INTER_LINEAR)
    if channels == 1:
        out = np.full((h, w), float(resized.mean()), dtype=np.float32)
        out[:, :nw] = resized
        return out
    out = np.empty((h, w, 3), dtype=np.float32)
    out[:] = resized.reshape(-1, 3).mean(axis=0)
    out[:, :nw] = resized
    return np.ascontiguousarray(out.transpose(2, 0, 1))


def reader_batch(crops) -> np.ndarray:
    """Reader input [N,C,H,W] float32 from ``reader_crop`` crops (grey [H,W] ones get C = 1)."""
    x = np.stack(list(crops)).astype(np.float32, copy=False)
    return x[:, None] if x.ndim == 3 else x


_default: Recognizer | None = None


def recognize(image: np.ndarray) -> list[Bib]:
    """Recognize bibs with the default models (loaded once)."""
    global _default
    if _default is None:
        _default = Recognizer()
    return _default.recognize(image)
