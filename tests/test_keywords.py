"""Keywords written into real JPEGs with the real exiftool, read back with `exiftool -j`."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import cv2
import numpy as np
import pytest

from bibtagger_gui.cli import main
from bibtagger_gui.core.bib import Bib
from bibtagger_gui.core import keywords as kw
from bibtagger_gui.core.keywords import KeywordJob, KeywordOptions, jobs_from_store, write_keywords
from bibtagger_gui.core.store import Store

EXIFTOOL = shutil.which("exiftool")
pytestmark = pytest.mark.skipif(EXIFTOOL is None, reason="exiftool missing: run `make sysdeps`")


def make_jpeg(path: Path, seed: int = 0, keyword: str | None = "Marathon") -> Path:
    rng = np.random.default_rng(seed)
    img = cv2.GaussianBlur(rng.integers(0, 255, (120, 160, 3), dtype=np.uint8), (5, 5), 0)
    cv2.rectangle(img, (40, 30), (120, 90), (255, 255, 255), -1)
    cv2.putText(img, str(seed), (50, 75), cv2.FONT_HERSHEY_SIMPLEX, 1.2, (0, 0, 0), 2)
    assert cv2.imwrite(str(path), img)
    if keyword:
        subprocess.run([EXIFTOOL, "-q", "-overwrite_original", f"-XMP-dc:Subject={keyword}",
                        f"-IPTC:Keywords={keyword}", str(path)], check=True)  # fmt: skip
    os.utime(path, (1_500_000_000, 1_500_000_000))
    return path


def read_tags(path: Path) -> dict:
    out = subprocess.run(
        [EXIFTOOL, "-j", "-G1", "-XMP-dc:Subject", "-IPTC:Keywords", "-XMP-lr:HierarchicalSubject",
         "-IPTC:CodedCharacterSet", str(path)],
        check=True, capture_output=True, text=True,
    ).stdout  # fmt: skip
    rec = json.loads(out)[0]
    return {k: [str(v) for v in (rec[k] if isinstance(rec[k], list) else [rec[k]])] for k in rec if k != "SourceFile"}


def pixels(path: Path) -> np.ndarray:
    return cv2.imread(str(path), cv2.IMREAD_UNCHANGED)


@pytest.fixture
def project(tmp_path, monkeypatch):
    """A folder with two JPEGs and a store: a.jpg carries bibs 1234 and 77, b.jpg none (recognized, no bib found)."""
    monkeypatch.setenv("BIBTAGGER_STORE_DIR", str(tmp_path / "stores"))
    folder = tmp_path / "photos"
    folder.mkdir()
    make_jpeg(folder / "a.jpg", 1)
    make_jpeg(folder / "b.jpg", 2)
    store = Store.open(folder)
    store.scan()
    a = store.photo_by_path("a.jpg")
    store.add_bib(a.id, "1234", (40, 30, 120, 90))
    store.add_bib(a.id, "77", None)
    store.set_model_bibs(store.photo_by_path("b.jpg").id, [], "test-model")
    yield folder, store
    store.close()


def test_write_read_back_keeps_existing_and_is_idempotent(project):
    folder, store = project
    a = folder / "a.jpg"
    before_pixels, before_mtime = pixels(a), a.stat().st_mtime
    report = write_keywords(jobs_from_store(store), KeywordOptions())
    assert report.count("written") == 1 and report.count("unchanged") == 1, report.summary()
    tags = read_tags(a)
    assert sorted(tags["XMP-dc:Subject"]) == sorted(["Marathon", "BIB:1234", "BIB:77"])
    assert sorted(tags["IPTC:Keywords"]) == sorted(["Marathon", "BIB:1234", "BIB:77"])
    assert a.stat().st_mtime == before_mtime
    assert np.array_equal(pixels(a), before_pixels)
    assert not list(folder.glob("*_original")) and not list(folder.glob("*.xmp"))
    # b.jpg had no bibs: untouched
    assert read_tags(folder / "b.jpg")["XMP-dc:Subject"] == ["Marathon"]

    data = a.read_bytes()
    again = write_keywords(jobs_from_store(store), KeywordOptions())
    assert again.count("unchanged") == 2 and again.count("written") == 0
    assert a.read_bytes() == data


def test_changed_bib_replaces_only_our_keyword(project):
    folder, store = project
    write_keywords(jobs_from_store(store), KeywordOptions())
    a = store.photo_by_path("a.jpg")
    bib77 = next(b for b in store.bibs(a.id) if b.number == "77")
    store.update_bib(bib77.id, number="78")
    report = write_keywords(jobs_from_store(store), KeywordOptions())
    result = next(r for r in report.results if r.status == "written")
    assert result.added == ["BIB:78"] and result.removed == ["BIB:77"]
    tags = read_tags(folder / "a.jpg")
    for tag in ("XMP-dc:Subject", "IPTC:Keywords"):
        assert sorted(tags[tag]) == sorted(["Marathon", "BIB:1234", "BIB:78"])


def test_new_iptc_block_is_declared_utf8(tmp_path):
    photo = make_jpeg(tmp_path / "plain.jpg", keyword=None)
    write_keywords([KeywordJob(photo, ("5",))], KeywordOptions(prefix="Dossard·"))
    tags = read_tags(photo)
    assert tags["IPTC:Keywords"] == ["Dossard·5"]
    assert tags["IPTC:CodedCharacterSet"] == ["UTF8"]


def test_hierarchical_and_prefix(project):
    folder, store = project
    write_keywords(jobs_from_store(store), KeywordOptions(prefix="bib-", hierarchical=True))
    tags = read_tags(folder / "a.jpg")
    assert sorted(tags["XMP-lr:HierarchicalSubject"]) == ["Bib|1234", "Bib|77"]
    assert sorted(tags["XMP-dc:Subject"]) == sorted(["Marathon", "bib-1234", "bib-77"])


def test_dry_run_leaves_file_byte_identical(project):
    folder, store = project
    a = folder / "a.jpg"
    data = a.read_bytes()
    report = write_keywords(jobs_from_store(store), KeywordOptions(dry_run=True))
    assert report.count("would write") == 1
    assert sorted(next(r for r in report.results if r.status == "would write").added) == ["BIB:1234", "BIB:77"]
    assert a.read_bytes() == data
    assert sorted(p.name for p in folder.iterdir()) == ["a.jpg", "b.jpg"]


def test_sidecar_mode_keeps_original_and_creates_xmp(project):
    folder, store = project
    a = folder / "a.jpg"
    data = a.read_bytes()
    report = write_keywords(jobs_from_store(store), KeywordOptions(sidecar=True))
    assert report.count("written") == 1
    assert a.read_bytes() == data
    assert sorted(read_tags(folder / "a.xmp")["XMP-dc:Subject"]) == ["BIB:1234", "BIB:77"]
    assert not (folder / "b.xmp").exists()  # nothing to record for a photo without bibs
    again = write_keywords(jobs_from_store(store), KeywordOptions(sidecar=True))
    assert again.count("written") == 0


def test_raw_files_get_a_sidecar(tmp_path):
    raw = tmp_path / "IMG_0001.NEF"
    raw.write_bytes(b"not really a raw file, never opened")
    report = write_keywords([KeywordJob(raw, ("42",))], KeywordOptions())
    assert report.count("written") == 1, report.summary()
    assert raw.read_bytes() == b"not really a raw file, never opened"
    assert read_tags(tmp_path / "IMG_0001.xmp")["XMP-dc:Subject"] == ["BIB:42"]


def test_unwritable_photo_falls_back_to_sidecar(tmp_path):
    # The writability check is injected: the test suite may run as root, which ignores permissions.
    photo = make_jpeg(tmp_path / "locked.jpg")
    data = photo.read_bytes()
    report = write_keywords([KeywordJob(photo, ("9",))], KeywordOptions(), writable=lambda p: p.name != "locked.jpg")
    assert report.results[0].sidecar and report.results[0].status == "written"
    assert photo.read_bytes() == data
    assert read_tags(tmp_path / "locked.xmp")["XMP-dc:Subject"] == ["BIB:9"]


def test_bad_file_is_reported_and_the_rest_goes_on(tmp_path):
    bad = tmp_path / "broken.jpg"
    bad.write_bytes(b"\xff\xd8\xff\xe0 this is not a jpeg at all")
    good = make_jpeg(tmp_path / "good ünïcode.jpg")
    missing = tmp_path / "gone.jpg"
    seen = []
    report = write_keywords(
        [KeywordJob(bad, ("1",), "broken.jpg"), KeywordJob(missing, ("2",), "gone.jpg"), KeywordJob(good, ("3",))],
        KeywordOptions(),
        on_result=seen.append,
    )
    errors = {r.sources[0]: r.message for r in report.errors}
    assert set(errors) == {"broken.jpg", "gone.jpg"} and errors["gone.jpg"] == "file not found"
    assert errors["broken.jpg"]  # exiftool's own message
    assert "BIB:3" in read_tags(good)["XMP-dc:Subject"]
    assert len(seen) == 3


def test_missing_exiftool_is_a_clear_error(project, monkeypatch, capsys):
    folder, _ = project
    data = (folder / "a.jpg").read_bytes()
    monkeypatch.setenv("PATH", str(folder))  # a PATH without exiftool
    with pytest.raises(kw.ExiftoolMissing, match="exiftool was not found"):
        kw.find_exiftool()
    assert main(["keywords", str(folder)]) == 1
    assert "exiftool was not found" in capsys.readouterr().err
    assert (folder / "a.jpg").read_bytes() == data


def test_cli_dry_run_then_write_reviewed_only(project, capsys):
    folder, store = project
    assert main(["keywords", str(folder), "--dry-run"]) == 0
    out = capsys.readouterr()
    assert "a.jpg: would write: +BIB:77 +BIB:1234" in out.out
    assert "dry run" in out.err
    # nothing reviewed yet: --reviewed-only writes nothing
    assert main(["keywords", str(folder), "--reviewed-only"]) == 0
    assert "BIB:77" not in read_tags(folder / "a.jpg")["XMP-dc:Subject"]
    store.set_reviewed(store.photo_by_path("a.jpg").id, True)
    assert main(["keywords", str(folder), "--reviewed-only"]) == 0
    assert "BIB:77" in read_tags(folder / "a.jpg")["XMP-dc:Subject"]


def test_one_exiftool_process_serves_many_files(tmp_path, monkeypatch):
    photos = [make_jpeg(tmp_path / f"p{i:03d}.jpg", i, keyword=None) for i in range(30)]
    started = []
    real_popen = subprocess.Popen

    def counting_popen(args, *a, **k):
        started.append(args)
        return real_popen(args, *a, **k)

    monkeypatch.setattr(kw.subprocess, "Popen", counting_popen)
    report = write_keywords([KeywordJob(p, (str(i),)) for i, p in enumerate(photos)], KeywordOptions())
    assert report.count("written") == 30
    assert len(started) == 1
    assert read_tags(photos[29])["XMP-dc:Subject"] == ["BIB:29"]


# ------------------------------------------------------------------ GUI action


def _window(qtbot, store):
    from PySide6.QtWidgets import QMainWindow

    window = QMainWindow()
    qtbot.addWidget(window)
    window.store, window.folder = store, store.folder
    return window


def test_gui_dialog_counts_and_options(qtbot, project):
    from bibtagger_gui.gui.keywords_action import KeywordsDialog

    _, store = project
    dialog = KeywordsDialog(store)
    qtbot.addWidget(dialog)
    assert dialog.summary.text().startswith("2 photos will be checked: 1 carry 2 bib numbers")
    dialog.reviewed_only.setChecked(True)
    assert dialog.summary.text().startswith("0 photos") and not dialog.ok_button.isEnabled()
    dialog.reviewed_only.setChecked(False)
    dialog.dry_run.setChecked(True)
    dialog.prefix.setText("No:")
    assert dialog.options() == KeywordOptions(prefix="No:", dry_run=True)
    assert dialog.ok_button.text() == "Show Changes"


def test_gui_action_writes_in_a_worker(qtbot, project):
    from bibtagger_gui.gui.keywords_action import install

    folder, store = project
    window = _window(qtbot, store)
    controller = install(window)
    controller.interactive = False
    assert controller.action.text() == "Write Keywords to Photos…"
    assert controller.menu.title().replace("&", "") == "Export"
    data = (folder / "a.jpg").read_bytes()
    with qtbot.waitSignal(controller.finished, timeout=30_000) as dry:
        controller.start(jobs_from_store(store), KeywordOptions(dry_run=True))
    assert dry.args[0].count("would write") == 1 and (folder / "a.jpg").read_bytes() == data
    with qtbot.waitSignal(controller.finished, timeout=30_000) as blocker:
        controller.start(jobs_from_store(store), KeywordOptions())
    report = blocker.args[0]
    assert report.count("written") == 1 and controller.worker is None
    assert any("a.jpg: written: +BIB:77 +BIB:1234" in line for line in controller.lines)
    assert "BIB:1234" in read_tags(folder / "a.jpg")["IPTC:Keywords"]


def test_main_window_installs_the_action(qtbot):
    from bibtagger_gui.gui.main_window import MainWindow

    window = MainWindow()
    qtbot.addWidget(window)
    assert window.keywords_controller.action.text() == "Write Keywords to Photos…"
    assert window.startlist_controller.action in window.file_menu.actions()


def test_read_only_photo_gets_a_sidecar_even_for_root(tmp_path):
    # No injected check here: a chmod 444 photo must count as read-only for root too.
    photo = make_jpeg(tmp_path / "locked.jpg")
    photo.chmod(0o444)
    data = photo.read_bytes()
    report = write_keywords([KeywordJob(photo, ("9",))], KeywordOptions())
    assert report.results[0].sidecar and report.results[0].status == "written", report.summary()
    assert photo.read_bytes() == data and photo.stat().st_mode & 0o777 == 0o444
    assert read_tags(tmp_path / "locked.xmp")["XMP-dc:Subject"] == ["BIB:9"]


def test_bibs_kept_from_an_earlier_picture_are_not_written_into_the_new_one(project, capsys):
    # Camera numbering restarts and a second card is copied over the first ("Replace all"): a.jpg is another
    # picture now. The store keeps its human bibs for the new review; they name runners of the old picture, so
    # the keyword run must neither write them into the new one nor, were the old picture put back, remove them.
    folder, store = project
    a = folder / "a.jpg"
    assert main(["keywords", str(folder)]) == 0
    original = a.read_bytes()  # now carrying BIB:77 and BIB:1234
    make_jpeg(a, 5, keyword="Other")  # another runner's photo under the same name
    capsys.readouterr()
    assert main(["keywords", str(folder)]) == 0
    err = capsys.readouterr().err
    assert ("a.jpg: bib(s) 77, 1234 were read on an earlier picture under this name (the file was replaced since): "
            "neither written nor removed until the photo is reviewed") in err, err
    assert read_tags(a)["XMP-dc:Subject"] == ["Other"] and read_tags(a)["IPTC:Keywords"] == ["Other"]
    a.write_bytes(original)  # the old picture put back, with its keywords: they are not removed either
    assert store.scan().replaced == ["a.jpg"]
    store.set_model_bibs(store.photo_by_path("a.jpg").id, [], "test-model")  # recognized: no bib of its own found
    assert main(["keywords", str(folder)]) == 0
    assert sorted(read_tags(a)["XMP-dc:Subject"]) == sorted(["Marathon", "BIB:77", "BIB:1234"]), read_tags(a)
    store.set_reviewed(store.photo_by_path("a.jpg").id, True)  # reviewed: its bibs are this picture's
    make_jpeg(a, 6, keyword=None)
    assert store.scan().replaced == ["a.jpg"] and store.photo_by_path("a.jpg").reviewed is False
    store.set_model_bibs(store.photo_by_path("a.jpg").id, [], "test-model")
    store.set_reviewed(store.photo_by_path("a.jpg").id, True)
    capsys.readouterr()
    assert main(["keywords", str(folder)]) == 0
    assert "a.jpg: written: +BIB:77 +BIB:1234" in capsys.readouterr().out


def test_an_edit_saved_over_a_tagged_photo_keeps_its_bib_keywords(project, capsys):
    # The photographer writes keywords, then brightens a photo in an editor and saves it over the original
    # (metadata kept). The scan takes it for another picture and drops its model bibs until it is recognized
    # again; the keyword run must not then remove BIB:55 from it ("no runner here" without anyone looking).
    folder, store = project
    c = make_jpeg(folder / "c.jpg", 3)
    store.scan()
    store.set_model_bibs(store.photo_by_path("c.jpg").id, [Bib("55", (40, 30, 120, 90), 0.99)], "test-model")
    assert main(["keywords", str(folder)]) == 0
    assert "BIB:55" in read_tags(c)["IPTC:Keywords"]
    edited = make_jpeg(folder.parent / "edited.jpg", 4, keyword=None)  # other pixels, same size
    subprocess.run([EXIFTOOL, "-q", "-overwrite_original", "-tagsfromfile", str(c), "-all:all", str(edited)], check=True)
    shutil.copyfile(edited, c)
    capsys.readouterr()
    assert main(["keywords", str(folder)]) == 0
    err = capsys.readouterr().err
    assert "c.jpg: not recognized yet: its keywords are left as they are" in err, err
    assert "1 left as they are (not recognized yet)" in err.splitlines()[-1]
    assert "BIB:55" in read_tags(c)["IPTC:Keywords"] and "BIB:55" in read_tags(c)["XMP-dc:Subject"]
    with Store.open(folder) as again:  # recognized again: its bibs are known, and written as usual
        photo = again.photo_by_path("c.jpg")
        assert photo.model_version is None and not photo.reviewed  # what the scan made of the edit
        again.set_model_bibs(photo.id, [Bib("56", (40, 30, 120, 90), 0.99)], "test-model")
    assert main(["keywords", str(folder)]) == 0
    assert "c.jpg: written: +BIB:56 -BIB:55" in capsys.readouterr().out


@pytest.mark.parametrize("dry_run", [True, False])
def test_read_only_photos_are_named_with_what_to_do(project, capsys, dry_run):
    # A camera's Protect flag or a copy off a read-only share makes JPEGs read-only: their keywords go to
    # sidecars, which Lightroom and photo-sales sites do not read for a JPEG. The run must say so, not only
    # "written ... (sidecar a.xmp)", and name what to do; a read-only photo without bibs needs no such note.
    folder, store = project
    (folder / "a.jpg").chmod(0o444)
    (folder / "b.jpg").chmod(0o444)  # no bibs: nothing of it goes anywhere
    assert main(["keywords", str(folder), *(["--dry-run"] if dry_run else [])]) == 0
    err = capsys.readouterr().err.splitlines()
    went = "would go" if dry_run else "went"
    assert err[-1].startswith(f"note: 1 photo(s) are read-only, so their keywords {went} to .xmp sidecars"), err
    assert "(first: a.jpg)" in err[-1] and "chmod u+w" in err[-1] and "run this again" in err[-1]
    (folder / "a.jpg").chmod(0o644)
    (folder / "b.jpg").chmod(0o644)
    assert main(["keywords", str(folder)]) == 0  # writable now: into the photo itself, and no note
    err = capsys.readouterr().err
    assert "read-only" not in err and "BIB:1234" in read_tags(folder / "a.jpg")["IPTC:Keywords"]
    # --sidecar asked for sidecars: nothing to warn about
    (folder / "a.jpg").chmod(0o444)
    assert main(["keywords", str(folder), "--sidecar"]) == 0
    assert "read-only" not in capsys.readouterr().err


def test_gui_summary_names_read_only_photos(qtbot, project):
    from bibtagger_gui.gui.keywords_action import install

    folder, store = project
    (folder / "a.jpg").chmod(0o444)
    controller = install(_window(qtbot, store))
    controller.interactive = False
    with qtbot.waitSignal(controller.finished, timeout=30_000) as blocker:
        controller.start(jobs_from_store(store), KeywordOptions())
    assert blocker.args[0].results[0].read_only == ["a.jpg"]
    assert "1 photo(s) are read-only, so their keywords went to .xmp sidecars" in controller.last_message


@pytest.mark.parametrize("dry_run", [True, False])
def test_a_line_break_in_a_file_name_fails_only_that_photo(project, capsys, dry_run):
    folder, store = project
    odd = make_jpeg(folder / "odd\nname.jpg", 3)
    store.scan()
    store.add_bib(store.photo_by_path("odd\nname.jpg").id, "5", None)
    data = odd.read_bytes()
    assert main(["keywords", str(folder), *(["--dry-run"] if dry_run else [])]) == 1  # a photo failed: scripts see it
    out = capsys.readouterr()
    assert out.err.splitlines()[0] == "odd\\nname.jpg: the path contains a line break: rename it"  # one line
    assert "1 error" in out.err.splitlines()[-1]
    assert "a.jpg: " + ("would write" if dry_run else "written") in out.out
    assert odd.read_bytes() == data
    assert ("BIB:1234" in read_tags(folder / "a.jpg")["XMP-dc:Subject"]) != dry_run


def test_raw_files_are_not_part_of_a_project(project, capsys):
    # README: RAW files are not in a project (the scan reads JPEG/PNG/TIFF/BMP/WebP), so no keywords.
    folder, store = project
    raw = folder / "a.NEF"
    raw.write_bytes(b"not really a raw file, never opened")
    store.scan()
    assert sorted(p.relpath for p in store.photos()) == ["a.jpg", "b.jpg"]
    assert main(["keywords", str(folder), "--sidecar"]) == 0
    assert raw.read_bytes() == b"not really a raw file, never opened"
    assert read_tags(folder / "a.xmp")["XMP-dc:Subject"] == ["BIB:77", "BIB:1234"]  # the JPEG's numbers only


def test_a_read_only_folder_is_reported_before_writing_also_in_a_dry_run(public_tmp):
    """A read-only photo in a read-only folder: no sidecar can be written, and the dry run says so.
    As root (which ignores modes) the check runs in a child process as user nobody."""
    import sys
    import textwrap

    base = public_tmp
    folder = base / "photos"
    folder.mkdir()
    make_jpeg(folder / "a.jpg", 1, keyword=None)
    (folder / "a.jpg").chmod(0o444)
    folder.chmod(0o555)
    code = textwrap.dedent(
        """
        import os, sys
        from pathlib import Path
        from bibtagger_gui.core.keywords import KeywordJob, KeywordOptions, plan_targets
        if os.geteuid() == 0:
            os.setgid(65534); os.setuid(65534)
        targets, problems = plan_targets([KeywordJob(Path(sys.argv[1]), ("1234",), "a.jpg")], KeywordOptions(dry_run=True))
        print(len(targets), [p.message for p in problems])
        """
    )
    res = subprocess.run([sys.executable, "-c", code, str(folder / "a.jpg")], capture_output=True, text=True, timeout=60)
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == "0 ['cannot write the sidecar a.xmp: its folder is not writable']"


def test_cli_scans_first_so_a_renamed_photo_keeps_its_bibs(project, capsys):
    # The command works on the folder, not on the last scan: a rename is matched by hash.
    folder, store = project
    (folder / "a.jpg").rename(folder / "Smith_001.jpg")
    assert main(["keywords", str(folder)]) == 0
    out = capsys.readouterr()
    assert "file not found" not in out.err
    assert "1 photo(s) moved or renamed" in out.err
    assert "Smith_001.jpg: written: +BIB:77 +BIB:1234" in out.out
    assert sorted(read_tags(folder / "Smith_001.jpg")["XMP-dc:Subject"]) == sorted(["Marathon", "BIB:1234", "BIB:77"])


def test_cli_reports_scan_errors_and_goes_on(project, capsys):
    folder, _ = project
    bad = os.path.join(os.fsencode(folder), b"bad\xff.jpg")
    shutil.copyfile(folder / "b.jpg", bad)
    assert main(["keywords", str(folder)]) == 1  # a photo could not be handled: scripts see it
    out = capsys.readouterr()
    lines = [ln for ln in out.err.splitlines() if "bad" in ln]
    assert len(lines) == 1, out.err
    assert "1 scan error" in out.err.splitlines()[-1]
    assert "BIB:1234" in read_tags(folder / "a.jpg")["XMP-dc:Subject"]


@pytest.mark.parametrize("dry_run", [True, False])
def test_a_line_break_in_a_bib_number_fails_only_that_photo(project, capsys, dry_run):
    # Possible through `bibtagger import` JSON; it used to abort the whole run.
    folder, store = project
    make_jpeg(folder / "c.jpg", 3)
    store.scan()
    store.add_bib(store.photo_by_path("b.jpg").id, "12\n3", None)
    store.add_bib(store.photo_by_path("c.jpg").id, "5", None)
    data = (folder / "b.jpg").read_bytes()
    assert main(["keywords", str(folder), *(["--dry-run"] if dry_run else [])]) == 1
    out = capsys.readouterr()
    errors = [ln for ln in out.err.splitlines() if ln.startswith("b.jpg")]
    assert errors == ["b.jpg: bib number '12\\n3' contains a line break: correct it"], out.err
    assert "1 error" in out.err.splitlines()[-1]
    for name in ("a.jpg", "c.jpg"):  # the photos before and after it are still done
        assert f"{name}: " + ("would write" if dry_run else "written") in out.out
    assert (folder / "b.jpg").read_bytes() == data
    assert ("BIB:5" in read_tags(folder / "c.jpg")["XMP-dc:Subject"]) != dry_run


def test_a_line_break_in_the_prefix_is_refused_up_front():
    with pytest.raises(kw.KeywordError, match="line break"):
        KeywordOptions(prefix="BIB\n")


def make_image(path: Path, seed: int = 0) -> Path:
    """A small image in the format of ``path``'s extension (BMP, WebP, PNG, TIFF…)."""
    rng = np.random.default_rng(seed)
    assert cv2.imwrite(str(path), rng.integers(0, 255, (60, 80, 3), dtype=np.uint8))
    os.utime(path, (1_500_000_000, 1_500_000_000))
    return path


