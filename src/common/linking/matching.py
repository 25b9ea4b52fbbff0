"""Resume vs job in competency groups and, with a linker, in linked ESCO skills: the one ``match``
that ``/match``, gRPC and ``jobskills groups match`` all answer with.

The ESCO comparison used to exist only inside the group service, so the CLI gave another answer
for the same inputs; it lives here, above both ``groups`` and ``linking``.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from common.groups.matching import MatchResult
from common.linking.linker import LinkMatch


class EscoMatch(BaseModel):
    score: float = Field(description="0..1: the share of the job's linked ESCO skills the resume also has.")
    shared: list[LinkMatch] = Field(description="ESCO skills on both sides.")
    missing: list[LinkMatch] = Field(description="The job's ESCO skills the resume lacks.")
    unlinked_job_skills: list[str] = Field(description="Job skills with no ESCO link (compared by groups only).")


class SkillMatch(MatchResult):
    esco: EscoMatch | None = Field(None, description="The same comparison on linked ESCO skills (None without a linker).")


def esco_match(linker: Any, resume_skills: list[str], job_skills: list[str], links: list[Any] | None = None) -> EscoMatch:
    """Resume/job overlap on linked ESCO skills: the share of the job's linked skills the resume has.
    ``links``: the linker's results for resume + job skills when the caller already has them."""
    links = links if links is not None else linker.link(list(resume_skills) + list(job_skills), top_k=1)
    resume = {r.linked.uri: r.linked for r in links[: len(resume_skills)] if r.linked}
    job_links = links[len(resume_skills):]
    job = {r.linked.uri: r.linked for r in job_links if r.linked}
    shared = [m for u, m in job.items() if u in resume]
    return EscoMatch(score=len(shared) / len(job) if job else 0.0, shared=shared,
                     missing=[m for u, m in job.items() if u not in resume],
                     unlinked_job_skills=[r.skill for r in job_links if r.linked is None])
