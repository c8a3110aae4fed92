"""`python -m training finetune`: versions, the output folder (never half-written, never overwritten unasked),
clear one-line errors, and honest model cards."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import onnx
import pytest

torch = pytest.importorskip("torch")

from tests.test_training_reader import base_reader_models, reviewed_photo_set  # noqa: E402

pytestmark = pytest.mark.usefixtures("one_torch_thread")

TINY_RUN = ["--epochs", "1", "--steps", "1", "--batch", "4", "--synthetic", "20", "--dev", "", "--threads", "1"]


def finetune(photos: Path, models: Path, out: Path, *extra: str) -> int:
    from training.finetune import main as finetune_main

    # --keep-start never: these tests look at the fine-tuned files (an `extra` --keep-start auto comes later and wins)
    return finetune_main(["--from", str(photos), "--models", str(models), "--out", str(out), *TINY_RUN,
                          "--keep-start", "never", *extra])


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
    # the slim checkpoint the next fine-tune starts from holds the float weights the int8 reader.onnx was made
    # from, under their version (as the shipped reader.pt does: tests/test_quantize.py)
    assert torch.load(tmp_path / "b" / "reader.pt", weights_only=False)["version"] + "-int8" == vb


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


def snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def leftovers(parent: Path) -> list[str]:
    return sorted(p.name for p in parent.iterdir() if ".partial-" in p.name)


def test_an_out_that_is_the_models_folder_or_holds_models_is_refused(tmp_path, setup, capsys):
    photos, models = setup
    before = snapshot(models)
    assert finetune(photos, models, models, "--skip-detector") == 2
    said = capsys.readouterr().out
    assert "--models folder" in said and "--overwrite" in said and "Traceback" not in said
    assert snapshot(models) == before
    other = tmp_path / "other"
    assert finetune(photos, models, tmp_path / "first", "--skip-detector") == 0
    first = snapshot(tmp_path / "first")
    capsys.readouterr()
    assert finetune(photos, models, tmp_path / "first", "--skip-detector", "--lr", "1e-2") == 2
    assert "already holds models" in capsys.readouterr().out
    assert snapshot(tmp_path / "first") == first
    other.mkdir()
    (other / "notes.txt").write_text("mine")
    assert finetune(photos, models, other, "--skip-detector") == 2
    assert "is not empty" in capsys.readouterr().out and snapshot(other) == {"notes.txt": b"mine"}
    (tmp_path / "empty").mkdir()  # an empty folder is fine
    assert finetune(photos, models, tmp_path / "empty", "--skip-detector") == 0
    assert (tmp_path / "empty" / "reader.onnx").is_file() and leftovers(tmp_path) == []


def test_overwrite_moves_the_old_folder_aside_and_leaves_no_stale_file(tmp_path, setup, capsys):
    photos, models = setup
    out = tmp_path / "out"
    out.mkdir()
    (out / "detector.pt").write_bytes(b"an earlier fine-tuned detector")
    (out / "calibration.json").write_text("{}")
    (out / "reader-2.onnx").write_bytes(b"an old ensemble member")
    old = snapshot(out)
    assert finetune(photos, models, out, "--skip-detector", "--overwrite") == 0
    said = capsys.readouterr().out
    backups = sorted(tmp_path.glob("out.previous-*"))
    assert len(backups) == 1 and snapshot(backups[0]) == old and str(backups[0]) in said
    names = {p.name for p in out.iterdir()}
    assert {"reader.onnx", "reader.pt", "reader.md", "detector.onnx", "finetune.json"} <= names
    assert not names & {"detector.pt", "calibration.json", "reader-2.onnx"}  # models has no detector.pt to copy
    report = (out / "finetune.json").read_text()
    assert ".partial-" not in report and str(out / "reader.onnx") in json.loads(report)["reader"]["onnx"]
    assert leftovers(tmp_path) == []


def test_overwrite_of_the_models_folder_keeps_the_start_model(tmp_path, setup):
    from bibtagger_gui.core.recognizer import Recognizer

    photos, models = setup
    before = snapshot(models)
    assert finetune(photos, models, models, "--skip-detector", "--overwrite") == 0
    backups = sorted(tmp_path.glob("models.previous-*"))
    assert len(backups) == 1 and snapshot(backups[0]) == before  # reader.pt the next fine-tune could start from
    assert "-ft-" in Recognizer.from_dir(models).version
    assert (models / "reader.pt").read_bytes() != before["reader.pt"]


def test_the_detector_checkpoint_is_copied_with_the_detector_it_belongs_to(tmp_path, setup):
    photos, models = setup
    (models / "detector.pt").write_bytes(b"checkpoint of detector.onnx")
    assert finetune(photos, models, tmp_path / "out", "--skip-detector") == 0
    assert (tmp_path / "out" / "detector.pt").read_bytes() == b"checkpoint of detector.onnx"
    assert (tmp_path / "out" / "detector.onnx").read_bytes() == (models / "detector.onnx").read_bytes()


@pytest.mark.parametrize("overwrite", [False, True])
@pytest.mark.parametrize("error, rc", [(KeyboardInterrupt, 130), (RuntimeError("disk gone"), 1)])
def test_an_interrupted_or_failed_run_leaves_out_as_it_was(tmp_path, setup, monkeypatch, capsys, error, rc, overwrite):
    import training.finetune as ft

    photos, models = setup
    out = tmp_path / "out"
    if overwrite:
        assert finetune(photos, models, out, "--skip-detector") == 0
    before = snapshot(out) if out.exists() else None

    def stop(*args, **kwargs):  # after the new reader is written, before the detector
        raise error

    monkeypatch.setattr(ft, "finetune_detector", stop)
    capsys.readouterr()
    assert finetune(photos, models, out, "--skip-detector", *(["--overwrite"] if overwrite else [])) == rc
    said = capsys.readouterr().out.strip().splitlines()
    assert "left as it was" in said[-1] and "Traceback" not in "\n".join(said)
    assert (snapshot(out) if out.exists() else None) == before
    assert leftovers(tmp_path) == [] and not list(tmp_path.glob("out.previous-*"))


def test_an_out_that_is_a_file_is_refused_clearly(tmp_path, setup, capsys):
    photos, models = setup
    (tmp_path / "out").write_text("not a folder")
    assert finetune(photos, models, tmp_path / "out") == 2
    said = capsys.readouterr().out
    assert "is a file, not a folder" in said and "Traceback" not in said
    assert (tmp_path / "out").read_text() == "not a folder" and leftovers(tmp_path) == []


def test_an_out_that_cannot_be_written_is_reported_and_nothing_is_left(tmp_path, setup, monkeypatch, capsys):
    """A read-only parent folder (simulated: the tests may run as root, who may write anywhere)."""
    photos, models = setup
    locked = tmp_path / "locked"
    locked.mkdir()
    real_mkdir = Path.mkdir

    def mkdir(self, *args, **kwargs):
        if locked in Path(self).absolute().parents:
            raise PermissionError(13, "Permission denied", str(self))
        return real_mkdir(self, *args, **kwargs)

    monkeypatch.setattr(Path, "mkdir", mkdir)
    assert finetune(photos, models, locked / "new" / "out", "--skip-detector") == 2
    said = capsys.readouterr().out
    assert "cannot write the model folder" in said and "Permission denied" in said and "Traceback" not in said
    assert list(locked.iterdir()) == []


def test_a_models_folder_without_reader_pt_leaves_nothing_behind(tmp_path, setup, capsys):
    photos, models = setup
    (models / "reader.pt").unlink()
    assert finetune(photos, models, tmp_path / "new" / "out") == 2
    assert "reader.pt not found" in capsys.readouterr().out
    assert not (tmp_path / "new").exists()


def test_missing_torch_is_one_line_naming_the_extra(tmp_path, setup, monkeypatch, capsys):
    import sys

    photos, models = setup
    monkeypatch.setitem(sys.modules, "torch", None)  # `import torch` now fails as if it were not installed
    for name in [m for m in sys.modules if m.startswith("training.") and m not in ("training.data", "training.finetune")]:
        monkeypatch.delitem(sys.modules, name)
    assert finetune(photos, models, tmp_path / "out") == 2
    said = capsys.readouterr().out
    assert "pip install -e .[train]" in said and len(said.strip().splitlines()) <= 2  # the folder's count line + this
    assert not (tmp_path / "out").exists() and leftovers(tmp_path) == []

    from training.__main__ import main as training_main

    assert training_main(["train-reader", "--help"]) == 2
    assert "train-reader needs torch, which is not installed: pip install -e .[train]" in capsys.readouterr().err


def test_a_folder_the_app_never_opened_gets_no_store(tmp_path, setup, capsys):
    from bibtagger_gui.core.store import db_path_for
    from tests.test_training_reader import make_photo_set

    _, models = setup
    fresh = tmp_path / "fresh"
    make_photo_set(fresh, 2)
    before = sorted(p.name for p in fresh.rglob("*"))
    assert finetune(fresh, models, tmp_path / "out") == 2
    said = capsys.readouterr().out
    assert "not a project folder yet" in said and "no reviewed photos" in said
    assert not db_path_for(fresh).exists() and sorted(p.name for p in fresh.rglob("*")) == before
    assert finetune(tmp_path / "missing", models, tmp_path / "out") == 2
    assert "no such folder" in capsys.readouterr().out and not (tmp_path / "missing").exists()


def test_the_reader_card_and_report_tell_reviewed_photos_from_dev_set_photos(tmp_path, setup):
    from tests.test_training_reader import make_photo_set
    from training.data import entries_from_store, load_entries, split

    photos, models = setup
    (tmp_path / "dev" / "annotations.json").parent.mkdir()
    items = make_photo_set(tmp_path / "dev", 10, seed=9)
    (tmp_path / "dev" / "annotations.json").write_text(json.dumps(items))
    own_train, own_val = split(entries_from_store(photos))
    dev_train, dev_val = split(load_entries(tmp_path / "dev" / "annotations.json"))
    assert own_train and dev_train  # the test needs photos of both kinds in training
    out = tmp_path / "out"
    assert finetune(photos, models, out, "--skip-detector", "--dev", str(tmp_path / "dev" / "annotations.json")) == 0
    data = json.loads((out / "finetune.json").read_text())["reader"]["data"]
    assert data["reviewed"] == {"train_photos": len(own_train), "train_bibs": len(own_train), "val_photos": len(own_val),
                                "val_bibs": len(own_val)}  # one bib per photo
    # its val photos are compared end to end only: never the readers' held-out crops
    assert data["dev"]["train_photos"] == len(dev_train) and data["dev"]["held_out_photos"] == len(dev_val)
    card = " ".join((out / "reader.md").read_text().split())
    assert f"{len(own_train) + len(dev_train)} train photos: {len(own_train)} reviewed photos of {photos}" in card
    assert f"+ {len(dev_train)} photos of the dev set `{tmp_path / 'dev' / 'annotations.json'}`" in card
    assert f"held out: {len(own_val)} reviewed photos ({len(own_val)} bibs); on their {len(own_val)} ground-truth crops" in card
    assert version_of(out / "reader.onnx") in card


def test_dev_set_photos_that_are_reviewed_photos_are_used_once(tmp_path, setup, capsys):
    """A developer's reviewed folder copied from the dev set: the same pictures under other relpaths (another hash
    split) were trained on and held out twice, a reviewed val photo could be a dev train photo, and the cards
    counted them twice; each is now used once, as the reviewed photo."""
    import shutil

    from tests.test_training_reader import make_photo_set
    from training.data import entries_from_store, load_entries, split

    photos, models = setup
    dev = tmp_path / "dev" / "annotations.json"
    own = make_photo_set(dev.parent, 4, seed=9)  # the dev set's own photos
    copies = []
    for e in entries_from_store(photos):  # + every reviewed photo, copied under another name
        shutil.copyfile(e.path, dev.parent / f"copy_{e.image}")
        copies.append({"image": f"copy_{e.image}", "width": e.width, "height": e.height,
                       "bibs": [{"number": b.number, "box": list(b.box)} for b in e.bibs]})
    dev.write_text(json.dumps(own + copies))
    own_train, own_val = split(entries_from_store(photos))
    dev_train, dev_val = split([e for e in load_entries(dev) if not e.image.startswith("copy_")])
    out = tmp_path / "out"
    assert finetune(photos, models, out, "--skip-detector", "--dev", str(dev)) == 0
    assert f"{len(copies)} of its photos are reviewed photos of these folders" in capsys.readouterr().out
    report = json.loads((out / "finetune.json").read_text())
    data = report["reader"]["data"]
    assert data["dev"]["train_photos"] == len(dev_train) and data["dev"]["held_out_photos"] == len(dev_val)
    assert report["reader"]["train_photos"] == len(own_train) + len(dev_train)
    assert report["end_to_end"]["by_source"] == {"reviewed": len(own_val), "dev": len(dev_val)}


@pytest.mark.slow
def test_the_finetuned_detector_card_has_its_version_and_val_metric(tmp_path, setup):
    from training.data import entries_from_store, split
    from training.models.detector import build_detector

    photos, models = setup
    torch.save({"model": build_detector().state_dict(), "arch": {}, "input_size": 512, "data_hash": "x"}, models / "detector.pt")
    out = tmp_path / "out"
    assert finetune(photos, models, out, "--detector-epochs", "1", "--detector-steps", "1") == 0
    card = (out / "detector.md").read_text()
    version = version_of(out / "detector.onnx")
    report = json.loads((out / "finetune.json").read_text())["detector"]
    assert f"version: `{version}`" in card and report["version"] == version
    train, val = split(entries_from_store(photos))
    if not train:
        train, val = val, []
    assert report["data"]["reviewed"]["train_photos"] == len(train) and "no dev-set photos" in card
    if val:
        assert f"val AP50 {report['val_metrics']['ap50']:.3f}" in card and f"on {len(val)} reviewed photos" in card
        # the start detector on the same photos, by the same measure (what the app's line sets the new one against)
        from training.detector_data import load_photos
        from training.train_detector import evaluate, onnx_predictor

        from training.export import read_metadata

        frame = int(read_metadata(models / "detector.onnx")["bibtagger.input_size"].split(",")[0])  # fixed H/W: fed its frame
        want = evaluate(onnx_predictor(models / "detector.onnx", 1), load_photos(val), frame, report["val_metrics"]["threshold"])
        assert report["start_val_metrics"]["ap50"] == round(want["ap50"], 4)
        assert f"the start detector `{version_of(models / 'detector.onnx')}` on the same photos: AP50 {want['ap50']:.3f}" in card
    else:
        assert "not measured" in card


def test_a_new_run_removes_work_folders_killed_runs_left(tmp_path):
    """A killed finetune leaves OUT.partial-<pid>; the next run removes those of dead processes only."""
    import subprocess

    from training.finetune import make_work_dir

    out = tmp_path / "models [v2]"  # glob characters in the name are taken literally
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()  # a pid no process has now
    (tmp_path / f"{out.name}.partial-{dead.pid}").mkdir()
    (tmp_path / f"{out.name}.partial-{dead.pid}" / "reader.onnx").write_bytes(b"half")
    alive = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        (tmp_path / f"{out.name}.partial-{alive.pid}").mkdir()  # another finetune still running
        (tmp_path / "models [v2].partial-notapid").mkdir()
        work, _ = make_work_dir(out)
        left = sorted(p.name for p in tmp_path.iterdir())
    finally:
        alive.kill()
        alive.wait()
    assert left == sorted([work.name, f"{out.name}.partial-{alive.pid}", "models [v2].partial-notapid"])


def test_progress_json_adds_one_line_per_step_and_keeps_the_human_output(tmp_path, setup, capsys):
    from bibtagger_gui.core.finetune_run import parse_progress

    photos, models = setup
    assert finetune(photos, models, tmp_path / "plain", "--skip-detector", "--steps", "3") == 0
    plain = [ln for ln in capsys.readouterr().out.splitlines()]
    assert finetune(photos, models, tmp_path / "out", "--skip-detector", "--steps", "3", "--progress-json") == 0
    said = capsys.readouterr().out.splitlines()
    steps = [parse_progress(ln) for ln in said if parse_progress(ln) is not None]
    human = [ln for ln in said if parse_progress(ln) is None]
    assert not [ln for ln in plain if parse_progress(ln) is not None]  # without the option: none
    assert len(human) == len(plain)  # the human output is the same (lines with times and paths aside)
    reader = [(s.done, s.total) for s in steps if s.stage == "reader"]
    assert reader == [(1, 3), (2, 3), (3, 3)]  # --epochs 1 --steps 3
    assert [s.stage for s in steps][0] == "gather" and ("gather", 1, 1) in [(s.stage, s.done, s.total) for s in steps]
    # the synthetic render says so as it begins (the bar said "reading reviewed photos" through it) and as it goes
    synthetic = [(s.done, s.total) for s in steps if s.stage == "synthetic"]
    assert synthetic[0] == (0, 20) and synthetic[-1] == (20, 20)
    # the start reader is measured on the same val crops before the first step, for the app's comparison
    report = json.loads((tmp_path / "out" / "finetune.json").read_text())["reader"]
    assert 0 <= report["init_val_accuracy"] <= 1 and report["init_val_loss"] > 0
    assert f"the start reader `{models / 'reader.pt'}` on the same crops: accuracy {report['init_val_accuracy']:.4f}" in \
        " ".join((tmp_path / "out" / "reader.md").read_text().split())


# ---------------------------------------------------------------- the reader ensemble, int8, end to end


def start_ensemble(folder: Path, readers: int = 2) -> Path:
    """A models folder shaped like resources/models with `readers` members whose ONNX files read "12" in every
    crop (known readings for the comparison), each with the torch checkpoint (untrained) finetune starts from."""
    from tests.model_factory import make_constant_reader, make_trainable_models
    from training.models.reader import CHARSET

    models = make_trainable_models(folder, readers)
    for onnx_path in [models / "reader.onnx", *sorted(models.glob("reader-*.onnx"))]:
        make_constant_reader(onnx_path, "12", CHARSET, version=f"{onnx_path.stem}-constant")
    return models


def recognized(models: Path, entries) -> dict:
    """Image-level counts of the app's recognizer with `models` on `entries` (what finetune's comparison must say)."""
    from bibtagger_gui.core.annotations import PhotoAnnotation
    from bibtagger_gui.core.evaluation import evaluate
    from bibtagger_gui.core.recognizer import Recognizer

    rec = Recognizer.from_dir(models)
    truth = [PhotoAnnotation(str(e.path), e.width, e.height, list(e.bibs)) for e in entries]
    pred = [PhotoAnnotation(str(e.path), e.width, e.height, rec.recognize_path(e.path)) for e in entries]
    return evaluate(truth, pred).to_json()["image_level"]


def test_every_reader_of_the_ensemble_is_finetuned_made_int8_calibrated_and_compared_end_to_end(tmp_path, monkeypatch, capsys):
    import training.calibrate as calibrate_module
    from bibtagger_gui.core import finetune_run as fr
    from bibtagger_gui.core.calibration import Calibration
    from bibtagger_gui.core.recognizer import Recognizer
    from tests.test_quantize import _conv_weight_sources
    from tests.test_training_reader import make_photo_set
    from training.data import entries_from_store, load_entries, split
    from training.quantize import last_conv

    photos = reviewed_photo_set(tmp_path / "race", seed=6, number="12")
    models = start_ensemble(tmp_path / "models")
    dev = tmp_path / "dev" / "annotations.json"
    items = make_photo_set(dev.parent, 6, seed=1)
    dev.write_text(json.dumps([{**it, "bibs": [{**it["bibs"][0], "number": "12"}]} for it in items]))
    fitted = []

    def fit_platt(raw, right):  # the untrained new readers read nothing, so nothing to fit: a fixed map instead
        fitted.append(len(raw))
        return 1.5, 0.25

    monkeypatch.setattr(calibrate_module, "fit_platt", fit_platt)
    out = tmp_path / "out"
    assert finetune(photos, models, out, "--skip-detector", "--progress-json", "--dev", str(dev)) == 0
    stages = {fr.parse_progress(ln).stage for ln in capsys.readouterr().out.splitlines() if fr.parse_progress(ln)}
    assert {"reader", "reader-2", "quantize", "calibrate", "compare"} <= stages

    # a model folder of the shipped shape: both members under their names, each int8 beside its float weights
    names = {p.name for p in out.iterdir() if p.is_file()}
    assert {"detector.onnx", "calibration.json", "calibration.md", "finetune.json"} | \
        {f"{n}.{ext}" for n in ("reader", "reader-2") for ext in ("onnx", "pt", "md")} <= names
    report = json.loads((out / "finetune.json").read_text())
    assert [r["name"] for r in report["readers"]] == ["reader", "reader-2"] and report["reader"] == report["readers"][0]
    versions = []
    for name in ("reader", "reader-2"):
        from training.export import read_metadata

        meta = read_metadata(out / f"{name}.onnx")
        float_version = torch.load(out / f"{name}.pt", weights_only=False)["version"]
        assert meta["bibtagger.version"] == float_version + "-int8" and "-ft-" in float_version
        assert "MinMax on" in meta["bibtagger.int8"] and "fine-tune train photos" in meta["bibtagger.int8"]
        sources = _conv_weight_sources(out / f"{name}.onnx")
        assert sources.pop(last_conv(onnx.load(str(out / f"{name}.onnx")))) == "initializer"  # the last conv stays float
        assert sources and set(sources.values()) == {"DequantizeLinear"}  # every other conv reads int8 weights
        versions.append(meta["bibtagger.version"])
    assert len(set(versions)) == 2
    # calibration refitted for the new set: the recognizer of the folder takes it
    assert fitted and Calibration.load(out / "calibration.json").reader_version == ",".join(versions)
    # fitted on every reviewed photo: the card said all were trained on, the held-out ones too
    reviewed = entries_from_store(photos)
    held = len(split(reviewed)[1])
    assert held  # the test needs a held-out reviewed photo
    said = f"{len(reviewed)} reviewed photos ({len(reviewed) - held} trained on, {held} held out)"
    assert Calibration.load(out / "calibration.json").fitted_on == said and said in " ".join((out / "calibration.md").read_text().split())
    rec = Recognizer.from_dir(out)
    assert rec.calibration is not None and rec.reader_version == ",".join(versions) and "2 readers int8" in rec.label

    # end to end: the app's recognizer with each folder on the reviewed val photos + the dev val photos
    own_val = split(entries_from_store(photos))[1]
    dev_val = split(load_entries(dev))[1]
    e2e = report["end_to_end"]
    assert e2e["measured"] and e2e["photos"] == len(own_val) + len(dev_val)
    assert e2e["by_source"] == {"reviewed": len(own_val), "dev": len(dev_val)}
    for key, folder in (("start", models), ("new", out)):
        want = recognized(folder, own_val + dev_val)
        assert e2e[key]["image_level"] == want and e2e[key]["readers"] == 2, key
        assert e2e[key]["per_source"]["reviewed"]["tp"] == recognized(folder, own_val)["tp"]
    assert e2e["start"]["image_level"]["tp"] > 0  # the start readers read "12": the numbers are not all zero
    assert e2e["start"]["version"] == Recognizer.from_dir(models).version
    result = fr.read_result(out)
    s, n = e2e["start"]["image_level"], e2e["new"]["image_level"]
    assert result.compared and result.readers == 2 and result.int8
    assert result.verdict() == ("better" if n["f1"] > s["f1"] else "worse" if n["f1"] < s["f1"] else "same")
    for name in ("reader", "reader-2"):
        card = " ".join((out / f"{name}.md").read_text().split())
        assert f"on the {e2e['photos']} held-out photos ({len(own_val)} reviewed, {len(dev_val)} dev)" in card
        assert f"the start folder `{models}` P {s['precision']:.3f} / R {s['recall']:.3f} / F1 {s['f1']:.3f}" in card
        assert f"this folder P {n['precision']:.3f} / R {n['recall']:.3f} / F1 {n['f1']:.3f}" in card
        assert "int8 copy of the float export" in card and "one of the 2 readers" in card


def test_readers_option_and_members_without_checkpoint_and_no_int8(tmp_path, capsys):
    from bibtagger_gui.core import finetune_run as fr
    from training.export import read_metadata

    photos = reviewed_photo_set(tmp_path / "race", seed=4)
    models = start_ensemble(tmp_path / "models", readers=3)
    (models / "reader-3.pt").unlink()  # an ensemble member without its torch checkpoint cannot be fine-tuned
    assert fr.reader_members(models) == (["reader", "reader-2"], ["reader-3"])
    assert finetune(photos, models, tmp_path / "zero", "--readers", "0") == 2
    assert "--readers 0" in capsys.readouterr().out and not (tmp_path / "zero").exists()
    out = tmp_path / "one"
    assert finetune(photos, models, out, "--skip-detector", "--readers", "1", "--no-int8") == 0
    said = capsys.readouterr().out
    assert "reader-3.pt" in said and "left out" in said
    assert sorted(p.name for p in out.glob("reader*.onnx")) == ["reader.onnx"]  # the first reader only
    report = json.loads((out / "finetune.json").read_text())
    assert sorted(report["readers_left_out"]) == ["reader-2", "reader-3"] and len(report["readers"]) == 1
    assert report["int8"] == {"int8": False, "reason": "--no-int8 given"} and "bibtagger.int8" not in read_metadata(out / "reader.onnx")
    assert report["end_to_end"]["new"]["readers"] == 1 and report["end_to_end"]["start"]["readers"] == 3
    assert fr.read_result(out).readers == 1 and not fr.read_result(out).int8


@pytest.mark.slow
@pytest.mark.skipif(sys.platform == "win32", reason="no SIGINT for a child on Windows (the app kills it)")
def test_sigint_stops_a_run_started_with_sigint_ignored(tmp_path, setup):
    """An app started in the background passes SIGINT ignored to its children: its Stop then waited 20 s for the
    kill, and finetune never removed its work folder itself. finetune now honours SIGINT anyway."""
    import signal
    import subprocess
    import time

    photos, models = setup
    out = tmp_path / "out"
    argv = [sys.executable, "-m", "training", "finetune", "--from", str(photos), "--models", str(models), "--out", str(out),
            "--progress-json", "--skip-detector", *TINY_RUN, "--steps", "100000"]
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=Path(__file__).parents[1],
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN))
    try:
        for line in proc.stdout:  # training: the work folder exists
            if '"stage": "reader"' in line:
                break
        proc.send_signal(signal.SIGINT)
        t = time.monotonic()
        rest = proc.communicate(timeout=60)[0]
    finally:
        proc.kill()
    assert proc.returncode == 130 and time.monotonic() - t < 15, rest[-500:]
    assert "interrupted: nothing written" in rest and not out.exists() and not list(tmp_path.glob("out.partial-*"))


def test_the_start_models_are_kept_when_the_finetuned_ones_do_no_better_on_the_held_out_reviewed_photos(tmp_path, capsys):
    """--keep-start auto (the default): the start readers read every held-out reviewed photo right, the barely
    trained ones do not, so the new folder holds the start readers (their files, cards noting why, their
    calibration) and the fine-tuned ones lie under runs/not-used; the app's result says so."""
    from bibtagger_gui.core import finetune_run as fr
    from bibtagger_gui.core.recognizer import Recognizer
    from training.data import entries_from_store, split

    photos = reviewed_photo_set(tmp_path / "race", seed=6, number="12")
    models = start_ensemble(tmp_path / "models")
    assert split(entries_from_store(photos))[1]  # the test needs a held-out reviewed photo
    out = tmp_path / "out"
    assert finetune(photos, models, out, "--skip-detector", "--no-int8", "--keep-start", "auto") == 0
    for name in ("reader", "reader-2"):
        assert (out / f"{name}.onnx").read_bytes() == (models / f"{name}.onnx").read_bytes()
        assert "-ft-" in version_of(out / "runs" / "not-used" / f"{name}.onnx")
        assert "kept by `python -m training finetune`" in (out / f"{name}.md").read_text()
        assert (out / "runs" / "not-used" / f"{name}.md").is_file()
    report = json.loads((out / "finetune.json").read_text())
    choice = report["choice"]
    assert (choice["detector"], choice["readers"]) == ("start", "start")
    scores = choice["scores"]
    assert scores["detector start, readers start"]["f1"] > scores["detector start, readers new"]["f1"]
    e2e = report["end_to_end"]
    assert e2e["new"]["image_level"] == e2e["start"]["image_level"]
    assert Recognizer.from_dir(out).reader_version == Recognizer.from_dir(models).reader_version
    result = fr.read_result(out)
    assert result.kept == ("readers",) and result.current_only and not result.calibration_kept  # the start had none
    assert any("holds the current models" in line for line in result.lines())
    assert "--keep-start auto" in capsys.readouterr().out


