"""A real X server for tests (docs/x11.md): Xvfb on a free display, keys through the server, screen grabs.

:class:`XServer` starts ``Xvfb -displayfd`` (the server picks a free display number and says which),
``-noreset`` (an X server resets when its last client leaves, dropping the resources that ``xrdb``
set, such as ``Xft.dpi``) and ``-fbdir`` (the screen is a file in XWD format: a grab of the real
screen that needs no other client). Keys go through the server with ``xdotool`` (XTEST), as a keyboard's
would. There is no window manager: :meth:`XServer.focus` does its one job the tests need, giving the
app's window the keyboard focus.
"""

from __future__ import annotations

import os
import re
import select
import shutil
import struct
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

#: the programs the tests need and the Debian package of each (Makefile SYSDEPS)
TOOLS = {"Xvfb": "xvfb", "xdotool": "xdotool", "xrdb": "x11-xserver-utils", "xprop": "x11-utils"}


def missing_tools(tools: dict[str, str]) -> list[str]:
    """The programs of ``tools`` (program -> Debian package) not installed here, each with its package."""
    return [f"{tool} (package {package})" for tool, package in tools.items() if shutil.which(tool) is None]


def missing_x_tools() -> list[str]:
    """The tools of :data:`TOOLS` not installed here, each with its package."""
    return missing_tools(TOOLS)



