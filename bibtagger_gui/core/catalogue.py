"""Folder scan: which photos a folder holds, their size, content and image-data hashes, header facts.

The store (core/store.py) syncs its database with :func:`walk_photos` and
:func:`describe`; nothing here writes anything.
"""

from __future__ import annotations

import hashlib
import os
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from bibtagger_gui.core.imageio import ImageError, ImageInfo, is_supported, is_unsupported_photo, probe_image
from bibtagger_gui.core.pixelhash import pixel_hash

HASH_CHUNK = 64 * 1024
STORE_DIRNAME = ".bibtagger"


@dataclass(frozen=True)
class FileFacts:
    """What a scan learns about one photo file (``error`` is set when the header is unusable)."""

    relpath: str
    size: int
    mtime: float
    sha1: str | None
    info: ImageInfo | None
    error: str | None
    pixel_hash: str | None = None  # core/pixelhash: "" = no fingerprint for this format, None = not read
    pixel_print: bytes | None = None  # core/pixelprint, read by the store only when a decision needs it
    ctime_ns: int | None = None  # :func:`change_ns` of the file when it was read


def change_ns(st: os.stat_result) -> int | None:
    """The file's change time in ns (st_ctime_ns: moved by every write, chmod, xattr, rename or mtime set), the
    third part of a file's version beside size and mtime (docs/store.md#file-versions); None on Windows, where
    st_ctime is the creation time (kept by an overwrite in place, deprecated as such since Python 3.12)."""
    return None if os.name == "nt" else st.st_ctime_ns


FileVersion = tuple[int, float, "int | None"]  # (size, mtime, change_ns): docs/store.md#file-versions


def stat_version(st: os.stat_result) -> FileVersion:
    """(size, mtime, change time) of a file as ``os.stat`` found it (:func:`change_ns`: None on Windows)."""
    return (st.st_size, st.st_mtime, change_ns(st))


def file_version(path: str | os.PathLike) -> FileVersion | None:
    """(size, mtime, change time) of ``path`` now (:func:`change_ns`: None on Windows); None when it cannot be read."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return stat_version(st)


def is_version(now: tuple | None, stored: tuple | None) -> bool:
    """Whether a :func:`file_version` is the store's (size, mtime, change time) of the file: a change time the store
    does not know yet (None: a project an older bibtagger wrote, until the next scan) is not compared, nor one this
    system has none of (None: Windows, a project scanned on Linux or macOS: size and mtime, as the scan there).
    The one rule of the photo view's look-ahead and print, the keyword run's checks and
    ``Store.add_missing_pixel_print``."""
    if now is None or stored is None or tuple(now[:2]) != tuple(stored[:2]):
        return False
    return stored[2] is None or now[2] is None or now[2] == stored[2]


def moved_change_time(now: tuple | None, stored: tuple | None) -> bool:
    """Whether a :func:`file_version` is the stored one but for its change time (size and mtime as stored): a chmod,
    an xattr, a rename, ``cp -a``, or another file of the same length given the old mtime (``cp -p``, ``rsync -a``).
    Only the file's content tells which: the scan reads its hashes again (:func:`read_hashes`)."""
    if now is None or stored is None or tuple(now[:2]) != tuple(stored[:2]):
        return False
    return not is_version(now, stored)


def read_hashes(path: str | os.PathLike, size: int) -> tuple[str, str]:
    """The content hash (:func:`content_hash`) and the image-data hash (core/pixelhash) of ``path``, ``size`` bytes
    as stat'ed: what a scan reads of a new or changed file, and reads again of one whose version moved (the keyword
    run's checks too); raises OSError."""
    return content_hash(path, size), pixel_hash(path, size)


def content_hash(path: str | os.PathLike, size: int | None = None) -> str:
    """Fast content hash: sha1 of the size (8 bytes LE), the first and the last 64 KiB.

    Files up to 128 KiB are hashed whole. Cheap on 20 MB photos and stable across
    renames/moves; two different photos of the same size that share both ends are
    practically impossible (the head holds EXIF with timestamps, the tail the last scans).
    """
    h = hashlib.sha1()
    with open(path, "rb") as f:
        if size is None:
            size = os.fstat(f.fileno()).st_size
        h.update(size.to_bytes(8, "little"))
        if size <= 2 * HASH_CHUNK:
            h.update(f.read())
        else:
            h.update(f.read(HASH_CHUNK))
            f.seek(size - HASH_CHUNK)
            h.update(f.read(HASH_CHUNK))
    return h.hexdigest()


def to_relpath(folder: Path, path: Path) -> str:
    """Relative path with forward slashes (the form stored and exchanged)."""
    return path.relative_to(folder).as_posix()


