"""Recognizer pipeline: decode maths, letterbox round-trip, exported detectors, rules, errors, real val F1."""

from __future__ import annotations

import json
import math
from pathlib import Path

import cv2
import numpy as np
import pytest
from onnx import TensorProto, helper, numpy_helper

from bibtagger_gui.core.bib import Bib
from bibtagger_gui.core.decode import box_iou, centernet_decode, ctc_greedy_decode, letterbox, nms
from bibtagger_gui.core.recognizer import ModelError, Recognizer, Rules, combine_confidence, reader_batch, reader_crop

REPO = Path(__file__).resolve().parents[1]
# Measured on the rbnr_dev val split with the shipped models by
# `python -m training train-detector --evaluate-models resources/models` (saved next to them and
# quoted in resources/models/detector.md); the test allows a margin below it.
VAL_JSON = REPO / "resources" / "models" / "detector_val.json"
MEASURED_VAL_F1 = json.loads(VAL_JSON.read_text())["image_level"]["f1"] if VAL_JSON.exists() else None
F1_MARGIN = 0.05


# --------------------------------------------------------------------------- model builders
def fixed_reader(path: Path, text: str, charset: str = "0123456789", h: int = 32, w: int = 128,
                 stretch: str | None = None, channels: int = 1) -> Path:
    """A reader ONNX whose logits spell `text` whatever the crop (one char per step, blanks between)."""
    import onnx

    t, c = w // 4, len(charset) + 1
    pattern = np.full((t, c), -8.0, np.float32)
    pattern[:, 0] = 0.0  # blank everywhere ...
    for i, ch in enumerate(text):  # ... except one step per character
        pattern[2 * i, 0] = -8.0
        pattern[2 * i, charset.index(ch) + 1] = 0.0
    nodes = [
        helper.make_node("ReduceMean", ["crop"], ["grey"], axes=[1], keepdims=1),  # N,1,H,W
        helper.make_node("AveragePool", ["grey"], ["pooled"], kernel_shape=[h, 4], strides=[h, 4]),  # N,1,1,T
        helper.make_node("Mul", ["pooled", "zero"], ["z"]),
        helper.make_node("Squeeze", ["z", "axes"], ["zs"]),  # N,T
        helper.make_node("Unsqueeze", ["zs", "last"], ["z3"]),  # N,T,1
        helper.make_node("Add", ["z3", "pattern"], ["raw"]),  # N,T,C
        helper.make_node("LogSoftmax", ["raw"], ["logits"], axis=2),
    ]
    inits = [
        numpy_helper.from_array(np.array(0.0, np.float32), "zero"),
        numpy_helper.from_array(np.array([1, 2], np.int64), "axes"),
        numpy_helper.from_array(np.array([2], np.int64), "last"),
        numpy_helper.from_array(pattern, "pattern"),
    ]
    graph = helper.make_graph(
        nodes, "fixed_reader",
        [helper.make_tensor_value_info("crop", TensorProto.FLOAT, ["N", channels, h, w])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["N", t, c])],
        inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    for k, v in {"bibtagger.kind": "reader", "bibtagger.version": "fixed-1", "bibtagger.input_size": f"{h},{w}",
                 "bibtagger.charset": charset, "bibtagger.data_hash": "none",
                 **({"bibtagger.stretch": stretch} if stretch else {}),
                 **({"bibtagger.channels": str(channels)} if channels != 1 else {})}.items():
        e = model.metadata_props.add()
        e.key, e.value = k, v
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return path


def bright_spot_detector(path: Path, size: int = 128, box=(24.0, 12.0)) -> Path:
    """Export (through training's exporter) a torch module that peaks on bright 4x4 cells."""
    torch = pytest.importorskip("torch")
    from training.train_detector import export_detector

    class Bright(torch.nn.Module):
        def forward(self, image):
            pooled = torch.nn.functional.avg_pool2d(image.mean(1, keepdim=True), 4)
            heat = torch.sigmoid((pooled - 0.8) * 20)
            ones = torch.ones_like(pooled)
            wh = torch.cat([ones * box[0], ones * box[1]], 1)
            return heat, wh, torch.cat([ones, ones], 1) * 0.5

    return export_detector(Bright(), path, size, "none", "bright-1")


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    folder = tmp_path_factory.mktemp("rec")
    return bright_spot_detector(folder / "detector.onnx"), fixed_reader(folder / "reader.onnx", "1234")


