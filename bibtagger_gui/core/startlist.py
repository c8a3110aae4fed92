"""Start list: the valid bib numbers of a race with runners' names, and nearest-number suggestions.

``parse_startlist(path)`` reads a CSV with flexible headers (bib/number/dossard/…, and
name or given/family name columns; no header = bib, name). A given and a family name
column (First/Last Name, Vorname/Name, Prénom/Nom, Nombre/Apellidos, Nome/Cognome…) are
joined as "given family" and win over a full-name column (Name, Full name, Runner). A header naming a bib (Bib No.,
Startnr., dossard…) beats a generic one (No., Nr., number, #), and a generic column that
counts the rows 1, 2, 3… loses to any other candidate; when more than one column could
hold the bibs, ``StartList.notes`` says which one was used. An Excel ``sep=;`` first line
sets the delimiter (else it is guessed among , ; TAB |). The file may be UTF-16 (Excel's
"Unicode Text": a byte order mark, or NULs in every other byte), UTF-8 (with or without
BOM), falling back to cp1252/latin-1, with any line ends (LF, CRLF, old-Mac CR). Problems are reported with line numbers and the rest is kept; a binary file is
refused. A cell our CSV exports guarded against formula injection (``'=…``, ``'+…``: core/sheet_csv.py)
is read without the added ``'``, so an exported csv/bibcsv reads back as the names it was made from. A bib
written as a whole decimal (``965.0``: pandas writes an int column with an empty cell as floats) is that
number, said in a note; ``965.5`` is no bib number. The list is saved in the project store under the meta key ``"startlist"`` (JSON).

Numbers are kept as the list writes them; lookups compare ``core.bib.number_key``, so leading
zeros do not count (891 on the list is 0891 on the bib; docs/bib-numbers.md), and a line
repeating a number in another spelling is a duplicate.
``StartList.check(number)`` returns ``(valid, suggestion, name)``: a read not on the list
gets the closest valid number when one is within edit distance 2 (optimal string
alignment: a swap of two adjacent digits counts 1; a substitution between digits OCR
often confuses, like 1/7 or 3/8, counts a little less so it wins ties). A dict answers
valid reads; suggestions come from a one-deletion index (every number within distance 1),
and only when that finds nothing from a symmetric two-deletion index built on first need.
"""

from __future__ import annotations

import codecs
import csv
import io
import json
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from bibtagger_gui.core.bib import clean_number, number_key
from bibtagger_gui.core.sheet_csv import unguard

META_KEY = "startlist"
MAX_DISTANCE = 2
BIB_RE = re.compile(r"^[A-Za-z]{0,3}\d{1,7}[A-Za-z]?$")
WHOLE_DECIMAL_RE = re.compile(r"(\d+)\.0+")  # 965.0: pandas' to_csv of an int column with gaps (NaN makes it float)
SEP_LINE_RE = re.compile(r'\s*"?sep=(\t|[^"\s])"?\s*', re.IGNORECASE)  # Excel's first line naming the delimiter

# Bib column headers, ranked: a specific one (it says "bib") beats a generic one (any number),
# so a row counter "No." before "Bib No." is not taken for the bib numbers.
BIB_HEADERS = {"bib", "bibnumber", "bibno", "bibnr", "dossard", "numerodossard", "dorsal", "numerodorsal",
               "startnummer", "startnr", "startno", "race number", "racenumber", "raceno", "startnumber", "pettorale",
               "numeropettorale", "rugnummer",
               # Japanese, Chinese (simplified, traditional), Korean: the bib (ゼッケン, 号码布 "number cloth", 参赛号码)
               "ゼッケン", "ゼッケン番号", "ゼッケンno", "ナンバーカード", "号码布", "號碼布", "参赛号", "参赛号码", "參賽號",
               "參賽號碼", "比赛号码", "比賽號碼", "배번", "배번호"}  # fmt: skip
