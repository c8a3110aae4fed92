"""`python -m training finetune`: versions, the output folder (never half-written, never overwritten unasked),
clear one-line errors, and honest model cards."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")

from tests.test_training_reader import base_reader_models, reviewed_photo_set  # noqa: E402

pytestmark = pytest.mark.usefixtures("one_torch_thread")

TINY_RUN = ["--epochs", "1", "--steps", "1", "--batch", "4", "--synthetic", "20", "--dev", "", "--threads", "1"]


def finetune(photos: Path, models: Path, out: Path, *extra: str) -> int:
    from training.finetune import main as finetune_main

    return finetune_main(["--from", str(photos), "--models", str(models), "--out", str(out), *TINY_RUN, *extra])


@pytest.fixture
def setup(tmp_path):
    from tests.model_factory import make_placeholder_detector

    photos = reviewed_photo_set(tmp_path / "race", seed=4)
    models = base_reader_models(tmp_path / "models")
    make_placeholder_detector(models / "detector.onnx")
    return photos, models


def version_of(path: Path) -> str:
    from training.export import read_metadata

    return read_metadata(path)["bibtagger.version"]


def test_runs_with_other_settings_on_the_same_photos_get_other_versions(tmp_path, setup):
    photos, models = setup
    assert finetune(photos, models, tmp_path / "a", "--skip-detector") == 0
    assert finetune(photos, models, tmp_path / "b", "--skip-detector", "--lr", "1e-2") == 0
    va, vb = version_of(tmp_path / "a" / "reader.onnx"), version_of(tmp_path / "b" / "reader.onnx")
    assert va != vb and "-ft-" in va and "-ft-" in vb
    # the slim checkpoint the next fine-tune starts from carries the same version
    assert torch.load(tmp_path / "b" / "reader.pt", weights_only=False)["version"] == vb


def test_the_weights_hash_tells_state_dicts_apart():
    from training.export import weights_hash
    from training.models.reader import CRNN

    torch.manual_seed(0)
    a = CRNN().state_dict()
    b = {k: v.clone() for k, v in a.items()}
    assert weights_hash(a) == weights_hash(b)
    b["head.bias"].add_(1e-3)
    assert weights_hash(a) != weights_hash(b) and len(weights_hash(a)) == 6


@pytest.mark.slow
def test_detectors_trained_differently_on_the_same_photos_get_other_versions(tmp_path):
    from tests.test_training_detector import _toy_entries
    from training.train_detector import train

    entries = _toy_entries(tmp_path)
    small = dict(epochs=1, steps_per_epoch=2, batch=2, crop=96, input_size=128, synth=False, threads=1, log=lambda s: None)
    a = train(entries[:3], entries[3:], tmp_path / "a", lr=2e-3, **small)
    b = train(entries[:3], entries[3:], tmp_path / "b", lr=1e-2, **small)
    assert a["version"] != b["version"]
    assert version_of(Path(a["onnx"])) == a["version"] and version_of(Path(b["onnx"])) == b["version"]
