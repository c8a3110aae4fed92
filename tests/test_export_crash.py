"""A killed crops export is clearly partial (no labels.csv), and a re-run completes it (docs/crash-safety.md)."""

from __future__ import annotations

import csv
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import cv2
import numpy as np

from bibtagger_gui.cli import main
from bibtagger_gui.core.store import Store

CHILD = textwrap.dedent(
    """
    import sys, time
    from bibtagger_gui.core import exporters
    from bibtagger_gui.cli import main

    real_load, calls = exporters.load_image, []

    def load_then_stop(path, *a, **k):
        calls.append(path)
        if len(calls) == 2:  # the first photo's crops are written; stop in the middle of the export
            print("READY", flush=True)
            time.sleep(120)
        return real_load(path, *a, **k)

    exporters.load_image = load_then_stop
    main(["export", sys.argv[1], "--format", "crops", "--out", sys.argv[2]])
    """
)


def _project(tmp_path: Path) -> Path:
    folder = tmp_path / "photos"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for i in range(3):
        assert cv2.imwrite(str(folder / f"p{i}.jpg"), rng.integers(0, 255, (80, 120, 3), dtype=np.uint8))
    with Store.open(folder) as store:
        store.scan()
        for i, photo in enumerate(store.photos()):
            store.add_bib(photo.id, str(100 + i), (10, 10, 60, 40))
    return folder


def test_killed_crops_export_has_no_labels_and_a_rerun_completes(tmp_path, monkeypatch):
    monkeypatch.setenv("BIBTAGGER_STORE_DIR", str(tmp_path / "stores"))
    folder, out = _project(tmp_path), tmp_path / "crops"
    assert main(["export", str(folder), "--format", "crops", "--out", str(out)]) == 0
    assert (out / "labels.csv").is_file()  # a finished earlier export
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).parents[1]))
    child = subprocess.Popen([sys.executable, "-c", CHILD, str(folder), str(out)], stdout=subprocess.PIPE,
                             text=True, start_new_session=True, env=env)  # fmt: skip
    try:
        line = child.stdout.readline()
        assert line.startswith("READY"), line
        os.killpg(child.pid, signal.SIGKILL)
    finally:
        child.kill()
        child.wait(timeout=30)
    # The old labels.csv would describe crops this export was rewriting: a killed export has none.
    assert not (out / "labels.csv").exists()
    assert main(["export", str(folder), "--format", "crops", "--out", str(out)]) == 0
    with open(out / "labels.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert sorted(r["number"] for r in rows) == ["100", "101", "102"]
    for r in rows:
        crop = cv2.imread(str(out / r["file"]))
        assert crop is not None and crop.shape[:2] == (int(r["y2"]) - int(r["y1"]), int(r["x2"]) - int(r["x1"]))


def test_copied_bibfolders_are_written_under_a_temp_name(tmp_path, monkeypatch):
    """A photo copy is renamed into place complete: the state a kill mid-copy leaves is a hidden
    temp file, never a truncated ``3638/photo.jpg``."""
    monkeypatch.setenv("BIBTAGGER_STORE_DIR", str(tmp_path / "stores"))
    folder, out = _project(tmp_path), tmp_path / "bibs"
    import shutil

    seen = []
    real_copy2 = shutil.copy2

    def spy(src, dst, *a, **k):
        seen.append(Path(dst).name)
        return real_copy2(src, dst, *a, **k)

    monkeypatch.setattr(shutil, "copy2", spy)
    assert main(["export", str(folder), "--format", "bibfolders", "--out", str(out), "--copy"]) == 0
    assert seen and all(name.startswith(".") for name in seen), seen
    copies = sorted(p.relative_to(out).as_posix() for p in out.glob("*/*"))
    assert copies == ["100/p0.jpg", "101/p1.jpg", "102/p2.jpg"]
    for c in copies:
        assert (out / c).read_bytes() == (folder / Path(c).name).read_bytes()


def test_a_photo_copy_that_cannot_be_renamed_into_place_leaves_no_temp_file(tmp_path, monkeypatch, capsys):
    """A refused rename (a file in use on Windows, a full disk) is reported per photo, and its hidden
    half copy is removed rather than left in the output folder."""
    monkeypatch.setenv("BIBTAGGER_STORE_DIR", str(tmp_path / "stores"))
    folder, out = _project(tmp_path), tmp_path / "bibs"
    from bibtagger_gui.core import exporters

    def refuse(src, dst):
        raise PermissionError(13, "in use by another program")

    monkeypatch.setattr(exporters.portable, "replace", refuse)
    assert main(["export", str(folder), "--format", "bibfolders", "--out", str(out), "--copy"]) == 1
    assert "in use by another program" in capsys.readouterr().err
    assert not [p.name for p in out.rglob(".*.tmp")]
