"""`python -m training calibrate`: fit the confidence calibration of a detector + reader pair.

Runs the app's Recognizer (raw scores, no threshold) on the dev **train** split, marks every
reading right when its number is a bib of that photo (labels plus the label audit's legible
additions, so a legible bib the annotations miss is not a "wrong" reading), fits
``core.calibration.fit_platt`` and writes ``calibration.json`` beside the models. The val split
is only measured: reliability (Brier, log loss, ECE, per-bin table) before and after.
See docs/recognizer.md#confidence.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from bibtagger_gui.core.calibration import FILE_NAME, Calibration, fit_platt, reliability


def scored_readings(recognizer, entries) -> tuple[np.ndarray, np.ndarray]:
    """(raw scores, 1 = right) of every reading `recognizer` makes on `entries`' photos.

    `recognizer` must report raw scores with no threshold (``calibration=False, min_confidence=0``).
    A photo that cannot be read is reported on stderr and skipped.
    """
    scores, right = [], []
    for e in entries:
        try:
            bibs = recognizer.recognize_path(e.path)
        except Exception as exc:  # ImageError, OSError: report, go on
            print(f"{e.path}: {exc}", file=sys.stderr)
            continue
        truth = {b.number for b in e.bibs}
        for b in bibs:
            scores.append(b.confidence or 0.0)
            right.append(int(b.number in truth))
    return np.array(scores, np.float64), np.array(right, np.int64)


def calibrate_models(models: Path, fit_entries, check_entries=(), threads: int = 1, fitted_on: str = "") -> tuple[Calibration, dict]:
    """Fit a Calibration for the models in `models` on `fit_entries`; measure it on `check_entries`.

    Returns (calibration, report). Raises ValueError when the readings are all right or all wrong.
    """
    from bibtagger_gui.core.recognizer import DEFAULT_MIN_SCORE, Recognizer

    rec = Recognizer.from_dir(models, threads=threads, min_confidence=0.0, calibration=False)
    raw, right = scored_readings(rec, fit_entries)
    slope, intercept = fit_platt(raw, right)
    cal = Calibration(slope, intercept, rec.detector.version, rec.reader_version, int(len(raw)), fitted_on)
    report = {"detector_version": cal.detector_version, "reader_version": cal.reader_version,
              "slope": slope, "intercept": intercept, "fit": {}, "check": {}}
    parts = {"fit": (raw, right)}
    if check_entries:
        parts["check"] = scored_readings(rec, check_entries)
    for name, (s, y) in parts.items():
        if len(s):
            report[name] = {"raw": reliability(s, y), "calibrated": reliability([cal(v) for v in s], y)}
    report["default_min_confidence"] = {"raw": DEFAULT_MIN_SCORE, "calibrated": round(cal(DEFAULT_MIN_SCORE), 4)}
    return cal, report


def format_report(report: dict) -> str:
    lines = [f"calibration for detector {report['detector_version']} + reader {report['reader_version']}: "
             f"p = sigmoid({report['slope']:.3f} * logit(raw) + {report['intercept']:.3f})"]
    for name, title in (("fit", "fitted on"), ("check", "checked on")):
        part = report.get(name)
        if not part:
            continue
        r, c = part["raw"], part["calibrated"]
        lines.append(f"{title} {r['n']} readings: Brier {r['brier']:.3f} -> {c['brier']:.3f}, "
                     f"log loss {r['log_loss']:.3f} -> {c['log_loss']:.3f}, ECE {r['ece']:.3f} -> {c['ece']:.3f}")
        for row in c["bins"]:
            lines.append(f"  calibrated {row['from']:.1f}-{row['to']:.1f}: {row['n']:3d} readings, "
                         f"mean confidence {row['mean_confidence']:.2f}, right {row['correct']:.2f}")
    d = report["default_min_confidence"]
    lines.append(f"default min_confidence: raw {d['raw']} = calibrated {d['calibrated']}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    from training.data import DEFAULT_DEV, audited, label_audit_path, load_entries, split

    p = argparse.ArgumentParser(prog="python -m training calibrate", description=__doc__.splitlines()[0])
    p.add_argument("--annotations", type=Path, default=DEFAULT_DEV / "annotations.json")
    p.add_argument("--models", type=Path, default=Path("resources/models"), help="folder with detector.onnx and reader.onnx")
    p.add_argument("--label-audit", default="auto", metavar="JSON",
                   help="legible bibs the annotations miss ('auto' = training/label_audit.json for rbnr_dev, 'none')")
    p.add_argument("--out", type=Path, help=f"calibration file (default: MODELS/{FILE_NAME})")
    p.add_argument("--report", type=Path, help="also write the report as JSON here")
    p.add_argument("--threads", type=int, default=1)
    args = p.parse_args(argv)
    if not args.annotations.is_file():
        print(f"annotations not found: {args.annotations}", file=sys.stderr)
        return 2
    from bibtagger_gui.core.recognizer import ModelError

    train, val = split(load_entries(args.annotations))
    audit = label_audit_path(args.label_audit, args.annotations)
    if audit is not None:
        train, val = audited(train, audit), audited(val, audit)
    fitted_on = f"{args.annotations.parent.name} train split, {len(train)} photos" + (", label audit" if audit else "")
    try:
        cal, report = calibrate_models(args.models, train, val, args.threads, fitted_on)
    except ModelError as exc:
        print(exc, file=sys.stderr)
        return 2
    except ValueError as exc:
        print(f"cannot calibrate: {exc}", file=sys.stderr)
        return 1
    out = args.out or args.models / FILE_NAME
    cal.save(out)
    print(format_report(report))
    print(f"wrote {out}")
    if args.report:
        args.report.write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
