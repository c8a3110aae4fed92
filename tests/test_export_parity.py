"""ONNX export: checker, contract metadata, ONNX-vs-torch parity, decoding of the exported reader."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch

from bibtagger_gui.core.decode import ctc_greedy_decode
from training.export import export_onnx, export_reader, read_metadata
from training.models.reader import CHARSET, CRNN, greedy_decode

REPO = Path(__file__).resolve().parents[1]


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _session(path: Path) -> ort.InferenceSession:
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    return ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])


def _trained_like_reader(seed: int = 0) -> CRNN:
    """Random reader with non-trivial BatchNorm statistics (export folds them)."""
    torch.manual_seed(seed)
    model = CRNN()
    model.train()
    with torch.no_grad():
        for _ in range(3):
            model(torch.rand(8, 1, 32, 128))
        model.head.bias[0] -= 2.0  # fewer blanks so decoded strings are not empty
    return model.eval()


def test_reader_export_metadata_and_parity(tmp_path):
    model = _trained_like_reader()
    path = export_reader(model, tmp_path / "reader.onnx", "reader-test-1", "abc123")
    onnx.checker.check_model(onnx.load(str(path)))
    meta = read_metadata(path)
    assert meta == {"bibtagger.kind": "reader", "bibtagger.version": "reader-test-1", "bibtagger.input_size": "32,128",
                    "bibtagger.charset": CHARSET, "bibtagger.data_hash": "abc123"}
    sess = _session(path)
    assert [i.name for i in sess.get_inputs()] == ["crop"] and [o.name for o in sess.get_outputs()] == ["logits"]
    rng = np.random.default_rng(0)
    for n in (1, 4):  # dynamic batch
        x = rng.random((n, 1, 32, 128), dtype=np.float32)
        (got,) = sess.run(None, {"crop": x})
        with torch.no_grad():
            want = model(torch.from_numpy(x))
        assert got.shape == (n, 32, len(CHARSET) + 1)
        assert np.abs(got - want.numpy()).max() < 1e-4
        decoded = [t for t, _ in ctc_greedy_decode(got, CHARSET)]
        assert decoded == greedy_decode(want, CHARSET)
    assert any(decoded)


def test_export_onnx_generic_writes_metadata_and_checks(tmp_path):
    module = torch.nn.Sequential(torch.nn.Conv2d(3, 2, 3, padding=1), torch.nn.Sigmoid())
    path = export_onnx(module, torch.zeros(1, 3, 8, 8), ["image"], ["heatmap"], None, {"bibtagger.kind": "detector", "x": "1"},
                       tmp_path / "sub" / "m.onnx")
    assert read_metadata(path) == {"bibtagger.kind": "detector", "x": "1"}
    assert not list(path.parent.glob("*.tmp"))


def test_detector_export_parity(tmp_path):
    det = pytest.importorskip("training.models.detector")
    from training.train_detector import export_detector

    torch.manual_seed(0)
    model = det.build_detector(width=0.5, fpn=16).eval()
    path = export_detector(model, tmp_path / "detector.onnx", 128, "abc", "detector-test-1")
    meta = read_metadata(path)
    assert meta["bibtagger.kind"] == "detector" and meta["bibtagger.input_size"] == "128,128"
    x = np.random.default_rng(1).random((1, 3, 128, 128), dtype=np.float32)
    got = _session(path).run(["heatmap", "size", "offset"], {"image": x})
    with torch.no_grad():
        want = [t.numpy() for t in model(torch.from_numpy(x))]
    for g, w, name in zip(got, want, ("heatmap", "size", "offset")):
        assert g.shape == w.shape, name
        assert np.abs(g - w).max() < 1e-4 * max(1.0, float(np.abs(w).max())), name


def test_export_command_for_a_reader_checkpoint(tmp_path, capsys):
    from training.__main__ import main

    model = _trained_like_reader(1)
    ckpt = tmp_path / "best.pt"
    torch.save({"kind": "reader", "state_dict": model.state_dict(), "charset": CHARSET, "input_size": [32, 128],
                "data_hash": "feed"}, ckpt)
    assert main(["export", "--kind", "reader", "--ckpt", str(ckpt), "--out", str(tmp_path / "r.onnx"), "--version", "reader-x"]) == 0
    assert read_metadata(tmp_path / "r.onnx")["bibtagger.data_hash"] == "feed"
    slim = torch.load(tmp_path / "r.pt", weights_only=False)  # finetune starts from this
    assert slim["version"] == "reader-x" and slim["charset"] == CHARSET
    assert "bibtagger.version = reader-x" in capsys.readouterr().out
    assert main(["export", "--kind", "reader", "--ckpt", str(tmp_path / "missing.pt"), "--out", str(tmp_path / "x.onnx")]) == 2
    # a stretched reader (reader_crop's stretch) carries it into the ONNX metadata and the slim checkpoint
    torch.save({"kind": "reader", "state_dict": model.state_dict(), "charset": CHARSET, "input_size": [32, 128],
                "stretch": 1.5, "data_hash": "feed"}, ckpt)
    assert main(["export", "--kind", "reader", "--ckpt", str(ckpt), "--out", str(tmp_path / "s.onnx"), "--version", "reader-s"]) == 0
    assert read_metadata(tmp_path / "s.onnx")["bibtagger.stretch"] == "1.5"
    assert torch.load(tmp_path / "s.pt", weights_only=False)["stretch"] == 1.5
    assert "bibtagger.stretch" not in read_metadata(tmp_path / "r.onnx")


def test_shipped_reader_obeys_the_contract():
    path = REPO / "resources" / "models" / "reader.onnx"
    assert path.is_file(), "resources/models/reader.onnx must be committed"
    meta = read_metadata(path)
    assert meta["bibtagger.kind"] == "reader" and meta["bibtagger.input_size"] == "32,128"
    assert meta["bibtagger.charset"].startswith("0123456789") and meta["bibtagger.data_hash"]
    (out,) = _session(path).run(None, {"crop": np.full((2, 1, 32, 128), 0.5, np.float32)})
    assert out.shape[0] == 2 and out.shape[2] == len(meta["bibtagger.charset"]) + 1


@pytest.mark.dataset
def test_shipped_reader_reads_dev_val_crops(rbnr_dev):
    """The shipped reader on ground-truth crops of the dev val split (the model card's number)."""
    from training.data import load_entries, split
    from training.reader_data import eval_crop, load_real_bibs

    _, val = split(load_entries(rbnr_dev / "annotations.json"))
    bibs = load_real_bibs(val)
    meta = read_metadata(REPO / "resources" / "models" / "reader.onnx")
    crops = np.stack([eval_crop(b, stretch=float(meta.get("bibtagger.stretch", "1"))) for b in bibs])[:, None]
    (lp,) = _session(REPO / "resources" / "models" / "reader.onnx").run(None, {"crop": crops})
    decoded = ctc_greedy_decode(lp, meta["bibtagger.charset"])
    accuracy = np.mean([t == b.number for (t, _), b in zip(decoded, bibs)])
    assert len(bibs) >= 30 and accuracy >= 0.9


def test_taller_reader_exports_its_input_size_and_the_recognizer_uses_it(tmp_path, placeholder_models):
    """A 48x192 reader: metadata says so, ONNX matches torch, and Recognizer crops at that size."""
    from bibtagger_gui.core.recognizer import Recognizer, reader_crop

    model = CRNN(height=48, width=192).eval()
    path = export_reader(model, tmp_path / "reader.onnx", "reader-48", "abc")
    assert read_metadata(path)["bibtagger.input_size"] == "48,192"
    x = np.random.default_rng(1).random((2, 1, 48, 192), dtype=np.float32)
    (got,) = _session(path).run(None, {"crop": x})
    with torch.no_grad():
        want = model(torch.from_numpy(x)).numpy()
    assert got.shape == (2, 48, len(CHARSET) + 1) and np.abs(got - want).max() < 1e-4
    rec = Recognizer(placeholder_models[0], path, threads=1)
    assert rec.reader.input_size == (48, 192)
    image = np.full((120, 200, 3), 200, np.uint8)
    assert reader_crop(image, (10, 10, 90, 50), rec.reader.input_size).shape == (48, 192)
    assert len(rec.read(image, np.array([[10, 10, 90, 50]], np.float32))) == 1
    with pytest.raises(ValueError):
        CRNN(height=40)
