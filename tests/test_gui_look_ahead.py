"""The view decodes the list's next and previous photo ahead (gui/look_ahead.py, docs/gui.md#look-ahead): a step
shows their pixels without a decode of its own, never stale pixels of a file replaced since, never two decodes
of one photo, and no more than KEEP images kept."""

from __future__ import annotations

import os
import threading
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np
import pytest

from bibtagger_gui.core import catalogue
from bibtagger_gui.core.list_order import ListOrder
from bibtagger_gui.gui import look_ahead, photo_view
from tests.test_gui_support import fixed_predictions, gui_env, make_window, wait_idle  # noqa: F401 - fixtures

N = 6


def colour(i: int) -> tuple[int, int, int]:
    """Photo i's solid colour, RGB."""
    return (30 * i + 20, 220 - 30 * i, 90)


def write_photo(path: Path, rgb: tuple[int, int, int], size=(360, 240)) -> None:
    img = np.zeros((size[1], size[0], 3), np.uint8)
    img[:] = rgb[::-1]  # BGR
    cv2.imwrite(str(path), img)


def solid_photos(folder: Path, n: int, monkeypatch) -> Path:
    """``n`` solid-colour photos (photo i in :func:`colour` i), recognized as holding no bib."""
    folder.mkdir()
    for i in range(n):
        write_photo(folder / f"photo_{i}.jpg", colour(i))
    fixed_predictions(monkeypatch, {})
    return folder


def first_shown(qtbot, win, folder: Path):
    """``win`` over ``folder`` in name order, its first photo's pixels shown."""
    win.open_folder(folder)
    wait_idle(qtbot, win)
    win.set_order(ListOrder.NAME)
    win.select_row(0)
    qtbot.waitUntil(lambda: win.photo_view.image_loaded and current_name(win) == "photo_0.jpg")
    return win


@pytest.fixture
def stepping(qtbot, make_window, tmp_path, monkeypatch):
    """A window in name order over N solid-colour photos, the first shown; ``decodes`` lists every file the
    view or its look-ahead decoded."""
    folder = solid_photos(tmp_path / "p", N, monkeypatch)
    decodes: list[str] = []
    real = photo_view.load_image

    def counting(path, *args, **kwargs):
        decodes.append(Path(path).name)
        return real(path, *args, **kwargs)

    monkeypatch.setattr(photo_view, "load_image", counting)
    win = first_shown(qtbot, make_window(), folder)
    win.decodes = decodes
    return win


