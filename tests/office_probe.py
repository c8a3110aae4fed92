"""What LibreOffice's own view shows of spreadsheet files: frozen rows, autofilter, number formats.

Run by tests/test_office_roundtrip.py with the *system* Python that has LibreOffice's ``uno`` module
(Debian's python3-uno), not the venv's: ``/usr/bin/python3 tests/office_probe.py JOB.json OUT.json``.
``soffice --convert-to`` cannot tell these: a headless conversion has no view, so frozen panes
never reach its output. This script starts one headless soffice with a private profile, opens each
file through the UNO API as a double-click would (with a view), and writes for each sheet: its name,
the frozen split (columns, rows), the autofilter range, the number format of each cell of row 2 and of a row under the data.

JOB.json: {"soffice": path, "profile": folder, "files": [{"path": p, "filter": name or null,
"options": filter options or null}]}. Standard library + uno only: nothing of the project.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
import uuid
from pathlib import Path

import uno  # type: ignore[import-not-found]  # LibreOffice's bridge (python3-uno)
from com.sun.star.beans import PropertyValue  # type: ignore[import-not-found]
from com.sun.star.connection import NoConnectException  # type: ignore[import-not-found]

CONNECT_S = 60


def _props(**kw) -> tuple:
    out = []
    for k, v in kw.items():
        p = PropertyValue()
        p.Name, p.Value = k, v
        out.append(p)
    return tuple(out)


def _a1(col: int, row: int) -> str:
    letters = ""
    col += 1
    while col:
        col, rem = divmod(col - 1, 26)
        letters = chr(65 + rem) + letters
    return f"{letters}{row + 1}"


def _sheet(doc, controller, index: int) -> dict:
    sheet = doc.Sheets.getByIndex(index)
    controller.setActiveSheet(sheet)
    frozen = [controller.getSplitColumn(), controller.getSplitRow()] if controller.hasFrozenPanes() else None
    ranges = doc.getPropertyValue("UnnamedDatabaseRanges")
    autofilter = None
    if ranges.hasByTable(index):
        db = ranges.getByTable(index)
        a = db.DataArea
        if db.AutoFilter:
            autofilter = f"{_a1(a.StartColumn, a.StartRow)}:{_a1(a.EndColumn, a.EndRow)}"
    cursor = sheet.createCursor()
    cursor.gotoEndOfUsedArea(False)
    ncols = cursor.RangeAddress.EndColumn + 1
    formats = doc.NumberFormats
    below = cursor.RangeAddress.EndRow + 10  # a row under the data: what a cell typed there later gets

    def fmt(col: int, row: int) -> str:
        return formats.getByKey(sheet.getCellByPosition(col, row).NumberFormat).FormatString

    return {"name": sheet.Name, "frozen": frozen, "autofilter": autofilter, "row2_formats": [fmt(c, 1) for c in range(ncols)],
            "below_formats": [fmt(c, below) for c in range(ncols)]}


def main(job_path: str, out_path: str) -> int:
    job = json.loads(Path(job_path).read_text(encoding="utf-8"))
    pipe = f"bibtagger_probe_{uuid.uuid4().hex[:12]}"
    profile = Path(job["profile"]).resolve().as_uri()
    proc = subprocess.Popen([job["soffice"], "--headless", "--invisible", "--nologo", "--norestore", "--nodefault",
                             f"-env:UserInstallation={profile}", f"--accept=pipe,name={pipe};urp;StarOffice.ComponentContext"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    results = []
    desktop = None
    try:
        local = uno.getComponentContext()
        resolver = local.ServiceManager.createInstanceWithContext("com.sun.star.bridge.UnoUrlResolver", local)
        deadline = time.monotonic() + CONNECT_S
        while True:
            try:
                ctx = resolver.resolve(f"uno:pipe,name={pipe};urp;StarOffice.ComponentContext")
                break
            except NoConnectException:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise
                time.sleep(0.2)
        desktop = ctx.ServiceManager.createInstanceWithContext("com.sun.star.frame.Desktop", ctx)
        for f in job["files"]:
            kw = {"Hidden": True, "ReadOnly": True}
            if f.get("filter"):
                kw["FilterName"] = f["filter"]
            if f.get("options"):
                kw["FilterOptions"] = f["options"]
            doc = desktop.loadComponentFromURL(Path(f["path"]).resolve().as_uri(), "_blank", 0, _props(**kw))
            if doc is None:
                results.append({"path": f["path"], "error": "LibreOffice could not load the file"})
                continue
            try:
                controller = doc.getCurrentController()
                results.append({"path": f["path"], "sheets": [_sheet(doc, controller, i) for i in range(doc.Sheets.Count)]})
            finally:
                doc.close(True)
    finally:
        if desktop is not None:
            try:
                desktop.terminate()
            except Exception:  # the bridge goes away as soffice quits
                pass
        else:
            proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    Path(out_path).write_text(json.dumps(results), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:3]))
