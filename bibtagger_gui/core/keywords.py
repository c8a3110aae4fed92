"""Write bib numbers into photos as XMP ``dc:subject`` / IPTC ``Keywords`` through exiftool.

Only our own keywords (those starting with the prefix, default ``"BIB:"``, and with
``--hierarchical`` the ``"Bib|…"`` entries of ``XMP-lr:HierarchicalSubject``) are added
or removed; every other keyword of the photo is kept, and a photo whose keywords are
already right is not touched at all, so re-running is idempotent.

RAW files (API jobs only: a project's scan holds no RAW files), formats exiftool cannot
write (BMP), files that are not
writable, and everything when ``sidecar=True`` get an ``.xmp`` sidecar (``IMG_0001.CR2``
-> ``IMG_0001.xmp``, the Adobe convention) instead; the original is then never opened for
writing. Photos that share a stem with another photo of the folder (``IMG_1.jpg`` and
``IMG_1.png``) get ``IMG_1.jpg.xmp`` and ``IMG_1.png.xmp`` (darktable/digiKam naming), so
neither's keywords end up in the other's sidecar. One ``exiftool -stay_open`` process
serves a whole run: current keywords are read in batches, then each changed file gets
one write command, so thousands of photos take seconds, and a failing file is
reported while the rest goes on.
"""

from __future__ import annotations

import json
import os
import queue
import re
import shutil
import subprocess
import sys
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

from bibtagger_gui.core import replace_file
from bibtagger_gui.core.bib import number_order
from bibtagger_gui.core.catalogue import file_version, is_version, read_hashes
from bibtagger_gui.core.child_env import system_environ
from bibtagger_gui.core.imageio import RAW_EXTENSIONS, SUPPORTED_EXTENSIONS
from bibtagger_gui.core.parent_watch import Lifeline
from bibtagger_gui.core.store import not_recognized_yet

# Image formats exiftool reads but cannot write ("Writing of BMP files is not yet supported"):
# like RAW files they get a sidecar. BMP is the one a project can hold.
NOT_WRITABLE_EXTENSIONS = frozenset(".bmp .dib .ico .cur .pcx .tga".split())
# Formats exiftool writes XMP into but not IPTC: only XMP dc:subject is compared and written.
# (PNG gets IPTC, which exiftool stores with a "non-standard IPTC in PNG" warning, and reads back.)
NO_IPTC_EXTENSIONS = frozenset({".webp"})
# exiftool 12 cannot write these to a new file (-o: "Can't write RIFF files"): the temp file is a copy
# of the photo, edited by exiftool (docs/crash-safety.md).
COPY_FIRST_EXTENSIONS = frozenset({".webp"})
DEFAULT_PREFIX = "BIB:"
DEFAULT_HIERARCHY_ROOT = "Bib"
READ_BATCH = 100

SUBJECT = "XMP-dc:Subject"
IPTC_KEYWORDS = "IPTC:Keywords"
HIERARCHICAL = "XMP-lr:HierarchicalSubject"
IPTC_CHARSET = "IPTC:CodedCharacterSet"


class KeywordError(Exception):
    """A keyword run cannot start or exiftool stopped working."""


class ExiftoolMissing(KeywordError):
    """exiftool is not installed or not on PATH."""


@dataclass(frozen=True)
class KeywordOptions:
    """How keywords are written."""

    prefix: str = DEFAULT_PREFIX
    hierarchical: bool = False
    hierarchy_root: str = DEFAULT_HIERARCHY_ROOT
    sidecar: bool = False  # write .xmp sidecars for every photo
    dry_run: bool = False  # read only; report what would change
    backup: bool = False  # keep exiftool's FILE_original copies

    def __post_init__(self) -> None:
        if not self.prefix.strip():
            raise KeywordError("keyword prefix must not be empty (it marks the keywords bibtagger owns)")
        if _has_line_break(self.prefix) or _has_line_break(self.hierarchy_root):
            raise KeywordError("keyword prefix and hierarchy root must not contain a line break")
        if self.hierarchical and ("|" in self.hierarchy_root or not self.hierarchy_root.strip()):
            raise KeywordError("hierarchy root must be a non-empty name without '|'")


class SeenFile(NamedTuple):
    """A photo's file as the project last saw it (``Store.scan``), the picture its bibs were read on."""

    size: int
    mtime: float
    pixel_hash: str | None = None  # core/pixelhash of its image data ("" or None: none, TIFF or not read yet)
    ctime_ns: int | None = None  # its change time (catalogue.change_ns; None: not known, or Windows)
    sha1: str | None = None  # its content hash (catalogue.content_hash; None: not known)

    @property
    def version(self) -> tuple[int, float, int | None]:
        """Its file version (docs/store.md#file-versions), as ``catalogue.file_version`` gives one."""
        return (self.size, self.mtime, self.ctime_ns)