BIB_WORDS = {"bib", "dossard", "dorsal", "startnummer", "startnr", "pettorale", "rugnummer"}  # "N° dossard"
BIB_PARTS = ("ゼッケン", "号码布", "號碼布", "参赛号", "參賽號", "배번")  # in a CJK header (no spaces between words)
GENERIC_BIB_HEADERS = {"number", "no", "nr", "num", "n", "numero", "nummer", "#",
                       "番号", "号码", "號碼", "编号", "編號", "号", "號", "번호"}  # fmt: skip
NAME_HEADERS = {"name", "fullname", "runner", "athlete", "participant", "nom complet", "nomcomplet", "nombre",
                "nombrecompleto", "naam", "nome", "nomecompleto", "volledigenaam",
                "姓名", "名前", "氏名", "お名前", "选手", "選手", "选手姓名", "選手姓名", "選手名", "이름", "성명"}  # fmt: skip
FIRST_HEADERS = {"first", "firstname", "first name", "given", "givenname", "forename", "prenom", "vorname",
                 "voornaam", "名"}  # fmt: skip
LAST_HEADERS = {"last", "lastname", "last name", "surname", "family", "familyname", "nom", "nachname",
                "apellido", "apellidos", "achternaam", "cognome", "姓"}  # fmt: skip

# A given and a family name column are combined ("given family") and win over a full-name
# column. Beside a family column, Name/Nombre/Nome is the given name (Nombre;Apellidos);
# beside a given column, Name/Naam is the family name (Vorname;Name).
GIVEN_IF_PAIRED = {"name", "nombre", "nome", "naam"}
FAMILY_IF_PAIRED = {"name", "naam"}

# Digit pairs an OCR reader confuses often (shape-alike); substituting them costs less.
CONFUSABLE = {frozenset(p) for p in ("17", "38", "68", "08", "56", "49", "35", "25", "69", "01", "47", "89")}
CONFUSABLE_COST = 0.75


class StartListError(Exception):
    """The start list file cannot be used at all."""


