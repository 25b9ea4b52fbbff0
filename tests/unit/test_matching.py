"""Candidate-job matching on a resume/job pair whose group overlap is known."""

from __future__ import annotations

import pytest

from common.groups.model import GroupScore
from common.groups.matching import match

# a stand-in group model: each skill's assigned groups and probabilities are fixed by hand
ASSIGNED = {
    "angularjs": [("WEB", "web development", 0.9)],
    "css": [("WEB", "web development", 0.8)],
    "web development": [("WEB", "web development", 0.95)],
    "cook meals": [("FOOD", "cooking", 0.6)],
    "sql": [("DATA", "databases", 0.7), ("WEB", "web development", 0.5)],
    "python": [("DATA", "databases", 0.4)],
}


class StubModel:
    def __init__(self) -> None:
        self.calls: list[list[str]] = []

    def assign(self, skills, level=2):
        self.calls.append(list(skills))
        return [[GroupScore(code=c, label=lab, level=level, score=p) for c, lab, p in ASSIGNED[s.lower()]] for s in skills]


def test_match_scores_covered_share_of_job_groups():
    res = match(["AngularJS", "CSS", "python"], ["web development", "cook meals", "SQL"], StubModel())
    # job profile: WEB 0.95 (max of web development 0.95, SQL 0.5), FOOD 0.6, DATA 0.7 -> total 2.25
    # resume profile: WEB 0.9, DATA 0.4 -> covered min(0.95, 0.9) + min(0.7, 0.4) = 1.3
    assert res.score == pytest.approx(1.3 / 2.25)
    assert [g.code for g in res.groups] == ["WEB", "DATA"]
    web = res.groups[0]
    assert web.resume_skills == ["AngularJS", "CSS"] and web.job_skills == ["web development", "SQL"]
    assert web.contribution == pytest.approx(0.9 / 2.25)
    assert [g.code for g in res.missing] == ["FOOD"]
    assert res.exact_overlap == []


def test_match_identical_lists_score_one_and_empty_job_scores_zero():
    model = StubModel()
    res = match(["css", "sql"], ["css", "sql", " css "], model)
    assert res.score == pytest.approx(1.0) and res.missing == []
    assert res.exact_overlap == ["css", "sql"]
    assert model.calls == [["css", "sql"]]  # deduplicated, one batched call
    assert match(["css"], [], StubModel()).score == 0.0
    assert match([], ["css"], StubModel()).score == 0.0
