"""Whether Qt's X11 platform plugin (xcb) can load and reach its display, asked before Qt is.

docs/x11.md#missing-libraries-and-dead-displays.

Qt loads the plugin when the app's QApplication is made. When a system library it needs is missing
(``libxcb-cursor0`` is not installed by default on Ubuntu; a minimal desktop lacks others), Qt prints
'Could not load the Qt platform plugin "xcb"', blames xcb-cursor0 whichever library it was, advises
reinstalling the application and aborts (SIGABRT) before the app has a window or a log file.
:func:`xcb_problem` loads the plugin the way Qt would (``dlopen``), before Qt: the loader's error names
the missing library, and :data:`PACKAGES` the Debian/Ubuntu package that holds it. A ``DISPLAY`` that no X
server answers (a stale one in an SSH or tmux session, a server that went away, ``sudo`` without the
user's X cookie) made Qt abort the same way, blaming xcb-cursor0 again: :func:`connect_problem` connects
as Qt would (``xcb_connect``) and says so. In a Wayland session Qt 6 tries its Wayland plugin first and falls
back to xcb when no compositor answers (a stale ``WAYLAND_DISPLAY`` in a tmux or SSH session):
:func:`uses_xcb` asks the compositor's socket, so the check runs exactly when Qt will end up on xcb.

Qt-free (ctypes and the PySide6 folder's files only).
"""

from __future__ import annotations

import ctypes
import importlib.util
import os
import socket
import sys
from pathlib import Path
from typing import Callable, Mapping

#: libraries Qt's xcb plugin loads from the system -> their Debian/Ubuntu package (the Makefile's SYSDEPS)
PACKAGES: dict[str, str] = {
    "libxcb-cursor.so.0": "libxcb-cursor0",
    "libxcb-icccm.so.4": "libxcb-icccm4",
    "libxcb-keysyms.so.1": "libxcb-keysyms1",
    "libxcb-shape.so.0": "libxcb-shape0",
    "libxcb-randr.so.0": "libxcb-randr0",
    "libxcb-render-util.so.0": "libxcb-render-util0",
    "libxcb-image.so.0": "libxcb-image0",
    "libxcb-xinerama.so.0": "libxcb-xinerama0",
    "libxcb-xkb.so.1": "libxcb-xkb1",
    "libxkbcommon-x11.so.0": "libxkbcommon-x11-0",
    "libxkbcommon.so.0": "libxkbcommon0",
    "libEGL.so.1": "libegl1",
    "libGL.so.1": "libgl1",
    "libfontconfig.so.1": "libfontconfig1",
    "libdbus-1.so.3": "libdbus-1-3",
    "libglib-2.0.so.0": "libglib2.0-0",
}


def qt_platforms(env: Mapping[str, str]) -> list[str]:
    """The platform plugins Qt tries, in order, until one starts: QT_QPA_PLATFORM's list ("wayland;xcb", each
    name without its ":options"), else Linux's default: Wayland first in a Wayland session (WAYLAND_DISPLAY or
    XDG_SESSION_TYPE=wayland), then xcb -- what Qt 6 does (a Wayland plugin that cannot start falls back to xcb)."""
    asked = env.get("QT_QPA_PLATFORM", "")
    if asked:
        return [name.split(":")[0].strip() for name in asked.split(";") if name.strip()]
    wayland = bool(env.get("WAYLAND_DISPLAY")) or env.get("XDG_SESSION_TYPE") == "wayland"
    return ["wayland", "xcb"] if wayland else ["xcb"]


def wayland_problem(env: Mapping[str, str]) -> str | None:
    """Why Qt's Wayland plugin would not reach a compositor (it then falls back to xcb), or None when it would:
    the socket WAYLAND_DISPLAY names (default wayland-0; relative to XDG_RUNTIME_DIR) accepts a connection, as
    libwayland-client connects. A stale one (a tmux or SSH session outliving the desktop, sudo without
    XDG_RUNTIME_DIR) answers nothing."""
    if env.get("WAYLAND_SOCKET"):
        return None  # a connection handed over by the compositor
    name = env.get("WAYLAND_DISPLAY") or "wayland-0"
    runtime = env.get("XDG_RUNTIME_DIR")
    if not os.path.isabs(name) and not runtime:
        return f"WAYLAND_DISPLAY {name}: XDG_RUNTIME_DIR is not set"
    path = name if os.path.isabs(name) else os.path.join(runtime or "", name)
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(2.0)
        try:
            sock.connect(path)
        except OSError as exc:
            return f"WAYLAND_DISPLAY {name}: no Wayland compositor answers at {path} ({exc.strerror or exc})"
    return None


