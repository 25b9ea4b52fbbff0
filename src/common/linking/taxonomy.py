"""The taxonomy keywords are linked to: ESCO's 13,574 skills with every name they go by.

Why a module of its own: ``esco/skills.csv`` ships a skill's alternative labels in two shapes.
Where ESCO's collections carry them they are a ``|``-separated column; for the other ~85 % of
skills they exist only inside ``text``, run together between the preferred label and the
description ("manage musical staff manage staff of music coordinate duties of ... Assign and
manage staff tasks ..."). The linker needs both as short strings to match a span against, and
the adaptation needs them as (alternative label, preferred label) pairs.

This service uses the ESCO classification of the European Commission.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

TAXONOMY_VERSION = "ESCO v1.2.0"
COLLECTION_SOURCE = "esco-v1.2.0-collection"  # alt_labels_source of the labels ESCO v1.2.0's collections ship
_DESCRIPTION_START = re.compile(r"(?:^|\s)[A-Z]")
_PARENTHESIS = re.compile(r"\s*\([^)]*\)")


def synonym_run(label: str, text: str) -> str:
    """The alternative labels that ``text`` runs together after ``label``, without the description.

    The description is the first sentence-cased word on: ESCO's run-together labels are lower
    case unless a ``|`` column lists them (those skills take the column instead).
    """
    rest = text[len(label):] if text.startswith(label) else text
    m = _DESCRIPTION_START.search(rest)
    return " ".join((rest[: m.start()] if m else rest).split())


def plain_name(label: str) -> str:
    """``Java (computer programming)`` -> ``Java``: ESCO's disambiguating parenthesis is not
    something a posting writes, so lexical matching compares without it."""
    return " ".join(_PARENTHESIS.sub("", label).split()) or label


@dataclass
class Taxonomy:
    """Skills (``uri``, ``label``, ``alt_labels`` list, ``synonyms`` run, ``text``) and, where
    known (ESCO train/dev skills), their groups ``groups_l1``/``groups_l2``."""

    skills: pd.DataFrame
    version: str = TAXONOMY_VERSION

    def __len__(self) -> int:
        return len(self.skills)

    def short_strings(self) -> tuple[list[str], list[int]]:
        """Every short name of every skill (label, each alternative label, the synonym run) and the
        row of the skill it names; rows come in skill order, so a skill's strings are contiguous."""
        strings: list[str] = []
        owner: list[int] = []
        for i, row in enumerate(self.skills.itertuples(index=False)):
            names = dict.fromkeys([row.label, *row.alt_labels, row.synonyms])
            for s in names:
                if s:
                    strings.append(s)
                    owner.append(i)
        return strings, owner

    def lexical_strings(self) -> tuple[list[str], list[int]]:
        """Names for string matching: the label without its parenthesis, and each listed
        alternative label (the synonym run is too long for an edit-distance ratio)."""
        strings: list[str] = []
        owner: list[int] = []
        for i, row in enumerate(self.skills.itertuples(index=False)):
            for s in dict.fromkeys([plain_name(row.label), row.label, *row.alt_labels]):
                if s:
                    strings.append(s)
                    owner.append(i)
        return strings, owner

    def names_of(self, row: int) -> list[str]:
        """The names a posting may write a skill by: its label, the label without ESCO's
        parenthesis, and each alternative label (not the synonym run, which is several names)."""
        r = self.skills.iloc[row]
        return [s for s in dict.fromkeys([r["label"], plain_name(r["label"]), *r["alt_labels"]]) if s]

    def exact_index(self) -> dict[str, list[str]]:
        """Lower-cased, whitespace-collapsed name -> the URIs of every skill of that name: exact
        lookup of a keyword, the linker's cheapest case (and what a pseudo-posting is written in)."""
        index: dict[str, list[str]] = {}
        strings, owner = self.lexical_strings()
        uris = self.skills["uri"].tolist()
        for s, i in zip(strings, owner, strict=True):
            key = " ".join(s.lower().split())
            if uris[i] not in index.setdefault(key, []):
                index[key].append(uris[i])
        return index

    def with_names(self, names: str) -> Taxonomy:
        """The taxonomy with the short names a linker indexes. ``esco``: every ESCO alternative
        label (13,125 skills), the synonym run where ESCO lists none. ``runs``: ESCO v1.2.0's
        collection labels (1,943 skills) and, for the others, their names run together as one
        string (the synonym run) rather than one string per name. Measured on the validation
        files (docs/linking.md): one string per name gives the dense and lexical scores many more
        near misses, and R@1 fell by about 3 points on both files."""
        if names == "esco":
            return self
        if names != "runs":
            raise ValueError(f"names must be esco or runs, not {names!r}")
        if "alt_labels_source" not in self.skills:  # a hand-made taxonomy: its listed names are all it has
            return self
        sk = self.skills.copy()
        source = sk["alt_labels_source"]
        keep = [src == COLLECTION_SOURCE and bool(alts) for src, alts in zip(source, sk["alt_labels"], strict=True)]
        sk["alt_labels"] = [alts if k else [] for alts, k in zip(sk["alt_labels"], keep, strict=True)]
        sk["synonyms"] = ["" if k else synonym_run(lab, txt)
                          for k, lab, txt in zip(keep, sk["label"], sk["text"], strict=True)]
        return Taxonomy(sk, self.version)

    def adaptation_pairs(self) -> list[tuple[str, str]]:
        """(alternative label, preferred label) pairs, and (synonym run, label) where ESCO lists
        none: free positives for contrastive adaptation of the encoder (seed 003)."""
        pairs: list[tuple[str, str]] = []
        for row in self.skills.itertuples(index=False):
            alts = row.alt_labels or ([row.synonyms] if row.synonyms else [])
            pairs += [(a, row.label) for a in alts if a and a != row.label]
        return pairs