@dataclass(frozen=True)
class KeywordJob:
    """The bib numbers one photo should carry."""

    path: Path
    numbers: tuple[str, ...]
    relpath: str = ""
    # False: the project does not know this photo's bibs (never recognized nor reviewed, no bib: new since the
    # last run, or another picture now, e.g. an edited copy saved over it). Its keywords are left as they are.
    known: bool = True
    # numbers of bibs kept from an earlier picture under this name (replaced since, not reviewed): left out
    earlier: tuple[str, ...] = ()
    # the file the bibs were read on, as the project last saw it (its scan): a photo whose file holds another picture
    # when its keywords are written, or changes during the write (another program replaced it during the run), is
    # left as it is, so the bibs of one picture never go into another (None: not checked)
    facts: SeenFile | None = None


LEFT_WITH_A_MESSAGE = ("error", "skipped", "changed")  # results that are only their message (the CLI's stderr)
CHANGED_NOTE = ("its file changed (another program replaced or edited it, during this run or since the folder was "
                "last scanned): its keywords are left as they are, so bibs read on another picture do not go into it; "
                "write keywords again when that program is done (`bibtagger keywords` scans the folder first; "
                "in the app, open the folder again first)")  # fmt: skip


@dataclass
class FileResult:
    """What happened to one target file (a photo or its sidecar)."""

    path: Path  # the file written (photo or sidecar)
    sources: list[str]  # relpaths (or paths) of the photos it holds keywords for
    # "written" | "unchanged" | "would write" | "error" | "skipped" (bibs not known: left as it is)
    # | "changed" (the photo's file changed during the run: left as it is, see KeywordJob.facts)
    status: str
    sidecar: bool = False
    added: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    message: str = ""
    read_only: list[str] = field(default_factory=list)  # sources with bibs in a sidecar only because they are read-only

    def describe(self) -> str:
        """One human line: ``photo.jpg: +BIB:12 -BIB:13 (sidecar photo.xmp)``."""
        name = ", ".join(self.sources) or str(self.path)
        if self.status in LEFT_WITH_A_MESSAGE:
            return f"{name}: {self.message}"
        changes = " ".join([f"+{k}" for k in self.added] + [f"-{k}" for k in self.removed]) or "no change"
        where = f" (sidecar {self.path.name})" if self.sidecar else ""
        note = f" [{self.message}]" if self.message else ""
        return f"{name}: {self.status}: {changes}{where}{note}"


@dataclass
class KeywordReport:
    """Summary of a keyword run."""

    results: list[FileResult] = field(default_factory=list)
    cancelled: bool = False

    def rewritten(self) -> list[str]:
        """Relpaths of the photos written in place (their hash and size changed; sidecars excluded)."""
        return [src for r in self.results if r.status == "written" and not r.sidecar for src in r.sources]

    def count(self, status: str) -> int:
        return sum(1 for r in self.results if r.status == status)

    def photos_written(self) -> list[str]:
        """Relpaths of the photos that got their keywords written (into the photo or a sidecar), each once."""
        return list(dict.fromkeys(src for r in self.results if r.status == "written" for src in r.sources))

    def stopped_note(self, total: int, at_once: bool = False) -> str:
        """What to say when a run was stopped (Ctrl+C) after ``self.results``, of ``total`` photos: how many got
        their keywords, and that the others were not touched (a rerun finishes: photos already right are skipped).
        ``at_once``: stopped during a write (a second Ctrl+C), whose photo is either as it was or complete."""
        written = len(self.photos_written())
        during = (" (but for the one being written when it stopped, which is either as it was or has its new keywords)"
                  if at_once else "")  # fmt: skip
        return (f"interrupted: keywords written to {written} of {total} photo(s) before stopping; the others are "
                f"untouched{during}. Run this again to finish (photos already right are not rewritten).")

    @property
    def errors(self) -> list[FileResult]:
        return [r for r in self.results if r.status == "error"]

    def read_only_note(self, dry_run: bool = False) -> str:
        """What to do when photos that could hold keywords themselves got them in a sidecar only because
        they are read-only (a camera's Protect flag, a copy from a read-only share): Lightroom and photo-sales
        sites read a JPEG's own keywords, not its sidecar, so those photos would stay unfindable there."""
        names = list(dict.fromkeys(s for r in self.results if r.status != "error" for s in r.read_only))
        if not names:
            return ""
        went = "would go" if dry_run else "went"
        return (f"note: {len(names)} photo(s) are read-only, so their keywords {went} to .xmp sidecars, which "
                "Lightroom and photo-sales sites do not read for JPEGs (first: " + names[0] + "). To write the "
                "keywords into the photos, make them writable (a camera's Protect marks a photo read-only; Windows: "
                "Properties, untick Read-only; macOS, Linux: chmod u+w) and run this again.")

    def summary(self) -> str:
        """``3 written, 44 unchanged (24 photo files, 20 sidecars)``: files, not photos, are counted (a photo
        may have both an old sidecar and a new one), so a count that holds sidecars says how many."""
        parts = []
        labels = {"skipped": "left as they are (not recognized yet)", "changed": "left as they are (their file changed)"}
        for status in ("written", "would write", "unchanged", "error", "skipped", "changed"):
            n = self.count(status)
            sidecars = sum(1 for r in self.results if r.status == status and r.sidecar)
            label = labels.get(status, status)
            if n:
                parts.append(f"{n} {label}" + (f" ({n - sidecars} photo file(s), {sidecars} sidecar(s))" if sidecars else ""))
        text = ", ".join(parts) or "nothing to do"
        return text + (" (cancelled)" if self.cancelled else "")


