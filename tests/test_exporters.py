"""core/exporters + `bibtagger export` on a real store built from demo photos."""

from __future__ import annotations

import csv
import io
import json
import os
from pathlib import Path

import cv2
import numpy as np
import pytest

from bibtagger_gui.cli import main
from bibtagger_gui.core.demo import generate
from bibtagger_gui.core.imageio import load_image
from bibtagger_gui.core.store import Store


@pytest.fixture
def project(tmp_path):
    """Demo photos whose ground truth is in the store as human bibs; photo 1 reviewed, photo 2 EXIF-rotated."""
    folder = tmp_path / "demo"
    truth = generate(folder, count=6, seed=4, size=(320, 480))
    with Store.open(folder) as store:
        store.scan()
        for t in truth:
            pid = store.photo_by_path(t.image).id
            for b in t.bibs:
                store.add_bib(pid, b.number, b.box)
        store.add_bib(store.photo_by_path("race_003.jpg").id, "777", None)  # a bib without a box
        store.set_reviewed(store.photo_by_path("race_001.jpg").id, True)
    return folder, {t.image: t for t in truth}


def run_export(capsys, *args: str) -> str:
    assert main(["export", *args]) == 0, capsys.readouterr().err
    return capsys.readouterr().out


def test_csv_and_bibcsv(project, capsys):
    folder, truth = project
    rows = list(csv.DictReader(io.StringIO(run_export(capsys, str(folder), "--format", "csv"))))
    assert {r["image"] for r in rows} == set(truth)
    n_bibs = sum(len(t.bibs) for t in truth.values()) + 1
    assert sum(1 for r in rows if r["number"]) == n_bibs
    assert sum(1 for r in rows if not r["number"]) == sum(1 for t in truth.values() if not t.bibs)
    first = truth["race_001.jpg"].bibs[0]
    row = next(r for r in rows if r["image"] == "race_001.jpg" and r["number"] == first.number)
    assert tuple(float(row[k]) for k in ("x1", "y1", "x2", "y2")) == first.box and row["source"] == "human"
    by_number = {r["number"]: r for r in csv.DictReader(io.StringIO(run_export(capsys, str(folder), "--format", "bibcsv")))}
    for image, t in truth.items():
        for b in t.bibs:
            assert image in by_number[b.number]["images"].split(";")
    assert by_number["777"]["images"] == "race_003.jpg" and by_number["777"]["count"] == "1"
    reviewed = list(csv.DictReader(io.StringIO(run_export(capsys, str(folder), "--format", "csv", "--reviewed-only"))))
    assert {r["image"] for r in reviewed} == {"race_001.jpg"}


def test_json_and_coco(project, tmp_path, capsys):
    folder, truth = project
    out = tmp_path / "ann.json"
    run_export(capsys, str(folder), "--format", "json", "--out", str(out))
    entries = {e["image"]: e for e in json.loads(out.read_text())}
    assert {k: [(b["number"], tuple(b["box"]) if b["box"] else None) for b in v["bibs"]] for k, v in entries.items()} == {
        k: [(b.number, b.box) for b in t.bibs] + ([("777", None)] if k == "race_003.jpg" else []) for k, t in truth.items()
    }
    coco = json.loads(run_export(capsys, str(folder), "--format", "coco"))
    assert coco["categories"] == [{"id": 1, "name": "bib", "supercategory": "bib"}]
    images = {i["id"]: i for i in coco["images"]}
    assert {i["file_name"] for i in images.values()} == set(truth)
    assert len(coco["annotations"]) == sum(len(t.bibs) for t in truth.values())  # the unboxed bib is left out
    for a in coco["annotations"]:
        t = truth[images[a["image_id"]]["file_name"]]
        b = next(b for b in t.bibs if b.number == a["attributes"]["number"])
        x, y, w, h = a["bbox"]
        assert (x, y, x + w, y + h) == pytest.approx(b.box) and a["area"] == pytest.approx(w * h)
    rotated = next(i for i in images.values() if i["file_name"] == "race_002.jpg")
    assert (rotated["width"], rotated["height"]) == (truth["race_002.jpg"].width, truth["race_002.jpg"].height)


