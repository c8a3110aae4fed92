"""Replace a user's file by a new version written beside it, so a crash leaves the old or the new file.

Used for keywords written into photos (``core/keywords.py``): exiftool writes the new version to a
hidden temp file in the same folder (``.IMG_0001.bibtagger-tmp.JPG``: same file system, so the
rename is atomic; same extension, so exiftool keeps the format; a leading dot, so the folder scan
skips it), :func:`install` gives it the original's mode, owner and extended attributes, flushes it
to disk and renames it over the original. A process killed at any moment (exiftool included)
leaves the photo untouched or fully written, and at most a stale temp file, which the next run
deletes (it is never the only copy of anything: the rename is the last step).

A file the rename would change in a way users notice is rewritten in place instead
(:func:`replace_blocker`, :class:`KeepInPlace`): one with hard links (they would keep the old
version), one whose owner or extended attributes cannot be copied (a file of another user in a
shared folder), and on macOS, where Python cannot copy extended attributes (Finder tags).
"""

from __future__ import annotations

import os
import shutil
import stat
import sys
from collections.abc import Callable
from pathlib import Path

from bibtagger_gui.core import portable

TEMP_MARK = ".bibtagger-tmp"
EXIFTOOL_TEMP_SUFFIX = "_exiftool_tmp"  # what exiftool -overwrite_original(_in_place) writes first


class KeepInPlace(Exception):
    """Replacing the file would lose something it has; rewrite it in place instead."""


class Changed(Exception):
    """The file (or the one its new version belongs with) changed since the new version was made: not replaced."""


def temp_path(path: Path) -> Path:
    """``dir/IMG_0001.JPG`` -> ``dir/.IMG_0001.bibtagger-tmp.JPG`` (hidden, same folder, same extension)."""
    return path.with_name(f".{path.stem}{TEMP_MARK}{path.suffix}")


def exiftool_leftover(path: Path) -> Path:
    """The temp file an interrupted in-place exiftool write leaves: ``IMG_0001.JPG_exiftool_tmp``."""
    return path.with_name(path.name + EXIFTOOL_TEMP_SUFFIX)


def replace_blocker(path: Path) -> str | None:
    """Why ``path`` must be rewritten in place rather than replaced (None: it can be replaced)."""
    try:
        st = path.stat()
    except OSError:
        return None  # a new file (a sidecar): nothing to keep
    if st.st_nlink > 1:
        return "it has hard links"
    if sys.platform == "darwin":
        return "macOS file attributes cannot be copied"
    return None


def remove_stale_temp(path: Path) -> None:
    """Delete the temp file a killed run left for ``path`` (it was never renamed into place)."""
    tmp = temp_path(path)
    for stale in (tmp, exiftool_leftover(tmp)):
        try:
            stale.unlink()
        except FileNotFoundError:
            pass


def install(new: Path, path: Path, backup: Path | None = None, check: Callable[[], None] | None = None) -> None:
    """Rename ``new`` over ``path`` after giving it ``path``'s owner, mode and extended attributes.

    ``new`` is flushed to disk first and the folder after, so the result survives power loss too.
    With ``backup``, the old file stays there (hard link, else copy) unless that name exists.
    Raises :class:`KeepInPlace` (``new`` left for the caller to delete) when the owner or an
    extended attribute cannot be copied. ``check()``, called last before the rename, may raise
    (:class:`Changed`) to leave ``path`` as it is (``new`` left for the caller to delete).
    """
    try:
        st = path.stat()
    except FileNotFoundError:
        st = None
    if st is not None:
        _copy_attributes(path, new, st)
    _fsync_file(new)
    if check is not None:  # as late as it can be: another program may have replaced the file meanwhile
        check()
    if backup is not None and st is not None and not os.path.lexists(backup):
        try:
            os.link(path, backup)
        except OSError:
            shutil.copy2(path, backup)
    portable.replace(new, path)  # Windows: waits briefly for a viewer/indexer holding the photo open
    _fsync_dir(path.parent)


def _copy_attributes(src: Path, dst: Path, st: os.stat_result) -> None:
    new = dst.stat()
    if (new.st_uid, new.st_gid) != (st.st_uid, st.st_gid):
        try:
            os.chown(dst, st.st_uid, st.st_gid)  # before chmod: chown clears set-id bits
        except OSError as exc:
            raise KeepInPlace(f"cannot give the new file the owner of {src.name}: {exc.strerror}") from exc
    os.chmod(dst, stat.S_IMODE(st.st_mode))
    if hasattr(os, "listxattr"):
        try:
            names = os.listxattr(src)
        except OSError:
            names = []  # file system without extended attributes
        for name in names:
            try:
                os.setxattr(dst, name, os.getxattr(src, name))
            except OSError as exc:
                raise KeepInPlace(f"cannot copy the extended attribute {name}: {exc.strerror}") from exc


def _fsync_file(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_dir(folder: Path) -> None:
    if sys.platform == "win32":
        return  # folders cannot be opened for fsync there; NTFS journals the rename
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
