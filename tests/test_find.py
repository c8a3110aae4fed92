"""`bibtagger find DIR NUMBER` over a real store."""

from __future__ import annotations

import shutil

import cv2
import numpy as np
import pytest

from bibtagger_gui.cli import main
from bibtagger_gui.cli.find_cmd import find_photos
from bibtagger_gui.core.store import Store


@pytest.fixture
def store(tmp_path, monkeypatch):
    monkeypatch.setenv("BIBTAGGER_STORE_DIR", str(tmp_path / "stores"))
    folder = tmp_path / "photos"
    (folder / "sub").mkdir(parents=True)
    numbers = {"a.jpg": ["12", "1234"], "sub/b.jpg": ["123"], "c.jpg": ["A12"], "d.jpg": []}
    for name in numbers:
        cv2.imwrite(str(folder / name), np.full((30, 40, 3), 100, np.uint8))
    s = Store.open(folder)
    s.scan()
    for name, bibs in numbers.items():
        for n in bibs:
            s.add_bib(s.photo_by_path(name).id, n, None)
    yield s
    s.close()


def test_exact_and_prefix(store):
    assert find_photos(store, "12") == ["a.jpg"]
    assert find_photos(store, "123") == ["sub/b.jpg"]
    assert find_photos(store, "a12") == ["c.jpg"]  # letters match case-insensitively
    assert find_photos(store, "12", prefix=True) == ["a.jpg", "sub/b.jpg"]
    assert find_photos(store, "5") == [] and find_photos(store, " ") == []


def test_cli_prints_relpaths(store, capsys):
    assert main(["find", str(store.folder), "123", "--prefix"]) == 0
    captured = capsys.readouterr()
    assert captured.out.splitlines() == ["a.jpg", "sub/b.jpg"]
    assert "2 photo(s)" in captured.err