def test_crops_are_cut_from_oriented_full_resolution(project, tmp_path, capsys):
    folder, truth = project
    out = tmp_path / "crops"
    run_export(capsys, str(folder), "--format", "crops", "--out", str(out))
    labels = list(csv.DictReader(io.StringIO((out / "labels.csv").read_text())))
    assert len(labels) == sum(len(t.bibs) for t in truth.values())
    assert {r["number"] for r in labels} == {b.number for t in truth.values() for b in t.bibs}
    for r in labels:
        crop = cv2.cvtColor(cv2.imread(str(out / r["file"])), cv2.COLOR_BGR2RGB)
        x1, y1, x2, y2 = (int(r[k]) for k in ("x1", "y1", "x2", "y2"))
        photo = load_image(folder / r["image"])
        assert np.array_equal(crop, photo[y1:y2, x1:x2])
        box = next(b.box for b in truth[r["image"]].bibs if b.number == r["number"])
        assert x1 <= box[0] < x1 + 1 and x2 - 1 < box[2] <= x2
    assert any(r["image"] == "race_002.jpg" for r in labels)  # the EXIF-rotated photo


@pytest.mark.parametrize("copy", [False, True])
def test_bibfolders(project, tmp_path, capsys, copy):
    folder, truth = project
    out = tmp_path / "bybib"
    run_export(capsys, str(folder), "--format", "bibfolders", "--out", str(out), *(["--copy"] if copy else []))
    for image, t in truth.items():
        for b in t.bibs:
            entry = out / b.number / image
            assert entry.is_symlink() != copy
            assert entry.read_bytes() == (folder / image).read_bytes()
    assert sorted(p.name for p in out.iterdir() if p.name != ".bibtagger-bibfolders.json") == sorted({b.number for t in truth.values() for b in t.bibs} | {"777"})


def test_bibfolders_numbers_whose_folder_names_collide_get_distinct_folders(project, tmp_path, capsys):
    """"A.1", "A/1" and "A_1" are three bibs with one safe folder name: each keeps its own folder (the later
    ones, in the numbers' order, with ``~`` and 8 hex digits of the number), the same on a re-export, and
    the export says so."""
    import hashlib

    folder, _truth = project
    with Store.open(folder) as store:
        owners = {}
        for number, rel in (("A/1", "race_004.jpg"), ("A.1", "race_005.jpg"), ("A_1", "race_006.jpg")):
            store.add_bib(store.photo_by_path(rel).id, number, None)
            owners[number] = rel
    out = tmp_path / "bybib"
    assert main(["export", str(folder), "--format", "bibfolders", "--out", str(out)]) == 0
    err = capsys.readouterr().err
    tag = {n: "A_1~" + hashlib.sha1(n.encode()).hexdigest()[:8] for n in owners}
    expected = {"A.1": "A_1", "A/1": tag["A/1"], "A_1": tag["A_1"]}  # sorted: "A.1" < "A/1" < "A_1"
    for number, name in expected.items():
        assert [p.name for p in (out / name).iterdir()] == [owners[number]]
        assert (f"{number!r} is in {name}" in err) == (number != "A.1")
    assert "note: bibs 'A.1' and 'A/1' would share the folder A_1" in err
    assert main(["export", str(folder), "--format", "bibfolders", "--out", str(out)]) == 0  # stable
    capsys.readouterr()
    for number, name in expected.items():
        assert [p.name for p in (out / name).iterdir()] == [owners[number]]


