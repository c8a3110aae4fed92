"""Bib detector: shapes, targets, a few training steps, ONNX export parity, box metrics."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
onnx = pytest.importorskip("onnx")

from training.detector_data import DetectorSampler, Photo, make_targets  # noqa: E402
from training.models.detector import STRIDE, BibDetector  # noqa: E402
from bibtagger_gui.core.bib import Bib  # noqa: E402
from training.data import Entry  # noqa: E402
from training.train_detector import (  # noqa: E402
    box_metrics,
    detector_loss,
    export_detector,
    finetune,
    make_batch,
    onnx_predictor,
    train,
)


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _toy_photo(rng: np.random.Generator, size=(160, 240)) -> Photo:
    """A noisy photo with one white plate carrying dark digit-like strokes; box = the strokes."""
    h, w = size
    img = rng.integers(40, 120, (h, w, 3), dtype=np.uint8)
    x, y = int(rng.integers(10, w - 70)), int(rng.integers(10, h - 40))
    img[y : y + 30, x : x + 60] = 245
    for k in range(3):
        img[y + 8 : y + 22, x + 10 + 14 * k : x + 16 + 14 * k] = 20
    return Photo(img, np.array([[x + 8, y + 6, x + 50, y + 24]], np.float32))


def test_forward_shapes_and_ranges():
    model = BibDetector().eval()
    with torch.no_grad():
        hm, size, off = model(torch.rand(2, 3, 128, 96))
    assert hm.shape == (2, 1, 128 // STRIDE, 96 // STRIDE)
    assert size.shape == off.shape == (2, 2, 128 // STRIDE, 96 // STRIDE)
    assert float(hm.min()) >= 0 and float(hm.max()) <= 1
    assert float(size.min()) > 0


def test_targets_put_peak_size_and_offset_on_the_centre_cell():
    boxes = np.array([[21.0, 30.0, 61.0, 50.0], [80.0, 70.0, 100.0, 82.0]], np.float32)
    t = make_targets(boxes, 128, STRIDE)
    for x1, y1, x2, y2 in boxes:
        cx, cy = (x1 + x2) / 2 / STRIDE, (y1 + y2) / 2 / STRIDE
        i, j = math.floor(cx), math.floor(cy)
        assert t["heatmap"][0, j, i] == 1.0
        assert t["wh"][:, j, i] == pytest.approx([x2 - x1, y2 - y1])
        assert t["off"][:, j, i] == pytest.approx([cx - i, cy - j])
        assert t["reg_weight"][0, j, i] == 1.0
    assert int((t["heatmap"] == 1.0).sum()) == len(boxes)
    assert t["ignore"].sum() == 0
    tiny = make_targets(np.array([[10.0, 10.0, 20.0, 12.0]], np.float32), 128, STRIDE)
    assert tiny["heatmap"].max() == 0 and tiny["ignore"].sum() > 0


def test_sampler_boxes_lie_in_the_crop():
    rng = np.random.default_rng(1)
    sampler = DetectorSampler([_toy_photo(rng) for _ in range(3)], input_size=128, crop=96, synth=None)
    for _ in range(20):
        img, boxes = sampler.sample(rng)
        assert img.shape == (96, 96, 3) and img.dtype == np.uint8
        if len(boxes):
            assert (boxes[:, 2] > boxes[:, 0]).all() and (boxes[:, 3] > boxes[:, 1]).all()
            cx, cy = (boxes[:, 0] + boxes[:, 2]) / 2, (boxes[:, 1] + boxes[:, 3]) / 2
            assert ((cx >= -1) & (cx <= 97) & (cy >= -1) & (cy <= 97)).all()


def test_a_few_training_steps_reduce_the_loss():
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    sampler = DetectorSampler([_toy_photo(rng) for _ in range(4)], input_size=128, crop=96, synth=None)
    images, targets = make_batch(sampler, rng, 4)
    model = BibDetector()
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3)
    losses = []
    for _ in range(12):
        loss, _ = detector_loss(model, images, targets)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(float(loss.detach()))
    assert losses[-1] < 0.7 * losses[0]


def test_export_checker_metadata_and_parity(tmp_path):
    torch.manual_seed(0)
    model = BibDetector().eval()
    path = export_detector(model, tmp_path / "detector.onnx", 128, "abc123", "test-1")
    proto = onnx.load(str(path))
    onnx.checker.check_model(proto)
    meta = {p.key: p.value for p in proto.metadata_props}
    assert meta["bibtagger.kind"] == "detector"
    assert meta["bibtagger.input_size"] == "128,128"
    assert meta["bibtagger.stride"] == str(STRIDE)
    assert meta["bibtagger.data_hash"] == "abc123" and meta["bibtagger.version"] == "test-1"
    x = np.random.default_rng(0).random((1, 3, 128, 128), dtype=np.float32)
    got = onnx_predictor(path, threads=1)(x)
    with torch.no_grad():
        want = [t.numpy() for t in model(torch.from_numpy(x))]
    for g, w in zip(got, want):
        assert g.shape == w.shape
        np.testing.assert_allclose(g, w, atol=1e-4, rtol=1e-4)
    # H/W are dynamic: the recognizer runs the same model on small zoomed crops
    crop = np.random.default_rng(1).random((1, 3, 64, 96), dtype=np.float32)
    got = onnx_predictor(path, threads=1)(crop)
    with torch.no_grad():
        want = [t.numpy() for t in model(torch.from_numpy(crop))]
    assert got[0].shape == (1, 1, 16, 24)
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, atol=1e-4, rtol=1e-4)


def test_box_metrics_counts_hits_and_false_alarms():
    gts = [np.array([[0, 0, 10, 10]], np.float32), np.array([[20, 20, 40, 30]], np.float32)]
    perfect = [(g.copy(), np.array([0.9], np.float32)) for g in gts]
    m = box_metrics(perfect, gts, 0.5)
    assert m["ap50"] == pytest.approx(1.0) and m["recall"] == 1.0 and m["precision"] == 1.0
    # one extra confident false alarm and one missed box below the threshold
    dets = [
        (np.array([[0, 0, 10, 10], [50, 50, 60, 60]], np.float32), np.array([0.9, 0.8], np.float32)),
        (gts[1].copy(), np.array([0.2], np.float32)),
    ]
    m = box_metrics(dets, gts, 0.5)
    assert m["precision"] == pytest.approx(1 / 2) and m["recall"] == pytest.approx(1 / 2)
    # ranking: TP (0.9), FP (0.8), TP (0.2) -> AP = 0.5 * 1 + 0.5 * 2/3
    assert m["ap50"] == pytest.approx(0.5 + 0.5 * 2 / 3)


def _toy_entries(folder, n: int = 4) -> list[Entry]:
    """n toy photos written as JPEGs, with their annotation entries."""
    import cv2

    rng = np.random.default_rng(3)
    entries = []
    for i in range(n):
        photo = _toy_photo(rng)
        path = folder / f"photo_{i}.jpg"
        cv2.imwrite(str(path), cv2.cvtColor(photo.image, cv2.COLOR_RGB2BGR))
        h, w = photo.image.shape[:2]
        entries.append(Entry(path, path.name, w, h, (Bib("123", tuple(float(v) for v in photo.boxes[0])),)))
    return entries


def test_photos_with_a_bib_without_a_box_are_left_out(tmp_path, capsys):
    """A box-less bib (typed, or copied from another frame) is on the photo somewhere: the photo is no
    negative, and no crop of it may teach that its pixels are background."""
    from training.detector_data import load_photos

    boxed, unboxed, empty = _toy_entries(tmp_path, 3)
    unboxed = Entry(unboxed.path, unboxed.image, unboxed.width, unboxed.height, unboxed.bibs + (Bib("77", None),))
    empty = Entry(empty.path, empty.image, empty.width, empty.height, ())
    photos = load_photos([boxed, unboxed, empty])
    assert [len(p.boxes) for p in photos] == [1, 0]  # the boxed photo, and the one without bibs as a negative
    assert np.allclose(photos[0].boxes[0], boxed.bibs[0].box)
    assert f"skipping {unboxed.image}: bib 77 has no box" in capsys.readouterr().out


@pytest.mark.slow
def test_train_then_finetune_writes_checkpoints_and_onnx(tmp_path):
    entries = _toy_entries(tmp_path)
    small = dict(steps_per_epoch=2, batch=2, crop=96, synth=False, threads=1, log=lambda s: None)
    res = train(entries[:3], entries[3:], tmp_path / "run", epochs=1, input_size=128, **small)
    assert (tmp_path / "run" / "best.pt").is_file() and (tmp_path / "run" / "metrics.jsonl").is_file()
    assert 0.0 <= res["best"]["ap50"] <= 1.0
    onnx_path = finetune(entries, tmp_path / "run" / "best.pt", tmp_path / "ft", epochs=1, **small)
    meta = {p.key: p.value for p in onnx.load(str(onnx_path)).metadata_props}
    assert meta["bibtagger.kind"] == "detector" and meta["bibtagger.input_size"] == "128,128"


def test_batch_stream_depends_on_the_seed_only(tmp_path):
    from training.train_detector import BatchStream

    entries = _toy_entries(tmp_path, 2)
    kw = dict(input_size=128, crop=96, synth=None)
    a, b, c = (next(iter(BatchStream(entries, 2, seed, **kw))) for seed in (5, 5, 6))
    assert a[0].shape == (2, 3, 96, 96) and set(a[1]) >= {"heatmap", "wh", "off", "ignore"}
    assert torch.equal(a[0], b[0]) and all(torch.equal(a[1][k], b[1][k]) for k in a[1])
    assert not torch.equal(a[0], c[0])


def test_training_with_worker_processes_keeps_each_epoch(tmp_path):
    from training.train_detector import load_checkpoint

    entries = _toy_entries(tmp_path)
    train(entries[:3], entries[3:], tmp_path / "run", epochs=2, input_size=128, steps_per_epoch=2, batch=2, crop=96,
          synth=False, threads=1, log=lambda s: None, workers=2, keep_epochs=True)
    metrics = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    assert [m["step"] for m in metrics] == [2, 4]
    for epoch in (1, 2):
        model, ck = load_checkpoint(tmp_path / "run" / f"epoch-{epoch}.pt")
        assert ck["epoch"] == epoch and all(v.device.type == "cpu" for v in ck["model"].values())
    assert not (tmp_path / "run" / "epoch-3.pt").exists()


def test_band_hides_the_chosen_part_of_the_number_or_ends_past_it():
    from training.detector_data import band_mask, hidden_fraction

    box = (40.0, 40.0, 100.0, 60.0)  # 60 x 20 px number
    right = band_mask((120, 160), box, side=1, edge=0.5, angle=0.0, width=80.0, reach=(30.0, 30.0))
    assert hidden_fraction(right, box) == pytest.approx(0.5, abs=0.05)
    assert hidden_fraction(right, (40, 40, 68, 60)) < 0.05 and hidden_fraction(right, (72, 40, 100, 60)) > 0.95
    left = band_mask((120, 160), box, side=0, edge=0.3, angle=20.0, width=80.0, reach=(30.0, 30.0))
    assert hidden_fraction(left, box) == pytest.approx(0.7, abs=0.06)  # a tilt keeps the share on the centre line
    assert hidden_fraction(left, (84, 40, 100, 60)) < 0.05  # the visible 30 % is on the right
    past = band_mask((120, 160), box, side=1, edge=1.2, angle=0.0, width=30.0, reach=(30.0, 30.0))
    assert hidden_fraction(past, box) == 0.0 and hidden_fraction(past, (114, 40, 140, 60)) > 0.95


def test_occluded_bibs_are_dropped_and_margin_bands_keep_them(monkeypatch):
    from training.detector_data import MAX_HIDDEN, hidden_fraction

    rng = np.random.default_rng(5)
    photo = _toy_photo(rng)
    sampler = DetectorSampler([photo], input_size=128, crop=96, synth=None, p_occlude=1.0)
    masks = []
    paint = sampler._occlude
    monkeypatch.setattr(sampler, "_occlude", lambda img, box, rng: masks.append(paint(img, box, rng)) or masks[-1])
    box = photo.boxes[0]
    kept = 0
    for seed in range(40):
        img = photo.image.copy()
        boxes = sampler._occlude_some(img, photo.boxes.copy(), np.random.default_rng(seed))
        share = hidden_fraction(masks[-1], box)
        if len(boxes):
            kept += 1
            beside = [hidden_fraction(masks[-1], (box[2], box[1], box[2] + 40, box[3])),
                      hidden_fraction(masks[-1], (box[0] - 40, box[1], box[0], box[3]))]
            assert share <= MAX_HIDDEN and max(beside) > 0.3  # the band lies just beside the number
        else:
            assert 0.2 <= share <= 0.75  # a quarter to two thirds of the number is hidden
        assert not np.array_equal(img, photo.image)
    assert 0.1 < kept / 40 < 0.55  # one band in three ends past the number
    off = DetectorSampler([photo], input_size=128, crop=96, synth=None)
    img = photo.image.copy()
    assert len(off._occlude_some(img, photo.boxes.copy(), np.random.default_rng(0))) == 1
    assert np.array_equal(img, photo.image)


def test_cli_options_for_partly_hidden_bibs_reach_training(tmp_path, monkeypatch):
    import training.train_detector as td
    from training.data import LABEL_AUDIT

    seen = {}
    monkeypatch.setattr(td, "train", lambda train_e, val_e, out, **kw: seen.update(kw, train_e=train_e))
    monkeypatch.setattr(td, "load_entries", lambda path: [])
    monkeypatch.setattr(td, "split", lambda entries: ([], []))
    for choice, legible_only in (("positive", False), ("negative", True)):
        calls = []
        monkeypatch.setattr(td, "audited", lambda entries, path, legible_only=True: calls.append(legible_only) or entries)
        assert td.main(["--label-audit", str(LABEL_AUDIT), "--partly-hidden", choice, "--occlude", "0.25",
                        "--out", str(tmp_path / "run")]) == 0
        assert calls[0] is legible_only and seen["p_occlude"] == 0.25
    assert td.main(["--label-audit", "none", "--out", str(tmp_path / "run")]) == 0
    assert seen["p_occlude"] == 0.0 and seen["workers"] == 0 and seen["device"] == "cpu" and not seen["keep_epochs"]
    assert td.main(["--label-audit", "none", "--workers", "6", "--device", "cuda", "--keep-epochs",
                    "--out", str(tmp_path / "run")]) == 0
    assert seen["workers"] == 6 and seen["device"] == "cuda" and seen["keep_epochs"]


@pytest.mark.slow
def test_a_run_killed_while_saving_keeps_the_previous_checkpoints(tmp_path, monkeypatch):
    """The state a kill in torch.save leaves (a file cut short): best.pt/last.pt of the epoch before stay
    loadable, because checkpoints are written under a temp name and renamed (docs/crash-safety.md)."""
    import training.train_detector as td

    entries = _toy_entries(tmp_path)
    real_save, calls = td.torch.save, []

    def save_cut_short_from_epoch_2(obj, path, *a, **k):
        calls.append(Path(path).name)
        if obj["epoch"] < 2:
            return real_save(obj, path, *a, **k)
        Path(path).write_bytes(b"PK\x03\x04 cut short")  # what a SIGKILL mid-write leaves
        raise KeyboardInterrupt

    monkeypatch.setattr(td.torch, "save", save_cut_short_from_epoch_2)
    with pytest.raises(KeyboardInterrupt):
        train(entries[:3], entries[3:], tmp_path / "run", epochs=2, input_size=128, steps_per_epoch=1, batch=2,
              crop=96, synth=False, threads=1, log=lambda s: None)
    for name in ("last.pt", "best.pt"):
        _, ck = td.load_checkpoint(tmp_path / "run" / name)
        assert ck["epoch"] == 1, name


@pytest.mark.parametrize("ap50s, kept", [((1.0, 1.0, 1.0), 3), ((1.0, 0.5, 0.5), 1), ((0.5, 1.0, 1.0), 3)])
def test_the_best_epoch_is_the_highest_val_ap50_a_tie_keeping_the_later(tmp_path, monkeypatch, ap50s, kept):
    """A val split every epoch gets right (set1's 16 photos from the third epoch on) used to keep the
    first epoch of the tie, an undertrained detector; a tie now keeps the later one, a strictly better
    earlier epoch still wins (docs/training.md#an-unseen-race)."""
    import training.train_detector as td

    entries = _toy_entries(tmp_path)
    real, scores = td.evaluate, iter(ap50s)

    def evaluate(*args, **kwargs):  # the scripted val AP50 of each epoch (later calls: the final card's)
        m = real(*args, **kwargs)
        return {**m, "ap50": next(scores, 0.0), "f1": 1.0}

    monkeypatch.setattr(td, "evaluate", evaluate)
    result = train(entries[:3], entries[3:], tmp_path / "run", epochs=3, input_size=128, steps_per_epoch=1, batch=2,
                   crop=96, synth=False, threads=1, log=lambda s: None)
    _, ck = td.load_checkpoint(tmp_path / "run" / "best.pt")
    assert ck["epoch"] == kept and result["best"]["epoch"] == kept
