"""The packaged app starts the system's programs (exiftool, the file manager) with the system's environment, not
with its bundled libraries on LD_LIBRARY_PATH and its Qt plugins on QT_PLUGIN_PATH (docs/packaging.md#programs-the-app-starts)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from bibtagger_gui.core import child_env

APP = Path("/opt/bibtagger")
MEIPASS = APP / "_internal"


def frozen_environ() -> dict[str, str]:
    """What the frozen app's own environment holds, as read from a child of dist/bibtagger/bibtagger (Linux, PyInstaller
    6.22, started with LD_LIBRARY_PATH=/opt/userlib and PATH=/usr/local/bin:/usr/bin)."""
    return {
        "LD_LIBRARY_PATH": f"{MEIPASS}/cv2/../../lib64{os.pathsep}{MEIPASS}{os.pathsep}/opt/userlib",
        "LD_LIBRARY_PATH_ORIG": "/opt/userlib",
        "QT_PLUGIN_PATH": f"{MEIPASS}/PySide6/Qt/plugins",
        "QML2_IMPORT_PATH": f"{MEIPASS}/PySide6/Qt/qml",
        "_PYI_ARCHIVE_FILE": f"{APP}/bibtagger",
        "_PYI_PARENT_PROCESS_LEVEL": "1",
        "_PYI_LINUX_PROCESS_NAME": "bibtagger",
        "PATH": f"{MEIPASS}{os.pathsep}{APP}{os.pathsep}/usr/local/bin{os.pathsep}/usr/bin",  # the app folder: the user's
        "HOME": "/home/anna",
        "LANG": "de_DE.UTF-8",
    }


@pytest.fixture
def frozen(monkeypatch):
    monkeypatch.setattr(sys, "frozen", True, raising=False)
    monkeypatch.setattr(sys, "_MEIPASS", str(MEIPASS), raising=False)


def test_from_source_the_environment_is_unchanged(monkeypatch):
    monkeypatch.delattr(sys, "_MEIPASS", raising=False)
    env = frozen_environ()
    assert child_env.system_environ(env) == env


def test_the_frozen_apps_additions_are_taken_out(frozen):
    env = child_env.system_environ(frozen_environ())
    assert env == {
        "LD_LIBRARY_PATH": "/opt/userlib",  # the user's own, as the bootloader kept it
        "PATH": f"{APP}{os.pathsep}/usr/local/bin{os.pathsep}/usr/bin",  # the user's PATH, the app folder on it too
        "HOME": "/home/anna",
        "LANG": "de_DE.UTF-8",
    }
    without_user_path = {k: v for k, v in frozen_environ().items() if k != "LD_LIBRARY_PATH_ORIG"}
    assert "LD_LIBRARY_PATH" not in child_env.system_environ(without_user_path)  # the user had none
    mine = {**frozen_environ(), "QT_PLUGIN_PATH": f"/home/anna/qtplugins{os.pathsep}{MEIPASS}/PySide6/Qt/plugins"}
    assert child_env.system_environ(mine)["QT_PLUGIN_PATH"] == "/home/anna/qtplugins"


@pytest.mark.skipif(sys.platform == "win32", reason="a #! script stands in for exiftool")
def test_exiftool_gets_the_system_environment(frozen, monkeypatch, tmp_path):
    """Without it exiftool (Perl) ran with the app's _internal on LD_LIBRARY_PATH: the app's libz, libcrypto, libstdc++
    … of the build machine instead of the system's."""
    from bibtagger_gui.core.keywords import ExifTool

    for name, value in frozen_environ().items():
        if name != "PATH":
            monkeypatch.setenv(name, value)
    seen = tmp_path / "env.txt"
    fake = tmp_path / "exiftool"
    fake.write_text(f"#!{sys.executable}\nimport os, sys\nopen({str(seen)!r}, 'w').write(repr(dict(os.environ)))\n"
                    "sys.stdin.read()\n", encoding="utf-8")  # fmt: skip
    fake.chmod(0o755)
    ExifTool(str(fake)).close()
    env = eval(seen.read_text(encoding="utf-8"))  # noqa: S307 - our own repr of a dict of str
    assert env["LD_LIBRARY_PATH"] == "/opt/userlib"
    assert not {"QT_PLUGIN_PATH", "QML2_IMPORT_PATH", "_PYI_ARCHIVE_FILE", "LD_LIBRARY_PATH_ORIG"} & set(env), env


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="xdg-open: the Linux file manager's opener")
def test_the_file_manager_is_opened_with_the_system_environment(qapp, frozen, monkeypatch, tmp_path):
    """Qt's openUrl started xdg-open (and so the file manager) with the process's environment: a KDE file manager got
    the app's Qt plugins and libraries. xdg-open gets the system's, and the app's own environment is not touched
    (a swap of os.environ around openUrl raced with worker threads starting exiftool meanwhile)."""
    import time

    from bibtagger_gui.gui import error_report

    seen = tmp_path / "env.txt"
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake = bin_dir / "xdg-open"
    fake.write_text(f"#!{sys.executable}\nimport os, sys\nopen({str(seen)!r} + '.part', 'w').write(repr([sys.argv[1:], "
                    f"dict(os.environ)]))\nos.replace({str(seen)!r} + '.part', {str(seen)!r})\n", encoding="utf-8")  # fmt: skip
    fake.chmod(0o755)
    for name, value in frozen_environ().items():
        monkeypatch.setenv(name, f"{bin_dir}{os.pathsep}{value}" if name == "PATH" else value)
    before = dict(os.environ)
    opened = []
    monkeypatch.setattr(error_report.QDesktopServices, "openUrl", lambda url: opened.append(url) or True)
    assert error_report.open_folder(tmp_path / "logs")
    deadline = time.monotonic() + 20
    while not seen.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    args, env = eval(seen.read_text(encoding="utf-8"))  # noqa: S307 - our own repr
    assert args == [str(tmp_path / "logs")] and opened == []
    assert "QT_PLUGIN_PATH" not in env and env.get("LD_LIBRARY_PATH") == "/opt/userlib"
    assert dict(os.environ) == before  # the app's own environment, never swapped
