"""What happens to a keyword run when something else happens meanwhile: the user presses Ctrl+C (the run stops
after the file being written and says how many photos got their keywords)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from bibtagger_gui.cli import main
from bibtagger_gui.core import keywords as kw
from bibtagger_gui.core.store import Store
from tests.test_keywords import EXIFTOOL, make_jpeg, read_tags

pytestmark = pytest.mark.skipif(EXIFTOOL is None, reason="exiftool missing: run `make sysdeps`")


@pytest.fixture
def five(tmp_path, monkeypatch):
    """A project of five JPEGs, each with one bib (photo i: bib 10+i)."""
    monkeypatch.setenv("BIBTAGGER_STORE_DIR", str(tmp_path / "stores"))
    folder = tmp_path / "photos"
    folder.mkdir()
    for i in range(5):
        make_jpeg(folder / f"p{i}.jpg", i, keyword=None)
    with Store.open(folder) as store:
        store.scan()
        for i in range(5):
            store.add_bib(store.photo_by_path(f"p{i}.jpg").id, str(10 + i), None)
    return folder


def _with_keywords(folder: Path) -> list[str]:
    return [p.name for p in sorted(folder.glob("*.jpg")) if any(k.startswith("BIB:") for k in read_tags(p).get("XMP-dc:Subject", []))]


@pytest.mark.parametrize("presses", [1, 2])
def test_ctrl_c_says_how_many_photos_got_their_keywords(five, monkeypatch, capsys, presses):
    process = kw._process

    calls = []

    def pressed_during_the_second_photo(*args, **kwargs):
        calls.append(args[1].path)
        if len(calls) == 2:
            for _ in range(presses):  # the second press raises KeyboardInterrupt here: this photo is not written
                os.kill(os.getpid(), signal.SIGINT)
        return process(*args, **kwargs)

    monkeypatch.setattr(kw, "_process", pressed_during_the_second_photo)
    assert main(["keywords", str(five)]) == 130
    err = capsys.readouterr().err
    written = _with_keywords(five)
    assert 1 <= len(written) < 5 and written == [f"p{i}.jpg" for i in range(len(written))]
    assert f"interrupted: keywords written to {len(written)} of 5 photo(s) before stopping; the others are untouched" in err, err
    assert ("either as it was or has its new keywords" in err) == (presses == 2)
    assert sorted(p.name for p in five.iterdir()) == [f"p{i}.jpg" for i in range(5)]  # no temp file left
    with Store.open(five) as store:  # the stored facts follow the rewritten files, as after a whole run
        assert all((p.size, p.mtime) == ((five / p.relpath).stat().st_size, (five / p.relpath).stat().st_mtime)
                   for p in store.photos())  # fmt: skip
    capsys.readouterr()
    monkeypatch.setattr(kw, "_process", process)
    assert main(["keywords", str(five)]) == 0  # a rerun finishes the others
    assert _with_keywords(five) == [f"p{i}.jpg" for i in range(5)]
    assert f"{5 - len(written)} written, {len(written)} unchanged" in capsys.readouterr().err


@pytest.mark.slow  # a child process writing 30 photos
def test_ctrl_c_in_a_terminal_stops_after_the_file_being_written(tmp_path, monkeypatch):
    """A terminal's Ctrl+C signals the whole foreground process group: exiftool must not die mid-command (that
    was 'exiftool stopped unexpectedly'), and the count must match the photos that have their keywords."""
    monkeypatch.setenv("BIBTAGGER_STORE_DIR", str(tmp_path / "stores"))
    folder = tmp_path / "photos"
    folder.mkdir()
    n = 30
    for i in range(n):
        make_jpeg(folder / f"p{i:02}.jpg", i, keyword=None)
    with Store.open(folder) as store:
        store.scan()
        for i in range(n):
            store.add_bib(store.photo_by_path(f"p{i:02}.jpg").id, str(100 + i), None)
    child = subprocess.Popen([sys.executable, "-m", "bibtagger_gui", "keywords", str(folder)], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True, start_new_session=True, cwd=Path(__file__).parents[1])  # fmt: skip
    try:
        for _ in range(3):
            assert "written" in child.stdout.readline()
        os.killpg(child.pid, signal.SIGINT)  # as the terminal does
        out, err = child.communicate(timeout=60)
    finally:
        child.kill()
    written = _with_keywords(folder)
    assert child.returncode == 130, err
    assert 3 <= len(written) < n, (len(written), err)
    assert f"interrupted: keywords written to {len(written)} of {n} photo(s) before stopping" in err, err
    assert sorted(p.name for p in folder.iterdir()) == [f"p{i:02}.jpg" for i in range(n)]