# --------------------------------------------------------------------------- planning


def jobs_from_store(store, reviewed_only: bool = False) -> list[KeywordJob]:
    """One job per photo of the store (photos without bibs too: stale keywords get removed). A photo that was
    not recognized yet (``store.not_recognized_yet``; bibs read on an earlier picture under its name do not count)
    is not known to have none: its job is ``known=False``."""
    jobs = []
    bibs, stale = store.bibs_by_picture()  # stale: read on another picture that had this name, not this one's
    hashes = store.pixel_hashes()

    def numbers_of(rows) -> set[str]:
        return {b.number.strip() for b in rows if b.number and b.number.strip()}

    for photo in store.photos("reviewed" if reviewed_only else None):
        numbers = number_order(numbers_of(bibs.get(photo.id, [])))
        earlier = number_order(numbers_of(stale.get(photo.id, [])) - set(numbers))
        known = not not_recognized_yet(photo, len(bibs.get(photo.id, [])))
        seen = photo.size is not None and photo.mtime is not None
        facts = SeenFile(photo.size, photo.mtime, hashes.get(photo.id), photo.ctime_ns, photo.sha1) if seen else None
        jobs.append(KeywordJob(Path(store.folder) / photo.relpath, tuple(numbers), photo.relpath, known, tuple(earlier),
                               facts))  # fmt: skip
    return jobs


def earlier_picture_notes(jobs: Iterable[KeywordJob]) -> list[str]:
    """One line per photo whose file now holds another picture, for the bibs it kept from the earlier one
    (left out of its keywords until the photo is reviewed: they name runners of the other picture)."""
    return [f"{job.relpath or job.path}: bib(s) {', '.join(job.earlier)} were read on an earlier picture under this "
            "name (the file was replaced since): neither written nor removed until the photo is reviewed"
            for job in jobs if job.earlier]  # fmt: skip


def sidecar_path(path: Path, clash: bool | None = None) -> Path:
    """``IMG_0001.CR2`` -> ``IMG_0001.xmp`` (Adobe/Lightroom convention), but ``IMG_1.png`` ->
    ``IMG_1.png.xmp`` (darktable/digiKam convention) when another photo of its folder has the same
    stem (``IMG_1.jpg``), so the two never share one sidecar. ``clash=None`` looks at the folder."""
    if clash is None:
        clash = _StemIndex().clash(path)
    return path.with_name(path.name + ".xmp") if clash else path.with_suffix(".xmp")


class _StemIndex:
    """Which photos of a folder share their stem with another photo (case-insensitively: an SD card's
    FAT/exFAT or a Mac folder does not tell ``IMG_1.xmp`` from ``img_1.xmp``). One listing per folder."""

    def __init__(self) -> None:
        self._folders: dict[Path, dict[str, list[str]]] = {}

    def _stems(self, folder: Path) -> dict[str, list[str]]:
        if folder not in self._folders:
            stems: dict[str, list[str]] = {}
            try:
                names = [e.name for e in os.scandir(folder) if e.is_file()]
            except OSError:
                names = []
            for name in names:
                stems.setdefault(os.path.splitext(name)[0].lower(), []).append(name)
            self._folders[folder] = stems
        return self._folders[folder]

    def _siblings(self, path: Path) -> list[str]:
        return [n for n in self._stems(path.parent).get(path.stem.lower(), []) if n != path.name]

    def clash(self, path: Path) -> bool:
        """Whether ``path`` is a photo (a format a project holds) and another such photo shares its stem."""
        if path.suffix.lower() not in SUPPORTED_EXTENSIONS:
            return False
        return any(os.path.splitext(n)[1].lower() in SUPPORTED_EXTENSIONS for n in self._siblings(path))

    def raw_sibling(self, path: Path) -> bool:
        """Whether a RAW file shares the stem of ``path`` (``STEM.xmp`` is then the RAW's sidecar)."""
        return any(os.path.splitext(n)[1].lower() in RAW_EXTENSIONS for n in self._siblings(path))


def is_writable(path: Path) -> bool:
    """Whether exiftool may rewrite ``path`` in place (file and its folder writable).

    A file without any write bit (chmod 444) is read-only even for root, whom os.access lets write.
    """
    try:
        has_write_bit = bool(path.stat().st_mode & 0o222)
    except OSError:
        return False
    return has_write_bit and os.access(path, os.W_OK) and os.access(path.parent, os.W_OK)


def _sidecar_writable(path: Path) -> bool:
    """Whether exiftool can create or rewrite the sidecar ``path``."""
    if path.exists():
        return os.access(path, os.W_OK) and os.access(path.parent, os.W_OK)  # rewritten via a temp file beside it
    return os.access(path.parent, os.W_OK | os.X_OK)


def own_keywords(numbers: Iterable[str], prefix: str) -> list[str]:
    return [f"{prefix}{n}" for n in numbers]


