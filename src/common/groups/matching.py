"""Candidate-job matching in competency groups (SkillBERT's impact section).

Why groups: a resume listing "AngularJS, CSS" and a job asking for "web development" share no
string, but both land in the same competency group. Each side's skills are put into groups
(``GroupModel.assign``: the threshold rule, at least one group per skill); the job's profile
weights each group by its best skill probability, the resume's likewise, and the score is the
share of the job's group weight that the resume covers:

    score = sum_g min(job_g, resume_g) / sum_g job_g        (0..1)

The groups that explain the score come back sorted by their contribution, each with the job
and resume skills that put it there; the job groups the resume lacks come back as ``missing``.
"""

from __future__ import annotations

from typing import Any, Protocol

from pydantic import BaseModel, Field


class _Assigner(Protocol):
    def assign(self, skills: list[str], level: int = 2) -> list[list[Any]]: ...


class GroupMatch(BaseModel):
    """One competency group in a match and why it is there."""

    code: str
    label: str
    level: int
    job_weight: float = Field(description="Best probability of this group among the job's skills.")
    resume_weight: float = Field(description="Best probability of this group among the resume's skills.")
    contribution: float = Field(description="This group's share of the score.")
    job_skills: list[str]
    resume_skills: list[str]


class MatchResult(BaseModel):
    score: float = Field(description="0..1: how much of the job's competency-group weight the resume covers.")
    level: int
    groups: list[GroupMatch] = Field(description="Groups shared by resume and job, biggest contribution first.")
    missing: list[GroupMatch] = Field(default_factory=list, description="Job groups the resume does not cover.")
    exact_overlap: list[str] = Field(default_factory=list, description="Skills named identically on both sides.")


def _clean(skills: list[str]) -> list[str]:
    out = [" ".join(str(s).split()) for s in skills]
    return list(dict.fromkeys(s for s in out if s))


def _profile(skills: list[str], assigned: list[list[Any]]) -> dict[str, dict[str, Any]]:
    prof: dict[str, dict[str, Any]] = {}
    for skill, groups in zip(skills, assigned, strict=True):
        for g in groups:
            entry = prof.setdefault(str(g.code), {"label": str(g.label), "level": int(g.level), "weight": 0.0, "skills": []})
            entry["weight"] = max(entry["weight"], float(g.score))
            entry["skills"].append(skill)
    return prof


def match(resume_skills: list[str], job_skills: list[str], model: _Assigner, level: int = 2) -> MatchResult:
    """Score how well ``resume_skills`` cover ``job_skills`` in competency groups at ``level``."""
    resume, job = _clean(resume_skills), _clean(job_skills)
    exact = sorted({s.lower() for s in resume} & {s.lower() for s in job})
    if not job:
        return MatchResult(score=0.0, level=level, groups=[], missing=[], exact_overlap=exact)
    both = list(dict.fromkeys(resume + job))
    assigned = dict(zip(both, model.assign(both, level=level), strict=True))
    jprof = _profile(job, [assigned[s] for s in job])
    rprof = _profile(resume, [assigned[s] for s in resume])
    total = sum(e["weight"] for e in jprof.values()) or 1.0
    shared, missing = [], []
    for code, je in jprof.items():
        re_ = rprof.get(code)
        rw = re_["weight"] if re_ else 0.0
        gm = GroupMatch(code=code, label=je["label"], level=je["level"], job_weight=je["weight"], resume_weight=rw,
                        contribution=min(je["weight"], rw) / total, job_skills=je["skills"],
                        resume_skills=re_["skills"] if re_ else [])
        (shared if re_ else missing).append(gm)
    shared.sort(key=lambda g: -g.contribution)
    missing.sort(key=lambda g: -g.job_weight)
    score = float(min(1.0, sum(g.contribution for g in shared)))
    return MatchResult(score=score, level=level, groups=shared, missing=missing, exact_overlap=exact)