@dataclass
class StartList:
    """Valid bib numbers (as the list writes them: no spaces, upper case) -> runner name ("" when unknown).

    Lookups go by :func:`~bibtagger_gui.core.bib.number_key`, so a read "891" finds the list's
    "0891" (and its runner) and a suggestion is the list's own spelling. When a list (an
    older saved one) holds two spellings of one number, the first is used.
    """

    entries: dict[str, str] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)  # "line 7: …" from parsing
    notes: list[str] = field(default_factory=list)  # which column held the bibs, when more than one could have
    source: str = ""
    _keys: dict[str, str] | None = field(default=None, repr=False, compare=False)  # number_key -> listed number
    _near: dict[str, set[str]] | None = field(default=None, repr=False, compare=False)  # <= 1 deletion -> keys
    _far: dict[str, set[str]] | None = field(default=None, repr=False, compare=False)  # <= 2 deletions -> keys
    _cache: dict[str, tuple] = field(default_factory=dict, repr=False, compare=False)

    def __len__(self) -> int:
        return len(self.entries)

    def __contains__(self, number: str) -> bool:
        return self.listed(number) is not None

    def listed(self, number: str) -> str | None:
        """The list's spelling of ``number`` (same number, leading zeros aside), or None."""
        return self._by_key().get(number_key(number))

    def name(self, number: str) -> str:
        listed = self.listed(number)
        return self.entries[listed] if listed is not None else ""

    def check(self, number: str) -> tuple[bool, str | None, str]:
        """(valid, suggestion, name): name is the runner's for a valid number, else the suggestion's."""
        key = number_key(number)
        listed = self._by_key().get(key)
        if listed is not None:
            return True, None, self.entries[listed]
        if key not in self._cache:
            best = self._nearest(key, MAX_DISTANCE, limit=1)
            self._cache[key] = (False, best[0][0], self.entries[best[0][0]]) if best else (False, None, "")
        return self._cache[key]

    def candidates(self, number: str, max_distance: float = MAX_DISTANCE, limit: int = 5) -> list[tuple[str, float]]:
        """Valid numbers (as listed) within ``max_distance`` of ``number``, best first: (number, distance).

        Distances are between number keys, so leading zeros cost nothing.
        """
        return self._nearest(number_key(number), max_distance, limit)

    def _nearest(self, key: str, max_distance: float, limit: int) -> list[tuple[str, float]]:
        if not key:
            return []
        # Within distance 1 first: a one-deletion index gives a small pool, and a linear test
        # scores it; that answers nearly every OCR slip. Only when it finds fewer than ``limit``
        # numbers is the two-deletion index built (once) and its larger pool scored in full.
        found = []
        for c in _pool(self._near_index(), _near_query_keys(key)):
            d = _one_edit(key, c)
            if d is not None and d <= max_distance:
                found.append((c, d))
        if len(found) < limit and max_distance > 1:
            scored = ((c, distance(key, c)) for c in _pool(self._far_index(), _query_keys(key)))
            found = [(c, d) for c, d in scored if d <= max_distance]
        found.sort(key=lambda cd: (cd[1], len(cd[0]) != len(key), _numeric_gap(key, cd[0]), cd[0]))
        keys = self._by_key()
        return [(keys[c], d) for c, d in found[:limit]]

    def _by_key(self) -> dict[str, str]:
        if self._keys is None:
            keys: dict[str, str] = {}
            for number in self.entries:
                keys.setdefault(number_key(number), number)
            self._keys = keys
        return self._keys

    def _near_index(self) -> dict[str, set[str]]:
        if self._near is None:
            self._near = _deletion_index(self._by_key(), 1)
        return self._near

    def _far_index(self) -> dict[str, set[str]]:
        """Symmetric-delete index: every string reachable by <= 2 deletions -> valid number keys."""
        if self._far is None:
            self._far = _deletion_index(self._by_key(), MAX_DISTANCE)
        return self._far

    # ------------------------------------------------------------------ persistence
    def to_json(self) -> str:
        return json.dumps({"source": self.source, "entries": self.entries}, ensure_ascii=False)

    @classmethod
    def from_json(cls, text: str) -> "StartList":
        data = json.loads(text)
        return cls(entries={normalise(k): str(v) for k, v in data.get("entries", {}).items()}, source=data.get("source", ""))


def normalise(number: str) -> str:
    """A bib number as written, tidied: trimmed, inner spaces removed, upper case (``core.bib.clean_number``).

    Leading zeros stay; lookups compare ``core.bib.number_key`` (docs/bib-numbers.md).
    """
    return clean_number(number)


def _deletion_index(keys: Iterable[str], depth: int) -> dict[str, set[str]]:
    index: dict[str, set[str]] = {}
    for key in keys:
        for deleted in _deletions(key, depth):
            index.setdefault(deleted, set()).add(key)
    return index


def _pool(index: dict[str, set[str]], query_keys: Iterable[str]) -> set[str]:
    pool: set[str] = set()
    for k in query_keys:
        hit = index.get(k)
        if hit:
            pool |= hit
    return pool


def _one_edit(a: str, b: str) -> float | None:
    """``distance(a, b)`` when the two are at most one edit apart (one substitution, insertion,
    deletion or adjacent swap), else None; linear, for scoring the distance-1 pool."""
    if a == b:
        return 0.0
    la, lb = len(a), len(b)
    if abs(la - lb) > 1:
        return None
    i = 0
    while i < la and i < lb and a[i] == b[i]:
        i += 1
    if la != lb:
        short, long = (a, b) if la < lb else (b, a)
        return 1.0 if short[i:] == long[i + 1 :] else None
    if a[i + 1 :] == b[i + 1 :]:
        return CONFUSABLE_COST if frozenset((a[i], b[i])) in CONFUSABLE else 1.0
    if i + 1 < la and a[i] == b[i + 1] and a[i + 1] == b[i] and a[i + 2 :] == b[i + 2 :]:
        return 1.0
    return None