def test_bmp_gets_a_sidecar_because_exiftool_cannot_write_it(tmp_path):
    # exiftool: "Writing of BMP files is not yet supported" -> the photo is never opened for writing.
    photo = make_image(tmp_path / "shot.bmp")
    data = photo.read_bytes()
    dry = write_keywords([KeywordJob(photo, ("42",))], KeywordOptions(dry_run=True))
    assert [(r.status, r.sidecar, r.path.name) for r in dry.results] == [("would write", True, "shot.xmp")]
    report = write_keywords([KeywordJob(photo, ("42",))], KeywordOptions())
    assert [(r.status, r.sidecar) for r in report.results] == [("written", True)], report.summary()
    assert photo.read_bytes() == data
    assert read_tags(tmp_path / "shot.xmp")["XMP-dc:Subject"] == ["BIB:42"]
    again = write_keywords([KeywordJob(photo, ("42",))], KeywordOptions())
    assert again.count("unchanged") == 1 and not again.errors
    assert write_keywords([KeywordJob(photo, ("42",))], KeywordOptions(dry_run=True)).count("would write") == 0


@pytest.mark.parametrize("ext, iptc", [(".webp", False), (".png", True), (".tif", True)])
def test_other_formats_are_written_once_and_then_unchanged(tmp_path, ext, iptc):
    # exiftool cannot write IPTC into WebP: only XMP is compared and written, so a re-run is "unchanged".
    photo = make_image(tmp_path / f"shot{ext}")
    before = pixels(photo)
    report = write_keywords([KeywordJob(photo, ("42",))], KeywordOptions())
    assert [(r.status, r.sidecar, r.added) for r in report.results] == [("written", False, ["BIB:42"])], report.summary()
    tags = read_tags(photo)
    assert tags["XMP-dc:Subject"] == ["BIB:42"]
    assert ("IPTC:Keywords" in tags) == iptc
    assert np.array_equal(pixels(photo), before)
    data = photo.read_bytes()
    again = write_keywords([KeywordJob(photo, ("42",))], KeywordOptions())
    assert again.count("unchanged") == 1 and not again.errors, [r.describe() for r in again.results]
    assert write_keywords([KeywordJob(photo, ("42",))], KeywordOptions(dry_run=True)).count("would write") == 0
    assert photo.read_bytes() == data


