"""Keyword texts as phrases: one normalisation for linking, classifying and matching everywhere.

The API, gRPC and the CLI each turned keywords into phrases and looked the answers up again, with
different rules (the service lower-cased, the CLI did not), so ``jobskills keywords extract`` and ``/extract``
could link the same keyword differently. These functions are the one rule: whitespace runs
collapse, case is ignored for identity, and each distinct phrase is sent once.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any, TypeVar

T = TypeVar("T")


def phrase_key(text: str) -> str:
    """The identity of a phrase: whitespace-normalised, lower-cased."""
    return " ".join(str(text).split()).lower()


def unique_phrases(texts: Iterable[str]) -> list[str]:
    """Whitespace-normalised phrases, case-insensitively unique, first spelling kept, in order."""
    seen: dict[str, str] = {}
    for t in texts:
        phrase = " ".join(str(t).split())
        if phrase and phrase.lower() not in seen:
            seen[phrase.lower()] = phrase
    return list(seen.values())


def per_text(texts: Sequence[str], phrases: Sequence[str], answers: Sequence[T]) -> list[T | None]:
    """The answer for each text, looked up by its phrase (None where the phrase got no answer)."""
    by_key = {phrase_key(p): a for p, a in zip(phrases, answers, strict=False)}
    return [by_key.get(phrase_key(t)) for t in texts]


def compose_analysis(keywords: Sequence[Mapping[str, Any]], decisions: Mapping[str, Any]) -> list[dict[str, Any]]:
    """``/analyze``'s answer: each keyword with its phrase's group decision (``groups``, ``ranked``,
    ``group_source``) and the ESCO link the decision followed; keywords without a decision keep
    their own ``esco`` and get no groups."""
    by_key = {phrase_key(p): d for p, d in decisions.items()}
    out = []
    for k in keywords:
        d = by_key.get(phrase_key(k["text"]))
        out.append({**k, **({"esco": d.esco} if d is not None else {}),
                    "groups": d.groups if d is not None else [], "ranked": d.ranked if d is not None else [],
                    "group_source": d.source if d is not None else None})
    return out
