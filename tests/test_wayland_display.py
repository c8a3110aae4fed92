"""The app on a real Wayland compositor with a window manager (docs/wayland.md): Qt's wayland plugin, sway.

Wayland is the default session of current Ubuntu and Fedora desktops, where Qt 6 takes its `wayland` platform
plugin. Here `bibtagger gui` runs as a child process on a headless sway (tests/wayland.py) with
QT_QPA_PLATFORM=wayland: its window must map (sway's tree), take keys typed through the compositor's virtual
keyboard (wtype), write the typed number to the store (read from outside, tests/display_app.py), quit on
Ctrl+Q, draw on the output (grim), and get the keyboard back from the window manager after a dialog closes.
Skips when sway/wtype/grim are missing, fails in CI (tests/xvfb.py's need_tools).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from tests.display_app import App, grab_until_drawn, photos, photos_template, start_app, type_a_number, type_a_number_and_quit  # noqa: F401 (fixtures)
from tests.wayland import Sway, need_wayland_tools


@pytest.fixture
def sway(tmp_path):
    """Start headless sway compositors (``sway(size=...)``), each in its own XDG_RUNTIME_DIR; stopped after."""
    need_wayland_tools()
    compositors: list[Sway] = []

    def start(size: tuple[int, int] = (1280, 800)) -> Sway:
        compositors.append(Sway(tmp_path / f"w{len(compositors)}", size=size))
        return compositors[-1]

    yield start
    for compositor in compositors:
        compositor.stop()


def test_the_app_on_wayland_takes_keys_typed_through_the_compositor_and_saves_them(sway, start_app):
    compositor = sway()
    assert compositor.runtime.stat().st_mode & 0o777 == 0o700
    app = start_app(compositor)  # its window mapped: sway's tree has it, titled "demo — bibtagger"
    window = compositor.window(app.window)
    assert window["shell"] == "xdg_shell" and window["visible"], window  # a Wayland client, not XWayland
    assert window["app_id"] == "bibtagger", window["app_id"]  # what a desktop matches its .desktop file by: was python3
    type_a_number_and_quit(app)  # 4321 in the store, Ctrl+Q exits 0, the log says "Qt platform: wayland"


def test_the_window_is_drawn_on_the_compositors_output(sway, start_app):
    compositor = sway(size=(1280, 800))
    app = start_app(compositor)
    app.wait_until_recognized()
    left, top, width, height = compositor.geometry(app.window)
    assert left >= 0 and top >= 0 and left + width <= 1280 and top + height <= 800, (left, top, width, height)
    assert width * height > 1280 * 800 / 2  # a tiling window manager gives it the output (less its title bar)
    screen, colours = grab_until_drawn(compositor, (left, top, width, height))  # the output as sway composed it
    assert screen.shape == (800, 1280, 3)
    assert colours > 200, f"the window's area of the output has {colours} colours: blank"  # photos, thumbnails, text


def test_the_keyboard_comes_back_to_the_main_window_when_a_dialog_closes(sway, start_app):
    """With no window manager (Xvfb) the focus fell to the root window when a dialog closed and the tests had to
    hand it back; here the window manager does: F1's Keyboard Shortcuts opens focused, Escape closes it, and the
    digits typed next reach the main window's number field."""
    compositor = sway()
    app = start_app(compositor)
    app.wait_until_recognized()
    compositor.focus(app.window)
    compositor.key("F1")
    dialog = compositor.wait(lambda ws: [w for w in ws if w["name"] == "Keyboard Shortcuts" and w["focused"]],
                             "the Keyboard Shortcuts window, focused")[0]  # fmt: skip
    assert dialog["type"] == "floating_con"  # a dialog floats over the tiled main window
    compositor.key("Escape")
    compositor.wait(lambda ws: [w["name"] for w in ws] == [f"{app.folder.name} — bibtagger"], "the dialog closed")
    type_a_number(app)  # waits for the window manager's focus on the main window, then 4321 lands in the store