def test_file_dates_are_kept_to_the_nanosecond(tmp_path):
    # exiftool -P sets whole seconds only: burst shots sorted by time would change order.
    photo = make_jpeg(tmp_path / "burst.jpg")
    os.utime(photo, ns=(1_500_000_001_987_654_321, 1_500_000_000_123_456_789))
    report = write_keywords([KeywordJob(photo, ("8",))], KeywordOptions())
    assert report.count("written") == 1 and not report.results[0].message
    st = photo.stat()
    assert (st.st_mtime_ns, st.st_atime_ns) == (1_500_000_000_123_456_789, 1_500_000_001_987_654_321)


def test_a_file_of_another_user_keeps_exiftools_time_message(public_tmp):
    """exiftool can rewrite a 0666 file of another user but not set its time: the write counts,
    the warning stays on that photo's line. As root, the run happens as user nobody."""
    import sys
    import textwrap

    if os.geteuid() != 0:
        pytest.skip("needs root to make a file owned by another user")
    base = public_tmp
    base.chmod(0o1777)
    photo = make_jpeg(base / "a.jpg", 1, keyword=None)
    photo.chmod(0o666)
    code = textwrap.dedent(
        """
        import os, sys
        from pathlib import Path
        from bibtagger_gui.core.keywords import KeywordJob, KeywordOptions, write_keywords
        os.setgid(65534); os.setuid(65534)
        r = write_keywords([KeywordJob(Path(sys.argv[1]), ("1234",), "a.jpg")], KeywordOptions()).results[0]
        print(r.status, r.sidecar, r.message)
        """
    )
    res = subprocess.run([sys.executable, "-c", code, str(photo)], capture_output=True, text=True, timeout=60)
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == "written False Error setting file time"
    assert "BIB:1234" in read_tags(photo)["XMP-dc:Subject"]


