"""Skill-group service: the champion group classifier and the ESCO linker behind adaptively
batched APIs.

``classify`` takes one query per skill (skill, level, top_k) so that BentoML can merge the
queries of concurrent requests; queries are grouped by (level, top_k) inside the batch. With a
linker loaded, a phrase linked to an ESCO skill with known groups takes those groups
(``common.linking.groups``); the others get the classifier's decision. ``link`` serves the linker
itself, ``link_postings`` a posting's keywords' links and its ESCO skills (named by its keywords or implied by
its sentences) in one pass.
Both models live in this one worker: they answer the same phrases, and a third model process
would cost another few hundred MB for a 40 MB index.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

import bentoml
from bentoml.exceptions import ServiceUnavailable
from pydantic import BaseModel, Field

from common.core.jsonable import to_jsonable
from common.core.settings import get_settings, resolve_device, use_threads
from common.core.types import Keyword
from services import model_sources
from services.config import ServingConfig
from services.schemas import (EscoLink, GroupDecisionOut, GroupOut, LinkResultOut, OccupationOut, PostingSkillOut,
                              RankedGroupOut)

logger = logging.getLogger("bentoml.jobskills")  # under "bentoml": bentoml serve prints its INFO lines

CONFIG = ServingConfig.load()
MODEL_NAME = get_settings().group_model_name
LINKER_NAME = get_settings().linker_model_name
OCCUPATION_NAME = get_settings().occupation_model_name


class GroupQuery(BaseModel):
    skill: str
    level: int = Field(2, ge=1, le=2)
    top_k: int = Field(5, ge=1, le=50)


class LinkQuery(BaseModel):
    skill: str
    context: str | None = None
    top_k: int = Field(5, ge=1, le=20)


class OccupationQuery(BaseModel):
    """One posting's text, title and keywords with their linked ESCO URIs (null: unlinked)."""

    text: str
    title: str | None = None
    keywords: list[str] = Field(default_factory=list)
    linked: list[str | None] = Field(default_factory=list)
    top_k: int = Field(3, ge=1, le=20)


class SkillsQuery(BaseModel):
    """One posting and its keywords (offsets into ``text``): what its ESCO skills are ranked from."""

    text: str
    keywords: list[Keyword] = Field(default_factory=list)


class PostingLinksOut(BaseModel):
    """One posting's linking pass: per keyword its link (null: unlinked), and the posting's skills."""

    links: list[EscoLink | None]
    skills: list[PostingSkillOut]


class OccupationAnswer(BaseModel):
    title: str | None
    occupations: list[OccupationOut]
    uris: list[str | None] = Field(description="Per keyword: its ESCO skill (link, else exact name), or null.")
    importance: list[str | None] = Field(description="Per keyword: essential / optional / other, or null.")


def to_esco(m: Any) -> EscoLink | None:
    if m is None:
        return None
    m = m if isinstance(m, dict) else m.model_dump()
    return EscoLink(uri=str(m["uri"]), label=str(m["label"]), score=float(m["score"]))


def to_group_out(g: Any) -> GroupOut:
    """``common.groups.model.GroupScore`` (whatever its class) as the API's ``GroupOut``."""
    if isinstance(g, dict):
        return GroupOut(**{k: g[k] for k in ("code", "label", "level", "score")})
    return GroupOut(code=str(g.code), label=str(g.label), level=int(g.level), score=float(g.score))


def to_decision_out(d: Any) -> GroupDecisionOut:
    """``common.groups.model.GroupDecision`` (or its dict) as the API's ``GroupDecisionOut``: the ranked
    list marks which of its groups the model decided."""
    d = d if isinstance(d, dict) else d.model_dump()
    groups = [to_group_out(g) for g in d["groups"]]
    decided = {g.code for g in groups}
    ranked = [RankedGroupOut(**to_group_out(g).model_dump(), decided=to_group_out(g).code in decided)
              for g in d["ranked"]]
    return GroupDecisionOut(groups=groups, ranked=ranked, threshold=float(d["threshold"]),
                            source=d.get("source", "classifier"), esco=to_esco(d.get("esco")))


