"""core/handout_merge.py without a store: the matching rule, and properties of the bib-by-bib merge checked over
many generated photos (a fixed seed: the same photos every run).

- nothing changed on one side: the merge gives exactly the other side (bibs, sources, boxes, reviewed flag);
- the sides swapped (a person's bibs only, so neither side has predictions to treat apart): the same conflicts
  and, without one, the same bibs and flag;
- never a photo marked reviewed with bibs its reviewer did not see.
"""

from __future__ import annotations

import random

from bibtagger_gui.core.annotations import Handout
from bibtagger_gui.core.bib import Bib
from bibtagger_gui.core.handout_merge import DELETE, GONE, HOLD, KEEP, Item, match, merge, overlap, side

SEEDS = range(400)


def b(number: str, box=None, conf=None) -> Bib:
    return Bib(number, box, conf)


# ------------------------------------------------------------------------------------------------ the matching rule


def test_match_prefers_the_same_place_then_a_nudge_then_no_box_then_a_renumber():
    base = [b("12", (0, 0, 20, 10)), b("44", (100, 0, 120, 10)), b("7"), b("9", (200, 0, 220, 10))]
    now = [b("9", (201, 0, 221, 10)),  # 9 moved 1 px: the same place
           b("44", (110, 0, 130, 10)),  # 44 nudged (IoU 1/3)
           b("13", (0, 0, 20, 10)),  # another number on 12's box: renumbered
           b("7", (50, 50, 60, 60))]  # 7 had no box: the same bib, a box drawn  # fmt: skip
    assert match(base, now) == {3: (0, "same"), 1: (1, "nudged"), 0: (2, "renumbered"), 2: (3, "unboxed")}
    assert match(base, now, renumber=lambda n: False) == {3: (0, "same"), 1: (1, "nudged"), 2: (3, "unboxed")}


def test_match_takes_the_larger_overlap_first_and_breaks_ties_by_order():
    base = [b("7", (0, 0, 20, 10)), b("7", (10, 0, 30, 10))]
    now = [b("7", (9, 0, 29, 10))]  # nearer the second 7 of the base
    assert match(base, now) == {1: (0, "same")}
    twins = [b("7", (0, 0, 20, 10)), b("7", (0, 0, 20, 10))]
    assert match(twins, [b("7", (0, 0, 20, 10))]) == {0: (0, "same")}  # a tie: the first of the base
    assert match(twins, list(reversed(twins))) == {0: (0, "same"), 1: (1, "same")}
    # a box of another number overlapping less than SAME_BOX_IOU is not a renumber; a bib far away is not the same bib
    assert match([b("12", (0, 0, 20, 10))], [b("13", (12, 0, 32, 10)), b("12", (100, 0, 120, 10))]) == {}


def test_a_review_holds_every_bib_it_kept_and_a_rerun_is_nobodys_decision():
    base = Handout("p", 640, 480, None, False, [b("12", (0, 0, 20, 10), 0.9), b("44", (50, 0, 70, 10), 0.8), b("5", (90, 0, 99, 9))])
    reviewed = side(base, [Item(b("12", (0, 0, 20, 10), 0.9), False), Item(b("5", (90, 0, 99, 9)), True)], True)
    assert [f.kind for f in reviewed.fates] == [HOLD, DELETE, HOLD] and reviewed.reviewed is True
    rerun = side(base, [Item(b("19", (0, 0, 20, 10), 0.7), False), Item(b("5", (90, 0, 99, 9)), True)], False, rejected={"44"})
    assert [f.kind for f in rerun.fates] == [GONE, DELETE, KEEP] and rerun.touched  # 44: deleted by a person
    assert rerun.added == []  # a new prediction is no one's addition


# ------------------------------------------------------------------------------------------ generated photos, properties

SPOTS = [(x, y, x + 20.0, y + 12.0) for y in (0.0, 40.0, 80.0) for x in (0.0, 40.0, 80.0, 120.0)]  # far apart


def gen_base(rng: random.Random, predictions: bool) -> Handout:
    spots = rng.sample(range(len(SPOTS)), rng.randint(0, 5))
    bibs = []
    for k, s in enumerate(spots):
        box = None if rng.random() < 0.15 else SPOTS[s]
        conf = 0.9 if predictions and rng.random() < 0.5 else None
        bibs.append(b(str(10 + k), box, conf))
    return Handout("organiser", 640, 480, None, rng.random() < 0.2, bibs)


