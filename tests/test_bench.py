"""The benchmark harness (training/bench.py): scoring, runners, table/JSON writer, missing peers.

Runs the real harness (a runner subprocess with real ONNX sessions) on placeholder models over
three generated photos; expected scores are derived in the test from the boxes it knows.
"""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from bibtagger_gui.core.bib import Bib
from bibtagger_gui.core.evaluation import f1_interval
from bibtagger_gui.core.recognizer import Recognizer
from training import bench
from training.data import split_of
from training.peers import peer_common


def _iou(a, b) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    area = lambda r: (r[2] - r[0]) * (r[3] - r[1])  # noqa: E731
    return ix * iy / (area(a) + area(b) - ix * iy)


def _prf(tp: int, fp: int, fn: int) -> tuple[float, float, float]:
    p = tp / (tp + fp) if tp + fp else 0.0
    r = tp / (tp + fn) if tp + fn else 0.0
    return p, r, (2 * p * r / (p + r) if p + r else 0.0)


def _far(box) -> tuple[float, float, float, float]:
    """The box moved right by 3 box widths, so its IoU with the original is 0."""
    w = box[2] - box[0]
    return (box[0] + 3 * w, box[1], box[2] + 3 * w, box[3])


def test_scoring_from_known_boxes():
    a, b, c = (10.0, 10.0, 60.0, 40.0), (100.0, 20.0, 160.0, 50.0), (0.0, 100.0, 40.0, 130.0)
    nudged = (a[0] + 5, a[1], a[2] + 5, a[3])  # IoU with a is high
    assert _iou(a, nudged) >= 0.5 and _iou(b, _far(b)) == 0.0
    truth = {"p1": [Bib("12", a), Bib("345", b)], "p2": [Bib("678", c)], "p3": []}
    pred = {
        "p1": [Bib("12", nudged, 0.9), Bib("345", _far(b), 0.8), Bib("999", c, 0.3)],  # right box, wrong box, extra
        "p2": [Bib("670", c, 0.9)],  # right box, wrong number
        "p3": [Bib("12", a, 0.5)],  # a photo with no bib
    }
    img_tp = sum(len({x.number for x in truth[k]} & {x.number for x in pred[k]}) for k in truth)
    n_pred = sum(len({x.number for x in v}) for v in pred.values())
    n_true = sum(len({x.number for x in v}) for v in truth.values())
    box_tp = sum(1 for k in truth for t in truth[k] for p in pred[k]
                 if p.number == t.number and _iou(p.box, t.box) >= 0.5)
    got = bench.score(truth, pred)
    exp_img = _prf(img_tp, n_pred - img_tp, n_true - img_tp)
    exp_box = _prf(box_tp, sum(map(len, pred.values())) - box_tp, sum(map(len, truth.values())) - box_tp)
    assert (got["image"]["tp"], got["box"]["tp"]) == (img_tp, box_tp)
    for key, exp in (("image", exp_img), ("box", exp_box)):
        assert [got[key][k] for k in ("precision", "recall", "f1")] == pytest.approx(exp, abs=1e-4)
    lo, hi = got["image"]["f1_ci95"]  # bootstrap over the three photos' image-level counts
    assert got["image"]["f1_ci95"] == [round(v, 4) for v in f1_interval([bench.image_counts(truth[k], pred[k]) for k in truth])]
    assert lo < got["image"]["f1"] < hi
    # a duplicate prediction of a matched bib is a box-level false positive, not a second hit
    dup = bench.box_counts([Bib("12", a)], [Bib("12", a, 0.9), Bib("12", nudged, 0.8)])
    assert (dup.tp, dup.fp, dup.fn) == (1, 1, 0)


def test_digit_filter_and_tesseract_tsv():
    items = [("No.1234", (0, 0, 50, 20), 0.9), ("12 abc 7", (0, 0, 50, 20), 0.8),
             ("1234567", (0, 0, 50, 20), 0.7), ("5555", (0, 0, 50, 1), 0.9)]
    got = peer_common.digit_bibs(items, image_height=100)
    assert [b["number"] for b in got] == ["1234", "12"]  # 7 digits dropped, 1 px high text dropped
    from training.peers.tesseract_runner import parse_tsv

    tsv = ("level\tpage_num\tblock_num\tpar_num\tline_num\tword_num\tleft\ttop\twidth\theight\tconf\ttext\n"
           "1\t1\t0\t0\t0\t0\t0\t0\t720\t480\t-1\t\n"
           "5\t1\t1\t1\t1\t1\t10\t20\t30\t40\t91.5\t3638\n")
    height, words = parse_tsv(tsv)
    assert height == 480 and words == [("3638", (10, 20, 40, 60), pytest.approx(0.915))]


def test_missing_peers_are_not_installed(tmp_path):
    pipes = [bench.rapidocr_pipeline(tmp_path / "no-venv" / "bin" / "python"),
             bench.tesseract_pipeline("no-such-tesseract-binary")]
    results = [bench.run_pipeline(p, [tmp_path / "x.jpg"], tmp_path) for p in pipes]
    assert [r["status"] for r in results] == [bench.NOT_INSTALLED] * 2


