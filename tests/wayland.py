"""A real Wayland compositor for tests (docs/wayland.md): sway headless, keys through it, screen grabs.

:class:`Sway` starts sway (a wlroots compositor and tiling window manager) with no screen or input devices
(``WLR_BACKENDS=headless``, ``WLR_LIBINPUT_NO_DEVICES=1``, software rendering ``WLR_RENDERER=pixman``) in a
private ``XDG_RUNTIME_DIR`` (mode 0700) of its own, so that its socket (``WAYLAND_DISPLAY``) and its IPC
socket (``SWAYSOCK``, for ``swaymsg``) are the test's alone. Keys go through the compositor with ``wtype``
(the virtual-keyboard protocol), as a keyboard's would; ``grim`` (wlr-screencopy) grabs the screen as
sway composed it. Unlike tests/xvfb.py, a window manager runs: it places the windows and gives them the
keyboard focus. It has the same interface as :class:`tests.xvfb.XServer` (``env``, ``find_window``,
``focus``, ``type``, ``key``, ``grab``, ``stop``) so tests/test_x11_display.py's ``App`` runs on either.

sway refuses to start as root (it checks that it cannot regain root after dropping it): as root, the
compositor runs as ``nobody`` and the runtime folder is that user's (the test, root, can reach it).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np

from tests.xvfb import end_process, need_tools

#: the programs the tests need and the Debian package of each (Makefile SYSDEPS)
TOOLS = {"sway": "sway", "swaymsg": "sway", "wtype": "wtype", "grim": "grim"}
#: who runs sway when the tests run as root (sway refuses root): nobody
UNPRIVILEGED = 65534
#: xdotool's key names (tests/xvfb.py) -> wtype's modifier names
MODIFIERS = {"ctrl": "ctrl", "shift": "shift", "alt": "alt", "super": "logo"}


def need_wayland_tools() -> None:
    """Skip (fail in CI, env CI set) when sway, wtype or grim is missing; skip off Linux."""
    need_tools(TOOLS, "Wayland", "docs/wayland.md")


def read_ppm(data: bytes) -> np.ndarray:
    """A binary PPM (P6, maxval 255: ``grim -t ppm``) as RGB uint8 HxWx3."""
    m = re.match(rb"P6\s+(\d+)\s+(\d+)\s+255\s", data)
    if m is None:
        raise ValueError(f"not an 8-bit binary PPM: {data[:20]!r}")
    width, height = int(m.group(1)), int(m.group(2))
    return np.frombuffer(data, np.uint8, count=width * height * 3, offset=m.end()).reshape(height, width, 3).copy()


def views(node: dict) -> list[dict]:
    """The application windows (sway's views: nodes with a ``shell``) of a ``swaymsg -t get_tree`` node."""
    found = [node] if node.get("shell") else []
    for child in node.get("nodes", []) + node.get("floating_nodes", []):
        found += views(child)
    return found


class Sway:
    """One headless sway: ``env()`` for its clients, ``swaymsg``, ``find_window``, ``type``/``key``, ``grab``."""

    platform = "wayland"  # what the app's log says of Qt's platform plugin on it

    def __init__(self, folder: Path, size: tuple[int, int] = (1280, 800), scale: float | None = None,
                 timeout: float = 20.0) -> None:  # fmt: skip
        self.folder = Path(folder)
        self.size = size
        user = UNPRIVILEGED if os.getuid() == 0 else None
        self.folder.mkdir(parents=True, exist_ok=True)
        if user is None:
            self.runtime = self.folder / "run"  # XDG_RUNTIME_DIR, private to this compositor: its sockets are the test's
            self.runtime.mkdir(mode=0o700)
        else:  # pytest's folders are root's (0700): nobody could not reach it; its own folder in /tmp, nobody's
            self.runtime = Path(tempfile.mkdtemp(prefix="bibtagger-wl-", dir="/tmp"))
            os.chown(self.runtime, user, user)
        if len(str(self.runtime)) > 90:  # a Unix socket's path is limited to 108 bytes
            raise RuntimeError(f"{self.runtime}: too long a path for a Wayland socket in it")
        config = self.runtime / "sway.config"
        output = f"output HEADLESS-1 mode {size[0]}x{size[1]}" + (f" scale {scale}" if scale else "")
        config.write_text(f"xwayland disable\n{output}\n", encoding="utf-8")
        env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY", "WAYLAND_SOCKET", "SWAYSOCK")}
        env.update(XDG_RUNTIME_DIR=str(self.runtime), HOME=str(self.runtime), WLR_BACKENDS="headless",
                   WLR_LIBINPUT_NO_DEVICES="1", WLR_RENDERER="pixman")  # fmt: skip
        self.log = open(self.folder / "sway.log", "wb")  # noqa: SIM115 (closed by stop)
        ids = {"user": user, "group": user, "extra_groups": []} if user is not None else {}
        self.proc = subprocess.Popen(["sway", "-c", str(config)], env=env, stdout=self.log, stderr=subprocess.STDOUT, **ids)
        deadline = time.monotonic() + timeout
        self.display = self.swaysock = None
        while time.monotonic() < deadline and self.proc.poll() is None:
            names = sorted(p.name for p in self.runtime.iterdir())
            displays = [n for n in names if re.fullmatch(r"wayland-\d+", n)]
            ipc = [n for n in names if n.startswith("sway-ipc.") and n.endswith(".sock")]
            if displays and ipc:
                self.display, self.swaysock = displays[0], str(self.runtime / ipc[0])
                try:
                    if any(o.get("active") for o in json.loads(self.swaymsg("-t", "get_outputs"))):
                        break
                except RuntimeError:
                    pass
            time.sleep(0.05)
        else:
            self.keyboard = None
            log = self.server_log()
            self.stop()
            raise RuntimeError(f"sway did not start within {timeout:.0f} s: {log}")
        # A keyboard that stays, as a real one does: each wtype adds its virtual keyboard to the seat and removes
        # it on exit; were it the only one, the seat would lose its keyboard as each wtype ends, the app's focus
        # with it (wl_keyboard.leave), sometimes before the key's release reached it.
        self.keyboard = subprocess.Popen(["wtype", "-s", "3600000"], env=self.env(), stdout=subprocess.DEVNULL,
                                         stderr=subprocess.DEVNULL)  # fmt: skip

    def server_log(self) -> str:
        self.log.flush()
        return (self.folder / "sway.log").read_text(errors="replace")[-2000:]

    def env(self, base: dict[str, str] | None = None) -> dict[str, str]:
        """``base`` (default os.environ) for a client of this compositor: its XDG_RUNTIME_DIR, WAYLAND_DISPLAY and
        SWAYSOCK, Qt on wayland, no X display (no XWayland either: nothing to fall back to)."""
        drop = ("DISPLAY", "WAYLAND_DISPLAY", "WAYLAND_SOCKET", "QT_QPA_PLATFORM", "SWAYSOCK")
        env = {k: v for k, v in (os.environ if base is None else base).items() if k not in drop}
        env.update(XDG_RUNTIME_DIR=str(self.runtime), WAYLAND_DISPLAY=str(self.display), SWAYSOCK=str(self.swaysock),
                   QT_QPA_PLATFORM="wayland")  # fmt: skip
        return env

    def run(self, *cmd: str, timeout: float = 20.0) -> str:
        out = subprocess.run(cmd, env=self.env(), capture_output=True, text=True, timeout=timeout)
        if out.returncode != 0:
            raise RuntimeError(f"{' '.join(cmd)} failed ({out.returncode}): {out.stderr.strip()} {out.stdout.strip()}")
        return out.stdout

    def swaymsg(self, *args: str) -> str:
        return self.run("swaymsg", *args)

    def windows(self) -> list[dict]:
        """Every application window sway holds (``swaymsg -t get_tree``: name, app_id, rect, focused, ...)."""
        return views(json.loads(self.swaymsg("-t", "get_tree")))

    def window(self, window: str) -> dict | None:
        """The tree node of the window whose con id is ``window``, None once it is gone."""
        return next((node for node in self.windows() if str(node["id"]) == window), None)

    def find_window(self, name: str, timeout: float, alive=lambda: True) -> str | None:
        """The con id of the first mapped window whose title matches the regex ``name``, polling until ``timeout``;
        None when it never shows or ``alive()`` turns false (the app died)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and alive():
            found = [n for n in self.windows() if n.get("visible") and re.search(name, n.get("name") or "")]
            if found:
                return str(found[0]["id"])
            time.sleep(0.1)
        return None

    def wait(self, check, what: str, timeout: float = 20.0):
        """Poll ``check(self.windows())`` until it returns something true; fail saying ``what`` otherwise."""
        deadline = time.monotonic() + timeout
        while True:
            windows = self.windows()
            found = check(windows)
            if found:
                return found
            if time.monotonic() > deadline:
                names = [(w.get("name"), w.get("focused")) for w in windows]
                raise AssertionError(f"{what}: not seen within {timeout:.0f} s; windows (title, focused): {names}")
            time.sleep(0.1)

    def geometry(self, window: str) -> tuple[int, int, int, int]:
        """(x, y, width, height) of ``window``'s content on the output, in the output's logical pixels."""
        rect = self.window(window)["rect"]
        return rect["x"], rect["y"], rect["width"], rect["height"]

    def focus(self, window: str) -> None:
        """Wait until the window manager has given ``window`` the keyboard focus, as it does to a window that opens
        (not forced: that sway does so is part of what the tests check)."""
        self.wait(lambda ws: any(str(w["id"]) == window and w.get("focused") for w in ws), f"the focus on window {window}")

    def type(self, text: str) -> None:
        """Type ``text`` through the compositor's virtual keyboard."""
        self.run("wtype", "-d", "40", text)

    def key(self, name: str) -> None:
        """Press and release one key, xdotool style: ``Return``, ``F1``, ``ctrl+q``."""
        *mods, key = name.split("+")
        args = [a for mod in mods for a in ("-M", MODIFIERS[mod])] + ["-k", key] + [a for mod in mods for a in ("-m", MODIFIERS[mod])]
        self.run("wtype", *args)

    def grab(self) -> np.ndarray:
        """The whole output as the compositor composed it (RGB, HxWx3)."""
        out = subprocess.run(["grim", "-t", "ppm", "-"], env=self.env(), capture_output=True, timeout=20)
        if out.returncode != 0:
            raise RuntimeError(f"grim failed ({out.returncode}): {out.stderr.decode(errors='replace').strip()}")
        return read_ppm(out.stdout)

    def stop(self) -> None:
        if self.keyboard is not None and self.keyboard.poll() is None:
            self.keyboard.kill()
            self.keyboard.wait(10)
        end_process(self.proc)
        self.log.close()
        if self.runtime.parent != self.folder:  # its own folder in /tmp (as root)
            shutil.rmtree(self.runtime, ignore_errors=True)