def test_cli_without_project(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("BIBTAGGER_STORE_DIR", str(tmp_path / "stores"))
    assert main(["find", str(tmp_path), "1"]) == 1
    assert "no bibtagger project" in capsys.readouterr().err
    assert main(["find", str(tmp_path / "nope"), "1"]) == 1
    assert "no such folder" in capsys.readouterr().err


def test_cli_find_and_export_see_a_photo_renamed_since_the_last_scan(store, capsys):
    folder = store.folder
    (folder / "a.jpg").rename(folder / "Smith_Ann_001.jpg")  # after predict: the photographer renames
    assert main(["find", str(folder), "1234"]) == 0
    assert capsys.readouterr().out.splitlines() == ["Smith_Ann_001.jpg"]
    assert main(["export", str(folder), "--format", "csv"]) == 0
    out = capsys.readouterr().out
    assert "Smith_Ann_001.jpg" in out and "a.jpg" not in out.replace("Smith_Ann_001.jpg", "")


def test_cli_export_and_find_on_a_copy_of_the_shoot(tmp_path, capsys):
    """A shoot copied with its .bibtagger (to an external drive, for a client) while the original stays:
    export refused the copy ("… is the project database of <original>"), as if it were given with --store."""
    original = tmp_path / "Race"
    original.mkdir()
    cv2.imwrite(str(original / "a.jpg"), np.full((30, 40, 3), 100, np.uint8))
    with Store.open(original) as s:
        s.scan()
        s.add_bib(s.photo_by_path("a.jpg").id, "1234", None)
    copy = tmp_path / "Race copy"
    shutil.copytree(original, copy)
    assert main(["export", str(copy), "--format", "csv"]) == 0, capsys.readouterr().err
    assert [r.split(",")[:2] for r in capsys.readouterr().out.lstrip("\ufeff").splitlines()[1:]] == [["a.jpg", "1234"]]
    assert main(["find", str(copy), "1234"]) == 0
    assert capsys.readouterr().out.splitlines() == ["a.jpg"]


def test_cli_reads_the_number_as_the_search_box_does_and_refuses_none(store, capsys):
    """A pasted " 123 " is 123 (its line says so), "12*" is a prefix search as in the GUI's search box, and an
    empty or blank number is refused (it read "0 photo(s) with bib " and exit 0)."""
    folder = str(store.folder)
    assert main(["find", folder, " 123 "]) == 0
    captured = capsys.readouterr()
    assert captured.out.splitlines() == ["sub/b.jpg"] and "1 photo(s) with bib 123\n" in captured.err
    assert main(["find", folder, "12*"]) == 0
    assert capsys.readouterr().out.splitlines() == find_photos(store, "12", prefix=True)
    for blank in ("", "  ", "*"):
        assert main(["find", folder, blank]) == 2
        captured = capsys.readouterr()
        assert captured.out == "" and "no bib number to look for" in captured.err


def test_cli_export_names_a_missing_store_file_instead_of_asking_for_a_project(store, tmp_path, capsys):
    """`export --store missing.db` (a typo in the path) said "no bibtagger project yet (run `bibtagger predict …`)"
    of a folder that has one; it names the missing file now, and makes none."""
    missing = tmp_path / "missing.db"
    assert main(["export", str(store.folder), "--format", "csv", "--store", str(missing)]) == 1
    err = capsys.readouterr().err
    assert f"{missing}: no such database file" in err and "no bibtagger project" not in err
    assert not missing.exists()


@pytest.mark.parametrize("command", [
    ["find", "{dir}", "1"], ["export", "{dir}", "--format", "csv"], ["import", "{dir}", "{json}"], ["predict", "{dir}"],
    ["keywords", "{dir}"], ["startlist", "check", "{dir}"],
])  # fmt: skip
def test_cli_says_no_such_folder_for_a_missing_folder_and_not_a_folder_for_a_file(command, tmp_path, capsys, monkeypatch):
    """A folder that is not there said "not a folder" (as the GUI did before `bibtagger gui nonexist` was fixed);
    every command now says what the GUI says (core.store.folder_problem): "no such folder", a file "not a folder"."""
    monkeypatch.setenv("BIBTAGGER_STORE_DIR", str(tmp_path / "stores"))
    (tmp_path / "x.json").write_text("[]")
    a_file = tmp_path / "a.jpg"
    a_file.write_bytes(b"not a folder either")
    for target, why in ((tmp_path / "nope", "no such folder"), (a_file, "not a folder")):
        args = [a.format(dir=target, json=tmp_path / "x.json") for a in command]
        assert main(args) == 1
        assert capsys.readouterr().err.splitlines()[-1] == f"{target}: {why}"


def test_find_and_export_name_photos_not_recognized_yet(store, capsys, tmp_path):
    # A late card copied into the shoot after `predict`: find and the organiser's export would silently leave its
    # runners out (the export lists its photos without bibs). Both say so, with what to do; d.jpg is that photo.
    folder = store.folder
    assert main(["find", str(folder), "12"]) == 0
    err = capsys.readouterr().err.splitlines()
    assert err[-1] == (f"note: 1 photo(s) not recognized yet, so without bibs here (first: d.jpg): recognize them "
                       f"first (`bibtagger predict {folder}`, or let the app finish), then run this again")
    out = tmp_path / "bibs.csv"
    assert main(["export", str(folder), "--format", "bibcsv", "--out", str(out)]) == 0
    assert "note: 1 photo(s) not recognized yet" in capsys.readouterr().err
    assert main(["export", str(folder), "--format", "bibcsv", "--out", str(out), "--only", "sub/*"]) == 0
    assert "not recognized" not in capsys.readouterr().err  # d.jpg is not in this export
    store.set_model_bibs(store.photo_by_path("d.jpg").id, [], "test-model")  # recognized: no bib found
    assert main(["find", str(folder), "12"]) == 0
    assert main(["export", str(folder), "--format", "bibcsv", "--out", str(out)]) == 0
    assert "not recognized" not in capsys.readouterr().err


def test_find_leaves_out_bibs_read_on_an_earlier_picture_under_the_name(store, capsys):
    # A second card copied over the first ("Replace all"): a.jpg is another runner's photo now. Its bibs 12 and 1234
    # were read on the old picture; keywords leave them out until the photo is reviewed, and so does find.
    folder = store.folder
    cv2.imwrite(str(folder / "a.jpg"), np.full((30, 40, 3), 200, np.uint8))  # another picture under the name
    assert main(["find", str(folder), "1234"]) == 0
    captured = capsys.readouterr()
    assert captured.out == "" and "0 photo(s) with bib 1234" in captured.err
    assert ("note: 1 photo(s) not listed, whose bib 1234 was read on an earlier picture under their name (the file was "
            "replaced since): a.jpg; open them in the app to confirm or delete that bib") in captured.err, captured.err
    assert store.photo_by_path("a.jpg").reviewed is False
    assert find_photos(store, "12", prefix=True) == ["sub/b.jpg"]
    assert main(["find", str(folder), "123"]) == 0
    assert "not listed" not in capsys.readouterr().err  # 123 was never a.jpg's
    store.set_reviewed(store.photo_by_path("a.jpg").id, True)  # the reviewer kept them: they are this picture's
    assert main(["find", str(folder), "1234"]) == 0
    captured = capsys.readouterr()
    assert captured.out.splitlines() == ["a.jpg"] and "not listed" not in captured.err


def test_find_says_which_files_the_scan_skipped_and_why(store, capsys):
    """`find` said nothing of the files its scan skipped (a name that is not valid UTF-8, a file that is no image, a
    HEIC), whose bibs it cannot look at; it says each and why, as predict does, and how many."""
    import os

    folder = store.folder
    try:
        shutil.copy(folder / "a.jpg", os.path.join(os.fsencode(folder), b"bad\xff.jpg"))
    except (OSError, UnicodeError):  # a file system that holds only UTF-8 names (macOS)
        pytest.skip("this file system refuses a name that is not UTF-8")
    (folder / "text.jpg").write_text("not a photo")
    (folder / "IMG_1.heic").write_bytes(b"\x00\x00\x00\x18ftypheic")
    for _ in range(2):  # each run says it, not only the scan that first met them
        assert main(["find", str(folder), "12"]) == 0
        out, err = capsys.readouterr()
        assert out.splitlines() == ["a.jpg"]
        assert err.splitlines()[:5] == [  # then the note on d.jpg, which predict has not read
            f"{folder / 'bad?.jpg'}: file name is not valid UTF-8; rename it",
            f"{folder / 'text.jpg'}: not an image (unrecognized file content)",
            "1 file(s) in formats bibtagger cannot read were left out (1 HEIC): convert them to JPEG",
            "note: 3 file(s) skipped by the scan (above): no bibs of theirs are looked at",
            "1 photo(s) with bib 12",
        ]


def test_a_skipped_file_whose_photo_holds_bibs_is_not_said_to_have_none_looked_at(store, capsys):
    """A photo whose file broke after its bibs were typed (a card error, a copy cut short) is skipped by the scan
    ("not an image") but keeps its bibs in the project, and find lists it: the note said "no bibs of theirs are looked
    at" above the very photo it then found. It says the project's bibs of it are looked at."""
    folder = store.folder
    pid = store.photo_by_path("a.jpg").id
    assert [b.number for b in store.bibs(pid)] == ["12", "1234"]
    (folder / "a.jpg").write_text("not a photo any more")
    assert main(["find", str(folder), "12"]) == 0
    out, err = capsys.readouterr()
    assert out.splitlines() == ["a.jpg"]  # its bib is looked at
    assert f"{folder / 'a.jpg'}: not an image (unrecognized file content)" in err.splitlines()
    assert "no bibs of theirs are looked at" not in err, err
    assert ("note: 1 file(s) skipped by the scan (above): not read for bibs; the bibs the project already holds for 1 "
            "of them (typed or imported) are looked at") in err.splitlines(), err