# --------------------------------------------------------------------------- decode
def test_centernet_decode_reads_size_and_offset_at_peaks():
    rng = np.random.default_rng(0)
    h = w = 32
    ys, xs = np.mgrid[0:h, 0:w]
    peaks = [(5, 7, 0.9), (20, 25, 0.6), (28, 3, 0.2)]  # (row, col, height); the last is below threshold
    hm = np.zeros((h, w), np.float32)
    for r, c, v in peaks:
        hm = np.maximum(hm, v * np.exp(-((ys - r) ** 2 + (xs - c) ** 2) / 2.0))
    size = rng.uniform(5, 40, (1, 2, h, w)).astype(np.float32)
    offset = rng.uniform(0, 1, (1, 2, h, w)).astype(np.float32)
    boxes, scores = centernet_decode(hm[None, None], size, offset, stride=4, score_threshold=0.3)
    assert len(boxes) == 2
    for (r, c, v), box, score in zip(peaks[:2], boxes, scores):
        cx, cy = (c + offset[0, 0, r, c]) * 4, (r + offset[0, 1, r, c]) * 4
        bw, bh = size[0, 0, r, c], size[0, 1, r, c]
        np.testing.assert_allclose(box, [cx - bw / 2, cy - bh / 2, cx + bw / 2, cy + bh / 2], rtol=1e-5)
        assert score == pytest.approx(v)


def test_nms_keeps_best_of_overlapping_boxes():
    boxes = np.array([[10, 10, 50, 30], [12, 11, 52, 31], [100, 100, 140, 120]], np.float32)
    scores = np.array([0.7, 0.9, 0.5], np.float32)
    assert box_iou(boxes[:1], boxes[1:2])[0, 0] > 0.5 and box_iou(boxes[:1], boxes[2:])[0, 0] == 0
    assert nms(boxes, scores, 0.5).tolist() == [1, 2]
    iou = float(box_iou(boxes[:1], boxes[1:2])[0, 0])
    assert nms(boxes, scores, iou + 0.01).tolist() == [1, 0, 2]  # below the threshold both stay


def test_ctc_greedy_decode_collapses_repeats_and_blanks():
    charset = "0123456789"
    path = [2, 2, 0, 2, 3, 0, 0]  # "1","1",blank,"1","2" -> "112"
    lp = np.full((1, len(path), 11), math.log(0.01), np.float32)
    for t, k in enumerate(path):
        lp[0, t, k] = math.log(0.9)
    ((text, conf),) = ctc_greedy_decode(lp, charset)
    assert text == "112"
    assert conf == pytest.approx(0.9 ** len(path), rel=1e-4)


def test_letterbox_pads_bottom_right_with_half_grey():
    image = np.full((50, 100, 3), 255, np.uint8)
    x, scale = letterbox(image, (64, 64))
    assert x.shape == (1, 3, 64, 64) and scale == pytest.approx(0.64)
    assert np.all(x[0, :, :32, :] == 1.0) and np.all(x[0, :, 32:, :] == 0.5)


# --------------------------------------------------------------------------- recognizer
@pytest.mark.parametrize("shape", [(300, 500), (500, 300), (128, 128), (77, 400)])
def test_boxes_round_trip_through_the_letterbox(models, shape):
    h, w = shape
    # refine_small off: the bright-spot model's fixed 24x12 answer would shrink boxes on a zoomed crop
    rec = Recognizer(*models, threads=1, refine_small=False)
    assert rec.detector.input_size == (128, 128) and rec.stride == 4 and rec.version == "det:bright-1+read:fixed-1"
    image = np.zeros((h, w, 3), np.uint8)
    px, py = int(w * 0.4), int(h * 0.3)
    ph, pw = max(12, h // 6), max(24, w // 5)
    image[py : py + ph, px : px + pw] = 255
    boxes, scores = rec.detect(image)
    assert len(boxes) >= 1
    scale = 128 / max(h, w)
    widths, heights = boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]
    # the model outputs 24x12 input pixels: in image pixels that is 24/scale x 12/scale (unless clipped)
    inside = (boxes[:, 0] > 0) & (boxes[:, 1] > 0) & (boxes[:, 2] < w) & (boxes[:, 3] < h)
    np.testing.assert_allclose(widths[inside], 24 / scale, rtol=1e-4)
    np.testing.assert_allclose(heights[inside], 12 / scale, rtol=1e-4)
    cx, cy = (boxes[:, 0] + boxes[:, 2]) / 2, (boxes[:, 1] + boxes[:, 3]) / 2
    cell = 4 / scale  # one heatmap cell in image pixels
    assert np.all((cx >= px - cell) & (cx <= px + pw + cell) & (cy >= py - cell) & (cy <= py + ph + cell))
    bibs = rec.recognize(image)
    assert [b.number for b in bibs] == ["1234"]  # one bib per number, the fixed reader's text
    assert bibs[0].box is not None and tuple(bibs[0].box) == pytest.approx(tuple(boxes[np.argmax(scores)]), abs=0.051)


