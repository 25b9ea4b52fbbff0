"""Skill-group service: the champion group classifier behind an adaptively batched API.

``classify`` takes one query per skill (skill, level, top_k) so that BentoML can merge the
queries of concurrent requests; queries are grouped by (level, top_k) inside the batch.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

import bentoml
from bentoml.exceptions import ServiceUnavailable
from pydantic import BaseModel, Field

from common.core.settings import get_settings, resolve_device
from services import model_sources
from services.config import ServingConfig
from services.schemas import GroupDecisionOut, GroupOut, RankedGroupOut

logger = logging.getLogger("jobskills.serving")

CONFIG = ServingConfig.load()
MODEL_NAME = get_settings().group_model_name


class GroupQuery(BaseModel):
    skill: str
    level: int = Field(2, ge=1, le=2)
    top_k: int = Field(5, ge=1, le=50)


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
    return GroupDecisionOut(groups=groups, ranked=ranked, threshold=float(d["threshold"]))


def _plain(obj: Any) -> Any:
    """A match result (pydantic model or dataclass) as JSON-ready data."""
    if hasattr(obj, "model_dump"):
        return obj.model_dump(mode="json")
    import dataclasses

    if dataclasses.is_dataclass(obj):
        return _plain(dataclasses.asdict(obj))
    if isinstance(obj, dict):
        return {str(k): _plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_plain(v) for v in obj]
    return obj


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

    def __init__(self) -> None:
        import torch  # heavy import kept out of module import

        if CONFIG.torch_threads:
            torch.set_num_threads(CONFIG.torch_threads)

        self.device = resolve_device()
        self._lock = threading.Lock()
        self.model: Any = None
        self.source = model_sources.ModelSource(MODEL_NAME, None, None, "not loaded yet")
        self._load(champion=False)

    def _load(self, champion: bool) -> None:
        source = model_sources.resolve(
            MODEL_NAME, None if champion else CONFIG.group_model_dir, CONFIG.group_model_tag,
            ref=type(self).model_ref, champion=champion,
        )
        if source.path is None:
            logger.warning("group service has no model: %s", source.error)
            if self.model is None:
                self.source = source
            return
        from common.groups.model import GroupModel

        t0 = time.perf_counter()
        try:
            model = GroupModel.load(source.path, device=self.device)
            model.predict(["warm-up skill"], level=2, top_k=1)  # loads the encoder before /readyz says yes
        except Exception as exc:
            logger.exception("loading group model from %s failed", source.path)
            if self.model is None:
                self.source = model_sources.ModelSource(MODEL_NAME, source.tag, None, f"loading failed: {exc}")
            return
        with self._lock:
            self.model, self.source = model, source
        logger.info("group model %s loaded from %s in %.1fs", source.tag, source.path, time.perf_counter() - t0)

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
        for (level, top_k), idx in by_key.items():
            skills = [_skill(queries[i]) for i in idx]
            for i, d in zip(idx, model.decide(skills, level=level, top_k=top_k), strict=True):
                out[i] = to_decision_out(d)
        return [d for d in out if d is not None]

    @bentoml.api
    def match(self, resume_skills: list[str], job_skills: list[str], level: int = 2) -> dict:
        """Resume/job overlap in competency groups (``common.groups.matching.match``)."""
        from common.groups.matching import match

        return _plain(match(resume_skills, job_skills, self._require(), level=level))

    def _describe(self) -> dict:
        # not ``self.info()``: inside a service that call goes through BentoML's HTTP proxy and
        # would wait for the worker thread this method already holds
        model = self.model
        return {**self.source.describe(get_settings().group_score_floor), "device": self.device,
                "backend": model.encoder().backend if model is not None else None, "ready": model is not None}

    @bentoml.api
    def info(self) -> dict:
        """Which model is served, from where, on which device."""
        return self._describe()

    @bentoml.api
    def reload(self) -> dict:
        """Load the current registry champion (after a promotion or rollback)."""
        self._load(champion=CONFIG.group_model_dir is None and CONFIG.group_model_tag is None)
        return self._describe()


def _skill(q: Any) -> str:
    return q.skill if isinstance(q, GroupQuery) else str(q["skill"])
