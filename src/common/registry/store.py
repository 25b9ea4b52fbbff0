"""The store protocol the registry depends on, and how the configured store is found.

The registry keeps champions, history and gates; where model folders are kept is a store's
business. The library ships no store that imports BentoML: ``settings.model_store`` names the
implementation as ``module:Class`` (default ``jobskills.stores:BentoMLStore``, BentoML's local
model store under ``BENTOML_HOME``), loaded at each call so that a changed ``BENTOML_HOME`` (tests,
tools) is followed.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, runtime_checkable


@dataclass(frozen=True)
class StoredModel:
    """One model version in a store."""

    tag: str  # name:version
    name: str
    version: str
    path: Path  # a loadable model folder
    metadata: dict[str, Any] = field(default_factory=dict)
    created: str = ""  # ISO time; newest first sorts on it


class StoreError(LookupError):
    """A model the store does not have."""


@runtime_checkable
class ModelStore(Protocol):
    """Where registered model folders live."""

    @property
    def home(self) -> Path:
        """Folder of the store; the registry keeps its champion state file here."""
        ...

    def list(self, name: str | None = None) -> list[StoredModel]:
        """Every stored version (of ``name``, or all); an unknown name is an empty list."""
        ...

    def get(self, tag: str) -> StoredModel:
        """The version ``name:version``; raises ``StoreError`` when absent."""
        ...

    def save(self, name: str, model_dir: Path, metadata: Mapping[str, Any], labels: Mapping[str, str]) -> StoredModel:
        """Copy ``model_dir`` in as a new version of ``name`` with ``metadata``."""
        ...


def load_store(spec: str | None = None) -> ModelStore:
    """An instance of the store class named ``module:Class`` (default ``settings.model_store``)."""
    if spec is None:
        from common.core.settings import get_settings

        spec = get_settings().model_store
    module_name, _, cls_name = spec.partition(":")
    if not module_name or not cls_name:
        raise ValueError(f"model_store must be 'module:Class', not {spec!r}")
    try:
        cls = getattr(importlib.import_module(module_name), cls_name)
    except (ImportError, AttributeError) as exc:
        raise ValueError(f"model_store {spec!r} cannot be loaded: {exc}") from exc
    store = cls()
    if not isinstance(store, ModelStore):
        raise ValueError(f"model_store {spec!r} does not implement common.registry.store.ModelStore")
    return store