def own_hierarchical(numbers: Iterable[str], root: str) -> list[str]:
    return [f"{root}|{n}" for n in numbers]


def diff_list(current: Sequence[str], wanted: Sequence[str], is_own: Callable[[str], bool]) -> tuple[list, list]:
    """(to add, to remove): our stale entries go, missing wanted ones come; others are kept."""
    current_set = set(current)
    wanted_set = set(wanted)
    add = [k for k in wanted if k not in current_set]
    remove = [k for k in dict.fromkeys(current) if is_own(k) and k not in wanted_set]
    return add, remove


# --------------------------------------------------------------------------- exiftool


WINDOWS_DOWNLOAD_NAME = "exiftool(-k).exe"  # exiftool.org's Windows name: it waits for a key press at exit


def find_exiftool(path: str | None = None) -> str:
    """Absolute path of exiftool (searching ``path`` or $PATH, then, in the packaged app, the app's
    own folder), else ExiftoolMissing; its message names an ``exiftool(-k).exe`` left unrenamed."""
    exe = shutil.which("exiftool", path=path)  # not "exiftool(-k).exe": it waits for a key press at exit
    if exe is None and getattr(sys, "frozen", False):  # exiftool.exe put beside bibtagger.exe
        exe = shutil.which("exiftool", path=os.path.dirname(os.path.abspath(sys.executable)))
    if exe is None:
        hint = ""
        for folder in (os.environ.get("PATH", "") if path is None else path).split(os.pathsep):
            if folder and os.path.isfile(os.path.join(folder, WINDOWS_DOWNLOAD_NAME)):
                hint = (f" {os.path.join(folder, WINDOWS_DOWNLOAD_NAME)} is there but must be renamed to "
                        "exiftool.exe (the (-k) name waits for a key press).")  # fmt: skip
                break
        raise ExiftoolMissing(
            "exiftool was not found. Install it (Debian/Ubuntu: apt install libimage-exiftool-perl; "
            "macOS: brew install exiftool; Windows: https://exiftool.org, put exiftool.exe on PATH "
            "or beside bibtagger.exe) and try again." + hint
        )
    return exe


class ExifTool:
    """One ``exiftool -stay_open`` process; ``execute(args)`` runs one command."""

    def __init__(self, executable: str | None = None):
        self.executable = executable or find_exiftool()
        flags = getattr(subprocess, "CREATE_NO_WINDOW", 0) if sys.platform == "win32" else 0
        env = system_environ()  # not the packaged app's library paths (docs/packaging.md#programs-the-app-starts)
        command = [self.executable, "-stay_open", "True", "-@", "-"]
        # It does NOT end when its stdin closes (`-stay_open` polls on at EOF): whoever stops us closes it
        # (ExifTool.close, the CLI's SIGTERM/SIGHUP handling), and where nothing can (a SIGKILL, the OOM killer) its
        # lifeline's watchdog stops it (POSIX with Perl; core/parent_watch.py, docs/keywords.md#a-killed-run).
        self._lifeline = Lifeline.for_child(env)
        if self._lifeline is not None and shutil.which(self.executable, path=env.get("PATH", os.defpath)) is None:
            self._lifeline.close()  # said at once, as Popen says it, not as an exit code of the watchdog's exec
            raise ExiftoolMissing(f"cannot start exiftool ({self.executable}): not found or not executable")
        try:
            # A session of its own (POSIX; on Windows CREATE_NO_WINDOW gives it a console of its own): a terminal's
            # Ctrl+C reaches this process only, which stops after the file being written (`bibtagger keywords`),
            # instead of killing exiftool mid-command.
            self._proc = subprocess.Popen(
                self._lifeline.argv(command) if self._lifeline is not None else command,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                creationflags=flags,
                start_new_session=sys.platform != "win32",
                env=env,
                pass_fds=self._lifeline.pass_fds if self._lifeline is not None else (),
            )
        except OSError as exc:
            if self._lifeline is not None:
                self._lifeline.close()
            raise ExiftoolMissing(f"cannot start exiftool ({self.executable}): {exc}") from exc
        if self._lifeline is not None:
            self._lifeline.started()
        self._seq = 0
        self._stderr: queue.Queue[bytes | None] = queue.Queue()
        self._drain = threading.Thread(target=self._read_stderr, daemon=True)
        self._drain.start()

    def _read_stderr(self) -> None:
        assert self._proc.stderr is not None
        for line in iter(self._proc.stderr.readline, b""):
            self._stderr.put(line)
        self._stderr.put(None)

    def execute(self, args: Sequence[str]) -> tuple[str, str]:
        """Run one command; returns (stdout, stderr) text."""
        if self._proc.poll() is not None:
            raise KeywordError(f"exiftool stopped unexpectedly (exit code {self._proc.returncode})")
        self._seq += 1
        marker = f"{{ready{self._seq}}}"
        for a in args:
            if _has_line_break(a):
                raise KeywordError(f"argument contains a line break: {a!r}")
        text = "\n".join([*args, "-echo4", marker, f"-execute{self._seq}", ""])
        assert self._proc.stdin is not None and self._proc.stdout is not None
        try:
            self._proc.stdin.write(text.encode("utf-8"))
            self._proc.stdin.flush()
        except OSError as exc:
            raise KeywordError(f"exiftool stopped unexpectedly: {exc}") from exc
        out: list[bytes] = []
        while True:
            line = self._proc.stdout.readline()
            if not line:
                raise KeywordError("exiftool stopped unexpectedly (no output)")
            if line.strip() == marker.encode():
                break
            out.append(line)
        err: list[bytes] = []
        while True:
            eline = self._stderr.get()
            if eline is None or eline.strip() == marker.encode():
                break
            err.append(eline)
        return b"".join(out).decode("utf-8", "replace"), b"".join(err).decode("utf-8", "replace")

    def close(self) -> None:
        """End exiftool (its own way out: ``-stay_open False``; killed if it does not within 10 s), then its lifeline
        (after it ended: the watchdog then only ends too)."""
        if self._proc.poll() is None:
            try:
                assert self._proc.stdin is not None
                self._proc.stdin.write(b"-stay_open\nFalse\n")
                self._proc.stdin.flush()
                self._proc.stdin.close()
                self._proc.wait(timeout=10)
            except (OSError, subprocess.TimeoutExpired):
                self._proc.kill()
                self._proc.wait()
        if self._lifeline is not None:
            self._lifeline.close()

    def __enter__(self) -> "ExifTool":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _as_list(value) -> list[str]:
    if value is None:
        return []
    if isinstance(value, list):
        return [str(v) for v in value]
    return [str(value)]