def _deletions(s: str, depth: int) -> set[str]:
    out = {s}
    frontier = {s}
    for _ in range(depth):
        frontier = {w[:i] + w[i + 1 :] for w in frontier for i in range(len(w))}
        out |= frontier
    return out


def _swaps(s: str) -> set[str]:
    return {s[:i] + s[i + 1] + s[i] + s[i + 2 :] for i in range(len(s) - 1) if s[i] != s[i + 1]}


def _near_query_keys(n: str) -> set[str]:
    """Keys of the one-deletion index that reach every number within OSA distance 1 of ``n``:
    a substitution, insertion or deletion meets after at most one deletion each, a swap exactly."""
    return _deletions(n, 1) | _swaps(n)


def _query_keys(n: str) -> set[str]:
    """Index keys that can reach every number within OSA distance 2 of ``n``.

    Up to two plain edits meet in the symmetric-delete index; a swap plus one edit
    meets after swapping and one deletion; two swaps meet exactly.
    """
    keys = _deletions(n, MAX_DISTANCE)
    for once in _swaps(n):
        keys |= _deletions(once, 1)
        keys |= _swaps(once)
    return keys


def _numeric_gap(a: str, b: str) -> int:
    try:
        return abs(int(a) - int(b))
    except ValueError:
        return 0


def distance(a: str, b: str) -> float:
    """Optimal-string-alignment distance; adjacent swap = 1, confusable digit substitution = 0.75."""
    la, lb = len(a), len(b)
    d = [[0.0] * (lb + 1) for _ in range(la + 1)]
    for i in range(la + 1):
        d[i][0] = float(i)
    for j in range(lb + 1):
        d[0][j] = float(j)
    for i in range(1, la + 1):
        for j in range(1, lb + 1):
            if a[i - 1] == b[j - 1]:
                sub = 0.0
            elif frozenset((a[i - 1], b[j - 1])) in CONFUSABLE:
                sub = CONFUSABLE_COST
            else:
                sub = 1.0
            d[i][j] = min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + sub)
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                d[i][j] = min(d[i][j], d[i - 2][j - 2] + 1)
    return d[la][lb]


# ---------------------------------------------------------------------- parsing


def read_text(path: Path) -> str:
    """File text: UTF-16 (a UTF-16 byte order mark, or NULs in every other byte as Excel's
    "Unicode Text" writes), else UTF-8 (BOM stripped), else cp1252, else latin-1."""
    try:
        raw = Path(path).read_bytes()
    except OSError as exc:
        raise StartListError(f"{path}: cannot read ({exc.strerror or exc})") from exc
    if raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            return raw.decode("utf-16")  # the BOM says the byte order and is stripped
        except UnicodeDecodeError:
            raise StartListError(f"{path}: starts like UTF-16 text (byte order mark) but is not valid UTF-16") from None
    order = _utf16_without_bom(raw)
    if order:
        try:
            return raw.decode(order)
        except UnicodeDecodeError:
            pass  # not UTF-16 after all: the binary check below refuses it
    for encoding in ("utf-8-sig", "cp1252", "latin-1"):
        try:
            return raw.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise AssertionError("latin-1 decodes everything")


