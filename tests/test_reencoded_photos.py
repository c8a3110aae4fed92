"""A photo saved again under its name: a re-encoded copy of the same picture keeps its bibs and review,
another picture of the same size loses them (core/pixelprint, docs/store.md). Real files, real store."""

from __future__ import annotations

import os
import sqlite3
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

from bibtagger_gui.cli import main
from bibtagger_gui.core.bib import Bib
from bibtagger_gui.core.catalogue import file_version
from bibtagger_gui.core.imageio import load_image
from bibtagger_gui.core.pixelhash import pixel_hash
from bibtagger_gui.core.pixelprint import file_print, image_print, same_picture
from bibtagger_gui.core.store import SCHEMA_VERSION, Store

SIZE = (400, 600)  # rows, cols


@pytest.fixture(autouse=True)
def no_store_override(monkeypatch):
    monkeypatch.delenv("BIBTAGGER_STORE_DIR", raising=False)


def scene(seed: int, runner_x: float | None = None) -> np.ndarray:
    """A photo-like BGR image: smooth random shapes, fine texture, and a dark 'runner' at ``runner_x``
    (fraction of the width; the same seed and another ``runner_x`` is the next frame of a burst)."""
    rng = np.random.default_rng(seed)
    img = cv2.resize(rng.integers(0, 255, (6, 9, 3), dtype=np.uint8), SIZE[::-1], interpolation=cv2.INTER_CUBIC)
    img = np.clip(img.astype(np.int16) + rng.integers(-12, 12, img.shape), 0, 255).astype(np.uint8)
    if runner_x is not None:
        x = int(runner_x * SIZE[1])
        cv2.rectangle(img, (x, 120), (x + 60, 380), (20, 30, 40), -1)
        cv2.rectangle(img, (x + 10, 200), (x + 50, 230), (250, 250, 250), -1)  # the bib
    return img


def jpeg(img: np.ndarray, quality: int = 90, **flags: int) -> bytes:
    params = [cv2.IMWRITE_JPEG_QUALITY, quality]
    for name, value in flags.items():
        params += [getattr(cv2, f"IMWRITE_JPEG_{name.upper()}"), value]
    ok, buf = cv2.imencode(".jpg", img, params)
    assert ok
    return buf.tobytes()


def lossless_repacks(img: np.ndarray) -> tuple[bytes, dict[str, bytes]]:
    """A baseline JPEG of ``img`` and copies of it with the very same DCT coefficients coded otherwise
    (what ``jpegtran -optimize`` / ``-progressive`` make of it): the same pixels through the same
    quantisation, only the entropy coding (Huffman tables, scan order) differs."""
    base = jpeg(img)
    copies = {"optimize": jpeg(img, optimize=1), "progressive": jpeg(img, progressive=1)}
    pixels = cv2.imdecode(np.frombuffer(base, np.uint8), cv2.IMREAD_COLOR)
    for name, data in copies.items():
        assert data != base, name
        assert np.array_equal(cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR), pixels), name
    return base, copies


def save(path: Path, data: bytes, later: float) -> None:
    path.write_bytes(data)
    os.utime(path, (time.time() + later, time.time() + later))


