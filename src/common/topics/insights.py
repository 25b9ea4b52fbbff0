"""Resume insights (seed 000: "screen or get insights from large number of resumes").

For a resume: the keywords the tagger finds, the competency groups of those keywords (when a
group model is available), its nearest topics of the posting collection, and the sentences
that carry most of its keywords. Each part is optional so the insight still works while a model
is missing (e.g. no group model trained yet): the dict says which parts were left out.
"""

from __future__ import annotations

from collections import Counter
from typing import Any, Protocol

from common.core.types import Keyword


class _Tagger(Protocol):
    def extract(self, texts: list[str]) -> list[list[Keyword]]: ...


class _Groups(Protocol):
    def predict(self, skills: list[str], level: int = 2, top_k: int = 5) -> list[list[Any]]: ...


def resume_insights(
    text: str,
    tagger: _Tagger | None = None,
    group_model: _Groups | None = None,
    topic_model: Any | None = None,
    level: int = 2,
    top_groups: int = 5,
) -> dict[str, Any]:
    """Keywords, their groups (counted over the resume), nearest topics and a summary of one resume."""
    from common.text.spans import normalise_keyword
    from common.topics.summarize import extractive_summary

    missing: list[str] = []
    keywords: list[Keyword] = tagger.extract([text])[0] if tagger is not None and text.strip() else []
    if tagger is None:
        missing.append("keywords (no tagger)")
    skills = list(dict.fromkeys(normalise_keyword(k.text) for k in keywords if normalise_keyword(k.text)))

    per_keyword: list[dict[str, Any]] = []
    group_counts: Counter[str] = Counter()
    labels: dict[str, str] = {}
    if group_model is not None and skills:
        for skill, scores in zip(skills, group_model.predict(skills, level=level, top_k=1), strict=True):
            best = scores[0] if scores else None
            per_keyword.append({"keyword": skill, "group": best.code if best else None,
                                "label": best.label if best else None,
                                "score": round(float(best.score), 4) if best else None})
            if best:
                group_counts[best.code] += 1
                labels[best.code] = best.label
    elif group_model is None:
        missing.append("groups (no group model)")
        per_keyword = [{"keyword": s, "group": None, "label": None, "score": None} for s in skills]

    topics: list[dict[str, Any]] = []
    summary: list[str]
    if topic_model is not None:
        desc = topic_model.describe([text], [keywords] if tagger is not None else None)[0]
        topics, summary = desc["topics"], desc["summary"]
    else:
        missing.append("topics (no topic model)")
        summary = extractive_summary(text, keywords=keywords or None)

    return {
        "keywords": [k.model_dump() for k in keywords],
        "skills": per_keyword,
        "groups": [{"code": c, "label": labels[c], "keywords": n} for c, n in group_counts.most_common(top_groups)],
        "topics": topics,
        "summary": summary,
        "missing": missing,
    }
