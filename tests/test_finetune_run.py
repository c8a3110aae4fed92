"""core.finetune_run: the app's side of `python -m training finetune` (no Qt, no torch)."""

from __future__ import annotations

import datetime as dt
import json
import math
import shlex
import sys
from pathlib import Path

from bibtagger_gui.core import finetune_run as fr


def test_progress_lines_round_trip_and_human_lines_are_not_progress():
    line = fr.progress_json("reader", 3, 450)
    assert fr.parse_progress(line) == fr.Progress("reader", 3, 450)
    for human in ("/tmp/race: 6 reviewed photos, 6 bibs", "{not json}", '{"stage": "reader"}', "", "done: {'best': 1}"):
        assert fr.parse_progress(human) is None
    lines = ["/tmp/race: 6 reviewed photos", line, "fine-tuning failed (RuntimeError: x); nothing written", line, "  "]
    assert fr.last_error_line(lines) == "fine-tuning failed (RuntimeError: x); nothing written"
    assert "without a message" in fr.last_error_line([line])


def test_material_counts_what_finetune_reads_and_the_rule_is_finetunes():
    items = [{"image": "a.jpg", "bibs": [{"number": "1", "box": [0, 0, 5, 5]}, {"number": "2", "box": None}]},
             {"image": "b.jpg", "bibs": []}]
    m = fr.material_of(items)
    assert (m.photos, m.boxed_bibs, m.bibs) == (2, 1, 2) and m.enough
    assert "+1 without a box" in m.describe()
    assert not fr.material_of(items[1:]).enough and fr.too_few(fr.MIN_BOXED_BIBS - 1)


def test_the_output_folder_is_new_and_under_the_user_data_dir(tmp_path):
    now = dt.datetime(2026, 11, 27, 14, 5, 9)
    photos = tmp_path / "photos" / "Race: 10k?"
    out = fr.output_folder(photos, now, data_dir=tmp_path / "data")
    assert out == tmp_path / "data" / "models" / "Race_ 10k_-20261127-140509"
    out.mkdir(parents=True)
    second = fr.output_folder(photos, now, data_dir=tmp_path / "data")
    assert second.name.endswith("-2")
    Path(f"{second}.partial-123").mkdir()  # a run still building it
    assert fr.output_folder(photos, now, data_dir=tmp_path / "data").name.endswith("-3")
    assert fr.partial_folders(second) == [Path(f"{second}.partial-123")] and fr.partial_folders(second, 7) == []


def test_unavailable_names_the_missing_module_or_the_packaged_app():
    assert fr.unavailable_reason(("json",), frozen=False) is None
    said = fr.unavailable_reason(("json", "no_such_module_for_bibtagger"), frozen=False)
    assert "no_such_module_for_bibtagger" in said and fr.INSTALL_COMMAND in said
    assert "packaged app" in fr.unavailable_reason(("json",), frozen=True)
    assert fr.missing_modules(["no_such_pkg.sub"]) == ["no_such_pkg.sub"]  # a missing parent is no crash


def test_the_command_lines_quote_for_the_shell():
    argv = fr.finetune_command("py", Path("/p/my race"), Path("/m"), Path("/o"), ["--epochs", "1"])
    assert argv == ["py", "-m", "training", "finetune", "--from", "/p/my race", "--models", "/m", "--out", "/o",
                    "--progress-json", "--epochs", "1"]
    assert fr.shell_line(argv[:6], windows=False).endswith("--from '/p/my race'")
    assert fr.shell_line(argv[:6], windows=True).endswith('--from "/p/my race"')


def write_report(folder: Path, start, new: float, val_bibs: int, detector: dict | None = None) -> Path:
    folder.mkdir()
    reader = {"version": "reader-x-ft", "best_val_accuracy": new, "val_bibs": val_bibs, "train_photos": 8, "val_photos": 2,
              "data": {"reviewed": {"train_photos": 5, "val_photos": 1}, "dev": {"train_photos": 3, "val_photos": 1}}}
    if start is not None:
        reader["init_val_accuracy"] = start
    (folder / "finetune.json").write_text(json.dumps({"reader": reader, "detector": detector or {"finetuned": False, "reason": "r"},
                                                      "calibration": {"calibrated": True}}))
    return folder