def uses_xcb(env: Mapping[str, str], platform: str) -> bool:
    """Whether Qt will end up on xcb, with nothing left to fall back to when it cannot start there: xcb is one of
    :func:`qt_platforms` and none of the others would start (a Wayland plugin starts when its compositor answers,
    :func:`wayland_problem`; any other plugin is taken to start)."""
    if not platform.startswith("linux"):
        return False
    names = qt_platforms(env)
    return "xcb" in names and all(
        name == "xcb" or (name.startswith("wayland") and wayland_problem(env) is not None) for name in names)


def xcb_plugin() -> Path | None:
    """PySide6's ``libqxcb.so`` (from source, or in a PyInstaller build's ``_internal/PySide6``), else None."""
    spec = importlib.util.find_spec("PySide6")  # finds the package without importing it
    folders = [Path(p) for p in (spec.submodule_search_locations or [])] if spec is not None else []
    if getattr(sys, "frozen", False) and hasattr(sys, "_MEIPASS"):
        folders.append(Path(sys._MEIPASS) / "PySide6")
    for folder in folders:
        plugin = folder / "Qt" / "plugins" / "platforms" / "libqxcb.so"
        if plugin.is_file():
            return plugin
    return None


#: xcb_connection_has_error's codes (xcb.h) -> what they mean to the user
CONNECTION_ERRORS = {
    1: "no X server answers there, or it refused this user (its cookie: XAUTHORITY, e.g. under sudo)",
    2: "the X server lacks an extension Qt needs",
    3: "out of memory",
    5: "it is not a display name (host:number.screen)",
    6: "the X server has no such screen",
}


def connect_problem(display: str | None, load: Callable[[str], object] = ctypes.CDLL) -> str | None:
    """Why an X client cannot connect to ``display`` (None: ``$DISPLAY``), or None when it can (or when libxcb
    cannot be loaded: :func:`xcb_problem`'s plugin load names that). Connects and disconnects at once."""
    try:
        xcb = load("libxcb.so.1")
    except OSError:
        return None
    xcb.xcb_connect.restype = ctypes.c_void_p
    xcb.xcb_connect.argtypes = [ctypes.c_char_p, ctypes.POINTER(ctypes.c_int)]
    xcb.xcb_connection_has_error.argtypes = [ctypes.c_void_p]
    xcb.xcb_disconnect.argtypes = [ctypes.c_void_p]
    connection = xcb.xcb_connect(display.encode() if display else None, None)  # never NULL: an error object
    try:
        code = xcb.xcb_connection_has_error(connection)
    finally:
        xcb.xcb_disconnect(connection)
    if not code:
        return None
    reason = CONNECTION_ERRORS.get(code, f"xcb error {code}")
    return (f"cannot connect to the X display {display or '(none)'} (DISPLAY): {reason}. Start the app in a desktop "
            "session (ssh -X for a remote one); --screenshot and the command-line tools need no display")


def xcb_problem(env: Mapping[str, str] | None = None, platform: str | None = None, plugin: Path | None = None,
                load: Callable[[str], object] = ctypes.CDLL,
                connect: Callable[[str | None], str | None] = connect_problem) -> str | None:  # fmt: skip
    """Why Qt's xcb plugin cannot load here (the missing library, what to install) or cannot reach its display
    (:func:`connect_problem`), or None: it can, or Qt will not use it."""
    env = os.environ if env is None else env
    platform = sys.platform if platform is None else platform
    if not uses_xcb(env, platform):
        return None
    plugin = plugin or xcb_plugin()
    if plugin is not None:  # not found: Qt says so itself
        try:
            load(str(plugin))  # what Qt does: every library the plugin needs is loaded with it, or the first missing named
        except OSError as exc:
            return load_message(str(exc))
    problem = connect(env.get("DISPLAY"))
    wayland = problem and any(name.startswith("wayland") for name in qt_platforms(env)) and wayland_problem(env)
    return f"{wayland}, so Qt falls back to X11, and {problem}" if wayland else problem


def load_message(error: str) -> str:
    """What to tell the user when the plugin's load failed with the loader's ``error``."""
    library = Path(error.split(":", 1)[0].strip()).name
    package = PACKAGES.get(library)
    install = (f"install {package} (Debian/Ubuntu: sudo apt install {package})" if package
               else f"install the package that holds {library}")  # fmt: skip
    return (f"Qt's X11 display plugin (xcb) cannot load: {error}. {install[0].upper()}{install[1:]} and start "
            "bibtagger again; the README lists every package the app needs")
