"""Pseudo-postings: what an occupation's posting would name, built from ESCO alone.

There is no set of postings labelled with their ESCO occupation here, so the ranker is measured
on postings written from occupations that no fitting saw (``taxonomy.split_of``): a title that is
one of the occupation's alternative labels (or no title), 60 % of its essential skills and 30 % of
its optional ones, each written as one of its ESCO names, shuffled, plus two skills from elsewhere.
The title's name is held out of the title index when the posting is scored (``held_out``): a title
that is in the index verbatim would measure string equality, not the ranker.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from common.linking.taxonomy import Taxonomy
from common.occupations.taxonomy import OccupationSplit, OccupationTaxonomy


@dataclass(frozen=True)
class PseudoPosting:
    occupation_uri: str
    title: str | None
    skills: list[str]  # the names as written
    held_out: str | None  # the occupation name used as title, hidden from the title index

    @property
    def text(self) -> str:
        body = "\n".join(f"- {s}" for s in self.skills)
        return f"{self.title}\n{body}" if self.title else body


def pseudo_postings(occupations: OccupationTaxonomy, skills: Taxonomy, split: OccupationSplit | None,
                    with_title: bool = True, seed: int = 13, essential_share: float = 0.6,
                    optional_share: float = 0.3, noise: int = 2) -> list[PseudoPosting]:
    """One pseudo-posting per occupation of ``split`` (all when None); deterministic per
    (seed, occupation URI), so the same occupation gives the same posting with and without title."""
    rows = {u: i for i, u in enumerate(skills.skills["uri"])}
    all_rows = list(range(len(skills)))
    frame = occupations.occupations if split is None else occupations.in_split(split)
    out: list[PseudoPosting] = []
    for occ in frame.itertuples(index=False):
        rng = random.Random(f"{seed}:{occ.uri}")
        need = occupations.skills_of(occ.uri)
        picked: list[int] = []
        for rel, share in (("essential", essential_share), ("optional", optional_share)):
            known = [rows[u] for u in need[rel] if u in rows]
            picked += rng.sample(known, min(len(known), max(1, round(share * len(known)))) if known else 0)
        own = {rows[u] for rel in need.values() for u in rel if u in rows}
        while len(picked) < len(own & set(picked)) + noise:
            j = rng.choice(all_rows)
            if j not in own and j not in picked:
                picked.append(j)
        rng.shuffle(picked)
        names = [rng.choice(skills.names_of(j)) for j in picked]
        title = None
        if with_title:
            title = rng.choice(occ.alt_labels) if occ.alt_labels else occ.label
        out.append(PseudoPosting(occ.uri, title, names, title))
    return out
