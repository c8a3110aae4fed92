"""core/evaluation + core/annotations + `bibtagger eval`."""

from __future__ import annotations

import json
import os
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from bibtagger_gui.cli import main
from bibtagger_gui.core.annotations import AnnotationError, PhotoAnnotation, load_annotations, parse_annotations, save_annotations
from bibtagger_gui.core.bib import Bib
from bibtagger_gui.core.demo import generate
from bibtagger_gui.core.bib import iou
from bibtagger_gui.core.evaluation import PRF, evaluate, f1_interval, match_boxes


def photo(name: str, *bibs: Bib) -> PhotoAnnotation:
    return PhotoAnnotation(name, 100, 100, list(bibs))


def test_identity_scores_one(tmp_path):
    gt = generate(tmp_path / "d", count=6, seed=1, size=(160, 240))
    r = evaluate(gt, gt)
    n = sum(len({b.number for b in g.bibs}) for g in gt)
    assert (r.image.tp, r.image.fp, r.image.fn) == (n, 0, 0)
    assert r.box.tp == sum(len(g.bibs) for g in gt) and r.box.fp == r.box.fn == 0
    assert r.image.f1 == r.box.f1 == 1.0


def test_perturbed_predictions_counted(tmp_path):
    gt = generate(tmp_path / "d", count=12, seed=2, size=(160, 240))
    rng = np.random.default_rng(0)
    pred, dropped, added, moved = [], 0, 0, 0
    for g in gt:
        bibs = []
        for b in g.bibs:
            roll = rng.random()
            if roll < 0.25:
                dropped += 1  # missed bib
            elif roll < 0.5:
                x1, y1, x2, y2 = b.box
                bibs.append(Bib(b.number, (x2 + 5, y1, x2 + 5 + (x2 - x1), y2), 0.5))  # right number, wrong place
                moved += 1
            else:
                bibs.append(Bib(b.number, b.box, 0.9))
        if rng.random() < 0.4:
            bibs.append(Bib("0000", (0, 0, 10, 10), 0.3))  # never a real number (2-5 digits, no leading 0)
            added += 1
        pred.append(replace(g, bibs=bibs))
    r = evaluate(gt, pred)
    total = sum(len(g.bibs) for g in gt)
    assert all(len({b.number for b in g.bibs}) == len(g.bibs) for g in gt)  # numbers unique per photo
    assert (r.image.tp, r.image.fp, r.image.fn) == (total - dropped, added, dropped)
    assert (r.box.tp, r.box.fp, r.box.fn) == (total - dropped - moved, added + moved, dropped + moved)
    p = (total - dropped) / (total - dropped + added)
    assert r.image.precision == pytest.approx(p)


def test_box_matching_rules():
    g = [Bib("12", (0, 0, 10, 10)), Bib("34", (20, 0, 30, 10))]
    # most confident first: the 0.9 duplicate takes the match, the 0.95 one has the wrong number
    pred = [Bib("12", (0, 0, 10, 10), 0.5), Bib("12", (1, 0, 11, 10), 0.9), Bib("35", (20, 0, 30, 10), 0.95)]
    assert match_boxes(g, pred) == (1, 2, 1, 0)
    assert iou((0, 0, 10, 10), (5, 0, 15, 10)) == pytest.approx(50 / 150)
    assert match_boxes([Bib("1", (0, 0, 10, 10))], [Bib("1", (5, 0, 15, 10), 0.9)]) == (0, 1, 1, 0)  # IoU 1/3
    assert match_boxes([Bib("1", (0, 0, 10, 10))], [Bib("1", (5, 0, 15, 10), 0.9)], 0.3) == (1, 0, 0, 0)
    # an unboxed GT bib is left out, and so is a prediction of its number
    assert match_boxes([Bib("7", None)], [Bib("7", (0, 0, 5, 5), 0.9), Bib("8", None, 0.8)]) == (0, 1, 0, 1)