def end_process(proc: subprocess.Popen, timeout: float = 10) -> int | None:
    """Terminate a child (a display server, the app) and wait for it; killed if it outlives ``timeout``."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout)
    return proc.returncode

def need_tools(tools: dict[str, str], display: str, doc: str) -> None:
    """Skip (fail in CI, env CI set) when one of ``tools`` (program -> Debian package) is missing; skip off Linux
    (``display``, X11 or Wayland, is the Linux desktop's; ``doc`` says more)."""
    if not sys.platform.startswith("linux"):
        pytest.skip(f"{display} is a Linux desktop's display; Windows and macOS have their own ({doc})")
    missing = missing_tools(tools)
    if not missing:
        return
    message = f"{', '.join(missing)} not installed: `make sysdeps` installs them (Makefile SYSDEPS, {doc})"
    if os.environ.get("CI"):
        pytest.fail(f"CI must run the real-display tests: {message}")
    pytest.skip(message)


def need_x_tools() -> None:
    """Skip (fail in CI, env CI set) when Xvfb, xdotool or xrdb is missing; skip off Linux (no X11 there)."""
    need_tools(TOOLS, "X11 (xcb)", "docs/x11.md")


def read_xwd(path: Path) -> np.ndarray:
    """An XWD file of a 24/32-bit TrueColor screen (Xvfb's ``-fbdir`` file) as RGB uint8 HxWx3."""
    data = Path(path).read_bytes()
    (header_size, version, _fmt, depth, width, height, _xoff, byte_order, _unit, _bit_order, _pad, bpp,
     bytes_per_line, _visual, red, green, blue, _bits, _entries, ncolors) = struct.unpack(">20I", data[:80])  # fmt: skip
    if version != 7 or bpp != 32 or depth != 24 or (red, green, blue) != (0xFF0000, 0xFF00, 0xFF):
        raise ValueError(f"{path}: not a 24-bit TrueColor XWD screen (version {version}, depth {depth}, {bpp} bpp)")
    offset = header_size + 12 * ncolors  # the header (with the window name), then the colour map
    rows = np.frombuffer(data, np.uint8, count=bytes_per_line * height, offset=offset).reshape(height, bytes_per_line)
    pixels = rows[:, : width * 4].reshape(height, width, 4)  # 0x00RRGGBB words
    return pixels[..., 2::-1].copy() if byte_order == 0 else pixels[..., 1:].copy()  # LSB first: B, G, R, 0


class XServer:
    """One Xvfb server: ``display`` (":N"), ``env()`` for its clients, ``xdotool``, ``type``/``key``, ``grab``,
    ``stop`` (tests/wayland.py's ``Sway`` has the same interface)."""

    platform = "xcb"  # what the app's log says of Qt's platform plugin on it

    def __init__(self, folder: Path, size: tuple[int, int] = (1280, 800), dpi: int | None = None,
                 timeout: float = 20.0) -> None:  # fmt: skip
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.size = size
        read_end, write_end = os.pipe()
        cmd = ["Xvfb", "-displayfd", str(write_end), "-screen", "0", f"{size[0]}x{size[1]}x24",
               "-nolisten", "tcp", "-noreset", "-fbdir", str(self.folder)]  # fmt: skip
        self.log = open(self.folder / "xvfb.log", "wb")  # noqa: SIM115 (closed by stop)
        self.proc = subprocess.Popen(cmd, pass_fds=(write_end,), stdout=self.log, stderr=subprocess.STDOUT)
        os.close(write_end)
        try:
            number = self._read_display(read_end, timeout)
        finally:
            os.close(read_end)
        if number is None:
            self.stop()
            raise RuntimeError(f"Xvfb did not start within {timeout:.0f} s: {self.server_log()}")
        self.display = f":{number}"
        if dpi is not None:  # what a desktop's display settings set: Qt's xcb plugin reads Xft.dpi
            self.run("xrdb", "-nocpp", "-merge", "-", input=f"Xft.dpi: {dpi}\n")

    def _read_display(self, fd: int, timeout: float) -> str | None:
        deadline = time.monotonic() + timeout
        text = b""
        while not text.endswith(b"\n"):
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([fd], [], [], left)[0]:
                return None
            chunk = os.read(fd, 32)
            if not chunk:  # the server exited
                return None
            text += chunk
        return text.decode().strip()

    def server_log(self) -> str:
        self.log.flush()
        return (self.folder / "xvfb.log").read_text(errors="replace")[-2000:]

    def env(self, base: dict[str, str] | None = None) -> dict[str, str]:
        """``base`` (default os.environ) for a client of this server: DISPLAY set, Qt on xcb, no Wayland."""
        env = {k: v for k, v in (os.environ if base is None else base).items() if k not in ("WAYLAND_DISPLAY", "QT_QPA_PLATFORM")}
        env.update(DISPLAY=self.display, QT_QPA_PLATFORM="xcb")
        return env

    def run(self, *cmd: str, input: str | None = None, timeout: float = 20.0) -> str:  # noqa: A002
        out = subprocess.run(cmd, env=self.env(), input=input, capture_output=True, text=True, timeout=timeout)
        if out.returncode != 0:
            raise RuntimeError(f"{' '.join(cmd)} failed ({out.returncode}): {out.stderr.strip()}")
        return out.stdout

    def xdotool(self, *args: str) -> str:
        return self.run("xdotool", *args)

    def find_window(self, name: str, timeout: float, alive=lambda: True) -> str | None:
        """The id of the first visible window whose title matches the regex ``name``, polling until ``timeout``;
        None when it never shows or ``alive()`` turns false (the app died)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and alive():
            out = subprocess.run(["xdotool", "search", "--onlyvisible", "--name", name], env=self.env(),
                                 capture_output=True, text=True, timeout=20)  # fmt: skip
            if out.returncode == 0 and out.stdout.split():
                return out.stdout.split()[0]
            time.sleep(0.1)
        return None

    def geometry(self, window: str) -> tuple[int, int, int, int]:
        """(x, y, width, height) of ``window`` in the server's pixels."""
        values = dict(line.split("=", 1) for line in self.xdotool("getwindowgeometry", "--shell", window).split())
        return int(values["X"]), int(values["Y"]), int(values["WIDTH"]), int(values["HEIGHT"])

    def wm_class(self, window: str) -> tuple[str, ...]:
        """The window's WM_CLASS as a window manager reads it (xprop): (instance, class)."""
        out = self.run("xprop", "-id", window, "WM_CLASS")  # WM_CLASS(STRING) = "bibtagger", "bibtagger"
        return tuple(re.findall(r'"((?:[^"\\]|\\.)*)"', out))

    def wm_icon(self, window: str) -> dict[int, list[int]]:
        """The window's _NET_WM_ICON as a window manager or task bar reads it (xprop): size -> its width x height
        ARGB pixels (one 32-bit number each, not premultiplied); empty when the window has no icon."""
        out = self.run("xprop", "-id", window, "-len", "4000000", "-notype", "32c", "_NET_WM_ICON")  # = 16, 16, 0, …
        if "=" not in out:
            return {}  # "_NET_WM_ICON:  not found."
        numbers = [int(n) for n in out.split("=", 1)[1].replace(",", " ").split()]
        icons, i = {}, 0
        while i < len(numbers):
            width, height = numbers[i], numbers[i + 1]
            assert width == height, f"_NET_WM_ICON {width}x{height}"
            icons[width] = numbers[i + 2 : i + 2 + width * height]
            assert len(icons[width]) == width * height, f"xprop cut _NET_WM_ICON short at {width}x{height}"
            i += 2 + width * height
        return icons

    def focus(self, window: str) -> None:
        """Give ``window`` the keyboard focus (XSetInputFocus), as a window manager does when a window opens."""
        self.xdotool("windowfocus", "--sync", window)

    def type(self, text: str) -> None:
        """Type ``text`` through the server's keyboard (XTEST)."""
        self.xdotool("type", "--delay", "40", text)

    def key(self, name: str) -> None:
        """Press and release one key: ``Return``, ``F1``, ``ctrl+q``."""
        self.xdotool("key", name)

    def grab(self) -> np.ndarray:
        """The whole screen as the server holds it (RGB, HxWx3)."""
        return read_xwd(self.folder / "Xvfb_screen0")

    def stop(self) -> None:
        end_process(self.proc)
        self.log.close()