def test_our_old_sidecar_follows_a_photo_now_written_in_place(tmp_path):
    # The photo was read-only once (it got locked.xmp); now it is written in place with a corrected bib.
    photo = make_jpeg(tmp_path / "locked.jpg")
    write_keywords([KeywordJob(photo, ("9",))], KeywordOptions(), writable=lambda p: False)
    xmp = tmp_path / "locked.xmp"
    subprocess.run([EXIFTOOL, "-q", "-overwrite_original", "-XMP-dc:Subject+=Finish line", str(xmp)], check=True)
    report = write_keywords([KeywordJob(photo, ("19",))], KeywordOptions())
    lines = sorted(r.describe() for r in report.results)
    assert lines == [f"{photo}: written: +BIB:19", f"{photo}: written: +BIB:19 -BIB:9 (sidecar locked.xmp)"], lines
    assert sorted(read_tags(xmp)["XMP-dc:Subject"]) == ["BIB:19", "Finish line"]
    assert "BIB:19" in read_tags(photo)["XMP-dc:Subject"]
    again = write_keywords([KeywordJob(photo, ("19",))], KeywordOptions())
    assert again.count("unchanged") == 2 and not again.errors


def test_a_sidecar_without_our_keywords_is_left_alone(tmp_path):
    photo = make_jpeg(tmp_path / "a.jpg")
    xmp = tmp_path / "a.xmp"
    subprocess.run([EXIFTOOL, "-q", "-XMP-dc:Subject=Lightroom only", "-o", str(xmp), str(photo)], check=True)
    data = xmp.read_bytes()
    report = write_keywords([KeywordJob(photo, ("3",))], KeywordOptions())
    assert [(r.status, r.sidecar) for r in report.results] == [("written", False)]
    assert xmp.read_bytes() == data


