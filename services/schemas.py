"""Request and response bodies of the HTTP API (they are also its OpenAPI schema).

Limits (text length, batch size) come from ``common.core.settings`` when a request is validated, not
when this module is imported, so a deployment changes them with ``JOBSKILLS_MAX_TEXT_CHARS`` and
``JOBSKILLS_MAX_BATCH_ITEMS``. A value that breaks a rule fails pydantic validation, which BentoML
answers with 400 and the reason; nothing here can produce a 500.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

from common.core.types import Keyword
from common.linking.matching import EscoMatch
from common.linking.skills import PostingSkill
from common.occupations.matching import EssentialCoverage
from common.occupations.ranker import OccupationMatch

MAX_SKILL_CHARS = 200


def _limits() -> tuple[int, int]:
    from common.core.settings import get_settings

    s = get_settings()
    return s.max_text_chars, s.max_batch_items


def check_text(value: str) -> str:
    """A posting or resume: not blank, not longer than ``settings.max_text_chars``."""
    if not value.strip():
        raise ValueError("text is empty")
    max_chars, _ = _limits()
    if len(value) > max_chars:
        raise ValueError(f"text has {len(value)} characters; the limit is {max_chars}")
    return value


def check_skill(value: str) -> str:
    """One skill phrase: not blank, at most 200 characters (a phrase, not a document)."""
    if not value.strip():
        raise ValueError("skill is empty")
    if len(value) > MAX_SKILL_CHARS:
        raise ValueError(f"skill has {len(value)} characters; the limit is {MAX_SKILL_CHARS}")
    return value


def check_batch(values: list) -> list:
    """A list of items: at least one, at most ``settings.max_batch_items``."""
    _, max_items = _limits()
    if not values:
        raise ValueError("the list is empty")
    if len(values) > max_items:
        raise ValueError(f"the list has {len(values)} items; the limit is {max_items}")
    return values


Text = Annotated[str, AfterValidator(check_text)]
Skill = Annotated[str, AfterValidator(check_skill)]
Skills = Annotated[list[Skill], AfterValidator(check_batch)]
Texts = Annotated[list[Text], AfterValidator(check_batch)]
Level = Literal[1, 2]
TopK = Annotated[int, Field(ge=1, le=20)]


class _Strict(BaseModel):
    """Unknown fields are refused so that a typo in a field name is a 400, not silently ignored."""

    model_config = ConfigDict(extra="forbid")


# ---- requests -----------------------------------------------------------------------------


WITH_SKILLS_HELP = ("false: leave out the posting's ESCO skills (skills: null), which cost about three times "
                    "the keywords' own ESCO links; the keywords keep their esco links.")


class ExtractRequest(_Strict):
    text: Text = Field(description="A job posting (plain text).")
    with_skills: bool = Field(True, description=WITH_SKILLS_HELP)


MAX_CONTEXT_CHARS = 2000


def check_context(value: str | None) -> str | None:
    """The sentence a skill comes from: at most 2,000 characters (a sentence, not a posting)."""
    if value is not None and len(value) > MAX_CONTEXT_CHARS:
        raise ValueError(f"context has {len(value)} characters; the limit is {MAX_CONTEXT_CHARS}")
    return value


Context = Annotated[str | None, AfterValidator(check_context)]


class LinkRequest(_Strict):
    skills: Skills = Field(description="Skill phrases to link to ESCO skills.")
    context: list[Context] | None = Field(None, description="Optional: one sentence per skill (null entries allowed).")
    top_k: TopK = Field(5, description="Candidate ESCO skills per phrase.")

    @model_validator(mode="after")
    def _one_context_per_skill(self) -> LinkRequest:
        if self.context is not None and len(self.context) != len(self.skills):
            raise ValueError(f"context has {len(self.context)} entries for {len(self.skills)} skills; "
                             "give one sentence per skill or leave it out")
        return self


class ExtractBatchRequest(_Strict):
    texts: Texts = Field(description="Several postings; at most settings.max_batch_items.")
    with_skills: bool = Field(True, description=WITH_SKILLS_HELP)


class ClassifyRequest(_Strict):
    skills: Skills = Field(description="Skill phrases to map onto competency groups.")
    level: Level = Field(2, description="1: broad groups, 2: finer groups.")
    top_k: TopK = 5


class AnalyzeRequest(_Strict):
    text: Text = Field(description="A job posting; keywords come back with their groups.")
    level: Level = 2
    top_k: TopK = 3
    with_skills: bool = Field(True, description=WITH_SKILLS_HELP)


class MatchRequest(_Strict):
    """Resume and job as texts (keywords are extracted) or as skill lists (used as given)."""

    resume: Text | None = None
    job: Text | None = None
    resume_skills: Skills | None = None
    job_skills: Skills | None = None
    level: Level = 2

    @model_validator(mode="after")
    def _one_of_each(self) -> MatchRequest:
        if (self.resume is None) == (self.resume_skills is None):
            raise ValueError("give exactly one of resume or resume_skills")
        if (self.job is None) == (self.job_skills is None):
            raise ValueError("give exactly one of job or job_skills")
        return self


class TopicsRequest(_Strict):
    text: Text


class FeedbackKeyword(_Strict):
    start: int = Field(ge=0)
    end: int = Field(ge=1)  # ge, not gt: OpenAPI 3.0 has no numeric exclusiveMinimum
    type: Literal["Skill", "Knowledge"]
    text: str | None = Field(None, description="Optional; checked against text[start:end] when given.")


class FeedbackGroups(_Strict):
    skill: Skill
    codes: Annotated[list[Annotated[str, Field(min_length=1, max_length=50)]], Field(min_length=1, max_length=20)]


class FeedbackRequest(_Strict):
    """A person's corrected keywords (the full list they accept) for one text."""

    text: Text
    keywords: Annotated[list[FeedbackKeyword], Field(max_length=1000)] = Field(default_factory=list)
    groups: Annotated[list[FeedbackGroups], Field(max_length=1000)] = Field(
        default_factory=list, description="Accepted group codes per skill phrase."
    )
    annotator: Annotated[str, Field(max_length=100)] = "web"
    note: Annotated[str, Field(max_length=2000)] = ""

    @model_validator(mode="after")
    def _spans_inside_text(self) -> FeedbackRequest:
        n = len(self.text)
        for i, kw in enumerate(self.keywords):
            if kw.end <= kw.start or kw.end > n:
                raise ValueError(f"keyword {i} has offsets {kw.start}..{kw.end} outside the text (length {n})")
            if not self.text[kw.start : kw.end].strip():
                raise ValueError(f"keyword {i} covers only whitespace")
            if kw.text is not None and kw.text != self.text[kw.start : kw.end]:
                raise ValueError(f"keyword {i} text {kw.text!r} differs from text[{kw.start}:{kw.end}]")
        return self

    def to_record(self) -> dict:
        """The feedback record format of ``common.data.request_log``."""
        kws = [
            Keyword(start=k.start, end=k.end, text=self.text[k.start : k.end], type=k.type, score=1.0).model_dump()
            for k in self.keywords
        ]
        groups: dict[str, list[str]] = {}
        for g in self.groups:
            groups.setdefault(g.skill, [])
            groups[g.skill] += [c for c in g.codes if c not in groups[g.skill]]
        return {"text": self.text, "keywords": kws, "groups": groups, "annotator": self.annotator,
                "note": self.note}