def test_a_finetuned_part_is_used_only_when_it_does_better_and_a_tie_keeps_the_start(tmp_path):
    """choose_parts on the held-out reviewed photos: readers that read the bibs right beat ones that read them
    wrong; equal readers (a tie) keep the start ones; with no held-out photo the start is kept. When fine-tuned
    mixes beat the start and tie among themselves, the one with more fine-tuned parts is used."""
    from types import SimpleNamespace

    from tests.model_factory import make_constant_reader, make_placeholder_detector
    from training.data import entries_from_store, split
    from training.finetune import choose_parts
    from training.models.reader import CHARSET

    photos = reviewed_photo_set(tmp_path / "race", seed=6, number="12")
    val = split(entries_from_store(photos))[1]
    assert val

    def folder(name: str, text: str) -> Path:
        d = tmp_path / name
        d.mkdir()
        make_placeholder_detector(d / "detector.onnx")
        make_constant_reader(d / "reader.onnx", text, CHARSET, version=f"{name}-{text}")
        return d

    args = SimpleNamespace(keep_start="auto", threads=1)
    wrong, right, also_right = folder("wrong", "99"), folder("right", "12"), folder("also", "12")
    assert choose_parts(wrong, right, val, False, args)["readers"] == "new"  # the fine-tuned readers do better
    assert choose_parts(right, wrong, val, False, args)["readers"] == "start"  # worse: the start stays
    assert choose_parts(right, also_right, val, False, args)["readers"] == "start"  # a tie keeps the start
    assert choose_parts(wrong, right, [], False, args)["readers"] == "start"  # nothing held out: nothing shown
    assert choose_parts(right, wrong, val, False, SimpleNamespace(keep_start="never", threads=1))["readers"] == "new"
    # the start reads wrong; with the fine-tuned readers both detectors (here alike) read right: a tie between
    # (start detector, new readers) and (new detector, new readers), both better than the start, takes both new
    choice = choose_parts(wrong, right, val, True, args)
    scores = choice["scores"]
    assert scores["detector start, readers new"]["f1"] == scores["detector new, readers new"]["f1"] \
        > scores["detector start, readers start"]["f1"]
    assert (choice["detector"], choice["readers"]) == ("new", "new")
    # a tie that includes the start keeps the start, whatever the fine-tuned detector does
    choice = choose_parts(right, also_right, val, True, args)
    assert scores_tie_with_start(choice) and (choice["detector"], choice["readers"]) == ("start", "start")


