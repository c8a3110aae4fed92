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


def window_icon_line() -> str:
    """What the self-test says of the window icon when every size loaded (gui/app_icon.SIZES)."""
    from bibtagger_gui.gui.app_icon import SIZES

    return f"window icon: {'/'.join(str(s) for s in SIZES)} px"


def test_selftest_from_source(qapp, monkeypatch, placeholder_models_dir, capsys):
    monkeypatch.setenv("BIBTAGGER_MODELS", str(placeholder_models_dir))
    assert run_selftest() == 0
    captured = capsys.readouterr()
    assert captured.out.startswith("OK ") and f"models {model_version(placeholder_models_dir)}" in captured.out
    assert window_icon_line() in captured.err


def test_selftest_fails_when_a_window_icon_size_is_missing(qapp, monkeypatch, tmp_path, placeholder_models_dir, capsys):
    """The app starts without a missing icon PNG (a warning), but a build that lost one fails its self-test."""
    import shutil

    from PySide6.QtGui import QIcon

    shutil.copytree(resources.resource_path("icons"), tmp_path / "icons")
    shutil.copytree(resources.resource_path("desktop"), tmp_path / "desktop")
    (tmp_path / "icons" / "bibtagger-24.png").unlink()
    monkeypatch.setattr(resources, "resources_root", lambda: tmp_path)
    monkeypatch.setenv("BIBTAGGER_MODELS", str(placeholder_models_dir))
    try:
        assert run_selftest() == 1
    finally:
        qapp.setWindowIcon(QIcon())
    captured = capsys.readouterr()
    assert "SELFTEST FAILED: icon" in captured.err and "bibtagger-24.png: no such file" in captured.err, captured.err


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


def test_selftest_fails_when_a_feature_module_is_missing_or_fails(qapp, monkeypatch, placeholder_models_dir, capsys):
    """The window skips a feature module it cannot import and only logs one that fails, so a build that lost
    one (hidden import, excluded library) started without its menus and still passed the self-test."""
    from bibtagger_gui.gui import burst_action, main_window

    monkeypatch.setenv("BIBTAGGER_MODELS", str(placeholder_models_dir))
    monkeypatch.setattr(main_window, "FEATURE_MODULES", main_window.FEATURE_MODULES + ("no_such_feature_module",))
    assert run_selftest() == 1
    captured = capsys.readouterr()
    assert "SELFTEST FAILED: window" in captured.err and "no_such_feature_module" in captured.err and not captured.out
    monkeypatch.undo()
    monkeypatch.setenv("BIBTAGGER_MODELS", str(placeholder_models_dir))

    def broken(window):
        raise ImportError("cannot import name 'Timeline'")

    monkeypatch.setattr(burst_action, "install", broken)
    assert run_selftest() == 1
    captured = capsys.readouterr()
    assert "SELFTEST FAILED: window" in captured.err and "burst_action: cannot import name 'Timeline'" in captured.err
    monkeypatch.undo()
    monkeypatch.setenv("BIBTAGGER_MODELS", str(placeholder_models_dir))
    assert run_selftest() == 0
    assert f"window: {len(main_window.FEATURE_MODULES)} feature modules" in capsys.readouterr().err


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

    assert "window: " in selftest.stderr  # the main window was made, every feature module installed
    # the window icon: every PNG bundled, byte for byte, and set on the app, all sizes (docs/desktop.md#window-icon)
    for png in sorted((REPO / "resources" / "icons").glob("bibtagger-*.png")):
        assert (internal / "resources" / "icons" / png.name).read_bytes() == png.read_bytes(), png.name
    assert window_icon_line() in selftest.stderr, selftest.stderr
    bundled_modules = (tmp_path / "work" / "build" / "PYZ-00.toc").read_text(encoding="utf-8")
    assert "'bibtagger_gui.selftest'" in bundled_modules and "bibtagger_gui.tools" not in bundled_modules  # a checkout's tools

    cli = subprocess.run([str(exe), "--help"], env=run_env, capture_output=True, text=True, timeout=60)
    assert cli.returncode == 0
    for command in ("keywords", "find", "startlist"):  # sub-commands are imported by name: must be bundled
        assert command in cli.stdout
    check_frozen_commands(exe, tmp_path, run_env)
    if sys.platform.startswith("linux"):  # the packaged app on a real X display: keys, store, quit (docs/x11.md)
        from tests.test_x11_display import check_packaged_app_on_x11

        check_packaged_app_on_x11(exe, tmp_path, run_env)


