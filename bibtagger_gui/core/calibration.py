"""Calibrated bib confidence: the recognizer's raw score mapped to P(the reading is a real bib).

The raw score (``recognizer.combine_confidence``: geometric mean of the detector peak and the
reader's CTC path probability) ranks readings well but is not a probability: on the dev split a
raw 0.7 is right ~99 % of the time. ``Calibration`` is a Platt map fitted on the train split
(``python -m training calibrate``)::

    p = sigmoid(slope * logit(raw) + intercept)

It is monotone (slope > 0), so it never changes which readings rank first or which pass a
threshold mapped through it; it only makes the number mean what the review colours and filters
("low confidence" < 0.9, green >= 0.95) say. A calibration belongs to one detector + reader pair:
``calibration.json`` beside the models names their versions and is ignored for any other pair.
See docs/recognizer.md#confidence.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

FILE_NAME = "calibration.json"
_EPS = 1e-4


class CalibrationError(ValueError):
    """A calibration file that cannot be used (unreadable, malformed, non-increasing map)."""


def _logit(p):
    p = np.clip(p, _EPS, 1 - _EPS)
    return np.log(p / (1 - p))


@dataclass(frozen=True)
class Calibration:
    slope: float
    intercept: float
    detector_version: str
    reader_version: str
    samples: int = 0  # readings it was fitted on
    fitted_on: str = ""  # data description (split, label audit)

    def __post_init__(self) -> None:
        if not (math.isfinite(self.slope) and math.isfinite(self.intercept)) or self.slope <= 0:
            raise CalibrationError(f"calibration map must be increasing (slope {self.slope}, intercept {self.intercept})")

    def __call__(self, raw: float) -> float:
        """P(correct) for a raw score in [0, 1]."""
        z = self.slope * float(_logit(raw)) + self.intercept
        return 1.0 / (1.0 + math.exp(-z)) if z >= -700 else 0.0

    def matches(self, detector_version: str, reader_version: str) -> bool:
        return (self.detector_version, self.reader_version) == (detector_version, reader_version)

    def to_json(self) -> dict:
        return asdict(self)

    @classmethod
    def from_json(cls, data: object, source: str = "calibration") -> "Calibration":
        if not isinstance(data, dict):
            raise CalibrationError(f"{source}: expected a JSON object")
        try:
            return cls(float(data["slope"]), float(data["intercept"]), str(data["detector_version"]),
                       str(data["reader_version"]), int(data.get("samples", 0)), str(data.get("fitted_on", "")))
        except KeyError as exc:
            raise CalibrationError(f"{source}: missing {exc.args[0]!r}") from None
        except (TypeError, ValueError) as exc:
            raise CalibrationError(f"{source}: {exc}") from None

    @classmethod
    def load(cls, path: Path) -> "Calibration":
        """Read a calibration file; every problem becomes a CalibrationError naming the path."""
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
        except OSError as exc:
            raise CalibrationError(f"{path}: cannot read ({exc.strerror or exc})") from None
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise CalibrationError(f"{path}: not valid JSON ({exc})") from None
        return cls.from_json(data, str(path))

    def save(self, path: Path) -> None:
        """Write atomically (temp file + replace)."""
        from bibtagger_gui.core.annotations import atomic_write_text

        atomic_write_text(path, json.dumps(self.to_json(), indent=1) + "\n")


def fit_platt(raw, correct, l2: float = 1e-3, iterations: int = 100) -> tuple[float, float]:
    """(slope, intercept) of the logistic regression of `correct` (0/1) on logit(`raw`).

    Newton's method on the L2-regularised log-likelihood (the small ridge keeps it finite when
    the classes separate). Raises ValueError without both outcomes.
    """
    s = np.asarray(raw, np.float64).ravel()
    y = np.asarray(correct, np.float64).ravel()
    if len(s) != len(y) or not len(s):
        raise ValueError("need as many outcomes as scores, at least one")
    if y.min() == y.max():
        raise ValueError("need both right and wrong readings to fit a calibration")
    X = np.stack([_logit(s), np.ones_like(s)], axis=1)
    w = np.array([1.0, 0.0])
    for _ in range(iterations):
        p = 1.0 / (1.0 + np.exp(-(X @ w)))
        grad = X.T @ (p - y) + l2 * w
        hess = (X * (p * (1 - p))[:, None]).T @ X + l2 * np.eye(2)
        step = np.linalg.solve(hess, grad)
        w -= step
        if np.abs(step).max() < 1e-10:
            break
    return float(w[0]), float(w[1])


def reliability(probs, correct, bins: int = 10) -> dict:
    """Brier score, log loss, expected calibration error and a per-bin table of `probs` vs outcomes."""
    p = np.clip(np.asarray(probs, np.float64).ravel(), _EPS, 1 - _EPS)
    y = np.asarray(correct, np.float64).ravel()
    if not len(p):
        return {"n": 0, "brier": float("nan"), "log_loss": float("nan"), "ece": float("nan"), "bins": []}
    k = np.minimum((p * bins).astype(int), bins - 1)
    table, ece = [], 0.0
    for b in range(bins):
        m = k == b
        if m.any():
            table.append({"from": b / bins, "to": (b + 1) / bins, "n": int(m.sum()),
                          "mean_confidence": float(p[m].mean()), "correct": float(y[m].mean())})
            ece += abs(p[m].mean() - y[m].mean()) * m.sum() / len(p)
    return {"n": int(len(p)), "brier": float(np.mean((p - y) ** 2)),
            "log_loss": float(-np.mean(y * np.log(p) + (1 - y) * np.log(1 - p))), "ece": float(ece), "bins": table}
