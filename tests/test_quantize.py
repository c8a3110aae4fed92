"""INT8 readers (training/quantize.py): metadata, graph, errors, and the shipped int8 readers against their float weights."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest

from bibtagger_gui.core.recognizer import ModelError, OnnxModel, Recognizer, reader_crop
from training.export import export_reader, read_metadata
from training.quantize import INT8_SUFFIX, last_conv, main, quantize_reader

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _conv_weight_sources(path: Path) -> dict[str, str]:
    """Each Conv node's name -> the op type producing its weight ("initializer" when it is a float constant)."""
    model = onnx.load(str(path))
    producers = {out: node.op_type for node in model.graph.node for out in node.output}
    return {n.name: producers.get(n.input[1], "initializer") for n in model.graph.node if n.op_type == "Conv"}


def test_quantized_reader_keeps_the_contract_and_reads_like_the_float_one(tmp_path):
    from tests.test_export_parity import _session, _trained_like_reader

    src = export_reader(_trained_like_reader(), tmp_path / "reader.onnx", "reader-test-1", "abc123")
    rng = np.random.default_rng(0)
    out = quantize_reader(src, tmp_path / "int8" / "reader.onnx", rng.random((64, 1, 32, 128), dtype=np.float32))
    meta, before = read_metadata(out), read_metadata(src)
    assert meta["bibtagger.version"] == "reader-test-1" + INT8_SUFFIX
    assert meta["bibtagger.int8"].startswith("from reader.onnx reader-test-1; MinMax on 64 crops")
    assert {k: v for k, v in meta.items() if k not in ("bibtagger.version", "bibtagger.int8")} == \
        {k: v for k, v in before.items() if k != "bibtagger.version"}
    onnx.checker.check_model(onnx.load(str(out)), full_check=True)
    sources = _conv_weight_sources(out)
    keep = last_conv(onnx.load(str(src)))
    assert sources.pop(keep) == "initializer"  # the last convolution stays float ...
    assert sources and set(sources.values()) == {"DequantizeLinear"}  # ... every other one reads int8 weights
    x = rng.random((8, 1, 32, 128), dtype=np.float32)
    (want,), (got,) = _session(src).run(None, {"crop": x}), _session(out).run(None, {"crop": x})
    assert got.shape == want.shape and (got.argmax(2) == want.argmax(2)).mean() > 0.95
    model = OnnxModel.load(out, "reader", 1)  # the recognizer takes it like any reader
    assert model.version == "reader-test-1-int8" and model.input_size == (32, 128)
    assert out.stat().st_size < src.stat().st_size


def test_quantize_refuses_what_it_cannot_quantize(tmp_path):
    from tests.model_factory import make_placeholder_detector
    from tests.test_export_parity import _trained_like_reader

    src = export_reader(_trained_like_reader(), tmp_path / "reader.onnx", "reader-test-1", "abc123")
    crops = np.random.default_rng(1).random((16, 1, 32, 128), dtype=np.float32)
    once = quantize_reader(src, tmp_path / "q.onnx", crops)
    with pytest.raises(ValueError, match="already quantized"):
        quantize_reader(once, tmp_path / "qq.onnx", crops)
    with pytest.raises(ValueError, match="not a bibtagger reader"):
        quantize_reader(make_placeholder_detector(tmp_path / "detector.onnx"), tmp_path / "d.onnx", crops)
    with pytest.raises(ValueError, match=r"\[N,1,H,W\]"):
        quantize_reader(src, tmp_path / "x.onnx", crops[:, 0])
    assert not (tmp_path / "qq.onnx").exists() and not (tmp_path / "x.onnx").exists()
    assert main(["--onnx", str(tmp_path / "missing.onnx")]) == 2
    # several inputs, one already int8: refused before any is written (the float one stays float)
    before = src.read_bytes()
    assert main(["--onnx", str(src), str(once)]) == 2
    assert src.read_bytes() == before


