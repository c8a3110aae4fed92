"""The Linux desktop launcher (freedesktop.org): the ``bibtagger.desktop`` entry, its icon, and their install
for the current user without root (docs/desktop.md).

A desktop (GNOME, KDE, a launcher on sway) finds an app by its desktop entry: name, icon, the command it runs.
It ties the app's windows to the entry by the file's name: the Wayland app id and KDE's
``_KDE_NET_WM_DESKTOP_FILE`` are :data:`APP_ID` (``QGuiApplication.setDesktopFileName``, gui/app.py), and on
X11 ``StartupWMClass`` names the class part of the window's ``WM_CLASS``, which Qt takes from the application
name, :data:`APP_ID` too (tests/test_desktop_launcher.py reads it from a real X server).

The entry runs the program that installed it (:func:`launch_command`), so it is written by the app itself
(`bibtagger install-desktop`), not shipped as a file: the packaged executable, the console script, or
``python -m bibtagger_gui``.
"""

from __future__ import annotations

import errno
import os
import sys
import sysconfig
from dataclasses import dataclass, field
from pathlib import Path

from bibtagger_gui.core.annotations import atomic_write_bytes
from bibtagger_gui.resources import resource_path

#: the app's id: the desktop entry's file name, the Wayland app id and the X11 WM_CLASS (gui/app.py uses it)
APP_ID = "bibtagger"
ENTRY_NAME = f"{APP_ID}.desktop"
ICON_NAME = APP_ID
#: where the entry and the icon go under a data folder (XDG_DATA_HOME, or PREFIX/share)
ENTRY_DIR = Path("applications")
ICON_DIR = Path("icons", "hicolor", "scalable", "apps")
#: marks an entry this command wrote: uninstall removes no other
MARKER_KEY = "X-Bibtagger-Installed-By"
MARKER = f"{MARKER_KEY}=bibtagger install-desktop"

# characters that make an Exec argument need quotes (Desktop Entry Specification 1.5, "The Exec key")
_RESERVED = set(" \t\n\"'\\><~|&;$*?#()`")


class DesktopEntryError(Exception):
    """The launcher cannot be written or removed; the message says why and what to do."""


def icon_source() -> Path:
    """The icon shipped with the app (resources/desktop, bundled by build.spec)."""
    return resource_path("desktop", f"{ICON_NAME}.svg")


def launch_command() -> list[str]:
    """The program a launcher should start: the packaged executable when frozen; else the `bibtagger` console
    script installed beside this Python (a venv's ``bin``, pip's ``--user`` scripts); else this Python with
    ``-m bibtagger_gui``. Paths as given, not resolved: a venv's python is a link that must stay in the venv."""
    if getattr(sys, "frozen", False):
        return [sys.executable]
    scripts = sysconfig.get_path("scripts")
    if scripts:
        script = Path(scripts) / ("bibtagger.exe" if sys.platform == "win32" else "bibtagger")
        if script.is_file() and os.access(script, os.X_OK):
            return [str(script)]
    return [sys.executable, "-m", "bibtagger_gui"]


def _checked(text: str, what: str) -> str:
    """``text`` as a desktop entry value may hold it: UTF-8, no control characters."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise DesktopEntryError(f"{what} {text!r} is not valid UTF-8, which a desktop entry must be") from None
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in text):
        raise DesktopEntryError(f"{what} {text!r} holds a line break or control character, which a desktop entry cannot")
    return text


def exec_argument(arg: str) -> str:
    """One argument of the Exec key, quoted as the specification says: ``%`` doubled; in double quotes when it
    holds a reserved character, with ``"`` `` ` `` ``$`` ``\\`` escaped by a backslash. (The value's own string
    escape, a backslash written twice, is :func:`exec_value`'s.)"""
    _checked(arg, "the path")
    text = arg.replace("%", "%%")
    if arg == "" or any(c in _RESERVED for c in arg):
        text = '"' + "".join("\\" + c if c in '"`$\\' else c for c in text) + '"'
    return text


def _string_value(text: str) -> str:
    """A value of type string: a backslash is written ``\\\\`` (the escape applied before Exec's quoting)."""
    return text.replace("\\", "\\\\")


def exec_value(command: list[str]) -> str:
    """The Exec key's value that runs ``command`` (then ``gui``: the window, the last folder)."""
    return _string_value(" ".join(exec_argument(a) for a in [*command, "gui"]))


def entry_text(command: list[str]) -> str:
    """The desktop entry that starts ``command``. TryExec hides it in a menu once the program is gone (a deleted
    venv); Categories put it with photo tools; no MimeType: it is not offered for opening files or folders."""
    program = _checked(command[0], "the program")
    if "%" in program:  # written %% as the specification says, GLib looks for the program under that name, unexpanded
        raise DesktopEntryError(f"the program's path {program!r} holds a %, which GNOME's launcher (GLib) cannot start: "
                                "move the app to a folder without one")  # fmt: skip
    lines = [
        "[Desktop Entry]",
        "Type=Application",
        "Version=1.4",  # the newest desktop-file-utils 0.26 (Debian 12) knows; every key here is older
        "Name=bibtagger",
        "GenericName=Race Bib Tagger",
        "Comment=Find runners' race bib numbers in event photos and review them",
        f"Exec={exec_value(command)}",
        f"TryExec={_string_value(program)}",
        f"Icon={ICON_NAME}",
        "Terminal=false",
        "Categories=Graphics;Photography;",
        "Keywords=race;bib;number;runner;marathon;photo;tag;",
        f"StartupWMClass={APP_ID}",
        MARKER,
    ]
    return "\n".join(lines) + "\n"