def test_a_photo_moved_right_after_its_keywords_were_written_keeps_its_bibs(project, capsys):
    # Writing keywords changes the file's bytes: the stored hash must follow, or a move before the
    # next scan looks like a new photo (without bibs) and a missing one (with them).
    folder, store = project
    assert main(["keywords", str(folder)]) == 0
    capsys.readouterr()
    (folder / "sub").mkdir()
    (folder / "a.jpg").rename(folder / "sub" / "moved.jpg")
    report = store.scan()
    assert report.moved == [("a.jpg", "sub/moved.jpg")]
    assert sorted(b.number for b in store.bibs(store.photo_by_path("sub/moved.jpg").id)) == ["1234", "77"]


@pytest.mark.parametrize("ext", [".jpg", ".png", ".webp", ".tif"])
def test_metadata_edits_keep_the_review_and_another_picture_does_not(tmp_path, monkeypatch, capsys, ext):
    """Keywords written by us (then refresh_files) or EXIF/XMP/IPTC written by another exiftool run change
    the file's bytes, not its picture: model bibs and review stay. Another picture of the same pixel size
    under the name drops the model bibs and the review; the human correction stays, to be reviewed."""
    monkeypatch.setenv("BIBTAGGER_STORE_DIR", str(tmp_path / "stores"))
    folder = tmp_path / "photos"
    folder.mkdir()
    photo = make_image(folder / f"shot{ext}", 1)
    with Store.open(folder) as store:
        store.scan()
        pid = store.photo_by_path(photo.name).id
        store.set_model_bibs(pid, [Bib("3638", (10, 10, 40, 30), 0.9)], "v1")
        store.add_bib(pid, "77", None)
        store.set_reviewed(pid, True)

        def state() -> tuple:
            p = store.photo(pid)
            return p.reviewed, p.model_version, sorted((b.number, b.source) for b in store.bibs(pid))

        kept = (True, "v1", [("3638", "model"), ("77", "human")])
        data = photo.read_bytes()
        assert main(["keywords", str(folder)]) == 0
        assert photo.read_bytes() != data and state() == kept
        subprocess.run([EXIFTOOL, "-q", "-overwrite_original", "-XMP-dc:Creator=Someone", "-EXIF:Artist=Someone",
                        "-IPTC:City=Bern", str(photo)], check=True, capture_output=True)  # fmt: skip
        os.utime(photo, (1_600_000_000, 1_600_000_000))
        report = store.scan()
        assert (report.updated, report.replaced) == ([photo.name], []) and state() == kept
        make_image(photo, 2)  # another picture, same pixel size
        os.utime(photo, (1_700_000_000, 1_700_000_000))
        if ext == ".tif":  # no image-data hash for TIFF: the pixel size decides, as before
            assert store.scan().replaced == [] and state() == kept
        else:
            assert store.scan().replaced == [photo.name]
            assert state() == (False, None, [("77", "human")])
    capsys.readouterr()