def scores_tie_with_start(choice: dict) -> bool:
    f1 = [s["f1"] for s in choice["scores"].values()]
    return choice["scores"]["detector start, readers start"]["f1"] == max(f1)


@pytest.mark.slow
def test_detector_dev_adds_the_dev_train_photos_to_the_detector_only_as_train_photos(tmp_path, setup, capsys):
    from tests.test_training_reader import make_photo_set
    from training.data import entries_from_store, load_entries, split
    from training.models.detector import build_detector
    from training.train_detector import finetune_split

    photos, models = setup
    torch.save({"model": build_detector().state_dict(), "arch": {}, "input_size": 512, "data_hash": "x"}, models / "detector.pt")
    dev = tmp_path / "dev" / "annotations.json"
    dev.write_text(json.dumps(make_photo_set(dev.parent, 6, seed=1)))
    dev_train = split(load_entries(dev))[0]
    own_train, own_val = finetune_split(entries_from_store(photos))
    assert dev_train  # the test needs dev train photos
    out = tmp_path / "out"
    assert finetune(photos, models, out, "--dev", str(dev), "--detector-dev", "--detector-epochs", "1",
                    "--detector-steps", "1", "--readers", "1") == 0
    said = capsys.readouterr().out
    assert f"train photos {len(own_train) + len(dev_train)} " in said and f"val photos {len(own_val)}," in said
    assert f"+ {len(dev_train)} photos of the dev set's train split" in (out / "detector.md").read_text()
    report = json.loads((out / "finetune.json").read_text())["detector"]
    assert report["dev_train_photos"] == len(dev_train) and report["data"]["reviewed"]["val_photos"] == len(own_val)


