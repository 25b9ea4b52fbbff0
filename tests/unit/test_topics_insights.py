"""Resume insights: keywords -> groups counted over the resume, nearest topics, summary, what is missing."""

from __future__ import annotations

import re
from dataclasses import dataclass

from common.topics.insights import resume_insights
from common.core.types import Keyword

RESUME = ("Registered nurse with ten years on intensive care wards.\nI lead a team of six nurses.\n"
          "Hobbies: hiking.\nTrained new staff in patient care and wound care.")


class WordTagger:
    """A stand-in tagger with the `KeywordTagger.extract` contract: finds a fixed list of phrases."""

    PHRASES = ("intensive care", "lead a team", "patient care", "wound care", "trained new staff")

    def extract(self, texts: list[str]) -> list[list[Keyword]]:
        return [[Keyword(start=m.start(), end=m.end(), text=m.group(0), type="Skill")
                 for p in self.PHRASES for m in re.finditer(re.escape(p), t, flags=re.I)] for t in texts]


@dataclass
class Score:
    code: str
    label: str
    level: int
    score: float


class CareGroups:
    """A stand-in group model with the `GroupModel.predict` contract."""

    def predict(self, skills: list[str], level: int = 2, top_k: int = 5) -> list[list[Score]]:
        return [[Score("S4.8", "supervising people", level, 0.9)] if ("lead" in s or "staff" in s)
                else [Score("0913", "nursing and midwifery", level, 0.8)] for s in skills]


def test_insights_with_all_parts(tmp_path):
    out = resume_insights(RESUME, WordTagger(), CareGroups())
    assert [k["text"] for k in out["keywords"]][:2] == ["intensive care", "lead a team"]
    assert {s["keyword"]: s["group"] for s in out["skills"]}["wound care"] == "0913"
    assert out["groups"] == [{"code": "0913", "label": "nursing and midwifery", "keywords": 3},
                             {"code": "S4.8", "label": "supervising people", "keywords": 2}]
    assert "Hobbies: hiking." not in out["summary"] and len(out["summary"]) == 3
    assert out["missing"] == ["topics (no topic model)"]


def test_insights_say_what_is_missing():
    out = resume_insights(RESUME)
    assert out["keywords"] == [] and out["groups"] == [] and out["topics"] == []
    assert out["missing"] == ["keywords (no tagger)", "groups (no group model)", "topics (no topic model)"]
    assert out["summary"] == RESUME.splitlines()[:3]  # nothing to rank by: the lead sentences