@pytest.fixture
def stem_clash(tmp_path, monkeypatch):
    """A project with IMG_1.jpg (bib 12), IMG_1.png (bib 34) and solo.jpg (bib 56)."""
    monkeypatch.setenv("BIBTAGGER_STORE_DIR", str(tmp_path / "stores"))
    folder = tmp_path / "photos"
    folder.mkdir()
    make_jpeg(folder / "IMG_1.jpg", 1, keyword=None)
    make_image(folder / "IMG_1.png", 2)
    make_jpeg(folder / "solo.jpg", 3, keyword=None)
    store = Store.open(folder)
    store.scan()
    for rel, number in (("IMG_1.jpg", "12"), ("IMG_1.png", "34"), ("solo.jpg", "56")):
        store.add_bib(store.photo_by_path(rel).id, number, None)
    yield folder, store
    store.close()


def test_photos_sharing_a_stem_get_a_sidecar_each(stem_clash):
    """IMG_1.jpg and IMG_1.png used to share IMG_1.xmp (holding both photos' bibs): each gets NAME.EXT.xmp now,
    read back the same way (a re-run changes nothing); a photo without a namesake keeps STEM.xmp."""
    folder, store = stem_clash
    data = {p.name: p.read_bytes() for p in folder.iterdir()}
    dry = write_keywords(jobs_from_store(store), KeywordOptions(sidecar=True, dry_run=True))
    assert sorted((r.path.name, r.sources, r.added) for r in dry.results) == [
        ("IMG_1.jpg.xmp", ["IMG_1.jpg"], ["BIB:12"]),
        ("IMG_1.png.xmp", ["IMG_1.png"], ["BIB:34"]),
        ("solo.xmp", ["solo.jpg"], ["BIB:56"]),
    ]
    report = write_keywords(jobs_from_store(store), KeywordOptions(sidecar=True))
    assert report.count("written") == 3 and not report.errors, report.summary()
    assert read_tags(folder / "IMG_1.jpg.xmp")["XMP-dc:Subject"] == ["BIB:12"]
    assert read_tags(folder / "IMG_1.png.xmp")["XMP-dc:Subject"] == ["BIB:34"]
    assert read_tags(folder / "solo.xmp")["XMP-dc:Subject"] == ["BIB:56"]
    assert not (folder / "IMG_1.xmp").exists()
    assert all((folder / name).read_bytes() == b for name, b in data.items())  # photos untouched
    again = write_keywords(jobs_from_store(store), KeywordOptions(sidecar=True))
    assert again.count("unchanged") == 3 and again.count("written") == 0, again.summary()
    # the sidecar follows its photo's bibs only
    store.add_bib(store.photo_by_path("IMG_1.png").id, "35", None)
    third = write_keywords(jobs_from_store(store), KeywordOptions(sidecar=True))
    assert [(r.path.name, r.added) for r in third.results if r.status == "written"] == [("IMG_1.png.xmp", ["BIB:35"])]
    assert read_tags(folder / "IMG_1.jpg.xmp")["XMP-dc:Subject"] == ["BIB:12"]