# ---- responses ----------------------------------------------------------------------------


class GroupOut(BaseModel):
    code: str
    label: str
    level: int
    score: float = Field(description="The model's probability that the skill belongs to the group.")


class RankedGroupOut(GroupOut):
    decided: bool = Field(description="True when the model puts the skill in this group (score >= threshold, "
                          "or the best group); false for a ranked extra shown for browsing.")


class EscoLink(BaseModel):
    uri: str = Field(description="The ESCO skill's URI (http://data.europa.eu/esco/skill/...).")
    label: str = Field(description="Its ESCO preferred label.")
    score: float = Field(description="The linker's fused similarity; links below its threshold are null.")


class GroupDecisionOut(BaseModel):
    groups: list[GroupOut] = Field(description="The decision: the groups the skill is in, best first.")
    ranked: list[RankedGroupOut] = Field(description="The top_k groups by score, decided or not.")
    threshold: float = Field(description="The probability threshold the decision used (tuned at training).")
    source: Literal["taxonomy", "classifier"] = Field(
        "classifier", description="taxonomy: the groups of the ESCO skill the phrase is linked to; "
        "classifier: the group model's decision (unlinked phrases, held-out skills).")
    esco: EscoLink | None = Field(None, description="The ESCO skill the phrase is linked to, if any.")


