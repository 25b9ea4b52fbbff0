"""Skill competency groups: the SkillBERT-style classifier, its features and metrics, matching.

Rooms: ``config`` (what to train), ``model`` (the trained model and its folder), ``features`` (pair
features), ``estimators`` (network and XGBoost fits), ``training``, ``evaluation``, ``metrics`` and
``matching``. Mirror-BERT lives in ``common.text.mirror_bert``.
"""

from common.core.exports import lazy_exports

__all__, __getattr__ = lazy_exports(__name__, {
    "GroupConfig": "config",
    "GroupModel": "model",
    "GroupScore": "model",
    "GroupDecision": "model",
    "train_groups": "training",
    "evaluate_groups": "evaluation",
    "default_model_dir": "model",
    "latest_model_dir": "model",
    "match": "matching",
})
