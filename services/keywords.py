"""Keyword-extraction service: the champion tagger behind an adaptively batched API.

Concurrent requests are merged by BentoML's dispatcher into one ``extract`` call of up to
``max_batch_size`` texts, which is where a token-classification model gains over one forward
pass per request.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

import bentoml
from bentoml.exceptions import ServiceUnavailable

from common.core.settings import resolve_device, use_threads
from common.core.types import Keyword
from common.keywords.tiers import TierChoice, recorded_tier, tier_floor, tier_model_name
from common.keywords.tiers import choose_tier as choose_tier_for
from services import model_sources
from services.config import ServingConfig

logger = logging.getLogger("bentoml.jobskills")  # under "bentoml": bentoml serve prints its INFO lines

CONFIG = ServingConfig.load()


def choose_tier() -> TierChoice:
    """The tier to serve: as the serving config asks (``auto``: accurate when it has a champion)."""
    if CONFIG.keyword_model_dir is not None or CONFIG.keyword_model_tag is not None:
        named = "JOBSKILLS_SERVE_KEYWORD_MODEL_DIR" if CONFIG.keyword_model_dir else "JOBSKILLS_SERVE_KEYWORD_MODEL_TAG"
        tier = CONFIG.keyword_tier if CONFIG.keyword_tier != "auto" else recorded_tier(CONFIG.keyword_model_dir)
        return TierChoice(tier, f"{named} names the model to serve")
    return choose_tier_for(CONFIG.keyword_tier, model_sources.champion_tag(tier_model_name("accurate")))


TIER = choose_tier()
MODEL_NAME = tier_model_name(TIER.tier)


@bentoml.service(
    name="keyword_tagger",
    resources=CONFIG.resources(),
    workers=CONFIG.workers,
    traffic={"timeout": CONFIG.timeout_s},
    runner_connection=CONFIG.runner_connection(),
)
class KeywordService:
    """Serves ``common.keywords.tagger.KeywordTagger``; starts without a model and reports why (see ``info``)."""

    model_ref = model_sources.class_model_ref(MODEL_NAME, CONFIG.keyword_model_tag, CONFIG.keyword_model_dir)

    def __init__(self) -> None:
        import torch  # noqa: F401  (heavy import kept out of module import)

        use_threads()  # JOBSKILLS_THREADS, else the cores this process may run on

        self.device = resolve_device()
        self._lock = threading.Lock()
        self.tagger: Any = None
        self.source = model_sources.ModelSource(MODEL_NAME, None, None, "not loaded yet")
        self.load_seconds = 0.0
        self.choice = TIER
        logger.info("keyword tier: %s, because %s", TIER.tier, TIER.reason)
        self._load(champion=False)

    def _load(self, champion: bool) -> None:
        from common.keywords.tagger import KeywordTagger

        name = tier_model_name(self.choice.tier)

        def load(path: Any) -> Any:
            tagger = KeywordTagger.load(path, device=self.device)
            tagger.extract(["warm-up: python and sql"])  # first-call costs paid before /readyz says yes
            return tagger

        got = model_sources.load_model(name, CONFIG.keyword_model_dir, CONFIG.keyword_model_tag,
                                       type(self).model_ref, champion, load, f"keyword tagger (on {self.device})")
        with self._lock:
            if got.model is not None:
                self.load_seconds = got.seconds
            self.tagger, self.source = got.served_after(self.tagger, self.source)

    @bentoml.api(batchable=True, max_batch_size=max(2, CONFIG.max_batch_size), max_latency_ms=CONFIG.max_latency_ms)
    def extract(self, texts: list[str]) -> list[list[Keyword]]:
        """Keywords of each text (char offsets, type, score); one call serves a merged batch."""
        tagger = self.tagger
        if tagger is None:
            raise ServiceUnavailable(f"no keyword model: {self.source.error}")
        return tagger.extract(list(texts))

    def _describe(self) -> dict:
        # not ``self.info()``: inside a service that call goes through BentoML's HTTP proxy and
        # would wait for the worker thread this method already holds
        tagger = self.tagger
        tier = tagger.tier if tagger is not None else self.choice.tier
        return {**self.source.describe(tier_floor(tier), tier=tier), "tier": tier, "tier_reason": self.choice.reason,
                "backend": tagger.backend if tagger is not None else None, "device": self.device,
                "ready": tagger is not None}

    @bentoml.api
    def info(self) -> dict:
        """Which model is served, from where, on which device."""
        return self._describe()

    @bentoml.api
    def reload(self) -> dict:
        """Load the current registry champion (after a promotion or rollback); with the tier on
        ``auto``, a newly promoted accurate champion takes over from the fast tier here."""
        champion = CONFIG.keyword_model_dir is None and CONFIG.keyword_model_tag is None
        if champion:
            choice = choose_tier()
            if choice.tier != self.choice.tier:
                logger.info("keyword tier: %s, because %s", choice.tier, choice.reason)
            self.choice = choice
        self._load(champion=champion)
        return self._describe()