def test_shipped_int8_readers_read_val_crops_as_well_as_their_float_weights(rbnr_dev, shipped_models_dir, tmp_path):
    """Each shipped reader-*.onnx is the int8 copy of its reader-*.pt: on the val split's ground-truth crops
    (the recognizer's three paddings) it reads at most one crop fewer right than the float export does."""
    import cv2
    import torch

    from bibtagger_gui.core.decode import ctc_greedy_decode
    from training.data import load_entries, split
    from training.export import export_reader_checkpoint

    _, val = split(load_entries(rbnr_dev / "annotations.json"))
    crops, truth = [], []
    for entry in val:
        image = cv2.cvtColor(cv2.imread(str(entry.path)), cv2.COLOR_BGR2RGB)
        for bib in entry.bibs:
            if bib.box is not None:
                for pad in (0.05, 0.1, 0.2):
                    crops.append(reader_crop(image, bib.box, (32, 128), pad))
                    truth.append(bib.number)
    batch = np.stack(crops)[:, None]
    for int8 in [shipped_models_dir / "reader.onnx", *sorted(shipped_models_dir.glob("reader-*.onnx"))]:
        meta = read_metadata(int8)
        assert meta["bibtagger.version"].endswith(INT8_SUFFIX) and "bibtagger.int8" in meta, int8
        version = torch.load(int8.with_suffix(".pt"), weights_only=False)["version"]
        assert version + INT8_SUFFIX == meta["bibtagger.version"]  # the int8 file is a copy of these weights
        flt = export_reader_checkpoint(int8.with_suffix(".pt"), tmp_path / int8.name, version)
        right = {}
        for path in (flt, int8):
            rec = Recognizer(shipped_models_dir / "detector.onnx", path, threads=1, extra_readers=[], calibration=False)
            (logprobs,) = rec.reader.run({"crop": batch}, ["logits"])
            right[path] = sum(t == want for (t, _), want in zip(ctc_greedy_decode(logprobs, rec.charset), truth))
        assert right[int8] >= right[flt] - 1, f"{int8.name}: int8 reads {right[int8]} of {len(truth)} right, float {right[flt]}"
    with pytest.raises(ModelError):  # an int8 file is still checked like any model
        OnnxModel.load(shipped_models_dir / "reader.onnx", "detector")


def test_quantize_command_calibrates_on_the_train_split(rbnr_dev, shipped_models_dir, tmp_path, capsys):
    from tests.model_factory import make_placeholder_detector
    from tests.test_export_parity import _trained_like_reader

    src = export_reader(_trained_like_reader(), tmp_path / "reader.onnx", "reader-test-1", "abc123")
    args = ["--dataset", str(rbnr_dev / "annotations.json"), "--detector", str(shipped_models_dir / "detector.onnx"), "--limit", "3"]
    assert main(["--onnx", str(src), "--out", str(tmp_path / "out"), *args]) == 0
    meta = read_metadata(tmp_path / "out" / "reader.onnx")
    assert meta["bibtagger.version"] == "reader-test-1-int8" and meta["bibtagger.int8"].endswith("; train split of rbnr_dev")
    n = int(meta["bibtagger.int8"].split("MinMax on ")[1].split()[0])
    assert n > 0 and n % 6 == 0  # every detected box at three paddings and two stretches
    assert f"calibration: {n} crops" in capsys.readouterr().out
    assert read_metadata(src)["bibtagger.version"] == "reader-test-1"  # --out leaves the source alone
    # a model that is not a reader, or a reader already quantized: a clear message, exit 2
    assert main(["--onnx", str(make_placeholder_detector(tmp_path / "detector.onnx")), *args]) == 2
    assert "not a bibtagger reader" in capsys.readouterr().err
    assert main(["--onnx", str(tmp_path / "out" / "reader.onnx"), *args]) == 2
    assert "already quantized" in capsys.readouterr().err