def test_the_result_compares_the_new_reader_with_the_start_one(tmp_path):
    r = fr.read_result(write_report(tmp_path / "a", 0.5, 0.75, 4))
    assert r.verdict() == "better" and r.dev_photos == (3, 1)
    text = "\n".join(r.lines())
    assert "current 50.0% (2/4) → new 75.0% (3/4)" in text and "5 reviewed photo(s) + 3 dev-set photo(s)" in text
    assert fr.read_result(write_report(tmp_path / "b", 0.75, 0.5, 4)).verdict() == "worse"
    assert "advised" in "\n".join(fr.read_result(tmp_path / "b").lines())
    assert fr.read_result(write_report(tmp_path / "c", None, 0.5, 4)).verdict() == "unknown"
    none = fr.read_result(write_report(tmp_path / "d", math.nan, math.nan, 0, {"finetuned": True, "val_metrics": {}}))
    assert none.verdict() == "unknown" and "not measured" in "\n".join(none.lines())
    assert "too few photos held out" in none.detector
    try:
        fr.read_result(tmp_path / "missing")
    except ValueError as exc:
        assert "finetune.json" in str(exc)
    else:
        raise AssertionError("a folder without finetune.json must be refused")


def test_the_advice_follows_the_end_to_end_f1_not_the_crop_accuracy(tmp_path):
    from bibtagger_gui.core.evaluation import PRF

    def with_e2e(folder: Path, e2e: dict) -> Path:
        data = json.loads((folder / "finetune.json").read_text())
        data.update(end_to_end=e2e, readers=[data["reader"], data["reader"]], int8={"int8": True})
        (folder / "finetune.json").write_text(json.dumps(data))
        return folder

    start, new = PRF(3, 2, 1), PRF(4, 0, 0)  # the new models find more bibs ...
    folder = with_e2e(write_report(tmp_path / "a", 0.75, 0.5, 4), {  # ... though the first reader reads fewer crops
        "measured": True, "photos": 5, "start": {"image_level": start.to_json()}, "new": {"image_level": new.to_json()}})
    r = fr.read_result(folder)
    assert r.compared and r.readers == 2 and r.int8 and r.verdict() == "better"
    text = "\n".join(r.lines())
    assert f"current models: F1 {start.f1:.3f} (precision {start.precision:.3f}, recall {start.recall:.3f}; 3 right, 2 wrong, 1 missed)" in text
    assert f"new models: F1 {new.f1:.3f}" in text and "5 held-out photo(s)" in text and "advised" not in text
    assert "First reader alone, held-out bib crops read exactly: current 75.0% (3/4) → new 50.0% (2/4)" in text
    assert "2 readers voting (an ensemble), int8" in text
    worse = with_e2e(write_report(tmp_path / "b", 0.5, 0.75, 4), {
        "measured": True, "photos": 5, "start": {"image_level": new.to_json()}, "new": {"image_level": start.to_json()}})
    assert fr.read_result(worse).verdict() == "worse" and "advised" in "\n".join(fr.read_result(worse).lines())
    none = with_e2e(write_report(tmp_path / "c", 0.5, 0.75, 4), {"measured": False, "reason": "the new folder has no detector"})
    r = fr.read_result(none)
    assert r.verdict() == "unknown" and "Not compared end to end: the new folder has no detector." in "\n".join(r.lines())