def _utf16_without_bom(raw: bytes) -> str | None:
    """The UTF-16 byte order when NULs clearly sit in every other byte (mostly ASCII text), else None."""
    sample = raw[:4096]
    sample = sample[: len(sample) // 2 * 2]
    if len(sample) < 4:
        return None
    even, odd = sample[0::2], sample[1::2]
    half = len(even)
    if odd.count(0) >= 0.7 * half and even.count(0) <= 0.05 * half:
        return "utf-16-le"
    if even.count(0) >= 0.7 * half and odd.count(0) <= 0.05 * half:
        return "utf-16-be"
    return None


# Han, kana (half-width kana are folded into these by NFKC) and Hangul: kept in a header's key (ゼッケン, 号码, 姓名),
# which keeps only ASCII letters of other scripts (é -> e): the key dropped them, and such a header matched nothing
_CJK = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uac00-\ud7af"
_CJK_RE = re.compile(f"[{_CJK}]")


def _key(header: str) -> str:
    """A header as compared with the known names: lower-case ASCII letters (accents dropped) and CJK characters
    (NFKC: half-width katakana as full-width, compatibility ideographs as their unified ones), words split by spaces."""
    chars = (ch if _CJK_RE.match(ch) else unicodedata.normalize("NFKD", ch).encode("ascii", "ignore").decode()
             for ch in unicodedata.normalize("NFKC", header))  # fmt: skip
    text = re.sub(f"[^a-z {_CJK}]+", " ", "".join(chars).lower())
    return re.sub(r"\s+", " ", text).strip()


def _column(headers: list[str], names: set[str], skip: Iterable[int | None] = ()) -> int | None:
    keys = [_key(h) for h in headers]
    taken = set(skip)
    for i, k in enumerate(keys):
        if i not in taken and (k in names or k.replace(" ", "") in names):
            return i
    return None


def _bib_rank(header: str) -> int | None:
    """0: a bib header, 1: a header with a bib word in it, 2: a generic number header, None: not a bib column."""
    key = _key(header)
    if key in BIB_HEADERS or key.replace(" ", "") in BIB_HEADERS:
        return 0
    if BIB_WORDS & set(key.split()) or any(part in key for part in BIB_PARTS):
        return 1
    if key.replace(" ", "") in GENERIC_BIB_HEADERS or header.strip() == "#":
        return 2
    return None


def _counts_rows(values: list[str]) -> bool:
    """True when the values are 1, 2, 3, … (or 0, 1, 2, …): a row counter, not bib numbers."""
    if len(values) < 2 or not all(v.isdigit() for v in values):
        return False
    start = int(values[0])
    return start in (0, 1) and all(int(v) == start + i for i, v in enumerate(values))


def _bib_column(header: list[str], rows: list[list[str]]) -> tuple[int | None, str]:
    """The bib column (best-ranked header; a generic row counter loses to any other candidate) and a note.

    The note names the column used when another column could have been it ("" otherwise).
    """
    candidates = sorted((rank, i) for i, h in enumerate(header) if (rank := _bib_rank(h)) is not None)
    if not candidates:
        return None, ""
    chosen = candidates[0][1]
    if len(candidates) == 1:
        return chosen, ""

    def values(col: int) -> list[str]:
        return [r[col].strip() for r in rows if any(c.strip() for c in r) and col < len(r)]

    def label(col: int) -> str:
        return f"column {col + 1} {header[col]!r}"

    if candidates[0][0] == 2 and _counts_rows(values(chosen)):
        other = next((i for rank, i in candidates[1:] if not _counts_rows(values(i))), None)
        if other is not None:
            return other, f"bib numbers from {label(other)} ({label(chosen)} counts the rows 1, 2, 3, …)"
    others = ", ".join(repr(header[i]) for _, i in candidates if i != chosen)
    return chosen, f"bib numbers from {label(chosen)} (also looked like a bib column: {others})"


def parse_startlist_text(text: str, source: str = "") -> StartList:
    """Parse start list CSV text (see module docstring)."""
    if "\x00" in text:
        raise StartListError(f"{source or 'start list'}: not a CSV text file (it holds binary data)")
    text = text.replace("\r\n", "\n").replace("\r", "\n")  # Windows, old Mac (CR only) and stray CRs
    first_line, newline, rest = text.partition("\n")
    excel_sep = SEP_LINE_RE.fullmatch(first_line)
    if excel_sep:  # Excel's "sep=;" line: it sets the delimiter; a blank line in its place keeps the line numbers
        delimiter = excel_sep.group(1)
        text = newline + rest
    else:
        sample = "\n".join(text.splitlines()[:20])
        try:
            dialect = csv.Sniffer().sniff(sample, delimiters=",;\t|")
            delimiter = dialect.delimiter
        except csv.Error:
            delimiter = ","
    reader = csv.reader(io.StringIO(text), delimiter=delimiter)
    try:
        rows = list(reader)
    except csv.Error as exc:
        raise StartListError(f"{source or 'start list'}: line {reader.line_num}: not readable as CSV ({exc})") from None
    if not any("\n" in c for r in rows for c in r):
        return _from_rows(rows, source)
    # a cell over several lines: Excel's Alt+Enter, or a stray quote opening a field ('965,"Speedy Anna') that
    # swallows every later line, bibs too; read line by line when that finds more bibs, and say where
    try:
        whole: StartList | None = _from_rows(rows, source)
    except StartListError:
        whole = None
    lines = text.split("\n")
    try:
        by_line = _from_rows([next(csv.reader([_paired(line)], delimiter=delimiter), []) for line in lines], source)
    except (StartListError, csv.Error):
        by_line = None
    if by_line is None or (whole is not None and len(by_line.entries) <= len(whole.entries)):
        if whole is None:
            return _from_rows(rows, source)  # raises its error
        return whole
    stray = next((i for i, line in enumerate(lines, start=1) if line.count('"') % 2), None)
    where = f"line {stray}: " if stray is not None else ""
    by_line.notes.insert(0, f'{where}a quote (") opens a field that no quote closes, so each line was read on its own')
    return by_line


def _paired(line: str) -> str:
    """``line`` without its last quote when its quotes do not pair up (that one opened a field nothing closes)."""
    if line.count('"') % 2 == 0:
        return line
    i = line.rindex('"')
    return line[:i] + line[i + 1 :]


def _bib_cell(raw: str) -> tuple[str, bool]:
    """A bib cell as a number (:func:`normalise`), and whether it was a whole decimal: "965.0" is bib 965 (a
    number column with an empty cell, written by pandas or a spreadsheet, is a float column); "965.5" is left as
    it is (no bib number)."""
    number = normalise(raw)
    whole = WHOLE_DECIMAL_RE.fullmatch(number)
    return (whole.group(1), True) if whole else (number, False)


def _from_rows(rows: list[list[str]], source: str) -> StartList:
    """A start list from CSV rows (the header found in them); StartListError when it holds no bib."""
    result = StartList(source=source)
    # header row: first non-empty row
    first = next((i for i, r in enumerate(rows) if any(c.strip() for c in r)), None)
    if first is None:
        raise StartListError(f"{source or 'start list'}: the file is empty")
    header = [c.strip() for c in rows[first]]
    family_first = 1  # -1: the family name column comes first in the name (姓;名)
    bib_col, note = _bib_column(header, rows[first + 1 :])
    if bib_col is not None:
        if note:
            result.notes.append(note)
        first_col = _column(header, FIRST_HEADERS, skip=[bib_col])
        last_col = _column(header, LAST_HEADERS, skip=[bib_col, first_col])
        if first_col is None and last_col is not None:
            first_col = _column(header, GIVEN_IF_PAIRED, skip=[bib_col, last_col])
        elif last_col is None and first_col is not None:
            last_col = _column(header, FAMILY_IF_PAIRED, skip=[bib_col, first_col])
        name_col = _column(header, NAME_HEADERS, skip=[bib_col, first_col, last_col])
        # 姓;名 (Japanese, Chinese, Korean): the family name first, as those names are written
        family_first = -1 if last_col is not None and _CJK_RE.search(header[last_col]) else 1
        body = list(enumerate(rows[first + 1 :], start=first + 2))
    elif header and BIB_RE.match(_bib_cell(header[0])[0]):
        bib_col, name_col, first_col, last_col = 0, (1 if len(header) > 1 else None), None, None
        body = list(enumerate(rows[first:], start=first + 1))
    elif header and header[0].lstrip().startswith(("[", "{")):  # bib annotation JSON given as a start list
        raise StartListError(f"{source or 'start list'}: a JSON file, not a CSV start list (bib annotation JSON goes to "
                             "File > Import Annotations… or `bibtagger import`)")  # fmt: skip
    else:
        raise StartListError(
            f"{source or 'start list'}: no bib number column found in the header {header!r} "
            "(expected a column named bib, number, dossard, dorsal or startnummer)"
        )
    width = len(header)
    seen: dict[str, str] = {}  # number_key -> the first spelling on the list
    decimals: list[str] = []  # cells such as 965.0 read as their whole number
    for lineno, row in body:
        if not any(c.strip() for c in row):
            continue
        if len(row) <= bib_col:
            result.problems.append(f"line {lineno}: expected {width} columns, found {len(row)}")
            continue
        raw = unguard(row[bib_col]).strip()
        number, decimal = _bib_cell(raw)
        if decimal and BIB_RE.match(number):
            decimals.append(raw)
        if not number:
            result.problems.append(f"line {lineno}: empty bib number")
            continue
        if not BIB_RE.match(number):
            result.problems.append(f"line {lineno}: {raw!r} is not a bib number")
            continue

        def cell(col: int | None) -> str:
            return unguard(row[col]).strip() if col is not None and col < len(row) else ""

        pair = " ".join(p for p in (cell(first_col), cell(last_col))[::family_first] if p)
        name = (pair or cell(name_col)) if first_col is not None and last_col is not None else (cell(name_col) or pair)
        first_seen = seen.setdefault(number_key(number), number)
        if first_seen != number or number in result.entries:  # 0891 after 891 is the same bib
            if result.entries[first_seen] != name:
                again = "appears again" if first_seen == number else f"appears again as {number}"
                result.problems.append(
                    f"line {lineno}: bib {first_seen} {again} ({name!r}, first: {result.entries[first_seen]!r}); kept the first"
                )
            continue
        result.entries[number] = name
    if not result.entries:
        raise StartListError(f"{source or 'start list'}: no valid bib numbers found")
    if decimals:
        result.notes.append(f"{len(decimals)} bib number(s) written as decimals ({decimals[0]!r} is bib "
                            f"{_bib_cell(decimals[0])[0]}): read as whole numbers")  # fmt: skip
    return result


def parse_startlist(path: Path) -> StartList:
    """Read and parse a start list CSV file; StartListError when nothing usable is in it."""
    return parse_startlist_text(read_text(path), source=str(path))


# ---------------------------------------------------------------------- store


def save_to_store(store, startlist: StartList) -> None:
    store.set_meta(META_KEY, startlist.to_json())


def load_from_store(store) -> StartList | None:
    text = store.get_meta(META_KEY)
    if not text:
        return None
    try:
        return StartList.from_json(text)
    except (ValueError, AttributeError):
        return None


def names_for(store) -> dict[str, str]:
    """Bib number -> runner name from the store's start list ({} when none imported).

    Keys are number keys (upper case, no spaces, no leading zeros); look up with
    ``core.bib.number_key(number)``, so a bib read "0891" gets the name listed for 891.
    """
    sl = load_from_store(store)
    names: dict[str, str] = {}
    for number, name in (sl.entries.items() if sl else ()):
        if name:
            names.setdefault(number_key(number), name)
    return names


@dataclass(frozen=True)
class OffListRead:
    """A bib read in a photo that is not on the start list."""

    relpath: str
    number: str
    confidence: float | None
    suggestion: str | None
    name: str


def off_list_reads(store, startlist: StartList) -> list[OffListRead]:
    """Every bib in the store whose number is not on the start list, with a suggestion."""
    out = []
    bibs = store.all_bibs()
    for photo in store.photos():
        for bib in bibs.get(photo.id, []):
            valid, suggestion, name = startlist.check(bib.number)
            if not valid:
                out.append(OffListRead(photo.relpath, bib.number, bib.confidence, suggestion, name))
    return out


def describe(read: OffListRead) -> str:
    if read.suggestion:
        who = f" ({read.name})" if read.name else ""
        return f"{read.relpath}: {read.number} not on start list; did you mean {read.suggestion}{who}?"
    return f"{read.relpath}: {read.number} not on start list"


def iter_numbers(startlist: StartList) -> Iterable[str]:
    return iter(startlist.entries)
