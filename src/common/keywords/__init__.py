"""Keyword extraction: the BIO tagger (frozen, finetune, crf), its evaluation and the baselines."""

from common.core.exports import lazy_exports

__all__, __getattr__ = lazy_exports(__name__, {
    "KeywordTagger": "tagger",
    "TaggerConfig": "tagger",
    "train_tagger": "tagger",
    "evaluate_tagger": "tagger",
    "average_taggers": "tagger",
    "default_model_dir": "tagger",
    "latest_model_dir": "tagger",
    "evaluate_keywords": "evaluate",
    "save_report": "evaluate",
    "make_baseline": "baselines",
})
