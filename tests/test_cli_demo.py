"""`bibtagger demo` (cli/demo_cmd.py, core/demo.py's write_demo): the demo photos for the packaged app,
docs/packaging.md#demo-photos. Which folders it writes into, replaces, refuses; its exit codes."""

from __future__ import annotations

import json

import pytest

from bibtagger_gui import cli
from bibtagger_gui.core import demo


def race_photos(folder) -> list[str]:
    return [p.name for p in demo.demo_photos(folder)]


def test_demo_writes_the_generator_s_photos_and_says_where_and_what_next(tmp_path, capsys):
    out = tmp_path / "Läufer demo"
    assert cli.main(["demo", str(out), "--count", "5", "--seed", "3"]) == 0
    said = capsys.readouterr().out
    assert str(out) in said and f'bibtagger gui "{out}"' in said  # a path with a space is quoted
    same = tmp_path / "generated"
    truth = demo.generate(same, 5, 3)  # what make run's generator writes: the same files
    assert race_photos(out) == race_photos(same) and len(truth) == 5
    assert (out / "ground_truth.json").read_bytes() == (same / "ground_truth.json").read_bytes()
    assert all((out / n).read_bytes() == (same / n).read_bytes() for n in race_photos(same))
    assert f"{len(truth)} demo photos" in said and demo.is_demo_folder(out)


def test_demo_without_a_folder_writes_into_the_user_data_folder(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    assert cli.main(["demo", "--count", "2"]) == 0
    target = demo.default_demo_dir()
    assert target == tmp_path / "data" / "bibtagger" / "bibtagger-demo"
    assert len(race_photos(target)) == 2 and f"bibtagger gui {target}" in capsys.readouterr().out


def test_demo_refuses_a_folder_holding_something_else_and_writes_nothing(tmp_path, capsys):
    out = tmp_path / "my photos"
    out.mkdir()
    (out / "IMG_0001.jpg").write_bytes(b"not touched")
    assert cli.main(["demo", str(out), "--count", "2"]) == 1
    err = capsys.readouterr().err
    assert "not empty" in err and str(out) in err
    assert sorted(p.name for p in out.iterdir()) == ["IMG_0001.jpg"] and (out / "IMG_0001.jpg").read_bytes() == b"not touched"
    a_file = tmp_path / "notes.txt"
    a_file.write_text("x")
    assert cli.main(["demo", str(a_file)]) == 1 and "not a folder" in capsys.readouterr().err
    for bad in (["--count", "0"], ["--count", "many"], ["--seed", "x"]):
        with pytest.raises(SystemExit) as stop:
            cli.main(["demo", str(tmp_path / "new"), *bad])
        assert stop.value.code == 2
    assert not (tmp_path / "new").exists()


def test_demo_into_a_missing_folder_is_refused_and_makes_no_folder(tmp_path, capsys):
    """`bibtagger demo /typo/deep/demo` made the whole tree; OUTDIR may be new, but inside a folder that exists, as
    every output of bibtagger (core.store.out_folder_problem, docs/exports.md)."""
    out = tmp_path / "nonexist" / "deep" / "demo"
    assert cli.main(["demo", str(out), "--count", "1"]) == 1
    assert capsys.readouterr().err.strip() == (f"bibtagger demo: {out.parent}: no such folder, so demo cannot be written "
                                               "there (make the folder first, or choose another place)")  # fmt: skip
    assert not (tmp_path / "nonexist").exists()
    assert cli.main(["demo", str(tmp_path / "new demo"), "--count", "1"]) == 0 and demo.is_demo_folder(tmp_path / "new demo")


def test_demo_replaces_an_earlier_demo_with_its_review_and_keeps_other_files(tmp_path, capsys):
    out = tmp_path / "demo"
    assert cli.main(["demo", str(out), "--count", "6"]) == 0
    (out / ".bibtagger").mkdir()  # the project of a review done on it
    (out / ".bibtagger" / "project.db").write_bytes(b"review")
    (out / "mine.txt").write_text("kept")
    assert cli.main(["demo", str(out), "--count", "3", "--seed", "9"]) == 0
    demo.generate(tmp_path / "nine", 3, 9)
    assert race_photos(out) == race_photos(tmp_path / "nine")
    truth = json.loads((out / "ground_truth.json").read_text())
    assert [t["image"] for t in truth] == race_photos(out)  # no photo of the first demo left over
    assert not (out / ".bibtagger").exists() and (out / "mine.txt").read_text() == "kept"
    assert (out / "ground_truth.json").read_bytes() == (tmp_path / "nine" / "ground_truth.json").read_bytes()


def test_a_make_run_demo_from_before_the_marker_counts_as_an_earlier_demo(tmp_path):
    old = tmp_path / "demo_photos"
    demo.generate(old, 3)  # what `make run` wrote before `bibtagger demo`: no marker
    (old / ".bibtagger").mkdir()
    assert demo.is_demo_folder(old)
    assert cli.main(["demo", str(old), "--count", "2"]) == 0 and len(race_photos(old)) == 2
    (old / demo.MARKER).unlink()
    (old / "IMG_1.jpg").write_bytes(b"x")  # someone's photo beside them: no longer only a demo
    assert not demo.is_demo_folder(old)