def test_the_wayland_plugin_finds_its_system_libraries():
    """Qt's wayland plugin loads libwayland-client0, libwayland-cursor0 and libwayland-egl1 (the Makefile's
    SYSDEPS); one missing, Qt skips the plugin and falls back to xcb (XWayland) or aborts."""
    if not sys.platform.startswith("linux") or shutil.which("ldd") is None:
        pytest.skip("needs Linux and its ldd")
    import PySide6

    plugins = Path(PySide6.__file__).parent / "Qt" / "plugins"
    libraries = [plugins / "platforms" / "libqwayland.so", *sorted((plugins / "wayland-shell-integration").glob("libxdg-shell.so")),
                 *sorted((plugins / "wayland-decoration-client").glob("*.so"))]  # fmt: skip
    assert libraries[0].is_file() and len(libraries) > 1, f"{libraries} missing from PySide6"
    for library in libraries:
        out = subprocess.run(["ldd", str(library)], capture_output=True, text=True, timeout=30)
        missing = sorted({line.split()[0] for line in out.stdout.splitlines() if "not found" in line})
        assert not missing, f"{library.name} needs {', '.join(missing)}: add its package to SYSDEPS (Makefile)"


def test_a_live_compositor_is_not_refused_over_x11(sway, tmp_path, photos, placeholder_models_dir):
    """core/xcb_check.py refuses to start when Qt will end up on xcb and cannot load it or reach DISPLAY: with
    WAYLAND_DISPLAY naming a compositor that answers, Qt takes Wayland, so neither a missing xcb library nor a
    dead DISPLAY may stop the app (no QT_QPA_PLATFORM: Qt's own choice, as from a desktop's menu)."""
    from bibtagger_gui.core.xcb_check import uses_xcb, wayland_problem, xcb_problem

    compositor = sway()
    broken = tmp_path / "broken-libs"
    broken.mkdir()
    (broken / "libxcb-cursor.so.0").write_bytes(b"")  # stands for a missing xcb library
    env = {k: v for k, v in compositor.env().items() if k != "QT_QPA_PLATFORM"}
    env.update(DISPLAY=":98", LD_LIBRARY_PATH=str(broken))  # no X server answers :98 (no XWayland)
    assert wayland_problem(env) is None and not uses_xcb(env, "linux")
    assert xcb_problem(env, "linux", None, lambda path: (_ for _ in ()).throw(OSError("libxcb-cursor.so.0: missing"))) is None
    assert xcb_problem({**env, "QT_QPA_PLATFORM": "xcb"}, "linux") is not None  # the check is live: xcb asked, refused
    unset = [sys.executable, "-c", "import os, sys; os.environ.pop('QT_QPA_PLATFORM'); os.environ['DISPLAY'] = ':98'; "
             "os.execv(sys.executable, [sys.executable, '-m', 'bibtagger_gui', *sys.argv[1:]])"]  # App's env drops DISPLAY
    app = App(compositor, photos, placeholder_models_dir, tmp_path / "home", command=unset, env=env)
    try:
        type_a_number_and_quit(app)  # it started, on wayland
    finally:
        app.stop()


def test_a_scaled_output_gets_the_same_window_and_dialog_in_its_own_pixels(sway, start_app):
    """A desktop's scale reaches Qt's wayland plugin from the compositor (wl_output.scale; sway 1.7 has no
    fractional-scale protocol: at 150 % the app draws at 200 % and sway scales it down). Set live, as when a
    window moves to a HiDPI monitor: the window and F1's dialog must keep their sizes in logical pixels, the
    output grows in real pixels, and what is drawn there is not blank."""
    compositor = sway(size=(1280, 800))
    app = start_app(compositor)
    app.wait_until_recognized()
    compositor.key("F1")
    title = "Keyboard Shortcuts"
    compositor.wait(lambda ws: [w for w in ws if w["name"] == title and w["focused"]], "the Keyboard Shortcuts window")
    rects = {w["name"]: w["rect"] for w in compositor.windows()}
    for scale in (2, 1.5):
        physical = (round(800 * scale), round(1280 * scale))  # the same logical 1280x800
        compositor.swaymsg("output", "HEADLESS-1", "mode", f"{physical[1]}x{physical[0]}", "scale", str(scale))
        deadline = time.monotonic() + 20
        while (screen := compositor.grab()).shape[:2] != physical and time.monotonic() < deadline:
            time.sleep(0.1)
        assert screen.shape[:2] == physical, (scale, screen.shape)
        assert {w["name"]: w["rect"] for w in compositor.windows()} == rects, scale  # logical pixels: unchanged
        dialog = rects[title]
        x, y, w, h = (round(v * scale) for v in (dialog["x"], dialog["y"], dialog["width"], dialog["height"]))
        colours = len(np.unique(screen[y : y + h : 5, x : x + w : 5].reshape(-1, 3), axis=0))
        assert colours > 20, f"the dialog at {scale}x has {colours} colours: blank"
    compositor.key("Escape")
    type_a_number(app)  # it still takes keys after the scale changes
