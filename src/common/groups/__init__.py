"""Skill competency groups: the SkillBERT-style classifier, its features and metrics, matching (Mirror-BERT lives in ``common.text.mirror_bert``)."""

from common.core.exports import lazy_exports

__all__, __getattr__ = lazy_exports(__name__, {
    "GroupConfig": "model",
    "GroupModel": "model",
    "GroupScore": "model",
    "GroupDecision": "model",
    "train_groups": "model",
    "evaluate_groups": "model",
    "default_model_dir": "model",
    "latest_model_dir": "model",
    "match": "matching",
})
