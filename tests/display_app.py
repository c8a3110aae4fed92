"""The app as a child process on a real display (tests/xvfb.py's X server, tests/wayland.py's compositor).

``App`` runs `bibtagger gui FOLDER` with its own settings and data folders on a display object (``env``,
``find_window``, ``focus``, ``type``, ``key``), waits for its window and reads its store from outside;
the fixtures give each test a copy of a few ``core.demo`` photos (docs/x11.md, docs/wayland.md).
"""

from __future__ import annotations

import shutil
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.xvfb import end_process

PHOTOS = 4


@pytest.fixture(scope="module")
def photos_template(tmp_path_factory) -> Path:
    """A few small demo photos from core.demo (copied per test: the store writes FOLDER/.bibtagger)."""
    from bibtagger_gui.core.demo import generate

    out = tmp_path_factory.mktemp("x11demo") / "demo"
    generate(out, count=PHOTOS, seed=7, size=(320, 480))
    return out


@pytest.fixture
def photos(tmp_path, photos_template) -> Path:
    return Path(shutil.copytree(photos_template, tmp_path / "demo"))


class App:
    """`bibtagger gui FOLDER` as a child process on ``server`` (an ``XServer`` or a ``Sway``), with its own settings and data folders."""

    def __init__(self, server, folder: Path, models: Path | None, home: Path, command: list[str] | None = None,
                 env: dict[str, str] | None = None, window: bool = True) -> None:  # fmt: skip
        """``command``: the program (default: this Python's ``-m bibtagger_gui``; a packaged app's executable);
        ``models``: None for the bundled ones; ``window``: wait for the main window (fail if none shows)."""
        self.server, self.folder, self.home = server, folder, home
        home.mkdir(parents=True, exist_ok=True)
        run_env = server.env(env)
        run_env.update(XDG_CONFIG_HOME=str(home / "config"), XDG_DATA_HOME=str(home / "data"),
                       XDG_CACHE_HOME=str(home / "cache"), BIBTAGGER_KEYMAP=str(home / "no-keymap.json"))  # fmt: skip
        self.out = open(home / "app.out", "w+")  # noqa: SIM115 (closed by stop)
        cmd = [*(command or [sys.executable, "-m", "bibtagger_gui"]), "gui", str(folder)]
        cmd += ["--models", str(models)] if models is not None else []
        self.proc = subprocess.Popen(cmd, env=run_env, stdout=self.out, stderr=subprocess.STDOUT)
        self.window = None
        if window:
            self.window = server.find_window(f"^{folder.name} — bibtagger$", 60, alive=lambda: self.proc.poll() is None)
            if self.window is None:
                pytest.fail(f"no window on {server.display} (exit code {self.proc.poll()}): {self.output()}")

    def output(self) -> str:
        if not self.out.closed:
            self.out.flush()
        return (self.home / "app.out").read_text(errors="replace")[-4000:]

    def log(self) -> str:
        """The app's log file (docs/gui.md#log-file) in its user data folder."""
        return (self.home / "data" / "bibtagger" / "logs" / "bibtagger.log").read_text(encoding="utf-8")

    def rows(self, sql: str) -> list[tuple]:
        """A query on the app's store, from outside (read-only)."""
        db = self.folder / ".bibtagger" / "project.db"
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=10) as con:
            return con.execute(sql).fetchall()

    def wait_for(self, sql: str, check, what: str, timeout: float = 60) -> list[tuple]:
        deadline = time.monotonic() + timeout
        rows: list[tuple] = []
        while time.monotonic() < deadline and self.proc.poll() is None:
            try:
                rows = self.rows(sql)
            except sqlite3.OperationalError:  # not made yet
                rows = []
            if check(rows):
                return rows
            time.sleep(0.1)
        pytest.fail(f"{what}: not seen in the store within {timeout:.0f} s (last: {rows}); app: {self.output()}")

    def wait_until_recognized(self, photos: int = PHOTOS) -> None:
        self.wait_for("SELECT model_version FROM photos", lambda r: len(r) == photos and all(v for (v,) in r),
                      f"the {photos} photos scanned and recognized")  # fmt: skip

    def stop(self) -> int | None:
        code = end_process(self.proc, 20)
        self.out.close()
        return code


@pytest.fixture
def start_app(tmp_path, photos, placeholder_models_dir):
    apps: list[App] = []

    def start(server, folder: Path | None = None) -> App:
        apps.append(App(server, folder or photos, placeholder_models_dir, tmp_path / f"home{len(apps)}"))
        return apps[-1]

    yield start
    for app in apps:
        app.stop()


def type_a_number(app: App, number: str = "4321") -> None:
    """Type ``number`` and Enter twice through the display's keyboard; the store (read from outside) must then hold
    a human bib ``number`` on the one reviewed photo."""
    display = app.server
    app.wait_until_recognized()  # the photo shown, its bibs read: what the keys act on
    assert app.rows(f"SELECT COUNT(*) FROM bibs WHERE number = '{number}'") == [(0,)]
    display.focus(app.window)  # the window manager's job (Xvfb has none: set; sway: waited for)
    display.type(number)  # digits go to the number field (docs/review-flow.md)
    display.key("Return")  # commits the typed number
    display.key("Return")  # accepts the photo
    rows = app.wait_for(f"SELECT p.relpath, b.source, p.reviewed FROM bibs b JOIN photos p ON p.id = b.photo_id WHERE b.number = '{number}'",
                        lambda r: r and r[0][2] == 1, f"the typed bib {number} on a reviewed photo")  # fmt: skip
    assert len(rows) == 1 and rows[0][1] == "human", rows
    assert app.rows("SELECT COUNT(*) FROM photos WHERE reviewed = 1") == [(1,)]  # only the photo shown


def type_a_number_and_quit(app: App) -> None:
    """:func:`type_a_number` (4321); Ctrl+Q must then end the app cleanly, which logged Qt's platform plugin of the
    display (xcb on Xvfb, wayland on sway)."""
    type_a_number(app)
    app.server.key("ctrl+q")
    assert app.proc.wait(30) == 0, app.output()
    assert f"Qt platform: {app.server.platform}" in app.log()  # it really ran on the display, not offscreen


def grab_until_drawn(display, box: tuple[int, int, int, int], timeout: float = 20.0):
    """The display's screen as it holds it (``display.grab()``: the X server's root window, sway's composed output,
    not the app's rendering of itself), grabbed until the window's area ``box`` (left, top, width, height) shows
    more than 200 colours (photos, thumbnails, text) or ``timeout`` s pass; returns (screen, colours there)."""
    import numpy as np

    left, top, width, height = box
    deadline = time.monotonic() + timeout
    while True:
        screen = display.grab()
        colours = len(np.unique(screen[top : top + height : 5, left : left + width : 5].reshape(-1, 3), axis=0))
        if colours > 200 or time.monotonic() > deadline:
            return screen, colours
        time.sleep(0.2)