def test_a_kept_start_detector_replaces_the_finetuned_one_which_goes_aside_with_its_card(tmp_path):
    from training.finetune import NOT_USED, keep_start_parts, note_kept_parts

    start, work = tmp_path / "start", tmp_path / "work"
    for folder in (start, work):
        (folder / "runs" / "detector").mkdir(parents=True)
        for name in ("detector.onnx", "detector.pt", "detector.md", "reader.onnx", "reader.pt", "reader.md"):
            (folder / name).write_text(f"{folder.name} {name}")
    choice = {"detector": "start", "readers": "new", "detector_finetuned": True, "reason": "F1 1.000 vs 0.900"}
    keep_start_parts(start, work, choice)
    note_kept_parts(work, choice)
    assert (work / "detector.onnx").read_text() == "start detector.onnx" and (work / "detector.pt").read_text() == "start detector.pt"
    assert [(work / NOT_USED / n).read_text() for n in ("detector.onnx", "detector.pt", "detector.md")] == \
        ["work detector.onnx", "work detector.pt", "work detector.md"]
    card = (work / "detector.md").read_text()
    assert card.startswith("start detector.md") and "kept by `python -m training finetune`" in card and "F1 1.000 vs 0.900" in card
    assert (work / "reader.onnx").read_text() == "work reader.onnx" and (work / "reader.md").read_text() == "work reader.md"
    assert not (work / NOT_USED / "reader.onnx").exists()