def test_a_stem_clash_is_found_case_insensitively_and_only_among_photos(tmp_path):
    for name in ("IMG_1.jpg", "img_1.PNG", "IMG_2.jpg", "IMG_2.CR2", "IMG_2.txt", "IMG_3.tif"):
        (tmp_path / name).write_bytes(b"x")
    assert kw.sidecar_path(tmp_path / "IMG_1.jpg") == tmp_path / "IMG_1.jpg.xmp"
    assert kw.sidecar_path(tmp_path / "img_1.PNG") == tmp_path / "img_1.PNG.xmp"
    assert kw.sidecar_path(tmp_path / "IMG_2.jpg") == tmp_path / "IMG_2.xmp"  # a RAW+JPEG pair: Adobe naming
    assert kw.sidecar_path(tmp_path / "IMG_2.CR2") == tmp_path / "IMG_2.xmp"
    assert kw.sidecar_path(tmp_path / "IMG_3.tif") == tmp_path / "IMG_3.xmp"
    assert kw.sidecar_path(tmp_path / "IMG_3.tif", clash=True) == tmp_path / "IMG_3.tif.xmp"


def test_the_sidecar_two_namesakes_shared_loses_our_keywords(stem_clash):
    """An IMG_1.xmp written for both IMG_1 photos (before they got a sidecar each) holds their union: our
    keywords are taken out of it (others kept), so no program reads one photo's bibs for the other."""
    folder, store = stem_clash
    shared = folder / "IMG_1.xmp"
    subprocess.run([EXIFTOOL, "-q", "-XMP-dc:Subject=BIB:12", "-XMP-dc:Subject=BIB:34", "-XMP-dc:Subject=Finish line",
                    "-o", str(shared), str(folder / "IMG_1.jpg")], check=True)  # fmt: skip
    # IMG_1.png is read-only: it gets its own sidecar; IMG_1.jpg and solo.jpg are written in place
    report = write_keywords(jobs_from_store(store), KeywordOptions(), writable=lambda p: p.name != "IMG_1.png")
    lines = sorted(r.describe() for r in report.results)
    assert lines == [
        "IMG_1.jpg, IMG_1.png: written: -BIB:12 -BIB:34 (sidecar IMG_1.xmp)",
        "IMG_1.jpg: written: +BIB:12",
        "IMG_1.png: written: +BIB:34 (sidecar IMG_1.png.xmp)",
        "solo.jpg: written: +BIB:56",
    ], lines
    assert read_tags(shared)["XMP-dc:Subject"] == ["Finish line"]
    assert read_tags(folder / "IMG_1.png.xmp")["XMP-dc:Subject"] == ["BIB:34"]
    assert read_tags(folder / "IMG_1.jpg")["XMP-dc:Subject"] == ["BIB:12"]
    again = write_keywords(jobs_from_store(store), KeywordOptions(), writable=lambda p: p.name != "IMG_1.png")
    assert again.count("written") == 0 and not again.errors, again.summary()


