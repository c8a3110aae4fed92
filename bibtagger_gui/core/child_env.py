"""The environment for the system's programs the packaged app starts (exiftool, the file manager).

The frozen app changes its own environment so that it finds what it bundles: PyInstaller's bootloader
puts ``_internal/`` on ``LD_LIBRARY_PATH`` (the user's value kept in ``LD_LIBRARY_PATH_ORIG``), OpenCV's
loader adds a folder of the app to it, the PySide6 runtime hook sets ``QT_PLUGIN_PATH`` and
``QML2_IMPORT_PATH`` to the bundled Qt (and ``_internal`` on ``PATH``/``DYLD_LIBRARY_PATH`` on
Windows/macOS), and the bootloader adds ``_PYI_*`` variables. A program started with that environment
loads the app's copies of libz, glib, libstdc++, … instead of its own, and a Qt program (a KDE file
manager) the app's Qt plugins: on a system newer than the build machine it fails to start or crashes
(PyInstaller's "LD_LIBRARY_PATH / LIBPATH considerations"). :func:`system_environ` is the environment as
the user's system gave it (docs/packaging.md#programs-the-app-starts); from source it is unchanged.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from pathlib import Path

LIBRARY_PATHS = ("LD_LIBRARY_PATH", "LIBPATH")  # the bootloader's, restored from their *_ORIG
BUNDLE_PATHS = ("PATH", "DYLD_LIBRARY_PATH")  # the runtime hooks prepend the bundle there
QT_PATHS = ("QT_PLUGIN_PATH", "QML2_IMPORT_PATH")  # overwritten by the PySide6 runtime hook


def bundle() -> Path | None:
    """The frozen app's ``_internal`` folder (``sys._MEIPASS``), or None from source."""
    meipass = getattr(sys, "_MEIPASS", None)
    if not getattr(sys, "frozen", False) or not meipass:
        return None
    return Path(os.path.normpath(os.path.abspath(meipass)))


def _inside(entry: str, meipass: Path) -> bool:
    if not entry:
        return False
    path = Path(os.path.normpath(os.path.abspath(entry)))
    return path == meipass or meipass in path.parents


def system_environ(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """``environ`` (default ``os.environ``) without what the frozen app added for itself; a copy."""
    env = dict(os.environ if environ is None else environ)
    meipass = bundle()
    if meipass is None:
        return env
    for name in LIBRARY_PATHS:  # the user's value, or none (OpenCV's addition goes with the bootloader's)
        original = env.pop(f"{name}_ORIG", None)
        if original is not None:
            env[name] = original
        else:
            env.pop(name, None)
    for name in (*BUNDLE_PATHS, *QT_PATHS):  # the user's own entries stay
        if name not in env:
            continue
        kept = [e for e in env[name].split(os.pathsep) if not _inside(e, meipass)]
        if any(kept):
            env[name] = os.pathsep.join(kept)
        else:
            del env[name]
    for name in [n for n in env if n.startswith("_PYI_") or n == "_MEIPASS2"]:
        del env[name]
    return env
