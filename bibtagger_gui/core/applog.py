"""The app's log file: a small rotating file in the per-user data folder (docs/gui.md#log-file).

The desktop app calls :func:`setup_file_log` once at start: warnings and errors of every
``bibtagger_gui`` logger, the tracebacks of unexpected exceptions (``gui/error_report.py``) and a
few startup lines (:func:`startup_lines`) go to ``<user data dir>/logs/bibtagger.log``
(``core.portable.user_data_dir``), at most :data:`MAX_BYTES` a file and :data:`BACKUPS` old ones.
The command-line tools do not write it: they print their warnings and errors to stderr, where the
user who typed the command sees them.

Writing the log must never take the app down: a folder that cannot be created or written (a
read-only home, a full disk) leaves the app without a log file (:func:`setup_file_log` returns None
and says why in :data:`state`), and a later write that fails is dropped silently.
"""

from __future__ import annotations

import logging
import logging.handlers
import platform
import sys
from dataclasses import dataclass
from pathlib import Path

from bibtagger_gui import __version__
from bibtagger_gui.core.portable import user_data_dir

LOGGER = "bibtagger_gui"  # every module logger of the app is below it
STARTUP_LOGGER = "bibtagger_gui.startup"  # its INFO lines are logged too (the rest from WARNING)
LOG_DIR_NAME = "logs"
LOG_FILE = "bibtagger.log"
MAX_BYTES = 1_000_000
BACKUPS = 3
FORMAT = "%(asctime)s %(levelname)s %(name)s [%(threadName)s] %(message)s"


@dataclass
class LogState:
    """Where the log file is (None when there is none) and, when it could not be opened, why."""

    path: Path | None = None
    error: str | None = None
    folder: Path | None = None  # where it was meant to be


state = LogState()


def log_dir() -> Path:
    """``<user data dir>/logs`` (``~/.local/share/bibtagger/logs`` on Linux, docs/portability.md)."""
    return user_data_dir() / LOG_DIR_NAME


class QuietRotatingFileHandler(logging.handlers.RotatingFileHandler):
    """A rotating file handler whose write failures are counted, never raised or printed
    (the windowed app has no stderr; logging must not crash the app or flood a console)."""

    failures = 0

    def handleError(self, record: logging.LogRecord) -> None:  # noqa: N802 - logging's name
        self.failures += 1

    def flush(self) -> None:
        try:
            super().flush()
        except (OSError, ValueError):  # a disk that went away, a closed stream
            self.failures += 1

    def close(self) -> None:
        try:
            super().close()
        except (OSError, ValueError):
            self.failures += 1


class ConsoleHandler(logging.StreamHandler):
    """Writes to whatever ``sys.stderr`` is at the time (nothing when there is none: the windowed app)."""

    def __init__(self, level: int = logging.WARNING) -> None:
        super().__init__()
        self.setLevel(level)

    @property  # type: ignore[override]
    def stream(self):  # noqa: D102
        return sys.stderr

    @stream.setter
    def stream(self, _value) -> None:
        pass

    def emit(self, record: logging.LogRecord) -> None:
        if sys.stderr is not None:
            super().emit(record)

    def handleError(self, record: logging.LogRecord) -> None:  # noqa: N802
        pass


def setup_file_log(folder: str | Path | None = None, max_bytes: int = MAX_BYTES, backups: int = BACKUPS) -> Path | None:
    """Send warnings and errors of the app's loggers (and startup INFO lines) to ``folder/bibtagger.log``
    (default :func:`log_dir`), rotating at ``max_bytes`` with ``backups`` old files. Returns the file, or
    None when it cannot be written (the reason is in :data:`state`). Calling it again replaces the handler."""
    folder = Path(folder) if folder is not None else log_dir()
    logger = logging.getLogger(LOGGER)
    for h in list(logger.handlers):
        if isinstance(h, QuietRotatingFileHandler):
            logger.removeHandler(h)
            h.close()
    state.path, state.error, state.folder = None, None, folder
    path = folder / LOG_FILE
    try:
        folder.mkdir(parents=True, exist_ok=True)
        handler = QuietRotatingFileHandler(path, maxBytes=max_bytes, backupCount=backups, encoding="utf-8")
    except (OSError, ValueError) as exc:
        state.error = f"cannot write the log file {path}: {getattr(exc, 'strerror', None) or exc}"
        return None
    handler.setLevel(logging.INFO)
    handler.setFormatter(logging.Formatter(FORMAT))
    logger.addHandler(handler)
    if logger.level == logging.NOTSET:
        logger.setLevel(logging.WARNING)
    logging.getLogger(STARTUP_LOGGER).setLevel(logging.INFO)
    if not any(isinstance(h, ConsoleHandler) for h in logger.handlers):
        # warnings still reach a console when there is one (logging's last resort stops once a handler exists)
        logger.addHandler(ConsoleHandler(logging.WARNING))
    state.path = path
    return path


def close_file_log() -> None:
    """Remove the log file handler (tests; the app keeps it to the end)."""
    logger = logging.getLogger(LOGGER)
    for h in list(logger.handlers):
        if isinstance(h, (QuietRotatingFileHandler, ConsoleHandler)):
            logger.removeHandler(h)
            h.close()
    logger.setLevel(logging.NOTSET)
    logging.getLogger(STARTUP_LOGGER).setLevel(logging.NOTSET)
    state.path = None


def _version(module: str, attr: str = "__version__") -> str:
    try:
        mod = __import__(module)
        return str(getattr(mod, attr, "unknown"))
    except Exception:  # noqa: BLE001 - a missing or broken module is a fact to log, not an error
        return "not available"


def component_versions(extra: dict[str, str] | None = None) -> dict[str, str]:
    """Versions of the app, Python, the OS and the libraries it runs on (``extra``: e.g. Qt's, which
    this Qt-free module cannot ask)."""
    out = {
        "bibtagger": __version__,
        "Python": f"{platform.python_version()} ({platform.python_implementation()})",
        "OS": platform.platform(),
        "ONNX Runtime": _version("onnxruntime"),
        "NumPy": _version("numpy"),
        "OpenCV": _version("cv2"),
    }
    out.update(extra or {})
    out["frozen"] = "yes (packaged app)" if getattr(sys, "frozen", False) else "no (from source)"
    return out


def startup_lines(extra: dict[str, str] | None = None) -> list[str]:
    """``name: version`` lines for the log's start of a session."""
    return [f"{k}: {v}" for k, v in component_versions(extra).items()]


def log_startup(extra: dict[str, str] | None = None, models: str | None = None) -> None:
    """Write the startup lines (and the models folder) to the log."""
    log = logging.getLogger(STARTUP_LOGGER)
    log.info("bibtagger %s starting; %s", __version__, "; ".join(startup_lines(extra)[1:]))
    if models:
        log.info("models: %s", models)
