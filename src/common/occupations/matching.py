"""Resume vs job with the job's occupation: the job's essential skills first, then the rest.

A recruiter reads "the resume has 3 of the job's 5 essential skills" before any overall score.
The job's occupation comes from its skills (and title, when given); each of the job's skills is
``essential`` / ``optional`` / ``other`` for it (ESCO's relation), and coverage is reported for the
essential ones first. Skills are ESCO URIs: the linker's link, else the exact ESCO name.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from common.linking.matching import SkillMatch, esco_match
from common.occupations.ranker import OccupationMatch


class SkillCoverage(BaseModel):
    uri: str
    label: str
    importance: str = Field(description="essential / optional / other for the job's occupation.")
    on_resume: bool


class EssentialCoverage(BaseModel):
    occupation: OccupationMatch | None = Field(description="The job's top ESCO occupation (null: no skill of the job is known).")
    score: float | None = Field(description="0..1: the share of the job's essential skills the resume has; null when "
                                "none of the job's skills is essential for its occupation.")
    essential: list[SkillCoverage] = Field(description="The job's essential skills, missing ones first.")
    rest: list[SkillCoverage] = Field(description="The job's other ESCO skills (optional, then other), missing ones first.")


class JobMatch(SkillMatch):
    occupation: EssentialCoverage | None = Field(None, description="Coverage of the job's essential skills for its "
                                                  "occupation (null without an occupation model).")


def essential_coverage(model: Any, job_uris: list[str], resume_uris: list[str], job_title: str | None = None) -> EssentialCoverage:
    """The job's occupation and which of its essential / other skills the resume covers."""
    job = list(dict.fromkeys(job_uris))
    if not job and not job_title:
        return EssentialCoverage(occupation=None, score=None, essential=[], rest=[])
    (res,) = model.analyze([job_title or ""], [job], [job_title], top_k=1)
    have = set(resume_uris)
    rows = [SkillCoverage(uri=u, label=model.labels.get(u, u), importance=res.importance.get(u, "other"), on_resume=u in have)
            for u in job]
    order = {"essential": 0, "optional": 1, "other": 2}
    rows.sort(key=lambda r: (order[r.importance], r.on_resume))
    ess = [r for r in rows if r.importance == "essential"]
    return EssentialCoverage(occupation=res.occupations[0] if res.occupations else None,
                             score=round(sum(r.on_resume for r in ess) / len(ess), 4) if ess else None,
                             essential=ess, rest=[r for r in rows if r.importance != "essential"])


def match_with_occupation(resume_skills: list[str], job_skills: list[str], group_model: Any, linker: Any | None,
                          occupations: Any | None, level: int = 2, job_title: str | None = None) -> JobMatch:
    """Resume vs job: competency groups (``common.groups.matching``), linked ESCO skills (with a
    linker) and the job's essential skills first (with an occupation model); each phrase is
    linked once for all three. /match, ``jobskills groups match`` and the tests share this one."""
    from common.groups.matching import match

    groups = match(resume_skills, job_skills, group_model, level=level)
    links = linker.link(list(resume_skills) + list(job_skills), top_k=1) if linker is not None else None
    esco = esco_match(linker, resume_skills, job_skills, links) if linker is not None else None
    coverage = None
    if occupations is not None:
        linked = [r.linked.uri if r.linked else None for r in links] if links else [None] * (len(resume_skills) + len(job_skills))
        uris = occupations.keyword_skills(list(resume_skills) + list(job_skills), linked)
        n = len(resume_skills)
        coverage = essential_coverage(occupations, [u for u in uris[n:] if u], [u for u in uris[:n] if u], job_title)
    return JobMatch(**groups.model_dump(), esco=esco, occupation=coverage)
