"""`bibtagger predict` on a folder full of broken files: each gets a clear message, the good ones are processed."""

from __future__ import annotations

import csv
import json
import os
import shutil
import subprocess
import sys
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import numpy as np
import pytest

from bibtagger_gui.cli import main
from bibtagger_gui.core.bib import Box
from bibtagger_gui.core.demo import make_photo, write_jpeg
from tests.test_imageio import write_png_bomb

UNICODE_DIR = "Zieleinlauf Ü 日本"


def good_photo(path: Path, seed: int) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    img, _ = make_photo(np.random.default_rng(seed), (240, 320))
    write_jpeg(path, img)
    return path


def build_folder(folder: Path) -> dict[str, str]:
    """The broken folder; returns {relpath: start of expected message} for the bad files."""
    good = good_photo(folder / "good.jpg", 1)
    (folder / "corrupt.jpg").write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    (folder / "empty.jpg").write_bytes(b"")
    (folder / "notes.jpg").write_text("runner list, not a photo\n")
    write_png_bomb(folder / "bomb.png")
    good_photo(folder / UNICODE_DIR / "läufer_ß.jpg", 2)
    good_photo(folder / "readonly" / "inside.jpg", 3)
    (folder / "readonly").chmod(0o555)
    return {
        "corrupt.jpg": "truncated JPEG",
        "empty.jpg": "empty file",
        "notes.jpg": "not an image",
        "bomb.png": "image too large (20000x20000 px, limit 200 MP)",
    }


GOOD = ["good.jpg", f"{UNICODE_DIR}/läufer_ß.jpg", "readonly/inside.jpg"]


def test_predict_reports_each_bad_file_and_goes_on(tmp_path, capsys, placeholder_models_dir):
    folder = tmp_path / "event"
    bad = build_folder(folder)
    try:
        argv = ["predict", str(folder), "--models", str(placeholder_models_dir), "--json", str(tmp_path / "out.json"), "--csv", str(tmp_path / "out.csv")]
        rc = main(argv)
        err = capsys.readouterr().err
        rc_again = main(argv)  # nothing new: each bad file is still reported once, and counted once
        err_again = capsys.readouterr().err
    finally:
        (folder / "readonly").chmod(0o755)
    assert rc == 0, err
    for rel, message in bad.items():
        assert f"{os.path.join(str(folder), rel)}: {message}" in err, (rel, err)
    assert rc_again == 0, err_again
    for rel, message in bad.items():
        assert err_again.count(f"{os.path.join(str(folder), rel)}: ") == 1, (rel, err_again)
    assert f", {len(bad)} with errors;" in err and f", {len(bad)} with errors;" in err_again
    out = json.loads((tmp_path / "out.json").read_text(encoding="utf-8"))
    images = {e["image"] for e in out}
    assert set(GOOD) <= images
    assert not images & set(bad)  # a failed photo is no "photo without bibs": left out of the JSON
    with open(tmp_path / "out.csv", newline="", encoding="utf-8-sig") as f:  # the BOM Excel needs
        rows = list(csv.DictReader(f))
    assert set(GOOD) <= {r["image"] for r in rows if not r["error"]}
    marked = {r["image"]: r["error"] for r in rows if r["error"]}
    assert set(marked) == set(bad) and all(marked[rel].startswith(msg) for rel, msg in bad.items())
    assert all(r["number"] == "" for r in rows if r["error"])
    # the store remembers what went wrong per photo
    from bibtagger_gui.core.store import Store

    with Store.open(folder) as store:
        errors = {p.relpath: p.error for p in store.photos("errors")}
        assert set(errors) == set(bad)
        assert all(errors[rel].startswith(msg) for rel, msg in bad.items())
        assert all(store.photo_by_path(rel).model_version for rel in GOOD)