def recognized_and_reviewed(store: Store, rel: str) -> int:
    """What recognition and a review leave: model bibs with the print of the decoded image (the
    recognizer's reduced decode, here 1/2), a human bib, the review."""
    pid = store.photo_by_path(rel).id
    decoded = load_image(store.folder / rel, max_side=SIZE[1] // 2)
    store.set_model_bibs(pid, [Bib("3638", (100, 200, 160, 230), 0.9)], "v1", pixel_print=image_print(decoded))
    store.add_bib(pid, "77", (1, 1, 9, 9))
    store.set_reviewed(pid, True)
    return pid


def kept(store: Store, pid: int) -> bool:
    photo = store.photo(pid)
    return photo.reviewed and photo.model_version == "v1" and sorted(b.number for b in store.bibs(pid)) == ["3638", "77"]


@pytest.mark.parametrize("repack", ["optimize", "progressive"])
def test_a_losslessly_reencoded_jpeg_keeps_its_review_and_bibs(tmp_path, repack):
    """jpegtran -optimize/-progressive (or any tool that re-packs the Huffman coding) changes the coded
    data, so the image-data hash; the decoded picture is the same, so nothing is lost. Another picture of
    the same size saved after it still resets the photo."""
    path = tmp_path / "p.jpg"
    base, copies = lossless_repacks(scene(1))
    save(path, base, 0)
    with Store.open(tmp_path) as store:
        store.scan()
        pid = recognized_and_reviewed(store, "p.jpg")
        before = pixel_hash(path)
        save(path, copies[repack], 5)
        assert pixel_hash(path) != before  # the coded data differs: the image-data hash alone said "replaced"
        report = store.scan()
        assert (report.updated, report.replaced, report.reencoded) == (["p.jpg"], [], ["p.jpg"])
        assert kept(store, pid)
        assert store.history(pid)[-1].after.get("reencoded") is True
        assert store.pixel_print(pid) is not None  # still valid for the new file: the next re-pack is compared too
        save(path, base, 10)
        assert store.scan().reencoded == ["p.jpg"] and kept(store, pid)

        save(path, jpeg(scene(2)), 15)  # another picture, same size
        report = store.scan()
        assert (report.replaced, report.reencoded) == (["p.jpg"], [])
        photo = store.photo(pid)
        assert not photo.reviewed and photo.model_version is None
        assert [(b.number, b.source) for b in store.bibs(pid)] == [("77", "human")]


def test_a_recompressed_jpeg_is_the_same_picture_but_a_burst_frame_is_another(tmp_path):
    """The rule for lossy re-saves: the same picture when its decoded print matches within the
    tolerance that decode scale and re-compression cause; the next frame of a burst (the runner a
    step further, 5 % of the width) is another picture, whatever the quality."""
    path = tmp_path / "p.jpg"
    frame = scene(3, runner_x=0.4)
    save(path, jpeg(frame, 92), 0)
    with Store.open(tmp_path) as store:
        store.scan()
        pid = recognized_and_reviewed(store, "p.jpg")
        decoded = cv2.imdecode(np.frombuffer(path.read_bytes(), np.uint8), cv2.IMREAD_COLOR)
        for i, quality in enumerate((75, 50), 1):  # an export or web tool re-saving the decoded photo
            save(path, jpeg(decoded, quality), 5 * i)
            assert store.scan().reencoded == ["p.jpg"], quality
            assert kept(store, pid), quality
        save(path, jpeg(scene(3, runner_x=0.45), 92), 20)
        assert store.scan().replaced == ["p.jpg"]
        assert not store.photo(pid).reviewed


def test_prints_match_across_decode_scales_and_not_across_pictures(tmp_path):
    """The print from the recognizer's reduced decode and the one a scan decodes (file_print, libjpeg
    1/8 here for a camera-sized file) agree; a different photograph or a burst frame does not."""
    big = cv2.resize(scene(4, runner_x=0.3), (3000, 2000), interpolation=cv2.INTER_CUBIC)
    path = tmp_path / "big.jpg"
    path.write_bytes(jpeg(big))
    prints = [image_print(load_image(path, max_side=side)) for side in (None, 1500, 750, 375)]
    assert all(same_picture(prints[0], p) for p in prints[1:])
    assert same_picture(prints[0], file_print(path))
    for other in (scene(5, runner_x=0.3), scene(4, runner_x=0.35)):
        path.write_bytes(jpeg(cv2.resize(other, (3000, 2000), interpolation=cv2.INTER_CUBIC)))
        assert not same_picture(prints[0], file_print(path))
    path.write_bytes(b"\xff\xd8\xff")  # not decodable: no print, never an exception
    assert file_print(path) is None


def test_a_tiff_replaced_by_another_picture_resets_and_a_resaved_one_keeps(tmp_path):
    """TIFF has no image-data hash (pixelhash), so only the pixel size decided: another picture of the
    same size kept the old review. Its decoded print decides now."""
    path = tmp_path / "p.tif"
    img = scene(6)
    assert cv2.imwrite(str(path), img, [cv2.IMWRITE_TIFF_COMPRESSION, 5])  # LZW
    with Store.open(tmp_path) as store:
        store.scan()
        pid = recognized_and_reviewed(store, "p.tif")
        assert cv2.imwrite(str(path), img, [cv2.IMWRITE_TIFF_COMPRESSION, 1])  # the same pixels, uncompressed
        os.utime(path, (time.time() + 5, time.time() + 5))
        report = store.scan()
        assert report.updated == ["p.tif"] and report.replaced == []
        assert kept(store, pid)
        assert cv2.imwrite(str(path), scene(7), [cv2.IMWRITE_TIFF_COMPRESSION, 1])  # another picture, same size
        os.utime(path, (time.time() + 10, time.time() + 10))
        assert store.scan().replaced == ["p.tif"]
        assert not store.photo(pid).reviewed and store.photo(pid).model_version is None


def test_a_schema_3_store_gets_prints_for_its_reviewed_photos_then_keeps_them_through_a_repack(tmp_path):
    """An old store (no pixel_prints) opens as schema 4 with nothing changed; its reviewed photos have no
    print (they were recognized before), so fill_pixel_prints decodes them once (predict and the app's
    recognition job call it); after that a lossless re-pack keeps the review."""
    path = tmp_path / "p.jpg"
    base, copies = lossless_repacks(scene(8))
    save(path, base, 0)
    make = tmp_path / "untouched.jpg"
    make.write_bytes(jpeg(scene(9)))  # neither reviewed nor tagged: no print needed
    with Store.open(tmp_path) as store:
        store.scan()
        pid = store.photo_by_path("p.jpg").id
        store.set_model_bibs(pid, [Bib("3638", (100, 200, 160, 230), 0.9)], "v1")
        store.add_bib(pid, "77", (1, 1, 9, 9))
        store.set_reviewed(pid, True)
    con = sqlite3.connect(tmp_path / ".bibtagger" / "project.db")
    con.execute("DROP TABLE pixel_prints")
    con.execute("UPDATE meta SET value = '3' WHERE key = 'schema_version'")
    con.commit()
    con.close()
    with Store.open(tmp_path) as store:
        assert store.get_meta("schema_version") == str(SCHEMA_VERSION) == "4"
        assert kept(store, pid) and store.photos_without_print() == [pid]
        assert store.fill_pixel_prints() == 1
        assert store.photos_without_print() == [] and store.fill_pixel_prints() == 0
        save(path, copies["optimize"], 5)
        assert store.scan().reencoded == ["p.jpg"]
        assert kept(store, pid)


def test_predict_keeps_prints_so_a_repacked_photo_is_not_recognized_again(tmp_path, capsys, placeholder_models_dir):
    """predict stores the print of the image it recognized; a re-packed photo keeps its model bibs and
    model version, so the next predict run does not recognize it again."""
    folder = tmp_path / "race"
    folder.mkdir()
    base, copies = lossless_repacks(scene(10, runner_x=0.5))
    save(folder / "a.jpg", base, 0)
    (folder / "b.jpg").write_bytes(jpeg(scene(11)))
    models = ["--models", str(placeholder_models_dir)]
    assert main(["predict", str(folder), *models]) == 0
    with Store.open(folder) as store:
        pid = store.photo_by_path("a.jpg").id
        assert all(store.pixel_print(p.id) is not None for p in store.photos())
        assert same_picture(store.pixel_print(pid), file_print(folder / "a.jpg"))
        version = store.photo(pid).model_version
        store.set_reviewed(pid, True)
    save(folder / "a.jpg", copies["progressive"], 5)
    capsys.readouterr()
    assert main(["predict", str(folder), *models]) == 0
    err = capsys.readouterr().err
    assert "replaced by another picture" not in err and "0 photo(s) recognized" in err, err
    with Store.open(folder) as store:
        assert store.photo(pid).reviewed and store.photo(pid).model_version == version


def test_last_print_is_per_thread_so_workers_sharing_a_recognizer_keep_their_own(tmp_path, placeholder_models_dir):
    """Two threads on one Recognizer: the print a thread reads after its recognize_path is of its own
    photo, even when the other thread recognized another photo in between."""
    import threading

    from bibtagger_gui.core.recognizer import Recognizer

    (tmp_path / "a.jpg").write_bytes(jpeg(scene(20, runner_x=0.2)))
    (tmp_path / "b.jpg").write_bytes(jpeg(scene(21, runner_x=0.7)))
    rec = Recognizer.from_dir(placeholder_models_dir)
    decoded, other_done, seen = threading.Event(), threading.Event(), {}

    def worker():
        rec.recognize_path(tmp_path / "a.jpg")
        decoded.set()
        other_done.wait(30)
        seen["a"] = rec.last_print

    t = threading.Thread(target=worker)
    t.start()
    assert decoded.wait(30)
    rec.recognize_path(tmp_path / "b.jpg")
    other_done.set()
    t.join(30)
    assert same_picture(seen["a"], file_print(tmp_path / "a.jpg"))
    assert not same_picture(seen["a"], file_print(tmp_path / "b.jpg"))
    assert same_picture(rec.last_print, file_print(tmp_path / "b.jpg"))


def test_a_print_from_a_decode_done_anyway_is_kept_only_for_the_file_scanned_and_never_over_one(tmp_path):
    """Store.add_missing_pixel_print (the app's photo view): written while the photo's row is the file decoded
    (catalogue.file_version) and has no print for it; refused for a file changed since the scan, and over an existing
    print (a same-length replacement with its mtime put back: tests/test_store_change_time.py)."""
    path = tmp_path / "p.jpg"
    save(path, jpeg(scene(3)), 0)
    with Store.open(tmp_path) as store:
        store.scan()
        photo = store.photo_by_path("p.jpg")
        pp = image_print(load_image(path, max_side=300))
        assert not store.add_missing_pixel_print(photo.id, pp, (photo.size, photo.mtime + 1, photo.ctime_ns))  # rewritten since the scan
        assert store.pixel_print(photo.id) is None
        assert store.add_missing_pixel_print(photo.id, pp, file_version(path))
        assert store.pixel_print(photo.id) == pp and same_picture(pp, file_print(path))
        other = image_print(load_image(path, max_side=100)[::-1].copy())
        assert not store.add_missing_pixel_print(photo.id, other, file_version(path))
        assert store.pixel_print(photo.id) == pp
