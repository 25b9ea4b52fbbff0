"""Skill competency groups: the SkillBERT-style classifier, its features and metrics, matching, Mirror-BERT."""

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
    "MirrorConfig": "mirror_bert",
    "train_mirror_bert": "mirror_bert",
})