def shown_rgb(win) -> tuple[int, int, int]:
    img = win.photo_view._pixmap_item.pixmap().toImage()
    c = img.pixelColor(img.width() // 2, img.height() // 2)
    return (c.red(), c.green(), c.blue())


def close_to(a, b, tol=8) -> bool:
    return all(abs(x - y) <= tol for x, y in zip(a, b))


def settle_ahead(qtbot, win, *names: str) -> None:
    view = win.photo_view
    qtbot.waitUntil(lambda: {p.name for p in view.ahead.kept()} >= set(names) and not view.ahead._tasks)


def current_name(win) -> str:
    return Path(win.items[win.current_id].photo.relpath).name


def test_a_step_shows_the_next_photo_decoded_ahead_at_once(qtbot, stepping):
    win = stepping
    settle_ahead(qtbot, win, "photo_0.jpg", "photo_1.jpg")
    assert win.decodes.count("photo_1.jpg") == 1  # ahead, before any step
    for i in range(1, 4):
        win.step_photo(1)
        assert current_name(win) == f"photo_{i}.jpg"
        assert win.photo_view.image_loaded  # at once, within the key press
        assert close_to(shown_rgb(win), colour(i))
        settle_ahead(qtbot, win, f"photo_{i}.jpg", f"photo_{i + 1}.jpg", f"photo_{i - 1}.jpg")
    assert all(win.decodes.count(f"photo_{i}.jpg") == 1 for i in range(5)), win.decodes
    win.step_photo(-1)  # back: the photo just left is kept too
    assert win.photo_view.image_loaded and close_to(shown_rgb(win), colour(2))
    assert win.decodes.count("photo_2.jpg") == 1, win.decodes
    assert len(win.photo_view.ahead.kept()) <= look_ahead.KEEP


def test_a_file_replaced_after_it_was_decoded_ahead_shows_its_new_pixels(qtbot, stepping):
    win = stepping
    settle_ahead(qtbot, win, "photo_1.jpg")
    path = win.folder / "photo_1.jpg"
    st = os.stat(path)
    write_photo(path, (250, 250, 10))
    os.utime(path, (st.st_atime + 10, st.st_mtime + 10))  # another program's copy, a later time
    win.step_photo(1)
    assert current_name(win) == "photo_1.jpg"
    qtbot.waitUntil(lambda: win.photo_view.image_loaded)
    assert close_to(shown_rgb(win), (250, 250, 10))
    assert win.decodes.count("photo_1.jpg") == 2


@pytest.mark.skipif(os.name == "nt", reason="no change time on Windows (core.catalogue.change_ns)")
def test_a_same_length_file_whose_mtime_was_put_back_shows_its_new_pixels(qtbot, stepping):
    """cp -p of a file of the same length: size and mtime as decoded, only the change time tells (it showed the
    kept, stale pixels; docs/store.md#file-versions)."""
    win = stepping
    settle_ahead(qtbot, win, "photo_1.jpg")
    path = win.folder / "photo_1.jpg"
    st = os.stat(path)
    for k in range(40):  # a picture whose JPEG is not longer than the old one, padded to its length
        rgb = (250 - k, 250, 10 + k)
        ok, data = cv2.imencode(".jpg", np.full((240, 360, 3), rgb[::-1], np.uint8))
        if len(data) <= st.st_size:
            break
    path.write_bytes(data.tobytes() + b"\0" * (st.st_size - len(data)))
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert (os.stat(path).st_size, os.stat(path).st_mtime_ns) == (st.st_size, st.st_mtime_ns)
    win.step_photo(1)
    assert current_name(win) == "photo_1.jpg"
    qtbot.waitUntil(lambda: win.photo_view.image_loaded)
    assert close_to(shown_rgb(win), rgb)
    assert win.decodes.count("photo_1.jpg") == 2


def gated_on_photo_1(qtbot, make_window, tmp_path, monkeypatch):
    """A window over 3 solid-colour photos, the first shown, whose look-ahead is held in its (first) decode of
    photo 1 until ``gate`` is set; ``decodes`` lists every file decoded."""
    folder = solid_photos(tmp_path / "p", 3, monkeypatch)
    gate, started, decodes = threading.Event(), threading.Event(), []
    real = photo_view.load_image

    def gated(path, *args, **kwargs):
        decodes.append(Path(path).name)
        if Path(path).name == "photo_1.jpg" and not started.is_set():
            started.set()
            assert gate.wait(20)
        return real(path, *args, **kwargs)

    monkeypatch.setattr(photo_view, "load_image", gated)
    win = first_shown(qtbot, make_window(), folder)
    qtbot.waitUntil(started.is_set)  # the look-ahead is decoding photo 1
    return win, folder, gate, decodes


def test_a_step_to_a_photo_being_decoded_ahead_waits_for_that_decode(qtbot, make_window, tmp_path, monkeypatch):
    win, _folder, gate, decodes = gated_on_photo_1(qtbot, make_window, tmp_path, monkeypatch)
    try:
        win.step_photo(1)
        assert current_name(win) == "photo_1.jpg" and not win.photo_view.image_loaded
        qtbot.wait(50)
        assert win.photo_view.pool.pending == 0 and win.photo_view.pool.active == 0  # no decode of its own
    finally:
        gate.set()
    qtbot.waitUntil(lambda: win.photo_view.image_loaded)
    assert close_to(shown_rgb(win), colour(1))
    assert decodes.count("photo_1.jpg") == 1, decodes


def test_a_file_replaced_while_the_view_waits_for_its_look_ahead_decode_is_decoded_by_the_view(
        qtbot, make_window, tmp_path, monkeypatch):
    """The step waits for the look-ahead's decode; the file changes meanwhile, so that decode is not kept and the
    view decodes the new file itself at its preview side (this path raised a TypeError once: no photo shown)."""
    win, folder, gate, decodes = gated_on_photo_1(qtbot, make_window, tmp_path, monkeypatch)
    try:
        win.step_photo(1)
        assert current_name(win) == "photo_1.jpg" and not win.photo_view.image_loaded
        path = folder / "photo_1.jpg"
        st = os.stat(path)
        write_photo(path, (250, 250, 10))
        os.utime(path, (st.st_atime + 10, st.st_mtime + 10))
    finally:
        gate.set()
    qtbot.waitUntil(lambda: win.photo_view.image_loaded)
    assert close_to(shown_rgb(win), (250, 250, 10))
    assert decodes.count("photo_1.jpg") == 2, decodes


def test_closing_the_folder_lets_go_of_what_was_decoded_ahead(qtbot, make_window, tmp_path, monkeypatch):
    """The kept images (~13 MB each at 24 MP) and a decode under way are the folder's: closing it lets them go,
    as it lets go of its list (nothing waits for the next folder's first photo to free them)."""
    folder = solid_photos(tmp_path / "p", 3, monkeypatch)
    gate, started = threading.Event(), threading.Event()
    real = photo_view.load_image

    def gated(path, *args, **kwargs):
        if Path(path).name == "photo_2.jpg":  # the look-ahead's decode of the photo after next, under way at the close
            started.set()
            assert gate.wait(20)
        return real(path, *args, **kwargs)

    monkeypatch.setattr(photo_view, "load_image", gated)
    win = first_shown(qtbot, make_window(), folder)
    settle_ahead(qtbot, win, "photo_0.jpg", "photo_1.jpg")
    win.step_photo(1)  # photo 1 shown at once; the look-ahead goes on to photo 2
    qtbot.waitUntil(started.is_set)
    view = win.photo_view
    try:
        assert view.ahead.kept()
        win.close_folder()
        assert view.ahead.kept() == []
    finally:
        gate.set()
    qtbot.waitUntil(lambda: view.ahead.pool.active == 0)
    qtbot.wait(50)  # the decode's result, delivered after the close, is not kept
    assert view.ahead.kept() == []


def test_a_step_to_a_photo_queued_for_the_look_ahead_decodes_it_once(qtbot, make_window, tmp_path, monkeypatch):
    """K right after a jump in the list, while the look-ahead still decodes the next photo and has the previous one
    queued: the view decodes that one itself, and the queued decode of it is dropped (not a second decode of the
    photo shown)."""
    folder = solid_photos(tmp_path / "p", 5, monkeypatch)
    gate, started, decodes = threading.Event(), threading.Event(), []
    real = photo_view.load_image

    def gated(path, *args, **kwargs):
        decodes.append(Path(path).name)
        if Path(path).name == "photo_4.jpg":  # the look-ahead's decode of the next photo: held
            started.set()
            assert gate.wait(20)
        return real(path, *args, **kwargs)

    monkeypatch.setattr(photo_view, "load_image", gated)
    win = first_shown(qtbot, make_window(), folder)
    view = win.photo_view
    win.select_row(3)  # a jump: photo 3 decoded by the view, then photo 4 ahead (held) and photo 2 queued
    qtbot.waitUntil(started.is_set)
    try:
        assert view.ahead.pool.pending == 1 and "photo_2.jpg" not in decodes
        win.step_photo(-1)
        assert current_name(win) == "photo_2.jpg"
        qtbot.waitUntil(lambda: view.image_loaded)  # its own decode
    finally:
        gate.set()
    qtbot.waitUntil(lambda: view.ahead.pool.active == 0 and view.ahead.pool.pending == 0)
    qtbot.wait(50)
    assert close_to(shown_rgb(win), colour(2))
    assert decodes.count("photo_2.jpg") == 1, decodes


def _decoded(path: Path) -> look_ahead.Decoded:
    from PySide6.QtGui import QImage

    return look_ahead.Decoded(Path(path), look_ahead.file_version(Path(path)), QImage(4, 4, QImage.Format.Format_RGB888), "", None)


def test_a_decode_that_raises_is_still_said_done(qtbot, tmp_path):
    """A view waiting for the look-ahead's decode of its photo waits for ``ready``: a decode that raised must send it
    too (the view then decodes itself and shows why), or the photo would never show."""
    def broken(path, side):
        raise MemoryError("no room for 24 MP")

    ahead = look_ahead.LookAhead(broken)
    photo = tmp_path / "a.jpg"
    photo.write_bytes(b"x")
    with qtbot.waitSignal(ahead.ready, timeout=10000) as got:
        ahead.want([photo])
    assert got.args == [photo] and ahead.kept() == [] and not ahead.running(photo)
    ahead.stop()


def test_a_decode_the_list_moved_past_is_not_kept(qtbot, tmp_path):
    """want() cannot stop a running decode; when it ends for a photo no longer wanted it is not kept (it would push out
    what is), unless the view holds it (it waits for that photo)."""
    a, b = tmp_path / "a.jpg", tmp_path / "b.jpg"
    for p in (a, b):
        p.write_bytes(b"x")
    gate = threading.Event()

    def decode(path, side):
        if path == a:
            assert gate.wait(20)
        return _decoded(path), None

    ahead = look_ahead.LookAhead(decode)
    ahead.want([a])
    qtbot.waitUntil(lambda: ahead.running(a))
    ahead.want([b])  # the list moved on: a still runs
    gate.set()
    qtbot.waitUntil(lambda: b in ahead.kept() and not ahead.running(a))
    assert a not in ahead.kept()
    gate.clear()
    ahead.want([a])
    qtbot.waitUntil(lambda: ahead.running(a))
    ahead.want([b])
    ahead.hold(a)  # the view shows a now and waits for this decode
    gate.set()
    qtbot.waitUntil(lambda: a in ahead.kept())
    ahead.stop()


def test_a_smaller_decode_ahead_does_not_replace_a_sharper_one_the_view_kept_meanwhile(qtbot, tmp_path):
    """The view may keep its own larger decode of a photo (put) while a look-ahead decode of it at a smaller side
    runs; that smaller one ending must not replace it, or stepping back shows the photo blurred until re-decoded."""
    from PySide6.QtGui import QImage

    a = tmp_path / "a.jpg"
    a.write_bytes(b"x")
    gate = threading.Event()

    def decode(path, side):
        assert gate.wait(20)
        return replace(_decoded(path), side=side), None

    ahead = look_ahead.LookAhead(decode)
    ahead.want([a], side=1024)
    qtbot.waitUntil(lambda: ahead.running(a))
    sharp = look_ahead.Decoded(a, look_ahead.file_version(a), QImage(8, 8, QImage.Format.Format_RGB888), "", None, 2560)
    ahead.put(sharp)
    with qtbot.waitSignal(ahead.ready, timeout=10000):
        gate.set()
    assert ahead.take(a).side == 2560
    ahead.stop()


def print_held_on_photo_1(qtbot, make_window, tmp_path, monkeypatch):
    """A window over 3 solid-colour photos, the first shown, photo 1 decoded ahead and its pixel print held until
    ``gate`` is set; ``real`` is the print function, ``prints`` what the view's ``printed`` sends."""
    folder = solid_photos(tmp_path / "p", 3, monkeypatch)
    gate, started = threading.Event(), threading.Event()
    real = photo_view.image_print

    def gated(rgb):
        mean = tuple(int(v) for v in rgb.reshape(-1, 3).mean(axis=0))
        if close_to(mean, colour(1)):  # photo 1's print, made by the look-ahead's thread: held
            started.set()
            assert gate.wait(20)
        return real(rgb)

    monkeypatch.setattr(photo_view, "image_print", gated)
    win = first_shown(qtbot, make_window(), folder)
    qtbot.waitUntil(started.is_set)  # photo 1 decoded ahead, its print under way
    prints: list[tuple] = []
    win.photo_view.printed.connect(prints.append)
    return win, gate, real, prints


def test_the_look_ahead_hands_the_pixels_over_before_it_prints_them(qtbot, make_window, tmp_path, monkeypatch):
    """A step while the look-ahead makes the next photo's pixel print (~14 ms at 24 MP) shows its pixels without
    waiting for the print; the print follows, for that photo, even when the reviewer has moved on by then."""
    win, gate, real, prints = print_held_on_photo_1(qtbot, make_window, tmp_path, monkeypatch)
    view = win.photo_view
    try:
        win.step_photo(1)
        assert current_name(win) == "photo_1.jpg"
        qtbot.waitUntil(lambda: view.image_loaded, timeout=2000)  # not held by the print
        assert close_to(shown_rgb(win), colour(1)) and prints == []
        photo_1 = win.items[win.current_id].photo
        win.step_photo(1)  # on before photo 1's print is made
        assert current_name(win) == "photo_2.jpg"
    finally:
        gate.set()
    qtbot.waitUntil(lambda: any(p[0] == photo_1.id for p in prints))
    qtbot.wait(50)
    (got,) = [p for p in prints if p[0] == photo_1.id]  # once
    assert got[1] == real(load_rgb(win.folder / "photo_1.jpg")) and got[2] == (photo_1.size, photo_1.mtime, photo_1.ctime_ns)


def load_rgb(path: Path) -> np.ndarray:
    return photo_view.load_image(path)


def test_a_print_still_being_made_when_the_folder_closes_is_not_sent(qtbot, make_window, tmp_path, monkeypatch):
    """The print goes to the window by photo id, which means nothing in the next folder's store: a look-ahead print
    that ends after the folder closed is dropped."""
    win, gate, _real, prints = print_held_on_photo_1(qtbot, make_window, tmp_path, monkeypatch)
    view = win.photo_view
    try:
        win.step_photo(1)
        qtbot.waitUntil(lambda: view.image_loaded, timeout=2000)
        win.close_folder()
    finally:
        gate.set()
    qtbot.waitUntil(lambda: view.ahead.pool.active == 0)
    qtbot.wait(50)
    assert prints == []


def test_on_windows_a_photo_of_a_project_scanned_on_linux_or_macos_still_gets_its_print(qtbot, tmp_path, monkeypatch):
    """A shoot on an external drive scanned on Linux or macOS holds its files' change times; opened on Windows,
    where there is none to compare (core.catalogue.change_ns is None), the view's decode is of the store's file all
    the same (size and mtime as stored) and its print goes out (an old store keeps it from the view). It was
    dropped: is_version (now core.catalogue's) compared Windows' None with the stored change time."""
    from types import SimpleNamespace

    from PySide6.QtCore import QCoreApplication

    path = tmp_path / "a.jpg"
    write_photo(path, colour(1))
    st = os.stat(path)
    stored = SimpleNamespace(id=7, width=360, height=240, error=None, relpath="a.jpg", sha1="5" * 40, size=st.st_size,
                             mtime=st.st_mtime, ctime_ns=st.st_ctime_ns or 1)  # what the scan elsewhere took
    monkeypatch.setattr(catalogue, "change_ns", lambda st: None)  # Windows: no change time
    view = photo_view.PhotoView()
    qtbot.addWidget(view)
    view.resize(640, 440)
    prints: list[tuple] = []
    view.printed.connect(prints.append)
    try:
        view.set_photo(stored, tmp_path)
        qtbot.waitUntil(lambda: view.image_loaded, timeout=10000)
        qtbot.waitUntil(lambda: view.pool.active == 0 and view.pool.pending == 0, timeout=10000)
        QCoreApplication.processEvents()
        qtbot.wait(50)  # the print follows the pixels
        assert [(p[0], p[2]) for p in prints] == [(7, (st.st_size, st.st_mtime, stored.ctime_ns))]  # the store's version
        assert prints[0][1] == photo_view.image_print(photo_view.load_image(path, max_side=view.shown_side()))
    finally:
        view.stop_workers()