Importance = Literal["essential", "optional", "other"]


class LinkedKeyword(Keyword):
    esco: EscoLink | None = Field(None, description="The ESCO skill this keyword names, or null (unlinked, or no linker).")
    importance: Importance | None = Field(
        None, description="For a keyword with an ESCO skill: essential / optional for the posting's top occupation "
        "(ESCO's relation), other when that occupation does not list it; null without a skill or an occupation model.")


class PostingSkillOut(PostingSkill):
    """An ESCO skill the posting names (a keyword linked to it) or implies (a sentence ranks it;
    ``implied: true``), ``common.linking.skills.PostingSkill``."""


class OccupationOut(OccupationMatch):
    """An ESCO occupation the posting describes (``common.occupations.OccupationMatch``)."""


class OccupationsRequest(_Strict):
    text: Text = Field(description="A job posting; its first line is taken as the title unless `title` is given.")
    title: Annotated[str, Field(max_length=200)] | None = Field(None, description="The posting's title (at most 200 characters).")
    top_k: TopK = Field(3, description="Occupations to return.")

    @model_validator(mode="after")
    def _title_not_blank(self) -> OccupationsRequest:
        if self.title is not None and not self.title.strip():
            raise ValueError("title is blank; leave it out to use the posting's first line")
        return self


class OccupationsResponse(BaseModel):
    title: str | None = Field(description="The title used (given, or the first line); null: ranked by skills alone.")
    occupations: list[OccupationOut] = Field(description="Best first, with the posting's essential and optional skills.")
    keywords: list[LinkedKeyword] = Field(description="The posting's keywords with their ESCO skill and importance.")
    model_tag: str | None = Field(description="The occupation model that answered.")


class ModelDescription(BaseModel):
    """Which model answered and how good it is on dev (from the registry)."""

    tag: str | None
    tier: str | None = Field(None, description="fast or accurate (keyword models); null for group models.")
    metric: str | None = Field(None, description="The registry's primary metric, e.g. span.overall.f1.")
    score: float | None = Field(None, description="Its dev value when the model was registered.")
    floor: float = Field(description="The quality floor (JOBSKILLS_KEYWORD_SCORE_FLOOR / _GROUP_SCORE_FLOOR).")
    quality: Literal["ok", "below_floor", "unknown"]
    warning: str | None = None


class LinkResultOut(BaseModel):
    skill: str
    matches: list[EscoLink] = Field(description="The top_k ESCO skills, best first.")
    linked: EscoLink | None = Field(description="The best match when it clears the threshold, else null.")


class LinkResponse(BaseModel):
    results: list[LinkResultOut]
    taxonomy: str = Field(description="The taxonomy linked to, e.g. ESCO v1.2.0.")
    model_tag: str | None
    model: ModelDescription | None = Field(None, description="The linker that answered.")


class ExtractResponse(BaseModel):
    keywords: list[LinkedKeyword]
    skills: list[PostingSkillOut] | None = Field(None, description="The posting's ESCO skills, best first: named by "
                                                 "a keyword (evidence: its spans) or implied by a sentence (implied: true; "
                                                 "evidence: the sentence). Null without a linker, or with with_skills: false.")
    occupations: list[OccupationOut] | None = Field(None, description="The top 3 ESCO occupations (null without an occupation model).")
    model_tag: str | None
    model: ModelDescription | None = Field(None, description="The keyword model that answered.")


