"""The self-test, resource lookup, and the PyInstaller one-folder build running its own --selftest."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import onnxruntime as ort
import pytest

from bibtagger_gui import resources
from bibtagger_gui.selftest import run_selftest, synthetic_bib_image

REPO = Path(__file__).resolve().parents[1]


def model_version(folder: Path) -> str:
    """The recognizer's version string, computed from the models' own metadata."""
    parts = []
    for kind, name in (("det", "detector.onnx"), ("read", "reader.onnx")):
        sess = ort.InferenceSession(str(folder / name), providers=["CPUExecutionProvider"])
        parts.append(f"{kind}:{sess.get_modelmeta().custom_metadata_map['bibtagger.version']}")
    return "+".join(parts)


def models_to_bundle(placeholder_models_dir: Path) -> Path:
    """The shipped models when they are in the repo, else the placeholder models (before training)."""
    shipped = REPO / "resources" / "models"
    if (shipped / "detector.onnx").is_file() and (shipped / "reader.onnx").is_file():
        return shipped
    return placeholder_models_dir


def test_resource_path_from_source_and_frozen(monkeypatch, tmp_path):
    assert resources.resource_path("models", "detector.onnx") == REPO / "resources" / "models" / "detector.onnx"
    monkeypatch.setattr(sys, "frozen", True, raising=False)
    monkeypatch.setattr(sys, "_MEIPASS", str(tmp_path), raising=False)
    assert resources.resource_path("models", "reader.onnx") == tmp_path / "resources" / "models" / "reader.onnx"
    assert resources.models_dir() == tmp_path / "resources" / "models"


def test_synthetic_bib_image_is_a_white_plate_with_dark_digits():
    img = synthetic_bib_image("1234")
    assert img.shape == (480, 640, 3) and img.dtype.name == "uint8"
    plate = img[220:330, 230:410]
    assert (plate > 240).all(axis=2).mean() > 0.5  # mostly white plate
    assert (plate < 60).all(axis=2).any()  # with dark digits on it
    assert (synthetic_bib_image("1234") != synthetic_bib_image("9876")).any()


def test_selftest_from_source(qapp, monkeypatch, placeholder_models_dir, capsys):
    monkeypatch.setenv("BIBTAGGER_MODELS", str(placeholder_models_dir))
    assert run_selftest() == 0
    out = capsys.readouterr().out
    assert out.startswith("OK ") and f"models {model_version(placeholder_models_dir)}" in out


def test_selftest_fails_on_a_broken_calibration_file(qapp, monkeypatch, tmp_path, placeholder_models_dir, capsys):
    import shutil

    models = tmp_path / "models"
    shutil.copytree(placeholder_models_dir, models)
    (models / "calibration.json").write_text("{broken", encoding="utf-8")
    monkeypatch.setenv("BIBTAGGER_MODELS", str(models))
    assert run_selftest() == 1
    captured = capsys.readouterr()
    assert "SELFTEST FAILED: calibration" in captured.err and "OK" not in captured.out
    (models / "calibration.json").unlink()  # none at all: raw scores, said on stderr
    assert run_selftest() == 0
    assert "no calibration.json beside the reader" in capsys.readouterr().err


def test_selftest_reports_missing_models(qapp, monkeypatch, tmp_path, capsys):
    monkeypatch.setenv("BIBTAGGER_MODELS", str(tmp_path))
    assert run_selftest() == 1
    captured = capsys.readouterr()
    assert "SELFTEST FAILED: models" in captured.err and "OK" not in captured.out


@pytest.mark.package
@pytest.mark.slow
def test_pyinstaller_build_runs_its_selftest(tmp_path, placeholder_models_dir):
    models = models_to_bundle(placeholder_models_dir)
    env = {**os.environ, "BIBTAGGER_MODELS": str(models)}
    started = time.monotonic()
    build = subprocess.run(
        [sys.executable, "-m", "PyInstaller", "--noconfirm", "--clean", "--log-level", "WARN",
         "--distpath", str(tmp_path / "dist"), "--workpath", str(tmp_path / "work"), str(REPO / "build.spec")],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=900,
    )  # fmt: skip
    assert build.returncode == 0, build.stdout[-3000:] + build.stderr[-6000:]
    print(f"pyinstaller build: {time.monotonic() - started:.0f} s")

    app = tmp_path / "dist" / "bibtagger"
    exe = app / ("bibtagger-cli.exe" if sys.platform == "win32" else "bibtagger")
    assert exe.is_file()
    internal = app / "_internal"
    for unwanted in ("torch", "pandas", "training", "PIL"):
        assert not (internal / unwanted).exists(), f"{unwanted} was bundled"
    assert (internal / "resources" / "models" / "detector.onnx").is_file()

    run_env = {k: v for k, v in os.environ.items() if k != "BIBTAGGER_MODELS"}  # the bundled models must be found
    run_env["QT_QPA_PLATFORM"] = "offscreen"
    selftest = subprocess.run([str(exe), "--selftest"], env=run_env, capture_output=True, text=True, timeout=120,
                              cwd=tmp_path)  # fmt: skip
    assert selftest.returncode == 0, selftest.stdout + selftest.stderr
    assert selftest.stdout.startswith("OK ")
    assert f"models {model_version(models)}" in selftest.stdout
    if (models / "calibration.json").is_file():  # the shipped models: their calibration is bundled and loads
        assert "+cal" in selftest.stdout and "calibrated by" in selftest.stderr, selftest.stdout + selftest.stderr

    cli = subprocess.run([str(exe), "--help"], env=run_env, capture_output=True, text=True, timeout=60)
    assert cli.returncode == 0
    for command in ("keywords", "find", "startlist"):  # sub-commands are imported by name: must be bundled
        assert command in cli.stdout


def test_a_lone_folder_argument_opens_it_in_the_app(monkeypatch, tmp_path):
    """A folder dropped on bibtagger.exe (or `bibtagger FOLDER`) arrives as the only argument: it opens
    in the app instead of being refused as an unknown command (which the windowed exe cannot even show)."""
    from bibtagger_gui import cli
    from bibtagger_gui.cli import gui_cmd

    opened = []
    monkeypatch.setattr(gui_cmd, "run", lambda args: opened.append(args.folder) or 0)
    folder = tmp_path / "Zieleinlauf Läufer"
    folder.mkdir()
    assert cli.main([str(folder)]) == 0 and opened == [str(folder)]
    monkeypatch.chdir(tmp_path)
    (tmp_path / "find").mkdir()  # a folder named like a command: the command wins
    with pytest.raises(SystemExit):
        cli.main(["find"])
    assert opened == [str(folder)]
    with pytest.raises(SystemExit):  # not a folder: still an unknown command
        cli.main([str(tmp_path / "missing")])
