"""The core and the CLI never import PySide6 or torch, nor Pillow (checked in a fresh interpreter)."""

from __future__ import annotations

import json
import pkgutil
import subprocess
import sys

import bibtagger_gui.cli
import bibtagger_gui.core


def modules() -> list[str]:
    out = []
    for pkg in (bibtagger_gui.core, bibtagger_gui.cli):
        out.append(pkg.__name__)
        out += [f"{pkg.__name__}.{m.name}" for m in pkgutil.iter_modules(pkg.__path__)]
    return out


def test_core_and_cli_are_qt_and_torch_free():
    names = modules()
    assert "bibtagger_gui.core.store" in names and "bibtagger_gui.cli.predict_cmd" in names
    code = (
        "import importlib, json, sys\n"
        f"for name in {names!r}:\n"
        "    importlib.import_module(name)\n"
        "from bibtagger_gui.cli import build_parser\n"
        "build_parser()\n"
        "print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in ('PySide6', 'torch', 'shiboken6', 'PIL'))))\n"
    )
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    loaded = json.loads(res.stdout.strip().splitlines()[-1])
    assert loaded == [], loaded  # Pillow is not a runtime dependency either