def test_export_errors(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    assert main(["export", str(tmp_path / "empty"), "--format", "csv"]) == 1
    assert "no bibtagger project yet" in capsys.readouterr().err
    assert main(["export", str(tmp_path / "empty"), "--format", "crops"]) == 2
    assert not (tmp_path / "empty" / ".bibtagger").exists()


def test_start_list_names_in_exports(project, tmp_path, capsys):
    folder, truth = project
    csv_path = tmp_path / "start.csv"
    numbers = sorted({b.number for t in truth.values() for b in t.bibs})
    named = {n: f"Runner {i}" for i, n in enumerate(numbers[:-1])}  # the last truth number has no name
    csv_path.write_text("Bib;Name\n" + "".join(f"{n};{named.get(n, '')}\n" for n in numbers), encoding="utf-8")
    assert main(["startlist", "import", str(csv_path), str(folder)]) == 0
    capsys.readouterr()
    rows = list(csv.DictReader(io.StringIO(run_export(capsys, str(folder), "--format", "csv"))))
    assert all(r["name"] == named.get(r["number"], "") for r in rows) and any(r["name"] for r in rows)
    by_number = {r["number"]: r["name"] for r in csv.DictReader(io.StringIO(run_export(capsys, str(folder), "--format", "bibcsv")))}
    assert by_number == {n: named.get(n, "") for n in [*numbers, "777"]}
    entries = json.loads(run_export(capsys, str(folder), "--format", "json"))
    for b in (b for e in entries for b in e["bibs"]):
        assert b.get("name") == named.get(b["number"])  # absent (not "") without a name
    coco = json.loads(run_export(capsys, str(folder), "--format", "coco"))
    assert {a["attributes"]["number"]: a["attributes"].get("name") for a in coco["annotations"]} == {
        n: named.get(n) for n in numbers
    }


def test_no_start_list_keeps_json_unchanged_and_csv_names_empty(project, capsys):
    folder, _ = project
    entries = json.loads(run_export(capsys, str(folder), "--format", "json"))
    assert all("name" not in b for e in entries for b in e["bibs"])
    rows = list(csv.DictReader(io.StringIO(run_export(capsys, str(folder), "--format", "csv"))))
    assert rows and all(r["name"] == "" for r in rows)


def test_folder_exports_report_progress_and_stop_on_cancel(project, tmp_path):
    from bibtagger_gui.core.exporters import export

    folder, truth = project
    with Store.open(folder) as store:
        calls: list[tuple[int, int]] = []
        rep, _ = export(store, "crops", tmp_path / "all", progress=lambda d, t: calls.append((d, t)))
        assert calls[-1] == (len(truth), len(truth)) and [d for d, _ in calls] == list(range(len(truth) + 1))
        rep, _ = export(store, "bibfolders", tmp_path / "stopped", cancel=lambda: True)
        assert rep.cancelled and rep.written == 0


def test_file_export_to_stdout_dash_and_through_a_symlink(project, tmp_path, capsys):
    folder, truth = project
    assert {r["image"] for r in csv.DictReader(io.StringIO(run_export(capsys, str(folder), "--format", "csv", "--out", "-")))} == set(truth)
    real = tmp_path / "real.json"
    (tmp_path / "link.json").symlink_to(real)
    run_export(capsys, str(folder), "--format", "json", "--out", str(tmp_path / "link.json"))
    assert (tmp_path / "link.json").is_symlink() and len(json.loads(real.read_text())) == len(truth)


@pytest.mark.parametrize("copy", [False, True])
def test_bibfolders_reexport_removes_what_is_no_longer_current(project, tmp_path, capsys, copy):
    folder, truth = project
    out = tmp_path / "bybib"
    flags = ["--format", "bibfolders", "--out", str(out), *(["--copy"] if copy else [])]
    run_export(capsys, str(folder), *flags)
    image, t = next((k, t) for k, t in truth.items() if t.bibs and len(t.bibs[0].number) > 1)
    old = t.bibs[0].number  # renumbered below; the photo's other bibs stay
    assert (out / old / image).exists()
    (out / "notes.txt").write_text("mine")
    with Store.open(folder) as store:
        store.update_bib(next(r for r in store.bibs(store.photo_by_path(image).id) if r.number == old).id, number=old + "9")
    others = [k for k, t2 in truth.items() if k != image and any(b.number == old for b in t2.bibs)]
    if others:  # keep a user file in the old bib folder: the folder must stay for it
        (out / old / "mine.jpg").write_bytes(b"user file")
    run_export(capsys, str(folder), *flags)
    assert (out / (old + "9") / image).exists()
    assert not (out / old / image).exists() and not (out / old / image).is_symlink()
    assert (out / old).exists() == bool(others)
    assert (out / "notes.txt").read_text() == "mine"
    current = {f"{b.number}/{k}" for k, t2 in truth.items() for b in t2.bibs if k != image} | {f"{old}9/{image}", "777/race_003.jpg"}
    current |= {f"{b.number}/{image}" for b in t.bibs[1:]}
    listed = {f"{p.parent.name}/{p.name}" for p in out.glob("*/*") if p.name != "mine.jpg"}
    assert listed == current
    assert (folder / image).is_file()  # the photo itself is untouched


@pytest.mark.parametrize("fmt", ["crops", "bibfolders"])
def test_folder_export_inside_the_photo_folder_is_refused(project, capsys, fmt):
    folder, truth = project
    before = sorted(p.name for p in folder.iterdir())
    assert main(["export", str(folder), "--format", fmt, "--out", str(folder / "by_bib")]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"error: {folder / 'by_bib'} is inside the photo folder") and len(err.splitlines()) == 1
    assert sorted(p.name for p in folder.iterdir()) == before


def test_scan_skips_links_back_into_the_photo_folder(project):
    folder, truth = project
    # what an export made inside the folder (before it was refused) or a hand-made link looks like
    (folder / "BF" / "31").mkdir(parents=True)
    (folder / "BF" / "31" / "race_001.jpg").symlink_to(folder / "race_001.jpg")
    (folder / "again").symlink_to(folder, target_is_directory=True)
    outside = folder.parent / "elsewhere"
    outside.mkdir()
    (outside / "x.jpg").write_bytes((folder / "race_001.jpg").read_bytes())
    (folder / "linked_in.jpg").symlink_to(outside / "x.jpg")  # a link to a photo outside stays a photo
    with Store.open(folder) as store:
        store.scan()
        assert sorted(p.relpath for p in store.photos()) == sorted([*truth, "linked_in.jpg"])


def test_a_crop_that_cannot_be_renamed_into_place_leaves_no_temp_file(tmp_path, monkeypatch):
    from bibtagger_gui.core import exporters

    def refuse(src, dst):
        raise PermissionError(13, "in use by another program")

    monkeypatch.setattr(exporters.portable, "replace", refuse)
    with pytest.raises(PermissionError):
        exporters.atomic_write_bytes(tmp_path / "crop.png", b"data")  # what a crop is written with
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("fmt", ["csv", "bibcsv", "json", "coco", "xlsx"])
def test_a_file_export_never_replaces_a_photo(project, tmp_path, capsys, fmt):
    """`--out race_001.jpg` (a slip of the shell's completion, a file dialog's "Replace?") wrote the CSV/JSON/workbook
    over the photo. A photo's name, or a link to a photo, is refused and the photo is left as it was."""
    folder, _ = project
    photo = folder / "race_001.jpg"
    before = photo.read_bytes()
    (tmp_path / "bibs.csv").symlink_to(folder / "race_002.jpg")
    for out, said in ((photo, "race_001.jpg is named like a photo"), (tmp_path / "bibs.csv", "a link to")):
        assert main(["export", str(folder), "--format", fmt, "--out", str(out)]) == 1
        assert said in capsys.readouterr().err
    assert photo.read_bytes() == before and load_image(folder / "race_002.jpg").size > 0
    assert main(["export", str(folder), "--format", fmt, "--out", str(tmp_path / "IMG_1.CR2")]) == 1  # a RAW's name too
    assert not (tmp_path / "IMG_1.CR2").exists()


def test_predict_refuses_a_photo_as_its_output_before_recognizing(project, tmp_path, capsys):
    folder, _ = project
    photo = folder / "race_003.jpg"
    before = photo.read_bytes()
    for option in ("--json", "--csv"):
        assert main(["predict", str(folder), option, str(photo), "--models", str(tmp_path / "no models")]) == 1
        err = capsys.readouterr().err
        assert "race_003.jpg is named like a photo" in err and "model" not in err  # said before loading models
    assert photo.read_bytes() == before


@pytest.mark.parametrize("fmt", ["csv", "bibcsv", "json", "coco", "xlsx", "crops", "bibfolders"])
def test_an_output_in_a_missing_folder_is_refused_and_no_folder_is_made(project, tmp_path, capsys, fmt):
    """`export --out /nonexist/x.csv` made the missing folders (a typo in the path became a new folder tree).
    Every output now goes into a folder that exists, said as a photo folder's "no such folder" / "not a
    folder" is, before the scan; a folder export may still make its own folder, inside one that exists."""
    folder, _ = project
    name = "out" if fmt in ("crops", "bibfolders") else f"x.{fmt}"
    missing = tmp_path / "nonexist" / "deep"
    (tmp_path / "a_file").write_text("mine")
    for parent, why in ((missing, "no such folder"), (tmp_path / "a_file", "not a folder")):
        assert main(["export", str(folder), "--format", fmt, "--out", str(parent / name)]) == 1
        err = capsys.readouterr().err
        assert err.splitlines() == [f"error: {parent}: {why}, so {name} cannot be written there "
                                    "(make the folder first, or choose another place)"]  # fmt: skip
    assert not (tmp_path / "nonexist").exists() and (tmp_path / "a_file").read_text() == "mine"
    if fmt in ("crops", "bibfolders"):  # a folder export's own folder is made when its parent exists
        run_export(capsys, str(folder), "--format", fmt, "--out", str(tmp_path / "new_out"))
        assert (tmp_path / "new_out").is_dir() and any((tmp_path / "new_out").iterdir())
        assert main(["export", str(folder), "--format", fmt, "--out", str(tmp_path / "a_file")]) == 1
        assert capsys.readouterr().err.startswith(f"error: {tmp_path / 'a_file'}: not a folder")
        assert (tmp_path / "a_file").read_text() == "mine"


@pytest.mark.parametrize("fmt", ["csv", "bibfolders"])
def test_the_export_function_refuses_a_missing_folder_too(project, tmp_path, fmt):
    """The GUI's Export dialog takes a typed path: core.exporters.export checks it as the CLI does."""
    from bibtagger_gui.core.exporters import ExportError, export

    folder, _ = project
    out = tmp_path / "nonexist" / ("x.csv" if fmt == "csv" else "out")
    with Store.open(folder) as store, pytest.raises(ExportError, match=f"^{tmp_path / 'nonexist'}: no such folder"):
        export(store, fmt, out)
    assert not (tmp_path / "nonexist").exists()


def test_predict_refuses_an_output_in_a_missing_folder_before_recognizing(project, tmp_path, capsys):
    folder, _ = project
    for option in ("--json", "--csv"):
        out = tmp_path / "nonexist" / "p.out"
        assert main(["predict", str(folder), option, str(out), "--models", str(tmp_path / "no models")]) == 1
        err = capsys.readouterr().err
        assert err.splitlines() == [f"error: {out.parent}: no such folder, so p.out cannot be written there "
                                    "(make the folder first, or choose another place)"]  # said before loading models
    assert not (tmp_path / "nonexist").exists()


def _renumber(folder: Path, old: str, new: str) -> list[str]:
    """Give every bib ``old`` of the project the number ``new``; the photos it was on."""
    with Store.open(folder) as store:
        rows = [(p.relpath, r) for p in store.photos() for r in store.bibs(p.id) if r.number == old]
        for _rel, r in rows:
            store.update_bib(r.id, number=new)
    return [rel for rel, _r in rows]


def test_bibfolders_reexport_leaves_the_users_links_and_files_with_a_note(project, tmp_path, capsys):
    """A link the user put into a bibfolders output (into the shoot, as the export's are) was removed as if the export
    had made it, and a folder of theirs went with it once emptied. Only what the export's manifest lists is its own:
    the user's links and files stay, a bib folder no longer current that they keep is named, and a file of theirs under
    a link's name is left and the photo named."""
    folder, truth = project
    out = tmp_path / "bybib"
    run_export(capsys, str(folder), "--format", "bibfolders", "--out", str(out))
    on = {}  # number -> the photos it is on
    for k, t in truth.items():
        for b in t.bibs:
            on.setdefault(b.number, set()).add(k)
    old, image = next((n, next(iter(ks))) for n, ks in sorted(on.items()) if len(ks) == 1)  # its folder goes stale below
    (out / old / "favourite.jpg").symlink_to(folder / "race_001.jpg")  # the user's pick, in a bib folder
    (out / "mine").mkdir()
    (out / "mine" / "race_004.jpg").symlink_to(folder / "race_004.jpg")  # named as the export names links
    (out / f"{old}9").mkdir()
    (out / f"{old}9" / image).write_bytes(b"the user's own file")  # where the renumbered bib's link would go
    assert _renumber(folder, old, old + "9") == [image]
    assert main(["export", str(folder), "--format", "bibfolders", "--out", str(out)]) == 0
    err = capsys.readouterr().err
    assert os.readlink(out / old / "favourite.jpg") == str(folder / "race_001.jpg")
    assert os.readlink(out / "mine" / "race_004.jpg") == str(folder / "race_004.jpg")
    assert not os.path.lexists(out / old / image)  # the export's own stale link is still removed
    assert (out / f"{old}9" / image).read_bytes() == b"the user's own file"
    assert f"{folder / image}: {out / f'{old}9' / image} is not a link this export made (yours, or another program's): " \
           "left as it is, so this photo is not linked there" in err.splitlines()
    assert (f"note: the bib folder {out / old} is no longer current but holds files this export did not make "
            "(favourite.jpg): left as it is") in err.splitlines()
    assert (f"note: 2 link(s) to photos in {out} were not made by this export and are left as they are: "
            f"{old}/favourite.jpg, mine/race_004.jpg") in err.splitlines()
    manifest = json.loads((out / ".bibtagger-bibfolders.json").read_text())
    assert f"{old}/favourite.jpg" not in manifest and f"{old}9/{image}" not in manifest and "mine/race_004.jpg" not in manifest
    assert main(["export", str(folder), "--format", "bibfolders", "--out", str(out)]) == 0  # the same again: stable
    assert os.path.lexists(out / old / "favourite.jpg") and (out / f"{old}9" / image).read_bytes() == b"the user's own file"


def test_bibfolders_without_a_manifest_take_only_links_named_as_theirs(project, tmp_path, capsys):
    """An export from before the manifest (or whose manifest is unreadable): the links into the shoot named as the
    export names them are its own (stale ones removed); a link named otherwise is the user's and stays."""
    folder, truth = project
    out = tmp_path / "bybib"
    run_export(capsys, str(folder), "--format", "bibfolders", "--out", str(out))
    image, t = next((k, t) for k, t in truth.items() if t.bibs and len(t.bibs[0].number) > 1)
    old = t.bibs[0].number
    for manifest, (was, now) in (("", (old, old + "9")), ("{not json", (old + "9", old))):
        (out / was / "favourite.jpg").symlink_to(folder / image)
        _renumber(folder, was, now)
        (out / ".bibtagger-bibfolders.json").unlink()
        if manifest:
            (out / ".bibtagger-bibfolders.json").write_text(manifest)
        run_export(capsys, str(folder), "--format", "bibfolders", "--out", str(out))
        assert not os.path.lexists(out / was / image) and (out / now / image).is_symlink()
        assert (out / was / "favourite.jpg").is_symlink()


def test_a_killed_bibfolders_export_lists_its_links_before_it_makes_them(project, tmp_path, capsys, monkeypatch):
    """The manifest is written before the first link: links of an export killed midway are the export's on the next
    run (removed when stale), not taken for the user's."""
    from bibtagger_gui.core import exporters

    folder, truth = project
    out = tmp_path / "bybib"
    real_place, made = exporters._place, []

    def killed_after_two(src, dst, mode, rep):
        if len(made) == 2:
            raise KeyboardInterrupt  # the power cut
        made.append(f"{dst.parent.name}/{dst.name}")
        return real_place(src, dst, mode, rep)

    monkeypatch.setattr(exporters, "_place", killed_after_two)
    with Store.open(folder) as store, pytest.raises(KeyboardInterrupt):
        exporters.export(store, "bibfolders", out)
    monkeypatch.setattr(exporters, "_place", real_place)
    assert set(made) <= set(json.loads((out / ".bibtagger-bibfolders.json").read_text()))
    bib, image = made[0].split("/")
    _renumber(folder, bib, bib + "9")
    assert main(["export", str(folder), "--format", "bibfolders", "--out", str(out)]) == 0
    err = capsys.readouterr().err
    assert not os.path.lexists(out / made[0]) and (out / f"{bib}9" / image).is_symlink()
    assert "not made by this export" not in err


def test_bibfolders_copies_whose_manifest_was_lost_are_taken_back_not_refused(project, tmp_path, capsys):
    """A `--copy` export whose manifest is gone (a copy tool that skips hidden files): its copies are the photos byte for
    byte, so a re-export replaces them without a word; a file of the user's own under a photo's name still stays."""
    folder, truth = project
    out = tmp_path / "bybib"
    run_export(capsys, str(folder), "--format", "bibfolders", "--out", str(out), "--copy")
    (out / ".bibtagger-bibfolders.json").unlink()
    image, t = next((k, t) for k, t in truth.items() if len(t.bibs) >= 2)
    (out / t.bibs[1].number / image).write_bytes(b"the user's own file")
    assert main(["export", str(folder), "--format", "bibfolders", "--out", str(out), "--copy"]) == 0
    err = capsys.readouterr().err
    assert [line for line in err.splitlines() if "is not a link this export made" in line] == [
        f"{folder / image}: {out / t.bibs[1].number / image} is not a link this export made (yours, or another "
        "program's): left as it is, so this photo is not linked there"]  # fmt: skip
    assert (out / t.bibs[0].number / image).read_bytes() == (folder / image).read_bytes()
    assert (out / t.bibs[1].number / image).read_bytes() == b"the user's own file"


def test_bibs_read_on_an_earlier_picture_under_a_photo_name_are_left_out_until_it_is_reviewed(project, tmp_path, capsys):
    # race_004.jpg is replaced by another picture (a second card copied over the first): the scan keeps its human
    # bibs for the review, but they name runners of the old picture. Exports that say who is on which photo, or that
    # train on its boxes, leave them out as keywords do, and say so; the exchange JSON keeps them for the review.
    folder, truth = project
    target = "race_004.jpg"
    old = {b.number for b in truth[target].bibs}
    assert old
    other = generate(tmp_path / "other", count=1, seed=9, size=(320, 480))[0]
    (folder / target).write_bytes((tmp_path / "other" / other.image).read_bytes())
    note = f"note: 1 photo(s) now hold another picture than the one some of their bibs were read on (the file was replaced since; first: {target}"

    def export(*args: str) -> tuple[str, str]:
        assert main(["export", str(folder), *args]) == 0
        captured = capsys.readouterr()
        return captured.out, captured.err

    out, err = export("--format", "csv")
    assert note in err and "are left out here, as keywords leave them, until the photo is reviewed" in err, err
    rows = list(csv.DictReader(io.StringIO(out)))
    assert [r["number"] for r in rows if r["image"] == target] == [""]  # listed, without the old picture's bibs
    out, err = export("--format", "bibcsv")
    assert note in err and not any(target in r["images"].split(";") for r in csv.DictReader(io.StringIO(out)))
    out, err = export("--format", "coco")
    coco = json.loads(out)
    image_id = next(i["id"] for i in coco["images"] if i["file_name"] == target)
    assert note in err and not [a for a in coco["annotations"] if a["image_id"] == image_id]
    export("--format", "crops", "--out", str(tmp_path / "crops"))
    assert target not in (tmp_path / "crops" / "labels.csv").read_text()
    export("--format", "bibfolders", "--out", str(tmp_path / "bybib"))
    assert not list((tmp_path / "bybib").glob(f"*/{target}"))
    _, err = export("--format", "json", "--out", str(tmp_path / "handout.json"))
    entry = next(e for e in json.loads((tmp_path / "handout.json").read_text()) if e["image"] == target)
    assert {b["number"] for b in entry["bibs"]} == old and entry["reviewed"] is False
    assert note in err and "are kept in this file, on the photos' unreviewed entries, for whoever reviews them" in err
    _, err = export("--format", "csv", "--only", "race_00[1-3].jpg")
    assert "another picture" not in err  # not in this export
    with Store.open(folder) as store:  # the reviewer kept them: they are this picture's now
        store.set_reviewed(store.photo_by_path(target).id, True)
    out, err = export("--format", "csv")
    assert "another picture" not in err and {r["number"] for r in csv.DictReader(io.StringIO(out)) if r["image"] == target} == old


def test_bibfolders_manifest_entries_outside_the_output_folder_are_not_the_exports(project, tmp_path):
    """The manifest says which "bib/name" entries a re-export may remove. An entry that is an absolute path ("/name",
    on Windows also "C:/name" or "..\\x/name") joined onto the output folder is that path itself: a corrupt or
    handed-on manifest must never make an export delete a file outside its folder."""
    from bibtagger_gui.core import exporters

    folder, _truth = project
    out = tmp_path / "bybib"
    out.mkdir()
    bad = ["/victim.jpg", "C:/victim.jpg", "..\\..\\x/victim.jpg", "12/", "/", "12/..", "./a.jpg"]
    (out / exporters.BIBFOLDERS_MANIFEST).write_text(json.dumps(["12/race_001.jpg", *bad]), encoding="utf-8")
    earlier = exporters._earlier_entries(out, folder)
    assert "12/race_001.jpg" in earlier
    assert all((out / e).resolve().parent.parent == out.resolve() for e in earlier), earlier
