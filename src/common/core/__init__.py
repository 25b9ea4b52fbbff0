"""Settings, shared types, lineage and the small utilities every area uses."""

from common.core.exports import lazy_exports

__all__, __getattr__ = lazy_exports(__name__, {
    "Settings": "settings",
    "get_settings": "settings",
    "resolve_device": "settings",
    "default_encoder_path": "settings",
    "Keyword": "types",
    "Posting": "types",
    "Sentence": "types",
    "KEYWORD_TYPES": "types",
    "code_version": "lineage",
    "StageConfig": "config",
    "encoder_or_default": "config",
    "publish_latest": "artifacts",
    "latest_dir": "artifacts",
    "summarised_warnings": "quiet",
    "lazy_exports": "exports",
})
