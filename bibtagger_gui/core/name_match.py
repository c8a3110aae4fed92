"""Which photo a name written elsewhere means, when several photos share its file name (docs/imports.md).

Two camera bodies and several cards copied into subfolders give ``card1/IMG_0001.JPG`` and
``card2/IMG_0001.JPG``: a name from an annotation file, a photo list or an MTurk image URL then
names one of them only through its folders. :func:`by_folders` is the one rule the import, the
export's ``--photos`` list and the MTurk batch matching share: the photo whose folder names end
like the name's, by the longest run (at least one folder), when only one photo has that run.
Anything else is ambiguous, and the callers say so instead of picking one.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from operator import itemgetter, methodcaller

from bibtagger_gui.core.portable import name_key, nfc


def shared_tail(a: str, b: str) -> int:
    """How many path parts (``/``-separated, file name included) ``a`` and ``b`` end with alike
    (compared by :func:`~bibtagger_gui.core.portable.name_key`: case and Unicode form ignored)."""
    pa = [name_key(p) for p in a.split("/")][::-1]
    pb = [name_key(p) for p in b.split("/")][::-1]
    n = 0
    while n < min(len(pa), len(pb)) and pa[n] == pb[n]:
        n += 1
    return n


def by_folders(name: str, relpaths: Iterable[str]) -> str | None:
    """The one of ``relpaths`` (photos sharing ``name``'s file name) whose folders end like ``name``'s:
    the longest run of equal trailing parts, at least one folder beyond the file name, and no other
    relpath with a run as long. Else, when they all lie in one folder (``IMG_1.JPG`` and ``img_1.jpg``
    on a case-sensitive disk), the one spelled exactly as ``name``. None when nothing tells them apart."""
    rels = list(relpaths)
    scored = sorted(((shared_tail(name, rel), rel) for rel in rels), key=lambda sr: -sr[0])
    if not scored:
        return None
    if scored[0][0] > 1 and (len(scored) == 1 or scored[0][0] > scored[1][0]):
        return scored[0][1]
    base = nfc(name.rsplit("/", 1)[-1])
    same_case = [rel for rel in rels if nfc(rel.rsplit("/", 1)[-1]) == base]
    if len(same_case) == 1 and len({rel.rpartition("/")[0] for rel in rels}) == 1:
        return same_case[0]
    return None


def across_folders_note(name: str, relpath: str) -> str | None:
    """``"note: matched by file name to card2/IMG_1.JPG"`` when ``name``, written with folders
    (``card1/IMG_1.JPG``), was matched by its file name alone to a photo whose folders are not
    ``name``'s (the any-folder-layout rule); None when ``name`` is a bare file name (nothing to say).
    The import and the export's ``--photos`` list print it alike, so such a guess is named, not silent."""
    if "/" not in name.replace("\\", "/").removeprefix("./"):
        return None
    return f"note: matched by file name to {relpath}"


def describe_candidates(relpaths: Iterable[str], limit: int = 3) -> str:
    """``"2 photos have this file name (card1/IMG_1.JPG, card2/IMG_1.JPG)"``, for a refusal."""
    rels = sorted(relpaths)
    shown = ", ".join(rels[:limit]) + (", …" if len(rels) > limit else "")
    return f"{len(rels)} photos have this file name ({shown})"


def shared_names(relpaths: Iterable[str]) -> dict[str, list[str]]:
    """The groups :func:`list_labels` tells apart: case-folded file name -> the relpaths (each once, in the order
    given) that have it, for names two or more of ``relpaths`` share. One pass of C-level steps (no Python code
    per name), so a list of 10,000 names without a shared one costs little (docs/gui.md#search-keystrokes)."""
    rels = list(dict.fromkeys(relpaths))
    names = list(map(str.casefold, map(itemgetter(2), map(methodcaller("rpartition", "/"), rels))))
    counts = Counter(names)
    if len(counts) == len(names):  # every name its own: the common case
        return {}
    groups: dict[str, list[str]] = {}
    for rel, name in zip(rels, names):
        if counts[name] > 1:
            groups.setdefault(name, []).append(rel)
    return groups


def group_labels(group: Iterable[str]) -> dict[str, str]:
    """The labels of one group of :func:`shared_names` (relpaths whose file names are one): relpath -> its
    shortest tail that no other relpath of the group ends with, the whole relpath when none is."""
    group = list(group)
    parts = {rel: [name_key(p) for p in rel.split("/")] for rel in group}
    labels: dict[str, str] = {}
    for rel in group:
        mine = parts[rel]
        for k in range(2, len(mine) + 1):
            if all(parts[other][-k:] != mine[-k:] for other in group if other != rel):
                labels[rel] = "/".join(rel.split("/")[-k:])
                break
        else:
            labels[rel] = rel
    return labels


def list_labels(relpaths: Iterable[str]) -> dict[str, str]:
    """How a list that shows file names tells apart photos whose names are one (``card1/IMG_1.JPG`` and
    ``card2/IMG_1.JPG``, or ``IMG_1.JPG`` and ``img_1.jpg``): relpath -> its shortest tail (``card1/IMG_1.JPG``)
    that no other photo of the same name ends with; the whole relpath when none is (only the case differs).
    Photos whose name is their own are left out (the list shows the name). The window's list asks
    ``core.review_index.ReviewIndex.labels`` instead, which keeps the groups between keystrokes."""
    labels: dict[str, str] = {}
    for group in shared_names(relpaths).values():
        labels.update(group_labels(group))
    return labels
