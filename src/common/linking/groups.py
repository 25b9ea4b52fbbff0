"""Groups that follow the link: a keyword linked to a taxonomy skill with known groups takes
those groups; an unlinked keyword (or one linked to a held-out skill) goes to the classifier.

Why: the taxonomy's own groups of a skill are its ground truth, and the classifier, trained on
ESCO's long texts, is weakest on exactly the short phrases that keywords are. The classifier
stays the answer for what ESCO lacks or hides.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

from pydantic import BaseModel, Field

from common.groups.model import GroupDecision, GroupScore
from common.linking.linker import LinkMatch


class LinkedGroups(BaseModel):
    skill: str
    decision: GroupDecision
    source: Literal["taxonomy", "classifier"] = Field(
        description="taxonomy: the groups of the linked ESCO skill; classifier: the group model's decision.")
    esco: LinkMatch | None = None


def _taxonomy_decision(codes: list[str], labels: dict[str, str], level: int, score: float,
                       model_decision: GroupDecision, top_k: int) -> GroupDecision:
    """The linked skill's own groups as the decision (scored with the link's score), and the
    classifier's ranking after them for browsing."""
    groups = [GroupScore(code=c, label=labels.get(c, c), level=level, score=round(score, 4)) for c in codes]
    ranked = groups + [g for g in model_decision.ranked if g.code not in set(codes)]
    return GroupDecision(groups=groups, ranked=ranked[: max(top_k, len(groups))], threshold=model_decision.threshold)


def linked_groups(skills: Sequence[str], linker: Any | None, group_model: Any, level: int = 2, top_k: int = 5,
                  links: Sequence[LinkMatch | None] | None = None) -> list[LinkedGroups]:
    """Per skill: the taxonomy's groups of its ESCO link when it has them, else the classifier's.

    ``links`` (one per skill, from an earlier ``linker.link`` call) saves linking twice.
    """
    skills = list(skills)
    if links is None:
        links = [r.linked for r in linker.link(skills, top_k=1)] if linker is not None else [None] * len(skills)
    decisions = group_model.decide(skills, level=level, top_k=top_k) if skills else []
    labels = {c: lab for st in group_model.levels.values() for c, lab in zip(st.codes, st.labels, strict=True)}
    out = []
    for skill, link, model_decision in zip(skills, links, decisions, strict=True):
        codes = linker.groups_of(link.uri, level) if (link is not None and linker is not None) else []
        if codes:
            out.append(LinkedGroups(skill=skill, source="taxonomy", esco=link,
                                    decision=_taxonomy_decision(codes, labels, level, link.score, model_decision,
                                                                          top_k)))
        else:
            out.append(LinkedGroups(skill=skill, source="classifier", esco=link, decision=model_decision))
    return out
