"""What happens to a keyword run when something else happens meanwhile: another program replaces a photo
(its bibs must not go into the new picture, nor the old picture come back over it), or the user presses
Ctrl+C (the run stops after the file being written and says how many photos got their keywords)."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import cv2
import pytest

from bibtagger_gui.cli import main
from bibtagger_gui.core import keywords as kw
from bibtagger_gui.core import replace_file
from bibtagger_gui.core.store import Store
from tests.test_keywords import EXIFTOOL, make_jpeg, project, read_tags  # noqa: F401 - project is a fixture

pytestmark = pytest.mark.skipif(EXIFTOOL is None, reason="exiftool missing: run `make sysdeps`")

MOMENTS = ("while the keywords are read", "as exiftool starts the write", "after exiftool wrote the new version")


def _replace_during_the_run(monkeypatch, moment: str, photo: Path, other: Path) -> None:
    """Copy ``other`` over ``photo`` (as another program saving there would) at ``moment`` of the run."""
    execute, read = kw.ExifTool.execute, kw.read_keywords
    mark = f".{photo.stem}{replace_file.TEMP_MARK}"  # in every write command for the photo (or its sidecar)

    def replacing(self, args):
        writing = any(mark in a for a in args)
        if writing and moment == MOMENTS[1]:
            shutil.copyfile(other, photo)
        out = execute(self, args)
        if writing and moment == MOMENTS[2]:
            shutil.copyfile(other, photo)
        return out

    def replacing_after_the_read(*args, **kwargs):
        found = read(*args, **kwargs)
        shutil.copyfile(other, photo)
        return found

    if moment == MOMENTS[0]:
        monkeypatch.setattr(kw, "read_keywords", replacing_after_the_read)
    else:
        monkeypatch.setattr(kw.ExifTool, "execute", replacing)


@pytest.mark.parametrize("moment, sidecar", [(m, False) for m in MOMENTS] + [(MOMENTS[2], True)])
def test_a_photo_replaced_during_the_run_gets_no_bibs_of_the_old_picture(project, monkeypatch, capsys, moment, sidecar):
    folder, store = project  # a.jpg carries bibs 1234 and 77
    a = folder / "a.jpg"
    other = make_jpeg(folder.parent / "other.jpg", 9, keyword="Other")  # another runner's photo
    new_picture = other.read_bytes()
    execute, read = kw.ExifTool.execute, kw.read_keywords
    _replace_during_the_run(monkeypatch, moment, a, other)
    args = ["keywords", str(folder)] + (["--sidecar"] if sidecar else [])
    assert main(args) == 1  # a photo left without its keywords: scripts notice
    err = capsys.readouterr().err
    assert f"a.jpg: {kw.CHANGED_NOTE}" in err, err
    assert "1 left as they are (their file changed)" in err.splitlines()[-1], err
    assert a.read_bytes() == new_picture  # neither the old bibs written into it nor the old picture put back
    assert not (folder / "a.xmp").exists()
    assert sorted(p.name for p in folder.iterdir()) == ["a.jpg", "b.jpg"]  # no temp file left (b.jpg: no bib, no sidecar)
    monkeypatch.setattr(kw.ExifTool, "execute", execute)
    monkeypatch.setattr(kw, "read_keywords", read)
    # The next run's scan sees another picture: its bibs are those of the earlier one, neither written nor removed.
    store.scan()
    assert main(args) == 0
    assert "a.jpg: bib(s) 77, 1234 were read on an earlier picture" in capsys.readouterr().err
    assert a.read_bytes() == new_picture and not (folder / "a.xmp").exists()


def test_a_photo_replaced_before_it_is_rewritten_in_place_keeps_the_new_picture(project, monkeypatch, capsys):
    # A photo whose owner or attributes cannot be copied to a new file is rewritten in place by exiftool after the
    # attempt (replace_file.KeepInPlace), which reads the file again: it must be looked at again first.
    folder, store = project
    a = folder / "a.jpg"
    other = make_jpeg(folder.parent / "other.jpg", 9, keyword="Other")

    def replaced_then_kept_in_place(new, path, backup=None, check=None):
        shutil.copyfile(other, a)
        raise replace_file.KeepInPlace("cannot give the new file the owner of a.jpg")

    monkeypatch.setattr(replace_file, "install", replaced_then_kept_in_place)
    assert main(["keywords", str(folder)]) == 1
    assert f"a.jpg: {kw.CHANGED_NOTE}" in capsys.readouterr().err
    assert a.read_bytes() == other.read_bytes()


def test_a_photo_replaced_since_the_projects_last_scan_is_left_as_it_is(project):
    # The app scans a folder when it opens it: a photo replaced while it is open has no rescan before Write
    # Keywords. Another tool's metadata edit since then (same image data) is no reason to hold a photo back.
    folder, store = project
    a, b = folder / "a.jpg", folder / "b.jpg"
    other = make_jpeg(folder.parent / "other.jpg", 9, keyword="Other")
    shutil.copyfile(other, a)
    store.set_model_bibs(store.photo_by_path("b.jpg").id, [], "test-model")
    store.add_bib(store.photo_by_path("b.jpg").id, "5", None)
    subprocess.run([EXIFTOOL, "-q", "-overwrite_original", "-XMP-dc:Creator=Someone", str(b)], check=True)
    report = kw.write_keywords(kw.jobs_from_store(store), kw.KeywordOptions())
    assert sorted((r.sources[0], r.status) for r in report.results) == [("a.jpg", "changed"), ("b.jpg", "written")]
    assert a.read_bytes() == other.read_bytes() and "BIB:5" in read_tags(b)["XMP-dc:Subject"]


def test_a_sidecar_written_after_its_photo_in_the_same_run_is_not_taken_for_a_change(project, capsys):
    # a.xmp from a --sidecar run follows the photo, which this run rewrites first: the photo's new size is
    # this run's own doing, not another program's.
    folder, store = project
    assert main(["keywords", str(folder), "--sidecar"]) == 0
    store.add_bib(store.photo_by_path("a.jpg").id, "5", None)
    capsys.readouterr()
    assert main(["keywords", str(folder)]) == 0
    out = capsys.readouterr().out
    assert "a.jpg: written: +BIB:5 +BIB:77 +BIB:1234\n" in out and "a.jpg: written: +BIB:5 (sidecar a.xmp)" in out, out
    assert "BIB:5" in read_tags(folder / "a.xmp")["XMP-dc:Subject"]


@pytest.fixture
def same_length(tmp_path, monkeypatch):
    """A project of a.jpg (bibs 1234, 77) and b.jpg (bib 5), scanned, and another picture as a file of a.jpg's length
    (bytes after a JPEG's end are ignored by every reader)."""
    from tests.test_store_change_time import equal_length

    monkeypatch.setenv("BIBTAGGER_STORE_DIR", str(tmp_path / "stores"))
    folder = tmp_path / "photos"
    folder.mkdir()
    a, b = make_jpeg(folder / "a.jpg", 1), make_jpeg(folder / "b.jpg", 2)
    mine, theirs = equal_length(a.read_bytes(), make_jpeg(tmp_path / "other.jpg", 9, keyword="Other").read_bytes())
    a.write_bytes(mine)
    os.utime(a, (1_500_000_000, 1_500_000_000))
    with Store.open(folder) as store:
        store.scan()
        for rel, numbers in (("a.jpg", ("1234", "77")), ("b.jpg", ("5",))):
            for number in numbers:
                store.add_bib(store.photo_by_path(rel).id, number, None)
    return folder, theirs


def put_in_place(path: Path, data: bytes) -> None:
    """What `cp -p` or `rsync -a` of another picture of the same length does: the same size, the old mtime."""
    st = path.stat()
    path.write_bytes(data)
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert (path.stat().st_size, path.stat().st_mtime_ns) == (st.st_size, st.st_mtime_ns)


@pytest.mark.skipif(os.name == "nt", reason="no change time on Windows (core.catalogue.change_ns)")
def test_a_same_length_replacement_with_its_mtime_put_back_since_the_scan_is_left_as_it_is(same_length):
    """The app writes from the project as it was opened (no scan first): the check compared size and mtime only,
    so the other picture got a.jpg's bibs. It compares the file version now, change time included
    (docs/store.md#file-versions); a chmod (b.jpg: a new change time, the same picture) is still written."""
    folder, theirs = same_length
    put_in_place(folder / "a.jpg", theirs)
    os.chmod(folder / "b.jpg", 0o640)
    with Store.open(folder) as store:
        report = kw.write_keywords(kw.jobs_from_store(store), kw.KeywordOptions())
    assert sorted((r.sources[0], r.status) for r in report.results) == [("a.jpg", "changed"), ("b.jpg", "written")]
    assert (folder / "a.jpg").read_bytes() == theirs and "BIB:5" in read_tags(folder / "b.jpg")["XMP-dc:Subject"]


@pytest.mark.skipif(os.name == "nt", reason="no change time on Windows (core.catalogue.change_ns)")
def test_a_same_length_replacement_with_its_mtime_put_back_during_the_write_keeps_the_new_picture(same_length,
                                                                                                   monkeypatch, capsys):  # fmt: skip
    """Another program's `cp -p` over a.jpg after exiftool made its new version from the old file: the check before
    the rename compared size and mtime only, and the old picture (with its keywords) went back over the new one."""
    folder, theirs = same_length
    a = folder / "a.jpg"
    execute = kw.ExifTool.execute

    def replacing(self, args):
        out = execute(self, args)
        if any(f".a{replace_file.TEMP_MARK}" in arg for arg in args):  # a.jpg's write command
            put_in_place(a, theirs)
        return out

    monkeypatch.setattr(kw.ExifTool, "execute", replacing)
    assert main(["keywords", str(folder)]) == 1
    assert f"a.jpg: {kw.CHANGED_NOTE}" in capsys.readouterr().err
    assert a.read_bytes() == theirs and sorted(p.name for p in folder.iterdir()) == ["a.jpg", "b.jpg"]


@pytest.mark.skipif(os.name == "nt", reason="no change time on Windows (core.catalogue.change_ns)")
def test_a_tiff_whose_change_time_moved_since_the_scan_is_still_written(tmp_path, monkeypatch):
    """A TIFF has no image-data hash (core/pixelhash), so with the change time in the check a chmod since the scan (or
    the folder copied with `cp -a`) would leave it "changed" at every run in the app; its content hash says it is the
    same file, as the scan's re-check does."""
    monkeypatch.setenv("BIBTAGGER_STORE_DIR", str(tmp_path / "stores"))
    folder = tmp_path / "photos"
    folder.mkdir()
    assert cv2.imwrite(str(folder / "t.tif"), cv2.imread(str(make_jpeg(tmp_path / "t.jpg", 3))))
    with Store.open(folder) as store:
        store.scan()
        store.add_bib(store.photo_by_path("t.tif").id, "42", None)
        os.chmod(folder / "t.tif", 0o640)
        report = kw.write_keywords(kw.jobs_from_store(store), kw.KeywordOptions())
    assert [(r.sources[0], r.status) for r in report.results] == [("t.tif", "written")], report.summary()
    assert "BIB:42" in read_tags(folder / "t.tif")["XMP-dc:Subject"]


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


def numbered_photos(tmp_path, monkeypatch, n: int = 30) -> Path:
    """``n`` JPEGs without keywords, p00.jpg … with bib 100 …, in a project (its store under tmp_path)."""
    monkeypatch.setenv("BIBTAGGER_STORE_DIR", str(tmp_path / "stores"))
    folder = tmp_path / "photos"
    folder.mkdir()
    for i in range(n):
        make_jpeg(folder / f"p{i:02}.jpg", i, keyword=None)
    with Store.open(folder) as store:
        store.scan()
        for i in range(n):
            store.add_bib(store.photo_by_path(f"p{i:02}.jpg").id, str(100 + i), None)
    return folder


@pytest.mark.slow  # a child process writing 30 photos
def test_ctrl_c_in_a_terminal_stops_after_the_file_being_written(tmp_path, monkeypatch):
    """A terminal's Ctrl+C signals the whole foreground process group: exiftool must not die mid-command (that
    was 'exiftool stopped unexpectedly'), and the count must match the photos that have their keywords."""
    folder, n = numbered_photos(tmp_path, monkeypatch), 30
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


def test_ctrl_c_in_a_dry_run_says_nothing_was_written(five, monkeypatch, capsys):
    process = kw._process

    def pressed(*args, **kwargs):
        os.kill(os.getpid(), signal.SIGINT)
        return process(*args, **kwargs)

    monkeypatch.setattr(kw, "_process", pressed)
    assert main(["keywords", str(five), "--dry-run"]) == 130
    assert capsys.readouterr().err.splitlines()[-1] == "interrupted: dry run, nothing written"
    assert _with_keywords(five) == []


def exiftools_marked(mark: str) -> list[int]:
    """Pids of the exiftool processes whose environment holds ``BIBTAGGER_TEST_MARK=mark`` (Linux /proc)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmd = (entry / "cmdline").read_bytes()
            env = (entry / "environ").read_bytes()
        except OSError:
            continue
        if b"exiftool" in cmd and f"BIBTAGGER_TEST_MARK={mark}".encode() in env.split(b"\0"):
            found.append(int(entry.name))
    return found


def exiftools_left(mark: str, within: float) -> list[int]:
    """:func:`exiftools_marked` once they had ``within`` seconds to end (polled)."""
    deadline = time.monotonic() + within
    while exiftools_marked(mark) and time.monotonic() < deadline:
        time.sleep(0.05)
    return exiftools_marked(mark)


def kill_marked(mark: str) -> None:
    for pid in exiftools_marked(mark):
        os.kill(pid, signal.SIGKILL)


@pytest.mark.slow  # a child process writing 30 photos
@pytest.mark.skipif(not Path("/proc/self/environ").exists(), reason="finds exiftool through /proc")
def test_a_kill_or_a_closed_terminal_ends_exiftool_too(tmp_path, monkeypatch):
    """exiftool runs in a session of its own (the terminal's Ctrl+C must not kill it mid-command), and `-stay_open`
    does not end with its input: `bibtagger keywords` ended by SIGTERM or SIGHUP (the terminal closed) left it polling
    for ever. Both now stop the run at once through the `with ExifTool` that closes it."""
    folder, n = numbered_photos(tmp_path, monkeypatch), 30
    for signum in (signal.SIGTERM, signal.SIGHUP):
        mark = f"{tmp_path.name}-{signum}"
        env = {**os.environ, "BIBTAGGER_TEST_MARK": mark}
        child = subprocess.Popen([sys.executable, "-m", "bibtagger_gui", "keywords", str(folder)], env=env,
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                 cwd=Path(__file__).parents[1])  # fmt: skip
        try:
            assert child.stdout.readline()  # a photo done: exiftool is running
            assert exiftools_marked(mark)
            child.send_signal(signum)
            child.communicate(timeout=60)
            left = exiftools_left(mark, 15)
        finally:
            child.kill()
            kill_marked(mark)
        assert left == [], f"exiftool outlived bibtagger keywords ended by {signal.Signals(signum).name}"
        # every photo still there (a hidden temp file of the one being written may stay: the next run removes it)
        assert sorted(p.name for p in folder.iterdir() if not p.name.startswith(".")) == [f"p{i:02}.jpg" for i in range(n)]


PAUSED_RUN = """
import sys, time
from bibtagger_gui.cli import main
from bibtagger_gui.core import keywords as kw

process = kw._process

def then_wait(*args, **kwargs):  # the first photo written, exiftool waits for its next command: SIGKILL comes now
    result = process(*args, **kwargs)
    print("paused", flush=True)
    time.sleep(600)
    return result

kw._process = then_wait
main(["keywords", sys.argv[1]])
"""


@pytest.mark.skipif(not Path("/proc/self/environ").exists(), reason="finds exiftool through /proc")
def test_a_sigkill_of_the_keyword_run_ends_exiftool_too(tmp_path, monkeypatch):
    """Nothing can catch a SIGKILL (the OOM killer, `kill -9`, the app killed while it writes keywords), and exiftool
    `-stay_open` polls on at the end of its input: it stayed for ever, ~3 % of a core each. Its lifeline's watchdog
    (core/parent_watch.py) now stops it."""
    folder = numbered_photos(tmp_path, monkeypatch, 3)
    mark = f"{tmp_path.name}-kill"
    child = subprocess.Popen([sys.executable, "-c", PAUSED_RUN, str(folder)], env={**os.environ, "BIBTAGGER_TEST_MARK": mark},
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=Path(__file__).parents[1])  # fmt: skip
    try:
        assert "paused" in child.stdout.readline(), child.stderr.read() if child.poll() is not None else ""
        assert exiftools_marked(mark)  # exiftool runs, waiting for the next photo's command
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=30)
        left = exiftools_left(mark, 5)
    finally:
        child.kill()
        child.wait()
        kill_marked(mark)
    assert left == [], "exiftool outlived bibtagger keywords killed by SIGKILL"
    assert sorted(p.name for p in folder.iterdir()) == ["p00.jpg", "p01.jpg", "p02.jpg"]  # the written one renamed in
    assert main(["keywords", str(folder)]) == 0  # the next run finishes
    assert _with_keywords(folder) == ["p00.jpg", "p01.jpg", "p02.jpg"]
