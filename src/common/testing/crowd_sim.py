"""Simulated crowds made from gold labels, to measure label merging where the truth is known.

Real crowd labels for SkillSpan do not exist here, so annotators are simulated from the gold
spans with the errors people make when they mark keywords: they miss spans (recall below 1),
put a boundary one or two tokens off (``shift``), confuse Skill and Knowledge, add a few
spurious spans, and a few spammers mark random short spans without reading. For skill
groups an annotator picks the skill's first gold group (sometimes another of its gold
groups) or, when wrong, most often a sibling group under the same level-1 parent (the
plausible confusion), else any group; spammers pick at random. Everything is driven by one seeded generator so a benchmark is reproducible.
"""

from __future__ import annotations

import random
from collections.abc import Sequence

import pandas as pd
from pydantic import Field

from common.core.config import StrictModel

from common.labels.spans import SPAN_COLUMNS, SpanCrowd
from common.text.spans import bio_to_spans
from common.core.types import KEYWORD_TYPES, Posting


class AnnotatorProfile(StrictModel):
    """Error rates of one simulated annotator."""

    name: str
    recall: float = Field(0.8, ge=0, le=1, description="Chance of marking a gold span at all.")
    shift: float = Field(
        0.2, ge=0, le=1, description="Chance a marked span has a boundary moved by 1-2 tokens."
    )
    type_swap: float = Field(0.05, ge=0, le=1, description="Chance Skill and Knowledge are swapped.")
    false_pos: float = Field(0.05, ge=0, description="Spurious spans per sentence (mean).")
    spammer: bool = Field(False, description="Ignores the text: random spans at the gold density.")
    group_accuracy: float = Field(0.75, ge=0, le=1, description="Chance of picking a correct group.")


def default_profiles() -> list[AnnotatorProfile]:
    """Seven annotators: two careful, three average, two spammers."""
    return [
        AnnotatorProfile(
            name="ann_careful1", recall=0.85, shift=0.12, type_swap=0.03, false_pos=0.03, group_accuracy=0.8
        ),
        AnnotatorProfile(
            name="ann_careful2", recall=0.8, shift=0.15, type_swap=0.04, false_pos=0.04, group_accuracy=0.75
        ),
        AnnotatorProfile(
            name="ann_avg1", recall=0.7, shift=0.25, type_swap=0.08, false_pos=0.06, group_accuracy=0.65
        ),
        AnnotatorProfile(
            name="ann_avg2", recall=0.65, shift=0.3, type_swap=0.1, false_pos=0.08, group_accuracy=0.6
        ),
        AnnotatorProfile(
            name="ann_avg3", recall=0.6, shift=0.3, type_swap=0.1, false_pos=0.1, group_accuracy=0.55
        ),
        AnnotatorProfile(name="ann_spam1", spammer=True, group_accuracy=0.0),
        AnnotatorProfile(name="ann_spam2", spammer=True, group_accuracy=0.0),
    ]


class CrowdSimConfig(StrictModel):
    """A simulated crowd: its annotators and how many label each item."""

    annotators: list[AnnotatorProfile] = Field(default_factory=default_profiles)
    per_doc: int = Field(5, ge=1, description="Annotators per posting (spans) or per skill (groups).")
    seed: int = 13


def _shift(s: int, e: int, n: int, rng: random.Random) -> tuple[int, int]:
    """Move one boundary of ``[s, e)`` by one or two tokens, staying inside ``[0, n)`` and non-empty."""
    for _ in range(5):
        d = rng.choice([-2, -1, 1, 2]) if rng.random() < 0.3 else rng.choice([-1, 1])
        ns, ne = (s + d, e) if rng.random() < 0.5 else (s, e + d)
        ns, ne = max(0, ns), min(n, ne)
        if ne > ns and (ns, ne) != (s, e):
            return ns, ne
    return s, e


def _random_span(n: int, rng: random.Random) -> tuple[int, int]:
    length = min(n, rng.choice([1, 1, 2, 2, 3, 4]))
    s = rng.randrange(0, n - length + 1)
    return s, s + length


