"""Per-posting descriptors that drift monitoring compares between training and production.

Each served posting becomes one row of numbers: its length, how much of its vocabulary the
training data never saw, how many keywords the model found, how many of those are skills the
training labels never contained, and how confident the model was. These are cheap, explainable
signals: when they move, a person can see *what* changed, which an embedding distance alone
cannot say.

Out-of-vocabulary rate and unknown-skill share are measured against the training data, so the
training rows themselves would score 0 by construction and every production window would look
drifted. ``cross_fitted_descriptors`` therefore scores each training posting against the
vocabulary and skill set of the *other* folds: the reference then shows what an unseen posting
from the training distribution looks like.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np

from common.text.spans import normalise_keyword

#: Numeric descriptor columns, in report order.
DESCRIPTOR_COLUMNS: tuple[str, ...] = (
    "length_words",
    "oov_rate",
    "unknown_skill_share",
    "keywords_per_posting",
    "mean_confidence",
)

# Words: runs of letters (any script) possibly joined by ' + # . - (c++, c#, node.js, e-mail).
_WORD = re.compile(r"[^\W\d_]+(?:[+#.'\-][^\W\d_]+)*[+#]*", re.UNICODE)
# SkillSpan de-identification placeholders such as <ORGANIZATION>; not words of the posting.
_PLACEHOLDER = re.compile(r"<[A-Z_]+>")


def words(text: str) -> list[str]:
    """Lower-cased word tokens of ``text`` (numbers, punctuation and placeholders dropped)."""
    return [m.group().lower() for m in _WORD.finditer(_PLACEHOLDER.sub(" ", text))]


@dataclass(frozen=True)
class MonitoredItem:
    """One served posting and what the model answered for it (the unit of a drift window).

    ``keywords`` are ``(text, score)`` pairs; ``groups`` holds the top skill-group code of each
    keyword when the group model was called (``None`` when it was not).
    """

    text: str
    keywords: tuple[tuple[str, float], ...] = ()
    groups: tuple[str, ...] | None = None
    ts: str | None = None
    model_tag: str | None = None


@dataclass
class Vocabulary:
    """What the training data contained: its words and its (normalised) keyword strings."""

    words: set[str] = field(default_factory=set)
    skills: set[str] = field(default_factory=set)

    @classmethod
    def from_training(cls, texts: Iterable[str], skills: Iterable[str]) -> Vocabulary:
        vocab = cls()
        for t in texts:
            vocab.words.update(words(t))
        vocab.skills.update(s for s in (normalise_keyword(k) for k in skills) if s)
        return vocab


def describe(item: MonitoredItem, vocab: Vocabulary) -> dict[str, float]:
    """The descriptor row of one item; NaN where a ratio has no denominator (no words/keywords)."""
    toks = words(item.text)
    n_kw = len(item.keywords)
    kw_norm = [normalise_keyword(k) for k, _ in item.keywords]
    return {
        "length_words": float(len(toks)),
        "oov_rate": (sum(t not in vocab.words for t in toks) / len(toks)) if toks else math.nan,
        "unknown_skill_share": (sum(k not in vocab.skills for k in kw_norm) / n_kw) if n_kw else math.nan,
        "keywords_per_posting": float(n_kw),
        "mean_confidence": float(np.mean([s for _, s in item.keywords])) if n_kw else math.nan,
    }


def describe_all(items: Sequence[MonitoredItem], vocab: Vocabulary) -> list[dict[str, float]]:
    return [describe(it, vocab) for it in items]


def cross_fitted_descriptors(
    items: Sequence[MonitoredItem],
    training_skills: Sequence[Sequence[str]],
    n_folds: int = 10,
    seed: int = 13,
) -> list[dict[str, float]]:
    """Descriptors of training items, each scored against the vocabulary of the other folds.

    ``training_skills[i]`` are the labelled keywords of training item ``i`` (the known-skill set
    is built from labels, not predictions). With ``n_folds`` folds the held-out vocabulary holds
    (n_folds-1)/n_folds of the training data, close to the full vocabulary used for production.
    """
    n = len(items)
    if n < 2:
        raise ValueError("the reference needs at least 2 training postings")
    k = max(2, min(n_folds, n))
    rng = np.random.default_rng(seed)
    fold_of = rng.permutation(np.arange(n) % k)
    rows: list[dict[str, float] | None] = [None] * n
    for f in range(k):
        inside = [i for i in range(n) if fold_of[i] != f]
        vocab = Vocabulary.from_training(
            (items[i].text for i in inside), (s for i in inside for s in training_skills[i])
        )
        for i in range(n):
            if fold_of[i] == f:
                rows[i] = describe(items[i], vocab)
    return [r for r in rows if r is not None]