def _fixed_reader(path: Path, text: str = "12", charset: str = "0123456789", h: int = 32, w: int = 128) -> Path:
    """A reader ONNX model (recognizer contract) that reads `text` from any crop, confidently."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    steps, classes = w // 4, len(charset) + 1
    table = np.full((steps, classes), -20.0, np.float32)
    table[:, 0] = 20.0  # blank everywhere ...
    for i, ch in enumerate(text):  # ... except one step per character
        table[2 * i + 1, 0], table[2 * i + 1, charset.index(ch) + 1] = -20.0, 20.0
    nodes = [
        helper.make_node("ReduceMean", ["crop"], ["mean"], axes=[1, 2, 3], keepdims=0),
        helper.make_node("Reshape", ["mean", "shape"], ["col"]),
        helper.make_node("Mul", ["col", "zero"], ["nil"]),
        helper.make_node("Add", ["nil", "table"], ["raw"]),
        helper.make_node("LogSoftmax", ["raw"], ["logits"], axis=2),
    ]
    inits = [numpy_helper.from_array(np.array([-1, 1, 1], np.int64), "shape"),
             numpy_helper.from_array(np.array(0.0, np.float32), "zero"),
             numpy_helper.from_array(table, "table")]
    graph = helper.make_graph(nodes, "fixed_reader",
                              [helper.make_tensor_value_info("crop", TensorProto.FLOAT, ["N", 1, h, w])],
                              [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["N", steps, classes])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    for k, v in {"bibtagger.kind": "reader", "bibtagger.version": f"fixed-{text}", "bibtagger.input_size": f"{h},{w}",
                 "bibtagger.charset": charset, "bibtagger.data_hash": "none"}.items():
        entry = model.metadata_props.add()
        entry.key, entry.value = k, v
    onnx.save(model, str(path))
    return path


@pytest.fixture
def models_reading_12(tmp_path) -> Path:
    """The placeholder detector (fires on bright plates) + a reader that always reads "12"."""
    from tests.model_factory import make_placeholder_detector

    folder = tmp_path / "models"
    folder.mkdir()
    make_placeholder_detector(folder / "detector.onnx")
    _fixed_reader(folder / "reader.onnx")
    return folder


def _photos(folder: Path) -> list[tuple[str, int, int]]:
    """Three PNGs with white plates (what the placeholder detector fires on), named to fall in the val split."""
    names = [n for n in (f"photo_{i:03d}.png" for i in range(400)) if split_of(n) == "val"][:3]
    out = []
    for k, name in enumerate(names):
        img = np.full((240, 320, 3), 60, np.uint8)
        for j in range(k + 1):
            x, y = 30 + 100 * j, 60 + 40 * j
            cv2.rectangle(img, (x, y), (x + 70, y + 40), (255, 255, 255), -1)
        cv2.imwrite(str(folder / name), img)
        out.append((name, 320, 240))
    return out


def test_bench_main_on_placeholder_models(tmp_path, models_reading_12):
    data = tmp_path / "data"
    data.mkdir()
    photos = _photos(data)
    rec = Recognizer.from_dir(models_reading_12)
    preds = [rec.recognize_path(data / name) for name, _, _ in photos]
    assert all(preds), "the placeholder detector + fixed reader should find a bib on every photo"
    # ground truth: photo 0 = its first prediction exactly + a bib never predicted;
    # photo 1 = its first number in a far-away box; photo 2 = no bib at all.
    p0, p1 = preds[0][0], preds[1][0]
    truth = [[p0, Bib("424242", _far(p0.box))], [Bib(p1.number, _far(p1.box))], []]
    gt_json = data / "annotations.json"
    gt_json.write_text(json.dumps([{"image": n, "width": w, "height": h, "bibs": [b.to_json() for b in t]}
                                   for (n, w, h), t in zip(photos, truth)]))

    out = tmp_path / "out"
    rc = bench.main(["--out", str(out), "--dataset", str(gt_json), "--models", str(models_reading_12),
                     "--rapidocr-python", str(tmp_path / "missing" / "python"),
                     "--tesseract", "no-such-tesseract-binary", "--big", "0", "--warmup", "1", "--passes", "2",
                     "--rounds", "2"])
    assert rc == 0
    report = json.loads((out / "bench.json").read_text())
    ours, rapid, tess = report["pipelines"]
    assert (rapid["status"], tess["status"]) == (bench.NOT_INSTALLED, bench.NOT_INSTALLED)
    assert ours["status"] == "ok" and ours["photos"] == 3 and ours["photos_per_s"] > 0 and ours["peak_rss_mb"] > 20
    assert len(ours["pass_seconds"]) == 4 and ours["seconds"] == sorted(ours["pass_seconds"])[2]  # 2 rounds x 2 passes
    assert ours["rounds"] == 2 and len(ours["round_photos_per_s"]) == 2 and ours["predictions_stable"]
    assert report["rounds"] == 2 and report["speed_ratio"] is None  # no peer installed: no ratio

    # expected counts, computed here from what the recognizer returned and how the truth was built
    img = [(len({b.number for b in t} & {b.number for b in p}), len({b.number for b in p} - {b.number for b in t}),
            len({b.number for b in t} - {b.number for b in p})) for t, p in zip(truth, preds)]
    img_tp, img_fp, img_fn = (sum(c[i] for c in img) for i in range(3))
    n_pred, n_true = sum(map(len, preds)), sum(map(len, truth))
    far = [t.box for t in truth[0][1:] + truth[1]]
    assert all(_iou(p.box, f) < 0.5 for p in preds[0] + preds[1] for f in far)
    box_tp = 1  # so p0 is the only ground-truth bib that a prediction can hit
    for key, (tp, fp, fn) in (("image", (img_tp, img_fp, img_fn)), ("box", (box_tp, n_pred - box_tp, n_true - box_tp))):
        assert (ours[key]["tp"], ours[key]["fp"], ours[key]["fn"]) == (tp, fp, fn)
        assert [ours[key][k] for k in ("precision", "recall", "f1")] == pytest.approx(_prf(tp, fp, fn), abs=1e-4)

    table = (out / "bench.md").read_text()
    assert f"| rapidocr | {bench.NOT_INSTALLED} |" in table and f"| tesseract | {bench.NOT_INSTALLED} |" in table
    row = next(line for line in table.splitlines() if line.startswith("| bibtagger |"))
    assert f"| {100 * _prf(img_tp, img_fp, img_fn)[2]:.1f} |" in row
    lo, hi = ours["image"]["f1_ci95"]
    assert f"| {100 * lo:.1f}–{100 * hi:.1f} |" in row
    written = json.loads((out / "predictions" / "bibtagger.json").read_text())
    assert sorted(item["image"] for item in written) == sorted(n for n, _, _ in photos)


def test_rounds_alternate_the_pipelines_and_merge_into_one_result(tmp_path, monkeypatch):
    order, speed = [], {"bibtagger": iter([10.0, 8.0, 12.0]), "rapidocr": iter([2.0, 1.0, 2.5])}

    def fake_run(pipe, images, workdir, **kwargs):
        order.append(pipe.name)
        if pipe.name == "tesseract":
            return {"name": pipe.name, "status": bench.NOT_INSTALLED}
        pps = next(speed[pipe.name])
        return {"name": pipe.name, "status": "ok", "photos": 2, "seconds": 2 / pps, "pass_seconds": [2 / pps],
                "photos_per_s": pps, "peak_rss_mb": pps * 10, "predictions": {"a.jpg": [{"number": "1"}]}}

    monkeypatch.setattr(bench, "run_pipeline", fake_run)
    pipes = [bench.Pipeline(name, None, None, {}) for name in ("bibtagger", "rapidocr", "tesseract")]
    ours, rapid, tess = bench.run_rounds(pipes, [tmp_path / "a.jpg"], tmp_path, rounds=3)
    # A B C, A B, A B: alternating, and a missing peer is not retried
    assert order == ["bibtagger", "rapidocr", "tesseract", "bibtagger", "rapidocr", "bibtagger", "rapidocr"]
    assert tess["status"] == bench.NOT_INSTALLED
    assert ours["round_photos_per_s"] == [10.0, 8.0, 12.0] and ours["photos_per_s"] == 10.0  # median pass
    assert ours["peak_rss_mb"] == 120.0 and ours["predictions_stable"] and rapid["photos_per_s"] == 2.0
    assert bench.speed_ratio([ours, rapid, tess]) == {"ours": "bibtagger", "peer": "rapidocr", "ratio": 5.0,
                                                      "per_round": [5.0, 8.0, 4.8]}


def test_make_24mp_upscales(tmp_path):
    src = tmp_path / "src.png"
    cv2.imwrite(str(src), np.zeros((30, 40, 3), np.uint8))
    (out,) = bench.make_24mp([src], tmp_path / "big", count=1, long_side=120, short_side=80)
    assert cv2.imread(str(out)).shape[:2] == (80, 120)


def test_evaluate_scores_raw_and_audited_labels():
    pred = {"a": [Bib("12", (0, 0, 10, 10)).to_json(), Bib("34", (20, 0, 30, 10)).to_json()]}
    truth = {"a": [Bib("12", (0, 0, 10, 10))]}
    audited_truth = {"a": [Bib("12", (0, 0, 10, 10)), Bib("34", (20, 0, 30, 10))]}
    r = bench.evaluate({"status": "ok", "predictions": pred}, truth, audited_truth)
    assert (r["image"]["tp"], r["image"]["fp"], r["image"]["fn"]) == (1, 1, 0)
    assert (r["audited"]["image"]["tp"], r["audited"]["image"]["fp"]) == (2, 0)
    assert (r["audited"]["box"]["tp"], r["audited"]["box"]["fp"]) == (2, 0)
    assert "audited" not in bench.evaluate({"status": "ok", "predictions": pred}, truth)