def test_predict_on_read_only_folder_uses_fallback_store(placeholder_models_dir, public_tmp):
    """The whole folder read-only. As root (which ignores modes) predict runs in a child as user nobody."""
    base = public_tmp
    folder = base / "photos"
    good_photo(folder / "a.jpg", 4)
    good_photo(folder / "b.jpg", 5)
    models = base / "models"
    shutil.copytree(placeholder_models_dir, models)
    models.chmod(0o755)
    xdg, out = base / "xdg", base / "out"
    for d in (xdg, out):
        d.mkdir()
        d.chmod(0o777)
    folder.chmod(0o555)
    code = (
        "import os, sys\n"
        "import bibtagger_gui.cli.predict_cmd, bibtagger_gui.core.recognizer, bibtagger_gui.core.store\n"
        "import bibtagger_gui.core.annotations, bibtagger_gui.core.exporters, bibtagger_gui.core.progress\n"
        "import onnxruntime, json, csv, tempfile, encodings.idna\n"
        "from bibtagger_gui.cli import build_parser\n"
        "args = build_parser().parse_args(sys.argv[1:])\n"
        "if os.geteuid() == 0:\n    os.setgid(65534); os.setuid(65534)\n"
        "sys.exit(args.func(args))\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "BIBTAGGER_STORE_DIR"}
    env["XDG_DATA_HOME"] = str(xdg)
    res = subprocess.run(
        [sys.executable, "-c", code, "predict", str(folder), "--models", str(models), "--json", str(out / "p.json")],
        capture_output=True, text=True, timeout=120, env=env,
    )
    assert res.returncode == 0, res.stderr
    assert not (folder / ".bibtagger").exists()
    assert str(xdg / "bibtagger" / "projects") in res.stderr
    assert sorted(e["image"] for e in json.loads((out / "p.json").read_text())) == ["a.jpg", "b.jpg"]


def test_missing_models_is_a_clear_error(tmp_path, capsys):
    good_photo(tmp_path / "p" / "a.jpg", 1)
    rc = main(["predict", str(tmp_path / "p"), "--models", str(tmp_path / "nomodels")])
    assert rc == 1
    assert f"models folder {tmp_path / 'nomodels'}: no such folder" in capsys.readouterr().err
    assert main(["predict", str(tmp_path / "nope")]) == 1


def test_predict_names_files_in_formats_it_cannot_read(tmp_path, capsys, placeholder_models_dir):
    folder = tmp_path / "phone"
    good_photo(folder / "IMG_0001.JPG", 1)
    (folder / "IMG_0002.HEIC").write_bytes(b"\x00\x00\x00\x18ftypheic")
    (folder / "IMG_0003.CR3").write_bytes(b"x")
    assert main(["predict", str(folder), "--models", str(placeholder_models_dir)]) == 0
    err = capsys.readouterr().err
    assert "2 file(s) in formats bibtagger cannot read were left out (1 CR3, 1 HEIC): convert them to JPEG; RAW files: use the camera's JPEGs" in err
    assert "1 photo(s) recognized" in err


@contextmanager
def read_only_shoot(prefix: str, photos: dict[str, tuple[str, Box | None, bool]]) -> Iterator[tuple[Path, Path, Path]]:
    """(base, folder, xdg): a photo folder whose project holds ``photos`` (name -> (bib, box, reviewed)), then made
    read-only with its ``.bibtagger``, and an XDG_DATA_HOME anyone may write; put back and removed after."""
    from bibtagger_gui.core.store import Store

    base = Path(tempfile.mkdtemp(prefix=prefix))
    folder = base / "photos"
    try:
        base.chmod(0o755)
        for seed, name in enumerate(photos, start=4):
            good_photo(folder / name, seed)
        with Store.open(folder) as store:
            store.scan()
            for name, (number, box, reviewed) in photos.items():
                pid = store.photo_by_path(name).id
                store.add_bib(pid, number, box)
                if reviewed:
                    store.set_reviewed(pid, True)
        xdg = base / "xdg"
        xdg.mkdir()
        xdg.chmod(0o777)
        for d in (folder / ".bibtagger", folder):
            d.chmod(0o555)
        yield base, folder, xdg
    finally:
        for d in (folder, folder / ".bibtagger"):
            if d.exists():
                d.chmod(0o755)
        shutil.rmtree(base)


def run_as_nobody(imports: str, body: str, xdg: Path) -> subprocess.CompletedProcess:
    """``imports`` then ``body`` in a child Python, which drops to user nobody between them when run as root (root
    may write anywhere; the Python under /root is out of nobody's reach, hence the imports first)."""
    code = imports + "import os\nif os.geteuid() == 0:\n    os.setgid(65534); os.setuid(65534)\n" + body
    env = {k: v for k, v in os.environ.items() if k != "BIBTAGGER_STORE_DIR"}
    env["XDG_DATA_HOME"] = str(xdg)
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, env=env)


