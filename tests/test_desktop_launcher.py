"""The Linux desktop launcher (docs/desktop.md): `bibtagger install-desktop` writes an entry that
desktop-file-validate accepts, that a real launcher (GLib's, as GNOME's, through `gio launch`) runs, that names
the window the app really opens (StartupWMClass = its WM_CLASS on an X server), in a tmp XDG_DATA_HOME, and
takes back out only what it wrote.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from bibtagger_gui.cli import main
from bibtagger_gui.core import desktop_entry as de
from tests.xvfb import XServer, missing_tools, need_x_tools

TOOLS = {"desktop-file-validate": "desktop-file-utils", "gio": "libglib2.0-bin"}


def need(*tools: str) -> None:
    """Skip (fail in CI) when a tool of :data:`TOOLS` is missing; skip off Linux (no freedesktop launchers)."""
    if not sys.platform.startswith("linux"):
        pytest.skip("desktop entries are Linux desktops' (docs/desktop.md)")
    missing = missing_tools({t: TOOLS[t] for t in tools})
    if missing:
        message = f"{', '.join(missing)} not installed: `make sysdeps` installs them (Makefile SYSDEPS, docs/desktop.md)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)


def validate(entry: Path) -> None:
    out = subprocess.run(["desktop-file-validate", str(entry)], capture_output=True, text=True, timeout=30)
    assert out.returncode == 0 and not out.stdout.strip(), out.stdout + out.stderr  # no error, no warning, no hint


@pytest.fixture
def data_home(tmp_path, monkeypatch) -> Path:
    home = tmp_path / "data home"
    monkeypatch.setenv("XDG_DATA_HOME", str(home))
    return home


def installed(home: Path) -> tuple[Path, Path]:
    return home / "applications" / "bibtagger.desktop", home / "icons" / "hicolor" / "scalable" / "apps" / "bibtagger.svg"


def test_install_writes_a_valid_entry_with_the_apps_name_icon_and_window_class(data_home, capsys):
    need("desktop-file-validate")
    assert main(["install-desktop"]) == 0
    entry, icon = installed(data_home)
    validate(entry)
    keys = de.read_entry(entry.read_text(encoding="utf-8"))
    assert keys["Type"] == "Application" and keys["Name"] == "bibtagger" and keys["Comment"]
    assert keys["Categories"] == "Graphics;Photography;" and keys["Terminal"] == "false"
    assert "MimeType" not in keys  # not offered for opening folders or files
    assert keys["StartupWMClass"] == de.APP_ID == entry.stem  # the X11 class, the Wayland app id: the file's name
    assert icon.read_bytes() == de.icon_source().read_bytes() and keys["Icon"] == icon.stem  # found in the hicolor theme
    assert keys["Exec"] == de.exec_value(de.launch_command()) and keys["TryExec"] == de.launch_command()[0]
    printed = capsys.readouterr().out
    assert f"wrote {entry}" in printed and f"wrote {icon}" in printed and keys["Exec"] in printed


def test_the_entry_runs_the_program_that_wrote_it(data_home, monkeypatch):
    """From source the venv's `bibtagger` script (it runs: --version); without one, this Python's
    `-m bibtagger_gui`; frozen, the packaged executable itself."""
    command = de.launch_command()
    assert command == [str(Path(sys.executable).parent / "bibtagger")]  # the console script beside this venv's python
    for program in (command, [sys.executable, "-m", "bibtagger_gui"]):
        out = subprocess.run([*program, "--version"], capture_output=True, text=True, timeout=60)
        assert out.returncode == 0 and out.stdout.startswith("bibtagger "), out.stdout + out.stderr
    monkeypatch.setattr(de.sysconfig, "get_path", lambda name: str(data_home / "no scripts here"))
    assert de.launch_command() == [sys.executable, "-m", "bibtagger_gui"]
    monkeypatch.setattr(sys, "frozen", True, raising=False)
    monkeypatch.setattr(sys, "executable", "/opt/bibtagger/bibtagger")
    assert de.launch_command() == ["/opt/bibtagger/bibtagger"]


def test_installing_twice_changes_nothing_and_uninstall_takes_back_only_its_own(data_home, capsys):
    assert main(["install-desktop"]) == 0
    entry, icon = installed(data_home)
    other = data_home / "applications" / "other.desktop"
    other.write_text("[Desktop Entry]\nType=Application\nName=Other\nExec=other\n")
    before = [(p.stat().st_ino, p.stat().st_mtime_ns) for p in (entry, icon)]
    capsys.readouterr()
    assert main(["install-desktop"]) == 0  # idempotent: the same files, not rewritten
    assert [(p.stat().st_ino, p.stat().st_mtime_ns) for p in (entry, icon)] == before
    assert "up to date" in capsys.readouterr().out
    assert main(["install-desktop", "--uninstall"]) == 0
    assert not entry.exists() and not icon.exists() and other.exists()
    assert f"removed {entry}" in capsys.readouterr().out
    assert main(["install-desktop", "--uninstall"]) == 0
    assert "nothing to remove" in capsys.readouterr().out
    entry.write_text("[Desktop Entry]\nType=Application\nName=bibtagger (mine)\nExec=my-bibtagger\n")  # the user's own
    icon.parent.mkdir(parents=True, exist_ok=True)
    icon.write_text("<svg xmlns='http://www.w3.org/2000/svg'/>")
    assert main(["install-desktop", "--uninstall"]) == 0
    assert entry.exists() and icon.exists() and "left alone" in capsys.readouterr().out
    assert main(["install-desktop"]) == 0  # install takes the app's own id back
    assert de.MARKER in entry.read_text().splitlines() and icon.read_bytes() == de.icon_source().read_bytes()


def test_prefix_and_xdg_data_home(tmp_path, monkeypatch, capsys):
    """--prefix DIR installs under DIR/share and says when desktops do not look there; XDG_DATA_HOME is used when
    absolute, a relative one ignored (the base directory specification) for ~/.local/share."""
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("XDG_DATA_HOME", "relative/data")
    assert de.data_dir() == tmp_path / "home" / ".local" / "share"
    monkeypatch.setenv("XDG_DATA_DIRS", f"/usr/share:{tmp_path / 'pkg' / 'share'}")
    (tmp_path / "pkg").mkdir()  # a prefix that exists; its share/ is made
    (tmp_path / "elsewhere").mkdir()
    assert main(["install-desktop", "--prefix", str(tmp_path / "pkg")]) == 0
    assert installed(tmp_path / "pkg" / "share")[0].is_file() and "note:" not in capsys.readouterr().err
    assert main(["install-desktop", "--prefix", str(tmp_path / "elsewhere")]) == 0
    assert "desktops do not look in" in capsys.readouterr().err
    assert not (tmp_path / "home").exists()  # nothing went to the default place


def test_a_prefix_that_does_not_exist_is_refused_and_no_folder_made(tmp_path, capsys):
    """`install-desktop --prefix /typo` made /typo/share/applications and /typo/share/icons/… (a typo, or a drive
    not mounted); a prefix is a folder that exists (its share/ may be made), as every output's folder
    (core.store.out_folder_problem); a file is refused too. --uninstall of one still says there is nothing to remove."""
    typo, a_file = tmp_path / "typo", tmp_path / "notes.txt"
    a_file.write_text("x")
    for prefix, why in ((typo, "no such folder"), (a_file, "not a folder")):
        assert main(["install-desktop", "--prefix", str(prefix)]) == 1
        assert capsys.readouterr().err == (f"bibtagger install-desktop: {prefix}: {why} (--prefix names a folder that exists; "
                                           "the launcher goes into its share/ folder, made if needed; make the folder first, "
                                           "or check its name)\n")  # fmt: skip
    assert not typo.exists() and a_file.read_text() == "x"
    assert main(["install-desktop", "--prefix", str(typo), "--uninstall"]) == 0
    assert "nothing to remove" in capsys.readouterr().out and not typo.exists()


def test_a_read_only_target_is_refused_with_a_clear_message_and_nothing_written(public_tmp):
    """A folder the user cannot write (as root, which ignores modes, the command runs as nobody)."""
    prefix = public_tmp / "ro"
    prefix.mkdir()
    prefix.chmod(0o555)
    code = ("import os, sys, sysconfig\nimport bibtagger_gui.core.desktop_entry, bibtagger_gui.core.annotations, encodings.idna\n"
            "sysconfig.get_path('scripts')  # its data module is loaded on first use: before the user changes\n"
            "from bibtagger_gui.cli import build_parser\nargs = build_parser().parse_args(sys.argv[1:])\n"
            "if os.geteuid() == 0:\n    os.setgid(65534); os.setuid(65534)\n"
            "sys.exit(args.func(args))\n")  # fmt: skip
    out = subprocess.run([sys.executable, "-c", code, "install-desktop", "--prefix", str(prefix)],
                         capture_output=True, text=True, timeout=60)  # fmt: skip
    assert out.returncode == 1, out.stdout + out.stderr
    assert "bibtagger install-desktop: cannot write" in out.stderr and "permission denied" in out.stderr
    assert "--prefix DIR" in out.stderr and "Traceback" not in out.stderr
    assert list(prefix.iterdir()) == []


def test_a_path_an_entry_cannot_hold_is_refused_before_anything_is_written(tmp_path):
    """A line break, a name that is not UTF-8; a % in the program's path (GLib, GNOME's launcher, looks the program up before it expands the
    spec's %%, so the entry would never start: tried with `gio launch`)."""
    refused = (("/opt/bib\ntagger/bibtagger", "line break"), ("/opt/50%/bibtagger", "holds a %"),
               (os.fsdecode(b"/opt/L\xe4ufe/bibtagger"), "not valid UTF-8"))  # a Latin-1 folder name  # fmt: skip
    for program, why in refused:
        with pytest.raises(de.DesktopEntryError, match=why):
            de.install(tmp_path, [program])
    assert list(tmp_path.iterdir()) == []
    assert de.exec_value(["/opt/bibtagger", "50%"]) == "/opt/bibtagger 50%% gui"  # % elsewhere: the spec's %%