def check_frozen_commands(exe: Path, tmp_path: Path, env: dict[str, str]) -> None:
    """The frozen app's own CLI and GUI on demo photos with EXIF bursts (made by its `demo`): predict, the xlsx export (its own
    zip writer), capture times read by the frozen EXIF parser, and a window screenshot."""
    import zipfile

    from bibtagger_gui.core.bursts import Timeline
    from bibtagger_gui.core.demo import generate
    from bibtagger_gui.core.store import Store

    folder = tmp_path / "Zieleinlauf Läufer"
    env = {**env, "XDG_DATA_HOME": str(tmp_path / "data"), "XDG_CONFIG_HOME": str(tmp_path / "config")}

    def run(*args: str, timeout: int = 120) -> subprocess.CompletedProcess:
        return subprocess.run([str(exe), *args], env=env, capture_output=True, text=True, timeout=timeout, cwd=tmp_path)

    done = run("demo", str(folder), "--count", "6")  # the packaged app's own demo photos: the generator's files
    assert done.returncode == 0 and "bibtagger gui" in done.stdout, done.stdout + done.stderr
    generate(tmp_path / "from source", count=6)
    assert (folder / "ground_truth.json").read_bytes() == (tmp_path / "from source" / "ground_truth.json").read_bytes()
    done = run("demo", str(tmp_path), "--count", "1")  # a folder holding other things: refused
    assert done.returncode == 1 and "not empty" in done.stderr, done.stdout + done.stderr

    done = run("predict", str(folder))
    assert done.returncode == 0, done.stdout + done.stderr
    xlsx = tmp_path / "bibs.xlsx"
    done = run("export", str(folder), "--format", "xlsx", "--out", str(xlsx))
    assert done.returncode == 0 and "as xlsx" in done.stderr, done.stdout + done.stderr
    assert {"xl/workbook.xml", "xl/worksheets/sheet1.xml", "xl/worksheets/sheet2.xml"} <= set(zipfile.ZipFile(xlsx).namelist())
    from_source = tmp_path / "bibs-source.xlsx"  # the same store exported from source: the same bytes
    done = subprocess.run([sys.executable, "-m", "bibtagger_gui", "export", str(folder), "--format", "xlsx", "--out",
                           str(from_source)], env=env, capture_output=True, text=True, timeout=120)  # fmt: skip
    assert done.returncode == 0 and from_source.read_bytes() == xlsx.read_bytes(), done.stderr
    done = run("export", str(folder), "--format", "xlsx")  # a workbook to stdout: refused, with the way out
    assert done.returncode == 2 and "--out" in done.stderr, done.stdout + done.stderr
    with Store.open(folder) as store:  # what the frozen app wrote: the demo's EXIF capture times and its bursts
        photos = store.photos()
    assert len(photos) == 6 and all(p.captured_at for p in photos)
    assert Timeline(photos).bursts  # the demo's plan shoots bursts
    shot = tmp_path / "window.png"
    done = run("gui", str(folder), "--screenshot", str(shot), timeout=300)
    assert done.returncode == 0 and shot.stat().st_size > 10000, done.stdout + done.stderr
    check_frozen_desktop_entry(exe, tmp_path, env)
    check_frozen_child_environment(exe, folder, tmp_path, env)


def check_frozen_child_environment(exe: Path, folder: Path, tmp_path: Path, env: dict[str, str]) -> None:
    """exiftool, started by the packaged app, sees the user's environment: not the app's _internal on LD_LIBRARY_PATH
    nor its Qt plugins (docs/packaging.md#programs-the-app-starts). A stand-in exiftool writes what it got."""
    if sys.platform == "win32":
        return
    bin_dir = tmp_path / "fake bin"
    bin_dir.mkdir()
    seen = tmp_path / "exiftool env.txt"
    (bin_dir / "exiftool").write_text(f"#!/bin/sh\nenv > '{seen}'\nexec cat > /dev/null\n", encoding="utf-8")
    (bin_dir / "exiftool").chmod(0o755)
    user = {**env, "PATH": f"{bin_dir}{os.pathsep}{env.get('PATH', '')}", "LD_LIBRARY_PATH": str(tmp_path / "user lib")}
    done = subprocess.run([str(exe), "keywords", str(folder), "--dry-run"], env=user, capture_output=True, text=True,
                          timeout=120, cwd=tmp_path)  # fmt: skip
    assert seen.is_file(), done.stdout + done.stderr
    child = dict(line.split("=", 1) for line in seen.read_text(encoding="utf-8").splitlines() if "=" in line)
    assert child.get("LD_LIBRARY_PATH") == str(tmp_path / "user lib"), child
    internal = str(exe.parent / "_internal")
    assert not [k for k, v in child.items() if internal in v or k.startswith("_PYI_")], child


def check_frozen_desktop_entry(exe: Path, tmp_path: Path, env: dict[str, str]) -> None:
    """`install-desktop` of the packaged app (Linux): its entry runs the executable itself, and its icon is the one
    build.spec bundled (docs/desktop.md)."""
    if not sys.platform.startswith("linux"):
        return
    from bibtagger_gui.core import desktop_entry as de

    prefix = tmp_path / "desktop prefix"
    prefix.mkdir()  # a prefix is a folder that exists (docs/desktop.md)
    done = subprocess.run([str(exe), "install-desktop", "--prefix", str(prefix)], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr
    entry = prefix / "share" / de.ENTRY_DIR / de.ENTRY_NAME
    keys = de.read_entry(entry.read_text(encoding="utf-8"))
    assert keys["Exec"] == de.exec_value([str(exe)]) and keys["TryExec"] == str(exe), keys
    assert (prefix / "share" / de.ICON_DIR / "bibtagger.svg").read_bytes() == de.icon_source().read_bytes()


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
