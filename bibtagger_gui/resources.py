"""Locate bundled resources (models, model cards) from source and from a PyInstaller build.

From source, resources live in the repository's ``resources/`` folder; in a frozen
(PyInstaller) build, ``build.spec`` copies them to ``<bundle>/resources/`` where
``<bundle>`` is ``sys._MEIPASS``.
"""

from __future__ import annotations

import sys
from pathlib import Path


def resources_root() -> Path:
    """The folder holding ``models/`` and the other bundled resources."""
    bundle = getattr(sys, "_MEIPASS", None)
    if getattr(sys, "frozen", False) and bundle:
        return Path(bundle) / "resources"
    return Path(__file__).resolve().parent.parent / "resources"


def resource_path(*parts: str) -> Path:
    """Path of a bundled resource, e.g. ``resource_path("models", "detector.onnx")``.

    The path is returned whether or not the file exists; callers report missing files.
    """
    return resources_root().joinpath(*parts)


def models_dir() -> Path:
    """Default folder of ``detector.onnx`` and ``reader.onnx``."""
    return resource_path("models")
