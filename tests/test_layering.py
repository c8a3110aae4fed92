"""The core and the CLI never import PySide6 or torch, nor Pillow (checked in a fresh interpreter); the runtime
dependencies are exactly what the app imports."""

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


def _app_imports() -> set[str]:
    """Top-level modules imported anywhere in bibtagger_gui (stdlib and the package itself left out)."""
    import ast
    from pathlib import Path

    root = Path(bibtagger_gui.__file__).parent
    found: set[str] = set()
    for path in root.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                found.update(a.name.split(".")[0] for a in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                found.add(node.module.split(".")[0])
    return {m for m in found if m not in sys.stdlib_module_names and m != "bibtagger_gui"}


def test_runtime_dependencies_are_exactly_what_the_app_imports():
    """pyproject's `dependencies` name each distribution the app imports, and nothing else (pandas,
    used only by tests, sits in the dev extra; torch/onnx in train: docs/packaging.md)."""
    import importlib.metadata as md
    import re
    import tomllib
    from pathlib import Path

    project = tomllib.loads((Path(bibtagger_gui.__file__).parents[1] / "pyproject.toml").read_text("utf-8"))["project"]
    def norm(name: str) -> str:  # PEP 503
        return re.sub(r"[-_.]+", "-", name).lower()

    declared = {norm(re.split(r"[<>=!~ \[;]", d, maxsplit=1)[0]) for d in project["dependencies"]}
    dists = md.packages_distributions()
    imported = {}
    for module in _app_imports():
        names = {norm(n) for n in dists.get(module, [])}
        assert names, f"bibtagger_gui imports {module!r}, which no installed distribution provides"
        imported[module] = names
    missing = {m: n for m, n in imported.items() if not n & declared}
    assert not missing, f"imported by the app but not a runtime dependency in pyproject.toml: {missing}"
    used = set().union(*imported.values())
    unused = declared - used
    assert not unused, f"runtime dependencies the app never imports: {sorted(unused)}"


def test_the_version_the_app_says_is_the_packages():
    """`bibtagger --version`, the log's first line and About say ``bibtagger_gui.__version__``; pip, the wheel and the
    package's metadata say pyproject.toml's. Two places, one number (docs/packaging.md)."""
    import tomllib
    from pathlib import Path

    project = tomllib.loads((Path(bibtagger_gui.__file__).parents[1] / "pyproject.toml").read_text("utf-8"))["project"]
    assert project["version"] == bibtagger_gui.__version__