def _poisson(lam: float, rng: random.Random) -> int:
    k, p, limit = 0, rng.random(), pow(2.718281828459045, -lam)
    while p > limit:
        k += 1
        p *= rng.random()
    return k


def simulate_span_crowd(postings: Sequence[Posting], config: CrowdSimConfig | None = None) -> SpanCrowd:
    """Labels of a simulated crowd over ``postings`` (each labelled by ``per_doc`` annotators)."""
    cfg = config or CrowdSimConfig()
    rng = random.Random(cfg.seed)
    profiles = cfg.annotators
    n_sent = sum(len(p.sentences) for p in postings) or 1
    gold_per_sent = {
        k: sum(len(bio_to_spans(s.tags.get(k) or [], k)) for p in postings for s in p.sentences) / n_sent
        for k in KEYWORD_TYPES
    }
    rows, assign = [], []
    for p in postings:
        chosen = rng.sample(profiles, min(cfg.per_doc, len(profiles)))
        for prof in chosen:
            assign.append((p.doc_id, prof.name))
            for si, sent in enumerate(p.sentences):
                n = len(sent.tokens)
                if n == 0:
                    continue
                if prof.spammer:
                    for ktype in KEYWORD_TYPES:
                        for _ in range(_poisson(gold_per_sent[ktype], rng)):
                            s, e = _random_span(n, rng)
                            rows.append((p.doc_id, si, ktype, s, e, prof.name))
                    continue
                for ktype in KEYWORD_TYPES:
                    for s, e, _ in bio_to_spans(sent.tags.get(ktype) or [], ktype):
                        if rng.random() >= prof.recall:
                            continue
                        if rng.random() < prof.shift:
                            s, e = _shift(s, e, n, rng)
                        t = ktype
                        if rng.random() < prof.type_swap:
                            t = "Knowledge" if ktype == "Skill" else "Skill"
                        rows.append((p.doc_id, si, t, s, e, prof.name))
                for _ in range(_poisson(prof.false_pos, rng)):
                    s, e = _random_span(n, rng)
                    rows.append((p.doc_id, si, rng.choice(KEYWORD_TYPES), s, e, prof.name))
    spans = pd.DataFrame(rows, columns=SPAN_COLUMNS).drop_duplicates().reset_index(drop=True)
    return SpanCrowd(spans=spans, assignments=pd.DataFrame(assign, columns=["doc_id", "annotator"]))


def group_parent(code: str) -> str:
    """Level-1 parent of an ESCO level-2 code (``S4.8`` -> ``S4``, ``061`` -> ``06``)."""
    return code.split(".")[0] if "." in code else code[:2]


def simulate_group_crowd(
    gold: dict[str, Sequence[str]], config: CrowdSimConfig | None = None, sibling_share: float = 0.7
) -> pd.DataFrame:
    """Categorical labels ``task, worker, label`` for skills with known (multi-label) gold groups."""
    cfg = config or CrowdSimConfig()
    rng = random.Random(cfg.seed + 1)
    codes = sorted({c for cs in gold.values() for c in cs})
    siblings: dict[str, list[str]] = {}
    for c in codes:
        siblings.setdefault(group_parent(c), []).append(c)
    rows = []
    for skill, true in gold.items():
        true = list(true)
        if not true:
            continue
        for prof in rng.sample(cfg.annotators, min(cfg.per_doc, len(cfg.annotators))):
            if prof.spammer:
                lab = rng.choice(codes)
            elif rng.random() < prof.group_accuracy:
                # most people name a skill's main group; some pick one of its other groups
                lab = true[0] if rng.random() < 0.8 else rng.choice(true)
            else:
                sib = [c for c in siblings.get(group_parent(true[0]), []) if c not in true]
                wrong = [c for c in codes if c not in true] or codes
                lab = rng.choice(sib) if sib and rng.random() < sibling_share else rng.choice(wrong)
            rows.append((skill, prof.name, lab))
    return pd.DataFrame(rows, columns=["task", "worker", "label"])
