"""Windows/macOS behaviour, tested on Linux by setting sys.platform or by making the OS calls fail
the way they fail there (docs/portability.md)."""

from __future__ import annotations

import errno
import json
import os
import re
import shutil
import sys
import unicodedata
from pathlib import Path

import pytest

from bibtagger_gui.cli import main
from bibtagger_gui.core import annotations, catalogue, exporters, keywords, mturk, portable, store as store_mod
from bibtagger_gui.core.annotations import atomic_write_text, parse_annotations
from bibtagger_gui.core.importers import import_annotations
from bibtagger_gui.core.store import Store
from tests.test_gui_support import make_photos
from tests.test_mturk import answer, row, write_csv

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def _stores(tmp_path, monkeypatch):
    monkeypatch.setenv("BIBTAGGER_STORE_DIR", str(tmp_path / "stores"))


# --------------------------------------------------------------------------- per-user data folder


def test_user_data_dir_per_platform(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    env = {"LOCALAPPDATA": str(tmp_path / "AppData" / "Local")}
    assert portable.user_data_dir("win32", env) == tmp_path / "AppData" / "Local" / "bibtagger"
    assert portable.user_data_dir("win32", {}) == tmp_path / "home" / "AppData" / "Local" / "bibtagger"
    assert portable.user_data_dir("darwin", {}) == tmp_path / "home" / "Library" / "Application Support" / "bibtagger"
    assert portable.user_data_dir("linux", {}) == tmp_path / "home" / ".local" / "share" / "bibtagger"
    assert portable.user_data_dir("darwin", {"XDG_DATA_HOME": str(tmp_path / "x")}) == tmp_path / "x" / "bibtagger"


def test_read_only_fallback_lives_in_the_platform_data_dir(tmp_path, monkeypatch):
    monkeypatch.delenv("XDG_DATA_HOME", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setattr(sys, "platform", "darwin")
    db = store_mod.fallback_db_path(tmp_path)
    assert db.is_relative_to(tmp_path / "home" / "Library" / "Application Support" / "bibtagger" / "projects")
    monkeypatch.setattr(sys, "platform", "win32")
    monkeypatch.setenv("LOCALAPPDATA", str(tmp_path / "local"))
    assert store_mod.fallback_db_path(tmp_path).is_relative_to(tmp_path / "local" / "bibtagger" / "projects")


# --------------------------------------------------------------------------- file names


@pytest.mark.parametrize("name", ["CON", "nul", "Aux", "COM1", "lpt9", "con.txt", "NUL .jpg", "COM¹"])
def test_windows_device_names_are_never_built(name):
    assert portable.is_windows_reserved(name)
    assert not portable.is_windows_reserved(portable.windows_safe_name(name))
    assert not portable.is_windows_reserved(exporters.safe_name(name))


def test_windows_safe_name_characters_and_trailing_dots():
    assert portable.windows_safe_name('a<b>c:d"e/f\\g|h?i*j') == "a_b_c_d_e_f_g_h_i_j"
    assert portable.windows_safe_name("photo. . ") == "photo"
    assert portable.windows_safe_name("...") == "_"
    assert portable.windows_safe_name("CONSOLE") == "CONSOLE"  # only the exact device names


def test_shorten_name_keeps_extension_and_tells_long_names_apart():
    a, b = "x" * 300 + "a.jpg", "x" * 300 + "b.jpg"
    sa, sb = portable.shorten_name(a), portable.shorten_name(b)
    assert len(sa) <= portable.MAX_BUILT_NAME and sa.endswith(".jpg") and sa != sb
    assert portable.shorten_name("short.jpg") == "short.jpg"


def test_name_key_ignores_case_and_unicode_normalisation():
    nfd, nfc = unicodedata.normalize("NFD", "Café.JPG"), unicodedata.normalize("NFC", "café.jpg")
    assert nfd != nfc and portable.name_key(nfd) == portable.name_key(nfc)


@pytest.fixture
def project(tmp_path):
    folder = tmp_path / "photos"
    made = make_photos(folder, 3)
    with Store.open(folder) as store:
        store.scan()
        for rel, number, box in made:
            store.add_bib(store.photo_by_path(rel).id, number, box)
        store.add_bib(store.photo_by_path(made[0][0]).id, "CON", made[0][2])
    return folder, made


def test_bibfolders_never_name_a_folder_after_a_windows_device(project, tmp_path):
    folder, made = project
    with Store.open(folder) as store:
        rep, _ = exporters.export(store, "bibfolders", tmp_path / "out")
    assert not rep.errors
    names = {p.name for p in (tmp_path / "out").iterdir() if p.is_dir()}
    assert "CON_" in names and not any(portable.is_windows_reserved(n) for n in names)


def test_crops_and_bibfolders_of_a_deep_relpath_stay_short(tmp_path):
    folder = tmp_path / "photos"
    made = make_photos(folder, 1)
    deep = Path(*[f"very_long_folder_name_number_{i:02d}" for i in range(9)])  # relpath of ~300 characters
    (folder / deep).mkdir(parents=True)
    shutil.move(folder / made[0][0], folder / deep / made[0][0])
    with Store.open(folder) as store:
        store.scan()
        (photo,) = store.photos()
        assert len(photo.relpath) > 255
        store.add_bib(photo.id, made[0][1], made[0][2])
        for fmt in ("crops", "bibfolders"):
            rep, _ = exporters.export(store, fmt, tmp_path / fmt)
            assert not rep.errors and rep.written == 1, (fmt, rep)
    (crop,) = (tmp_path / "crops").glob("*.png")
    (link,) = (tmp_path / "bibfolders" / made[0][1]).iterdir()
    assert len(crop.name) <= portable.MAX_BUILT_NAME and len(link.name) <= portable.MAX_BUILT_NAME
    assert link.read_bytes() == (folder / deep / made[0][0]).read_bytes()


def _refuse_symlinks(monkeypatch) -> list:
    calls = []

    def symlink(src, dst, *a, **k):
        calls.append(dst)
        exc = OSError(errno.EPERM, "A required privilege is not held by the client")
        exc.winerror = 1314  # what Windows without Developer Mode answers
        raise exc

    monkeypatch.setattr(exporters.os, "symlink", symlink)
    return calls


def test_bibfolders_fall_back_to_hard_links_when_symlinks_are_refused(project, tmp_path, monkeypatch):
    folder, made = project
    calls = _refuse_symlinks(monkeypatch)
    with Store.open(folder) as store:
        rep, _ = exporters.export(store, "bibfolders", tmp_path / "out")
    assert not rep.errors and rep.written == len(made) + 1
    assert len(calls) == 1  # asked once, not once per photo
    assert len(rep.notes) == 1 and "hard-linked" in rep.notes[0]
    for rel, number, _ in made:
        dst = tmp_path / "out" / number / rel
        assert not dst.is_symlink() and os.path.samefile(dst, folder / rel)


def test_bibfolders_copy_when_hard_links_are_refused_too(project, tmp_path, monkeypatch, capsys):
    folder, made = project
    _refuse_symlinks(monkeypatch)

    def link(src, dst, *a, **k):
        raise OSError(errno.EXDEV, "Invalid cross-device link")

    monkeypatch.setattr(exporters.os, "link", link)
    assert main(["export", str(folder), "--format", "bibfolders", "--out", str(tmp_path / "out")]) == 0
    err = capsys.readouterr().err
    assert "note: symbolic links cannot be made" in err and "note: hard links cannot be made" in err
    for rel, number, _ in made:
        dst = tmp_path / "out" / number / rel
        assert dst.is_file() and not os.path.samefile(dst, folder / rel)
        assert dst.read_bytes() == (folder / rel).read_bytes()


# --------------------------------------------------------------------------- replacing a file in use


def _flaky_replace(monkeypatch, failures: int) -> list:
    real, calls = os.replace, []

    def replace(src, dst):
        calls.append(dst)
        if len(calls) <= failures:
            raise PermissionError(errno.EACCES, "Access is denied")
        real(src, dst)

    monkeypatch.setattr(portable.os, "replace", replace)
    return calls


def test_replace_waits_for_a_program_holding_the_file_on_windows(tmp_path, monkeypatch):
    monkeypatch.setattr(sys, "platform", "win32")
    monkeypatch.setattr(portable, "_REPLACE_PAUSE_S", 0.001)
    calls = _flaky_replace(monkeypatch, 3)
    target = tmp_path / "export.csv"
    target.write_text("old", encoding="utf-8")
    atomic_write_text(target, "new")  # annotations.atomic_write_bytes goes through portable.replace
    assert target.read_text(encoding="utf-8") == "new" and len(calls) == 4
    assert not list(tmp_path.glob(".*tmp"))


def test_replace_gives_up_with_a_clear_message(tmp_path, monkeypatch):
    monkeypatch.setattr(portable, "_REPLACE_PAUSE_S", 0.001)
    _flaky_replace(monkeypatch, 10**6)
    target = tmp_path / "export.csv"
    target.write_text("old", encoding="utf-8")
    with pytest.raises(PermissionError, match="export.csv is in use by another program"):
        portable.replace(tmp_path / "missing", target, platform="win32", wait_s=0.02)
    calls = _flaky_replace(monkeypatch, 10**6)
    with pytest.raises(PermissionError, match="Access is denied"):  # elsewhere a PermissionError is final
        portable.replace(tmp_path / "missing", target, platform="linux")
    assert len(calls) == 1
    with pytest.raises(PermissionError):
        annotations.atomic_write_text(target, "new")
    assert target.read_text(encoding="utf-8") == "old" and not list(tmp_path.glob(".*tmp"))


# --------------------------------------------------------------------------- folder scan


def test_scan_walks_every_folder_where_the_file_system_has_no_inode_numbers(tmp_path, monkeypatch):
    folder = tmp_path / "photos"
    made = make_photos(folder, 3)
    for i, (rel, _, _) in enumerate(made[1:]):
        (folder / f"sub{i}").mkdir()
        shutil.move(folder / rel, folder / f"sub{i}" / rel)
    real_stat = os.stat

    def stat(path, *a, **k):  # FAT/exFAT, some network shares: st_ino is 0 for everything
        st = real_stat(path, *a, **k)
        return os.stat_result((st.st_mode, 0, st.st_dev, st.st_nlink, st.st_uid, st.st_gid, st.st_size,
                               int(st.st_atime), int(st.st_mtime), int(st.st_ctime)))  # fmt: skip

    monkeypatch.setattr(catalogue.os, "stat", stat)
    found = list(catalogue.walk_photos(folder))
    assert found == sorted([made[0][0], f"sub0/{made[1][0]}", f"sub1/{made[2][0]}"])


def test_scan_still_stops_link_loops_without_inode_numbers(tmp_path, monkeypatch):
    folder, outside = tmp_path / "photos", tmp_path / "elsewhere"
    make_photos(outside, 1)
    (outside / "loop").symlink_to(outside, target_is_directory=True)  # outside the folder: not skipped as a link into it
    folder.mkdir()
    (folder / "linked").symlink_to(outside, target_is_directory=True)
    real_stat = os.stat
    monkeypatch.setattr(catalogue.os, "stat", lambda p, *a, **k: os.stat_result((0o40755, 0, *real_stat(p)[2:10])))
    assert list(catalogue.walk_photos(folder)) == ["linked/photo_000.jpg"]


# --------------------------------------------------------------------------- names from other machines


def _nfd_photo_folder(tmp_path) -> tuple[Path, str, str]:
    """A folder whose photo has an NFD name (as macOS may hand it out); returns (folder, nfd_rel, nfc_rel)."""
    folder = tmp_path / "photos"
    (rel, _, _), = make_photos(folder / "sub", 1)
    nfd = unicodedata.normalize("NFD", "Zieleinlauf_Müller.jpg")
    (folder / "sub" / rel).rename(folder / "sub" / nfd)
    return folder, f"sub/{nfd}", "sub/" + unicodedata.normalize("NFC", nfd)


def test_import_matches_an_nfc_name_to_an_nfd_file(tmp_path):
    folder, nfd_rel, nfc_rel = _nfd_photo_folder(tmp_path)
    assert nfd_rel != nfc_rel
    with Store.open(folder) as store:
        store.scan()
        entries = parse_annotations([{"image": nfc_rel, "bibs": [{"number": "123"}]},
                                     {"image": "elsewhere/" + nfc_rel.split("/")[1].upper(), "bibs": [{"number": "5"}]}],
                                    "a.json")  # fmt: skip
        rep = import_annotations(store, entries[:1], source="human")
        assert [b.number for b in store.bibs(store.photo_by_path(nfd_rel).id)] == ["123"] and not rep.by_name
        rep = import_annotations(store, entries[1:], source="human")  # by file name: case and form ignored
        assert rep.by_name == [(entries[1].image, nfd_rel)]


def test_mturk_matches_an_nfc_name_to_an_nfd_file(tmp_path):
    folder, nfd_rel, nfc_rel = _nfd_photo_folder(tmp_path)
    name = nfc_rel.split("/")[1]
    batch = mturk.read_batch(write_csv(tmp_path / "batch.csv", [row("A1", name, answer((10, 10, 50, 30, "123")))]))
    match = mturk.match_photos(batch, folder)
    assert match.present[name].relpath == nfd_rel and not match.missing
    with Store.open(folder) as store:
        store.scan()
        match = mturk.match_photos(batch, store)
        assert match.present[name].relpath == nfd_rel and not match.missing


# --------------------------------------------------------------------------- exiftool, console, image I/O


def test_exiftool_download_name_left_unrenamed_is_named_in_the_message(tmp_path):
    (tmp_path / "exiftool(-k).exe").write_bytes(b"MZ")
    with pytest.raises(keywords.ExiftoolMissing, match=re.escape("exiftool(-k).exe is there but must be renamed")):
        keywords.find_exiftool(path=str(tmp_path))


def test_packaged_app_finds_exiftool_beside_its_executable(tmp_path, monkeypatch):
    app = tmp_path / "app"
    app.mkdir()
    tool = app / "exiftool"
    tool.write_text("#!/bin/sh\n", encoding="utf-8")
    tool.chmod(0o755)
    empty = tmp_path / "empty"
    empty.mkdir()
    monkeypatch.setattr(sys, "frozen", True, raising=False)
    monkeypatch.setattr(sys, "executable", str(app / "bibtagger"))
    assert keywords.find_exiftool(path=str(empty)) == str(tool)


def test_cli_runs_without_a_console(tmp_path, monkeypatch):
    """The windowed Windows app has sys.stdout = None: finishing a command must not raise."""
    monkeypatch.setattr(sys, "stdout", None)
    assert main(["find", str(tmp_path / "nope"), "1"]) == 1


def test_no_path_based_opencv_image_io():
    """cv2.imread/imwrite/VideoCapture cannot open non-ASCII paths on Windows: bytes only
    (np.fromfile + cv2.imdecode, cv2.imencode + an atomic write)."""
    bad = re.compile(r"cv2\.(imread|imwrite|imreadmulti|VideoCapture|VideoWriter)\(")
    hits = [f"{p.relative_to(REPO)}:{i}" for root in ("bibtagger_gui", "training") for p in (REPO / root).rglob("*.py")
            for i, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1) if bad.search(line)]  # fmt: skip
    assert hits == []


def test_training_preview_sheet_writes_to_a_non_ascii_path(tmp_path):
    from training.synth_bibs import write_image

    import numpy as np

    out = tmp_path / "Vorschau_ß_日本" / "sheet.png"
    out.parent.mkdir()
    write_image(out, np.zeros((8, 8, 3), np.uint8))
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_photo_replacement_waits_for_a_viewer_holding_the_photo_on_windows(tmp_path, monkeypatch):
    from bibtagger_gui.core import replace_file

    monkeypatch.setattr(sys, "platform", "win32")
    monkeypatch.setattr(portable, "_REPLACE_PAUSE_S", 0.001)
    calls = _flaky_replace(monkeypatch, 2)
    photo, new = tmp_path / "IMG_1.jpg", tmp_path / "IMG_1.jpg.new"
    photo.write_bytes(b"old")
    new.write_bytes(b"new")
    replace_file.install(new, photo)
    assert photo.read_bytes() == b"new" and len(calls) == 3