def _norm(path: str) -> str:
    return os.path.normcase(os.path.normpath(os.path.abspath(path)))


def read_keywords(
    tool: ExifTool, paths: Sequence[Path], cancel: Callable[[], bool] | None = None
) -> tuple[dict[Path, dict], dict[Path, str]]:
    """Current keyword tags of existing files: ({path: {tag: [values]}}, {path: error}); ``cancel()`` True stops
    between batches (what was read is returned)."""
    found: dict[Path, dict] = {}
    errors: dict[Path, str] = {}
    for start in range(0, len(paths), READ_BATCH):
        if cancel and cancel():
            break
        batch = list(paths[start : start + READ_BATCH])
        args = ["-j", "-G1", "-charset", "filename=UTF8", f"-{SUBJECT}", f"-{IPTC_KEYWORDS}",
                f"-{HIERARCHICAL}", "-IPTC:All", *[str(p) for p in batch]]  # fmt: skip
        out, err = tool.execute(args)
        by_name = {_norm(str(p)): p for p in batch}
        try:
            records = json.loads(out) if out.strip() else []
        except json.JSONDecodeError:
            records = []
        for rec in records:
            p = by_name.get(_norm(str(rec.get("SourceFile", ""))))
            if p is None:
                continue
            has_iptc = any(k.startswith("IPTC:") for k in rec)
            found[p] = {
                SUBJECT: _as_list(rec.get(SUBJECT)),
                IPTC_KEYWORDS: _as_list(rec.get(IPTC_KEYWORDS)),
                HIERARCHICAL: _as_list(rec.get(HIERARCHICAL)),
                "has_iptc": has_iptc,
                IPTC_CHARSET: rec.get(IPTC_CHARSET),
            }
        for p in batch:
            if p not in found:
                errors[p] = _first_error(err, p) or "exiftool could not read the file"
    return found, errors


def _first_error(stderr: str, path: Path | None = None) -> str:
    for line in stderr.splitlines():
        if line.startswith("Error"):
            msg = line.split(":", 1)[1].strip() if ":" in line else line
            if path is not None:
                msg = msg.replace(f" - {path}", "")
            return msg
    return ""


# --------------------------------------------------------------------------- the run


@dataclass
class _Target:
    path: Path
    sidecar: bool
    sources: list[str]
    numbers: set[str]
    companion: bool = False  # an existing sidecar beside a photo written in place: only if it holds our keywords
    read_only: list[str] = field(default_factory=list)  # sources in this sidecar only because the photo is read-only
    earlier: set[str] = field(default_factory=set)  # numbers read on an earlier picture: neither added nor removed
    photos: list[Path] = field(default_factory=list)  # the photos whose keywords it holds (checked: _Unchanged)