def edit(rng: random.Random, base: Handout, tag: str, origin: bool) -> tuple[list[Item], bool, set[str]]:
    """One side's random edits of the base: delete, renumber, move, confirm, add, review. Returns its bibs,
    its reviewed flag and the numbers it deleted (the store's rejections)."""
    items = [Item(x, x.confidence is None, object() if origin else None) for x in base.bibs]
    used = {i.bib.box for i in items}
    free = [s for s in SPOTS if s not in used]
    rejected = set()
    out = []
    for k, it in enumerate(items):
        r = rng.random()
        x = it.bib
        if r < 0.15:
            rejected.add(x.number)
            continue
        if r < 0.3 and x.box is not None:
            it = Item(b(f"{x.number}{tag}{k}", x.box), True, it.origin)  # renumbered on its box
        elif r < 0.4 and x.box is not None:
            dx = rng.choice([2.0, 6.0, 12.0])
            it = Item(b(x.number, (x.box[0] + dx, x.box[1], x.box[2] + dx, x.box[3])), True, it.origin)  # moved
        elif r < 0.5 and x.confidence is not None:
            it = Item(b(x.number, x.box), True, it.origin)  # confirmed
        out.append(it)
    for k in range(rng.randint(0, 2) if free else 0):
        spot = free.pop(rng.randrange(len(free)))
        out.append(Item(b(f"9{tag}{k}", spot), True))  # a bib a person added
        if not free:
            break
    review = rng.random() < 0.3
    if review:
        out = [Item(b(i.bib.number, i.bib.box), True, i.origin) for i in out]  # accepting confirms every bib
    return out, review or base.reviewed and rng.random() < 0.8, rejected


def untouched(base: Handout) -> list[Item]:
    return [Item(x, x.confidence is None, object()) for x in base.bibs]


def key(items) -> list[tuple]:
    return sorted((i.bib.number, i.bib.box, i.human) for i in items)


def numbers(items) -> list[str]:
    return sorted(i.bib.number for i in items)


def test_no_change_on_one_side_gives_exactly_the_other():
    for seed in SEEDS:
        no_change_on_one_side(seed)


def no_change_on_one_side(seed: int) -> None:
    rng = random.Random(seed)
    base = gen_base(rng, predictions=True)
    ours, our_flag, rejected = edit(rng, base, "h", origin=True)
    nothing = side(base, untouched(base), base.reviewed)
    m = merge(nothing, side(base, ours, our_flag, rejected))  # the volunteer changed nothing
    assert (m.steps, m.conflicts, key(m.bibs), m.reviewed) == ([], [], key(ours), our_flag), seed
    theirs, their_flag, _r = edit(rng, base, "f", origin=False)
    m = merge(side(base, theirs, their_flag), side(base, untouched(base), base.reviewed, set()))  # you changed nothing
    assert (m.conflicts, key(m.bibs), m.reviewed, m.withheld) == ([], key(theirs), their_flag, None), seed


def test_swapping_the_sides_gives_the_same_conflicts_and_bibs():
    conflicts = sum(swapped_sides(seed) for seed in SEEDS)
    assert 0 < conflicts < len(SEEDS)  # the generated photos hold both kinds


def swapped_sides(seed: int) -> bool:
    rng = random.Random(seed)
    base = gen_base(rng, predictions=False)
    x, x_flag, x_gone = edit(rng, base, "x", origin=True)
    y, y_flag, y_gone = edit(rng, base, "y", origin=True)
    xy = merge(side(base, x, x_flag), side(base, y, y_flag, y_gone))
    yx = merge(side(base, y, y_flag), side(base, x, x_flag, x_gone))
    assert len(xy.conflicts) == len(yx.conflicts), seed
    plain = [tuple(p.replace(" in the same place", "") for p in c) for c in xy.conflicts]
    assert sorted(plain) == sorted((t.replace(" in the same place", ""), o) for o, t in yx.conflicts), seed  # who did what
    if not xy.conflicts:
        assert numbers(xy.bibs) == numbers(yx.bibs) and xy.reviewed == yx.reviewed, seed
    return bool(xy.conflicts)


def test_a_photo_is_marked_reviewed_only_with_the_bibs_its_reviewer_saw():
    outcomes = [reviewed_only_as_seen(seed) for seed in SEEDS]
    assert {"reviewed", "withheld", "unreviewed"} <= set(outcomes)  # the generated photos hold every outcome


def reviewed_only_as_seen(seed: int) -> str:
    rng = random.Random(seed)
    base = gen_base(rng, predictions=True)
    theirs, their_flag, _r = edit(rng, base, "f", origin=False)
    ours, our_flag, rejected = edit(rng, base, "h", origin=True)
    m = merge(side(base, theirs, their_flag), side(base, ours, our_flag, rejected))
    if m.reviewed:
        kept = [i for i in m.bibs if not any(i is s for s in m.spare)]
        seen = [numbers(theirs)] * their_flag + [numbers(ours)] * our_flag
        assert numbers(kept) in seen, seed
        assert all(a.bib.box is None or c.bib.box is None or overlap(a.bib.box, c.bib.box) > 0 for a, c in zip(sorted(kept, key=lambda i: i.bib.number),
                   sorted(theirs if m.file_review else ours, key=lambda i: i.bib.number))), seed  # fmt: skip
    else:
        assert m.spare == [], seed
    wanted = their_flag if their_flag != base.reviewed else our_flag  # the flag merged three ways
    assert (m.withheld is not None) == (wanted and not m.reviewed), seed
    return "reviewed" if m.reviewed else "withheld" if m.withheld else "unreviewed"