def test_unpredicted_and_unknown_photos():
    gt = [photo("a.jpg", Bib("1", (0, 0, 5, 5)), Bib("2", (5, 5, 9, 9))), photo("b.jpg", Bib("3", None))]
    pred = [photo("a.jpg", Bib("1", (0, 0, 5, 5), 0.8)), photo("zzz.jpg", Bib("9", None, 0.5))]
    r = evaluate(gt, pred)
    assert (r.photos, r.unpredicted, r.unknown) == (2, ["b.jpg"], ["zzz.jpg"])
    assert (r.image.tp, r.image.fp, r.image.fn) == (1, 0, 2)
    c = evaluate(gt, pred, common_only=True)
    assert (c.photos, c.image.fn) == (1, 1)
    assert PRF().f1 == 0.0


def test_a_dot_slash_path_is_the_same_photo():
    data = [{"image": "./a.jpg", "width": 10, "height": 10, "bibs": [{"number": "1", "box": None, "confidence": 0.9}]},
            {"image": ".\\sub\\b.jpg", "width": 10, "height": 10, "bibs": []}]  # fmt: skip
    pred = parse_annotations(data, "pred.json")
    assert [p.image for p in pred] == ["a.jpg", "sub/b.jpg"]
    r = evaluate([photo("a.jpg", Bib("1", None)), photo("sub/b.jpg")], pred)
    assert (r.image.tp, r.image.fp, r.image.fn, r.unpredicted, r.unknown) == (1, 0, 0, [], [])