def test_a_sidecar_left_by_a_former_namesake_follows_its_photo(stem_clash):
    folder, store = stem_clash
    write_keywords(jobs_from_store(store), KeywordOptions(sidecar=True))
    (folder / "IMG_1.png").unlink()  # no clash any more: IMG_1.jpg's sidecar is IMG_1.xmp again
    (folder / "IMG_1.png.xmp").unlink()
    store.scan()
    bib = store.bibs(store.photo_by_path("IMG_1.jpg").id)[0]
    store.update_bib(bib.id, number="13")
    report = write_keywords(jobs_from_store(store), KeywordOptions(sidecar=True))
    assert sorted((r.path.name, r.status, r.added, r.removed) for r in report.results) == [
        ("IMG_1.jpg.xmp", "written", ["BIB:13"], ["BIB:12"]),
        ("IMG_1.xmp", "written", ["BIB:13"], []),
        ("solo.xmp", "unchanged", [], []),
    ]
    assert read_tags(folder / "IMG_1.jpg.xmp")["XMP-dc:Subject"] == ["BIB:13"]


def test_summary_says_how_many_of_the_counted_files_are_sidecars():
    """A run over photos with sidecars counts files: the summary says which are sidecars, so
    "24 photo(s): 44 unchanged" no longer reads as 44 photos."""
    from bibtagger_gui.core.keywords import FileResult, KeywordReport

    photos = [FileResult(Path(f"p{i}.jpg"), [f"p{i}.jpg"], "unchanged") for i in range(3)]
    sidecars = [FileResult(Path(f"p{i}.xmp"), [f"p{i}.jpg"], "unchanged", sidecar=True) for i in range(2)]
    written = [FileResult(Path("q.jpg"), ["q.jpg"], "written")]
    assert KeywordReport(written + photos + sidecars).summary() == "1 written, 5 unchanged (3 photo file(s), 2 sidecar(s))"
    assert KeywordReport(written + photos).summary() == "1 written, 3 unchanged"
