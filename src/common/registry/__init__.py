"""The model registry: champions and their history, promotion gates, rollback, model quality.

Only this package touches the model store, through ``common.registry.store.ModelStore``; the
BentoML implementation lives outside the library (``jobskills.stores``) and is chosen by
``settings.model_store``.
"""

from common.registry.champions import (
    STATE_FILE,
    Decision,
    GateConfig,
    ModelInfo,
    ModelQuality,
    RegistryError,
    store_home,
    champion,
    champion_or_latest,
    champion_path,
    folder_metadata,
    get_model,
    list_models,
    metric_value,
    model_quality,
    promote,
    quality_of,
    register_and_gate,
    rollback,
    sanity_checks,
)
from common.registry.store import ModelStore, StoredModel, StoreError, load_store

__all__ = [
    "STATE_FILE", "Decision", "GateConfig", "ModelInfo", "ModelQuality", "RegistryError", "store_home",
    "champion", "champion_or_latest", "champion_path", "folder_metadata", "get_model", "list_models", "metric_value", "model_quality",
    "promote", "quality_of", "register_and_gate", "rollback", "sanity_checks",
    "ModelStore", "StoredModel", "StoreError", "load_store",
]
