"""ONNX export of a trained tagger, and the dev score of the backend that will serve it."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from common.core.types import Posting
from common.keywords.evaluate import evaluate_tagger, flat_metrics
from common.keywords.tagger import TAGGER_FILE, KeywordTagger

logger = logging.getLogger(__name__)


def export_and_score(tagger: KeywordTagger, out_dir: Path, dev: list[Posting], report: dict[str, Any] | None,
                      metrics: dict[str, float]) -> dict[str, Any] | None:
    """Export the encoder to ONNX next to the model; when the configured backend would serve an
    export, score that backend on dev too and make its figures the model's (the gate then
    judges what will serve), keeping the torch figures beside them for parity."""
    from common.text.onnx_backend import INT8_PARITY, export_encoder, record_int8_parity

    export_encoder(tagger.net.encoder, out_dir)
    serving = KeywordTagger.load(out_dir, device=tagger.device)
    metrics["backend"] = serving.backend  # type: ignore[assignment]
    if report is None or serving.backend == "torch":
        return report
    served = evaluate_tagger(serving, dev)
    if serving.backend == "onnx-int8" and not record_int8_parity(out_dir, report["span"]["overall"]["f1"],
                                                                  served["span"]["overall"]["f1"], "span.overall.f1"):
        logger.warning("int8 is %.4f span-F1 below torch on dev (parity: %.3f): the fp32 export serves instead",
                       report["span"]["overall"]["f1"] - served["span"]["overall"]["f1"], INT8_PARITY)
        metrics["int8_span_f1"] = served["span"]["overall"]["f1"]
        serving = KeywordTagger.load(out_dir, device=tagger.device)  # auto now picks the fp32 export
        metrics["backend"] = serving.backend  # type: ignore[assignment]
        served = evaluate_tagger(serving, dev)
    served["torch"] = {"span": report["span"]}
    torch_f1 = report["span"]["overall"]["f1"]
    metrics.update(flat_metrics(served))
    metrics["torch_span_f1"] = torch_f1
    tagger.meta["metrics"] = metrics
    (out_dir / TAGGER_FILE).write_text(json.dumps(tagger.meta, indent=2, default=str), encoding="utf-8")
    logger.info("dev span-F1: torch %.4f, %s %.4f", torch_f1, serving.backend, served["span"]["overall"]["f1"])
    return served