def test_the_result_says_which_start_parts_the_new_folder_kept(tmp_path):
    """finetune --keep-start auto: a folder that kept every start part says it holds the current models and no
    'as well' line; one that kept the detector only names it; an older finetune.json (no choice) names none."""
    from bibtagger_gui.core.evaluation import PRF

    def with_choice(folder: Path, detector: str, readers: str, finetuned: bool = True) -> Path:
        data = json.loads((folder / "finetune.json").read_text())
        same = PRF(4, 1, 0).to_json()
        data.update(end_to_end={"measured": True, "photos": 5, "start": {"image_level": same}, "new": {"image_level": same}},
                    choice={"policy": "auto", "detector": detector, "readers": readers, "reason": "F1 on 2 photos",
                            "start_reader_versions": ["reader-start", "reader-2-start", "reader-3-start"]},
                    detector={"finetuned": finetuned, "val_metrics": {"ap50": 0.8}, "start_val_metrics": {"ap50": 0.9}})
        (folder / "finetune.json").write_text(json.dumps(data))
        return folder

    folder = with_choice(write_report(tmp_path / "a", 0.5, 0.5, 4), "start", "start")
    data = json.loads((folder / "finetune.json").read_text())
    data["calibration"] = {"calibrated": True, "start": True}  # finetune copies the start's calibration.json then
    (folder / "finetune.json").write_text(json.dumps(data))
    both = fr.read_result(folder)
    text = "\n".join(both.lines())
    assert "calibrated as the current models'" in text and "on the reviewed photos" not in text
    assert both.kept == ("detector", "readers") and both.current_only
    assert "holds the current models" in text and "(F1 on 2 photos)" in text and "do as well" not in text
    assert both.reader_version == "reader-start" and both.readers == 3  # the folder's readers, not the fine-tuned one
    det = fr.read_result(with_choice(write_report(tmp_path / "b", 0.5, 0.5, 4), "start", "new"))
    text = "\n".join(det.lines())
    assert det.kept == ("detector",) and not det.current_only and "keeps the current detector" in text
    assert det.reader_version == "reader-x-ft"
    # a detector that was not fine-tuned is no kept part: the folder holds the current models all the same
    copied = fr.read_result(with_choice(write_report(tmp_path / "c", 0.5, 0.5, 4), "start", "start", finetuned=False))
    assert copied.kept == ("readers",) and copied.current_only
    old = fr.read_result(write_report(tmp_path / "d", 0.5, 0.75, 4))
    assert old.kept == () and not old.current_only and "current models" not in "\n".join(old.lines()[:1])


def test_stage_labels_and_the_readers_a_finetune_trains(tmp_path):
    assert fr.stage_label("reader-2") == "training reader 2" and fr.stage_label("reader") == "training reader 1"
    assert fr.stage_label("compare") == fr.STAGE_LABELS["compare"] and fr.stage_label("other") == "other"
    for name in ("reader.onnx", "reader.pt", "reader-2.onnx", "reader-2.pt", "reader-3.onnx", "reader-4.pt"):
        (tmp_path / name).write_bytes(b"")
    # reader-3 has no checkpoint to train from; reader-4.pt is no ensemble member (no reader-4.onnx)
    assert fr.reader_members(tmp_path) == (["reader", "reader-2"], ["reader-3"])


def test_a_malformed_finetune_json_is_a_value_error_naming_the_file(tmp_path):
    """The app shows read_result's ValueError as the run's failure; any other exception escaped to the error dialog."""
    reader = {"version": "v", "best_val_accuracy": 0.5}
    for k, data in enumerate([[], {"reader": []}, {"reader": reader, "detector": "kept"}, {"reader": reader, "end_to_end": []},
                              {"reader": reader, "detector": {"finetuned": True, "val_metrics": {"ap50": "high"}, "start_val_metrics": {"ap50": 0.9}}},
                              {"reader": reader, "calibration": None}, {"reader": dict(reader, data=["dev"])}]):
        folder = tmp_path / str(k)
        folder.mkdir()
        (folder / "finetune.json").write_text(json.dumps(data))
        try:
            fr.read_result(folder)
        except ValueError as exc:
            assert "finetune.json" in str(exc), data
        else:
            raise AssertionError(f"{data} must be refused")