def plan_targets(
    jobs: Sequence[KeywordJob], options: KeywordOptions, writable: Callable[[Path], bool] = is_writable
) -> tuple[list[_Target], list[FileResult]]:
    """Decide for each photo whether it is written itself or through a sidecar."""
    targets: dict[Path, _Target] = {}
    problems: list[FileResult] = []
    stems = _StemIndex()
    placed: list[tuple[KeywordJob, str, Path, bool]] = []  # job, its name, its target, stem clash
    for job in jobs:
        name = job.relpath or str(job.path)
        if not job.path.is_file():
            problems.append(FileResult(job.path, [name], "error", message="file not found"))
            continue
        if _has_line_break(str(job.path)):  # exiftool reads its arguments line by line
            shown = name.replace("\n", "\\n").replace("\r", "\\r")  # keep the report one line per photo
            problems.append(FileResult(job.path, [shown], "error", message="the path contains a line break: rename it"))
            continue
        bad = next((n for n in job.numbers if _has_line_break(n)), None)
        if bad is not None:  # exiftool reads its arguments line by line: only this photo fails
            problems.append(FileResult(job.path, [name], "error",
                                       message=f"bib number {bad!r} contains a line break: correct it"))  # fmt: skip
            continue
        leftover = replace_file.exiftool_leftover(job.path)
        if leftover.exists():  # an exiftool run (an older bibtagger, or the user's) was killed mid-write
            problems.append(FileResult(job.path, [name], "error", message=(
                f"{leftover.name} was left by an interrupted exiftool run: if {job.path.name} does not open, "
                f"that file is its complete new version (rename it to {job.path.name}); otherwise delete it")))  # fmt: skip
            continue
        if not job.known:  # removing its bib keywords would say "no runner here" without anyone having looked
            problems.append(FileResult(job.path, [name], "skipped", message=(
                "not recognized yet: its keywords are left as they are (run `bibtagger predict` on the folder, "
                "or open it in the app, then run this again)")))  # fmt: skip
            continue
        suffix = job.path.suffix.lower()
        own_format = not (options.sidecar or suffix in RAW_EXTENSIONS or suffix in NOT_WRITABLE_EXTENSIONS)
        read_only = own_format and not writable(job.path)  # it could hold its keywords, but may not be written
        use_sidecar = not own_format or read_only
        clash = stems.clash(job.path)
        target = sidecar_path(job.path, clash) if use_sidecar else job.path
        if use_sidecar and suffix == ".xmp":  # an .xmp "photo": nothing sensible to do
            problems.append(FileResult(job.path, [name], "error", message="is itself an .xmp file"))
            continue
        if use_sidecar and not _sidecar_writable(target):  # say so now, also in a dry run
            problems.append(FileResult(job.path, [name], "error",
                                       message=f"cannot write the sidecar {target.name}: its folder is not writable"))  # fmt: skip
            continue
        t = targets.setdefault(target, _Target(target, use_sidecar, [], set()))
        t.sources.append(name)
        t.photos.append(job.path)
        t.numbers.update(job.numbers)
        t.earlier.update(job.earlier)
        if read_only and job.numbers:
            t.read_only.append(name)
        placed.append((job, name, target, clash))
    # A photo may have an older sidecar of ours that it does not use now (it was read-only then, or
    # written with --sidecar, or a same-stem photo came or went): keep that sidecar's keywords in
    # step, so it does not contradict the photo. A STEM.xmp that photos of the same stem shared
    # (written before they got one sidecar each) belongs to neither: our keywords are taken out.
    for job, name, target, clash in placed:
        own, shared = sidecar_path(job.path, True), sidecar_path(job.path, False)
        sides = [(own, set(job.numbers))]
        if not clash:
            sides.append((shared, set(job.numbers)))
        elif not stems.raw_sibling(job.path):
            sides.append((shared, set()))
        for side, numbers in sides:
            if side == target or not side.is_file() or (side in targets and not targets[side].companion):
                continue
            c = targets.setdefault(side, _Target(side, True, [], set(), companion=True))
            if name not in c.sources:
                c.sources.append(name)
                c.photos.append(job.path)
            c.numbers.update(numbers)
    return list(targets.values()), problems


class _Unchanged:
    """Whether the photos of a target still hold the pictures their bibs were read on (``KeywordJob.facts``).

    Asked first right before exiftool runs: a file of the version the project recorded (size, mtime and change time:
    ``catalogue.is_version``, the rule of ``Store.scan``, which reads a file again only when they differ;
    docs/store.md#file-versions) is that file; one of another version is read for its content hash (the same file: a
    chmod, a copy with ``cp -a``) and its image-data hash (core/pixelhash), which tells a metadata edit (another
    tool's keywords) from another picture: ``catalogue.read_hashes``, the scan's read. Asked
    again right before the new version is renamed into place (``replace_file.install``): any change of its version
    since the first check means the new version was made from a file that is gone, so the photo is left as it is."""

    def __init__(self, jobs: Iterable[KeywordJob]):
        self._facts = {job.path: job.facts for job in jobs if job.facts is not None}
        self._checked: dict[Path, tuple] = {}  # the files' versions as the first check found them

    def changed(self, photos: Iterable[Path], again: bool = False) -> Path | None:
        """The first of ``photos`` that is not the file its bibs were read on (or is gone); None when all are.
        ``again``: the check before the rename (against what the first check found)."""
        for path in photos:
            facts = self._facts.get(path)
            if facts is None:
                continue
            now = file_version(path)
            if now is None:
                return path
            if again:
                if not is_version(now, self._checked.get(path, facts.version)):
                    return path
                continue
            if not is_version(now, facts.version):  # the same content (a chmod, cp -a) or the same image data
                try:  # (a metadata edit), read as the scan reads it again
                    sha1, pixels = read_hashes(path, now[0])
                except OSError:
                    sha1 = pixels = None
                same = ((bool(facts.sha1) and sha1 == facts.sha1)
                        or (bool(facts.pixel_hash) and pixels == facts.pixel_hash))  # fmt: skip
                if not same:
                    return path
            self._checked[path] = now
        return None

    def rewritten(self, path: Path) -> None:
        """``path`` was just rewritten by this run (its keywords): what it is now is the picture the bibs were read
        on (its sidecars, written later in the run, are checked against that)."""
        facts = self._facts.get(path)
        now = file_version(path)
        if facts is not None and now is not None:
            self._facts[path] = facts._replace(size=now[0], mtime=now[1], ctime_ns=now[2], sha1=None)
            self._checked.pop(path, None)


