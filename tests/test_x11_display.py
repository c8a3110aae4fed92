"""The app on a real X11 display (docs/x11.md): Qt's xcb platform plugin, an X server, keys through it.

Every other GUI test runs Qt offscreen, in-process. Here `bibtagger gui` runs as a child process on an
Xvfb server (tests/xvfb.py) with QT_QPA_PLATFORM=xcb, as on a Linux desktop: it must load the xcb plugin
and its system libraries, map its window, take keys typed through the X server (xdotool, XTEST), write the
typed number to the store (read here from outside), quit on Ctrl+Q and draw on the real screen (grabbed
from the server's frame buffer). Skips when Xvfb/xdotool/xrdb are missing, fails in CI (tests/xvfb.py).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pytest

from bibtagger_gui.core.desktop_entry import APP_ID
from tests.display_app import PHOTOS, App, grab_until_drawn, photos, photos_template, start_app, type_a_number_and_quit  # noqa: F401 (fixtures)
from tests.xvfb import XServer, missing_x_tools, need_x_tools


@pytest.fixture
def x_server(tmp_path):
    """Start Xvfb servers on free displays (``x_server(size=..., dpi=...)``); all stopped after the test."""
    need_x_tools()
    servers: list[XServer] = []

    def start(size: tuple[int, int] = (1280, 800), dpi: int | None = None) -> XServer:
        servers.append(XServer(tmp_path / f"x{len(servers)}", size=size, dpi=dpi))
        return servers[-1]

    yield start
    for server in servers:
        server.stop()


def check_packaged_app_on_x11(exe: Path, tmp_path: Path, env: dict[str, str]) -> None:
    """The packaged app (tests/test_package.py's build) on a real X display, with its bundled models and
    libraries: the same keys, store and quit as from source; on a display no server answers, the message. Left out without Xvfb (the build's other checks
    stand), except in CI, where that fails."""
    from bibtagger_gui.core.demo import generate

    if missing_x_tools() and not os.environ.get("CI"):
        print(f"packaged app on X11 not checked: {', '.join(missing_x_tools())} missing")
        return
    need_x_tools()
    folder = tmp_path / "x11" / "demo"
    generate(folder, count=PHOTOS, seed=7, size=(320, 480))
    gone = XServer(tmp_path / "x11" / "gone")
    gone.stop()  # its display number: no server answers there now
    dead = App(gone, folder, None, tmp_path / "x11" / "home-dead", command=[str(exe)], env=env, window=False)
    assert dead.proc.wait(60) == 1 and f"cannot connect to the X display {gone.display}" in dead.output(), dead.output()
    dead.stop()
    server = XServer(tmp_path / "x11" / "server")
    app = None
    try:
        app = App(server, folder, None, tmp_path / "x11" / "home", command=[str(exe)], env=env)
        assert server.wm_class(app.window) == (APP_ID, APP_ID)  # the desktop entry's StartupWMClass (docs/desktop.md)
        check_window_icon(server, app.window)  # the bundled PNGs, read by the frozen app (no QtSvg)
        type_a_number_and_quit(app)
    finally:
        if app is not None:
            app.stop()
        server.stop()


def check_window_icon(server, window: str) -> None:
    """The window's icon as the X server holds it (_NET_WM_ICON, what a task bar or Alt+Tab shows): every size of
    gui/app_icon.SIZES, each with the pixels of its PNG (docs/desktop.md#window-icon)."""
    import numpy as np
    from PySide6.QtGui import QImage

    from bibtagger_gui.gui.app_icon import SIZES, icon_file
    from bibtagger_gui.tools.render_icons import pixels

    icons = server.wm_icon(window)
    assert sorted(icons) == list(SIZES), f"_NET_WM_ICON sizes {sorted(icons)}"
    for size in SIZES:
        png = pixels(QImage(str(icon_file(size)))).view("<u4").reshape(size, size)  # BGRA bytes: 0xAARRGGBB
        assert np.array_equal(np.array(icons[size], np.uint32).reshape(size, size), png), f"{size} px icon differs"


def test_the_app_on_xcb_takes_keys_typed_through_the_x_server_and_saves_them(x_server, start_app):
    app = start_app(x_server())
    check_window_icon(app.server, app.window)
    type_a_number_and_quit(app)


def test_the_window_is_drawn_on_the_real_screen_within_it(x_server, start_app):
    x = x_server(size=(1280, 800))
    app = start_app(x)
    app.wait_until_recognized()
    left, top, width, height = x.geometry(app.window)
    assert left >= 0 and top >= 0 and left + width <= 1280 and top + height <= 800, (left, top, width, height)
    screen, colours = grab_until_drawn(x, (left, top, width, height))  # the screen as the X server holds it
    assert screen.shape == (800, 1280, 3)
    assert colours > 200, f"the window's area of the screen has {colours} colours: blank"  # photos, thumbnails, text
    outside = np.ones(screen.shape[:2], bool)
    outside[top : top + height, left : left + width] = False
    assert not screen[outside].any()  # the bare root window (no window manager, no desktop): black


@pytest.mark.parametrize(("screen", "dpi", "logical"), [((1920, 1080), 144, (1280, 720)), ((1920, 1080), 192, (960, 540))],
                         ids=["full-hd-150", "full-hd-200"])  # fmt: skip
def test_a_scaled_desktop_gets_the_same_window_in_its_own_pixels(x_server, start_app, screen, dpi, logical):
    """Xft.dpi (a desktop's scale setting) is how Qt's xcb plugin learns the scale: at 150 % / 200 % the window
    must be the one a screen of the same logical size gets at 100 %, in pixels times the scale, and fit."""
    scale = dpi / 96
    plain = start_app(x_server(size=logical))
    _, _, plain_w, plain_h = plain.server.geometry(plain.window)
    plain.stop()
    scaled = start_app(x_server(size=screen, dpi=dpi))
    left, top, width, height = scaled.server.geometry(scaled.window)
    assert abs(width - plain_w * scale) <= 1 and abs(height - plain_h * scale) <= 1, ((width, height), (plain_w, plain_h))
    assert left + width <= screen[0] and top + height <= screen[1]


def test_the_xcb_plugin_finds_its_system_libraries():
    """Qt's xcb plugin loads system libraries (libxcb-cursor0 and the other xcb libraries of the Makefile's
    SYSDEPS); one missing stops the app at start with Qt's 'could not load the Qt platform plugin "xcb"'."""
    if not sys.platform.startswith("linux") or shutil.which("ldd") is None:
        pytest.skip("needs Linux and its ldd")
    import PySide6

    plugins = Path(PySide6.__file__).parent / "Qt" / "plugins"
    libraries = [plugins / "platforms" / "libqxcb.so", *sorted((plugins / "xcbglintegrations").glob("*.so"))]
    assert libraries[0].is_file(), f"{libraries[0]} missing from PySide6"
    for library in libraries:
        out = subprocess.run(["ldd", str(library)], capture_output=True, text=True, timeout=30)
        missing = [line.split()[0] for line in out.stdout.splitlines() if "not found" in line]
        assert not missing, f"{library.name} needs {', '.join(missing)}: add its package to SYSDEPS (Makefile)"


def test_a_missing_x11_library_is_named_instead_of_qt_aborting(x_server, tmp_path, photos, placeholder_models_dir):
    """libxcb-cursor0 is not installed by default on Ubuntu: Qt aborted (SIGABRT, no window, no log) saying
    'Reinstalling the application may fix this problem', and blamed xcb-cursor0 for any missing library. A
    broken copy of the library found first (LD_LIBRARY_PATH) stands for the missing one."""
    broken = tmp_path / "broken-libs"
    broken.mkdir()
    (broken / "libxcb-cursor.so.0").write_bytes(b"")
    env = {**os.environ, "LD_LIBRARY_PATH": str(broken)}
    app = App(x_server(), photos, placeholder_models_dir, tmp_path / "home", env=env, window=False)
    assert app.proc.wait(60) == 1, app.output()  # it was -6 (SIGABRT)
    out = app.output()
    assert "cannot load" in out and "libxcb-cursor.so.0" in out and "sudo apt install libxcb-cursor0" in out, out
    assert "Aborted" not in out and "Reinstalling" not in out
    assert "libxcb-cursor0" in app.log()  # an app started from a desktop menu has no terminal: the log has it


@contextlib.contextmanager
def compositor():
    """A folder standing for XDG_RUNTIME_DIR with a socket ``wayland-0`` that accepts connections, as a running
    Wayland compositor's does (a short path: a Unix socket's name is limited to ~100 bytes)."""
    with tempfile.TemporaryDirectory(prefix="wl-", dir="/tmp") as runtime, socket.socket(socket.AF_UNIX) as server:
        server.bind(os.path.join(runtime, "wayland-0"))
        server.listen(128)  # connections are never accepted: each one waits in the backlog
        yield runtime


def test_xcb_check_names_the_library_and_its_package():
    from bibtagger_gui.core.xcb_check import PACKAGES, uses_xcb, xcb_problem

    def missing(name):
        def load(path):
            raise OSError(f"{name}: cannot open shared object file: No such file or directory")

        return load

    x11 = {"DISPLAY": ":0"}
    plugin = Path("libqxcb.so")
    problem = xcb_problem(x11, "linux", plugin, missing("libxkbcommon-x11.so.0"))
    assert problem is not None and "sudo apt install libxkbcommon-x11-0" in problem and "libxkbcommon-x11.so.0" in problem
    problem = xcb_problem(x11, "linux", plugin, missing("/opt/odd/libxcb-odd.so.2"))
    assert problem is not None and "install the package that holds libxcb-odd.so.2" in problem.lower()
    assert xcb_problem(x11, "linux", plugin, lambda path: None, connect=lambda display: None) is None  # it loads
    said = xcb_problem(x11, "linux", plugin, lambda path: None, connect=lambda display: f"cannot connect to {display}")
    assert said == "cannot connect to :0"  # it loads, then the display is asked
    with compositor() as runtime:
        for env, platform in (({"DISPLAY": ":0", "QT_QPA_PLATFORM": "offscreen"}, "linux"), (x11, "win32"),
                              ({"DISPLAY": ":0", "WAYLAND_DISPLAY": "wayland-0", "XDG_RUNTIME_DIR": runtime}, "linux")):  # fmt: skip
            assert not uses_xcb(env, platform)
            assert xcb_problem(env, platform, plugin, missing("libxcb-cursor.so.0")) is None  # Qt will not use xcb there
    for env, platform in (({"QT_QPA_PLATFORM": "offscreen"}, "linux"), (x11, "win32")):
        assert not uses_xcb(env, platform)
        assert xcb_problem(env, platform, plugin, missing("libxcb-cursor.so.0")) is None  # Qt will not use xcb there
    assert uses_xcb({"QT_QPA_PLATFORM": "xcb:nograb", "WAYLAND_DISPLAY": "wayland-0"}, "linux")
    sysdeps = (Path(__file__).resolve().parents[1] / "Makefile").read_text(encoding="utf-8")
    sysdeps = sysdeps[sysdeps.index("SYSDEPS :=") : sysdeps.index(".PHONY")].split()
    assert not set(PACKAGES.values()) - set(sysdeps)  # what the message names is what make sysdeps installs


def test_a_display_no_server_answers_is_said_instead_of_qt_aborting(x_server, tmp_path, photos, placeholder_models_dir):
    """A stale DISPLAY (an SSH or tmux session, a server gone, sudo without the X cookie) made Qt abort too
    (SIGABRT), saying 'could not connect to display' among lines that blamed xcb-cursor0."""
    from bibtagger_gui.core.xcb_check import connect_problem

    live = x_server()
    assert connect_problem(live.display) is None
    gone = x_server()
    gone.stop()  # a display number no server answers any more
    assert "no X server answers there" in connect_problem(gone.display)
    app = App(gone, photos, placeholder_models_dir, tmp_path / "home", window=False)
    assert app.proc.wait(60) == 1, app.output()  # it was -6 (SIGABRT)
    out = app.output()
    assert f"cannot connect to the X display {gone.display} (DISPLAY)" in out and "Aborted" not in out, out
    assert "xcb-cursor0" not in out and "cannot connect to the X display" in app.log()


def test_a_wayland_session_whose_compositor_answers_nothing_is_checked_as_qt_falls_back_to_xcb(tmp_path):
    """Qt 6 tries its Wayland plugin first when WAYLAND_DISPLAY (or XDG_SESSION_TYPE=wayland) is set, and falls
    back to xcb when no compositor answers: a stale WAYLAND_DISPLAY (a tmux or SSH session outliving the desktop,
    sudo without XDG_RUNTIME_DIR) then ends on xcb, where the check was skipped (Qt aborted as before). A
    compositor that answers is Qt's choice, even named by XDG_SESSION_TYPE alone (libwayland's wayland-0):
    no check then, which used to refuse to start over a missing xcb library Qt would not have loaded."""
    from bibtagger_gui.core.xcb_check import qt_platforms, uses_xcb, wayland_problem, xcb_problem

    plugin = Path("libqxcb.so")
    with compositor() as runtime:
        stale = tmp_path / "run"
        stale.mkdir()
        (stale / "wayland-0").write_bytes(b"")  # left by a compositor that has gone
        live = {"DISPLAY": ":0", "WAYLAND_DISPLAY": "wayland-0", "XDG_RUNTIME_DIR": runtime}
        assert wayland_problem(live) is None and not uses_xcb(live, "linux")
        session = {"DISPLAY": ":0", "XDG_SESSION_TYPE": "wayland", "XDG_RUNTIME_DIR": runtime}
        assert qt_platforms(session) == ["wayland", "xcb"] and not uses_xcb(session, "linux")
        assert not uses_xcb({**live, "QT_QPA_PLATFORM": "wayland-egl;xcb"}, "linux")
        assert not uses_xcb({**live, "QT_QPA_PLATFORM": "xcb;wayland"}, "linux")  # xcb failing, Qt takes Wayland
        assert not uses_xcb({**live, "WAYLAND_DISPLAY": os.path.join(runtime, "wayland-0"), "XDG_RUNTIME_DIR": ""}, "linux")
    for env in ({"DISPLAY": "localhost:10.0", "WAYLAND_DISPLAY": "wayland-0", "XDG_RUNTIME_DIR": str(stale)},
                {"DISPLAY": ":0", "WAYLAND_DISPLAY": "wayland-0"},  # sudo: no XDG_RUNTIME_DIR
                {"DISPLAY": ":0", "XDG_SESSION_TYPE": "wayland", "XDG_RUNTIME_DIR": str(tmp_path)},
                {"DISPLAY": ":0", "QT_QPA_PLATFORM": "wayland;xcb", "XDG_RUNTIME_DIR": str(stale)}):  # fmt: skip
        assert wayland_problem(env) is not None and uses_xcb(env, "linux"), env
        said = xcb_problem(env, "linux", plugin, lambda path: None, connect=lambda display: f"cannot connect to {display}")
        assert said == f"{wayland_problem(env)}, so Qt falls back to X11, and cannot connect to {env['DISPLAY']}"
    assert uses_xcb({"DISPLAY": ":0", "QT_QPA_PLATFORM": "xcb;wayland", "XDG_RUNTIME_DIR": str(stale)}, "linux")
    assert not uses_xcb({"DISPLAY": ":0", "QT_QPA_PLATFORM": "offscreen;xcb"}, "linux")  # Qt falls back to offscreen


def test_a_stale_wayland_display_and_a_dead_x_display_are_said_instead_of_qt_aborting(x_server, tmp_path, photos):
    """The app started without QT_QPA_PLATFORM where WAYLAND_DISPLAY names no compositor and no X server answers
    DISPLAY: Qt tried Wayland, fell back to xcb and aborted (SIGABRT, -6); it now exits 1 and says both."""
    gone = x_server()
    gone.stop()
    runtime = tmp_path / "run"
    runtime.mkdir(mode=0o700)
    env = {k: v for k, v in os.environ.items() if k not in ("QT_QPA_PLATFORM", "WAYLAND_DISPLAY", "WAYLAND_SOCKET")}
    env.update(DISPLAY=gone.display, WAYLAND_DISPLAY="wayland-0", XDG_RUNTIME_DIR=str(runtime),
               XDG_CONFIG_HOME=str(tmp_path / "config"), XDG_DATA_HOME=str(tmp_path / "data"), XDG_CACHE_HOME=str(tmp_path / "cache"))
    done = subprocess.run([sys.executable, "-m", "bibtagger_gui", "gui", str(photos)], env=env, capture_output=True, text=True, timeout=120)
    out = done.stdout + done.stderr
    assert done.returncode == 1, out  # it was -6 (SIGABRT)
    assert "WAYLAND_DISPLAY wayland-0: no Wayland compositor answers" in out, out
    assert f"cannot connect to the X display {gone.display} (DISPLAY)" in out and "Aborted" not in out, out
