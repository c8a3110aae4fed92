"""The recognizer API over placeholder ONNX models: metadata, frames, errors."""

from pathlib import Path

import numpy as np
import pytest

from bibtagger_gui.core.bib import Bib
from bibtagger_gui.core.recognizer import ModelError, Recognizer


def test_recognize_returns_bibs_in_image_frame(placeholder_models):
    rec = Recognizer(*placeholder_models)
    assert rec.version == "det:placeholder-1+read:placeholder-1"
    image = np.zeros((300, 500, 3), np.uint8)
    image[100:140, 200:260] = 255  # one bright plate
    bibs = rec.recognize(image)
    assert all(isinstance(b, Bib) for b in bibs)
    boxes, scores = rec.detect(image)
    assert len(boxes) >= 1
    centres = np.c_[(boxes[:, 0] + boxes[:, 2]) / 2, (boxes[:, 1] + boxes[:, 3]) / 2]
    # the strongest peak lies on the plate, mapped back from the 128x128 letterbox
    assert 200 <= centres[0, 0] <= 260 and 100 <= centres[0, 1] <= 140
    assert (boxes[:, 2] <= 500).all() and (boxes[:, 3] <= 300).all()


def test_dark_image_has_no_bibs(placeholder_models):
    rec = Recognizer(*placeholder_models)
    assert rec.recognize(np.zeros((64, 64, 3), np.uint8)) == []


@pytest.mark.parametrize("content", [b"", b"not an onnx model at all"])
def test_corrupt_model_gives_model_error(tmp_path, placeholder_models, content):
    bad = tmp_path / "detector.onnx"
    bad.write_bytes(content)
    with pytest.raises(ModelError, match="cannot be loaded"):
        Recognizer(bad, placeholder_models[1])


def test_a_models_folder_that_is_a_file_or_missing_is_said_as_such(tmp_path, placeholder_models):
    """`predict --models RACE/models/detector.onnx` (the file, not its folder) said "detector model not found:
    …/detector.onnx/detector.onnx"; a typo in the folder named only a file in it."""
    det, _reader = placeholder_models
    with pytest.raises(ModelError) as err:
        Recognizer.from_dir(det)
    assert str(err.value) == f"{det} is a file, not a models folder: give the folder that holds detector.onnx and reader.onnx"
    with pytest.raises(ModelError) as err:
        Recognizer.from_dir(tmp_path / "modles")
    assert str(err.value) == f"models folder {tmp_path / 'modles'}: no such folder"


def test_missing_and_wrong_kind_models(tmp_path, placeholder_models):
    det, reader = placeholder_models
    with pytest.raises(ModelError, match="not found"):
        Recognizer(tmp_path / "nope.onnx", reader)
    with pytest.raises(ModelError, match="not a bibtagger detector"):
        Recognizer(reader, reader)