@bentoml.service(
    name="skill_groups",
    resources=CONFIG.resources(),
    workers=CONFIG.workers,
    traffic={"timeout": CONFIG.timeout_s},
    runner_connection=CONFIG.runner_connection(),
)
class GroupService:
    """Serves ``common.groups.model.GroupModel``; starts without a model and reports why (see ``info``)."""

    model_ref = model_sources.class_model_ref(MODEL_NAME, CONFIG.group_model_tag, CONFIG.group_model_dir)
    linker_ref = model_sources.class_model_ref(LINKER_NAME, CONFIG.linker_model_tag, CONFIG.linker_model_dir)
    occupation_ref = model_sources.class_model_ref(OCCUPATION_NAME, CONFIG.occupation_model_tag,
                                                   CONFIG.occupation_model_dir)

    def __init__(self) -> None:
        import torch  # noqa: F401  (heavy import kept out of module import)

        use_threads()  # JOBSKILLS_THREADS, else the cores this process may run on

        self.device = resolve_device()
        self._lock = threading.Lock()
        self.model: Any = None
        self.source = model_sources.ModelSource(MODEL_NAME, None, None, "not loaded yet")
        self.linker: Any = None
        self.linker_source = model_sources.ModelSource(LINKER_NAME, None, None, "not loaded yet")
        self.occupations: Any = None
        self.occupation_source = model_sources.ModelSource(OCCUPATION_NAME, None, None, "not loaded yet")
        self._load(champion=False)
        self._load_linker(champion=False)
        self._load_occupations(champion=False)

    def _load_occupations(self, champion: bool) -> None:
        """The occupation model is optional: without one, answers carry ``occupations: null``."""
        from common.occupations.model import OccupationModel

        def load(path: Any) -> Any:
            model = OccupationModel.load(path, device=self.device)
            model.analyze(["warm-up title"], [[]], top_k=1)
            return model

        got = model_sources.load_model(OCCUPATION_NAME, CONFIG.occupation_model_dir, CONFIG.occupation_model_tag,
                                       type(self).occupation_ref, champion, load, "occupation model")
        with self._lock:
            self.occupations, self.occupation_source = got.served_after(self.occupations, self.occupation_source)

    def _load_linker(self, champion: bool) -> None:
        """The ESCO linker is optional: without one, keywords carry ``esco: null`` and every
        phrase gets the classifier's groups."""
        from common.linking.linker import ESCOLinker

        def load(path: Any) -> Any:
            linker = ESCOLinker.load(path, device=self.device)
            linker.link(["warm-up skill"], top_k=1)
            return linker

        got = model_sources.load_model(LINKER_NAME, CONFIG.linker_model_dir, CONFIG.linker_model_tag,
                                       type(self).linker_ref, champion, load, "ESCO linker")
        with self._lock:
            self.linker, self.linker_source = got.served_after(self.linker, self.linker_source)

    def _load(self, champion: bool) -> None:
        from common.groups.model import GroupModel

        def load(path: Any) -> Any:
            model = GroupModel.load(path, device=self.device)
            model.predict(["warm-up skill"], level=2, top_k=1)  # loads the encoder before /readyz says yes
            return model

        got = model_sources.load_model(MODEL_NAME, CONFIG.group_model_dir, CONFIG.group_model_tag,
                                       type(self).model_ref, champion, load, "group model")
        with self._lock:
            self.model, self.source = got.served_after(self.model, self.source)

    def _require(self) -> Any:
        model = self.model
        if model is None:
            raise ServiceUnavailable(f"no skill-group model: {self.source.error}")
        return model

    @bentoml.api(batchable=True, max_batch_size=max(2, CONFIG.max_batch_size * 4), max_latency_ms=CONFIG.max_latency_ms)
    def classify(self, queries: list[GroupQuery]) -> list[GroupDecisionOut]:
        """The model's decision and the top_k ranking for each query; queries sharing
        (level, top_k) go through one scoring pass (``GroupModel.decide``)."""
        model = self._require()
        out: list[GroupDecisionOut | None] = [None] * len(queries)
        by_key: dict[tuple[int, int], list[int]] = {}
        for i, q in enumerate(queries):
            q = q if isinstance(q, GroupQuery) else GroupQuery.model_validate(q)
            by_key.setdefault((q.level, q.top_k), []).append(i)
        from common.linking.groups import linked_groups

        for (level, top_k), idx in by_key.items():
            skills = [_skill(queries[i]) for i in idx]
            for i, lg in zip(idx, linked_groups(skills, self.linker, model, level=level, top_k=top_k), strict=True):
                out[i] = to_decision_out({**lg.decision.model_dump(), "source": lg.source,
                                          "esco": lg.esco.model_dump() if lg.esco else None})
        return [d for d in out if d is not None]

    @bentoml.api(batchable=True, max_batch_size=max(2, CONFIG.max_batch_size * 4), max_latency_ms=CONFIG.max_latency_ms)
    def link(self, queries: list[LinkQuery]) -> list[LinkResultOut]:
        """ESCO candidates and the link (or null) per phrase; one scoring pass per batch."""
        linker = self.linker
        if linker is None:
            raise ServiceUnavailable(f"no ESCO linker: {self.linker_source.error}")
        qs = [q if isinstance(q, LinkQuery) else LinkQuery.model_validate(q) for q in queries]
        top_k = max((q.top_k for q in qs), default=1)
        contexts = [q.context for q in qs] if any(q.context for q in qs) else None
        results = linker.link([q.skill for q in qs], contexts, top_k=top_k)
        return [LinkResultOut(skill=r.skill, matches=[to_esco(m) for m in r.matches[: q.top_k]],
                              linked=to_esco(r.linked)) for q, r in zip(qs, results, strict=True)]

    @bentoml.api(batchable=True, max_batch_size=max(2, CONFIG.max_batch_size), max_latency_ms=CONFIG.max_latency_ms)
    def link_postings(self, queries: list[SkillsQuery]) -> list[PostingLinksOut]:
        """Per posting, in one pass (``common.linking.skills.link_posting``): each keyword's ESCO link
        and the ESCO skills its keywords name and its sentences imply."""
        from common.linking.skills import link_posting

        linker = self.linker
        if linker is None:
            raise ServiceUnavailable(f"no ESCO linker: {self.linker_source.error}")
        qs = [q if isinstance(q, SkillsQuery) else SkillsQuery.model_validate(q) for q in queries]
        out = []
        for q in qs:
            res = link_posting(linker, q.text, q.keywords)
            out.append(PostingLinksOut(links=[to_esco(m) for m in res.links],
                                       skills=[PostingSkillOut(**s.model_dump()) for s in res.skills]))
        return out

    @bentoml.api
    def match(self, resume_skills: list[str], job_skills: list[str], level: int = 2) -> dict:
        """Resume/job overlap in competency groups, linked ESCO skills and the job's essential skills
        (``common.occupations.matching``)."""
        from common.occupations.matching import match_with_occupation

        return to_jsonable(match_with_occupation(resume_skills, job_skills, self._require(), self.linker,
                                                 self.occupations, level=level))

    @bentoml.api(batchable=True, max_batch_size=max(2, CONFIG.max_batch_size), max_latency_ms=CONFIG.max_latency_ms)
    def occupations_of(self, queries: list[OccupationQuery]) -> list[OccupationAnswer]:
        """Per posting: the top_k occupations (title + skills) and each keyword's skill and importance."""
        model = self.occupations
        if model is None:
            raise ServiceUnavailable(f"no occupation model: {self.occupation_source.error}")
        qs = [q if isinstance(q, OccupationQuery) else OccupationQuery.model_validate(q) for q in queries]
        uris = [model.keyword_skills(q.keywords, q.linked or None) for q in qs]
        top_k = max((q.top_k for q in qs), default=3)
        results = model.analyze([q.text for q in qs], [[u for u in us if u] for us in uris], [q.title for q in qs],
                                top_k=top_k)
        return [OccupationAnswer(title=r.title, occupations=[OccupationOut(**o.model_dump()) for o in r.occupations[: q.top_k]],
                                 uris=us, importance=[r.importance.get(u) if u else None for u in us])
                for q, us, r in zip(qs, uris, results, strict=True)]

    def _describe(self) -> dict:
        # not ``self.info()``: inside a service that call goes through BentoML's HTTP proxy and
        # would wait for the worker thread this method already holds
        model, linker, occupations = self.model, self.linker, self.occupations
        s = get_settings()
        return {**self.source.describe(s.group_score_floor), "device": self.device,
                "backend": model.encoder().backend if model is not None else None, "ready": model is not None,
                "linker": {**self.linker_source.describe(s.linker_score_floor), "ready": linker is not None,
                           "taxonomy": linker.taxonomy.version if linker is not None else None,
                           "threshold": linker.threshold if linker is not None else None},
                "occupations": {**self.occupation_source.describe(s.occupation_score_floor),
                                "ready": occupations is not None}}

    @bentoml.api
    def info(self) -> dict:
        """Which model is served, from where, on which device."""
        return self._describe()

    @bentoml.api
    def reload(self) -> dict:
        """Load the current registry champion (after a promotion or rollback)."""
        self._load(champion=CONFIG.group_model_dir is None and CONFIG.group_model_tag is None)
        self._load_linker(champion=CONFIG.linker_model_dir is None and CONFIG.linker_model_tag is None)
        self._load_occupations(champion=CONFIG.occupation_model_dir is None and CONFIG.occupation_model_tag is None)
        return self._describe()


def _skill(q: Any) -> str:
    return q.skill if isinstance(q, GroupQuery) else str(q["skill"])