def test_the_detector_line_sets_the_new_detector_against_the_current_one(tmp_path):
    """The detector's F1 at its box score alone (0.64 for the shipped one too: the readers drop its extra boxes) read
    as a poor detector beside the end-to-end F1; the line gives the box AP50 of both detectors on the same photos."""
    new = {"ap50": 0.989, "precision": 0.474, "recall": 1.0, "f1": 0.643, "threshold": 0.3}
    start = {"ap50": 0.9712, "precision": 0.5, "recall": 1.0, "f1": 0.667, "threshold": 0.3}
    both = fr.read_result(write_report(tmp_path / "a", 0.5, 0.5, 4, {"finetuned": True, "val_metrics": new,
                                                                     "start_val_metrics": start}))
    assert both.detector == f"Detector fine-tuned: bibs boxed on the held-out photos (AP50), current {start['ap50']:.3f} → new {new['ap50']:.3f}."
    assert "0.643" not in both.detector and both.detector in both.lines()
    older = fr.read_result(write_report(tmp_path / "b", 0.5, 0.5, 4, {"finetuned": True, "val_metrics": new}))
    assert older.detector == f"Detector fine-tuned: bibs boxed on the held-out photos (AP50) {new['ap50']:.3f}."


def _packaged_app(monkeypatch, tmp_path) -> Path:
    """Simulate the packaged app: sys.frozen, and sys.executable the app itself (not a Python)."""
    exe = tmp_path / "dist" / "bibtagger" / "bibtagger"
    exe.parent.mkdir(parents=True)
    exe.write_text("#!/bin/sh\nexit 3\n", encoding="utf-8")
    monkeypatch.setattr(sys, "frozen", True, raising=False)
    monkeypatch.setattr(sys, "executable", str(exe))
    return exe


def test_the_packaged_apps_commands_name_a_python_the_source_and_models_it_can_start_from(monkeypatch, tmp_path, capsys):
    """The packaged app showed `pip install -e ".[train]"` (from which folder?) and `--models` at its own bundled
    models, which are ONNX only: the command it offered stopped at "reader.pt not found"."""
    exe = _packaged_app(monkeypatch, tmp_path)
    monkeypatch.setattr(sys, "platform", "linux")  # POSIX quoting, read back with shlex
    bundled = exe.parent / "_internal" / "resources" / "models"  # what the frozen recognizer uses: no .pt there
    bundled.mkdir(parents=True)
    (bundled / "reader.onnx").write_bytes(b"onnx")
    photos, out = tmp_path / "my race", tmp_path / "data" / "models" / "race-1"
    assert fr.is_frozen() and fr.source_root() is None
    install, finetune = fr.setup_lines(photos, bundled, out)
    assert str(exe) not in install + finetune and "_internal" not in finetune
    assert install == f"cd {fr.SOURCE_PLACEHOLDER} && python -m {fr.INSTALL_COMMAND}"
    argv = shlex.split(finetune)
    assert argv[:4] == ["python", "-m", "training", "finetune"] and "--models" not in argv
    notes = " ".join(fr.setup_notes(bundled))
    assert fr.SOURCE_PLACEHOLDER in notes and "no reader.pt" in notes and str(bundled) in notes
    # the command as a source checkout runs it: past the start models' check (stops at the empty folder instead)
    from training.finetune import main as finetune_main

    photos.mkdir()
    capsys.readouterr()
    assert finetune_main([a if a != str(out) else str(tmp_path / "o") for a in argv[4:]]) == 2
    said = capsys.readouterr().out
    assert "reader.pt not found" not in said and fr.TOO_FEW in said
    # a model folder with its checkpoints (one made by an earlier fine-tune) is kept as the start
    (bundled / "reader.pt").write_bytes(b"pt")
    argv = shlex.split(fr.setup_lines(photos, bundled, out)[1])
    assert argv[argv.index("--models") + 1] == str(bundled) and "reader.pt" not in " ".join(fr.setup_notes(bundled))


def test_from_a_source_checkout_the_commands_use_it_and_this_python(monkeypatch):
    monkeypatch.delattr(sys, "frozen", raising=False)
    monkeypatch.setattr(sys, "platform", "linux")
    root = fr.source_root()
    assert root is not None and (root / "pyproject.toml").is_file()
    models = root / "resources" / "models"
    install, finetune = fr.setup_lines(Path("/p"), models, Path("/o"))
    assert shlex.join([str(root)]) in install and shlex.join([sys.executable]) in install
    assert fr.SOURCE_PLACEHOLDER not in install and fr.setup_notes(models) == []
    assert shlex.split(finetune)[0] == sys.executable and "--models" in finetune