def _has_line_break(text: str) -> bool:
    return "\n" in text or "\r" in text


def _write_args(t: _Target, current: dict, options: KeywordOptions) -> tuple[list[str], list[str], list[str]]:
    """exiftool arguments, added keywords and removed keywords for one target."""
    numbers = number_order(t.numbers)
    wanted = own_keywords(numbers, options.prefix)
    undecided = set(own_keywords(t.earlier, options.prefix))  # an earlier picture's bibs: not ours to add or remove
    is_own = lambda k: k.startswith(options.prefix) and k not in undecided  # noqa: E731
    tags: list[tuple[str, list[str], list[str]]] = []
    add, remove = diff_list(current.get(SUBJECT, []), wanted, is_own)
    tags.append((SUBJECT, add, remove))
    added, removed = list(add), list(remove)
    if not t.sidecar and t.path.suffix.lower() not in NO_IPTC_EXTENSIONS:
        iadd, iremove = diff_list(current.get(IPTC_KEYWORDS, []), wanted, is_own)
        tags.append((IPTC_KEYWORDS, iadd, iremove))
        added += [k for k in iadd if k not in added]
        removed += [k for k in iremove if k not in removed]
    if options.hierarchical:
        root = options.hierarchy_root + "|"
        h_undecided = set(own_hierarchical(t.earlier, options.hierarchy_root))
        hadd, hremove = diff_list(current.get(HIERARCHICAL, []), own_hierarchical(numbers, options.hierarchy_root),
                                  lambda k: k.startswith(root) and k not in h_undecided)  # fmt: skip
        tags.append((HIERARCHICAL, hadd, hremove))
        added += hadd
        removed += hremove
    args: list[str] = []
    for tag, a, r in tags:
        args += [f"-{tag}-={k}" for k in r]
        args += [f"-{tag}+={k}" for k in a]
    if args and not t.sidecar and not current.get("has_iptc") and any(tag == IPTC_KEYWORDS and a for tag, a, _ in tags):
        args.append(f"-{IPTC_CHARSET}=UTF8")  # new IPTC block: declare UTF-8
    return args, added, removed


def write_keywords(
    jobs: Sequence[KeywordJob],
    options: KeywordOptions = KeywordOptions(),
    *,
    exiftool: str | None = None,
    writable: Callable[[Path], bool] = is_writable,
    progress: Callable[[int, int], None] | None = None,
    cancel: Callable[[], bool] | None = None,
    on_result: Callable[[FileResult], None] | None = None,
) -> KeywordReport:
    """Bring the bib keywords of each job's photo (or sidecar) up to date.

    ``writable`` decides whether a photo can be rewritten in place (injectable for tests:
    root ignores file permissions). Raises ExiftoolMissing before touching anything.
    """
    exe = find_exiftool() if exiftool is None else exiftool
    report = KeywordReport()

    def emit(result: FileResult) -> None:
        report.results.append(result)
        if on_result:
            on_result(result)

    targets, problems = plan_targets(jobs, options, writable)
    for p in problems:
        emit(p)
    total = len(targets)
    if progress:
        progress(0, total)
    if not options.dry_run:  # temp files of a killed run (never the only copy: see replace_file)
        for t in targets:
            replace_file.remove_stale_temp(Path(os.path.realpath(t.path)))
    unchanged = _Unchanged(jobs)
    with ExifTool(exe) as tool:
        existing = [t.path for t in targets if t.path.exists()]
        times = _file_times([t.path for t in targets if not t.sidecar])  # before exiftool reads them (atime)
        current, read_errors = read_keywords(tool, existing, cancel)  # the run stops below when cancelled
        for i, t in enumerate(targets):
            if cancel and cancel():
                report.cancelled = True
                break
            result = _process(tool, t, current, read_errors, options, times.get(t.path), unchanged)
            if result is not None:
                emit(result)
            if progress:
                progress(i + 1, total)
    return report