def test_recognize_path_reports_full_resolution_boxes(models, tmp_path):
    rec = Recognizer(*models, threads=1, refine_small=False)
    image = np.zeros((2000, 3000, 3), np.uint8)
    image[800:1100, 1100:1700] = 255  # about 13x26 px in the 128-px letterbox
    path = tmp_path / "big photo é.jpg"
    ok, buf = cv2.imencode(".jpg", cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
    buf.tofile(str(path))
    bibs = rec.recognize_path(path)
    direct = rec.recognize(image)
    assert [b.number for b in bibs] == ["1234"] == [b.number for b in direct]
    x1, y1, x2, y2 = bibs[0].box
    cell = 4 * 3000 / 128  # one heatmap cell in full-resolution pixels
    assert 1100 - cell <= (x1 + x2) / 2 <= 1700 + cell and 800 - cell <= (y1 + y2) / 2 <= 1100 + cell
    # 24x12 px in the 128 letterbox of a 3000-px photo
    assert x2 - x1 == pytest.approx(24 * 3000 / 128, rel=0.02) and y2 - y1 == pytest.approx(12 * 3000 / 128, rel=0.02)
    # demanding taller text forces the second, larger decode for reading: same boxes, same frame
    rec.read_px = 400
    again = rec.recognize_path(path)
    assert [b.number for b in again] == ["1234"] and again[0].box == pytest.approx(bibs[0].box)


def test_rules_reject_non_bib_candidates(tmp_path, models):
    det = models[0]
    for text, expect in [("1234", 1), ("7", 0), ("12345678", 0)]:
        rec = Recognizer(det, fixed_reader(tmp_path / f"r{text}.onnx", text), threads=1, refine_small=False)
        image = np.zeros((256, 256, 3), np.uint8)
        image[100:124, 100:148] = 255
        assert len(rec.recognize(image)) == expect
    rules = Rules()
    assert rules.accept("A123", 10, 2.0, 0.9)
    assert not rules.accept("1234", 3, 2.0, 0.9)  # tiny box
    assert not rules.accept("1234", 10, 20.0, 0.9)  # implausible aspect
    assert not rules.accept("1234", 10, 2.0, 0.05)  # unreadable
    assert not rules.accept("12A4", 10, 2.0, 0.9)  # letters only as a prefix
    assert combine_confidence(0.9, 0.4) == pytest.approx(math.sqrt(0.36))


def test_trained_architecture_exports_and_runs_in_the_recognizer(tmp_path, models):
    torch = pytest.importorskip("torch")
    from training.models.detector import BibDetector
    from training.train_detector import export_detector

    torch.manual_seed(0)
    net = BibDetector().eval()
    torch.nn.init.constant_(net.hm.bias, 3.0)  # untrained: make it fire so boxes come back
    path = export_detector(net, tmp_path / "detector.onnx", 96, "none", "arch-test")
    rec = Recognizer(path, models[1], threads=1)
    assert rec.detector.input_size == (96, 96) and rec.detector.version == "arch-test"
    image = np.random.default_rng(0).integers(0, 255, (150, 250, 3), dtype=np.uint8)
    boxes, scores = rec.detect(image)
    assert len(boxes) > 0 and np.all(scores >= rec.score_threshold)
    assert np.all(boxes >= 0) and np.all(boxes[:, [0, 2]] <= 250) and np.all(boxes[:, [1, 3]] <= 150)
    assert all(isinstance(b, Bib) for b in rec.recognize(image))


def test_broken_models_raise_model_error(tmp_path, models):
    det, reader = models
    blob = det.read_bytes()
    truncated = tmp_path / "truncated.onnx"
    truncated.write_bytes(blob[: len(blob) // 2])
    with pytest.raises(ModelError, match="cannot be loaded"):
        Recognizer(truncated, reader)
    with pytest.raises(ModelError, match="not found"):
        Recognizer(tmp_path / "missing.onnx", reader)
    with pytest.raises(ModelError, match="not a bibtagger reader"):
        Recognizer(det, det)


# --------------------------------------------------------------------------- real data
@pytest.mark.dataset
def test_shipped_models_on_rbnr_dev_val(rbnr_dev, shipped_models_dir):
    from training.data import load_entries, split

    assert MEASURED_VAL_F1 is not None, f"{VAL_JSON} is missing"
    _, val = split(load_entries(rbnr_dev / "annotations.json"))
    rec = Recognizer.from_dir(shipped_models_dir, threads=2)
    tp = n_pred = n_gt = 0
    for e in val:
        pred = {b.number for b in rec.recognize_path(e.path)}
        gt = {b.number for b in e.bibs}
        tp += len(pred & gt)
        n_pred += len(pred)
        n_gt += len(gt)
    p, r = tp / max(n_pred, 1), tp / max(n_gt, 1)
    f1 = 2 * p * r / max(p + r, 1e-9)
    assert f1 >= MEASURED_VAL_F1 - F1_MARGIN, f"val image-level F1 {f1:.3f} (P {p:.3f} R {r:.3f})"


def test_refine_re_detects_small_boxes_on_a_zoomed_crop(models):
    from bibtagger_gui.core import recognizer as core_rec

    rec = Recognizer(*models, threads=1)
    win = rec.refine_input
    assert win == core_rec.REFINE_WINDOW  # the exported detector has dynamic H/W: a small window
    image = np.zeros((1000, 1000, 3), np.uint8)
    image[500:524, 500:548] = 255
    loose = np.array([[490.0, 495.0, 570.0, 531.0]], np.float32)  # shifted and too big
    (refined,) = rec.refine(image, loose)
    crop_side = math.ceil((loose[0, 3] - loose[0, 1]) * win / core_rec.REFINE_TARGET_PX)
    cell = 4 * crop_side / win  # one heatmap cell of the zoomed crop, in image pixels
    cx, cy = (refined[0] + refined[2]) / 2, (refined[1] + refined[3]) / 2
    assert 500 - cell <= cx <= 548 + cell and 500 - cell <= cy <= 524 + cell
    # the bright-spot model always answers 24x12 input px; in the zoomed crop that is 24*crop/win
    assert refined[2] - refined[0] == pytest.approx(24 * crop_side / win, rel=1e-3)
    big = np.array([[300.0, 300.0, 700.0, 500.0]], np.float32)  # already large: left alone
    np.testing.assert_array_equal(rec.refine(image, big), big)


def _spelled_logprobs(text: str, prob: float, charset: str = "0123456789", t: int = 32) -> np.ndarray:
    """Log-probs [T,C] whose best path spells `text` (blanks between) with path probability `prob`."""
    lp = np.full((t, len(charset) + 1), -20.0, np.float32)
    lp[:, 0] = 0.0
    for i, ch in enumerate(text):
        lp[2 * i, 0] = -20.0
        lp[2 * i, charset.index(ch) + 1] = 0.0
    lp[0, lp[0].argmax()] = math.log(prob)  # the first step carries the whole path's doubt
    return lp


class _ViewsReader:
    """Stands in for the reader session: row k of the batch reads `views[k % len(views)]`."""

    def __init__(self, views: list[tuple[str, float]]):
        self.views, self.batches = views, []

    def run(self, names, feeds):
        crops = feeds["crop"]
        self.batches.append(crops.shape)
        return [np.stack([_spelled_logprobs(*self.views[k % len(self.views)]) for k in range(len(crops))])]


def test_read_votes_over_crop_paddings(models):
    rec = Recognizer(*models, threads=1, read_pads=(0.05, 0.1, 0.2))
    image = np.zeros((200, 300, 3), np.uint8)
    box = np.array([[100.0, 80.0, 160.0, 110.0]], np.float32)
    # two of three paddings read 1234 (p 0.9), one reads 4321 more confidently (p 0.95): the vote wins,
    # its confidence is the mean over the three views (a disagreeing view counts 0)
    stub = _ViewsReader([("1234", 0.9), ("1234", 0.9), ("4321", 0.95)])
    rec.reader.session = stub
    ((text, conf),) = rec.read(image, box)
    assert stub.batches == [(3, 1, 32, 128)]  # one batched reader call for all paddings
    assert text == "1234" and conf == pytest.approx((0.9 + 0.9) / 3, abs=1e-4)
    # unanimous views keep their confidence; a single padding is the plain reading
    rec.reader.session = _ViewsReader([("1234", 0.8)])
    assert rec.read(image, box)[0] == ("1234", pytest.approx(0.8, abs=1e-4))
    rec.read_pads = (0.1,)
    rec.reader.session = _ViewsReader([("4321", 0.95), ("1234", 0.9)])
    assert rec.read(image, box)[0] == ("4321", pytest.approx(0.95, abs=1e-4))


def _models_folder(models, folder: Path) -> Path:
    """A models folder holding copies of the test detector and reader (members are added by the test)."""
    folder.mkdir()
    for src, name in zip(models, ("detector.onnx", "reader.onnx")):
        (folder / name).write_bytes(src.read_bytes())
    return folder


def test_reader_ensemble_votes_over_every_reader_and_view(models, tmp_path):
    folder = _models_folder(models, tmp_path / "ens")
    fixed_reader(folder / "reader-2.onnx", "1234")
    fixed_reader(folder / "reader-3.onnx", "5678")
    rec = Recognizer.from_dir(folder, read_pads=(0.05, 0.1))
    assert [m.path.name for m in rec.readers] == ["reader.onnx", "reader-2.onnx", "reader-3.onnx"]
    assert rec.reader_version == "fixed-1,fixed-1,fixed-1" and "+read:fixed-1,fixed-1,fixed-1" in rec.version
    assert rec.label == "det bright-1 · 3 readers"  # the status bar's short name (not int8, uncalibrated)
    # readers run one intra-op thread by default (tiny batches); `threads` still applies to all
    assert all(m.session.get_session_options().intra_op_num_threads == 1 for m in rec.readers)
    assert Recognizer.from_dir(folder, threads=2).reader.session.get_session_options().intra_op_num_threads == 2
    image = np.zeros((200, 300, 3), np.uint8)
    box = np.array([[100.0, 80.0, 160.0, 110.0]], np.float32)
    stubs = [_ViewsReader([("1234", 0.9)]), _ViewsReader([("1234", 0.6)]), _ViewsReader([("5678", 0.99)])]
    for model, stub in zip(rec.readers, stubs):
        model.session = stub
    ((text, conf),) = rec.read(image, box)
    # 3 readers x 2 paddings = 6 views: 1234 gets 2 x 0.9 + 2 x 0.6, 5678 gets 2 x 0.99
    assert text == "1234" and conf == pytest.approx((2 * 0.9 + 2 * 0.6) / 6, abs=1e-4)
    assert [s.batches for s in stubs] == [[(2, 1, 32, 128)]] * 3  # one batch per reader, crops shared
    # an explicit reader path means that reader alone; a member reading other characters is refused
    assert len(Recognizer(folder / "detector.onnx", folder / "reader.onnx").readers) == 1
    fixed_reader(folder / "reader-4.onnx", "12", charset="0123456789AB")
    with pytest.raises(ModelError, match="charset differs"):
        Recognizer.from_dir(folder)


def test_reader_crop_stretch_widens_short_crops_up_to_the_input_width():
    image = np.full((100, 400, 3), 255, np.uint8)
    image[40:60, 100:120] = 0  # box 100..140 x 40..60 (2:1, 64 of 128 columns at height 32): left half dark

    def dark_columns(crop):  # the right padding is the crop's mean grey (0.5 here)
        return int((crop.max(axis=0) < 0.25).sum())

    plain = reader_crop(image, (100, 40, 140, 60), (32, 128), pad=0.0)
    wide = reader_crop(image, (100, 40, 140, 60), (32, 128), pad=0.0, stretch=1.5)
    assert dark_columns(plain) == 32 and abs(dark_columns(wide) - 48) <= 1  # +-1: the resize blends the edge column
    assert wide.shape == plain.shape == (32, 128)
    capped = reader_crop(image, (100, 40, 140, 60), (32, 128), pad=0.0, stretch=3.0)
    assert abs(dark_columns(capped) - 64) <= 1  # the crop fills the input width and goes no further


def _crops_each_reader_gets(rec: Recognizer, image: np.ndarray, box) -> list[np.ndarray]:
    """Read `box` with every reader's session replaced by one that reads "1234" and records its input batch."""
    seen = []

    class Recording(_ViewsReader):
        def run(self, names, feeds):
            seen.append(feeds["crop"])
            return super().run(names, feeds)

    for model in rec.readers:
        model.session = Recording([("1234", 0.9)])
    assert rec.read(image, np.array([box], np.float32))[0][0] == "1234"
    return seen


def test_each_reader_gets_crops_at_its_own_stretch(models, tmp_path):
    folder = _models_folder(models, tmp_path / "ens")
    fixed_reader(folder / "reader-2.onnx", "1234", stretch="1.5")
    fixed_reader(folder / "reader-3.onnx", "1234", stretch="1.5")
    rec = Recognizer.from_dir(folder, read_pads=(0.1,))
    assert [m.stretch for m in rec.readers] == [1.0, 1.5, 1.5]
    image = np.random.default_rng(3).integers(0, 255, (200, 300, 3), dtype=np.uint8)
    box = (100.0, 80.0, 160.0, 110.0)
    seen = _crops_each_reader_gets(rec, image, box)
    np.testing.assert_array_equal(seen[0][0, 0], reader_crop(image, box, (32, 128), 0.1))
    np.testing.assert_array_equal(seen[1][0, 0], reader_crop(image, box, (32, 128), 0.1, stretch=1.5))
    assert seen[1] is seen[2]  # readers with the same input size and stretch share one batch
    assert not np.array_equal(seen[0], seen[1])
    fixed_reader(folder / "reader-2.onnx", "1234", stretch="wide")
    with pytest.raises(ModelError, match="bibtagger.stretch"):
        Recognizer.from_dir(folder)


def test_reader_crop_rgb_is_channel_first_and_its_luminance_is_the_grey_crop():
    rng = np.random.default_rng(5)
    image = rng.integers(0, 255, (120, 300, 3), dtype=np.uint8)
    image[:, :, 0] = 250  # a red cast: the channels differ
    box = (100, 40, 150, 60)  # 2.5:1 -> 80 of 128 columns, the rest padded
    grey = reader_crop(image, box, (32, 128), pad=0.1)
    rgb = reader_crop(image, box, (32, 128), pad=0.1, channels=3)
    assert grey.shape == (32, 128) and rgb.shape == (3, 32, 128) and rgb.dtype == np.float32
    luma = np.tensordot(np.array([0.299, 0.587, 0.114], np.float32), rgb, axes=1)
    assert np.abs(luma - grey).max() < 0.01  # cv2's grey rounds to integers first
    np.testing.assert_allclose(rgb[:, :, -1], rgb[:, :, 100])  # padding: each channel's own mean, constant
    assert abs(float(rgb[0, 0, -1]) - 250 / 255) < 1e-3 and float(rgb[1, 0, -1]) < 0.7
    assert reader_batch([rgb, rgb]).shape == (2, 3, 32, 128) and reader_batch([grey]).shape == (1, 1, 32, 128)
    with pytest.raises(ValueError, match="1 or 3 channels"):
        reader_crop(image, box, (32, 128), channels=2)


def test_rgb_readers_get_rgb_crops_and_grey_ones_grey(models, tmp_path):
    folder = _models_folder(models, tmp_path / "rgb")
    fixed_reader(folder / "reader-2.onnx", "1234", channels=3)
    rec = Recognizer.from_dir(folder, read_pads=(0.1,))
    assert [m.channels for m in rec.readers] == [1, 3]
    image = np.random.default_rng(4).integers(0, 255, (200, 300, 3), dtype=np.uint8)
    box = (100.0, 80.0, 160.0, 110.0)
    seen = _crops_each_reader_gets(rec, image, box)
    assert seen[0].shape == (1, 1, 32, 128) and seen[1].shape == (1, 3, 32, 128)
    np.testing.assert_array_equal(seen[1][0], reader_crop(image, box, (32, 128), 0.1, channels=3))
    # the real ONNX file takes the RGB batch end to end
    rec = Recognizer.from_dir(folder, read_pads=(0.1,))
    assert rec.read(image, np.array([box], np.float32))[0][0] == "1234"
    import onnx

    proto = onnx.load(str(folder / "reader-2.onnx"))
    next(p for p in proto.metadata_props if p.key == "bibtagger.channels").value = "4"
    onnx.save(proto, str(folder / "reader-2.onnx"))
    with pytest.raises(ModelError, match="bibtagger.channels"):
        Recognizer.from_dir(folder)


def test_doubtful_readings_are_read_again_from_widened_crops(models):
    from bibtagger_gui.core import recognizer as core_rec

    image = np.zeros((256, 256, 3), np.uint8)
    image[100:124, 100:148] = 255
    kwargs = dict(threads=1, refine_small=False, read_pads=(0.05, 0.1, 0.2), calibration=False, min_confidence=0.0)

    class PerCall(_ViewsReader):
        """Call k reads the views of calls[k] (the last list for later calls) and keeps the crops."""

        def __init__(self, calls):
            super().__init__(calls[0])
            self.calls, self.crops = calls, []

        def run(self, names, feeds):
            self.views = self.calls[min(len(self.crops), len(self.calls) - 1)]
            self.crops.append(feeds["crop"])
            return super().run(names, feeds)

    split_vote = [("62452", 0.75), ("80452", 0.5), ("8452", 0.4)]  # the best text gets 0.75 / 3 = 0.25
    rec = Recognizer(*models, **kwargs)
    boxes, scores = rec.detect(image)
    score = float(scores.max())
    rec.reader.session = stub = PerCall([split_vote, [("60452", 0.9)]])
    (bib,) = rec.recognize(image)
    # the split vote (0.25 < REREAD_BELOW) is replaced by the unanimous reading of the widened crops
    assert bib.number == "60452" and bib.confidence == pytest.approx(combine_confidence(score, 0.9), abs=1e-4)
    # every box read twice (all doubtful), the second time at REREAD_STRETCH, paddings outermost
    widened = [reader_crop(image, b, (32, 128), pad, stretch=core_rec.REREAD_STRETCH) for pad in (0.05, 0.1, 0.2) for b in boxes]
    assert len(stub.crops) == 2 and len(boxes) >= 1
    np.testing.assert_array_equal(stub.crops[1][:, 0], np.stack(widened))
    # an agreeing first reading is kept, without a second reader call
    rec.reader.session = stub = PerCall([[("1234", 0.9)], [("60452", 0.9)]])
    assert [b.number for b in rec.recognize(image)] == ["1234"] and len(stub.crops) == 1
    # reread_below=0 turns it off: the split vote stands
    rec = Recognizer(*models, reread_below=0.0, **kwargs)
    rec.reader.session = stub = PerCall([split_vote, [("60452", 0.9)]])
    (bib,) = rec.recognize(image)
    assert bib.number == "62452" and bib.confidence == pytest.approx(combine_confidence(score, 0.25), abs=1e-4)
    assert len(stub.crops) == 1


def test_tight_letterbox_sizes_and_same_boxes_as_the_square_one(models):
    rec = Recognizer(*models, threads=1, refine_small=False)
    assert rec.detector.input_size == (128, 128) and rec.dynamic_input
    # the image scaled to fit 128x128, each side rounded up to a multiple of 32
    assert rec.detect_size((300, 500)) == (96, 128)  # 76.8 -> 77 -> 96
    assert rec.detect_size((500, 300)) == (128, 96)
    assert rec.detect_size((4000, 6000)) == (96, 128)
    assert rec.detect_size((128, 128)) == (128, 128) and rec.detect_size((77, 400)) == (32, 128)
    image = np.zeros((300, 500, 3), np.uint8)
    image[100:140, 200:300] = 255
    image[250:290, 50:150] = 255  # near the bottom edge, where the square letterbox adds more padding
    tight = rec.detect(image)
    rec.dynamic_input = False  # a fixed-size detector: always the square input
    assert rec.detect_size((300, 500)) == (128, 128)
    square = rec.detect(image)
    assert len(tight[0]) >= 2
    np.testing.assert_allclose(tight[0], square[0], atol=1e-3)
    np.testing.assert_allclose(tight[1], square[1], atol=1e-5)