def load_taxonomy(esco_dir: str | Path | None = None) -> Taxonomy:
    """``skills.csv`` with its alternative labels split out, plus the groups of the train/dev skills.

    Held-out skills keep empty group lists: their groups stay hidden, and the group classifier
    decides for them.
    """
    from common.data import esco

    root = esco.esco_dir(esco_dir)
    path = root / "skills.csv"
    if not path.exists():
        raise esco.EscoMissingError(f"ESCO taxonomy file not found: {path}")
    df = pd.read_csv(path, dtype=str, keep_default_na=False)
    missing = [c for c in ("uri", "label", "alt_labels", "text") if c not in df.columns]
    if missing:
        raise ValueError(f"{path} lacks columns {missing}")
    df["alt_labels"] = df["alt_labels"].map(
        lambda v: [a for a in dict.fromkeys(" ".join(x.split()) for x in str(v).split("|")) if a])
    df["synonyms"] = [("" if alts else synonym_run(lab, txt))
                      for lab, alts, txt in zip(df["label"], df["alt_labels"], df["text"], strict=True)]
    groups: dict[str, tuple[list[str], list[str]]] = {}
    for split in ("train", "dev"):
        try:
            part = esco.load_skills(split, root)
        except esco.EscoMissingError:
            continue
        groups.update({u: (g1, g2) for u, g1, g2 in zip(part["uri"], part["groups_l1"], part["groups_l2"], strict=True)})
    df["groups_l1"] = [groups.get(u, ([], []))[0] for u in df["uri"]]
    df["groups_l2"] = [groups.get(u, ([], []))[1] for u in df["uri"]]
    return Taxonomy(df.reset_index(drop=True))


def taxonomy_frame(rows: list[dict]) -> Taxonomy:
    """A hand-made taxonomy (tests, other taxonomies): rows need ``uri`` and ``label``."""
    df = pd.DataFrame(rows)
    if not {"uri", "label"} <= set(df.columns):
        raise ValueError("taxonomy rows need 'uri' and 'label'")
    n = len(df)
    df["alt_labels"] = [list(v) if isinstance(v, (list, tuple)) else [] for v in df.get("alt_labels", [None] * n)]
    df["text"] = df["text"] if "text" in df else df["label"]
    df["synonyms"] = df["synonyms"] if "synonyms" in df else ""
    for col in ("groups_l1", "groups_l2"):
        df[col] = [list(v) if isinstance(v, (list, tuple)) else [] for v in df.get(col, [None] * n)]
    return Taxonomy(df.reset_index(drop=True))
