"""docs/architecture.md (the contract between modules), docs/store.md and the README name what the code has.

A module, sub-command, option, Store method or table column added or renamed without its line in the
docs fails here, and so does a doc line naming one that is gone: the module tree, the CLI synopses and
the Store API of architecture.md, the schema of store.md, the commands of the README.
"""

from __future__ import annotations

import argparse
import inspect
import re
import sqlite3
import sys
from pathlib import Path

import pytest

from bibtagger_gui.cli import COMMANDS, build_parser, command_module
from bibtagger_gui.core.store import SCHEMA_VERSION, Store

ROOT = Path(__file__).resolve().parents[1]
ARCH = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
README = (ROOT / "README.md").read_text(encoding="utf-8")
STORE_DOC = (ROOT / "docs" / "store.md").read_text(encoding="utf-8")
# packages whose modules the tree lists one by one (cli/ is described by its NAME_cmd.py rule)
LISTED_PACKAGES = ("bibtagger_gui", "bibtagger_gui/core", "bibtagger_gui/gui", "bibtagger_gui/tools", "training", "training/models", "training/peers")


def section(text: str, heading: str) -> str:
    """The body of the Markdown section ``heading`` (up to the next heading of any level)."""
    m = re.search(rf"^#+ {re.escape(heading)}[^\n]*\n(.*?)(?=^#)", text + "\n#", re.M | re.S)
    assert m, f"no section {heading!r}"
    return m.group(1)


def module_tree() -> dict[str, str]:
    """architecture.md's first code block: package path ("bibtagger_gui/core") -> the text of its own lines
    (its header line, and the lines below it down to the next line indented as far as the header)."""
    block = re.search(r"```\n(.*?)```", ARCH, re.S).group(1)
    stack: list[tuple[int, str]] = []
    lines: dict[str, list[str]] = {}
    for line in block.splitlines():
        if not line.strip():
            continue
        indent = len(line) - len(line.lstrip())
        first = line.split()[0]
        while stack and stack[-1][0] >= indent:
            stack.pop()
        if first.endswith("/"):
            path = (stack[-1][1] + "/" if stack else "") + first.rstrip("/")
            stack.append((indent, path))
        if stack:
            lines.setdefault(stack[-1][1], []).append(line)
    return {path: "\n".join(text) for path, text in lines.items()}


def test_every_module_is_in_the_architecture_tree_under_its_package():
    tree = module_tree()
    missing = []
    for package in LISTED_PACKAGES:
        text = tree.get(package)
        assert text is not None, f"architecture.md's tree has no {package}/"
        for module in sorted((ROOT / package).glob("*.py")):
            if module.name != "__init__.py" and not re.search(rf"(?<![\w/]){re.escape(module.name)}\b", text):
                missing.append(f"{package}/{module.name}")
    assert not missing, "modules missing from docs/architecture.md's tree (under their package):\n" + "\n".join(missing)


def test_every_package_is_in_the_tree():
    tree = module_tree()
    packages = {
        str(init.parent.relative_to(ROOT)) for top in ("bibtagger_gui", "training") for init in (ROOT / top).rglob("__init__.py")
    }
    assert packages - set(tree) == set(), "packages missing from docs/architecture.md's tree"
    assert {p for p in packages if p not in LISTED_PACKAGES} == {"bibtagger_gui/cli"}  # the one described by a rule


def test_every_cli_module_is_a_registered_command():
    """cli/NAME_cmd.py ("-" in NAME as "_"), as the tree says, and every such module is in COMMANDS (else it is never
    registered)."""
    modules = {p.name[: -len("_cmd.py")] for p in (ROOT / "bibtagger_gui" / "cli").glob("*_cmd.py")}
    others = {p.name for p in (ROOT / "bibtagger_gui" / "cli").glob("*.py")} - {f"{m}_cmd.py" for m in modules}
    assert modules == {command_module(name)[: -len("_cmd")] for name in COMMANDS}
    assert others == {"__init__.py"}


def leaf_parsers(parser: argparse.ArgumentParser, path: tuple[str, ...] = ()):
    """(command path, parser) for every command that runs: ("predict",), ("mturk", "import"), …"""
    subs = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    if not subs:
        yield path, parser
        return
    for name, sub in subs[0].choices.items():
        yield from leaf_parsers(sub, path + (name,))


def options(parser: argparse.ArgumentParser) -> list[list[str]]:
    return [a.option_strings for a in parser._actions if a.option_strings and not isinstance(a, argparse._HelpAction)]


def flags_in(text: str) -> set[str]:
    return set(re.findall(r"(?<![\w-])(--?[a-z][\w-]*)", text))


def test_architecture_cli_synopsis_lists_every_command_and_option():
    """Each command has a `COMMAND …` synopsis in architecture.md's CLI section naming each of its options,
    and each option a synopsis names exists."""
    spans = re.findall(r"`([^`]+)`", section(ARCH, "CLI"))
    problems = []
    parser = build_parser()
    top = [s for s in spans if s.startswith("-")]
    for strings in options(parser):
        if not any(s in top for s in strings):
            problems.append(f"bibtagger {strings[-1]}: not in the CLI section")
    for s in top:
        if not any(s in strings for strings in options(parser)):
            problems.append(f"`{s}`: no such top-level option")
    for path, sub in leaf_parsers(parser):
        command = " ".join(path)
        synopses = [s for s in spans if s == command or s.startswith(command + " ")]
        if not synopses:
            problems.append(f"{command}: no synopsis")
            continue
        named = set().union(*(flags_in(s) for s in synopses))
        known = {s for strings in options(sub) for s in strings}
        problems += [f"{command}: {strings[-1]} not in its synopsis" for strings in options(sub) if not named & set(strings)]
        problems += [f"{command}: synopsis names {flag}, which it does not take" for flag in sorted(named - known)]
    assert not problems, "docs/architecture.md's CLI section drifted from the parser:\n" + "\n".join(problems)


