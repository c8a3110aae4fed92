"""core/calibration (Platt map, file format), its use by the Recognizer, and `training calibrate`."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from bibtagger_gui.core.bib import Bib
from bibtagger_gui.core.calibration import FILE_NAME, Calibration, CalibrationError, fit_platt, reliability
from bibtagger_gui.core.recognizer import DEFAULT_MIN_SCORE, Recognizer
from tests.test_recognizer import bright_spot_detector, fixed_reader


def _sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def test_fit_platt_recovers_a_known_map():
    rng = np.random.default_rng(0)
    raw = rng.uniform(0.05, 0.95, 6000)
    right = rng.random(6000) < _sigmoid(3.0 * np.log(raw / (1 - raw)) + 1.0)
    slope, intercept = fit_platt(raw, right)
    assert slope == pytest.approx(3.0, abs=0.3) and intercept == pytest.approx(1.0, abs=0.2)
    with pytest.raises(ValueError, match="both right and wrong"):
        fit_platt(raw, np.ones_like(raw))
    # separable outcomes stay finite thanks to the ridge, and the map is still increasing
    s, _ = fit_platt([0.1, 0.2, 0.8, 0.9], [0, 0, 1, 1])
    assert math.isfinite(s) and s > 0


def test_calibration_maps_monotonically_and_round_trips(tmp_path):
    cal = Calibration(4.0, 1.0, "det-1", "read-1", 10, "unit test")
    values = [cal(r) for r in np.linspace(0.0, 1.0, 41)]
    assert all(a < b for a, b in zip(values, values[1:]))  # order kept, so thresholds map exactly
    assert cal(0.5) == pytest.approx(_sigmoid(1.0))
    path = tmp_path / "ünïcode" / FILE_NAME
    path.parent.mkdir()
    cal.save(path)
    assert Calibration.load(path) == cal and not list(path.parent.glob("*.tmp"))
    assert cal.matches("det-1", "read-1") and not cal.matches("det-2", "read-1")
    with pytest.raises(CalibrationError, match="increasing"):
        Calibration(-1.0, 0.0, "d", "r")


@pytest.mark.parametrize("text, message", [
    ("{not json", "not valid JSON"),
    ("[1, 2]", "expected a JSON object"),
    ('{"slope": 2, "intercept": 0, "reader_version": "r"}', "missing 'detector_version'"),
    ('{"slope": "steep", "intercept": 0, "detector_version": "d", "reader_version": "r"}', "could not convert"),
])
def test_bad_calibration_files_name_the_problem(tmp_path, text, message):
    path = tmp_path / FILE_NAME
    path.write_text(text)
    with pytest.raises(CalibrationError, match=message) as err:
        Calibration.load(path)
    assert str(path) in str(err.value)
    with pytest.raises(CalibrationError, match="cannot read"):
        Calibration.load(tmp_path / "absent.json")


def test_reliability_measures_agreement():
    good = reliability([0.9] * 10 + [0.1] * 10, [1] * 9 + [0] + [0] * 9 + [1])
    bad = reliability([0.6] * 10 + [0.4] * 10, [1] * 10 + [0] * 10)  # right order, under-confident
    assert good["ece"] == pytest.approx(0.0, abs=1e-9) and bad["ece"] == pytest.approx(0.4)
    assert good["brier"] == pytest.approx(0.09) and bad["brier"] == pytest.approx(0.16)
    assert [row["n"] for row in bad["bins"]] == [10, 10]


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    folder = tmp_path_factory.mktemp("calmodels")
    bright_spot_detector(folder / "detector.onnx")
    fixed_reader(folder / "reader.onnx", "1234")
    return folder


def _bright_image() -> np.ndarray:
    image = np.zeros((256, 256, 3), np.uint8)
    image[100:124, 100:148] = 255
    return image


def test_recognizer_reports_calibrated_confidence(model_dir, tmp_path):
    raw_rec = Recognizer.from_dir(model_dir, threads=1, refine_small=False)
    assert raw_rec.calibration is None and "no calibration.json" in raw_rec.calibration_note
    assert raw_rec.min_confidence == DEFAULT_MIN_SCORE
    raw = raw_rec.recognize(_bright_image())
    assert [b.number for b in raw] == ["1234"]

    folder = tmp_path / "m"
    folder.mkdir()
    for name in ("detector.onnx", "reader.onnx"):
        (folder / name).write_bytes((model_dir / name).read_bytes())
    cal = Calibration(2.0, 0.5, raw_rec.detector.version, raw_rec.reader_version)
    cal.save(folder / FILE_NAME)
    rec = Recognizer.from_dir(folder, threads=1, refine_small=False)
    assert rec.calibration == cal and rec.version == raw_rec.version + "+cal"
    assert rec.min_confidence == pytest.approx(cal(DEFAULT_MIN_SCORE))  # same decisions as raw >= 0.4
    got = rec.recognize(_bright_image())
    assert [b.number for b in got] == ["1234"] and got[0].box == raw[0].box
    assert got[0].confidence == pytest.approx(cal(raw[0].confidence), abs=1e-4)
    assert got[0].confidence != pytest.approx(raw[0].confidence, abs=1e-3)
    assert Recognizer.from_dir(folder, threads=1, calibration=False).calibration is None

    # another pair's calibration, or a broken file: raw scores, a reason, and recognition goes on
    Calibration(2.0, 0.5, "other-detector", raw_rec.reader_version).save(folder / FILE_NAME)
    stale = Recognizer.from_dir(folder, threads=1, refine_small=False)
    assert stale.calibration is None and "other-detector" in stale.calibration_note
    (folder / FILE_NAME).write_text("{broken")
    broken = Recognizer.from_dir(folder, threads=1, refine_small=False)
    assert broken.calibration is None and "not valid JSON" in broken.calibration_note
    assert [b.confidence for b in broken.recognize(_bright_image())] == [raw[0].confidence]


def test_scored_readings_marks_right_and_wrong(tmp_path, capsys):
    from training.calibrate import scored_readings
    from training.data import Entry

    class Stub:  # stands in for a Recognizer: fixed readings per photo, one unreadable photo
        def recognize_path(self, path):
            if path.name == "bad.jpg":
                raise OSError("corrupt JPEG")
            return [Bib("12", (0, 0, 1, 1), 0.9), Bib("77", (0, 0, 1, 1), 0.3)]

    entries = [Entry(tmp_path / "a.jpg", "a.jpg", 10, 10, (Bib("12", (0, 0, 1, 1)),)),
               Entry(tmp_path / "bad.jpg", "bad.jpg", 10, 10, ()),
               Entry(tmp_path / "b.jpg", "b.jpg", 10, 10, (Bib("77", (0, 0, 1, 1)),))]
    scores, right = scored_readings(Stub(), entries)
    assert scores.tolist() == [0.9, 0.3, 0.9, 0.3] and right.tolist() == [1, 0, 0, 1]
    assert "bad.jpg: corrupt JPEG" in capsys.readouterr().err


@pytest.mark.dataset
def test_calibrate_command_on_rbnr_dev(rbnr_dev, shipped_models_dir, tmp_path, capsys):
    from training.calibrate import main

    out, report = tmp_path / FILE_NAME, tmp_path / "report.json"
    assert main(["--annotations", str(rbnr_dev / "annotations.json"), "--models", str(shipped_models_dir),
                 "--out", str(out), "--report", str(report)]) == 0
    cal = Calibration.load(out)
    rec = Recognizer.from_dir(shipped_models_dir, threads=1)
    assert cal.matches(rec.detector.version, rec.reader_version) and cal.samples > 100
    check = json.loads(report.read_text())["check"]  # the val split, not fitted on
    assert check["calibrated"]["brier"] < check["raw"]["brier"]
    assert check["calibrated"]["log_loss"] < check["raw"]["log_loss"]
    assert "checked on" in capsys.readouterr().out


def test_shipped_calibration_belongs_to_the_shipped_models(shipped_models_dir):
    """Re-exporting a model without `python -m training calibrate` would leave confidences raw."""
    rec = Recognizer.from_dir(shipped_models_dir, threads=1)
    assert rec.calibration is not None, rec.calibration_note
    assert Calibration.load(Path(shipped_models_dir) / FILE_NAME) == rec.calibration