def walk_photos(folder: str | os.PathLike, errors: list[tuple[str, str]] | None = None,
                unsupported: list[str] | None = None) -> Iterator[str]:
    """Relative paths of the supported photos under ``folder``, sorted, hidden files/folders skipped.

    Symlinked sub-folders are followed (each real folder once, so link loops end); links
    that point back into ``folder`` (files or folders, e.g. a per-bib export) are skipped:
    what they point at is scanned under its own path. A link to a folder that holds ``folder``
    (its parent, ~, /) is named in ``errors`` and not followed.

    Sub-folders that cannot be listed and names that are not valid UTF-8 are appended to
    ``errors`` as (relpath, message) instead of stopping the walk. Photos in formats bibtagger
    cannot read (HEIC, AVIF, RAW: ``imageio.UNSUPPORTED_PHOTO_EXTENSIONS``) go to ``unsupported``.
    """
    root = Path(folder)

    def onerror(exc: OSError) -> None:
        if errors is not None:
            rel = to_relpath(root, Path(exc.filename)) if exc.filename else "."
            msg = "permission denied" if isinstance(exc, PermissionError) else (exc.strerror or str(exc))
            errors.append((rel, f"cannot list folder ({msg})"))

    real_root = os.path.realpath(root)
    seen: set[object] = set()  # identities of folders walked: linked folders are followed once
    for dirpath, dirnames, filenames in os.walk(root, onerror=onerror, followlinks=True):
        try:
            key = folder_identity(dirpath)
        except OSError:
            continue
        if key in seen:  # a link back to a folder already walked (or a loop)
            dirnames[:] = []
            continue
        seen.add(key)
        dirnames[:] = sorted(d for d in dirnames if not d.startswith(".") and d != STORE_DIRNAME
                             and not _links_into(os.path.join(dirpath, d), real_root)
                             and not _holding_link(root, os.path.join(dirpath, d), real_root, errors))  # fmt: skip
        for name in sorted(filenames):
            if name.startswith(".") or _links_into(os.path.join(dirpath, name), real_root):
                continue
            if not is_supported(name):
                if unsupported is not None and is_unsupported_photo(name):
                    unsupported.append(to_relpath(root, Path(dirpath) / name).encode("utf-8", "replace").decode())
                continue
            rel = to_relpath(root, Path(dirpath) / name)
            try:
                rel.encode("utf-8")
            except UnicodeEncodeError:
                if errors is not None:
                    errors.append((rel.encode("utf-8", "replace").decode(), "file name is not valid UTF-8; rename it"))
                continue
            yield rel


def folder_identity(path: str) -> object:
    """What tells two folder paths apart as one real folder: (device, inode), or the resolved path
    where the file system reports no inode numbers (0 on FAT/exFAT and some network shares, where
    every folder would otherwise look like the first one and the walk would stop there)."""
    st = os.stat(path)
    if st.st_ino:
        return (st.st_dev, st.st_ino)
    return os.path.normcase(os.path.realpath(path))


def _holding_link(root: Path, path: str, real_root: str, errors: list[tuple[str, str]] | None) -> bool:
    """Whether ``path`` is a symlink to a folder that holds ``real_root`` (its parent, ~, /): followed, the walk took in
    every photo beside the shoot, the whole disk for a link to /. Such a link is named in ``errors``, not followed."""
    if not os.path.islink(path):
        return False
    target = os.path.realpath(path)
    if not real_root.startswith(target.rstrip(os.sep) + os.sep):
        return False
    if errors is not None:
        rel = to_relpath(root, Path(path)).encode("utf-8", "replace").decode()
        errors.append((rel, f"a link to {target}, which holds this photo folder: not followed"))
    return True


def _links_into(path: str, real_root: str) -> bool:
    """Whether ``path`` is a symlink to somewhere inside ``real_root``."""
    if not os.path.islink(path):
        return False
    target = os.path.realpath(path)
    return target == real_root or target.startswith(real_root.rstrip(os.sep) + os.sep)


def describe(folder: str | os.PathLike, relpath: str, with_hash: bool = True) -> FileFacts:
    """Stat, hash (content and image data) and probe one photo; problems end up in ``error``, never raised."""
    path = Path(folder) / relpath
    try:
        st = path.stat()
    except OSError as exc:
        return FileFacts(relpath, 0, 0.0, None, None, "permission denied" if isinstance(exc, PermissionError) else "file not found")
    if not stat.S_ISREG(st.st_mode):  # reading a named pipe waits for a writer forever
        return FileFacts(relpath, 0, 0.0, None, None, "not a regular file (a named pipe or a device)")
    ctime = change_ns(st)  # stat'ed before the reads: a write during them moves it, and the next scan reads again
    sha1 = pixels = None
    if with_hash:
        try:
            sha1, pixels = read_hashes(path, st.st_size)
        except PermissionError:
            return FileFacts(relpath, st.st_size, st.st_mtime, None, None, "permission denied", ctime_ns=ctime)
        except OSError as exc:
            return FileFacts(relpath, st.st_size, st.st_mtime, None, None, f"cannot read file ({exc.strerror or exc})",
                             ctime_ns=ctime)  # fmt: skip
    try:
        info = probe_image(path)
    except ImageError as exc:
        return FileFacts(relpath, st.st_size, st.st_mtime, sha1, None, exc.message, pixels, ctime_ns=ctime)
    return FileFacts(relpath, st.st_size, st.st_mtime, sha1, info, None, pixels, ctime_ns=ctime)