def test_find_and_export_see_the_project_of_a_read_only_folder():
    """A reviewed shoot made read-only (a share, another user's folder) still holds its project: find and
    export said "no bibtagger project yet (run `bibtagger predict` …)". As root they run in a child as nobody."""
    with read_only_shoot("bt_ro_find_", {"a.jpg": ("1234", None, False)}) as (base, folder, xdg):
        out = base / "out"
        out.mkdir()
        out.chmod(0o777)
        res = run_as_nobody(
            "import sys\n"
            "import bibtagger_gui.cli.find_cmd, bibtagger_gui.cli.export_cmd, bibtagger_gui.core.store\n"
            "import bibtagger_gui.core.exporters, bibtagger_gui.core.photo_selection, bibtagger_gui.core.name_match\n"
            "import bibtagger_gui.core.annotations, bibtagger_gui.core.sheet_csv, csv, json, tempfile, encodings.idna\n"
            "import locale, gettext\n"
            "from bibtagger_gui.cli import build_parser, main\n"
            "build_parser()\n",  # every command's module, before the python under /root is out of reach
            f"rc = main(['find', {str(folder)!r}, '1234'])\n"
            f"sys.exit(rc or main(['export', {str(folder)!r}, '--format', 'csv', '--out', {str(out / 'e.csv')!r}]))\n",
            xdg)  # fmt: skip
        assert res.returncode == 0, res.stderr
        assert res.stdout.splitlines() == ["a.jpg"]
        rows = list(csv.DictReader((out / "e.csv").read_text(encoding="utf-8-sig").splitlines()))
        assert [(r["image"], r["number"]) for r in rows] == [("a.jpg", "1234")]


def test_finetune_gathers_the_reviewed_photos_of_a_read_only_folder():
    """A reviewed shoot made read-only keeps its project: the fine-tune's gather said "not a project folder yet
    (open it in the app …)" and trained on nothing. As root it runs in a child as nobody."""
    box = (10.0, 10.0, 60.0, 40.0)
    with read_only_shoot("bt_ro_ft_", {"a.jpg": ("1234", box, True), "b.jpg": ("1234", box, True)}) as (_, folder, xdg):
        res = run_as_nobody(
            "import json, training.finetune as ft, training.data, bibtagger_gui.core.store\n"
            "import bibtagger_gui.core.training_labels, encodings.idna, locale, gettext, tempfile\n",
            f"found = ft.gather([{str(folder)!r}])\n"
            "print(json.dumps(sorted(os.path.basename(str(e.path)) for e in found)))\n",
            xdg)  # fmt: skip
        assert res.returncode == 0, res.stderr
        assert json.loads(res.stdout.strip().splitlines()[-1]) == ["a.jpg", "b.jpg"], res.stdout + res.stderr
        assert "not a project folder" not in res.stdout + res.stderr


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX permissions")
def test_an_output_or_folder_behind_a_folder_this_user_may_not_open_is_said_not_raised(public_tmp):
    """`export --out`, `predict --csv`, `demo OUTDIR`, `gui --screenshot`, `--store` and a photo folder under a folder
    this user may not open (another user's home, a 0700 share): Path.exists/is_dir/is_symlink raise PermissionError
    there (Python < 3.14), and the check that was to say "no such folder" ended the command with a traceback. It says
    why instead, and the command exits 1 before anything is written."""
    base = public_tmp
    locked = base / "locked"
    (locked / "sub").mkdir(parents=True)
    locked.chmod(0o700 if os.geteuid() == 0 else 0o000)  # root: its child runs as nobody, for whom 0700 is closed
    out = locked / "sub" / "report.csv"
    res = run_as_nobody(
        "import sys\nfrom bibtagger_gui.core.store import folder_problem, out_folder_problem\n"
        "import bibtagger_gui.cli.demo_cmd, bibtagger_gui.core.demo\nfrom bibtagger_gui.cli import build_parser, main\n"
        "build_parser()\n",
        f"print(out_folder_problem({str(out)!r}))\nprint(out_folder_problem({str(locked / 'sub' / 'crops')!r}, True))\n"
        f"print(folder_problem({str(locked / 'sub')!r}))\n"
        f"sys.exit(main(['demo', {str(locked / 'sub' / 'demo')!r}]))\n",
        base)  # fmt: skip
    assert res.returncode == 1, res.stderr
    assert res.stdout.splitlines() == [
        f"{locked / 'sub'}: cannot be reached (Permission denied), so report.csv cannot be written there (choose another place)",
        f"{locked / 'sub'}: cannot be reached (Permission denied), so crops cannot be written there (choose another place)",
        "cannot be reached (Permission denied)",
    ], res.stdout + res.stderr
    assert res.stderr == (f"bibtagger demo: {locked / 'sub'}: cannot be reached (Permission denied), so demo cannot be "
                          "written there (choose another place)\n")  # fmt: skip
