"""Keyword-extraction service: the champion tagger behind an adaptively batched API.

Concurrent requests are merged by BentoML's dispatcher into one ``extract`` call of up to
``max_batch_size`` texts, which is where a token-classification model gains over one forward
pass per request.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

import bentoml
from bentoml.exceptions import ServiceUnavailable

from common.core.settings import get_settings, resolve_device
from common.core.types import Keyword
from services import model_sources
from services.config import ServingConfig

logger = logging.getLogger("jobskills.serving")

CONFIG = ServingConfig.load()
MODEL_NAME = get_settings().keyword_model_name


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
        import torch  # heavy import kept out of module import

        if CONFIG.torch_threads:
            torch.set_num_threads(CONFIG.torch_threads)

        self.device = resolve_device()
        self._lock = threading.Lock()
        self.tagger: Any = None
        self.source = model_sources.ModelSource(MODEL_NAME, None, None, "not loaded yet")
        self.load_seconds = 0.0
        self._load(champion=False)

    def _load(self, champion: bool) -> None:
        source = model_sources.resolve(
            MODEL_NAME, None if champion else CONFIG.keyword_model_dir, CONFIG.keyword_model_tag,
            ref=type(self).model_ref, champion=champion,
        )
        if source.path is None:
            logger.warning("keyword service has no model: %s", source.error)
            if self.tagger is None:
                self.source = source
            return
        from common.keywords.tagger import KeywordTagger

        t0 = time.perf_counter()
        try:
            tagger = KeywordTagger.load(source.path, device=self.device)
            tagger.extract(["warm-up: python and sql"])  # first-call costs paid before /readyz says yes
        except Exception as exc:  # a broken folder: keep serving the old model (if any) and say why
            logger.exception("loading tagger from %s failed", source.path)
            if self.tagger is None:
                self.source = model_sources.ModelSource(MODEL_NAME, source.tag, None, f"loading failed: {exc}")
            return
        with self._lock:
            self.tagger, self.source = tagger, source
        self.load_seconds = time.perf_counter() - t0
        logger.info("keyword tagger %s loaded from %s on %s in %.1fs", source.tag, source.path, self.device,
                    self.load_seconds)

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
        tier = tagger.tier if tagger is not None else None
        return {**self.source.describe(get_settings().keyword_score_floor, tier=tier), "tier": tier,
                "backend": tagger.backend if tagger is not None else None, "device": self.device,
                "ready": tagger is not None}

    @bentoml.api
    def info(self) -> dict:
        """Which model is served, from where, on which device."""
        return self._describe()

    @bentoml.api
    def reload(self) -> dict:
        """Load the current registry champion (after a promotion or rollback)."""
        self._load(champion=CONFIG.keyword_model_dir is None and CONFIG.keyword_model_tag is None)
        return self._describe()
