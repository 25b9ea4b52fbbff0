"""The public HTTP API: composes the keyword and skill-group services, logs every prediction.

Endpoints (all POST with a JSON body unless noted): ``/extract``, ``/extract_batch``,
``/classify``, ``/link``, ``/analyze``, ``/match``, ``/occupations``, ``/topics``, ``/feedback`` (API key), ``/reload``
(API key, admin), ``/status``; BentoML adds ``GET /healthz``, ``GET /readyz`` (503 until both
models are loaded), ``GET /metrics`` (Prometheus), ``GET /docs.json`` (OpenAPI) and the Swagger
page at ``/``. The web page is at ``/ui/``.

Every prediction is appended to ``settings.logs_dir`` with ``common.data.request_log.log_request``
(input text, output keywords/groups with scores, model tag, latency) for drift monitoring.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import time
from pathlib import Path
from typing import Any

import bentoml
from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.routing import Mount
from starlette.staticfiles import StaticFiles

from common.data.request_log import log_feedback, log_request
from common.core.settings import get_settings
from common.core.types import Keyword
from common.linking.phrases import compose_analysis, phrase_key, unique_phrases
from services.config import ServingConfig
from services.groups import (GroupQuery, GroupService, LinkQuery, OccupationAnswer, OccupationQuery, PostingLinksOut,
                             SkillsQuery, to_decision_out)
from services.admission import Admission, client_key
from services.guard import BodyGuard
from services.keywords import KeywordService
from services.retry import call_dependency
from services.scheduler import FairScheduler, merge_units, split_units
from services.schemas import (
    AnalyzedKeyword,
    AnalyzeRequest,
    AnalyzeResponse,
    ClassifyRequest,
    ClassifyResponse,
    ExtractBatchRequest,
    ExtractBatchResponse,
    ExtractRequest,
    ExtractResponse,
    FeedbackRequest,
    FeedbackResponse,
    EscoLink,
    EscoMatchOut,
    GroupDecisionOut,
    LinkedKeyword,
    LinkRequest,
    LinkResponse,
    LinkResultOut,
    MatchRequest,
    MatchResponse,
    OccupationsRequest,
    OccupationsResponse,
    PostingSkillOut,
    SkillGroups,
    TopicsRequest,
    TopicsResponse,
)

logger = logging.getLogger("bentoml.jobskills")  # under "bentoml": bentoml serve prints its INFO lines

CONFIG = ServingConfig.load()
STATIC_DIR = Path(__file__).parent / "static"
API_ROUTES = ("/extract", "/extract_batch", "/classify", "/link", "/analyze", "/match", "/occupations", "/topics",
              "/feedback", "/reload", "/status")
WORK_ROUTES = ("/extract", "/extract_batch", "/classify", "/link", "/analyze", "/match", "/occupations", "/topics")

REQUESTS = bentoml.metrics.Counter(
    name="jobskills_requests_total",
    documentation="API requests by endpoint, outcome (ok, client_error, unavailable) and transport (http, or "
    "grpc: through the gRPC front).",
    labelnames=["endpoint", "outcome", "transport"],
)
KEYWORDS = bentoml.metrics.Histogram(
    name="jobskills_keywords_per_text",
    documentation="Keywords found per text.",
    buckets=(0, 1, 2, 5, 10, 20, 50, 100, 200),
)
TEXT_CHARS = bentoml.metrics.Histogram(
    name="jobskills_text_chars",
    documentation="Characters per served text (input drift at a glance).",
    buckets=(100, 300, 1000, 3000, 10000, 30000, 100000),
)
FEEDBACK = bentoml.metrics.Counter(name="jobskills_feedback_total", documentation="Feedback records stored.")


def _web_app() -> Starlette:
    """The page (``/ui/``) and its assets; ``/ui`` redirects so relative asset URLs work."""
    return Starlette(routes=[Mount("/", StaticFiles(directory=STATIC_DIR, html=True))])


TRANSPORT_HEADER = "x-jobskills-transport"  # the gRPC front (services.rpc) sends "grpc"


def _transport(ctx: bentoml.Context) -> str:
    """``grpc`` for calls relayed by the gRPC front, else ``http`` (a label, not a security decision)."""
    return "grpc" if ctx.request.headers.get(TRANSPORT_HEADER, "").lower() == "grpc" else "http"


def _error(status: int, message: str, ctx: bentoml.Context | None = None) -> JSONResponse:
    """A JSON error answer; with ``ctx`` the status is also set there (BentoML copies it over)."""
    if ctx is not None:
        ctx.response.status_code = status
    return JSONResponse({"error": message}, status_code=status)


async def _retrying(call: Any, *args: Any, what: str = "model service", **kwargs: Any) -> Any:
    """A dependency call with the configured deadline and retries (``services.retry``)."""
    return await call_dependency(call, *args, timeout_s=CONFIG.dependency_deadline(), what=what, **kwargs)


def _keywords(raw: list[Any]) -> list[Keyword]:
    return [k if isinstance(k, Keyword) else Keyword.model_validate(k if isinstance(k, dict) else k.model_dump())
            for k in raw]


def _shifted(k: Keyword, offset: int) -> Keyword:
    return k if offset == 0 else k.model_copy(update={"start": k.start + offset, "end": k.end + offset})


async def _none() -> None:
    """An awaitable None, for a part of an answer the request asked to leave out."""


def _unique_phrases(keywords: list[Keyword]) -> list[str]:
    """Keyword texts as phrases to classify or link (``common.linking.phrases``: the CLI's rule too)."""
    return unique_phrases(k.text for k in keywords)


@bentoml.service(name="jobskills_api", traffic={"timeout": CONFIG.timeout_s})
class ApiService:
    """HTTP front: validation, auth, logging; the models run in the two dependency services."""

    keywords = bentoml.depends(KeywordService)
    groups = bentoml.depends(GroupService)

    def __init__(self) -> None:
        self.settings = get_settings()
        self.scheduler = FairScheduler(self._extract_units, batch_chars=CONFIG.scheduler_batch_chars,
                                       max_batches_in_flight=CONFIG.scheduler_batches_in_flight,
                                       shared_batch_chars=CONFIG.scheduler_shared_batch_chars)
        self._infos: dict[str, dict] = {}
        self._topic_model: Any = None
        self._topic_source: str | None = None

    # ---- helpers -------------------------------------------------------------------------

    async def _info(self, which: str, refresh: bool = False) -> dict:
        """Model info of a dependency, cached once it reports a loaded model."""
        info = self._infos.get(which)
        if refresh or info is None or not info.get("ready"):
            dep = self.keywords if which == "keywords" else self.groups
            try:
                info = await _retrying(dep.to_async.info)
            except Exception as exc:  # noqa: BLE001  (dependency still starting or down)
                return {"ready": False, "error": f"{which} service unreachable: {exc}", "tag": None}
            self._infos[which] = info
        return info

    async def _refused(self, endpoint: str, ctx: bentoml.Context, *which: str) -> JSONResponse | None:
        """401 when every endpoint needs the API key (``api_key_scope: all``) and it is missing or
        wrong; else 503 with the reason when a needed model is not loaded; else None."""
        if self.settings.api_key_scope == "all" and not self._authorised(ctx):
            REQUESTS.labels(endpoint=endpoint, outcome="client_error", transport=_transport(ctx)).inc()
            return _error(401, "missing or wrong API key (X-API-Key header, or x-api-key gRPC metadata)", ctx)
        for w in which:
            info = await self._info(w)
            if not info.get("ready"):
                REQUESTS.labels(endpoint=endpoint, outcome="unavailable", transport=_transport(ctx)).inc()
                return _error(503, f"the {w} model is not available: {info.get('error')}", ctx)
        return None

    def _authorised(self, ctx: bentoml.Context) -> bool:
        key = self.settings.api_key
        if not key:
            return True
        given = ctx.request.headers.get("x-api-key", "")
        return hmac.compare_digest(given.encode("utf-8", "replace"), key.encode("utf-8"))

    def _log(self, endpoint: str, tag: str | None, t0: float, inputs: Any, outputs: Any,
             ctx: bentoml.Context) -> float:
        latency_ms = round((time.perf_counter() - t0) * 1000, 2)
        try:
            log_request(self.settings.logs_dir, endpoint, tag, latency_ms, inputs, outputs, transport=_transport(ctx))
        except Exception:  # a full disk must not turn a good answer into a 500
            logger.exception("could not write the request log")
        REQUESTS.labels(endpoint=endpoint, outcome="ok", transport=_transport(ctx)).inc()
        return latency_ms

    async def _extract_units(self, units: list[str]) -> list[list[Keyword]]:
        """One call of the keyword service for a batch of units (the fair scheduler's batch)."""
        raw = await _retrying(self.keywords.to_async.extract, units, what="keyword service")
        return [_keywords(r) for r in raw]

    async def _extract(self, texts: list[str], ctx: bentoml.Context) -> list[list[Keyword]]:
        """Keywords of each text: long texts cut into units, every unit queued in its client's turn
        (``services.scheduler``), the units' keywords shifted back into the text."""
        pieces = [split_units(t, CONFIG.unit_chars) for t in texts]
        flat = await self.scheduler.submit(client_key(ctx.request.scope), [u for p in pieces for _, u in p])
        out, at = [], 0
        for p in pieces:
            out.append(merge_units(p, flat[at : at + len(p)], _shifted))
            at += len(p)
        for text, kws in zip(texts, out, strict=True):
            KEYWORDS.observe(len(kws))
            TEXT_CHARS.observe(len(text))
        return out

    async def _classify(self, phrases: list[str], level: int, top_k: int) -> dict[str, GroupDecisionOut]:
        """The group service's decision and ranking per phrase."""
        if not phrases:
            return {}
        raw = await _retrying(self.groups.to_async.classify,
                              [GroupQuery(skill=p, level=level, top_k=top_k) for p in phrases], what="skill-group service")
        return {p: d if isinstance(d, GroupDecisionOut) else to_decision_out(d)
                for p, d in zip(phrases, raw, strict=True)}

    def _model(self, which: str) -> dict | None:
        """The ``model`` description (tag, tier, dev score, floor) of a dependency's info."""
        if which == "linker":
            return self._group_part("linker").get("model")
        return (self._infos.get(which) or {}).get("model")

    def _group_part(self, part: str) -> dict:
        """What the group service last reported of a model it serves beside the group model
        (``linker`` or ``occupations``: ready, tag, error...); empty when it has not reported."""
        return (self._infos.get("groups") or {}).get(part) or {}

    async def _part_ready(self, part: str) -> bool:
        return bool(((await self._info("groups")).get(part) or {}).get("ready"))

    async def _link(self, phrases: list[str], contexts: list[str | None] | None = None,
                    top_k: int = 1) -> list[LinkResultOut]:
        raw = await _retrying(self.groups.to_async.link,
                              [LinkQuery(skill=p, context=(contexts[i] if contexts else None), top_k=top_k)
                               for i, p in enumerate(phrases)], what="skill-group service (linker)")
        return [r if isinstance(r, LinkResultOut) else LinkResultOut.model_validate(r) for r in raw]

    async def _with_esco(self, batches: list[list[Keyword]]) -> list[list[LinkedKeyword]]:
        """Every keyword with its ESCO link (``esco: null`` when unlinked or without a linker);
        each distinct phrase is linked once."""
        phrases = _unique_phrases([k for kws in batches for k in kws])
        links: dict[str, EscoLink | None] = {}
        if phrases and await self._part_ready("linker"):
            try:
                results = await self._link(phrases)
            except Exception:  # noqa: BLE001  (keywords are the answer; a failed link must not cost them)
                logger.exception("linking %d keyword phrases failed; answering with esco: null", len(phrases))
                results = []
            links = {phrase_key(p): r.linked for p, r in zip(phrases, results, strict=False)}
        return [[LinkedKeyword(**k.model_dump(), esco=links.get(phrase_key(k.text))) for k in kws]
                for kws in batches]

    async def _link_postings(self, texts: list[str], batches: list[list[Any]]) -> list[PostingLinksOut] | None:
        """Each posting's keywords' ESCO links and its ESCO skills, in one pass of the linker (``None``
        without a linker, or when the call failed: a failure costs the links and skills, never the keywords)."""
        if not texts or not await self._part_ready("linker"):
            return None
        queries = [SkillsQuery(text=t, keywords=[Keyword(**k.model_dump(include=set(Keyword.model_fields))) for k in kws])
                   for t, kws in zip(texts, batches, strict=True)]
        try:
            raw = await _retrying(self.groups.to_async.link_postings, queries, what="skill-group service (linker)")
        except Exception:  # noqa: BLE001  (as for links: the keywords are the answer)
            logger.exception("linking %d postings failed; answering with esco: null and skills: null", len(texts))
            return None
        return [r if isinstance(r, PostingLinksOut) else PostingLinksOut.model_validate(r) for r in raw]

    async def _with_skills(self, texts: list[str], batches: list[list[Any]]) -> list[list[PostingSkillOut]] | None:
        """Each posting's ESCO skills, named or implied (``None`` without a linker)."""
        answers = await self._link_postings(texts, batches)
        return [a.skills for a in answers] if answers is not None else None

    async def _linked(self, texts: list[str], ctx: bentoml.Context, with_skills: bool = True
                      ) -> tuple[list[list[Any]], list[Any] | None, list[list[PostingSkillOut]] | None]:
        """Keywords with their ESCO links and importance, the occupations, and the posting's ESCO
        skills: what /extract and /extract_batch answer. The links and the skills come from one
        linking pass; the occupations follow, since they weigh the linked skills. Without skills
        only the keywords' phrases are linked (no sentence is encoded)."""
        batches = await self._extract(texts, ctx)
        if not with_skills:
            batches, occ = await self._with_occupations(texts, await self._with_esco(batches))
            return batches, occ, None
        answers = await self._link_postings(texts, batches)
        linked = [[LinkedKeyword(**k.model_dump(), esco=(a.links[i] if a is not None else None)) for i, k in enumerate(kws)]
                  for kws, a in zip(batches, answers or [None] * len(batches), strict=True)]
        batches, occ = await self._with_occupations(texts, linked)
        return batches, occ, [a.skills for a in answers] if answers is not None else None

    async def _with_occupations(self, texts: list[str], batches: list[list[Any]], titles: list[str | None] | None = None,
                                top_k: int = 3) -> tuple[list[list[Any]], list[Any] | None]:
        """Each posting's occupations (``None`` without an occupation model) and its keywords with
        ``importance`` set for their skill; a failure costs the occupations, never the keywords."""
        if not texts or not await self._part_ready("occupations"):
            return batches, None
        queries = [OccupationQuery(text=t, title=(titles[i] if titles else None), keywords=[k.text for k in kws],
                                   linked=[k.esco.uri if k.esco else None for k in kws], top_k=top_k)
                   for i, (t, kws) in enumerate(zip(texts, batches, strict=True))]
        try:
            raw = await _retrying(self.groups.to_async.occupations_of, queries, what="skill-group service (occupations)")
        except Exception:  # noqa: BLE001  (as for links: the keywords are the answer)
            logger.exception("ranking occupations for %d postings failed; answering with occupations: null", len(texts))
            return batches, None
        answers = [a if isinstance(a, OccupationAnswer) else OccupationAnswer.model_validate(a) for a in raw]
        out = [[k.model_copy(update={"importance": imp}) for k, imp in zip(kws, a.importance, strict=True)]
               for kws, a in zip(batches, answers, strict=True)]
        return out, answers

    def _admin_refusal(self, ctx: bentoml.Context) -> JSONResponse | None:
        """401 without the right key; 403 when admin endpoints are off (exposed host, no key)."""
        if reason := CONFIG.admin_refusal(self.settings.api_key):
            return _error(403, reason, ctx)
        if not self._authorised(ctx):
            return _error(401, "missing or wrong X-API-Key header", ctx)
        return None

    # ---- endpoints -----------------------------------------------------------------------

    @bentoml.api
    async def extract(self, request: ExtractRequest, /, ctx: bentoml.Context) -> ExtractResponse:
        """Keywords of one posting: character offsets, type (Skill/Knowledge), score."""
        t0 = time.perf_counter()
        if err := await self._refused("extract", ctx, "keywords"):
            return err
        (kws,), occ, skills = await self._linked([request.text], ctx, request.with_skills)
        tag = self._infos["keywords"].get("tag")
        self._log("extract", tag, t0, {"text": request.text}, {"keywords": [k.model_dump() for k in kws]}, ctx)
        return ExtractResponse(keywords=kws, skills=skills[0] if skills else None,
                               occupations=occ[0].occupations if occ else None, model_tag=tag,
                               model=self._model("keywords"))

    @bentoml.api
    async def extract_batch(self, request: ExtractBatchRequest, /, ctx: bentoml.Context) -> ExtractBatchResponse:
        """Keywords of several postings in one request (at most ``settings.max_batch_items``)."""
        t0 = time.perf_counter()
        if err := await self._refused("extract_batch", ctx, "keywords"):
            return err
        texts = list(request.texts)
        results, occ, skills = await self._linked(texts, ctx, request.with_skills)
        tag = self._infos["keywords"].get("tag")
        latency_ms = round((time.perf_counter() - t0) * 1000, 2)
        for text, kws in zip(request.texts, results, strict=True):  # one record per text for monitoring
            try:
                log_request(self.settings.logs_dir, "extract_batch", tag, latency_ms, {"text": text},
                            {"keywords": [k.model_dump() for k in kws]}, transport=_transport(ctx))
            except Exception:
                logger.exception("could not write the request log")
        REQUESTS.labels(endpoint="extract_batch", outcome="ok", transport=_transport(ctx)).inc()
        return ExtractBatchResponse(results=results, skills=skills, occupations=[a.occupations for a in occ] if occ else None,
                                    model_tag=tag, model=self._model("keywords"))

    @bentoml.api
    async def classify(self, request: ClassifyRequest, /, ctx: bentoml.Context) -> ClassifyResponse:
        """Competency groups of each skill phrase: the model's decision (``groups``, by its tuned
        ``threshold``, at least one) and the ``top_k`` ranking (``ranked``, ``decided`` marks which
        of them are in the decision)."""
        t0 = time.perf_counter()
        if err := await self._refused("classify", ctx, "groups"):
            return err
        skills = list(request.skills)
        raw = await _retrying(self.groups.to_async.classify,
                              [GroupQuery(skill=s, level=request.level, top_k=request.top_k) for s in skills],
                              what="skill-group service")
        results = [SkillGroups(skill=s, **(d if isinstance(d, GroupDecisionOut) else to_decision_out(d)).model_dump())
                   for s, d in zip(skills, raw, strict=True)]
        tag = self._infos["groups"].get("tag")
        self._log("classify", tag, t0, {"skills": skills, "level": request.level, "top_k": request.top_k},
                  {"results": [r.model_dump() for r in results]}, ctx)
        return ClassifyResponse(results=results, model_tag=tag, model=self._model("groups"))

    @bentoml.api
    async def link(self, request: LinkRequest, /, ctx: bentoml.Context) -> LinkResponse:
        """The ESCO skill each phrase names: the ``top_k`` candidates and the link, or ``linked:
        null`` when the best candidate is below the linker's threshold (ESCO lacks the skill).
        ``context`` (optional, one sentence per skill) lets the linker rerank with the sentence."""
        t0 = time.perf_counter()
        if err := await self._refused("link", ctx, "groups"):
            return err
        if not await self._part_ready("linker"):
            REQUESTS.labels(endpoint="link", outcome="unavailable", transport=_transport(ctx)).inc()
            reason = self._group_part("linker").get("error")
            return _error(503, f"the ESCO linker is not available: {reason}", ctx)
        skills = list(request.skills)
        results = await self._link(skills, list(request.context) if request.context else None, request.top_k)
        linker_info = self._group_part("linker")
        tag = linker_info.get("tag")
        self._log("link", tag, t0, {"skills": skills, "context": request.context, "top_k": request.top_k},
                  {"results": [r.model_dump() for r in results]}, ctx)
        return LinkResponse(results=results, taxonomy=linker_info.get("taxonomy") or "", model_tag=tag,
                            model=self._model("linker"))

    @bentoml.api
    async def analyze(self, request: AnalyzeRequest, /, ctx: bentoml.Context) -> AnalyzeResponse:
        """Keywords of a posting, each with its competency groups (what the web page shows):
        ``groups`` is the group model's decision, ``ranked`` the top_k with ``decided`` marking it.

        Needs the keyword model; without a group model the groups are empty lists.
        """
        t0 = time.perf_counter()
        if err := await self._refused("analyze", ctx, "keywords"):
            return err
        (kws,) = await self._extract([request.text], ctx)
        # without a group model the keywords are still worth showing: groups stay empty and
        # group_model_tag is null
        groups_ready = (await self._info("groups")).get("ready")
        by_phrase = await self._classify(_unique_phrases(kws), request.level, request.top_k) if groups_ready else {}
        # classify already linked each phrase (its groups follow the link); link here only without it
        (linked,) = [kws] if groups_ready else await self._with_esco([kws])
        out = [AnalyzedKeyword(**fields) for fields in compose_analysis([k.model_dump() for k in linked], by_phrase)]
        ((out,), occ), skills = await asyncio.gather(
            self._with_occupations([request.text], [out]),
            self._with_skills([request.text], [out]) if request.with_skills else _none())
        kw_tag = self._infos["keywords"].get("tag")
        grp_tag = self._infos["groups"].get("tag") if groups_ready else None
        self._log("analyze", kw_tag, t0, {"text": request.text, "level": request.level},
                  {"keywords": [k.model_dump() for k in out], "group_model_tag": grp_tag}, ctx)
        return AnalyzeResponse(keywords=out, skills=skills[0] if skills else None, occupations=occ[0].occupations if occ else None,
                               keyword_model_tag=kw_tag, group_model_tag=grp_tag,
                               keyword_model=self._model("keywords"),
                               group_model=self._model("groups") if groups_ready else None)

    @bentoml.api
    async def match(self, request: MatchRequest, /, ctx: bentoml.Context) -> MatchResponse:
        """How well a resume covers a job, compared in competency groups rather than exact words."""
        t0 = time.perf_counter()
        need = ("groups",) if request.resume is None and request.job is None else ("keywords", "groups")
        if err := await self._refused("match", ctx, *need):
            return err
        texts = [t for t in (request.resume, request.job) if t is not None]
        extracted = iter(await self._extract(texts, ctx)) if texts else iter(())
        resume_skills = list(request.resume_skills) if request.resume is None else _unique_phrases(next(extracted))
        job_skills = list(request.job_skills) if request.job is None else _unique_phrases(next(extracted))
        if resume_skills and job_skills:
            result = await _retrying(self.groups.to_async.match, what="skill-group service", resume_skills=resume_skills,
                                     job_skills=job_skills, level=request.level)
        else:  # nothing to compare on one side: no overlap, by definition
            result = {"score": 0.0, "level": request.level, "groups": [], "missing": [], "exact_overlap": []}
        grp_tag = self._infos["groups"].get("tag")
        esco = result.get("esco")
        resp = MatchResponse(**{k: result.get(k) for k in ("score", "level", "groups", "missing", "exact_overlap")},
                             occupation=result.get("occupation"),
                             resume_skills=resume_skills, job_skills=job_skills, group_model_tag=grp_tag,
                             esco=EscoMatchOut.model_validate(esco) if esco else None)
        self._log("match", grp_tag, t0, {"resume": request.resume, "job": request.job,
                                         "resume_skills": resume_skills, "job_skills": job_skills},
                  resp.model_dump(), ctx)
        return resp

    @bentoml.api
    async def occupations(self, request: OccupationsRequest, /, ctx: bentoml.Context) -> OccupationsResponse:
        """The ESCO occupations a posting describes (from its title, given or its first line, and its
        linked skills), each with the posting's essential and optional skills, and every keyword's
        importance for the first occupation. 503 until an occupation model is served."""
        t0 = time.perf_counter()
        if err := await self._refused("occupations", ctx, "keywords"):
            return err
        if not await self._part_ready("occupations"):
            REQUESTS.labels(endpoint="occupations", outcome="unavailable", transport=_transport(ctx)).inc()
            reason = self._group_part("occupations").get("error")
            return _error(503, f"the occupation model is not available: {reason}", ctx)
        (kws,), occ = await self._with_occupations([request.text], await self._with_esco(await self._extract([request.text], ctx)),
                                                   [request.title], top_k=request.top_k)
        if occ is None:
            REQUESTS.labels(endpoint="occupations", outcome="unavailable", transport=_transport(ctx)).inc()
            return _error(503, "ranking occupations failed; see the server log", ctx)
        ans = occ[0]
        tag = self._group_part("occupations").get("tag")
        resp = OccupationsResponse(title=ans.title, occupations=ans.occupations, keywords=kws, model_tag=tag)
        self._log("occupations", tag, t0, {"text": request.text, "title": request.title}, resp.model_dump(), ctx)
        return resp

    @bentoml.api
    async def topics(self, request: TopicsRequest, /, ctx: bentoml.Context) -> TopicsResponse:
        """Topics, tags and an extractive summary of a posting (needs a trained topic model)."""
        t0 = time.perf_counter()
        if err := await self._refused("topics", ctx):
            return err
        model, problem = await self._topics_model()
        if model is None:
            REQUESTS.labels(endpoint="topics", outcome="unavailable", transport=_transport(ctx)).inc()
            return _error(503, problem or "no topic model", ctx)
        kws: list[Keyword] = []
        if (await self._info("keywords")).get("ready"):  # keywords make better tags; optional
            (kws,) = await self._extract([request.text], ctx)
        import anyio

        (desc,) = await anyio.to_thread.run_sync(model.describe, [request.text], [kws])
        resp = TopicsResponse(topics=desc.get("topics", []), tags=desc.get("tags", []),
                              summary=desc.get("summary", []), keywords=kws, model=self._topic_source)
        self._log("topics", self._topic_source, t0, {"text": request.text}, resp.model_dump(), ctx)
        return resp

    async def _topics_model(self) -> tuple[Any, str | None]:
        """The topic model, loaded once; (None, reason) when there is none."""
        if self._topic_model is not None:
            return self._topic_model, None
        from common.topics.model import default_model_path, load_topic_model

        path = Path(CONFIG.topic_model_dir or default_model_path())
        import anyio

        try:
            self._topic_model = await anyio.to_thread.run_sync(load_topic_model, path)
        except FileNotFoundError:
            return None, f"no topic model at {path}; fit one first (see docs/topics.md)"
        except Exception as exc:
            logger.exception("loading the topic model from %s failed", path)
            return None, f"the topic model at {path} could not be loaded: {exc}"
        self._topic_source = f"dir:{path.resolve().name}"
        return self._topic_model, None

    @bentoml.api
    async def feedback(self, request: FeedbackRequest, /, ctx: bentoml.Context) -> FeedbackResponse:
        """Store a person's corrections for the merge-labels flow (needs X-API-Key when one is set)."""
        if err := self._admin_refusal(ctx):
            REQUESTS.labels(endpoint="feedback", outcome="client_error", transport=_transport(ctx)).inc()
            return err
        n = log_feedback(self.settings.feedback_dir, [request.to_record()])
        FEEDBACK.inc(n)
        REQUESTS.labels(endpoint="feedback", outcome="ok", transport=_transport(ctx)).inc()
        return FeedbackResponse(stored=n)

    @bentoml.api
    async def reload(self, ctx: bentoml.Context) -> dict:
        """Admin: reload both models from the registry (after promote/rollback); needs X-API-Key."""
        if err := self._admin_refusal(ctx):
            return err
        kw = await self.keywords.to_async.reload()
        grp = await self.groups.to_async.reload()
        self._infos = {"keywords": kw, "groups": grp}
        self._topic_model = None
        return {"keywords": kw, "groups": grp}

    @bentoml.api
    async def status(self) -> dict:
        """Which models are served and the limits a client must respect (used by the web page)."""
        return {
            "keywords": await self._info("keywords"),
            "groups": await self._info("groups"),
            "api_key_required": bool(self.settings.api_key),
            "api_key_scope": self.settings.api_key_scope if self.settings.api_key else None,
            "admin": CONFIG.admin_refusal(self.settings.api_key) or "enabled",
            "max_text_chars": self.settings.max_text_chars,
            "max_batch_items": self.settings.max_batch_items,
        }

    async def __is_ready__(self) -> bool:
        """``/readyz``: 200 only when both models are loaded."""
        kw = await self._info("keywords")
        grp = await self._info("groups")
        return bool(kw.get("ready") and grp.get("ready"))


ApiService.mount_asgi_app(_web_app(), path="/ui")
ApiService.add_asgi_middleware(BodyGuard, paths=API_ROUTES, max_body_bytes=CONFIG.max_body_bytes)
ApiService.add_asgi_middleware(Admission, paths=WORK_ROUTES, client_max_inflight_chars=CONFIG.client_max_inflight_chars,
                               max_inflight_chars=CONFIG.max_inflight_chars)