def test_eval_cli_text_and_json(tmp_path, capsys):
    gt = generate(tmp_path / "d", count=4, seed=5, size=(160, 240))
    pred = [replace(g, bibs=[replace(b, confidence=0.9) for b in g.bibs][1:]) for g in gt]
    save_annotations(tmp_path / "pred.json", pred)
    assert main(["eval", str(tmp_path / "d" / "ground_truth.json"), str(tmp_path / "pred.json"), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    expected = evaluate(gt, load_annotations(tmp_path / "pred.json"))
    ci = out["image_level"].pop("f1_ci95")
    assert out["image_level"] == expected.image.to_json()
    assert ci[0] <= expected.image.f1 <= ci[1] and ci[0] < ci[1]  # one bib dropped per photo: not all alike
    assert out["box_level"]["f1"] == round(expected.box.f1, 4) and out["box_level"]["iou"] == 0.5
    assert main(["eval", str(tmp_path / "d" / "ground_truth.json"), str(tmp_path / "pred.json")]) == 0
    text = capsys.readouterr().out
    assert f"F1 {expected.image.f1:.3f}" in text and "box+number IoU>=0.5" in text
    assert f"bootstrap interval over photos: {ci[0]:.3f} - {ci[1]:.3f}" in text


def test_f1_interval_is_a_bootstrap_over_photos():
    right, wrong = PRF(1, 0, 0), PRF(0, 1, 1)
    # two photos drawn with replacement: F1 is 1 (both right, p 1/4), 0 (both wrong, 1/4) or 0.5 (1/2)
    assert f1_interval([right, wrong]) == (0.0, 1.0)
    assert f1_interval([right, wrong], level=0.4) == (0.5, 0.5)  # 30th and 70th percentiles both fall on 0.5
    assert f1_interval([right] * 5) == (1.0, 1.0) and f1_interval([]) == (0.0, 0.0)
    photos = [PRF(2, 0, 0), PRF(1, 1, 0), PRF(0, 0, 1), PRF(3, 0, 0), PRF(1, 0, 1), PRF(0, 1, 0)]
    total = PRF(sum(p.tp for p in photos), sum(p.fp for p in photos), sum(p.fn for p in photos))
    lo, hi = f1_interval(photos)
    assert lo < total.f1 < hi
    lo16, hi16 = f1_interval(photos * 16)  # same error rates, 16x the photos: a narrower interval
    assert lo < lo16 < total.f1 < hi16 < hi
    assert f1_interval(photos, seed=3) == f1_interval(photos, seed=3)


@pytest.mark.parametrize(
    "data, where",
    [
        ({"image": "a"}, "$: expected a list"),
        ([{"image": "a.jpg", "width": 10, "height": 10, "bibs": [{"number": "1", "box": [1, 2, 3]}]}], "$[0].bibs[0].box: expected [x1, y1, x2, y2]"),
        ([{"image": "a.jpg", "bibs": []}, {"image": "b.jpg", "bibs": [{"box": None}]}], '$[1].bibs[0]: missing "number"'),
        ([{"image": "", "bibs": []}], "$[0].image"),
        ([{"image": "a.jpg", "width": -3, "bibs": []}], "$[0].width"),
        ([{"image": "a.jpg", "bibs": [{"number": "1", "box": [0, 0, 5, 5], "confidence": 7}]}], "$[0].bibs[0].confidence"),
        ([{"image": "a.jpg", "bibs": [{"number": "1", "box": [9, 0, 5, 5]}]}], "$[0].bibs[0].box: x2/y2"),
        ([{"image": "a.jpg", "bibs": []}, {"image": "a.jpg", "bibs": []}], "$[1].image: 'a.jpg' already listed at $[0]"),
        ([{"image": "a.jpg", "bibs": {"number": "1"}}], "$[0].bibs: expected a list"),
    ],
)
def test_bad_annotations_name_the_json_path(data, where):
    with pytest.raises(AnnotationError) as err:
        parse_annotations(data, "x.json")
    assert str(err.value).startswith(f"x.json: {where}"), str(err.value)


def test_annotation_files(tmp_path, capsys):
    bad = tmp_path / "bad.json"
    bad.write_text('[{"image": "a.jpg",\n "bibs": [}]')
    with pytest.raises(AnnotationError, match="invalid JSON at line 2"):
        load_annotations(bad)
    assert main(["eval", str(bad), str(bad)]) == 1
    assert "invalid JSON" in capsys.readouterr().err
    with pytest.raises(AnnotationError, match="file not found"):
        load_annotations(tmp_path / "missing.json")
    ok = [{"image": "a.jpg", "width": 4, "height": 3, "bibs": [{"number": 12, "box": None, "face_box": [1, 2, 3, 4]}], "extra": 1}]
    (tmp_path / "ok.json").write_text(json.dumps(ok))
    assert load_annotations(tmp_path / "ok.json") == [PhotoAnnotation("a.jpg", 4, 3, [Bib("12", None)])]
    target = tmp_path / "out" / "ann.json"
    save_annotations(target, load_annotations(tmp_path / "ok.json"))
    save_annotations(target, [photo("b.jpg")])  # replaced atomically, no temp files left
    assert os.listdir(target.parent) == ["ann.json"]
    assert load_annotations(target)[0].image == "b.jpg"
    with pytest.raises(AnnotationError):
        save_annotations(target, [{"image": "c.jpg", "bibs": [{"number": ""}]}])
    assert load_annotations(target)[0].image == "b.jpg"  # the old file is intact


def test_atomic_writes_get_ordinary_permissions(tmp_path):
    from bibtagger_gui.core.annotations import atomic_write_text

    new = tmp_path / "new.json"
    atomic_write_text(new, "[]\n")  # a temp file from mkstemp would be 0600: unreadable to others
    assert new.stat().st_mode & 0o777 == 0o644
    shared = tmp_path / "shared.json"
    shared.write_text("old")
    shared.chmod(0o664)
    atomic_write_text(shared, "[]\n")
    assert shared.read_text() == "[]\n" and shared.stat().st_mode & 0o777 == 0o664


def test_atomic_writes_keep_symlinks_and_write_into_fifos(tmp_path):
    import threading

    from bibtagger_gui.core.annotations import atomic_write_text

    real = tmp_path / "real" / "out.csv"
    real.parent.mkdir()
    real.write_text("old")
    link = tmp_path / "link.csv"
    link.symlink_to(real)
    atomic_write_text(link, "new\n")
    assert link.is_symlink() and real.read_text() == "new\n"
    assert os.listdir(real.parent) == ["out.csv"]
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    got: list[bytes] = []
    reader = threading.Thread(target=lambda: got.append(fifo.read_bytes()), daemon=True)
    reader.start()
    atomic_write_text(fifo, "through the pipe\n")  # like /dev/stdout: written to, never replaced
    reader.join(10)
    assert got == [b"through the pipe\n"] and fifo.is_fifo()
    assert sorted(os.listdir(tmp_path)) == ["link.csv", "pipe", "real"]
    if os.path.isdir("/proc/self/fd"):  # /dev/stdout -> /proc/self/fd/1 -> an anonymous pipe (`| head`)
        r, w = os.pipe()
        try:
            stdout_like = tmp_path / "stdout"
            stdout_like.symlink_to(f"/proc/self/fd/{w}")
            atomic_write_text(stdout_like, "to the reader\n")
            assert os.read(r, 100) == b"to the reader\n" and stdout_like.is_symlink()
        finally:
            os.close(r)
            os.close(w)


def test_eval_into_a_closed_pipe_exits_quietly(tmp_path):
    import subprocess
    import sys

    gt = tmp_path / "gt.json"
    save_annotations(gt, [photo(f"p{i}.jpg") for i in range(3)])
    err = tmp_path / "err.txt"
    with open(err, "w") as err_file:
        proc = subprocess.Popen([sys.executable, "-m", "bibtagger_gui", "eval", str(gt), str(gt)],
                                stdout=subprocess.PIPE, stderr=err_file)  # fmt: skip
        proc.stdout.close()  # like `| head -1` gone before the output comes
        rc = proc.wait(60)
    assert rc == 141 and err.read_text() == ""


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full (a device that is always full)")
def test_output_to_a_full_disk_is_one_error_line_not_a_traceback(tmp_path):
    """`bibtagger eval … > /media/stick/scores.txt` (any command's stdout) on a full disk ended in an OSError traceback."""
    import subprocess
    import sys

    gt = tmp_path / "gt.json"
    save_annotations(gt, [photo(f"p{i}.jpg") for i in range(3)])
    with open("/dev/full", "w") as full:
        proc = subprocess.run([sys.executable, "-m", "bibtagger_gui", "eval", str(gt), str(gt)],
                              stdout=full, stderr=subprocess.PIPE, text=True, timeout=60)  # fmt: skip
    assert proc.returncode == 1
    assert proc.stderr.splitlines() == ["error: cannot write: No space left on device"], proc.stderr


def test_eval_warns_when_no_predicted_photo_is_in_the_ground_truth(tmp_path, capsys):
    """Predictions made on a copy laid out differently ("a.jpg" against "set1/a.jpg") scored F1 0.000, exit 0, with
    only "predicted photos not in the ground truth (ignored)" as a hint."""
    save_annotations(tmp_path / "gt.json", [photo("set1/a.jpg", Bib("12", None)), photo("set1/b.jpg")])
    save_annotations(tmp_path / "pred.json", [photo("b.jpg"), photo("a.jpg", Bib("12", None, 0.9))])
    assert main(["eval", str(tmp_path / "gt.json"), str(tmp_path / "pred.json")]) == 0
    err = capsys.readouterr().err
    assert "warning: no predicted photo has a ground-truth photo's path (e.g. 'b.jpg' and 'set1/b.jpg')" in err
    save_annotations(tmp_path / "pred.json", [photo("set1/a.jpg"), photo("c.jpg")])  # one in common: no warning
    assert main(["eval", str(tmp_path / "gt.json"), str(tmp_path / "pred.json")]) == 0
    assert "warning" not in capsys.readouterr().err


def test_full_width_numbers_in_a_ground_truth_are_the_recognizers_ascii_ones(tmp_path, capsys):
    """A ground truth typed on a Japanese or Chinese keyboard ("１８１") or copied with a zero-width space scored
    every right read as a miss (exact strings); eval compares numbers as labels (core.bib.label_number: NFKC, no
    zero-width characters), otherwise exact: a dropped leading zero is still wrong, and ASCII scores are the same."""
    full_width = str.maketrans("0123456789", "０１２３４５６７８９")
    gt = generate(tmp_path / "d", count=6, seed=4, size=(160, 240))
    typed = [replace(g, bibs=[replace(b, number=("\u200b" if i % 2 else "") + b.number.translate(full_width))
                              for i, b in enumerate(g.bibs)]) for g in gt]  # fmt: skip
    assert all(not b.number.isascii() for g in typed for b in g.bibs)
    save_annotations(tmp_path / "gt.json", typed)
    save_annotations(tmp_path / "pred.json", gt)
    assert main(["eval", str(tmp_path / "gt.json"), str(tmp_path / "pred.json"), "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == evaluate(gt, gt).to_json()  # as the ASCII ground truth scores
    zero = [replace(g, bibs=[replace(b, number="0" + b.number) for b in g.bibs]) for g in gt]  # a zero not printed
    assert evaluate(typed, zero).to_json() == evaluate(gt, zero).to_json()
    assert evaluate(gt, zero).box.tp == 0 and evaluate(gt, zero).image.tp == 0