# ---------------------------------------------------------------- the epoch each part keeps: the user's photos only


def poisoned_dev_set(shared: Path) -> Path:
    """``shared``/datasets/rbnr_dev as a checkout beside ../shared has it, with photos and numbers that change any
    run that reads them (its train photos would be trained on, its val crops would choose)."""
    from tests.test_training_reader import make_photo_set

    dev = shared / "datasets" / "rbnr_dev"
    items = make_photo_set(dev, 10, seed=11)
    (dev / "annotations.json").write_text(json.dumps([{**it, "bibs": [{**it["bibs"][0], "number": "7" * 6}]} for it in items]))
    return dev / "annotations.json"


def finetune_process(photos: Path, models: Path, out: Path, shared: Path, *extra: str) -> dict:
    """finetune in its own process, as the app starts it (no --dev), with BIBTAGGER_SHARED=``shared``: the dev set
    a checkout (or a user's machine) may happen to have beside it. Returns its finetune.json."""
    import os
    import subprocess

    tiny = [a for a in TINY_RUN if a not in ("--dev", "")]  # the app passes no --dev
    assert "--dev" not in tiny
    argv = [sys.executable, "-m", "training", "finetune", "--from", str(photos), "--models", str(models), "--out", str(out),
            *tiny, "--epochs", "2", "--keep-start", "never", "--skip-detector", *extra]
    env = {**os.environ, "BIBTAGGER_SHARED": str(shared), "OMP_NUM_THREADS": "1"}
    done = subprocess.run(argv, env=env, cwd=Path(__file__).parents[1], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    return json.loads((out / "finetune.json").read_text())


@pytest.mark.slow
def test_finetune_never_reads_a_dev_set_it_is_not_given(tmp_path, setup):
    """The app runs finetune without --dev. Whether BIBTAGGER_SHARED (../shared) is missing or holds a dev set
    whose labels are all wrong, the new readers are the same weights trained on the same photos, kept at the same
    epoch, and nothing of the dev set is counted or compared: finetune read it before (its train split trained,
    its val split chose each reader's epoch)."""
    photos, models = setup
    poisoned = tmp_path / "shared"
    poisoned_dev_set(poisoned)
    runs = {name: finetune_process(photos, models, tmp_path / name, shared)
            for name, shared in (("none", tmp_path / "no-such-folder"), ("poisoned", poisoned))}
    versions = {name: version_of(tmp_path / name / "reader.onnx") for name in runs}
    assert versions["none"] == versions["poisoned"]  # data hash and weights hash alike: same photos, same weights
    for report in runs.values():
        reader = report["reader"]
        assert "dev" not in reader["data"] and reader["best_epoch"] == 2 and report["epoch_pick"]["policy"] == "last"
        assert report["end_to_end"]["by_source"] == {"reviewed": reader["data"]["reviewed"]["val_photos"]}
    keys = ("best_val_accuracy", "best_val_loss", "init_val_accuracy", "init_val_loss", "val_bibs", "train_photos", "data_hash")
    assert [runs["none"]["reader"][k] for k in keys] == [runs["poisoned"]["reader"][k] for k in keys]


@pytest.mark.parametrize("pick, kept", [(None, 4), ("held-out", 3)])
def test_each_reader_keeps_the_epoch_its_rule_names_on_the_held_out_reviewed_crops_only(tmp_path, setup, monkeypatch, pick, kept):
    """By default each reader keeps its last epoch, even when an earlier one read more held-out crops (the held-out
    photos then decide only start vs new); --pick-epoch held-out keeps the lowest CTC loss over every held-out
    crop, a tie taking the later epoch. The readers' held-out crops are the reviewed ones only, --dev or not."""
    import training.train_reader as tr
    from tests.test_training_reader import make_photo_set, same_weights, scripted_val
    from training.data import entries_from_store, split
    from training.train_detector import finetune_split

    photos, models = setup
    dev = tmp_path / "dev" / "annotations.json"
    dev.parent.mkdir()
    dev.write_text(json.dumps(make_photo_set(dev.parent, 10, seed=9)))
    own_val = finetune_split(entries_from_store(photos))[1]
    dev_val = split(load_dev(dev))[1]
    assert own_val and dev_val  # the test needs held-out crops of both kinds
    # (accuracy, loss): the start reader, then epochs 1-4: 1 reads the most, 2 and 3 tie on the lowest loss, 4 is the last
    calls = scripted_val(monkeypatch, tr, [(0.0, 9.0), (1.0, 3.0), (0.5, 1.0), (0.5, 1.0), (0.0, 2.0)])
    out = tmp_path / "out"
    # --synthetic 0: no synthetic val crops, so every evaluate() call on crops is one of the held-out ones
    assert finetune(photos, models, out, "--skip-detector", "--no-int8", "--readers", "1", "--epochs", "4", "--synthetic", "0", "--dev", str(dev),
                    *(["--pick-epoch", pick] if pick else [])) == 0
    assert calls == [len(own_val)] * 5  # the start reader and each epoch, on the reviewed held-out crops only
    report = json.loads((out / "finetune.json").read_text())
    reader = report["reader"]
    assert (reader["best_epoch"], reader["best_val_accuracy"], reader["best_val_loss"]) == (kept, *[(1.0, 3.0), (0.5, 1.0), (0.5, 1.0), (0.0, 2.0)][kept - 1])
    assert reader["val_bibs"] == len(own_val) and reader["val_photos"] == len(own_val)
    assert same_weights(out / "reader.pt", out / "runs" / "reader" / "best.pt")
    assert same_weights(out / "reader.pt", out / "runs" / "reader" / "last.pt") == (kept == 4)
    assert report["epoch_pick"]["policy"] == (pick or "last")
    card = " ".join((out / "reader.md").read_text().split())
    assert f"epoch kept: finetune epoch {kept}, {reader['epoch_rule']}" in card
    assert ("the last epoch (a fixed schedule" if pick is None else "the lowest CTC loss summed over every held-out") in card
    # the dev val photos are compared end to end (reported apart), never the readers' held-out crops
    assert report["end_to_end"]["by_source"] == {"reviewed": len(own_val), "dev": len(dev_val)}


def load_dev(path: Path):
    from training.data import load_entries

    return load_entries(path)


def test_a_dev_set_that_is_not_there_is_refused_clearly(tmp_path, setup, capsys):
    photos, models = setup
    assert finetune(photos, models, tmp_path / "out", "--dev", str(tmp_path / "nope.json")) == 2
    assert f"--dev {tmp_path / 'nope.json'}: no such file" in capsys.readouterr().out and not (tmp_path / "out").exists()


def test_detector_dev_without_a_dev_set_is_refused_clearly(tmp_path, setup, capsys):
    """--detector-dev trained the detector on the dev set read by default; with no dev set read unless --dev names
    one, the option alone silently trained on the reviewed photos only."""
    photos, models = setup
    assert finetune(photos, models, tmp_path / "out", "--detector-dev") == 2
    assert "--detector-dev: no dev set to train the detector on: give one with --dev JSON" in capsys.readouterr().out
    assert not (tmp_path / "out").exists()


@pytest.mark.slow
def test_the_detector_keeps_its_last_epoch_unless_asked_to_pick_on_the_held_out_photos(tmp_path, setup, monkeypatch):
    """Epoch 1 of the detector scores best on the held-out reviewed photos: the default keeps the last epoch anyway
    (before, the best AP50 on a handful of photos chose it); --pick-epoch held-out keeps epoch 1."""
    import training.train_detector as td
    from training.models.detector import build_detector

    photos, models = setup
    torch.save({"model": build_detector().state_dict(), "arch": {}, "input_size": 512, "data_hash": "x"}, models / "detector.pt")
    real, calls = td.evaluate, []

    def evaluate(*args, **kwargs):  # epoch 1 boxes the held-out photos best, then worse (later calls: the card's)
        m = real(*args, **kwargs)
        calls.append(1)
        return {**m, "ap50": 1.0 if len(calls) == 1 else 0.0}

    monkeypatch.setattr(td, "evaluate", evaluate)
    for pick, kept in ((None, 2), ("held-out", 1)):
        calls.clear()
        out = tmp_path / f"out-{pick}"
        assert finetune(photos, models, out, "--readers", "1", "--detector-epochs", "2", "--detector-steps", "1",
                        *(["--pick-epoch", pick] if pick else [])) == 0
        det = json.loads((out / "finetune.json").read_text())["detector"]
        assert det["finetuned"] and det["best_epoch"] == kept and f"-e{kept}-" in det["version"]
        assert f"epoch kept: {kept}, {det['epoch_rule']}" in (out / "detector.md").read_text()
        assert torch.load(out / "detector.pt", weights_only=False)["epoch"] == kept