def read_entry(text: str) -> dict[str, str]:
    """The keys of a desktop entry's ``[Desktop Entry]`` group (values as written)."""
    group, out = None, {}
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("["):
            group = line
        elif group == "[Desktop Entry]" and "=" in line:
            key, value = line.split("=", 1)
            out[key.strip()] = value.strip()
    return out


def data_home(env: dict[str, str] | None = None) -> Path:
    """The user's data folder: ``$XDG_DATA_HOME`` when set to an absolute path (the base directory
    specification ignores a relative one), else ``~/.local/share``."""
    env = os.environ if env is None else env  # type: ignore[assignment]
    value = env.get("XDG_DATA_HOME", "")
    return Path(value) if value and os.path.isabs(value) else Path(env.get("HOME") or Path.home()) / ".local" / "share"


def data_dir(prefix: str | os.PathLike | None = None, env: dict[str, str] | None = None) -> Path:
    """Where the entry goes: ``PREFIX/share`` with a prefix (``~/.local``, ``/usr/local``), else :func:`data_home`."""
    return Path(prefix).expanduser() / "share" if prefix is not None else data_home(env)


def searched(folder: Path, env: dict[str, str] | None = None) -> bool:
    """Whether desktops look for entries in the data folder ``folder``: XDG_DATA_HOME, then XDG_DATA_DIRS."""
    env = os.environ if env is None else env  # type: ignore[assignment]
    dirs = [data_home(env), *(Path(d) for d in (env.get("XDG_DATA_DIRS") or "/usr/local/share:/usr/share").split(":") if d)]
    here = os.path.normpath(os.path.abspath(folder))
    return any(os.path.normpath(os.path.abspath(d)) == here for d in dirs)


@dataclass
class Outcome:
    """What install or uninstall did: files written, removed, already as wanted, or left alone (not ours)."""

    written: list[Path] = field(default_factory=list)
    unchanged: list[Path] = field(default_factory=list)
    removed: list[Path] = field(default_factory=list)
    absent: list[Path] = field(default_factory=list)
    kept: list[Path] = field(default_factory=list)


def _paths(folder: Path) -> tuple[Path, Path]:
    return folder / ENTRY_DIR / ENTRY_NAME, folder / ICON_DIR / f"{ICON_NAME}.svg"


def _cannot(action: str, path: Path, exc: OSError) -> DesktopEntryError:
    why = {errno.EROFS: "read-only file system", errno.EACCES: "permission denied", errno.EPERM: "not permitted",
           errno.ENOSPC: "disk full"}.get(exc.errno or 0, exc.strerror or str(exc))  # fmt: skip
    hint = "; choose a folder you can write with --prefix DIR (the entry goes to DIR/share/applications)" if action == "write" else ""
    return DesktopEntryError(f"cannot {action} {path}: {why}{hint}")


def _write(path: Path, data: bytes, outcome: Outcome) -> None:
    try:
        if path.is_file() and path.read_bytes() == data:
            outcome.unchanged.append(path)
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_bytes(path, data)
    except OSError as exc:
        raise _cannot("write", path, exc) from None
    outcome.written.append(path)


def install(folder: Path, command: list[str] | None = None) -> Outcome:
    """Write the icon, then the entry that starts ``command`` (default :func:`launch_command`), under the data
    folder ``folder``; each atomically, a file already as wanted is left untouched (installing twice changes
    nothing). Raises DesktopEntryError on a folder that cannot be written or a path an entry cannot hold."""
    command = list(command or launch_command())
    text = entry_text(command)  # a path it cannot hold is refused before anything is written
    try:
        icon = icon_source().read_bytes()
    except OSError as exc:
        raise DesktopEntryError(f"the app's icon is missing from this installation ({icon_source()}): {exc.strerror or exc}") from None
    entry, icon_path = _paths(folder)
    outcome = Outcome()
    _write(icon_path, icon, outcome)  # the icon first: an entry never names an icon that is not there yet
    _write(entry, text.encode("utf-8"), outcome)
    return outcome


def uninstall(folder: Path) -> Outcome:
    """Remove the entry and the icon under ``folder`` that :func:`install` wrote. An entry without this command's
    marker (the user's own, a package's) is kept, and so is the icon then, unless it is the one the app ships
    (an icon of an earlier version goes with its entry)."""
    entry, icon_path = _paths(folder)
    outcome = Outcome()
    entry_data, icon_data = _read(entry, outcome), _read(icon_path, outcome)
    entry_ours = entry_data is not None and MARKER in entry_data.decode("utf-8", "replace").splitlines()
    try:
        shipped = icon_source().read_bytes()
    except OSError:
        shipped = None
    for path, data, ours in ((entry, entry_data, entry_ours), (icon_path, icon_data, entry_ours or icon_data == shipped)):
        if data is None:
            continue
        if not ours:
            outcome.kept.append(path)
            continue
        try:
            path.unlink()
        except FileNotFoundError:
            outcome.absent.append(path)
            continue
        except OSError as exc:
            raise _cannot("remove", path, exc) from None
        outcome.removed.append(path)
    return outcome


def _read(path: Path, outcome: Outcome) -> bytes | None:
    """``path``'s bytes, None (and noted absent) when there is no such file."""
    try:
        return path.read_bytes()
    except FileNotFoundError:
        outcome.absent.append(path)
        return None
    except OSError as exc:
        raise _cannot("read", path, exc) from None