def test_a_launcher_runs_exec_with_every_reserved_character_in_the_path(tmp_path):
    """The Exec quoting, read back by GLib's launcher (GNOME's; `gio launch`), not by a parser of ours: a program in
    a folder whose name holds spaces, quotes, $, a backslash, a backquote and shell characters gets exactly its path
    and `gui`."""
    need("desktop-file-validate", "gio")
    folder = tmp_path / "Läufe 2024 \"Ziel\" $HOME a\\b `x` it's (1);&|<>~*?#"
    folder.mkdir()
    program = folder / "fake bibtagger"
    argv_file = tmp_path / "argv.txt"
    program.write_text(f"#!/bin/sh\nfor a in \"$0\" \"$@\"; do printf '%s\\n' \"$a\"; done > '{argv_file}'\n")
    program.chmod(0o755)
    data = tmp_path / "data"
    de.install(data, [str(program)])
    entry = installed(data)[0]
    validate(entry)
    out = subprocess.run(["gio", "launch", str(entry)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, timeout=30)
    assert out.returncode == 0, out.stderr
    deadline = time.monotonic() + 20
    while not argv_file.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert argv_file.read_text().splitlines() == [str(program), "gui"]


def test_the_icon_is_drawn_shapes_that_render(qapp):
    """Hand-drawn SVG: square, no text (fonts), no linked or embedded image; it renders at a menu's 48 px."""
    from PySide6.QtGui import QImage, QPainter
    from PySide6.QtSvg import QSvgRenderer

    root = ET.parse(de.icon_source()).getroot()
    assert root.tag == "{http://www.w3.org/2000/svg}svg" and root.get("viewBox") == "0 0 128 128"
    tags = {el.tag.split("}")[1] for el in root.iter()}
    assert not tags & {"text", "image", "use", "script", "foreignObject"}, tags
    assert not any(k.endswith("href") for el in root.iter() for k in el.attrib)
    renderer = QSvgRenderer(str(de.icon_source()))
    assert renderer.isValid()
    image = QImage(48, 48, QImage.Format.Format_ARGB32)
    image.fill(0)
    painter = QPainter(image)
    renderer.render(painter)
    painter.end()
    colours = {image.pixel(x, y) for x in range(0, 48, 2) for y in range(0, 48, 2)}
    assert len(colours) > 10  # the blue ground, the white bib, the dark digits, the orange box


@pytest.fixture
def x_server(tmp_path):
    need_x_tools()
    server = XServer(tmp_path / "x")
    yield server
    server.stop()


@pytest.mark.parametrize("how", ["console script", "python -m"])
def test_the_window_a_launched_entry_opens_has_the_entrys_startup_wm_class(x_server, tmp_path, how):
    """The entry launched as a desktop launches it (`gio launch`, on an X server): the app's window comes up, and
    its WM_CLASS, which a window manager matches StartupWMClass with, is the entry's; both halves (the instance
    was "__main__.py" under python -m). So the entry and the app cannot drift apart."""
    need("gio")
    command = de.launch_command() if how == "console script" else [sys.executable, "-m", "bibtagger_gui"]
    data = tmp_path / "home" / "data"
    de.install(data, command)
    entry = installed(data)[0]
    env = x_server.env()
    env.update(XDG_DATA_HOME=str(data), XDG_CONFIG_HOME=str(tmp_path / "home" / "config"),
               XDG_CACHE_HOME=str(tmp_path / "home" / "cache"), BIBTAGGER_KEYMAP=str(tmp_path / "no-keymap.json"))  # fmt: skip
    with open(tmp_path / "launched.out", "w+") as out:  # the app keeps gio's output: a pipe would never end
        launched = subprocess.run(["gio", "launch", str(entry)], env=env, stdout=out, stderr=subprocess.STDOUT, timeout=30)
    assert launched.returncode == 0, (tmp_path / "launched.out").read_text()
    window = x_server.find_window("^bibtagger$", 60)  # no folder yet: the window is titled with the app's name
    assert window is not None, f"no window after `gio launch`; app log: {_log(data)}"
    pid = int(x_server.run("xprop", "-id", window, "_NET_WM_PID").split("=")[1])
    try:
        startup_class = de.read_entry(entry.read_text(encoding="utf-8"))["StartupWMClass"]
        assert x_server.wm_class(window) == (startup_class, startup_class)
        x_server.focus(window)
        x_server.key("ctrl+q")
        deadline = time.monotonic() + 30
        while _alive(pid) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not _alive(pid), "Ctrl+Q did not end the launched app"
    finally:
        if _alive(pid):
            os.kill(pid, 15)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] if Path(f"/proc/{pid}/stat").exists() else "X"
    return state not in ("Z", "X")  # a zombie (gio is its parent, gone: reaped by init) has ended


def _log(data: Path) -> str:
    log = data / "bibtagger" / "logs" / "bibtagger.log"
    return log.read_text(errors="replace")[-2000:] if log.exists() else "(none)"
