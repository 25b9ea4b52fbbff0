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
        from common.keywords.tagger import KeywordTagger

        def load(path: Any) -> Any:
            tagger = KeywordTagger.load(path, device=self.device)
            tagger.extract(["warm-up: python and sql"])  # first-call costs paid before /readyz says yes
            return tagger

        got = model_sources.load_model(MODEL_NAME, CONFIG.keyword_model_dir, CONFIG.keyword_model_tag,
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
