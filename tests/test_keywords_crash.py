"""Crash safety of keyword writing: a photo is replaced by a complete new version, never rewritten in place.

exiftool's ``-overwrite_original_in_place`` copies its temp file back over the photo: a kill (of the
whole process group, or power loss) in that copy left a photo whose head held the new keywords and
whose tail was cut or shifted, which the next run then called "unchanged" (docs/crash-safety.md).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from bibtagger_gui.cli import main
from bibtagger_gui.core import replace_file
from bibtagger_gui.core.keywords import KeywordJob, KeywordOptions, write_keywords
from bibtagger_gui.core.store import Store
from tests.test_keywords import EXIFTOOL, make_jpeg, pixels, read_tags

import numpy as np

pytestmark = pytest.mark.skipif(EXIFTOOL is None, reason="exiftool missing: run `make sysdeps`")


def test_the_photo_is_replaced_not_rewritten_in_place(tmp_path):
    photo = make_jpeg(tmp_path / "a.jpg", 1)
    photo.chmod(0o640)
    try:
        os.setxattr(photo, "user.bibtagger_test", b"label")
        has_xattr = True
    except OSError:  # a file system without user attributes
        has_xattr = False
    data, before, inode = photo.read_bytes(), pixels(photo), photo.stat().st_ino
    with open(photo, "rb") as old:  # the old file as a reader (or a crash at any moment) sees it
        report = write_keywords([KeywordJob(photo, ("1234",), "a.jpg")], KeywordOptions())
        assert old.read() == data, "the original file was rewritten in place"
    assert [r.status for r in report.results] == ["written"], report.summary()
    assert "BIB:1234" in read_tags(photo)["XMP-dc:Subject"]
    assert photo.stat().st_ino != inode and np.array_equal(pixels(photo), before)
    assert photo.stat().st_mode & 0o777 == 0o640
    if has_xattr:
        assert os.getxattr(photo, "user.bibtagger_test") == b"label"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.jpg"]


def test_a_hard_linked_photo_is_written_in_place_so_both_names_get_the_keywords(tmp_path):
    photo = make_jpeg(tmp_path / "a.jpg", 1)
    os.link(photo, tmp_path / "same.jpg")
    report = write_keywords([KeywordJob(photo, ("7",), "a.jpg")], KeywordOptions())
    assert [r.status for r in report.results] == ["written"], report.summary()
    assert "BIB:7" in read_tags(tmp_path / "same.jpg")["XMP-dc:Subject"]
    assert photo.stat().st_ino == (tmp_path / "same.jpg").stat().st_ino


def test_backup_keeps_the_original_bytes_beside_the_new_photo(tmp_path):
    photo = make_jpeg(tmp_path / "a.jpg", 1)
    data = photo.read_bytes()
    report = write_keywords([KeywordJob(photo, ("7",), "a.jpg")], KeywordOptions(backup=True))
    assert [r.status for r in report.results] == ["written"], report.summary()
    assert (tmp_path / "a.jpg_original").read_bytes() == data
    assert "BIB:7" in read_tags(photo)["XMP-dc:Subject"]


CHILD = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from bibtagger_gui.core import replace_file
    from bibtagger_gui.cli import main

    def stop_before_the_rename(new, path, backup=None, check=None):
        print("READY", new, flush=True)  # exiftool has written the new version; the photo is not replaced yet
        time.sleep(120)

    replace_file.install = stop_before_the_rename
    main(["keywords", sys.argv[1]])
    """
)


def test_kill_before_the_rename_leaves_the_photo_untouched_and_a_rerun_finishes(tmp_path, monkeypatch):
    """SIGKILL of bibtagger's whole process group at the last moment before the rename, signalled by the child: the
    photo is byte-identical, the hidden temp file is ignored by the scan and removed by the next run, which writes the
    keywords. (exiftool, in a session of its own so that a terminal's Ctrl+C does not reach it, is ended by its
    lifeline: docs/keywords.md#a-killed-run, tests/test_keywords_during_run.py; the test ends any left.)"""
    monkeypatch.setenv("BIBTAGGER_STORE_DIR", str(tmp_path / "stores"))
    folder = tmp_path / "photos"
    folder.mkdir()
    photo = make_jpeg(folder / "a.jpg", 1)
    data, before = photo.read_bytes(), pixels(photo)
    with Store.open(folder) as store:
        store.scan()
        store.add_bib(store.photo_by_path("a.jpg").id, "1234", None)
    from tests.test_keywords_during_run import exiftools_marked

    mark = f"crash-{tmp_path.name}"
    child = subprocess.Popen([sys.executable, "-c", CHILD, str(folder)], stdout=subprocess.PIPE, text=True,
                             env={**os.environ, "BIBTAGGER_TEST_MARK": mark},
                             start_new_session=True, cwd=Path(__file__).parents[1])  # fmt: skip
    try:
        line = child.stdout.readline()
        assert line.startswith("READY"), line
        os.killpg(child.pid, signal.SIGKILL)
    finally:
        child.kill()
        child.wait(timeout=30)
        if Path("/proc/self/environ").exists():
            for pid in exiftools_marked(mark):
                os.kill(pid, signal.SIGKILL)
    temp = replace_file.temp_path(photo)
    assert temp.is_file() and photo.read_bytes() == data
    with Store.open(folder) as store:
        assert not store.scan().errors and [p.relpath for p in store.photos()] == ["a.jpg"]
    assert main(["keywords", str(folder)]) == 0
    assert not temp.exists() and sorted(p.name for p in folder.iterdir()) == ["a.jpg"]
    assert "BIB:1234" in read_tags(photo)["XMP-dc:Subject"] and np.array_equal(pixels(photo), before)


def test_leftover_of_an_interrupted_in_place_write_is_reported_not_called_unchanged(tmp_path, monkeypatch, capsys):
    """The state a kill in exiftool's in-place copy left (older versions, or the user's own exiftool):
    the photo's head already holds the keyword, its tail is the old file's, and NAME_exiftool_tmp is
    the only complete copy. The run must say so and touch neither file."""
    monkeypatch.setenv("BIBTAGGER_STORE_DIR", str(tmp_path / "stores"))
    folder = tmp_path / "photos"
    folder.mkdir()
    photo = make_jpeg(folder / "a.jpg", 1)
    old = photo.read_bytes()
    new = folder / "new.jpg"
    subprocess.run([EXIFTOOL, "-q", "-o", str(new), "-XMP-dc:Subject+=BIB:1234", "-IPTC:Keywords+=BIB:1234",
                    str(photo)], check=True)  # fmt: skip
    complete = new.read_bytes()
    new.unlink()
    cut = len(complete) // 2
    photo.write_bytes(complete[:cut] + old[cut:])  # the copy-back stopped half way
    leftover = folder / "a.jpg_exiftool_tmp"
    leftover.write_bytes(complete)
    torn = photo.read_bytes()
    with Store.open(folder) as store:
        store.scan()
        store.add_bib(store.photo_by_path("a.jpg").id, "1234", None)
    assert main(["keywords", str(folder)]) == 1
    err = capsys.readouterr().err
    assert "a.jpg: a.jpg_exiftool_tmp was left by an interrupted exiftool run" in err, err
    assert photo.read_bytes() == torn and leftover.read_bytes() == complete
