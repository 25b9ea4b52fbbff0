"""Keyword extraction: the BIO tagger (frozen, finetune, crf), its evaluation and the baselines.

Rooms: ``config`` (what to train), ``encoding`` (text to windows), ``network`` (encoder + heads),
``decoding`` (scores to keywords), ``tagger`` (inference and persistence), ``training``,
``distillation``, ``export`` (ONNX), ``evaluate`` and ``baselines``.
"""

from common.core.exports import lazy_exports

__all__, __getattr__ = lazy_exports(__name__, {
    "KeywordTagger": "tagger",
    "TaggerConfig": "config",
    "train_tagger": "training",
    "evaluate_tagger": "evaluate",
    "average_taggers": "training",
    "default_model_dir": "tagger",
    "latest_model_dir": "tagger",
    "evaluate_keywords": "evaluate",
    "save_report": "evaluate",
    "make_baseline": "baselines",
})