def _write_file(tool: ExifTool, path: Path, args: list[str], options: KeywordOptions,
                check: Callable[[], None] | None = None) -> tuple[str, str]:  # fmt: skip
    """Apply ``args`` to ``path`` so that a crash leaves the old or the new file (docs/crash-safety.md).

    exiftool writes a hidden temp file beside the real file (a symlink's target), which
    ``replace_file.install`` renames over it. A file the rename would change (hard links, an
    owner or extended attributes that cannot be copied, macOS) is rewritten in place by exiftool.
    ``check()`` runs right before that rename; raising ``replace_file.Changed`` it leaves the file
    as it is (the temp file deleted), and the exception goes to the caller.
    Returns exiftool's (stdout, stderr).
    """
    base = ["-charset", "filename=UTF8", "-P"]
    real = Path(os.path.realpath(path))
    if replace_file.replace_blocker(real) is None:
        tmp = replace_file.temp_path(real)
        replace_file.remove_stale_temp(real)
        if not real.exists():  # a new sidecar
            io = [str(tmp)]
        elif real.suffix.lower() in COPY_FIRST_EXTENSIONS:  # exiftool cannot write these with -o
            shutil.copyfile(real, tmp)
            io = ["-overwrite_original", str(tmp)]
        else:
            io = [str(real), "-o", str(tmp)]
        out, err = tool.execute([*base, *args, *io])
        if _first_error(err) or not re.search(r"\b1 image files (created|updated)", out) or not tmp.is_file():
            tmp.unlink(missing_ok=True)  # exiftool failed (its message is in out/err); the file is untouched
            return out, err
        backup = real.with_name(real.name + "_original") if options.backup else None
        try:
            replace_file.install(tmp, real, backup, check)
            return out, err
        except replace_file.KeepInPlace:
            tmp.unlink(missing_ok=True)  # fall through: rewrite in place, keeping the owner/attributes
        except replace_file.Changed:
            tmp.unlink(missing_ok=True)
            raise
        except OSError as exc:
            tmp.unlink(missing_ok=True)
            return "", f"Error: cannot replace {path.name} with its new version: {exc.strerror or exc}\n"
    if check is not None:  # the in-place rewrite reads the file again: the last moment to look
        check()
    in_place = [] if options.backup else ["-overwrite_original_in_place"]
    return tool.execute([*base, *in_place, *args, str(path)])


def _holds_own(current: dict, options: KeywordOptions) -> bool:
    """Whether a file's keywords include ours (prefix keywords, or with --hierarchical our tree)."""
    if any(k.startswith(options.prefix) for k in current.get(SUBJECT, [])):
        return True
    root = options.hierarchy_root + "|"
    return options.hierarchical and any(k.startswith(root) for k in current.get(HIERARCHICAL, []))


def _file_times(paths: Iterable[Path]) -> dict[Path, tuple[int, int]]:
    """{path: (st_atime_ns, st_mtime_ns)} of the photos written in place."""
    times = {}
    for p in paths:
        try:
            st = p.stat()
        except OSError:
            continue
        times[p] = (st.st_atime_ns, st.st_mtime_ns)
    return times


TIME_WARNING = "Error setting file time"


def _restore_times(path: Path, times: tuple[int, int] | None, message: str) -> str:
    """Put back the exact file dates (exiftool -P keeps whole seconds only); returns the message to show.

    When exiftool could not set the time (a file of another user), it is tried here too; if that
    is not permitted either, the dates stay as they are and exiftool's message is kept.
    """
    if times is None:
        return message
    try:
        os.utime(path, ns=times)
    except OSError:
        return message or "could not restore the exact file time"
    return "" if message == TIME_WARNING else message


def _process(
    tool: ExifTool,
    t: _Target,
    current: dict,
    read_errors: dict,
    options: KeywordOptions,
    times: tuple[int, int] | None = None,
    unchanged: _Unchanged | None = None,
) -> FileResult | None:
    if t.companion and (t.path in read_errors or not _holds_own(current.get(t.path, {}), options)):
        return None  # not (recognisably) our sidecar: not ours to edit or to complain about
    if t.path in read_errors:
        return FileResult(t.path, t.sources, "error", t.sidecar, message=read_errors[t.path])
    args, added, removed = _write_args(t, current.get(t.path, {}), options)
    result = FileResult(t.path, t.sources, "unchanged", t.sidecar, added, removed, read_only=list(t.read_only))
    if not args:
        return result
    if options.dry_run:
        result.status = "would write"
        return result

    def check(again: bool = True) -> None:  # the photos still hold the pictures whose bibs these are
        gone = unchanged.changed(t.photos, again) if unchanged is not None else None
        if gone is not None:
            raise replace_file.Changed(str(gone))

    try:
        check(again=False)  # before exiftool reads the file (an in-place rewrite has no later moment)
        out, err = _write_file(tool, t.path, args, options, check)  # and right before the new version goes in place
    except replace_file.Changed as exc:
        which = next((n for n, p in zip(t.sources, t.photos) if str(p) == str(exc)), str(exc))
        result.status = "changed"
        result.added, result.removed, result.read_only = [], [], []
        result.message = (f"{which} " if len(t.sources) > 1 else "") + CHANGED_NOTE
        return result
    error = _first_error(err, t.path)
    if error or ("1 image files updated" not in out and "1 image files created" not in out):
        result.status = "error"
        result.message = error or (out.strip().splitlines() or ["exiftool wrote nothing"])[-1].strip()
        return result
    warning = next((ln.split(":", 1)[1].strip() for ln in err.splitlines() if ln.startswith("Warning")), "")
    result.status = "written"
    result.message = warning.replace(f" - {t.path}", "")
    if not t.sidecar:  # a sidecar's dates are its own
        result.message = _restore_times(t.path, times, result.message)
        if unchanged is not None:
            unchanged.rewritten(t.path)
    return result
