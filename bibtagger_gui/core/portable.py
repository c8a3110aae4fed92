"""What differs between Linux, Windows and macOS, in one place (docs/portability.md).

* :func:`user_data_dir`: the per-user data folder (XDG on Linux, ``%LOCALAPPDATA%`` on
  Windows, ``~/Library/Application Support`` on macOS), the same folder as Qt's
  ``QStandardPaths.GenericDataLocation`` + ``/bibtagger``;
* :func:`name_key`: a file name as a case-insensitive, normalisation-insensitive key
  (macOS hands out NFD names, annotation files and MTurk CSVs usually hold NFC);
* :func:`windows_safe_name`: a file/folder name Windows accepts (no ``<>:"/\\|?*``, no
  trailing dot or space, no device name such as ``CON`` or ``COM1``);
* :func:`replace`: ``os.replace`` that waits briefly while another program (a virus scanner,
  the search indexer, Excel) holds the target open on Windows, then says so clearly.
"""

from __future__ import annotations

import os
import re
import sys
import time
import unicodedata
from pathlib import Path

APP_DIR_NAME = "bibtagger"

# Device names Windows reserves in every folder, with any extension ("nul.txt" is NUL too).
WINDOWS_RESERVED = frozenset(
    ["CON", "PRN", "AUX", "NUL", "CONIN$", "CONOUT$"]
    + [f"{dev}{i}" for dev in ("COM", "LPT") for i in [*"123456789", "¹", "²", "³"]]
)
_WINDOWS_BAD_CHARS = re.compile(r'[<>:"/\\|?*\x00-\x1f]')

# Windows: the sharing violation / access denied a rename meets while another program has the target open.
REPLACE_RETRY_S = 2.0
_REPLACE_PAUSE_S = 0.05


def user_data_dir(platform: str | None = None, env: dict[str, str] | None = None) -> Path:
    """Per-user data folder of the app (``$XDG_DATA_HOME`` wins everywhere when set).

    Linux: ``~/.local/share/bibtagger``; Windows: ``%LOCALAPPDATA%\\bibtagger``;
    macOS: ``~/Library/Application Support/bibtagger``.
    """
    platform = sys.platform if platform is None else platform
    env = os.environ if env is None else env  # type: ignore[assignment]
    if env.get("XDG_DATA_HOME"):
        base = Path(env["XDG_DATA_HOME"])
    elif platform == "win32":
        local = env.get("LOCALAPPDATA")
        base = Path(local) if local else Path.home() / "AppData" / "Local"
    elif platform == "darwin":
        base = Path.home() / "Library" / "Application Support"
    else:
        base = Path.home() / ".local" / "share"
    return base / APP_DIR_NAME


def name_key(name: str) -> str:
    """``name`` for matching: NFC-normalised and case-folded ("Café.JPG" in NFD == "café.jpg" in NFC)."""
    return unicodedata.normalize("NFC", name).casefold()


def nfc(text: str) -> str:
    return unicodedata.normalize("NFC", text)


def is_windows_reserved(name: str) -> bool:
    """Whether Windows takes ``name`` for a device (``CON``, ``nul.txt``, ``COM1.jpg``)."""
    stem = name.split(".", 1)[0].rstrip(" ")
    return stem.upper() in WINDOWS_RESERVED


def windows_safe_name(name: str, replacement: str = "_") -> str:
    """A file/folder name valid on Windows too: bad characters replaced, trailing dots and
    spaces dropped, a device name (``CON``, ``COM1``...) suffixed with ``_``."""
    name = _WINDOWS_BAD_CHARS.sub(replacement, name).rstrip(". ")
    if not name:
        return replacement
    if is_windows_reserved(name):
        stem, dot, rest = name.partition(".")
        name = f"{stem}_{dot}{rest}"
    return name


def replace(src: str | os.PathLike, dst: str | os.PathLike, platform: str | None = None,
            wait_s: float = REPLACE_RETRY_S) -> None:  # fmt: skip
    """``os.replace(src, dst)``; on Windows a target held open by another program is retried for
    up to ``wait_s`` seconds, then the PermissionError says that the file is in use."""
    platform = sys.platform if platform is None else platform
    deadline = time.monotonic() + wait_s
    while True:
        try:
            os.replace(src, dst)
            return
        except PermissionError as exc:
            if platform != "win32":
                raise
            if time.monotonic() < deadline:
                time.sleep(_REPLACE_PAUSE_S)
                continue
            raise PermissionError(
                exc.errno,
                f"{Path(dst).name} is in use by another program (close it there and try again)",
                str(dst),
            ) from exc


# A file name component: 255 bytes on ext4/APFS, 255 UTF-16 units on NTFS; Windows also limits
# a whole path to 260 characters unless long paths are enabled, so names built from relpaths
# (export crops, bib folders) are kept well below.
MAX_BUILT_NAME = 120


def shorten_name(name: str, limit: int = MAX_BUILT_NAME) -> str:
    """``name`` itself when it has at most ``limit`` characters, else its start, ``~`` and 8 hex
    digits of its sha1 (so two long names stay apart), with the extension kept."""
    if len(name) <= limit:
        return name
    import hashlib

    stem, dot, ext = name.rpartition(".")
    if not dot or not stem or len(ext) > 8:
        stem, ext = name, ""
    tag = "~" + hashlib.sha1(name.encode("utf-8", "surrogatepass")).hexdigest()[:8]
    suffix = f".{ext}" if ext else ""
    return stem[: max(1, limit - len(tag) - len(suffix))] + tag + suffix