class ExtractBatchResponse(BaseModel):
    results: list[list[LinkedKeyword]]
    skills: list[list[PostingSkillOut]] | None = Field(None, description="Per posting, its ESCO skills named or implied "
                                                       "(as /extract's skills). Null without a linker, or with "
                                                       "with_skills: false.")
    occupations: list[list[OccupationOut]] | None = Field(None, description="Per posting, the top 3 ESCO occupations "
                                                          "(null without an occupation model).")
    model_tag: str | None
    model: ModelDescription | None = Field(None, description="The keyword model that answered.")


class SkillGroups(GroupDecisionOut):
    skill: str


class ClassifyResponse(BaseModel):
    results: list[SkillGroups] = Field(description="Per skill: the model's decision (groups), the top_k "
                                       "ranking (ranked) and the threshold used.")
    model_tag: str | None
    model: ModelDescription | None = Field(None, description="The group model that answered.")


class AnalyzedKeyword(LinkedKeyword):
    groups: list[GroupOut] = Field(description="The group model's decision for this keyword (empty without one).")
    ranked: list[RankedGroupOut] = Field(default_factory=list, description="The top_k groups; `decided` marks "
                                         "the decision, the others are ranked extras.")
    group_source: Literal["taxonomy", "classifier"] | None = Field(
        None, description="Where the groups come from: the linked ESCO skill (taxonomy) or the group model.")


class AnalyzeResponse(BaseModel):
    keywords: list[AnalyzedKeyword]
    skills: list[PostingSkillOut] | None = Field(None, description="The posting's ESCO skills, best first: named by "
                                                 "a keyword (evidence: its spans) or implied by a sentence (implied: true; "
                                                 "evidence: the sentence). Null without a linker, or with with_skills: false.")
    occupations: list[OccupationOut] | None = Field(None, description="The top 3 ESCO occupations (null without an occupation model).")
    keyword_model_tag: str | None
    group_model_tag: str | None
    keyword_model: ModelDescription | None = None
    group_model: ModelDescription | None = None


class GroupMatchOut(BaseModel):
    code: str
    label: str
    level: int
    job_weight: float
    resume_weight: float
    contribution: float
    job_skills: list[str]
    resume_skills: list[str]


class EscoMatchOut(EscoMatch):
    """``common.linking.matching.EscoMatch`` with the API's ``EscoLink`` for each skill."""

    shared: list[EscoLink] = Field(description="ESCO skills on both sides.")
    missing: list[EscoLink] = Field(description="The job's ESCO skills the resume lacks.")


class MatchResponse(BaseModel):
    occupation: EssentialCoverage | None = Field(
        None, description="First: the job's ESCO occupation and how many of its essential skills the resume has "
        "(`score`), essential skills then the rest, missing ones first (null without an occupation model).")
    score: float = Field(description="0..1: how much of the job's competency-group weight the resume covers.")
    level: int
    groups: list[GroupMatchOut] = Field(description="Groups shared by resume and job, biggest contribution first.")
    missing: list[GroupMatchOut] = Field(description="Job groups the resume does not cover.")
    exact_overlap: list[str]
    resume_skills: list[str]
    job_skills: list[str]
    group_model_tag: str | None
    esco: EscoMatchOut | None = Field(None, description="The same comparison on linked ESCO skills (null without a linker).")


class TopicOut(BaseModel):
    id: int
    label: str
    words: list[str]
    score: float


class TopicsResponse(BaseModel):
    topics: list[TopicOut] = Field(description="Nearest topics first (score: cosine to the topic centroid).")
    tags: list[str]
    summary: list[str] = Field(description="Up to 3 sentences of the text, in document order.")
    keywords: list[Keyword] = Field(description="The keywords used for the tags (empty without a keyword model).")
    model: str | None


class FeedbackResponse(BaseModel):
    stored: int


class ErrorResponse(BaseModel):
    error: str