def test_readme_says_how_to_make_a_finetune_a_quick_trial(capsys):
    """`finetune --epochs 1` still ran the detector's 5 epochs (walk29b): the README's Training section names the
    flags of a quick trial, and each flag it gives the fine-tune is one finetune takes."""
    from training import finetune

    with pytest.raises(SystemExit):
        finetune.main(["--help"])
    known = set(re.findall(r"(--[a-z][\w-]*)", capsys.readouterr().out))
    training = README.split("python -m training finetune", 1)[1].split("The app runs that last command", 1)[0]
    flags = set(re.findall(r"(--[a-z][\w-]*)", training))
    assert {"--detector-epochs", "--skip-detector", "--readers"} <= flags
    assert flags <= known, f"README's Training section names options finetune does not take: {sorted(flags - known)}"


def test_readme_shows_every_command():
    missing = []
    for path, _ in leaf_parsers(build_parser()):
        if len(path) == 1:
            if not re.search(rf"bibtagger {path[0]}\b", README):
                missing.append(path[0])
        elif not any(path[1] in m.split("|") for m in re.findall(rf"bibtagger {path[0]} ([\w|-]+)", README)):
            missing.append(" ".join(path))
    missing += [flag for flag in ("--selftest", "--version") if f"bibtagger {flag}" not in README]
    assert not missing, "README.md shows no `bibtagger COMMAND` for: " + ", ".join(missing)


def test_architecture_store_api_names_real_methods_and_parameters():
    block = re.search(r"```python\n(.*?)```", section(ARCH, "Store (`core/store.py`)"), re.S).group(1)
    calls = re.findall(r"\b(?:store|Store)\.(\w+)\(([^)]*)\)", block)
    assert len(calls) > 20  # the block was found and read
    problems = []
    for name, args in calls:
        method = getattr(Store, name, None)
        if method is None:
            problems.append(f"Store.{name}: no such method")
            continue
        params = inspect.signature(method).parameters
        problems += [f"Store.{name}: no parameter {kw!r}" for kw in re.findall(r"(\w+)\s*=", args) if kw not in params]
    assert not problems, "docs/architecture.md's Store API drifted:\n" + "\n".join(problems)


def test_store_doc_schema_matches_the_database(tmp_path):
    """store.md's "Schema (version N" is SCHEMA_VERSION, and its bullet for each table names every column."""
    schema = section(STORE_DOC, "Schema")
    heading = re.search(r"^## Schema \(version (\d+)", STORE_DOC, re.M)
    assert heading and int(heading.group(1)) == SCHEMA_VERSION
    (tmp_path / "photos").mkdir()
    with Store.open(tmp_path / "photos") as store:
        db = store.db_path
    conn = sqlite3.connect(db)
    try:
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")]
        columns = {t: [r[1] for r in conn.execute(f"PRAGMA table_info({t})")] for t in tables}
    finally:
        conn.close()
    bullets = {m.group(1): m.group(0) for m in re.finditer(r"^- `(\w+)\((.*?)(?=^- |^\s*$)", schema, re.M | re.S)}
    problems = [f"{t}: no bullet" for t in tables if t not in bullets]
    problems += [
        f"{t}.{c}: not in its bullet" for t in tables if t in bullets for c in columns[t] if not re.search(rf"\b{c}\b", bullets[t])
    ]
    problems += [f"{t}: documented, not in the database" for t in bullets if t not in columns]
    assert not problems, "docs/store.md's schema drifted:\n" + "\n".join(problems)


def test_module_tree_reader_gives_each_line_to_its_package(monkeypatch):
    """The tree reader itself: a line belongs to the nearest package line above it that is indented less."""
    tree_text = "```\npkg/\n  a.py  x\n  sub/   c.py\n         more about c\n  d.py\nother/\n  e.py\n```\n"
    monkeypatch.setattr(sys.modules[__name__], "ARCH", tree_text)
    tree = module_tree()
    assert set(tree) == {"pkg", "pkg/sub", "other"}
    assert "a.py" in tree["pkg"] and "d.py" in tree["pkg"] and "c.py" not in tree["pkg"]
    assert "more about c" in tree["pkg/sub"] and "e.py" in tree["other"] and "e.py" not in tree["pkg"]


def test_the_commands_spell_recognize_as_the_readme_does():
    """`predict --help` said "recognise", `gui --help` "recognize": every help text and the lines the commands
    print spell it as the README does."""
    assert README.count("recogniz") > README.count("recognis") == 0
    parser = build_parser()
    helps = [parser.format_help()] + [sub.format_help() for _path, sub in leaf_parsers(parser)]
    sources = [p.read_text(encoding="utf-8") for p in sorted((ROOT / "bibtagger_gui").rglob("*.py"))]
    said = [line for text in sources for line in re.findall(r'f?"[^"\n]*recognis[^"\n]*"', text)]  # quoted strings
    assert not [h for h in helps if "recognis" in h] and not said, said
